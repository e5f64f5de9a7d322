#!/usr/bin/env bash
# Several generators on several hosts, merged: a server namespace and two generator namespaces
# joined by veth pairs to a bridge (in a namespace of its own, so the machine's interfaces are
# never touched). `sockkit serve echo` in the server namespace; two `bench echo --hdr-log` at once,
# one from each generator host; then `bench merge` of the two logs. Checks:
#   - the merged request count equals the messages the server echoed (its stop line's bytes out
#     over the message size: bench echo waits for the echoes of what it sent before the end);
#   - the merged percentiles and max equal those computed here, in Python, from both raw logs
#     decoded independently of sockkit (base64, zlib, HdrHistogram's V2 counts) and added up;
#   - each log's intervals add up to its total line.
# Needs root (ip netns); skips otherwise. Everything is removed afterwards, even on failure.
set -u
: "${SK_BIN:?}"
. "$(dirname "$0")/../lib/netns.sh"

# ---- topology: srv 10.83.0.1, g1 10.83.0.2, g2 10.83.0.3 on one bridge --------------------------
set -e
netns_hosts srv g1 g2
netns_bridge br0
netns_link srv eth0 br0 10.83.0.1
netns_link g1 eth0 br0 10.83.0.2
netns_link g2 eth0 br0 10.83.0.3
set +e

# ---- the server, then two generators at once -------------------------------------------------------
inns srv "$SK_BIN" serve -v echo 10.83.0.1:7007 2>"$tmp/serve.err" >/dev/null &
server_ip=$! # ip netns exec, which waits for the server it forked
for _ in $(seq 50); do
    grep -q serving "$tmp/serve.err" && break
    sleep 0.1
done
grep -q serving "$tmp/serve.err"
check $? "sockkit serve echo in the server namespace ($(head -1 "$tmp/serve.err"))"
for _ in $(seq 50); do # the bridge's ports forward once they leave the listening state
    inns g1 "$SK_BIN" connect -w 1 10.83.0.1:7007 </dev/null >/dev/null 2>&1 &&
        inns g2 "$SK_BIN" connect -w 1 10.83.0.1:7007 </dev/null >/dev/null 2>&1 && break
    sleep 0.2
done

inns g1 "$SK_BIN" bench echo -c 3 --pipeline 2 -d 2 --warmup 0 -i 0.5 --hdr-log "$tmp/g1.hdr" \
    --json 10.83.0.1:7007 >"$tmp/g1.json" 2>"$tmp/g1.err" &
pids+=($!)
inns g2 "$SK_BIN" bench echo -c 2 -d 2 --warmup 0 --hdr-log "$tmp/g2.hdr" \
    --json 10.83.0.1:7007 >"$tmp/g2.json" 2>"$tmp/g2.err" &
pids+=($!)
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
pids=()
check $rc "two generators ran ($(cat "$tmp/g1.err" "$tmp/g2.err" | tr '\n' ' '))"
for p in $(ip netns pids "$(ns srv)"); do kill -TERM "$p"; done
wait "$server_ip"
"$SK_BIN" bench merge --json "$tmp/g1.hdr" "$tmp/g2.hdr" >"$tmp/merged.json" 2>"$tmp/merge.err"
check $? "bench merge of the two logs ($(cat "$tmp/merge.err"))"

# ---- the merge against the server's count and against an independent reading of the logs ----------
python3 - "$tmp" <<'EOF'
import base64, json, math, re, struct, sys, zlib
tmp = sys.argv[1]
fails = 0
def check(cond, what):
    global fails
    print("ok   " if cond else "FAIL ", what)
    fails += not cond

def counts(b64):
    """HdrHistogram V2: compressed cookie, length, zlib; then the 40-byte header and the counts
    as ZigZag LEB128 (9 bytes at most, the ninth whole), negative = that many empty buckets."""
    raw = base64.b64decode(b64)
    cookie, n = struct.unpack(">iI", raw[:8])
    assert cookie & ~0xf0 == 0x1c849304, hex(cookie)
    enc = zlib.decompress(raw[8:8 + n])
    cookie, length, _, digits, lowest, highest = struct.unpack(">iIiIqq", enc[:32])
    assert cookie & ~0xf0 == 0x1c849303 and digits == 2 and lowest == 1
    out, i, pos, end = {}, 0, 40, 40 + length
    while pos < end:
        u = shift = 0
        for k in range(9):
            b = enc[pos]; pos += 1
            if k == 8:
                u |= b << 56; break
            u |= (b & 0x7f) << shift; shift += 7
            if not b & 0x80:
                break
        v = (u >> 1) ^ -(u & 1)
        if v < 0:
            i += -v
        else:
            if v:
                out[i] = out.get(i, 0) + v
            i += 1
    return out

def read_log(path):
    total, intervals = None, {}
    for line in open(path):
        if line.startswith("#") or line.startswith('"'):
            continue
        fields = line.rstrip("\n").split(",")
        if fields[0] == "Tag=total":
            total = counts(fields[4])
        else:
            for k, v in counts(fields[3]).items():
                intervals[k] = intervals.get(k, 0) + v
    return total, intervals

def bucket(i):  # 2 significant digits from 1: exact below 256, then 128 buckets a power of two
    if i < 256:
        return i, i + 1
    e, sub = (i - 256) // 128 + 1, (i - 256) % 128 + 128
    return sub << e, (sub + 1) << e

def percentile(c, p):  # bench's rule: nearest rank, the bucket's midpoint, within [min, max]
    n = sum(c.values())
    rank, seen = max(1, math.ceil(p / 100.0 * n)), 0
    lo_all, hi_all = bucket(min(c))[0], bucket(max(c))[1] - 1
    for i in sorted(c):
        seen += c[i]
        if seen >= rank:
            lo, hi = bucket(i)
            mid = lo if i < 256 else lo + (hi - lo) // 2
            return min(max(mid, lo_all), hi_all)

union = {}
for g in ("g1", "g2"):
    total, intervals = read_log(f"{tmp}/{g}.hdr")
    check(total == intervals, f"{g}: the intervals add up to the total line")
    own = json.load(open(f"{tmp}/{g}.json"))["end"]
    check(sum(total.values()) == own["requests"],
          f"{g}: the log's total holds its {own['requests']} requests")
    for k, v in total.items():
        union[k] = union.get(k, 0) + v

merged = json.load(open(f"{tmp}/merged.json"))["end"]
err = open(f"{tmp}/serve.err").read()
m = re.search(r"(\d+) bytes? in, (\d+) bytes? out", err)
echoed = int(m.group(2)) // 64 if m else -1
check(merged["requests"] == echoed == sum(union.values()),
      f"merged requests {merged['requests']} = messages the server echoed {echoed} "
      f"= samples in both logs {sum(union.values())}")
lat = merged["latency_us"]
for key, p in (("p50", 50), ("p90", 90), ("p99", 99), ("p99_9", 99.9), ("max", 100)):
    want = round(percentile(union, p) / 1000, 3)
    check(abs(lat[key] - want) < 0.0005, f"merged {key} {lat[key]} us = {want} us from both logs")
sys.exit(1 if fails else 0)
EOF
check $? "the merged report against the server and the raw logs"

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all checks passed"
