"""The options every command shares, and the one exit-status rule.

- Every subcommand that opens sockets (connect, listen, serve, relay, demo, each mode of mcast
  and bench) lists --trace and --trace-file in its --help, accepts them (parsed before a later
  --help, which then exits 0), and refuses --trace=bogus with exit 2 and one line; -v is accepted
  wherever --help lists it. The commands that open none (proto, resolve, ifaces, completion) refuse --trace
  saying so.
- Each accepted option does something: --trace-file gets the trace of connect, listen, serve
  and demo; --trace=calls has no hexdump; -v makes connect, listen and serve say where they are.
- One exit-status rule: the same host that does not resolve gives the same status in connect,
  listen, serve, bench (each mode) and mcast recv --source (2: bad input, when the resolver
  answers that the name does not exist), and a refused connection 1 in connect and bench."""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import BIN, check, finish, kill_started, run, serve, stop  # noqa: E402

TMP = tempfile.mkdtemp(prefix="sockkit-common-")
SOCKET_CMDS = [["connect"], ["listen"], ["serve"], ["relay"], ["demo"], ["mcast", "send"], ["mcast", "recv"],
               ["bench", "echo"], ["bench", "connect"], ["bench", "stream"], ["bench", "udp"]]
NO_SOCKET_CMDS = [["proto"], ["resolve"], ["ifaces"], ["completion"]]


def help_options(path):
    rc, out, _ = run([BIN] + path + ["--help"])
    opts = set()
    block = out.decode().split("\noptions:\n", 1)[-1].split("\n\n", 1)[0]
    for line in block.splitlines():
        if line.startswith("  -"):
            label = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
            for part in label.split(", "):
                opts.add(re.match(r"--?[A-Za-z0-9][-A-Za-z0-9]*", part).group(0))
    return opts


def common_options():
    for path in SOCKET_CMDS:
        name = " ".join(path)
        opts = help_options(path)
        check({"--trace", "--trace-file", "-h", "--help"} <= opts,
              f"{name} --help lists --trace, --trace-file and -h ({sorted(opts)})")
        trace_file = os.path.join(TMP, "t.log")
        args = ["--trace=calls", "--trace-file", trace_file] + (["-v"] if "-v" in opts else [])
        rc, out, err = run([BIN] + path + args + ["--help"])
        check(rc == 0 and out.startswith(b"usage:"),
              f"{name} {' '.join(args)} --help: accepted, exit 0 ({err.strip()!r})")
        rc, out, err = run([BIN] + path + ["--trace=bogus", "--help"])
        check(rc == 2 and err.count("\n") == 1 and "--trace takes 'calls' or 'data'" in err
              and not out, f"{name} --trace=bogus: exit 2, one line ({err.strip()!r})")
    for path in NO_SOCKET_CMDS:
        rc, out, err = run([BIN] + path + ["--trace"])
        check(rc == 2 and err.count("\n") == 1 and "makes no socket calls the trace shows" in err and not out,
              f"{path[0]} --trace: refused, it opens no socket ({err.strip()!r})")


def traced(path):
    with open(path) as f:
        return f.read()


def options_do_something():
    # connect and listen: --trace-file holds both sides' calls; -v says where
    lt, ct = os.path.join(TMP, "listen.log"), os.path.join(TMP, "connect.log")
    srv = subprocess.Popen([BIN, "listen", "-v", "--trace=calls", "--trace-file", lt,
                            "127.0.0.1:0"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    line = srv.stderr.readline().decode()
    m = re.search(r"listening on 127\.0\.0\.1 (\d+) \(tcp\)", line)
    port = m.group(1) if m else "0"
    rc, _, cerr = run([BIN, "connect", "-v", "-N", "--trace-file", ct, f"127.0.0.1:{port}"],
                      input=b"hi\n")
    out, err = srv.communicate(timeout=20)
    err = err.decode(errors="replace")
    check(m is not None and rc == 0 and out == b"hi\n",
          f"listen -v says where; connect -N delivers ({line.strip()!r})")
    check(re.search(r"connected to 127\.0\.0\.1:\d+ from 127\.0\.0\.1:\d+ \(tcp\)", cerr) is not None,
          f"connect -v: 'connected to ... from ...' ({cerr.strip()!r})")
    lt_text, ct_text = traced(lt), traced(ct)
    check("server tcp   listen" in lt_text and "server tcp   accept" in lt_text
          and "00000000" not in lt_text and "--trace" not in err,
          "listen --trace=calls --trace-file: the calls in the file, no hexdump, nothing on stderr")
    check("client tcp   connect 127.0.0.1" in ct_text and "00000000  68 69 0a" in ct_text,
          "connect --trace-file (data by default): the calls and the bytes in the file")
    # serve: the trace of its listener
    st = os.path.join(TMP, "serve.log")
    p, host, sport = serve(["--trace=calls", "--trace-file", st, "echo", "127.0.0.1:0"])
    with socket.create_connection(("127.0.0.1", sport)) as c:
        c.sendall(b"x")
        c.recv(1)
    rc, err = stop(p)
    check(rc == 0 and "server tcp   listen" in traced(st) and "serving echo on" in p.serving_line,
          "serve -v --trace-file: says where, the calls in the file")
    # demo: the trace on stdout unless --trace-file, at the level asked
    rc, out, _ = run([BIN, "demo", "--trace=calls"])
    check(rc == 0 and b"client tcp   connect" in out and b"00000000" not in out,
          "demo --trace=calls: calls on stdout, no hexdump")
    dt = os.path.join(TMP, "demo.log")
    rc, out, _ = run([BIN, "demo", "--trace-file", dt])
    check(rc == 0 and b"client tcp" not in out and "00000000" in traced(dt),
          "demo --trace-file: the trace (data) in the file, the headings on stdout")


def resolver_says(name):
    rc, out, err = run([BIN, "resolve", name])
    return 1 if "EAI_AGAIN" in err or "EAI_FAIL" in err else 2


def exit_rule():
    bad = "nosuch-sockkit-test.invalid"
    want = resolver_says(bad)
    cases = [["connect", f"{bad}:7"], ["connect", "-z", bad, "7-9"], ["listen", f"{bad}:0"],
             ["serve", "echo", f"{bad}:0"], ["bench", "echo", "-d", "0.2", f"{bad}:7"],
             ["bench", "connect", "-d", "0.2", f"{bad}:7"],
             ["bench", "stream", "-d", "0.2", f"{bad}:7"],
             ["bench", "udp", "-d", "0.2", f"{bad}:7"], ["bench", "udp", "--recv", f"{bad}:0"],
             ["mcast", "recv", "--source", bad, "232.1.1.1:5000"]]
    env = dict(os.environ, RES_OPTIONS="timeout:1 attempts:1")
    for args in cases:
        p = subprocess.run([BIN] + args, capture_output=True, timeout=60, env=env,
                           stdin=subprocess.DEVNULL)
        err = p.stderr.decode(errors="replace")
        check(p.returncode == want and err.count("\n") == 1 and bad in err,
              f"{' '.join(args)}: a host that does not resolve exits {want} ({p.returncode}: "
              f"{err.strip()!r})")
    # refused: a runtime failure, 1
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    for args in (["connect", f"127.0.0.1:{port}"], ["bench", "echo", "-d", "0.2", f"127.0.0.1:{port}"]):
        rc, _, err = run([BIN] + args, timeout=60)
        check(rc == 1 and err.count("\n") == 1 and "refused" in err,
              f"{' '.join(args)}: refused exits 1 ({err.strip()!r})")
    s.close()


try:
    common_options()
    options_do_something()
    exit_rule()
finally:
    kill_started()
    shutil.rmtree(TMP, ignore_errors=True)
finish()
