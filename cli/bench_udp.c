/* sockkit bench udp: packets per second and loss. The sender sends sequence-numbered datagrams
 * (seqpkt.h) with sendmmsg at --rate (0 = as fast as it can); the receiver (--recv) takes them with
 * recvmmsg and checks the sequence numbers: received, lost, reordered, duplicated, per sender. */
#include "cli.h"
#include "opts.h"
#include "seqpkt.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int send_side(const char *ep, int size, long rate, int duration_ms, bool json)
{
    int fd = sk_connect_ex(ep, &(sk_connect_opts)SK_CONNECT_OPTS_INIT(.type = SOCK_DGRAM), 3000);
    if (fd < 0)
        cli_die(EXIT_RUNTIME, "%s", sk_errmsg());
    sk_sock_set_sndbuf(fd, 4 << 20);
    static unsigned char pkts[BATCH][65536];
    sk_dgram v[BATCH];
    uint32_t id = (uint32_t)(seqpkt_now_ns() ^ ((uint64_t)getpid() << 16));
    uint64_t seq = 0, refused = 0;
    double start = cli_now_s(), end = start + duration_ms / 1000.0;
    while (!interrupted) {
        double now = cli_now_s();
        if (now >= end)
            break;
        uint64_t due = rate ? (uint64_t)((now - start) * (double)rate) + 1 : seq + BATCH;
        if (due <= seq) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
            continue;
        }
        int k = 0;
        for (; k < BATCH && seq + (uint64_t)k < due; k++) {
            seqpkt_write(pkts[k], (size_t)size, id, seq + (uint64_t)k, seqpkt_now_ns());
            v[k] = (sk_dgram){.buf = pkts[k], .len = (size_t)size};
        }
        int n = sk_send_batch(fd, v, (size_t)k, 1000);
        if (n == -ECONNREFUSED) { /* nobody listens yet: an ICMP port unreachable came back */
            refused++;
            continue;
        }
        if (n < 0)
            cli_die(EXIT_RUNTIME, "%s", sk_errmsg());
        seq += (uint64_t)n;
    }
    double el = cli_now_s() - start;
    if (json)
        printf("{\"mode\": \"udp-send\", \"endpoint\": \"%s\", \"size\": %d, \"sent\": %llu, "
               "\"duration_s\": %.3f, \"packets_per_sec\": %.1f, \"sender_id\": \"%08x\", "
               "\"refused\": %llu}\n",
               ep, size, (unsigned long long)seq, el, (double)seq / el, id,
               (unsigned long long)refused);
    else
        printf("bench udp %s: sent %llu datagrams of %d bytes in %.2f s: %.0f/s, %.1f Mbit/s "
               "(sender id %08x)\n",
               ep, (unsigned long long)seq, size, el, (double)seq / el,
               (double)seq * size * 8 / el / 1e6, id);
    sk_close(fd);
    return EXIT_OK;
}

static int recv_side(const char *ep, int duration_ms, bool json)
{
    int fd = sk_listen(ep, &(sk_listen_opts)SK_LISTEN_OPTS_INIT(.type = SOCK_DGRAM));
    if (fd < 0)
        cli_die(EXIT_RUNTIME, "%s", sk_errmsg());
    sk_sock_set_rcvbuf(fd, 8 << 20);
    sk_addr me;
    sk_sock_get_local_addr(fd, &me);
    char text[SK_ADDRSTRLEN];
    sk_addr_format(&me, text, sizeof text);
    cli_say("receiving on %s", text);
    static unsigned char bufs[BATCH][65536];
    sk_dgram v[BATCH];
    seqstats st = {0};
    uint64_t foreign = 0;
    uint32_t first_id = 0;
    bool have_id = false;
    double start = 0, last = 0, began = cli_now_s();
    while (!interrupted) {
        double now = cli_now_s();
        /* the run ends --duration after the first packet, or 1 s after the last one */
        if ((start && now - start >= duration_ms / 1000.0) || (last && now - last > 1.0) ||
            (!start && now - began > 30))
            break;
        for (int i = 0; i < BATCH; i++)
            v[i] = (sk_dgram){.buf = bufs[i], .cap = sizeof bufs[i]};
        int got = sk_recv_batch(fd, v, BATCH, 100);
        if (got == -ETIMEDOUT)
            continue;
        if (got < 0)
            cli_die(EXIT_RUNTIME, "%s", sk_errmsg());
        uint64_t t = seqpkt_now_ns();
        last = cli_now_s();
        if (!start)
            start = last;
        for (int i = 0; i < got; i++) {
            uint32_t id;
            uint64_t seq, sent_at;
            if (!seqpkt_parse(v[i].buf, v[i].len, &id, &seq, &sent_at) ||
                (have_id && id != first_id)) {
                foreign++; /* one sender per run: others are counted, not analysed */
                continue;
            }
            first_id = id;
            have_id = true;
            seqstats_add(&st, seq, v[i].len, t, sent_at);
        }
    }
    double el = last > start ? last - start : 0;
    if (json)
        printf("{\"mode\": \"udp-recv\", \"endpoint\": \"%s\", \"received\": %llu, \"lost\": %llu, "
               "\"reordered\": %llu, \"duplicated\": %llu, \"foreign\": %llu, \"first_seq\": %llu, "
               "\"last_seq\": %llu, \"duration_s\": %.3f, \"packets_per_sec\": %.1f, "
               "\"jitter_us\": %.2f}\n",
               text, (unsigned long long)st.received, (unsigned long long)seqstats_lost(&st),
               (unsigned long long)st.reorder, (unsigned long long)st.dup,
               (unsigned long long)foreign, (unsigned long long)st.min_seq,
               (unsigned long long)st.max_seq, el, el > 0 ? (double)st.received / el : 0.0,
               st.jitter_ns / 1000.0);
    else
        printf("bench udp --recv %s: received %llu, lost %llu (%.3f%%), reordered %llu, duplicated "
               "%llu in %.2f s: %.0f/s, jitter %.1f us\n",
               text, (unsigned long long)st.received, (unsigned long long)seqstats_lost(&st),
               st.unique
                   ? 100.0 * (double)seqstats_lost(&st) / ((double)(st.max_seq - st.min_seq) + 1.0)
                   : 0.0,
               (unsigned long long)st.reorder, (unsigned long long)st.dup, el,
               el > 0 ? (double)st.received / el : 0.0, st.jitter_ns / 1000.0);
    seqstats_free(&st);
    sk_close(fd);
    return EXIT_OK;
}

enum { O_RATE = 256, O_RECV, O_JSON };

#define STR_(x) #x
#define STR(x)  STR_(x)

static const struct cli_opt udp_opts[] = {
    {O_RATE, "rate", CLI_ARG, "PPS", "packets per second (default 0: as fast as it can)", NULL},
    {'s', "size", CLI_ARG, "BYTES", "datagram size, " STR(SEQPKT_HDR) "..65507 (default 64)", NULL},
    {'d', "duration", CLI_ARG, "SECS",
     "how long to send (default 5); the receiver stops SECS after the first packet or 1 s after "
     "the last",
     NULL},
    {O_RECV, "recv", CLI_NOARG, NULL, "receive and count instead of sending", NULL},
    {O_JSON, "json", CLI_NOARG, NULL, "one JSON object on stdout instead of the report", NULL},
    {'q', "quiet", CLI_NOARG, NULL, "accepted as by the other modes (udp has no progress line)",
     NULL},
    {'h', "help", CLI_NOARG, NULL, "this help", NULL},
    CLI_OPT_END,
};

const struct cli_cmd cli_cmd_bench_udp = {
    .name = "bench udp",
    .summary = "datagrams per second and loss",
    .synopsis = "[--rate PPS] [-s BYTES] [-d SECS] [--json] ENDPOINT\n"
                "       sockkit bench udp --recv [-d SECS] [--json] ENDPOINT",
    .about = "The sender sends sequence-numbered datagrams (sendmmsg) at --rate packets/s\n"
             "(default 0: as fast as it can) for --duration; the receiver counts them and\n"
             "reports received, lost, reordered and duplicated. Start the receiver first.",
    .opts = udp_opts,
};

int bench_udp(int argc, char **argv)
{
    struct cli_getopt g;
    cli_getopt_init(&g, &cli_cmd_bench_udp);
    int size = 64, duration_ms = 5000;
    long rate = 0;
    bool recv_mode = false, json = false;
    opterr = 0;
    optind = 2;
    int c;
    while ((c = getopt_long(argc, argv, g.shorts, g.longs, NULL)) != -1) {
        switch (c) {
        case 's':
            size = (int)cli_parse_long(optarg, SEQPKT_HDR, 65507, "--size");
            break;
        case 'd':
            duration_ms = cli_parse_seconds_ms(optarg, "--duration");
            if (!duration_ms)
                cli_usage_error("--duration must be more than 0 seconds");
            break;
        case O_RATE:
            rate = cli_parse_long(optarg, 0, 100000000, "--rate");
            break;
        case O_RECV:
            recv_mode = true;
            break;
        case O_JSON:
            json = true;
            break;
        case 'q':
            break;
        case 'h':
            cli_help(stdout, &cli_cmd_bench_udp);
            return EXIT_OK;
        default:
            cli_bad_option(c, argv);
        }
    }
    if (argc - optind != 1)
        cli_usage_error(argc - optind ? "takes one ENDPOINT" : "missing ENDPOINT");
    sk_endpoint parsed;
    if (sk_endpoint_parse(argv[optind], &parsed) < 0)
        cli_usage_error("%s", sk_errmsg());
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return recv_mode ? recv_side(argv[optind], duration_ms, json)
                     : send_side(argv[optind], size, rate, duration_ms, json);
}
