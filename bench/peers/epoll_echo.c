/* The practical limit: a minimal single-threaded epoll echo server. Level-triggered, non-blocking,
 * read then write straight back; a per-connection buffer only for what a partial write left.
 * usage: epoll_echo PORT (0 = pick); prints "port N". */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer_listen.h"

struct pending {
    char *buf;
    size_t len;
};

int main(int argc, char **argv)
{
    int ep, one = 1, lfd = peer_listen(argc > 1 ? atoi(argv[1]) : 0, &ep);
    if (lfd < 0)
        return 1;
    struct epoll_event evs[512];
    static struct pending pend[65536];
    static char buf[65536];
    for (;;) {
        int n = epoll_wait(ep, evs, 512, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event e = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
                }
                continue;
            }
            struct pending *p = &pend[fd];
            if (evs[i].events & EPOLLOUT && p->len) {
                ssize_t w = write(fd, p->buf, p->len);
                if (w > 0) {
                    memmove(p->buf, p->buf + w, p->len - (size_t)w);
                    p->len -= (size_t)w;
                }
                if (!p->len) {
                    struct epoll_event e = {.events = EPOLLIN, .data.fd = fd};
                    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
                }
                continue;
            }
            ssize_t r = read(fd, buf, sizeof buf);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN)
                    continue;
                close(fd);
                free(p->buf);
                *p = (struct pending){0};
                continue;
            }
            ssize_t w = p->len ? 0 : write(fd, buf, (size_t)r);
            if (w < 0)
                w = 0;
            if (w < r) { /* keep the rest until the socket has room */
                p->buf = realloc(p->buf, p->len + (size_t)(r - w));
                memcpy(p->buf + p->len, buf + w, (size_t)(r - w));
                p->len += (size_t)(r - w);
                struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
                epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
            }
        }
    }
}
