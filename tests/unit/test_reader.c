/* reader.c: lines, delimiters, exact lengths, frames, leftovers, EOF, timeouts, pipes. */
#include "sktest.h"

static int sv[2];

static int setup(void **state)
{
    return sk_socketpair(SOCK_STREAM, sv);
}

static int teardown(void **state)
{
    close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    return 0;
}

static void put(const void *data, size_t n)
{
    assert_int_equal(sk_send_all(sv[1], data, n, 1000, NULL), 0);
}

static void lines_lf_crlf_and_leftovers(void **state)
{
    sk_reader *r;
    assert_int_equal(sk_reader_new(&r, sv[0], 0), 0);
    put("one\ntwo\r\n\nthree", 15);
    char buf[32];
    assert_int_equal(sk_reader_line(r, buf, sizeof buf, 1000), 3);
    assert_string_equal(buf, "one");
    assert_int_equal(sk_reader_line(r, buf, sizeof buf, 1000), 3);
    assert_string_equal(buf, "two");
    assert_int_equal(sk_reader_line(r, buf, sizeof buf, 1000), 0); /* empty line */
    assert_string_equal(buf, "");
    assert_int_equal(sk_reader_buffered(r), 5); /* "three" waits for its newline */
    /* a different kind of read sees the leftover first */
    assert_int_equal(sk_reader_exact(r, buf, 3, 1000), 0);
    assert_memory_equal(buf, "thr", 3);
    put("ee\n", 3);
    assert_int_equal(sk_reader_line(r, buf, sizeof buf, 1000), 4);
    assert_string_equal(buf, "eeee");
    sk_reader_free(r);
}

struct trickle {
    int fd;
    const char *data;
    size_t len;
    int delay_us;
};

static void *trickle_writer(void *arg)
{
    struct trickle *t = arg;
    for (size_t i = 0; i < t->len; i++) {
        send(t->fd, t->data + i, 1, MSG_NOSIGNAL);
        usleep(t->delay_us);
    }
    return NULL;
}

static void line_split_over_single_bytes(void **state)
{
    sk_reader *r;
    assert_int_equal(sk_reader_new(&r, sv[0], 0), 0);
    const char *msg = "a line written one byte at a time\r\nnext";
    struct trickle t = {sv[1], msg, strlen(msg), 200};
    pthread_t th;
    pthread_create(&th, NULL, trickle_writer, &t);
    char buf[64];
    assert_int_equal(sk_reader_line(r, buf, sizeof buf, 5000), 33);
    assert_string_equal(buf, "a line written one byte at a time");
    pthread_join(th, NULL);
    /* "some" returns what is buffered (part of "next" may have come with the line) before it
     * reads again: collect until all four bytes are here */
    size_t got = 0;
    while (got < 4) {
        ssize_t n = sk_reader_some(r, buf + got, sizeof buf - got, 1000);
        assert_true(n > 0);
        got += (size_t)n;
    }
    assert_int_equal(got, 4);
    assert_memory_equal(buf, "next", 4);
    sk_reader_free(r);
}

static void line_too_long(void **state)
{
    sk_reader *r;
    assert_int_equal(sk_reader_new(&r, sv[0], 0), 0);
    put("0123456789abcdef\n", 17);
    char buf[8];
    assert_int_equal(sk_reader_line(r, buf, sizeof buf, 1000), SK_ETOOLONG);
    assert_non_null(strstr(sk_errmsg(), "no terminator within 7 bytes"));
    /* the bytes stay buffered and can be drained */
    assert_int_equal(sk_reader_buffered(r), 17);
    char big[32];
    assert_int_equal(sk_reader_line(r, big, sizeof big, 1000), 16);
    sk_reader_free(r);

    /* a line longer than the reader's own buffer */
    assert_int_equal(sk_reader_new(&r, sv[0], 16), 0);
    put("0123456789abcdefghijklmnop\n", 27);
    char huge[64];
    assert_int_equal(sk_reader_line(r, huge, sizeof huge, 1000), SK_ETOOLONG);
    assert_non_null(strstr(sk_errmsg(), "16-byte buffer"));
    sk_reader_free(r);
}

static void delimiters_straddling_reads(void **state)
{
    sk_reader *r;
    assert_int_equal(sk_reader_new(&r, sv[0], 0), 0);
    char buf[32];
    /* "--END--" split across two writes with a pause, so it spans two reads */
    put("first--E", 8);
    struct trickle t = {sv[1], "ND--second--END--", 17, 3000};
    pthread_t th;
    pthread_create(&th, NULL, trickle_writer, &t);
    assert_int_equal(sk_reader_until(r, "--END--", 7, buf, sizeof buf, 5000), 5);
    assert_memory_equal(buf, "first", 5);
    assert_int_equal(sk_reader_until(r, "--END--", 7, buf, sizeof buf, 5000), 6);
    assert_memory_equal(buf, "second", 6);
    pthread_join(th, NULL);
    /* a delimiter with NUL bytes */
    put("x\0\0y\0\0", 6);
    assert_int_equal(sk_reader_until(r, "\0\0", 2, buf, sizeof buf, 1000), 1);
    assert_int_equal(sk_reader_until(r, "\0\0", 2, buf, sizeof buf, 1000), 1);
    assert_int_equal(buf[0], 'y');
    assert_int_equal(sk_reader_until(r, "", 0, buf, sizeof buf, 1000), SK_EARG);
    sk_reader_free(r);
}

static void exact_across_and_beyond_the_buffer(void **state)
{
    sk_reader *r;
    assert_int_equal(sk_reader_new(&r, sv[0], 64), 0);
    unsigned char data[1000], got[1000];
    t_fill_random(data, sizeof data, 3);
    put(data, 100);
    assert_int_equal(sk_reader_exact(r, got, 10, 1000), 0);
    assert_memory_equal(got, data, 10);
    /* 50 bytes across the 64-byte buffer's end: compaction */
    assert_int_equal(sk_reader_exact(r, got, 50, 1000), 0);
    assert_memory_equal(got, data + 10, 50);
    put(data + 100, 900);
    /* larger than the buffer: straight into the caller's memory */
    assert_int_equal(sk_reader_exact(r, got, 940, 2000), 0);
    assert_memory_equal(got, data + 60, 940);
    assert_int_equal(sk_reader_buffered(r), 0);
    sk_reader_free(r);
}

/* A frame larger than the reader's buffer that times out half way: the retry reads the same frame
 * (the header used to be consumed first, so the retry took payload bytes for a length). */
static void frame_retry_after_timeout(void **state)
{
    sk_reader *small;
    assert_int_equal(sk_reader_new(&small, sv[0], 16), 0);
    static unsigned char big[3000], out[3000];
    t_fill_random(big, sizeof big, 11);
    unsigned char frame[2 + sizeof big] = {sizeof big >> 8, sizeof big & 0xff};
    memcpy(frame + 2, big, sizeof big);
    assert_int_equal(sk_send_all(sv[1], frame, 1002, 1000, NULL), 0); /* header + 1000 bytes */
    assert_int_equal(sk_reader_frame(small, 2, out, sizeof out, 100), -ETIMEDOUT);
    assert_int_equal(sk_send_all(sv[1], frame + 1002, sizeof frame - 1002, 1000, NULL), 0);
    assert_int_equal(sk_reader_frame(small, 2, out, sizeof out, 1000), (ssize_t)sizeof big);
    assert_memory_equal(out, big, sizeof big);
    /* and the stream is in step for the next frame */
    assert_int_equal(sk_send_frame(sv[1], 2, "next", 4, 1000), 0);
    assert_int_equal(sk_reader_frame(small, 2, out, sizeof out, 1000), 4);
    assert_memory_equal(out, "next", 4);
    sk_reader_free(small);
}

static void frames_u16_u32(void **state)
{
    sk_reader *r;
    assert_int_equal(sk_reader_new(&r, sv[0], 0), 0);
    assert_int_equal(sk_send_frame(sv[1], 2, "hello", 5, 1000), 0);
    assert_int_equal(sk_send_frame(sv[1], 4, "", 0, 1000), 0);
    assert_int_equal(sk_send_frame(sv[1], 4, "world!", 6, 1000), 0);
    char buf[16];
    assert_int_equal(sk_reader_frame(r, 2, buf, sizeof buf, 1000), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(sk_reader_frame(r, 4, buf, sizeof buf, 1000), 0);
    /* too long for cap: SK_ETOOLONG and the frame is left unread */
    assert_int_equal(sk_reader_frame(r, 4, buf, 3, 1000), SK_ETOOLONG);
    assert_non_null(strstr(sk_errmsg(), "6-byte frame"));
    assert_int_equal(sk_reader_frame(r, 4, buf, sizeof buf, 1000), 6);
    assert_memory_equal(buf, "world!", 6);
    assert_int_equal(sk_reader_frame(r, 3, buf, sizeof buf, 1000), SK_EARG);

    /* a frame larger than the reader's buffer */
    sk_reader *small;
    assert_int_equal(sk_reader_new(&small, sv[0], 8), 0);
    static unsigned char big[5000], out[5000];
    t_fill_random(big, sizeof big, 9);
    assert_int_equal(sk_send_frame(sv[1], 2, big, 3000, 1000), 0);
    assert_int_equal(sk_reader_frame(small, 2, out, sizeof out, 1000), 3000);
    assert_memory_equal(out, big, 3000);
    sk_reader_free(small);
    sk_reader_free(r);
}

static void eof_mid_message_and_clean(void **state)
{
    sk_reader *r;
    assert_int_equal(sk_reader_new(&r, sv[0], 0), 0);
    char buf[32];
    put("partial", 7);
    sk_shutdown(sv[1], SHUT_WR);
    assert_int_equal(sk_reader_line(r, buf, sizeof buf, 1000), SK_EEOF);
    assert_non_null(strstr(sk_errmsg(), "7 bytes without a terminator"));
    sk_reader_free(r);
}

static void eof_codes(void **state)
{
    sk_reader *r;
    assert_int_equal(sk_reader_new(&r, sv[0], 0), 0);
    char buf[32];
    put("\x00\x05"
        "abc",
        5);
    sk_shutdown(sv[1], SHUT_WR);
    assert_int_equal(sk_reader_frame(r, 2, buf, sizeof buf, 1000), SK_EEOF); /* mid-frame */
    assert_int_equal(sk_reader_some(r, buf, sizeof buf, 1000), 5);           /* drain */
    assert_int_equal(sk_reader_some(r, buf, sizeof buf, 1000), 0);           /* clean EOF */
    assert_int_equal(sk_reader_line(r, buf, sizeof buf, 1000), SK_EEOF);
    assert_int_equal(sk_reader_exact(r, buf, 1, 1000), SK_EEOF);
    sk_reader_free(r);
}

/* A zero-capacity read never touches the socket: recv(fd, buf, 0) returns 0, which once set EOF
 * for good and lost the bytes that were waiting. Every entry point, nothing buffered. */
static void zero_length_reads_keep_the_stream(void **state)
{
    sk_reader *r;
    assert_int_equal(sk_reader_new(&r, sv[0], 16), 0);
    char buf[64];
    assert_int_equal(sk_reader_some(r, buf, 0, 100), SK_EARG);
    assert_non_null(strstr(sk_errmsg(), "zero-size buffer"));
    assert_int_equal(sk_reader_exact(r, buf, 0, 100), 0);
    assert_int_equal(sk_reader_line(r, buf, 0, 100), SK_EARG);
    put("waiting\n", 8);
    assert_int_equal(sk_reader_some(r, buf, 0, 100), SK_EARG);
    assert_int_equal(sk_reader_some(r, buf, 3, 1000), 3);      /* the stream is still there */
    assert_int_equal(sk_reader_some(r, buf, 0, 100), SK_EARG); /* now with bytes buffered */
    assert_int_equal(sk_reader_exact(r, buf, 0, 100), 0);
    assert_int_equal(sk_reader_line(r, buf, sizeof buf, 1000), 4);
    assert_string_equal(buf, "ting");
    put("\x00\x00"
        "!",
        3); /* an empty frame into a zero-size buffer, then a delimiter at once */
    assert_int_equal(sk_reader_frame(r, 2, buf, 0, 1000), 0);
    assert_int_equal(sk_reader_until(r, "!", 1, buf, 0, 1000), 0);
    assert_int_equal(sk_reader_buffered(r), 0);
    assert_int_equal(sk_reader_some(r, buf, 0, 100), SK_EARG);
    put("more than the 16-byte buffer", 28); /* exact beyond the buffer reads straight into buf */
    assert_int_equal(sk_reader_exact(r, buf, 28, 1000), 0);
    assert_memory_equal(buf, "more than the 16-byte buffer", 28);
    sk_shutdown(sv[1], SHUT_WR);
    assert_int_equal(sk_reader_some(r, buf, sizeof buf, 1000), 0); /* the real EOF still shows */
    sk_reader_free(r);
}

static void timeout_keeps_partial_data(void **state)
{
    sk_reader *r;
    assert_int_equal(sk_reader_new(&r, sv[0], 0), 0);
    char buf[32];
    put("no newline yet", 14);
    int64_t t0 = t_now_ms();
    assert_int_equal(sk_reader_line(r, buf, sizeof buf, 200), -ETIMEDOUT);
    assert_elapsed(t0, 190, 800);
    assert_non_null(strstr(sk_errmsg(), "read line fd"));
    assert_int_equal(sk_reader_buffered(r), 14);
    put("\n", 1);
    assert_int_equal(sk_reader_line(r, buf, sizeof buf, 1000), 14);
    t0 = t_now_ms();
    assert_int_equal(sk_reader_exact(r, buf, 4, 150), -ETIMEDOUT);
    assert_elapsed(t0, 140, 700);
    assert_int_equal(sk_reader_some(r, buf, sizeof buf, 0), -ETIMEDOUT);
    sk_reader_free(r);
}

static void works_on_tcp_and_pipes(void **state)
{
    int port;
    int lfd = t_listener("127.0.0.1:0", &port);
    char ep[32];
    snprintf(ep, sizeof ep, "127.0.0.1:%d", port);
    int c = sk_connect(ep, 1000), s = sk_accept(lfd, NULL, 1000);
    sk_reader *r;
    assert_int_equal(sk_reader_new(&r, s, 0), 0);
    sk_send_all(c, "GET / HTTP/1.0\r\nHost: x\r\n\r\n", 27, 1000, NULL);
    char buf[64];
    assert_int_equal(sk_reader_until(r, "\r\n\r\n", 4, buf, sizeof buf, 1000), 23);
    assert_int_equal(sk_reader_fd(r), s);
    sk_reader_free(r);
    close(c);
    close(s);
    close(lfd);

    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(sk_reader_new(&r, p[0], 0), 0);
    write(p[1], "from a pipe\n", 12);
    assert_int_equal(sk_reader_line(r, buf, sizeof buf, 1000), 11);
    assert_string_equal(buf, "from a pipe");
    int64_t t0 = t_now_ms(); /* a blocking pipe still honours the deadline */
    assert_int_equal(sk_reader_line(r, buf, sizeof buf, 150), -ETIMEDOUT);
    assert_elapsed(t0, 140, 700);
    close(p[1]);
    assert_int_equal(sk_reader_some(r, buf, sizeof buf, 1000), 0);
    sk_reader_free(r);
    close(p[0]);
}

/* One constructor style: a code and an out-parameter, with a message, as sk_loop_new. */
static void new_reports_bad_arguments(void **state)
{
    sk_reader *r = NULL;
    assert_int_equal(sk_reader_new(&r, -1, 0), SK_EARG);
    assert_null(r);
    assert_non_null(strstr(sk_errmsg(), "reader new"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_reports_bad_arguments),
        cmocka_unit_test_setup_teardown(lines_lf_crlf_and_leftovers, setup, teardown),
        cmocka_unit_test_setup_teardown(line_split_over_single_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(line_too_long, setup, teardown),
        cmocka_unit_test_setup_teardown(delimiters_straddling_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(exact_across_and_beyond_the_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(frames_u16_u32, setup, teardown),
        cmocka_unit_test_setup_teardown(frame_retry_after_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(eof_mid_message_and_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(eof_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(zero_length_reads_keep_the_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(timeout_keeps_partial_data, setup, teardown),
        cmocka_unit_test_setup_teardown(works_on_tcp_and_pipes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
