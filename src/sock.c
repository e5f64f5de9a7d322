/* Sockets: create and close, options, addresses, send/receive with deadlines, half-close,
 * sendfile. Connect lives in connect.c, listen/accept in listen.c. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- create and close ---------------------------------------------------------------------- */

static int default_proto(int fd)
{
    int proto = 0;
    socklen_t len = sizeof proto;
    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len);
    return proto;
}

int sk_socket(int family, int type, int proto)
{
    return sk__socket(family, type, proto, SK_ROLE_UNKNOWN);
}

int sk__socket(int family, int type, int proto, sk_role role)
{
    int fd = socket(family, type | SOCK_CLOEXEC, proto);
    if (fd < 0)
        return sk__fail_errno("socket(%s, %s, %d)", sk_family_name(family), sk_type_name(type),
                              proto);
    if (sk__trace_on()) {
        sk__trace_socket(fd, family, type, proto, role);
        if (proto == 0 && family != AF_UNIX)
            /* What a newcomer asks first: IPPROTO_IP (0) means "the default protocol for this
             * type". */
            sk__trace_call(fd, "socket(%s, %s, IPPROTO_IP) = %d  (protocol 0: default for %s = %s)",
                           sk_family_name(family), sk_type_name(type), fd, sk_type_name(type),
                           sk_proto_name(default_proto(fd)));
        else
            sk__trace_call(fd, "socket(%s, %s, %s) = %d", sk_family_name(family),
                           sk_type_name(type), family == AF_UNIX ? "0" : sk_proto_name(proto), fd);
    }
    return fd;
}

int sk_close(int fd)
{
    if (fd < 0)
        return sk__fail(-EBADF, "close %d", fd);
    sk__trace_close(fd);
    /* On Linux the fd is released even when close reports EINTR: never retry. */
    if (close(fd) < 0 && errno != EINTR)
        return sk__fail_errno("close %d", fd);
    return 0;
}

int sk_socketpair(int type, int fds[2])
{
    if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) < 0)
        return sk__fail_errno("socketpair(AF_UNIX, %s)", sk_type_name(type));
    if (sk__trace_on()) {
        sk__trace_socket(fds[0], AF_UNIX, type, 0, SK_ROLE_UNKNOWN);
        sk__trace_socket(fds[1], AF_UNIX, type, 0, SK_ROLE_UNKNOWN);
        sk__trace_call(fds[0], "socketpair(AF_UNIX, %s, 0) = [%d, %d]", sk_type_name(type), fds[0],
                       fds[1]);
    }
    return 0;
}

/* ---- options ------------------------------------------------------------------------------- */

static int setint(int fd, int level, int name, int value, const char *what)
{
    if (setsockopt(fd, level, name, &value, sizeof value) < 0)
        return sk__fail_errno("setsockopt fd %d %s=%d", fd, what, value);
    sk__trace_call(fd, "setsockopt %s=%d", what, value);
    return 0;
}

int sk_sock_set_nonblock(int fd, bool on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return sk__fail_errno("fcntl fd %d", fd);
    int want = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
    if (want != fl && fcntl(fd, F_SETFL, want) < 0)
        return sk__fail_errno("fcntl fd %d O_NONBLOCK", fd);
    return 0;
}

int sk_sock_set_reuseaddr(int fd, bool on)
{
    return setint(fd, SOL_SOCKET, SO_REUSEADDR, on, "SO_REUSEADDR");
}

int sk_sock_set_reuseport(int fd, bool on)
{
    return setint(fd, SOL_SOCKET, SO_REUSEPORT, on, "SO_REUSEPORT");
}

int sk_sock_set_nodelay(int fd, bool on)
{
    return setint(fd, IPPROTO_TCP, TCP_NODELAY, on, "TCP_NODELAY");
}

int sk_sock_set_keepalive(int fd, bool on, int idle_s, int interval_s, int count)
{
    int rc = setint(fd, SOL_SOCKET, SO_KEEPALIVE, on, "SO_KEEPALIVE");
    if (rc >= 0 && on && idle_s > 0)
        rc = setint(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle_s, "TCP_KEEPIDLE");
    if (rc >= 0 && on && interval_s > 0)
        rc = setint(fd, IPPROTO_TCP, TCP_KEEPINTVL, interval_s, "TCP_KEEPINTVL");
    if (rc >= 0 && on && count > 0)
        rc = setint(fd, IPPROTO_TCP, TCP_KEEPCNT, count, "TCP_KEEPCNT");
    return rc;
}

int sk_sock_set_rcvbuf(int fd, int bytes)
{
    return setint(fd, SOL_SOCKET, SO_RCVBUF, bytes, "SO_RCVBUF");
}

int sk_sock_set_sndbuf(int fd, int bytes)
{
    return setint(fd, SOL_SOCKET, SO_SNDBUF, bytes, "SO_SNDBUF");
}

int sk_sock_set_linger(int fd, bool on, int seconds)
{
    struct linger l = {.l_onoff = on, .l_linger = seconds};
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) < 0)
        return sk__fail_errno("setsockopt fd %d SO_LINGER", fd);
    sk__trace_call(fd, "setsockopt SO_LINGER={on=%d, %ds}", on, seconds);
    sk__trace_abortive(fd, on && seconds == 0);
    return 0;
}

int sk_sock_set_v6only(int fd, bool on)
{
    return setint(fd, IPPROTO_IPV6, IPV6_V6ONLY, on, "IPV6_V6ONLY");
}

static int set_timeval(int fd, int name, int ms, const char *what)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    if (setsockopt(fd, SOL_SOCKET, name, &tv, sizeof tv) < 0)
        return sk__fail_errno("setsockopt fd %d %s", fd, what);
    return 0;
}

int sk_sock_set_timeouts(int fd, int recv_ms, int send_ms)
{
    if (recv_ms < 0 || send_ms < 0)
        return sk__fail(SK_EARG, "socket timeouts %d/%d ms", recv_ms, send_ms);
    int rc = set_timeval(fd, SO_RCVTIMEO, recv_ms, "SO_RCVTIMEO");
    return rc < 0 ? rc : set_timeval(fd, SO_SNDTIMEO, send_ms, "SO_SNDTIMEO");
}

int sk_sock_set_option(int fd, const char *name, int value)
{
    const sk_optname *o = name ? sk_option_lookup(name) : NULL;
    if (!o)
        return sk__fail(SK_EOPTION, "setsockopt '%s'", name ? name : "(null)");
    return setint(fd, o->level, o->value, value, o->name);
}

int sk_sock_get_option(int fd, const char *name, int *value)
{
    const sk_optname *o = name ? sk_option_lookup(name) : NULL;
    if (!o)
        return sk__fail(SK_EOPTION, "getsockopt '%s'", name ? name : "(null)");
    socklen_t len = sizeof *value;
    if (getsockopt(fd, o->level, o->value, value, &len) < 0)
        return sk__fail_errno("getsockopt fd %d %s", fd, o->name);
    return 0;
}

/* ---- addresses ----------------------------------------------------------------------------- */

int sk_sock_get_local_addr(int fd, sk_addr *out)
{
    memset(out, 0, sizeof *out);
    out->len = sizeof out->u;
    if (getsockname(fd, &out->u.sa, &out->len) < 0)
        return sk__fail_errno("getsockname fd %d", fd);
    return 0;
}

int sk_sock_get_peer_addr(int fd, sk_addr *out)
{
    memset(out, 0, sizeof *out);
    out->len = sizeof out->u;
    if (getpeername(fd, &out->u.sa, &out->len) < 0)
        return sk__fail_errno("getpeername fd %d", fd);
    return 0;
}

/* ---- send and receive ---------------------------------------------------------------------- */

/* One non-blocking attempt after another until the deadline: works on blocking and non-blocking
 * fds alike without touching the fd's flags. Returns the byte count, 0 at EOF (recv), or < 0. */
static ssize_t io_deadline(int fd, bool out, void *buf, size_t len, struct msghdr *msg,
                           int64_t deadline)
{
    for (;;) {
        ssize_t n;
        if (msg)
            n = out ? sendmsg(fd, msg, MSG_NOSIGNAL | MSG_DONTWAIT)
                    : recvmsg(fd, msg, MSG_DONTWAIT);
        else
            n = out ? send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT)
                    : recv(fd, buf, len, MSG_DONTWAIT);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        int rc = sk__wait_deadline(fd, out ? POLLOUT : POLLIN, deadline);
        if (rc < 0)
            return rc;
    }
}

ssize_t sk_send(int fd, const void *buf, size_t len, int timeout_ms)
{
    ssize_t n = io_deadline(fd, true, (void *)buf, len, NULL, sk__deadline(timeout_ms));
    if (n < 0)
        return sk__fail((int)n, "send fd %d", fd);
    sk__trace_data(fd, '>', NULL, buf, (size_t)n, "send");
    return n;
}

ssize_t sk_recv(int fd, void *buf, size_t len, int timeout_ms)
{
    ssize_t n = io_deadline(fd, false, buf, len, NULL, sk__deadline(timeout_ms));
    if (n < 0)
        return sk__fail((int)n, "recv fd %d", fd);
    if (n == 0)
        sk__trace_eof(fd);
    else
        sk__trace_data(fd, '<', NULL, buf, (size_t)n, "recv");
    return n;
}

int sk_send_all(int fd, const void *buf, size_t len, int timeout_ms, size_t *sent)
{
    int64_t deadline = sk__deadline(timeout_ms);
    size_t done = 0;
    int rc = 0;
    while (done < len) {
        ssize_t n = io_deadline(fd, true, (char *)buf + done, len - done, NULL, deadline);
        if (n < 0) {
            rc = sk__fail((int)n, "send_all fd %d: sent %zu of %zu bytes", fd, done, len);
            break;
        }
        sk__trace_data(fd, '>', NULL, (const char *)buf + done, (size_t)n, "send");
        done += (size_t)n;
    }
    if (sent)
        *sent = done;
    return rc;
}

int sk_recv_exact(int fd, void *buf, size_t len, int timeout_ms, size_t *got)
{
    int64_t deadline = sk__deadline(timeout_ms);
    size_t done = 0;
    int rc = 0;
    while (done < len) {
        ssize_t n = io_deadline(fd, false, (char *)buf + done, len - done, NULL, deadline);
        if (n <= 0) {
            rc = sk__fail(n == 0 ? SK_EEOF : (int)n, "recv_exact fd %d: got %zu of %zu bytes", fd,
                          done, len);
            break;
        }
        sk__trace_data(fd, '<', NULL, (char *)buf + done, (size_t)n, "recv");
        done += (size_t)n;
    }
    if (got)
        *got = done;
    return rc;
}

ssize_t sk_sendto(int fd, const void *buf, size_t len, const sk_addr *to, int timeout_ms)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (to) {
        msg.msg_name = (void *)&to->u;
        msg.msg_namelen = to->len;
    }
    ssize_t n = io_deadline(fd, true, NULL, 0, &msg, sk__deadline(timeout_ms));
    if (n < 0) {
        char a[SK_ADDRSTRLEN] = "(connected peer)";
        if (to)
            sk_addr_format(to, a, sizeof a);
        return sk__fail((int)n, "sendto %s fd %d", a, fd);
    }
    sk__trace_data(fd, '>', to, buf, (size_t)n, to ? "sendto" : "send");
    return n;
}

ssize_t sk_recvfrom(int fd, void *buf, size_t len, sk_addr *from, int timeout_ms)
{
    sk_addr tmp;
    sk_addr *src = from ? from : &tmp;
    memset(src, 0, sizeof *src);
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_name = &src->u, .msg_namelen = sizeof src->u};
    ssize_t n = io_deadline(fd, false, NULL, 0, &msg, sk__deadline(timeout_ms));
    if (n < 0)
        return sk__fail((int)n, "recvfrom fd %d", fd);
    src->len = msg.msg_namelen;
    if ((size_t)n > len) /* cannot happen without MSG_TRUNC, kept for clarity */
        n = (ssize_t)len;
    sk__trace_data(fd, '<', msg.msg_namelen ? src : NULL, buf, (size_t)n, "recvfrom");
    return n;
}

int sk_send_frame(int fd, int prefix_bytes, const void *buf, size_t len, int timeout_ms)
{
    unsigned char hdr[4];
    if (prefix_bytes == 2 && len <= 0xffff) {
        hdr[0] = (unsigned char)(len >> 8);
        hdr[1] = (unsigned char)len;
    } else if (prefix_bytes == 4 && len <= 0xffffffffu) {
        hdr[0] = (unsigned char)(len >> 24);
        hdr[1] = (unsigned char)(len >> 16);
        hdr[2] = (unsigned char)(len >> 8);
        hdr[3] = (unsigned char)len;
    } else if (prefix_bytes == 2 || prefix_bytes == 4) {
        return sk__fail(SK_ETOOLONG, "send_frame fd %d: %zu bytes in a %d-byte prefix", fd, len,
                        prefix_bytes);
    } else {
        return sk__fail(SK_EARG, "send_frame fd %d: prefix of %d bytes (2 or 4)", fd, prefix_bytes);
    }
    /* Header and payload in one sendmsg, so a small frame is one segment on the wire. */
    int64_t deadline = sk__deadline(timeout_ms);
    struct iovec iov[2] = {{hdr, (size_t)prefix_bytes}, {(void *)buf, len}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    size_t total = (size_t)prefix_bytes + len, done = 0;
    while (done < total) {
        ssize_t n = io_deadline(fd, true, NULL, 0, &msg, deadline);
        if (n < 0)
            return sk__fail((int)n, "send_frame fd %d: sent %zu of %zu bytes", fd, done, total);
        done += (size_t)n;
        /* advance the iovec past what went out */
        while (n > 0 && msg.msg_iovlen) {
            size_t step = (size_t)n < msg.msg_iov->iov_len ? (size_t)n : msg.msg_iov->iov_len;
            msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + step;
            msg.msg_iov->iov_len -= step;
            n -= (ssize_t)step;
            if (msg.msg_iov->iov_len == 0) {
                msg.msg_iov++;
                msg.msg_iovlen--;
            }
        }
    }
    if (sk__trace_on()) {
        sk__trace_data(fd, '>', NULL, hdr, (size_t)prefix_bytes, "sendmsg");
        sk__trace_data(fd, '>', NULL, buf, len, "sendmsg");
    }
    return 0;
}

int sk_shutdown(int fd, int how)
{
    static const char *names[] = {"SHUT_RD", "SHUT_WR", "SHUT_RDWR"};
    const char *name = how >= 0 && how <= 2 ? names[how] : "?";
    if (shutdown(fd, how) < 0)
        return sk__fail_errno("shutdown fd %d %s", fd, name);
    sk__trace_shutdown(fd, how, name);
    return 0;
}

/* sendfile(2) has no MSG_NOSIGNAL. Block SIGPIPE in this thread for the call; if the call raised
 * one (EPIPE) that was not pending before, take it back with sigtimedwait before unblocking, so
 * neither the default action nor a handler ever sees it. */
struct sigpipe_guard {
    sigset_t old;
    bool was_pending;
};

static void sigpipe_block(struct sigpipe_guard *g)
{
    sigset_t pipe_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &g->old);
}

static void sigpipe_restore(struct sigpipe_guard *g, bool raised)
{
    if (raised && !g->was_pending) {
        sigset_t pipe_set;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        const struct timespec now = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &now) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

int sk_sendfile(int sock_fd, int file_fd, off_t offset, size_t count, int timeout_ms, size_t *sent)
{
    int64_t deadline = sk__deadline(timeout_ms);
    size_t done = 0;
    int rc = 0;
    /* sendfile(2) honours only O_NONBLOCK (there is no per-call flag): set it for the duration so
     * the deadline holds, and restore the caller's mode. */
    int fl = fcntl(sock_fd, F_GETFL);
    if (fl < 0)
        return sk__fail_errno("sendfile fd %d", sock_fd);
    if (!(fl & O_NONBLOCK))
        fcntl(sock_fd, F_SETFL, fl | O_NONBLOCK);
    while (done < count) {
        off_t off = offset + (off_t)done;
        struct sigpipe_guard guard;
        sigpipe_block(&guard);
        ssize_t n = sendfile(sock_fd, file_fd, &off, count - done);
        int err = errno;
        sigpipe_restore(&guard, n < 0 && err == EPIPE);
        errno = err;
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n == 0) {
            rc = sk__fail(SK_EEOF, "sendfile fd %d: file ended after %zu of %zu bytes", sock_fd,
                          done, count);
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN) {
            rc = sk__fail_errno("sendfile fd %d: sent %zu of %zu bytes", sock_fd, done, count);
            break;
        }
        int w = sk__wait_deadline(sock_fd, POLLOUT, deadline);
        if (w < 0) {
            rc = sk__fail(w, "sendfile fd %d: sent %zu of %zu bytes", sock_fd, done, count);
            break;
        }
    }
    if (!(fl & O_NONBLOCK))
        fcntl(sock_fd, F_SETFL, fl);
    sk__trace_call(sock_fd, "sendfile fd %d offset %lld: %zu bytes", file_fd, (long long)offset,
                   done);
    if (sent)
        *sent = done;
    return rc;
}
