/* The event model's listener on an io_uring loop (issue 20, docs/loop.md): a multishot accept
 * (IORING_OP_ACCEPT with IORING_ACCEPT_MULTISHOT) hands each client over as a completion that
 * carries its fd, with no poll, no accept4 and no accept4 that finds nothing more: the kernel
 * accepts as clients come, and the completions go with the loop's one io_uring_enter.
 *
 * Each fd goes through the readiness path's admission (sk__event_client: counted, max_conns and
 * verify, served here or handed off). The address is not asked for (a multishot accept would
 * write every client's into one buffer): sk_conn_peer looks it up when called.
 *
 * A completion without IORING_CQE_F_MORE ends the multishot:
 * - with an fd, or the kernel's -ECANCELED (the thread that submitted it exited: the drain and a
 *   second serve run loops on new threads), or a client that gave up while queued: armed again;
 * - out of fds (EMFILE, ENFILE) or any other failure: the listener goes back to readiness and
 *   accept4 (sk__accept, with the reserve fd that sheds a client) until an accept4 gets a client
 *   again, then to the ring. Arming again at once would spin: the kernel takes the fd number
 *   before it looks for a client, so a new accept fails at once while the process is full;
 * - -EINVAL: a kernel without multishot accept (before 5.19); readiness for good.
 * The drain and the close cancel it and detach: a client accepted meanwhile is closed by the
 * loop (loop_uring.c), when its completion comes or when the loop is freed. */
#include "loop_ops.h"
#include "server_event.h"

#include <errno.h>

static void on_accepted(sk_loop *l, const struct sk__op_done *d, void *arg)
{
    (void)l;
    struct sk__worker *w = arg;
    if (!d->more)
        w->accept_op = 0;
    if (d->res >= 0)
        sk__event_client(w, d->res, NULL);
    if (d->more)
        return;
    int e = d->res < 0 ? -d->res : 0;
    if (e == EINVAL || e == EOPNOTSUPP)
        w->accept_ring = false;
    else if (e && e != ECANCELED && e != EINTR && e != ECONNABORTED && e != EPROTO)
        w->accept_fallback = true;
    sk__event_listen(w);
}

bool sk__ring_accept_start(struct sk__worker *w)
{
    void *st;
    const struct sk__loop_ops *ops = sk__loop_ops(w->loop, &st);
    if (!ops)
        return false;
    int64_t id = ops->accept(st, w->fd, on_accepted, w);
    if (id < 0)
        return false;
    w->accept_op = id;
    return true;
}

void sk__ring_accept_stop(struct sk__worker *w)
{
    void *st;
    const struct sk__loop_ops *ops = sk__loop_ops(w->loop, &st);
    if (ops && w->accept_op)
        ops->cancel(st, w->accept_op, true, NULL);
    w->accept_op = 0;
}
