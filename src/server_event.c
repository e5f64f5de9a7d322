/* The event model of sk_server: N event loops (sk_loop), one thread each, serving non-blocking
 * callbacks (sk_event_handlers). This file: the loops, their listeners, accepting and handing
 * off, datagrams, serving, draining and closing. One stream connection's life: server_conn.c.
 *
 * Connections reach a loop in one of two ways: each loop has its own listener on the same port
 * (SO_REUSEPORT; the kernel spreads new connections), or loop 0 accepts and hands each connection
 * to the loop with the fewest (a post). Unix stream sockets always use the hand-off; datagram
 * sockets without SO_REUSEPORT are watched by every loop at once. A stream listener is watched
 * for readiness and accept4'ed (on_listener), or on io_uring gives its clients as completions of
 * a multishot accept (server_ring_accept.c); both end in sk__event_client. */
#include "server_event.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPT_BATCH 64 /* accepts per readable listener */
#define DGRAM_BATCH  64 /* datagrams per readable socket */

/* ---- new connections ----------------------------------------------------------------------- */

struct handoff {
    struct sk__worker *w;
    int fd;
    sk_addr peer;
};

static void adopt_posted(sk_loop *l, void *arg)
{
    (void)l;
    struct handoff *h = arg;
    sk__conn_adopt(h->w, h->fd, &h->peer);
    free(h);
}

static struct sk__worker *least_loaded(struct sk__event *ev)
{
    struct sk__worker *best = NULL;
    size_t min = SIZE_MAX;
    unsigned start = ev->next++;
    for (int i = 0; i < ev->n; i++) {
        struct sk__worker *w = &ev->w[(start + (unsigned)i) % (unsigned)ev->n];
        size_t k = atomic_load_explicit(&w->nconns, memory_order_relaxed);
        if (k < min) {
            min = k;
            best = w;
        }
    }
    return best;
}

/* An admitted client: serve it on this loop, or on the least loaded one. */
static void place(struct sk__worker *w, int fd, const sk_addr *peer)
{
    struct sk__event *ev = w->ev;
    struct sk__worker *to = ev->handoff ? least_loaded(ev) : w;
    if (to != w) {
        struct handoff *h = malloc(sizeof *h);
        if (h) {
            *h = (struct handoff){to, fd, *peer};
            if (sk_loop_post(to->loop, adopt_posted, h) == 0)
                return;
            free(h);
        }
    }
    sk__conn_adopt(w, fd, peer);
}

/* A client the ring accepted comes without its address (server_ring_accept.c): looked up now
 * only where it is needed at once (verify, TLS's messages, the trace), else when asked. */
static bool peer_now(const sk_server *s)
{
    return s->o.verify || s->o.tls || sk__trace_on();
}

void sk__event_client(struct sk__worker *w, int fd, const sk_addr *peer)
{
    sk_server *s = w->ev->srv;
    sk_addr p = {0};
    if (!peer && sk__accept_claim(s, fd, &w->c))
        return; /* its slot was the reserve's (server_accept.c) */
    if (!peer) {
        /* the family alone says TCP or Unix; len 0: the address is not known yet */
        p.u.sa.sa_family = s->ep.is_unix ? AF_UNIX : AF_INET6;
        if (peer_now(s))
            sk__accepted_peer(w->fd, fd, &p);
        peer = &p;
    }
    if (sk__admit(s, peer, true, &w->c))
        place(w, fd, peer);
    else
        sk__ring_close(w->loop, fd);
}

static void on_listener(sk_loop *l, int fd, int events, void *arg);

static void resume_accept(sk_loop *l, int64_t timer, void *arg)
{
    (void)l, (void)timer;
    sk__event_listen(arg);
}

static int listen_ready(struct sk__worker *w, int events)
{
    int rc = sk_loop_watch(w->loop, w->fd, events, on_listener, w);
    if (rc == 0)
        w->listen_watched = true;
    return rc;
}

int sk__event_listen(struct sk__worker *w)
{
    if (w->fd < 0 || w->draining)
        return 0;
    if (w->accept_ring && !w->accept_fallback) {
        if (w->accept_op)
            return 0;
        if (w->listen_watched)
            sk_loop_unwatch(w->loop, w->fd);
        w->listen_watched = false;
        if (sk__ring_accept_start(w))
            return 0;
        w->accept_fallback = true; /* no SQE or no memory now: readiness until a client */
    }
    return listen_ready(w, SK_READABLE);
}

static void on_listener(sk_loop *l, int lfd, int events, void *arg)
{
    (void)l, (void)events;
    struct sk__worker *w = arg;
    sk_server *s = w->ev->srv;
    bool took = false;
    /* io_uring: connections that ended in this turn's completions give their fds back first, as
     * a close(2) would have (out of fds, else a client that fits would be shed); nothing queued,
     * or another backend: no system call */
    sk__ring_flush(l);
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        sk_addr peer;
        int fd = sk__accept(s, lfd, &peer, SOCK_NONBLOCK, &w->c);
        if (fd == SK__ACCEPT_REFUSED)
            continue;
        if (fd == SK__ACCEPT_PAUSE) { /* out of fds without a reserve: stop listening a while */
            listen_ready(w, 0);
            sk_loop_timer(l, SK__ACCEPT_PAUSE_MS, 0, resume_accept, w);
            return;
        }
        if (fd < 0)
            break; /* all taken, or an error: the listener says when to try again */
        took = true;
        sk__event_client(w, fd, &peer);
    }
    /* io_uring after a failure ended the ring's accept (EMFILE): a client came, the ring again */
    if (took && w->accept_fallback) {
        w->accept_fallback = false;
        sk__event_listen(w);
    }
}

/* Datagrams: each one is a request, with a connection struct that lives for on_data only. */
static void on_datagram(sk_loop *l, int fd, int events, void *arg)
{
    (void)l;
    (void)events;
    struct sk__worker *w = arg;
    struct sk__event *ev = w->ev;
    for (int i = 0; i < DGRAM_BATCH; i++) {
        sk_addr from = {.len = sizeof from.u};
        sk_conn c = {.w = w, .fd = fd, .type = SOCK_DGRAM, .peer = &from};
        ssize_t n = recvfrom(fd, w->rbuf, SK__EVENT_RBUF, MSG_DONTWAIT, &from.u.sa, &from.len);
        if (n < 0)
            return;
        sk__bump(&w->c.bytes_in, (uint64_t)n);
        if (sk__trace_on())
            sk__trace_data(fd, '<', &from, w->rbuf, (size_t)n, "recvfrom");
        if (sk__admit(ev->srv, &from, false, &w->c) && ev->h.on_data)
            ev->h.on_data(&c, w->rbuf, (size_t)n);
    }
}

/* ---- open ---------------------------------------------------------------------------------- */

static int open_socket(struct sk__event *ev, struct sk__worker *w, const sk_addr *bound)
{
    int fd = sk__server_listen(ev->srv, bound, ev->n > 1 && !ev->handoff);
    if (fd < 0)
        return fd;
    w->fd = fd;
    int one = 1;
    /* accepted sockets inherit it (Linux): no setsockopt per client (sk__conn_adopt) */
    if (ev->srv->type == SOCK_STREAM && !ev->srv->ep.is_unix &&
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        ev->nodelay_lost++;
    if (ev->srv->type == SOCK_STREAM) {
        /* io_uring: a multishot accept (server_ring_accept.c); it is armed with the first wait */
        w->accept_ring = sk__ring_usable(w);
        int rc = sk__event_listen(w);
        return rc < 0 ? rc : 0;
    }
    int rc = sk_loop_watch(w->loop, fd, SK_READABLE, on_datagram, w);
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

static void event_close(sk_server *s);

/* The loops, each with its buffer; the listener (loop 0) and, with SO_REUSEPORT, one more per
 * loop at the same address; a datagram socket without it is shared by every loop. */
static int open_loops(struct sk__event *ev)
{
    struct sk__worker *w = ev->w;
    for (int i = 0; i < ev->n; i++) {
        int rc = sk_loop_new(&w[i].loop, ev->srv->o.loop_backend);
        if (rc < 0)
            return rc;
        if (!(w[i].rbuf = malloc(SK__EVENT_RBUF)))
            return sk__fail(-ENOMEM, "server open: read buffer");
    }
    int rc = open_socket(ev, &w[0], NULL);
    sk_addr bound;
    if (rc < 0 || (rc = sk_sock_get_local_addr(w[0].fd, &bound)) < 0)
        return rc;
    for (int i = 1; i < ev->n; i++) {
        if (ev->srv->type == SOCK_STREAM && ev->handoff)
            continue; /* loop 0 accepts for all */
        if (ev->srv->ep.is_unix || ev->handoff) {
            /* one datagram socket, watched by every loop */
            w[i].fd = w[0].fd;
            w[i].shared_fd = true;
            if ((rc = sk_loop_watch(w[i].loop, w[i].fd, SK_READABLE, on_datagram, &w[i])) < 0)
                return rc;
        } else if ((rc = open_socket(ev, &w[i], &bound)) < 0) {
            return rc;
        }
    }
    return 0;
}

static int event_open(sk_server *s)
{
    const sk_server_opts *o = &s->o;
    int n = o->workers > 0 ? o->workers : sk__default_loops(sk__usable_cores());
    struct sk__event *ev = calloc(1, sizeof *ev);
    struct sk__worker *w = aligned_alloc(64, sizeof *w * (size_t)n);
    if (!ev || !w) {
        free(ev);
        free(w);
        return sk__fail(-ENOMEM, "server open: event loops");
    }
    for (int i = 0; i < n; i++)
        w[i] = (struct sk__worker){.ev = ev, .fd = -1};
    *ev = (struct sk__event){.srv = s, .n = n, .w = w};
    int rc = sk__opts_load(&ev->h, sizeof ev->h, o->events, "server open: opts.events");
    if (rc < 0) {
        free(ev);
        free(w);
        return rc;
    }
    ev->high = o->high_water ? o->high_water : SK_HIGH_WATER_DEFAULT;
    ev->low = o->low_water ? o->low_water : ev->high / 4;
    if (ev->low > ev->high)
        ev->low = ev->high;
    ev->handoff = n > 1 && (o->accept_mode == SK_ACCEPT_HANDOFF || s->ep.is_unix);
    s->model = ev;
    rc = open_loops(ev);
    if (rc < 0) {
        event_close(s);
        return rc;
    }
    s->workers = n;
    s->loop = w[0].loop;
    return 0;
}

static int event_fd(const sk_server *s)
{
    const struct sk__event *ev = s->model;
    return ev ? ev->w[0].fd : -1;
}

/* ---- serve --------------------------------------------------------------------------------- */

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
    struct sk__worker *w = arg;
    while (!atomic_load(&w->ev->stopping))
        if (sk_loop_run_once(w->loop, -1) < 0)
            break;
    sk__ring_flush(w->loop); /* the last turn's closes: not held until the drain or the close */
    return NULL;
}

static void stop_all(struct sk__event *ev)
{
    atomic_store(&ev->stopping, true);
    for (int i = 0; i < ev->n; i++)
        sk_loop_stop(ev->w[i].loop);
}

/* Loop 0 runs on the serving thread and watches the wakeup pipe; the others get a thread each. */
static int event_serve(sk_server *s, int interval_ms)
{
    struct sk__event *ev = s->model;
    atomic_store(&ev->stopping, false);
    struct sk__worker *w0 = &ev->w[0];
    int rc = sk_loop_watch(w0->loop, s->wake[0], SK_READABLE, drain_wakeups, NULL);
    if (rc < 0)
        return rc;
    int started = 1;
    for (; started < ev->n; started++)
        if (pthread_create(&ev->w[started].thread, NULL, serve_thread, &ev->w[started]) != 0) {
            rc = sk__fail(-EAGAIN, "server: event loop thread %d", started);
            atomic_store(&s->stop, true);
            break;
        }
    while (!atomic_load(&s->stop))
        if ((rc = sk_loop_run_once(w0->loop, interval_ms)) < 0)
            break;
    sk__ring_flush(w0->loop);
    stop_all(ev);
    for (int i = 1; i < started; i++)
        pthread_join(ev->w[i].thread, NULL);
    sk_loop_unwatch(w0->loop, s->wake[0]);
    return rc < 0 ? rc : 0;
}

/* ---- drain and close ----------------------------------------------------------------------- */

struct drain_job {
    struct sk__worker *w;
    int64_t deadline;
    bool thread;
};

/* Drain one loop until its connections are gone or the deadline passes; cut the rest off. */
static void *drain_main(void *arg)
{
    struct drain_job *j = arg;
    struct sk__worker *w = j->w;
    sk_loop_run_once(w->loop, 0); /* connections handed over before the stop */
    /* io_uring: the clients queued since serve returned, as epoll's first turn takes them. The
     * accept gives them over one turn or more (and one armed again in that turn, after the thread
     * that armed it exited and that ended it, gives them only from the next): turns while they
     * bring something, bounded */
    for (int i = 0; i < ACCEPT_BATCH && w->accept_op && sk_loop_run_once(w->loop, 0) > 0; i++)
        ;
    w->draining = true;
    /* A closed listener refuses new clients from now on; datagram sockets close with the server. */
    if (w->fd >= 0) {
        if (w->ev->srv->type != SOCK_STREAM || w->listen_watched)
            sk_loop_unwatch(w->loop, w->fd);
        w->listen_watched = false;
        sk__ring_accept_stop(w); /* clients it accepts from now on are closed by the loop */
        if (w->ev->srv->type == SOCK_STREAM) {
            sk_close(w->fd);
            w->fd = -1;
        }
    }
    for (sk_conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        sk__conn_drain(c);
    }
    while (atomic_load_explicit(&w->nconns, memory_order_relaxed) > 0) {
        int left = sk__remaining(j->deadline);
        if (left == 0)
            break;
        if (sk_loop_run_once(w->loop, left) < 0)
            break;
    }
    w->cut += sk__conn_cut_all(w);
    sk__ring_flush(w->loop); /* the cut clients see their end now, not at the server's close */
    return NULL;
}

/* Every loop drains at once, each on a thread of its own (loop 0 on the caller's). */
static int event_drain(sk_server *s, int deadline_ms)
{
    struct sk__event *ev = s->model;
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

static void event_close(sk_server *s)
{
    struct sk__event *ev = s->model;
    if (!ev)
        return;
    for (int i = 0; i < ev->n; i++) {
        struct sk__worker *w = &ev->w[i];
        if (!w->loop)
            continue;
        sk__outbound_quiesce(w);      /* no resolver thread posts to a loop being freed */
        sk_loop_run_once(w->loop, 0); /* take in connections still being handed over */
        sk__conn_cut_all(w);
    }
    for (int i = ev->n - 1; i >= 0; i--) {
        struct sk__worker *w = &ev->w[i];
        if (w->loop)
            sk__ring_accept_stop(w); /* before the close: by its id */
        if (w->fd >= 0 && !w->shared_fd)
            sk_close(w->fd);
        sk_loop_free(w->loop);
        sk__relay_pipes_free(w);
        free(w->rbuf);
    }
    free(ev->w);
    free(ev);
    s->model = NULL;
    s->loop = NULL;
}

/* The loops' counters (each written by its loop only) added to the server's. */
static void event_stats(const sk_server *s, sk_server_stats *out)
{
    const struct sk__event *ev = s->model;
    for (int i = 0; i < ev->n; i++) {
        const struct sk__counters *c = &ev->w[i].c;
        out->accepted += atomic_load_explicit(&c->accepted, memory_order_relaxed);
        out->rejected += atomic_load_explicit(&c->rejected, memory_order_relaxed);
        out->errors += atomic_load_explicit(&c->errors, memory_order_relaxed);
        out->bytes_in += atomic_load_explicit(&c->bytes_in, memory_order_relaxed);
        out->bytes_out += atomic_load_explicit(&c->bytes_out, memory_order_relaxed);
    }
}

const struct sk__server_model sk__model_event = {
    .name = "event",
    .open = event_open,
    .own_listener = true,
    .serve = event_serve,
    .drain = event_drain,
    .close = event_close,
    .fd = event_fd,
    .stats = event_stats,
};
