/* Multicast groups joined per interface, as the kernel lists them in /proc/net (what `ip maddr`
 * reads): igmp (IPv4), igmp6 (IPv6), dev_mcast (link layer), and the source filters of
 * source-specific joins in mcfilter and mcfilter6 (which `ip maddr` does not show). */
#include "internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sk_iface *find_index(sk_iface_list *list, unsigned index)
{
    for (size_t i = 0; i < list->n; i++)
        if (list->v[i].index == index)
            return &list->v[i];
    return NULL;
}

static FILE *open_in(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return fopen(path, "re");
}

static void set_v4(sk_addr *a, uint32_t s_addr)
{
    memset(a, 0, sizeof *a);
    a->u.in.sin_family = AF_INET;
    a->u.in.sin_addr.s_addr = s_addr;
    a->len = sizeof a->u.in;
}

/* 32 hex digits, as %pi6 prints an IPv6 address. */
static bool set_v6_hex(sk_addr *a, const char *hex)
{
    if (strlen(hex) != 32)
        return false;
    memset(a, 0, sizeof *a);
    for (int i = 0; i < 16; i++) {
        unsigned b;
        if (!isxdigit((unsigned char)hex[2 * i]) || !isxdigit((unsigned char)hex[2 * i + 1]) ||
            sscanf(hex + 2 * i, "%2x", &b) != 1)
            return false;
        a->u.in6.sin6_addr.s6_addr[i] = (unsigned char)b;
    }
    a->u.in6.sin6_family = AF_INET6;
    a->len = sizeof a->u.in6;
    return true;
}

static sk_mgroup *group_of(sk_iface *f, const sk_addr *g, bool create)
{
    for (size_t i = 0; i < f->ngroups; i++)
        if (sk_addr_equal(&f->groups[i].group, g))
            return &f->groups[i];
    if (!create)
        return NULL;
    sk_mgroup *m = sk__array_push(&f->groups, &f->ngroups, sizeof *f->groups);
    if (m)
        m->group = *g;
    return m;
}

static int add_group(sk_iface_list *list, unsigned idx, const sk_addr *g, int users)
{
    sk_iface *f = find_index(list, idx);
    if (!f)
        return 0;
    sk_mgroup *m = group_of(f, g, true);
    if (!m)
        return -ENOMEM;
    m->users = users;
    return 0;
}

/* igmp: a line per device ("1\tlo        :     1      V3"), then a line per group
 * ("\t\t\t\t010000E0     1 0:00000000\t\t0"): the group in network byte order as a raw word. */
static int read_igmp(const char *dir, sk_iface_list *list)
{
    FILE *f = open_in(dir, "igmp");
    if (!f)
        return 0;
    char line[256];
    unsigned idx = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        unsigned v;
        int users;
        if (isdigit((unsigned char)line[0])) {
            if (sscanf(line, "%u", &idx) != 1)
                idx = 0;
        } else if (isspace((unsigned char)line[0]) && idx &&
                   sscanf(line, " %x %d", &v, &users) == 2) {
            sk_addr g;
            set_v4(&g, (uint32_t)v);
            rc = add_group(list, idx, &g, users);
        }
    }
    fclose(f);
    return rc;
}

/* igmp6: "1    lo              ff020000000000000000000000000001     1 0000000C 0" */
static int read_igmp6(const char *dir, sk_iface_list *list)
{
    FILE *f = open_in(dir, "igmp6");
    if (!f)
        return 0;
    char line[256], hex[64];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        unsigned idx;
        int users;
        sk_addr g;
        if (sscanf(line, "%u %*s %63s %d", &idx, hex, &users) == 3 && set_v6_hex(&g, hex))
            rc = add_group(list, idx, &g, users);
    }
    fclose(f);
    return rc;
}

static int add_source(sk_iface_list *list, unsigned idx, const sk_addr *g, const sk_addr *s,
                      unsigned long inc, unsigned long exc)
{
    sk_iface *f = find_index(list, idx);
    if (!f)
        return 0;
    sk_mgroup *m = group_of(f, g, true);
    if (!m)
        return -ENOMEM;
    sk_mgroup_source *src = sk__array_push(&m->sources, &m->nsources, sizeof *m->sources);
    if (!src)
        return -ENOMEM;
    *src = (sk_mgroup_source){.addr = *s, .include = inc, .exclude = exc};
    return 0;
}

/* mcfilter: "  4   eth0 0xe8010101 0x0a000001      1      0" (addresses in host byte order);
 * mcfilter6: "  4   eth0 ff3e...0077 fd77...0001      1      0". The device name is cut to six
 * characters there, so the index is what counts. The header line does not parse as numbers. */
static int read_mcfilter(const char *dir, sk_iface_list *list)
{
    FILE *f = open_in(dir, "mcfilter");
    int rc = 0;
    char line[256], hg[64], hs[64];
    while (f && rc == 0 && fgets(line, sizeof line, f)) {
        unsigned idx, g, s;
        unsigned long inc, exc;
        if (sscanf(line, "%u %*s 0x%x 0x%x %lu %lu", &idx, &g, &s, &inc, &exc) != 5)
            continue;
        sk_addr ga, sa;
        set_v4(&ga, htonl(g));
        set_v4(&sa, htonl(s));
        rc = add_source(list, idx, &ga, &sa, inc, exc);
    }
    if (f)
        fclose(f);
    if (rc < 0 || !(f = open_in(dir, "mcfilter6")))
        return rc;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        unsigned idx;
        unsigned long inc, exc;
        sk_addr ga, sa;
        if (sscanf(line, "%u %*s %63s %63s %lu %lu", &idx, hg, hs, &inc, &exc) == 5 &&
            set_v6_hex(&ga, hg) && set_v6_hex(&sa, hs))
            rc = add_source(list, idx, &ga, &sa, inc, exc);
    }
    fclose(f);
    return rc;
}

/* dev_mcast: "4    eth0            1     0     01005e000001" */
static int read_dev_mcast(const char *dir, sk_iface_list *list)
{
    FILE *f = open_in(dir, "dev_mcast");
    if (!f)
        return 0;
    char line[256], hex[128];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        unsigned idx;
        int users;
        if (sscanf(line, "%u %*s %d %*d %127s", &idx, &users, hex) != 3)
            continue;
        sk_iface *i = find_index(list, idx);
        if (!i)
            continue;
        sk_link_group *lg =
            sk__array_push(&i->link_groups, &i->nlink_groups, sizeof *i->link_groups);
        if (!lg) {
            rc = -ENOMEM;
            break;
        }
        lg->users = users;
        size_t at = 0;
        for (size_t k = 0; hex[k] && hex[k + 1] && at + 4 <= sizeof lg->addr; k += 2)
            at += (size_t)snprintf(lg->addr + at, sizeof lg->addr - at, "%s%c%c", k ? ":" : "",
                                   tolower((unsigned char)hex[k]),
                                   tolower((unsigned char)hex[k + 1]));
    }
    fclose(f);
    return rc;
}

int sk__mgroups_read(const char *procdir, sk_iface_list *list)
{
    int rc = read_igmp(procdir, list);
    if (rc == 0)
        rc = read_igmp6(procdir, list);
    if (rc == 0)
        rc = read_mcfilter(procdir, list);
    if (rc == 0)
        rc = read_dev_mcast(procdir, list);
    return rc;
}
