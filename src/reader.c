/* Buffered reader over an fd: lines, delimiters, exact lengths and length-prefixed frames, each
 * with a whole-call deadline. Bytes read past a message stay buffered for the next call.
 *
 * The buffer holds [start, end) of unread bytes; it is compacted (moved to the front) only when
 * more room is needed, so a stream of small messages costs no copying. */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct sk_reader {
    int fd;
    sk__read_fn source; /* read through this (TLS: sk_reader_new_tls), else the fd itself */
    void *source_ctx;
    bool not_socket; /* recv(2) said ENOTSOCK: a pipe or file, use read(2) */
    bool eof;
    size_t cap, start, end;
    unsigned char *buf;
};

int sk_reader_new(sk_reader **out, int fd, size_t bufsize)
{
    if (!out || fd < 0)
        return sk__fail(SK_EARG, "reader new: fd %d", fd);
    sk_reader *r = calloc(1, sizeof *r);
    if (!r)
        return sk__fail(-ENOMEM, "reader new fd %d", fd);
    r->fd = fd;
    r->cap = bufsize ? bufsize : SK_READER_BUFSIZE_DEFAULT;
    if (!(r->buf = malloc(r->cap))) {
        free(r);
        return sk__fail(-ENOMEM, "reader new fd %d: %zu bytes", fd, bufsize);
    }
    *out = r;
    return 0;
}

void sk__reader_set_source(sk_reader *r, sk__read_fn fn, void *ctx)
{
    r->source = fn;
    r->source_ctx = ctx;
}

void sk_reader_free(sk_reader *r)
{
    if (!r)
        return;
    free(r->buf);
    free(r);
}

int sk_reader_fd(const sk_reader *r)
{
    return r->fd;
}

size_t sk_reader_buffered(const sk_reader *r)
{
    return r->end - r->start;
}

/* One read into dst (at most len bytes) once the fd is readable or the deadline passes.
 * Returns the count, 0 at EOF, or a negative code. len must be > 0: recv(2) and read(2) return 0
 * for a zero-length read too, and taking that for end-of-stream would end the stream for good. */
static ssize_t read_some(sk_reader *r, void *dst, size_t len, int64_t deadline)
{
    if (len == 0)
        return SK_EARG;
    if (r->source) {
        ssize_t n = r->source(r->source_ctx, dst, len, deadline);
        if (n == 0)
            r->eof = true; /* TLS: the peer's close_notify; a bare TCP end is SK_ETLSTRUNC */
        return n;
    }
    for (;;) {
        ssize_t n;
        if (r->not_socket) {
            /* read(2) has no MSG_DONTWAIT: wait for readiness first so the deadline holds */
            int rc = sk__wait_deadline(r->fd, POLLIN, deadline);
            if (rc < 0)
                return rc;
            n = read(r->fd, dst, len);
        } else {
            n = recv(r->fd, dst, len, MSG_DONTWAIT);
        }
        if (n > 0) {
            sk__trace_data(r->fd, '<', NULL, dst, (size_t)n, r->not_socket ? "read" : "recv");
            return n;
        }
        if (n == 0) {
            r->eof = true;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == ENOTSOCK && !r->not_socket) {
            r->not_socket = true; /* a pipe or a file: fine, read(2) from now on */
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        if (!r->not_socket) {
            int rc = sk__wait_deadline(r->fd, POLLIN, deadline);
            if (rc < 0)
                return rc;
        }
    }
}

/* Make room at the end of the buffer and read once into it. */
static ssize_t fill(sk_reader *r, int64_t deadline)
{
    if (r->eof)
        return 0;
    if (r->start > 0 && r->end == r->cap) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end == r->cap)
        return SK_ETOOLONG; /* the message does not fit the buffer */
    ssize_t n = read_some(r, r->buf + r->end, r->cap - r->end, deadline);
    if (n > 0)
        r->end += (size_t)n;
    return n;
}

/* Find delim in the unread bytes, starting the search at offset `from` (bytes already known not to
 * hold a complete delimiter). Returns its offset from start, or -1. */
static ssize_t find(const sk_reader *r, const void *delim, size_t dlen, size_t from)
{
    const unsigned char *p = r->buf + r->start;
    size_t avail = r->end - r->start;
    if (avail < dlen)
        return -1;
    const unsigned char *hit = memmem(p + from, avail - from, delim, dlen);
    return hit ? hit - p : -1;
}

static ssize_t until(sk_reader *r, const void *delim, size_t dlen, void *out, size_t cap,
                     int timeout_ms, const char *what, size_t *taken)
{
    int64_t deadline = sk__deadline(timeout_ms);
    size_t scanned = 0;
    for (;;) {
        ssize_t at = find(r, delim, dlen, scanned);
        if (at >= 0) {
            if ((size_t)at > cap)
                return sk__fail(SK_ETOOLONG, "%s fd %d: no terminator within %zu bytes", what,
                                r->fd, cap);
            memcpy(out, r->buf + r->start, (size_t)at);
            *taken = (size_t)at + dlen;
            return at;
        }
        size_t avail = r->end - r->start;
        if (avail >= cap + dlen) /* a terminator could only start past cap */
            return sk__fail(SK_ETOOLONG, "%s fd %d: no terminator within %zu bytes", what, r->fd,
                            cap);
        scanned = avail >= dlen ? avail - dlen + 1 : 0;
        ssize_t n = fill(r, deadline);
        if (n == 0)
            return sk__fail(SK_EEOF, "%s fd %d: %zu bytes without a terminator", what, r->fd,
                            r->end - r->start);
        if (n == SK_ETOOLONG)
            return sk__fail(SK_ETOOLONG, "%s fd %d: no terminator within the %zu-byte buffer", what,
                            r->fd, r->cap);
        if (n < 0)
            return sk__fail((int)n, "%s fd %d", what, r->fd);
    }
}

ssize_t sk_reader_until(sk_reader *r, const void *delim, size_t dlen, void *buf, size_t cap,
                        int timeout_ms)
{
    if (!dlen)
        return sk__fail(SK_EARG, "read until fd %d: empty delimiter", r->fd);
    size_t taken = 0;
    ssize_t n = until(r, delim, dlen, buf, cap, timeout_ms, "read until", &taken);
    if (n >= 0)
        r->start += taken;
    return n;
}

ssize_t sk_reader_line(sk_reader *r, char *buf, size_t cap, int timeout_ms)
{
    if (cap == 0)
        return sk__fail(SK_EARG, "read line fd %d: zero-size buffer", r->fd);
    size_t taken = 0;
    ssize_t n = until(r, "\n", 1, buf, cap - 1, timeout_ms, "read line", &taken);
    if (n < 0)
        return n;
    r->start += taken;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return n;
}

/* Wait until at least n bytes are buffered. */
static int need(sk_reader *r, size_t n, int64_t deadline, const char *what)
{
    while (r->end - r->start < n) {
        if (r->cap - r->start < n && r->start > 0) {
            memmove(r->buf, r->buf + r->start, r->end - r->start);
            r->end -= r->start;
            r->start = 0;
        }
        ssize_t k = fill(r, deadline);
        if (k == 0)
            return sk__fail(SK_EEOF, "%s fd %d: got %zu of %zu bytes", what, r->fd,
                            r->end - r->start, n);
        if (k < 0)
            return sk__fail((int)k, "%s fd %d", what, r->fd);
    }
    return 0;
}

int sk_reader_exact(sk_reader *r, void *buf, size_t n, int timeout_ms)
{
    int64_t deadline = sk__deadline(timeout_ms);
    if (n <= r->cap) {
        /* Through the buffer: on a timeout every byte that came stays buffered for a retry. */
        int rc = need(r, n, deadline, "read exact");
        if (rc < 0)
            return rc;
        memcpy(buf, r->buf + r->start, n);
        r->start += n;
        return 0;
    }
    /* Longer than the buffer: what is buffered, then straight into the caller's memory. */
    unsigned char *out = buf;
    size_t have = r->end - r->start;
    memcpy(out, r->buf + r->start, have);
    r->start = r->end = 0;
    size_t done = have;
    while (done < n) {
        ssize_t k = r->eof ? 0 : read_some(r, out + done, n - done, deadline);
        if (k <= 0)
            return sk__fail(k == 0 ? SK_EEOF : (int)k, "read exact fd %d: got %zu of %zu bytes",
                            r->fd, done, n);
        done += (size_t)k;
    }
    return 0;
}

ssize_t sk_reader_frame(sk_reader *r, int prefix_bytes, void *buf, size_t cap, int timeout_ms)
{
    if (prefix_bytes != 2 && prefix_bytes != 4)
        return sk__fail(SK_EARG, "read frame fd %d: prefix of %d bytes (2 or 4)", r->fd,
                        prefix_bytes);
    int64_t deadline = sk__deadline(timeout_ms);
    int rc = need(r, (size_t)prefix_bytes, deadline, "read frame header");
    if (rc < 0)
        return rc;
    const unsigned char *h = r->buf + r->start;
    size_t len = prefix_bytes == 2
                     ? (size_t)h[0] << 8 | h[1]
                     : (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
    if (len > cap)
        return sk__fail(SK_ETOOLONG, "read frame fd %d: %zu-byte frame, buffer holds %zu", r->fd,
                        len, cap);
    /* The whole frame goes through the buffer, grown to hold it if need be (the caller holds cap
     * bytes anyway), and is consumed only once complete: after a timeout the header and every
     * byte that came stay buffered, so a retry reads the same frame. (Reading a long payload
     * straight into buf after taking the header made a retry read payload bytes as a length.) */
    size_t whole = (size_t)prefix_bytes + len;
    if (whole > r->cap) {
        unsigned char *bigger = realloc(r->buf, whole);
        if (!bigger)
            return sk__fail(-ENOMEM, "read frame fd %d: %zu-byte frame", r->fd, len);
        r->buf = bigger;
        r->cap = whole;
    }
    if ((rc = need(r, whole, deadline, "read frame")) < 0)
        return rc;
    memcpy(buf, r->buf + r->start + prefix_bytes, len);
    r->start += whole;
    return (ssize_t)len;
}

ssize_t sk_reader_some(sk_reader *r, void *buf, size_t cap, int timeout_ms)
{
    /* An error, not 0: 0 means end-of-stream, and a caller looping until 0 would stop early. */
    if (cap == 0)
        return sk__fail(SK_EARG, "read fd %d: zero-size buffer", r->fd);
    size_t have = r->end - r->start;
    if (have) {
        size_t n = have < cap ? have : cap;
        memcpy(buf, r->buf + r->start, n);
        r->start += n;
        return (ssize_t)n;
    }
    if (r->eof)
        return 0;
    ssize_t n = read_some(r, buf, cap, sk__deadline(timeout_ms));
    if (n < 0)
        return sk__fail((int)n, "read fd %d", r->fd);
    return n;
}
