/* Interfaces and their addresses, from rtnetlink dumps (RTM_GETLINK, RTM_GETADDR), as `ip -d addr`
 * reads them; multicast groups are added by mgroups.c. */
#include "internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* linux/if.h has these; <net/if.h> (which the public headers' users include) does not. */
#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000
#endif
#ifndef IFF_DORMANT
#define IFF_DORMANT 0x20000
#endif
#ifndef IFF_ECHO
#define IFF_ECHO 0x40000
#endif

static sk_iface *find_index(sk_iface_list *list, unsigned index)
{
    for (size_t i = 0; i < list->n; i++)
        if (list->v[i].index == index)
            return &list->v[i];
    return NULL;
}

void *sk__array_push(void *arrayp, size_t *n, size_t size)
{
    void **array = arrayp;
    char *p = realloc(*array, (*n + 1) * size);
    if (!p)
        return NULL;
    *array = p;
    memset(p + *n * size, 0, size);
    return p + (*n)++ * size;
}

static void copy_str(char *dst, size_t cap, const struct rtattr *a)
{
    if (!a)
        return;
    size_t n = strnlen(RTA_DATA(a), RTA_PAYLOAD(a));
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, RTA_DATA(a), n);
    dst[n] = '\0';
}

static void hex_colon(char *dst, size_t cap, const unsigned char *b, size_t n)
{
    size_t at = 0;
    dst[0] = '\0';
    for (size_t i = 0; i < n && at + 4 <= cap; i++)
        at += (size_t)snprintf(dst + at, cap - at, i ? ":%02x" : "%02x", b[i]);
}

static const char *operstate_name(unsigned s)
{
    static const char *const names[] = {"UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN",
                                        "TESTING", "DORMANT",    "UP"};
    return s < sizeof names / sizeof *names ? names[s] : "UNKNOWN";
}

static int on_link(const struct nlmsghdr *h, void *ctx)
{
    sk_iface_list *list = ctx;
    const struct ifinfomsg *ifi = NLMSG_DATA(h);
    if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof *ifi))
        return 0;
    sk_iface *f = sk__array_push(&list->v, &list->n, sizeof *list->v);
    if (!f)
        return -ENOMEM;
    f->index = (unsigned)ifi->ifi_index;
    f->flags = ifi->ifi_flags;
    f->type = ifi->ifi_type;
    const struct rtattr *attrs = IFLA_RTA(ifi);
    size_t len = IFLA_PAYLOAD(h);
    const struct rtattr *a;
    copy_str(f->name, sizeof f->name, sk__nl_attr(attrs, len, IFLA_IFNAME));
    if ((a = sk__nl_attr(attrs, len, IFLA_MTU)) && RTA_PAYLOAD(a) >= 4)
        memcpy(&f->mtu, RTA_DATA(a), 4);
    if ((a = sk__nl_attr(attrs, len, IFLA_ADDRESS)))
        hex_colon(f->hwaddr, sizeof f->hwaddr, RTA_DATA(a), RTA_PAYLOAD(a));
    a = sk__nl_attr(attrs, len, IFLA_OPERSTATE);
    snprintf(f->operstate, sizeof f->operstate, "%s",
             operstate_name(a ? *(const unsigned char *)RTA_DATA(a) : 0));
    if ((a = sk__nl_attr(attrs, len, IFLA_LINKINFO)))
        copy_str(f->kind, sizeof f->kind, sk__nl_attr(RTA_DATA(a), RTA_PAYLOAD(a), IFLA_INFO_KIND));
    return 0;
}

static int ip_from_attr(int family, const struct rtattr *a, sk_addr *out)
{
    memset(out, 0, sizeof *out);
    if (!a)
        return -1;
    if (family == AF_INET && RTA_PAYLOAD(a) >= 4) {
        out->u.in.sin_family = AF_INET;
        memcpy(&out->u.in.sin_addr, RTA_DATA(a), 4);
        out->len = sizeof out->u.in;
        return 0;
    }
    if (family == AF_INET6 && RTA_PAYLOAD(a) >= 16) {
        out->u.in6.sin6_family = AF_INET6;
        memcpy(&out->u.in6.sin6_addr, RTA_DATA(a), 16);
        out->len = sizeof out->u.in6;
        return 0;
    }
    return -1;
}

static bool same_ip(const sk_addr *a, const sk_addr *b)
{
    return sk_addr_equal(a, b);
}

static void addr_details(const struct ifaddrmsg *ifa, const struct rtattr *attrs, size_t len,
                         sk_ifaddr *x)
{
    const struct rtattr *a;
    x->prefix = ifa->ifa_prefixlen;
    x->scope = ifa->ifa_scope;
    x->flags = ifa->ifa_flags;
    if ((a = sk__nl_attr(attrs, len, IFA_FLAGS)) && RTA_PAYLOAD(a) >= 4)
        memcpy(&x->flags, RTA_DATA(a), 4); /* the 8-bit ifa_flags cannot hold the newer flags */
    ip_from_attr(ifa->ifa_family, sk__nl_attr(attrs, len, IFA_BROADCAST), &x->broadcast);
    copy_str(x->label, sizeof x->label, sk__nl_attr(attrs, len, IFA_LABEL));
    x->valid_lft = x->preferred_lft = UINT32_MAX;
    if ((a = sk__nl_attr(attrs, len, IFA_CACHEINFO)) &&
        RTA_PAYLOAD(a) >= sizeof(struct ifa_cacheinfo)) {
        const struct ifa_cacheinfo *ci = RTA_DATA(a);
        x->valid_lft = ci->ifa_valid;
        x->preferred_lft = ci->ifa_prefered;
    }
}

static int on_addr(const struct nlmsghdr *h, void *ctx)
{
    sk_iface_list *list = ctx;
    const struct ifaddrmsg *ifa = NLMSG_DATA(h);
    if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof *ifa))
        return 0;
    if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
        return 0;
    sk_iface *f = find_index(list, ifa->ifa_index);
    if (!f)
        return 0; /* an interface that appeared between the two dumps */
    const struct rtattr *attrs = IFA_RTA(ifa);
    size_t len = IFA_PAYLOAD(h);
    /* IFA_LOCAL is the address itself, IFA_ADDRESS the peer on a point-to-point link; IPv6 sends
     * only IFA_ADDRESS unless there is a peer (the rule `ip addr` follows). */
    sk_addr local, address;
    bool has_local = ip_from_attr(ifa->ifa_family, sk__nl_attr(attrs, len, IFA_LOCAL), &local) == 0;
    bool has_address =
        ip_from_attr(ifa->ifa_family, sk__nl_attr(attrs, len, IFA_ADDRESS), &address) == 0;
    if (!has_local && !has_address)
        return 0;
    if (!has_local)
        local = address;
    if (!has_address)
        address = local;
    sk_ifaddr *x = sk__array_push(&f->addrs, &f->naddrs, sizeof *f->addrs);
    if (!x)
        return -ENOMEM;
    x->addr = local;
    if (!same_ip(&local, &address))
        x->peer = address;
    if (local.u.sa.sa_family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&local.u.in6.sin6_addr))
        x->addr.u.in6.sin6_scope_id = f->index; /* ready to use: fe80::1%eth0 */
    addr_details(ifa, attrs, len, x);
    return 0;
}

static int dump(int type, size_t payload, sk__nl_fn fn, sk_iface_list *list)
{
    struct {
        struct nlmsghdr h;
        union {
            struct ifinfomsg link;
            struct ifaddrmsg addr;
        } body;
    } req;
    memset(&req, 0, sizeof req);
    req.h.nlmsg_len = (uint32_t)NLMSG_LENGTH(payload);
    req.h.nlmsg_type = (unsigned short)type;
    req.h.nlmsg_flags = NLM_F_DUMP;
    /* family AF_UNSPEC (0) in either body: every family */
    return sk__nl_request(&req.h, fn, list);
}

static int by_index(const void *a, const void *b)
{
    unsigned x = ((const sk_iface *)a)->index, y = ((const sk_iface *)b)->index;
    return x < y ? -1 : x > y;
}

int sk_ifaces_list(sk_iface_list *out)
{
    if (!out)
        return sk__fail(SK_EARG, "list interfaces: NULL list");
    memset(out, 0, sizeof *out);
    int rc = dump(RTM_GETLINK, sizeof(struct ifinfomsg), on_link, out);
    if (rc < 0) {
        sk_ifaces_free(out);
        return sk__fail(rc, "list interfaces (rtnetlink RTM_GETLINK)");
    }
    qsort(out->v, out->n, sizeof *out->v, by_index);
    rc = dump(RTM_GETADDR, sizeof(struct ifaddrmsg), on_addr, out);
    if (rc == 0)
        rc = sk__mgroups_read("/proc/net", out);
    if (rc < 0) {
        sk_ifaces_free(out);
        return sk__fail(rc, "list interface addresses (rtnetlink RTM_GETADDR)");
    }
    return 0;
}

void sk_ifaces_free(sk_iface_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++) {
        sk_iface *f = &list->v[i];
        for (size_t g = 0; g < f->ngroups; g++)
            free(f->groups[g].sources);
        free(f->groups);
        free(f->link_groups);
        free(f->addrs);
    }
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

const sk_iface *sk_ifaces_find(const sk_iface_list *list, const char *name_or_index)
{
    if (!list || !name_or_index || !*name_or_index)
        return NULL;
    char *end;
    unsigned long idx = strtoul(name_or_index, &end, 10);
    bool number = isdigit((unsigned char)*name_or_index) && !*end;
    for (size_t i = 0; i < list->n; i++)
        if (number ? list->v[i].index == idx : !strcmp(list->v[i].name, name_or_index))
            return &list->v[i];
    return NULL;
}

/* Append a word to a separated list in buf. */
static void add_word(char *buf, size_t len, size_t *at, const char *sep, const char *word)
{
    int n = snprintf(buf + *at, len - *at, "%s%s", *at ? sep : "", word);
    if (n > 0)
        *at = *at + (size_t)n < len ? *at + (size_t)n : len - 1;
}

int sk_iface_flags_format(unsigned flags, char *buf, size_t len)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        /* `ip link`'s order */
        {IFF_LOOPBACK, "LOOPBACK"},
        {IFF_BROADCAST, "BROADCAST"},
        {IFF_POINTOPOINT, "POINTOPOINT"},
        {IFF_MULTICAST, "MULTICAST"},
        {IFF_NOARP, "NOARP"},
        {IFF_ALLMULTI, "ALLMULTI"},
        {IFF_PROMISC, "PROMISC"},
        {IFF_NOTRAILERS, "NOTRAILERS"},
        {IFF_DEBUG, "DEBUG"},
        {IFF_DYNAMIC, "DYNAMIC"},
        {IFF_AUTOMEDIA, "AUTOMEDIA"},
        {IFF_PORTSEL, "PORTSEL"},
        {IFF_MASTER, "MASTER"},
        {IFF_SLAVE, "SLAVE"},
        {IFF_UP, "UP"},
        {IFF_LOWER_UP, "LOWER_UP"},
        {IFF_DORMANT, "DORMANT"},
        {IFF_ECHO, "ECHO"},
    };
    if (!buf || !len)
        return SK_EARG;
    size_t at = 0;
    buf[0] = '\0';
    if ((flags & IFF_UP) && !(flags & IFF_RUNNING))
        add_word(buf, len, &at, ",", "NO-CARRIER");
    flags &= ~(unsigned)IFF_RUNNING; /* LOWER_UP and NO-CARRIER say it better */
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (!(flags & names[i].bit))
            continue;
        add_word(buf, len, &at, ",", names[i].name);
        flags &= ~names[i].bit;
    }
    if (flags) {
        char rest[16];
        snprintf(rest, sizeof rest, "%x", flags);
        add_word(buf, len, &at, ",", rest);
    }
    return (int)at;
}

int sk_ifaddr_flags_format(const sk_ifaddr *a, char *buf, size_t len)
{
    /* `ip addr`'s words and order; IFA_F_SECONDARY is IFA_F_TEMPORARY for IPv6, and an address
     * without IFA_F_PERMANENT is "dynamic" */
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {IFA_F_SECONDARY, "secondary"},
        {IFA_F_NODAD, "nodad"},
        {IFA_F_OPTIMISTIC, "optimistic"},
        {IFA_F_DADFAILED, "dadfailed"},
        {IFA_F_HOMEADDRESS, "home"},
        {IFA_F_DEPRECATED, "deprecated"},
        {IFA_F_TENTATIVE, "tentative"},
        {IFA_F_PERMANENT, "dynamic"},
        {IFA_F_MANAGETEMPADDR, "mngtmpaddr"},
        {IFA_F_NOPREFIXROUTE, "noprefixroute"},
        {IFA_F_MCAUTOJOIN, "autojoin"},
#ifdef IFA_F_STABLE_PRIVACY
        {IFA_F_STABLE_PRIVACY, "stable-privacy"},
#endif
    };
    if (!a || !buf || !len)
        return SK_EARG;
    size_t at = 0;
    buf[0] = '\0';
    bool v6 = a->addr.u.sa.sa_family == AF_INET6;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        bool set = (a->flags & names[i].bit) != 0;
        if (names[i].bit == IFA_F_PERMANENT)
            set = !set;
        if (!set)
            continue;
        bool temp = names[i].bit == IFA_F_SECONDARY && v6;
        add_word(buf, len, &at, " ", temp ? "temporary" : names[i].name);
    }
    return (int)at;
}

const char *sk_scope_name(int scope)
{
    switch (scope) {
    case RT_SCOPE_UNIVERSE:
        return "global";
    case RT_SCOPE_SITE:
        return "site";
    case RT_SCOPE_LINK:
        return "link";
    case RT_SCOPE_HOST:
        return "host";
    case RT_SCOPE_NOWHERE:
        return "nowhere";
    default:
        return NULL;
    }
}
