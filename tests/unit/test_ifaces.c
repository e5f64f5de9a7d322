/* ifaces.c: the interface list from rtnetlink (loopback, its addresses, lookup by name and
 * index) and the flag and scope words, which must be `ip`'s. */
#include "sktest.h"

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

static const sk_iface *loopback(const sk_iface_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].flags & IFF_LOOPBACK)
            return &l->v[i];
    return NULL;
}

static void lists_loopback_with_its_addresses(void **state)
{
    sk_iface_list l;
    assert_int_equal(sk_ifaces_list(&l), 0);
    assert_true(l.n >= 1);
    for (size_t i = 1; i < l.n; i++)
        assert_true(l.v[i - 1].index < l.v[i].index); /* sorted by index */
    const sk_iface *lo = loopback(&l);
    assert_non_null(lo);
    assert_int_equal(lo->index, if_nametoindex(lo->name));
    assert_true(lo->flags & IFF_UP);
    assert_true(lo->mtu > 0);
    bool v4 = false;
    for (size_t k = 0; k < lo->naddrs; k++) {
        const sk_ifaddr *x = &lo->addrs[k];
        if (x->addr.u.sa.sa_family != AF_INET ||
            x->addr.u.in.sin_addr.s_addr != htonl(INADDR_LOOPBACK))
            continue;
        v4 = true;
        assert_int_equal(x->prefix, 8);
        assert_int_equal(x->scope, RT_SCOPE_HOST);
        assert_string_equal(sk_scope_name(x->scope), "host");
        assert_int_equal(sk_addr_port(&x->addr), 0);
    }
    assert_true(v4);
    /* by name and by index */
    assert_ptr_equal(sk_ifaces_find(&l, lo->name), lo);
    char idx[16];
    snprintf(idx, sizeof idx, "%u", lo->index);
    assert_ptr_equal(sk_ifaces_find(&l, idx), lo);
    assert_null(sk_ifaces_find(&l, "nosuch-if0"));
    assert_null(sk_ifaces_find(&l, ""));
    sk_ifaces_free(&l);
    assert_int_equal(l.n, 0);
    sk_ifaces_free(&l); /* twice is harmless */
}

static void link_local_addresses_carry_their_interface(void **state)
{
    sk_iface_list l;
    assert_int_equal(sk_ifaces_list(&l), 0);
    size_t seen = 0;
    for (size_t i = 0; i < l.n; i++)
        for (size_t k = 0; k < l.v[i].naddrs; k++) {
            const sk_addr *a = &l.v[i].addrs[k].addr;
            if (a->u.sa.sa_family != AF_INET6 || !IN6_IS_ADDR_LINKLOCAL(&a->u.in6.sin6_addr))
                continue;
            seen++;
            assert_int_equal(a->u.in6.sin6_scope_id, l.v[i].index);
            char text[SK_ADDRSTRLEN], want[64];
            sk_addr_format(a, text, sizeof text);
            snprintf(want, sizeof want, "%%%s]:0", l.v[i].name);
            assert_non_null(strstr(text, want));
        }
    if (!seen)
        print_message("no link-local address here: the scope id check did not run\n");
    sk_ifaces_free(&l);
}

static void interface_flags_as_ip_writes_them(void **state)
{
    char buf[128];
    unsigned lo = IFF_LOOPBACK | IFF_UP | IFF_RUNNING | 0x10000 /* LOWER_UP */;
    sk_iface_flags_format(lo, buf, sizeof buf);
    assert_string_equal(buf, "LOOPBACK,UP,LOWER_UP");
    sk_iface_flags_format(IFF_BROADCAST | IFF_MULTICAST | IFF_UP, buf, sizeof buf);
    assert_string_equal(buf, "NO-CARRIER,BROADCAST,MULTICAST,UP"); /* up without RUNNING */
    sk_iface_flags_format(IFF_BROADCAST | IFF_NOARP, buf, sizeof buf);
    assert_string_equal(buf, "BROADCAST,NOARP");
    sk_iface_flags_format(0, buf, sizeof buf);
    assert_string_equal(buf, "");
    assert_int_equal(sk_iface_flags_format(0x80000000u, buf, sizeof buf), 8);
    assert_string_equal(buf, "80000000");
    char small[6];
    sk_iface_flags_format(lo, small, sizeof small); /* truncated, terminated */
    assert_true(strlen(small) < sizeof small);
}

static void address_flags_as_ip_writes_them(void **state)
{
    char buf[128];
    sk_ifaddr x = {.flags = IFA_F_PERMANENT};
    x.addr.u.sa.sa_family = AF_INET;
    sk_ifaddr_flags_format(&x, buf, sizeof buf);
    assert_string_equal(buf, "");
    x.flags = IFA_F_PERMANENT | IFA_F_SECONDARY;
    sk_ifaddr_flags_format(&x, buf, sizeof buf);
    assert_string_equal(buf, "secondary");
    x.addr.u.sa.sa_family = AF_INET6; /* the same bit is IFA_F_TEMPORARY */
    x.flags = IFA_F_SECONDARY | IFA_F_NODAD;
    sk_ifaddr_flags_format(&x, buf, sizeof buf);
    assert_string_equal(buf, "temporary nodad dynamic");
    x.flags = IFA_F_PERMANENT | IFA_F_TENTATIVE | IFA_F_NOPREFIXROUTE;
    sk_ifaddr_flags_format(&x, buf, sizeof buf);
    assert_string_equal(buf, "tentative noprefixroute");
}

static void scope_names(void **state)
{
    assert_string_equal(sk_scope_name(RT_SCOPE_UNIVERSE), "global");
    assert_string_equal(sk_scope_name(RT_SCOPE_SITE), "site");
    assert_string_equal(sk_scope_name(RT_SCOPE_LINK), "link");
    assert_string_equal(sk_scope_name(RT_SCOPE_HOST), "host");
    assert_null(sk_scope_name(17));
    assert_int_equal(sk_ifaces_list(NULL), SK_EARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lists_loopback_with_its_addresses),
        cmocka_unit_test(link_local_addresses_carry_their_interface),
        cmocka_unit_test(interface_flags_as_ip_writes_them),
        cmocka_unit_test(address_flags_as_ip_writes_them),
        cmocka_unit_test(scope_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
