/* server_ring_accept.c's fallback (issue 20): a kernel without multishot accept (before 5.19)
 * refuses the accept with -EINVAL, and the listener then takes its clients by readiness and
 * accept4, for good. This kernel has multishot accept: SOCKKIT_URING_ACCEPT=old-kernel (set here,
 * before any loop exists) makes the accept SQE carry an ioprio bit no kernel knows, which this
 * kernel refuses with -EINVAL as an old one refuses the multishot bit. Checked: the kernel's
 * answer itself; then a server on io_uring (two loops, one listener each) serves clients with
 * checksummed echoes, its listeners on readiness for good (the ring's accept no longer armed),
 * and leaves no fd behind. Skipped (77) where io_uring is refused or not built in. Label threads:
 * the clients are threads. */
#include "sktest.h"

#include "loop_ops.h"
#include "server_event.h"

static bool uring_ok(sk_loop *l)
{
    void *st;
    return !strcmp(sk_loop_backend_name(l), "io_uring") && sk__loop_ops(l, &st);
}

struct got {
    int res, ended;
};

static void on_accept(sk_loop *l, const struct sk__op_done *d, void *arg)
{
    (void)l;
    struct got *g = arg;
    if (d->res >= 0)
        close(d->res);
    g->res = d->res;
    g->ended += !d->more;
}

/* The premise: with the knob, this kernel ends the accept at once with -EINVAL. */
static void kernel_refuses_accept(void **s)
{
    (void)s;
    sk_loop *l;
    assert_int_equal(sk_loop_new(&l, SK_LOOP_URING), 0);
    if (!uring_ok(l)) {
        sk_loop_free(l);
        skip();
    }
    int lfd = sk_listen("127.0.0.1:0", NULL);
    assert_true(lfd >= 0);
    void *st;
    const struct sk__loop_ops *ops = sk__loop_ops(l, &st);
    struct got g = {0};
    assert_true(ops->accept(st, lfd, on_accept, &g) > 0);
    for (int k = 0; k < 100 && !g.ended; k++)
        sk_loop_run_once(l, 10);
    assert_int_equal(g.ended, 1);
    assert_int_equal(g.res, -EINVAL);
    sk_loop_free(l);
    close(lfd);
}

struct client {
    const char *ep;
    int id, ok;
};

/* 30,000 to 37,000 random bytes, echoed, compared, then the server's close seen. */
static void *echo_client(void *arg)
{
    struct client *c = arg;
    size_t len = 30000 + (size_t)c->id * 1009;
    unsigned char *out = malloc(len), *in = malloc(len);
    t_fill_random(out, len, (unsigned)c->id + 7);
    int fd = sk_connect(c->ep, 5000);
    if (fd >= 0) {
        c->ok = sk_send_all(fd, out, len, 5000, NULL) == 0 && sk_shutdown(fd, SHUT_WR) == 0 &&
                sk_recv_exact(fd, in, len, 5000, NULL) == 0 && !memcmp(in, out, len) &&
                sk_recv(fd, in, 1, 5000) == 0;
        close(fd);
    }
    free(out);
    free(in);
    return NULL;
}

static void echo(sk_conn *c, const void *data, size_t len)
{
    sk_conn_write(c, data, len);
}

static atomic_int closed;

static void count_close(sk_conn *c, int reason)
{
    (void)c, (void)reason;
    atomic_fetch_add(&closed, 1);
}

static const sk_event_handlers echo_h =
    SK_EVENT_HANDLERS_INIT(.on_data = echo, .on_close = count_close);

enum { NCLIENTS = 8 };

/* Two rounds of clients: the first finds the listeners falling back (the refusal comes with the
 * loop's first wait), the second finds them on readiness for good, not back on the ring. */
static void refused_accept_falls_back(void **s)
{
    (void)s;
    int before = t_count_fds();
    sk_server_opts o =
        SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .model = SK_MODEL_EVENT, .workers = 2,
                            .loop_backend = SK_LOOP_URING, .events = &echo_h);
    struct t_running r = {0};
    t_serve(&r, &o);
    struct sk__event *ev = r.srv->model;
    if (!uring_ok(ev->w[0].loop)) {
        t_serve_stop(&r);
        sk_server_close(r.srv);
        skip();
    }
    atomic_store(&closed, 0);
    for (int round = 0; round < 2; round++) {
        struct client c[NCLIENTS];
        pthread_t th[NCLIENTS];
        for (int i = 0; i < NCLIENTS; i++) {
            c[i] = (struct client){.ep = r.ep, .id = round * NCLIENTS + i};
            pthread_create(&th[i], NULL, echo_client, &c[i]);
        }
        int ok = 0;
        for (int i = 0; i < NCLIENTS; i++) {
            pthread_join(th[i], NULL);
            ok += c[i].ok;
        }
        assert_int_equal(ok, NCLIENTS);
    }
    int64_t t0 = t_now_ms();
    while (atomic_load(&closed) < 2 * NCLIENTS && t_now_ms() - t0 < 5000)
        usleep(2000);
    t_serve_stop(&r); /* the loops' threads are done: their state can be read */
    for (int i = 0; i < ev->n; i++) {
        struct sk__worker *w = &ev->w[i];
        assert_false(w->accept_ring); /* refused: readiness for good */
        assert_false(w->accept_fallback);
        assert_int_equal(w->accept_op, 0);
        assert_true(w->listen_watched);
    }
    sk_server_stats st = SK_SERVER_STATS_INIT();
    sk_server_get_stats(r.srv, &st);
    assert_int_equal(st.accepted, 2 * NCLIENTS);
    assert_int_equal(st.rejected, 0);
    sk_server_close(r.srv);
    assert_int_equal(atomic_load(&closed), 2 * NCLIENTS);
    assert_int_equal(t_count_fds(), before);
}

int main(void)
{
    /* before any loop or thread: the knob is read once, at the first accept */
    setenv("SOCKKIT_URING_ACCEPT", "old-kernel", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kernel_refuses_accept),
        cmocka_unit_test(refused_accept_falls_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
