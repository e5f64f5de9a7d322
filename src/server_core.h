/* The server core: what every concurrency model of sk_server shares, and the table of operations
 * each model fills in (as loop_backend.h does for the loop's backends). server.c holds the public
 * functions and calls through the table; each model is one file that defines one table:
 *
 *   server_iterative.c, server_thread.c, server_fork.c, server_pool.c   the blocking models, on
 *                            the serving loop and request lifecycle of server_blocking.c
 *   server_event.c           the event model (its connections: server_conn.c)
 *
 * Every model reaches its clients through server_accept.c: the one conversion of sk_server_opts
 * into listen options, and the one accept path (accept, shedding at EMFILE/ENFILE through the
 * reserve fd, verify, max_conns, counting). Not installed. */
#ifndef SOCKKIT_SERVER_CORE_H
#define SOCKKIT_SERVER_CORE_H

#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Counters of requests. A model may keep several (the event model: one per loop, each written
 * by its loop's thread only); sk_server_get_stats adds them up. */
struct sk__counters {
    _Atomic uint64_t accepted, rejected, errors, bytes_in, bytes_out;
};

/* What forked children share with the parent: one anonymous MAP_SHARED page. */
struct sk__shared {
    struct sk__counters n;
    _Atomic uint64_t active; /* requests being handled now (every model) */
    atomic_bool halted;      /* blocking models: no more input, reads return end-of-file */
    atomic_bool cut;         /* blocking models: the drain deadline passed, blocked I/O gives up */
};

/* One request for a blocking model. */
struct sk__job {
    int fd; /* streams: the connection; datagrams: the server socket */
    sk_addr peer;
    size_t len;
    unsigned char *data; /* datagrams: the packet (owned) */
};

/* One accept path for every model. The reserve is an fd held open so that out of fds (EMFILE,
 * ENFILE) one can be freed to accept and close a client, which then sees its connection end
 * instead of hanging in the backlog while the listener stays readable (a spinning retry). With
 * several acceptors (the event model's loops) the accepts and the reserve go under one lock, so
 * no acceptor takes the slot the reserve just freed; but io_uring's accepts run in the kernel,
 * outside the lock, and one of them can take it (a loop preempted in the middle of a shed): the
 * reserve is lost, and every accept after it would wait for an fd to be freed. So a shed says
 * it is under way (shedding) and when it lost the reserve (lost), and a client the kernel
 * accepted meanwhile gives its slot back to the reserve (sk__accept_claim). */
struct sk__acceptor {
    pthread_mutex_t lock;
    int reserve_fd;
    atomic_int shedding; /* sheds under way (their slots are free for a moment) */
    atomic_bool lost;    /* the reserve went to another accept: the next client's slot is its */
};

/* Results of sk__accept besides an fd (>= 0) and a negative error code. */
enum {
    SK__ACCEPT_NONE = -4001,    /* nothing pending (another acceptor took it) */
    SK__ACCEPT_REFUSED = -4002, /* out of fds: one client was accepted and closed (counted) */
    SK__ACCEPT_PAUSE = -4003,   /* out of fds and no reserve: accept again after a pause */
};
#define SK__ACCEPT_PAUSE_MS 100 /* how long that pause is */

struct sk_server;

/* A concurrency model. Every function gets the server; the model keeps its own state in
 * s->model. NULL entries are "nothing to do" unless said otherwise. */
struct sk__server_model {
    const char *name;
    bool blocking; /* runs sk_handler_fn handlers (server_blocking.c), not sk_event_handlers */
    /* After the common part of sk_server_open (the counters, the wakeup pipe; the listener unless
     * own_listener): create the model's state. Required. On failure it frees what it made. */
    int (*open)(struct sk_server *s);
    bool own_listener; /* the model opens its listener(s) itself, from s->ep (the event model) */
    /* Serve until s->stop; 0, or the error that ended serving. Required. */
    int (*serve)(struct sk_server *s, int interval_ms);
    /* Serve one request within timeout_ms: 1, 0 (timed out), < 0. NULL: not supported. */
    int (*handle_request)(struct sk_server *s, int timeout_ms);
    /* A shutdown was requested: async-signal-safe. */
    void (*stop)(struct sk_server *s);
    /* sk_server_drain after serve_forever returned. Required. */
    int (*drain)(struct sk_server *s, int deadline_ms);
    /* Stop the model's threads and children, free its state. The listener is closed after. */
    void (*close)(struct sk_server *s);
    /* The listening (or datagram) socket: NULL means s->fd. */
    int (*fd)(const struct sk_server *s);
    /* Add the model's own counters into *out (those not in s->c). */
    void (*stats)(const struct sk_server *s, sk_server_stats *out);

    /* ---- blocking models only (server_blocking.c calls these) ---- */
    /* Whether one more request can be taken now (NULL: always). */
    bool (*has_room)(struct sk_server *s);
    /* Run the job, or hand it to a thread or a child. Required for blocking models. */
    void (*dispatch)(struct sk_server *s, struct sk__job *j);
    /* Fork: count the children that ended (with block, wait for one); send sig (0: none) to the
     * children still running and return how many there are. */
    void (*reap)(struct sk_server *s, bool block);
    int (*signal)(struct sk_server *s, int sig);
};

extern const struct sk__server_model sk__model_iterative;
extern const struct sk__server_model sk__model_thread;
extern const struct sk__server_model sk__model_fork;
extern const struct sk__server_model sk__model_pool;
extern const struct sk__server_model sk__model_event;

struct sk_server {
    sk_server_opts o; /* as given, with sizes normalised (sk__opts_load) */
    const struct sk__server_model *m;
    void *model; /* the model's state */
    sk_endpoint ep;
    int fd, type;
    int workers;         /* what sk_server_workers reports */
    const sk_loop *loop; /* the event model's first loop: sk_server_backend reports its backend */
    int wake[2]; /* self-pipe: written by shutdown requests (and a pool worker that made room) */
    atomic_bool stop;
    atomic_int refs;
    char unix_path[108];  /* a socket file we created, removed at close */
    struct sk__shared *c; /* MAP_SHARED: children of the fork model update it too */
    struct sk__acceptor acc;

    pthread_mutex_t lock;
    pthread_cond_t cond; /* serving changed, a thread ended, a pool queue changed */
    bool serving;

    /* blocking models (server_blocking.c) */
    int halt_fd, cut_fd; /* eventfds, readable once c->halted / c->cut is set */
    int *conns;          /* open stream connections, for drain to cut off */
    size_t nconns, capconns;
    int threads;                 /* handler threads running (thread model) */
    int64_t accept_paused_until; /* out of fds without a reserve: no accept before (ms) */
};

/* server.c */
void sk__server_ref(struct sk_server *s);
void sk__server_unref(struct sk_server *s);
/* Wake the serving thread's poll (async-signal-safe). */
void sk__server_wake(struct sk_server *s);
/* Grow *arr (of *cap elements of elem bytes) to hold need; false when out of memory. */
bool sk__grow(void **arr, size_t *cap, size_t need, size_t elem);

/* server_accept.c: the listen options of the server's sk_server_opts (reuseport: also when the
 * model wants one listener per thread). */
sk_listen_opts sk__server_listen_opts(const struct sk_server *s, bool reuseport);
/* Open a listener of the server: at bound (the address of one opened before) or, when bound is
 * NULL, at the server's endpoint. Non-blocking. */
int sk__server_listen(const struct sk_server *s, const sk_addr *bound, bool reuseport);
int sk__acceptor_init(struct sk__acceptor *a);
void sk__acceptor_free(struct sk__acceptor *a);
/* Accept one client from the non-blocking listener lfd: the fd (flags as accept4's: the event
 * model asks for SOCK_NONBLOCK), or SK__ACCEPT_NONE / _REFUSED / _PAUSE, or a negative code. */
int sk__accept(struct sk_server *s, int lfd, sk_addr *peer, int flags, struct sk__counters *n);
/* A client fd accepted outside the lock (io_uring's accept): true if it was closed to give its
 * slot back to the reserve, which a shed lost to it (counted as refused); false: serve it. Two
 * atomic loads when no shed is under way or lost. */
bool sk__accept_claim(struct sk_server *s, int fd, struct sk__counters *n);
/* The one admission rule: count the request in n->accepted, ask verify, hold a place under
 * max_conns (when hold: the request counts in active until sk__release). false: rejected and
 * counted; the caller closes the connection. */
bool sk__admit(struct sk_server *s, const sk_addr *peer, bool hold, struct sk__counters *n);
void sk__release(struct sk_server *s);
/* The request ended with rc (< 0): is it the connection's end (the peer's reset or broken pipe,
 * an idle or send timeout, the drain's cut) rather than the handler's failure? */
bool sk__peer_gone(int type, int rc);

/* server_blocking.c: what the four blocking models share. */
int sk__blocking_open(struct sk_server *s);
int sk__blocking_serve(struct sk_server *s, int interval_ms);
int sk__blocking_handle_request(struct sk_server *s, int timeout_ms);
int sk__blocking_drain(struct sk_server *s, int deadline_ms);
/* Run the handler for one job, then end the connection. count_done: the request leaves active
 * now (a forked child leaves that to the parent, which counts it when it reaps the child). */
void sk__blocking_run(struct sk_server *s, struct sk__job *j, bool count_done);
/* The job could not be handed over: end it unserved (connection closed, request not active). */
void sk__blocking_drop(struct sk_server *s, struct sk__job *j);
/* Forget a stream connection of the registry drain cuts off (lock not held). */
void sk__blocking_forget(struct sk_server *s, int fd);
/* Raise the halt flag: requests' reads return end-of-file (async-signal-safe). */
void sk__blocking_halt(struct sk_server *s);
/* Reset a connection (only from the thread that owns the fd): the peer gets ECONNRESET, not an
 * orderly end it could take for a complete answer. */
void sk__abort_conn(int fd);

#endif
