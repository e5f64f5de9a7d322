/* mgroups.c: the /proc/net files of joined multicast groups, parsed from samples in the kernel's
 * formats (an index the list does not have is skipped; missing files add nothing), and on this
 * host: a group a socket joins shows up on loopback and is gone after the leave. */
#include "sktest.h"

#include <sys/stat.h>

static char dir[64];

static void put(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void drop(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/sk-mgroups.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    put("igmp", "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n"
                "1\tlo        :     1      V3\n"
                "\t\t\t\t010000E0     1 0:00000000\t\t0\n"
                "4\teth0      :     2      V3\n"
                "\t\t\t\t016363E8     1 0:00000000\t\t0\n"
                "\t\t\t\t010000E0     3 0:00000000\t\t0\n"
                "9\tgone      :     1      V3\n"
                "\t\t\t\t020000E0     1 0:00000000\t\t0\n");
    put("igmp6", "1    lo              ff020000000000000000000000000001     1 0000000C 0\n"
                 "4    eth0            ff3e0000000000000000000000000099     2 00000004 0\n"
                 "4    eth0            nothex                               1 00000004 0\n");
    put("mcfilter", "Idx Device        MCA        SRC    INC    EXC\n"
                    "  4   eth0 0xe8636301 0x0a000001      1      0\n"
                    "  4   eth0 0xe8636301 0x0a000002      0      1\n");
    put("mcfilter6", "Idx Device                Multicast Address                   Source Address"
                     "    INC    EXC\n"
                     "  4   eth0 ff3e0000000000000000000000000099 fd990000000000000000000000000002"
                     "      1      0\n");
    put("dev_mcast", "4    eth0            1     0     01005e000001\n"
                     "4    eth0            2     0     333300000099\n");
    return 0;
}

static int teardown(void **state)
{
    const char *names[] = {"igmp", "igmp6", "mcfilter", "mcfilter6", "dev_mcast"};
    for (size_t i = 0; i < 5; i++)
        drop(names[i]);
    rmdir(dir);
    return 0;
}

static sk_iface_list two_ifaces(void)
{
    sk_iface_list l = {.v = calloc(2, sizeof(sk_iface)), .n = 2};
    assert_non_null(l.v);
    l.v[0].index = 1;
    strcpy(l.v[0].name, "lo");
    l.v[1].index = 4;
    strcpy(l.v[1].name, "eth0");
    return l;
}

static void text_of(const sk_addr *a, char *buf, size_t len)
{
    char full[SK_ADDRSTRLEN];
    sk_addr_format(a, full, sizeof full);
    snprintf(buf, len, "%s", full);
}

static void parses_every_file(void **state)
{
    sk_iface_list l = two_ifaces();
    assert_int_equal(sk__mgroups_read(dir, &l), 0);
    char t[SK_ADDRSTRLEN];
    const sk_iface *lo = &l.v[0], *eth = &l.v[1];
    assert_int_equal(lo->ngroups, 2);
    text_of(&lo->groups[0].group, t, sizeof t);
    assert_string_equal(t, "224.0.0.1:0");
    text_of(&lo->groups[1].group, t, sizeof t);
    assert_string_equal(t, "[ff02::1]:0");
    assert_int_equal(eth->ngroups, 3);
    text_of(&eth->groups[0].group, t, sizeof t);
    assert_string_equal(t, "232.99.99.1:0");
    assert_int_equal(eth->groups[0].users, 1);
    assert_int_equal(eth->groups[0].nsources, 2);
    text_of(&eth->groups[0].sources[0].addr, t, sizeof t);
    assert_string_equal(t, "10.0.0.1:0");
    assert_int_equal(eth->groups[0].sources[0].include, 1);
    assert_int_equal(eth->groups[0].sources[0].exclude, 0);
    text_of(&eth->groups[0].sources[1].addr, t, sizeof t);
    assert_string_equal(t, "10.0.0.2:0");
    assert_int_equal(eth->groups[0].sources[1].exclude, 1);
    assert_int_equal(eth->groups[1].users, 3); /* 224.0.0.1 */
    assert_int_equal(eth->groups[1].nsources, 0);
    text_of(&eth->groups[2].group, t, sizeof t);
    assert_string_equal(t, "[ff3e::99]:0");
    assert_int_equal(eth->groups[2].users, 2);
    assert_int_equal(eth->groups[2].nsources, 1);
    text_of(&eth->groups[2].sources[0].addr, t, sizeof t);
    assert_string_equal(t, "[fd99::2]:0");
    assert_int_equal(eth->nlink_groups, 2);
    assert_string_equal(eth->link_groups[0].addr, "01:00:5e:00:00:01");
    assert_string_equal(eth->link_groups[1].addr, "33:33:00:00:00:99");
    assert_int_equal(eth->link_groups[1].users, 2);
    assert_int_equal(lo->nlink_groups, 0);
    /* mcfilter starts at eth0 and lo has only its newest group: every filter is known */
    for (size_t i = 0; i < 2; i++)
        for (size_t g = 0; g < l.v[i].ngroups; g++)
            assert_false(l.v[i].groups[g].sources_unknown);
    sk_ifaces_free(&l);
}

/* The kernel's mcfilter starts at the first interface whose newest group has a filter; eth0's
 * newest IPv4 group is any-source here, so its SSM join's source is not listed at all. */
static void skipped_interfaces_are_unknown(void **state)
{
    put("igmp", "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n"
                "1\tlo        :     1      V3\n"
                "\t\t\t\t010000E0     1 0:00000000\t\t0\n"
                "4\teth0      :     3      V3\n"
                "\t\t\t\t020063EF     1 0:00000000\t\t0\n"
                "\t\t\t\t016363E8     1 0:00000000\t\t0\n"
                "\t\t\t\t010000E0     1 0:00000000\t\t0\n");
    put("mcfilter", "Idx Device        MCA        SRC    INC    EXC\n");
    sk_iface_list l = two_ifaces();
    assert_int_equal(sk__mgroups_read(dir, &l), 0);
    const sk_iface *eth = &l.v[1];
    char t[SK_ADDRSTRLEN];
    assert_int_equal(eth->ngroups, 4);
    text_of(&eth->groups[0].group, t, sizeof t);
    assert_string_equal(t, "239.99.0.2:0");
    assert_false(eth->groups[0].sources_unknown); /* the head: the kernel looked */
    assert_true(eth->groups[1].sources_unknown);  /* 232.99.99.1 */
    assert_int_equal(eth->groups[1].nsources, 0);
    assert_true(eth->groups[2].sources_unknown);  /* 224.0.0.1: unknown too */
    assert_false(eth->groups[3].sources_unknown); /* IPv6: mcfilter6 starts at eth0 */
    assert_false(l.v[0].groups[0].sources_unknown);
    sk_ifaces_free(&l);
    teardown(state);
    setup(state);
}

static void missing_files_add_nothing(void **state)
{
    sk_iface_list l = two_ifaces();
    assert_int_equal(sk__mgroups_read("/nonexistent-dir", &l), 0);
    assert_int_equal(l.v[0].ngroups + l.v[1].ngroups + l.v[1].nlink_groups, 0);
    sk_ifaces_free(&l);
}

/* The real thing: a join on loopback appears in the list, and goes with the leave. */
static bool lo_has(const char *want)
{
    sk_iface_list l;
    assert_int_equal(sk_ifaces_list(&l), 0);
    bool found = false;
    for (size_t i = 0; i < l.n; i++)
        for (size_t g = 0; g < l.v[i].ngroups && !strcmp(l.v[i].name, "lo"); g++) {
            char t[SK_ADDRSTRLEN];
            sk_addr_format(&l.v[i].groups[g].group, t, sizeof t);
            found = found || !strcmp(t, want);
        }
    sk_ifaces_free(&l);
    return found;
}

static void a_join_shows_up(void **state)
{
    int fd = sk_socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    sk_addr g;
    assert_int_equal(sk_addr_parse("239.77.18.1:0", SK_RESOLVE_NUMERIC, &g), 0);
    int rc = sk_mcast_join(fd, &g, "lo", NULL);
    if (rc < 0) {
        sk_close(fd);
        skip(); /* loopback without MULTICAST here */
    }
    assert_true(lo_has("239.77.18.1:0"));
    assert_int_equal(sk_mcast_leave(fd, &g, "lo", NULL), 0);
    assert_false(lo_has("239.77.18.1:0"));
    sk_close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_every_file),
        cmocka_unit_test(skipped_interfaces_are_unknown),
        cmocka_unit_test(missing_files_add_nothing),
        cmocka_unit_test(a_join_shows_up),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
