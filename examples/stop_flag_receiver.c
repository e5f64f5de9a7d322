/* The note's receive loop (docs/design.md) done right: it waits for data with a timeout (no busy
 * loop, no sleep), so a stop flag set by SIGINT ends it cleanly within one timeout; the socket is
 * closed on every path (the note's error path closed a name that did not exist). */
#include <errno.h>
#include <signal.h>
#include <sockkit.h>
#include <stdio.h>

static volatile sig_atomic_t running = 1;

static void on_sigint(int sig)
{
    (void)sig;
    running = 0;
}

int main(int argc, char **argv)
{
    char ep[64];
    snprintf(ep, sizeof ep, "127.0.0.1:%s", argc > 1 ? argv[1] : "6002");
    struct sigaction sa = {.sa_handler = on_sigint};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sk_listen_opts dgram = SK_LISTEN_OPTS_INIT(.type = SOCK_DGRAM);
    int fd = sk_listen(ep, &dgram);
    if (fd < 0) {
        fprintf(stderr, "%s\n", sk_errmsg());
        return 1;
    }
    printf("receiving; Ctrl-C stops\n");
    fflush(stdout);
    while (running) {
        char buf[4096], who[SK_ADDRSTRLEN];
        sk_addr from;
        ssize_t n =
            sk_recvfrom(fd, buf, sizeof buf, &from, 500); /* the flag is seen within 0.5 s */
        if (n == -ETIMEDOUT)
            continue;
        if (n < 0) {
            fprintf(stderr, "%s\n", sk_errmsg());
            break;
        }
        sk_addr_format(&from, who, sizeof who);
        printf("received from=%s, len=%zd\n", who, n);
        fflush(stdout);
    }
    sk_close(fd);
    printf("recv loop leaves.\n");
    return 0;
}
