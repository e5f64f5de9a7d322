/* sockkit bench --hdr-log FILE: the latency histograms of the measurement in HdrHistogram's
 * interval log (hdrlog.h), one line per interval (-i, or 1 s) and the total. The workers add to
 * their histograms under their lock; an interval is what they added since the previous one. */
#include "bench.h"
#include "hdrlog.h"
#include "ticks.h"

#include <stdlib.h>
#include <string.h>

/* The endpoint as the log's comment line may carry it: printable, no ']'. */
static void printable(char *out, size_t cap, const char *in)
{
    size_t n = 0;
    for (; *in && n + 1 < cap; in++)
        out[n++] = (*in >= 0x20 && *in < 0x7f && *in != ']') ? *in : '?';
    out[n] = '\0';
}

void bench_hdr_open(struct bench_run *run)
{
    const struct bench_opts *o = run->o;
    if (!o->hdr_log)
        return;
    char what[512], ep[256];
    printable(ep, sizeof ep, o->endpoint);
    snprintf(what, sizeof what,
             "sockkit bench %s, size_bytes %d, connections %d, threads %d, pipeline %d, "
             "loop %s, endpoint %s",
             o->name, o->size, o->conns, o->threads, o->pipeline, o->rate > 0 ? "open" : "closed",
             ep);
    run->hdr = calloc(1, sizeof *run->hdr);
    if (!run->hdr)
        cli_die(EXIT_RUNTIME, "out of memory");
    uint64_t now = ticks_now_ns();
    int rc =
        hdr_log_open(run->hdr, o->hdr_log, what, run->t_measure > now ? run->t_measure - now : 0);
    if (rc < 0)
        cli_die(EXIT_USAGE, "--hdr-log %s: %s", o->hdr_log, strerror(-rc));
}

/* The workers' histograms so far, added up. */
static void snapshot(struct bench_worker *w, int n, hist *into)
{
    hist_init(into);
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&w[i].lock);
        hist_merge(into, &w[i].h);
        pthread_mutex_unlock(&w[i].lock);
    }
}

void bench_hdr_tick(struct bench_run *run, struct bench_worker *w, uint64_t from_ns, uint64_t to_ns)
{
    if (!run->hdr)
        return;
    hist *now = malloc(sizeof *now);
    if (!now)
        return;
    snapshot(w, run->o->threads, now);
    hdr_log_interval(run->hdr, now, (double)from_ns / 1e9, (double)(to_ns - from_ns) / 1e9);
    run->hdr_from = to_ns;
    free(now);
}

void bench_hdr_close(struct bench_run *run, const struct bench_result *res)
{
    if (!run->hdr)
        return;
    double secs = run->o->duration_ms / 1000.0;
    /* the last interval after the joins, so that it holds every sample the workers added */
    hdr_log_interval(run->hdr, &res->h, (double)run->hdr_from / 1e9,
                     secs - (double)run->hdr_from / 1e9);
    int rc = hdr_log_close(run->hdr, &res->h, secs);
    free(run->hdr);
    run->hdr = NULL;
    if (rc < 0)
        cli_die(EXIT_RUNTIME, "--hdr-log %s: %s", run->o->hdr_log, strerror(-rc));
}
