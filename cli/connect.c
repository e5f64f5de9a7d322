/* sockkit connect: the client side of netcat. */
#include "netcat.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* The Unix socket file this process binds its client socket to (-s, or a temporary one), removed
 * at exit and on the signals that usually end a session. */
static char bound_path[108];

static void remove_bound_path(void)
{
    if (bound_path[0])
        unlink(bound_path);
}

static void on_fatal_signal(int sig)
{
    remove_bound_path(); /* unlink is async-signal-safe */
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Remove the file at path when we exit, if it is ours: it does not exist yet, so the bind that
 * comes makes it (an existing file is someone else's; the bind then fails, and it stays). */
static void remove_at_exit(const char *path)
{
    struct stat st;
    if (path[0] == '@' || strlen(path) >= sizeof bound_path || lstat(path, &st) == 0 ||
        errno != ENOENT)
        return;
    snprintf(bound_path, sizeof bound_path, "%s", path);
    atexit(remove_bound_path);
    struct sigaction sa = {.sa_handler = on_fatal_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

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

int cmd_connect(int argc, char **argv)
{
    struct nc_opts o;
    nc_parse(argc, argv, false, &o);
    signal(SIGPIPE, SIG_IGN);
    sk_endpoint ep;
    sk_endpoint_parse(o.endpoint, &ep); /* nc_parse checked it */
    if (ep.is_unix && o.udp && !o.source[0])
        temp_source(&o);
    if (ep.is_unix && o.source[0])
        remove_at_exit(o.source + 5); /* after "unix:" */
    sk_connect_opts co =
        SK_CONNECT_OPTS_INIT(.family = o.family, .type = o.udp ? SOCK_DGRAM : SOCK_STREAM,
                             .source = o.source[0] ? o.source : NULL);
    int fd = sk_connect_ex(o.endpoint, &co, o.timeout_ms);
    if (fd == -EADDRINUSE)
        bound_path[0] = '\0'; /* the path appeared meanwhile: not ours to remove */
    if (fd < 0)
        nc_fail(fd, NULL);
    sk_addr peer, local;
    char p[SK_ADDRSTRLEN], l[SK_ADDRSTRLEN];
    sk_sock_get_peer_addr(fd, &peer);
    sk_sock_get_local_addr(fd, &local);
    sk_addr_format(&peer, p, sizeof p);
    sk_addr_format(&local, l, sizeof l);
    if (o.zero) {
        if (o.verbose)
            cli_say("%s accepts connections", p);
        sk_close(fd);
        return EXIT_OK;
    }
    if (o.verbose)
        cli_say("connected to %s from %s (%s)", p, l,
                o.udp                              ? "udp"
                : sk_addr_family(&peer) == AF_UNIX ? "unix"
                                                   : "tcp");
    int rc = o.udp ? nc_pump_dgram(fd, &o) : nc_pump_stream(fd, &o);
    sk_close(fd);
    return rc;
}
