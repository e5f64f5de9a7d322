"""netcat habits, with OpenBSD nc as the peer and as the reference: `listen -l -p PORT`,
`-lvnp PORT` clusters, `-p PORT -s ADDR` and `-p PORT HOST`, `-n` (numeric only), connect's
`-p` (the local port), `connect -z HOST LO-HI` (the open ports, as `nc -z` finds them; one line
each; exit 0 if any was open, 1 if none), and what connect and listen refuse of each other's
options (`connect -l`, `listen --max-conns`)."""
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import BIN, check, finish, free_port, run, skip, wait_bound  # noqa: E402

if not shutil.which("nc"):
    skip("nc is not installed (apt-get install netcat-openbsd)")

procs = []


def spawn(args, **kw):
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, **kw)
    procs.append(p)
    return p


def usage(args, *needles):
    rc, out, err = run([BIN] + args)
    check(rc == 2 and err.count("\n") == 1 and all(n in err for n in needles) and not out,
          f"{' '.join(args)}: exit 2, one line with {needles} ({err.strip()!r})")


def nc_talks_to_listen(args, port, host="127.0.0.1"):
    """Start sockkit listen ARGS; nc sends a line and reads the answer."""
    srv = spawn([BIN] + args)
    try:
        wait_bound(port)
        srv.stdin.write(b"from sockkit\n")
        srv.stdin.close()
        srv.stdin = None
        nc = subprocess.run(["nc", "-N", "-w", "5", host, str(port)], input=b"from nc\n",
                            capture_output=True, timeout=20)
        out, err = srv.communicate(timeout=20)
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()
    return srv.returncode, out, err.decode(errors="replace"), nc.stdout


def listen_forms():
    port = free_port()
    rc, out, err, back = nc_talks_to_listen(["listen", "-l", "-p", str(port)], port)
    check(rc == 0 and out == b"from nc\n" and back == b"from sockkit\n",
          f"listen -l -p {port}: nc's line in, ours out ({rc}, {out!r}, {back!r}, {err!r})")
    port = free_port()
    rc, out, err, back = nc_talks_to_listen(["listen", "-lvnp", str(port)], port)
    check(rc == 0 and out == b"from nc\n" and back == b"from sockkit\n"
          and re.search(rf"listening on \S+ {port} \(tcp\)", err) is not None,
          f"listen -lvnp {port}: the cluster parses, -v says where ({err.strip()!r})")
    for args in (["-p", "PORT", "-s", "127.0.0.1"], ["-p", "PORT", "127.0.0.1"],
                 ["-n", "-p", "PORT", "[::1]"]):
        port = free_port("tcp", "::1" if "[::1]" in args else "127.0.0.1")
        args = [str(port) if a == "PORT" else a for a in args]
        host = "::1" if "[::1]" in args else "127.0.0.1"
        rc, out, err, back = nc_talks_to_listen(["listen", "-v"] + args, port, host)
        check(rc == 0 and out == b"from nc\n" and f"listening on {host} {port} " in err,
              f"listen {' '.join(args)}: on {host} only ({err.strip()!r})")
    usage(["listen", "-p", "7000", "7001"], "the port is given twice: by -p and by '7001'")
    usage(["listen", "-s", "127.0.0.1", "127.0.0.1:7000"], "-s gives the address and")
    usage(["listen", "-p", "x"], "-p takes a port number, not 'x'")
    usage(["listen", "-n", "localhost:7000"], "'localhost' is not a numeric address",
          "-n: numeric addresses only")
    usage(["listen", "-U", "-n", "/tmp/x"], "-n is for IP endpoints")
    usage(["listen", "--max-conns", "2", "-k", "--exec", "cat", "7000"],
          "--max-conns is serve's", "--max-children N")
    usage(["listen", "--max-children", "2", "--exec", "cat", "7000"],
          "--max-children goes with --exec and -k")


def connect_forms():
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    src = free_port()
    c = spawn([BIN, "connect", "-n", "-p", str(src), "127.0.0.1", str(port)])
    conn, peer = srv.accept()
    c.stdin.close()
    conn.close()
    c.wait(20)
    check(peer == ("127.0.0.1", src) and c.returncode == 0,
          f"connect -n -p {src}: the connection comes from port {src} ({peer})")
    rc, _, err = run([BIN, "connect", "-n", f"localhost:{port}"])
    check(rc == 2 and "not a numeric address" in err, f"connect -n localhost: no DNS ({err.strip()!r})")
    rc, _, err = run([BIN, "connect", "-n", "127.0.0.1:http"])
    check(rc == 2 and "not a number (numeric mode)" in err,
          f"connect -n: no service names either ({err.strip()!r})")
    srv.close()
    usage(["connect", "-l", "127.0.0.1:7000"], "-l is for listen")
    usage(["connect", "-lvnp", "7000"], "-l is for listen")
    usage(["connect", "127.0.0.1", "20-80"], "a port range ('20-80') is for -z")
    usage(["connect", "-z", "127.0.0.1", "80-20"], "the first port is above the last")
    usage(["connect", "-z", "-u", "127.0.0.1", "20-30"], "-z checks TCP or Unix stream ports")


def consecutive_ports(n):
    """n consecutive ports, each bound (not listening) on 127.0.0.1 by this test, so that a
    connect there is refused until the test listens on it."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randint(20000, 60000)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base, socks
        except OSError:
            for s in socks:
                s.close()
    raise RuntimeError("no run of free ports")


def scan():
    base, socks = consecutive_ports(8)
    lo, hi = base, base + 7
    open_ports = {base + 1, base + 4}
    for p in open_ports:
        socks[p - base].listen(16)
    # one open port is served by nc itself
    nc_port = base + 6
    socks[6].close()
    nc = spawn(["nc", "-l", "-k", "127.0.0.1", str(nc_port)])
    wait_bound(nc_port)
    open_ports.add(nc_port)
    want = sorted(open_ports)

    ref = subprocess.run(["nc", "-z", "-v", "-w", "2", "127.0.0.1", f"{lo}-{hi}"],
                         capture_output=True, text=True, timeout=60)
    nc_open = sorted(int(m) for m in re.findall(r"127\.0\.0\.1 (\d+) port \S+ succeeded",
                                                ref.stdout + ref.stderr))
    rc, out, err = run([BIN, "connect", "-z", "127.0.0.1", f"{lo}-{hi}"])
    lines = out.decode().splitlines()
    check(rc == 0 and lines == [f"127.0.0.1:{p} open" for p in want] and err == "",
          f"connect -z 127.0.0.1 {lo}-{hi}: one line per open port {want}, exit 0 ({lines}, {err!r})")
    check(nc_open == want, f"nc -z finds the same open ports ({nc_open})")
    rc, out, err = run([BIN, "connect", "-zv", f"127.0.0.1:{lo}-{hi}"])
    closed = err.count("Connection refused")
    check(rc == 0 and len(out.decode().splitlines()) == len(want) and closed == 8 - len(want)
          and f"{len(want)} of 8 ports open" in err,
          f"connect -zv HOST:LO-HI: closed ports on stderr ({closed}), a summary ({err[-80:]!r})")
    rc, out, _ = run([BIN, "connect", "-z", "127.0.0.1", f"{lo}-{lo}"])
    check(rc == 1 and out == b"", f"connect -z on a closed range: exit 1, nothing on stdout")
    rc, out, err = run([BIN, "connect", "-z", "127.0.0.1", str(base + 1)])
    check(rc == 0 and out == f"127.0.0.1:{base + 1} open\n".encode(),
          f"connect -z HOST PORT: the one line ({out!r})")
    rc, out, err = run([BIN, "connect", "-z", "127.0.0.1", str(lo)])
    check(rc == 1 and out == b"" and "Connection refused" in err and err.count("\n") == 1,
          f"connect -z on one closed port: exit 1, the reason on stderr ({err.strip()!r})")
    for s in socks:
        s.close()


try:
    listen_forms()
    connect_forms()
    scan()
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
finish()
