/* The sockkit command: shared declarations. Each subcommand lives in its own file as
 * `int cmd_NAME(int argc, char **argv)` and is listed in main.c's table.
 *
 * Exit status (documented in docs/sockkit.1): 0 success, 1 network or runtime failure, 2 usage
 * error. */
#ifndef SOCKKIT_CLI_H
#define SOCKKIT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <stdio.h>
#include <stdnoreturn.h>

#include "sockkit.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* Subcommands (one file each). */
int cmd_demo(int argc, char **argv);
int cmd_connect(int argc, char **argv);
int cmd_listen(int argc, char **argv);
int cmd_proto(int argc, char **argv);
int cmd_resolve(int argc, char **argv);
int cmd_ifaces(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_relay(int argc, char **argv);
int cmd_mcast(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int bench_udp(int argc, char **argv); /* bench_udp.c: `bench udp` */

/* util.c. Every message names the command ("sockkit connect: ...") and is one line on stderr:
 * newlines, control characters, invalid UTF-8 and invisible code points in it (from arguments or
 * addresses) are escaped (\n, \x01, \u202e; a backslash as \\), and the middle of a message
 * longer than 3000 bytes is left out. */
extern const char *cli_prog; /* "sockkit connect" etc., for messages */
/* Print a message and go on. */
void cli_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print a message and exit with status. */
noreturn void cli_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print a message and exit with the status the one rule gives a library code (cli_exit_status
 * in opts.h: 2 bad input, 1 runtime). */
noreturn void cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Usage error: one line naming what was wrong, then exit 2. */
noreturn void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The n bytes at in as messages show them, into out (NUL-terminated, cut to cap). Returns the
 * length the whole escaped text needs. */
size_t cli_escape(const char *in, size_t n, char *out, size_t cap);
/* Parse a whole decimal integer in [min, max]; on failure a usage error naming `what`. */
long cli_parse_long(const char *text, long min, long max, const char *what);
/* --backend epoll|poll|io_uring (serve, relay): the event loops' backend; a usage error otherwise.
 */
sk_loop_backend cli_parse_backend(const char *text);
#define CLI_BACKEND_HELP                                                                           \
    "event loops' backend: epoll (default), poll or io_uring (epoll when the kernel refuses "      \
    "io_uring; -v says which runs)"
/* -v: which backend the server's loops run, and why not the one asked for ("backend io_uring",
 * "backend epoll (io_uring refused: Operation not permitted)"). Nothing for other models. */
void cli_say_backend(const sk_server *srv);
/* Parse seconds (decimal fraction allowed, >= 0) into milliseconds; usage error naming `what`. */
int cli_parse_seconds_ms(const char *text, const char *what);
/* The getopt error cases: c == ':' (a missing value) or anything else (an unknown option, or a
 * value given to one that takes none). Prints one line and exits 2. */
noreturn void cli_bad_option(int c, char **argv);
/* Monotonic seconds, for durations and rates. */
double cli_now_s(void);
/* --trace[=VALUE] (VALUE NULL: data; only calls and data are valid; returns the level) and
 * --trace-file PATH, for getopt_long users; they combine in either order. */
int cli_trace_level(const char *value);
void cli_trace_file(const char *path);
/* A file named on the command line (what: its option, or NULL for an operand), opened with flags
 * (O_CLOEXEC added) and mode. One that cannot be opened or made is bad input, one line and exit 2
 * (the one place that says so); read-only, a directory is refused too. With O_NONBLOCK and
 * O_WRONLY, a FIFO nobody reads yet returns -1 (no error: nothing is waited for). */
int cli_open_file(const char *what, const char *path, int flags, mode_t mode);
/* --trace-format text|json; without --trace it turns the trace on (data level, or the one
 * SOCKKIT_TRACE chose), as --trace-file does. */
void cli_trace_format(const char *value);
/* --pcap PATH: the file is made now (before anything runs: one that cannot be made is a usage
 * error, exit 2); if writing it fails later (a full disk) the traffic goes on and one warning
 * line says so when the program exits. */
void cli_pcap_file(const char *path);

/* Ctrl-C and SIGTERM: fn(arg) runs in the signal handler (so it must be async-signal-safe, as
 * sk_server_shutdown_request is; fn may be NULL), and the signal is remembered. The one place
 * that keeps a handler's state, so that no command needs a file-scope variable for it. */
void cli_catch_stop(void (*fn)(void *arg), void *arg);
/* The signal that asked to stop (SIGINT or SIGTERM), 0 if none came. */
int cli_stop_signal(void);
/* Before a summary printed on out after Ctrl-C: the terminal echoed "^C" where the cursor was,
 * so start on a new line (only when out is a terminal). */
void cli_after_interrupt(FILE *out);
/* Remove the file at path when the program exits, or on SIGINT, SIGTERM or SIGHUP (not after
 * SIGKILL), if it is ours: it does not exist yet, so the bind that comes makes it. Returns false
 * (and does nothing) when the file exists already. cli_keep_at_exit() forgets it again. */
bool cli_remove_at_exit(const char *path);
void cli_keep_at_exit(void);

/* msg.c: messages that say what to do next. */
/* "packet" or "packets": n == 1 takes the singular. */
const char *cli_plural(unsigned long long n, const char *one, const char *many);
/* A rate is printed only over an interval long enough to mean one: at least
 * CLI_RATE_MIN_SECONDS. Returns false (and sets *rate to 0) over a shorter one. */
#define CLI_RATE_MIN_SECONDS 0.1
bool cli_rate(double count, double seconds, double *rate);

/* What a command was doing when the library failed, for the hint that follows its message. */
struct cli_where {
    const char *endpoint; /* as given to the library ("127.0.0.1:80", "unix:/p") */
    int family;           /* -4 / -6 asked for: AF_INET, AF_INET6, or 0 */
    int type;             /* SOCK_STREAM (0) or SOCK_DGRAM */
    bool bind;            /* binding (listen, serve) rather than connecting */
    bool numeric;         /* -n: no DNS */
    bool has_source;      /* connect -s or -p: a local address was asked for */
    const char *keep;     /* an option that lets one running server do the job (listen: "-k"),
                           * named when the port's holder is sockkit itself; may be NULL */
};
/* The one-line message for a library failure `code` (sk_errmsg() is its base) at w: the
 * library's message with the next step after it where one is known, or a clearer sentence in
 * its place. Returns the code whose exit status applies (a link-local address without its
 * interface fails with EINVAL from the kernel, but is bad input: SK_EIFACE). */
int cli_explain(int code, const struct cli_where *w, char *out, size_t cap);
/* cli_explain, printed; then exit with the one rule's status. */
noreturn void cli_fail_at(int code, const struct cli_where *w);
/* Which process holds a local port (type SOCK_STREAM: a listening or bound TCP socket;
 * SOCK_DGRAM: a UDP one) or a Unix socket name ("/path" or "@name"), from /proc/net and
 * /proc/PID/fd: "pid 1234 (python3)" into out. Returns 1 found, 0 a socket holds it but its
 * process is not visible (another user's), -1 no socket found. */
int cli_port_owner(int port, int type, char *out, size_t cap);
int cli_unix_owner(const char *name, char *out, size_t cap);
/* Check endpoint text before anything is opened: a missing port, a syntax error, exit 2 with one
 * line naming it. Flags: CLI_EP_PASSIVE, a host may be left out (":7000"); CLI_EP_HOST_PORT, the
 * command also takes HOST PORT as two operands (connect), which the message offers; CLI_EP_GROUP, a
 * multicast group's GROUP:PORT (mcast send and recv). Without CLI_EP_PASSIVE, port 0 is refused (a
 * destination's port). Fills ep: the command's one parse of the endpoint, which it hands on to the
 * library's *_endpoint functions. */
enum { CLI_EP_PASSIVE = 1, CLI_EP_HOST_PORT = 2, CLI_EP_GROUP = 4 };
void cli_check_endpoint(const char *text, unsigned flags, sk_endpoint *ep);

#endif
