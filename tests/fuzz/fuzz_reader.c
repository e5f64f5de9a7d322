/* libFuzzer harness: the reader's framing (lines, delimiters, exact lengths, length-prefixed
 * frames, "some") over a real socketpair or pipe, every result checked against a model: the
 * stream as one byte string and a read position.
 *
 * The whole stream is written before the first read (then the write side is closed or not), and
 * every call has timeout 0, so each outcome is determined: what is there, EOF when closed,
 * -ETIMEDOUT when not. The model also knows the reader's limit C (its buffer): a line or a
 * delimited message must fit C with its terminator, an exact read through the buffer too; a frame
 * grows the buffer to hold itself, so C grows with it.
 *
 * Input: flags (bit 0: close the write side; bit 1: a pipe, not a socketpair), 2 bytes of buffer
 * size, 1 byte of operation count, 6 bytes per operation, then the stream. */
#include <sockkit.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"

#define MAX_OPS 32
#define OUT_CAP 1024

typedef struct model {
    const uint8_t *s;
    size_t len, pos, C;
    bool closed;
} model;

/* An expected outcome: rc (a length or a code), the bytes returned, and the position after. */
typedef struct expect {
    ssize_t rc;
    const uint8_t *bytes;
    size_t nbytes, pos;
} expect;

static size_t remaining(const model *m)
{
    return m->len - m->pos;
}

static ssize_t short_code(const model *m)
{
    return m->closed ? SK_EEOF : -ETIMEDOUT;
}

static expect fail(const model *m, ssize_t code)
{
    return (expect){.rc = code, .pos = m->pos};
}

/* First offset (from pos) of delim in the rest of the stream, or -1. */
static ssize_t find(const model *m, const uint8_t *delim, size_t dlen)
{
    size_t R = remaining(m);
    for (size_t i = 0; dlen <= R && i <= R - dlen; i++)
        if (!memcmp(m->s + m->pos + i, delim, dlen))
            return (ssize_t)i;
    return -1;
}

/* Up to a delimiter, at most cap bytes before it; the message and its delimiter must fit C. */
static expect model_until(const model *m, const uint8_t *delim, size_t dlen, size_t cap)
{
    if (dlen == 0)
        return fail(m, SK_EARG);
    ssize_t at = find(m, delim, dlen);
    if (at >= 0) {
        size_t L = (size_t)at;
        if (L <= cap && L + dlen <= m->C)
            return (expect){
                .rc = at, .bytes = m->s + m->pos, .nbytes = L, .pos = m->pos + L + dlen};
        return fail(m, SK_ETOOLONG);
    }
    size_t R = remaining(m);
    return fail(m, R >= cap + dlen || R >= m->C ? SK_ETOOLONG : short_code(m));
}

static expect model_line(const model *m, size_t cap)
{
    if (cap == 0)
        return fail(m, SK_EARG);
    expect e = model_until(m, (const uint8_t *)"\n", 1, cap - 1);
    if (e.rc > 0 && e.bytes[e.rc - 1] == '\r')
        e.rc--, e.nbytes--;
    return e;
}

/* n bytes at least buffered (n <= C), or what the reader's need() says when n > C. */
static expect model_need(const model *m, size_t n)
{
    size_t R = remaining(m);
    if (n <= m->C)
        return R >= n ? (expect){.rc = 0, .pos = m->pos} : fail(m, short_code(m));
    return fail(m, R >= m->C ? SK_ETOOLONG : short_code(m));
}

static expect model_exact(const model *m, size_t n)
{
    size_t R = remaining(m);
    if (R >= n)
        return (expect){.rc = 0, .bytes = m->s + m->pos, .nbytes = n, .pos = m->pos + n};
    expect e = fail(m, short_code(m));
    if (n > m->C)
        e.pos = m->len; /* read straight into the caller's buffer: the partial bytes are gone */
    return e;
}

/* A frame is consumed only when complete: the reader grows its buffer (C) to hold the header and
 * payload, and after a timeout or EOF every byte stays buffered (the position does not move). */
static expect model_frame(model *m, int prefix, size_t cap)
{
    if (prefix != 2 && prefix != 4)
        return fail(m, SK_EARG);
    expect e = model_need(m, (size_t)prefix);
    if (e.rc < 0)
        return e;
    const uint8_t *h = m->s + m->pos;
    size_t len = prefix == 2 ? (size_t)h[0] << 8 | h[1]
                             : (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
    if (len > cap)
        return fail(m, SK_ETOOLONG);
    size_t whole = (size_t)prefix + len;
    if (whole > m->C)
        m->C = whole;
    e = model_need(m, whole);
    if (e.rc < 0)
        return e;
    return (expect){.rc = (ssize_t)len, .bytes = h + prefix, .nbytes = len, .pos = m->pos + whole};
}

/* "some": between 1 and min(cap, rest) bytes; the count is the reader's, the bytes must match. */
static expect model_some(const model *m, size_t cap, ssize_t got)
{
    if (cap == 0)
        return fail(m, SK_EARG);
    size_t R = remaining(m);
    if (R == 0)
        return fail(m, m->closed ? 0 : -ETIMEDOUT);
    size_t most = cap < R ? cap : R;
    if (got < 1 || (size_t)got > most)
        return (expect){
            .rc = (ssize_t)most, .bytes = m->s + m->pos, .nbytes = most, .pos = m->pos + most};
    return (expect){
        .rc = got, .bytes = m->s + m->pos, .nbytes = (size_t)got, .pos = m->pos + (size_t)got};
}

static const char *const names[] = {"line", "until", "exact", "frame", "some"};

static void check(model *m, sk_reader *r, int kind, ssize_t rc, const uint8_t *out, expect e)
{
    FUZZ_CHECK(rc == e.rc, "%s: returned %zd, model %zd (pos %zu of %zu, C %zu, %s; %s)",
               names[kind], rc, e.rc, m->pos, m->len, m->C, m->closed ? "closed" : "open",
               sk_errmsg());
    if (rc >= 0 && e.nbytes)
        FUZZ_CHECK(!memcmp(out, e.bytes, e.nbytes), "%s: wrong bytes at pos %zu", names[kind],
                   m->pos);
    m->pos = e.pos;
    size_t buffered = sk_reader_buffered(r);
    FUZZ_CHECK(buffered <= remaining(m) && buffered <= m->C,
               "%s: %zu bytes buffered, %zu left in the stream, C %zu", names[kind], buffered,
               remaining(m), m->C);
}

static void run_op(model *m, sk_reader *r, const uint8_t op[6])
{
    static uint8_t out[OUT_CAP + 1];
    int kind = op[0] % 5;
    size_t x = (size_t)op[1] << 8 | op[2];
    ssize_t rc;
    expect e;
    switch (kind) {
    case 0: { /* line */
        size_t cap = x % 400;
        rc = sk_reader_line(r, (char *)out, cap, 0);
        e = model_line(m, cap);
        if (rc >= 0)
            FUZZ_CHECK(out[rc] == '\0', "line not NUL-terminated");
        break;
    }
    case 1: { /* until */
        size_t cap = x % 400, dlen = op[3] % 5;
        const uint8_t delim[4] = {op[4], op[5], op[4], op[5]};
        rc = sk_reader_until(r, delim, dlen, out, cap, 0);
        e = model_until(m, delim, dlen, cap);
        break;
    }
    case 2: { /* exact */
        size_t n = x % 700;
        rc = sk_reader_exact(r, out, n, 0);
        e = model_exact(m, n);
        break;
    }
    case 3: { /* frame */
        size_t cap = x % 700;
        int prefix = op[3] & 0x80 ? op[3] & 7 : op[3] & 1 ? 4 : 2;
        rc = sk_reader_frame(r, prefix, out, cap, 0);
        e = model_frame(m, prefix, cap);
        break;
    }
    default: { /* some */
        size_t cap = x % 400;
        rc = sk_reader_some(r, out, cap, 0);
        e = model_some(m, cap, rc);
        break;
    }
    }
    check(m, r, kind, rc, out, e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    uint8_t flags = fuzz_u8(&in);
    size_t bufsize = fuzz_uint(&in, 2) % 320;
    size_t nops = fuzz_u8(&in) % (MAX_OPS + 1);
    size_t opbytes;
    const uint8_t *ops = fuzz_bytes(&in, nops * 6, &opbytes);
    nops = opbytes / 6;
    model m = {.s = in.p, .len = in.n, .C = bufsize ? bufsize : 64 * 1024, .closed = flags & 1};

    int fd[2];
    bool pipe_mode = flags & 2;
    int rc =
        pipe_mode ? pipe2(fd, O_CLOEXEC) : socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd);
    FUZZ_CHECK(rc == 0, "socketpair/pipe: %s", strerror(errno));
    /* the stream (at most libFuzzer's max_len, far below a socket's or pipe's buffer) */
    for (size_t done = 0; done < m.len;) {
        ssize_t n = write(fd[1], m.s + done, m.len - done);
        FUZZ_CHECK(n > 0, "write: %s", strerror(errno));
        done += (size_t)n;
    }
    if (m.closed) {
        close(fd[1]);
        fd[1] = -1;
    }
    sk_reader *r = NULL;
    FUZZ_CHECK(sk_reader_new(&r, fd[0], bufsize) == 0 && sk_reader_fd(r) == fd[0], "sk_reader_new");
    for (size_t i = 0; i < nops; i++)
        run_op(&m, r, ops + 6 * i);
    sk_reader_free(r);
    close(fd[0]);
    if (fd[1] >= 0)
        close(fd[1]);
    return 0;
}
