"""sockkit completion bash|zsh: the completions offer what --help lists, for every command and mode.

bash: the generated script is sourced in a real bash and _sockkit is called with COMP_WORDS and
COMP_CWORD set (as bash sets them: '=' is a word of its own); then a few completions are typed
into an interactive bash on a pseudo-terminal, so readline itself applies them.
zsh: `zsh -n` on the generated file, then real completion: an interactive zsh driven through
zsh's zpty module types `sockkit ... <TAB>`, with compadd wrapped so that it records the matches.
The expected sets come from --help (every command's and mode's option list, the command and mode
lists, serve's services), so --help and the completions cannot drift apart."""
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import BIN, check, finish, run  # noqa: E402

COMMANDS = {"demo", "connect", "listen", "relay", "serve", "mcast", "bench", "proto", "resolve", "ifaces",
            "completion"}
SERVICES = {"echo", "discard", "chargen", "daytime", "time", "sink", "source"}
MODELS = {"event", "iterative", "thread", "fork", "pool"}

tmp = tempfile.mkdtemp(prefix="sockkit-completion.")


# ---- what --help says ---------------------------------------------------------------------------

def help_text(path):
    rc, out, err = run([BIN] + path + ["--help"])
    check(rc == 0 and out.startswith(b"usage: sockkit"), f"{' '.join(path) or 'sockkit'} --help")
    return out.decode()


def section(text, name):
    """The lines of a '<name>:' block, up to the blank line that ends it."""
    lines = text.splitlines()
    try:
        i = lines.index(name + ":")
    except ValueError:
        return []
    block = []
    for line in lines[i + 1:]:
        if not line.strip():
            break
        block.append(line)
    return block


def help_options(text):
    """{'-c', '--connections', ...}: every option named in the 'options:' block."""
    opts = set()
    for line in section(text, "options"):
        if not line.startswith("  -"):
            continue  # a wrapped help line
        label = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
        for part in label.split(", "):
            opts.add(re.match(r"--?[A-Za-z0-9][-A-Za-z0-9]*", part).group(0))
    return opts


def help_words(text, name):
    """The first word of each entry of a 'commands:', 'modes:' or 'services:' block."""
    return {line.split()[0] for line in section(text, name) if re.match(r"  \S", line)}


root_help = help_text([])
commands = help_words(root_help, "commands")
check(commands == COMMANDS, f"sockkit --help lists every command ({sorted(commands)})")
paths, helps = [[]], {(): root_help}
for cmd in sorted(commands):
    text = help_text([cmd])
    helps[(cmd,)] = text
    paths.append([cmd])
    for mode in sorted(help_words(text, "modes")):
        helps[(cmd, mode)] = help_text([cmd, mode])
        paths.append([cmd, mode])
modes = {cmd: help_words(helps[(cmd,)], "modes") for cmd in ("bench", "mcast")}
check(modes == {"bench": {"echo", "connect", "stream", "udp", "merge"},
                 "mcast": {"send", "recv"}},
      f"bench and mcast --help list their modes ({modes})")
services = help_words(helps[("serve",)], "services")
check(services == SERVICES, f"serve --help lists the services ({sorted(services)})")
for path in paths:
    check(help_options(helps[tuple(path)]) >= {"-h", "--help"},
          f"{' '.join(path) or 'sockkit'} --help lists -h, --help")

# Every listed service and model is one that serve takes: the endpoint is the first thing wrong.
for svc in sorted(SERVICES):
    rc, _, err = run([BIN, "serve", svc, "127.0.0.1:99999"])
    check(rc == 2 and "99999" in err, f"serve takes the service {svc} ({err.strip()})")
for model in sorted(MODELS):
    rc, _, err = run([BIN, "serve", "--model", model, "echo", "127.0.0.1:99999"])
    check(rc == 2 and "99999" in err, f"serve takes --model {model} ({err.strip()})")

# ---- bash: _sockkit with COMP_WORDS -------------------------------------------------------------

bash_file = os.path.join(tmp, "sockkit.bash")
rc, out, err = run([BIN, "completion", "bash"])
check(rc == 0 and out.startswith(b"# bash completion"), "sockkit completion bash")
with open(bash_file, "wb") as f:
    f.write(out)
rc = subprocess.run(["bash", "-n", bash_file]).returncode
check(rc == 0, "bash -n on the generated script")

BASH_CALL = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _sockkit; '
             'printf "%s\\n" "${COMPREPLY[@]}"')


def bash_complete(*words):
    """COMPREPLY for `sockkit WORDS...`, the last word being the one completed."""
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", BASH_CALL, "bash", bash_file,
                        "sockkit"] + list(words), capture_output=True, text=True, timeout=30)
    if p.returncode or p.stderr:
        print(f"bash: {words}: exit {p.returncode}: {p.stderr.strip()}")
    return {w for w in p.stdout.split("\n") if w}


got = bash_complete("")
check(got == COMMANDS, f"bash: position 1 offers every command ({sorted(got)})")
got = bash_complete("bench", "echo", "-")
want = help_options(helps[("bench", "echo")])
check({w for w in got if "=" not in w} == want and len(want) >= 20,
      f"bash: every option of 'bench echo --help' ({sorted(got ^ want)} differ)")
for cmd in ("bench", "mcast"):
    got = bash_complete(cmd, "")
    check(got == modes[cmd], f"bash: the modes of {cmd} ({sorted(got)})")
got = bash_complete("serve", "")
check(got == SERVICES, f"bash: serve's services ({sorted(got)})")
got = bash_complete("serve", "--model", "")
check(got == MODELS, f"bash: serve --model's values ({sorted(got)})")
got = bash_complete("serve", "--accept", "h")
check(got == {"handoff"}, f"bash: serve --accept h -> handoff ({sorted(got)})")

# Every command and mode: the options --help lists are the options completion offers.
for path in paths:
    got = bash_complete(*path, "-")
    want = help_options(helps[tuple(path)])
    plain = {w for w in got if "=" not in w}
    check(plain == want, f"bash: '{' '.join(['sockkit'] + path)} -' offers the options of its "
          f"--help (differ: {sorted(plain ^ want)})")
    if "--trace" in want:
        check({"--trace=calls", "--trace=data"} <= got, f"bash: {path}: --trace=calls|data")

# '=' arrives as a word of its own; option values are not positional arguments.
cases = [
    (["serve", "--model", "=", "it"], {"iterative"}),
    (["serve", "--model", "="], MODELS),
    (["demo", "--trace", "=", ""], {"calls", "data"}),
    (["connect", "--trace", ""], set()),  # --trace's value is optional: only after '='
    (["serve", "--model", "event", ""], SERVICES),
    (["serve", "--model", "=", "event", ""], SERVICES),
    (["serve", "echo", ""], set()),  # then an ENDPOINT, not another service
    (["bench", "echo", ""], set()),
    (["mcast", "send", "--ttl", "3", "--no-l"], {"--no-loop"}),
    (["completion", ""], {"bash", "zsh"}),
]
for words, want in cases:
    got = bash_complete(*words)
    check(got == want, f"bash: sockkit {' '.join(words)!r}<TAB> -> {sorted(got)}")


# ---- bash: readline on a pseudo-terminal --------------------------------------------------------

def read_until(fd, needle, timeout=20):
    """Read from fd until needle (bytes) appears; returns what was read, or None at timeout."""
    buf, end = b"", time.time() + timeout
    while needle not in buf and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            buf += data
    return buf if needle in buf else None


def readline_complete(typed):
    """Type `typed`, a TAB, then Enter, into an interactive bash; what sockkit (a shell function
    that prints its arguments) was called with."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm"
        os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])
    try:
        # The prompt marks readline as reading: typed before it, the line discipline would
        # take TAB as a tab.
        os.write(fd, f"source {bash_file}; sockkit() {{ echo \"ARGS<$*>\"; }}; "
                     f"bind 'set bell-style none'; PS1='RL''READY> '\n".encode())
        if read_until(fd, b"RLREADY> ") is None:
            return "(no prompt)"
        os.write(fd, typed.encode() + b"\t\n")
        out = read_until(fd, b">\r\n")
        os.write(fd, b"exit\n")
        m = re.search(rb"ARGS<([^>]*)>\r\n", out or b"")
        return m.group(1).decode() if m else f"(nothing: {out!r})"
    finally:
        os.close(fd)
        os.waitpid(pid, 0)


for typed, want in (("sockkit bench ech", "bench echo"),
                    ("sockkit serve --model=it", "serve --model=iterative"),
                    ("sockkit demo --trace=c", "demo --trace=calls"),
                    ("sockkit mcast send --no-l", "mcast send --no-loop")):
    got = readline_complete(typed)
    check(got == want, f"bash readline: {typed!r}<TAB> runs 'sockkit {got}'")

# ---- zsh ----------------------------------------------------------------------------------------

# The driver: an interactive `zsh -f` on a zpty, completion set up as a user would (fpath +
# compinit, or compinit + source), compadd wrapped to append each match to $OUT. Each case waits
# until zle reads (zle-line-init prints ZLE-ON), types the line and a TAB, then clears the line.
ZSH_DRIVER = r"""
zmodload zsh/zpty || exit 3
dir=$1 how=$2; shift 2
zpty -b sk env TERM=xterm zsh -f -i
# Nothing is typed before the first prompt: zsh throws away what was typed ahead of its line
# editor, and on a busy machine the first lines then vanished and the driver waited forever.
zpty -r sk got '*[%#] '
print -u2 "prompt seen"
# A long list of matches must not ask "do you wish to see all N possibilities?": on a busy
# machine the question came after the next keys were typed and took one of them as its answer.
zpty -w sk "LISTMAX=1000000"
zpty -w sk "zle-line-init() { print -n ZLE-ON }; zle -N zle-line-init"
if [[ $how == fpath ]]; then
  zpty -w sk "fpath=($dir \$fpath); autoload -Uz compinit; compinit -u -D"
else
  zpty -w sk "autoload -Uz compinit; compinit -u -D; source $dir/_sockkit"
fi
zpty -w sk 'compadd() { if (( ${@[(I)-[ODA]*]} )); then builtin compadd "$@"; return; fi;'\
' local -a m; builtin compadd -O m "$@"; print -rl -- $m >> $OUT; builtin compadd "$@"; }'
n=0
for line in "$@"; do
  (( n++ ))
  zpty -w sk "OUT=$dir/out$n; : > \$OUT; print READY\$((1000+$n))"
  zpty -r sk got "*READY$((1000+n))*ZLE-ON*"
  print -u2 "case $n: ready"
  zpty -n -w sk "$line"$'\t'
  zpty -n -w sk $'\C-u'
  zpty -w sk "print DONE\$((1000+$n))"
  zpty -r sk got "*DONE$((1000+n))*"
  print -u2 "case $n: done"
done
zpty -d sk
"""


def zsh_complete(how, lines):
    """The matches zsh's completion offers for each line ('sockkit bench echo -'), as sets."""
    d = tempfile.mkdtemp(dir=tmp)
    shutil.copy(os.path.join(tmp, "_sockkit"), d)
    driver = os.path.join(d, "drive.zsh")
    with open(driver, "w") as f:
        f.write(ZSH_DRIVER)
    try:
        p = subprocess.run(["zsh", "-f", driver, d, how] + lines, capture_output=True, text=True,
                           timeout=120)
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr
        print(f"zsh driver: timed out; its progress: {(err or '').strip()!r}")
        return [set() for _ in lines]
    if p.returncode:
        print(f"zsh driver: exit {p.returncode}: {p.stderr.strip()}")
    got = []
    for i in range(1, len(lines) + 1):
        try:
            with open(os.path.join(d, f"out{i}")) as f:
                got.append({w for w in f.read().split("\n") if w})
        except FileNotFoundError:
            got.append(set())
    return got


rc, out, _ = run([BIN, "completion", "zsh"])
check(rc == 0 and out.startswith(b"#compdef sockkit"), "sockkit completion zsh")
with open(os.path.join(tmp, "_sockkit"), "wb") as f:
    f.write(out)
if not shutil.which("zsh"):
    print("SKIP zsh checks: zsh is not installed (scripts/deps.sh test installs it)")
else:
    rc = subprocess.run(["zsh", "-n", os.path.join(tmp, "_sockkit")]).returncode
    check(rc == 0, "zsh -n on the generated file")
    if subprocess.run(["zsh", "-fc", "zmodload zsh/zpty"]).returncode:
        print("SKIP zsh completion checks: no zsh/zpty module")
    else:
        cases = [("sockkit ", COMMANDS), ("sockkit bench ", modes["bench"]),
                 ("sockkit mcast ", modes["mcast"]), ("sockkit serve ", SERVICES),
                 ("sockkit serve --model ", MODELS), ("sockkit serve --model=", MODELS),
                 ("sockkit serve --model=it", {"iterative"}),
                 ("sockkit demo --trace=", {"calls", "data"}),
                 ("sockkit completion ", {"bash", "zsh"})]
        for path in paths:
            cases.append((" ".join(["sockkit"] + path + ["-"]), help_options(helps[tuple(path)])))
        got = zsh_complete("fpath", [c[0] for c in cases])
        for (line, want), g in zip(cases, got):
            check(g == want, f"zsh: {line!r}<TAB> offers {sorted(want)[:6]}... "
                  f"(differ: {sorted(g ^ want)})")
        # Sourced after compinit instead of autoloaded from fpath (docs/cli.md's quick try).
        cases = [("sockkit bench ", modes["bench"]),
                 ("sockkit bench echo -", help_options(helps[("bench", "echo")]))]
        got = zsh_complete("source", [c[0] for c in cases])
        for (line, want), g in zip(cases, got):
            check(g == want, f"zsh, sourced: {line!r}<TAB> (differ: {sorted(g ^ want)})")

shutil.rmtree(tmp, ignore_errors=True)
finish()
