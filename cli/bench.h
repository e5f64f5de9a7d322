/* sockkit bench: what its files share. bench.c parses and runs a mode, bench_tcp.c has the
 * workers of echo and connect, bench_stream.c the one of stream, bench_report.c writes the
 * intervals and the result, bench_udp.c is `bench udp`. */
#ifndef SOCKKIT_CLI_BENCH_H
#define SOCKKIT_CLI_BENCH_H

#include "cli.h"
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
    int conns, threads, size, pipeline, duration_ms, warmup_ms;
    bool chart, reverse;
    bool bidir;     /* stream: send and receive at once on each connection */
    double bitrate; /* stream: bits/s in total over the connections, each direction; 0: no pacing */
    struct cli_common co;
};

/* One run: what every worker reads, and the flag that stops them all. */
struct bench_run {
    const struct bench_opts *o;
    sk_addr addr;
    uint64_t t_start, t_measure, t_end; /* CLOCK_MONOTONIC ns: warm-up, measuring, end */
    atomic_bool failed;                 /* a byte came back wrong */
};

struct bench_worker {
    struct bench_run *run;
    int first, n; /* connection ids */
    pthread_t thread;
    hist h;
    uint64_t requests, bytes, errors; /* measured (stream --bidir: bytes sent) */
    uint64_t rx_bytes;                /* stream --bidir: bytes received, measured */
    uint64_t starved;                 /* connections that got no reply during the measurement */
    char error[256];
    /* every request completed (stream: every byte moved), warm-up included, for the progress line
     * and the intervals; written by the worker, read by the main thread */
    atomic_uint_fast64_t progress;
    atomic_uint_fast64_t progress_rx; /* stream --bidir: bytes received, as progress */
};

/* bench_tcp.c */
void *bench_echo_worker(void *arg);
void *bench_connect_worker(void *arg);
/* bench_stream.c */
void *bench_stream_worker(void *arg);

/* What the workers measured, summed. */
struct bench_result {
    hist h;
    uint64_t requests, bytes, errors, starved;
    uint64_t rx_bytes; /* stream --bidir: received (bytes: sent) */
    const char *error;
    double user_s, sys_s, wall_s; /* this process's CPU time during the run, and the run's */
};

/* bench_report.c */
void bench_report_start(struct report *r, const struct bench_opts *o, const sk_addr *addr, int argc,
                        char **argv);
/* One interval: `count` requests (stream: bytes; --bidir: sent, and `count_rx` received) from
 * `from_ns` to `to_ns` of its phase. */
void bench_report_interval(struct report *r, const struct bench_opts *o, bool warmup,
                           uint64_t from_ns, uint64_t to_ns, uint64_t count, uint64_t count_rx);
/* The progress line on stderr (a terminal): the phase's clock and the current rate. */
void bench_progress(const struct bench_opts *o, bool warmup, uint64_t at_ns, double per_s);
void bench_progress_clear(void);
void bench_report_end(struct report *r, const struct bench_opts *o, const struct bench_result *res);

#endif
