/* sockkit mcast: what mcast.c (send, dispatch) and mcast_recv.c share. */
#ifndef SOCKKIT_CLI_MCAST_H
#define SOCKKIT_CLI_MCAST_H

#include "opts.h"

/* Long options of both modes (one enum, so the two parsers' case labels read alike). */
enum {
    MC_IFACE = 256,
    MC_TTL,
    MC_LOOP,
    MC_NOLOOP,
    MC_RATE,
    MC_COUNT,
    MC_SIZE,
    MC_SOURCE,
    MC_STATS,
};

extern const struct cli_cmd cli_cmd_mcast_send, cli_cmd_mcast_recv;
int mcast_recv(int argc, char **argv); /* mcast_recv.c; argv[0] is "recv" */

#endif
