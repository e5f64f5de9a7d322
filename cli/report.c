/* One report shape for bench and mcast: text, a JSON document, or JSON lines (see report.h). */
#include "report.h"
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void report_init(struct report *r, const struct cli_common *co)
{
    *r = (struct report){.kind = co->json         ? REPORT_JSON
                                 : co->json_lines ? REPORT_JSON_LINES
                                                  : REPORT_TEXT};
    if (r->kind == REPORT_JSON) {
        r->out = open_memstream(&r->mem, &r->memlen);
        if (!r->out)
            cli_die(EXIT_RUNTIME, "out of memory for the JSON report");
    } else {
        r->out = stdout;
    }
    json_init(&r->j, r->out);
}

/* The length of the well-formed UTF-8 character at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
    size_t n = s[0] < 0x80                    ? 1
               : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
               : s[0] >= 0xe0 && s[0] <= 0xef ? 3
               : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
                                              : 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if (n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f)))
        return 0; /* overlong, or a surrogate */
    if (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f)))
        return 0; /* overlong, or beyond U+10FFFF */
    return n;
}

void report_str(struct json *j, const char *key, const char *value)
{
    if (!value) {
        json_null(j, key);
        return;
    }
    size_t len = strlen(value), o = 0;
    char *clean = malloc(3 * len + 1); /* each invalid byte becomes 3 bytes */
    if (!clean)
        cli_die(EXIT_RUNTIME, "out of memory for the JSON report");
    for (const unsigned char *s = (const unsigned char *)value; *s;) {
        size_t n = utf8_len(s);
        if (n) {
            memcpy(clean + o, s, n);
            o += n;
            s += n;
        } else {
            memcpy(clean + o, "\xef\xbf\xbd", 3);
            o += 3;
            s++;
        }
    }
    clean[o] = '\0';
    json_str(j, key, clean);
    free(clean);
}

/* Open the object of one event: --json: a member of the document; --json-lines: its own line. */
static struct json *open_event(struct report *r, const char *event)
{
    if (r->kind == REPORT_JSON_LINES) {
        json_object(&r->j, NULL);
        json_str(&r->j, "event", event);
        json_object(&r->j, "data");
    } else {
        json_object(&r->j, event);
    }
    return &r->j;
}

static void close_event(struct report *r)
{
    json_end(&r->j, '}');
    if (r->kind == REPORT_JSON_LINES) {
        json_end(&r->j, '}');     /* the line's newline comes with it */
        json_init(&r->j, r->out); /* the next line starts without a comma */
        fflush(r->out);
    }
}

struct json *report_start(struct report *r, const char *command, int argc, char **argv)
{
    if (r->kind == REPORT_JSON)
        json_object(&r->j, NULL);
    struct json *j = open_event(r, "start");
    json_str(j, "version", SOCKKIT_VERSION_STRING);
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    json_str(j, "time", when);
    json_str(j, "command", command);
    json_array(j, "command_line");
    json_str(j, NULL, "sockkit");
    for (int i = 0; i < argc; i++)
        report_str(j, NULL, argv[i]);
    json_end(j, ']');
    return j;
}

void report_start_done(struct report *r)
{
    close_event(r);
    if (r->kind == REPORT_JSON) {
        json_array(&r->j, "intervals");
        r->in_intervals = true;
    }
}

struct json *report_interval(struct report *r)
{
    if (r->kind == REPORT_JSON) {
        json_object(&r->j, NULL);
        return &r->j;
    }
    return open_event(r, "interval");
}

void report_interval_done(struct report *r)
{
    if (r->kind == REPORT_JSON)
        json_end(&r->j, '}');
    else
        close_event(r);
}

struct json *report_end(struct report *r)
{
    if (r->in_intervals) {
        json_end(&r->j, ']');
        r->in_intervals = false;
    }
    return open_event(r, "end");
}

void report_finish(struct report *r)
{
    close_event(r);
    if (r->kind != REPORT_JSON)
        return;
    json_end(&r->j, '}');
    if (fclose(r->out) != 0)
        cli_die(EXIT_RUNTIME, "the JSON report: %s", strerror(errno));
    fwrite(r->mem, 1, r->memlen, stdout);
    fflush(stdout);
    free(r->mem);
    r->mem = NULL;
}
