/* The completion-based counterpart of epoll_echo.c, for measuring what issue 20's completion paths
 * could gain here (it is not sockkit's server): one thread, one io_uring; a multishot accept; per
 * connection a multishot receive into a provided buffer ring (no buffer held by an idle
 * connection); each received chunk sent back with IORING_OP_SEND from the same buffer, which goes
 * back to the ring when the send is complete (a short send is finished with further sends).
 * Everything is submitted with the wait in one io_uring_enter per iteration. One send in flight
 * per connection, the chunks received meanwhile queued behind it in order.
 * The ring is set up with IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN (completions'
 * task work runs only when this thread waits, in a batch); a second argument "plain" leaves those
 * two out (COOP_TASKRUN only, as sockkit's loop: bench/uring_defer.sh compares the two).
 * usage: uring_echo PORT [plain] (PORT 0 = pick); prints "port N".
 * Build: cc -O2 uring_echo.c -luring */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* provided buffers (a power of two): 64 MiB of address space, touched as used */
#define NBUF  1024
#define BUFSZ 65536
#define BGID  1

enum { OP_ACCEPT = 1, OP_RECV, OP_SEND };

/* user_data: op in the top byte, buffer id (sends), fd */
static uint64_t ud(int op, int fd, unsigned bid)
{
    return (uint64_t)op << 56 | (uint64_t)(bid & 0xffff) << 32 | (uint32_t)fd;
}

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;

static struct io_uring_sqe *sqe_get(void)
{
    struct io_uring_sqe *s = io_uring_get_sqe(&ring);
    if (!s) {
        io_uring_submit(&ring);
        s = io_uring_get_sqe(&ring);
    }
    return s;
}

static void recv_arm(int fd)
{
    struct io_uring_sqe *s = sqe_get();
    io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = BGID;
    io_uring_sqe_set_data64(s, ud(OP_RECV, fd, 0));
}

static void send_from(int fd, unsigned bid, unsigned off, unsigned len)
{
    struct io_uring_sqe *s = sqe_get();
    io_uring_prep_send(s, fd, bufs + (size_t)bid * BUFSZ + off, len - off, MSG_NOSIGNAL);
    s->len = len - off;
    io_uring_sqe_set_data64(s, ud(OP_SEND, fd, bid));
}

static void buf_back(unsigned bid)
{
    io_uring_buf_ring_add(br, bufs + (size_t)bid * BUFSZ, BUFSZ, (unsigned short)bid,
                          io_uring_buf_ring_mask(NBUF), 0);
    io_uring_buf_ring_advance(br, 1);
}

static unsigned sendlen[NBUF], sendoff[NBUF]; /* per buffer: received, sent so far */
static int nextbuf[NBUF];                     /* the queue of chunks behind a send, by buffer */
#define MAXFD 65536
static int qhead[MAXFD], qtail[MAXFD]; /* per connection: the buffer in flight .. the last queued */
static bool closing[MAXFD];            /* ended while sends were queued: closed after the last */

static void queue_send(int fd, unsigned bid, unsigned len)
{
    sendlen[bid] = len;
    sendoff[bid] = 0;
    nextbuf[bid] = -1;
    if (qhead[fd] >= 0) { /* a send is in flight: after it, in order */
        nextbuf[qtail[fd]] = (int)bid;
        qtail[fd] = (int)bid;
        return;
    }
    qhead[fd] = qtail[fd] = (int)bid;
    send_from(fd, bid, 0, len);
}

int main(int argc, char **argv)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(argc > 1 ? atoi(argv[1]) : 0),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4096) < 0)
        return perror("bind/listen"), 1;
    socklen_t alen = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &alen);
    bool plain = argc > 2 && strcmp(argv[2], "plain") == 0;
    struct io_uring_params p = {
        .flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN |
                 (plain ? 0 : IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN),
        .cq_entries = 16384};
    int rc = io_uring_queue_init_params(4096, &ring, &p);
    if (rc < 0)
        return fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-rc)), 1;
    if (posix_memalign((void **)&br, 4096, NBUF * sizeof(struct io_uring_buf)) ||
        !(bufs = malloc((size_t)NBUF * BUFSZ)))
        return 1;
    io_uring_buf_ring_init(br);
    struct io_uring_buf_reg reg = {
        .ring_addr = (unsigned long)br, .ring_entries = NBUF, .bgid = BGID};
    if ((rc = io_uring_register_buf_ring(&ring, &reg, 0)) < 0)
        return fprintf(stderr, "io_uring_register_buf_ring: %s\n", strerror(-rc)), 1;
    for (unsigned i = 0; i < NBUF; i++)
        buf_back(i);
    memset(qhead, -1, sizeof qhead);
    printf("port %d\n", ntohs(a.sin_port));
    fflush(stdout);
    struct io_uring_sqe *s = sqe_get();
    io_uring_prep_multishot_accept(s, lfd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, ud(OP_ACCEPT, lfd, 0));
    for (;;) {
        if ((rc = io_uring_submit_and_wait(&ring, 1)) < 0 && rc != -EINTR && rc != -EBUSY)
            return fprintf(stderr, "io_uring_enter: %s\n", strerror(-rc)), 1;
        struct io_uring_cqe *c;
        unsigned head, n = 0;
        io_uring_for_each_cqe(&ring, head, c)
        {
            n++;
            uint64_t u = c->user_data;
            int op = (int)(u >> 56), fd = (int)(uint32_t)u, res = c->res;
            unsigned bid = (unsigned)(u >> 32) & 0xffff;
            bool more = c->flags & IORING_CQE_F_MORE;
            if (op == OP_ACCEPT) {
                if (res >= 0) {
                    setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    recv_arm(res);
                }
                if (!more) { /* the multishot ended (e.g. EMFILE): arm it again */
                    s = sqe_get();
                    io_uring_prep_multishot_accept(s, lfd, NULL, NULL, SOCK_CLOEXEC);
                    io_uring_sqe_set_data64(s, ud(OP_ACCEPT, lfd, 0));
                }
            } else if (op == OP_RECV) {
                if (res > 0) {
                    queue_send(fd, c->flags >> IORING_CQE_BUFFER_SHIFT, (unsigned)res);
                    if (!more)
                        recv_arm(fd);
                } else if (res == -ENOBUFS) {
                    recv_arm(fd);   /* every buffer is in a send: try again */
                } else if (!more) { /* EOF or an error: closed once its sends are done */
                    if (qhead[fd] < 0)
                        close(fd);
                    else
                        closing[fd] = true;
                }
            } else if (op == OP_SEND) {
                sendoff[bid] += res > 0 ? (unsigned)res : 0;
                if (res > 0 && sendoff[bid] < sendlen[bid]) {
                    send_from(fd, bid, sendoff[bid], sendlen[bid]);
                    continue;
                }
                int next = nextbuf[bid];
                buf_back(bid);
                qhead[fd] = next;
                if (next >= 0 && res > 0)
                    send_from(fd, (unsigned)next, 0, sendlen[next]);
                else /* a failed send: the rest of the queue goes back too */
                    for (; next >= 0; next = nextbuf[next], qhead[fd] = -1)
                        buf_back((unsigned)next);
                if (qhead[fd] < 0 && closing[fd]) {
                    closing[fd] = false;
                    close(fd);
                }
            }
        }
        io_uring_cq_advance(&ring, n);
    }
}
