#ifndef CLWS_SHIM_H
#define CLWS_SHIM_H
#include <libwebsockets.h>
#include <fcntl.h>
#include <unistd.h>

/* LWS_PRE is a function-like macro (_LWS_PAD), which Swift does not import. */
enum { CLWS_PRE = LWS_PRE };

/* The lwsl_* logging macros are variadic; Swift can only call a fixed signature. */
static inline void clws_log(int level, const char *msg) { _lws_log(level, "%s\n", msg); }

/* lws_adopt_desc_t holds the lws_sock_file_fd_type union, awkward to fill from Swift.
 * Raw *file* adoption only signals readiness and leaves reading to the owner (libcurl). */
static inline struct lws *clws_adopt_raw_file(struct lws_vhost *vh, int fd, const char *protocol, void *opaque) {
    lws_adopt_desc_t info;
    memset(&info, 0, sizeof(info));
    info.vh = vh;
    info.type = LWS_ADOPT_RAW_FILE_DESC;
    info.fd.filefd = fd;
    info.vh_prot_name = protocol;
    info.opaque = opaque;
    return lws_adopt_descriptor_vhost_via_info(&info);
}

/* A sorted-usec-list timer with a back pointer, so the C callback can find its Swift owner
 * (lws passes only the sul pointer; `sul` is the first member, so the cast is container_of). */
typedef struct clws_timer {
    lws_sorted_usec_list_t sul;
    void *owner;
} clws_timer_t;

static inline void *clws_timer_owner(lws_sorted_usec_list_t *sul) { return ((clws_timer_t *)sul)->owner; }

/* lws_sul_schedule is a macro in some builds; keep one fixed entry point. */
static inline void clws_timer_schedule(struct lws_context *ctx, clws_timer_t *t, sul_cb_t cb, long long usec) {
    lws_sul_schedule(ctx, 0, &t->sul, cb, (lws_usec_t)usec);
}
static inline void clws_timer_cancel(clws_timer_t *t) { lws_sul_cancel(&t->sul); }

static inline int clws_dup_cloexec(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 0); }

#endif
