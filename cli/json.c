/* JSON output for --json: one document, escaped strings, commas where they belong. */
#include "json.h"

#include <math.h>

void json_init(struct json *j, FILE *out)
{
    *j = (struct json){.out = out};
}

static void quoted(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '\t')
            fputs("\\t", out);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

/* The comma and key before a value. */
static void lead(struct json *j, const char *key)
{
    if (j->more[j->depth])
        fputs(", ", j->out);
    j->more[j->depth] = true;
    if (key) {
        quoted(j->out, key);
        fputs(": ", j->out);
    }
}

static void open_level(struct json *j, const char *key, char c)
{
    lead(j, key);
    fputc(c, j->out);
    if (j->depth < JSON_DEPTH - 1)
        j->depth++;
    j->more[j->depth] = false;
}

void json_object(struct json *j, const char *key)
{
    open_level(j, key, '{');
}

void json_array(struct json *j, const char *key)
{
    open_level(j, key, '[');
}

void json_end(struct json *j, char close)
{
    fputc(close, j->out);
    if (j->depth > 0)
        j->depth--;
    if (j->depth == 0)
        fputc('\n', j->out);
}

void json_str(struct json *j, const char *key, const char *value)
{
    lead(j, key);
    if (value)
        quoted(j->out, value);
    else
        fputs("null", j->out);
}

void json_int(struct json *j, const char *key, long long value)
{
    lead(j, key);
    fprintf(j->out, "%lld", value);
}

void json_num(struct json *j, const char *key, double value)
{
    lead(j, key);
    if (isfinite(value))
        fprintf(j->out, "%.3f", value);
    else
        fputs("null", j->out);
}

void json_bool(struct json *j, const char *key, bool value)
{
    lead(j, key);
    fputs(value ? "true" : "false", j->out);
}

void json_null(struct json *j, const char *key)
{
    lead(j, key);
    fputs("null", j->out);
}
