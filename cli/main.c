/* sockkit: validate the command line, then dispatch to one subcommand. */
#include "cli.h"
#include "opts.h"

#include <stdio.h>
#include <string.h>

/* The one list of commands: dispatch, `sockkit --help` and the completions all read it. */
static const struct cli_cmd *const root_subs[] = {
    &cli_cmd_demo,    &cli_cmd_connect, &cli_cmd_listen,     &cli_cmd_relay,
    &cli_cmd_serve,   &cli_cmd_mcast,   &cli_cmd_bench,      &cli_cmd_proto,
    &cli_cmd_resolve, &cli_cmd_ifaces,  &cli_cmd_completion, NULL,
};
static const struct cli_opt root_opts[] = {
    {'h', "help", CLI_NOARG, NULL, "this help", NULL},
    {'V', "version", CLI_NOARG, NULL, "print the version", NULL},
    CLI_OPT_END,
};
const struct cli_cmd cli_root = {
    .name = "",
    .summary = "",
    .synopsis = "[--version] [--help] COMMAND [ARGS]",
    .about = "Sockets you can see: every call, which side is client and which server, TCP or\n"
             "UDP, and the bytes on the wire (--trace).",
    .opts = root_opts,
    .subs = root_subs,
    .footer = "'sockkit COMMAND --help' for a command's options; 'man sockkit' for more.\n"
              "Exit status: 0 success, 1 network or runtime failure, 2 usage error.",
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        char names[256] = "";
        for (const struct cli_cmd *const *c = cli_root.subs; *c; c++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                     c == cli_root.subs ? "" : ", ", (*c)->name);
        cli_usage_error("missing command (%s)", names);
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        cli_help(stdout, &cli_root);
        return EXIT_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
        printf("sockkit %s\n", SOCKKIT_VERSION_STRING);
        if (sk_tls_available())
            printf("TLS: yes (%s)\n", sk_tls_library());
        else
            printf("TLS: no (built without OpenSSL: cmake -DSK_TLS=OFF, or libssl-dev missing)\n");
        return EXIT_OK;
    }
    for (const struct cli_cmd *const *c = cli_root.subs; *c; c++) {
        if (strcmp(name, (*c)->name))
            continue;
        static char prog[64];
        snprintf(prog, sizeof prog, "sockkit %s", name);
        cli_prog = prog;
        return (*c)->run(argc - 1, argv + 1);
    }
    if (name[0] == '-')
        cli_usage_error("unknown option '%s'", name);
    cli_usage_error("unknown command '%s'", name);
}
