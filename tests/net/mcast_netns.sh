#!/usr/bin/env bash
# Multicast across hosts: three network namespaces (h1, h2, h3) joined by veth pairs to a bridge
# (br0, in a namespace of its own so the machine's interfaces are never touched), and a second
# bridge (br1) joining h1 and h3 only. Checks, with sockkit mcast's --json summaries:
#   ASM over IPv4 and IPv6 to two other hosts; SSM (a receiver joined to source S gets nothing
#   from source T), IPv4 and IPv6; the sender's --iface picks the network when it has two; two
#   receivers on one host both get every packet. Everything is removed afterwards, even on failure.
# Needs root (ip netns); skips otherwise.
set -u
: "${SK_BIN:?}"
. "$(dirname "$0")/../lib/netns.sh"

# ---- topology ----------------------------------------------------------------------------------
set -e
netns_hosts h1 h2 h3
netns_bridge br0 br1
netns_link h1 eth0 br0 10.77.0.1 fd77::1
netns_link h2 eth0 br0 10.77.0.2 fd77::2
netns_link h3 eth0 br0 10.77.0.3 fd77::3
netns_link h1 eth1 br1 10.78.0.1 fd78::1
netns_link h3 eth1 br1 10.78.0.3 fd78::3
set +e
sleep 0.5

# start a receiver in the background: name host args...
receiver() {
    local name=$1 host=$2; shift 2
    inns "$host" "$SK_BIN" mcast recv --json --duration 3 "$@" >"$tmp/$name.json" 2>"$tmp/$name.err" &
    pids+=($!)
}
# field file group-substring key (0 if absent); sums over streams whose 'from' contains $4 if given
field() {
    python3 - "$@" <<'EOF'
import json, sys
path, key = sys.argv[1], sys.argv[2]
src = sys.argv[3] if len(sys.argv) > 3 else ""
try:
    doc = json.load(open(path))
except Exception:
    print(-1); sys.exit()
print(sum(s[key] for s in doc["end"]["streams"] if s["sockkit"] and src in s["from"]))
EOF
}
streams() { python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['end']['streams']))" "$1" 2>/dev/null || echo -1; }
wait_all() { for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done; pids=(); }

# ---- ASM, IPv4 and IPv6: one sender, two other hosts -----------------------------------------
for fam in 4 6; do
    if [ $fam = 4 ]; then g="239.77.0.1:5000"; else g="[ff15::77]:5000"; fi
    receiver asm$fam-h2 h2 --iface eth0 "$g"
    receiver asm$fam-h3 h3 --iface eth0 "$g"
    sleep 0.5
    inns h1 "$SK_BIN" mcast send --iface eth0 --rate 200 --count 100 "$g" 2>/dev/null
    wait_all
    for h in h2 h3; do
        rx=$(field "$tmp/asm$fam-$h.json" received); lost=$(field "$tmp/asm$fam-$h.json" lost)
        [ "$rx" = 100 ] && [ "$lost" = 0 ]
        check $? "ASM IPv$fam: $h received $rx of 100, lost $lost ($(cat "$tmp/asm$fam-$h.err"))"
    done
done

# ---- SSM: h1 and h2 both send; h3 joined for h1 only ------------------------------------------
for fam in 4 6; do
    if [ $fam = 4 ]; then g="232.77.0.1:5001"; s1=10.77.0.1; s2=10.77.0.2; else g="[ff3e::77]:5001"; s1=fd77::1; s2=fd77::2; fi
    receiver ssm$fam h3 --iface eth0 --source "$s1" "$g"
    sleep 0.5
    inns h1 "$SK_BIN" mcast send --iface eth0 --rate 200 --count 50 "$g" 2>/dev/null &
    pids+=($!)
    inns h2 "$SK_BIN" mcast send --iface eth0 --rate 200 --count 50 "$g" 2>/dev/null
    wait_all
    from1=$(field "$tmp/ssm$fam.json" received "$s1"); n=$(streams "$tmp/ssm$fam.json")
    [ "$from1" = 50 ] && [ "$n" = 1 ]
    check $? "SSM IPv$fam: 50 from source $s1, nothing from $s2 ($n stream(s); $(cat "$tmp/ssm$fam.err"))"
done

# ---- the sender's interface picks the network ---------------------------------------------------
g="239.77.0.2:5002"
for out in eth1 eth0; do
    receiver if-$out-h2 h2 --iface eth0 "$g"
    receiver if-$out-h3 h3 --iface eth1 "$g"
    sleep 0.5
    inns h1 "$SK_BIN" mcast send --iface "$out" --rate 200 --count 40 "$g" 2>/dev/null
    wait_all
    a=$(field "$tmp/if-$out-h2.json" received); b=$(field "$tmp/if-$out-h3.json" received)
    if [ $out = eth1 ]; then [ "$a" = 0 ] && [ "$b" = 40 ]; else [ "$a" = 40 ] && [ "$b" = 0 ]; fi
    check $? "sender --iface $out: h2 (on br0) got $a, h3 (joined on br1) got $b"
done

# ---- two receivers on one host both get every packet --------------------------------------------
g="239.77.0.3:5003"
receiver two-a h2 --iface eth0 "$g"
receiver two-b h2 --iface eth0 "$g"
sleep 0.5
inns h1 "$SK_BIN" mcast send --iface eth0 --rate 500 --count 200 "$g" 2>/dev/null
wait_all
a=$(field "$tmp/two-a.json" received); b=$(field "$tmp/two-b.json" received)
[ "$a" = 200 ] && [ "$b" = 200 ]
check $? "two receivers on one host: $a and $b of 200"

# ---- a link-local group (ff02::/16) is one per link: named by --iface or by its %zone, received
# on that link only; without an interface, one line and exit 2 (nothing is sent)
g="[ff02::77]:5004"
receiver ll-h2 h2 --iface eth0 "$g"
receiver ll-h3 h3 "[ff02::77%eth1]:5004"
sleep 0.5
inns h1 "$SK_BIN" mcast send --iface eth0 --rate 200 --count 30 "$g" 2>/dev/null
inns h1 "$SK_BIN" mcast send --rate 200 --count 20 "[ff02::77%eth1]:5004" 2>/dev/null
wait_all
a=$(field "$tmp/ll-h2.json" received); b=$(field "$tmp/ll-h3.json" received)
[ "$a" = 30 ] && [ "$b" = 20 ]
check $? "link-local group: h2 got $a of 30 (eth0, --iface), h3 got $b of 20 (eth1, %zone) ($(cat "$tmp/ll-h2.err" "$tmp/ll-h3.err"))"
for cmd in send recv; do
    msg=$(inns h1 "$SK_BIN" mcast $cmd --count 1 --duration 1 "$g" 2>&1)
    rc=$?
    [ $rc = 2 ] && echo "$msg" | grep -q "one per link: name its interface"
    check $? "mcast $cmd to a link-local group without an interface: exit $rc, '$msg'"
done

# ---- no route for the group: the bridge namespace has no addresses and no routes ---------------
msg=$(ip netns exec "$BR" "$SK_BIN" mcast send --count 1 239.77.0.9:5009 2>&1)
rc=$?
[ $rc = 1 ] && echo "$msg" | grep -q "no route for the multicast group; name an interface"
check $? "no route: exit $rc, '$msg'"

# ---- IPv6 on an interface without the MULTICAST flag (lo, as the kernel makes it): the message
# names the flag and the command that adds the route; with that route the send goes out
msg=$(ip netns exec "$BR" "$SK_BIN" mcast send --iface lo --count 1 "[ff12::77]:5010" 2>&1)
rc=$?
[ $rc = 1 ] && echo "$msg" | grep -q "lo has no MULTICAST flag.*'ip -6 route add multicast ff00::/8 dev lo table local'"
check $? "IPv6 on lo without MULTICAST: exit $rc, '$msg'"
ip -n "$BR" -6 route add multicast ff00::/8 dev lo table local
msg=$(ip netns exec "$BR" "$SK_BIN" mcast send --iface lo --count 3 "[ff12::77]:5010" 2>&1)
rc=$?
check $rc "IPv6 on lo with that route: exit $rc ($msg)"

[ $fails -eq 0 ] && echo "all checks passed" && exit 0
echo "$fails check(s) failed"
exit 1
