#ifndef LWS_EPOLL_H
#define LWS_EPOLL_H
#include <stdint.h>

/* Serves libwebsockets' own poll() from an epoll set, on the thread that runs lws_service.
 *
 * Why: Debian 12's lws 4.1.6 waits in poll() over every socket it holds. A sleeping poll()
 * registers a wait-queue entry on each descriptor, so with 500 hub clients every loop turn
 * costs ~0.27 us per client whether or not it has anything to say. That build has no
 * LWS_WITH_EXTERNAL_POLL (no callbacks announcing interest changes), and its libev/libuv
 * plugins lost events in this process (docs/performance.md, third and fourth rounds).
 *
 * How: this library defines poll() and close(), which the dynamic linker binds ahead of
 * glibc's for liblws. Every call passes straight to glibc except lws's service poll on a
 * thread that called clawgate_lws_epoll_begin(): that table (recognised by a descriptor only
 * it holds) is mirrored into a level-triggered epoll set, kept in step by comparing each
 * entry's events with what was registered, and answered with epoll_wait. A close() on that
 * thread forgets the descriptor, so a new socket that gets the same number is registered
 * again. Below `on` descriptors the table goes to poll() as before (hysteresis down to `off`):
 * for a handful of sockets poll() is as fast, with two system calls fewer per HTTP request
 * (the epoll_ctl pair for lws's POLLOUT turn after each response).
 *
 * On the same thread it also defines recv(), to note a read that came back short: libcurl's
 * poll(fd, 0) "is more data pending?" right after such a read is answered "no" without a
 * system call (one per relayed token). Safe because the upstream sockets sit in a
 * level-triggered set: bytes that arrive later fire it again. And it defines send(), to note a
 * send that wrote in full: lws's POLLOUT turn after each kept-alive HTTP response is answered
 * from it while the table goes to poll() (see answer_writable). */

struct clawgate_lws_epoll;

struct clawgate_lws_epoll_stats {
    uint64_t epoll_turns;   /* lws service polls answered by epoll_wait */
    uint64_t poll_turns;    /* lws service polls passed to poll() (below the threshold) */
    uint64_t ctl_calls;     /* epoll_ctl calls */
    uint64_t rebuilds;      /* the set was rebuilt after an event for a stale registration */
    uint64_t fallbacks;     /* epoll refused a descriptor: the table went back to poll() */
    uint64_t answered_reads; /* "more data pending?" polls answered from a short read */
    uint64_t answered_writes; /* lws service polls answered POLLOUT from a send that wrote in full (counted in poll_turns too) */
};

/* Mirroring from `on` descriptors in lws's table, back to poll() below `off`; on == 0
 * mirrors from the first. NULL when out of memory. */
struct clawgate_lws_epoll *clawgate_lws_epoll_create(uint32_t on, uint32_t off);

/* Starts mirroring on the calling thread. `marker` is a descriptor in lws's table and in no
 * other poll() call of this thread; -1 takes the first poll() of two or more descriptors,
 * for a thread where nothing but lws polls more than one (the simulator's). */
void clawgate_lws_epoll_begin(struct clawgate_lws_epoll *m, int marker);

/* Stops mirroring on the thread that began it and closes the set. The counters stay
 * readable until clawgate_lws_epoll_free. */
void clawgate_lws_epoll_end(struct clawgate_lws_epoll *m);

void clawgate_lws_epoll_free(struct clawgate_lws_epoll *m);

/* Safe from any thread. */
void clawgate_lws_epoll_read_stats(const struct clawgate_lws_epoll *m, struct clawgate_lws_epoll_stats *out);

#endif
