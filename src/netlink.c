/* rtnetlink transport: send one request on a NETLINK_ROUTE socket and hand each answer message to
 * a callback until the dump ends (NLMSG_DONE) or the single answer came. ifaces.c and route.c
 * build the requests and read the attributes. */
#include "internal.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A dump of a few hundred interfaces fits in a few of these; the kernel fills at most one page
 * (or 32 KiB) per datagram, so nothing is truncated. */
enum { NL_BUF = 64 * 1024, NL_TIMEOUT_MS = 5000 };

static int nl_open(void)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return -errno;
    struct sockaddr_nl local = {.nl_family = AF_NETLINK};
    if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

static int nl_send(int fd, struct nlmsghdr *req)
{
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    for (;;) {
        ssize_t n = sendto(fd, req, req->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel);
        if (n >= 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

/* One datagram's messages. Returns 1 when the answer is complete, 0 for more, < 0 on error. */
static int nl_walk(char *buf, size_t len, uint32_t seq, sk__nl_fn fn, void *ctx)
{
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
        if (h->nlmsg_seq != seq)
            continue; /* an answer to someone else's request on a shared port: not ours */
        if (h->nlmsg_type == NLMSG_DONE)
            return 1;
        if (h->nlmsg_type == NLMSG_ERROR) {
            const struct nlmsgerr *e = NLMSG_DATA(h);
            if (h->nlmsg_len < NLMSG_LENGTH(sizeof *e))
                return -EPROTO;
            return e->error ? e->error : 1; /* error 0 is an acknowledgement */
        }
        int rc = fn(h, ctx);
        if (rc < 0)
            return rc;
        if (!(h->nlmsg_flags & NLM_F_MULTI))
            return 1; /* a single answer, not part of a dump */
    }
    return 0;
}

int sk__nl_request(struct nlmsghdr *req, sk__nl_fn fn, void *ctx)
{
    int fd = nl_open();
    if (fd < 0)
        return fd;
    req->nlmsg_seq = (uint32_t)time(NULL) ^ (uint32_t)getpid();
    req->nlmsg_flags |= NLM_F_REQUEST;
    int rc = nl_send(fd, req);
    char *buf = rc < 0 ? NULL : malloc(NL_BUF);
    if (rc == 0 && !buf)
        rc = -ENOMEM;
    int64_t deadline = sk__deadline(NL_TIMEOUT_MS);
    while (rc == 0) {
        rc = sk__wait_deadline(fd, POLLIN, deadline);
        if (rc < 0)
            break;
        ssize_t n = recv(fd, buf, NL_BUF, 0);
        if (n < 0) {
            rc = errno == EINTR || errno == EAGAIN ? 0 : -errno;
            continue;
        }
        if (n == 0) {
            rc = -EPROTO;
            break;
        }
        rc = nl_walk(buf, (size_t)n, req->nlmsg_seq, fn, ctx);
    }
    free(buf);
    close(fd);
    return rc < 0 ? rc : 0;
}

const struct rtattr *sk__nl_attr(const struct rtattr *first, size_t len, int type)
{
    int rest = (int)len;
    for (const struct rtattr *a = first; RTA_OK(a, rest); a = RTA_NEXT(a, rest))
        if ((a->rta_type & NLA_TYPE_MASK) == type)
            return a;
    return NULL;
}
