/* The thread model (ThreadingMixIn): a detached thread per request. Each holds a reference on the
 * server, so a daemon thread that outlives sk_server_close never touches freed memory. */
#include "server_core.h"

#include <stdlib.h>

struct thread_job {
    struct sk__job job;
    sk_server *server;
};

static int thread_open(sk_server *s)
{
    return sk__blocking_open(s);
}

static void *thread_main(void *arg)
{
    struct thread_job *t = arg;
    sk_server *s = t->server;
    sk__blocking_run(s, &t->job, true);
    free(t);
    pthread_mutex_lock(&s->lock);
    s->threads--;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    sk__server_unref(s);
    return NULL;
}

static bool start_thread(sk_server *s, struct sk__job *j)
{
    struct thread_job *t = malloc(sizeof *t);
    if (!t)
        return false;
    *t = (struct thread_job){*j, s};
    sk__server_ref(s);
    pthread_mutex_lock(&s->lock);
    s->threads++;
    pthread_mutex_unlock(&s->lock);
    pthread_t id;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&id, &attr, thread_main, t);
    pthread_attr_destroy(&attr);
    if (rc == 0)
        return true;
    pthread_mutex_lock(&s->lock);
    s->threads--;
    pthread_mutex_unlock(&s->lock);
    sk__server_unref(s);
    free(t);
    return false;
}

static void thread_dispatch(sk_server *s, struct sk__job *j)
{
    if (!start_thread(s, j))
        sk__blocking_run(s, j, true); /* no thread: serve it here rather than drop it */
}

/* block_on_close: wait for the handler threads, unless daemon_threads / no_block_on_close. */
static void thread_close(sk_server *s)
{
    if (s->o.no_block_on_close || s->o.daemon_threads)
        return;
    pthread_mutex_lock(&s->lock);
    while (s->threads > 0)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

const struct sk__server_model sk__model_thread = {
    .name = "thread",
    .blocking = true,
    .open = thread_open,
    .serve = sk__blocking_serve,
    .handle_request = sk__blocking_handle_request,
    .drain = sk__blocking_drain,
    .close = thread_close,
    .dispatch = thread_dispatch,
};
