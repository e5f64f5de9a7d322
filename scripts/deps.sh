#!/usr/bin/env bash
# Make sure the build and test dependencies are present. As root, installs what is missing with
# apt-get; otherwise prints the one command to run and fails.
#   scripts/deps.sh build   what `make demo` needs
#   scripts/deps.sh test    what `make test` needs (build + test peers)
set -eu
what=${1:-test}

# package:command-or-file that proves it is installed
build_pkgs="cmake:cmake gcc:gcc make:make pkg-config:pkg-config"
test_pkgs="libcmocka-dev:/usr/include/cmocka.h python3:python3 netcat-openbsd:nc socat:socat
 iproute2:ip procps:ps openbsd-inetd:inetd"
bench_pkgs="iperf3:iperf3 sockperf:sockperf libuv1-dev:/usr/include/uv.h
 libevent-dev:/usr/include/event2/event.h python3:python3"

case $what in
build) want=$build_pkgs ;;
test) want="$build_pkgs $test_pkgs" ;;
bench) want="$build_pkgs $bench_pkgs" ;;
*) echo "deps.sh: unknown set '$what' (build|test|bench)" >&2; exit 2 ;;
esac

missing=
for pair in $want; do
    pkg=${pair%%:*} probe=${pair#*:}
    case $probe in
    /*) [ -e "$probe" ] && continue ;;
    *) command -v "$probe" >/dev/null 2>&1 && continue ;;
    esac
    missing="$missing $pkg"
done
# nc must be the OpenBSD one (the traditional netcat lacks -N and -U).
if [ "$what" = test ] && command -v nc >/dev/null 2>&1 && ! nc -h 2>&1 | grep -q -- '-N'; then
    missing="$missing netcat-openbsd"
fi
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps.sh: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq </dev/null >/dev/null
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing </dev/null >/dev/null
    exit 0
fi
echo "deps.sh: missing packages; run: sudo apt-get install -y$missing" >&2
exit 1
