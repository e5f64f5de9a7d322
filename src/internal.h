/* Internal declarations shared by the library's source files (sk__ prefix). Not installed. */
#ifndef SOCKKIT_INTERNAL_H
#define SOCKKIT_INTERNAL_H

#include "sockkit.h"

#include <stdint.h>

/* err.c: record "context: message" as this thread's sk_errmsg() and return code. */
int sk__fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same with code = -errno. */
int sk__fail_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same with the reason given as text (a resolver's own words) instead of sk_strerror(code). */
int sk__fail_why(int code, const char *why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* opts.c: read a sized options struct (its first field a size_t: the caller's sizeof) into dst,
 * known bytes: a shorter one leaves the rest 0, a longer one must have its extra bytes 0; src
 * NULL gives all zeros (defaults). dst->size is set to known. what names it in sk_errmsg(). */
int sk__opts_load(void *dst, size_t known, const void *src, const char *what);
/* Copy a result struct of known bytes into the caller's dst, which says its size in its first
 * field: a shorter one gets the fields it has. Its size field is left as it is. */
int sk__result_store(void *dst, const void *src, size_t known, const char *what);
/* loop.c: stop watching fd, which the caller closes right after (nothing else may use it in
 * between): with epoll no epoll_ctl, the close takes it out. */
struct sk_loop;
void sk__loop_unwatch_closing(struct sk_loop *l, int fd);

/* sock.c: sk_socket with the role the trace should show from the first line on. */
int sk__socket(int family, int type, int proto, sk_role role);

/* listen.c: accept4 with SOCK_CLOEXEC | flags, traced; retries EINTR and the errors a client
 * that gave up while queued causes. The fd, or -errno (no sk_errmsg: -EAGAIN is routine). */
int sk__accept4(int listen_fd, sk_addr *peer, int flags);
/* A client fd accepted without its address (io_uring's multishot accept): look it up into peer
 * (left as it is if the client is gone), and trace the accept as sk__accept4 does. */
void sk__accepted_peer(int listen_fd, int fd, sk_addr *peer);

/* wait.c: monotonic deadlines. A deadline of -1 means none. */
int64_t sk__now_ms(void);
int64_t sk__now_us(void);
int64_t sk__deadline(int timeout_ms);
/* Milliseconds left until the deadline for poll(): -1 (none), 0 (expired) or positive. */
int sk__remaining(int64_t deadline);
/* poll one fd until ready or the deadline; EINTR retried. revents > 0, -ETIMEDOUT, or -errno. */
int sk__wait_deadline(int fd, short events, int64_t deadline);

/* trace.c: hooks the library calls for each operation. Each returns at once when tracing (text
 * and pcap) is off; callers may test sk__trace_on() first to skip building arguments (the text
 * calls test sk_trace_level() themselves). sk__trace_socket registers a new fd (family/type/proto
 * as created). */
bool sk__trace_on(void);
void sk__trace_socket(int fd, int family, int type, int proto, sk_role role);
void sk__trace_role(int fd, sk_role role);
void sk__trace_call(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* dir '>' sent, '<' received; peer may be NULL (connected socket: looked up by the tracer); call
 * names the socket call for the pcap's comment ("send", "recvfrom", ...). */
void sk__trace_data(int fd, char dir, const sk_addr *peer, const void *data, size_t len,
                    const char *call);
/* A TCP connection is made (call: "connect" or "accept"): the pcap's handshake. */
void sk__trace_established(int fd, const char *call);
/* shutdown(2) done (the text line, and this side's FIN in the pcap for SHUT_WR/SHUT_RDWR). */
void sk__trace_shutdown(int fd, int how, const char *name);
/* recv returned 0: the text line, and the peer's FIN in the pcap. */
void sk__trace_eof(int fd);
/* SO_LINGER set on with 0 seconds (on) or not: whether close shows RST or FIN in the pcap. */
void sk__trace_abortive(int fd, bool on);
void sk__trace_close(int fd);
/* Name what fd's data lines carry, for a relay: "client->relay" on received data, "relay->client"
 * on sent data (each at most 23 bytes); NULL clears it. */
void sk__trace_set_leg(int fd, const char *in, const char *out);
/* The same data line for the plaintext of a TLS connection, marked as decrypted. */
void sk__trace_tls_data(int fd, char dir, const void *data, size_t len);

/* reader.c: read through fn instead of the fd (sk_reader_new_tls, in tls.c, so that a program
 * using the reader without TLS does not link OpenSSL). fn: one read into dst until the deadline;
 * the count, 0 at the end of the stream, or a negative code. */
typedef ssize_t (*sk__read_fn)(void *ctx, void *dst, size_t len, int64_t deadline);
void sk__reader_set_source(sk_reader *r, sk__read_fn fn, void *ctx);

/* tls*.c: what the servers use of TLS, reached through the context so that a program serving no
 * TLS does not link OpenSSL (every sk_tls_ctx starts with a pointer to this table). The
 * non-blocking calls return SK__TLS_WANT_READ / _WRITE when the fd must be ready first. */
enum { SK__TLS_WANT_READ = 1, SK__TLS_WANT_WRITE = 2 };
struct sk__tls_ops {
    /* A connection on fd as the context's side, before its handshake (no I/O); host: a client's
     * name to send and verify (NULL: a server, or a client that verifies none). */
    int (*start)(sk_tls **out, sk_tls_ctx *ctx, int fd, const char *host);
    /* One step of the handshake without waiting: 0 done, a WANT, or a failure (sk_errmsg set). */
    int (*step)(sk_tls *t);
    /* Without waiting: the count, 0 at close_notify, -EAGAIN with *want saying what the fd must
     * be first (a read may need the fd writable: a key update's answer, a renegotiation; a write
     * may need it readable), or a failure. */
    ssize_t (*read)(sk_tls *t, void *buf, size_t len, int *want);
    ssize_t (*write)(sk_tls *t, const void *buf, size_t len, int *want);
    int (*handshake)(sk_tls *t, int timeout_ms); /* the blocking rest of the handshake */
    ssize_t (*send)(sk_tls *t, const void *buf, size_t len, int timeout_ms); /* sk_tls_send */
    int (*reader)(sk_reader **out, sk_tls *t, size_t bufsize);               /* sk_reader_new_tls */
    size_t (*pending)(const sk_tls *t);
    int (*shutdown)(sk_tls *t, int timeout_ms); /* sk_tls_shutdown */
    void (*close)(sk_tls *t);                   /* sk_tls_close */
};
static inline const struct sk__tls_ops *sk__tls_ops(const sk_tls_ctx *ctx)
{
    return *(const struct sk__tls_ops *const *)ctx;
}

/* netlink.c: one rtnetlink request (nlmsg_type, flags and payload filled in by the caller; seq
 * and NLM_F_REQUEST added here); fn sees each answer message until the dump ends or the single
 * answer came. Returns 0, the kernel's error (-errno), or fn's negative return. */
struct nlmsghdr;
struct rtattr;
typedef int (*sk__nl_fn)(const struct nlmsghdr *h, void *ctx);
int sk__nl_request(struct nlmsghdr *req, sk__nl_fn fn, void *ctx);
/* The attribute of a type among len bytes of attributes starting at first, or NULL. */
const struct rtattr *sk__nl_attr(const struct rtattr *first, size_t len, int type);

/* ifaces.c: grow the array *arrayp of *n elements of size bytes by one zeroed element; returns it,
 * or NULL when out of memory (the array is unchanged then). */
void *sk__array_push(void *arrayp, size_t *n, size_t size);

/* route.c: the fallback of sk_route_get without rtnetlink (a connected UDP socket's local
 * address and the interface holding it); out->dst is left to the caller. */
int sk__route_udp(const sk_addr *dst, sk_route *out);

/* mgroups.c: add the multicast groups, source filters and link-layer groups read from procdir's
 * igmp, igmp6, mcfilter, mcfilter6 and dev_mcast files ("/proc/net") to the interfaces of list,
 * matched by index. Missing files add nothing. Returns 0 or -ENOMEM. */
int sk__mgroups_read(const char *procdir, sk_iface_list *list);

/* addr.c: an endpoint as text again ("[::1]:80", ":7000", "unix:@x"), for messages; returns the
 * length as snprintf. */
int sk__endpoint_text(const sk_endpoint *ep, char *buf, size_t len);
/* addr.c: RFC 6761 6.3 names ("localhost", "x.localhost", with or without the final dot). */
bool sk__is_localhost(const char *host);
/* addr.c: an IP address without its port ("192.0.2.1", "fe80::1%eth0"); other families as
 * sk_addr_format writes them. */
int sk__format_host(const sk_addr *a, char *buf, size_t len);
/* addr.c: a getaddrinfo/getnameinfo EAI_* code as a library code. */
int sk__gai_code(int eai);

/* nss.c: sk_name_source / sk_addr_source / sk_nss_hosts with other files than /etc/nsswitch.conf
 * and /etc/hosts (for tests), and the hostname given rather than asked. */
int sk__name_source_in(const char *nsswitch, const char *hosts, const char *hostname,
                       const char *host, int family, char *buf, size_t len);
int sk__addr_source_in(const char *nsswitch, const char *hosts, const sk_addr *a, char *buf,
                       size_t len);
int sk__nss_hosts_in(const char *nsswitch, char *buf, size_t len);

/* proxy.c: why the handshake failed, without the context sk_errmsg() adds ("SOCKS5 reply 5:
 * Connection refused (target 127.0.0.1:9)"), and the protocol's name ("SOCKS5", "HTTP CONNECT"). */
const char *sk__proxy_why(const sk_proxy *p);
const char *sk__proxy_kind_name(const sk_proxy *p);

/* server_event.c: the cores this process may run on (its CPU affinity), and the loops the event
 * model runs on that many cores when opts.workers is 0. */
int sk__usable_cores(void);
int sk__default_loops(int cores);

#endif
