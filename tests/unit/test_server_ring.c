/* server_ring.c: what the event model's completion-based I/O on io_uring (multishot receive into
 * the loop's provided buffers, sends through the ring) must keep as on epoll. Runs on every
 * backend (SOCKKIT_LOOP_BACKEND, the @poll and @io_uring copies): a peer that resets while the
 * server receives and while it sends, pause and resume (data arriving after the pause is held and
 * comes in order after the resume, the end of input too), and more connections than the loop has
 * provided buffers, each of which sent something and went quiet: none holds a buffer, so a new
 * client is still served. Label threads: the server runs on a thread of its own.
 */
#include "sktest.h"

#include "loop_ops.h"

#include <signal.h>
#include <stdatomic.h>

struct tally {
    atomic_int opened, closed, resets, bad;
    atomic_size_t bytes;
    _Atomic(sk_loop *) loop;
};

static void start(struct t_running *r, sk_server_opts *o)
{
    o->model = SK_MODEL_EVENT;
    t_serve(r, o);
}

static sk_server_stats stop(struct t_running *r)
{
    t_serve_stop(r);
    sk_server_drain(r->srv, 2000);
    sk_server_stats st = SK_SERVER_STATS_INIT();
    sk_server_get_stats(r->srv, &st);
    sk_server_close(r->srv);
    return st;
}

static void count_open(sk_conn *c)
{
    atomic_fetch_add(&((struct tally *)sk_conn_user(c))->opened, 1);
}

static void count_close(sk_conn *c, int reason)
{
    struct tally *t = sk_conn_user(c);
    atomic_fetch_add(&t->closed, 1);
    if (reason == -ECONNRESET || reason == -EPIPE)
        atomic_fetch_add(&t->resets, 1);
}

/* A client that sends "E..." is echoed; the others are only counted. */
static void echo_or_count(sk_conn *c, const void *data, size_t len)
{
    struct tally *t = sk_conn_user(c);
    atomic_store(&t->loop, sk_conn_loop(c));
    atomic_fetch_add(&t->bytes, len);
    if (((const char *)data)[0] == 'E' || sk_conn_data(c))
        sk_conn_set_data(c, c), sk_conn_write(c, data, len);
}

/* Echo round trip on a fresh connection: the server still serves. */
static bool echo_works(const char *ep)
{
    int fd = sk_connect(ep, 5000);
    if (fd < 0)
        return false;
    char out[100] = "E", in[100];
    t_fill_random((unsigned char *)out + 1, sizeof out - 1, 7);
    bool ok = sk_send_all(fd, out, sizeof out, 3000, NULL) == 0 &&
              sk_recv_exact(fd, in, sizeof in, 3000, NULL) == 0 && !memcmp(in, out, sizeof in);
    close(fd);
    return ok;
}

static void reset_now(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

static bool wait_until(atomic_int *x, int want, int ms)
{
    int64_t t0 = t_now_ms();
    while (atomic_load(x) < want && t_now_ms() - t0 < ms)
        poll(NULL, 0, 10);
    return atomic_load(x) >= want;
}

/* ---- a peer's reset while the server receives, and while it sends -------------------------- */

static void reset_mid_receive(void **s)
{
    (void)s;
    struct tally t = {0};
    static const sk_event_handlers h =
        SK_EVENT_HANDLERS_INIT(.on_open = count_open, .on_data = echo_or_count,
                               .on_close = count_close);
    sk_server_opts o = SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .events = &h, .user = &t);
    struct t_running r = {0};
    start(&r, &o);
    /* several clients each send a stream and reset in the middle of it: the server is receiving
     * (a multishot receive in flight, buffers coming and going) when the RST comes */
    static unsigned char chunk[65536];
    t_fill_random(chunk, sizeof chunk, 3);
    for (int i = 0; i < 8; i++) {
        int fd = sk_connect(r.ep, 5000);
        assert_true(fd >= 0);
        for (int k = 0; k < 4 + i; k++)
            assert_int_equal(sk_send_all(fd, chunk, sizeof chunk, 3000, NULL), 0);
        reset_now(fd);
    }
    assert_true(wait_until(&t.closed, 8, 5000));
    assert_true(echo_works(r.ep));
    sk_server_stats st = stop(&r);
    assert_int_equal(atomic_load(&t.opened), atomic_load(&t.closed));
    assert_int_equal(st.active, 0);
    assert_int_equal(st.errors, 0); /* a reset is the peer's end, not the server's failure */
}

static void source_open(sk_conn *c)
{
    count_open(c);
    static unsigned char big[1 << 20];
    /* 8 MiB, far more than the socket takes: most of it waits in the output buffer */
    for (int i = 0; i < 8; i++)
        if (sk_conn_write(c, big, sizeof big) < 0)
            break;
}

static void reset_mid_send(void **s)
{
    (void)s;
    struct tally t = {0};
    static const sk_event_handlers h =
        SK_EVENT_HANDLERS_INIT(.on_open = source_open, .on_data = echo_or_count,
                               .on_close = count_close);
    sk_server_opts o = SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .events = &h,
                                           .high_water = 16u << 20, .user = &t);
    struct t_running r = {0};
    start(&r, &o);
    static unsigned char buf[65536];
    for (int i = 0; i < 4; i++) {
        int fd = sk_connect(r.ep, 5000);
        assert_true(fd >= 0);
        size_t got = 0;
        while (got < (size_t)(i + 1) * 100000) { /* a send in flight when the RST comes */
            ssize_t n = sk_recv(fd, buf, sizeof buf, 3000);
            assert_true(n > 0);
            got += (size_t)n;
        }
        reset_now(fd);
    }
    assert_true(wait_until(&t.closed, 4, 5000));
    assert_int_equal(atomic_load(&t.resets), 4); /* each saw its peer's reset */
    /* and the server still serves: a new client gets all 8 MiB */
    int fd = sk_connect(r.ep, 5000);
    assert_true(fd >= 0);
    size_t got = 0;
    for (ssize_t n; got < (8u << 20) && (n = sk_recv(fd, buf, sizeof buf, 5000)) > 0;)
        got += (size_t)n;
    close(fd);
    assert_int_equal(got, 8u << 20);
    sk_server_stats st = stop(&r);
    assert_int_equal(st.active, 0);
    assert_int_equal(st.errors, 0);
}

/* A client sends much more than 32 provided buffers' worth while the server is not reading, then
 * resets: when the server reads again, the data and the reset are both waiting. Linux (6.18 at
 * least) ends a multishot receive's pass after 32 buffers taken in a row and goes on from task
 * work; that pass drains the data and then waits for a wakeup that came before it (the reset's),
 * so without server_ring.c's re-arm the reset was never reported and the connection never ended
 * (docs/loop.md). */
static atomic_bool queued_go;

static void resume_when_told(sk_loop *l, int64_t timer, void *arg)
{
    sk_conn *c = arg;
    if (atomic_load(&queued_go)) {
        sk_loop_cancel(l, timer);
        sk_conn_resume(c);
    }
}

static void queued_open(sk_conn *c)
{
    count_open(c);
    sk_sock_set_rcvbuf(sk_conn_fd(c), 4 << 20); /* room to queue the whole stream */
    sk_conn_pause(c);
    if (sk_loop_timer(sk_conn_loop(c), 5, 5, resume_when_told, c) < 0)
        atomic_fetch_add(&((struct tally *)sk_conn_user(c))->bad, 1);
}

static void reset_with_queued_input(void **s)
{
    (void)s;
    struct tally t = {0};
    atomic_store(&queued_go, false);
    static const sk_event_handlers h =
        SK_EVENT_HANDLERS_INIT(.on_open = queued_open, .on_data = echo_or_count,
                               .on_close = count_close);
    sk_server_opts o = SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .events = &h, .user = &t);
    struct t_running r = {0};
    start(&r, &o);
    int fd = sk_connect(r.ep, 5000);
    assert_true(fd >= 0);
    assert_true(wait_until(&t.opened, 1, 5000));
    /* 1 MiB, or as much as the server's socket takes in 5 s: at least 256 KiB (64 buffers) */
    static unsigned char chunk[65536];
    t_fill_random(chunk, sizeof chunk, 5);
    chunk[0] = 'Q'; /* counted, not echoed */
    size_t sent = 0;
    for (int i = 0; i < 16 && sk_send_all(fd, chunk, sizeof chunk, 5000, NULL) == 0; i++)
        sent += sizeof chunk;
    if (sent < (256u << 10)) {
        close(fd);
        stop(&r);
        skip(); /* the kernel queued too little to show it */
    }
    poll(NULL, 0, 50); /* all of it in the server's receive queue */
    reset_now(fd);
    poll(NULL, 0, 50); /* the reset too, before the server reads */
    atomic_store(&queued_go, true);
    assert_true(wait_until(&t.closed, 1, 5000));
    assert_true(echo_works(r.ep));
    sk_server_stats st = stop(&r);
    assert_int_equal(atomic_load(&t.bad), 0);
    assert_int_equal(atomic_load(&t.opened), atomic_load(&t.closed));
    assert_int_equal(st.active, 0);
}

/* One client floods a connection that paused itself at its first bytes and never resumes; another
 * is echoed all along. With io_uring's receives the paused one keeps what completed before its
 * cancel landed: at most one buffer with one completion per receive; with multishot receives up
 * to the whole ring (a pass takes buffers until the socket is empty or the ring is: 64 of 256
 * here), and then the others' receives fail with -ENOBUFS and fall back to recv(2), so they are
 * still served (docs/loop.md). On epoll and poll the counts are 0. */
static atomic_uint flood_peak;

static void flood_data(sk_conn *c, const void *data, size_t len)
{
    struct tally *t = sk_conn_user(c);
    atomic_store(&t->loop, sk_conn_loop(c));
    unsigned out = sk__loop_bufs_out(sk_conn_loop(c));
    if (out > atomic_load(&flood_peak))
        atomic_store(&flood_peak, out);
    if (((const char *)data)[0] == 'P' && !sk_conn_data(c)) {
        sk_conn_set_data(c, c);
        sk_conn_pause(c); /* for good */
        return;
    }
    if (((const char *)data)[0] == 'P') {
        atomic_fetch_add(&t->bad, 1); /* on_data while paused */
        return;
    }
    sk_conn_write(c, data, len);
}

static void paused_flood_others_served(void **s)
{
    (void)s;
    struct tally t = {0};
    atomic_store(&flood_peak, 0);
    static const sk_event_handlers h =
        SK_EVENT_HANDLERS_INIT(.on_open = count_open, .on_data = flood_data,
                               .on_close = count_close);
    sk_server_opts o = SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .events = &h, .user = &t);
    struct t_running r = {0};
    start(&r, &o);
    /* 6 flooders: with multishot receives, enough to take the whole ring */
    int flood[6], echo = sk_connect(r.ep, 5000);
    assert_true(echo >= 0);
    for (int i = 0; i < 6; i++)
        assert_true((flood[i] = sk_connect(r.ep, 5000)) >= 0);
    static unsigned char chunk[65536], in[1024];
    memset(chunk, 'P', sizeof chunk);
    size_t flooded = 0;
    for (int round = 0; round < 200; round++) {
        /* the flood: as much as the sockets take, without waiting */
        for (int i = 0; i < 6; i++)
            for (int k = 0; k < 4; k++) {
                ssize_t n = send(flood[i], chunk, sizeof chunk, MSG_DONTWAIT);
                if (n <= 0)
                    break;
                flooded += (size_t)n;
            }
        /* and the other connection is echoed meanwhile */
        unsigned char out[1024];
        t_fill_random(out, sizeof out, (unsigned)round + 1);
        out[0] = 'E';
        assert_int_equal(sk_send_all(echo, out, sizeof out, 3000, NULL), 0);
        assert_int_equal(sk_recv_exact(echo, in, sizeof in, 3000, NULL), 0);
        assert_memory_equal(in, out, sizeof in);
    }
    assert_true(flooded >= sizeof chunk);
    sk_loop *l = atomic_load(&t.loop);
    assert_non_null(l);
    print_message("flooded %zu bytes, buffers out at most %u, now %u\n", flooded,
                  atomic_load(&flood_peak), sk__loop_bufs_out(l));
    if (!sk__loop_multishot()) /* one completion per receive: at most one buffer each */
        assert_true(sk__loop_bufs_out(l) <= 6);
    for (int i = 0; i < 6; i++)
        close(flood[i]);
    close(echo);
    sk_server_stats st = stop(&r);
    assert_int_equal(atomic_load(&t.bad), 0);
    assert_int_equal(st.active, 0);
}

/* ---- pause and resume ---------------------------------------------------------------------- */

#define PLEN (1u << 20)

struct pconn {
    unsigned char *in;
    size_t got;
    bool paused;
    int pauses;
};

static void resume_later(sk_loop *l, int64_t timer, void *arg)
{
    (void)l, (void)timer;
    sk_conn *c = arg;
    struct pconn *p = sk_conn_data(c);
    p->paused = false;
    sk_conn_resume(c);
}

static void pause_open(sk_conn *c)
{
    struct pconn *p = calloc(1, sizeof *p);
    p->in = malloc(PLEN);
    sk_conn_set_data(c, p);
}

/* Every chunk: pause, and resume from a timer 2 ms later. Nothing may arrive while paused. */
static void pause_data(sk_conn *c, const void *data, size_t len)
{
    struct tally *t = sk_conn_user(c);
    struct pconn *p = sk_conn_data(c);
    if (p->paused || p->got + len > PLEN) {
        atomic_fetch_add(&t->bad, 1);
        return;
    }
    memcpy(p->in + p->got, data, len);
    p->got += len;
    p->paused = true;
    p->pauses++;
    sk_conn_pause(c);
    if (sk_loop_timer(sk_conn_loop(c), 2, 0, resume_later, c) < 0)
        atomic_fetch_add(&t->bad, 1);
}

/* The end of input, after everything: answer whether the bytes are the ones sent. */
static void pause_end(sk_conn *c)
{
    struct tally *t = sk_conn_user(c);
    struct pconn *p = sk_conn_data(c);
    if (p->paused)
        atomic_fetch_add(&t->bad, 1);
    unsigned char *want = malloc(PLEN);
    t_fill_random(want, PLEN, 11);
    bool same = p->got == PLEN && !memcmp(p->in, want, PLEN);
    free(want);
    sk_conn_write(c, same ? "OK" : "NO", 2);
    sk_conn_close(c);
}

static void pause_close(sk_conn *c, int reason)
{
    struct pconn *p = sk_conn_data(c);
    struct tally *t = sk_conn_user(c);
    atomic_fetch_add(&t->bytes, (size_t)p->pauses);
    free(p->in);
    free(p);
    count_close(c, reason);
}

static void pause_resume_in_order(void **s)
{
    (void)s;
    struct tally t = {0};
    static const sk_event_handlers h =
        SK_EVENT_HANDLERS_INIT(.on_open = pause_open, .on_data = pause_data, .on_end = pause_end,
                               .on_close = pause_close);
    sk_server_opts o = SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .events = &h, .user = &t);
    struct t_running r = {0};
    start(&r, &o);
    unsigned char *out = malloc(PLEN);
    t_fill_random(out, PLEN, 11);
    int fd = sk_connect(r.ep, 5000);
    assert_true(fd >= 0);
    /* all at once, then the FIN: most of it arrives while the connection is paused */
    assert_int_equal(sk_send_all(fd, out, PLEN, 30000, NULL), 0);
    assert_int_equal(sk_shutdown(fd, SHUT_WR), 0);
    char ans[3] = {0};
    assert_int_equal(sk_recv_exact(fd, ans, 2, 30000, NULL), 0);
    assert_string_equal(ans, "OK");
    assert_int_equal(sk_recv(fd, ans, 1, 5000), 0);
    close(fd);
    free(out);
    assert_true(wait_until(&t.closed, 1, 5000));
    stop(&r);
    assert_int_equal(atomic_load(&t.bad), 0); /* no on_data while paused, none past the end */
    assert_true(atomic_load(&t.bytes) >= 2);  /* paused more than once */
}

/* ---- idle connections hold no receive buffer ----------------------------------------------- */

#define QUIET 400 /* more than the loop's provided buffers (docs/loop.md) */

static void quiet_conns_hold_no_buffer(void **s)
{
    (void)s;
    if (!t_nofile_at_least(2 * QUIET + 64))
        skip();
    struct tally t = {0};
    static const sk_event_handlers h =
        SK_EVENT_HANDLERS_INIT(.on_open = count_open, .on_data = echo_or_count,
                               .on_close = count_close);
    sk_server_opts o = SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .events = &h, .user = &t);
    struct t_running r = {0};
    start(&r, &o);
    static int fds[QUIET];
    for (int i = 0; i < QUIET; i++) {
        fds[i] = sk_connect(r.ep, 5000);
        assert_true(fds[i] >= 0);
        assert_int_equal(sk_send_all(fds[i], "quiet", 5, 3000, NULL), 0);
    }
    /* every one's bytes were taken, and each buffer given back: more connections than buffers */
    int64_t t0 = t_now_ms();
    while (atomic_load(&t.bytes) < 5u * QUIET && t_now_ms() - t0 < 10000)
        poll(NULL, 0, 10);
    assert_int_equal(atomic_load(&t.bytes), 5u * QUIET);
    /* and no buffer is held by any of them (io_uring's provided buffers; 0 on the others) */
    sk_loop *l = atomic_load(&t.loop);
    assert_non_null(l);
    t0 = t_now_ms();
    while (sk__loop_bufs_out(l) > 0 && t_now_ms() - t0 < 3000)
        poll(NULL, 0, 10);
    assert_int_equal(sk__loop_bufs_out(l), 0);
    /* ... so a newcomer is received and answered at once, and so are the quiet ones again */
    assert_true(echo_works(r.ep));
    for (int i = 0; i < QUIET; i += 50) {
        char in[5];
        assert_int_equal(sk_send_all(fds[i], "Ehlo!", 5, 3000, NULL), 0);
        assert_int_equal(sk_recv_exact(fds[i], in, 5, 3000, NULL), 0);
        assert_memory_equal(in, "Ehlo!", 5);
    }
    for (int i = 0; i < QUIET; i++)
        close(fds[i]);
    assert_true(wait_until(&t.closed, QUIET + 1, 10000));
    sk_server_stats st = stop(&r);
    assert_int_equal(st.errors, 0);
}

/* ---- the provided-buffer ring grows ------------------------------------------------------- */

/* More connections with input at once than the ring has buffers (the loop blocked in a callback
 * while they all send): on io_uring the receives that find the ring empty make it grow (up to its
 * most, loop_uring.c), rather than every later burst falling back to recv(2); every byte is
 * echoed, and every buffer goes back. On the other backends there is no ring (0). */
static void echo_or_block(sk_conn *c, const void *data, size_t len)
{
    struct tally *t = sk_conn_user(c);
    atomic_store(&t->loop, sk_conn_loop(c));
    if (((const char *)data)[0] == 'B')
        poll(NULL, 0, 300); /* the loop does nothing else meanwhile */
    sk_conn_write(c, data, len);
}

static void ring_grows_for_many_at_once(void **s)
{
    (void)s;
    struct tally t = {0};
    static const sk_event_handlers h =
        SK_EVENT_HANDLERS_INIT(.on_open = count_open, .on_data = echo_or_block,
                               .on_close = count_close);
    sk_server_opts o =
        SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .events = &h, .user = &t, .workers = 1);
    struct t_running r = {0};
    start(&r, &o);
    int blocker = sk_connect(r.ep, 5000);
    assert_true(blocker >= 0);
    char in[64], out[64];
    assert_int_equal(sk_send_all(blocker, "E", 1, 3000, NULL), 0); /* the ring is made */
    assert_int_equal(sk_recv_exact(blocker, in, 1, 3000, NULL), 0);
    sk_loop *l = atomic_load(&t.loop);
    assert_non_null(l);
    unsigned before = sk__loop_bufs_total(l);
    unsigned n = before + 100; /* more than the ring has: 356 by default */
    if (n < 100)
        n = 100;
    if (!t_nofile_at_least(2 * n + 64))
        skip();
    int *fds = calloc(n, sizeof *fds);
    assert_non_null(fds);
    for (unsigned i = 0; i < n; i++)
        assert_true((fds[i] = sk_connect(r.ep, 5000)) >= 0);
    assert_true(wait_until(&t.opened, (int)n + 1, 10000));
    assert_int_equal(sk_send_all(blocker, "B", 1, 3000, NULL), 0);
    poll(NULL, 0, 50); /* the loop is in its 300 ms callback: all of these land at once */
    for (unsigned i = 0; i < n; i++) {
        t_fill_random((unsigned char *)out, sizeof out, i + 1);
        assert_int_equal(sk_send_all(fds[i], out, sizeof out, 3000, NULL), 0);
    }
    assert_int_equal(sk_recv_exact(blocker, in, 1, 3000, NULL), 0);
    for (unsigned i = 0; i < n; i++) {
        t_fill_random((unsigned char *)out, sizeof out, i + 1);
        assert_int_equal(sk_recv_exact(fds[i], in, sizeof in, 5000, NULL), 0);
        assert_memory_equal(in, out, sizeof in);
    }
    unsigned after = sk__loop_bufs_total(l);
    print_message("provided buffers: %u before, %u after %u receives at once\n", before, after, n);
    if (before) /* io_uring */
        assert_true(after > before);
    else
        assert_int_equal(after, 0);
    int64_t t0 = t_now_ms();
    while (sk__loop_bufs_out(l) > 0 && t_now_ms() - t0 < 3000)
        poll(NULL, 0, 10);
    assert_int_equal(sk__loop_bufs_out(l), 0);
    for (unsigned i = 0; i < n; i++)
        close(fds[i]);
    close(blocker);
    free(fds);
    assert_true(wait_until(&t.closed, (int)n + 1, 10000));
    sk_server_stats st = stop(&r);
    assert_int_equal(st.errors, 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reset_mid_receive),           cmocka_unit_test(reset_mid_send),
        cmocka_unit_test(reset_with_queued_input),     cmocka_unit_test(paused_flood_others_served),
        cmocka_unit_test(pause_resume_in_order),       cmocka_unit_test(quiet_conns_hold_no_buffer),
        cmocka_unit_test(ring_grows_for_many_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
