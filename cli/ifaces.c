/* sockkit ifaces: every interface with its flags, MTU, addresses (link-local ones in the %iface
 * form an endpoint takes) and the multicast groups joined on it, with the sources of SSM joins;
 * --route ADDRESS: the interface and source address the kernel would use to reach ADDRESS. */
#include "cli.h"
#include "json.h"
#include "look.h"
#include "opts.h"

#include <net/if_arp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { O_ROUTE = 256 };

static const struct cli_opt ifaces_opts[] = {
    {O_ROUTE, "route", CLI_ARG, "ADDRESS",
     "which interface and source address the kernel uses to reach ADDRESS (as ip route get)", NULL},
    CLI_OPT_JSON,
    CLI_OPT_HELP,
    CLI_OPT_NO_TRACE,
    CLI_OPT_END,
};

const struct cli_cmd cli_cmd_ifaces = {
    .name = "ifaces",
    .summary = "interfaces, their addresses and joined multicast groups; the route to an address",
    .synopsis = "[--json] [IFACE]\n       sockkit ifaces [--json] --route ADDRESS",
    .about = "Every interface (or IFACE, by name or index) with its index, flags, MTU, IPv4 and\n"
             "IPv6 addresses with prefix and scope (link-local ones as fe80::1%eth0, ready for\n"
             "an endpoint), and the multicast groups joined on it, with the sources of\n"
             "source-specific (SSM) joins. Read through rtnetlink and /proc/net/igmp, igmp6,\n"
             "mcfilter, mcfilter6 and dev_mcast.",
    .opts = ifaces_opts,
    .footer = "Exit status: 0 success, 1 the kernel could not be asked or has no route,\n"
              "2 bad input.",
    .run = cmd_ifaces,
};

static const char *family_word(const sk_addr *a)
{
    return a->u.sa.sa_family == AF_INET6 ? "inet6" : "inet";
}

static const char *link_type(int type)
{
    switch (type) {
    case ARPHRD_ETHER:
        return "ether";
    case ARPHRD_LOOPBACK:
        return "loopback";
    case ARPHRD_NONE:
        return "none";
    case ARPHRD_TUNNEL:
        return "ipip";
    case ARPHRD_SIT:
        return "sit";
    case ARPHRD_TUNNEL6:
        return "tunnel6";
    case ARPHRD_IEEE80211:
        return "ieee802.11";
    default:
        return NULL;
    }
}

/* ---- text ----------------------------------------------------------------------------------- */

static void print_addr(const sk_iface *f, const sk_ifaddr *x)
{
    char a[SK_ADDRSTRLEN + 8], b[SK_ADDRSTRLEN], flags[160];
    const char *scope = sk_scope_name(x->scope);
    printf("    %-5s %-36s", family_word(&x->addr), look_prefix(x, a, sizeof a));
    if (x->peer.u.sa.sa_family)
        printf(" peer %s", look_addr(&x->peer, b, sizeof b));
    if (x->broadcast.u.sa.sa_family)
        printf(" brd %s", look_addr(&x->broadcast, b, sizeof b));
    if (scope)
        printf(" scope %s", scope);
    else
        printf(" scope %d", x->scope);
    if (sk_ifaddr_flags_format(x, flags, sizeof flags) > 0)
        printf(" %s", flags);
    if (x->label[0] && strcmp(x->label, f->name)) /* eth0:1 */
        printf(" label %s", x->label);
    printf("\n");
}

static void print_groups(const sk_iface *f)
{
    char a[SK_ADDRSTRLEN];
    for (size_t g = 0; g < f->ngroups; g++) {
        const sk_mgroup *m = &f->groups[g];
        printf("    %-5s group %-30s users %d", family_word(&m->group),
               look_addr(&m->group, a, sizeof a), m->users);
        for (size_t s = 0; s < m->nsources; s++)
            printf("%s %s (%s)", s ? "," : " sources", look_addr(&m->sources[s].addr, a, sizeof a),
                   m->sources[s].include ? "include" : "exclude");
        /* Only where a filter is expected: every group of an interface the kernel skipped is
         * "unknown", and saying so for 224.0.0.1 and ff02::1 would be noise. */
        if (m->sources_unknown && sk_addr_is_ssm(&m->group))
            printf(" sources not listed by the kernel (/proc/net/mcfilter skipped %s)", f->name);
        printf("\n");
    }
    if (f->nlink_groups) {
        printf("    link  groups");
        for (size_t g = 0; g < f->nlink_groups; g++)
            printf(" %s", f->link_groups[g].addr);
        printf("\n");
    }
}

static void print_iface(const sk_iface *f)
{
    char flags[256];
    sk_iface_flags_format(f->flags, flags, sizeof flags);
    printf("%u: %s <%s> mtu %u state %s", f->index, f->name, flags, f->mtu, f->operstate);
    const char *type = link_type(f->type);
    if (type)
        printf(" link/%s", type);
    else
        printf(" link/%d", f->type);
    if (f->hwaddr[0])
        printf(" %s", f->hwaddr);
    if (f->kind[0])
        printf(" (%s)", f->kind);
    printf("\n");
    for (size_t k = 0; k < f->naddrs; k++)
        print_addr(f, &f->addrs[k]);
    print_groups(f);
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static void json_flag_words(struct json *j, const char *key, const char *text, char sep)
{
    json_array(j, key);
    while (*text) {
        char word[64];
        size_t n = strcspn(text, (char[]){sep, 0});
        snprintf(word, sizeof word, "%.*s", (int)n, text);
        json_str(j, NULL, word);
        text += n + (text[n] == sep);
    }
    json_end(j, ']');
}

static void json_addr(struct json *j, const sk_ifaddr *x)
{
    char a[SK_ADDRSTRLEN], flags[160];
    const char *scope = sk_scope_name(x->scope);
    json_object(j, NULL);
    json_str(j, "family", family_word(&x->addr));
    json_str(j, "address", look_addr(&x->addr, a, sizeof a));
    json_int(j, "prefix", x->prefix);
    json_str(j, "scope", scope);
    json_int(j, "scope_number", x->scope);
    json_str(j, "peer", x->peer.u.sa.sa_family ? look_addr(&x->peer, a, sizeof a) : NULL);
    json_str(j, "broadcast",
             x->broadcast.u.sa.sa_family ? look_addr(&x->broadcast, a, sizeof a) : NULL);
    json_str(j, "label", x->label[0] ? x->label : NULL);
    sk_ifaddr_flags_format(x, flags, sizeof flags);
    json_flag_words(j, "flags", flags, ' ');
    json_int(j, "valid_lft", x->valid_lft);
    json_int(j, "preferred_lft", x->preferred_lft);
    json_end(j, '}');
}

static void json_groups(struct json *j, const sk_iface *f)
{
    char a[SK_ADDRSTRLEN];
    json_array(j, "groups");
    for (size_t g = 0; g < f->ngroups; g++) {
        const sk_mgroup *m = &f->groups[g];
        json_object(j, NULL);
        json_str(j, "family", family_word(&m->group));
        json_str(j, "group", look_addr(&m->group, a, sizeof a));
        json_int(j, "users", m->users);
        json_bool(j, "sources_unknown", m->sources_unknown);
        json_array(j, "sources");
        for (size_t s = 0; s < m->nsources; s++) {
            json_object(j, NULL);
            json_str(j, "address", look_addr(&m->sources[s].addr, a, sizeof a));
            json_int(j, "include", (long long)m->sources[s].include);
            json_int(j, "exclude", (long long)m->sources[s].exclude);
            json_end(j, '}');
        }
        json_end(j, ']');
        json_end(j, '}');
    }
    json_end(j, ']');
    json_array(j, "link_groups");
    for (size_t g = 0; g < f->nlink_groups; g++) {
        json_object(j, NULL);
        json_str(j, "address", f->link_groups[g].addr);
        json_int(j, "users", f->link_groups[g].users);
        json_end(j, '}');
    }
    json_end(j, ']');
}

static void json_iface(struct json *j, const sk_iface *f)
{
    char flags[256];
    sk_iface_flags_format(f->flags, flags, sizeof flags);
    json_object(j, NULL);
    json_int(j, "index", f->index);
    json_str(j, "name", f->name);
    json_flag_words(j, "flags", flags, ',');
    json_int(j, "flags_number", f->flags);
    json_int(j, "mtu", f->mtu);
    json_str(j, "operstate", f->operstate);
    json_str(j, "link_type", link_type(f->type));
    json_int(j, "link_type_number", f->type);
    json_str(j, "hwaddr", f->hwaddr[0] ? f->hwaddr : NULL);
    json_str(j, "kind", f->kind[0] ? f->kind : NULL);
    json_array(j, "addresses");
    for (size_t k = 0; k < f->naddrs; k++)
        json_addr(j, &f->addrs[k]);
    json_end(j, ']');
    json_groups(j, f);
    json_end(j, '}');
}

/* ---- --route -------------------------------------------------------------------------------- */

static int route(const char *text, bool json)
{
    sk_addr dst;
    bool has_port;
    if (!look_parse_numeric(text, &dst, &has_port))
        cli_usage_error("--route takes a numeric IPv4 or IPv6 address, not '%s'", text);
    sk_route r;
    int rc = sk_route_get(&dst, &r);
    if (rc < 0)
        cli_fail(rc, "%s", sk_errmsg());
    char d[SK_ADDRSTRLEN], s[SK_ADDRSTRLEN], g[SK_ADDRSTRLEN];
    look_addr(&dst, d, sizeof d);
    const char *type = sk_route_type_name(r.type);
    if (json) {
        struct json j;
        json_init(&j, stdout);
        json_object(&j, NULL);
        json_str(&j, "destination", d);
        json_str(&j, "iface", r.iface[0] ? r.iface : NULL);
        json_int(&j, "ifindex", r.ifindex);
        json_str(&j, "source", r.src.u.sa.sa_family ? look_addr(&r.src, s, sizeof s) : NULL);
        json_str(&j, "gateway",
                 r.gateway.u.sa.sa_family ? look_addr(&r.gateway, g, sizeof g) : NULL);
        json_str(&j, "type", r.netlink ? type : NULL);
        if (r.netlink)
            json_int(&j, "table", r.table);
        else
            json_null(&j, "table");
        json_str(&j, "method", r.netlink ? "rtnetlink" : "udp-connect");
        json_end(&j, '}');
        return EXIT_OK;
    }
    printf("%s", d);
    if (r.gateway.u.sa.sa_family)
        printf(" via %s", look_addr(&r.gateway, g, sizeof g));
    printf(" dev %s", r.iface[0] ? r.iface : "?");
    if (r.src.u.sa.sa_family)
        printf(" src %s", look_addr(&r.src, s, sizeof s));
    if (r.netlink)
        printf("  (%s route, table %u%s; the kernel's answer to RTM_GETROUTE)\n", type ? type : "?",
               r.table,
               r.table == 254   ? " main"
               : r.table == 255 ? " local"
                                : "");
    else
        printf("  (rtnetlink unavailable: the local address of a connected UDP socket)\n");
    if (r.src.u.sa.sa_family)
        printf("a socket connecting to %s gets source address %s on %s\n", d, s,
               r.iface[0] ? r.iface : "?");
    return EXIT_OK;
}

int cmd_ifaces(int argc, char **argv)
{
    const char *to = NULL;
    struct cli_parser p = CLI_PARSER(&cli_cmd_ifaces);
    struct cli_common co = {0};
    int c;
    while ((c = cli_next_option(&p, argc, argv, &co)) != -1)
        if (c == O_ROUTE)
            to = optarg;
    bool json = co.json;
    int rest = argc - optind;
    if (rest > 1 || (to && rest))
        cli_usage_error("unexpected argument '%s'", argv[optind + (rest > 1)]);
    if (to)
        return route(to, json);
    sk_iface_list list;
    int rc = sk_ifaces_list(&list);
    if (rc < 0)
        cli_fail(rc, "%s", sk_errmsg());
    const sk_iface *only = NULL;
    if (rest && !(only = sk_ifaces_find(&list, argv[optind]))) {
        char names[256] = "";
        for (size_t i = 0; i < list.n; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                     list.v[i].name);
        sk_ifaces_free(&list);
        cli_die(EXIT_USAGE, "no interface '%s' (this host has %s)", argv[optind], names);
    }
    struct json j;
    if (json) {
        json_init(&j, stdout);
        json_object(&j, NULL);
        json_array(&j, "interfaces");
    }
    for (size_t i = 0; i < list.n; i++) {
        if (only && &list.v[i] != only)
            continue;
        if (json)
            json_iface(&j, &list.v[i]);
        else
            print_iface(&list.v[i]);
    }
    if (json) {
        json_end(&j, ']');
        json_end(&j, '}');
    }
    sk_ifaces_free(&list);
    return EXIT_OK;
}
