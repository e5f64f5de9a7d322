/* server_event.c: the event model of sk_server. 50 concurrent clients per endpoint kind (TCP with
 * two loops by SO_REUSEPORT and by hand-off, both loop backends; Unix stream; UDP; Unix datagram),
 * back-pressure and on_writable, reading past high water, a peer that never reads, idle timeouts,
 * max_conns, verify, close from inside a callback and after a flush, writes from a handler's own
 * timer, on_close reasons, drain flushing accepted output, the drain's cut closing at once, fds
 * given back as clients come and go (500 closed by their clients; connections open at the close;
 * max_conns 1 one client after another), and how many loops run by default. Run under TSan too
 * (label threads): two loops, two threads.
 */
#include "sktest.h"

#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/un.h>
#include <stdatomic.h>

/* ---- handlers ------------------------------------------------------------------------------ */

struct tally {
    atomic_int opened, closed, writable, timeouts, resets, eofs;
    atomic_size_t max_pending, bytes_in;
};

static void note_pending(sk_conn *c)
{
    struct tally *t = sk_conn_user(c);
    size_t p = sk_conn_pending(c), m = atomic_load(&t->max_pending);
    while (p > m && !atomic_compare_exchange_weak(&t->max_pending, &m, p))
        ;
}

static void count_open(sk_conn *c)
{
    struct tally *t = sk_conn_user(c);
    if (t)
        atomic_fetch_add(&t->opened, 1);
}

static void count_close(sk_conn *c, int reason)
{
    struct tally *t = sk_conn_user(c);
    if (!t)
        return;
    atomic_fetch_add(&t->closed, 1);
    if (reason == -ETIMEDOUT)
        atomic_fetch_add(&t->timeouts, 1);
    else if (reason == -ECONNRESET || reason == -EPIPE)
        atomic_fetch_add(&t->resets, 1);
    else if (reason == 0)
        atomic_fetch_add(&t->eofs, 1);
}

static void echo_data(sk_conn *c, const void *data, size_t len)
{
    sk_conn_write(c, data, len);
    if (sk_conn_user(c))
        note_pending(c);
}

static const sk_event_handlers echo_h =
    SK_EVENT_HANDLERS_INIT(.on_open = count_open, .on_data = echo_data, .on_close = count_close);

static void start(struct t_running *r, sk_server_opts *o)
{
    o->model = SK_MODEL_EVENT;
    if (!o->events)
        o->events = &echo_h;
    t_serve(r, o);
}

/* Stop serving, drain, return the counters, close. */
static sk_server_stats stop(struct t_running *r, int drain_ms, int *cut)
{
    t_serve_stop(r);
    int n = sk_server_drain(r->srv, drain_ms);
    if (cut)
        *cut = n;
    sk_server_stats st = SK_SERVER_STATS_INIT();
    sk_server_get_stats(r->srv, &st);
    sk_server_close(r->srv);
    return st;
}

static int connect_to(const char *ep)
{
    int fd = sk_connect(ep, 5000);
    if (fd < 0)
        fail_msg("connect %s: %s", ep, sk_errmsg());
    return fd;
}

/* ---- 50 concurrent clients, each gets exactly its own bytes --------------------------------- */

struct client {
    const char *ep;
    int id;
    int ok;
};

static void *stream_client(void *arg)
{
    struct client *c = arg;
    size_t len = 20000 + (size_t)c->id * 1013; /* several reads and writes each */
    unsigned char *out = malloc(len), *in = malloc(len);
    t_fill_random(out, len, (unsigned)c->id + 1);
    int fd = sk_connect(c->ep, 5000);
    if (fd >= 0) {
        c->ok = sk_send_all(fd, out, len, 5000, NULL) == 0 && sk_shutdown(fd, SHUT_WR) == 0 &&
                sk_recv_exact(fd, in, len, 5000, NULL) == 0 && !memcmp(in, out, len) &&
                sk_recv(fd, in, 1, 5000) == 0; /* and then the server closes */
        close(fd);
    }
    free(out);
    free(in);
    return NULL;
}

static void *dgram_client(void *arg)
{
    struct client *c = arg;
    c->ok = t_dgram_echo(c->ep, c->id);
    return NULL;
}

static void fifty_on(const char *endpoint, int type, sk_accept_mode mode, sk_loop_backend be)
{
    struct tally t = {0};
    sk_server_opts o = SK_SERVER_OPTS_INIT(.endpoint = endpoint, .type = type, .workers = 2,
                                           .accept_mode = mode, .loop_backend = be, .user = &t);
    struct t_running r = {0};
    start(&r, &o);
    struct client c[50];
    pthread_t th[50];
    for (int i = 0; i < 50; i++) {
        c[i] = (struct client){.ep = r.ep, .id = i};
        pthread_create(&th[i], NULL, type == SOCK_DGRAM ? dgram_client : stream_client, &c[i]);
    }
    int ok = 0;
    for (int i = 0; i < 50; i++) {
        pthread_join(th[i], NULL);
        ok += c[i].ok;
    }
    int cut;
    sk_server_stats st = stop(&r, 3000, &cut);
    if (ok != 50)
        fail_msg("%s: %d of 50 clients got their own bytes back", endpoint, ok);
    assert_int_equal(cut, 0);
    assert_int_equal(st.errors, 0);
    assert_int_equal(st.active, 0);
    assert_true(st.bytes_in > 0);
    assert_int_equal(st.bytes_out, st.bytes_in);
    if (type == SOCK_STREAM) {
        assert_int_equal(st.accepted, 50);
        assert_int_equal(atomic_load(&t.opened), 50);
        assert_int_equal(atomic_load(&t.eofs), 50); /* every client ended with its EOF */
    } else {
        assert_true(st.accepted >= 50);
    }
}

static void fifty(const char *endpoint, int type, sk_accept_mode mode)
{
    fifty_on(endpoint, type, mode, SK_LOOP_DEFAULT);
}

static void tcp_reuseport(void **s)
{
    (void)s;
    fifty("127.0.0.1:0", SOCK_STREAM, SK_ACCEPT_REUSEPORT);
}

static void tcp_handoff(void **s)
{
    (void)s;
    fifty("127.0.0.1:0", SOCK_STREAM, SK_ACCEPT_HANDOFF);
}

static void tcp_poll_backend(void **s)
{
    (void)s;
    fifty_on("[::1]:0", SOCK_STREAM, SK_ACCEPT_DEFAULT, SK_LOOP_POLL);
}

static void unix_stream(void **s)
{
    (void)s;
    char ep[64];
    snprintf(ep, sizeof ep, "unix:/tmp/sockkit-evtest-%d.sock", getpid());
    fifty(ep, SOCK_STREAM, SK_ACCEPT_DEFAULT);
    assert_int_equal(access(ep + 5, F_OK), -1); /* the socket file is removed at close */
}

static void udp(void **s)
{
    (void)s;
    fifty("127.0.0.1:0", SOCK_DGRAM, SK_ACCEPT_DEFAULT);
}

static void unix_dgram(void **s)
{
    (void)s;
    char ep[64];
    snprintf(ep, sizeof ep, "unix:@sockkit-evtest-srv-%d", getpid());
    fifty(ep, SOCK_DGRAM, SK_ACCEPT_DEFAULT);
}

/* ---- back-pressure ------------------------------------------------------------------------- */

/* A peer that sends and never reads: the server stops reading it once its output passes
 * high-water, so its buffer never grows past high-water plus one read. When the peer reads again,
 * every byte the server took comes back. */
static void never_reading_peer(void **s)
{
    (void)s;
    struct tally t = {0};
    sk_server_opts o = SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .workers = 1,
                                           .high_water = 65536, .user = &t);
    struct t_running r = {0};
    start(&r, &o);
    int fd = connect_to(r.ep);
    sk_sock_set_nonblock(fd, true);
    static unsigned char out[32 << 20];
    t_fill_random(out, sizeof out, 7);
    size_t sent = 0;
    int64_t t0 = t_now_ms(), quiet_since = t0;
    while (sent < sizeof out && t_now_ms() - quiet_since < 500 && t_now_ms() - t0 < 10000) {
        ssize_t n = send(fd, out + sent, sizeof out - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            quiet_since = t_now_ms();
        } else {
            poll(NULL, 0, 5);
        }
    }
    if (sent == sizeof out)
        fail_msg("sent all %zu bytes to a peer that never reads: no back-pressure", sent);
    sk_server_stats st = SK_SERVER_STATS_INIT();
    sk_server_get_stats(r.srv, &st);
    size_t max = atomic_load(&t.max_pending);
    if (max > 65536 + 65536)
        fail_msg("output buffer reached %zu bytes, high-water 65536", max);
    assert_true(max > 65536); /* it did pass high-water: the peer was slow */
    /* now read everything back: exactly what the server took, in order */
    sk_sock_set_nonblock(fd, false);
    shutdown(fd, SHUT_WR);
    static unsigned char in[32 << 20];
    size_t got = 0;
    for (;;) {
        ssize_t n = sk_recv(fd, in + got, sizeof in - got, 5000);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    assert_true(got >= st.bytes_in);
    assert_int_equal(got, sent); /* after reading resumed it took and returned the rest too */
    assert_memory_equal(in, out, got);
    st = stop(&r, 2000, NULL);
    assert_int_equal(st.bytes_out, sent);
}

/* on_writable: a source that fills to high-water and is called again as the peer drains it. */
static void source_more(sk_conn *c)
{
    static const unsigned char chunk[16384];
    size_t *total = sk_conn_data(c);
    while (*total < (4u << 20)) {
        size_t n = sizeof chunk;
        *total += n;
        if (sk_conn_write(c, chunk, n) != 0)
            return;
    }
    sk_conn_close(c); /* after the output is flushed */
}

static void source_open(sk_conn *c)
{
    struct tally *t = sk_conn_user(c);
    atomic_fetch_add(&t->opened, 1);
    int small = 16384; /* so that the output buffer, not the kernel, holds the backlog */
    setsockopt(sk_conn_fd(c), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    sk_conn_set_data(c, calloc(1, sizeof(size_t)));
    source_more(c);
}

static void source_writable(sk_conn *c)
{
    struct tally *t = sk_conn_user(c);
    atomic_fetch_add(&t->writable, 1);
    source_more(c);
}

static void source_close(sk_conn *c, int reason)
{
    free(sk_conn_data(c));
    count_close(c, reason);
}

static void on_writable_refills(void **s)
{
    (void)s;
    struct tally t = {0};
    static const sk_event_handlers h =
        SK_EVENT_HANDLERS_INIT(.on_open = source_open, .on_writable = source_writable,
                               .on_close = source_close);
    sk_server_opts o = SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .events = &h,
                                           .high_water = 65536, .user = &t);
    struct t_running r = {0};
    start(&r, &o);
    /* A small receive window (set before connect, so it is what the handshake offers), so that
     * the server's output piles up in its buffer however fast this reader is compared with the
     * server (under TSan the server is the slow side, and a window autotuned to megabytes took
     * everything it sent). */
    sk_addr a;
    assert_int_equal(sk_addr_parse(r.ep, SK_RESOLVE_NUMERIC, &a), 0);
    int fd = sk_socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(sk_sock_set_rcvbuf(fd, 8192), 0);
    assert_int_equal(connect(fd, &a.u.sa, a.len), 0);
    /* Not reading for a while lets the source pass high water for certain: from then on only
     * on_writable can get the rest written (without it the 4 MiB stall after ~100 KiB). How many
     * times it is called depends on how the two sides' speeds compare, so only "at least once"
     * is asserted. */
    usleep(300 * 1000);
    static unsigned char buf[65536];
    size_t got = 0;
    for (;;) {
        /* a reader slower than the source, so the output buffer, not the socket, holds the
         * backlog (a slowed server, as under TSan, would otherwise write straight through) */
        usleep(2000);
        ssize_t n = sk_recv(fd, buf, sizeof buf, 5000);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    assert_int_equal(got, 4u << 20); /* all of it, then EOF from the close after the flush */
    assert_true(atomic_load(&t.writable) >= 1);
    stop(&r, 1000, NULL);
    assert_int_equal(atomic_load(&t.eofs), 1);
}

/* read_past_high_water: a handler whose output does not answer its input (a source that also
 * takes what it is sent) goes on being read while its output is past high water and the peer
 * reads none of it. */
static void past_high_open(sk_conn *c)
{
    static const unsigned char block[65536];
    int rc = 0;
    for (int i = 0; i < 1024 && rc == 0; i++) /* until past high water (the kernel takes some) */
        rc = sk_conn_write(c, block, sizeof block);
    struct tally *t = sk_conn_user(c);
    if (rc == 1)
        atomic_fetch_add(&t->opened, 1); /* checked on the test's thread */
}

static void past_high_data(sk_conn *c, const void *data, size_t len)
{
    (void)data;
    struct tally *t = sk_conn_user(c);
    atomic_fetch_add(&t->bytes_in, len);
}

static void read_past_high_water(void **s)
{
    (void)s;
    struct tally t = {0};
    static const sk_event_handlers h =
        SK_EVENT_HANDLERS_INIT(.on_open = past_high_open, .on_data = past_high_data,
                               .on_close = count_close, .read_past_high_water = true);
    sk_server_opts o = SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .events = &h,
                                           .high_water = 65536, .user = &t);
    struct t_running r = {0};
    start(&r, &o);
    int fd = connect_to(r.ep);
    /* more than the kernel's buffers hold without the server reading (never reading what it
     * sends): each piece is read by the server before the next goes */
    static unsigned char out[4 << 20];
    assert_int_equal(sk_send_all(fd, out, sizeof out, 10000, NULL), 0);
    int64_t t0 = t_now_ms();
    while (atomic_load(&t.bytes_in) < sizeof out && t_now_ms() - t0 < 10000)
        poll(NULL, 0, 5);
    assert_int_equal(atomic_load(&t.opened), 1); /* its output was past high water */
    assert_int_equal(atomic_load(&t.bytes_in), sizeof out);
    close(fd);
    stop(&r, 1000, NULL);
}

/* ---- timeouts, limits, verify, close ------------------------------------------------------- */

static void idle_timeout(void **s)
{
    (void)s;
    struct tally t = {0};
    sk_server_opts o =
        SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .idle_timeout_ms = 300, .user = &t);
    struct t_running r = {0};
    start(&r, &o);
    int quiet = connect_to(r.ep), busy = connect_to(r.ep);
    int64_t t0 = t_now_ms();
    char b[8];
    /* busy talks every 100 ms for 800 ms and is not cut; quiet is closed after ~300 ms */
    for (int i = 0; i < 8; i++) {
        assert_int_equal(sk_send_all(busy, "ping", 4, 1000, NULL), 0);
        assert_int_equal(sk_recv_exact(busy, b, 4, 1000, NULL), 0);
        poll(NULL, 0, 100);
    }
    assert_int_equal(sk_recv(quiet, b, 1, 0), 0); /* EOF already there */
    assert_elapsed(t0, 250, 5000);
    assert_int_equal(sk_send_all(busy, "last", 4, 1000, NULL), 0);
    assert_int_equal(sk_recv_exact(busy, b, 4, 1000, NULL), 0);
    int64_t t1 = t_now_ms();
    assert_int_equal(sk_recv(busy, b, 1, 3000), 0); /* now it goes idle too */
    assert_elapsed(t1, 250, 2500);
    close(quiet);
    close(busy);
    stop(&r, 1000, NULL);
    assert_int_equal(atomic_load(&t.timeouts), 2);
}

static void max_conns(void **s)
{
    (void)s;
    sk_server_opts o = SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .max_conns = 2);
    struct t_running r = {0};
    start(&r, &o);
    int a = connect_to(r.ep), b = connect_to(r.ep);
    char buf[4];
    assert_int_equal(sk_send_all(a, "aaaa", 4, 1000, NULL), 0);
    assert_int_equal(sk_recv_exact(a, buf, 4, 1000, NULL), 0);
    assert_int_equal(sk_send_all(b, "bbbb", 4, 1000, NULL), 0);
    assert_int_equal(sk_recv_exact(b, buf, 4, 1000, NULL), 0);
    int c = connect_to(r.ep);
    ssize_t n = sk_recv(c, buf, 1, 3000); /* the third is closed at once */
    assert_true(n == 0 || n == -ECONNRESET);
    close(c);
    close(a);
    /* a slot is free again once a is gone */
    int64_t t0 = t_now_ms();
    int ok = 0;
    while (!ok && t_now_ms() - t0 < 3000) {
        int d = connect_to(r.ep);
        ok =
            sk_send_all(d, "dddd", 4, 1000, NULL) == 0 && sk_recv_exact(d, buf, 4, 1000, NULL) == 0;
        close(d);
    }
    assert_true(ok);
    close(b);
    sk_server_stats st = stop(&r, 1000, NULL);
    assert_true(st.rejected >= 1);
}

/* ---- the client's address, and no fd left behind ------------------------------------------ */

struct peer_seen {
    char text[SK_ADDRSTRLEN];
    int nodelay;
    atomic_int n;
};

static void note_peer(sk_conn *c)
{
    struct peer_seen *p = sk_conn_user(c);
    if (atomic_load(&p->n) == 0) {
        sk_addr_format(sk_conn_peer(c), p->text, sizeof p->text);
        socklen_t len = sizeof p->nodelay;
        getsockopt(sk_conn_fd(c), IPPROTO_TCP, TCP_NODELAY, &p->nodelay, &len);
        atomic_store(&p->n, 1);
    }
}

static void plain_echo(sk_conn *c, const void *data, size_t len)
{
    sk_conn_write(c, data, len);
}

static const sk_event_handlers peer_h =
    SK_EVENT_HANDLERS_INIT(.on_open = note_peer, .on_data = plain_echo);

/* sk_conn_peer is the client's address on every backend (io_uring's multishot accept does not
 * give it: the connection looks it up when asked; a connection keeps IPv4 and IPv6 addresses in
 * a short form and a longer one, a named Unix client's, in full); TCP_NODELAY is on (from the
 * listener) for TCP. bind_path: the client binds its Unix socket there first. */
static void peer_is(const char *endpoint, const char *bind_path)
{
    struct peer_seen p = {0};
    sk_server_opts o = SK_SERVER_OPTS_INIT(.endpoint = endpoint, .events = &peer_h, .user = &p);
    struct t_running r = {0};
    start(&r, &o);
    int fd;
    if (bind_path) {
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un me = {.sun_family = AF_UNIX};
        snprintf(me.sun_path, sizeof me.sun_path, "%s", bind_path);
        unlink(bind_path);
        assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof me), 0);
        sk_addr to;
        sk_server_get_addr(r.srv, &to);
        assert_int_equal(connect(fd, &to.u.sa, to.len), 0);
    } else {
        fd = connect_to(r.ep);
    }
    char b;
    assert_int_equal(sk_send_all(fd, "x", 1, 1000, NULL), 0);
    assert_int_equal(sk_recv_exact(fd, &b, 1, 3000, NULL), 0);
    sk_addr me;
    char want[SK_ADDRSTRLEN];
    assert_int_equal(sk_sock_get_local_addr(fd, &me), 0);
    sk_addr_format(&me, want, sizeof want);
    int64_t t0 = t_now_ms();
    while (!atomic_load(&p.n) && t_now_ms() - t0 < 3000)
        usleep(1000);
    assert_int_equal(atomic_load(&p.n), 1);
    assert_string_equal(p.text, want);
    if (!bind_path)
        assert_int_equal(p.nodelay, 1);
    close(fd);
    stop(&r, 1000, NULL);
    if (bind_path)
        unlink(bind_path);
}

static void peer_address(void **s)
{
    (void)s;
    peer_is("127.0.0.1:0", NULL);
    peer_is("[::1]:0", NULL);
    char path[64], ep[80];
    snprintf(path, sizeof path, "/tmp/sockkit-evtest-client-%d.sock", getpid());
    snprintf(ep, sizeof ep, "unix:/tmp/sockkit-evtest-peer-%d.sock", getpid());
    peer_is(ep, path);
}

struct stopper {
    const char *ep;
    sk_server *srv;
    int ok;
};

static void *echo_then_stop(void *arg)
{
    struct stopper *st = arg;
    int fd = connect_to(st->ep);
    char b;
    st->ok = sk_send_all(fd, "x", 1, 1000, NULL) == 0 && sk_recv_exact(fd, &b, 1, 3000, NULL) == 0;
    close(fd);
    sk_server_shutdown(st->srv);
    return NULL;
}

/* Clients that come after serve returned, while the listener's accept (io_uring: a multishot
 * accept, armed by this thread, which lives on; with 2 loops the other's was armed by a thread
 * that has exited) may still take them, then the drain or the close: the drain serves them as on
 * epoll, and every fd the server had is closed at the end. */
static void no_fd_left(int workers, bool drain)
{
    int before = t_count_fds();
    sk_server_opts o = SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .workers = workers,
                                           .model = SK_MODEL_EVENT, .events = &echo_h);
    sk_server *srv;
    assert_int_equal(sk_server_open(&srv, &o), 0);
    sk_addr a;
    char ep[128];
    sk_server_get_addr(srv, &a);
    sk_addr_format(&a, ep, sizeof ep);
    struct stopper st = {ep, srv, 0};
    pthread_t t;
    pthread_create(&t, NULL, echo_then_stop, &st);
    sk_server_serve_forever(srv, 100); /* on this thread: its ring's submitter stays alive */
    pthread_join(t, NULL);
    assert_true(st.ok);
    int late[6];
    for (int i = 0; i < 6; i++)
        late[i] = connect_to(ep);
    usleep(100 * 1000); /* queued, and each loop told so (io_uring: the ends of accepts) */
    if (drain) {
        /* the drain's first turn takes what is queued, on every loop and backend */
        sk_server_drain(srv, 300);
        sk_server_stats n = SK_SERVER_STATS_INIT();
        sk_server_get_stats(srv, &n);
        assert_int_equal(n.accepted, 7);
    }
    sk_server_close(srv);
    for (int i = 0; i < 6; i++)
        close(late[i]);
    assert_int_equal(t_count_fds(), before);
}

static void no_fd_left_after_drain(void **s)
{
    (void)s;
    no_fd_left(1, true);
    no_fd_left(2, true);
}

static void no_fd_left_after_close(void **s)
{
    (void)s;
    no_fd_left(1, false);
    no_fd_left(2, false);
}

/* ---- fds given back as clients come and go (io_uring: closed through the ring) -------------- */

/* /proc/self/fd's count once it is want (bounded): the closes of connections that ended may still
 * be on their way (io_uring: with the loop's next submission, at the start of its wait). */
static int fds_settle(int want, int ms)
{
    int64_t t0 = t_now_ms();
    int n;
    while ((n = t_count_fds()) != want && t_now_ms() - t0 < ms)
        usleep(2000);
    return n;
}

static void wait_closed(struct tally *t, int n, int ms)
{
    int64_t t0 = t_now_ms();
    while (atomic_load(&t->closed) < n && t_now_ms() - t0 < ms)
        usleep(2000);
    assert_int_equal(atomic_load(&t->closed), n);
}

struct churn {
    const char *ep;
    int id, n, ok;
};

/* n connections one after another: connect, a 32-byte echo checked, close. */
static void *churn_client(void *arg)
{
    struct churn *c = arg;
    for (int i = 0; i < c->n; i++) {
        int fd = sk_connect(c->ep, 5000);
        if (fd < 0)
            continue;
        unsigned char out[32], in[32];
        t_fill_random(out, sizeof out, (unsigned)(c->id * 1000 + i + 1));
        if (sk_send_all(fd, out, sizeof out, 5000, NULL) == 0 &&
            sk_recv_exact(fd, in, sizeof in, 5000, NULL) == 0 && !memcmp(in, out, sizeof out))
            c->ok++;
        close(fd);
    }
    return NULL;
}

/* 500 connections opened and closed by their clients (4 threads of 125, two loops): once the
 * server has seen every one end, it holds no fd of theirs, with nothing else happening on its
 * loops (io_uring: the closes go with the submission at the start of the next wait, not with a
 * later event); at its close, the process is back to the fds it had before it. */
static void many_closed_leave_no_fd(void **s)
{
    (void)s;
    int before = t_count_fds();
    struct tally t = {0};
    sk_server_opts o = SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .workers = 2, .user = &t);
    struct t_running r = {0};
    start(&r, &o);
    int serving = t_count_fds();
    struct churn c[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        c[i] = (struct churn){.ep = r.ep, .id = i, .n = 125};
        pthread_create(&th[i], NULL, churn_client, &c[i]);
    }
    int ok = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ok += c[i].ok;
    }
    assert_int_equal(ok, 500);
    wait_closed(&t, 500, 10000);
    assert_int_equal(fds_settle(serving, 3000), serving);
    sk_server_stats st = stop(&r, 1000, NULL);
    assert_int_equal(st.accepted, 500);
    assert_int_equal(t_count_fds(), before);
}

/* Connections still open when the server is closed (no drain): each client sees its end, and the
 * process has the fds it had before (io_uring: the closes queued by the close are submitted when
 * the loop is freed, not dropped with the ring; with the hand-off, loop 1 has no accept whose
 * cancel would submit them anyway). */
static void close_with_open_conns(void **s)
{
    (void)s;
    int before = t_count_fds();
    struct tally t = {0};
    sk_server_opts o = SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .workers = 2,
                                           .accept_mode = SK_ACCEPT_HANDOFF, .user = &t);
    struct t_running r = {0};
    start(&r, &o);
    int fd[20];
    char b[4];
    for (int i = 0; i < 20; i++) {
        fd[i] = connect_to(r.ep);
        assert_int_equal(sk_send_all(fd[i], "ping", 4, 1000, NULL), 0);
        assert_int_equal(sk_recv_exact(fd[i], b, 4, 3000, NULL), 0);
    }
    t_serve_stop(&r);
    sk_server_close(r.srv);
    for (int i = 0; i < 20; i++) {
        ssize_t n = sk_recv(fd[i], b, 1, 3000);
        assert_true(n == 0 || n == -ECONNRESET);
        close(fd[i]);
    }
    assert_int_equal(atomic_load(&t.closed), 20);
    assert_int_equal(t_count_fds(), before);
}

/* max_conns 1 and 100 clients one after another, each once the server saw the one before end:
 * every one is served, none refused, and the server holds one connection's fd at a time. On
 * io_uring the slot is free at the connection's end while its fd is closed with the loop's next
 * submission; with one loop that submission comes before the next client is taken. */
static void max_conns_one_after_another(void **s)
{
    (void)s;
    struct tally t = {0};
    sk_server_opts o =
        SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .workers = 1, .max_conns = 1, .user = &t);
    struct t_running r = {0};
    start(&r, &o);
    int serving = t_count_fds();
    for (int i = 0; i < 100; i++) {
        int fd = connect_to(r.ep);
        char b[4];
        assert_int_equal(sk_send_all(fd, "abcd", 4, 1000, NULL), 0);
        assert_int_equal(sk_recv_exact(fd, b, 4, 3000, NULL), 0);
        assert_int_equal(t_count_fds(), serving + 2); /* the client's and the server's */
        close(fd);
        wait_closed(&t, i + 1, 3000);
        assert_int_equal(fds_settle(serving, 3000), serving);
    }
    sk_server_stats st = stop(&r, 1000, NULL);
    assert_int_equal(st.accepted, 100);
    assert_int_equal(st.rejected, 0);
}

static bool refuse_all(sk_server *srv, const sk_addr *peer, void *user)
{
    (void)srv;
    (void)peer;
    (void)user;
    return false;
}

static void verify_rejects(void **s)
{
    (void)s;
    struct tally t = {0};
    sk_server_opts o =
        SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .verify = refuse_all, .user = &t);
    struct t_running r = {0};
    start(&r, &o);
    int fd = connect_to(r.ep);
    char b;
    ssize_t n = sk_recv(fd, &b, 1, 3000);
    assert_true(n == 0 || n == -ECONNRESET);
    close(fd);
    sk_server_stats st = stop(&r, 1000, NULL);
    assert_int_equal(st.rejected, 1);
    assert_int_equal(atomic_load(&t.opened), 0);
}

/* "quit" closes from inside on_data after the reply; a reset peer gives -ECONNRESET. */
static void quit_data(sk_conn *c, const void *data, size_t len)
{
    sk_conn_write(c, data, len);
    if (len >= 4 && !memcmp(data, "quit", 4)) {
        sk_conn_close(c);
        assert_int_equal(sk_conn_write(c, "x", 1), SK_ECLOSED);
    }
}

static void close_inside_callback_and_reset(void **s)
{
    (void)s;
    struct tally t = {0};
    static const sk_event_handlers h =
        SK_EVENT_HANDLERS_INIT(.on_open = count_open, .on_data = quit_data,
                               .on_close = count_close);
    sk_server_opts o =
        SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .events = &h, .workers = 1, .user = &t);
    struct t_running r = {0};
    start(&r, &o);
    int fd = connect_to(r.ep);
    char b[8];
    assert_int_equal(sk_send_all(fd, "quit", 4, 1000, NULL), 0);
    assert_int_equal(sk_recv_exact(fd, b, 4, 1000, NULL), 0);
    assert_memory_equal(b, "quit", 4);
    assert_int_equal(sk_recv(fd, b, 1, 3000), 0);
    close(fd);
    /* a peer that resets (SO_LINGER 0) */
    fd = connect_to(r.ep);
    assert_int_equal(sk_send_all(fd, "hi", 2, 1000, NULL), 0);
    assert_int_equal(sk_recv_exact(fd, b, 2, 1000, NULL), 0);
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
    int64_t t0 = t_now_ms();
    while (atomic_load(&t.closed) < 2 && t_now_ms() - t0 < 3000)
        poll(NULL, 0, 10);
    sk_server_stats st = stop(&r, 1000, NULL);
    assert_int_equal(atomic_load(&t.eofs), 1);
    assert_int_equal(atomic_load(&t.resets), 1);
    assert_int_equal(st.errors, 0); /* a reset peer is not a server error */
}

/* A handler's own timer writes outside any server callback. */
static void later(sk_loop *l, int64_t timer, void *arg)
{
    (void)l;
    (void)timer;
    sk_conn *c = arg;
    sk_conn_write(c, "later\n", 6);
    sk_conn_close(c);
}

static void later_open(sk_conn *c)
{
    sk_loop_timer(sk_conn_loop(c), 100, 0, later, c);
}

static void write_from_own_timer(void **s)
{
    (void)s;
    static const sk_event_handlers h = SK_EVENT_HANDLERS_INIT(.on_open = later_open);
    sk_server_opts o = SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .events = &h);
    struct t_running r = {0};
    start(&r, &o);
    int fd = connect_to(r.ep);
    char b[16] = {0};
    int64_t t0 = t_now_ms();
    assert_int_equal(sk_recv_exact(fd, b, 6, 3000, NULL), 0);
    assert_elapsed(t0, 80, 3000);
    assert_string_equal(b, "later\n");
    assert_int_equal(sk_recv(fd, b, 1, 3000), 0);
    close(fd);
    stop(&r, 1000, NULL);
}

/* ---- drain --------------------------------------------------------------------------------- */

/* Clients that sent without reading: at drain each gets every byte the server had taken, then
 * EOF, promptly. A client that never closes is cut off at the deadline. */
enum { DN = 20, DLEN = 200000 };
struct readers {
    int fds[DN];
    unsigned char in[DN][DLEN];
    size_t got[DN];
    int64_t all_eof_ms; /* when the last one saw EOF */
};

static void *read_all(void *arg)
{
    struct readers *rd = arg;
    int open = DN;
    bool done[DN] = {0};
    int64_t t0 = t_now_ms();
    while (open && t_now_ms() - t0 < 10000) {
        struct pollfd p[DN];
        for (int i = 0; i < DN; i++)
            p[i] = (struct pollfd){done[i] ? -1 : rd->fds[i], POLLIN, 0};
        poll(p, DN, 100);
        for (int i = 0; i < DN; i++) {
            if (done[i] || !p[i].revents)
                continue;
            ssize_t n = recv(rd->fds[i], rd->in[i] + rd->got[i], DLEN - rd->got[i], 0);
            if (n > 0) {
                rd->got[i] += (size_t)n;
            } else if (n == 0 || errno != EAGAIN) {
                done[i] = true; /* and close, as a client does at EOF */
                close(rd->fds[i]);
                open--;
            }
        }
    }
    rd->all_eof_ms = t_now_ms();
    return NULL;
}

/* echo with a small kernel send buffer: the server's own output buffer holds the backlog */
static void small_sndbuf_open(sk_conn *c)
{
    int small = 16384;
    setsockopt(sk_conn_fd(c), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
}

static void drain_flushes_output(void **s)
{
    (void)s;
    struct tally t = {0};
    static const sk_event_handlers h =
        SK_EVENT_HANDLERS_INIT(.on_open = small_sndbuf_open, .on_data = echo_data);
    sk_server_opts o =
        SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .workers = 2, .events = &h, .user = &t);
    struct t_running r = {0};
    start(&r, &o);
    static struct readers rd;
    static unsigned char out[DN][DLEN];
    size_t sent[DN];
    for (int i = 0; i < DN; i++) {
        rd.fds[i] = connect_to(r.ep);
        t_fill_random(out[i], DLEN, (unsigned)i + 9);
        sk_sock_set_nonblock(rd.fds[i], true);
        ssize_t n = send(rd.fds[i], out[i], DLEN, MSG_NOSIGNAL);
        sent[i] = n > 0 ? (size_t)n : 0;
    }
    int stubborn = connect_to(r.ep); /* never reads, never closes */
    sk_server_stats st = SK_SERVER_STATS_INIT();
    int64_t t0 = t_now_ms();
    do { /* until the server has taken what it can (its output buffers hold the rest) */
        poll(NULL, 0, 50);
        sk_server_get_stats(r.srv, &st);
    } while (st.active < DN + 1 && t_now_ms() - t0 < 3000);
    poll(NULL, 0, 200);
    sk_server_shutdown(r.srv);
    pthread_join(r.thread, NULL);
    sk_server_get_stats(r.srv, &st);
    uint64_t taken = st.bytes_in;

    pthread_t th;
    pthread_create(&th, NULL, read_all, &rd);
    t0 = t_now_ms();
    int cut = sk_server_drain(r.srv, 1500);
    int64_t drained = t_now_ms();
    pthread_join(th, NULL);
    sk_server_get_stats(r.srv, &st);
    sk_server_close(r.srv);
    close(stubborn);

    assert_int_equal(cut, 1); /* the stubborn one, at the deadline */
    if (atomic_load(&t.max_pending) < 65536)
        fail_msg("the server held only %zu bytes of output: the drain's flush was not tested",
                 atomic_load(&t.max_pending));
    if (drained - t0 < 1400 || drained - t0 > 5000)
        fail_msg("drain took %lld ms for a 1500 ms deadline", (long long)(drained - t0));
    if (rd.all_eof_ms - t0 > 1000)
        fail_msg("clients saw EOF only after %lld ms", (long long)(rd.all_eof_ms - t0));
    uint64_t back = 0;
    for (int i = 0; i < DN; i++) {
        assert_true(rd.got[i] <= sent[i]);
        assert_memory_equal(rd.in[i], out[i], rd.got[i]);
        back += rd.got[i];
    }
    /* no reply already accepted was lost: every byte the server read came back */
    assert_int_equal(back, taken);
    assert_int_equal(st.bytes_out, taken);
}

/* The drain cuts a client that never closes: when sk_server_drain returns, the server's socket
 * for it is gone (io_uring: the close queued by the cut, and the cancel of its receive, which
 * holds the socket, are submitted as the drain ends, not at the server's close): its fd is no
 * longer open, and a byte the client sends then is answered with a reset. */
static int tcp_state(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 ? ti.tcpi_state : -1;
}

static void drain_cut_is_closed(void **s)
{
    (void)s;
    sk_server_opts o = SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .workers = 1);
    struct t_running r = {0};
    start(&r, &o);
    int fd = connect_to(r.ep);
    char b[4];
    assert_int_equal(sk_send_all(fd, "ping", 4, 1000, NULL), 0);
    assert_int_equal(sk_recv_exact(fd, b, 4, 3000, NULL), 0);
    t_serve_stop(&r);
    int open = t_count_fds();
    assert_int_equal(sk_server_drain(r.srv, 300), 1);
    assert_int_equal(t_count_fds(), open - 2);    /* the listener and the cut connection */
    assert_int_equal(sk_recv(fd, b, 1, 1000), 0); /* the drain's FIN */
    assert_int_equal(send(fd, "x", 1, MSG_NOSIGNAL), 1);
    int64_t t0 = t_now_ms();
    while (tcp_state(fd) != TCP_CLOSE && t_now_ms() - t0 < 3000)
        usleep(2000);
    assert_int_equal(tcp_state(fd), TCP_CLOSE); /* reset: nobody holds the server's end */
    sk_server_close(r.srv);
    close(fd);
}

/* ---- how many loops by default ------------------------------------------------------------ */

static int blocking_handle(sk_request *r)
{
    (void)r;
    return 0;
}

static int workers_of(sk_model model, int workers)
{
    sk_server *srv;
    sk_server_opts o =
        SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .model = model, .workers = workers);
    if (model == SK_MODEL_EVENT)
        o.events = &echo_h;
    else
        o.handle = blocking_handle;
    assert_int_equal(sk_server_open(&srv, &o), 0);
    int n = sk_server_workers(srv);
    sk_server_close(srv);
    return n;
}

static void default_loops(void **state)
{
    (void)state;
    /* one per core, but one on one or two cores */
    assert_int_equal(sk__default_loops(1), 1);
    assert_int_equal(sk__default_loops(2), 1);
    assert_int_equal(sk__default_loops(3), 3);
    assert_int_equal(sk__default_loops(64), 64);

    /* the cores counted are those the process may run on */
    cpu_set_t all, one;
    assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
    int first = 0;
    while (!CPU_ISSET(first, &all))
        first++;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
    int pinned = sk__usable_cores(), pinned_loops = workers_of(SK_MODEL_EVENT, 0);
    assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0);
    assert_int_equal(pinned, 1);
    assert_int_equal(pinned_loops, 1);
    assert_int_equal(sk__usable_cores(), CPU_COUNT(&all));

    assert_int_equal(workers_of(SK_MODEL_EVENT, 0), sk__default_loops(CPU_COUNT(&all)));
    assert_int_equal(workers_of(SK_MODEL_EVENT, 3), 3);
    assert_int_equal(workers_of(SK_MODEL_POOL, 0), 4);
    assert_int_equal(workers_of(SK_MODEL_POOL, 2), 2);
    assert_int_equal(workers_of(SK_MODEL_THREAD, 5), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tcp_reuseport),
        cmocka_unit_test(tcp_handoff),
        cmocka_unit_test(tcp_poll_backend),
        cmocka_unit_test(unix_stream),
        cmocka_unit_test(udp),
        cmocka_unit_test(unix_dgram),
        cmocka_unit_test(never_reading_peer),
        cmocka_unit_test(on_writable_refills),
        cmocka_unit_test(read_past_high_water),
        cmocka_unit_test(idle_timeout),
        cmocka_unit_test(max_conns),
        cmocka_unit_test(peer_address),
        cmocka_unit_test(no_fd_left_after_drain),
        cmocka_unit_test(no_fd_left_after_close),
        cmocka_unit_test(many_closed_leave_no_fd),
        cmocka_unit_test(close_with_open_conns),
        cmocka_unit_test(max_conns_one_after_another),
        cmocka_unit_test(verify_rejects),
        cmocka_unit_test(close_inside_callback_and_reset),
        cmocka_unit_test(write_from_own_timer),
        cmocka_unit_test(drain_flushes_output),
        cmocka_unit_test(drain_cut_is_closed),
        cmocka_unit_test(default_loops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
