/* A closed-loop echo client at a fixed rate, the reference bench/openloop.sh holds sockkit's open
 * loop against: one connection, one request at a time; request k is sent at start + k / RATE or,
 * if the reply before it came later than that, as soon as it came (the closed loop: it never has
 * two in flight), and its latency is from that send to the last byte of its echo. Exact
 * percentiles (sorted samples), as one JSON line; from_due_*: from the time the request was due
 * instead, its own lateness (sleeping to the slot) included, as an open loop counts it.
 *   paced_echo PORT RATE SECONDS WARMUP [SIZE]     (127.0.0.1 only; built by bench/openloop.sh) */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: paced_echo PORT RATE SECONDS WARMUP [SIZE]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    double rate = atof(argv[2]), secs = atof(argv[3]), warm = atof(argv[4]);
    size_t size = argc > 5 ? (size_t)atol(argv[5]) : 64;
    int fd = connect_to(port);
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
    qsort(lat, n, sizeof *lat, cmp);
    qsort(sched, n, sizeof *sched, cmp);
    printf("{\"requests\": %zu, \"late_over_1ms\": %zu, \"p50_us\": %.3f, \"p90_us\": %.3f, "
           "\"p99_us\": %.3f, \"max_us\": %.3f, \"from_due_p50_us\": %.3f, "
           "\"from_due_p99_us\": %.3f}\n",
           n, late, pct_us(lat, n, 0.50), pct_us(lat, n, 0.90), pct_us(lat, n, 0.99),
           pct_us(lat, n, 1.0), pct_us(sched, n, 0.50), pct_us(sched, n, 0.99));
    free(sched);
    close(fd);
    return 0;
}
