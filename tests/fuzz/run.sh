#!/usr/bin/env bash
# Build the libFuzzer harnesses with clang and run each for a bounded time; fail on any finding.
#   tests/fuzz/run.sh [--build DIR] [--seconds N] [HARNESS...]
# `make fuzz` runs it with DIR build-fuzz and N = FUZZ_SECONDS (60); the CTest test fuzz/libfuzzer
# with a DIR under its own binary directory and 5 s each. Harnesses: addr reader seqpkt trace proxy
# hdrlog,
# and tls when the build has TLS (OpenSSL found).
#
# Each fuzzer starts from DIR/corpus/<harness> (where the inputs it finds are kept for the next
# run) and the checked-in seeds, tests/fuzz/corpus/<harness> (read, never written). A finding
# stops that fuzzer; its input is saved as DIR/findings/<harness>-crash-... and the command that
# replays it is printed. Exits 77 (skipped) when clang or libFuzzer is missing.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
dir=build-fuzz
secs=60
harnesses=()
while [ $# -gt 0 ]; do
    case $1 in
    --build) dir=$2; shift 2 ;;
    --seconds) secs=$2; shift 2 ;;
    -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
    *) harnesses+=("$1"); shift ;;
    esac
done
auto_tls=
[ ${#harnesses[@]} -eq 0 ] && harnesses=(addr reader seqpkt trace proxy hdrlog) && auto_tls=1
case $secs in '' | *[!0-9]*) echo "run.sh: --seconds wants a whole number, not '$secs'" >&2; exit 2 ;; esac
if ! command -v clang >/dev/null 2>&1; then
    echo "SKIP: clang not found; the fuzzers need it (apt-get install clang)"
    exit 77
fi
probe=$(mktemp -d /tmp/sockkit-fuzz-probe.XXXXXX)
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }\n' >"$probe/p.c"
if ! clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>"$probe/err"; then
    echo "SKIP: clang cannot link libFuzzer ($(head -n 1 "$probe/err")); install libclang-rt-14-dev"
    rm -rf "$probe"
    exit 77
fi
rm -rf "$probe"
mkdir -p "$dir" && dir=$(cd "$dir" && pwd)

jobs=$(nproc 2>/dev/null || echo 2)
if [ ! -f "$dir/CMakeCache.txt" ] &&
    ! cmake -S "$src" -B "$dir" -DCMAKE_C_COMPILER=clang -DSK_FUZZ=ON -DSK_BUILD_TESTS=OFF \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$dir/configure.log" 2>&1; then
    echo "FAIL: configuring $dir:"; tail -n 20 "$dir/configure.log"
    exit 1
fi
if ! nice cmake --build "$dir" -j"$jobs" --target fuzzers >"$dir/build.log" 2>&1; then
    echo "FAIL: building the fuzzers:"; grep -E 'error|Error' "$dir/build.log" | head -n 30
    exit 1
fi

# tls only where the build has it (cmake -DSK_TLS=AUTO found OpenSSL)
[ -n "$auto_tls" ] && [ -x "$dir/tests/fuzz/fuzz_tls" ] && harnesses+=(tls)
fails=0
mkdir -p "$dir/findings"
for h in "${harnesses[@]}"; do
    bin="$dir/tests/fuzz/fuzz_$h" seeds="$src/tests/fuzz/corpus/$h" work="$dir/corpus/$h"
    if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
        echo "FAIL: no harness '$h' ($bin) or no seeds ($seeds)"; fails=$((fails + 1)); continue
    fi
    mkdir -p "$work"
    log="$dir/fuzz_$h.log"
    # proxy's HTTP header limit (SK_PROXY_HEADER_MAX, 8192) is only reached by a longer input
    maxlen=4096
    [ "$h" = proxy ] && maxlen=9000
    [ "$h" = hdrlog ] && maxlen=16384 # a log of a few intervals
    # -timeout: one input taking 30 s is a hang (every call in the harnesses has timeout 0)
    "$bin" -max_total_time="$secs" -timeout=30 -rss_limit_mb=2048 -max_len=$maxlen \
        -print_final_stats=1 -artifact_prefix="$dir/findings/$h-" "$work" "$seeds" >"$log" 2>&1
    rc=$?
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(echo "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$done_line" | sed -n 's/.*corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p')
    if [ $rc -eq 0 ]; then
        echo "ok    fuzz_$h: ${secs} s, ${runs:-?} runs, ${speed:-?} execs/s, cov ${cov:-?}, features ${ft:-?}, corpus ${corp:-?}"
        continue
    fi
    fails=$((fails + 1))
    echo "FAIL  fuzz_$h (exit $rc) after ${runs:-?} runs; the end of $log:"
    grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)' "$log" | tail -n 40 | sed 's/^/    /'
    for a in "$dir/findings/$h-"*; do
        [ -f "$a" ] || continue
        echo "    reproduce: $bin $a"
        od -A x -t x1z -v "$a" | head -n 16 | sed 's/^/    /'
    done
done
[ $fails -eq 0 ] && echo "fuzz: all ${#harnesses[@]} harness(es) ran ${secs} s without a finding" && exit 0
echo "fuzz: $fails harness(es) found something"
exit 1
