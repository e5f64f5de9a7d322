/* One table of options per subcommand (and per mode: `bench echo`, `mcast send`, ...). The same
 * table gives getopt_long its short string and long options, prints --help, and generates the
 * bash and zsh completions (`sockkit completion bash|zsh`), so the three cannot drift apart. */
#ifndef SOCKKIT_CLI_OPTS_H
#define SOCKKIT_CLI_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

enum cli_arg {
    CLI_NOARG = no_argument,
    CLI_ARG = required_argument,
    CLI_OPTARG = optional_argument
};

struct cli_opt {
    int key;           /* what getopt returns: the short letter, or a value >= 256 */
    const char *name;  /* long name without "--", or NULL */
    enum cli_arg arg;  /* whether it takes a value */
    const char *meta;  /* the value's name in --help ("SECS"), NULL for none */
    const char *help;  /* one line for --help; NULL: accepted but neither shown nor completed
                        * (a test hook, or an option that is there to say it belongs to the
                        * other command: `listen -z` says "-z is for connect") */
    const char *words; /* completion choices, space separated ("calls data"); "@file" for a path */
};
/* clang-format off */
#define CLI_OPT_END {0, NULL, CLI_NOARG, NULL, NULL, NULL}
/* clang-format on */

/* A command or a mode. `name` is the full word path after "sockkit" ("bench echo"). */
struct cli_cmd {
    /* Designated initializers only: fields may be added. */
    const char *name;
    const char *summary;               /* one line, for the parent's list */
    const char *synopsis;              /* after "usage: sockkit NAME " */
    const char *about;                 /* paragraphs for --help, may be NULL */
    const struct cli_opt *opts;        /* ends with CLI_OPT_END; may be NULL */
    const char *args;                  /* completion words for positional arguments, may be NULL */
    const struct cli_cmd *const *subs; /* modes ("echo", "connect", ...), NULL-terminated */
    const char *footer;                /* after the options in --help, may be NULL */
    /* The root's commands: main() calls it with argv starting at the command's name. Modes are
     * dispatched by their command and leave it NULL. */
    int (*run)(int argc, char **argv);
};

#define CLI_MAX_OPTS 48

/* getopt_long's tables built from cmd->opts (with ':' first, so a missing value is reported as
 * ':'). */
struct cli_getopt {
    char shorts[2 * CLI_MAX_OPTS + 2];
    struct option longs[CLI_MAX_OPTS + 1];
};
void cli_getopt_init(struct cli_getopt *g, const struct cli_cmd *cmd);
/* Print the --help text of a command. */
void cli_help(FILE *out, const struct cli_cmd *cmd);

/* ---- The options every command shares: one meaning each, parsed in one place ---------------- *
 * A command lists the shared options it takes in its table with these macros; cli_next_option
 * handles them all, so an option means the same everywhere and a command that does not list one
 * refuses it. */
enum {
    CLI_KEY_TRACE = 0x1000,
    CLI_KEY_TRACE_FILE,
    CLI_KEY_JSON,
    CLI_KEY_JSON_LINES,
    CLI_KEY_NO_TRACE,
    CLI_KEY_PCAP,
    CLI_KEY_TRACE_FORMAT,
};
/* clang-format off */
#define CLI_OPT_HELP    {'h', "help", CLI_NOARG, NULL, "this help", NULL}
#define CLI_OPT_VERBOSE {'v', "verbose", CLI_NOARG, NULL, "say what happens on stderr", NULL}
#define CLI_OPT_QUIET   {'q', "quiet", CLI_NOARG, NULL, "print nothing but errors and the result", NULL}
#define CLI_OPT_TRACE                                                                              \
    {CLI_KEY_TRACE, "trace", CLI_OPTARG, "calls|data",                                             \
     "trace every socket call (data, the default: and the bytes) on stderr", "calls data"},        \
    {CLI_KEY_TRACE_FILE, "trace-file", CLI_ARG, "FILE", "write the trace to FILE", "@file"},     \
    CLI_OPT_PCAP
/* Also in demo's own table. */
#define CLI_OPT_PCAP                                                                               \
    {CLI_KEY_TRACE_FORMAT, "trace-format", CLI_ARG, "text|json",                                   \
     "the trace as lines (text, the default) or one JSON object per event", "text json"},          \
    {CLI_KEY_PCAP, "pcap", CLI_ARG, "FILE",                                                        \
     "write the traffic to FILE as pcapng, for Wireshark (with or without --trace)", "@file"}
#define CLI_OPT_JSON    {CLI_KEY_JSON, "json", CLI_NOARG, NULL, "one JSON document on stdout, nothing else", NULL}
#define CLI_OPT_JSON_LINES                                                                         \
    {CLI_KEY_JSON_LINES, "json-lines", CLI_NOARG, NULL,                                            \
     "one JSON object per line on stdout: each interval, then the result", NULL}
#define CLI_OPT_INTERVAL {'i', "interval", CLI_ARG, "SECS", "a report line every SECS seconds", NULL}
/* A command that opens no socket (proto, resolve, ...) has nothing to trace: with this in its table
 * (not shown in --help) --trace and --trace-file are refused saying so, not as unknown options. */
#define CLI_OPT_NO_TRACE                                                                           \
    {CLI_KEY_NO_TRACE, "trace", CLI_OPTARG, NULL, NULL, NULL},                                     \
    {CLI_KEY_NO_TRACE, "trace-file", CLI_OPTARG, NULL, NULL, NULL},                                \
    {CLI_KEY_NO_TRACE, "trace-format", CLI_OPTARG, NULL, NULL, NULL},                              \
    {CLI_KEY_NO_TRACE, "pcap", CLI_OPTARG, NULL, NULL, NULL}
/* clang-format on */

/* What the shared options said. */
struct cli_common {
    int verbose;     /* -v, counted */
    bool quiet;      /* -q */
    bool json;       /* --json */
    bool json_lines; /* --json-lines */
    int interval_ms; /* -i SECS; 0: none */
    int trace;       /* --trace: SK_TRACE_CALLS or SK_TRACE_DATA; 0: not given */
    bool trace_file; /* --trace-file was given (the trace goes there, not to stderr) */
    bool pcap;       /* --pcap was given */
};

struct cli_parser {
    const struct cli_cmd *cmd;
    struct cli_getopt g;
    bool ready;
};
#define CLI_PARSER(command)                                                                        \
    {                                                                                              \
        .cmd = (command)                                                                           \
    }

/* getopt_long over the command's table. The shared options are handled here: into *co, -h prints
 * the help and exits 0, --trace and --trace-file turn the trace on, --trace-format chooses its
 * format, --pcap opens the pcapng file (a file that cannot be made: one line, exit 2). Every other
 * option is returned as getopt_long returns it (its value in optarg); -1 at the end (optind is then
 * the first operand). A bad option, a missing value and contradicting shared options (-q with -v,
 * --json with --json-lines) are usage errors: one line, exit 2. CLI_OPT_NO_TRACE's options are
 * refused here, saying that the command opens no socket. */
int cli_next_option(struct cli_parser *p, int argc, char **argv, struct cli_common *co);

/* A rate per second for `what` ("--rate"): a decimal number (fraction allowed) with an optional
 * suffix k (x1000), M (x10^6) or G (x10^9), from more than 0 up to `max`. Anything else (0, a
 * negative or non-numeric value, an unknown suffix, more than max) is a usage error: one line
 * naming the option and what it takes, exit 2. `unit` names what is counted ("requests"). */
double cli_parse_rate(const char *text, double max, const char *what, const char *unit);
/* A size in bytes for `what` ("--size"): a whole number with an optional suffix k/K (x1024),
 * m/M (x1024^2) or g/G (x1024^3), binary as iperf3's -l, from min to max. Anything else is a
 * usage error: one line, exit 2. */
long cli_parse_size(const char *text, long min, long max, const char *what);
/* The same, where 0 is a rate too: unpaced, as fast as it can (bench udp, mcast send). */
double cli_parse_rate_or_0(const char *text, double max, const char *what, const char *unit);

/* The one exit-status rule: 2 when the input was wrong (an endpoint that does not parse, a port
 * out of range, a name that does not resolve, an unknown interface or service, ...), 1 for what
 * went wrong at run time (refused, reset, timed out, out of resources). `code` is a library
 * return value (-errno or SK_E*). */
int cli_exit_status(int code);

/* The whole tree of commands (main.c), and each command's table (in the command's file). */
extern const struct cli_cmd cli_root;
extern const struct cli_cmd cli_cmd_demo, cli_cmd_connect, cli_cmd_listen, cli_cmd_serve,
    cli_cmd_mcast, cli_cmd_bench, cli_cmd_proto, cli_cmd_completion;
extern const struct cli_cmd cli_cmd_bench_udp; /* bench_udp.c */
extern const struct cli_cmd cli_cmd_resolve, cli_cmd_ifaces;
extern const struct cli_cmd cli_cmd_relay; /* relay.c */

/* `sockkit completion bash|zsh` */
int cmd_completion(int argc, char **argv);

#endif
