/* sockkit — sockets: create, options, connect, listen, accept, send/receive, half-close.
 *
 * Sockets are plain file descriptors. Every fd the library opens is close-on-exec; no send raises
 * SIGPIPE (MSG_NOSIGNAL); EINTR is retried inside. Timeouts are in milliseconds, -1 = wait forever,
 * 0 = do not wait. A timeout on a call that loops (send_all, recv_exact, connect over several
 * addresses) is a deadline for the whole call (the one exception: a DNS lookup, see sk_connect).
 *
 * Threads: every function may be called from any thread. On one fd from several threads at once,
 * they behave as the system calls they make do: one thread sending while another receives is
 * fine; two threads sending on one stream interleave their bytes (sk_send_all too).
 */
#ifndef SOCKKIT_SOCK_H
#define SOCKKIT_SOCK_H

#include "addr.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What an fd is ready for: sk_wait, and the event loop's watchers (loop.h). */
typedef enum sk_io_events {
    SK_READABLE = 1, /* data, end of stream, or an error to read */
    SK_WRITABLE = 2,
} sk_io_events;

/* ---- create and close ---------------------------------------------------------------------- */

/* socket(2) with SOCK_CLOEXEC. proto 0 (IPPROTO_IP) means "the default protocol for the type":
 * TCP for SOCK_STREAM, UDP for SOCK_DGRAM on AF_INET/AF_INET6. Returns the fd. */
int sk_socket(int family, int type, int proto);

/* close(2), traced. EINTR is not retried (on Linux the fd is gone either way). */
int sk_close(int fd);

/* A connected pair (AF_UNIX). type: SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET. */
int sk_socketpair(int type, int fds[2]);

/* ---- options ------------------------------------------------------------------------------- */

int sk_sock_set_nonblock(int fd, bool on);
int sk_sock_set_reuseaddr(int fd, bool on);
int sk_sock_set_reuseport(int fd, bool on);
int sk_sock_set_nodelay(int fd, bool on);
/* SO_KEEPALIVE plus TCP_KEEPIDLE/TCP_KEEPINTVL/TCP_KEEPCNT; a value <= 0 leaves that one as is. */
int sk_sock_set_keepalive(int fd, bool on, int idle_s, int interval_s, int count);
int sk_sock_set_rcvbuf(int fd, int bytes);
int sk_sock_set_sndbuf(int fd, int bytes);
/* SO_LINGER; on with 0 seconds makes close() send RST. */
int sk_sock_set_linger(int fd, bool on, int seconds);
int sk_sock_set_v6only(int fd, bool on);
/* SO_RCVTIMEO / SO_SNDTIMEO in milliseconds (0 = none): for code doing its own blocking calls. */
int sk_sock_set_timeouts(int fd, int recv_ms, int send_ms);

/* Any integer option by name: "SO_REUSEADDR", "TCP_NODELAY", "IP_TTL", "IPV6_V6ONLY", ... (the
 * names `sockkit proto --options` lists). Unknown names give SK_EOPTION. */
int sk_sock_set_option(int fd, const char *name, int value);
int sk_sock_get_option(int fd, const char *name, int *value);

/* ---- addresses of a socket ----------------------------------------------------------------- */

int sk_sock_get_local_addr(int fd, sk_addr *out);
int sk_sock_get_peer_addr(int fd, sk_addr *out);

/* ---- connect ------------------------------------------------------------------------------- */

/* Options of the sk_connect family. Initialise with SK_CONNECT_OPTS_INIT (it sets size, so the
 * struct can gain fields in later versions: see sockkit.h); every field left 0 is the default. */
typedef struct sk_connect_opts {
    size_t size;            /* sizeof(sk_connect_opts), set by SK_CONNECT_OPTS_INIT */
    int family;             /* 0 = AF_UNSPEC (any), AF_INET or AF_INET6 */
    int type;               /* 0 = SOCK_STREAM, or SOCK_DGRAM */
    const char *source;     /* bind to this endpoint first (e.g. "10.0.0.2:0"); NULL = no bind */
    bool numeric;           /* no DNS: SK_RESOLVE_NUMERIC (false = names resolve) */
    bool no_happy_eyeballs; /* plain sequential attempts even when both families resolve */
    int attempt_delay_ms;   /* Happy Eyeballs stagger; 0 = SK_ATTEMPT_DELAY_DEFAULT_MS */
} sk_connect_opts;
/* clang-format off */
#define SK_CONNECT_OPTS_INIT(...) {.size = sizeof(sk_connect_opts), __VA_ARGS__}
/* clang-format on */
#define SK_ATTEMPT_DELAY_DEFAULT_MS 250 /* RFC 8305's recommended Connection Attempt Delay */

/* Python's socket.create_connection: resolve, try every address in order with non-blocking
 * connect + poll + SO_ERROR, keep the last error. When both IPv6 and IPv4 addresses resolve, races
 * them per RFC 8305 (Happy Eyeballs v2: families interleaved, a new attempt every
 * opts->attempt_delay_ms while the earlier ones are pending, first to succeed wins). timeout_ms
 * bounds the connecting, not the name lookup before it: getaddrinfo takes no timeout, so a DNS
 * name can take the resolver's own limits longer (resolv.conf's timeout and attempts, 5 s x 2 per
 * server by default). For a strict bound resolve first (sk_resolve) and connect with
 * sk_connect_addrs, or use numbers (opts->numeric). Returns a blocking connected fd. Unix
 * endpoints ("unix:/p") work too. opts may be NULL. */
int sk_connect(const char *endpoint, int timeout_ms);
int sk_connect_ex(const char *endpoint, const sk_connect_opts *opts, int timeout_ms);
/* The same for an endpoint already parsed (sk_endpoint_parse). */
int sk_connect_endpoint(const sk_endpoint *ep, const sk_connect_opts *opts, int timeout_ms);
/* Connect to one address. type: SOCK_STREAM or SOCK_DGRAM. */
int sk_connect_addr(const sk_addr *addr, int type, int timeout_ms);
/* Connect to the first of n addresses that accepts, with the same rules as sk_connect_ex (Happy
 * Eyeballs when both families are present, unless opts->no_happy_eyeballs). opts may be NULL. */
int sk_connect_addrs(const sk_addr *addrs, size_t n, const sk_connect_opts *opts, int timeout_ms);
/* The order sk_connect_addrs tries n addresses in: order[k] is the index in addrs of the k-th
 * attempt. With both IPv6 and IPv4 present (and Happy Eyeballs not turned off in opts, which may be
 * NULL) the families alternate, starting with the first address's (RFC 8305 section 4), and returns
 * 1; otherwise the order is addrs' own and returns 0. */
int sk_connect_order(const sk_addr *addrs, size_t n, const sk_connect_opts *opts, size_t *order);

/* ---- listen / bind ------------------------------------------------------------------------- */

/* Options of sk_listen. Initialise with SK_LISTEN_OPTS_INIT; every field left 0 is the default. */
typedef struct sk_listen_opts {
    size_t size;       /* sizeof(sk_listen_opts), set by SK_LISTEN_OPTS_INIT */
    int family;        /* 0 = AF_UNSPEC: from the endpoint; the any-address (":7000") is then
                        * one [::] socket that takes IPv4 too (0.0.0.0 without IPv6) */
    int type;          /* 0 = SOCK_STREAM: bind + listen; SOCK_DGRAM: bind only */
    int backlog;       /* 0 = SOMAXCONN */
    bool no_reuseaddr; /* false: SO_REUSEADDR is on, as in Python's create_server on POSIX */
    bool reuseport;    /* SO_REUSEPORT (false: off) */
    bool dualstack;    /* an IPv6 any-address ("[::]:7000", or ":7000" with family AF_INET6):
                        * the socket takes IPv4 too (false: IPv6 only) */
    bool numeric;      /* no DNS (false: names resolve) */
    bool unlink_stale; /* unix:/path: remove an existing socket file nobody listens on */
} sk_listen_opts;
/* clang-format off */
#define SK_LISTEN_OPTS_INIT(...) {.size = sizeof(sk_listen_opts), __VA_ARGS__}
/* clang-format on */

/* Python's socket.create_server. Returns the listening (or bound datagram) fd. opts may be NULL. */
int sk_listen(const char *endpoint, const sk_listen_opts *opts);
/* The same for an endpoint already parsed (sk_endpoint_parse). */
int sk_listen_endpoint(const sk_endpoint *ep, const sk_listen_opts *opts);
int sk_listen_addr(const sk_addr *addr, const sk_listen_opts *opts);

/* accept4 with SOCK_CLOEXEC, waiting up to timeout_ms. peer may be NULL. Returns the new fd
 * (blocking). ECONNABORTED and friends are retried within the timeout. When several threads or
 * processes accept on one listener, make it non-blocking (sk_sock_set_nonblock): a connection
 * another acceptor takes between the wait and the accept would otherwise block past the deadline.
 */
int sk_accept(int listen_fd, sk_addr *peer, int timeout_ms);

/* ---- send and receive ---------------------------------------------------------------------- */

/* One send/recv, waiting up to timeout_ms for the socket to be ready. Return the byte count
 * (recv: 0 = orderly EOF). */
ssize_t sk_send(int fd, const void *buf, size_t len, int timeout_ms);
ssize_t sk_recv(int fd, void *buf, size_t len, int timeout_ms);

/* Send every byte, looping over partial writes. Returns 0 when all was sent; on failure a negative
 * code, and *sent (if not NULL) says how many bytes did go out — nothing is lost silently. */
int sk_send_all(int fd, const void *buf, size_t len, int timeout_ms, size_t *sent);

/* Receive exactly len bytes. SK_EEOF if the peer closed first; *got (if not NULL) tells how many
 * arrived. */
int sk_recv_exact(int fd, void *buf, size_t len, int timeout_ms, size_t *got);

/* Datagrams. sk_recvfrom fills *from (may be NULL); returns the datagram length (truncated to len
 * if longer; flags MSG_TRUNC not reported). */
ssize_t sk_sendto(int fd, const void *buf, size_t len, const sk_addr *to, int timeout_ms);
ssize_t sk_recvfrom(int fd, void *buf, size_t len, sk_addr *from, int timeout_ms);

/* A length-prefixed frame: prefix_bytes (2 or 4) big-endian length, then the payload. The reader
 * side is sk_reader_frame (reader.h). */
int sk_send_frame(int fd, int prefix_bytes, const void *buf, size_t len, int timeout_ms);

/* shutdown(2). how: SHUT_RD, SHUT_WR, SHUT_RDWR. */
int sk_shutdown(int fd, int how);

/* Send count bytes of file_fd starting at offset (sendfile(2)), looping until done. Returns 0, or a
 * negative code with *sent telling how far it got. */
int sk_sendfile(int sock_fd, int file_fd, off_t offset, size_t count, int timeout_ms, size_t *sent);

/* Wait until fd is ready for events (SK_READABLE, SK_WRITABLE or both). Returns what it is ready
 * for (> 0; an error or hang-up counts as both), -ETIMEDOUT, or another negative code (SK_EARG
 * for no or unknown events). */
int sk_wait(int fd, int events, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
