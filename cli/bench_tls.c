/* sockkit bench echo/connect --tls: the client context, the handshake, and send/recv through TLS
 * with the manners of send(2)/recv(2) on a non-blocking socket, so that the workers' loops
 * (bench_tcp.c) stay the same with and without TLS. */
#include "bench.h"
#include "ticks.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#define BENCH_TLS_TIMEOUT_MS 5000

void bench_tls_setup(struct bench_run *run)
{
    const struct bench_opts *o = run->o;
    if (!o->tls.on)
        return;
    sk_endpoint ep;
    if (sk_endpoint_parse(o->endpoint, &ep) < 0)
        cli_die(EXIT_USAGE, "%s", sk_errmsg());
    snprintf(run->tls_host, sizeof run->tls_host, "%s",
             o->tls.sni   ? o->tls.sni
             : ep.is_unix ? "localhost"
                          : ep.host);
    run->tls = cli_tls_context(&o->tls, o->co.verbose);
    /* the probe: what would fail on every connection fails once, here, with the reason */
    int fd = sk_connect_addr(&run->addr, SOCK_STREAM, 3000);
    if (fd < 0) {
        struct cli_where where = {.endpoint = o->endpoint, .type = SOCK_STREAM};
        cli_fail_at(fd, &where);
    }
    sk_tls *t = NULL;
    int rc = bench_tls_open(run, fd, &t);
    if (rc == SK_ETLS) /* a protocol failure: most often a server that does not speak TLS */
        cli_die(EXIT_RUNTIME, "%s (is %s a TLS server?)", sk_errmsg(), o->endpoint);
    if (rc < 0)
        cli_die(EXIT_RUNTIME, "%s", sk_errmsg());
    if (o->tls.insecure)
        cli_say("--insecure: the server's certificate is NOT verified");
    /* an orderly end: what the server sent after the handshake (TLS 1.3 session tickets) read,
     * and its close_notify awaited, so that our close is no reset the server counts as an error */
    char buf[4096];
    if (sk_tls_shutdown(t, 1000) == 0)
        while (sk_tls_recv(t, buf, sizeof buf, 1000) > 0) {
        }
    sk_tls_close(t);
    close(fd);
}

bool bench_tls_gated(const struct bench_run *run)
{
    return run->tls && run->o->mode == BENCH_ECHO;
}

void bench_tls_gate(struct bench_run *run)
{
    if (!bench_tls_gated(run))
        return;
    pthread_barrier_wait(&run->gate); /* our handshakes are done */
    pthread_barrier_wait(&run->gate); /* the clock is set */
}

void bench_tls_gate_main(struct bench_run *run, void (*set_clock)(struct bench_run *))
{
    uint64_t t0 = ticks_now_ns();
    pthread_barrier_wait(&run->gate);
    if (run->o->co.verbose)
        cli_say("%d TLS handshake%s in %.1f s", run->o->conns, run->o->conns == 1 ? "" : "s",
                (double)(ticks_now_ns() - t0) / 1e9);
    set_clock(run);
    pthread_barrier_wait(&run->gate);
}

int bench_tls_open(struct bench_run *run, int fd, sk_tls **out)
{
    return sk_tls_open(out, run->tls, fd, run->tls_host, BENCH_TLS_TIMEOUT_MS);
}

/* A timeout of 0 makes one attempt: -ETIMEDOUT is what EAGAIN is to a non-blocking socket. */
static ssize_t as_syscall(ssize_t rc)
{
    if (rc >= 0)
        return rc;
    errno = rc == -ETIMEDOUT     ? EAGAIN
            : rc == SK_ETLSTRUNC ? ECONNRESET
            : rc > -3000         ? (int)-rc /* -errno; SK_E* from -3001 */
                                 : EPROTO;
    return -1;
}

ssize_t bench_tls_send(sk_tls *t, const void *buf, size_t len)
{
    return as_syscall(sk_tls_send(t, buf, len, 0));
}

ssize_t bench_tls_recv(sk_tls *t, void *buf, size_t len)
{
    return as_syscall(sk_tls_recv(t, buf, len, 0));
}

void bench_tls_close(sk_tls *t)
{
    if (t)
        sk_tls_shutdown(t, 0); /* one try: a full send buffer at the end is not worth a wait */
    sk_tls_close(t);
}

static bool resumed(const sk_tls *t)
{
    sk_tls_info i = SK_TLS_INFO_INIT;
    return sk_tls_get_info(t, &i) == 0 && i.resumed;
}

bool bench_tls_exchange(struct bench_worker *w, int fd, const void *out, void *in, size_t size)
{
    struct bench_run *run = w->run;
    sk_tls *t = NULL;
    bool ok = bench_tls_open(run, fd, &t) == 0 &&
              sk_tls_send_all(t, out, size, BENCH_TLS_TIMEOUT_MS, NULL) == 0 &&
              sk_tls_recv_exact(t, in, size, BENCH_TLS_TIMEOUT_MS, NULL) == 0;
    /* the 64th, not the first: a worker's first handshake may find no session yet */
    if (ok && run->o->tls_resume && ++w->handshakes % 64 == 0) {
        atomic_fetch_add(&run->tls_sampled, 1);
        if (!resumed(t))
            atomic_fetch_add(&run->tls_full, 1);
    }
    bench_tls_close(t);
    return ok;
}
