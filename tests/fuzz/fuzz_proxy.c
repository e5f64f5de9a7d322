/* libFuzzer harness for the proxy reply parsers (src/proxy.c): SOCKS5 (method choice,
 * username/password answer, CONNECT reply) and the HTTP CONNECT reply header.
 *
 * Input layout:
 *   byte 0   bit 0: 0 SOCKS5, 1 HTTP CONNECT; bit 1: with credentials; bits 2-3: the target (a
 *            name, an IPv4 literal, an IPv6 literal)
 *   byte 1   how the reply arrives: 0 all at once, else in chunks of (byte 1 % 17) bytes (0: 1)
 *   rest     what the proxy sends
 *
 * Each chunk is a heap copy of exactly its bytes, so ASan catches a read past what was given. The
 * machine is driven as a caller must (its requests sent before more input), and its outcome —
 * more wanted, done, refused (SK_EPROXY) or malformed (SK_EPROXYREPLY), and how many bytes it took
 * — must equal that of a model that reads the whole stream at once: "done" only on a well-formed
 * reply, failure at the first byte that shows it, nothing taken past the reply. The outcome must
 * not depend on the chunking (the same input is run once more byte by byte). */
#include "fuzz.h"
#include "sockkit.h"

enum { R_MORE, R_DONE, R_PROXY, R_REPLY };

struct outcome {
    int kind;
    size_t used;
};

/* ---- the model ----------------------------------------------------------------------------- */

#define NEED(k)                                                                                    \
    do {                                                                                           \
        if (n - pos < (k))                                                                         \
            return (struct outcome){R_MORE, n};                                                    \
    } while (0)
#define AT(kind_, k) ((struct outcome){(kind_), pos + (k)})

static struct outcome model_socks(const uint8_t *d, size_t n, bool creds)
{
    size_t pos = 0;
    NEED(1);
    if (d[pos] != 5)
        return AT(R_REPLY, 1);
    NEED(2);
    uint8_t m = d[pos + 1];
    if (m == 0xff)
        return AT(R_PROXY, 2);
    if (m != 0 && !(m == 2 && creds))
        return AT(R_REPLY, 2);
    pos += 2;
    if (m == 2) {
        NEED(1);
        if (d[pos] != 1)
            return AT(R_REPLY, 1);
        NEED(2);
        if (d[pos + 1] != 0)
            return AT(R_PROXY, 2);
        pos += 2;
    }
    NEED(1);
    if (d[pos] != 5)
        return AT(R_REPLY, 1);
    NEED(2);
    if (d[pos + 1] != 0)
        return AT(R_PROXY, 2);
    NEED(4);
    size_t len;
    switch (d[pos + 3]) {
    case 1:
        len = 10;
        break;
    case 4:
        len = 22;
        break;
    case 3:
        NEED(5);
        len = 7 + (size_t)d[pos + 4];
        break;
    default:
        return AT(R_REPLY, 4);
    }
    NEED(len);
    return AT(R_DONE, len);
}

static bool digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static struct outcome model_http(const uint8_t *d, size_t n)
{
    size_t pos = 0;
    for (;;) {
        static const char start[] = "HTTP/";
        for (size_t i = 0; i < 5 && pos + i < n; i++)
            if (d[pos + i] != (uint8_t)start[i])
                return AT(R_REPLY, i + 1);
        size_t end = 0; /* the header's length up to its empty line (CRLF or bare LF) included */
        for (size_t k = 2; k <= SK_PROXY_HEADER_MAX && pos + k <= n; k++) {
            const uint8_t *e = d + pos + k;
            if (e[-1] == '\n' && (e[-2] == '\n' || (k >= 3 && e[-2] == '\r' && e[-3] == '\n'))) {
                end = k;
                break;
            }
        }
        if (!end)
            return n - pos >= SK_PROXY_HEADER_MAX ? AT(R_REPLY, SK_PROXY_HEADER_MAX)
                                                  : (struct outcome){R_MORE, n};
        const uint8_t *l = d + pos;
        size_t eol = 0;
        while (l[eol] != '\n')
            eol++;
        if (eol && l[eol - 1] == '\r')
            eol--;
        bool ok = eol >= 12 && !memcmp(l, "HTTP/1.", 7) && digit(l[7]) && l[8] == ' ' &&
                  digit(l[9]) && digit(l[10]) && digit(l[11]) && (eol == 12 || l[12] == ' ');
        if (!ok)
            return AT(R_REPLY, end);
        if (l[9] == '1') { /* an interim answer: the next header follows */
            pos += end;
            continue;
        }
        return AT(l[9] == '2' ? R_DONE : R_PROXY, end);
    }
}

/* ---- the machine --------------------------------------------------------------------------- */

static sk_proxy *make(uint8_t flags)
{
    static const char *const targets[] = {"example.org:443", "192.0.2.1:80", "[2001:db8::1]:22",
                                          "a:1"};
    sk_proxy_opts o = SK_PROXY_OPTS_INIT(.kind = (flags & 1) ? SK_PROXY_HTTP : SK_PROXY_SOCKS5,
                                         .user = (flags & 2) ? "user" : NULL,
                                         .password = (flags & 2) ? "pw" : NULL);
    sk_proxy *p = NULL;
    int rc = sk_proxy_new(&p, targets[(flags >> 2) & 3], &o);
    FUZZ_CHECK(rc == 0 && p, "sk_proxy_new: %d %s", rc, sk_errmsg());
    return p;
}

static struct outcome drive(uint8_t flags, const uint8_t *d, size_t n, size_t chunk)
{
    sk_proxy *p = make(flags);
    struct outcome o = {R_MORE, 0};
    while (o.used < n) {
        const void *out;
        size_t pending = sk_proxy_output(p, &out);
        FUZZ_CHECK(pending == 0 || out != NULL, "output %zu bytes at NULL", pending);
        FUZZ_CHECK(sk_proxy_sent(p, pending) == 0, "sent %zu", pending);
        size_t len = chunk && chunk < n - o.used ? chunk : n - o.used;
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, d + o.used, len);
        size_t used = (size_t)-1;
        int rc = sk_proxy_input(p, copy, len, &used);
        free(copy);
        FUZZ_CHECK(used <= len, "used %zu of %zu", used, len);
        o.used += used;
        if (rc == SK_PROXY_DONE) {
            o.kind = R_DONE;
            break;
        }
        if (rc < 0) {
            FUZZ_CHECK(rc == SK_EPROXY || rc == SK_EPROXYREPLY, "code %d (%s)", rc, sk_errmsg());
            FUZZ_CHECK(sk_errmsg()[0] != '\0', "no message");
            o.kind = rc == SK_EPROXY ? R_PROXY : R_REPLY;
            FUZZ_CHECK(sk_proxy_input(p, "x", 1, NULL) == rc, "a failed machine came back");
            break;
        }
        FUZZ_CHECK(rc == SK_PROXY_MORE, "result %d", rc);
        FUZZ_CHECK(used == len || sk_proxy_output(p, NULL) > 0,
                   "took %zu of %zu without a request to send", used, len);
        FUZZ_CHECK(used > 0 || len == 0, "took nothing");
    }
    sk_proxy_free(p);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    uint8_t flags = fuzz_u8(&in);
    uint8_t how = fuzz_u8(&in);
    size_t chunk = how ? (how % 17 ? how % 17 : 1) : 0;
    struct outcome want =
        (flags & 1) ? model_http(in.p, in.n) : model_socks(in.p, in.n, (flags & 2) != 0);
    struct outcome got = drive(flags, in.p, in.n, chunk);
    FUZZ_CHECK(got.kind == want.kind && got.used == want.used,
               "machine %d after %zu bytes, model %d after %zu (flags %u, chunk %zu)", got.kind,
               got.used, want.kind, want.used, flags, chunk);
    struct outcome bytewise = drive(flags, in.p, in.n, 1);
    FUZZ_CHECK(bytewise.kind == got.kind && bytewise.used == got.used,
               "byte by byte: %d after %zu; in chunks of %zu: %d after %zu", bytewise.kind,
               bytewise.used, chunk, got.kind, got.used);
    return 0;
}
