/* The proxy options of connect (-x, -X, -P) and relay (--via, -X, -P): parsed in one place. */
#ifndef SOCKKIT_CLI_PROXY_OPT_H
#define SOCKKIT_CLI_PROXY_OPT_H

#include "cli.h"

/* The environment variable -P's password comes from (argv is visible to every user in ps). */
#define CLI_PROXY_PASSWORD_ENV "SOCKKIT_PROXY_PASSWORD"

/* A proxy to go through, as the options gave it. */
struct cli_proxy {
    char endpoint[400];   /* HOST:PORT of the proxy ("" = none) */
    sk_proxy_kind kind;   /* -X: SK_PROXY_SOCKS5 (5, the default) or SK_PROXY_HTTP (connect) */
    const char *user;     /* -P USER, NULL = none */
    const char *password; /* $SOCKKIT_PROXY_PASSWORD with -P, never from argv */
};

/* Fill p from PROXY[:PORT] (flag names its option in messages: "-x", "--via"), -X's proto (NULL:
 * SOCKS5) and -P's user (NULL: none): nc's default port (1080 SOCKS5, 3128 HTTP), the password
 * from the environment, a TCP proxy only. Bad input exits 2 with one line. */
void cli_proxy_parse(struct cli_proxy *p, const char *flag, const char *proxy, const char *proto,
                     const char *user);

#endif
