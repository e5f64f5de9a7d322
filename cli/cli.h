/* The sockkit command: shared declarations. Each subcommand lives in its own file as
 * `int cmd_NAME(int argc, char **argv)` and is listed in main.c's table.
 *
 * Exit status (documented in docs/sockkit.1): 0 success, 1 network or runtime failure, 2 usage
 * error. */
#ifndef SOCKKIT_CLI_H
#define SOCKKIT_CLI_H

#include <stdbool.h>
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
/* Usage error: one line naming what was wrong, then exit 2. */
noreturn void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The n bytes at in as messages show them, into out (NUL-terminated, cut to cap). Returns the
 * length the whole escaped text needs. */
size_t cli_escape(const char *in, size_t n, char *out, size_t cap);
/* Parse a whole decimal integer in [min, max]; on failure a usage error naming `what`. */
long cli_parse_long(const char *text, long min, long max, const char *what);
/* Parse seconds (decimal fraction allowed, >= 0) into milliseconds; usage error naming `what`. */
int cli_parse_seconds_ms(const char *text, const char *what);
/* The getopt error cases: c == ':' (a missing value) or anything else (an unknown option, or a
 * value given to one that takes none). Prints one line and exits 2. */
noreturn void cli_bad_option(int c, char **argv);
/* Monotonic seconds, for durations and rates. */
double cli_now_s(void);
/* --trace[=VALUE] (VALUE NULL: data; only calls and data are valid) and --trace-file PATH, for
 * getopt_long users; they combine in either order. */
void cli_trace_level(const char *value);
void cli_trace_file(const char *path);
/* The same for hand-parsed argv: returns true if argv[*i] was --trace, --trace=VALUE,
 * --trace-file FILE or --trace-file=FILE (advancing *i past FILE). */
bool cli_trace_option(int argc, char **argv, int *i);

#endif
