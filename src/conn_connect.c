/* Outbound connections on an event-model loop (sk_conn_connect): the event model's counterpart of
 * sk_connect. The contract is libuv's uv_tcp_connect: the callback runs exactly once, on the loop,
 * never inside sk_conn_connect itself, whatever happens (connected, refused, timed out, a name
 * that does not resolve, the server cutting it off).
 *
 * A numeric address resolves inline. A name is resolved by getaddrinfo on a detached helper
 * thread, one per lookup (lookups are rare next to connections, and a thread per lookup needs no
 * queue, no pool and no shutdown protocol); its result comes back with sk_loop_post. The loop
 * counts the lookups in flight so that closing the server waits for them before it frees the loop
 * they post to. Only the loop thread touches the connection: the thread has its own job struct,
 * and a connection that ends first just forgets the job (job->c = NULL), which frees itself when
 * its post arrives.
 *
 * The addresses are tried as sk_connect tries them, within one deadline: one after the other in
 * the resolver's order, a failure moving to the next at once; when both families resolve, Happy
 * Eyeballs (RFC 8305): the families interleaved (section 4), and a new attempt every
 * attempt_delay_ms while earlier ones are pending (section 5), each its own non-blocking socket
 * watched by the loop. The first to connect wins and the others are closed. The connection's
 * fd stays -1 until then: the attempts' fds belong to this file. */
#include "server_event.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

struct resolve_job {
    struct sk__worker *w;
    sk_conn *c; /* NULL once the connection is gone (loop thread only) */
    sk_endpoint ep;
    sk_addr_list addrs;
    int rc;
    char why[200]; /* the resolver's message on failure */
};

/* One pending connect (Happy Eyeballs runs several at once). */
struct attempt {
    sk_conn *c;
    int fd;
    size_t idx; /* into addrs */
};

struct sk__outbound {
    sk_event_handlers h; /* the new connection's callbacks, loaded from opts.events */
    sk_connect_fn on_connect;
    sk_endpoint ep;
    sk_addr_list addrs;
    size_t next;         /* the address to try next */
    struct attempt *att; /* the pending attempts, npending of them (room for every address) */
    size_t npending;
    bool he, no_he;  /* he: both families, interleaved, a new attempt every delay_ms */
    int delay_ms;    /* RFC 8305's connection attempt delay */
    int64_t stagger; /* the timer that starts the next attempt while earlier ones wait */
    int64_t timer;   /* the start, then the deadline */
    int timeout_ms;  /* -1: none */
    int last_err;
    char why[200]; /* what the last failure was, for sk_errmsg() in on_connect */
    struct resolve_job *job;
    sk_tls_ctx *tls; /* opts.tls: the handshake runs before on_connect */
    char *tls_host;  /* a copy of opts.tls_host (NULL = none): kept off the struct, which
                      * then stays small enough for malloc's per-thread cache */
    bool done;       /* on_connect ran */
};

static void start_next(sk_conn *c);
static void on_attempt_io(sk_loop *l, int fd, int events, void *arg);

/* A connecting socket is watched for both: the loop reports an error or hang-up as both, and a
 * connect that succeeded as writable alone (unless the peer spoke first), which saves the
 * getsockopt(SO_ERROR) per connection that HAProxy does not make either. */
#define ATTEMPT_EVENTS (SK_READABLE | SK_WRITABLE)

__attribute__((format(printf, 3, 0))) static void note(sk_conn *c, int code, const char *fmt,
                                                       const char *what)
{
    c->ob->last_err = code;
    /* a long name is cut: the message stays one line of sk_errmsg() */
    if (snprintf(c->ob->why, sizeof c->ob->why, fmt, what, sk_strerror(code)) < 0)
        c->ob->why[0] = '\0';
}

/* ---- the end, once ----------------------------------------------------------------------------
 */

void sk__outbound_end(sk_conn *c, int reason)
{
    struct sk__outbound *ob = c->ob;
    if (!ob || ob->done)
        return;
    ob->done = true;
    if (!ob->why[0])
        snprintf(ob->why, sizeof ob->why, "connect %.120s: %s",
                 ob->ep.is_unix ? ob->ep.path : ob->ep.host, sk_strerror(reason));
    char *sep = strrchr(ob->why, ':'); /* "context: reason", as sk_errmsg() reads */
    if (sep && sep[1] == ' ') {
        *sep = '\0';
        sk__fail_why(reason, sep + 2, "%s", ob->why);
    } else {
        sk__fail_why(reason, ob->why, "connect");
    }
    ob->on_connect(c, reason);
}

void sk__outbound_free(sk_conn *c)
{
    struct sk__outbound *ob = c->ob;
    if (!ob)
        return;
    if (ob->job)
        ob->job->c = NULL; /* it frees itself when its answer arrives */
    if (ob->timer > 0)
        sk_loop_cancel(c->w->loop, ob->timer);
    if (ob->stagger > 0)
        sk_loop_cancel(c->w->loop, ob->stagger);
    for (size_t i = 0; i < ob->npending; i++) {
        sk_loop_unwatch(c->w->loop, ob->att[i].fd);
        sk_close(ob->att[i].fd);
    }
    free(ob->att);
    sk_addr_list_free(&ob->addrs);
    free(ob->tls_host);
    free(ob);
    c->ob = NULL;
}

void sk__outbound_quiesce(struct sk__worker *w)
{
    /* Bounded by the resolver's own timeouts (resolv.conf: timeout x attempts). */
    while (atomic_load(&w->resolving) > 0)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
}

/* ---- connecting --------------------------------------------------------------------------------
 */

static void drop_attempt(sk_conn *c, struct attempt *a)
{
    struct sk__outbound *ob = c->ob;
    sk_loop_unwatch(c->w->loop, a->fd);
    sk_close(a->fd);
    *a = ob->att[--ob->npending];
    if (a != &ob->att[ob->npending]) /* the moved attempt's watch points at its old slot */
        sk_loop_watch(c->w->loop, a->fd, ATTEMPT_EVENTS, on_attempt_io, a);
}

static void cancel_stagger(sk_conn *c)
{
    if (c->ob->stagger > 0)
        sk_loop_cancel(c->w->loop, c->ob->stagger);
    c->ob->stagger = 0;
}

static void connected(sk_conn *c, int fd, const sk_addr *to)
{
    struct sk__outbound *ob = c->ob;
    if (ob->timer > 0)
        sk_loop_cancel(c->w->loop, ob->timer);
    ob->timer = 0;
    cancel_stagger(c);
    while (ob->npending) /* the losers of the race */
        drop_attempt(c, &ob->att[0]);
    c->fd = fd;
    sk__conn_peer_set(c, to); /* only a long Unix name needs memory: without, the family alone */
    c->connecting = false;
    c->events = -1; /* settle watches it for the connection's I/O from now on */
    c->last = sk_loop_now(c->w->loop);
    if (to->u.sa.sa_family == AF_INET || to->u.sa.sa_family == AF_INET6) {
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    free(ob->att);
    ob->att = NULL;
    sk_addr_list_free(&ob->addrs);
    if (ob->tls) { /* on_connect once the handshake is done (sk__outbound_ready) or failed */
        if (sk__conn_start_tls(c, ob->tls, ob->tls_host) < 0) {
            c->connecting = true; /* no TLS state: the end still goes to on_connect, once */
            sk__outbound_note(c, c->reason, sk_errmsg());
        }
        return;
    }
    ob->done = true;
    ob->on_connect(c, 0);
}

void sk__outbound_ready(sk_conn *c)
{
    struct sk__outbound *ob = c->ob;
    if (!ob || ob->done)
        return;
    ob->done = true;
    ob->on_connect(c, 0);
}

void sk__outbound_note(sk_conn *c, int code, const char *msg)
{
    if (!c->ob)
        return;
    c->ob->last_err = code;
    snprintf(c->ob->why, sizeof c->ob->why, "%s", msg);
}

static void trace_failed(int fd, const sk_addr *a, int code)
{
    if (!sk__trace_on())
        return;
    char s[SK_ADDRSTRLEN];
    sk_addr_format(a, s, sizeof s);
    sk__trace_call(fd, "connect %s -> %s (%s)", s, sk_err_name(code), sk_strerror(code));
}

/* Nothing pending and nothing left to try: the connection fails with the last error. */
static void maybe_failed(sk_conn *c)
{
    struct sk__outbound *ob = c->ob;
    if (!c->connecting) /* connected at once (a Unix socket): nothing failed */
        return;
    if (!ob->npending && ob->next >= ob->addrs.n)
        sk__conn_fail(c, ob->last_err ? ob->last_err : SK_ENOADDR);
}

static void on_attempt_io(sk_loop *l, int fd, int events, void *arg)
{
    (void)l;
    struct attempt *at = arg;
    sk_conn *c = at->c;
    const sk_addr *a = &c->ob->addrs.v[at->idx];
    int err = 0;
    socklen_t len = sizeof err;
    /* writable alone: connected (ATTEMPT_EVENTS); readable too: a failure, or data already */
    if (events != SK_WRITABLE && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    c->busy++;
    if (err == 0) {
        if (sk__trace_on()) {
            char s[SK_ADDRSTRLEN];
            sk_addr_format(a, s, sizeof s);
            sk__trace_call(fd, "connect %s (completed) = 0", s);
            sk__trace_established(fd, "connect"); /* the pcap's handshake */
        }
        /* The winner leaves the list; its fd stays open and stays registered with the loop (no
         * epoll_ctl DEL and ADD for one connection): connected() sets c->events to -1, so the
         * settle after this callback (or a join inside on_connect) re-points the watch to the
         * connection's own handler before the loop runs again. */
        *at = c->ob->att[--c->ob->npending];
        if (at != &c->ob->att[c->ob->npending])
            sk_loop_watch(c->w->loop, at->fd, ATTEMPT_EVENTS, on_attempt_io, at);
        connected(c, fd, a);
    } else {
        char s[SK_ADDRSTRLEN];
        sk_addr_format(a, s, sizeof s);
        trace_failed(fd, a, -err);
        note(c, -err, "connect %s: %s", s);
        drop_attempt(c, at);
        /* RFC 8305 section 5: a failure starts the next attempt at once, not at the stagger */
        cancel_stagger(c);
        start_next(c);
        maybe_failed(c);
    }
    c->busy--;
    sk__conn_settle(c);
}

static void on_stagger(sk_loop *l, int64_t timer, void *arg)
{
    (void)l;
    (void)timer;
    sk_conn *c = arg;
    c->ob->stagger = 0;
    c->busy++;
    start_next(c);
    maybe_failed(c);
    c->busy--;
    sk__conn_settle(c);
}

/* Start attempts until one is pending (or connected at once) or none is left; with Happy Eyeballs
 * and more addresses to go, the next one is due after the attempt delay unless this one answers
 * first. Runs in a loop callback that holds c (busy): a failure is reported when that ends. */
static void start_next(sk_conn *c)
{
    struct sk__outbound *ob = c->ob;
    while (ob->next < ob->addrs.n && !ob->done) {
        size_t idx = ob->next++;
        const sk_addr *a = &ob->addrs.v[idx];
        char s[SK_ADDRSTRLEN]; /* formatted only for a message or the trace: not per connect */
        int fd = sk__socket(a->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK, 0, SK_ROLE_CLIENT);
        if (fd < 0) {
            sk_addr_format(a, s, sizeof s);
            note(c, fd, "socket for %s: %s", s);
            continue;
        }
        int cr = connect(fd, &a->u.sa, a->len);
        if (cr == 0) { /* Unix sockets connect at once */
            connected(c, fd, a);
            return;
        }
        if (errno == EINPROGRESS) {
            if (sk__trace_on()) {
                sk_addr_format(a, s, sizeof s);
                sk__trace_call(fd, "connect %s (in progress)", s);
            }
            struct attempt *at = &ob->att[ob->npending];
            *at = (struct attempt){.c = c, .fd = fd, .idx = idx};
            int rc = sk_loop_watch(c->w->loop, fd, ATTEMPT_EVENTS, on_attempt_io, at);
            if (rc == 0) {
                ob->npending++;
                if (ob->he && ob->next < ob->addrs.n && ob->stagger == 0) {
                    ob->stagger = sk_loop_timer(c->w->loop, ob->delay_ms, 0, on_stagger, c);
                    if (ob->stagger < 0)
                        ob->stagger = 0; /* the next attempt waits for this one's failure */
                }
                return;
            }
            sk_addr_format(a, s, sizeof s);
            note(c, rc, "connect %s: watch: %s", s);
        } else {
            int err = -errno;
            trace_failed(fd, a, err);
            sk_addr_format(a, s, sizeof s);
            note(c, err, "connect %s: %s", s);
        }
        sk_close(fd);
    }
}

/* The resolved addresses in the order to try them: RFC 8305's interleaving of the families when
 * both are there (as sk_connect); att holds the pending attempts, at most one per address. */
static int plan(sk_conn *c)
{
    struct sk__outbound *ob = c->ob;
    size_t n = ob->addrs.n;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    sk_addr *v = malloc((n ? n : 1) * sizeof *v);
    ob->att = calloc(n ? n : 1, sizeof *ob->att);
    if (!order || !v || !ob->att) {
        free(order);
        free(v);
        return -ENOMEM;
    }
    sk_connect_opts co = SK_CONNECT_OPTS_INIT(.no_happy_eyeballs = ob->no_he);
    ob->he = sk_connect_order(ob->addrs.v, n, &co, order) == 1;
    for (size_t i = 0; i < n; i++)
        v[i] = ob->addrs.v[order[i]];
    memcpy(ob->addrs.v, v, n * sizeof *v);
    free(order);
    free(v);
    return 0;
}

static void begin(sk_conn *c)
{
    int rc = plan(c);
    if (rc < 0) {
        note(c, rc, "connect %s: %s", c->ob->ep.host);
        sk__conn_fail(c, rc);
        return;
    }
    start_next(c);
    maybe_failed(c);
}

static void on_deadline(sk_loop *l, int64_t timer, void *arg)
{
    (void)l;
    (void)timer;
    sk_conn *c = arg;
    c->ob->timer = 0;
    char what[300];
    snprintf(what, sizeof what, "%.250s", c->ob->why[0] ? c->ob->why : "connect");
    note(c, -ETIMEDOUT, "%s (then no answer within the deadline): %s", what);
    sk__conn_fail(c, -ETIMEDOUT);
    sk__conn_settle(c);
}

/* ---- resolving ---------------------------------------------------------------------------------
 */

static void resolved(sk_loop *l, void *arg)
{
    (void)l;
    struct resolve_job *j = arg;
    sk_conn *c = j->c;
    if (c) {
        c->ob->job = NULL;
        c->busy++;
        if (j->rc < 0) {
            c->ob->last_err = j->rc;
            snprintf(c->ob->why, sizeof c->ob->why, "%s", j->why);
            sk__conn_fail(c, j->rc);
        } else {
            c->ob->addrs = j->addrs;
            j->addrs = (sk_addr_list){0};
            begin(c);
        }
        c->busy--;
        sk__conn_settle(c);
    }
    sk_addr_list_free(&j->addrs);
    free(j);
}

static void *resolve_main(void *arg)
{
    struct resolve_job *j = arg;
    struct sk__worker *w = j->w;
    j->rc = sk_resolve_endpoint(&j->ep, AF_UNSPEC, SOCK_STREAM, 0, &j->addrs);
    if (j->rc < 0)
        snprintf(j->why, sizeof j->why, "%s", sk_errmsg());
    /* If even the post fails (out of memory) the job is lost: the deadline still ends the
     * connect, and the job is leaked rather than freed under the connection's pointer. */
    sk_loop_post(w->loop, resolved, j);
    atomic_fetch_sub(&w->resolving, 1);
    return NULL;
}

static int resolve_async(sk_conn *c)
{
    struct resolve_job *j = calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    *j = (struct resolve_job){.w = c->w, .c = c, .ep = c->ob->ep};
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    atomic_fetch_add(&c->w->resolving, 1);
    int rc = pthread_create(&t, &attr, resolve_main, j);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        atomic_fetch_sub(&c->w->resolving, 1);
        free(j);
        return -rc;
    }
    c->ob->job = j;
    return 0;
}

/* The first step, from a zero timer: on_connect must never run inside sk_conn_connect. */
static void on_start(sk_loop *l, int64_t timer, void *arg)
{
    (void)timer;
    sk_conn *c = arg;
    struct sk__outbound *ob = c->ob;
    ob->timer = 0;
    c->busy++;
    if (ob->timeout_ms >= 0) {
        ob->timer = sk_loop_timer(l, ob->timeout_ms, 0, on_deadline, c);
        if (ob->timer < 0) {
            sk__conn_fail(c, (int)ob->timer);
            ob->timer = 0;
            goto out;
        }
    }
    int rc = sk_resolve_endpoint(&ob->ep, AF_UNSPEC, SOCK_STREAM, SK_RESOLVE_NUMERIC, &ob->addrs);
    if (rc >= 0) {
        begin(c);
    } else if (ob->ep.is_unix) {
        snprintf(ob->why, sizeof ob->why, "%s", sk_errmsg());
        sk__conn_fail(c, rc);
    } else if ((rc = resolve_async(c)) < 0) {
        note(c, rc, "connect %s: resolver thread: %s", ob->ep.host);
        sk__conn_fail(c, rc);
    }
out:
    c->busy--;
    sk__conn_settle(c);
}

int sk_conn_connect(sk_conn *near, const sk_conn_connect_opts *opts)
{
    sk_conn_connect_opts o;
    int rc = sk__opts_load(&o, sizeof o, opts, "conn connect: opts");
    if (rc < 0)
        return rc;
    if (!near || near->type != SOCK_STREAM || !(o.endpoint || o.parsed) || !o.on_connect)
        return sk__fail(SK_EARG, "conn connect: a stream connection, opts.endpoint and "
                                 "opts.on_connect are required");
    struct sk__outbound *ob = calloc(1, sizeof *ob);
    if (!ob)
        return sk__fail(-ENOMEM, "conn connect");
    if (o.parsed)
        ob->ep = *o.parsed;
    else if ((rc = sk_endpoint_parse(o.endpoint, &ob->ep)) < 0) {
        free(ob);
        return rc;
    }
    if ((rc = sk__opts_load(&ob->h, sizeof ob->h, o.events ? o.events : &near->w->ev->h,
                            "conn connect: opts.events")) < 0) {
        free(ob);
        return rc;
    }
    ob->on_connect = o.on_connect;
    ob->tls = o.tls;
    if (o.tls_host && strlen(o.tls_host) > 255) {
        free(ob);
        return sk__fail(SK_EARG, "conn connect: opts.tls_host is too long");
    }
    if (o.tls_host && o.tls_host[0] && !(ob->tls_host = strdup(o.tls_host))) {
        free(ob);
        return sk__fail(-ENOMEM, "conn connect");
    }
    ob->timeout_ms = o.timeout_ms ? o.timeout_ms : SK_CONN_CONNECT_TIMEOUT_DEFAULT_MS;
    ob->delay_ms = o.attempt_delay_ms > 0 ? o.attempt_delay_ms : SK_ATTEMPT_DELAY_DEFAULT_MS;
    ob->no_he = o.no_happy_eyeballs;
    sk_addr none = {0};
    sk_conn *c = sk__conn_new(near->w, -1, &none);
    if (!c) {
        free(ob->tls_host);
        free(ob);
        return sk__fail(-ENOMEM, "conn connect");
    }
    c->outbound = c->connecting = true;
    c->ob = ob;
    c->h = &ob->h;
    c->data = o.data;
    ob->timer = sk_loop_timer(near->w->loop, 0, 0, on_start, c);
    if (ob->timer < 0) { /* no callback will come: undo quietly */
        rc = (int)ob->timer;
        ob->timer = 0;
        ob->done = true;
        sk__conn_fail(c, rc);
        sk__conn_settle(c);
        return sk__fail(rc, "conn connect: timer");
    }
    return 0;
}

/* ---- TLS after a plaintext start ------------------------------------------------------------
 */

int sk_conn_start_tls(sk_conn *c, sk_tls_ctx *ctx, const char *host, sk_connect_fn on_done)
{
    if (!c || !ctx || !on_done)
        return sk__fail(SK_EARG, "conn start tls: c, ctx and on_done are required");
    struct sk__outbound *ob = c->ob;
    /* a plaintext byte still queued would go out after the ClientHello, inside no record */
    if (!c->outbound || !ob || !ob->done || c->connecting || c->tls || c->joined || c->dead ||
        c->closing || c->shut_req || c->eof || c->len > c->off)
        return sk__fail(SK_EARG, "conn start tls: c must be a connected plain connection of "
                                 "sk_conn_connect, not joined, ending or with unsent output");
    if (host && strlen(host) > 255)
        return sk__fail(SK_EARG, "conn start tls: host is too long");
    char *copy = host && host[0] ? strdup(host) : NULL;
    if (host && host[0] && !copy)
        return sk__fail(-ENOMEM, "conn start tls");
    free(ob->tls_host);
    ob->tls_host = copy;
    ob->tls = ctx;
    ob->on_connect = on_done;
    ob->why[0] = '\0'; /* an earlier attempt's failure is not this end's reason */
    ob->last_err = 0;
    c->busy++;
    int rc = sk__conn_start_tls(c, ctx, host);
    if (rc >= 0) {
        ob->done = false; /* from here the end goes to on_done (sk__outbound_ready or _end) */
    } else if (c->tls) {  /* failed after the TLS state was made: c ends as a plain connection */
        c->tops->close(c->tls);
        c->tls = NULL;
        c->handshaking = false;
    }
    c->busy--;
    sk__conn_settle(c);
    return rc;
}
