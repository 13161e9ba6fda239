#ifndef CEPOLL_SHIM_H
#define CEPOLL_SHIM_H
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <stdint.h>
#include <unistd.h>

/* struct epoll_event is packed and holds a union: fill and read it here, so Swift only sees
 * plain integers. */

enum {
    CEPOLL_IN = EPOLLIN, CEPOLL_OUT = EPOLLOUT, CEPOLL_ERR = EPOLLERR, CEPOLL_HUP = EPOLLHUP,
    CEPOLL_CTL_ADD = EPOLL_CTL_ADD, CEPOLL_CTL_MOD = EPOLL_CTL_MOD, CEPOLL_CTL_DEL = EPOLL_CTL_DEL,
    CEPOLL_BATCH = 64
};

static inline int cepoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

static inline int cepoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event e;
    e.events = events;
    e.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &e);
}

/* Never blocks; returns up to CEPOLL_BATCH ready entries as (events, data) pairs. */
static inline int cepoll_collect(int epfd, uint32_t *events, uint64_t *data) {
    struct epoll_event ready[CEPOLL_BATCH];
    int n = epoll_wait(epfd, ready, CEPOLL_BATCH, 0);
    for (int i = 0; i < n; i++) {
        events[i] = ready[i].events;
        data[i] = ready[i].data.u64;
    }
    return n;
}

/* Whether fd is an IP socket. curl closes those through CURLOPT_CLOSESOCKETFUNCTION; its other
 * descriptors (the threaded resolver's socketpair) it closes itself, unannounced. */
static inline int cepoll_is_ip_socket(int fd) {
    int domain = 0;
    socklen_t len = sizeof(domain);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) return 0;
    return domain == AF_INET || domain == AF_INET6;
}

/* A timerfd for deadlines finer than poll()'s milliseconds (lws rounds a wait under 1 ms down
 * to 0 and spins until the timer is due). */
static inline int cepoll_timerfd_create(void) {
    return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
}
static inline int cepoll_timerfd_arm(int fd, uint64_t deadline_ns) {
    struct itimerspec its = {{0, 0}, {(time_t)(deadline_ns / 1000000000ULL), (long)(deadline_ns % 1000000000ULL)}};
    if (deadline_ns == 0) its.it_value.tv_nsec = 1; /* 0 would disarm: fire at once instead */
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL);
}
static inline void cepoll_timerfd_drain(int fd) {
    uint64_t expirations;
    if (read(fd, &expirations, sizeof expirations) < 0) { /* not expired: nothing to drain */ }
}
static inline uint64_t cepoll_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#endif
