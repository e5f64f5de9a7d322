/* A UDP receiver: no listen, no accept — bind, then recvfrom tells who sent each datagram.
 * Receives argv[2] datagrams (default 1) on port argv[1] (default 6001) and answers each sender. */
#include <sockkit.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    char ep[64];
    snprintf(ep, sizeof ep, "127.0.0.1:%s", argc > 1 ? argv[1] : "6001");
    int count = argc > 2 ? atoi(argv[2]) : 1;
    sk_listen_opts dgram =
        SK_LISTEN_OPTS_INIT(.type = SOCK_DGRAM); /* socket(AF_INET, SOCK_DGRAM) + bind */
    int fd = sk_listen(ep, &dgram);
    if (fd < 0) {
        fprintf(stderr, "%s\n", sk_errmsg());
        return 1;
    }
    sk_addr me;
    sk_sock_get_local_addr(fd, &me);
    printf("receiving on port %d\n", sk_addr_port(&me));
    fflush(stdout);
    for (int i = 0; i < count; i++) {
        char buf[65536], who[SK_ADDRSTRLEN];
        sk_addr from;
        ssize_t n = sk_recvfrom(fd, buf, sizeof buf, &from, 10000);
        if (n < 0) {
            fprintf(stderr, "%s\n", sk_errmsg());
            return 1;
        }
        sk_addr_format(&from, who, sizeof who);
        printf("received from=%s, len=%zd\n", who, n);
        fflush(stdout);
        sk_sendto(fd, "ack", 3, &from, 1000); /* the reply goes to that sender */
    }
    sk_close(fd);
    return 0;
}
