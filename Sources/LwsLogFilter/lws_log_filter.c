#define _GNU_SOURCE
#include "lws_log_filter.h"
#include <dlfcn.h>
#include <stdarg.h>
#include <stddef.h>

/* lws 4.1.6's exported logging entry point (lws_logs.h), declared here so this library needs
 * no lws headers. */
typedef void (*emit_fn)(int level, const char *line);
void _lws_logv(int filter, const char *format, va_list vl);

/* lws's level, mirrored: lws 4.1.6 starts at LLL_ERR | LLL_WARN | LLL_NOTICE (lib/core/logs.c)
 * and changes it only in lws_set_log_level(). Written before the loops start, read by every
 * thread's log calls: a stale read only lets one line more or less through to lws's own check. */
__attribute__((visibility("hidden"))) volatile int clawgate_lws_level = 1 | 2 | 4;

void lws_set_log_level(int new_level, emit_fn emit) {
    static void (*real)(int, emit_fn);
    if (!real) real = (void (*)(int, emit_fn))dlsym(RTLD_NEXT, "lws_set_log_level");
    clawgate_lws_level = new_level;
    if (real) real(new_level, emit);
}

/* A visible line: lws formats and emits it. */
__attribute__((visibility("hidden"), used)) void clawgate_lws_log_visible(int filter, const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    _lws_logv(filter, format, ap);
    va_end(ap);
}

#if defined(__x86_64__)
/* The check before anything else: a C variadic function spills its argument registers in its
 * prologue, before its first line runs (21 instructions per dropped call, measured). A jump
 * to the variadic function leaves every argument register, %al included, as lws passed it. */
__attribute__((naked)) void _lws_log(int filter, const char *format, ...) {
    __asm__ volatile(
        "testl %edi, clawgate_lws_level(%rip)\n\t"
        "jnz clawgate_lws_log_visible\n\t"
        "ret\n\t");
}
#else
void _lws_log(int filter, const char *format, ...) {
    if (!(filter & clawgate_lws_level)) return;
    va_list ap;
    va_start(ap, format);
    _lws_logv(filter, format, ap);
    va_end(ap);
}
#endif

int clawgate_lws_log_level(void) { return clawgate_lws_level; }

int clawgate_lws_log_filter_bound(void) {
    return dlsym(RTLD_DEFAULT, "_lws_log") == (void *)_lws_log;
}
