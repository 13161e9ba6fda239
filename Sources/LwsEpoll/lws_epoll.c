#define _GNU_SOURCE
#include "lws_epoll.h"

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* glibc's own entry points, exported beside the weak poll/close this file overrides. */
extern int __poll(struct pollfd *fds, nfds_t nfds, int timeout);
extern int __close(int fd);

/* What the set holds for one descriptor number. */
struct slot {
    uint32_t registered; /* the epoll mask + 1; 0 = not in the set */
    uint32_t generation; /* tells this registration's events from an earlier one's */
    uint32_t position;   /* its index in lws's table when that entry last changed */
};

/* An entry of lws's table as one word: fd | events << 32, revents masked off. */
static const uint64_t ENTRY_KEY = 0x0000FFFFFFFFFFFFull;
/* No masked entry equals this: the shadow's "compare unequal" value. */
static const uint64_t ENTRY_STALE = UINT64_MAX;
_Static_assert(sizeof(struct pollfd) == sizeof(uint64_t), "a pollfd compares as one word");

struct clawgate_lws_epoll {
    int marker;
    uint32_t on, off;
    const struct pollfd *table; /* lws's pt->fds, once recognised */
    int epfd;                   /* -1 while the table goes to poll() */
    int refused;                /* epoll refused a descriptor: poll() from now on */
    int rebuild;                /* a stale registration fired: start a fresh set */
    uint32_t next_generation;
    uint32_t capacity;
    struct slot *slots;
    /* The table as it was after the last turn, so a turn touches only the entries lws changed:
     * with 500 clients, visiting every slot each turn was 4 % of the gateway's CPU. */
    uint64_t *shadow;
    uint32_t shadow_capacity, shadow_n;
    int answered_last;          /* the last service poll was answered without a system call */
    struct clawgate_lws_epoll_stats stats;
};

static __thread struct clawgate_lws_epoll *current;

/* The descriptor whose last recv() on this thread came back short, so nothing was left to
 * read at that moment; -1 when there is none, or a wait on the loop has happened since. */
static __thread int drained_fd = -1;

/* The descriptor the last send() on this thread wrote in full, so its socket had room a moment
 * ago; -1 when there is none, or a wait on the loop has happened since. */
static __thread int written_fd = -1;

/* What libcurl asks with poll(fd, 0) right after each read, "is more data pending?" */
enum { READ_QUESTION = POLLIN | POLLPRI | POLLRDNORM | POLLRDBAND };

enum { READY_BATCH = 256, SHADOW_BLOCK = 32 };

static void count(uint64_t *counter, uint64_t by) { __atomic_fetch_add(counter, by, __ATOMIC_RELAXED); }

static int grow(struct clawgate_lws_epoll *m, int fd) {
    uint32_t capacity = m->capacity ? m->capacity : 1024;
    while (capacity <= (uint32_t)fd) capacity *= 2;
    struct slot *slots = realloc(m->slots, capacity * sizeof(struct slot));
    if (!slots) return -1;
    memset(slots + m->capacity, 0, (capacity - m->capacity) * sizeof(struct slot));
    m->slots = slots;
    m->capacity = capacity;
    return 0;
}

static void forget_shadow(struct clawgate_lws_epoll *m, uint32_t from, uint32_t to) {
    for (uint32_t i = from; i < to; i++) m->shadow[i] = ENTRY_STALE;
}

static int grow_shadow(struct clawgate_lws_epoll *m, nfds_t n) {
    uint32_t capacity = m->shadow_capacity ? m->shadow_capacity : 1024;
    while (capacity < n) capacity *= 2;
    uint64_t *shadow = realloc(m->shadow, capacity * sizeof(uint64_t));
    if (!shadow) return -1;
    m->shadow = shadow;
    forget_shadow(m, m->shadow_capacity, capacity);
    m->shadow_capacity = capacity;
    return 0;
}

static void close_set(struct clawgate_lws_epoll *m) {
    if (m->epfd >= 0) __close(m->epfd);
    m->epfd = -1;
    for (uint32_t i = 0; i < m->capacity; i++) m->slots[i].registered = 0;
    forget_shadow(m, 0, m->shadow_capacity);
}

static int open_set(struct clawgate_lws_epoll *m) {
    m->epfd = epoll_create1(EPOLL_CLOEXEC);
    return m->epfd >= 0 ? 0 : -1;
}

/* Makes the set wait for `events` on fd. MOD first when the number is known (the common
 * change: lws toggling POLLOUT); ADD when the kernel has no registration for it, which is
 * also where a reused number starts. */
static int watch(struct clawgate_lws_epoll *m, int fd, struct slot *s, uint32_t events) {
    struct epoll_event e = { .events = events };
    if (s->registered) {
        e.data.u64 = ((uint64_t)s->generation << 32) | (uint32_t)fd;
        count(&m->stats.ctl_calls, 1);
        if (epoll_ctl(m->epfd, EPOLL_CTL_MOD, fd, &e) == 0) {
            s->registered = events + 1;
            return 0;
        }
        if (errno != ENOENT) return -1;
    }
    s->generation = ++m->next_generation;
    e.data.u64 = ((uint64_t)s->generation << 32) | (uint32_t)fd;
    count(&m->stats.ctl_calls, 1);
    int r = epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &e);
    if (r != 0 && errno == EEXIST) {
        /* Still the same open socket (its close went unseen): take it over. */
        count(&m->stats.ctl_calls, 1);
        r = epoll_ctl(m->epfd, EPOLL_CTL_MOD, fd, &e);
    }
    if (r != 0) return -1;
    s->registered = events + 1;
    return 0;
}

static int give_up(struct clawgate_lws_epoll *m, struct pollfd *fds, nfds_t n, int timeout) {
    m->refused = 1;
    close_set(m);
    count(&m->stats.fallbacks, 1);
    count(&m->stats.poll_turns, 1);
    return __poll(fds, n, timeout);
}

static int mirrored_poll(struct clawgate_lws_epoll *m, struct pollfd *fds, nfds_t n, int timeout) {
    if (m->refused) {
        count(&m->stats.poll_turns, 1);
        return __poll(fds, n, timeout);
    }
    if (m->epfd < 0 ? n < m->on : n < m->off) {
        if (m->epfd >= 0) close_set(m);
        count(&m->stats.poll_turns, 1);
        return __poll(fds, n, timeout);
    }
    if (m->rebuild) {
        m->rebuild = 0;
        count(&m->stats.rebuilds, 1);
        /* Rebuilding costs an epoll_ctl per descriptor; if something keeps forcing it, poll()
         * is the cheaper loop. */
        uint64_t rebuilds = m->stats.rebuilds, turns = m->stats.epoll_turns;
        if (rebuilds > 64 && rebuilds * 64 > turns) return give_up(m, fds, n, timeout);
        close_set(m);
    }
    if (m->epfd < 0 && open_set(m) != 0) return give_up(m, fds, n, timeout);

    /* Bring the set in step with the table: an entry equal to its shadow is registered as it
     * stands, so the steady state is one compare per entry and no system call. */
    if (n > m->shadow_capacity && grow_shadow(m, n) != 0) return give_up(m, fds, n, timeout);
    if (n < m->shadow_n) forget_shadow(m, (uint32_t)n, m->shadow_n);
    m->shadow_n = (uint32_t)n;
    for (nfds_t block = 0; block < n; block += SHADOW_BLOCK) {
        nfds_t end = block + SHADOW_BLOCK < n ? block + SHADOW_BLOCK : n;
        /* lws zeroes an entry's revents once it served it, so a block it left alone compares
         * equal as a whole. */
        if (memcmp(&fds[block], &m->shadow[block], (end - block) * sizeof(uint64_t)) == 0) continue;
        for (nfds_t i = block; i < end; i++) {
            uint64_t raw;
            memcpy(&raw, &fds[i], sizeof raw);
            uint64_t key = raw & ENTRY_KEY;
            if (raw != key) fds[i].revents = 0;
            if (key == m->shadow[i]) continue;
            m->shadow[i] = key;
            int fd = fds[i].fd;
            if (fd < 0) continue;
            if ((uint32_t)fd >= m->capacity && grow(m, fd) != 0) return give_up(m, fds, n, timeout);
            struct slot *s = &m->slots[fd];
            uint32_t events = (uint16_t)fds[i].events; /* POLL* and EPOLL* bits agree on Linux */
            if (s->registered != events + 1 && watch(m, fd, s, events) != 0) return give_up(m, fds, n, timeout);
            s->position = (uint32_t)i;
        }
    }

    struct epoll_event ready[READY_BATCH];
    int got = epoll_wait(m->epfd, ready, READY_BATCH, timeout);
    count(&m->stats.epoll_turns, 1);
    if (got < 0) return -1;
    int answered = 0;
    for (int k = 0; k < got; k++) {
        uint32_t fd = (uint32_t)ready[k].data.u64;
        uint32_t generation = (uint32_t)(ready[k].data.u64 >> 32);
        struct slot *s = fd < m->capacity ? &m->slots[fd] : NULL;
        if (!s || s->position >= n || fds[s->position].fd != (int)fd || s->generation != generation) {
            /* A registration lws no longer has in its table (a descriptor it dropped without
             * closing, or a duplicate still open elsewhere). It cannot be deleted by number
             * with certainty, so the next turn starts a fresh set. */
            m->rebuild = 1;
            continue;
        }
        struct pollfd *p = &fds[s->position];
        short revents = (short)(ready[k].events & ((uint16_t)p->events | POLLERR | POLLHUP));
        if (revents && !p->revents) answered++;
        p->revents |= revents;
    }
    return answered;
}

/* After each kept-alive HTTP response lws asks for POLLOUT on its socket before it reads the
 * next request (LRS_DEFERRING_ACTION), which costs a poll() that returns at once: one system
 * call of four per request at concurrency 1. When the send() just before wrote everything,
 * the socket had room: that poll is answered with POLLOUT for that one socket. Only while the
 * table goes to poll() (small tables: clearing every entry's revents is cheap), and never twice
 * in a row, so a connection that keeps writing cannot keep the others from being polled:
 * whatever else is ready is reported by the real poll() of the next turn. */
static int answer_writable(struct clawgate_lws_epoll *m, struct pollfd *fds, nfds_t n, int fd) {
    if (m->answered_last || m->epfd >= 0 || !(m->refused || n < m->on)) return 0;
    nfds_t hit = n;
    for (nfds_t i = 0; i < n; i++)
        if (fds[i].fd == fd) hit = i;
    if (hit == n || !(fds[hit].events & POLLOUT)) return 0;
    for (nfds_t i = 0; i < n; i++) fds[i].revents = 0;
    fds[hit].revents = POLLOUT;
    m->answered_last = 1;
    count(&m->stats.poll_turns, 1);
    count(&m->stats.answered_writes, 1);
    return 1;
}

/* Whether the table holds `marker`; any table does when there is no marker (-1). */
static int holds(const struct pollfd *fds, nfds_t n, int marker) {
    if (marker < 0) return 1;
    for (nfds_t i = 0; i < n; i++)
        if (fds[i].fd == marker) return 1;
    return 0;
}

int poll(struct pollfd *fds, nfds_t n, int timeout) {
    struct clawgate_lws_epoll *m = current;
    if (m) {
        /* After every read of an upstream response libcurl asks whether more data is pending,
         * with a system call (one per relayed token). A read that came back short has just
         * answered that: no. Saying so without asking again is safe because the upstream set
         * is level-triggered: bytes that arrive after the read make it fire, and curl reads
         * them on the next collection. (Its question right after sending a request is left to
         * the kernel: on a shared core the upstream often runs inside the send and the answer
         * is already there, which saves a loop turn.) */
        if (n == 1 && timeout == 0 && fds[0].fd == drained_fd && fds[0].fd >= 0 &&
            (fds[0].events & ~READ_QUESTION) == 0) {
            drained_fd = -1;
            fds[0].revents = 0;
            count(&m->stats.answered_reads, 1);
            return 0;
        }
        drained_fd = -1;
        if (fds == m->table) {
            int written = written_fd;
            written_fd = -1;
            if (written >= 0 && answer_writable(m, fds, n, written)) return 1;
            m->answered_last = 0;
            return mirrored_poll(m, fds, n, timeout);
        }
        if (!m->table && n >= 2 && holds(fds, n, m->marker)) {
            m->table = fds;
            return mirrored_poll(m, fds, n, timeout);
        }
    }
    return __poll(fds, n, timeout);
}

/* recv() and send() are recvfrom() and sendto() without an address (glibc implements them so);
 * calling those directly needs no lookup of the next definition. */
ssize_t recv(int fd, void *buf, size_t len, int flags) {
    ssize_t r = recvfrom(fd, buf, len, flags, NULL, NULL);
    if (current) {
        if (r > 0 && (size_t)r < len && !(flags & MSG_PEEK)) drained_fd = fd;
        else if (drained_fd == fd) drained_fd = -1;
    }
    return r;
}

ssize_t send(int fd, const void *buf, size_t len, int flags) {
    ssize_t r = sendto(fd, buf, len, flags, NULL, 0);
    if (current) written_fd = r >= 0 && (size_t)r == len ? fd : -1;
    return r;
}

int close(int fd) {
    struct clawgate_lws_epoll *m = current;
    if (fd == drained_fd) drained_fd = -1;
    if (fd == written_fd) written_fd = -1;
    /* The kernel drops a closed socket from the set by itself; the number must be forgotten
     * too, or a new socket given it would look registered already. */
    if (m && fd >= 0 && (uint32_t)fd < m->capacity) {
        struct slot *s = &m->slots[fd];
        s->registered = 0;
        /* lws may put the new socket where the old one stood, with the same events. */
        if (s->position < m->shadow_n && (int)(uint32_t)m->shadow[s->position] == fd)
            m->shadow[s->position] = ENTRY_STALE;
    }
    return __close(fd);
}

struct clawgate_lws_epoll *clawgate_lws_epoll_create(uint32_t on, uint32_t off) {
    struct clawgate_lws_epoll *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    m->marker = -1;
    m->on = on;
    m->off = off < on ? off : on;
    m->epfd = -1;
    return m;
}

void clawgate_lws_epoll_begin(struct clawgate_lws_epoll *m, int marker) {
    m->marker = marker;
    m->table = NULL;
    current = m;
}

void clawgate_lws_epoll_end(struct clawgate_lws_epoll *m) {
    if (current == m) current = NULL;
    close_set(m);
    free(m->slots);
    m->slots = NULL;
    m->capacity = 0;
    free(m->shadow);
    m->shadow = NULL;
    m->shadow_capacity = m->shadow_n = 0;
    m->table = NULL;
}

void clawgate_lws_epoll_free(struct clawgate_lws_epoll *m) { free(m); }

void clawgate_lws_epoll_read_stats(const struct clawgate_lws_epoll *m, struct clawgate_lws_epoll_stats *out) {
    out->epoll_turns = __atomic_load_n(&m->stats.epoll_turns, __ATOMIC_RELAXED);
    out->poll_turns = __atomic_load_n(&m->stats.poll_turns, __ATOMIC_RELAXED);
    out->ctl_calls = __atomic_load_n(&m->stats.ctl_calls, __ATOMIC_RELAXED);
    out->rebuilds = __atomic_load_n(&m->stats.rebuilds, __ATOMIC_RELAXED);
    out->fallbacks = __atomic_load_n(&m->stats.fallbacks, __ATOMIC_RELAXED);
    out->answered_reads = __atomic_load_n(&m->stats.answered_reads, __ATOMIC_RELAXED);
    out->answered_writes = __atomic_load_n(&m->stats.answered_writes, __ATOMIC_RELAXED);
}
