/* sockkit — socketserver for C: TCP, UDP, Unix stream and Unix datagram servers with a blocking
 * per-request handler, in the concurrency model chosen at open.
 *
 *   static int upper(sk_request *req) {
 *       char line[512];
 *       ssize_t n;
 *       while ((n = sk_request_line(req, line, sizeof line)) >= 0) { ... sk_request_send(...) }
 *       return 0;
 *   }
 *   sk_server *srv;
 *   sk_server_opts opts = SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:9999", .handle = upper,
 *                                             .model = SK_MODEL_THREAD);
 *   sk_server_open(&srv, &opts);
 *   sk_server_serve_forever(srv, 500);   // until sk_server_shutdown() from elsewhere
 *   sk_server_close(srv);
 *
 * As in Python's socketserver: serve_forever(poll_interval) runs until shutdown() — from another
 * thread, which waits until it has returned, or sk_server_shutdown_request() from a signal
 * handler — and handle_request(timeout) serves one request. verify_request rejects peers,
 * handle_error sees failing handlers (which never take the server down), handle_timeout runs when
 * handle_request times out. Beyond Python: a thread pool with a bounded queue, graceful drain, a
 * max-connections limit, a per-connection idle timeout, and counters readable from any thread.
 *
 * Threads: an sk_server is used from the thread that serves it, except sk_server_shutdown (any
 * other thread), sk_server_shutdown_request (anywhere, a signal handler too) and
 * sk_server_get_stats (any thread). An sk_request and its sk_request_* functions belong to the
 * handler call they were given to. An sk_conn and its sk_conn_* functions belong to the loop
 * thread that owns the connection: call them from its callbacks, or post to sk_conn_loop(c)
 * (sk_loop_post is safe from any thread) to reach the connection from elsewhere.
 */
#ifndef SOCKKIT_SERVER_H
#define SOCKKIT_SERVER_H

#include "addr.h"
#include "loop.h"
#include "reader.h"
#include "tls.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sk_model {
    SK_MODEL_ITERATIVE = 0, /* one request at a time, in the serving thread */
    SK_MODEL_THREAD,        /* a thread per request (ThreadingMixIn) */
    SK_MODEL_FORK,          /* a process per request (ForkingMixIn); children reaped */
    SK_MODEL_POOL,          /* a fixed pool of threads fed by a bounded queue */
    SK_MODEL_EVENT,         /* non-blocking callbacks on N event loops (sk_event_handlers) */
} sk_model;

/* Event model with several loops: how connections reach them. */
typedef enum sk_accept_mode {
    SK_ACCEPT_DEFAULT = 0, /* the better one measured here (docs/server.md): REUSEPORT for IP */
    SK_ACCEPT_REUSEPORT,   /* each loop its own listener on the same port (SO_REUSEPORT) */
    SK_ACCEPT_HANDOFF,     /* the first loop accepts and hands connections to the least loaded */
} sk_accept_mode;

typedef struct sk_server sk_server;

/* Event model: one client connection (streams) or one datagram's sender (datagrams). Owned by the
 * server; valid from on_open until on_close returns (datagrams: during on_data only). */
typedef struct sk_conn sk_conn;

/* The event model's callbacks. Each runs on the loop that owns the connection, must not block, and
 * may call any sk_conn_* function on it (sk_conn_close included). Any may be NULL (not called).
 * Initialise with SK_EVENT_HANDLERS_INIT, which sets size (see sockkit.h). */
typedef struct sk_event_handlers {
    size_t size; /* sizeof(sk_event_handlers), set by SK_EVENT_HANDLERS_INIT */
    /* streams: a client was accepted (after verify and max_conns) */
    void (*on_open)(sk_conn *c);
    /* streams: bytes arrived, in order; datagrams: one datagram arrived from sk_conn_peer(c) */
    void (*on_data)(sk_conn *c, const void *data, size_t len);
    /* the unsent output passed high_water (sk_conn_write returned 1; reading stopped) and has
     * fallen to low_water: write more (reading resumed) */
    void (*on_writable)(sk_conn *c);
    /* the connection is gone; reason: 0 the peer closed or sk_conn_close, -ETIMEDOUT idle,
     * -ECONNRESET etc. Its output is flushed unless reason < 0. c is freed after this returns.
     * Called exactly once for each connection whose on_open ran, and never for one whose did
     * not (opts.tls: a handshake that failed or timed out goes to opts.on_error instead; an
     * outbound connection's failure to connect goes to its on_connect) */
    void (*on_close)(sk_conn *c, int reason);
    /* streams: the peer sent its FIN, or its close_notify with TLS (the end of its data). NULL:
     * the connection closes once its output is flushed (the default: a request/response
     * server). Set: the connection stays open
     * for writing, nothing more is read, and the handler ends it with sk_conn_shutdown (the
     * connection is gone once that FIN is out), sk_conn_close or sk_conn_reset. */
    void (*on_end)(sk_conn *c);
    /* sk_server_drain started. NULL: the default (stop reading, flush the output, send FIN, wait
     * for the peer to close). Set: the handler decides (a relay lets its pairs finish); what is
     * left at the drain's deadline is cut off either way. */
    void (*on_drain)(sk_conn *c);
    /* streams: true, reading goes on while the output is past high_water (on_data is called as
     * bytes come): for a handler whose output does not answer its input, as a source that also
     * takes what it is sent (iperf3's --bidir); false (the default): reading stops there until
     * on_writable, the back-pressure of a request/response server */
    bool read_past_high_water;
} sk_event_handlers;
/* clang-format off */
#define SK_EVENT_HANDLERS_INIT(...) {.size = sizeof(sk_event_handlers), __VA_ARGS__}
/* clang-format on */

/* One request: a connection (streams) or a datagram. Valid during the handler call. */
typedef struct sk_request {
    sk_server *server;
    int fd;              /* streams: the connected socket; datagrams: the server's socket */
    int type;            /* SOCK_STREAM or SOCK_DGRAM */
    sk_addr peer;        /* who is on the other side (datagrams: the sender) */
    sk_reader *reader;   /* streams: buffered reads over fd (StreamRequestHandler's rfile) */
    int idle_timeout_ms; /* the server's per-connection idle timeout (-1 = none) */
    const void *data;    /* datagrams: the packet */
    size_t len;
    void *user;  /* sk_server_opts.user */
    sk_tls *tls; /* streams served with TLS: the connection, after its handshake (reader and
                  * sk_request_* go through it; NULL: plain) */
} sk_request;

/* The handler (BaseRequestHandler.handle). Return >= 0, or a negative code: the server counts it
 * and calls on_error; it never stops serving. A stream connection is closed after the handler. */
typedef int (*sk_handler_fn)(sk_request *req);
/* verify_request: false rejects the peer (its connection is closed at once; counted). */
typedef bool (*sk_verify_fn)(sk_server *srv, const sk_addr *peer, void *user);
/* handle_error: a handler returned code < 0, or (opts.tls, every model) a client's TLS handshake
 * failed or timed out: then req->tls and req->reader are NULL, no handler ran, sk_errmsg() names
 * the reason ("TLS handshake with 127.0.0.1:50312: http request") and the connection is closed
 * after this returns. The event model calls it on the loop (it must not block) for handshakes only:
 * there such a connection never opened, so it gets neither on_open nor on_close. */
typedef void (*sk_error_fn)(sk_request *req, int code, void *user);
/* handle_timeout: sk_server_handle_request waited timeout_ms and nothing came. */
typedef void (*sk_timeout_fn)(sk_server *srv, void *user);

/* The defaults of sk_server_opts fields left 0, and the server's fixed sizes. */
#define SK_SEND_TIMEOUT_DEFAULT_MS   30000 /* send_timeout_ms, when idle_timeout_ms is 0 too */
#define SK_POOL_WORKERS_DEFAULT      4     /* workers, pool model */
#define SK_POOL_QUEUE_DEFAULT        64    /* queue_size, pool model */
#define SK_FORK_MAX_CHILDREN_DEFAULT 40    /* max_children, fork model */
#define SK_HIGH_WATER_DEFAULT        (256 * 1024) /* high_water, event model */
#define SK_DRAIN_GRACE_DEFAULT_MS    2000         /* drain_grace_ms */
/* Blocking models: a datagram request holds at most this many bytes (any UDP datagram fits; a
 * longer Unix datagram is cut); the event model reads datagrams and stream input in pieces of
 * this size. */
#define SK_SERVER_DGRAM_MAX                 65536
#define SK_TLS_HANDSHAKE_TIMEOUT_DEFAULT_MS 10000 /* tls_handshake_timeout_ms */

/* Initialise with SK_SERVER_OPTS_INIT, which sets size (see sockkit.h); a field left 0 takes the
 * default its comment names. */
typedef struct sk_server_opts {
    size_t size;          /* sizeof(sk_server_opts), set by SK_SERVER_OPTS_INIT */
    const char *endpoint; /* "127.0.0.1:7007", ":7007", "unix:/run/x.sock", "unix:@x" (required,
                           * unless parsed is set) */
    int type;             /* 0 = SOCK_STREAM, or SOCK_DGRAM */
    sk_model model;       /* 0 = SK_MODEL_ITERATIVE */
    int workers;          /* pool: threads (0 = SK_POOL_WORKERS_DEFAULT); event: loops, a thread
                           * each (0 = one per core, but 1 on 1-2 cores; see docs/server.md) */
    int queue_size;       /* pool: queued requests before the acceptor waits (0 =
                           * SK_POOL_QUEUE_DEFAULT) */
    int max_children;     /* fork: live children before the server waits for one (0 =
                           * SK_FORK_MAX_CHILDREN_DEFAULT) */
    int max_conns;        /* concurrent requests; more are closed at once and counted (0 = none) */
    int idle_timeout_ms;  /* per-connection idle timeout for sk_request_* reads (0 = none) */
    int send_timeout_ms;  /* blocking models: sk_request_send gives up on a client that takes no
                           * byte for this long, and resets the connection (-ETIMEDOUT). 0 =
                           * idle_timeout_ms if set, else SK_SEND_TIMEOUT_DEFAULT_MS; -1 = no
                           * limit (until the drain's deadline) */
    int drain_grace_ms;   /* sk_server_drain: after its deadline, how long the cut-off requests
                           * get to end before forked children are killed with SIGKILL (0 =
                           * SK_DRAIN_GRACE_DEFAULT_MS) */
    int backlog;          /* request_queue_size (0 = SOMAXCONN) */
    bool no_reuseaddr;    /* allow_reuse_address is on unless this is set (false: on) */
    bool reuseport;       /* allow_reuse_port (false: off) */
    bool dualstack;       /* "[::]:7007": the socket takes IPv4 too (":7007", the any-address of
                           * no family, always does: one [::] socket; false: IPv6 only) */
    bool daemon_threads;  /* thread model: do not wait for handler threads at close (false: wait) */
    bool no_block_on_close;          /* thread/fork: sk_server_close does not wait for handlers
                                      * (fork: reaps the children already done, leaves the rest) */
    sk_handler_fn handle;            /* every model but event (required there) */
    const sk_event_handlers *events; /* the event model (required there, instead of handle) */
    size_t high_water;               /* event: stop reading a peer with this much unsent
                                        output (0 = SK_HIGH_WATER_DEFAULT) */
    size_t low_water;                /* event: resume reading at or under this (0 = 1/4 of
                                        high_water) */
    sk_accept_mode accept_mode;      /* event with workers > 1 (0 = SK_ACCEPT_DEFAULT) */
    sk_loop_backend loop_backend;    /* event: the loops' backend (0 = SK_LOOP_DEFAULT) */
    sk_verify_fn verify;             /* NULL: every peer is accepted */
    sk_error_fn on_error;            /* NULL: failures are only counted */
    sk_timeout_fn on_timeout;        /* NULL: nothing runs */
    void *user;                      /* passed to the callbacks, as it is */
    sk_tls_ctx *tls;                 /* streams: serve TLS with this SK_TLS_SERVER context, which
                                      * must outlive the server (NULL: plain) */
    int tls_handshake_timeout_ms;    /* with tls: a client that has not finished its handshake
                                      * by then is closed (0 =
                                      * SK_TLS_HANDSHAKE_TIMEOUT_DEFAULT_MS) */
    const sk_endpoint *parsed;       /* instead of endpoint: one sk_endpoint_parse already read
                                      * (copied at open; NULL: endpoint is parsed) */
} sk_server_opts;
/* clang-format off */
#define SK_SERVER_OPTS_INIT(...) {.size = sizeof(sk_server_opts), __VA_ARGS__}
/* clang-format on */

/* Counters, readable at any time from any thread (fork model: children's counts included).
 * Initialise with SK_SERVER_STATS_INIT, which sets size: the library fills that much. */
typedef struct sk_server_stats {
    size_t size;       /* sizeof(sk_server_stats), set by SK_SERVER_STATS_INIT */
    uint64_t accepted; /* connections accepted / datagrams received */
    uint64_t active;   /* requests being handled now */
    uint64_t rejected; /* refused by verify or by max_conns */
    uint64_t errors;   /* handlers that returned < 0 / connections that failed, not counting the
                        * peer's reset or broken pipe, idle and send timeouts, or the drain's cut */
    uint64_t bytes_in; /* through sk_request_* reads (and datagrams received) */
    uint64_t bytes_out;
} sk_server_stats;
/* clang-format off */
#define SK_SERVER_STATS_INIT(...) {.size = sizeof(sk_server_stats), __VA_ARGS__}
/* clang-format on */

/* Bind and listen (streams) or bind (datagrams). *out is set on success. */
int sk_server_open(sk_server **out, const sk_server_opts *opts);

/* Serve until shutdown. poll_interval_ms: how often the loop looks at the shutdown flag when no
 * wakeup arrives (0 = 500 ms); shutdown also wakes it at once. Returns 0 after a shutdown, or the
 * error that ended serving (the event loops' or the serving poll's: rare, a broken process). */
int sk_server_serve_forever(sk_server *srv, int poll_interval_ms);

/* Serve one request, waiting up to timeout_ms (-1 = forever). Returns 1 if one was served (or
 * rejected), 0 on a timeout (on_timeout was called), < 0 on an error. */
int sk_server_handle_request(sk_server *srv, int timeout_ms);

/* Make serve_forever return and wait until it has. Call it from another thread (from the serving
 * thread it would wait for itself, as in Python). Called before serve_forever has begun (its
 * thread just started), the request stays: that serve_forever returns at once (as in Python). */
void sk_server_shutdown(sk_server *srv);
/* Only ask: async-signal-safe, for signal handlers. serve_forever returns soon after (the
 * iterative model: the running request's input ends, as at a drain, so that it can). */
void sk_server_shutdown_request(sk_server *srv);

/* Graceful drain, after serve_forever returned: no more input is read (blocking handlers' reads
 * through sk_request_* return end-of-file, so they answer what they read and return; the event
 * model stops reading), answers are flushed, and up to deadline_ms is given for this; then the
 * rest is cut off (connections reset, forked children SIGTERM, SIGKILL opts.drain_grace_ms later)
 * and waited for.
 * Returns how many had to be cut off. */
int sk_server_drain(sk_server *srv, int deadline_ms);

/* server_close: stop the pool, wait for handlers (unless daemon_threads / no_block_on_close),
 * close the socket, remove a Unix socket file the server created, free everything. */
void sk_server_close(sk_server *srv);

int sk_server_fd(const sk_server *srv);
/* The bound address (the real port after ":0"). */
int sk_server_get_addr(const sk_server *srv, sk_addr *out);
/* Fill *out (out->size says how much; SK_EARG if it is 0). Returns 0. */
int sk_server_get_stats(const sk_server *srv, sk_server_stats *out);
/* The threads serving: pool workers, or event loops (as chosen when opts.workers was 0); 0 for the
 * other models (iterative: the caller's thread; thread and fork: one per request). */
int sk_server_workers(const sk_server *srv);
/* The event model's loop backend ("epoll", "poll", "io_uring"); NULL for the other models. *why
 * (if why is not NULL) is NULL when it is the backend asked for (opts.loop_backend), otherwise
 * why not (sk_loop_backend_why: io_uring refused by the kernel, or not built in). */
const char *sk_server_backend(const sk_server *srv, const char **why);

/* ---- the event model ------------------------------------------------------------------------ */

/* Queue bytes for the peer: written at once as far as the socket takes them, the rest kept in the
 * connection's output buffer and sent as the socket drains (never dropped). Returns 0, 1 if the
 * unsent output now passes high_water (stop producing until on_writable; reading has stopped), or
 * a negative code (the connection failed, or SK_ECLOSED: it is closing). Datagrams: one
 * datagram to the sender, not buffered (-EAGAIN if the socket's buffer is full). */
int sk_conn_write(sk_conn *c, const void *buf, size_t len);
/* Close once the output is flushed; nothing more is read. Safe inside any callback. */
void sk_conn_close(sk_conn *c);
/* Unsent bytes in the output buffer. */
size_t sk_conn_pending(const sk_conn *c);
int sk_conn_fd(const sk_conn *c);
int sk_conn_type(const sk_conn *c); /* SOCK_STREAM or SOCK_DGRAM */
/* The peer's address (a datagram's source); valid while c lives. Made on the first call (call it
 * on c's loop, as the callbacks are); its length is 0 if the peer is gone and never known. */
const sk_addr *sk_conn_peer(const sk_conn *c);
sk_server *sk_conn_server(const sk_conn *c);
/* The loop the connection lives on: for timers and posts of the handler's own. */
sk_loop *sk_conn_loop(const sk_conn *c);
void *sk_conn_user(const sk_conn *c); /* sk_server_opts.user */
/* Per-connection state of the handler's (NULL at on_open). */
void *sk_conn_data(const sk_conn *c);
void sk_conn_set_data(sk_conn *c, void *data);

/* Stop reading c (its on_data is not called) until sk_conn_resume: back-pressure from elsewhere,
 * e.g. a relay whose other side is slow. Counted: pause twice, resume twice. */
void sk_conn_pause(sk_conn *c);
void sk_conn_resume(sk_conn *c);
/* Half-close: send FIN once the output is flushed (shutdown(SHUT_WR); TLS: close_notify first,
 * if the socket takes it then); reading goes on. With
 * on_end set, the connection is gone when both its FIN and the peer's have passed. */
void sk_conn_shutdown(sk_conn *c);
/* Abort: the peer gets an RST at once (SO_LINGER 0); unsent output is dropped. on_close follows
 * (reason -ECONNRESET) when our frames are off the stack. */
void sk_conn_reset(sk_conn *c);

/* ---- outbound connections on a loop (src/conn_connect.c) ---------------------------------- */

#define SK_CONN_CONNECT_TIMEOUT_DEFAULT_MS 10000 /* sk_conn_connect_opts.timeout_ms */

/* The outcome of sk_conn_connect, called exactly once on the loop: status 0, c is connected and
 * lives until its on_close; status < 0 (-ECONNREFUSED, -ETIMEDOUT, a resolver failure (SK_E*),
 * SK_ECLOSED when the server cut it off at a drain or close), c is freed when this returns and
 * no on_close follows. sk_errmsg() in the callback names the address and the reason. */
typedef void (*sk_connect_fn)(sk_conn *c, int status);

/* Initialise with SK_CONN_CONNECT_OPTS_INIT, which sets size (see sockkit.h). */
typedef struct sk_conn_connect_opts {
    size_t size;          /* sizeof(sk_conn_connect_opts), set by SK_CONN_CONNECT_OPTS_INIT */
    const char *endpoint; /* "host:port", "[v6]:port", "unix:/path", "unix:@name" (required,
                           * unless parsed is set) */
    int timeout_ms;       /* the whole connect, every address included (0 =
                           * SK_CONN_CONNECT_TIMEOUT_DEFAULT_MS, -1 = none) */
    const sk_event_handlers *events; /* the new connection's callbacks (NULL: the server's); read
                                      * at the call, as the server reads opts.events */
    sk_connect_fn on_connect;        /* required */
    void *data;                      /* the new connection's sk_conn_data at on_connect */
    const sk_endpoint *parsed;       /* instead of endpoint: one sk_endpoint_parse already read
                                      * (copied at the call; NULL: endpoint is parsed) */
    sk_tls_ctx *tls;        /* speak TLS as a client of this SK_TLS_CLIENT context, which must
                             * outlive the connection: the handshake runs on the loop once
                             * connected, within the server's tls_handshake_timeout_ms, and
                             * on_connect comes after it (status < 0: the connect or the handshake
                             * failed; sk_errmsg() says which). NULL: plain */
    const char *tls_host;   /* with tls: the name sent as SNI and verified (copied; NULL: none,
                             * which a verifying context refuses) */
    bool no_happy_eyeballs; /* one address after the other even when both families resolve */
    int attempt_delay_ms;   /* Happy Eyeballs stagger; 0 = SK_ATTEMPT_DELAY_DEFAULT_MS */
} sk_conn_connect_opts;
/* clang-format off */
#define SK_CONN_CONNECT_OPTS_INIT(...) {.size = sizeof(sk_conn_connect_opts), __VA_ARGS__}
/* clang-format on */

/* Open a stream connection from the loop that owns `near` (a connection of an event-model server)
 * to opts->endpoint, without blocking the loop: a numeric address is used at once, a name is
 * resolved on a helper thread; then the addresses are tried as sk_connect tries them (Happy
 * Eyeballs when both families resolve: interleaved, a new attempt every attempt_delay_ms while
 * earlier ones are pending, the first to connect wins), each a non-blocking connect watched by
 * the loop, within one deadline for all. The new connection is an sk_conn of the same
 * loop and server (its bytes count in the server's counters; it is not an accepted client: not
 * in `accepted`, `active` or max_conns). Returns 0 (on_connect will be called, once) or a
 * negative code for bad options (on_connect will not be called). */
int sk_conn_connect(sk_conn *near, const sk_conn_connect_opts *opts);

/* Start TLS as a client on c, a connection of sk_conn_connect that is connected, plain, with no
 * unsent output: after a plaintext exchange of the caller's own (a proxy's CONNECT, a STARTTLS
 * command). The handshake runs on the loop within the server's tls_handshake_timeout_ms; c's
 * on_data is not called meanwhile. on_done is called exactly once, on the loop, as on_connect
 * is: status 0, c speaks TLS (its on_close follows at its end); status < 0 (the handshake failed,
 * timed out, or c was reset or cut meanwhile), c is freed when it returns and no on_close
 * follows; sk_errmsg() there says why. host: the name sent as SNI and verified (copied; NULL:
 * none, which a verifying context refuses). ctx (SK_TLS_CLIENT) must outlive c. Returns 0
 * (on_done will be called), SK_EARG for a connection that does not qualify (nothing changes),
 * or another negative code: c is failed, its on_close follows once its callbacks are off the
 * stack, and on_done is not called. */
int sk_conn_start_tls(sk_conn *c, sk_tls_ctx *ctx, const char *host, sk_connect_fn on_done);

/* ---- two connections joined both ways (src/relay.c) ---------------------------------------- */

/* What a joined pair did, for sk_join_opts.on_done. a is the first connection given to
 * sk_conn_join ("client"), b the second ("target"). */
typedef struct sk_join_stats {
    size_t size;          /* sizeof(sk_join_stats) */
    uint64_t a_to_b;      /* bytes read from a and written to b */
    uint64_t b_to_a;      /* bytes read from b and written to a */
    uint64_t duration_ms; /* from sk_conn_join to the end of both */
    int reason;           /* 0: both directions ended with a FIN; else the first failure (e.g.
                           * -ECONNRESET from either side, -ETIMEDOUT idle, SK_ECLOSED cut) */
    bool spliced;         /* the zero-copy mode: bulk through splice(2); small reads copied once
                           * through the loop's buffer unless opts.splice_always */
    char why[256];        /* the first failure in words when the library had them, after the
                           * leg's name (a TLS leg's: "target: TLS read fd 7: tlsv13 alert
                           * certificate required"), "" otherwise */
} sk_join_stats;

/* Initialise with SK_JOIN_OPTS_INIT, which sets size (see sockkit.h). */
typedef struct sk_join_opts {
    size_t size;    /* sizeof(sk_join_opts), set by SK_JOIN_OPTS_INIT */
    bool no_splice; /* false: zero-copy through splice(2) where both are sockets the kernel can
                     * splice (TCP, Unix stream) and tracing is off */
    const char *a_name, *b_name; /* the legs' names in the trace ("client", "target"; NULL:
                                  * "a", "b"): data lines say "client->relay", "relay->target" */
    /* Both connections are gone (called once, after both on_close). */
    void (*on_done)(const sk_join_stats *st, void *arg);
    void *arg;
    bool splice_always; /* zero-copy mode: splice every read, small ones too (default: reads
                         * under 16 KiB are copied once through the loop's buffer, which costs
                         * less than two splices; a 16 KiB read switches to splice) */
} sk_join_opts;
/* clang-format off */
#define SK_JOIN_OPTS_INIT(...) {.size = sizeof(sk_join_opts), __VA_ARGS__}
/* clang-format on */

/* Join two stream connections of the same loop: bytes read from each are written to the other,
 * with back-pressure (a side whose output passes the high-water mark stops the other side's
 * reading until it falls to the low-water mark), half-close carried across (a FIN from one side
 * becomes shutdown(SHUT_WR) on the other after its output is flushed; the pair is over when both
 * directions are), and resets carried across (one side's failure resets the other with an RST).
 * The pair takes over both connections' callbacks and data pointers; a drain lets the pair run
 * to its end (or the deadline). Returns 0, or a negative code (different loops, not streams,
 * already joined); on failure nothing changed. */
int sk_conn_join(sk_conn *a, sk_conn *b, const sk_join_opts *opts);

/* Request I/O that honours the idle and send timeouts, feeds the byte counters and ends when the
 * server stops (reads: end-of-file once the drain starts, or the shutdown request in the
 * iterative model). Streams read through req->reader. */
/* Some bytes; 0 at EOF. On a stream a cap of 0 is SK_EARG (as sk_reader_some). */
ssize_t sk_request_recv(sk_request *req, void *buf, size_t cap);
ssize_t sk_request_line(sk_request *req, char *buf, size_t cap); /* as sk_reader_line */
/* Streams: send every byte (a client that takes none for the send timeout, or the drain's cut,
 * ends it and the connection is reset). Datagrams: one datagram to req->peer (the reply). */
int sk_request_send(sk_request *req, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
