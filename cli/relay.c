/* sockkit relay LISTEN TARGET: accept clients on LISTEN and join each to its own connection to
 * TARGET (socat's TCP-LISTEN,fork TCP:..., ncat's redirect), on the event model's loops: no
 * process or thread per client. Streams (TCP, Unix) through sk_conn_connect and sk_conn_join
 * (splice(2) when nothing needs to see the bytes); datagrams (-u) in relay_udp.c.
 *
 * A client's life: accepted (on_open) -> paused while its target connection is made -> joined ->
 * the pair ends (on_done: the -v line, the --json-lines object). A target that refuses or does not
 * answer resets the client at once (RST: the client sees the failure, not an empty answer).
 *
 * --via: the outbound connection goes to the proxy; its handshake (sk_proxy, driven by the
 * connection's on_data) runs between the connect and the join, and any tunnel bytes that came with
 * the proxy's reply are written to the client before the join (see via_start()). With
 * --tls-target the TLS handshake runs inside the tunnel once the proxy has opened it
 * (sk_conn_start_tls, see via_open()). */
#include "cli.h"
#include "json.h"
#include "opts.h"
#include "relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

enum {
    OPT_WORKERS = 256,
    OPT_MAXCONNS,
    OPT_IDLE,
    OPT_CONNECT_TIMEOUT,
    OPT_DRAIN,
    OPT_HIGH_WATER,
    OPT_NO_SPLICE,
    OPT_SPLICE,
    OPT_VIA,
    OPT_BACKEND,
};

static const struct cli_opt relay_opts[] = {
    {'u', NULL, CLI_NOARG, NULL, "UDP: a session per client address, each its own socket to TARGET",
     NULL},
    {OPT_WORKERS, "workers", CLI_ARG, "N",
     "event loops, a thread each (default: one per core, but 1 on 1-2 cores; -u: always 1)", NULL},
    {OPT_BACKEND, "backend", CLI_ARG, "B", CLI_BACKEND_HELP, "epoll poll io_uring"},
    {OPT_MAXCONNS, "max-conns", CLI_ARG, "N",
     "concurrent clients (UDP: sessions); more are closed at once and counted", NULL},
    {OPT_IDLE, "idle-timeout", CLI_ARG, "S",
     "end a pair (UDP: a session) idle for S seconds (default: none; UDP 60)", NULL},
    {OPT_CONNECT_TIMEOUT, "connect-timeout", CLI_ARG, "S",
     "give up on a target that does not answer in S seconds (default 10): the client is reset",
     NULL},
    {OPT_DRAIN, "drain", CLI_ARG, "S",
     "at SIGTERM or Ctrl-C, let pairs finish for S seconds, then cut them (default 5)", NULL},
    {OPT_HIGH_WATER, "high-water", CLI_ARG, "N",
     "stop reading a side while N bytes wait for the other (default 262144; copy mode)", NULL},
    {OPT_NO_SPLICE, "no-splice", CLI_NOARG, NULL, "the same as --splice off", NULL},
    {OPT_SPLICE, "splice", CLI_ARG, "WHEN",
     "auto (the default): splice(2) for bulk, one copy for reads under 16 KiB; on: splice every "
     "read; off: copy through the connections' buffers (--trace always copies)",
     "auto on off"},
    {OPT_VIA, "via", CLI_ARG, "PROXY[:PORT]",
     "reach TARGET through this proxy, a tunnel per client (port 1080 for SOCKS5, 3128 for HTTP "
     "if not given); with SOCKS5 the proxy resolves TARGET's name",
     NULL},
    {'X', NULL, CLI_ARG, "PROTO",
     "with --via: the proxy's protocol, 5 (SOCKS5, the default) or connect (HTTP CONNECT)",
     "5 connect"},
    {'P', NULL, CLI_ARG, "USER",
     "with --via: proxy user name (SOCKS5 username/password or HTTP Basic); the password is read "
     "from $" CLI_PROXY_PASSWORD_ENV ", never from the command line",
     NULL},
    {'v', "verbose", CLI_NOARG, NULL,
     "one line per connection opened and closed (bytes each way, duration, why it ended)", NULL},
    CLI_OPT_TLS_RELAY,
    CLI_OPT_TRACE,
    CLI_OPT_JSON_LINES,
    CLI_OPT_HELP,
    CLI_OPT_END,
};

const struct cli_cmd cli_cmd_relay = {
    .name = "relay",
    .summary = "forward connections: accept on LISTEN, connect each client to TARGET",
    .synopsis = "[options] LISTEN TARGET",
    .about =
        "LISTEN and TARGET are endpoints as elsewhere: 127.0.0.1:8080, :8080 (every address),\n"
        "[::1]:8080, unix:/path, unix:@name. Examples:\n"
        "  sockkit relay :8080 127.0.0.1:80          TCP port forwarding\n"
        "  sockkit relay unix:/tmp/app.sock 127.0.0.1:9000   Unix to TCP\n"
        "  sockkit relay -u :5353 127.0.0.1:53       UDP, a session per client\n"
        "  sockkit relay --trace :6380 127.0.0.1:6379   see both legs' bytes\n"
        "  sockkit relay --via 127.0.0.1:1080 :8080 db.lan:5432   through a SOCKS5 proxy\n"
        "  sockkit relay --tls-listen --cert c.pem --key k.pem :8443 127.0.0.1:8080\n"
        "                                            TLS termination in front of a plain server\n"
        "  sockkit relay --tls-target :8080 example.org:443   TLS origination\n"
        "With --trace each data line names its leg and direction: client->relay,\n"
        "relay->target, target->relay, relay->client; a TLS leg's lines show its plaintext,\n"
        "marked decrypted, and its handshake and record totals.",
    .opts = relay_opts,
    .footer = "A target that refuses or does not answer: the client's connection is reset (RST),\n"
              "counted, and -v says why; the relay goes on. With --via the same holds for a\n"
              "proxy that refuses, answers wrongly or does not finish within --connect-timeout.\n"
              "SIGTERM or Ctrl-C: stop accepting, let pairs finish (--drain), print the\n"
              "counters, exit 0.",
    .run = cmd_relay,
};

/* ---- streams ----------------------------------------------------------------------------------
 */

/* One client, from on_open until its pair ends (or its target fails). */
struct link {
    struct relay *r;
    sk_conn *client; /* NULL once the client is gone before the join */
    sk_conn *up;     /* --via: the proxy's connection while its handshake runs, else NULL */
    sk_proxy *px;    /* --via: the handshake (NULL once over) */
    int64_t timer;   /* --via: the handshake's deadline (0: none pending) */
    uint64_t early;  /* --via: tunnel bytes that came with the proxy's reply (target->client) */
    bool connect_done;
    bool ending; /* --via: a failure was handled (both sides reset or going) */
    double start;
    char peer[SK_ADDRSTRLEN]; /* the client, for -v and --json-lines (empty without them) */
};

static void print_done(struct relay *r, const struct link *k, const sk_join_stats *st)
{
    double secs = cli_now_s() - k->start;
    const char *why = st->why[0] ? st->why : st->reason ? sk_strerror(st->reason) : NULL;
    if (r->co.verbose)
        cli_say("closed %s: %llu bytes client->target, %llu bytes target->client, %.3f s%s%s%s",
                k->peer, (unsigned long long)st->a_to_b, (unsigned long long)st->b_to_a, secs,
                st->spliced ? ", spliced" : "", why ? ", " : "", why ? why : "");
    if (r->co.json_lines) {
        pthread_mutex_lock(&r->out_lock);
        struct json j;
        json_init(&j, stdout);
        json_object(&j, NULL);
        json_str(&j, "event", "closed");
        json_str(&j, "client", k->peer);
        json_str(&j, "target", r->target);
        json_int(&j, "bytes_client_to_target", (long long)st->a_to_b);
        json_int(&j, "bytes_target_to_client", (long long)st->b_to_a);
        json_num(&j, "seconds", secs);
        json_bool(&j, "spliced", st->spliced);
        json_str(&j, "error", why);
        json_end(&j, '}');
        fflush(stdout);
        pthread_mutex_unlock(&r->out_lock);
    }
}

static void print_failed(struct relay *r, const struct link *k, const char *msg)
{
    if (r->co.verbose)
        cli_say("failed %s: %s; client reset", k->peer, msg);
    if (r->co.json_lines) {
        pthread_mutex_lock(&r->out_lock);
        struct json j;
        json_init(&j, stdout);
        json_object(&j, NULL);
        json_str(&j, "event", "failed");
        json_str(&j, "client", k->peer);
        json_str(&j, "target", r->target);
        json_num(&j, "seconds", cli_now_s() - k->start);
        json_str(&j, "error", msg);
        json_end(&j, '}');
        fflush(stdout);
        pthread_mutex_unlock(&r->out_lock);
    }
}

static void pair_done(const sk_join_stats *st, void *arg)
{
    struct link *k = arg;
    sk_join_stats s = *st;
    s.b_to_a += k->early; /* written to the client before the join, by via_open */
    atomic_fetch_add(&k->r->done, 1);
    atomic_fetch_add(&k->r->bytes_ab, s.a_to_b);
    atomic_fetch_add(&k->r->bytes_ba, s.b_to_a);
    print_done(k->r, k, &s);
    free(k);
}

/* The target is connected (with --via: the proxy's tunnel is open): join the two. */
static void target_ready(struct link *k, sk_conn *up)
{
    struct relay *r = k->r;
    sk_conn *client = k->client;
    sk_conn_resume(client);
    sk_join_opts jo =
        SK_JOIN_OPTS_INIT(.no_splice = r->no_splice, .splice_always = r->splice_always,
                          .a_name = "client", .b_name = "target", .on_done = pair_done, .arg = k);
    if (sk_conn_join(client, up, &jo) < 0) {
        print_failed(r, k, sk_errmsg());
        atomic_fetch_add(&r->failed, 1);
        k->client = NULL;
        sk_conn_set_data(up, NULL); /* --via: its on_close is via_close's, with nothing to do */
        sk_conn_reset(up);
        sk_conn_reset(client); /* its on_close frees k */
    }
}

/* The client left while its target connection was being made (or its TLS handshake ran): that
 * connection goes too, if it was made, and so does k. True when so. */
static bool left_meanwhile(struct link *k, sk_conn *up, int status)
{
    if (k->client)
        return false;
    if (status == 0) {
        sk_conn_set_data(up, NULL);
        sk_conn_reset(up);
    }
    free(k);
    return true;
}

/* ---- --via: the proxy's handshake on the loop ----------------------------------------------- */

/* "SOCKS5 proxy 127.0.0.1:1080: " and the text: the -v line names the proxy and its reply. */
static void via_msg(const struct link *k, char *out, size_t len, const char *text)
{
    const struct cli_proxy *v = &k->r->via;
    const char *kind = v->kind == SK_PROXY_HTTP ? "HTTP CONNECT" : "SOCKS5";
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s proxy: ", kind);
    if (!strncmp(text, prefix, strlen(prefix)))
        text += strlen(prefix);
    snprintf(out, len, "%s proxy %s: %s", kind, v->endpoint, text);
}

/* The handshake is over, one way or the other: its deadline and state go. */
static void via_stop(struct link *k)
{
    if (k->timer && k->up)
        sk_loop_cancel(sk_conn_loop(k->up), k->timer);
    k->timer = 0;
    sk_proxy_free(k->px);
    k->px = NULL;
}

/* Count a failed handshake and say why (the -v line quotes the proxy's answer). */
static void via_report(struct link *k, const char *text)
{
    char msg[1200];
    via_msg(k, msg, sizeof msg, text);
    atomic_fetch_add(&k->r->failed, 1);
    print_failed(k->r, k, msg);
    k->ending = true;
}

/* The proxy refused, answered wrongly or too late: report it, reset both. The proxy's on_close
 * (via_close) or the client's frees k, whichever comes last; either may run inside a reset here,
 * so k is not touched after the last one. */
static void via_fail(struct link *k, const char *text)
{
    via_report(k, text);
    via_stop(k);
    if (k->up)
        sk_conn_reset(k->up);
    if (k->client)
        sk_conn_reset(k->client);
}

/* Send what the handshake has to say now (the connection buffers what the socket does not take). */
static int via_send(struct link *k)
{
    const void *out;
    size_t n = sk_proxy_output(k->px, &out);
    if (!n)
        return 0;
    int rc = sk_conn_write(k->up, out, n);
    return rc < 0 ? rc : sk_proxy_sent(k->px, n);
}

/* The tunnel is open: the bytes after the reply are the target's first, to the client before
 * anything the join moves (sk_conn_join splices only once the client's output is empty, so the
 * order holds either way); then the pair runs as without a proxy. */
static void via_tls_done(sk_conn *up, int status);

static void via_open(struct link *k, sk_conn *up, const char *rest, size_t n)
{
    if (k->r->target_ctx) { /* --tls-target: TLS inside the tunnel, the target's hello first */
        if (n) {
            char text[160];
            snprintf(text, sizeof text,
                     "%zu bytes came through the tunnel before the TLS handshake (a TLS server "
                     "speaks second)",
                     n);
            via_fail(k, text);
            return;
        }
        via_stop(k);
        if (sk_conn_start_tls(up, k->r->target_ctx, k->r->target_name, via_tls_done) < 0)
            via_fail(k, sk_errmsg());
        return;
    }
    via_stop(k);
    k->up = NULL;
    if (n && sk_conn_write(k->client, rest, n) >= 0)
        k->early = n;
    target_ready(k, up);
}

/* --tls-target: the handshake inside the tunnel is over (its end comes here, not to via_close).
 * k->up stays set until then, so that a client that leaves resets it. */
static void via_tls_done(sk_conn *up, int status)
{
    struct link *k = sk_conn_data(up);
    k->up = NULL;
    if (left_meanwhile(k, up, status)) /* the client left (and reset up) */
        return;
    if (status == 0) {
        target_ready(k, up);
        return;
    }
    if (!k->ending) { /* else: the failure was reported and the client is being reset */
        /* the library names the fd's peer (or the connect's host), which is the proxy: name
         * the target and the proxy, then the reason */
        char msg[1400];
        const char *m = sk_errmsg(), *rest = strstr(m, ": ");
        snprintf(msg, sizeof msg, "TLS handshake with %.400s (via %.300s): %.600s", k->r->target,
                 k->r->via.endpoint, rest ? rest + 2 : m);
        atomic_fetch_add(&k->r->failed, 1);
        print_failed(k->r, k, msg);
        k->ending = true;
        sk_conn_reset(k->client); /* its on_close frees k */
    }
}

static void via_data(sk_conn *up, const void *data, size_t len)
{
    struct link *k = sk_conn_data(up);
    if (!k || !k->px)
        return;
    const char *p = data;
    size_t off = 0;
    while (off < len) { /* each round takes at least one byte, or ends */
        size_t used = 0;
        int rc = sk_proxy_input(k->px, p + off, len - off, &used);
        if (rc < 0) {
            via_fail(k, sk_errmsg());
            return;
        }
        off += used;
        if (rc == SK_PROXY_DONE) {
            via_open(k, up, p + off, len - off);
            return;
        }
        if (via_send(k) < 0) {
            via_fail(k, sk_errmsg());
            return;
        }
        if (!used)
            break;
    }
}

static void via_timeout(sk_loop *loop, int64_t timer, void *arg)
{
    (void)loop, (void)timer;
    struct link *k = arg;
    k->timer = 0;
    char text[200];
    snprintf(text, sizeof text, "no reply within the connect timeout (waiting for %s)",
             sk_proxy_waiting_for(k->px));
    via_fail(k, text);
}

/* The proxy's connection ended during the handshake (after it, the pair has the callbacks). */
static void via_close(sk_conn *up, int reason)
{
    struct link *k = sk_conn_data(up);
    if (!k)
        return;
    char text[300];
    snprintf(text, sizeof text, "the connection ended while %s was due (%s)",
             k->px ? sk_proxy_waiting_for(k->px) : "the reply",
             reason ? sk_strerror(reason) : "closed by the proxy");
    via_stop(k);
    k->up = NULL; /* going: nothing more to reset */
    sk_conn *client = k->client;
    if (!client) {
        free(k);
        return;
    }
    if (!k->ending) { /* the proxy closed or failed before its reply was complete */
        via_report(k, text);
        sk_conn_reset(client); /* its on_close frees k, maybe at once */
    }
}

static void via_drain(sk_conn *up)
{
    (void)up; /* the handshake goes on; the drain's deadline cuts what is left */
}

/* The proxy is connected: ask it for TARGET, with a deadline of what is left of
 * --connect-timeout (one budget for the connect and the handshake, as connect -x has). */
static void via_start(struct link *k, sk_conn *up)
{
    struct relay *r = k->r;
    sk_proxy_opts po =
        SK_PROXY_OPTS_INIT(.kind = r->via.kind, .user = r->via.user, .password = r->via.password);
    k->up = up;
    int rc = sk_proxy_new(&k->px, r->target, &po);
    if (rc < 0) {
        via_fail(k, sk_errmsg());
        return;
    }
    int budget = r->connect_timeout_ms ? r->connect_timeout_ms : SK_CONN_CONNECT_TIMEOUT_DEFAULT_MS;
    double left_ms = budget - (cli_now_s() - k->start) * 1000.0;
    int64_t t = sk_loop_timer(sk_conn_loop(up), left_ms < 1 ? 1 : (int)left_ms, 0, via_timeout, k);
    if (t < 0) {
        via_fail(k, sk_errmsg());
        return;
    }
    k->timer = t;
    if (via_send(k) < 0)
        via_fail(k, sk_errmsg());
}

static void target_connected(sk_conn *up, int status)
{
    struct link *k = sk_conn_data(up);
    struct relay *r = k->r;
    k->connect_done = true;
    if (left_meanwhile(k, up, status))
        return;
    if (status == 0) {
        if (r->via.endpoint[0])
            via_start(k, up);
        else
            target_ready(k, up);
        return;
    }
    atomic_fetch_add(&r->failed, 1);
    print_failed(r, k, sk_errmsg());
    sk_conn_reset(k->client); /* its on_close frees k */
}

static void client_open(sk_conn *c)
{
    struct relay *r = sk_conn_user(c);
    struct link *k = calloc(1, sizeof *k);
    if (!k) {
        sk_conn_reset(c);
        return;
    }
    *k = (struct link){.r = r, .client = c, .start = cli_now_s()};
    if (r->co.verbose || r->co.json_lines) { /* its only readers: not formatted otherwise */
        sk_addr_format(sk_conn_peer(c), k->peer, sizeof k->peer);
        if (!k->peer[0] || !strcmp(k->peer, "unix:"))
            snprintf(k->peer, sizeof k->peer, "fd %d", sk_conn_fd(c));
    }
    sk_conn_set_data(c, k);
    sk_conn_pause(c); /* nothing is read until there is somewhere to put it */
    if (r->co.verbose)
        cli_say("opened %s -> %s%s%s", k->peer, r->target, r->via.endpoint[0] ? " via " : "",
                r->via.endpoint);
    bool via = r->via.endpoint[0];
    sk_conn_connect_opts co =
        SK_CONN_CONNECT_OPTS_INIT(.endpoint = via ? r->via.endpoint : r->target,
                                  .parsed = via ? &r->via_ep : &r->target_ep,
                                  .timeout_ms = r->connect_timeout_ms, .events = &r->target_events,
                                  .on_connect = target_connected, .data = k,
                                  .tls = via ? NULL : r->target_ctx, /* --via: after the proxy */
                                  .tls_host = r->target_name);
    if (sk_conn_connect(c, &co) < 0) {
        atomic_fetch_add(&r->failed, 1);
        print_failed(r, k, sk_errmsg());
        k->connect_done = true;
        sk_conn_reset(c);
    }
}

/* Only before the join (the pair takes the callbacks over): the client left or was reset. */
static void client_close(sk_conn *c, int reason)
{
    (void)reason;
    struct link *k = sk_conn_data(c);
    if (!k)
        return;
    k->client = NULL;
    if (k->up) { /* --via: the handshake runs; its on_close (via_close) frees k */
        if (!k->ending) {
            k->ending = true;
            sk_conn_reset(k->up);
        }
        return;
    }
    if (k->connect_done)
        free(k);
}

/* --tls-listen: a client whose handshake failed or timed out (it never opened: no pair, no
 * on_close). One line with the reason, as for a target that fails. */
static void client_tls_failed(sk_request *req, int code, void *user)
{
    (void)code;
    struct relay *r = user;
    if (req->tls)
        return;
    atomic_fetch_add(&r->tls_failed, 1);
    struct link k = {.r = r, .start = cli_now_s()};
    sk_addr_format(&req->peer, k.peer, sizeof k.peer);
    if (!k.peer[0] || !strcmp(k.peer, "unix:"))
        snprintf(k.peer, sizeof k.peer, "fd %d", req->fd);
    char msg[600];
    const char *m = sk_errmsg(), *rest = strstr(m, ": ");
    if (!strncmp(m, "TLS handshake with ", 19) && rest) /* the peer is named once, first */
        snprintf(msg, sizeof msg, "TLS handshake: %s", rest + 2);
    else
        snprintf(msg, sizeof msg, "%s", m);
    if (r->co.verbose)
        cli_say("failed %s: %s; connection closed", k.peer, msg);
    if (r->co.json_lines) {
        pthread_mutex_lock(&r->out_lock);
        struct json j;
        json_init(&j, stdout);
        json_object(&j, NULL);
        json_str(&j, "event", "tls_failed");
        json_str(&j, "client", k.peer);
        json_str(&j, "target", r->target);
        json_str(&j, "error", msg);
        json_end(&j, '}');
        fflush(stdout);
        pthread_mutex_unlock(&r->out_lock);
    }
}

static void client_drain(sk_conn *c)
{
    (void)c; /* its target connection is on the way; the drain's deadline cuts what is left */
}

static bool same_host(const sk_endpoint *l, const sk_endpoint *t)
{
    if (!strcmp(l->host, t->host))
        return true;
    if (!l->any_host)
        return false;
    /* LISTEN on every address: the target is this host if it names a loopback or any address
     * (another local address is not caught: that needs the interface list). */
    unsigned char b[16];
    static const unsigned char any6[16], lo6[16] = {[15] = 1};
    if (inet_pton(AF_INET, t->host, b) == 1)
        return b[0] == 127 || !memcmp(b, any6, 4);
    if (inet_pton(AF_INET6, t->host, b) == 1)
        return !memcmp(b, any6, 16) || !memcmp(b, lo6, 16);
    return !strcasecmp(t->host, "localhost") || !t->host[0];
}

/* LISTEN equal to TARGET would connect every client to the relay itself, without end. */
static void refuse_loop(const char *listen, const char *target, const sk_endpoint *l,
                        const sk_endpoint *t)
{
    bool same = l->is_unix ? t->is_unix && l->abstract == t->abstract && !strcmp(l->path, t->path)
                           : !t->is_unix && !strcmp(l->service, t->service) && same_host(l, t);
    if (same)
        cli_usage_error(
            "TARGET %s is LISTEN %s itself: every client would be relayed to the relay; "
            "give another TARGET",
            target, listen);
}

/* --via, -X, -P as given, checked together once all options are read. */
struct via_args {
    const char *proxy, *proto, *user;
};

static void relay_option(int c, const char *arg, struct relay *r, struct via_args *v)
{
    if (cli_tls_relay_option(c, arg, &r->tls_listen, &r->tls_target))
        return;
    switch (c) {
    case OPT_VIA:
        v->proxy = arg;
        break;
    case 'X':
        v->proto = arg;
        break;
    case 'P':
        v->user = arg;
        break;
    case 'u':
        r->o.type = SOCK_DGRAM;
        break;
    case OPT_WORKERS:
        r->o.workers = (int)cli_parse_long(arg, 1, 1024, "--workers");
        break;
    case OPT_MAXCONNS:
        r->o.max_conns = (int)cli_parse_long(arg, 1, 1000000, "--max-conns");
        break;
    case OPT_IDLE:
        r->o.idle_timeout_ms = cli_parse_seconds_ms(arg, "--idle-timeout");
        if (!r->o.idle_timeout_ms)
            cli_usage_error("--idle-timeout must be more than 0 seconds");
        break;
    case OPT_CONNECT_TIMEOUT:
        r->connect_timeout_ms = cli_parse_seconds_ms(arg, "--connect-timeout");
        if (!r->connect_timeout_ms)
            cli_usage_error("--connect-timeout must be more than 0 seconds");
        break;
    case OPT_DRAIN:
        r->drain_ms = cli_parse_seconds_ms(arg, "--drain");
        break;
    case OPT_HIGH_WATER:
        r->o.high_water = (size_t)cli_parse_long(arg, 1024, 1L << 30, "--high-water");
        break;
    case OPT_NO_SPLICE:
        r->no_splice = true;
        break;
    case OPT_BACKEND:
        r->o.loop_backend = cli_parse_backend(arg);
        break;
    case OPT_SPLICE:
        if (strcmp(arg, "auto") && strcmp(arg, "on") && strcmp(arg, "off"))
            cli_usage_error("--splice takes auto, on or off (got '%s')", arg);
        r->no_splice = !strcmp(arg, "off");
        r->splice_always = !strcmp(arg, "on");
        break;
    }
}

/* --via: a TCP TARGET the proxy can be asked for (checked here, not per client), and a proxy
 * that is not the relay itself. */
static void set_via(struct relay *r, const struct via_args *v, const char *listen,
                    const char *target)
{
    if (r->o.type == SOCK_DGRAM)
        cli_usage_error("--via does not go with -u: SOCKS5 UDP ASSOCIATE is not supported");
    if (r->target_ep.is_unix)
        cli_usage_error("--via: TARGET %s is a Unix endpoint; a proxy reaches HOST:PORT", target);
    cli_proxy_parse(&r->via, "--via", v->proxy, v->proto, v->user);
    cli_check_endpoint(r->via.endpoint, 0, &r->via_ep);
    sk_proxy_opts po =
        SK_PROXY_OPTS_INIT(.kind = r->via.kind, .user = r->via.user, .password = r->via.password);
    sk_proxy *px;
    if (sk_proxy_new(&px, target, &po) < 0)
        cli_usage_error("--via: %s", sk_errmsg());
    sk_proxy_free(px);
    refuse_loop(listen, r->via.endpoint, &r->listen_ep, &r->via_ep);
}

/* --tls-listen and --tls-target: each side's rules, checked as connect's and listen's are. */
static void set_tls(struct relay *r)
{
    struct cli_tls *l = &r->tls_listen, *t = &r->tls_target;
    if (l->keylog && !l->on && !t->on)
        cli_usage_error("--keylog goes with --tls-listen or --tls-target");
    if (!l->on)
        l->keylog = NULL;
    if (!t->on)
        t->keylog = NULL;
    cli_tls_check(l);
    cli_tls_check(t);
    if ((l->on || t->on) && r->o.type == SOCK_DGRAM)
        cli_usage_error("%s needs streams (not -u: DTLS is not supported)",
                        l->on ? "--tls-listen" : "--tls-target");
    if (!t->on)
        return;
    r->target_name = t->sni ? t->sni : r->target_ep.is_unix ? NULL : r->target_ep.host;
    if (!r->target_name && !t->insecure && !t->pin)
        cli_usage_error("--tls-target to a Unix TARGET needs --sni NAME (the name to verify), "
                        "--pin or --insecure");
}

static void relay_parse(int argc, char **argv, struct relay *r)
{
    struct cli_parser p = CLI_PARSER(&cli_cmd_relay);
    int c;
    struct via_args v = {0};
    while ((c = cli_next_option(&p, argc, argv, &r->co)) != -1)
        relay_option(c, optarg, r, &v);
    int rest = argc - optind;
    if (rest < 2)
        cli_usage_error(rest ? "missing TARGET (as in 127.0.0.1:80)"
                             : "missing LISTEN and TARGET (as in :8080 127.0.0.1:80)");
    if (rest > 2)
        cli_usage_error("unexpected argument '%s'", argv[optind + 2]);
    const char *listen = argv[optind], *target = argv[optind + 1];
    if (strlen(listen) >= sizeof r->listen || strlen(target) >= sizeof r->target)
        cli_usage_error("an endpoint is too long (at most %zu bytes)", sizeof r->listen - 1);
    cli_check_endpoint(listen, CLI_EP_PASSIVE, &r->listen_ep);
    cli_check_endpoint(target, 0, &r->target_ep);
    set_tls(r);
    if (v.proxy)
        set_via(r, &v, listen, target);
    else if (v.proto || v.user)
        cli_usage_error("-%c goes with --via PROXY (the proxy to go through)", v.proto ? 'X' : 'P');
    else
        refuse_loop(listen, target, &r->listen_ep, &r->target_ep);
    snprintf(r->listen, sizeof r->listen, "%s", listen);
    snprintf(r->target, sizeof r->target, "%s", target);
    r->o.endpoint = r->listen;
    r->o.parsed = &r->listen_ep;
}

static void stop_server(void *srv)
{
    sk_server_shutdown_request(srv); /* async-signal-safe */
}

static void say_listening(struct relay *r)
{
    sk_addr a;
    char text[SK_ADDRSTRLEN];
    sk_server_get_addr(r->srv, &a);
    sk_addr_format(&a, text, sizeof text);
    int n = sk_server_workers(r->srv);
    cli_say("relaying %s (%s%s) -> %s%s, %d %s", text, r->o.type == SOCK_DGRAM ? "udp" : "stream",
            r->listen_ctx ? ", TLS" : "", r->target, r->target_ctx ? " (TLS)" : "", n,
            cli_plural((unsigned)n, "loop", "loops"));
    cli_say_backend(r->srv);
}

static void say_stopped(struct relay *r, int cut)
{
    sk_server_stats st = SK_SERVER_STATS_INIT();
    sk_server_get_stats(r->srv, &st);
    cli_after_interrupt(stderr);
    unsigned long long ab = atomic_load(&r->bytes_ab), ba = atomic_load(&r->bytes_ba);
    char tls[64] = "";
    if (r->listen_ctx)
        snprintf(tls, sizeof tls, ", %llu client TLS %s", atomic_load(&r->tls_failed),
                 cli_plural(atomic_load(&r->tls_failed), "failure", "failures"));
    cli_say("relay stopped: %llu accepted, %llu rejected, %llu target %s%s, %llu bytes "
            "client->target, %llu bytes target->client, %d cut off at drain",
            (unsigned long long)st.accepted, (unsigned long long)st.rejected,
            (unsigned long long)atomic_load(&r->failed),
            cli_plural(atomic_load(&r->failed), "failure", "failures"), tls, ab, ba, cut);
}

int cmd_relay(int argc, char **argv)
{
    struct relay r = {.o = SK_SERVER_OPTS_INIT(.model = SK_MODEL_EVENT), .drain_ms = 5000};
    pthread_mutex_init(&r.out_lock, NULL);
    relay_parse(argc, argv, &r);
    r.client_events =
        (sk_event_handlers)SK_EVENT_HANDLERS_INIT(.on_open = client_open, .on_close = client_close,
                                                  .on_drain = client_drain);
    r.target_events = (sk_event_handlers)SK_EVENT_HANDLERS_INIT();
    if (r.via.endpoint[0]) /* the handshake's callbacks, until the join takes them over */
        r.target_events =
            (sk_event_handlers)SK_EVENT_HANDLERS_INIT(.on_data = via_data, .on_close = via_close,
                                                      .on_drain = via_drain);
    r.o.events = &r.client_events;
    r.o.user = &r;
    if (r.o.type == SOCK_DGRAM) {
        int rc = relay_udp_setup(&r);
        if (rc < 0)
            cli_fail(rc, "%s", sk_errmsg());
    }
    signal(SIGPIPE, SIG_IGN);
    if (r.tls_listen.on) {
        r.listen_ctx = cli_tls_context(&r.tls_listen, r.co.verbose);
        r.o.tls = r.listen_ctx;
        r.o.on_error = client_tls_failed;
    }
    if (r.tls_target.on)
        r.target_ctx = cli_tls_context(&r.tls_target, r.co.verbose);
    if (r.tls_target.insecure)
        cli_say("--insecure: the certificate of %s will NOT be verified", r.target);
    int rc = sk_server_open(&r.srv, &r.o);
    if (rc < 0) {
        struct cli_where w = {.endpoint = r.listen, .type = r.o.type, .bind = true};
        cli_fail_at(rc, &w);
    }
    cli_catch_stop(stop_server, r.srv);
    if (r.co.verbose)
        say_listening(&r);
    sk_server_serve_forever(r.srv, 500);
    int cut = sk_server_drain(r.srv, r.drain_ms);
    cli_catch_stop(NULL, NULL);
    if (r.o.type == SOCK_DGRAM)
        relay_udp_close(&r);
    say_stopped(&r, cut);
    sk_server_close(r.srv);
    sk_tls_ctx_free(r.listen_ctx);
    sk_tls_ctx_free(r.target_ctx);
    pthread_mutex_destroy(&r.out_lock);
    return EXIT_OK;
}
