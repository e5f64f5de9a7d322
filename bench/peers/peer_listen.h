/* bench/peers: the loopback listener the minimal epoll echo servers (epoll_echo.c, tls_echo.c)
 * share, header-only so that each stays one `cc` command in the bench scripts. */
#ifndef BENCH_PEER_LISTEN_H
#define BENCH_PEER_LISTEN_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>

/* A non-blocking TCP listener on 127.0.0.1:port (0: the kernel picks), its port printed as
 * "port N" on stdout (the scripts read it), and an epoll set in *ep watching it for readable.
 * -1 after saying why. */
static int peer_listen(int port, int *ep)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((unsigned short)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4096) < 0) {
        perror("bind/listen");
        return -1;
    }
    socklen_t len = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &len);
    printf("port %d\n", ntohs(a.sin_port));
    fflush(stdout);
    *ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(*ep, EPOLL_CTL_ADD, lfd, &ev);
    return lfd;
}

#endif
