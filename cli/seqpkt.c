/* Sequence-numbered test packets and their accounting (see seqpkt.h). */
#include "seqpkt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t get_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

uint64_t seqpkt_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void seqpkt_write(unsigned char *p, size_t size, uint32_t id, uint64_t seq, uint64_t send_ns)
{
    memcpy(p, "SKMC", 4);
    p[4] = 1;
    p[5] = 0;
    put_be(p + 6, SEQPKT_HDR, 2);
    put_be(p + 8, id, 4);
    put_be(p + 12, seq, 8);
    put_be(p + 20, send_ns, 8);
    for (size_t i = SEQPKT_HDR; i < size; i++)
        p[i] = (unsigned char)(seq + i);
}

void seqpkt_write_end(unsigned char *p, uint32_t id, uint64_t count, uint64_t send_ns)
{
    seqpkt_write(p, SEQPKT_HDR, id, count, send_ns);
    p[5] = SEQPKT_F_END;
}

bool seqpkt_is_end(const unsigned char *b)
{
    return b[5] & SEQPKT_F_END;
}

bool seqpkt_parse(const unsigned char *b, size_t len, uint32_t *id, uint64_t *seq,
                  uint64_t *send_ns)
{
    if (len < SEQPKT_HDR || memcmp(b, "SKMC", 4) || b[4] != 1)
        return false;
    uint64_t hdr = get_be(b + 6, 2);
    if (hdr < SEQPKT_HDR || hdr > len)
        return false;
    *id = (uint32_t)get_be(b + 8, 4);
    *seq = get_be(b + 12, 8);
    *send_ns = get_be(b + 20, 8);
    return true;
}

bool seqpkt_transit(uint64_t recv_ns, uint64_t send_ns, int64_t *transit_ns)
{
    /* in unsigned arithmetic, so neither the subtraction nor the conversion can overflow */
    uint64_t mag = recv_ns >= send_ns ? recv_ns - send_ns : send_ns - recv_ns;
    if (mag > (uint64_t)SEQPKT_MAX_TRANSIT_NS)
        return false;
    *transit_ns = recv_ns >= send_ns ? (int64_t)mag : -(int64_t)mag;
    return true;
}

/* RFC 3550 interarrival jitter over the one-way transit times. */
static void add_jitter(seqstats *s, uint64_t recv_ns, uint64_t send_ns)
{
    int64_t transit;
    if (!seqpkt_transit(recv_ns, send_ns, &transit)) {
        s->bad_time++;
        return;
    }
    if (s->have_transit) {
        int64_t d = transit - s->last_transit; /* both within +-2^62: no overflow */
        s->jitter_ns += ((double)(d < 0 ? -d : d) - s->jitter_ns) / 16.0;
    }
    s->last_transit = transit;
    s->have_transit = true;
}

/* Whether seq gets a bit in the duplicate bitmap: at most 64 M packets of history, and no further
 * ahead than the packets that came justify (a forged number 60 M ahead would otherwise cost 8 MB
 * per stream, for each of the receiver's 256 streams). */
static bool tracked(const seqstats *s, uint64_t seq)
{
    if (seq < s->base)
        return false;
    uint64_t bit = seq - s->base;
    return bit < ((uint64_t)1 << 26) &&
           (bit < s->bits || bit < 4 * s->unique + ((uint64_t)1 << 20));
}

void seqstats_add(seqstats *s, uint64_t seq, size_t bytes, uint64_t recv_ns, uint64_t send_ns)
{
    if (!s->received) {
        s->min_seq = s->max_seq = s->base = s->first_seq = seq;
        s->first_rx_ns = recv_ns;
    }
    s->received++;
    s->bytes += bytes;
    s->last_rx_ns = recv_ns;
    add_jitter(s, recv_ns, send_ns);
    bool dup = false;
    if (tracked(s, seq)) {
        uint64_t bit = seq - s->base;
        if (bit >= s->bits) {
            size_t nb = s->bits ? s->bits : 1 << 16;
            while (nb <= bit)
                nb *= 2;
            unsigned char *p = realloc(s->seen, nb / 8);
            if (p) {
                memset(p + s->bits / 8, 0, (nb - s->bits) / 8);
                s->seen = p;
                s->bits = nb;
            }
        }
        if (bit < s->bits) {
            dup = s->seen[bit / 8] >> (bit % 8) & 1;
            s->seen[bit / 8] |= (unsigned char)(1 << (bit % 8));
        }
    }
    if (dup) {
        s->dup++;
        return;
    }
    s->unique++;
    if (s->unique > 1 && seq < s->max_seq)
        s->reorder++;
    if (seq > s->max_seq)
        s->max_seq = seq;
    if (seq < s->min_seq)
        s->min_seq = seq;
}

uint64_t seqstats_lost(const seqstats *s)
{
    if (!s->unique)
        return 0;
    /* span - unique without forming span = max - min + 1, which wraps to 0 for 0..2^64-1 */
    uint64_t gaps = s->max_seq - s->min_seq, others = s->unique - 1;
    return gaps > others ? gaps - others : 0;
}

void seqstats_end(seqstats *s, uint64_t count)
{
    s->sent = count;
    s->sent_known = true;
}

seqloss seqstats_loss(const seqstats *s, uint64_t expected)
{
    seqloss l = {0};
    uint64_t sent = s->sent_known ? s->sent : expected;
    if (!s->unique) { /* only the end marker came: every packet it counts was lost */
        l.after = l.total = sent;
        return l;
    }
    l.gaps = seqstats_lost(s);
    l.before = s->min_seq;
    if (sent && s->max_seq < sent - 1)
        l.after = sent - 1 - s->max_seq;
    /* saturating: forged numbers may make the parts add up past 2^64 */
    l.total = l.gaps + l.before;
    l.total = l.total < l.gaps ? UINT64_MAX : l.total;
    l.total = l.total + l.after < l.total ? UINT64_MAX : l.total + l.after;
    return l;
}

double seqstats_rate(const seqstats *s)
{
    if (s->received < 2 || s->last_rx_ns <= s->first_rx_ns)
        return NAN;
    double span = (double)(s->last_rx_ns - s->first_rx_ns) / 1e9;
    return span < 0.01 ? NAN : (double)(s->received - 1) / span;
}

void seqstats_free(seqstats *s)
{
    free(s->seen);
    s->seen = NULL;
    s->bits = 0;
}
