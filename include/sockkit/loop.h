/* sockkit — event loop: fd watchers, one-shot and repeating timers, posts from other threads,
 * signals delivered into the loop, run / run_once / stop.
 *
 * One loop belongs to one thread, which calls every function except sk_loop_post and
 * sk_loop_stop (those two are safe from any thread). Callbacks run on the loop's thread; inside
 * them any loop function may be called, including unwatching or closing other fds: an event
 * already collected for an fd that was unwatched, or unwatched and watched again, is not
 * delivered. Backends: epoll (the default), poll(2) (built and tested too; it replaces only
 * epoll: the loop needs Linux's eventfd for posts and signalfd for signals either way) and
 * io_uring (readiness through io_uring polls, when built with liburing and the kernel allows it;
 * otherwise the loop runs epoll and sk_loop_backend_why says why);
 * SOCKKIT_LOOP_BACKEND=epoll|poll|io_uring chooses for SK_LOOP_DEFAULT, read once per process. */
#ifndef SOCKKIT_LOOP_H
#define SOCKKIT_LOOP_H

#include "sock.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_loop sk_loop;

/* Which backend waits for the fds. */
typedef enum sk_loop_backend {
    SK_LOOP_DEFAULT = 0, /* epoll, or what SOCKKIT_LOOP_BACKEND says (read once per process) */
    SK_LOOP_EPOLL,
    SK_LOOP_POLL,
    SK_LOOP_URING, /* io_uring; epoll when not built in or refused (sk_loop_backend_why) */
} sk_loop_backend;

/* Watchers: events is SK_READABLE | SK_WRITABLE (sk_io_events, sock.h); errors and hang-ups are
 * reported as both. Timers: a timer's id is > 0 (an int64_t, as sk_loop_timer returns it). */
typedef void (*sk_io_fn)(sk_loop *loop, int fd, int events, void *arg);
typedef void (*sk_timer_fn)(sk_loop *loop, int64_t timer, void *arg);
typedef void (*sk_post_fn)(sk_loop *loop, void *arg);
typedef void (*sk_signal_fn)(sk_loop *loop, int signo, void *arg);

int sk_loop_new(sk_loop **out, sk_loop_backend backend);
void sk_loop_free(sk_loop *loop);
const char *sk_loop_backend_name(const sk_loop *loop);
/* NULL when the loop runs the backend it was asked for; otherwise why not, e.g.
 * "io_uring refused: Operation not permitted" (a sysctl, seccomp or a sandbox said no) or
 * "io_uring not built in: no liburing at build time". Valid while the loop is. */
const char *sk_loop_backend_why(const sk_loop *loop);

/* Watch fd for events (SK_READABLE | SK_WRITABLE); calling it again changes the events or the
 * callback. events 0 keeps the watcher but waits for nothing. */
int sk_loop_watch(sk_loop *loop, int fd, int events, sk_io_fn fn, void *arg);
int sk_loop_unwatch(sk_loop *loop, int fd);

/* A timer after after_ms, then every repeat_ms if > 0. Returns its id (> 0) or a negative code.
 * Timers due at the same time fire in the order they were added. */
int64_t sk_loop_timer(sk_loop *loop, int after_ms, int repeat_ms, sk_timer_fn fn, void *arg);
/* Cancel a timer (also from its own callback). SK_EARG if the id is not pending. */
int sk_loop_cancel(sk_loop *loop, int64_t timer);

/* Run fn(loop, arg) on the loop's thread, soon. Any thread. Posts run in the order made. */
int sk_loop_post(sk_loop *loop, sk_post_fn fn, void *arg);

/* Deliver signo (1 .. NSIG - 1) into the loop (signalfd). The signal is blocked in the calling
 * thread: block it in every thread (create the loop before starting threads) so the loop gets it.
 */
int sk_loop_signal(sk_loop *loop, int signo, sk_signal_fn fn, void *arg);

/* Run until sk_loop_stop, or until nothing is left to wait for (no watcher with events, no timer,
 * no signal), as libuv does. Returns 0, or a negative code. */
int sk_loop_run(sk_loop *loop);
/* Wait at most timeout_ms (-1: until something happens), dispatch what is ready. Returns how many
 * callbacks ran, or a negative code. */
int sk_loop_run_once(sk_loop *loop, int timeout_ms);
/* Make sk_loop_run return after the current callbacks. Any thread. */
void sk_loop_stop(sk_loop *loop);

/* The loop's time in ms (monotonic), updated once per iteration. */
uint64_t sk_loop_now(const sk_loop *loop);

#ifdef __cplusplus
}
#endif
#endif
