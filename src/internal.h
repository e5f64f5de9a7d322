/* Internal declarations shared by the library's source files (sk__ prefix). Not installed. */
#ifndef SOCKKIT_INTERNAL_H
#define SOCKKIT_INTERNAL_H

#include "sockkit.h"

#include <stdint.h>

/* err.c: record "context: message" as this thread's sk_errmsg() and return code. */
int sk__fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same with code = -errno. */
int sk__fail_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* sock.c: sk_socket with the role the trace should show from the first line on. */
int sk__socket(int family, int type, int proto, sk_role role);

/* wait.c: monotonic deadlines. A deadline of -1 means none. */
int64_t sk__now_ms(void);
int64_t sk__now_us(void);
int64_t sk__deadline(int timeout_ms);
/* Milliseconds left until the deadline for poll(): -1 (none), 0 (expired) or positive. */
int sk__remaining(int64_t deadline);
/* poll one fd until ready or the deadline; EINTR retried. revents > 0, -ETIMEDOUT, or -errno. */
int sk__wait_deadline(int fd, short events, int64_t deadline);

/* trace.c: hooks the library calls for each operation. Each returns at once when tracing is off
 * (callers may also test sk_trace_level() first to skip building arguments).
 * sk__trace_socket registers a new fd (family/type/proto as created). */
void sk__trace_socket(int fd, int family, int type, int proto, sk_role role);
void sk__trace_role(int fd, sk_role role);
void sk__trace_call(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* dir '>' sent, '<' received; peer may be NULL (connected socket: looked up by the tracer). */
void sk__trace_data(int fd, char dir, const sk_addr *peer, const void *data, size_t len);
void sk__trace_close(int fd);

/* server_event.c: the event model behind sk_server (server.c keeps the public functions). */
struct sk__event;
int sk__event_open(struct sk__event **out, sk_server *srv, const sk_server_opts *opts);
int sk__event_fd(const struct sk__event *ev);
/* Run the loops until *stop (set with a byte written to wake_fd) or an error. */
int sk__event_serve(struct sk__event *ev, int wake_fd, _Atomic _Bool *stop, int interval_ms);
int sk__event_drain(struct sk__event *ev, int deadline_ms);
void sk__event_close(struct sk__event *ev);
void sk__event_stats(const struct sk__event *ev, sk_server_stats *out);
int sk__event_loops(const struct sk__event *ev);
/* The cores this process may run on (its CPU affinity), and the loops the event model runs on
 * that many cores when opts.workers is 0. */
int sk__usable_cores(void);
int sk__default_loops(int cores);

#endif
