/* sockkit — name/number tables for the socket API, with explanations: IPPROTO_*, AF_*, SOCK_*,
 * and socket options (SO_*, TCP_*, IP_*, IPV6_*) with their levels.
 *
 * Threads: the tables are static and never change, and sk_proto_etc_name uses
 * getprotobynumber_r: every function may be called from any thread. */
#ifndef SOCKKIT_PROTO_H
#define SOCKKIT_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_name {
    const char *name;    /* "IPPROTO_TCP" */
    int value;           /* 6 */
    const char *summary; /* one line */
} sk_name;

typedef struct sk_optname {
    const char *name;       /* "SO_REUSEADDR" */
    int level;              /* SOL_SOCKET */
    const char *level_name; /* "SOL_SOCKET" */
    int value;              /* SO_REUSEADDR */
    const char *summary;
    bool is_int; /* takes an int (sk_sock_set_option/sk_sock_get_option work with it) */
} sk_optname;

/* Whole tables (count in *n). */
const sk_name *sk_proto_table(size_t *n);  /* IPPROTO_* this platform defines */
const sk_name *sk_family_table(size_t *n); /* AF_* */
const sk_name *sk_type_table(size_t *n);   /* SOCK_* */
const sk_optname *sk_option_table(size_t *n);

/* Look-ups; NULL / "?" when unknown. Names match case-insensitively, with or without prefix
 * ("tcp", "IPPROTO_TCP"). For a value shared by several names (IPPROTO_IP and IPPROTO_HOPOPTS are
 * both 0) the *_name functions return the first, the canonical one. */
const sk_name *sk_proto_lookup(const char *name);
const char *sk_proto_name(int proto);
const char *sk_family_name(int family);
const char *sk_type_name(int type); /* ignores SOCK_CLOEXEC/SOCK_NONBLOCK bits */
const sk_optname *sk_option_lookup(const char *name);

/* A longer explanation (several lines) of a name — IPPROTO_IP, IPPROTO_TCP, IPPROTO_UDP,
 * IPPROTO_IPV6, IPPROTO_RAW, IPPROTO_ICMP, SOL_SOCKET, ... — or NULL if there is none beyond the
 * one-line summary. Accepts the same spellings as sk_proto_lookup. */
const char *sk_proto_explain(const char *name);

/* The protocol's name in /etc/protocols ("tcp"), copied into buf; NULL if it has none. */
const char *sk_proto_etc_name(int proto, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
