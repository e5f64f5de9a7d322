/* How clients reach a server, for every model: its listen options, the one accept path (accept,
 * shedding at EMFILE/ENFILE through the reserve fd) and the one admission rule (counting, verify,
 * max_conns). */
#include "server_core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

sk_listen_opts sk__server_listen_opts(const sk_server *s, bool reuseport)
{
    return (sk_listen_opts){.size = sizeof(sk_listen_opts),
                            .type = s->type,
                            .backlog = s->o.backlog,
                            .no_reuseaddr = s->o.no_reuseaddr,
                            .reuseport = s->o.reuseport || reuseport,
                            /* ":7000" is one [::] socket for both families (sk_listen's rule),
                             * and so are the event loops' further listeners at its address */
                            .dualstack = s->o.dualstack || s->ep.any_host,
                            .unlink_stale = true};
}

int sk__server_listen(const sk_server *s, const sk_addr *bound, bool reuseport)
{
    sk_listen_opts lo = sk__server_listen_opts(s, reuseport);
    int fd = bound ? sk_listen_addr(bound, &lo) : sk_listen_endpoint(&s->ep, &lo);
    if (fd >= 0)
        sk_sock_set_nonblock(fd, true); /* several acceptors (pool, threads, loops) never block */
    return fd;
}

static int take_reserve(void)
{
    return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

int sk__acceptor_init(struct sk__acceptor *a)
{
    pthread_mutex_init(&a->lock, NULL);
    a->reserve_fd = take_reserve();
    atomic_init(&a->shedding, 0);
    atomic_init(&a->lost, false);
    return 0; /* without a reserve the server still runs; out of fds it pauses instead */
}

void sk__acceptor_free(struct sk__acceptor *a)
{
    if (a->reserve_fd >= 0)
        close(a->reserve_fd);
    a->reserve_fd = -1;
    pthread_mutex_destroy(&a->lock);
}

/* SOCKKIT_TEST_SHED_PAUSE_MS=N, a test knob (docs/server.md): a shed sleeps N ms with its
 * client's slot free, as a loop preempted there on a busy machine does, so that a test can make
 * another loop's io_uring accept take that slot (tests/interop/serve_event.py). Read once. */
static long shed_pause_ms;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static void read_env(void)
{
    const char *e = getenv("SOCKKIT_TEST_SHED_PAUSE_MS");
    shed_pause_ms = e ? strtol(e, NULL, 10) : 0;
}

static void test_pause(void)
{
    pthread_once(&env_once, read_env);
    if (shed_pause_ms > 0 && shed_pause_ms <= 10000) {
        struct timespec ts = {shed_pause_ms / 1000, shed_pause_ms % 1000 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* The reserve again, after a shed (lock held): lost if another accept took its slot (out of
 * fds), not if it cannot be had at all (no /dev/null in a chroot: no client is shed for it). */
static void retake(struct sk__acceptor *a)
{
    a->reserve_fd = take_reserve();
    atomic_store(&a->lost, a->reserve_fd < 0 && (errno == EMFILE || errno == ENFILE));
}

/* Out of fds (lock held): the pending client cannot be accepted and the listener stays readable,
 * so a retry would spin. Free the reserved fd, accept the client and close it at once, take the
 * reserve back. Without the reserve, the caller pauses accepting for a moment. While the slots
 * are free, shedding says so to the accepts that run outside the lock (sk__accept_claim). */
static int shed(struct sk__acceptor *a, int lfd, struct sk__counters *n)
{
    if (a->reserve_fd < 0) /* lost to another open in the process: try to get it back */
        retake(a);
    if (a->reserve_fd < 0)
        return SK__ACCEPT_PAUSE;
    atomic_fetch_add(&a->shedding, 1); /* before the slot is free: seen by whoever takes it */
    close(a->reserve_fd);
    a->reserve_fd = -1;
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), err = errno;
    if (fd >= 0) {
        /* counted before the close: a client that saw it end finds it counted */
        atomic_fetch_add_explicit(&n->rejected, 1, memory_order_relaxed);
        close(fd);
        test_pause();
    }
    retake(a);
    atomic_fetch_sub(&a->shedding, 1); /* after lost is set */
    if (a->reserve_fd < 0)
        return SK__ACCEPT_PAUSE;
    if (fd >= 0)
        return SK__ACCEPT_REFUSED;
    return err == EAGAIN || err == EWOULDBLOCK ? SK__ACCEPT_NONE : SK__ACCEPT_PAUSE;
}

int sk__accept(sk_server *s, int lfd, sk_addr *peer, int flags, struct sk__counters *n)
{
    struct sk__acceptor *a = &s->acc;
    pthread_mutex_lock(&a->lock);
    int fd = sk__accept4(lfd, peer, flags);
    if (fd == -EAGAIN || fd == -EWOULDBLOCK)
        fd = SK__ACCEPT_NONE; /* all taken, or another acceptor took it */
    else if (fd == -EMFILE || fd == -ENFILE)
        fd = shed(a, lfd, n);
    pthread_mutex_unlock(&a->lock);
    return fd;
}

bool sk__accept_claim(sk_server *s, int fd, struct sk__counters *n)
{
    struct sk__acceptor *a = &s->acc;
    /* a shed that freed the slot fd took (or lost the reserve to it) counted itself in first */
    if (!atomic_load(&a->shedding) && !atomic_load(&a->lost))
        return false;
    pthread_mutex_lock(&a->lock); /* the shed is over once this is ours */
    bool shed_it = false;
    if (atomic_load(&a->lost)) {
        retake(a); /* an fd may have been freed since: then the client stays */
        if (a->reserve_fd < 0) {
            /* still full: this client has the slot the reserve had */
            atomic_fetch_add(&a->shedding, 1);
            atomic_fetch_add_explicit(&n->rejected, 1, memory_order_relaxed);
            close(fd);
            retake(a);
            atomic_fetch_sub(&a->shedding, 1);
            shed_it = true;
        }
    }
    pthread_mutex_unlock(&a->lock);
    return shed_it;
}

bool sk__admit(sk_server *s, const sk_addr *peer, bool hold, struct sk__counters *n)
{
    atomic_fetch_add_explicit(&n->accepted, 1, memory_order_relaxed);
    bool ok = !s->o.verify || s->o.verify(s, peer, s->o.user);
    if (ok && hold) {
        uint64_t active = atomic_fetch_add(&s->c->active, 1);
        if (s->o.max_conns > 0 && active >= (uint64_t)s->o.max_conns) {
            atomic_fetch_sub(&s->c->active, 1);
            ok = false;
        }
    }
    if (!ok)
        atomic_fetch_add_explicit(&n->rejected, 1, memory_order_relaxed);
    return ok;
}

void sk__release(sk_server *s)
{
    atomic_fetch_sub(&s->c->active, 1);
}

bool sk__peer_gone(int type, int rc)
{
    /* A datagram's sender that has gone (a Unix datagram socket closed or its file removed) makes
     * the reply fail where UDP's would vanish: the end of that peer, not a failure of the server.
     */
    if (type == SOCK_DGRAM && (rc == -ECONNREFUSED || rc == -ENOENT))
        return true;
    return rc == -ECONNRESET || rc == -EPIPE || rc == -ETIMEDOUT || rc == SK_ECLOSED;
}
