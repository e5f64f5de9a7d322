/* Helpers shared by the subcommands: messages, exit codes, validating number parsers, --trace. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include <time.h>

const char *cli_prog = "sockkit";

noreturn void cli_die(int status, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", cli_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(status);
}

noreturn void cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", cli_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see '%s --help')\n", cli_prog);
    exit(EXIT_USAGE);
}

long cli_parse_long(const char *text, long min, long max, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (!*text || *end || errno)
        cli_usage_error("%s must be a whole number, not '%s'", what, text);
    if (v < min || v > max)
        cli_usage_error("%s must be from %ld to %ld, not %ld", what, min, max, v);
    return v;
}

int cli_parse_seconds_ms(const char *text, const char *what)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (!*text || *end || errno || !isfinite(v))
        cli_usage_error("%s must be a number of seconds, not '%s'", what, text);
    if (v < 0 || v > 86400.0 * 365)
        cli_usage_error("%s must be from 0 to 31536000 seconds, not '%s'", what, text);
    return (int)(v * 1000 + 0.5);
}

bool cli_trace_option(int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (!strcmp(a, "--trace") || !strcmp(a, "--trace=data")) {
        sk_trace_set(SK_TRACE_DATA, -1);
        return true;
    }
    if (!strcmp(a, "--trace=calls")) {
        sk_trace_set(SK_TRACE_CALLS, -1);
        return true;
    }
    if (!strncmp(a, "--trace=", 8))
        cli_usage_error("--trace takes 'calls' or 'data', not '%s'", a + 8);
    if (!strcmp(a, "--trace-file") || !strncmp(a, "--trace-file=", 13)) {
        const char *path = a[12] == '=' ? a + 13 : NULL;
        if (!path) {
            if (*i + 1 >= argc)
                cli_usage_error("--trace-file needs a file name");
            path = argv[++*i];
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            cli_die(EXIT_RUNTIME, "--trace-file %s: %s", path, strerror(errno));
        int level = sk_trace_level();
        sk_trace_set(level ? level : SK_TRACE_DATA, fd);
        return true;
    }
    return false;
}

noreturn void cli_bad_option(int c, char **argv)
{
    if (c == ':')
        cli_usage_error("option '%s' needs a value", argv[optind - 1]);
    cli_usage_error("unknown option '%s'", argv[optind - 1]);
}

double cli_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
