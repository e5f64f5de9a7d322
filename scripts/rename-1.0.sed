# The public renames of 0.2 (issue 15; docs/design.md, "Naming and calling convention"), old -> new.
# Apply to a tree with:
#   git ls-files '*.c' '*.h' '*.md' '*.3' '*.1' '*.py' '*.sh' | xargs sed -i -E -f scripts/rename-1.0.sed
# Word boundaries: sk_trace_set_sink, sk_conn_set_data, sk_addr_set_port and the new names are
# never touched, so applying it twice changes nothing.
# A socket's state has the noun "sock":
s/\bsk_set_nonblock\b/sk_sock_set_nonblock/g
s/\bsk_set_reuseaddr\b/sk_sock_set_reuseaddr/g
s/\bsk_set_reuseport\b/sk_sock_set_reuseport/g
s/\bsk_set_nodelay\b/sk_sock_set_nodelay/g
s/\bsk_set_keepalive\b/sk_sock_set_keepalive/g
s/\bsk_set_rcvbuf\b/sk_sock_set_rcvbuf/g
s/\bsk_set_sndbuf\b/sk_sock_set_sndbuf/g
s/\bsk_set_linger\b/sk_sock_set_linger/g
s/\bsk_set_v6only\b/sk_sock_set_v6only/g
s/\bsk_set_timeouts\b/sk_sock_set_timeouts/g
s/\bsk_set_\*/sk_sock_set_*/g
s/\bsk_setopt\b/sk_sock_set_option/g
s/\bsk_getopt\b/sk_sock_get_option/g
# Getters that fill the caller's struct have "get":
s/\bsk_local_addr\b/sk_sock_get_local_addr/g
s/\bsk_peer_addr\b/sk_sock_get_peer_addr/g
s/\bsk_server_addr\b/sk_server_get_addr/g
s/\bsk_server_stats_get\b/sk_server_get_stats/g
# The reverse lookup belongs to the resolve part, as sk_resolve_rows:
s/\bsk_reverse\b/sk_resolve_reverse/g
