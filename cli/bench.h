/* sockkit bench: what its files share. bench.c parses and runs a mode, bench_tcp.c has the
 * workers of echo, connect and stream, bench_report.c writes the intervals and the result,
 * bench_udp.c is `bench udp`. */
#ifndef SOCKKIT_CLI_BENCH_H
#define SOCKKIT_CLI_BENCH_H

#include "cli.h"
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
    int conns, threads, size, pipeline, duration_ms, warmup_ms;
    bool chart, reverse;
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
    atomic_uint tls_full;               /* --tls-resume: sampled handshakes that were full */
    pthread_barrier_t
        gate; /* echo --tls: the clock starts once every worker's handshakes are done */
};

struct bench_worker {
    struct bench_run *run;
    int first, n; /* connection ids */
    pthread_t thread;
    hist h;
    uint64_t requests, bytes, errors; /* measured */
    uint64_t starved;                 /* connections that got no reply during the measurement */
    uint64_t handshakes;              /* --tls (connect): handshakes done, warm-up included */
    char error[256];
    /* every request completed (stream: every byte moved), warm-up included, for the progress line
     * and the intervals; written by the worker, read by the main thread */
    atomic_uint_fast64_t progress;
};

/* bench_tcp.c */
void *bench_echo_worker(void *arg);
void *bench_connect_worker(void *arg);
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

#endif
