#!/usr/bin/env bash
# TLS servers side by side, loopback only, bounded in time (about ROUNDS x 15 x (SECONDS + 3) s,
# then about 2 minutes for the memory): `sockkit serve echo --tls` (one loop), a minimal OpenSSL +
# epoll echo server (bench/peers/tls_echo.c, the practical limit) and HAProxy terminating TLS in
# front of a plain epoll echo (bench/peers/epoll_echo.c; one thread, Debian haproxy). All three
# use the same certificate (ECDSA P-256, made here by openssl req) and OpenSSL's default protocol
# and ciphers; the client is `sockkit bench` verifying the certificate (--ca).
# Measured, interleaved A B C A B C for ROUNDS rounds (servers started afresh each round, the
# order rotated each round):
#   - TLS echo requests/s, 64-byte ping-pong, at 1, 50 and 1000 connections (`bench echo --tls`);
#   - handshakes/s, full and resumed (`bench connect --tls [--tls-resume] -c 4`: connect, full or
#     resumed handshake, one 64-byte echo, close_notify, close);
# then once per server: memory per idle TLS connection (10,000 held by bench/tls_idle.py; the
# server's VmRSS before and after, divided by the count).
# Usage: bench/tls.sh [ROUNDS] [SECONDS]. Writes a Markdown section on stdout (and to
# build-bench/tls/tls.md); every raw value is in build-bench/tls/raw.txt.
set -u
cd "$(dirname "$0")/.." || exit 1
ROUNDS=${1:-3}
SECS=${2:-2}
WARM=0.5
IDLE=${TLS_IDLE:-10000}
B=build/sockkit
out=build-bench/tls
mkdir -p "$out"
# 10,000 idle connections: the holder and the server each need more than 10,000 fds, HAProxy two
# per connection (one to the client, one to its backend). Root may raise the hard limit; where
# that is refused too (a container without CAP_SYS_RESOURCE), HAProxy holds as many as fit.
ulimit -Hn 70000 2>/dev/null
ulimit -n 70000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)
HAPROXY_MAXCONN=$(((NOFILE - 200) / 2)) # HAProxy refuses to start when 2 x maxconn does not fit
((HAPROXY_MAXCONN > 30000)) && HAPROXY_MAXCONN=30000

command -v haproxy >/dev/null || { echo "tls.sh: needs haproxy (Debian haproxy)" >&2; exit 1; }
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && cmake --build build -j2 >/dev/null || exit 1
"$B" --version | grep -q '^TLS: yes' || { echo "tls.sh: $B was built without TLS" >&2; exit 1; }
cc -O2 -D_GNU_SOURCE -Wall -Werror -o build-bench/epoll_echo bench/peers/epoll_echo.c || exit 1
cc -O2 -D_GNU_SOURCE -Wall -Werror -o build-bench/tls_echo bench/peers/tls_echo.c -lssl -lcrypto || exit 1

. bench/lib.sh
trap cleanup EXIT
QUIET_MAX_S=2 # a shared machine is seldom quiet: wait a little, then go ahead (counted)

CERT=$out/cert.pem KEY=$out/key.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$KEY" -out "$CERT" \
    -days 2 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null || exit 1
cat "$CERT" "$KEY" >"$out/haproxy.pem"

# haproxy prints no port: it gets a free one and is waited for until it accepts
haproxy_start() { # BACKEND_PORT
    local lp
    lp=$(free_port)
    cat >"$out/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn $HAPROXY_MAXCONN
    tune.maxaccept 64
defaults
    mode tcp
    timeout connect 5s
    timeout client 300s
    timeout server 300s
listen tls
    bind 127.0.0.1:$lp ssl crt $out/haproxy.pem
    server echo 127.0.0.1:$1
EOF
    haproxy -f "$out/haproxy.cfg" -db >"$out/haproxy.out" 2>"$out/haproxy.err" &
    pids+=($!)
    PID[haproxy]=$! PORT[haproxy]=$lp
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$lp") 2>/dev/null && return
        sleep 0.05
    done
    echo "tls.sh: haproxy did not start:" >&2
    cat "$out/haproxy.err" >&2
    exit 1
}

SERVERS="sockkit minimal haproxy"
start_one() {
    case $1 in
    sockkit) start sockkit "$B" serve -v --workers 1 --max-conns 100000 echo 127.0.0.1:0 --tls --cert "$CERT" --key "$KEY" ;;
    minimal) start minimal build-bench/tls_echo "$CERT" "$KEY" 0 ;;
    haproxy)
        start plain build-bench/epoll_echo 0
        haproxy_start "${PORT[plain]}"
        ;;
    esac
}
stop_one() {
    stop "$1"
    [ "$1" = haproxy ] && stop plain
}

declare -A R # R[server,test] = "v1 v2 ..." over the rounds
TESTS="c1 c50 c1000 full resumed"
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
# the CPU time (clock ticks) of a server's processes: HAProxy's counts its plain echo too, which
# does the echoing the other two do themselves
cpu_ticks() {
    local p t=0
    for p in "${PID[$1]}" ${2:+"${PID[$2]}"}; do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}
HZ=$(getconf CLK_TCK)
measure() { # SERVER TEST: "rate cpu_us_per_request" (req/s or handshakes/s)
    local port=${PORT[$1]} j c0 c1 other=
    [ "$1" = haproxy ] && other=plain
    c0=$(cpu_ticks "$1" $other)
    case $2 in
    full | resumed)
        local r=""
        [ "$2" = resumed ] && r=--tls-resume
        j=$("$B" bench connect -q --json --tls --ca "$CERT" $r -c 4 -d "$SECS" --warmup "$WARM" "127.0.0.1:$port" 2>>"$out/bench.err")
        ;;
    *) j=$("$B" bench echo -q --json --tls --ca "$CERT" -c "${2#c}" -d "$SECS" --warmup "$WARM" "127.0.0.1:$port" 2>>"$out/bench.err") ;;
    esac
    c1=$(cpu_ticks "$1" $other)
    read -r v st er wall <<<"$(fields "$j" end.requests_per_second end.starved_connections end.errors end.cpu.wall_seconds)"
    # the server's CPU over the whole run (warm-up too) per request at the measured rate; not for
    # 1,000 connections, whose handshakes come before the run's clock
    local us
    us=$("$PY" -c "r, w = $v, $wall; print(f'{($c1 - $c0) / $HZ * 1e6 / (r * w):.1f}' if r * w > 0 and '$2' != 'c1000' else 0)")
    echo "round $round $1 $2: $v/s, server CPU $us us per request, starved $st, errors $er" >>"$out/raw.txt"
    echo "$v/$us"
}
: >"$out/raw.txt"
: >"$out/bench.err"
for round in $(seq "$ROUNDS"); do
    # rotate the order: each server goes first in some round
    read -ra all <<<"$SERVERS"
    k=$(((round - 1) % ${#all[@]}))
    order="${all[*]:k} ${all[*]:0:k}"
    for s in $order; do start_one "$s"; done
    sleep 0.3
    for t in $TESTS; do
        for s in $order; do
            quiet
            R[$s,$t]+="$(measure "$s" "$t") "
        done
    done
    for s in $order; do stop_one "$s"; done
    pids=()
    echo "round $round of $ROUNDS done at ${SECONDS} s" >&2
done

# ---- memory per idle TLS connection -------------------------------------------------------------
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
declare -A MEM HELD
for s in $SERVERS; do
    start_one "$s"
    sleep 0.5
    # one warm-up connection, so that what every first connection loads is in "before"
    "$B" bench connect -q --tls --ca "$CERT" -d 0.2 --warmup 0 "127.0.0.1:${PORT[$s]}" >/dev/null 2>&1
    before=$(rss_kib "${PID[$s]}")
    n=$IDLE
    [ "$s" = haproxy ] && ((n > HAPROXY_MAXCONN - 100)) && n=$((HAPROXY_MAXCONN - 100))
    HELD[$s]=$n
    rm -f "$out/idle.fifo" && mkfifo "$out/idle.fifo"
    timeout 300 "$PY" bench/tls_idle.py "${PORT[$s]}" "$n" "$CERT" <"$out/idle.fifo" >"$out/idle-$s.out" 2>&1 &
    holder=$!
    exec 9>"$out/idle.fifo"
    for _ in $(seq 2400); do # 240 s
        grep -q held "$out/idle-$s.out" 2>/dev/null && break
        kill -0 "$holder" 2>/dev/null || break
        sleep 0.1
    done
    after=$(rss_kib "${PID[$s]}")
    if grep -q held "$out/idle-$s.out"; then
        MEM[$s]=$("$PY" -c "print(f'{($after - $before) / $n:.1f}')")
        echo "idle $s: VmRSS $before KiB -> $after KiB with $n held" >>"$out/raw.txt"
    else
        MEM[$s]="failed ($(tail -1 "$out/idle-$s.out"))"
    fi
    exec 9>&-
    wait "$holder" 2>/dev/null
    stop_one "$s"
    pids=()
    echo "idle $s done at ${SECONDS} s" >&2
done
LOAD_END=$(cut -d' ' -f1 /proc/loadavg)

# ---- the report ---------------------------------------------------------------------------------
"$PY" - "$SERVERS" "$TESTS" "$(for k in "${!R[@]}"; do echo "$k=${R[$k]}"; done)" \
    "$(for k in "${!MEM[@]}"; do echo "$k=${MEM[$k]} (${HELD[$k]} held)"; done)" "$ROUNDS" "$SECS" "$LOAD_START" \
    "$LOAD_END" "$QUIET_WAITS" "$QUIET_FAILS" "$IDLE" "$(openssl version)" <<'EOF' | tee "$out/tls.md"
import statistics, sys
names, tests = sys.argv[1].split(), sys.argv[2].split()
r, cpu = {}, {}
for line in sys.argv[3].splitlines():
    key, _, vals = line.partition("=")
    r[tuple(key.split(","))] = [float(v.split("/")[0]) for v in vals.split()]
    cpu[tuple(key.split(","))] = [float(v.split("/")[1]) for v in vals.split()]
mem = dict(line.partition("=")[::2] for line in sys.argv[4].splitlines())
rounds, secs, l0, l1, waits, fails, idle, ossl = sys.argv[5:13]
med = lambda n, t: statistics.median(r.get((n, t)) or [0.0])
spread = lambda n, t: f"{min(r.get((n, t)) or [0]):.0f}-{max(r.get((n, t)) or [0]):.0f}"
head = {"c1": "echo req/s @1", "c50": "echo req/s @50", "c1000": "echo req/s @1000",
        "full": "full handshakes/s", "resumed": "resumed handshakes/s"}
print(f"Medians of {rounds} interleaved rounds, {secs} s each; {ossl}; load average {l0} at the "
      f"start, {l1} at the end; {waits} measurements waited for a quieter machine, {fails} went "
      "ahead busy after 2 s.\n")
print("| server | " + " | ".join(head[t] for t in tests) + " | KiB per idle TLS connection |")
print("|---|" + "---|" * (len(tests) + 1))
for n in names:
    cells = [f"{med(n, t):.0f} ({spread(n, t)})" for t in tests]
    print(f"| {n} | " + " | ".join(cells) + f" | {mem.get(n, '-')} |")
print("\nThe server's CPU time per request (µs; HAProxy's with its plain echo), median; the rates "
      "above depend on what else the shared machine ran, this much less:\n")
ct = [t for t in tests if t != "c1000"]
print("| server | " + " | ".join(head[t] for t in ct) + " |")
print("|---|" + "---|" * len(ct))
for n in names:
    print(f"| {n} | " + " | ".join(f"{statistics.median(cpu.get((n, t)) or [0]):.0f}" for t in ct) + " |")
print("\nsockkit as a fraction of each: the ratio of the medians, then the median (and range) of the "
      "per-round ratios, each of two measurements taken one right after the other (targets: >= "
      "0.95x minimal and >= 1x haproxy for echo, >= 0.95x minimal for handshakes):\n")
print("| against | " + " | ".join(head[t] for t in tests) + " |")
print("|---|" + "---|" * len(tests))
for n in names[1:]:
    cells = []
    for t in tests:
        b = med(n, t)
        pr = sorted(a / c for a, c in zip(r.get(("sockkit", t), []), r.get((n, t), [])) if c)
        pm = f", rounds {statistics.median(pr):.2f}x ({pr[0]:.2f}-{pr[-1]:.2f})" if pr else ""
        cells.append(f"{med('sockkit', t) / b:.2f}x{pm}" if b else "-")
    print(f"| {n} | " + " | ".join(cells) + " |")
EOF
