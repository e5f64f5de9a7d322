/* Monotonic deadlines and waiting for one fd: what makes every timeout a whole-call deadline. */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <time.h>

int64_t sk__now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t sk__now_ms(void)
{
    return sk__now_us() / 1000;
}

int64_t sk__deadline(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : sk__now_ms() + timeout_ms;
}

int sk__remaining(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - sk__now_ms();
    if (left <= 0)
        return 0;
    return left > INT32_MAX ? INT32_MAX : (int)left;
}

int sk__wait_deadline(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, sk__remaining(deadline));
        if (n > 0)
            return p.revents;
        if (n == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

int sk_wait(int fd, int events, int timeout_ms)
{
    if (!events || (events & ~(SK_READABLE | SK_WRITABLE)))
        return sk__fail(SK_EARG, "wait fd %d: events %d (SK_READABLE, SK_WRITABLE)", fd, events);
    short want =
        (short)((events & SK_READABLE ? POLLIN : 0) | (events & SK_WRITABLE ? POLLOUT : 0));
    int rc = sk__wait_deadline(fd, want, sk__deadline(timeout_ms));
    if (rc < 0)
        return sk__fail(rc, "wait fd %d", fd);
    /* as the loop reports it: an error or a hang-up is both readable and writable */
    bool both = rc & (POLLERR | POLLHUP | POLLNVAL);
    return (rc & POLLIN || both ? SK_READABLE : 0) | (rc & POLLOUT || both ? SK_WRITABLE : 0);
}
