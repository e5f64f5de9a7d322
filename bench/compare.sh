#!/usr/bin/env bash
# Side-by-side benchmark, loopback only, bounded in time: about 6 minutes at the defaults (3 rounds
# of 2 s; each measurement is 2.5 s plus at least 0.2 s of waiting for a quiet machine, 9 servers x
# 4 measurements x 3 rounds, then about 20 s of side measurements), about 7 with COMPARE_ALL=1.
# Servers: a minimal epoll echo (the practical limit), libuv and libevent echo servers, Python's
# ThreadingTCPServer, and sockkit serve echo in the thread model and in the event model: its
# defaults (sockkit-event: one loop per core, one on 1-2 cores), --workers 1, and --workers 2 with
# each --accept mode (reuseport, handoff).
# COMPARE_ALL=1 adds socat and sockkit's pool model. Each is measured with `sockkit bench echo`
# (64-byte ping-pong) at 1, 50 and 1000 connections and with `bench connect`, interleaved
# A B C ... A B C ... for ROUNDS rounds; the table shows medians, p99 latencies and ratios to epoll,
# and a second table sockkit-event's ratios to epoll, libuv and libevent.
# Then: iperf3 beside `sockkit bench stream` against `sockkit serve sink`; sockperf's ping-pong
# latency beside `bench echo` at one connection; and whether the load generator is the bottleneck.
# Writes docs/performance.md. Usage: [COMPARE_ALL=1] bench/compare.sh [ROUNDS] [SECONDS]
set -u
cd "$(dirname "$0")/.." || exit 1
ROUNDS=${1:-3}
SECS=${2:-2}
WARM=0.5
B=build/sockkit
out=build-bench
mkdir -p "$out"
ulimit -n 65536 2>/dev/null || ulimit -n 4096

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j"$(nproc)" >/dev/null || exit 1
cc -O2 -D_GNU_SOURCE -Wall -Werror -o "$out/epoll_echo" bench/peers/epoll_echo.c || exit 1
cc -O2 -Wall -o "$out/uv_echo" bench/peers/uv_echo.c -luv || exit 1
cc -O2 -Wall -o "$out/event_echo" bench/peers/event_echo.c -levent || exit 1

. bench/lib.sh
trap cleanup EXIT

SERVERS="epoll libuv libevent python sockkit-thread sockkit-event sockkit-event-1 sockkit-event-2 sockkit-event-2-handoff"
[ -n "${COMPARE_ALL:-}" ] && SERVERS="$SERVERS socat sockkit-pool"
start_all() {
    start epoll "$out/epoll_echo" 0
    start libuv "$out/uv_echo" 0
    start libevent "$out/event_echo" 0
    start python "$PY" bench/peers/py_echo.py 0
    start sockkit-thread "$B" serve -v echo 127.0.0.1:0 --model thread
    start sockkit-event "$B" serve -v echo 127.0.0.1:0
    start sockkit-event-1 "$B" serve -v echo 127.0.0.1:0 --workers 1
    start sockkit-event-2 "$B" serve -v echo 127.0.0.1:0 --workers 2 --accept reuseport
    start sockkit-event-2-handoff "$B" serve -v echo 127.0.0.1:0 --workers 2 --accept handoff
    if [ -n "${COMPARE_ALL:-}" ]; then
        local p
        p=$(free_port)
        PORT[socat]=$p
        socat TCP-LISTEN:"$p",bind=127.0.0.1,reuseaddr,fork,backlog=4096 PIPE >/dev/null 2>&1 &
        pids+=($!)
        PID[socat]=$!
        start sockkit-pool "$B" serve -v echo 127.0.0.1:0 --model pool --workers 4
    fi
    sleep 0.5
}
# Each round starts every server afresh: on this VM a server's pace can stay high or low for a
# minute or more (epoll_echo at 50 connections: 78-81k req/s all through one run, 110-116k all
# through another), so fresh processes each round give the median both.
stop_all() {
    for s in $SERVERS; do stop "$s"; done
    pids=()
}

LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
declare -A RPS P99 STARVED
for round in $(seq "$ROUNDS"); do
    [ "$round" -gt 1 ] && stop_all
    start_all
    for c in 1 50 1000; do
        for s in $SERVERS; do
            quiet
            j=$("$B" bench echo -q --json -c $c -d "$SECS" --warmup "$WARM" "127.0.0.1:${PORT[$s]}" 2>/dev/null)
            read -r rps p99 starved <<<"$(fields "$j" end.requests_per_second end.latency_us.p99 end.starved_connections)"
            RPS[$s,$c]+="$rps " P99[$s,$c]+="$p99 " STARVED[$s,$c]+="$starved "
        done
    done
    for s in $SERVERS; do
        quiet
        j=$("$B" bench connect -q --json -c 4 -d "$SECS" --warmup "$WARM" "127.0.0.1:${PORT[$s]}" 2>/dev/null)
        read -r rps p99 <<<"$(fields "$j" end.requests_per_second end.latency_us.p99)"
        RPS[$s,conn]+="$rps " P99[$s,conn]+="$p99 "
    done
    echo "round $round of $ROUNDS done at ${SECONDS} s" >&2
done

# the side measurements, one second longer than a cell, in whole seconds (iperf3 and sockperf
# take no fractions)
SIDE=$("$PY" -c "import math; print(math.ceil($SECS) + 1)")
p=$(free_port)
iperf3 -s -1 -p "$p" >/dev/null 2>&1 &
pids+=($!)
sleep 0.3
IPERF=$(iperf3 -c 127.0.0.1 -p "$p" -t "$SIDE" -O 1 -J 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9)' 2>/dev/null || echo 0)
start sink "$B" serve -v sink 127.0.0.1:0
j=$("$B" bench stream -q --json -d "$SIDE" --warmup 1 "127.0.0.1:${PORT[sink]}" 2>/dev/null)
STREAM=$("$PY" -c "print($(field "$j" end.bits_per_second)/1e9)")

p=$(free_port)
sockperf sr --tcp -i 127.0.0.1 -p "$p" >/dev/null 2>&1 &
pids+=($!)
sleep 0.5
SOCKPERF_P50=$(sockperf pp --tcp -i 127.0.0.1 -p "$p" -m 64 -t "$SIDE" 2>&1 | sed -n 's/.*percentile 50.000 = *\([0-9.]*\).*/\1/p' | head -1)
j=$("$B" bench echo -q --json -c 1 -d "$SIDE" --warmup "$WARM" "127.0.0.1:${PORT[epoll]}" 2>/dev/null)
BENCH_P50=$(field "$j" end.latency_us.p50)

# generator bottleneck check: two bench processes at once against epoll, 50 connections each
j1=$("$B" bench echo -q --json -c 50 -d "$SECS" --warmup "$WARM" "127.0.0.1:${PORT[epoll]}" 2>/dev/null)
"$B" bench echo -q --json -c 50 -d "$SECS" --warmup "$WARM" "127.0.0.1:${PORT[epoll]}" >"$out/two-a.json" 2>/dev/null &
a=$!
"$B" bench echo -q --json -c 50 -d "$SECS" --warmup "$WARM" "127.0.0.1:${PORT[epoll]}" >"$out/two-b.json" 2>/dev/null
wait $a
ONE=$(field "$j1" end.requests_per_second)
TWO=$("$PY" -c "import json; print(sum(json.load(open(f))['end']['requests_per_second'] for f in ('$out/two-a.json','$out/two-b.json')))")
CPU=$("$PY" -c "import json,sys; d=json.loads(sys.argv[1])['end']['cpu']; print(round(100*(d['user_seconds']+d['system_seconds'])/d['wall_seconds']))" "$j1")

# ratio A B: A/B as "0.87x", "-" when B is 0
ratio() { "$PY" -c "import sys; a,b=map(float,sys.argv[1:]); print(f'{a/b:.2f}x' if b else '-')" "$1" "$2"; }

LOAD_END=$(cut -d' ' -f1 /proc/loadavg)
echo "side measurements done at ${SECONDS} s" >&2

# ---- the report --------------------------------------------------------------------------------
report=$(mktemp)
{
    echo "# Performance"
    echo
    echo "Measured by \`bench/compare.sh $ROUNDS $SECS\` on $(date -u +%Y-%m-%d): $(nproc) cores,"
    echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//') ,"
    echo "kernel $(uname -r) ($(uname -v | cut -c1-40)). Loopback only. Every cell is the median of"
    echo "$ROUNDS interleaved rounds (server A, B, C, ... then again), ${SECS} s each after ${WARM} s warm-up."
    echo "The load generator shares the $(nproc) cores with the server: compare within one run, as ratios."
    echo "Load average (1 min) when the rounds began: $LOAD_START; when the side measurements ended:"
    echo "$LOAD_END (this run's own load is about 1-2; more means something else was running too)."
    echo "Every server process is started afresh each round. Before each measurement the script waits"
    echo "until the CPUs are under ${QUIET_PCT}% busy (a server still winding down 1,000 connections would"
    echo "slow the next one): $QUIET_WAITS measurements waited, $QUIET_FAILS went ahead after ${QUIET_MAX_S} s still busy."
    echo
    echo "## Echo, 64-byte ping-pong (\`sockkit bench echo -c N\`) and connection rate (\`bench connect -c 4\`)"
    echo
    echo "| server | req/s @1 | ratio | p99 µs | req/s @50 | ratio | p99 µs | req/s @1000 | ratio | p99 µs | conn/s | ratio | p99 µs |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    for s in $SERVERS; do
        row="| $s"
        for c in 1 50 1000 conn; do
            # shellcheck disable=SC2086
            m=$(median ${RPS[$s,$c]})
            # shellcheck disable=SC2086
            base=$(median ${RPS[epoll,$c]})
            # shellcheck disable=SC2086
            row+=" | $(printf '%.0f' "$m") | $(ratio "$m" "$base") | $(printf '%.0f' "$(median ${P99[$s,$c]})")"
        done
        echo "$row |"
    done
    echo
    echo "sockkit-event (the default settings) as a fraction of each event-loop server, req/s (conn/s):"
    echo
    echo "| against | @1 | @50 | @1000 | conn/s |"
    echo "|---|---|---|---|---|"
    for s in epoll libuv libevent; do
        row="| $s"
        for c in 1 50 1000 conn; do
            # shellcheck disable=SC2086
            row+=" | $(ratio "$(median ${RPS[sockkit-event,$c]})" "$(median ${RPS[$s,$c]})")"
        done
        echo "$row |"
    done
    echo
    echo "The sockkit servers, as each described itself (\`serve -v\`):"
    echo
    for s in $SERVERS; do
        case $s in sockkit-*) echo "- $s: $(sed -n 's/.*serving echo on [^(]*(\(.*\))$/\1/p' "$out/$s.err" | head -1)" ;; esac
    done
    echo
    for s in $SERVERS; do
        for c in 50 1000; do
            # shellcheck disable=SC2086
            st=$(median ${STARVED[$s,$c]})
            [ "${st%.*}" != 0 ] && echo "- $s at $c connections: $st connections (median) got no reply during the measurement: its req/s and p99 count only the connections it served."
        done
    done
    echo
    echo "## Accuracy of the load generator"
    echo
    echo "- Bulk throughput, one stream: iperf3 **$(printf '%.2f' "$IPERF") Gbit/s**; \`sockkit bench stream\` into"
    echo "  \`sockkit serve sink\` **$(printf '%.2f' "$STREAM") Gbit/s** ($("$PY" -c "print(f'{$STREAM/$IPERF:.2f}x' if $IPERF else '-')") of iperf3)."
    echo "- Round-trip latency at one connection: sockperf ping-pong (its own server, \`sockperf pp --tcp -m 64\`)"
    echo "  p50 one-way ${SOCKPERF_P50:-?} µs, so **$("$PY" -c "print(f'{2*${SOCKPERF_P50:-0}:.1f}')") µs** round trip; \`sockkit bench echo -c 1\`"
    echo "  against epoll_echo p50 **$(printf '%.1f' "$BENCH_P50") µs** ($("$PY" -c "s=2*${SOCKPERF_P50:-0}; print(f'{$BENCH_P50/s:.2f}x' if s else '-')") of sockperf's)."
    echo "- Is the generator the bottleneck? One bench process at 50 connections against epoll_echo:"
    echo "  $(printf '%.0f' "$ONE") req/s using ${CPU}% of a core; two at once: $(printf '%.0f' "$TWO") req/s together"
    echo "  ($("$PY" -c "print(f'{$TWO/$ONE:.2f}x' if $ONE else '-')") of one). On 2 cores the server and the generator split the machine; a sum"
    echo "  near 1x means the server side, not the generator, sets the pace."
    echo
    echo "## Reproduce"
    echo
    echo '```sh'
    echo "make bench        # = scripts/deps.sh bench && bench/compare.sh"
    echo "bench/compare.sh 5 3   # 5 rounds of 3 s"
    echo "COMPARE_ALL=1 bench/compare.sh   # socat and sockkit's pool model too"
    echo '```'
} >"$report"
mkdir -p docs
# What follows the marker in docs/performance.md is measured by other scripts (idle_conns.py,
# syscalls.sh, runs by hand) and kept as it is.
marker='<!-- kept by bench/compare.sh: -->'
kept=$(awk -v m="$marker" 'index($0, m) == 1 { on = 1 } on' docs/performance.md 2>/dev/null)
cp "$report" docs/performance.md
[ -n "$kept" ] && printf '\n%s\n' "$kept" >>docs/performance.md
cat "$report"
rm -f "$report"
