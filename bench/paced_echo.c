/* The two reference clients bench/openloop.sh holds sockkit's open loop against, one connection
 * each, exact percentiles (sorted samples), one JSON line:
 * - closed (the default): one request at a time; request k is sent at start + k / RATE or, if the
 *   reply before it came later than that, as soon as it came (it never has two in flight), and
 *   its latency is from that send to the last byte of its echo; from_due_*: from the time it was
 *   due instead, its own lateness (sleeping to the slot) included, as an open loop counts it.
 * - open: the simplest open loop, independent of sockkit's: this thread sends request k at
 *   start + k / RATE (it sleeps to LEAD before the slot, then reads the clock until it), whether
 *   or not replies came; a second thread waits in a blocking recv and stamps each echo as its
 *   last byte comes. p*_us from the actual send, from_due_* from the due time, lag from due to
 *   send.
 * over_gap: requests slower than the gap between two requests (1 / RATE). A closed loop has at
 * most one of them per stall (it sends nothing while it waits); an open loop has one for every
 * request it sent during the stall, which is what it is for (coordinated omission, docs/bench.md).
 *   paced_echo PORT RATE SECONDS WARMUP [SIZE [open]]   (127.0.0.1 only; built by openloop.sh) */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
    struct timespec ts = {(time_t)(t / 1000000000u), (long)(t % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL))
        ;
}

static int cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* nearest rank: the ceil(p * n)-th smallest */
static double pct_us(const uint64_t *v, size_t n, double p)
{
    size_t r = (size_t)(p * (double)n + 0.999999);
    return n ? (double)v[(r ? r : 1) - 1] / 1e3 : 0;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* One request: send size bytes, read their echo. */
static int exchange(int fd, char *buf, size_t size)
{
    if (send(fd, buf, size, MSG_NOSIGNAL) != (ssize_t)size)
        return -1;
    for (size_t got = 0; got < size;) {
        ssize_t k = recv(fd, buf + got, size - got, 0);
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

static size_t over(const uint64_t *v, size_t n, uint64_t x)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += v[i] > x;
    return k;
}

/* open: the receiving thread. done[j]: when the last byte of request j's echo came. */
struct rx {
    int fd;
    size_t size, cap;
    uint64_t *done;
    _Atomic size_t got; /* echoes complete */
};

static void *receive_all(void *p)
{
    struct rx *r = p;
    static char buf[65536];
    uint64_t bytes = 0;
    for (;;) {
        ssize_t k = recv(r->fd, buf, sizeof buf, 0);
        if (k <= 0)
            return NULL; /* the end (shutdown) or the connection gone: main sees got short */
        uint64_t now = now_ns();
        size_t before = (size_t)(bytes / r->size);
        bytes += (uint64_t)k;
        for (size_t j = before; j < bytes / r->size && j < r->cap; j++)
            r->done[j] = now;
        atomic_store(&r->got, (size_t)(bytes / r->size));
    }
}

static int open_loop(int fd, double rate, double secs, double warm, size_t size)
{
    uint64_t gap = (uint64_t)(1e9 / rate), lead = 60000; /* a wakeup here is 40-50 us late */
    prctl(PR_SET_TIMERSLACK, 1000UL);                    /* within 1 us, not the default 50 */
    size_t cap = (size_t)(rate * (secs + warm)) + 16, k = 0;
    uint64_t *due = malloc(cap * sizeof *due), *sent = malloc(cap * sizeof *sent);
    struct rx r = {.fd = fd, .size = size, .cap = cap, .done = calloc(cap, sizeof(uint64_t))};
    char *buf = calloc(1, size);
    pthread_t t;
    if (!due || !sent || !r.done || !buf || pthread_create(&t, NULL, receive_all, &r)) {
        perror("paced_echo");
        return 1;
    }
    uint64_t t0 = now_ns() + 1000000, measure = t0 + (uint64_t)(warm * 1e9),
             end = measure + (uint64_t)(secs * 1e9);
    for (; k < cap; k++) {
        due[k] = t0 + (uint64_t)((double)k * 1e9 / rate);
        if (due[k] >= end)
            break;
        if (now_ns() + lead < due[k])
            sleep_until(due[k] - lead);
        while ((sent[k] = now_ns()) < due[k])
            ;
        if (send(fd, buf, size, MSG_NOSIGNAL) != (ssize_t)size) {
            perror("paced_echo: send");
            return 1;
        }
    }
    for (uint64_t give_up = now_ns() + 5000000000u; atomic_load(&r.got) < k && now_ns() < give_up;)
        usleep(1000);
    shutdown(fd, SHUT_RDWR);
    pthread_join(t, NULL);
    if (atomic_load(&r.got) < k) {
        fprintf(stderr, "paced_echo: %zu of %zu echoes came back\n", atomic_load(&r.got), k);
        return 1;
    }
    size_t n = 0, late = 0;
    uint64_t *lat = malloc(k * sizeof *lat), *from_due = malloc(k * sizeof *lat),
             *lag = malloc(k * sizeof *lat);
    for (size_t j = 0; j < k; j++) {
        if (due[j] < measure)
            continue;
        lat[n] = r.done[j] - sent[j];
        from_due[n] = r.done[j] - due[j];
        lag[n] = sent[j] - due[j];
        late += lag[n++] > 1000000u;
    }
    size_t slow = over(lat, n, gap);
    qsort(lat, n, sizeof *lat, cmp);
    qsort(from_due, n, sizeof *lat, cmp);
    qsort(lag, n, sizeof *lat, cmp);
    printf("{\"loop\": \"open\", \"requests\": %zu, \"late_over_1ms\": %zu, \"over_gap\": %zu, "
           "\"p50_us\": %.3f, \"p90_us\": %.3f, \"p99_us\": %.3f, \"max_us\": %.3f, "
           "\"from_due_p50_us\": %.3f, \"from_due_p99_us\": %.3f, \"lag_p99_us\": %.3f}\n",
           n, late, slow, pct_us(lat, n, 0.50), pct_us(lat, n, 0.90), pct_us(lat, n, 0.99),
           pct_us(lat, n, 1.0), pct_us(from_due, n, 0.50), pct_us(from_due, n, 0.99),
           pct_us(lag, n, 0.99));
    free(lat), free(from_due), free(lag), free(due), free(sent), free(r.done), free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: paced_echo PORT RATE SECONDS WARMUP [SIZE [open]]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    double rate = atof(argv[2]), secs = atof(argv[3]), warm = atof(argv[4]);
    size_t size = argc > 5 ? (size_t)atol(argv[5]) : 64;
    int fd = connect_to(port);
    if (fd >= 0 && rate > 0 && size > 0 && argc > 6 && !strcmp(argv[6], "open")) {
        int rc = open_loop(fd, rate, secs, warm, size);
        close(fd);
        return rc;
    }
    char *buf = calloc(1, size);
    size_t cap = (size_t)(rate * secs) + 16, n = 0, late = 0;
    uint64_t *lat = malloc(cap * sizeof *lat), *sched = malloc(cap * sizeof *sched);
    if (fd < 0 || !buf || !lat || !sched || rate <= 0) {
        perror("paced_echo");
        return 1;
    }
    uint64_t t0 = now_ns(), measure = t0 + (uint64_t)(warm * 1e9),
             end = measure + (uint64_t)(secs * 1e9);
    for (uint64_t k = 0;; k++) {
        uint64_t due = t0 + (uint64_t)((double)k * 1e9 / rate);
        if (due >= end)
            break;
        sleep_until(due);
        uint64_t sent = now_ns();
        if (exchange(fd, buf, size) < 0) {
            perror("paced_echo: exchange");
            return 1;
        }
        uint64_t done = now_ns();
        if (due >= measure && n < cap) {
            sched[n] = done - due; /* as an open loop would count it: its own lateness too */
            lat[n++] = done - sent;
            late += sent - due > 1000000u;
        }
    }
    size_t slow = over(lat, n, (uint64_t)(1e9 / rate));
    qsort(lat, n, sizeof *lat, cmp);
    qsort(sched, n, sizeof *sched, cmp);
    printf("{\"loop\": \"closed\", \"requests\": %zu, \"late_over_1ms\": %zu, \"over_gap\": %zu, "
           "\"p50_us\": %.3f, \"p90_us\": %.3f, "
           "\"p99_us\": %.3f, \"max_us\": %.3f, \"from_due_p50_us\": %.3f, "
           "\"from_due_p99_us\": %.3f}\n",
           n, late, slow, pct_us(lat, n, 0.50), pct_us(lat, n, 0.90), pct_us(lat, n, 0.99),
           pct_us(lat, n, 1.0), pct_us(sched, n, 0.50), pct_us(sched, n, 0.99));
    free(sched), free(lat), free(buf);
    close(fd);
    return 0;
}
