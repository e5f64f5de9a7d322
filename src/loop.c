/* The event loop: watchers in a table indexed by fd, timers in a binary heap, posts from other
 * threads through an eventfd, signals through a signalfd; the backend (epoll, poll or io_uring)
 * only reports which fds are ready.
 *
 * Each watcher carries a generation, handed to the backend with the fd: an event collected for an
 * fd that was unwatched (or unwatched and watched again) during the same iteration is dropped.
 * Timers are slots in an array, referenced from the heap by index; a timer's id is its slot and
 * the slot's generation, so cancelling is O(log n) and a stale id is recognized. */
#include "internal.h"
#include "loop_backend.h"
#include "loop_ops.h"
#include "sockkit/loop.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct watcher {
    sk_io_fn fn;
    void *arg;
    int events;    /* what the backend waits for; 0: nothing (not registered with it) */
    uint32_t gen;  /* bumped whenever the events change and at unwatch */
    bool internal; /* the loop's own eventfd / signalfd: does not keep run() alive */
};

struct timer {
    uint64_t due, order;
    int repeat;
    sk_timer_fn fn;
    void *arg;
    uint32_t gen;
    int heap; /* index in the heap, -1 when not pending */
};

struct post {
    sk_post_fn fn;
    void *arg;
};

struct sk_loop {
    const struct sk__loop_backend *be;
    void *bstate;
    struct watcher *w;
    size_t nw;
    int active; /* user watchers waiting for events */

    struct timer *t; /* slots */
    size_t nt, capt;
    uint32_t *heap; /* slot numbers, min-heap by (due, order) */
    size_t nheap;
    uint32_t *free_slots;
    size_t nfree;
    uint64_t order;

    int wake; /* eventfd */
    pthread_mutex_t plock;
    struct post *posts, *running;
    size_t nposts, cap_posts, cap_running;
    atomic_bool stop;

    int sigfd;
    sigset_t sigs;
    sk_signal_fn sigfn[NSIG];
    void *sigarg[NSIG];
    int nsignals;

    uint64_t now;
    char why[96]; /* why the backend asked for is not the one running ("" when it is) */
};

/* ---- watchers ------------------------------------------------------------------------------ */

static int grow_watchers(sk_loop *l, int fd)
{
    if ((size_t)fd < l->nw)
        return 0;
    size_t n = l->nw ? l->nw : 64;
    while (n <= (size_t)fd)
        n *= 2;
    struct watcher *w = realloc(l->w, n * sizeof *w);
    if (!w)
        return -ENOMEM;
    memset(w + l->nw, 0, (n - l->nw) * sizeof *w);
    l->w = w;
    l->nw = n;
    return 0;
}

static int watch(sk_loop *l, int fd, int events, sk_io_fn fn, void *arg, bool internal)
{
    if (fd < 0 || !fn || (events & ~(SK_READABLE | SK_WRITABLE)))
        return sk__fail(SK_EARG, "loop watch fd %d", fd);
    int rc = grow_watchers(l, fd);
    if (rc < 0)
        return sk__fail(rc, "loop watch fd %d", fd);
    struct watcher *w = &l->w[fd];
    int old = w->events;
    if (old != events) {
        uint32_t gen = w->gen + 1;
        if ((rc = l->be->set(l->bstate, fd, old, events, gen)) < 0)
            return sk__fail(rc, "loop watch fd %d (%s)", fd, l->be->name);
        w->gen = gen;
    }
    if (!internal) /* the loop's own fds do not keep sk_loop_run going */
        l->active += (events != 0) - (old != 0);
    *w = (struct watcher){fn, arg, events, w->gen, internal};
    return 0;
}

int sk_loop_watch(sk_loop *l, int fd, int events, sk_io_fn fn, void *arg)
{
    return watch(l, fd, events, fn, arg, false);
}

int sk_loop_unwatch(sk_loop *l, int fd)
{
    if (fd < 0 || (size_t)fd >= l->nw || !l->w[fd].fn)
        return sk__fail(SK_EARG, "loop unwatch fd %d: not watched", fd);
    struct watcher *w = &l->w[fd];
    if (w->events)
        l->be->set(l->bstate, fd, w->events, 0, 0);
    if (w->events && !w->internal)
        l->active--;
    uint32_t gen = w->gen + 1; /* events already collected for it are dropped */
    *w = (struct watcher){.gen = gen};
    return 0;
}

void sk__loop_unwatch_closing(sk_loop *l, int fd)
{
    if (!l->be->close_unwatches || fd < 0 || (size_t)fd >= l->nw || !l->w[fd].fn) {
        sk_loop_unwatch(l, fd);
        return;
    }
    /* epoll drops the fd at its close (HAProxy's fd_delete relies on the same): one epoll_ctl
     * less per connection. Should the fd live on in a dup, its stale registration reports
     * events with the old generation, which the dispatch drops. */
    struct watcher *w = &l->w[fd];
    if (w->events && !w->internal)
        l->active--;
    *w = (struct watcher){.gen = w->gen + 1};
}

/* ---- timers -------------------------------------------------------------------------------- */

/* A timer's id is its slot's generation (31 bits, never 0) above the slot number: always > 0 as
 * an int64_t, and a stale id (its slot reused since) does not match. */
static uint32_t next_gen(uint32_t gen)
{
    gen = (gen + 1) & 0x7fffffff;
    return gen ? gen : 1;
}

static int64_t timer_id(uint32_t gen, uint32_t slot)
{
    return (int64_t)((uint64_t)gen << 32 | slot);
}

static bool earlier(const sk_loop *l, uint32_t a, uint32_t b)
{
    const struct timer *x = &l->t[a], *y = &l->t[b];
    return x->due < y->due || (x->due == y->due && x->order < y->order);
}

static void heap_place(sk_loop *l, size_t i, uint32_t slot)
{
    l->heap[i] = slot;
    l->t[slot].heap = (int)i;
}

static void sift_up(sk_loop *l, size_t i)
{
    uint32_t s = l->heap[i];
    while (i > 0 && earlier(l, s, l->heap[(i - 1) / 2])) {
        heap_place(l, i, l->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_place(l, i, s);
}

static void sift_down(sk_loop *l, size_t i)
{
    uint32_t s = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->nheap)
            break;
        if (c + 1 < l->nheap && earlier(l, l->heap[c + 1], l->heap[c]))
            c++;
        if (!earlier(l, l->heap[c], s))
            break;
        heap_place(l, i, l->heap[c]);
        i = c;
    }
    heap_place(l, i, s);
}

static void heap_remove(sk_loop *l, size_t i)
{
    l->t[l->heap[i]].heap = -1;
    if (i != --l->nheap) {
        heap_place(l, i, l->heap[l->nheap]);
        sift_down(l, i);
        sift_up(l, (size_t)l->t[l->heap[i]].heap);
    }
}

static void heap_push(sk_loop *l, uint32_t slot)
{
    l->heap[l->nheap++] = slot;
    sift_up(l, l->nheap - 1);
}

int64_t sk_loop_timer(sk_loop *l, int after_ms, int repeat_ms, sk_timer_fn fn, void *arg)
{
    if (!fn || after_ms < 0 || repeat_ms < 0)
        return sk__fail(SK_EARG, "loop timer %d/%d ms", after_ms, repeat_ms);
    uint32_t slot;
    if (l->nfree) {
        slot = l->free_slots[--l->nfree];
    } else {
        if (l->nt == l->capt) {
            size_t c = l->capt ? l->capt * 2 : 64;
            struct timer *t = realloc(l->t, c * sizeof *t);
            uint32_t *h = t ? realloc(l->heap, c * sizeof *h) : NULL;
            uint32_t *f = h ? realloc(l->free_slots, c * sizeof *f) : NULL;
            if (t)
                l->t = t;
            if (h)
                l->heap = h;
            if (f)
                l->free_slots = f;
            if (!f)
                return sk__fail(-ENOMEM, "loop timer");
            l->capt = c;
        }
        slot = (uint32_t)l->nt++;
        l->t[slot].gen = 0;
    }
    struct timer *t = &l->t[slot];
    *t = (struct timer){.due = l->now + (uint64_t)after_ms,
                        .order = ++l->order,
                        .repeat = repeat_ms,
                        .fn = fn,
                        .arg = arg,
                        .gen = next_gen(t->gen),
                        .heap = -1};
    heap_push(l, slot);
    return timer_id(t->gen, slot);
}

static struct timer *timer_of(sk_loop *l, int64_t id, uint32_t *slot)
{
    *slot = (uint32_t)id;
    if (id <= 0 || *slot >= l->nt || l->t[*slot].gen != (uint32_t)(id >> 32) ||
        l->t[*slot].heap < 0)
        return NULL;
    return &l->t[*slot];
}

static void release_slot(sk_loop *l, uint32_t slot)
{
    l->t[slot].gen = next_gen(l->t[slot].gen); /* the old id no longer matches */
    l->free_slots[l->nfree++] = slot;
}

int sk_loop_cancel(sk_loop *l, int64_t id)
{
    uint32_t slot;
    struct timer *t = timer_of(l, id, &slot);
    if (!t)
        return sk__fail(SK_EARG, "loop cancel: timer %lld is not pending", (long long)id);
    heap_remove(l, (size_t)t->heap);
    release_slot(l, slot);
    return 0;
}

/* Fire every timer due by now. A repeating timer is put back before its callback runs, so the
 * callback may cancel it. */
static int run_timers(sk_loop *l)
{
    int ran = 0;
    while (l->nheap && l->t[l->heap[0]].due <= l->now) {
        uint32_t slot = l->heap[0];
        struct timer *t = &l->t[slot];
        int64_t id = timer_id(t->gen, slot);
        sk_timer_fn fn = t->fn;
        void *arg = t->arg;
        heap_remove(l, 0);
        if (t->repeat > 0) {
            t->due += (uint64_t)t->repeat;
            if (t->due <= l->now) /* fell behind: the next one from now, not a burst */
                t->due = l->now + (uint64_t)t->repeat;
            t->order = ++l->order;
            heap_push(l, slot);
        } else {
            release_slot(l, slot);
        }
        fn(l, id, arg);
        ran++;
    }
    return ran;
}

/* ---- posts, stop, signals ------------------------------------------------------------------ */

static void wake(sk_loop *l)
{
    uint64_t one = 1;
    ssize_t ignored = write(l->wake, &one, sizeof one);
    (void)ignored;
}

int sk_loop_post(sk_loop *l, sk_post_fn fn, void *arg)
{
    if (!fn)
        return sk__fail(SK_EARG, "loop post: no function");
    pthread_mutex_lock(&l->plock);
    if (l->nposts == l->cap_posts) {
        size_t c = l->cap_posts ? l->cap_posts * 2 : 64;
        struct post *p = realloc(l->posts, c * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&l->plock);
            return sk__fail(-ENOMEM, "loop post");
        }
        l->posts = p;
        l->cap_posts = c;
    }
    bool was_empty = l->nposts == 0;
    l->posts[l->nposts++] = (struct post){fn, arg};
    pthread_mutex_unlock(&l->plock);
    if (was_empty) /* one wakeup per batch of posts */
        wake(l);
    return 0;
}

void sk_loop_stop(sk_loop *l)
{
    atomic_store(&l->stop, true);
    wake(l);
}

static void on_wake(sk_loop *l, int fd, int events, void *arg)
{
    uint64_t n;
    ssize_t ignored = read(fd, &n, sizeof n);
    (void)ignored;
    /* Take the whole queue, then run it unlocked: posts made meanwhile wait for the next turn. */
    pthread_mutex_lock(&l->plock);
    struct post *p = l->posts;
    size_t count = l->nposts, cap = l->cap_posts;
    l->posts = l->running; /* the two buffers change places */
    l->cap_posts = l->cap_running;
    l->nposts = 0;
    l->running = p;
    l->cap_running = cap;
    pthread_mutex_unlock(&l->plock);
    for (size_t i = 0; i < count; i++)
        p[i].fn(l, p[i].arg);
}

static void on_signal(sk_loop *l, int fd, int events, void *arg)
{
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si)
        if (si.ssi_signo < NSIG && l->sigfn[si.ssi_signo])
            l->sigfn[si.ssi_signo](l, (int)si.ssi_signo, l->sigarg[si.ssi_signo]);
}

int sk_loop_signal(sk_loop *l, int signo, sk_signal_fn fn, void *arg)
{
    if (signo <= 0 || signo >= NSIG || !fn)
        return sk__fail(SK_EARG, "loop signal %d", signo);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signo);
    pthread_sigmask(SIG_BLOCK, &one, NULL);
    sigaddset(&l->sigs, signo);
    int fd = signalfd(l->sigfd, &l->sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return sk__fail_errno("loop signal %d: signalfd", signo);
    if (l->sigfd < 0) {
        l->sigfd = fd;
        int rc = watch(l, fd, SK_READABLE, on_signal, NULL, true);
        if (rc < 0)
            return rc;
    }
    if (!l->sigfn[signo])
        l->nsignals++;
    l->sigfn[signo] = fn;
    l->sigarg[signo] = arg;
    return 0;
}

/* ---- running ------------------------------------------------------------------------------- */

static sk_loop_backend env_backend = SK_LOOP_EPOLL;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static bool env_no_ops;    /* SOCKKIT_URING_IO=poll: the io_uring loop offers readiness only */
static bool env_multishot; /* SOCKKIT_URING_IO=multishot: multishot receives (docs/loop.md) */
static bool env_valgrind;  /* run under valgrind: io_uring is not used (create_backend) */

static void read_env_backend(void)
{
    const char *env = getenv("SOCKKIT_LOOP_BACKEND");
    if (env && !strcmp(env, "poll"))
        env_backend = SK_LOOP_POLL;
    else if (env && !strcmp(env, "io_uring"))
        env_backend = SK_LOOP_URING;
    env = getenv("SOCKKIT_URING_IO");
    env_no_ops = env && !strcmp(env, "poll");
    env_multishot = env && !strcmp(env, "multishot");
    /* valgrind starts its tool's code in the program with LD_PRELOAD (vgpreload_*.so) */
    env = getenv("LD_PRELOAD");
    env_valgrind = env && strstr(env, "/vgpreload_");
}

unsigned sk__loop_bufs_out(sk_loop *l)
{
    return l->be->ops ? l->be->ops->bufs_out(l->bstate) : 0;
}

unsigned sk__loop_bufs_total(sk_loop *l)
{
    return l->be->ops ? l->be->ops->bufs_total(l->bstate) : 0;
}

bool sk__loop_multishot(void)
{
    pthread_once(&env_once, read_env_backend);
    return env_multishot;
}

const struct sk__loop_ops *sk__loop_ops(sk_loop *l, void **state)
{
    pthread_once(&env_once, read_env_backend);
    if (!l->be->ops || env_no_ops)
        return NULL;
    *state = l->bstate;
    return l->be->ops;
}

static const struct sk__loop_backend *backend_of(sk_loop_backend b)
{
    return b == SK_LOOP_POLL    ? &sk__loop_poll
           : b == SK_LOOP_URING ? &sk__loop_uring
                                : &sk__loop_epoll;
}

/* The backend's state; io_uring refused (or not built in) falls back to epoll, saying why.
 * Under valgrind too: valgrind (3.19 at least) makes io_uring_enter while it holds the lock that
 * lets one of the program's threads run at a time, with every signal blocked, so a loop waiting
 * for completions stops every other thread and SIGTERM, and the program hangs (docs/loop.md). */
static void *create_backend(sk_loop *l)
{
    pthread_once(&env_once, read_env_backend);
    bool skip = l->be == &sk__loop_uring && env_valgrind;
    void *st = l->be->create && !skip ? l->be->create() : NULL;
    if (st || l->be != &sk__loop_uring)
        return st;
    if (skip)
        snprintf(l->why, sizeof l->why,
                 "io_uring not used under valgrind: its io_uring waits stop the other threads");
    else if (!l->be->create)
        snprintf(l->why, sizeof l->why, "io_uring not built in: no liburing at build time");
    else
        snprintf(l->why, sizeof l->why, "io_uring refused: %s", sk_strerror(-errno));
    l->be = &sk__loop_epoll;
    return l->be->create();
}

int sk_loop_new(sk_loop **out, sk_loop_backend backend)
{
    if (backend == SK_LOOP_DEFAULT) {
        /* the environment is read once per process: getenv races with setenv in other threads */
        pthread_once(&env_once, read_env_backend);
        backend = env_backend;
    }
    if (backend != SK_LOOP_EPOLL && backend != SK_LOOP_POLL && backend != SK_LOOP_URING)
        return sk__fail(SK_EARG, "loop backend %d", backend);
    sk_loop *l = calloc(1, sizeof *l);
    if (!l)
        return sk__fail(-ENOMEM, "loop new");
    l->be = backend_of(backend);
    l->sigfd = -1;
    sigemptyset(&l->sigs);
    pthread_mutex_init(&l->plock, NULL);
    l->now = (uint64_t)sk__now_ms();
    l->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->wake < 0 || !(l->bstate = create_backend(l))) {
        int rc = sk__fail_errno("loop new (%s)", l->be->name);
        if (l->wake >= 0)
            close(l->wake);
        free(l);
        return rc < 0 ? rc : -ENOMEM;
    }
    int rc = watch(l, l->wake, SK_READABLE, on_wake, NULL, true);
    if (rc < 0) {
        sk_loop_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

void sk_loop_free(sk_loop *l)
{
    if (!l)
        return;
    l->be->destroy(l->bstate);
    close(l->wake);
    if (l->sigfd >= 0)
        close(l->sigfd);
    pthread_mutex_destroy(&l->plock);
    free(l->w);
    free(l->t);
    free(l->heap);
    free(l->free_slots);
    free(l->posts);
    free(l->running);
    free(l);
}

const char *sk_loop_backend_name(const sk_loop *l)
{
    return l->be->name;
}

const char *sk_loop_backend_why(const sk_loop *l)
{
    return l->why[0] ? l->why : NULL;
}

uint64_t sk_loop_now(const sk_loop *l)
{
    return l->now;
}

int sk_loop_run_once(sk_loop *l, int timeout_ms)
{
    l->now = (uint64_t)sk__now_ms();
    int wait = timeout_ms;
    if (l->nheap) {
        uint64_t due = l->t[l->heap[0]].due;
        int until = due <= l->now ? 0 : (int)(due - l->now > INT32_MAX ? INT32_MAX : due - l->now);
        if (wait < 0 || until < wait)
            wait = until;
    }
    struct sk__ready ready[SK__LOOP_READY_MAX];
    int n = l->be->wait(l->bstate, wait, ready, SK__LOOP_READY_MAX);
    if (n < 0)
        return sk__fail(n, "loop wait (%s)", l->be->name);
    l->now = (uint64_t)sk__now_ms();
    int ran = 0;
    /* completions (io_uring's receives and sends) first: connections that ended give their fds
     * back before a ready listener accepts (at EMFILE, a client that epoll's order would serve) */
    if (l->be->ops)
        ran += l->be->ops->complete(l->bstate, l);
    for (int i = 0; i < n; i++) {
        int fd = ready[i].fd;
        if ((size_t)fd >= l->nw)
            continue;
        struct watcher *w = &l->w[fd];
        /* unwatched or watched anew since this event was collected: not for this watcher */
        if (!w->fn || w->gen != ready[i].gen)
            continue;
        int ev = ready[i].events & (w->events ? w->events : 0);
        if (!ev)
            continue;
        w->fn(l, fd, ev, w->arg);
        ran++;
    }
    ran += run_timers(l);
    return ran;
}

int sk_loop_run(sk_loop *l)
{
    atomic_store(&l->stop, false);
    while (!atomic_load(&l->stop) && (l->active > 0 || l->nheap > 0 || l->nsignals > 0)) {
        int rc = sk_loop_run_once(l, -1);
        if (rc < 0)
            return rc;
    }
    return 0;
}
