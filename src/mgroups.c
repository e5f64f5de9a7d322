/* Multicast groups joined per interface, as the kernel lists them in /proc/net (what `ip maddr`
 * reads): igmp (IPv4), igmp6 (IPv6), dev_mcast (link layer), and the source filters of
 * source-specific joins in mcfilter and mcfilter6 (which `ip maddr` does not show, and the kernel
 * shows only in part: see sk_mgroup.sources_unknown). */
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

/* The interfaces in the order the kernel walks them (igmp and igmp6 list them in that order, as
 * mcfilter does), each with its newest group: the head of its list, listed first. */
struct order {
    unsigned *index;
    sk_addr *head;
    size_t n, cap;
    unsigned first_filtered; /* the interface mcfilter(6) starts with, 0 if it lists none */
};

static int order_add(struct order *o, unsigned idx, const sk_addr *head)
{
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 16;
        unsigned *i = realloc(o->index, cap * sizeof *i);
        if (!i)
            return -ENOMEM;
        o->index = i;
        sk_addr *h = realloc(o->head, cap * sizeof *h);
        if (!h)
            return -ENOMEM;
        o->head = h;
        o->cap = cap;
    }
    o->index[o->n] = idx;
    o->head[o->n++] = *head;
    return 0;
}

static void order_free(struct order *o)
{
    free(o->index);
    free(o->head);
}

/* igmp: a line per device ("1\tlo        :     1      V3"), then a line per group
 * ("\t\t\t\t010000E0     1 0:00000000\t\t0"): the group in network byte order as a raw word. */
static int read_igmp(const char *dir, sk_iface_list *list, struct order *o)
{
    FILE *f = open_in(dir, "igmp");
    if (!f)
        return 0;
    char line[256];
    unsigned idx = 0;
    bool head = false;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        unsigned v;
        int users;
        if (isdigit((unsigned char)line[0])) {
            if (sscanf(line, "%u", &idx) != 1)
                idx = 0;
            head = true;
        } else if (isspace((unsigned char)line[0]) && idx &&
                   sscanf(line, " %x %d", &v, &users) == 2) {
            sk_addr g;
            set_v4(&g, (uint32_t)v);
            rc = add_group(list, idx, &g, users);
            if (rc == 0 && head)
                rc = order_add(o, idx, &g);
            head = false;
        }
    }
    fclose(f);
    return rc;
}

/* igmp6: "1    lo              ff020000000000000000000000000001     1 0000000C 0" */
static int read_igmp6(const char *dir, sk_iface_list *list, struct order *o)
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
        if (sscanf(line, "%u %*s %63s %d", &idx, hex, &users) != 3 || !set_v6_hex(&g, hex))
            continue;
        rc = add_group(list, idx, &g, users);
        if (rc == 0 && (o->n == 0 || o->index[o->n - 1] != idx))
            rc = order_add(o, idx, &g);
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
static int read_mcfilter(const char *dir, sk_iface_list *list, struct order *o4, struct order *o6)
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
        if (!o4->first_filtered)
            o4->first_filtered = idx;
    }
    if (f)
        fclose(f);
    if (rc < 0 || !(f = open_in(dir, "mcfilter6")))
        return rc;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        unsigned idx;
        unsigned long inc, exc;
        sk_addr ga, sa;
        if (sscanf(line, "%u %*s %63s %63s %lu %lu", &idx, hg, hs, &inc, &exc) != 5 ||
            !set_v6_hex(&ga, hg) || !set_v6_hex(&sa, hs))
            continue;
        rc = add_source(list, idx, &ga, &sa, inc, exc);
        if (!o6->first_filtered)
            o6->first_filtered = idx;
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

/* Interfaces before the one mcfilter starts with were skipped by the kernel: their groups'
 * filters are unknown, except the newest group's (the kernel looked: it has none). */
static void mark_unknown(sk_iface_list *list, const struct order *o, int family)
{
    for (size_t k = 0; k < o->n && o->index[k] != o->first_filtered; k++) {
        sk_iface *f = find_index(list, o->index[k]);
        for (size_t g = 0; f && g < f->ngroups; g++)
            if (f->groups[g].group.u.sa.sa_family == family &&
                !sk_addr_equal(&f->groups[g].group, &o->head[k]))
                f->groups[g].sources_unknown = true;
    }
}

int sk__mgroups_read(const char *procdir, sk_iface_list *list)
{
    struct order o4 = {0}, o6 = {0};
    int rc = read_igmp(procdir, list, &o4);
    if (rc == 0)
        rc = read_igmp6(procdir, list, &o6);
    if (rc == 0)
        rc = read_mcfilter(procdir, list, &o4, &o6);
    if (rc == 0)
        rc = read_dev_mcast(procdir, list);
    if (rc == 0) {
        mark_unknown(list, &o4, AF_INET);
        mark_unknown(list, &o6, AF_INET6);
    }
    order_free(&o4);
    order_free(&o6);
    return rc;
}
