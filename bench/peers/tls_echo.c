/* The practical limit for TLS: a minimal single-threaded OpenSSL + epoll echo server, written for
 * bench/tls.sh. Level-triggered, non-blocking, OpenSSL's socket BIO (SSL_set_fd) and its defaults
 * (TLS 1.2 at least, stateless session tickets), the handshake driven from the loop, then
 * SSL_read until it wants more and each piece SSL_write'n straight back; a per-connection buffer
 * only for what a write could not take.
 * usage: tls_echo CERT KEY [PORT] (0 = pick); prints "port N". */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer_listen.h"

struct conn {
    SSL *ssl;
    char *pend; /* what SSL_write could not take yet */
    size_t len;
};

static struct conn conns[131072];

static void drop(int ep, int fd)
{
    struct conn *c = &conns[fd];
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    SSL_free(c->ssl);
    free(c->pend);
    *c = (struct conn){0};
    close(fd);
    ERR_clear_error();
}

static void want(int ep, int fd, int events)
{
    struct epoll_event e = {.events = (unsigned)events, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
}

/* Write what is pending; 1 done, 0 must wait for the fd, -1 failed. */
static int flush(int ep, int fd)
{
    struct conn *c = &conns[fd];
    while (c->len) {
        int n = SSL_write(c->ssl, c->pend, (int)c->len);
        if (n <= 0) {
            int e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
                want(ep, fd, EPOLLIN | EPOLLOUT);
                return 0;
            }
            return -1;
        }
        memmove(c->pend, c->pend + n, c->len - (size_t)n);
        c->len -= (size_t)n;
    }
    want(ep, fd, EPOLLIN);
    return 1;
}

static void serve(int ep, int fd)
{
    static char buf[65536];
    struct conn *c = &conns[fd];
    if (!SSL_is_init_finished(c->ssl)) {
        int r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                drop(ep, fd);
            return;
        }
    }
    if (c->len) {
        int f = flush(ep, fd);
        if (f < 0)
            drop(ep, fd);
        if (f <= 0)
            return;
    }
    for (;;) {
        int n = SSL_read(c->ssl, buf, sizeof buf);
        if (n <= 0) {
            int e = SSL_get_error(c->ssl, n);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                drop(ep, fd);
            return;
        }
        int w = SSL_write(c->ssl, buf, n);
        if (w == n)
            continue;
        if (w <= 0) {
            int e = SSL_get_error(c->ssl, w);
            if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) {
                drop(ep, fd);
                return;
            }
            w = 0;
        }
        c->pend = malloc((size_t)(n - w));
        if (!c->pend) {
            drop(ep, fd);
            return;
        }
        memcpy(c->pend, buf + w, (size_t)(n - w));
        c->len = (size_t)(n - w);
        want(ep, fd, EPOLLIN | EPOLLOUT);
        return;
    }
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return fprintf(stderr, "usage: tls_echo CERT KEY [PORT]\n"), 2;
    signal(SIGPIPE, SIG_IGN);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* as sockkit's: a write may be split, and its retry may come from another buffer */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_use_certificate_chain_file(ctx, argv[1]) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, argv[2], SSL_FILETYPE_PEM) != 1)
        return ERR_print_errors_fp(stderr), 1;
    int ep, one = 1, lfd = peer_listen(argc > 3 ? atoi(argv[3]) : 0, &ep);
    if (lfd < 0)
        return 1;
    struct epoll_event evs[512];
    for (;;) {
        int n = epoll_wait(ep, evs, 512, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd != lfd) {
                if (conns[fd].ssl)
                    serve(ep, fd);
                continue;
            }
            int c;
            while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                if (c >= (int)(sizeof conns / sizeof conns[0])) {
                    close(c);
                    continue;
                }
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                conns[c].ssl = SSL_new(ctx);
                SSL_set_fd(conns[c].ssl, c);
                SSL_set_accept_state(conns[c].ssl);
                struct epoll_event e = {.events = EPOLLIN, .data.fd = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
            }
        }
    }
}
