"""Argument fuzzing of every sockkit subcommand: hundreds of malformed argument vectors each, made
from a fixed random seed (the same vectors every run) plus hand-picked nasty ones (empty strings,
huge and negative numbers, control characters, very long strings, missing values, unknown options,
bogus endpoints). Each runs with stdin from /dev/null and a time limit, and must end by itself with
exit status 1 or 2, exactly one line on stderr and nothing on stdout: never a signal, never a hang,
never a second line.

No vector may start a server that serves forever, so every random vector carries at least one
definite mistake (an unknown option, a bad value, a missing value, a bogus or surplus argument, a
flag the subcommand refuses) and, as a second guard, every endpoint in it is one this test holds:
ports and Unix names already bound here (a listen fails to bind), or a port bound but not listening
and a Unix path that does not exist (a connect is refused).

SK_FUZZ_N sets the random vectors per subcommand (default 200, or 100 in a sanitizer build, where
each run costs several times more); SK_FUZZ_JOBS the parallel runs (default 4); SK_FUZZ_SEED the
seed (default 13)."""
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import BIN, check, finish  # noqa: E402

SANITIZED = bool(os.environ.get("SK_SANITIZE"))
N = int(os.environ.get("SK_FUZZ_N", "100" if SANITIZED else "200"))
JOBS = int(os.environ.get("SK_FUZZ_JOBS", "4"))
SEED = int(os.environ.get("SK_FUZZ_SEED", "13"))
LIMIT = 8.0  # seconds a vector may take; an error exit takes milliseconds

TMP = tempfile.mkdtemp(prefix="sockkit-fuzz-")
held = []


def hold_port():
    """A port bound on every address for TCP (listening) and UDP: any listen or bind there fails."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        t.bind(("::", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        try:
            u.bind(("::", port))
        except OSError:
            t.close()
            u.close()
            continue
        t.listen(1)
        held.extend([t, u])
        return port
    raise RuntimeError("no port free for both TCP and UDP")


def refused_port():
    """A port bound on loopback but not listening: a TCP connect there is refused."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", 0))
    held.append(s)
    return s.getsockname()[1]


def hold_unix(name):
    """A Unix name bound for stream (listening) and datagram sockets."""
    for typ in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_UNIX, typ)
        s.bind(name)
        if typ == socket.SOCK_STREAM:
            s.listen(64)
        held.append(s)
        if not name.startswith("\0"):
            break  # a path is taken for every type at once


def drain_held():
    """Accept and close whatever reaches a held listener (a stale-socket probe, say), so that its
    backlog never fills and a blocking connect to it never waits."""
    import select
    while True:
        listeners = [s for s in held if s.type == socket.SOCK_STREAM and s.fileno() >= 0]
        try:
            ready, _, _ = select.select(listeners, [], [], 0.2)
        except (OSError, ValueError):
            return
        for s in ready:
            try:
                s.accept()[0].close()
            except OSError:
                pass


HP = hold_port()
RP = refused_port()
LPATH = os.path.join(TMP, "held.sock")  # bound: listen fails
CPATH = os.path.join(TMP, "absent.sock")  # does not exist: connect fails
LABS = f"sockkit-fuzz-held-{os.getpid()}"
CABS = f"sockkit-fuzz-absent-{os.getpid()}"
hold_unix(LPATH)
hold_unix("\0" + LABS)
# serve's default ports (7000 + the RFC port): held too, in case a vector lacks an endpoint
for default in (7007, 7009, 7013, 7019, 7037):
    for typ in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, typ)
        try:
            s.bind(("127.0.0.1", default))
            if typ == socket.SOCK_STREAM:
                s.listen(1)
            held.append(s)
        except OSError:
            s.close()  # someone else holds it: a bind there fails just the same

threading.Thread(target=drain_held, daemon=True).start()

LONG = "x" * 100000
NASTY_TEXT = ["", " ", "-", "--", "\n", "\r\n", "\t", "\x01", "\x1b[2J\x1b[31m", "\x7f",
              "\u202e", "\xff", "%s%n%x", "'\"", "\\", "a\nb", LONG, "\u00e9t\u00e9"]
BOGUS_ENDPOINTS = ["[::1", "unix:", ":99999", "host:port:extra", "", "[::1]:", "[]:80",
                   "1.2.3.4:65536", "127.0.0.1:-1", "[::1]:99999", "\n", "\x01:1",
                   "unix:" + "p" * 200, "[fe80::1%nosuchif0]:80", "127.0.0.1:1:2", "[::1]x:80",
                   "unix:@", "127.0.0.1:", "[127.0.0.1]:80", "1.2.3.4:http-nonexistent-svc",
                   "999.1.1.1:80", "[::1]:80]", "\x1b[31m:80", LONG + ":80", "\u202e:80"]
BAD_SECONDS = ["", "-1", "abc", "1e999", "nan", "inf", "-inf", "99999999999", "1s", "0x", "\n",
               "--", "-", "1,5", LONG, "\x01"]
BAD_INT = ["", "-1", "abc", "99999999999999999999", "1.5", "0x10", "1e3", "\n", "--", LONG,
           "\x01", "-99999999999999999999"]
# rates take fractions and the suffixes k, M, G (1.5k, 2M), so "1.5" and "1e3" are good ones
BAD_RATE = ["", "-1", "abc", "1e999", "nan", "inf", "-inf", "0x10", "1s", "5x", "1.5Ki", "1,5",
            "\n", "--", LONG, "\x01", "-99999999999999999999"]

# What each subcommand takes. flags: options without a value. valued: option -> (harmless valid
# values, definitely bad values). short: its short option letters. eps: endpoints it may get.
COMMON_SECONDS = (["0.5", "1"], BAD_SECONDS + ["0"])
NC_EPS_CONNECT = [f"127.0.0.1:{RP}", f"[::1]:{RP}", f"localhost:{RP}", f"unix:{CPATH}",
                  f"unix:@{CABS}", ("127.0.0.1", str(RP)), ("::1", str(RP))]
NC_EPS_LISTEN = [f"127.0.0.1:{HP}", f"[::1]:{HP}", f":{HP}", f"*:{HP}", str(HP),
                 ("127.0.0.1", str(HP)), f"unix:{LPATH}", f"unix:@{LABS}"]
TRACE_FILE = (["trace.log"], ["", "/nonexistent-dir/trace.log"])  # bad: exit 2, as --pcap
SPECS = {
    "connect": dict(
        prefix=["connect"], short="46uUnkvzlNhw:s:p:e:",
        flags=["-u", "-4", "-6", "-N", "-n", "-v", "-z"],
        valued={"-w": COMMON_SECONDS, "-s": (["127.0.0.1"], ["[::1", ":99999", "1.2.3.4:65536",
                                                              "[x]:0", "\n", "127.0.0.1:1:2"]),
                "-p": (["0"], ["", "-1", "65536", "http", "\n", "1.5"]),
                "--trace-file": TRACE_FILE},
        refused=[["-k"], ["-l"], ["--exec", "cat"], ["-e", "cat"], ["--max-children", "1"],
                 ["-z", "-u"]],
        eps=NC_EPS_CONNECT, npos=(1, 1),
        longs=["help", "verbose", "exec", "max-children", "trace", "trace-file"]),
    "listen": dict(
        prefix=["listen"], short="46uUnlkvzNhw:s:p:e:",
        flags=["-u", "-4", "-6", "-N", "-n", "-l", "-v", "-k"],
        valued={"-w": COMMON_SECONDS, "--exec": (["cat", "true"], []),
                "-p": ([str(HP)], ["", "-1", "65536", "http", "\n", "1.5"]),
                "--trace-file": TRACE_FILE},
        refused=[["-z"], ["-u", "--exec", "cat"], ["--max-conns", "1"], ["--max-children", "1"]],
        eps=NC_EPS_LISTEN, npos=(1, 1),
        longs=["help", "verbose", "exec", "max-children", "max-conns", "trace", "trace-file"]),
    "serve": dict(
        prefix=["serve"], short="uvh",
        flags=["-u", "-v"],
        valued={"--model": (["event", "iterative", "thread", "fork", "pool"],
                            ["", "events", "EVENT", "\n", LONG]),
                "--workers": (["1", "2"], BAD_INT + ["0", "1025"]),
                "--accept": (["reuseport", "handoff"], ["", "both", "\x01"]),
                "--high-water": (["65536"], BAD_INT + ["0", "1023"]),
                "--max-conns": (["10"], BAD_INT + ["0"]),
                "--idle-timeout": (["1"], BAD_SECONDS + ["0"]),
                "--trace-file": TRACE_FILE},
        refused=[],
        eps=[f"127.0.0.1:{HP}", f"[::1]:{HP}", f":{HP}", f"unix:{LPATH}", f"unix:@{LABS}"],
        services=["echo", "discard", "chargen", "daytime", "time", "sink", "source"],
        npos=(2, 2), longs=["help", "verbose", "model", "workers", "accept", "high-water",
                            "max-conns", "idle-timeout", "send-timeout", "trace", "trace-file"]),
    "mcast send": dict(
        prefix=["mcast", "send"], short="d:i:vqh",
        flags=["--loop", "--no-loop", "-v", "-q", "--json", "--json-lines"],
        valued={"--iface": (["lo", "1"], ["nosuchif0", "\n", "99999", LONG]),
                "--ttl": (["1", "2"], BAD_INT + ["0", "256"]),
                "--rate": (["10", "1.5k", "0.5"], BAD_RATE + ["10000001", "11M"]),
                "--count": (["1"], BAD_INT + ["0"]),
                "--size": (["64"], BAD_INT + ["27", "65508"]),
                "-d": (["0.5"], BAD_SECONDS),
                "-i": (["0.5"], BAD_SECONDS + ["0", "0.05"]),
                "--trace-file": TRACE_FILE},
        refused=[["-v", "-q"], ["--json", "--json-lines"], ["--test-skip", "1"], ["-s", "64"]],
        eps=[f"239.255.0.1:{HP}", f"[ff15::1]:{HP}"],
        nonmcast=[f"127.0.0.1:{HP}", f"10.0.0.1:{HP}", f"[::1]:{HP}"],
        npos=(1, 1), longs=["iface", "ttl", "loop", "no-loop", "rate", "count", "size", "duration",
                            "interval", "json", "json-lines", "verbose", "quiet", "trace",
                            "trace-file", "help"]),
    "mcast recv": dict(
        prefix=["mcast", "recv"], short="d:i:vqh",
        flags=["--json", "--json-lines", "--stats", "-v", "-q"],
        valued={"--iface": (["lo"], ["nosuchif0", "\n", "99999", LONG]),
                "--count": (["1"], BAD_INT + ["0"]),
                "-d": (["0.5"], BAD_SECONDS),
                "-i": (["0.5"], BAD_SECONDS + ["0", "0.05"]),
                "--trace-file": TRACE_FILE},
        refused=[["--source", "127.0.0.1"],  # any-source groups only below: SSM needs 232/8
                 ["-v", "-q"], ["--json", "--json-lines"]],
        eps=[f"239.255.0.1:{HP}", f"[ff15::1]:{HP}"],
        nonmcast=[f"127.0.0.1:{HP}", f"10.0.0.1:{HP}", f"[::1]:{HP}"],
        npos=(1, 3), maxpos=16,
        longs=["iface", "source", "count", "duration", "interval", "json", "json-lines", "stats",
               "verbose", "quiet", "trace", "trace-file", "help"]),
}
# bench: each mode its own table (-t is time, as iperf3's; -s, -w and -p are refused: nc's)
BENCH_COMMON = dict(
    valued={"-c": (["1", "2"], BAD_INT + ["0", "100001"]),
            "-P": (["1"], BAD_INT + ["0"]),
            "-d": (["0.5"], BAD_SECONDS + ["0"]),
            "-t": (["0.5"], BAD_SECONDS + ["0"]),
            "--warmup": (["0"], BAD_SECONDS),
            "--size": (["64"], BAD_INT + ["0"]),
            "-i": (["0.5"], BAD_SECONDS + ["0", "0.05"]),
            "--trace-file": TRACE_FILE},
    flags=["--json", "--json-lines", "-q", "-v"],
    eps=[f"127.0.0.1:{RP}", f"[::1]:{RP}", f"unix:{CPATH}"], npos=(1, 1),
    longs=["connections", "parallel", "size", "duration", "time", "warmup", "interval", "json",
           "json-lines", "verbose", "quiet", "trace", "trace-file", "help"])
for mode, extra_valued, extra_flags, extra_longs, refused in (
        ("echo", {"--threads": (["1"], BAD_INT + ["0", "257"]),
                  "--pipeline": (["1"], BAD_INT + ["0", "1025"]), "--svg": (["out.svg"], []),
                  "--hdr-log": (["out.hdr"], [])},
         ["--no-chart"], ["threads", "pipeline", "svg", "no-chart", "hdr-log"],
         [["-R"], ["-s", "64"]]),
        ("connect", {"--svg": (["out.svg"], []), "--hdr-log": (["out.hdr"], [])}, ["--no-chart"],
         ["svg", "no-chart", "hdr-log"], [["--threads", "2"], ["--pipeline", "2"], ["-w", "1"]]),
        ("stream", {}, ["-R", "--reverse"], ["reverse"],
         [["--svg", "out.svg"], ["--no-chart"], ["--pipeline", "2"], ["-p", "3"],
          ["--hdr-log", "out.hdr"]])):
    SPECS["bench " + mode] = dict(
        prefix=["bench", mode], short="c:P:d:t:i:vqhswpR",
        flags=BENCH_COMMON["flags"] + extra_flags,
        valued={**BENCH_COMMON["valued"], **extra_valued},
        refused=refused + [["-v", "-q"], ["--json", "--json-lines"]],
        eps=BENCH_COMMON["eps"], npos=(1, 1), longs=BENCH_COMMON["longs"] + extra_longs)
SPECS["bench udp"] = dict(
    prefix=["bench", "udp"], short="d:t:i:vqhs",
    flags=["--recv", "--json", "--json-lines", "-q", "-v"],
    valued={"--size": (["64"], BAD_INT + ["0", "27", "65508"]),
            "-d": (["0.5"], BAD_SECONDS + ["0"]),
            "-i": (["0.5"], BAD_SECONDS + ["0"]),
            "--rate": (["10", "1.5k"], BAD_RATE + ["100000001", "1G"])},
    refused=[["--recv", "--rate", "10"], ["--recv", "--size", "64"], ["-s", "64"]],
    eps=[f"127.0.0.1:{HP}", f"[::1]:{HP}"],
    npos=(1, 1), longs=["size", "duration", "time", "rate", "recv", "interval", "json",
                        "json-lines", "verbose", "quiet", "trace", "trace-file", "help"])


def unknown_long(rng, longs):
    """A --option that is neither a long option nor an abbreviation of one."""
    while True:
        name = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz-_0\x01\n\u00e9") for _ in
                       range(rng.randint(1, 12)))
        if not any(full.startswith(name) for full in longs) and not name.startswith("-"):
            return "--" + name + (rng.choice(["", "=", "=1", "=\n"]))


def unknown_short(rng, short):
    pool = [c for c in "abeflmnoryABCDEFGHIJKLMOPQRSTVWXYZ0123456789!@#%^&*+,.?/~\x01\x7f\u00e9"
            if c not in short]
    flags = [c for i, c in enumerate(short) if c.isalpha() and c != "h" and
             (i + 1 >= len(short) or short[i + 1] != ":")]
    bad = rng.choice(pool)
    if flags and rng.random() < 0.4:  # inside a group: -vX or -Xv
        f = rng.choice(flags)
        return "-" + (f + bad if rng.random() < 0.5 else bad + f)
    return "-" + bad


def endpoint(rng, spec, use_bogus=False):
    if use_bogus:
        return [rng.choice(BOGUS_ENDPOINTS + NASTY_TEXT)]
    ep = rng.choice(spec["eps"])
    return list(ep) if isinstance(ep, tuple) else [ep]


def mutate(rng, text):
    """text with one to three random edits (characters that matter to endpoint parsers)."""
    chars = ":[]@%/*.0123456789abf \x01\n-"
    t = list(text)
    for _ in range(rng.randint(1, 3)):
        i = rng.randint(0, len(t))
        op = rng.choice(["insert", "delete", "replace"])
        if op == "insert" or not t:
            t.insert(i, rng.choice(chars))
        elif op == "delete":
            del t[min(i, len(t) - 1)]
        else:
            t[min(i, len(t) - 1)] = rng.choice(chars)
    return "".join(t)


def positionals(rng, name, spec, npos):
    """npos positional arguments for the subcommand, all from the held/refused pools."""
    if name == "serve":
        out = [rng.choice(spec["services"])]
        return out + endpoint(rng, spec) if npos >= 2 else out
    out = []
    for _ in range(npos):
        out += endpoint(rng, spec)
    if name in ("connect", "listen") and len(out) > 2:
        out = out[:2]
    return out


def valid_group(rng, spec):
    """One valid option (with its value if it takes one), as a list of arguments."""
    opts = spec["flags"] + list(spec["valued"])
    o = rng.choice(opts)
    if o not in spec["valued"]:
        return [o]
    value = rng.choice(spec["valued"][o][0])
    if rng.random() < 0.8:
        return [o, value]
    return [o + "=" + value] if o.startswith("--") else [o + value]  # --opt=V, -oV


def mistake(rng, name, spec):
    """(kind, arguments) of one definite mistake for this subcommand."""
    kinds = ["unknown-long", "unknown-short", "bad-value", "bad-trace", "missing-value"]
    if spec["refused"]:
        kinds.append("refused")
    if "nonmcast" in spec:
        kinds.append("nonmcast")
    bad_valued = [o for o, (_, bad) in spec["valued"].items() if bad]
    kind = rng.choice(kinds)
    if kind == "unknown-long":
        return kind, [unknown_long(rng, spec["longs"])]
    if kind == "unknown-short":
        return kind, [unknown_short(rng, spec["short"])]
    if kind == "bad-value" and bad_valued:
        o = rng.choice(bad_valued)
        v = rng.choice(spec["valued"][o][1])
        if o.startswith("--") and rng.random() < 0.3:
            return kind, [o + "=" + v]
        return kind, [o, v]
    if kind == "bad-trace" and "trace" in spec["longs"]:
        return kind, ["--trace=" + rng.choice(["", "bogus", "DATA", "call", "data ", "\n", LONG,
                                                "calls,data", "1"])]
    if kind == "refused":
        return kind, list(rng.choice(spec["refused"]))
    if kind == "nonmcast":
        return kind, [rng.choice(spec["nonmcast"])]
    o = rng.choice([o for o in spec["valued"]])
    return "missing-value", [o]  # placed last by the caller


def random_vector(rng, name, spec):
    groups = [valid_group(rng, spec) for _ in range(rng.randint(0, 4))]
    lo, hi = spec["npos"]
    shape = rng.choice(["ok", "ok", "ok", "none", "extra", "bogus"])
    prefix = list(spec["prefix"])
    if shape == "none":
        pos = []
    elif shape == "extra":
        extra = spec.get("maxpos", hi) + 1
        pos = positionals(rng, name, spec, hi) + ["surplus"] * (extra - hi + (name == "serve"))
        if name in ("connect", "listen"):
            pos = positionals(rng, name, spec, 1) + ["a", "b", "c"][: rng.randint(2, 3)]
    elif shape == "bogus":
        pos = ([rng.choice(spec["services"])] if name == "serve" else []) + \
            endpoint(rng, spec, use_bogus=True)
    else:
        pos = positionals(rng, name, spec, rng.randint(lo, hi))
        if rng.random() < 0.3:  # a near miss: the parsers see every odd corner
            i = rng.randrange(len(pos))
            pos[i] = mutate(rng, pos[i])
    kind, err = mistake(rng, name, spec)
    items = groups + [[p] for p in pos]
    rng.shuffle(items)
    if kind == "missing-value":
        items.append(err)
    else:
        items.insert(rng.randint(0, len(items)), err)
    # nothing that asks for help or stops option parsing by accident
    args = [a for g in items for a in g]
    return prefix + args, shape, kind


# Vectors valid as typed that must fail when run: every endpoint is held (listen, serve, the
# receivers) or refused (connect, bench). No -u for connect (a UDP "connect" to a closed port
# succeeds and waits for replies), no -U for listen (it would serve on a path made from the
# endpoint's text).
RUNTIME = {
    "connect": dict(prefix=["connect"], flags=["-4", "-6", "-N", "-v", "-z"],
                    valued={"-w": ["0.5", "2"], "-s": ["127.0.0.1", "::1", "localhost"],
                            "--trace-file": ["trace.log"]},
                    eps=[e for e in NC_EPS_CONNECT]),
    "listen": dict(prefix=["listen"], flags=["-u", "-4", "-6", "-N", "-v", "-k"],
                   valued={"-w": ["0.5", "2"], "--exec": ["cat"], "--trace-file": ["trace.log"]},
                   eps=NC_EPS_LISTEN),
    "serve": dict(prefix=["serve"], flags=["-u", "-v"],
                  valued={k: v[0] for k, v in SPECS["serve"]["valued"].items()},
                  eps=SPECS["serve"]["eps"], services=SPECS["serve"]["services"]),
    "mcast recv": dict(prefix=["mcast", "recv"], flags=["--json", "--stats", "-v"],
                       valued={"--iface": ["lo"], "--count": ["1"], "--duration": ["0.5"],
                               "-i": ["0.5"]},
                       eps=SPECS["mcast recv"]["eps"]),
    **{"bench " + m: dict(prefix=["bench", m], flags=SPECS["bench " + m]["flags"],
                          valued={k: v[0] for k, v in SPECS["bench " + m]["valued"].items()},
                          eps=SPECS["bench " + m]["eps"]) for m in ("echo", "connect", "stream")},
    "bench udp": dict(prefix=["bench", "udp", "--recv"], flags=["--json", "--json-lines", "-q", "-v"],
                      valued={"-d": ["0.5"], "-i": ["0.5"]}, eps=SPECS["bench udp"]["eps"]),
}


def runtime_vector(rng, name, spec):
    items = []
    for _ in range(rng.randint(0, 4)):
        o = rng.choice(spec["flags"] + list(spec["valued"]))
        items.append([o, rng.choice(spec["valued"][o])] if o in spec["valued"] else [o])
    ep = rng.choice(spec["eps"])
    ep = list(ep) if isinstance(ep, tuple) else [ep]
    if name == "serve":
        ep = [rng.choice(spec["services"])] + ep
    items.append(ep)
    rng.shuffle(items)
    prefix = spec["prefix"] + ([rng.choice(spec["modes"])] if "modes" in spec else [])
    return prefix + [a for g in items for a in g]


def nasty_vectors():
    """Hand-picked vectors: (args, why)."""
    v = [([], "no command"), ([""], "empty command"), (["\n"], "newline command"),
         (["-"], "dash"), (["--"], "double dash"), (["--bogus"], "unknown option"),
         (["-x"], "unknown short option"), ([LONG], "long command"), (["\x1b[2J"], "escape"),
         (["mcast"], "mcast without a verb"), (["mcast", "sendx"], "mcast bad verb"),
         (["mcast", ""], "mcast empty verb"), (["bench"], "bench without a mode"),
         (["bench", "echox"], "bench bad mode"), (["bench", ""], "bench empty mode"),
         (["bench", "\n"], "bench newline mode"), (["proto", "a", "b"], "proto two names"),
         (["proto", "--bogus"], "proto unknown option"), (["proto", "\x01"], "proto ctrl"),
         (["proto", LONG], "proto long name"), (["proto", "99999999999999999999"], "proto huge"),
         (["proto", "-1"], "proto negative"), (["proto", ""], "proto empty"),
         (["demo", "x"], "demo argument"), (["demo", "--trace=x"], "demo bad trace"),
         (["demo", "--trace-file"], "demo missing trace file"),
         (["demo", "--trace-file", os.path.join(TMP, "no", "such", "dir")], "demo bad trace dir"),
         (["serve"], "serve nothing"), (["serve", "nosuch"], "serve unknown service"),
         (["serve", "echo", f"127.0.0.1:{HP}", "x"], "serve extra"),
         (["serve", ""], "serve empty service"), (["serve", "echo", f"127.0.0.1:{HP}"], "serve held"),
         (["serve", "-u", "echo", f"127.0.0.1:{HP}"], "serve udp held"),
         (["serve", "echo", f"unix:{LPATH}"], "serve unix held")]
    for sub in (["connect"], ["listen"]):
        v += [(sub, "no endpoint"), (sub + [""], "empty endpoint"), (sub + ["-w"], "-w last"),
              (sub + ["-w", "", "x:1"], "-w empty"), (sub + ["-U"], "-U alone"),
              (sub + ["-U", ""], "-U empty path"), (sub + ["-U", "a", "b"], "-U two"),
              (sub + ["-U", "p" * 200], "-U long path"), (sub + ["--", "-w"], "after --"),
              (sub + ["1", "2", "3"], "three positionals"), (sub + ["--trace-file"], "no file"),
              (sub + ["--trace-file", os.path.join(TMP, "no", "such")], "trace dir missing"),
              (sub + ["--max-conns", "0"], "max-conns 0"), (sub + ["-4", "-6", "[::1"], "4 6")]
        v += [(sub + [b], f"bogus endpoint {b[:20]!r}") for b in BOGUS_ENDPOINTS]
        v += [(sub + [b, "80"], f"bogus host {b[:20]!r}") for b in ["\n", "[::1", "a b", "*:"]]
        v += [(sub + ["-w", b, "[::1"], f"-w {b[:20]!r}") for b in BAD_SECONDS]
        v += [(sub + ["127.0.0.1", b], f"bad port {b[:20]!r}")
              for b in ["", "-1", "65536", "99999999999999999999", "\n", "http-nonexistent-svc"]]
    v += [(["connect", f"127.0.0.1:{RP}"], "refused"), (["connect", "-z", f"[::1]:{RP}"], "-z"),
          (["connect", "-U", CPATH], "absent path"), (["connect", f"unix:@{CABS}"], "absent name"),
          (["connect", "-U", "-s", LPATH, CPATH], "source path taken"),
          (["connect", "-U", "-u", "-s", "@" + LABS, CPATH], "source name taken"),
          (["connect", "-s", "[::1", f"127.0.0.1:{RP}"], "bad source"),
          (["connect", "-U", "-u", "-w", "1", CPATH], "unix dgram absent"),
          (["listen", f"127.0.0.1:{HP}"], "held"), (["listen", "-u", f"[::1]:{HP}"], "held udp"),
          (["listen", str(HP)], "held port"), (["listen", "-4", f":{HP}"], "held -4"),
          (["listen", "-6", f":{HP}"], "held -6"), (["listen", "-U", LPATH], "held path"),
          (["listen", "-U", "-u", LPATH], "held path dgram"),
          (["listen", f"unix:@{LABS}"], "held name"), (["listen", "-k", "-v", f":{HP}"], "held -k"),
          (["listen", "--exec", "cat", f":{HP}"], "held exec")]
    for sub in (["mcast", "send"], ["mcast", "recv"]):
        v += [(sub, "no group"), (sub + [""], "empty group"), (sub + ["239.1.1.1"], "no port"),
              (sub + [f"127.0.0.1:{HP}"], "unicast"), (sub + ["239.1.1.1:99999"], "bad port"),
              (sub + ["--iface"], "iface last"), (sub + ["--iface", "nosuchif0", "239.1.1.1:9"],
                                                   "no such iface"),
              (sub + ["--trace=" + LONG, "239.1.1.1:9"], "long trace"),
              (sub + ["--count", "-1", "239.1.1.1:9"], "negative count")]
    v += [(["mcast", "recv"] + [f"239.1.1.{i}:9" for i in range(17)], "17 groups"),
          (["mcast", "recv", "--source", "127.0.0.1", f"239.255.0.1:{HP}"], "SSM outside 232/8"),
          (["mcast", "send", "a", "b"], "send two")]
    for mode in ("echo", "connect", "stream", "udp"):
        v += [(["bench", mode], "no endpoint"), (["bench", mode, "-d", "0", "x:1"], "-d 0"),
              (["bench", mode, "[::1"], "bogus"), (["bench", mode, "a", "b"], "two"),
              (["bench", mode, "--size"], "--size last"),
              (["bench", mode, "--size", "-1", "x:1"], "--size -1"),
              (["bench", mode, "-t", "3", "-s", "9", "x:1"], "-s: nc's source, refused"),
              (["bench", mode, "--trace=bogus", "x:1"], "bad trace")]
    v += [(["bench", "echo", f"127.0.0.1:{RP}"], "refused"),
          (["bench", "udp", "--recv", f"127.0.0.1:{HP}"], "udp recv held")]
    return v


def run_one(args):
    """Run sockkit with args; returns (status or None if it had to be killed, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCKKIT_")}
    env["RES_OPTIONS"] = "timeout:1 attempts:1"  # a name lookup that slips in stays short
    env["TMPDIR"] = TMP  # where connect -U -u makes its temporary path
    # leak checks at an error exit find nothing worth the time (they double each run's cost);
    # memory errors are still caught
    env["ASAN_OPTIONS"] = "detect_leaks=0:" + env.get("ASAN_OPTIONS", "")
    t0 = time.time()
    p = subprocess.Popen([BIN] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, cwd=TMP, env=env)
    try:
        out, err = p.communicate(timeout=LIMIT)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        rc = None
    return rc, out, err, time.time() - t0


def verdict(args, why, result):
    rc, out, err, el = result
    problems = []
    if rc is None:
        problems.append(f"still running after {LIMIT:.0f} s (killed)")
    elif rc < 0:
        problems.append(f"killed by signal {-rc}")
    elif rc not in (1, 2):
        problems.append(f"exit {rc}")
    lines = err.count(b"\n")
    if lines != 1 or not err.endswith(b"\n"):
        problems.append(f"{lines} lines on stderr")
    if out:
        problems.append(f"{len(out)} bytes on stdout")
    if problems:
        shown = [a if len(a) < 60 else a[:30] + f"...({len(a)} chars)" for a in args]
        return f"{shown!r} ({why}): {', '.join(problems)}: {err[:600]!r}"
    return None


def main():
    rng = random.Random(SEED)
    vectors = [(a, "hand-picked: " + why) for a, why in nasty_vectors()]
    per_sub = {}
    for name, spec in SPECS.items():
        for _ in range(N):
            args, shape, kind = random_vector(rng, name, spec)
            vectors.append((args, f"random {name}: positionals {shape}, mistake {kind}"))
        per_sub[name] = N
    for name, spec in RUNTIME.items():
        for _ in range(N // 4):
            vectors.append((runtime_vector(rng, name, spec), f"runtime {name}: must fail"))
    for _ in range(N // 2):  # proto and the command word itself
        junk = "".join(rng.choice("abcxyz!#~\x01\n-_=:\u00e9") for _ in range(rng.randint(1, 20)))
        vectors.append((["proto", "zz" + junk], "random proto name"))
        vectors.append(([junk + "!"], "random command"))
        vectors.append((["demo", "--" + junk], "random demo option"))
    t0 = time.time()
    with ThreadPoolExecutor(max_workers=JOBS) as pool:
        results = list(pool.map(lambda v: run_one(v[0]), vectors))
    el = time.time() - t0
    bad = [m for (args, why), r in zip(vectors, results) if (m := verdict(args, why, r))]
    slowest = max(r[3] for r in results)
    statuses = {s: sum(1 for r in results if r[0] == s) for s in (1, 2)}
    print(f"{len(vectors)} vectors ({N} random per subcommand, seed {SEED}) in {el:.1f} s with "
          f"{JOBS} jobs; exit 1: {statuses[1]}, exit 2: {statuses[2]}; slowest {slowest:.2f} s")
    for m in bad[:40]:
        print("  ", m)
    check(not bad, f"every malformed vector ends with status 1 or 2 and one line on stderr "
                   f"({len(bad)} of {len(vectors)} did not)")
    leftovers = [f for f in os.listdir(TMP) if f not in ("held.sock", "trace.log", "out.svg")]
    check(not leftovers, f"no Unix socket files left behind: temporary or -s paths ({leftovers[:5]})")


try:
    main()
finally:
    for s in held:
        s.close()
    shutil.rmtree(TMP, ignore_errors=True)
finish()
