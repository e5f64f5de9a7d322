/* Where `sockkit mcast` sends or listens: the interface of a group (named, or the kernel's choice
 * by route, as a join without an interface makes it), interfaces that can do multicast for
 * messages, and whether a sender on this host sends to a group. */
#ifndef SOCKKIT_CLI_MCAST_WHERE_H
#define SOCKKIT_CLI_MCAST_WHERE_H

#include "sockkit.h"

#include <net/if.h>
#include <stdbool.h>

struct mcast_where {
    unsigned index;             /* 0: unknown */
    char name[IF_NAMESIZE + 1]; /* "" when unknown */
    char addr[SK_ADDRSTRLEN];   /* an address of the interface in the group's family, or "" */
    bool by_route;              /* no interface was named: the kernel chose this one */
};

/* The interface `iface` names (or, NULL, the one the kernel routes `group` to). A usage error
 * (exit 2) listing every interface that can do multicast when `iface` names none. */
void mcast_where(const sk_addr *group, const char *iface, struct mcast_where *out);
/* An address without its port: "10.0.0.1", "[fe80::1%eth0]". */
void mcast_host_text(const sk_addr *a, char *buf, size_t len);
/* "eth0 (index 2, address 10.0.0.1)" */
void mcast_where_text(const struct mcast_where *w, char *buf, size_t len);
/* Some socket on this host is connected to the group's address and port: a local sender, as
 * `sockkit mcast send` makes them (/proc/net/udp and udp6). */
bool mcast_local_sender(const sk_addr *group);

#endif
