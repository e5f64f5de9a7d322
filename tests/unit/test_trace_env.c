/* trace.c: SOCKKIT_TRACE, SOCKKIT_TRACE_FILE, SOCKKIT_TRACE_MAX and SOCKKIT_PCAP turn tracing on
 * from the environment, read once on first use (its own process, so nothing turned it on before).
 */
#include "sktest.h"

static void environment_turns_tracing_on(void **state)
{
    char path[] = "/tmp/sockkit-trace-env-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    setenv("SOCKKIT_TRACE", "data", 1);
    setenv("SOCKKIT_TRACE_FILE", path, 1);
    setenv("SOCKKIT_TRACE_MAX", "20", 1);
    char pcap[] = "/tmp/sockkit-trace-env-pcap-XXXXXX";
    int pfd = mkstemp(pcap);
    assert_true(pfd >= 0);
    setenv("SOCKKIT_PCAP", pcap, 1);
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

    /* the pcap: a section header, then the blocks; the 100 bytes in an exported PDU */
    unsigned char p[8192];
    n = pread(pfd, p, sizeof p, 0);
    assert_true(n > 200);
    assert_memory_equal(p, "\x0a\x0d\x0d\x0a", 4);
    assert_non_null(memmem(p, (size_t)n, data, sizeof data));
    assert_int_equal(sk_trace_pcap_error(), 0);
    close(pfd);
    unlink(pcap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(environment_turns_tracing_on),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
