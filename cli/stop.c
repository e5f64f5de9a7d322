/* SIGINT / SIGTERM through a signalfd (see stop.h). */
#include "stop.h"
#include "cli.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

int stop_fd_open(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int fd = -1;
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
        (fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
        cli_die(EXIT_RUNTIME, "signalfd: %s", strerror(errno));
    return fd;
}

bool stop_requested(int fd)
{
    struct signalfd_siginfo si;
    return read(fd, &si, sizeof si) == (ssize_t)sizeof si;
}

bool stop_wait(int fd, long timeout_ns)
{
    struct pollfd p = {fd, POLLIN, 0};
    struct timespec ts = {timeout_ns / 1000000000, timeout_ns % 1000000000};
    return ppoll(&p, 1, &ts, NULL) > 0 && stop_requested(fd);
}
