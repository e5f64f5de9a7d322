/* A multicast sender: COUNT datagrams to GROUP:PORT through IFACE, TTL 1 (this link only).
 * usage: mcast_send GROUP:PORT [IFACE] [COUNT]   e.g. mcast_send 239.1.2.3:5000 lo 10 */
#include <sockkit.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return fprintf(stderr, "usage: %s GROUP:PORT [IFACE] [COUNT]\n", argv[0]), 2;
    int count = argc > 3 ? atoi(argv[3]) : 1;
    /* UDP socket, outgoing interface, TTL 1, loop on (receivers on this host too), connected to
     * the group so a plain send reaches it */
    int fd = sk_mcast_sender(argv[1], argc > 2 ? argv[2] : NULL, 1, true);
    if (fd < 0)
        return fprintf(stderr, "%s\n", sk_errmsg()), 1;
    for (int i = 0; i < count; i++) {
        char msg[64];
        int n = snprintf(msg, sizeof msg, "hello multicast %d", i);
        if (sk_send(fd, msg, (size_t)n, 1000) < 0)
            return fprintf(stderr, "%s\n", sk_errmsg()), 1;
        usleep(10000);
    }
    sk_close(fd);
    return 0;
}
