/* A UDP sender: one datagram to 127.0.0.1:argv[1], then wait for the receiver's answer. */
#include <sockkit.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    char ep[64];
    snprintf(ep, sizeof ep, "127.0.0.1:%s", argc > 1 ? argv[1] : "6001");
    const char *msg = argc > 2 ? argv[2] : "hello over UDP";
    sk_connect_opts udp =
        SK_CONNECT_OPTS_INIT(.type = SOCK_DGRAM); /* connect() on UDP only fixes the destination */
    int fd = sk_connect_ex(ep, &udp, 1000);
    if (fd < 0) {
        fprintf(stderr, "%s\n", sk_errmsg());
        return 1;
    }
    char buf[64];
    ssize_t n;
    if (sk_send(fd, msg, strlen(msg), 1000) < 0 ||
        (n = sk_recv(fd, buf, sizeof buf - 1, 3000)) < 0) {
        fprintf(stderr, "%s\n", sk_errmsg());
        return 1;
    }
    buf[n] = '\0';
    printf("answer: %s\n", buf);
    sk_close(fd);
    return 0;
}
