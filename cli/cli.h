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

/* util.c */
extern const char *cli_prog; /* "sockkit connect" etc., for messages */
/* Print "sockkit CMD: message\n" to stderr and exit with status. */
noreturn void cli_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Usage error: one line naming what was wrong, then exit 2. */
noreturn void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Parse a whole decimal integer in [min, max]; on failure a usage error naming `what`. */
long cli_parse_long(const char *text, long min, long max, const char *what);
/* Parse seconds (decimal fraction allowed, >= 0) into milliseconds; usage error naming `what`. */
int cli_parse_seconds_ms(const char *text, const char *what);
/* The getopt error cases: c == ':' (a missing value) or anything else (an unknown option).
 * Prints one line and exits 2. */
noreturn void cli_bad_option(int c, char **argv);
/* Monotonic seconds, for durations and rates. */
double cli_now_s(void);
/* Apply --trace / --trace=calls|data / --trace-file FILE. Returns true if arg was one of them
 * (consuming the next argv entry for --trace-file when *i is advanced). */
bool cli_trace_option(int argc, char **argv, int *i);

#endif
