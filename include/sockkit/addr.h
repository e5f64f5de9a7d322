/* clang-format off: the table below keeps its columns */
/* sockkit — endpoints and addresses.
 *
 * Endpoint text forms:
 *   host:port          localhost:8080, example.org:http (service names resolve through getaddrinfo)
 *   1.2.3.4:80         IPv4 literal
 *   [::1]:80           IPv6 literal; [fe80::1%eth0]:80 carries a scope id (interface name or
 *                      number)
 *   :8080  *:8080      the any-address (passive) of the chosen family
 *   unix:/path         Unix socket path (must fit sun_path, 107 bytes)
 *   unix:@name         Linux abstract namespace (no file)
 * Ports are 0..65535; port 0 asks the kernel for a free port when binding. In a Unix name "\xHH"
 * (two hex digits) stands for that byte, as sk_addr_format writes control bytes and '\'.
 */
/* Threads: every function may be called from any thread; sk_addr, sk_endpoint and sk_addr_list
 * are plain values owned by the caller. */
/* clang-format on */
#ifndef SOCKKIT_ADDR_H
#define SOCKKIT_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A socket address of any family this library speaks: plain value, copy it freely. */
typedef struct sk_addr {
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
        struct sockaddr_un un;
        struct sockaddr_storage ss;
    } u;
    socklen_t len; /* meaningful length of u (matters for abstract Unix names) */
} sk_addr;

/* An endpoint as written, split but not yet resolved. */
typedef struct sk_endpoint {
    bool is_unix;
    bool any_host;    /* "" or "*" host: the wildcard address */
    bool abstract;    /* unix:@name */
    char host[256];   /* without brackets or scope ("::1", "example.org") */
    char scope[64];   /* "eth0" or "3" in [fe80::1%eth0], else "" */
    char service[64]; /* port text as written: "80", "http" */
    char path[108];   /* Unix path or abstract name (without '@') */
} sk_endpoint;

/* Flags for sk_resolve / sk_addr_parse (or-ed into their int flags; 0 = none). */
typedef enum sk_resolve_flags {
    SK_RESOLVE_NUMERIC = 1 << 0, /* no DNS and no service lookup: literals and numbers only */
    SK_RESOLVE_PASSIVE = 1 << 1, /* for binding: any-host becomes the wildcard address */
} sk_resolve_flags;

/* A list of resolved addresses, in the order getaddrinfo returned them. Free with
 * sk_addr_list_free. */
typedef struct sk_addr_list {
    sk_addr *v;
    size_t n;
} sk_addr_list;

/* Split endpoint text into its parts, checking syntax (port range, brackets, path length).
 * Service names are not looked up here. */
int sk_endpoint_parse(const char *text, sk_endpoint *ep);

/* Resolve endpoint text into every matching address. family: AF_UNSPEC, AF_INET, AF_INET6 (ignored
 * for unix:). socktype: SOCK_STREAM or SOCK_DGRAM (0 = stream) — it selects the service's port.
 * On success out->n >= 1 and the caller frees the list. "localhost", "localhost." and names
 * under ".localhost" are the loopback addresses ([::1] then 127.0.0.1, as the family allows)
 * without asking /etc/hosts or DNS (RFC 6761 6.3). */
int sk_resolve(const char *text, int family, int socktype, int flags, sk_addr_list *out);
/* The same for an endpoint already parsed: a program that parsed it to look at it (unix? any
 * host?) resolves it without parsing it again. */
int sk_resolve_endpoint(const sk_endpoint *ep, int family, int socktype, int flags,
                        sk_addr_list *out);
void sk_addr_list_free(sk_addr_list *list);

/* Parse text into exactly one address (the first resolved). flags as for sk_resolve. */
int sk_addr_parse(const char *text, int flags, sk_addr *out);

/* Build an address from a parsed sockaddr. */
int sk_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, sk_addr *out);

/* Format as endpoint text: "127.0.0.1:80", "[::1]:80", "[fe80::1%eth0]:80", "unix:/p",
 * "unix:@name", "unix:(unnamed)". In a Unix name, control bytes, DEL and '\' are written "\xHH"
 * (a peer's name cannot break a line or reach the terminal as an escape sequence);
 * sk_endpoint_parse reads "\xHH" back, so the text parses to the same address (a NUL inside an
 * abstract name, shown as \x00, is the one exception: it does not parse). Returns the full length,
 * as snprintf does (the text is truncated to buflen - 1), or < 0. */
int sk_addr_format(const sk_addr *a, char *buf, size_t buflen);

/* Enough room for any formatted address (a Unix name with every byte escaped included). */
#define SK_ADDRSTRLEN 512

int sk_addr_family(const sk_addr *a);
/* Port in host order; SK_EARG for an address without a port (not IPv4 or IPv6). */
int sk_addr_port(const sk_addr *a);
/* Set the port of an IPv4 or IPv6 address: 0, or SK_EARG for another family. */
int sk_addr_set_port(sk_addr *a, uint16_t port);
bool sk_addr_equal(const sk_addr *a, const sk_addr *b);
bool sk_addr_is_any(const sk_addr *a);

#ifdef __cplusplus
}
#endif
#endif
