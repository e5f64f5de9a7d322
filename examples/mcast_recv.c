/* The multicast receiver of the note in docs/design.md, done right: a UDP socket (not TCP), reuse
 * options set before bind, joined with one call, and a stop flag that SIGINT sets and the loop sees
 * within 0.5 s. usage: mcast_recv GROUP:PORT [IFACE] [COUNT]   e.g. mcast_recv 239.1.2.3:5000 lo 10
 */
#include <errno.h>
#include <signal.h>
#include <sockkit.h>
#include <stdio.h>
#include <stdlib.h>

static volatile sig_atomic_t is_recv = 1;

static void on_sigint(int sig)
{
    is_recv = 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return fprintf(stderr, "usage: %s GROUP:PORT [IFACE] [COUNT]\n", argv[0]), 2;
    int count = argc > 3 ? atoi(argv[3]) : -1;
    signal(SIGINT, on_sigint);
    int fd = sk_mcast_receiver(argv[1], argc > 2 ? argv[2] : NULL, NULL);
    if (fd < 0) /* e.g. "join 10.0.0.1:5000: address is not a multicast group" */
        return fprintf(stderr, "%s\n", sk_errmsg()), 1;
    while (is_recv && count != 0) {
        char data[4096], addr[SK_ADDRSTRLEN];
        sk_addr from;
        ssize_t n = sk_recvfrom(fd, data, sizeof data, &from, 500);
        if (n == -ETIMEDOUT)
            continue; /* the flag gets its look */
        if (n < 0) {
            fprintf(stderr, "%s\n", sk_errmsg());
            break; /* and the socket we opened is closed below */
        }
        sk_addr_format(&from, addr, sizeof addr);
        printf("received from=%s, len=%zd\n", addr, n);
        fflush(stdout);
        if (count > 0)
            count--;
    }
    sk_close(fd);
    printf("recv_func leaves.\n");
    return 0;
}
