/* The result of a measuring run (bench, mcast) in one shape for every command: text, one JSON
 * document (--json), or JSON lines (--json-lines).
 *
 * JSON, as iperf3 writes it: {"start": {...}, "intervals": [{...}, ...], "end": {...}}. `start`
 * has version, time (UTC, RFC 3339), command ("bench echo"), command_line (the arguments, as an
 * array) and parameters (what the run was asked to do); `end` the results; field names carry
 * their unit in SI base units or a prefix of one (seconds, bits_per_second, packets_per_second,
 * latency_us). The document is written into memory and printed whole at report_finish, so a run
 * that fails half-way prints nothing on stdout (its error is one line on stderr).
 *
 * JSON lines, as iperf3's --json-stream: one object per line, printed as it happens:
 * {"event": "start", "data": {...}}, then {"event": "interval", "data": {...}} per interval, then
 * {"event": "end", "data": {...}}. */
#ifndef SOCKKIT_CLI_REPORT_H
#define SOCKKIT_CLI_REPORT_H

#include "json.h"
#include "opts.h"

#include <stdbool.h>
#include <stdio.h>

enum report_kind { REPORT_TEXT, REPORT_JSON, REPORT_JSON_LINES };

struct report {
    enum report_kind kind;
    FILE *out;     /* where the JSON goes: memory (--json) or stdout (--json-lines) */
    char *mem;     /* the --json document */
    size_t memlen; /* its length */
    struct json j;
    bool in_intervals; /* --json: the "intervals" array is open */
};

/* What the shared options asked for. Nothing is written yet. */
void report_init(struct report *r, const struct cli_common *co);
static inline bool report_is_json(const struct report *r)
{
    return r->kind != REPORT_TEXT;
}

/* The start object, with version, time, command and command_line written; the caller adds
 * "parameters" (and anything else the start should say) and calls report_start_done. Only for a
 * JSON report. */
struct json *report_start(struct report *r, const char *command, int argc, char **argv);
void report_start_done(struct report *r);
/* One interval object; the caller writes its fields and calls report_interval_done. */
struct json *report_interval(struct report *r);
void report_interval_done(struct report *r);
/* The end object; the caller writes the results, then report_finish prints the document. */
struct json *report_end(struct report *r);
void report_finish(struct report *r);

/* A string from the command line or the network: invalid UTF-8 is written as U+FFFD, so the
 * document stays valid JSON. */
void report_str(struct json *j, const char *key, const char *value);

#endif
