/* sockkit bench udp: packets per second and loss. The sender sends sequence-numbered datagrams
 * (seqpkt.h) with sendmmsg at --rate packets/s or -b bits/s (seqsend.h paces them on 1 ms ticks;
 * --rate 0 = as fast as it can) and an end marker saying how many;
 * the receiver (--recv) takes them with recvmmsg and checks the sequence numbers: received, lost
 * (before the first, in gaps, after the last), reordered, duplicated. */
#include "bitrate.h"
#include "cli.h"
#include "opts.h"
#include "report.h"
#include "seqpkt.h"
#include "seqreport.h"
#include "sendmeter.h"
#include "seqsend.h"
#include "stop.h"
#include "ticks.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { O_RATE = 256, O_RECV, O_SIZE };

struct udp_opts {
    const char *endpoint;
    int size, duration_ms;
    double rate;    /* packets/s: --rate, or -b over the packet's bits */
    double bitrate; /* -b; 0: not given */
    bool recv, rate_given, size_given;
    struct cli_common co;
    int argc;
    char **argv;
};

#define STR_(x) #x
#define STR(x)  STR_(x)

static const struct cli_opt udp_opts[] = {
    {O_RECV, "recv", CLI_NOARG, NULL, "receive and count instead of sending", NULL},
    {O_RATE, "rate", CLI_ARG, "PPS",
     "send: packets per second (1.5k, 2M, 0.5; default 1000; 0: as fast as it can)", NULL},
    {'b', "bitrate", CLI_ARG, "BITS",
     "send: bits per second instead of --rate (100M, 1.5G, 500k: decimal, as iperf3; the "
     "datagrams' bytes, without IP and UDP headers)",
     NULL},
    {O_SIZE, "size", CLI_ARG, "BYTES",
     "send: datagram size, " STR(SEQPKT_HDR) "..65507 (default 64)", NULL},
    {'d', "duration", CLI_ARG, "SECS",
     "how long to send (default 5); the receiver stops SECS after the first packet, 0.2 s after "
     "the sender's end marker or 1 s after the last packet",
     NULL},
    {'t', "time", CLI_ARG, "SECS", "the same as -d (iperf3's -t)", NULL},
    CLI_OPT_INTERVAL,
    CLI_OPT_JSON,
    CLI_OPT_JSON_LINES,
    {'v', "verbose", CLI_NOARG, NULL,
     "say where it sends from; the receiver: each sender as it appears", NULL},
    {'q', "quiet", CLI_NOARG, NULL, "no progress line, no 'receiving on' line", NULL},
    CLI_OPT_TRACE,
    CLI_OPT_HELP,
    CLI_OPT_END,
};

const struct cli_cmd cli_cmd_bench_udp = {
    .name = "bench udp",
    .summary = "datagrams per second and loss",
    .synopsis = "[--rate PPS | -b BITS] [--size BYTES] [options] ENDPOINT\n"
                "       sockkit bench udp --recv [-d SECS] [options] ENDPOINT",
    .about = "The sender sends sequence-numbered datagrams (sendmmsg) at --rate packets/s\n"
             "(default 1000, as mcast send; 0: as fast as it can) for --duration, then an end\n"
             "marker with its count; the receiver counts them and reports received, lost,\n"
             "reordered and duplicated, the rate and the RFC 3550 jitter. Start the receiver\n"
             "first. Pacing: packet n is due n/rate after the start; the sender wakes every\n"
             "1 ms and sends what is due (UDP GSO where the kernel takes it, else sendmmsg),\n"
             "catching up at full speed when behind.\n"
             "The sender's report gives the achieved rate against the requested one and says\n"
             "when the machine could not keep it.",
    .opts = udp_opts,
};

static void udp_parse(struct udp_opts *o, int argc, char **argv)
{
    struct cli_parser p = CLI_PARSER(&cli_cmd_bench_udp);
    int c;
    while ((c = cli_next_option(&p, argc, argv, &o->co)) != -1) {
        switch (c) {
        case O_SIZE:
            o->size = (int)cli_parse_size(optarg, SEQPKT_HDR, 65507, "--size");
            o->size_given = true;
            break;
        case 'd':
        case 't':
            o->duration_ms = cli_parse_seconds_ms(optarg, c == 'd' ? "--duration" : "--time");
            if (!o->duration_ms)
                cli_usage_error("%s must be more than 0 seconds",
                                c == 'd' ? "--duration" : "--time");
            break;
        case O_RATE:
            o->rate = cli_parse_rate_or_0(optarg, 100000000, "--rate", "packets");
            o->rate_given = true;
            break;
        case 'b':
            o->bitrate = cli_parse_bitrate(optarg, "--bitrate");
            break;
        case O_RECV:
            o->recv = true;
            break;
        default:
            cli_bad_option(c, argv);
        }
    }
    if (argc - optind != 1)
        cli_usage_error(argc - optind ? "takes one ENDPOINT" : "missing ENDPOINT");
    if (o->recv && (o->rate_given || o->size_given || o->bitrate))
        cli_usage_error("%s is for the sender: the receiver takes what comes",
                        o->rate_given ? "--rate"
                        : o->bitrate  ? "--bitrate"
                                      : "--size");
    if (o->rate_given && o->bitrate)
        cli_usage_error("--rate and --bitrate both set the sending rate: give one");
    if (o->bitrate)
        o->rate = o->bitrate / (o->size * 8.0);
    o->endpoint = argv[optind];
    sk_endpoint ep;
    cli_check_endpoint(o->endpoint, o->recv ? CLI_EP_PASSIVE : 0, &ep);
    /* bound to a group without joining it, the receiver would wait for packets that never come */
    sk_addr group;
    if (o->recv && !ep.is_unix && !ep.any_host &&
        sk_addr_parse(o->endpoint, SK_RESOLVE_NUMERIC, &group) == 0 && sk_addr_is_multicast(&group))
        cli_usage_error("%s is a multicast group, which --recv does not join: 'sockkit mcast recv "
                        "%s' joins it and counts the same packets",
                        o->endpoint, o->endpoint);
}

static void start_report(struct report *r, const struct udp_opts *o, const char *addr)
{
    struct json *j = report_start(r, "bench udp", o->argc, o->argv);
    json_object(j, "parameters");
    json_str(j, "role", o->recv ? "receive" : "send");
    report_str(j, "endpoint", o->endpoint);
    report_str(j, "address", addr);
    if (!o->recv) {
        json_int(j, "size_bytes", o->size);
        json_num(j, "rate_packets_per_second", o->rate);
        if (o->bitrate)
            json_num(j, "bitrate_bits_per_second", o->bitrate);
        else
            json_null(j, "bitrate_bits_per_second");
        json_num(j, "pacing_tick_seconds", SEQSEND_TICK_NS / 1e9);
    }
    json_num(j, "duration_seconds", o->duration_ms / 1000.0);
    if (o->co.interval_ms)
        json_num(j, "interval_seconds", o->co.interval_ms / 1000.0);
    json_end(j, '}');
    report_start_done(r);
}

/* ---- send ---------------------------------------------------------------------------------- */

struct udp_send {
    const struct udp_opts *o;
    struct report rep;
    struct seqsend ss;
    struct send_meter meter;
};

/* The paced rate against the achieved one, when there was one to keep. */
static void text_paced(const struct udp_opts *o, double ratio, bool kept)
{
    char want[32];
    if (o->bitrate)
        bitrate_format(want, sizeof want, o->bitrate);
    else
        snprintf(want, sizeof want, o->rate == floor(o->rate) ? "%.0f packets/s" : "%.3g packets/s",
                 o->rate);
    printf("  paced: %s requested (1 ms ticks), achieved %.1f%%\n", want, 100 * ratio);
    if (!kept)
        printf("  the requested rate was NOT kept: this machine could not send %s\n", want);
}

static void send_result(struct udp_send *s, double secs)
{
    const struct udp_opts *o = s->o;
    uint64_t sent = s->ss.sent;
    bool rated = secs >= 0.01; /* no rate over a moment */
    double pps = rated ? (double)sent / secs : NAN, bps = pps * o->size * 8;
    /* Achieved: the packets sent over those the schedule had for the run (packet n is due at
     * n/rate: ceil(d x rate) in d seconds), or over secs x rate when the sender took longer than d
     * (it fell behind). Not pps over the rate: a few packets make that a step function (1/s for
     * 0.5 s sends 1 packet, 2/s, "200%"). A run cut short by ^C is measured over its own time: it
     * keeps its rate too. */
    bool paced = o->rate > 0 && rated;
    double planned = ceil((s->ss.stopped ? secs : o->duration_ms / 1000.0) * o->rate - 1e-9);
    double ratio = paced ? (double)sent / fmax(fmax(planned, secs * o->rate), 1) : NAN;
    bool kept = !paced || ratio >= BITRATE_KEPT_MIN;
    if (!kept && !o->co.quiet && report_is_json(&s->rep))
        cli_say("the requested rate was not kept (see rate_kept in the report)");
    if (!report_is_json(&s->rep)) {
        if (s->ss.stopped && !s->meter.progress && isatty(STDOUT_FILENO))
            putchar('\n'); /* after the ^C the terminal echoed */
        printf("bench udp %s: sent %llu datagram%s of %d bytes in %.2f s\n", o->endpoint,
               (unsigned long long)sent, sent == 1 ? "" : "s", o->size, secs);
        if (rated)
            printf("  %.0f/s, %.1f Mbit/s, sender id %08x\n", pps, bps / 1e6, s->ss.id);
        else
            printf("  sender id %08x\n", s->ss.id);
        if (paced)
            text_paced(o, ratio, kept);
        if (s->ss.refused)
            printf("  %llu batch%s refused (ICMP port unreachable: no receiver yet)\n",
                   (unsigned long long)s->ss.refused, s->ss.refused == 1 ? "" : "es");
        return;
    }
    struct json *j = report_end(&s->rep);
    char id[16];
    snprintf(id, sizeof id, "%08x", s->ss.id);
    json_str(j, "sender_id", id);
    json_num(j, "seconds", secs);
    json_int(j, "packets", (long long)sent);
    json_int(j, "bytes", (long long)(sent * (uint64_t)o->size));
    json_num(j, "packets_per_second", pps);
    json_num(j, "bits_per_second", bps);
    if (paced) {
        json_num(j, "requested_packets_per_second", o->rate);
        json_bool(j, "rate_kept", kept);
    } else {
        json_null(j, "requested_packets_per_second");
        json_null(j, "rate_kept");
    }
    json_int(j, "refused_batches", (long long)s->ss.refused);
    json_bool(j, "interrupted", s->ss.stopped);
    report_finish(&s->rep);
}

/* The connected socket, and what -v says about it. Returns the peer's address text in to. */
static int send_socket(const struct udp_opts *o, char *to, size_t len)
{
    int fd = sk_connect_ex(o->endpoint, &(sk_connect_opts)SK_CONNECT_OPTS_INIT(.type = SOCK_DGRAM),
                           3000);
    if (fd < 0)
        cli_die(cli_exit_status(fd), "%s", sk_errmsg());
    sk_sock_set_sndbuf(fd, 4 << 20);
    char from[SK_ADDRSTRLEN] = "?";
    sk_addr a;
    if (sk_sock_get_local_addr(fd, &a) == 0)
        sk_addr_format(&a, from, sizeof from);
    if (sk_sock_get_peer_addr(fd, &a) == 0)
        sk_addr_format(&a, to, len);
    if (o->co.verbose)
        cli_say("sending to %s from %s", to, from);
    return fd;
}

static int send_side(const struct udp_opts *o)
{
    struct udp_send *s = calloc(1, sizeof *s);
    if (!s)
        cli_die(EXIT_RUNTIME, "out of memory");
    s->o = o;
    report_init(&s->rep, &o->co);
    char to[SK_ADDRSTRLEN] = "";
    int fd = send_socket(o, to, sizeof to);
    if (report_is_json(&s->rep))
        start_report(&s->rep, o, to);
    uint64_t t0 = ticks_now_ns();
    s->ss = (struct seqsend){.fd = fd,
                             .stop = stop_fd_open(),
                             .id = (uint32_t)(seqpkt_now_ns() ^ ((uint64_t)getpid() << 16)),
                             .size = o->size,
                             .rate = o->rate,
                             .t0 = t0,
                             .t_end = t0 + (uint64_t)o->duration_ms * 1000000u,
                             .tick = send_meter_tick,
                             .tick_ctx = &s->meter,
                             .gso = sk_trace_level() == SK_TRACE_OFF && !o->co.pcap};
    send_meter_init(&s->meter, &s->rep, &o->co, &s->ss, t0);
    seqsend_run(&s->ss);
    send_meter_end(&s->meter); /* after Ctrl-C the summary starts on a line of its own */
    send_result(s, (double)(ticks_now_ns() - s->ss.t0) / 1e9);
    sk_close(fd);
    close(s->ss.stop);
    seqsend_free(&s->ss);
    free(s);
    return EXIT_OK;
}

/* ---- receive ------------------------------------------------------------------------------- */

struct udp_recv {
    const struct udp_opts *o;
    struct report rep;
    int fd, stop;
    char where[SK_ADDRSTRLEN];
    seqstats st;
    uint64_t foreign;
    uint32_t id;
    bool have_id;
    uint64_t began, first, last, ended; /* monotonic ns; 0: not yet */
    struct ticks ticks;
    uint64_t rx_at_tick;
    unsigned char (*bufs)[SEQPKT_DGRAM_MAX];
    sk_dgram v[SEQPKT_BATCH];
};

static void recv_tick(struct udp_recv *r, uint64_t now)
{
    uint64_t a, b;
    while (r->first && ticks_due(&r->ticks, now, &a, &b)) {
        uint64_t n = r->st.received - r->rx_at_tick;
        double secs = (double)(b - a) / 1e9;
        r->rx_at_tick = r->st.received;
        seqloss l = seqstats_loss(&r->st, 0);
        if (!report_is_json(&r->rep)) {
            printf("%7.2f-%7.2f s  received %11llu %11.0f/s  lost so far %llu\n", (double)a / 1e9,
                   (double)b / 1e9, (unsigned long long)n, (double)n / secs,
                   (unsigned long long)l.total);
            fflush(stdout);
            continue;
        }
        struct json *j = report_interval(&r->rep);
        json_num(j, "start_seconds", (double)a / 1e9);
        json_num(j, "end_seconds", (double)b / 1e9);
        json_int(j, "received", (long long)n);
        json_num(j, "packets_per_second", (double)n / secs);
        json_int(j, "lost_so_far", (long long)l.total);
        report_interval_done(&r->rep);
    }
}

/* One datagram: ours from the first sender is counted, anything else is foreign. */
static void recv_one(struct udp_recv *r, const sk_dgram *d, uint64_t t)
{
    uint32_t id;
    uint64_t seq, sent_at;
    if (!seqpkt_parse(d->buf, d->len, &id, &seq, &sent_at) || (r->have_id && id != r->id)) {
        r->foreign++; /* one sender per run: others are counted, not analysed */
        return;
    }
    if (!r->have_id && r->o->co.verbose) {
        char who[SK_ADDRSTRLEN];
        sk_addr_format(&d->addr, who, sizeof who);
        cli_say("sender %08x from %s", id, who);
    }
    r->id = id;
    r->have_id = true;
    if (seqpkt_is_end(d->buf)) {
        seqstats_end(&r->st, seq);
        r->ended = ticks_now_ns();
    } else {
        seqstats_add(&r->st, seq, d->len, t, sent_at);
    }
}

/* The run ends --duration after the first packet, 0.2 s after the end marker, 1 s after the last
 * packet, or after 30 s with none. */
static bool recv_over(const struct udp_recv *r, uint64_t now)
{
    const uint64_t ms = 1000000u;
    return (r->first && now - r->first >= (uint64_t)r->o->duration_ms * ms) ||
           (r->ended && now - r->ended >= 200 * ms) || (r->last && now - r->last > 1000 * ms) ||
           (!r->first && now - r->began > 30000 * ms);
}

static void recv_loop(struct udp_recv *r)
{
    struct pollfd p[2] = {{r->fd, POLLIN, 0}, {r->stop, POLLIN, 0}};
    for (uint64_t now; !recv_over(r, now = ticks_now_ns());) {
        recv_tick(r, now);
        if (poll(p, 2, 50) < 0 && errno != EINTR)
            cli_die(EXIT_RUNTIME, "poll: %s", strerror(errno));
        if (p[1].revents && stop_requested(r->stop))
            break;
        if (!p[0].revents)
            continue;
        for (int i = 0; i < SEQPKT_BATCH; i++)
            r->v[i] = (sk_dgram){.buf = r->bufs[i], .cap = sizeof r->bufs[i]};
        int got = sk_recv_batch(r->fd, r->v, SEQPKT_BATCH, 0);
        if (got == -ETIMEDOUT)
            continue;
        if (got < 0)
            cli_die(cli_exit_status(got), "%s", sk_errmsg());
        uint64_t t = seqpkt_now_ns();
        r->last = ticks_now_ns();
        if (!r->first) {
            r->first = r->last;
            ticks_init(&r->ticks, r->first, UINT64_MAX,
                       r->o->co.interval_ms ? (uint64_t)r->o->co.interval_ms * 1000000u
                                            : UINT64_MAX / 2);
        }
        for (int i = 0; i < got; i++)
            recv_one(r, &r->v[i], t);
    }
}

static void recv_result(struct udp_recv *r)
{
    if (!report_is_json(&r->rep)) {
        printf("bench udp --recv %s", r->where);
        if (r->have_id)
            printf(": sender %08x", r->id);
        printf("\n");
        seqreport_text(stdout, &r->st, 0, "  ");
        if (r->foreign)
            printf("  %llu packet%s from other senders (not counted)\n",
                   (unsigned long long)r->foreign, r->foreign == 1 ? "" : "s");
        return;
    }
    struct json *j = report_end(&r->rep);
    char id[16];
    snprintf(id, sizeof id, "%08x", r->id);
    if (r->have_id)
        json_str(j, "sender_id", id);
    else
        json_null(j, "sender_id");
    seqreport_json(j, &r->st, 0);
    json_int(j, "foreign_packets", (long long)r->foreign);
    report_finish(&r->rep);
}

static int recv_side(const struct udp_opts *o)
{
    struct udp_recv *r = calloc(1, sizeof *r);
    if (!r || !(r->bufs = malloc(SEQPKT_BATCH * sizeof *r->bufs)))
        cli_die(EXIT_RUNTIME, "out of memory");
    r->o = o;
    report_init(&r->rep, &o->co);
    r->fd = sk_listen(o->endpoint, &(sk_listen_opts)SK_LISTEN_OPTS_INIT(.type = SOCK_DGRAM));
    if (r->fd < 0)
        cli_die(cli_exit_status(r->fd), "%s", sk_errmsg());
    sk_sock_set_rcvbuf(r->fd, 8 << 20);
    sk_addr me;
    sk_sock_get_local_addr(r->fd, &me);
    sk_addr_format(&me, r->where, sizeof r->where);
    if (report_is_json(&r->rep))
        start_report(&r->rep, o, r->where);
    if (!o->co.quiet)
        cli_say("receiving on %s", r->where);
    r->stop = stop_fd_open();
    r->began = ticks_now_ns();
    recv_loop(r);
    recv_result(r);
    seqstats_free(&r->st);
    sk_close(r->fd);
    close(r->stop);
    free(r->bufs);
    free(r);
    return EXIT_OK;
}

int bench_udp(int argc, char **argv)
{
    struct udp_opts o = {
        .size = 64, .duration_ms = 5000, .rate = 1000, .argc = argc + 1, .argv = argv - 1};
    udp_parse(&o, argc, argv);
    return o.recv ? recv_side(&o) : send_side(&o);
}
