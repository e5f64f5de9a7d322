/* libFuzzer harness: what bench merge reads (cli/hdrread.c, cli/hdrlog.c): HdrHistogram interval
 * logs, --json results and the compressed V2 histograms in them, of any bytes. Checks that every
 * failure is one line of reason, and that whatever is accepted is a histogram that encodes and
 * decodes back to itself (counts, total, min <= max) with a mode and a message size.
 *
 * Input: one byte choosing what the rest is, then the rest:
 *   0  a file for bench merge (a log or a JSON result), as hdr_read gets it
 *   1  the base64 text of one compressed histogram
 *   2  an uncompressed V2 encoding, which the harness deflates and wraps in the compressed
 *      header and base64 (so mutations reach the counts' decoder past zlib's checksum) */
#include <arpa/inet.h>
#include <zlib.h>

#include "fuzz.h"
#include "hdrlog.h"

static hist a, b;

static void one_line(const char *why)
{
    FUZZ_CHECK(why[0] != '\0', "a failure without a reason");
    FUZZ_CHECK(!strchr(why, '\n'), "a reason of more than one line: %s", why);
}

/* An accepted histogram: consistent, and the same after an encode and a decode. */
static void accepted(const hist *h)
{
    uint64_t sum = 0;
    for (int i = 0; i < HIST_BUCKETS; i++)
        sum += h->count[i];
    FUZZ_CHECK(sum == h->total, "total %llu, counts add to %llu", (unsigned long long)h->total,
               (unsigned long long)sum);
    FUZZ_CHECK(!h->total || h->min <= h->max, "min %llu > max %llu", (unsigned long long)h->min,
               (unsigned long long)h->max);
    char *text = hdr_encode_base64(h), why[256];
    FUZZ_CHECK(text != NULL, "encode failed");
    FUZZ_CHECK(hdr_decode_base64(text, strlen(text), &b, why, sizeof why) == 0,
               "its own encoding does not decode: %s", why);
    FUZZ_CHECK(!memcmp(h->count, b.count, sizeof b.count), "the round trip changed the counts");
    free(text);
}

static void base64(const unsigned char *in, size_t n, char *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        *out++ = t[v >> 18 & 63];
        *out++ = t[v >> 12 & 63];
        *out++ = i + 1 < n ? t[v >> 6 & 63] : '=';
        *out++ = i + 2 < n ? t[v & 63] : '=';
    }
    *out = '\0';
}

static void raw_encoding(const uint8_t *data, size_t n)
{
    uLongf zlen = compressBound(n);
    unsigned char *z = malloc(8 + zlen);
    char *text = malloc((8 + zlen) / 3 * 4 + 8), why[256];
    FUZZ_CHECK(z && text && compress2(z + 8, &zlen, data, n, 1) == Z_OK, "deflate");
    uint32_t head[2] = {htonl(0x1c849314), htonl((uint32_t)zlen)};
    memcpy(z, head, 8);
    base64(z, 8 + zlen, text);
    if (hdr_decode_base64(text, strlen(text), &a, why, sizeof why) == 0)
        accepted(&a);
    else
        one_line(why);
    free(z);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size || size > 1 << 20)
        return 0;
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    char why[256] = "";
    switch (data[0] % 3) {
    case 0: {
        struct hdr_run run;
        if (hdr_read(text, n, &a, &run, why, sizeof why) == 0) {
            FUZZ_CHECK(run.mode[0] && run.size >= 0, "accepted without a mode and size");
            accepted(&a);
        } else {
            one_line(why);
        }
        break;
    }
    case 1:
        if (hdr_decode_base64(text, n, &a, why, sizeof why) == 0)
            accepted(&a);
        else
            one_line(why);
        break;
    default:
        raw_encoding(data + 1, n);
    }
    return 0;
}
