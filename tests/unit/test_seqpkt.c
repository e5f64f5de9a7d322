/* cli/seqpkt.c: the mcast / bench udp packet header and its accounting, fed crafted headers as a
 * hostile peer would send them. Runs under UBSan in the sanitizer build: any overflow fails. */
#include "sktest.h"

#include <math.h>

#include "seqpkt.h"

/* A header as a foreign sender could write it: every field chosen by the caller. */
static void craft(unsigned char *p, unsigned version, unsigned hdrlen, uint64_t seq,
                  uint64_t send_ns)
{
    seqpkt_write(p, SEQPKT_HDR, 7, seq, send_ns);
    p[4] = (unsigned char)version;
    p[6] = (unsigned char)(hdrlen >> 8);
    p[7] = (unsigned char)hdrlen;
}

static void parse_checks_every_header_field(void **state)
{
    unsigned char p[64] = {0};
    uint32_t id;
    uint64_t seq, sent;
    seqpkt_write(p, sizeof p, 0xdeadbeef, 42, 1234);
    assert_true(seqpkt_parse(p, sizeof p, &id, &seq, &sent));
    assert_int_equal(id, 0xdeadbeef);
    assert_int_equal(seq, 42);
    assert_int_equal(sent, 1234);
    assert_false(seqpkt_parse(p, SEQPKT_HDR - 1, &id, &seq, &sent)); /* short */
    craft(p, 2, SEQPKT_HDR, 1, 1);
    assert_false(seqpkt_parse(p, sizeof p, &id, &seq, &sent)); /* unknown version */
    craft(p, 1, 0, 1, 1);
    assert_false(seqpkt_parse(p, sizeof p, &id, &seq, &sent)); /* header length below 28 */
    craft(p, 1, 65535, 1, 1);
    assert_false(seqpkt_parse(p, sizeof p, &id, &seq, &sent)); /* header longer than the packet */
    craft(p, 1, 64, 1, 1);
    assert_true(seqpkt_parse(p, sizeof p, &id, &seq, &sent)); /* longer header, within the packet */
    memcpy(p, "SKMD", 4);
    assert_false(seqpkt_parse(p, sizeof p, &id, &seq, &sent));
}

static void transit_range(void **state)
{
    int64_t t = 12345;
    assert_true(seqpkt_transit(1000, 400, &t));
    assert_int_equal(t, 600);
    assert_true(seqpkt_transit(400, 1000, &t));
    assert_int_equal(t, -600);
    assert_true(seqpkt_transit((uint64_t)SEQPKT_MAX_TRANSIT_NS, 0, &t));
    assert_int_equal(t, SEQPKT_MAX_TRANSIT_NS);
    assert_true(seqpkt_transit(0, (uint64_t)SEQPKT_MAX_TRANSIT_NS, &t));
    assert_int_equal(t, -SEQPKT_MAX_TRANSIT_NS);
    t = 12345;
    assert_false(seqpkt_transit((uint64_t)SEQPKT_MAX_TRANSIT_NS + 1, 0, &t));
    assert_false(seqpkt_transit(0, UINT64_MAX, &t));
    assert_false(seqpkt_transit(UINT64_MAX, 0, &t));
    assert_int_equal(t, 12345); /* untouched */
}

/* The reported defect: send times 0 and now + 2^63 gave transits of opposite sign whose difference
 * overflowed int64 in the jitter (signed overflow: undefined behaviour). */
static void forged_send_times_cannot_overflow_the_jitter(void **state)
{
    const uint64_t now = seqpkt_now_ns();
    const uint64_t sends[][2] = {
        {0, now + ((uint64_t)1 << 63)},
        {now - (uint64_t)SEQPKT_MAX_TRANSIT_NS, now + (uint64_t)SEQPKT_MAX_TRANSIT_NS},
        {UINT64_MAX, 0},
        {0, UINT64_MAX},
    };
    for (size_t k = 0; k < sizeof sends / sizeof *sends; k++) {
        seqstats st = {0};
        for (uint64_t i = 0; i < 4; i++) {
            unsigned char p[SEQPKT_HDR];
            craft(p, 1, SEQPKT_HDR, i, sends[k][i % 2]);
            uint32_t id;
            uint64_t seq, sent;
            assert_true(seqpkt_parse(p, sizeof p, &id, &seq, &sent));
            seqstats_add(&st, seq, sizeof p, now, sent);
        }
        assert_int_equal(st.received, 4);
        assert_int_equal(seqstats_lost(&st), 0);
        assert_true(isfinite(st.jitter_ns) && st.jitter_ns >= 0);
        seqstats_free(&st);
    }
    /* out of range entirely: counted, left out of the jitter */
    seqstats st = {0};
    seqstats_add(&st, 0, 28, 0, UINT64_MAX);
    seqstats_add(&st, 1, 28, UINT64_MAX, 0);
    assert_int_equal(st.bad_time, 2);
    assert_false(st.have_transit);
    assert_true(st.jitter_ns == 0);
    seqstats_free(&st);
}

static void extreme_sequence_numbers(void **state)
{
    seqstats st = {0};
    seqstats_add(&st, 0, 28, 10, 5);
    seqstats_add(&st, UINT64_MAX, 28, 10, 5); /* span 2^64: used to wrap to 0 */
    assert_int_equal(st.unique, 2);
    assert_int_equal(seqstats_lost(&st), UINT64_MAX - 1);
    /* a number far ahead costs no bitmap: it grows with the packets that came */
    seqstats_add(&st, ((uint64_t)1 << 26) - 1, 28, 10, 5);
    assert_true(st.bits <= (1u << 21));
    seqstats_add(&st, 1, 28, 10, 5);
    seqstats_add(&st, 1, 28, 10, 5);
    assert_int_equal(st.dup, 1);
    assert_int_equal(st.reorder, 2);
    seqstats_free(&st);

    st = (seqstats){0}; /* starting high, then below the first number, then wrapping around */
    seqstats_add(&st, UINT64_MAX - 1, 28, 10, 5);
    seqstats_add(&st, 3, 28, 10, 5);
    seqstats_add(&st, UINT64_MAX, 28, 10, 5);
    assert_int_equal(st.received, 3);
    assert_int_equal(st.min_seq, 3);
    assert_int_equal(st.max_seq, UINT64_MAX);
    assert_int_equal(seqstats_lost(&st), UINT64_MAX - 3 - 2);
    seqstats_free(&st);
}

static void honest_stream_accounting(void **state)
{
    seqstats st = {0};
    const uint64_t order[] = {100, 101, 103, 102, 102, 105, 106};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++)
        seqstats_add(&st, order[i], 100, 1000000 + i * 1000, 1000000 + i * 1000 - 50 - i % 2 * 10);
    assert_int_equal(st.received, 7);
    assert_int_equal(st.unique, 6);
    assert_int_equal(st.dup, 1);
    assert_int_equal(st.reorder, 1);
    assert_int_equal(seqstats_lost(&st), 1); /* 104 */
    assert_int_equal(st.bytes, 700);
    assert_true(st.jitter_ns > 0 && st.jitter_ns < 10);
    assert_int_equal(st.bad_time, 0);
    seqstats_free(&st);
}

/* Packets missing before the first that came (senders number from 0) and after the last (once
 * the end marker tells the count) are lost too; the first number seen is kept. */
static void loss_before_first_and_after_last(void **state)
{
    (void)state;
    seqstats st = {0};
    const uint64_t order[] = {4, 3, 5, 7}; /* 0..2 before, 6 in a gap */
    for (size_t i = 0; i < sizeof order / sizeof *order; i++)
        seqstats_add(&st, order[i], 64, 1000000000 + i * 100000000, 1000000000);
    assert_int_equal(st.first_seq, 4);
    seqloss l = seqstats_loss(&st, 0);
    assert_int_equal(l.gaps, 1);
    assert_int_equal(l.before, 3);
    assert_int_equal(l.after, 0); /* the count is not known yet */
    assert_int_equal(l.total, 4);
    l = seqstats_loss(&st, 10); /* a count the receiver was told: 8 and 9 missing */
    assert_int_equal(l.after, 2);
    seqstats_end(&st, 12); /* the sender's own count wins: 8..11 */
    l = seqstats_loss(&st, 10);
    assert_int_equal(l.after, 4);
    assert_int_equal(l.total, 1 + 3 + 4);
    /* the rate is over the arrival times: 3 intervals of 0.1 s */
    assert_true(fabs(seqstats_rate(&st) - 10.0) < 1e-6);
    seqstats_free(&st);

    seqstats only_end = {0};
    seqstats_end(&only_end, 5);
    assert_int_equal(seqstats_loss(&only_end, 0).total, 5);
    assert_true(isnan(seqstats_rate(&only_end)));
    seqstats one = {0};
    seqstats_add(&one, 0, 64, 1, 1);
    seqstats_add(&one, 1, 64, 2, 1); /* 1 ns apart: no rate */
    assert_true(isnan(seqstats_rate(&one)));
    seqstats_add(&one, UINT64_MAX, 64, 3, 1);
    seqstats_end(&one, UINT64_MAX);
    assert_int_equal(seqstats_loss(&one, 0).total, UINT64_MAX - 2); /* no wrap */
    seqstats_free(&one);
}

static void end_marker(void **state)
{
    (void)state;
    unsigned char p[SEQPKT_HDR];
    seqpkt_write_end(p, 0xabcd, 1000, 5);
    uint32_t id;
    uint64_t seq, sent;
    assert_true(seqpkt_parse(p, sizeof p, &id, &seq, &sent));
    assert_true(seqpkt_is_end(p));
    assert_int_equal(id, 0xabcd);
    assert_int_equal(seq, 1000);
    seqpkt_write(p, sizeof p, 1, 2, 3);
    assert_false(seqpkt_is_end(p));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_checks_every_header_field),
        cmocka_unit_test(transit_range),
        cmocka_unit_test(forged_send_times_cannot_overflow_the_jitter),
        cmocka_unit_test(extreme_sequence_numbers),
        cmocka_unit_test(honest_stream_accounting),
        cmocka_unit_test(loss_before_first_and_after_last),
        cmocka_unit_test(end_marker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
