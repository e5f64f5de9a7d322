/* Datagram batches: many datagrams per system call with recvmmsg / sendmmsg. */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BATCH 256

int sk_recv_batch(int fd, sk_dgram *v, size_t n, int timeout_ms)
{
    if (n > MAX_BATCH)
        n = MAX_BATCH;
    struct mmsghdr m[MAX_BATCH];
    struct iovec iov[MAX_BATCH];
    memset(m, 0, n * sizeof *m);
    for (size_t i = 0; i < n; i++) {
        iov[i] = (struct iovec){v[i].buf, v[i].cap};
        m[i].msg_hdr.msg_iov = &iov[i];
        m[i].msg_hdr.msg_iovlen = 1;
        m[i].msg_hdr.msg_name = &v[i].addr.u;
        m[i].msg_hdr.msg_namelen = sizeof v[i].addr.u;
    }
    int64_t deadline = sk__deadline(timeout_ms);
    for (;;) {
        int got = recvmmsg(fd, m, (unsigned)n, MSG_DONTWAIT, NULL);
        if (got > 0) {
            for (int i = 0; i < got; i++) {
                v[i].len = m[i].msg_len;
                v[i].addr.len = m[i].msg_hdr.msg_namelen;
                sk__trace_data(fd, '<', &v[i].addr, v[i].buf, v[i].len, "recvmmsg");
            }
            return got;
        }
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && errno != EAGAIN)
            return sk__fail_errno("recvmmsg fd %d", fd);
        int rc = sk__wait_deadline(fd, POLLIN, deadline);
        if (rc < 0)
            return sk__fail(rc, "recvmmsg fd %d", fd);
    }
}

int sk_send_batch(int fd, const sk_dgram *v, size_t n, int timeout_ms)
{
    struct mmsghdr m[MAX_BATCH];
    struct iovec iov[MAX_BATCH];
    int64_t deadline = sk__deadline(timeout_ms);
    size_t done = 0;
    while (done < n) {
        size_t k = n - done < MAX_BATCH ? n - done : MAX_BATCH;
        memset(m, 0, k * sizeof *m);
        for (size_t i = 0; i < k; i++) {
            const sk_dgram *d = &v[done + i];
            iov[i] = (struct iovec){d->buf, d->len};
            m[i].msg_hdr.msg_iov = &iov[i];
            m[i].msg_hdr.msg_iovlen = 1;
            if (d->addr.len) {
                m[i].msg_hdr.msg_name = (void *)&d->addr.u;
                m[i].msg_hdr.msg_namelen = d->addr.len;
            }
        }
        int sent = sendmmsg(fd, m, (unsigned)k, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent > 0) {
            for (int i = 0; i < sent; i++)
                sk__trace_data(fd, '>', v[done + i].addr.len ? &v[done + i].addr : NULL,
                               v[done + i].buf, v[done + i].len, "sendmmsg");
            done += (size_t)sent;
            continue;
        }
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent < 0 && errno != EAGAIN) {
            int rc = sk__fail_errno("sendmmsg fd %d: sent %zu of %zu", fd, done, n);
            return done ? (int)done : rc;
        }
        int rc = sk__wait_deadline(fd, POLLOUT, deadline);
        if (rc < 0) {
            sk__fail(rc, "sendmmsg fd %d: sent %zu of %zu", fd, done, n);
            return done ? (int)done : rc;
        }
    }
    return (int)done;
}
