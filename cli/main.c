/* sockkit: validate the command line, then dispatch to one subcommand. */
#include "cli.h"
#include "opts.h"

#include <stdio.h>
#include <string.h>

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

/* Subcommands not built yet are NULL and say so. */
static const struct command commands[] = {
    {"demo", cmd_demo, "walk through TCP, UDP and Unix sockets on loopback with the trace on"},
    {"connect", cmd_connect,
     "client: connect to ENDPOINT, stdin to the socket, the socket to stdout"},
    {"listen", cmd_listen, "server: listen on ENDPOINT, the socket to stdout, stdin to the socket"},
    {"serve", cmd_serve, "run a service (echo, discard, chargen, daytime, time, sink, source)"},
    {"mcast", cmd_mcast, "send or receive UDP multicast, with per-sender statistics"},
    {"bench", cmd_bench,
     "measure an echo server: requests/s, latency, connection rate, throughput"},
    {"proto", cmd_proto, "explain IPPROTO_*, AF_*, SOCK_* and socket option names and numbers"},
    {"resolve", cmd_resolve, "what a name resolves to: getaddrinfo's rows, source, connect order"},
    {"ifaces", cmd_ifaces,
     "interfaces, addresses, joined multicast groups; the route to an address"},
    {"completion", cmd_completion, "print a bash or zsh completion script"},
};

/* The option tables of every command, for `sockkit completion`. */
extern const struct cli_cmd cli_cmd_completion, cli_cmd_resolve, cli_cmd_ifaces;
static const struct cli_cmd *const root_subs[] = {&cli_cmd_resolve, &cli_cmd_ifaces,
                                                  &cli_cmd_completion, NULL};
static const struct cli_opt root_opts[] = {
    {'h', "help", CLI_NOARG, NULL, "this help", NULL},
    {'V', "version", CLI_NOARG, NULL, "print the version", NULL},
    CLI_OPT_END,
};
const struct cli_cmd cli_root = {"", "", "COMMAND [ARGS]", NULL, root_opts, NULL, root_subs, NULL};

static void usage(FILE *out)
{
    fprintf(out, "usage: sockkit [--version] [--help] COMMAND [ARGS]\n\n"
                 "Sockets you can see: every call, which side is client and which server, TCP or\n"
                 "UDP, and the bytes on the wire (--trace).\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'sockkit COMMAND --help' for a command's options; 'man sockkit' for more.\n"
                 "Exit status: 0 success, 1 network or runtime failure, 2 usage error.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
        printf("sockkit %s\n", SOCKKIT_VERSION_STRING);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (strcmp(name, commands[i].name))
            continue;
        static char prog[64];
        snprintf(prog, sizeof prog, "sockkit %s", name);
        cli_prog = prog;
        if (!commands[i].run)
            cli_die(EXIT_RUNTIME, "not available in this build yet");
        return commands[i].run(argc - 1, argv + 1);
    }
    cli_usage_error("unknown command '%s'", name);
}
