/* What the blocking models (iterative, thread, fork, pool) share: the serving loop, a request's
 * life (handler, then the end of its connection), and stopping.
 *
 * The serving thread polls the server socket and a wakeup pipe (so shutdown, even from a signal
 * handler, ends the wait at once) every poll_interval. Each request becomes a job the model's
 * dispatch runs inline, on a thread, in a child or through a queue.
 *
 * Stopping (drain; in the iterative model already the shutdown request, since the running request
 * is part of serve_forever) happens in two steps that the request I/O functions (server_request.c)
 * watch through two eventfds, shared with forked children like the counters: "halt" ends the input
 * (reads return end-of-file, handlers answer what they read and return), "cut" (the drain
 * deadline) makes blocked I/O give up and resets the connection, so a client never mistakes a
 * cut-off answer for a complete one. */
#include "server_core.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

/* After a halted request: how long to discard input the client still sends. */
#define LINGER_MS 1000
/* TLS: how long our close_notify may wait for room in the socket. */
#define TLS_CLOSE_MS 1000
/* Fork at max_children: how often to look for a child that ended. */
#define BUSY_POLL_MS 20
/* While waiting for requests to end: how often to look. */
#define IDLE_POLL_MS 10
/* At the drain's deadline: how long a blocked read gets to notice SHUT_RD before the connection is
 * shut down both ways; after the grace, how long killed children get to be reaped. */
#define SHUT_RD_WAIT_MS 100
#define KILL_WAIT_MS    1000

/* ---- the connection registry (for the drain to cut off) ------------------------------------- */

static void conn_add(sk_server *s, int fd)
{
    pthread_mutex_lock(&s->lock);
    if (sk__grow((void **)&s->conns, &s->capconns, s->nconns + 1, sizeof *s->conns))
        s->conns[s->nconns++] = fd;
    pthread_mutex_unlock(&s->lock);
}

void sk__blocking_forget(sk_server *s, int fd)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i] == fd) {
            s->conns[i] = s->conns[--s->nconns];
            break;
        }
    pthread_mutex_unlock(&s->lock);
}

static void shutdown_conns(sk_server *s, int how)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->nconns; i++)
        shutdown(s->conns[i], how);
    pthread_mutex_unlock(&s->lock);
}

/* ---- halt and cut -------------------------------------------------------------------------- */

static void raise_flag(atomic_bool *flag, int efd)
{
    /* async-signal-safe: an atomic store and a write(2) */
    atomic_store(flag, true);
    int saved = errno;
    uint64_t one = 1;
    ssize_t ignored = write(efd, &one, sizeof one);
    (void)ignored;
    errno = saved;
}

static void lower_flag(atomic_bool *flag, int efd)
{
    atomic_store(flag, false);
    uint64_t v;
    ssize_t ignored = read(efd, &v, sizeof v);
    (void)ignored;
}

void sk__blocking_halt(sk_server *s)
{
    raise_flag(&s->c->halted, s->halt_fd);
}

/* connect(AF_UNSPEC) is the kernel's abortive disconnect for TCP; other stream sockets have no
 * reset and are shut down. Only the thread that owns the fd calls this (another thread's connect
 * on it would race with the owner's I/O). */
void sk__abort_conn(int fd)
{
    sk_sock_set_linger(fd, true, 0);
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    if (connect(fd, &unspec, sizeof unspec) == 0)
        sk__trace_call(fd, "connect AF_UNSPEC = 0 (abortive disconnect: RST)");
    else
        sk_shutdown(fd, SHUT_RDWR);
}

/* The handler has returned while the input was halted. Bytes it took from the socket and never
 * consumed were read but not answered: reset. Input still arriving was never read: send our FIN
 * after the answer and discard what comes until the client closes (LINGER_MS at most, or the
 * cut), so that closing with unread input does not make the kernel reset the connection and drop
 * the answer still on its way. */
static void end_halted(sk_server *s, int fd, const sk_reader *r)
{
    if (r && sk_reader_buffered(r) > 0) {
        sk__abort_conn(fd);
        return;
    }
    char junk[16384];
    if (recv(fd, junk, 1, MSG_PEEK | MSG_DONTWAIT) <= 0)
        return; /* nothing pending (or EOF, or an error): a plain close */
    shutdown(fd, SHUT_WR);
    int64_t deadline = sk__deadline(LINGER_MS);
    while (!atomic_load(&s->c->cut)) {
        ssize_t n = recv(fd, junk, sizeof junk, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return;
        if (n > 0)
            continue;
        struct pollfd p[2] = {{fd, POLLIN, 0}, {s->cut_fd, POLLIN, 0}};
        if (poll(p, 2, sk__remaining(deadline)) == 0)
            return; /* the client keeps sending: close, and the kernel resets */
    }
}

/* ---- one request --------------------------------------------------------------------------- */

static int idle_ms(const sk_server *s)
{
    return s->o.idle_timeout_ms > 0 ? s->o.idle_timeout_ms : -1;
}

/* The connection (streams) and the packet (datagrams) of a job are done with. */
static void end_job(sk_server *s, struct sk__job *j, bool registered)
{
    if (s->type == SOCK_STREAM) {
        if (registered)
            sk__blocking_forget(s, j->fd);
        sk_close(j->fd);
    }
    free(j->data);
}

/* TLS: the handshake, in the handler's thread (or child), within the handshake timeout; then
 * the request's reader reads through it. A failed handshake is the request's failure. */
static int tls_accept(sk_server *s, sk_request *req)
{
    const struct sk__tls_ops *ops = sk__tls_ops(s->o.tls);
    int ms = s->o.tls_handshake_timeout_ms > 0 ? s->o.tls_handshake_timeout_ms
                                               : SK_TLS_HANDSHAKE_TIMEOUT_DEFAULT_MS;
    sk_tls *t = NULL;
    int rc = ops->start(&t, s->o.tls, req->fd, NULL);
    if (rc == 0 && (rc = ops->handshake(t, ms)) < 0) {
        sk__trace_call(req->fd, "%s", sk_errmsg()); /* the reason, for --trace */
        ops->close(t);
    }
    if (rc < 0)
        return rc;
    req->tls = t;
    return ops->reader(&req->reader, t, 0);
}

void sk__blocking_run(sk_server *s, struct sk__job *j, bool count_done)
{
    sk_request req = {.server = s,
                      .fd = j->fd,
                      .type = s->type,
                      .peer = j->peer,
                      .idle_timeout_ms = idle_ms(s),
                      .data = j->data,
                      .len = j->len,
                      .user = s->o.user};
    int rc = 0;
    if (s->type == SOCK_STREAM && s->o.tls)
        rc = tls_accept(s, &req);
    else if (s->type == SOCK_STREAM)
        rc = sk_reader_new(&req.reader, j->fd, 0);
    if (rc == 0)
        rc = s->o.handle(&req);
    if (rc < 0) {
        if (!sk__peer_gone(s->type, rc) && !atomic_load(&s->c->cut))
            atomic_fetch_add(&s->c->n.errors, 1);
        if (s->o.on_error)
            s->o.on_error(&req, rc, s->o.user);
    }
    if (s->type == SOCK_STREAM && atomic_load(&s->c->cut))
        sk__abort_conn(j->fd); /* cut off at the drain's deadline */
    else if (s->type == SOCK_STREAM && atomic_load(&s->c->halted))
        end_halted(s, j->fd, req.reader);
    sk_reader_free(req.reader);
    if (req.tls) {
        const struct sk__tls_ops *ops = sk__tls_ops(s->o.tls);
        if (rc >= 0 && !atomic_load(&s->c->cut))
            ops->shutdown(req.tls, TLS_CLOSE_MS); /* close_notify: the client sees a whole end */
        ops->close(req.tls);
    }
    /* a forked child's registry is a copy nobody reads (and its lock may have been held by
     * another thread of the parent at the fork) */
    end_job(s, j, count_done);
    if (count_done)
        sk__release(s);
}

void sk__blocking_drop(sk_server *s, struct sk__job *j)
{
    sk__release(s);
    end_job(s, j, true);
}

/* ---- taking one request off the socket ----------------------------------------------------- */

static int take_one(sk_server *s)
{
    struct sk__job j = {0};
    if (s->type == SOCK_STREAM) {
        int fd = sk__accept(s, s->fd, &j.peer, 0, &s->c->n);
        if (fd == SK__ACCEPT_NONE)
            return 0; /* another acceptor won, or a spurious wakeup */
        if (fd == SK__ACCEPT_REFUSED)
            return 1;
        if (fd == SK__ACCEPT_PAUSE) {
            s->accept_paused_until = sk__deadline(SK__ACCEPT_PAUSE_MS);
            return 0;
        }
        if (fd < 0)
            return fd;
        j.fd = fd;
    } else {
        unsigned char *buf = malloc(SK_SERVER_DGRAM_MAX);
        if (!buf)
            return sk__fail(-ENOMEM, "server receive");
        ssize_t n = sk_recvfrom(s->fd, buf, SK_SERVER_DGRAM_MAX, &j.peer, 0);
        if (n < 0) {
            free(buf);
            return n == -ETIMEDOUT ? 0 : (int)n;
        }
        j.fd = s->fd;
        j.data = buf;
        j.len = (size_t)n;
        atomic_fetch_add(&s->c->n.bytes_in, (uint64_t)n);
    }
    if (!sk__admit(s, &j.peer, true, &s->c->n)) {
        end_job(s, &j, false);
        return 1;
    }
    if (s->type == SOCK_STREAM)
        conn_add(s, j.fd);
    s->m->dispatch(s, &j);
    return 1;
}

static void drain_wake(sk_server *s)
{
    char b[64];
    while (read(s->wake[0], b, sizeof b) > 0)
        ;
}

/* Whether the model can take one more request now, and if not, when to look again (-1: at a
 * wakeup). A pool with a full queue, or a fork server at max_children, leaves new clients in the
 * kernel's backlog until a worker or a child is free; the serving thread never blocks elsewhere
 * than in poll, so a shutdown always reaches it. */
static bool has_room(sk_server *s, int *look_again_ms)
{
    *look_again_ms = -1;
    if (s->accept_paused_until) {
        int left = sk__remaining(s->accept_paused_until);
        if (left > 0) {
            *look_again_ms = left;
            return false;
        }
        s->accept_paused_until = 0;
    }
    if (!s->m->has_room || s->m->has_room(s))
        return true;
    if (s->m->reap) /* a child's end sends no wakeup */
        *look_again_ms = BUSY_POLL_MS;
    return false;
}

/* Wait until the socket is readable and there is room (1), a wakeup came (0), or the time passed
 * (-ETIMEDOUT). Without room only the wakeup pipe is watched: a pool worker that makes room writes
 * to it; the end of a child or of an accept pause is looked for in time. */
static int wait_ready(sk_server *s, int timeout_ms)
{
    int look;
    bool room = has_room(s, &look);
    if (!room && look >= 0 && (timeout_ms < 0 || timeout_ms > look))
        timeout_ms = look;
    struct pollfd p[2] = {{s->fd, room ? POLLIN : 0, 0}, {s->wake[0], POLLIN, 0}};
    int n = poll(p, 2, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    if (n == 0)
        return room ? -ETIMEDOUT : 0;
    if (p[1].revents)
        drain_wake(s);
    return room && p[0].revents ? 1 : 0;
}

/* ---- the table's shared entries ------------------------------------------------------------ */

int sk__blocking_open(sk_server *s)
{
    if ((s->halt_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
        (s->cut_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        return sk__fail_errno("server open: eventfd");
    return 0;
}

int sk__blocking_serve(sk_server *s, int interval_ms)
{
    /* serving again after a drain: input flows again */
    lower_flag(&s->c->halted, s->halt_fd);
    lower_flag(&s->c->cut, s->cut_fd);
    while (!atomic_load(&s->stop)) {
        int r = wait_ready(s, interval_ms);
        if (r == 1)
            take_one(s); /* a failing accept is retried next round; EMFILE is shed there */
        else if (r < 0 && r != -ETIMEDOUT)
            return sk__fail(r, "server poll fd %d", s->fd);
    }
    return 0;
}

int sk__blocking_handle_request(sk_server *s, int timeout_ms)
{
    int64_t deadline = sk__deadline(timeout_ms);
    for (;;) {
        int r = wait_ready(s, sk__remaining(deadline));
        if (r == 1) {
            int rc = take_one(s);
            if (rc != 0)
                return rc < 0 ? sk__fail(rc, "server handle_request") : 1;
        } else if (r == -ETIMEDOUT || sk__remaining(deadline) == 0) {
            if (s->o.on_timeout)
                s->o.on_timeout(s, s->o.user);
            return 0;
        } else if (r < 0) {
            return sk__fail(r, "server handle_request");
        }
    }
}

/* Wait until no request is active or the deadline passes; true if none is. */
static bool wait_idle(sk_server *s, int64_t deadline)
{
    while (atomic_load(&s->c->active) > 0 && sk__remaining(deadline) != 0) {
        if (s->m->reap)
            s->m->reap(s, false);
        poll(NULL, 0, IDLE_POLL_MS);
    }
    if (s->m->reap)
        s->m->reap(s, false);
    return atomic_load(&s->c->active) == 0;
}

int sk__blocking_drain(sk_server *s, int deadline_ms)
{
    int64_t deadline = sk__deadline(deadline_ms);
    /* No more input: handlers answer what they have read and return (forked children too: the
     * flag and its eventfd are shared). */
    raise_flag(&s->c->halted, s->halt_fd);
    if (wait_idle(s, deadline))
        return 0;
    /* What still runs is cut off: request I/O blocked in sk_request_* gives up, and every handler
     * that returns from now on resets its connection (sk__blocking_run); children get SIGTERM
     * (default action: see server_fork.c). */
    /* Counted as the flag goes up, under the registry's lock: a handler woken by the cut can only
     * forget its fd (which takes that lock) after the count. Counted after the flag, a handler
     * that woke and ended first was missed. */
    pthread_mutex_lock(&s->lock);
    int cut = (int)s->nconns;
    raise_flag(&s->c->cut, s->cut_fd);
    pthread_mutex_unlock(&s->lock);
    if (s->m->signal)
        cut += s->m->signal(s, SIGTERM);
    /* A handler blocked on its fd itself: reading, it wakes at SHUT_RD (no FIN is sent); sending
     * (to a client that does not read) only at SHUT_WR, whose FIN waits behind the unsent data
     * while the handler wakes and resets the connection. */
    shutdown_conns(s, SHUT_RD);
    if (!wait_idle(s, sk__deadline(SHUT_RD_WAIT_MS)))
        shutdown_conns(s, SHUT_RDWR);
    if (!wait_idle(s, sk__deadline(s->o.drain_grace_ms)) && s->m->signal) {
        s->m->signal(s, SIGKILL); /* a child that blocks or ignores SIGTERM */
        wait_idle(s, sk__deadline(KILL_WAIT_MS));
    }
    return cut;
}
