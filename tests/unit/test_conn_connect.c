/* conn_connect.c and relay.c: sk_conn_connect's one callback, whatever happens (refused, timed out,
 * connected, several addresses through the resolver thread, a name that does not resolve, the
 * server closing while a connect is pending), never inside sk_conn_connect itself; and
 * sk_conn_join's pairs (bytes both ways, both modes, half-close carried across, a reset carried
 * across). An event server whose on_open connects out plays the relay; the targets are the test's
 * own sockets. Run under TSan too (label threads): the serving thread and the resolver thread.
 */
#include "sktest.h"

#include <dlfcn.h>
#include <netdb.h>
#include <signal.h>
#include <stdatomic.h>

/* ---- a name with both families ------------------------------------------------------------------
 * This machine's /etc/hosts may map localhost to 127.0.0.1 alone, so the test links its own
 * getaddrinfo in front of the C library's: "both.sktest" resolves to ::1 then 127.0.0.1 (in that
 * order, as a resolver that prefers IPv6 gives them); every other name goes to the real one. The
 * library's resolver thread calls it as it would call the real one. Loopback only. */

#define BOTH_NAME "both.sktest"
static char fake_mark[] = "sktest-fake"; /* ai_canonname of our rows: freeaddrinfo knows them */

static struct addrinfo *fake_row(int family, int port, int socktype)
{
    struct addrinfo *ai = calloc(1, sizeof *ai + sizeof(struct sockaddr_in6));
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(ai + 1);
    struct sockaddr_in *s4 = (struct sockaddr_in *)(ai + 1);
    ai->ai_family = family;
    ai->ai_socktype = socktype ? socktype : SOCK_STREAM;
    ai->ai_protocol = ai->ai_socktype == SOCK_DGRAM ? IPPROTO_UDP : IPPROTO_TCP;
    ai->ai_addr = (struct sockaddr *)(ai + 1);
    ai->ai_canonname = fake_mark;
    if (family == AF_INET6) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        s6->sin6_addr = in6addr_loopback;
        ai->ai_addrlen = sizeof *s6;
    } else {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ai->ai_addrlen = sizeof *s4;
    }
    return ai;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    if (!node || strcmp(node, BOTH_NAME) != 0) {
        int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **) =
            (int (*)(const char *, const char *, const struct addrinfo *, struct addrinfo **))dlsym(
                RTLD_NEXT, "getaddrinfo");
        return real(node, service, hints, res);
    }
    int family = hints ? hints->ai_family : AF_UNSPEC;
    int socktype = hints ? hints->ai_socktype : 0;
    int port = service ? atoi(service) : 0;
    struct addrinfo *v6 = family == AF_INET ? NULL : fake_row(AF_INET6, port, socktype);
    struct addrinfo *v4 = family == AF_INET6 ? NULL : fake_row(AF_INET, port, socktype);
    if (v6)
        v6->ai_next = v4;
    *res = v6 ? v6 : v4;
    return 0;
}

void freeaddrinfo(struct addrinfo *ai)
{
    if (ai && ai->ai_canonname == fake_mark) {
        while (ai) {
            struct addrinfo *next = ai->ai_next;
            free(ai);
            ai = next;
        }
        return;
    }
    void (*real)(struct addrinfo *) = (void (*)(struct addrinfo *))dlsym(RTLD_NEXT, "freeaddrinfo");
    real(ai);
}

struct outcome {
    char target[128];
    int timeout_ms;
    int delay_ms;       /* attempt_delay_ms (0: the default) */
    bool tick;          /* a 10 ms timer runs on the loop while connecting */
    int64_t tick_timer; /* loop thread only */
    atomic_int ticks, ticks_at_connect;
    atomic_llong connected_at; /* t_now_ms() at the callback */
    bool join, no_splice, splice_always;
    atomic_int calls, status, closes, inside, done;
    atomic_int fam; /* family of the connected peer */
    atomic_ullong ab, ba;
    atomic_int reason;
    bool hold;          /* on_open waits (bounded) for `greeted` after starting the connect */
    atomic_int greeted; /* the target has accepted and spoken first */
};

static _Thread_local bool in_connect_call;

static void out_close(sk_conn *c, int reason)
{
    (void)reason;
    struct outcome *o = sk_conn_user(c);
    atomic_fetch_add(&o->closes, 1);
}

static const sk_event_handlers out_h = SK_EVENT_HANDLERS_INIT(.on_close = out_close);

static void joined_done(const sk_join_stats *st, void *arg)
{
    struct outcome *o = arg;
    atomic_store(&o->ab, st->a_to_b);
    atomic_store(&o->ba, st->b_to_a);
    atomic_store(&o->reason, st->reason);
    atomic_fetch_add(&o->done, 1);
}

static void connected(sk_conn *up, int status)
{
    struct outcome *o = sk_conn_user(up);
    sk_conn *client = sk_conn_data(up);
    if (in_connect_call)
        atomic_fetch_add(&o->inside, 1);
    atomic_store(&o->connected_at, t_now_ms());
    atomic_store(&o->ticks_at_connect, atomic_load(&o->ticks));
    if (o->tick_timer > 0)
        sk_loop_cancel(sk_conn_loop(up), o->tick_timer);
    o->tick_timer = 0;
    atomic_store(&o->status, status);
    if (status == 0)
        atomic_store(&o->fam, sk_addr_family(sk_conn_peer(up)));
    atomic_fetch_add(&o->calls, 1);
    if (status < 0) {
        sk_conn_reset(client);
        return;
    }
    if (!o->join) {
        sk_conn_write(up, "hi", 2);
        return;
    }
    sk_conn_resume(client);
    sk_join_opts jo =
        SK_JOIN_OPTS_INIT(.no_splice = o->no_splice, .splice_always = o->splice_always,
                          .on_done = joined_done, .arg = o);
    if (sk_conn_join(client, up, &jo) < 0)
        fail_msg("join: %s", sk_errmsg());
}

static void on_tick(sk_loop *l, int64_t timer, void *arg)
{
    (void)l;
    (void)timer;
    struct outcome *o = arg;
    atomic_fetch_add(&o->ticks, 1);
}

/* The loop sees the connected socket only after the target's greeting is in: readable and
 * writable at once, so the success goes through getsockopt(SO_ERROR). */
static void on_hold(sk_loop *l, int64_t timer, void *arg)
{
    (void)l;
    (void)timer;
    struct outcome *o = arg;
    for (int i = 0; i < 1000 && !atomic_load(&o->greeted); i++)
        usleep(5000);
}

static void open_connect(sk_conn *c)
{
    struct outcome *o = sk_conn_user(c);
    sk_conn_pause(c);
    if (o->tick)
        o->tick_timer = sk_loop_timer(sk_conn_loop(c), 10, 10, on_tick, o);
    sk_conn_connect_opts co =
        SK_CONN_CONNECT_OPTS_INIT(.endpoint = o->target, .timeout_ms = o->timeout_ms,
                                  .events = &out_h, .on_connect = connected, .data = c,
                                  .attempt_delay_ms = o->delay_ms);
    in_connect_call = true;
    int rc = sk_conn_connect(c, &co);
    in_connect_call = false;
    if (rc < 0)
        fail_msg("sk_conn_connect: %s", sk_errmsg());
    if (o->hold) /* due with the connect's own first step, and after it */
        sk_loop_timer(sk_conn_loop(c), 0, 0, on_hold, o);
}

static void keep_open(sk_conn *c)
{
    (void)c; /* the relay's client waits (on_drain set: the drain does not FIN it) */
}

static const sk_event_handlers relay_h =
    SK_EVENT_HANDLERS_INIT(.on_open = open_connect, .on_drain = keep_open);

static void start(struct t_running *r, struct outcome *o)
{
    sk_server_opts so = SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .model = SK_MODEL_EVENT,
                                            .workers = 1, .events = &relay_h, .user = o);
    t_serve(r, &so);
}

/* The test's event server relays to a listener of the test's own on `host` (as the target):
 * the listener, the client's fd to the relay and the target's accepted fd. */
static void through_relay(struct t_running *r, struct outcome *o, const char *host, int *l, int *fd,
                          int *t)
{
    int port;
    *l = t_listener("127.0.0.1:0", &port);
    snprintf(o->target, sizeof o->target, "%s:%d", host, port);
    start(r, o);
    *fd = sk_connect(r->ep, 5000);
    *t = sk_accept(*l, NULL, 5000);
    assert_true(*fd >= 0 && *t >= 0);
}

static void finish(struct t_running *r)
{
    t_serve_stop(r);
    sk_server_drain(r->srv, 1000);
    sk_server_close(r->srv);
}

/* Wait (bounded) until *v reaches want. */
static void wait_for(atomic_int *v, int want, int ms)
{
    for (int i = 0; i < ms / 5 && atomic_load(v) < want; i++)
        usleep(5000);
}

static int closed_port(void)
{
    int port;
    int fd = t_listener("127.0.0.1:0", &port);
    close(fd); /* nothing listens there now */
    return port;
}

static void refused(void **state)
{
    (void)state;
    struct outcome o = {.timeout_ms = 5000};
    snprintf(o.target, sizeof o.target, "127.0.0.1:%d", closed_port());
    struct t_running r = {0};
    start(&r, &o);
    int fd = sk_connect(r.ep, 5000);
    char b;
    /* the client is reset at once (on loopback the RST may even beat connect's return) */
    if (fd >= 0)
        assert_true(sk_recv(fd, &b, 1, 5000) == -ECONNRESET);
    else
        assert_int_equal(fd, -ECONNRESET);
    wait_for(&o.calls, 1, 2000);
    usleep(50000); /* a second call would come now */
    assert_int_equal(atomic_load(&o.calls), 1);
    assert_int_equal(atomic_load(&o.status), -ECONNREFUSED);
    assert_int_equal(atomic_load(&o.closes), 0); /* a failed connect has no on_close */
    assert_int_equal(atomic_load(&o.inside), 0);
    if (fd >= 0)
        close(fd);
    finish(&r);
}

/* A listener with a full backlog: further SYNs are dropped, the connect hangs. */
static int hanging_target(int *port, int *filler)
{
    int l = t_listener("127.0.0.1:0", port);
    listen(l, 0);
    char ep[64];
    snprintf(ep, sizeof ep, "127.0.0.1:%d", *port);
    *filler = sk_connect(ep, 2000);
    int extra = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(extra, (struct sockaddr *)&a, sizeof a); /* takes the one queue slot left */
    usleep(100000);
    close(extra);
    return l;
}

static void timeout(void **state)
{
    (void)state;
    int port, filler;
    int l = hanging_target(&port, &filler);
    struct outcome o = {.timeout_ms = 300};
    snprintf(o.target, sizeof o.target, "127.0.0.1:%d", port);
    struct t_running r = {0};
    start(&r, &o);
    int64_t t0 = t_now_ms();
    int fd = sk_connect(r.ep, 5000);
    assert_true(fd >= 0);
    char b;
    ssize_t n = sk_recv(fd, &b, 1, 10000);
    if (atomic_load(&o.calls) == 1 && atomic_load(&o.status) == 0) {
        /* the kernel took the connection after all (a queue slot freed): nothing to time out */
        close(fd);
        finish(&r);
        close(filler);
        close(l);
        skip();
    }
    assert_true(n == -ECONNRESET);
    wait_for(&o.calls, 1, 2000);
    assert_true(t_now_ms() - t0 >= 250);
    assert_int_equal(atomic_load(&o.calls), 1);
    assert_int_equal(atomic_load(&o.status), -ETIMEDOUT);
    close(fd);
    finish(&r);
    close(filler);
    close(l);
}

/* "localhost" is not numeric: the helper thread resolves it ([::1] then 127.0.0.1); the target
 * listens on 127.0.0.1 only, so ::1 is refused (or unavailable) and the next address is taken. */
static void many_addresses_through_resolver(void **state)
{
    (void)state;
    struct outcome o = {.timeout_ms = 5000};
    struct t_running r = {0};
    int l, fd, t;
    through_relay(&r, &o, "localhost", &l, &fd, &t);
    char b[2];
    assert_int_equal(sk_recv_exact(t, b, 2, 5000, NULL), 0);
    assert_memory_equal(b, "hi", 2);
    assert_int_equal(atomic_load(&o.calls), 1);
    assert_int_equal(atomic_load(&o.status), 0);
    assert_int_equal(atomic_load(&o.fam), AF_INET);
    close(t); /* the target closes: the outbound connection's on_close, once */
    wait_for(&o.closes, 1, 2000);
    assert_int_equal(atomic_load(&o.closes), 1);
    close(fd);
    finish(&r);
    close(l);
}

static void name_that_does_not_resolve(void **state)
{
    (void)state;
    struct outcome o = {.timeout_ms = 20000};
    snprintf(o.target, sizeof o.target, "no-such-host.invalid:80");
    struct t_running r = {0};
    start(&r, &o);
    int fd = sk_connect(r.ep, 5000);
    char b;
    if (fd >= 0)
        assert_true(sk_recv(fd, &b, 1, 30000) < 0);
    wait_for(&o.calls, 1, 30000);
    assert_int_equal(atomic_load(&o.calls), 1);
    assert_true(atomic_load(&o.status) < 0);
    if (fd >= 0)
        close(fd);
    finish(&r);
}

/* The server closes while the connect hangs: the callback still comes, once, with SK_ECLOSED. */
static void closed_while_connecting(void **state)
{
    (void)state;
    int port, filler;
    int l = hanging_target(&port, &filler);
    struct outcome o = {.timeout_ms = -1};
    snprintf(o.target, sizeof o.target, "127.0.0.1:%d", port);
    struct t_running r = {0};
    start(&r, &o);
    int fd = sk_connect(r.ep, 5000);
    assert_true(fd >= 0);
    usleep(200000);
    int was = atomic_load(&o.calls);
    finish(&r);
    if (was == 0) {
        assert_int_equal(atomic_load(&o.calls), 1);
        assert_int_equal(atomic_load(&o.status), SK_ECLOSED);
    }
    assert_int_equal(atomic_load(&o.calls), 1);
    close(fd);
    close(filler);
    close(l);
}

/* ---- Happy Eyeballs -------------------------------------------------------------------------- */

/* 127.0.0.1:port listening, and ::1 at the same port bound (so nothing else takes it) but either
 * not listening (refused) or listening with a full backlog (its SYNs are dropped: a stall).
 * Returns the v4 listener; *v6 and *fill are closed by the caller. */
static int both_targets(bool v6_stalls, int *port, int *v6, int fill[2])
{
    for (int tries = 0; tries < 20; tries++) {
        int l = t_listener("127.0.0.1:0", port);
        int s = socket(AF_INET6, SOCK_STREAM, 0);
        struct sockaddr_in6 a = {.sin6_family = AF_INET6,
                                 .sin6_port = htons((uint16_t)*port),
                                 .sin6_addr = in6addr_loopback};
        if (s < 0) {
            close(l);
            skip(); /* no IPv6 here */
        }
        if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
            close(s);
            close(l);
            continue; /* ::1 has this port taken: another one */
        }
        fill[0] = fill[1] = -1;
        if (v6_stalls) {
            assert_int_equal(listen(s, 0), 0);
            /* the accept queue takes backlog + 1; then the kernel drops SYNs */
            for (int k = 0; k < 2; k++) {
                fill[k] = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
                connect(fill[k], (struct sockaddr *)&a, sizeof a);
            }
            usleep(100000);
        }
        *v6 = s;
        return l;
    }
    fail_msg("no port free on both 127.0.0.1 and ::1");
    return -1;
}

/* Connect through the relay to both.sktest:port; returns how long the outbound connect took. */
static int64_t through_both(struct outcome *o, int port, int l, struct t_running *r, int *fd,
                            int *t)
{
    snprintf(o->target, sizeof o->target, BOTH_NAME ":%d", port);
    start(r, o);
    int64_t t0 = t_now_ms();
    *fd = sk_connect(r->ep, 5000);
    assert_true(*fd >= 0);
    *t = sk_accept(l, NULL, 10000);
    assert_true(*t >= 0);
    char b[2];
    assert_int_equal(sk_recv_exact(*t, b, 2, 5000, NULL), 0);
    assert_memory_equal(b, "hi", 2);
    assert_int_equal(atomic_load(&o->calls), 1);
    assert_int_equal(atomic_load(&o->status), 0);
    assert_int_equal(atomic_load(&o->fam), AF_INET);
    assert_int_equal(atomic_load(&o->inside), 0);
    return atomic_load(&o->connected_at) - t0;
}

/* ::1 refuses: IPv4 is tried at once, not after the attempt delay (3 s here). */
static void he_v6_refused(void **state)
{
    (void)state;
    int port, v6, fill[2], fd, t;
    int l = both_targets(false, &port, &v6, fill);
    struct outcome o = {.timeout_ms = 10000, .delay_ms = 3000};
    struct t_running r = {0};
    int64_t took = through_both(&o, port, l, &r, &fd, &t);
    assert_true(took < 2500);
    close(t);
    close(fd);
    finish(&r);
    close(v6);
    close(l);
}

/* ::1 stalls (full backlog): after the attempt delay IPv4 starts beside it and wins; the stalled
 * attempt is closed. The loop runs meanwhile: its 10 ms timer keeps firing. */
static void he_v6_stalls(void **state)
{
    (void)state;
    int port, v6, fill[2], fd, t;
    int l = both_targets(true, &port, &v6, fill);
    struct outcome o = {.timeout_ms = 10000, .delay_ms = 300, .tick = true};
    struct t_running r = {0};
    int64_t took = through_both(&o, port, l, &r, &fd, &t);
    assert_true(took >= 250);                           /* IPv6 had its head start */
    assert_true(took < 8000);                           /* and IPv4 did not wait for the deadline */
    assert_true(atomic_load(&o.ticks_at_connect) >= 5); /* the loop was never blocked */
    /* the stalled attempt is gone: nothing is left connecting to ::1 from the relay */
    close(t);
    close(fd);
    finish(&r);
    for (int k = 0; k < 2; k++)
        if (fill[k] >= 0)
            close(fill[k]);
    close(v6);
    close(l);
}

/* Neither family answers (both refuse): one callback, the last error. */
static void he_both_refused(void **state)
{
    (void)state;
    int port, v6, fill[2];
    int l = both_targets(false, &port, &v6, fill);
    close(l); /* 127.0.0.1:port refuses now too */
    struct outcome o = {.timeout_ms = 10000};
    snprintf(o.target, sizeof o.target, BOTH_NAME ":%d", port);
    struct t_running r = {0};
    start(&r, &o);
    int fd = sk_connect(r.ep, 5000);
    char b;
    if (fd >= 0)
        assert_true(sk_recv(fd, &b, 1, 5000) < 0);
    wait_for(&o.calls, 1, 5000);
    usleep(50000);
    assert_int_equal(atomic_load(&o.calls), 1);
    assert_int_equal(atomic_load(&o.status), -ECONNREFUSED);
    if (fd >= 0)
        close(fd);
    finish(&r);
    close(v6);
}

static void bad_options(void **state)
{
    (void)state;
    sk_conn_connect_opts co = SK_CONN_CONNECT_OPTS_INIT(.endpoint = "127.0.0.1:1");
    assert_int_equal(sk_conn_connect(NULL, &co), SK_EARG);
}

/* ---- joined pairs ---------------------------------------------------------------------------- */

/* Client -> relay -> target and back: 300 KB each way, then half-closes carried across. */
static void pair_both_ways(bool no_splice, bool splice_always)
{
    struct outcome o = {
        .timeout_ms = 5000, .join = true, .no_splice = no_splice, .splice_always = splice_always};
    struct t_running r = {0};
    int l, fd, t;
    through_relay(&r, &o, "127.0.0.1", &l, &fd, &t);
    size_t len = 300000;
    unsigned char *out = malloc(len), *in = malloc(len);
    t_fill_random(out, len, 7);
    /* client -> target, then the client's FIN reaches the target as EOF */
    assert_int_equal(sk_send_all(fd, out, len, 5000, NULL), 0);
    assert_int_equal(sk_shutdown(fd, SHUT_WR), 0);
    assert_int_equal(sk_recv_exact(t, in, len, 5000, NULL), 0);
    assert_memory_equal(in, out, len);
    char b;
    assert_int_equal(sk_recv(t, &b, 1, 5000), 0);
    /* the other direction still works after the half-close */
    t_fill_random(out, len, 8);
    assert_int_equal(sk_send_all(t, out, len, 5000, NULL), 0);
    assert_int_equal(sk_shutdown(t, SHUT_WR), 0);
    assert_int_equal(sk_recv_exact(fd, in, len, 5000, NULL), 0);
    assert_memory_equal(in, out, len);
    assert_int_equal(sk_recv(fd, &b, 1, 5000), 0);
    wait_for(&o.done, 1, 3000);
    assert_int_equal(atomic_load(&o.done), 1);
    assert_int_equal((int)atomic_load(&o.ab), (int)len);
    assert_int_equal((int)atomic_load(&o.ba), (int)len);
    assert_int_equal(atomic_load(&o.reason), 0);
    free(out);
    free(in);
    close(fd);
    close(t);
    finish(&r);
    close(l);
}

/* A target that speaks first (SMTP, a redis replica, SSH): its bytes are in before the loop sees
 * the connect complete, and still reach the client. */
static void target_speaks_first(void **state)
{
    (void)state;
    struct outcome o = {.timeout_ms = 5000, .join = true, .hold = true};
    struct t_running r = {0};
    int l, fd, t;
    through_relay(&r, &o, "127.0.0.1", &l, &fd, &t);
    assert_int_equal(sk_send_all(t, "220 hello\r\n", 11, 5000, NULL), 0);
    atomic_store(&o.greeted, 1);
    char b[16] = {0};
    assert_int_equal(sk_recv_exact(fd, b, 11, 5000, NULL), 0);
    assert_string_equal(b, "220 hello\r\n");
    assert_int_equal(atomic_load(&o.status), 0);
    assert_int_equal(atomic_load(&o.calls), 1);
    close(fd);
    close(t);
    wait_for(&o.done, 1, 3000);
    finish(&r);
    close(l);
}

static void pair_spliced(void **state)
{
    (void)state;
    pair_both_ways(false, false);
}

static void pair_splice_always(void **state)
{
    (void)state;
    pair_both_ways(false, true);
}

static void pair_copied(void **state)
{
    (void)state;
    pair_both_ways(true, false);
}

/* Zero-copy mode with small messages (the copied path): 2,000 ping-pongs of 1..200 bytes, each
 * answered byte-exact, then the pair ends cleanly. */
static void pair_small_messages(void **state)
{
    (void)state;
    struct outcome o = {.timeout_ms = 5000, .join = true};
    struct t_running r = {0};
    int l, fd, t;
    through_relay(&r, &o, "127.0.0.1", &l, &fd, &t);
    unsigned char out[200], in[200];
    uint64_t total = 0;
    for (int i = 0; i < 2000; i++) {
        size_t n = 1 + (size_t)i % sizeof out;
        t_fill_random(out, n, (unsigned)i);
        assert_int_equal(sk_send_all(fd, out, n, 5000, NULL), 0);
        assert_int_equal(sk_recv_exact(t, in, n, 5000, NULL), 0);
        assert_memory_equal(in, out, n);
        assert_int_equal(sk_send_all(t, in, n, 5000, NULL), 0);
        assert_int_equal(sk_recv_exact(fd, out, n, 5000, NULL), 0);
        assert_memory_equal(in, out, n);
        total += n;
    }
    close(fd);
    close(t);
    wait_for(&o.done, 1, 3000);
    assert_int_equal(atomic_load(&o.done), 1);
    assert_true(atomic_load(&o.ab) == total && atomic_load(&o.ba) == total);
    finish(&r);
    close(l);
}

/* The target resets: the client sees a reset too, not a clean end. */
static void pair_reset_carried(bool no_splice)
{
    struct outcome o = {.timeout_ms = 5000, .join = true, .no_splice = no_splice};
    struct t_running r = {0};
    int l, fd, t;
    through_relay(&r, &o, "127.0.0.1", &l, &fd, &t);
    assert_int_equal(sk_send_all(fd, "ping", 4, 5000, NULL), 0);
    char b[4];
    assert_int_equal(sk_recv_exact(t, b, 4, 5000, NULL), 0);
    struct linger lg = {1, 0};
    setsockopt(t, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(t);
    assert_true(sk_recv(fd, b, 1, 5000) == -ECONNRESET);
    wait_for(&o.done, 1, 3000);
    assert_int_equal(atomic_load(&o.done), 1);
    assert_int_equal(atomic_load(&o.reason), -ECONNRESET);
    close(fd);
    finish(&r);
    close(l);
}

static void reset_spliced(void **state)
{
    (void)state;
    pair_reset_carried(false);
}

static void reset_copied(void **state)
{
    (void)state;
    pair_reset_carried(true);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refused),
        cmocka_unit_test(timeout),
        cmocka_unit_test(many_addresses_through_resolver),
        cmocka_unit_test(name_that_does_not_resolve),
        cmocka_unit_test(closed_while_connecting),
        cmocka_unit_test(he_v6_refused),
        cmocka_unit_test(he_v6_stalls),
        cmocka_unit_test(he_both_refused),
        cmocka_unit_test(bad_options),
        cmocka_unit_test(target_speaks_first),
        cmocka_unit_test(pair_spliced),
        cmocka_unit_test(pair_splice_always),
        cmocka_unit_test(pair_copied),
        cmocka_unit_test(pair_small_messages),
        cmocka_unit_test(reset_spliced),
        cmocka_unit_test(reset_copied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
