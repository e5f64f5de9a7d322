/* hostname.c: sk_hostname is the kernel's node name, terminated; too small a buffer fails. */
#include "sktest.h"

#include <sys/utsname.h>

static void is_the_node_name(void **state)
{
    struct utsname u;
    assert_int_equal(uname(&u), 0);
    char buf[256];
    int n = sk_hostname(buf, sizeof buf);
    assert_int_equal(n, (int)strlen(u.nodename));
    assert_string_equal(buf, u.nodename);
}

static void too_small(void **state)
{
    struct utsname u;
    assert_int_equal(uname(&u), 0);
    size_t len = strlen(u.nodename);
    if (len < 2)
        skip();
    char buf[256];
    assert_true(sk_hostname(buf, len) < 0); /* no room for the terminator */
    assert_int_equal(sk_hostname(NULL, 10), SK_EARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(is_the_node_name),
        cmocka_unit_test(too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
