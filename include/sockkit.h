/* sockkit — sockets made easy and correct in C on Linux (glibc 2.32 or later).
 * One include for the whole public API; every name starts with sk_ (macros SK_).
 *
 * Options structs that can grow (sk_server_opts, sk_event_handlers, sk_listen_opts,
 * sk_connect_opts, sk_proxy_opts; sk_server_stats, which the library fills) start with a size_t
 * size and are initialised with their SK_*_INIT(...) macro, which sets it:
 *     sk_listen_opts o = SK_LISTEN_OPTS_INIT(.type = SOCK_DGRAM);
 * Later versions add fields only at the end, so a program built against this header keeps
 * working with a newer libsockkit.so.0 (its missing fields read as 0, the default), and one built
 * against a newer header runs with this library while it leaves the new fields 0. A size of 0
 * is refused with SK_EARG. */
#ifndef SOCKKIT_H
#define SOCKKIT_H

#define SOCKKIT_VERSION_MAJOR  0
#define SOCKKIT_VERSION_MINOR  5
#define SOCKKIT_VERSION_PATCH  1
#define SOCKKIT_VERSION_STRING "0.5.1"

#include "sockkit/err.h"
#include "sockkit/addr.h"
#include "sockkit/sock.h"
#include "sockkit/reader.h"
#include "sockkit/trace.h"
#include "sockkit/proto.h"
#include "sockkit/server.h"
#include "sockkit/mcast.h"
#include "sockkit/loop.h"
#include "sockkit/resolve.h"
#include "sockkit/ifaces.h"
#include "sockkit/proxy.h"
#include "sockkit/tls.h"

#endif
