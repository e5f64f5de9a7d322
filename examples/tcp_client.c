/* The client for tcp_server: connect, send one message, print the reply. */
#include <sockkit.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    char ep[64];
    snprintf(ep, sizeof ep, "127.0.0.1:%s", argc > 1 ? argv[1] : "6000");
    const char *msg = argc > 2 ? argv[2] : "hello, server";
    int fd = sk_connect(ep, 3000); /* socket + connect, every address, 3 s at most */
    if (fd < 0) {
        fprintf(stderr, "%s\n", sk_errmsg());
        return 1;
    }
    char buf[1024];
    ssize_t n;
    if (sk_send_all(fd, msg, strlen(msg), 3000, NULL) < 0 ||
        (n = sk_recv(fd, buf, sizeof buf - 1, 3000)) < 0) {
        fprintf(stderr, "%s\n", sk_errmsg());
        return 1;
    }
    buf[n] = '\0';
    printf("reply: %s\n", buf);
    sk_close(fd);
    return 0;
}
