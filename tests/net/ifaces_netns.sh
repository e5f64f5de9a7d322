#!/usr/bin/env bash
# sockkit ifaces against iproute2, in two network namespaces of the test's own (A with veth0, B
# with veth1, a veth pair between them; nothing is created in the machine's own namespace):
#   - every interface of A (index, name, flags, MTU, state, link address, kind) and every address
#     (a second IPv4 address, a labelled one, an IPv6 address, the link-local one in its %veth0
#     form) is what `ip -j -d addr` reports, in --json and in the text output;
#   - the multicast groups joined by `sockkit mcast recv` in the background (ASM and SSM, IPv4 and
#     IPv6) and the kernel's own are what `ip -j maddr` reports, with users; the SSM joins' source
#     filters are what /proc/net/mcfilter and mcfilter6 hold; and where the kernel leaves a filter
#     out (an interface whose newest group has none), ifaces says the sources are unknown;
#   - --route answers as `ip -j route get` for a local, an on-link, a gateway, a default-route, an
#     IPv6, a link-local and a multicast destination, and fails (exit 1) where ip finds no route.
# Needs root (ip netns); skips otherwise. Everything is removed afterwards, even on failure.
set -u
: "${SK_BIN:?}"
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null; then
    echo "SKIP: needs root and iproute2 to create network namespaces"
    exit 77
fi
if ! ip -j -V >/dev/null 2>&1 || ! ip -j maddr >/dev/null 2>&1; then
    echo "SKIP: this iproute2 has no JSON output (ip -j)"
    exit 77
fi
tag="skif$$"
A="${tag}a"
B="${tag}b"
tmp=$(mktemp -d /tmp/sockkit-ifaces.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    ip netns del "$A" 2>/dev/null
    ip netns del "$B" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
check() { # condition-exit-status description
    if [ "$1" -eq 0 ]; then echo "ok    $2"; else echo "FAIL  $2"; fails=$((fails + 1)); fi
}
inA() { ip netns exec "$A" "$@"; }

# ---- topology ----------------------------------------------------------------------------------
set -e
ip netns add "$A"
ip netns add "$B"
for n in "$A" "$B"; do
    # no duplicate address detection: addresses are usable (not tentative) at once
    ip netns exec "$n" sh -c 'echo 0 >/proc/sys/net/ipv6/conf/all/accept_dad &&
        echo 0 >/proc/sys/net/ipv6/conf/default/accept_dad'
    ip -n "$n" link set lo up
done
ip -n "$A" link add veth0 type veth peer name veth1 netns "$B"
ip -n "$A" link set veth0 mtu 1400
ip -n "$A" addr add 10.99.0.1/24 dev veth0
ip -n "$A" addr add 10.99.0.5/24 dev veth0 # same subnet: a secondary address
ip -n "$A" addr add 10.98.0.1/24 brd + dev veth0 label veth0:1
ip -n "$A" addr add fd99::1/64 dev veth0 nodad
ip -n "$B" addr add 10.99.0.2/24 dev veth1
ip -n "$B" addr add fd99::2/64 dev veth1 nodad
ip -n "$A" link set veth0 up
ip -n "$B" link set veth1 up
ip -n "$A" route add 10.97.0.0/24 via 10.99.0.2
ip -n "$A" route add default via 10.99.0.2
set +e

# the link-local address appears when the link is up
for _ in $(seq 50); do
    inA ip -6 addr show dev veth0 scope link | grep -q fe80 && break
    sleep 0.1
done

# ---- joins, held by receivers in the background ----------------------------------------------
# The SSM joins come last: /proc/net/mcfilter lists an interface's source filters only when its
# newest group has one (the kernel's igmp_mcf_get_first); the end of the test checks that case.
# (ip netns exec, not the inA function: $! must be the receiver itself, which cleanup kills)
recv() {
    ip netns exec "$A" "$SK_BIN" mcast recv --duration 60 --iface veth0 "$@" >/dev/null \
        2>>"$tmp/recv.err" &
    pids+=($!)
}
wait_for() { # description command...: poll up to 10 s
    local what=$1
    shift
    for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done
    echo "note: $what did not appear within 10 s"
}
igmp_users() { inA awk -v g="$1" '$1 == g {print $2}' /proc/net/igmp; }
recv 239.99.0.1:5000
recv 239.99.0.1:5000 # a second socket on the group: users 2 (the ASM join counts per socket)
recv '[ff15::99]:5002'
wait_for "the any-source joins" eval '[ "$(igmp_users 010063EF)" = 2 ] && inA grep -q ff150000000000000000000000000099 /proc/net/igmp6'
recv --source 10.99.0.2 232.99.0.1:5001
recv --source fd99::2 '[ff3e::99]:5003'
wait_for "the source-specific joins" eval 'inA grep -q 0xe8630001 /proc/net/mcfilter && inA grep -q ff3e0000000000000000000000000099 /proc/net/mcfilter6'

[ -s "$tmp/recv.err" ] && echo "receivers said: $(cat "$tmp/recv.err")"
inA "$SK_BIN" ifaces --json >"$tmp/ifaces.json"
check $? "sockkit ifaces --json exits 0"
inA "$SK_BIN" ifaces >"$tmp/ifaces.txt"
check $? "sockkit ifaces exits 0"
inA ip -j -d addr >"$tmp/ip_addr.json"
inA ip -j maddr >"$tmp/ip_maddr.json"
inA cat /proc/net/mcfilter >"$tmp/mcfilter"
inA cat /proc/net/mcfilter6 >"$tmp/mcfilter6"

# ---- compare ---------------------------------------------------------------------------------
python3 - "$tmp" <<'EOF'
import ipaddress, json, sys
tmp = sys.argv[1]
fails = 0
def check(cond, what):
    global fails
    print(("ok    " if cond else "FAIL  ") + what)
    fails += 0 if cond else 1

ours = json.load(open(f"{tmp}/ifaces.json"))["interfaces"]
ip_addr = json.load(open(f"{tmp}/ip_addr.json"))
ip_maddr = json.load(open(f"{tmp}/ip_maddr.json"))
text = open(f"{tmp}/ifaces.txt").read()
by_index = {i["index"]: i for i in ours}
check(sorted(by_index) == sorted(i["ifindex"] for i in ip_addr),
      f"the same interfaces: {sorted(by_index)}")

FLAG_WORDS = ["secondary", "temporary", "dynamic", "nodad", "optimistic", "dadfailed", "home",
              "deprecated", "tentative", "mngtmpaddr", "noprefixroute", "autojoin",
              "stable-privacy"]
for li in ip_addr:
    me = by_index.get(li["ifindex"])
    if not me:
        continue
    name = li["ifname"]
    got = (me["name"], me["flags"], me["mtu"], me["operstate"], me["hwaddr"],
           me["kind"])
    want = (name, li["flags"], li["mtu"], li["operstate"], li.get("address"),
            li.get("linkinfo", {}).get("info_kind"))
    check(got == want, f"{name}: name, flags, mtu, state, link address, kind {got} == {want}")
    mine = [(a["family"], a["address"].split("%")[0], a["prefix"], a["scope"], a["broadcast"],
             a["label"] if a["family"] == "inet" else None, sorted(a["flags"]))
            for a in me["addresses"]]
    theirs = [(a["family"], a["local"], a["prefixlen"], a["scope"], a.get("broadcast"),
               a.get("label"), sorted(k for k in FLAG_WORDS if a.get(k) is True))
              for a in li.get("addr_info", [])]
    check(mine == theirs, f"{name}: addresses {mine} == ip's {theirs}")
    for a in me["addresses"]:
        if a["address"].startswith("fe80:"):
            check(a["address"].endswith("%" + name), f"{name}: link-local {a['address']} has %{name}")
            check(a["address"] + "/64" in text, f"{name}: the text shows {a['address']}/64")

# the text output shows the same: each address/prefix and each group under its interface
blocks = {}
for line in text.splitlines():
    if line[:1].isdigit():
        current = line.split(":")[1].split()[0]
        blocks[current] = ""
    else:
        blocks[current] += line + "\n"
for li in ip_addr:
    name = li["ifname"]
    want = [a["local"] + ("%" + name if a["local"].startswith("fe80:") else "") + "/" + str(a["prefixlen"])
            for a in li.get("addr_info", [])]
    missing = [w for w in want if f" {w} " not in blocks.get(name, "")]
    check(not missing, f"{name}: the text shows every address ({len(want)}), missing {missing}")
for mi in ip_maddr:
    name = mi["ifname"]
    want = [f"group {m['address']} " for m in mi["maddr"] if "family" in m] + \
           [f" {m['link']}" for m in mi["maddr"] if "link" in m]
    missing = [w for w in want if w not in blocks.get(name, "")]
    check(not missing, f"{name}: the text shows every group ({len(want)}), missing {missing}")

# groups: ip maddr's users are shown only above 1
for mi in ip_maddr:
    me = by_index.get(mi["ifindex"])
    if not me:
        continue
    name = mi["ifname"]
    theirs = sorted((m["family"], m["address"], m.get("users", 1)) for m in mi["maddr"] if "family" in m)
    mine = sorted((g["family"], g["group"], g["users"]) for g in me["groups"])
    check(mine == theirs, f"{name}: groups {mine} == ip maddr's {theirs}")
    theirs = sorted(m["link"] for m in mi["maddr"] if "link" in m)
    mine = sorted(g["address"] for g in me["link_groups"])
    check(mine == theirs, f"{name}: link-layer groups {mine} == ip maddr's {theirs}")

# source filters: /proc/net/mcfilter(6) against ours
want = set()
for line in open(f"{tmp}/mcfilter").read().splitlines()[1:]:
    idx, _, g, s, inc, exc = line.split()
    want.add((int(idx), str(ipaddress.IPv4Address(int(g, 16))), str(ipaddress.IPv4Address(int(s, 16))), int(inc), int(exc)))
for line in open(f"{tmp}/mcfilter6").read().splitlines()[1:]:
    idx, _, g, s, inc, exc = line.split()
    want.add((int(idx), str(ipaddress.IPv6Address(int(g, 16))), str(ipaddress.IPv6Address(int(s, 16))), int(inc), int(exc)))
got = {(i["index"], g["group"], s["address"], s["include"], s["exclude"])
       for i in ours for g in i["groups"] for s in g["sources"]}
check(got == want and len(want) == 2, f"SSM source filters {sorted(got)} == /proc/net/mcfilter(6)'s {sorted(want)}")
veth = next(i for i in ours if i["name"] == "veth0")
groups = {g["group"]: g for g in veth["groups"]}
check("232.99.0.1" in groups and [s["address"] for s in groups["232.99.0.1"]["sources"]] == ["10.99.0.2"],
      "veth0 joined 232.99.0.1 for source 10.99.0.2")
check("ff3e::99" in groups and [s["address"] for s in groups["ff3e::99"]["sources"]] == ["fd99::2"],
      "veth0 joined ff3e::99 for source fd99::2")
check(groups.get("239.99.0.1", {}).get("users") == 2, "two receivers on 239.99.0.1: users 2")
check("ff15::99" in groups and not groups["ff15::99"]["sources"], "ff15::99 joined any-source")
check("232.99.0.1" in text and "sources 10.99.0.2 (include)" in text,
      "the text shows 232.99.0.1 with sources 10.99.0.2 (include)")
sys.exit(1 if fails else 0)
EOF
check $? "ifaces matches ip addr / ip maddr / mcfilter (details above)"

# ---- --route against ip route get -----------------------------------------------------------
for dst in 10.99.0.5 10.99.0.2 10.97.0.7 192.0.2.200 fd99::2 "fe80::2%veth0" 239.99.0.1 ff15::99 127.0.0.9; do
    case $dst in
    *%*) want=$(inA ip -j route get "${dst%%\%*}" oif "${dst#*%}" 2>/dev/null) ;;
    *) want=$(inA ip -j route get "$dst" 2>/dev/null) ;;
    esac
    got=$(inA "$SK_BIN" ifaces --json --route "$dst" 2>&1)
    python3 - "$want" "$got" <<'EOF'
import json, sys
ip = json.loads(sys.argv[1])[0]
me = json.loads(sys.argv[2])
want = (ip["dev"], ip.get("prefsrc"), ip.get("gateway"), ip.get("type", "unicast"))
got = (me["iface"], me["source"] and me["source"].split("%")[0], me["gateway"], me["type"])
print(f"      ip: {want}  sockkit: {got}")
sys.exit(0 if want == got and me["method"] == "rtnetlink" else 1)
EOF
    check $? "--route $dst as ip route get"
done

# no route: remove the default route; ip and sockkit both fail, sockkit with exit 1 and one line
ip -n "$A" route del default
for dst in 192.0.2.200 2001:db8::1; do
    inA ip route get "$dst" >/dev/null 2>&1
    iprc=$?
    msg=$(inA "$SK_BIN" ifaces --route "$dst" 2>&1 >/dev/null)
    rc=$?
    [ $iprc -ne 0 ] && [ $rc -eq 1 ] && [ "$(echo "$msg" | wc -l)" -eq 1 ] &&
        echo "$msg" | grep -q "route to $dst: .*unreachable"
    check $? "no route to $dst: exit $rc, '$msg' (ip route get: exit $iprc)"
done

# ---- the kernel's blind spot: a newer any-source group hides the SSM filter -------------------
recv 239.99.0.2:5004
wait_for "the later any-source join" eval '[ -n "$(igmp_users 020063EF)" ]'
inA cat /proc/net/mcfilter >"$tmp/mcfilter"
got=$(inA "$SK_BIN" ifaces --json veth0 | python3 -c '
import json, sys
g = {x["group"]: x for x in json.load(sys.stdin)["interfaces"][0]["groups"]}
print(g["232.99.0.1"]["sources_unknown"], g["232.99.0.1"]["sources"], g["239.99.0.2"]["sources_unknown"],
      g["ff3e::99"]["sources_unknown"], len(g["ff3e::99"]["sources"]))')
[ "$(wc -l <"$tmp/mcfilter")" = 1 ] && [ "$got" = "True [] False False 1" ]
check $? "a newer ASM group empties /proc/net/mcfilter for veth0: 232.99.0.1 sources unknown ($got; mcfilter has $(($(wc -l <"$tmp/mcfilter") - 1)) entries)"
inA "$SK_BIN" ifaces veth0 | grep -q "group 232.99.0.1 .* sources not listed by the kernel"
check $? "the text says the kernel did not list 232.99.0.1's sources"

# bad input
inA "$SK_BIN" ifaces --route not-an-address >/dev/null 2>&1
check "$([ $? -eq 2 ]; echo $?)" "--route not-an-address: exit 2"
inA "$SK_BIN" ifaces nosuch0 >/dev/null 2>&1
check "$([ $? -eq 2 ]; echo $?)" "ifaces nosuch0: exit 2"
inA "$SK_BIN" ifaces veth0 | head -1 | grep -q '^[0-9]*: veth0 <'
check $? "ifaces veth0 shows only veth0"

[ $fails -eq 0 ] && echo "all checks passed" && exit 0
echo "$fails check(s) failed"
exit 1
