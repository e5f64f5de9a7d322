/* proto.c: tables match the platform's macros, look-ups by name, alias, case and number, and the
 * IPPROTO_IP explanation answers what protocol 0 means. */
#include "sktest.h"

#include <netinet/tcp.h>

static void tables_hold_the_platform_values(void **state)
{
    size_t n;
    const sk_name *t = sk_proto_table(&n);
    assert_true(n >= 25);
    assert_string_equal(t[0].name, "IPPROTO_IP");
    assert_int_equal(sk_proto_lookup("IPPROTO_TCP")->value, IPPROTO_TCP);
    assert_int_equal(sk_proto_lookup("IPPROTO_UDP")->value, IPPROTO_UDP);
    assert_int_equal(sk_proto_lookup("IPPROTO_SCTP")->value, IPPROTO_SCTP);
    assert_int_equal(sk_proto_lookup("IPPROTO_ICMPV6")->value, IPPROTO_ICMPV6);
    assert_int_equal(sk_proto_lookup("IPPROTO_RAW")->value, IPPROTO_RAW);
    assert_int_equal(sk_proto_lookup("IPPROTO_HOPOPTS")->value, 0);
    for (size_t i = 0; i < n; i++)
        assert_true(t[i].summary && *t[i].summary);
    t = sk_family_table(&n);
    assert_true(n >= 4);
    t = sk_type_table(&n);
    assert_int_equal(n, 5);
    const sk_optname *o = sk_option_table(&n);
    assert_true(n >= 50);
    for (size_t i = 0; i < n; i++)
        assert_true(o[i].level_name && o[i].summary);
}

static void lookups(void **state)
{
    assert_string_equal(sk_proto_lookup("tcp")->name, "IPPROTO_TCP");
    assert_string_equal(sk_proto_lookup("Udp")->name, "IPPROTO_UDP");
    assert_string_equal(sk_proto_lookup("17")->name, "IPPROTO_UDP");
    assert_string_equal(sk_proto_lookup("0")->name, "IPPROTO_IP"); /* canonical first */
    assert_null(sk_proto_lookup("nosuch"));
    assert_string_equal(sk_proto_name(0), "IPPROTO_IP");
    assert_string_equal(sk_proto_name(6), "IPPROTO_TCP");
    assert_string_equal(sk_proto_name(9999), "?");
    assert_string_equal(sk_family_name(AF_INET6), "AF_INET6");
    assert_string_equal(sk_family_name(AF_UNIX), "AF_UNIX");
    assert_string_equal(sk_type_name(SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK), "SOCK_STREAM");
    assert_string_equal(sk_type_name(SOCK_DGRAM), "SOCK_DGRAM");

    const sk_optname *o = sk_option_lookup("nodelay");
    assert_string_equal(o->name, "TCP_NODELAY");
    assert_int_equal(o->level, IPPROTO_TCP);
    assert_int_equal(o->value, TCP_NODELAY);
    assert_true(o->is_int);
    o = sk_option_lookup("reuseaddr");
    assert_string_equal(o->level_name, "SOL_SOCKET");
    assert_int_equal(o->value, SO_REUSEADDR);
    o = sk_option_lookup("ip_add_membership");
    assert_int_equal(o->level, IPPROTO_IP);
    assert_false(o->is_int);
    assert_int_equal(sk_option_lookup("IPV6_V6ONLY")->value, IPV6_V6ONLY);
    assert_null(sk_option_lookup("SO_NOPE"));
    char buf[32];
    assert_string_equal(sk_proto_etc_name(6, buf, sizeof buf), "tcp");
    assert_null(sk_proto_etc_name(250, buf, sizeof buf));
}

static void ipproto_ip_explained(void **state)
{
    const char *e = sk_proto_explain("IPPROTO_IP");
    assert_non_null(e);
    /* both roles and the shared number */
    assert_non_null(strstr(e, "default protocol for this"));
    assert_non_null(strstr(e, "gets TCP"));
    assert_non_null(strstr(e, "gets UDP"));
    assert_non_null(strstr(e, "level argument of setsockopt"));
    assert_non_null(strstr(e, "IP_ADD_MEMBERSHIP"));
    assert_non_null(strstr(e, "IPPROTO_HOPOPTS is 0 too"));
    assert_ptr_equal(sk_proto_explain("ip"), e);
    assert_ptr_equal(sk_proto_explain("0"), e);
    assert_non_null(sk_proto_explain("tcp"));
    assert_non_null(sk_proto_explain("SOL_SOCKET"));
    assert_null(sk_proto_explain("IPPROTO_PUP"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tables_hold_the_platform_values),
        cmocka_unit_test(lookups),
        cmocka_unit_test(ipproto_ip_explained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
