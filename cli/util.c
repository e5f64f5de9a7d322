/* Helpers shared by the subcommands: messages, exit codes, validating number parsers, --trace. */
#include "cli.h"
#include "opts.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <getopt.h>
#include <time.h>
#include <unistd.h>

const char *cli_prog = "sockkit";

/* Length of the well-formed UTF-8 sequence at s (at most n bytes) and its code point, or 0 if
 * the bytes there are not one (stray continuation byte, overlong form, surrogate, > U+10FFFF). */
static size_t utf8_char(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
    if (len == 0 || len > n || s[0] > 0xf4)
        return 0;
    uint32_t c = s[0] & (0x3fu >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3fu);
    }
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < least[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/* Code points a terminal acts on rather than shows: C1 controls, line and paragraph separators,
 * and the bidirectional overrides that make text read other than it is. */
static bool invisible(uint32_t c)
{
    return (c >= 0x80 && c <= 0x9f) || c == 0x2028 || c == 0x2029 || (c >= 0x202a && c <= 0x202e) ||
           (c >= 0x2066 && c <= 0x2069);
}

/* One input character at s as it is shown: into e (NUL-terminated); returns the bytes used. */
static size_t escape_one(const unsigned char *s, size_t n, char e[12])
{
    uint32_t cp;
    size_t len;
    switch (s[0]) {
    case '\n':
        strcpy(e, "\\n");
        return 1;
    case '\r':
        strcpy(e, "\\r");
        return 1;
    case '\t':
        strcpy(e, "\\t");
        return 1;
    case '\\':
        strcpy(e, "\\\\");
        return 1;
    }
    if (s[0] < 0x20 || s[0] == 0x7f) {
        snprintf(e, 12, "\\x%02x", s[0]);
        return 1;
    }
    if (s[0] < 0x80) {
        e[0] = (char)s[0];
        e[1] = '\0';
        return 1;
    }
    if ((len = utf8_char(s, n, &cp)) == 0) {
        snprintf(e, 12, "\\x%02x", s[0]);
        return 1;
    }
    if (invisible(cp)) {
        snprintf(e, 12, "\\u%04x", (unsigned)cp);
        return len;
    }
    memcpy(e, s, len);
    e[len] = '\0';
    return len;
}

size_t cli_escape(const char *in, size_t n, char *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        char e[12];
        i += escape_one(s + i, n - i, e);
        size_t k = strlen(e);
        if (o + k < cap)
            memcpy(out + o, e, k);
        o += k;
    }
    if (cap)
        out[o < cap ? o : cap - 1] = '\0';
    return o;
}

/* Every message goes through here: "sockkit CMD: " + the text with everything that is not plain
 * printable text escaped (an argument may hold a newline or a terminal escape: the message must
 * stay one line and show what was typed), the middle of an overlong text elided, + suffix. */
static void vsay(const char *suffix, const char *fmt, va_list ap)
{
    enum { KEEP = 1000 }; /* bytes kept from each end of an overlong message */
    char *raw = NULL;
    int n = vasprintf(&raw, fmt, ap);
    if (n < 0) {
        fprintf(stderr, "%s: out of memory\n", cli_prog);
        return;
    }
    size_t head = (size_t)n, tail = 0;
    if (head > 3 * KEEP) {
        head = tail = KEEP;
    }
    /* per thread: the relay's and serve's loops say things at once (one buffer for all made a
     * line come out twice and another not at all: relay_basic's --workers 2 under ASan) */
    static _Thread_local char buf[3 * KEEP * 6 + 64]; /* \u202e: 6 bytes for 3, \x01: 4 for 1 */
    size_t o = cli_escape(raw, head, buf, sizeof buf);
    if (tail) {
        o += (size_t)snprintf(buf + o, sizeof buf - o, "...(%zu bytes left out)...",
                              (size_t)n - head - tail);
        cli_escape(raw + (size_t)n - tail, tail, buf + o, sizeof buf - o);
    }
    free(raw);
    fprintf(stderr, "%s: %s%s\n", cli_prog, buf, suffix);
}

void cli_say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay("", fmt, ap);
    va_end(ap);
}

noreturn void cli_die(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay("", fmt, ap);
    va_end(ap);
    exit(status);
}

noreturn void cli_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay("", fmt, ap);
    va_end(ap);
    exit(cli_exit_status(code));
}

noreturn void cli_usage_error(const char *fmt, ...)
{
    char suffix[96];
    snprintf(suffix, sizeof suffix, " (see '%s --help')", cli_prog);
    va_list ap;
    va_start(ap, fmt);
    vsay(suffix, fmt, ap);
    va_end(ap);
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

sk_loop_backend cli_parse_backend(const char *text)
{
    if (!strcmp(text, "epoll"))
        return SK_LOOP_EPOLL;
    if (!strcmp(text, "poll"))
        return SK_LOOP_POLL;
    if (!strcmp(text, "io_uring"))
        return SK_LOOP_URING;
    cli_usage_error("--backend must be epoll, poll or io_uring, not '%s'", text);
}

void cli_say_backend(const sk_server *srv)
{
    const char *why, *name = sk_server_backend(srv, &why);
    if (name && why)
        cli_say("backend %s (%s)", name, why);
    else if (name)
        cli_say("backend %s", name);
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

/* The level and the file of --trace and --trace-file, in whichever order they came. */
static int trace_level, trace_fd = -1;

int cli_trace_level(const char *value)
{
    if (!value || !strcmp(value, "data"))
        trace_level = SK_TRACE_DATA;
    else if (!strcmp(value, "calls"))
        trace_level = SK_TRACE_CALLS;
    else
        cli_usage_error("--trace takes 'calls' or 'data', not '%s'", value);
    sk_trace_set(trace_level, trace_fd);
    return trace_level;
}

int cli_open_file(const char *what, const char *path, int flags, mode_t mode)
{
    const char *sep = what ? " " : "";
    what = what ? what : "";
    int fd = open(path, flags | O_CLOEXEC, mode);
    bool writing = (flags & O_ACCMODE) != O_RDONLY;
    if (fd < 0 && errno == ENXIO && writing && (flags & O_NONBLOCK))
        return -1;
    if (fd < 0)
        cli_usage_error("%s%s%s: %s%s", what, sep, path, strerror(errno),
                        writing ? ": name a file in a directory you can write to" : "");
    struct stat st;
    if (!writing && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
        cli_usage_error("%s%s%s: a directory: name a file", what, sep, path);
    return fd;
}

void cli_trace_file(const char *path)
{
    if (!*path)
        cli_usage_error("--trace-file needs a file name");
    int fd = cli_open_file("--trace-file", path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (trace_fd >= 0)
        close(trace_fd);
    trace_fd = fd;
    if (!trace_level) /* SOCKKIT_TRACE=calls still chooses the level */
        trace_level = sk_trace_level() ? sk_trace_level() : SK_TRACE_DATA;
    sk_trace_set(trace_level, trace_fd);
}

void cli_trace_format(const char *value)
{
    if (!strcmp(value, "text"))
        sk_trace_set_format(SK_TRACE_TEXT);
    else if (!strcmp(value, "json"))
        sk_trace_set_format(SK_TRACE_JSON);
    else
        cli_usage_error("--trace-format takes 'text' or 'json', not '%s'", value);
    if (!trace_level) { /* alone it turns the trace on, as --trace-file does */
        trace_level = sk_trace_level() ? sk_trace_level() : SK_TRACE_DATA;
        sk_trace_set(trace_level, trace_fd);
    }
}

static char *pcap_path;
static int pcap_fd = -1;

/* One line, once, at exit: the pcap stopped early (a full disk). */
static void pcap_report(void)
{
    int rc = sk_trace_pcap_error();
    if (rc < 0)
        cli_say("warning: --pcap %s: %s: the pcap stopped there (the file is readable up to "
                "that point); the traffic went on",
                pcap_path, sk_strerror(rc));
}

void cli_pcap_file(const char *path)
{
    if (!*path)
        cli_usage_error("--pcap needs a file name");
    int fd = cli_open_file("--pcap", path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!pcap_path)
        atexit(pcap_report);
    sk_trace_set_pcap(-1); /* a second --pcap: the last one counts */
    if (pcap_fd >= 0)
        close(pcap_fd);
    pcap_fd = fd;
    free(pcap_path);
    pcap_path = strdup(path);
    if (!pcap_path)
        cli_die(EXIT_RUNTIME, "--pcap: out of memory");
    sk_trace_set_pcap(fd); /* a failure is the one warning at exit, as a later one would be */
}

/* The option getopt_long just refused, as typed. GNU getopt leaves optopt 0 for an unknown or
 * ambiguous long option, the option's letter for a short one (which may sit inside a group such
 * as -vX, so argv[optind - 1] is not it) and the option's value for a long one given a value it
 * does not take (--help=x). */
noreturn void cli_bad_option(int c, char **argv)
{
    const char *prev = optind > 1 ? argv[optind - 1] : "";
    bool prev_long = !strncmp(prev, "--", 2) && prev[2];
    int name_len = (int)strcspn(prev, "=");
    if (c == ':') { /* a missing value: the option was the last argument */
        if (prev_long)
            cli_usage_error("option '%.*s' needs a value", name_len, prev);
        cli_usage_error("option '-%c' needs a value", optopt);
    }
    if (optopt == 0)
        cli_usage_error("unknown option '%.*s'", name_len, prev);
    const char *group = argv[optind]; /* the short group getopt is inside, if it is */
    bool in_group =
        group && group[0] == '-' && group[1] != '-' && optopt < 256 && strchr(group + 1, optopt);
    if (prev_long && prev[name_len] == '=' && !in_group)
        cli_usage_error("option '%.*s' takes no value", name_len, prev);
    cli_usage_error("unknown option '-%c'", optopt);
}

double cli_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- Ctrl-C and SIGTERM -----------------------------------------------------------------------
 */

static volatile sig_atomic_t stop_signal;
static void (*stop_fn)(void *);
static void *stop_arg;

static void on_stop(int sig)
{
    stop_signal = sig;
    if (stop_fn)
        stop_fn(stop_arg);
}

void cli_catch_stop(void (*fn)(void *arg), void *arg)
{
    stop_fn = fn;
    stop_arg = arg;
    struct sigaction sa = {.sa_handler = on_stop};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cli_stop_signal(void)
{
    return stop_signal;
}

void cli_after_interrupt(FILE *out)
{
    if (stop_signal == SIGINT && isatty(fileno(out)))
        fputc('\n', out);
}

/* ---- a Unix socket file removed at exit -------------------------------------------------------
 */

static char remove_path[108];

static void remove_now(void)
{
    if (remove_path[0])
        unlink(remove_path);
}

static void remove_and_die(int sig)
{
    remove_now(); /* unlink is async-signal-safe */
    signal(sig, SIG_DFL);
    raise(sig);
}

bool cli_remove_at_exit(const char *path)
{
    struct stat st;
    if (path[0] == '@' || strlen(path) >= sizeof remove_path || lstat(path, &st) == 0 ||
        errno != ENOENT)
        return false;
    snprintf(remove_path, sizeof remove_path, "%s", path);
    atexit(remove_now);
    struct sigaction sa = {.sa_handler = remove_and_die};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    return true;
}

void cli_keep_at_exit(void)
{
    remove_path[0] = '\0';
}
