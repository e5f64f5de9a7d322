#!/usr/bin/env bash
# Two servers already running on loopback, measured in turn with the same `sockkit bench` command
# for ROUNDS rounds, the order swapped every round (so that neither always runs first on a warm
# or cold machine); prints each run, then per round the ratio A/B of requests/s and of p99, and
# their medians. For cells that one run of a benchmark table cannot settle (one connection's
# ping-pong on a 2-vCPU guest moves by 0.7-1.6x between rounds). Bounded: ROUNDS x 2 x (SECONDS
# + warm-up + a second) at most.
# Usage: bench/ab_pair.sh ROUNDS SECONDS PORT_A PORT_B BENCH_ARGS...
#   e.g. bench/ab_pair.sh 8 2 7001 7002 echo -c 1
#        bench/ab_pair.sh 8 2 7001 7002 echo --tls --ca cert.pem -c 1
# CLIENT_CPU=N pins the load generator to CPU N (taskset), for servers pinned elsewhere.
set -u
cd "$(dirname "$0")/.." || exit 1
[ $# -ge 5 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
ROUNDS=$1 SECS=$2 PA=$3 PB=$4
shift 4
B=${SOCKKIT:-build/sockkit}
pin=()
[ -n "${CLIENT_CPU:-}" ] && pin=(taskset -c "$CLIENT_CPU")
PY=$(python3 -c 'import sys; print(sys.executable)')

run() { # LABEL PORT: one line "LABEL req/s p99"
    local label=$1 port=$2 j
    j=$("${pin[@]}" "$B" bench "${ARGS[@]}" -q --json -d "$SECS" --warmup 0.3 "127.0.0.1:$port") || {
        echo "ab_pair.sh: bench against port $port failed" >&2
        exit 1
    }
    "$PY" -c "import json, sys; d = json.loads(sys.argv[1])['end']
print('$label', round(d['requests_per_second']), d['latency_us']['p99'])" "$j"
}
ARGS=("$@")
{
    for r in $(seq "$ROUNDS"); do
        if ((r % 2)); then run A "$PA"; run B "$PB"; else run B "$PB"; run A "$PA"; fi
    done
} | tee /dev/stderr | "$PY" -c '
import statistics, sys
a, b = [], []
for line in sys.stdin:
    label, rate, p99 = line.split()
    (a if label == "A" else b).append((float(rate), float(p99)))
r = [x[0] / y[0] for x, y in zip(a, b)]
p = [x[1] / y[1] for x, y in zip(a, b)]
print("A/B requests/s per round:", " ".join(f"{x:.2f}" for x in r), f"median {statistics.median(r):.2f}")
print("A/B p99 per round:       ", " ".join(f"{x:.2f}" for x in p), f"median {statistics.median(p):.2f}")
'
