/* sockkit bench merge FILE...: the --hdr-log logs or --json results of several bench processes
 * (on one machine or many) as one report. The histograms are added bucket by bucket, so the
 * percentiles are those of the union of the samples, not averages of each file's percentiles.
 * Files of different modes or message sizes measure different things: refused, naming both. */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>

enum { MERGE_MAX_BYTES = 256 << 20 };

static const struct cli_opt merge_opts[] = {
    {O_MERGE_NOCHART, "no-chart", CLI_NOARG, NULL, "no latency histogram in the report", NULL},
    CLI_OPT_JSON,
    CLI_OPT_NO_TRACE,
    CLI_OPT_HELP,
    CLI_OPT_END,
};

const struct cli_cmd cli_cmd_bench_merge = {
    .name = "bench merge",
    .summary = "one report from the --hdr-log logs or --json results of several generators",
    .synopsis = "[options] FILE...",
    .about = "Adds up the latency histograms of bench echo or connect runs (their --hdr-log\n"
             "logs or --json results, on one machine or many) and reports the requests and the\n"
             "exact percentiles of all their samples together. The files must come from the\n"
             "same mode and message size, and all from open loops (--rate) or all from closed.",
    .opts = merge_opts,
    .footer = "Exit status 2 for a damaged, cut-off or mismatched file (one line naming it and\n"
              "the line), 1 for one that cannot be read.",
};

struct merge_file {
    const char *path;
    struct hdr_run run;
    uint64_t samples;
};

/* The whole file, NUL-terminated. One that cannot be opened (missing, a directory, not
 * readable) is bad input, exit 2 (cli_open_file); a read error exits 1. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fdopen(cli_open_file(NULL, path, O_RDONLY, 0), "rb");
    if (!f)
        cli_die(EXIT_RUNTIME, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (size_t k; buf && (k = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += k;
        if (n == cap && cap < MERGE_MAX_BYTES) {
            cap *= 2;
            char *more = realloc(buf, cap + 1);
            if (!more)
                free(buf);
            buf = more;
        } else if (n == cap) {
            cli_die(EXIT_USAGE, "%s: larger than %d MiB: not a bench log", path,
                    MERGE_MAX_BYTES >> 20);
        }
    }
    if (!buf)
        cli_die(EXIT_RUNTIME, "out of memory");
    if (ferror(f))
        cli_die(EXIT_RUNTIME, "%s: %s", path, strerror(errno));
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void read_one(struct merge_file *mf, hist *h)
{
    size_t len;
    char *text = slurp(mf->path, &len), why[256];
    if (hdr_read(text, len, h, &mf->run, why, sizeof why) < 0)
        cli_die(EXIT_USAGE, "%s: %s", mf->path, why);
    free(text);
    mf->samples = h->total;
}

/* Same mode and size as the first file, and the same loop where both say which, or exit 2
 * naming both: an open loop's latencies count from each request's due time, a closed loop's from
 * its send, two different quantities. (An older log does not say its loop.) */
static void same_run(const struct merge_file *first, const struct merge_file *mf)
{
    if (strcmp(first->run.mode, mf->run.mode) || first->run.size != mf->run.size)
        cli_die(EXIT_USAGE,
                "%s is bench %s with %ld-byte messages but %s is bench %s with %ld-byte "
                "messages: merge only files of one mode and size",
                first->path, first->run.mode, first->run.size, mf->path, mf->run.mode,
                mf->run.size);
    if (*first->run.loop && *mf->run.loop && strcmp(first->run.loop, mf->run.loop))
        cli_die(EXIT_USAGE,
                "%s is an %s loop (%s) but %s is a %s loop: their latencies measure different "
                "things (from the due time, from the send); merge only one kind",
                !strcmp(first->run.loop, "open") ? first->path : mf->path, "open", "--rate",
                !strcmp(first->run.loop, "open") ? mf->path : first->path, "closed");
}

/* The loop all the files say they ran ("" when one does not say, or they differ). */
static const char *loop_of(const struct merge_file *mf, int n)
{
    for (int i = 1; i < n; i++)
        if (strcmp(mf[i].run.loop, mf[0].run.loop))
            return "";
    return mf[0].run.loop;
}

/* The files' rates added: they ran side by side (each has its own measured time). */
static double rate_sum(const struct merge_file *mf, int n)
{
    double rate = 0;
    for (int i = 0; i < n; i++)
        rate += mf[i].run.rate;
    return rate;
}

static uint64_t requests_sum(const struct merge_file *mf, int n)
{
    uint64_t total = 0;
    for (int i = 0; i < n; i++)
        total += mf[i].run.requests;
    return total;
}

static void text_report(const struct merge_file *mf, int n, const hist *h, bool chart)
{
    const char *unit = strcmp(mf[0].run.mode, "connect") ? "requests" : "connections";
    printf("bench merge: %d file%s of bench %s, %ld-byte messages\n", n, n == 1 ? "" : "s",
           mf[0].run.mode, mf[0].run.size);
    for (int i = 0; i < n; i++)
        printf("  %s: %llu %s in %.1f s\n", mf[i].path, (unsigned long long)mf[i].run.requests,
               unit, mf[i].run.seconds);
    printf("%s: %llu (%.0f/s, the files' rates added), %llu latency samples\n", unit,
           (unsigned long long)requests_sum(mf, n), rate_sum(mf, n), (unsigned long long)h->total);
    if (h->total)
        bench_text_latency(h);
    if (chart)
        hist_chart(h, stdout, 16);
}

static void json_report(struct report *r, const struct merge_file *mf, int n, const hist *h,
                        int argc, char **argv)
{
    struct json *j = report_start(r, "bench merge", argc, argv);
    json_object(j, "parameters");
    json_array(j, "files");
    for (int i = 0; i < n; i++)
        report_str(j, NULL, mf[i].path);
    json_end(j, ']');
    json_str(j, "mode", mf[0].run.mode);
    json_int(j, "size_bytes", mf[0].run.size);
    if (*loop_of(mf, n))
        json_str(j, "loop", loop_of(mf, n));
    json_end(j, '}');
    report_start_done(r);
    j = report_end(r);
    json_int(j, "requests", (long long)requests_sum(mf, n));
    json_num(j, "requests_per_second", rate_sum(mf, n));
    double longest = 0; /* the measured time of the longest run (a merge of merges reads it) */
    for (int i = 0; i < n; i++)
        longest = mf[i].run.seconds > longest ? mf[i].run.seconds : longest;
    json_num(j, "seconds", longest);
    json_array(j, "files");
    for (int i = 0; i < n; i++) {
        json_object(j, NULL);
        report_str(j, "file", mf[i].path);
        json_int(j, "requests", (long long)mf[i].run.requests);
        json_int(j, "samples", (long long)mf[i].samples);
        json_num(j, "seconds", mf[i].run.seconds);
        json_end(j, '}');
    }
    json_end(j, ']');
    if (h->total)
        bench_json_latency(j, h);
    report_finish(r);
}

int bench_merge(int argc, char **argv)
{
    struct cli_common co = {0};
    struct cli_parser p = CLI_PARSER(&cli_cmd_bench_merge);
    bool chart = true;
    for (int c; (c = cli_next_option(&p, argc, argv, &co)) != -1;) {
        if (c == O_MERGE_NOCHART)
            chart = false;
        else
            cli_bad_option(c, argv);
    }
    int n = argc - optind;
    if (n < 1)
        cli_usage_error("missing FILE (the --hdr-log logs or --json results to merge)");
    struct merge_file *mf = calloc((size_t)n, sizeof *mf);
    hist *total = malloc(sizeof *total), *one = malloc(sizeof *one);
    if (!mf || !total || !one)
        cli_die(EXIT_RUNTIME, "out of memory");
    hist_init(total);
    for (int i = 0; i < n; i++) {
        mf[i].path = argv[optind + i];
        read_one(&mf[i], one);
        same_run(&mf[0], &mf[i]);
        hist_merge(total, one);
    }
    struct report rep;
    report_init(&rep, &co);
    if (report_is_json(&rep))
        json_report(&rep, mf, n, total, argc + 1, argv - 1);
    else
        text_report(mf, n, total, chart);
    free(one);
    free(total);
    free(mf);
    return EXIT_OK;
}
