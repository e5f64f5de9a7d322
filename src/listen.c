/* Listen and accept: Python's create_server (SO_REUSEADDR on POSIX, backlog, optional dual-stack)
 * and accept4 with CLOEXEC, a deadline, and retries of the errors a pending connection can cause.
 */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A Unix socket file left behind by a dead server: nobody accepts on it. */
static bool stale_unix_socket(const sk_addr *a)
{
    if (a->u.un.sun_path[0] == '\0')
        return false; /* abstract names vanish with their socket */
    struct stat st;
    if (stat(a->u.un.sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
        return false;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool stale = connect(fd, &a->u.sa, a->len) < 0 && errno == ECONNREFUSED;
    close(fd);
    return stale;
}

int sk_listen_addr(const sk_addr *addr, const sk_listen_opts *opts)
{
    sk_listen_opts loaded;
    const sk_listen_opts *o = &loaded;
    int rc = sk__opts_load(&loaded, sizeof loaded, opts, "listen: opts");
    if (rc < 0)
        return rc;
    int type = o->type ? o->type : SOCK_STREAM;
    int family = addr->u.sa.sa_family;
    char text[SK_ADDRSTRLEN];
    sk_addr_format(addr, text, sizeof text);

    int proto = family == AF_UNIX ? 0 : type == SOCK_DGRAM ? IPPROTO_UDP : IPPROTO_TCP;
    int fd = sk__socket(family, type, proto, SK_ROLE_SERVER);
    if (fd < 0)
        return fd;
    if (family != AF_UNIX && !o->no_reuseaddr)
        rc = sk_sock_set_reuseaddr(fd, true);
    if (rc >= 0 && o->reuseport)
        rc = sk_sock_set_reuseport(fd, true);
    /* As Python's create_server: an IPv6 socket is IPv6-only unless dual-stack was asked for. */
    if (rc >= 0 && family == AF_INET6)
        rc = sk_sock_set_v6only(fd, !o->dualstack);
    if (rc < 0)
        goto fail;

    if (bind(fd, &addr->u.sa, addr->len) < 0) {
        if (errno == EADDRINUSE && family == AF_UNIX && o->unlink_stale &&
            stale_unix_socket(addr)) {
            unlink(addr->u.un.sun_path);
            sk__trace_call(fd, "unlink %s (stale socket file)", addr->u.un.sun_path);
            if (bind(fd, &addr->u.sa, addr->len) == 0)
                goto bound;
        }
        rc = sk__fail_errno("bind %s", text);
        sk__trace_call(fd, "bind %s -> %s", text, sk_err_name(rc));
        goto fail;
    }
bound:
    if (sk_trace_level()) {
        sk_addr local;
        if (sk_sock_get_local_addr(fd, &local) == 0 && sk_addr_port(addr) == 0 &&
            family != AF_UNIX) {
            char real[SK_ADDRSTRLEN];
            sk_addr_format(&local, real, sizeof real);
            sk__trace_call(fd, "bind %s (port 0: the kernel chose %s)", text, real);
        } else {
            sk__trace_call(fd, "bind %s", text);
        }
    }
    if (type == SOCK_STREAM || type == SOCK_SEQPACKET) {
        int backlog = o->backlog > 0 ? o->backlog : SOMAXCONN;
        if (listen(fd, backlog) < 0) {
            rc = sk__fail_errno("listen %s", text);
            goto fail;
        }
        sk__trace_call(fd, "listen backlog=%d", backlog);
    }
    return fd;
fail:
    sk_close(fd);
    return rc;
}

/* Bind the first address of ep (resolved for family) that binds, as create_server does. */
static int listen_family(const sk_endpoint *ep, int family, const sk_listen_opts *o)
{
    sk_addr_list list;
    int rc = sk_resolve_endpoint(ep, family, o->type ? o->type : SOCK_STREAM,
                                 SK_RESOLVE_PASSIVE | (o->numeric ? SK_RESOLVE_NUMERIC : 0), &list);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < list.n; i++)
        if ((rc = sk_listen_addr(&list.v[i], o)) >= 0)
            break;
    sk_addr_list_free(&list);
    return rc;
}

int sk_listen_endpoint(const sk_endpoint *ep, const sk_listen_opts *opts)
{
    sk_listen_opts o;
    int rc = sk__opts_load(&o, sizeof o, opts, "listen: opts");
    if (rc < 0)
        return rc;
    if (!ep)
        return sk__fail(SK_EARG, "listen: no endpoint");
    if (!ep->any_host || o.family != AF_UNSPEC)
        return listen_family(ep, o.family, &o);
    /* The any-address of no particular family: one [::] socket that takes IPv4 too, so clients
     * of either family find the server; 0.0.0.0 where the host has no IPv6. */
    sk_listen_opts dual = o;
    dual.dualstack = true;
    rc = listen_family(ep, AF_INET6, &dual);
    if (rc == -EAFNOSUPPORT || rc == -EADDRNOTAVAIL)
        rc = listen_family(ep, AF_INET, &o);
    return rc;
}

int sk_listen(const char *endpoint, const sk_listen_opts *opts)
{
    sk_endpoint ep;
    int rc = sk_endpoint_parse(endpoint, &ep);
    return rc < 0 ? rc : sk_listen_endpoint(&ep, opts);
}

static void trace_accept(int listen_fd, int fd, const sk_addr *peer)
{
    char a[SK_ADDRSTRLEN];
    sk_addr_format(peer, a, sizeof a);
    int type = SOCK_STREAM;
    socklen_t len = sizeof type;
    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
    sk__trace_socket(fd, peer->u.sa.sa_family, type, 0, SK_ROLE_SERVER);
    sk__trace_call(listen_fd, "accept %s = %d", a, fd);
    sk__trace_established(fd, "accept");
}

void sk__accepted_peer(int listen_fd, int fd, sk_addr *peer)
{
    sk_addr p = {0};
    p.len = sizeof p.u;
    if (getpeername(fd, &p.u.sa, &p.len) == 0) /* else gone already: the family alone */
        *peer = p;
    if (sk__trace_on())
        trace_accept(listen_fd, fd, peer);
}

int sk__accept4(int listen_fd, sk_addr *peer, int flags)
{
    for (;;) {
        memset(peer, 0, sizeof *peer);
        peer->len = sizeof peer->u;
        int fd = accept4(listen_fd, &peer->u.sa, &peer->len, flags | SOCK_CLOEXEC);
        if (fd >= 0) {
            if (sk__trace_on())
                trace_accept(listen_fd, fd, peer);
            return fd;
        }
        /* the peer gave up while queued (or a signal came): take the next one */
        if (errno != EINTR && errno != ECONNABORTED && errno != EPROTO)
            return -errno;
    }
}

int sk_accept(int listen_fd, sk_addr *peer, int timeout_ms)
{
    int64_t deadline = sk__deadline(timeout_ms);
    sk_addr tmp;
    for (;;) {
        /* Wait first: accept4 on a blocking listener would ignore the deadline. */
        int rc = sk__wait_deadline(listen_fd, POLLIN, deadline);
        if (rc < 0)
            return sk__fail(rc, "accept fd %d", listen_fd);
        int fd = sk__accept4(listen_fd, peer ? peer : &tmp, 0);
        if (fd >= 0)
            return fd;
        if (fd != -EAGAIN) /* EAGAIN: another acceptor took it; wait for the next */
            return sk__fail(fd, "accept fd %d", listen_fd);
    }
}
