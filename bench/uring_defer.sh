#!/usr/bin/env bash
# What IORING_SETUP_DEFER_TASKRUN (with SINGLE_ISSUER) is worth here (issue 20): the minimal
# completion-based echo server, bench/peers/uring_echo.c, twice, with the two flags (`defer`) and
# without them (`plain`: COOP_TASKRUN only, as sockkit's loop sets up its rings), side by side,
# interleaved, `sockkit bench echo` (64-byte ping-pong) at CELLS connections. Per run: requests/s,
# p99 and the server's CPU time per request (utime + stime from /proc/PID/stat over the run,
# divided by the requests); then medians and the ratios defer / plain.
# usage: bench/uring_defer.sh [ROUNDS] [SECONDS]   (default 4 rounds of 3 s; CELLS="50 1000")
# SERVER_CPU=N / CLIENT_CPU=M pin the servers and the load generator (taskset).
set -u
cd "$(dirname "$0")/.." || exit 1
ROUNDS=${1:-4}
SECS=${2:-3}
B=build/sockkit
out=build-bench
mkdir -p "$out"
ulimit -n 65536 2>/dev/null || ulimit -n 4096 2>/dev/null

cmake --build build -j2 >/dev/null || exit 1
cc -O2 -D_GNU_SOURCE -Wall -Werror -o "$out/uring_echo" bench/peers/uring_echo.c -luring || exit 1

. bench/lib.sh
trap cleanup EXIT

SRV=() CLI=()
[ -n "${SERVER_CPU:-}" ] && SRV=(taskset -c "$SERVER_CPU")
[ -n "${CLIENT_CPU:-}" ] && CLI=(taskset -c "$CLIENT_CPU")
start defer "${SRV[@]}" "$out/uring_echo" 0
start plain "${SRV[@]}" "$out/uring_echo" 0 plain
sleep 0.3

cpu_ticks() { awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
CELLS=${CELLS:-50 1000}
declare -A RPS P99 CPU
for ((r = 1; r <= ROUNDS; r++)); do
    for c in $CELLS; do
        # the order alternates, so a drift of the machine's pace favours neither
        order="defer plain"
        [ $((r % 2)) = 0 ] && order="plain defer"
        for s in $order; do
            pid=${PID[$s]}
            t0=$(cpu_ticks "$pid")
            j=$("${CLI[@]}" "$B" bench echo -q --json -c "$c" -d "$SECS" --warmup 0 "127.0.0.1:${PORT[$s]}" 2>/dev/null)
            t1=$(cpu_ticks "$pid")
            read -r req rps p99 <<<"$(fields "$j" end.requests end.requests_per_second end.latency_us.p99)"
            [ "${req:-0}" -gt 0 ] 2>/dev/null || { echo "uring_defer.sh: $s at $c: no requests" >&2; continue; }
            cpu_us=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v n="$req" 'BEGIN {printf "%.2f", (b - a) * 1e6 / hz / n}')
            printf 'round %d  %-5s c=%-5s %9.0f req/s  p99 %7.0f us  cpu %6s us/req\n' "$r" "$s" "$c" "$rps" "$p99" "$cpu_us"
            RPS[$s,$c]+=" $rps" P99[$s,$c]+=" $p99" CPU[$s,$c]+=" $cpu_us"
        done
    done
done

echo
echo "medians of $ROUNDS rounds of $SECS s (ratios: defer / plain)"
printf '%-6s %5s %10s %6s %9s %10s %6s\n' server conns "req/s" ratio "p99 us" "cpu us/req" ratio
for c in $CELLS; do
    # shellcheck disable=SC2086
    br=$(median ${RPS[plain,$c]}) bc=$(median ${CPU[plain,$c]})
    for s in plain defer; do
        # shellcheck disable=SC2086
        m_r=$(median ${RPS[$s,$c]}) m_p=$(median ${P99[$s,$c]}) m_c=$(median ${CPU[$s,$c]})
        awk -v s="$s" -v c="$c" -v r="$m_r" -v p="$m_p" -v u="$m_c" -v br="$br" -v bc="$bc" \
            'BEGIN {printf "%-6s %5s %10.0f %6.2f %9.0f %10.2f %6.2f\n", s, c, r, r / br, p, u, u / bc}'
    done
done
