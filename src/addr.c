/* Endpoints: parse "host:port", "[v6%scope]:port", ":port", "*:port", "unix:/path", "unix:@name";
 * resolve them with getaddrinfo into every address; format addresses back into the same text. */
#include "internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* A service is a port number or a name from /etc/services ("http", "ftp-data"). */
static int check_service(const char *text, const char *svc)
{
    if (!*svc)
        return sk__fail(SK_EPORT, "endpoint '%s': missing port", text);
    if (isdigit((unsigned char)*svc) || *svc == '-' || *svc == '+') {
        if (!all_digits(svc) || strlen(svc) > 5 || atol(svc) > 65535)
            return sk__fail(SK_EPORT, "endpoint '%s': port '%s'", text, svc);
        return 0;
    }
    for (const char *p = svc; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            return sk__fail(SK_EPORT, "endpoint '%s': port '%s'", text, svc);
    return 0;
}

static int copy_part(char *dst, size_t cap, const char *src, size_t n, const char *text)
{
    if (n >= cap)
        return sk__fail(SK_EPARSE, "endpoint '%s': part too long", text);
    memcpy(dst, src, n);
    dst[n] = '\0';
    return 0;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The byte a "\xHH" escape at p stands for, or -1 when p holds no such escape (a backslash
 * followed by anything else is itself). sk_addr_format writes these for control bytes and '\'. */
static int escaped_byte(const char *p)
{
    if (p[0] != '\\' || p[1] != 'x')
        return -1;
    int hi = hex_digit(p[2]), lo = hi < 0 ? -1 : hex_digit(p[3]);
    return lo < 0 ? -1 : hi << 4 | lo;
}

/* Decode a Unix name ("\\xHH" escapes) into out, writing at most cap bytes; returns the decoded
 * length (which may exceed cap), or -1 for an escaped NUL. */
static long decode_unix_name(const char *p, char *out, size_t cap)
{
    size_t n = 0;
    for (; *p; n++) {
        int b = escaped_byte(p);
        if (b == 0)
            return -1;
        if (n < cap)
            out[n] = b < 0 ? *p : (char)b;
        p += b < 0 ? 1 : 4;
    }
    return (long)n;
}

static int parse_unix(const char *text, const char *rest, sk_endpoint *ep)
{
    ep->is_unix = true;
    if (*rest == '@') {
        ep->abstract = true;
        rest++;
    }
    long n = decode_unix_name(rest, ep->path, sizeof ep->path - 1);
    if (n < 0)
        return sk__fail(SK_EPARSE, "endpoint '%s': a NUL byte (\\x00) in a Unix socket name", text);
    if (n == 0)
        return sk__fail(SK_EPARSE, "endpoint '%s': empty Unix socket path", text);
    /* sun_path holds 108 bytes: a path needs its NUL, an abstract name its leading NUL. */
    if ((size_t)n > sizeof ep->path - 1)
        return sk__fail(SK_EPATHLEN, "endpoint '%s': %ld bytes, at most %zu", text, n,
                        sizeof ep->path - 1);
    ep->path[n] = '\0';
    return 0;
}

int sk_endpoint_parse(const char *text, sk_endpoint *ep)
{
    if (!text || !ep)
        return sk__fail(SK_EARG, "parse endpoint: NULL argument");
    memset(ep, 0, sizeof *ep);
    if (!strncmp(text, "unix:", 5))
        return parse_unix(text, text + 5, ep);

    const char *host, *host_end, *svc;
    if (*text == '[') {
        const char *close = strchr(text, ']');
        if (!close)
            return sk__fail(SK_EBRACKET, "endpoint '%s': '[' without ']'", text);
        if (close[1] != ':')
            return sk__fail(close[1] ? SK_EPARSE : SK_EPORT,
                            "endpoint '%s': expected ':port' after ']'", text);
        host = text + 1;
        host_end = close;
        svc = close + 2;
        if (host == host_end)
            return sk__fail(SK_ENOHOST, "endpoint '%s'", text);
    } else {
        if (strchr(text, ']'))
            return sk__fail(SK_EBRACKET, "endpoint '%s': ']' without '['", text);
        const char *colon = strrchr(text, ':');
        if (!colon)
            return sk__fail(SK_EPORT, "endpoint '%s': missing ':port'", text);
        host = text;
        host_end = colon;
        svc = colon + 1;
        if (memchr(host, ':', host_end - host))
            return sk__fail(SK_EPARSE,
                            "endpoint '%s': an IPv6 address needs brackets, as in [::1]:80", text);
        if (host_end == host || (host_end - host == 1 && *host == '*'))
            ep->any_host = true;
    }
    int rc = check_service(text, svc);
    if (rc < 0)
        return rc;
    if ((rc = copy_part(ep->service, sizeof ep->service, svc, strlen(svc), text)) < 0)
        return rc;
    if (ep->any_host)
        return 0;

    const char *pct = memchr(host, '%', host_end - host);
    if (pct) {
        if (*text != '[')
            return sk__fail(SK_EPARSE,
                            "endpoint '%s': a scope id needs an IPv6 address in brackets", text);
        if (pct + 1 == host_end)
            return sk__fail(SK_EIFACE, "endpoint '%s': empty scope id", text);
        if ((rc = copy_part(ep->scope, sizeof ep->scope, pct + 1, host_end - pct - 1, text)) < 0)
            return rc;
        host_end = pct;
    }
    if ((rc = copy_part(ep->host, sizeof ep->host, host, host_end - host, text)) < 0)
        return rc;
    if (*text == '[') {
        struct in6_addr a6;
        if (inet_pton(AF_INET6, ep->host, &a6) != 1)
            return sk__fail(SK_EPARSE, "endpoint '%s': '%s' in brackets is not an IPv6 address",
                            text, ep->host);
    }
    return 0;
}

static int unix_addr(const sk_endpoint *ep, sk_addr *out)
{
    memset(out, 0, sizeof *out);
    out->u.un.sun_family = AF_UNIX;
    size_t n = strlen(ep->path);
    if (ep->abstract) {
        memcpy(out->u.un.sun_path + 1, ep->path, n); /* sun_path[0] == 0 marks abstract */
        out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    } else {
        memcpy(out->u.un.sun_path, ep->path, n + 1);
        out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}

static int scope_index(const char *text, const char *scope, uint32_t *out)
{
    if (all_digits(scope)) {
        /* an index is 32 bits: a longer number must not wrap to another interface */
        errno = 0;
        unsigned long long v = strtoull(scope, NULL, 10);
        if (errno || v > UINT32_MAX)
            return sk__fail(SK_EIFACE, "endpoint '%s': scope id %s (at most %u)", text, scope,
                            UINT32_MAX);
        *out = (uint32_t)v;
        return 0;
    }
    unsigned idx = if_nametoindex(scope);
    if (!idx)
        return sk__fail(SK_EIFACE, "endpoint '%s': interface '%s'", text, scope);
    *out = idx;
    return 0;
}

int sk__gai_code(int rc)
{
    switch (rc) {
    case EAI_NONAME:
        return SK_ENONAME;
    case EAI_SERVICE:
        return SK_ESERVICE;
    case EAI_AGAIN:
        return SK_EAGAIN_DNS;
    case EAI_FAMILY:
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
        return SK_ENOADDR;
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_BADFLAGS:
    case EAI_SOCKTYPE:
        return SK_EARG;
    case EAI_SYSTEM:
        return errno ? -errno : -EIO;
    default:
        return SK_ENONAME;
    }
}

/* RFC 6761 6.3: "localhost" and names under ".localhost" are the loopback addresses, whatever
 * the resolver says; a system without /etc/hosts (a debootstrapped root, a bare container) would
 * otherwise send them to DNS. */
bool sk__is_localhost(const char *host)
{
    size_t n = strlen(host);
    if (n && host[n - 1] == '.')
        n--;
    if (n < 9 || strncasecmp(host + n - 9, "localhost", 9))
        return false;
    return n == 9 || host[n - 10] == '.';
}

int sk__endpoint_text(const sk_endpoint *ep, char *buf, size_t len)
{
    if (ep->is_unix)
        return snprintf(buf, len, "unix:%s%s", ep->abstract ? "@" : "", ep->path);
    if (ep->any_host)
        return snprintf(buf, len, ":%s", ep->service);
    if (strchr(ep->host, ':') || ep->scope[0])
        return snprintf(buf, len, "[%s%s%s]:%s", ep->host, ep->scope[0] ? "%" : "", ep->scope,
                        ep->service);
    return snprintf(buf, len, "%s:%s", ep->host, ep->service);
}

/* Resolve ep; text is how the messages name it (NULL: formatted from ep when one is made). */
static int resolve(const sk_endpoint *ep, const char *text, int family, int socktype, int flags,
                   sk_addr_list *out);

/* How messages name ep: the caller's text, else formatted now (only on the way to a failure: a
 * relay resolves its target for every connection). */
static const char *named(const sk_endpoint *ep, const char *text, char *buf, size_t len)
{
    if (text)
        return text;
    sk__endpoint_text(ep, buf, len);
    return buf;
}

/* A literal address with a numeric port, of the family asked for: the address without
 * getaddrinfo (which parses it too, at some 1,900 instructions). Anything else, "127.1" and
 * names included, goes through getaddrinfo as before. */
static bool literal(const sk_endpoint *ep, int family, uint32_t scope, sk_addr *a)
{
    if (ep->any_host || !all_digits(ep->service) || strlen(ep->service) > 5)
        return false;
    unsigned long port = strtoul(ep->service, NULL, 10);
    if (port > 65535)
        return false;
    memset(a, 0, sizeof *a);
    if ((family == AF_UNSPEC || family == AF_INET) && !ep->scope[0] &&
        inet_pton(AF_INET, ep->host, &a->u.in.sin_addr) == 1) {
        a->u.in.sin_family = AF_INET;
        a->u.in.sin_port = htons((uint16_t)port);
        a->len = sizeof a->u.in;
        return true;
    }
    if ((family == AF_UNSPEC || family == AF_INET6) &&
        inet_pton(AF_INET6, ep->host, &a->u.in6.sin6_addr) == 1) {
        a->u.in6.sin6_family = AF_INET6;
        a->u.in6.sin6_port = htons((uint16_t)port);
        a->u.in6.sin6_scope_id = scope;
        a->len = sizeof a->u.in6;
        return true;
    }
    return false;
}

int sk_resolve(const char *text, int family, int socktype, int flags, sk_addr_list *out)
{
    if (!out)
        return sk__fail(SK_EARG, "resolve: NULL list");
    out->v = NULL;
    out->n = 0;
    sk_endpoint ep;
    int rc = sk_endpoint_parse(text, &ep);
    return rc < 0 ? rc : resolve(&ep, text, family, socktype, flags, out);
}

int sk_resolve_endpoint(const sk_endpoint *ep, int family, int socktype, int flags,
                        sk_addr_list *out)
{
    if (!out || !ep)
        return sk__fail(SK_EARG, "resolve: NULL argument");
    out->v = NULL;
    out->n = 0;
    return resolve(ep, NULL, family, socktype, flags, out);
}

static int resolve(const sk_endpoint *endpoint, const char *text, int family, int socktype,
                   int flags, sk_addr_list *out)
{
    char tb[512]; /* the endpoint's text, made only for a message */
    const sk_endpoint ep = *endpoint;
    int rc;
    if (ep.is_unix) {
        if (!(out->v = calloc(1, sizeof *out->v)))
            return sk__fail(-ENOMEM, "resolve '%s'", named(&ep, text, tb, sizeof tb));
        out->n = 1;
        return unix_addr(&ep, out->v);
    }
    if (ep.any_host && !(flags & SK_RESOLVE_PASSIVE))
        return sk__fail(SK_ENOHOST, "endpoint '%s': a connection needs a host",
                        named(&ep, text, tb, sizeof tb));
    if ((flags & SK_RESOLVE_NUMERIC) && !all_digits(ep.service))
        return sk__fail(SK_EPORT, "endpoint '%s': port '%s' is not a number (numeric mode)",
                        named(&ep, text, tb, sizeof tb), ep.service);
    uint32_t scope = 0;
    if (ep.scope[0] && (rc = scope_index(named(&ep, text, tb, sizeof tb), ep.scope, &scope)) < 0)
        return rc;

    sk_addr lit;
    if (!(flags & SK_RESOLVE_PASSIVE) && literal(&ep, family, scope, &lit)) {
        if (!(out->v = calloc(1, sizeof *out->v)))
            return sk__fail(-ENOMEM, "resolve '%s'", named(&ep, text, tb, sizeof tb));
        out->v[0] = lit;
        out->n = 1;
        return 0;
    }

    struct addrinfo hints = {
        .ai_family = family,
        .ai_socktype = socktype ? socktype : SOCK_STREAM,
        .ai_flags = (ep.any_host ? AI_PASSIVE : 0),
    };
    if (flags & SK_RESOLVE_NUMERIC)
        hints.ai_flags |= AI_NUMERICHOST | AI_NUMERICSERV;
    if (all_digits(ep.service))
        hints.ai_flags |= AI_NUMERICSERV;
    /* A NULL node without AI_PASSIVE is the loopback address of each family (::1 first). */
    bool loopback = !(flags & SK_RESOLVE_NUMERIC) && !ep.any_host && sk__is_localhost(ep.host);
    struct addrinfo *res = NULL;
    errno = 0;
    rc = getaddrinfo(ep.any_host || loopback ? NULL : ep.host, ep.service, &hints, &res);
    if (rc) {
        int code = sk__gai_code(rc);
        if (code == SK_ENONAME && (flags & SK_RESOLVE_NUMERIC))
            return sk__fail(SK_EPARSE, "endpoint '%s': '%s' is not a numeric address",
                            named(&ep, text, tb, sizeof tb), ep.host);
        if (code == SK_ENOADDR || code == SK_ESERVICE)
            return sk__fail(code, "resolve '%s'", named(&ep, text, tb, sizeof tb));
        return sk__fail(code, "resolve '%s'",
                        ep.any_host ? named(&ep, text, tb, sizeof tb) : ep.host);
    }
    size_t n = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        n++;
    out->v = calloc(n ? n : 1, sizeof *out->v);
    if (!out->v) {
        freeaddrinfo(res);
        return sk__fail(-ENOMEM, "resolve '%s'", named(&ep, text, tb, sizeof tb));
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        sk_addr a;
        if (sk_addr_from_sockaddr(ai->ai_addr, ai->ai_addrlen, &a) < 0)
            continue;
        if (a.u.sa.sa_family == AF_INET6 && scope)
            a.u.in6.sin6_scope_id = scope;
        bool dup = false;
        for (size_t i = 0; i < out->n && !dup; i++)
            dup = sk_addr_equal(&out->v[i], &a);
        if (!dup)
            out->v[out->n++] = a;
    }
    freeaddrinfo(res);
    if (out->n == 0) {
        sk_addr_list_free(out);
        return sk__fail(SK_ENOADDR, "resolve '%s'", named(&ep, text, tb, sizeof tb));
    }
    return 0;
}

void sk_addr_list_free(sk_addr_list *list)
{
    if (!list)
        return;
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

int sk_addr_parse(const char *text, int flags, sk_addr *out)
{
    sk_addr_list list;
    int rc = sk_resolve(text, AF_UNSPEC, SOCK_STREAM, flags, &list);
    if (rc < 0)
        return rc;
    *out = list.v[0];
    sk_addr_list_free(&list);
    return 0;
}

int sk_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, sk_addr *out)
{
    if (!sa || !out || len < sizeof(sa_family_t) || len > sizeof out->u)
        return sk__fail(SK_EARG, "address of length %u", (unsigned)len);
    memset(out, 0, sizeof *out);
    memcpy(&out->u, sa, len);
    out->len = len;
    return 0;
}

/* A Unix name is whatever bytes its owner chose, and the peer's shows up in traces and messages:
 * control bytes (a newline would forge a trace line, an escape sequence would reach the terminal),
 * DEL and the backslash itself are written as \xHH, which sk_endpoint_parse reads back (prefix is
 * "unix:" or "unix:@"). The rest,
 * UTF-8 included, is written as it is. snprintf's contract: the full length is returned. */
static int format_unix_name(char *buf, size_t buflen, const char *prefix, const char *name,
                            size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t len = 0;
    char esc[4] = {'\\', 'x'};
    for (const char *p = prefix; *p; p++, len++)
        if (len + 1 < buflen)
            buf[len] = *p;
    bool path = prefix[5] != '@';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        /* a path's leading '@' too: "unix:@" would read back as an abstract name */
        bool plain = c >= 0x20 && c != 0x7f && c != '\\' && !(path && i == 0 && c == '@');
        esc[2] = hex[c >> 4];
        esc[3] = hex[c & 15];
        for (size_t k = 0; k < (plain ? 1u : 4u); k++, len++)
            if (len + 1 < buflen)
                buf[len] = plain ? (char)c : esc[k];
    }
    buf[len < buflen ? len : buflen - 1] = '\0';
    return len > INT32_MAX ? INT32_MAX : (int)len;
}

int sk_addr_format(const sk_addr *a, char *buf, size_t buflen)
{
    if (!a || !buf || !buflen)
        return SK_EARG;
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    switch (a->u.sa.sa_family) {
    case AF_INET:
        inet_ntop(AF_INET, &a->u.in.sin_addr, host, sizeof host);
        return snprintf(buf, buflen, "%s:%u", host, ntohs(a->u.in.sin_port));
    case AF_INET6: {
        inet_ntop(AF_INET6, &a->u.in6.sin6_addr, host, INET6_ADDRSTRLEN);
        uint32_t scope = a->u.in6.sin6_scope_id;
        if (scope) {
            char name[IF_NAMESIZE];
            size_t n = strlen(host);
            if (if_indextoname(scope, name))
                snprintf(host + n, sizeof host - n, "%%%s", name);
            else
                snprintf(host + n, sizeof host - n, "%%%u", scope);
        }
        return snprintf(buf, buflen, "[%s]:%u", host, ntohs(a->u.in6.sin6_port));
    }
    case AF_UNIX: {
        size_t off = offsetof(struct sockaddr_un, sun_path);
        if (a->len <= off)
            return snprintf(buf, buflen, "unix:(unnamed)");
        const char *name = a->u.un.sun_path;
        if (name[0] == '\0') /* abstract: every byte of the length counts, NULs too */
            return format_unix_name(buf, buflen, "unix:@", name + 1, a->len - off - 1);
        return format_unix_name(buf, buflen, "unix:", name, strnlen(name, a->len - off));
    }
    default:
        return snprintf(buf, buflen, "(family %d)", a->u.sa.sa_family);
    }
}

int sk_addr_family(const sk_addr *a)
{
    return a->u.sa.sa_family;
}

int sk_addr_port(const sk_addr *a)
{
    switch (a->u.sa.sa_family) {
    case AF_INET:
        return ntohs(a->u.in.sin_port);
    case AF_INET6:
        return ntohs(a->u.in6.sin6_port);
    default: /* the same code as sk_addr_set_port: -1 would read as -EPERM */
        return sk__fail(SK_EARG, "port of a family-%d address", a->u.sa.sa_family);
    }
}

int sk_addr_set_port(sk_addr *a, uint16_t port)
{
    switch (a->u.sa.sa_family) {
    case AF_INET:
        a->u.in.sin_port = htons(port);
        return 0;
    case AF_INET6:
        a->u.in6.sin6_port = htons(port);
        return 0;
    default:
        return sk__fail(SK_EARG, "set port on a family-%d address", a->u.sa.sa_family);
    }
}

bool sk_addr_equal(const sk_addr *a, const sk_addr *b)
{
    if (a->u.sa.sa_family != b->u.sa.sa_family)
        return false;
    switch (a->u.sa.sa_family) {
    case AF_INET:
        return a->u.in.sin_port == b->u.in.sin_port &&
               a->u.in.sin_addr.s_addr == b->u.in.sin_addr.s_addr;
    case AF_INET6:
        return a->u.in6.sin6_port == b->u.in6.sin6_port &&
               a->u.in6.sin6_scope_id == b->u.in6.sin6_scope_id &&
               !memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, sizeof(struct in6_addr));
    default:
        return a->len == b->len && !memcmp(&a->u, &b->u, a->len);
    }
}

bool sk_addr_is_any(const sk_addr *a)
{
    switch (a->u.sa.sa_family) {
    case AF_INET:
        return a->u.in.sin_addr.s_addr == htonl(INADDR_ANY);
    case AF_INET6:
        return IN6_IS_ADDR_UNSPECIFIED(&a->u.in6.sin6_addr);
    default:
        return false;
    }
}

int sk__format_host(const sk_addr *a, char *buf, size_t len)
{
    char full[SK_ADDRSTRLEN];
    int n = sk_addr_format(a, full, sizeof full);
    if (n < 0)
        return n;
    int family = a->u.sa.sa_family;
    if (family != AF_INET && family != AF_INET6)
        return snprintf(buf, len, "%s", full);
    /* "1.2.3.4:80" -> "1.2.3.4", "[fe80::1%eth0]:80" -> "fe80::1%eth0" */
    char *colon = strrchr(full, ':');
    *colon = '\0';
    if (family == AF_INET6) {
        colon[-1] = '\0';
        return snprintf(buf, len, "%s", full + 1);
    }
    return snprintf(buf, len, "%s", full);
}
