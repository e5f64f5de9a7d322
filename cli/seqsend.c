/* The paced sender of sequence-numbered packets (see seqsend.h). */
#include "seqsend.h"
#include "cli.h"
#include "opts.h"
#include "seqpkt.h"
#include "stop.h"
#include "ticks.h"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Put the packets for the numbers in emit[] into the batch. */
static void add(struct seqsend *s, const uint64_t *emit, int ne)
{
    for (int e = 0; e < ne; e++) {
        unsigned char *p = s->pkts + (size_t)s->held * (size_t)s->size;
        seqpkt_write(p, (size_t)s->size, s->id, emit[e], seqpkt_now_ns());
        s->v[s->held++] = (sk_dgram){.buf = p, .len = (size_t)s->size};
    }
}

/* Fill the batch with the numbers due by now. */
static void fill(struct seqsend *s, uint64_t due)
{
    while (s->next < due && s->held < SEQPKT_BATCH - 2) {
        uint64_t seq = s->next++, emit[3] = {seq};
        bool last = s->count && s->next == s->count;
        int ne = s->plan ? s->plan(s->plan_ctx, seq, last, emit) : 1;
        add(s, emit, ne);
    }
}

/* How many of the held packets one GSO send takes: the segment limit, and 64 KiB at most in all
 * (the datagram the kernel cuts, with its IP and UDP headers). 0: not worth it (one packet). */
static int gso_count(const struct seqsend *s)
{
    int k = s->held < SEQSEND_GSO_MAX ? s->held : SEQSEND_GSO_MAX;
    int fit = (65535 - 48 - 8) / s->size; /* IPv6's header is the larger */
    k = k < fit ? k : fit;
    return k >= 2 ? k : 0;
}

/* Send k held packets (contiguous in pkts: add() writes them in order) as one UDP GSO datagram of
 * size-byte segments. Returns k, 0 when the socket has no room (EAGAIN: waited for up to 5 s),
 * or a negative code. */
static int send_gso(struct seqsend *s, int k)
{
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } ctl = {0};
    struct iovec iov = {(void *)s->v[0].buf, (size_t)k * (size_t)s->size};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t seg = (uint16_t)s->size;
    memcpy(CMSG_DATA(c), &seg, sizeof seg);
    ssize_t n = sendmsg(s->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0)
        return k; /* a datagram goes whole or not at all */
    if (errno == EAGAIN || errno == EINTR)
        return sk_wait(s->fd, SK_WRITABLE, 5000) < 0 ? -ETIMEDOUT : 0;
    return -errno;
}

/* The batch as GSO sends while the kernel takes them. False: GSO is off (refused now or before,
 * or not asked for): the caller sends with sendmmsg. */
static bool flush_gso(struct seqsend *s)
{
    int k = s->gso && !s->gso_off ? gso_count(s) : 0;
    if (!k)
        return false;
    int n = send_gso(s, k);
    if (n == -ECONNREFUSED) { /* nobody listens yet: as for sendmmsg */
        s->refused++;
        return true;
    }
    if (n < 0 && n != -ETIMEDOUT) {
        s->gso_off = true; /* refused (EIO, EINVAL, ENOPROTOOPT...): sendmmsg says what else */
        return false;
    }
    if (n < 0)
        cli_die(EXIT_RUNTIME, "sending: no room in the socket's buffer for 5 s");
    s->sent += (uint64_t)n;
    s->held -= n;
    memmove(s->v, s->v + n, (size_t)s->held * sizeof s->v[0]);
    return true;
}

/* Send the batch; what the kernel did not take stays for the next call. */
static void flush(struct seqsend *s)
{
    if (flush_gso(s))
        return;
    int n = sk_send_batch(s->fd, s->v, (size_t)s->held, 5000);
    if (n == -ECONNREFUSED) { /* nobody listens yet: an ICMP port unreachable came back */
        s->refused++;
        return;
    }
    if (n < 0)
        cli_die(cli_exit_status(n), "%s", sk_errmsg());
    s->sent += (uint64_t)n;
    s->held -= n;
    memmove(s->v, s->v + n, (size_t)s->held * sizeof s->v[0]);
}

static uint64_t due_by(const struct seqsend *s, uint64_t now)
{
    uint64_t due =
        s->rate ? (uint64_t)((double)(now - s->t0) / 1e9 * s->rate) + 1 : s->next + SEQPKT_BATCH;
    return s->count && due > s->count ? s->count : due;
}

/* After a send: wait for the next tick (true), or send on at once: something is held, the
 * count is reached (the loop ends), or a batch or more is due already (behind the schedule:
 * catching up at full speed). Without this wait a sender faster than the rate would come back
 * every few microseconds for the packet or two due since, one system call each. */
static bool caught_up(const struct seqsend *s, uint64_t now)
{
    if (s->held || !s->rate || (s->count && s->next >= s->count))
        return false;
    return due_by(s, now) < s->next + SEQPKT_BATCH - 2;
}

/* The run reached its end time: send what fell due before it and is not out yet (a sender the
 * scheduler kept off the CPU just before the end would otherwise lose the packets of that stall,
 * and a rate it could keep would look missed). Packet n is due at n/rate, so a run of d seconds
 * sends ceil(d x rate). Numbers handed out but held (the kernel took part of a batch) go out too:
 * the end marker counts them. */
static void catch_up(struct seqsend *s)
{
    uint64_t due = s->next; /* unpaced, or no end time: only what is held */
    if (s->rate && s->t_end != UINT64_MAX)
        due = (uint64_t)ceil((double)(s->t_end - s->t0) / 1e9 * s->rate);
    if (s->count && due > s->count)
        due = s->count;
    while (s->held || s->next < due) {
        if (!s->held)
            fill(s, due);
        if (!s->held)
            continue; /* a fault plan dropped those numbers */
        uint64_t before = s->sent;
        flush(s);
        if (s->sent == before)
            return; /* refused (nobody listens): not worth more tries at the end */
    }
}

static void end_markers(struct seqsend *s)
{
    if (s->plan) { /* a pair held back for a swap goes out now */
        uint64_t emit[3];
        s->held = 0;
        add(s, emit, s->plan(s->plan_ctx, SEQSEND_FLUSH, true, emit));
        if (s->held)
            flush(s);
    }
    unsigned char end[SEQPKT_HDR];
    seqpkt_write_end(end, s->id, s->next, seqpkt_now_ns());
    for (int i = 0; i < 3; i++)
        sk_send(s->fd, end, sizeof end, 1000);
}

void seqsend_run(struct seqsend *s)
{
    s->pkts = malloc((size_t)SEQPKT_BATCH * (size_t)s->size);
    if (!s->pkts)
        cli_die(EXIT_RUNTIME, "out of memory");
    if (!s->t0) /* the caller's start, so a run of d seconds is d seconds of schedule */
        s->t0 = ticks_now_ns();
    for (uint64_t now; (now = ticks_now_ns()) < s->t_end;) {
        if (s->tick)
            s->tick(s->tick_ctx, now);
        if (!s->held && s->count && s->next >= s->count)
            break;
        if (!s->held)
            fill(s, due_by(s, now));
        if (s->held) {
            flush(s);
            if (!s->rate && stop_requested(s->stop))
                goto stopped;
            if (!caught_up(s, ticks_now_ns()))
                continue;
        }
        /* until the tick at which the next number is due, at most 5 ms, waking for a signal */
        uint64_t due = (uint64_t)((double)s->next * 1e9 / s->rate);
        uint64_t at = s->t0 + (due + SEQSEND_TICK_NS - 1) / SEQSEND_TICK_NS * SEQSEND_TICK_NS;
        long wait = at > now ? (long)(at - now) : 0;
        if (stop_wait(s->stop, wait < 5000000 ? wait : 5000000))
            goto stopped;
    }
    catch_up(s);
    if (s->tick)
        s->tick(s->tick_ctx, ticks_now_ns());
    end_markers(s);
    return;
stopped:
    s->stopped = true;
    end_markers(s);
}

void seqsend_free(struct seqsend *s)
{
    free(s->pkts);
    s->pkts = NULL;
}
