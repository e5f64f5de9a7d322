/* sockkit serve: the classic small services on sk_server — echo (RFC 862), discard (RFC 863),
 * chargen (RFC 864), daytime (RFC 867), time (RFC 868) — plus sink and source for throughput
 * tests. Each service exists twice: as a blocking handler (iterative, thread, fork and pool
 * models) and as event callbacks (the event model, the default). Ctrl-C or SIGTERM drains the
 * server and prints its counters. */
#include "tls.h"
#include "cli.h"
#include "opts.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536

static int echo(sk_request *req)
{
    char buf[CHUNK];
    if (req->type != SOCK_STREAM)
        return sk_request_send(req, req->data, req->len);
    for (;;) {
        ssize_t n = sk_request_recv(req, buf, sizeof buf);
        if (n <= 0)
            return n == 0 || n == SK_EEOF ? 0 : (int)n;
        int rc = sk_request_send(req, buf, (size_t)n);
        if (rc < 0)
            return rc;
    }
}

static int discard(sk_request *req)
{
    if (req->type != SOCK_STREAM)
        return 0;
    /* Large reads (sink is for throughput) into the heap: a static _Thread_local buffer would be
     * part of every thread's TLS block, cleared at its start, and cost its size in every
     * connection's thread of the thread model; untouched heap pages cost nothing. */
    size_t cap = 4 * CHUNK;
    char *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    ssize_t n;
    while ((n = sk_request_recv(req, buf, cap)) > 0)
        ;
    free(buf);
    return n == 0 ? 0 : (int)n;
}

/* RFC 864: lines of 72 printable characters and CR LF, line n starting with character n of the
 * 95-character ring ASCII 32..126. Fills len bytes with the pattern from the start of line *line
 * (a partial last line is counted from its own first column) and moves *line past the whole
 * lines. */
static void chargen_fill(char *buf, size_t len, unsigned *line)
{
    for (size_t i = 0; i < len; i++) {
        size_t col = i % 74;
        buf[i] = col < 72 ? (char)(32 + (*line + i / 74 + col) % 95) : col == 72 ? '\r' : '\n';
    }
    *line = (unsigned)((*line + len / 74) % 95);
}

/* RFC 864: "a random number (between 0 and 512) of characters" per datagram. From the kernel's
 * generator: rand() unseeded gave the same lengths at every start, and the same length in every
 * child of the fork model. Each datagram starts one line further along the ring, as inetd's
 * chargen does: `next_line` is the server's user pointer, a counter in shared memory so that it
 * moves on in the fork model too (NULL: every datagram from line 0). */
static size_t chargen_dgram(char *buf, _Atomic unsigned *next_line)
{
    uint32_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        r = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid();
    }
    size_t n = r % 513;
    unsigned line = next_line ? atomic_fetch_add(next_line, 1) % 95 : 0;
    chargen_fill(buf, n, &line);
    return n;
}

static int chargen(sk_request *req)
{
    char buf[74 * 64];
    unsigned line = 0;
    if (req->type != SOCK_STREAM)
        return sk_request_send(req, buf, chargen_dgram(buf, req->user));
    for (;;) {
        chargen_fill(buf, sizeof buf, &line);
        int rc = sk_request_send(req, buf, sizeof buf);
        if (rc < 0) /* the client closed: the normal end of chargen */
            return rc == -EPIPE || rc == -ECONNRESET ? 0 : rc;
    }
}

static size_t daytime_text(char *buf, size_t cap);
static void time_bytes(unsigned char b[4]);

static int daytime(sk_request *req)
{
    char buf[128];
    return sk_request_send(req, buf, daytime_text(buf, sizeof buf));
}

static int time_service(sk_request *req)
{
    unsigned char b[4];
    time_bytes(b);
    return sk_request_send(req, b, 4);
}

static const char xs[CHUNK] = {[0 ... CHUNK - 1] = 'x'}; /* source's bytes */

/* Source takes what the client sends as well, and throws it away: a client that writes and reads
 * at once (bench stream --bidir, iperf3's --bidir) would otherwise fill the server's receive
 * buffer and be stuck writing. One thread both ways: poll says which side can go on. Returns
 * 1 while the client sends, 0 at its end of data (source goes on writing), < 0 a failure. */
static int source_take(sk_request *req, char *buf, size_t cap)
{
    ssize_t n = sk_request_recv(req, buf, cap);
    if (n > 0)
        return 1;
    return n == 0 || n == SK_EEOF ? 0 : (int)n;
}

static int source(sk_request *req)
{
    const char *buf = xs;
    if (req->type != SOCK_STREAM)
        return sk_request_send(req, buf, 1024);
    char in[CHUNK];
    bool reading = true;
    for (;;) {
        struct pollfd p = {.fd = req->fd, .events = POLLOUT | (reading ? POLLIN : 0)};
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (reading && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
            int r = source_take(req, in, sizeof in);
            if (r < 0)
                return r == -ECONNRESET ? 0 : r;
            reading = r > 0;
        }
        if (p.revents & (POLLOUT | POLLERR | POLLHUP)) {
            int rc = sk_request_send(req, buf, CHUNK);
            if (rc < 0) /* the client left: the normal end of source */
                return rc == -EPIPE || rc == -ECONNRESET ? 0 : rc;
        }
    }
}

/* ---- the same services as event callbacks -----------------------------------------------------
 */

static void ev_echo(sk_conn *c, const void *data, size_t len)
{
    sk_conn_write(c, data, len); /* past high-water the server stops reading this client */
}

/* chargen: write until the output buffer is full; on_writable calls again when it has drained.
 * The line counter lives in the connection's data pointer. */
static void ev_chargen_more(sk_conn *c)
{
    char buf[74 * 64];
    unsigned line = (unsigned)(uintptr_t)sk_conn_data(c);
    int rc;
    do {
        chargen_fill(buf, sizeof buf, &line);
        rc = sk_conn_write(c, buf, sizeof buf);
    } while (rc == 0);
    if (rc == 1)
        sk_conn_set_data(c, (void *)(uintptr_t)line);
}

static void ev_chargen_dgram(sk_conn *c, const void *data, size_t len)
{
    (void)data;
    (void)len;
    char buf[512];
    sk_conn_write(c, buf, chargen_dgram(buf, sk_conn_user(c)));
}

static void ev_source_more(sk_conn *c)
{
    while (sk_conn_write(c, xs, sizeof xs) == 0)
        ;
}

static void ev_discard(sk_conn *c, const void *data, size_t len)
{
    (void)c, (void)data, (void)len;
}

/* A client's FIN: source goes on writing until the client leaves, as the blocking models do. */
static void ev_source_end(sk_conn *c)
{
    (void)c;
}

static void ev_source_dgram(sk_conn *c, const void *data, size_t len)
{
    (void)data;
    (void)len;
    sk_conn_write(c, xs, 1024);
}

/* daytime and time answer at once and close (streams), or answer each datagram. */
static size_t daytime_text(char *buf, size_t cap)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    /* RFC 867 leaves the format free; this is its suggested "Weekday, Month Day, Year Time-Zone" */
    return strftime(buf, cap, "%A, %B %d, %Y %H:%M:%S-UTC\r\n", &tm);
}

static void time_bytes(unsigned char b[4])
{
    /* RFC 868: seconds since 1900-01-01 00:00 UTC, 32 bits, big-endian */
    uint32_t t = (uint32_t)((uint64_t)time(NULL) + 2208988800u);
    b[0] = (unsigned char)(t >> 24);
    b[1] = (unsigned char)(t >> 16);
    b[2] = (unsigned char)(t >> 8);
    b[3] = (unsigned char)t;
}

static void ev_daytime(sk_conn *c)
{
    char buf[128];
    sk_conn_write(c, buf, daytime_text(buf, sizeof buf));
    sk_conn_close(c);
}

static void ev_daytime_dgram(sk_conn *c, const void *data, size_t len)
{
    (void)data;
    (void)len;
    ev_daytime(c); /* closing a datagram request does nothing */
}

static void ev_time(sk_conn *c)
{
    unsigned char b[4];
    time_bytes(b);
    sk_conn_write(c, b, 4);
    sk_conn_close(c);
}

static void ev_time_dgram(sk_conn *c, const void *data, size_t len)
{
    (void)data;
    (void)len;
    ev_time(c);
}

static const struct service {
    const char *name;
    sk_handler_fn fn;
    sk_event_handlers ev, ev_dgram; /* the event model over streams, over datagrams */
    int port; /* default, unprivileged: 7000 + the RFC port where there is one */
    const char *what;
} services[] = {
    {"echo", echo, SK_EVENT_HANDLERS_INIT(.on_data = ev_echo),
     SK_EVENT_HANDLERS_INIT(.on_data = ev_echo), 7007, "RFC 862: sends back what it receives"},
    {"discard", discard, SK_EVENT_HANDLERS_INIT(), SK_EVENT_HANDLERS_INIT(), 7009,
     "RFC 863: reads and throws away"},
    {"chargen", chargen,
     SK_EVENT_HANDLERS_INIT(.on_open = ev_chargen_more, .on_writable = ev_chargen_more),
     SK_EVENT_HANDLERS_INIT(.on_data = ev_chargen_dgram), 7019,
     "RFC 864: sends a character pattern until the client leaves"},
    {"daytime", daytime, SK_EVENT_HANDLERS_INIT(.on_open = ev_daytime),
     SK_EVENT_HANDLERS_INIT(.on_data = ev_daytime_dgram), 7013,
     "RFC 867: one line with the date and time"},
    {"time", time_service, SK_EVENT_HANDLERS_INIT(.on_open = ev_time),
     SK_EVENT_HANDLERS_INIT(.on_data = ev_time_dgram), 7037,
     "RFC 868: 4 bytes, seconds since 1900, big-endian"},
    {"sink", discard, SK_EVENT_HANDLERS_INIT(), SK_EVENT_HANDLERS_INIT(), 7010,
     "reads as fast as it can (throughput tests)"},
    /* source reads (and throws away) while its output is past high water: see source() */
    {"source", source,
     SK_EVENT_HANDLERS_INIT(.on_open = ev_source_more, .on_data = ev_discard,
                            .on_writable = ev_source_more, .on_end = ev_source_end,
                            .read_past_high_water = true),
     SK_EVENT_HANDLERS_INIT(.on_data = ev_source_dgram), 7011,
     "writes as fast as it can until the client leaves, throws away what the client sends"},
};

enum {
    OPT_MODEL = 256,
    OPT_WORKERS,
    OPT_MAXCONNS,
    OPT_IDLE,
    OPT_ACCEPT,
    OPT_HIGH_WATER,
    OPT_SEND,
    OPT_BACKEND
};

static const struct cli_opt serve_opts[] = {
    {OPT_MODEL, "model", CLI_ARG, "M", "event | iterative | thread | fork | pool (default event)",
     "event iterative thread fork pool"},
    {OPT_WORKERS, "workers", CLI_ARG, "N",
     "event: loops, a thread each (default: one per core, but 1 on 1-2 cores); pool: threads "
     "(default 4)",
     NULL},
    {OPT_ACCEPT, "accept", CLI_ARG, "MODE",
     "event, several loops: reuseport (each loop its own listener) or handoff (one accepts for "
     "all)",
     "reuseport handoff"},
    {OPT_HIGH_WATER, "high-water", CLI_ARG, "N",
     "event: stop reading a client with N bytes unsent (default 262144; reading resumes at a "
     "quarter)",
     NULL},
    {OPT_BACKEND, "backend", CLI_ARG, "B", CLI_BACKEND_HELP, "epoll poll io_uring"},
    {OPT_MAXCONNS, "max-conns", CLI_ARG, "N",
     "concurrent clients; more are closed at once and counted as rejected", NULL},
    {OPT_IDLE, "idle-timeout", CLI_ARG, "S", "close a connection idle for S seconds", NULL},
    {OPT_SEND, "send-timeout", CLI_ARG, "S",
     "iterative, thread, fork, pool: reset a client that takes no byte of an answer for S seconds "
     "(default: the idle timeout if given, else 30)",
     NULL},
    {'u', NULL, CLI_NOARG, NULL, "UDP (or a unix datagram socket with a unix: endpoint)", NULL},
    CLI_OPT_TLS_SERVER,
    {'v', "verbose", CLI_NOARG, NULL, "say where it serves (the real port) and in which model",
     NULL},
    CLI_OPT_TRACE,
    CLI_OPT_HELP,
    CLI_OPT_END,
};

/* The list repeats services[] below; tests/interop/completion.py checks that the names agree. */
const struct cli_cmd cli_cmd_serve = {
    .name = "serve",
    .summary = "run a service (echo, discard, chargen, daytime, time, sink, source)",
    .synopsis = "[options] SERVICE [ENDPOINT]",
    .about = "services:\n"
             "  echo     RFC 862: sends back what it receives (default 127.0.0.1:7007)\n"
             "  discard  RFC 863: reads and throws away (default 127.0.0.1:7009)\n"
             "  chargen  RFC 864: sends a character pattern until the client leaves\n"
             "           (default 127.0.0.1:7019)\n"
             "  daytime  RFC 867: one line with the date and time (default 127.0.0.1:7013)\n"
             "  time     RFC 868: 4 bytes, seconds since 1900, big-endian\n"
             "           (default 127.0.0.1:7037)\n"
             "  sink     reads as fast as it can (throughput tests) (default 127.0.0.1:7010)\n"
             "  source   writes as fast as it can until the client leaves, and throws\n"
             "           away what the client sends (default 127.0.0.1:7011)",
    .opts = serve_opts,
    .args = "echo discard chargen daytime time sink source",
    .footer = "Ctrl-C or SIGTERM: stop accepting, let running clients finish (5 s at most),\n"
              "print the counters, exit 0. The default endpoint is loopback only; give :PORT\n"
              "to serve other hosts.",
    .run = cmd_serve,
};

/* One run of `sockkit serve`: what the command line said, and the server. */
struct serve {
    sk_server_opts o;
    struct cli_tls tls; /* --tls and its options */
    struct cli_common co;
    const struct service *svc;
    char endpoint[400];
    sk_endpoint ep; /* endpoint, parsed once here; the library takes it as it is */
    sk_server *srv;
    bool workers_given, accept_given, high_water_given; /* checked against --model and -u */
};

static const char *const model_names[] = {"iterative", "thread", "fork", "pool", "event"};

static sk_model parse_model(const char *m)
{
    for (int i = 0; i < 5; i++)
        if (!strcmp(m, model_names[i]))
            return (sk_model)i;
    cli_usage_error("--model must be event, iterative, thread, fork or pool, not '%s'", m);
}

static sk_accept_mode parse_accept(const char *m)
{
    if (!strcmp(m, "reuseport"))
        return SK_ACCEPT_REUSEPORT;
    if (!strcmp(m, "handoff"))
        return SK_ACCEPT_HANDOFF;
    cli_usage_error("--accept must be reuseport or handoff, not '%s'", m);
}

static int positive_ms(const char *text, const char *what)
{
    int ms = cli_parse_seconds_ms(text, what);
    if (!ms)
        cli_usage_error("%s must be more than 0 seconds", what);
    return ms;
}

static void serve_option(int c, const char *arg, struct serve *s)
{
    sk_server_opts *o = &s->o;
    s->workers_given |= c == OPT_WORKERS;
    s->accept_given |= c == OPT_ACCEPT;
    s->high_water_given |= c == OPT_HIGH_WATER;
    switch (c) {
    case 'u':
        o->type = SOCK_DGRAM;
        break;
    case OPT_MODEL:
        o->model = parse_model(arg);
        break;
    case OPT_WORKERS:
        o->workers = (int)cli_parse_long(arg, 1, 1024, "--workers");
        break;
    case OPT_ACCEPT:
        o->accept_mode = parse_accept(arg);
        break;
    case OPT_HIGH_WATER:
        o->high_water = (size_t)cli_parse_long(arg, 1024, 1L << 30, "--high-water");
        break;
    case OPT_MAXCONNS:
        o->max_conns = (int)cli_parse_long(arg, 1, 1000000, "--max-conns");
        break;
    case OPT_IDLE:
        o->idle_timeout_ms = positive_ms(arg, "--idle-timeout");
        break;
    case OPT_SEND:
        o->send_timeout_ms = positive_ms(arg, "--send-timeout");
        break;
    case OPT_BACKEND:
        o->loop_backend = cli_parse_backend(arg);
        break;
    }
}

#define SERVICE_NAMES "echo, discard, chargen, daytime, time, sink, source"

/* The operands: SERVICE [ENDPOINT]. */
static void serve_operands(int rest, char **args, struct serve *s)
{
    if (rest == 0)
        cli_usage_error("missing SERVICE (" SERVICE_NAMES ")");
    if (rest > 2)
        cli_usage_error("unexpected argument '%s'", args[2]);
    for (size_t i = 0; i < sizeof services / sizeof *services; i++)
        if (!strcmp(args[0], services[i].name))
            s->svc = &services[i];
    if (!s->svc)
        cli_usage_error("unknown service '%s' (" SERVICE_NAMES ")", args[0]);
    if (rest == 2 && strlen(args[1]) >= sizeof s->endpoint)
        cli_usage_error("ENDPOINT is too long (%zu bytes, at most %zu)", strlen(args[1]),
                        sizeof s->endpoint - 1);
    if (rest == 2)
        snprintf(s->endpoint, sizeof s->endpoint, "%s", args[1]);
    else
        snprintf(s->endpoint, sizeof s->endpoint, "127.0.0.1:%d", s->svc->port);
}

/* Options that belong to some models only are refused with the others, not ignored. */
static void serve_model_options(const struct serve *s)
{
    sk_model m = s->o.model;
    if (s->o.send_timeout_ms && m == SK_MODEL_EVENT)
        cli_usage_error("--send-timeout is for the blocking models (--model iterative, thread, "
                        "fork or pool); the event model never blocks on a client: use "
                        "--idle-timeout");
    const char *only_event = s->o.loop_backend     ? "--backend"
                             : s->accept_given     ? "--accept"
                             : s->high_water_given ? "--high-water"
                                                   : NULL;
    if (only_event && m != SK_MODEL_EVENT)
        cli_usage_error("%s is for the event model (the default --model event), not --model %s",
                        only_event, model_names[m]);
    if (s->workers_given && m != SK_MODEL_EVENT && m != SK_MODEL_POOL)
        cli_usage_error("--workers is for the event model (loops) and the pool model (threads), "
                        "not --model %s, which has %s",
                        model_names[m],
                        m == SK_MODEL_ITERATIVE ? "one client at a time"
                        : m == SK_MODEL_THREAD  ? "a thread per client"
                                                : "a process per client");
    if (s->accept_given && s->o.type == SOCK_DGRAM)
        cli_usage_error("--accept is for stream servers: a datagram server (-u) accepts no "
                        "connections");
}

static void serve_parse(int argc, char **argv, struct serve *s)
{
    struct cli_parser p = CLI_PARSER(&cli_cmd_serve);
    s->o.model = SK_MODEL_EVENT;
    int c;
    s->tls.server = true;
    while ((c = cli_next_option(&p, argc, argv, &s->co)) != -1)
        if (!cli_tls_option(c, optarg, &s->tls))
            serve_option(c, optarg, s);
    cli_tls_check(&s->tls);
    if (s->tls.on && s->o.type == SOCK_DGRAM)
        cli_usage_error("--tls needs a stream socket (not -u: DTLS is not supported)");
    serve_model_options(s);
    serve_operands(argc - optind, argv + optind, s);
    cli_check_endpoint(s->endpoint, CLI_EP_PASSIVE,
                       &s->ep); /* ":7007" serves IPv4 and IPv6: the library's */
    s->o.endpoint = s->endpoint;
    s->o.parsed = &s->ep;
    s->o.handle = s->svc->fn;
    s->o.events = s->o.type == SOCK_DGRAM ? &s->svc->ev_dgram : &s->svc->ev;
}

/* "serving echo on 127.0.0.1 7007 (tcp, event model, 1 loop)" with the real port. */
static void say_serving(const struct serve *s)
{
    sk_addr a;
    char text[SK_ADDRSTRLEN], model[64];
    sk_server_get_addr(s->srv, &a);
    sk_addr_format(&a, text, sizeof text);
    sk_model m = s->o.model;
    if (m == SK_MODEL_EVENT || m == SK_MODEL_POOL) {
        int n = sk_server_workers(s->srv);
        snprintf(model, sizeof model, "%s model, %d %s", model_names[m], n,
                 m == SK_MODEL_EVENT ? cli_plural((unsigned)n, "loop", "loops")
                                     : cli_plural((unsigned)n, "worker", "workers"));
    } else {
        snprintf(model, sizeof model, "%s model", model_names[m]);
    }
    if (sk_addr_port(&a) < 0) {
        cli_say("serving %s on %s (%s)", s->svc->name, text, model);
        return;
    }
    *strrchr(text, ':') = '\0';
    cli_say("serving %s on %s %d (%s, %s)", s->svc->name, text, sk_addr_port(&a),
            s->o.type == SOCK_DGRAM ? "udp" : "tcp", model);
}

/* The counters, after the drain: one line, a new one after Ctrl-C's echo. */
static void say_stopped(const struct serve *s, int cut)
{
    sk_server_stats st = SK_SERVER_STATS_INIT();
    sk_server_get_stats(s->srv, &st);
    cli_after_interrupt(stderr);
    cli_say("%s stopped: %llu accepted, %llu rejected, %llu %s, %llu %s in, %llu %s out, %d cut "
            "off at drain",
            s->svc->name, (unsigned long long)st.accepted, (unsigned long long)st.rejected,
            (unsigned long long)st.errors, cli_plural(st.errors, "error", "errors"),
            (unsigned long long)st.bytes_in, cli_plural(st.bytes_in, "byte", "bytes"),
            (unsigned long long)st.bytes_out, cli_plural(st.bytes_out, "byte", "bytes"), cut);
}

/* -v with --tls: a client whose handshake failed or timed out (no handler ran; the server goes
 * on). One line with the reason. */
static void say_tls_failed(sk_request *req, int code, void *user)
{
    (void)code, (void)user;
    if (req->tls)
        return; /* a handler's failure, after the handshake: only counted, as without TLS */
    cli_say("%s; connection closed", sk_errmsg()); /* "TLS handshake with PEER: reason" */
}

static void stop_server(void *srv)
{
    sk_server_shutdown_request(srv); /* async-signal-safe */
}

int cmd_serve(int argc, char **argv)
{
    struct serve s = {.o = SK_SERVER_OPTS_INIT()};
    serve_parse(argc, argv, &s);
    if (s.svc->fn == chargen && s.o.type == SOCK_DGRAM) {
        void *m = mmap(NULL, sizeof(_Atomic unsigned), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        s.o.user = m == MAP_FAILED ? NULL : m;
    }
    signal(SIGPIPE, SIG_IGN);
    sk_tls_ctx *tls = s.tls.on ? cli_tls_context(&s.tls, s.co.verbose) : NULL;
    s.o.tls = tls;
    if (tls && s.co.verbose)
        s.o.on_error = say_tls_failed;
    int rc = sk_server_open(&s.srv, &s.o);
    if (rc < 0) {
        struct cli_where w = {.endpoint = s.endpoint, .type = s.o.type, .bind = true};
        cli_fail_at(rc, &w);
    }
    cli_catch_stop(stop_server, s.srv);
    if (s.co.verbose) {
        say_serving(&s);
        cli_say_backend(s.srv);
        if (s.accept_given && s.o.model == SK_MODEL_EVENT && sk_server_workers(s.srv) == 1)
            cli_say("accept: one loop, which accepts for itself (--accept chooses how 2 or more "
                    "loops share the listener: --workers N)");
    }
    sk_server_serve_forever(s.srv, 500);
    int cut = sk_server_drain(s.srv, 5000);
    cli_catch_stop(NULL, NULL); /* a late Ctrl-C must not reach the server being closed */
    say_stopped(&s, cut);
    sk_server_close(s.srv);
    sk_tls_ctx_free(tls);
    return EXIT_OK;
}
