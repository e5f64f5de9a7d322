/* The TLS API of a build without OpenSSL (cmake -DSK_TLS=OFF, or no libssl-dev): the same symbols,
 * so a program links against either build, each failing with SK_ENOTLS. */
#if !SK_HAVE_TLS
#include "internal.h"

static int off(const char *what)
{
    return sk__fail(SK_ENOTLS, "%s", what);
}

bool sk_tls_available(void)
{
    return false;
}

const char *sk_tls_library(void)
{
    return NULL;
}

int sk_tls_ctx_new(sk_tls_ctx **out, sk_tls_side side, const sk_tls_opts *opts)
{
    (void)out, (void)side, (void)opts;
    return off("TLS context");
}

void sk_tls_ctx_free(sk_tls_ctx *ctx)
{
    (void)ctx;
}

int sk_tls_ctx_get_fingerprint(const sk_tls_ctx *ctx, char *buf, size_t len)
{
    (void)ctx, (void)buf, (void)len;
    return off("TLS fingerprint");
}

int sk_tls_open(sk_tls **out, sk_tls_ctx *ctx, int fd, const char *host, int timeout_ms)
{
    (void)out, (void)ctx, (void)fd, (void)host, (void)timeout_ms;
    return off("TLS open");
}

void sk_tls_close(sk_tls *t)
{
    (void)t;
}

int sk_tls_shutdown(sk_tls *t, int timeout_ms)
{
    (void)t, (void)timeout_ms;
    return off("TLS shutdown");
}

int sk_tls_fd(const sk_tls *t)
{
    (void)t;
    return off("TLS fd");
}

size_t sk_tls_pending(const sk_tls *t)
{
    (void)t;
    return 0;
}

int sk_tls_get_info(const sk_tls *t, sk_tls_info *out)
{
    (void)t, (void)out;
    return off("TLS info");
}

ssize_t sk_tls_send(sk_tls *t, const void *buf, size_t len, int timeout_ms)
{
    (void)t, (void)buf, (void)len, (void)timeout_ms;
    return off("TLS send");
}

ssize_t sk_tls_recv(sk_tls *t, void *buf, size_t len, int timeout_ms)
{
    (void)t, (void)buf, (void)len, (void)timeout_ms;
    return off("TLS recv");
}

int sk_tls_send_all(sk_tls *t, const void *buf, size_t len, int timeout_ms, size_t *sent)
{
    (void)t, (void)buf, (void)len, (void)timeout_ms;
    if (sent)
        *sent = 0;
    return off("TLS send all");
}

int sk_tls_recv_exact(sk_tls *t, void *buf, size_t len, int timeout_ms, size_t *got)
{
    (void)t, (void)buf, (void)len, (void)timeout_ms;
    if (got)
        *got = 0;
    return off("TLS recv exact");
}

int sk_reader_new_tls(sk_reader **out, sk_tls *t, size_t bufsize)
{
    (void)out, (void)t, (void)bufsize;
    return off("reader new");
}
#endif
