/* src/tls*.c: TLS connections over socketpairs, both sides ours (the server in a thread): the
 * handshake and its failures with their reasons, plaintext both ways (send-all, recv-exact, the
 * reader's lines and frames), close_notify against a bare TCP end, ALPN, resumption. The event
 * model: a failed handshake reported once to on_error (no on_open or on_close), outbound TLS
 * through sk_conn_connect joined to a plain client, TLS started later (sk_conn_start_tls). The
 * peers no one here wrote (openssl s_server / s_client, Python's ssl) are in
 * tests/interop/tls_*.py. */
#include "sktest.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum server_end { END_CLOSE_NOTIFY, END_TRUNCATE };

struct peer {
    sk_tls_ctx *ctx;
    int fd;
    const char *reply; /* sent after the handshake */
    size_t reply_len;
    enum server_end end;
    int rc; /* sk_tls_open's */
    sk_tls_info info;
};

static void *server_side(void *arg)
{
    struct peer *p = arg;
    sk_tls *t = NULL;
    p->info = (sk_tls_info)SK_TLS_INFO_INIT;
    p->rc = sk_tls_open(&t, p->ctx, p->fd, NULL, 5000);
    if (p->rc == 0) {
        sk_tls_get_info(t, &p->info);
        if (p->reply_len)
            sk_tls_send_all(t, p->reply, p->reply_len, 5000, NULL);
        if (p->end == END_CLOSE_NOTIFY)
            sk_tls_shutdown(t, 5000);
    }
    shutdown(p->fd, SHUT_RDWR); /* TCP ends; after close_notify or without it */
    sk_tls_close(t);
    return NULL;
}

static sk_tls_ctx *server_ctx(const char *alpn)
{
    sk_tls_ctx *c = NULL;
    sk_tls_opts o = SK_TLS_OPTS_INIT(.self_signed = true, .alpn = alpn);
    assert_int_equal(sk_tls_ctx_new(&c, SK_TLS_SERVER, &o), 0);
    return c;
}

static sk_tls_ctx *client_ctx(bool insecure, const char *alpn)
{
    sk_tls_ctx *c = NULL;
    sk_tls_opts o = SK_TLS_OPTS_INIT(.insecure_skip_verify = insecure, .alpn = alpn);
    assert_int_equal(sk_tls_ctx_new(&c, SK_TLS_CLIENT, &o), 0);
    return c;
}

/* A connection: the server thread runs on sv[1]; returns the client's sk_tls_open code. */
static int start(struct peer *p, pthread_t *th, int sv[2], sk_tls_ctx *client, const char *host,
                 sk_tls **out)
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    p->fd = sv[1];
    assert_int_equal(pthread_create(th, NULL, server_side, p), 0);
    return sk_tls_open(out, client, sv[0], host, 5000);
}

static void finish(pthread_t th, int sv[2], sk_tls *t)
{
    if (!t)
        shutdown(sv[0], SHUT_RDWR); /* a failed handshake: let the server side see the end */
    pthread_join(th, NULL);
    sk_tls_close(t);
    close(sv[0]);
    close(sv[1]);
}

static void self_signed_refused_by_default(void **state)
{
    (void)state;
    struct peer p = {.ctx = server_ctx(NULL)};
    sk_tls_ctx *c = client_ctx(false, NULL);
    pthread_t th;
    int sv[2];
    sk_tls *t = NULL;
    int rc = start(&p, &th, sv, c, "localhost", &t);
    assert_int_equal(rc, SK_ETLSVERIFY);
    assert_non_null(strstr(sk_errmsg(), "certificate verify failed: self-signed certificate"));
    assert_non_null(strstr(sk_errmsg(), "(host localhost)"));
    assert_null(strstr(sk_errmsg(), ":error:")); /* no OpenSSL error stack */
    finish(th, sv, t);
    sk_tls_ctx_free(c);
    sk_tls_ctx_free(p.ctx);
}

static void verify_needs_a_host(void **state)
{
    (void)state;
    sk_tls_ctx *c = client_ctx(false, NULL);
    sk_tls *t = NULL;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(sk_tls_open(&t, c, sv[0], NULL, 1000), SK_EARG);
    close(sv[0]);
    close(sv[1]);
    sk_tls_ctx_free(c);
}

static void data_both_ways_and_close_notify(void **state)
{
    (void)state;
    static char big[300000];
    t_fill_random((unsigned char *)big, sizeof big, 17);
    struct peer p = {.ctx = server_ctx("x-other,x-sk"), .reply = big, .reply_len = sizeof big};
    sk_tls_ctx *c = client_ctx(true, "x-sk");
    pthread_t th;
    int sv[2];
    sk_tls *t = NULL;
    assert_int_equal(start(&p, &th, sv, c, "localhost", &t), 0);
    static char got[sizeof big];
    size_t n = 0;
    assert_int_equal(sk_tls_recv_exact(t, got, sizeof got, 5000, &n), 0);
    assert_int_equal(n, sizeof big);
    assert_memory_equal(got, big, sizeof big);
    char one;
    assert_int_equal(sk_tls_recv(t, &one, 1, 5000), 0); /* close_notify: a clean end */
    sk_tls_info i = SK_TLS_INFO_INIT;
    assert_int_equal(sk_tls_get_info(t, &i), 0);
    assert_string_equal(i.alpn, "x-sk");
    assert_string_equal(i.version, "TLSv1.3");
    assert_true(i.peer_cert);
    assert_false(i.verified); /* insecure: not verified, and said so */
    assert_string_equal(i.peer_subject, "CN=localhost,O=sockkit throw-away");
    finish(th, sv, t);
    assert_string_equal(p.info.alpn, "x-sk");
    assert_string_equal(p.info.server_name, "localhost");
    sk_tls_ctx_free(c);
    sk_tls_ctx_free(p.ctx);
}

static void truncation_is_an_error(void **state)
{
    (void)state;
    const char msg[] = "line one\npartial";
    struct peer p = {
        .ctx = server_ctx(NULL), .reply = msg, .reply_len = sizeof msg - 1, .end = END_TRUNCATE};
    sk_tls_ctx *c = client_ctx(true, NULL);
    pthread_t th;
    int sv[2];
    sk_tls *t = NULL;
    assert_int_equal(start(&p, &th, sv, c, "localhost", &t), 0);
    sk_reader *r = NULL;
    assert_int_equal(sk_reader_new_tls(&r, t, 0), 0);
    char line[64];
    assert_int_equal(sk_reader_line(r, line, sizeof line, 5000), 8);
    assert_string_equal(line, "line one");
    assert_int_equal(sk_reader_line(r, line, sizeof line, 5000), SK_ETLSTRUNC);
    assert_non_null(strstr(sk_errmsg(), "without TLS close_notify"));
    sk_reader_free(r);
    finish(th, sv, t);
    sk_tls_ctx_free(c);
    sk_tls_ctx_free(p.ctx);
}

static void reader_frames_and_eof(void **state)
{
    (void)state;
    const char msg[] = "\x00\x05hello\x00\x00\x00\x03"
                       "abc";
    struct peer p = {.ctx = server_ctx(NULL), .reply = msg, .reply_len = sizeof msg - 1};
    sk_tls_ctx *c = client_ctx(true, NULL);
    pthread_t th;
    int sv[2];
    sk_tls *t = NULL;
    assert_int_equal(start(&p, &th, sv, c, "localhost", &t), 0);
    sk_reader *r = NULL;
    assert_int_equal(sk_reader_new_tls(&r, t, 16), 0);
    char buf[16];
    assert_int_equal(sk_reader_frame(r, 2, buf, sizeof buf, 5000), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(sk_reader_frame(r, 4, buf, sizeof buf, 5000), 3);
    assert_memory_equal(buf, "abc", 3);
    assert_int_equal(sk_reader_frame(r, 2, buf, sizeof buf, 5000), SK_EEOF);
    sk_reader_free(r);
    finish(th, sv, t);
    sk_tls_ctx_free(c);
    sk_tls_ctx_free(p.ctx);
}

static void alpn_mismatch_fails(void **state)
{
    (void)state;
    struct peer p = {.ctx = server_ctx("x-a")};
    sk_tls_ctx *c = client_ctx(true, "x-b");
    pthread_t th;
    int sv[2];
    sk_tls *t = NULL;
    assert_int_equal(start(&p, &th, sv, c, "localhost", &t), SK_ETLS);
    assert_non_null(strstr(sk_errmsg(), "no application protocol"));
    finish(th, sv, t);
    sk_tls_ctx_free(c);
    sk_tls_ctx_free(p.ctx);
}

static void session_resumed(void **state)
{
    (void)state;
    sk_tls_ctx *server = server_ctx(NULL);
    sk_tls_ctx *c = client_ctx(true, NULL);
    bool resumed[2] = {false, false};
    for (int k = 0; k < 2; k++) {
        struct peer p = {.ctx = server, .reply = "hi", .reply_len = 2};
        pthread_t th;
        int sv[2];
        sk_tls *t = NULL;
        assert_int_equal(start(&p, &th, sv, c, "localhost", &t), 0);
        char buf[2];
        assert_int_equal(sk_tls_recv_exact(t, buf, 2, 5000, NULL), 0);
        assert_int_equal(sk_tls_recv(t, buf, 1, 5000), 0); /* the ticket came before this */
        sk_tls_info i = SK_TLS_INFO_INIT;
        sk_tls_get_info(t, &i);
        resumed[k] = i.resumed;
        finish(th, sv, t);
    }
    assert_false(resumed[0]);
    assert_true(resumed[1]);
    sk_tls_ctx_free(c);
    sk_tls_ctx_free(server);
}

static void fingerprint_and_bad_files(void **state)
{
    (void)state;
    sk_tls_ctx *s = server_ctx(NULL);
    char fp[128];
    assert_int_equal(sk_tls_ctx_get_fingerprint(s, fp, sizeof fp), 7 + 32 * 3 - 1);
    assert_memory_equal(fp, "SHA256:", 7);
    assert_int_equal(sk_tls_ctx_get_fingerprint(s, fp, 20), SK_EARG);
    sk_tls_ctx_free(s);
    sk_tls_ctx *c = NULL;
    sk_tls_opts o = SK_TLS_OPTS_INIT(.cert_file = "/nonexistent/cert.pem");
    assert_int_equal(sk_tls_ctx_new(&c, SK_TLS_SERVER, &o), SK_ETLS);
    /* the errno's text, not OpenSSL's last reason for it ("system lib") */
    assert_string_equal(sk_errmsg(), "TLS certificate /nonexistent/cert.pem: No such file or "
                                     "directory");
    assert_int_equal(sk_tls_ctx_new(&c, SK_TLS_SERVER, NULL), SK_EARG); /* no certificate */
    sk_tls_opts old = SK_TLS_OPTS_INIT(.min_version = SK_TLS_1_3, .max_version = SK_TLS_1_2);
    assert_int_equal(sk_tls_ctx_new(&c, SK_TLS_CLIENT, &old), SK_EARG);
    sk_tls_opts pin = SK_TLS_OPTS_INIT(.pin_sha256 = "SHA256:AB:CD");
    assert_int_equal(sk_tls_ctx_new(&c, SK_TLS_CLIENT, &pin), SK_EARG);
    sk_tls_opts unset = {0};
    assert_int_equal(sk_tls_ctx_new(&c, SK_TLS_CLIENT, &unset), SK_EARG);
}

/* ---- sk_server with TLS: the event model and a blocking one, the same client ---------------- */

static int echo_handler(sk_request *req)
{
    char buf[4096];
    ssize_t n;
    while ((n = sk_request_recv(req, buf, sizeof buf)) > 0)
        if (sk_request_send(req, buf, (size_t)n) < 0)
            return -1;
    return (int)n;
}

static void echo_event(sk_conn *c, const void *data, size_t len)
{
    sk_conn_write(c, data, len);
}

static void serve_tls(sk_model model)
{
    sk_tls_ctx *server = server_ctx(NULL);
    sk_tls_ctx *client = client_ctx(true, NULL);
    sk_event_handlers h = SK_EVENT_HANDLERS_INIT(.on_data = echo_event);
    sk_server_opts o =
        SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .model = model, .handle = echo_handler,
                            .events = &h, .workers = 1, .tls = server);
    struct t_running r = {0};
    t_serve(&r, &o);
    static char big[200000], got[sizeof big];
    t_fill_random((unsigned char *)big, sizeof big, 3);
    for (int k = 0; k < 2; k++) { /* the second one resumes */
        int fd = sk_connect(r.ep, 5000);
        assert_true(fd >= 0);
        sk_tls *t = NULL;
        assert_int_equal(sk_tls_open(&t, client, fd, "localhost", 5000), 0);
        sk_reader *rd = NULL;
        assert_int_equal(sk_reader_new_tls(&rd, t, 0), 0);
        assert_int_equal(sk_tls_send_all(t, "line\n", 5, 5000, NULL), 0);
        char line[16];
        assert_int_equal(sk_reader_line(rd, line, sizeof line, 5000), 4);
        /* big both ways at once would fill both directions' buffers: in pieces */
        for (size_t off = 0; off < sizeof big; off += 10000) {
            assert_int_equal(sk_tls_send_all(t, big + off, 10000, 5000, NULL), 0);
            assert_int_equal(sk_reader_exact(rd, got + off, 10000, 5000), 0);
        }
        assert_memory_equal(got, big, sizeof big);
        assert_int_equal(sk_tls_shutdown(t, 5000), 0);
        assert_int_equal(sk_reader_some(rd, line, sizeof line, 5000), 0); /* its close_notify */
        sk_tls_info i = SK_TLS_INFO_INIT;
        sk_tls_get_info(t, &i);
        if (k == 1)
            assert_true(i.resumed);
        sk_reader_free(rd);
        sk_tls_close(t);
        sk_close(fd);
    }
    t_serve_stop(&r);
    sk_server_drain(r.srv, 1000);
    sk_server_stats st = SK_SERVER_STATS_INIT();
    sk_server_get_stats(r.srv, &st);
    assert_int_equal(st.errors, 0);
    assert_int_equal(st.bytes_in, 2 * (5 + sizeof big));
    sk_server_close(r.srv);
    sk_tls_ctx_free(client);
    sk_tls_ctx_free(server);
}

static void server_event_model(void **state)
{
    (void)state;
    serve_tls(SK_MODEL_EVENT);
}

static void server_refuses_tls_over_datagrams(void **state)
{
    (void)state;
    sk_tls_ctx *server = server_ctx(NULL);
    sk_server_opts o = SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .type = SOCK_DGRAM,
                                           .handle = echo_handler, .tls = server);
    sk_server *srv = NULL;
    assert_int_equal(sk_server_open(&srv, &o), SK_EARG);
    assert_non_null(strstr(sk_errmsg(), "DTLS"));
    sk_tls_ctx_free(server);
}

static void server_thread_model(void **state)
{
    (void)state;
    serve_tls(SK_MODEL_THREAD);
}

/* ---- the event model's contract for failed handshakes, and outbound TLS ------------------------
 */

struct counts {
    atomic_int opens, closes, errors, calls, status, done, reason;
    char msg[256]; /* on_error's sk_errmsg() (written by the loop thread before errors++) */
};

static void count_open(sk_conn *c)
{
    struct counts *n = sk_conn_user(c);
    atomic_fetch_add(&n->opens, 1);
}

static void count_close(sk_conn *c, int reason)
{
    (void)reason;
    struct counts *n = sk_conn_user(c);
    atomic_fetch_add(&n->closes, 1);
}

static void count_error(sk_request *req, int code, void *user)
{
    (void)code;
    struct counts *n = user;
    assert_null(req->tls);
    snprintf(n->msg, sizeof n->msg, "%s", sk_errmsg());
    atomic_fetch_add(&n->errors, 1);
}

static void wait_for(atomic_int *v, int want, int ms)
{
    for (int i = 0; i < ms / 5 && atomic_load(v) < want; i++)
        usleep(5000);
}

/* Plain HTTP to the TLS listener: one on_error naming the reason, no on_open, no on_close; a good
 * client after it opens and closes once. */
static void event_failed_handshake_reported_once(void **state)
{
    (void)state;
    sk_tls_ctx *server = server_ctx(NULL);
    sk_tls_ctx *client = client_ctx(true, NULL);
    struct counts n = {0};
    sk_event_handlers h = SK_EVENT_HANDLERS_INIT(.on_open = count_open, .on_data = echo_event,
                                                 .on_close = count_close);
    sk_server_opts o =
        SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .model = SK_MODEL_EVENT, .events = &h,
                            .workers = 1, .tls = server, .on_error = count_error, .user = &n);
    struct t_running r = {0};
    t_serve(&r, &o);
    int fd = sk_connect(r.ep, 5000);
    assert_true(fd >= 0);
    const char *get = "GET / HTTP/1.0\r\n\r\n";
    assert_int_equal(sk_send_all(fd, get, strlen(get), 5000, NULL), 0);
    char buf[256];
    ssize_t k;
    for (int i = 0; i < 100 && (k = sk_recv(fd, buf, sizeof buf, 5000)) > 0; i++)
        ; /* an alert, then the end */
    sk_close(fd);
    wait_for(&n.errors, 1, 5000);
    assert_int_equal(atomic_load(&n.errors), 1);
    assert_non_null(strstr(n.msg, "TLS handshake with 127.0.0.1:"));
    assert_non_null(strstr(n.msg, "http request"));
    fd = sk_connect(r.ep, 5000);
    sk_tls *t = NULL;
    assert_int_equal(sk_tls_open(&t, client, fd, "localhost", 5000), 0);
    assert_int_equal(sk_tls_send_all(t, "ok", 2, 5000, NULL), 0);
    assert_int_equal(sk_tls_recv_exact(t, buf, 2, 5000, NULL), 0);
    assert_int_equal(sk_tls_shutdown(t, 5000), 0);
    assert_int_equal(sk_tls_recv(t, buf, sizeof buf, 5000), 0);
    sk_tls_close(t);
    sk_close(fd);
    wait_for(&n.closes, 1, 5000);
    t_serve_stop(&r);
    sk_server_drain(r.srv, 1000);
    sk_server_close(r.srv);
    assert_int_equal(atomic_load(&n.opens), 1);
    assert_int_equal(atomic_load(&n.closes), 1);
    assert_int_equal(atomic_load(&n.errors), 1);
    sk_tls_ctx_free(client);
    sk_tls_ctx_free(server);
}

/* A plain event server whose on_open connects out with TLS (sk_conn_connect opts.tls) and joins
 * the client to it: the relay's --tls-target, on the library. */
struct outbound_case {
    struct counts n;
    sk_tls_ctx *ctx;
    char target[128];
};

static void ob_done(const sk_join_stats *st, void *arg)
{
    struct counts *n = arg;
    atomic_store(&n->reason, st->reason);
    atomic_fetch_add(&n->done, 1);
}

static void ob_connected(sk_conn *up, int status)
{
    struct outbound_case *oc = sk_conn_user(up);
    sk_conn *client = sk_conn_data(up);
    snprintf(oc->n.msg, sizeof oc->n.msg, "%s", status < 0 ? sk_errmsg() : "");
    atomic_store(&oc->n.status, status);
    atomic_fetch_add(&oc->n.calls, 1);
    if (status < 0) {
        sk_conn_reset(client);
        return;
    }
    sk_conn_resume(client);
    sk_join_opts jo = SK_JOIN_OPTS_INIT(.on_done = ob_done, .arg = &oc->n);
    assert_int_equal(sk_conn_join(client, up, &jo), 0);
}

static void ob_up_close(sk_conn *c, int reason)
{
    (void)reason;
    struct outbound_case *oc = sk_conn_user(c);
    atomic_fetch_add(&oc->n.closes, 1);
}

static const sk_event_handlers ob_up_h = SK_EVENT_HANDLERS_INIT(.on_close = ob_up_close);

static void ob_open(sk_conn *c)
{
    struct outbound_case *oc = sk_conn_user(c);
    sk_conn_pause(c);
    sk_conn_connect_opts co = SK_CONN_CONNECT_OPTS_INIT(.endpoint = oc->target, .events = &ob_up_h,
                                                        .on_connect = ob_connected, .data = c,
                                                        .tls = oc->ctx, .tls_host = "localhost");
    assert_int_equal(sk_conn_connect(c, &co), 0);
}

static void ob_keep(sk_conn *c)
{
    (void)c;
}

/* The TLS echo target of the outbound cases: an event server with the self-signed context, which
 * is returned (free it after end_server). */
static sk_tls_ctx *tls_echo_target(struct t_running *t)
{
    static const sk_event_handlers eh = SK_EVENT_HANDLERS_INIT(.on_data = echo_event);
    sk_tls_ctx *server = server_ctx(NULL);
    sk_server_opts to = SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .model = SK_MODEL_EVENT,
                                            .events = &eh, .workers = 1, .tls = server);
    t_serve(t, &to);
    return server;
}

static void end_server(struct t_running *t)
{
    t_serve_stop(t);
    sk_server_drain(t->srv, 1000);
    sk_server_close(t->srv);
}

static void event_outbound_tls(void **state)
{
    (void)state;
    struct t_running target = {0};
    sk_tls_ctx *server = tls_echo_target(&target);
    sk_event_handlers rh = SK_EVENT_HANDLERS_INIT(.on_open = ob_open, .on_drain = ob_keep);
    for (int verify = 1; verify >= 0; verify--) {
        struct outbound_case oc = {.ctx = client_ctx(!verify, NULL)};
        snprintf(oc.target, sizeof oc.target, "%s", target.ep);
        sk_server_opts ro = SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .model = SK_MODEL_EVENT,
                                                .events = &rh, .workers = 1, .user = &oc);
        struct t_running r = {0};
        t_serve(&r, &ro);
        int fd = sk_connect(r.ep, 5000);
        if (fd < 0)
            fail_msg("connect %s: %s", r.ep, sk_errmsg());
        char buf[64];
        if (verify) { /* the self-signed target is refused: on_connect says so, once */
            ssize_t k = sk_recv(fd, buf, sizeof buf, 5000);
            assert_true(k == 0 || k == -ECONNRESET);
            wait_for(&oc.n.calls, 1, 5000);
            assert_int_equal(atomic_load(&oc.n.status), SK_ETLSVERIFY);
            assert_non_null(strstr(oc.n.msg, "certificate verify failed"));
        } else { /* bytes both ways through the TLS leg, then the half-closes carried across */
            assert_int_equal(sk_send_all(fd, "ping", 4, 5000, NULL), 0);
            assert_int_equal(sk_recv_exact(fd, buf, 4, 5000, NULL), 0);
            assert_memory_equal(buf, "ping", 4);
            assert_int_equal(shutdown(fd, SHUT_WR), 0); /* -> close_notify + FIN to the target */
            assert_int_equal(sk_recv(fd, buf, sizeof buf, 5000), 0); /* its close_notify -> FIN */
            wait_for(&oc.n.done, 1, 5000);
            assert_int_equal(atomic_load(&oc.n.status), 0);
            assert_int_equal(atomic_load(&oc.n.reason), 0);
        }
        sk_close(fd);
        end_server(&r);
        assert_int_equal(atomic_load(&oc.n.calls), 1);
        /* the refused one never opened: no on_close (its handlers were ob_up_h until a join) */
        assert_int_equal(atomic_load(&oc.n.closes), 0);
        sk_tls_ctx_free(oc.ctx);
    }
    end_server(&target);
    sk_tls_ctx_free(server);
}

/* sk_conn_start_tls: a plain outbound connection turned TLS after it connected (the relay's
 * --via --tls-target): refused on an accepted connection and on one already speaking TLS, then
 * the end of the handshake once on on_done: a refused certificate (no on_close), or bytes both
 * ways through the TLS echo target. */
struct starttls_case {
    sk_tls_ctx *ctx;
    const char *host;
    char target[128];
    atomic_int accepted_rc, again_rc, calls, status, closes, echoed;
    char msg[256];
    char in[16];
    size_t nin;
};

static void st_tls_done(sk_conn *up, int status)
{
    struct starttls_case *sc = sk_conn_user(up);
    snprintf(sc->msg, sizeof sc->msg, "%s", status < 0 ? sk_errmsg() : "");
    atomic_store(&sc->status, status);
    atomic_fetch_add(&sc->calls, 1);
    if (status == 0) /* (< 0: up is freed when this returns, nothing to do) */
        sk_conn_write(up, "ping", 4);
}

static void st_up_data(sk_conn *up, const void *data, size_t len)
{
    struct starttls_case *sc = sk_conn_user(up);
    size_t n = len < sizeof sc->in - 1 - sc->nin ? len : sizeof sc->in - 1 - sc->nin;
    memcpy(sc->in + sc->nin, data, n);
    sc->nin += n;
    if (sc->nin >= 4)
        atomic_store(&sc->echoed, 1);
}

static void st_up_close(sk_conn *up, int reason)
{
    (void)reason;
    struct starttls_case *sc = sk_conn_user(up);
    atomic_fetch_add(&sc->closes, 1);
}

static const sk_event_handlers st_up_h =
    SK_EVENT_HANDLERS_INIT(.on_data = st_up_data, .on_close = st_up_close);

static void st_connected(sk_conn *up, int status)
{
    struct starttls_case *sc = sk_conn_user(up);
    if (status < 0) {
        atomic_store(&sc->status, status);
        atomic_fetch_add(&sc->calls, 1);
        return;
    }
    assert_int_equal(sk_conn_start_tls(up, sc->ctx, sc->host, st_tls_done), 0);
    /* the handshake runs: a second start is refused, nothing changes */
    atomic_store(&sc->again_rc, sk_conn_start_tls(up, sc->ctx, sc->host, st_tls_done));
}

static void st_open(sk_conn *c)
{
    struct starttls_case *sc = sk_conn_user(c);
    sk_conn_pause(c);
    atomic_store(&sc->accepted_rc, sk_conn_start_tls(c, sc->ctx, sc->host, st_tls_done));
    sk_conn_connect_opts co = SK_CONN_CONNECT_OPTS_INIT(.endpoint = sc->target, .events = &st_up_h,
                                                        .on_connect = st_connected, .data = NULL);
    assert_int_equal(sk_conn_connect(c, &co), 0);
}

static void event_start_tls_after_plaintext(void **state)
{
    (void)state;
    struct t_running target = {0};
    sk_tls_ctx *server = tls_echo_target(&target);
    sk_event_handlers rh = SK_EVENT_HANDLERS_INIT(.on_open = st_open, .on_drain = ob_keep);
    for (int verify = 1; verify >= 0; verify--) {
        struct starttls_case *sc = calloc(1, sizeof *sc);
        assert_non_null(sc);
        sc->ctx = client_ctx(!verify, NULL);
        sc->host = "localhost";
        atomic_store(&sc->status, 1);
        snprintf(sc->target, sizeof sc->target, "%s", target.ep);
        sk_server_opts ro = SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .model = SK_MODEL_EVENT,
                                                .events = &rh, .workers = 1, .user = sc);
        struct t_running r = {0};
        t_serve(&r, &ro);
        int fd = sk_connect(r.ep, 5000);
        assert_true(fd >= 0);
        wait_for(&sc->calls, 1, 5000);
        if (verify)
            wait_for(&sc->closes, 1, 300); /* none may come: give a wrong one the chance */
        else
            wait_for(&sc->echoed, 1, 5000);
        assert_int_equal(atomic_load(&sc->accepted_rc), SK_EARG);
        assert_int_equal(atomic_load(&sc->again_rc), SK_EARG);
        assert_int_equal(atomic_load(&sc->calls), 1);
        if (verify) { /* the self-signed target is refused: on_done says so, no on_close */
            assert_int_equal(atomic_load(&sc->status), SK_ETLSVERIFY);
            assert_non_null(strstr(sc->msg, "certificate verify failed"));
            assert_int_equal(atomic_load(&sc->closes), 0);
        } else {
            assert_int_equal(atomic_load(&sc->status), 0);
            assert_int_equal(atomic_load(&sc->echoed), 1);
            assert_memory_equal(sc->in, "ping", 4);
        }
        sk_close(fd);
        end_server(&r);
        assert_int_equal(atomic_load(&sc->calls), 1);
        sk_tls_ctx_free(sc->ctx);
        free(sc);
    }
    end_server(&target);
    sk_tls_ctx_free(server);
}

int main(void)
{
    if (!sk_tls_available()) {
        puts("sockkit built without TLS: skipped");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(self_signed_refused_by_default),
        cmocka_unit_test(verify_needs_a_host),
        cmocka_unit_test(data_both_ways_and_close_notify),
        cmocka_unit_test(truncation_is_an_error),
        cmocka_unit_test(reader_frames_and_eof),
        cmocka_unit_test(alpn_mismatch_fails),
        cmocka_unit_test(session_resumed),
        cmocka_unit_test(fingerprint_and_bad_files),
        cmocka_unit_test(server_event_model),
        cmocka_unit_test(server_thread_model),
        cmocka_unit_test(server_refuses_tls_over_datagrams),
        cmocka_unit_test(event_failed_handshake_reported_once),
        cmocka_unit_test(event_outbound_tls),
        cmocka_unit_test(event_start_tls_after_plaintext),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
