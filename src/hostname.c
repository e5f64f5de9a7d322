/* This host's name, as gethostname() gives it (the kernel's UTS name, not a DNS answer). */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int sk_hostname(char *buf, size_t len)
{
    if (!buf || !len)
        return sk__fail(SK_EARG, "hostname: no buffer");
    if (gethostname(buf, len) < 0)
        return sk__fail_errno("gethostname");
    if (!memchr(buf, '\0', len)) /* POSIX leaves a truncated name unterminated */
        return sk__fail(-ENAMETOOLONG, "gethostname: more than %zu bytes", len - 1);
    return (int)strlen(buf);
}
