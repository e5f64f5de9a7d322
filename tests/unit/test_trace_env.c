/* trace.c: SOCKKIT_TRACE, SOCKKIT_TRACE_FILE and SOCKKIT_TRACE_MAX turn tracing on from the
 * environment, read once on first use (its own process, so nothing turned it on before). */
#include "sktest.h"

static void environment_turns_tracing_on(void **state)
{
    char path[] = "/tmp/sockkit-trace-env-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    setenv("SOCKKIT_TRACE", "data", 1);
    setenv("SOCKKIT_TRACE_FILE", path, 1);
    setenv("SOCKKIT_TRACE_MAX", "20", 1);
    assert_int_equal(sk_trace_level(), SK_TRACE_DATA);

    int sv[2];
    sk_socketpair(SOCK_STREAM, sv);
    char data[100];
    memset(data, 'z', sizeof data);
    sk_send(sv[0], data, sizeof data, 1000);
    sk_close(sv[0]);
    sk_close(sv[1]);

    char buf[4096] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    assert_true(n > 0);
    assert_non_null(strstr(buf, "socketpair(AF_UNIX, SOCK_STREAM, 0)"));
    assert_non_null(strstr(buf, "100 bytes @0"));
    assert_non_null(strstr(buf, "    00000010  7a 7a 7a 7a ")); /* 20 bytes shown: 2 lines */
    assert_null(strstr(buf, "    00000020"));                   /* and no third */
    assert_non_null(strstr(buf, "... 80 more bytes (SOCKKIT_TRACE_MAX=20)"));
    close(fd);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(environment_turns_tracing_on),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
