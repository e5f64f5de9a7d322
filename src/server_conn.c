/* The event model's stream connections: input into the loop's buffer, the output buffer and
 * back-pressure (high/low water), the idle timeout, and the end of a connection. A connection
 * reads into its loop's buffer and passes the bytes to on_data. sk_conn_write sends at once what
 * the socket takes and keeps the rest in the connection's output buffer; past the high-water mark
 * the connection stops reading until the output falls to the low-water mark (then on_writable).
 * An idle connection costs its struct and nothing else: no buffers. Idle timeouts use one loop
 * timer per connection that is re-armed lazily: activity only stamps the time, the timer on
 * firing checks the stamp.
 *
 * Callbacks may close the connection they run for; the struct is freed only when none of ours is
 * on the stack (busy == 0), in settle(). Counters are per loop, written only by its thread. */
#include "server_event.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define KEEP_OUT     (1u << 20) /* an emptied output buffer larger than this is freed */
#define FIRST_OUTBUF 4096       /* the first output buffer; it doubles as needed */
/* io_uring (server_ring.c): every write goes through the output buffer, so an emptied one this
 * small is freed (and made again from malloc's per-thread cache for the next reply): an idle
 * connection holds none, as on epoll, where a reply the socket took at once needs no buffer */
#define RING_OUTBUF 256

static size_t pending(const sk_conn *c)
{
    return c->len - c->off;
}

/* ---- ending a connection ------------------------------------------------------------------- */

static const struct sk__tls_ops *tls_ops(const sk_conn *c)
{
    return c->tops;
}

/* Our close_notify, if the socket takes it now: the loop does not wait for it. */
static void tls_notify(sk_conn *c)
{
    if (c->tls && c->opened && !c->reason)
        tls_ops(c)->shutdown(c->tls, 0);
}

static void destroy(sk_conn *c)
{
    struct sk__worker *w = c->w;
    struct sk__event *ev = w->ev;
    bool client = !c->outbound;
    if (c->idle_timer > 0)
        sk_loop_cancel(w->loop, c->idle_timer);
    if (c->hs_timer > 0) /* or the ring's timer (the same field): cancelled once */
        sk_loop_cancel(w->loop, c->hs_timer);
    c->hs_timer = 0;
    if (c->ring) /* before the close: its ops are cancelled by id, its buffer goes to a send */
        sk__ring_end(c);
    if (c->fd >= 0 && (!c->ring || c->events))    /* io_uring: watched only while starved */
        sk__loop_unwatch_closing(w->loop, c->fd); /* closed below */
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->dead = true;
    int r = c->reason;
    /* the connect's one callback says how it ended (a TLS handshake included); no on_close */
    if (c->connecting || (c->outbound && c->tls && !c->opened)) {
        sk__outbound_end(c, r < 0 ? r : SK_ECLOSED);
    } else {
        if (r < 0 && !sk__peer_gone(ev->srv->type, r))
            sk__bump(&w->c.errors, 1);
        /* on_open and on_close come in pairs: a failed handshake never opened (on_error) */
        if (c->h->on_close && (c->opened || !c->tls))
            c->h->on_close(c, r);
    }
    if (c->tls) {
        tls_notify(c);
        tls_ops(c)->close(c->tls);
    }
    if (c->fd >= 0) /* io_uring: IORING_OP_CLOSE with the loop's next submission */
        sk__ring_close(w->loop, c->fd);
    sk__outbound_free(c);
    free(c->out);
    free(c->why);
    free(c->peer);
    free(c);
    atomic_fetch_sub_explicit(&w->nconns, 1, memory_order_relaxed);
    if (client)
        sk__release(ev->srv);
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

void sk__conn_fail(sk_conn *c, int reason)
{
    fail(c, reason);
}

/* A recv or send that ended the connection with an error (a reset, mostly) is a trace line, as
 * the blocking calls' failures are. */
static void fail_io(sk_conn *c, const char *call, int err)
{
    if (sk__trace_on())
        sk__trace_call(c->fd, "%s -> %s (%s)", call, sk_err_name(err), sk_strerror(err));
    fail(c, err);
}

/* Abortive close: a zero linger makes the close an RST (traced as such, as sk_sock_set_linger). */
static void set_abortive(sk_conn *c)
{
    if (c->fd >= 0 && c->type == SOCK_STREAM)
        sk_sock_set_linger(c->fd, true, 0);
}

/* Reading stops while our own output is over high-water (an echo must not read faster than its
 * peer takes the answers), unless the output comes from elsewhere (a pair: the other side). */
static bool wants_read(const sk_conn *c)
{
    return sk__conn_wants_read(c);
}

bool sk__conn_wants_read(const sk_conn *c)
{
    if (c->dead)
        return false;
    if (c->discard)
        return true;
    bool held = c->over && !c->joined && !c->h->read_past_high_water;
    return !c->closing && !held && !c->draining && !c->paused && !c->eof;
}

static void on_io(sk_loop *l, int fd, int events, void *arg);

/* What the loop watches for: readable to read, writable to flush; TLS turns either around when
 * a read needs to write (a TLS 1.2 renegotiation's ClientHello, an alert) or a write needs to
 * read. Turned around means instead, not as well: a read waiting for the fd to be writable must
 * not watch for readable (input already there would wake the loop at once, forever, while the
 * peer is not reading: tests/unit/test_tls_wantwrite.c), nor a write waiting for readable watch
 * for writable. */
static int interest(const sk_conn *c)
{
    int want = 0;
    if (wants_read(c))
        want |= c->rd_wants_w ? SK_WRITABLE : SK_READABLE;
    if (pending(c))
        want |= c->wr_wants_r ? SK_READABLE : SK_WRITABLE;
    return want;
}

/* After our frames are off the stack: free a finished connection, or watch for what it needs. */
static void settle(sk_conn *c)
{
    if (c->busy)
        return;
    if (c->dead) {
        destroy(c);
        return;
    }
    if (c->connecting)
        return; /* conn_connect.c watches the fd until then */
    if (!pending(c) && c->closing) {
        destroy(c);
        return;
    }
    if (!pending(c) && c->shut_req && !c->shut_done) {
        tls_notify(c); /* TLS: the end of our data is a close_notify, then the FIN */
        sk_shutdown(c->fd, SHUT_WR);
        c->shut_done = true;
    }
    if (c->eof && c->shut_done) { /* both directions are over */
        destroy(c);
        return;
    }
    if (!pending(c) && c->draining && !c->fin_sent) {
        /* drain: all accepted output is out; say so and wait for the peer to close */
        tls_notify(c);
        sk_shutdown(c->fd, SHUT_WR); /* a peer gone already (ENOTCONN) is no failure here */
        c->fin_sent = c->discard = true;
    }
    if (c->ring) { /* completions, not readiness: no watcher */
        if (sk__ring_settle(c) < 0) {
            fail(c, -ENOMEM);
            destroy(c);
        }
        return;
    }
    int want = interest(c);
    if (c->handshaking)
        want = c->tls_want == SK__TLS_WANT_WRITE ? SK_WRITABLE : SK_READABLE;
    if (c->raw_io)
        return; /* relay.c's pump watches the fd itself */
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
    sk__bump(&c->w->c.bytes_out, n);
    c->last = sk_loop_now(c->w->loop);
    if (sk__trace_on() && !c->tls) /* TLS traces its plaintext itself */
        sk__trace_data(c->fd, '>', NULL, buf, n, "send");
}

/* A TLS read or write failed: keep sk_errmsg()'s words (the peer's alert, a bad record), which
 * only the failing call has, for whoever reports the end (a joined pair's on_done). */
static void keep_why(sk_conn *c)
{
    if (!c->dead && !c->why)
        c->why = strdup(sk_errmsg()); /* NULL when out of memory: the code alone then */
}

const char *sk__conn_why(const sk_conn *c)
{
    return c->why;
}

/* One send(2), or one TLS write: the count, -EAGAIN, or a failure. */
static ssize_t send_some(sk_conn *c, const void *buf, size_t len)
{
    if (c->tls) {
        int want = 0;
        ssize_t n = tls_ops(c)->write(c->tls, buf, len, &want);
        c->wr_wants_r = n == -EAGAIN && want == SK__TLS_WANT_READ;
        if (n < 0 && n != -EAGAIN)
            keep_why(c);
        return n;
    }
    ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
    return n < 0 ? (errno == EINTR ? -EAGAIN : -errno) : n;
}

/* Send what the socket takes now: one send(2), as often as the loop says it is writable. */
static void flush(sk_conn *c)
{
    ssize_t n = send_some(c, c->out + c->off, pending(c));
    if (n < 0) {
        if (n != -EAGAIN && n != -EWOULDBLOCK)
            fail_io(c, "send", (int)n);
        return;
    }
    sk__conn_sent(c, (size_t)n);
}

void sk__conn_sent(sk_conn *c, size_t n)
{
    sent(c, c->out + c->off, n);
    c->off += n;
    if (!pending(c)) {
        c->off = c->len = 0;
        if (c->cap > KEEP_OUT || (c->ring && c->cap <= FIRST_OUTBUF)) {
            free(c->out);
            c->out = NULL;
            c->cap = 0;
        }
    }
    if (c->over && pending(c) <= c->w->ev->low) {
        c->over = false;
        if (c->h->on_writable && !c->closing && !c->draining)
            c->h->on_writable(c);
    }
}

static int append(sk_conn *c, const unsigned char *buf, size_t n)
{
    if (c->inflight && c->len + n > c->cap) { /* a send reads the buffer: not moved under it */
        int rc = sk__ring_regrow(c, c->len - c->off + n);
        if (rc < 0)
            return rc;
    }
    if (c->len + n > c->cap && c->off) {
        memmove(c->out, c->out + c->off, pending(c));
        c->len -= c->off;
        c->off = 0;
    }
    if (c->len + n > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : c->ring ? RING_OUTBUF : FIRST_OUTBUF;
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
    /* a datagram's connection struct lives for its on_data only, with the full source address */
    ssize_t n = sendto(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, &c->peer->u.sa, c->peer->len);
    if (n < 0) {
        sk__bump(&c->w->c.errors, 1);
        return sk__fail_errno("reply to a datagram");
    }
    sk__bump(&c->w->c.bytes_out, (uint64_t)n);
    if (sk__trace_on())
        sk__trace_data(c->fd, '>', c->peer, buf, (size_t)n, "sendto");
    return 0;
}

int sk_conn_write(sk_conn *c, const void *buf, size_t len)
{
    if (c->type == SOCK_DGRAM)
        return write_dgram(c, buf, len);
    if (c->dead || c->closing || c->draining || c->shut_req)
        return sk__fail(SK_ECLOSED, "connection write: fd %d is closing", c->fd);
    const unsigned char *p = buf;
    c->busy++;
    int rc = 0;
    /* io_uring: the bytes go in a send with the next submission, not a send(2) of their own;
     * unless they would take the output past high-water at once, where epoll's first send
     * decides (as below) whether the writer is told to wait */
    bool direct = !c->ring || pending(c) + len > c->w->ev->high;
    if (!pending(c) && len && !c->handshaking && direct) {
        ssize_t n = send_some(c, p, len);
        if (n < 0 && n != -EAGAIN && n != -EWOULDBLOCK) {
            rc = sk__fail((int)n, "connection write fd %d", c->fd);
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

void sk_conn_pause(sk_conn *c)
{
    if (c->type == SOCK_DGRAM || c->dead)
        return;
    c->paused++;
    settle(c);
}

void sk_conn_resume(sk_conn *c)
{
    if (c->type == SOCK_DGRAM || c->dead || !c->paused)
        return;
    c->paused--;
    settle(c);
}

void sk_conn_shutdown(sk_conn *c)
{
    if (c->type == SOCK_DGRAM || c->dead)
        return;
    c->shut_req = true;
    settle(c);
}

void sk_conn_reset(sk_conn *c)
{
    if (c->type == SOCK_DGRAM || c->dead)
        return;
    set_abortive(c);
    fail(c, -ECONNRESET);
    settle(c);
}

void sk__conn_settle(sk_conn *c)
{
    settle(c);
}

int sk__conn_watch(sk_conn *c, int events)
{
    if (events == c->events)
        return 0;
    int rc = sk_loop_watch(c->w->loop, c->fd, events, on_io, c);
    if (rc == 0)
        c->events = events;
    return rc;
}

void sk__conn_count(sk_conn *c, uint64_t in, uint64_t out)
{
    sk__bump(&c->w->c.bytes_in, in);
    sk__bump(&c->w->c.bytes_out, out);
    c->last = sk_loop_now(c->w->loop);
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

int sk__conn_peer_set(sk_conn *c, const sk_addr *a)
{
    if (a->len > 0 && a->len <= sizeof c->pa &&
        (a->u.sa.sa_family == AF_INET || a->u.sa.sa_family == AF_INET6)) {
        memcpy(&c->pa, &a->u, a->len);
        c->pa_len = (uint8_t)a->len;
        return 0;
    }
    c->pa.sa.sa_family = a->u.sa.sa_family; /* the family alone, when that is all there is */
    if (a->len == 0)
        return 0;
    sk_addr *full = malloc(sizeof *full); /* a named Unix peer, mostly */
    if (!full)
        return -ENOMEM;
    *full = *a;
    free(c->peer);
    c->peer = full;
    return 0;
}

void sk__conn_peer_get(const sk_conn *c, sk_addr *out)
{
    if (c->peer) {
        *out = *c->peer;
        return;
    }
    memset(out, 0, sizeof *out);
    if (c->peer_lazy) {
        out->len = sizeof out->u;
        if (getpeername(c->fd, &out->u.sa, &out->len) == 0)
            return;
        memset(out, 0, sizeof *out); /* the client is gone: the family alone */
    }
    memcpy(&out->u, &c->pa, c->pa_len ? c->pa_len : sizeof c->pa.sa.sa_family);
    out->len = c->pa_len;
}

const sk_addr *sk_conn_peer(const sk_conn *c)
{
    static const sk_addr unknown; /* only when out of memory */
    if (!c->peer) {
        /* made on the first ask (an idle connection holds the short form only); a lazy one
         * (accepted by the ring without its address, server_ring_accept.c) is looked up now.
         * The struct is the loop's own, written only on its thread. */
        sk_conn *m = (sk_conn *)c;
        sk_addr *full = malloc(sizeof *full);
        if (!full)
            return &unknown;
        sk__conn_peer_get(c, full);
        m->peer = full;
        m->peer_lazy = false;
    }
    return c->peer;
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
    return c->w->ev->srv->o.user;
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

/* TLS: records decrypted into the loop's buffer, each to on_data, until the socket has no more
 * (or the callback stopped reading: back-pressure). A record is at most 16 KiB and the buffer
 * larger, so nothing decrypted is left inside TLS where the loop would not see it. */
static void read_tls(sk_conn *c)
{
    struct sk__worker *w = c->w;
    for (int k = 0; k < 16 && wants_read(c); k++) {
        int want = 0;
        ssize_t n = tls_ops(c)->read(c->tls, w->rbuf, SK__EVENT_RBUF, &want);
        c->rd_wants_w = n == -EAGAIN && want == SK__TLS_WANT_WRITE;
        if (n == -EAGAIN)
            return;
        if (n < 0) {
            keep_why(c);
            fail(c, (int)n); /* SK_ETLSTRUNC: a FIN without close_notify */
            return;
        }
        if (n == 0 && c->h->on_end && !c->discard) { /* close_notify: the end of its data */
            c->eof = true;
            c->h->on_end(c);
            return;
        }
        if (n == 0) { /* the peer's close_notify */
            if (c->discard)
                c->dead = true;
            c->closing = true;
            return;
        }
        c->last = sk_loop_now(w->loop);
        if (!c->discard)
            sk__bump(&w->c.bytes_in, (uint64_t)n);
        if (!c->discard && c->h->on_data)
            c->h->on_data(c, w->rbuf, (size_t)n);
    }
}

static void open_now(sk_conn *c)
{
    c->opened = true;
    if (c->outbound) { /* made by sk_conn_connect: its TLS handshake is done */
        sk__outbound_ready(c);
        return;
    }
    if (!c->dead && c->h->on_open)
        c->h->on_open(c);
    if (c->w->draining)
        c->draining = true;
}

/* A handshake failed or timed out (sk_errmsg() says why): the connection never opens, so it
 * gets no on_close. Its one report: an accepted client's goes to the server's on_error (as in
 * the blocking models), an outbound one's to its on_connect. */
static void handshake_failed(sk_conn *c, int rc)
{
    sk__trace_call(c->fd, "%s", sk_errmsg());
    fail(c, rc);
    if (c->outbound) {
        sk__outbound_note(c, rc, sk_errmsg());
        return;
    }
    sk_server *srv = c->w->ev->srv;
    if (!srv->o.on_error)
        return;
    sk_request req = {.server = srv,
                      .fd = c->fd,
                      .type = SOCK_STREAM,
                      .idle_timeout_ms = srv->o.idle_timeout_ms,
                      .user = srv->o.user};
    sk__conn_peer_get(c, &req.peer);
    srv->o.on_error(&req, rc, srv->o.user);
}

/* One step of a TLS handshake on the loop; when done, the connection opens. */
static void handshake_step(sk_conn *c)
{
    int rc = tls_ops(c)->step(c->tls);
    if (rc < 0) {
        handshake_failed(c, rc);
        return;
    }
    c->tls_want = rc;
    if (rc > 0)
        return;
    c->handshaking = false;
    c->last = sk_loop_now(c->w->loop);
    if (c->hs_timer > 0)
        sk_loop_cancel(c->w->loop, c->hs_timer);
    c->hs_timer = 0;
    open_now(c);
}

static void on_handshake_timeout(sk_loop *l, int64_t timer, void *arg)
{
    (void)l, (void)timer;
    sk_conn *c = arg;
    c->hs_timer = 0;
    if (c->handshaking && !c->dead) {
        char p[SK_ADDRSTRLEN] = "the peer";
        sk_addr peer;
        sk__conn_peer_get(c, &peer);
        if (peer.len)
            sk_addr_format(&peer, p, sizeof p);
        sk__fail_why(-ETIMEDOUT, "the handshake did not finish in time", "TLS handshake with %s",
                     p);
        handshake_failed(c, -ETIMEDOUT);
    }
    settle(c);
}

static void read_some(sk_conn *c)
{
    struct sk__worker *w = c->w;
    if (c->tls) {
        read_tls(c);
        return;
    }
    ssize_t n = recv(c->fd, w->rbuf, SK__EVENT_RBUF, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    sk__conn_input(c, w->rbuf, n < 0 ? -errno : n);
}

void sk__conn_input(sk_conn *c, const unsigned char *buf, ssize_t n)
{
    struct sk__worker *w = c->w;
    if (n > 0) {
        if (!c->discard) /* input after the drain's FIN is thrown away, not served */
            sk__bump(&w->c.bytes_in, (uint64_t)n);
        c->last = sk_loop_now(w->loop);
        if (sk__trace_on())
            sk__trace_data(c->fd, '<', NULL, buf, (size_t)n, "recv");
        if (!c->discard && c->h->on_data)
            c->h->on_data(c, buf, (size_t)n);
    } else if (n == 0) {
        sk__trace_eof(c->fd);
        if (c->h->on_end && !c->discard) {
            c->eof = true; /* the handler says what the end of this direction means */
            c->h->on_end(c);
            return;
        }
        /* the peer is done sending: what we owe it still goes out, then we close */
        if (c->discard)
            c->dead = true;
        c->closing = true;
    } else {
        fail_io(c, "recv", (int)n);
    }
}

static void on_io(sk_loop *l, int fd, int events, void *arg)
{
    (void)l;
    (void)fd;
    sk_conn *c = arg;
    c->busy++;
    if (c->raw_io) {
        c->raw_io(c, events);
        c->busy--;
        settle(c);
        return;
    }
    if (c->handshaking && !c->dead) {
        handshake_step(c);
        events = c->handshaking ? 0 : SK_READABLE | SK_WRITABLE; /* try both once opened */
    }
    /* a TLS write waiting for input is retried when input comes, a read waiting to write
     * (its answer to a key update) when the fd is writable */
    int flush_on = c->wr_wants_r ? SK_READABLE : SK_WRITABLE;
    int read_on = SK_READABLE | (c->rd_wants_w ? SK_WRITABLE : 0);
    if ((events & flush_on) && pending(c) && !c->dead)
        flush(c);
    if ((events & read_on) && wants_read(c)) {
        read_some(c);
        /* a TLS write still waiting for input may have had it read by the read: the rest of a
         * renegotiation it began (an on_data wrote while the handshake was under way), which no
         * later wakeup would bring, so it is tried again now (once: still waiting, it says so) */
        if (c->tls && c->wr_wants_r && pending(c) && !c->dead)
            flush(c);
    }
    /* a write that read records may have left decrypted bytes inside TLS: no wakeup says so */
    if (c->tls && !c->dead && wants_read(c) && !c->handshaking && tls_ops(c)->pending(c->tls))
        read_some(c);
    c->busy--;
    settle(c);
}

static void on_idle(sk_loop *l, int64_t timer, void *arg)
{
    (void)timer;
    sk_conn *c = arg;
    int idle = c->w->ev->srv->o.idle_timeout_ms;
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

void sk__conn_drain(sk_conn *c)
{
    if (c->connecting)
        return; /* it goes on; cut at the deadline if it is still there */
    c->busy++;
    if (c->h->on_drain)
        c->h->on_drain(c);
    else
        c->draining = true;
    c->busy--;
    settle(c);
}

/* TLS: the handshake starts on the loop, bounded by its own timer (besides the idle one). */
int sk__conn_start_tls(sk_conn *c, sk_tls_ctx *ctx, const char *host)
{
    const sk_server *srv = c->w->ev->srv;
    c->tops = sk__tls_ops(ctx);
    int rc = c->tops->start(&c->tls, ctx, c->fd, host);
    if (rc < 0) {
        fail(c, rc);
        return rc;
    }
    c->handshaking = true;
    /* a server waits for the client's hello; a client sends its own first */
    c->tls_want = c->outbound ? SK__TLS_WANT_WRITE : SK__TLS_WANT_READ;
    int ms = srv->o.tls_handshake_timeout_ms > 0 ? srv->o.tls_handshake_timeout_ms
                                                 : SK_TLS_HANDSHAKE_TIMEOUT_DEFAULT_MS;
    c->hs_timer = sk_loop_timer(c->w->loop, ms, 0, on_handshake_timeout, c);
    if (c->hs_timer < 0) {
        rc = (int)c->hs_timer;
        c->hs_timer = 0;
        fail(c, rc);
        return rc;
    }
    return 0;
}

sk_conn *sk__conn_new(struct sk__worker *w, int fd, const sk_addr *peer)
{
    struct sk__event *ev = w->ev;
    sk_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    *c = (sk_conn){.w = w, .fd = fd, .type = SOCK_STREAM, .h = &ev->h};
    if (sk__conn_peer_set(c, peer) < 0) {
        free(c);
        return NULL;
    }
    c->peer_lazy = peer->len == 0 && peer->u.sa.sa_family != AF_UNSPEC && fd >= 0;
    c->last = sk_loop_now(w->loop);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    atomic_fetch_add_explicit(&w->nconns, 1, memory_order_relaxed);
    int idle = ev->srv->o.idle_timeout_ms;
    if (idle > 0) {
        c->idle_timer = sk_loop_timer(w->loop, idle, 0, on_idle, c);
        if (c->idle_timer < 0)
            fail(c, (int)c->idle_timer);
    }
    return c;
}

void sk__conn_adopt(struct sk__worker *w, int fd, const sk_addr *peer)
{
    struct sk__event *ev = w->ev;
    sk_conn *c = sk__conn_new(w, fd, peer);
    if (!c) {
        sk_close(fd);
        sk__bump(&w->c.errors, 1);
        sk__release(ev->srv);
        return;
    }
    bool tcp = peer->u.sa.sa_family == AF_INET || peer->u.sa.sa_family == AF_INET6;
    if (tcp && ev->nodelay_lost) { /* else inherited from the listener (server_event.c) */
        int one = 1; /* replies go out as written: this is a request/response server */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    c->ring = !ev->srv->o.tls && sk__ring_usable(w);
    c->busy++;
    if (ev->srv->o.tls)
        sk__conn_start_tls(c, ev->srv->o.tls, NULL);
    else
        open_now(c);
    c->busy--;
    settle(c);
}

/* One with unsent output is reset (a zero linger): its client must not take the truncated answer
 * for a whole one. */
int sk__conn_cut_all(struct sk__worker *w)
{
    int n = 0;
    for (; w->conns; n++) {
        sk_conn *c = w->conns;
        if (pending(c))
            set_abortive(c);
        fail(c, SK_ECLOSED);
        c->busy = 0;
        destroy(c);
    }
    return n;
}
