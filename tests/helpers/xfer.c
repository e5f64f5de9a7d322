/* Test helper: exchange a block of pseudo-random bytes with a peer and check its CRC-32.
 *
 *   xfer server ENDPOINT BYTES SEED   listen, print "port N" (or "ready"), accept one client, read
 *                                     until EOF, reply "<crc32 of what came>\n" then BYTES of our
 *                                     own data, close; print "received <crc> <count>" and
 *                                     "sent <crc>"
 *   xfer client ENDPOINT BYTES SEED   connect, send BYTES, shut down writing, read the reply line
 *                                     and the peer's data until EOF; print "sent <crc>",
 *                                     "peer-saw <crc>", "received <crc> <count>"
 * Exit 0 when the I/O worked (the Python side compares the checksums), 1 with sk_errmsg() else. */
#include "sockkit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

static unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *b = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (unsigned char)(seed >> 16);
    }
    return b;
}

static int fail(const char *what)
{
    fprintf(stderr, "xfer: %s: %s\n", what, sk_errmsg());
    return 1;
}

/* Read until EOF, returning the CRC and count. */
static int drain(int fd, uint32_t *crc, size_t *count)
{
    unsigned char buf[65536];
    *crc = 0;
    *count = 0;
    for (;;) {
        ssize_t n = sk_recv(fd, buf, sizeof buf, 10000);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return 0;
        *crc = crc32_update(*crc, buf, (size_t)n);
        *count += (size_t)n;
    }
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: xfer server|client ENDPOINT BYTES SEED\n");
        return 2;
    }
    size_t bytes = strtoul(argv[3], NULL, 10);
    unsigned char *data = pattern(bytes, (unsigned)strtoul(argv[4], NULL, 10));
    uint32_t mine = crc32_update(0, data, bytes), crc;
    size_t count;
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (!strcmp(argv[1], "server")) {
        int lfd = sk_listen(argv[2], &(sk_listen_opts)SK_LISTEN_OPTS_INIT(.unlink_stale = true));
        if (lfd < 0)
            return fail("listen");
        sk_addr a;
        sk_sock_get_local_addr(lfd, &a);
        if (sk_addr_port(&a) >= 0)
            printf("port %d\n", sk_addr_port(&a));
        else
            printf("ready\n");
        int fd = sk_accept(lfd, NULL, 10000);
        if (fd < 0)
            return fail("accept");
        if (drain(fd, &crc, &count) < 0)
            return fail("receive");
        char line[32];
        int n = snprintf(line, sizeof line, "%08x\n", crc);
        if (sk_send_all(fd, line, (size_t)n, 10000, NULL) < 0 ||
            sk_send_all(fd, data, bytes, 10000, NULL) < 0)
            return fail("send");
        printf("received %08x %zu\nsent %08x\n", crc, count, mine);
        sk_close(fd);
        sk_close(lfd);
    } else {
        int fd = sk_connect(argv[2], 10000);
        if (fd < 0)
            return fail("connect");
        if (sk_send_all(fd, data, bytes, 10000, NULL) < 0)
            return fail("send");
        sk_shutdown(fd, SHUT_WR);
        char line[10];
        if (sk_recv_exact(fd, line, 9, 10000, NULL) < 0)
            return fail("receive reply line");
        if (drain(fd, &crc, &count) < 0)
            return fail("receive");
        printf("sent %08x\npeer-saw %.8s\nreceived %08x %zu\n", mine, line, crc, count);
        sk_close(fd);
    }
    free(data);
    return 0;
}
