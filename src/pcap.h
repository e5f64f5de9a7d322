/* pcap.c: the traced traffic as pcapng (draft-ietf-opsawg-pcapng), for Wireshark and tshark.
 * Internal to the library: trace.c calls these from its hooks, with its own lock held, so the
 * per-stream state below is only ever touched by one thread at a time. */
#ifndef SOCKKIT_PCAP_H
#define SOCKKIT_PCAP_H

#include "sockkit.h"

#include <stdbool.h>
#include <stdint.h>

/* The interface blocks, one per socket kind; the packets of a kind name its block's index. */
enum sk__pcap_kind {
    SK__PCAP_TCP,         /* LINKTYPE_RAW: IPv4 or IPv6 packets */
    SK__PCAP_UDP,         /* LINKTYPE_RAW */
    SK__PCAP_UNIX_STREAM, /* LINKTYPE_WIRESHARK_UPPER_PDU: exported PDUs dissected as "data" */
    SK__PCAP_UNIX_DGRAM,
    SK__PCAP_UNIX_SEQ,
    SK__PCAP_KINDS
};

/* One TCP connection as seen from one of its sockets, written as a synthesized stream. */
struct sk__pcap_stream {
    bool open;    /* the handshake is written */
    bool fin_out; /* this socket's FIN is written */
    bool fin_in;  /* the peer's FIN is written */
    sk_addr local, peer;
    uint32_t snd, rcv; /* next sequence number of this side and of the peer */
};

/* Start writing to fd (the section header and the interface blocks); the fd is not closed by
 * the library. fd < 0 stops. Returns 0 or -errno of the first write. */
int sk__pcap_start(int fd);
bool sk__pcap_on(void);
/* 0, or -errno of the write that stopped the output (full disk, ...). */
int sk__pcap_error(void);

/* TCP. The addresses of fd from getsockname/getpeername into a fresh *s; false if it has none
 * (not connected) or they are not IP. Then the handshake: client, this socket made the
 * connection (the SYN goes out from it). */
bool sk__pcap_tcp_addrs(struct sk__pcap_stream *s, int fd);
void sk__pcap_tcp_open(struct sk__pcap_stream *s, bool client, const char *comment);
/* Payload in segments of at most 65495 bytes, each acknowledged by the other side. */
void sk__pcap_tcp_data(struct sk__pcap_stream *s, bool out, const void *data, size_t len,
                       const char *comment);
void sk__pcap_tcp_fin(struct sk__pcap_stream *s, bool out, const char *comment);
void sk__pcap_tcp_rst(struct sk__pcap_stream *s, const char *comment);
/* Is b open, with a's addresses reversed (the other socket of a connection both of whose ends
 * are traced here)? */
bool sk__pcap_tcp_mirrors(const struct sk__pcap_stream *a, const struct sk__pcap_stream *b);

/* A UDP datagram of fd; peer NULL: its connected peer. */
void sk__pcap_udp(int fd, bool out, const sk_addr *peer, const void *data, size_t len,
                  const char *comment);
/* Bytes of a Unix socket (the addresses are in the comment). */
void sk__pcap_unix(enum sk__pcap_kind kind, const void *data, size_t len, const char *comment);

#endif
