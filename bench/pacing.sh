#!/usr/bin/env bash
# Paced bitrate accuracy (issue 19), loopback only, bounded in time (about ROUNDS x (5 + 5 + 6) x
# (SECONDS + 0.5) s): `sockkit bench stream -b` at 10 Mbit/s ... 5 Gbit/s to `sockkit serve
# sink`, `sockkit bench udp --rate` at 1k ... 200k packets/s to `bench udp --recv`, and
# `bench stream --bidir -b` against `serve echo` beside two one-way runs (-b to sink, -R -b from
# source) at low load. Medians of ROUNDS rounds; the target is within 2% of the request (stream,
# udp) and the --bidir total within 5% of the two one-way runs' sum. A last row in each of the
# first two tables runs unpaced (no -b; --rate 0): the machine's ceiling at the time, which says
# where a request could not be met. Not a test: it prints a table.
# Usage: bench/pacing.sh [ROUNDS] [SECONDS]
set -u
cd "$(dirname "$0")/.." || exit 1
ROUNDS=${1:-3}
SECS=${2:-3}
WARM=0.5
B=build/sockkit
out=build-bench/pacing
mkdir -p "$out"

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && cmake --build build -j2 >/dev/null || exit 1

. bench/lib.sh
trap cleanup EXIT

start sink "$B" serve -v --workers 1 sink 127.0.0.1:0
start source "$B" serve -v --workers 1 source 127.0.0.1:0
start echo "$B" serve -v --workers 1 echo 127.0.0.1:0

# median of the arguments
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", 100 * a / b}'; }
# BITS: bits/s for a suffixed rate (10M -> 10000000)
bits() { awk -v r="$1" 'BEGIN {n = r + 0; s = substr(r, length(r)); m = s == "k" ? 1e3 : s == "M" ? 1e6 : s == "G" ? 1e9 : 1; printf "%.0f", n * m}'; }

stream() { # ARGS...: bits_per_second of the measured direction(s), "send receive" for --bidir
    local j
    j=$("$B" bench stream -d "$SECS" --warmup "$WARM" --json "$@" 2>/dev/null)
    fields "$j" end.bits_per_second end.send.bits_per_second end.receive.bits_per_second
}

echo "## bench stream -b (one connection to serve sink, ${SECS} s after ${WARM} s warm-up, median of $ROUNDS)"
echo
echo "| requested | achieved (median) | of request | rounds (Mbit/s) |"
echo "|---|---|---|---|"
for r in 10M 100M 1G 2G 5G unpaced; do
    vals=()
    for _ in $(seq "$ROUNDS"); do
        if [ "$r" = unpaced ]; then
            read -r bps _ _ < <(stream "127.0.0.1:${PORT[sink]}")
        else
            read -r bps _ _ < <(stream -b "$r" "127.0.0.1:${PORT[sink]}")
        fi
        vals+=("$bps")
    done
    m=$(median "${vals[@]}")
    of=-
    [ "$r" != unpaced ] && of="$(pct "$m" "$(bits "$r")")%"
    echo "| $r | $(awk -v m="$m" 'BEGIN {printf "%.1f Mbit/s", m / 1e6}') | $of | $(printf '%s ' "${vals[@]}" | awk '{for (i = 1; i <= NF; i++) printf "%.1f ", $i / 1e6}')|"
done
echo

echo "## bench udp --rate (64-byte datagrams to bench udp --recv, ${SECS} s, median of $ROUNDS)"
echo
echo "| requested/s | sent/s (median) | of request | received/s | lost (worst) | jitter us |"
echo "|---|---|---|---|---|---|"
for r in 1000 10000 50000 100000 200000 0; do
    sent=() got=() lost=0 jit=()
    for _ in $(seq "$ROUNDS"); do
        p=$(free_port)
        "$B" bench udp --recv -q -d $((SECS + 5)) --json "127.0.0.1:$p" >"$out/recv.json" 2>/dev/null &
        rp=$!
        sleep 0.3
        s=$("$B" bench udp --rate "$r" -d "$SECS" --json "127.0.0.1:$p" 2>/dev/null)
        wait "$rp"
        read -r pps _ < <(fields "$s" end.packets_per_second)
        read -r rpps l jt < <(fields "$(cat "$out/recv.json")" end.packets_per_second end.lost end.jitter_us)
        sent+=("$pps") got+=("$rpps") jit+=("$jt")
        [ "$l" -gt "$lost" ] && lost=$l
    done
    m=$(median "${sent[@]}")
    of=-
    [ "$r" != 0 ] && of="$(pct "$m" "$r")%"
    echo "| $r | $(printf '%.0f' "$m") | $of | $(printf '%.0f' "$(median "${got[@]}")") | $lost | $(median "${jit[@]}") |"
done
echo

echo "## bench stream --bidir -b against two one-way runs (median of $ROUNDS)"
echo
echo "| -b | bidir sent + received (Mbit/s) | one-way send + receive (Mbit/s) | bidir / one-way |"
echo "|---|---|---|---|"
for r in 10M 100M 500M; do
    bi=() one=()
    for _ in $(seq "$ROUNDS"); do
        read -r _ s rcv < <(stream --bidir -b "$r" "127.0.0.1:${PORT[echo]}")
        bi+=("$(awk -v a="$s" -v b="$rcv" 'BEGIN {print a + b}')")
        read -r s _ _ < <(stream -b "$r" "127.0.0.1:${PORT[sink]}")
        read -r rcv _ _ < <(stream -R -b "$r" "127.0.0.1:${PORT[source]}")
        one+=("$(awk -v a="$s" -v b="$rcv" 'BEGIN {print a + b}')")
    done
    mb=$(median "${bi[@]}") mo=$(median "${one[@]}")
    echo "| $r | $(awk -v m="$mb" 'BEGIN {printf "%.1f", m / 1e6}') | $(awk -v m="$mo" 'BEGIN {printf "%.1f", m / 1e6}') | $(pct "$mb" "$mo")% |"
done
