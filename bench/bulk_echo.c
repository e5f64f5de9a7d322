/* Bulk echo client for bench/syscalls.sh: one connection, a sender thread writes BYTES of a
 * pattern while the main thread reads the echo back and checks every byte against the pattern, so
 * a server that drops, duplicates, reorders or changes bytes fails the run. Stops at BYTES
 * received (does not wait for the server's FIN); the whole run is bounded by an alarm.
 * usage: bulk_echo PORT [BYTES (default 1 GiB)] [SECONDS limit (default 120)]
 * prints: "bytes N seconds S mib_per_s R" and exits 0, or one line on stderr and exits 1. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)

/* fill's whole-word path and its byte path must agree on which byte of a word comes first */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "bulk_echo assumes little-endian");

static int fd;
static uint64_t total;

/* byte o of the stream: byte (o % 8) of splitmix64(o / 8); a shift by any amount shows */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

static void fill(unsigned char *buf, uint64_t off, size_t len)
{
    size_t i = 0;
    for (; i < len && (off + i) % 8; i++) /* up to the next whole word */
        buf[i] = (unsigned char)(mix((off + i) / 8) >> (8 * ((off + i) % 8)));
    for (; i + 8 <= len; i += 8) { /* little-endian: byte b of the word is bits 8b.. */
        uint64_t w = mix((off + i) / 8);
        memcpy(buf + i, &w, 8);
    }
    for (; i < len; i++)
        buf[i] = (unsigned char)(mix((off + i) / 8) >> (8 * ((off + i) % 8)));
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *sender(void *arg)
{
    static unsigned char buf[CHUNK];
    (void)arg;
    for (uint64_t off = 0; off < total;) {
        size_t n = total - off < CHUNK ? (size_t)(total - off) : CHUNK;
        fill(buf, off, n);
        for (size_t done = 0; done < n;) {
            ssize_t w = send(fd, buf + done, n - done, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                fprintf(stderr, "bulk_echo: send at byte %llu: %s\n",
                        (unsigned long long)(off + done), strerror(errno));
                exit(1);
            }
            done += (size_t)w;
        }
        off += n;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bulk_echo PORT [BYTES] [SECONDS]\n");
        return 2;
    }
    total = argc > 2 ? strtoull(argv[2], NULL, 0) : 1ull << 30;
    alarm(argc > 3 ? (unsigned)atoi(argv[3]) : 120); /* default SIGALRM action ends the run */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        fprintf(stderr, "bulk_echo: connect 127.0.0.1:%s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    double t0 = now();
    pthread_t th;
    pthread_create(&th, NULL, sender, NULL);
    static unsigned char buf[CHUNK], want[CHUNK];
    uint64_t got = 0;
    while (got < total) {
        size_t cap = total - got < CHUNK ? (size_t)(total - got) : CHUNK;
        ssize_t r = recv(fd, buf, cap, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            fprintf(stderr, "bulk_echo: %s after %llu of %llu bytes\n",
                    r ? strerror(errno) : "the server closed", (unsigned long long)got,
                    (unsigned long long)total);
            return 1;
        }
        fill(want, got, (size_t)r);
        if (memcmp(buf, want, (size_t)r)) {
            size_t i = 0;
            while (buf[i] == want[i])
                i++;
            fprintf(stderr, "bulk_echo: byte %llu came back as 0x%02x, 0x%02x was sent\n",
                    (unsigned long long)(got + i), buf[i], want[i]);
            return 1;
        }
        got += (uint64_t)r;
    }
    double secs = now() - t0;
    pthread_join(th, NULL);
    close(fd);
    printf("bytes %llu seconds %.3f mib_per_s %.0f\n", (unsigned long long)got, secs,
           (double)got / (1 << 20) / secs);
    return 0;
}
