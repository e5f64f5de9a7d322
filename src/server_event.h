/* The event model's state, shared by its two files: server_event.c (the loops, their threads,
 * listeners, accept and hand-off, datagrams, serve/drain/close) and server_conn.c (one stream
 * connection: input, the output buffer and back-pressure, idle timeout, its end). Not installed. */
#ifndef SOCKKIT_SERVER_EVENT_H
#define SOCKKIT_SERVER_EVENT_H

#include "server_core.h"
#include "sockkit/loop.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#define SK__EVENT_RBUF SK_SERVER_DGRAM_MAX /* one read: each loop's buffer */
#define SK__PIPE_POOL  32                  /* relay.c: empty pipes a loop keeps */

/* One loop and its thread. */
struct sk__worker {
    struct sk__event *ev;
    sk_loop *loop;
    int fd;         /* its listener or datagram socket, or -1 */
    bool shared_fd; /* fd belongs to worker 0 (a datagram socket all loops watch) */
    unsigned char *rbuf;
    sk_conn *conns; /* live connections, a doubly linked list */
    _Atomic size_t nconns;
    struct sk__counters c; /* written by this loop's thread only */
    pthread_t thread;
    _Atomic int resolving;       /* conn_connect.c: resolver threads that will post to this loop */
    int pipes[SK__PIPE_POOL][2]; /* relay.c: empty pipes kept for the next splice */
    int npipes;
    bool draining;
    int cut;
    /* io_uring (server_ring_accept.c): the listener's clients come from a multishot accept, not
     * from readiness and accept4; after a failure that ended it (EMFILE) readiness takes over
     * until an accept4 succeeds, and for good if the kernel refuses multishot accept. */
    bool accept_ring;     /* this listener accepts through the ring */
    bool accept_fallback; /* readiness for now */
    bool listen_watched;  /* the listener is watched for readiness */
    int64_t accept_op;    /* the multishot accept in flight, 0: none */
} __attribute__((aligned(64)));

struct sk__event {
    sk_server *srv;
    sk_event_handlers h;
    size_t high, low; /* output buffer marks */
    bool handoff;     /* loop 0 accepts for all */
    int nodelay_lost; /* TCP listeners without TCP_NODELAY: each client then sets its own */
    int n;
    struct sk__worker *w;
    atomic_bool stopping;
    unsigned next; /* hand-off: where the search for the least loaded starts */
};

/* The peer's address kept inline when it fits: IPv4 and IPv6 (a longer one, a named Unix peer,
 * is kept in full in sk_conn.peer). */
union sk__short_addr {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
};

/* Sized for idle memory (docs/performance.md: 10,000 idle connections): an idle accepted TCP
 * connection is this struct and its slot in the loop, so rare state is out of line (the peer's
 * full sk_addr, made only when asked for), flags are bits, and what only TLS and only the ring
 * use shares space where the two never meet (a ring connection has no TLS). */
struct sk_conn {
    struct sk__worker *w;
    sk_conn *prev, *next;
    unsigned char *out;
    size_t off, len, cap; /* unsent output is out[off, len) */
    uint64_t last;        /* loop time of the last progress */
    int64_t idle_timer;
    void *data;
    const sk_event_handlers *h; /* the callbacks: the server's, an outbound's own, a pair's */
    struct sk__outbound *ob;    /* conn_connect.c's state while connecting, and handlers */
    /* relay.c's zero-copy pump: when set, it does this connection's I/O instead of on_io */
    void (*raw_io)(sk_conn *c, int events);
    /* The peer: the short form inline (pa, pa_len bytes of it); the full sk_addr that
     * sk_conn_peer returns is made on the first ask (or at once for a longer address). */
    sk_addr *peer;
    /* TLS (opts.tls): on_open runs once the handshake is done (opened); until then the loop
     * watches for what the handshake wants (tls_want), within the handshake timer. */
    sk_tls *tls;
    const struct sk__tls_ops *tops; /* the context's table (server's or sk_conn_connect's) */
    char *why; /* a TLS failure's sk_errmsg() (the peer's alert), for a pair's on_done */
    union {
        int64_t hs_timer;   /* TLS: the handshake's deadline */
        int64_t ring_timer; /* ring: delivers what is held, or arms the first receive */
    };
    /* io_uring's completion-based I/O (server_ring.c): a plain accepted stream connection on a
     * loop that offers it. Its fd is never watched: a multishot receive runs while it reads, and
     * one send at a time carries its output. */
    int64_t recv_op, send_op;  /* the ops in flight, 0: none */
    struct sk__held *held;     /* received after reading stopped: delivered, in order, on resume */
    unsigned nheld, held_head; /* held[held_head, nheld) */
    uint32_t inflight;         /* out[off, off + inflight) is what the send in flight reads */
    int fd;
    int reason;       /* for on_close */
    int paused;       /* sk_conn_pause count */
    uint16_t busy;    /* our frames on the stack that hold c */
    int16_t held_end; /* ring: input ended while reading was stopped, 1 (EOF) or -errno */
    union sk__short_addr pa;
    uint8_t pa_len;
    uint8_t type;     /* SOCK_STREAM or SOCK_DGRAM */
    int8_t events;    /* what the loop watches for (-1: not known, watch anew) */
    uint8_t tls_want; /* during the handshake: what it waits for */
    uint8_t run;      /* ring: multishot completions in a row with more input queued */
    bool closing : 1, dead : 1, over : 1, draining : 1, fin_sent : 1, discard : 1;
    bool outbound : 1;   /* made by sk_conn_connect: not an accepted client (no sk__release) */
    bool connecting : 1; /* conn_connect.c owns the fd's watch until the connect is done */
    bool eof : 1;        /* on_end ran: the peer's FIN came, nothing more is read */
    bool shut_req : 1;   /* sk_conn_shutdown: FIN once the output is flushed */
    bool shut_done : 1;
    bool joined : 1;    /* in a relay pair: its output's level stops the other side, not itself */
    bool peer_lazy : 1; /* accepted by the ring without its address: getpeername when asked */
    bool handshaking : 1, opened : 1;
    bool rd_wants_w : 1; /* the last TLS read waits for the fd to be writable (key update) */
    bool wr_wants_r : 1; /* the last TLS write waits for the fd to be readable */
    bool ring : 1;
    bool recv_cancel : 1; /* the receive is being cancelled (reading stopped) */
    bool armed_once : 1;  /* its first receive was armed (from a zero timer: sk__ring_leave) */
    bool starved : 1;     /* a receive found no buffer: readiness until input comes */
};

/* The peer's address as a full sk_addr (len 0 if unknown); sk_conn_peer's pointer form. */
void sk__conn_peer_get(const sk_conn *c, sk_addr *out);
/* Record the peer's address (accept, an outbound's destination, a datagram's source). */
int sk__conn_peer_set(sk_conn *c, const sk_addr *a);

/* One buffer a completion filled while its connection was not reading. */
struct sk__held {
    unsigned bid, len;
};

/* A counter only its loop's thread writes: no locked add needed. */
static inline void sk__bump(_Atomic uint64_t *x, uint64_t n)
{
    atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* server_conn.c: a connection struct for fd on loop w, in w's list (on_open not called). */
sk_conn *sk__conn_new(struct sk__worker *w, int fd, const sk_addr *peer);
/* After our frames are off the stack: free a finished connection, or watch what it needs. */
void sk__conn_settle(sk_conn *c);
/* relay.c's pump: watch c's fd for events with on_io (which calls c->raw_io); count bytes moved
 * past user space in the loop's counters and as activity (idle timeout). */
int sk__conn_watch(sk_conn *c, int events);
void sk__conn_count(sk_conn *c, uint64_t in, uint64_t out);
/* The words of c's failure, if the library had any (a TLS read or write), else NULL. */
const char *sk__conn_why(const sk_conn *c);
/* Abandon c with this reason (its output is dropped); freed at the next settle. */
void sk__conn_fail(sk_conn *c, int reason);
/* conn_connect.c: a connecting connection is ending before its connect finished (cut, close):
 * on_connect gets reason; frees the connect state. */
void sk__outbound_end(sk_conn *c, int reason);
void sk__outbound_free(sk_conn *c);
/* The TLS handshake of an outbound connection is done: on_connect(c, 0). */
void sk__outbound_ready(sk_conn *c);
/* What on_connect's sk_errmsg() will say if c ends before it is ready (a TLS handshake's
 * failure), as "context: reason". */
void sk__outbound_note(sk_conn *c, int code, const char *msg);
/* server_conn.c: start TLS on c (an accepted client, or an outbound connection once connected)
 * with ctx; host: a client's name to send and verify. The handshake runs on the loop, bounded
 * by the server's handshake timeout; then on_open (accepted) or sk__outbound_ready (outbound).
 * 0, or a negative code (c is failed). */
int sk__conn_start_tls(sk_conn *c, sk_tls_ctx *ctx, const char *host);
/* relay.c: close the loop's pool of empty pipes (server close). */
void sk__relay_pipes_free(struct sk__worker *w);
/* Wait until no resolver thread of loop w is running (server close). */
void sk__outbound_quiesce(struct sk__worker *w);
/* server_conn.c: the admitted client fd joins loop w (on w's thread). */
void sk__conn_adopt(struct sk__worker *w, int fd, const sk_addr *peer);
/* Drain: stop reading c, flush its output, send FIN, wait for the peer to close. */
void sk__conn_drain(sk_conn *c);
/* server_conn.c, for server_ring.c: input as read_some takes it (n > 0 bytes, 0 the end, -errno a
 * failure); what a send took (n bytes of out[off...]); whether c reads now. */
void sk__conn_input(sk_conn *c, const unsigned char *buf, ssize_t n);
void sk__conn_sent(sk_conn *c, size_t n);
bool sk__conn_wants_read(const sk_conn *c);
/* server_ring.c: whether an accepted connection on w uses the completion-based I/O; after our
 * frames are off the stack, start or stop its receive and send what waits; at its end, cancel
 * what is in flight (its output buffer goes to the send, which may still read it); a write that
 * must move the output buffer while a send reads it. */
bool sk__ring_usable(struct sk__worker *w);
int sk__ring_settle(sk_conn *c);
void sk__ring_end(sk_conn *c);
int sk__ring_regrow(sk_conn *c, size_t need);
/* Close a connection's fd (or a refused client's) on loop l: through the ring where the loop has
 * completion-based ops (IORING_OP_CLOSE with the next submission: no close(2)), else sk_close.
 * The fd's number stays taken until that submission; sk__ring_flush submits the queued closes
 * now (a loop that stops running, an accept4 that needs the fds back). */
void sk__ring_close(sk_loop *l, int fd);
void sk__ring_flush(sk_loop *l);
/* relay.c: c goes back to readiness (its fd watched by the loop) if nothing is in flight or held:
 * true then, or when it never used the completions. */
bool sk__ring_leave(sk_conn *c);
/* server_event.c: a client accepted by w's listener (fd, flags as the readiness path gives):
 * counted, admitted (max_conns, verify) and served here or handed off, or closed. peer NULL:
 * not known (a ring accept), looked up only if something needs it. */
void sk__event_client(struct sk__worker *w, int fd, const sk_addr *peer);
/* w's listener takes clients again, by the ring or (accept_fallback, or no ring) by readiness;
 * nothing if it is closed or draining. */
int sk__event_listen(struct sk__worker *w);
/* server_ring_accept.c: start w's multishot accept (false: not possible, use readiness); cancel
 * it for good (a drain, the close, a pause), its late clients closed by the loop. */
bool sk__ring_accept_start(struct sk__worker *w);
void sk__ring_accept_stop(struct sk__worker *w);
/* Close every connection of the loop at once (on_close gets SK_ECLOSED); returns how many. */
int sk__conn_cut_all(struct sk__worker *w);

#endif
