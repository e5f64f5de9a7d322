/* The TLS options of connect, listen and serve: one table of entries per side, parsed in one
 * place, and the context and handshake with the command's messages. */
#ifndef SOCKKIT_CLI_TLS_H
#define SOCKKIT_CLI_TLS_H

#include "cli.h"
#include "opts.h"

enum {
    CLI_KEY_TLS = 0x1100,
    CLI_KEY_SNI,
    CLI_KEY_ALPN,
    CLI_KEY_CA,
    CLI_KEY_CERT,
    CLI_KEY_KEY,
    CLI_KEY_INSECURE,
    CLI_KEY_SELF_SIGNED,
    CLI_KEY_PIN,
    CLI_KEY_KEYLOG,
    CLI_KEY_TLS_LISTEN,
    CLI_KEY_TLS_TARGET,
    CLI_KEY_TARGET_CERT,
    CLI_KEY_TARGET_KEY,
};

/* clang-format off */
#define CLI_OPT_TLS_CLIENT                                                                         \
    {CLI_KEY_TLS, "tls", CLI_NOARG, NULL, "TLS: verify the server's certificate and name (system CA store)", NULL},\
    {CLI_KEY_SNI, "sni", CLI_ARG, "NAME", "with --tls: the server name to send and verify (default: ENDPOINT's host)", NULL},\
    {CLI_KEY_ALPN, "alpn", CLI_ARG, "LIST", "with --tls: offer these ALPN protocols, comma separated", NULL},\
    {CLI_KEY_CA, "ca", CLI_ARG, "FILE", "with --tls: trust the CA certificates of this PEM file, not the system's", "@file"},\
    {CLI_KEY_CERT, "cert", CLI_ARG, "FILE", "with --tls: client certificate (PEM, with its chain)", "@file"},\
    {CLI_KEY_KEY, "key", CLI_ARG, "FILE", "with --tls: the key of --cert (default: in --cert's file)", "@file"},\
    {CLI_KEY_INSECURE, "insecure", CLI_NOARG, NULL, "with --tls: do NOT verify the certificate or the name (tests only)", NULL},\
    {CLI_KEY_PIN, "pin", CLI_ARG, "SHA256:FP", "with --tls: accept exactly the certificate with this SHA-256 fingerprint (as listen -v prints it)", NULL},\
    {CLI_KEY_KEYLOG, "keylog", CLI_ARG, "FILE", "with --tls: append the session keys to FILE (SSLKEYLOGFILE format, for Wireshark)", "@file"}
#define CLI_OPT_TLS_SERVER                                                                         \
    {CLI_KEY_TLS, "tls", CLI_NOARG, NULL, "TLS: needs --cert and --key, or --tls-self-signed", NULL},\
    {CLI_KEY_CERT, "cert", CLI_ARG, "FILE", "with --tls: server certificate (PEM, with its chain)", "@file"},\
    {CLI_KEY_KEY, "key", CLI_ARG, "FILE", "with --tls: the key of --cert (default: in --cert's file)", "@file"},\
    {CLI_KEY_SELF_SIGNED, "tls-self-signed", CLI_NOARG, NULL, "TLS with a throw-away certificate for localhost made in memory (-v prints its SHA-256 fingerprint)", NULL},\
    {CLI_KEY_CA, "ca", CLI_ARG, "FILE", "with --tls: require a client certificate issued by a CA of this PEM file (mutual TLS)", "@file"},\
    {CLI_KEY_ALPN, "alpn", CLI_ARG, "LIST", "with --tls: accept these ALPN protocols, comma separated, preferred first", NULL},\
    {CLI_KEY_KEYLOG, "keylog", CLI_ARG, "FILE", "with --tls: append the session keys to FILE (SSLKEYLOGFILE format, for Wireshark)", "@file"}
/* The relay's two sides: the server side's options (--cert, --key, --tls-self-signed) go with
 * --tls-listen, the client side's (--sni, --alpn, --ca, --insecure, --pin, and its own
 * certificate --target-cert, --target-key) with --tls-target. */
#define CLI_OPT_TLS_RELAY                                                                          \
    {CLI_KEY_TLS_LISTEN, "tls-listen", CLI_NOARG, NULL, "TLS with the clients (termination): needs --cert and --key, or --tls-self-signed", NULL},\
    {CLI_KEY_CERT, "cert", CLI_ARG, "FILE", "with --tls-listen: the relay's certificate (PEM, with its chain)", "@file"},\
    {CLI_KEY_KEY, "key", CLI_ARG, "FILE", "with --tls-listen: the key of --cert (default: in --cert's file)", "@file"},\
    {CLI_KEY_SELF_SIGNED, "tls-self-signed", CLI_NOARG, NULL, "--tls-listen with a throw-away certificate for localhost made in memory (-v prints its SHA-256 fingerprint)", NULL},\
    {CLI_KEY_TLS_TARGET, "tls-target", CLI_NOARG, NULL, "TLS to TARGET (origination): verify its certificate and name (system CA store)", NULL},\
    {CLI_KEY_SNI, "sni", CLI_ARG, "NAME", "with --tls-target: the name to send and verify (default: TARGET's host)", NULL},\
    {CLI_KEY_ALPN, "alpn", CLI_ARG, "LIST", "with --tls-target: offer these ALPN protocols, comma separated", NULL},\
    {CLI_KEY_CA, "ca", CLI_ARG, "FILE", "with --tls-target: trust the CA certificates of this PEM file, not the system's", "@file"},\
    {CLI_KEY_INSECURE, "insecure", CLI_NOARG, NULL, "with --tls-target: do NOT verify TARGET's certificate or name (tests only)", NULL},\
    {CLI_KEY_PIN, "pin", CLI_ARG, "SHA256:FP", "with --tls-target: accept exactly the certificate with this SHA-256 fingerprint", NULL},\
    {CLI_KEY_TARGET_CERT, "target-cert", CLI_ARG, "FILE", "with --tls-target: the relay's client certificate for TARGET (PEM, with its chain; mutual TLS)", "@file"},\
    {CLI_KEY_TARGET_KEY, "target-key", CLI_ARG, "FILE", "with --tls-target: the key of --target-cert (default: in --target-cert's file)", "@file"},\
    {CLI_KEY_KEYLOG, "keylog", CLI_ARG, "FILE", "with --tls-listen or --tls-target: append the session keys to FILE (SSLKEYLOGFILE format)", "@file"}
/* clang-format on */

struct cli_tls {
    const char *flag; /* the option that turns it on, for messages (NULL: "--tls") */
    const char *cert_flag, *key_flag; /* the names of cert and key, for messages (NULL: "--cert",
                                       * "--key"; the relay's target: "--target-cert", ...) */
    bool on;                          /* --tls or --tls-self-signed */
    bool server;
    bool self_signed; /* --tls-self-signed */
    bool insecure;    /* --insecure */
    bool no_resume;   /* client: offer no session from an earlier connection (bench: full
                       * handshakes) */
    const char *sni, *alpn, *ca, *cert, *key, *pin, *keylog;
};

/* Take c if it is one of the TLS options (true), else false. */
bool cli_tls_option(int c, const char *arg, struct cli_tls *t);
/* The relay's: each option to its side (listen: the server, target: the client); true if taken. */
bool cli_tls_relay_option(int c, const char *arg, struct cli_tls *listen, struct cli_tls *target);
/* Rules between them, once all options are known (usage errors, exit 2): a TLS option without
 * --tls, a server without a certificate, a build without TLS. */
void cli_tls_check(const struct cli_tls *t);
/* The context for t, or exit 1 with the library's reason. -v: a self-signed certificate's
 * fingerprint on stderr. */
sk_tls_ctx *cli_tls_context(const struct cli_tls *t, int verbose);
/* The handshake on fd (host: the name to verify, client only). NULL after saying why (one line)
 * when it failed. -v: what it settled, on stderr; --insecure: that nothing was verified. */
sk_tls *cli_tls_handshake(sk_tls_ctx *ctx, int fd, const char *host, const struct cli_tls *t,
                          int timeout_ms, int verbose);

#endif
