/* sockkit relay: what relay.c (streams) and relay_udp.c (datagrams) share. */
#ifndef SOCKKIT_CLI_RELAY_H
#define SOCKKIT_CLI_RELAY_H

#include "opts.h"
#include "proxy_opt.h"
#include "sockkit.h"
#include "tls.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct relay_udp;

/* One run of `sockkit relay`. */
struct relay {
    sk_server_opts o;
    struct cli_common co;
    char listen[400], target[400];
    sk_endpoint listen_ep, target_ep; /* parsed once, by relay_parse */
    int connect_timeout_ms;           /* 0: the library's default */
    int drain_ms;
    bool no_splice;
    bool splice_always;   /* --splice on */
    struct cli_proxy via; /* --via (endpoint "" = none), -X, -P */
    sk_endpoint via_ep;   /* --via's endpoint, parsed once */
    sk_event_handlers client_events, target_events;
    sk_server *srv;
    pthread_mutex_t out_lock; /* --json-lines objects from several loops, one at a time */
    _Atomic unsigned long long failed, done, bytes_ab, bytes_ba;
    struct relay_udp *udp;
    struct cli_tls tls_listen, tls_target; /* --tls-listen, --tls-target and their options */
    sk_tls_ctx *listen_ctx, *target_ctx;   /* NULL: plain */
    const char *target_name;               /* --tls-target: the name to send and verify */
    _Atomic unsigned long long tls_failed; /* clients whose TLS handshake failed */
};

/* relay_udp.c: resolve TARGET and set r->o up for datagram sessions (-u); free them at the end. */
int relay_udp_setup(struct relay *r);
void relay_udp_close(struct relay *r);

#endif
