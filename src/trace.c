/* Trace hooks. PLACEHOLDER until the trace work lands: every hook is a no-op and tracing cannot be
 * turned on. Replaced by the real implementation (see include/sockkit/trace.h). */
#include "internal.h"

#include <stdio.h>

void sk_trace_set(int level, int out_fd) {}
int sk_trace_level(void)
{
    return SK_TRACE_OFF;
}
void sk_trace_set_sink(sk_trace_sink fn, void *arg) {}
void sk_trace_set_role(int fd, sk_role role) {}
size_t sk_hexdump(const void *data, size_t len, size_t base_offset, char *out, size_t outlen)
{
    if (outlen) out[0] = 0;
    return 0;
}
void sk__trace_socket(int fd, int family, int type, int proto, sk_role role) {}
void sk__trace_role(int fd, sk_role role) {}
void sk__trace_call(int fd, const char *fmt, ...) {}
void sk__trace_data(int fd, char dir, const sk_addr *peer, const void *data, size_t len) {}
void sk__trace_close(int fd) {}
