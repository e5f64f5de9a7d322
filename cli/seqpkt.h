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
/* True if buf holds one of our packets; then *id, *seq, *send_ns are set. */
bool seqpkt_parse(const unsigned char *buf, size_t len, uint32_t *id, uint64_t *seq,
                  uint64_t *send_ns);
uint64_t seqpkt_now_ns(void); /* CLOCK_REALTIME, as the send time */

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
} seqstats;

void seqstats_add(seqstats *s, uint64_t seq, size_t bytes, int64_t transit_ns);
uint64_t seqstats_lost(const seqstats *s);
void seqstats_free(seqstats *s);

#endif
