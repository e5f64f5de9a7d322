/* cli/bitrate.c: -b values as iperf3 writes them (decimal suffixes), everything else refused, and
 * the 1 ms token bucket against its schedule: (k + 1) ticks' worth by tick k, never more. */
#include "sktest.h"

#include "bitrate.h"

#include <math.h>

static void parses_decimal_suffixes(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        double bps;
    } ok[] = {{"1", 1},      {"100000", 1e5},  {"500k", 5e5},   {"500K", 5e5}, {"100M", 1e8},
              {"100m", 1e8}, {"1G", 1e9},      {"1.5G", 1.5e9}, {"5g", 5e9},   {"1T", 1e12},
              {".5M", 5e5},  {"2.5e6", 2.5e6}, {"0.001k", 1}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double bps = 0;
        assert_int_equal(bitrate_parse(ok[i].text, &bps), 0);
        assert_true(fabs(bps - ok[i].bps) < 1e-6 * ok[i].bps);
    }
}

static void refuses_the_rest(void **state)
{
    (void)state;
    static const char *const bad[] = {"",    "0",   "0M",   "-1",   "-5M",  "+5M",   " 5M",
                                      "abc", "M",   "10Q",  "10MM", "10Mb", "10 M",  "1e400",
                                      "inf", "nan", "0x10", "2T",   "0.5",  "1.5Ki", NULL};
    for (size_t i = 0; bad[i]; i++) {
        double bps = 42;
        assert_int_equal(bitrate_parse(bad[i], &bps), -1);
        assert_true(bps == 42); /* untouched */
    }
    double bps;
    assert_int_equal(bitrate_parse(NULL, &bps), -1);
}

static void formats_with_units(void **state)
{
    (void)state;
    char buf[32];
    bitrate_format(buf, sizeof buf, 50e6);
    assert_string_equal(buf, "50.00 Mbit/s");
    bitrate_format(buf, sizeof buf, 1.25e9);
    assert_string_equal(buf, "1.250 Gbit/s");
    bitrate_format(buf, sizeof buf, 800);
    assert_string_equal(buf, "800 bit/s");
    bitrate_format(buf, sizeof buf, 500e3);
    assert_string_equal(buf, "500.0 kbit/s");
}

/* 8 Mbit/s = 1000 bytes per 1 ms tick. */
static void bucket_refills_every_tick(void **state)
{
    (void)state;
    const uint64_t t0 = 5000000000u, ms = PACER_TICK_NS;
    struct pacer p;
    pacer_init(&p, 8e6, t0);
    assert_int_equal(pacer_allowed(&p, t0), 1000); /* tick 0's worth at once */
    assert_int_equal(pacer_allowed(&p, t0 + ms - 1), 1000);
    p.done = 1000;
    assert_int_equal(pacer_allowed(&p, t0 + ms - 1), 0);
    assert_int_equal(pacer_next(&p), t0 + ms);
    assert_int_equal(pacer_allowed(&p, t0 + ms), 1000);
    p.done = 1500; /* part of tick 1 sent: the rest of it, then wait for tick 2 */
    assert_int_equal(pacer_allowed(&p, t0 + ms + 10), 500);
    assert_int_equal(pacer_next(&p), t0 + ms);
    p.done = 2000;
    assert_int_equal(pacer_next(&p), t0 + 2 * ms);
    /* a sender 100 ticks behind may catch up at once: the average is the rate */
    assert_int_equal(pacer_allowed(&p, t0 + 101 * ms), 100000);
    /* before t0 (a clock read just before the run began): tick 0 */
    p.done = 0;
    assert_int_equal(pacer_allowed(&p, t0 - 10), 1000);
}

/* A rate of less than a byte per tick: the bucket allows a byte at the ticks that reach one. */
static void slow_rate_waits_whole_ticks(void **state)
{
    (void)state;
    const uint64_t t0 = 0, ms = PACER_TICK_NS;
    struct pacer p;
    pacer_init(&p, 800, t0); /* 100 bytes/s: a byte every 10 ticks */
    assert_int_equal(pacer_allowed(&p, t0), 0);
    assert_int_equal(pacer_next(&p), t0 + 9 * ms); /* (9 + 1) ticks' worth = 1 byte */
    assert_int_equal(pacer_allowed(&p, t0 + 9 * ms), 1);
    p.done = 1;
    assert_int_equal(pacer_next(&p), t0 + 19 * ms);
    /* over a second: exactly the rate */
    assert_int_equal(
        pacer_allowed(&(struct pacer){.t0 = 0, .bytes_per_ns = p.bytes_per_ns}, 1000 * ms - 1),
        100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_decimal_suffixes),     cmocka_unit_test(refuses_the_rest),
        cmocka_unit_test(formats_with_units),          cmocka_unit_test(bucket_refills_every_tick),
        cmocka_unit_test(slow_rate_waits_whole_ticks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
