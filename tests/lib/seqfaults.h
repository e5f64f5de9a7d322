/* Test-only faults for a sender of sequence-numbered packets (cli/seqpkt.h): comma-separated
 * sequence numbers to leave out, to swap with the next one, and to send twice. Used by the test
 * helper tests/helpers/mcast_faults.c and the fuzz harness tests/fuzz/fuzz_seqpkt.c; never by the
 * sockkit command. */
#ifndef SOCKKIT_TESTS_SEQFAULTS_H
#define SOCKKIT_TESTS_SEQFAULTS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct seqpkt_faults {
    const char *skip, *swap, *dup;
    bool pending;
    uint64_t held;
} seqpkt_faults;

/* Turn logical number `seq` into the numbers to emit (0, 1 or 2 of them; a swapped pair comes out
 * when its second arrives; the `last` number is never held back). */
int seqpkt_plan(seqpkt_faults *f, uint64_t seq, bool last, uint64_t out[3]);

#endif
