#!/usr/bin/env bash
# Make sure the packages a goal needs are present. As root, installs what is missing with apt-get;
# otherwise prints the one command to run and fails.
#   scripts/deps.sh build   what `make demo`, `make build` and `make install` need
#   scripts/deps.sh test    what `make test` needs (build + test peers + test tools)
#   scripts/deps.sh deb     what `make deb` needs (build + Debian packaging tools)
#   scripts/deps.sh bench   what `make bench` needs (build + benchmark peers)
#   scripts/deps.sh --list SET   print the package names of SET, one line
# Exit status: 0 all present, 1 missing (not root) or the install failed, 2 usage.
set -eu
list_only=
if [ "${1:-}" = --list ]; then
    list_only=1
    shift
fi
what=${1:-test}

# package:command-or-file that proves it is installed. libc6-dev is named because Debian's gcc
# does not pull in the C library's headers and start files (crt1.o) by itself.
# libssl-dev is optional to the build (without it TLS is left out, cmake -DSK_TLS=AUTO) but
# installed, so that a normal build has TLS. liburing-dev likewise (without it the io_uring loop
# backend is left out, cmake -DSK_URING=AUTO; pkg-config finds it). zlib1g-dev: bench --hdr-log
# and bench merge (HdrHistogram's compressed histograms). nodejs and npm (test set):
# tests/interop/bench_hdrlog.py reads the log with HdrHistogramJS (npm's hdr-histogram-js,
# installed into the build directory).
build_pkgs="make:make gcc:gcc libc6-dev:/usr/include/stdio.h cmake:cmake libssl-dev:/usr/include/openssl/ssl.h
 pkg-config:pkg-config liburing-dev:/usr/include/liburing.h zlib1g-dev:/usr/include/zlib.h"
test_pkgs="pkg-config:pkg-config libcmocka-dev:/usr/include/cmocka.h python3:python3
 netcat-openbsd:nc socat:socat tshark:tshark iproute2:ip procps:ps netbase:/etc/services git:git debootstrap:debootstrap
 groff-base:groff man-db:man zsh:zsh clang:clang openbsd-inetd:inetd openssl:openssl
 libclang-rt-14-dev:/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a
 dante-server:/usr/sbin/danted tinyproxy:/usr/bin/tinyproxy redis-server:redis-server
 redis-tools:redis-cli nodejs:node npm:npm strace:strace valgrind:valgrind"
deb_pkgs="build-essential:/usr/share/doc/build-essential pkg-config:pkg-config debhelper:dh dpkg-dev:dpkg-buildpackage fakeroot:fakeroot
 lintian:lintian"
bench_pkgs="iperf3:iperf3 sockperf:sockperf libuv1-dev:/usr/include/uv.h
 libevent-dev:/usr/include/event2/event.h python3:python3 haproxy:haproxy socat:socat"

case $what in
build) want=$build_pkgs ;;
test) want="$build_pkgs $test_pkgs" ;;
deb) want="$build_pkgs $deb_pkgs" ;;
bench) want="$build_pkgs $bench_pkgs" ;;
*)
    echo "deps.sh: unknown set '$what'; use build, test, deb or bench" >&2
    exit 2
    ;;
esac

if [ -n "$list_only" ]; then
    names=
    for pair in $want; do names="$names ${pair%%:*}"; done
    echo $names
    exit 0
fi

missing=
for pair in $want; do
    pkg=${pair%%:*} probe=${pair#*:}
    case $probe in
    /*) [ -e "$probe" ] && continue ;;
    *) command -v "$probe" >/dev/null 2>&1 && continue ;;
    esac
    case " $missing " in *" $pkg "*) ;; *) missing="$missing $pkg" ;; esac
done
# nc must be the OpenBSD one (the traditional netcat lacks -N and -U).
if [ "$what" = test ] && command -v nc >/dev/null 2>&1 && ! nc -h 2>&1 | grep -q -- '-N'; then
    missing="$missing netcat-openbsd"
fi
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "deps.sh: missing packages; run as root: apt-get install -y$missing" >&2
    exit 1
fi

# Name the packages apt could not fetch (a failed download names the .deb file; an unknown name,
# as after a failed 'apt-get update' on a fresh system, is 'Unable to locate package X').
unfetched() {
    sed -n -e 's/^E: Unable to locate package \([^ ]*\).*/\1/p' \
        -e 's|^E: Failed to fetch [^ ]*/\([^/_ ]*\)_[^ ]*\.deb.*|\1|p' "$1" | sort -u | tr '\n' ' '
}

echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
# Installing a daemon (dante-server, tinyproxy: the tests start their own on loopback) must not
# start its system service: without a policy of the system's own, refuse every start (101) for
# the duration of the install, as Debian's build chroots do.
policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\n# sockkit scripts/deps.sh: no service starts while it installs\nexit 101\n' >"$policy"
    chmod 755 "$policy"
fi
trap 'rm -f "$log" ${policy:+"$policy"}' EXIT
update_ok=1
apt-get update </dev/null >"$log" 2>&1 || update_ok=
update_err=$(grep -E '^(E|W): ' "$log" | head -1 || true)
# shellcheck disable=SC2086
if apt-get install -y --no-install-recommends $missing </dev/null >"$log" 2>&1; then
    exit 0
fi
names=$(unfetched "$log")
# Name the packages asked for; the count of their dependencies that failed too, if any.
asked= others=0
for n in $names; do
    case " $missing " in *" $n "*) asked="$asked $n" ;; *) others=$((others + 1)) ;; esac
done
[ -z "$names" ] && asked=$missing
what="${asked# }"
[ "$others" -gt 0 ] && what="$what (and $others package(s) they need)"
first=$(grep -E '^E: ' "$log" | head -1 | cut -c1-160 || true)
[ -z "$update_ok" ] && [ -n "$update_err" ] && first="apt-get update: $(echo "$update_err" | cut -c1-140)"
echo "deps.sh: could not fetch or install: $what [${first:-apt-get failed}];" \
    "check the network and the mirror in /etc/apt/sources.list, then run this again" >&2
exit 1
