#!/usr/bin/env bash
# Multicast with two sources on one interface: a sender namespace whose interface s0 has two
# addresses per family, and a receiver namespace (r0), joined by a veth pair. Checks:
#   - two SSM receivers on one host, same group and port, each joined for a different source, over
#     many flows (each datagram from a fresh source port, so the kernel's flow hash varies): each
#     gets every packet of its source and none of the other's. With SO_REUSEPORT on the receivers
#     the kernel's UDP early demux handed each datagram to one socket of the group by flow hash,
#     whatever its source filter (IPv4; IPv6 was not affected here and is checked the same way).
#   - `mcast send --iface ADDRESS` with the interface's SECOND address sends from that address (it
#     used to send from the interface's first address), IPv4 and IPv6.
# Packets arrive over the veth (not looped back on one host), which is the path early demux takes.
# Needs root (ip netns); skips otherwise. Everything is removed afterwards, even on failure.
set -u
: "${SK_BIN:?}"
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null; then
    echo "SKIP: needs root and iproute2 to create network namespaces"
    exit 77
fi
tag="sks$$"
S="${tag}snd"
R="${tag}rcv"
tmp=$(mktemp -d /tmp/sockkit-srcs.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    ip netns del "$S" 2>/dev/null
    ip netns del "$R" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
check() { # condition-exit-status description
    if [ "$1" -eq 0 ]; then echo "ok    $2"; else echo "FAIL  $2"; fails=$((fails + 1)); fi
}

set -e
ip netns add "$S"
ip netns add "$R"
ip link add "${tag}a" type veth peer name "${tag}b"
ip link set "${tag}a" netns "$S"
ip link set "${tag}b" netns "$R"
ip -n "$S" link set "${tag}a" name s0
ip -n "$R" link set "${tag}b" name r0
ip -n "$S" addr add 10.79.0.1/24 dev s0
ip -n "$S" addr add 10.79.0.2/24 dev s0
ip -n "$S" addr add fd79::1/64 dev s0 nodad
ip -n "$S" addr add fd79::2/64 dev s0 nodad
ip -n "$R" addr add 10.79.0.10/24 dev r0
ip -n "$R" addr add fd79::10/64 dev r0 nodad
for n in "$S" "$R"; do ip -n "$n" link set lo up; done
ip -n "$S" link set s0 up
ip -n "$R" link set r0 up
set +e
sleep 0.5

# receiver name args...: one line per packet on stdout ("GROUP from ADDR:PORT: N bytes ...")
receiver() {
    local name=$1
    shift
    ip netns exec "$R" "$SK_BIN" mcast recv --duration 8 --iface r0 "$@" >"$tmp/$name.out" \
        2>"$tmp/$name.err" &
    pids+=($!)
}
wait_all() { for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done; pids=(); }
# count file address: packets from that address (any port)
from() { grep -c -F " from $2:" "$1"; }
from6() { grep -c -F " from [$2]:" "$1"; }
lines() { grep -c " from " "$1"; }

# ---- two SSM receivers, one group and port, different sources, many flows -------------------
N=300
for fam in 4 6; do
    if [ $fam = 4 ]; then
        g=232.79.0.1 s1=10.79.0.1 s2=10.79.0.2 count=from ep=232.79.0.1:5100
    else
        g=ff3e::79 s1=fd79::1 s2=fd79::2 count=from6 ep="[ff3e::79]:5100"
    fi
    receiver ssm$fam-1 --count $N --source $s1 "$ep"
    receiver ssm$fam-2 --count $N --source $s2 "$ep"
    sleep 0.7
    ip netns exec "$S" python3 - "$g" 5100 "$N" $s1 $s2 <<'EOF'
# N datagrams from each source address, each from a fresh socket (a fresh source port: a new flow)
import socket, sys
group, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fam = socket.AF_INET6 if ":" in group else socket.AF_INET
for i in range(n):
    for src in sys.argv[4:]:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.bind((src, 0))
        if fam == socket.AF_INET:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(src))
        else:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex("s0"))
        s.sendto(b"flow %d from %s" % (i, src.encode()), (group, port))
        s.close()
EOF
    wait_all
    for k in 1 2; do
        if [ $k = 1 ]; then mine=$s1 other=$s2; else mine=$s2 other=$s1; fi
        a=$($count "$tmp/ssm$fam-$k.out" "$mine")
        b=$($count "$tmp/ssm$fam-$k.out" "$other")
        [ "$a" = "$N" ] && [ "$b" = 0 ]
        check $? "IPv$fam SSM receiver for $mine (one of two on $ep): $a of $N from $mine, $b from $other ($(head -n 1 "$tmp/ssm$fam-$k.err"))"
    done
done

# ---- --iface with the interface's second address: that address is the source ------------------
for fam in 4 6; do
    if [ $fam = 4 ]; then
        g="239.79.0.2:5200" first=10.79.0.1 second=10.79.0.2 count=from
    else
        g="[ff15::79]:5200" first=fd79::1 second=fd79::2 count=from6
    fi
    for addr in "$second" "$first"; do
        receiver if$fam-$addr --count 20 "$g"
        sleep 0.7
        ip netns exec "$S" "$SK_BIN" mcast send --iface "$addr" --rate 200 --count 20 "$g" \
            2>"$tmp/send.err"
        wait_all
        got=$($count "$tmp/if$fam-$addr.out" "$addr")
        all=$(lines "$tmp/if$fam-$addr.out")
        [ "$got" = 20 ] && [ "$all" = 20 ]
        check $? "IPv$fam send --iface $addr: $got of 20 from $addr ($all in all; $(head -n 1 "$tmp/send.err"))"
    done
done

[ $fails -eq 0 ] && echo "all checks passed" && exit 0
echo "$fails check(s) failed"
exit 1
