/* Options shared by `sockkit connect` and `sockkit listen` (netcat's flags), and the data pumps. */
#ifndef SOCKKIT_CLI_NETCAT_H
#define SOCKKIT_CLI_NETCAT_H

#include "cli.h"
#include "proxy_opt.h"
#include "tls.h"

struct nc_opts {
    bool listen;
    bool udp;           /* -u */
    bool keep;          /* -k */
    bool zero;          /* -z */
    bool half_close;    /* -N */
    bool numeric;       /* -n: no DNS, no service names */
    int verbose;        /* -v */
    int family;         /* -4 / -6 */
    int timeout_ms;     /* -w: connect and idle timeout, -1 = none */
    char source[300];   /* connect -s / -p, as an endpoint ("ADDR:0", ":5555", "unix:/p") */
    const char *exec;   /* --exec CMD */
    int max_children;   /* --max-children (0 = no limit) */
    char endpoint[400]; /* as sk_resolve takes it; connect -z: the first port of the range */
    sk_endpoint ep;     /* endpoint, parsed once by nc_parse */
    char host[300];     /* connect -z: the host, and the ports port_lo..port_hi */
    int port_lo, port_hi;
    struct cli_proxy proxy; /* connect -x, -X, -P (endpoint "" = none) */
    struct cli_tls tls;     /* --tls and its options */
};

/* The handshake's deadline through a proxy when -w is not given: a proxy that accepts and never
 * answers must not hang the command. */
#define NC_PROXY_TIMEOUT_MS 30000

/* Parse argv (after the subcommand name) into o, exiting 2 with one line on bad input. */
void nc_parse(int argc, char **argv, bool listen, struct nc_opts *o);

/* What the command was doing, for the messages of cli_fail_at. */
struct cli_where nc_where(const struct nc_opts *o);

/* Stream pump: stdin → fd, fd → stdout, until both directions are done (see pump.c). Returns an
 * exit status. Reentrant: its buffers are its own. tls: the plaintext goes through it (NULL: plain
 * TCP or Unix); the pump sends our close_notify when the session ends well. */
int nc_pump_stream(int fd, sk_tls *tls, const struct nc_opts *o);

/* The TLS handshake time limit of connect and listen: -w, else this. */
#define NC_TLS_HANDSHAKE_MS 10000

/* Datagram pump. Connected socket (connect -u): stdin chunks → datagrams, datagrams → stdout.
 * Unbound peer (listen -u): datagrams → stdout; stdin → the most recent sender. */
int nc_pump_dgram(int fd, const struct nc_opts *o);

#endif
