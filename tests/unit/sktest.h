/* Shared helpers for the unit tests (header-only; included after cmocka.h). */
#ifndef SKTEST_H
#define SKTEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static inline int64_t t_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Assert an elapsed time lies in [lo, hi] ms (generous upper bound: CI machines are loaded). */
#define assert_elapsed(start, lo, hi)                                                              \
    do {                                                                                           \
        int64_t el_ = t_now_ms() - (start);                                                        \
        if (el_ < (lo) || el_ > (hi))                                                              \
            fail_msg("elapsed %lld ms, expected %d..%d", (long long)el_, (lo), (hi));              \
    } while (0)

/* A loopback TCP listener on an ephemeral port; returns fd and fills port. */
/* The fds this process has open (counted in /proc/self/fd): a leak shows as a difference. */
static inline int t_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own */
}

static inline int t_listener(const char *ep, int *port)
{
    int fd = sk_listen(ep, NULL);
    assert_true(fd >= 0);
    sk_addr a;
    assert_int_equal(sk_sock_get_local_addr(fd, &a), 0);
    if (port)
        *port = sk_addr_port(&a);
    return fd;
}

static inline void t_fill_random(unsigned char *buf, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (unsigned char)(seed >> 16);
    }
}

/* One datagram echo exchange with the server at ep (UDP or Unix datagram), 3 tries: true when the
 * reply holds exactly the bytes sent. id makes the bytes (and a Unix client's name) distinct. */
static inline bool t_dgram_echo(const char *ep, int id)
{
    unsigned char out[1200], in[1300];
    size_t len = 100 + (size_t)id * 11;
    t_fill_random(out, len, (unsigned)id + 100);
    sk_addr srv;
    sk_addr_parse(ep, SK_RESOLVE_NUMERIC, &srv);
    int fd;
    if (sk_addr_family(&srv) == AF_UNIX) {
        char me[64]; /* a Unix datagram client needs a name of its own to be answered */
        snprintf(me, sizeof me, "unix:@sockkit-test-client-%d-%d", getpid(), id);
        fd = sk_listen(me, &(sk_listen_opts)SK_LISTEN_OPTS_INIT(.type = SOCK_DGRAM));
    } else {
        fd = sk_socket(AF_INET, SOCK_DGRAM, 0);
    }
    if (fd < 0)
        return false;
    bool ok = false;
    for (int attempt = 0; attempt < 3 && !ok; attempt++) { /* UDP may drop: retry */
        sk_sendto(fd, out, len, &srv, 1000);
        ssize_t n = sk_recvfrom(fd, in, sizeof in, NULL, 1500);
        ok = n == (ssize_t)len && !memcmp(in, out, len);
    }
    close(fd);
    return ok;
}

/* Raise the soft limit on open fds to at least want (as far as the hard limit allows); false if
 * it stays under want (the caller skips). */
static inline bool t_nofile_at_least(rlim_t want)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur >= want;
}

/* A server run by serve_forever on a thread of its own, for the server tests. */
struct t_running {
    sk_server *srv;
    pthread_t thread;
    char ep[128];    /* its bound address, e.g. "127.0.0.1:40123" */
    int interval_ms; /* serve_forever's poll interval (0 = 100) */
};

static inline void *t_serve_thread(void *arg)
{
    struct t_running *r = arg;
    sk_server_serve_forever(r->srv, r->interval_ms ? r->interval_ms : 100);
    return NULL;
}

/* Open a server for o, note its address in r->ep, and serve it on a thread. */
static inline void t_serve(struct t_running *r, const sk_server_opts *o)
{
    if (sk_server_open(&r->srv, o) != 0)
        fail_msg("open %s: %s", o->endpoint, sk_errmsg());
    sk_addr a;
    sk_server_get_addr(r->srv, &a);
    sk_addr_format(&a, r->ep, sizeof r->ep);
    pthread_create(&r->thread, NULL, t_serve_thread, r);
}

/* Stop serving and wait for the thread; the server stays open (drain, counters, close). */
static inline void t_serve_stop(struct t_running *r)
{
    sk_server_shutdown(r->srv);
    pthread_join(r->thread, NULL);
}

#endif
