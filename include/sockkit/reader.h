/* sockkit — buffered reader over a socket fd: lines, delimiters, exact lengths, length-prefixed
 * frames (the three framing approaches of Python's Socket Programming HOWTO).
 *
 * Every call takes a timeout in milliseconds (-1 = none) that bounds the whole call. Whatever was
 * read past the returned message stays buffered for the next call. A reader does not own its fd:
 * sk_reader_free does not close it.
 *
 * Threads: a reader is not locked. Use each one from one thread at a time (hand it to another
 * thread with your own synchronisation); different readers are independent.
 */
#ifndef SOCKKIT_READER_H
#define SOCKKIT_READER_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_reader sk_reader;

#define SK_READER_BUFSIZE_DEFAULT 65536 /* sk_reader_new's bufsize 0 */

/* A reader over fd in *out. bufsize: the largest message the reader can hold at once (0 =
 * SK_READER_BUFSIZE_DEFAULT), allocated now. Returns 0, or -ENOMEM (SK_EARG for fd < 0). */
int sk_reader_new(sk_reader **out, int fd, size_t bufsize);
void sk_reader_free(sk_reader *r);
int sk_reader_fd(const sk_reader *r);

/* Bytes already buffered (readable without a system call). */
size_t sk_reader_buffered(const sk_reader *r);

/* A line ending in "\n" or "\r\n". The terminator is removed; buf is NUL-terminated. Returns:
 *   >= 0         length of the line (an empty line is 0)
 *   SK_EEOF      the peer closed; if bytes without a newline were pending they are NOT returned as
 *                a line (use sk_reader_some to drain them)
 *   SK_ETOOLONG  no newline within cap - 1 bytes (or the line does not fit the reader's buffer)
 *   -ETIMEDOUT, other negative codes
 * After any failure the unread bytes stay buffered: a retry after -ETIMEDOUT sees them, and after
 * SK_ETOOLONG sk_reader_some drains them (or close the connection). */
ssize_t sk_reader_line(sk_reader *r, char *buf, size_t cap, int timeout_ms);

/* Up to and excluding delim (dlen bytes); the delimiter is consumed. Not NUL-terminated. Same
 * returns as sk_reader_line. */
ssize_t sk_reader_until(sk_reader *r, const void *delim, size_t dlen, void *buf, size_t cap,
                        int timeout_ms);

/* Exactly n bytes. 0 on success; SK_EEOF if the stream ended first. When n fits the reader's
 * buffer, a failure leaves the bytes that did arrive buffered; a larger n is read straight into buf
 * and the partial bytes of a failed call are in buf only. */
int sk_reader_exact(sk_reader *r, void *buf, size_t n, int timeout_ms);

/* A frame with a big-endian length prefix of prefix_bytes (2 or 4). Returns the payload length;
 * SK_ETOOLONG if it exceeds cap (the frame is left unread). A frame is consumed only when it is
 * complete: after a timeout (or any failure) a retry reads the same frame. A frame longer than the
 * reader's buffer grows the buffer to hold it (at most prefix_bytes + cap). */
ssize_t sk_reader_frame(sk_reader *r, int prefix_bytes, void *buf, size_t cap, int timeout_ms);

/* Whatever is available: buffered bytes, else one read. Returns the count, 0 at EOF. A cap of 0
 * returns SK_EARG without reading (0 would look like EOF) and leaves the stream as it was.
 * (sk_reader_exact with n = 0 returns 0 at once; sk_reader_line with cap 0 is SK_EARG too.) */
ssize_t sk_reader_some(sk_reader *r, void *buf, size_t cap, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
