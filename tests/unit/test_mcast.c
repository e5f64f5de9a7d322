/* mcast.c and batch.c on loopback (multicast loop on): receivers and senders, two receivers on
 * one host, only the joined group, every error case, and datagram batches. */
#include "sktest.h"

#include <net/if.h>

static int port_of(int fd)
{
    sk_addr a;
    sk_sock_get_local_addr(fd, &a);
    return sk_addr_port(&a);
}

static void two_receivers_each_get_every_packet(void **state)
{
    int a = sk_mcast_receiver("239.77.1.1:0", "lo", NULL);
    assert_true(a >= 0);
    char ep[64];
    snprintf(ep, sizeof ep, "239.77.1.1:%d", port_of(a));
    int b = sk_mcast_receiver(ep, "lo", NULL); /* same group and port: reuse set before bind */
    if (b < 0)
        fail_msg("second receiver: %s", sk_errmsg());
    int s = sk_mcast_sender(ep, "lo", 1, true);
    assert_true(s >= 0);
    for (int i = 0; i < 20; i++) {
        char msg[16];
        int n = snprintf(msg, sizeof msg, "packet %d", i);
        assert_int_equal(sk_send(s, msg, (size_t)n, 1000), n);
    }
    for (int r = 0; r < 2; r++) {
        int fd = r ? b : a;
        for (int i = 0; i < 20; i++) {
            char buf[32], want[16];
            sk_addr from;
            ssize_t n = sk_recvfrom(fd, buf, sizeof buf, &from, 2000);
            int wn = snprintf(want, sizeof want, "packet %d", i);
            assert_int_equal(n, wn);
            assert_memory_equal(buf, want, (size_t)wn);
        }
    }
    close(a);
    close(b);
    close(s);
}

static void only_joined_groups(void **state)
{
    /* Two groups on one port: each receiver sees its own group only (bound to the group address,
     * IP_MULTICAST_ALL off). */
    int a = sk_mcast_receiver("239.77.2.1:0", "lo", NULL);
    char ep_b[64], ep_a[64];
    snprintf(ep_a, sizeof ep_a, "239.77.2.1:%d", port_of(a));
    snprintf(ep_b, sizeof ep_b, "239.77.2.2:%d", port_of(a));
    int b = sk_mcast_receiver(ep_b, "lo", NULL);
    assert_true(a >= 0 && b >= 0);
    int sa = sk_mcast_sender(ep_a, "lo", 1, true), sb = sk_mcast_sender(ep_b, "lo", 1, true);
    sk_send(sa, "to-a", 4, 1000);
    sk_send(sb, "to-b", 4, 1000);
    char buf[16];
    assert_int_equal(sk_recv(a, buf, sizeof buf, 2000), 4);
    assert_memory_equal(buf, "to-a", 4);
    assert_int_equal(sk_recv(b, buf, sizeof buf, 2000), 4);
    assert_memory_equal(buf, "to-b", 4);
    assert_int_equal(sk_recv(a, buf, sizeof buf, 200), -ETIMEDOUT);
    assert_int_equal(sk_recv(b, buf, sizeof buf, 200), -ETIMEDOUT);
    int v = 1;
    socklen_t len = sizeof v;
    getsockopt(a, IPPROTO_IP, 49 /* IP_MULTICAST_ALL */, &v, &len);
    assert_int_equal(v, 0);
    /* leave: nothing more arrives */
    sk_addr g;
    sk_addr_parse(ep_a, SK_RESOLVE_NUMERIC, &g);
    assert_int_equal(sk_mcast_leave(a, &g, "lo", NULL), 0);
    sk_send(sa, "late", 4, 1000);
    assert_int_equal(sk_recv(a, buf, sizeof buf, 300), -ETIMEDOUT);
    close(a);
    close(b);
    close(sa);
    close(sb);
}

static void options_and_interfaces(void **state)
{
    int s = sk_mcast_sender("239.77.3.1:5000", "lo", 7, false);
    assert_true(s >= 0);
    int v = 0;
    socklen_t len = sizeof v;
    getsockopt(s, IPPROTO_IP, IP_MULTICAST_TTL, &v, &len);
    assert_int_equal(v, 7);
    getsockopt(s, IPPROTO_IP, IP_MULTICAST_LOOP, &v, &len);
    assert_int_equal(v, 0);
    assert_int_equal(sk_mcast_set_ttl(s, 0), SK_EARG);
    assert_int_equal(sk_mcast_set_ttl(s, 256), SK_EARG);
    assert_int_equal(sk_mcast_set_ttl(s, 255), 0);
    close(s);
    int lo = (int)if_nametoindex("lo");
    assert_int_equal(sk_iface_index("lo"), lo);
    char num[8];
    snprintf(num, sizeof num, "%d", lo);
    assert_int_equal(sk_iface_index(num), lo);
    assert_int_equal(sk_iface_index("127.0.0.1"), lo); /* by one of its addresses */
    assert_int_equal(sk_iface_index("nosuchif0"), SK_EIFACE);
    assert_non_null(strstr(sk_errmsg(), "nosuchif0"));
    assert_non_null(strstr(sk_errmsg(), "interfaces with MULTICAST"));
}

static void errors(void **state)
{
    /* the classic bug: joining on a TCP socket */
    int tcp = sk_socket(AF_INET, SOCK_STREAM, 0);
    sk_addr g, src, uni;
    sk_addr_parse("239.1.2.3:0", SK_RESOLVE_NUMERIC, &g);
    assert_int_equal(sk_mcast_join(tcp, &g, NULL, NULL), SK_ENOTDGRAM);
    assert_non_null(strstr(sk_errmsg(), "TCP"));
    close(tcp);

    int u = sk_socket(AF_INET, SOCK_DGRAM, 0);
    sk_addr_parse("10.1.2.3:0", SK_RESOLVE_NUMERIC, &uni);
    assert_int_equal(sk_mcast_join(u, &uni, NULL, NULL), SK_ENOTMCAST);
    sk_addr_parse("127.0.0.1:0", SK_RESOLVE_NUMERIC, &src);
    assert_int_equal(sk_mcast_join(u, &g, "lo", &src), SK_ESSM); /* a source outside SSM */
    assert_non_null(strstr(sk_errmsg(), "outside the SSM range"));
    sk_addr ssm;
    sk_addr_parse("232.1.1.1:0", SK_RESOLVE_NUMERIC, &ssm);
    assert_true(sk_addr_is_ssm(&ssm));
    assert_int_equal(sk_mcast_join(u, &ssm, "lo", NULL), SK_ESSM); /* SSM without a source */
    assert_non_null(strstr(sk_errmsg(), "needs a source"));
    assert_int_equal(sk_mcast_join(u, &g, "nosuchif0", NULL), SK_EIFACE);
    close(u);

    assert_int_equal(sk_mcast_receiver("10.0.0.1:5000", NULL, NULL), SK_ENOTMCAST);
    assert_int_equal(sk_mcast_sender("127.0.0.1:5000", NULL, 1, true), SK_ENOTMCAST);
    assert_int_equal(sk_mcast_sender("239.1.1.1:5000", NULL, 0, true), SK_EARG);
    assert_int_equal(sk_mcast_receiver("239.1.1.1:5000", "nosuchif0", NULL), SK_EIFACE);

    sk_addr v6;
    sk_addr_parse("[ff3e::1234]:0", SK_RESOLVE_NUMERIC, &v6);
    assert_true(sk_addr_is_ssm(&v6) && sk_addr_is_multicast(&v6));
    sk_addr_parse("[ff02::1]:0", SK_RESOLVE_NUMERIC, &v6);
    assert_false(sk_addr_is_ssm(&v6));
    assert_true(sk_addr_is_multicast(&v6));
}

/* A link-local group (ff02::/16) is one per link: the receiver binds in the interface's scope,
 * named by iface or by the endpoint's %zone (the bind failed with EINVAL before), and without
 * either says so; so does the sender, before any socket is made. */
static void link_local_groups_need_their_interface(void **state)
{
    (void)state;
    int fd = sk_mcast_receiver("[ff02::1:77]:0", "lo", NULL);
    assert_true(fd >= 0);
    sk_addr bound;
    assert_int_equal(sk_sock_get_local_addr(fd, &bound), 0);
    assert_int_equal(bound.u.in6.sin6_scope_id, if_nametoindex("lo"));
    sk_close(fd);
    fd = sk_mcast_receiver("[ff02::1:77%lo]:0", NULL, NULL);
    assert_true(fd >= 0);
    sk_close(fd);
    /* the zone and iface must agree (bound on one, joined on the other: nothing comes) */
    fd = sk_mcast_receiver("[ff02::1:77%lo]:0", "lo", NULL);
    assert_true(fd >= 0);
    sk_close(fd);
    char other[IF_NAMESIZE] = "";
    struct if_nameindex *all = if_nameindex();
    for (struct if_nameindex *i = all; i && i->if_index; i++)
        if (strcmp(i->if_name, "lo") && !other[0])
            snprintf(other, sizeof other, "%s", i->if_name);
    if_freenameindex(all);
    if (other[0])
        assert_int_equal(sk_mcast_receiver("[ff02::1:77%lo]:0", other, NULL), SK_EARG);
    assert_int_equal(sk_mcast_receiver("[ff02::1:77]:0", NULL, NULL), SK_EIFACE);
    assert_non_null(strstr(sk_errmsg(), "one per link"));
    assert_int_equal(sk_mcast_receiver("[ff01::1:77]:0", "", NULL), SK_EIFACE);
    assert_int_equal(sk_mcast_sender("[ff02::1:77]:5000", NULL, 1, true), SK_EIFACE);
    assert_non_null(strstr(sk_errmsg(), "[ff02::1:77]:5000"));
    /* a wider scope needs none */
    fd = sk_mcast_receiver("[ff15::1:77]:0", "lo", NULL);
    assert_true(fd >= 0);
    sk_close(fd);
}

static void ssm_filters_by_source(void **state)
{
    /* On loopback every packet's source is 127.0.0.1: joined for source 127.0.0.1 it arrives;
     * a receiver joined for another source gets nothing. */
    int ok = sk_mcast_receiver("232.77.1.1:0", "lo", "127.0.0.1");
    if (ok < 0)
        fail_msg("SSM join: %s", sk_errmsg());
    char ep[64];
    snprintf(ep, sizeof ep, "232.77.1.1:%d", port_of(ok));
    int other = sk_mcast_receiver(ep, "lo", "127.0.0.99");
    assert_true(other >= 0);
    int s = sk_mcast_sender(ep, "lo", 1, true);
    sk_send(s, "ssm", 3, 1000);
    char buf[8];
    assert_int_equal(sk_recv(ok, buf, sizeof buf, 2000), 3);
    assert_int_equal(sk_recv(other, buf, sizeof buf, 300), -ETIMEDOUT);
    close(ok);
    close(other);
    close(s);
}

static void batches(void **state)
{
    sk_listen_opts o = SK_LISTEN_OPTS_INIT(.type = SOCK_DGRAM);
    int r = sk_listen("127.0.0.1:0", &o);
    sk_addr ra;
    sk_sock_get_local_addr(r, &ra);
    int s = sk_socket(AF_INET, SOCK_DGRAM, 0);
    char out[100][8];
    sk_dgram v[100];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(out[i], sizeof out[i], "d%03d", i);
        v[i] = (sk_dgram){.buf = out[i], .len = (size_t)n, .addr = ra};
    }
    assert_int_equal(sk_send_batch(s, v, 100, 1000), 100);
    char in[100][16];
    sk_dgram w[100];
    for (int i = 0; i < 100; i++)
        w[i] = (sk_dgram){.buf = in[i], .cap = sizeof in[i]};
    int got = 0;
    while (got < 100) {
        int n = sk_recv_batch(r, w + got, (size_t)(100 - got), 1000);
        assert_true(n > 0);
        got += n;
    }
    sk_addr mine;
    sk_sock_get_local_addr(s, &mine);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(w[i].len, 4);
        assert_memory_equal(w[i].buf, out[i], 4);
        assert_int_equal(sk_addr_port(&w[i].addr), sk_addr_port(&mine));
    }
    int64_t t0 = t_now_ms();
    assert_int_equal(sk_recv_batch(r, w, 10, 150), -ETIMEDOUT);
    assert_elapsed(t0, 140, 700);
    close(r);
    close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_receivers_each_get_every_packet),
        cmocka_unit_test(only_joined_groups),
        cmocka_unit_test(options_and_interfaces),
        cmocka_unit_test(errors),
        cmocka_unit_test(link_local_groups_need_their_interface),
        cmocka_unit_test(ssm_filters_by_source),
        cmocka_unit_test(batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
