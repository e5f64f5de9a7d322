/* Python's socketserver TCPServer example: upper-case each line. Port argv[1] (default 9999). */
#include <ctype.h>
#include <signal.h>
#include <sockkit.h>
#include <stdio.h>

static sk_server *srv;
static void on_sigint(int sig)
{
    sk_server_shutdown_request(srv); /* async-signal-safe */
}

static int handle(sk_request *req) /* MyTCPHandler.handle */
{
    char line[1024];
    for (ssize_t n; (n = sk_request_line(req, line, sizeof line - 1)) >= 0;) {
        for (ssize_t i = 0; i < n; i++)
            line[i] = (char)toupper((unsigned char)line[i]);
        line[n] = '\n';
        if (sk_request_send(req, line, (size_t)n + 1) < 0)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    char ep[64];
    snprintf(ep, sizeof ep, "127.0.0.1:%s", argc > 1 ? argv[1] : "9999");
    if (sk_server_open(&srv,
                       &(sk_server_opts)SK_SERVER_OPTS_INIT(.endpoint = ep, .handle = handle)) < 0)
        return fprintf(stderr, "%s\n", sk_errmsg()), 1;
    sk_addr a;
    sk_server_get_addr(srv, &a);                          /* the real port when argv[1] is 0 */
    dprintf(1, "serving on port %d\n", sk_addr_port(&a)); /* unbuffered: tests read it */
    signal(SIGINT, on_sigint);
    sk_server_serve_forever(srv, 500);
    sk_server_close(srv);
    return 0;
}
