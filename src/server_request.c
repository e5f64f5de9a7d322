/* Request I/O for the blocking models' handlers: reads that end at the idle timeout and at the
 * drain's halt, sends bounded by the send timeout and the drain's cut, and the byte counters. */
#include "server_core.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

/* Wait for input on a request's connection: 1 readable, 0 the input is halted, or a negative
 * code (-ETIMEDOUT: idle). */
static int wait_input(sk_request *req, int64_t deadline)
{
    sk_server *s = req->server;
    for (;;) {
        if (atomic_load(&s->c->halted))
            return 0;
        struct pollfd p[2] = {{req->fd, POLLIN, 0}, {s->halt_fd, POLLIN, 0}};
        int n = poll(p, 2, sk__remaining(deadline));
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n == 0)
            return -ETIMEDOUT;
        if (n > 0 && p[0].revents && !p[1].revents)
            return 1;
    }
}

ssize_t sk_request_recv(sk_request *req, void *buf, size_t cap)
{
    if (req->type != SOCK_STREAM) {
        /* a datagram request holds one packet: it is read once */
        size_t n = req->len < cap ? req->len : cap;
        if (n)
            memcpy(buf, req->data, n);
        req->len = 0;
        return (ssize_t)n;
    }
    bool ready = sk_reader_buffered(req->reader) ||
                 (req->tls && sk__tls_ops(req->server->o.tls)->pending(req->tls));
    if (!ready) { /* buffered bytes are read already: they are served */
        int w = wait_input(req, sk__deadline(req->idle_timeout_ms));
        if (w == 0)
            return 0; /* halted: end of input */
        if (w < 0)
            return sk__fail(w, "request recv fd %d", req->fd);
    }
    ssize_t n = sk_reader_some(req->reader, buf, cap, req->idle_timeout_ms);
    if (n > 0)
        atomic_fetch_add(&req->server->c->n.bytes_in, (uint64_t)n);
    return n;
}

ssize_t sk_request_line(sk_request *req, char *buf, size_t cap)
{
    if (req->type != SOCK_STREAM)
        return sk__fail(SK_EARG, "request line: datagram requests hold one packet");
    int64_t deadline = sk__deadline(req->idle_timeout_ms);
    for (;;) {
        if (atomic_load(&req->server->c->halted) && !sk_reader_buffered(req->reader))
            return sk__fail(SK_EEOF, "request line fd %d: the server stops reading", req->fd);
        ssize_t n = sk_reader_line(req->reader, buf, cap, 0); /* a line already there */
        if (n >= 0)
            atomic_fetch_add(&req->server->c->n.bytes_in, (uint64_t)n + 1);
        if (n != -ETIMEDOUT)
            return n;
        int w = wait_input(req, deadline);
        if (w == 0)
            return sk__fail(SK_EEOF, "request line fd %d: the server stops reading", req->fd);
        if (w < 0)
            return sk__fail(w, "request line fd %d", req->fd);
    }
}

/* The send timeout: how long a send may make no progress (-1: no limit). */
static int send_timeout(const sk_server *s)
{
    if (s->o.send_timeout_ms)
        return s->o.send_timeout_ms < 0 ? -1 : s->o.send_timeout_ms;
    return s->o.idle_timeout_ms > 0 ? s->o.idle_timeout_ms : SK_SEND_TIMEOUT_DEFAULT_MS;
}

/* Every byte to a stream client. A client that takes nothing for the send timeout, or the drain's
 * cut, ends the send; the connection is then reset, since the client would otherwise see an
 * orderly end after a partial answer. */
/* The same through TLS: the record layer does the waiting (the drain's cut wakes it by shutting
 * the socket down). */
static int send_tls(sk_request *req, const char *buf, size_t len, size_t *sent)
{
    const struct sk__tls_ops *ops = sk__tls_ops(req->server->o.tls);
    int timeout = send_timeout(req->server);
    size_t done = 0;
    int rc = 0;
    while (done < len && !rc) {
        ssize_t n = ops->send(req->tls, buf + done, len - done, timeout);
        if (n < 0)
            rc = (int)n;
        else
            done += (size_t)n;
    }
    *sent = done;
    if (rc == -ETIMEDOUT || atomic_load(&req->server->c->cut))
        sk__abort_conn(req->fd);
    return rc;
}

static int send_stream(sk_request *req, const char *buf, size_t len, size_t *sent)
{
    if (req->tls)
        return send_tls(req, buf, len, sent);
    sk_server *s = req->server;
    int timeout = send_timeout(s);
    size_t done = 0;
    int rc = 0;
    while (done < len && !rc) {
        ssize_t n = send(req->fd, buf + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            sk__trace_data(req->fd, '>', NULL, buf + done, (size_t)n, "send");
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            rc = -errno;
            break;
        }
        if (n < 0 && errno == EINTR)
            continue;
        struct pollfd p[2] = {{req->fd, POLLOUT, 0}, {s->cut_fd, POLLIN, 0}};
        int r = poll(p, 2, timeout);
        if (r == 0)
            rc = -ETIMEDOUT;
        else if (r > 0 && p[1].revents)
            rc = SK_ECLOSED;
        else if (r < 0 && errno != EINTR)
            rc = -errno;
    }
    *sent = done;
    if (rc == -ETIMEDOUT || rc == SK_ECLOSED)
        sk__abort_conn(req->fd);
    if (rc < 0)
        return sk__fail(rc, "request send fd %d: sent %zu of %zu bytes%s", req->fd, done, len,
                        rc == -ETIMEDOUT ? " (the client reads nothing: reset)" : "");
    return 0;
}

int sk_request_send(sk_request *req, const void *buf, size_t len)
{
    if (req->type != SOCK_STREAM) {
        ssize_t n = sk_sendto(req->fd, buf, len, &req->peer, send_timeout(req->server));
        if (n < 0)
            return (int)n;
        atomic_fetch_add(&req->server->c->n.bytes_out, (uint64_t)n);
        return 0;
    }
    size_t sent = 0;
    int rc = send_stream(req, buf, len, &sent);
    atomic_fetch_add(&req->server->c->n.bytes_out, (uint64_t)sent);
    return rc;
}
