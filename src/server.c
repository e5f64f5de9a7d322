/* socketserver: the public functions of sk_server. Each checks and does the part every model
 * shares (the counters, the wakeup pipe, the listener, the serving flag) and calls the model's
 * table (server_core.h) for the rest. */
#include "server_core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const struct sk__server_model *const models[] = {
    [SK_MODEL_ITERATIVE] = &sk__model_iterative, [SK_MODEL_THREAD] = &sk__model_thread,
    [SK_MODEL_FORK] = &sk__model_fork,           [SK_MODEL_POOL] = &sk__model_pool,
    [SK_MODEL_EVENT] = &sk__model_event,
};

/* ---- lifetime ------------------------------------------------------------------------------ */

void sk__server_ref(sk_server *s)
{
    atomic_fetch_add(&s->refs, 1);
}

/* The last reference (sk_server_close, or a daemon handler thread that outlived it) frees. */
void sk__server_unref(sk_server *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    if (s->halt_fd >= 0)
        close(s->halt_fd);
    if (s->cut_fd >= 0)
        close(s->cut_fd);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    if (s->c)
        munmap(s->c, sizeof *s->c);
    free(s->conns);
    free(s);
}

void sk__server_wake(sk_server *s)
{
    int saved = errno; /* async-signal-safe: a write(2) */
    ssize_t ignored = write(s->wake[1], "x", 1);
    (void)ignored;
    errno = saved;
}

bool sk__grow(void **arr, size_t *cap, size_t need, size_t elem)
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

/* ---- open and close ------------------------------------------------------------------------ */

static int check_opts(const sk_server_opts *o)
{
    if (!o->endpoint && !o->parsed)
        return sk__fail(SK_EARG, "server open: an endpoint is required");
    if (o->model > SK_MODEL_EVENT || (int)o->model < 0)
        return sk__fail(SK_EARG, "server open: unknown model %d", (int)o->model);
    if (o->model == SK_MODEL_EVENT ? !o->events : !o->handle)
        return sk__fail(SK_EARG, "server open: the %s model needs opts.%s",
                        o->model == SK_MODEL_EVENT ? "event" : "blocking",
                        o->model == SK_MODEL_EVENT ? "events" : "handle");
    if (o->tls && o->type == SOCK_DGRAM)
        return sk__fail(SK_EARG, "server open: TLS serves streams (DTLS is not supported)");
    return 0;
}

/* The fields' documented defaults, so the models read one value. */
static void apply_defaults(sk_server *s)
{
    if (!s->o.type)
        s->o.type = SOCK_STREAM;
    if (!s->o.drain_grace_ms)
        s->o.drain_grace_ms = SK_DRAIN_GRACE_DEFAULT_MS;
    s->type = s->o.type;
}

/* A Unix socket file the server created: removed at close. */
static void note_unix_path(sk_server *s)
{
    sk_addr a;
    if (sk_sock_get_local_addr(sk_server_fd(s), &a) == 0 && a.u.sa.sa_family == AF_UNIX &&
        a.u.un.sun_path[0])
        memcpy(s->unix_path, a.u.un.sun_path, sizeof s->unix_path);
}

/* Everything but the model's state; sk_server_close and the failure path of open undo it. */
static int open_common(sk_server *s)
{
    s->c = mmap(NULL, sizeof *s->c, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s->c == MAP_FAILED) {
        s->c = NULL;
        return sk__fail_errno("server open: counters");
    }
    if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        s->wake[0] = s->wake[1] = -1;
        return sk__fail_errno("server open: wakeup pipe");
    }
    int rc = 0;
    if (s->o.parsed)
        s->ep = *s->o.parsed; /* the caller's copy may go once open returns */
    else if ((rc = sk_endpoint_parse(s->o.endpoint, &s->ep)) < 0)
        return rc;
    if (!s->m->own_listener && (rc = s->fd = sk__server_listen(s, NULL, false)) < 0)
        return rc;
    return 0;
}

/* Undo open_common, and the model's part if it has one. */
static void close_all(sk_server *s)
{
    if (s->m->close)
        s->m->close(s);
    if (s->fd >= 0)
        sk_close(s->fd);
    s->fd = -1;
    if (s->unix_path[0])
        unlink(s->unix_path);
    if (s->wake[0] >= 0) {
        close(s->wake[0]);
        close(s->wake[1]);
    }
    sk__acceptor_free(&s->acc);
    sk__server_unref(s);
}

int sk_server_open(sk_server **out, const sk_server_opts *opts)
{
    if (!out || !opts)
        return sk__fail(SK_EARG, "server open: no options");
    sk_server_opts o;
    int rc = sk__opts_load(&o, sizeof o, opts, "server open: opts");
    if (rc < 0 || (rc = check_opts(&o)) < 0)
        return rc;
    sk_server *s = calloc(1, sizeof *s);
    if (!s)
        return sk__fail(-ENOMEM, "server open");
    s->o = o;
    apply_defaults(s);
    s->m = models[o.model];
    s->fd = s->wake[0] = s->wake[1] = s->halt_fd = s->cut_fd = -1;
    atomic_init(&s->refs, 1);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    sk__acceptor_init(&s->acc);
    if ((rc = open_common(s)) < 0 || (rc = s->m->open(s)) < 0) {
        close_all(s);
        return rc;
    }
    note_unix_path(s);
    *out = s;
    return 0;
}

void sk_server_close(sk_server *srv)
{
    if (!srv)
        return;
    atomic_store(&srv->stop, true);
    close_all(srv);
}

/* ---- serving ------------------------------------------------------------------------------- */

static void set_serving(sk_server *s, bool on)
{
    pthread_mutex_lock(&s->lock);
    if (!on)
        atomic_store(&s->stop, false); /* as Python: a later serve_forever serves again */
    s->serving = on;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

int sk_server_serve_forever(sk_server *srv, int poll_interval_ms)
{
    int interval = poll_interval_ms > 0 ? poll_interval_ms : 500;
    set_serving(srv, true);
    int rc = srv->m->serve(srv, interval);
    set_serving(srv, false);
    return rc;
}

int sk_server_handle_request(sk_server *srv, int timeout_ms)
{
    if (!srv->m->handle_request)
        return sk__fail(SK_EARG, "server handle_request: the %s model serves with serve_forever",
                        srv->m->name);
    return srv->m->handle_request(srv, timeout_ms);
}

void sk_server_shutdown_request(sk_server *srv)
{
    /* async-signal-safe: atomic stores and write(2)s */
    atomic_store(&srv->stop, true);
    if (srv->m->stop)
        srv->m->stop(srv);
    sk__server_wake(srv);
}

/* Asked before serve_forever began (its thread just started), the request stays: that
 * serve_forever returns at once, as Python's does. Only asking when serving (as this did) lost it,
 * and a thread that joined the serving thread next waited forever. */
void sk_server_shutdown(sk_server *srv)
{
    sk_server_shutdown_request(srv);
    pthread_mutex_lock(&srv->lock);
    while (srv->serving)
        pthread_cond_wait(&srv->cond, &srv->lock);
    pthread_mutex_unlock(&srv->lock);
}

int sk_server_drain(sk_server *srv, int deadline_ms)
{
    return srv->m->drain(srv, deadline_ms);
}

/* ---- looking ------------------------------------------------------------------------------- */

int sk_server_fd(const sk_server *srv)
{
    return srv->m->fd ? srv->m->fd(srv) : srv->fd;
}

int sk_server_get_addr(const sk_server *srv, sk_addr *out)
{
    return sk_sock_get_local_addr(sk_server_fd(srv), out);
}

int sk_server_workers(const sk_server *srv)
{
    return srv->workers;
}

const char *sk_server_backend(const sk_server *srv, const char **why)
{
    if (why)
        *why = srv->loop ? sk_loop_backend_why(srv->loop) : NULL;
    return srv->loop ? sk_loop_backend_name(srv->loop) : NULL;
}

int sk_server_get_stats(const sk_server *srv, sk_server_stats *out)
{
    const struct sk__counters *n = &srv->c->n;
    sk_server_stats st = {.size = sizeof st,
                          .accepted = atomic_load(&n->accepted),
                          .active = atomic_load(&srv->c->active),
                          .rejected = atomic_load(&n->rejected),
                          .errors = atomic_load(&n->errors),
                          .bytes_in = atomic_load(&n->bytes_in),
                          .bytes_out = atomic_load(&n->bytes_out)};
    if (srv->m->stats)
        srv->m->stats(srv, &st);
    return sk__result_store(out, &st, sizeof st, "server stats");
}
