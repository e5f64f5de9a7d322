/* The BIO under every sk_tls: the connection's fd read and written with MSG_DONTWAIT, so OpenSSL
 * never blocks (the caller waits on the fd with its own deadline), and MSG_NOSIGNAL, so a peer
 * that left cannot raise SIGPIPE. The fd's flags stay as the caller set them. */
#if SK_HAVE_TLS
#include "tls_internal.h"

#include <errno.h>
#include <sys/socket.h>

static int bio_write(BIO *b, const char *buf, int len)
{
    sk_tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t n = send(t->fd, buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) {
            t->raw_out += (uint64_t)n;
            return (int)n;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_write(b);
        else
            t->io_errno = errno;
        return -1;
    }
}

static int bio_read(BIO *b, char *buf, int len)
{
    sk_tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t n = recv(t->fd, buf, (size_t)len, MSG_DONTWAIT);
        if (n >= 0) { /* 0: TCP end; OpenSSL tells a close_notify before it from a truncation */
            t->raw_in += (uint64_t)n;
            return (int)n;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_read(b);
        else
            t->io_errno = errno;
        return -1;
    }
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0; /* nothing is buffered here */
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *method;
static pthread_once_t method_once = PTHREAD_ONCE_INIT;

static void make_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sockkit fd");
    if (m && BIO_meth_set_write(m, bio_write) && BIO_meth_set_read(m, bio_read) &&
        BIO_meth_set_ctrl(m, bio_ctrl) && BIO_meth_set_create(m, bio_create))
        method = m;
}

BIO *sk__tls_bio(sk_tls *t)
{
    pthread_once(&method_once, make_method);
    if (!method)
        return NULL;
    BIO *b = BIO_new(method);
    if (b)
        BIO_set_data(b, t);
    return b;
}
#endif
