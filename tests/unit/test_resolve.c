/* resolve.c: getaddrinfo rows with their socket() arguments named, the library's localhost rule,
 * failures with their EAI_* code, the reverse lookup. No name here goes to DNS: numeric
 * addresses, "localhost" (answered by the library), AI_NUMERICHOST. */
#include "sktest.h"

#include <netdb.h>

static void numeric_row(void **state)
{
    sk_ai_hints h = {.socktype = SOCK_STREAM};
    sk_ai_list l;
    assert_int_equal(sk_resolve_rows("127.0.0.1", "80", &h, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.gai_error, 0);
    assert_false(l.builtin);
    assert_true(l.elapsed_us >= 0);
    const sk_ai_row *r = &l.v[0];
    assert_int_equal(r->family, AF_INET);
    assert_int_equal(r->socktype, SOCK_STREAM);
    assert_int_equal(r->protocol, IPPROTO_TCP); /* asked 0, got the type's default */
    assert_string_equal(r->family_name, "AF_INET");
    assert_string_equal(r->socktype_name, "SOCK_STREAM");
    assert_string_equal(r->protocol_name, "IPPROTO_TCP");
    assert_int_equal(sk_addr_port(&r->addr), 80);
    assert_string_equal(r->canonname, "");
    sk_ai_list_free(&l);
    assert_null(l.v);
}

/* socktype 0: one row per type, each with its protocol: what IPPROTO_IP (0) stands for. */
static void every_type(void **state)
{
    sk_ai_list l;
    assert_int_equal(sk_resolve_rows("127.0.0.1", "7", NULL, &l), 0);
    bool tcp = false, udp = false;
    for (size_t i = 0; i < l.n; i++) {
        tcp |= l.v[i].socktype == SOCK_STREAM && l.v[i].protocol == IPPROTO_TCP;
        udp |= l.v[i].socktype == SOCK_DGRAM && l.v[i].protocol == IPPROTO_UDP;
    }
    assert_true(tcp && udp);
    sk_ai_list_free(&l);
}

static void localhost_is_built_in(void **state)
{
    sk_ai_hints h = {.socktype = SOCK_STREAM, .flags = AI_CANONNAME};
    sk_ai_list l;
    assert_int_equal(sk_resolve_rows("localhost", "7", &h, &l), 0);
    assert_true(l.builtin);
    assert_int_equal(l.n, 2);
    char t[SK_ADDRSTRLEN];
    sk_addr_format(&l.v[0].addr, t, sizeof t);
    assert_string_equal(t, "[::1]:7");
    sk_addr_format(&l.v[1].addr, t, sizeof t);
    assert_string_equal(t, "127.0.0.1:7");
    assert_string_equal(l.v[0].canonname, "localhost");
    sk_ai_list_free(&l);

    h.family = AF_INET;
    assert_int_equal(sk_resolve_rows("db.LOCALHOST.", NULL, &h, &l), 0);
    assert_true(l.builtin);
    assert_int_equal(l.n, 1);
    sk_addr_format(&l.v[0].addr, t, sizeof t);
    assert_string_equal(t, "127.0.0.1:0"); /* no service: port 0 (getaddrinfo(NULL, NULL) fails) */
    sk_ai_list_free(&l);

    h.flags = AI_NUMERICHOST; /* numeric only: "localhost" is not an address */
    assert_int_equal(sk_resolve_rows("localhost", "7", &h, &l), SK_ENONAME);
    assert_false(l.builtin);
    assert_int_equal(l.gai_error, EAI_NONAME);
}

static void failures_name_the_eai_code(void **state)
{
    sk_ai_hints h = {.socktype = SOCK_STREAM, .flags = AI_NUMERICHOST};
    sk_ai_list l;
    assert_int_equal(sk_resolve_rows("not-an-address", "80", &h, &l), SK_ENONAME);
    assert_int_equal(l.n, 0);
    assert_int_equal(l.gai_error, EAI_NONAME);
    assert_non_null(strstr(sk_errmsg(), "resolve 'not-an-address'"));
    assert_non_null(strstr(sk_errmsg(), "(EAI_NONAME)"));

    h.flags = 0;
    assert_int_equal(sk_resolve_rows("127.0.0.1", "no-such-service-x", &h, &l), SK_ESERVICE);
    assert_int_equal(l.gai_error, EAI_SERVICE);
    assert_non_null(strstr(sk_errmsg(), "service 'no-such-service-x'"));
    assert_non_null(strstr(sk_errmsg(), "(EAI_SERVICE)"));

    h.family = AF_INET;
    int rc = sk_resolve_rows("::1", "80", &h, &l);
    assert_true(rc == SK_ENOADDR || rc == SK_ENONAME);
    assert_string_not_equal(sk_gai_name(l.gai_error), "EAI_?");
    assert_int_equal(sk_resolve_rows("x", "80", NULL, NULL), SK_EARG);
}

static void passive_gives_wildcards(void **state)
{
    sk_ai_hints h = {.socktype = SOCK_DGRAM, .flags = AI_PASSIVE};
    sk_ai_list l;
    assert_int_equal(sk_resolve_rows(NULL, "5353", &h, &l), 0);
    assert_true(l.n >= 1);
    for (size_t i = 0; i < l.n; i++) {
        assert_true(sk_addr_is_any(&l.v[i].addr));
        assert_int_equal(l.v[i].protocol, IPPROTO_UDP);
        assert_int_equal(sk_addr_port(&l.v[i].addr), 5353);
    }
    sk_ai_list_free(&l);
}

static void v4_mapped(void **state)
{
    sk_ai_hints h = {.family = AF_INET6, .socktype = SOCK_STREAM, .flags = AI_V4MAPPED};
    sk_ai_list l;
    assert_int_equal(sk_resolve_rows("127.0.0.1", "80", &h, &l), 0);
    assert_int_equal(l.n, 1);
    char t[SK_ADDRSTRLEN];
    sk_addr_format(&l.v[0].addr, t, sizeof t);
    assert_string_equal(t, "[::ffff:127.0.0.1]:80");
    sk_ai_list_free(&l);
}

static void names_of_codes_and_flags(void **state)
{
    assert_string_equal(sk_gai_name(EAI_NONAME), "EAI_NONAME");
    assert_string_equal(sk_gai_name(EAI_AGAIN), "EAI_AGAIN");
    assert_string_equal(sk_gai_name(12345), "EAI_?");
    char buf[128];
    sk_ai_flags_format(0, buf, sizeof buf);
    assert_string_equal(buf, "0");
    sk_ai_flags_format(AI_PASSIVE | AI_ADDRCONFIG, buf, sizeof buf);
    assert_string_equal(buf, "AI_PASSIVE|AI_ADDRCONFIG");
    sk_ai_flags_format(AI_V4MAPPED | AI_ALL | 0x40000, buf, sizeof buf);
    assert_string_equal(buf, "AI_V4MAPPED|AI_ALL|0x40000");
    char small[8];
    sk_ai_flags_format(AI_PASSIVE | AI_CANONNAME, small, sizeof small);
    assert_true(strlen(small) < sizeof small);
}

static void reverse(void **state)
{
    sk_addr a;
    assert_int_equal(sk_addr_parse("127.0.0.1:80", SK_RESOLVE_NUMERIC, &a), 0);
    sk_nameinfo ni;
    assert_int_equal(sk_resolve_reverse(&a, NI_NUMERICHOST | NI_NUMERICSERV, &ni), 0);
    assert_string_equal(ni.host, "127.0.0.1");
    assert_string_equal(ni.service, "80");
    assert_int_equal(ni.gai_error, 0);
    /* a name only where /etc/hosts has one: no DNS query from a unit test */
    char src[128];
    sk_addr_source(&a, src, sizeof src);
    if (!strncmp(src, "files", 5)) {
        assert_int_equal(sk_resolve_reverse(&a, NI_NAMEREQD, &ni), 0);
        assert_true(ni.host[0] != '\0');
        assert_string_equal(ni.service, "http");
    }
    sk_addr u;
    assert_int_equal(sk_addr_parse("unix:@sk-reverse", 0, &u), 0);
    assert_int_equal(sk_resolve_reverse(&u, 0, &ni), SK_EARG);
    assert_int_equal(sk_resolve_reverse(NULL, 0, &ni), SK_EARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numeric_row),
        cmocka_unit_test(every_type),
        cmocka_unit_test(localhost_is_built_in),
        cmocka_unit_test(failures_name_the_eai_code),
        cmocka_unit_test(passive_gives_wildcards),
        cmocka_unit_test(v4_mapped),
        cmocka_unit_test(names_of_codes_and_flags),
        cmocka_unit_test(reverse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
