/* Reading what sockkit bench wrote, for bench merge: an --hdr-log interval log, or a --json /
 * --json-lines result with its "hdr_histogram". Every problem is one reason naming the line, so
 * that a cut-off or damaged file is never merged in part. */
#include "hdrlog.h"

#include <stdlib.h>
#include <string.h>

static bool starts(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && !memcmp(s, prefix, k);
}

/* A number of at most 40 characters at s (n bytes), all of it. */
static bool number(const char *s, size_t n, double *v)
{
    char buf[48];
    if (!n || n > 40)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    *v = strtod(buf, &end);
    return *end == '\0' && *v == *v; /* not NaN */
}

/* "#[sockkit bench echo, size_bytes 64, ...": the mode and the message size. */
static bool sockkit_line(const char *line, size_t n, struct hdr_run *run)
{
    char buf[256], mode[16];
    long size;
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    memcpy(buf, line, n);
    buf[n] = '\0';
    if (sscanf(buf, "#[sockkit bench %15[a-z], size_bytes %ld", mode, &size) != 2 || size < 0)
        return false;
    snprintf(run->mode, sizeof run->mode, "%s", mode);
    run->size = size;
    const char *loop = strstr(buf, ", loop "); /* the first: before the endpoint */
    char word[8];
    if (loop && sscanf(loop, ", loop %7[a-z]", word) == 1 &&
        (!strcmp(word, "open") || !strcmp(word, "closed")))
        snprintf(run->loop, sizeof run->loop, "%s", word);
    return true;
}

struct log_state {
    hist *sum, *one; /* the untagged intervals added up; the line being read */
    bool header, total;
    int total_line;
};

/* One histogram line: [Tag=NAME,]start,length,max,base64. */
static int interval_line(const char *line, size_t n, int lineno, struct log_state *st, hist *h,
                         struct hdr_run *run, char *why, size_t whylen)
{
    const char *tag = NULL, *end = line + n;
    size_t taglen = 0;
    if (starts(line, n, "Tag=")) {
        const char *comma = memchr(line, ',', n);
        if (!comma) {
            hdr_why_set(why, whylen, "line %d: a tag without its histogram", lineno);
            return -1;
        }
        tag = line + 4;
        taglen = (size_t)(comma - tag);
        line = comma + 1;
    }
    const char *f[4];
    size_t len[4];
    for (int k = 0; k < 4; k++) {
        const char *comma = k < 3 ? memchr(line, ',', (size_t)(end - line)) : end;
        if (!comma) {
            hdr_why_set(why, whylen, "line %d: %d of the 4 fields of an interval (cut off?)",
                        lineno, k + 1);
            return -1;
        }
        f[k] = line;
        len[k] = (size_t)(comma - line);
        line = comma + 1;
    }
    double start, length, max;
    if (!number(f[0], len[0], &start) || !number(f[1], len[1], &length) ||
        !number(f[2], len[2], &max) || length < 0) {
        hdr_why_set(why, whylen,
                    "line %d: the start, length or max of the interval is not a number", lineno);
        return -1;
    }
    char reason[160];
    if (hdr_decode_base64(f[3], len[3], st->one, reason, sizeof reason) < 0) {
        hdr_why_set(why, whylen, "line %d: %s", lineno, reason);
        return -1;
    }
    if (!tag) {
        hist_merge(st->sum, st->one);
    } else if (taglen == 5 && !memcmp(tag, "total", 5)) {
        if (st->total) {
            hdr_why_set(why, whylen, "line %d: a second total line (the first is line %d)", lineno,
                        st->total_line);
            return -1;
        }
        st->total = true;
        st->total_line = lineno;
        *h = *st->one;
        run->seconds = length;
    } /* other tags: someone else's histograms, not sockkit's */
    return 0;
}

/* The intervals must add up to the total exactly, bucket by bucket. */
static int check_total(const struct log_state *st, const hist *h, char *why, size_t whylen)
{
    for (int i = 0; i < HIST_BUCKETS; i++) {
        if (st->sum->count[i] != h->count[i]) {
            hdr_why_set(why, whylen,
                        "line %d: the total (%llu samples) is not the sum of the intervals (%llu)",
                        st->total_line, (unsigned long long)h->total,
                        (unsigned long long)st->sum->total);
            return -1;
        }
    }
    return 0;
}

static int log_lines(const char *text, size_t len, struct log_state *st, hist *h,
                     struct hdr_run *run, char *why, size_t whylen)
{
    int lineno = 0;
    for (size_t pos = 0; pos < len;) {
        lineno++;
        const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
        if (!nl) {
            hdr_why_set(why, whylen, "line %d: cut off (the file ends inside it)", lineno);
            return -1;
        }
        size_t n = (size_t)(nl - line);
        pos += n + 1;
        if (n && line[n - 1] == '\r')
            n--;
        if (memchr(line, '\0', n)) {
            hdr_why_set(why, whylen, "line %d: a NUL byte (not a text log)", lineno);
            return -1;
        }
        if (starts(line, n, "#[sockkit bench ")) {
            if (!sockkit_line(line, n, run)) {
                hdr_why_set(why, whylen, "line %d: no mode and size_bytes in sockkit's line",
                            lineno);
                return -1;
            }
            st->header = true;
        } else if (n && line[0] != '#' && !starts(line, n, "\"StartTimestamp\"")) {
            if (interval_line(line, n, lineno, st, h, run, why, whylen) < 0)
                return -1;
        }
    }
    if (!st->header) {
        hdr_why_set(why, whylen,
                    "not a log of sockkit bench --hdr-log (no '#[sockkit bench' line)");
        return -1;
    }
    if (!st->total) {
        hdr_why_set(why, whylen,
                    "line %d: the log ends without its total line (the run did not finish, or the "
                    "file is cut short)",
                    lineno);
        return -1;
    }
    return check_total(st, h, why, whylen);
}

static int read_log(const char *text, size_t len, hist *h, struct hdr_run *run, char *why,
                    size_t whylen)
{
    struct log_state st = {.sum = malloc(sizeof(hist)), .one = malloc(sizeof(hist))};
    int rc = -1;
    if (!st.sum || !st.one) {
        hdr_why_set(why, whylen, "out of memory");
    } else {
        hist_init(st.sum);
        rc = log_lines(text, len, &st, h, run, why, whylen);
    }
    free(st.sum);
    free(st.one);
    if (!rc) {
        run->requests = h->total;
        run->rate = run->seconds > 0 ? (double)h->total / run->seconds : 0;
    }
    return rc;
}

/* ---- a --json or --json-lines result ----------------------------------------------------------
 */

static int line_of(const char *text, size_t pos)
{
    int n = 1;
    for (size_t i = 0; i < pos; i++)
        n += text[i] == '\n';
    return n;
}

/* The value after "key": at or after from (the last occurrence when `last`); the offset of its
 * first character, or -1. */
static long key_value(const char *text, size_t len, size_t from, const char *key, bool last)
{
    char quoted[64];
    int k = snprintf(quoted, sizeof quoted, "\"%s\"", key);
    long found = -1;
    for (const char *p = text + from;
         (p = memmem(p, len - (size_t)(p - text), quoted, (size_t)k)) != NULL; p += k) {
        size_t i = (size_t)(p - text) + (size_t)k;
        while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
            i++;
        if (i >= len || text[i] != ':')
            continue;
        for (i++; i < len && (text[i] == ' ' || text[i] == '\t'); i++)
            ;
        found = (long)i;
        if (!last)
            break;
    }
    return found;
}

/* A JSON number at `at`, up to the next , } ] or space. */
static bool json_number(const char *text, size_t len, long at, double *v)
{
    size_t i = (size_t)at;
    while (i < len && !strchr(",}] \t\r\n", text[i]) && text[i])
        i++;
    return number(text + at, i - (size_t)at, v);
}

static int read_json(const char *text, size_t len, hist *h, struct hdr_run *run, char *why,
                     size_t whylen)
{
    size_t last = len;
    while (last && strchr(" \t\r\n", text[last - 1]))
        last--;
    if (!last || text[last - 1] != '}' || memchr(text, '\0', len)) {
        hdr_why_set(why, whylen, "line %d: the JSON ends before its last '}' (cut off?)",
                    line_of(text, len));
        return -1;
    }
    long cmd = key_value(text, len, 0, "command", false);
    char mode[16] = "";
    size_t m = 0;
    if (cmd >= 0 && starts(text + cmd, len - (size_t)cmd, "\"bench "))
        for (size_t i = (size_t)cmd + 7;
             i < len && m < sizeof mode - 1 && text[i] >= 'a' && text[i] <= 'z'; i++)
            mode[m++] = text[i];
    if (!m) {
        hdr_why_set(why, whylen, "no \"command\": \"bench MODE\" (not a sockkit bench result)");
        return -1;
    }
    if (!strcmp(mode, "merge")) { /* bench merge --json: the mode it merged */
        long at = key_value(text, len, 0, "mode", false);
        m = 0;
        for (long i = at + 1; at >= 0 && text[at] == '"' && (size_t)i < len &&
                              m < sizeof mode - 1 && text[i] >= 'a' && text[i] <= 'z';
             i++)
            mode[m++] = text[i];
        mode[m] = '\0';
        if (!m) {
            hdr_why_set(why, whylen, "a bench merge result without its \"mode\"");
            return -1;
        }
    }
    snprintf(run->mode, sizeof run->mode, "%s", mode);
    double size = -1, requests = -1, seconds = 0;
    long at = key_value(text, len, 0, "size_bytes", false);
    /* a message size bench can make (--size is at most 16 MiB), so the cast below is defined */
    if (at < 0 || !json_number(text, len, at, &size) || !(size >= 0 && size <= 1 << 30)) {
        hdr_why_set(why, whylen, "no \"size_bytes\" (0 to 2^30) in its parameters");
        return -1;
    }
    run->size = (long)size;
    at = key_value(text, len, 0, "loop", false); /* parameters.loop: "open" or "closed" */
    if (at >= 0 && starts(text + at, len - (size_t)at, "\"open\""))
        snprintf(run->loop, sizeof run->loop, "open");
    else if (at >= 0 && starts(text + at, len - (size_t)at, "\"closed\""))
        snprintf(run->loop, sizeof run->loop, "closed");
    long end = key_value(text, len, 0, "end", true);
    if (end < 0) {
        end = key_value(text, len, 0, "event", true); /* --json-lines: {"event": "end", ...} */
        if (end < 0 || !starts(text + end, len - (size_t)end, "\"end\"")) {
            hdr_why_set(why, whylen, "no \"end\" (the run did not finish)");
            return -1;
        }
    }
    long req = key_value(text, len, (size_t)end, "requests", false);
    if (req >= 0 && (!json_number(text, len, req, &requests) || requests < 0)) {
        hdr_why_set(why, whylen, "line %d: \"requests\" is not a number",
                    line_of(text, (size_t)req));
        return -1;
    }
    at = key_value(text, len, (size_t)end, "seconds", false);
    if (at >= 0 && !json_number(text, len, at, &seconds))
        seconds = 0;
    run->seconds = seconds;
    double rate = 0;
    at = key_value(text, len, (size_t)end, "requests_per_second", false);
    if (at >= 0 && json_number(text, len, at, &rate) && rate >= 0)
        run->rate = rate;
    at = key_value(text, len, (size_t)end, "hdr_histogram", false);
    const char *close =
        at >= 0 && text[at] == '"' ? memchr(text + at + 1, '"', len - (size_t)at - 1) : NULL;
    if (!close) {
        hdr_why_set(why, whylen,
                    "no \"hdr_histogram\" in its end (a mode without latency, or a sockkit without "
                    "--hdr-log)");
        return -1;
    }
    char reason[160];
    if (hdr_decode_base64(text + at + 1, (size_t)(close - text - at - 1), h, reason,
                          sizeof reason) < 0) {
        hdr_why_set(why, whylen, "line %d: hdr_histogram: %s", line_of(text, (size_t)at), reason);
        return -1;
    }
    /* a count beyond 2^53 is not one a run made, and the cast would be undefined past 2^64 */
    run->requests = requests >= 0 && requests <= 9007199254740992.0 ? (uint64_t)requests : h->total;
    if (!run->rate && seconds > 0)
        run->rate = (double)run->requests / seconds;
    return 0;
}

int hdr_read(const char *text, size_t len, hist *h, struct hdr_run *run, char *why, size_t whylen)
{
    *run = (struct hdr_run){.size = -1};
    hist_init(h);
    size_t i = 0;
    while (i < len && strchr(" \t\r\n", text[i]) && text[i])
        i++;
    if (i == len) {
        hdr_why_set(why, whylen, "empty");
        return -1;
    }
    return text[i] == '{' ? read_json(text, len, h, run, why, whylen)
                          : read_log(text, len, h, run, why, whylen);
}
