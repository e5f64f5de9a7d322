/* Sequence-numbered test packets, shared by `sockkit mcast` and `sockkit bench udp`: the packet
 * header, and per-stream accounting of received, lost, reordered and duplicated packets and of
 * RFC 3550 interarrival jitter.
 *
 * Header (big-endian), 28 bytes, then a pattern up to the packet size:
 *   0 "SKMC"   4 version (1)   5 flags (0)   6 header length (28)   8 sender id (u32)
 *   12 sequence (u64)   20 send time, ns since the Unix epoch (u64) */
#ifndef SOCKKIT_CLI_SEQPKT_H
#define SOCKKIT_CLI_SEQPKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEQPKT_HDR 28

/* Fill size bytes (>= SEQPKT_HDR) of buf with a packet. */
void seqpkt_write(unsigned char *buf, size_t size, uint32_t id, uint64_t seq, uint64_t send_ns);
/* True if buf holds one of our packets (magic, version 1, a header length from SEQPKT_HDR up to
 * len); then *id, *seq, *send_ns are set. Every field comes from the network: the callers treat
 * them as untrusted (seqstats_add range-checks the send time). */
bool seqpkt_parse(const unsigned char *buf, size_t len, uint32_t *id, uint64_t *seq,
                  uint64_t *send_ns);
uint64_t seqpkt_now_ns(void); /* CLOCK_REALTIME, as the send time */

/* A transit time recv_ns - send_ns whose magnitude is above this is refused: two accepted ones
 * then differ by less than 2^63, so the jitter arithmetic cannot overflow. (2^62 ns is 146 years:
 * no real clock offset between two hosts comes near it.) */
#define SEQPKT_MAX_TRANSIT_NS ((int64_t)(((uint64_t)1 << 62) - 1))
/* The one-way transit time recv_ns - send_ns; false (and *transit_ns untouched) when it is
 * outside +-SEQPKT_MAX_TRANSIT_NS, as a forged or broken send time can be. */
bool seqpkt_transit(uint64_t recv_ns, uint64_t send_ns, int64_t *transit_ns);

/* Test-only faults for a sender: comma-separated sequence numbers to leave out, to swap with the
 * next one, and to send twice. seqpkt_plan turns logical number `seq` into the numbers to emit
 * (0, 1 or 2 of them; a swapped pair comes out when its second arrives). */
typedef struct seqpkt_faults {
    const char *skip, *swap, *dup;
    bool pending;
    uint64_t held;
} seqpkt_faults;
int seqpkt_plan(seqpkt_faults *f, uint64_t seq, bool last, uint64_t out[3]);

typedef struct seqstats {
    uint64_t received, unique, dup, reorder, bytes;
    uint64_t min_seq, max_seq;
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
uint64_t seqstats_lost(const seqstats *s);
void seqstats_free(seqstats *s);

#endif
