#!/usr/bin/env bash
# Install into a temporary prefix (and with DESTDIR), then build a program against the installed
# copy with pkg-config (shared and static) and with CMake's find_package(sockkit).
set -eu
: "${SK_BUILD:?}" "${SK_SRC:?}"
tmp=$(mktemp -d /tmp/sockkit-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
san=()
[ -n "${SK_SANITIZE:-}" ] && san=(-fsanitize="$SK_SANITIZE")

cmake --install "$SK_BUILD" --prefix "$tmp/prefix" >/dev/null
pc=$(find "$tmp/prefix" -name sockkit.pc | head -1)
[ -n "$pc" ] || { echo "FAIL: no sockkit.pc installed"; exit 1; }
for f in include/sockkit.h include/sockkit/err.h include/sockkit/sock.h; do
    [ -f "$tmp/prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
# the completions the build generated, and the documentation
if [ -x "$tmp/prefix/bin/sockkit" ]; then
    cmp "$tmp/prefix/share/bash-completion/completions/sockkit" \
        <("$tmp/prefix/bin/sockkit" completion bash) || { echo "FAIL: bash completion"; exit 1; }
    zsh_file=$(find "$tmp/prefix" -name _sockkit | head -1) # SK_ZSH_COMPLETION_DIR decides where
    cmp "${zsh_file:-/nonexistent}" <("$tmp/prefix/bin/sockkit" completion zsh) ||
        { echo "FAIL: zsh completion"; exit 1; }
fi
for f in README.md LICENSE docs/cli.md docs/design.md examples/tcp_server.c; do
    [ -f "$tmp/prefix/share/doc/sockkit/$f" ] || { echo "FAIL: share/doc/sockkit/$f not installed"; exit 1; }
done
# man finds the installed pages by the prefix's share/man (as it does for /usr/local)
if command -v man >/dev/null; then
    MANWIDTH=80 man -M "$tmp/prefix/share/man" sockkit 2>/dev/null | grep -q 'sockkit connect' ||
        { echo "FAIL: man sockkit shows no page from the installed prefix"; exit 1; }
    MANWIDTH=80 man -M "$tmp/prefix/share/man" 3 sk_send_all 2>/dev/null | grep -q 'sk_send_all' ||
        { echo "FAIL: man 3 sk_send_all shows no page from the installed prefix"; exit 1; }
fi
libdir=$(dirname "$(dirname "$pc")")
ls "$libdir"/libsockkit.a "$libdir"/libsockkit.so >/dev/null
export PKG_CONFIG_PATH=$(dirname "$pc")
echo "pkg-config: $(pkg-config --cflags --libs sockkit)"

# shared, via pkg-config
cc "${san[@]}" $(pkg-config --cflags sockkit) "$SK_SRC/tests/install/consumer/main.c" \
    $(pkg-config --libs sockkit) -o "$tmp/pc_shared"
LD_LIBRARY_PATH="$libdir" "$tmp/pc_shared"
LD_LIBRARY_PATH="$libdir" ldd "$tmp/pc_shared" | grep -q "libsockkit.so.0 => $libdir/" || { echo "FAIL: not linked to the installed .so"; exit 1; }
# static, via pkg-config
cc "${san[@]}" $(pkg-config --cflags sockkit) "$SK_SRC/tests/install/consumer/main.c" \
    "$libdir/libsockkit.a" $(pkg-config --static --libs-only-other sockkit) -pthread -o "$tmp/pc_static"
"$tmp/pc_static"
if ldd "$tmp/pc_static" | grep -q libsockkit; then echo "FAIL: static build uses the .so"; exit 1; fi

# CMake find_package, both targets
cmake -S "$SK_SRC/tests/install/consumer" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
    -DCMAKE_C_FLAGS="${san[*]}" >/dev/null
cmake --build "$tmp/cm" >/dev/null
"$tmp/cm/consumer_shared"
"$tmp/cm/consumer_static"

# DESTDIR staging, as packagers use it
DESTDIR="$tmp/stage" cmake --install "$SK_BUILD" --prefix /usr/local >/dev/null
[ -f "$tmp/stage/usr/local/include/sockkit.h" ] || { echo "FAIL: DESTDIR install"; exit 1; }
echo "install test passed"
