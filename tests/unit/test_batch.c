/* batch.c: recvmmsg / sendmmsg batches over UDP on loopback: every datagram with its length and
 * sender, a batch larger than what is waiting, the timeout, addressed and connected sends, more
 * than one system call's worth (over 256), and a send batch that fills the socket buffer. */
#include "sktest.h"

/* Two UDP sockets on 127.0.0.1; their addresses in *a, *b. */
static void udp_pair(int *fa, sk_addr *a, int *fb, sk_addr *b)
{
    sk_listen_opts o = SK_LISTEN_OPTS_INIT(.type = SOCK_DGRAM);
    *fa = sk_listen("127.0.0.1:0", &o);
    *fb = sk_listen("127.0.0.1:0", &o);
    assert_true(*fa >= 0 && *fb >= 0);
    sk_sock_get_local_addr(*fa, a);
    sk_sock_get_local_addr(*fb, b);
}

static void receives_each_datagram_with_its_sender(void **state)
{
    int fa, fb;
    sk_addr a, b;
    udp_pair(&fa, &a, &fb, &b);
    char out[5][16];
    sk_dgram send[5];
    for (int i = 0; i < 5; i++) {
        snprintf(out[i], sizeof out[i], "datagram %d%.*s", i, i, "xxxx");
        send[i] = (sk_dgram){.buf = out[i], .len = strlen(out[i]), .addr = b};
    }
    assert_int_equal(sk_send_batch(fa, send, 5, 1000), 5);
    char in[8][64];
    sk_dgram recv[8];
    for (int i = 0; i < 8; i++)
        recv[i] = (sk_dgram){.buf = in[i], .cap = sizeof in[i]};
    int got = 0;
    for (int tries = 0; got < 5 && tries < 5; tries++) {
        int n = sk_recv_batch(fb, recv + got, 8 - (size_t)got, 1000);
        assert_true(n >= 1);
        got += n;
    }
    assert_int_equal(got, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(recv[i].len, strlen(out[i]));
        assert_memory_equal(recv[i].buf, out[i], recv[i].len);
        assert_true(sk_addr_equal(&recv[i].addr, &a));
    }
    close(fa);
    close(fb);
}

static void times_out_when_nothing_comes(void **state)
{
    int fa, fb;
    sk_addr a, b;
    udp_pair(&fa, &a, &fb, &b);
    char buf[16];
    sk_dgram d = {.buf = buf, .cap = sizeof buf};
    int64_t t0 = t_now_ms();
    assert_int_equal(sk_recv_batch(fb, &d, 1, 150), -ETIMEDOUT);
    assert_elapsed(t0, 140, 1000);
    close(fa);
    close(fb);
}

/* More than one recvmmsg/sendmmsg call's worth, to a connected socket (addr.len 0). */
static void more_than_one_call_connected(void **state)
{
    int fa, fb;
    sk_addr a, b;
    udp_pair(&fa, &a, &fb, &b);
    sk_sock_set_rcvbuf(fb, 1 << 20);
    assert_int_equal(connect(fa, &b.u.sa, b.len), 0);
    enum { N = 300 };
    static uint32_t out[N];
    static sk_dgram send[N];
    for (uint32_t i = 0; i < N; i++) {
        out[i] = i;
        send[i] = (sk_dgram){.buf = &out[i], .len = sizeof out[i]}; /* addr.len 0: connected */
    }
    assert_int_equal(sk_send_batch(fa, send, N, 2000), N);
    static uint32_t in[N];
    static sk_dgram recv[N];
    for (int i = 0; i < N; i++)
        recv[i] = (sk_dgram){.buf = &in[i], .cap = sizeof in[i]};
    int got = 0;
    for (int tries = 0; got < N && tries < 50; tries++) {
        int n = sk_recv_batch(fb, recv + got, (size_t)(N - got), 1000);
        assert_true(n >= 1 && n <= 256); /* one system call holds at most 256 */
        got += n;
    }
    assert_int_equal(got, N);
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(in[i], i);
    close(fa);
    close(fb);
}

/* A Unix datagram socket whose peer does not read: the batch stops when the buffer is full and
 * the deadline passes, and says how many went. */
static void full_buffer_returns_the_count_so_far(void **state)
{
    int sv[2];
    assert_int_equal(sk_socketpair(SOCK_DGRAM, sv), 0);
    static char chunk[4096];
    static sk_dgram send[256];
    for (int i = 0; i < 256; i++)
        send[i] = (sk_dgram){.buf = chunk, .len = sizeof chunk};
    int64_t t0 = t_now_ms();
    int n = sk_send_batch(sv[0], send, 256, 200);
    assert_true(n > 0 && n < 256);
    assert_elapsed(t0, 190, 2000);
    assert_non_null(strstr(sk_errmsg(), "sendmmsg"));
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(receives_each_datagram_with_its_sender),
        cmocka_unit_test(times_out_when_nothing_comes),
        cmocka_unit_test(more_than_one_call_connected),
        cmocka_unit_test(full_buffer_returns_the_count_so_far),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
