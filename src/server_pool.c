/* The pool model: a fixed set of worker threads fed by a bounded queue of requests. The serving
 * thread accepts only while the queue has room, so a full pool leaves new clients in the kernel's
 * backlog and the serving thread stays where a shutdown reaches it. */
#include "server_core.h"

#include <errno.h>
#include <stdlib.h>

struct pool {
    pthread_t *workers;
    int n; /* started */
    struct sk__job *queue;
    size_t head, len, cap;
    bool quit;
};

static void *pool_main(void *arg)
{
    sk_server *s = arg;
    struct pool *p = s->model;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!p->len && !p->quit)
            pthread_cond_wait(&s->cond, &s->lock);
        if (!p->len && p->quit)
            break;
        bool was_full = p->len == p->cap;
        struct sk__job j = p->queue[p->head];
        p->head = (p->head + 1) % p->cap;
        p->len--;
        pthread_mutex_unlock(&s->lock);
        if (was_full)
            sk__server_wake(s); /* the serving thread accepts again */
        sk__blocking_run(s, &j, true);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Stop the workers once the queue is empty, and free the pool. */
static void pool_close(sk_server *s)
{
    struct pool *p = s->model;
    if (!p)
        return;
    pthread_mutex_lock(&s->lock);
    p->quit = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    for (int i = 0; i < p->n; i++)
        pthread_join(p->workers[i], NULL);
    free(p->workers);
    free(p->queue);
    free(p);
    s->model = NULL;
}

static int pool_open(sk_server *s)
{
    int rc = sk__blocking_open(s);
    if (rc < 0)
        return rc;
    int n = s->o.workers > 0 ? s->o.workers : SK_POOL_WORKERS_DEFAULT;
    struct pool *p = calloc(1, sizeof *p);
    if (!p)
        return sk__fail(-ENOMEM, "server open: pool");
    s->model = p;
    p->cap = s->o.queue_size > 0 ? (size_t)s->o.queue_size : SK_POOL_QUEUE_DEFAULT;
    p->queue = calloc(p->cap, sizeof *p->queue);
    p->workers = calloc((size_t)n, sizeof *p->workers);
    if (!p->queue || !p->workers) {
        pool_close(s);
        return sk__fail(-ENOMEM, "server open: pool");
    }
    for (; p->n < n; p->n++)
        if (pthread_create(&p->workers[p->n], NULL, pool_main, s) != 0) {
            rc = sk__fail(-EAGAIN, "server open: pool thread %d", p->n);
            pool_close(s);
            return rc;
        }
    s->workers = n;
    return 0;
}

static bool pool_has_room(sk_server *s)
{
    struct pool *p = s->model;
    pthread_mutex_lock(&s->lock);
    bool room = p->len < p->cap;
    pthread_mutex_unlock(&s->lock);
    return room;
}

static void pool_dispatch(sk_server *s, struct sk__job *j)
{
    struct pool *p = s->model;
    pthread_mutex_lock(&s->lock);
    if (p->len == p->cap) { /* not after has_room; but never drop a request */
        pthread_mutex_unlock(&s->lock);
        sk__blocking_run(s, j, true);
        return;
    }
    p->queue[(p->head + p->len++) % p->cap] = *j;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

const struct sk__server_model sk__model_pool = {
    .name = "pool",
    .blocking = true,
    .open = pool_open,
    .serve = sk__blocking_serve,
    .handle_request = sk__blocking_handle_request,
    .drain = sk__blocking_drain,
    .close = pool_close,
    .has_room = pool_has_room,
    .dispatch = pool_dispatch,
};
