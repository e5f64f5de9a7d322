/* -x / --via PROXY[:PORT], -X PROTO and -P USER: what connect and relay share about a proxy. */
#include "proxy_opt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sk_proxy_kind parse_kind(const char *proto)
{
    if (!proto || !strcmp(proto, "5"))
        return SK_PROXY_SOCKS5;
    if (!strcmp(proto, "connect"))
        return SK_PROXY_HTTP;
    if (!strcmp(proto, "4"))
        cli_usage_error("-X 4: SOCKS4 is not supported; use -X 5 (SOCKS5) or -X connect (HTTP)");
    cli_usage_error("-X '%s': give 5 (SOCKS5) or connect (HTTP CONNECT)", proto);
}

/* PROXY, with the protocol's usual port when it names none ("host", "[::1]"). */
static void set_endpoint(struct cli_proxy *p, const char *flag, const char *proxy)
{
    const char *close = strchr(proxy, ']');
    bool has_port = proxy[0] == '[' ? close && close[1] == ':' : strchr(proxy, ':') != NULL;
    const char *port = p->kind == SK_PROXY_HTTP ? "3128" : "1080";
    int n = has_port ? snprintf(p->endpoint, sizeof p->endpoint, "%s", proxy)
                     : snprintf(p->endpoint, sizeof p->endpoint, "%s:%s", proxy, port);
    if (n < 0 || (size_t)n >= sizeof p->endpoint)
        cli_usage_error("%s is too long (%d bytes, at most %zu)", flag, n, sizeof p->endpoint - 1);
}

void cli_proxy_parse(struct cli_proxy *p, const char *flag, const char *proxy, const char *proto,
                     const char *user)
{
    *p = (struct cli_proxy){.kind = parse_kind(proto), .user = user};
    set_endpoint(p, flag, proxy);
    if (user) {
        p->password = getenv(CLI_PROXY_PASSWORD_ENV);
        if (!p->password)
            cli_usage_error("-P %s: put the password in $" CLI_PROXY_PASSWORD_ENV
                            " (it is never read from the command line)",
                            user);
    }
    sk_endpoint ep;
    cli_check_endpoint(p->endpoint, 0, &ep);
    if (ep.is_unix)
        cli_usage_error("%s %s: the proxy is reached over TCP: give HOST:PORT", flag, p->endpoint);
}
