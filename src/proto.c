/* Name and number tables of the socket API, with a line on what each is: IPPROTO_*, AF_*, SOCK_*
 * and socket options with their levels. Every entry is guarded, so the tables hold exactly what
 * this platform's headers define. */
#include "internal.h"

#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define N(name, summary)                                                                           \
    {                                                                                              \
#name, name, summary                                                                       \
    }

/* Canonical names first: when two names share a number the first one names it. */
static const sk_name protos[] = {
    N(IPPROTO_IP, "0 as socket()'s protocol: the default for the type; as a level: IPv4 options"),
#ifdef IPPROTO_HOPOPTS
    N(IPPROTO_HOPOPTS, "IPv6 hop-by-hop options header (shares 0 with IPPROTO_IP)"),
#endif
    N(IPPROTO_ICMP, "Internet Control Message Protocol (ping, unreachable messages)"),
    N(IPPROTO_IGMP, "Internet Group Management Protocol (IPv4 multicast membership)"),
    N(IPPROTO_IPIP, "IPv4 encapsulated in IPv4 (IP-in-IP tunnels)"),
    N(IPPROTO_TCP, "Transmission Control Protocol: reliable ordered byte stream (SOCK_STREAM)"),
    N(IPPROTO_EGP, "Exterior Gateway Protocol (historic routing)"),
    N(IPPROTO_PUP, "PARC Universal Packet (historic)"),
    N(IPPROTO_UDP, "User Datagram Protocol: unreliable datagrams (SOCK_DGRAM)"),
    N(IPPROTO_IDP, "Xerox NS IDP (historic)"),
    N(IPPROTO_TP, "ISO Transport Protocol class 4"),
#ifdef IPPROTO_DCCP
    N(IPPROTO_DCCP, "Datagram Congestion Control Protocol"),
#endif
    N(IPPROTO_IPV6, "IPv6 header (6in4 tunnels); as a setsockopt level: IPv6 options"),
#ifdef IPPROTO_ROUTING
    N(IPPROTO_ROUTING, "IPv6 routing header"),
#endif
#ifdef IPPROTO_FRAGMENT
    N(IPPROTO_FRAGMENT, "IPv6 fragmentation header"),
#endif
    N(IPPROTO_RSVP, "Resource Reservation Protocol"),
    N(IPPROTO_GRE, "Generic Routing Encapsulation (tunnels)"),
    N(IPPROTO_ESP, "IPsec Encapsulating Security Payload"),
    N(IPPROTO_AH, "IPsec Authentication Header"),
#ifdef IPPROTO_ICMPV6
    N(IPPROTO_ICMPV6, "ICMP for IPv6 (ping6, neighbour discovery)"),
#endif
#ifdef IPPROTO_NONE
    N(IPPROTO_NONE, "IPv6 'no next header'"),
#endif
#ifdef IPPROTO_DSTOPTS
    N(IPPROTO_DSTOPTS, "IPv6 destination options header"),
#endif
    N(IPPROTO_MTP, "Multicast Transport Protocol"),
#ifdef IPPROTO_BEETPH
    N(IPPROTO_BEETPH, "IP option pseudo header for BEET (IPsec)"),
#endif
    N(IPPROTO_ENCAP, "Encapsulation header"),
    N(IPPROTO_PIM, "Protocol Independent Multicast (multicast routing)"),
    N(IPPROTO_COMP, "IP payload compression"),
#ifdef IPPROTO_L2TP
    N(IPPROTO_L2TP, "Layer 2 Tunnelling Protocol v3"),
#endif
    N(IPPROTO_SCTP, "Stream Control Transmission Protocol (messages over associations)"),
#ifdef IPPROTO_MH
    N(IPPROTO_MH, "IPv6 mobility header"),
#endif
    N(IPPROTO_UDPLITE, "UDP-Lite: UDP with partial checksums"),
    N(IPPROTO_MPLS, "MPLS in IP"),
#ifdef IPPROTO_ETHERNET
    N(IPPROTO_ETHERNET, "Ethernet in IPv6 (segment routing)"),
#endif
    N(IPPROTO_RAW, "raw IP packets: the application writes the IP header (IP_HDRINCL)"),
#ifdef IPPROTO_MPTCP
    N(IPPROTO_MPTCP, "Multipath TCP (Linux socket protocol number, not on the wire)"),
#endif
};

static const sk_name families[] = {
    N(AF_UNSPEC, "unspecified: getaddrinfo returns every family"),
    N(AF_UNIX, "local (Unix domain) sockets: a path or an abstract name, never leaves the host"),
    N(AF_INET, "IPv4 (addresses like 127.0.0.1)"),
    N(AF_INET6, "IPv6 (addresses like ::1), and IPv4 through mapped addresses when dual-stack"),
#ifdef AF_NETLINK
    N(AF_NETLINK, "kernel <-> user messages (routing tables, interfaces)"),
#endif
#ifdef AF_PACKET
    N(AF_PACKET, "raw link-layer frames (what tcpdump uses)"),
#endif
#ifdef AF_BLUETOOTH
    N(AF_BLUETOOTH, "Bluetooth"),
#endif
#ifdef AF_CAN
    N(AF_CAN, "Controller Area Network (automotive buses)"),
#endif
#ifdef AF_VSOCK
    N(AF_VSOCK, "virtual machine <-> host sockets"),
#endif
#ifdef AF_ALG
    N(AF_ALG, "the kernel's crypto API"),
#endif
#ifdef AF_TIPC
    N(AF_TIPC, "Transparent Inter-Process Communication (clusters)"),
#endif
#ifdef AF_XDP
    N(AF_XDP, "express data path: zero-copy packet I/O"),
#endif
};

static const sk_name types[] = {
    N(SOCK_STREAM, "reliable ordered byte stream with connections (TCP, Unix stream)"),
    N(SOCK_DGRAM, "datagrams: each send is one message, may be lost or reordered (UDP)"),
    N(SOCK_SEQPACKET, "reliable ordered messages with boundaries (SCTP, Unix seqpacket)"),
    N(SOCK_RAW, "raw packets with their protocol headers (needs CAP_NET_RAW)"),
    N(SOCK_RDM, "reliably delivered messages without order (TIPC)"),
};

#define O(level, name, is_int, summary)                                                            \
    {                                                                                              \
#name, level, #level, name, summary, is_int                                                \
    }

static const sk_optname options[] = {
    O(SOL_SOCKET, SO_REUSEADDR, 1, "bind a port still in TIME_WAIT (servers restart at once)"),
    O(SOL_SOCKET, SO_REUSEPORT, 1, "several sockets bind the same port; the kernel spreads load"),
    O(SOL_SOCKET, SO_KEEPALIVE, 1, "probe an idle TCP connection to detect a dead peer"),
    O(SOL_SOCKET, SO_RCVBUF, 1, "receive buffer size in bytes (Linux doubles what is set)"),
    O(SOL_SOCKET, SO_SNDBUF, 1, "send buffer size in bytes (Linux doubles what is set)"),
    O(SOL_SOCKET, SO_LINGER, 0, "struct linger: close() waits to send, or resets with 0 s"),
    O(SOL_SOCKET, SO_BROADCAST, 1, "allow sending UDP to broadcast addresses"),
    O(SOL_SOCKET, SO_RCVTIMEO, 0, "struct timeval: blocking receive timeout"),
    O(SOL_SOCKET, SO_SNDTIMEO, 0, "struct timeval: blocking send timeout"),
    O(SOL_SOCKET, SO_ERROR, 1,
      "read and clear the pending error (result of a non-blocking connect)"),
    O(SOL_SOCKET, SO_TYPE, 1, "the socket type (SOCK_STREAM, ...); read-only"),
    O(SOL_SOCKET, SO_DOMAIN, 1, "the address family; read-only"),
    O(SOL_SOCKET, SO_PROTOCOL, 1, "the protocol actually used (6 for TCP even when 0 was given)"),
    O(SOL_SOCKET, SO_ACCEPTCONN, 1, "1 if the socket is listening; read-only"),
    O(SOL_SOCKET, SO_OOBINLINE, 1, "urgent (out-of-band) data stays in the normal stream"),
    O(SOL_SOCKET, SO_PRIORITY, 1, "queueing priority for outgoing packets"),
    O(SOL_SOCKET, SO_MARK, 1, "firewall mark for routing and filtering (CAP_NET_ADMIN)"),
    O(SOL_SOCKET, SO_BINDTODEVICE, 0, "string: send and receive only through this interface"),
    O(SOL_SOCKET, SO_RCVLOWAT, 1, "bytes that must be queued before a read is ready"),
    O(SOL_SOCKET, SO_SNDLOWAT, 1, "bytes of room before a write is ready (fixed on Linux)"),
#ifdef SO_BUSY_POLL
    O(SOL_SOCKET, SO_BUSY_POLL, 1, "microseconds to busy-poll the device on a blocking read"),
#endif
#ifdef SO_INCOMING_CPU
    O(SOL_SOCKET, SO_INCOMING_CPU, 1, "the CPU that handles this socket's packets"),
#endif
    O(IPPROTO_TCP, TCP_NODELAY, 1, "send small segments at once (turn Nagle's algorithm off)"),
    O(IPPROTO_TCP, TCP_KEEPIDLE, 1, "seconds idle before the first keepalive probe"),
    O(IPPROTO_TCP, TCP_KEEPINTVL, 1, "seconds between keepalive probes"),
    O(IPPROTO_TCP, TCP_KEEPCNT, 1, "unanswered probes before the connection is dropped"),
    O(IPPROTO_TCP, TCP_CORK, 1, "hold partial segments until uncorked (batch headers + body)"),
    O(IPPROTO_TCP, TCP_MAXSEG, 1, "maximum segment size"),
    O(IPPROTO_TCP, TCP_QUICKACK, 1, "acknowledge at once instead of delaying ACKs"),
#ifdef TCP_USER_TIMEOUT
    O(IPPROTO_TCP, TCP_USER_TIMEOUT, 1,
      "ms unacknowledged data may wait before the connection fails"),
#endif
#ifdef TCP_FASTOPEN
    O(IPPROTO_TCP, TCP_FASTOPEN, 1, "server: queue length for TCP Fast Open (data in the SYN)"),
#endif
    O(IPPROTO_TCP, TCP_DEFER_ACCEPT, 1, "seconds accept() waits for the first data"),
#ifdef TCP_NOTSENT_LOWAT
    O(IPPROTO_TCP, TCP_NOTSENT_LOWAT, 1, "unsent bytes above which the socket is not writable"),
#endif
    O(IPPROTO_TCP, TCP_CONGESTION, 0, "string: congestion control algorithm (cubic, bbr, ...)"),
    O(IPPROTO_IP, IP_TTL, 1, "time to live of outgoing unicast packets (hops)"),
    O(IPPROTO_IP, IP_TOS, 1, "type of service / DSCP byte"),
    O(IPPROTO_IP, IP_MULTICAST_TTL, 1, "TTL of outgoing multicast (1 = stay on the link)"),
    O(IPPROTO_IP, IP_MULTICAST_LOOP, 1, "deliver our own multicast to local receivers"),
    O(IPPROTO_IP, IP_MULTICAST_IF, 0, "struct ip_mreqn/in_addr: interface for outgoing multicast"),
    O(IPPROTO_IP, IP_ADD_MEMBERSHIP, 0, "struct ip_mreq: join an IPv4 multicast group (UDP only)"),
    O(IPPROTO_IP, IP_DROP_MEMBERSHIP, 0, "struct ip_mreq: leave an IPv4 multicast group"),
    O(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, 0, "struct ip_mreq_source: join for one source"),
#ifdef IP_MULTICAST_ALL
    O(IPPROTO_IP, IP_MULTICAST_ALL, 1, "1 (Linux default): get every group any socket joined"),
#endif
    O(IPPROTO_IP, IP_PKTINFO, 1, "receive the destination address and interface of each datagram"),
    O(IPPROTO_IP, IP_RECVTTL, 1, "receive the TTL of each datagram"),
    O(IPPROTO_IP, IP_FREEBIND, 1, "bind an address not (yet) on any interface"),
    O(IPPROTO_IP, IP_TRANSPARENT, 1, "transparent proxying (CAP_NET_ADMIN)"),
    O(IPPROTO_IP, IP_MTU_DISCOVER, 1, "path MTU discovery mode"),
    O(IPPROTO_IP, IP_HDRINCL, 1, "raw sockets: the application writes the IP header"),
    O(IPPROTO_IP, MCAST_JOIN_GROUP, 0, "struct group_req: join a group (any family, RFC 3678)"),
    O(IPPROTO_IP, MCAST_LEAVE_GROUP, 0, "struct group_req: leave a group (RFC 3678)"),
    O(IPPROTO_IP, MCAST_JOIN_SOURCE_GROUP, 0, "struct group_source_req: join for one source"),
    O(IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPv6 only; 0 lets an [::] socket take IPv4 too (dual-stack)"),
    O(IPPROTO_IPV6, IPV6_UNICAST_HOPS, 1, "hop limit of outgoing unicast packets"),
    O(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 1, "hop limit of outgoing multicast"),
    O(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 1, "deliver our own multicast to local receivers"),
    O(IPPROTO_IPV6, IPV6_MULTICAST_IF, 1, "interface index for outgoing multicast"),
    O(IPPROTO_IPV6, IPV6_JOIN_GROUP, 0, "struct ipv6_mreq: join an IPv6 multicast group"),
    O(IPPROTO_IPV6, IPV6_LEAVE_GROUP, 0, "struct ipv6_mreq: leave an IPv6 multicast group"),
#ifdef IPV6_MULTICAST_ALL
    O(IPPROTO_IPV6, IPV6_MULTICAST_ALL, 1, "1 (Linux default): get every group any socket joined"),
#endif
    O(IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "receive the destination address and interface"),
    O(IPPROTO_IPV6, IPV6_TCLASS, 1, "traffic class byte"),
};

#undef N
#undef O

#define COUNT(a) (sizeof(a) / sizeof *(a))

const sk_name *sk_proto_table(size_t *n)
{
    *n = COUNT(protos);
    return protos;
}

const sk_name *sk_family_table(size_t *n)
{
    *n = COUNT(families);
    return families;
}

const sk_name *sk_type_table(size_t *n)
{
    *n = COUNT(types);
    return types;
}

const sk_optname *sk_option_table(size_t *n)
{
    *n = COUNT(options);
    return options;
}

/* "tcp", "TCP", "IPPROTO_TCP" all match "IPPROTO_TCP" (prefix "IPPROTO_"). */
static bool name_matches(const char *full, const char *prefix, const char *want)
{
    if (!strcasecmp(full, want))
        return true;
    size_t p = strlen(prefix);
    return !strncmp(full, prefix, p) && !strcasecmp(full + p, want);
}

static bool is_number(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

static const sk_name *find(const sk_name *t, size_t n, const char *prefix, const char *want)
{
    if (!want)
        return NULL;
    if (is_number(want)) {
        long v = strtol(want, NULL, 10);
        for (size_t i = 0; i < n; i++)
            if (t[i].value == v)
                return &t[i];
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (name_matches(t[i].name, prefix, want))
            return &t[i];
    return NULL;
}

const sk_name *sk_proto_lookup(const char *name)
{
    return find(protos, COUNT(protos), "IPPROTO_", name);
}

static const char *name_of(const sk_name *t, size_t n, int value)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].value == value)
            return t[i].name;
    return "?";
}

const char *sk_proto_name(int proto)
{
    return name_of(protos, COUNT(protos), proto);
}

const char *sk_family_name(int family)
{
    return name_of(families, COUNT(families), family);
}

const char *sk_type_name(int type)
{
    return name_of(types, COUNT(types), type & ~(SOCK_CLOEXEC | SOCK_NONBLOCK));
}

const sk_optname *sk_option_lookup(const char *name)
{
    if (!name)
        return NULL;
    static const char *prefixes[] = {"SO_", "TCP_", "IP_", "IPV6_", "MCAST_"};
    for (size_t i = 0; i < COUNT(options); i++) {
        if (!strcasecmp(options[i].name, name))
            return &options[i];
    }
    /* without its prefix: "nodelay", "reuseaddr", "ttl" (the first level wins: SO_ before IP_) */
    for (size_t p = 0; p < COUNT(prefixes); p++)
        for (size_t i = 0; i < COUNT(options); i++)
            if (name_matches(options[i].name, prefixes[p], name))
                return &options[i];
    return NULL;
}

const char *sk_proto_etc_name(int proto, char *buf, size_t len)
{
    struct protoent pe, *res = NULL;
    char tmp[1024];
    if (getprotobynumber_r(proto, &pe, tmp, sizeof tmp, &res) != 0 || !res)
        return NULL;
    snprintf(buf, len, "%s", res->p_name);
    return buf;
}

struct explanation {
    const char *name;
    const char *text;
};

static const struct explanation explanations[] = {
    {"IPPROTO_IP",
     "IPPROTO_IP is 0, and 0 means two different things depending on where it is passed:\n"
     "\n"
     "1. As the protocol argument of socket(family, type, 0): \"the default protocol for this\n"
     "   socket type\". socket(AF_INET, SOCK_STREAM, 0) gets TCP, socket(AF_INET, SOCK_DGRAM, 0)\n"
     "   gets UDP. Python's socket.socket() passes 0 this way, which is why its default socket\n"
     "   shows IPPROTO_IP: it is not a protocol of its own. getsockopt(SO_PROTOCOL) afterwards\n"
     "   tells the protocol actually chosen (6 = IPPROTO_TCP, 17 = IPPROTO_UDP).\n"
     "\n"
     "2. As the level argument of setsockopt/getsockopt: the IPv4 layer. Options at this level\n"
     "   are IP_*: IP_TTL, IP_TOS, IP_MULTICAST_TTL, IP_ADD_MEMBERSHIP (joining a multicast "
     "group,\n"
     "   which only makes sense on a UDP socket), ... (see 'sockkit proto --options').\n"
     "\n"
     "Why IPPROTO_HOPOPTS is 0 too: protocol numbers are the values of the IPv4 'protocol' and\n"
     "the IPv6 'next header' fields (IANA's registry). On the wire 0 is IPv6's hop-by-hop\n"
     "options header, which can only follow an IPv6 header; IPv4 never carries 0. The socket API\n"
     "reused the otherwise idle 0 for 'default' and for 'the IP level', so two names with\n"
     "unrelated meanings share the number. /etc/protocols calls 0 'ip' for the same reason."},
    {"IPPROTO_TCP",
     "IPPROTO_TCP (6): the Transmission Control Protocol. A connection between exactly two\n"
     "endpoints carrying a reliable, ordered byte stream with no message boundaries: one send\n"
     "can arrive as several recvs and several sends as one (hence send_all and framed reads).\n"
     "The default protocol of SOCK_STREAM on AF_INET/AF_INET6. The server calls socket, bind,\n"
     "listen and accept (one new socket per client); the client calls socket and connect.\n"
     "As a setsockopt level it selects TCP_* options (TCP_NODELAY, TCP_KEEPIDLE, ...)."},
    {"IPPROTO_UDP",
     "IPPROTO_UDP (17): the User Datagram Protocol. No connection: each sendto is one datagram\n"
     "to the address it names, delivered whole or not at all, possibly reordered or duplicated.\n"
     "The default protocol of SOCK_DGRAM on AF_INET/AF_INET6. A 'server' just binds a port and\n"
     "calls recvfrom, which tells who sent each datagram; there is no listen and no accept.\n"
     "Multicast (IP_ADD_MEMBERSHIP / MCAST_JOIN_GROUP) works on UDP sockets only."},
    {"IPPROTO_IPV6",
     "IPPROTO_IPV6 (41): as a protocol number, an IPv6 packet inside IPv4 (6in4 tunnels). As a\n"
     "setsockopt level, the IPv6 layer: IPV6_V6ONLY (whether an [::] socket also takes IPv4),\n"
     "IPV6_UNICAST_HOPS, IPV6_MULTICAST_HOPS, IPV6_JOIN_GROUP, ..."},
    {"IPPROTO_RAW",
     "IPPROTO_RAW (255): with socket(AF_INET, SOCK_RAW, IPPROTO_RAW) the application builds the\n"
     "whole IP header itself (IP_HDRINCL is implied). Sending only; needs CAP_NET_RAW."},
    {"IPPROTO_ICMP",
     "IPPROTO_ICMP (1): the Internet Control Message Protocol: echo request/reply (ping),\n"
     "destination unreachable, time exceeded (traceroute). Linux lets unprivileged programs\n"
     "send echo requests with socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) when\n"
     "net.ipv4.ping_group_range allows; SOCK_RAW needs CAP_NET_RAW."},
    {"SOL_SOCKET",
     "SOL_SOCKET: the setsockopt level of the socket itself, whatever its protocol: SO_REUSEADDR,\n"
     "SO_KEEPALIVE, SO_RCVBUF, SO_SNDBUF, SO_LINGER, SO_ERROR, ... Other levels are protocol\n"
     "numbers: IPPROTO_IP for IP_*, IPPROTO_IPV6 for IPV6_*, IPPROTO_TCP for TCP_*."},
};

const char *sk_proto_explain(const char *name)
{
    if (!name)
        return NULL;
    const char *canonical = name;
    const sk_name *p = sk_proto_lookup(name);
    if (p)
        canonical = p->name;
    for (size_t i = 0; i < COUNT(explanations); i++)
        if (!strcasecmp(explanations[i].name, canonical))
            return explanations[i].text;
    return NULL;
}
