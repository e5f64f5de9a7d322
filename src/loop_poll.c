/* The poll(2) backend: a pollfd array with an fd -> slot index, so adding and removing are O(1)
 * (removal swaps the last slot in); each scan of the results starts where the last one stopped. */
#include "internal.h"
#include "loop_backend.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

struct state {
    struct pollfd *fds;
    uint32_t *gens;
    size_t n, cap;
    int *slot; /* fd -> index in fds, -1 if none */
    size_t nslot;
    size_t next; /* the slot the next scan starts at: when more are ready than fit, the next wait
                  * goes on from where this one stopped (as epoll's ready list does), so the
                  * slots past max are not starved by early ones that stay ready */
};

static void *create(void)
{
    return calloc(1, sizeof(struct state));
}

static void destroy(void *p)
{
    struct state *s = p;
    free(s->fds);
    free(s->gens);
    free(s->slot);
    free(s);
}

static short mask(int events)
{
    return (short)((events & SK_READABLE ? POLLIN : 0) | (events & SK_WRITABLE ? POLLOUT : 0));
}

static int set(void *p, int fd, int old_events, int new_events, uint32_t gen)
{
    struct state *s = p;
    if ((size_t)fd >= s->nslot) {
        size_t n = s->nslot ? s->nslot : 64;
        while (n <= (size_t)fd)
            n *= 2;
        int *t = realloc(s->slot, n * sizeof *t);
        if (!t)
            return -ENOMEM;
        for (size_t i = s->nslot; i < n; i++)
            t[i] = -1;
        s->slot = t;
        s->nslot = n;
    }
    int at = s->slot[fd];
    if (!new_events) {
        if (at < 0)
            return 0;
        s->n--;
        if ((size_t)at != s->n) { /* the last one takes the freed place */
            s->fds[at] = s->fds[s->n];
            s->gens[at] = s->gens[s->n];
            s->slot[s->fds[at].fd] = at;
        }
        s->slot[fd] = -1;
        return 0;
    }
    if (at < 0) {
        if (s->n == s->cap) {
            size_t c = s->cap ? s->cap * 2 : 64;
            struct pollfd *f = realloc(s->fds, c * sizeof *f);
            if (!f)
                return -ENOMEM;
            s->fds = f;
            uint32_t *g = realloc(s->gens, c * sizeof *g);
            if (!g)
                return -ENOMEM;
            s->gens = g;
            s->cap = c;
        }
        at = (int)s->n++;
        s->slot[fd] = at;
    }
    (void)old_events;
    s->fds[at] = (struct pollfd){.fd = fd, .events = mask(new_events)};
    s->gens[at] = gen;
    return 0;
}

static int wait_ready(void *p, int timeout_ms, struct sk__ready *out, int max)
{
    struct state *s = p;
    int n = poll(s->fds, s->n, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    int k = 0;
    size_t start = s->n ? s->next % s->n : 0;
    for (size_t j = 0; j < s->n && k < max && n > 0; j++) {
        size_t i = (start + j) % s->n;
        short r = s->fds[i].revents;
        if (!r)
            continue;
        n--;
        s->next = i + 1;
        out[k++] = (struct sk__ready){
            .fd = s->fds[i].fd,
            .gen = s->gens[i],
            .events = (r & (POLLIN | POLLHUP | POLLERR | POLLNVAL) ? SK_READABLE : 0) |
                      (r & (POLLOUT | POLLHUP | POLLERR | POLLNVAL) ? SK_WRITABLE : 0),
        };
    }
    return k;
}

const struct sk__loop_backend sk__loop_poll = {"poll",     create, destroy, set,
                                               wait_ready, false,  NULL};
