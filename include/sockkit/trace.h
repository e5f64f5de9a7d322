/* clang-format off: the example keeps its columns */
/* sockkit — tracing of socket operations.
 *
 * With tracing on, every socket operation the library performs prints one line: the time of day
 * with microseconds, role (client/server), transport (tcp/udp/unix), and the call in socket-API
 * terms (examples/tcp_server.c on port 6000, one client sending "hello"):
 *
 *   15:50:52.783001 server tcp   socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3
 *   15:50:52.783004 server tcp   setsockopt SO_REUSEADDR=1
 *   15:50:52.783020 server tcp   bind 127.0.0.1:6000
 *   15:50:52.783025 server tcp   listen backlog=4096
 *   15:50:52.783138 server tcp   accept 127.0.0.1:35838 = 4
 *   15:50:52.783168 server tcp   < 127.0.0.1:35838  5 bytes @0  fd=4
 *       00000000  68 65 6c 6c 6f                                    |hello|
 *   15:50:52.783210 server tcp   close 4
 *
 * Data lines (level SK_TRACE_DATA) carry direction ('>' sent, '<' received), peer, byte count and
 * the running offset of that direction, followed by a hexdump.
 *
 * Turn it on with sk_trace_set(), or from the environment: SOCKKIT_TRACE=calls|data and optionally
 * SOCKKIT_TRACE_FILE=/path (default stderr), SOCKKIT_TRACE_FORMAT=json (one JSON object per event,
 * the same fields). Output is one write per event, thread-safe.
 *
 * The same events can be written as a pcapng file for Wireshark (sk_trace_set_pcap, or
 * SOCKKIT_PCAP=/path), on or off independently of the text: TCP as a synthesized stream
 * (handshake, sequence numbers, FIN/RST), UDP as UDP packets, Unix sockets as exported PDUs;
 * docs/trace.md, "pcapng".
 *
 * Threads: every function may be called from any thread; a sink is called from the thread whose
 * socket call made the event, one call per event, and must be thread-safe itself.
 */
/* clang-format on */
#ifndef SOCKKIT_TRACE_H
#define SOCKKIT_TRACE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum sk_trace_level {
    SK_TRACE_OFF = 0,
    SK_TRACE_CALLS = 1, /* one line per call */
    SK_TRACE_DATA = 2,  /* calls plus hexdumps of the bytes */
};

typedef enum sk_role {
    SK_ROLE_UNKNOWN = 0,
    SK_ROLE_CLIENT,
    SK_ROLE_SERVER,
} sk_role;

/* Turn tracing on or off, writing to out_fd (-1 = stderr). The fd is not closed by the library. */
void sk_trace_set(enum sk_trace_level level, int out_fd);
/* The current level (reads SOCKKIT_TRACE the first time it is asked, if sk_trace_set never ran). */
enum sk_trace_level sk_trace_level(void);

/* The text's format: lines (the default) or one JSON object per event, on one line, with the same
 * fields ("time", "role", "transport", then "call", or "dir", "peer", "bytes", "offset", "fd" and
 * at level data "hex" and "more"). */
enum sk_trace_format {
    SK_TRACE_TEXT = 0,
    SK_TRACE_JSON = 1,
};
void sk_trace_set_format(enum sk_trace_format format);

/* Write the traced traffic as pcapng to fd (from now on; -1 stops), whatever the text level. The
 * fd is not closed by the library. Writes the section header and the interface blocks at once:
 * returns 0, or -errno when they cannot be written (then nothing more is written). A later write
 * that fails (a full disk) stops the pcap for good, the file cut back to its last whole block;
 * the traffic is not affected. */
int sk_trace_set_pcap(int fd);
/* 0 while the pcap is written (or off), or -errno of the write that stopped it. */
int sk_trace_pcap_error(void);

/* Optional: deliver each trace event (one or more '\n'-terminated lines) to a callback instead of
 * an fd. fn = NULL restores fd output. */
typedef void (*sk_trace_sink)(const char *text, size_t len, void *arg);
void sk_trace_set_sink(sk_trace_sink fn, void *arg);

/* Declare the role of an fd the library did not create (or override it). */
void sk_trace_set_role(int fd, sk_role role);

/* Hexdump formatter, independent of tracing: lines of "OOOOOOOO  hh hh ... hh  hh ... hh  |text|\n"
 * with offsets starting at base_offset, 16 bytes a line, a gap after 8. Writes at most outlen bytes
 * (NUL-terminated) and returns the length the full dump needs (like snprintf). */
size_t sk_hexdump(const void *data, size_t len, size_t base_offset, char *out, size_t outlen);

#ifdef __cplusplus
}
#endif
#endif
