/* loop.c with both backends: watchers (changed and removed inside callbacks, stale events
 * dropped), timers in order within tolerance, repeating and cancelled timers, 8 threads x 10,000
 * posts each run once in order, stop from another thread, signals, run ending when nothing is left,
 * and 1,000 fds. Every test runs on epoll, on poll and on io_uring (when it is built in and the
 * kernel allows it), and a loop asked for io_uring where it is refused runs epoll and says why. */
#include "sktest.h"

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>

static const int backends[] = {SK_LOOP_EPOLL, SK_LOOP_POLL, SK_LOOP_URING};
static const char *const names[] = {"epoll", "poll", "io_uring"};
static size_t nb = 2; /* 3 when io_uring runs here */

static int calls;

static void on_read(sk_loop *l, int fd, int events, void *arg)
{
    char buf[64];
    calls++;
    assert_true(events & SK_READABLE);
    read(fd, buf, sizeof buf);
}

static void on_write_then_stop(sk_loop *l, int fd, int events, void *arg)
{
    calls++;
    assert_true(events & SK_WRITABLE);
    sk_loop_watch(l, fd, 0, on_write_then_stop, arg); /* keep it, wait for nothing */
}

static void watchers(void **state)
{
    for (size_t b = 0; b < nb; b++) {
        sk_loop *l;
        assert_int_equal(sk_loop_new(&l, backends[b]), 0);
        assert_string_equal(sk_loop_backend_name(l), names[b]);
        assert_null(sk_loop_backend_why(l));
        int sv[2];
        sk_socketpair(SOCK_STREAM, sv);
        calls = 0;
        assert_int_equal(sk_loop_watch(l, sv[0], SK_WRITABLE, on_write_then_stop, NULL), 0);
        assert_int_equal(sk_loop_run_once(l, 1000), 1);
        assert_int_equal(calls, 1);
        assert_int_equal(sk_loop_run_once(l, 50), 0); /* events 0: nothing more */
        assert_int_equal(sk_loop_watch(l, sv[0], SK_READABLE, on_read, NULL), 0);
        write(sv[1], "x", 1);
        calls = 0;
        assert_int_equal(sk_loop_run_once(l, 1000), 1);
        assert_int_equal(calls, 1);
        assert_int_equal(sk_loop_unwatch(l, sv[0]), 0);
        write(sv[1], "y", 1);
        assert_int_equal(sk_loop_run_once(l, 50), 0);
        assert_int_equal(sk_loop_unwatch(l, sv[0]), SK_EARG);
        assert_int_equal(sk_loop_watch(l, -1, SK_READABLE, on_read, NULL), SK_EARG);
        close(sv[0]);
        close(sv[1]);
        sk_loop_free(l);
    }
}

/* In one batch: the first callback unwatches and closes the other fd and watches a new one that
 * may reuse its number. The stale event must not reach the new watcher. */
static int pair_b[2], fresh_calls;

static void on_fresh(sk_loop *l, int fd, int events, void *arg)
{
    fresh_calls++;
}

static void on_first(sk_loop *l, int fd, int events, void *arg)
{
    char buf[8];
    read(fd, buf, sizeof buf);
    sk_loop_unwatch(l, fd);
    if (pair_b[0] >= 0) {
        sk_loop_unwatch(l, pair_b[0]);
        close(pair_b[0]);
        int p[2];
        pipe2(p, O_CLOEXEC); /* p[0] likely takes pair_b[0]'s number */
        sk_loop_watch(l, p[0], SK_READABLE, on_fresh, NULL);
        pair_b[0] = -1;
        *(int *)arg = p[0];
        close(p[1]); /* the pipe's read end becomes readable (EOF) only now, not before */
    }
}

static void stale_events_dropped(void **state)
{
    for (size_t b = 0; b < nb; b++) {
        sk_loop *l;
        sk_loop_new(&l, backends[b]);
        int a[2];
        sk_socketpair(SOCK_STREAM, a);
        sk_socketpair(SOCK_STREAM, pair_b);
        int newfd = -1;
        sk_loop_watch(l, a[0], SK_READABLE, on_first, &newfd);
        sk_loop_watch(l, pair_b[0], SK_READABLE, on_first, &newfd);
        write(a[1], "a", 1);
        write(pair_b[1], "b", 1);
        fresh_calls = 0;
        sk_loop_run_once(l, 1000);
        /* whichever ran first removed the other; the new pipe's event is not from this batch */
        assert_int_equal(fresh_calls, 0);
        if (newfd >= 0) {
            sk_loop_run_once(l, 1000);
            assert_int_equal(fresh_calls, 1); /* and it does arrive in the next one */
            sk_loop_unwatch(l, newfd);
            close(newfd);
        }
        close(a[0]);
        close(a[1]);
        if (pair_b[0] >= 0)
            close(pair_b[0]);
        close(pair_b[1]);
        sk_loop_free(l);
    }
}

struct fired {
    int64_t at[16];
    int order[16];
    int n;
};

static struct fired fired;
static int64_t t0;

static void on_timer(sk_loop *l, int64_t id, void *arg)
{
    int k = (int)(intptr_t)arg;
    fired.at[k] = t_now_ms() - t0;
    fired.order[fired.n++] = k;
}

static void timers_in_order(void **state)
{
    for (size_t b = 0; b < nb; b++) {
        sk_loop *l;
        sk_loop_new(&l, backends[b]);
        memset(&fired, 0, sizeof fired);
        t0 = t_now_ms();
        const int after[10] = {300, 50, 500, 150, 100, 450, 250, 200, 400, 350};
        for (int i = 0; i < 10; i++)
            assert_true(sk_loop_timer(l, after[i], 0, on_timer, (void *)(intptr_t)i) > 0);
        assert_int_equal(sk_loop_run(l), 0); /* returns when the last timer has fired */
        assert_int_equal(fired.n, 10);
        for (int k = 0; k < 10; k++) {
            int i = fired.order[k];
            if (k)
                assert_true(after[fired.order[k - 1]] < after[i]);
            if (fired.at[i] < after[i] - 1 || fired.at[i] > after[i] + 150)
                fail_msg("%s: timer %d ms fired at %lld ms", sk_loop_backend_name(l), after[i],
                         (long long)fired.at[i]);
        }
        /* equal deadlines fire in the order they were added */
        memset(&fired, 0, sizeof fired);
        for (int i = 0; i < 6; i++)
            sk_loop_timer(l, 30, 0, on_timer, (void *)(intptr_t)i);
        sk_loop_run(l);
        for (int k = 0; k < 6; k++)
            assert_int_equal(fired.order[k], k);
        sk_loop_free(l);
    }
}

static int ticks;
static void on_tick(sk_loop *l, int64_t id, void *arg)
{
    if (++ticks == 5)
        assert_int_equal(sk_loop_cancel(l, id), 0); /* a repeating timer cancels itself */
}

static void never(sk_loop *l, int64_t id, void *arg)
{
    fail_msg("a cancelled timer fired");
}

static void repeating_and_cancelled(void **state)
{
    for (size_t b = 0; b < nb; b++) {
        sk_loop *l;
        sk_loop_new(&l, backends[b]);
        ticks = 0;
        int64_t t = t_now_ms();
        assert_true(sk_loop_timer(l, 20, 20, on_tick, NULL) > 0);
        int64_t c = sk_loop_timer(l, 60, 0, never, NULL);
        assert_int_equal(sk_loop_cancel(l, c), 0);
        assert_int_equal(sk_loop_cancel(l, c), SK_EARG); /* stale id */
        sk_loop_run(l);
        assert_int_equal(ticks, 5);
        assert_elapsed(t, 95, 600);
        assert_true(sk_loop_timer(l, -1, 0, never, NULL) < 0);
        sk_loop_free(l);
    }
}

/* ---- posts from 8 threads ------------------------------------------------------------------ */

#define THREADS 8
#define POSTS   10000

struct post_test {
    sk_loop *loop;
    int seen[THREADS];
    int out_of_order;
    int total;
};

struct post_arg {
    struct post_test *t;
    int thread, n;
};

static struct post_arg post_args[THREADS][POSTS];

static void on_post(sk_loop *l, void *arg)
{
    struct post_arg *a = arg;
    if (a->t->seen[a->thread] != a->n)
        a->t->out_of_order++;
    a->t->seen[a->thread] = a->n + 1;
    if (++a->t->total == THREADS * POSTS)
        sk_loop_stop(l);
}

static void *poster(void *arg)
{
    struct post_arg *row = arg;
    for (int i = 0; i < POSTS; i++)
        assert_int_equal(sk_loop_post(row[i].t->loop, on_post, &row[i]), 0);
    return NULL;
}

static void keepalive(sk_loop *l, int64_t id, void *arg) {}

static void posts_from_threads(void **state)
{
    for (size_t b = 0; b < nb; b++) {
        struct post_test t = {0};
        sk_loop_new(&t.loop, backends[b]);
        for (int th = 0; th < THREADS; th++)
            for (int i = 0; i < POSTS; i++)
                post_args[th][i] = (struct post_arg){&t, th, i};
        sk_loop_timer(t.loop, 10000, 10000, keepalive, NULL); /* run() waits for the posts */
        pthread_t pt[THREADS];
        for (int th = 0; th < THREADS; th++)
            pthread_create(&pt[th], NULL, poster, post_args[th]);
        assert_int_equal(sk_loop_run(t.loop), 0);
        for (int th = 0; th < THREADS; th++)
            pthread_join(pt[th], NULL);
        assert_int_equal(t.total, THREADS * POSTS); /* each exactly once */
        assert_int_equal(t.out_of_order, 0);        /* in order within each thread */
        for (int th = 0; th < THREADS; th++)
            assert_int_equal(t.seen[th], POSTS);
        sk_loop_free(t.loop);
    }
}

static void *stopper(void *arg)
{
    usleep(100000);
    sk_loop_stop(arg);
    return NULL;
}

static void stop_from_another_thread(void **state)
{
    for (size_t b = 0; b < nb; b++) {
        sk_loop *l;
        sk_loop_new(&l, backends[b]);
        sk_loop_timer(l, 60000, 0, keepalive, NULL);
        pthread_t t;
        int64_t start = t_now_ms();
        pthread_create(&t, NULL, stopper, l);
        assert_int_equal(sk_loop_run(l), 0);
        assert_elapsed(start, 95, 600);
        pthread_join(t, NULL);
        sk_loop_free(l);
    }
}

static int got_signal;
static void on_sig(sk_loop *l, int signo, void *arg)
{
    got_signal = signo;
}

static void signals_into_the_loop(void **state)
{
    for (size_t b = 0; b < nb; b++) {
        sk_loop *l;
        sk_loop_new(&l, backends[b]);
        got_signal = 0;
        assert_int_equal(sk_loop_signal(l, SIGUSR1, on_sig, NULL), 0);
        raise(SIGUSR1); /* blocked: it waits for the signalfd */
        assert_true(sk_loop_run_once(l, 1000) >= 1);
        assert_int_equal(got_signal, SIGUSR1);
        assert_int_equal(sk_loop_signal(l, 0, on_sig, NULL), SK_EARG);
        sk_loop_free(l);
    }
}

static int thousand_seen;
static void on_one(sk_loop *l, int fd, int events, void *arg)
{
    char c;
    read(fd, &c, 1);
    thousand_seen++;
    sk_loop_unwatch(l, fd);
}

static void a_thousand_fds(void **state)
{
    for (size_t b = 0; b < nb; b++) {
        sk_loop *l;
        sk_loop_new(&l, backends[b]);
        int fds[1000][2];
        for (int i = 0; i < 1000; i++) {
            assert_int_equal(sk_socketpair(SOCK_STREAM, fds[i]), 0);
            sk_loop_watch(l, fds[i][0], SK_READABLE, on_one, NULL);
            write(fds[i][1], "z", 1);
        }
        thousand_seen = 0;
        assert_int_equal(sk_loop_run(l), 0); /* ends when the last watcher is gone */
        assert_int_equal(thousand_seen, 1000);
        for (int i = 0; i < 1000; i++) {
            close(fds[i][0]);
            close(fds[i][1]);
        }
        sk_loop_free(l);
    }
}

/* An fd unwatched and closed is closed for the peer by the next iteration at the latest: on
 * io_uring a poll in flight holds the file until its removal reaches the kernel, which happens
 * with the next wait (docs/loop.md). */
static void closed_after_unwatch_reaches_peer(void **state)
{
    for (size_t b = 0; b < nb; b++) {
        sk_loop *l;
        sk_loop_new(&l, backends[b]);
        int sv[2];
        assert_int_equal(sk_socketpair(SOCK_STREAM, sv), 0);
        assert_int_equal(sk_loop_watch(l, sv[0], SK_READABLE, on_read, NULL), 0);
        sk_loop_run_once(l, 0); /* the watch reaches the backend */
        assert_int_equal(sk_loop_unwatch(l, sv[0]), 0);
        close(sv[0]);
        sk_loop_run_once(l, 0);
        struct pollfd p = {.fd = sv[1], .events = POLLIN};
        assert_int_equal(poll(&p, 1, 2000), 1); /* EOF: readable */
        char c;
        assert_int_equal(read(sv[1], &c, 1), 0);
        close(sv[1]);
        sk_loop_free(l);
    }
}

/* Asked for io_uring: it runs, or the loop runs epoll and says why; either way it works. Under
 * tests/helpers/no_uring (CTest's unit/test_loop@no_uring*), SK_EXPECT_URING_REFUSED says the
 * refusal is certain: then it must be epoll with the reason. */
static void uring_or_why(void **state)
{
    sk_loop *l;
    assert_int_equal(sk_loop_new(&l, SK_LOOP_URING), 0);
    const char *why = sk_loop_backend_why(l);
    if (getenv("SK_EXPECT_URING_REFUSED")) {
        assert_non_null(why);
        assert_string_equal(why, "io_uring refused: Operation not permitted");
    }
    assert_string_equal(sk_loop_backend_name(l), why ? "epoll" : "io_uring");
    if (why)
        print_message("io_uring asked for, epoll runs: %s\n", why);
    int sv[2];
    assert_int_equal(sk_socketpair(SOCK_STREAM, sv), 0);
    calls = 0;
    assert_int_equal(sk_loop_watch(l, sv[0], SK_READABLE, on_read, NULL), 0);
    assert_int_equal(write(sv[1], "a", 1), 1);
    assert_int_equal(sk_loop_run_once(l, 1000), 1);
    assert_int_equal(calls, 1);
    sk_loop_unwatch(l, sv[0]);
    close(sv[0]);
    close(sv[1]);
    sk_loop_free(l);
    sk_loop *e;
    assert_int_equal(sk_loop_new(&e, SK_LOOP_EPOLL), 0);
    assert_null(sk_loop_backend_why(e)); /* asked for epoll, runs epoll: nothing to explain */
    sk_loop_free(e);
}

int main(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 2200 && rl.rlim_max >= 2200) {
        rl.rlim_cur = 2200;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    sk_loop *l;
    if (sk_loop_new(&l, SK_LOOP_URING) == 0) {
        if (!sk_loop_backend_why(l))
            nb = 3;
        else
            fprintf(stderr, "test_loop: %s: epoll and poll only\n", sk_loop_backend_why(l));
        sk_loop_free(l);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(watchers),
        cmocka_unit_test(uring_or_why),
        cmocka_unit_test(closed_after_unwatch_reaches_peer),
        cmocka_unit_test(stale_events_dropped),
        cmocka_unit_test(timers_in_order),
        cmocka_unit_test(repeating_and_cancelled),
        cmocka_unit_test(posts_from_threads),
        cmocka_unit_test(stop_from_another_thread),
        cmocka_unit_test(signals_into_the_loop),
        cmocka_unit_test(a_thousand_fds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
