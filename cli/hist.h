/* A high-dynamic-range histogram of latencies in nanoseconds: exact below 256 ns, then each
 * power-of-two range split into 128 linear buckets, so a bucket is at most 1/128 of its values wide
 * (< 0.8 %; the midpoint reported is within 0.4 % of any value in it). Values up to 2^40 ns. */
#ifndef SOCKKIT_CLI_HIST_H
#define SOCKKIT_CLI_HIST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HIST_SUB     128
#define HIST_BUCKETS (256 + 33 * HIST_SUB)

typedef struct hist {
    uint64_t count[HIST_BUCKETS];
    uint64_t total, min, max;
    long double sum;
} hist;

void hist_init(hist *h);
void hist_add(hist *h, uint64_t ns);
void hist_merge(hist *into, const hist *from);
/* The value at percentile p (0..100]: the midpoint of the bucket holding that rank, clamped to
 * [min, max]. 0 when empty. */
uint64_t hist_percentile(const hist *h, double p);
double hist_mean(const hist *h);
/* Bucket i's value range [lo, hi). */
void hist_bucket_range(int i, uint64_t *lo, uint64_t *hi);
int hist_bucket_of(uint64_t ns);
/* "40.1 us", "1.23 ms": a latency in ns with the unit that suits it (at most 9 characters). */
void hist_format_ns(char *buf, size_t len, double ns);
/* A terminal chart within 80 columns: `rows` log-spaced ranges between min and max, each with its
 * count, the cumulative percentage (never rounded up to 100 before the last sample) and a bar
 * (at least one mark for any range that holds a sample). */
void hist_chart(const hist *h, FILE *out, int rows);
/* An SVG plot of the latency percentiles as HdrHistogram draws them: x is the percentile on a
 * log scale of 1/(1 - percentile) (0%, 90%, 99%, 99.9%, ...), up to the one the number of samples
 * supports (1 - 1/samples); y the latency, from 0, with round ticks and the unit in its title.
 * Returns 0 or -errno. */
int hist_svg(const hist *h, const char *path, const char *title, const char *subtitle);

#endif
