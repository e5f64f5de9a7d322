/* Shared helpers for the unit tests (header-only; included after cmocka.h). */
#ifndef SKTEST_H
#define SKTEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
static inline int t_listener(const char *ep, int *port)
{
    int fd = sk_listen(ep, NULL);
    assert_true(fd >= 0);
    sk_addr a;
    assert_int_equal(sk_local_addr(fd, &a), 0);
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

#endif
