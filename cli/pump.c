/* The data pumps of connect and listen.
 *
 * Stream pump: four named poll slots as in OpenBSD nc — stdin, net in, net out, stdout — and two
 * buffers: `up` (stdin → net) and `down` (net → stdout). Each direction ends on its own:
 *   stdin EOF  → once `up` is drained, shutdown(SHUT_WR) if -N (the peer sees EOF); we keep reading
 *                the net until the peer ends its side.
 *   net EOF    → once `down` is drained, stdout is done and closed (a pipeline reader sees EOF;
 *                not with listen -k, whose stdout serves the next client too); stdin keeps flowing
 *                to the peer until it ends (the peer may have shut down only its write side) —
 *                unless stdin is a terminal, where nobody would notice the peer left.
 *   peer gone  → a reset, a failed send or receive, or a hang-up (the peer closed both sides: a
 *                Unix peer's close, a TCP reset) ends the session: what was received is still
 *                written out, what could not be sent is counted in the one-line message. The
 *                caller decides whether that ends the program (connect, listen) or only the
 *                session (listen -k goes on to the next client).
 * The pump returns when both directions are done. No byte read is dropped without a word: buffers
 * drain before any shutdown or exit. -w SECS ends an idle session (nothing moved either way) with
 * status 0. */
#include "netcat.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ (64 * 1024)

struct buf {
    char data[BUFSZ];
    size_t len;
};

enum { SLOT_STDIN, SLOT_NETIN, SLOT_NETOUT, SLOT_STDOUT, NSLOTS };

/* Write what fits from b to fd (through sk_send for a socket, so the trace sees it; through tls
 * when it is not NULL). Returns < 0 on a real error: -errno. */
static ssize_t drain(int fd, sk_tls *tls, struct buf *b, bool sock)
{
    ssize_t n = tls    ? sk_tls_send(tls, b->data, b->len, 0)
                : sock ? sk_send(fd, b->data, b->len, 0)
                       : write(fd, b->data, b->len);
    if (!sock && n < 0)
        n = -errno;
    if (n > 0) {
        memmove(b->data, b->data + n, b->len - (size_t)n);
        b->len -= (size_t)n;
    }
    if (n == -EAGAIN || n == -EINTR || n == -ETIMEDOUT)
        return 0;
    return n;
}

/* poll with an idle timeout (-w, or -1): > 0 ready, 0 idle for too long (said with -v), < 0
 * interrupted (poll again). */
static int wait_io(struct pollfd *p, nfds_t n, int timeout_ms, const struct nc_opts *o)
{
    int r = poll(p, n, timeout_ms);
    if (r < 0 && errno != EINTR)
        cli_die(EXIT_RUNTIME, "poll: %s", strerror(errno));
    if (r == 0 && o->verbose)
        cli_say("idle for %d ms, closing", timeout_ms);
    return r;
}

/* The socket sent its last byte and nothing else will write to stdout: close it, so that a reader
 * at the other end of a pipe sees EOF while we live on (stdin may still be flowing to the peer).
 * /dev/null takes fd 1's place, so no later open lands on it. */
static void close_stdout(void)
{
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null < 0) {
        close(STDOUT_FILENO);
        return;
    }
    dup2(null, STDOUT_FILENO);
    close(null);
}

struct session {
    int fd;
    sk_tls *tls; /* --tls: the plaintext goes through it */
    struct buf up, down;
    bool stdin_open, netin_open, netout_open, stdout_open;
    bool stdin_tty;        /* interactive: the session ends with the peer's */
    bool failed;           /* the peer's side broke: the session ends with status 1 */
    size_t sent_after_eof; /* bytes sent after the peer's EOF (lost if it had closed) */
    char peer[SK_ADDRSTRLEN];
};

/* The session broke on the peer's side: say so once, take nothing more from stdin or the net, and
 * let what was received drain to stdout. */
static void peer_failed(struct session *s, const struct nc_opts *o, const char *why)
{
    const char *next = o->keep ? "; waiting for the next client" : "";
    if (s->up.len)
        cli_say("%s (%zu %s not delivered)%s", why, s->up.len,
                cli_plural(s->up.len, "byte", "bytes"), next);
    else
        cli_say("%s%s", why, next);
    s->failed = true;
    s->up.len = 0;
    s->stdin_open = s->netin_open = s->netout_open = false;
}

/* The net-out slot reported a hang-up or an error after the peer's EOF: the peer closed both
 * directions (a Unix peer's close) or reset the connection (a TCP peer that had closed, once we
 * sent to it: that data was thrown away by its kernel, so it is counted as lost). */
static void peer_hung_up(struct session *s, const struct nc_opts *o)
{
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        char why[SK_ADDRSTRLEN + 160];
        int k = snprintf(why, sizeof why, "%s reset the connection (%s)", s->peer, strerror(err));
        if (s->sent_after_eof && k > 0 && (size_t)k < sizeof why)
            snprintf(why + k, sizeof why - (size_t)k, ": the %zu %s sent after its EOF %s lost",
                     s->sent_after_eof, cli_plural(s->sent_after_eof, "byte", "bytes"),
                     s->sent_after_eof == 1 ? "was" : "were");
        peer_failed(s, o, why);
        return;
    }
    if (o->verbose)
        cli_say("%s closed the connection", s->peer);
    s->stdin_open = s->netout_open = false;
}

/* A direction is done when its source ended and its buffer is empty. Returns true when both
 * are. */
static bool settle(struct session *s, const struct nc_opts *o)
{
    if (!s->stdin_open && s->up.len == 0 && s->netout_open) {
        if (o->half_close && s->tls)
            sk_tls_shutdown(s->tls, 1000); /* TLS's half-close: close_notify, then the FIN */
        if (o->half_close)
            sk_shutdown(s->fd, SHUT_WR);
        s->netout_open = false;
    }
    if (!s->netin_open && s->down.len == 0 && s->stdout_open) {
        s->stdout_open = false;
        if (!o->keep && !s->failed)
            close_stdout();
        if (s->stdin_tty && s->stdin_open)
            s->stdin_open = false; /* interactive: the peer left, so do we */
    }
    return !s->netout_open && !s->stdout_open;
}

static void read_stdin(struct session *s)
{
    ssize_t k = read(STDIN_FILENO, s->up.data + s->up.len, BUFSZ - s->up.len);
    if (k > 0)
        s->up.len += (size_t)k;
    else if (k == 0 || (errno != EAGAIN && errno != EINTR))
        s->stdin_open = false;
}

static void read_net(struct session *s, const struct nc_opts *o)
{
    char *to = s->down.data + s->down.len;
    size_t room = BUFSZ - s->down.len;
    ssize_t k = s->tls ? sk_tls_recv(s->tls, to, room, 0) : sk_recv(s->fd, to, room, 0);
    if (k > 0)
        s->down.len += (size_t)k;
    else if (k == 0)
        s->netin_open = false; /* TLS: the peer's close_notify (a bare FIN is SK_ETLSTRUNC) */
    else if (k != -ETIMEDOUT)
        peer_failed(s, o, sk_errmsg());
}

/* The net-out slot's events: send what is buffered, or see the peer hang up. */
static void net_out(struct session *s, short revents, const struct nc_opts *o)
{
    if (revents && s->up.len) {
        size_t before = s->up.len;
        if (drain(s->fd, s->tls, &s->up, true) < 0)
            peer_failed(s, o, sk_errmsg());
        else if (!s->netin_open)
            s->sent_after_eof += before - s->up.len;
    } else if (revents & (POLLHUP | POLLERR)) {
        peer_hung_up(s, o);
    }
}

static int pump_session(struct session *s, const struct nc_opts *o)
{
    for (;;) {
        if (settle(s, o))
            return s->failed ? EXIT_RUNTIME : EXIT_OK;
        /* After the peer's EOF, net out is watched even with nothing to send: a hang-up there
         * means the peer is gone, not only its write side. */
        struct pollfd p[NSLOTS] = {
            [SLOT_STDIN] = {s->stdin_open && s->up.len < BUFSZ ? STDIN_FILENO : -1, POLLIN, 0},
            [SLOT_NETIN] = {s->netin_open && s->down.len < BUFSZ ? s->fd : -1, POLLIN, 0},
            [SLOT_NETOUT] = {s->netout_open && (s->up.len || !s->netin_open) ? s->fd : -1,
                             s->up.len ? POLLOUT : 0, 0},
            [SLOT_STDOUT] = {s->down.len ? STDOUT_FILENO : -1, POLLOUT, 0},
        };
        /* TLS may hold decrypted bytes the fd no longer shows as readable */
        bool decrypted = p[SLOT_NETIN].fd >= 0 && s->tls && sk_tls_pending(s->tls);
        int n = decrypted ? poll(p, NSLOTS, 0) : wait_io(p, NSLOTS, o->timeout_ms, o);
        if (n < 0)
            continue;
        if (n == 0 && !decrypted)
            return EXIT_OK;
        if (p[SLOT_STDIN].revents)
            read_stdin(s);
        if (p[SLOT_NETIN].revents || decrypted)
            read_net(s, o);
        net_out(s, p[SLOT_NETOUT].fd >= 0 && s->netout_open ? p[SLOT_NETOUT].revents : 0, o);
        if (p[SLOT_STDOUT].revents) {
            ssize_t k = drain(STDOUT_FILENO, NULL, &s->down, false);
            if (k < 0)
                cli_die(EXIT_RUNTIME, "write to stdout: %s", strerror((int)-k));
        }
    }
}

int nc_pump_stream(int fd, sk_tls *tls, const struct nc_opts *o)
{
    /* 128 KiB of buffers: static, not the stack, nor the heap (a process ended while it pumps,
     * by SIGTERM or cli_die, left a heap block valgrind calls definitely lost); one pump at a
     * time in a process (listen -k serves its clients one after another), each starting clean */
    static struct session storage;
    struct session *s = &storage;
    memset(s, 0, sizeof *s);
    s->fd = fd;
    s->tls = tls;
    s->stdin_open = s->netin_open = s->netout_open = s->stdout_open = true;
    s->stdin_tty = isatty(STDIN_FILENO);
    sk_addr peer;
    if (sk_sock_get_peer_addr(fd, &peer) == 0)
        sk_addr_format(&peer, s->peer, sizeof s->peer);
    else
        snprintf(s->peer, sizeof s->peer, "the peer");
    int rc = pump_session(s, o);
    if (tls && !s->failed)
        sk_tls_shutdown(tls, 1000); /* our close_notify: the peer sees a clean end, no truncation */
    return rc;
}

/* A Unix datagram from an unbound socket carries no address (length 0): name it as such. */
static bool unnamed_sender(sk_addr *from)
{
    if (from->len > sizeof(sa_family_t) && from->u.sa.sa_family == AF_UNIX)
        return false;
    if (from->len >= sizeof(sa_family_t) && from->u.sa.sa_family != AF_UNIX)
        return false;
    from->u.sa.sa_family = AF_UNIX;
    from->len = sizeof(sa_family_t);
    return true;
}

/* listen -u: stdin's chunk goes to the most recent sender. A reply that cannot go (an unbound
 * Unix sender, a vanished peer) costs that chunk, said in one line; the listener serves on. */
static void reply(int fd, const char *data, size_t len, sk_addr *peer)
{
    char who[SK_ADDRSTRLEN];
    sk_addr_format(peer, who, sizeof who);
    if (unnamed_sender(peer)) {
        cli_say("cannot reply to %s: it sent from an unbound socket (%zu %s not delivered)", who,
                len, cli_plural(len, "byte", "bytes"));
        return;
    }
    if (sk_sendto(fd, data, len, peer, 5000) < 0)
        cli_say("%s (%zu %s not delivered)", sk_errmsg(), len, cli_plural(len, "byte", "bytes"));
}

struct dgram_session {
    int fd;
    bool stdin_open;
    bool have_peer;
    sk_addr peer; /* listen -u: the most recent sender, who gets what stdin says */
    char buf[65536];
};

/* A datagram arrived: to stdout; a listener remembers its sender for the replies. */
static void net_datagram(struct dgram_session *d, const struct nc_opts *o)
{
    sk_addr from;
    ssize_t k = sk_recvfrom(d->fd, d->buf, sizeof d->buf, &from, 0);
    if (k < 0 && k != -ETIMEDOUT) {
        /* connect -u: an ICMP port unreachable shows up here as ECONNREFUSED. A listener serves
         * other peers on. */
        if (!o->listen) {
            struct cli_where w = nc_where(o);
            cli_fail_at((int)k, &w);
        }
        cli_say("%s", sk_errmsg());
    }
    if (k >= 0 && o->listen) {
        bool unnamed = unnamed_sender(&from);
        if ((!d->have_peer || !sk_addr_equal(&from, &d->peer)) && o->verbose) {
            char text[SK_ADDRSTRLEN];
            sk_addr_format(&from, text, sizeof text);
            cli_say("datagram from %s%s", text,
                    unnamed ? " (an unbound socket: replies cannot reach it)" : "");
        }
        d->peer = from;
        d->have_peer = true;
    }
    if (k >= 0 && write(STDOUT_FILENO, d->buf, (size_t)k) < 0)
        cli_die(EXIT_RUNTIME, "write to stdout: %s", strerror(errno));
}

/* stdin had something: a datagram to the peer (connect) or the most recent sender (listen). */
static void stdin_datagram(struct dgram_session *d, const struct nc_opts *o)
{
    ssize_t k = read(STDIN_FILENO, d->buf, sizeof d->buf);
    if (k <= 0) {
        d->stdin_open = false; /* replies may still come: -w (idle) or Ctrl-C ends it, as nc */
        return;
    }
    if (o->listen)
        reply(d->fd, d->buf, (size_t)k, &d->peer);
    else if ((k = sk_send(d->fd, d->buf, (size_t)k, 5000)) < 0) {
        struct cli_where w = nc_where(o);
        cli_fail_at((int)k, &w);
    }
}

static int pump_datagrams(struct dgram_session *d, const struct nc_opts *o)
{
    for (;;) {
        struct pollfd p[2] = {{d->stdin_open ? STDIN_FILENO : -1, POLLIN, 0}, {d->fd, POLLIN, 0}};
        /* listen -u holds stdin until someone has written to us: a reply needs an address. The
         * idle timeout starts then too: -w does not bound the wait for the first client. */
        bool waiting = o->listen && !d->have_peer;
        if (waiting)
            p[0].fd = -1;
        int n = wait_io(p, 2, waiting ? -1 : o->timeout_ms, o);
        if (n < 0)
            continue;
        if (n == 0)
            return EXIT_OK;
        if (p[1].revents)
            net_datagram(d, o);
        if (p[0].revents)
            stdin_datagram(d, o);
    }
}

int nc_pump_dgram(int fd, const struct nc_opts *o)
{
    static struct dgram_session storage; /* as nc_pump_stream's: 64 KiB, one pump at a time */
    struct dgram_session *d = &storage;
    memset(d, 0, sizeof *d);
    d->fd = fd;
    d->stdin_open = true;
    return pump_datagrams(d, o);
}
