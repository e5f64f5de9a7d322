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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_distributions),
        cmocka_unit_test(buckets_and_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
