/* A stream's accounting as text and JSON (see seqreport.h). */
#include "seqreport.h"

#include <math.h>

void seqreport_json(struct json *j, const seqstats *s, uint64_t expected)
{
    seqloss l = seqstats_loss(s, expected);
    double rate = seqstats_rate(s);
    double span = (double)(s->last_rx_ns - s->first_rx_ns) / 1e9;
    json_int(j, "received", (long long)s->received);
    json_int(j, "bytes", (long long)s->bytes);
    json_int(j, "lost", (long long)l.total);
    json_int(j, "lost_before_first", (long long)l.before);
    json_int(j, "lost_after_last", (long long)l.after);
    json_int(j, "reordered", (long long)s->reorder);
    json_int(j, "duplicated", (long long)s->dup);
    if (s->unique) {
        json_int(j, "first_seq", (long long)s->first_seq);
        json_int(j, "lowest_seq", (long long)s->min_seq);
        json_int(j, "highest_seq", (long long)s->max_seq);
    }
    if (s->sent_known)
        json_int(j, "sender_count", (long long)s->sent);
    else
        json_null(j, "sender_count");
    json_num(j, "seconds", s->received ? span : 0.0);
    json_num(j, "packets_per_second", rate);
    json_num(j, "bits_per_second",
             isnan(rate) ? NAN : rate * (double)s->bytes / (double)s->received * 8);
    json_num(j, "jitter_us", s->jitter_ns / 1000.0);
}

void seqreport_text(FILE *out, const seqstats *s, uint64_t expected, const char *indent)
{
    seqloss l = seqstats_loss(s, expected);
    uint64_t want = s->unique + l.total;
    fprintf(out, "%sreceived %llu", indent, (unsigned long long)s->received);
    if (s->unique)
        fprintf(out, " (first seq %llu, highest %llu)", (unsigned long long)s->first_seq,
                (unsigned long long)s->max_seq);
    fprintf(out, "\n%slost %llu (%.2f%%", indent, (unsigned long long)l.total,
            want ? 100.0 * (double)l.total / (double)want : 0.0);
    if (l.before || l.after)
        fprintf(out, ": %llu before the first, %llu after the last", (unsigned long long)l.before,
                (unsigned long long)l.after);
    fprintf(out, ")\n%sreordered %llu, duplicated %llu", indent, (unsigned long long)s->reorder,
            (unsigned long long)s->dup);
    double rate = seqstats_rate(s);
    if (!isnan(rate))
        fprintf(out, ", %.0f/s over %.2f s", rate, (double)(s->last_rx_ns - s->first_rx_ns) / 1e9);
    if (s->received > 1)
        fprintf(out, ", jitter %.1f us", s->jitter_ns / 1000.0);
    fputc('\n', out);
}
