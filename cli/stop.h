/* SIGINT and SIGTERM as a file descriptor: a loop polls for them with its sockets, so it wakes at
 * once and needs neither a signal handler nor a global flag. */
#ifndef SOCKKIT_CLI_STOP_H
#define SOCKKIT_CLI_STOP_H

#include <stdbool.h>
#include <stdint.h>

/* Block SIGINT and SIGTERM (in this thread and the threads it starts later) and return a
 * nonblocking signalfd that becomes readable when one arrives. Exits 1 if it cannot. */
int stop_fd_open(void);
/* A signal came (reads it). */
bool stop_requested(int fd);
/* Wait up to timeout_ns for a signal; true if one came. */
bool stop_wait(int fd, long timeout_ns);

#endif
