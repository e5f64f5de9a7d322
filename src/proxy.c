/* Proxy handshakes as state machines over bytes: HTTP CONNECT (RFC 9110 section 9.3.6, Basic
 * credentials RFC 7617) and SOCKS5 (RFC 1928, username/password RFC 1929). No socket here: the
 * caller moves the bytes (proxy_connect.c blocking, an event loop without blocking).
 *
 * Input is taken one byte at a time into a buffer until the message the state waits for is
 * complete, so that nothing past the proxy's reply is ever consumed (those bytes are the tunnel's)
 * and every length check happens before a byte is stored. Malformed input is refused at the first
 * byte that shows it, so a proxy that sends one wrong byte and stalls fails at once. */
#include "internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUT_MAX 2048
/* A SOCKS5 reply is at most 4 + 1 + 255 + 2 bytes; the HTTP header is the larger bound. */
#define IN_MAX SK_PROXY_HEADER_MAX

enum state {
    WAIT_METHOD, /* SOCKS5: VER METHOD */
    WAIT_AUTH,   /* SOCKS5: VER STATUS of the username/password exchange */
    WAIT_REPLY,  /* SOCKS5: VER REP RSV ATYP BND.ADDR BND.PORT */
    WAIT_HEADER, /* HTTP: status line and fields up to the empty line */
    DONE,
    FAILED,
};

struct sk_proxy {
    sk_proxy_kind kind;
    enum state state;
    int error;      /* the code FAILED returns again */
    char why[1000]; /* and what it was, for sk__proxy_why */
    char host[256];
    uint16_t port;
    char target[300]; /* as the messages show it: "host:port", "[v6]:port" */
    char user[256], password[256];
    bool has_user;
    unsigned char out[OUT_MAX];
    size_t out_len, out_off;
    unsigned char in[IN_MAX];
    size_t in_len;
};

/* ---- messages ------------------------------------------------------------------------------ */

static const char *kind_name(const sk_proxy *p)
{
    return p->kind == SK_PROXY_HTTP ? "HTTP CONNECT" : "SOCKS5";
}

/* RFC 1928 section 6, the REP field. */
static const char *socks_rep_text(unsigned rep)
{
    static const char *const text[] = {
        "succeeded",
        "general SOCKS server failure",
        "connection not allowed by ruleset",
        "Network unreachable",
        "Host unreachable",
        "Connection refused",
        "TTL expired",
        "Command not supported",
        "Address type not supported",
    };
    return rep < sizeof text / sizeof *text ? text[rep] : "unassigned code";
}

static int fail(sk_proxy *p, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(sk_proxy *p, int code, const char *fmt, ...)
{
    char why[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    p->state = FAILED;
    p->error = code;
    snprintf(p->why, sizeof p->why, "%s (target %s)", why, p->target);
    return sk__fail_why(code, p->why, "%s proxy", kind_name(p));
}

const char *sk__proxy_why(const sk_proxy *p)
{
    return p->why;
}

const char *sk__proxy_kind_name(const sk_proxy *p)
{
    return kind_name(p);
}

/* The first bytes of a reply, printable, for a message about what came instead. */
static void quote(const unsigned char *b, size_t n, char *buf, size_t len)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 5 < len; i++) {
        if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\\')
            buf[k++] = (char)b[i];
        else
            k += (size_t)snprintf(buf + k, len - k, "\\x%02x", b[i]);
    }
    buf[k] = '\0';
}

/* ---- output -------------------------------------------------------------------------------- */

static int queue(sk_proxy *p, const void *data, size_t n)
{
    if (p->out_off == p->out_len)
        p->out_off = p->out_len = 0;
    if (n > OUT_MAX - p->out_len)
        return sk__fail(SK_ETOOLONG, "%s proxy: request longer than %d bytes", kind_name(p),
                        OUT_MAX);
    memcpy(p->out + p->out_len, data, n);
    p->out_len += n;
    return 0;
}

static void base64(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[k++] = digits[v >> 18 & 63];
        out[k++] = digits[v >> 12 & 63];
        out[k++] = i + 1 < n ? digits[v >> 6 & 63] : '=';
        out[k++] = i + 2 < n ? digits[v & 63] : '=';
    }
    out[k] = '\0';
}

static int http_request(sk_proxy *p)
{
    char req[OUT_MAX];
    int n = snprintf(req, sizeof req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", p->target, p->target);
    if (p->has_user) {
        char pair[512], b64[700];
        int m = snprintf(pair, sizeof pair, "%s:%s", p->user, p->password);
        base64((const unsigned char *)pair, (size_t)m, b64);
        n += snprintf(req + n, sizeof req - (size_t)n, "Proxy-Authorization: Basic %s\r\n", b64);
        explicit_bzero(pair, sizeof pair);
        explicit_bzero(b64, sizeof b64);
    }
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    int rc = queue(p, req, (size_t)n);
    explicit_bzero(req, sizeof req);
    return rc;
}

static int socks_greeting(sk_proxy *p)
{
    /* Offer "no authentication" always, and username/password when there are credentials. */
    unsigned char g[4] = {5, 1, 0};
    if (p->has_user) {
        g[1] = 2;
        g[3] = 2;
    }
    return queue(p, g, p->has_user ? 4 : 3);
}

static int socks_auth(sk_proxy *p)
{
    unsigned char a[3 + 255 + 255];
    size_t ul = strlen(p->user), pl = strlen(p->password), n = 0;
    a[n++] = 1; /* RFC 1929's version of the sub-negotiation */
    a[n++] = (unsigned char)ul;
    memcpy(a + n, p->user, ul);
    n += ul;
    a[n++] = (unsigned char)pl;
    memcpy(a + n, p->password, pl);
    n += pl;
    int rc = queue(p, a, n);
    explicit_bzero(a, sizeof a);
    return rc;
}

static int socks_request(sk_proxy *p)
{
    unsigned char r[4 + 1 + 255 + 2] = {5, 1, 0}; /* VER CMD=CONNECT RSV */
    size_t n = 3;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, p->host, &a4) == 1) {
        r[n++] = 1;
        memcpy(r + n, &a4, 4);
        n += 4;
    } else if (inet_pton(AF_INET6, p->host, &a6) == 1) {
        r[n++] = 4;
        memcpy(r + n, &a6, 16);
        n += 16;
    } else { /* a name: the proxy resolves it (socks5h) */
        size_t hl = strlen(p->host);
        r[n++] = 3;
        r[n++] = (unsigned char)hl;
        memcpy(r + n, p->host, hl);
        n += hl;
    }
    r[n++] = (unsigned char)(p->port >> 8);
    r[n++] = (unsigned char)(p->port & 0xff);
    return queue(p, r, n);
}

/* ---- replies ------------------------------------------------------------------------------- */

/* Each takes the bytes so far (p->in, p->in_len >= 1, the last one new) and returns 0 for "not
 * complete yet", 1 when the message is complete and handled (state moved on), or < 0. */

static int socks_method(sk_proxy *p)
{
    const unsigned char *b = p->in;
    if (b[0] != 5) {
        char q[16];
        quote(b, 1, q, sizeof q);
        return fail(p, SK_EPROXYREPLY,
                    "the reply starts with '%s' (0x%02x), not SOCKS version 5: is it a SOCKS5 "
                    "proxy?",
                    q, b[0]);
    }
    if (p->in_len < 2)
        return 0;
    if (b[1] == 0xff)
        return fail(
            p, SK_EPROXY, "the proxy accepts none of the authentication methods offered (%s)",
            p->has_user ? "none, username/password" : "none; it may want a user name and password");
    if (b[1] == 0 || (b[1] == 2 && p->has_user)) {
        if ((b[1] == 0 ? socks_request(p) : socks_auth(p)) < 0)
            return fail(p, SK_ETOOLONG, "request too long");
        p->state = b[1] == 0 ? WAIT_REPLY : WAIT_AUTH;
        return 1;
    }
    return fail(p, SK_EPROXYREPLY,
                "the proxy chose authentication method %u, which was not offered", b[1]);
}

static int socks_auth_reply(sk_proxy *p)
{
    const unsigned char *b = p->in;
    if (b[0] != 1)
        return fail(p, SK_EPROXYREPLY, "username/password reply version %u, not 1 (RFC 1929)",
                    b[0]);
    if (p->in_len < 2)
        return 0;
    if (b[1] != 0)
        return fail(p, SK_EPROXY, "username/password authentication failed (status %u)", b[1]);
    if (socks_request(p) < 0)
        return fail(p, SK_ETOOLONG, "request too long");
    p->state = WAIT_REPLY;
    return 1;
}

static int socks_reply(sk_proxy *p)
{
    const unsigned char *b = p->in;
    size_t n = p->in_len;
    if (b[0] != 5)
        return fail(p, SK_EPROXYREPLY, "reply version %u, not 5", b[0]);
    if (n < 2)
        return 0;
    if (b[1] != 0)
        return fail(p, SK_EPROXY, "reply %u: %s", b[1], socks_rep_text(b[1]));
    if (n < 4)
        return 0; /* b[2] is reserved: not checked, as the RFC gives it no meaning */
    size_t want;
    switch (b[3]) {
    case 1:
        want = 4 + 4 + 2;
        break;
    case 4:
        want = 4 + 16 + 2;
        break;
    case 3:
        if (n < 5)
            return 0;
        want = 4 + 1 + (size_t)b[4] + 2;
        break;
    default:
        return fail(p, SK_EPROXYREPLY, "reply address type %u (RFC 1928 has 1, 3 and 4)", b[3]);
    }
    if (n < want)
        return 0;
    p->state = DONE;
    return 1;
}

/* "HTTP/1.1 200 Connection established": true with the status in *status. */
static bool status_line(const unsigned char *b, size_t n, int *status)
{
    if (n < 12 || memcmp(b, "HTTP/1.", 7) || !isdigit(b[7]) || b[8] != ' ')
        return false;
    for (int i = 9; i < 12; i++)
        if (!isdigit(b[i]))
            return false;
    if (n > 12 && b[12] != ' ')
        return false;
    *status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
    return true;
}

/* The empty line that ends a header: CRLF CRLF, or with bare LFs, which RFC 9112 section 2.2
 * lets a recipient take as line ends. */
static bool header_end(const unsigned char *b, size_t n)
{
    return n >= 2 && b[n - 1] == '\n' &&
           (b[n - 2] == '\n' || (n >= 3 && b[n - 2] == '\r' && b[n - 3] == '\n'));
}

static int http_header(sk_proxy *p)
{
    const unsigned char *b = p->in;
    size_t n = p->in_len;
    static const char start[] = "HTTP/";
    if (memcmp(b, start, n < 5 ? n : 5)) {
        char q[64];
        quote(b, n < 12 ? n : 12, q, sizeof q);
        return fail(p, SK_EPROXYREPLY,
                    "the reply starts with '%s', not 'HTTP/': is it an HTTP proxy?", q);
    }
    if (!header_end(b, n))
        return n == IN_MAX
                   ? fail(p, SK_EPROXYREPLY, "reply header longer than %d bytes without its end",
                          SK_PROXY_HEADER_MAX)
                   : 0;
    size_t eol = (size_t)((const unsigned char *)memchr(b, '\n', n) - b);
    if (eol && b[eol - 1] == '\r')
        eol--;
    char line[200];
    quote(b, eol < 120 ? eol : 120, line, sizeof line);
    int status;
    if (!status_line(b, eol, &status))
        return fail(p, SK_EPROXYREPLY, "bad status line '%s'", line);
    if (status >= 100 && status < 200) { /* interim (RFC 9110 15.2): the final answer follows */
        p->in_len = 0;
        return 1;
    }
    if (status < 200 || status > 299)
        return fail(p, SK_EPROXY, "answered '%s'", line);
    p->state = DONE;
    return 1;
}

static int take_byte(sk_proxy *p, unsigned char c)
{
    p->in[p->in_len++] = c;
    int rc;
    switch (p->state) {
    case WAIT_METHOD:
        rc = socks_method(p);
        break;
    case WAIT_AUTH:
        rc = socks_auth_reply(p);
        break;
    case WAIT_REPLY:
        rc = socks_reply(p);
        break;
    case WAIT_HEADER:
        return http_header(p); /* clears in_len itself after an interim answer */
    default:
        return sk__fail(SK_EARG, "proxy: input after the handshake ended");
    }
    if (rc == 1)
        p->in_len = 0;
    return rc;
}

int sk_proxy_input(sk_proxy *p, const void *data, size_t len, size_t *used)
{
    if (used)
        *used = 0;
    if (!p || (!data && len))
        return sk__fail(SK_EARG, "proxy input: NULL argument");
    if (p->state == FAILED)
        return p->error;
    if (p->state == DONE)
        return SK_PROXY_DONE;
    const unsigned char *d = data;
    for (size_t i = 0; i < len; i++) {
        int rc = take_byte(p, d[i]);
        if (used)
            *used = i + 1;
        if (rc < 0)
            return rc;
        if (p->state == DONE)
            return SK_PROXY_DONE;
        /* A message answered with a request: the proxy's next bytes answer that request, so
         * anything after this point is taken only once it went out. */
        if (rc == 1 && p->out_len > p->out_off)
            return SK_PROXY_MORE;
    }
    return SK_PROXY_MORE;
}

/* ---- the handle ---------------------------------------------------------------------------- */

static int target_port(const char *target, const char *svc, uint16_t *port)
{
    long v;
    if (isdigit((unsigned char)svc[0])) {
        v = atol(svc);
    } else {
        struct servent se, *res = NULL;
        char buf[1024];
        if (getservbyname_r(svc, "tcp", &se, buf, sizeof buf, &res) != 0 || !res)
            return sk__fail(SK_ESERVICE, "proxy target '%s': service '%s'", target, svc);
        v = ntohs((uint16_t)res->s_port);
    }
    if (v <= 0 || v > 65535)
        return sk__fail(SK_EPORT, "proxy target '%s': port %ld (1 to 65535)", target, v);
    *port = (uint16_t)v;
    return 0;
}

/* The target as the request carries it: no byte that could end a header line or a field. */
static int check_target(sk_proxy *p, const char *target, const sk_endpoint *ep)
{
    if (ep->is_unix || ep->any_host)
        return sk__fail(SK_EARG, "proxy target '%s': give HOST:PORT", target);
    if (ep->scope[0])
        return sk__fail(SK_EARG, "proxy target '%s': a scope (%%%s) means nothing to the proxy",
                        target, ep->scope);
    for (const char *s = ep->host; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return sk__fail(SK_EPARSE, "proxy target '%s': a space or control byte in the host",
                            target);
    if (strlen(ep->host) > 255) /* SOCKS5's DOMAINNAME length is one byte */
        return sk__fail(SK_EARG, "proxy target '%s': host longer than 255 bytes", target);
    int rc = target_port(target, ep->service, &p->port);
    if (rc < 0)
        return rc;
    snprintf(p->host, sizeof p->host, "%s", ep->host);
    snprintf(p->target, sizeof p->target, strchr(ep->host, ':') ? "[%s]:%u" : "%s:%u", ep->host,
             p->port);
    return 0;
}

static int check_credentials(sk_proxy *p, const sk_proxy_opts *o)
{
    if (!o->user)
        return 0;
    const char *pw = o->password ? o->password : "";
    if (strlen(o->user) > 255 || strlen(pw) > 255)
        return sk__fail(SK_EARG, "proxy credentials: user and password are at most 255 bytes");
    if (o->kind == SK_PROXY_SOCKS5 && !*o->user)
        return sk__fail(SK_EARG, "proxy credentials: SOCKS5 needs a user name of 1 byte or more");
    if (o->kind == SK_PROXY_HTTP && strchr(o->user, ':'))
        return sk__fail(SK_EARG, "proxy credentials: an HTTP Basic user name has no ':'");
    for (const char *s = o->user; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return sk__fail(SK_EARG, "proxy credentials: a control byte in the user name");
    snprintf(p->user, sizeof p->user, "%s", o->user);
    snprintf(p->password, sizeof p->password, "%s", pw);
    p->has_user = true;
    return 0;
}

int sk_proxy_new(sk_proxy **out, const char *target, const sk_proxy_opts *opts)
{
    if (!out || !target)
        return sk__fail(SK_EARG, "proxy: NULL argument");
    *out = NULL;
    sk_proxy_opts o;
    int rc = sk__opts_load(&o, sizeof o, opts, "proxy: opts");
    if (rc < 0)
        return rc;
    if (o.kind != SK_PROXY_SOCKS5 && o.kind != SK_PROXY_HTTP)
        return sk__fail(SK_EARG, "proxy: kind %d is neither SOCKS5 nor HTTP", (int)o.kind);
    sk_endpoint ep;
    if ((rc = sk_endpoint_parse(target, &ep)) < 0)
        return rc;
    sk_proxy *p = calloc(1, sizeof *p);
    if (!p)
        return sk__fail(-ENOMEM, "proxy");
    p->kind = o.kind;
    if ((rc = check_target(p, target, &ep)) < 0 || (rc = check_credentials(p, &o)) < 0) {
        sk_proxy_free(p);
        return rc;
    }
    p->state = p->kind == SK_PROXY_HTTP ? WAIT_HEADER : WAIT_METHOD;
    rc = p->kind == SK_PROXY_HTTP ? http_request(p) : socks_greeting(p);
    if (rc < 0) {
        sk_proxy_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void sk_proxy_free(sk_proxy *p)
{
    if (!p)
        return;
    explicit_bzero(p, sizeof *p); /* the credentials, and the requests that carry them */
    free(p);
}

size_t sk_proxy_output(const sk_proxy *p, const void **data)
{
    if (!p || p->state == FAILED || p->state == DONE) {
        if (data)
            *data = NULL;
        return 0;
    }
    if (data)
        *data = p->out + p->out_off;
    return p->out_len - p->out_off;
}

int sk_proxy_sent(sk_proxy *p, size_t n)
{
    if (!p || n > p->out_len - p->out_off)
        return sk__fail(SK_EARG, "proxy: %zu bytes sent of %zu pending", n,
                        p ? p->out_len - p->out_off : 0);
    p->out_off += n;
    return 0;
}

const char *sk_proxy_waiting_for(const sk_proxy *p)
{
    static const char *const what[] = {
        [WAIT_METHOD] = "the SOCKS5 method choice",
        [WAIT_AUTH] = "the SOCKS5 username/password answer",
        [WAIT_REPLY] = "the SOCKS5 reply to CONNECT",
        [WAIT_HEADER] = "the HTTP reply to CONNECT",
        [DONE] = "nothing (the tunnel is open)",
        [FAILED] = "nothing (the handshake failed)",
    };
    return p ? what[p->state] : "nothing";
}
