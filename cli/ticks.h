/* Interval boundaries for -i and the progress line: every `period` ns from a phase's start, the
 * last one cut at the phase's end (a warm-up of 1.2 s in 0.5 s intervals ends 1.0-1.2). A rest
 * shorter than a tenth of a period joins the interval before it (3.02 s in 1 s intervals ends
 * 2.0-3.02), so no interval is too short for its rate to mean anything. */
#ifndef SOCKKIT_CLI_TICKS_H
#define SOCKKIT_CLI_TICKS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct ticks {
    uint64_t start, end; /* the phase; end UINT64_MAX: open-ended */
    uint64_t period;
    uint64_t from, next; /* the current interval */
};

static inline uint64_t ticks_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Where the interval starting at t->from ends. */
static inline uint64_t ticks_next(const struct ticks *t)
{
    uint64_t left = t->end - t->from;
    return left > t->period && left - t->period > t->period / 10 ? t->from + t->period : t->end;
}

static inline void ticks_init(struct ticks *t, uint64_t start, uint64_t end, uint64_t period)
{
    *t = (struct ticks){.start = start, .end = end, .period = period, .from = start};
    t->next = ticks_next(t);
}

/* The current interval has ended by `now`: *from and *to are its bounds (ns since the phase
 * began), and the next one starts. */
static inline bool ticks_due(struct ticks *t, uint64_t now, uint64_t *from, uint64_t *to)
{
    if (now < t->next || t->from >= t->end)
        return false;
    *from = t->from - t->start;
    *to = t->next - t->start;
    t->from = t->next;
    t->next = ticks_next(t);
    return true;
}

#endif
