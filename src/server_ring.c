/* The event model's completion-based I/O on an io_uring loop (issue 20, docs/loop.md): a plain
 * accepted stream connection (no TLS, not spliced by a relay) is never watched for readiness.
 *
 * Input: while the connection reads, a receive into the loop's provided buffers is in flight, one
 * completion each, armed again (SOCKKIT_URING_IO=multishot: multishot; docs/loop.md says why
 * not by default).
 * Each completion goes to on_data and its buffer straight back to the ring, so a connection with
 * nothing arriving holds no buffer. Reading stops (back-pressure, sk_conn_pause, the drain) by
 * cancelling the receive; what completes before the cancel lands is held, buffer and all, and
 * delivered in order before anything newer once the connection reads again (a zero timer: on the
 * loop's next turn, as epoll would deliver it). The end of input or a failure seen meanwhile is
 * held the same way, as epoll would see neither while the fd is not watched.
 *
 * Output: sk_conn_write appends to the output buffer and one IORING_OP_SEND at a time carries
 * out[off, len) in the next submission: no send(2) per reply. The send reads the buffer until its
 * completion, so a write that must move the buffer meanwhile copies it to a new one and leaves
 * the old one to the send (the loop frees it at the send's end). A connection that ends with ops
 * in flight cancels them and detaches: their late completions reach no callback; its fd is
 * closed after the cancel is queued (the ops hold the file until they end), by the ring too:
 * IORING_OP_CLOSE in the same submission as the cancels, not a close(2) of its own. */
#include "loop_ops.h"
#include "server_event.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SEND_MAX (1u << 30) /* the most one send op carries */

static const struct sk__loop_ops *ops_of(const sk_conn *c, void **st)
{
    return sk__loop_ops(c->w->loop, st);
}

bool sk__ring_usable(struct sk__worker *w)
{
    void *st;
    return sk__loop_ops(w->loop, &st) != NULL;
}

static void hold(sk_conn *c, unsigned bid, unsigned len)
{
    if (c->held_head == c->nheld)
        c->held_head = c->nheld = 0;
    /* few: only what completed between a cancel and its end */
    struct sk__held *h = realloc(c->held, (c->nheld + 1) * sizeof *h);
    if (!h) {
        void *st;
        ops_of(c, &st)->buf_return(st, bid);
        sk__conn_fail(c, -ENOMEM);
        return;
    }
    c->held = h;
    c->held[c->nheld++] = (struct sk__held){bid, len};
}

static bool holding(const sk_conn *c)
{
    return c->held_head < c->nheld || c->held_end;
}

/* One recv(2) into the loop's buffer, as epoll's read; true when it filled it. */
static bool read_plain(sk_conn *c)
{
    ssize_t n = recv(c->fd, c->w->rbuf, SK__EVENT_RBUF, MSG_DONTWAIT);
    if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        sk__conn_input(c, c->w->rbuf, n < 0 ? -errno : n);
    return n == SK__EVENT_RBUF;
}

/* After a full buffer: likely more waiting (a bulk stream). recv(2)s into the loop's 64 KiB take
 * it now, not a completion of 4 KiB per wait; while each fills the buffer, up to 4 (256 KiB: the
 * loop's other connections wait no longer than for a few epoll reads). */
#define READ_MORE 4

static void read_more(sk_conn *c)
{
    for (int i = 0; i < READ_MORE && sk__conn_wants_read(c); i++)
        if (!read_plain(c))
            break;
}

/* A long run of a multishot receive drained: armed again, so that an end already queued behind
 * the data is seen. Linux (6.18) ends a multishot pass after 32 buffers taken in a row and goes on
 * from task work; a reset (or a failure) that came before that pass is not reported by it (the
 * queue emptied, it waits for the next wakeup, and the reset's came already), and the connection
 * would never end. A fresh receive checks the socket as it starts, and costs an SQE, not a system
 * call. 16: well under the kernel's 32, so one pass is always caught. */
#define RUN_REARM 16

static void check_run(sk_conn *c, const struct sk__op_done *d, const struct sk__loop_ops *ops,
                      void *st)
{
    if (d->nonempty) {
        if (c->run < UINT8_MAX)
            c->run++;
        return;
    }
    if (c->run >= RUN_REARM && d->more && !c->recv_cancel) {
        ops->cancel(st, c->recv_op, false, NULL); /* sk__ring_settle arms the next at its end */
        c->recv_cancel = true;
    }
    c->run = 0;
}

static void on_recv(sk_loop *l, const struct sk__op_done *d, void *arg)
{
    (void)l;
    sk_conn *c = arg;
    void *st;
    const struct sk__loop_ops *ops = ops_of(c, &st);
    if (!d->more) {
        c->recv_op = 0;
        c->recv_cancel = false;
    }
    check_run(c, d, ops, st);
    bool now = sk__conn_wants_read(c) && !holding(c);
    c->busy++;
    if (d->res > 0 && d->has_buf) {
        if (now) {
            sk__conn_input(c, d->buf, d->res);
            ops->buf_return(st, d->bid);
            if (!d->more && (unsigned)d->res == ops->buf_size)
                read_more(c);
        } else {
            hold(c, d->bid, (unsigned)d->res);
        }
    } else if (d->res == -ENOBUFS) {
        /* every provided buffer was taken when this receive began (more connections had input
         * at once than there are buffers, or stopped ones hold them): a recv(2) into the loop's
         * own buffer, as on epoll, so no connection waits for buffers to come back. The ring
         * grows (up to its most, loop_uring.c), so the next receive finds one; at its most,
         * until its next input the fd is watched for readiness, since a receive armed again at
         * once would fail again at once, a spin while the buffers are held */
        if (ops->buf_grow(st) <= 0)
            c->starved = true;
        if (now)
            read_plain(c);
    } else if (d->res != -ECANCELED && d->res <= 0) {
        if (now)
            sk__conn_input(c, NULL, d->res);
        else if (!c->held_end)
            c->held_end = d->res == 0 ? 1 : d->res;
    }
    c->busy--;
    sk__conn_settle(c);
}

/* Starved (above): input is there; read it as epoll would and go back to the ring's receives. */
static void on_readable(sk_loop *l, int fd, int events, void *arg)
{
    (void)events;
    sk_conn *c = arg;
    sk_loop_unwatch(l, fd);
    c->events = 0;
    c->starved = false;
    c->busy++;
    if (sk__conn_wants_read(c))
        read_plain(c);
    c->busy--;
    sk__conn_settle(c);
}

static void on_sent(sk_loop *l, const struct sk__op_done *d, void *arg)
{
    (void)l;
    sk_conn *c = arg;
    if (d->more) /* a zero-copy send's notification: not asked for */
        return;
    c->send_op = 0;
    c->inflight = 0;
    c->busy++;
    /* ECANCELED: not ours (we cancel only a send we detached) but the kernel's, when the thread
     * that submitted it exits (the drain runs a loop on a thread of its own): sent again */
    if (d->res >= 0)
        sk__conn_sent(c, (size_t)d->res);
    else if (d->res != -EAGAIN && d->res != -EINTR && d->res != -ECANCELED)
        sk__conn_fail(c, d->res);
    c->busy--;
    sk__conn_settle(c);
}

/* What was held while the connection did not read, now that it does. */
static void deliver_held(sk_loop *l, int64_t timer, void *arg)
{
    (void)l, (void)timer;
    sk_conn *c = arg;
    void *st;
    const struct sk__loop_ops *ops = ops_of(c, &st);
    c->ring_timer = 0;
    c->busy++;
    while (c->held_head < c->nheld && sk__conn_wants_read(c)) {
        struct sk__held h = c->held[c->held_head++];
        sk__conn_input(c, ops->buf(st, h.bid), h.len);
        ops->buf_return(st, h.bid);
    }
    if (c->held_head == c->nheld && c->held_end && sk__conn_wants_read(c)) {
        int e = c->held_end;
        c->held_end = 0;
        sk__conn_input(c, NULL, e == 1 ? 0 : e);
    }
    c->busy--;
    sk__conn_settle(c);
}

static void first_recv(sk_loop *l, int64_t timer, void *arg)
{
    (void)l, (void)timer;
    sk_conn *c = arg;
    c->ring_timer = 0;
    c->armed_once = true;
    sk__conn_settle(c);
}

static int start_recv(sk_conn *c, const struct sk__loop_ops *ops, void *st)
{
    if (!c->armed_once) {
        /* at the end of this turn of the loop, not now: until then a relay that joins c
         * (sk_conn_join, right after resuming it) can still take it back to readiness and
         * splice (sk__ring_leave) */
        c->ring_timer = sk_loop_timer(c->w->loop, 0, 0, first_recv, c);
        return c->ring_timer < 0 ? (int)c->ring_timer : 0;
    }
    int64_t id = ops->recv(st, c->fd, sk__loop_multishot(), on_recv, c);
    if (id < 0)
        return (int)id;
    c->recv_op = id;
    return 0;
}

int sk__ring_settle(sk_conn *c)
{
    void *st;
    const struct sk__loop_ops *ops = ops_of(c, &st);
    sk_loop *l = c->w->loop;
    bool rd = sk__conn_wants_read(c);
    if (rd && holding(c) && !c->ring_timer) {
        c->ring_timer = sk_loop_timer(l, 0, 0, deliver_held, c);
        if (c->ring_timer < 0)
            return (int)c->ring_timer;
    }
    int watch = rd && c->starved && !c->recv_op && !holding(c) ? SK_READABLE : 0;
    if (watch != c->events) {
        int rc = watch ? sk_loop_watch(l, c->fd, watch, on_readable, c) : sk_loop_unwatch(l, c->fd);
        if (rc < 0)
            return rc;
        c->events = watch;
    }
    if (rd && !c->starved && !c->recv_op && !holding(c) && !c->ring_timer) {
        int rc = start_recv(c, ops, st);
        if (rc < 0)
            return rc;
    }
    if (!rd && c->recv_op && !c->recv_cancel) {
        ops->cancel(st, c->recv_op, false, NULL);
        c->recv_cancel = true;
    }
    size_t pend = c->len - c->off;
    if (pend && !c->send_op && c->off >= c->cap / 2) { /* nothing reads it now: move it down */
        memmove(c->out, c->out + c->off, pend);
        c->off = 0;
        c->len = pend;
    }
    if (pend && !c->send_op) {
        if (pend > SEND_MAX) /* a send's length is 32 bits (the SQE's len): the rest goes next */
            pend = SEND_MAX;
        int64_t id = ops->send(st, c->fd, c->out + c->off, pend, on_sent, c);
        if (id < 0)
            return (int)id;
        c->send_op = id;
        c->inflight = (uint32_t)pend;
    }
    return 0;
}

void sk__ring_end(sk_conn *c)
{
    void *st;
    const struct sk__loop_ops *ops = ops_of(c, &st);
    if (c->ring_timer > 0)
        sk_loop_cancel(c->w->loop, c->ring_timer);
    c->ring_timer = 0;
    if (c->recv_op)
        ops->cancel(st, c->recv_op, true, NULL);
    if (c->send_op) { /* the send may still read the buffer: it is the send's to free */
        ops->cancel(st, c->send_op, true, c->out);
        c->out = NULL;
    }
    c->recv_op = c->send_op = 0;
    for (; c->held_head < c->nheld; c->held_head++)
        ops->buf_return(st, c->held[c->held_head].bid);
    free(c->held);
    c->held = NULL;
}

void sk__ring_close(sk_loop *l, int fd)
{
    void *st;
    const struct sk__loop_ops *ops = sk__loop_ops(l, &st);
    if (!ops) {
        sk_close(fd);
        return;
    }
    sk__trace_close(fd); /* as sk_close would: the trace's connection ends here */
    ops->close(st, fd);
}

void sk__ring_flush(sk_loop *l)
{
    void *st;
    const struct sk__loop_ops *ops = sk__loop_ops(l, &st);
    if (ops)
        ops->close_flush(st);
}

bool sk__ring_leave(sk_conn *c)
{
    if (!c->ring)
        return true;
    if (c->recv_op || c->send_op || holding(c))
        return false;
    if (c->ring_timer > 0)
        sk_loop_cancel(c->w->loop, c->ring_timer);
    c->ring_timer = 0;
    c->ring = false;
    return true;
}

int sk__ring_regrow(sk_conn *c, size_t need)
{
    void *st;
    const struct sk__loop_ops *ops = ops_of(c, &st);
    /* room for as much again, so the next move is as many bytes later (never under a send
     * for long: settle moves the bytes down between sends) */
    size_t cap = c->cap ? c->cap : 4096;
    while (cap < 2 * need)
        cap *= 2;
    unsigned char *p = malloc(cap);
    if (!p)
        return -ENOMEM;
    memcpy(p, c->out + c->off, c->len - c->off);
    ops->own(st, c->send_op, c->out);
    c->out = p;
    c->len -= c->off;
    c->off = 0;
    c->cap = cap;
    return 0;
}
