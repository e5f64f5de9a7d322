/* Two connections joined both ways (sk_conn_join): a relay pair on one loop.
 *
 * Two ways to move the bytes:
 * - copy: each side's on_data writes to the other with sk_conn_write. A write that takes the
 *   other's output past its high-water mark pauses this side (sk_conn_pause); the other's
 *   on_writable (output down to low-water) resumes it. Memory per direction stays under the mark.
 * - zero-copy (raw): with tracing off and both sides stream sockets, the pump watches both fds
 *   itself (sk_conn.raw_io) and moves bulk with splice(2) through a pipe, as HAProxy does (the
 *   payload never enters user space; the pipe, 64 KiB, is the direction's whole buffer), and
 *   small reads with one recv and one send (see below). A source the kernel will not splice from
 *   (EINVAL, ENOSYS) is copied that way instead.
 *
 * Either way a FIN from one side becomes shutdown(SHUT_WR) on the other once what came before it is
 * delivered; each connection ends when both its directions have; a failure of one side (a reset,
 * the idle timeout, the drain's cut) resets the other (SO_LINGER 0), so its peer sees the failure
 * instead of a clean end of a truncated stream. */
#include "server_event.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PIPE_CHUNK (64 * 1024) /* one splice into a pipe: its default capacity */

/* One direction, from conn src to conn dst. */
struct dir {
    int pipe[2];   /* raw mode: [0] read end, [1] write end, while bytes are in it; else -1 */
    size_t inpipe; /* bytes in the pipe */
    unsigned char *spill; /* raw mode: copied bytes the destination did not take yet */
    size_t spill_off, spill_len;
    bool copying;   /* raw mode: small reads, recv/send through the loop's buffer */
    bool no_splice; /* raw mode: splice refused for this source (or no pipe): copy only */
    bool eof;       /* src sent FIN */
    bool fin;       /* shutdown(dst, SHUT_WR) done */
    bool paused;    /* copy mode: src paused because dst's output is over high-water */
};

struct pair {
    sk_conn *c[2];   /* [0] a, [1] b; NULL once gone */
    struct dir d[2]; /* d[0]: a -> b, d[1]: b -> a */
    sk_join_opts o;
    sk_join_stats st;
    uint64_t start;
    bool raw; /* the pump does the I/O (zero-copy mode), not the connections' own */
};

static int side(const struct pair *p, const sk_conn *c)
{
    return p->c[1] == c;
}

static void finish(struct pair *p)
{
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 2; k++)
            if (p->d[i].pipe[k] >= 0)
                close(p->d[i].pipe[k]); /* bytes may be in it: not for the pool */
        free(p->d[i].spill);
    }
    p->st.spliced = p->raw;
    if (p->o.on_done)
        p->o.on_done(&p->st, p->o.arg);
    free(p);
}

static void add_bytes(struct pair *p, int from, uint64_t n)
{
    if (from == 0)
        p->st.a_to_b += n;
    else
        p->st.b_to_a += n;
}

/* ---- copy mode --------------------------------------------------------------------------------
 */

static void pair_data(sk_conn *c, const void *data, size_t len)
{
    struct pair *p = c->data;
    int s = side(p, c);
    sk_conn *to = p->c[!s];
    if (!to) { /* the other side is gone: nothing can take these bytes */
        sk_conn_reset(c);
        return;
    }
    int rc = sk_conn_write(to, data, len);
    if (rc >= 0)
        add_bytes(p, s, len);
    if (rc == 1 && !p->d[s].paused) {
        p->d[s].paused = true;
        sk_conn_pause(c);
    }
}

/* c's output fell to low-water: the side writing to it may read again. */
static void pair_writable(sk_conn *c)
{
    struct pair *p = c->data;
    int s = side(p, c);
    if (p->d[!s].paused && p->c[!s]) {
        p->d[!s].paused = false;
        sk_conn_resume(p->c[!s]);
    }
}

static void pair_end(sk_conn *c)
{
    struct pair *p = c->data;
    int s = side(p, c);
    p->d[s].eof = true;
    if (p->c[!s])
        sk_conn_shutdown(p->c[!s]); /* after the bytes before the FIN */
}

static void pair_close(sk_conn *c, int reason)
{
    struct pair *p = c->data;
    int s = side(p, c);
    p->c[s] = NULL;
    if (reason < 0 && !p->st.reason) {
        p->st.reason = reason;
        const char *why = sk__conn_why(c);
        const char *name = s ? p->o.b_name : p->o.a_name;
        if (why) /* which leg: "target: TLS read fd 7: tlsv13 alert certificate required" */
            snprintf(p->st.why, sizeof p->st.why, "%s: %s", name ? name : s ? "b" : "a", why);
    }
    sk_conn *other = p->c[!s];
    if (!other) {
        p->st.duration_ms = sk_loop_now(c->w->loop) - p->start;
        finish(p);
    } else if (reason < 0) {
        sk_conn_reset(other); /* may end the pair (and free p) before it returns */
    }
}

static void pair_drain(sk_conn *c)
{
    (void)c; /* a pair runs to its end; the drain's deadline cuts what is left */
}

static const sk_event_handlers pair_handlers =
    SK_EVENT_HANDLERS_INIT(.on_data = pair_data, .on_writable = pair_writable,
                           .on_close = pair_close, .on_end = pair_end, .on_drain = pair_drain);

/* ---- raw mode: splice for bulk, one copy for small reads -------------------------------------
 *
 * The pump does both sockets' I/O itself (sk_conn.raw_io). Per direction, the bytes read and not
 * yet written wait in a pipe (after a splice) or a spill buffer (after a short send of copied
 * bytes); while some wait, the source is not read: that is the back-pressure. Reading:
 * - splice(src -> pipe) in bulk: the payload never enters user space;
 * - recv into the loop's buffer and send at once for small reads (SPLICE_AUTO): a 64-byte message
 *   costs two splices and the pipe's page bookkeeping against one recv and one send. A direction
 *   starts copying; a read of at least BULK bytes switches it to splice, a splice of less than
 *   SMALL bytes switches it back (HAProxy's splice-auto makes the same choice).
 * Pipes come from a small pool per loop and go back when empty, so an idle pair holds no pipe
 * (2 fds per pair, not 6; a pipe's kernel memory only while bytes are in flight). A read shorter
 * than asked means the socket is drained for now: the loop's level-triggered watch says when
 * there is more, so no read is made just to hear EAGAIN. */

#define BULK  (16 * 1024) /* a copied read this large: the direction switches to splice */
#define SMALL (4 * 1024)  /* a splice smaller than this: back to copying */

static int pipe_get(struct sk__worker *w, int fds[2])
{
    if (w->npipes > 0) {
        w->npipes--;
        fds[0] = w->pipes[w->npipes][0];
        fds[1] = w->pipes[w->npipes][1];
        return 0;
    }
    return pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0 ? -errno : 0;
}

/* An empty pipe goes back to the pool (or is closed when the pool is full). */
static void pipe_put(struct sk__worker *w, int fds[2])
{
    if (fds[0] < 0)
        return;
    if (w->npipes < SK__PIPE_POOL) {
        w->pipes[w->npipes][0] = fds[0];
        w->pipes[w->npipes][1] = fds[1];
        w->npipes++;
    } else {
        close(fds[0]);
        close(fds[1]);
    }
    fds[0] = fds[1] = -1;
}

void sk__relay_pipes_free(struct sk__worker *w)
{
    while (w->npipes > 0) {
        w->npipes--;
        close(w->pipes[w->npipes][0]);
        close(w->pipes[w->npipes][1]);
    }
}

static size_t waiting(const struct dir *d)
{
    return d->inpipe + (d->spill_len - d->spill_off);
}

/* Write what waits in direction d to dst. Returns 0 (all out), 1 (dst is full) or -errno. */
static int flush_dir(struct pair *p, int i)
{
    struct dir *d = &p->d[i];
    sk_conn *dst = p->c[!i];
    while (d->inpipe) {
        ssize_t n =
            splice(d->pipe[0], NULL, dst->fd, NULL, d->inpipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            d->inpipe -= (size_t)n;
            add_bytes(p, i, (uint64_t)n);
            sk__conn_count(dst, 0, (uint64_t)n);
        } else if (n < 0 && errno == EAGAIN) {
            return 1;
        } else if (n < 0 && errno != EINTR) {
            return -errno;
        }
    }
    pipe_put(dst->w, d->pipe);
    while (d->spill_off < d->spill_len) {
        ssize_t n = send(dst->fd, d->spill + d->spill_off, d->spill_len - d->spill_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            d->spill_off += (size_t)n;
            add_bytes(p, i, (uint64_t)n);
            sk__conn_count(dst, 0, (uint64_t)n);
        } else if (n < 0 && errno == EAGAIN) {
            return 1;
        } else if (n < 0 && errno != EINTR) {
            return -errno;
        }
    }
    free(d->spill);
    d->spill = NULL;
    d->spill_off = d->spill_len = 0;
    return 0;
}

/* One splice from src into a pipe. Returns the bytes (0 at EOF), -EAGAIN, or -errno. */
static ssize_t read_splice(struct pair *p, int i)
{
    struct dir *d = &p->d[i];
    sk_conn *src = p->c[i];
    if (d->pipe[0] < 0) {
        int rc = pipe_get(src->w, d->pipe);
        if (rc < 0) { /* out of fds: copying needs none */
            d->pipe[0] = d->pipe[1] = -1;
            d->no_splice = true;
            return -EAGAIN - 1000; /* "try copying": not a socket error */
        }
    }
    ssize_t n =
        splice(src->fd, NULL, d->pipe[1], NULL, PIPE_CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n < 0 && (errno == EINVAL || errno == ENOSYS)) {
        d->no_splice = true; /* a socket the kernel does not splice from: copy */
        return -EAGAIN - 1000;
    }
    if (n > 0) {
        d->inpipe = (size_t)n;
        if ((size_t)n < SMALL && !p->o.splice_always)
            d->copying = true;
    }
    return n < 0 ? -errno : n;
}

/* One recv into the loop's buffer and a send of it at once; what the send leaves waits in the
 * spill buffer. Returns the bytes read (0 at EOF), -EAGAIN, or -errno (*who: which side). */
static ssize_t read_copy(struct pair *p, int i, int *who)
{
    struct dir *d = &p->d[i];
    sk_conn *src = p->c[i], *dst = p->c[!i];
    unsigned char *buf = src->w->rbuf;
    ssize_t n = recv(src->fd, buf, PIPE_CHUNK, 0);
    if (n <= 0)
        return n < 0 ? -errno : 0;
    sk__conn_count(src, (uint64_t)n, 0);
    ssize_t w = send(dst->fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno != EAGAIN && errno != EINTR) {
        *who = !i;
        return -errno;
    }
    if (w < 0)
        w = 0;
    add_bytes(p, i, (uint64_t)w);
    sk__conn_count(dst, 0, (uint64_t)w);
    if (w < n) {
        if (!(d->spill = malloc((size_t)(n - w)))) {
            *who = i;
            return -ENOMEM;
        }
        memcpy(d->spill, buf + w, (size_t)(n - w));
        d->spill_len = (size_t)(n - w);
    }
    if (n >= BULK && !d->no_splice && !p->o.no_splice)
        d->copying = false;
    return n;
}

/* Move what can move in direction i; returns 0, or a negative code that ends the pair (*who:
 * the side whose socket failed). */
static int pump_dir(struct pair *p, int i, int *who)
{
    struct dir *d = &p->d[i];
    for (int round = 0; round < 16; round++) { /* fair to the loop's other connections */
        int rc = flush_dir(p, i);
        if (rc < 0) {
            *who = !i;
            return rc;
        }
        if (rc == 1 || d->eof)
            break;
        *who = i;
        ssize_t n = d->copying || d->no_splice ? read_copy(p, i, who) : read_splice(p, i);
        if (n == -EAGAIN - 1000) /* splice refused: copy from now on */
            continue;
        if (n == -EAGAIN || n == -EINTR)
            break;
        if (n < 0)
            return (int)n;
        if (n == 0)
            d->eof = true;
        else if (n >= PIPE_CHUNK)
            continue; /* a full read: there may be more */
        /* drained for now: deliver what was read, then wait for the loop */
        rc = flush_dir(p, i);
        if (rc < 0) {
            *who = !i;
            return rc;
        }
        break;
    }
    if (!waiting(d))
        pipe_put(p->c[i]->w, d->pipe);
    if (d->eof && !waiting(d) && !d->fin) {
        /* The other direction over too: the pair closes both sockets now, and the close sends
         * this FIN (dst's input was read to its end); one shutdown per pair, not two. */
        if (!p->d[!i].fin)
            sk_shutdown(p->c[!i]->fd, SHUT_WR);
        d->fin = true;
    }
    return 0;
}

/* Watch each side for what its directions need: reading while nothing of it waits, writing while
 * something for it waits. */
static void rewatch(struct pair *p)
{
    for (int k = 0; k < 2; k++) {
        struct dir *in = &p->d[k], *out = &p->d[!k];
        int ev = (!in->eof && !waiting(in) ? SK_READABLE : 0) | (waiting(out) ? SK_WRITABLE : 0);
        if (p->c[k]->dead)
            continue;
        if (sk__conn_watch(p->c[k], ev) < 0)
            sk__conn_fail(p->c[k], -ENOMEM);
    }
}

/* Pump the directions in mask (bit i: direction i). */
static void pump(struct pair *p, int mask)
{
    sk_conn *c0 = p->c[0], *c1 = p->c[1];
    c0->busy++;
    c1->busy++;
    for (int i = 0; i < 2; i++) {
        if (!(mask & (1 << i)))
            continue;
        int who = i;
        int rc = pump_dir(p, i, &who);
        if (rc < 0) {
            sk__conn_fail(p->c[who], rc); /* its on_close resets the other */
            break;
        }
    }
    if (p->d[0].fin && p->d[1].fin) /* both directions done */
        c0->closing = c1->closing = true;
    else
        rewatch(p);
    /* c0 may go first; its on_close may reset c1, which stays held until c0 is settled, so that
     * c1 (and the pair) outlive the settling of c0. */
    c0->busy--;
    sk__conn_settle(c0);
    c1->busy--;
    sk__conn_settle(c1);
}

static void raw_io(sk_conn *c, int events)
{
    struct pair *p = c->data;
    if (!p->c[0] || !p->c[1])
        return;
    int s = side(p, c);
    /* readable: c's bytes to the other (direction s); writable: what waits for c (!s) */
    int mask = (events & SK_READABLE ? 1 << s : 0) | (events & SK_WRITABLE ? 1 << !s : 0);
    pump(p, mask ? mask : 3);
}

/* Both are SOCK_STREAM already (sk_conn_join checks c->type): TCP or Unix stream, which the
 * kernel splices; a refusal is handled per direction anyway. */
static bool raw_capable(sk_conn *c)
{
    /* bytes queued before the join keep their order only in copy mode; a connection on io_uring's
     * completions (server_ring.c) may hold received bytes and have a send in flight */
    return c->len == c->off && sk__ring_leave(c);
}

static bool try_raw(struct pair *p)
{
    /* TLS on either side: its plaintext exists only in user space, so every byte of the pair
     * passes through it (both directions have a TLS end) */
    if (p->o.no_splice || sk__trace_on() || p->c[0]->tls || p->c[1]->tls || !raw_capable(p->c[0]) ||
        !raw_capable(p->c[1]) || p->c[0]->paused || p->c[1]->paused || p->c[0]->eof || p->c[1]->eof)
        return false;
    for (int i = 0; i < 2; i++) {
        p->d[i].copying = !p->o.splice_always;
        p->c[i]->raw_io = raw_io;
        p->c[i]->events = -1;
    }
    p->raw = true;
    return true;
}

/* ---- joining ----------------------------------------------------------------------------------
 */

static void name_legs(const struct pair *p)
{
    if (!sk__trace_on())
        return;
    const char *an = p->o.a_name ? p->o.a_name : "a", *bn = p->o.b_name ? p->o.b_name : "b";
    char in[24], out[24];
    snprintf(in, sizeof in, "%s->relay", an);
    snprintf(out, sizeof out, "relay->%s", an);
    sk__trace_set_leg(p->c[0]->fd, in, out);
    snprintf(in, sizeof in, "%s->relay", bn);
    snprintf(out, sizeof out, "relay->%s", bn);
    sk__trace_set_leg(p->c[1]->fd, in, out);
}

int sk_conn_join(sk_conn *a, sk_conn *b, const sk_join_opts *opts)
{
    sk_join_opts o;
    int rc = sk__opts_load(&o, sizeof o, opts, "conn join: opts");
    if (rc < 0)
        return rc;
    if (!a || !b || a == b || a->type != SOCK_STREAM || b->type != SOCK_STREAM || a->w != b->w ||
        a->joined || b->joined || a->dead || b->dead || a->connecting || b->connecting)
        return sk__fail(SK_EARG, "conn join: two live stream connections of one loop, "
                                 "neither joined yet");
    struct pair *p = calloc(1, sizeof *p);
    if (!p)
        return sk__fail(-ENOMEM, "conn join");
    *p = (struct pair){.c = {a, b}, .o = o, .start = sk_loop_now(a->w->loop)};
    p->st.size = sizeof p->st;
    for (int i = 0; i < 2; i++)
        p->d[i].pipe[0] = p->d[i].pipe[1] = -1;
    for (int i = 0; i < 2; i++) {
        p->c[i]->h = &pair_handlers;
        p->c[i]->data = p;
        p->c[i]->joined = true;
        /* an outbound connection's connect state (its endpoint, handlers, message: ~850 bytes)
         * is not needed once the pair's handlers take over: a third of an idle pair's memory */
        sk__outbound_free(p->c[i]);
    }
    name_legs(p);
    if (try_raw(p)) {
        pump(p, 3); /* bytes may be waiting already; this also sets the watches */
    } else {
        for (int i = 0; i < 2; i++)
            sk__conn_settle(p->c[i]);
    }
    return 0;
}
