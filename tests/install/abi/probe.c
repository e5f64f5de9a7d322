/* The program of tests/install/abi_grow.sh: every sized struct of the API (sk_listen_opts,
 * sk_connect_opts, sk_server_opts, sk_event_handlers, sk_server_stats, sk_proxy_opts), each
 * followed in memory by a canary a library that read or wrote past the caller's struct would see or
 * overwrite. An event server echoes one message to a client; then the counters are checked. Prints
 * "ok" and exits 0.
 *
 * Built with -DSK_PROBE_NEWER against a header whose structs have gained a field (added_later),
 * it sets that field on the listen options and expects an older library to refuse it (SK_EARG)
 * rather than ignore it. */
#include <sockkit.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CANARY 0x5a5aa5a5c3c33c3cull

#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "probe: %s (%s)\n", what, sk_errmsg());                                \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static void on_data(sk_conn *c, const void *data, size_t len)
{
    sk_conn_write(c, data, len);
}

static struct {
    sk_event_handlers h;
    uint64_t canary;
} handlers = {SK_EVENT_HANDLERS_INIT(.on_data = on_data), CANARY};

static void *serve(void *srv)
{
    sk_server_serve_forever(srv, 100);
    return NULL;
}

int main(void)
{
    struct {
        sk_listen_opts o;
        uint64_t canary;
    } lo = {SK_LISTEN_OPTS_INIT(.type = SOCK_DGRAM), CANARY};
#ifdef SK_PROBE_NEWER
    lo.o.added_later = 1;
    CHECK(sk_listen("127.0.0.1:0", &lo.o) == SK_EARG, "a set field the library lacks is refused");
    lo.o.added_later = 0;
#endif
    int dfd = sk_listen("127.0.0.1:0", &lo.o);
    CHECK(dfd >= 0, "listen with sk_listen_opts");
    sk_close(dfd);

    struct {
        sk_server_opts o;
        uint64_t canary;
    } so = {SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .model = SK_MODEL_EVENT, .workers = 1,
                                .events = &handlers.h),
            CANARY};
    sk_server *srv;
    CHECK(sk_server_open(&srv, &so.o) == 0, "server open with sk_server_opts");
    sk_addr a;
    char ep[SK_ADDRSTRLEN];
    sk_server_get_addr(srv, &a);
    sk_addr_format(&a, ep, sizeof ep);
    pthread_t t;
    pthread_create(&t, NULL, serve, srv);

    struct {
        sk_connect_opts o;
        uint64_t canary;
    } co = {SK_CONNECT_OPTS_INIT(.numeric = true), CANARY};
    int fd = sk_connect_ex(ep, &co.o, 5000);
    CHECK(fd >= 0, "connect with sk_connect_opts");
    char buf[16] = {0};
    CHECK(sk_send_all(fd, "hello", 5, 5000, NULL) == 0, "send");
    CHECK(sk_recv_exact(fd, buf, 5, 5000, NULL) == 0 && !memcmp(buf, "hello", 5), "echo");
    sk_close(fd);

    struct {
        sk_proxy_opts o;
        uint64_t canary;
    } po = {SK_PROXY_OPTS_INIT(.kind = SK_PROXY_HTTP), CANARY};
    sk_proxy *px;
    CHECK(sk_proxy_new(&px, "example.org:443", &po.o) == 0, "proxy with sk_proxy_opts");
    const void *req;
    size_t reqlen = sk_proxy_output(px, &req);
    CHECK(reqlen > 8 && !memcmp(req, "CONNECT ", 8), "an HTTP CONNECT request");
    sk_proxy_free(px);

    sk_server_shutdown(srv);
    pthread_join(t, NULL);
    sk_server_drain(srv, 2000);
    struct {
        sk_server_stats st;
        uint64_t canary;
    } st = {SK_SERVER_STATS_INIT(), CANARY};
    CHECK(sk_server_get_stats(srv, &st.st) == 0, "stats");
    sk_server_close(srv);
    CHECK(st.canary == CANARY, "the library wrote past the caller's sk_server_stats");
    CHECK(st.st.accepted == 1 && st.st.bytes_in == 5 && st.st.bytes_out == 5, "counters");
    CHECK(lo.canary == CANARY && so.canary == CANARY && co.canary == CANARY &&
              handlers.canary == CANARY && po.canary == CANARY,
          "canaries");
    printf("ok (sizes: listen %zu, connect %zu, server %zu, handlers %zu, stats %zu)\n",
           sizeof lo.o, sizeof co.o, sizeof so.o, sizeof handlers.h, sizeof st.st);
    return 0;
}
