#!/usr/bin/env bash
# What one request costs a server, counted rather than timed, so the answer does not depend on
# what else the machine is doing: two builds of sockkit (OLD and NEW) serve `echo` in each model
# named, and the same `bench echo` (NEW's; 64-byte ping-pong, CONNS connections) loads them. Per
# model and build it prints
#   syscalls/req  every system call of the server's threads over the run (perf's tracepoint
#                 raw_syscalls:sys_enter, counted in the kernel; the run is 2 s), and the three
#                 that matter for echo (poll, recvfrom, sendto) per request
#   instr/req     user-space instructions per request (valgrind's callgrind, which counts
#                 instructions, not seconds): the difference between a 1 s and a 5 s run divided
#                 by the difference in requests, so start-up (loading OpenSSL, say) cancels out
# usage: bench/request_cost.sh OLD_SOCKKIT NEW_SOCKKIT [CONNS] [MODEL...]
#        (default: 1 connection; models thread pool fork event)
# Loopback only; about 20 s per model. Needs perf (linux-perf) with tracepoints, and valgrind.
set -u
cd "$(dirname "$0")/.." || exit 1
[ $# -ge 2 ] || { sed -n '2,14p' "$0"; exit 2; }
OLD=$1 NEW=$2 CONNS=${3:-1}
shift $(($# >= 3 ? 3 : 2))
MODELS=${*:-thread pool fork event}
for b in "$OLD" "$NEW"; do
    [ -x "$b" ] || { echo "request_cost.sh: $b is not an executable sockkit" >&2; exit 2; }
done
command -v valgrind >/dev/null || { echo "request_cost.sh: valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1 ||
    { echo "request_cost.sh: perf cannot count raw_syscalls:sys_enter here (linux-perf, tracefs)" >&2; exit 1; }
out=$(mktemp -d /tmp/sockkit-cost.XXXXXX)
PY=$(python3 -c 'import sys; print(sys.executable)')
spid=
trap '[ -n "$spid" ] && kill "$spid" 2>/dev/null; wait 2>/dev/null; rm -rf "$out"' EXIT

# wait_port PID: the port the server listens on (sockkit serve -v prints "on 127.0.0.1 N")
wait_port() {
    local p
    for _ in $(seq 100); do
        p=$(grep -ho 'on 127.0.0.1 [0-9]*' "$out/serve.err" 2>/dev/null | grep -o '[0-9]*$' | head -1)
        [ -n "$p" ] && { echo "$p"; return; }
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    echo "request_cost.sh: the server did not start:" >&2
    cat "$out/serve.err" >&2
    exit 1
}
# load PORT SECS: the requests bench echo made
load() {
    "$NEW" bench echo --json -q -d "$2" --warmup 0 -c "$CONNS" "127.0.0.1:$1" 2>/dev/null |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["end"]["requests"])'
}
# run WRAPPER... -- BIN MODEL SECS: start BIN under WRAPPER, load it, stop it with SIGINT
run() {
    local wrap=() bin model secs req
    while [ "$1" != -- ]; do wrap+=("$1"); shift; done
    bin=$2 model=$3 secs=$4
    "${wrap[@]}" "$bin" serve -v echo 127.0.0.1:0 --model "$model" >/dev/null 2>"$out/serve.err" &
    spid=$!
    local port
    port=$(wait_port "$spid")
    req=$(load "$port" "$secs")
    # the server: perf's child, or valgrind itself (it runs the program in its own process)
    pkill -INT -P "$spid" 2>/dev/null || kill -INT "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
    spid=
    echo "$req"
}
syscalls() { # syscalls BIN MODEL
    local req
    req=$(run perf stat -x, -o "$out/perf" -e raw_syscalls:sys_enter,syscalls:sys_enter_poll,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto -- "$1" "$2" 2)
    awk -F, -v r="$req" '/^[0-9]/ { split($3, n, ":"); sub("sys_enter_?", "", n[2]); printf " %s %.2f", (n[2] == "" ? "all" : n[2]), $1 / r }' "$out/perf"
}
instructions() { # instructions BIN MODEL
    local r1 r5 i1 i5
    r1=$(run valgrind --tool=callgrind --callgrind-out-file="$out/cg1" -- "$1" "$2" 1)
    r5=$(run valgrind --tool=callgrind --callgrind-out-file="$out/cg5" -- "$1" "$2" 5)
    i1=$(awk '/^(summary|totals):/ {print $2; exit}' "$out/cg1")
    i5=$(awk '/^(summary|totals):/ {print $2; exit}' "$out/cg5")
    echo $(((i5 - i1) / (r5 - r1)))
}

printf '%-10s %-4s %-50s %s\n' model build "syscalls/req (all poll recvfrom sendto)" instr/req
for m in $MODELS; do
    for which in old new; do
        b=$OLD
        [ "$which" = new ] && b=$NEW
        printf '%-10s %-4s %-50s %s\n' "$m" "$which" "$(syscalls "$b" "$m")" "$(instructions "$b" "$m")"
    done
done
