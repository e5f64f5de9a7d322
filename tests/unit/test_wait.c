/* wait.c: monotonic deadlines (none, passed, ahead, clamped), sk__wait_deadline and sk_wait
 * (readiness as SK_READABLE / SK_WRITABLE, a hang-up as both, the timeout, bad events), and a
 * signal during the wait that does not cut the deadline short. */
#include "sktest.h"

#include <signal.h>
#include <sys/time.h>

static void deadlines(void **state)
{
    assert_int_equal(sk__deadline(-1), -1);
    assert_int_equal(sk__remaining(-1), -1);
    int64_t now = sk__now_ms();
    assert_true(sk__now_us() / 1000 >= now);
    assert_int_equal(sk__remaining(now - 5), 0); /* passed */
    int left = sk__remaining(sk__deadline(1000));
    assert_true(left > 900 && left <= 1000);
    assert_int_equal(sk__remaining(sk__deadline(0)), 0);
    assert_int_equal(sk__remaining(now + ((int64_t)1 << 40)), INT32_MAX); /* clamped for poll */
    int64_t a = sk__now_us(), b = sk__now_us();
    assert_true(b >= a); /* monotonic */
}

static void readiness(void **state)
{
    int sv[2];
    sk_socketpair(SOCK_STREAM, sv);
    assert_int_equal(sk_wait(sv[0], SK_READABLE | SK_WRITABLE, 0), SK_WRITABLE);
    assert_int_equal(write(sv[1], "x", 1), 1);
    assert_int_equal(sk_wait(sv[0], SK_READABLE, 0), SK_READABLE);
    assert_int_equal(sk__wait_deadline(sv[0], POLLIN, sk__deadline(0)) & POLLIN, POLLIN);
    close(sv[1]);
    /* the peer is gone: a hang-up, as the loop reports it */
    assert_int_equal(sk_wait(sv[0], SK_WRITABLE, 1000), SK_READABLE | SK_WRITABLE);
    close(sv[0]);
}

static void timeout_and_bad_events(void **state)
{
    int sv[2];
    sk_socketpair(SOCK_STREAM, sv);
    int64_t t0 = t_now_ms();
    assert_int_equal(sk_wait(sv[0], SK_READABLE, 150), -ETIMEDOUT);
    assert_elapsed(t0, 140, 1000);
    assert_non_null(strstr(sk_errmsg(), "wait fd"));
    assert_int_equal(sk_wait(sv[0], 0, 0), SK_EARG);
    assert_int_equal(sk_wait(sv[0], 4, 0), SK_EARG); /* POLLOUT is not SK_WRITABLE */
    close(sv[0]);
    close(sv[1]);
}

static void on_alarm(int sig)
{
    (void)sig;
}

/* A signal handler installed without SA_RESTART makes poll fail with EINTR: the wait goes on
 * until its deadline instead of returning early. */
static void signals_do_not_shorten_the_wait(void **state)
{
    struct sigaction sa = {.sa_handler = on_alarm}, old;
    sigaction(SIGALRM, &sa, &old);
    struct itimerval every = {{0, 40000}, {0, 40000}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &every, NULL);
    int sv[2];
    sk_socketpair(SOCK_STREAM, sv);
    int64_t t0 = t_now_ms();
    assert_int_equal(sk_wait(sv[0], SK_READABLE, 300), -ETIMEDOUT);
    assert_elapsed(t0, 290, 1500);
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deadlines),
        cmocka_unit_test(readiness),
        cmocka_unit_test(timeout_and_bad_events),
        cmocka_unit_test(signals_do_not_shorten_the_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
