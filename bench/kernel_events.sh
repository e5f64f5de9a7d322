#!/usr/bin/env bash
# Kernel events per request for the four servers of bench/uring.sh (issue 20): the minimal epoll
# echo server, `sockkit serve echo --backend epoll` and `--backend io_uring`, the minimal io_uring
# server; each loaded in turn with `sockkit bench echo -c C` (64-byte ping-pong) for 3 s while
# `perf stat` counts EVENTS, on the server's threads (default) or on the whole machine (SCOPE=all,
# for interrupts), and divides by the requests. Root or perf_event_paranoid <= -1 for tracepoints.
#   bench/kernel_events.sh [C] [EVENTS]
# (default 1000 connections; timer:timer_start,timer:timer_cancel,timer:hrtimer_start,
# sched:sched_switch,irq:softirq_raise). Interrupts, machine-wide:
#   SCOPE=all bench/kernel_events.sh 1000 irq_vectors:reschedule_entry,irq_vectors:call_function_single_entry,irq_vectors:local_timer_entry,irq:irq_handler_entry
set -u
cd "$(dirname "$0")/.." || exit 1
C=${1:-1000}
EVENTS=${2:-timer:timer_start,timer:timer_cancel,timer:hrtimer_start,sched:sched_switch,irq:softirq_raise}
B=build/sockkit
out=build-bench
mkdir -p "$out"
ulimit -n 65536 2>/dev/null || ulimit -n 4096 2>/dev/null
cmake --build build -j2 >/dev/null || exit 1
cc -O2 -D_GNU_SOURCE -Wall -Werror -o "$out/epoll_echo" bench/peers/epoll_echo.c || exit 1
cc -O2 -D_GNU_SOURCE -Wall -Werror -o "$out/uring_echo" bench/peers/uring_echo.c -luring || exit 1
perf stat -x, -e "$EVENTS" -o /dev/null true 2>/dev/null ||
    { echo "kernel_events.sh: perf cannot count $EVENTS here (root, or perf_event_paranoid)" >&2; exit 2; }

. bench/lib.sh
trap cleanup EXIT
start epoll "$out/epoll_echo" 0
start sk-epoll "$B" serve -v echo 127.0.0.1:0 --backend epoll
start sk-uring "$B" serve -v echo 127.0.0.1:0 --backend io_uring
start uring-min "$out/uring_echo" 0
sleep 0.3
for s in epoll sk-epoll sk-uring uring-min; do
    scope=(-p "${PID[$s]}")
    [ "${SCOPE:-}" = all ] && scope=(-a)
    perf stat -x, -e "$EVENTS" "${scope[@]}" -o "$out/events-$s.txt" &
    pp=$!
    sleep 0.3 # attached before the first request
    j=$("$B" bench echo -q --json -c "$C" -d 3 --warmup 0 "127.0.0.1:${PORT[$s]}" 2>/dev/null)
    kill -INT "$pp" 2>/dev/null
    wait "$pp" 2>/dev/null
    req=$(field "$j" end.requests)
    [ "${req:-0}" -gt 0 ] 2>/dev/null || { echo "kernel_events.sh: $s: no requests" >&2; continue; }
    echo "$s: $req requests at $C connections"
    awk -F, -v n="$req" 'NF > 3 && $1 ~ /^[0-9]/ {printf "  %-45s %8.3f a request\n", $3, $1 / n}' "$out/events-$s.txt"
done
