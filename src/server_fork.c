/* The fork model (ForkingMixIn): a child process per request, at most max_children at once;
 * children are reaped as they end. The counters and the halt/cut flags live in a shared mapping
 * (server_core.h), so children count and stop too. */
#include "server_core.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

struct children {
    pid_t *pid;
    size_t n, cap;
};

static int fork_open(sk_server *s)
{
    int rc = sk__blocking_open(s);
    if (rc < 0)
        return rc;
    if (!(s->model = calloc(1, sizeof(struct children))))
        return sk__fail(-ENOMEM, "server open: fork");
    return 0;
}

static void fork_reap(sk_server *s, bool block)
{
    struct children *c = s->model;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < c->n;) {
        int st;
        pid_t r = waitpid(c->pid[i], &st, block ? 0 : WNOHANG);
        if (r == c->pid[i] || (r < 0 && errno == ECHILD)) {
            c->pid[i] = c->pid[--c->n];
            sk__release(s);
            block = false;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        i++;
    }
    pthread_mutex_unlock(&s->lock);
}

static int fork_signal(sk_server *s, int sig)
{
    struct children *c = s->model;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; sig && i < c->n; i++)
        kill(c->pid[i], sig);
    int n = (int)c->n;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static int max_children(const sk_server *s)
{
    return s->o.max_children > 0 ? s->o.max_children : SK_FORK_MAX_CHILDREN_DEFAULT;
}

static bool fork_has_room(sk_server *s)
{
    fork_reap(s, false);
    return ((struct children *)s->model)->n < (size_t)max_children(s);
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

/* The serving loop accepts only while there is room (fork_has_room), so this never waits. */
static void fork_dispatch(sk_server *s, struct sk__job *j)
{
    struct children *c = s->model;
    pthread_mutex_lock(&s->lock);
    bool room = sk__grow((void **)&c->pid, &c->cap, c->n + 1, sizeof *c->pid);
    pthread_mutex_unlock(&s->lock);
    pid_t pid = room ? fork() : -1;
    if (pid == 0) {
        child_signals();
        /* The child: the server socket is not its to use (but a datagram reply goes through it). */
        if (s->type == SOCK_STREAM)
            close(s->fd);
        sk__blocking_run(s, j, false);
        _exit(0);
    }
    if (pid < 0) {
        sk__fail_errno("fork");
        sk__blocking_drop(s, j);
        return;
    }
    pthread_mutex_lock(&s->lock);
    c->pid[c->n++] = pid;
    pthread_mutex_unlock(&s->lock);
    if (s->type == SOCK_STREAM) {
        sk__blocking_forget(s, j->fd);
        close(j->fd); /* the child has it; not traced as a close of the connection */
    }
    free(j->data);
}

/* Wait for every child (block_on_close); with no_block_on_close reap only those that ended. */
static void fork_close(sk_server *s)
{
    struct children *c = s->model;
    if (!c)
        return;
    fork_reap(s, false);
    while (c->n && !s->o.no_block_on_close)
        fork_reap(s, true);
    free(c->pid);
    free(c);
    s->model = NULL;
}

const struct sk__server_model sk__model_fork = {
    .name = "fork",
    .blocking = true,
    .open = fork_open,
    .serve = sk__blocking_serve,
    .handle_request = sk__blocking_handle_request,
    .drain = sk__blocking_drain,
    .close = fork_close,
    .has_room = fork_has_room,
    .dispatch = fork_dispatch,
    .reap = fork_reap,
    .signal = fork_signal,
};
