/* The workers of sockkit bench echo and connect (stream's is in bench_stream.c). Each runs on
 * its own thread until the run's end (or a failed data check), measuring only between t_measure
 * and t_end; `progress` counts warm-up work too.
 *
 * Closed loop (the default): a connection sends its next message when a reply comes back.
 * Open loop (--rate): requests are due on a fixed schedule (bench_slot_time) and are sent when due
 * whatever the replies do, several in flight on a connection if the server is slow (replies come
 * back in order on a byte stream, so they are matched first in, first out). A request is measured
 * when it was due within the measurement, however late its reply: replies are awaited up to
 * run->t_stop. */
#include "bench.h"
#include "ticks.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd, id;
    sk_tls *tls; /* --tls: the connection's TLS (its I/O goes through it), else NULL */
    bool connected, out_armed;   /* out_armed: EPOLLOUT is asked for */
    bool full;                   /* open loop: it had BENCH_MAX_PIPE requests in flight */
    bool asked;                  /* open loop: a measured request was sent on it */
    uint64_t sent, recvd;        /* bytes of the stream handed to the kernel / checked on return */
    uint64_t ts[BENCH_MAX_PIPE]; /* send time of each message in flight, oldest at head (open
                                  * loop: the time it was due) */
    uint64_t sent_at[BENCH_MAX_PIPE]; /* open loop: when it was actually sent */
    int head, inflight;
    uint64_t queued;   /* bytes generated but not yet written */
    uint64_t measured; /* requests completed during the measurement */
};

/* The byte at offset o of connection id's stream: cheap, and different per connection and
 * offset, so a byte from the wrong connection or place is caught. */
static inline unsigned char pattern(int id, uint64_t o)
{
    return (unsigned char)(o * 7u + (unsigned)id * 13u + (o >> 8) * 3u);
}

/* --tls: a blocking connect and handshake; the loop takes the connection from there. */
static int open_tls_conn(struct bench_worker *w, struct conn *c, int ep)
{
    c->fd = sk_connect_addr(&w->run->addr, SOCK_STREAM, 5000);
    if (c->fd < 0)
        return c->fd;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = bench_tls_open(w->run, c->fd, &c->tls);
    if (rc < 0)
        return rc;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0 ? -errno : 0;
}

static int open_conn(struct bench_worker *w, struct conn *c, int ep)
{
    if (w->run->tls)
        return open_tls_conn(w, c, ep);
    const sk_addr *a = &w->run->addr;
    c->fd = socket(a->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -errno;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, &a->u.sa, a->len) < 0 && errno != EINPROGRESS)
        return -errno;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0 ? -errno : 0;
}

/* Queue as many new messages as the pipeline allows. */
static void refill(struct conn *c, const struct bench_opts *o, uint64_t now)
{
    while (c->inflight < o->pipeline) {
        c->ts[(c->head + c->inflight) % BENCH_MAX_PIPE] = now;
        c->inflight++;
        c->queued += (uint64_t)o->size;
    }
}

/* Write queued bytes. Returns false on a connection error. */
static bool flush_out(struct conn *c)
{
    /* on the stack, not static _Thread_local: a TLS array is part of every thread's TLS block,
     * the server's handler threads included (the CLI is one program) */
    unsigned char buf[65536];
    while (c->queued) {
        size_t n = c->queued < sizeof buf ? (size_t)c->queued : sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(c->id, c->sent + i);
        /* MSG_DONTWAIT: the open loop's single connection is a blocking fd (await_reply) */
        ssize_t k = c->tls ? bench_tls_send(c->tls, buf, n)
                           : send(c->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k < 0)
            return errno == EAGAIN || errno == EINTR;
        c->sent += (uint64_t)k;
        c->queued -= (uint64_t)k;
    }
    return true;
}

static void fail_conn(struct bench_worker *w, struct conn *c, const char *why, int err)
{
    w->errors++;
    if (!w->error[0])
        snprintf(w->error, sizeof w->error, "connection %d: %s%s%s", c->id, why, err ? ": " : "",
                 err == EPROTO && w->run->tls ? sk_errmsg()
                 : err                        ? strerror(err)
                                              : "");
    sk_tls_close(c->tls);
    c->tls = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* Every byte of buf (k bytes at c->recvd) is what was sent; else stop the run. */
static bool check_echo(struct bench_worker *w, struct conn *c, const unsigned char *buf, ssize_t k)
{
    for (ssize_t i = 0; i < k; i++) {
        unsigned char want = pattern(c->id, c->recvd + (uint64_t)i);
        if (buf[i] != want) {
            snprintf(w->error, sizeof w->error,
                     "connection %d: byte %llu came back as 0x%02x, 0x%02x was sent", c->id,
                     (unsigned long long)(c->recvd + (uint64_t)i), buf[i], want);
            atomic_store(&w->run->failed, true);
            return false;
        }
    }
    return true;
}

static bool due_measured(const struct bench_run *run, uint64_t due)
{
    return due >= run->t_measure && due < run->t_end;
}

/* Open loop: a request due at `due` is sent at `now`: its lag. */
static void record_send(struct bench_worker *w, uint64_t due, uint64_t now)
{
    uint64_t lag = now > due ? now - due : 0;
    if (w->run->intervals) {
        pthread_mutex_lock(&w->iv_lock);
        hist_add(&w->iv.lag, lag);
        pthread_mutex_unlock(&w->iv_lock);
    }
    if (due_measured(w->run, due)) {
        hist_add(&w->lag, lag);
        w->sent++;
        w->last_sent = now;
    }
}

/* A reply came back at `now` to a request sent at `sent`, due at `due` (the closed loop: due ==
 * sent); `measure`: it counts in the result. Returns measure. */
static bool record_reply(struct bench_worker *w, uint64_t due, uint64_t sent, uint64_t now,
                         bool measure)
{
    const struct bench_run *run = w->run;
    bool open = run->o->rate > 0;
    atomic_fetch_add_explicit(&w->progress, 1, memory_order_relaxed);
    if (run->intervals) {
        pthread_mutex_lock(&w->iv_lock);
        hist_add(&w->iv.lat, now - due);
        if (open)
            hist_add(&w->iv.unc, now - sent);
        pthread_mutex_unlock(&w->iv_lock);
    }
    if (!measure)
        return false;
    bench_record(w, now - due);
    if (open) {
        hist_add(&w->unc, now - sent);
        w->last_done = now > w->last_done ? now : w->last_done;
    }
    w->requests++;
    w->bytes += (uint64_t)run->o->size;
    return true;
}

/* k more bytes came back: complete the messages they finish. */
static void complete(struct bench_worker *w, struct conn *c, ssize_t k, uint64_t now)
{
    uint64_t size = (uint64_t)w->run->o->size, before = c->recvd / size;
    bool open = w->run->o->rate > 0;
    c->recvd += (uint64_t)k;
    uint64_t done = c->recvd / size - before;
    for (uint64_t m = 0; m < done && c->inflight; m++) {
        uint64_t due = c->ts[c->head], sent = open ? c->sent_at[c->head] : due;
        c->head = (c->head + 1) % BENCH_MAX_PIPE;
        c->inflight--;
        /* a request belongs to the measurement it was due (closed loop: sent) in, and its echo is
         * awaited after the end (the drain): so the count is every measured request the server
         * answered, no in-flight tail lost, and generators on several machines add up to what
         * the server saw */
        if (record_reply(w, due, sent, now, due_measured(w->run, due)))
            c->measured++;
    }
}

/* Read what came back, check every byte, complete messages, send the next ones. */
static void on_readable(struct bench_worker *w, struct conn *c)
{
    unsigned char buf[65536]; /* on the stack: see flush_out */
    for (;;) {
        ssize_t k = c->tls ? bench_tls_recv(c->tls, buf, sizeof buf)
                           : recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
        uint64_t now = ticks_now_ns(); /* per read: an echo may come back within this loop */
        if (k == 0) {
            fail_conn(w, c, "closed by the server", 0);
            return;
        }
        if (k < 0) {
            if (errno != EAGAIN && errno != EINTR)
                fail_conn(w, c, "receive", errno);
            return;
        }
        if (!check_echo(w, c, buf, k))
            return;
        complete(w, c, k, now);
        if (now < w->run->t_end && !(w->run->o->rate > 0))
            refill(c, w->run->o, now);
        if (!flush_out(c)) {
            fail_conn(w, c, "send", errno);
            return;
        }
        if ((size_t)k < sizeof buf)
            return; /* a short read drained the socket: no extra recv just to hear EAGAIN */
    }
}

/* The connection's nonblocking connect finished: check it, send the first messages. */
static void on_connected(struct bench_worker *w, struct conn *c, int ep, uint64_t now)
{
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        fail_conn(w, c, "connect", err);
        return;
    }
    c->connected = true;
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
    c->out_armed = false;
    /* the open loop sends what came due while connecting */
    if (!(w->run->o->rate > 0) && now < w->run->t_end)
        refill(c, w->run->o, now);
    if (!flush_out(c))
        fail_conn(w, c, "send", errno);
}

/* Ask for EPOLLOUT exactly while bytes wait for room: level-triggered, asking with nothing to
 * write would wake the loop at once, over and over (a spin after any partial write); not asking
 * while bytes wait would leave a message half sent until a reply comes, which a server that waits
 * for the whole message never sends. */
static void watch_out(struct conn *c, int ep)
{
    bool want = c->queued > 0;
    if (c->fd < 0 || !c->connected || want == c->out_armed)
        return;
    struct epoll_event e = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
    c->out_armed = want;
}

/* Both loops: read and check what came back (on_readable writes what waits too), or write what
 * waited for room; then ask for EPOLLOUT only if bytes still wait. */
static void on_event(struct bench_worker *w, struct conn *c, int ep, uint32_t events, uint64_t now)
{
    if (!c->connected)
        on_connected(w, c, ep, now);
    else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        on_readable(w, c);
    else if (!flush_out(c))
        fail_conn(w, c, "send", errno);
    watch_out(c, ep);
}

/* When the worker's request s is due: its requests are the run's k = first + j + m * conns for
 * its connections j < n and rounds m, in order of k. */
static uint64_t worker_due(const struct bench_worker *w, uint64_t s)
{
    uint64_t n = (uint64_t)w->n, conns = (uint64_t)w->run->o->conns;
    return bench_slot_time(w->run, (uint64_t)w->first + s % n + s / n * conns);
}

/* Send request `due` on c now. False when c has BENCH_MAX_PIPE in flight: the schedule waits
 * (and the lag shows it). A closed connection skips its requests: they count as not sent. */
static bool issue(struct bench_worker *w, struct conn *c, int ep, uint64_t due)
{
    if (c->fd < 0)
        return true;
    if (c->inflight == BENCH_MAX_PIPE) {
        w->full += !c->full;
        c->full = true;
        return false;
    }
    int i = (c->head + c->inflight) % BENCH_MAX_PIPE;
    /* stamped here and counted after the send: the bookkeeping is not in the latency */
    uint64_t sent = ticks_now_ns();
    c->ts[i] = due;
    c->sent_at[i] = sent;
    c->inflight++;
    c->queued += (uint64_t)w->run->o->size;
    c->asked |= due_measured(w->run, due);
    if (c->connected && !flush_out(c))
        fail_conn(w, c, "send", errno);
    record_send(w, due, sent);
    watch_out(c, ep);
    return true;
}

/* Once measuring has begun, warm-up requests not sent yet are dropped: a generator that could not
 * keep the schedule in the warm-up would spend the measurement sending them (at a rate far out of
 * reach, all of it: nothing measured), and they are not measured anyway. The measurement's own
 * schedule starts whole; the dropped ones are counted (warmup_unsent). *s: the worker's next
 * request; its global number is first + s % n + s / n * conns (worker_due). */
static void skip_warmup(struct bench_worker *w, uint64_t *s, uint64_t now)
{
    const struct bench_run *run = w->run;
    if (w->warmup_over || now < run->t_measure)
        return;
    w->warmup_over = true; /* once: from here on the schedule is the measurement's */
    if (worker_due(w, *s) >= run->t_measure)
        return;
    uint64_t n = (uint64_t)w->n, conns = (uint64_t)run->o->conns, first = (uint64_t)w->first;
    uint64_t k = bench_slot_at(run, run->t_measure);       /* the first request measured */
    uint64_t to = k > first ? (k - first) / conns * n : 0; /* the round k falls in */
    if (to < *s)
        to = *s;
    while (worker_due(w, to) < run->t_measure)
        to++;
    w->warmup_unsent += to - *s;
    *s = to;
}

/* Send every request due by now (and due before the end of the measurement); *s is the worker's
 * next one. Returns when the next is due, UINT64_MAX when none is left to send. */
static uint64_t issue_due(struct bench_worker *w, struct conn *cs, int ep, uint64_t *s)
{
    const struct bench_run *run = w->run;
    uint64_t now = ticks_now_ns(), due;
    skip_warmup(w, s, now);
    while ((due = worker_due(w, *s)) < run->t_end && due <= now && now < run->t_stop) {
        if (!issue(w, &cs[*s % (uint64_t)w->n], ep, due))
            return now + 1000000; /* a full pipeline: look again in 1 ms */
        ++*s;
    }
    return due < run->t_end && now < run->t_stop ? due : UINT64_MAX;
}

/* How long before a request is due the open loop stops sleeping and polls (epoll_wait with no
 * timeout, replies still handled as they come): a wakeup from sleep is tens of microseconds late
 * (more from a deeper idle state, the longer the gaps between requests), which would be in every
 * corrected latency. At least a tenth of the worker's gap between requests, between 20 and
 * 200 us; more where the wakeups are later than that (struct wake_lead). */
static uint64_t spin_ns(const struct bench_worker *w)
{
    uint64_t a = worker_due(w, 0), b = worker_due(w, 1), gap = b > a ? b - a : 0;
    uint64_t spin = gap / 10;
    return spin < 20000u ? 20000u : spin > 200000u ? 200000u : spin;
}

/* The lead, measured: how late this thread's wakeups come on this machine. A 2-vCPU VM here woke
 * 40-50 us after the time asked for, so a fixed 20 us lead at 5000/s sent the median request
 * 26 us late (bench/openloop.sh, docs/bench.md). Each wakeup by a timeout is a sample of how late
 * it came; est follows their high end (a new high at once, then decaying by 1/1024 a sample: half
 * of it is left after 710 requests, 0.14 s at 5000/s) and the lead is est + 25% + 5 us, at least
 * spin_ns() and at most half the gap or 200 us, spin_ns()'s own most (the polling costs at most
 * half of the thread). A decay of 1/64 forgot a late wakeup within a few hundred requests, before
 * the next late one, which then came after the lead: at 5000/s the generator's lag p99 was 6.6 us
 * against 0.2 us with 1/1024, and the corrected p99 2.1x (docs/bench.md). */
struct wake_lead {
    uint64_t min, max, est;
};

static void lead_init(struct wake_lead *l, const struct bench_worker *w)
{
    uint64_t a = worker_due(w, 0), b = worker_due(w, 1), gap = b > a ? b - a : 0;
    l->min = spin_ns(w);
    l->max = gap / 2 < 200000u ? gap / 2 : 200000u;
    if (l->max < l->min)
        l->max = l->min;
    l->est = 0;
}

static uint64_t lead_ns(const struct wake_lead *l)
{
    uint64_t v = l->est + l->est / 4 + 5000u;
    return v < l->min ? l->min : v > l->max ? l->max : v;
}

/* A wakeup asked for at target came at now. */
static void lead_note(struct wake_lead *l, uint64_t target, uint64_t now)
{
    if (now < target)
        return; /* woken early, by a reply: no sample */
    uint64_t late = now - target;
    if (late > l->max)
        late = l->max;
    l->est = late > l->est ? late : l->est - l->est / 1024;
}

/* Wait for events until `until` (CLOCK_MONOTONIC ns; UINT64_MAX: 50 ms at most), or only poll
 * (spin). epoll_pwait2's timeout is in ns: the loop needs no timer of its own, so a request costs
 * a send, a wait and a recv (and the wait for its slot). A timerfd armed between the send and the
 * reply (as this loop did) cost a system call and a read more per request and, on a VM, tens of
 * microseconds on the round trip's p90 (bench/openloop.sh, docs/bench.md). Before Linux 5.11
 * (ENOSYS) the wait is in whole milliseconds, and the spin covers the rest. */
static int wait_events(int ep, struct epoll_event *ev, int cap, uint64_t now, uint64_t until,
                       bool spin)
{
    static _Atomic bool no_pwait2;
    if (spin)
        return epoll_wait(ep, ev, cap, 0);
    uint64_t left = until > now ? until - now : 0;
    if (left > 50000000u)
        left = 50000000u;
    if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
        struct timespec ts = {(time_t)(left / 1000000000u), (long)(left % 1000000000u)};
        int n = epoll_pwait2(ep, ev, cap, &ts, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        atomic_store_explicit(&no_pwait2, true, memory_order_relaxed);
    }
    return epoll_wait(ep, ev, cap, (int)(left / 1000000u));
}

/* A worker with one plain connection awaits a reply as a blocking client does, in a blocking
 * recv(2): with nothing but the socket between the reply and the thread, the round trip is a
 * blocking client's. An epoll wait with the next slot as its timeout (what the loop does
 * otherwise) measured 1.16-1.28x a blocking client's p50 on this VM: the wakeup goes through
 * epoll, and the wait's timer is armed and cancelled around every reply (docs/bench.md, "Open
 * loop against closed loop"). So that a late reply does not hold up the schedule, a POSIX timer
 * (SIGEV_THREAD_ID) interrupts the recv when the next request is near; its signal's handler
 * does nothing but end the recv (EINTR). The timer is armed for request s + 1 while the loop
 * polls before request s is due, so no timer is touched between a send and its reply (armed
 * there, it cost as much as the epoll wait). The recv is not begun once the timer's time has
 * come; should the signal still come in the instant before the recv begins, the socket's
 * 20 ms receive timeout ends the wait (a late request, which the lag shows), never a stall. */
struct blocking_wait {
    timer_t timer;
    bool on;        /* the worker's one connection is awaited so: the timer exists */
    uint64_t armed; /* the request whose slot the timer is armed for, + 1 (0: none) */
    uint64_t at;    /* when it fires (CLOCK_MONOTONIC ns) */
    bool blocking;  /* the connection's fd was made blocking */
};

static void on_wait_timer(int sig)
{
    (void)sig; /* only to end the recv it interrupts */
}

static void await_setup(struct blocking_wait *bw, struct bench_worker *w)
{
    *bw = (struct blocking_wait){0};
    if (w->n != 1 || w->run->tls || getenv("SOCKKIT_BENCH_EPOLL_WAIT"))
        return;
    struct sigaction sa = {.sa_handler = on_wait_timer}; /* no SA_RESTART: recv ends, EINTR */
    sigaction(SIGRTMIN, &sa, NULL);
    struct sigevent se = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGRTMIN};
    se._sigev_un._tid = gettid();
    bw->on = timer_create(CLOCK_MONOTONIC, &se, &bw->timer) == 0;
}

/* Before request s is sent: the timer for the slot of request s + 1, once. */
static void await_arm(struct blocking_wait *bw, const struct bench_worker *w, uint64_t s,
                      uint64_t spin_for)
{
    if (!bw->on || bw->armed == s + 2)
        return;
    uint64_t at = worker_due(w, s + 1) - spin_for;
    struct itimerspec its = {.it_value = {(time_t)(at / 1000000000u), (long)(at % 1000000000u)}};
    timer_settime(bw->timer, TIMER_ABSTIME, &its, NULL);
    bw->armed = s + 2;
    bw->at = at;
}

/* Wait in recv(2) for what comes back on c: until the timer's signal, a reply, or 20 ms. */
static void await_reply(struct blocking_wait *bw, struct bench_worker *w, struct conn *c)
{
    if (!bw->blocking) {
        struct timeval tv = {0, 20000}; /* the last resort: the loop looks again */
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) & ~O_NONBLOCK);
        setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        bw->blocking = true;
    }
    unsigned char buf[65536];
    if (ticks_now_ns() >= bw->at)
        return; /* the timer's time came: it may have signalled already */
    ssize_t k = recv(c->fd, buf, sizeof buf, 0);
    uint64_t now = ticks_now_ns();
    if (k == 0)
        fail_conn(w, c, "closed by the server", 0);
    else if (k < 0 && errno != EAGAIN && errno != EINTR)
        fail_conn(w, c, "receive", errno);
    else if (k > 0 && check_echo(w, c, buf, k))
        complete(w, c, k, now); /* more may wait: the next epoll wait sees it */
}

/* The open loop of one worker: it sleeps until lead_ns() before the next request is due, then
 * polls; it ends when every measured request was sent and answered, or at run->t_stop. */
static void echo_open_loop(struct bench_worker *w, struct conn *cs, int ep)
{
    const struct bench_run *run = w->run;
    prctl(PR_SET_TIMERSLACK, 1000UL); /* wake within 1 us of the due time, not the default 50 */
    struct wake_lead lead;
    lead_init(&lead, w);
    uint64_t s = 0;
    struct epoll_event ev[256];
    struct blocking_wait bw;
    await_setup(&bw, w);
    while (!atomic_load(&run->failed)) {
        uint64_t next = issue_due(w, cs, ep, &s), now = ticks_now_ns();
        if (now >= run->t_stop || (next == UINT64_MAX && w->requests >= w->sent))
            break;
        uint64_t spin_for = lead_ns(&lead);
        bool spin = next != UINT64_MAX && next <= now + spin_for;
        if (spin)
            await_arm(&bw, w, s, spin_for);
        /* nothing to write and the next request not near, the timer armed for it (await_arm):
         * the recv waits for the reply, or, with none in flight, for the timer alone (an epoll
         * wait to the same time as well would wake the thread twice). Past the timer's time (the
         * schedule ended, replies still awaited; a full pipeline) the epoll wait below waits. */
        else if (bw.on && cs[0].fd >= 0 && cs[0].connected && !cs[0].queued && bw.armed == s + 1 &&
                 now < bw.at) {
            await_reply(&bw, w, &cs[0]);
            lead_note(&lead, bw.at, ticks_now_ns());
            continue;
        }
        uint64_t until = next == UINT64_MAX ? UINT64_MAX : next - spin_for;
        int n = wait_events(ep, ev, 256, now, until, spin);
        now = ticks_now_ns();
        if (!spin && n == 0 && until != UINT64_MAX)
            lead_note(&lead, until, now);
        for (int i = 0; i < n; i++) {
            struct conn *c = ev[i].data.ptr;
            if (c->fd >= 0)
                on_event(w, c, ep, ev[i].events, now);
        }
    }
    if (bw.on)
        timer_delete(bw.timer);
}

/* Requests sent but not yet answered on open connections. */
static int inflight(const struct conn *cs, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += cs[i].fd >= 0 && cs[i].connected ? cs[i].inflight : 0;
    return k;
}

/* The closed loop: each connection keeps --pipeline requests in flight until the end, then the
 * echoes of what was sent before it are awaited until run->t_stop. */
static void echo_closed_loop(struct bench_worker *w, struct conn *cs, int ep)
{
    struct epoll_event ev[256];
    while (!atomic_load(&w->run->failed)) {
        uint64_t now = ticks_now_ns();
        if (now >= w->run->t_end && (now >= w->run->t_stop || !inflight(cs, w->n)))
            break;
        int n = epoll_wait(ep, ev, 256, 10);
        now = ticks_now_ns();
        for (int i = 0; i < n; i++) {
            struct conn *c = ev[i].data.ptr;
            if (c->fd >= 0)
                on_event(w, c, ep, ev[i].events, now);
        }
    }
}

/* echo mode: w->n connections in one epoll loop, each keeping --pipeline messages in flight (or,
 * with --rate, sending on the schedule). */
void *bench_echo_worker(void *arg)
{
    struct bench_worker *w = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct conn *cs = calloc((size_t)w->n, sizeof *cs);
    if (ep < 0 || !cs) {
        snprintf(w->error, sizeof w->error, "%s", strerror(ep < 0 ? errno : ENOMEM));
        w->errors++;
        free(cs);
        bench_tls_gate(w->run);
        return NULL;
    }
    for (int i = 0; i < w->n; i++) {
        cs[i].id = w->first + i;
        int rc = open_conn(w, &cs[i], ep);
        if (rc < 0)
            fail_conn(w, &cs[i], "connect", rc > -3000 ? -rc : EPROTO); /* SK_E*: the message */
    }
    bench_tls_gate(w->run);
    if (w->run->o->rate > 0)
        echo_open_loop(w, cs, ep);
    else
        echo_closed_loop(w, cs, ep);
    for (int i = 0; i < w->n; i++) {
        /* connected (or waiting) but never answered: a server that serves few. In the open loop
         * only where a measured request was sent: at a rate below one a connection per
         * measurement, the others had none to answer */
        if (cs[i].fd >= 0 && !cs[i].measured && (w->run->o->rate <= 0 || cs[i].asked))
            w->starved++;
        bench_tls_close(cs[i].tls);
        if (cs[i].fd >= 0)
            close(cs[i].fd);
    }
    free(cs);
    close(ep);
    return NULL;
}

/* Open loop: sleep until `due` (CLOCK_MONOTONIC ns), waking early when the run failed. */
static void sleep_until_due(const struct bench_run *run, uint64_t due)
{
    for (uint64_t now; !atomic_load(&run->failed) && (now = ticks_now_ns()) < due;) {
        uint64_t until = due - now > 50000000u ? now + 50000000u : due;
        struct timespec ts = {(time_t)(until / 1000000000u), (long)(until % 1000000000u)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    }
}

/* Open loop: the next exchange of a connect worker is due at *due (its requests are the run's
 * k = first + m * conns); sleep until then. False when the schedule has ended. */
static bool connect_wait(struct bench_worker *w, uint64_t *k, uint64_t *due)
{
    const struct bench_run *run = w->run;
    uint64_t conns = (uint64_t)run->o->conns;
    *due = bench_slot_time(run, *k);
    if (*due < run->t_measure && ticks_now_ns() >= run->t_measure) {
        /* the warm-up's exchanges still unmade are dropped, as skip_warmup does for echo */
        uint64_t first = bench_slot_at(run, run->t_measure), to = *k;
        if (first > to)
            to += (first - to + conns - 1) / conns * conns;
        w->warmup_unsent += (to - *k) / conns;
        *k = to;
        *due = bench_slot_time(run, *k);
    }
    *k += conns;
    if (*due >= run->t_end || ticks_now_ns() >= run->t_stop)
        return false;
    sleep_until_due(run, *due);
    return true;
}

/* One exchange: connect, send out, receive its echo into in. Returns 1 the echo is what was
 * sent, 0 a failure (counted in w), -1 the echo differs (the run fails). */
static int connect_exchange(struct bench_worker *w, const unsigned char *out, unsigned char *in)
{
    struct bench_run *run = w->run;
    size_t size = (size_t)run->o->size;
    int fd = sk_connect_addr(&run->addr, SOCK_STREAM, 5000);
    /* TLS: the request follows our Finished, which is unacknowledged until the server writes
     * (its tickets) or its delayed ACK fires: Nagle held it 40 ms per connection against a
     * server sending no ticket (22 handshakes/s instead of hundreds) */
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bool ok = fd >= 0 && (run->tls ? bench_tls_exchange(w, fd, out, in, size)
                                   : sk_send_all(fd, out, size, 5000, NULL) == 0 &&
                                         sk_recv_exact(fd, in, size, 5000, NULL) == 0);
    if (fd >= 0)
        close(fd);
    if (!ok) {
        if (!w->errors++)
            snprintf(w->error, sizeof w->error, "%s", sk_errmsg());
        return 0;
    }
    if (memcmp(in, out, size)) {
        snprintf(w->error, sizeof w->error, "worker %d: the echo differs from what was sent",
                 w->first);
        atomic_store(&run->failed, true);
        return -1;
    }
    return 1;
}

/* connect mode: connect, one message, its echo, close, over and over (open loop: when due, one at
 * a time: an exchange due while the one before still runs starts late, and its latency counts
 * from when it was due). */
void *bench_connect_worker(void *arg)
{
    struct bench_worker *w = arg;
    struct bench_run *run = w->run;
    bool open = run->o->rate > 0;
    size_t size = (size_t)run->o->size;
    unsigned char *out = malloc(size), *in = malloc(size);
    for (size_t i = 0; out && i < size; i++)
        out[i] = pattern(w->first, (uint64_t)i);
    uint64_t k = (uint64_t)w->first, due = 0;
    while (out && in && !atomic_load(&run->failed)) {
        if (open && !connect_wait(w, &k, &due))
            break;
        uint64_t t0 = ticks_now_ns();
        if (!open && t0 >= run->t_end)
            break;
        if (open)
            record_send(w, due, t0);
        int rc = connect_exchange(w, out, in);
        if (rc < 0 || (rc == 0 && w->errors > 100))
            break;
        if (rc == 0)
            continue;
        uint64_t t1 = ticks_now_ns();
        if (open)
            record_reply(w, due, t0, t1, due_measured(run, due));
        else /* closed: started within the measurement (the loop stops at t_end) */
            record_reply(w, t0, t0, t1, due_measured(run, t0));
    }
    free(out);
    free(in);
    return NULL;
}
