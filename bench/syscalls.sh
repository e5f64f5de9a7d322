#!/usr/bin/env bash
# System calls a server makes to echo a bulk stream: 1 GiB over one loopback connection, sent and
# read back at the same time by bench/bulk_echo.c (a sender thread and a reader that checks every
# byte), against (1) the minimal epoll echo (bench/peers/epoll_echo.c) and (2) `sockkit serve echo`
# with its default settings (the event model). Each server gets three runs of the same client:
#   plain   no tracer attached: the wall time and MiB/s
#   perf    `perf stat -e raw_syscalls:sys_enter -p PID`: every system call of the server's
#           threads, counted in the kernel at little cost (skipped if perf cannot count here)
#   strace  `strace -c -f -p PID`: the count per system call; strace stops the server at each
#           call, which slows it down, so a server that reads whatever is there gets larger reads
#           and its total can come out lower than perf's
# and the report gives totals, system calls per MiB echoed (per MiB in: the same MiB goes out),
# the most frequent calls, and sockkit/epoll ratios (target: at most 2x).
# Bounded: each client run stops after 120 s; about 30 s in all on this 2-core machine.
# usage: bench/syscalls.sh [BYTES]   (default 1073741824; SOCKKIT_ARGS="--model thread" to compare
# another model: it goes before SERVICE on the sockkit command line)
set -u
cd "$(dirname "$0")/.." || exit 1
BYTES=${1:-1073741824}
B=build/sockkit
out=build-bench
mkdir -p "$out"

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j"$(nproc)" >/dev/null || exit 1
cc -O2 -D_GNU_SOURCE -Wall -Werror -o "$out/epoll_echo" bench/peers/epoll_echo.c || exit 1
cc -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -o "$out/bulk_echo" bench/bulk_echo.c || exit 1

. bench/lib.sh
trap cleanup EXIT

have_strace=0
have_perf=0
command -v strace >/dev/null && strace -c -o /dev/null true 2>/dev/null && have_strace=1
command -v perf >/dev/null && perf stat -x, -e raw_syscalls:sys_enter -o /dev/null true 2>/dev/null && have_perf=1
[ $have_strace = 0 ] && echo "syscalls.sh: strace cannot trace here (not installed or ptrace refused): no per-call counts" >&2
[ $have_perf = 0 ] && echo "syscalls.sh: perf cannot count raw_syscalls:sys_enter here (no perf, or tracepoints not readable)" >&2

# client NAME LABEL: one bulk echo run against server NAME; prints "bytes N seconds S mib_per_s R"
client() {
    local res
    if ! res=$("$out/bulk_echo" "${PORT[$1]}" "$BYTES" 120); then
        echo "syscalls.sh: $1 failed the bulk echo ($2 run)" >&2
        exit 1
    fi
    echo "$res"
}
# wait_for FILE PATTERN: up to 5 s for a tracer to say it has attached
wait_for() {
    for _ in $(seq 100); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
# end_tracer PID: SIGINT makes strace and perf print their summary and leave the server running
end_tracer() {
    kill -INT "$1" 2>/dev/null
    for _ in $(seq 100); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.05
    done
    wait "$1" 2>/dev/null
}

declare -A WALL RATE PERF STRACE TOP
measure() {
    local name=$1 pid=${PID[$1]} tp
    sleep 0.3
    local res
    read -ra res <<<"$(client "$name" plain)" # bytes N seconds S mib_per_s R
    WALL[$name]=${res[3]} RATE[$name]=${res[5]}
    PERF[$name]=-
    if [ $have_perf = 1 ]; then
        # -p PID counts every thread the process has now (the event model's loops exist by then)
        perf stat -x, -e raw_syscalls:sys_enter -p "$pid" -o "$out/syscalls-$name.perf" &
        tp=$!
        sleep 0.5
        client "$name" perf >/dev/null
        end_tracer $tp
        PERF[$name]=$(awk -F, '/raw_syscalls:sys_enter/ {print $1}' "$out/syscalls-$name.perf")
    fi
    STRACE[$name]=- TOP[$name]=-
    if [ $have_strace = 1 ]; then
        strace -c -f -p "$pid" -o "$out/syscalls-$name.strace" 2>"$out/syscalls-$name.strace-err" &
        tp=$!
        if ! wait_for "$out/syscalls-$name.strace-err" attached; then
            echo "syscalls.sh: strace did not attach to $name:" >&2
            cat "$out/syscalls-$name.strace-err" >&2
            exit 1
        fi
        client "$name" strace >/dev/null
        end_tracer $tp
        # the summary: "% time seconds usecs/call calls [errors] syscall", then a "total" row
        STRACE[$name]=$(awk '$NF == "total" {print $4}' "$out/syscalls-$name.strace")
        TOP[$name]=$(awk '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {print $4, $NF}' "$out/syscalls-$name.strace" |
            sort -rn | head -5 | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1}')
    fi
}

start epoll "$out/epoll_echo" 0
measure epoll
stop epoll
# shellcheck disable=SC2086
start sockkit "$B" serve -v ${SOCKKIT_ARGS:-} echo 127.0.0.1:0
measure sockkit
stop sockkit

mib=$("$PY" -c "print($BYTES / 1048576)")
per() { "$PY" -c "import sys; v=sys.argv[1]; print(f'{int(v)/$mib:.1f}' if v.isdigit() else '-')" "$1"; }
ratio() { "$PY" -c "import sys; a,b=sys.argv[1:]; print(f'{int(a)/int(b):.2f}x' if a.isdigit() and b.isdigit() and int(b) else '-')" "$1" "$2"; }

echo
echo "Bulk echo of $BYTES bytes ($mib MiB) over one connection; the server's system calls"
echo "sockkit: $(sed -n 's/.*serving echo on [^(]*(\(.*\))$/\1/p' "$out/sockkit.err" | head -1)"
echo
printf '%-9s %8s %8s | %10s %8s | %10s %8s\n' server "wall s" "MiB/s" "perf" "per MiB" "strace" "per MiB"
for s in epoll sockkit; do
    printf '%-9s %8s %8s | %10s %8s | %10s %8s\n' "$s" "${WALL[$s]}" "${RATE[$s]}" \
        "${PERF[$s]}" "$(per "${PERF[$s]}")" "${STRACE[$s]}" "$(per "${STRACE[$s]}")"
done
printf '%-9s %8s %8s | %10s %8s | %10s %8s\n' "ratio" \
    "$("$PY" -c "print(f'{${WALL[sockkit]}/${WALL[epoll]}:.2f}x')")" "" \
    "$(ratio "${PERF[sockkit]}" "${PERF[epoll]}")" "" "$(ratio "${STRACE[sockkit]}" "${STRACE[epoll]}")" ""
echo
for s in epoll sockkit; do echo "most frequent ($s, strace): ${TOP[$s]}"; done
echo "target: sockkit at most 2x epoll's system calls; raw counts in $out/syscalls-*.perf, *.strace"
