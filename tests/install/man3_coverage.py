"""The section-3 man pages cover the public API, install with an alias per function, and render
without a groff warning.

- Every function declared in include/sockkit/<part>.h (and every sk_ function libsockkit.so
  exports) is in the SYNOPSIS, the NAME line and the DESCRIPTION of docs/man3/sockkit_<part>.3;
  every public type of the header is named in the DESCRIPTION, every SK_ constant in the page.
- `cmake --install` puts the pages and one alias per function (sk_send_all.3 holding
  ".so man3/sockkit_sock.3") into a temporary prefix; every function has its alias, pointing at
  its page, and no alias is left without a function. `man -M PREFIX sk_...` finds the page.
- groff -man -ww prints nothing for any page, on its default device and on a terminal 80
  columns wide, where no line may be wider than 80; the .TH version is the library's.
- Each EXAMPLE program compiles with -Wall -Wextra -Werror and links against libsockkit.a.
Needs groff (groff-base); exits 77 without it.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sktest import BUILD, SRC, check, finish, skip  # noqa: E402

INCLUDE = os.path.join(SRC, "include")
PAGES = os.path.join(SRC, "docs", "man3")


def ok(cond, what):
    """check() that also returns the outcome."""
    check(cond, what)
    return cond


def strip_c_comments(text):
    """Remove /* */ and // comments (string literals kept): declarations only."""
    pat = re.compile(r'"(?:\\.|[^"\\])*"|/\*.*?\*/|//[^\n]*', re.S)
    return pat.sub(lambda m: m.group(0) if m.group(0).startswith('"') else " ", text)


def header_api(path):
    """Functions, types and SK_ constants a header declares (comments ignored)."""
    code = strip_c_comments(open(path).read())
    # "name(" outside a function-pointer typedef, whose name is followed by ")(".
    funcs = set(re.findall(r"\b(sk_[a-z0-9_]+)\s*\(", code))
    types = set(re.findall(r"\b(?:struct|enum)\s+(sk_[a-z0-9_]+)", code))
    types |= set(re.findall(r"}\s*(sk_[a-z0-9_]+)\s*;", code))
    types |= set(re.findall(r"\(\s*\*\s*(sk_[a-z0-9_]+)\s*\)\s*\(", code))
    types |= set(re.findall(r"typedef\s+[^;{]*?\b(sk_[a-z0-9_]+)\s*;", code))
    consts = {c for c in re.findall(r"\b(SK_[A-Z0-9_]+)\b", code) if not c.startswith("SK__")}
    return funcs, types, consts


def exported_functions():
    """The sk_ functions libsockkit.so exports, or None if that cannot be read here."""
    lib = os.path.join(BUILD, "libsockkit.so")
    if not shutil.which("nm") or not os.path.exists(lib):
        print("note: no nm or no", lib, "- exported symbols not compared")
        return None
    out = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True,
                         check=True).stdout
    # "sk_send_all@@SOCKKIT_0.2": the name without its symbol version
    return {f[2].split("@")[0] for f in (line.split() for line in out.splitlines())
            if len(f) == 3 and f[1] == "T" and f[2].startswith("sk_")}


def sections(page_text):
    """{".SH name": body} of a man page."""
    out, name = {}, None
    for line in page_text.splitlines():
        m = re.match(r'\.SH\s+"?([^"]+)"?\s*$', line)
        if m:
            name = m.group(1).strip()
            out[name] = ""
        elif name:
            out[name] += line + "\n"
    return out


def words(text):
    return set(re.findall(r"\b[A-Za-z_][A-Za-z0-9_]*\b", text.replace("\\f", " ")))


def groff_warnings(path, *extra):
    r = subprocess.run(["groff", "-man", "-ww", "-z", *extra, path], capture_output=True,
                       text=True)
    return (r.stdout + r.stderr).strip()


def too_wide(path):
    r = subprocess.run(["groff", "-man", "-Tutf8", "-rLL=78n", "-P-c", "-P-b", "-P-u", path],
                       capture_output=True, text=True)
    return [line for line in r.stdout.splitlines() if len(line) > 80]


def unroff(code):
    """The C text of an .EX block."""
    for a, b in (("\\e", "\\"), ("\\-", "-"), ("\\(aq", "'"), ("\\(dq", '"'), ("\\&", "")):
        code = code.replace(a, b)
    return code


def static_libs():
    """What libsockkit.a needs linked after it: the build's sockkit.pc Libs.private (-lssl
    -lcrypto -luring -pthread, as the build found them)."""
    try:
        with open(os.path.join(BUILD, "sockkit.pc")) as f:
            for line in f:
                if line.startswith("Libs.private:"):
                    return line.split(":", 1)[1].split()
    except OSError:
        pass
    return ["-pthread"]


def check_examples(page, body, tmp):
    """Compile and link each EXAMPLE program of a page."""
    cc = os.environ.get("CC") or shutil.which("cc")
    lib = os.path.join(BUILD, "libsockkit.a")
    if not cc or not os.path.exists(lib):
        print("note: no C compiler or no", lib, "- examples not compiled")
        return
    for i, block in enumerate(re.findall(r"^\.EX\n(.*?)^\.EE", body, re.S | re.M)):
        if "main(" not in block:
            continue
        src = os.path.join(tmp, f"{page}_{i}.c")
        with open(src, "w") as f:
            f.write(unroff(block))
        # a sanitizer build's library needs the sanitizer's runtime
        san = [f"-fsanitize={os.environ['SK_SANITIZE']}"] if os.environ.get("SK_SANITIZE") else []
        r = subprocess.run([cc, "-std=gnu17", "-Wall", "-Wextra", "-Wno-unused-parameter",
                            "-Werror", *san, "-I", INCLUDE, src, lib, *static_libs(), "-o",
                            src + ".out"], capture_output=True, text=True)
        check(r.returncode == 0, f"{page}: EXAMPLE {i + 1} compiles and links"
              + ("" if r.returncode == 0 else "\n" + r.stderr.strip()))


def main():
    if not shutil.which("groff"):
        skip("groff is not installed (apt-get install groff-base)")
    headers = sorted(f for f in os.listdir(os.path.join(INCLUDE, "sockkit")) if f.endswith(".h"))
    version = re.search(r'SOCKKIT_VERSION_STRING\s+"([^"]+)"',
                        open(os.path.join(INCLUDE, "sockkit.h")).read()).group(1)
    exported = exported_functions()
    tmp = tempfile.mkdtemp(prefix="sockkit-man3.")
    try:
        prefix = os.path.join(tmp, "prefix")
        subprocess.run(["cmake", "--install", BUILD, "--prefix", prefix], check=True,
                       stdout=subprocess.DEVNULL)
        man3 = [os.path.join(d, "man3") for d, subdirs, _ in os.walk(prefix) if "man3" in subdirs]
        check(len(man3) == 1, "cmake --install makes one man3 directory")
        if len(man3) != 1:
            finish()
        man3 = man3[0]
        installed = {f[:-2] for f in os.listdir(man3) if f.endswith(".3")}

        owner = {}  # function -> the page it belongs to
        declared = set()
        for h in headers:
            part = h[:-2]
            page = f"sockkit_{part}"
            path = os.path.join(PAGES, page + ".3")
            funcs, types, consts = header_api(os.path.join(INCLUDE, "sockkit", h))
            declared |= funcs
            for fn in funcs:
                owner[fn] = page
            if not ok(os.path.exists(path), f"sockkit/{h} has its page docs/man3/{page}.3"):
                continue
            text = open(path).read()
            sec = sections(text)
            syn = set(re.findall(r"\b(sk_[a-z0-9_]+)\(", sec.get("SYNOPSIS", "")))
            desc, name, everywhere = words(sec.get("DESCRIPTION", "")), words(
                sec.get("NAME", "")), words(text)
            for what, missing in (
                ("SYNOPSIS", funcs - syn),
                ("NAME", funcs - name),
                ("DESCRIPTION", funcs - desc),
                ("DESCRIPTION (types)", types - desc),
                ("the page (SK_ constants)", consts - everywhere),
                ("the alias set (no installed alias)", {f for f in funcs if f not in installed}),
            ):
                check(not missing, f"{page}: every {part}.h name is in {what}"
                      + (f"; missing: {' '.join(sorted(missing))}" if missing else ""))
            extra = syn - funcs
            check(not extra, f"{page}: SYNOPSIS declares only functions of {h}"
                  + (f"; not in the header: {' '.join(sorted(extra))}" if extra else ""))
            check(f'"sockkit {version}"' in text.splitlines()[0], f"{page}: .TH names sockkit "
                  f"{version}")
            check_examples(page, sec.get("EXAMPLE", ""), tmp)

        if exported is not None:
            missing = exported - declared
            check(not missing, f"libsockkit.so exports {len(exported)} sk_ functions, all "
                  "declared in a header" + (f"; not declared: {' '.join(sorted(missing))}"
                                            if missing else ""))
            missing = declared - exported
            check(not missing, f"{len(declared)} declared functions, all exported"
                  + (f"; not exported: {' '.join(sorted(missing))}" if missing else ""))
            for fn in exported - declared:
                owner.setdefault(fn, None)

        # The overview page.
        overview = os.path.join(PAGES, "sockkit.3")
        if ok(os.path.exists(overview), "docs/man3/sockkit.3 exists"):
            text = open(overview).read()
            see = sections(text).get("SEE ALSO", "")
            missing = [f"sockkit_{h[:-2]}" for h in headers
                       if f"sockkit_{h[:-2]} (3)" not in see]
            check(not missing, "sockkit.3 SEE ALSO lists every part's page"
                  + (f"; missing: {' '.join(missing)}" if missing else ""))
            consts = set(re.findall(r"\b(SOCKKIT_VERSION_[A-Z]+)\b",
                                    open(os.path.join(INCLUDE, "sockkit.h")).read()))
            check(consts <= words(text), "sockkit.3 names the SOCKKIT_VERSION_ macros")
            check_examples("sockkit", sections(text).get("EXAMPLE", ""), tmp)

        # Installed aliases: one per function, pointing at its own page; pages installed.
        pages = sorted(f[:-2] for f in os.listdir(PAGES) if f.endswith(".3"))
        missing = [p for p in pages if p not in installed]
        check(not missing, f"{len(pages)} pages installed into {os.path.relpath(man3, prefix)}"
              + (f"; missing: {' '.join(missing)}" if missing else ""))
        wrong, absent = [], []
        for fn, page in sorted(owner.items()):
            path = os.path.join(man3, fn + ".3")
            if not os.path.exists(path):
                absent.append(fn)
            elif page and open(path).read() != f".so man3/{page}.3\n":
                wrong.append(f"{fn} ({open(path).read().strip()!r}, want {page})")
        check(not absent, f"{len(owner)} functions, each with an installed alias"
              + (f"; missing: {' '.join(absent)}" if absent else ""))
        check(not wrong, "each alias points at its header's page"
              + (f"; wrong: {', '.join(wrong)}" if wrong else ""))
        stale = sorted(installed - set(owner) - set(pages))
        check(not stale, "no alias without a function" + (f"; stale: {' '.join(stale)}"
                                                          if stale else ""))
        if shutil.which("man"):
            env = dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat")
            env.pop("MANPATH", None)
            for fn in ("sk_send_all", "sk_server_open", "sk_errmsg"):
                r = subprocess.run(["man", "--warnings", "-M", os.path.dirname(man3), fn],
                                   capture_output=True, text=True, env=env)
                check(r.returncode == 0 and not r.stderr.strip() and fn in r.stdout,
                      f"man -M PREFIX {fn} shows its page without a warning"
                      + ("" if r.returncode == 0 and not r.stderr.strip() else
                         f": rc {r.returncode} {r.stderr.strip()}"))

        # Rendering: no groff warning, no line wider than a terminal of 80 columns.
        for p in pages:
            path = os.path.join(PAGES, p + ".3")
            w = groff_warnings(path) or groff_warnings(path, "-Tutf8", "-rLL=78n")
            check(not w, f"{p}.3: groff -man -ww prints nothing" + (f"\n{w}" if w else ""))
            wide = too_wide(path)
            check(not wide, f"{p}.3: no line wider than 80 columns"
                  + ("".join("\n  " + line for line in wide[:5]) if wide else ""))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


main()
