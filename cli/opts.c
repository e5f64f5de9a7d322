/* Option tables: getopt_long's arguments and --help, both from one struct cli_cmd. */
#include "opts.h"

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
