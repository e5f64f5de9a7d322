/* sockkit: validate the command line, then dispatch to one subcommand. */
#include "cli.h"

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
};

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
    if (argc < 2)
        cli_usage_error("missing command (demo, connect, listen, serve, mcast, bench, proto)");
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
    if (name[0] == '-')
        cli_usage_error("unknown option '%s'", name);
    cli_usage_error("unknown command '%s'", name);
}
