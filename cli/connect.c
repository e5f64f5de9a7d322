/* sockkit connect: the client side of netcat, and -z port checks. */
#include "netcat.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* A Unix datagram client must have an address, or the server has nowhere to send its replies
 * (an unbound socket's datagrams arrive with no sender). As nc and ncat do, bind it to a fresh
 * path in $TMPDIR (or /tmp). */
static void temp_source(struct nc_opts *o)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir || strlen(dir) > 80)
        dir = "/tmp";
    unsigned char r[6] = {0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        cli_die(EXIT_RUNTIME, "getrandom: %s", strerror(errno));
    snprintf(o->source, sizeof o->source, "unix:%s/sockkit-%d-%02x%02x%02x%02x%02x%02x", dir,
             (int)getpid(), r[0], r[1], r[2], r[3], r[4], r[5]);
}

static sk_connect_opts connect_opts(const struct nc_opts *o)
{
    return (sk_connect_opts)SK_CONNECT_OPTS_INIT(.family = o->family,
                                                 .type = o->udp ? SOCK_DGRAM : SOCK_STREAM,
                                                 .source = o->source[0] ? o->source : NULL,
                                                 .numeric = o->numeric);
}

/* -z HOST LO-HI (or one port): resolve once, then try every port on the addresses in turn. One
 * line per open port on stdout (the result, for scripts), one per closed port on stderr with -v.
 * Exit 0 if any port was open, as OpenBSD nc. */
static int scan(const struct nc_opts *o)
{
    sk_addr_list l;
    int rc = sk_resolve_endpoint(&o->ep, o->family, SOCK_STREAM,
                                 o->numeric ? SK_RESOLVE_NUMERIC : 0, &l);
    if (rc < 0) {
        struct cli_where w = nc_where(o);
        cli_fail_at(rc, &w);
    }
    sk_connect_opts co = connect_opts(o);
    int lo = o->port_lo ? o->port_lo : sk_addr_port(&l.v[0]);
    int hi = o->port_lo ? o->port_hi : lo;
    int open = 0;
    for (int port = lo; port <= hi; port++) {
        for (size_t i = 0; i < l.n; i++)
            sk_addr_set_port(&l.v[i], (uint16_t)port);
        int fd = sk_connect_addrs(l.v, l.n, &co, o->timeout_ms);
        if (fd < 0 && lo == hi) { /* one port: its failure is the command's */
            struct cli_where w = nc_where(o);
            cli_fail_at(fd, &w);
        }
        if (fd >= 0) {
            sk_addr peer;
            char p[SK_ADDRSTRLEN];
            sk_sock_get_peer_addr(fd, &peer);
            sk_addr_format(&peer, p, sizeof p);
            printf("%s open\n", p);
            fflush(stdout);
            sk_close(fd);
            open++;
        } else if (o->verbose) {
            cli_say("%s", sk_errmsg());
        }
    }
    sk_addr_list_free(&l);
    if (o->verbose && lo != hi)
        cli_say("%d of %d ports open", open, hi - lo + 1);
    return open ? EXIT_OK : EXIT_RUNTIME;
}

/* The Unix socket file connect binds to (-s, or a temporary one) is removed at exit. */
static void unix_source(struct nc_opts *o)
{
    if (!o->ep.is_unix)
        return;
    if (o->udp && !o->source[0])
        temp_source(o);
    if (o->source[0])
        cli_remove_at_exit(o->source + 5); /* after "unix:" */
}

/* The connected socket's peer and local addresses as text (SK_ADDRSTRLEN each); peer_out: the
 * peer's address too, if wanted. */
static void both_ends(int fd, char *peer_text, char *local_text, sk_addr *peer_out)
{
    sk_addr peer, local;
    sk_sock_get_peer_addr(fd, &peer);
    sk_sock_get_local_addr(fd, &local);
    sk_addr_format(&peer, peer_text, SK_ADDRSTRLEN);
    sk_addr_format(&local, local_text, SK_ADDRSTRLEN);
    if (peer_out)
        *peer_out = peer;
}

/* -x: the connection to the proxy with connect's options, then the tunnel to the endpoint. */
static int connect_proxy(const struct nc_opts *o)
{
    sk_connect_opts co = connect_opts(o);
    sk_proxy_opts po = SK_PROXY_OPTS_INIT(.kind = o->proxy.kind, .user = o->proxy.user,
                                          .password = o->proxy.password);
    int timeout = o->timeout_ms >= 0 ? o->timeout_ms : NC_PROXY_TIMEOUT_MS;
    int fd = sk_connect_via(o->proxy.endpoint, o->endpoint, &po, &co, timeout);
    if (fd < 0) {
        struct cli_where w = nc_where(o);
        w.endpoint = o->proxy.endpoint;
        cli_fail_at(fd, &w);
    }
    if (o->verbose) {
        char p[SK_ADDRSTRLEN], l[SK_ADDRSTRLEN];
        both_ends(fd, p, l, NULL);
        cli_say("connected to proxy %s from %s (tcp); %s tunnel to %s open", p, l,
                o->proxy.kind == SK_PROXY_HTTP ? "HTTP CONNECT" : "SOCKS5", o->endpoint);
    }
    return fd;
}

/* A connected stream: TLS first with ctx (--tls; the name checked is the endpoint's host, through
 * a proxy's tunnel too), then the pump; closes fd and frees ctx. Returns the exit status. */
static int stream_session(int fd, sk_tls_ctx *ctx, const struct nc_opts *o)
{
    sk_tls *tls = NULL;
    if (ctx) {
        int ms = o->timeout_ms > 0 ? o->timeout_ms : NC_TLS_HANDSHAKE_MS;
        if (!(tls = cli_tls_handshake(ctx, fd, o->ep.is_unix ? "localhost" : o->ep.host, &o->tls,
                                      ms, o->verbose)))
            exit(EXIT_RUNTIME);
    }
    int rc = nc_pump_stream(fd, tls, o);
    sk_tls_close(tls);
    sk_tls_ctx_free(ctx);
    sk_close(fd);
    return rc;
}

int cmd_connect(int argc, char **argv)
{
    struct nc_opts o;
    nc_parse(argc, argv, false, &o);
    signal(SIGPIPE, SIG_IGN);
    if (o.zero && !o.ep.is_unix)
        return scan(&o);
    /* --tls: its files are read before anything is opened (a bad --ca is not found out after a
     * connect, or behind a refusal) */
    sk_tls_ctx *ctx = o.tls.on ? cli_tls_context(&o.tls, o.verbose) : NULL;
    if (o.proxy.endpoint[0])
        return stream_session(connect_proxy(&o), ctx, &o);
    unix_source(&o);
    sk_connect_opts co = connect_opts(&o);
    int fd = sk_connect_endpoint(&o.ep, &co, o.timeout_ms);
    if (fd == -EADDRINUSE)
        cli_keep_at_exit(); /* the path appeared meanwhile: not ours to remove */
    if (fd < 0) {
        struct cli_where w = nc_where(&o);
        cli_fail_at(fd, &w);
    }
    sk_addr peer;
    char p[SK_ADDRSTRLEN], l[SK_ADDRSTRLEN];
    both_ends(fd, p, l, &peer);
    if (o.zero) { /* a Unix stream endpoint */
        printf("%s open\n", p);
        sk_close(fd);
        sk_tls_ctx_free(ctx);
        return EXIT_OK;
    }
    if (o.verbose)
        cli_say("connected to %s from %s (%s)", p, l,
                o.udp                              ? "udp"
                : sk_addr_family(&peer) == AF_UNIX ? "unix"
                                                   : "tcp");
    if (o.udp) {
        int rc = nc_pump_dgram(fd, &o);
        sk_close(fd);
        sk_tls_ctx_free(ctx);
        return rc;
    }
    return stream_session(fd, ctx, &o);
}
