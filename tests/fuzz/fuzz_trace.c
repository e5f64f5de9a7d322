/* libFuzzer harness: the hexdump formatter (sk_hexdump) against a plain reference formatter,
 * with every output size (snprintf's contract), and the trace's data and call events
 * (sk__trace_data, sk__trace_call) delivered to a sink: one whole event, '\n'-terminated, whose
 * dump is the reference's, cut at SOCKKIT_TRACE_MAX with the "... more bytes" line.
 *
 * Input: mode byte (bit 0: trace on a real socket, else fd -1; bit 1: '>' else '<'; bit 2: a
 * peer address from the input; bit 3: also a call event), output size byte, 8 bytes of base
 * offset, then (with bit 2) 28 bytes of sockaddr, then the data. */
#include <sockkit.h>

#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "internal.h"

#define TRACE_MAX 256

static char *event;
static size_t event_len, events;
static int sock_fd = -1;
static uint64_t sock_off[2]; /* the running offsets the trace keeps for sock_fd */

static void sink(const char *text, size_t len, void *arg)
{
    free(event);
    event = malloc(len + 1);
    FUZZ_CHECK(event, "malloc");
    memcpy(event, text, len);
    event[len] = '\0';
    event_len = len;
    events++;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    setenv("SOCKKIT_TRACE_MAX", "256", 1); /* read once, at the first trace call */
    sk_trace_set(SK_TRACE_DATA, -1);
    sk_trace_set_sink(sink, NULL);
    int sv[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
    sock_fd = sv[0]; /* never read or written: only named in trace events */
    return 0;
}

/* The reference: the documented format, written as plainly as possible. */
static size_t ref_dump(const uint8_t *p, size_t len, size_t base, const char *prefix, char *out)
{
    size_t n = 0;
    for (size_t off = 0; off < len; off += 16) {
        size_t row = len - off < 16 ? len - off : 16;
        n += (size_t)sprintf(out + n, "%s%08zx  ", prefix, base + off);
        for (size_t i = 0; i < 16; i++) {
            n += i < row ? (size_t)sprintf(out + n, "%02x ", p[off + i])
                         : (size_t)sprintf(out + n, "   ");
            if (i == 7)
                out[n++] = ' ';
        }
        out[n++] = ' ';
        out[n++] = '|';
        for (size_t i = 0; i < row; i++)
            out[n++] = p[off + i] >= 0x20 && p[off + i] < 0x7f ? (char)p[off + i] : '.';
        out[n++] = '|';
        out[n++] = '\n';
    }
    out[n] = '\0';
    return n;
}

static size_t ref_size(size_t len, const char *prefix)
{
    return (len / 16 + 1) * (strlen(prefix) + 100) + 1;
}

static void check_hexdump(const uint8_t *d, size_t len, size_t base, size_t small)
{
    size_t room = ref_size(len, "") + small + 2; /* the cuts below write up to cap + 1 */
    char *want = malloc(room), *got = malloc(room);
    FUZZ_CHECK(want && got, "malloc");
    size_t n = ref_dump(d, len, base, "", want);
    size_t r = sk_hexdump(d, len, base, got, room);
    FUZZ_CHECK(r == n && !strcmp(got, want), "hexdump of %zu bytes at %zx differs:\n%s\nvs\n%s",
               len, base, got, want);
    FUZZ_CHECK(sk_hexdump(d, len, base, NULL, 0) == n, "size-only call");
    /* cuts as snprintf: the first few sizes, one from the input, and around the end */
    size_t cuts[] = {1, 2, 3, 9, small, n / 2, n, n + 1, n > 0 ? n - 1 : 0};
    for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
        size_t cap = cuts[k];
        if (cap == 0 || cap + 1 >= room)
            continue;
        memset(got, 'x', cap + 1);
        FUZZ_CHECK(sk_hexdump(d, len, base, got, cap) == n, "length with %zu bytes of room", cap);
        size_t keep = n < cap - 1 ? n : cap - 1;
        FUZZ_CHECK(got[keep] == '\0' && !memcmp(got, want, keep) && got[cap] == 'x',
                   "cut at %zu bytes", cap);
    }
    free(want);
    free(got);
}

static void check_data_event(int fd, char dir, const sk_addr *peer, const uint8_t *d, size_t len)
{
    uint64_t off = fd >= 0 ? sock_off[dir == '>'] : 0;
    size_t before = events;
    sk__trace_data(fd, dir, peer, d, len, "send");
    FUZZ_CHECK(events == before + 1, "no event for %zu bytes", len);
    if (fd >= 0)
        sock_off[dir == '>'] += len;
    FUZZ_CHECK(event_len > 0 && event[event_len - 1] == '\n' && strlen(event) == event_len,
               "event not one NUL-free text ending in a newline");
    char head[64];
    snprintf(head, sizeof head, "%c ", dir);
    FUZZ_CHECK(strstr(event, head), "no direction in '%s'", event);
    snprintf(head, sizeof head, "  %zu byte%s @%llu  fd=%d\n", len, len == 1 ? "" : "s",
             (unsigned long long)off, fd);
    const char *nl = strstr(event, head);
    FUZZ_CHECK(nl, "header '%s' not in '%s'", head, event);
    for (const char *c = event; c < nl; c++) /* a peer's name cannot forge or break lines */
        FUZZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f, "control byte %#x in the header '%s'",
                   (unsigned char)*c, event);
    const char *dump = nl + strlen(head);
    size_t shown = len < TRACE_MAX ? len : TRACE_MAX;
    char *want = malloc(ref_size(shown, "    ") + 128);
    FUZZ_CHECK(want, "malloc");
    size_t n = ref_dump(d, shown, (size_t)off, "    ", want);
    if (shown < len)
        sprintf(want + n, "    ... %zu more bytes (SOCKKIT_TRACE_MAX=%d)\n", len - shown,
                TRACE_MAX);
    FUZZ_CHECK(!strcmp(dump, want), "dump in the event differs:\n%s\nvs\n%s", dump, want);
    free(want);
}

static void check_call_event(int fd, const uint8_t *d, size_t len)
{
    char text[2048];
    size_t n = len < sizeof text - 1 ? len : sizeof text - 1;
    memcpy(text, d, n);
    text[n] = '\0';
    size_t before = events;
    sk__trace_call(fd, "call %s", text);
    FUZZ_CHECK(events == before + 1, "no call event");
    FUZZ_CHECK(event_len <= 1024 && event[event_len - 1] == '\n', "call event of %zu bytes",
               event_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    uint8_t mode = fuzz_u8(&in), small = fuzz_u8(&in);
    size_t base = (size_t)fuzz_uint(&in, 8);
    sk_addr peer, *pp = NULL;
    if (mode & 4) {
        struct sockaddr_storage ss = {0};
        size_t len;
        const uint8_t *p = fuzz_bytes(&in, 28, &len);
        memcpy(&ss, p, len);
        if (sk_addr_from_sockaddr((struct sockaddr *)&ss, (socklen_t)len, &peer) == 0)
            pp = &peer;
    }
    check_hexdump(in.p, in.n, base, small);
    int fd = mode & 1 ? sock_fd : -1;
    check_data_event(fd, mode & 2 ? '>' : '<', pp, in.p, in.n);
    if (mode & 8)
        check_call_event(fd, in.p, in.n);
    return 0;
}
