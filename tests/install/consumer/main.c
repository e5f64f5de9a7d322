/* A program built against an installed libsockkit: a loopback echo through the public API. */
#include <sockkit.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    int lfd = sk_listen("127.0.0.1:0", NULL);
    sk_addr a;
    char ep[SK_ADDRSTRLEN];
    if (lfd < 0 || sk_sock_get_local_addr(lfd, &a) < 0 || sk_addr_format(&a, ep, sizeof ep) < 0)
        return fprintf(stderr, "%s\n", sk_errmsg()), 1;
    int c = sk_connect(ep, 2000), s = sk_accept(lfd, NULL, 2000);
    char buf[6] = {0};
    if (c < 0 || s < 0 || sk_send_all(c, "hello", 5, 2000, NULL) < 0 ||
        sk_recv_exact(s, buf, 5, 2000, NULL) < 0 || strcmp(buf, "hello"))
        return fprintf(stderr, "%s\n", sk_errmsg()), 1;
    printf("consumer ok: sockkit %s, echoed '%s' over %s\n", SOCKKIT_VERSION_STRING, buf, ep);
    close(c);
    close(s);
    close(lfd);
    return 0;
}
