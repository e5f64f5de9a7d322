/* HdrHistogram's V2 encoding and interval log for the histograms of hist.h (the layout and the
 * formats are described in hdrlog.h). */
#include "hdrlog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

enum {
    COOKIE_V2 = 0x1c849313,            /* base 0x1c849303, word size nibble 0x10: ZigZag LEB128 */
    COOKIE_V2_COMPRESSED = 0x1c849314, /* base 0x1c849304 */
    HEADER_LEN = 40,
    LEB_MAX = 9,
    SIGFIGS = 2,
};
#define ENCODED_MAX (HEADER_LEN + HIST_BUCKETS * LEB_MAX)

/* Why a log or histogram was refused, into why[len] (printf-style). */
void hdr_why_set(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

/* ---- big-endian fields and ZigZag LEB128 ------------------------------------------------------
 */

static unsigned char *put_be(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

static uint64_t get_be(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

/* HdrHistogram's LEB128-64b9B: 7 bits a byte with the high bit saying "more", except the ninth
 * byte, which carries the last 8 bits whole. */
static unsigned char *put_zigzag(unsigned char *p, int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    for (int i = 0; i < 8; i++) {
        if (u < 0x80) {
            *p++ = (unsigned char)u;
            return p;
        }
        *p++ = (unsigned char)(u | 0x80);
        u >>= 7;
    }
    *p++ = (unsigned char)u;
    return p;
}

/* Returns the bytes read, 0 when the value runs past end. */
static size_t get_zigzag(const unsigned char *p, const unsigned char *end, int64_t *v)
{
    uint64_t u = 0;
    size_t n = 0;
    for (int shift = 0; p + n < end; shift += 7) {
        unsigned char b = p[n++];
        if (n == LEB_MAX) {
            u |= (uint64_t)b << 56;
            break;
        }
        u |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
        if (p + n == end)
            return 0;
    }
    if (!n)
        return 0;
    *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return n;
}

/* ---- base64 -----------------------------------------------------------------------------------
 */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        for (int k = 0; k < 4; k++)
            *out++ = b64[v >> (18 - 6 * k) & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        *out++ = b64[v >> 18 & 63];
        *out++ = b64[v >> 12 & 63];
        *out++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
        *out++ = '=';
    }
    *out = '\0';
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

/* Returns the bytes decoded into out (room for len * 3 / 4), or -1 on a character outside the
 * alphabet, padding anywhere but at the end, or a length that is not a whole number of groups. */
static long base64_decode(const char *in, size_t len, unsigned char *out)
{
    for (int k = 0; k < 2 && len && in[len - 1] == '='; k++)
        len--; /* padding, at most two */
    if (len % 4 == 1)
        return -1;
    long n = 0;
    uint32_t v = 0;
    for (size_t i = 0; i < len; i++) {
        int d = b64_value(in[i]);
        if (d < 0)
            return -1;
        v = v << 6 | (uint32_t)d;
        if (i % 4 == 3) {
            out[n++] = (unsigned char)(v >> 16);
            out[n++] = (unsigned char)(v >> 8);
            out[n++] = (unsigned char)v;
            v = 0;
        }
    }
    if (len % 4 == 2) {
        out[n++] = (unsigned char)(v >> 4);
    } else if (len % 4 == 3) {
        out[n++] = (unsigned char)(v >> 10);
        out[n++] = (unsigned char)(v >> 2);
    }
    return n;
}

/* ---- the V2 encoding --------------------------------------------------------------------------
 */

/* The encoding of h into buf (ENCODED_MAX bytes); returns its length. */
static size_t encode(const hist *h, unsigned char *buf)
{
    int limit = HIST_BUCKETS;
    while (limit > 0 && !h->count[limit - 1])
        limit--;
    unsigned char *p = buf + HEADER_LEN;
    for (int i = 0; i < limit;) {
        if (h->count[i]) {
            p = put_zigzag(p, (int64_t)h->count[i++]);
            continue;
        }
        int run = 0;
        while (i < limit && !h->count[i])
            run++, i++;
        p = put_zigzag(p, run > 1 ? -(int64_t)run : 0);
    }
    union {
        double d;
        uint64_t u;
    } ratio = {.d = 1.0};
    unsigned char *q = put_be(buf, COOKIE_V2, 4);
    q = put_be(q, (uint64_t)(p - buf - HEADER_LEN), 4);
    q = put_be(q, 0, 4); /* normalizing index offset */
    q = put_be(q, SIGFIGS, 4);
    q = put_be(q, 1, 8); /* lowest discernible value: 1 ns */
    q = put_be(q, HDR_HIGHEST, 8);
    put_be(q, ratio.u, 8);
    return (size_t)(p - buf);
}

char *hdr_encode_base64(const hist *h)
{
    unsigned char *raw = malloc(ENCODED_MAX);
    uLongf zlen = compressBound(ENCODED_MAX);
    unsigned char *z = malloc(8 + zlen);
    char *text = malloc((8 + zlen) / 3 * 4 + 8);
    if (!raw || !z || !text)
        goto fail;
    size_t n = encode(h, raw);
    if (compress2(z + 8, &zlen, raw, n, Z_DEFAULT_COMPRESSION) != Z_OK)
        goto fail;
    put_be(put_be(z, COOKIE_V2_COMPRESSED, 4), zlen, 4);
    base64_encode(z, 8 + zlen, text);
    free(raw);
    free(z);
    return text;
fail:
    free(raw);
    free(z);
    free(text);
    return NULL;
}

/* min, max and sum from the buckets, as a decoded histogram has no more than those. */
static void settle(hist *h)
{
    h->total = 0;
    h->sum = 0;
    h->min = UINT64_MAX;
    h->max = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        if (!h->count[i])
            continue;
        uint64_t lo, hi;
        hist_bucket_range(i, &lo, &hi);
        if (lo < h->min)
            h->min = lo;
        h->max = hi - 1;
        h->total += h->count[i];
        h->sum += (long double)h->count[i] * (lo + (hi - lo - 1) / 2.0L);
    }
}

/* The uncompressed encoding (n bytes) into h. */
static int decode(const unsigned char *buf, size_t n, hist *h, char *why, size_t whylen)
{
    if (n < HEADER_LEN) {
        hdr_why_set(why, whylen, "the histogram is shorter than its header");
        return -1;
    }
    uint32_t cookie = (uint32_t)get_be(buf, 4), len = (uint32_t)get_be(buf + 4, 4);
    /* the normalizing index offset (buf + 8) is left alone, as HdrHistogramJS does: it writes 1
     * there for a histogram that was never shifted */
    uint32_t digits = (uint32_t)get_be(buf + 12, 4);
    uint64_t lowest = get_be(buf + 16, 8);
    if (cookie != COOKIE_V2) {
        hdr_why_set(why, whylen, "not an HdrHistogram V2 encoding (cookie 0x%08x)", cookie);
        return -1;
    }
    if (digits != SIGFIGS || lowest != 1) {
        hdr_why_set(why, whylen,
                    "a histogram of %u significant digits from %" PRIu64
                    ": sockkit reads its own layout only (2 digits from 1 ns)",
                    digits, lowest);
        return -1;
    }
    if (len > n - HEADER_LEN) {
        hdr_why_set(why, whylen, "the histogram's counts are cut off (%u bytes said, %zu there)",
                    len, n - HEADER_LEN);
        return -1;
    }
    const unsigned char *p = buf + HEADER_LEN, *end = p + len;
    uint64_t i = 0;
    while (p < end) {
        int64_t v;
        size_t k = get_zigzag(p, end, &v);
        if (!k) {
            hdr_why_set(why, whylen, "a count of the histogram is cut off");
            return -1;
        }
        p += k;
        if (v < 0) {
            uint64_t skip = (uint64_t)(-(v + 1)) + 1;              /* no overflow at INT64_MIN */
            i = skip < HIST_BUCKETS - i ? i + skip : HIST_BUCKETS; /* no wrap-around */
            continue;
        }
        if (i >= HIST_BUCKETS) {
            if (!v)
                continue;
            hdr_why_set(why, whylen, "a value beyond 2^41 ns");
            return -1;
        }
        if (h->total + (uint64_t)v < h->total) {
            hdr_why_set(why, whylen, "the counts overflow");
            return -1;
        }
        h->count[i++] = (uint64_t)v;
        h->total += (uint64_t)v;
    }
    settle(h);
    return 0;
}

int hdr_decode_base64(const char *text, size_t len, hist *h, char *why, size_t whylen)
{
    hist_init(h);
    unsigned char *z = malloc(len / 4 * 3 + 3), *raw = malloc(ENCODED_MAX);
    int rc = -1;
    long n = z && raw ? base64_decode(text, len, z) : -2;
    uLongf rawlen = ENCODED_MAX;
    if (n == -2) {
        hdr_why_set(why, whylen, "out of memory");
    } else if (n < 0) {
        hdr_why_set(why, whylen, "the histogram is not base64");
    } else if (n < 8 || get_be(z, 4) != COOKIE_V2_COMPRESSED) {
        hdr_why_set(why, whylen, "not a compressed HdrHistogram V2 histogram");
    } else if (get_be(z + 4, 4) > (uint64_t)n - 8) {
        hdr_why_set(why, whylen, "the compressed histogram is cut off");
    } else if (uncompress(raw, &rawlen, z + 8, (uLong)get_be(z + 4, 4)) != Z_OK) {
        hdr_why_set(why, whylen, "the compressed histogram does not inflate");
    } else {
        rc = decode(raw, rawlen, h, why, whylen);
    }
    free(z);
    free(raw);
    return rc;
}

/* ---- the log writer ---------------------------------------------------------------------------
 */

/* The highest value of h's highest bucket, as HdrHistogram's getMaxValue gives it. */
static uint64_t bucket_max(const hist *h)
{
    for (int i = HIST_BUCKETS - 1; i >= 0; i--) {
        if (h->count[i]) {
            uint64_t lo, hi;
            hist_bucket_range(i, &lo, &hi);
            return hi - 1;
        }
    }
    return 0;
}

static void log_line(FILE *f, const char *tag, double start, double length, const hist *h)
{
    char *text = hdr_encode_base64(h);
    if (!text)
        return; /* out of memory: the close reports the short file */
    fprintf(f, "%s%.3f,%.3f,%.3f,%s\n", tag, start, length, (double)bucket_max(h) / 1e6, text);
    free(text);
}

int hdr_log_open(struct hdr_log *l, const char *path, const char *what, uint64_t ahead_ns)
{
    l->f = fopen(path, "w");
    if (!l->f)
        return -errno;
    hist_init(&l->last);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double t = (double)now.tv_sec + now.tv_nsec / 1e9 + (double)ahead_ns / 1e9;
    time_t secs = (time_t)t;
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&secs));
    fprintf(l->f,
            "#[Histogram log format version 1.3]\n"
            "#[%s; values in nanoseconds, Interval_Max in milliseconds]\n"
            "#[StartTime: %.3f (seconds since epoch), %s]\n"
            "#[BaseTime: %.3f (seconds since epoch)]\n"
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
            "\"Interval_Compressed_Histogram\"\n",
            what, t, date, t);
    fflush(l->f);
    return 0;
}

void hdr_log_interval(struct hdr_log *l, const hist *now, double start_s, double length_s)
{
    hist *d = malloc(sizeof *d);
    if (!d)
        return;
    hist_init(d);
    for (int i = 0; i < HIST_BUCKETS; i++)
        d->count[i] = now->count[i] - l->last.count[i];
    settle(d);
    log_line(l->f, "", start_s, length_s, d);
    fflush(l->f);
    l->last = *now;
    free(d);
}

int hdr_log_close(struct hdr_log *l, const hist *h, double seconds)
{
    log_line(l->f, "Tag=total,", 0, seconds, h);
    int bad = ferror(l->f);
    if (fclose(l->f) != 0 || bad)
        return errno ? -errno : -EIO;
    return 0;
}
