/* Sequence-numbered test packets, shared by `sockkit mcast` and `sockkit bench udp`: the packet
 * header, and per-stream accounting of received, lost, reordered and duplicated packets and of
 * RFC 3550 interarrival jitter.
 *
 * Header (big-endian), 28 bytes, then a pattern up to the packet size:
 *   0 "SKMC"   4 version (1)   5 flags   6 header length (28)   8 sender id (u32)
 *   12 sequence (u64)   20 send time, ns since the Unix epoch (u64)
 * Flags: 0 for a data packet; SEQPKT_F_END for the end marker a sender sends (three times) when it
 * stops: its sequence field is the number of data packets it sent (numbered from 0), so a receiver
 * can count the ones missing after the last it got. */
#ifndef SOCKKIT_CLI_SEQPKT_H
#define SOCKKIT_CLI_SEQPKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEQPKT_HDR   28
#define SEQPKT_F_END 0x01

/* datagrams per sendmmsg/recvmmsg, and the largest datagram a receiver takes (UDP's limit) */
#define SEQPKT_BATCH     64
#define SEQPKT_DGRAM_MAX 65536

/* Fill size bytes (>= SEQPKT_HDR) of buf with a packet. */
void seqpkt_write(unsigned char *buf, size_t size, uint32_t id, uint64_t seq, uint64_t send_ns);
/* True if buf holds one of our packets (magic, version 1, a header length from SEQPKT_HDR up to
 * len); then *id, *seq, *send_ns are set. Every field comes from the network: the callers treat
 * them as untrusted (seqstats_add range-checks the send time). */
bool seqpkt_parse(const unsigned char *buf, size_t len, uint32_t *id, uint64_t *seq,
                  uint64_t *send_ns);
uint64_t seqpkt_now_ns(void); /* CLOCK_REALTIME, as the send time */
/* The end marker (SEQPKT_HDR bytes into buf): `count` data packets were sent, numbered from 0. */
void seqpkt_write_end(unsigned char *buf, uint32_t id, uint64_t count, uint64_t send_ns);
/* True if buf, which seqpkt_parse accepted, is an end marker (its sequence is then the count). */
bool seqpkt_is_end(const unsigned char *buf);

/* A transit time recv_ns - send_ns whose magnitude is above this is refused: two accepted ones
 * then differ by less than 2^63, so the jitter arithmetic cannot overflow. (2^62 ns is 146 years:
 * no real clock offset between two hosts comes near it.) */
#define SEQPKT_MAX_TRANSIT_NS ((int64_t)(((uint64_t)1 << 62) - 1))
/* The one-way transit time recv_ns - send_ns; false (and *transit_ns untouched) when it is
 * outside +-SEQPKT_MAX_TRANSIT_NS, as a forged or broken send time can be. */
bool seqpkt_transit(uint64_t recv_ns, uint64_t send_ns, int64_t *transit_ns);

typedef struct seqstats {
    uint64_t received, unique, dup, reorder, bytes;
    uint64_t min_seq, max_seq;
    uint64_t first_seq;               /* the first number that came */
    uint64_t first_rx_ns, last_rx_ns; /* when the first and the last packet came */
    uint64_t sent;                    /* the sender's count, from its end marker */
    bool sent_known;
    unsigned char *seen; /* bitmap over seq - base, for duplicates */
    uint64_t base;
    size_t bits;
    double jitter_ns;
    int64_t last_transit;
    bool have_transit;
    uint64_t bad_time; /* packets whose send time was out of range: left out of the jitter */
} seqstats;

/* Count one packet with sequence number seq, received at recv_ns and stamped send_ns by its
 * sender (both ns since the Unix epoch). Any values are safe: a send time outside
 * seqpkt_transit's range leaves the jitter alone (counted in bad_time), and the duplicate bitmap
 * grows only with the packets that came, never to a forged number far ahead. */
void seqstats_add(seqstats *s, uint64_t seq, size_t bytes, uint64_t recv_ns, uint64_t send_ns);
/* Lost between the lowest and the highest number that came. */
uint64_t seqstats_lost(const seqstats *s);
/* The sender's end marker said it sent `count` packets. */
void seqstats_end(seqstats *s, uint64_t count);

/* Every loss the receiver can know of: the gaps, the numbers before the first that came (senders
 * number from 0), and, once the sender's count is known (its end marker, or `expected` > 0: a
 * count the receiver was told), the numbers after the last. */
typedef struct seqloss {
    uint64_t gaps, before, after, total;
} seqloss;
seqloss seqstats_loss(const seqstats *s, uint64_t expected);
/* Packets per second over the time packets were arriving (first to last): NAN when fewer than
 * two came or they came within 10 ms, too short a time for a rate. */
double seqstats_rate(const seqstats *s);
void seqstats_free(seqstats *s);

#endif
