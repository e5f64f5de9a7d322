/* sockkit mcast send|recv: a multicast sender whose packets carry a sender id, a sequence number
 * and a send time, and a receiver that prints packets or keeps per-sender statistics (received,
 * lost, reordered, duplicated, rate, RFC 3550 jitter) as mcjoin and mdump do. The packet format
 * and the accounting are in seqpkt.c (shared with `sockkit bench udp`), the paced sender in
 * seqsend.c, the receiver in mcast_recv.c. */
#include "cli.h"
#include "mcast.h"
#include "mcast_where.h"
#include "report.h"
#include "seqpkt.h"
#include "sendmeter.h"
#include "seqsend.h"
#include "stop.h"
#include "ticks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STR_(x) #x
#define STR(x)  STR_(x)

static const struct cli_opt send_opts[] = {
    {MC_IFACE, "iface", CLI_ARG, "IF", "outgoing interface (name, index or address)", NULL},
    {MC_TTL, "ttl", CLI_ARG, "N", "hops (1..255, default 1: this link only)", NULL},
    {MC_LOOP, "loop", CLI_NOARG, NULL, "deliver to receivers on this host too (the default)", NULL},
    {MC_NOLOOP, "no-loop", CLI_NOARG, NULL, "do not deliver to receivers on this host", NULL},
    {MC_RATE, "rate", CLI_ARG, "PPS",
     "packets per second (1.5k, 0.5; default 1000, as bench udp; 0: as fast as it can)", NULL},
    {MC_COUNT, "count", CLI_ARG, "N", "stop after N packets (default: Ctrl-C)", NULL},
    {'d', "duration", CLI_ARG, "SECS", "stop after SECS seconds (default: Ctrl-C)", NULL},
    {MC_SIZE, "size", CLI_ARG, "BYTES", "packet size, " STR(SEQPKT_HDR) "..65507 (default 64)",
     NULL},
    CLI_OPT_INTERVAL,
    CLI_OPT_JSON,
    CLI_OPT_JSON_LINES,
    {'v', "verbose", CLI_NOARG, NULL,
     "say where it sends: the interface (index, address), TTL and loop", NULL},
    {'q', "quiet", CLI_NOARG, NULL, "no progress line (shown when stderr is a terminal)", NULL},
    CLI_OPT_TRACE,
    CLI_OPT_HELP,
    CLI_OPT_END,
};

const struct cli_cmd cli_cmd_mcast_send = {
    .name = "mcast send",
    .summary = "send sequence-numbered packets to a group",
    .synopsis = "[options] GROUP:PORT",
    .about = "Sends --rate packets/s, each with a sender id, a sequence number from 0 and a\n"
             "send time, until --count, --duration or Ctrl-C; then an end marker with the\n"
             "count, so receivers can tell packets lost after the last one they got. The\n"
             "summary goes to stdout.",
    .opts = send_opts,
};

struct msend_opts {
    const char *group, *iface;
    int ttl, size, duration_ms;
    bool loop;
    double rate; /* packets/s (0: as fast as it can) */
    long count;
    struct cli_common co;
};

static void send_parse(struct msend_opts *o, int argc, char **argv)
{
    struct cli_parser p = CLI_PARSER(&cli_cmd_mcast_send);
    int c;
    while ((c = cli_next_option(&p, argc, argv, &o->co)) != -1) {
        switch (c) {
        case MC_IFACE:
            o->iface = optarg;
            break;
        case MC_TTL:
            o->ttl = (int)cli_parse_long(optarg, 1, 255, "--ttl");
            break;
        case MC_LOOP:
        case MC_NOLOOP:
            o->loop = c == MC_LOOP;
            break;
        case MC_RATE:
            o->rate = cli_parse_rate_or_0(optarg, 10000000, "--rate", "packets");
            break;
        case MC_COUNT:
            o->count = cli_parse_long(optarg, 1, 1L << 40, "--count");
            break;
        case MC_SIZE:
            o->size = (int)cli_parse_size(optarg, SEQPKT_HDR, 65507, "--size");
            break;
        case 'd':
            o->duration_ms = cli_parse_seconds_ms(optarg, "--duration");
            break;
        default:
            cli_bad_option(c, argv);
        }
    }
    if (argc - optind != 1)
        cli_usage_error(argc - optind ? "takes one GROUP:PORT" : "missing GROUP:PORT");
    o->group = argv[optind];
    sk_endpoint ep;
    cli_check_endpoint(o->group, CLI_EP_GROUP, &ep);
}

struct msend {
    const struct msend_opts *o;
    struct report rep;
    struct seqsend ss;
    struct send_meter meter;
};

/* The sender's socket; where it sends, for -v and the JSON start. */
static int send_socket(const struct msend_opts *o, struct mcast_where *where)
{
    sk_addr group;
    int rc = sk_addr_parse(o->group, SK_RESOLVE_NUMERIC, &group);
    if (rc < 0)
        cli_die(cli_exit_status(rc), "%s", sk_errmsg());
    if (sk_addr_is_multicast(&group))
        mcast_where(&group, o->iface, where); /* an unknown --iface is reported here */
    int fd = sk_mcast_sender(o->group, o->iface, o->ttl, o->loop);
    if (fd < 0)
        cli_die(cli_exit_status(fd), "%s", sk_errmsg());
    sk_addr me;
    if (sk_sock_get_local_addr(fd, &me) == 0 && !sk_addr_is_any(&me))
        mcast_host_text(&me, where->addr, sizeof where->addr); /* the source the kernel chose */
    if (o->co.verbose) {
        char text[SK_ADDRSTRLEN + 64];
        mcast_where_text(where, text, sizeof text);
        cli_say("sending to %s on %s, ttl %d, loop %s", o->group, text, o->ttl,
                o->loop ? "on" : "off");
    }
    return fd;
}

static void send_start(struct msend *m, const struct mcast_where *where, int argc, char **argv)
{
    const struct msend_opts *o = m->o;
    struct json *j = report_start(&m->rep, "mcast send", argc, argv);
    json_object(j, "parameters");
    report_str(j, "group", o->group);
    report_str(j, "iface", o->iface);
    json_int(j, "ttl", o->ttl);
    json_bool(j, "loop", o->loop);
    if (o->rate == floor(o->rate))
        json_int(j, "rate_packets_per_second", (long long)o->rate);
    else
        json_num(j, "rate_packets_per_second", o->rate);
    json_int(j, "size_bytes", o->size);
    if (o->count >= 0)
        json_int(j, "count", o->count);
    if (o->duration_ms >= 0)
        json_num(j, "duration_seconds", o->duration_ms / 1000.0);
    if (o->co.interval_ms)
        json_num(j, "interval_seconds", o->co.interval_ms / 1000.0);
    json_end(j, '}');
    json_object(j, "sending");
    report_str(j, "iface", where->name[0] ? where->name : NULL);
    json_int(j, "index", where->index);
    report_str(j, "address", where->addr[0] ? where->addr : NULL);
    json_bool(j, "chosen_by_route", where->by_route);
    json_end(j, '}');
    report_start_done(&m->rep);
}

static void send_result(struct msend *m, double secs)
{
    const struct msend_opts *o = m->o;
    uint64_t sent = m->ss.sent;
    double pps = secs > 0.01 ? (double)sent / secs : 0;
    if (!report_is_json(&m->rep)) {
        if (m->ss.stopped && !m->meter.progress && isatty(STDOUT_FILENO))
            putchar('\n'); /* after the ^C the terminal echoed */
        printf("sent %llu packet%s of %d bytes to %s in %.2f s\n", (unsigned long long)sent,
               sent == 1 ? "" : "s", o->size, o->group, secs);
        if (secs > 0.01)
            printf("  %.0f/s, sender id %08x\n", pps, m->ss.id);
        else
            printf("  sender id %08x\n", m->ss.id);
        return;
    }
    struct json *j = report_end(&m->rep);
    char id[16];
    snprintf(id, sizeof id, "%08x", m->ss.id);
    json_str(j, "sender_id", id);
    json_num(j, "seconds", secs);
    json_int(j, "packets", (long long)sent);
    json_int(j, "bytes", (long long)(sent * (uint64_t)o->size));
    json_num(j, "packets_per_second", secs > 0.01 ? pps : NAN);
    json_bool(j, "interrupted", m->ss.stopped);
    report_finish(&m->rep);
}

static int mcast_send(int argc, char **argv)
{
    struct msend_opts o = {
        .ttl = 1, .size = 64, .duration_ms = -1, .loop = true, .rate = 1000, .count = -1};
    send_parse(&o, argc, argv);
    struct msend *m = calloc(1, sizeof *m);
    if (!m)
        cli_die(EXIT_RUNTIME, "out of memory");
    m->o = &o;
    report_init(&m->rep, &o.co);
    struct mcast_where where = {0};
    int fd = send_socket(&o, &where);
    if (report_is_json(&m->rep))
        send_start(m, &where, argc + 1, argv - 1);
    uint64_t t0 = ticks_now_ns();
    m->ss = (struct seqsend){.fd = fd,
                             .stop = stop_fd_open(),
                             .id = (uint32_t)(seqpkt_now_ns() ^ ((uint64_t)getpid() << 16)),
                             .size = o.size,
                             .rate = o.rate,
                             .count = o.count > 0 ? (uint64_t)o.count : 0,
                             .t_end = o.duration_ms >= 0 ? t0 + (uint64_t)o.duration_ms * 1000000u
                                                         : UINT64_MAX,
                             .tick = send_meter_tick,
                             .tick_ctx = &m->meter};
    send_meter_init(&m->meter, &m->rep, &o.co, &m->ss, t0);
    seqsend_run(&m->ss);
    send_meter_end(&m->meter); /* after Ctrl-C the summary starts on a line of its own */
    send_result(m, (double)(ticks_now_ns() - m->ss.t0) / 1e9);
    sk_close(fd);
    close(m->ss.stop);
    seqsend_free(&m->ss);
    free(m);
    return EXIT_OK;
}

static const struct cli_opt mcast_opts[] = {
    CLI_OPT_HELP,
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
    if (!strcmp(argv[1], "send")) {
        cli_prog = "sockkit mcast send"; /* messages name the mode */
        return mcast_send(argc - 1, argv + 1);
    }
    if (!strcmp(argv[1], "recv")) {
        cli_prog = "sockkit mcast recv";
        return mcast_recv(argc - 1, argv + 1);
    }
    cli_usage_error("'mcast %s': use 'mcast send' or 'mcast recv'", argv[1]);
}
