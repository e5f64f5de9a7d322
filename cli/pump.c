/* The data pumps of connect and listen.
 *
 * Stream pump: four named poll slots as in OpenBSD nc — stdin, net in, net out, stdout — and two
 * buffers: `up` (stdin → net) and `down` (net → stdout). Each direction ends on its own:
 *   stdin EOF  → once `up` is drained, shutdown(SHUT_WR) if -N (the peer sees EOF); we keep reading
 *                the net until the peer ends its side.
 *   net EOF    → once `down` is drained, stdout is done; stdin keeps flowing to the peer until it
 *                ends (the peer may have shut down only its write side) — unless stdin is a
 *                terminal, where nobody would notice the peer left.
 * The pump returns when both directions are done. No byte read is dropped: buffers drain before
 * any shutdown or exit. -w SECS ends an idle session (nothing moved either way) with status 0. */
#include "netcat.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ (64 * 1024)

struct buf {
    char data[BUFSZ];
    size_t len;
};

enum { SLOT_STDIN, SLOT_NETIN, SLOT_NETOUT, SLOT_STDOUT, NSLOTS };

/* Write what fits from b to fd (through sk_send for a socket, so the trace sees it). Returns
 * < 0 on a real error: -errno. */
static ssize_t drain(int fd, struct buf *b, bool sock)
{
    ssize_t n = sock ? sk_send(fd, b->data, b->len, 0) : write(fd, b->data, b->len);
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

/* poll with -w as the idle timeout: > 0 ready, 0 idle for too long (said with -v), < 0 interrupted
 * (poll again). */
static int wait_io(struct pollfd *p, nfds_t n, const struct nc_opts *o)
{
    int r = poll(p, n, o->timeout_ms);
    if (r < 0 && errno != EINTR)
        cli_die(EXIT_RUNTIME, "poll: %s", strerror(errno));
    if (r == 0 && o->verbose)
        fprintf(stderr, "%s: idle for %d ms, closing\n", cli_prog, o->timeout_ms);
    return r;
}

int nc_pump_stream(int fd, const struct nc_opts *o)
{
    static struct buf up, down;
    up.len = down.len = 0;
    bool stdin_open = true, netin_open = true, netout_open = true, stdout_open = true;
    bool stdin_tty = isatty(STDIN_FILENO);
    for (;;) {
        /* A direction is done when its source ended and its buffer is empty. */
        if (!stdin_open && up.len == 0 && netout_open) {
            if (o->half_close)
                sk_shutdown(fd, SHUT_WR);
            netout_open = false;
        }
        if (!netin_open && down.len == 0 && stdout_open) {
            stdout_open = false;
            if (stdin_tty && stdin_open)
                stdin_open = false; /* interactive: the peer left, so do we */
        }
        if (!netout_open && !stdout_open)
            return EXIT_OK;

        struct pollfd p[NSLOTS] = {
            [SLOT_STDIN] = {stdin_open && up.len < BUFSZ ? STDIN_FILENO : -1, POLLIN, 0},
            [SLOT_NETIN] = {netin_open && down.len < BUFSZ ? fd : -1, POLLIN, 0},
            [SLOT_NETOUT] = {up.len ? fd : -1, POLLOUT, 0},
            [SLOT_STDOUT] = {down.len ? STDOUT_FILENO : -1, POLLOUT, 0},
        };
        int n = wait_io(p, NSLOTS, o);
        if (n < 0)
            continue;
        if (n == 0)
            return EXIT_OK;
        if (p[SLOT_STDIN].revents) {
            ssize_t k = read(STDIN_FILENO, up.data + up.len, BUFSZ - up.len);
            if (k > 0)
                up.len += (size_t)k;
            else if (k == 0 || (errno != EAGAIN && errno != EINTR))
                stdin_open = false;
        }
        if (p[SLOT_NETIN].revents) {
            ssize_t k = sk_recv(fd, down.data + down.len, BUFSZ - down.len, 0);
            if (k > 0)
                down.len += (size_t)k;
            else if (k == 0)
                netin_open = false;
            else if (k != -ETIMEDOUT)
                cli_die(EXIT_RUNTIME, "%s", sk_errmsg());
        }
        if (p[SLOT_NETOUT].revents && drain(fd, &up, true) < 0)
            cli_die(EXIT_RUNTIME, "%s (%zu bytes not delivered)", sk_errmsg(), up.len);
        if (p[SLOT_STDOUT].revents) {
            ssize_t k = drain(STDOUT_FILENO, &down, false);
            if (k < 0)
                cli_die(EXIT_RUNTIME, "write to stdout: %s", strerror((int)-k));
        }
    }
}

int nc_pump_dgram(int fd, const struct nc_opts *o)
{
    static char buf[65536];
    bool stdin_open = true;
    bool have_peer = false;
    sk_addr peer; /* listen -u: the most recent sender, who gets what stdin says */
    char text[SK_ADDRSTRLEN];
    for (;;) {
        struct pollfd p[2] = {{stdin_open ? STDIN_FILENO : -1, POLLIN, 0}, {fd, POLLIN, 0}};
        /* listen -u holds stdin until someone has written to us: a reply needs an address. */
        if (o->listen && !have_peer)
            p[0].fd = -1;
        int n = wait_io(p, 2, o);
        if (n < 0)
            continue;
        if (n == 0)
            return EXIT_OK;
        if (p[1].revents) {
            sk_addr from;
            ssize_t k = sk_recvfrom(fd, buf, sizeof buf, &from, 0);
            if (k < 0 && k != -ETIMEDOUT) {
                /* connect -u: an ICMP port unreachable shows up here as ECONNREFUSED */
                cli_die(EXIT_RUNTIME, "%s", sk_errmsg());
            }
            if (k >= 0) {
                if (o->listen && (!have_peer || !sk_addr_equal(&from, &peer)) && o->verbose) {
                    sk_addr_format(&from, text, sizeof text);
                    fprintf(stderr, "%s: datagram from %s\n", cli_prog, text);
                }
                if (o->listen) {
                    peer = from;
                    have_peer = true;
                }
                if (write(STDOUT_FILENO, buf, (size_t)k) < 0)
                    cli_die(EXIT_RUNTIME, "write to stdout: %s", strerror(errno));
            }
        }
        if (p[0].revents) {
            ssize_t k = read(STDIN_FILENO, buf, sizeof buf);
            if (k <= 0) {
                stdin_open = false; /* replies may still come: -w (idle) or Ctrl-C ends it, as nc */
                continue;
            }
            ssize_t s = o->listen ? sk_sendto(fd, buf, (size_t)k, &peer, 5000)
                                  : sk_send(fd, buf, (size_t)k, 5000);
            if (s < 0)
                cli_die(EXIT_RUNTIME, "%s", sk_errmsg());
        }
    }
}
