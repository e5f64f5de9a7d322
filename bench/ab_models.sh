#!/usr/bin/env bash
# Two builds of sockkit side by side, every server model: is any model slower in NEW than in OLD?
#   bench/ab_models.sh OLD_SOCKKIT NEW_SOCKKIT [ROUNDS] [SECONDS]
# For each round, for each model (iterative, thread, fork, pool, event) and connection count (1 and
# 50; iterative serves one client at a time, so 1 only), OLD's and NEW's `serve echo --model M` are
# measured one right after the other (the order alternates each round) by NEW's `bench echo`
# (64-byte ping-pong, SECONDS measured after 0.5 s of warm-up). Prints per cell the median
# requests/s of each build and NEW/OLD (> 1: NEW is faster), and the spread of the per-round
# ratios, so a change within the machine's noise is not read as a regression.
# Loopback only; about ROUNDS x 9 x 2 x (SECONDS + 1) seconds (5 rounds of 2 s: 4.5 minutes).
set -u
cd "$(dirname "$0")/.." || exit 1
[ $# -ge 2 ] || { sed -n '2,10p' "$0"; exit 2; }
OLD=$1 NEW=$2 ROUNDS=${3:-5} SECS=${4:-2}
for b in "$OLD" "$NEW"; do
    [ -x "$b" ] || { echo "ab_models.sh: $b is not an executable sockkit" >&2; exit 2; }
done
out=$(mktemp -d /tmp/sockkit-ab.XXXXXX)
. bench/lib.sh
trap 'cleanup; rm -rf "$out"' EXIT

cells="iterative:1 thread:1 thread:50 fork:1 fork:50 pool:1 pool:50 event:1 event:50"
declare -A RPS
measure() { # measure NAME BINARY MODEL CONNS
    start "$1" "$2" serve -v echo 127.0.0.1:0 --model "$3"
    local j
    j=$("$NEW" bench echo --json -q -d "$SECS" --warmup 0.5 -c "$4" "127.0.0.1:${PORT[$1]}" 2>/dev/null)
    RPS[$1]="${RPS[$1]:-} $(field "$j" end.requests_per_second)"
    stop "$1"
}
for ((r = 1; r <= ROUNDS; r++)); do
    for cell in $cells; do
        m=${cell%:*} c=${cell#*:}
        if ((r % 2)); then
            measure "old-$cell" "$OLD" "$m" "$c"; measure "new-$cell" "$NEW" "$m" "$c"
        else
            measure "new-$cell" "$NEW" "$m" "$c"; measure "old-$cell" "$OLD" "$m" "$c"
        fi
    done
    echo "round $r of $ROUNDS done" >&2
done

printf '%-12s %6s %12s %12s %9s %17s\n' model conns old_req/s new_req/s new/old "round ratios"
for cell in $cells; do
    read -ra o <<<"${RPS[old-$cell]}"
    read -ra n <<<"${RPS[new-$cell]}"
    ratios=()
    for i in "${!o[@]}"; do ratios+=("$(awk -v a="${n[$i]}" -v b="${o[$i]}" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')"); done
    mo=$(median "${o[@]}") mn=$(median "${n[@]}")
    lo=$(printf '%s\n' "${ratios[@]}" | sort -g | head -1) hi=$(printf '%s\n' "${ratios[@]}" | sort -g | tail -1)
    printf '%-12s %6s %12.0f %12.0f %9s %17s\n' "${cell%:*}" "${cell#*:}" "$mo" "$mn" \
        "$(awk -v a="$mn" -v b="$mo" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')" "$(median "${ratios[@]}") ($lo-$hi)"
done
