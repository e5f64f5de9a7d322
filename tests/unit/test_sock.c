/* sock.c: create, options, send_all/recv_exact with partial I/O and deadlines, peer reset,
 * half-close, datagrams, frames, socketpair, sendfile. */
#include "sktest.h"

#include <netinet/tcp.h>
#include <signal.h>

struct pair {
    int lfd, a, b; /* a = client side, b = accepted server side */
};

static void tcp_pair(struct pair *p, const char *ep)
{
    int port;
    p->lfd = t_listener(ep, &port);
    sk_addr la;
    sk_sock_get_local_addr(p->lfd, &la);
    char text[SK_ADDRSTRLEN];
    sk_addr_format(&la, text, sizeof text);
    p->a = sk_connect(text, 1000);
    assert_true(p->a >= 0);
    p->b = sk_accept(p->lfd, NULL, 1000);
    assert_true(p->b >= 0);
}

static void pair_close(struct pair *p)
{
    close(p->a);
    close(p->b);
    close(p->lfd);
}

static void create_defaults(void **state)
{
    int fd = sk_socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    int proto = -1;
    socklen_t len = sizeof proto;
    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len);
    assert_int_equal(proto, IPPROTO_TCP); /* IPPROTO_IP (0): the default for SOCK_STREAM */
    assert_int_equal(sk_close(fd), 0);
    fd = sk_socket(AF_INET6, SOCK_DGRAM, IPPROTO_IP);
    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len);
    assert_int_equal(proto, IPPROTO_UDP);
    close(fd);
    assert_int_equal(sk_socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), -EPROTONOSUPPORT);
    assert_non_null(strstr(sk_errmsg(), "socket("));
    assert_int_equal(sk_close(-1), -EBADF);
}

static int getint(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
    return v;
}

static void options(void **state)
{
    int fd = sk_socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    assert_int_equal(sk_sock_set_nodelay(fd, true), 0);
    assert_int_equal(getint(fd, IPPROTO_TCP, TCP_NODELAY), 1);
    assert_int_equal(sk_sock_set_keepalive(fd, true, 30, 5, 4), 0);
    assert_int_equal(getint(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
    assert_int_equal(getint(fd, IPPROTO_TCP, TCP_KEEPIDLE), 30);
    assert_int_equal(getint(fd, IPPROTO_TCP, TCP_KEEPINTVL), 5);
    assert_int_equal(getint(fd, IPPROTO_TCP, TCP_KEEPCNT), 4);
    assert_int_equal(sk_sock_set_reuseaddr(fd, true), 0);
    assert_int_equal(getint(fd, SOL_SOCKET, SO_REUSEADDR), 1);
    assert_int_equal(sk_sock_set_reuseport(fd, true), 0);
    assert_int_equal(getint(fd, SOL_SOCKET, SO_REUSEPORT), 1);
    assert_int_equal(sk_sock_set_rcvbuf(fd, 65536), 0);
    assert_true(getint(fd, SOL_SOCKET, SO_RCVBUF) >= 65536); /* Linux doubles it */
    assert_int_equal(sk_sock_set_sndbuf(fd, 65536), 0);
    assert_true(getint(fd, SOL_SOCKET, SO_SNDBUF) >= 65536);
    assert_int_equal(sk_sock_set_linger(fd, true, 3), 0);
    struct linger l;
    socklen_t len = sizeof l;
    getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len);
    assert_true(l.l_onoff && l.l_linger == 3);
    assert_int_equal(sk_sock_set_timeouts(fd, 1500, 250), 0);
    struct timeval tv;
    len = sizeof tv;
    getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len);
    assert_true(tv.tv_sec == 1 && tv.tv_usec >= 490000 && tv.tv_usec <= 510000);
    assert_int_equal(sk_sock_set_timeouts(fd, -1, 0), SK_EARG);
    assert_int_equal(sk_sock_set_nonblock(fd, true), 0);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_int_equal(sk_sock_set_nonblock(fd, false), 0);
    assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
    close(fd);

    fd = sk_socket(AF_INET6, SOCK_STREAM, 0);
    assert_int_equal(sk_sock_set_v6only(fd, true), 0);
    assert_int_equal(getint(fd, IPPROTO_IPV6, IPV6_V6ONLY), 1);
    close(fd);
}

static void options_by_name(void **state)
{
    int fd = sk_socket(AF_INET, SOCK_STREAM, 0);
    int v = 0;
    assert_int_equal(sk_sock_set_option(fd, "TCP_NODELAY", 1), 0);
    assert_int_equal(sk_sock_get_option(fd, "TCP_NODELAY", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(sk_sock_set_option(fd, "IP_TTL", 17), 0);
    assert_int_equal(getint(fd, IPPROTO_IP, IP_TTL), 17);
    assert_int_equal(sk_sock_get_option(fd, "SO_TYPE", &v), 0);
    assert_int_equal(v, SOCK_STREAM);
    assert_int_equal(sk_sock_set_option(fd, "SO_NOSUCHTHING", 1), SK_EOPTION);
    assert_non_null(strstr(sk_errmsg(), "SO_NOSUCHTHING"));
    close(fd);
}

struct slow_reader {
    int fd;
    size_t expect;
    unsigned seed;
    int ok;
};

/* Reads in small pieces with pauses, so the sender meets a full buffer many times. */
static void *slow_read(void *arg)
{
    struct slow_reader *r = arg;
    unsigned char *want = malloc(r->expect), *got = malloc(r->expect);
    t_fill_random(want, r->expect, r->seed);
    size_t n = 0;
    while (n < r->expect) {
        ssize_t k = recv(r->fd, got + n, r->expect - n < 4096 ? r->expect - n : 4096, 0);
        if (k <= 0)
            break;
        n += (size_t)k;
        if ((n / 4096) % 16 == 0)
            usleep(1000);
    }
    r->ok = n == r->expect && !memcmp(want, got, n);
    free(want);
    free(got);
    return NULL;
}

static void send_all_partial_writes(void **state)
{
    struct pair p;
    tcp_pair(&p, "127.0.0.1:0");
    /* A tiny send buffer makes sends partial; the receive window stays 64 KiB, since a window of a
     * few KiB meets delayed ACKs (40 ms a round) and 1 MiB then took over 20 s on a busy machine.
     */
    sk_sock_set_sndbuf(p.a, 4096);
    sk_sock_set_rcvbuf(p.b, 65536);
    size_t len = 1 << 20;
    unsigned char *buf = malloc(len);
    t_fill_random(buf, len, 42);

    /* one send on a non-blocking socket with a tiny buffer is partial */
    sk_sock_set_nonblock(p.a, true);
    ssize_t first = sk_send(p.a, buf, len, 0);
    assert_true(first > 0 && (size_t)first < len);
    sk_sock_set_nonblock(p.a, false);

    struct slow_reader r = {.fd = p.b, .expect = len, .seed = 42};
    pthread_t t;
    pthread_create(&t, NULL, slow_read, &r);
    size_t sent = 0;
    assert_int_equal(sk_send_all(p.a, buf + first, len - (size_t)first, 20000, &sent), 0);
    assert_int_equal(sent, len - (size_t)first);
    pthread_join(t, NULL);
    assert_true(r.ok);
    free(buf);
    pair_close(&p);
}

static void send_all_timeout_reports_progress(void **state)
{
    struct pair p;
    tcp_pair(&p, "127.0.0.1:0");
    sk_sock_set_sndbuf(p.a, 4096);
    sk_sock_set_rcvbuf(p.b, 4096);
    size_t len = 8 << 20, sent = 0;
    unsigned char *buf = calloc(1, len);
    int64_t t0 = t_now_ms();
    assert_int_equal(sk_send_all(p.a, buf, len, 300, &sent), -ETIMEDOUT);
    assert_elapsed(t0, 290, 1200);
    assert_true(sent > 0 && sent < len);
    char want[96];
    snprintf(want, sizeof want, "sent %zu of %zu bytes", sent, len);
    assert_non_null(strstr(sk_errmsg(), want));
    free(buf);
    pair_close(&p);
}

static void recv_timeouts_and_eof(void **state)
{
    struct pair p;
    tcp_pair(&p, "[::1]:0"); /* IPv6 */
    char buf[64];
    int64_t t0 = t_now_ms();
    assert_int_equal(sk_recv(p.a, buf, sizeof buf, 200), -ETIMEDOUT);
    assert_elapsed(t0, 190, 800);

    assert_int_equal(sk_send_all(p.b, "abc", 3, 1000, NULL), 0);
    size_t got = 0;
    t0 = t_now_ms();
    assert_int_equal(sk_recv_exact(p.a, buf, 10, 250, &got), -ETIMEDOUT);
    assert_elapsed(t0, 240, 900);
    assert_int_equal(got, 3);
    assert_memory_equal(buf, "abc", 3);
    assert_non_null(strstr(sk_errmsg(), "got 3 of 10 bytes"));

    assert_int_equal(sk_send_all(p.b, "de", 2, 1000, NULL), 0);
    close(p.b);
    p.b = -1;
    assert_int_equal(sk_recv_exact(p.a, buf, 10, 1000, &got), SK_EEOF);
    assert_int_equal(got, 2);
    assert_int_equal(sk_recv(p.a, buf, sizeof buf, 1000), 0); /* orderly EOF */
    assert_int_equal(sk_recv(p.a, buf, sizeof buf, 0), 0);
    pair_close(&p);
}

static void peer_reset_no_sigpipe(void **state)
{
    /* The default SIGPIPE action would kill the test if any send raised it. */
    signal(SIGPIPE, SIG_DFL);
    struct pair p;
    tcp_pair(&p, "127.0.0.1:0");
    sk_sock_set_linger(p.b, true, 0); /* close sends RST */
    close(p.b);
    p.b = -1;
    char buf[16];
    usleep(50000);
    ssize_t r = sk_recv(p.a, buf, sizeof buf, 1000);
    assert_int_equal(r, -ECONNRESET);
    assert_non_null(strstr(sk_errmsg(), "Connection reset by peer"));
    size_t len = 1 << 20, sent = 0;
    unsigned char *data = calloc(1, len);
    int rc = sk_send_all(p.a, data, len, 1000, &sent);
    assert_true(rc == -EPIPE || rc == -ECONNRESET);
    free(data);
    pair_close(&p);
}

static void half_close_both_ways(void **state)
{
    struct pair p;
    tcp_pair(&p, "127.0.0.1:0");
    char buf[16];
    assert_int_equal(sk_send_all(p.a, "request", 7, 1000, NULL), 0);
    assert_int_equal(sk_shutdown(p.a, SHUT_WR), 0);
    assert_int_equal(sk_recv_exact(p.b, buf, 7, 1000, NULL), 0);
    assert_int_equal(sk_recv(p.b, buf, sizeof buf, 1000), 0); /* the client's write side ended */
    /* the other direction still flows */
    assert_int_equal(sk_send_all(p.b, "reply", 5, 1000, NULL), 0);
    assert_int_equal(sk_shutdown(p.b, SHUT_WR), 0);
    assert_int_equal(sk_recv_exact(p.a, buf, 5, 1000, NULL), 0);
    assert_memory_equal(buf, "reply", 5);
    assert_int_equal(sk_recv(p.a, buf, sizeof buf, 1000), 0);
    assert_int_equal(sk_shutdown(p.a, 7), -EINVAL);
    pair_close(&p);
}

static void datagrams_with_sender(void **state)
{
    sk_listen_opts o = SK_LISTEN_OPTS_INIT(.type = SOCK_DGRAM);
    int srv = sk_listen("[::1]:0", &o);
    assert_true(srv >= 0);
    sk_addr saddr;
    sk_sock_get_local_addr(srv, &saddr);
    int c1 = sk_socket(AF_INET6, SOCK_DGRAM, 0), c2 = sk_socket(AF_INET6, SOCK_DGRAM, 0);
    assert_int_equal(sk_sendto(c1, "one", 3, &saddr, 1000), 3);
    assert_int_equal(sk_sendto(c2, "two!", 4, &saddr, 1000), 4);
    char buf[16];
    sk_addr from1, from2, l1, l2;
    assert_int_equal(sk_recvfrom(srv, buf, sizeof buf, &from1, 1000), 3);
    assert_memory_equal(buf, "one", 3);
    assert_int_equal(sk_recvfrom(srv, buf, sizeof buf, &from2, 1000), 4);
    sk_sock_get_local_addr(c1, &l1);
    sk_sock_get_local_addr(c2, &l2);
    assert_true(sk_addr_port(&from1) == sk_addr_port(&l1));
    assert_true(sk_addr_port(&from2) == sk_addr_port(&l2));
    /* replies go back to each sender */
    assert_int_equal(sk_sendto(srv, "r2", 2, &from2, 1000), 2);
    assert_int_equal(sk_recvfrom(c2, buf, sizeof buf, NULL, 1000), 2);
    int64_t t0 = t_now_ms();
    assert_int_equal(sk_recvfrom(c1, buf, sizeof buf, NULL, 150), -ETIMEDOUT);
    assert_elapsed(t0, 140, 700);
    /* a datagram bigger than the buffer is truncated to it */
    assert_int_equal(sk_sendto(c1, "0123456789", 10, &saddr, 1000), 10);
    assert_int_equal(sk_recvfrom(srv, buf, 4, NULL, 1000), 4);
    close(c1);
    close(c2);
    close(srv);
}

static void frames_on_the_wire(void **state)
{
    int sv[2];
    assert_int_equal(sk_socketpair(SOCK_STREAM, sv), 0);
    assert_true(fcntl(sv[0], F_GETFD) & FD_CLOEXEC);
    assert_int_equal(sk_send_frame(sv[0], 2, "hi", 2, 1000), 0);
    assert_int_equal(sk_send_frame(sv[0], 4, "", 0, 1000), 0);
    unsigned char buf[16];
    assert_int_equal(sk_recv_exact(sv[1], buf, 8, 1000, NULL), 0);
    const unsigned char want[] = {0, 2, 'h', 'i', 0, 0, 0, 0};
    assert_memory_equal(buf, want, 8);
    static char big[70000];
    assert_int_equal(sk_send_frame(sv[0], 2, big, sizeof big, 1000), SK_ETOOLONG);
    assert_int_equal(sk_send_frame(sv[0], 3, "x", 1, 1000), SK_EARG);
    close(sv[0]);
    close(sv[1]);

    assert_int_equal(sk_socketpair(SOCK_DGRAM, sv), 0);
    assert_int_equal(sk_send(sv[0], "d1", 2, 1000), 2);
    assert_int_equal(sk_recv(sv[1], buf, sizeof buf, 1000), 2);
    close(sv[0]);
    close(sv[1]);
    assert_int_equal(sk_socketpair(SOCK_SEQPACKET, sv), 0);
    close(sv[0]);
    close(sv[1]);
}

static void sendfile_range(void **state)
{
    char path[] = "/tmp/sockkit-sendfile-XXXXXX";
    int file = mkstemp(path);
    assert_true(file >= 0);
    unlink(path);
    size_t flen = 300000;
    unsigned char *data = malloc(flen);
    t_fill_random(data, flen, 7);
    assert_int_equal(write(file, data, flen), (ssize_t)flen);

    struct pair p;
    tcp_pair(&p, "127.0.0.1:0");
    size_t sent = 0;
    unsigned char *got = malloc(200000);
    /* Buffers large enough to hold the whole range, so nobody needs to read while it is sent. */
    sk_sock_set_rcvbuf(p.b, 1 << 20);
    sk_sock_set_sndbuf(p.a, 1 << 20);
    assert_int_equal(sk_sendfile(p.a, file, 1000, 200000, 5000, &sent), 0);
    assert_int_equal(sent, 200000);
    assert_int_equal(sk_recv_exact(p.b, got, 200000, 5000, NULL), 0);
    assert_memory_equal(got, data + 1000, 200000);
    /* the caller's blocking mode is restored */
    assert_false(fcntl(p.a, F_GETFL) & O_NONBLOCK);
    /* past the end of the file: SK_EEOF with what was sent */
    assert_int_equal(sk_sendfile(p.a, file, flen - 10, 100, 1000, &sent), SK_EEOF);
    assert_int_equal(sent, 10);
    free(got);
    free(data);
    close(file);
    pair_close(&p);
}

/* sendfile(2) has no MSG_NOSIGNAL: sk_sendfile to a closed peer is -EPIPE (or -ECONNRESET), never
 * a SIGPIPE, and a SIGPIPE the caller had pending stays pending. */
static void sendfile_no_sigpipe(void **state)
{
    signal(SIGPIPE, SIG_DFL); /* the default action would kill the test */
    char path[] = "/tmp/sockkit-sendfile-XXXXXX";
    int file = mkstemp(path);
    assert_true(file >= 0);
    unlink(path);
    size_t flen = 1 << 20;
    unsigned char *data = calloc(1, flen);
    assert_int_equal(write(file, data, flen), (ssize_t)flen);
    int sv[2];
    assert_int_equal(sk_socketpair(SOCK_STREAM, sv), 0);
    close(sv[1]);
    size_t sent = 99;
    int rc = sk_sendfile(sv[0], file, 0, flen, 1000, &sent);
    assert_true(rc == -EPIPE || rc == -ECONNRESET);
    assert_int_equal(sent, 0);
    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE));

    /* One the caller raised and blocked itself is left for the caller. */
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    raise(SIGPIPE);
    assert_true(sk_sendfile(sv[0], file, 0, flen, 1000, &sent) < 0);
    sigpending(&pending);
    assert_true(sigismember(&pending, SIGPIPE));
    int sig = 0;
    assert_int_equal(sigwait(&pipe_set, &sig), 0);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    free(data);
    close(file);
    close(sv[0]);
}

static void wait_for_readiness(void **state)
{
    int sv[2];
    sk_socketpair(SOCK_STREAM, sv);
    assert_true(sk_wait(sv[0], SK_WRITABLE, 0) & SK_WRITABLE);
    int64_t t0 = t_now_ms();
    assert_int_equal(sk_wait(sv[0], SK_READABLE, 100), -ETIMEDOUT);
    assert_elapsed(t0, 95, 600);
    write(sv[1], "x", 1);
    assert_true(sk_wait(sv[0], SK_READABLE, 1000) & SK_READABLE);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_defaults),
        cmocka_unit_test(options),
        cmocka_unit_test(options_by_name),
        cmocka_unit_test(send_all_partial_writes),
        cmocka_unit_test(send_all_timeout_reports_progress),
        cmocka_unit_test(recv_timeouts_and_eof),
        cmocka_unit_test(peer_reset_no_sigpipe),
        cmocka_unit_test(half_close_both_ways),
        cmocka_unit_test(datagrams_with_sender),
        cmocka_unit_test(frames_on_the_wire),
        cmocka_unit_test(sendfile_range),
        cmocka_unit_test(sendfile_no_sigpipe),
        cmocka_unit_test(wait_for_readiness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
