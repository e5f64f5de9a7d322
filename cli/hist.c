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

static void fmt_ns(char *buf, size_t len, double ns)
{
    if (ns < 1e3)
        snprintf(buf, len, "%.0f ns", ns);
    else if (ns < 1e6)
        snprintf(buf, len, "%.1f us", ns / 1e3);
    else if (ns < 1e9)
        snprintf(buf, len, "%.2f ms", ns / 1e6);
    else
        snprintf(buf, len, "%.2f s", ns / 1e9);
}

void hist_chart(const hist *h, FILE *out, int rows)
{
    if (!h->total)
        return;
    double lo = log((double)(h->min ? h->min : 1)), hi = log((double)h->max + 1);
    if (hi - lo < 1e-9)
        hi = lo + 1e-9;
    uint64_t counts[64] = {0}, peak = 1;
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
    for (int r = 0; r < rows; r++) {
        char a[32], b[32];
        fmt_ns(a, sizeof a, exp(lo + (hi - lo) * r / rows));
        fmt_ns(b, sizeof b, exp(lo + (hi - lo) * (r + 1) / rows));
        int w = (int)((double)counts[r] / (double)peak * 50 + 0.5);
        fprintf(out, "  %10s - %-10s %6.2f%% |", a, b,
                100.0 * (double)counts[r] / (double)h->total);
        for (int k = 0; k < w; k++)
            fputc('#', out);
        fputc('\n', out);
    }
}

int hist_svg(const hist *h, const char *path, const char *title)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    const int W = 720, H = 420, L = 80, R = 20, T = 40, B = 60;
    /* x: percentile on a "nines" axis (0, 90, 99, 99.9, 99.99); y: latency, linear from 0. */
    double ymax = (double)hist_percentile(h, 100) * 1.05 + 1;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%d\" y=\"22\" font-size=\"15\">%s</text>\n",
            W, H, L, title);
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, H - B,
            W - R, H - B);
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, T, L,
            H - B);
    const double nines_max = 5; /* up to 99.999 */
    const char *labels[] = {"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"};
    for (int k = 0; k <= 5; k++) {
        double x = L + (W - L - R) * k / nines_max;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                x, T, x, H - B, x, H - B + 18, labels[k]);
    }
    for (int k = 0; k <= 4; k++) {
        double v = ymax * k / 4, y = H - B - (H - T - B) * k / 4.0;
        char lab[32];
        fmt_ns(lab, sizeof lab, v);
        fprintf(f,
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                L, y, W - R, y, L - 6, y + 4, lab);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">percentile</text>\n",
            (L + W - R) / 2, H - 15);
    fprintf(f, "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"");
    for (int s = 0; s <= 200; s++) {
        double nines = nines_max * s / 200.0;
        double p = 100.0 * (1 - pow(10, -nines));
        double v = (double)hist_percentile(h, p <= 0 ? 0.0001 : p);
        double x = L + (W - L - R) * nines / nines_max, y = H - B - (H - T - B) * v / ymax;
        fprintf(f, "%.1f,%.1f ", x, y);
    }
    fprintf(f, "\"/>\n</svg>\n");
    return fclose(f) == 0 ? 0 : -errno;
}
