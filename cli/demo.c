/* sockkit demo: the seed's questions answered by looking. On loopback, with the trace on and a
 * heading before each step: a TCP server and client (socket → bind → listen → accept →
 * recv/send → close, seen from both sides), then UDP (no listen, no accept: datagrams with their
 * senders), then a Unix stream socket. One thread does both sides in turn, so the order of the
 * lines is the order of the calls. Needs no root and no network beyond loopback. */
#include "cli.h"
#include "opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T 2000 /* ms: every step is local and instant; this only guards against a hang */

/* The steps so far, for the headings' numbers. */
struct demo {
    int step;
};

static void heading(struct demo *d, const char *title, const char *explain)
{
    fflush(stdout);
    printf("\n== %d. %s\n   %s\n", ++d->step, title, explain);
    fflush(stdout);
}

static int check(int rc, const char *what)
{
    if (rc < 0)
        cli_fail(rc, "%s: %s", what, sk_errmsg());
    return rc;
}

static void exchange(struct demo *d, int client, int server, const char *question,
                     const char *answer)
{
    char buf[128];
    size_t qlen = strlen(question), alen = strlen(answer);
    heading(d, "client sends, server receives",
            "send() on the client's socket; recv() on the socket accept() returned. '>' is sent, "
            "'<' received.");
    check(sk_send_all(client, question, qlen, T, NULL), "send");
    check(sk_recv_exact(server, buf, qlen, T, NULL), "recv");
    heading(d, "server replies, client receives", "The same connection carries bytes both ways.");
    check(sk_send_all(server, answer, alen, T, NULL), "send");
    check(sk_recv_exact(client, buf, alen, T, NULL), "recv");
}

static void tcp_demo(struct demo *d)
{
    heading(d, "TCP server: socket, bind, listen",
            "SOCK_STREAM with protocol IPPROTO_TCP; port 0 asks the kernel for a free port.");
    int lfd = check(sk_listen("127.0.0.1:0", NULL), "listen");
    sk_addr a;
    char ep[SK_ADDRSTRLEN];
    check(sk_sock_get_local_addr(lfd, &a), "getsockname");
    sk_addr_format(&a, ep, sizeof ep);

    heading(d, "TCP client: socket, connect",
            "The client's port is chosen by the kernel; the handshake completes before accept().");
    int c = check(sk_connect(ep, T), "connect");
    heading(d, "TCP server: accept",
            "accept() returns a NEW socket for this one client; the listening socket stays open.");
    int s = check(sk_accept(lfd, NULL, T), "accept");
    exchange(d, c, s, "GET /time\n", "It is demo o'clock.\n");

    heading(d, "client: shutdown(SHUT_WR), server sees EOF",
            "Half-close: the client says it has nothing more to send; recv() then returns 0.");
    check(sk_shutdown(c, SHUT_WR), "shutdown");
    char buf[16];
    check((int)sk_recv(s, buf, sizeof buf, T), "recv");
    heading(d, "close everything", "Each side closes its own sockets.");
    sk_close(s);
    sk_close(c);
    sk_close(lfd);
}

static void udp_demo(struct demo *d)
{
    heading(d, "UDP server: socket, bind (no listen, no accept)",
            "SOCK_DGRAM with protocol IPPROTO_UDP: no connection, each datagram stands alone.");
    sk_listen_opts dgram = SK_LISTEN_OPTS_INIT(.type = SOCK_DGRAM);
    int srv = check(sk_listen("127.0.0.1:0", &dgram), "bind");
    sk_addr saddr;
    check(sk_sock_get_local_addr(srv, &saddr), "getsockname");

    heading(
        d, "UDP client: socket, sendto",
        "sendto() names the destination on every datagram; the kernel binds the client's port.");
    int cli = check(sk_socket(AF_INET, SOCK_DGRAM, IPPROTO_IP), "socket");
    sk_trace_set_role(cli, SK_ROLE_CLIENT);
    check((int)sk_sendto(cli, "ping", 4, &saddr, T), "sendto");

    heading(d, "UDP server: recvfrom, then sendto the sender",
            "recvfrom() tells the server who sent the datagram; the reply goes to that address.");
    char buf[64];
    sk_addr from;
    check((int)sk_recvfrom(srv, buf, sizeof buf, &from, T), "recvfrom");
    check((int)sk_sendto(srv, "pong", 4, &from, T), "sendto");
    check((int)sk_recvfrom(cli, buf, sizeof buf, NULL, T), "recvfrom");
    sk_close(cli);
    sk_close(srv);
}

static void unix_demo(struct demo *d)
{
    char ep[64];
    snprintf(ep, sizeof ep, "unix:@sockkit-demo-%d", (int)getpid());
    heading(d, "Unix stream socket: the same calls, a name instead of an address",
            "AF_UNIX never leaves the machine; '@' is Linux's abstract namespace (no file).");
    int lfd = check(sk_listen(ep, NULL), "listen");
    int c = check(sk_connect(ep, T), "connect");
    int s = check(sk_accept(lfd, NULL, T), "accept");
    exchange(d, c, s, "hello over AF_UNIX\n", "hello back\n");
    sk_close(s);
    sk_close(c);
    sk_close(lfd);
}

/* Not CLI_OPT_TRACE: here the trace is on without --trace, and on stdout. */
static const struct cli_opt demo_opts[] = {
    {CLI_KEY_TRACE, "trace", CLI_OPTARG, "calls|data", "the trace level (default data)",
     "calls data"},
    {CLI_KEY_TRACE_FILE, "trace-file", CLI_ARG, "FILE", "write the trace to FILE, not stdout",
     "@file"},
    CLI_OPT_PCAP,
    CLI_OPT_HELP,
    CLI_OPT_END,
};

const struct cli_cmd cli_cmd_demo = {
    .name = "demo",
    .summary = "walk through TCP, UDP and Unix sockets on loopback with the trace on",
    .synopsis = "[--trace=calls|data] [--trace-file FILE] [--trace-format text|json] [--pcap FILE]",
    .about = "Walks through a TCP, a UDP and a Unix socket exchange on loopback with the trace\n"
             "on (data level, to stdout, unless told otherwise). Each line of the trace shows\n"
             "the time, the role (client/server), the transport and the socket call.",
    .opts = demo_opts,
    .run = cmd_demo,
};

int cmd_demo(int argc, char **argv)
{
    struct cli_parser p = CLI_PARSER(&cli_cmd_demo);
    struct cli_common co = {0};
    if (cli_next_option(&p, argc, argv, &co) != -1)
        abort(); /* the table has only shared options */
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!co.trace_file) /* on stdout, interleaved with the headings */
        sk_trace_set(co.trace ? co.trace : SK_TRACE_DATA, STDOUT_FILENO);
    printf("sockkit demo: sockets on loopback, every call traced.\n"
           "Columns: time, role (client/server), transport (tcp/udp/unix), call = result.\n");
    struct demo d = {0};
    tcp_demo(&d);
    udp_demo(&d);
    unix_demo(&d);
    fflush(stdout);
    printf("\nDone. Try it yourself: 'sockkit listen -v 127.0.0.1:0 --trace' in one terminal,\n"
           "'sockkit connect 127.0.0.1:PORT --trace' in another; 'sockkit proto IPPROTO_IP'.\n");
    return EXIT_OK;
}
