/* Trace: one line per socket operation — time, role, transport, the call — and hexdumps of data.
 *
 * Off by default, and then every hook returns after one relaxed atomic load. Turned on by
 * sk_trace_set() or by SOCKKIT_TRACE=calls|data in the environment (read once, on first use).
 * Each event is formatted into one buffer and written with one write(2) under a mutex, so lines
 * from several threads never interleave. Per-fd state (role, family, type, running offsets in each
 * direction) lives in a table indexed by fd, kept only while tracing is on. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct fdinfo {
    bool known;
    signed char role;
    int family, type;
    uint64_t off[2]; /* [0] received, [1] sent */
};

static atomic_int level = -1; /* -1: not yet decided (environment not read) */
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int out_fd = STDERR_FILENO;
static sk_trace_sink sink_fn;
static void *sink_arg;
static size_t max_dump = 4096;
static struct fdinfo *fds;
static size_t nfds;

static void read_env(void)
{
    const char *max = getenv("SOCKKIT_TRACE_MAX");
    if (max && *max)
        max_dump = strtoul(max, NULL, 10);
    const char *v = getenv("SOCKKIT_TRACE");
    int want = SK_TRACE_OFF;
    if (v && (!strcmp(v, "calls") || !strcmp(v, "call")))
        want = SK_TRACE_CALLS;
    else if (v && (!strcmp(v, "data") || !strcmp(v, "1") || !strcmp(v, "on") || !strcmp(v, "all")))
        want = SK_TRACE_DATA;
    const char *file = getenv("SOCKKIT_TRACE_FILE");
    if (want && file && *file) {
        int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0)
            out_fd = fd; /* stays open for the life of the process */
    }
    int unset = -1;
    atomic_compare_exchange_strong(&level, &unset, want); /* sk_trace_set may have won */
}

enum sk_trace_level sk_trace_level(void)
{
    int l = atomic_load_explicit(&level, memory_order_relaxed);
    if (l >= 0)
        return (enum sk_trace_level)l;
    pthread_once(&env_once, read_env);
    return (enum sk_trace_level)atomic_load(&level);
}

void sk_trace_set(enum sk_trace_level lvl, int fd)
{
    pthread_once(&env_once, read_env);
    pthread_mutex_lock(&lock);
    out_fd = fd < 0 ? STDERR_FILENO : fd;
    if (lvl == SK_TRACE_OFF) {
        free(fds);
        fds = NULL;
        nfds = 0;
    }
    pthread_mutex_unlock(&lock);
    int l = (int)lvl; /* a number from outside the enum: the nearest level */
    atomic_store(&level, l < 0 ? 0 : l > SK_TRACE_DATA ? SK_TRACE_DATA : l);
}

void sk_trace_set_sink(sk_trace_sink fn, void *arg)
{
    pthread_mutex_lock(&lock);
    sink_fn = fn;
    sink_arg = arg;
    pthread_mutex_unlock(&lock);
}

/* ---- per-fd state (lock held) -------------------------------------------------------------- */

static struct fdinfo *info(int fd)
{
    if (fd < 0)
        return NULL;
    if ((size_t)fd >= nfds) {
        size_t n = nfds ? nfds : 64;
        while (n <= (size_t)fd)
            n *= 2;
        struct fdinfo *t = realloc(fds, n * sizeof *t);
        if (!t)
            return NULL;
        memset(t + nfds, 0, (n - nfds) * sizeof *t);
        fds = t;
        nfds = n;
    }
    struct fdinfo *i = &fds[fd];
    if (!i->known) {
        /* An fd the tracer never saw created: ask the kernel what it is. */
        socklen_t len = sizeof i->family;
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &i->family, &len) < 0)
            i->family = -1;
        len = sizeof i->type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &i->type, &len) < 0)
            i->type = -1;
        i->known = true;
    }
    return i;
}

static const char *transport(const struct fdinfo *i)
{
    if (!i)
        return "-";
    int type = i->type & 0xf;
    switch (i->family) {
    case AF_INET:
    case AF_INET6:
        return type == SOCK_STREAM ? "tcp" : type == SOCK_DGRAM ? "udp" : "ip";
    case AF_UNIX:
        return type == SOCK_STREAM ? "unix" : type == SOCK_DGRAM ? "unix-dgram" : "unix-seq";
    default:
        return "-";
    }
}

static const char *role_name(const struct fdinfo *i)
{
    if (!i)
        return "-";
    return i->role == SK_ROLE_CLIENT ? "client" : i->role == SK_ROLE_SERVER ? "server" : "-";
}

void sk_trace_set_role(int fd, sk_role role)
{
    if (!sk_trace_level())
        return;
    pthread_mutex_lock(&lock);
    struct fdinfo *i = info(fd);
    if (i)
        i->role = (signed char)role;
    pthread_mutex_unlock(&lock);
}

void sk__trace_role(int fd, sk_role role)
{
    sk_trace_set_role(fd, role);
}

void sk__trace_socket(int fd, int family, int type, int proto, sk_role role)
{
    if (!sk_trace_level())
        return;
    pthread_mutex_lock(&lock);
    struct fdinfo *i = info(fd);
    if (i)
        *i = (struct fdinfo){
            .known = true, .role = (signed char)role, .family = family, .type = type};
    pthread_mutex_unlock(&lock);
}

/* ---- output -------------------------------------------------------------------------------- */

/* "15:20:01.123456 " — wall-clock time of day with microseconds, as strace -tt prints it. */
static size_t stamp(char *buf, size_t len)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    return (size_t)snprintf(buf, len, "%02d:%02d:%02d.%06ld ", tm.tm_hour, tm.tm_min, tm.tm_sec,
                            (long)tv.tv_usec);
}

/* Write one whole event (lock held). */
static void emit(const char *text, size_t len)
{
    if (sink_fn) {
        sink_fn(text, len, sink_arg);
        return;
    }
    while (len) {
        ssize_t n = write(out_fd, text, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* a trace that cannot be written is dropped, never an error */
        text += n;
        len -= (size_t)n;
    }
}

/* The line head: time, role, transport. */
static size_t head(char *buf, size_t len, const struct fdinfo *i)
{
    size_t n = stamp(buf, len);
    n += (size_t)snprintf(buf + n, len - n, "%-6s %-4s  ", role_name(i), transport(i));
    return n < len ? n : len - 1;
}

void sk__trace_call(int fd, const char *fmt, ...)
{
    if (!sk_trace_level())
        return;
    char line[1024];
    pthread_mutex_lock(&lock);
    size_t n = head(line, sizeof line - 1, info(fd));
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(line + n, sizeof line - 1 - n, fmt, ap);
    va_end(ap);
    n += k < 0 ? 0 : (size_t)k < sizeof line - 1 - n ? (size_t)k : sizeof line - 2 - n;
    line[n++] = '\n';
    emit(line, n);
    pthread_mutex_unlock(&lock);
}

void sk__trace_close(int fd)
{
    if (!sk_trace_level())
        return;
    sk__trace_call(fd, "close %d", fd);
    pthread_mutex_lock(&lock);
    if (fd >= 0 && (size_t)fd < nfds)
        memset(&fds[fd], 0, sizeof fds[fd]);
    pthread_mutex_unlock(&lock);
}

/* Hexdump lines, each starting with prefix. snprintf-style: returns the full length. */
static size_t dump(const unsigned char *p, size_t len, size_t base, const char *prefix, char *out,
                   size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    size_t need = 0;
    for (size_t off = 0; off < len; off += 16) {
        char line[128];
        size_t k = (size_t)snprintf(line, sizeof line, "%s%08zx  ", prefix, base + off);
        if (k >= sizeof line - 80)
            k = sizeof line - 80; /* an absurd prefix is cut, the dump never overflows */
        size_t row = len - off < 16 ? len - off : 16;
        for (size_t i = 0; i < 16; i++) {
            if (i < row) {
                line[k++] = hex[p[off + i] >> 4];
                line[k++] = hex[p[off + i] & 15];
            } else {
                line[k++] = ' ';
                line[k++] = ' ';
            }
            line[k++] = ' ';
            if (i == 7)
                line[k++] = ' ';
        }
        line[k++] = ' ';
        line[k++] = '|';
        for (size_t i = 0; i < row; i++) {
            unsigned char c = p[off + i];
            line[k++] = c >= 0x20 && c < 0x7f ? (char)c : '.';
        }
        line[k++] = '|';
        line[k++] = '\n';
        if (need + k < outlen)
            memcpy(out + need, line, k);
        else if (need < outlen)
            memcpy(out + need, line, outlen - need - 1);
        need += k;
    }
    if (outlen)
        out[need < outlen ? need : outlen - 1] = '\0';
    return need;
}

size_t sk_hexdump(const void *data, size_t len, size_t base_offset, char *out, size_t outlen)
{
    return dump(data, len, base_offset, "", out, outlen);
}

static void data_line(int fd, char dir, const sk_addr *peer, const void *data, size_t len,
                      const char *note);

void sk__trace_data(int fd, char dir, const sk_addr *peer, const void *data, size_t len)
{
    data_line(fd, dir, peer, data, len, "");
}

void sk__trace_tls_data(int fd, char dir, const void *data, size_t len)
{
    data_line(fd, dir, NULL, data, len, "  tls plaintext (decrypted)");
}

static void data_line(int fd, char dir, const sk_addr *peer, const void *data, size_t len,
                      const char *note)
{
    int lvl = sk_trace_level();
    if (!lvl)
        return;
    char who[SK_ADDRSTRLEN] = "?";
    sk_addr p = {.len = sizeof p.u};
    if (peer)
        sk_addr_format(peer, who, sizeof who);
    else if (getpeername(fd, &p.u.sa, &p.len) ==
             0) /* not sk_sock_get_peer_addr: keep sk_errmsg() */
        sk_addr_format(&p, who, sizeof who);
    size_t shown = lvl >= SK_TRACE_DATA ? (len < max_dump ? len : max_dump) : 0;
    /* each dump line is at most 80 bytes for 16 data bytes, plus the prefix */
    size_t cap = 512 + (shown / 16 + 1) * 90;
    char *buf = malloc(cap);
    if (!buf)
        return;
    pthread_mutex_lock(&lock);
    struct fdinfo *i = info(fd);
    uint64_t off = 0;
    if (i) {
        off = i->off[dir == '>'];
        i->off[dir == '>'] += len;
    }
    size_t n = head(buf, cap, i);
    n += (size_t)snprintf(buf + n, cap - n, "%c %s  %zu byte%s @%llu  fd=%d%s\n", dir, who, len,
                          len == 1 ? "" : "s", (unsigned long long)off, fd, note);
    if (shown) {
        n += dump(data, shown, (size_t)off, "    ", buf + n, cap - n);
        if (shown < len)
            n += (size_t)snprintf(buf + n, cap - n,
                                  "    ... %zu more bytes (SOCKKIT_TRACE_MAX=%zu)\n", len - shown,
                                  max_dump);
    }
    emit(buf, n < cap ? n : cap - 1);
    pthread_mutex_unlock(&lock);
    free(buf);
}
