/* libFuzzer harness: endpoint text (sk_endpoint_parse) and numeric resolution (sk_resolve and
 * sk_addr_parse with SK_RESOLVE_NUMERIC, so getaddrinfo never asks DNS or /etc/services), then
 * format -> resolve round trips, and formatting of arbitrary socket addresses.
 *
 * Input: one byte of options (family, socket type, passive), one byte of a small output size, then
 * the endpoint text (up to its first NUL). With the second byte 0xff the rest is instead a raw
 * sockaddr for sk_addr_from_sockaddr + sk_addr_format. */
#include <sockkit.h>

#include <ctype.h>
#include <sys/socket.h>

#include "fuzz.h"

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static void check_endpoint(const char *text, const sk_endpoint *ep)
{
    FUZZ_CHECK(terminated(ep->host, sizeof ep->host) && terminated(ep->scope, sizeof ep->scope) &&
                   terminated(ep->service, sizeof ep->service) &&
                   terminated(ep->path, sizeof ep->path),
               "'%s': a part is not NUL-terminated", text);
    if (ep->is_unix) {
        FUZZ_CHECK(ep->path[0], "'%s': empty Unix path accepted", text);
        return;
    }
    FUZZ_CHECK(ep->service[0], "'%s': empty service accepted", text);
    if (isdigit((unsigned char)ep->service[0]))
        FUZZ_CHECK(strlen(ep->service) <= 5 && atol(ep->service) <= 65535, "'%s': port %s accepted",
                   text, ep->service);
    FUZZ_CHECK(!ep->any_host || !ep->host[0], "'%s': any-host with a host '%s'", text, ep->host);
}

/* Format a into buffers of every size up to small: always NUL-terminated, always a prefix of the
 * full text, and the return value is the full length (snprintf's contract). */
static void check_format(const sk_addr *a, size_t small, char *full)
{
    int n = sk_addr_format(a, full, SK_ADDRSTRLEN);
    FUZZ_CHECK(n >= 0 && n < SK_ADDRSTRLEN, "format length %d", n);
    FUZZ_CHECK(strlen(full) == (size_t)n, "format returned %d for '%s'", n, full);
    char buf[SK_ADDRSTRLEN];
    for (size_t cap = 1; cap <= small && cap < sizeof buf; cap++) {
        memset(buf, 'x', sizeof buf);
        FUZZ_CHECK(sk_addr_format(a, buf, cap) == n, "format into %zu bytes", cap);
        size_t want = (size_t)n < cap - 1 ? (size_t)n : cap - 1;
        FUZZ_CHECK(buf[want] == '\0' && !memcmp(buf, full, want), "'%s' cut at %zu", full, cap);
    }
}

static void round_trip(const sk_addr *a, int socktype)
{
    char text[SK_ADDRSTRLEN];
    sk_addr_format(a, text, sizeof text);
    sk_addr_list again;
    int rc = sk_resolve(text, sk_addr_family(a) == AF_UNIX ? AF_UNSPEC : sk_addr_family(a),
                        socktype, SK_RESOLVE_NUMERIC | SK_RESOLVE_PASSIVE, &again);
    FUZZ_CHECK(rc == 0, "'%s' (formatted) does not resolve: %s", text, sk_errmsg());
    bool found = false;
    for (size_t i = 0; i < again.n && !found; i++)
        found = sk_addr_equal(&again.v[i], a);
    FUZZ_CHECK(found, "'%s' resolves to another address", text);
    sk_addr_list_free(&again);
}

static void raw_sockaddr(fuzz_in *in)
{
    struct sockaddr_storage ss;
    size_t len;
    const uint8_t *p = fuzz_bytes(in, sizeof ss, &len);
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, p, len);
    sk_addr a;
    if (sk_addr_from_sockaddr((struct sockaddr *)&ss, (socklen_t)len, &a) < 0)
        return;
    char full[SK_ADDRSTRLEN];
    check_format(&a, 24, full);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    uint8_t opt = fuzz_u8(&in), small = fuzz_u8(&in);
    if (small == 0xff) {
        raw_sockaddr(&in);
        return 0;
    }
    char text[1024];
    size_t n = in.n < sizeof text - 1 ? in.n : sizeof text - 1;
    memcpy(text, in.p, n);
    text[n] = '\0';

    sk_endpoint ep;
    int prc = sk_endpoint_parse(text, &ep);
    if (prc == 0)
        check_endpoint(text, &ep);
    else
        FUZZ_CHECK(prc < 0 && sk_errmsg()[0], "'%s': parse returned %d without a message", text,
                   prc);

    static const int families[] = {AF_UNSPEC, AF_INET, AF_INET6};
    int family = families[(opt & 3) % 3];
    int socktype = opt & 4 ? SOCK_DGRAM : SOCK_STREAM;
    int flags = SK_RESOLVE_NUMERIC | (opt & 8 ? SK_RESOLVE_PASSIVE : 0); /* never DNS */
    sk_addr_list list;
    int rc = sk_resolve(text, family, socktype, flags, &list);
    if (prc < 0) {
        FUZZ_CHECK(rc == prc, "'%s': parse says %d, resolve %d", text, prc, rc);
        return 0;
    }
    if (rc < 0) {
        FUZZ_CHECK(list.n == 0 && list.v == NULL, "'%s': failed resolve left a list", text);
        return 0;
    }
    FUZZ_CHECK(list.n >= 1, "'%s': resolved to nothing", text);
    char full[SK_ADDRSTRLEN];
    for (size_t i = 0; i < list.n; i++) {
        const sk_addr *a = &list.v[i];
        FUZZ_CHECK(family == AF_UNSPEC || ep.is_unix || sk_addr_family(a) == family,
                   "'%s': family %d asked, %d given", text, family, sk_addr_family(a));
        check_format(a, small % 48, full);
        round_trip(a, socktype);
    }
    if (family == AF_UNSPEC && socktype == SOCK_STREAM) {
        sk_addr one;
        FUZZ_CHECK(sk_addr_parse(text, flags, &one) == 0 && sk_addr_equal(&one, &list.v[0]),
                   "'%s': sk_addr_parse differs from the first resolved address", text);
    }
    sk_addr_list_free(&list);
    return 0;
}
