"""The shared library's ABI (docs/design.md, "ABI"):

- its exported symbols are exactly the functions the public headers (include/sockkit/*.h)
  declare: none missing, none extra (no sk__ internal, no data symbol, nothing else);
- every one carries, as its default version, the node of cmake/sockkit.map that lists it
  (SOCKKIT_0.2 for the functions of 0.2.0, one node per release for those added since), and the map lists
  nothing that is not exported;
- the soname is libsockkit.so.<major>, major from the map's policy (0 for the 0.x series).

`python3 abi_symbols.py --list` prints the exported names (for the map, when a release adds a node).
Needs nm and readelf (binutils); exits 77 without them.
"""
import glob
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sktest import BUILD, SRC, check, finish, skip  # noqa: E402

MAP = os.path.join(SRC, "cmake", "sockkit.map")
SONAME = "libsockkit.so.0"


def strip_c_comments(text):
    pat = re.compile(r'"(?:\\.|[^"\\])*"|/\*.*?\*/|//[^\n]*', re.S)
    return pat.sub(lambda m: m.group(0) if m.group(0).startswith('"') else " ", text)


def map_nodes():
    """{name: node} from the version script's explicit global lists."""
    text = re.sub(r"/\*.*?\*/", " ", open(MAP).read(), flags=re.S)
    nodes = {}
    for node, body in re.findall(r"(SOCKKIT_[0-9.]+)\s*\{(.*?)\}", text, flags=re.S):
        glob_part = body.split("local:")[0].replace("global:", " ")
        for name in re.findall(r"\b(sk_[a-z0-9_]+)\s*;", glob_part):
            nodes[name] = node
    return nodes


def declared():
    """sk_ functions the public headers declare ("name(" that is not a function-pointer type and
    not inside a macro definition)."""
    names = set()
    for path in glob.glob(os.path.join(SRC, "include", "sockkit", "*.h")):
        code = strip_c_comments(open(path).read())
        code = re.sub(r"^\s*#.*(?:\\\n.*)*", " ", code, flags=re.M)  # preprocessor lines
        names |= set(re.findall(r"\b(sk_[a-z0-9_]+)\s*\(", code))
    return names


def exported(lib):
    """{name: (type, version)} of the defined dynamic symbols."""
    out = subprocess.run(["nm", "-D", "--defined-only", "--with-symbol-versions", lib],
                         capture_output=True, text=True, check=True).stdout
    syms = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) != 3:
            continue
        name, _, version = f[2].partition("@")
        syms[name] = (f[1], version)
    return syms


def main():
    lib = os.path.join(BUILD, "libsockkit.so")
    if not shutil.which("nm") or not shutil.which("readelf"):
        skip("needs nm and readelf (binutils)")
    if not os.path.exists(lib):
        skip(f"no {lib} (a build without the shared library)")
    syms = exported(lib)
    if "--list" in sys.argv:
        print("\n".join(sorted(n for n in syms if n.startswith("sk_"))))
        return
    nodes = map_nodes()
    # The nodes' own names appear as absolute symbols: not exports of ours.
    syms = {n: v for n, v in syms.items() if n not in set(nodes.values())}
    decl = declared()
    check(len(decl) > 100, f"the headers declare the API ({len(decl)} functions found)")
    missing = sorted(decl - set(syms))
    extra = sorted(set(syms) - decl)
    check(not missing, f"every declared function is exported; missing: {' '.join(missing)}")
    check(not extra, f"nothing else is exported; extra: {' '.join(extra)}")
    not_code = sorted(n for n, (t, _) in syms.items() if t not in "Ti")
    check(not not_code, f"only functions are exported; others: {' '.join(not_code)}")
    wrong = sorted(n for n, (_, v) in syms.items() if v != "@" + nodes.get(n, "?"))
    check(not wrong, f"every export has the default version of the map node that lists it; not: "
          f"{' '.join(wrong[:10])}")
    stale = sorted(set(nodes) - set(syms))
    check(not stale, f"the map lists only exported functions; not exported: {' '.join(stale)}")
    dyn = subprocess.run(["readelf", "-d", lib], capture_output=True, text=True, check=True).stdout
    m = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", dyn)
    check(m and m.group(1) == SONAME, f"soname {SONAME} ({m.group(1) if m else 'none'})")
    per = {}
    for n in syms:
        per[nodes.get(n)] = per.get(nodes.get(n), 0) + 1
    print(f"{len(syms)} exported functions, all declared: {per}")


main()
finish()
