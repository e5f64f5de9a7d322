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

int sk_wait(int fd, short events, int timeout_ms)
{
    int rc = sk__wait_deadline(fd, events, sk__deadline(timeout_ms));
    if (rc < 0)
        return sk__fail(rc, "wait fd %d", fd);
    return rc;
}
