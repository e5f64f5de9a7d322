/* What a seqsend sender (bench udp, mcast send) reports while it runs: every interval a progress
 * line on a terminal, an -i line on stdout, or a JSON interval object. */
#ifndef SOCKKIT_CLI_SENDMETER_H
#define SOCKKIT_CLI_SENDMETER_H

#include "report.h"
#include "seqsend.h"
#include "ticks.h"

#include <stdbool.h>
#include <stdint.h>

struct send_meter {
    struct report *rep;
    const struct seqsend *ss;
    struct ticks ticks;
    uint64_t sent_at_tick;
    bool progress; /* the \r line on stderr (a terminal, no -i, no -q, no JSON) */
    bool lines;    /* -i: a line (or JSON object) per interval */
};

/* Set m up for ss (its t_end set) started at t0, reporting through rep as co asks. */
void send_meter_init(struct send_meter *m, struct report *rep, const struct cli_common *co,
                     const struct seqsend *ss, uint64_t t0);
/* seqsend's tick callback (ctx: the meter). */
void send_meter_tick(void *ctx, uint64_t now);
/* The run is over: end the progress line, so the summary starts on a line of its own. */
void send_meter_end(const struct send_meter *m);

#endif
