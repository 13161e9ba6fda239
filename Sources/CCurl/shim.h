#ifndef CCURL_SHIM_H
#define CCURL_SHIM_H
#include <curl/curl.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* curl_easy_setopt, curl_multi_setopt and curl_easy_getinfo are C variadics, which Swift
 * cannot call: one fixed-type wrapper per argument kind. */
static inline CURLcode ccurl_easy_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_easy_setopt_str(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_easy_setopt_ptr(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
typedef size_t (*ccurl_write_cb)(char *, size_t, size_t, void *);
static inline CURLcode ccurl_easy_setopt_writefn(CURL *h, CURLoption o, ccurl_write_cb v) { return curl_easy_setopt(h, o, v); }

typedef int (*ccurl_closesocket_cb)(void *, curl_socket_t);
static inline CURLcode ccurl_easy_setopt_closesocketfn(CURL *h, ccurl_closesocket_cb v) { return curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, v); }
typedef int (*ccurl_socket_cb)(CURL *, curl_socket_t, int, void *, void *);
typedef int (*ccurl_timer_cb)(CURLM *, long, void *);
static inline CURLMcode ccurl_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }
static inline CURLMcode ccurl_multi_setopt_ptr(CURLM *m, CURLMoption o, void *v) { return curl_multi_setopt(m, o, v); }
static inline CURLMcode ccurl_multi_setopt_socketfn(CURLM *m, ccurl_socket_cb v) { return curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, v); }
static inline CURLMcode ccurl_multi_setopt_timerfn(CURLM *m, ccurl_timer_cb v) { return curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, v); }

static inline CURLcode ccurl_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode ccurl_easy_getinfo_ptr(CURL *h, CURLINFO i, void **v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode ccurl_easy_getinfo_double(CURL *h, CURLINFO i, double *v) { return curl_easy_getinfo(h, i, v); }

/* curl_multi_poll's timeout is whole milliseconds, but an open-loop load generator must start
 * requests on time to the microsecond (at 2,000 req/s they are 500 us apart). A timerfd armed
 * for the absolute CLOCK_MONOTONIC deadline is polled beside curl's sockets; the thread's timer
 * slack is cut from 50 us to 1 ns so the kernel does not batch the wake-up. */
static inline int ccurl_deadline_fd(void) {
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
}
static inline CURLMcode ccurl_multi_poll_until(CURLM *m, int fd, unsigned long long deadline_ns, int max_ms) {
    struct itimerspec its = {{0, 0}, {(time_t)(deadline_ns / 1000000000ULL), (long)(deadline_ns % 1000000000ULL)}};
    timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL);
    struct curl_waitfd w = {fd, CURL_WAIT_POLLIN, 0};
    CURLMcode rc = curl_multi_poll(m, &w, 1, max_ms, NULL);
    unsigned long long expirations;
    if (read(fd, &expirations, sizeof expirations) < 0) { /* not expired yet: fine */ }
    return rc;
}

/* CURLMsg.data is a union. */
static inline CURLcode ccurl_msg_result(CURLMsg *m) { return m->data.result; }

/* A parsed URL for CURLOPT_CURLU, with the flags curl itself parses a CURLOPT_URL string with
 * (lib/url.c, parseurlandfillconn): NULL when the text does not parse, so the caller leaves
 * the parsing (and its error) to curl. */
static inline CURLU *ccurl_url_parse(const char *url) {
    CURLU *u = curl_url();
    if (u && curl_url_set(u, CURLUPART_URL, url, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
        curl_url_cleanup(u);
        return NULL;
    }
    return u;
}

/* Macros Swift does not import as constants of the right type. */
static inline long ccurl_http_version_2tls(void) { return CURL_HTTP_VERSION_2TLS; }
static const curl_socket_t CCURL_SOCKET_TIMEOUT = CURL_SOCKET_TIMEOUT;
static const size_t CCURL_WRITEFUNC_PAUSE = CURL_WRITEFUNC_PAUSE;
#endif
