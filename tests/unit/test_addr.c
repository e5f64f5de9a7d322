/* addr.c: endpoint parsing, resolution, formatting, and every parse error. */
#include "sktest.h"

#include <net/if.h>
#include <netdb.h>

static void parse_forms(void **state)
{
    sk_endpoint ep;
    assert_int_equal(sk_endpoint_parse("localhost:8080", &ep), 0);
    assert_string_equal(ep.host, "localhost");
    assert_string_equal(ep.service, "8080");
    assert_false(ep.any_host || ep.is_unix);

    assert_int_equal(sk_endpoint_parse("1.2.3.4:80", &ep), 0);
    assert_string_equal(ep.host, "1.2.3.4");

    assert_int_equal(sk_endpoint_parse("[::1]:80", &ep), 0);
    assert_string_equal(ep.host, "::1");
    assert_string_equal(ep.service, "80");

    assert_int_equal(sk_endpoint_parse("[fe80::1%lo]:80", &ep), 0);
    assert_string_equal(ep.host, "fe80::1");
    assert_string_equal(ep.scope, "lo");

    assert_int_equal(sk_endpoint_parse(":8080", &ep), 0);
    assert_true(ep.any_host);
    assert_int_equal(sk_endpoint_parse("*:8080", &ep), 0);
    assert_true(ep.any_host);

    assert_int_equal(sk_endpoint_parse("unix:/tmp/x.sock", &ep), 0);
    assert_true(ep.is_unix);
    assert_false(ep.abstract);
    assert_string_equal(ep.path, "/tmp/x.sock");

    assert_int_equal(sk_endpoint_parse("unix:@name", &ep), 0);
    assert_true(ep.is_unix && ep.abstract);
    assert_string_equal(ep.path, "name");

    assert_int_equal(sk_endpoint_parse("localhost:http", &ep), 0);
    assert_string_equal(ep.service, "http");
    assert_int_equal(sk_endpoint_parse("127.0.0.1:65535", &ep), 0);
    assert_int_equal(sk_endpoint_parse("127.0.0.1:0", &ep), 0);
}

struct bad {
    const char *text;
    int code;
    const char *needle; /* expected in sk_errmsg() */
};

static void parse_errors(void **state)
{
    char longpath[200] = "unix:/";
    memset(longpath + 6, 'a', 150);
    char longabs[200] = "unix:@";
    memset(longabs + 6, 'b', 120);
    const struct bad cases[] = {
        {"127.0.0.1:99999", SK_EPORT, "port '99999'"},
        {"127.0.0.1:65536", SK_EPORT, "65536"},
        {"127.0.0.1:-1", SK_EPORT, "-1"},
        {"127.0.0.1:80x", SK_EPORT, "80x"},
        {"127.0.0.1:", SK_EPORT, "missing port"},
        {"127.0.0.1", SK_EPORT, "missing ':port'"},
        {"[::1:80", SK_EBRACKET, "'[' without ']'"},
        {"::1]:80", SK_EBRACKET, "']' without '['"},
        {"[]:80", SK_ENOHOST, "empty host"},
        {"[::1]80", SK_EPARSE, "expected ':port'"},
        {"[::1]", SK_EPORT, "expected ':port'"},
        {"::1:80", SK_EPARSE, "needs brackets"},
        {"[1.2.3.4]:80", SK_EPARSE, "not an IPv6 address"},
        {"fe80::1%lo:80", SK_EPARSE, "brackets"},
        {"unix:", SK_EPARSE, "empty Unix socket path"},
        {longpath, SK_EPATHLEN, "at most 107"},
        {longabs, SK_EPATHLEN, "at most 107"},
        {"host:ht tp", SK_EPORT, "ht tp"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sk_endpoint ep;
        int rc = sk_endpoint_parse(cases[i].text, &ep);
        if (rc != cases[i].code)
            fail_msg("'%s': got %s, want %s", cases[i].text, sk_err_name(rc),
                     sk_err_name(cases[i].code));
        if (!strstr(sk_errmsg(), cases[i].needle))
            fail_msg("'%s': message '%s' lacks '%s'", cases[i].text, sk_errmsg(), cases[i].needle);
        /* The message names the endpoint as written. */
        if (strlen(cases[i].text) < 100)
            assert_non_null(strstr(sk_errmsg(), cases[i].text));
    }
}

static void resolve_errors(void **state)
{
    sk_addr_list l;
    assert_int_equal(sk_resolve("localhost:nosuchservice", AF_UNSPEC, SOCK_STREAM, 0, &l),
                     SK_ESERVICE);
    assert_non_null(strstr(sk_errmsg(), "unknown service"));
    assert_int_equal(sk_resolve("[fe80::1%nosuchif0]:80", AF_UNSPEC, SOCK_STREAM, 0, &l),
                     SK_EIFACE);
    assert_non_null(strstr(sk_errmsg(), "nosuchif0"));
    assert_int_equal(sk_resolve(":80", AF_UNSPEC, SOCK_STREAM, 0, &l), SK_ENOHOST);
    assert_non_null(strstr(sk_errmsg(), "needs a host"));
    /* numeric-only mode refuses names and service names */
    assert_int_equal(sk_resolve("localhost:80", AF_UNSPEC, SOCK_STREAM, SK_RESOLVE_NUMERIC, &l),
                     SK_EPARSE);
    assert_int_equal(sk_resolve("127.0.0.1:http", AF_UNSPEC, SOCK_STREAM, SK_RESOLVE_NUMERIC, &l),
                     SK_EPORT);
    /* an IPv4 literal asked for as IPv6 */
    int rc = sk_resolve("127.0.0.1:80", AF_INET6, SOCK_STREAM, SK_RESOLVE_NUMERIC, &l);
    assert_true(rc == SK_ENOADDR || rc == SK_EPARSE);
    assert_null(l.v);
}

/* Literal addresses skip getaddrinfo: the result is byte for byte what getaddrinfo gives (port,
 * scope and family included), and what is not a plain literal still goes through it. */
static void resolve_literal_as_getaddrinfo(void **state)
{
    (void)state;
    static const struct {
        const char *text, *host, *port;
        int family;
    } cases[] = {
        {"127.0.0.1:80", "127.0.0.1", "80", AF_UNSPEC},
        {"10.1.2.3:65535", "10.1.2.3", "65535", AF_INET},
        {"[::1]:443", "::1", "443", AF_UNSPEC},
        {"[::ffff:127.0.0.1]:7", "::ffff:127.0.0.1", "7", AF_INET6},
        {"[fe80::1%1]:9", "fe80::1%1", "9", AF_UNSPEC},
        {"127.1:0", "127.1", "0", AF_UNSPEC}, /* not inet_pton's: getaddrinfo's */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sk_addr_list l;
        assert_int_equal(sk_resolve(cases[i].text, cases[i].family, SOCK_STREAM, 0, &l), 0);
        struct addrinfo hints = {.ai_family = cases[i].family,
                                 .ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
        struct addrinfo *res = NULL;
        assert_int_equal(getaddrinfo(cases[i].host, cases[i].port, &hints, &res), 0);
        assert_int_equal(l.n, 1);
        assert_int_equal(l.v[0].len, res->ai_addrlen);
        assert_memory_equal(&l.v[0].u, res->ai_addr, res->ai_addrlen);
        freeaddrinfo(res);
        sk_addr_list_free(&l);
    }
    /* an IPv4 literal asked for as IPv6 still fails as getaddrinfo says */
    sk_addr_list l;
    assert_true(sk_resolve("127.0.0.1:80", AF_INET6, SOCK_STREAM, 0, &l) < 0);
    /* sk_resolve_endpoint names the endpoint in its messages, made only when one is */
    sk_endpoint ep;
    assert_int_equal(sk_endpoint_parse("[fe80::1%nosuchif0]:80", &ep), 0);
    assert_int_equal(sk_resolve_endpoint(&ep, AF_UNSPEC, SOCK_STREAM, 0, &l), SK_EIFACE);
    assert_non_null(strstr(sk_errmsg(), "[fe80::1%nosuchif0]:80"));
}

static void resolve_literals_and_names(void **state)
{
    sk_addr_list l;
    assert_int_equal(sk_resolve("127.0.0.1:80", AF_UNSPEC, SOCK_STREAM, SK_RESOLVE_NUMERIC, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(sk_addr_family(&l.v[0]), AF_INET);
    assert_int_equal(sk_addr_port(&l.v[0]), 80);
    sk_addr_list_free(&l);
    assert_null(l.v);

    assert_int_equal(sk_resolve("[::1]:443", AF_UNSPEC, SOCK_STREAM, 0, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(sk_addr_family(&l.v[0]), AF_INET6);
    assert_int_equal(sk_addr_port(&l.v[0]), 443);
    sk_addr_list_free(&l);

    /* service names: from /etc/services via getaddrinfo */
    assert_int_equal(sk_resolve("localhost:http", AF_INET, SOCK_STREAM, 0, &l), 0);
    assert_int_equal(sk_addr_port(&l.v[0]), 80);
    char buf[SK_ADDRSTRLEN];
    sk_addr_format(&l.v[0], buf, sizeof buf);
    assert_string_equal(buf, "127.0.0.1:80");
    sk_addr_list_free(&l);

    /* the any-address when binding */
    assert_int_equal(sk_resolve("*:8080", AF_INET, SOCK_STREAM, SK_RESOLVE_PASSIVE, &l), 0);
    assert_true(sk_addr_is_any(&l.v[0]));
    assert_int_equal(sk_addr_port(&l.v[0]), 8080);
    sk_addr_list_free(&l);
    assert_int_equal(sk_resolve(":8080", AF_INET6, SOCK_DGRAM, SK_RESOLVE_PASSIVE, &l), 0);
    assert_int_equal(sk_addr_family(&l.v[0]), AF_INET6);
    assert_true(sk_addr_is_any(&l.v[0]));
    sk_addr_list_free(&l);
}

/* RFC 6761: localhost names are loopback addresses without asking /etc/hosts or DNS. */
static void resolve_localhost_names(void **state)
{
    (void)state;
    const char *names[] = {"localhost:7", "LocalHost.:7", "app.localhost:7", "a.b.localhost.:7"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        sk_addr_list l;
        assert_int_equal(sk_resolve(names[i], AF_UNSPEC, SOCK_STREAM, 0, &l), 0);
        assert_int_equal(l.n, 2);
        char a[SK_ADDRSTRLEN], b[SK_ADDRSTRLEN];
        sk_addr_format(&l.v[0], a, sizeof a);
        sk_addr_format(&l.v[1], b, sizeof b);
        assert_string_equal(a, "[::1]:7");
        assert_string_equal(b, "127.0.0.1:7");
        sk_addr_list_free(&l);
    }
    sk_addr_list l;
    assert_int_equal(sk_resolve("localhost:7", AF_INET, SOCK_DGRAM, 0, &l), 0);
    assert_int_equal(l.n, 1);
    char text[SK_ADDRSTRLEN];
    sk_addr_format(&l.v[0], text, sizeof text);
    assert_string_equal(text, "127.0.0.1:7");
    sk_addr_list_free(&l);
    /* numeric mode still refuses every name */
    assert_int_equal(sk_resolve("localhost:7", AF_UNSPEC, SOCK_STREAM, SK_RESOLVE_NUMERIC, &l),
                     SK_EPARSE);
}

static void scope_ids(void **state)
{
    sk_addr a;
    assert_int_equal(sk_addr_parse("[fe80::1%lo]:80", SK_RESOLVE_NUMERIC, &a), 0);
    assert_int_equal(a.u.in6.sin6_scope_id, if_nametoindex("lo"));
    char buf[SK_ADDRSTRLEN];
    sk_addr_format(&a, buf, sizeof buf);
    assert_string_equal(buf, "[fe80::1%lo]:80");
    /* a numeric scope id is taken as an index */
    assert_int_equal(sk_addr_parse("[fe80::1%1]:80", SK_RESOLVE_NUMERIC, &a), 0);
    assert_int_equal(a.u.in6.sin6_scope_id, 1);
    /* 32 bits: 4294967296 used to wrap to 0 (no scope), 4294967297 to interface 1 */
    assert_int_equal(sk_addr_parse("[fe80::1%4294967295]:80", SK_RESOLVE_NUMERIC, &a), 0);
    assert_int_equal(a.u.in6.sin6_scope_id, 4294967295u);
    assert_int_equal(sk_addr_parse("[fe80::1%4294967296]:80", SK_RESOLVE_NUMERIC, &a), SK_EIFACE);
    assert_non_null(strstr(sk_errmsg(), "scope id 4294967296"));
    assert_int_equal(sk_addr_parse("[fe80::1%99999999999999999999999]:80", SK_RESOLVE_NUMERIC, &a),
                     SK_EIFACE);
}

/* A Unix name is its owner's choice of bytes. Found by tests/fuzz/fuzz_trace: a peer's abstract
 * name with a newline or an escape sequence went raw into trace lines (and every message). Control
 * bytes, DEL and '\' are written \xHH, and the parser reads that back. */
static void unix_names_with_control_bytes(void **state)
{
    sk_addr a, b;
    char buf[SK_ADDRSTRLEN];
    const char name[] = "evil\n12:00:00.000000 server tcp   accept forged\x1b[31m\\\x7f\xc3\xa9";
    a = (sk_addr){.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + sizeof name - 1)};
    a.u.un.sun_family = AF_UNIX;
    memcpy(a.u.un.sun_path + 1, name, sizeof name - 1);
    const char *want = "unix:@evil\\x0a12:00:00.000000 server tcp   accept forged\\x1b[31m"
                       "\\x5c\\x7f\xc3\xa9";
    assert_int_equal(sk_addr_format(&a, buf, sizeof buf), (int)strlen(want));
    assert_string_equal(buf, want);
    assert_int_equal(sk_addr_parse(buf, 0, &b), 0);
    assert_true(sk_addr_equal(&a, &b));
    /* cut short like snprintf, never in the middle of the buffer's end */
    char small[12];
    assert_int_equal(sk_addr_format(&a, small, sizeof small), (int)strlen(want));
    assert_string_equal(small, "unix:@evil\\");

    /* a NUL inside an abstract name shows, but does not parse back */
    a.u.un.sun_path[3] = '\0';
    sk_addr_format(&a, buf, sizeof buf);
    assert_non_null(strstr(buf, "unix:@ev\\x00l"));
    assert_int_equal(sk_addr_parse("unix:@ev\\x00l", 0, &b), SK_EPARSE);

    /* paths: \xHH is a byte, any other backslash is itself */
    assert_int_equal(sk_addr_parse("unix:/tmp/a\\x41\\b\\x4", 0, &b), 0);
    assert_string_equal(b.u.un.sun_path, "/tmp/aA\\b\\x4");
    sk_addr_format(&b, buf, sizeof buf);
    assert_string_equal(buf, "unix:/tmp/aA\\x5cb\\x5cx4");
    /* found by tests/fuzz/fuzz_addr: a path starting with '@' printed as an abstract name */
    assert_int_equal(sk_addr_parse("unix:\\x4007", 0, &b), 0);
    assert_string_equal(b.u.un.sun_path, "@07");
    sk_addr_format(&b, buf, sizeof buf);
    assert_string_equal(buf, "unix:\\x4007");
    assert_int_equal(sk_addr_parse(buf, 0, &a), 0);
    assert_true(sk_addr_equal(&a, &b));
    /* the length limit counts decoded bytes: 107 escaped bytes fit */
    char path[600] = "unix:/";
    for (int i = 0; i < 106; i++)
        strcat(path, "\\x41");
    assert_int_equal(sk_addr_parse(path, 0, &b), 0);
    strcat(path, "\\x41");
    assert_int_equal(sk_addr_parse(path, 0, &b), SK_EPATHLEN);
}

static void unix_addresses(void **state)
{
    sk_addr a;
    char buf[SK_ADDRSTRLEN];
    assert_int_equal(sk_addr_parse("unix:/tmp/sk.sock", 0, &a), 0);
    assert_int_equal(sk_addr_family(&a), AF_UNIX);
    assert_int_equal(sk_addr_port(&a), SK_EARG);
    sk_addr_format(&a, buf, sizeof buf);
    assert_string_equal(buf, "unix:/tmp/sk.sock");

    assert_int_equal(sk_addr_parse("unix:@sockkit-test", 0, &a), 0);
    assert_int_equal(a.u.un.sun_path[0], 0);
    assert_int_equal(a.len, offsetof(struct sockaddr_un, sun_path) + 1 + strlen("sockkit-test"));
    sk_addr_format(&a, buf, sizeof buf);
    assert_string_equal(buf, "unix:@sockkit-test");

    /* a path of exactly 107 bytes fits (plus its NUL); the unnamed address formats too */
    char path[120] = "unix:/";
    memset(path + 6, 'p', 106);
    assert_int_equal(sk_addr_parse(path, 0, &a), 0);
    a.len = sizeof(sa_family_t);
    sk_addr_format(&a, buf, sizeof buf);
    assert_string_equal(buf, "unix:(unnamed)");
}

static void format_round_trip(void **state)
{
    const char *forms[] = {"127.0.0.1:1",     "10.1.2.3:65535", "[::1]:80",
                           "[2001:db8::5]:7", "unix:/run/x",    "unix:@abc"};
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        sk_addr a, b;
        char buf[SK_ADDRSTRLEN];
        assert_int_equal(sk_addr_parse(forms[i], SK_RESOLVE_NUMERIC, &a), 0);
        assert_int_equal(sk_addr_format(&a, buf, sizeof buf), (int)strlen(forms[i]));
        assert_string_equal(buf, forms[i]);
        assert_int_equal(sk_addr_parse(buf, SK_RESOLVE_NUMERIC, &b), 0);
        assert_true(sk_addr_equal(&a, &b));
    }
    sk_addr a;
    assert_int_equal(sk_addr_parse("127.0.0.1:1", SK_RESOLVE_NUMERIC, &a), 0);
    assert_int_equal(sk_addr_set_port(&a, 4242), 0);
    assert_int_equal(sk_addr_port(&a), 4242);
    char small[8];
    assert_true(sk_addr_format(&a, small, sizeof small) > 7); /* snprintf-style length */
    assert_int_equal(strlen(small), 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_forms),
        cmocka_unit_test(parse_errors),
        cmocka_unit_test(resolve_errors),
        cmocka_unit_test(resolve_literals_and_names),
        cmocka_unit_test(resolve_literal_as_getaddrinfo),
        cmocka_unit_test(resolve_localhost_names),
        cmocka_unit_test(scope_ids),
        cmocka_unit_test(unix_addresses),
        cmocka_unit_test(format_round_trip),
        cmocka_unit_test(unix_names_with_control_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
