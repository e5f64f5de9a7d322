/* sockkit resolve: what a name resolves to, as the rows socket() and connect()/bind() are called
 * with; which source answered and how long it took; the order sk_connect tries the addresses in;
 * what AI_ADDRCONFIG and AI_V4MAPPED change. The reverse lookup (-r) and this host's own name
 * (--self) are in resolve_self.c. */
#include "cli.h"
#include "json.h"
#include "look.h"
#include "opts.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { O_PASSIVE = 256, O_ALL_FLAGS, O_SELF };

static const struct cli_opt resolve_opts[] = {
    {'4', NULL, CLI_NOARG, NULL, "IPv4 only (AF_INET)", NULL},
    {'6', NULL, CLI_NOARG, NULL, "IPv6 only (AF_INET6)", NULL},
    {'u', "udp", CLI_NOARG, NULL, "datagram rows (SOCK_DGRAM; the service's UDP port)", NULL},
    {O_PASSIVE, "passive", CLI_NOARG, NULL,
     "as a server asks: AI_PASSIVE; without a name the wildcard addresses", NULL},
    {O_ALL_FLAGS, "all-flags", CLI_NOARG, NULL,
     "look up again with AI_ADDRCONFIG and AI_V4MAPPED and show what each changes", NULL},
    {'r', "reverse", CLI_ARG, "ADDRESS", "reverse lookup: the name of an address (NI_NAMEREQD)",
     NULL},
    {O_SELF, "self", CLI_NOARG, NULL,
     "this host: gethostname(), what it resolves to, the addresses on the interfaces", NULL},
    CLI_OPT_JSON,
    CLI_OPT_HELP,
    CLI_OPT_NO_TRACE,
    CLI_OPT_END,
};

const struct cli_cmd cli_cmd_resolve = {
    .name = "resolve",
    .summary = "what a name resolves to: getaddrinfo's rows, the source, the connect order",
    .synopsis = "[-4|-6] [-u] [--passive] [--all-flags] [--json] NAME[:PORT|SERVICE]\n"
                "       sockkit resolve [-u] [--json] -r ADDRESS[:PORT]\n"
                "       sockkit resolve [--json] --self",
    .about = "Each getaddrinfo() result as the row a socket is made from: socket(family, type,\n"
             "protocol), then connect() or bind() to the address and port. Shows the canonical\n"
             "name, which source answered (the library's RFC 6761 rule for localhost, the hosts\n"
             "file or DNS, from /etc/nsswitch.conf), how long the lookup took, and the order\n"
             "sk_connect tries the addresses in (Happy Eyeballs, RFC 8305, when IPv6 and IPv4\n"
             "both resolve).",
    .opts = resolve_opts,
    .footer = "Exit status: 0 resolved, 2 malformed input or a name (or address) with no answer\n"
              "(EAI_NONAME, as every command exits for a host that does not resolve), 1 the\n"
              "lookup could not be made (EAI_AGAIN, EAI_FAIL: the resolver failed).",
    .run = cmd_resolve,
};

struct query {
    const char *text; /* as given */
    char host[340];
    char service[64];
    bool has_host, has_service;
    int family, socktype;
    bool passive, all_flags, json;
};

/* ---- input ----------------------------------------------------------------------------------- */

static void check_host(const char *text, const char *host)
{
    size_t n = strlen(host);
    for (const char *p = host; *p; p++)
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
            cli_usage_error("'%s': a name has no spaces or control characters", text);
    if (n > 254 || (n == 254 && host[253] != '.'))
        cli_usage_error("'%s': a DNS name has at most 253 characters", text);
    for (const char *p = host; *p;) {
        size_t label = strcspn(p, ".");
        if (label > 63)
            cli_usage_error("'%s': a DNS label has at most 63 characters", text);
        p += label + (p[label] == '.');
    }
}

static bool is_v6_literal(const char *s)
{
    char tmp[INET6_ADDRSTRLEN + 1];
    struct in6_addr a;
    snprintf(tmp, sizeof tmp, "%.*s", (int)strcspn(s, "%"), s);
    return strlen(s) < 128 && inet_pton(AF_INET6, tmp, &a) == 1;
}

/* NAME, NAME:PORT, NAME:SERVICE, [V6], [V6]:PORT, V6 (two colons or more), :PORT, *:PORT. */
static void parse_target(struct query *q, const char *text)
{
    q->text = text;
    if (!*text)
        cli_usage_error("empty NAME (give a name, an address, or :PORT with --passive)");
    if (!strncmp(text, "unix:", 5))
        cli_usage_error("'%s': a Unix socket path is not looked up", text);
    size_t colons = 0;
    for (const char *p = text; *p; p++)
        colons += *p == ':';
    size_t n = strlen(text);
    if (text[0] == '[' && text[n - 1] == ']') { /* [v6] without a port */
        snprintf(q->host, sizeof q->host, "%.*s", (int)(n - 2), text + 1);
        if (!is_v6_literal(q->host))
            cli_usage_error("'%s': '%s' in brackets is not an IPv6 address", text, q->host);
        q->has_host = true;
        return;
    }
    if (text[0] != '[' && colons >= 2) { /* a bare IPv6 address */
        if (!is_v6_literal(text))
            cli_usage_error("'%s' is not an IPv6 address (with a port: [ADDRESS]:PORT)", text);
        snprintf(q->host, sizeof q->host, "%s", text);
        q->has_host = true;
        return;
    }
    if (colons == 0) {
        if (n >= sizeof q->host)
            cli_usage_error("'%s': a DNS name has at most 253 characters", text);
        snprintf(q->host, sizeof q->host, "%s", text);
        q->has_host = true;
        check_host(text, q->host);
        return;
    }
    sk_endpoint ep;
    if (sk_endpoint_parse(text, &ep) < 0)
        cli_usage_error("%s", sk_errmsg());
    snprintf(q->service, sizeof q->service, "%s", ep.service);
    q->has_service = true;
    if (ep.any_host)
        return;
    q->has_host = true;
    if (ep.scope[0])
        snprintf(q->host, sizeof q->host, "%s%%%s", ep.host, ep.scope);
    else
        snprintf(q->host, sizeof q->host, "%s", ep.host);
    check_host(text, q->host);
}

/* ---- the lookup ------------------------------------------------------------------------------ */

static sk_ai_hints base_hints(const struct query *q)
{
    return (sk_ai_hints){.family = q->family,
                         .socktype = q->socktype,
                         .protocol = 0,
                         .flags = (q->passive ? AI_PASSIVE : 0) | (q->has_host ? AI_CANONNAME : 0)};
}

static int lookup(const struct query *q, const sk_ai_hints *h, sk_ai_list *out)
{
    return sk_resolve_rows(q->has_host ? q->host : NULL, q->has_service ? q->service : NULL, h,
                           out);
}

static const char *family_text(int family)
{
    return family ? sk_family_name(family) : "AF_UNSPEC";
}

/* The distinct addresses of the rows (what sk_resolve keeps), in order. */
static size_t distinct(const sk_ai_list *l, sk_addr *out)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++) {
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++)
            dup = sk_addr_equal(&out[k], &l->v[i].addr);
        if (!dup)
            out[n++] = l->v[i].addr;
    }
    return n;
}

/* ---- text output ----------------------------------------------------------------------------- */

static void print_call(const struct query *q, const sk_ai_hints *h, const sk_ai_list *l)
{
    char flags[128];
    sk_ai_flags_format(h->flags, flags, sizeof flags);
    printf("getaddrinfo(");
    if (q->has_host)
        printf("\"%s\"", q->host);
    else
        printf("NULL");
    printf(q->has_service ? ", \"%s\"" : ", NULL", q->service);
    printf(", {%s, %s, 0, %s})", family_text(h->family), sk_type_name(h->socktype), flags);
    if (l->builtin)
        printf("\n  answered by sockkit's RFC 6761 rule: getaddrinfo(NULL, ...) gives the loopback "
               "addresses");
    printf("\n");
}

static void print_rows(const sk_ai_list *l)
{
    int width = 7; /* "ADDRESS" */
    char addr[SK_ADDRSTRLEN];
    for (size_t i = 0; i < l->n; i++) {
        int n = (int)strlen(look_addr(&l->v[i].addr, addr, sizeof addr));
        width = n > width ? n : width;
    }
    printf("  %-14s %-16s %-18s %-*s %5s  %s\n", "FAMILY", "TYPE", "PROTOCOL", width, "ADDRESS",
           "PORT", "CANONICAL NAME");
    for (size_t i = 0; i < l->n; i++) {
        const sk_ai_row *r = &l->v[i];
        char fam[32], type[32], proto[40];
        snprintf(fam, sizeof fam, "%s (%d)", r->family_name, r->family);
        snprintf(type, sizeof type, "%s (%d)", r->socktype_name, r->socktype);
        snprintf(proto, sizeof proto, "%s (%d)", r->protocol_name, r->protocol);
        printf("  %-14s %-16s %-18s %-*s %5d  %s\n", fam, type, proto, width,
               look_addr(&r->addr, addr, sizeof addr), sk_addr_port(&r->addr), r->canonname);
    }
}

/* The seed's question, answered where it shows: the program passed 0, the rows say which. */
static void print_protocol_hint(const sk_ai_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].protocol == 0)
            continue;
        printf("hint: protocol 0 (IPPROTO_IP) in the hints means \"the default for the type\"; the "
               "rows name it: %d = %s. See 'sockkit proto IPPROTO_IP'.\n",
               l->v[i].protocol, l->v[i].protocol_name);
        return;
    }
}

static void print_order(const struct query *q, const sk_ai_list *l)
{
    if (q->passive) {
        printf("passive rows are for bind(): a server binds the first, or one socket per row "
               "('sockkit listen :PORT' opens one dual-stack [::] socket instead)\n");
        return;
    }
    sk_addr *addrs = calloc(l->n, sizeof *addrs);
    size_t *order = calloc(l->n, sizeof *order);
    if (!addrs || !order)
        cli_die(EXIT_RUNTIME, "out of memory");
    size_t n = distinct(l, addrs);
    int he = sk_connect_order(addrs, n, NULL, order);
    if (q->socktype == SOCK_DGRAM)
        printf("connect order (sk_connect, UDP: connect() sends nothing, so the first address "
               "with a route wins):");
    else if (he == 1)
        printf("connect order (sk_connect, Happy Eyeballs v2, RFC 8305: the families alternate; "
               "each next attempt starts 250 ms after the previous, or when it fails; the first "
               "to connect wins):");
    else
        printf("connect order (sk_connect: one family, getaddrinfo's order, each address after "
               "the previous fails):");
    for (size_t k = 0; k < n; k++) {
        char e[SK_ADDRSTRLEN];
        sk_addr_format(&addrs[order[k]], e, sizeof e);
        printf(" %zu. %s", k + 1, e);
    }
    printf("\n");
    free(addrs);
    free(order);
}

/* ---- --all-flags ------------------------------------------------------------------------------
 */

struct variant {
    int flags;
    int family; /* -1: the query's */
    const char *what;
};

static const struct variant variants[] = {
    {AI_ADDRCONFIG, -1,
     "only families this host has a non-loopback address of (IPv6 answers vanish on an "
     "IPv4-only host)"},
    {AI_V4MAPPED, AF_INET6, "AF_INET6: IPv4 answers as ::ffff:a.b.c.d when there is no IPv6 one"},
    {AI_V4MAPPED | AI_ALL, AF_INET6, "AF_INET6: the IPv6 answers and every IPv4 one, mapped"},
    {AI_V4MAPPED | AI_ADDRCONFIG, -1, "what glibc uses when hints is NULL"},
};
enum { NVARIANTS = sizeof variants / sizeof *variants };

struct variant_result {
    sk_ai_hints hints;
    sk_ai_list list;
    int rc;
    char err[256];
};

static void run_variants(const struct query *q, struct variant_result *res)
{
    for (int i = 0; i < NVARIANTS; i++) {
        sk_ai_hints h = base_hints(q);
        h.flags = (h.flags & ~AI_CANONNAME) | variants[i].flags;
        if (variants[i].family >= 0)
            h.family = variants[i].family;
        res[i].hints = h;
        res[i].rc = lookup(q, &h, &res[i].list);
        snprintf(res[i].err, sizeof res[i].err, "%s", res[i].rc < 0 ? sk_errmsg() : "");
    }
}

static bool has_addr(const sk_ai_list *l, const sk_addr *a)
{
    for (size_t i = 0; i < l->n; i++)
        if (sk_addr_equal(&l->v[i].addr, a))
            return true;
    return false;
}

/* Print the addresses of `a` missing from `b`, each prefixed by sign. Returns how many. */
static int print_missing(const sk_ai_list *a, const sk_ai_list *b, char sign)
{
    sk_addr *v = calloc(a->n ? a->n : 1, sizeof *v);
    if (!v)
        cli_die(EXIT_RUNTIME, "out of memory");
    size_t n = distinct(a, v);
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        if (has_addr(b, &v[i]))
            continue;
        char t[SK_ADDRSTRLEN];
        printf(" %c%s", sign, look_addr(&v[i], t, sizeof t));
        count++;
    }
    free(v);
    return count;
}

static void print_variants(const sk_ai_list *base, const struct variant_result *res)
{
    printf("\nthe same lookup with other flags (+ added, - gone, against the rows above):\n");
    for (int i = 0; i < NVARIANTS; i++) {
        char flags[128];
        sk_ai_flags_format(res[i].hints.flags, flags, sizeof flags);
        printf("  %-26s %-9s ", flags, family_text(res[i].hints.family));
        if (res[i].rc < 0) {
            printf(" fails: %s\n", res[i].err);
        } else {
            int changes = print_missing(&res[i].list, base, '+');
            changes += print_missing(base, &res[i].list, '-');
            printf("%s\n", changes ? "" : " no change");
        }
        printf("  %-26s %s\n", "", variants[i].what);
    }
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static void json_rows(struct json *j, const char *key, const sk_ai_list *l)
{
    json_array(j, key);
    for (size_t i = 0; i < l->n; i++) {
        const sk_ai_row *r = &l->v[i];
        char addr[SK_ADDRSTRLEN], ep[SK_ADDRSTRLEN];
        sk_addr_format(&r->addr, ep, sizeof ep);
        json_object(j, NULL);
        json_str(j, "family", r->family_name);
        json_int(j, "family_number", r->family);
        json_str(j, "socktype", r->socktype_name);
        json_int(j, "socktype_number", r->socktype);
        json_str(j, "protocol", r->protocol_name);
        json_int(j, "protocol_number", r->protocol);
        json_str(j, "address", look_addr(&r->addr, addr, sizeof addr));
        json_int(j, "port", sk_addr_port(&r->addr));
        json_str(j, "endpoint", ep);
        json_str(j, "canonical_name", r->canonname[0] ? r->canonname : NULL);
        json_end(j, '}');
    }
    json_end(j, ']');
}

static void json_hints(struct json *j, const sk_ai_hints *h)
{
    char flags[128];
    sk_ai_flags_format(h->flags, flags, sizeof flags);
    json_object(j, "hints");
    json_str(j, "family", family_text(h->family));
    json_str(j, "socktype", h->socktype ? sk_type_name(h->socktype) : "0");
    json_int(j, "protocol", h->protocol);
    json_str(j, "flags", flags);
    json_end(j, '}');
}

static void json_error(struct json *j, int rc, const sk_ai_list *l, const char *msg)
{
    if (rc >= 0) {
        json_null(j, "error");
        return;
    }
    json_object(j, "error");
    json_str(j, "eai", l->gai_error ? sk_gai_name(l->gai_error) : NULL);
    json_str(j, "code", sk_err_name(rc));
    json_str(j, "message", msg);
    json_end(j, '}');
}

static void json_order(struct json *j, const struct query *q, const sk_ai_list *l)
{
    if (q->passive || !l->n) {
        json_null(j, "connect_order");
        return;
    }
    sk_addr *addrs = calloc(l->n, sizeof *addrs);
    size_t *order = calloc(l->n, sizeof *order);
    if (!addrs || !order)
        cli_die(EXIT_RUNTIME, "out of memory");
    size_t n = distinct(l, addrs);
    int he = sk_connect_order(addrs, n, NULL, order);
    json_object(j, "connect_order");
    json_bool(j, "happy_eyeballs", he == 1 && q->socktype != SOCK_DGRAM);
    json_array(j, "endpoints");
    for (size_t k = 0; k < n; k++) {
        char e[SK_ADDRSTRLEN];
        sk_addr_format(&addrs[order[k]], e, sizeof e);
        json_str(j, NULL, e);
    }
    json_end(j, ']');
    json_end(j, '}');
    free(addrs);
    free(order);
}

static void json_variants(struct json *j, const struct variant_result *res)
{
    json_array(j, "variants");
    for (int i = 0; i < NVARIANTS; i++) {
        json_object(j, NULL);
        json_hints(j, &res[i].hints);
        json_str(j, "what", variants[i].what);
        json_rows(j, "rows", &res[i].list);
        json_error(j, res[i].rc, &res[i].list, res[i].err);
        json_end(j, '}');
    }
    json_end(j, ']');
}

/* ---- forward lookup ---------------------------------------------------------------------------
 */

static int forward(const struct query *q)
{
    sk_ai_hints h = base_hints(q);
    sk_ai_list l;
    int rc = lookup(q, &h, &l);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", rc < 0 ? sk_errmsg() : "");
    char source[256], nss[256];
    sk_name_source(q->has_host ? q->host : NULL, q->family, source, sizeof source);
    sk_nss_hosts(nss, sizeof nss);
    if (l.builtin)
        snprintf(source, sizeof source, "built in (RFC 6761)");
    struct variant_result res[NVARIANTS];
    if (q->all_flags)
        run_variants(q, res);
    double ms = (double)l.elapsed_us / 1000.0;
    if (q->json) {
        struct json j;
        json_init(&j, stdout);
        json_object(&j, NULL);
        json_str(&j, "mode", "forward");
        json_str(&j, "query", q->text);
        json_str(&j, "name", q->has_host ? q->host : NULL);
        json_str(&j, "service", q->has_service ? q->service : NULL);
        json_hints(&j, &h);
        json_str(&j, "source", source);
        json_str(&j, "nsswitch_hosts", nss);
        json_bool(&j, "builtin", l.builtin);
        json_num(&j, "elapsed_ms", ms);
        json_rows(&j, "rows", &l);
        json_order(&j, q, &l);
        if (q->all_flags)
            json_variants(&j, res);
        json_error(&j, rc, &l, msg);
        json_end(&j, '}');
    } else {
        print_call(q, &h, &l);
        if (rc >= 0) {
            printf("%zu row%s from %s in %.3f ms (nsswitch.conf hosts: %s)\n\n", l.n,
                   l.n == 1 ? "" : "s", source, ms, nss);
            print_rows(&l);
            printf("\n");
            print_protocol_hint(&l);
            print_order(q, &l);
        } else {
            bool no_nss = l.builtin || !q->has_host || !strncmp(source, "numeric", 7);
            printf("failed after %.3f ms: %s (%s: %s)\n", ms, msg,
                   no_nss ? "source" : "sources asked in order", no_nss ? source : nss);
        }
        if (q->all_flags)
            print_variants(&l, res);
    }
    if (q->all_flags)
        for (int i = 0; i < NVARIANTS; i++)
            sk_ai_list_free(&res[i].list);
    sk_ai_list_free(&l);
    fflush(stdout);
    if (rc < 0)
        cli_fail(rc, "%s", msg);
    return EXIT_OK;
}

int cmd_resolve(int argc, char **argv)
{
    struct query q = {.socktype = SOCK_STREAM};
    const char *reverse = NULL;
    bool self = false;
    struct cli_parser p = CLI_PARSER(&cli_cmd_resolve);
    struct cli_common co = {0};
    int c;
    while ((c = cli_next_option(&p, argc, argv, &co)) != -1) {
        switch (c) {
        case '4':
        case '6':
            if (q.family && q.family != (c == '4' ? AF_INET : AF_INET6))
                cli_usage_error("-4 and -6 exclude each other");
            q.family = c == '4' ? AF_INET : AF_INET6;
            break;
        case 'u':
            q.socktype = SOCK_DGRAM;
            break;
        case O_PASSIVE:
            q.passive = true;
            break;
        case O_ALL_FLAGS:
            q.all_flags = true;
            break;
        case 'r':
            reverse = optarg;
            break;
        case O_SELF:
            self = true;
            break;
        }
    }
    q.json = co.json;
    int rest = argc - optind;
    if (reverse && self)
        cli_usage_error("-r and --self exclude each other");
    if ((reverse || self) && (q.passive || q.all_flags))
        cli_usage_error("--passive and --all-flags are for a forward lookup (NAME)");
    if ((reverse || self) && q.family)
        cli_usage_error("-4 and -6 are for a forward lookup (NAME)");
    if (self && q.socktype == SOCK_DGRAM)
        cli_usage_error("-u is for a lookup with a port (NAME:PORT or -r ADDRESS:PORT)");
    if (reverse || self) {
        if (rest)
            cli_usage_error("unexpected argument '%s' with %s", argv[optind],
                            self ? "--self" : "-r");
        return self ? resolve_self(q.json) : resolve_reverse(reverse, q.socktype, q.json);
    }
    if (rest == 0)
        cli_usage_error("missing NAME[:PORT|SERVICE]");
    if (rest > 1)
        cli_usage_error("takes one NAME[:PORT|SERVICE], not %d arguments", rest);
    parse_target(&q, argv[optind]);
    return forward(&q);
}
