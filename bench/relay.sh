#!/usr/bin/env bash
# Relays side by side, loopback only, bounded in time (about ROUNDS x 5 x 4 x (SECONDS + 0.5) s):
# sockkit relay, socat (TCP-LISTEN,fork,reuseaddr), HAProxy (mode tcp, one thread, splice on)
# and the direct connection, in front of sockkit serve echo (ping-pong) and sockkit serve sink
# (bulk). Each is measured with `sockkit bench echo` (64-byte ping-pong) at 1, 50 and 1000
# connections, `sockkit bench connect` (new connections per second, 8 at once) and `sockkit bench
# stream` (one connection, one way), interleaved: each test runs every relay back to back (the
# order reversed every other round), for ROUNDS rounds. The table shows medians; the ratios are
# the medians of the per-round ratios (sockkit / haproxy measured moments apart), which a shared,
# noisy machine moves much less than the values themselves.
# Usage: bench/relay.sh [ROUNDS] [SECONDS]. Writes the table on stdout. Needs socat; HAProxy is
# left out when it is not installed (Debian haproxy).
set -u
cd "$(dirname "$0")/.." || exit 1
ROUNDS=${1:-3}
SECS=${2:-2}
WARM=0.5
B=build/sockkit
out=build-bench/relay
mkdir -p "$out"
ulimit -n 65536 2>/dev/null || ulimit -n 8192

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && cmake --build build -j2 >/dev/null || exit 1
command -v socat >/dev/null || { echo "relay.sh: needs socat" >&2; exit 1; }

. bench/lib.sh
trap cleanup EXIT

start echo "$B" serve -v --workers 1 --max-conns 100000 echo 127.0.0.1:0
start sink "$B" serve -v --workers 1 sink 127.0.0.1:0

# one relay per target and kind; LP[name-target] = its port
declare -A LP
relay_start() { # NAME TARGET_PORT
    local name=$1 tp=$2 lp
    lp=$(free_port)
    case $name in
    sockkit) "$B" relay --workers 1 "127.0.0.1:$lp" "127.0.0.1:$tp" 2>"$out/$name-$tp.err" & pids+=($!) ;;
    socat) socat "TCP-LISTEN:$lp,bind=127.0.0.1,fork,reuseaddr,backlog=4096" "TCP:127.0.0.1:$tp" 2>"$out/$name-$tp.err" & pids+=($!) ;;
    haproxy)
        cat >"$out/haproxy-$tp.cfg" <<EOF
global
    nbthread 1
    maxconn 3000
    tune.maxaccept 64
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option splice-auto
listen relay
    bind 127.0.0.1:$lp
    server target 127.0.0.1:$tp
EOF
        haproxy -f "$out/haproxy-$tp.cfg" -db 2>"$out/$name-$tp.err" & pids+=($!)
        ;;
    direct) lp=$tp ;;
    esac
    LP[$name-$tp]=$lp
}

NAMES="direct sockkit socat"
command -v haproxy >/dev/null && NAMES="direct sockkit haproxy socat"
for n in $NAMES; do
    relay_start "$n" "${PORT[echo]}"
    relay_start "$n" "${PORT[sink]}"
done
sleep 0.5

declare -A R # R[name,test] = "v1 v2 ..." over the rounds
TESTS="c1 c50 c1000 conn stream"
for round in $(seq "$ROUNDS"); do
    order=$NAMES
    [ $((round % 2)) = 0 ] && order=$(echo "$NAMES" | tr ' ' '\n' | tac | tr '\n' ' ')
    for t in $TESTS; do
        for n in $order; do
            case $t in
            conn)
                j=$("$B" bench connect -q -c 8 -d "$SECS" --warmup "$WARM" --json "127.0.0.1:${LP[$n-${PORT[echo]}]}" 2>/dev/null)
                v=$(fields "$j" end.requests_per_second)
                ;;
            stream)
                j=$("$B" bench stream -q -d "$SECS" --warmup "$WARM" --json "127.0.0.1:${LP[$n-${PORT[sink]}]}" 2>/dev/null)
                v=$(fields "$j" end.bits_per_second)
                ;;
            *)
                j=$("$B" bench echo -q -c "${t#c}" -d "$SECS" --warmup "$WARM" --json "127.0.0.1:${LP[$n-${PORT[echo]}]}" 2>/dev/null)
                v=$(fields "$j" end.requests_per_second end.latency_us.p99)
                ;;
            esac
            R[$n,$t]="${R[$n,$t]:-}${v// /\/};"
        done
    done
    echo "round $round done" >&2
done

# the table: medians; ratios to haproxy (or sockkit when there is none) and to direct
"$PY" - "$NAMES" "$TESTS" "$(for k in "${!R[@]}"; do echo "$k=${R[$k]}"; done)" <<'EOF'
import statistics, sys
names, tests, raw = sys.argv[1].split(), sys.argv[2].split(), sys.argv[3]
r = {}
for line in raw.splitlines():
    key, _, vals = line.partition("=")
    r[tuple(key.split(","))] = [v for v in vals.split(";") if v]
def vals(n, t, i):
    return [float(v.split("/")[i]) if len(v.split("/")) > i else 0.0 for v in r.get((n, t), [])]
def med(n, t, i):
    xs = vals(n, t, i)
    return statistics.median(xs) if xs else 0.0
def ratios(n, ref, t, i):
    return [a / b for a, b in zip(vals(n, t, i), vals(ref, t, i)) if b > 0]
def ratio(n, ref, t, i):
    """median over the rounds of n's value / ref's value in the same round"""
    xs = ratios(n, ref, t, i)
    return statistics.median(xs) if xs else 0.0
def spread(n, ref, t, i):
    xs = ratios(n, ref, t, i)
    return f" [{min(xs):.2f}-{max(xs):.2f}]" if xs and n not in (ref, "direct") else ""
ref = "haproxy" if "haproxy" in names else "sockkit"
def head(t):
    return {"stream": "stream Gbit/s", "conn": "new conns/s (8 at once)"}.get(t, f"{t} req/s (p99 us)")
print(f"| relay | " + " | ".join(head(t) for t in tests) + " |")
print("|---|" + "---|" * len(tests))
for n in names:
    cells = []
    for t in tests:
        if t == "stream":
            g = med(n, t, 0) / 1e9
            cells.append(f"{g:.2f} ({ratio(n, ref, t, 0):.2f}x{spread(n, ref, t, 0)} {ref}, "
                         f"{ratio(n, 'direct', t, 0):.2f}x direct)")
        elif t == "conn":
            cells.append(f"{med(n, t, 0):.0f} {ratio(n, ref, t, 0):.2f}x{spread(n, ref, t, 0)}")
        else:
            cells.append(f"{med(n, t, 0):.0f} ({med(n, t, 1):.0f}) {ratio(n, ref, t, 0):.2f}x"
                         f"{spread(n, ref, t, 0)}, p99 {ratio(n, ref, t, 1):.2f}x"
                         f"{spread(n, ref, t, 1)}")
    print(f"| {n} | " + " | ".join(cells) + " |")
if "socat" in names:
    print(f"\nsockkit / socat at 50 connections (median of per-round ratios): "
          f"{ratio('sockkit', 'socat', 'c50', 0):.2f}x req/s")
print(f"rounds: {len(vals('sockkit', tests[0], 0))}; ratios are per round, then the median "
      f"[lowest-highest round]")
EOF
