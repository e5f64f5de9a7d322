/* sockkit bench: measure a server.
 *   echo     N connections on T threads (an epoll loop each) doing ping-pong of S-byte messages
 *            with P in flight; every byte that comes back is checked against what was sent
 *   connect  new connections per second: connect, one message, its echo, close
 *   stream   bulk one-way throughput to a sink (or from a source with --reverse)
 *   udp      datagrams per second and loss (bench_udp.c)
 * This file parses a mode's options, runs its workers (bench_tcp.c) and watches them: the
 * progress line, the -i intervals; bench_report.c writes the result. */
#include "bench.h"
#include "bitrate.h"
#include "ticks.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

enum {
    O_THREADS = 256,
    O_SIZE,
    O_PIPELINE,
    O_WARMUP,
    O_SVG,
    O_NOCHART,
    O_RATE,
    O_HDRLOG,
    O_BIDIR,
    O_TLS_RESUME
};

/* --rate's upper bound: a slot every 10 ns is already far beyond one process */
#define BENCH_MAX_RATE 1e8

/* Short letters as iperf3 and nc users know them (docs/cli.md, "bench and mcast"): -t is time,
 * -P parallel, -R reverse; -s, -w, -p and -l stay netcat's (source, timeout, port, listen), so
 * size, warm-up and pipeline are long options only. */
/* clang-format off */
#define OPT_CONNS                                                                                  \
    {'c', "connections", CLI_ARG, "N", "concurrent connections (default 1)", NULL},                \
    {'P', "parallel", CLI_ARG, "N", "the same as -c (iperf3's -P)", NULL}
#define OPT_TIME                                                                                   \
    {'d', "duration", CLI_ARG, "SECS", "measured time (default 5)", NULL},                         \
    {'t', "time", CLI_ARG, "SECS", "the same as -d (iperf3's -t)", NULL},                          \
    {O_WARMUP, "warmup", CLI_ARG, "SECS",                                                          \
     "unmeasured time first (default 1; iperf3's --omit)", NULL}
#define OPT_RATE                                                                                   \
    {O_RATE, "rate", CLI_ARG, "R",                                                                 \
     "open loop: R requests/s in all on a fixed schedule (200, 1.5k, 2M); latency from the "      \
     "intended send time", NULL}
#define OPT_LATENCY                                                                                \
    {O_SVG, "svg", CLI_ARG, "FILE", "an SVG plot of the latency percentiles", "@file"},            \
    {O_NOCHART, "no-chart", CLI_NOARG, NULL, "no latency histogram in the report", NULL},         \
    {O_HDRLOG, "hdr-log", CLI_ARG, "FILE",                                                         \
     "the latency histograms as an HdrHistogram interval log (per -i interval, or 1 s)", "@file"}
/* Accepted only to say where they belong (help NULL: neither listed nor completed). */
#define OPT_ELSEWHERE                                                                              \
    {'s', NULL, CLI_ARG, NULL, NULL, NULL}, {'w', NULL, CLI_ARG, NULL, NULL, NULL},                \
    {'p', NULL, CLI_ARG, NULL, NULL, NULL}
/* stream's, in the tables of echo and connect to say where they belong */
#define OPT_STREAM_ONLY                                                                            \
    {'b', "bitrate", CLI_ARG, NULL, NULL, NULL}, {O_BIDIR, "bidir", CLI_NOARG, NULL, NULL, NULL}
#define OPT_TLS                                                                                    \
    CLI_OPT_TLS_CLIENT,                                                                            \
    {O_TLS_RESUME, "tls-resume", CLI_NOARG, NULL,                                                  \
     "with --tls: resume the session of an earlier connection (default: full handshakes)", NULL}
#define OPT_SHARED                                                                                 \
    CLI_OPT_INTERVAL, CLI_OPT_JSON, CLI_OPT_JSON_LINES, CLI_OPT_VERBOSE, CLI_OPT_QUIET,            \
    CLI_OPT_TRACE, CLI_OPT_HELP, CLI_OPT_END
/* clang-format on */

static const struct cli_opt echo_opts[] = {
    OPT_CONNS,
    {O_THREADS, "threads", CLI_ARG, "T", "threads, each an epoll loop (default 1)", NULL},
    {O_SIZE, "size", CLI_ARG, "BYTES", "message size (default 64; 1k = 1024)", NULL},
    {O_PIPELINE, "pipeline", CLI_ARG, "P", "messages in flight per connection (default 1)", NULL},
    OPT_RATE,
    OPT_TIME,
    OPT_LATENCY,
    OPT_ELSEWHERE,
    {'R', "reverse", CLI_NOARG, NULL, NULL, NULL},
    OPT_STREAM_ONLY,
    OPT_TLS,
    OPT_SHARED,
};
static const struct cli_opt connect_opts[] = {
    OPT_CONNS,
    {O_SIZE, "size", CLI_ARG, "BYTES", "message size (default 64; 1k = 1024)", NULL},
    OPT_RATE,
    OPT_TIME,
    OPT_LATENCY,
    OPT_ELSEWHERE,
    {O_THREADS, "threads", CLI_ARG, NULL, NULL, NULL},
    {O_PIPELINE, "pipeline", CLI_ARG, NULL, NULL, NULL},
    {'R', "reverse", CLI_NOARG, NULL, NULL, NULL},
    OPT_STREAM_ONLY,
    OPT_TLS,
    OPT_SHARED,
};
static const struct cli_opt stream_opts[] = {
    OPT_CONNS,
    {O_SIZE, "size", CLI_ARG, "BYTES", "bytes per write (or read) call (default 128k = 131072)",
     NULL},
    {'R', "reverse", CLI_NOARG, NULL, "read from a source server instead of writing to a sink",
     NULL},
    {O_BIDIR, "bidir", CLI_NOARG, NULL,
     "write and read at once on each connection (a server that does both: serve source), each "
     "direction reported",
     NULL},
    {'b', "bitrate", CLI_ARG, "BITS",
     "pace to BITS/s in total per direction (100M, 1.5G, 500k: decimal, as iperf3; 1 ms token "
     "bucket; with -R: the reads)",
     NULL},
    OPT_TIME,
    OPT_ELSEWHERE,
    {O_THREADS, "threads", CLI_ARG, NULL, NULL, NULL},
    {O_PIPELINE, "pipeline", CLI_ARG, NULL, NULL, NULL},
    {O_SVG, "svg", CLI_ARG, NULL, NULL, NULL},
    {O_NOCHART, "no-chart", CLI_NOARG, NULL, NULL, NULL},
    {O_HDRLOG, "hdr-log", CLI_ARG, NULL, NULL, NULL},
    {CLI_KEY_TLS, "tls", CLI_NOARG, NULL, NULL, NULL},
    OPT_SHARED,
};

#define BENCH_FOOTER                                                                               \
    "-v says where it connects and when measuring starts; -q leaves out the progress\n"            \
    "line. The progress line shows on stderr when it is a terminal (not with -i,\n"                \
    "--json or --json-lines)."
#define STREAM_FOOTER                                                                              \
    BENCH_FOOTER "\n\n"                                                                            \
                 "--bitrate is the total over --connections (iperf3's -b is per stream), each\n"   \
                 "connection paced at its share by a token bucket refilled every 1 ms; a sender\n" \
                 "that fell behind catches up at full speed. The report gives the achieved rate\n" \
                 "against the requested one and says when the machine could not keep it."

const struct cli_cmd cli_cmd_bench_echo = {
    .name = "bench echo",
    .summary = "ping-pong of --size messages on --connections, checking every byte",
    .synopsis = "[options] ENDPOINT",
    .about = "Ping-pong of --size messages on --connections (--pipeline in flight on each) from\n"
             "--threads epoll loops; every byte that comes back is checked against what was\n"
             "sent. Reports requests/s, throughput and the latency distribution.\n"
             "With --rate R (open loop) requests are sent on a fixed schedule whatever the\n"
             "replies do (several in flight on a connection when the server is slow), and\n"
             "latency is reported from the intended send time (corrected) and from the\n"
             "actual send (uncorrected), with the generator's own lag.\n"
             "With --tls every connection runs TLS; the handshakes are made before the clock\n"
             "starts.",
    .opts = echo_opts,
    .footer = BENCH_FOOTER,
};

const struct cli_cmd cli_cmd_bench_connect = {
    .name = "bench connect",
    .summary = "new connections per second: connect, one message, its echo, close",
    .synopsis = "[options] ENDPOINT",
    .about = "New connections per second against an echo server: connect, one --size message,\n"
             "its echo (checked), close, on --connections workers at once. With --rate R\n"
             "(open loop) each worker starts its exchanges on a fixed schedule; one that is\n"
             "due while the previous one runs starts late, its latency counted from when it\n"
             "was due.\n"
             "With --tls each connection is a TLS handshake (full; resumed with --tls-resume)\n"
             "and ends with close_notify: handshakes per second.",
    .opts = connect_opts,
    .footer = BENCH_FOOTER,
};

const struct cli_cmd cli_cmd_bench_stream = {
    .name = "bench stream",
    .summary = "one-way throughput to a sink server (-R: from a source server)",
    .synopsis = "[options] ENDPOINT",
    .about = "One-way throughput: --connections connections write --size blocks to a sink\n"
             "server (sockkit serve sink); with --reverse they read from a source server\n"
             "(sockkit serve source). No latency: nothing comes back to time.",
    .opts = stream_opts,
    .footer = STREAM_FOOTER,
};

static const struct cli_opt bench_parent_opts[] = {
    CLI_OPT_HELP,
    CLI_OPT_END,
};
static const struct cli_cmd *const bench_modes[] = {&cli_cmd_bench_echo,   &cli_cmd_bench_connect,
                                                    &cli_cmd_bench_stream, &cli_cmd_bench_udp,
                                                    &cli_cmd_bench_merge,  NULL};
const struct cli_cmd cli_cmd_bench = {
    .name = "bench",
    .summary = "measure an echo server: requests/s, latency, connection rate, throughput",
    .synopsis = "echo|connect|stream|udp [options] ENDPOINT\n"
                "       sockkit bench merge [options] FILE...",
    .opts = bench_parent_opts,
    .subs = bench_modes,
    .footer = "'sockkit bench MODE --help' for a mode's options.",
    .run = cmd_bench,
};

static int parse_secs(const char *text, const char *what, bool positive)
{
    int ms = cli_parse_seconds_ms(text, what);
    if (positive && !ms)
        cli_usage_error("%s must be more than 0 seconds", what);
    return ms;
}

/* An option this mode's table has only to say where it belongs: one line, exit 2. */
static void elsewhere(const struct bench_opts *o, int c)
{
    switch (c) {
    case 's':
        cli_usage_error("-s is not a bench option (in nc it is the source address): the message "
                        "size is --size");
    case 'w':
        cli_usage_error("-w is not a bench option (in nc it is the timeout): the warm-up is "
                        "--warmup");
    case 'p':
        cli_usage_error("-p is not a bench option (in nc it is the port): messages in flight are "
                        "--pipeline (bench echo)");
    case 'R':
        cli_usage_error("--reverse is for bench stream only (bench %s times echoes)", o->name);
    case O_BIDIR:
        cli_usage_error("--bidir is for bench stream only (bench %s times echoes)", o->name);
    case 'b':
        cli_usage_error("--bitrate is for bench stream and bench udp (bench %s times echoes)",
                        o->name);
    case O_SVG:
    case O_NOCHART:
    case O_HDRLOG:
        cli_usage_error("--%s is for bench echo and connect (bench stream times no latency)",
                        c == O_SVG      ? "svg"
                        : c == O_HDRLOG ? "hdr-log"
                                        : "no-chart");
    case CLI_KEY_TLS:
        cli_usage_error("--tls is for bench echo and connect (bench stream has no TLS yet)");
    default:
        cli_usage_error("--%s is for bench echo only", c == O_THREADS ? "threads" : "pipeline");
    }
}

/* Which mode takes the option (the tables list the others hidden, for elsewhere()). */
static bool takes(const struct bench_opts *o, int c)
{
    switch (c) {
    case 's':
    case 'w':
    case 'p':
        return false;
    case 'R':
    case 'b':
    case O_BIDIR:
        return o->mode == BENCH_STREAM;
    case O_SVG:
    case O_NOCHART:
    case O_HDRLOG:
    case CLI_KEY_TLS:
        return o->mode != BENCH_STREAM;
    case O_THREADS:
    case O_PIPELINE:
        return o->mode == BENCH_ECHO;
    case O_RATE:
        return o->mode != BENCH_STREAM;
    default:
        return true;
    }
}

/* One option of a TCP mode into o. */
static void bench_option(struct bench_opts *o, int c, char **argv)
{
    if (!takes(o, c))
        elsewhere(o, c);
    if (cli_tls_option(c, optarg, &o->tls))
        return;
    switch (c) {
    case 'c':
    case 'P':
        o->conns = (int)cli_parse_long(optarg, 1, 100000, c == 'c' ? "--connections" : "-P");
        break;
    case O_THREADS:
        o->threads = (int)cli_parse_long(optarg, 1, 256, "--threads");
        break;
    case O_SIZE:
        o->size = (int)cli_parse_size(optarg, 1, 16 << 20, "--size");
        break;
    case O_PIPELINE:
        o->pipeline = (int)cli_parse_long(optarg, 1, BENCH_MAX_PIPE, "--pipeline");
        break;
    case 'd':
    case 't':
        o->duration_ms = parse_secs(optarg, c == 'd' ? "--duration" : "--time", true);
        break;
    case O_WARMUP:
        o->warmup_ms = parse_secs(optarg, "--warmup", false);
        break;
    case O_RATE:
        o->rate = cli_parse_rate(optarg, BENCH_MAX_RATE, "--rate", "requests");
        break;
    case O_SVG:
        o->svg = optarg;
        break;
    case O_NOCHART:
        o->chart = false;
        break;
    case O_HDRLOG:
        o->hdr_log = optarg;
        break;
    case 'R':
        o->reverse = true;
        break;
    case O_BIDIR:
        o->bidir = true;
        break;
    case 'b':
        o->bitrate = cli_parse_bitrate(optarg, "--bitrate");
        break;
    case O_TLS_RESUME:
        o->tls_resume = true;
        break;
    default:
        cli_bad_option(c, argv);
    }
}

static void bench_parse(struct bench_opts *o, const struct cli_cmd *cmd, int argc, char **argv)
{
    struct cli_parser p = CLI_PARSER(cmd);
    int c;
    bool pipeline = false;
    while ((c = cli_next_option(&p, argc, argv, &o->co)) != -1) {
        bench_option(o, c, argv);
        pipeline |= c == O_PIPELINE;
    }
    if (pipeline && o->rate > 0)
        cli_usage_error("--pipeline is for the closed loop: with --rate the schedule decides how "
                        "many requests are in flight");
    if (argc - optind != 1)
        cli_usage_error(argc - optind ? "takes one ENDPOINT" : "missing ENDPOINT");
    o->endpoint = argv[optind];
    sk_endpoint ep;
    cli_check_endpoint(o->endpoint, 0, &ep);
    if (o->bidir && o->reverse)
        cli_usage_error("--bidir already reads from the server: leave out --reverse");
    cli_tls_check(&o->tls);
    if (o->tls_resume && !o->tls.on)
        cli_usage_error("--tls-resume goes with --tls");
    o->tls.no_resume = !o->tls_resume;
    if (o->size < 0)
        o->size = o->mode == BENCH_STREAM ? 131072 : 64;
    if (o->mode != BENCH_ECHO)
        o->threads = o->conns; /* one worker per connection */
    if (o->threads > o->conns)
        o->threads = o->conns;
}

/* The endpoint's first address, and one connection to it (with --tls, in bench_tls_setup), so an
 * unreachable endpoint is one line before anything starts. */
static sk_addr bench_target(const struct bench_opts *o)
{
    struct cli_where where = {.endpoint = o->endpoint, .type = SOCK_STREAM};
    sk_addr_list list;
    int rc = sk_resolve(o->endpoint, AF_UNSPEC, SOCK_STREAM, 0, &list);
    if (rc < 0)
        cli_fail_at(rc, &where);
    sk_addr addr = list.v[0];
    sk_addr_list_free(&list);
    /* --tls: bench_tls_setup's probe is a handshake (a bare connect would be a TLS server's error)
     */
    int probe = o->tls.on ? -1 : sk_connect_addr(&addr, SOCK_STREAM, 3000);
    if (probe < 0 && !o->tls.on)
        cli_fail_at(probe, &where);
    if (probe >= 0)
        close(probe);
    if (o->co.verbose) {
        char text[SK_ADDRSTRLEN];
        sk_addr_format(&addr, text, sizeof text);
        cli_say("%s answers; %d connection%s, %.1f s warm-up, then %.1f s measured", text, o->conns,
                o->conns == 1 ? "" : "s", o->warmup_ms / 1000.0, o->duration_ms / 1000.0);
    }
    return addr;
}

uint64_t bench_slot_time(const struct bench_run *run, uint64_t k)
{
    return run->t_start + (uint64_t)((double)k * run->slot_ns);
}

uint64_t bench_slot_at(const struct bench_run *run, uint64_t t)
{
    if (t <= run->t_start)
        return 0;
    /* the estimate, then a step either way: bench_slot_time's rounding decides */
    uint64_t k = (uint64_t)ceil((double)(t - run->t_start) / run->slot_ns);
    while (k && bench_slot_time(run, k - 1) >= t)
        k--;
    while (bench_slot_time(run, k) < t)
        k++;
    return k;
}

/* The histograms of the interval that just ended, summed over the workers (which start afresh). */
static void take_interval(struct bench_worker *w, int n, struct bench_hists *iv)
{
    hist_init(&iv->lat);
    hist_init(&iv->unc);
    hist_init(&iv->lag);
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&w[i].iv_lock);
        hist_merge(&iv->lat, &w[i].iv.lat);
        hist_merge(&iv->unc, &w[i].iv.unc);
        hist_merge(&iv->lag, &w[i].iv.lag);
        hist_init(&w[i].iv.lat);
        hist_init(&w[i].iv.unc);
        hist_init(&w[i].iv.lag);
        pthread_mutex_unlock(&w[i].iv_lock);
    }
}

static uint64_t progress_sum(struct bench_worker *w, int n, bool rx)
{
    uint64_t total = 0;
    for (int i = 0; i < n; i++)
        total +=
            atomic_load_explicit(rx ? &w[i].progress_rx : &w[i].progress, memory_order_relaxed);
    return total;
}

/* Sleep until `until` (monotonic ns), waking early when the run failed. */
static void sleep_until(struct bench_run *run, uint64_t until)
{
    for (uint64_t now; !atomic_load(&run->failed) && (now = ticks_now_ns()) < until;) {
        uint64_t ns = until - now < 50000000u ? until - now : 50000000u;
        struct timespec ts = {0, (long)ns};
        nanosleep(&ts, NULL);
    }
}

/* What the main thread shows while the workers run. */
enum watch_show { SHOW_NOTHING, SHOW_PROGRESS, SHOW_INTERVALS };

/* Watch one phase (warm-up or measuring) of the run: a progress line or an interval per tick. */
static void watch_phase(struct bench_run *run, struct bench_worker *w, struct report *rep,
                        enum watch_show show, bool warmup)
{
    const struct bench_opts *o = run->o;
    uint64_t from = warmup ? run->t_start : run->t_measure,
             to = warmup ? run->t_measure : run->t_end;
    bool hdr = run->hdr && !warmup;
    if (show == SHOW_NOTHING && !hdr) {
        sleep_until(run, to);
        return;
    }
    /* --hdr-log: an interval a second unless -i says otherwise (HdrHistogram's habit) */
    uint64_t period = show == SHOW_INTERVALS ? (uint64_t)o->co.interval_ms * 1000000u
                      : hdr                  ? 1000000000u
                                             : 500000000u;
    struct ticks t;
    ticks_init(&t, from, to, period);
    uint64_t last = progress_sum(w, o->threads, false), last_rx = progress_sum(w, o->threads, true),
             a, b;
    struct bench_hists *iv = show == SHOW_INTERVALS ? malloc(sizeof *iv) : NULL;
    if (show == SHOW_INTERVALS && !iv)
        cli_die(EXIT_RUNTIME, "out of memory");
    while (!atomic_load(&run->failed) && t.from < t.end) {
        sleep_until(run, t.next);
        if (!ticks_due(&t, ticks_now_ns(), &a, &b))
            break;
        /* the count covers warm-up work too, so the first measuring tick has a real rate */
        uint64_t total = progress_sum(w, o->threads, false), count = total - last;
        uint64_t total_rx = progress_sum(w, o->threads, true), count_rx = total_rx - last_rx;
        last = total;
        last_rx = total_rx;
        if (hdr && t.from < t.end) /* the last one is written after the joins */
            bench_hdr_tick(run, w, a, b);
        if (show == SHOW_INTERVALS) {
            take_interval(w, o->threads, iv);
            bench_report_interval(rep, o, warmup, a, b, count, count_rx, iv);
        } else if (show == SHOW_PROGRESS) { /* --bidir: both directions together */
            bench_progress(o, warmup, b, (double)(count + count_rx) / ((double)(b - a) / 1e9));
        }
    }
    free(iv);
}

static void watch(struct bench_run *run, struct bench_worker *w, struct report *rep)
{
    const struct bench_opts *o = run->o;
    enum watch_show show = o->co.interval_ms ? SHOW_INTERVALS
                           : !o->co.quiet && !report_is_json(rep) && isatty(STDERR_FILENO)
                               ? SHOW_PROGRESS
                               : SHOW_NOTHING;
    if (show == SHOW_NOTHING && !o->co.verbose && !run->hdr)
        return; /* the joins wait for the end */
    if (run->t_measure > run->t_start)
        watch_phase(run, w, rep, show, true);
    if (o->co.verbose && show == SHOW_PROGRESS)
        bench_progress_clear();
    if (o->co.verbose)
        cli_say("measuring for %.1f s", o->duration_ms / 1000.0);
    watch_phase(run, w, rep, show, false);
    if (show == SHOW_PROGRESS)
        fputc('\n', stderr); /* the last progress line stays: "measuring 3.0 s" for -d 3 */
}

static double cpu_seconds(bool user)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    struct timeval tv = user ? ru.ru_utime : ru.ru_stime;
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* The run's clock: warm-up from now, then the measurement. */
static void set_clock(struct bench_run *run)
{
    const struct bench_opts *o = run->o;
    run->t_start = ticks_now_ns();
    run->t_measure = run->t_start + (uint64_t)o->warmup_ms * 1000000u;
    run->t_end = run->t_measure + (uint64_t)o->duration_ms * 1000000u;
    /* the replies to requests sent before the end are awaited (both loops), the open loop's
     * late requests still sent */
    run->t_stop = run->t_end + BENCH_DRAIN_NS;
    run->slot_ns = o->rate > 0 ? 1e9 / o->rate : 0;
    run->intervals = o->co.interval_ms > 0;
    bench_hdr_open(run); /* its start time is the measurement's */
}

/* Start the workers, watch them, join them and sum what they measured into res. */
static void bench_run_workers(struct bench_run *run, struct report *rep, struct bench_result *res,
                              struct bench_worker *w)
{
    const struct bench_opts *o = run->o;
    void *(*fn)(void *) = o->mode == BENCH_STREAM    ? bench_stream_worker
                          : o->mode == BENCH_CONNECT ? bench_connect_worker
                                                     : bench_echo_worker;
    bool gated = bench_tls_gated(run);
    if (gated && pthread_barrier_init(&run->gate, NULL, (unsigned)o->threads + 1))
        cli_die(EXIT_RUNTIME, "pthread_barrier_init failed");
    else if (!gated)
        set_clock(run);
    double u0 = cpu_seconds(true), s0 = cpu_seconds(false);
    for (int i = 0, first = 0; i < o->threads; i++) {
        int n = o->conns / o->threads + (i < o->conns % o->threads);
        w[i] = (struct bench_worker){.run = run, .first = first, .n = n};
        pthread_mutex_init(&w[i].lock, NULL);
        hist_init(&w[i].h);
        hist_init(&w[i].unc);
        hist_init(&w[i].lag);
        hist_init(&w[i].iv.lat);
        hist_init(&w[i].iv.unc);
        hist_init(&w[i].iv.lag);
        pthread_mutex_init(&w[i].iv_lock, NULL);
        first += n;
        int rc = pthread_create(&w[i].thread, NULL, fn, &w[i]);
        if (rc)
            cli_die(EXIT_RUNTIME, "pthread_create: %s", strerror(rc));
    }
    if (gated) {
        bench_tls_gate_main(run, set_clock);
        u0 = cpu_seconds(true), s0 = cpu_seconds(false); /* the measured part, not the handshakes */
    }
    watch(run, w, rep);
    hist_init(&res->h);
    hist_init(&res->unc);
    hist_init(&res->lag);
    uint64_t last_sent = run->t_measure, last_done = run->t_measure;
    for (int i = 0; i < o->threads; i++) {
        pthread_join(w[i].thread, NULL);
        pthread_mutex_destroy(&w[i].iv_lock);
        hist_merge(&res->h, &w[i].h);
        hist_merge(&res->unc, &w[i].unc);
        hist_merge(&res->lag, &w[i].lag);
        res->sent += w[i].sent;
        res->full += w[i].full;
        res->warmup_unsent += w[i].warmup_unsent;
        if (w[i].last_sent > last_sent)
            last_sent = w[i].last_sent;
        if (w[i].last_done > last_done)
            last_done = w[i].last_done;
        pthread_mutex_destroy(&w[i].lock);
        res->requests += w[i].requests;
        res->bytes += w[i].bytes;
        res->rx_bytes += w[i].rx_bytes;
        res->errors += w[i].errors;
        res->starved += w[i].starved;
        if (w[i].error[0] && !res->error)
            res->error = w[i].error;
    }
    if (o->rate > 0) {
        res->scheduled = bench_slot_at(run, run->t_end) - bench_slot_at(run, run->t_measure);
        /* the time the generator took to send what the measurement scheduled: the duration when
         * it kept up, more when it fell behind (its achieved rate is sent / this) */
        double secs = o->duration_ms / 1000.0;
        res->sent_seconds = fmax(secs, (double)(last_sent - run->t_measure) / 1e9);
        res->done_seconds = fmax(secs, (double)(last_done - run->t_measure) / 1e9);
    }
    res->user_s = cpu_seconds(true) - u0;
    res->sys_s = cpu_seconds(false) - s0;
    res->wall_s = (double)(ticks_now_ns() - run->t_start) / 1e9;
    if (gated)
        pthread_barrier_destroy(&run->gate);
}

static int bench_tcp(const struct cli_cmd *cmd, enum bench_mode mode, int argc, char **argv)
{
    struct bench_opts o = {.mode = mode,
                           .name = strrchr(cmd->name, ' ') + 1,
                           .conns = 1,
                           .threads = 1,
                           .size = -1,
                           .pipeline = 1,
                           .duration_ms = 5000,
                           .warmup_ms = 1000,
                           .chart = true};
    bench_parse(&o, cmd, argc, argv);
    struct report rep;
    report_init(&rep, &o.co);
    struct bench_run *run = calloc(1, sizeof *run);
    struct bench_worker *w = calloc((size_t)o.threads, sizeof *w);
    struct bench_result *res = calloc(1, sizeof *res);
    if (!run || !w || !res)
        cli_die(EXIT_RUNTIME, "out of memory");
    run->o = &o;
    run->addr = bench_target(&o);
    bench_tls_setup(run);
    signal(SIGPIPE, SIG_IGN);
    if (report_is_json(&rep))
        bench_report_start(&rep, &o, &run->addr, argc + 1, argv - 1);
    bench_run_workers(run, &rep, res, w);
    if (atomic_load(&run->failed))
        cli_die(EXIT_RUNTIME,
                "data check failed: %s: the server does not send back what it gets (an echo "
                "server such as 'sockkit serve echo' does)",
                res->error);
    bench_hdr_close(run, res);
    bench_report_end(&rep, &o, res);
    if (o.rate > 0 && !bench_schedule_kept(&o, res))
        cli_say("the generator could not keep the schedule of %.0f requests/s: %llu of %llu "
                "sent, the latencies include its own lag (see the report)",
                o.rate, (unsigned long long)res->sent, (unsigned long long)res->scheduled);
    int status = res->errors && !res->requests && !res->bytes ? EXIT_RUNTIME : EXIT_OK;
    if (res->errors && res->error)
        cli_say("%llu error(s), the first: %s", (unsigned long long)res->errors, res->error);
    /* A session the server dropped now and then (a cache eviction, a ticket raced by another
     * worker's newer one) is not a server that does not resume: more than a quarter is. */
    unsigned full = atomic_load(&run->tls_full), sampled = atomic_load(&run->tls_sampled);
    if (full * 4 > sampled)
        cli_say("--tls-resume: %u of %u sampled handshakes were full, not resumed: the server "
                "does not resume sessions (or forgets them)",
                full, sampled);
    sk_tls_ctx_free(run->tls);
    free(res);
    free(w);
    free(run);
    return status;
}

int cmd_bench(int argc, char **argv)
{
    if (argc < 2)
        cli_usage_error("missing benchmark (echo, connect, stream, udp, merge)");
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        cli_help(stdout, &cli_cmd_bench);
        return EXIT_OK;
    }
    static const struct {
        const char *name;
        const struct cli_cmd *cmd;
        enum bench_mode mode;
    } modes[] = {{"echo", &cli_cmd_bench_echo, BENCH_ECHO},
                 {"connect", &cli_cmd_bench_connect, BENCH_CONNECT},
                 {"stream", &cli_cmd_bench_stream, BENCH_STREAM}};
    char prog[32]; /* "sockkit bench echo": messages name the mode */
    snprintf(prog, sizeof prog, "sockkit bench %.12s", argv[1]);
    if (!strcmp(argv[1], "udp")) {
        cli_prog = prog;
        return bench_udp(argc - 1, argv + 1);
    }
    if (!strcmp(argv[1], "merge")) {
        cli_prog = prog;
        return bench_merge(argc - 1, argv + 1);
    }
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        if (!strcmp(argv[1], modes[i].name)) {
            cli_prog = prog;
            return bench_tcp(modes[i].cmd, modes[i].mode, argc - 1, argv + 1);
        }
    }
    cli_usage_error("unknown benchmark '%s' (echo, connect, stream, udp, merge)", argv[1]);
}
