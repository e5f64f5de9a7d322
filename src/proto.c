/* PLACEHOLDER until the proto tables land: numeric names only. */
#include "internal.h"

#include <stdio.h>

static _Thread_local char buf[32];
const char *sk_proto_name(int proto)
{
    snprintf(buf, sizeof buf, "%d", proto);
    return buf;
}
const char *sk_family_name(int family)
{
    return family == AF_INET ? "AF_INET" : family == AF_INET6 ? "AF_INET6" : "AF_UNIX";
}
const char *sk_type_name(int type)
{
    return (type & 0xf) == SOCK_STREAM ? "SOCK_STREAM" : "SOCK_DGRAM";
}
const sk_optname *sk_option_lookup(const char *name)
{
    return NULL;
}
