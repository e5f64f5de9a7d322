/* sockkit bench: measure a server.
 *   echo     N connections on T threads (an epoll loop each) doing ping-pong of S-byte messages
 *            with P in flight; every byte that comes back is checked against what was sent
 *   connect  new connections per second: connect, one message, its echo, close
 *   stream   bulk one-way throughput to a sink (or from a source with --reverse)
 *   udp      datagrams per second and loss (bench_udp.c)
 * Latencies go into an HDR histogram (cli/hist.c); --json prints one object; --svg draws the
 * distribution; a progress line shows on stderr when it is a terminal. */
#include "cli.h"
#include "hist.h"
#include "opts.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_PIPE 1024

struct opts {
    const char *mode, *endpoint, *svg;
    int conns, threads, size, pipeline, duration_ms, warmup_ms;
    bool json, quiet, chart, reverse;
};

struct conn {
    int fd, id;
    bool connected;
    uint64_t sent, recvd;  /* bytes of the stream handed to the kernel / checked on return */
    uint64_t ts[MAX_PIPE]; /* send time of each message in flight, oldest at head */
    int head, inflight;
    uint64_t queued;   /* bytes generated but not yet written */
    uint64_t measured; /* requests completed during the measurement */
};

struct worker {
    const struct opts *o;
    sk_addr addr;
    int first, n; /* connection ids */
    pthread_t thread;
    hist h;
    uint64_t requests, bytes, errors;
    uint64_t starved; /* connections that got no reply during the measurement */
    char error[256];
    atomic_uint_fast64_t progress; /* requests completed, for the progress line */
};

static atomic_bool failed; /* a byte came back wrong: stop everything */
static uint64_t t_start, t_measure, t_end;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The byte at offset o of connection id's stream: cheap, and different per connection and
 * offset, so a byte from the wrong connection or place is caught. */
static inline unsigned char pattern(int id, uint64_t o)
{
    return (unsigned char)(o * 7u + (unsigned)id * 13u + (o >> 8) * 3u);
}

static int open_conn(struct worker *w, struct conn *c, int ep)
{
    c->fd = socket(w->addr.u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -errno;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, &w->addr.u.sa, w->addr.len) < 0 && errno != EINPROGRESS)
        return -errno;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0 ? -errno : 0;
}

/* Queue as many new messages as the pipeline allows. */
static void refill(struct conn *c, const struct opts *o, uint64_t now)
{
    while (c->inflight < o->pipeline) {
        c->ts[(c->head + c->inflight) % MAX_PIPE] = now;
        c->inflight++;
        c->queued += (uint64_t)o->size;
    }
}

/* Write queued bytes. Returns false on a connection error. */
static bool flush_out(struct conn *c)
{
    /* on the stack, not static _Thread_local: a TLS array is part of every thread's TLS block,
     * the server's handler threads included (the CLI is one program) */
    unsigned char buf[65536];
    while (c->queued) {
        size_t n = c->queued < sizeof buf ? (size_t)c->queued : sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(c->id, c->sent + i);
        ssize_t k = send(c->fd, buf, n, MSG_NOSIGNAL);
        if (k < 0)
            return errno == EAGAIN || errno == EINTR;
        c->sent += (uint64_t)k;
        c->queued -= (uint64_t)k;
    }
    return true;
}

static void fail_conn(struct worker *w, struct conn *c, const char *why, int err)
{
    w->errors++;
    if (!w->error[0])
        snprintf(w->error, sizeof w->error, "connection %d: %s%s%s", c->id, why, err ? ": " : "",
                 err ? strerror(err) : "");
    close(c->fd);
    c->fd = -1;
}

/* Read what came back, check every byte, complete messages. */
static void on_readable(struct worker *w, struct conn *c)
{
    unsigned char buf[65536]; /* on the stack: see flush_out */
    const struct opts *o = w->o;
    for (;;) {
        ssize_t k = recv(c->fd, buf, sizeof buf, 0);
        uint64_t now = mono_ns(); /* per read: an echo may come back within this loop */
        if (k == 0) {
            fail_conn(w, c, "closed by the server", 0);
            return;
        }
        if (k < 0) {
            if (errno != EAGAIN && errno != EINTR)
                fail_conn(w, c, "receive", errno);
            return;
        }
        for (ssize_t i = 0; i < k; i++) {
            unsigned char want = pattern(c->id, c->recvd + (uint64_t)i);
            if (buf[i] != want) {
                snprintf(w->error, sizeof w->error,
                         "connection %d: byte %llu came back as 0x%02x, 0x%02x was sent", c->id,
                         (unsigned long long)(c->recvd + (uint64_t)i), buf[i], want);
                atomic_store(&failed, true);
                return;
            }
        }
        uint64_t before = c->recvd / (uint64_t)o->size;
        c->recvd += (uint64_t)k;
        uint64_t done = c->recvd / (uint64_t)o->size - before;
        for (uint64_t m = 0; m < done && c->inflight; m++) {
            uint64_t lat = now - c->ts[c->head];
            c->head = (c->head + 1) % MAX_PIPE;
            c->inflight--;
            if (now >= t_measure && now < t_end) {
                hist_add(&w->h, lat);
                c->measured++;
                w->requests++;
                w->bytes += (uint64_t)o->size;
                atomic_fetch_add_explicit(&w->progress, 1, memory_order_relaxed);
            }
        }
        if (now < t_end)
            refill(c, o, now);
        if (!flush_out(c)) {
            fail_conn(w, c, "send", errno);
            return;
        }
        if ((size_t)k < sizeof buf)
            return; /* a short read drained the socket: no extra recv just to hear EAGAIN */
    }
}

static void *echo_worker(void *arg)
{
    struct worker *w = arg;
    const struct opts *o = w->o;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct conn *cs = calloc((size_t)w->n, sizeof *cs);
    for (int i = 0; i < w->n; i++) {
        cs[i].id = w->first + i;
        int rc = open_conn(w, &cs[i], ep);
        if (rc < 0)
            fail_conn(w, &cs[i], "connect", -rc);
    }
    struct epoll_event ev[256];
    while (!atomic_load(&failed)) {
        uint64_t now = mono_ns();
        if (now >= t_end)
            break;
        int n = epoll_wait(ep, ev, 256, 10);
        now = mono_ns();
        for (int i = 0; i < n; i++) {
            struct conn *c = ev[i].data.ptr;
            if (c->fd < 0)
                continue;
            if (!c->connected) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err) {
                    fail_conn(w, c, "connect", err);
                    continue;
                }
                c->connected = true;
                struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
                refill(c, o, now);
                if (!flush_out(c))
                    fail_conn(w, c, "send", errno);
                continue;
            }
            if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                on_readable(w, c);
            if (c->fd >= 0 && c->queued) {
                /* a partial write left bytes behind: wait for room */
                struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
                if (!flush_out(c))
                    fail_conn(w, c, "send", errno);
            }
        }
    }
    for (int i = 0; i < w->n; i++) {
        if (cs[i].fd >= 0 && !cs[i].measured)
            w->starved++; /* connected (or waiting) but never answered: a server that serves few */
        if (cs[i].fd >= 0)
            close(cs[i].fd);
    }
    free(cs);
    close(ep);
    return NULL;
}

/* connect mode: each worker does connect, one message, its echo, close, over and over. */
static void *connect_worker(void *arg)
{
    struct worker *w = arg;
    const struct opts *o = w->o;
    unsigned char *out = malloc((size_t)o->size), *in = malloc((size_t)o->size);
    for (int i = 0; i < o->size; i++)
        out[i] = pattern(w->first, (uint64_t)i);
    while (!atomic_load(&failed)) {
        uint64_t t0 = mono_ns();
        if (t0 >= t_end)
            break;
        int fd = sk_connect_addr(&w->addr, SOCK_STREAM, 5000);
        bool ok = fd >= 0 && sk_send_all(fd, out, (size_t)o->size, 5000, NULL) == 0 &&
                  sk_recv_exact(fd, in, (size_t)o->size, 5000, NULL) == 0;
        if (fd >= 0)
            close(fd);
        if (!ok) {
            w->errors++;
            if (!w->error[0])
                snprintf(w->error, sizeof w->error, "%s", sk_errmsg());
            if (w->errors > 100)
                break;
            continue;
        }
        if (memcmp(in, out, (size_t)o->size)) {
            snprintf(w->error, sizeof w->error, "worker %d: the echo differs from what was sent",
                     w->first);
            atomic_store(&failed, true);
            break;
        }
        uint64_t t1 = mono_ns();
        if (t0 >= t_measure && t1 < t_end) {
            hist_add(&w->h, t1 - t0);
            w->requests++;
            w->bytes += (uint64_t)o->size;
            atomic_fetch_add_explicit(&w->progress, 1, memory_order_relaxed);
        }
    }
    free(out);
    free(in);
    return NULL;
}

/* stream mode: one connection per worker writing (or reading, --reverse) as fast as it can. */
static void *stream_worker(void *arg)
{
    struct worker *w = arg;
    const struct opts *o = w->o;
    unsigned char *buf = calloc(1, (size_t)o->size);
    int fd = sk_connect_addr(&w->addr, SOCK_STREAM, 5000);
    if (fd < 0) {
        w->errors++;
        snprintf(w->error, sizeof w->error, "%s", sk_errmsg());
        free(buf);
        return NULL;
    }
    /* Plain blocking calls, as iperf3 makes them: a poll per write would cost a system call each
     * time the send buffer fills. The socket timeout keeps the end of the run on time. */
    sk_sock_set_timeouts(fd, 200, 200);
    while (!atomic_load(&failed)) {
        uint64_t now = mono_ns();
        if (now >= t_end)
            break;
        ssize_t n = o->reverse ? recv(fd, buf, (size_t)o->size, 0)
                               : send(fd, buf, (size_t)o->size, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0) {
            w->errors++;
            snprintf(w->error, sizeof w->error, "%s",
                     n == 0 ? "the server closed the connection" : strerror(errno));
            break;
        }
        if (mono_ns() >= t_measure) {
            w->bytes += (uint64_t)n;
            atomic_fetch_add_explicit(&w->progress, (uint64_t)n, memory_order_relaxed);
        }
    }
    close(fd);
    free(buf);
    return NULL;
}

enum { O_JSON = 256, O_SVG, O_NOCHART, O_REVERSE };

/* echo, connect and stream share one parser and so one table. */
static const struct cli_opt bench_opts[] = {
    {'c', "connections", CLI_ARG, "N", "concurrent connections (default 1)", NULL},
    {'t', "threads", CLI_ARG, "T", "threads for echo, each an epoll loop (default 1)", NULL},
    {'s', "size", CLI_ARG, "BYTES", "message size (default 64; stream: write size, 131072)", NULL},
    {'p', "pipeline", CLI_ARG, "P", "messages in flight per connection (default 1)", NULL},
    {'d', "duration", CLI_ARG, "SECS", "measured time (default 5)", NULL},
    {'w', "warmup", CLI_ARG, "SECS", "unmeasured time first (default 1)", NULL},
    {O_JSON, "json", CLI_NOARG, NULL, "one JSON object on stdout instead of the report", NULL},
    {O_SVG, "svg", CLI_ARG, "FILE", "an SVG plot of the latency distribution", "@file"},
    {O_NOCHART, "no-chart", CLI_NOARG, NULL, "no terminal histogram", NULL},
    {O_REVERSE, "reverse", CLI_NOARG, NULL, "stream: read from a source server instead", NULL},
    {'q', "quiet", CLI_NOARG, NULL, "no progress line", NULL},
    {'h', "help", CLI_NOARG, NULL, "this help", NULL},
    CLI_OPT_END,
};

const struct cli_cmd cli_cmd_bench_echo = {
    .name = "bench echo",
    .summary = "ping-pong of --size messages on --connections, checking every byte",
    .synopsis = "[options] ENDPOINT",
    .about = "Ping-pong of --size messages on --connections (--pipeline in flight on each) from\n"
             "--threads epoll loops; every byte that comes back is checked against what was\n"
             "sent.",
    .opts = bench_opts,
};

const struct cli_cmd cli_cmd_bench_connect = {
    .name = "bench connect",
    .summary = "new connections per second: connect, one message, its echo, close",
    .synopsis = "[options] ENDPOINT",
    .about = "New connections per second against an echo server: connect, one --size message,\n"
             "its echo, close, on --connections workers at once.",
    .opts = bench_opts,
};

const struct cli_cmd cli_cmd_bench_stream = {
    .name = "bench stream",
    .summary = "one-way throughput to a sink server (--reverse: from a source server)",
    .synopsis = "[options] ENDPOINT",
    .about = "One-way throughput: --connections connections write --size blocks to a sink\n"
             "server (with --reverse, read from a source server).",
    .opts = bench_opts,
};

static const struct cli_opt bench_parent_opts[] = {
    {'h', "help", CLI_NOARG, NULL, "this help", NULL},
    CLI_OPT_END,
};
static const struct cli_cmd *const bench_modes[] = {
    &cli_cmd_bench_echo, &cli_cmd_bench_connect, &cli_cmd_bench_stream, &cli_cmd_bench_udp, NULL};
const struct cli_cmd cli_cmd_bench = {
    .name = "bench",
    .summary = "measure an echo server: requests/s, latency, connection rate, throughput",
    .synopsis = "echo|connect|stream|udp [options] ENDPOINT",
    .opts = bench_parent_opts,
    .subs = bench_modes,
    .footer = "'sockkit bench MODE --help' for a mode's options.",
    .run = cmd_bench,
};

static double cpu_seconds(bool user)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    struct timeval tv = user ? ru.ru_utime : ru.ru_stime;
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int cmd_bench(int argc, char **argv)
{
    if (argc < 2)
        cli_usage_error("missing benchmark (echo, connect, stream, udp)");
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        cli_help(stdout, &cli_cmd_bench);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "udp"))
        return bench_udp(argc, argv);
    struct opts o = {.mode = argv[1],
                     .conns = 1,
                     .threads = 1,
                     .size = -1,
                     .pipeline = 1,
                     .duration_ms = 5000,
                     .warmup_ms = 1000,
                     .chart = true};
    if (strcmp(o.mode, "echo") && strcmp(o.mode, "connect") && strcmp(o.mode, "stream"))
        cli_usage_error("unknown benchmark '%s' (echo, connect, stream, udp)", o.mode);
    const struct cli_cmd *mode = !strcmp(o.mode, "echo")      ? &cli_cmd_bench_echo
                                 : !strcmp(o.mode, "connect") ? &cli_cmd_bench_connect
                                                              : &cli_cmd_bench_stream;
    struct cli_getopt g;
    cli_getopt_init(&g, mode);
    opterr = 0;
    optind = 2;
    int c;
    while ((c = getopt_long(argc, argv, g.shorts, g.longs, NULL)) != -1) {
        switch (c) {
        case 'c':
            o.conns = (int)cli_parse_long(optarg, 1, 100000, "--connections");
            break;
        case 't':
            o.threads = (int)cli_parse_long(optarg, 1, 256, "--threads");
            break;
        case 's':
            o.size = (int)cli_parse_long(optarg, 1, 16 << 20, "--size");
            break;
        case 'p':
            o.pipeline = (int)cli_parse_long(optarg, 1, MAX_PIPE, "--pipeline");
            break;
        case 'd':
            o.duration_ms = cli_parse_seconds_ms(optarg, "--duration");
            if (!o.duration_ms)
                cli_usage_error("--duration must be more than 0 seconds");
            break;
        case 'w':
            o.warmup_ms = cli_parse_seconds_ms(optarg, "--warmup");
            break;
        case O_JSON:
            o.json = true;
            break;
        case O_SVG:
            o.svg = optarg;
            break;
        case O_NOCHART:
            o.chart = false;
            break;
        case O_REVERSE:
            o.reverse = true;
            break;
        case 'q':
            o.quiet = true;
            break;
        case 'h':
            cli_help(stdout, mode);
            return EXIT_OK;
        default:
            cli_bad_option(c, argv);
        }
    }
    if (argc - optind != 1)
        cli_usage_error(argc - optind ? "takes one ENDPOINT" : "missing ENDPOINT");
    o.endpoint = argv[optind];
    if (o.size < 0)
        o.size = !strcmp(o.mode, "stream") ? 131072 : 64;
    bool stream = !strcmp(o.mode, "stream"), connmode = !strcmp(o.mode, "connect");
    if (stream || connmode)
        o.threads = o.conns; /* one worker per connection */
    if (o.threads > o.conns)
        o.threads = o.conns;

    sk_addr_list list;
    int rc = sk_resolve(o.endpoint, AF_UNSPEC, SOCK_STREAM, 0, &list);
    if (rc < 0)
        cli_usage_error("%s", sk_errmsg());
    sk_addr addr = list.v[0];
    sk_addr_list_free(&list);
    /* Is anyone there? One connect first, so an unreachable endpoint is one clear line. */
    int probe = sk_connect_addr(&addr, SOCK_STREAM, 3000);
    if (probe < 0)
        cli_die(EXIT_RUNTIME, "%s", sk_errmsg());
    close(probe);
    signal(SIGPIPE, SIG_IGN);

    struct worker *w = calloc((size_t)o.threads, sizeof *w);
    t_start = mono_ns();
    t_measure = t_start + (uint64_t)o.warmup_ms * 1000000u;
    t_end = t_measure + (uint64_t)o.duration_ms * 1000000u;
    double u0 = cpu_seconds(true), s0 = cpu_seconds(false);
    void *(*fn)(void *) = stream ? stream_worker : connmode ? connect_worker : echo_worker;
    for (int i = 0, first = 0; i < o.threads; i++) {
        int n = o.conns / o.threads + (i < o.conns % o.threads);
        w[i] = (struct worker){.o = &o, .addr = addr, .first = first, .n = n};
        hist_init(&w[i].h);
        first += n;
        pthread_create(&w[i].thread, NULL, fn, &w[i]);
    }
    bool progress = !o.quiet && !o.json && isatty(STDERR_FILENO);
    uint64_t last = 0, last_t = mono_ns();
    while (progress && mono_ns() < t_end && !atomic_load(&failed)) {
        usleep(500000);
        uint64_t total = 0, now = mono_ns();
        for (int i = 0; i < o.threads; i++)
            total += atomic_load(&w[i].progress);
        double rate = (double)(total - last) / ((double)(now - last_t) / 1e9);
        fprintf(stderr, "\r%s %5.1f s  %s %12.0f%s ", now < t_measure ? "warm-up " : "measuring",
                (double)(now - t_start) / 1e9, stream ? "rate" : "req/s",
                stream ? rate * 8 / 1e9 : rate, stream ? " Gbit/s" : "");
        last = total;
        last_t = now;
    }
    if (progress)
        fprintf(stderr, "\r%60s\r", "");
    hist h;
    hist_init(&h);
    uint64_t requests = 0, bytes = 0, errors = 0, starved = 0;
    const char *error = NULL;
    for (int i = 0; i < o.threads; i++) {
        pthread_join(w[i].thread, NULL);
        hist_merge(&h, &w[i].h);
        requests += w[i].requests;
        bytes += w[i].bytes;
        errors += w[i].errors;
        starved += w[i].starved;
        if (w[i].error[0] && !error)
            error = w[i].error;
    }
    double secs = (double)o.duration_ms / 1000.0;
    double user = cpu_seconds(true) - u0, sys = cpu_seconds(false) - s0;
    double wall = (double)(mono_ns() - t_start) / 1e9;
    if (atomic_load(&failed)) {
        cli_say("data check failed: %s", error);
        free(w);
        return EXIT_RUNTIME;
    }
    double us[6] = {hist_percentile(&h, 50) / 1e3,  hist_percentile(&h, 90) / 1e3,
                    hist_percentile(&h, 99) / 1e3,  hist_percentile(&h, 99.9) / 1e3,
                    hist_percentile(&h, 100) / 1e3, hist_mean(&h) / 1e3};
    double rps = (double)requests / secs, mbps = (double)bytes * 8 / secs / 1e6;
    if (o.json) {
        printf("{\"mode\": \"%s\", \"endpoint\": \"%s\", \"connections\": %d, \"threads\": %d, "
               "\"size\": %d, \"pipeline\": %d, \"duration_s\": %.3f, \"warmup_s\": %.3f, "
               "\"requests\": %llu, \"requests_per_sec\": %.1f, \"bytes\": %llu, "
               "\"throughput_mbit_s\": %.3f, \"errors\": %llu, \"starved_connections\": %llu, "
               "\"latency_us\": {\"p50\": %.2f, "
               "\"p90\": %.2f, \"p99\": %.2f, \"p999\": %.2f, \"max\": %.2f, \"mean\": %.2f}, "
               "\"cpu_s\": {\"user\": %.3f, \"sys\": %.3f, \"wall\": %.3f}}\n",
               o.mode, o.endpoint, o.conns, o.threads, o.size, o.pipeline, secs,
               o.warmup_ms / 1000.0, (unsigned long long)requests, rps, (unsigned long long)bytes,
               mbps, (unsigned long long)errors, (unsigned long long)starved, us[0], us[1], us[2],
               us[3], us[4], us[5], user, sys, wall);
    } else if (stream) {
        printf("bench stream %s: %d connection(s), %d-byte %s, %.1f s after %.1f s warm-up\n"
               "throughput: %.3f Gbit/s (%llu bytes), errors %llu\n",
               o.endpoint, o.conns, o.size, o.reverse ? "reads" : "writes", secs,
               o.warmup_ms / 1000.0, mbps / 1000, (unsigned long long)bytes,
               (unsigned long long)errors);
    } else {
        printf("bench %s %s: %d connection(s), %d thread(s), %d-byte messages, pipeline %d, "
               "%.1f s after %.1f s warm-up\n"
               "%s: %llu (%.0f/s), throughput %.1f Mbit/s each way, errors %llu\n"
               "latency: p50 %.1f us  p90 %.1f us  p99 %.1f us  p99.9 %.1f us  max %.1f us  "
               "mean %.1f us\n",
               o.mode, o.endpoint, o.conns, o.threads, o.size, o.pipeline, secs,
               o.warmup_ms / 1000.0, connmode ? "connections" : "requests",
               (unsigned long long)requests, rps, mbps, (unsigned long long)errors, us[0], us[1],
               us[2], us[3], us[4], us[5]);
        if (starved)
            printf("starved: %llu of %d connections got no reply during the measurement (their "
                   "requests are not in the numbers above)\n",
                   (unsigned long long)starved, o.conns);
        if (o.chart)
            hist_chart(&h, stdout, 16);
    }
    if (!o.json)
        printf("cpu: this process used %.2f s user + %.2f s system in %.2f s (%.0f%% of one "
               "core)\n",
               user, sys, wall, 100 * (user + sys) / wall);
    if (o.svg && !stream) {
        char title[256];
        snprintf(title, sizeof title,
                 "sockkit bench %s %s: %d conn, %d B, p50 %.1f us, p99 %.1f us", o.mode, o.endpoint,
                 o.conns, o.size, us[0], us[2]);
        if (hist_svg(&h, o.svg, title) < 0)
            cli_die(EXIT_RUNTIME, "--svg %s: %s", o.svg, strerror(errno));
    }
    if (errors && error)
        cli_say("%llu error(s), the first: %s", (unsigned long long)errors, error);
    free(w);
    return errors && !requests ? EXIT_RUNTIME : EXIT_OK;
}
