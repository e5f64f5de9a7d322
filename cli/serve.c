/* sockkit serve: the classic small services on sk_server — echo (RFC 862), discard (RFC 863),
 * chargen (RFC 864), daytime (RFC 867), time (RFC 868) — plus sink and source for throughput
 * tests. Each service exists twice: as a blocking handler (iterative, thread, fork and pool
 * models) and as event callbacks (the event model, the default). Ctrl-C or SIGTERM drains the
 * server and prints its counters. */
#include "cli.h"
#include "opts.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* UDP: each datagram starts one line further along the ring, as inetd's chargen does. The counter
 * lives in shared memory so that it moves on in the fork model too (NULL: every datagram from
 * line 0). */
static _Atomic unsigned *dgram_line;

/* RFC 864: "a random number (between 0 and 512) of characters" per datagram. From the kernel's
 * generator: rand() unseeded gave the same lengths at every start, and the same length in every
 * child of the fork model. */
static size_t chargen_dgram(char *buf)
{
    uint32_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        r = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid();
    }
    size_t n = r % 513;
    unsigned line = dgram_line ? atomic_fetch_add(dgram_line, 1) % 95 : 0;
    chargen_fill(buf, n, &line);
    return n;
}

static int chargen(sk_request *req)
{
    char buf[74 * 64];
    unsigned line = 0;
    if (req->type != SOCK_STREAM)
        return sk_request_send(req, buf, chargen_dgram(buf));
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

static int source(sk_request *req)
{
    const char *buf = xs;
    if (req->type != SOCK_STREAM)
        return sk_request_send(req, buf, 1024);
    for (;;) {
        int rc = sk_request_send(req, buf, CHUNK);
        if (rc < 0)
            return rc == -EPIPE || rc == -ECONNRESET ? 0 : rc;
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
    sk_conn_write(c, buf, chargen_dgram(buf));
}

static void ev_source_more(sk_conn *c)
{
    while (sk_conn_write(c, xs, sizeof xs) == 0)
        ;
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
    {"source", source,
     SK_EVENT_HANDLERS_INIT(.on_open = ev_source_more, .on_writable = ev_source_more),
     SK_EVENT_HANDLERS_INIT(.on_data = ev_source_dgram), 7011,
     "writes as fast as it can until the client leaves"},
};

static sk_server *running;

static void on_signal(int sig)
{
    (void)sig;
    if (running)
        sk_server_shutdown_request(running);
}

enum {
    OPT_MODEL = 256,
    OPT_WORKERS,
    OPT_MAXCONNS,
    OPT_IDLE,
    OPT_TRACE,
    OPT_TRACE_FILE,
    OPT_ACCEPT,
    OPT_HIGH_WATER,
    OPT_SEND
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
    {OPT_MAXCONNS, "max-conns", CLI_ARG, "N",
     "concurrent clients; more are closed at once and counted", NULL},
    {OPT_IDLE, "idle-timeout", CLI_ARG, "S", "close a connection idle for S seconds", NULL},
    {OPT_SEND, "send-timeout", CLI_ARG, "S",
     "iterative, thread, fork, pool: reset a client that takes no byte of an answer for S seconds "
     "(default: the idle timeout if given, else 30)",
     NULL},
    {'u', NULL, CLI_NOARG, NULL, "UDP (or a unix datagram socket with a unix: endpoint)", NULL},
    {'v', NULL, CLI_NOARG, NULL, "print where it serves, with the real port", NULL},
    {OPT_TRACE, "trace", CLI_OPTARG, "calls|data",
     "trace every socket call (and the bytes) on stderr", "calls data"},
    {OPT_TRACE_FILE, "trace-file", CLI_ARG, "FILE", "write the trace to FILE", "@file"},
    {'h', "help", CLI_NOARG, NULL, "this help", NULL},
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
             "  source   writes as fast as it can until the client leaves\n"
             "           (default 127.0.0.1:7011)",
    .opts = serve_opts,
    .args = "echo discard chargen daytime time sink source",
    .footer = "Ctrl-C or SIGTERM: stop accepting, let running clients finish (5 s at most),\n"
              "print the counters, exit 0. The default endpoint is loopback only; give :PORT\n"
              "to serve other hosts.",
    .run = cmd_serve,
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

int cmd_serve(int argc, char **argv)
{
    struct cli_getopt g;
    cli_getopt_init(&g, &cli_cmd_serve);
    sk_server_opts o = SK_SERVER_OPTS_INIT(.model = SK_MODEL_EVENT);
    bool verbose = false;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, g.shorts, g.longs, NULL)) != -1) {
        switch (c) {
        case 'u':
            o.type = SOCK_DGRAM;
            break;
        case 'v':
            verbose = true;
            break;
        case 'h':
            cli_help(stdout, &cli_cmd_serve);
            return EXIT_OK;
        case OPT_MODEL:
            o.model = parse_model(optarg);
            break;
        case OPT_WORKERS:
            o.workers = (int)cli_parse_long(optarg, 1, 1024, "--workers");
            break;
        case OPT_ACCEPT:
            o.accept_mode = parse_accept(optarg);
            break;
        case OPT_HIGH_WATER:
            o.high_water = (size_t)cli_parse_long(optarg, 1024, 1L << 30, "--high-water");
            break;
        case OPT_MAXCONNS:
            o.max_conns = (int)cli_parse_long(optarg, 1, 1000000, "--max-conns");
            break;
        case OPT_IDLE:
            o.idle_timeout_ms = cli_parse_seconds_ms(optarg, "--idle-timeout");
            if (!o.idle_timeout_ms)
                cli_usage_error("--idle-timeout must be more than 0 seconds");
            break;
        case OPT_SEND:
            o.send_timeout_ms = cli_parse_seconds_ms(optarg, "--send-timeout");
            if (!o.send_timeout_ms)
                cli_usage_error("--send-timeout must be more than 0 seconds");
            break;
        case OPT_TRACE:
            cli_trace_level(optarg);
            break;
        case OPT_TRACE_FILE:
            cli_trace_file(optarg);
            break;
        default:
            cli_bad_option(c, argv);
        }
    }
    if (o.send_timeout_ms && o.model == SK_MODEL_EVENT)
        cli_usage_error("--send-timeout is for the blocking models (--model iterative, thread, "
                        "fork or pool); the event model never blocks on a client: use "
                        "--idle-timeout");
    if (optind >= argc)
        cli_usage_error("missing SERVICE (echo, discard, chargen, daytime, time, sink, source)");
    if (argc - optind > 2)
        cli_usage_error("unexpected argument '%s'", argv[optind + 2]);
    const struct service *svc = NULL;
    for (size_t i = 0; i < sizeof services / sizeof *services; i++)
        if (!strcmp(argv[optind], services[i].name))
            svc = &services[i];
    if (!svc)
        cli_usage_error(
            "unknown service '%s' (echo, discard, chargen, daytime, time, sink, source)",
            argv[optind]);
    char ep[400];
    if (argc - optind == 2)
        snprintf(ep, sizeof ep, "%s", argv[optind + 1]);
    else
        snprintf(ep, sizeof ep, "127.0.0.1:%d", svc->port);
    o.endpoint = ep;
    o.handle = svc->fn;
    o.events = o.type == SOCK_DGRAM ? &svc->ev_dgram : &svc->ev;
    sk_endpoint parsed;
    if (sk_endpoint_parse(ep, &parsed) < 0)
        cli_usage_error("%s", sk_errmsg()); /* ":7007" serves IPv4 and IPv6: the library's rule */

    if (svc->fn == chargen && o.type == SOCK_DGRAM) {
        void *m = mmap(NULL, sizeof *dgram_line, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                       -1, 0);
        dgram_line = m == MAP_FAILED ? NULL : m;
    }
    signal(SIGPIPE, SIG_IGN);
    int rc = sk_server_open(&running, &o);
    if (rc < 0)
        cli_die(rc == SK_ENONAME || rc == SK_ESERVICE ? EXIT_USAGE : EXIT_RUNTIME, "%s",
                sk_errmsg());
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (verbose) {
        sk_addr a;
        char text[SK_ADDRSTRLEN];
        sk_server_get_addr(running, &a);
        sk_addr_format(&a, text, sizeof text);
        char model[64];
        if (o.model == SK_MODEL_EVENT || o.model == SK_MODEL_POOL) {
            int n = sk_server_workers(running);
            snprintf(model, sizeof model, "%s model, %d %s%s", model_names[o.model], n,
                     o.model == SK_MODEL_EVENT ? "loop" : "worker", n == 1 ? "" : "s");
        } else
            snprintf(model, sizeof model, "%s model", model_names[o.model]);
        if (sk_addr_port(&a) >= 0) {
            char *colon = strrchr(text, ':');
            *colon = '\0';
            fprintf(stderr, "%s: serving %s on %s %d (%s, %s)\n", cli_prog, svc->name, text,
                    sk_addr_port(&a), o.type == SOCK_DGRAM ? "udp" : "tcp", model);
        } else {
            fprintf(stderr, "%s: serving %s on %s (%s)\n", cli_prog, svc->name, text, model);
        }
    }
    sk_server_serve_forever(running, 500);
    int cut = sk_server_drain(running, 5000);
    sk_server_stats st = SK_SERVER_STATS_INIT();
    sk_server_get_stats(running, &st);
    fprintf(stderr,
            "%s: %s stopped: %llu accepted, %llu rejected, %llu errors, %llu bytes in, %llu bytes "
            "out, %d cut off at drain\n",
            cli_prog, svc->name, (unsigned long long)st.accepted, (unsigned long long)st.rejected,
            (unsigned long long)st.errors, (unsigned long long)st.bytes_in,
            (unsigned long long)st.bytes_out, cut);
    sk_server *s = running;
    running = NULL;
    sk_server_close(s);
    return EXIT_OK;
}
