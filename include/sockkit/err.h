/* sockkit — error model.
 *
 * Every function that can fail returns a value >= 0 on success and a negative code on failure:
 * either -errno (e.g. -ECONNREFUSED) or one of the library codes below. sk_strerror() names a code,
 * sk_err_name() gives its symbol, and sk_errmsg() returns the last failure of the calling thread
 * with its context ("connect [::1]:9: Connection refused").
 *
 * Threads: every function may be called from any thread; sk_errmsg() is per thread.
 */
#ifndef SOCKKIT_ERR_H
#define SOCKKIT_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, message): the one table from which codes, sk_strerror and sk_err_name come. */
#define SK_ERR_MAP(X)                                                                              \
    X(SK_EPARSE, -3001, "endpoint does not parse")                                                 \
    X(SK_EPORT, -3002, "port is not a number from 0 to 65535")                                     \
    X(SK_ENOHOST, -3003, "empty host")                                                             \
    X(SK_EBRACKET, -3004, "unbalanced brackets in address")                                        \
    X(SK_ESERVICE, -3005, "unknown service name")                                                  \
    X(SK_EIFACE, -3006, "unknown network interface")                                               \
    X(SK_EPATHLEN, -3007, "path too long for a Unix socket address")                               \
    X(SK_ENONAME, -3008, "host name does not resolve")                                             \
    X(SK_EAGAIN_DNS, -3009, "temporary failure in name resolution")                                \
    X(SK_ENOADDR, -3010, "no address of a usable family")                                          \
    X(SK_EEOF, -3011, "connection closed before the message was complete")                         \
    X(SK_ETOOLONG, -3012, "message longer than the allowed maximum")                               \
    X(SK_EOPTION, -3013, "unknown socket option")                                                  \
    X(SK_ENOTMCAST, -3014, "address is not a multicast group")                                     \
    X(SK_ESSM, -3015, "source does not match the group's range (SSM needs a source, ASM none)")    \
    X(SK_ENOTDGRAM, -3016, "multicast needs a UDP (datagram) socket")                              \
    X(SK_ENOROUTE, -3017, "no route for the multicast group; name an interface")                   \
    X(SK_EARG, -3018, "invalid argument")                                                          \
    X(SK_ECLOSED, -3019, "object is closed or shutting down")                                      \
    X(SK_EPROXY, -3020, "the proxy refused the request")                                           \
    X(SK_EPROXYREPLY, -3021, "malformed reply from the proxy")                                     \
    X(SK_ETLS, -3022, "TLS failure")                                                               \
    X(SK_ETLSVERIFY, -3023, "certificate verify failed")                                           \
    X(SK_ETLSTRUNC, -3024, "connection closed without TLS close_notify (data may be truncated)")   \
    X(SK_ENOTLS, -3025, "sockkit was built without TLS")

enum sk_errcode {
#define SK__ERR_ENUM(name, value, msg) name = value,
    SK_ERR_MAP(SK__ERR_ENUM)
#undef SK__ERR_ENUM
};

/* Human-readable text for a code (library code or -errno). Never NULL; static storage. */
const char *sk_strerror(int code);

/* Symbolic name of a code: "SK_EPORT", "ECONNREFUSED". Never NULL; static storage. */
const char *sk_err_name(int code);

/* The last failure of this thread, with context. "" when none has happened yet. The string is
 * owned by the thread and stays valid until the thread's next failing sockkit call. */
const char *sk_errmsg(void);

#ifdef __cplusplus
}
#endif
#endif
