/* A seqsend sender's interval reports (sendmeter.h). */
#include "sendmeter.h"

#include <stdio.h>
#include <unistd.h>

void send_meter_init(struct send_meter *m, struct report *rep, const struct cli_common *co,
                     const struct seqsend *ss, uint64_t t0)
{
    *m = (struct send_meter){.rep = rep, .ss = ss, .lines = co->interval_ms > 0};
    m->progress = !m->lines && !co->quiet && !report_is_json(rep) && isatty(STDERR_FILENO);
    ticks_init(&m->ticks, t0, ss->t_end,
               m->lines ? (uint64_t)co->interval_ms * 1000000u : 500000000u);
}

void send_meter_tick(void *ctx, uint64_t now)
{
    struct send_meter *m = ctx;
    uint64_t a, b;
    while ((m->progress || m->lines) && ticks_due(&m->ticks, now, &a, &b)) {
        uint64_t n = m->ss->sent - m->sent_at_tick;
        double secs = (double)(b - a) / 1e9;
        m->sent_at_tick = m->ss->sent;
        if (m->progress) {
            fprintf(stderr, "\rsending %7.1f s %10.0f packets/s %12llu sent ", (double)b / 1e9,
                    (double)n / secs, (unsigned long long)m->ss->sent);
        } else if (!report_is_json(m->rep)) {
            printf("%7.2f-%7.2f s  sent %11llu %11.0f/s\n", (double)a / 1e9, (double)b / 1e9,
                   (unsigned long long)n, (double)n / secs);
            fflush(stdout);
        } else {
            struct json *j = report_interval(m->rep);
            json_num(j, "start_seconds", (double)a / 1e9);
            json_num(j, "end_seconds", (double)b / 1e9);
            json_int(j, "packets", (long long)n);
            json_num(j, "packets_per_second", (double)n / secs);
            report_interval_done(m->rep);
        }
    }
}

void send_meter_end(const struct send_meter *m)
{
    if (m->progress)
        fputc('\n', stderr);
}
