/* cli/msg.c: the messages that say what to do, and who holds a port (from /proc, against sockets
 * this test opens itself). */
#include "sktest.h"

#include <sys/un.h>

#include "cli.h"

static void plural_and_rate(void **state)
{
    (void)state;
    assert_string_equal(cli_plural(1, "packet", "packets"), "packet");
    assert_string_equal(cli_plural(0, "packet", "packets"), "packets");
    assert_string_equal(cli_plural(2, "packet", "packets"), "packets");
    double r = -1;
    assert_false(cli_rate(1, 0.000001, &r)); /* one packet in a microsecond is not 1 Mpps */
    assert_true(r == 0);
    assert_false(cli_rate(5, 0, &r));
    assert_false(cli_rate(5, CLI_RATE_MIN_SECONDS / 2, &r));
    assert_true(cli_rate(50, 0.5, &r));
    assert_true(r == 100);
}

static int bound(int type, int *port)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    if (type == SOCK_STREAM)
        assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void port_owner(void **state)
{
    (void)state;
    char me[64], who[128];
    snprintf(me, sizeof me, "pid %d (", (int)getpid());
    int port, fd = bound(SOCK_STREAM, &port);
    assert_int_equal(cli_port_owner(port, SOCK_STREAM, who, sizeof who), 1);
    assert_non_null(strstr(who, me));
    assert_int_equal(cli_port_owner(port, SOCK_DGRAM, who, sizeof who), -1); /* TCP only */
    close(fd);
    assert_int_equal(cli_port_owner(port, SOCK_STREAM, who, sizeof who), -1);
    fd = bound(SOCK_DGRAM, &port);
    assert_int_equal(cli_port_owner(port, SOCK_DGRAM, who, sizeof who), 1);
    assert_non_null(strstr(who, me));
    close(fd);
}

static void unix_owner(void **state)
{
    (void)state;
    char name[64], who[128], me[64];
    snprintf(name, sizeof name, "sockkit-test-msg-%d", (int)getpid());
    snprintf(me, sizeof me, "pid %d (", (int)getpid());
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path + 1, name, strlen(name));
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
    assert_int_equal(bind(fd, (struct sockaddr *)&a, len), 0);
    assert_int_equal(listen(fd, 1), 0);
    char at[80];
    snprintf(at, sizeof at, "@%s", name);
    assert_int_equal(cli_unix_owner(at, who, sizeof who), 1);
    assert_non_null(strstr(who, me));
    close(fd);
    assert_int_equal(cli_unix_owner(at, who, sizeof who), -1);
}

static void explain(void **state)
{
    (void)state;
    char out[1024];
    /* the kernel's EINVAL for a link-local address without its interface: bad input */
    sk__fail(-EINVAL, "connect [fe80::1]:80");
    struct cli_where w = {.endpoint = "[fe80::1]:80"};
    assert_int_equal(cli_explain(-EINVAL, &w, out, sizeof out), SK_EIFACE);
    assert_non_null(
        strstr(out, "a link-local address needs its interface: add it, as in [fe80::1%"));
    assert_non_null(strstr(out, "]:80"));
    /* with a scope the EINVAL is the kernel's word alone */
    w.endpoint = "[fe80::1%1]:80";
    assert_int_equal(cli_explain(-EINVAL, &w, out, sizeof out), -EINVAL);
    assert_string_equal(out, "connect [fe80::1]:80: Invalid argument");
    /* a privileged port; not for a connect, not for a port above the limit */
    sk__fail(-EACCES, "bind 0.0.0.0:80");
    w = (struct cli_where){.endpoint = "0.0.0.0:80", .bind = true};
    assert_int_equal(cli_explain(-EACCES, &w, out, sizeof out), -EACCES);
    assert_non_null(strstr(out, "Permission denied: ports below "));
    assert_non_null(strstr(out, "CAP_NET_BIND_SERVICE"));
    w.bind = false;
    cli_explain(-EACCES, &w, out, sizeof out);
    assert_null(strstr(out, "CAP_NET_BIND_SERVICE"));
    w = (struct cli_where){.endpoint = "0.0.0.0:60000", .bind = true};
    cli_explain(-EACCES, &w, out, sizeof out);
    assert_null(strstr(out, "CAP_NET_BIND_SERVICE"));
    /* -6 with an IPv4 literal */
    sk__fail(SK_ENOADDR, "resolve '127.0.0.1:80'");
    w = (struct cli_where){.endpoint = "127.0.0.1:80", .family = AF_INET6};
    assert_int_equal(cli_explain(SK_ENOADDR, &w, out, sizeof out), SK_ENOADDR);
    assert_string_equal(out, "127.0.0.1 is an IPv4 address, and -6 asks for IPv6: leave out -6");
}

static void in_use(void **state)
{
    (void)state;
    char out[1024], ep[64];
    int port, fd = bound(SOCK_STREAM, &port);
    snprintf(ep, sizeof ep, "127.0.0.1:%d", port);
    sk__fail(-EADDRINUSE, "bind %s", ep);
    struct cli_where w = {.endpoint = ep, .bind = true, .keep = "-k"};
    cli_explain(-EADDRINUSE, &w, out, sizeof out);
    char want[128];
    snprintf(want, sizeof want, ": TCP port %d is held by pid %d (", port, (int)getpid());
    assert_non_null(strstr(out, want));
    assert_null(strstr(out, "-k")); /* the holder is not sockkit */
    assert_null(strchr(out, '\n'));
    close(fd);
    /* nobody holds it: the command that shows who does */
    cli_explain(-EADDRINUSE, &w, out, sizeof out);
    snprintf(want, sizeof want, "\"ss -ltnp 'sport = :%d'\"", port);
    assert_non_null(strstr(out, want));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plural_and_rate), cmocka_unit_test(port_owner),
        cmocka_unit_test(unix_owner),      cmocka_unit_test(explain),
        cmocka_unit_test(in_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
