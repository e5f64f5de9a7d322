/* Event-loop overhead: one byte bounced between the two ends of a socketpair through sk_loop,
 * N round trips, on each backend (io_uring: when built in and the kernel allows it; else the line
 * says what ran instead). Prints the wall time per event and the CPU time (user + system, from
 * getrusage) per event: on a machine shared with other work the second is the steadier one.
 * usage: loop_pingpong [N]  (built by hand: see docs/loop.md) */
#include <sockkit.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static long left;

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void bounce(sk_loop *l, int fd, int events, void *arg)
{
    char c;
    if (read(fd, &c, 1) != 1)
        return;
    if (--left <= 0) {
        sk_loop_stop(l);
        return;
    }
    if (write(fd, &c, 1) != 1)
        sk_loop_stop(l);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    const int backends[] = {SK_LOOP_EPOLL, SK_LOOP_POLL, SK_LOOP_URING};
    for (int b = 0; b < 3; b++) {
        sk_loop *l;
        int sv[2];
        if (sk_loop_new(&l, backends[b]) < 0 || sk_socketpair(SOCK_STREAM, sv) < 0)
            return fprintf(stderr, "%s\n", sk_errmsg()), 1;
        sk_loop_watch(l, sv[0], SK_READABLE, bounce, NULL);
        sk_loop_watch(l, sv[1], SK_READABLE, bounce, NULL);
        left = 2 * n; /* each round trip is two hops */
        struct timespec a, z;
        double cpu = cpu_seconds();
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (write(sv[0], "x", 1) != 1)
            return 1;
        sk_loop_run(l);
        clock_gettime(CLOCK_MONOTONIC, &z);
        cpu = cpu_seconds() - cpu;
        double s = (double)(z.tv_sec - a.tv_sec) + (double)(z.tv_nsec - a.tv_nsec) / 1e9;
        const char *why = sk_loop_backend_why(l);
        printf("%-8s %ld round trips in %.2f s: %.0f/s, %.2f us per event, %.2f us CPU per "
               "event%s%s\n",
               sk_loop_backend_name(l), n, s, n / s, s * 1e6 / (2.0 * (double)n),
               cpu * 1e6 / (2.0 * (double)n), why ? " -- " : "", why ? why : "");
        close(sv[0]);
        close(sv[1]);
        sk_loop_free(l);
    }
    return 0;
}
