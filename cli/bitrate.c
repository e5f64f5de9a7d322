/* Bitrates: parsing, formatting, and the 1 ms token bucket (see bitrate.h). */
#include "bitrate.h"
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bitrate_parse(const char *text, double *bps)
{
    /* a digit first: strtod would skip blanks, take a sign, "inf", "nan" and hex */
    if (!text || !((*text >= '0' && *text <= '9') || *text == '.') || strpbrk(text, "xX"))
        return -1;
    char *end;
    double v = strtod(text, &end);
    if (end == text || !isfinite(v))
        return -1;
    static const char units[] = "kKmMgGtT";
    static const double scale[] = {1e3, 1e3, 1e6, 1e6, 1e9, 1e9, 1e12, 1e12};
    if (*end) {
        const char *u = strchr(units, *end);
        if (!u || end[1])
            return -1;
        v *= scale[u - units];
    }
    if (!(v >= 1) || v > BITRATE_MAX)
        return -1; /* 0, a fraction of a bit per second, NaN, too much */
    *bps = v;
    return 0;
}

double cli_parse_bitrate(const char *text, const char *what)
{
    double bps;
    if (bitrate_parse(text, &bps) < 0)
        cli_usage_error("%s must be bits per second from 1 to 1T, a number with an optional "
                        "k, M, G or T (decimal: 1M = 1000000), not '%s'",
                        what, text);
    return bps;
}

void bitrate_format(char *buf, size_t len, double bps)
{
    static const char *const names[] = {"bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"};
    int i = 0;
    while (i < 4 && bps >= 1000) {
        bps /= 1000;
        i++;
    }
    int digits = !i ? 0 : bps < 10 ? 3 : bps < 100 ? 2 : 1;
    snprintf(buf, len, "%.*f %s", digits, bps, names[i]);
}

void pacer_init(struct pacer *p, double bits_per_second, uint64_t t0)
{
    *p = (struct pacer){.t0 = t0, .bytes_per_ns = bits_per_second / 8e9};
}

/* What the bucket has allowed by the end of tick k, in all. */
static double allowed_by(const struct pacer *p, uint64_t k)
{
    return (double)(k + 1) * (double)PACER_TICK_NS * p->bytes_per_ns;
}

uint64_t pacer_allowed(const struct pacer *p, uint64_t now)
{
    uint64_t k = now > p->t0 ? (now - p->t0) / PACER_TICK_NS : 0;
    double total = floor(allowed_by(p, k));
    return total > (double)p->done ? (uint64_t)(total - (double)p->done) : 0;
}

uint64_t pacer_next(const struct pacer *p)
{
    /* the first tick k with floor(allowed_by(k)) > done */
    double per_tick = (double)PACER_TICK_NS * p->bytes_per_ns;
    uint64_t k = (uint64_t)floor(((double)p->done + 1) / per_tick);
    k = k ? k - 1 : 0;
    while (floor(allowed_by(p, k)) <= (double)p->done)
        k++;
    return p->t0 + k * PACER_TICK_NS;
}
