/* Pieces shared by the commands that look at the host (resolve, ifaces): addresses as text
 * without a port, ready to paste into an endpoint. */
#ifndef SOCKKIT_CLI_LOOK_H
#define SOCKKIT_CLI_LOOK_H

#include "sockkit.h"

#include <stddef.h>

/* "192.0.2.1", "fd00::1", "fe80::1%eth0" (the scope as the interface name, or its number). */
const char *look_addr(const sk_addr *a, char *buf, size_t len);
/* The same with "/prefix". */
const char *look_prefix(const sk_ifaddr *x, char *buf, size_t len);
/* An IPv4 address in 127.0.0.0/8 or ::1. */
bool look_is_loopback(const sk_addr *a);
/* Addresses equal without port and (for IPv6) scope id. */
bool look_same_ip(const sk_addr *a, const sk_addr *b);

/* A numeric address, with or without a port: 192.0.2.1, 192.0.2.1:80, ::1, fe80::1%eth0,
 * [::1]:80. False if it is not one. */
bool look_parse_numeric(const char *text, sk_addr *a, bool *has_port);

/* resolve_self.c: `sockkit resolve -r ADDRESS` and `sockkit resolve --self`. */
int resolve_reverse(const char *text, int socktype, bool json);
int resolve_self(bool json);

#endif
