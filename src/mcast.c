/* Multicast: join/leave (ASM and SSM, IPv4 and IPv6, RFC 3678's protocol-independent API),
 * outgoing interface, TTL, loop, IP_MULTICAST_ALL, and the one-call receiver and sender. */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef IP_MULTICAST_ALL
#define IP_MULTICAST_ALL 49
#endif
#ifndef IPV6_MULTICAST_ALL
#define IPV6_MULTICAST_ALL 29
#endif

bool sk_addr_is_multicast(const sk_addr *a)
{
    if (a->u.sa.sa_family == AF_INET)
        return IN_MULTICAST(ntohl(a->u.in.sin_addr.s_addr));
    if (a->u.sa.sa_family == AF_INET6)
        return IN6_IS_ADDR_MULTICAST(&a->u.in6.sin6_addr);
    return false;
}

bool sk_addr_is_ssm(const sk_addr *a)
{
    if (a->u.sa.sa_family == AF_INET)
        return (ntohl(a->u.in.sin_addr.s_addr) >> 24) == 232;
    if (a->u.sa.sa_family == AF_INET6) {
        const uint8_t *b = a->u.in6.sin6_addr.s6_addr;
        return b[0] == 0xff && (b[1] & 0xf0) == 0x30;
    }
    return false;
}

/* The multicast-capable interfaces, for error messages that say what could be named. */
static void capable_ifaces(char *out, size_t len)
{
    struct ifaddrs *ifs, *i;
    out[0] = '\0';
    if (getifaddrs(&ifs) < 0)
        return;
    size_t n = 0;
    for (i = ifs; i; i = i->ifa_next) {
        if (!(i->ifa_flags & IFF_MULTICAST) || !(i->ifa_flags & IFF_UP) || !i->ifa_addr ||
            i->ifa_addr->sa_family != AF_INET)
            continue; /* one line per interface: its IPv4 entry */
        n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s%s", n ? ", " : "", i->ifa_name);
    }
    freeifaddrs(ifs);
    if (!out[0])
        snprintf(out, len, "none up");
}

/* Is the interface named up with the MULTICAST flag? (IPv6 multicast routes exist only there.) */
static bool iface_multicast(const char *name)
{
    struct ifaddrs *ifs, *i;
    bool yes = false;
    if (getifaddrs(&ifs) < 0)
        return true; /* unknown: say nothing about it */
    for (i = ifs; i; i = i->ifa_next)
        if (!strcmp(i->ifa_name, name))
            yes = yes || (i->ifa_flags & IFF_MULTICAST);
    freeifaddrs(ifs);
    return yes;
}

int sk_iface_index(const char *iface)
{
    if (!iface || !*iface)
        return 0;
    unsigned idx = if_nametoindex(iface);
    if (idx)
        return (int)idx;
    char *end;
    long v = strtol(iface, &end, 10);
    if (!*end && v > 0) {
        char name[IF_NAMESIZE];
        if (if_indextoname((unsigned)v, name))
            return (int)v;
    }
    /* an address of the interface */
    struct in6_addr a6;
    struct in_addr a4;
    int fam = inet_pton(AF_INET, iface, &a4) == 1    ? AF_INET
              : inet_pton(AF_INET6, iface, &a6) == 1 ? AF_INET6
                                                     : 0;
    struct ifaddrs *ifs, *i;
    if (fam && getifaddrs(&ifs) == 0) {
        int found = 0;
        for (i = ifs; i && !found; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != fam)
                continue;
            if (fam == AF_INET ? ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == a4.s_addr
                               : !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, &a6, 16))
                found = (int)if_nametoindex(i->ifa_name);
        }
        freeifaddrs(ifs);
        if (found)
            return found;
    }
    char names[256];
    capable_ifaces(names, sizeof names);
    return sk__fail(SK_EIFACE, "interface '%s' (interfaces with MULTICAST: %s)", iface, names);
}

/* The first IPv4 address of interface idx (left as 0.0.0.0 if it has none). */
static void iface_ipv4(int idx, struct in_addr *out)
{
    struct ifaddrs *ifs, *i;
    if (getifaddrs(&ifs) < 0)
        return;
    for (i = ifs; i; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
            (int)if_nametoindex(i->ifa_name) == idx) {
            *out = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
            break;
        }
    freeifaddrs(ifs);
}

static int socket_family(int fd, const char *what)
{
    int type = 0, family = 0;
    socklen_t len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        return sk__fail_errno("%s fd %d", what, fd);
    if (type != SOCK_DGRAM)
        return sk__fail(SK_ENOTDGRAM, "%s fd %d: a %s socket", what, fd,
                        type == SOCK_STREAM ? "TCP (stream)" : "non-datagram");
    len = sizeof family;
    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len);
    if (family != AF_INET && family != AF_INET6)
        return sk__fail(SK_ENOTDGRAM, "%s fd %d: not an IP socket", what, fd);
    return family;
}

static int membership(int fd, const sk_addr *group, const char *iface, const sk_addr *source,
                      bool join)
{
    const char *what = join ? "join" : "leave";
    char g[SK_ADDRSTRLEN];
    sk_addr_format(group, g, sizeof g);
    int family = socket_family(fd, what);
    if (family < 0)
        return family;
    if (!sk_addr_is_multicast(group))
        return sk__fail(SK_ENOTMCAST, "%s %s", what, g);
    if (group->u.sa.sa_family != family)
        return sk__fail(SK_ENOADDR, "%s %s: the socket is %s", what, g,
                        family == AF_INET ? "IPv4" : "IPv6");
    if (source && !sk_addr_is_ssm(group))
        return sk__fail(
            SK_ESSM, "%s %s with a source (outside the SSM range 232.0.0.0/8, ff3x::/32)", what, g);
    if (!source && sk_addr_is_ssm(group))
        return sk__fail(SK_ESSM, "%s %s without a source (a source-specific group)", what, g);
    int idx = sk_iface_index(iface);
    if (idx < 0)
        return idx;
    int level = family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
    int rc;
    /* the port is not part of a group membership */
    sk_addr gr = *group;
    sk_addr_set_port(&gr, 0);
    if (source) {
        struct group_source_req r = {.gsr_interface = (uint32_t)idx};
        memcpy(&r.gsr_group, &gr.u, gr.len);
        memcpy(&r.gsr_source, &source->u, source->len);
        rc = setsockopt(fd, level, join ? MCAST_JOIN_SOURCE_GROUP : MCAST_LEAVE_SOURCE_GROUP, &r,
                        sizeof r);
    } else {
        struct group_req r = {.gr_interface = (uint32_t)idx};
        memcpy(&r.gr_group, &gr.u, gr.len);
        rc = setsockopt(fd, level, join ? MCAST_JOIN_GROUP : MCAST_LEAVE_GROUP, &r, sizeof r);
    }
    char s[SK_ADDRSTRLEN] = "";
    if (source)
        sk_addr_format(source, s, sizeof s);
    if (rc < 0) {
        int e = errno;
        if ((e == ENODEV || e == ENETUNREACH || e == EADDRNOTAVAIL) && !idx) {
            char names[256];
            capable_ifaces(names, sizeof names);
            return sk__fail(SK_ENOROUTE, "%s %s (interfaces with MULTICAST: %s)", what, g, names);
        }
        errno = e;
        return sk__fail_errno("%s %s%s%s", what, g, source ? " source " : "", s);
    }
    const char *opt = source ? (join ? "MCAST_JOIN_SOURCE_GROUP" : "MCAST_LEAVE_SOURCE_GROUP")
                             : (join ? "MCAST_JOIN_GROUP" : "MCAST_LEAVE_GROUP");
    sk__trace_call(fd, "setsockopt %s %s%s%s iface=%d", opt, g, source ? " source " : "", s, idx);
    return 0;
}

int sk_mcast_join(int fd, const sk_addr *group, const char *iface, const sk_addr *source)
{
    return membership(fd, group, iface, source, true);
}

int sk_mcast_leave(int fd, const sk_addr *group, const char *iface, const sk_addr *source)
{
    return membership(fd, group, iface, source, false);
}

static int set_by_family(int fd, int v4name, int v6name, int value, const char *what)
{
    int family = socket_family(fd, what);
    if (family < 0)
        return family;
    int level = family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
    int name = family == AF_INET ? v4name : v6name;
    if (setsockopt(fd, level, name, &value, sizeof value) < 0)
        return sk__fail_errno("setsockopt fd %d %s=%d", fd, what, value);
    sk__trace_call(fd, "setsockopt %s=%d", what, value);
    return 0;
}

int sk_mcast_set_ttl(int fd, int ttl)
{
    if (ttl < 1 || ttl > 255)
        return sk__fail(SK_EARG, "multicast TTL %d (1..255)", ttl);
    return set_by_family(fd, IP_MULTICAST_TTL, IPV6_MULTICAST_HOPS, ttl, "IP_MULTICAST_TTL");
}

int sk_mcast_set_loop(int fd, bool on)
{
    return set_by_family(fd, IP_MULTICAST_LOOP, IPV6_MULTICAST_LOOP, on, "IP_MULTICAST_LOOP");
}

int sk_mcast_set_all(int fd, bool on)
{
    return set_by_family(fd, IP_MULTICAST_ALL, IPV6_MULTICAST_ALL, on, "IP_MULTICAST_ALL");
}

int sk_mcast_set_iface(int fd, const char *iface)
{
    int family = socket_family(fd, "multicast interface");
    if (family < 0)
        return family;
    int idx = sk_iface_index(iface);
    if (idx < 0)
        return idx;
    int rc;
    if (family == AF_INET) {
        /* An address too: it becomes the packets' source (Linux uses imr_address so; gVisor
         * otherwise picks another interface's address, which breaks source-specific receivers).
         * Named by one of its addresses, that one -- not the interface's first, which would
         * send a second address's traffic from the first. */
        struct ip_mreqn m = {.imr_ifindex = idx};
        if (inet_pton(AF_INET, iface, &m.imr_address) != 1)
            iface_ipv4(idx, &m.imr_address);
        rc = setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof m);
    } else {
        rc = setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof idx);
    }
    if (rc < 0)
        return sk__fail_errno("multicast interface %s", iface);
    sk__trace_call(fd, "setsockopt IP_MULTICAST_IF=%s (index %d)", iface, idx);
    return 0;
}

static int group_addr(const char *ep, sk_addr *out, const char *what)
{
    int rc = sk_addr_parse(ep, SK_RESOLVE_NUMERIC, out);
    if (rc < 0)
        return rc;
    if (!sk_addr_is_multicast(out))
        return sk__fail(SK_ENOTMCAST, "%s %s", what, ep);
    return 0;
}

/* An interface- or link-local IPv6 group (ff01::/16, ff02::/16): one per link, so a bind or
 * connect needs the interface (the address's scope, or IPV6_MULTICAST_IF), else EINVAL. */
static bool link_scoped_group(const sk_addr *g)
{
    return g->u.sa.sa_family == AF_INET6 && (IN6_IS_ADDR_MC_LINKLOCAL(&g->u.in6.sin6_addr) ||
                                             IN6_IS_ADDR_MC_NODELOCAL(&g->u.in6.sin6_addr));
}

static int needs_iface(const char *what, const char *group_endpoint)
{
    return sk__fail_why(SK_EIFACE,
                        "a link-local group is one per link: name its interface, as in "
                        "[ff02::1%eth0]:5000",
                        "%s %s", what, group_endpoint);
}

int sk_mcast_receiver(const char *group_endpoint, const char *iface, const char *source)
{
    sk_addr g, src;
    int rc = group_addr(group_endpoint, &g, "receive");
    if (rc < 0)
        return rc;
    if (source) {
        /* a bare address ("10.0.0.1", "fe80::1"): the parser wants an endpoint */
        char buf[128];
        snprintf(buf, sizeof buf, strchr(source, ':') ? "[%s]:0" : "%s:0", source);
        if ((rc = sk_addr_parse(buf, SK_RESOLVE_NUMERIC, &src)) < 0)
            return rc;
    }
    int family = g.u.sa.sa_family;
    /* A link-scoped group: the bind's scope from the endpoint's %zone or from iface, and the join
     * on the same interface. */
    char zone[16] = "";
    if (link_scoped_group(&g)) {
        if (iface && *iface) {
            int idx = sk_iface_index(iface);
            if (idx < 0)
                return idx;
            if (g.u.in6.sin6_scope_id && g.u.in6.sin6_scope_id != (uint32_t)idx)
                return sk__fail(SK_EARG,
                                "receive %s on %s: the group's zone names another interface "
                                "(bound on one, joined on the other, it would get nothing)",
                                group_endpoint, iface);
            g.u.in6.sin6_scope_id = (uint32_t)idx;
        }
        if (!g.u.in6.sin6_scope_id)
            return needs_iface("receive", group_endpoint);
        if (!iface || !*iface) {
            snprintf(zone, sizeof zone, "%u", g.u.in6.sin6_scope_id);
            iface = zone;
        }
    }
    int fd = sk__socket(family, SOCK_DGRAM, IPPROTO_UDP, SK_ROLE_SERVER);
    if (fd < 0)
        return fd;
    /* SO_REUSEADDR before bind: several receivers of the same group and port on one host each
     * get every packet. Not SO_REUSEPORT: it makes the sockets one load-balancing group, and the
     * kernel (UDP early demux) then hands each datagram to one member chosen by flow hash,
     * ignoring the members' source filters -- an SSM receiver got another source's packets. */
    if ((rc = sk_sock_set_reuseaddr(fd, true)) < 0)
        goto fail;
    if (family == AF_INET6 && (rc = sk_sock_set_v6only(fd, true)) < 0)
        goto fail;
    /* Bound to the group address, the socket takes only that group's packets on this port
     * (bound to the wildcard it would take every datagram for the port). */
    if (bind(fd, &g.u.sa, g.len) < 0) {
        rc = sk__fail_errno("bind %s", group_endpoint);
        goto fail;
    }
    sk__trace_call(fd, "bind %s", group_endpoint);
    if ((rc = sk_mcast_set_all(fd, false)) < 0)
        goto fail;
    if ((rc = sk_mcast_join(fd, &g, iface, source ? &src : NULL)) < 0)
        goto fail;
    return fd;
fail:
    sk_close(fd);
    return rc;
}

/* IPV6_MULTICAST_IF carries no address: an interface named by one of its IPv6 addresses gets
 * that address as the source by binding to it (link-local in the interface's scope). */
static int bind_named_v6_source(int fd, const char *iface)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    if (!iface || inet_pton(AF_INET6, iface, &a.sin6_addr) != 1)
        return 0;
    if (IN6_IS_ADDR_LINKLOCAL(&a.sin6_addr)) {
        int idx = sk_iface_index(iface);
        if (idx < 0)
            return idx;
        a.sin6_scope_id = (uint32_t)idx;
    }
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
        return sk__fail_errno("bind [%s]:0 (the source for multicast interface %s)", iface, iface);
    sk__trace_call(fd, "bind [%s]:0 (the interface's address named: the source)", iface);
    return 0;
}

int sk_mcast_sender(const char *group_endpoint, const char *iface, int ttl, bool loop)
{
    sk_addr g;
    int rc = group_addr(group_endpoint, &g, "send to");
    if (rc < 0)
        return rc;
    if (ttl < 1 || ttl > 255)
        return sk__fail(SK_EARG, "send to %s: TTL %d (1..255)", group_endpoint, ttl);
    if (link_scoped_group(&g) && !g.u.in6.sin6_scope_id && (!iface || !*iface))
        return needs_iface("send to", group_endpoint);
    int fd = sk__socket(g.u.sa.sa_family, SOCK_DGRAM, IPPROTO_UDP, SK_ROLE_CLIENT);
    if (fd < 0)
        return fd;
    if ((iface && (rc = sk_mcast_set_iface(fd, iface)) < 0) ||
        (rc = sk_mcast_set_ttl(fd, ttl)) < 0 || (rc = sk_mcast_set_loop(fd, loop)) < 0)
        goto fail;
    if (g.u.sa.sa_family == AF_INET6 && (rc = bind_named_v6_source(fd, iface)) < 0)
        goto fail;
    if (connect(fd, &g.u.sa, g.len) < 0) {
        if (errno == ENETUNREACH || errno == ENODEV) {
            char names[256];
            capable_ifaces(names, sizeof names);
            if (iface && *iface && !iface_multicast(iface)) /* lo, as the kernel makes it */
                rc =
                    sk__fail(-ENETUNREACH,
                             "send to %s on %s (%s has no MULTICAST flag, so the kernel gave it no "
                             "multicast route: 'ip -6 route add multicast ff00::/8 dev %s table "
                             "local' adds one; interfaces with MULTICAST: %s)",
                             group_endpoint, iface, iface, iface, names);
            else
                rc = sk__fail(SK_ENOROUTE, "send to %s (interfaces with MULTICAST: %s)",
                              group_endpoint, names);
        } else {
            rc = sk__fail_errno("connect %s", group_endpoint);
        }
        goto fail;
    }
    sk__trace_call(fd, "connect %s (UDP: sets the destination)", group_endpoint);
    return fd;
fail:
    sk_close(fd);
    return rc;
}
