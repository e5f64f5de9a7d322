/* opts.c: sized structs. A struct from an older header (smaller size) gets the defaults for the
 * fields it lacks; one from a newer header (larger size) is served when the fields this library
 * does not know are 0, refused otherwise; size 0 (not initialised with SK_*_INIT) is refused; a
 * result struct is filled only as far as the caller's size says. */
#include "sktest.h"

#include <stddef.h>

static void loads_the_fields_an_older_caller_has(void **state)
{
    /* an "old" sk_listen_opts that ends before backlog */
    sk_listen_opts full = SK_LISTEN_OPTS_INIT(.family = AF_INET6, .type = SOCK_DGRAM, .backlog = 7,
                                              .reuseport = true);
    full.size = offsetof(sk_listen_opts, backlog);
    sk_listen_opts got;
    assert_int_equal(sk__opts_load(&got, sizeof got, &full, "t"), 0);
    assert_int_equal(got.size, sizeof got);
    assert_int_equal(got.family, AF_INET6);
    assert_int_equal(got.type, SOCK_DGRAM);
    assert_int_equal(got.backlog, 0); /* not in the old struct: the default */
    assert_false(got.reuseport);
}

static void null_is_all_defaults(void **state)
{
    sk_listen_opts got;
    memset(&got, 0xff, sizeof got);
    assert_int_equal(sk__opts_load(&got, sizeof got, NULL, "t"), 0);
    assert_int_equal(got.size, sizeof got);
    assert_int_equal(got.family, 0);
    assert_false(got.unlink_stale);
}

static void refuses_size_zero(void **state)
{
    sk_listen_opts zero = {.type = SOCK_DGRAM};
    sk_listen_opts got;
    assert_int_equal(sk__opts_load(&got, sizeof got, &zero, "listen: opts"), SK_EARG);
    assert_non_null(strstr(sk_errmsg(), "SK_*_INIT"));
    /* and so every public function that takes one */
    assert_int_equal(sk_listen("127.0.0.1:0", &zero), SK_EARG);
    sk_server *srv = NULL;
    sk_server_opts so = {.endpoint = "127.0.0.1:0", .handle = (sk_handler_fn)1};
    assert_int_equal(sk_server_open(&srv, &so), SK_EARG);
    assert_null(srv);
    sk_connect_opts co = {.type = SOCK_STREAM};
    assert_int_equal(sk_connect_ex("127.0.0.1:9", &co, 100), SK_EARG);
}

/* A newer caller: its struct is the one here with more after it. */
struct newer_listen_opts {
    sk_listen_opts known;
    uint64_t added;
};

static void serves_a_newer_caller_that_leaves_new_fields_zero(void **state)
{
    struct newer_listen_opts n = {.known = SK_LISTEN_OPTS_INIT(.backlog = 5)};
    n.known.size = sizeof n;
    sk_listen_opts got;
    assert_int_equal(sk__opts_load(&got, sizeof got, &n, "t"), 0);
    assert_int_equal(got.backlog, 5);
    int fd = sk_listen("127.0.0.1:0", (const sk_listen_opts *)&n);
    assert_true(fd >= 0);
    close(fd);
    n.added = 1; /* asks for something this library cannot do: refused, not ignored */
    assert_int_equal(sk__opts_load(&got, sizeof got, &n, "t"), SK_EARG);
    assert_int_equal(sk_listen("127.0.0.1:0", (const sk_listen_opts *)&n), SK_EARG);
    assert_non_null(strstr(sk_errmsg(), "newer sockkit"));
}

static int echo_nothing(sk_request *req)
{
    return 0;
}

static void stats_fill_only_what_the_caller_has(void **state)
{
    sk_server *srv;
    sk_server_opts o = SK_SERVER_OPTS_INIT(.endpoint = "127.0.0.1:0", .handle = echo_nothing);
    assert_int_equal(sk_server_open(&srv, &o), 0);
    sk_addr a;
    char ep[64];
    sk_server_get_addr(srv, &a);
    sk_addr_format(&a, ep, sizeof ep);
    int fd = sk_connect(ep, 1000);
    assert_int_equal(sk_server_handle_request(srv, 1000), 1);
    close(fd);
    /* an older caller whose struct ends after accepted: active is not written */
    sk_server_stats st = SK_SERVER_STATS_INIT(.active = 12345);
    st.size = offsetof(sk_server_stats, active);
    assert_int_equal(sk_server_get_stats(srv, &st), 0);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.active, 12345);
    assert_int_equal(st.size, offsetof(sk_server_stats, active)); /* left as the caller set it */
    sk_server_stats zero = {0};
    assert_int_equal(sk_server_get_stats(srv, &zero), SK_EARG);
    sk_server_close(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loads_the_fields_an_older_caller_has),
        cmocka_unit_test(null_is_all_defaults),
        cmocka_unit_test(refuses_size_zero),
        cmocka_unit_test(serves_a_newer_caller_that_leaves_new_fields_zero),
        cmocka_unit_test(stats_fill_only_what_the_caller_has),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
