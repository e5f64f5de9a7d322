/* sockkit bench: what its files share. bench.c parses and runs a mode, bench_tcp.c has the
 * workers of echo, connect and stream, bench_report.c writes the intervals and the result,
 * bench_udp.c is `bench udp`. */
#ifndef SOCKKIT_CLI_BENCH_H
#define SOCKKIT_CLI_BENCH_H

#include "cli.h"
#include "hdrlog.h"
#include "hist.h"
#include "opts.h"
#include "report.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define BENCH_MAX_PIPE 1024

enum bench_mode { BENCH_ECHO, BENCH_CONNECT, BENCH_STREAM };

struct bench_opts {
    enum bench_mode mode;
    const char *name; /* "echo", "connect", "stream" */
    const char *endpoint, *svg;
    const char *hdr_log; /* --hdr-log FILE, or NULL */
    int conns, threads, size, pipeline, duration_ms, warmup_ms;
    bool chart, reverse;
    struct cli_common co;
};

/* One run: what every worker reads, and the flag that stops them all. */
struct bench_run {
    const struct bench_opts *o;
    sk_addr addr;
    uint64_t t_start, t_measure, t_end; /* CLOCK_MONOTONIC ns: warm-up, measuring, end */
    atomic_bool failed;                 /* a byte came back wrong */
    struct hdr_log *hdr;                /* --hdr-log: the open log (bench_hdr.c) */
    uint64_t hdr_from;                  /* the start of its next interval, ns into measuring */
};

struct bench_worker {
    struct bench_run *run;
    int first, n; /* connection ids */
    pthread_t thread;
    pthread_mutex_t lock; /* around h: --hdr-log reads it while the worker runs */
    hist h;
    uint64_t requests, bytes, errors; /* measured */
    uint64_t starved;                 /* connections that got no reply during the measurement */
    char error[256];
    /* every request completed (stream: every byte moved), warm-up included, for the progress line
     * and the intervals; written by the worker, read by the main thread */
    atomic_uint_fast64_t progress;
};

/* A measured latency into the worker's histogram. */
static inline void bench_record(struct bench_worker *w, uint64_t ns)
{
    pthread_mutex_lock(&w->lock);
    hist_add(&w->h, ns);
    pthread_mutex_unlock(&w->lock);
}

/* bench_tcp.c */
void *bench_echo_worker(void *arg);
void *bench_connect_worker(void *arg);
void *bench_stream_worker(void *arg);

/* What the workers measured, summed. */
struct bench_result {
    hist h;
    uint64_t requests, bytes, errors, starved;
    const char *error;
    double user_s, sys_s, wall_s; /* this process's CPU time during the run, and the run's */
};

/* bench_report.c */
void bench_report_start(struct report *r, const struct bench_opts *o, const sk_addr *addr, int argc,
                        char **argv);
/* One interval: `count` requests (stream: bytes) from `from_ns` to `to_ns` of its phase. */
void bench_report_interval(struct report *r, const struct bench_opts *o, bool warmup,
                           uint64_t from_ns, uint64_t to_ns, uint64_t count);
/* The progress line on stderr (a terminal): the phase's clock and the current rate. */
void bench_progress(const struct bench_opts *o, bool warmup, uint64_t at_ns, double per_s);
void bench_progress_clear(void);
void bench_report_end(struct report *r, const struct bench_opts *o, const struct bench_result *res);
/* The latency of h: a "latency_us" object (samples, min, p50, p90, p99, p99_9, max, mean, and
 * the histogram itself as "hdr_histogram", hdrlog.h), or the text table. */
void bench_json_latency(struct json *j, const hist *h);
void bench_text_latency(const hist *h);

/* bench_merge.c: `bench merge`. */
enum { O_MERGE_NOCHART = 300 };
extern const struct cli_cmd cli_cmd_bench_merge;
int bench_merge(int argc, char **argv);

/* bench_hdr.c: --hdr-log. Open (exit 2 when the file cannot be made) before the workers start;
 * a tick per interval of the measurement but its last (from/to: ns into measuring); the close
 * writes the last interval and the total after the joins. Each does nothing without --hdr-log. */
void bench_hdr_open(struct bench_run *run);
void bench_hdr_tick(struct bench_run *run, struct bench_worker *w, uint64_t from_ns,
                    uint64_t to_ns);
void bench_hdr_close(struct bench_run *run, const struct bench_result *res);

#endif
