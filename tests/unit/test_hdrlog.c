/* cli/hdrlog.c and cli/hdrread.c: HdrHistogram's V2 encoding against a histogram that
 * HdrHistogramJS encoded, round trips, the interval log, and damaged logs and JSON results (each
 * refused with a reason naming the line). */
#include "sktest.h"

#include <zlib.h>

#include "hdrlog.h"

/* Written by hdr-histogram-js 3 (lowest 1, highest 2^41 - 1, 2 significant digits) after
 * recording 0 once, 1 twice, 255 3 times, 256 4, 1000 5, 123456 6, 1e9 7 and 2^40 8 times. */
static const char js_vector[] =
    "HISTFAAAADV4nJNpmSzMwMAgxMDAwMjAwMDEAAGMDAyM/0EAxmdi+cnMxvGRmes1L893Sb6FIgIAC20LTw==";

static hist *new_hist(void)
{
    hist *h = malloc(sizeof *h);
    assert_non_null(h);
    hist_init(h);
    return h;
}

static void decodes_hdr_histogram_js(void **state)
{
    (void)state;
    hist *h = new_hist();
    char why[160];
    assert_int_equal(hdr_decode_base64(js_vector, strlen(js_vector), h, why, sizeof why), 0);
    const uint64_t v[] = {0, 1, 255, 256, 1000, 123456, 1000000000, UINT64_C(1) << 40};
    for (int i = 0; i < 8; i++)
        assert_int_equal(h->count[hist_bucket_of(v[i])], (uint64_t)i + 1);
    assert_int_equal(h->total, 36);
    assert_int_equal(h->min, 0);
    /* the top of 2^40's bucket, as HdrHistogramJS's highestEquivalentValue gives it */
    assert_int_equal(h->max, UINT64_C(1108101562367));
    free(h);
}

static void round_trip(void **state)
{
    (void)state;
    hist *a = new_hist(), *b = new_hist();
    unsigned s = 99;
    for (int i = 0; i < 100000; i++) {
        s = s * 1103515245u + 12345u;
        hist_add(a, (uint64_t)(s >> 3) % 5000000 + (i % 7 == 0 ? (UINT64_C(1) << 39) : 0));
    }
    a->count[3] = UINT64_C(1) << 62; /* a count that takes all nine bytes of LEB128 */
    a->total += UINT64_C(1) << 62;
    char *text = hdr_encode_base64(a), why[160];
    assert_non_null(text);
    assert_int_equal(strncmp(text, "HISTFAAA", 8), 0);
    assert_int_equal(hdr_decode_base64(text, strlen(text), b, why, sizeof why), 0);
    assert_memory_equal(a->count, b->count, sizeof a->count);
    assert_int_equal(a->total, b->total);
    free(text);
    /* empty */
    hist_init(a);
    text = hdr_encode_base64(a);
    assert_int_equal(hdr_decode_base64(text, strlen(text), b, why, sizeof why), 0);
    assert_int_equal(b->total, 0);
    free(text);
    free(a);
    free(b);
}

/* The compressed base64 of a V2 encoding whose counts are `body` (n bytes). */
static char *wrap(const unsigned char *body, size_t n)
{
    unsigned char raw[256] = {0x1c, 0x84, 0x93, 0x13, 0,    0,    0,    (unsigned char)n,
                              0,    0,    0,    0,    0,    0,    0,    2,
                              0,    0,    0,    0,    0,    0,    0,    1,    /* lowest 1 */
                              0,    0,    1,    0xff, 0xff, 0xff, 0xff, 0xff, /* 2^41 - 1 */
                              0x3f, 0xf0, 0,    0,    0,    0,    0,    0};   /* 1.0 */
    memcpy(raw + 40, body, n);
    unsigned char z[512];
    uLongf zlen = sizeof z - 8;
    assert_int_equal(compress2(z + 8, &zlen, raw, 40 + n, 6), Z_OK);
    unsigned char head[8] = {
        0x1c, 0x84, 0x93, 0x14, 0, 0, (unsigned char)(zlen >> 8), (unsigned char)zlen};
    memcpy(z, head, 8);
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = calloc(1, (8 + zlen) / 3 * 4 + 8), *o = out;
    for (size_t i = 0; i < 8 + zlen; i += 3) {
        uint32_t v = (uint32_t)z[i] << 16 | (i + 1 < 8 + zlen ? (uint32_t)z[i + 1] << 8 : 0) |
                     (i + 2 < 8 + zlen ? z[i + 2] : 0);
        *o++ = t[v >> 18 & 63];
        *o++ = t[v >> 12 & 63];
        *o++ = i + 1 < 8 + zlen ? t[v >> 6 & 63] : '=';
        *o++ = i + 2 < 8 + zlen ? t[v & 63] : '=';
    }
    return out;
}

/* Runs of empty buckets as long as an int64 allows never wrap the index back into range. */
static void skips_do_not_wrap(void **state)
{
    (void)state;
    unsigned char body[32];
    memset(body, 0xff, 18); /* ZigZag of INT64_MIN, twice: 2^63 empty buckets each */
    body[18] = 10;          /* then a count of 5 */
    char *text = wrap(body, 19), why[160];
    hist *h = new_hist();
    assert_int_equal(hdr_decode_base64(text, strlen(text), h, why, sizeof why), -1);
    assert_non_null(strstr(why, "beyond 2^41 ns"));
    free(text);
    /* a count of 2^62 (nine bytes), a run of 3 empty buckets, a count of 1 */
    const unsigned char ok[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 5, 2};
    text = wrap(ok, sizeof ok);
    assert_int_equal(hdr_decode_base64(text, strlen(text), h, why, sizeof why), 0);
    assert_int_equal(h->count[0], UINT64_C(1) << 62);
    assert_int_equal(h->count[4], 1);
    assert_int_equal(h->total, (UINT64_C(1) << 62) + 1);
    free(text);
    free(h);
}

/* A log of three intervals and the total into a malloc'd string. */
static char *write_log(hist *total)
{
    char path[] = "/tmp/test_hdrlog_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    struct hdr_log *l = malloc(sizeof *l);
    assert_int_equal(hdr_log_open(l, path, "sockkit bench echo, size_bytes 64, connections 2", 0),
                     0);
    hist *now = new_hist();
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 1000 * (k + 1); i++)
            hist_add(now, (uint64_t)(20000 + i * 37 + k * 100000));
        hdr_log_interval(l, now, k, 1);
    }
    *total = *now;
    assert_int_equal(hdr_log_close(l, now, 3.0), 0);
    FILE *f = fopen(path, "r");
    char *text = calloc(1, 1 << 16);
    size_t n = fread(text, 1, (1 << 16) - 1, f);
    text[n] = '\0';
    fclose(f);
    unlink(path);
    free(l);
    free(now);
    return text;
}

static void log_reads_back(void **state)
{
    (void)state;
    hist *want = new_hist(), *got = new_hist();
    char *text = write_log(want), why[256];
    struct hdr_run run;
    assert_non_null(strstr(text, "#[StartTime: "));
    assert_non_null(strstr(text, "\n\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
                                 "\"Interval_Compressed_Histogram\"\n"));
    assert_non_null(strstr(text, "\n1.000,1.000,"));
    assert_non_null(strstr(text, "\nTag=total,0.000,3.000,"));
    assert_int_equal(hdr_read(text, strlen(text), got, &run, why, sizeof why), 0);
    assert_memory_equal(want->count, got->count, sizeof want->count);
    assert_string_equal(run.mode, "echo");
    assert_int_equal(run.size, 64);
    assert_int_equal(run.requests, 6000);
    assert_true(run.seconds == 3.0);
    free(text);
    free(want);
    free(got);
}

static void expect_error(const char *text, size_t len, const char *part)
{
    hist *h = new_hist();
    struct hdr_run run;
    char why[256] = "";
    if (hdr_read(text, len, h, &run, why, sizeof why) != -1 || !strstr(why, part))
        fail_msg("wanted an error with '%s', got '%s'", part, why);
    free(h);
}

static void damaged_logs(void **state)
{
    (void)state;
    hist *want = new_hist();
    char *text = write_log(want);
    size_t len = strlen(text);
    /* cut anywhere: never read as a whole log */
    for (size_t cut = 0; cut < len; cut += 7) {
        hist *h = new_hist();
        struct hdr_run run;
        char why[256];
        assert_int_equal(hdr_read(text, cut, h, &run, why, sizeof why), -1);
        free(h);
    }
    expect_error(text, len - 10, "line 9: cut off");
    /* the total line gone */
    char *total = strstr(text, "Tag=total");
    expect_error(text, (size_t)(total - text), "line 8: the log ends without its total line");
    /* a character of the second interval's histogram changed */
    char *copy = strdup(text), *second = strstr(copy, "\n1.000,1.000,");
    char *b64 = strstr(second, "HISTF") + 20;
    *b64 = *b64 == 'A' ? 'B' : 'A';
    hist *h = new_hist();
    struct hdr_run run;
    char why[256];
    assert_int_equal(hdr_read(copy, len, h, &run, why, sizeof why), -1);
    assert_non_null(strstr(why, "line 7: "));
    /* an interval line dropped: the total no longer adds up */
    strcpy(copy, text);
    second = strstr(copy, "\n1.000,1.000,") + 1;
    char *next = strchr(second, '\n') + 1;
    memmove(second, next, strlen(next) + 1);
    expect_error(copy, strlen(copy), "is not the sum of the intervals");
    /* not sockkit's */
    expect_error("#[x]\n", 5, "not a log of sockkit bench --hdr-log");
    expect_error("", 0, "empty");
    expect_error("0.0,1.0,2.0,!!!!\n", 17, "line 1: the histogram is not base64");
    expect_error("0.0,x,2.0,HISTFAAA\n", 19, "line 1: the start, length or max");
    free(h);
    free(copy);
    free(text);
    free(want);
}

static void json_results(void **state)
{
    (void)state;
    hist *want = new_hist(), *got = new_hist();
    for (int i = 1; i <= 500; i++)
        hist_add(want, (uint64_t)i * 1000);
    char *b64 = hdr_encode_base64(want), doc[4096], why[256];
    snprintf(doc, sizeof doc,
             "{\"start\": {\"command\": \"bench connect\", \"parameters\": {\"size_bytes\": 32}},\n"
             " \"intervals\": [{\"requests\": 7}],\n"
             " \"end\": {\"seconds\": 2.000, \"requests\": 500, \"latency_us\": {\"samples\": 500,"
             " \"hdr_histogram\": \"%s\"}}}\n",
             b64);
    struct hdr_run run;
    assert_int_equal(hdr_read(doc, strlen(doc), got, &run, why, sizeof why), 0);
    assert_memory_equal(want->count, got->count, sizeof want->count);
    assert_string_equal(run.mode, "connect");
    assert_int_equal(run.size, 32);
    assert_int_equal(run.requests, 500);
    assert_true(run.seconds == 2.0);
    expect_error(doc, strlen(doc) - 5, "line 3: the JSON ends before its last '}'");
    char *h = strstr(doc, "HISTF");
    h[12] = '#';
    expect_error(doc, strlen(doc), "line 3: hdr_histogram: the histogram is not base64");
    expect_error("{\"start\": {}}", 13, "no \"command\"");
    /* fuzz_hdrlog's finding: a size beyond any long was cast (undefined behaviour) */
    const char *huge = "{\"start\": {\"command\": \"bench echo\", \"parameters\": "
                       "{\"size_bytes\": 3.26667e+24}}}";
    expect_error(huge, strlen(huge), "no \"size_bytes\" (0 to 2^30)");
    free(b64);
    free(want);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decodes_hdr_histogram_js),
        cmocka_unit_test(round_trip),
        cmocka_unit_test(log_reads_back),
        cmocka_unit_test(damaged_logs),
        cmocka_unit_test(json_results),
        cmocka_unit_test(skips_do_not_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
