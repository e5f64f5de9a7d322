#!/usr/bin/env bash
# The io_uring loop backend against epoll (issue 20): the minimal epoll echo server
# (bench/peers/epoll_echo.c), `sockkit serve echo --backend epoll` and `--backend io_uring`, and a
# minimal completion-based io_uring echo server (bench/peers/uring_echo.c: multishot accept,
# multishot receive into a buffer ring, sends through the ring; what issue 20's step 3 could reach,
# not sockkit's server), each
# measured with `sockkit bench echo` (64-byte ping-pong) at 1, 50 and 1,000 connections and with
# `bench connect -c 4` (row "conn": connect, 64-byte echo, close), interleaved A B C A B C ... for
# ROUNDS rounds. Per run: requests/s and p99 from bench echo; the server's CPU
# time per request (utime + stime from /proc/PID/stat over the run, divided by the requests); its
# system calls per request (`perf stat -e raw_syscalls:sys_enter -p PID`, every thread, when perf
# can count here). No warm-up (the CPU and the calls are counted over the whole run, so the
# requests must be too): the 1,000 connects are in every run alike.
# Prints one line per run and a table of medians with ratios to the minimal epoll server.
# usage: bench/uring.sh [ROUNDS] [SECONDS]   (default 3 rounds of 3 s; about 2 minutes)
# SERVER_CPU=N / CLIENT_CPU=M pin the servers and the load generator (taskset); CELLS="50 1000"
# runs only those cells (default "1 50 1000 conn"). bench/uring_rps.sh uses them.
set -u
cd "$(dirname "$0")/.." || exit 1
ROUNDS=${1:-3}
SECS=${2:-3}
B=build/sockkit
out=build-bench
mkdir -p "$out"
ulimit -n 65536 2>/dev/null || ulimit -n 4096

cmake --build build -j2 >/dev/null || exit 1
cc -O2 -D_GNU_SOURCE -Wall -Werror -o "$out/epoll_echo" bench/peers/epoll_echo.c || exit 1
cc -O2 -D_GNU_SOURCE -Wall -Werror -o "$out/uring_echo" bench/peers/uring_echo.c -luring || exit 1

. bench/lib.sh
trap cleanup EXIT

have_perf=0
perf stat -x, -e raw_syscalls:sys_enter -o /dev/null true 2>/dev/null && have_perf=1
[ $have_perf = 0 ] && echo "uring.sh: perf cannot count raw_syscalls:sys_enter here: no system call counts" >&2

SERVERS="epoll sk-epoll sk-uring uring-min"
CELLS=${CELLS:-1 50 1000 conn}
SRV=() CLI=()
[ -n "${SERVER_CPU:-}" ] && SRV=(taskset -c "$SERVER_CPU")
[ -n "${CLIENT_CPU:-}" ] && CLI=(taskset -c "$CLIENT_CPU")
start epoll "${SRV[@]}" "$out/epoll_echo" 0
start sk-epoll "${SRV[@]}" "$B" serve -v echo 127.0.0.1:0 --backend epoll
start sk-uring "${SRV[@]}" "$B" serve -v echo 127.0.0.1:0 --backend io_uring
start uring-min "${SRV[@]}" "$out/uring_echo" 0
grep -h backend "$out/sk-uring.err" "$out/sk-epoll.err" >&2
sleep 0.5

# cpu_ticks PID: utime + stime in clock ticks
cpu_ticks() { awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

declare -A RPS P99 CPU SYS
for ((r = 1; r <= ROUNDS; r++)); do
    for c in $CELLS; do
        for s in $SERVERS; do
            pid=${PID[$s]}
            t0=$(cpu_ticks "$pid")
            pf=
            if [ $have_perf = 1 ]; then
                pf="$out/perf-$s.txt"
                perf stat -x, -e raw_syscalls:sys_enter -p "$pid" -o "$pf" &
                perf_pid=$!
                sleep 0.3 # attached before the first request
            fi
            if [ "$c" = conn ]; then
                j=$("${CLI[@]}" "$B" bench connect -q --json -c 4 -d "$SECS" --warmup 0 "127.0.0.1:${PORT[$s]}" 2>/dev/null)
            else
                j=$("${CLI[@]}" "$B" bench echo -q --json -c "$c" -d "$SECS" --warmup 0 "127.0.0.1:${PORT[$s]}" 2>/dev/null)
            fi
            t1=$(cpu_ticks "$pid")
            calls=0
            if [ -n "$pf" ]; then
                kill -INT "$perf_pid" 2>/dev/null
                wait "$perf_pid" 2>/dev/null
                calls=$(awk -F, '/raw_syscalls:sys_enter/ {print $1}' "$pf")
            fi
            read -r req rps p99 <<<"$(fields "$j" end.requests end.requests_per_second end.latency_us.p99)"
            [ "${req:-0}" -gt 0 ] 2>/dev/null || { echo "uring.sh: $s at $c: no requests" >&2; continue; }
            cpu_us=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v n="$req" 'BEGIN {printf "%.2f", (b - a) * 1e6 / hz / n}')
            spr=$(awk -v k="${calls:-0}" -v n="$req" 'BEGIN {printf "%.2f", k / n}')
            printf 'round %d  %-9s c=%-5s %9.0f req/s  p99 %7.0f us  cpu %6s us/req  %5s syscalls/req\n' \
                "$r" "$s" "$c" "$rps" "$p99" "$cpu_us" "$spr"
            RPS[$s,$c]+=" $rps" P99[$s,$c]+=" $p99" CPU[$s,$c]+=" $cpu_us" SYS[$s,$c]+=" $spr"
        done
    done
done

echo
echo "medians of $ROUNDS rounds of $SECS s (ratios: to the minimal epoll server)"
printf '%-9s %5s %10s %6s %9s %9s %7s %12s %7s\n' server conns "req/s" ratio "p99 us" "cpu us/req" ratio "syscalls/req" ratio
for c in $CELLS; do
    # shellcheck disable=SC2086
    base_r=$(median ${RPS[epoll,$c]}) base_c=$(median ${CPU[epoll,$c]}) base_s=$(median ${SYS[epoll,$c]})
    for s in $SERVERS; do
        # shellcheck disable=SC2086
        m_r=$(median ${RPS[$s,$c]}) m_p=$(median ${P99[$s,$c]}) m_c=$(median ${CPU[$s,$c]}) m_s=$(median ${SYS[$s,$c]})
        awk -v s="$s" -v c="$c" -v r="$m_r" -v p="$m_p" -v u="$m_c" -v k="$m_s" -v br="$base_r" -v bc="$base_c" -v bs="$base_s" \
            'BEGIN {printf "%-9s %5s %10.0f %6.2f %9.0f %9.2f %7.2f %12.2f %7.2f\n", s, c, r, r / br, p, u, u / bc, k, (bs > 0 ? k / bs : 0)}'
    done
done
