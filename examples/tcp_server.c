/* The textbook TCP server (the one the note in docs/design.md walks through) on port 6000 (or
 * argv[1]): socket → bind → listen → accept → recv/send → close, in three library calls. Run with
 * SOCKKIT_TRACE=data to watch each step. */
#include <sockkit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    char ep[64];
    snprintf(ep, sizeof ep, "127.0.0.1:%s", argc > 1 ? argv[1] : "6000");
    int lfd = sk_listen(ep, NULL); /* socket, SO_REUSEADDR, bind, listen */
    if (lfd < 0) {
        fprintf(stderr, "%s\n", sk_errmsg());
        return 1;
    }
    sk_addr me;
    sk_sock_get_local_addr(lfd, &me);
    printf("Server listening on port %d\n", sk_addr_port(&me));
    fflush(stdout);
    int served = argc > 2 ? atoi(argv[2]) : -1; /* how many clients before exiting (-1: forever) */
    while (served != 0) {
        sk_addr peer;
        int fd = sk_accept(lfd, &peer, -1); /* a new socket for this client */
        if (fd < 0)
            continue;
        char who[SK_ADDRSTRLEN], buf[1024];
        sk_addr_format(&peer, who, sizeof who);
        ssize_t n = sk_recv(fd, buf, sizeof buf, 5000);
        if (n > 0) {
            printf("received %zd bytes from client %s\n", n, who);
            fflush(stdout);
            sk_send_all(fd, buf, (size_t)n, 5000, NULL); /* echo it back */
        }
        sk_close(fd);
        if (served > 0)
            served--;
    }
    sk_close(lfd);
    return 0;
}
