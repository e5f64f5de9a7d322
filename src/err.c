/* Error codes, their names and texts, and the per-thread context message. */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char errmsg[512];

const char *sk_strerror(int code)
{
    switch (code) {
#define SK__ERR_TEXT(name, value, msg)                                                             \
    case value:                                                                                    \
        return msg;
        SK_ERR_MAP(SK__ERR_TEXT)
#undef SK__ERR_TEXT
    }
    if (code < 0) {
        const char *s = strerrordesc_np(-code); /* thread-safe, unlike strerror */
        if (s)
            return s;
    }
    return code >= 0 ? "success" : "unknown error";
}

const char *sk_err_name(int code)
{
    switch (code) {
#define SK__ERR_NAME(name, value, msg)                                                             \
    case value:                                                                                    \
        return #name;
        SK_ERR_MAP(SK__ERR_NAME)
#undef SK__ERR_NAME
    }
    if (code < 0) {
        const char *s = strerrorname_np(-code);
        if (s)
            return s;
    }
    return code >= 0 ? "OK" : "UNKNOWN";
}

const char *sk_errmsg(void)
{
    return errmsg;
}

int sk__fail(int code, const char *fmt, ...)
{
    char ctx[sizeof errmsg - 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    snprintf(errmsg, sizeof errmsg, "%s: %s", ctx, sk_strerror(code));
    return code;
}

int sk__fail_errno(const char *fmt, ...)
{
    int code = -errno;
    char ctx[sizeof errmsg - 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    snprintf(errmsg, sizeof errmsg, "%s: %s", ctx, sk_strerror(code));
    return code;
}

int sk__fail_why(int code, const char *why, const char *fmt, ...)
{
    char ctx[sizeof errmsg - 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    snprintf(errmsg, sizeof errmsg, "%s: %s", ctx, why);
    return code;
}
