/* pcapng output of the traced traffic (draft-ietf-opsawg-pcapng), little endian.
 *
 * The file is a section header, one interface description per socket kind (enum sk__pcap_kind),
 * then an enhanced packet block per packet with an opt_comment naming the role and the call.
 * The library sees the bytes of socket calls, not packets, so TCP is synthesized: a handshake when
 * the connection is made, each chunk as segments with per-direction sequence numbers, each segment
 * acknowledged by the other side at once (no window ever fills), FIN or RST at the end; IP, TCP
 * and UDP checksums are computed so Wireshark checks them clean. Unix sockets have no IP packet:
 * their bytes go out as exported PDUs (LINKTYPE_WIRESHARK_UPPER_PDU) that Wireshark dissects as
 * "data".
 *
 * Each block is built whole and written with one write(2) under a mutex. A write that fails
 * (full disk) stops the output for good: the file is cut back to the last whole block, so it
 * stays readable, and sk__pcap_error() tells why. */
#include "pcap.h"

#include "internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

enum {
    BT_SHB = 0x0A0D0D0A,
    BT_IDB = 1,
    BT_EPB = 6,
    LINKTYPE_RAW = 101,
    LINKTYPE_UPPER_PDU = 252,
    OPT_COMMENT = 1,
    IF_NAME = 2,
    SHB_USERAPPL = 4,
    EXP_PDU_PROTO_NAME = 12, /* the dissector to hand the payload to */
    MAX_SEGMENT = 65495,     /* 65535 - 20 (IPv4 header) - 20 (TCP header) */
    TCP_FIN = 0x01,
    TCP_SYN = 0x02,
    TCP_RST = 0x04,
    TCP_PSH = 0x08,
    TCP_ACK = 0x10,
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool on;
static int out_fd = -1;
static int write_error; /* -errno of the write that stopped the output */
static uint16_t ip_id;

bool sk__pcap_on(void)
{
    return atomic_load_explicit(&on, memory_order_relaxed);
}

int sk__pcap_error(void)
{
    pthread_mutex_lock(&lock);
    int e = write_error;
    pthread_mutex_unlock(&lock);
    return e;
}

/* ---- block assembly ------------------------------------------------------------------------ */

struct buf {
    unsigned char *p;
    size_t n, cap;
};

static void put(struct buf *b, const void *src, size_t len)
{
    if (b->n + len <= b->cap)
        memcpy(b->p + b->n, src, len);
    b->n += len;
}
static void put16(struct buf *b, uint16_t v)
{
    put(b, &v, 2); /* pcapng fields in the writer's byte order: little endian here */
}
static void put32(struct buf *b, uint32_t v)
{
    put(b, &v, 4);
}
static void pad4(struct buf *b)
{
    static const unsigned char zero[4];
    put(b, zero, (4 - b->n % 4) % 4);
}
static void option(struct buf *b, uint16_t code, const void *v, size_t len)
{
    put16(b, code);
    put16(b, (uint16_t)len);
    put(b, v, len);
    pad4(b);
}
/* Close a block started at 0: the end-of-options, the trailing length, the leading length. */
static void finish(struct buf *b)
{
    put32(b, 0); /* opt_endofopt */
    put32(b, (uint32_t)(b->n + 4));
    uint32_t total = (uint32_t)b->n;
    if (b->cap >= 8)
        memcpy(b->p + 4, &total, 4);
}

/* One whole block, or nothing: a failed write cuts the file back to where the block began. */
static void write_block(const struct buf *b)
{
    if (out_fd < 0 || write_error)
        return;
    off_t start = lseek(out_fd, 0, SEEK_END); /* -1 on a pipe: nothing to cut back then */
    const unsigned char *p = b->p;
    size_t left = b->n;
    while (left) {
        ssize_t k = write(out_fd, p, left);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            write_error = k < 0 ? -errno : -ENOSPC;
            if (start >= 0 && ftruncate(out_fd, start) == 0)
                lseek(out_fd, start, SEEK_SET);
            atomic_store(&on, false);
            return;
        }
        p += k;
        left -= (size_t)k;
    }
}

static int start_blocks(void)
{
    static const char *names[SK__PCAP_KINDS] = {"tcp", "udp", "unix-stream", "unix-dgram",
                                                "unix-seqpacket"};
    unsigned char mem[128];
    struct buf b = {mem, 0, sizeof mem};
    put32(&b, BT_SHB);
    put32(&b, 0);
    put32(&b, 0x1A2B3C4D);
    put16(&b, 1);
    put16(&b, 0);
    put32(&b, 0xFFFFFFFF); /* section length: not known */
    put32(&b, 0xFFFFFFFF);
    option(&b, SHB_USERAPPL, "sockkit", 7);
    finish(&b);
    write_block(&b);
    for (int k = 0; k < SK__PCAP_KINDS; k++) {
        b.n = 0;
        put32(&b, BT_IDB);
        put32(&b, 0);
        put16(&b, k <= SK__PCAP_UDP ? LINKTYPE_RAW : LINKTYPE_UPPER_PDU);
        put16(&b, 0);
        put32(&b, 0); /* snaplen: no limit */
        option(&b, IF_NAME, names[k], strlen(names[k]));
        finish(&b);
        write_block(&b);
    }
    return write_error;
}

int sk__pcap_start(int fd)
{
    pthread_mutex_lock(&lock);
    out_fd = fd;
    write_error = 0;
    int rc = fd >= 0 ? start_blocks() : 0;
    atomic_store(&on, fd >= 0 && !rc);
    pthread_mutex_unlock(&lock);
    return rc;
}

/* An enhanced packet block of the kind's interface holding pkt, with the comment. */
static void packet(enum sk__pcap_kind kind, const void *pkt, size_t len, const char *comment)
{
    size_t clen = comment ? strlen(comment) : 0;
    if (clen > 60000)
        clen = 60000;
    size_t cap = 32 + len + 4 + clen + 8 + 8;
    struct buf b = {malloc(cap), 0, cap};
    if (!b.p)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    uint64_t us = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
    put32(&b, BT_EPB);
    put32(&b, 0);
    put32(&b, (uint32_t)kind);
    put32(&b, (uint32_t)(us >> 32));
    put32(&b, (uint32_t)us);
    put32(&b, (uint32_t)len);
    put32(&b, (uint32_t)len);
    put(&b, pkt, len);
    pad4(&b);
    if (clen)
        option(&b, OPT_COMMENT, comment, clen);
    finish(&b);
    pthread_mutex_lock(&lock);
    write_block(&b);
    pthread_mutex_unlock(&lock);
    free(b.p);
}

/* ---- IP, TCP, UDP -------------------------------------------------------------------------- */

/* An IPv4-mapped IPv6 address (a dual-stack socket talking to an IPv4 peer) as the IPv4 address
 * it is, so both ends of a packet have one family. */
static void normalize(sk_addr *a)
{
    if (a->u.sa.sa_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&a->u.in6.sin6_addr))
        return;
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = a->u.in6.sin6_port};
    memcpy(&v4.sin_addr, &a->u.in6.sin6_addr.s6_addr[12], 4);
    memset(&a->u, 0, sizeof a->u);
    memcpy(&a->u.in, &v4, sizeof v4);
    a->len = sizeof v4;
}

static uint32_t sum16(uint32_t s, const unsigned char *p, size_t len)
{
    for (; len > 1; p += 2, len -= 2)
        s += (uint32_t)(p[0] << 8 | p[1]);
    if (len)
        s += (uint32_t)(p[0] << 8);
    return s;
}
static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}
static void be16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}
static void be32(unsigned char *p, uint32_t v)
{
    be16(p, v >> 16);
    be16(p + 2, v);
}

static const void *ip_bytes(const sk_addr *a)
{
    return a->u.sa.sa_family == AF_INET ? (const void *)&a->u.in.sin_addr
                                        : (const void *)&a->u.in6.sin6_addr;
}
static uint16_t port_of(const sk_addr *a)
{
    return ntohs(a->u.sa.sa_family == AF_INET ? a->u.in.sin_port : a->u.in6.sin6_port);
}

/* An IP packet from src to dst around the transport header th (its checksum field at csum_at,
 * filled in here over the pseudo-header) and payload. */
static void ip_packet(enum sk__pcap_kind kind, const sk_addr *src, const sk_addr *dst, int proto,
                      unsigned char *th, size_t thlen, size_t csum_at, const void *data, size_t len,
                      const char *comment)
{
    bool v4 = src->u.sa.sa_family == AF_INET;
    size_t alen = v4 ? 4 : 16, iph = v4 ? 20 : 40, tlen = thlen + len;
    unsigned char *pkt = malloc(iph + tlen);
    if (!pkt)
        return;
    memset(pkt, 0, iph);
    if (v4) {
        pkt[0] = 0x45;
        be16(pkt + 2, (uint32_t)(iph + tlen));
        be16(pkt + 4, ip_id++);
        be16(pkt + 6, 0x4000); /* don't fragment */
        pkt[8] = 64;
        pkt[9] = (unsigned char)proto;
        memcpy(pkt + 12, ip_bytes(src), 4);
        memcpy(pkt + 16, ip_bytes(dst), 4);
        be16(pkt + 10, fold(sum16(0, pkt, 20)));
    } else {
        pkt[0] = 0x60;
        be16(pkt + 4, (uint32_t)tlen);
        pkt[6] = (unsigned char)proto;
        pkt[7] = 64;
        memcpy(pkt + 8, ip_bytes(src), 16);
        memcpy(pkt + 24, ip_bytes(dst), 16);
    }
    /* RFC 793 / RFC 768 / RFC 8200 8.1: the pseudo-header, then the segment */
    uint32_t s = sum16(0, ip_bytes(src), alen);
    s = sum16(s, ip_bytes(dst), alen);
    s += (uint32_t)proto + (uint32_t)(tlen & 0xffff) + (uint32_t)(tlen >> 16);
    be16(th + csum_at, 0);
    memcpy(pkt + iph, th, thlen);
    if (len) /* data is NULL for a segment without payload */
        memcpy(pkt + iph + thlen, data, len);
    uint16_t c = fold(sum16(s, pkt + iph, tlen));
    if (proto == IPPROTO_UDP && c == 0)
        c = 0xffff; /* 0 means "no checksum" in UDP */
    be16(pkt + iph + csum_at, c);
    packet(kind, pkt, iph + tlen, comment);
    free(pkt);
}

static void segment(struct sk__pcap_stream *s, bool out, int flags, const void *data, size_t len,
                    const char *comment)
{
    unsigned char th[20] = {0};
    const sk_addr *src = out ? &s->local : &s->peer, *dst = out ? &s->peer : &s->local;
    be16(th, port_of(src));
    be16(th + 2, port_of(dst));
    be32(th + 4, out ? s->snd : s->rcv);
    be32(th + 8, flags & TCP_ACK ? (out ? s->rcv : s->snd) : 0);
    th[12] = 5 << 4;
    th[13] = (unsigned char)flags;
    be16(th + 14, 65535);
    ip_packet(SK__PCAP_TCP, src, dst, IPPROTO_TCP, th, sizeof th, 16, data, len, comment);
}

/* The other side's acknowledgement of what just went (synthesized: its socket is not here). */
static void ack(struct sk__pcap_stream *s, bool out, const char *comment)
{
    char c[512];
    snprintf(c, sizeof c, "%s: the peer's ACK (synthesized)", comment ? comment : "");
    segment(s, !out, TCP_ACK, NULL, 0, out ? c : comment);
}

bool sk__pcap_tcp_addrs(struct sk__pcap_stream *s, int fd)
{
    *s = (struct sk__pcap_stream){0};
    s->local.len = s->peer.len = sizeof s->local.u;
    if (getsockname(fd, &s->local.u.sa, &s->local.len) < 0 ||
        getpeername(fd, &s->peer.u.sa, &s->peer.len) < 0)
        return false;
    normalize(&s->local);
    normalize(&s->peer);
    return s->local.u.sa.sa_family == s->peer.u.sa.sa_family &&
           (s->local.u.sa.sa_family == AF_INET || s->local.u.sa.sa_family == AF_INET6);
}

void sk__pcap_tcp_open(struct sk__pcap_stream *s, bool client, const char *comment)
{
    /* initial sequence numbers: any will do; distinct per direction so a reader tells them apart */
    uint32_t isn_l = (uint32_t)sk__now_us() * 2654435761u, isn_p = isn_l ^ 0x5a5a5a5au;
    char c[512];
    snprintf(c, sizeof c, "%s: the peer's %s (synthesized)", comment, client ? "SYN-ACK" : "SYN");
    s->open = true;
    if (client) {
        s->snd = isn_l;
        segment(s, true, TCP_SYN, NULL, 0, comment);
        s->rcv = isn_p;
        s->snd++;
        segment(s, false, TCP_SYN | TCP_ACK, NULL, 0, c);
        s->rcv++;
        segment(s, true, TCP_ACK, NULL, 0, comment);
    } else {
        s->rcv = isn_p;
        segment(s, false, TCP_SYN, NULL, 0, c);
        s->rcv++;
        s->snd = isn_l;
        segment(s, true, TCP_SYN | TCP_ACK, NULL, 0, comment);
        s->snd++;
        snprintf(c, sizeof c, "%s: the peer's ACK (synthesized)", comment);
        segment(s, false, TCP_ACK, NULL, 0, c);
    }
}

void sk__pcap_tcp_data(struct sk__pcap_stream *s, bool out, const void *data, size_t len,
                       const char *comment)
{
    const unsigned char *p = data;
    while (len) {
        size_t k = len < MAX_SEGMENT ? len : MAX_SEGMENT;
        segment(s, out, TCP_PSH | TCP_ACK, p, k, comment);
        if (out)
            s->snd += (uint32_t)k;
        else
            s->rcv += (uint32_t)k;
        ack(s, out, comment);
        p += k;
        len -= k;
    }
}

void sk__pcap_tcp_fin(struct sk__pcap_stream *s, bool out, const char *comment)
{
    if (out ? s->fin_out : s->fin_in)
        return;
    segment(s, out, TCP_FIN | TCP_ACK, NULL, 0, comment);
    if (out) {
        s->snd++;
        s->fin_out = true;
    } else {
        s->rcv++;
        s->fin_in = true;
    }
    ack(s, out, comment);
}

void sk__pcap_tcp_rst(struct sk__pcap_stream *s, const char *comment)
{
    segment(s, true, TCP_RST | TCP_ACK, NULL, 0, comment);
    s->fin_out = true;
}

static bool same(const sk_addr *a, const sk_addr *b)
{
    if (a->u.sa.sa_family != b->u.sa.sa_family || port_of(a) != port_of(b))
        return false;
    return !memcmp(ip_bytes(a), ip_bytes(b), a->u.sa.sa_family == AF_INET ? 4 : 16);
}

bool sk__pcap_tcp_mirrors(const struct sk__pcap_stream *a, const struct sk__pcap_stream *b)
{
    return b->open && same(&a->local, &b->peer) && same(&a->peer, &b->local);
}

void sk__pcap_udp(int fd, bool out, const sk_addr *peer, const void *data, size_t len,
                  const char *comment)
{
    sk_addr local = {.len = sizeof local.u}, other = {.len = sizeof other.u};
    if (getsockname(fd, &local.u.sa, &local.len) < 0)
        return;
    if (peer)
        other = *peer;
    else if (getpeername(fd, &other.u.sa, &other.len) < 0)
        return;
    normalize(&local);
    normalize(&other);
    if (local.u.sa.sa_family != other.u.sa.sa_family)
        return; /* an IPv6 socket sending to a mapped address: normalized above; else unknown */
    if (local.u.sa.sa_family != AF_INET && local.u.sa.sa_family != AF_INET6)
        return;
    size_t max = local.u.sa.sa_family == AF_INET ? 65535 - 28 : 65535 - 8;
    if (len > max)
        len = max; /* larger than IP allows: cannot be on a wire, the rest is left out */
    unsigned char uh[8] = {0};
    const sk_addr *src = out ? &local : &other, *dst = out ? &other : &local;
    be16(uh, port_of(src));
    be16(uh + 2, port_of(dst));
    be16(uh + 4, (uint32_t)(8 + len));
    ip_packet(SK__PCAP_UDP, src, dst, IPPROTO_UDP, uh, sizeof uh, 6, data, len, comment);
}

void sk__pcap_unix(enum sk__pcap_kind kind, const void *data, size_t len, const char *comment)
{
    /* exported PDU tags (big endian): the dissector's name, then the end of tags */
    unsigned char *pkt = malloc(12 + len);
    if (!pkt)
        return;
    be16(pkt, EXP_PDU_PROTO_NAME);
    be16(pkt + 2, 4);
    memcpy(pkt + 4, "data", 4);
    be32(pkt + 8, 0);
    if (len)
        memcpy(pkt + 12, data, len);
    packet(kind, pkt, 12 + len, comment);
    free(pkt);
}
