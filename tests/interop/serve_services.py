"""sockkit serve: every model x transport with 50 concurrent Python clients (plus nc and socat for
TCP and UDP), each service checked against its RFC, --idle-timeout, --max-conns, the SIGTERM drain
and summary, forked children reaped, and bad arguments."""
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import BIN, check, finish, kill_started, run, serve, stop  # noqa: E402


def stream_client(family, addr, i, results):
    data = os.urandom(500 + i * 40)
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(addr)
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            got = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got += b
        results[i] = got == data
    except OSError:
        results[i] = False


def dgram_client(family, addr, i, results, path=None):
    data = os.urandom(50 + i * 10)
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        if family == socket.AF_UNIX:
            s.bind("\0" + f"sockkit-serve-test-{os.getpid()}-{i}-{time.monotonic_ns()}")
        s.settimeout(1.5)
        for _ in range(3):
            s.sendto(data, addr)
            try:
                if s.recv(65536) == data:
                    results[i] = True
                    return
            except socket.timeout:
                pass
    results[i] = False


def fifty(kind, family, addr):
    results = [None] * 50
    fn = stream_client if kind == "stream" else dgram_client
    ts = [threading.Thread(target=fn, args=(family, addr, i, results)) for i in range(50)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    return sum(1 for r in results if r)


def zombies_of(pid):
    out = subprocess.run(["ps", "-eo", "ppid=,stat="], stdout=subprocess.PIPE, text=True).stdout
    return [l for l in out.splitlines() if l.split()[0] == str(pid) and "Z" in l.split()[1]]


def matrix():
    for model in ("event", "iterative", "thread", "fork", "pool"):
        for transport in ("tcp", "udp", "unix", "unix-dgram"):
            args = ["echo", "--model", model]
            if transport in ("udp", "unix-dgram"):
                args.append("-u")
            if transport == "tcp" or transport == "udp":
                args.append("127.0.0.1:0")
                fam = socket.AF_INET
            else:
                args.append(f"unix:@sockkit-serve-{os.getpid()}-{model}-{transport}")
                fam = socket.AF_UNIX
            p, host, port = serve(args)
            addr = (host, port) if port is not None else "\0" + host[len("unix:@"):]
            kind = "dgram" if transport in ("udp", "unix-dgram") else "stream"
            ok = fifty(kind, fam, addr)
            check(ok == 50, f"{model}/{transport}: 50 concurrent clients each got their own bytes ({ok})")
            if transport == "tcp":
                rc, out, _ = run(["nc", "-N", "127.0.0.1", str(port)], input=b"via nc\n")
                check(out == b"via nc\n", f"{model}/tcp: nc echo")
                rc, out, _ = run(["socat", "-", f"TCP:127.0.0.1:{port}"], input=b"via socat\n")
                check(out == b"via socat\n", f"{model}/tcp: socat echo")
            if transport == "udp":
                rc, out, _ = run(["socat", "-T", "1", "-", f"UDP:127.0.0.1:{port}"], input=b"udp socat\n")
                check(out == b"udp socat\n", f"{model}/udp: socat echo")
                rc, out, _ = run(["nc", "-u", "-w", "1", "127.0.0.1", str(port)], input=b"udp nc\n")
                check(out == b"udp nc\n", f"{model}/udp: nc echo")
            pid = p.pid
            rc, err = stop(p)
            m = re.search(r"(\d+) accepted, (\d+) rejected, (\d+) errors", err)
            check(rc == 0 and m and int(m.group(1)) >= 50 and m.group(3) == "0",
                  f"{model}/{transport}: SIGTERM drains, exit 0, summary ({err.strip().splitlines()[-1]})")
            if model == "fork":
                check(not zombies_of(pid), f"fork/{transport}: no zombie children")


def services():
    now = time.time()
    # discard: takes everything, answers nothing
    p, host, port = serve(["discard", "127.0.0.1:0"])
    with socket.create_connection((host, port), timeout=3) as s:
        s.sendall(b"x" * 100000)
        s.shutdown(socket.SHUT_WR)
        check(s.recv(10) == b"", "discard/tcp: nothing comes back, closed after our EOF")
    rc, err = stop(p)
    check("100000 bytes in" in err, f"discard: counted 100000 bytes in ({err.strip()})")
    p, host, port = serve(["discard", "-u", "127.0.0.1:0"])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        s.sendto(b"gone", (host, port))
        try:
            got = s.recv(10)
        except socket.timeout:
            got = None
        check(got is None, "discard/udp: no reply")
    stop(p)

    # chargen: 72 characters a line, each line starting one further along ASCII 32..126
    def chargen_ok(data, start_line=0):
        lines = data.split(b"\r\n")
        for i, line in enumerate(lines[:-1]):
            want = bytes(32 + (start_line + i + k) % 95 for k in range(72))
            if line != want:
                return False
        return len(lines) > 1
    p, host, port = serve(["chargen", "127.0.0.1:0"])
    with socket.create_connection((host, port), timeout=3) as s:
        data = b""
        while len(data) < 74 * 200:
            data += s.recv(65536)
        check(chargen_ok(data[:74 * 200]), "chargen/tcp: RFC 864 lines (200 checked)")
    time.sleep(0.2)
    rc, err = stop(p)
    check(rc == 0 and "0 errors" in err, "chargen/tcp: the client leaving is no error")
    p, host, port = serve(["chargen", "-u", "127.0.0.1:0"])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        sizes = []
        for _ in range(5):
            s.sendto(b"?", (host, port))
            sizes.append(len(s.recv(65536)))
        check(all(0 <= n <= 512 for n in sizes), f"chargen/udp: 0..512 characters per datagram {sizes}")
    stop(p)

    # daytime: one line, then close
    for udp in (False, True):
        p, host, port = serve(["daytime"] + (["-u"] if udp else []) + ["127.0.0.1:0"])
        if udp:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(2)
            s.sendto(b"", (host, port))
            line = s.recv(1000)
        else:
            s = socket.create_connection((host, port), timeout=3)
            line = b""
            while True:
                b = s.recv(1000)
                if not b:
                    break
                line += b
        s.close()
        want = time.strftime("%A, %B %d, %Y", time.gmtime())
        check(line.decode().startswith(want) and line.endswith(b"-UTC\r\n"),
              f"daytime/{'udp' if udp else 'tcp'}: {line!r}")
        stop(p)

    # time: 32-bit big-endian seconds since 1900
    for udp in (False, True):
        p, host, port = serve(["time"] + (["-u"] if udp else []) + ["127.0.0.1:0"])
        if udp:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(2)
            s.sendto(b"", (host, port))
            b = s.recv(100)
        else:
            s = socket.create_connection((host, port), timeout=3)
            b = s.recv(100)
        s.close()
        ok = len(b) == 4 and abs(struct.unpack("!I", b)[0] - 2208988800 - now) < 30
        check(ok, f"time/{'udp' if udp else 'tcp'}: 4 bytes, seconds since 1900 ({b.hex()})")
        stop(p)

    # source: data until we leave; sink: counts what it got
    p, host, port = serve(["source", "127.0.0.1:0"])
    with socket.create_connection((host, port), timeout=3) as s:
        got = 0
        while got < 1 << 20:
            got += len(s.recv(65536))
    check(got >= 1 << 20, "source: a megabyte and more")
    stop(p)
    p, host, port = serve(["sink", "127.0.0.1:0"])
    with socket.create_connection((host, port), timeout=3) as s:
        s.sendall(b"\0" * (3 << 20))
    time.sleep(0.2)
    rc, err = stop(p)
    check(f"{3 << 20} bytes in" in err, "sink: counted 3 MiB in")


def limits():
    p, host, port = serve(["echo", "--idle-timeout", "0.3", "127.0.0.1:0"])
    s = socket.create_connection((host, port), timeout=5)
    t0 = time.time()
    got = s.recv(10)
    el = time.time() - t0
    check(got == b"" and 0.25 < el < 3, f"--idle-timeout 0.3: a silent client is closed after {el:.2f}s")
    s.close()
    stop(p)

    p, host, port = serve(["echo", "--max-conns", "1", "127.0.0.1:0"])
    a = socket.create_connection((host, port), timeout=3)
    a.sendall(b"a")
    a.recv(1)
    b = socket.create_connection((host, port), timeout=3)
    try:
        extra = b.recv(10)
    except ConnectionResetError:
        extra = b""
    check(extra == b"", "--max-conns 1: the second client is closed at once")
    a.close()
    b.close()
    rc, err = stop(p)
    check("1 rejected" in err, f"--max-conns: rejection counted ({err.strip()})")

    # SIGINT with a client still connected: drain waits, then cuts it off, exit 0
    p, host, port = serve(["echo", "127.0.0.1:0"])
    c = socket.create_connection((host, port), timeout=10)
    c.sendall(b"hold")
    c.recv(4)
    p.send_signal(signal.SIGINT)
    t0 = time.time()
    out, err = p.communicate(timeout=15)
    el = time.time() - t0
    check(p.returncode == 0 and "1 cut off at drain" in err.decode() and 4.5 < el < 8,
          f"SIGINT: drains for 5 s, cuts the idle client off, exit 0 ({el:.1f}s)")
    c.close()


def bad_args():
    for args, needle in ((["nosuch"], "unknown service"), (["echo", "--accept", "x"], "--accept"),
                         (["echo", "--model", "x"], "--model"), (["echo", "--workers", "0"], "--workers"),
                         ([], "missing SERVICE"), (["echo", "127.0.0.1:99999"], "99999"),
                         # an option of other models than the one given is refused, not ignored
                         (["echo", "--model", "thread", "--accept", "handoff"],
                          "--accept is for the event model"),
                         (["echo", "--model", "iterative", "--high-water", "5000"],
                          "--high-water is for the event model"),
                         (["echo", "--model", "fork", "--workers", "3"],
                          "--workers is for the event model (loops) and the pool model"),
                         (["echo", "-u", "--accept", "handoff"], "--accept is for stream servers")):
        rc, _, err = run([BIN, "serve"] + args)
        check(rc == 2 and len(err.strip().splitlines()) == 1 and needle in err,
              f"serve {' '.join(args)}: exit 2, one line ({err.strip()})")
    # one loop has no listener to share: -v says --accept changes nothing, and it serves
    p, host, port = serve(["--accept", "handoff", "--workers", "1", "echo", "127.0.0.1:0"])
    with socket.create_connection((host, port), timeout=10) as c:
        c.sendall(b"one loop")
        got = c.recv(100)
    rc, err = stop(p)
    check(rc == 0 and got == b"one loop" and "accept: one loop, which accepts for itself" in err,
          f"serve --accept handoff --workers 1: serves, and -v says one loop accepts for itself "
          f"({got!r}, {err.strip().splitlines()[:2]})")


try:
    if not shutil.which("nc") or not shutil.which("socat"):
        print("SKIP: nc and socat are needed")
        sys.exit(77)
    matrix()
    services()
    limits()
    bad_args()
finally:
    kill_started()
finish()
