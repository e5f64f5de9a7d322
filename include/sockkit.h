/* sockkit — sockets made easy and correct in C on Linux.
 * One include for the whole public API; every name starts with sk_ (macros SK_). */
#ifndef SOCKKIT_H
#define SOCKKIT_H

#define SOCKKIT_VERSION_MAJOR 0
#define SOCKKIT_VERSION_MINOR 1
#define SOCKKIT_VERSION_PATCH 0
#define SOCKKIT_VERSION_STRING "0.1.0"

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

#endif
