/* The workers of sockkit bench echo, connect and stream. Each runs on its own thread until the
 * run's end (or a failed data check), measuring only between t_measure and t_end; `progress`
 * counts warm-up work too. */
#include "bench.h"
#include "ticks.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

struct conn {
    int fd, id;
    sk_tls *tls; /* --tls: the connection's TLS (its I/O goes through it), else NULL */
    bool connected;
    uint64_t sent, recvd;        /* bytes of the stream handed to the kernel / checked on return */
    uint64_t ts[BENCH_MAX_PIPE]; /* send time of each message in flight, oldest at head */
    int head, inflight;
    uint64_t queued;   /* bytes generated but not yet written */
    uint64_t measured; /* requests completed during the measurement */
};

/* The byte at offset o of connection id's stream: cheap, and different per connection and
 * offset, so a byte from the wrong connection or place is caught. */
static inline unsigned char pattern(int id, uint64_t o)
{
    return (unsigned char)(o * 7u + (unsigned)id * 13u + (o >> 8) * 3u);
}

/* --tls: a blocking connect and handshake; the loop takes the connection from there. */
static int open_tls_conn(struct bench_worker *w, struct conn *c, int ep)
{
    c->fd = sk_connect_addr(&w->run->addr, SOCK_STREAM, 5000);
    if (c->fd < 0)
        return c->fd;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = bench_tls_open(w->run, c->fd, &c->tls);
    if (rc < 0)
        return rc;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0 ? -errno : 0;
}

static int open_conn(struct bench_worker *w, struct conn *c, int ep)
{
    if (w->run->tls)
        return open_tls_conn(w, c, ep);
    const sk_addr *a = &w->run->addr;
    c->fd = socket(a->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -errno;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, &a->u.sa, a->len) < 0 && errno != EINPROGRESS)
        return -errno;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0 ? -errno : 0;
}

/* Queue as many new messages as the pipeline allows. */
static void refill(struct conn *c, const struct bench_opts *o, uint64_t now)
{
    while (c->inflight < o->pipeline) {
        c->ts[(c->head + c->inflight) % BENCH_MAX_PIPE] = now;
        c->inflight++;
        c->queued += (uint64_t)o->size;
    }
}

/* Write queued bytes. Returns false on a connection error. */
static bool flush_out(struct conn *c)
{
    /* on the stack, not static _Thread_local: a TLS array is part of every thread's TLS block,
     * the server's handler threads included (the CLI is one program) */
    unsigned char buf[65536];
    while (c->queued) {
        size_t n = c->queued < sizeof buf ? (size_t)c->queued : sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(c->id, c->sent + i);
        ssize_t k = c->tls ? bench_tls_send(c->tls, buf, n) : send(c->fd, buf, n, MSG_NOSIGNAL);
        if (k < 0)
            return errno == EAGAIN || errno == EINTR;
        c->sent += (uint64_t)k;
        c->queued -= (uint64_t)k;
    }
    return true;
}

static void fail_conn(struct bench_worker *w, struct conn *c, const char *why, int err)
{
    w->errors++;
    if (!w->error[0])
        snprintf(w->error, sizeof w->error, "connection %d: %s%s%s", c->id, why, err ? ": " : "",
                 err == EPROTO && w->run->tls ? sk_errmsg()
                 : err                        ? strerror(err)
                                              : "");
    sk_tls_close(c->tls);
    c->tls = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* Every byte of buf (k bytes at c->recvd) is what was sent; else stop the run. */
static bool check_echo(struct bench_worker *w, struct conn *c, const unsigned char *buf, ssize_t k)
{
    for (ssize_t i = 0; i < k; i++) {
        unsigned char want = pattern(c->id, c->recvd + (uint64_t)i);
        if (buf[i] != want) {
            snprintf(w->error, sizeof w->error,
                     "connection %d: byte %llu came back as 0x%02x, 0x%02x was sent", c->id,
                     (unsigned long long)(c->recvd + (uint64_t)i), buf[i], want);
            atomic_store(&w->run->failed, true);
            return false;
        }
    }
    return true;
}

/* k more bytes came back: complete the messages they finish. */
static void complete(struct bench_worker *w, struct conn *c, ssize_t k, uint64_t now)
{
    const struct bench_run *run = w->run;
    uint64_t size = (uint64_t)run->o->size, before = c->recvd / size;
    c->recvd += (uint64_t)k;
    uint64_t done = c->recvd / size - before;
    for (uint64_t m = 0; m < done && c->inflight; m++) {
        uint64_t lat = now - c->ts[c->head];
        c->head = (c->head + 1) % BENCH_MAX_PIPE;
        c->inflight--;
        atomic_fetch_add_explicit(&w->progress, 1, memory_order_relaxed);
        if (now >= run->t_measure && now < run->t_end) {
            hist_add(&w->h, lat);
            c->measured++;
            w->requests++;
            w->bytes += size;
        }
    }
}

/* Read what came back, check every byte, complete messages, send the next ones. */
static void on_readable(struct bench_worker *w, struct conn *c)
{
    unsigned char buf[65536]; /* on the stack: see flush_out */
    for (;;) {
        ssize_t k =
            c->tls ? bench_tls_recv(c->tls, buf, sizeof buf) : recv(c->fd, buf, sizeof buf, 0);
        uint64_t now = ticks_now_ns(); /* per read: an echo may come back within this loop */
        if (k == 0) {
            fail_conn(w, c, "closed by the server", 0);
            return;
        }
        if (k < 0) {
            if (errno != EAGAIN && errno != EINTR)
                fail_conn(w, c, "receive", errno);
            return;
        }
        if (!check_echo(w, c, buf, k))
            return;
        complete(w, c, k, now);
        if (now < w->run->t_end)
            refill(c, w->run->o, now);
        if (!flush_out(c)) {
            fail_conn(w, c, "send", errno);
            return;
        }
        if ((size_t)k < sizeof buf)
            return; /* a short read drained the socket: no extra recv just to hear EAGAIN */
    }
}

/* The connection's nonblocking connect finished: check it, send the first messages. */
static void on_connected(struct bench_worker *w, struct conn *c, int ep, uint64_t now)
{
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        fail_conn(w, c, "connect", err);
        return;
    }
    c->connected = true;
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
    refill(c, w->run->o, now);
    if (!flush_out(c))
        fail_conn(w, c, "send", errno);
}

static void on_event(struct bench_worker *w, struct conn *c, int ep, uint32_t events, uint64_t now)
{
    if (!c->connected) {
        on_connected(w, c, ep, now);
        return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        on_readable(w, c);
    if (c->fd >= 0 && c->queued) {
        /* a partial write left bytes behind: wait for room */
        struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
        if (!flush_out(c))
            fail_conn(w, c, "send", errno);
    }
}

/* echo mode: w->n connections in one epoll loop, each keeping --pipeline messages in flight. */
void *bench_echo_worker(void *arg)
{
    struct bench_worker *w = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct conn *cs = calloc((size_t)w->n, sizeof *cs);
    if (ep < 0 || !cs) {
        snprintf(w->error, sizeof w->error, "%s", strerror(ep < 0 ? errno : ENOMEM));
        w->errors++;
        free(cs);
        bench_tls_gate(w->run);
        return NULL;
    }
    for (int i = 0; i < w->n; i++) {
        cs[i].id = w->first + i;
        int rc = open_conn(w, &cs[i], ep);
        if (rc < 0)
            fail_conn(w, &cs[i], "connect", rc > -3000 ? -rc : EPROTO); /* SK_E*: the message */
    }
    bench_tls_gate(w->run);
    struct epoll_event ev[256];
    while (!atomic_load(&w->run->failed) && ticks_now_ns() < w->run->t_end) {
        int n = epoll_wait(ep, ev, 256, 10);
        uint64_t now = ticks_now_ns();
        for (int i = 0; i < n; i++) {
            struct conn *c = ev[i].data.ptr;
            if (c->fd >= 0)
                on_event(w, c, ep, ev[i].events, now);
        }
    }
    for (int i = 0; i < w->n; i++) {
        if (cs[i].fd >= 0 && !cs[i].measured)
            w->starved++; /* connected (or waiting) but never answered: a server that serves few */
        bench_tls_close(cs[i].tls);
        if (cs[i].fd >= 0)
            close(cs[i].fd);
    }
    free(cs);
    close(ep);
    return NULL;
}

/* connect mode: connect, one message, its echo, close, over and over. */
void *bench_connect_worker(void *arg)
{
    struct bench_worker *w = arg;
    struct bench_run *run = w->run;
    size_t size = (size_t)run->o->size;
    unsigned char *out = malloc(size), *in = malloc(size);
    for (size_t i = 0; out && i < size; i++)
        out[i] = pattern(w->first, (uint64_t)i);
    while (out && in && !atomic_load(&run->failed)) {
        uint64_t t0 = ticks_now_ns();
        if (t0 >= run->t_end)
            break;
        int fd = sk_connect_addr(&run->addr, SOCK_STREAM, 5000);
        bool ok = fd >= 0 && (run->tls ? bench_tls_exchange(w, fd, out, in, size)
                                       : sk_send_all(fd, out, size, 5000, NULL) == 0 &&
                                             sk_recv_exact(fd, in, size, 5000, NULL) == 0);
        if (fd >= 0)
            close(fd);
        if (!ok) {
            if (!w->errors++)
                snprintf(w->error, sizeof w->error, "%s", sk_errmsg());
            if (w->errors > 100)
                break;
            continue;
        }
        if (memcmp(in, out, size)) {
            snprintf(w->error, sizeof w->error, "worker %d: the echo differs from what was sent",
                     w->first);
            atomic_store(&run->failed, true);
            break;
        }
        uint64_t t1 = ticks_now_ns();
        atomic_fetch_add_explicit(&w->progress, 1, memory_order_relaxed);
        if (t0 >= run->t_measure && t1 < run->t_end) {
            hist_add(&w->h, t1 - t0);
            w->requests++;
            w->bytes += size;
        }
    }
    free(out);
    free(in);
    return NULL;
}

/* stream mode: one connection writing (or reading, --reverse) as fast as it can. */
void *bench_stream_worker(void *arg)
{
    struct bench_worker *w = arg;
    struct bench_run *run = w->run;
    const struct bench_opts *o = run->o;
    unsigned char *buf = calloc(1, (size_t)o->size);
    int fd = buf ? sk_connect_addr(&run->addr, SOCK_STREAM, 5000) : -ENOMEM;
    if (fd < 0) {
        w->errors++;
        snprintf(w->error, sizeof w->error, "%s", buf ? sk_errmsg() : strerror(ENOMEM));
        free(buf);
        return NULL;
    }
    /* Plain blocking calls, as iperf3 makes them: a poll per write would cost a system call each
     * time the send buffer fills. The socket timeout keeps the end of the run on time. */
    sk_sock_set_timeouts(fd, 200, 200);
    while (!atomic_load(&run->failed) && ticks_now_ns() < run->t_end) {
        ssize_t n = o->reverse ? recv(fd, buf, (size_t)o->size, 0)
                               : send(fd, buf, (size_t)o->size, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0) {
            w->errors++;
            snprintf(w->error, sizeof w->error, "%s",
                     n == 0 ? "the server closed the connection" : strerror(errno));
            break;
        }
        uint64_t now = ticks_now_ns();
        atomic_fetch_add_explicit(&w->progress, (uint64_t)n, memory_order_relaxed);
        if (now >= run->t_measure && now < run->t_end)
            w->bytes += (uint64_t)n;
    }
    close(fd);
    free(buf);
    return NULL;
}
