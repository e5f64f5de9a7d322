/* sockkit — name lookups shown as what they are: getaddrinfo's answers as the rows a socket is
 * created from, the reverse lookup, which source (hosts file, DNS, the library itself) answers a
 * name, and this host's own name.
 *
 * sk_resolve (addr.h) is what a client or server needs: endpoint text in, addresses out. The
 * functions here are for looking: every field getaddrinfo returns, the EAI_* code of a failure, and
 * how long the lookup took.
 *
 * Threads: every function may be called from any thread; the lists and rows are the caller's.
 */
#ifndef SOCKKIT_RESOLVE_H
#define SOCKKIT_RESOLVE_H

#include "addr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a program passes to getaddrinfo as hints. */
typedef struct sk_ai_hints {
    int family;   /* AF_UNSPEC (0), AF_INET or AF_INET6 */
    int socktype; /* 0 (every type), SOCK_STREAM, SOCK_DGRAM */
    int protocol; /* 0 = IPPROTO_IP, "the default protocol for the type" */
    int flags; /* AI_* as given: AI_PASSIVE, AI_CANONNAME, AI_ADDRCONFIG, AI_V4MAPPED, AI_ALL, ...
                */
} sk_ai_hints;

/* One getaddrinfo result: socket(family, socktype, protocol) makes the socket, addr is what it
 * connects or binds to. The names come from proto.h's tables ("AF_INET6", "SOCK_STREAM",
 * "IPPROTO_TCP"; "?" for a number the tables do not know). */
typedef struct sk_ai_row {
    int family;
    int socktype;
    int protocol;
    const char *family_name;
    const char *socktype_name;
    const char *protocol_name;
    sk_addr addr;        /* port as resolved; an IPv6 scope id is kept */
    char canonname[256]; /* ai_canonname where getaddrinfo gave one (the first row), else "" */
} sk_ai_row;

typedef struct sk_ai_list {
    sk_ai_row *v;
    size_t n;
    int gai_error; /* the EAI_* code getaddrinfo returned; 0 on success */
    bool builtin;  /* answered by the library's RFC 6761 rule for "localhost", not the resolver */
    int64_t elapsed_us; /* how long the lookup took */
} sk_ai_list;

/* getaddrinfo(host, service, hints) with every result kept, in getaddrinfo's order, duplicates
 * included. host NULL: the wildcard (with AI_PASSIVE) or loopback addresses; service NULL: port 0.
 * hints NULL: zeros (every family and type, no flags). "localhost", "localhost." and names under
 * ".localhost" are answered as sk_resolve answers them (RFC 6761 6.3: [::1], then 127.0.0.1, as the
 * family allows; out->builtin set; canonname is the name as given when AI_CANONNAME asked for it).
 * On failure returns a negative code (SK_ENONAME, SK_ESERVICE, SK_EAGAIN_DNS, SK_ENOADDR, ...) and
 * sk_errmsg() reads "resolve 'NAME': Name or service not known (EAI_NONAME)"; out->gai_error and
 * out->elapsed_us are set then too, out->n is 0. Free with sk_ai_list_free. */
int sk_resolve_rows(const char *host, const char *service, const sk_ai_hints *hints,
                    sk_ai_list *out);
void sk_ai_list_free(sk_ai_list *list);

/* The symbol of a getaddrinfo error: "EAI_NONAME", "EAI_AGAIN", ...; "EAI_?" if unknown. */
const char *sk_gai_name(int eai);
/* AI_* flags as "AI_PASSIVE|AI_CANONNAME" ("0" for none) into buf. Returns the length. */
int sk_ai_flags_format(int flags, char *buf, size_t len);

/* A reverse lookup's answer. */
typedef struct sk_nameinfo {
    char host[1025];    /* NI_MAXHOST */
    char service[32];   /* the port's name ("http"), or its number when it has none */
    int gai_error;      /* EAI_* on failure, else 0 */
    int64_t elapsed_us; /* how long it took */
} sk_nameinfo;

/* getnameinfo for an IPv4 or IPv6 address. ni_flags as getnameinfo's (NI_NAMEREQD: fail rather
 * than give the address back as text; NI_DGRAM: the UDP service name). On failure returns a
 * negative code as sk_resolve_rows does (SK_ENONAME for an address without a name), with the EAI_*
 * code in out->gai_error. */
int sk_resolve_reverse(const sk_addr *a, int ni_flags, sk_nameinfo *out);

/* Which source answers a lookup of host, as the C library asks them: the numeric parser (an
 * address literal: "numeric (no lookup)"), the library's RFC 6761 rule ("built in (RFC 6761)"),
 * then the services of /etc/nsswitch.conf's hosts line in order — "files (/etc/hosts)" when the
 * hosts file lists the name for the family, "myhostname" for this host's own name, "mdns4_minimal"
 * for a ".local" name, "dns", ... — the first that can answer. family: AF_UNSPEC, AF_INET or
 * AF_INET6. Writes the text into buf and returns its length; a source that only may answer (DNS) is
 * named as such, the lookup itself is not made. */
int sk_name_source(const char *host, int family, char *buf, size_t len);
/* The same for the reverse lookup of an address: "files (/etc/hosts)" when the hosts file lists
 * it, else the next service ("dns": a PTR query). */
int sk_addr_source(const sk_addr *a, char *buf, size_t len);
/* The services of nsswitch.conf's hosts line, actions left out ("files dns"), or glibc's default
 * ("dns files") when the file or the line is missing. Returns the length. */
int sk_nss_hosts(char *buf, size_t len);

/* gethostname(), NUL-terminated. Returns the length or a negative code. */
int sk_hostname(char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
