/* What sockkit bench echo, connect and stream print: the progress line, the -i intervals and the
 * result, as text (within 80 columns) or in the JSON shape of report.h. */
#include "bench.h"
#include "bitrate.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *unit_word(const struct bench_opts *o)
{
    return o->mode == BENCH_CONNECT ? "connections" : "requests";
}

static const char *direction(const struct bench_opts *o)
{
    return o->bidir ? "both" : o->reverse ? "receive" : "send";
}

/* A paced direction's achieved rate over the requested one. */
static double achieved(const struct bench_opts *o, uint64_t bytes)
{
    return (double)bytes * 8 / (o->duration_ms / 1000.0) / o->bitrate;
}

/* Every paced direction reached BITRATE_KEPT_MIN of the request (true when not paced). */
static bool rate_kept(const struct bench_opts *o, const struct bench_result *res)
{
    return !o->bitrate || (achieved(o, res->bytes) >= BITRATE_KEPT_MIN &&
                           (!o->bidir || achieved(o, res->rx_bytes) >= BITRATE_KEPT_MIN));
}

void bench_report_start(struct report *r, const struct bench_opts *o, const sk_addr *addr, int argc,
                        char **argv)
{
    char command[32], text[SK_ADDRSTRLEN];
    snprintf(command, sizeof command, "bench %s", o->name);
    struct json *j = report_start(r, command, argc, argv);
    json_object(j, "parameters");
    report_str(j, "endpoint", o->endpoint);
    sk_addr_format(addr, text, sizeof text);
    report_str(j, "address", text);
    json_int(j, "connections", o->conns);
    if (o->mode == BENCH_ECHO) {
        json_int(j, "threads", o->threads);
        if (!(o->rate > 0))
            json_int(j, "pipeline", o->pipeline);
    }
    if (o->mode != BENCH_STREAM) {
        json_str(j, "loop", o->rate > 0 ? "open" : "closed");
        if (o->rate > 0)
            json_num(j, "rate_requests_per_second", o->rate);
    }
    json_int(j, "size_bytes", o->size);
    if (o->mode == BENCH_STREAM) {
        json_str(j, "direction", direction(o));
        if (o->bitrate)
            json_num(j, "bitrate_bits_per_second", o->bitrate);
        else
            json_null(j, "bitrate_bits_per_second");
        json_num(j, "pacing_tick_seconds", PACER_TICK_NS / 1e9);
    }
    json_num(j, "duration_seconds", o->duration_ms / 1000.0);
    json_num(j, "warmup_seconds", o->warmup_ms / 1000.0);
    if (o->co.interval_ms)
        json_num(j, "interval_seconds", o->co.interval_ms / 1000.0);
    json_end(j, '}');
    report_start_done(r);
}

static const double percentiles[] = {50, 90, 99, 99.9, 100};

/* name: "latency_us", "latency_uncorrected_us", "lag_us"; hdr: with the histogram itself as
 * "hdr_histogram" (hdrlog.h), for bench merge and HdrHistogram's tools */
static void json_latency(struct json *j, const char *name, const hist *h, bool hdr)
{
    static const char *const names[] = {"p50", "p90", "p99", "p99_9", "max"};
    json_object(j, name);
    json_int(j, "samples", (long long)h->total);
    json_num(j, "min", (double)h->min / 1e3);
    for (size_t i = 0; i < sizeof percentiles / sizeof percentiles[0]; i++)
        json_num(j, names[i], (double)hist_percentile(h, percentiles[i]) / 1e3);
    json_num(j, "mean", hist_mean(h) / 1e3);
    if (hdr) {
        char *b64 = hdr_encode_base64(h);
        if (b64)
            json_str(j, "hdr_histogram", b64);
        free(b64);
    }
    json_end(j, '}');
}

void bench_json_latency(struct json *j, const hist *h)
{
    json_latency(j, "latency_us", h, true);
}

/* The latency fields of a result or an interval: the same names in both. hdr: the result's
 * latency_us carries its histogram (the one bench merge adds up; in the open loop the corrected
 * one). */
static void json_latencies(struct json *j, const struct bench_opts *o, const hist *lat,
                           const hist *unc, const hist *lag, bool hdr)
{
    if (lat->total)
        json_latency(j, "latency_us", lat, hdr);
    if (o->rate > 0 && unc->total)
        json_latency(j, "latency_uncorrected_us", unc, false);
    if (o->rate > 0 && lag->total)
        json_latency(j, "lag_us", lag, false);
}

/* An open-loop interval as text: the count, the rate and both p99s, within 80 columns. */
static void text_open_interval(bool warmup, double a, double b, uint64_t count,
                               const struct bench_hists *iv)
{
    char c99[32] = "-", u99[32] = "-";
    if (iv->lat.total)
        hist_format_ns(c99, sizeof c99, (double)hist_percentile(&iv->lat, 99));
    if (iv->unc.total)
        hist_format_ns(u99, sizeof u99, (double)hist_percentile(&iv->unc, 99));
    printf("%-7s %6.2f-%6.2f s %7llu %7.0f/s p99 %s (uncorrected %s)\n", warmup ? "warm-up" : "", a,
           b, (unsigned long long)count, (double)count / (b - a), c99, u99);
}

/* One direction of a --bidir interval or result: {"bytes", "bits_per_second"}. */
static void json_direction(struct json *j, const char *name, uint64_t bytes, double secs)
{
    json_object(j, name);
    json_int(j, "bytes", (long long)bytes);
    json_num(j, "bits_per_second", (double)bytes * 8 / secs);
    json_end(j, '}');
}

static void text_stream_interval(bool warmup, bool bidir, double a, double b, uint64_t count,
                                 uint64_t count_rx)
{
    double secs = b - a;
    char rate[32];
    bitrate_format(rate, sizeof rate, (double)count * 8 / secs);
    printf("%-8s %7.2f-%7.2f s %15llu bytes %15s%s\n", warmup ? "warm-up" : "", a, b,
           (unsigned long long)count, rate, bidir ? " sent" : "");
    if (bidir) {
        bitrate_format(rate, sizeof rate, (double)count_rx * 8 / secs);
        printf("%-8s %7.2f-%7.2f s %15llu bytes %15s received\n", warmup ? "warm-up" : "", a, b,
               (unsigned long long)count_rx, rate);
    }
}

void bench_report_interval(struct report *r, const struct bench_opts *o, bool warmup,
                           uint64_t from_ns, uint64_t to_ns, uint64_t count, uint64_t count_rx,
                           const struct bench_hists *iv)
{
    double a = (double)from_ns / 1e9, b = (double)to_ns / 1e9, secs = b - a;
    bool stream = o->mode == BENCH_STREAM;
    double bits = (double)(stream ? count + count_rx : count * (uint64_t)o->size) * 8;
    if (!report_is_json(r)) {
        if (o->rate > 0)
            text_open_interval(warmup, a, b, count, iv);
        else if (stream)
            text_stream_interval(warmup, o->bidir, a, b, count, count_rx);
        else
            printf("%-8s %7.2f-%7.2f s %11llu %-11s %11.0f/s\n", warmup ? "warm-up" : "", a, b,
                   (unsigned long long)count, unit_word(o), (double)count / secs);
        fflush(stdout);
        return;
    }
    struct json *j = report_interval(r);
    json_bool(j, "warmup", warmup);
    json_num(j, "start_seconds", a);
    json_num(j, "end_seconds", b);
    json_num(j, "seconds", secs);
    if (stream) {
        json_int(j, "bytes", (long long)(count + count_rx));
        if (o->bidir) {
            json_direction(j, "send", count, secs);
            json_direction(j, "receive", count_rx, secs);
        }
    } else {
        json_int(j, "requests", (long long)count);
        json_num(j, "requests_per_second", (double)count / secs);
    }
    json_num(j, "bits_per_second", bits / secs);
    if (!stream)
        json_latencies(j, o, &iv->lat, &iv->unc, &iv->lag, false);
    report_interval_done(r);
}

void bench_progress(const struct bench_opts *o, bool warmup, uint64_t at_ns, double per_s)
{
    char rate[32];
    if (o->mode == BENCH_STREAM) {
        bitrate_format(rate, sizeof rate, per_s * 8);
        fprintf(stderr, "\r%-9s %6.1f s %15s ", warmup ? "warm-up" : "measuring",
                (double)at_ns / 1e9, rate);
    } else
        fprintf(stderr, "\r%-9s %6.1f s %12.0f %s/s ", warmup ? "warm-up" : "measuring",
                (double)at_ns / 1e9, per_s, o->mode == BENCH_CONNECT ? "conn" : "req");
    fflush(stderr);
}

void bench_progress_clear(void)
{
    fprintf(stderr, "\r%60s\r", "");
}

bool bench_schedule_kept(const struct bench_opts *o, const struct bench_result *res)
{
    return res->sent >= res->scheduled && (double)res->sent / res->sent_seconds >= 0.99 * o->rate;
}

bool bench_generator_late(const struct bench_result *res)
{
    return hist_percentile(&res->lag, 99) > BENCH_LAG_OK_NS;
}

/* The open loop's schedule: asked, sent, answered, and whether it was kept. */
static void json_schedule(struct json *j, const struct bench_opts *o,
                          const struct bench_result *res)
{
    json_num(j, "rate_requests_per_second", o->rate);
    json_int(j, "scheduled", (long long)res->scheduled);
    json_int(j, "sent", (long long)res->sent);
    json_num(j, "sent_per_second", (double)res->sent / res->sent_seconds);
    json_num(j, "sent_seconds", res->sent_seconds);
    json_int(j, "unanswered", (long long)(res->sent - res->requests));
    json_int(j, "full_connections", (long long)res->full);
    json_int(j, "warmup_unsent", (long long)res->warmup_unsent);
    json_bool(j, "schedule_kept", bench_schedule_kept(o, res));
    json_bool(j, "generator_late", bench_generator_late(res));
}

/* What the end's rates are over: the measurement, or for the open loop the time its replies took,
 * which a server (or generator) that fell behind makes longer. Requests/s and bits/s alike. */
static double rate_seconds(const struct bench_opts *o, const struct bench_result *res)
{
    return o->mode != BENCH_STREAM && o->rate > 0 ? res->done_seconds : o->duration_ms / 1000.0;
}

static void json_end_object(struct report *r, const struct bench_opts *o,
                            const struct bench_result *res)
{
    double secs = o->duration_ms / 1000.0;
    struct json *j = report_end(r);
    if (o->mode == BENCH_STREAM)
        json_str(j, "direction", direction(o));
    json_num(j, "seconds", secs);
    json_num(j, "warmup_seconds", o->warmup_ms / 1000.0);
    if (o->mode != BENCH_STREAM) {
        json_int(j, "requests", (long long)res->requests);
        json_num(j, "requests_per_second", (double)res->requests / rate_seconds(o, res));
        if (o->rate > 0)
            json_num(j, "answered_seconds", res->done_seconds);
    }
    json_int(j, "bytes", (long long)(res->bytes + res->rx_bytes));
    json_num(j, "bits_per_second", (double)(res->bytes + res->rx_bytes) * 8 / rate_seconds(o, res));
    if (o->bidir) {
        json_direction(j, "send", res->bytes, secs);
        json_direction(j, "receive", res->rx_bytes, secs);
    }
    if (o->mode == BENCH_STREAM && o->bitrate) {
        json_num(j, "requested_bits_per_second", o->bitrate);
        json_bool(j, "rate_kept", rate_kept(o, res));
    } else if (o->mode == BENCH_STREAM) {
        json_null(j, "requested_bits_per_second");
        json_null(j, "rate_kept");
    }
    json_int(j, "errors", (long long)res->errors);
    if (res->error)
        report_str(j, "first_error", res->error);
    if (o->mode == BENCH_ECHO)
        json_int(j, "starved_connections", (long long)res->starved);
    if (o->rate > 0)
        json_schedule(j, o, res);
    if (o->mode != BENCH_STREAM) /* stream times nothing: no latency at all */
        json_latencies(j, o, &res->h, &res->unc, &res->lag, true);
    json_object(j, "cpu");
    json_num(j, "user_seconds", res->user_s);
    json_num(j, "system_seconds", res->sys_s);
    json_num(j, "wall_seconds", res->wall_s);
    json_end(j, '}');
    report_finish(r);
}

/* A row of the latency table: the label (in a column `width` wide), then the percentiles and the
 * mean. */
static void text_latency_row(int width, const char *label, const hist *h)
{
    printf("%-*s", width, label);
    for (size_t i = 0; i < sizeof percentiles / sizeof percentiles[0]; i++) {
        char v[32];
        hist_format_ns(v, sizeof v, (double)hist_percentile(h, percentiles[i]));
        printf("%10s", v);
    }
    char v[32];
    hist_format_ns(v, sizeof v, hist_mean(h));
    printf("%10s\n", v);
}

/* The open loop's latencies (corrected and not) and the generator's lag, one row each. */
static void text_open_latency(const struct bench_result *res)
{
    if (!res->h.total)
        return;
    printf("%-13s%10s%10s%10s%10s%10s%10s\n", "latency", "p50", "p90", "p99", "p99.9", "max",
           "mean");
    if (res->h.total)
        text_latency_row(13, "  corrected", &res->h);
    if (res->unc.total)
        text_latency_row(13, "  uncorrected", &res->unc);
    if (res->lag.total)
        text_latency_row(13, "  sender lag", &res->lag);
}

/* The open loop's schedule, and plainly whether the generator kept it. */
static void text_schedule(const struct bench_opts *o, const struct bench_result *res)
{
    /* one line where it fits 80 columns; large counts break it after "asked," */
    char line[160];
    unsigned long long sent = res->sent, sched = res->scheduled, unans = res->sent - res->requests;
    double per_s = (double)res->sent / res->sent_seconds;
    int len = snprintf(line, sizeof line,
                       "sent: %llu of %llu scheduled (%.0f/s asked, %.0f/s sent), "
                       "%llu unanswered",
                       sent, sched, o->rate, per_s, unans);
    if (len > 80)
        snprintf(line, sizeof line,
                 "sent: %llu of %llu scheduled (%.0f/s asked,\n  %.0f/s sent), "
                 "%llu unanswered",
                 sent, sched, o->rate, per_s, unans);
    puts(line);
    char p99[32], max[32];
    hist_format_ns(p99, sizeof p99, (double)hist_percentile(&res->lag, 99));
    hist_format_ns(max, sizeof max, (double)res->lag.max);
    if (bench_schedule_kept(o, res) && !bench_generator_late(res))
        printf("schedule kept: every request sent, %s late at p99 (max %s)\n", p99, max);
    else if (bench_schedule_kept(o, res))
        printf("schedule kept, but LATE: the generator sent %s late at p99 (max %s);\n"
               "  that much of its own delay is in the corrected latencies (a busy machine?)\n",
               p99, max);
    else
        printf("SCHEDULE NOT KEPT: the generator could not send %.0f requests/s on time:\n"
               "  %llu of %llu sent, %s late at p99 (max %s);\n"
               "  the corrected latencies include its own lag (fewer connections per\n"
               "  thread, more --threads, or a lower --rate)\n",
               o->rate, (unsigned long long)res->sent, (unsigned long long)res->scheduled, p99,
               max);
    if (res->full)
        printf("  %llu connection%s had %d requests in flight, the most one holds: the\n"
               "  server fell behind, and the schedule waited for it\n",
               (unsigned long long)res->full, res->full == 1 ? "" : "s", BENCH_MAX_PIPE);
    if (res->warmup_unsent)
        printf("  %llu warm-up request%s still unsent when measuring began: dropped (not\n"
               "  measured), so the measurement's own schedule started whole\n",
               (unsigned long long)res->warmup_unsent, res->warmup_unsent == 1 ? "" : "s");
}

/* The latency line as a small table, so it fits 80 columns whatever the units. */
void bench_text_latency(const hist *h)
{
    printf("latency %10s%10s%10s%10s%10s%10s\n", "p50", "p90", "p99", "p99.9", "max", "mean");
    text_latency_row(8, "", h);
}

static void text_header(const struct bench_opts *o)
{
    printf("bench %s %s\n", o->name, o->endpoint);
    if (o->mode == BENCH_STREAM)
        printf("  %d connection%s, %d-byte %s\n", o->conns, o->conns == 1 ? "" : "s", o->size,
               o->bidir     ? "writes and reads (both directions at once)"
               : o->reverse ? "reads (receiving from the server)"
                            : "writes (sending to the server)");
    else if (o->mode == BENCH_ECHO && o->rate > 0)
        printf("  %d connection%s on %d thread%s, %d-byte messages, open loop at %.0f/s\n",
               o->conns, o->conns == 1 ? "" : "s", o->threads, o->threads == 1 ? "" : "s", o->size,
               o->rate);
    else if (o->mode == BENCH_ECHO)
        printf("  %d connection%s on %d thread%s, %d-byte messages, pipeline %d\n", o->conns,
               o->conns == 1 ? "" : "s", o->threads, o->threads == 1 ? "" : "s", o->size,
               o->pipeline);
    else if (o->rate > 0)
        printf("  %d worker%s, %d-byte messages, open loop at %.0f/s\n", o->conns,
               o->conns == 1 ? "" : "s", o->size, o->rate);
    else
        printf("  %d worker%s, %d-byte messages\n", o->conns, o->conns == 1 ? "" : "s", o->size);
    printf("  %.1f s measured after %.1f s warm-up\n", o->duration_ms / 1000.0,
           o->warmup_ms / 1000.0);
}

/* The paced rate against what was achieved, and a plain line when the machine fell short. */
static void text_paced(const struct bench_opts *o, const struct bench_result *res)
{
    if (!o->bitrate)
        return;
    char want[32];
    bitrate_format(want, sizeof want, o->bitrate);
    printf("paced: %s requested (1 ms token bucket), achieved %.1f%%", want,
           100 * achieved(o, res->bytes));
    if (o->bidir)
        printf(" sent, %.1f%% received", 100 * achieved(o, res->rx_bytes));
    printf("\n");
    if (!rate_kept(o, res))
        printf("  the requested rate was NOT kept: this machine (or the peer) could not move %s\n",
               want);
}

static void text_end(const struct bench_opts *o, const struct bench_result *res)
{
    double secs = o->duration_ms / 1000.0, over = rate_seconds(o, res),
           mbps = (double)res->bytes * 8 / over / 1e6;
    text_header(o);
    if (o->mode == BENCH_STREAM && o->bidir) {
        char sent[32], got[32];
        bitrate_format(sent, sizeof sent, mbps * 1e6);
        bitrate_format(got, sizeof got, (double)res->rx_bytes * 8 / secs);
        printf("sent:     %s (%llu bytes)\n", sent, (unsigned long long)res->bytes);
        printf("received: %s (%llu bytes), %llu error%s\n", got, (unsigned long long)res->rx_bytes,
               (unsigned long long)res->errors, res->errors == 1 ? "" : "s");
        text_paced(o, res);
    } else if (o->mode == BENCH_STREAM) {
        char rate[32];
        bitrate_format(rate, sizeof rate, mbps * 1e6);
        printf("throughput: %s (%llu bytes), %llu error%s\n", rate, (unsigned long long)res->bytes,
               (unsigned long long)res->errors, res->errors == 1 ? "" : "s");
        text_paced(o, res);
    }
    if (o->mode == BENCH_STREAM) {
        /* the usual mistake: a server that only reads (sink, echo waiting for input) */
        if (o->bidir && !res->rx_bytes)
            printf("  nothing came back: the server sent nothing (--bidir wants one that\n"
                   "  echoes or sends, as 'sockkit serve echo' or 'serve source')\n");
        else if (o->reverse && !o->bidir && !res->bytes && !res->errors)
            printf("  nothing came: the server sent nothing (-R wants one that sends, as\n"
                   "  'sockkit serve source')\n");
    } else {
        printf("%s: %llu (%.0f/s), %.1f Mbit/s each way, %llu error%s\n", unit_word(o),
               (unsigned long long)res->requests, (double)res->requests / over, mbps,
               (unsigned long long)res->errors, res->errors == 1 ? "" : "s");
        if (res->starved)
            printf("starved: %llu of %d connections got no reply while measuring\n"
                   "  (their requests are not in the numbers above)\n",
                   (unsigned long long)res->starved, o->conns);
        if (o->mode == BENCH_ECHO && !res->requests && res->starved && !res->errors)
            printf("  no reply came at all: the server took the requests and answered none\n"
                   "  (does it echo? 'sockkit serve echo' does; 'serve sink' only reads)\n");
        if (o->rate > 0) {
            text_schedule(o, res);
            text_open_latency(res);
        } else if (res->h.total) {
            bench_text_latency(&res->h);
        }
        if (o->chart)
            hist_chart(&res->h, stdout, 16);
    }
    printf("cpu: this process used %.2f s user + %.2f s system in %.2f s\n"
           "  (%.0f%% of one core)\n",
           res->user_s, res->sys_s, res->wall_s,
           res->wall_s > 0 ? 100 * (res->user_s + res->sys_s) / res->wall_s : 0.0);
}

static void svg(const struct bench_opts *o, const struct bench_result *res)
{
    char title[256], sub[256], p50[32], p99[32];
    hist_format_ns(p50, sizeof p50, (double)hist_percentile(&res->h, 50));
    hist_format_ns(p99, sizeof p99, (double)hist_percentile(&res->h, 99));
    snprintf(title, sizeof title, "sockkit bench %s %s", o->name, o->endpoint);
    snprintf(sub, sizeof sub, "%d connection%s, %d-byte messages, %llu samples: p50 %s, p99 %s%s",
             o->conns, o->conns == 1 ? "" : "s", o->size, (unsigned long long)res->h.total, p50,
             p99, o->rate > 0 ? " (open loop, from the intended send time)" : "");
    if (hist_svg(&res->h, o->svg, title, sub) < 0)
        cli_die(EXIT_RUNTIME, "--svg %s: %s", o->svg, strerror(errno));
}

void bench_report_end(struct report *r, const struct bench_opts *o, const struct bench_result *res)
{
    if (!rate_kept(o, res) && !o->co.quiet && report_is_json(r))
        cli_say("the requested rate was not kept (see rate_kept in the report)");
    if (report_is_json(r))
        json_end_object(r, o, res);
    else
        text_end(o, res);
    if (o->svg)
        svg(o, res);
}
