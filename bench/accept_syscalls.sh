#!/usr/bin/env bash
# System calls per new connection (issue 20's multishot accept): `sockkit bench connect -c 4`
# (connect, one 64-byte echo, close) against the minimal epoll echo (bench/peers/epoll_echo.c),
# `sockkit serve echo --backend epoll` and `--backend io_uring`, and optionally a second sockkit
# binary (BEFORE=path/to/sockkit: e.g. a build of the commit before, for its io_uring server).
# Per server and round: `perf stat -e raw_syscalls:sys_enter -p PID` (every thread) over a run of
# SECONDS, divided by the connections the bench completed; and the server's CPU time (utime +
# stime from /proc/PID/stat) per connection. Counts do not depend on the machine's load much;
# connections/s do. Interleaved A B C ... for ROUNDS rounds; prints each run and the medians.
# usage: bench/accept_syscalls.sh [ROUNDS] [SECONDS]   (default 3 rounds of 2 s)
set -u
cd "$(dirname "$0")/.." || exit 1
ROUNDS=${1:-3}
SECS=${2:-2}
B=build/sockkit
out=build-bench
mkdir -p "$out"

cc -O2 -D_GNU_SOURCE -Wall -Werror -o "$out/epoll_echo" bench/peers/epoll_echo.c || exit 1
perf stat -x, -e raw_syscalls:sys_enter -o /dev/null true 2>/dev/null ||
    { echo "accept_syscalls.sh: perf cannot count raw_syscalls:sys_enter here" >&2; exit 77; }

. bench/lib.sh
trap cleanup EXIT

SERVERS="epoll sk-epoll sk-uring"
start epoll "$out/epoll_echo" 0
start sk-epoll "$B" serve -v echo 127.0.0.1:0 --backend epoll
start sk-uring "$B" serve -v echo 127.0.0.1:0 --backend io_uring
if [ -n "${BEFORE:-}" ]; then
    start before-uring "$BEFORE" serve -v echo 127.0.0.1:0 --backend io_uring
    SERVERS="$SERVERS before-uring"
fi
sleep 0.3

cpu_ticks() { awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
declare -A CPS SYS CPU
for ((r = 1; r <= ROUNDS; r++)); do
    for s in $SERVERS; do
        pid=${PID[$s]}
        perf stat -x, -e raw_syscalls:sys_enter -p "$pid" -o "$out/perf-$s.txt" &
        pp=$!
        sleep 0.3
        t0=$(cpu_ticks "$pid")
        j=$("$B" bench connect -c 4 -d "$SECS" --warmup 0 --json "127.0.0.1:${PORT[$s]}")
        t1=$(cpu_ticks "$pid")
        kill -INT $pp
        wait $pp 2>/dev/null
        read -r n rps <<<"$(fields "$j" end.requests end.requests_per_second)"
        calls=$(awk -F, '/raw_syscalls:sys_enter/ {print $1}' "$out/perf-$s.txt")
        sys=$(awk -v c="$calls" -v n="$n" 'BEGIN {printf "%.2f", n ? c / n : 0}')
        cpu=$(awk -v t=$((t1 - t0)) -v h="$HZ" -v n="$n" 'BEGIN {printf "%.1f", n ? t / h * 1e6 / n : 0}')
        printf '%-12s round %d: %6d conns %8.0f conn/s %6s syscalls/conn %6s CPU us/conn\n' \
            "$s" "$r" "$n" "$rps" "$sys" "$cpu"
        CPS[$s]+="$rps " SYS[$s]+="$sys " CPU[$s]+="$cpu "
    done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
echo "medians of $ROUNDS rounds of $SECS s (ratio: to epoll)"
e=$(median "${CPS[epoll]}")
for s in $SERVERS; do
    c=$(median "${CPS[$s]}")
    printf '%-12s %8.0f conn/s (%.2fx)  %s syscalls/conn  %s CPU us/conn\n' "$s" "$c" \
        "$(awk -v a="$c" -v b="$e" 'BEGIN {print a / b}')" "$(median "${SYS[$s]}")" "$(median "${CPU[$s]}")"
done
