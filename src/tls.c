/* TLS connections over a connected fd: the handshake, plaintext send and receive with whole-call
 * deadlines, close_notify, and failures turned into one-line reasons (never an OpenSSL error
 * stack). The fd is never switched to non-blocking: the BIO (tls_bio.c) uses MSG_DONTWAIT and
 * the waiting happens here, on the fd, until the deadline. */
#if SK_HAVE_TLS
#include "tls_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SSL_get_error reads the thread's error queue, so it must be empty before each SSL call. On
 * OpenSSL 3 ERR_clear_error costs some 800 instructions even on an empty queue (a third of the
 * wrapper's cost per echoed request, callgrind), ERR_peek_error a tenth of that: clear only a queue
 * that holds something (left by the application's own OpenSSL calls; ours empty it on failure). */
static void clear_errors(void)
{
    if (ERR_peek_error())
        ERR_clear_error();
}

static bool is_ip(const char *host)
{
    unsigned char b[16];
    return inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1;
}

/* What the last failed SSL call (its return ret) means: 1 = wait for the fd to be readable, 2 =
 * writable, 0 = the peer's close_notify, or a negative code with sk_errmsg() set. what: "TLS
 * handshake with HOST", "TLS read fd 5". */
static int classify(sk_tls *t, int ret, const char *what)
{
    int e = SSL_get_error(t->ssl, ret);
    if (e == SSL_ERROR_WANT_READ)
        return 1;
    if (e == SSL_ERROR_WANT_WRITE)
        return 2;
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    unsigned long err = ERR_peek_last_error();
    int rc;
    char why[400];
    long v = SSL_get_verify_result(t->ssl);
    if (e == SSL_ERROR_SYSCALL && t->io_errno) {
        rc = sk__fail(-t->io_errno, "%s", what);
    } else if (v != X509_V_OK && !SSL_is_init_finished(t->ssl)) {
        snprintf(why, sizeof why, "certificate verify failed: %s%s%s%s",
                 X509_verify_cert_error_string(v), t->host[0] ? " (host " : "", t->host,
                 t->host[0] ? ")" : "");
        rc = sk__fail_why(SK_ETLSVERIFY, why, "%s", what);
    } else if (ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING ||
               (e == SSL_ERROR_SYSCALL && !err)) {
        rc = SSL_is_init_finished(t->ssl)
                 ? sk__fail(SK_ETLSTRUNC, "%s", what)
                 : sk__fail_why(SK_ETLS, "the peer closed the connection during the handshake",
                                "%s", what);
    } else {
        const char *r = err ? ERR_reason_error_string(err) : NULL;
        snprintf(why, sizeof why, "%s", r ? r : "protocol error");
        rc = sk__fail_why(SK_ETLS, why, "%s", what);
    }
    ERR_clear_error();
    t->failed = true;
    return rc;
}

/* Wait for what classify asked for (1 read, 2 write). 0, -ETIMEDOUT or -errno. */
static int await(sk_tls *t, int want, int64_t deadline)
{
    int rc = sk__wait_deadline(t->fd, want == 1 ? POLLIN : POLLOUT, deadline);
    return rc < 0 ? rc : 0;
}

static void trace_handshake(sk_tls *t)
{
    if (!sk_trace_level())
        return;
    sk_tls_info i = SK_TLS_INFO_INIT;
    sk_tls_get_info(t, &i);
    sk__trace_call(t->fd, "tls handshake %s %s%s%s alpn=%s sni=%s%s", i.version, i.cipher,
                   i.resumed ? " resumed" : "", i.peer_cert ? "" : " no-peer-cert",
                   i.alpn[0] ? i.alpn : "-", i.server_name[0] ? i.server_name : "-",
                   i.peer_cert ? (i.verified ? " verified" : " NOT verified") : "");
    if (i.peer_cert)
        sk__trace_call(t->fd, "tls peer subject \"%s\" issuer \"%s\" not after %s", i.peer_subject,
                       i.peer_issuer, i.peer_not_after);
}

/* A pinned client: the server's certificate must be the one with the pinned fingerprint. */
static int check_pin(sk_tls *t, const char *what)
{
    X509 *peer = SSL_get1_peer_certificate(t->ssl);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    bool ok = peer && X509_digest(peer, EVP_sha256(), md, &n) == 1 && n == 32 &&
              memcmp(md, t->ctx->pin, 32) == 0;
    char got[128] = "no certificate";
    if (peer && !ok)
        sk__tls_fingerprint(peer, got, sizeof got);
    X509_free(peer);
    if (!ok) {
        char why[200];
        snprintf(why, sizeof why, "certificate does not match the pin (it is %s)", got);
        t->failed = true;
        return sk__fail_why(SK_ETLSVERIFY, why, "%s", what);
    }
    t->pinned = true;
    return 0;
}

static int handshake(sk_tls *t, int timeout_ms)
{
    char what[SK_ADDRSTRLEN + 64];
    snprintf(what, sizeof what, "TLS handshake with %s", t->host[0] ? t->host : "the peer");
    if (!t->host[0]) {
        sk_addr peer;
        char p[SK_ADDRSTRLEN];
        if (sk_sock_get_peer_addr(t->fd, &peer) == 0 && sk_addr_format(&peer, p, sizeof p) >= 0)
            snprintf(what, sizeof what, "TLS handshake with %s", p);
    }
    int64_t deadline = sk__deadline(timeout_ms);
    for (;;) {
        clear_errors();
        int ret = SSL_do_handshake(t->ssl);
        if (ret == 1)
            break;
        int rc = classify(t, ret, what);
        if (rc == 0)
            rc = sk__fail_why(SK_ETLS, "the peer closed TLS during the handshake", "%s", what);
        if (rc < 0)
            return rc;
        if ((rc = await(t, rc, deadline)) < 0)
            return sk__fail(rc, "%s", what);
    }
    if (t->ctx->has_pin) {
        int rc = check_pin(t, what);
        if (rc < 0)
            return rc;
    }
    trace_handshake(t);
    return 0;
}

static int client_setup(sk_tls *t, const char *host)
{
    sk_tls_ctx *c = t->ctx;
    if (!host && c->verify)
        return sk__fail(SK_EARG, "TLS client: a host name to verify is needed (or "
                                 "insecure_skip_verify)");
    if (!host)
        return 0;
    snprintf(t->host, sizeof t->host, "%s", host);
    if (!is_ip(host) && SSL_set_tlsext_host_name(t->ssl, host) != 1)
        return sk__fail(SK_EARG, "TLS client: server name '%s'", host);
    if (c->verify) {
        X509_VERIFY_PARAM *p = SSL_get0_param(t->ssl);
        X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        int ok = is_ip(host) ? X509_VERIFY_PARAM_set1_ip_asc(p, host)
                             : X509_VERIFY_PARAM_set1_host(p, host, 0);
        if (ok != 1)
            return sk__fail(SK_EARG, "TLS client: host '%s' to verify", host);
    }
    if (c->reuse) {
        pthread_mutex_lock(&c->lock);
        if (c->session && !strcmp(c->session_host, host))
            SSL_set_session(t->ssl, c->session);
        pthread_mutex_unlock(&c->lock);
    }
    return 0;
}

/* --trace: every record header OpenSSL reads or writes, counted per direction for the totals at
 * close (the BIO counts the bytes). Set only while tracing: it costs a call per record. */
static void count_record(int write_p, int version, int content_type, const void *buf, size_t len,
                         SSL *ssl, void *arg)
{
    (void)version, (void)buf, (void)len, (void)arg;
    if (content_type != SSL3_RT_HEADER)
        return;
    sk_tls *t = SSL_get_app_data(ssl);
    if (!t)
        return;
    if (write_p)
        t->recs_out++;
    else
        t->recs_in++;
}

/* The connection without its handshake. */
static int start(sk_tls **out, sk_tls_ctx *ctx, int fd, const char *host)
{
    if (!out || !ctx || fd < 0)
        return sk__fail(SK_EARG, "TLS open fd %d", fd);
    sk_tls *t = calloc(1, sizeof *t);
    if (!t)
        return sk__fail(-ENOMEM, "TLS open fd %d", fd);
    t->fd = fd;
    t->ctx = ctx;
    clear_errors();
    BIO *b = NULL;
    int rc = 0;
    if (!(t->ssl = SSL_new(ctx->ssl)) || !(b = sk__tls_bio(t))) {
        BIO_free(b);
        rc = sk__fail(-ENOMEM, "TLS open fd %d", fd);
    } else {
        SSL_set_bio(t->ssl, b, b);
        SSL_set_app_data(t->ssl, t);
        if (sk_trace_level())
            SSL_set_msg_callback(t->ssl, count_record);
        if (ctx->side == SK_TLS_CLIENT) {
            SSL_set_connect_state(t->ssl);
            rc = client_setup(t, host);
        } else {
            SSL_set_accept_state(t->ssl);
        }
    }
    if (rc < 0) {
        sk_tls_close(t);
        return rc;
    }
    *out = t;
    return 0;
}

int sk_tls_open(sk_tls **out, sk_tls_ctx *ctx, int fd, const char *host, int timeout_ms)
{
    sk_tls *t = NULL;
    int rc = start(&t, ctx, fd, host);
    if (rc == 0 && (rc = handshake(t, timeout_ms)) < 0)
        sk_tls_close(t);
    if (rc == 0)
        *out = t;
    return rc;
}

/* --trace: what the connection moved, once at its end: records and bytes on the wire each way
 * (headers, padding, tags and the handshake included), and the plaintext inside them. */
static void trace_totals(const sk_tls *t)
{
    if (!sk_trace_level())
        return;
    sk__trace_call(t->fd,
                   "tls totals: out %llu records %llu bytes encrypted (%llu plaintext), in %llu "
                   "records %llu bytes encrypted (%llu plaintext)",
                   (unsigned long long)t->recs_out, (unsigned long long)t->raw_out,
                   (unsigned long long)t->plain_out, (unsigned long long)t->recs_in,
                   (unsigned long long)t->raw_in, (unsigned long long)t->plain_in);
}

void sk_tls_close(sk_tls *t)
{
    if (!t)
        return;
    trace_totals(t);
    /* OpenSSL takes a connection freed before its close_notify for a broken one and makes its
     * session unresumable; one that only ended without a word (the program's choice) keeps it. */
    if (t->ssl && !t->failed && SSL_is_init_finished(t->ssl))
        SSL_set_shutdown(t->ssl, SSL_get_shutdown(t->ssl) | SSL_SENT_SHUTDOWN);
    SSL_free(t->ssl);
    free(t);
}

int sk_tls_shutdown(sk_tls *t, int timeout_ms)
{
    if (!t)
        return sk__fail(SK_EARG, "TLS shutdown");
    if (t->sent_close)
        return 0;
    int64_t deadline = sk__deadline(timeout_ms);
    char what[64];
    snprintf(what, sizeof what, "TLS shutdown fd %d", t->fd);
    for (;;) {
        clear_errors();
        int ret = SSL_shutdown(t->ssl); /* 0: ours sent, theirs not yet seen; 1: both */
        if (ret >= 0)
            break;
        int rc = classify(t, ret, what);
        if (rc == 1 && (SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN))
            break; /* sent; it was only reading the peer's (not waited for) */
        if (rc <= 0)
            return rc;
        if ((rc = await(t, rc, deadline)) < 0)
            return sk__fail(rc, "%s", what);
    }
    t->sent_close = true;
    sk__trace_call(t->fd, "tls close_notify sent (wire: %llu bytes out, %llu in)",
                   (unsigned long long)t->raw_out, (unsigned long long)t->raw_in);
    return 0;
}

int sk_tls_fd(const sk_tls *t)
{
    return t ? t->fd : SK_EARG;
}

size_t sk_tls_pending(const sk_tls *t)
{
    int n = t ? SSL_pending(t->ssl) : 0;
    return n > 0 ? (size_t)n : 0;
}

static void one_line(const X509_NAME *name, char *buf, size_t len)
{
    BIO *m = BIO_new(BIO_s_mem());
    buf[0] = '\0';
    if (!m)
        return;
    if (X509_NAME_print_ex(m, name, 0, XN_FLAG_RFC2253) >= 0) {
        int n = BIO_read(m, buf, (int)len - 1);
        buf[n > 0 ? n : 0] = '\0';
    }
    BIO_free(m);
}

static void not_after(const X509 *cert, char *buf, size_t len)
{
    BIO *m = BIO_new(BIO_s_mem());
    buf[0] = '\0';
    if (!m)
        return;
    if (ASN1_TIME_print(m, X509_get0_notAfter(cert)) == 1) {
        int n = BIO_read(m, buf, (int)len - 1);
        buf[n > 0 ? n : 0] = '\0';
    }
    BIO_free(m);
}

int sk_tls_get_info(const sk_tls *t, sk_tls_info *out)
{
    if (!t || !out)
        return sk__fail(SK_EARG, "TLS info");
    sk_tls_info i = SK_TLS_INFO_INIT;
    snprintf(i.version, sizeof i.version, "%s", SSL_get_version(t->ssl));
    snprintf(i.cipher, sizeof i.cipher, "%s", SSL_get_cipher_name(t->ssl));
    const unsigned char *a = NULL;
    unsigned alen = 0;
    SSL_get0_alpn_selected(t->ssl, &a, &alen);
    snprintf(i.alpn, sizeof i.alpn, "%.*s", (int)alen, a ? (const char *)a : "");
    const char *sni = SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
    snprintf(i.server_name, sizeof i.server_name, "%s", sni ? sni : "");
    X509 *peer = SSL_get1_peer_certificate(t->ssl);
    if (peer) {
        i.peer_cert = true;
        one_line(X509_get_subject_name(peer), i.peer_subject, sizeof i.peer_subject);
        one_line(X509_get_issuer_name(peer), i.peer_issuer, sizeof i.peer_issuer);
        not_after(peer, i.peer_not_after, sizeof i.peer_not_after);
        i.verified = t->pinned || (SSL_get_verify_result(t->ssl) == X509_V_OK &&
                                   (SSL_get_verify_mode(t->ssl) & SSL_VERIFY_PEER));
        X509_free(peer);
    }
    i.resumed = SSL_session_reused(t->ssl) == 1;
    return sk__result_store(out, &i, sizeof i, "TLS info");
}

/* One SSL_read until the deadline: the count, 0 at close_notify, or a negative code. */
static ssize_t tls_read(sk_tls *t, void *buf, size_t len, int64_t deadline, const char *what)
{
    if (len == 0)
        return sk__fail(SK_EARG, "%s: zero-size buffer", what);
    for (;;) {
        clear_errors();
        size_t n = 0;
        int ret = SSL_read_ex(t->ssl, buf, len, &n);
        if (ret == 1) {
            t->plain_in += n;
            sk__trace_tls_data(t->fd, '<', buf, n);
            return (ssize_t)n;
        }
        int rc = classify(t, ret, what);
        if (rc <= 0)
            return rc;
        if ((rc = await(t, rc, deadline)) < 0)
            return sk__fail(rc, "%s", what);
    }
}

static ssize_t reader_source(void *ctx, void *dst, size_t len, int64_t deadline)
{
    sk_tls *t = ctx;
    char what[64];
    snprintf(what, sizeof what, "TLS read fd %d", t->fd);
    return tls_read(t, dst, len, deadline, what);
}

ssize_t sk_tls_recv(sk_tls *t, void *buf, size_t len, int timeout_ms)
{
    if (!t || !buf)
        return sk__fail(SK_EARG, "TLS recv");
    return reader_source(t, buf, len, sk__deadline(timeout_ms));
}

static ssize_t tls_write(sk_tls *t, const void *buf, size_t len, int64_t deadline)
{
    char what[64];
    snprintf(what, sizeof what, "TLS send fd %d", t->fd);
    if (t->sent_close)
        return sk__fail(-EPIPE, "%s: close_notify was sent", what);
    for (;;) {
        clear_errors();
        size_t n = 0;
        int ret = SSL_write_ex(t->ssl, buf, len, &n);
        if (ret == 1) {
            t->plain_out += n;
            sk__trace_tls_data(t->fd, '>', buf, n);
            return (ssize_t)n;
        }
        int rc = classify(t, ret, what);
        if (rc == 0)
            return sk__fail(-EPIPE, "%s: the peer sent close_notify", what);
        if (rc < 0)
            return rc;
        if ((rc = await(t, rc, deadline)) < 0)
            return sk__fail(rc, "%s", what);
    }
}

int sk_reader_new_tls(sk_reader **out, sk_tls *t, size_t bufsize)
{
    if (!out || !t)
        return sk__fail(SK_EARG, "reader new: no TLS connection");
    int rc = sk_reader_new(out, t->fd, bufsize);
    if (rc == 0)
        sk__reader_set_source(*out, reader_source, t);
    return rc;
}

ssize_t sk_tls_send(sk_tls *t, const void *buf, size_t len, int timeout_ms)
{
    if (!t || (!buf && len))
        return sk__fail(SK_EARG, "TLS send");
    if (len == 0)
        return 0;
    return tls_write(t, buf, len, sk__deadline(timeout_ms));
}

int sk_tls_send_all(sk_tls *t, const void *buf, size_t len, int timeout_ms, size_t *sent)
{
    if (sent)
        *sent = 0;
    if (!t || (!buf && len))
        return sk__fail(SK_EARG, "TLS send all");
    int64_t deadline = sk__deadline(timeout_ms);
    size_t done = 0;
    while (done < len) {
        ssize_t n = tls_write(t, (const char *)buf + done, len - done, deadline);
        if (n < 0) {
            if (sent)
                *sent = done;
            return (int)n;
        }
        done += (size_t)n;
    }
    if (sent)
        *sent = done;
    return 0;
}

int sk_tls_recv_exact(sk_tls *t, void *buf, size_t len, int timeout_ms, size_t *got)
{
    if (got)
        *got = 0;
    if (!t || (!buf && len))
        return sk__fail(SK_EARG, "TLS recv exact");
    int64_t deadline = sk__deadline(timeout_ms);
    char what[64];
    snprintf(what, sizeof what, "TLS recv exact fd %d", t->fd);
    size_t done = 0;
    int rc = 0;
    while (done < len) {
        ssize_t n = tls_read(t, (char *)buf + done, len - done, deadline, what);
        if (n == 0)
            rc = sk__fail(SK_EEOF, "%s: got %zu of %zu bytes", what, done, len);
        else if (n < 0)
            rc = (int)n;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    if (got)
        *got = done;
    return rc;
}

/* ---- the servers' non-blocking use (through sk__tls_ops) ------------------------------------ */

/* SK__TLS_WANT_READ / _WRITE when the last call (its return ret) only waits for the fd, else 0.
 * Checked before classify: on a loop, waiting is the common case, and it needs no message (the
 * "what" of a failure costs a snprintf, and a handshake's a getpeername too). */
static int wants(sk_tls *t, int ret)
{
    int e = SSL_get_error(t->ssl, ret);
    return e == SSL_ERROR_WANT_READ    ? SK__TLS_WANT_READ
           : e == SSL_ERROR_WANT_WRITE ? SK__TLS_WANT_WRITE
                                       : 0;
}

static int nb_start(sk_tls **out, sk_tls_ctx *ctx, int fd, const char *host)
{
    return start(out, ctx, fd, host);
}

static const char *peer_what(sk_tls *t, char *buf, size_t len)
{
    sk_addr peer;
    char p[SK_ADDRSTRLEN] = "the peer";
    if (sk_sock_get_peer_addr(t->fd, &peer) == 0)
        sk_addr_format(&peer, p, sizeof p);
    snprintf(buf, len, "TLS handshake with %s", p);
    return buf;
}

static int step(sk_tls *t)
{
    clear_errors();
    int ret = SSL_do_handshake(t->ssl);
    if (ret == 1) {
        trace_handshake(t);
        return 0;
    }
    int w = wants(t, ret);
    if (w)
        return w;
    char what[SK_ADDRSTRLEN + 64];
    int rc = classify(t, ret, peer_what(t, what, sizeof what));
    if (rc == 0)
        rc = sk__fail_why(SK_ETLS, "the peer closed TLS during the handshake", "%s", what);
    return rc;
}

/* The non-blocking calls say which readiness they wait for: a read may need the fd writable (a
 * TLS 1.3 key update's answer, a TLS 1.2 renegotiation), a write may need it readable. */
static ssize_t nb_read(sk_tls *t, void *buf, size_t len, int *want)
{
    clear_errors();
    size_t n = 0;
    if (SSL_read_ex(t->ssl, buf, len, &n) == 1) {
        t->plain_in += n;
        sk__trace_tls_data(t->fd, '<', buf, n);
        return (ssize_t)n;
    }
    int w = wants(t, 0);
    if (w) {
        *want = w;
        return -EAGAIN;
    }
    char what[64];
    snprintf(what, sizeof what, "TLS read fd %d", t->fd);
    int rc = classify(t, 0, what);
    if (rc > 0)
        *want = rc;
    return rc > 0 ? -EAGAIN : rc;
}

static ssize_t nb_write(sk_tls *t, const void *buf, size_t len, int *want)
{
    clear_errors();
    size_t n = 0;
    if (SSL_write_ex(t->ssl, buf, len, &n) == 1) {
        t->plain_out += n;
        sk__trace_tls_data(t->fd, '>', buf, n);
        return (ssize_t)n;
    }
    int w = wants(t, 0);
    if (w) {
        *want = w;
        return -EAGAIN;
    }
    char what[64];
    snprintf(what, sizeof what, "TLS send fd %d", t->fd);
    int rc = classify(t, 0, what);
    if (rc == 0)
        return sk__fail(-EPIPE, "%s: the peer sent close_notify", what);
    if (rc > 0)
        *want = rc;
    return rc > 0 ? -EAGAIN : rc;
}

static int blocking_handshake(sk_tls *t, int timeout_ms)
{
    return handshake(t, timeout_ms);
}

const struct sk__tls_ops sk__tls_server_ops = {
    .start = nb_start,
    .step = step,
    .read = nb_read,
    .write = nb_write,
    .handshake = blocking_handshake,
    .send = sk_tls_send,
    .reader = sk_reader_new_tls,
    .pending = sk_tls_pending,
    .shutdown = sk_tls_shutdown,
    .close = sk_tls_close,
};
#endif
