/* Address text for resolve and ifaces. */
#include "look.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

const char *look_addr(const sk_addr *a, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN];
    switch (a->u.sa.sa_family) {
    case AF_INET:
        inet_ntop(AF_INET, &a->u.in.sin_addr, host, sizeof host);
        snprintf(buf, len, "%s", host);
        break;
    case AF_INET6: {
        inet_ntop(AF_INET6, &a->u.in6.sin6_addr, host, sizeof host);
        uint32_t scope = a->u.in6.sin6_scope_id;
        char name[IF_NAMESIZE];
        if (!scope)
            snprintf(buf, len, "%s", host);
        else if (if_indextoname(scope, name))
            snprintf(buf, len, "%s%%%s", host, name);
        else
            snprintf(buf, len, "%s%%%u", host, scope);
        break;
    }
    default:
        sk_addr_format(a, buf, len);
    }
    return buf;
}

const char *look_prefix(const sk_ifaddr *x, char *buf, size_t len)
{
    char a[SK_ADDRSTRLEN];
    snprintf(buf, len, "%s/%d", look_addr(&x->addr, a, sizeof a), x->prefix);
    return buf;
}

bool look_is_loopback(const sk_addr *a)
{
    if (a->u.sa.sa_family == AF_INET)
        return (ntohl(a->u.in.sin_addr.s_addr) >> 24) == 127;
    return a->u.sa.sa_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&a->u.in6.sin6_addr);
}

bool look_same_ip(const sk_addr *a, const sk_addr *b)
{
    if (a->u.sa.sa_family != b->u.sa.sa_family)
        return false;
    if (a->u.sa.sa_family == AF_INET)
        return a->u.in.sin_addr.s_addr == b->u.in.sin_addr.s_addr;
    if (a->u.sa.sa_family == AF_INET6)
        return !memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, sizeof(struct in6_addr));
    return sk_addr_equal(a, b);
}

/* A numeric address, with or without a port: 192.0.2.1, 192.0.2.1:80, ::1, fe80::1%eth0,
 * [::1]:80. */
bool look_parse_numeric(const char *text, sk_addr *a, bool *has_port)
{
    size_t colons = 0;
    for (const char *p = text; *p; p++)
        colons += *p == ':';
    char ep[320];
    *has_port = text[0] == '[' ? strstr(text, "]:") != NULL : colons == 1;
    if (*has_port)
        snprintf(ep, sizeof ep, "%s", text);
    else if (text[0] == '[')
        snprintf(ep, sizeof ep, "%s:0", text);
    else
        snprintf(ep, sizeof ep, colons ? "[%s]:0" : "%s:0", text);
    return *text && sk_addr_parse(ep, SK_RESOLVE_NUMERIC, a) == 0;
}
