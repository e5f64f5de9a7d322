/* route.c: the kernel's route to loopback addresses (RTM_GETROUTE), the UDP-connect fallback
 * agreeing with it, and bad arguments. */
#include "sktest.h"

#include <linux/rtnetlink.h>
#include <net/if.h>

static sk_addr addr(const char *text)
{
    sk_addr a;
    assert_int_equal(sk_addr_parse(text, SK_RESOLVE_NUMERIC, &a), 0);
    return a;
}

static void loopback_is_local_on_lo(void **state)
{
    sk_addr dst = addr("127.0.0.9:80");
    sk_route r;
    assert_int_equal(sk_route_get(&dst, &r), 0);
    assert_true(r.netlink);
    assert_int_equal(r.type, RTN_LOCAL);
    assert_string_equal(sk_route_type_name(r.type), "local");
    char lo[IF_NAMESIZE];
    assert_non_null(if_indextoname(r.ifindex, lo));
    assert_string_equal(r.iface, lo);
    assert_int_equal(r.src.u.sa.sa_family, AF_INET);
    assert_int_equal(r.gateway.u.sa.sa_family, AF_UNSPEC);
    assert_true(sk_addr_equal(&r.dst, &dst));
    char t[SK_ADDRSTRLEN];
    sk_addr_format(&r.src, t, sizeof t);
    assert_string_equal(t, "127.0.0.1:0");
}

static void ipv6_loopback(void **state)
{
    sk_addr dst = addr("[::1]:0");
    sk_route r;
    int rc = sk_route_get(&dst, &r);
    if (rc == -ENETUNREACH || rc == -EADDRNOTAVAIL)
        skip(); /* IPv6 turned off here */
    assert_int_equal(rc, 0);
    assert_int_equal(r.type, RTN_LOCAL);
    char t[SK_ADDRSTRLEN];
    sk_addr_format(&r.src, t, sizeof t);
    assert_string_equal(t, "[::1]:0");
}

static void fallback_agrees_with_the_kernel(void **state)
{
    sk_addr dst = addr("127.0.0.1:0");
    sk_route k, u;
    assert_int_equal(sk_route_get(&dst, &k), 0);
    memset(&u, 0, sizeof u);
    assert_int_equal(sk__route_udp(&dst, &u), 0);
    assert_false(u.netlink);
    assert_int_equal(u.ifindex, k.ifindex);
    assert_true(sk_addr_equal(&u.src, &k.src));
    assert_int_equal(sk_addr_port(&u.src), 0);
}

static void bad_arguments(void **state)
{
    sk_route r;
    assert_int_equal(sk_route_get(NULL, &r), SK_EARG);
    sk_addr u;
    assert_int_equal(sk_addr_parse("unix:/tmp/x", 0, &u), 0);
    assert_int_equal(sk_route_get(&u, &r), SK_EARG);
    assert_non_null(strstr(sk_errmsg(), "not an IP address"));
    assert_string_equal(sk_route_type_name(RTN_MULTICAST), "multicast");
    assert_null(sk_route_type_name(-1));
    assert_null(sk_route_type_name(999));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loopback_is_local_on_lo),
        cmocka_unit_test(ipv6_loopback),
        cmocka_unit_test(fallback_agrees_with_the_kernel),
        cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
