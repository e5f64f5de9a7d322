#!/usr/bin/env bash
# An ABI that can grow (docs/design.md, "ABI"): a program built against this version's installed
# headers keeps working with a newer library whose options structs have gained a field.
#   1. install this version into a temporary prefix; build tests/install/abi/probe.c against it
#      (every sized struct, each followed by a canary) and run it.
#   2. copy the source, add a field (added_later) at the end of every sized struct in the copy's
#      headers, make the copy's library use it (refuse a set one on input, fill it on output), and
#      build that library.
#   3. the old binary runs against the new library: its smaller structs are read and written only
#      as far as their size (a library reading or writing further would meet the canaries).
#   4. the other way: a binary built against the newer header runs against this version's library
#      while the new field is 0, and is refused (SK_EARG), not ignored, when it is set.
set -eu
: "${SK_BUILD:?}" "${SK_SRC:?}"
command -v cc >/dev/null || { echo "no C compiler"; exit 77; }
tmp=$(mktemp -d /tmp/sockkit-abi.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
san=()
[ -n "${SK_SANITIZE:-}" ] && san=(-fsanitize="$SK_SANITIZE")
probe=$SK_SRC/tests/install/abi/probe.c

cmake --install "$SK_BUILD" --prefix "$tmp/old" >/dev/null
oldlib=$(dirname "$(find "$tmp/old" -name libsockkit.so | head -1)")
cc "${san[@]}" -Wall -Wextra -Werror -I"$tmp/old/include" "$probe" -L"$oldlib" -lsockkit -pthread \
    -o "$tmp/probe_old"
out=$(LD_LIBRARY_PATH="$oldlib" "$tmp/probe_old")
echo "old binary, old library: $out"

mkdir "$tmp/src"
tar -C "$SK_SRC" --exclude='./build*' --exclude=./.git --exclude=./out -cf - . | tar -C "$tmp/src" -xf -
python3 - "$tmp/src" <<'PY'
import re, sys
root = sys.argv[1]
def patch(path, pattern, repl, want):
    text = open(path).read()
    new, n = re.subn(pattern, repl, text, flags=re.M)
    if n != want:
        sys.exit(f"abi_grow: {n} of {want} places to grow in {path}: update tests/install/abi_grow.sh")
    open(path, "w").write(new)
for hdr, types in (("sock.h", ("sk_connect_opts", "sk_listen_opts")),
                   ("server.h", ("sk_event_handlers", "sk_server_opts", "sk_server_stats")),
                   ("proxy.h", ("sk_proxy_opts",))):
    for t in types:
        patch(f"{root}/include/sockkit/{hdr}", r"^} " + t + ";",
              "    uint64_t added_later; /* a field of a later version */\n} " + t + ";", 1)
# every sized input struct the library reads: a set added_later is an error it reports
load = r"^(\s*)int rc = sk__opts_load\(&([^,]+), (.*)$"
grow = r'\g<0>\n\1if (rc >= 0 && (\2).added_later)\n\1    rc = sk__fail(SK_EARG, "added_later is set");'
for f, n in (("connect.c", 3), ("listen.c", 2), ("server.c", 1), ("server_event.c", 1),
             ("proxy.c", 1), ("proxy_connect.c", 1)):
    patch(f"{root}/src/{f}", load, grow, n)
# the result struct: the library fills the new field
patch(f"{root}/src/server.c", r"sk_server_stats st = \{\.size = sizeof st,",
      "sk_server_stats st = {.size = sizeof st, .added_later = ~0ull,", 1)
PY
cmake -S "$tmp/src" -B "$tmp/newbuild" -DSK_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSK_SANITIZE="${SK_SANITIZE:-}" >/dev/null
cmake --build "$tmp/newbuild" --target sockkit -j2 >/dev/null
mkdir -p "$tmp/new/lib"
cp -a "$tmp/newbuild"/libsockkit.so* "$tmp/new/lib/"

LD_LIBRARY_PATH="$tmp/new/lib" ldd "$tmp/probe_old" | grep -q "libsockkit.so.0 => $tmp/new/lib/" ||
    { echo "FAIL: the old binary does not load the new library"; exit 1; }
out=$(LD_LIBRARY_PATH="$tmp/new/lib" "$tmp/probe_old")
echo "old binary, new library: $out"

cc "${san[@]}" -Wall -Wextra -Werror -DSK_PROBE_NEWER -I"$tmp/src/include" "$probe" \
    -L"$tmp/new/lib" -lsockkit -pthread -o "$tmp/probe_new"
out=$(LD_LIBRARY_PATH="$oldlib" "$tmp/probe_new")
echo "new binary, old library: $out"
out=$(LD_LIBRARY_PATH="$tmp/new/lib" "$tmp/probe_new")
echo "new binary, new library: $out"
echo "abi_grow passed"
