# Shared by the bench scripts (source it from the repository root after setting $out, the folder
# for server logs): start servers that print their port, stop them by PID, small helpers.
# shellcheck shell=bash disable=SC2034,SC2154

# python3 resolved once: a wrapper such as a pyenv shim costs ~0.4 s a start, the binary ~0.05 s
PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || PY=python3
pids=()
declare -A PORT PID

# kill every server this script started (by PID), then reap them
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }

# start NAME CMD...: run a server that prints "port N" (or sockkit's -v line "on 127.0.0.1 N"),
# remember its port in PORT[NAME] and its PID in PID[NAME]; 5 s to show the port, else exit 1
start() {
    local name=$1; shift
    "$@" >"$out/$name.out" 2>"$out/$name.err" &
    pids+=($!)
    PID[$name]=$!
    for _ in $(seq 100); do
        local p
        p=$(grep -ho 'port [0-9]*\|on 127.0.0.1 [0-9]*' "$out/$name.out" "$out/$name.err" 2>/dev/null | grep -o '[0-9]*$' | head -1)
        if [ -n "$p" ]; then PORT[$name]=$p; return; fi
        sleep 0.05
    done
    echo "${0##*/}: $name did not start:" >&2
    cat "$out/$name.err" >&2
    exit 1
}

# stop NAME: SIGTERM (sockkit drains and exits 0), KILL if it is still there after 6 s
stop() {
    local p=${PID[$1]}
    kill -TERM "$p" 2>/dev/null
    for _ in $(seq 60); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
}

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# fields JSON KEY... (dotted keys): the values on one line, 0 for a missing one; field: one key
fields() {
    "$PY" -c "
import json, sys
try:
    d = json.loads(sys.argv[1])
except ValueError:
    d = {}
out = []
for key in sys.argv[2:]:
    v = d
    for k in key.split('.'):
        v = v.get(k, 0) if isinstance(v, dict) else 0
    out.append(str(v))
print(' '.join(out))" "$@"
}
field() { fields "$1" "$2"; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : 0)}'; }

# busy_pct SECONDS: how busy the CPUs were over that time, in percent (from /proc/stat)
busy_pct() {
    local _ u n sy i w q sq t1 i1
    read -r _ u n sy i w q sq _ </proc/stat
    t1=$((u + n + sy + i + w + q + sq)) i1=$i
    sleep "$1"
    read -r _ u n sy i w q sq _ </proc/stat
    echo $((100 - 100 * (i - i1) / (u + n + sy + i + w + q + sq - t1 + 1)))
}

# quiet: wait until the CPUs are under QUIET_PCT% busy over 0.2 s, for up to QUIET_MAX_S seconds;
# counts in QUIET_WAITS the calls that had to wait and in QUIET_FAILS those that gave up
QUIET_PCT=10 QUIET_MAX_S=5 QUIET_WAITS=0 QUIET_FAILS=0
quiet() {
    local tries=$((QUIET_MAX_S * 5)) k
    for ((k = 0; k < tries; k++)); do
        if [ "$(busy_pct 0.2)" -lt "$QUIET_PCT" ]; then
            [ "$k" -gt 0 ] && QUIET_WAITS=$((QUIET_WAITS + 1))
            return 0
        fi
    done
    QUIET_WAITS=$((QUIET_WAITS + 1)) QUIET_FAILS=$((QUIET_FAILS + 1))
}
