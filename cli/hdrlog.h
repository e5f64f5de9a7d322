/* The latency histograms of sockkit bench in HdrHistogram's formats, so that HdrHistogram's own
 * tools (HistogramLogProcessor, HdrHistogramJS, hdrhistogram-py) read them.
 *
 * hist.h's layout is exactly HdrHistogram's for 2 significant digits and a lowest discernible
 * value of 1: values below 256 are exact, then each power of two [128 * 2^e, 256 * 2^e) is split
 * into 128 buckets of width 2^e, and bucket i of hist.h is counts index i of HdrHistogram. So a
 * histogram converts both ways without loss. Values are nanoseconds; the highest trackable value
 * is 2^41 - 1 (hist.h's last bucket).
 *
 * The encoding is HdrHistogram's V2: a 40-byte big-endian header (cookie 0x1c849313, payload
 * length, normalizing offset, significant digits, lowest and highest trackable value, the
 * integer-to-double ratio), then the counts as ZigZag LEB128 (at most 9 bytes each), a negative
 * number meaning that many empty buckets. Compressed: cookie 0x1c849314, the length, and the
 * encoding deflated by zlib; in a log it is base64 ("HISTFAAA...").
 *
 * The interval log (HdrHistogram's log format 1.3): comment lines, #[StartTime: ...] and
 * #[BaseTime: ...], the legend line, then per interval "start,length,max,histogram" with times in
 * seconds from BaseTime and the max in milliseconds (values / 1e6: HistogramLogProcessor's
 * default -outputValueUnitRatio of 1e6 reads nanoseconds as milliseconds). sockkit adds one
 * comment line naming the run (mode, message size) and, after the intervals, the whole
 * measurement as one line tagged "Tag=total," (HdrHistogram's tools process untagged lines
 * unless asked for a tag, so the total is not counted twice). */
#ifndef SOCKKIT_CLI_HDRLOG_H
#define SOCKKIT_CLI_HDRLOG_H

#include "hist.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HDR_HIGHEST ((UINT64_C(1) << 41) - 1)

/* The compressed V2 encoding of h, in base64, NUL-terminated, into a malloc'd string (NULL when
 * out of memory). */
char *hdr_encode_base64(const hist *h);

/* Decode base64 text (len bytes) into h (initialised here). min and max are then the lowest and
 * highest values of the lowest and highest buckets used, sum the buckets' midpoints times their
 * counts. Returns 0, or -1 with the reason in why (one short phrase). */
int hdr_decode_base64(const char *text, size_t len, hist *h, char *why, size_t whylen);

/* What a log or a --json result says about the run that wrote it. */
struct hdr_run {
    char mode[16];     /* "echo", "connect" */
    long size;         /* message size in bytes, -1 unknown */
    char loop[8];      /* "open" (--rate), "closed", "" unknown (an older log) */
    double seconds;    /* the measured time (the total line's length), 0 unknown */
    double rate;       /* requests per second over it, 0 unknown */
    uint64_t requests; /* requests the run counted (a log: the total's samples) */
};

/* The writer: a file opened at the start of the measurement. */
struct hdr_log {
    FILE *f;
    hist last; /* the workers' histogram at the previous interval, to subtract */
};

/* Open path and write the header: StartTime and BaseTime are the measurement's start, `ahead_ns`
 * from now (wall clock); `what` goes into sockkit's comment line ("bench echo, size_bytes 64,
 * ..."). Returns 0 or -errno. */
int hdr_log_open(struct hdr_log *l, const char *path, const char *what, uint64_t ahead_ns);
/* One interval, start_s seconds after the measurement's start and length_s long: the samples of
 * `now` (the workers' histogram so far) that the previous call had not seen. */
void hdr_log_interval(struct hdr_log *l, const hist *now, double start_s, double length_s);
/* The total line (h: the whole measurement, `seconds` long), then close. Returns 0 or -errno. */
int hdr_log_close(struct hdr_log *l, const hist *h, double seconds);

/* Read a log or a --json / --json-lines result (text, len bytes) into h and run. Returns 0, or -1
 * with "line N: reason" (or "reason" for a JSON file) in why. */
int hdr_read(const char *text, size_t len, hist *h, struct hdr_run *run, char *why, size_t whylen);

/* The reason a log or histogram was refused, into why[len] (printf-style): the readers' message. */
void hdr_why_set(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
