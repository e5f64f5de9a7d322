#!/usr/bin/env bash
# Build and run the CTest suite in each configuration:
#   normal  RelWithDebInfo (build-test/; build/ is the product build, without tests)
#   asan    AddressSanitizer + UndefinedBehaviorSanitizer
#   tsan    ThreadSanitizer (only the tests labelled for threads; see tests/CMakeLists.txt)
#   fresh   the fresh-machine test alone (label fresh, tests/fresh/): it debootstraps a root and
#           runs the quick start there, which takes the longest and builds from a clone, so it runs
#           in the background from the start, beside the other configurations, with its own CTest
#           summary line
# With no argument: all of them. Exits non-zero if any build or test fails; prints CTest's
# summary line of every configuration at the end.
set -u
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
# SK_TEST_CONFIGS: the configurations when none is named (the fresh-machine test sets it inside
# its root: the sanitizer runs there would repeat the host's)
configs=${*:-${SK_TEST_CONFIGS:-fresh normal asan tsan}}
summary=()
status=0

# The fresh-machine test needs only the test list of build-test (it clones the sources itself).
fresh_pid=
case " $configs " in
*" fresh "*)
    configs=$(echo " $configs " | sed 's/ fresh / /')
    echo "==== fresh (background, build-test/ctest-fresh.log)"
    if cmake -S . -B build-test -DSK_BUILD_TESTS=ON >/dev/null; then
        ctest --test-dir build-test --output-on-failure -L fresh --timeout 1800 \
            >build-test/ctest-fresh.log 2>&1 </dev/null &
        fresh_pid=$!
    else
        summary+=("fresh: configure failed")
        status=1
    fi
    ;;
esac

for cfg in $configs; do
    case $cfg in
    normal) dir=build-test flags=(-DSK_BUILD_TESTS=ON) ;;
    asan) dir=build-asan flags=(-DSK_BUILD_TESTS=ON -DSK_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug) ;;
    tsan) dir=build-tsan flags=(-DSK_BUILD_TESTS=ON -DSK_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug) ;;
    *) echo "test.sh: unknown configuration '$cfg'" >&2; exit 2 ;;
    esac
    echo "==== $cfg build ($dir)"
    if ! cmake -S . -B "$dir" "${flags[@]}" >/dev/null || ! cmake --build "$dir" -j"$jobs" >/dev/null; then
        echo "==== $cfg: BUILD FAILED"
        cmake --build "$dir" -j1 2>&1 | grep -E 'error|Error' | head -30
        summary+=("$cfg: build failed")
        status=1
        continue
    fi
    # The fresh-machine test is a configuration of its own (above). The event-model tests' copies
    # on the other loop backends (tests/CMakeLists.txt): poll's in the normal run only, io_uring's
    # under ASan too.
    sel=(-LE fresh)
    [ "$cfg" = asan ] && sel=(-LE 'fresh|backend_poll')
    [ "$cfg" = tsan ] && sel=(-L threads -LE 'fresh|backend_poll|backend_io_uring')
    log="$dir/ctest.log"
    # Sanitizer runs: fail on the first report; leaks are errors too.
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
        TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
        ctest --test-dir "$dir" --output-on-failure -j"$jobs" --timeout 300 "${sel[@]}" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    [ "$rc" -ne 0 ] && status=1
    line=$(grep -E 'tests passed|tests failed' "$log" | tail -1)
    summary+=("$cfg: ${line:-no tests ran}")
done

if [ -n "$fresh_pid" ]; then
    echo "==== fresh: waiting for the fresh-machine test"
    wait "$fresh_pid"
    rc=$?
    cat build-test/ctest-fresh.log
    [ "$rc" -ne 0 ] && status=1
    line=$(grep -E 'tests passed|tests failed' build-test/ctest-fresh.log | tail -1)
    summary+=("fresh: ${line:-no tests ran}")
fi

echo "==== summary"
for s in "${summary[@]}"; do echo "$s"; done
exit $status
