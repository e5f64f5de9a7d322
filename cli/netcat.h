/* Options shared by `sockkit connect` and `sockkit listen` (netcat's flags), and the data pumps. */
#ifndef SOCKKIT_CLI_NETCAT_H
#define SOCKKIT_CLI_NETCAT_H

#include "cli.h"

struct nc_opts {
    bool listen;
    bool udp;           /* -u */
    bool keep;          /* -k */
    bool zero;          /* -z */
    bool verbose;       /* -v */
    bool half_close;    /* -N */
    int family;         /* -4 / -6 */
    int timeout_ms;     /* -w: connect and idle timeout, -1 = none */
    char source[300];   /* -s, as an endpoint ("ADDR:0") */
    const char *exec;   /* --exec CMD */
    int max_conns;      /* --max-conns (0 = no limit) */
    char endpoint[400]; /* as sk_resolve takes it */
};

/* Parse argv (after the subcommand name) into o, exiting 2 with one line on bad input. */
void nc_parse(int argc, char **argv, bool listen, struct nc_opts *o);

/* Exit with the library's last error: status 2 if it was bad input (a malformed endpoint, an
 * unknown host, service or interface), else 1. */
_Noreturn void nc_fail(int code, const char *what);

/* Stream pump: stdin → fd, fd → stdout, until both directions are done (see pump.c). Returns an
 * exit status. */
int nc_pump_stream(int fd, const struct nc_opts *o);

/* Datagram pump. Connected socket (connect -u): stdin chunks → datagrams, datagrams → stdout.
 * Unbound peer (listen -u): datagrams → stdout; stdin → the most recent sender. */
int nc_pump_dgram(int fd, const struct nc_opts *o);

#endif
