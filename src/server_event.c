/* The event model of sk_server: N event loops (sk_loop), one thread each, serving non-blocking
 * callbacks (sk_event_handlers).
 *
 * Connections reach a loop in one of two ways: each loop has its own listener on the same port
 * (SO_REUSEPORT; the kernel spreads new connections), or loop 0 accepts and hands each connection
 * to the loop with the fewest (a post). Unix stream sockets always use the hand-off; datagram
 * sockets without SO_REUSEPORT are watched by every loop at once.
 *
 * A connection reads into its loop's buffer and passes the bytes to on_data. sk_conn_write sends
 * at once what the socket takes and keeps the rest in the connection's output buffer; past the
 * high-water mark the connection stops reading until the output falls to the low-water mark
 * (then on_writable). An idle connection costs its struct and nothing else: no buffers. Idle
 * timeouts use one loop timer per connection that is re-armed lazily: activity only stamps the
 * time, the timer on firing checks the stamp.
 *
 * Callbacks may close the connection they run for; the struct is freed only when none of ours is
 * on the stack (busy == 0), in settle(). Counters are per loop, written only by its thread. */
#include "internal.h"
#include "sockkit/loop.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RBUF            65536      /* one read; the loop's buffer */
#define ACCEPT_BATCH    64         /* accepts per readable listener */
#define DGRAM_BATCH     64         /* datagrams per readable socket */
#define KEEP_OUT        (1u << 20) /* an emptied output buffer larger than this is freed */
#define PAUSE_ACCEPT_MS 100        /* out of fds and no reserve: wait before accepting again */

struct counters {
    _Atomic uint64_t accepted, rejected, errors, bytes_in, bytes_out;
};

struct worker {
    struct sk__event *ev;
    sk_loop *loop;
    int fd;         /* its listener or datagram socket, or -1 */
    bool shared_fd; /* fd belongs to worker 0 (a datagram socket all loops watch) */
    unsigned char *rbuf;
    sk_conn *conns; /* live connections, a doubly linked list */
    _Atomic size_t nconns;
    struct counters c;
    pthread_t thread;
    bool draining;
    int cut;
} __attribute__((aligned(64)));

struct sk__event {
    sk_server *srv;
    sk_server_opts o;
    sk_event_handlers h;
    int type;
    size_t high, low;
    bool handoff;
    int n;
    struct worker *w;
    _Atomic uint64_t active;
    atomic_bool stopping;
    /* The loops share one fd table: accepts, and the fd kept in reserve to refuse a client at
     * EMFILE, go under this lock, so no loop's accept takes the slot the reserve just freed. */
    pthread_mutex_t accept_lock;
    int reserve_fd;
    unsigned next; /* hand-off: where the search for the least loaded starts */
};

struct sk_conn {
    struct worker *w;
    sk_conn *prev, *next;
    int fd, type;
    unsigned char *out;
    size_t off, len, cap; /* unsent output is out[off, len) */
    uint64_t last;        /* loop time of the last progress */
    int64_t idle_timer;
    void *data;
    int events; /* what the loop watches for */
    int busy;   /* our frames on the stack that hold c */
    int reason; /* for on_close */
    bool closing, dead, over, draining, fin_sent, discard;
    sk_addr peer;
};

/* A counter only its loop's thread writes: no locked add needed. */
static void bump(_Atomic uint64_t *x, uint64_t n)
{
    atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static size_t pending(const sk_conn *c)
{
    return c->len - c->off;
}

/* ---- ending a connection ------------------------------------------------------------------- */

static void destroy(sk_conn *c)
{
    struct worker *w = c->w;
    struct sk__event *ev = w->ev;
    if (c->idle_timer > 0)
        sk_loop_cancel(w->loop, (uint64_t)c->idle_timer);
    sk_loop_unwatch(w->loop, c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->dead = true;
    int r = c->reason;
    if (r < 0 && r != -ECONNRESET && r != -EPIPE && r != -ETIMEDOUT && r != SK_ECLOSED)
        bump(&w->c.errors, 1);
    if (ev->h.on_close)
        ev->h.on_close(c, r);
    sk_close(c->fd);
    free(c->out);
    free(c);
    atomic_fetch_sub_explicit(&w->nconns, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&ev->active, 1, memory_order_relaxed);
    if (w->draining && atomic_load_explicit(&w->nconns, memory_order_relaxed) == 0)
        sk_loop_stop(w->loop);
}

/* Abandon the connection: its output is dropped. */
static void fail(sk_conn *c, int reason)
{
    if (!c->dead && !c->reason)
        c->reason = reason;
    c->dead = true;
}

static bool wants_read(const sk_conn *c)
{
    return !c->dead && (c->discard || (!c->closing && !c->over && !c->draining));
}

static void on_io(sk_loop *l, int fd, int events, void *arg);

/* After our frames are off the stack: free a finished connection, or watch for what it needs. */
static void settle(sk_conn *c)
{
    if (c->busy)
        return;
    if (c->dead) {
        destroy(c);
        return;
    }
    if (!pending(c) && c->closing) {
        destroy(c);
        return;
    }
    if (!pending(c) && c->draining && !c->fin_sent) {
        /* drain: all accepted output is out; say so and wait for the peer to close */
        shutdown(c->fd, SHUT_WR);
        c->fin_sent = c->discard = true;
    }
    int want = (wants_read(c) ? SK_READABLE : 0) | (pending(c) ? SK_WRITABLE : 0);
    if (want != c->events) {
        if (sk_loop_watch(c->w->loop, c->fd, want, on_io, c) < 0) {
            fail(c, -ENOMEM);
            destroy(c);
            return;
        }
        c->events = want;
    }
}

/* ---- output -------------------------------------------------------------------------------- */

static void sent(sk_conn *c, const void *buf, size_t n)
{
    bump(&c->w->c.bytes_out, n);
    c->last = sk_loop_now(c->w->loop);
    if (sk_trace_level())
        sk__trace_data(c->fd, '>', NULL, buf, n);
}

/* Send what the socket takes now: one send(2), as often as the loop says it is writable. */
static void flush(sk_conn *c)
{
    ssize_t n = send(c->fd, c->out + c->off, pending(c), MSG_NOSIGNAL);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            fail(c, -errno);
        return;
    }
    sent(c, c->out + c->off, (size_t)n);
    c->off += (size_t)n;
    if (!pending(c)) {
        c->off = c->len = 0;
        if (c->cap > KEEP_OUT) {
            free(c->out);
            c->out = NULL;
            c->cap = 0;
        }
    }
    if (c->over && pending(c) <= c->w->ev->low) {
        c->over = false;
        if (c->w->ev->h.on_writable && !c->closing && !c->draining)
            c->w->ev->h.on_writable(c);
    }
}

static int append(sk_conn *c, const unsigned char *buf, size_t n)
{
    if (c->len + n > c->cap && c->off) {
        memmove(c->out, c->out + c->off, pending(c));
        c->len -= c->off;
        c->off = 0;
    }
    if (c->len + n > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4096;
        while (cap < c->len + n)
            cap *= 2;
        unsigned char *p = realloc(c->out, cap);
        if (!p)
            return -ENOMEM;
        c->out = p;
        c->cap = cap;
    }
    memcpy(c->out + c->len, buf, n);
    c->len += n;
    return 0;
}

static int write_dgram(sk_conn *c, const void *buf, size_t len)
{
    ssize_t n = sendto(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, &c->peer.u.sa, c->peer.len);
    if (n < 0) {
        bump(&c->w->c.errors, 1);
        return sk__fail_errno("reply to a datagram");
    }
    bump(&c->w->c.bytes_out, (uint64_t)n);
    if (sk_trace_level())
        sk__trace_data(c->fd, '>', &c->peer, buf, (size_t)n);
    return 0;
}

int sk_conn_write(sk_conn *c, const void *buf, size_t len)
{
    if (c->type == SOCK_DGRAM)
        return write_dgram(c, buf, len);
    if (c->dead || c->closing || c->draining)
        return sk__fail(SK_ECLOSED, "connection write: fd %d is closing", c->fd);
    const unsigned char *p = buf;
    c->busy++;
    int rc = 0;
    if (!pending(c) && len) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            rc = sk__fail_errno("connection write fd %d", c->fd);
            fail(c, rc);
            goto out;
        }
        if (n > 0) {
            sent(c, p, (size_t)n);
            p += n;
            len -= (size_t)n;
        }
    }
    if (len && (rc = append(c, p, len)) < 0) {
        fail(c, rc);
        rc = sk__fail(rc, "connection write fd %d: output buffer", c->fd);
        goto out;
    }
    if (pending(c) > c->w->ev->high)
        c->over = true;
    rc = c->over ? 1 : 0;
out:
    c->busy--;
    settle(c); /* outside our callbacks: watch for writability now */
    return rc;
}

void sk_conn_close(sk_conn *c)
{
    if (c->type == SOCK_DGRAM || c->dead)
        return;
    c->closing = true;
    settle(c);
}

size_t sk_conn_pending(const sk_conn *c)
{
    return pending(c);
}

int sk_conn_fd(const sk_conn *c)
{
    return c->fd;
}

int sk_conn_type(const sk_conn *c)
{
    return c->type;
}

const sk_addr *sk_conn_peer(const sk_conn *c)
{
    return &c->peer;
}

sk_server *sk_conn_server(const sk_conn *c)
{
    return c->w->ev->srv;
}

sk_loop *sk_conn_loop(const sk_conn *c)
{
    return c->w->loop;
}

void *sk_conn_user(const sk_conn *c)
{
    return c->w->ev->o.user;
}

void *sk_conn_data(const sk_conn *c)
{
    return c->data;
}

void sk_conn_set_data(sk_conn *c, void *data)
{
    c->data = data;
}

/* ---- input --------------------------------------------------------------------------------- */

static void read_some(sk_conn *c)
{
    struct worker *w = c->w;
    ssize_t n = recv(c->fd, w->rbuf, RBUF, 0);
    if (n > 0) {
        if (!c->discard) /* input after the drain's FIN is thrown away, not served */
            bump(&w->c.bytes_in, (uint64_t)n);
        c->last = sk_loop_now(w->loop);
        if (sk_trace_level())
            sk__trace_data(c->fd, '<', NULL, w->rbuf, (size_t)n);
        if (!c->discard && w->ev->h.on_data)
            w->ev->h.on_data(c, w->rbuf, (size_t)n);
    } else if (n == 0) {
        /* the peer is done sending: what we owe it still goes out, then we close */
        if (c->discard)
            c->dead = true;
        c->closing = true;
    } else if (errno != EAGAIN && errno != EINTR) {
        fail(c, -errno);
    }
}

static void on_io(sk_loop *l, int fd, int events, void *arg)
{
    (void)l;
    (void)fd;
    sk_conn *c = arg;
    c->busy++;
    if ((events & SK_WRITABLE) && pending(c))
        flush(c);
    if ((events & SK_READABLE) && wants_read(c))
        read_some(c);
    c->busy--;
    settle(c);
}

static void on_idle(sk_loop *l, uint64_t timer, void *arg)
{
    (void)timer;
    sk_conn *c = arg;
    int idle = c->w->ev->o.idle_timeout_ms;
    uint64_t quiet = sk_loop_now(l) - c->last;
    c->idle_timer = 0;
    if (quiet < (uint64_t)idle) { /* there was activity: wait for the rest of the period */
        c->idle_timer = sk_loop_timer(l, (int)((uint64_t)idle - quiet), 0, on_idle, c);
        if (c->idle_timer > 0)
            return;
    }
    fail(c, -ETIMEDOUT);
    settle(c);
}

/* ---- new connections ----------------------------------------------------------------------- */

static void begin_drain(sk_conn *c)
{
    c->draining = true;
    settle(c);
}

/* The connection joins loop w (on w's thread). */
static void adopt(struct worker *w, int fd, const sk_addr *peer)
{
    struct sk__event *ev = w->ev;
    sk_conn *c = calloc(1, sizeof *c);
    if (!c) {
        sk_close(fd);
        bump(&w->c.errors, 1);
        atomic_fetch_sub_explicit(&ev->active, 1, memory_order_relaxed);
        return;
    }
    *c = (sk_conn){.w = w, .fd = fd, .type = SOCK_STREAM, .peer = *peer};
    c->last = sk_loop_now(w->loop);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    atomic_fetch_add_explicit(&w->nconns, 1, memory_order_relaxed);
    if (peer->u.sa.sa_family == AF_INET || peer->u.sa.sa_family == AF_INET6) {
        int one = 1; /* replies go out as written: this is a request/response server */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (ev->o.idle_timeout_ms > 0) {
        c->idle_timer = sk_loop_timer(w->loop, ev->o.idle_timeout_ms, 0, on_idle, c);
        if (c->idle_timer < 0)
            fail(c, (int)c->idle_timer);
    }
    c->busy++;
    if (!c->dead && ev->h.on_open)
        ev->h.on_open(c);
    if (w->draining)
        c->draining = true;
    c->busy--;
    settle(c);
}

struct handoff {
    struct worker *w;
    int fd;
    sk_addr peer;
};

static void adopt_posted(sk_loop *l, void *arg)
{
    (void)l;
    struct handoff *h = arg;
    adopt(h->w, h->fd, &h->peer);
    free(h);
}

static struct worker *least_loaded(struct sk__event *ev)
{
    struct worker *best = NULL;
    size_t min = SIZE_MAX;
    unsigned start = ev->next++;
    for (int i = 0; i < ev->n; i++) {
        struct worker *w = &ev->w[(start + (unsigned)i) % (unsigned)ev->n];
        size_t k = atomic_load_explicit(&w->nconns, memory_order_relaxed);
        if (k < min) {
            min = k;
            best = w;
        }
    }
    return best;
}

/* A client was accepted on w: check it, then serve it here or on another loop. */
static void admit(struct worker *w, int fd, const sk_addr *peer)
{
    struct sk__event *ev = w->ev;
    bump(&w->c.accepted, 1);
    bool ok = !ev->o.verify || ev->o.verify(ev->srv, peer, ev->o.user);
    uint64_t active = atomic_fetch_add_explicit(&ev->active, 1, memory_order_relaxed);
    if (ok && ev->o.max_conns > 0 && active >= (uint64_t)ev->o.max_conns)
        ok = false;
    if (!ok) {
        atomic_fetch_sub_explicit(&ev->active, 1, memory_order_relaxed);
        bump(&w->c.rejected, 1);
        sk_close(fd);
        return;
    }
    struct worker *to = ev->handoff ? least_loaded(ev) : w;
    if (to != w) {
        struct handoff *h = malloc(sizeof *h);
        if (h) {
            *h = (struct handoff){to, fd, *peer};
            if (sk_loop_post(to->loop, adopt_posted, h) == 0)
                return;
            free(h);
        }
    }
    adopt(w, fd, peer);
}

static void on_listener(sk_loop *l, int fd, int events, void *arg);

static void resume_accept(sk_loop *l, uint64_t timer, void *arg)
{
    (void)timer;
    struct worker *w = arg;
    if (w->fd >= 0 && !w->draining)
        sk_loop_watch(l, w->fd, SK_READABLE, on_listener, w);
}

enum { TOOK, REFUSED, STOP };

/* Out of fds (under accept_lock): the pending client cannot be accepted and the listener stays
 * readable, so a retry would spin. Free the reserved fd, accept the client and close it (it sees
 * its connection end rather than hang in the backlog), take the reserve back. If the reserve
 * cannot be had, stop watching the listener for a moment. */
static int refuse_one(struct worker *w)
{
    struct sk__event *ev = w->ev;
    if (ev->reserve_fd < 0) /* lost to another open in the process: try to get it back */
        ev->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (ev->reserve_fd >= 0) {
        close(ev->reserve_fd);
        int fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC), err = errno;
        if (fd >= 0) {
            close(fd);
            bump(&w->c.rejected, 1);
        }
        ev->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (ev->reserve_fd >= 0 && (fd >= 0 || err == EAGAIN || err == EWOULDBLOCK))
            return fd >= 0 ? REFUSED : STOP; /* EAGAIN: nobody was waiting after all */
    }
    sk_loop_watch(w->loop, w->fd, 0, on_listener, w);
    sk_loop_timer(w->loop, PAUSE_ACCEPT_MS, 0, resume_accept, w);
    return STOP;
}

static int accept_one(struct worker *w, sk_addr *peer, int *out)
{
    struct sk__event *ev = w->ev;
    int r = STOP;
    pthread_mutex_lock(&ev->accept_lock);
    for (;;) {
        peer->len = sizeof peer->u;
        int fd = accept4(w->fd, &peer->u.sa, &peer->len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            *out = fd;
            r = TOOK;
        } else if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) {
            continue;
        } else if (errno == EMFILE || errno == ENFILE) {
            r = refuse_one(w);
        }
        break; /* EAGAIN: all taken (or another loop took it) */
    }
    pthread_mutex_unlock(&ev->accept_lock);
    return r;
}

static void on_listener(sk_loop *l, int lfd, int events, void *arg)
{
    (void)l;
    (void)events;
    struct worker *w = arg;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        sk_addr peer;
        int fd = -1, r = accept_one(w, &peer, &fd);
        if (r == STOP)
            return;
        if (r == REFUSED)
            continue;
        if (sk_trace_level()) {
            char a[SK_ADDRSTRLEN];
            sk_addr_format(&peer, a, sizeof a);
            sk__trace_socket(fd, peer.u.sa.sa_family, SOCK_STREAM, 0, SK_ROLE_SERVER);
            sk__trace_call(lfd, "accept %s = %d", a, fd);
        }
        admit(w, fd, &peer);
    }
}

/* Datagrams: each one is a request, with a connection struct that lives for on_data only. */
static void on_datagram(sk_loop *l, int fd, int events, void *arg)
{
    (void)l;
    (void)events;
    struct worker *w = arg;
    struct sk__event *ev = w->ev;
    for (int i = 0; i < DGRAM_BATCH; i++) {
        sk_conn c = {.w = w, .fd = fd, .type = SOCK_DGRAM};
        c.peer.len = sizeof c.peer.u;
        ssize_t n = recvfrom(fd, w->rbuf, RBUF, MSG_DONTWAIT, &c.peer.u.sa, &c.peer.len);
        if (n < 0)
            return;
        bump(&w->c.accepted, 1);
        bump(&w->c.bytes_in, (uint64_t)n);
        if (sk_trace_level())
            sk__trace_data(fd, '<', &c.peer, w->rbuf, (size_t)n);
        if (ev->o.verify && !ev->o.verify(ev->srv, &c.peer, ev->o.user)) {
            bump(&w->c.rejected, 1);
            continue;
        }
        if (ev->h.on_data)
            ev->h.on_data(&c, w->rbuf, (size_t)n);
    }
}

/* ---- open, serve, drain, close ------------------------------------------------------------- */

static int open_socket(struct sk__event *ev, struct worker *w, const sk_addr *bound)
{
    sk_listen_opts lo = {.type = ev->type,
                         .backlog = ev->o.backlog,
                         .no_reuseaddr = ev->o.no_reuseaddr,
                         .reuseport = ev->o.reuseport || (ev->n > 1 && !ev->handoff),
                         .dualstack = ev->o.dualstack,
                         .unlink_stale = true};
    int fd = bound ? sk_listen_addr(bound, &lo) : sk_listen(ev->o.endpoint, &lo);
    if (fd < 0)
        return fd;
    sk_set_nonblock(fd, true);
    w->fd = fd;
    sk_io_fn fn = ev->type == SOCK_STREAM ? on_listener : on_datagram;
    int rc = sk_loop_watch(w->loop, fd, SK_READABLE, fn, w);
    return rc < 0 ? rc : 0;
}

int sk__usable_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN); /* more CPUs than a cpu_set_t holds */
    return n > 0 ? (int)n : 1;
}

/* One loop per core, except on one or two cores: one loop. There the loops share their cores with
 * whatever else is busy (the kernel's network work, the clients, other programs), and two loops on
 * one core take turns, each holding its ready connections while the other runs. Measured on 2
 * cores with the clients on the same machine (docs/performance.md): one loop 1.01-1.09x the
 * requests/s of a minimal epoll server at 50 connections, two loops 0.70-0.92x with 3-5x the p99.
 */
int sk__default_loops(int cores)
{
    return cores <= 2 ? 1 : cores;
}

int sk__event_open(struct sk__event **out, sk_server *srv, const sk_server_opts *o)
{
    if (!o->events)
        return sk__fail(SK_EARG, "server open: the event model needs opts.events");
    int n = o->workers > 0 ? o->workers : sk__default_loops(sk__usable_cores());
    struct sk__event *ev = calloc(1, sizeof *ev);
    struct worker *w = aligned_alloc(64, sizeof *w * (size_t)n);
    if (!ev || !w) {
        free(ev);
        free(w);
        return sk__fail(-ENOMEM, "server open: event loops");
    }
    memset(w, 0, sizeof *w * (size_t)n);
    *ev = (struct sk__event){.srv = srv, .o = *o, .h = *o->events, .n = n, .w = w};
    pthread_mutex_init(&ev->accept_lock, NULL);
    ev->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ev->type = o->type ? o->type : SOCK_STREAM;
    ev->high = o->high_water ? o->high_water : 256 * 1024;
    ev->low = o->low_water ? o->low_water : ev->high / 4;
    if (ev->low > ev->high)
        ev->low = ev->high;
    sk_endpoint ep;
    bool is_unix = sk_endpoint_parse(o->endpoint, &ep) == 0 && ep.is_unix;
    ev->handoff = n > 1 && (o->accept_mode == SK_ACCEPT_HANDOFF || is_unix);
    int rc = 0;
    for (int i = 0; i < n; i++)
        w[i] = (struct worker){.ev = ev, .fd = -1};
    for (int i = 0; i < n; i++) {
        if ((rc = sk_loop_new(&w[i].loop, SK_LOOP_DEFAULT)) < 0)
            goto fail;
        w[i].rbuf = malloc(RBUF);
        if (!w[i].rbuf) {
            rc = sk__fail(-ENOMEM, "server open: read buffer");
            goto fail;
        }
    }
    if ((rc = open_socket(ev, &w[0], NULL)) < 0)
        goto fail;
    sk_addr bound;
    if ((rc = sk_local_addr(w[0].fd, &bound)) < 0)
        goto fail;
    for (int i = 1; i < n; i++) {
        if (ev->type == SOCK_STREAM && ev->handoff)
            continue; /* loop 0 accepts for all */
        if (is_unix || ev->handoff) {
            /* one datagram socket, watched by every loop */
            w[i].fd = w[0].fd;
            w[i].shared_fd = true;
            if ((rc = sk_loop_watch(w[i].loop, w[i].fd, SK_READABLE, on_datagram, &w[i])) < 0)
                goto fail;
        } else if ((rc = open_socket(ev, &w[i], &bound)) < 0) {
            goto fail;
        }
    }
    *out = ev;
    return 0;
fail:
    sk__event_close(ev);
    return rc;
}

int sk__event_fd(const struct sk__event *ev)
{
    return ev->w[0].fd;
}

static void drain_wakeups(sk_loop *l, int fd, int events, void *arg)
{
    (void)l;
    (void)events;
    (void)arg;
    char b[64];
    while (read(fd, b, sizeof b) > 0)
        ;
}

static void *serve_thread(void *arg)
{
    struct worker *w = arg;
    while (!atomic_load(&w->ev->stopping))
        if (sk_loop_run_once(w->loop, -1) < 0)
            break;
    return NULL;
}

static void stop_all(struct sk__event *ev)
{
    atomic_store(&ev->stopping, true);
    for (int i = 0; i < ev->n; i++)
        sk_loop_stop(ev->w[i].loop);
}

int sk__event_serve(struct sk__event *ev, int wake_fd, atomic_bool *stop, int interval_ms)
{
    atomic_store(&ev->stopping, false);
    struct worker *w0 = &ev->w[0];
    int rc = sk_loop_watch(w0->loop, wake_fd, SK_READABLE, drain_wakeups, NULL);
    if (rc < 0)
        return rc;
    int started = 1;
    for (; started < ev->n; started++)
        if (pthread_create(&ev->w[started].thread, NULL, serve_thread, &ev->w[started]) != 0) {
            rc = sk__fail(-EAGAIN, "server: event loop thread %d", started);
            atomic_store(stop, true);
            break;
        }
    while (!atomic_load(stop))
        if ((rc = sk_loop_run_once(w0->loop, interval_ms)) < 0)
            break;
    stop_all(ev);
    for (int i = 1; i < started; i++)
        pthread_join(ev->w[i].thread, NULL);
    sk_loop_unwatch(w0->loop, wake_fd);
    return rc < 0 ? rc : 0;
}

/* Close every connection of the loop at once (on_close gets SK_ECLOSED); returns how many. One
 * with unsent output is reset (a zero linger): its client must not take the truncated answer for
 * a whole one. */
static int cut_all(struct worker *w)
{
    int n = 0;
    for (; w->conns; n++) {
        sk_conn *c = w->conns;
        if (pending(c) && c->type == SOCK_STREAM) {
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        fail(c, SK_ECLOSED);
        c->busy = 0;
        destroy(c);
    }
    return n;
}

struct drain_job {
    struct worker *w;
    int64_t deadline;
    bool thread;
};

/* Drain one loop until its connections are gone or the deadline passes; cut the rest off. */
static void *drain_main(void *arg)
{
    struct drain_job *j = arg;
    struct worker *w = j->w;
    sk_loop_run_once(w->loop, 0); /* connections handed over before the stop */
    w->draining = true;
    /* A closed listener refuses new clients from now on; datagram sockets close with the server. */
    if (w->fd >= 0) {
        sk_loop_unwatch(w->loop, w->fd);
        if (w->ev->type == SOCK_STREAM) {
            sk_close(w->fd);
            w->fd = -1;
        }
    }
    for (sk_conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        begin_drain(c);
    }
    while (atomic_load_explicit(&w->nconns, memory_order_relaxed) > 0) {
        int left = sk__remaining(j->deadline);
        if (left == 0)
            break;
        if (sk_loop_run_once(w->loop, left) < 0)
            break;
    }
    w->cut += cut_all(w);
    return NULL;
}

int sk__event_drain(struct sk__event *ev, int deadline_ms)
{
    int64_t deadline = sk__deadline(deadline_ms);
    struct drain_job *jobs = calloc((size_t)ev->n, sizeof *jobs);
    if (!jobs)
        return sk__fail(-ENOMEM, "server drain");
    int cut = 0;
    for (int i = 0; i < ev->n; i++) {
        jobs[i] = (struct drain_job){&ev->w[i], deadline, false};
        ev->w[i].cut = 0;
    }
    for (int i = 1; i < ev->n; i++)
        jobs[i].thread = pthread_create(&ev->w[i].thread, NULL, drain_main, &jobs[i]) == 0;
    for (int i = 0; i < ev->n; i++)
        if (!jobs[i].thread)
            drain_main(&jobs[i]);
    for (int i = 1; i < ev->n; i++)
        if (jobs[i].thread)
            pthread_join(ev->w[i].thread, NULL);
    for (int i = 0; i < ev->n; i++)
        cut += ev->w[i].cut;
    free(jobs);
    return cut;
}

void sk__event_close(struct sk__event *ev)
{
    if (!ev)
        return;
    for (int i = 0; i < ev->n; i++) {
        struct worker *w = &ev->w[i];
        if (!w->loop)
            continue;
        sk_loop_run_once(w->loop, 0); /* take in connections still being handed over */
        cut_all(w);
    }
    for (int i = ev->n - 1; i >= 0; i--) {
        struct worker *w = &ev->w[i];
        if (w->fd >= 0 && !w->shared_fd)
            sk_close(w->fd);
        sk_loop_free(w->loop);
        free(w->rbuf);
    }
    if (ev->reserve_fd >= 0)
        close(ev->reserve_fd);
    pthread_mutex_destroy(&ev->accept_lock);
    free(ev->w);
    free(ev);
}

int sk__event_loops(const struct sk__event *ev)
{
    return ev->n;
}

void sk__event_stats(const struct sk__event *ev, sk_server_stats *out)
{
    *out = (sk_server_stats){.active = atomic_load(&ev->active)};
    for (int i = 0; i < ev->n; i++) {
        const struct counters *c = &ev->w[i].c;
        out->accepted += atomic_load_explicit(&c->accepted, memory_order_relaxed);
        out->rejected += atomic_load_explicit(&c->rejected, memory_order_relaxed);
        out->errors += atomic_load_explicit(&c->errors, memory_order_relaxed);
        out->bytes_in += atomic_load_explicit(&c->bytes_in, memory_order_relaxed);
        out->bytes_out += atomic_load_explicit(&c->bytes_out, memory_order_relaxed);
    }
}
