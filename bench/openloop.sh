#!/usr/bin/env bash
# The open loop's accuracy bars (issue 19), side by side in one run, medians of ROUNDS rounds:
#   bench/openloop.sh [ROUNDS] [SECONDS] [SOCKKIT]      (defaults: 3, 5, build/sockkit)
# 1. Well under saturation: `sockkit serve echo` (event model), one connection, 64-byte messages,
#    at RATES (default "1000 5000") requests/s: `bench echo --rate R -c 1` (open loop; its
#    corrected p50/p99) against a closed loop at the same rate, bench/paced_echo.c (one request at
#    a time, sent on the same schedule or when the reply before it came; exact percentiles).
#    Target: open/closed within 10 % for p50 and p99. sockkit's own closed loop (unpaced, as fast
#    as the replies come) is shown beside for context: it is not at the same rate.
# 2. The stall: bench/peers/stall_echo.py answers nothing for 0.2 s of every second; `bench echo
#    --rate 200 -c 2`. A request due at phase f of the stall waits 0.2 - f, so the latency exceeds
#    x with probability (0.2 - x) / 1: p90 = 100 ms, p99 = 190 ms, max = 200 ms (plus the
#    server's ordinary sub-millisecond latency). Target: corrected p99 within 10 % of 190 ms.
#    sockkit's closed loop on the same server (-c 2) is beside: it does not see the stall.
#    Beside them, a reference open loop independent of sockkit's (bench/paced_echo.c open: a
#    sending thread on the same schedule, a receiving thread in a blocking recv), and how many
#    requests each reference took longer than the gap between two requests: a stall of the
#    machine costs a closed loop one such request and an open loop every request due in it, which
#    the closed loop never sends (coordinated omission; docs/bench.md).
# SERVER_CPU=N / CLIENT_CPU=M pin the servers and the clients (taskset; as in bench/uring.sh). On a
# VM a round trip between two vCPUs can cost 10x one on a single vCPU (docs/bench.md), and where the
# scheduler puts the two ends changes from run to run: pinning both to one CPU takes that out.
# CPU_LATENCY_US=N holds a CPU latency request of N us for the run (/dev/cpu_dma_latency, root; what
# cyclictest does): idle CPUs then stay in states that wake within N us (0: they poll, no halt). On
# this VM a reply that wakes a halted vCPU costs ~70 us more (docs/bench.md); the request lapses
# when the script exits. Left unset, nothing is held.
# Loopback only; about ROUNDS x (3 x RATES + 2) x (SECONDS + 1) seconds (3 minutes at defaults).
set -u
cd "$(dirname "$0")/.." || exit 1
ROUNDS=${1:-3} SECS=${2:-5} SK=${3:-build/sockkit} RATES=${RATES:-1000 5000}
[ -x "$SK" ] || { echo "openloop.sh: $SK is not an executable sockkit (build first)" >&2; exit 2; }
out=$(mktemp -d /tmp/sockkit-openloop.XXXXXX)
. bench/lib.sh
SRV=() CLI=()
[ -n "${SERVER_CPU:-}" ] && SRV=(taskset -c "$SERVER_CPU")
[ -n "${CLIENT_CPU:-}" ] && CLI=(taskset -c "$CLIENT_CPU")
trap 'cleanup; rm -rf "$out"' EXIT
if [ -n "${CPU_LATENCY_US:-}" ]; then
    # a write of other than 4 bytes is read as hex: "0x%08x" is 10 bytes, never a binary s32
    { exec 9>/dev/cpu_dma_latency && printf '0x%08x' "$CPU_LATENCY_US" >&9; } ||
        { echo "openloop.sh: cannot hold CPU_LATENCY_US=$CPU_LATENCY_US (/dev/cpu_dma_latency needs root)" >&2; exit 2; }
fi
cc -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -o "$out/paced_echo" bench/paced_echo.c || exit 1

declare -A V # V[key] = the values of the rounds, space separated
add() { V[$1]="${V[$1]:-} $2"; }
med() { median ${V[$1]:-0}; }
last() { local a=(${V[$1]:-0}); echo "${a[-1]}"; }

# the time the hypervisor gave neither vCPU to this guest (steal, /proc/stat), in ticks: a wakeup
# it delays is the generator's lag, in the corrected latencies and not in a closed loop's
steal_ticks() { awk '/^cpu / { print $9 + 0 }' /proc/stat; }
all_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print t }' /proc/stat; }
steal0=$(steal_ticks) all0=$(all_ticks)
for ((r = 1; r <= ROUNDS; r++)); do
    start echo "${SRV[@]}" "$SK" serve -v echo 127.0.0.1:0
    ep=127.0.0.1:${PORT[echo]}
    for rate in $RATES; do
        # the order rotates, so a drift of the machine's pace favours none
        sides=(open paced ref)
        for i in 0 1 2; do
            side=${sides[$(((i + r) % 3))]}
            if [ "$side" = open ]; then
                j=$("${CLI[@]}" "$SK" bench echo --json -q --rate "$rate" -c 1 -d "$SECS" --warmup 1 "$ep" 2>/dev/null)
                read -r p50 p99 u50 u99 lag kept <<<"$(fields "$j" end.latency_us.p50 end.latency_us.p99 \
                    end.latency_uncorrected_us.p50 end.latency_uncorrected_us.p99 end.lag_us.p99 \
                    end.schedule_kept)"
                add "open-$rate-p50" "$p50"; add "open-$rate-p99" "$p99"; add "open-$rate-lag" "$lag"
                add "unc-$rate-p50" "$u50"; add "unc-$rate-p99" "$u99"
                [ "$kept" = True ] || add "open-$rate-notkept" 1
            elif [ "$side" = ref ]; then
                j=$("${CLI[@]}" "$out/paced_echo" "${PORT[echo]}" "$rate" "$SECS" 1 64 open)
                read -r u50 u99 p50 p99 lag slow <<<"$(fields "$j" p50_us p99_us from_due_p50_us \
                    from_due_p99_us lag_p99_us over_gap)"
                add "ref-$rate-p50" "$p50"; add "ref-$rate-p99" "$p99"; add "ref-$rate-lag" "$lag"
                add "refu-$rate-p50" "$u50"; add "refu-$rate-p99" "$u99"; add "ref-$rate-slow" "$slow"
            else
                j=$("${CLI[@]}" "$out/paced_echo" "${PORT[echo]}" "$rate" "$SECS" 1)
                read -r p50 p99 late d50 d99 slow <<<"$(fields "$j" p50_us p99_us late_over_1ms from_due_p50_us \
                    from_due_p99_us over_gap)"
                add "paced-$rate-p50" "$p50"; add "paced-$rate-p99" "$p99"; add "paced-$rate-late" "$late"
                add "pdue-$rate-p50" "$d50"; add "pdue-$rate-p99" "$d99"; add "paced-$rate-slow" "$slow"
            fi
        done
        # this round's ratios (the machine's pace moves all three sides of a round alike)
        for k in open unc ref refu pdue; do
            for q in p50 p99; do
                a=$(last "$k-$rate-$q") b=$(last "paced-$rate-$q")
                add "r-$k-$rate-$q" "$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.4f", a / b; else print 0 }')"
            done
        done
        # sockkit's open loop against the reference open loop, corrected and uncorrected
        for q in p50 p99; do
            for pair in open:ref unc:refu; do
                a=$(last "${pair%%:*}-$rate-$q") b=$(last "${pair#*:}-$rate-$q")
                add "x-${pair%%:*}-$rate-$q" "$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.4f", a / b; else print 0 }')"
            done
        done
    done
    j=$("${CLI[@]}" "$SK" bench echo --json -q -c 1 -d "$SECS" --warmup 1 "$ep" 2>/dev/null)
    read -r p50 p99 rps <<<"$(fields "$j" end.latency_us.p50 end.latency_us.p99 end.requests_per_second)"
    add fast-p50 "$p50"; add fast-p99 "$p99"; add fast-rps "$rps"
    stop echo

    start stall "${SRV[@]}" "$PY" bench/peers/stall_echo.py 0.2 1.0
    ep=127.0.0.1:${PORT[stall]}
    j=$("${CLI[@]}" "$SK" bench echo --json -q --rate 200 -c 2 -d "$SECS" --warmup 1 "$ep" 2>/dev/null)
    for k in p50 p90 p99 max; do
        add "stall-open-$k" "$(field "$j" "end.latency_us.$k")"
        add "stall-unc-$k" "$(field "$j" "end.latency_uncorrected_us.$k")"
    done
    add stall-open-n "$(field "$j" end.requests)"
    j=$("${CLI[@]}" "$SK" bench echo --json -q -c 2 -d "$SECS" --warmup 1 "$ep" 2>/dev/null)
    for k in p50 p90 p99 max; do add "stall-closed-$k" "$(field "$j" "end.latency_us.$k")"; done
    add stall-closed-rps "$(field "$j" end.requests_per_second)"
    stop stall
    echo "round $r of $ROUNDS done" >&2
done

us() { awk -v v="$1" 'BEGIN { if (v >= 1000) printf "%.2f ms", v / 1000; else printf "%.1f us", v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

echo "## Open loop against closed loop at the same rate (medians of $ROUNDS rounds, $SECS s each; pinned: server ${SERVER_CPU:-no}, clients ${CLIENT_CPU:-no}; CPU latency held: ${CPU_LATENCY_US:-no}${CPU_LATENCY_US:+ us})"
echo
echo "Open: bench echo --rate, corrected (from the intended send) and uncorrected (from the actual"
echo "send); closed: bench/paced_echo at the same rate (from the actual send)."
echo
echo "| rate, 1 conn | | p50 | p50 / closed | p99 | p99 / closed |"
echo "|---|---|---|---|---|---|"
for rate in $RATES; do
    for row in "open:open, corrected" "unc:open, uncorrected" "ref:reference open loop, corrected" \
        "refu:reference open loop, uncorrected" "paced:closed (paced)" \
        "pdue:closed (paced), from the due time"; do
        k=${row%%:*}; p50=$(med "$k-$rate-p50") p99=$(med "$k-$rate-p99")
        r50=1.00 r99=1.00
        [ "$k" = paced ] || { r50=$(median ${V[r-$k-$rate-p50]}); r99=$(median ${V[r-$k-$rate-p99]}); }
        printf '| %s/s | %s | %s | %.3f | %s | %.3f |\n' "$rate" "${row#*:}" "$(us "$p50")" "$r50" "$(us "$p99")" "$r99"
    done
    echo "| $rate/s | open: the generator's lag | | | $(us "$(med "open-$rate-lag")") | |"
    echo "| $rate/s | reference open loop: its lag | | | $(us "$(med "ref-$rate-lag")") | |"
done
echo
echo "sockkit's open loop / the reference open loop (medians of the rounds' ratios):"
for rate in $RATES; do
    printf -- '- %s/s: corrected p50 %.3f, p99 %.3f; uncorrected p50 %.3f, p99 %.3f\n' "$rate" \
        "$(median ${V[x-open-$rate-p50]})" "$(median ${V[x-open-$rate-p99]})" \
        "$(median ${V[x-unc-$rate-p50]})" "$(median ${V[x-unc-$rate-p99]})"
done
echo
echo "Requests slower than the gap between two requests (1 / rate; medians per round): a stall of"
echo "the machine costs a closed loop one such request and an open loop every request due in it."
for rate in $RATES; do
    echo "- $rate/s: closed (paced) $(med "paced-$rate-slow"), reference open loop $(med "ref-$rate-slow")" \
        "(of $(awk -v r="$rate" -v s="$SECS" 'BEGIN { printf "%.0f", r * s }') requests a round)"
done
echo
echo "Ratios: the median over the rounds of each round's ratio to the paced closed loop of that round."
echo "The paced closed loop from the due time: its latency counted as an open loop counts it, its"
echo "own lateness in sleeping to each slot included (a wakeup the machine delays)."
echo "Steal (CPU time the hypervisor took from this guest) over the whole run:" \
    "$(awk -v s=$(($(steal_ticks) - steal0)) -v a=$(($(all_ticks) - all0)) 'BEGIN { printf "%.2f%%", a ? 100 * s / a : 0 }')."
echo
echo "Closed loop unpaced for context (bench echo -c 1, as fast as replies come):" \
    "$(awk -v v="$(med fast-rps)" 'BEGIN { printf "%.0f", v }') req/s, p50 $(us "$(med fast-p50)"), p99 $(us "$(med fast-p99)")."
nk=0
for rate in $RATES; do nk=$((nk + $(echo ${V[open-$rate-notkept]:-} | wc -w))); done
echo "Open-loop runs that did not keep the schedule: $nk. Paced closed-loop sends over 1 ms late" \
    "(medians): $(for rate in $RATES; do printf '%s/s: %s; ' "$rate" "$(med "paced-$rate-late")"; done)"
echo
echo "## The stall: 0.2 s of every 1 s, --rate 200 -c 2 (medians of $ROUNDS rounds)"
echo
echo "| | p50 | p90 | p99 | max |"
echo "|---|---|---|---|---|"
echo "| expected from the schedule | ~0.1 ms | 100.00 ms | 190.00 ms | 200.00 ms |"
for row in "open:open loop, corrected" "unc:open loop, uncorrected" "closed:closed loop (-c 2)"; do
    k=${row%%:*}
    echo "| ${row#*:} | $(us "$(med "stall-$k-p50")") | $(us "$(med "stall-$k-p90")") | $(us "$(med "stall-$k-p99")") | $(us "$(med "stall-$k-max")") |"
done
echo
echo "Corrected p99 / expected: $(ratio "$(med stall-open-p99)" 190000) (target 0.90-1.10)." \
    "Open-loop requests per round: $(med stall-open-n) (200/s x $SECS s)." \
    "Closed loop: $(awk -v v="$(med stall-closed-rps)" 'BEGIN { printf "%.0f", v }') req/s."
