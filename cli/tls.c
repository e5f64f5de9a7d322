/* TLS for the commands: the options, the context, the handshake and what is said about it. */
#include "tls.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

bool cli_tls_option(int c, const char *arg, struct cli_tls *t)
{
    switch (c) {
    case CLI_KEY_TLS:
        t->on = true;
        return true;
    case CLI_KEY_SELF_SIGNED:
        t->on = t->self_signed = true;
        return true;
    case CLI_KEY_INSECURE:
        t->insecure = true;
        return true;
    case CLI_KEY_SNI:
        t->sni = arg;
        return true;
    case CLI_KEY_ALPN:
        t->alpn = arg;
        return true;
    case CLI_KEY_CA:
        t->ca = arg;
        return true;
    case CLI_KEY_CERT:
        t->cert = arg;
        return true;
    case CLI_KEY_KEY:
        t->key = arg;
        return true;
    case CLI_KEY_PIN:
        t->pin = arg;
        return true;
    case CLI_KEY_KEYLOG:
        t->keylog = arg;
        return true;
    }
    return false;
}

bool cli_tls_relay_option(int c, const char *arg, struct cli_tls *listen, struct cli_tls *target)
{
    listen->flag = "--tls-listen";
    listen->server = true;
    target->flag = "--tls-target";
    target->cert_flag = "--target-cert";
    target->key_flag = "--target-key";
    switch (c) {
    case CLI_KEY_TLS_LISTEN:
        listen->on = true;
        return true;
    case CLI_KEY_TLS_TARGET:
        target->on = true;
        return true;
    case CLI_KEY_CERT:
    case CLI_KEY_KEY:
    case CLI_KEY_SELF_SIGNED:
        return cli_tls_option(c, arg, listen);
    case CLI_KEY_TARGET_CERT: /* the relay's own certificate as TARGET's client */
        return cli_tls_option(CLI_KEY_CERT, arg, target);
    case CLI_KEY_TARGET_KEY:
        return cli_tls_option(CLI_KEY_KEY, arg, target);
    case CLI_KEY_KEYLOG: /* both sides' keys, whichever speak TLS (cli_tls_check sorts it out) */
        listen->keylog = target->keylog = arg;
        return true;
    }
    return cli_tls_option(c, arg, target);
}

void cli_tls_check(const struct cli_tls *t)
{
    const char *flag = t->flag ? t->flag : "--tls";
    const char *cert = t->cert_flag ? t->cert_flag : "--cert";
    const char *key = t->key_flag ? t->key_flag : "--key";
    const char *given = t->insecure ? "--insecure"
                        : t->sni    ? "--sni"
                        : t->alpn   ? "--alpn"
                        : t->ca     ? "--ca"
                        : t->cert   ? cert
                        : t->key    ? key
                        : t->pin    ? "--pin"
                        : t->keylog ? "--keylog"
                                    : NULL;
    if (!t->on) {
        if (given)
            cli_usage_error("%s goes with %s", given, flag);
        return;
    }
    if (!sk_tls_available())
        cli_usage_error("%s: this sockkit was built without TLS (see sockkit --version)", flag);
    if (t->key && !t->cert)
        cli_usage_error("%s goes with %s", key, cert);
    if (t->server && t->self_signed && t->cert)
        cli_usage_error("--tls-self-signed and --cert contradict each other: choose one");
    if (t->server && !t->self_signed && !t->cert)
        cli_usage_error("%s needs --cert FILE and --key FILE (or --tls-self-signed for tests)",
                        flag);
    if (t->insecure && t->ca)
        cli_usage_error("--insecure verifies nothing, so --ca would be unused: choose one");
    if (t->pin && (t->insecure || t->ca))
        cli_usage_error("--pin checks the certificate's fingerprint instead of its CA: leave out "
                        "%s",
                        t->insecure ? "--insecure" : "--ca");
    /* files that cannot be opened or made are bad input, as everywhere (what is in them, the
     * library judges when it makes the context: exit 1); O_NONBLOCK: a FIFO is not waited on */
    const char *const files[][2] = {{cert, t->cert}, {key, t->key}, {"--ca", t->ca}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (files[i][1])
            close(cli_open_file(files[i][0], files[i][1], O_RDONLY | O_NONBLOCK, 0));
    if (t->keylog) { /* appended to; -1: a FIFO nobody reads yet, which is no error */
        int fd =
            cli_open_file("--keylog", t->keylog, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK, 0600);
        if (fd >= 0)
            close(fd);
    }
}

sk_tls_ctx *cli_tls_context(const struct cli_tls *t, int verbose)
{
    sk_tls_opts o =
        SK_TLS_OPTS_INIT(.ca_file = t->ca, .cert_file = t->cert, .key_file = t->key,
                         .alpn = t->alpn, .self_signed = t->self_signed,
                         .require_client_cert = t->server && t->ca,
                         .insecure_skip_verify = t->insecure, .no_session_reuse = t->no_resume,
                         .pin_sha256 = t->pin, .keylog_file = t->keylog);
    sk_tls_ctx *ctx = NULL;
    int rc = sk_tls_ctx_new(&ctx, t->server ? SK_TLS_SERVER : SK_TLS_CLIENT, &o);
    if (rc < 0)
        cli_fail(rc, "%s", sk_errmsg());
    if (t->self_signed && verbose) {
        char fp[128];
        if (sk_tls_ctx_get_fingerprint(ctx, fp, sizeof fp) > 0)
            cli_say("self-signed certificate for localhost: %s", fp);
    }
    return ctx;
}

static void say_settled(sk_tls *tls, const char *name, const struct cli_tls *t, int verbose)
{
    sk_tls_info i = SK_TLS_INFO_INIT;
    if (sk_tls_get_info(tls, &i) < 0)
        return;
    if (t->insecure && i.peer_cert)
        cli_say("--insecure: the certificate of %s was NOT verified (subject %s, issuer %s)",
                name ? name : "the server", i.peer_subject, i.peer_issuer);
    if (!verbose)
        return;
    cli_say("TLS: %s %s%s, ALPN %s%s%s%s", i.version, i.cipher, i.resumed ? " (resumed)" : "",
            i.alpn[0] ? i.alpn : "none", i.peer_cert ? ", peer " : "",
            i.peer_cert ? i.peer_subject : "", i.verified ? " (verified)" : "");
}

sk_tls *cli_tls_handshake(sk_tls_ctx *ctx, int fd, const char *host, const struct cli_tls *t,
                          int timeout_ms, int verbose)
{
    sk_tls *tls = NULL;
    const char *name = t->server ? NULL : t->sni ? t->sni : host;
    int rc = sk_tls_open(&tls, ctx, fd, name, timeout_ms);
    if (rc < 0) {
        cli_say("%s", sk_errmsg());
        return NULL;
    }
    say_settled(tls, name, t, verbose);
    return tls;
}
