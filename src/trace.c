/* Trace: one line per socket operation — time, role, transport, the call — and hexdumps of data.
 *
 * Off by default, and then every hook returns after one relaxed atomic load. Turned on by
 * sk_trace_set() or by SOCKKIT_TRACE=calls|data in the environment (read once, on first use).
 * Each event is formatted into one buffer and written with one write(2) under a mutex, so lines
 * from several threads never interleave. Per-fd state (role, family, type, running offsets in each
 * direction) lives in a table indexed by fd, kept only while tracing is on.
 *
 * The same events feed the pcapng output (pcap.c, SOCKKIT_PCAP or sk_trace_set_pcap), which is on
 * or off independently of the text: a hook runs when either is on (sk__trace_on). Text events are
 * lines or, with SOCKKIT_TRACE_FORMAT=json, one JSON object per event with the same fields. */
#include "internal.h"
#include "pcap.h"

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
    bool mirror;   /* TCP: the other end's socket is traced here and writes the pcap stream */
    bool abortive; /* SO_LINGER on with 0 s: close sends RST */
    int family, type;
    uint64_t off[2]; /* [0] received, [1] sent */
    struct sk__pcap_stream tcp;
    char leg[2][24]; /* a relay's leg and direction: [0] received, [1] sent ("" none) */
};

static atomic_int level = -1; /* -1: not yet decided (environment not read) */
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int out_fd = STDERR_FILENO;
static atomic_int format; /* enum sk_trace_format */
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
    const char *fmt = getenv("SOCKKIT_TRACE_FORMAT");
    if (fmt && !strcmp(fmt, "json"))
        atomic_store(&format, SK_TRACE_JSON);
    const char *pcap = getenv("SOCKKIT_PCAP");
    if (pcap && *pcap) {
        /* stays open for the life of the process; a file that cannot be made is no pcap */
        int fd = open(pcap, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0)
            sk__pcap_start(fd);
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

/* Text or pcap: whether the hooks have anything to do. */
bool sk__trace_on(void)
{
    return sk_trace_level() || sk__pcap_on();
}

/* Nothing is traced any more: forget the per-fd state (lock held). */
static void forget_if_off(void)
{
    if (atomic_load(&level) > 0 || sk__pcap_on())
        return;
    free(fds);
    fds = NULL;
    nfds = 0;
}

void sk_trace_set(enum sk_trace_level lvl, int fd)
{
    pthread_once(&env_once, read_env);
    pthread_mutex_lock(&lock);
    out_fd = fd < 0 ? STDERR_FILENO : fd;
    if (lvl == SK_TRACE_OFF) {
        atomic_store(&level, 0);
        forget_if_off();
    }
    pthread_mutex_unlock(&lock);
    int l = (int)lvl; /* a number from outside the enum: the nearest level */
    atomic_store(&level, l < 0 ? 0 : l > SK_TRACE_DATA ? SK_TRACE_DATA : l);
}

void sk_trace_set_format(enum sk_trace_format f)
{
    atomic_store(&format, f == SK_TRACE_JSON ? SK_TRACE_JSON : SK_TRACE_TEXT);
}

int sk_trace_set_pcap(int fd)
{
    pthread_once(&env_once, read_env);
    pthread_mutex_lock(&lock);
    int rc = sk__pcap_start(fd);
    for (size_t k = 0; k < nfds; k++) { /* a new file: each connection starts with a handshake */
        fds[k].tcp = (struct sk__pcap_stream){0};
        fds[k].mirror = false;
    }
    forget_if_off();
    pthread_mutex_unlock(&lock);
    return rc < 0 ? sk__fail(rc, "pcap fd %d: writing the section header", fd) : 0;
}

int sk_trace_pcap_error(void)
{
    return sk__pcap_error();
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
    if (!sk__trace_on())
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
    if (!sk__trace_on())
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

static bool json(void)
{
    return atomic_load_explicit(&format, memory_order_relaxed) == SK_TRACE_JSON;
}

/* s as the inside of a JSON string: quotes, backslashes, control bytes and bytes >= 0x7f escaped
 * (a Unix name's bytes are not necessarily UTF-8). Returns the length as snprintf. */
static size_t json_str(char *out, size_t outlen, const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char e[8];
        size_t k;
        if (c == '"' || c == '\\')
            k = (size_t)snprintf(e, sizeof e, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            k = (size_t)snprintf(e, sizeof e, "\\u%04x", c);
        else
            k = (size_t)snprintf(e, sizeof e, "%c", c);
        if (n + k < outlen)
            memcpy(out + n, e, k);
        n += k;
    }
    if (outlen)
        out[n < outlen ? n : outlen - 1] = '\0';
    return n;
}

/* {"time":"...","role":"...","transport":"...", — the JSON head, the same fields as head(). */
static size_t json_head(char *buf, size_t len, const struct fdinfo *i)
{
    char t[32];
    size_t k = stamp(t, sizeof t);
    t[k ? k - 1 : 0] = '\0'; /* stamp's trailing space */
    int n = snprintf(buf, len, "{\"time\":\"%s\",\"role\":\"%s\",\"transport\":\"%s\",", t,
                     role_name(i), transport(i));
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

/* One call event as text or JSON into line (cap bytes), lock held; returns its length. */
static size_t call_event(char *line, size_t cap, const struct fdinfo *i, const char *call)
{
    size_t n;
    if (json()) {
        n = json_head(line, cap, i);
        n += (size_t)snprintf(line + n, cap - n, "\"call\":\"");
        if (n < cap)
            n += json_str(line + n, cap - n, call);
        if (n < cap)
            n += (size_t)snprintf(line + n, cap - n, "\"}");
    } else {
        n = head(line, cap, i);
        n += (size_t)snprintf(line + n, cap - n, "%s", call);
    }
    if (n > cap - 2)
        n = cap - 2; /* cut, still one line */
    line[n++] = '\n';
    return n;
}

void sk__trace_call(int fd, const char *fmt, ...)
{
    if (!sk_trace_level())
        return;
    char call[1024], line[4096 + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call, sizeof call, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&lock);
    emit(line, call_event(line, sizeof line, info(fd), call));
    pthread_mutex_unlock(&lock);
}

/* ---- pcap (lock held) ---------------------------------------------------------------------- */

static bool is_tcp(const struct fdinfo *i)
{
    return i && (i->family == AF_INET || i->family == AF_INET6) && (i->type & 0xf) == SOCK_STREAM;
}

/* The handshake of fd's connection, unless the socket of its other end is traced here already
 * (a program that is both client and server): one stream per connection, not two. */
static void pcap_establish(int fd, struct fdinfo *i, const char *call)
{
    if (!sk__pcap_on() || !is_tcp(i) || i->tcp.open || i->mirror)
        return;
    if (!sk__pcap_tcp_addrs(&i->tcp, fd))
        return;
    for (size_t k = 0; k < nfds; k++)
        if (&fds[k] != i && sk__pcap_tcp_mirrors(&i->tcp, &fds[k].tcp)) {
            i->mirror = true;
            return;
        }
    char c[256];
    snprintf(c, sizeof c, "%s %s fd=%d", role_name(i), call, fd);
    sk__pcap_tcp_open(&i->tcp, i->role != SK_ROLE_SERVER, c);
}

static void pcap_data(int fd, struct fdinfo *i, char dir, const sk_addr *peer, const char *who,
                      const void *data, size_t len, const char *call, uint64_t off)
{
    if (!sk__pcap_on() || !i)
        return;
    char c[512];
    snprintf(c, sizeof c, "%s %s fd=%d %s %s: %zu byte%s @%llu", role_name(i), call, fd,
             dir == '>' ? "to" : "from", who, len, len == 1 ? "" : "s", (unsigned long long)off);
    int type = i->type & 0xf;
    if (is_tcp(i)) {
        /* a connection made before the trace saw it: its handshake now */
        pcap_establish(fd, i, "(connected before the trace began)");
        if (i->tcp.open && !i->mirror)
            sk__pcap_tcp_data(&i->tcp, dir == '>', data, len, c);
    } else if ((i->family == AF_INET || i->family == AF_INET6) && type == SOCK_DGRAM) {
        sk__pcap_udp(fd, dir == '>', peer, data, len, c);
    } else if (i->family == AF_UNIX) {
        sk__pcap_unix(type == SOCK_STREAM  ? SK__PCAP_UNIX_STREAM
                      : type == SOCK_DGRAM ? SK__PCAP_UNIX_DGRAM
                                           : SK__PCAP_UNIX_SEQ,
                      data, len, c);
    }
}

/* This side's FIN (or RST) for a shutdown or close; the peer's FIN for an end of stream. */
static void pcap_end(int fd, struct fdinfo *i, bool out, bool abortive, const char *call)
{
    if (!sk__pcap_on() || !is_tcp(i) || !i->tcp.open || i->mirror)
        return;
    char c[256];
    snprintf(c, sizeof c, "%s %s fd=%d%s", role_name(i), call, fd,
             out ? "" : ": the peer's FIN (synthesized)");
    if (abortive && !i->tcp.fin_out)
        sk__pcap_tcp_rst(&i->tcp, c);
    else
        sk__pcap_tcp_fin(&i->tcp, out, c);
}

void sk__trace_established(int fd, const char *call)
{
    if (!sk__pcap_on())
        return;
    pthread_mutex_lock(&lock);
    pcap_establish(fd, info(fd), call);
    pthread_mutex_unlock(&lock);
}

void sk__trace_shutdown(int fd, int how, const char *name)
{
    if (!sk__trace_on())
        return;
    sk__trace_call(fd, "shutdown %s", name);
    if (how != SHUT_WR && how != SHUT_RDWR)
        return;
    char call[64];
    snprintf(call, sizeof call, "shutdown(%s)", name);
    pthread_mutex_lock(&lock);
    pcap_end(fd, info(fd), true, false, call);
    pthread_mutex_unlock(&lock);
}

void sk__trace_eof(int fd)
{
    if (!sk__trace_on())
        return;
    sk__trace_call(fd, "recv = 0 (EOF: peer shut down its side)");
    pthread_mutex_lock(&lock);
    pcap_end(fd, info(fd), false, false, "recv = 0");
    pthread_mutex_unlock(&lock);
}

void sk__trace_abortive(int fd, bool on)
{
    if (!sk__trace_on())
        return;
    pthread_mutex_lock(&lock);
    struct fdinfo *i = info(fd);
    if (i)
        i->abortive = on;
    pthread_mutex_unlock(&lock);
}

void sk__trace_set_leg(int fd, const char *in, const char *out)
{
    if (!sk__trace_on())
        return;
    pthread_mutex_lock(&lock);
    struct fdinfo *i = info(fd);
    if (i) {
        snprintf(i->leg[0], sizeof i->leg[0], "%s", in ? in : "");
        snprintf(i->leg[1], sizeof i->leg[1], "%s", out ? out : "");
    }
    pthread_mutex_unlock(&lock);
}

void sk__trace_close(int fd)
{
    if (!sk__trace_on())
        return;
    sk__trace_call(fd, "close %d", fd);
    pthread_mutex_lock(&lock);
    if (fd >= 0 && (size_t)fd < nfds) {
        pcap_end(fd, &fds[fd], true, fds[fd].abortive, "close");
        memset(&fds[fd], 0, sizeof fds[fd]);
    }
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

/* The hex of the bytes, for JSON (snprintf-style). */
static size_t hex(const unsigned char *p, size_t len, char *out, size_t outlen)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t k = 0; k < len && 2 * k + 2 < outlen; k++) {
        out[2 * k] = digits[p[k] >> 4];
        out[2 * k + 1] = digits[p[k] & 15];
    }
    size_t need = 2 * len;
    if (outlen)
        out[need < outlen ? need : (outlen - 1) & ~(size_t)1] = '\0';
    return need;
}

/* The data line (and its dump) as text or JSON into buf; returns its length (< cap). */
static size_t data_event(char *buf, size_t cap, const struct fdinfo *i, char dir, const char *who,
                         const unsigned char *data, size_t len, size_t shown, uint64_t off, int fd,
                         const char *note)
{
    size_t n;
    const char *leg = i && i->leg[dir == '>'][0] ? i->leg[dir == '>'] : NULL;
    if (json()) {
        char w[4 * SK_ADDRSTRLEN];
        json_str(w, sizeof w, who);
        n = json_head(buf, cap, i);
        n += (size_t)snprintf(buf + n, cap - n,
                              "\"dir\":\"%c\",\"peer\":\"%s\",\"bytes\":%zu,\"offset\":%llu,"
                              "\"fd\":%d",
                              dir, w, len, (unsigned long long)off, fd);
        if (leg && n < cap) /* a relay's leg and direction (letters and "->" only) */
            n += (size_t)snprintf(buf + n, cap - n, ",\"leg\":\"%s\"", leg);
        if (*note && n < cap) /* TLS: the bytes are the plaintext, decrypted */
            n += (size_t)snprintf(buf + n, cap - n, ",\"tls_plaintext\":true");
        if (shown && n < cap) {
            n += (size_t)snprintf(buf + n, cap - n, ",\"hex\":\"");
            if (n < cap)
                n += hex(data, shown, buf + n, cap - n);
            if (n < cap)
                n += (size_t)snprintf(buf + n, cap - n, "\"");
            if (shown < len && n < cap)
                n += (size_t)snprintf(buf + n, cap - n, ",\"more\":%zu", len - shown);
        }
        if (n < cap)
            n += (size_t)snprintf(buf + n, cap - n, "}\n");
        return n < cap ? n : cap - 1;
    }
    n = head(buf, cap, i);
    n += (size_t)snprintf(buf + n, cap - n, "%c %s  %zu byte%s @%llu  fd=%d%s%s%s\n", dir, who, len,
                          len == 1 ? "" : "s", (unsigned long long)off, fd, leg ? "  " : "",
                          leg ? leg : "", note);
    if (shown) {
        n += dump(data, shown, (size_t)off, "    ", buf + n, cap - n);
        if (shown < len)
            n += (size_t)snprintf(buf + n, cap - n,
                                  "    ... %zu more bytes (SOCKKIT_TRACE_MAX=%zu)\n", len - shown,
                                  max_dump);
    }
    return n < cap ? n : cap - 1;
}

/* A data event: the text or JSON line (note: "" or the TLS mark) and the pcap's packet. */
static void data_line(int fd, char dir, const sk_addr *peer, const void *data, size_t len,
                      const char *call, const char *note)
{
    if (!sk__trace_on())
        return;
    int lvl = sk_trace_level();
    char who[SK_ADDRSTRLEN] = "?";
    sk_addr p = {.len = sizeof p.u};
    if (peer)
        sk_addr_format(peer, who, sizeof who);
    else if (getpeername(fd, &p.u.sa, &p.len) ==
             0) /* not sk_sock_get_peer_addr: keep sk_errmsg() */
        sk_addr_format(&p, who, sizeof who);
    size_t shown = lvl >= SK_TRACE_DATA ? (len < max_dump ? len : max_dump) : 0;
    /* each dump line is at most 80 bytes for 16 data bytes, plus the prefix */
    size_t cap = 512 + 4 * SK_ADDRSTRLEN + (shown / 16 + 1) * 90;
    char *buf = lvl ? malloc(cap) : NULL;
    if (lvl && !buf)
        return;
    pthread_mutex_lock(&lock);
    struct fdinfo *i = info(fd);
    uint64_t off = 0;
    if (i) {
        off = i->off[dir == '>'];
        i->off[dir == '>'] += len;
    }
    if (lvl)
        emit(buf, data_event(buf, cap, i, dir, who, data, len, shown, off, fd, note));
    pcap_data(fd, i, dir, peer, who, data, len, call, off);
    pthread_mutex_unlock(&lock);
    free(buf);
}

void sk__trace_data(int fd, char dir, const sk_addr *peer, const void *data, size_t len,
                    const char *call)
{
    /* Every recv and send of the library passes here: when nothing traces, return before
     * data_line's frame (its buffers are set up on entry). */
    if (!sk__trace_on())
        return;
    data_line(fd, dir, peer, data, len, call, "");
}

/* TLS's plaintext: marked as such in the text and JSON; in the pcap it is the TCP payload, so
 * Wireshark dissects the protocol inside the TLS. */
void sk__trace_tls_data(int fd, char dir, const void *data, size_t len)
{
    data_line(fd, dir, NULL, data, len, dir == '>' ? "SSL_write" : "SSL_read",
              "  tls plaintext (decrypted)");
}
