/* listen.c: create_server semantics (reuseaddr, backlog, dual-stack, v6only), Unix paths and
 * abstract names, accept with a deadline and the peer address. */
#include "sktest.h"

#include <sys/stat.h>

static void port_zero_and_reuseaddr(void **state)
{
    int port;
    int fd = t_listener("127.0.0.1:0", &port);
    assert_true(port > 0);
    int v = 0;
    socklen_t len = sizeof v;
    getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, &len);
    assert_int_equal(v, 1); /* on by default, as Python's create_server */
    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len);
    assert_int_equal(v, 1);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);

    sk_listen_opts o = SK_LISTEN_OPTS_INIT(.no_reuseaddr = true);
    fd = sk_listen("127.0.0.1:0", &o);
    getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, &len);
    assert_int_equal(v, 0);
    close(fd);
}

static void address_in_use(void **state)
{
    int port;
    int fd = t_listener("127.0.0.1:0", &port);
    char ep[64], want[128];
    snprintf(ep, sizeof ep, "127.0.0.1:%d", port);
    assert_int_equal(sk_listen(ep, NULL), -EADDRINUSE);
    snprintf(want, sizeof want, "bind %s: Address already in use", ep);
    assert_string_equal(sk_errmsg(), want);
    close(fd);
}

static void any_host_and_dualstack(void **state)
{
    /* "*:0" with family AF_INET is 0.0.0.0 */
    sk_listen_opts v4 = SK_LISTEN_OPTS_INIT(.family = AF_INET);
    int fd = sk_listen("*:0", &v4);
    sk_addr a;
    sk_sock_get_local_addr(fd, &a);
    assert_int_equal(sk_addr_family(&a), AF_INET);
    assert_true(sk_addr_is_any(&a));
    close(fd);

    /* of no family: one [::] socket that takes IPv4 too (the rule the CLI had, now the
     * library's) */
    fd = sk_listen(":0", NULL);
    assert_true(fd >= 0);
    sk_sock_get_local_addr(fd, &a);
    assert_int_equal(sk_addr_family(&a), AF_INET6);
    char ep[64];
    snprintf(ep, sizeof ep, "127.0.0.1:%d", sk_addr_port(&a));
    int c = sk_connect(ep, 1000); /* IPv4 reaches the [::] socket */
    assert_true(c >= 0);
    sk_addr peer;
    int afd = sk_accept(fd, &peer, 1000);
    assert_true(afd >= 0);
    char text[SK_ADDRSTRLEN];
    sk_addr_format(&peer, text, sizeof text);
    assert_true(!strncmp(text, "[::ffff:127.0.0.1]:", 19));
    close(afd);
    close(c);
    close(fd);

    /* without dual-stack an IPv6 listener is IPv6-only */
    fd = sk_listen("[::]:0", NULL);
    sk_sock_get_local_addr(fd, &a);
    snprintf(ep, sizeof ep, "127.0.0.1:%d", sk_addr_port(&a));
    int v = 0;
    socklen_t len = sizeof v;
    getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, &len);
    assert_int_equal(v, 1);
    assert_int_equal(sk_connect(ep, 1000), -ECONNREFUSED);
    close(fd);
}

/* A parsed endpoint is used as it is: listen, resolve and connect take one. */
static void parsed_endpoints(void **state)
{
    sk_endpoint ep;
    assert_int_equal(sk_endpoint_parse("127.0.0.1:0", &ep), 0);
    int fd = sk_listen_endpoint(&ep, NULL);
    assert_true(fd >= 0);
    sk_addr a;
    sk_sock_get_local_addr(fd, &a);
    char text[64];
    sk_addr_format(&a, text, sizeof text);
    sk_endpoint to;
    assert_int_equal(sk_endpoint_parse(text, &to), 0);
    sk_addr_list l;
    assert_int_equal(sk_resolve_endpoint(&to, AF_UNSPEC, SOCK_STREAM, SK_RESOLVE_NUMERIC, &l), 0);
    assert_int_equal(l.n, 1);
    assert_true(sk_addr_equal(&l.v[0], &a));
    sk_addr_list_free(&l);
    int c = sk_connect_endpoint(&to, NULL, 1000);
    assert_true(c >= 0);
    close(c);
    close(fd);
    /* messages name the endpoint as it would be written */
    assert_int_equal(sk_endpoint_parse(":9", &to), 0);
    assert_int_equal(sk_connect_endpoint(&to, NULL, 1000), SK_ENOHOST);
    assert_non_null(strstr(sk_errmsg(), "':9'"));
}

static void accept_timeout_and_peer(void **state)
{
    int port;
    int lfd = t_listener("127.0.0.1:0", &port);
    int64_t t0 = t_now_ms();
    assert_int_equal(sk_accept(lfd, NULL, 200), -ETIMEDOUT);
    assert_elapsed(t0, 190, 800);
    assert_non_null(strstr(sk_errmsg(), "accept fd"));
    assert_int_equal(sk_accept(lfd, NULL, 0), -ETIMEDOUT);

    char ep[64];
    snprintf(ep, sizeof ep, "127.0.0.1:%d", port);
    int c = sk_connect(ep, 1000);
    sk_addr peer, mine;
    int afd = sk_accept(lfd, &peer, 1000);
    assert_true(afd >= 0);
    assert_true(fcntl(afd, F_GETFD) & FD_CLOEXEC);
    assert_false(fcntl(afd, F_GETFL) & O_NONBLOCK);
    sk_sock_get_local_addr(c, &mine);
    assert_true(sk_addr_equal(&peer, &mine));
    close(afd);
    close(c);
    close(lfd);
}

static void unix_path_and_stale_file(void **state)
{
    char path[64], ep[80];
    snprintf(path, sizeof path, "/tmp/sockkit-test-%d.sock", getpid());
    snprintf(ep, sizeof ep, "unix:%s", path);
    unlink(path);
    int fd = sk_listen(ep, NULL);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    /* a second server on a live socket fails even with unlink_stale */
    sk_listen_opts o = SK_LISTEN_OPTS_INIT(.unlink_stale = true);
    assert_int_equal(sk_listen(ep, &o), -EADDRINUSE);
    close(fd); /* the file stays behind: stale */
    assert_int_equal(sk_listen(ep, NULL), -EADDRINUSE);
    fd = sk_listen(ep, &o);
    assert_true(fd >= 0);
    int c = sk_connect(ep, 1000);
    assert_true(c >= 0);
    close(c);
    close(fd);
    unlink(path);
}

static void abstract_and_datagram(void **state)
{
    char ep[64];
    snprintf(ep, sizeof ep, "unix:@sockkit-test-%d", getpid());
    int fd = sk_listen(ep, NULL);
    assert_true(fd >= 0);
    sk_addr a;
    sk_sock_get_local_addr(fd, &a);
    char text[SK_ADDRSTRLEN];
    sk_addr_format(&a, text, sizeof text);
    assert_string_equal(text, ep);
    close(fd);

    sk_listen_opts o = SK_LISTEN_OPTS_INIT(.type = SOCK_DGRAM);
    fd = sk_listen("127.0.0.1:0", &o);
    assert_true(fd >= 0);
    int type = 0, v = 1;
    socklen_t len = sizeof type;
    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
    assert_int_equal(type, SOCK_DGRAM);
    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len);
    assert_int_equal(v, 0); /* bound, not listening */
    close(fd);
}

static void reuseport_pair(void **state)
{
    sk_listen_opts o = SK_LISTEN_OPTS_INIT(.reuseport = true);
    int a = sk_listen("127.0.0.1:0", &o);
    assert_true(a >= 0);
    sk_addr addr;
    sk_sock_get_local_addr(a, &addr);
    char ep[64];
    sk_addr_format(&addr, ep, sizeof ep);
    int b = sk_listen(ep, &o); /* a second listener on the same port */
    assert_true(b >= 0);
    close(a);
    close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(port_zero_and_reuseaddr), cmocka_unit_test(address_in_use),
        cmocka_unit_test(any_host_and_dualstack),  cmocka_unit_test(parsed_endpoints),
        cmocka_unit_test(accept_timeout_and_peer), cmocka_unit_test(unix_path_and_stale_file),
        cmocka_unit_test(abstract_and_datagram),   cmocka_unit_test(reuseport_pair),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
