#!/usr/bin/env bash
# Where the CPU goes when a relay is in the path (issue 16's "3x socat at 50 connections"), loopback
# only, bounded in time (about ROUNDS x 2 x (SECONDS + 1) s): 64-byte ping-pong at 50 connections
# through sockkit relay (one loop) and through socat (TCP-LISTEN,fork: a process per connection),
# in front of sockkit serve echo. Per request it reports the CPU time of the load generator (its
# own getrusage, from bench's JSON), of the echo server (utime + stime from /proc) and of the relay
# (perf stat task-clock over the relay's whole life, its forked children included, so socat's 50
# processes count). All three share the machine's cores, so the rate through a relay is bounded by
# the sum: a relay can be at most (client + server + other relay) / (client + server + relay)
# times faster than the other one.
# Usage: bench/relay_cpu.sh [ROUNDS] [SECONDS]. Needs socat and perf.
set -u
cd "$(dirname "$0")/.." || exit 1
ROUNDS=${1:-3}
SECS=${2:-3}
B=build/sockkit
out=build-bench/relay_cpu
mkdir -p "$out"
ulimit -n 65536 2>/dev/null || ulimit -n 8192

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && cmake --build build -j2 >/dev/null || exit 1
for t in socat perf; do command -v $t >/dev/null || { echo "relay_cpu.sh: needs $t" >&2; exit 1; }; done

. bench/lib.sh
trap cleanup EXIT

start echo "$B" serve -v --workers 1 --max-conns 100000 echo 127.0.0.1:0
EP=${PORT[echo]}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

echo "| round | relay | req/s | client µs/req | server µs/req | relay µs/req | sum µs/req |"
echo "|---|---|---|---|---|---|---|"
for round in $(seq "$ROUNDS"); do
    for name in sockkit socat; do
        lp=$(free_port)
        case $name in
        sockkit) perf stat -e task-clock -x, -o "$out/$name.perf" "$B" relay --workers 1 "127.0.0.1:$lp" "127.0.0.1:$EP" 2>"$out/$name.err" & ;;
        socat) perf stat -e task-clock -x, -o "$out/$name.perf" socat "TCP-LISTEN:$lp,bind=127.0.0.1,fork,reuseaddr,backlog=4096" "TCP:127.0.0.1:$EP" 2>"$out/$name.err" & ;;
        esac
        perf_pid=$!
        pids+=("$perf_pid")
        for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$lp") 2>/dev/null && break; sleep 0.05; done
        e0=$(ticks "${PID[echo]}")
        "$B" bench echo -q --json -c 50 -d "$SECS" --warmup 0 "127.0.0.1:$lp" >"$out/bench.json" 2>>"$out/bench.err"
        e1=$(ticks "${PID[echo]}")
        kill -INT $(pgrep -P "$perf_pid") 2>/dev/null # the relay (perf stat then writes its count)
        wait "$perf_pid" 2>/dev/null
        "$PY" - "$round" "$name" "$e0" "$e1" "$HZ" "$out/$name.perf" "$out/bench.json" <<'EOF'
import json, sys
round_, name, e0, e1, hz, perf, bench = sys.argv[1:]
d = json.load(open(bench))["end"]
n = d["requests"]
cpu = d["cpu"]
client = (cpu["user_seconds"] + cpu["system_seconds"]) * 1e6 / n
server = (int(e1) - int(e0)) / int(hz) * 1e6 / n
ms = next(float(l.split(",")[0]) for l in open(perf) if "task-clock" in l)
relay = ms * 1e3 / n
print(f"| {round_} | {name} | {d['requests_per_second']:.0f} | {client:.1f} | {server:.1f} | "
      f"{relay:.1f} | {client + server + relay:.1f} |")
EOF
    done
done
