/* Test helper: a multicast sender with faults, for exact loss / reorder / duplicate accounting
 * (tests/interop/mcast_cli.py). netem is not available everywhere, so the sender makes the faults:
 *
 *   mcast_faults [--skip SEQS] [--swap SEQS] [--dup SEQS] [--rate PPS] [--count N]
 *                [--size BYTES] IFACE GROUP:PORT
 *
 * SEQS are comma-separated sequence numbers to leave out, to swap with the next one, and to send
 * twice. It sends as `sockkit mcast send --iface IFACE` does (cli/seqsend.c, the same packets and
 * end markers), with TTL 1 and loop on, and prints "sent N datagrams, M numbers". Exit 0, or 1
 * with one line; 2 for bad arguments. Built only with the tests: the fault options are not in the
 * product. */
#include "cli.h"
#include "seqfaults.h"
#include "seqpkt.h"
#include "seqsend.h"
#include "stop.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* seqsend's plan hook over the test faults; at the end, the number held for a swap. */
static int plan(void *ctx, uint64_t seq, bool last, uint64_t out[3])
{
    seqpkt_faults *f = ctx;
    if (seq == SEQSEND_FLUSH) {
        if (!f->pending)
            return 0;
        f->pending = false;
        out[0] = f->held;
        return 1;
    }
    return seqpkt_plan(f, seq, last, out);
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {{"skip", required_argument, NULL, 'k'},
                                          {"swap", required_argument, NULL, 'w'},
                                          {"dup", required_argument, NULL, 'd'},
                                          {"rate", required_argument, NULL, 'r'},
                                          {"count", required_argument, NULL, 'c'},
                                          {"size", required_argument, NULL, 's'},
                                          {NULL, 0, NULL, 0}};
    seqpkt_faults faults = {0};
    long rate = 1000, count = 1000, size = 64;
    int c;
    cli_prog = "mcast_faults";
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'k':
            faults.skip = optarg;
            break;
        case 'w':
            faults.swap = optarg;
            break;
        case 'd':
            faults.dup = optarg;
            break;
        case 'r':
            rate = cli_parse_long(optarg, 0, 10000000, "--rate");
            break;
        case 'c':
            count = cli_parse_long(optarg, 1, 1L << 40, "--count");
            break;
        case 's':
            size = cli_parse_long(optarg, SEQPKT_HDR, 65507, "--size");
            break;
        default:
            cli_usage_error("usage: mcast_faults [--skip|--swap|--dup SEQS] [--rate PPS] "
                            "[--count N] [--size BYTES] IFACE GROUP:PORT");
        }
    }
    if (argc - optind != 2)
        cli_usage_error("wants IFACE GROUP:PORT");
    int fd = sk_mcast_sender(argv[optind + 1], argv[optind], 1, true);
    if (fd < 0)
        cli_die(EXIT_RUNTIME, "%s", sk_errmsg());
    struct seqsend s = {.fd = fd,
                        .stop = stop_fd_open(),
                        .id = (uint32_t)(seqpkt_now_ns() ^ ((uint64_t)getpid() << 16)),
                        .size = (int)size,
                        .rate = rate,
                        .count = (uint64_t)count,
                        .t_end = UINT64_MAX,
                        .plan = plan,
                        .plan_ctx = &faults};
    seqsend_run(&s);
    printf("sent %llu datagrams, %llu numbers\n", (unsigned long long)s.sent,
           (unsigned long long)s.next);
    seqsend_free(&s);
    sk_close(fd);
    return 0;
}
