/* The loop's completion-based operations, for the event server (server_conn.c): io_uring only
 * (sk__loop_ops returns NULL on epoll and poll, and when turned off: docs/loop.md). */
#ifndef SOCKKIT_LOOP_OPS_H
#define SOCKKIT_LOOP_OPS_H

#include "loop_backend.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One completion of an op: res as the kernel gave it (bytes, 0 = end of input, an accepted fd,
 * -errno); more:
 * a multishot op goes on (else this is its last completion, and its id is free); buf: the
 * provided buffer it filled (res > 0), to give back with sk__loop_buf_return after use. */
struct sk__op_done {
    int64_t op;
    int res;
    bool more;
    bool has_buf;
    bool nonempty; /* a receive: the socket had more input queued (IORING_CQE_F_SOCK_NONEMPTY) */
    unsigned bid;
    const unsigned char *buf;
};

/* The loop's completion-based ops and the backend's state for them, or NULL. */
const struct sk__loop_ops *sk__loop_ops(struct sk_loop *l, void **state);
/* SOCKKIT_URING_IO=multishot: receives are multishot (else one completion each, re-armed). */
bool sk__loop_multishot(void);
/* The provided buffers of loop l that completions took and nobody gave back yet (0 without). */
unsigned sk__loop_bufs_out(struct sk_loop *l);
/* The provided buffers loop l has made (0 without): 256 at first, more as receives need them. */
unsigned sk__loop_bufs_total(struct sk_loop *l);

#endif
