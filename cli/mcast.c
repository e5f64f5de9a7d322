/* sockkit mcast send|recv: a multicast sender whose packets carry a sender id, a sequence number
 * and a send time, and a receiver that prints packets or keeps per-sender statistics (received,
 * lost, reordered, duplicated, rate, RFC 3550 jitter) as mcjoin and mdump do. The packet format
 * and the accounting are in seqpkt.c (shared with `sockkit bench udp`). */
#include "cli.h"
#include "opts.h"
#include "seqpkt.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HDR         28
#define BATCH       64
#define MAX_GROUPS  16
#define MAX_STREAMS 256

static int stop_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    ssize_t ignored = write(stop_pipe[1], "s", 1); /* wakes the poll at once */
    (void)ignored;
    errno = saved;
}

static void catch_signals(void)
{
    if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        cli_die(EXIT_RUNTIME, "pipe: %s", strerror(errno));
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static bool stopped(void)
{
    char b;
    return read(stop_pipe[0], &b, 1) == 1;
}

/* ---- send ---------------------------------------------------------------------------------- */

/* Write packets for the sequence numbers in emit[] into pkts from slot k on; returns the next k. */
static int fill(unsigned char (*pkts)[65536], sk_dgram *v, int k, const uint64_t *emit, int ne,
                uint32_t id, int size)
{
    for (int e = 0; e < ne; e++, k++) {
        unsigned char *p = pkts[k];
        seqpkt_write(p, (size_t)size, id, emit[e], seqpkt_now_ns());
        v[k] = (sk_dgram){.buf = p, .len = (size_t)size};
    }
    return k;
}

/* Long options of both modes (one enum, so the two parsers' case labels read alike). */
enum {
    O_IFACE = 256,
    O_TTL,
    O_LOOP,
    O_NOLOOP,
    O_RATE,
    O_COUNT,
    O_SIZE,
    O_DURATION,
    O_TRACE,
    O_TRACE_FILE,
    O_SKIP,
    O_SWAP,
    O_DUP,
    O_SOURCE,
    O_JSON,
    O_STATS
};

#define STR_(x) #x
#define STR(x)  STR_(x)

static const struct cli_opt send_opts[] = {
    {O_IFACE, "iface", CLI_ARG, "IF", "outgoing interface (name, index or address)", NULL},
    {O_TTL, "ttl", CLI_ARG, "N", "hops (1..255, default 1: this link only)", NULL},
    {O_LOOP, "loop", CLI_NOARG, NULL, "deliver to receivers on this host too (the default)", NULL},
    {O_NOLOOP, "no-loop", CLI_NOARG, NULL, "do not deliver to receivers on this host", NULL},
    {O_RATE, "rate", CLI_ARG, "PPS", "packets per second (default 10; 0 = as fast as possible)",
     NULL},
    {O_COUNT, "count", CLI_ARG, "N", "stop after N packets (default: Ctrl-C)", NULL},
    {O_DURATION, "duration", CLI_ARG, "SECS", "stop after SECS seconds (default: Ctrl-C)", NULL},
    {O_SIZE, "size", CLI_ARG, "BYTES", "packet size, " STR(HDR) "..65507 (default 64)", NULL},
    {O_TRACE, "trace", CLI_OPTARG, "calls|data",
     "every socket call, and each packet's hexdump, on stderr", "calls data"},
    {O_TRACE_FILE, "trace-file", CLI_ARG, "FILE", "the trace to FILE instead of stderr", "@file"},
    {'v', NULL, CLI_NOARG, NULL, NULL, NULL},
    {'h', "help", CLI_NOARG, NULL, "this help", NULL},
    /* test hooks (seqpkt.h): drop, swap or repeat the packets with these sequence numbers */
    {O_SKIP, "test-skip", CLI_ARG, "SEQS", NULL, NULL},
    {O_SWAP, "test-swap", CLI_ARG, "SEQS", NULL, NULL},
    {O_DUP, "test-dup", CLI_ARG, "SEQS", NULL, NULL},
    CLI_OPT_END,
};

const struct cli_cmd cli_cmd_mcast_send = {
    .name = "mcast send",
    .summary = "send sequence-numbered packets to a group",
    .synopsis = "[options] GROUP:PORT",
    .opts = send_opts,
};

static int mcast_send(int argc, char **argv)
{
    struct cli_getopt go;
    cli_getopt_init(&go, &cli_cmd_mcast_send);
    const char *iface = NULL;
    seqpkt_faults faults = {0};
    int ttl = 1, size = 64, duration_ms = -1;
    bool loop = true, verbose = false;
    long rate = 10, count = -1;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, go.shorts, go.longs, NULL)) != -1) {
        switch (c) {
        case O_IFACE:
            iface = optarg;
            break;
        case O_TTL:
            ttl = (int)cli_parse_long(optarg, 1, 255, "--ttl");
            break;
        case O_LOOP:
            loop = true;
            break;
        case O_NOLOOP:
            loop = false;
            break;
        case O_RATE:
            rate = cli_parse_long(optarg, 0, 10000000, "--rate");
            break;
        case O_COUNT:
            count = cli_parse_long(optarg, 1, 1L << 40, "--count");
            break;
        case O_SIZE:
            size = (int)cli_parse_long(optarg, HDR, 65507, "--size");
            break;
        case O_DURATION:
            duration_ms = cli_parse_seconds_ms(optarg, "--duration");
            break;
        case O_SKIP:
            faults.skip = optarg;
            break;
        case O_SWAP:
            faults.swap = optarg;
            break;
        case O_DUP:
            faults.dup = optarg;
            break;
        case O_TRACE:
            cli_trace_level(optarg);
            break;
        case O_TRACE_FILE:
            cli_trace_file(optarg);
            break;
        case 'v':
            verbose = true;
            break;
        case 'h':
            cli_help(stdout, &cli_cmd_mcast_send);
            return EXIT_OK;
        default:
            cli_bad_option(c, argv);
        }
    }
    if (argc - optind != 1)
        cli_usage_error(argc - optind ? "takes one GROUP:PORT" : "missing GROUP:PORT");
    const char *ep = argv[optind];
    int fd = sk_mcast_sender(ep, iface, ttl, loop);
    if (fd < 0)
        cli_die(fd == SK_ENOTMCAST || fd == SK_EIFACE || fd == SK_EPORT || fd == SK_EPARSE ||
                        fd == SK_EBRACKET
                    ? EXIT_USAGE
                    : EXIT_RUNTIME,
                "%s", sk_errmsg());
    catch_signals();
    uint32_t id = (uint32_t)(seqpkt_now_ns() ^ ((uint64_t)getpid() << 16));
    static unsigned char pkts[BATCH][65536];
    sk_dgram v[BATCH];
    double start = cli_now_s();
    uint64_t logical = 0, sent = 0; /* sequence numbers handed out, datagrams sent */
    while (!stopped() && (count < 0 || logical < (uint64_t)count)) {
        double el = cli_now_s() - start;
        if (duration_ms >= 0 && el * 1000 >= duration_ms)
            break;
        uint64_t due = rate ? (uint64_t)(el * (double)rate) + 1 : logical + BATCH;
        if (count >= 0 && due > (uint64_t)count)
            due = (uint64_t)count;
        if (due <= logical) {
            struct timespec ts = {0, rate ? (long)(1e9 / (double)rate / 4) : 0};
            if (ts.tv_nsec > 5000000)
                ts.tv_nsec = 5000000;
            nanosleep(&ts, NULL);
            continue;
        }
        int k = 0;
        while (logical < due && k < BATCH - 2) {
            uint64_t seq = logical++, emit[3];
            int ne = seqpkt_plan(&faults, seq, count >= 0 && seq + 1 >= (uint64_t)count, emit);
            k = fill(pkts, v, k, emit, ne, id, size);
        }
        if (!k)
            continue;
        int n = sk_send_batch(fd, v, (size_t)k, 5000);
        if (n < 0)
            cli_die(EXIT_RUNTIME, "%s", sk_errmsg());
        sent += (uint64_t)n;
    }
    if (faults.pending) { /* stopped between the two of a swapped pair: send the held one */
        int k = fill(pkts, v, 0, &faults.held, 1, id, size);
        if (sk_send_batch(fd, v, (size_t)k, 5000) > 0)
            sent++;
    }
    double el = cli_now_s() - start;
    (void)verbose;
    cli_say("sent %llu packets of %d bytes to %s in %.2f s (%.0f/s), sender id %08x",
            (unsigned long long)sent, size, ep, el, el > 0 ? (double)sent / el : 0.0, id);
    sk_close(fd);
    return EXIT_OK;
}

/* ---- receive ------------------------------------------------------------------------------- */

struct stream {
    int group;
    bool ours; /* carries our header */
    uint32_t id;
    sk_addr from;
    seqstats st;
    uint64_t last_report_rx;
};

static struct stream streams[MAX_STREAMS];
static int nstreams;
static uint64_t foreign;

static struct stream *find_stream(int group, bool ours, uint32_t id, const sk_addr *from)
{
    for (int i = 0; i < nstreams; i++) {
        struct stream *s = &streams[i];
        if (s->group == group && s->ours == ours &&
            (ours ? s->id == id : sk_addr_equal(&s->from, from)))
            return s;
    }
    if (nstreams == MAX_STREAMS)
        return NULL;
    struct stream *s = &streams[nstreams++];
    *s = (struct stream){.group = group, .ours = ours, .id = id, .from = *from};
    return s;
}

static void stream_line(FILE *out, const struct stream *s, const char *const *groups, double el)
{
    char who[SK_ADDRSTRLEN];
    sk_addr_format(&s->from, who, sizeof who);
    if (!s->ours) {
        fprintf(out,
                "%s from %s: %llu packets, %llu bytes (not sockkit's format: no sequence stats)\n",
                groups[s->group], who, (unsigned long long)s->st.received,
                (unsigned long long)s->st.bytes);
        return;
    }
    fprintf(out,
            "%s sender %08x@%s: received %llu, lost %llu, reordered %llu, duplicated %llu, "
            "%.0f/s, jitter %.1f us\n",
            groups[s->group], s->id, who, (unsigned long long)s->st.received,
            (unsigned long long)seqstats_lost(&s->st), (unsigned long long)s->st.reorder,
            (unsigned long long)s->st.dup, el > 0 ? (double)s->st.received / el : 0.0,
            s->st.jitter_ns / 1000.0);
}

static void json_out(const char *const *groups, double el)
{
    printf("{\"elapsed_s\": %.3f, \"foreign_packets\": %llu, \"streams\": [", el,
           (unsigned long long)foreign);
    for (int i = 0; i < nstreams; i++) {
        const struct stream *s = &streams[i];
        char who[SK_ADDRSTRLEN];
        sk_addr_format(&s->from, who, sizeof who);
        printf("%s{\"group\": \"%s\", \"from\": \"%s\", \"sockkit\": %s, \"sender_id\": \"%08x\", "
               "\"received\": %llu, \"bytes\": %llu, \"lost\": %llu, \"reordered\": %llu, "
               "\"duplicated\": %llu, \"first_seq\": %llu, \"last_seq\": %llu, \"rate_pps\": %.1f, "
               "\"jitter_us\": %.2f}",
               i ? ", " : "", groups[s->group], who, s->ours ? "true" : "false", s->id,
               (unsigned long long)s->st.received, (unsigned long long)s->st.bytes,
               (unsigned long long)seqstats_lost(&s->st), (unsigned long long)s->st.reorder,
               (unsigned long long)s->st.dup, (unsigned long long)s->st.min_seq,
               (unsigned long long)s->st.max_seq, el > 0 ? (double)s->st.received / el : 0.0,
               s->st.jitter_ns / 1000.0);
    }
    printf("]}\n");
}

static const struct cli_opt recv_opts[] = {
    {O_IFACE, "iface", CLI_ARG, "IF", "interface to join on (name, index or address)", NULL},
    {O_SOURCE, "source", CLI_ARG, "S", "source-specific (SSM) join: only packets from S", NULL},
    {O_COUNT, "count", CLI_ARG, "N", "stop after N packets (default: Ctrl-C)", NULL},
    {O_DURATION, "duration", CLI_ARG, "SECS", "stop after SECS seconds (default: Ctrl-C)", NULL},
    {O_STATS, "stats", CLI_NOARG, NULL,
     "a line per second and a summary per sender, not each packet", NULL},
    {O_JSON, "json", CLI_NOARG, NULL, "one JSON summary object at the end", NULL},
    {O_TRACE, "trace", CLI_OPTARG, "calls|data",
     "every socket call, and each packet's hexdump, on stderr", "calls data"},
    {O_TRACE_FILE, "trace-file", CLI_ARG, "FILE", "the trace to FILE instead of stderr", "@file"},
    {'h', "help", CLI_NOARG, NULL, "this help", NULL},
    CLI_OPT_END,
};

const struct cli_cmd cli_cmd_mcast_recv = {
    .name = "mcast recv",
    .summary = "join groups; print each packet or per-sender statistics",
    .synopsis = "[options] GROUP:PORT [GROUP:PORT...]",
    .opts = recv_opts,
};

static int mcast_recv(int argc, char **argv)
{
    struct cli_getopt go;
    cli_getopt_init(&go, &cli_cmd_mcast_recv);
    const char *iface = NULL, *source = NULL;
    long count = -1;
    int duration_ms = -1;
    bool json = false, stats = false;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, go.shorts, go.longs, NULL)) != -1) {
        switch (c) {
        case O_IFACE:
            iface = optarg;
            break;
        case O_SOURCE:
            source = optarg;
            break;
        case O_COUNT:
            count = cli_parse_long(optarg, 1, 1L << 40, "--count");
            break;
        case O_DURATION:
            duration_ms = cli_parse_seconds_ms(optarg, "--duration");
            break;
        case O_JSON:
            json = true;
            break;
        case O_STATS:
            stats = true;
            break;
        case O_TRACE:
            cli_trace_level(optarg);
            break;
        case O_TRACE_FILE:
            cli_trace_file(optarg);
            break;
        case 'h':
            cli_help(stdout, &cli_cmd_mcast_recv);
            return EXIT_OK;
        default:
            cli_bad_option(c, argv);
        }
    }
    int ngroups = argc - optind;
    if (ngroups < 1)
        cli_usage_error("missing GROUP:PORT");
    if (ngroups > MAX_GROUPS)
        cli_usage_error("at most %d groups", MAX_GROUPS);
    const char *const *groups = (const char *const *)argv + optind;
    struct pollfd p[MAX_GROUPS + 1];
    for (int g = 0; g < ngroups; g++) {
        int fd = sk_mcast_receiver(groups[g], iface, source);
        if (fd < 0)
            cli_die(fd == SK_ENOTMCAST || fd == SK_EIFACE || fd == SK_ESSM || fd == SK_EPORT ||
                            fd == SK_EPARSE || fd == SK_EBRACKET
                        ? EXIT_USAGE
                        : EXIT_RUNTIME,
                    "%s", sk_errmsg());
        /* As bench udp: a burst while this process waits for the CPU must fit in the socket
         * (the default ~208 KiB holds ~270 small datagrams); the kernel caps it at rmem_max. */
        sk_sock_set_rcvbuf(fd, 8 << 20);
        p[g] = (struct pollfd){fd, POLLIN, 0};
    }
    catch_signals();
    p[ngroups] = (struct pollfd){stop_pipe[0], POLLIN, 0};
    setvbuf(stdout, NULL, _IOLBF, 0);
    static unsigned char bufs[BATCH][65536];
    sk_dgram v[BATCH];
    double start = cli_now_s(), next_report = start + 1;
    uint64_t total = 0;
    bool done = false;
    while (!done) {
        double now = cli_now_s();
        int wait = 1000;
        if (duration_ms >= 0) {
            double left = start + duration_ms / 1000.0 - now;
            if (left <= 0)
                break;
            wait = (int)(left * 1000) + 1;
        }
        if (stats && wait > (int)((next_report - now) * 1000) + 1)
            wait = (int)((next_report - now) * 1000) + 1;
        if (wait < 0)
            wait = 0;
        int n = poll(p, (nfds_t)ngroups + 1, wait);
        if (n < 0 && errno != EINTR)
            cli_die(EXIT_RUNTIME, "poll: %s", strerror(errno));
        if (p[ngroups].revents)
            break; /* SIGINT / SIGTERM: the seed's stop flag, delivered as a wakeup */
        for (int g = 0; g < ngroups && n > 0 && !done; g++) {
            if (!p[g].revents)
                continue;
            for (int i = 0; i < BATCH; i++)
                v[i] = (sk_dgram){.buf = bufs[i], .cap = sizeof bufs[i]};
            int got = sk_recv_batch(p[g].fd, v, BATCH, 0);
            if (got == -ETIMEDOUT)
                continue;
            if (got < 0)
                cli_die(EXIT_RUNTIME, "%s", sk_errmsg());
            uint64_t t = seqpkt_now_ns();
            for (int i = 0; i < got && !done; i++) {
                uint32_t id = 0;
                uint64_t seq = 0, sent_at = 0;
                bool ours = seqpkt_parse(v[i].buf, v[i].len, &id, &seq, &sent_at);
                struct stream *s = find_stream(g, ours, id, &v[i].addr);
                if (!ours)
                    foreign++;
                if (s && ours) {
                    seqstats_add(&s->st, seq, v[i].len, t, sent_at);
                } else if (s) { /* another sender's payload: counted, no sequence */
                    s->st.received++;
                    s->st.bytes += v[i].len;
                }
                if (!stats && !json) {
                    char who[SK_ADDRSTRLEN];
                    sk_addr_format(&v[i].addr, who, sizeof who);
                    if (ours)
                        printf("%s from %s: %zu bytes, sender %08x seq %llu\n", groups[g], who,
                               v[i].len, id, (unsigned long long)seq);
                    else
                        printf("%s from %s: %zu bytes (not sockkit's format)\n", groups[g], who,
                               v[i].len);
                }
                if (count >= 0 && ++total >= (uint64_t)count)
                    done = true;
            }
        }
        if (stats && cli_now_s() >= next_report) {
            double el = cli_now_s() - start;
            for (int i = 0; i < nstreams; i++) {
                printf("[%5.1fs] +%llu ", el,
                       (unsigned long long)(streams[i].st.received - streams[i].last_report_rx));
                streams[i].last_report_rx = streams[i].st.received;
                stream_line(stdout, &streams[i], groups, el);
            }
            next_report += 1;
        }
    }
    double el = cli_now_s() - start;
    if (json) {
        json_out(groups, el);
    } else {
        FILE *out = stats ? stdout : stderr;
        fprintf(out, "summary after %.2f s:\n", el);
        for (int i = 0; i < nstreams; i++)
            stream_line(out, &streams[i], groups, el);
        if (!nstreams)
            fprintf(out, "no packets\n");
    }
    for (int g = 0; g < ngroups; g++)
        sk_close(p[g].fd);
    for (int i = 0; i < nstreams; i++)
        seqstats_free(&streams[i].st);
    return EXIT_OK;
}

static const struct cli_opt mcast_opts[] = {
    {'h', "help", CLI_NOARG, NULL, "this help", NULL},
    CLI_OPT_END,
};
static const struct cli_cmd *const mcast_modes[] = {&cli_cmd_mcast_send, &cli_cmd_mcast_recv, NULL};
const struct cli_cmd cli_cmd_mcast = {
    .name = "mcast",
    .summary = "send or receive UDP multicast, with per-sender statistics",
    .synopsis = "send [options] GROUP:PORT\n"
                "       sockkit mcast recv [options] GROUP:PORT [GROUP:PORT...]",
    .opts = mcast_opts,
    .subs = mcast_modes,
    .footer = "'sockkit mcast send --help' and 'sockkit mcast recv --help' for the options.",
    .run = cmd_mcast,
};

int cmd_mcast(int argc, char **argv)
{
    if (argc < 2)
        cli_usage_error("missing 'send' or 'recv'");
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        cli_help(stdout, &cli_cmd_mcast);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "send"))
        return mcast_send(argc - 1, argv + 1);
    if (!strcmp(argv[1], "recv"))
        return mcast_recv(argc - 1, argv + 1);
    cli_usage_error("'mcast %s': use 'mcast send' or 'mcast recv'", argv[1]);
}
