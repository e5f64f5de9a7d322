/* The sender's fault plan for tests (see seqfaults.h). */
#include "seqfaults.h"

#include <stdlib.h>

static bool in_list(const char *list, uint64_t seq)
{
    for (const char *p = list; p && *p;) {
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p)
            return false;
        if (v == seq)
            return true;
        p = *end == ',' ? end + 1 : end;
    }
    return false;
}

int seqpkt_plan(seqpkt_faults *f, uint64_t seq, bool last, uint64_t out[3])
{
    int n = 0;
    if (f->pending) { /* the swapped pair: the later one goes first */
        out[n++] = seq;
        out[n++] = f->held;
        f->pending = false;
    } else if (f->swap && in_list(f->swap, seq) && !last) {
        f->held = seq;
        f->pending = true;
    } else if (!(f->skip && in_list(f->skip, seq))) {
        out[n++] = seq;
        if (f->dup && in_list(f->dup, seq))
            out[n++] = seq;
    }
    return n;
}
