/* socketserver: open, the serve loop, the four concurrency models, shutdown, drain, close.
 *
 * The serving thread polls the server socket and a wakeup pipe (so shutdown, even from a signal
 * handler, ends the wait at once) every poll_interval. Each request becomes a job handed to the
 * model: run inline (iterative), on a new thread (thread), in a child process (fork), or queued for
 * a fixed pool of threads (pool). Counters live in a shared anonymous mapping so forked children
 * count too. Handler threads hold a reference on the server, so a daemon thread that outlives
 * sk_server_close never touches freed memory.
 *
 * Stopping (drain; in the iterative model already the shutdown request, since the running request
 * is part of serve_forever) happens in two steps that the request I/O functions watch through two
 * eventfds, shared with forked children like the counters: "halt" ends the input (reads return
 * end-of-file, handlers answer what they read and return), "cut" (the drain deadline) makes
 * blocked I/O give up and resets the connection, so a client never mistakes a cut-off answer for
 * a complete one. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define LINGER_MS                                                                                  \
    1000 /* after a halted request: how long to discard input the client still sends */
#define BUSY_POLL_MS 20 /* fork at max_children: how often to look for a child that ended */

struct counters {
    atomic_uint_fast64_t accepted, active, rejected, errors, bytes_in, bytes_out;
    atomic_bool halted; /* no more input: requests' reads return end-of-file */
    atomic_bool cut;    /* the drain deadline passed: blocked request I/O gives up */
};

struct job {
    int fd; /* streams: the connection; datagrams: the server socket */
    sk_addr peer;
    size_t len;
    unsigned char *data; /* datagrams: the packet (owned) */
};

struct sk_server {
    sk_server_opts o;
    int fd, type;
    int wake[2]; /* self-pipe: written by shutdown requests (and a pool worker that made room) */
    int halt_fd, cut_fd; /* eventfds, readable once c->halted / c->cut is set */
    atomic_bool stop;
    atomic_int refs;
    char unix_path[108]; /* a socket file we created, removed at close */
    int reserve_fd;      /* held open so that at EMFILE one fd can be freed to refuse a client */
    struct counters *c;  /* MAP_SHARED: children of the fork model update it too */

    pthread_mutex_t lock;
    pthread_cond_t cond; /* serving changed, a thread ended, the pool queue changed */
    bool serving;
    int threads; /* running handler threads (thread model) */

    int *conns; /* open stream connections, for drain to cut off */
    size_t nconns, capconns;

    pid_t *children; /* fork model */
    size_t nchildren, capchildren;

    struct sk__event *ev; /* event model (server_event.c) */

    pthread_t *workers; /* pool model */
    struct job *queue;
    size_t qhead, qlen, qcap;
    bool quit;
};

/* ---- lifetime ------------------------------------------------------------------------------ */

static void unref(sk_server *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    munmap(s->c, sizeof *s->c);
    free(s->conns);
    free(s->children);
    free(s->workers);
    free(s->queue);
    free(s);
}

static int idle_ms(const sk_server *s)
{
    return s->o.idle_timeout_ms > 0 ? s->o.idle_timeout_ms : -1;
}

/* ---- connection registry (lock held) ------------------------------------------------------- */

static bool grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *p = realloc(*arr, n * elem);
    if (!p)
        return false;
    *arr = p;
    *cap = n;
    return true;
}

static void conn_add(sk_server *s, int fd)
{
    if (grow((void **)&s->conns, &s->capconns, s->nconns + 1, sizeof *s->conns))
        s->conns[s->nconns++] = fd;
}

static void conn_del(sk_server *s, int fd)
{
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i] == fd) {
            s->conns[i] = s->conns[--s->nconns];
            return;
        }
}

/* ---- stopping: halt, cut, abort -------------------------------------------------------------- */

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

/* Reset the connection: the peer gets a RST (ECONNRESET), not an orderly end it could take for a
 * complete answer. connect(AF_UNSPEC) is the kernel's abortive disconnect for TCP; other stream
 * sockets have no reset and are shut down. Only the thread that owns the fd calls this (another
 * thread's connect on it would race with the owner's I/O). */
static void abort_conn(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    if (connect(fd, &unspec, sizeof unspec) < 0)
        shutdown(fd, SHUT_RDWR);
}

/* The peer went away (reset, broken pipe), was idle too long, or the drain cut it off: the
 * connection's end, not the handler's failure (the event model's rule too). */
static bool peer_gone(const sk_server *s, int rc)
{
    return rc == -ECONNRESET || rc == -EPIPE || rc == -ETIMEDOUT || rc == SK_ECLOSED ||
           atomic_load(&s->c->cut);
}

/* The handler has returned while the input was halted. Bytes it took from the socket and never
 * consumed were read but not answered: reset. Input still arriving was never read: send our FIN
 * after the answer and discard what comes until the client closes (LINGER_MS at most, or the
 * cut), so that closing with unread input does not make the kernel reset the connection and drop
 * the answer still on its way. */
static void end_halted(sk_server *s, int fd, const sk_reader *r)
{
    if (r && sk_reader_buffered(r) > 0) {
        abort_conn(fd);
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

/* ---- running one request ------------------------------------------------------------------- */

/* Run the handler for one job. A forked child leaves `active` to the parent, which counts the
 * request as done when it reaps the child. */
static void run_job(sk_server *s, struct job *j, bool count_done)
{
    sk_request req = {.server = s,
                      .fd = j->fd,
                      .type = s->type,
                      .peer = j->peer,
                      .idle_timeout_ms = idle_ms(s),
                      .data = j->data,
                      .len = j->len,
                      .user = s->o.user};
    if (s->type == SOCK_STREAM)
        req.reader = sk_reader_new(j->fd, 0);
    int rc = req.reader || s->type != SOCK_STREAM ? s->o.handle(&req) : -ENOMEM;
    if (rc < 0) {
        if (!peer_gone(s, rc))
            atomic_fetch_add(&s->c->errors, 1);
        if (s->o.on_error)
            s->o.on_error(&req, rc, s->o.user);
    }
    if (s->type == SOCK_STREAM && atomic_load(&s->c->cut))
        abort_conn(j->fd); /* cut off at the drain's deadline */
    else if (s->type == SOCK_STREAM && atomic_load(&s->c->halted))
        end_halted(s, j->fd, req.reader);
    sk_reader_free(req.reader);
    if (s->type == SOCK_STREAM) {
        pthread_mutex_lock(&s->lock);
        conn_del(s, j->fd);
        pthread_mutex_unlock(&s->lock);
        sk_close(j->fd);
    }
    free(j->data);
    if (count_done)
        atomic_fetch_sub(&s->c->active, 1);
}

struct thread_job {
    struct job job;
    sk_server *server;
};

static void *thread_main(void *arg)
{
    struct thread_job *t = arg;
    sk_server *s = t->server;
    run_job(s, &t->job, true);
    free(t);
    pthread_mutex_lock(&s->lock);
    s->threads--;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    unref(s);
    return NULL;
}

static void wake(sk_server *s)
{
    int saved = errno;
    ssize_t ignored = write(s->wake[1], "x", 1);
    (void)ignored;
    errno = saved;
}

static void *pool_main(void *arg)
{
    sk_server *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->qlen && !s->quit)
            pthread_cond_wait(&s->cond, &s->lock);
        if (!s->qlen && s->quit)
            break;
        bool was_full = s->qlen == s->qcap;
        struct job j = s->queue[s->qhead];
        s->qhead = (s->qhead + 1) % s->qcap;
        s->qlen--;
        pthread_mutex_unlock(&s->lock);
        if (was_full)
            wake(s); /* the serving thread accepts again */
        run_job(s, &j, true);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Reap finished children; with block, wait for at least one. */
static void reap(sk_server *s, bool block)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->nchildren;) {
        int st;
        pid_t r = waitpid(s->children[i], &st, block ? 0 : WNOHANG);
        if (r == s->children[i] || (r < 0 && errno == ECHILD)) {
            s->children[i] = s->children[--s->nchildren];
            atomic_fetch_sub(&s->c->active, 1);
            block = false;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        i++;
    }
    pthread_mutex_unlock(&s->lock);
}

static int max_children(const sk_server *s)
{
    return s->o.max_children > 0 ? s->o.max_children : 40;
}

/* A forked child starts with the default action for every signal the program catches, as exec
 * would give it, and SIGTERM unblocked: the drain's SIGTERM must end the child, not run the
 * parent's handler in it (a CLI's handler only asks the server, which the child does not run, to
 * shut down). Ignored signals stay ignored. */
static void child_signals(void)
{
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction sa;
        if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa) < 0)
            continue;
        bool caught =
            (sa.sa_flags & SA_SIGINFO) || (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN);
        if (caught || sig == SIGTERM) {
            struct sigaction dfl = {.sa_handler = SIG_DFL};
            sigaction(sig, &dfl, NULL);
        }
    }
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &term, NULL);
}

/* The serving loop accepts only while there is room (see has_room), so this never waits. */
static int dispatch_fork(sk_server *s, struct job *j)
{
    pthread_mutex_lock(&s->lock);
    bool room = grow((void **)&s->children, &s->capchildren, s->nchildren + 1, sizeof(pid_t));
    pthread_mutex_unlock(&s->lock);
    pid_t pid = room ? fork() : -1;
    if (pid == 0) {
        child_signals();
        /* The child: the server socket is not ours to use (but a datagram reply goes through it).
         */
        if (s->type == SOCK_STREAM)
            close(s->fd);
        run_job(s, j, false);
        _exit(0);
    }
    if (pid < 0) {
        int rc = sk__fail_errno("fork");
        atomic_fetch_sub(&s->c->active, 1);
        if (s->type == SOCK_STREAM) {
            pthread_mutex_lock(&s->lock);
            conn_del(s, j->fd);
            pthread_mutex_unlock(&s->lock);
            sk_close(j->fd);
        }
        free(j->data);
        return rc;
    }
    pthread_mutex_lock(&s->lock);
    s->children[s->nchildren++] = pid;
    if (s->type == SOCK_STREAM)
        conn_del(s, j->fd);
    pthread_mutex_unlock(&s->lock);
    if (s->type == SOCK_STREAM)
        close(j->fd); /* the child has it; not traced as a close of the connection */
    free(j->data);
    return 0;
}

static int dispatch(sk_server *s, struct job *j)
{
    switch (s->o.model) {
    case SK_MODEL_THREAD: {
        struct thread_job *copy = malloc(sizeof *copy);
        if (!copy)
            break;
        *copy = (struct thread_job){*j, s};
        atomic_fetch_add(&s->refs, 1);
        pthread_mutex_lock(&s->lock);
        s->threads++;
        pthread_mutex_unlock(&s->lock);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &attr, thread_main, copy);
        pthread_attr_destroy(&attr);
        if (rc == 0)
            return 0;
        pthread_mutex_lock(&s->lock);
        s->threads--;
        pthread_mutex_unlock(&s->lock);
        atomic_fetch_sub(&s->refs, 1);
        free(copy);
        break;
    }
    case SK_MODEL_POOL:
        /* The serving loop accepts only while the queue has room (see has_room). */
        pthread_mutex_lock(&s->lock);
        if (s->qlen == s->qcap) {
            pthread_mutex_unlock(&s->lock);
            break;
        }
        s->queue[(s->qhead + s->qlen++) % s->qcap] = *j;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        return 0;
    case SK_MODEL_FORK:
        return dispatch_fork(s, j);
    default:
        run_job(s, j, true);
        return 0;
    }
    /* could not hand it over: run it here rather than drop it */
    run_job(s, j, true);
    return 0;
}

/* ---- taking one request off the socket ----------------------------------------------------- */

/* Out of file descriptors, the pending connection cannot be accepted, and the listener stays
 * readable: a plain retry would spin at 100% CPU. Free the reserved fd, accept the client and
 * close it at once (it sees its connection end rather than hang in the backlog), take the reserve
 * back. If even that fails, wait a little before the next try. */
static void refuse_one(sk_server *s)
{
    atomic_fetch_add(&s->c->rejected, 1);
    if (s->reserve_fd >= 0) {
        close(s->reserve_fd);
        int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            close(fd);
        s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
            return;
    }
    poll(NULL, 0, 50);
}

static int take_one(sk_server *s)
{
    struct job j = {0};
    if (s->type == SOCK_STREAM) {
        int fd = sk_accept(s->fd, &j.peer, 0);
        if (fd == -ETIMEDOUT || fd == -EAGAIN)
            return 0; /* another acceptor won, or a spurious wakeup */
        if (fd == -EMFILE || fd == -ENFILE) {
            refuse_one(s);
            return 1;
        }
        if (fd < 0)
            return fd;
        j.fd = fd;
    } else {
        unsigned char *buf = malloc(65536);
        if (!buf)
            return sk__fail(-ENOMEM, "server receive");
        ssize_t n = sk_recvfrom(s->fd, buf, 65536, &j.peer, 0);
        if (n < 0) {
            free(buf);
            return n == -ETIMEDOUT ? 0 : (int)n;
        }
        j.fd = s->fd;
        j.data = buf;
        j.len = (size_t)n;
        atomic_fetch_add(&s->c->bytes_in, (uint64_t)n);
    }
    atomic_fetch_add(&s->c->accepted, 1);
    bool ok = !s->o.verify || s->o.verify(s, &j.peer, s->o.user);
    if (ok && s->o.max_conns > 0 && atomic_load(&s->c->active) >= (uint64_t)s->o.max_conns)
        ok = false;
    if (!ok) {
        atomic_fetch_add(&s->c->rejected, 1);
        if (s->type == SOCK_STREAM)
            sk_close(j.fd);
        free(j.data);
        return 1;
    }
    atomic_fetch_add(&s->c->active, 1);
    if (s->type == SOCK_STREAM) {
        pthread_mutex_lock(&s->lock);
        conn_add(s, j.fd);
        pthread_mutex_unlock(&s->lock);
    }
    dispatch(s, &j);
    return 1;
}

static void drain_wake(sk_server *s)
{
    char b[64];
    while (read(s->wake[0], b, sizeof b) > 0)
        ;
}

/* Whether the model can take one more request now. A pool with a full queue, or a fork server
 * at max_children, leaves new clients in the kernel's backlog until a worker or a child is free;
 * the serving thread never blocks elsewhere than in poll, so a shutdown always reaches it. */
static bool has_room(sk_server *s)
{
    if (s->o.model == SK_MODEL_POOL) {
        pthread_mutex_lock(&s->lock);
        bool room = s->qlen < s->qcap;
        pthread_mutex_unlock(&s->lock);
        return room;
    }
    if (s->o.model == SK_MODEL_FORK) {
        reap(s, false);
        return s->nchildren < (size_t)max_children(s);
    }
    return true;
}

/* Wait until the socket is readable and there is room (1), a wakeup came (0), or the time passed
 * (-ETIMEDOUT). Without room only the wakeup pipe is watched: a pool worker that makes room writes
 * to it; the end of a child is looked for every BUSY_POLL_MS. */
static int wait_ready(sk_server *s, int timeout_ms)
{
    bool room = has_room(s);
    if (!room && s->o.model == SK_MODEL_FORK && (timeout_ms < 0 || timeout_ms > BUSY_POLL_MS))
        timeout_ms = BUSY_POLL_MS;
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

/* ---- public API ---------------------------------------------------------------------------- */

static void close_events(sk_server *s)
{
    if (s->halt_fd >= 0)
        close(s->halt_fd);
    if (s->cut_fd >= 0)
        close(s->cut_fd);
}

int sk_server_open(sk_server **out, const sk_server_opts *opts)
{
    if (!out || !opts || !opts->endpoint)
        return sk__fail(SK_EARG, "server open: an endpoint is required");
    if (opts->model > SK_MODEL_EVENT || (int)opts->model < 0)
        return sk__fail(SK_EARG, "server open: unknown model %d", (int)opts->model);
    if (opts->model == SK_MODEL_EVENT ? !opts->events : !opts->handle)
        return sk__fail(SK_EARG, "server open: the %s model needs opts.%s",
                        opts->model == SK_MODEL_EVENT ? "event" : "blocking",
                        opts->model == SK_MODEL_EVENT ? "events" : "handle");
    sk_server *s = calloc(1, sizeof *s);
    if (!s)
        return sk__fail(-ENOMEM, "server open");
    s->o = *opts;
    s->type = opts->type ? opts->type : SOCK_STREAM;
    s->fd = s->wake[0] = s->wake[1] = s->halt_fd = s->cut_fd = -1;
    /* the event model keeps its own reserve, shared by its loops */
    s->reserve_fd = opts->model == SK_MODEL_EVENT ? -1 : open("/dev/null", O_RDONLY | O_CLOEXEC);
    atomic_init(&s->refs, 1);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->c = mmap(NULL, sizeof *s->c, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int rc = 0;
    if (s->c == MAP_FAILED) {
        s->c = NULL;
        rc = sk__fail_errno("server open: counters");
        goto fail;
    }
    sk_listen_opts lo = {.type = s->type,
                         .backlog = opts->backlog,
                         .no_reuseaddr = opts->no_reuseaddr,
                         .reuseport = opts->reuseport,
                         .dualstack = opts->dualstack,
                         .unlink_stale = true};
    if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        rc = sk__fail_errno("server open: wakeup pipe");
        goto fail;
    }
    if (opts->model != SK_MODEL_EVENT &&
        ((s->halt_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
         (s->cut_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)) {
        rc = sk__fail_errno("server open: eventfd");
        goto fail;
    }
    if (opts->model == SK_MODEL_EVENT) {
        if ((rc = sk__event_open(&s->ev, s, opts)) < 0)
            goto fail;
        s->o.workers = sk__event_loops(s->ev);
    } else {
        if ((rc = s->fd = sk_listen(opts->endpoint, &lo)) < 0)
            goto fail;
        sk_set_nonblock(s->fd, true); /* several acceptors (pool, threads) never block */
    }
    sk_addr a;
    if (sk_local_addr(sk_server_fd(s), &a) == 0 && a.u.sa.sa_family == AF_UNIX &&
        a.u.un.sun_path[0])
        memcpy(s->unix_path, a.u.un.sun_path, sizeof s->unix_path);
    if (s->o.model == SK_MODEL_POOL) {
        int n = opts->workers > 0 ? opts->workers : 4;
        s->qcap = opts->queue_size > 0 ? (size_t)opts->queue_size : 64;
        s->queue = calloc(s->qcap, sizeof *s->queue);
        s->workers = calloc((size_t)n, sizeof *s->workers);
        if (!s->queue || !s->workers) {
            rc = sk__fail(-ENOMEM, "server open: pool");
            goto fail;
        }
        for (int i = 0; i < n; i++)
            if (pthread_create(&s->workers[i], NULL, pool_main, s) != 0) {
                s->o.workers = i;
                sk_server_close(s);
                return sk__fail(-EAGAIN, "server open: pool thread %d", i);
            }
        s->o.workers = n;
    }
    *out = s;
    return 0;
fail:
    if (s->fd >= 0)
        sk_close(s->fd);
    if (s->wake[0] >= 0) {
        close(s->wake[0]);
        close(s->wake[1]);
    }
    if (s->reserve_fd >= 0)
        close(s->reserve_fd);
    close_events(s);
    if (!s->c)
        s->c = mmap(NULL, sizeof *s->c, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unref(s);
    return rc;
}

int sk_server_serve_forever(sk_server *srv, int poll_interval_ms)
{
    int interval = poll_interval_ms > 0 ? poll_interval_ms : 500;
    pthread_mutex_lock(&srv->lock);
    srv->serving = true;
    pthread_mutex_unlock(&srv->lock);
    if (!srv->ev) { /* serving again after a drain: input flows again */
        lower_flag(&srv->c->halted, srv->halt_fd);
        lower_flag(&srv->c->cut, srv->cut_fd);
    }
    if (srv->ev)
        sk__event_serve(srv->ev, srv->wake[0], &srv->stop, interval);
    while (!srv->ev && !atomic_load(&srv->stop)) {
        int r = wait_ready(srv, interval);
        if (r == 1)
            take_one(srv); /* a failing accept is retried next round; EMFILE is refused above */
        else if (r < 0 && r != -ETIMEDOUT)
            break;
    }
    pthread_mutex_lock(&srv->lock);
    atomic_store(&srv->stop, false); /* as Python: a later serve_forever serves again */
    srv->serving = false;
    pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->lock);
    return 0;
}

int sk_server_handle_request(sk_server *srv, int timeout_ms)
{
    if (srv->ev)
        return sk__fail(SK_EARG, "server handle_request: the event model serves with "
                                 "serve_forever");
    int64_t deadline = sk__deadline(timeout_ms);
    for (;;) {
        int r = wait_ready(srv, sk__remaining(deadline));
        if (r == 1) {
            int rc = take_one(srv);
            if (rc != 0)
                return rc < 0 ? sk__fail(rc, "server handle_request") : 1;
        } else if (r == -ETIMEDOUT || sk__remaining(deadline) == 0) {
            if (srv->o.on_timeout)
                srv->o.on_timeout(srv, srv->o.user);
            return 0;
        } else if (r < 0) {
            return sk__fail(r, "server handle_request");
        }
    }
}

void sk_server_shutdown_request(sk_server *srv)
{
    /* async-signal-safe: atomic stores and write(2)s */
    atomic_store(&srv->stop, true);
    /* The iterative model runs the request inside serve_forever: its input ends now, or a client
     * that sends nothing would keep serve_forever (and so the drain) waiting forever. */
    if (srv->o.model == SK_MODEL_ITERATIVE)
        raise_flag(&srv->c->halted, srv->halt_fd);
    wake(srv);
}

void sk_server_shutdown(sk_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    bool serving = srv->serving;
    pthread_mutex_unlock(&srv->lock);
    if (!serving)
        return;
    sk_server_shutdown_request(srv);
    pthread_mutex_lock(&srv->lock);
    while (srv->serving)
        pthread_cond_wait(&srv->cond, &srv->lock);
    pthread_mutex_unlock(&srv->lock);
}

/* Wait until no request is active or the deadline passes; true if none is. */
static bool wait_idle(sk_server *srv, int64_t deadline)
{
    while (atomic_load(&srv->c->active) > 0 && sk__remaining(deadline) != 0) {
        if (srv->o.model == SK_MODEL_FORK)
            reap(srv, false);
        poll(NULL, 0, 10);
    }
    if (srv->o.model == SK_MODEL_FORK)
        reap(srv, false);
    return atomic_load(&srv->c->active) == 0;
}

static void shutdown_conns(sk_server *srv, int how)
{
    pthread_mutex_lock(&srv->lock);
    for (size_t i = 0; i < srv->nconns; i++)
        shutdown(srv->conns[i], how);
    pthread_mutex_unlock(&srv->lock);
}

static void signal_children(sk_server *srv, int sig)
{
    pthread_mutex_lock(&srv->lock);
    for (size_t i = 0; i < srv->nchildren; i++)
        kill(srv->children[i], sig);
    pthread_mutex_unlock(&srv->lock);
}

int sk_server_drain(sk_server *srv, int deadline_ms)
{
    if (srv->ev)
        return sk__event_drain(srv->ev, deadline_ms);
    int64_t deadline = sk__deadline(deadline_ms);
    /* No more input: handlers answer what they have read and return (forked children too: the
     * flag and its eventfd are shared). */
    raise_flag(&srv->c->halted, srv->halt_fd);
    if (wait_idle(srv, deadline))
        return 0;
    /* What still runs is cut off: request I/O blocked in sk_request_* gives up, and every handler
     * that returns from now on resets its connection (run_job); children get SIGTERM (default
     * action: see child_signals). */
    raise_flag(&srv->c->cut, srv->cut_fd);
    int cut = 0;
    pthread_mutex_lock(&srv->lock);
    cut = (int)(srv->nconns + srv->nchildren);
    pthread_mutex_unlock(&srv->lock);
    signal_children(srv, SIGTERM);
    /* A handler blocked on its fd itself: reading, it wakes at SHUT_RD (no FIN is sent); sending
     * (to a client that does not read) only at SHUT_WR, whose FIN waits behind the unsent data
     * while the handler wakes and resets the connection. */
    shutdown_conns(srv, SHUT_RD);
    if (!wait_idle(srv, sk__deadline(100)))
        shutdown_conns(srv, SHUT_RDWR);
    if (!wait_idle(srv, sk__deadline(2000)) && srv->o.model == SK_MODEL_FORK) {
        signal_children(srv, SIGKILL); /* a child that blocks or ignores SIGTERM */
        wait_idle(srv, sk__deadline(1000));
    }
    return cut;
}

void sk_server_close(sk_server *srv)
{
    if (!srv)
        return;
    atomic_store(&srv->stop, true);
    if (srv->workers) {
        pthread_mutex_lock(&srv->lock);
        srv->quit = true;
        pthread_cond_broadcast(&srv->cond);
        pthread_mutex_unlock(&srv->lock);
        for (int i = 0; i < srv->o.workers; i++)
            pthread_join(srv->workers[i], NULL);
    }
    bool wait = !srv->o.no_block_on_close && !srv->o.daemon_threads;
    pthread_mutex_lock(&srv->lock);
    while (wait && srv->threads > 0)
        pthread_cond_wait(&srv->cond, &srv->lock);
    pthread_mutex_unlock(&srv->lock);
    /* As Python's ForkingMixIn.server_close: wait for the children unless told not to; then reap
     * only those already done and leave the rest running (this used to spin until they ended). */
    if (srv->o.model == SK_MODEL_FORK && srv->o.no_block_on_close)
        reap(srv, false);
    else if (srv->o.model == SK_MODEL_FORK)
        while (srv->nchildren)
            reap(srv, true);
    if (srv->fd >= 0)
        sk_close(srv->fd);
    srv->fd = -1;
    sk__event_close(srv->ev);
    if (srv->unix_path[0])
        unlink(srv->unix_path);
    close(srv->wake[0]);
    close(srv->wake[1]);
    if (srv->reserve_fd >= 0)
        close(srv->reserve_fd);
    close_events(srv);
    unref(srv);
}

int sk_server_fd(const sk_server *srv)
{
    return srv->ev ? sk__event_fd(srv->ev) : srv->fd;
}

int sk_server_addr(const sk_server *srv, sk_addr *out)
{
    return sk_local_addr(sk_server_fd(srv), out);
}

int sk_server_workers(const sk_server *srv)
{
    return srv->o.model == SK_MODEL_POOL || srv->o.model == SK_MODEL_EVENT ? srv->o.workers : 0;
}

void sk_server_stats_get(const sk_server *srv, sk_server_stats *out)
{
    if (srv->ev) {
        sk__event_stats(srv->ev, out);
        return;
    }
    out->accepted = atomic_load(&srv->c->accepted);
    out->active = atomic_load(&srv->c->active);
    out->rejected = atomic_load(&srv->c->rejected);
    out->errors = atomic_load(&srv->c->errors);
    out->bytes_in = atomic_load(&srv->c->bytes_in);
    out->bytes_out = atomic_load(&srv->c->bytes_out);
}

/* ---- request I/O --------------------------------------------------------------------------- */

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
    if (!sk_reader_buffered(req->reader)) { /* buffered bytes are read already: they are served */
        int w = wait_input(req, sk__deadline(req->idle_timeout_ms));
        if (w == 0)
            return 0; /* halted: end of input */
        if (w < 0)
            return sk__fail(w, "request recv fd %d", req->fd);
    }
    ssize_t n = sk_reader_some(req->reader, buf, cap, req->idle_timeout_ms);
    if (n > 0)
        atomic_fetch_add(&req->server->c->bytes_in, (uint64_t)n);
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
            atomic_fetch_add(&req->server->c->bytes_in, (uint64_t)n + 1);
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
static int send_stream(sk_request *req, const char *buf, size_t len, size_t *sent)
{
    sk_server *s = req->server;
    int timeout = send_timeout(s);
    size_t done = 0;
    int rc = 0;
    while (done < len && !rc) {
        ssize_t n = send(req->fd, buf + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            sk__trace_data(req->fd, '>', NULL, buf + done, (size_t)n);
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
        abort_conn(req->fd);
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
        atomic_fetch_add(&req->server->c->bytes_out, (uint64_t)n);
        return 0;
    }
    size_t sent = 0;
    int rc = send_stream(req, buf, len, &sent);
    atomic_fetch_add(&req->server->c->bytes_out, (uint64_t)sent);
    return rc;
}
