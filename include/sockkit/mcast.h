/* sockkit — UDP multicast done right, and datagram batches.
 *
 * A correct receiver is one call:
 *     int fd = sk_mcast_receiver("239.1.2.3:5000", NULL, NULL);   // any-source (ASM)
 *     int fd = sk_mcast_receiver("232.1.1.1:5000", "eth0", "10.0.0.1");  // source-specific (SSM)
 * It is a UDP socket with SO_REUSEADDR set before bind (so several receivers on one host each get
 * every packet; not SO_REUSEPORT, which would make them one load-balancing group that ignores each
 * one's source filter), bound to the group's port, joined through the
 * protocol-independent MCAST_JOIN_GROUP / MCAST_JOIN_SOURCE_GROUP (RFC 3678), with
 * IP_MULTICAST_ALL / IPV6_MULTICAST_ALL off so it receives only the groups it joined.
 *
 * Interfaces are named by name ("eth0"), index ("3") or one of their addresses ("10.0.0.1");
 * NULL lets the kernel choose by route.
 *
 * Threads: as sock.h: any thread, and on one fd as the system calls behave.
 */
#ifndef SOCKKIT_MCAST_H
#define SOCKKIT_MCAST_H

#include "addr.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

bool sk_addr_is_multicast(const sk_addr *a);
/* Source-specific range: 232.0.0.0/8 (RFC 4607) or ff3x::/32 (RFC 4607, RFC 3306). */
bool sk_addr_is_ssm(const sk_addr *a);

/* Interface index from a name, a number or one of its addresses. SK_EIFACE if none matches. */
int sk_iface_index(const char *iface);

/* Join / leave a group on a UDP socket. source NULL: any-source; otherwise source-specific, and
 * then the group must be in the SSM range (and an SSM group needs a source): SK_ESSM otherwise.
 * SK_ENOTDGRAM on a stream socket (the classic bug), SK_ENOTMCAST for a non-group address,
 * SK_ENOROUTE when no interface was named and the kernel has no route for the group. */
int sk_mcast_join(int fd, const sk_addr *group, const char *iface, const sk_addr *source);
int sk_mcast_leave(int fd, const sk_addr *group, const char *iface, const sk_addr *source);

/* Outgoing multicast of a socket of family AF_INET or AF_INET6. */
int sk_mcast_set_ttl(int fd, int ttl);  /* IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS, 1..255 */
int sk_mcast_set_loop(int fd, bool on); /* deliver to receivers on this host too */
/* IPv4: IP_MULTICAST_IF with the index and an address, the packets' source: the one named when
 * iface is an address, else the interface's first. IPv6: IPV6_MULTICAST_IF (the index only). */
int sk_mcast_set_iface(int fd, const char *iface);
/* IP_MULTICAST_ALL / IPV6_MULTICAST_ALL (Linux default on: every group any socket joined). */
int sk_mcast_set_all(int fd, bool on);

/* A bound, joined receiver for "GROUP:PORT" (source: NULL for ASM, an address for SSM).
 * An interface- or link-local IPv6 group (ff01::/16, ff02::/16) is one per link: it needs its
 * interface, as iface or the endpoint's zone ("[ff02::1%eth0]:5000"), else SK_EIFACE; the same
 * for sk_mcast_sender. */
int sk_mcast_receiver(const char *group_endpoint, const char *iface, const char *source);
/* A sender: a UDP socket connected to the group, with interface, TTL (1..255) and loop set; plain
 * sk_send reaches the group. An interface named by one of its addresses sends from that address
 * (IPv6: the socket is bound to it). */
int sk_mcast_sender(const char *group_endpoint, const char *iface, int ttl, bool loop);

/* ---- datagram batches (recvmmsg / sendmmsg) ------------------------------------------------- */

typedef struct sk_dgram {
    void *buf;
    size_t cap;   /* receive: room in buf */
    size_t len;   /* receive: bytes that came; send: bytes to send */
    sk_addr addr; /* receive: the sender; send: the destination (len 0 = the connected peer) */
} sk_dgram;

/* Receive up to n datagrams in one system call, waiting up to timeout_ms for the first. Returns
 * how many arrived (>= 1), -ETIMEDOUT, or another negative code. */
int sk_recv_batch(int fd, sk_dgram *v, size_t n, int timeout_ms);
/* Send n datagrams, as many per system call as the kernel takes. Returns how many went out (n
 * unless an error stopped it: then the count so far, or the error if none went). */
int sk_send_batch(int fd, const sk_dgram *v, size_t n, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
