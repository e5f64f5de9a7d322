/* The worker of sockkit bench stream: one connection that writes blocks to a sink, reads them
 * from a source (--reverse), or both at once on two threads (--bidir), as fast as it can or paced
 * to --bitrate by a 1 ms token bucket (bitrate.h). Bytes count as measured when their call
 * returns between t_measure and t_end; `progress` counts warm-up bytes too. */
#include "bench.h"
#include "bitrate.h"
#include "ticks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One direction of the connection. */
struct stream_dir {
    struct bench_worker *w;
    int fd;
    bool send;
    atomic_uint_fast64_t *progress;
    uint64_t bytes, errors; /* measured; errors: 0 or 1 */
    char error[256];
};

/* Sleep until `at` (monotonic ns), at most to the run's end. */
static void pace_wait(const struct bench_run *run, uint64_t at)
{
    if (at > run->t_end)
        at = run->t_end;
    struct timespec ts = {(time_t)(at / 1000000000u), (long)(at % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* The bytes of the next call: a block, or what the bucket allows if less (0: wait). */
static size_t next_call(const struct bench_opts *o, const struct pacer *pc, uint64_t now)
{
    if (!o->bitrate)
        return (size_t)o->size;
    uint64_t ok = pacer_allowed(pc, now);
    return ok < (uint64_t)o->size ? (size_t)ok : (size_t)o->size;
}

static void *stream_dir_run(void *arg)
{
    struct stream_dir *d = arg;
    struct bench_run *run = d->w->run;
    const struct bench_opts *o = run->o;
    unsigned char *buf = calloc(1, (size_t)o->size);
    if (!buf) {
        d->errors = 1;
        snprintf(d->error, sizeof d->error, "%s", strerror(ENOMEM));
        return NULL;
    }
    /* each connection paces its share; the schedule starts with the run, so the connect's
     * moment is caught up at once */
    struct pacer pc;
    double rate = o->bitrate / o->conns;
    pacer_init(&pc, rate, run->t_start);
    bool rebased = run->t_measure == run->t_start;
    for (uint64_t now; !atomic_load(&run->failed) && (now = ticks_now_ns()) < run->t_end;) {
        if (!rebased && now >= run->t_measure) {
            /* the measurement gets a schedule of its own: a debt from the warm-up (a sender
             * kept off the CPU there) caught up inside it would make it faster than asked */
            pacer_init(&pc, rate, run->t_measure);
            rebased = true;
        }
        size_t want = next_call(o, &pc, now);
        if (!want) {
            pace_wait(run, pacer_next(&pc));
            continue;
        }
        ssize_t n = d->send ? send(d->fd, buf, want, MSG_NOSIGNAL) : recv(d->fd, buf, want, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0) {
            d->errors = 1;
            snprintf(d->error, sizeof d->error, "%s%s",
                     o->bidir ? (d->send ? "send: " : "receive: ") : "",
                     n == 0 ? "the server closed the connection" : strerror(errno));
            break;
        }
        pc.done += (uint64_t)n;
        now = ticks_now_ns();
        atomic_fetch_add_explicit(d->progress, (uint64_t)n, memory_order_relaxed);
        if (now >= run->t_measure && now < run->t_end)
            d->bytes += (uint64_t)n;
    }
    free(buf);
    return NULL;
}

static void take(struct bench_worker *w, const struct stream_dir *d)
{
    w->errors += d->errors;
    if (d->errors && !w->error[0])
        snprintf(w->error, sizeof w->error, "%s", d->error);
}

/* stream mode: one connection, one direction (or both with --bidir, the receiving one on a
 * thread of its own, as iperf3 --bidir runs one stream each way). */
void *bench_stream_worker(void *arg)
{
    struct bench_worker *w = arg;
    struct bench_run *run = w->run;
    const struct bench_opts *o = run->o;
    int fd = sk_connect_addr(&run->addr, SOCK_STREAM, 5000);
    if (fd < 0) {
        w->errors++;
        snprintf(w->error, sizeof w->error, "%s", sk_errmsg());
        return NULL;
    }
    /* Plain blocking calls, as iperf3 makes them: a poll per write would cost a system call each
     * time the send buffer fills. The socket timeout keeps the end of the run on time. */
    sk_sock_set_timeouts(fd, 200, 200);
    struct stream_dir one = {.w = w, .fd = fd, .send = !o->reverse, .progress = &w->progress},
                      rx = {.w = w, .fd = fd, .send = false, .progress = &w->progress_rx};
    pthread_t t;
    int rc = o->bidir ? pthread_create(&t, NULL, stream_dir_run, &rx) : 0;
    if (rc) {
        rx.errors = 1;
        snprintf(rx.error, sizeof rx.error, "pthread_create: %s", strerror(rc));
    }
    stream_dir_run(&one);
    if (o->bidir && !rc)
        pthread_join(t, NULL);
    w->bytes = one.bytes;
    w->rx_bytes = rx.bytes;
    take(w, &one);
    take(w, &rx);
    close(fd);
    return NULL;
}
