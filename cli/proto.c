/* sockkit proto: the table the seed printed by hand, and what each name means. */
#include "cli.h"
#include "opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { O_FAMILIES = 256, O_TYPES, O_OPTIONS };

static const struct cli_opt proto_opts[] = {
    {O_FAMILIES, "families", CLI_NOARG, NULL, "the address families (AF_*)", NULL},
    {O_TYPES, "types", CLI_NOARG, NULL, "the socket types (SOCK_*)", NULL},
    {O_OPTIONS, "options", CLI_NOARG, NULL,
     "the socket options (SO_*, IP_*, IPV6_*, TCP_*) with their level and number", NULL},
    CLI_OPT_HELP,
    CLI_OPT_NO_TRACE,
    CLI_OPT_END,
};

const struct cli_cmd cli_cmd_proto = {
    .name = "proto",
    .summary = "explain IPPROTO_*, AF_*, SOCK_* and socket option names and numbers",
    .synopsis = "[NAME|NUMBER]\n"
                "       sockkit proto --families | --types | --options",
    .about =
        "Without arguments: every IPPROTO_* constant this platform defines, its number, its\n"
        "name in /etc/protocols and what it is. With a NAME (IPPROTO_IP, tcp, SO_REUSEADDR,\n"
        "AF_INET6, SOCK_DGRAM, SOL_SOCKET) or a protocol NUMBER: what it is, every name sharing\n"
        "its number, and a longer explanation where there is one.",
    .opts = proto_opts,
    .run = cmd_proto,
};

static void print_protocols(void)
{
    size_t n;
    const sk_name *t = sk_proto_table(&n);
    printf("%-18s %5s  %-14s %s\n", "NAME", "NUMBER", "/etc/protocols", "WHAT IT IS");
    for (size_t i = 0; i < n; i++) {
        char etc[64];
        const char *e = sk_proto_etc_name(t[i].value, etc, sizeof etc);
        printf("%-18s %5d  %-14s %s\n", t[i].name, t[i].value, e ? e : "-", t[i].summary);
    }
}

static void print_names(const sk_name *t, size_t n)
{
    printf("%-16s %6s  %s\n", "NAME", "NUMBER", "WHAT IT IS");
    for (size_t i = 0; i < n; i++)
        printf("%-16s %6d  %s\n", t[i].name, t[i].value, t[i].summary);
}

static void print_options(void)
{
    size_t n;
    const sk_optname *o = sk_option_table(&n);
    printf("%-26s %-12s %6s %-4s %s\n", "OPTION", "LEVEL", "NUMBER", "INT", "WHAT IT DOES");
    for (size_t i = 0; i < n; i++)
        printf("%-26s %-12s %6d %-4s %s\n", o[i].name, o[i].level_name, o[i].value,
               o[i].is_int ? "yes" : "no", o[i].summary);
}

/* A name in a table, case-insensitive, with or without its prefix. */
static const sk_name *find_name(const sk_name *t, size_t n, const char *prefix, const char *want)
{
    size_t p = strlen(prefix);
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(t[i].name, want) ||
            (!strncmp(t[i].name, prefix, p) && !strcasecmp(t[i].name + p, want)))
            return &t[i];
    return NULL;
}

static int explain_one(const char *want)
{
    bool found = false;
    const sk_name *p = sk_proto_lookup(want);
    if (p) {
        found = true;
        size_t n;
        const sk_name *t = sk_proto_table(&n);
        char etc[64];
        const char *e = sk_proto_etc_name(p->value, etc, sizeof etc);
        printf("protocol number %d (/etc/protocols: %s)\n", p->value, e ? e : "-");
        for (size_t i = 0; i < n; i++)
            if (t[i].value == p->value)
                printf("  %-18s %s\n", t[i].name, t[i].summary);
    }
    size_t n;
    const sk_name *table = sk_family_table(&n);
    const sk_name *f = find_name(table, n, "AF_", want);
    if (f && !p) {
        found = true;
        printf("%s = %d: address family, %s\n", f->name, f->value, f->summary);
    }
    table = sk_type_table(&n);
    const sk_name *ty = find_name(table, n, "SOCK_", want);
    if (ty && !p) {
        found = true;
        printf("%s = %d: socket type, %s\n", ty->name, ty->value, ty->summary);
    }
    const sk_optname *o = p ? NULL : sk_option_lookup(want);
    if (o) {
        found = true;
        printf("%s = %d: option at level %s (%d)%s\n  %s\n", o->name, o->value, o->level_name,
               o->level, o->is_int ? ", an int" : "", o->summary);
    }
    const char *more = sk_proto_explain(want);
    if (more) {
        found = true;
        printf("\n%s\n", more);
    }
    if (!found && want[0] && strspn(want, "0123456789") == strlen(want)) {
        /* a number with no IPPROTO_ name: still a protocol number, or out of the field's range */
        long v = strlen(want) > 9 ? 256 : strtol(want, NULL, 10);
        if (v > 255)
            cli_usage_error("no protocol number %s: they go from 0 to 255 (the IP header's 8-bit "
                            "protocol field)",
                            want);
        char etc[64];
        const char *e = sk_proto_etc_name((int)v, etc, sizeof etc);
        printf("protocol number %ld (/etc/protocols: %s)\n  no IPPROTO_ name in Linux's headers"
               "%s\n",
               v, e ? e : "-",
               e ? ""
               : v == 253 || v == 254
                   ? " (RFC 3692: for experiments and tests)"
                   : " (IANA: unassigned, or not in this host's /etc/protocols)");
        return EXIT_OK;
    }
    if (!found)
        cli_usage_error("unknown name '%s' (try 'sockkit proto', --families, --types, --options)",
                        want);
    return EXIT_OK;
}

static const char *table_name(int key)
{
    return key == O_FAMILIES ? "--families" : key == O_TYPES ? "--types" : "--options";
}

int cmd_proto(int argc, char **argv)
{
    struct cli_parser p = CLI_PARSER(&cli_cmd_proto);
    struct cli_common co = {0};
    int table = 0, c;
    while ((c = cli_next_option(&p, argc, argv, &co)) != -1) {
        if (table && table != c)
            cli_usage_error("%s and %s exclude each other: one table at a time", table_name(table),
                            table_name(c));
        table = c;
    }
    int rest = argc - optind;
    if (rest > 1)
        cli_usage_error("takes one NAME or NUMBER, not %d arguments", rest);
    if (table && rest)
        cli_usage_error("%s prints a table; '%s' asks about one name: give one or the other",
                        table_name(table), argv[optind]);
    size_t n;
    const sk_name *t = table == O_FAMILIES ? sk_family_table(&n)
                       : table == O_TYPES  ? sk_type_table(&n)
                                           : NULL;
    if (t)
        print_names(t, n);
    else if (table == O_OPTIONS)
        print_options();
    else if (rest)
        return explain_one(argv[optind]);
    else
        print_protocols();
    return EXIT_OK;
}
