/* sockkit mcast send|recv: a multicast sender whose packets carry a sender id, a sequence number
 * and a send time, and a receiver that prints packets or keeps per-sender statistics (received,
 * lost, reordered, duplicated, rate, RFC 3550 jitter) as mcjoin and mdump do.
 *
 * Packet header (big-endian), 28 bytes, then padding up to --size:
 *   0 "SKMC"   4 version (1)   5 flags (0)   6 header length (28)   8 sender id (u32)
 *   12 sequence (u64)   20 send time, ns since the Unix epoch (u64) */
#include "cli.h"

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

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t get_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* ---- send ---------------------------------------------------------------------------------- */

/* A comma-separated list of sequence numbers (test options). */
static bool in_list(const char *list, uint64_t seq)
{
    for (const char *p = list; p && *p;) {
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p)
            return false;
        if (v == seq)
            return true;
        p = *end == ',' ? end + 1 : end;
    }
    return false;
}

/* Write packets for the sequence numbers in emit[] into pkts from slot k on; returns the next k. */
static int fill(unsigned char (*pkts)[65536], sk_dgram *v, int k, const uint64_t *emit, int ne,
                uint32_t id, int size)
{
    for (int e = 0; e < ne; e++, k++) {
        unsigned char *p = pkts[k];
        memcpy(p, "SKMC", 4);
        p[4] = 1;
        p[5] = 0;
        put_be(p + 6, HDR, 2);
        put_be(p + 8, id, 4);
        put_be(p + 12, emit[e], 8);
        put_be(p + 20, now_ns(), 8);
        for (int i = HDR; i < size; i++)
            p[i] = (unsigned char)(emit[e] + (uint64_t)i);
        v[k] = (sk_dgram){.buf = p, .len = (size_t)size};
    }
    return k;
}

static int mcast_send(int argc, char **argv)
{
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
        O_SKIP,
        O_SWAP,
        O_DUP
    };
    static const struct option longs[] = {
        {"iface", required_argument, NULL, O_IFACE},
        {"ttl", required_argument, NULL, O_TTL},
        {"loop", no_argument, NULL, O_LOOP},
        {"no-loop", no_argument, NULL, O_NOLOOP},
        {"rate", required_argument, NULL, O_RATE},
        {"count", required_argument, NULL, O_COUNT},
        {"size", required_argument, NULL, O_SIZE},
        {"duration", required_argument, NULL, O_DURATION},
        {"trace", optional_argument, NULL, O_TRACE},
        {"help", no_argument, NULL, 'h'},
        {"test-skip", required_argument, NULL, O_SKIP},
        {"test-swap", required_argument, NULL, O_SWAP},
        {"test-dup", required_argument, NULL, O_DUP},
        {0},
    };
    const char *iface = NULL, *skip = NULL, *swap = NULL, *dup = NULL;
    int ttl = 1, size = 64, duration_ms = -1;
    bool loop = true, verbose = false;
    long rate = 10, count = -1;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":vh", longs, NULL)) != -1) {
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
            skip = optarg;
            break;
        case O_SWAP:
            swap = optarg;
            break;
        case O_DUP:
            dup = optarg;
            break;
        case O_TRACE:
            sk_trace_set(optarg && !strcmp(optarg, "calls") ? SK_TRACE_CALLS : SK_TRACE_DATA, -1);
            break;
        case 'v':
            verbose = true;
            break;
        case 'h':
            printf("usage: sockkit mcast send [options] GROUP:PORT\n\n"
                   "  --iface IF     outgoing interface (name, index or address)\n"
                   "  --ttl N        hops (1..255, default 1: this link only)\n"
                   "  --loop, --no-loop  deliver to receivers on this host too (default on)\n"
                   "  --rate PPS     packets per second (default 10; 0 = as fast as possible)\n"
                   "  --count N, --duration SECS   when to stop (default: Ctrl-C)\n"
                   "  --size BYTES   packet size, %d..65507 (default 64)\n"
                   "  --trace[=calls|data]\n",
                   HDR);
            return EXIT_OK;
        case ':':
            cli_usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            cli_usage_error("unknown option '%s'", argv[optind - 1]);
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
    uint32_t id = (uint32_t)(now_ns() ^ ((uint64_t)getpid() << 16));
    static unsigned char pkts[BATCH][65536];
    sk_dgram v[BATCH];
    double start = mono_s();
    uint64_t logical = 0, sent = 0; /* sequence numbers handed out, datagrams sent */
    bool pending_swap = false;
    uint64_t swapped = 0;
    while (!stopped() && (count < 0 || logical < (uint64_t)count)) {
        double el = mono_s() - start;
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
            uint64_t seq = logical++;
            uint64_t emit[3];
            int ne = 0;
            if (pending_swap) { /* the swapped pair: the later one went first */
                emit[ne++] = seq;
                emit[ne++] = swapped;
                pending_swap = false;
            } else if (swap && in_list(swap, seq) && (count < 0 || seq + 1 < (uint64_t)count)) {
                swapped = seq;
                pending_swap = true;
                continue;
            } else if (!(skip && in_list(skip, seq))) {
                emit[ne++] = seq;
                if (dup && in_list(dup, seq))
                    emit[ne++] = seq;
            }
            k = fill(pkts, v, k, emit, ne, id, size);
        }
        if (!k)
            continue;
        int n = sk_send_batch(fd, v, (size_t)k, 5000);
        if (n < 0)
            cli_die(EXIT_RUNTIME, "%s", sk_errmsg());
        sent += (uint64_t)n;
    }
    if (pending_swap) { /* stopped between the two of a swapped pair: send the held one */
        int k = fill(pkts, v, 0, &swapped, 1, id, size);
        if (sk_send_batch(fd, v, (size_t)k, 5000) > 0)
            sent++;
    }
    double el = mono_s() - start;
    (void)verbose;
    fprintf(stderr, "%s: sent %llu packets of %d bytes to %s in %.2f s (%.0f/s), sender id %08x\n",
            cli_prog, (unsigned long long)sent, size, ep, el, el > 0 ? (double)sent / el : 0.0, id);
    sk_close(fd);
    return EXIT_OK;
}

/* ---- receive ------------------------------------------------------------------------------- */

struct stream {
    int group;
    bool ours; /* carries our header */
    uint32_t id;
    sk_addr from;
    uint64_t received, unique, dup, reorder, bytes;
    uint64_t min_seq, max_seq;
    unsigned char *seen; /* bitmap over seq - min_seq0 */
    uint64_t seen_base;
    size_t seen_bits;
    double jitter_ns;
    int64_t last_transit;
    bool have_transit;
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

/* Count one sequence number: duplicates by a bitmap, reorders by arriving below the highest. */
static void account(struct stream *s, uint64_t seq)
{
    if (!s->unique && !s->dup) {
        s->min_seq = s->max_seq = s->seen_base = seq;
    }
    bool dup = false;
    if (seq >= s->seen_base) {
        uint64_t bit = seq - s->seen_base;
        if (bit < (1u << 26)) { /* 64 M packets of history */
            if (bit >= s->seen_bits) {
                size_t nb = s->seen_bits ? s->seen_bits : 1 << 16;
                while (nb <= bit)
                    nb *= 2;
                unsigned char *p = realloc(s->seen, nb / 8);
                if (p) {
                    memset(p + s->seen_bits / 8, 0, (nb - s->seen_bits) / 8);
                    s->seen = p;
                    s->seen_bits = nb;
                }
            }
            if (bit < s->seen_bits) {
                dup = s->seen[bit / 8] >> (bit % 8) & 1;
                s->seen[bit / 8] |= (unsigned char)(1 << (bit % 8));
            }
        }
    }
    if (dup) {
        s->dup++;
        return;
    }
    s->unique++;
    if (s->unique > 1 && seq < s->max_seq)
        s->reorder++;
    if (seq > s->max_seq)
        s->max_seq = seq;
    if (seq < s->min_seq)
        s->min_seq = seq;
}

static uint64_t lost(const struct stream *s)
{
    if (!s->ours || !s->unique)
        return 0;
    uint64_t span = s->max_seq - s->min_seq + 1;
    return span > s->unique ? span - s->unique : 0;
}

static void stream_line(FILE *out, const struct stream *s, const char *const *groups, double el)
{
    char who[SK_ADDRSTRLEN];
    sk_addr_format(&s->from, who, sizeof who);
    if (!s->ours) {
        fprintf(
            out, "%s from %s: %llu packets, %llu bytes (not sockkit's format: no sequence stats)\n",
            groups[s->group], who, (unsigned long long)s->received, (unsigned long long)s->bytes);
        return;
    }
    fprintf(out,
            "%s sender %08x@%s: received %llu, lost %llu, reordered %llu, duplicated %llu, "
            "%.0f/s, jitter %.1f us\n",
            groups[s->group], s->id, who, (unsigned long long)s->received,
            (unsigned long long)lost(s), (unsigned long long)s->reorder, (unsigned long long)s->dup,
            el > 0 ? (double)s->received / el : 0.0, s->jitter_ns / 1000.0);
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
               (unsigned long long)s->received, (unsigned long long)s->bytes,
               (unsigned long long)lost(s), (unsigned long long)s->reorder,
               (unsigned long long)s->dup, (unsigned long long)s->min_seq,
               (unsigned long long)s->max_seq, el > 0 ? (double)s->received / el : 0.0,
               s->jitter_ns / 1000.0);
    }
    printf("]}\n");
}

static int mcast_recv(int argc, char **argv)
{
    enum { O_IFACE = 256, O_SOURCE, O_COUNT, O_DURATION, O_JSON, O_STATS, O_TRACE };
    static const struct option longs[] = {
        {"iface", required_argument, NULL, O_IFACE},
        {"source", required_argument, NULL, O_SOURCE},
        {"count", required_argument, NULL, O_COUNT},
        {"duration", required_argument, NULL, O_DURATION},
        {"json", no_argument, NULL, O_JSON},
        {"stats", no_argument, NULL, O_STATS},
        {"trace", optional_argument, NULL, O_TRACE},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *iface = NULL, *source = NULL;
    long count = -1;
    int duration_ms = -1;
    bool json = false, stats = false;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
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
            sk_trace_set(optarg && !strcmp(optarg, "calls") ? SK_TRACE_CALLS : SK_TRACE_DATA, -1);
            break;
        case 'h':
            printf("usage: sockkit mcast recv [options] GROUP:PORT [GROUP:PORT...]\n\n"
                   "  --iface IF      interface to join on (name, index or address)\n"
                   "  --source S      source-specific (SSM) join: only packets from S\n"
                   "  --count N, --duration SECS   when to stop (default: Ctrl-C)\n"
                   "  --stats         a line per second and a summary per sender, not each packet\n"
                   "  --json          one JSON summary object at the end\n"
                   "  --trace[=calls|data]  every socket call, and each packet's hexdump\n");
            return EXIT_OK;
        case ':':
            cli_usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            cli_usage_error("unknown option '%s'", argv[optind - 1]);
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
        p[g] = (struct pollfd){fd, POLLIN, 0};
    }
    catch_signals();
    p[ngroups] = (struct pollfd){stop_pipe[0], POLLIN, 0};
    setvbuf(stdout, NULL, _IOLBF, 0);
    static unsigned char bufs[BATCH][65536];
    sk_dgram v[BATCH];
    double start = mono_s(), next_report = start + 1;
    uint64_t total = 0;
    bool done = false;
    while (!done) {
        double now = mono_s();
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
            uint64_t t = now_ns();
            for (int i = 0; i < got && !done; i++) {
                const unsigned char *b = v[i].buf;
                bool ours = v[i].len >= HDR && !memcmp(b, "SKMC", 4) && b[4] == 1;
                uint32_t id = ours ? (uint32_t)get_be(b + 8, 4) : 0;
                struct stream *s = find_stream(g, ours, id, &v[i].addr);
                if (!ours)
                    foreign++;
                if (s) {
                    s->received++;
                    s->bytes += v[i].len;
                    if (ours) {
                        uint64_t seq = get_be(b + 12, 8);
                        account(s, seq);
                        /* RFC 3550 interarrival jitter over the one-way transit times */
                        int64_t transit = (int64_t)(t - get_be(b + 20, 8));
                        if (s->have_transit) {
                            int64_t d = transit - s->last_transit;
                            s->jitter_ns += ((double)(d < 0 ? -d : d) - s->jitter_ns) / 16.0;
                        }
                        s->last_transit = transit;
                        s->have_transit = true;
                    }
                }
                if (!stats && !json) {
                    char who[SK_ADDRSTRLEN];
                    sk_addr_format(&v[i].addr, who, sizeof who);
                    if (ours)
                        printf("%s from %s: %zu bytes, sender %08x seq %llu\n", groups[g], who,
                               v[i].len, id, (unsigned long long)get_be(b + 12, 8));
                    else
                        printf("%s from %s: %zu bytes (not sockkit's format)\n", groups[g], who,
                               v[i].len);
                }
                if (count >= 0 && ++total >= (uint64_t)count)
                    done = true;
            }
        }
        if (stats && mono_s() >= next_report) {
            double el = mono_s() - start;
            for (int i = 0; i < nstreams; i++) {
                printf("[%5.1fs] +%llu ", el,
                       (unsigned long long)(streams[i].received - streams[i].last_report_rx));
                streams[i].last_report_rx = streams[i].received;
                stream_line(stdout, &streams[i], groups, el);
            }
            next_report += 1;
        }
    }
    double el = mono_s() - start;
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
        free(streams[i].seen);
    return EXIT_OK;
}

int cmd_mcast(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        printf("usage: sockkit mcast send [options] GROUP:PORT\n"
               "       sockkit mcast recv [options] GROUP:PORT [GROUP:PORT...]\n"
               "'sockkit mcast send --help' and 'sockkit mcast recv --help' for the options.\n");
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "send"))
        return mcast_send(argc - 1, argv + 1);
    if (!strcmp(argv[1], "recv"))
        return mcast_recv(argc - 1, argv + 1);
    cli_usage_error("'mcast %s': use 'mcast send' or 'mcast recv'", argv[1]);
}
