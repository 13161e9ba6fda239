#ifndef LWS_LOG_FILTER_H
#define LWS_LOG_FILTER_H

/* Drops libwebsockets' filtered-out log calls before they cost anything.
 *
 * Why: Debian's lws 4.1.6 is built with its debug logging compiled in, so its HTTP header
 * parser calls _lws_log() once per header character (lwsl_parser) and its service paths a few
 * dozen times more: 214 calls per non-streamed chat request. lws's own _lws_log() does
 * va_start (spilling every argument register) before it looks at the level, ~28 instructions a
 * call, ~6,000 per request with nothing ever printed (callgrind).
 *
 * How: this library defines _lws_log() and lws_set_log_level(). lws calls both through its
 * PLT, so the dynamic linker binds them to these definitions in the executable. _lws_log()
 * checks the level first and hands only visible lines to lws's _lws_logv(); the level is the
 * one last given to lws_set_log_level(), which is passed on to lws. */

/* The level lws logs at, as last set through lws_set_log_level() (lws's default before). */
int clawgate_lws_log_level(void);

/* Whether lws's calls to _lws_log() reach this library's definition. */
int clawgate_lws_log_filter_bound(void);

#endif
