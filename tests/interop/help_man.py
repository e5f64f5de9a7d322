"""docs/sockkit.1 against --help: for every command and mode (`sockkit --help` lists the commands,
each command's --help its modes), the options its --help lists are exactly the options the man
page documents for it, so the two cannot drift apart.

The man page is read as roff: the root's options are the tags of `.SH OPTIONS`; under
`.SH COMMANDS` each `.SS NAME` (or `.SS "NAME, NAME"` for modes that share a table) is a command
or mode, its options the tag line after each `.TP` and the text after its "Common options:" line
(the shared options it takes, described once under COMMON OPTIONS, whose tags say which short
and long forms go together: "-h" there stands for "-h, --help"). With groff installed the page
must also format without a warning and fit 80 columns."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import BIN, SRC, check, finish, run  # noqa: E402

MAN = os.path.join(SRC, "docs", "sockkit.1")
OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z0-9][-A-Za-z0-9]*)")


def help_text(path):
    rc, out, _ = run([BIN] + path + ["--help"])
    check(rc == 0, f"sockkit {' '.join(path)} --help exits 0")
    return out.decode()


def block(text, name):
    lines = text.splitlines()
    if name + ":" not in lines:
        return []
    out = []
    for line in lines[lines.index(name + ":") + 1:]:
        if not line.strip():
            break
        out.append(line)
    return out


def help_options(text):
    opts = set()
    for line in block(text, "options"):
        if line.startswith("  -"):
            label = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
            for part in label.split(", "):
                opts.add(OPTION.match(part).group(1))
    return opts


def help_words(text, name):
    return [line.split()[0] for line in block(text, name) if re.match(r"  \S", line)]


def deroff(line):
    """The text of a roff line: no request name, no font escapes, \\- as -, no quotes."""
    line = re.sub(r"^\.[A-Z]{1,2}\s?", "", line)
    line = re.sub(r"\\f[BIRP]|\\f\(..|\\&", "", line)
    return line.replace("\\-", "-").replace('"', " ")


def man_sections(path):
    """{command path: set of options} from the man page."""
    with open(path) as f:
        lines = f.read().splitlines()
    sections, current, sh, groups = {}, None, None, []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(".SH "):
            sh = line[4:].strip().strip('"')
            current = "" if sh == "OPTIONS" else None
            if current is not None:
                sections[current] = set()
        elif line.startswith(".SS ") and sh == "COMMANDS":
            names = [n.strip() for n in line[4:].strip().strip('"').split(",")]
            current = tuple(names)
            for n in names:
                sections[n] = set()
        elif sh == "COMMON OPTIONS" and line == ".TP" and i + 1 < len(lines):
            groups.append(set(OPTION.findall(deroff(lines[i + 1]))))
            i += 1
        elif current is not None and line == ".TP" and i + 1 < len(lines):
            tag = OPTION.findall(deroff(lines[i + 1]))
            for n in (current if isinstance(current, tuple) else (current,)):
                sections[n].update(tag)
            i += 1
        elif current is not None and line.startswith("Common options:"):
            text = deroff(line[len("Common options:"):])
            while i + 1 < len(lines) and not re.match(r"\.(TP|PP|SS|SH)\b", lines[i + 1]):
                i += 1
                text += " " + deroff(lines[i])
            named = set(OPTION.findall(text))
            for g in groups:
                if g & named:
                    named |= g
            for n in (current if isinstance(current, tuple) else (current,)):
                sections[n].update(named)
        i += 1
    return sections


man = man_sections(MAN)
root = help_text([])
paths = [[]]
for cmd in help_words(root, "commands"):
    paths.append([cmd])
    for mode in help_words(help_text([cmd]), "modes"):
        paths.append([cmd, mode])
check(len(paths) > 12, f"every command and mode found ({len(paths)})")
for path in paths:
    name = " ".join(path)
    documented = man.get(name)
    if documented is None:
        check(False, f"sockkit.1 has a section for '{name or 'sockkit'}'")
        continue
    listed = help_options(help_text(path))
    missing, extra = sorted(listed - documented), sorted(documented - listed)
    check(not missing and not extra,
          f"'{name or 'sockkit'}': the man page documents the options --help lists "
          f"(not in the man page: {missing}; not in --help: {extra})")
known = {" ".join(p) for p in paths}
check(set(man) <= known, f"no man section for a command that is not there ({sorted(set(man) - known)})")

with open(MAN) as f:
    page = f.read()
for cmd in help_words(root, "commands"):
    check(re.search(rf"^\.B sockkit {cmd}\b", page, re.M) is not None,
          f"SYNOPSIS names 'sockkit {cmd}'")

if shutil.which("groff"):
    r = subprocess.run(["groff", "-man", "-ww", "-z", MAN], capture_output=True, text=True)
    check(not (r.stdout + r.stderr).strip(), f"groff -man -ww: no warning ({r.stderr.strip()[:300]})")
    r = subprocess.run(["groff", "-man", "-Tutf8", "-rLL=78n", "-P-c", "-P-b", "-P-u", MAN],
                       capture_output=True, text=True)
    wide = [line for line in r.stdout.splitlines() if len(line) > 80]
    check(not wide, f"the page fits 80 columns ({wide[:3]})")
else:
    print("SKIP the groff checks: no groff (groff-base)")
finish()
