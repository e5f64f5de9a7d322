/* Sending at a bitrate: `-b/--bitrate` as iperf3 writes it (bench stream, bench udp), and the
 * pacer that keeps a byte stream to it.
 *
 * A bitrate is bits per second, a decimal number with an optional decimal suffix: k = 10^3,
 * M = 10^6, G = 10^9, T = 10^12 (either case; "1.5G", "500k", "100M", "100000"), as iperf3's -b.
 *
 * The pacer is a token bucket refilled every tick (1 ms) on a fixed schedule from the start: by
 * tick k (k = 0 at the start) it has allowed (k + 1) ticks' worth of bytes, and a sender may send
 * what it allows. A sender that fell behind (the machine was busy, the peer slow) catches up at
 * full speed, as iperf3's does, so the average over the run is the requested rate whenever the
 * machine can produce it; when it cannot, the report says so (achieved against requested). */
#ifndef SOCKKIT_CLI_BITRATE_H
#define SOCKKIT_CLI_BITRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BITRATE_MAX      1e12     /* 1 Tbit/s: more is a typo */
#define PACER_TICK_NS    1000000u /* the bucket's refill period */
#define BITRATE_KEPT_MIN 0.98     /* achieved/requested below this: "could not keep the rate" */

/* The bits per second in text into *bps. Returns 0, or -1 for anything but a number > 0 (with
 * k, M, G or T) up to BITRATE_MAX. */
int bitrate_parse(const char *text, double *bps);
/* The same for an option: a bad value is one line and exit 2. */
double cli_parse_bitrate(const char *text, const char *what);
/* "50.0 Mbit/s", "1.25 Gbit/s", "800 bit/s". */
void bitrate_format(char *buf, size_t len, double bps);

struct pacer {
    uint64_t t0;         /* CLOCK_MONOTONIC ns of tick 0 */
    double bytes_per_ns; /* the rate */
    uint64_t done;       /* bytes sent (the caller adds them) */
};

void pacer_init(struct pacer *p, double bits_per_second, uint64_t t0);
/* Bytes the bucket allows at `now` (0: wait for pacer_next()). */
uint64_t pacer_allowed(const struct pacer *p, uint64_t now);
/* The start of the tick at which the bucket next allows a byte. */
uint64_t pacer_next(const struct pacer *p);

#endif
