/* loop_epoll.c and loop_poll.c through their table (loop_backend.h), the same cases on each: an
 * fd is reported with the generation it was set with, for the events asked; events change and
 * removal (the poll backend's slot swap) leave the other fds right; a hang-up counts as readable
 * and writable; at most max are returned per wait and the rest come next time (level-triggered);
 * a wait with nothing ready times out. test_loop.c runs the loop itself on each. io_uring (one-shot
 * polls re-armed at the next wait) runs the same cases when it is built in and the kernel allows
 * it. */
#include "sktest.h"

#include "loop_backend.h"

static const struct sk__loop_backend *const backends[] = {&sk__loop_epoll, &sk__loop_poll,
                                                          &sk__loop_uring};
static size_t nb = 2; /* 3 when io_uring can run here */

/* The event for fd among n, or NULL. */
static const struct sk__ready *find(const struct sk__ready *r, int n, int fd)
{
    for (int i = 0; i < n; i++)
        if (r[i].fd == fd)
            return &r[i];
    return NULL;
}

static void reports_fd_gen_and_events(void **state)
{
    for (size_t b = 0; b < nb; b++) {
        const struct sk__loop_backend *be = backends[b];
        void *st = be->create();
        assert_non_null(st);
        int sv[2];
        assert_int_equal(sk_socketpair(SOCK_STREAM, sv), 0);
        struct sk__ready r[8];
        assert_int_equal(be->set(st, sv[0], 0, SK_READABLE, 7), 0);
        assert_int_equal(be->wait(st, 0, r, 8), 0); /* nothing to read yet */
        assert_int_equal(write(sv[1], "x", 1), 1);
        assert_int_equal(be->wait(st, 1000, r, 8), 1);
        assert_int_equal(r[0].fd, sv[0]);
        assert_int_equal(r[0].gen, 7);
        assert_int_equal(r[0].events, SK_READABLE);
        /* change: readable and writable, a new generation */
        assert_int_equal(be->set(st, sv[0], SK_READABLE, SK_READABLE | SK_WRITABLE, 8), 0);
        assert_int_equal(be->wait(st, 1000, r, 8), 1);
        assert_int_equal(r[0].gen, 8);
        assert_int_equal(r[0].events, SK_READABLE | SK_WRITABLE);
        /* removed: not reported although still readable */
        assert_int_equal(be->set(st, sv[0], SK_READABLE | SK_WRITABLE, 0, 0), 0);
        assert_int_equal(be->wait(st, 0, r, 8), 0);
        close(sv[0]);
        close(sv[1]);
        be->destroy(st);
    }
}

static void hangup_is_both(void **state)
{
    for (size_t b = 0; b < nb; b++) {
        const struct sk__loop_backend *be = backends[b];
        void *st = be->create();
        int sv[2];
        sk_socketpair(SOCK_STREAM, sv);
        assert_int_equal(be->set(st, sv[0], 0, SK_READABLE, 1), 0);
        close(sv[1]);
        struct sk__ready r[4];
        assert_int_equal(be->wait(st, 1000, r, 4), 1);
        /* the peer is gone both ways: readable (the end of the stream) and writable (the error
         * a write would get), so a watcher of either hears of it */
        assert_int_equal(r[0].events, SK_READABLE | SK_WRITABLE);
        close(sv[0]);
        be->destroy(st);
    }
}

static void removal_keeps_the_others(void **state)
{
    for (size_t b = 0; b < nb; b++) {
        const struct sk__loop_backend *be = backends[b];
        void *st = be->create();
        int sv[5][2];
        for (int i = 0; i < 5; i++) {
            sk_socketpair(SOCK_STREAM, sv[i]);
            assert_int_equal(be->set(st, sv[i][0], 0, SK_READABLE, (uint32_t)(100 + i)), 0);
            assert_int_equal(write(sv[i][1], "x", 1), 1);
        }
        /* remove the first and a middle one: the poll backend moves its last slot into theirs */
        assert_int_equal(be->set(st, sv[0][0], SK_READABLE, 0, 0), 0);
        assert_int_equal(be->set(st, sv[2][0], SK_READABLE, 0, 0), 0);
        struct sk__ready r[8];
        int n = be->wait(st, 1000, r, 8);
        assert_int_equal(n, 3);
        for (int i = 0; i < 5; i++) {
            const struct sk__ready *e = find(r, n, sv[i][0]);
            if (i == 0 || i == 2) {
                assert_null(e);
            } else {
                assert_non_null(e);
                assert_int_equal(e->gen, 100 + i);
            }
        }
        for (int i = 0; i < 5; i++) {
            close(sv[i][0]);
            close(sv[i][1]);
        }
        be->destroy(st);
    }
}

static void at_most_max_then_the_rest(void **state)
{
    for (size_t b = 0; b < nb; b++) {
        const struct sk__loop_backend *be = backends[b];
        void *st = be->create();
        int sv[6][2];
        for (int i = 0; i < 6; i++) {
            sk_socketpair(SOCK_STREAM, sv[i]);
            be->set(st, sv[i][0], 0, SK_READABLE, 1);
            assert_int_equal(write(sv[i][1], "x", 1), 1);
        }
        struct sk__ready r[4];
        bool seen[6] = {false};
        int total = 0;
        for (int round = 0; round < 6 && total < 6; round++) {
            int n = be->wait(st, 1000, r, 4);
            assert_true(n >= 1 && n <= 4);
            for (int k = 0; k < n; k++) /* consume it: level-triggered, it would come again */
                for (int i = 0; i < 6; i++)
                    if (r[k].fd == sv[i][0] && !seen[i]) {
                        char c;
                        assert_int_equal(read(sv[i][0], &c, 1), 1);
                        seen[i] = true;
                        total++;
                    }
        }
        assert_int_equal(total, 6);
        for (int i = 0; i < 6; i++) {
            close(sv[i][0]);
            close(sv[i][1]);
        }
        be->destroy(st);
    }
}

/* More ready than max and none consumed (a busy loop whose callbacks leave data for later): every
 * fd is still reported within a few waits. The poll backend used to scan from slot 0 each time,
 * so the fds past max were never reported while the first ones stayed ready. */
static void more_ready_than_max_none_starves(void **state)
{
    for (size_t b = 0; b < nb; b++) {
        const struct sk__loop_backend *be = backends[b];
        void *st = be->create();
        int sv[10][2];
        for (int i = 0; i < 10; i++) {
            sk_socketpair(SOCK_STREAM, sv[i]);
            be->set(st, sv[i][0], 0, SK_READABLE, 1);
            assert_int_equal(write(sv[i][1], "x", 1), 1);
        }
        struct sk__ready r[4];
        bool seen[10] = {false};
        for (int round = 0; round < 6; round++) { /* 24 reports for 10 fds: each comes */
            int n = be->wait(st, 1000, r, 4);
            assert_int_equal(n, 4);
            for (int k = 0; k < n; k++)
                for (int i = 0; i < 10; i++)
                    seen[i] |= r[k].fd == sv[i][0];
        }
        for (int i = 0; i < 10; i++) {
            if (!seen[i])
                fail_msg("%s: fd %d of 10 never reported in 6 waits of 4", be->name, i);
            close(sv[i][0]);
            close(sv[i][1]);
        }
        be->destroy(st);
    }
}

static void times_out(void **state)
{
    for (size_t b = 0; b < nb; b++) {
        const struct sk__loop_backend *be = backends[b];
        void *st = be->create();
        int sv[2];
        sk_socketpair(SOCK_STREAM, sv);
        be->set(st, sv[0], 0, SK_READABLE, 1);
        struct sk__ready r[4];
        int64_t t0 = t_now_ms();
        /* A wait interrupted returns 0 early too (EINTR). Closing an io_uring makes the kernel
         * queue task work to the thread that used it, which interrupts a sleeping wait of that
         * thread once per ring closed, whatever the backend: the io_uring cases before this one
         * close several. So wait again for the rest (bounded). */
        for (int tries = 0; tries < 20 && t_now_ms() - t0 < 90; tries++)
            assert_int_equal(be->wait(st, (int)(100 - (t_now_ms() - t0)), r, 4), 0);
        assert_elapsed(t0, 90, 1000);
        close(sv[0]);
        close(sv[1]);
        be->destroy(st);
    }
}

int main(void)
{
    void *st = sk__loop_uring.create ? sk__loop_uring.create() : NULL;
    if (st) {
        sk__loop_uring.destroy(st);
        nb = 3;
    } else {
        fprintf(stderr, "test_loop_backends: io_uring not here (%s): epoll and poll only\n",
                sk__loop_uring.create ? strerror(errno) : "not built in");
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reports_fd_gen_and_events),
        cmocka_unit_test(hangup_is_both),
        cmocka_unit_test(removal_keeps_the_others),
        cmocka_unit_test(at_most_max_then_the_rest),
        cmocka_unit_test(more_ready_than_max_none_starves),
        cmocka_unit_test(times_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
