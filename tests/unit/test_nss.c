/* nss.c: which source answers a name, from an nsswitch.conf and a hosts file of the test's own:
 * numeric, the RFC 6761 rule, files (per family), myhostname, mdns4_minimal, dns, the default
 * line when nsswitch.conf has none; and the reverse. */
#include "sktest.h"

static char dir[] = "/tmp/sk-nss.XXXXXX";
static char nss[128], hosts[128], empty[128];

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    if (!mkdtemp(dir))
        return -1;
    snprintf(nss, sizeof nss, "%s/nsswitch.conf", dir);
    snprintf(hosts, sizeof hosts, "%s/hosts", dir);
    snprintf(empty, sizeof empty, "%s/empty.conf", dir);
    put(nss, "# comment\npasswd: files\n"
             "hosts:  files mdns4_minimal [NOTFOUND=return] myhostname dns # end\n");
    put(hosts, "127.0.0.1 localhost\n127.0.1.1 box.example.org box\n"
               "# 10.0.0.9 commented\n::1 ip6-localhost\n192.0.2.7 Printer.LAN\n");
    put(empty, "passwd: files\n");
    return 0;
}

static int teardown(void **state)
{
    unlink(nss);
    unlink(hosts);
    unlink(empty);
    rmdir(dir);
    return 0;
}

static const char *source(const char *conf, const char *host, int family)
{
    static char buf[256];
    int n = sk__name_source_in(conf, hosts, "myhost", host, family, buf, sizeof buf);
    assert_int_equal(n, (int)strlen(buf));
    return buf;
}

static void the_hosts_line(void **state)
{
    char buf[128];
    sk__nss_hosts_in(nss, buf, sizeof buf);
    assert_string_equal(buf, "files mdns4_minimal myhostname dns");
    sk__nss_hosts_in(empty, buf, sizeof buf);
    assert_string_equal(buf, "dns files"); /* glibc's default */
    sk__nss_hosts_in("/nonexistent/nsswitch.conf", buf, sizeof buf);
    assert_string_equal(buf, "dns files");
    assert_true(sk_nss_hosts(buf, sizeof buf) > 0);
}

static void who_answers(void **state)
{
    char want[200];
    snprintf(want, sizeof want, "files (%s)", hosts);
    assert_string_equal(source(nss, "box", AF_UNSPEC), want);
    assert_string_equal(source(nss, "BOX.example.org.", AF_INET), want);
    assert_string_equal(source(nss, "printer.lan", AF_UNSPEC), want);
    assert_string_equal(source(nss, "box", AF_INET6), "dns"); /* files has no IPv6 entry */
    assert_string_equal(source(nss, "ip6-localhost", AF_INET6), want);
    assert_string_equal(source(nss, "commented", AF_UNSPEC), "dns");
    assert_string_equal(source(nss, "myhost", AF_UNSPEC), "myhostname");
    assert_string_equal(source(nss, "printer.local", AF_UNSPEC), "mdns4_minimal");
    assert_string_equal(source(nss, "example.org", AF_UNSPEC), "dns");
    assert_string_equal(source(nss, "localhost", AF_UNSPEC), "built in (RFC 6761)");
    assert_string_equal(source(nss, "a.localhost", AF_UNSPEC), "built in (RFC 6761)");
    assert_string_equal(source(nss, "192.0.2.7", AF_UNSPEC), "numeric (no lookup)");
    assert_string_equal(source(nss, "fe80::1%eth0", AF_UNSPEC), "numeric (no lookup)");
    assert_non_null(strstr(source(nss, NULL, AF_UNSPEC), "no lookup"));
    /* the default line asks dns first */
    assert_string_equal(source(empty, "box", AF_UNSPEC), "dns");
}

static void reverse_sources(void **state)
{
    char buf[200], want[200];
    snprintf(want, sizeof want, "files (%s)", hosts);
    sk_addr a;
    assert_int_equal(sk_addr_parse("127.0.1.1:0", SK_RESOLVE_NUMERIC, &a), 0);
    sk__addr_source_in(nss, hosts, &a, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(sk_addr_parse("[::1]:0", SK_RESOLVE_NUMERIC, &a), 0);
    sk__addr_source_in(nss, hosts, &a, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(sk_addr_parse("10.0.0.9:0", SK_RESOLVE_NUMERIC, &a), 0);
    sk__addr_source_in(nss, hosts, &a, buf, sizeof buf);
    assert_string_equal(buf, "dns");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_hosts_line),
        cmocka_unit_test(who_answers),
        cmocka_unit_test(reverse_sources),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
