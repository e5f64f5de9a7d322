/* sockkit relay -u: datagram sessions, socat's UDP-LISTEN,fork model on one loop. Each client
 * address gets a session: its own socket connected to TARGET (so the target sees one peer per
 * client and its answers come back on that socket alone), ended after --idle-timeout without a
 * datagram either way. Sessions live on one loop (the server's, workers 1): a table keyed by the
 * client's address, the upstream sockets watched on the same loop, one lazily re-armed timer per
 * session (activity stamps the time; the timer checks the stamp when it fires). */
#include "cli.h"
#include "json.h"
#include "relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#define BUCKETS             1024
#define UDP_IDLE_DEFAULT_MS 60000
#define DGRAM_MAX           65536

struct session {
    struct relay_udp *u;
    struct session *next; /* in its bucket */
    sk_addr client;
    int fd;        /* connected to the target */
    int server_fd; /* the listening socket the client's datagrams arrive on: answers go out there */
    int64_t timer;
    uint64_t last; /* loop time of the last datagram either way */
    unsigned long long up_n, up_bytes, down_n, down_bytes;
    double start;
    char name[SK_ADDRSTRLEN];
};

struct relay_udp {
    struct relay *r;
    sk_addr target;
    sk_loop *loop;
    struct session *b[BUCKETS];
    size_t n;
    int idle_ms;
    int max_sessions; /* --max-conns: 0 none */
    unsigned long long rejected;
    unsigned char buf[DGRAM_MAX];
};

static size_t bucket(const sk_addr *a)
{
    uint32_t h = 2166136261u; /* FNV-1a over the address bytes */
    const unsigned char *p = (const unsigned char *)&a->u;
    for (socklen_t i = 0; i < a->len && i < sizeof a->u; i++)
        h = (h ^ p[i]) * 16777619u;
    return h % BUCKETS;
}

static void say_closed(struct session *s, const char *why)
{
    struct relay *r = s->u->r;
    double secs = cli_now_s() - s->start;
    if (r->co.verbose)
        cli_say("closed udp %s: %llu datagrams (%llu bytes) client->target, %llu datagrams (%llu "
                "bytes) target->client, %.3f s, %s",
                s->name, s->up_n, s->up_bytes, s->down_n, s->down_bytes, secs, why);
    if (r->co.json_lines) {
        struct json j;
        json_init(&j, stdout);
        json_object(&j, NULL);
        json_str(&j, "event", "closed");
        json_str(&j, "client", s->name);
        json_str(&j, "target", r->target);
        json_int(&j, "datagrams_client_to_target", (long long)s->up_n);
        json_int(&j, "bytes_client_to_target", (long long)s->up_bytes);
        json_int(&j, "datagrams_target_to_client", (long long)s->down_n);
        json_int(&j, "bytes_target_to_client", (long long)s->down_bytes);
        json_num(&j, "seconds", secs);
        json_str(&j, "error", strcmp(why, "idle") ? why : NULL);
        json_end(&j, '}');
        fflush(stdout);
    }
    r->bytes_ab += s->up_bytes;
    r->bytes_ba += s->down_bytes;
    r->done++;
}

static void session_end(struct session *s, const char *why)
{
    struct relay_udp *u = s->u;
    struct session **pp = &u->b[bucket(&s->client)];
    while (*pp != s)
        pp = &(*pp)->next;
    *pp = s->next;
    u->n--;
    if (s->timer > 0)
        sk_loop_cancel(u->loop, s->timer);
    sk_loop_unwatch(u->loop, s->fd);
    sk_close(s->fd);
    say_closed(s, why);
    free(s);
}

static void on_idle(sk_loop *l, int64_t timer, void *arg)
{
    (void)timer;
    struct session *s = arg;
    uint64_t quiet = sk_loop_now(l) - s->last;
    s->timer = 0;
    if (quiet < (uint64_t)s->u->idle_ms) {
        s->timer = sk_loop_timer(l, (int)((uint64_t)s->u->idle_ms - quiet), 0, on_idle, s);
        if (s->timer > 0)
            return;
    }
    session_end(s, "idle");
}

/* The target answered: each datagram goes back to the session's client. */
static void on_upstream(sk_loop *l, int fd, int events, void *arg)
{
    (void)events;
    struct session *s = arg;
    for (int i = 0; i < 64; i++) {
        ssize_t n = sk_recv(fd, s->u->buf, DGRAM_MAX, 0);
        if (n == -ETIMEDOUT || n == -EAGAIN)
            return;
        if (n < 0) { /* an ICMP error (port unreachable) is reported here: the target is gone */
            session_end(s, sk_strerror((int)n));
            return;
        }
        s->last = sk_loop_now(l);
        if (sk_sendto(s->server_fd, s->u->buf, (size_t)n, &s->client, 0) >= 0) {
            s->down_n++;
            s->down_bytes += (unsigned long long)n;
        }
    }
}

/* The session's socket, connected to the target. A Unix datagram target answers to the sender's
 * address, and an unbound Unix socket has none: bind to an autobound abstract name first (bind
 * with the family alone), which the kernel makes unique and frees with the socket. */
static int session_socket(const sk_addr *target, char *why, size_t cap)
{
    if (target->u.sa.sa_family != AF_UNIX) {
        int fd = sk_connect_addr(target, SOCK_DGRAM, 0);
        if (fd < 0)
            snprintf(why, cap, "%s", sk_errmsg());
        return fd;
    }
    int fd = sk_socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0) {
        snprintf(why, cap, "%s", sk_errmsg());
        return fd;
    }
    struct sockaddr_un me = {.sun_family = AF_UNIX};
    const char *step = "bind (autobind)";
    int rc = bind(fd, (struct sockaddr *)&me, sizeof(sa_family_t));
    if (rc == 0) {
        step = "connect";
        rc = connect(fd, &target->u.sa, target->len);
    }
    if (rc < 0) {
        rc = -errno;
        char t[SK_ADDRSTRLEN];
        sk_addr_format(target, t, sizeof t);
        snprintf(why, cap, "%s %.200s: %s", step, t, sk_strerror(rc));
        sk_close(fd);
        return rc;
    }
    return fd;
}

static struct session *session_new(struct relay_udp *u, sk_conn *c)
{
    struct relay *r = u->r;
    if (u->max_sessions && u->n >= (size_t)u->max_sessions) {
        u->rejected++;
        return NULL;
    }
    struct session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    *s = (struct session){.u = u,
                          .client = *sk_conn_peer(c),
                          .server_fd = sk_conn_fd(c),
                          .start = cli_now_s(),
                          .last = sk_loop_now(u->loop)};
    if (s->client.len <= (socklen_t)sizeof(sa_family_t)) /* a Unix client that did not bind */
        snprintf(s->name, sizeof s->name, "unix:(unbound)");
    else
        sk_addr_format(&s->client, s->name, sizeof s->name);
    char why[640] = "";
    s->fd = session_socket(&u->target, why, sizeof why);
    if (s->fd < 0 || sk_sock_set_nonblock(s->fd, true) < 0 ||
        sk_loop_watch(u->loop, s->fd, SK_READABLE, on_upstream, s) < 0 ||
        (s->timer = sk_loop_timer(u->loop, u->idle_ms, 0, on_idle, s)) < 0) {
        if (r->co.verbose)
            cli_say("failed udp %s: %s", s->name, why[0] ? why : sk_errmsg());
        if (s->fd >= 0) {
            sk_loop_unwatch(u->loop, s->fd);
            sk_close(s->fd);
        }
        r->failed++;
        free(s);
        return NULL;
    }
    size_t k = bucket(&s->client);
    s->next = u->b[k];
    u->b[k] = s;
    u->n++;
    if (r->co.verbose)
        cli_say("opened udp %s -> %s", s->name, r->target);
    return s;
}

static void on_client_datagram(sk_conn *c, const void *data, size_t len)
{
    struct relay *r = sk_conn_user(c);
    struct relay_udp *u = r->udp;
    u->loop = sk_conn_loop(c);
    struct session *s = u->b[bucket(sk_conn_peer(c))];
    while (s && !sk_addr_equal(&s->client, sk_conn_peer(c)))
        s = s->next;
    if (!s && !(s = session_new(u, c)))
        return;
    s->last = sk_loop_now(u->loop);
    if (sk_send(s->fd, data, len, 0) >= 0) {
        s->up_n++;
        s->up_bytes += len;
    }
}

int relay_udp_setup(struct relay *r)
{
    struct relay_udp *u = calloc(1, sizeof *u);
    if (!u)
        return -ENOMEM;
    int rc = sk_addr_parse(r->target, 0, &u->target); /* before the loop runs: it may block */
    if (rc < 0) {
        free(u);
        return rc;
    }
    u->r = r;
    u->idle_ms = r->o.idle_timeout_ms ? r->o.idle_timeout_ms : UDP_IDLE_DEFAULT_MS;
    r->udp = u;
    r->o.workers = 1; /* the sessions' table is the loop's alone */
    u->max_sessions = r->o.max_conns;
    r->o.max_conns = 0; /* counted per session here, not per datagram by the server */
    r->client_events = (sk_event_handlers)SK_EVENT_HANDLERS_INIT(.on_data = on_client_datagram);
    return 0;
}

void relay_udp_close(struct relay *r)
{
    struct relay_udp *u = r->udp;
    if (!u)
        return;
    for (int i = 0; i < BUCKETS; i++)
        while (u->b[i])
            session_end(u->b[i], "stopped");
    free(u);
    r->udp = NULL;
}
