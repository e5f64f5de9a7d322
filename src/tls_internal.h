/* What the TLS files share (tls.c, tls_bio.c, tls_cert.c); only these include OpenSSL. */
#ifndef SOCKKIT_TLS_INTERNAL_H
#define SOCKKIT_TLS_INTERNAL_H

#include "internal.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>

struct sk_tls_ctx {
    const struct sk__tls_ops *ops; /* first: see sk__tls_ops in internal.h */
    SSL_CTX *ssl;
    sk_tls_side side;
    bool verify;         /* client: verify chain and host name */
    bool reuse;          /* client: offer the cached session */
    unsigned char *alpn; /* wire format (length-prefixed names), for the server's choice */
    size_t alpn_len;
    pthread_mutex_t lock;  /* guards the session slot and the key log */
    unsigned char pin[32]; /* client: the pinned SHA-256 fingerprint, if has_pin */
    bool has_pin;
    FILE *keylog;
    SSL_SESSION *session; /* client: the last session, for host session_host */
    char session_host[256];
};

struct sk_tls {
    SSL *ssl;
    sk_tls_ctx *ctx;
    int fd;
    int io_errno; /* the last errno of the socket under the BIO (0 = none) */
    bool sent_close;
    bool failed; /* a fatal error: the session must not be resumed */
    bool pinned; /* the peer's certificate matched the context's pin */
    char host[256];
    uint64_t raw_in, raw_out;     /* encrypted bytes on the wire */
    uint64_t recs_in, recs_out;   /* records on the wire (counted while tracing) */
    uint64_t plain_in, plain_out; /* plaintext bytes through SSL_read / SSL_write */
};

/* tls_bio.c: a BIO over the connection's fd with recv/send(MSG_DONTWAIT | MSG_NOSIGNAL): never
 * blocks (the caller waits with its deadline), never raises SIGPIPE, leaves the fd's flags as they
 * are, and counts the encrypted bytes. NULL when out of memory. */
BIO *sk__tls_bio(sk_tls *t);

/* tls_cert.c: a throw-away P-256 key and a self-signed certificate for localhost, 127.0.0.1 and
 * ::1, valid one day, into ctx. 0 or SK_ETLS. */
int sk__tls_self_signed(SSL_CTX *ctx);

/* tls.c: the servers' table. */
extern const struct sk__tls_ops sk__tls_server_ops;

/* tls_ctx.c: "SHA256:AB:..." of cert into buf; its length, or SK_EARG. */
int sk__tls_fingerprint(X509 *cert, char *buf, size_t len);

#endif
