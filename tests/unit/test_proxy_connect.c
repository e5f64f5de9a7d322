/* proxy_connect.c: the blocking handshake over a socketpair whose other end plays the proxy (its
 * replies written ahead), and sk_connect_via against a loopback listener. The fd's next bytes
 * after the handshake are the tunnel's (nothing past the reply is read); a stall ends at the
 * deadline, an early close is SK_EEOF, and the messages name the proxy. */
#include "sktest.h"

#include <sys/wait.h>

static void pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void reads_nothing_past_the_reply(void **state)
{
    int sv[2];
    pair(sv);
    static const char replies[] = "\x05\x00"
                                  "\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x50"
                                  "EXTRA";
    assert_int_equal(write(sv[1], replies, sizeof replies - 1), (ssize_t)sizeof replies - 1);
    assert_int_equal(sk_proxy_handshake(sv[0], "192.0.2.1:80", NULL, 5000), 0);
    char req[64];
    assert_int_equal(read(sv[1], req, sizeof req), 3 + 10);
    assert_memory_equal(req, "\x05\x01\x00\x05\x01\x00\x01\xc0\x00\x02\x01\x00\x50", 13);
    char rest[16];
    assert_int_equal(recv(sv[0], rest, sizeof rest, MSG_DONTWAIT), 5);
    assert_memory_equal(rest, "EXTRA", 5);
    close(sv[0]);
    close(sv[1]);
}

static void http_reply_across_writes(void **state)
{
    int sv[2];
    pair(sv);
    assert_int_equal(write(sv[1], "HTTP/1.1 200 OK\r", 16), 16);
    assert_int_equal(write(sv[1], "\n\r\nafter", 8), 8);
    sk_proxy_opts o = SK_PROXY_OPTS_INIT(.kind = SK_PROXY_HTTP);
    assert_int_equal(sk_proxy_handshake(sv[0], "h:1", &o, 5000), 0);
    char rest[16];
    assert_int_equal(recv(sv[0], rest, sizeof rest, MSG_DONTWAIT), 5);
    assert_memory_equal(rest, "after", 5);
    close(sv[0]);
    close(sv[1]);
}

static void stall_ends_at_the_deadline(void **state)
{
    int sv[2];
    pair(sv);
    assert_int_equal(write(sv[1], "\x05", 1), 1); /* half a method reply, then nothing */
    int64_t t0 = t_now_ms();
    assert_int_equal(sk_proxy_handshake(sv[0], "h:1", NULL, 300), -ETIMEDOUT);
    assert_elapsed(t0, 250, 5000);
    assert_non_null(strstr(sk_errmsg(), "no answer within 300 ms (waiting for the SOCKS5 method"));
    close(sv[0]);
    close(sv[1]);
}

static void early_close_is_eof(void **state)
{
    int sv[2];
    pair(sv);
    assert_int_equal(write(sv[1], "\x05\x00\x05\x00", 4), 4);
    shutdown(sv[1], SHUT_WR);
    assert_int_equal(sk_proxy_handshake(sv[0], "h:1", NULL, 5000), SK_EEOF);
    assert_non_null(strstr(sk_errmsg(), "closed the connection while the SOCKS5 reply to CONNECT"));
    close(sv[0]);
    close(sv[1]);
}

static void connect_via_names_the_proxy(void **state)
{
    /* a port with no listener: the failure is connecting to the proxy */
    int l = sk_listen("127.0.0.1:0", NULL);
    assert_true(l >= 0);
    sk_addr a;
    sk_sock_get_local_addr(l, &a);
    char ep[64];
    snprintf(ep, sizeof ep, "127.0.0.1:%u", sk_addr_port(&a));
    sk_close(l);
    assert_int_equal(sk_connect_via(ep, "h:1", NULL, NULL, 2000), -ECONNREFUSED);
    assert_non_null(strstr(sk_errmsg(), "SOCKS5 proxy 127.0.0.1:"));

    /* a listener that answers the greeting with a refusal, written ahead into its backlog */
    l = sk_listen(ep, NULL);
    assert_true(l >= 0);
    int pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int c = accept(l, NULL, NULL);
        char buf[64];
        if (read(c, buf, 3) != 3 || write(c, "\x05\x00", 2) != 2 || read(c, buf, 8) != 8 ||
            write(c, "\x05\x05\x00\x01\0\0\0\0\0\0", 10) != 10)
            _exit(1);
        _exit(0);
    }
    sk_proxy_opts o = SK_PROXY_OPTS_INIT(.kind = SK_PROXY_SOCKS5);
    assert_int_equal(sk_connect_via(ep, "h:1", &o, NULL, 5000), SK_EPROXY);
    char want[128];
    snprintf(want, sizeof want, "SOCKS5 proxy %s: reply 5: Connection refused (target h:1)", ep);
    assert_string_equal(sk_errmsg(), want);
    int st;
    waitpid(pid, &st, 0);
    assert_int_equal(st, 0);
    sk_close(l);
    /* a bad target fails before any connection */
    assert_int_equal(sk_connect_via(ep, "h:0", NULL, NULL, 1000), SK_EPORT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_nothing_past_the_reply), cmocka_unit_test(http_reply_across_writes),
        cmocka_unit_test(stall_ends_at_the_deadline),   cmocka_unit_test(early_close_is_eof),
        cmocka_unit_test(connect_via_names_the_proxy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
