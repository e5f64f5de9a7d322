/* Option parsing for connect and listen: netcat's flags, validated before anything is opened. */
#include "netcat.h"
#include "opts.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_MAXCHILDREN = 256, OPT_MAXCONNS };

/* Options of both commands, in --help's order. */
/* clang-format off */
#define NC_COMMON_OPTS                                                                             \
    {'u', NULL, CLI_NOARG, NULL, "UDP instead of TCP", NULL},                                      \
    {'U', NULL, CLI_NOARG, NULL, "Unix socket: ENDPOINT is a path (or use unix:PATH)", NULL},      \
    {'4', NULL, CLI_NOARG, NULL, "IPv4 only", NULL},                                               \
    {'6', NULL, CLI_NOARG, NULL, "IPv6 only", NULL},                                               \
    {'n', NULL, CLI_NOARG, NULL, "numeric addresses and ports only: no DNS, no service names", NULL},\
    {'w', NULL, CLI_ARG, "SECS", "connect and idle timeout (listen: not the wait for the first client, as nc)", NULL},\
    {'N', NULL, CLI_NOARG, NULL, "shut down the socket's write side when stdin ends", NULL}
/* clang-format on */

#define NC_FOOTER "Exit status: 0 success, 1 network or runtime failure, 2 usage error."

/* The other command's options are accepted (help NULL) so that nc_parse can say whose they are. */
static const struct cli_opt connect_opts[] = {
    NC_COMMON_OPTS,
    {'s', NULL, CLI_ARG, "ADDR",
     "connect from this local address (a Unix endpoint: a path; without -s a Unix datagram "
     "client gets a temporary one, so that replies can come back)",
     NULL},
    {'p', NULL, CLI_ARG, "PORT", "connect from this local port", NULL},
    {'x', NULL, CLI_ARG, "PROXY[:PORT]",
     "reach ENDPOINT through this proxy (port 1080 for SOCKS5, 3128 for HTTP if not given); "
     "with SOCKS5 the proxy resolves ENDPOINT's name",
     NULL},
    {'X', NULL, CLI_ARG, "PROTO",
     "the proxy's protocol: 5 (SOCKS5, the default) or connect (HTTP CONNECT)", "5 connect"},
    {'P', NULL, CLI_ARG, "USER",
     "proxy user name (SOCKS5 username/password or HTTP Basic); the password is read from "
     "$" CLI_PROXY_PASSWORD_ENV ", never from the command line",
     NULL},
    {'z', NULL, CLI_NOARG, NULL,
     "only check which ports accept a connection (PORT, or a range LO-HI): one line per open port "
     "on stdout; exit 0 if any was open",
     NULL},
    CLI_OPT_TLS_CLIENT,
    CLI_OPT_VERBOSE,
    CLI_OPT_TRACE,
    CLI_OPT_HELP,
    {'k', NULL, CLI_NOARG, NULL, NULL, NULL},
    {'l', NULL, CLI_NOARG, NULL, NULL, NULL},
    {'e', "exec", CLI_ARG, "CMD", NULL, NULL},
    {OPT_MAXCHILDREN, "max-children", CLI_ARG, "N", NULL, NULL},
    CLI_OPT_END,
};

static const struct cli_opt listen_opts[] = {
    NC_COMMON_OPTS,
    {'l', NULL, CLI_NOARG, NULL, "accepted as in 'nc -l' (listen always listens)", NULL},
    {'p', NULL, CLI_ARG, "PORT", "listen on this port ('nc -l -p PORT'), not ENDPOINT's", NULL},
    {'s', NULL, CLI_ARG, "ADDR", "listen on this address ('nc -l -s ADDR'), not ENDPOINT's", NULL},
    {'k', NULL, CLI_NOARG, NULL, "keep listening after a client leaves", NULL},
    {'e', "exec", CLI_ARG, "CMD",
     "run CMD (with /bin/sh -c, as ncat's --sh-exec) per connection, the socket as its stdin and "
     "stdout; with -k clients are served concurrently",
     NULL},
    {OPT_MAXCHILDREN, "max-children", CLI_ARG, "N",
     "with --exec -k: at most N clients at once; others wait in the backlog", NULL},
    CLI_OPT_TLS_SERVER,
    CLI_OPT_VERBOSE,
    CLI_OPT_TRACE,
    CLI_OPT_HELP,
    {'z', NULL, CLI_NOARG, NULL, NULL, NULL},
    {'x', NULL, CLI_ARG, "PROXY", NULL, NULL},
    {'X', NULL, CLI_ARG, "PROTO", NULL, NULL},
    {'P', NULL, CLI_ARG, "USER", NULL, NULL},
    {OPT_MAXCONNS, "max-conns", CLI_ARG, "N", NULL, NULL},
    CLI_OPT_END,
};

const struct cli_cmd cli_cmd_connect = {
    .name = "connect",
    .summary = "client: connect to ENDPOINT, stdin to the socket, the socket to stdout",
    .synopsis =
        "[options] ENDPOINT | HOST PORT\n"
        "       sockkit connect -x PROXY[:PORT] [-X 5|connect] [-P USER] [options] HOST:PORT\n"
        "       sockkit connect -z [options] HOST PORT|LO-HI",
    .about = "Client: connect to ENDPOINT (host:port, [v6]:port, unix:/path, unix:@name);\n"
             "stdin goes to the socket and the socket to stdout.",
    .opts = connect_opts,
    .footer = NC_FOOTER,
    .run = cmd_connect,
};

const struct cli_cmd cli_cmd_listen = {
    .name = "listen",
    .summary = "server: listen on ENDPOINT, the socket to stdout, stdin to the socket",
    .synopsis = "[options] ENDPOINT | PORT | HOST PORT\n"
                "       sockkit listen [options] -p PORT [-s ADDR | HOST]",
    .about = "Server: wait for a client on ENDPOINT (127.0.0.1:7000, [::1]:7000, :7000 or 7000\n"
             "for every address, unix:/path, unix:@name); the socket goes to stdout and stdin to\n"
             "the socket. Port 0 picks a free port (-v prints it). One client, then exit\n"
             "(others are refused meanwhile), unless -k.",
    .opts = listen_opts,
    .footer = NC_FOOTER,
    .run = cmd_listen,
};

/* What the options said about the endpoint, before the operands are read. */
struct nc_args {
    bool unix_path;     /* -U */
    const char *source; /* -s */
    const char *port;   /* -p */
    const char *proxy;  /* -x */
    const char *proto;  /* -X */
    const char *user;   /* -P */
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

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* A port number for -p (nc takes numbers there). */
static const char *port_arg(const char *text)
{
    if (!all_digits(text))
        cli_usage_error("-p takes a port number, not '%s'", text);
    cli_parse_long(text, 0, 65535, "-p");
    return text;
}

static void nc_option(int c, const char *arg, struct nc_opts *o, struct nc_args *a)
{
    if (cli_tls_option(c, arg, &o->tls))
        return;
    switch (c) {
    case '4':
    case '6':
        if (o->family && o->family != (c == '4' ? AF_INET : AF_INET6))
            cli_usage_error("-4 and -6 exclude each other");
        o->family = c == '4' ? AF_INET : AF_INET6;
        break;
    case 'u':
        o->udp = true;
        break;
    case 'U':
        a->unix_path = true;
        break;
    case 'n':
        o->numeric = true;
        break;
    case 'N':
        o->half_close = true;
        break;
    case 'w':
        o->timeout_ms = cli_parse_seconds_ms(arg, "-w");
        if (o->timeout_ms == 0)
            cli_usage_error("-w must be more than 0 seconds");
        break;
    case 's':
        a->source = arg;
        break;
    case 'p':
        a->port = port_arg(arg);
        break;
    case 'l': /* listen only: listen listens anyway */
        if (!o->listen)
            cli_usage_error("-l is for listen: use 'sockkit listen' (as 'nc -l')");
        break;
    case 'k':
        if (!o->listen)
            cli_usage_error("-k is for listen");
        o->keep = true;
        break;
    case 'z':
        if (o->listen)
            cli_usage_error("-z is for connect");
        o->zero = true;
        break;
    case 'e':
        if (!o->listen)
            cli_usage_error("-e/--exec is for listen");
        o->exec = arg;
        break;
    case OPT_MAXCHILDREN:
        if (!o->listen)
            cli_usage_error("--max-children is for listen --exec");
        o->max_children = (int)cli_parse_long(arg, 1, 100000, "--max-children");
        break;
    case 'x':
    case 'X':
    case 'P':
        if (o->listen)
            cli_usage_error("-%c is for connect (through a proxy)", c);
        if (c == 'x')
            a->proxy = arg;
        else if (c == 'X')
            a->proto = arg;
        else
            a->user = arg;
        break;
    case OPT_MAXCONNS:
        cli_usage_error("--max-conns is serve's (clients over the limit are closed at once); "
                        "listen --exec takes --max-children N (they wait)");
    }
}

/* "LO-HI" (connect -z): true with the range in *lo, *hi. */
static bool port_range(const char *text, int *lo, int *hi)
{
    const char *dash = strchr(text, '-');
    if (!dash || dash == text)
        return false;
    char first[16];
    if ((size_t)(dash - text) >= sizeof first)
        cli_usage_error("port range '%s': give LO-HI, as in 20-80", text);
    snprintf(first, sizeof first, "%.*s", (int)(dash - text), text);
    if (!all_digits(first) || !all_digits(dash + 1))
        cli_usage_error("port range '%s': give LO-HI, as in 20-80", text);
    *lo = (int)cli_parse_long(first, 1, 65535, "the first port of a range");
    *hi = (int)cli_parse_long(dash + 1, 1, 65535, "the last port of a range");
    if (*lo > *hi)
        cli_usage_error("port range '%s': the first port is above the last", text);
    return true;
}

/* connect's operands: ENDPOINT, HOST PORT, and with -z a range as the port. */
static void connect_operands(int rest, char **args, struct nc_opts *o)
{
    const char *host = args[0], *port = rest == 2 ? args[1] : NULL;
    char split[400];
    if (rest == 1 && o->zero) { /* HOST:LO-HI */
        const char *colon = strrchr(args[0], ':');
        if (colon && strchr(colon, '-')) {
            set_text(split, sizeof split, "ENDPOINT", "%.*s", (int)(colon - args[0]), args[0]);
            host = split;
            port = colon + 1;
        }
    }
    if (port && port_range(port, &o->port_lo, &o->port_hi)) {
        if (!o->zero)
            cli_usage_error("a port range ('%s') is for -z", port);
        size_t n = strlen(host);
        if (host[0] == '[' && n > 1 && host[n - 1] == ']')
            set_text(o->host, sizeof o->host, "HOST", "%.*s", (int)n - 2, host + 1);
        else
            set_text(o->host, sizeof o->host, "HOST", "%s", host);
        char first[8];
        snprintf(first, sizeof first, "%d", o->port_lo);
        join(o->endpoint, sizeof o->endpoint, o->host, first);
        return;
    }
    if (port)
        join(o->endpoint, sizeof o->endpoint, host, port);
    else
        set_text(o->endpoint, sizeof o->endpoint, "ENDPOINT", "%s", host);
}

/* listen's operands: ENDPOINT, PORT, HOST PORT; or with -p PORT a HOST (or -s ADDR) or nothing. */
static void listen_operands(int rest, char **args, struct nc_opts *o, const struct nc_args *a)
{
    const char *host = a->source, *port = a->port;
    const char *ep = NULL;
    if (rest == 2) {
        host = host ? NULL : args[0];
        port = port ? NULL : args[1];
        if (!host || !port)
            cli_usage_error("the %s is given twice: by %s and by '%s'", host ? "port" : "address",
                            host ? "-p" : "-s", host ? args[1] : args[0]);
    } else if (rest == 1 && all_digits(args[0])) { /* nc -l PORT */
        if (port)
            cli_usage_error("the port is given twice: by -p and by '%s'", args[0]);
        port = args[0];
    } else if (rest == 1 && port) { /* nc -l -p PORT HOST */
        if (host)
            cli_usage_error("the address is given twice: by -s and by '%s'", args[0]);
        host = args[0];
    } else if (rest == 1) {
        if (host)
            cli_usage_error("-s gives the address and '%s' too: give the port with -p", args[0]);
        ep = args[0];
    }
    if (ep) {
        set_text(o->endpoint, sizeof o->endpoint, "ENDPOINT", "%s", ep);
        return;
    }
    if (!port)
        cli_usage_error("missing ENDPOINT: give PORT, HOST:PORT or -p PORT");
    size_t n = host ? strlen(host) : 0;
    if (host && host[0] == '[' && n > 1 && host[n - 1] == ']')
        set_text(o->endpoint, sizeof o->endpoint, "ENDPOINT", "%s:%s", host, port);
    else
        join(o->endpoint, sizeof o->endpoint, host ? host : "*", port);
}

/* -s ADDR and -p PORT of connect as one local endpoint: a Unix path when the endpoint is a Unix
 * one, else an address (a bare IPv6 one bracketed) with the port, 0 without -p. */
static void set_source(struct nc_opts *o, const struct nc_args *a, bool is_unix)
{
    char *out = o->source;
    size_t len = sizeof o->source;
    const char *arg = a->source ? a->source : "";
    const char *port = a->port ? a->port : "0";
    if (is_unix) {
        set_text(out, len, "-s", "%s%s", strncmp(arg, "unix:", 5) ? "unix:" : "", arg);
        return;
    }
    const char *colon = strchr(arg, ':'), *close = strchr(arg, ']');
    bool v6 = arg[0] == '[' || (colon && colon != strrchr(arg, ':'));
    bool has_port = arg[0] == '[' ? close && close[1] == ':' : colon && !v6;
    if (has_port && a->port)
        cli_usage_error("-s '%s' has a port and -p gives one too: choose one", arg);
    if (has_port)
        set_text(out, len, "-s", "%s", arg);
    else if (v6 && arg[0] != '[')
        set_text(out, len, "-s", "[%s]:%s", arg, port);
    else
        set_text(out, len, "-s", "%s:%s", arg, port);
}

static void nc_operands(int rest, char **args, struct nc_opts *o, const struct nc_args *a)
{
    if (rest > 2)
        cli_usage_error("unexpected argument '%s'", args[2]);
    if (a->unix_path) {
        if (rest != 1)
            cli_usage_error("-U takes one PATH");
        set_text(o->endpoint, sizeof o->endpoint, "ENDPOINT", "%s%s",
                 strncmp(args[0], "unix:", 5) ? "unix:" : "", args[0]);
    } else if (o->listen) {
        listen_operands(rest, args, o, a);
    } else if (rest == 0) {
        cli_usage_error("missing ENDPOINT (HOST:PORT, or HOST PORT)");
    } else {
        connect_operands(rest, args, o);
    }
}

/* -x, -X and -P: the proxy's endpoint (with nc's default port), its protocol, the password. */
static void set_proxy(struct nc_opts *o, const struct nc_args *a)
{
    if (!a->proxy) {
        if (a->proto || a->user)
            cli_usage_error("-%c goes with -x PROXY (the proxy to go through)",
                            a->proto ? 'X' : 'P');
        return;
    }
    if (o->udp || o->zero || a->unix_path || o->ep.is_unix)
        cli_usage_error("-x tunnels one TCP connection: it does not go with %s",
                        o->udp    ? "-u"
                        : o->zero ? "-z"
                                  : "a Unix endpoint");
    cli_proxy_parse(&o->proxy, "-x", a->proxy, a->proto, a->user);
}

/* Rules between options, once all are known: nothing accepted may go unused. */
static void nc_check(struct nc_opts *o, const struct nc_args *a)
{
    if (o->exec && o->udp)
        cli_usage_error("--exec needs a stream socket (not -u)");
    if (o->max_children && !(o->exec && o->keep))
        cli_usage_error("--max-children goes with --exec and -k (one client at a time without -k)");
    if (o->zero && o->udp)
        cli_usage_error("-z checks TCP or Unix stream ports (UDP has no handshake to check)");
    cli_tls_check(&o->tls);
    if (o->tls.on && o->udp)
        cli_usage_error("--tls needs a stream socket (not -u: DTLS is not supported)");
    if (o->tls.on && o->exec)
        cli_usage_error("--exec with --tls is not supported: the command would get the encrypted "
                        "bytes");
    if (o->tls.on && o->zero)
        cli_usage_error("-z only checks that ports accept a connection: leave out --tls");
    if (o->ep.is_unix) {
        const char *ip_only = o->family == AF_INET     ? "-4"
                              : o->family == AF_INET6  ? "-6"
                              : o->numeric             ? "-n"
                              : a->port                ? "-p"
                              : o->listen && a->source ? "-s"
                                                       : NULL;
        if (ip_only)
            cli_usage_error("%s is for IP endpoints, and '%s' is a Unix one", ip_only, o->endpoint);
    }
}

void nc_parse(int argc, char **argv, bool listen, struct nc_opts *o)
{
    struct cli_parser p = CLI_PARSER(listen ? &cli_cmd_listen : &cli_cmd_connect);
    struct cli_common co = {0};
    struct nc_args a = {0};
    memset(o, 0, sizeof *o);
    o->listen = listen;
    o->tls.server = listen;
    o->timeout_ms = -1;
    int c;
    while ((c = cli_next_option(&p, argc, argv, &co)) != -1)
        nc_option(c, optarg, o, &a);
    o->verbose = co.verbose;
    nc_operands(argc - optind, argv + optind, o, &a);
    /* Syntax now, so that a typo is a usage error before anything is opened; the one parse of the
     * endpoint, which every later step takes as it is. */
    cli_check_endpoint(o->endpoint, listen ? CLI_EP_PASSIVE : CLI_EP_HOST_PORT, &o->ep);
    nc_check(o, &a);
    set_proxy(o, &a);
    if (!listen && (a.source || a.port))
        set_source(o, &a, o->ep.is_unix);
}

struct cli_where nc_where(const struct nc_opts *o)
{
    return (struct cli_where){
        .endpoint = o->endpoint,
        .family = o->family,
        .type = o->udp ? SOCK_DGRAM : SOCK_STREAM,
        .bind = o->listen,
        .numeric = o->numeric,
        .has_source = o->source[0] != '\0',
        .keep = o->listen ? "-k" : NULL,
    };
}
