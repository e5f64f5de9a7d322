/* cli/hist.c: percentiles against exact values of known distributions, within 1 %. */
#include "sktest.h"

#include <math.h>

#include "hist.h"

static int cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t exact(uint64_t *v, size_t n, double p)
{
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);
    return v[(rank ? rank : 1) - 1];
}

static void against(uint64_t *v, size_t n, const char *what)
{
    hist *h = malloc(sizeof *h);
    hist_init(h);
    for (size_t i = 0; i < n; i++)
        hist_add(h, v[i]);
    qsort(v, n, sizeof *v, cmp);
    const double ps[] = {1, 10, 50, 90, 99, 99.9, 100};
    for (size_t k = 0; k < sizeof ps / sizeof *ps; k++) {
        double want = (double)exact(v, n, ps[k]), got = (double)hist_percentile(h, ps[k]);
        double err = want ? fabs(got - want) / want : got;
        if (err > 0.01)
            fail_msg("%s p%g: %.0f vs exact %.0f (%.2f%%)", what, ps[k], got, want, err * 100);
    }
    assert_int_equal(h->min, v[0]);
    assert_int_equal(h->max, v[n - 1]);
    free(h);
}

static void known_distributions(void **state)
{
    size_t n = 200000;
    uint64_t *v = malloc(n * sizeof *v);
    unsigned s = 12345;
    for (size_t i = 0; i < n; i++) { /* uniform 10 us .. 2 ms */
        s = s * 1103515245u + 12345u;
        v[i] = 10000 + (uint64_t)(s >> 4) % 1990000;
    }
    against(v, n, "uniform");
    for (size_t i = 0; i < n; i++) { /* exponential, mean 50 us */
        s = s * 1103515245u + 12345u;
        double u = ((s >> 8) + 1) / 16777217.0;
        v[i] = (uint64_t)(-log(u) * 50000) + 1;
    }
    against(v, n, "exponential");
    for (size_t i = 0; i < n; i++) /* constant */
        v[i] = 123456;
    against(v, n, "constant");
    for (size_t i = 0; i < n; i++) /* small exact values and huge ones */
        v[i] = i % 2 ? i % 200 : (uint64_t)1 << 38;
    against(v, n, "extremes");
    v[0] = 777;
    against(v, 1, "single value");
    free(v);
}

static void buckets_and_merge(void **state)
{
    for (uint64_t x = 1; x < ((uint64_t)1 << 40); x = x * 3 + 1) {
        uint64_t lo, hi;
        hist_bucket_range(hist_bucket_of(x), &lo, &hi);
        assert_true(lo <= x && x < hi);
        assert_true((double)(hi - lo) <= (double)lo / 128.0 + 1);
    }
    hist a, b;
    hist_init(&a);
    hist_init(&b);
    hist_add(&a, 100);
    hist_add(&b, 300000);
    hist_merge(&a, &b);
    assert_int_equal(a.total, 2);
    assert_int_equal(a.min, 100);
    assert_int_equal(a.max, 300000);
    assert_int_equal(hist_percentile(&a, 50), 100);
    hist empty;
    hist_init(&empty);
    assert_int_equal(hist_percentile(&empty, 99), 0);
}

/* The chart fits 80 columns, shows every populated range (a count, a mark) and reads 100% only
 * on the last sample. */
static void chart_shows_the_tail(void **state)
{
    (void)state;
    hist h;
    hist_init(&h);
    for (int i = 0; i < 1000000; i++)
        hist_add(&h, 20000 + (uint64_t)(i % 1000));
    hist_add(&h, 9000000); /* one sample in a million, far out */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    hist_chart(&h, f, 16);
    fclose(f);
    int with_count = 0, lines = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        lines++;
        assert_true(strlen(line) <= 80);
        assert_null(strstr(line, " 0.00%"));
        unsigned long long count;
        char cum[32];
        if (sscanf(line, "%*s %*s - %*s %*s %llu %31s", &count, cum) == 2 && count) {
            with_count++;
            assert_non_null(strchr(line, '#'));
            if (count == 1)
                assert_string_equal(cum, "100%");
            else
                assert_string_not_equal(cum, "100%");
        }
    }
    assert_int_equal(lines, 2 + 16);
    assert_int_equal(with_count, 2);
    free(text);
}

/* The SVG: a log x axis that stops at the percentile the samples support, round y ticks, a y
 * title, the title escaped. */
static void svg_axes(void **state)
{
    (void)state;
    hist h;
    hist_init(&h);
    for (int i = 0; i < 1000; i++)
        hist_add(&h, 1000 + (uint64_t)i * 37);
    char path[32];
    strcpy(path, "/tmp/test_hist_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(hist_svg(&h, path, "a <b> & c", "sub"), 0);
    FILE *f = fopen(path, "r");
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    assert_non_null(strstr(buf, "a &lt;b&gt; &amp; c"));
    assert_non_null(strstr(buf, ">99.9%<")); /* 1000 samples: 99.9 % is the last tick */
    assert_null(strstr(buf, ">99.99%<"));
    assert_non_null(strstr(buf, "latency (us)"));
    assert_non_null(strstr(buf, ">40<")); /* max 37.963 us: ticks 0, 10, 20, 30, 40 */
    assert_null(strstr(buf, ">37.9"));
    assert_null(strstr(buf, "textLength"));
    /* a title too long for the width is squeezed to fit, not clipped */
    char title[200];
    memset(title, 'x', sizeof title - 1);
    title[sizeof title - 1] = '\0';
    strcpy(path, "/tmp/test_hist_XXXXXX");
    fd = mkstemp(path);
    close(fd);
    assert_int_equal(hist_svg(&h, path, title, "sub"), 0);
    f = fopen(path, "r");
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    assert_non_null(strstr(buf, "textLength=\"768\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_distributions),
        cmocka_unit_test(buckets_and_merge),
        cmocka_unit_test(chart_shows_the_tail),
        cmocka_unit_test(svg_axes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
