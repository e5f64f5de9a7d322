/* The io_uring backend: readiness through IORING_OP_POLL_ADD, every change and re-arm queued as
 * SQEs and submitted with the wait in one io_uring_enter per iteration.
 *
 * One-shot polls, re-armed after each event, not multishot ones: a multishot poll posts a
 * completion only when the socket's wait queue is woken (new data, freed send space), so a
 * watcher that left bytes unread, or was writable and did not write, would hear nothing more. The
 * loop promises level-triggered events (as epoll's and poll's), which a one-shot poll re-armed
 * after the callback gives exactly: arming checks the fd's state at once. The re-arm is one SQE in
 * the next iteration's submission, not a system call of its own.
 *
 * Per fd: the events and generation the loop wants, and whether a poll is in flight (and for
 * which generation). Completions carry (gen << 32 | fd); one for a poll that was removed or
 * replaced meanwhile is dropped here, as the loop drops stale generations. */
#include "internal.h"
#include "loop_backend.h"
#include "loop_ops.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if SK_HAVE_URING

#include <liburing.h>
#include <poll.h>

#define SQ_ENTRIES 512
#define CQ_ENTRIES                                                                                 \
    4096 /* polls in flight are one per watched fd; past this the kernel keeps the                 \
          * overflow (IORING_FEAT_NODROP), only slower */
#define UD_NONE UINT64_MAX /* removals and liburing's own timeouts: nothing to report */
#define OP_BIT                                                                                     \
    0x80000000u /* in the low half of user_data: an op (loop_ops.h), not an fd's poll              \
                 */
/* A close (close_op): OP_BIT and the fd in the low half, 0 in the high one, where an op has its
 * generation (never 0) and UD_NONE all ones. */
#define UD_CLOSE(fd) ((uint64_t)(OP_BIT | (uint32_t)(fd)))

struct slot {
    uint32_t gen;       /* what the loop last asked for */
    uint32_t armed_gen; /* the generation of the poll in flight */
    uint8_t events;
    bool armed;  /* a poll is in flight */
    bool queued; /* in the re-arm list */
};

/* A completion-based op in flight (loop_ops.h): its callback (NULL once detached), what to free at
 * its end, and the generation its id and user_data carry. */
struct op {
    sk__op_fn fn;
    void *arg;
    void *owned;
    uint32_t gen;
    bool live;
    bool accept; /* its completions carry new fds: closed here if nobody takes them */
};

#ifndef SK_URING_NBUF /* -D at build time, for tests of a small ring (docs/loop.md) */
#define NBUF 256      /* a power of two */
#else
#define NBUF SK_URING_NBUF
#endif
#ifndef SK_URING_NBUF_MAX
#define NBUF_MAX (8 * NBUF) /* a power of two: 2,048 x 4 KiB, 8 MiB */
#else
#define NBUF_MAX SK_URING_NBUF_MAX
#endif
#ifndef SK_URING_BUFSZ
#define BUFSZ 4096 /* 1 MiB: the ring takes them in turn, so in time every one is touched */
#else
#define BUFSZ SK_URING_BUFSZ
#endif
#define BGID 0

/* A completion of an op, kept from the wait until complete() runs it. */
struct done {
    uint32_t slot, gen;
    int res;
    unsigned flags;
};

struct state {
    struct io_uring ring;
    struct op *ops;
    size_t nops, capops;
    uint32_t *free_ops;
    size_t nfree_ops;
    struct done *done;
    size_t ndone, capdone;
    struct io_uring_buf_ring *br; /* the provided buffers, made at the first receive */
    unsigned char *chunk[64];     /* NBUF buffers each; nbufs / NBUF of them (<= NBUF_MAX) */
    unsigned nbufs;
    bool grew; /* the ring grew for this wait's completions (buf_grow) */
    _Atomic unsigned bufs_out; /* taken by completions, not given back yet (tests read it) */
    struct slot *s;
    size_t ns;
    int *rearm; /* fds whose one-shot poll fired: armed again before the next wait */
    size_t nrearm, caprearm;
    bool skip_ok; /* IOSQE_CQE_SKIP_SUCCESS known (5.17+): no CQE for a removal that worked */
    unsigned closes_queued; /* closes in the submission queue (close_flush): 0 once submitted */
};

static uint64_t ud_of(uint32_t gen, int fd)
{
    return (uint64_t)gen << 32 | (uint32_t)fd;
}

/* A free SQE; a full submission queue is submitted first (the only other io_uring_enter). */
static struct io_uring_sqe *sqe_get(struct state *st)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&st->ring);
    if (!sqe && io_uring_submit(&st->ring) >= 0)
        sqe = io_uring_get_sqe(&st->ring);
    return sqe;
}

static int arm(struct state *st, int fd)
{
    struct slot *sl = &st->s[fd];
    struct io_uring_sqe *sqe = sqe_get(st);
    if (!sqe)
        return -EBUSY;
    unsigned mask =
        (sl->events & SK_READABLE ? POLLIN : 0) | (sl->events & SK_WRITABLE ? POLLOUT : 0);
    io_uring_prep_poll_add(sqe, fd, mask);
    io_uring_sqe_set_data64(sqe, ud_of(sl->gen, fd));
    sl->armed = true;
    sl->armed_gen = sl->gen;
    return 0;
}

static int disarm(struct state *st, int fd)
{
    struct slot *sl = &st->s[fd];
    struct io_uring_sqe *sqe = sqe_get(st);
    if (!sqe)
        return -EBUSY;
    /* by user_data, not fd: right even when the fd was closed (or its number reused) already */
    io_uring_prep_poll_remove(sqe, ud_of(sl->armed_gen, fd));
    io_uring_sqe_set_data64(sqe, UD_NONE);
    if (st->skip_ok)
        io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
    sl->armed = false;
    return 0;
}

static void *create(void)
{
    struct state *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    struct io_uring_params p = {
        .flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        .cq_entries = CQ_ENTRIES,
    };
    int rc = io_uring_queue_init_params(SQ_ENTRIES, &st->ring, &p);
    if (rc == -EINVAL) { /* a kernel older than 5.19 knows fewer flags */
        p = (struct io_uring_params){.flags = IORING_SETUP_CQSIZE, .cq_entries = CQ_ENTRIES};
        rc = io_uring_queue_init_params(SQ_ENTRIES, &st->ring, &p);
    }
    if (rc == 0) {
        st->skip_ok = p.features & IORING_FEAT_CQE_SKIP;
        /* A sandbox may allow io_uring_setup and refuse io_uring_enter: try one no-op now, so
         * the loop falls back here rather than failing at its first wait. */
        struct io_uring_sqe *sqe = io_uring_get_sqe(&st->ring);
        struct io_uring_cqe *cqe;
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, UD_NONE);
        rc = io_uring_submit_and_wait(&st->ring, 1);
        if (rc >= 0 && (rc = io_uring_peek_cqe(&st->ring, &cqe)) == 0)
            io_uring_cqe_seen(&st->ring, cqe);
        if (rc < 0)
            io_uring_queue_exit(&st->ring);
    }
    if (rc < 0) {
        free(st);
        errno = -rc;
        return NULL;
    }
    return st;
}

/* A close's completion (close_op), true if cqe is one. With IOSQE_CQE_SKIP_SUCCESS only a failed
 * close posts one. A failure is ignored as close(2)'s would be (the fd is gone all the same),
 * except where the kernel never ran it: an op it does not know (before 5.6: -EINVAL), or one
 * cancelled before it ran (-ECANCELED: only a close punted to a worker, which a socket's never
 * is). The fd is still ours then, and closed here, or it would stay open for good. */
static bool close_done(uint64_t ud, int res)
{
    if (ud >> 32 || !((uint32_t)ud & OP_BIT))
        return false;
    if (res == -EINVAL || res == -EOPNOTSUPP || res == -ECANCELED)
        close((int)((uint32_t)ud & ~OP_BIT));
    return true;
}

static bool op_is_accept(const struct state *st, uint64_t ud)
{
    uint32_t slot = (uint32_t)ud & ~OP_BIT;
    return ((uint32_t)ud & OP_BIT) && slot < st->nops && st->ops[slot].live &&
           st->ops[slot].gen == (uint32_t)(ud >> 32) && st->ops[slot].accept;
}

/* Before the ring goes: the completions in it that carry an fd nobody will take (an accept's),
 * or that say a close was not done (close_done), are the last word on those fds. */
static void reap_cq(struct state *st)
{
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&st->ring, head, cqe)
    {
        seen++;
        uint64_t ud = io_uring_cqe_get_data64(cqe);
        if (ud != UD_NONE && !close_done(ud, cqe->res) && op_is_accept(st, ud) && cqe->res >= 0)
            close(cqe->res);
    }
    io_uring_cq_advance(&st->ring, seen);
}

/* Before the ring goes: accepts still in flight are cancelled, and the fds that completions
 * brought and nobody took (kept for complete(), or still in the ring) are closed, else they
 * would stay open in the process with nothing to close them. */
static void reap_accepts(struct state *st)
{
    bool any = false;
    for (size_t i = 0; i < st->ndone; i++) {
        const struct done *d = &st->done[i];
        if (op_is_accept(st, (uint64_t)d->gen << 32 | OP_BIT | d->slot) && d->res >= 0)
            close(d->res);
    }
    st->ndone = 0;
    for (size_t i = 0; i < st->nops; i++) {
        struct io_uring_sqe *sqe;
        if (!st->ops[i].live || !st->ops[i].accept || !(sqe = sqe_get(st)))
            continue;
        io_uring_prep_cancel64(sqe, (uint64_t)st->ops[i].gen << 32 | OP_BIT | (uint32_t)i, 0);
        io_uring_sqe_set_data64(sqe, UD_NONE);
        any = true;
    }
    if (!any)
        return;
    /* the cancels, and the task work that posts what completed before them */
    io_uring_submit_and_get_events(&st->ring);
    reap_cq(st);
}

/* Before the ring goes: what is still queued is submitted, as io_uring_queue_exit would drop it.
 * A close is done as it is submitted (a socket has no flush to wait for: the kernel closes it
 * inline, it never goes to a worker), so after the submission no fd of ours is left waiting. If
 * the submission fails (out of memory; a full completion ring: emptied, then tried again), the
 * fds of the closes still queued are closed with close(2). */
static void flush_closes_at_exit(struct state *st)
{
    for (int i = 0; i < 3 && io_uring_sq_ready(&st->ring); i++) {
        if (io_uring_submit(&st->ring) >= 0)
            break;
        reap_cq(st);
    }
    struct io_uring_sq *sq = &st->ring.sq;
    for (unsigned h = *sq->khead; h != sq->sqe_tail; h++) {
        const struct io_uring_sqe *sqe = &sq->sqes[h & sq->ring_mask];
        if (sqe->opcode == IORING_OP_CLOSE)
            close(sqe->fd);
    }
    reap_cq(st);
    st->closes_queued = 0;
}

static void destroy(void *p)
{
    struct state *st = p;
    reap_accepts(st);
    flush_closes_at_exit(st);
    /* cancels the polls in flight; the kernel then queues task work to this thread, which
     * interrupts its next sleeping wait once (docs/loop.md) */
    io_uring_queue_exit(&st->ring);
    for (size_t i = 0; i < st->nops; i++)
        if (st->ops[i].live)
            free(st->ops[i].owned);
    free(st->ops);
    free(st->free_ops);
    free(st->done);
    free(st->br);
    for (unsigned i = 0; i < st->nbufs / NBUF; i++)
        free(st->chunk[i]);
    free(st->s);
    free(st->rearm);
    free(st);
}

static int grow(struct state *st, int fd)
{
    if ((size_t)fd < st->ns)
        return 0;
    size_t n = st->ns ? st->ns : 64;
    while (n <= (size_t)fd)
        n *= 2;
    struct slot *s = realloc(st->s, n * sizeof *s);
    if (!s)
        return -ENOMEM;
    for (size_t i = st->ns; i < n; i++)
        s[i] = (struct slot){0};
    st->s = s;
    st->ns = n;
    return 0;
}

static int set(void *p, int fd, int old_events, int new_events, uint32_t gen)
{
    struct state *st = p;
    int rc = grow(st, fd);
    if (rc < 0)
        return rc;
    struct slot *sl = &st->s[fd];
    (void)old_events;
    sl->events = (uint8_t)new_events;
    sl->gen = gen;
    if (sl->armed && (rc = disarm(st, fd)) < 0)
        return rc;
    if (new_events && (rc = arm(st, fd)) < 0)
        return rc;
    return 0;
}

/* The fds whose poll fired last time, armed again if still watched (and not armed by set()). */
static int rearm_fired(struct state *st)
{
    for (size_t i = 0; i < st->nrearm; i++) {
        struct slot *sl = &st->s[st->rearm[i]];
        sl->queued = false;
        if (sl->events && !sl->armed) {
            int rc = arm(st, st->rearm[i]);
            if (rc < 0) { /* keep the rest for the next wait */
                sl->queued = true;
                size_t left = st->nrearm - i;
                for (size_t j = 0; j < left; j++)
                    st->rearm[j] = st->rearm[i + j];
                st->nrearm = left;
                return rc;
            }
        }
    }
    st->nrearm = 0;
    return 0;
}

static int queue_rearm(struct state *st, int fd)
{
    if (st->s[fd].queued)
        return 0;
    if (st->nrearm == st->caprearm) {
        size_t c = st->caprearm ? st->caprearm * 2 : 64;
        int *r = realloc(st->rearm, c * sizeof *r);
        if (!r)
            return -ENOMEM;
        st->rearm = r;
        st->caprearm = c;
    }
    st->rearm[st->nrearm++] = fd;
    st->s[fd].queued = true;
    return 0;
}

/* ---- completion-based ops (loop_ops.h) ------------------------------------------------------ */

/* Provided buffers: one ring per loop, made at the first receive, so a loop that only polls
 * costs nothing more. A buffer is taken by one completion and given back after on_data (or after
 * a paused connection delivers it): an idle connection holds none. The ring starts with NBUF
 * buffers and grows by NBUF at a time (buf_grow) when receives find it empty, which happens when
 * more connections have input at once than there are buffers (1,000 busy connections), up to
 * NBUF_MAX; it does not shrink. */
_Static_assert(NBUF_MAX / NBUF <= 64 && NBUF_MAX % NBUF == 0 && NBUF_MAX <= 32768,
               "the ring's chunks (struct state) and 16-bit buffer ids");

static void bufs_add(struct state *st, unsigned first)
{
    for (unsigned i = 0; i < NBUF; i++)
        io_uring_buf_ring_add(st->br, st->chunk[first / NBUF] + (size_t)i * BUFSZ, BUFSZ,
                              (unsigned short)(first + i), io_uring_buf_ring_mask(NBUF_MAX),
                              (int)i);
    io_uring_buf_ring_advance(st->br, NBUF);
}

static int bufs_make(struct state *st)
{
    if (st->br)
        return 0;
    struct io_uring_buf_ring *br = NULL;
    if (posix_memalign((void **)&br, 4096, NBUF_MAX * sizeof(struct io_uring_buf)))
        return -ENOMEM;
    unsigned char *bufs = malloc((size_t)NBUF * BUFSZ);
    if (!bufs) {
        free(br);
        return -ENOMEM;
    }
    io_uring_buf_ring_init(br);
    struct io_uring_buf_reg reg = {
        .ring_addr = (unsigned long)br, .ring_entries = NBUF_MAX, .bgid = BGID};
    int rc = io_uring_register_buf_ring(&st->ring, &reg, 0);
    if (rc < 0) {
        free(br);
        free(bufs);
        return rc;
    }
    st->br = br;
    st->chunk[0] = bufs;
    st->nbufs = NBUF;
    bufs_add(st, 0);
    return 0;
}

/* NBUF more buffers, if the ring has room: 1 if it grew (or did for this wait's completions
 * already), 0 if it is at NBUF_MAX, or -ENOMEM. */
static int buf_grow(void *p)
{
    struct state *st = p;
    if (!st->br || st->nbufs >= NBUF_MAX)
        return 0;
    /* the receives of one burst that found the ring empty complete together: it grows once for
     * them (once per wait's completions), not once each */
    if (st->grew)
        return 1;
    st->grew = true;
    unsigned char *bufs = malloc((size_t)NBUF * BUFSZ);
    if (!bufs)
        return -ENOMEM;
    st->chunk[st->nbufs / NBUF] = bufs;
    bufs_add(st, st->nbufs);
    st->nbufs += NBUF;
    return 1;
}

static const unsigned char *buf_of(void *p, unsigned bid)
{
    struct state *st = p;
    return st->chunk[bid / NBUF] + (size_t)(bid % NBUF) * BUFSZ;
}

static void buf_return(void *p, unsigned bid)
{
    struct state *st = p;
    atomic_fetch_sub_explicit(&st->bufs_out, 1, memory_order_relaxed);
    io_uring_buf_ring_add(st->br, (void *)buf_of(st, bid), BUFSZ, (unsigned short)bid,
                          io_uring_buf_ring_mask(NBUF_MAX), 0);
    io_uring_buf_ring_advance(st->br, 1);
}

static unsigned bufs_total(void *p)
{
    struct state *st = p;
    return st->nbufs;
}

/* An op's id: its slot's generation (31 bits, never 0) above the slot, > 0 as an int64_t. Its
 * user_data is the same with OP_BIT set in the low half, where a poll has its fd (never). */
static uint64_t op_ud(uint32_t gen, uint32_t slot)
{
    return (uint64_t)gen << 32 | OP_BIT | slot;
}

static int64_t op_new(struct state *st, sk__op_fn fn, void *arg)
{
    uint32_t slot;
    if (st->nfree_ops) {
        slot = st->free_ops[--st->nfree_ops];
    } else {
        if (st->nops == st->capops) {
            size_t c = st->capops ? st->capops * 2 : 64;
            struct op *o = realloc(st->ops, c * sizeof *o);
            if (!o)
                return -ENOMEM;
            st->ops = o;
            uint32_t *f = realloc(st->free_ops, c * sizeof *f);
            if (!f)
                return -ENOMEM;
            st->free_ops = f;
            st->capops = c;
        }
        slot = (uint32_t)st->nops++;
        st->ops[slot].gen = 0;
    }
    struct op *o = &st->ops[slot];
    uint32_t gen = (o->gen + 1) & 0x7fffffff;
    *o = (struct op){.fn = fn, .arg = arg, .gen = gen ? gen : 1, .live = true};
    return (int64_t)((uint64_t)o->gen << 32 | slot);
}

static void op_free(struct state *st, uint32_t slot)
{
    struct op *o = &st->ops[slot];
    free(o->owned);
    o->owned = NULL;
    o->fn = NULL;
    o->live = false;
    st->free_ops[st->nfree_ops++] = slot;
}

/* The op named by id if it is in flight, else NULL (ended, or a stale id). */
static struct op *op_of(struct state *st, int64_t id, uint32_t *slot)
{
    *slot = (uint32_t)id;
    if (id <= 0 || *slot >= st->nops || !st->ops[*slot].live ||
        st->ops[*slot].gen != (uint32_t)(id >> 32))
        return NULL;
    return &st->ops[*slot];
}

/* An SQE for a new op (its id returned, the SQE in *out), or a negative code: no SQE left
 * (-EBUSY), or no op (the SQE taken is made a no-op without a callback). */
static int64_t op_start(struct state *st, sk__op_fn fn, void *arg, struct io_uring_sqe **out)
{
    struct io_uring_sqe *sqe = sqe_get(st);
    if (!sqe)
        return -EBUSY;
    int64_t id = op_new(st, fn, arg);
    if (id < 0) {
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, UD_NONE);
        return id;
    }
    *out = sqe;
    return id;
}

static int64_t recv_op(void *p, int fd, bool multishot, sk__op_fn fn, void *arg)
{
    struct state *st = p;
    int rc = bufs_make(st);
    if (rc < 0)
        return rc;
    struct io_uring_sqe *sqe;
    int64_t id = op_start(st, fn, arg, &sqe);
    if (id < 0)
        return id;
    if (multishot)
        io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    else
        io_uring_prep_recv(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    io_uring_sqe_set_data64(sqe, op_ud((uint32_t)(id >> 32), (uint32_t)id));
    return id;
}

static int64_t send_op(void *p, int fd, const void *buf, size_t len, sk__op_fn fn, void *arg)
{
    struct state *st = p;
    struct io_uring_sqe *sqe;
    int64_t id = op_start(st, fn, arg, &sqe);
    if (id < 0)
        return id;
    /* the SQE's length is 32 bits: a larger buffer goes in several sends */
    io_uring_prep_send(sqe, fd, buf, len > (1u << 30) ? 1u << 30 : len, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, op_ud((uint32_t)(id >> 32), (uint32_t)id));
    return id;
}

/* SOCKKIT_URING_ACCEPT=old-kernel, a test and diagnostic knob (docs/loop.md): the accept SQE
 * carries a flag bit in ioprio that no kernel knows. io_accept_prep refuses unknown bits with
 * -EINVAL, as a kernel before 5.19 refuses any ioprio (the multishot bit included): this kernel
 * then answers as an old one does, and the listener's fallback (server_ring_accept.c) runs.
 * Read once per process: getenv races with setenv in other threads. */
#define ACCEPT_UNKNOWN_FLAG (1u << 15)
static bool env_old_accept;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static void read_env(void)
{
    const char *e = getenv("SOCKKIT_URING_ACCEPT");
    env_old_accept = e && !strcmp(e, "old-kernel");
}

/* Multishot: the kernel accepts each client as it comes, with no system call of ours; no address
 * (one buffer would serve every completion, overwritten before it is read). */
static int64_t accept_op(void *p, int fd, sk__op_fn fn, void *arg)
{
    struct state *st = p;
    struct io_uring_sqe *sqe;
    int64_t id = op_start(st, fn, arg, &sqe);
    if (id < 0)
        return id;
    st->ops[(uint32_t)id].accept = true;
    io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    pthread_once(&env_once, read_env);
    if (env_old_accept)
        sqe->ioprio |= ACCEPT_UNKNOWN_FLAG;
    io_uring_sqe_set_data64(sqe, op_ud((uint32_t)(id >> 32), (uint32_t)id));
    return id;
}

/* Fire and forget: no op slot, no callback, no completion when it works (CQE_SKIP_SUCCESS); one
 * that fails is seen by close_done. It goes in the same submission as the cancels of the
 * connection's ops queued before it; the kernel does not order them (no link), and need not: an
 * op in flight holds its own reference to the file, and a cancel finds it by user_data, not by
 * fd, so the socket ends when the last of them does, whichever runs first. */
static void close_op(void *p, int fd)
{
    struct state *st = p;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&st->ring);
    if (!sqe) { /* full: a close(2) is one system call, as a submission to make room would be */
        close(fd);
        return;
    }
    io_uring_prep_close(sqe, fd);
    io_uring_sqe_set_data64(sqe, UD_CLOSE(fd));
    if (st->skip_ok)
        io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
    st->closes_queued++;
}

static void close_flush(void *p)
{
    struct state *st = p;
    if (st->closes_queued && io_uring_submit(&st->ring) >= 0 && !io_uring_sq_ready(&st->ring))
        st->closes_queued = 0;
}

static void own_op(void *p, int64_t id, void *owned)
{
    struct state *st = p;
    uint32_t slot;
    struct op *o = op_of(st, id, &slot);
    if (!o) {
        free(owned);
        return;
    }
    if (o->owned) { /* the op reads the first buffer it was given; a later one, never */
        free(owned);
        return;
    }
    o->owned = owned;
}

static void cancel_op(void *p, int64_t id, bool detach, void *owned)
{
    struct state *st = p;
    uint32_t slot;
    struct op *o = op_of(st, id, &slot);
    if (!o) {
        free(owned);
        return;
    }
    if (owned)
        own_op(st, id, owned);
    if (detach)
        o->fn = NULL;
    struct io_uring_sqe *sqe = sqe_get(st);
    if (!sqe)
        return; /* the op ends with its fd's connection (or with the ring) */
    io_uring_prep_cancel64(sqe, op_ud(o->gen, slot), 0);
    io_uring_sqe_set_data64(sqe, UD_NONE);
    if (st->skip_ok)
        io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
}

static int keep_done(struct state *st, uint64_t ud, const struct io_uring_cqe *cqe)
{
    if (st->ndone == st->capdone) {
        size_t c = st->capdone ? st->capdone * 2 : 256;
        struct done *d = realloc(st->done, c * sizeof *d);
        if (!d)
            return -ENOMEM;
        st->done = d;
        st->capdone = c;
    }
    st->done[st->ndone++] = (struct done){.slot = (uint32_t)ud & ~OP_BIT,
                                          .gen = (uint32_t)(ud >> 32),
                                          .res = cqe->res,
                                          .flags = cqe->flags};
    return 0;
}

/* The callbacks may start and cancel ops (the slots move: looked up by index each time). */
static int complete(void *p, struct sk_loop *l)
{
    struct state *st = p;
    int ran = 0;
    st->grew = false;
    for (size_t i = 0; i < st->ndone; i++) {
        struct done d = st->done[i];
        if (d.slot >= st->nops || !st->ops[d.slot].live || st->ops[d.slot].gen != d.gen)
            continue;
        struct op o = st->ops[d.slot];
        bool more = d.flags & IORING_CQE_F_MORE;
        struct sk__op_done r = {.op = (int64_t)((uint64_t)d.gen << 32 | d.slot),
                                .res = d.res,
                                .more = more,
                                .has_buf = d.flags & IORING_CQE_F_BUFFER,
                                .nonempty = d.flags & IORING_CQE_F_SOCK_NONEMPTY};
        if (r.has_buf) {
            atomic_fetch_add_explicit(&st->bufs_out, 1, memory_order_relaxed);
            r.bid = d.flags >> IORING_CQE_BUFFER_SHIFT;
            r.buf = buf_of(st, r.bid);
        }
        if (!more)
            op_free(st, d.slot); /* its id is stale from here on, in the callback too */
        if (o.fn) {
            o.fn(l, &r, o.arg);
            ran++;
        } else if (r.has_buf) {
            buf_return(st, r.bid);
        } else if (o.accept && r.res >= 0) { /* a client for a listener that gave up on it */
            close(r.res);
        }
    }
    st->ndone = 0;
    return ran;
}

static unsigned bufs_out(void *p)
{
    struct state *st = p;
    return atomic_load_explicit(&st->bufs_out, memory_order_relaxed);
}

static const struct sk__loop_ops uring_ops = {
    .bufs_out = bufs_out,
    .buf_size = BUFSZ,
    .buf_grow = buf_grow,
    .bufs_total = bufs_total,
    .recv = recv_op,
    .send = send_op,
    .accept = accept_op,
    .close = close_op,
    .close_flush = close_flush,
    .cancel = cancel_op,
    .own = own_op,
    .buf_return = buf_return,
    .buf = buf_of,
    .complete = complete,
};

/* Submit what is queued and wait for one completion, in one io_uring_enter. */
static int submit_wait(struct state *st, int timeout_ms)
{
    struct io_uring_cqe *cqe;
    int rc;
    if (timeout_ms == 0) {
        rc = io_uring_submit(&st->ring);
    } else if (timeout_ms < 0) {
        rc = io_uring_submit_and_wait(&st->ring, 1);
    } else {
        struct __kernel_timespec ts = {.tv_sec = timeout_ms / 1000,
                                       .tv_nsec = (long long)(timeout_ms % 1000) * 1000000};
        rc = io_uring_submit_and_wait_timeout(&st->ring, &cqe, 1, &ts, NULL);
    }
    /* a timeout, a signal, or completions the kernel holds back: collect what there is */
    if (rc == -ETIME || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY)
        return 0;
    return rc < 0 ? rc : 0;
}

static int wait_ready(void *p, int timeout_ms, struct sk__ready *out, int max)
{
    struct state *st = p;
    int rc = rearm_fired(st);
    if (rc < 0)
        return rc;
    rc = submit_wait(st, timeout_ms);
    if (!io_uring_sq_ready(&st->ring))
        st->closes_queued = 0;
    if (rc < 0)
        return rc;
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    int n = 0;
    io_uring_for_each_cqe(&st->ring, head, cqe)
    {
        if (n == max)
            break; /* the rest stay in the ring for the next wait */
        seen++;
        uint64_t ud = io_uring_cqe_get_data64(cqe);
        if (ud == UD_NONE || close_done(ud, cqe->res))
            continue;
        if ((uint32_t)ud & OP_BIT) {
            if ((rc = keep_done(st, ud, cqe)) < 0) {
                seen--;
                break;
            }
            continue;
        }
        int fd = (int)(uint32_t)ud;
        uint32_t gen = (uint32_t)(ud >> 32);
        if ((size_t)fd >= st->ns || !st->s[fd].armed || st->s[fd].armed_gen != gen)
            continue; /* removed or replaced since it was armed */
        st->s[fd].armed = false;
        if ((rc = queue_rearm(st, fd)) < 0) {
            st->s[fd].armed = true; /* not taken: seen again next time */
            seen--;
            break;
        }
        int r = cqe->res;
        /* an error (the fd closed under the poll: -EBADF) reports as both, as POLLNVAL does */
        int events =
            r < 0 || (r & (POLLERR | POLLHUP))
                ? SK_READABLE | SK_WRITABLE
                : (r & (POLLIN | POLLRDHUP) ? SK_READABLE : 0) | (r & POLLOUT ? SK_WRITABLE : 0);
        out[n++] = (struct sk__ready){.fd = fd, .events = events, .gen = gen};
    }
    io_uring_cq_advance(&st->ring, seen);
    return n;
}

const struct sk__loop_backend sk__loop_uring = {"io_uring", create, destroy,   set,
                                                wait_ready, false,  &uring_ops};

#else /* built without liburing: the loop says so and runs epoll */

const struct sk__loop_backend sk__loop_uring = {"io_uring", NULL, NULL, NULL, NULL, false, NULL};

#endif
