/* sockkit connect: the client side of netcat. */
#include "netcat.h"

#include <signal.h>
#include <stdio.h>

int cmd_connect(int argc, char **argv)
{
    struct nc_opts o;
    nc_parse(argc, argv, false, &o);
    signal(SIGPIPE, SIG_IGN);
    sk_connect_opts co = {
        .family = o.family,
        .type = o.udp ? SOCK_DGRAM : SOCK_STREAM,
        .source = o.source[0] ? o.source : NULL,
    };
    int fd = sk_connect_ex(o.endpoint, &co, o.timeout_ms);
    if (fd < 0)
        nc_fail(fd, NULL);
    sk_addr peer, local;
    char p[SK_ADDRSTRLEN], l[SK_ADDRSTRLEN];
    sk_peer_addr(fd, &peer);
    sk_local_addr(fd, &local);
    sk_addr_format(&peer, p, sizeof p);
    sk_addr_format(&local, l, sizeof l);
    if (o.zero) {
        if (o.verbose)
            fprintf(stderr, "%s: %s accepts connections\n", cli_prog, p);
        sk_close(fd);
        return EXIT_OK;
    }
    if (o.verbose)
        fprintf(stderr, "%s: connected to %s from %s (%s)\n", cli_prog, p, l,
                o.udp                              ? "udp"
                : sk_addr_family(&peer) == AF_UNIX ? "unix"
                                                   : "tcp");
    int rc = o.udp ? nc_pump_dgram(fd, &o) : nc_pump_stream(fd, &o);
    sk_close(fd);
    return rc;
}
