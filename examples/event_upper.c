/* The event model: upper_server.c as callbacks on event loops (one per core; one on 1-2 cores).
 * Each chunk that arrives is upper-cased and written back; sk_conn_write buffers what the socket
 * cannot take yet and stops reading a client that does not read its replies. Port argv[1] (default
 * 9999). */
#include <ctype.h>
#include <signal.h>
#include <sockkit.h>
#include <stdio.h>

static sk_server *srv;
static void on_sigint(int sig)
{
    sk_server_shutdown_request(srv); /* async-signal-safe */
}

static void on_data(sk_conn *c, const void *data, size_t len)
{
    char up[4096];
    const unsigned char *p = data;
    for (size_t done = 0; done < len;) {
        size_t n = len - done < sizeof up ? len - done : sizeof up;
        for (size_t i = 0; i < n; i++)
            up[i] = (char)toupper(p[done + i]);
        sk_conn_write(c, up, n);
        done += n;
    }
}

int main(int argc, char **argv)
{
    char ep[64];
    snprintf(ep, sizeof ep, "127.0.0.1:%s", argc > 1 ? argv[1] : "9999");
    static const sk_event_handlers h = SK_EVENT_HANDLERS_INIT(.on_data = on_data);
    if (sk_server_open(&srv,
                       &(sk_server_opts)SK_SERVER_OPTS_INIT(.endpoint = ep, .model = SK_MODEL_EVENT,
                                                            .events = &h)) < 0)
        return fprintf(stderr, "%s\n", sk_errmsg()), 1;
    sk_addr a;
    sk_server_get_addr(srv, &a);
    dprintf(1, "serving on port %d\n", sk_addr_port(&a));
    signal(SIGINT, on_sigint);
    sk_server_serve_forever(srv, 500);
    sk_server_drain(srv, 2000); /* what is already in output buffers still goes out */
    sk_server_close(srv);
    return 0;
}
