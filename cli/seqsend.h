/* A paced sender of sequence-numbered packets (seqpkt.h) on a connected UDP socket: `bench udp`
 * and `mcast send` (and the test helper tests/helpers/mcast_faults.c, with a fault plan). It sends
 * each due batch with one sendmmsg (or, with .gso, as UDP GSO datagrams of up to 64 packets),
 * stops at the count, the end time or SIGINT/SIGTERM, and then sends the end marker three times
 * with the count of numbers it handed out.
 * Pacing: packet n is due at t0 + n / rate; the sender wakes on the 1 ms ticks from t0
 * (SEQSEND_TICK_NS, as iperf3's pacing timer), sends every packet due by then and sleeps until
 * the next tick, so a rate above 1000/s goes out in bursts of rate/1000, on time on average, and
 * costs 1000 wake-ups a second rather than one per packet. Behind its schedule (a batch or more
 * due at once: a busy machine) it sends at full speed until it has caught up. */
#ifndef SOCKKIT_CLI_SEQSEND_H
#define SOCKKIT_CLI_SEQSEND_H

#include "seqpkt.h"
#include "sockkit.h"

#include <stdbool.h>
#include <stdint.h>

#define SEQSEND_FLUSH   UINT64_MAX /* plan(): the run ends, emit what is held back */
#define SEQSEND_TICK_NS 1000000u   /* the pacing tick */
#define SEQSEND_GSO_MAX 64         /* segments per GSO send (the kernel's limit before 5.5) */

struct seqsend {
    /* set by the caller */
    int fd;         /* connected UDP socket */
    int stop;       /* stop_fd_open() */
    uint32_t id;    /* sender id */
    int size;       /* bytes per packet, >= SEQPKT_HDR */
    double rate;    /* packets per second, 0: as fast as it can (bench udp -b: fractional) */
    uint64_t count; /* numbers to send, 0: no limit */
    uint64_t t_end; /* CLOCK_MONOTONIC ns, UINT64_MAX: no limit */
    /* optional: the numbers to emit for number seq (0 to 2 of them; tests' faults) */
    int (*plan)(void *ctx, uint64_t seq, bool last, uint64_t out[3]);
    void *plan_ctx;
    /* optional: called between batches with the time, for intervals and progress lines */
    void (*tick)(void *ctx, uint64_t now);
    void *tick_ctx;
    /* optional: send a batch as one datagram the kernel cuts into packets (UDP GSO, UDP_SEGMENT)
     * where it can: one trip through the stack for up to SEQSEND_GSO_MAX packets instead of one
     * each (bench udp; not with --trace or --pcap, which see each datagram of sendmmsg). Refused
     * once (a device without checksum offload, a packet over the MTU, an old kernel), it falls
     * back to sendmmsg for the rest of the run. */
    bool gso;
    /* results */
    uint64_t t0;      /* when sending began: the caller's (its t_end's base), or 0: now */
    uint64_t next;    /* numbers handed out */
    uint64_t sent;    /* datagrams sent */
    uint64_t refused; /* batches refused (ICMP port unreachable: no receiver yet), sent again */
    bool stopped;     /* by a signal */
    /* internal */
    unsigned char *pkts;
    sk_dgram v[SEQPKT_BATCH];
    int held;     /* datagrams in v not sent yet */
    bool gso_off; /* the kernel refused GSO: sendmmsg from then on */
};

/* Send until done. Exits 1 with one line if a send fails. */
void seqsend_run(struct seqsend *s);
void seqsend_free(struct seqsend *s);

#endif
