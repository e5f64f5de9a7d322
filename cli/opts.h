/* One table of options per subcommand (and per mode: `bench echo`, `mcast send`, ...). The same
 * table gives getopt_long its short string and long options, prints --help, and generates the
 * bash and zsh completions (`sockkit completion bash|zsh`), so the three cannot drift apart. */
#ifndef SOCKKIT_CLI_OPTS_H
#define SOCKKIT_CLI_OPTS_H

#include <getopt.h>
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

/* The whole tree of commands (main.c), and each command's table (in the command's file). */
extern const struct cli_cmd cli_root;
extern const struct cli_cmd cli_cmd_demo, cli_cmd_connect, cli_cmd_listen, cli_cmd_serve,
    cli_cmd_mcast, cli_cmd_bench, cli_cmd_proto, cli_cmd_completion;
extern const struct cli_cmd cli_cmd_bench_udp; /* bench_udp.c */
extern const struct cli_cmd cli_cmd_resolve, cli_cmd_ifaces;

/* `sockkit completion bash|zsh` */
int cmd_completion(int argc, char **argv);

#endif
