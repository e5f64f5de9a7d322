/* sockkit — this host's network interfaces and routes, as the kernel reports them.
 *
 * sk_ifaces_list reads every interface (index, name, IFF_* flags, MTU), its IPv4 and IPv6
 * addresses (prefix, scope, IFA_F_* flags) through rtnetlink (RTM_GETLINK and RTM_GETADDR dumps),
 * and the multicast groups joined on it from /proc/net/igmp, /proc/net/igmp6 and
 * /proc/net/dev_mcast, with the source filters of source-specific joins from /proc/net/mcfilter and
 * /proc/net/mcfilter6. sk_route_get asks the kernel which interface and source address it would use
 * for a destination (RTM_GETROUTE, what `ip route get` shows).
 *
 * Threads: every function may be called from any thread; a list is the caller's (read it from
 * several threads at once if nothing frees it meanwhile).
 */
#ifndef SOCKKIT_IFACES_H
#define SOCKKIT_IFACES_H

#include "addr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One address on an interface. */
typedef struct sk_ifaddr {
    sk_addr addr;      /* port 0; a link-local IPv6 address carries its interface as scope id,
                        * so sk_addr_format writes "[fe80::1%eth0]:0" */
    sk_addr peer;      /* the other end of a point-to-point link, else family AF_UNSPEC */
    sk_addr broadcast; /* IPv4 broadcast address, else family AF_UNSPEC */
    int prefix;        /* prefix length: 24 in 10.0.0.1/24 */
    int scope;         /* RT_SCOPE_*: 0 global, 200 site, 253 link, 254 host */
    unsigned flags;    /* IFA_F_*: secondary, nodad, tentative, deprecated, permanent, ... */
    char label[16];    /* IPv4 label ("eth0:1"), else "" */
    uint32_t valid_lft, preferred_lft; /* seconds left; UINT32_MAX: forever */
} sk_ifaddr;

/* A source filter of a multicast group (RFC 3678): a source-specific join includes the source. */
typedef struct sk_mgroup_source {
    sk_addr addr;
    unsigned long include; /* joins that include this source */
    unsigned long exclude; /* joins that exclude it */
} sk_mgroup_source;

/* A multicast group joined on an interface (IPv4 or IPv6). */
typedef struct sk_mgroup {
    sk_addr group;             /* port 0 */
    int users;                 /* joins holding it (sockets and the kernel's own) */
    sk_mgroup_source *sources; /* source filters, none for any-source joins */
    size_t nsources;
    /* The kernel did not say whether this group has source filters. /proc/net/mcfilter and
     * mcfilter6 start their listing at the first interface whose newest group has a filter and
     * skip every interface before it (igmp_mcf_get_first looks only at the head of each list), so
     * the groups of a skipped interface (but its newest) are unknown, not filter-less. */
    bool sources_unknown;
} sk_mgroup;

/* A link-layer multicast address the interface listens to ("01:00:5e:00:00:01"). */
typedef struct sk_link_group {
    char addr[64];
    int users;
} sk_link_group;

typedef struct sk_iface {
    unsigned index;
    char name[16];  /* IF_NAMESIZE */
    unsigned flags; /* IFF_* (IFF_UP, IFF_LOOPBACK, IFF_MULTICAST, ..., IFF_LOWER_UP) */
    unsigned mtu;
    int type;           /* ARPHRD_* (1 Ethernet, 772 loopback, ...) */
    char hwaddr[64];    /* "02:fc:00:00:00:01", "" when the link has none */
    char kind[16];      /* the driver kind as `ip -d link` shows it ("veth", "bridge"), or "" */
    char operstate[16]; /* "UP", "DOWN", "UNKNOWN", ... (RFC 2863) */
    sk_ifaddr *addrs;
    size_t naddrs;
    sk_mgroup *groups;
    size_t ngroups;
    sk_link_group *link_groups;
    size_t nlink_groups;
} sk_iface;

typedef struct sk_iface_list {
    sk_iface *v; /* by index */
    size_t n;
} sk_iface_list;

/* Every interface with its addresses and groups. Free with sk_ifaces_free. Groups that cannot be
 * read (no /proc) leave the group arrays empty; only the netlink dumps can fail the call. */
int sk_ifaces_list(sk_iface_list *out);
void sk_ifaces_free(sk_iface_list *list);
/* The interface with this index or name in a list, or NULL. */
const sk_iface *sk_ifaces_find(const sk_iface_list *list, const char *name_or_index);

/* IFF_* flags as `ip link` writes them: "LOOPBACK,UP,LOWER_UP" (RUNNING left out; NO-CARRIER
 * when up without it). Returns the length. */
int sk_iface_flags_format(unsigned flags, char *buf, size_t len);
/* IFA_F_* flags of an address as `ip addr` writes them, space separated ("secondary",
 * "temporary" for an IPv6 privacy address, "dynamic" for one that is not permanent, "nodad",
 * "tentative", ...). "" for none. Returns the length. */
int sk_ifaddr_flags_format(const sk_ifaddr *a, char *buf, size_t len);
/* "global", "site", "link", "host", "nowhere"; NULL for another number. */
const char *sk_scope_name(int scope);

/* The kernel's answer for reaching an address. */
typedef struct sk_route {
    sk_addr dst;      /* as asked */
    sk_addr src;      /* the source address a socket would get, family AF_UNSPEC if none */
    sk_addr gateway;  /* the next hop, family AF_UNSPEC when the destination is on the link */
    unsigned ifindex; /* 0 if unknown */
    char iface[16];
    int type;       /* RTN_UNICAST, RTN_LOCAL, RTN_MULTICAST, RTN_BROADCAST, ...; 0 if unknown */
    unsigned table; /* routing table (254 main, 255 local), 0 if unknown */
    bool netlink;   /* answered by RTM_GETROUTE; false: by the fallback (a connected UDP socket's
                     * local address, and the interface holding it): no type, gateway or table */
} sk_route;

/* Which interface and source address the kernel would use to reach dst (its port is ignored; an
 * IPv6 scope id picks the interface). -ENETUNREACH, -EHOSTUNREACH, ... when there is no route. */
int sk_route_get(const sk_addr *dst, sk_route *out);
/* "unicast", "local", "broadcast", "multicast", "unreachable", "prohibit", "blackhole", ...;
 * NULL for another number. */
const char *sk_route_type_name(int type);

#ifdef __cplusplus
}
#endif
#endif
