/* connect.c: create_connection semantics, timeouts, last error, source address, Happy Eyeballs. */
#include "sktest.h"

/* A listener that never completes a handshake: backlog 0 filled by one queued connection, so the
 * kernel drops further SYNs and a connect to it hangs until its timeout. */
struct stalled {
    int lfd, filler;
    sk_addr addr;
};

static void stalled_open(struct stalled *s, const char *ep)
{
    sk_listen_opts o = SK_LISTEN_OPTS_INIT(.backlog = 0);
    s->lfd = sk_listen(ep, &o);
    assert_true(s->lfd >= 0);
    /* listen(fd, 0) is clamped to 1 pending connection: fill it. */
    listen(s->lfd, 0);
    assert_int_equal(sk_sock_get_local_addr(s->lfd, &s->addr), 0);
    s->filler = sk_connect_addr(&s->addr, SOCK_STREAM, 2000);
    assert_true(s->filler >= 0);
}

static void stalled_close(struct stalled *s)
{
    close(s->filler);
    close(s->lfd);
}

static sk_addr refused_addr(const char *ep)
{
    /* bind a port, then close it: nobody listens there now */
    int fd = sk_listen(ep, NULL);
    sk_addr a;
    sk_sock_get_local_addr(fd, &a);
    close(fd);
    return a;
}

static void connects_v4_v6_unix(void **state)
{
    const char *eps[] = {"127.0.0.1:0", "[::1]:0", "unix:@sockkit-test-connect"};
    for (size_t i = 0; i < 3; i++) {
        int lfd = sk_listen(eps[i], NULL);
        assert_true(lfd >= 0);
        sk_addr a;
        sk_sock_get_local_addr(lfd, &a);
        char text[SK_ADDRSTRLEN];
        sk_addr_format(&a, text, sizeof text);
        int fd = sk_connect(text, 1000);
        if (fd < 0)
            fail_msg("connect %s: %s", text, sk_errmsg());
        /* a blocking, close-on-exec fd */
        assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        int afd = sk_accept(lfd, NULL, 1000);
        assert_true(afd >= 0);
        assert_int_equal(sk_send(fd, "ping", 4, 1000), 4);
        char buf[8];
        assert_int_equal(sk_recv_exact(afd, buf, 4, 1000, NULL), 0);
        assert_memory_equal(buf, "ping", 4);
        close(fd);
        close(afd);
        close(lfd);
    }
}

static void refused_keeps_context(void **state)
{
    sk_addr a = refused_addr("127.0.0.1:0");
    char text[SK_ADDRSTRLEN], want[SK_ADDRSTRLEN + 64];
    sk_addr_format(&a, text, sizeof text);
    assert_int_equal(sk_connect(text, 1000), -ECONNREFUSED);
    snprintf(want, sizeof want, "connect %s: Connection refused", text);
    assert_string_equal(sk_errmsg(), want);
}

static void timeout_fires(void **state)
{
    struct stalled s;
    stalled_open(&s, "127.0.0.1:0");
    int64_t t0 = t_now_ms();
    assert_int_equal(sk_connect_addr(&s.addr, SOCK_STREAM, 300), -ETIMEDOUT);
    assert_elapsed(t0, 290, 1000);
    assert_non_null(strstr(sk_errmsg(), "no answer within 300 ms"));
    stalled_close(&s);
}

static void tries_every_address_and_keeps_last_error(void **state)
{
    int port;
    int lfd = t_listener("127.0.0.1:0", &port);
    sk_addr good;
    sk_sock_get_local_addr(lfd, &good);
    sk_addr list[3] = {refused_addr("127.0.0.1:0"), refused_addr("127.0.0.1:0"), good};
    int fd = sk_connect_addrs(list, 3, NULL, 2000);
    assert_true(fd >= 0);
    sk_addr peer;
    sk_sock_get_peer_addr(fd, &peer);
    assert_true(sk_addr_equal(&peer, &good));
    close(fd);
    close(lfd);

    assert_int_equal(sk_connect_addrs(list, 2, NULL, 2000), -ECONNREFUSED);
    char want[SK_ADDRSTRLEN];
    sk_addr_format(&list[1], want, sizeof want);
    assert_non_null(strstr(sk_errmsg(), want)); /* the last address's error */
}

/* Happy Eyeballs: the IPv6 address stalls, the IPv4 one answers; the IPv4 attempt starts after
 * the 250 ms stagger and wins, well before the overall timeout. */
static void happy_eyeballs_falls_back(void **state)
{
    struct stalled s6;
    stalled_open(&s6, "[::1]:0");
    int port;
    int lfd = t_listener("127.0.0.1:0", &port);
    sk_addr v4;
    sk_sock_get_local_addr(lfd, &v4);
    sk_addr list[2] = {s6.addr, v4};

    int64_t t0 = t_now_ms();
    int fd = sk_connect_addrs(list, 2, NULL, 5000);
    assert_true(fd >= 0);
    assert_elapsed(t0, 240, 1500);
    sk_addr local;
    sk_sock_get_local_addr(fd, &local);
    assert_int_equal(sk_addr_family(&local), AF_INET);
    close(fd);

    /* Without Happy Eyeballs the stalled first address eats the whole timeout. */
    sk_connect_opts seq = SK_CONNECT_OPTS_INIT(.no_happy_eyeballs = true);
    t0 = t_now_ms();
    assert_int_equal(sk_connect_addrs(list, 2, &seq, 600), -ETIMEDOUT);
    assert_elapsed(t0, 590, 1500);

    close(lfd);
    stalled_close(&s6);
}

/* RFC 8305 section 4: families interleave. Two stalled IPv6 addresses then one good IPv4 one:
 * the second attempt is already the IPv4 one, so it wins after one stagger, not two. */
static void happy_eyeballs_interleaves(void **state)
{
    struct stalled a, b;
    stalled_open(&a, "[::1]:0");
    stalled_open(&b, "[::1]:0");
    int port;
    int lfd = t_listener("127.0.0.1:0", &port);
    sk_addr v4;
    sk_sock_get_local_addr(lfd, &v4);
    sk_addr list[3] = {a.addr, b.addr, v4};
    sk_connect_opts o = SK_CONNECT_OPTS_INIT(.attempt_delay_ms = 400);
    int64_t t0 = t_now_ms();
    int fd = sk_connect_addrs(list, 3, &o, 5000);
    assert_true(fd >= 0);
    assert_elapsed(t0, 390, 790); /* 800+ would mean the IPv4 address went third */
    close(fd);
    close(lfd);
    stalled_close(&a);
    stalled_close(&b);
}

static void source_address(void **state)
{
    int port;
    int lfd = t_listener("127.0.0.1:0", &port);
    char ep[64];
    snprintf(ep, sizeof ep, "127.0.0.1:%d", port);
    sk_connect_opts o = SK_CONNECT_OPTS_INIT(.source = "127.0.0.2:0");
    int fd = sk_connect_ex(ep, &o, 1000);
    assert_true(fd >= 0);
    sk_addr peer;
    int afd = sk_accept(lfd, &peer, 1000);
    assert_true(afd >= 0);
    char text[SK_ADDRSTRLEN];
    sk_addr_format(&peer, text, sizeof text);
    assert_true(!strncmp(text, "127.0.0.2:", 10));
    close(afd);
    close(fd);
    /* a source of the wrong family cannot be used */
    o.source = "[::1]:0";
    assert_int_equal(sk_connect_ex(ep, &o, 1000), SK_ENOADDR);
    assert_non_null(strstr(sk_errmsg(), "the source has no IPv4 address"));
    close(lfd);
}

static void udp_connect(void **state)
{
    sk_listen_opts lo = SK_LISTEN_OPTS_INIT(.type = SOCK_DGRAM);
    int srv = sk_listen("127.0.0.1:0", &lo);
    assert_true(srv >= 0);
    sk_addr a;
    sk_sock_get_local_addr(srv, &a);
    char text[SK_ADDRSTRLEN];
    sk_addr_format(&a, text, sizeof text);
    sk_connect_opts co = SK_CONNECT_OPTS_INIT(.type = SOCK_DGRAM);
    int fd = sk_connect_ex(text, &co, 1000);
    assert_true(fd >= 0);
    assert_int_equal(sk_send(fd, "dgram", 5, 1000), 5);
    char buf[16];
    sk_addr from, mine;
    assert_int_equal(sk_recvfrom(srv, buf, sizeof buf, &from, 1000), 5);
    sk_sock_get_local_addr(fd, &mine);
    assert_true(sk_addr_equal(&from, &mine));
    close(fd);
    close(srv);
}

static void bad_endpoints(void **state)
{
    assert_int_equal(sk_connect("[::1:80", 100), SK_EBRACKET);
    assert_int_equal(sk_connect("127.0.0.1:99999", 100), SK_EPORT);
    assert_int_equal(sk_connect("*:80", 100), SK_ENOHOST);
    assert_int_equal(sk_connect_addrs(NULL, 0, NULL, 100), SK_ENOADDR);
    assert_int_equal(sk_connect("unix:/nonexistent/sockkit.sock", 100), -ENOENT);
}

/* sk_connect_order: what `sockkit resolve` shows is the order connect_list uses. */
static void connect_order(void **state)
{
    const char *texts[] = {"[::1]:1", "[::2]:1", "127.0.0.1:1", "127.0.0.2:1", "[::3]:1"};
    sk_addr a[5];
    for (int i = 0; i < 5; i++)
        assert_int_equal(sk_addr_parse(texts[i], SK_RESOLVE_NUMERIC, &a[i]), 0);
    size_t order[5];
    assert_int_equal(sk_connect_order(a, 5, NULL, order), 1);
    size_t want[] = {0, 2, 1, 3, 4}; /* v6, v4, v6, v4, v6 */
    assert_memory_equal(order, want, sizeof want);
    sk_connect_opts o = SK_CONNECT_OPTS_INIT(.no_happy_eyeballs = true);
    assert_int_equal(sk_connect_order(a, 5, &o, order), 0);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(order[i], i);
    assert_int_equal(sk_connect_order(a + 2, 2, NULL, order), 0); /* one family */
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 1);
    assert_int_equal(sk_connect_order(a, 0, NULL, order), 0);
    assert_int_equal(sk_connect_order(NULL, 2, NULL, order), SK_EARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connects_v4_v6_unix),
        cmocka_unit_test(refused_keeps_context),
        cmocka_unit_test(timeout_fires),
        cmocka_unit_test(tries_every_address_and_keeps_last_error),
        cmocka_unit_test(happy_eyeballs_falls_back),
        cmocka_unit_test(happy_eyeballs_interleaves),
        cmocka_unit_test(source_address),
        cmocka_unit_test(udp_connect),
        cmocka_unit_test(bad_endpoints),
        cmocka_unit_test(connect_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
