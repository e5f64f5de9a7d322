# Network namespaces for the multi-host tests in tests/net (sourced by them, after `set -u` and
# SK_BIN's check). Skips (exit 77) unless root with iproute2. Every namespace is named after
# this test's PID, and cleanup (on EXIT) kills the background processes in `pids` and what runs
# in the namespaces, deletes the namespaces (their links with them) and the temporary directory,
# even on failure. The bridges live in a namespace of their own ("br"), so the machine's
# interfaces are never touched.
#   netns_hosts NAME...            the namespaces NAME... and "br", loopback up in each
#   netns_bridge BRIDGE...         bridges in "br", up
#   netns_link HOST IFNAME BRIDGE ADDR...
#                                  a veth from HOST (as IFNAME) to BRIDGE, with the addresses
#                                  (IPv4 /24; IPv6 /64, without duplicate address detection)
#   inns HOST COMMAND...           run COMMAND in HOST's namespace ($BR: the bridges' one)
#   check STATUS DESCRIPTION       an ok/FAIL line; counts failures in `fails`
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null; then
    echo "SKIP: needs root and iproute2 to create network namespaces"
    exit 77
fi
tag="sk$$"
ns() { echo "${tag}$1"; }
BR=$(ns br) # the bridges' namespace
tmp=$(mktemp -d /tmp/sockkit-netns.XXXXXX)
pids=()
netns_names=()
fails=0
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    # what runs in our namespaces is ours (ip netns exec forks: $! is ip, not the command)
    for n in "${netns_names[@]}"; do
        for p in $(ip netns pids "$(ns "$n")" 2>/dev/null); do kill "$p" 2>/dev/null; done
    done
    for n in "${netns_names[@]}"; do ip netns del "$(ns "$n")" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
check() { # condition-exit-status description
    if [ "$1" -eq 0 ]; then echo "ok    $2"; else echo "FAIL  $2"; fails=$((fails + 1)); fi
}
netns_hosts() {
    local n
    for n in br "$@"; do
        netns_names+=("$n")
        ip netns add "$(ns "$n")" && ip -n "$(ns "$n")" link set lo up || return 1
    done
}
netns_bridge() {
    local b
    for b in "$@"; do
        ip -n "$(ns br)" link add "$b" type bridge && ip -n "$(ns br)" link set "$b" up || return 1
    done
}
netns_links=0
netns_link() { # host ifname bridge address...
    local h a v
    netns_links=$((netns_links + 1))
    v="${tag}v$netns_links" # numbered: an interface name has 15 characters at most
    h=$(ns "$1")
    ip link add "$v" type veth peer name "p$v" || return 1
    ip link set "$v" netns "$h"
    ip link set "p$v" netns "$(ns br)"
    ip -n "$h" link set "$v" name "$2"
    ip -n "$(ns br)" link set "p$v" master "$3" up
    for a in "${@:4}"; do
        case $a in
        *:*) ip -n "$h" addr add "$a/64" dev "$2" nodad ;;
        *) ip -n "$h" addr add "$a/24" dev "$2" ;;
        esac
    done
    ip -n "$h" link set "$2" up
}
inns() { local h; h=$(ns "$1"); shift; ip netns exec "$h" "$@"; }
