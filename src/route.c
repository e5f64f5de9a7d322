/* Which interface and source address reach a destination: the kernel's own answer (RTM_GETROUTE,
 * as `ip route get` asks it), or, where rtnetlink is not available, the local address of a
 * connected UDP socket (connect on UDP sends nothing but makes the kernel choose a route and
 * source) and the interface holding that address. */
#include "internal.h"

#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct answer {
    sk_route *out;
    int family;
    int error; /* rta_error of an unreachable answer */
};

static void ip_attr(int family, const struct rtattr *a, sk_addr *out)
{
    memset(out, 0, sizeof *out);
    size_t want = family == AF_INET ? 4 : 16;
    if (!a || RTA_PAYLOAD(a) < want)
        return;
    if (family == AF_INET) {
        out->u.in.sin_family = AF_INET;
        memcpy(&out->u.in.sin_addr, RTA_DATA(a), 4);
        out->len = sizeof out->u.in;
    } else {
        out->u.in6.sin6_family = AF_INET6;
        memcpy(&out->u.in6.sin6_addr, RTA_DATA(a), 16);
        out->len = sizeof out->u.in6;
    }
}

static int on_route(const struct nlmsghdr *h, void *ctx)
{
    struct answer *ans = ctx;
    const struct rtmsg *r = NLMSG_DATA(h);
    if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof *r))
        return 0;
    const struct rtattr *attrs = RTM_RTA(r), *a;
    size_t len = RTM_PAYLOAD(h);
    sk_route *out = ans->out;
    out->type = r->rtm_type;
    out->table = r->rtm_table;
    if ((a = sk__nl_attr(attrs, len, RTA_TABLE)) && RTA_PAYLOAD(a) >= 4)
        memcpy(&out->table, RTA_DATA(a), 4);
    if ((a = sk__nl_attr(attrs, len, RTA_OIF)) && RTA_PAYLOAD(a) >= 4)
        memcpy(&out->ifindex, RTA_DATA(a), 4);
    ip_attr(ans->family, sk__nl_attr(attrs, len, RTA_PREFSRC), &out->src);
    ip_attr(ans->family, sk__nl_attr(attrs, len, RTA_GATEWAY), &out->gateway);
    if ((a = sk__nl_attr(attrs, len, RTA_CACHEINFO)) &&
        RTA_PAYLOAD(a) >= sizeof(struct rta_cacheinfo))
        ans->error = (int)((const struct rta_cacheinfo *)RTA_DATA(a))->rta_error;
    return 0;
}

static void put_attr(struct nlmsghdr *h, size_t cap, int type, const void *data, size_t n)
{
    struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
    if (NLMSG_ALIGN(h->nlmsg_len) + RTA_SPACE(n) > cap)
        return;
    a->rta_type = (unsigned short)type;
    a->rta_len = (unsigned short)RTA_LENGTH(n);
    memcpy(RTA_DATA(a), data, n);
    h->nlmsg_len = (uint32_t)(NLMSG_ALIGN(h->nlmsg_len) + RTA_SPACE(n));
}

static int ask_kernel(const sk_addr *dst, sk_route *out)
{
    struct {
        struct nlmsghdr h;
        struct rtmsg r;
        char attrs[64];
    } req;
    memset(&req, 0, sizeof req);
    int family = dst->u.sa.sa_family;
    req.h.nlmsg_len = (uint32_t)NLMSG_LENGTH(sizeof req.r);
    req.h.nlmsg_type = RTM_GETROUTE;
    req.r.rtm_family = (unsigned char)family;
    req.r.rtm_flags = RTM_F_LOOKUP_TABLE; /* report the table the lookup used */
    if (family == AF_INET) {
        req.r.rtm_dst_len = 32;
        put_attr(&req.h, sizeof req, RTA_DST, &dst->u.in.sin_addr, 4);
    } else {
        req.r.rtm_dst_len = 128;
        put_attr(&req.h, sizeof req, RTA_DST, &dst->u.in6.sin6_addr, 16);
        uint32_t oif = dst->u.in6.sin6_scope_id; /* fe80::1%eth0: that link */
        if (oif)
            put_attr(&req.h, sizeof req, RTA_OIF, &oif, sizeof oif);
    }
    struct answer ans = {.out = out, .family = family};
    int rc = sk__nl_request(&req.h, on_route, &ans);
    if (rc < 0)
        return rc;
    if (out->type == RTN_UNREACHABLE || out->type == RTN_PROHIBIT || out->type == RTN_BLACKHOLE)
        return ans.error < 0 ? ans.error : out->type == RTN_PROHIBIT ? -EACCES : -ENETUNREACH;
    out->netlink = true;
    return 0;
}

/* The interface holding address a, from the interface list. */
static void iface_of(const sk_addr *a, sk_route *out)
{
    sk_iface_list list;
    if (sk_ifaces_list(&list) < 0)
        return;
    for (size_t i = 0; i < list.n && !out->ifindex; i++)
        for (size_t k = 0; k < list.v[i].naddrs; k++) {
            sk_addr x = list.v[i].addrs[k].addr, y = *a;
            sk_addr_set_port(&y, 0);
            if (x.u.sa.sa_family == AF_INET6)
                x.u.in6.sin6_scope_id = y.u.in6.sin6_scope_id = 0;
            if (sk_addr_equal(&x, &y)) {
                out->ifindex = list.v[i].index;
                break;
            }
        }
    sk_ifaces_free(&list);
}

int sk__route_udp(const sk_addr *dst, sk_route *out)
{
    sk_addr to = *dst;
    if (sk_addr_port(&to) == 0)
        sk_addr_set_port(&to, 9); /* any port: nothing is sent */
    int fd = socket(to.u.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = connect(fd, &to.u.sa, to.len) < 0 ? -errno : 0;
    if (rc == 0) {
        out->src.len = sizeof out->src.u;
        if (getsockname(fd, &out->src.u.sa, &out->src.len) < 0)
            rc = -errno;
        else
            sk_addr_set_port(&out->src, 0);
    }
    close(fd);
    if (rc < 0)
        return rc;
    if (to.u.sa.sa_family == AF_INET6 && to.u.in6.sin6_scope_id)
        out->ifindex = to.u.in6.sin6_scope_id;
    else
        iface_of(&out->src, out);
    return 0;
}

/* rtnetlink itself unavailable (a sandbox, a seccomp filter), as opposed to the kernel's answer
 * that there is no route. */
static bool no_netlink(int rc)
{
    return rc == -EAFNOSUPPORT || rc == -EPROTONOSUPPORT || rc == -EPERM || rc == -EOPNOTSUPP ||
           rc == -ENOSYS || rc == -ETIMEDOUT || rc == -EPROTO;
}

int sk_route_get(const sk_addr *dst, sk_route *out)
{
    if (!dst || !out)
        return sk__fail(SK_EARG, "route: NULL argument");
    memset(out, 0, sizeof *out);
    out->dst = *dst;
    char text[SK_ADDRSTRLEN];
    sk__format_host(dst, text, sizeof text);
    int family = dst->u.sa.sa_family;
    if (family != AF_INET && family != AF_INET6)
        return sk__fail(SK_EARG, "route to %s: not an IP address", text);
    int rc = ask_kernel(dst, out);
    if (rc < 0 && no_netlink(rc)) {
        memset(out, 0, sizeof *out);
        out->dst = *dst;
        rc = sk__route_udp(dst, out);
    }
    if (rc < 0)
        return sk__fail(rc, "route to %s", text);
    if (out->src.u.sa.sa_family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&out->src.u.in6.sin6_addr))
        out->src.u.in6.sin6_scope_id = out->ifindex; /* fe80::1%eth0: only valid on that link */
    if (out->ifindex && !if_indextoname(out->ifindex, out->iface))
        snprintf(out->iface, sizeof out->iface, "%u", out->ifindex);
    return 0;
}

const char *sk_route_type_name(int type)
{
    static const char *const names[] = {
        [RTN_UNSPEC] = "none",
        [RTN_UNICAST] = "unicast",
        [RTN_LOCAL] = "local",
        [RTN_BROADCAST] = "broadcast",
        [RTN_ANYCAST] = "anycast",
        [RTN_MULTICAST] = "multicast",
        [RTN_BLACKHOLE] = "blackhole",
        [RTN_UNREACHABLE] = "unreachable",
        [RTN_PROHIBIT] = "prohibit",
        [RTN_THROW] = "throw",
        [RTN_NAT] = "nat",
        [RTN_XRESOLVE] = "xresolve",
    };
    if (type < 0 || (size_t)type >= sizeof names / sizeof *names)
        return NULL;
    return names[type];
}
