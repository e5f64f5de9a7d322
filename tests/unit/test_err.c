/* err.c: the code table, names, texts and the per-thread context message. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "internal.h"

static void library_codes_have_names_and_texts(void **state)
{
    assert_string_equal(sk_err_name(SK_EPORT), "SK_EPORT");
    assert_string_equal(sk_strerror(SK_EPORT), "port is not a number from 0 to 65535");
    assert_string_equal(sk_err_name(SK_EPATHLEN), "SK_EPATHLEN");
#define CHECK(name, value, msg)                                                                    \
    assert_true(value < 0);                                                                        \
    assert_string_equal(sk_err_name(value), #name);                                                \
    assert_string_equal(sk_strerror(value), msg);
    SK_ERR_MAP(CHECK)
#undef CHECK
}

static void errno_codes_use_the_system_names(void **state)
{
    assert_string_equal(sk_err_name(-ECONNREFUSED), "ECONNREFUSED");
    assert_string_equal(sk_strerror(-ECONNREFUSED), "Connection refused");
    assert_string_equal(sk_err_name(-ETIMEDOUT), "ETIMEDOUT");
    assert_string_equal(sk_err_name(0), "OK");
    assert_string_equal(sk_strerror(-999999), "unknown error");
}

static void errmsg_carries_context(void **state)
{
    int rc = sk__fail(-ECONNREFUSED, "connect %s", "[::1]:9");
    assert_int_equal(rc, -ECONNREFUSED);
    assert_string_equal(sk_errmsg(), "connect [::1]:9: Connection refused");
    errno = EADDRINUSE;
    rc = sk__fail_errno("bind %s", "0.0.0.0:80");
    assert_int_equal(rc, -EADDRINUSE);
    assert_string_equal(sk_errmsg(), "bind 0.0.0.0:80: Address already in use");
}

static void *other_thread(void *arg)
{
    /* A fresh thread starts with no message and its failures do not leak into others. */
    *(int *)arg = sk_errmsg()[0] == '\0';
    sk__fail(SK_EPORT, "parse x");
    return NULL;
}

static void errmsg_is_per_thread(void **state)
{
    sk__fail(SK_ENOHOST, "parse :80");
    int fresh = 0;
    pthread_t t;
    pthread_create(&t, NULL, other_thread, &fresh);
    pthread_join(t, NULL);
    assert_true(fresh);
    assert_string_equal(sk_errmsg(), "parse :80: empty host");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(library_codes_have_names_and_texts),
        cmocka_unit_test(errno_codes_use_the_system_names),
        cmocka_unit_test(errmsg_carries_context),
        cmocka_unit_test(errmsg_is_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
