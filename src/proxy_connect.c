/* The blocking form of the proxy handshake (proxy.c's state machine over a connected fd), and
 * sk_connect_via: connect to the proxy, then ask it for the tunnel, within one deadline.
 *
 * The reply is peeked (MSG_PEEK), fed to the machine, and then exactly the bytes the machine used
 * are read: whatever the proxy or the target sent after the reply stays in the socket for the
 * program, and the trace shows the reply's bytes as they were read. */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The reply bytes the machine used, read for real (traced) after the peek. */
static int drain(int fd, size_t used)
{
    unsigned char buf[512];
    return used ? sk_recv_exact(fd, buf, used, 0, NULL) : 0;
}

/* Peek at what the proxy sent, waiting until the deadline. > 0 bytes, or a negative code. */
static ssize_t peek(int fd, sk_proxy *p, void *buf, size_t len, int64_t deadline, int timeout_ms)
{
    for (;;) {
        ssize_t n = recv(fd, buf, len, MSG_PEEK | MSG_DONTWAIT);
        if (n > 0)
            return n;
        if (n == 0) {
            char why[200];
            snprintf(why, sizeof why, "it closed the connection while %s was due",
                     sk_proxy_waiting_for(p));
            return sk__fail_why(SK_EEOF, why, "%s proxy", sk__proxy_kind_name(p));
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return sk__fail_errno("%s proxy: recv", sk__proxy_kind_name(p));
        int rc = sk__wait_deadline(fd, POLLIN, deadline);
        if (rc == -ETIMEDOUT) {
            char why[200];
            snprintf(why, sizeof why, "no answer within %d ms (waiting for %s)", timeout_ms,
                     sk_proxy_waiting_for(p));
            return sk__fail_why(-ETIMEDOUT, why, "%s proxy", sk__proxy_kind_name(p));
        }
        if (rc < 0)
            return sk__fail(rc, "%s proxy: poll", sk__proxy_kind_name(p));
    }
}

static int run(int fd, sk_proxy *p, int64_t deadline, int timeout_ms)
{
    for (;;) {
        const void *out;
        size_t n = sk_proxy_output(p, &out), sent = 0;
        if (n) {
            int rc = sk_send_all(fd, out, n, sk__remaining(deadline), &sent);
            sk_proxy_sent(p, sent);
            if (rc < 0)
                return rc;
            continue;
        }
        unsigned char buf[512];
        ssize_t got = peek(fd, p, buf, sizeof buf, deadline, timeout_ms);
        if (got < 0)
            return (int)got;
        size_t used = 0;
        int rc = sk_proxy_input(p, buf, (size_t)got, &used);
        int drc = drain(fd, used);
        if (rc < 0)
            return rc;
        if (drc < 0)
            return drc;
        if (rc == SK_PROXY_DONE)
            return 0;
    }
}

/* timeout_ms is the caller's whole limit, for the message; the deadline may be nearer. */
static int handshake_until(int fd, const char *target, const sk_proxy_opts *opts, int64_t deadline,
                           int timeout_ms)
{
    sk_proxy *p;
    int rc = sk_proxy_new(&p, target, opts);
    if (rc < 0)
        return rc;
    sk__trace_call(fd, "proxy leg: %s handshake asking for a tunnel to %s", sk__proxy_kind_name(p),
                   target);
    rc = run(fd, p, deadline, timeout_ms);
    if (rc == 0)
        sk__trace_call(fd, "proxy leg: tunnel to %s open; from here on the bytes are %s's", target,
                       target);
    else
        sk__trace_call(fd, "proxy leg: handshake failed: %s", sk_errmsg());
    sk_proxy_free(p);
    return rc;
}

int sk_proxy_handshake(int fd, const char *target, const sk_proxy_opts *opts, int timeout_ms)
{
    return handshake_until(fd, target, opts, sk__deadline(timeout_ms), timeout_ms);
}

/* "SOCKS5 proxy: reply 5: ..." as "SOCKS5 proxy 127.0.0.1:1080: reply 5: ...": the message names
 * the proxy, and what any other failure (connecting to it) was. */
static int fail_at(int code, const sk_proxy_opts *po, const char *proxy)
{
    const char *kind = po->kind == SK_PROXY_HTTP ? "HTTP CONNECT" : "SOCKS5";
    char msg[1024], prefix[64];
    snprintf(msg, sizeof msg, "%s", sk_errmsg());
    snprintf(prefix, sizeof prefix, "%s proxy: ", kind);
    size_t k = strlen(prefix);
    return sk__fail_why(code, strncmp(msg, prefix, k) ? msg : msg + k, "%s proxy %s", kind, proxy);
}

int sk_connect_via(const char *proxy, const char *target, const sk_proxy_opts *opts,
                   const sk_connect_opts *copts, int timeout_ms)
{
    if (!proxy || !target)
        return sk__fail(SK_EARG, "connect via proxy: NULL argument");
    sk_proxy_opts po;
    int rc = sk__opts_load(&po, sizeof po, opts, "proxy: opts");
    if (rc < 0)
        return rc;
    sk_proxy *check; /* the target and credentials, before any connection is made */
    if ((rc = sk_proxy_new(&check, target, &po)) < 0)
        return rc;
    sk_proxy_free(check);
    int64_t deadline = sk__deadline(timeout_ms);
    int fd = sk_connect_ex(proxy, copts, timeout_ms);
    if (fd < 0)
        return fail_at(fd, &po, proxy);
    rc = handshake_until(fd, target, &po, deadline, timeout_ms);
    if (rc < 0) {
        sk_close(fd); /* records nothing unless it fails, and closing a socket does not */
        return fail_at(rc, &po, proxy);
    }
    return fd;
}
