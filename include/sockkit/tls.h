/* sockkit — TLS over a connected stream socket (OpenSSL 3 inside; no OpenSSL type shows here).
 *
 * A context (sk_tls_ctx) holds what every connection of one side shares: the certificates, the
 * trust store, the protocol versions, ALPN, the session cache. A connection (sk_tls) runs TLS over
 * a connected fd the caller keeps owning: sk_tls_close frees the TLS state, never the fd.
 *
 * Safe by default: TLS 1.2 at least, the system's CA store, and the client verifies the server's
 * certificate and its host name; turning that off is the explicit opts.insecure_skip_verify.
 * Calls take a timeout in milliseconds (-1 = none) bounding the whole call, as in sock.h, and
 * return >= 0 or a negative code: -errno, or SK_ETLS (a protocol failure or an alert),
 * SK_ETLSVERIFY (the peer's certificate was refused), SK_ETLSTRUNC (the peer closed TCP without a
 * close_notify: the data may have been cut), SK_ENOTLS (sockkit was built without TLS); the
 * reason is in sk_errmsg() ("TLS handshake with example.test: certificate verify failed:
 * self-signed certificate (host example.test)").
 *
 * Threads: a context may be used by any number of threads at once (sk_tls_open from several
 * threads); free it after its last connection. A connection is not locked: one thread at a time.
 */
#ifndef SOCKKIT_TLS_H
#define SOCKKIT_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "reader.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_tls_ctx sk_tls_ctx;
typedef struct sk_tls sk_tls;

typedef enum sk_tls_side {
    SK_TLS_CLIENT = 1,
    SK_TLS_SERVER = 2,
} sk_tls_side;

typedef enum sk_tls_version {
    SK_TLS_VERSION_DEFAULT = 0, /* min: TLS 1.2; max: the highest OpenSSL knows */
    SK_TLS_1_2 = 0x0303,
    SK_TLS_1_3 = 0x0304,
} sk_tls_version;

/* Options of a context. Initialise with SK_TLS_OPTS_INIT; every field left 0 is the default. */
typedef struct sk_tls_opts {
    size_t size;                /* sizeof(sk_tls_opts), set by SK_TLS_OPTS_INIT */
    const char *ca_file;        /* PEM certificates to trust. Client: NULL = the system's store.
                                 * Server: ask clients for a certificate and verify it against
                                 * these (mutual TLS); NULL = ask for none */
    const char *cert_file;      /* PEM: our certificate, then its chain; NULL = none (a server
                                 * needs one, or self_signed) */
    const char *key_file;       /* PEM private key of cert_file; NULL = in cert_file */
    const char *alpn;           /* ALPN protocols, comma separated ("h2,http/1.1"): the client
                                 * offers them, the server picks the first of its list the client
                                 * offers (none in common: the handshake fails); NULL = no ALPN */
    sk_tls_version min_version; /* 0 = SK_TLS_1_2 */
    sk_tls_version max_version; /* 0 = the highest */
    bool self_signed;           /* server: a throw-away P-256 key and a certificate for localhost,
                                 * 127.0.0.1 and ::1, valid one day, made in memory (false = none) */
    bool require_client_cert;   /* server with ca_file: refuse a client without a certificate
                                 * (false = a client may send none) */
    bool insecure_skip_verify;  /* client: accept any certificate for any name. For tests only
                                 * (false = verify the chain and the host name) */
    bool no_session_reuse;      /* client: do not resume sessions (false = the context keeps the
                                 * last session per host and offers it) */
    const char *pin_sha256;     /* client: accept exactly the server certificate with this
                                 * SHA-256 fingerprint ("SHA256:AB:CD:...", any case, colons
                                 * optional) instead of checking its chain and name (NULL =
                                 * verify as usual) */
    const char *keylog_file;    /* append the session secrets as SSLKEYLOGFILE lines, so that a
                                 * capture can be decrypted (Wireshark); NULL = none */
} sk_tls_opts;
/* clang-format off */
#define SK_TLS_OPTS_INIT(...) {.size = sizeof(sk_tls_opts), __VA_ARGS__}
/* clang-format on */

/* What a handshake settled, filled by sk_tls_get_info. Strings are NUL-terminated, "" = none. */
typedef struct sk_tls_info {
    size_t size;            /* sizeof(sk_tls_info), set by SK_TLS_INFO_INIT */
    char version[16];       /* "TLSv1.3" */
    char cipher[64];        /* "TLS_AES_256_GCM_SHA384" */
    char alpn[64];          /* the protocol ALPN chose */
    char server_name[256];  /* the SNI: the one sent (client) or received (server) */
    char peer_subject[256]; /* the peer certificate's subject, one line ("CN=localhost") */
    char peer_issuer[256];
    char peer_not_after[32]; /* "Nov 27 03:00:00 2026 GMT" */
    bool peer_cert;          /* the peer showed a certificate */
    bool verified;           /* ... and it was verified (chain, and the host name on a client) */
    bool resumed;            /* the session was resumed, not a full handshake */
} sk_tls_info;
/* clang-format off */
#define SK_TLS_INFO_INIT {.size = sizeof(sk_tls_info)}
/* clang-format on */

/* True when this libsockkit was built with TLS (else every other call returns SK_ENOTLS). */
bool sk_tls_available(void);
/* The TLS library in use, as it names itself ("OpenSSL 3.0.19 27 Jan 2026"); NULL without TLS. */
const char *sk_tls_library(void);

/* A context for one side in *out. Loads the files now, so a bad path or a key that does not
 * match its certificate fails here (SK_ETLS, naming the file). opts may be NULL (a client with
 * the defaults). */
int sk_tls_ctx_new(sk_tls_ctx **out, sk_tls_side side, const sk_tls_opts *opts);
void sk_tls_ctx_free(sk_tls_ctx *ctx);
/* The SHA-256 fingerprint of the context's own certificate, "SHA256:AB:CD:..." (103 bytes with
 * the NUL). SK_EARG when it has none. */
int sk_tls_ctx_get_fingerprint(const sk_tls_ctx *ctx, char *buf, size_t len);

/* The handshake over the connected fd, as the context's side, within timeout_ms. host (client):
 * the name sent as SNI and checked against the certificate (an IP address is checked against the
 * IP SANs and not sent); required unless the context skips verification. Server: NULL. */
int sk_tls_open(sk_tls **out, sk_tls_ctx *ctx, int fd, const char *host, int timeout_ms);
/* Free the connection (NULL is fine). Sends nothing and does not close the fd: call
 * sk_tls_shutdown first for an orderly end. */
void sk_tls_close(sk_tls *t);
/* Send our close_notify (once; later calls return 0). The peer's is not waited for: it arrives
 * as the 0 of sk_tls_recv. */
int sk_tls_shutdown(sk_tls *t, int timeout_ms);

int sk_tls_fd(const sk_tls *t);
/* Plaintext bytes already decrypted, readable without waiting for the fd. */
size_t sk_tls_pending(const sk_tls *t);
int sk_tls_get_info(const sk_tls *t, sk_tls_info *out);

/* One send or receive of plaintext, as sk_send/sk_recv: the count; recv returns 0 when the peer
 * sent close_notify, SK_ETLSTRUNC when TCP ended without it. */
ssize_t sk_tls_send(sk_tls *t, const void *buf, size_t len, int timeout_ms);
ssize_t sk_tls_recv(sk_tls *t, void *buf, size_t len, int timeout_ms);
/* As sk_send_all / sk_recv_exact (SK_EEOF: close_notify before len bytes). */
int sk_tls_send_all(sk_tls *t, const void *buf, size_t len, int timeout_ms, size_t *sent);
int sk_tls_recv_exact(sk_tls *t, void *buf, size_t len, int timeout_ms, size_t *got);

/* A buffered reader (reader.h: lines, delimiters, exact, frames) that reads through t. The reader
 * does not own t; free the reader before t. */
int sk_reader_new_tls(sk_reader **out, sk_tls *t, size_t bufsize);

#ifdef __cplusplus
}
#endif
#endif
