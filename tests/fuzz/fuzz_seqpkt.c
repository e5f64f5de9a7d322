/* libFuzzer harness: the `mcast recv` / `bench udp --recv` packet header and its accounting
 * (cli/seqpkt.c), fed what a hostile sender could send: datagrams of any bytes, with receive times
 * of any value, accounted per sender id as mcast recv does. Checks the accounting's invariants
 * (no overflow is left to UBSan alone) and, per stream, against a model of the numbers seen. Also
 * the sender's fault plan (seqpkt_plan, tests/lib/seqfaults.c) over lists parsed from the input.
 * An end marker (flags bit 0) gives the stream its sender's count, and the loss's parts (before
 * the first, gaps, after the last) are checked against the numbers seen.
 *
 * Input: records of [2-byte length][8-byte receive time][datagram], until the input ends; a
 * record whose length has the top bit set is instead a fault plan: three comma lists,
 * NUL-separated. */
#include <math.h>
#include <stdbool.h>

#include "fuzz.h"
#include "seqfaults.h"
#include "seqpkt.h"

#define STREAMS   4
#define MODEL_MAX 512 /* numbers remembered per stream for the model */

typedef struct stream {
    bool used;
    uint32_t id;
    seqstats st;
    uint64_t seen[MODEL_MAX];
    size_t nseen;
    bool inexact; /* a number past the bitmap's reach, or more than the model keeps */
} stream;

static void check_stream(const stream *s)
{
    const seqstats *st = &s->st;
    FUZZ_CHECK(st->unique + st->dup == st->received, "unique %llu + dup %llu != received %llu",
               (unsigned long long)st->unique, (unsigned long long)st->dup,
               (unsigned long long)st->received);
    FUZZ_CHECK(st->min_seq <= st->max_seq, "min %llu > max %llu", (unsigned long long)st->min_seq,
               (unsigned long long)st->max_seq);
    FUZZ_CHECK(st->reorder < st->unique || st->unique == 0, "reorder %llu of %llu",
               (unsigned long long)st->reorder, (unsigned long long)st->unique);
    FUZZ_CHECK(isfinite(st->jitter_ns) && st->jitter_ns >= 0, "jitter %g", st->jitter_ns);
    FUZZ_CHECK(st->bits <= ((size_t)1 << 26), "bitmap of %zu bits", st->bits);
    /* the bitmap grows only with what came: 4 bits a distinct packet plus 1 Mi, then doubling */
    FUZZ_CHECK(st->bits <= 2 * (4 * st->unique + ((size_t)1 << 20)) || st->bits <= (1u << 16),
               "bitmap of %zu bits for %llu packets", st->bits, (unsigned long long)st->unique);
    uint64_t lost = seqstats_lost(st);
    FUZZ_CHECK(lost <= st->max_seq - st->min_seq, "lost %llu of span %llu..%llu",
               (unsigned long long)lost, (unsigned long long)st->min_seq,
               (unsigned long long)st->max_seq);
    /* the loss's parts: the gaps, the numbers below the first (senders number from 0), and those
     * past the last once an end marker gave the count; the total saturates, never wraps */
    seqloss l = seqstats_loss(st, 0);
    FUZZ_CHECK(!st->unique || (l.gaps == lost && l.before == st->min_seq),
               "loss parts %llu/%llu, lost %llu, min %llu", (unsigned long long)l.gaps,
               (unsigned long long)l.before, (unsigned long long)lost,
               (unsigned long long)st->min_seq);
    uint64_t after = st->sent_known && st->unique && st->sent && st->max_seq < st->sent - 1
                         ? st->sent - 1 - st->max_seq
                     : st->sent_known && !st->unique ? st->sent
                                                     : 0;
    FUZZ_CHECK(l.after == after, "after the last %llu, model %llu", (unsigned long long)l.after,
               (unsigned long long)after);
    FUZZ_CHECK(l.total >= l.gaps && l.total >= l.before && l.total >= l.after,
               "total %llu below a part", (unsigned long long)l.total);
    FUZZ_CHECK(isnan(seqstats_rate(st)) || seqstats_rate(st) >= 0, "rate %g", seqstats_rate(st));
    if (s->inexact || !s->nseen) /* nothing but an end marker yet: no numbers to model */
        return;
    /* Model: every number so far got a bit in the bitmap when it came, so unique is the count of
     * distinct numbers and lost is the span less those. (A number past the bitmap's reach is
     * counted, not told apart: unique may then count a repeat, and only the bounds above hold.) */
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < s->nseen; i++) {
        lo = s->seen[i] < lo ? s->seen[i] : lo;
        hi = s->seen[i] > hi ? s->seen[i] : hi;
    }
    FUZZ_CHECK(st->min_seq == lo && st->max_seq == hi, "min/max %llu/%llu, model %llu/%llu",
               (unsigned long long)st->min_seq, (unsigned long long)st->max_seq,
               (unsigned long long)lo, (unsigned long long)hi);
    FUZZ_CHECK(st->unique == s->nseen, "unique %llu, model %zu", (unsigned long long)st->unique,
               s->nseen);
    FUZZ_CHECK(lost == (hi - lo) - (s->nseen - 1), "lost %llu, model %llu",
               (unsigned long long)lost, (unsigned long long)((hi - lo) - (s->nseen - 1)));
}

static void remember(stream *s, uint64_t seq)
{
    for (size_t i = 0; i < s->nseen; i++)
        if (s->seen[i] == seq)
            return;
    if (s->nseen == MODEL_MAX)
        s->inexact = true;
    else
        s->seen[s->nseen++] = seq;
}

static void plan(const uint8_t *p, size_t len)
{
    char text[256];
    size_t n = len < sizeof text - 1 ? len : sizeof text - 1;
    memcpy(text, p, n);
    text[n] = '\0';
    const char *skip = text, *swap = skip + strlen(skip);
    swap += swap < text + n;
    const char *dup = swap + strlen(swap);
    dup += dup < text + n;
    seqpkt_faults f = {.skip = skip, .swap = swap, .dup = dup};
    uint64_t emitted = 0;
    for (uint64_t seq = 0; seq < 64; seq++) {
        uint64_t out[3];
        int k = seqpkt_plan(&f, seq, seq == 63, out);
        FUZZ_CHECK(k >= 0 && k <= 2, "plan gave %d numbers", k);
        for (int i = 0; i < k; i++)
            FUZZ_CHECK(out[i] <= seq, "plan emitted %llu at %llu", (unsigned long long)out[i],
                       (unsigned long long)seq);
        emitted += (uint64_t)k;
    }
    FUZZ_CHECK(!f.pending && emitted <= 128, "plan left a packet held or emitted %llu",
               (unsigned long long)emitted);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    static stream streams[STREAMS];
    memset(streams, 0, sizeof streams);
    while (in.n) {
        size_t len = (size_t)fuzz_uint(&in, 2);
        if (len & 0x8000) {
            size_t got;
            const uint8_t *p = fuzz_bytes(&in, len & 0x7fff, &got);
            plan(p, got);
            continue;
        }
        uint64_t recv_ns = fuzz_uint(&in, 8);
        size_t got;
        const uint8_t *pkt = fuzz_bytes(&in, len, &got);
        uint32_t id;
        uint64_t seq, sent;
        if (!seqpkt_parse(pkt, got, &id, &seq, &sent))
            continue;
        FUZZ_CHECK(got >= SEQPKT_HDR, "parsed a %zu-byte datagram", got);
        stream *s = &streams[id % STREAMS];
        if (s->used && s->id != id)
            continue; /* another sender on this slot: mcast recv would open another stream */
        s->used = true;
        s->id = id;
        if (seqpkt_is_end(pkt)) { /* the sender's count, as mcast recv takes it */
            seqstats_end(&s->st, seq);
            check_stream(s);
            continue;
        }
        seqstats_add(&s->st, seq, got, recv_ns, sent);
        /* covered by the bitmap now exactly when it was tracked as it came (it grows only so) */
        if (seq < s->st.base || seq - s->st.base >= s->st.bits)
            s->inexact = true;
        remember(s, seq);
        check_stream(s);
    }
    for (int i = 0; i < STREAMS; i++)
        seqstats_free(&streams[i].st);

    /* the writer's header parses back to what was written */
    unsigned char buf[SEQPKT_HDR + 8];
    uint64_t a = size ? data[0] * 0x0101010101010101ull : 7, b = ~a;
    seqpkt_write(buf, sizeof buf, (uint32_t)a, a, b);
    uint32_t id;
    uint64_t seq, sent;
    FUZZ_CHECK(seqpkt_parse(buf, sizeof buf, &id, &seq, &sent) && id == (uint32_t)a && seq == a &&
                   sent == b,
               "write/parse round trip");
    return 0;
}
