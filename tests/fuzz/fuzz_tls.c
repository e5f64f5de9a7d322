/* fuzz_tls: arbitrary bytes as the server's side of a TLS handshake, fed to sk_tls_open as a
 * client over a socketpair. Input layout: byte 0 picks the client (bit 0: verify with the system
 * store and host "example.test", else insecure_skip_verify; bit 1: offer ALPN "h2,x"; bit 2: TLS
 * 1.3 only); the rest is what the "server" sends, then its end of the stream.
 *
 * The model: no bytes that anyone can produce without the server's key complete a handshake, so
 * sk_tls_open must fail, with one of the codes tls.h names (SK_ETLS, SK_ETLSVERIFY, -ECONNRESET,
 * -EPIPE) and an sk_errmsg() that is one non-empty line without an OpenSSL error stack; it must
 * never hang (the peer's end makes every wait return) nor leak (LeakSanitizer). */
#include "fuzz.h"
#include "sockkit.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

static sk_tls_ctx *ctxs[8];

static sk_tls_ctx *client(uint8_t how)
{
    how &= 7;
    if (!ctxs[how]) {
        sk_tls_opts o =
            SK_TLS_OPTS_INIT(.insecure_skip_verify = !(how & 1), .alpn = (how & 2) ? "h2,x" : NULL,
                             .min_version = (how & 4) ? SK_TLS_1_3 : 0);
        FUZZ_CHECK(sk_tls_ctx_new(&ctxs[how], SK_TLS_CLIENT, &o) == 0, "ctx: %s", sk_errmsg());
    }
    return ctxs[how];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    uint8_t how = fuzz_u8(&in);
    int sv[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
    /* the whole "server" flight is queued before the client starts, then the stream ends */
    if (in.n)
        FUZZ_CHECK(write(sv[1], in.p, in.n) == (ssize_t)in.n, "write %zu", in.n);
    shutdown(sv[1], SHUT_WR);
    sk_tls *t = NULL;
    int rc = sk_tls_open(&t, client(how), sv[0], (how & 1) ? "example.test" : NULL, 5000);
    FUZZ_CHECK(rc < 0, "a handshake completed with made-up bytes (%zu)", in.n);
    FUZZ_CHECK(rc == SK_ETLS || rc == SK_ETLSVERIFY || rc == -ECONNRESET || rc == -EPIPE,
               "code %d (%s): %s", rc, sk_err_name(rc), sk_errmsg());
    const char *m = sk_errmsg();
    FUZZ_CHECK(*m && !strchr(m, '\n') && !strstr(m, ":error:"), "message '%s'", m);
    FUZZ_CHECK(strncmp(m, "TLS handshake with ", 19) == 0, "message '%s'", m);
    FUZZ_CHECK(t == NULL, "no connection on failure");
    close(sv[0]);
    close(sv[1]);
    return 0;
}
