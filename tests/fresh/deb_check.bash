#!/usr/bin/env bash
# Run inside a scratch Debian root by fresh_debian.sh (not a CTest test of its own: it installs
# packages system-wide). Installs the .deb files from SRC/out/deb, builds the README's client and
# server against the installed libsockkit-dev with pkg-config and with CMake, runs them, runs
# `sockkit demo` and `man sockkit`, checks completions and docs, then removes everything.
set -eu
src=${1:?usage: deb_check.bash SRC}
debs=("$src"/out/deb/*.deb)
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
srv_pid=
trap '[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null; rm -rf "$tmp"' EXIT

names=()
for d in "${debs[@]}"; do names+=("$(dpkg-deb -f "$d" Package)"); done
echo "packages: ${names[*]}"
for want in libsockkit0 libsockkit-dev sockkit; do
    case " ${names[*]} " in *" $want "*) ;; *) fail "no $want package" ;; esac
done
dpkg-deb -f "$src"/out/deb/sockkit_*.deb Depends | grep -q 'libc6' || fail "sockkit has no shlibs dependency on libc6"
dpkg-deb -f "$src"/out/deb/libsockkit0_*.deb Depends | grep -q 'libc6' || fail "libsockkit0 has no libc6 dependency"

apt-get install -y -qq man-db >/dev/null 2>&1 || fail "could not install man-db"
dpkg -i "${debs[@]}" >/dev/null
file=$(command -v sockkit) || fail "sockkit not on PATH after dpkg -i"
readelf -S "$file" | grep -q '\.debug_info' && fail "$file is not stripped"
readelf -d /usr/lib/*/libsockkit.so.0 | grep -q 'SONAME.*libsockkit.so.0' || fail "no soname libsockkit.so.0"

# The README's two example programs, against the installed development package.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 17007)
for part in client server; do
    awk -v want="## A $part" '$0==want{on=1} on&&/^```c/{p=1;next} p&&/^```/{exit} p' "$src/README.md" |
        sed "s/7007/$port/" >"$tmp/$part.c"
    [ -s "$tmp/$part.c" ] || fail "README has no '## A $part' code block"
    cc -Wall -Wextra -Werror $(pkg-config --cflags sockkit) "$tmp/$part.c" $(pkg-config --libs sockkit) \
        -o "$tmp/$part-pc"
done
mkdir "$tmp/cm"
cat >"$tmp/cm/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.20)
project(readme C)
find_package(sockkit REQUIRED)
add_executable(client client.c)
add_executable(server server.c)
target_link_libraries(client PRIVATE sockkit::sockkit)
target_link_libraries(server PRIVATE sockkit::sockkit_static)
EOF
cp "$tmp/client.c" "$tmp/server.c" "$tmp/cm/"
cmake -S "$tmp/cm" -B "$tmp/cm/build" >/dev/null && cmake --build "$tmp/cm/build" >/dev/null ||
    fail "the README examples do not build with find_package(sockkit)"
for pair in "pc:$tmp/server-pc:$tmp/client-pc" "cmake:$tmp/cm/build/server:$tmp/cm/build/client"; do
    IFS=: read -r how srv cli <<<"$pair"
    "$srv" &
    srv_pid=$!
    out=
    for _ in $(seq 50); do
        out=$("$cli" 2>/dev/null) && break
        sleep 0.1
    done
    kill "$srv_pid"
    wait "$srv_pid" 2>/dev/null || true
    srv_pid=
    [ "$out" = hello ] || fail "README client built with $how printed '$out', want 'hello'"
    echo "README client and server built with $how: '$out'"
done
ldd "$tmp/client-pc" | grep -qE 'libsockkit.so.0 => /(usr/)?lib/' || fail "pkg-config build not linked to the installed .so"

sockkit demo 2>&1 | grep -q 'socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)' || fail "sockkit demo shows no trace"
MANWIDTH=80 man sockkit 2>/dev/null | grep -q 'sockkit' || fail "man sockkit shows nothing"
MANWIDTH=80 man 3 sk_send_all 2>/dev/null | grep -q 'sk_send_all' || fail "man 3 sk_send_all shows nothing"
[ -s /usr/share/bash-completion/completions/sockkit ] || fail "no bash completion installed"
[ -s /usr/share/zsh/vendor-completions/_sockkit ] || fail "no zsh completion installed"
ls /usr/share/doc/sockkit/examples/*.c >/dev/null || fail "no examples in /usr/share/doc/sockkit"

owned=$(dpkg -L "${names[@]}" | sort -u)
dpkg -r "${names[@]}" >/dev/null
for f in $owned; do
    [ -d "$f" ] && continue # shared directories (/usr/share/doc) stay
    [ ! -e "$f" ] || fail "dpkg -r left $f"
done
dpkg -l | grep -q "^.[^n].*sockkit" && fail "dpkg -l still lists sockkit packages: $(dpkg -l | grep sockkit)"
# man-db's own page cache (/var/cache/man) is man-db's to expire, not a file of ours.
left=$(find / -xdev \( -path /src -o -path /proc -o -path /tmp -o -path /var/cache/man \) -prune -o \
    \( -name '*sockkit*' -o -name '_sockkit' \) -print 2>/dev/null | grep -v '^/etc/sockkit-fresh-root$' || true)
[ -z "$left" ] || fail "left behind after dpkg -r: $left"
echo "deb check passed: installed, used and removed cleanly"
