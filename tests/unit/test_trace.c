/* trace.c: the hexdump format, trace lines through a sink and an fd, roles, transports, running
 * offsets, levels, truncation, and whole events from concurrent threads; the JSON format; the
 * pcapng output's block structure (pcap.c), alone, from threads and on a full disk. (What
 * Wireshark makes of the packets: tests/interop/pcap_cli.py.) */
#include "sktest.h"

#include <regex.h>

static char captured[1 << 20];
static size_t ncaptured;
static int events;
static pthread_mutex_t cap_lock = PTHREAD_MUTEX_INITIALIZER;

static void sink(const char *text, size_t len, void *arg)
{
    pthread_mutex_lock(&cap_lock);
    if (ncaptured + len < sizeof captured) {
        memcpy(captured + ncaptured, text, len);
        ncaptured += len;
        captured[ncaptured] = '\0';
    }
    events++;
    pthread_mutex_unlock(&cap_lock);
}

static int reset(void **state)
{
    ncaptured = 0;
    captured[0] = '\0';
    events = 0;
    sk_trace_set(SK_TRACE_DATA, -1);
    sk_trace_set_sink(sink, NULL);
    return 0;
}

static int off(void **state)
{
    sk_trace_set(SK_TRACE_OFF, -1);
    sk_trace_set_sink(NULL, NULL);
    return 0;
}

/* Assert that some line of the capture matches an extended regex. */
static void assert_line(const char *re)
{
    regex_t r;
    assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NEWLINE), 0);
    int rc = regexec(&r, captured, 0, NULL, 0);
    regfree(&r);
    if (rc)
        fail_msg("no line matches /%s/ in:\n%s", re, captured);
}

static void hexdump_exact_format(void **state)
{
    char out[4096];
    assert_int_equal(sk_hexdump("", 0, 0, out, sizeof out), 0);
    assert_string_equal(out, "");
    sk_hexdump("A", 1, 0, out, sizeof out);
    assert_string_equal(out, "00000000  41                                                |A|\n");
    sk_hexdump("hello\n\0\1", 8, 0, out, sizeof out);
    assert_string_equal(out,
                        "00000000  68 65 6c 6c 6f 0a 00 01                           |hello...|\n");
    sk_hexdump("0123456789abcdef", 16, 0x10, out, sizeof out);
    assert_string_equal(
        out, "00000010  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n");
    size_t n = sk_hexdump("0123456789abcdefg", 17, 0, out, sizeof out);
    assert_string_equal(
        out, "00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n"
             "00000010  67                                                |g|\n");
    assert_int_equal(n, strlen(out));
    /* every line has the same width up to the printable column */
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    n = sk_hexdump(all, 256, 0, out, sizeof out);
    assert_int_equal(n, 16 * (10 + 16 * 3 + 1 + 1 + 1 + 16 + 2));
    assert_non_null(strstr(
        out, "00000040  40 41 42 43 44 45 46 47  48 49 4a 4b 4c 4d 4e 4f  |@ABCDEFGHIJKLMNO|\n"));
    assert_non_null(strstr(
        out, "000000f0  f0 f1 f2 f3 f4 f5 f6 f7  f8 f9 fa fb fc fd fe ff  |................|\n"));
    /* snprintf-style truncation */
    char small[20];
    size_t full = sk_hexdump(all, 33, 0, out, sizeof out);
    assert_int_equal(full, 2 * 79 + 64); /* 79-byte full lines, 64 for one byte */
    assert_int_equal(sk_hexdump(all, 33, 0, small, sizeof small), full);
    assert_int_equal(strlen(small), 19);
    assert_memory_equal(small, out, 19);
}

static void calls_and_data_lines(void **state)
{
    int port;
    int lfd = t_listener("127.0.0.1:0", &port);
    char ep[32];
    snprintf(ep, sizeof ep, "127.0.0.1:%d", port);
    int c = sk_connect(ep, 1000);
    sk_addr peer;
    int s = sk_accept(lfd, &peer, 1000);
    sk_send_all(c, "hello", 5, 1000, NULL);
    char buf[16];
    sk_recv_exact(s, buf, 5, 1000, NULL);
    sk_send_all(c, "again", 5, 1000, NULL);
    sk_recv_exact(s, buf, 5, 1000, NULL);
    sk_shutdown(c, SHUT_WR);
    sk_close(c);
    sk_close(s);
    sk_close(lfd);

    char re[256];
    const char *t = "^[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6} ";
    snprintf(re, sizeof re, "%sserver tcp   socket\\(AF_INET, SOCK_STREAM, IPPROTO_TCP\\) = %d$", t,
             lfd);
    assert_line(re);
    snprintf(
        re, sizeof re,
        "%sserver tcp   bind 127\\.0\\.0\\.1:0 \\(port 0: the kernel chose 127\\.0\\.0\\.1:%d\\)$",
        t, port);
    assert_line(re);
    assert_line("server tcp   listen backlog=[0-9]+$");
    snprintf(re, sizeof re, "%sclient tcp   connect 127\\.0\\.0\\.1:%d", t, port);
    assert_line(re);
    snprintf(re, sizeof re, "server tcp   accept 127\\.0\\.0\\.1:%d = %d$", sk_addr_port(&peer), s);
    assert_line(re);
    /* data: direction, peer, count, running offset, fd, then the dump */
    snprintf(re, sizeof re, "client tcp   > 127\\.0\\.0\\.1:%d  5 bytes @0  fd=%d$", port, c);
    assert_line(re);
    snprintf(re, sizeof re, "client tcp   > 127\\.0\\.0\\.1:%d  5 bytes @5  fd=%d$", port, c);
    assert_line(re);
    snprintf(re, sizeof re, "server tcp   < 127\\.0\\.0\\.1:%d  5 bytes @5  fd=%d$",
             sk_addr_port(&peer), s);
    assert_line(re);
    assert_line("^    00000000  68 65 6c 6c 6f +\\|hello\\|$");
    assert_line("^    00000005  61 67 61 69 6e +\\|again\\|$");
    assert_line("client tcp   shutdown SHUT_WR$");
    snprintf(re, sizeof re, "client tcp   close %d$", c);
    assert_line(re);
}

/* Found by tests/fuzz/fuzz_trace: a peer chooses its Unix name, and a newline in it forged a
 * trace line (an escape sequence reached the terminal). The name shows escaped, on one line. */
static void peer_names_cannot_forge_lines(void **state)
{
    char ep[64];
    snprintf(ep, sizeof ep, "unix:@sockkit-trace-%d", (int)getpid());
    int lfd = sk_listen(ep, NULL);
    assert_true(lfd >= 0);
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const char evil[] = "x\n00:00:00.000000 server tcp   accept forged = 9\x1b[2J";
    struct sockaddr_un me = {.sun_family = AF_UNIX};
    memcpy(me.sun_path + 1, evil, sizeof evil - 1);
    assert_int_equal(bind(c, (struct sockaddr *)&me,
                          (socklen_t)(offsetof(struct sockaddr_un, sun_path) + sizeof evil)),
                     0);
    sk_addr to;
    assert_int_equal(sk_addr_parse(ep, 0, &to), 0);
    assert_int_equal(connect(c, &to.u.sa, to.len), 0);
    int s = sk_accept(lfd, NULL, 1000);
    assert_true(s >= 0);
    assert_int_equal(sk_send_all(s, "hi", 2, 1000, NULL), 0);
    close(c);
    sk_close(s);
    sk_close(lfd);
    regex_t r;
    assert_int_equal(regcomp(&r, "^00:00:00\\.000000 server", REG_EXTENDED | REG_NEWLINE), 0);
    int forged = regexec(&r, captured, 0, NULL, 0);
    regfree(&r);
    if (forged == 0 || strchr(captured, 0x1b))
        fail_msg("a peer's name forged a line or sent an escape:\n%s", captured);
    assert_line("server unix  accept unix:@x\\\\x0a00:00:00\\.000000 server tcp   accept forged = "
                "9\\\\x1b\\[2J = [0-9]+$");
    assert_line("server unix  > unix:@x\\\\x0a00:00:00\\.000000 .*\\\\x1b\\[2J  2 bytes @0  fd=");
}

static void transports_and_default_protocol(void **state)
{
    int u = sk_socket(AF_INET6, SOCK_DGRAM, 0);
    assert_line("-      udp   socket\\(AF_INET6, SOCK_DGRAM, IPPROTO_IP\\) = [0-9]+  \\(protocol "
                "0: default for SOCK_DGRAM = IPPROTO_UDP\\)$");
    int sv[2];
    sk_socketpair(SOCK_DGRAM, sv);
    assert_line("unix-dgram  socketpair\\(AF_UNIX, SOCK_DGRAM, 0\\)");
    /* an fd the library did not create: the kernel is asked what it is */
    int raw = socket(AF_INET, SOCK_STREAM, 0);
    sk_trace_set_role(raw, SK_ROLE_CLIENT);
    sk_sock_set_nodelay(raw, true);
    assert_line("client tcp   setsockopt TCP_NODELAY=1$");
    close(raw);
    close(u);
    close(sv[0]);
    close(sv[1]);
}

static void levels_and_truncation(void **state)
{
    int sv[2];
    sk_socketpair(SOCK_STREAM, sv);
    sk_trace_set(SK_TRACE_CALLS, -1);
    ncaptured = 0;
    captured[0] = 0;
    sk_send(sv[0], "calls", 5, 1000);
    assert_line("> \\? +5 bytes @0|> unix:\\(unnamed\\)  5 bytes @0");
    assert_null(strstr(captured, "00000000")); /* calls level: no dump */

    sk_trace_set(SK_TRACE_OFF, -1);
    ncaptured = 0;
    captured[0] = 0;
    sk_send(sv[0], "quiet", 5, 1000);
    sk_close(sk_socket(AF_INET, SOCK_STREAM, 0));
    assert_int_equal(ncaptured, 0);
    assert_int_equal(sk_trace_level(), SK_TRACE_OFF);
    close(sv[0]);
    close(sv[1]);
}

static void to_an_fd(void **state)
{
    sk_trace_set_sink(NULL, NULL);
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    sk_trace_set(SK_TRACE_CALLS, p[1]);
    int fd = sk_socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    sk_close(fd);
    char buf[1024] = {0};
    ssize_t n = read(p[0], buf, sizeof buf - 1);
    assert_true(n > 0);
    assert_non_null(strstr(buf, "socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP) = "));
    assert_non_null(strstr(buf, "close "));
    sk_trace_set(SK_TRACE_OFF, -1);
    close(p[0]);
    close(p[1]);
}

static void *tracer(void *arg)
{
    int sv[2];
    sk_socketpair(SOCK_STREAM, sv);
    char data[100];
    memset(data, 'a' + (int)(intptr_t)arg, sizeof data);
    for (int i = 0; i < 50; i++) {
        sk_send(sv[0], data, sizeof data, 1000);
        sk_recv(sv[1], data, sizeof data, 1000);
    }
    close(sv[0]);
    close(sv[1]);
    return NULL;
}

static void threads_never_interleave(void **state)
{
    pthread_t t[4];
    for (intptr_t i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, tracer, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    /* every data event is a head line plus exactly 7 dump lines of one thread's letter */
    assert_true(events >= 4 * 100);
    char *line = captured;
    int heads = 0;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        if (strstr(line, " bytes @") && strstr(line, " bytes @") < nl) {
            heads++;
            char letter = 0;
            char *l = nl + 1;
            for (int k = 0; k < 7; k++) {
                char *end = strchr(l, '\n');
                assert_non_null(end);
                assert_true(!strncmp(l, "    0000", 8));
                char *bar = strchr(l, '|');
                assert_non_null(bar);
                if (!letter)
                    letter = bar[1];
                assert_int_equal(bar[1], letter);
                l = end + 1;
            }
            nl = l - 1;
        }
        line = nl + 1;
    }
    assert_int_equal(heads, 4 * 100);
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static void json_events(void **state)
{
    sk_trace_set_format(SK_TRACE_JSON);
    int sv[2];
    assert_int_equal(sk_socketpair(SOCK_STREAM, sv), 0);
    sk_send(sv[0], "hi\"\\", 4, 1000);
    char buf[8];
    sk_recv(sv[1], buf, sizeof buf, 1000);
    int d = sk_socket(AF_UNIX, SOCK_DGRAM, 0);
    sk_addr a = {.len = offsetof(struct sockaddr_un, sun_path) + 6};
    a.u.un.sun_family = AF_UNIX;
    memcpy(a.u.un.sun_path, "\0q\"\n\\z", 6); /* abstract: a quote, a newline, a backslash */
    assert_int_equal(bind(d, &a.u.sa, a.len), 0);
    sk_sendto(d, "x", 1, &a, 1000);
    sk_close(d);
    sk_close(sv[0]);
    sk_close(sv[1]);
    sk_trace_set_format(SK_TRACE_TEXT);
    assert_line("^\\{\"time\":\"[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}\",\"role\":\"-\","
                "\"transport\":\"unix\",\"call\":\"socketpair\\(AF_UNIX, SOCK_STREAM, 0\\) = "
                "\\[[0-9]+, [0-9]+\\]\"\\}$");
    assert_line("^\\{\"time\":\"[^\"]+\",\"role\":\"-\",\"transport\":\"unix\",\"dir\":\">\","
                "\"peer\":\"[^\"]*\",\"bytes\":4,\"offset\":0,\"fd\":[0-9]+,"
                "\"hex\":\"6869225c\"\\}$");
    /* the peer's name: sk_addr_format's \\xHH for control bytes and '\\', JSON's \\" */
    assert_line("\"peer\":\"unix:@q\\\\\"\\\\\\\\x0a\\\\\\\\x5cz\",\"bytes\":1,");
    assert_line("\"call\":\"close [0-9]+\"\\}$");
    /* one object per line: every line starts with { and ends with } */
    for (char *l = captured; *l; l = strchr(l, '\n') + 1) {
        assert_int_equal(*l, '{');
        assert_int_equal(strchr(l, '\n')[-1], '}');
    }
}

/* ---- pcapng -------------------------------------------------------------------------------- */

struct blocks {
    int shb, idb, epb;
    int kinds[8]; /* EPBs per interface */
    bool whole;   /* every block's two lengths agree and the last ends at the end of the file */
};

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static struct blocks walk(int fd)
{
    struct blocks b = {.whole = true};
    off_t size = lseek(fd, 0, SEEK_END);
    unsigned char *m = malloc((size_t)size + 1);
    assert_non_null(m);
    assert_int_equal(pread(fd, m, (size_t)size, 0), size);
    size_t off = 0;
    while (off + 12 <= (size_t)size) {
        uint32_t type = le32(m + off), len = le32(m + off + 4);
        if (len < 12 || len % 4 || off + len > (size_t)size || le32(m + off + len - 4) != len) {
            b.whole = false;
            break;
        }
        if (type == 0x0A0D0D0A && le32(m + off + 8) == 0x1A2B3C4D)
            b.shb++;
        else if (type == 1)
            b.idb++;
        else if (type == 6) {
            b.epb++;
            uint32_t ifc = le32(m + off + 8);
            if (ifc < 8)
                b.kinds[ifc]++;
        }
        off += len;
    }
    if (off != (size_t)size)
        b.whole = false;
    free(m);
    return b;
}

static int temp_file(void)
{
    char path[] = "/tmp/sk-test-pcap-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    return fd;
}

/* Each kind of socket in one process with only the pcap on: no text at all, whole blocks, one
 * TCP stream (the accepted socket mirrors the connecting one), UDP, Unix. */
static void pcap_blocks(void **state)
{
    sk_trace_set(SK_TRACE_OFF, -1);
    int fd = temp_file();
    assert_int_equal(sk_trace_set_pcap(fd), 0);
    int port;
    int lfd = t_listener("127.0.0.1:0", &port);
    char ep[32];
    snprintf(ep, sizeof ep, "127.0.0.1:%d", port);
    int c = sk_connect(ep, 1000);
    int s = sk_accept(lfd, NULL, 1000);
    assert_true(c >= 0 && s >= 0);
    char big[200000], got[sizeof big];
    memset(big, 'b', sizeof big);
    assert_int_equal(sk_send(c, "hello", 5, 1000), 5);
    assert_int_equal(sk_recv_exact(s, got, 5, 1000, NULL), 0);
    for (size_t done = 0; done < sizeof big;) { /* both ends here: the buffers take turns */
        ssize_t n = sk_send(s, big + done, sizeof big - done, 1000);
        assert_true(n > 0);
        assert_int_equal(sk_recv_exact(c, got, (size_t)n, 1000, NULL), 0);
        done += (size_t)n;
    }
    sk_shutdown(c, SHUT_WR);
    assert_int_equal(sk_recv(s, got, 1, 1000), 0);
    sk_close(c);
    sk_close(s);
    sk_close(lfd);
    int u = sk_socket(AF_INET, SOCK_DGRAM, 0);
    sk_addr to;
    assert_int_equal(sk_addr_parse("127.0.0.1:9", 0, &to), 0);
    sk_sendto(u, "udp", 3, &to, 1000);
    sk_close(u);
    int sv[2];
    sk_socketpair(SOCK_SEQPACKET, sv);
    sk_send(sv[0], "seq", 3, 1000);
    sk_recv(sv[1], got, sizeof got, 1000);
    sk_close(sv[0]);
    sk_close(sv[1]);
    assert_int_equal(sk_trace_set_pcap(-1), 0);
    assert_int_equal(sk_trace_pcap_error(), 0);

    assert_int_equal(events, 0); /* the text stayed off */
    struct blocks b = walk(fd);
    assert_true(b.whole);
    assert_int_equal(b.shb, 1);
    assert_int_equal(b.idb, 5);
    /* TCP, one stream, the connecting socket's: 3 handshake + 2 (hello and its ACK) + 2 per
     * segment of big as the client received it (>= 4 segments) + 2 (its FIN and the ACK); the
     * accepted socket's events are the same bytes, left out */
    assert_true(b.kinds[0] >= 3 + 2 + 8 + 2);
    assert_int_equal(b.kinds[0] % 2, 1);
    assert_int_equal(b.kinds[1], 1); /* the UDP datagram */
    assert_int_equal(b.kinds[2], 0);
    assert_int_equal(b.kinds[4], 2); /* sent and received on the seqpacket pair */
    close(fd);
}

static void *pcap_tracer(void *arg)
{
    int sv[2];
    sk_socketpair(SOCK_STREAM, sv);
    char data[100];
    memset(data, 'a', sizeof data);
    for (int i = 0; i < 50; i++) {
        sk_send(sv[0], data, sizeof data, 1000);
        sk_recv_exact(sv[1], data, sizeof data, 1000, NULL);
    }
    sk_close(sv[0]);
    sk_close(sv[1]);
    return NULL;
}

/* Four threads at once: every block whole, none lost. */
static void pcap_from_threads(void **state)
{
    int fd = temp_file();
    assert_int_equal(sk_trace_set_pcap(fd), 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, pcap_tracer, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    sk_trace_set_pcap(-1);
    struct blocks b = walk(fd);
    assert_true(b.whole);
    assert_int_equal(b.kinds[2], 4 * 50 * 2);
    close(fd);
}

/* A pcap that cannot be written: the call says so, the traffic is not touched. */
static void pcap_full_disk(void **state)
{
    int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        skip();
    assert_int_equal(sk_trace_set_pcap(fd), -ENOSPC);
    assert_int_equal(sk_trace_pcap_error(), -ENOSPC);
    int sv[2];
    assert_int_equal(sk_socketpair(SOCK_STREAM, sv), 0);
    assert_int_equal(sk_send(sv[0], "abc", 3, 1000), 3);
    char buf[4];
    assert_int_equal(sk_recv(sv[1], buf, sizeof buf, 1000), 3);
    sk_close(sv[0]);
    sk_close(sv[1]);
    assert_int_equal(sk_trace_set_pcap(-1), 0);
    assert_int_equal(sk_trace_pcap_error(), 0);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hexdump_exact_format),
        cmocka_unit_test_setup_teardown(calls_and_data_lines, reset, off),
        cmocka_unit_test_setup_teardown(peer_names_cannot_forge_lines, reset, off),
        cmocka_unit_test_setup_teardown(transports_and_default_protocol, reset, off),
        cmocka_unit_test_setup_teardown(levels_and_truncation, reset, off),
        cmocka_unit_test_setup_teardown(to_an_fd, reset, off),
        cmocka_unit_test_setup_teardown(threads_never_interleave, reset, off),
        cmocka_unit_test_setup_teardown(json_events, reset, off),
        cmocka_unit_test_setup_teardown(pcap_blocks, reset, off),
        cmocka_unit_test_setup_teardown(pcap_from_threads, reset, off),
        cmocka_unit_test_setup_teardown(pcap_full_disk, reset, off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
