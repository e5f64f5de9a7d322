/* Sized structs: how the library reads an options struct (and fills a result struct) whose
 * caller may have been built against an older or a newer header. The struct's first field is
 * its size as the caller's header had it (set by the SK_*_INIT macro); fields are only ever added
 * at the end, each starting at or after the end of the previous layout. So a shorter struct is an
 * older caller, whose missing fields are 0 (their documented defaults), and a longer one a newer
 * caller, which may be served if every field this library does not know is 0. */
#include "internal.h"

#include <string.h>

int sk__opts_load(void *dst, size_t known, const void *src, const char *what)
{
    memset(dst, 0, known);
    *(size_t *)dst = known;
    if (!src)
        return 0;
    size_t size = *(const size_t *)src;
    if (size < sizeof(size_t))
        return sk__fail(SK_EARG, "%s: size is %zu (initialise the struct with its SK_*_INIT macro)",
                        what, size);
    if (size > known) {
        const unsigned char *extra = (const unsigned char *)src + known;
        for (size_t i = 0; i < size - known; i++)
            if (extra[i])
                return sk__fail(SK_EARG,
                                "%s: a field this sockkit does not know is set (the program was "
                                "built against a newer sockkit than the one it runs with)",
                                what);
    }
    memcpy((char *)dst + sizeof(size_t), (const char *)src + sizeof(size_t),
           (size < known ? size : known) - sizeof(size_t));
    return 0;
}

int sk__result_store(void *dst, const void *src, size_t known, const char *what)
{
    size_t size = *(const size_t *)dst;
    if (size < sizeof(size_t))
        return sk__fail(SK_EARG, "%s: size is %zu (initialise the struct with its SK_*_INIT macro)",
                        what, size);
    size_t n = size < known ? size : known;
    memcpy((char *)dst + sizeof(size_t), (const char *)src + sizeof(size_t), n - sizeof(size_t));
    return 0;
}
