#!/usr/bin/env bash
# The README's client and server compile against the library and talk to each other.
set -eu
: "${SK_SRC:?}" "${SK_BUILD:?}"
tmp=$(mktemp -d /tmp/sockkit-readme.XXXXXX)
srv_pid=
cleanup() { [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Extract the ```c blocks under "## A client" and "## A server", on a free port.
awk -v want="## A client" '$0==want{on=1} on&&/^```c/{p=1;next} p&&/^```/{exit} p' "$SK_SRC/README.md" |
    sed "s/7007/$port/" >"$tmp/client.c"
awk -v want="## A server" '$0==want{on=1} on&&/^```c/{p=1;next} p&&/^```/{exit} p' "$SK_SRC/README.md" |
    sed "s/7007/$port/" >"$tmp/server.c"
[ -s "$tmp/client.c" ] && [ -s "$tmp/server.c" ] || { echo "FAIL: README code blocks not found"; exit 1; }
san=()
[ -n "${SK_SANITIZE:-}" ] && san=(-fsanitize="$SK_SANITIZE")
# what libsockkit.a needs after it (-lssl -lcrypto -luring -pthread, as the build found them)
libs=$(sed -n 's/^Libs.private://p' "$SK_BUILD/sockkit.pc" 2>/dev/null)
for p in client server; do
    cc "${san[@]}" -std=gnu17 -Wall -Wextra -Werror -I"$SK_SRC/include" "$tmp/$p.c" \
        "$SK_BUILD/libsockkit.a" ${libs:--pthread} -o "$tmp/$p"
done
"$tmp/server" & srv_pid=$!
for _ in $(seq 50); do
    out=$("$tmp/client" 2>&1) && break
    sleep 0.1
done
if [ "$out" != "hello" ]; then
    echo "FAIL: README client printed '$out', want 'hello'"
    exit 1
fi
echo "README client and server work: '$out'"
