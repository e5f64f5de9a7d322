/* sockkit bench: what its files share. bench.c parses and runs a mode, bench_tcp.c has the
 * workers of echo and connect, bench_stream.c the one of stream, bench_report.c writes the
 * intervals and the result, bench_udp.c is `bench udp`. */
#ifndef SOCKKIT_CLI_BENCH_H
#define SOCKKIT_CLI_BENCH_H

#include "cli.h"
#include "hdrlog.h"
#include "hist.h"
#include "opts.h"
#include "report.h"
#include "tls.h"

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
    double rate; /* --rate: requests/s in all on a fixed schedule (open loop); 0: closed loop */
    bool chart, reverse;
    bool bidir;     /* stream: send and receive at once on each connection */
    double bitrate; /* stream: bits/s in total over the connections, each direction; 0: no pacing */
    bool tls_resume; /* bench connect --tls-resume: resumed handshakes, not full ones */
    struct cli_tls tls;
    struct cli_common co;
};

/* One run: what every worker reads, and the flag that stops them all. */
struct bench_run {
    const struct bench_opts *o;
    sk_addr addr;
    sk_tls_ctx *tls;    /* --tls: the client context every connection shares (NULL: plain TCP) */
    char tls_host[256]; /* --tls: the name sent and verified (--sni, else ENDPOINT's host) */
    uint64_t t_start, t_measure, t_end; /* CLOCK_MONOTONIC ns: warm-up, measuring, end */
    atomic_bool failed;                 /* a byte came back wrong */
    /* open loop (o->rate > 0): request k of the run (counted over all connections from 0) is
     * due at bench_slot_time(run, k) and goes on connection k % conns */
    double slot_ns;       /* 1e9 / rate */
    uint64_t t_stop;      /* no request is sent nor awaited after this (t_end + BENCH_DRAIN_NS) */
    bool intervals;       /* workers keep the interval histograms (bench_worker.iv) */
    struct hdr_log *hdr;  /* --hdr-log: the open log (bench_hdr.c) */
    uint64_t hdr_from;    /* the start of its next interval, ns into measuring */
    atomic_uint tls_full; /* --tls-resume: sampled handshakes that were full */
    atomic_uint tls_sampled; /* --tls-resume: handshakes sampled (every 64th of a worker) */
    pthread_barrier_t
        gate; /* echo --tls: the clock starts once every worker's handshakes are done */
};

/* How long after the end of the measurement the replies to measured requests are
 * awaited (open loop: and late requests still sent) before the ones missing are counted
 * unanswered (closed loop: left out). */
#define BENCH_DRAIN_NS 2000000000ull

/* The latencies of one interval: `lat` from the intended send time in the open loop (from the
 * send in the closed loop); `unc` from the actual send and `lag` (actual - intended send), open
 * loop only. */
struct bench_hists {
    hist lat, unc, lag;
};

struct bench_worker {
    struct bench_run *run;
    int first, n; /* connection ids */
    pthread_t thread;
    pthread_mutex_t lock; /* around h: --hdr-log reads it while the worker runs */
    hist h;
    hist unc, lag;                    /* open loop: see struct bench_hists */
    uint64_t requests, bytes, errors; /* measured (stream --bidir: bytes sent) */
    uint64_t rx_bytes;                /* stream --bidir: bytes received, measured */
    uint64_t starved;                 /* connections that got no reply during the measurement */
    uint64_t sent;                    /* open loop: measured requests sent (on time or late) */
    uint64_t last_sent;               /* open loop: when the last of them was sent (ns) */
    uint64_t full;                    /* open loop: connections that had BENCH_MAX_PIPE in flight */
    uint64_t warmup_unsent;           /* open loop: warm-up requests dropped at the measurement */
    bool warmup_over;                 /* open loop: the drop above was looked for (once) */
    uint64_t last_done;               /* open loop: when the last measured reply came (ns) */
    uint64_t handshakes;              /* --tls (connect): handshakes done, warm-up included */
    char error[256];
    /* since the last interval (warm-up included), when run->intervals: the worker adds, the main
     * thread takes them (bench_take_interval) */
    pthread_mutex_t iv_lock;
    struct bench_hists iv;
    /* every request completed (stream: every byte moved), warm-up included, for the progress line
     * and the intervals; written by the worker, read by the main thread */
    atomic_uint_fast64_t progress;
    atomic_uint_fast64_t progress_rx; /* stream --bidir: bytes received, as progress */
};

/* Open loop: when request k is due (CLOCK_MONOTONIC ns), and the first k due at or after t. */
uint64_t bench_slot_time(const struct bench_run *run, uint64_t k);
uint64_t bench_slot_at(const struct bench_run *run, uint64_t t);

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
/* bench_stream.c */
void *bench_stream_worker(void *arg);

/* bench_tls.c: --tls for echo and connect */
/* The context and the name to verify into run (nothing without --tls), and one handshake with
 * the server, so a server that does not speak TLS (or a certificate refused) is one line, exit 1,
 * before anything starts. */
void bench_tls_setup(struct bench_run *run);
/* echo --tls: the workers make their handshakes before the clock starts (1,000 full handshakes
 * can take seconds, longer than any warm-up). bench_tls_gated: whether this run does; a worker
 * calls bench_tls_gate when its connections are open (or it gave up), the main thread
 * bench_tls_gate_main, which sets the clock with set_clock between the two barrier waits. */
bool bench_tls_gated(const struct bench_run *run);
void bench_tls_gate(struct bench_run *run);
void bench_tls_gate_main(struct bench_run *run, void (*set_clock)(struct bench_run *));
/* A connected fd into a TLS connection (blocking handshake, 5 s): 0 or a negative code with
 * sk_errmsg() set. */
int bench_tls_open(struct bench_run *run, int fd, sk_tls **out);
/* send(2) and recv(2) through t, never waiting: -1 with errno EAGAIN when the fd must be ready
 * first, EPROTO for a TLS failure (recv: 0 at close_notify, -1 with ECONNRESET at a TCP end
 * without it). */
ssize_t bench_tls_send(sk_tls *t, const void *buf, size_t len);
ssize_t bench_tls_recv(sk_tls *t, void *buf, size_t len);
/* close_notify, then free t (the caller closes the fd). */
void bench_tls_close(sk_tls *t);
/* bench connect --tls: the handshake on fd, the message out, its echo into in, close_notify.
 * With --tls-resume, every 64th handshake is checked for having been resumed (the check costs). */
bool bench_tls_exchange(struct bench_worker *w, int fd, const void *out, void *in, size_t size);

/* What the workers measured, summed. */
struct bench_result {
    hist h;
    hist unc, lag; /* open loop: see struct bench_hists */
    uint64_t requests, bytes, errors, starved;
    uint64_t scheduled, sent; /* open loop: measured requests due, and sent */
    uint64_t full;            /* open loop: connections that had BENCH_MAX_PIPE in flight */
    uint64_t warmup_unsent;   /* open loop: warm-up requests still unsent when measuring began */
    double sent_seconds;      /* open loop: from the start of the measurement to the last send */
    double done_seconds;      /* open loop: ... to the last reply (at least the duration each) */
    uint64_t rx_bytes;        /* stream --bidir: received (bytes: sent) */
    const char *error;
    double user_s, sys_s, wall_s; /* this process's CPU time during the run, and the run's */
};

/* bench_report.c */
void bench_report_start(struct report *r, const struct bench_opts *o, const sk_addr *addr, int argc,
                        char **argv);
/* One interval: `count` requests (stream: bytes; --bidir: sent, and `count_rx` received) from
 * `from_ns` to `to_ns` of its phase. */
void bench_report_interval(struct report *r, const struct bench_opts *o, bool warmup,
                           uint64_t from_ns, uint64_t to_ns, uint64_t count, uint64_t count_rx,
                           const struct bench_hists *iv);
/* The open loop's verdicts. Kept: every measured request was sent, at 99 % of the rate asked or
 * more. Late: the generator's own lag (actual - intended send) was over BENCH_LAG_OK_NS at p99, so
 * the corrected latencies hold that much of its own delay. */
#define BENCH_LAG_OK_NS 1000000u
bool bench_schedule_kept(const struct bench_opts *o, const struct bench_result *res);
bool bench_generator_late(const struct bench_result *res);
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
