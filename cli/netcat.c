/* Option parsing for connect and listen: netcat's flags, validated before anything is opened. */
#include "netcat.h"
#include "opts.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_EXEC = 256, OPT_MAXCONNS, OPT_TRACE, OPT_TRACE_FILE };

/* Options of both commands, in --help's order. */
/* clang-format off */
#define NC_COMMON_OPTS                                                                             \
    {'u', NULL, CLI_NOARG, NULL, "UDP instead of TCP", NULL},                                      \
    {'U', NULL, CLI_NOARG, NULL, "Unix socket: ENDPOINT is a path (or use unix:PATH)", NULL},      \
    {'4', NULL, CLI_NOARG, NULL, "IPv4 only", NULL},                                               \
    {'6', NULL, CLI_NOARG, NULL, "IPv6 only", NULL},                                               \
    {'w', NULL, CLI_ARG, "SECS", "connect and idle timeout (listen: not the wait for the first client, as nc)", NULL},\
    {'N', NULL, CLI_NOARG, NULL, "shut down the socket's write side when stdin ends", NULL},       \
    {'v', NULL, CLI_NOARG, NULL, "say what happens on stderr (the real port, each peer)", NULL},   \
    {OPT_TRACE, "trace", CLI_OPTARG, "calls|data",                                                 \
     "trace every socket call (and the bytes) on stderr", "calls data"},                           \
    {OPT_TRACE_FILE, "trace-file", CLI_ARG, "FILE", "write the trace to FILE", "@file"}
/* clang-format on */

#define NC_FOOTER "Exit status: 0 success, 1 network or runtime failure, 2 usage error."

/* The other command's options are accepted (help NULL) so that nc_parse can say whose they are. */
static const struct cli_opt connect_opts[] = {
    NC_COMMON_OPTS,
    {'s', NULL, CLI_ARG, "ADDR",
     "connect from this source address (a Unix endpoint: a path; without -s a Unix datagram "
     "client gets a temporary one, so that replies can come back)",
     NULL},
    {'z', NULL, CLI_NOARG, NULL, "only check that the port accepts a connection", NULL},
    {'k', NULL, CLI_NOARG, NULL, NULL, NULL},
    {OPT_EXEC, "exec", CLI_ARG, "CMD", NULL, NULL},
    {OPT_MAXCONNS, "max-conns", CLI_ARG, "N", NULL, NULL},
    {'h', "help", CLI_NOARG, NULL, "this help", NULL},
    CLI_OPT_END,
};

static const struct cli_opt listen_opts[] = {
    NC_COMMON_OPTS,
    {'k', NULL, CLI_NOARG, NULL, "keep listening after a client leaves", NULL},
    {OPT_EXEC, "exec", CLI_ARG, "CMD",
     "run CMD (with /bin/sh -c) per connection, the socket as its stdin and stdout; with -k "
     "clients are served concurrently",
     NULL},
    {OPT_MAXCONNS, "max-conns", CLI_ARG, "N", "at most N concurrent --exec clients (others wait)",
     NULL},
    {'s', NULL, CLI_ARG, "ADDR", NULL, NULL},
    {'z', NULL, CLI_NOARG, NULL, NULL, NULL},
    {'h', "help", CLI_NOARG, NULL, "this help", NULL},
    CLI_OPT_END,
};

const struct cli_cmd cli_cmd_connect = {
    .name = "connect",
    .summary = "client: connect to ENDPOINT, stdin to the socket, the socket to stdout",
    .synopsis = "[options] ENDPOINT | HOST PORT",
    .about = "Client: connect to ENDPOINT (host:port, [v6]:port, unix:/path, unix:@name);\n"
             "stdin goes to the socket and the socket to stdout.",
    .opts = connect_opts,
    .footer = NC_FOOTER,
    .run = cmd_connect,
};

const struct cli_cmd cli_cmd_listen = {
    .name = "listen",
    .summary = "server: listen on ENDPOINT, the socket to stdout, stdin to the socket",
    .synopsis = "[options] ENDPOINT | PORT | HOST PORT",
    .about = "Server: wait for a client on ENDPOINT (127.0.0.1:7000, [::1]:7000, :7000 or 7000\n"
             "for every address, unix:/path, unix:@name); the socket goes to stdout and stdin to\n"
             "the socket. Port 0 picks a free port (-v prints it). One client, then exit\n"
             "(others are refused meanwhile), unless -k.",
    .opts = listen_opts,
    .footer = NC_FOOTER,
    .run = cmd_listen,
};

/* snprintf into a field of nc_opts; a text that does not fit is a usage error, never cut. */
static void set_text(char *out, size_t len, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_text(char *out, size_t len, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len)
        cli_usage_error("%s is too long (%d bytes, at most %zu)", what, n, len - 1);
}

/* "HOST" + "PORT" → "HOST:PORT", bracketing an IPv6 literal. */
static void join(char *out, size_t len, const char *host, const char *port)
{
    if (strchr(host, ':') && host[0] != '[')
        set_text(out, len, "ENDPOINT", "[%s]:%s", host, port);
    else
        set_text(out, len, "ENDPOINT", "%s:%s", host, port);
}

/* -s ADDR as an endpoint: a Unix path when the endpoint is a Unix one, else an address with
 * port 0 (a bare IPv6 address gets brackets). */
static void set_source(struct nc_opts *o, const char *arg, bool is_unix)
{
    char *out = o->source;
    size_t len = sizeof o->source;
    const char *colon = strchr(arg, ':');
    if (is_unix)
        set_text(out, len, "-s", "%s%s", strncmp(arg, "unix:", 5) ? "unix:" : "", arg);
    else if (colon && arg[0] != '[' && colon != strrchr(arg, ':'))
        set_text(out, len, "-s", "[%s]:0", arg);
    else if (colon)
        set_text(out, len, "-s", "%s", arg);
    else
        set_text(out, len, "-s", "%s:0", arg);
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

void nc_parse(int argc, char **argv, bool listen, struct nc_opts *o)
{
    const struct cli_cmd *cmd = listen ? &cli_cmd_listen : &cli_cmd_connect;
    struct cli_getopt g;
    cli_getopt_init(&g, cmd);
    memset(o, 0, sizeof *o);
    o->listen = listen;
    o->timeout_ms = -1;
    bool unix_path = false;
    const char *source = NULL;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, g.shorts, g.longs, NULL)) != -1) {
        switch (c) {
        case '4':
            o->family = AF_INET;
            break;
        case '6':
            o->family = AF_INET6;
            break;
        case 'u':
            o->udp = true;
            break;
        case 'U':
            unix_path = true;
            break;
        case 'k':
            if (!listen)
                cli_usage_error("-k is for listen");
            o->keep = true;
            break;
        case 'z':
            if (listen)
                cli_usage_error("-z is for connect");
            o->zero = true;
            break;
        case 'v':
            o->verbose = true;
            break;
        case 'N':
            o->half_close = true;
            break;
        case 'w':
            o->timeout_ms = cli_parse_seconds_ms(optarg, "-w");
            if (o->timeout_ms == 0)
                cli_usage_error("-w must be more than 0 seconds");
            break;
        case 's':
            if (listen)
                cli_usage_error("-s is for connect (listen takes the address as ENDPOINT)");
            source = optarg;
            break;
        case OPT_EXEC:
            if (!listen)
                cli_usage_error("--exec is for listen");
            o->exec = optarg;
            break;
        case OPT_MAXCONNS:
            o->max_conns = (int)cli_parse_long(optarg, 1, 100000, "--max-conns");
            break;
        case OPT_TRACE:
            cli_trace_level(optarg);
            break;
        case OPT_TRACE_FILE:
            cli_trace_file(optarg);
            break;
        case 'h':
            cli_help(stdout, cmd);
            exit(EXIT_OK);
        default:
            cli_bad_option(c, argv);
        }
    }
    int rest = argc - optind;
    char **args = argv + optind;
    if (rest == 0)
        cli_usage_error("missing ENDPOINT");
    if (rest > 2)
        cli_usage_error("unexpected argument '%s'", args[2]);
    if (unix_path) {
        if (rest != 1)
            cli_usage_error("-U takes one PATH");
        set_text(o->endpoint, sizeof o->endpoint, "ENDPOINT", "%s%s",
                 strncmp(args[0], "unix:", 5) ? "unix:" : "", args[0]);
    } else if (rest == 2) {
        join(o->endpoint, sizeof o->endpoint, args[0], args[1]);
    } else if (listen && all_digits(args[0])) {
        set_text(o->endpoint, sizeof o->endpoint, "ENDPOINT", "*:%s", args[0]); /* nc -l PORT */
    } else {
        set_text(o->endpoint, sizeof o->endpoint, "ENDPOINT", "%s", args[0]);
    }
    if (o->exec && o->udp)
        cli_usage_error("--exec needs a stream socket (not -u)");
    if (o->max_conns && !o->exec)
        cli_usage_error("--max-conns goes with --exec");
    if (o->zero && o->udp)
        cli_usage_error("-z checks TCP or Unix stream ports (UDP has no handshake to check)");
    /* Syntax now, so that a typo is a usage error before anything is opened. */
    sk_endpoint ep;
    int rc = sk_endpoint_parse(o->endpoint, &ep);
    if (rc < 0)
        nc_fail(rc, NULL);
    if (!listen && ep.any_host)
        cli_usage_error("connect needs a host in '%s'", o->endpoint);
    if (source)
        set_source(o, source, ep.is_unix);
}

_Noreturn void nc_fail(int code, const char *what)
{
    switch (code) {
    case SK_EPARSE:
    case SK_EPORT:
    case SK_ENOHOST:
    case SK_EBRACKET:
    case SK_ESERVICE:
    case SK_EIFACE:
    case SK_EPATHLEN:
    case SK_ENONAME:
    case SK_ENOADDR:
        cli_usage_error("%s", sk_errmsg());
    default:
        if (what)
            cli_die(EXIT_RUNTIME, "%s: %s", what, sk_errmsg());
        cli_die(EXIT_RUNTIME, "%s", sk_errmsg());
    }
}
