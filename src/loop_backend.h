/* The event loop's backends: a small table of functions over private state, as Redis's ae
 * backends, but chosen at run time so the poll backend is built and tested on Linux too. */
#ifndef SOCKKIT_LOOP_BACKEND_H
#define SOCKKIT_LOOP_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Ready fds taken from a backend per wait (the loop's array and epoll's). */
#define SK__LOOP_READY_MAX 256

struct sk_loop;

/* One ready fd, as a backend reports it; gen is what sk__loop_set passed, so the loop can drop
 * events for a watcher that changed since. */
struct sk__ready {
    int fd;
    int events; /* SK_READABLE | SK_WRITABLE; errors and hang-ups count as both */
    uint32_t gen;
};

struct sk__loop_backend {
    const char *name;
    void *(*create)(void); /* NULL with errno set on failure */
    void (*destroy)(void *state);
    /* The fd's events change from old to new (0 = not watched). */
    int (*set)(void *state, int fd, int old_events, int new_events, uint32_t gen);
    /* Wait up to timeout_ms; fill out[] (at most max) and return the count, or -errno. */
    int (*wait)(void *state, int timeout_ms, struct sk__ready *out, int max);
    /* Closing an fd takes it out of the backend by itself (epoll, for an fd not dup'ed): an fd
     * about to be closed needs no set(..., 0) (sk__loop_unwatch_closing). */
    bool close_unwatches; /* io_uring: no, a poll in flight holds the file until removed */
    /* Completion-based operations (io_uring only, else NULL): src/loop_ops.h. */
    const struct sk__loop_ops *ops;
};

struct sk__op_done;
typedef void (*sk__op_fn)(struct sk_loop *l, const struct sk__op_done *d, void *arg);

/* Operations whose completion the backend reports, not readiness. An op is named by an id > 0
 * that carries a generation: a completion for an op that was detached (its owner freed) never
 * reaches a callback. Completions collected by wait run in complete(), before the ready fds. */
struct sk__loop_ops {
    /* A receive on fd into the loop's provided buffers: one completion, or (multishot) one per
     * arrival until it is cancelled or ends. */
    int64_t (*recv)(void *state, int fd, bool multishot, sk__op_fn fn, void *arg);
    /* One send of buf[0, len), which must stay valid until the op's last completion. */
    int64_t (*send)(void *state, int fd, const void *buf, size_t len, sk__op_fn fn, void *arg);
    /* A multishot accept on the listening fd: one completion per client, res the new fd (made
     * SOCK_NONBLOCK | SOCK_CLOEXEC; the callback owns it) or -errno; without more, the multishot
     * has ended and the caller arms another if it still wants clients. An fd that completes for
     * an op that was detached (or is left in the ring when the loop is freed) is closed here. */
    int64_t (*accept)(void *state, int fd, sk__op_fn fn, void *arg);
    /* Cancel op; detach: no callback any more (its buffers go back by themselves); owned (may be
     * NULL) is freed once the op has completed. */
    void (*cancel)(void *state, int64_t op, bool detach, void *owned);
    /* Close fd with the next submission (IORING_OP_CLOSE): fire and forget, no callback; the
     * caller must not use fd again. Its number stays taken until the close reaches the kernel
     * (the loop's next wait, close_flush, or the loop's free, which submits what is queued);
     * with the submission queue full, close(2) at once. A failure is ignored as close(2)'s
     * would be, except that an fd the kernel did not close (a kernel without the op) is closed
     * with close(2) then. Ops in flight on fd hold the file: the socket ends with the last. */
    void (*close)(void *state, int fd);
    /* Submit now, without waiting, what is queued if a close is among it (else nothing): for a
     * loop that stops running, or before an accept4 that needs those fds back. */
    void (*close_flush)(void *state);
    /* Give owned to op: freed at its last completion (a buffer that a send still reads). */
    void (*own)(void *state, int64_t op, void *owned);
    /* A provided buffer taken by a receive's completion goes back to the ring. */
    void (*buf_return)(void *state, unsigned bid);
    const unsigned char *(*buf)(void *state, unsigned bid);
    unsigned buf_size; /* of each provided buffer */
    /* More provided buffers (a receive found none): 1 if the ring grew, 0 if at its most,
     * or -ENOMEM. */
    int (*buf_grow)(void *state);
    /* The ring's buffers now (for tests, on the loop's thread or after it). */
    unsigned (*bufs_total)(void *state);
    /* Provided buffers taken and not given back (any thread may ask: for tests). */
    unsigned (*bufs_out)(void *state);
    /* Run the completions the last wait collected; the count of callbacks. */
    int (*complete)(void *state, struct sk_loop *l);
};

extern const struct sk__loop_backend sk__loop_epoll;
extern const struct sk__loop_backend sk__loop_poll;
/* io_uring (loop_uring.c): create is NULL when built without liburing, and fails (errno set) when
 * the kernel refuses io_uring; sk_loop_new then runs epoll and records why. */
extern const struct sk__loop_backend sk__loop_uring;

#endif
