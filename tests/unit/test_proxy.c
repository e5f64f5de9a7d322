/* proxy.c: the SOCKS5 and HTTP CONNECT handshakes as byte vectors. The requests are checked byte
 * for byte; replies are fed whole and one byte at a time (the result must not depend on how the
 * bytes arrive); the machine never consumes past the reply, and refusals and malformed replies
 * fail with the code and a message that quotes the proxy. */
#include "sktest.h"

static sk_proxy *make(const char *target, sk_proxy_kind kind, const char *user, const char *pw)
{
    sk_proxy *p = NULL;
    sk_proxy_opts o = SK_PROXY_OPTS_INIT(.kind = kind, .user = user, .password = pw);
    assert_int_equal(sk_proxy_new(&p, target, &o), 0);
    assert_non_null(p);
    return p;
}

/* Take all pending output, compare it with want. */
static void expect_output(sk_proxy *p, const void *want, size_t n)
{
    const void *d;
    size_t got = sk_proxy_output(p, &d);
    assert_int_equal(got, n);
    assert_memory_equal(d, want, n);
    assert_int_equal(sk_proxy_sent(p, got), 0);
    assert_int_equal(sk_proxy_output(p, &d), 0);
}

/* Feed bytes as they would arrive (whole, or one at a time), sending the requests the machine
 * queues on the way as a caller must; returns the last result and the bytes used in all. */
static int feed(sk_proxy *p, const void *data, size_t n, bool bytewise, size_t *used)
{
    int rc = SK_PROXY_MORE;
    size_t off = 0;
    while (off < n) {
        size_t u;
        assert_int_equal(sk_proxy_sent(p, sk_proxy_output(p, NULL)), 0);
        rc = sk_proxy_input(p, (const char *)data + off, bytewise ? 1 : n - off, &u);
        off += u;
        if (rc != SK_PROXY_MORE)
            break;
        assert_true(u > 0);
    }
    *used = off;
    return rc;
}

static int feed_bytewise(sk_proxy *p, const void *data, size_t n, size_t *used)
{
    return feed(p, data, n, true, used);
}

static void socks5_no_auth_by_name(void **state)
{
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        sk_proxy *p = make("example.org:443", SK_PROXY_SOCKS5, NULL, NULL);
        expect_output(p, "\x05\x01\x00", 3);
        assert_string_equal(sk_proxy_waiting_for(p), "the SOCKS5 method choice");
        size_t used;
        assert_int_equal(sk_proxy_input(p, "\x05\x00", 2, &used), SK_PROXY_MORE);
        assert_int_equal(used, 2);
        expect_output(p,
                      "\x05\x01\x00\x03\x0b"
                      "example.org\x01\xbb",
                      5 + 11 + 2);
        /* the reply (bound address a name) and then the tunnel's first bytes */
        static const char reply[] = "\x05\x00\x00\x03\x04host\x12\x34TUNNEL";
        size_t n = sizeof reply - 1;
        int rc = feed(p, reply, n, bytewise, &used);
        assert_int_equal(rc, SK_PROXY_DONE);
        assert_int_equal(used, n - 6); /* "TUNNEL" is not the proxy's */
        assert_int_equal(sk_proxy_input(p, "x", 1, &used), SK_PROXY_DONE);
        assert_int_equal(used, 0);
        sk_proxy_free(p);
    }
}

static void socks5_literals_go_as_addresses(void **state)
{
    sk_proxy *p = make("192.0.2.7:80", SK_PROXY_SOCKS5, NULL, NULL);
    expect_output(p, "\x05\x01\x00", 3);
    assert_int_equal(sk_proxy_input(p, "\x05\x00", 2, NULL), SK_PROXY_MORE);
    expect_output(p, "\x05\x01\x00\x01\xc0\x00\x02\x07\x00\x50", 10);
    assert_int_equal(sk_proxy_input(p, "\x05\x00\x00\x04", 4, NULL), SK_PROXY_MORE);
    char v6reply[16 + 2] = {0};
    assert_int_equal(sk_proxy_input(p, v6reply, 17, NULL), SK_PROXY_MORE);
    assert_int_equal(sk_proxy_input(p, v6reply, 1, NULL), SK_PROXY_DONE);
    sk_proxy_free(p);

    p = make("[2001:db8::1]:8080", SK_PROXY_SOCKS5, NULL, NULL);
    assert_int_equal(sk_proxy_sent(p, 3), 0);
    assert_int_equal(sk_proxy_input(p, "\x05\x00", 2, NULL), SK_PROXY_MORE);
    const unsigned char *d;
    assert_int_equal(sk_proxy_output(p, (const void **)&d), 4 + 16 + 2);
    assert_memory_equal(d, "\x05\x01\x00\x04\x20\x01\x0d\xb8", 8);
    assert_memory_equal(d + 20, "\x1f\x90", 2);
    sk_proxy_free(p);
}

static void socks5_username_password(void **state)
{
    sk_proxy *p = make("h:1", SK_PROXY_SOCKS5, "alice", "pw");
    expect_output(p, "\x05\x02\x00\x02", 4);
    assert_int_equal(sk_proxy_input(p, "\x05\x02", 2, NULL), SK_PROXY_MORE);
    expect_output(p,
                  "\x01\x05"
                  "alice\x02"
                  "pw",
                  10);
    assert_string_equal(sk_proxy_waiting_for(p), "the SOCKS5 username/password answer");
    assert_int_equal(sk_proxy_input(p, "\x01\x00", 2, NULL), SK_PROXY_MORE);
    expect_output(p, "\x05\x01\x00\x03\x01h\x00\x01", 8);
    assert_int_equal(sk_proxy_input(p, "\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00", 10, NULL),
                     SK_PROXY_DONE);
    sk_proxy_free(p);

    /* the proxy may choose "no authentication" even when credentials are offered */
    p = make("h:1", SK_PROXY_SOCKS5, "alice", NULL);
    assert_int_equal(sk_proxy_sent(p, 4), 0);
    assert_int_equal(sk_proxy_input(p, "\x05\x00", 2, NULL), SK_PROXY_MORE);
    assert_int_equal(sk_proxy_output(p, NULL), 8);
    sk_proxy_free(p);

    p = make("h:1", SK_PROXY_SOCKS5, "alice", "bad");
    assert_int_equal(sk_proxy_input(p, "\x05\x02", 2, NULL), SK_PROXY_MORE);
    assert_int_equal(sk_proxy_input(p, "\x01\x01", 2, NULL), SK_EPROXY);
    assert_non_null(strstr(sk_errmsg(), "username/password authentication failed (status 1)"));
    sk_proxy_free(p);
}

struct bad_reply {
    const char *bytes;
    size_t n;
    int code;
    const char *says;
};

static void socks5_refusals_and_malformed_replies(void **state)
{
    static const struct bad_reply cases[] = {
        {"\x05\x00\x05\x05", 4, SK_EPROXY, "reply 5: Connection refused (target 10.0.0.1:9)"},
        {"\x05\x00\x05\x01", 4, SK_EPROXY, "reply 1: general SOCKS server failure"},
        {"\x05\x00\x05\x02", 4, SK_EPROXY, "reply 2: connection not allowed by ruleset"},
        {"\x05\x00\x05\x04", 4, SK_EPROXY, "reply 4: Host unreachable"},
        {"\x05\x00\x05\x09", 4, SK_EPROXY, "reply 9: unassigned code"},
        {"\x05\xff", 2, SK_EPROXY, "accepts none of the authentication methods"},
        {"\x04", 1, SK_EPROXYREPLY, "not SOCKS version 5"}, /* at once: no wait for byte 2 */
        {"H", 1, SK_EPROXYREPLY, "is it a SOCKS5 proxy?"},
        {"\x05\x02", 2, SK_EPROXYREPLY, "method 2, which was not offered"},
        {"\x05\x01", 2, SK_EPROXYREPLY, "method 1, which was not offered"},
        {"\x05\x00\x04", 3, SK_EPROXYREPLY, "reply version 4, not 5"},
        {"\x05\x00\x05\x00\x00\x02", 6, SK_EPROXYREPLY, "reply address type 2"},
        {"\x05\x00\x05\x00\x00\x00", 6, SK_EPROXYREPLY, "reply address type 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        for (int bytewise = 0; bytewise < 2; bytewise++) {
            sk_proxy *p = make("10.0.0.1:9", SK_PROXY_SOCKS5, NULL, NULL);
            size_t used;
            int rc = feed(p, cases[i].bytes, cases[i].n, bytewise, &used);
            if (rc != cases[i].code || !strstr(sk_errmsg(), cases[i].says))
                fail_msg("case %zu: %d '%s'", i, rc, sk_errmsg());
            assert_int_equal(used, cases[i].n); /* failed at the last byte, not later */
            /* failed stays failed; nothing more to send */
            assert_int_equal(sk_proxy_input(p, "\x05", 1, NULL), cases[i].code);
            assert_int_equal(sk_proxy_output(p, NULL), 0);
            sk_proxy_free(p);
        }
    }
}

static void socks5_truncated_reply_wants_more(void **state)
{
    sk_proxy *p = make("10.0.0.1:9", SK_PROXY_SOCKS5, NULL, NULL);
    size_t used;
    assert_int_equal(feed(p, "\x05\x00\x05\x00\x00\x03\xff", 7, false, &used), SK_PROXY_MORE);
    assert_int_equal(used, 7);
    char name[255 + 1] = {0}; /* 255 name bytes and the first port byte */
    assert_int_equal(sk_proxy_input(p, name, sizeof name, NULL), SK_PROXY_MORE);
    assert_string_equal(sk_proxy_waiting_for(p), "the SOCKS5 reply to CONNECT");
    assert_int_equal(sk_proxy_input(p, "\x00", 1, NULL), SK_PROXY_DONE);
    sk_proxy_free(p);
}

static void http_connect_request(void **state)
{
    sk_proxy *p = make("example.org:443", SK_PROXY_HTTP, NULL, NULL);
    static const char want[] = "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n";
    expect_output(p, want, sizeof want - 1);
    sk_proxy_free(p);

    p = make("[::1]:https", SK_PROXY_HTTP, "Aladdin", "open sesame");
    static const char want2[] = "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n"
                                "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n";
    expect_output(p, want2, sizeof want2 - 1);
    sk_proxy_free(p);

    p = make("h:1", SK_PROXY_HTTP, "a", ""); /* base64 padding of 2 bytes: "a:" */
    const char *d;
    size_t n = sk_proxy_output(p, (const void **)&d);
    assert_non_null(memmem(d, n, "Basic YTo=\r\n", 12));
    sk_proxy_free(p);
}

static void http_replies(void **state)
{
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        sk_proxy *p = make("h:1", SK_PROXY_HTTP, NULL, NULL);
        static const char reply[] = "HTTP/1.1 100 Continue\r\n\r\n"
                                    "HTTP/1.0 200 Connection established\r\nVia: x\r\n\r\nDATA";
        size_t used, n = sizeof reply - 1;
        int rc = feed(p, reply, n, bytewise, &used);
        assert_int_equal(rc, SK_PROXY_DONE);
        assert_int_equal(used, n - 4);
        sk_proxy_free(p);
    }
    /* bare LF line ends (RFC 9112 section 2.2) */
    sk_proxy *lf = make("h:1", SK_PROXY_HTTP, NULL, NULL);
    size_t lfused;
    assert_int_equal(feed(lf, "HTTP/1.0 200 OK\nA: b\n\nX", 23, true, &lfused), SK_PROXY_DONE);
    assert_int_equal(lfused, 22);
    sk_proxy_free(lf);
    static const struct bad_reply cases[] = {
        {"HTTP/1.0 403 Forbidden\n\n", 0, SK_EPROXY, "answered 'HTTP/1.0 403 Forbidden'"},
        {"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", 47, SK_EPROXY,
         "answered 'HTTP/1.1 407 Proxy Authentication Required' (target h:1)"},
        {"HTTP/1.1 503 Service Unavailable\r\nX: y\r\n\r\n", 42, SK_EPROXY,
         "'HTTP/1.1 503 Service Unavailable'"},
        {"HTTP/1.1 302\r\n\r\n", 16, SK_EPROXY, "answered 'HTTP/1.1 302'"},
        {"HTTP/2 200\r\n\r\n", 14, SK_EPROXYREPLY, "bad status line 'HTTP/2 200'"},
        {"HTTP/1.1 20 OK\r\n\r\n", 18, SK_EPROXYREPLY, "bad status line"},
        {"HTTP/1.1 200OK\r\n\r\n", 18, SK_EPROXYREPLY, "bad status line"},
        {"SSH-2.0", 7, SK_EPROXYREPLY, "starts with 'S', not 'HTTP/'"},
        {"\x05\x00", 2, SK_EPROXYREPLY, "starts with '\\x05', not 'HTTP/'"},
        {"HTTP/1.1 503 \x01\x7f\r\n\r\n", 19, SK_EPROXY, "'HTTP/1.1 503 \\x01\\x7f'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sk_proxy *p = make("h:1", SK_PROXY_HTTP, NULL, NULL);
        size_t used;
        int rc = feed_bytewise(p, cases[i].bytes, strlen(cases[i].bytes), &used);
        if (rc != cases[i].code || !strstr(sk_errmsg(), cases[i].says))
            fail_msg("case %zu: %d '%s'", i, rc, sk_errmsg());
        sk_proxy_free(p);
    }
}

static void http_header_limit(void **state)
{
    sk_proxy *p = make("h:1", SK_PROXY_HTTP, NULL, NULL);
    char *big = malloc(SK_PROXY_HEADER_MAX + 10);
    memset(big, 'a', SK_PROXY_HEADER_MAX + 10);
    memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
    size_t used;
    assert_int_equal(sk_proxy_input(p, big, SK_PROXY_HEADER_MAX + 10, &used), SK_EPROXYREPLY);
    assert_int_equal(used, SK_PROXY_HEADER_MAX); /* stopped at the limit, read nothing past it */
    assert_non_null(strstr(sk_errmsg(), "longer than 8192 bytes"));
    sk_proxy_free(p);

    /* exactly at the limit is still a header */
    p = make("h:1", SK_PROXY_HTTP, NULL, NULL);
    memcpy(big + SK_PROXY_HEADER_MAX - 4, "\r\n\r\n", 4);
    assert_int_equal(sk_proxy_input(p, big, SK_PROXY_HEADER_MAX + 10, &used), SK_PROXY_DONE);
    assert_int_equal(used, SK_PROXY_HEADER_MAX);
    sk_proxy_free(p);
    free(big);
}

static void refuses_what_the_protocols_cannot_carry(void **state)
{
    sk_proxy *p = (sk_proxy *)1;
    sk_proxy_opts o = SK_PROXY_OPTS_INIT(.kind = SK_PROXY_HTTP, .user = "a:b");
    assert_int_equal(sk_proxy_new(&p, "h:1", &o), SK_EARG);
    assert_null(p);
    char longname[300];
    memset(longname, 'a', sizeof longname);
    snprintf(longname + 256, 44, ":80");
    o = (sk_proxy_opts)SK_PROXY_OPTS_INIT(.user = longname);
    assert_int_equal(sk_proxy_new(&p, "h:1", &o), SK_EARG);
    o = (sk_proxy_opts)SK_PROXY_OPTS_INIT(.user = "");
    assert_int_equal(sk_proxy_new(&p, "h:1", &o), SK_EARG);
    assert_true(sk_proxy_new(&p, "h", NULL) < 0);
    assert_int_equal(sk_proxy_new(&p, "h:0", NULL), SK_EPORT);
    assert_int_equal(sk_proxy_new(&p, "unix:/x", NULL), SK_EARG);
    assert_int_equal(sk_proxy_new(&p, "[fe80::1%lo]:80", NULL), SK_EARG);
    assert_int_equal(sk_proxy_new(&p, "h:no-such-service-here", NULL), SK_ESERVICE);
    o = (sk_proxy_opts)SK_PROXY_OPTS_INIT(.kind = (sk_proxy_kind)7);
    assert_int_equal(sk_proxy_new(&p, "h:1", &o), SK_EARG);
    sk_proxy_opts zero = {0};
    assert_int_equal(sk_proxy_new(&p, "h:1", &zero), SK_EARG);
    sk_proxy_free(NULL);
}

static void a_reply_before_its_request_waits_for_the_request(void **state)
{
    sk_proxy *p = make("h:1", SK_PROXY_SOCKS5, NULL, NULL);
    assert_int_equal(sk_proxy_sent(p, 3), 0);
    size_t used;
    static const char both[] = "\x05\x00\x05\x00\x00\x01\0\0\0\0\0\0";
    assert_int_equal(sk_proxy_input(p, both, 12, &used), SK_PROXY_MORE);
    assert_int_equal(used, 2); /* the rest answers the request not yet sent */
    assert_int_equal(sk_proxy_output(p, NULL), 8);
    assert_int_equal(sk_proxy_sent(p, 8), 0);
    assert_int_equal(sk_proxy_input(p, both + 2, 10, &used), SK_PROXY_DONE);
    assert_int_equal(used, 10);
    sk_proxy_free(p);
}

static void sent_more_than_pending_is_refused(void **state)
{
    sk_proxy *p = make("h:1", SK_PROXY_SOCKS5, NULL, NULL);
    assert_int_equal(sk_proxy_sent(p, 4), SK_EARG);
    assert_int_equal(sk_proxy_sent(p, 1), 0);
    const char *d;
    assert_int_equal(sk_proxy_output(p, (const void **)&d), 2);
    assert_memory_equal(d, "\x01\x00", 2);
    sk_proxy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(socks5_no_auth_by_name),
        cmocka_unit_test(socks5_literals_go_as_addresses),
        cmocka_unit_test(socks5_username_password),
        cmocka_unit_test(socks5_refusals_and_malformed_replies),
        cmocka_unit_test(socks5_truncated_reply_wants_more),
        cmocka_unit_test(http_connect_request),
        cmocka_unit_test(http_replies),
        cmocka_unit_test(http_header_limit),
        cmocka_unit_test(refuses_what_the_protocols_cannot_carry),
        cmocka_unit_test(a_reply_before_its_request_waits_for_the_request),
        cmocka_unit_test(sent_more_than_pending_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
