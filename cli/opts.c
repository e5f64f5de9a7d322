/* Option tables: getopt_long's arguments and --help, both from one struct cli_cmd. */
#include "opts.h"
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { HELP_COLUMN = 24, HELP_WIDTH = 80 };

void cli_getopt_init(struct cli_getopt *g, const struct cli_cmd *cmd)
{
    size_t s = 0, l = 0;
    memset(g, 0, sizeof *g);
    g->shorts[s++] = ':';
    for (const struct cli_opt *o = cmd->opts; o && o->key; o++) {
        if (l >= CLI_MAX_OPTS)
            abort(); /* a table larger than CLI_MAX_OPTS is a programming error */
        if (o->key < 256) {
            g->shorts[s++] = (char)o->key;
            if (o->arg != CLI_NOARG)
                g->shorts[s++] = ':';
            if (o->arg == CLI_OPTARG)
                g->shorts[s++] = ':';
        }
        if (o->name)
            g->longs[l++] = (struct option){o->name, (int)o->arg, NULL, o->key};
    }
}

/* "-w, --timeout SECS" */
static int opt_label(char *buf, size_t len, const struct cli_opt *o)
{
    int n = 0;
    if (o->key < 256)
        n += snprintf(buf + n, len - (size_t)n, "-%c%s", o->key, o->name ? ", " : "");
    if (o->name)
        n += snprintf(buf + n, len - (size_t)n, "--%s", o->name);
    if (o->meta && o->arg == CLI_OPTARG)
        n += snprintf(buf + n, len - (size_t)n, o->name ? "[=%s]" : "[%s]", o->meta);
    else if (o->meta)
        n += snprintf(buf + n, len - (size_t)n, " %s", o->meta);
    return n;
}

/* Print text from column `col`, wrapping at HELP_WIDTH, continuation lines indented to `col`. */
static void wrapped(FILE *out, const char *text, int col)
{
    int at = col;
    const char *p = text;
    while (*p) {
        size_t word = strcspn(p, " ");
        if (at > col && at + 1 + (int)word > HELP_WIDTH) {
            fprintf(out, "\n%*s", col, "");
            at = col;
        } else if (at > col) {
            fputc(' ', out);
            at++;
        }
        fprintf(out, "%.*s", (int)word, p);
        at += (int)word;
        p += word;
        while (*p == ' ')
            p++;
    }
    fputc('\n', out);
}

void cli_help(FILE *out, const struct cli_cmd *cmd)
{
    fprintf(out, "usage: sockkit %s%s%s\n", cmd->name, cmd->name[0] ? " " : "", cmd->synopsis);
    if (cmd->about)
        fprintf(out, "\n%s\n", cmd->about);
    if (cmd->subs) {
        fprintf(out, "\n%s:\n", cmd->name[0] ? "modes" : "commands");
        for (const struct cli_cmd *const *s = cmd->subs; *s; s++) {
            const char *word = strrchr((*s)->name, ' ');
            word = word ? word + 1 : (*s)->name;
            fprintf(out, "  %-10s ", word);
            wrapped(out, (*s)->summary, 13);
        }
    }
    if (cmd->opts && cmd->opts->key) {
        fprintf(out, "\noptions:\n");
        for (const struct cli_opt *o = cmd->opts; o->key; o++) {
            if (!o->help)
                continue;
            char label[128];
            int n = opt_label(label, sizeof label, o);
            fprintf(out, "  %s", label);
            if (2 + n + 2 > HELP_COLUMN)
                fprintf(out, "\n%*s", HELP_COLUMN, "");
            else
                fprintf(out, "%*s", HELP_COLUMN - 2 - n, "");
            wrapped(out, o->help, HELP_COLUMN);
        }
    }
    if (cmd->footer)
        fprintf(out, "\n%s\n", cmd->footer);
}

int cli_next_option(struct cli_parser *p, int argc, char **argv, struct cli_common *co)
{
    if (!p->ready) {
        cli_getopt_init(&p->g, p->cmd);
        opterr = 0;
        optind = 1;
        p->ready = true;
    }
    for (;;) {
        int c = getopt_long(argc, argv, p->g.shorts, p->g.longs, NULL);
        switch (c) {
        case -1:
            if (co->quiet && co->verbose)
                cli_usage_error("-q and -v contradict each other: choose one");
            if (co->json && co->json_lines)
                cli_usage_error("--json and --json-lines contradict each other: choose one");
            return -1;
        case 'h':
            cli_help(stdout, p->cmd);
            exit(EXIT_OK);
        case 'v':
            co->verbose++;
            break;
        case 'q':
            co->quiet = true;
            break;
        case 'i':
            co->interval_ms = cli_parse_seconds_ms(optarg, "--interval");
            if (co->interval_ms < 100)
                cli_usage_error("--interval must be at least 0.1 seconds, not '%s'", optarg);
            break;
        case CLI_KEY_TRACE:
            co->trace = cli_trace_level(optarg);
            break;
        case CLI_KEY_TRACE_FILE:
            cli_trace_file(optarg);
            co->trace_file = true;
            break;
        case CLI_KEY_TRACE_FORMAT:
            cli_trace_format(optarg);
            break;
        case CLI_KEY_PCAP:
            cli_pcap_file(optarg);
            co->pcap = true;
            break;
        case CLI_KEY_JSON:
            co->json = true;
            break;
        case CLI_KEY_JSON_LINES:
            co->json_lines = true;
            break;
        case CLI_KEY_NO_TRACE:
            cli_usage_error("%.*s: '%s' makes no socket calls the trace shows (it only looks "
                            "things up); the commands that open connections take it",
                            (int)strcspn(argv[optind - 1], "="), argv[optind - 1], p->cmd->name);
        case ':':
        case '?':
            cli_bad_option(c, argv);
        default:
            return c;
        }
    }
}

int cli_exit_status(int code)
{
    switch (code) {
    case SK_EPARSE:
    case SK_EPORT:
    case SK_ENOHOST:
    case SK_EBRACKET:
    case SK_ESERVICE:
    case SK_EIFACE:
    case SK_EPATHLEN:
    case SK_ENONAME:
    case SK_ENOADDR:
    case SK_ENOTMCAST:
    case SK_ESSM:
    case SK_ENOTDGRAM:
    case SK_EOPTION:
    case SK_EARG:
        return EXIT_USAGE;
    default:
        return code < 0 ? EXIT_RUNTIME : EXIT_OK;
    }
}

static double parse_rate(const char *text, double max, const char *what, const char *unit,
                         bool zero_ok)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    /* strtod also takes "inf", "nan", hex and leading blanks; a rate is plain decimal */
    if (end == text || errno || !isfinite(v) ||
        (size_t)(end - text) > strspn(text, "0123456789.+-eE"))
        cli_usage_error("%s must be a number of %s per second (200, 1.5k, 2M), not '%s'", what,
                        unit, text);
    double scale = 1;
    if (*end) {
        if (end[1] || !strchr("kMG", *end))
            cli_usage_error("%s '%s': unknown suffix '%s' (k: thousand, M: million, G: billion)",
                            what, text, end);
        scale = *end == 'k' ? 1e3 : *end == 'M' ? 1e6 : 1e9;
    }
    v *= scale;
    if (zero_ok && v == 0)
        return 0;
    if (!(v > 0))
        cli_usage_error("%s must be %s0 %s per second, not '%s'", what,
                        zero_ok ? "0 (as fast as it can) or more than " : "more than ", unit, text);
    if (v > max)
        cli_usage_error("%s must be at most %.0f %s per second, not '%s'", what, max, unit, text);
    return v;
}

double cli_parse_rate(const char *text, double max, const char *what, const char *unit)
{
    return parse_rate(text, max, what, unit, false);
}

double cli_parse_rate_or_0(const char *text, double max, const char *what, const char *unit)
{
    return parse_rate(text, max, what, unit, true);
}

long cli_parse_size(const char *text, long min, long max, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end == text || errno || v < 0 || strspn(text, "0123456789") != (size_t)(end - text) ||
        (*end && !isalpha((unsigned char)*end)))
        cli_usage_error("%s must be a number of bytes (64, 1k = 1024, 2M), not '%s'", what, text);
    if (*end) {
        const char *units = "kKmMgG";
        const char *u = strchr(units, *end);
        if (!u || end[1])
            cli_usage_error("%s '%s': unknown suffix '%s' (k: x1024, M: x1024^2, G: x1024^3)", what,
                            text, end);
        int shift = (int)(u - units) / 2 * 10 + 10;
        if (v > (LONG_MAX >> shift))
            v = LONG_MAX;
        else
            v <<= shift;
    }
    if (v < min || v > max)
        cli_usage_error("%s must be from %ld to %ld bytes, not '%s'", what, min, max, text);
    return v;
}
