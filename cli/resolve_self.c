/* sockkit resolve -r ADDRESS (the reverse lookup, forward-confirmed) and sockkit resolve --self
 * (this host's name against the addresses on its interfaces: the seed's "Server IP" printed from
 * gethostbyname(gethostname()), which on Debian is 127.0.1.1). */
#include "cli.h"
#include "json.h"
#include "look.h"

#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- -r ADDRESS ----------------------------------------------------------------------------- */

/* Does `name` resolve back to the address (forward-confirmed reverse DNS)? */
static bool confirmed(const char *name, const sk_addr *a)
{
    sk_ai_hints h = {.family = a->u.sa.sa_family, .socktype = SOCK_STREAM};
    sk_ai_list l;
    if (sk_resolve_rows(name, NULL, &h, &l) < 0)
        return false;
    bool yes = false;
    for (size_t i = 0; i < l.n && !yes; i++)
        yes = look_same_ip(&l.v[i].addr, a);
    sk_ai_list_free(&l);
    return yes;
}

int resolve_reverse(const char *text, int socktype, bool json)
{
    sk_addr a;
    bool has_port;
    if (!look_parse_numeric(text, &a, &has_port))
        cli_usage_error("-r takes a numeric IPv4 or IPv6 address (optionally :PORT), not '%s'",
                        text);
    int flags = NI_NAMEREQD | (socktype == SOCK_DGRAM ? NI_DGRAM : 0);
    sk_nameinfo ni;
    int rc = sk_resolve_reverse(&a, flags, &ni);
    char msg[512], source[256], addr[SK_ADDRSTRLEN];
    snprintf(msg, sizeof msg, "%s", rc < 0 ? sk_errmsg() : "");
    sk_addr_source(&a, source, sizeof source);
    look_addr(&a, addr, sizeof addr);
    bool fcrdns = rc == 0 && confirmed(ni.host, &a);
    double ms = (double)ni.elapsed_us / 1000.0;
    const char *nflags = socktype == SOCK_DGRAM ? "NI_NAMEREQD|NI_DGRAM" : "NI_NAMEREQD";
    if (json) {
        struct json j;
        json_init(&j, stdout);
        json_object(&j, NULL);
        json_str(&j, "mode", "reverse");
        json_str(&j, "address", addr);
        if (has_port)
            json_int(&j, "port", sk_addr_port(&a));
        json_str(&j, "flags", nflags);
        json_str(&j, "name", rc == 0 ? ni.host : NULL);
        json_str(&j, "service", rc == 0 && has_port ? ni.service : NULL);
        json_str(&j, "source", source);
        json_num(&j, "elapsed_ms", ms);
        json_bool(&j, "forward_confirmed", fcrdns);
        if (rc < 0) {
            json_object(&j, "error");
            json_str(&j, "eai", sk_gai_name(ni.gai_error));
            json_str(&j, "code", sk_err_name(rc));
            json_str(&j, "message", msg);
            json_end(&j, '}');
        } else {
            json_null(&j, "error");
        }
        json_end(&j, '}');
    } else if (rc == 0) {
        printf("getnameinfo(%s, %s) = \"%s\" from %s in %.3f ms\n", addr, nflags, ni.host, source,
               ms);
        if (has_port)
            printf("port %d/%s = \"%s\"\n", sk_addr_port(&a),
                   socktype == SOCK_DGRAM ? "udp" : "tcp", ni.service);
        printf("forward check: \"%s\" %s %s\n", ni.host,
               fcrdns ? "resolves back to" : "does not resolve back to", addr);
    } else {
        char nss[256];
        sk_nss_hosts(nss, sizeof nss);
        printf("getnameinfo(%s, %s) failed after %.3f ms (sources asked in order: %s)\n", addr,
               nflags, ms, nss);
    }
    fflush(stdout);
    if (rc < 0)
        cli_fail(rc, "%s", msg);
    return EXIT_OK;
}

/* ---- --self --------------------------------------------------------------------------------- */

struct self {
    char name[256];
    sk_ai_list rows;
    int rc;
    char msg[512], source[256];
    sk_iface_list ifs;
    bool have_ifs;
    sk_addr *resolved; /* distinct addresses of the rows */
    size_t nresolved;
};

/* The interface an address is configured on, or NULL. */
static const sk_iface *configured_on(const struct self *s, const sk_addr *a)
{
    for (size_t i = 0; i < s->ifs.n; i++)
        for (size_t k = 0; k < s->ifs.v[i].naddrs; k++)
            if (look_same_ip(&s->ifs.v[i].addrs[k].addr, a))
                return &s->ifs.v[i];
    return NULL;
}

/* Addresses other hosts can use: global scope, on an interface that is not loopback. */
static bool reachable(const sk_iface *f, const sk_ifaddr *x)
{
    return !(f->flags & IFF_LOOPBACK) && x->scope == 0;
}

static bool was_resolved(const struct self *s, const sk_addr *a)
{
    for (size_t i = 0; i < s->nresolved; i++)
        if (look_same_ip(&s->resolved[i], a))
            return true;
    return false;
}

/* What an answer is, in one phrase. */
static const char *verdict(const struct self *s, const sk_addr *a)
{
    const sk_iface *f = configured_on(s, a);
    if (f)
        return f->flags & IFF_LOOPBACK ? "loopback: on lo, only this host reaches it there"
                                       : "on an interface";
    if (look_is_loopback(a))
        return "on no interface: inside lo's 127.0.0.0/8, so only this host reaches it (Debian "
               "writes \"127.0.1.1 HOSTNAME\" into /etc/hosts for a machine without a fixed "
               "address)";
    return "on no interface of this host (an old /etc/hosts or DNS entry?)";
}

static bool differ(const struct self *s)
{
    for (size_t i = 0; i < s->nresolved; i++) {
        const sk_iface *f = configured_on(s, &s->resolved[i]);
        if (!f || (f->flags & IFF_LOOPBACK))
            return true;
    }
    for (size_t i = 0; i < s->ifs.n; i++)
        for (size_t k = 0; k < s->ifs.v[i].naddrs; k++)
            if (reachable(&s->ifs.v[i], &s->ifs.v[i].addrs[k]) &&
                !was_resolved(s, &s->ifs.v[i].addrs[k].addr))
                return true;
    return s->rc < 0;
}

static const sk_addr *ipv4_answer(const struct self *s)
{
    for (size_t i = 0; i < s->nresolved; i++)
        if (s->resolved[i].u.sa.sa_family == AF_INET)
            return &s->resolved[i];
    return NULL;
}

static void self_text(const struct self *s)
{
    char t[SK_ADDRSTRLEN];
    printf("gethostname()        %s\n", s->name);
    if (s->rc == 0) {
        printf("getaddrinfo(\"%s\")  from %s in %.3f ms%s%s\n", s->name, s->source,
               (double)s->rows.elapsed_us / 1000.0,
               s->rows.n && s->rows.v[0].canonname[0] ? ", canonical name " : "",
               s->rows.n ? s->rows.v[0].canonname : "");
        for (size_t i = 0; i < s->nresolved; i++)
            printf("  %-30s %s\n", look_addr(&s->resolved[i], t, sizeof t),
                   verdict(s, &s->resolved[i]));
        const sk_addr *v4 = ipv4_answer(s);
        if (v4)
            printf("gethostbyname(gethostname()) gives %s: the \"Server IP\" such a server "
                   "prints\n",
                   look_addr(v4, t, sizeof t));
    } else {
        printf("getaddrinfo(\"%s\")  fails: %s (asked: %s)\n", s->name, s->msg, s->source);
    }
    printf("on the interfaces:\n");
    for (size_t i = 0; i < s->ifs.n; i++)
        for (size_t k = 0; k < s->ifs.v[i].naddrs; k++) {
            const sk_ifaddr *x = &s->ifs.v[i].addrs[k];
            const char *scope = sk_scope_name(x->scope);
            printf("  %-10s %-40s %s%s\n", s->ifs.v[i].name, look_prefix(x, t, sizeof t),
                   scope ? scope : "?", was_resolved(s, &x->addr) ? "  (the name gives it)" : "");
        }
    if (!differ(s)) {
        printf("the name and the interfaces agree: %s resolves to the addresses other hosts "
               "reach it at\n",
               s->name);
        return;
    }
    printf("they differ: ");
    int n = 0;
    for (size_t i = 0; i < s->ifs.n; i++)
        for (size_t k = 0; k < s->ifs.v[i].naddrs; k++)
            if (reachable(&s->ifs.v[i], &s->ifs.v[i].addrs[k]) &&
                !was_resolved(s, &s->ifs.v[i].addrs[k].addr))
                printf("%s%s", n++ ? ", " : "other hosts reach this one at ",
                       look_addr(&s->ifs.v[i].addrs[k].addr, t, sizeof t));
    printf("%s%s does not resolve to %s\n", n ? "; " : "", s->name,
           n == 1 ? "it"
           : n    ? "those"
                  : "an address on a non-loopback interface");
}

static void self_json(const struct self *s)
{
    struct json j;
    char t[SK_ADDRSTRLEN];
    json_init(&j, stdout);
    json_object(&j, NULL);
    json_str(&j, "mode", "self");
    json_str(&j, "hostname", s->name);
    json_str(&j, "source", s->source);
    json_num(&j, "elapsed_ms", (double)s->rows.elapsed_us / 1000.0);
    json_str(&j, "canonical_name",
             s->rows.n && s->rows.v[0].canonname[0] ? s->rows.v[0].canonname : NULL);
    json_array(&j, "resolved");
    for (size_t i = 0; i < s->nresolved; i++) {
        const sk_iface *f = configured_on(s, &s->resolved[i]);
        json_object(&j, NULL);
        json_str(&j, "address", look_addr(&s->resolved[i], t, sizeof t));
        json_str(&j, "iface", f ? f->name : NULL);
        json_bool(&j, "loopback", look_is_loopback(&s->resolved[i]));
        json_str(&j, "note", verdict(s, &s->resolved[i]));
        json_end(&j, '}');
    }
    json_end(&j, ']');
    const sk_addr *v4 = ipv4_answer(s);
    json_str(&j, "gethostbyname", v4 ? look_addr(v4, t, sizeof t) : NULL);
    json_array(&j, "interface_addresses");
    for (size_t i = 0; i < s->ifs.n; i++)
        for (size_t k = 0; k < s->ifs.v[i].naddrs; k++) {
            const sk_ifaddr *x = &s->ifs.v[i].addrs[k];
            json_object(&j, NULL);
            json_str(&j, "iface", s->ifs.v[i].name);
            json_str(&j, "address", look_addr(&x->addr, t, sizeof t));
            json_int(&j, "prefix", x->prefix);
            json_str(&j, "scope", sk_scope_name(x->scope));
            json_bool(&j, "reachable_from_others", reachable(&s->ifs.v[i], x));
            json_bool(&j, "resolved", was_resolved(s, &x->addr));
            json_end(&j, '}');
        }
    json_end(&j, ']');
    json_bool(&j, "differ", differ(s));
    if (s->rc < 0) {
        json_object(&j, "error");
        json_str(&j, "eai", sk_gai_name(s->rows.gai_error));
        json_str(&j, "code", sk_err_name(s->rc));
        json_str(&j, "message", s->msg);
        json_end(&j, '}');
    } else {
        json_null(&j, "error");
    }
    json_end(&j, '}');
}

int resolve_self(bool json)
{
    struct self s = {0};
    int rc = sk_hostname(s.name, sizeof s.name);
    if (rc < 0)
        cli_fail(rc, "%s", sk_errmsg());
    sk_ai_hints h = {.socktype = SOCK_STREAM, .flags = AI_CANONNAME};
    s.rc = sk_resolve_rows(s.name, NULL, &h, &s.rows);
    snprintf(s.msg, sizeof s.msg, "%s", s.rc < 0 ? sk_errmsg() : "");
    sk_name_source(s.name, AF_UNSPEC, s.source, sizeof s.source);
    if (s.rows.builtin)
        snprintf(s.source, sizeof s.source, "built in (RFC 6761)");
    if ((rc = sk_ifaces_list(&s.ifs)) < 0)
        cli_fail(rc, "%s", sk_errmsg());
    s.resolved = calloc(s.rows.n ? s.rows.n : 1, sizeof *s.resolved);
    if (!s.resolved)
        cli_die(EXIT_RUNTIME, "out of memory");
    for (size_t i = 0; i < s.rows.n; i++)
        if (!was_resolved(&s, &s.rows.v[i].addr))
            s.resolved[s.nresolved++] = s.rows.v[i].addr;
    if (json)
        self_json(&s);
    else
        self_text(&s);
    fflush(stdout);
    sk_ai_list_free(&s.rows);
    sk_ifaces_free(&s.ifs);
    free(s.resolved);
    /* Not cli_fail: the name is this host's own, not the input; that it does not resolve is the
     * host's configuration failing at run time. */
    if (s.rc < 0)
        cli_die(EXIT_RUNTIME, "%s", s.msg);
    return EXIT_OK;
}
