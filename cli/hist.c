/* The latency histogram of sockkit bench: log-linear buckets, percentiles, a terminal chart and an
 * SVG plot. */
#include "hist.h"

#include <errno.h>
#include <math.h>
#include <string.h>

void hist_init(hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

int hist_bucket_of(uint64_t v)
{
    if (v < 256)
        return (int)v;
    int msb = 63 - __builtin_clzll(v);
    int e = msb - 7; /* v >> e lies in [128, 256) */
    if (e > 33)
        return HIST_BUCKETS - 1;
    return 256 + (e - 1) * HIST_SUB + (int)((v >> e) - 128);
}

void hist_bucket_range(int i, uint64_t *lo, uint64_t *hi)
{
    if (i < 256) {
        *lo = (uint64_t)i;
        *hi = (uint64_t)i + 1;
        return;
    }
    int e = (i - 256) / HIST_SUB + 1;
    uint64_t sub = (uint64_t)((i - 256) % HIST_SUB) + 128;
    *lo = sub << e;
    *hi = (sub + 1) << e;
}

void hist_add(hist *h, uint64_t ns)
{
    h->count[hist_bucket_of(ns)]++;
    h->total++;
    h->sum += ns;
    if (ns < h->min)
        h->min = ns;
    if (ns > h->max)
        h->max = ns;
}

void hist_merge(hist *into, const hist *from)
{
    for (int i = 0; i < HIST_BUCKETS; i++)
        into->count[i] += from->count[i];
    into->total += from->total;
    into->sum += from->sum;
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
}

uint64_t hist_percentile(const hist *h, double p)
{
    if (!h->total)
        return 0;
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->total);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= rank) {
            uint64_t lo, hi;
            hist_bucket_range(i, &lo, &hi);
            uint64_t mid = i < 256 ? lo : lo + (hi - lo) / 2;
            return mid < h->min ? h->min : mid > h->max ? h->max : mid;
        }
    }
    return h->max;
}

double hist_mean(const hist *h)
{
    return h->total ? (double)(h->sum / h->total) : 0;
}

void hist_format_ns(char *buf, size_t len, double ns)
{
    if (ns < 1e3)
        snprintf(buf, len, "%.0f ns", ns);
    else if (ns < 999.95e3)
        snprintf(buf, len, "%.1f us", ns / 1e3);
    else if (ns < 999.995e6)
        snprintf(buf, len, "%.2f ms", ns / 1e6);
    else
        snprintf(buf, len, "%.2f s", ns / 1e9);
}

/* The share of samples up to here, truncated (not rounded) so it reads 100% only when it is. */
static void cumulative(char *buf, size_t len, uint64_t upto, uint64_t total)
{
    if (upto == total) {
        snprintf(buf, len, "100%%");
        return;
    }
    double p = 100.0 * (double)upto / (double)total;
    int decimals = p < 99.99 ? 2 : p < 99.9999 ? 4 : 6;
    double scale = pow(10, decimals);
    snprintf(buf, len, "%.*f%%", decimals, floor(p * scale) / scale);
}

enum { CHART_BAR = 30 }; /* 2 + 9 + 3 + 9 + 10 + 10 + 2 + 30 = 75 columns */

void hist_chart(const hist *h, FILE *out, int rows)
{
    if (!h->total)
        return;
    double lo = log((double)(h->min ? h->min : 1)), hi = log((double)h->max + 1);
    if (hi - lo < 1e-9)
        hi = lo + 1e-9;
    uint64_t counts[64] = {0}, peak = 1, upto = 0;
    if (rows > 64)
        rows = 64;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        if (!h->count[i])
            continue;
        uint64_t a, b;
        hist_bucket_range(i, &a, &b);
        int r = (int)((log((double)(a ? a : 1)) - lo) / (hi - lo) * rows);
        r = r < 0 ? 0 : r >= rows ? rows - 1 : r;
        counts[r] += h->count[i];
    }
    for (int r = 0; r < rows; r++)
        if (counts[r] > peak)
            peak = counts[r];
    fprintf(out, "latency distribution (%llu samples):\n", (unsigned long long)h->total);
    fprintf(out, "  %9s   %-9s %9s %9s\n", "from", "to", "count", "up to");
    for (int r = 0; r < rows; r++) {
        char a[32], b[32], cum[32];
        hist_format_ns(a, sizeof a, exp(lo + (hi - lo) * r / rows));
        hist_format_ns(b, sizeof b, exp(lo + (hi - lo) * (r + 1) / rows));
        upto += counts[r];
        cumulative(cum, sizeof cum, upto, h->total);
        int w = (int)((double)counts[r] / (double)peak * CHART_BAR + 0.5);
        if (counts[r] && !w)
            w = 1; /* the tail stays visible */
        fprintf(out, "  %9s - %-9s %9llu %9s |", a, b, (unsigned long long)counts[r], cum);
        for (int k = 0; k < w; k++)
            fputc('#', out);
        fputc('\n', out);
    }
}

/* Text for SVG: &, < and > escaped. */
static void svg_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else
            fputc(*s, f);
    }
}

/* A line of text at the top left; one too long for `room` pixels (a long endpoint) is squeezed
 * to fit rather than clipped. */
static void svg_line(FILE *f, const char *text, int y, int size, int room)
{
    fprintf(f, "<text x=\"16\" y=\"%d\" font-size=\"%d\"", y, size);
    if (0.6 * size * (double)strlen(text) > room) /* about 0.6 em a character in sans-serif */
        fprintf(f, " textLength=\"%d\" lengthAdjust=\"spacingAndGlyphs\"", room);
    fputc('>', f);
    svg_text(f, text);
    fprintf(f, "</text>\n");
}

/* A round step (1, 2 or 5 times a power of ten) giving about `ticks` intervals up to max. */
static double nice_step(double max, int ticks)
{
    double raw = max / ticks, mag = pow(10, floor(log10(raw))), r = raw / mag;
    return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
}

struct plot {
    FILE *f;
    double x0, y0, w, h; /* the plot area: left, bottom, width, height */
    double xmax, ymax;   /* nines, and latency in the y unit */
};

static double px(const struct plot *p, double nines)
{
    return p->x0 + p->w * nines / p->xmax;
}

static double py(const struct plot *p, double v)
{
    return p->y0 - p->h * v / p->ymax;
}

/* "90%", "99%", "99.9%", ...: the percentile with k nines. */
static void nines_label(char *buf, size_t len, int k)
{
    if (k == 1) {
        snprintf(buf, len, "90%%");
        return;
    }
    size_t n = (size_t)snprintf(buf, len, "99%s", k > 2 ? "." : "");
    for (int i = 2; i < k && n + 2 < len; i++)
        buf[n++] = '9';
    snprintf(buf + n, len - n, "%%");
}

static void x_tick(const struct plot *p, double nines, const char *label)
{
    fprintf(p->f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
            px(p, nines), p->y0 - p->h, px(p, nines), p->y0, px(p, nines), p->y0 + 18, label);
}

/* x: a tick at 0%, 50% and each whole number of nines (90%, 99%, 99.9%, ...). */
static void x_axis(const struct plot *p)
{
    x_tick(p, 0, "0%");
    x_tick(p, log10(2), "50%");
    for (int k = 1; k <= (int)floor(p->xmax + 1e-9) && k <= 12; k++) {
        char label[32];
        nines_label(label, sizeof label, k);
        x_tick(p, k, label);
    }
    fprintf(p->f,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">percentile (log scale of "
            "1/(1 - percentile))</text>\n",
            p->x0 + p->w / 2, p->y0 + 42);
}

/* y: round ticks from 0, and the title with the unit. */
static void y_axis(const struct plot *p, double step, const char *unit)
{
    for (double v = 0; v <= p->ymax + step / 2; v += step)
        fprintf(p->f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                p->x0, py(p, v), p->x0 + p->w, py(p, v), p->x0 - 6, py(p, v) + 4, v);
    fprintf(p->f,
            "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" text-anchor=\"middle\">"
            "latency (%s)</text>\n",
            p->x0 - 62, p->y0 - p->h / 2, unit);
}

int hist_svg(const hist *h, const char *path, const char *title, const char *subtitle)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    const int W = 800, H = 480;
    /* the highest percentile the samples support: 1 - 1/n, as nines (at least 90%) */
    double xmax = h->total > 10 ? log10((double)h->total) : 1;
    double top = (double)hist_percentile(h, 100);
    double scale = top < 1e6 ? 1e3 : top < 1e9 ? 1e6 : 1e9;
    const char *unit = top < 1e6 ? "us" : top < 1e9 ? "ms" : "s";
    double step = nice_step(top / scale > 0 ? top / scale : 1, 5);
    struct plot p = {f, 100, H - 70, W - 100 - 50, H - 70 - 80, xmax, 0};
    p.ymax = ceil(top / scale / step) * step;
    if (p.ymax <= 0)
        p.ymax = step;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H);
    svg_line(f, title, 26, 15, W - 32);
    svg_line(f, subtitle, 48, 12, W - 32);
    x_axis(&p);
    y_axis(&p, step, unit);
    fprintf(f, "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"");
    for (int s = 0; s <= 400; s++) {
        double nines = xmax * s / 400.0, q = 100.0 * (1 - pow(10, -nines));
        fprintf(f, "%.1f,%.1f ", px(&p, nines), py(&p, (double)hist_percentile(h, q) / scale));
    }
    fprintf(f,
            "\"/>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"black\"/>\n</svg>\n",
            p.x0, p.y0 - p.h, p.w, p.h);
    return fclose(f) == 0 ? 0 : -errno;
}
