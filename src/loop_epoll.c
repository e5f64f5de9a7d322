/* The epoll backend: level-triggered, epoll_ctl only when a watcher's events change. */
#include "internal.h"
#include "loop_backend.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

struct state {
    int ep;
    struct epoll_event ev[SK__LOOP_READY_MAX];
};

static void *create(void)
{
    struct state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if ((s->ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

static void destroy(void *p)
{
    struct state *s = p;
    close(s->ep);
    free(s);
}

static int set(void *p, int fd, int old_events, int new_events, uint32_t gen)
{
    struct state *s = p;
    struct epoll_event e = {
        .events =
            (new_events & SK_READABLE ? EPOLLIN : 0) | (new_events & SK_WRITABLE ? EPOLLOUT : 0),
        .data.u64 = (uint64_t)gen << 32 | (uint32_t)fd,
    };
    int op = !old_events ? EPOLL_CTL_ADD : !new_events ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    if (epoll_ctl(s->ep, op, fd, &e) == 0)
        return 0;
    if (op == EPOLL_CTL_DEL && (errno == EBADF || errno == ENOENT))
        return 0; /* closed before it was unwatched: the kernel dropped it already */
    return -errno;
}

static int wait_ready(void *p, int timeout_ms, struct sk__ready *out, int max)
{
    struct state *s = p;
    if (max > SK__LOOP_READY_MAX)
        max = SK__LOOP_READY_MAX;
    int n = epoll_wait(s->ep, s->ev, max, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        uint32_t e = s->ev[i].events;
        out[i].fd = (int)(uint32_t)s->ev[i].data.u64;
        out[i].gen = (uint32_t)(s->ev[i].data.u64 >> 32);
        out[i].events = (e & (EPOLLIN | EPOLLHUP | EPOLLERR) ? SK_READABLE : 0) |
                        (e & (EPOLLOUT | EPOLLHUP | EPOLLERR) ? SK_WRITABLE : 0);
    }
    return n;
}

const struct sk__loop_backend sk__loop_epoll = {"epoll",    create, destroy, set,
                                                wait_ready, true,   NULL};
