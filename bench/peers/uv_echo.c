/* An echo server written with libuv's public API. usage: uv_echo PORT; prints "port N". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uv_loop_t *loop;

struct wreq {
    uv_write_t req;
    uv_buf_t buf;
};

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    buf->base = malloc(65536);
    buf->len = 65536;
}

static void close_cb(uv_handle_t *h)
{
    free(h);
}

static void write_cb(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    free(w->buf.base);
    free(w);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    if (n > 0) {
        struct wreq *w = malloc(sizeof *w);
        w->buf = uv_buf_init(buf->base, (unsigned)n);
        uv_write(&w->req, s, &w->buf, 1, write_cb);
        return;
    }
    free(buf->base);
    if (n < 0)
        uv_close((uv_handle_t *)s, close_cb);
}

static void on_conn(uv_stream_t *server, int status)
{
    uv_tcp_t *c = malloc(sizeof *c);
    uv_tcp_init(loop, c);
    if (uv_accept(server, (uv_stream_t *)c) == 0) {
        uv_tcp_nodelay(c, 1);
        uv_read_start((uv_stream_t *)c, alloc_cb, read_cb);
    } else {
        uv_close((uv_handle_t *)c, close_cb);
    }
}

int main(int argc, char **argv)
{
    loop = uv_default_loop();
    uv_tcp_t server;
    uv_tcp_init(loop, &server);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", argc > 1 ? atoi(argv[1]) : 0, &a);
    uv_tcp_bind(&server, (const struct sockaddr *)&a, 0);
    if (uv_listen((uv_stream_t *)&server, 4096, on_conn))
        return 1;
    int len = sizeof a;
    uv_tcp_getsockname(&server, (struct sockaddr *)&a, &len);
    printf("port %d\n", ntohs(a.sin_port));
    fflush(stdout);
    return uv_run(loop, UV_RUN_DEFAULT);
}
