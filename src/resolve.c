/* getaddrinfo and getnameinfo with nothing hidden: every result row with its socket() arguments
 * named, the EAI_* code of a failure, the time the lookup took. */
#include "internal.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sk_gai_name(int eai)
{
    switch (eai) {
    case 0:
        return "0";
    case EAI_BADFLAGS:
        return "EAI_BADFLAGS";
    case EAI_NONAME:
        return "EAI_NONAME";
    case EAI_AGAIN:
        return "EAI_AGAIN";
    case EAI_FAIL:
        return "EAI_FAIL";
    case EAI_FAMILY:
        return "EAI_FAMILY";
    case EAI_SOCKTYPE:
        return "EAI_SOCKTYPE";
    case EAI_SERVICE:
        return "EAI_SERVICE";
    case EAI_MEMORY:
        return "EAI_MEMORY";
    case EAI_SYSTEM:
        return "EAI_SYSTEM";
    case EAI_OVERFLOW:
        return "EAI_OVERFLOW";
#ifdef EAI_NODATA
    case EAI_NODATA:
        return "EAI_NODATA";
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
        return "EAI_ADDRFAMILY";
#endif
    default:
        return "EAI_?";
    }
}

int sk_ai_flags_format(int flags, char *buf, size_t len)
{
    static const struct {
        int bit;
        const char *name;
    } names[] = {
        {AI_PASSIVE, "AI_PASSIVE"},
        {AI_CANONNAME, "AI_CANONNAME"},
        {AI_NUMERICHOST, "AI_NUMERICHOST"},
        {AI_NUMERICSERV, "AI_NUMERICSERV"},
        {AI_V4MAPPED, "AI_V4MAPPED"},
        {AI_ALL, "AI_ALL"},
        {AI_ADDRCONFIG, "AI_ADDRCONFIG"},
#ifdef AI_IDN
        {AI_IDN, "AI_IDN"},
#endif
    };
    if (!buf || !len)
        return SK_EARG;
    int at = snprintf(buf, len, "%s", flags ? "" : "0");
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (!(flags & names[i].bit))
            continue;
        flags &= ~names[i].bit;
        at += snprintf(buf + at, (size_t)at < len ? len - (size_t)at : 0, "%s%s", at ? "|" : "",
                       names[i].name);
    }
    if (flags)
        at += snprintf(buf + at, (size_t)at < len ? len - (size_t)at : 0, "%s0x%x", at ? "|" : "",
                       (unsigned)flags);
    return (size_t)at < len ? at : (int)len - 1;
}

static int fail_gai(int eai, const char *what)
{
    char why[160];
    int saved = errno;
    if (eai == EAI_SYSTEM)
        snprintf(why, sizeof why, "%s (EAI_SYSTEM)", strerror(saved));
    else
        snprintf(why, sizeof why, "%s (%s)", gai_strerror(eai), sk_gai_name(eai));
    errno = saved;
    return sk__fail_why(sk__gai_code(eai), why, "%s", what);
}

static int copy_rows(const struct addrinfo *res, sk_ai_list *out)
{
    size_t n = 0;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
        n++;
    if (!(out->v = calloc(n ? n : 1, sizeof *out->v)))
        return -ENOMEM;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        sk_ai_row *r = &out->v[out->n];
        if (sk_addr_from_sockaddr(ai->ai_addr, ai->ai_addrlen, &r->addr) < 0)
            continue;
        r->family = ai->ai_family;
        r->socktype = ai->ai_socktype;
        r->protocol = ai->ai_protocol;
        r->family_name = sk_family_name(ai->ai_family);
        r->socktype_name = sk_type_name(ai->ai_socktype);
        r->protocol_name = sk_proto_name(ai->ai_protocol);
        if (ai->ai_canonname)
            snprintf(r->canonname, sizeof r->canonname, "%s", ai->ai_canonname);
        out->n++;
    }
    return 0;
}

int sk_resolve_rows(const char *host, const char *service, const sk_ai_hints *hints,
                    sk_ai_list *out)
{
    if (!out)
        return sk__fail(SK_EARG, "resolve: NULL list");
    memset(out, 0, sizeof *out);
    sk_ai_hints none = {0};
    const sk_ai_hints *h = hints ? hints : &none;
    struct addrinfo ai = {.ai_family = h->family,
                          .ai_socktype = h->socktype,
                          .ai_protocol = h->protocol,
                          .ai_flags = h->flags};
    const char *node = host;
    /* RFC 6761 6.3, as sk_resolve: getaddrinfo(NULL) without AI_PASSIVE gives the loopback
     * addresses; AI_CANONNAME needs a name (EAI_BADFLAGS without one), and a NULL name needs a
     * service (EAI_NONAME without one). */
    if (host && !(h->flags & AI_NUMERICHOST) && sk__is_localhost(host)) {
        out->builtin = true;
        node = NULL;
        ai.ai_flags &= ~(AI_PASSIVE | AI_CANONNAME);
        if (!service) {
            service = "0";
            ai.ai_flags |= AI_NUMERICSERV;
        }
    }
    struct addrinfo *res = NULL;
    int64_t t0 = sk__now_us();
    errno = 0;
    int eai = getaddrinfo(node, service, &ai, &res);
    out->elapsed_us = sk__now_us() - t0;
    out->gai_error = eai;
    char what[320];
    if (eai == EAI_SERVICE || !host)
        snprintf(what, sizeof what, "resolve %s service '%s'", host ? host : "(no name)",
                 service ? service : "");
    else
        snprintf(what, sizeof what, "resolve '%s'", host);
    if (eai)
        return fail_gai(eai, what);
    int rc = copy_rows(res, out);
    freeaddrinfo(res);
    if (rc < 0) {
        sk_ai_list_free(out);
        return sk__fail(rc, "%s", what);
    }
    if (out->builtin && (h->flags & AI_CANONNAME) && out->n)
        snprintf(out->v[0].canonname, sizeof out->v[0].canonname, "%s", host);
    return 0;
}

void sk_ai_list_free(sk_ai_list *list)
{
    if (!list)
        return;
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

int sk_resolve_reverse(const sk_addr *a, int ni_flags, sk_nameinfo *out)
{
    if (!a || !out)
        return sk__fail(SK_EARG, "reverse lookup: NULL argument");
    memset(out, 0, sizeof *out);
    char text[SK_ADDRSTRLEN];
    sk__format_host(a, text, sizeof text); /* the port is not part of the question */
    if (a->u.sa.sa_family != AF_INET && a->u.sa.sa_family != AF_INET6)
        return sk__fail(SK_EARG, "reverse lookup of %s: not an IP address", text);
    char what[SK_ADDRSTRLEN + 32];
    snprintf(what, sizeof what, "reverse lookup of %s", text);
    int64_t t0 = sk__now_us();
    errno = 0;
    int eai = getnameinfo(&a->u.sa, a->len, out->host, sizeof out->host, out->service,
                          sizeof out->service, ni_flags);
    out->elapsed_us = sk__now_us() - t0;
    out->gai_error = eai;
    if (eai) {
        out->host[0] = out->service[0] = '\0';
        return fail_gai(eai, what);
    }
    return 0;
}
