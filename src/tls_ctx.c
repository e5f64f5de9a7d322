/* TLS contexts: what the connections of one side share (certificates, trust, versions, ALPN, the
 * client's session slot). Safe defaults: TLS 1.2 at least, the system's CA store, verification of
 * the peer's chain and name on the client. */
#if SK_HAVE_TLS
#include "tls_internal.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Why OpenSSL failed, from its queue (then cleared): the first error is the cause, the last only
 * the layer that gave up ("system lib", "PEM lib"). A system error is the errno's text ("No such
 * file or directory"); a file that is not PEM says so. */
static void ossl_why(char *why, size_t cap)
{
    unsigned long first = ERR_peek_error();
    const char *r = first ? ERR_reason_error_string(first) : NULL;
    if (first && ERR_SYSTEM_ERROR(first))
        snprintf(why, cap, "%s", strerror(ERR_GET_REASON(first)));
    else if (first && ERR_GET_LIB(first) == ERR_LIB_PEM &&
             ERR_GET_REASON(first) == PEM_R_NO_START_LINE)
        snprintf(why, cap, "not PEM (no '-----BEGIN' line)");
    else if (first && ERR_GET_LIB(first) == ERR_LIB_OSSL_DECODER)
        snprintf(why, cap, "no key in it that OpenSSL can read (%s)", r ? r : "unsupported");
    else
        snprintf(why, cap, "%s", r ? r : "unknown reason");
    ERR_clear_error();
}

static int ctx_fail(const char *fmt, const char *arg)
{
    char why[300];
    ossl_why(why, sizeof why);
    return sk__fail_why(SK_ETLS, why, fmt, arg);
}

/* "h2,http/1.1" → the wire format (each name prefixed by its length). */
static int alpn_wire(const char *list, unsigned char **out, size_t *outlen)
{
    size_t n = strlen(list);
    unsigned char *w = malloc(n + 1);
    if (!w)
        return sk__fail(-ENOMEM, "TLS ALPN");
    size_t k = 0;
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len > 255) {
            free(w);
            return sk__fail(SK_EARG, "TLS ALPN '%s': names of 1 to 255 bytes, comma separated",
                            list);
        }
        w[k++] = (unsigned char)len;
        memcpy(w + k, p, len);
        k += len;
        p += len;
        if (*p == ',')
            p++;
    }
    *out = w;
    *outlen = k;
    return 0;
}

/* The server picks the first of its protocols that the client offers (none: the handshake fails
 * with the no_application_protocol alert, RFC 7301 3.2). */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    sk_tls_ctx *c = arg;
    unsigned char *sel = NULL;
    if (SSL_select_next_proto(&sel, outlen, c->alpn, (unsigned)c->alpn_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* The client keeps the newest session of the last host it talked to (TLS 1.3 sends tickets after
 * the handshake, so this runs during a later read). */
static int new_session(SSL *ssl, SSL_SESSION *sess)
{
    sk_tls *t = SSL_get_app_data(ssl);
    if (!t || !t->ctx->reuse)
        return 0;
    sk_tls_ctx *c = t->ctx;
    pthread_mutex_lock(&c->lock);
    SSL_SESSION_free(c->session);
    c->session = sess;
    snprintf(c->session_host, sizeof c->session_host, "%s", t->host);
    pthread_mutex_unlock(&c->lock);
    return 1; /* we keep the reference */
}

static int versions(SSL_CTX *ssl, const sk_tls_opts *o)
{
    int lo = o->min_version ? (int)o->min_version : TLS1_2_VERSION;
    int hi = o->max_version ? (int)o->max_version : 0;
    if (lo < TLS1_2_VERSION || (hi && hi < lo))
        return sk__fail(SK_EARG,
                        "TLS versions: from 1.2 up, and the maximum not below the minimum");
    if (!SSL_CTX_set_min_proto_version(ssl, lo) || !SSL_CTX_set_max_proto_version(ssl, hi))
        return ctx_fail("TLS versions%s", "");
    return 0;
}

static int certificates(sk_tls_ctx *c, const sk_tls_opts *o)
{
    if (o->self_signed && c->side == SK_TLS_SERVER) {
        if (sk__tls_self_signed(c->ssl) < 0)
            return ctx_fail("TLS self-signed certificate%s", "");
    } else if (o->cert_file) {
        if (SSL_CTX_use_certificate_chain_file(c->ssl, o->cert_file) != 1)
            return ctx_fail("TLS certificate %s", o->cert_file);
        const char *key = o->key_file ? o->key_file : o->cert_file;
        if (SSL_CTX_use_PrivateKey_file(c->ssl, key, SSL_FILETYPE_PEM) != 1)
            return ctx_fail("TLS key %s", key);
        if (SSL_CTX_check_private_key(c->ssl) != 1)
            return ctx_fail("TLS key %s does not match the certificate", key);
    } else if (c->side == SK_TLS_SERVER) {
        return sk__fail(SK_EARG, "TLS server: needs a certificate and key (or self_signed)");
    }
    return 0;
}

static int trust(sk_tls_ctx *c, const sk_tls_opts *o)
{
    if (c->side == SK_TLS_SERVER) {
        if (!o->ca_file) {
            if (o->require_client_cert)
                return sk__fail(SK_EARG, "TLS server: require_client_cert needs a ca_file");
            return 0;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca_file);
        if (!names || SSL_CTX_load_verify_locations(c->ssl, o->ca_file, NULL) != 1) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            return ctx_fail("TLS client CA file %s", o->ca_file);
        }
        SSL_CTX_set_client_CA_list(c->ssl, names);
        int mode = SSL_VERIFY_PEER | (o->require_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
        SSL_CTX_set_verify(c->ssl, mode, NULL);
        return 0;
    }
    if (o->insecure_skip_verify) {
        SSL_CTX_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
        return 0;
    }
    SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
    if (o->ca_file) {
        if (SSL_CTX_load_verify_locations(c->ssl, o->ca_file, NULL) != 1)
            return ctx_fail("TLS CA file %s", o->ca_file);
    } else if (SSL_CTX_set_default_verify_paths(c->ssl) != 1) {
        return ctx_fail("TLS system CA store%s", "");
    }
    return 0;
}

/* "SHA256:AB:CD:..." (or without the prefix, any case, colons optional) into 32 bytes. */
static int parse_pin(const char *text, unsigned char out[32])
{
    const char *p = strncasecmp(text, "SHA256:", 7) == 0 ? text + 7 : text;
    size_t k = 0;
    while (*p && k < 64) {
        if (*p == ':') {
            p++;
            continue;
        }
        int v = *p >= '0' && *p <= '9'   ? *p - '0'
                : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
                : *p >= 'A' && *p <= 'F' ? *p - 'A' + 10
                                         : -1;
        if (v < 0)
            break;
        out[k / 2] = (unsigned char)(k % 2 ? out[k / 2] | v : v << 4);
        k++;
        p++;
    }
    if (k != 64 || *p)
        return sk__fail(SK_EARG, "TLS pin '%s': a SHA-256 fingerprint (SHA256: and 32 hex bytes)",
                        text);
    return 0;
}

/* A pinned client takes any chain: the fingerprint is compared after the handshake. */
static int accept_any(int ok, X509_STORE_CTX *x)
{
    (void)ok, (void)x;
    return 1;
}

static void keylog_line(const SSL *ssl, const char *line)
{
    sk_tls *t = SSL_get_app_data(ssl);
    if (!t || !t->ctx->keylog)
        return;
    pthread_mutex_lock(&t->ctx->lock);
    fprintf(t->ctx->keylog, "%s\n", line);
    fflush(t->ctx->keylog);
    pthread_mutex_unlock(&t->ctx->lock);
}

static int extras(sk_tls_ctx *c, const sk_tls_opts *o)
{
    if (o->pin_sha256 && c->side == SK_TLS_CLIENT) {
        int rc = parse_pin(o->pin_sha256, c->pin);
        if (rc < 0)
            return rc;
        c->has_pin = true;
        SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER, accept_any);
    }
    if (o->keylog_file) {
        if (!(c->keylog = fopen(o->keylog_file, "ae")))
            return sk__fail_errno("TLS key log %s", o->keylog_file);
        SSL_CTX_set_keylog_callback(c->ssl, keylog_line);
    }
    return 0;
}

static int alpn(sk_tls_ctx *c, const sk_tls_opts *o)
{
    if (!o->alpn)
        return 0;
    int rc = alpn_wire(o->alpn, &c->alpn, &c->alpn_len);
    if (rc < 0)
        return rc;
    if (c->side == SK_TLS_SERVER)
        SSL_CTX_set_alpn_select_cb(c->ssl, alpn_select, c);
    else if (SSL_CTX_set_alpn_protos(c->ssl, c->alpn, (unsigned)c->alpn_len) != 0)
        return ctx_fail("TLS ALPN %s", o->alpn);
    return 0;
}

static int configure(sk_tls_ctx *c, const sk_tls_opts *o)
{
    /* Partial writes let sk_tls_send return what went out, as send(2) does; a moving buffer lets
     * a retry after a timeout come from another address (the caller's buffer may have moved). */
    SSL_CTX_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    int rc;
    if ((rc = versions(c->ssl, o)) < 0 || (rc = certificates(c, o)) < 0 || (rc = trust(c, o)) < 0 ||
        (rc = alpn(c, o)) < 0 || (rc = extras(c, o)) < 0)
        return rc;
    if (c->side == SK_TLS_SERVER) {
        /* Not SSL_MODE_RELEASE_BUFFERS: it cut an idle connection from 23.4 to 14.5 KiB but cost
         * 17-37% of the echo rate at 50 connections (a free and a malloc of ~17 KiB per record;
         * docs/performance.md, "TLS"). */
        /* Needed for resumption once clients show certificates (else OpenSSL refuses to resume). */
        static const unsigned char id[] = "sockkit";
        SSL_CTX_set_session_id_context(c->ssl, id, sizeof id - 1);
    } else if (c->reuse) {
        SSL_CTX_set_session_cache_mode(c->ssl,
                                       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(c->ssl, new_session);
    }
    return 0;
}

bool sk_tls_available(void)
{
    return true;
}

const char *sk_tls_library(void)
{
    return OpenSSL_version(OPENSSL_VERSION);
}

int sk_tls_ctx_new(sk_tls_ctx **out, sk_tls_side side, const sk_tls_opts *opts)
{
    sk_tls_opts o;
    int rc = sk__opts_load(&o, sizeof o, opts, "TLS context options");
    if (rc < 0)
        return rc;
    if (!out || (side != SK_TLS_CLIENT && side != SK_TLS_SERVER))
        return sk__fail(SK_EARG, "TLS context: side is SK_TLS_CLIENT or SK_TLS_SERVER");
    sk_tls_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return sk__fail(-ENOMEM, "TLS context");
    pthread_mutex_init(&c->lock, NULL);
    c->side = side;
    c->ops = &sk__tls_server_ops;
    c->verify = side == SK_TLS_CLIENT && !o.insecure_skip_verify && !o.pin_sha256;
    c->reuse = side == SK_TLS_CLIENT && !o.no_session_reuse;
    ERR_clear_error();
    c->ssl = SSL_CTX_new(side == SK_TLS_CLIENT ? TLS_client_method() : TLS_server_method());
    if (!c->ssl) {
        rc = ctx_fail("TLS context%s", "");
    } else {
        rc = configure(c, &o);
    }
    if (rc < 0) {
        sk_tls_ctx_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void sk_tls_ctx_free(sk_tls_ctx *ctx)
{
    if (!ctx)
        return;
    SSL_SESSION_free(ctx->session);
    SSL_CTX_free(ctx->ssl);
    free(ctx->alpn);
    if (ctx->keylog)
        fclose(ctx->keylog);
    pthread_mutex_destroy(&ctx->lock);
    free(ctx);
}

/* "SHA256:" and the digest as colon-separated hex pairs, as `openssl x509 -fingerprint` prints. */
int sk__tls_fingerprint(X509 *cert, char *buf, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!cert || X509_digest(cert, EVP_sha256(), md, &n) != 1)
        return sk__fail(SK_EARG, "TLS fingerprint: no certificate");
    size_t need = 7 + (size_t)n * 3;
    if (len < need)
        return sk__fail(SK_EARG, "TLS fingerprint: buffer of %zu bytes, needs %zu", len, need);
    size_t k = (size_t)snprintf(buf, len, "SHA256:");
    for (unsigned i = 0; i < n; i++)
        k += (size_t)snprintf(buf + k, len - k, i ? ":%02X" : "%02X", md[i]);
    return (int)k;
}

int sk_tls_ctx_get_fingerprint(const sk_tls_ctx *ctx, char *buf, size_t len)
{
    if (!ctx || !buf)
        return sk__fail(SK_EARG, "TLS fingerprint");
    return sk__tls_fingerprint(SSL_CTX_get0_certificate(ctx->ssl), buf, len);
}
#endif
