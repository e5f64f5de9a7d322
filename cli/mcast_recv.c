/* sockkit mcast recv: join groups, then print each packet, or intervals and a summary per
 * sender (see mcast.c). Says where it listens (-v, and always in --json), and when nothing came
 * while a sender on this host sends to the group, which interface to name. */
#include "cli.h"
#include "mcast.h"
#include "mcast_where.h"
#include "report.h"
#include "seqpkt.h"
#include "seqreport.h"
#include "stop.h"
#include "ticks.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_GROUPS  16
#define MAX_STREAMS 256

static const struct cli_opt recv_opts[] = {
    {MC_IFACE, "iface", CLI_ARG, "IF", "interface to join on (name, index or address)", NULL},
    {MC_SOURCE, "source", CLI_ARG, "S", "source-specific (SSM) join: only packets from S", NULL},
    {MC_COUNT, "count", CLI_ARG, "N", "stop after N packets (default: Ctrl-C)", NULL},
    {'d', "duration", CLI_ARG, "SECS", "stop after SECS seconds (default: Ctrl-C)", NULL},
    {MC_STATS, "stats", CLI_NOARG, NULL,
     "statistics, not each packet: a line per interval (-i, default 1 s) and a summary", NULL},
    CLI_OPT_INTERVAL,
    CLI_OPT_JSON,
    CLI_OPT_JSON_LINES,
    {'v', "verbose", CLI_NOARG, NULL,
     "say where it listens (group, interface, index, address) and each new sender", NULL},
    {'q', "quiet", CLI_NOARG, NULL, "not each packet: only the summary, on stdout", NULL},
    CLI_OPT_TRACE,
    CLI_OPT_HELP,
    CLI_OPT_END,
};

const struct cli_cmd cli_cmd_mcast_recv = {
    .name = "mcast recv",
    .summary = "join groups; print each packet or per-sender statistics",
    .synopsis = "[options] GROUP:PORT [GROUP:PORT...]",
    .about = "Joins each group and prints every packet on stdout (the summary then goes to\n"
             "stderr); with --stats, -i or -q, statistics per sender instead, on stdout.\n"
             "Without --iface the kernel picks the interface by route: -v says which.",
    .opts = recv_opts,
};

struct recv_opts {
    const char *iface, *source;
    long count;
    int duration_ms;
    bool stats;
    struct cli_common co;
    int ngroups;
    char **groups;
};

struct stream {
    int group;
    bool ours; /* carries our header */
    uint32_t id;
    sk_addr from;
    seqstats st;
    uint64_t rx_at_tick;
};

struct group_sock {
    int fd;
    sk_addr addr;
    struct mcast_where where;
    bool local_sender; /* seen while nothing came: a sender on this host sends to the group */
};

struct mrecv {
    const struct recv_opts *o;
    struct report rep;
    FILE *text; /* the summary: stderr when stdout has each packet */
    struct group_sock g[MAX_GROUPS];
    struct pollfd p[MAX_GROUPS + 1];
    struct stream streams[MAX_STREAMS];
    int nstreams;
    uint64_t foreign, total, t0, t_end;
    uint64_t next_look; /* when to look for local senders again, while nothing comes */
    struct ticks ticks;
    bool each_packet, intervals, done;
    unsigned char (*bufs)[SEQPKT_DGRAM_MAX];
    sk_dgram v[SEQPKT_BATCH];
};

static void recv_parse(struct recv_opts *o, int argc, char **argv)
{
    struct cli_parser p = CLI_PARSER(&cli_cmd_mcast_recv);
    int c;
    while ((c = cli_next_option(&p, argc, argv, &o->co)) != -1) {
        switch (c) {
        case MC_IFACE:
            o->iface = optarg;
            break;
        case MC_SOURCE:
            o->source = optarg;
            break;
        case MC_COUNT:
            o->count = cli_parse_long(optarg, 1, 1L << 40, "--count");
            break;
        case 'd':
            o->duration_ms = cli_parse_seconds_ms(optarg, "--duration");
            break;
        case MC_STATS:
            o->stats = true;
            break;
        default:
            cli_bad_option(c, argv);
        }
    }
    o->ngroups = argc - optind;
    if (o->ngroups < 1)
        cli_usage_error("missing GROUP:PORT");
    if (o->ngroups > MAX_GROUPS)
        cli_usage_error("at most %d groups", MAX_GROUPS);
    o->groups = argv + optind;
    for (int i = 0; i < o->ngroups; i++) {
        sk_endpoint ep;
        cli_check_endpoint(o->groups[i], CLI_EP_GROUP, &ep);
        for (int k = 0; k < i; k++)
            if (!strcmp(o->groups[k], o->groups[i]))
                cli_usage_error("%s is given twice: each group once (its packets would be "
                                "counted twice)",
                                o->groups[i]);
    }
    if (o->stats && !o->co.interval_ms)
        o->co.interval_ms = 1000;
}

/* Join every group; say where (-v). */
static void join_all(struct mrecv *m)
{
    const struct recv_opts *o = m->o;
    for (int i = 0; i < o->ngroups; i++) {
        struct group_sock *g = &m->g[i];
        int rc = sk_addr_parse(o->groups[i], SK_RESOLVE_NUMERIC, &g->addr);
        if (rc < 0)
            cli_die(cli_exit_status(rc), "%s", sk_errmsg());
        if (sk_addr_is_multicast(&g->addr))
            mcast_where(&g->addr, o->iface, &g->where); /* an unknown --iface is reported here */
        g->fd = sk_mcast_receiver(o->groups[i], o->iface, o->source);
        if (g->fd < 0)
            cli_die(cli_exit_status(g->fd), "%s", sk_errmsg());
        /* As bench udp: a burst while this process waits for the CPU must fit in the socket
         * (the default ~208 KiB holds ~270 small datagrams); the kernel caps it at rmem_max. */
        sk_sock_set_rcvbuf(g->fd, 8 << 20);
        m->p[i] = (struct pollfd){g->fd, POLLIN, 0};
        if (o->co.verbose) {
            char where[SK_ADDRSTRLEN + 64];
            mcast_where_text(&g->where, where, sizeof where);
            cli_say("joined %s on %s%s", o->groups[i], where,
                    g->where.by_route ? ", chosen by route" : "");
        }
    }
}

static void start_report(struct mrecv *m, int argc, char **argv)
{
    const struct recv_opts *o = m->o;
    struct json *j = report_start(&m->rep, "mcast recv", argc, argv);
    json_object(j, "parameters");
    json_array(j, "groups");
    for (int i = 0; i < o->ngroups; i++)
        report_str(j, NULL, o->groups[i]);
    json_end(j, ']');
    report_str(j, "iface", o->iface);
    report_str(j, "source", o->source);
    if (o->count >= 0)
        json_int(j, "count", o->count);
    if (o->duration_ms >= 0)
        json_num(j, "duration_seconds", o->duration_ms / 1000.0);
    if (o->co.interval_ms)
        json_num(j, "interval_seconds", o->co.interval_ms / 1000.0);
    json_end(j, '}');
    json_array(j, "joined");
    for (int i = 0; i < o->ngroups; i++) {
        const struct mcast_where *w = &m->g[i].where;
        json_object(j, NULL);
        report_str(j, "group", o->groups[i]);
        report_str(j, "iface", w->name[0] ? w->name : NULL);
        json_int(j, "index", w->index);
        report_str(j, "address", w->addr[0] ? w->addr : NULL);
        json_bool(j, "chosen_by_route", w->by_route);
        json_end(j, '}');
    }
    json_end(j, ']');
    report_start_done(&m->rep);
}

static struct stream *find_stream(struct mrecv *m, int group, bool ours, uint32_t id,
                                  const sk_addr *from)
{
    for (int i = 0; i < m->nstreams; i++) {
        struct stream *s = &m->streams[i];
        if (s->group == group && s->ours == ours &&
            (ours ? s->id == id : sk_addr_equal(&s->from, from)))
            return s;
    }
    if (m->nstreams == MAX_STREAMS)
        return NULL;
    struct stream *s = &m->streams[m->nstreams++];
    *s = (struct stream){.group = group, .ours = ours, .id = id, .from = *from};
    if (m->o->co.verbose) {
        char who[SK_ADDRSTRLEN];
        sk_addr_format(from, who, sizeof who);
        if (ours)
            cli_say("#%d: sender %08x from %s to %s", m->nstreams, id, who, m->o->groups[group]);
        else
            cli_say("#%d: %s to %s (not sockkit's format)", m->nstreams, who, m->o->groups[group]);
    }
    return s;
}

static void packet_line(const struct mrecv *m, int g, const sk_dgram *d, bool ours, uint32_t id,
                        uint64_t seq)
{
    char who[SK_ADDRSTRLEN];
    sk_addr_format(&d->addr, who, sizeof who);
    if (ours)
        printf("%s from %s: %zu bytes, sender %08x seq %llu\n", m->o->groups[g], who, d->len, id,
               (unsigned long long)seq);
    else
        printf("%s from %s: %zu bytes (not sockkit's format)\n", m->o->groups[g], who, d->len);
}

/* One datagram of group g, received at t (ns since the epoch). */
static void on_packet(struct mrecv *m, int g, const sk_dgram *d, uint64_t t)
{
    uint32_t id = 0;
    uint64_t seq = 0, sent_at = 0;
    bool ours = seqpkt_parse(d->buf, d->len, &id, &seq, &sent_at);
    struct stream *s = find_stream(m, g, ours, id, &d->addr);
    if (ours && seqpkt_is_end(d->buf)) { /* the sender's count, not a packet */
        if (s)
            seqstats_end(&s->st, seq);
        return;
    }
    if (!ours)
        m->foreign++;
    if (s && ours) {
        seqstats_add(&s->st, seq, d->len, t, sent_at);
    } else if (s) { /* another sender's payload: counted, no sequence */
        s->st.received++;
        s->st.bytes += d->len;
    }
    if (m->each_packet)
        packet_line(m, g, d, ours, id, seq);
    m->total++;
    if (m->o->count >= 0 && m->total >= (uint64_t)m->o->count)
        m->done = true;
}

static void drain(struct mrecv *m, int g)
{
    for (int i = 0; i < SEQPKT_BATCH; i++)
        m->v[i] = (sk_dgram){.buf = m->bufs[i], .cap = sizeof m->bufs[i]};
    int got = sk_recv_batch(m->g[g].fd, m->v, SEQPKT_BATCH, 0);
    if (got == -ETIMEDOUT)
        return;
    if (got < 0)
        cli_die(cli_exit_status(got), "%s", sk_errmsg());
    uint64_t t = seqpkt_now_ns();
    for (int i = 0; i < got && !m->done; i++)
        on_packet(m, g, &m->v[i], t);
}

/* The loss the receiver can know: --count tells how many one sender sent when there is one. */
static uint64_t expected(const struct mrecv *m)
{
    return m->o->count > 0 && m->nstreams == 1 && m->streams[0].ours ? (uint64_t)m->o->count : 0;
}

static void interval_text(const struct mrecv *m, double a, double b)
{
    for (int i = 0; i < m->nstreams; i++) {
        const struct stream *s = &m->streams[i];
        uint64_t n = s->st.received - s->rx_at_tick;
        printf("%7.2f-%7.2f s  #%-3d received %9llu %9.0f/s", a, b, i + 1, (unsigned long long)n,
               (double)n / (b - a));
        if (s->ours)
            printf("  lost so far %llu",
                   (unsigned long long)seqstats_loss(&s->st, expected(m)).total);
        printf("\n");
    }
    if (!m->nstreams)
        printf("%7.2f-%7.2f s  no packets\n", a, b);
    fflush(stdout);
}

static void interval_json(struct mrecv *m, double a, double b)
{
    struct json *j = report_interval(&m->rep);
    json_num(j, "start_seconds", a);
    json_num(j, "end_seconds", b);
    json_array(j, "streams");
    for (int i = 0; i < m->nstreams; i++) {
        const struct stream *s = &m->streams[i];
        uint64_t n = s->st.received - s->rx_at_tick;
        json_object(j, NULL);
        json_int(j, "stream", i + 1);
        json_int(j, "received", (long long)n);
        json_num(j, "packets_per_second", (double)n / (b - a));
        if (s->ours)
            json_int(j, "lost_so_far", (long long)seqstats_loss(&s->st, expected(m)).total);
        json_end(j, '}');
    }
    json_end(j, ']');
    report_interval_done(&m->rep);
}

static void tick(struct mrecv *m, uint64_t now)
{
    uint64_t a, b;
    while (m->intervals && ticks_due(&m->ticks, now, &a, &b)) {
        if (report_is_json(&m->rep))
            interval_json(m, (double)a / 1e9, (double)b / 1e9);
        else
            interval_text(m, (double)a / 1e9, (double)b / 1e9);
        for (int i = 0; i < m->nstreams; i++)
            m->streams[i].rx_at_tick = m->streams[i].st.received;
    }
}

/* While nothing comes, five times a second: does a sender on this host send to a group joined on
 * another interface than lo? (Looked at while it runs: it may be gone by the summary.) */
static void look_for_local_senders(struct mrecv *m, uint64_t now)
{
    if (m->nstreams || now < m->next_look)
        return;
    m->next_look = now + 200000000u;
    for (int i = 0; i < m->o->ngroups; i++) {
        struct group_sock *g = &m->g[i];
        if (!g->local_sender && strcmp(g->where.name, "lo"))
            g->local_sender = mcast_local_sender(&g->addr);
    }
}

/* Receive until --count, --duration or a signal (then true). */
static bool recv_loop(struct mrecv *m, int stop)
{
    int n = m->o->ngroups;
    m->p[n] = (struct pollfd){stop, POLLIN, 0};
    for (uint64_t now; !m->done && (now = ticks_now_ns()) < m->t_end;) {
        tick(m, now);
        look_for_local_senders(m, now);
        uint64_t until = m->t_end;
        if (m->intervals && m->ticks.next < until)
            until = m->ticks.next;
        if (!m->nstreams && m->next_look < until)
            until = m->next_look;
        uint64_t wait = until - now > 1000000000u ? 1000000000u : until - now;
        int ready = poll(m->p, (nfds_t)n + 1, (int)(wait / 1000000u) + 1);
        if (ready < 0 && errno != EINTR)
            cli_die(EXIT_RUNTIME, "poll: %s", strerror(errno));
        if (m->p[n].revents && stop_requested(stop))
            return true; /* SIGINT / SIGTERM: the seed's stop flag, delivered as a wakeup */
        for (int g = 0; g < n && ready > 0 && !m->done; g++)
            if (m->p[g].revents)
                drain(m, g);
    }
    tick(m, ticks_now_ns()); /* the last interval of a --duration */
    return false;
}

static void stream_json(const struct mrecv *m, struct json *j, const struct stream *s)
{
    char who[SK_ADDRSTRLEN], id[16];
    sk_addr_format(&s->from, who, sizeof who);
    json_object(j, NULL);
    report_str(j, "group", m->o->groups[s->group]);
    report_str(j, "from", who);
    json_bool(j, "sockkit", s->ours);
    if (s->ours) {
        snprintf(id, sizeof id, "%08x", s->id);
        json_str(j, "sender_id", id);
        seqreport_json(j, &s->st, expected(m));
    } else {
        json_null(j, "sender_id");
        json_int(j, "received", (long long)s->st.received);
        json_int(j, "bytes", (long long)s->st.bytes);
    }
    json_end(j, '}');
}

/* When nothing came: a group joined on another interface than lo while a sender on this host
 * sends to it (its packets reach the receivers joined on the interface it sends on). */
static const struct group_sock *missed_local(const struct mrecv *m)
{
    for (int i = 0; i < m->o->ngroups; i++) {
        const struct group_sock *g = &m->g[i];
        if (g->local_sender || (strcmp(g->where.name, "lo") && mcast_local_sender(&g->addr)))
            return g;
    }
    return NULL;
}

static void result_json(struct mrecv *m, double secs)
{
    char hint[512];
    const struct group_sock *g = m->nstreams ? NULL : missed_local(m);
    if (g)
        snprintf(hint, sizeof hint,
                 "a sender on this host sends to %s, joined here on %s: name the same interface "
                 "on both sides (--iface lo)",
                 m->o->groups[g - m->g], g->where.name[0] ? g->where.name : "the route's one");
    struct json *j = report_end(&m->rep);
    json_num(j, "seconds", secs);
    json_int(j, "packets", (long long)m->total);
    json_int(j, "foreign_packets", (long long)m->foreign);
    json_array(j, "streams");
    for (int i = 0; i < m->nstreams; i++)
        stream_json(m, j, &m->streams[i]);
    json_end(j, ']');
    report_str(j, "hint", g ? hint : NULL);
    report_finish(&m->rep);
}

static void stream_text(const struct mrecv *m, FILE *out, int i)
{
    const struct stream *s = &m->streams[i];
    char who[SK_ADDRSTRLEN];
    sk_addr_format(&s->from, who, sizeof who);
    if (!s->ours) {
        fprintf(out,
                "#%d %s from %s: %llu packet%s, %llu bytes\n    (not sockkit's format: no "
                "sequence statistics)\n",
                i + 1, m->o->groups[s->group], who, (unsigned long long)s->st.received,
                s->st.received == 1 ? "" : "s", (unsigned long long)s->st.bytes);
        return;
    }
    fprintf(out, "#%d %s sender %08x from %s\n", i + 1, m->o->groups[s->group], s->id, who);
    seqreport_text(out, &s->st, expected(m), "    ");
}

static void result_text(struct mrecv *m, double secs, bool stopped)
{
    FILE *out = m->text;
    if (m->each_packet)
        fflush(stdout);
    if (stopped && isatty(fileno(out)))
        fputc('\n', out); /* after the ^C the terminal echoed */
    fprintf(out, "summary after %.2f s:%s\n", secs, m->nstreams ? "" : " no packets");
    for (int i = 0; i < m->nstreams; i++)
        stream_text(m, out, i);
    if (m->nstreams)
        return;
    for (int i = 0; i < m->o->ngroups; i++) {
        char where[SK_ADDRSTRLEN + 64];
        mcast_where_text(&m->g[i].where, where, sizeof where);
        fprintf(out, "joined %s on %s\n", m->o->groups[i], where);
    }
    const struct group_sock *g = missed_local(m);
    if (g)
        fprintf(out,
                "a sender on this host sends to %s; its packets reach receivers\n"
                "  joined on the interface it sends on, not %s: try --iface lo on both sides\n",
                m->o->groups[g - m->g], g->where.name[0] ? g->where.name : "the route's one");
}

int mcast_recv(int argc, char **argv)
{
    struct recv_opts o = {.count = -1, .duration_ms = -1};
    recv_parse(&o, argc, argv);
    struct mrecv *m = calloc(1, sizeof *m);
    if (!m || !(m->bufs = malloc(SEQPKT_BATCH * sizeof *m->bufs)))
        cli_die(EXIT_RUNTIME, "out of memory");
    m->o = &o;
    report_init(&m->rep, &o.co);
    m->intervals = o.co.interval_ms > 0;
    m->each_packet = !m->intervals && !o.co.quiet && !report_is_json(&m->rep);
    m->text = m->each_packet ? stderr : stdout;
    join_all(m);
    if (report_is_json(&m->rep))
        start_report(m, argc + 1, argv - 1);
    int stop = stop_fd_open();
    m->t0 = ticks_now_ns();
    m->t_end = o.duration_ms >= 0 ? m->t0 + (uint64_t)o.duration_ms * 1000000u : UINT64_MAX;
    ticks_init(&m->ticks, m->t0, m->t_end,
               m->intervals ? (uint64_t)o.co.interval_ms * 1000000u : UINT64_MAX / 2);
    setvbuf(stdout, NULL, _IOLBF, 0);
    bool stopped = recv_loop(m, stop);
    double secs = (double)(ticks_now_ns() - m->t0) / 1e9;
    if (report_is_json(&m->rep))
        result_json(m, secs);
    else
        result_text(m, secs, stopped);
    for (int g = 0; g < o.ngroups; g++)
        sk_close(m->g[g].fd);
    for (int i = 0; i < m->nstreams; i++)
        seqstats_free(&m->streams[i].st);
    close(stop);
    free(m->bufs);
    free(m);
    return EXIT_OK;
}
