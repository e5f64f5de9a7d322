#!/usr/bin/env bash
# The README's quick start on a bare Debian 12: debootstrap a minimal root (--variant=minbase, from
# the mirror apt already uses), copy a clean clone of this commit into it, and run there:
#   1. the quick start with the package mirror unreachable: it must fail, name the packages it
#      could not fetch, and leave no build directory behind;
#   2. the README's two commands exactly as written ("sh quickstart demo", "sh quickstart test");
#   3. `make deb`, then the packages installed with dpkg -i, the README's example programs built
#      against libsockkit-dev with pkg-config and with CMake, run, `sockkit demo`, `man sockkit`,
#      completion files present; then dpkg -r / --purge leaves nothing of sockkit behind.
# Needs root (chroot, mounts) and a reachable mirror; otherwise it skips (exit 77) with a message.
# Inside the root it builds, this test skips itself (the marker file below).
set -eu
: "${SK_SRC:?}"
marker=/etc/sockkit-fresh-root
if [ -e "$marker" ]; then
    echo "SKIP: already inside the fresh root this test made"
    exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root (debootstrap, chroot and mounts); run 'make test' as root to include it"
    exit 77
fi
for tool in debootstrap git chroot mount; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (scripts/deps.sh test installs it)"; exit 1; }
done

# The mirror apt uses here (deb822 sources first, then sources.list); Debian's own by default.
mirror=$(sed -n 's/^URIs: *\([^ ]*debian\/\?\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
[ -n "$mirror" ] || mirror=$(awk '$1=="deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian

root=$(mktemp -d /var/tmp/sockkit-fresh.XXXXXX)
chmod 755 "$root" # it becomes /: man-db's user "man" must get through it
# Everything mounted below the root (ours, and what tests inside made, such as /run/netns),
# deepest first. SK_FRESH_KEEP=1 keeps the root for a look after a failure.
cleanup() {
    local m
    for m in $(awk -v r="$root" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/self/mounts | sort -r); do
        umount -l "$m" 2>/dev/null || true
    done
    if [ -n "${SK_FRESH_KEEP:-}" ]; then
        echo "kept the root: $root"
    else
        rm -rf --one-file-system "$root"
    fi
}
trap cleanup EXIT
in_root() { chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
t0=$SECONDS
stamp() { echo "---- $(($SECONDS - t0)) s: $*"; }

stamp "debootstrap --variant=minbase bookworm from $mirror"
if ! debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1; then
    tail -5 "$root.log"
    if grep -qiE 'Failed getting release file|Couldn.t download|Temporary failure|Could not resolve' "$root.log"; then
        rm -f "$root.log"
        echo "SKIP: debootstrap could not reach the mirror $mirror"
        exit 77
    fi
    rm -f "$root.log"
    echo "FAIL: debootstrap failed"
    exit 1
fi
rm -f "$root.log"
touch "$root$marker"
# Packages installed in the throwaway root must not start daemons there (openbsd-inetd, for the
# chargen comparison, would otherwise keep running): the usual policy-rc.d of chroots.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
# Likewise the machine's npm settings, with the CA bundle they name (a registry reached through a
# proxy that re-signs TLS needs its CA): bench_hdrlog installs HdrHistogramJS from the registry.
npm_ca=$(sed -n 's/^cafile=//p' /etc/npmrc 2>/dev/null | head -1)
if [ -n "$npm_ca" ] && [ -f "$npm_ca" ]; then
    cp "$npm_ca" "$root/etc/npm-host-ca.crt"
    sed 's|^cafile=.*|cafile=/etc/npm-host-ca.crt|' /etc/npmrc >"$root/etc/npmrc"
elif [ -f /etc/npmrc ]; then
    cp /etc/npmrc "$root/etc/npmrc"
fi
# The root is a mount point of its own, as / is on a machine: `ip netns exec` (the namespace
# tests) remounts / as a slave, which fails on a directory that is not a mount point.
mount --bind "$root" "$root"
for m in proc sys dev dev/pts; do
    case $m in
    proc) mount -t proc proc "$root/proc" ;;
    sys) mount -t sysfs sys "$root/sys" ;;
    dev) mount --bind /dev "$root/dev" ;;
    dev/pts) mount -t devpts devpts "$root/dev/pts" ;;
    esac
done

stamp "clean clone of $(git -C "$SK_SRC" rev-parse --short HEAD) into /src/sockkit"
git clone -q --no-local "$SK_SRC" "$root/src/sockkit"
for cmd in make gcc cmake; do
    if in_root sh -c "command -v $cmd" >/dev/null; then echo "FAIL: the minimal root already has $cmd"; exit 1; fi
done

# 1. No network while installing: apt goes through a proxy that does not exist.
stamp "quick start with the mirror unreachable"
echo 'Acquire::http::Proxy "http://127.0.0.1:9"; Acquire::Retries "0";' >"$root/etc/apt/apt.conf.d/99unreachable"
if in_root sh -c 'cd /src/sockkit && sh quickstart demo' >"$root/fail.out" 2>&1; then
    cat "$root/fail.out"
    echo "FAIL: the quick start succeeded with the mirror unreachable"
    exit 1
fi
cat "$root/fail.out"
grep -q "could not fetch or install: .*make" "$root/fail.out" ||
    { echo "FAIL: the failure does not name the packages it could not fetch"; exit 1; }
[ ! -e "$root/src/sockkit/build" ] || { echo "FAIL: a failed quick start left build/ behind"; exit 1; }
rm "$root/etc/apt/apt.conf.d/99unreachable"

# 2. The README's two commands, exactly as written there.
mapfile -t quick < <(awk '/^## Quick start/{on=1} on&&/^```sh/{p=1;next} p&&/^```/{exit} p' "$SK_SRC/README.md" |
    sed 's/[[:space:]]*#.*$//' | grep -v '^$')
if [ "${#quick[@]}" -ne 2 ]; then
    echo "FAIL: the README's quick start has ${#quick[@]} commands, not 2"
    exit 1
fi
for cmd in "${quick[@]}"; do
    stamp "$cmd"
    # The test command runs the normal configuration here (SK_TEST_CONFIGS): the ASan and TSan
    # runs of the same tests are the host's, which `make test` runs beside this test.
    if ! in_root env SK_TEST_CONFIGS=normal sh -c "cd /src/sockkit && $cmd" >"$root/step.out" 2>&1 </dev/null; then
        # what each failed test printed (ctest --output-on-failure), then the end of the run
        awk '/\*\*\*(Failed|Timeout|Exception)/ {p = 1; n = 0} / Start +[0-9]+: / {p = 0}
             p && n++ < 80' "$root/step.out"
        tail -n 60 "$root/step.out"
        echo "FAIL: '$cmd' failed in the fresh root"
        exit 1
    fi
    case $cmd in
    *demo*)
        grep -q "socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)" "$root/step.out" ||
            { tail -20 "$root/step.out"; echo "FAIL: the demo showed no traced socket call"; exit 1; }
        ;;
    *test*)
        grep -E '^(normal|asan|tsan): ' "$root/step.out"
        grep -qE '^normal: .*100% tests passed' "$root/step.out" || { echo "FAIL: no passing normal run"; exit 1; }
        ;;
    esac
done

# 3. Debian packages: build, install, use, remove.
stamp "make deb"
if ! in_root sh -c 'cd /src/sockkit && sh quickstart deb' >"$root/step.out" 2>&1 </dev/null; then
    tail -n 40 "$root/step.out"
    echo "FAIL: make deb failed"
    exit 1
fi
grep -E 'lintian|\.deb' "$root/step.out" | head -20
stamp "dpkg -i, use, dpkg -r"
cp "$SK_SRC/tests/fresh/deb_check.bash" "$root/deb_check.bash"
in_root bash /deb_check.bash /src/sockkit
stamp "fresh-machine test passed"
