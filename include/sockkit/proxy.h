/* sockkit — reaching a host through a proxy: HTTP CONNECT (RFC 9110 section 9.3.6, optional Basic
 * credentials, RFC 7617) and SOCKS5 (RFC 1928, username/password RFC 1929).
 *
 * The handshake is a state machine over byte buffers that never touches a socket, so that a
 * program on an event loop can drive it without blocking: sk_proxy_output gives the bytes to send,
 * sk_proxy_input takes the bytes received and says "more", "done" or why it failed. It consumes
 * nothing past the proxy's reply: bytes after it belong to the tunnel. sk_connect_via and
 * sk_proxy_handshake are the blocking form, for sk_connect's users.
 *
 * SOCKS5 sends the target's name to the proxy (address type DOMAINNAME), so the name is resolved
 * there (curl's socks5h); an IP literal goes as an address. A proxy's refusal (a SOCKS5 reply code,
 * an HTTP status other than 2xx, failed credentials) is SK_EPROXY, and sk_errmsg() quotes the
 * reply; a reply that breaks the protocol (wrong version, truncated, a header longer than
 * SK_PROXY_HEADER_MAX, an authentication method that was not offered) is SK_EPROXYREPLY.
 *
 * Threads: an sk_proxy belongs to one thread at a time; the functions taking none may be called
 * from any thread.
 */
#ifndef SOCKKIT_PROXY_H
#define SOCKKIT_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#include "sockkit/sock.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The proxy's protocol. */
typedef enum sk_proxy_kind {
    SK_PROXY_SOCKS5 = 0, /* SOCKS version 5 (the default, as OpenBSD nc's -X) */
    SK_PROXY_HTTP = 1,   /* HTTP/1.1 CONNECT */
} sk_proxy_kind;

/* Options of a proxy handshake. Initialise with SK_PROXY_OPTS_INIT; every field left 0 is the
 * default. */
typedef struct sk_proxy_opts {
    size_t size;          /* sizeof(sk_proxy_opts), set by SK_PROXY_OPTS_INIT */
    sk_proxy_kind kind;   /* 0 = SK_PROXY_SOCKS5 */
    const char *user;     /* NULL = no credentials; at most 255 bytes (HTTP: no ':') */
    const char *password; /* with user; NULL = empty; at most 255 bytes */
} sk_proxy_opts;
/* clang-format off */
#define SK_PROXY_OPTS_INIT(...) {.size = sizeof(sk_proxy_opts), __VA_ARGS__}
/* clang-format on */

/* The longest HTTP reply header (status line and fields) a handshake accepts. */
#define SK_PROXY_HEADER_MAX 8192

/* sk_proxy_input's results besides a negative code. */
enum sk_proxy_status {
    SK_PROXY_MORE = 0, /* the reply is not complete: feed more (after sending sk_proxy_output) */
    SK_PROXY_DONE = 1, /* the tunnel is open: bytes from now on are the target's */
};

typedef struct sk_proxy sk_proxy;

/* A handshake asking the proxy for a tunnel to target ("host:port", "[v6]:port"; the port a
 * number or a service name). The first request is ready in sk_proxy_output at once. The
 * credentials are copied (and wiped by sk_proxy_free). SK_EARG / SK_EPARSE / SK_EPORT for a
 * target or credentials the protocol cannot carry. */
int sk_proxy_new(sk_proxy **out, const char *target, const sk_proxy_opts *opts);
void sk_proxy_free(sk_proxy *p);

/* The bytes to send to the proxy now: their length, and *data (valid until the next call on p).
 * 0 when nothing is to be sent (then wait for the proxy's reply). */
size_t sk_proxy_output(const sk_proxy *p, const void **data);
/* n of those bytes went out. SK_EARG if n is more than were pending. */
int sk_proxy_sent(sk_proxy *p, size_t n);

/* Bytes received from the proxy. *used (may be NULL) says how many of them it took. For
 * SK_PROXY_MORE that is all of them, unless a reply was complete and the next request is now in
 * sk_proxy_output: then the rest, data[*used..len), is fed again after that was sent (the proxy
 * should not have sent it yet). For SK_PROXY_DONE the rest is the first data of the tunnel. A
 * negative code when the proxy refused (SK_EPROXY) or the reply is malformed (SK_EPROXYREPLY), with
 * sk_errmsg() saying which; the machine stays failed. */
int sk_proxy_input(sk_proxy *p, const void *data, size_t len, size_t *used);

/* What the handshake waits for, for messages ("the SOCKS5 method choice"). */
const char *sk_proxy_waiting_for(const sk_proxy *p);

/* The handshake on a connected blocking or non-blocking stream fd, within timeout_ms (-1 =
 * none). It reads nothing past the reply, so the fd's next byte is the target's. Traced as the
 * proxy leg. 0, or a negative code (the fd is left open). */
int sk_proxy_handshake(int fd, const char *target, const sk_proxy_opts *opts, int timeout_ms);

/* sk_connect_ex(proxy, copts) and then sk_proxy_handshake for target, with timeout_ms a deadline
 * for both; copts (may be NULL) apply to the connection to the proxy. Returns the connected fd,
 * through which bytes go to and come from target, or a negative code; sk_errmsg() names the
 * proxy ("proxy 127.0.0.1:1080: SOCKS5 reply 5: Connection refused (target 127.0.0.1:9)"). */
int sk_connect_via(const char *proxy, const char *target, const sk_proxy_opts *opts,
                   const sk_connect_opts *copts, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
