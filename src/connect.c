/* Connect: Python's create_connection (every resolved address in order, last error kept) and
 * Happy Eyeballs v2 (RFC 8305) when both IPv6 and IPv4 addresses resolve.
 *
 * Each attempt is a non-blocking connect; a pending attempt is watched with poll and its result
 * read with SO_ERROR. Sequentially, the next attempt starts when the previous one fails. With Happy
 * Eyeballs the address families are interleaved (RFC 8305 section 4) and a new attempt also starts
 * every attempt_delay_ms (section 5, 250 ms) while earlier ones are still pending; the first to
 * complete wins and the others are closed. The timeout is a deadline for the whole call. */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_PENDING 64

struct attempt {
    int fd;
    size_t idx; /* into the ordered address array */
};

struct connect_state {
    const sk_addr *addrs;
    size_t n;
    int type;
    const sk_addr_list *sources;
    struct attempt pending[MAX_PENDING];
    size_t npending;
    int last_err;
    bool failed; /* some attempt failed (last_err is real, not the initial SK_ENOADDR) */
};

/* RFC 8305 section 4: alternate families, starting with the family of the first address.
 * order[k] is the index in addrs of the k-th attempt. */
static void interleave(const sk_addr *in, size_t n, size_t *order)
{
    int first = in[0].u.sa.sa_family;
    size_t a = 0, b = 0, k = 0;
    while (k < n) {
        while (a < n && in[a].u.sa.sa_family != first)
            a++;
        if (a < n)
            order[k++] = a++;
        while (b < n && in[b].u.sa.sa_family == first)
            b++;
        if (b < n)
            order[k++] = b++;
    }
}

static bool both_families(const sk_addr *addrs, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (addrs[i].u.sa.sa_family != addrs[0].u.sa.sa_family)
            return true;
    return false;
}

int sk_connect_order(const sk_addr *addrs, size_t n, const sk_connect_opts *opts, size_t *order)
{
    sk_connect_opts o;
    int rc = sk__opts_load(&o, sizeof o, opts, "connect order: opts");
    if (rc < 0)
        return rc;
    if ((!addrs || !order) && n)
        return sk__fail(SK_EARG, "connect order: NULL argument");
    bool he = n && !o.no_happy_eyeballs && both_families(addrs, n);
    if (he)
        interleave(addrs, n, order);
    else
        for (size_t i = 0; i < n; i++)
            order[i] = i;
    return he;
}

static int bind_source(int fd, const sk_addr *dst, const sk_addr_list *sources)
{
    for (size_t i = 0; sources && i < sources->n; i++) {
        const sk_addr *s = &sources->v[i];
        if (s->u.sa.sa_family != dst->u.sa.sa_family)
            continue;
        if (bind(fd, &s->u.sa, s->len) < 0) {
            char a[SK_ADDRSTRLEN];
            sk_addr_format(s, a, sizeof a);
            return sk__fail_errno("bind source %s", a);
        }
        if (sk_trace_level()) {
            char a[SK_ADDRSTRLEN];
            sk_addr_format(s, a, sizeof a);
            sk__trace_call(fd, "bind %s (source address)", a);
        }
        return 0;
    }
    if (!sources)
        return 0;
    char d[SK_ADDRSTRLEN];
    sk_addr_format(dst, d, sizeof d);
    return sk__fail(SK_ENOADDR,
                    "connect %s: the source has no %s address, as this destination needs", d,
                    dst->u.sa.sa_family == AF_INET ? "IPv4" : "IPv6");
}

static void trace_result(int fd, const sk_addr *a, const char *what, int code)
{
    if (!sk__trace_on())
        return;
    char s[SK_ADDRSTRLEN];
    sk_addr_format(a, s, sizeof s);
    if (code == 0) {
        sk__trace_call(fd, "connect %s%s = 0", s, what);
        sk__trace_established(fd, "connect");
    } else
        sk__trace_call(fd, "connect %s%s -> %s (%s)", s, what, sk_err_name(code),
                       sk_strerror(code));
}

static int attempt_failed(struct connect_state *st, int code)
{
    st->failed = true;
    return st->last_err = code;
}

/* Start the attempt for addrs[idx]. Returns 1 if connected at once (fd in *out), 0 if pending
 * (added to st->pending), < 0 if this address failed (st->last_err updated). */
static int start_attempt(struct connect_state *st, size_t idx, int64_t deadline, int *out)
{
    const sk_addr *a = &st->addrs[idx];
    int proto = a->u.sa.sa_family == AF_UNIX ? 0
                : st->type == SOCK_DGRAM     ? IPPROTO_UDP
                                             : IPPROTO_TCP;
    int fd = sk__socket(a->u.sa.sa_family, st->type | SOCK_NONBLOCK, proto, SK_ROLE_CLIENT);
    if (fd < 0)
        return attempt_failed(st, fd);
    int rc = bind_source(fd, a, st->sources);
    if (rc < 0) {
        sk_close(fd);
        return attempt_failed(st, rc);
    }
    for (;;) {
        if (connect(fd, &a->u.sa, a->len) == 0) {
            trace_result(fd, a, "", 0);
            *out = fd;
            return 1;
        }
        if (errno == EINTR)
            continue;
        /* A Unix stream listener with a full backlog answers EAGAIN rather than EINPROGRESS:
         * retry until the deadline. */
        if (errno == EAGAIN && a->u.sa.sa_family == AF_UNIX && sk__remaining(deadline) != 0) {
            nanosleep(&(struct timespec){0, 5 * 1000 * 1000}, NULL);
            continue;
        }
        break;
    }
    if (errno == EINPROGRESS && st->npending < MAX_PENDING) {
        if (sk_trace_level()) {
            char s[SK_ADDRSTRLEN];
            sk_addr_format(a, s, sizeof s);
            sk__trace_call(fd, "connect %s (in progress)", s);
        }
        st->pending[st->npending++] = (struct attempt){fd, idx};
        return 0;
    }
    rc = errno == EINPROGRESS ? -EMFILE : -errno;
    trace_result(fd, a, "", rc);
    char s[SK_ADDRSTRLEN];
    sk_addr_format(a, s, sizeof s);
    sk__fail(rc, "connect %s", s);
    sk_close(fd);
    return attempt_failed(st, rc);
}

static void drop_pending(struct connect_state *st, size_t i)
{
    sk_close(st->pending[i].fd);
    st->pending[i] = st->pending[--st->npending];
}

/* Poll the pending attempts once. Returns a connected fd, or -1 if none completed yet. */
static int poll_pending(struct connect_state *st, int wait_ms)
{
    struct pollfd p[MAX_PENDING];
    for (size_t i = 0; i < st->npending; i++)
        p[i] = (struct pollfd){.fd = st->pending[i].fd, .events = POLLOUT};
    int n = poll(p, st->npending, wait_ms);
    if (n <= 0)
        return -1; /* timeout or EINTR: the caller re-checks its clocks */
    int winner = -1;
    for (size_t i = st->npending; i-- > 0;) {
        if (!p[i].revents || winner >= 0)
            continue;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(st->pending[i].fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        const sk_addr *a = &st->addrs[st->pending[i].idx];
        trace_result(st->pending[i].fd, a, " (completed)", -err);
        if (err == 0) {
            winner = st->pending[i].fd;
            st->pending[i] = st->pending[--st->npending];
        } else {
            char s[SK_ADDRSTRLEN];
            sk_addr_format(a, s, sizeof s);
            attempt_failed(st, sk__fail(-err, "connect %s", s));
            drop_pending(st, i);
        }
    }
    return winner;
}

static int finish(struct connect_state *st, int fd)
{
    while (st->npending)
        drop_pending(st, 0);
    if (fd >= 0)
        sk_sock_set_nonblock(fd, false); /* the caller gets a blocking fd, as from socket(2) */
    return fd;
}

static int connect_list(const sk_addr *addrs, size_t n, const sk_connect_opts *o,
                        const sk_addr_list *sources, int timeout_ms)
{
    int64_t deadline = sk__deadline(timeout_ms);
    int delay = o->attempt_delay_ms > 0 ? o->attempt_delay_ms : SK_ATTEMPT_DELAY_DEFAULT_MS;
    sk_addr *ordered = malloc(n * sizeof *ordered);
    size_t *order = malloc(n * sizeof *order);
    if (!ordered || !order) {
        free(ordered);
        free(order);
        return sk__fail(-ENOMEM, "connect");
    }
    bool he = sk_connect_order(addrs, n, o, order) == 1;
    for (size_t i = 0; i < n; i++)
        ordered[i] = addrs[order[i]];
    free(order);
    addrs = ordered;
    struct connect_state st = {.addrs = addrs,
                               .n = n,
                               .type = o->type ? o->type : SOCK_STREAM,
                               .sources = sources,
                               .last_err = SK_ENOADDR};
    size_t next = 0;
    int64_t next_start = 0; /* when Happy Eyeballs may start the next attempt */
    int fd = -1;
    for (;;) {
        int64_t now = sk__now_ms();
        if (next < n && (st.npending == 0 || (he && now >= next_start))) {
            int rc = start_attempt(&st, next++, deadline, &fd);
            if (rc == 1)
                break;
            next_start = now + delay;
            if (rc < 0 && sk__remaining(deadline) != 0)
                continue; /* failed at once: the next address starts immediately */
        }
        if (st.npending == 0 && next >= n) {
            fd = st.last_err;
            break;
        }
        int left = sk__remaining(deadline);
        if (left == 0) {
            char a[SK_ADDRSTRLEN];
            sk_addr_format(&addrs[st.npending ? st.pending[0].idx : next - 1], a, sizeof a);
            if (st.failed)
                fd = sk__fail(-ETIMEDOUT,
                              "connect %s: no answer within %d ms (an earlier address: %s)", a,
                              timeout_ms, sk_strerror(st.last_err));
            else
                fd = sk__fail(-ETIMEDOUT, "connect %s: no answer within %d ms", a, timeout_ms);
            break;
        }
        int wait = left;
        if (he && next < n) {
            int64_t until = next_start - sk__now_ms();
            int w = until < 0 ? 0 : (int)until;
            if (wait < 0 || w < wait)
                wait = w;
        }
        if ((fd = poll_pending(&st, wait)) >= 0)
            break;
    }
    fd = finish(&st, fd);
    free(ordered);
    return fd;
}

int sk_connect_addrs(const sk_addr *addrs, size_t n, const sk_connect_opts *opts, int timeout_ms)
{
    sk_connect_opts loaded;
    const sk_connect_opts *o = &loaded;
    int rc = sk__opts_load(&loaded, sizeof loaded, opts, "connect: opts");
    if (rc < 0)
        return rc;
    if (!addrs || n == 0)
        return sk__fail(SK_ENOADDR, "connect: empty address list");
    sk_addr_list sources = {0};
    if (o->source) {
        rc = sk_resolve(o->source, o->family, o->type ? o->type : SOCK_STREAM,
                        SK_RESOLVE_PASSIVE | (o->numeric ? SK_RESOLVE_NUMERIC : 0), &sources);
        if (rc < 0)
            return rc;
    }
    int fd = connect_list(addrs, n, o, o->source ? &sources : NULL, timeout_ms);
    sk_addr_list_free(&sources);
    return fd;
}

int sk_connect_endpoint(const sk_endpoint *ep, const sk_connect_opts *opts, int timeout_ms)
{
    sk_connect_opts o;
    int rc = sk__opts_load(&o, sizeof o, opts, "connect: opts");
    if (rc < 0)
        return rc;
    sk_addr_list list;
    rc = sk_resolve_endpoint(ep, o.family, o.type ? o.type : SOCK_STREAM,
                             o.numeric ? SK_RESOLVE_NUMERIC : 0, &list);
    if (rc < 0)
        return rc;
    rc = sk_connect_addrs(list.v, list.n, &o, timeout_ms);
    sk_addr_list_free(&list);
    return rc;
}

int sk_connect_ex(const char *endpoint, const sk_connect_opts *opts, int timeout_ms)
{
    sk_endpoint ep;
    int rc = sk_endpoint_parse(endpoint, &ep);
    return rc < 0 ? rc : sk_connect_endpoint(&ep, opts, timeout_ms);
}

int sk_connect(const char *endpoint, int timeout_ms)
{
    return sk_connect_ex(endpoint, NULL, timeout_ms);
}

int sk_connect_addr(const sk_addr *addr, int type, int timeout_ms)
{
    sk_connect_opts o = SK_CONNECT_OPTS_INIT(.type = type);
    return sk_connect_addrs(addr, 1, &o, timeout_ms);
}
