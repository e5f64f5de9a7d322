/* sockkit demo: the seed's questions answered by looking. On loopback, with the trace on and a
 * heading before each step: a TCP server and client (socket → bind → listen → accept →
 * recv/send → close, seen from both sides), then UDP (no listen, no accept: datagrams with their
 * senders), then a Unix stream socket. One thread does both sides in turn, so the order of the
 * lines is the order of the calls. Needs no root and no network beyond loopback. */
#include "cli.h"
#include "opts.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define T 2000 /* ms: every step is local and instant; this only guards against a hang */

static int step_no;

static void heading(const char *title, const char *explain)
{
    fflush(stdout);
    printf("\n== %d. %s\n   %s\n", ++step_no, title, explain);
    fflush(stdout);
}

static int check(int rc, const char *what)
{
    if (rc < 0)
        cli_die(EXIT_RUNTIME, "%s: %s", what, sk_errmsg());
    return rc;
}

static void exchange(int client, int server, const char *question, const char *answer)
{
    char buf[128];
    size_t qlen = strlen(question), alen = strlen(answer);
    heading("client sends, server receives",
            "send() on the client's socket; recv() on the socket accept() returned. '>' is sent, "
            "'<' received.");
    check(sk_send_all(client, question, qlen, T, NULL), "send");
    check(sk_recv_exact(server, buf, qlen, T, NULL), "recv");
    heading("server replies, client receives", "The same connection carries bytes both ways.");
    check(sk_send_all(server, answer, alen, T, NULL), "send");
    check(sk_recv_exact(client, buf, alen, T, NULL), "recv");
}

static void tcp_demo(void)
{
    heading("TCP server: socket, bind, listen",
            "SOCK_STREAM with protocol IPPROTO_TCP; port 0 asks the kernel for a free port.");
    int lfd = check(sk_listen("127.0.0.1:0", NULL), "listen");
    sk_addr a;
    char ep[SK_ADDRSTRLEN];
    check(sk_sock_get_local_addr(lfd, &a), "getsockname");
    sk_addr_format(&a, ep, sizeof ep);

    heading("TCP client: socket, connect",
            "The client's port is chosen by the kernel; the handshake completes before accept().");
    int c = check(sk_connect(ep, T), "connect");
    heading("TCP server: accept",
            "accept() returns a NEW socket for this one client; the listening socket stays open.");
    int s = check(sk_accept(lfd, NULL, T), "accept");
    exchange(c, s, "GET /time\n", "It is demo o'clock.\n");

    heading("client: shutdown(SHUT_WR), server sees EOF",
            "Half-close: the client says it has nothing more to send; recv() then returns 0.");
    check(sk_shutdown(c, SHUT_WR), "shutdown");
    char buf[16];
    check((int)sk_recv(s, buf, sizeof buf, T), "recv");
    heading("close everything", "Each side closes its own sockets.");
    sk_close(s);
    sk_close(c);
    sk_close(lfd);
}

static void udp_demo(void)
{
    heading("UDP server: socket, bind (no listen, no accept)",
            "SOCK_DGRAM with protocol IPPROTO_UDP: no connection, each datagram stands alone.");
    sk_listen_opts dgram = SK_LISTEN_OPTS_INIT(.type = SOCK_DGRAM);
    int srv = check(sk_listen("127.0.0.1:0", &dgram), "bind");
    sk_addr saddr;
    check(sk_sock_get_local_addr(srv, &saddr), "getsockname");

    heading(
        "UDP client: socket, sendto",
        "sendto() names the destination on every datagram; the kernel binds the client's port.");
    int cli = check(sk_socket(AF_INET, SOCK_DGRAM, IPPROTO_IP), "socket");
    sk_trace_set_role(cli, SK_ROLE_CLIENT);
    check((int)sk_sendto(cli, "ping", 4, &saddr, T), "sendto");

    heading("UDP server: recvfrom, then sendto the sender",
            "recvfrom() tells the server who sent the datagram; the reply goes to that address.");
    char buf[64];
    sk_addr from;
    check((int)sk_recvfrom(srv, buf, sizeof buf, &from, T), "recvfrom");
    check((int)sk_sendto(srv, "pong", 4, &from, T), "sendto");
    check((int)sk_recvfrom(cli, buf, sizeof buf, NULL, T), "recvfrom");
    sk_close(cli);
    sk_close(srv);
}

static void unix_demo(void)
{
    char ep[64];
    snprintf(ep, sizeof ep, "unix:@sockkit-demo-%d", (int)getpid());
    heading("Unix stream socket: the same calls, a name instead of an address",
            "AF_UNIX never leaves the machine; '@' is Linux's abstract namespace (no file).");
    int lfd = check(sk_listen(ep, NULL), "listen");
    int c = check(sk_connect(ep, T), "connect");
    int s = check(sk_accept(lfd, NULL, T), "accept");
    exchange(c, s, "hello over AF_UNIX\n", "hello back\n");
    sk_close(s);
    sk_close(c);
    sk_close(lfd);
}

enum { O_TRACE = 256, O_TRACE_FILE };

static const struct cli_opt demo_opts[] = {
    {O_TRACE, "trace", CLI_OPTARG, "calls|data", "the trace level (default data)", "calls data"},
    {O_TRACE_FILE, "trace-file", CLI_ARG, "FILE", "write the trace to FILE, not stdout", "@file"},
    {'h', "help", CLI_NOARG, NULL, "this help", NULL},
    CLI_OPT_END,
};

const struct cli_cmd cli_cmd_demo = {
    .name = "demo",
    .summary = "walk through TCP, UDP and Unix sockets on loopback with the trace on",
    .synopsis = "[--trace=calls|data] [--trace-file FILE]",
    .about = "Walks through a TCP, a UDP and a Unix socket exchange on loopback with the trace\n"
             "on (data level, to stdout, unless told otherwise). Each line of the trace shows\n"
             "the time, the role (client/server), the transport and the socket call.",
    .opts = demo_opts,
    .run = cmd_demo,
};

int cmd_demo(int argc, char **argv)
{
    bool traced = false;
    struct cli_getopt g;
    cli_getopt_init(&g, &cli_cmd_demo);
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, g.shorts, g.longs, NULL)) != -1) {
        if (c == 'h') {
            cli_help(stdout, &cli_cmd_demo);
            return EXIT_OK;
        }
        if (c != O_TRACE && c != O_TRACE_FILE)
            cli_bad_option(c, argv);
        /* cli_trace_option parses and applies the --trace forms */
        char arg[512];
        snprintf(arg, sizeof arg, "--trace%s%s%s", c == O_TRACE_FILE ? "-file" : "",
                 optarg ? "=" : "", optarg ? optarg : "");
        char *v[] = {arg, NULL};
        int i = 0;
        cli_trace_option(1, v, &i);
        traced = true;
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!traced)
        sk_trace_set(SK_TRACE_DATA, STDOUT_FILENO); /* interleaved with the headings */
    printf("sockkit demo: sockets on loopback, every call traced.\n"
           "Columns: time, role (client/server), transport (tcp/udp/unix), call = result.\n");
    tcp_demo();
    udp_demo();
    unix_demo();
    fflush(stdout);
    printf("\nDone. Try it yourself: 'sockkit listen -v 127.0.0.1:0 --trace' in one terminal,\n"
           "'sockkit connect 127.0.0.1:PORT --trace' in another; 'sockkit proto IPPROTO_IP'.\n");
    return EXIT_OK;
}
