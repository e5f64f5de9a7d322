/* Shared by the libFuzzer harnesses: a check that aborts with a message (so libFuzzer saves the
 * input as a crash), and a cursor that takes bytes off the front of the input. */
#ifndef SK_FUZZ_H
#define SK_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef struct fuzz_in {
    const uint8_t *p;
    size_t n;
} fuzz_in;

/* One byte, or 0 once the input is used up. */
static inline uint8_t fuzz_u8(fuzz_in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

/* k bytes (<= 8), big-endian; missing bytes are 0. */
static inline uint64_t fuzz_uint(fuzz_in *in, int k)
{
    uint64_t v = 0;
    for (int i = 0; i < k; i++)
        v = v << 8 | fuzz_u8(in);
    return v;
}

/* Up to want bytes from the front (fewer if the input is shorter). */
static inline const uint8_t *fuzz_bytes(fuzz_in *in, size_t want, size_t *got)
{
    *got = want < in->n ? want : in->n;
    const uint8_t *p = in->p;
    in->p += *got;
    in->n -= *got;
    return p;
}

#endif
