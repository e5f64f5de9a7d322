/* Two connections joined both ways (sk_conn_join): a relay pair on one loop.
 *
 * Two ways to move the bytes:
 * - copy: each side's on_data writes to the other with sk_conn_write. A write that takes the
 *   other's output past its high-water mark pauses this side (sk_conn_pause); the other's
 *   on_writable (output down to low-water) resumes it. Memory per direction stays under the mark.
 * - splice: with tracing off and both sides sockets the kernel splices (TCP, Unix stream), each
 *   direction goes source -> pipe -> destination with splice(2), as HAProxy does: the payload never
 *   enters user space, and the pipe (64 KiB) is the direction's whole buffer: a full pipe is a
 *   source not read. The pump watches both fds itself (sk_conn.raw_io). If the first splice is
 *   refused (EINVAL, ENOSYS: a socket type without splice_read) the pair falls back to copying;
 *   no byte has moved by then.
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

/* One direction, from conn src to conn dst (splice mode). */
struct dir {
    int pipe[2];   /* [0] read end, [1] write end; -1 when not spliced */
    size_t inpipe; /* bytes in the pipe */
    bool eof;      /* src sent FIN */
    bool fin;      /* shutdown(dst, SHUT_WR) done */
    bool paused;   /* copy mode: src paused because dst's output is over high-water */
};

struct pair {
    sk_conn *c[2];   /* [0] a, [1] b; NULL once gone */
    struct dir d[2]; /* d[0]: a -> b, d[1]: b -> a */
    sk_join_opts o;
    sk_join_stats st;
    uint64_t start;
    bool spliced;
};

static int side(const struct pair *p, const sk_conn *c)
{
    return p->c[1] == c;
}

static void finish(struct pair *p)
{
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 2; k++)
            if (p->d[i].pipe[k] >= 0)
                close(p->d[i].pipe[k]);
    p->st.spliced = p->spliced;
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
    if (reason < 0 && !p->st.reason)
        p->st.reason = reason;
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

/* ---- splice mode ------------------------------------------------------------------------------
 */

static void pump(struct pair *p);

static void raw_io(sk_conn *c, int events)
{
    (void)events; /* the pump tries each direction; EAGAIN says what is not ready */
    struct pair *p = c->data;
    if (p->c[0] && p->c[1])
        pump(p);
}

/* Give up splicing (refused before any byte moved): the connections' own I/O takes over. */
static void unsplice(struct pair *p)
{
    p->spliced = false;
    for (int i = 0; i < 2; i++) {
        p->c[i]->raw_io = NULL;
        p->c[i]->events = -1;
    }
}

/* Move what can move in direction i; returns 0, or a negative code that ends the pair (*who:
 * the side whose socket failed). */
static int pump_dir(struct pair *p, int i, int *who)
{
    struct dir *d = &p->d[i];
    sk_conn *src = p->c[i], *dst = p->c[!i];
    for (int round = 0; round < 16; round++) { /* fair to the loop's other connections */
        bool moved = false;
        if (!d->eof && d->inpipe < PIPE_CHUNK) {
            ssize_t n = splice(src->fd, NULL, d->pipe[1], NULL, PIPE_CHUNK - d->inpipe,
                               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n > 0) {
                d->inpipe += (size_t)n;
                sk__conn_count(src, (uint64_t)n, 0);
                moved = true;
            } else if (n == 0) {
                d->eof = true;
            } else if (errno != EAGAIN && errno != EINTR) {
                *who = i;
                return -errno;
            }
        }
        if (d->inpipe) {
            ssize_t n = splice(d->pipe[0], NULL, dst->fd, NULL, d->inpipe,
                               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n > 0) {
                d->inpipe -= (size_t)n;
                add_bytes(p, i, (uint64_t)n);
                sk__conn_count(dst, 0, (uint64_t)n);
                moved = true;
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                *who = !i;
                return -errno;
            }
        }
        if (!moved)
            break;
    }
    if (d->eof && !d->inpipe && !d->fin) {
        sk_shutdown(dst->fd, SHUT_WR);
        d->fin = true;
    }
    return 0;
}

static void pump(struct pair *p)
{
    sk_conn *c0 = p->c[0], *c1 = p->c[1];
    c0->busy++;
    c1->busy++;
    for (int i = 0; i < 2; i++) {
        int who = i;
        int rc = pump_dir(p, i, &who);
        if ((rc == -EINVAL || rc == -ENOSYS) && p->st.a_to_b + p->st.b_to_a == 0 &&
            !p->d[0].inpipe && !p->d[1].inpipe) {
            unsplice(p);
            break;
        }
        if (rc < 0) {
            sk__conn_fail(p->c[who], rc); /* its on_close resets the other */
            break;
        }
    }
    if (p->spliced) {
        if (p->d[0].fin && p->d[1].fin) { /* both directions done */
            c0->closing = c1->closing = true;
        } else {
            for (int k = 0; k < 2; k++) {
                struct dir *in = &p->d[k], *out = &p->d[!k];
                int ev = (!in->eof && in->inpipe < PIPE_CHUNK ? SK_READABLE : 0) |
                         (out->inpipe ? SK_WRITABLE : 0);
                if (p->c[k]->dead)
                    continue;
                if (sk__conn_watch(p->c[k], ev) < 0)
                    sk__conn_fail(p->c[k], -ENOMEM);
            }
        }
    }
    /* c0 may go first; its on_close may reset c1, which stays held until c0 is settled, so that
     * c1 (and the pair) outlive the settling of c0. */
    c0->busy--;
    sk__conn_settle(c0);
    c1->busy--;
    sk__conn_settle(c1);
}

static bool spliceable(const sk_conn *c)
{
    int type = 0;
    socklen_t len = sizeof type;
    return getsockopt(c->fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM &&
           c->len == c->off; /* bytes queued before the join keep their order only in copy mode */
}

static bool try_splice(struct pair *p)
{
    /* TLS on either side: its plaintext exists only in user space, so every byte of the pair
     * passes through it (both directions have a TLS end) */
    if (p->o.no_splice || sk__trace_on() || p->c[0]->tls || p->c[1]->tls || !spliceable(p->c[0]) ||
        !spliceable(p->c[1]) || p->c[0]->paused || p->c[1]->paused || p->c[0]->eof || p->c[1]->eof)
        return false;
    for (int i = 0; i < 2; i++)
        if (pipe2(p->d[i].pipe, O_NONBLOCK | O_CLOEXEC) < 0)
            return false; /* out of fds: copying needs none (the pipes are closed at the end) */
    for (int i = 0; i < 2; i++) {
        p->c[i]->raw_io = raw_io;
        p->c[i]->events = -1;
    }
    p->spliced = true;
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
    }
    name_legs(p);
    if (try_splice(p)) {
        pump(p); /* bytes may be waiting already; this also sets the watches */
    } else {
        for (int i = 0; i < 2; i++)
            sk__conn_settle(p->c[i]);
    }
    return 0;
}
