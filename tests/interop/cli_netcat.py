"""sockkit connect/listen against OpenBSD nc, socat and Python's socket module: binary-safe
transfers both ways over TCP, UDP and Unix sockets, half-close both ways, UDP listen serving three
peers, --exec, -k, --max-children, -z, -w, bad input, and the trace."""
import os
import random
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import BIN, check, finish, free_port, memcheck, run, skip, wait_bound, wait_path  # noqa: E402

for tool in ("nc", "socat"):
    if not shutil.which(tool):
        skip(f"{tool} is not installed (apt-get install netcat-openbsd socat)")

TMP = tempfile.mkdtemp(prefix="sockkit-nc-")
ALL256 = bytes(range(256)) * 4
BIG = ALL256 + random.randbytes(10 << 20)
MID = ALL256 + random.randbytes(1 << 20)
procs = []


def crc(b):
    return f"{zlib.crc32(b):08x} ({len(b)} bytes)"


def spawn(args, stdin=subprocess.DEVNULL, to_file=False):
    """Start a process. to_file: its stdout goes to a file (read back by collect), so a large
    output cannot fill a pipe nobody reads yet."""
    out = subprocess.PIPE
    path = None
    if to_file:
        path = os.path.join(TMP, f"out{len(procs)}")
        out = open(path, "wb")
    p = subprocess.Popen(args, stdin=stdin, stdout=out, stderr=subprocess.PIPE)
    p.out_path = path
    p.early_err = b""
    procs.append(p)
    return p


def listen_port(p, timeout=5):
    """Read sockkit listen -v's 'listening on HOST PORT' line from stderr (raw reads: a buffered
    readline would hide lines from select)."""
    deadline = time.time() + timeout
    fd = p.stderr.fileno()
    while time.time() < deadline:
        m = re.search(rb"listening on \S+ (\d+)", p.early_err)
        if m:
            return int(m.group(1))
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            p.early_err += chunk  # kept: collect() returns the whole stderr
    raise RuntimeError(f"no 'listening on' line (got {p.early_err!r})")


def collect(p, timeout=60):
    if p.stdin and p.stdin.closed:
        p.stdin = None
    out, err = p.communicate(timeout=timeout)
    if p.out_path:
        with open(p.out_path, "rb") as f:
            out = f.read()
    return p.returncode, out, (p.early_err + err).decode(errors="replace")


def write_file(name, data):
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


# ---- TCP, both directions, with nc and socat ------------------------------------------------
def tcp_transfers():
    # nc client -> sockkit listen
    srv = spawn([BIN, "listen", "-v", "127.0.0.1:0"], to_file=True)
    port = listen_port(srv)
    rc, _, err = run(["nc", "-N", "127.0.0.1", str(port)], input=BIG)
    src, out, serr = collect(srv)
    check(rc == 0 and src == 0, f"tcp nc -> sockkit listen: both exit 0 ({err}{serr})")
    check(out == BIG, f"tcp nc -> sockkit listen: 10 MiB + all 256 byte values intact {crc(out)} vs {crc(BIG)}")

    # sockkit connect -> nc -l
    port = free_port()
    srv = spawn(["nc", "-l", "127.0.0.1", str(port)], to_file=True)
    wait_bound(port)
    rc, _, err = run([BIN, "connect", "-N", f"127.0.0.1:{port}"], input=BIG)
    src, out, _ = collect(srv)
    check(rc == 0, f"tcp sockkit connect -> nc -l: exit 0 ({err})")
    check(out == BIG, f"tcp sockkit connect -> nc -l: intact {crc(out)}")

    # socat sends a file -> sockkit connect receives (server-to-client direction)
    path = write_file("big.bin", BIG)
    port = free_port()
    srv = spawn(["socat", "-u", f"OPEN:{path}", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr"])
    wait_bound(port)
    rc, out, err = run([BIN, "connect", f"127.0.0.1:{port}"])
    collect(srv)
    check(rc == 0 and out == BIG, f"tcp socat server -> sockkit connect: intact {crc(out)} ({err})")

    # sockkit listen sends (stdin) -> socat client receives, IPv6
    srv = spawn([BIN, "listen", "-v", "-N", "[::1]:0"], stdin=open(path, "rb"))
    port = listen_port(srv)
    rc, out, err = run(["socat", "-u", f"TCP6:[::1]:{port}", "STDOUT"])
    collect(srv)
    check(rc == 0 and out == BIG, f"tcp6 sockkit listen -> socat client: intact {crc(out)} ({err})")


# ---- Unix stream -----------------------------------------------------------------------------
def unix_transfers():
    path = os.path.join(TMP, "s.sock")
    srv = spawn([BIN, "listen", "-U", path], to_file=True)
    wait_path(path)
    rc, _, err = run(["nc", "-N", "-U", path], input=MID)
    src, out, _ = collect(srv)
    check(rc == 0 and src == 0 and out == MID, f"unix nc -U -> sockkit listen -U: intact {crc(out)} ({err})")
    check(not os.path.exists(path), "listen -U removed the socket file it made when it exited")
    # a file that was there before is not listen's: refused, and left alone
    with open(path, "w") as f:
        f.write("x")
    rc, _, err = run([BIN, "listen", "-U", path])
    check(rc == 1 and os.path.exists(path), f"listen -U on an existing file: exit 1, file kept ({err.strip()})")
    os.unlink(path)

    srv = spawn(["socat", "-u", f"UNIX-LISTEN:{path}", "STDOUT"], to_file=True)
    wait_path(path)
    rc, _, err = run([BIN, "connect", "-N", f"unix:{path}"], input=MID)
    _, out, _ = collect(srv)
    check(rc == 0 and out == MID, f"unix sockkit connect -> socat UNIX-LISTEN: intact {crc(out)} ({err})")


# ---- UDP -------------------------------------------------------------------------------------
def udp_transfers():
    # socat sends the 256 byte values as one datagram -> sockkit listen -u
    srv = spawn([BIN, "listen", "-u", "-v", "-w", "1", "127.0.0.1:0"])
    port = listen_port(srv)
    path = write_file("all256.bin", bytes(range(256)))
    rc, _, err = run(["socat", "-u", f"OPEN:{path}", f"UDP-SENDTO:127.0.0.1:{port}"])
    src, out, serr = collect(srv)
    check(rc == 0 and out == bytes(range(256)), f"udp socat -> sockkit listen -u: 256 byte values intact ({err}{serr})")

    # sockkit connect -u -> nc -u -l
    port = free_port("udp")
    srv = spawn(["nc", "-u", "-l", "127.0.0.1", str(port)])
    wait_bound(port, "udp")
    rc, _, err = run([BIN, "connect", "-u", "-w", "0.5", f"127.0.0.1:{port}"], input=bytes(range(256)))
    time.sleep(0.2)
    srv.kill()
    _, out, _ = collect(srv)
    check(rc == 0 and out == bytes(range(256)), f"udp sockkit connect -u -> nc -u -l: intact ({err})")

    # nc -u client talks to sockkit listen -u and gets the reply typed on its stdin
    srv = spawn([BIN, "listen", "-u", "-v", "127.0.0.1:0"], stdin=subprocess.PIPE)
    port = listen_port(srv)
    cli = spawn(["nc", "-u", "127.0.0.1", str(port)], stdin=subprocess.PIPE)
    cli.stdin.write(b"question\n")
    cli.stdin.flush()
    got = read_until(srv.stdout, b"question\n")
    srv.stdin.write(b"answer\n")
    srv.stdin.flush()
    reply = read_until(cli.stdout, b"answer\n")
    check(got and reply, "udp nc -u <-> sockkit listen -u: question and answer both arrive")
    cli.kill()
    srv.kill()
    collect(cli)
    collect(srv)


def read_until(stream, want, timeout=3):
    """Read from a pipe until `want` was seen; returns True if it was."""
    data = b""
    fd = stream.fileno()
    deadline = time.time() + timeout
    while want not in data and time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
    return want in data


def udp_three_peers():
    srv = spawn([BIN, "listen", "-u", "-v", "127.0.0.1:0"], stdin=subprocess.PIPE)
    port = listen_port(srv)
    peers = {}
    for name in "ABC":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.3)
        peers[name] = s
    ok = True
    for name in "ABCBAC":  # not only the first peer, and not only in order
        peers[name].sendto(f"from-{name}\n".encode(), ("127.0.0.1", port))
        if not read_until(srv.stdout, f"from-{name}\n".encode()):
            ok = False
            break
        srv.stdin.write(f"reply-{name}\n".encode())
        srv.stdin.flush()
        try:
            data = peers[name].recv(100)
        except socket.timeout:
            data = b""
        if data != f"reply-{name}\n".encode():
            ok = False
        for other in "ABC":
            if other != name:
                try:
                    stray = peers[other].recv(100, socket.MSG_DONTWAIT)
                    ok = False if stray else ok
                except (BlockingIOError, socket.timeout):
                    pass
    check(ok, "udp listen: three peers each get their own replies (A B C B A C)")
    srv.kill()
    collect(srv)


# ---- half-close, both ways ---------------------------------------------------------------------
def half_close():
    # 1. client sends, then EOF (-N); the server replies only after seeing EOF; client gets it all.
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]
    reply = random.randbytes(3 << 20)

    def server():
        c, _ = lsock.accept()
        data = b""
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
        c.sendall(crc(data).encode() + b"\n" + reply)
        c.close()

    t = threading.Thread(target=server)
    t.start()
    rc, out, err = run([BIN, "connect", "-N", f"127.0.0.1:{port}"], input=MID)
    t.join(10)
    lsock.close()
    check(rc == 0 and out == crc(MID).encode() + b"\n" + reply,
          f"half-close: reply sent after the client's EOF arrives whole ({err})")

    # 2. the peer ends first: the server shuts down its write side, then still reads what the
    #    client sends after that (stdin keeps flowing after net EOF).
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]
    seen_eof = threading.Event()
    got = {}

    def server2():
        c, _ = lsock.accept()
        c.sendall(b"early words\n")
        c.shutdown(socket.SHUT_WR)
        seen_eof.set()
        data = b""
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
        got["data"] = data
        c.close()

    t = threading.Thread(target=server2)
    t.start()
    cli = spawn([BIN, "connect", "-N", f"127.0.0.1:{port}"], stdin=subprocess.PIPE)
    cli.stdin.write(MID[:1000])
    cli.stdin.flush()
    early = read_until(cli.stdout, b"early words\n")
    seen_eof.wait(5)
    time.sleep(0.2)  # the client has seen EOF from the net by now
    cli.stdin.write(MID[1000:])
    cli.stdin.close()
    rc, _, err = collect(cli)
    t.join(10)
    lsock.close()
    check(early and rc == 0 and got.get("data") == MID,
          f"half-close: after the peer's EOF, stdin still reaches it whole {crc(got.get('data', b''))} ({err})")

    # 3. the server side: sockkit listen gets the client's request and EOF, its reply arrives.
    srv = spawn([BIN, "listen", "-v", "-N", "127.0.0.1:0"], stdin=subprocess.PIPE)
    port = listen_port(srv)
    c = socket.create_connection(("127.0.0.1", port))
    c.sendall(b"request\n")
    c.shutdown(socket.SHUT_WR)
    req = read_until(srv.stdout, b"request\n")
    srv.stdin.write(b"the reply, after the client's EOF\n")
    srv.stdin.close()
    data = b""
    c.settimeout(5)
    while True:
        b = c.recv(65536)
        if not b:
            break
        data += b
    c.close()
    rc, _, _ = collect(srv)
    check(req and data == b"the reply, after the client's EOF\n" and rc == 0,
          "half-close: sockkit listen replies after the client's EOF")


# ---- --exec, -k, --max-conns -------------------------------------------------------------------
def talk(port, msg, timeout=3):
    c = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    c.sendall(msg)
    c.shutdown(socket.SHUT_WR)
    data = b""
    try:
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
    except socket.timeout:
        pass
    c.close()
    return data


def exec_mode():
    srv = spawn([BIN, "listen", "-v", "127.0.0.1:0", "--exec", "tr a-z A-Z"])
    port = listen_port(srv)
    out = talk(port, b"hello exec\n")
    rc, _, _ = collect(srv, 10)
    check(out == b"HELLO EXEC\n" and rc == 0, f"--exec: a program per connection ({out!r})")
    # -e, as nc and ncat spell it
    srv = spawn([BIN, "listen", "-v", "-e", "tr a-z A-Z", "127.0.0.1:0"])
    port = listen_port(srv)
    out = talk(port, b"hello -e\n")
    rc, _, _ = collect(srv, 10)
    check(out == b"HELLO -E\n" and rc == 0, f"-e: the same as --exec ({out!r})")

    # -k --exec: two clients served at the same time
    srv = spawn([BIN, "listen", "-v", "-k", "127.0.0.1:0", "--exec", "cat"])
    port = listen_port(srv)
    a = socket.create_connection(("127.0.0.1", port), timeout=3)
    b = socket.create_connection(("127.0.0.1", port), timeout=3)
    b.sendall(b"second\n")
    got_b = b.recv(100)
    a.sendall(b"first\n")
    got_a = a.recv(100)
    check(got_a == b"first\n" and got_b == b"second\n", "-k --exec: two clients served concurrently")
    a.close()
    b.close()
    srv.terminate()
    collect(srv)

    # --max-children 1: the second client waits until the first leaves
    srv = spawn([BIN, "listen", "-v", "-k", "--max-children", "1", "127.0.0.1:0", "--exec", "cat"])
    port = listen_port(srv)
    a = socket.create_connection(("127.0.0.1", port), timeout=3)
    a.sendall(b"a\n")
    first = a.recv(10)
    time.sleep(0.1)
    b = socket.create_connection(("127.0.0.1", port), timeout=0.5)
    b.sendall(b"b\n")
    try:
        early = b.recv(10)
    except socket.timeout:
        early = b""
    a.close()
    b.settimeout(3)
    later = b.recv(10)
    check(first == b"a\n" and early == b"" and later == b"b\n",
          f"--max-children 1: second client waits, then is served ({early!r} {later!r})")
    b.close()
    srv.terminate()
    collect(srv)
    # children reaped: no zombie left behind by the server
    check(not zombies_of(srv.pid), "--exec children are reaped")


def zombies_of(pid):
    out = subprocess.run(["ps", "-eo", "ppid=,stat="], stdout=subprocess.PIPE, text=True).stdout
    return [l for l in out.splitlines() if l.split()[0] == str(pid) and l.split()[1].startswith("Z")]


# ---- -z, -w, errors ----------------------------------------------------------------------------
def zero_and_timeouts():
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]
    rc, _, _ = run([BIN, "connect", "-z", f"127.0.0.1:{port}"])
    check(rc == 0, "-z: an open port exits 0")
    lsock.close()
    rc, _, err = run([BIN, "connect", "-z", f"127.0.0.1:{port}"])
    check(rc == 1 and "Connection refused" in err, f"-z: a closed port exits 1 ({err.strip()})")

    # connect timeout against a listener whose backlog is full (SYNs dropped)
    stalled = socket.socket()
    stalled.bind(("127.0.0.1", 0))
    stalled.listen(0)
    sport = stalled.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", sport))
    t0 = time.time()
    rc, _, err = run([BIN, "connect", "-w", "0.5", f"127.0.0.1:{sport}"])
    el = time.time() - t0
    check(rc == 1 and 0.45 <= el < 3 and "no answer within 500 ms" in err,
          f"-w 0.5: connect to a stalled listener gives up in {el:.2f}s ({err.strip()})")
    filler.close()
    stalled.close()

    # idle timeout: a silent server, stdin kept open
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]
    cli = spawn([BIN, "connect", "-w", "0.5", f"127.0.0.1:{port}"], stdin=subprocess.PIPE)
    t0 = time.time()
    rc, _, _ = collect(cli, 10)
    el = time.time() - t0
    check(rc == 0 and 0.45 <= el < 3, f"-w 0.5: an idle session ends in {el:.2f}s with status 0")
    lsock.close()


def bad_input():
    cases = [
        (["connect", "127.0.0.1:99999"], "99999"),
        (["listen", "nohost:1"], "nohost"),
        (["connect", "[::1:80"], "["),
        (["connect", "--bogus", "127.0.0.1:1"], "--bogus"),
        (["connect"], "missing ENDPOINT"),
        (["listen", "-w"], "-w"),
        (["connect", "-w", "abc", "127.0.0.1:1"], "abc"),
        (["listen", "-z", "1234"], "-z"),
        (["connect", ":80"], "host"),
    ]
    for args, needle in cases:
        rc, out, err = run([BIN] + args)
        lines = err.strip().splitlines()
        check(rc == 2 and len(lines) == 1 and needle in lines[0],
              f"bad input {' '.join(args)!r}: exit {rc}, one line: {err.strip()!r}")
    port = free_port()
    rc, _, err = run([BIN, "connect", f"127.0.0.1:{port}"])
    check(rc == 1 and err.count("\n") == 1 and err.startswith(
              f"sockkit connect: connect 127.0.0.1:{port}: Connection refused: nothing accepts"),
          f"refused: exit 1 with the library's message and what it means ({err.strip()!r})")


def trace_lines():
    srv = spawn([BIN, "listen", "-v", "--trace", "127.0.0.1:0"])
    port = listen_port(srv)
    rc, _, cerr = run([BIN, "connect", "-N", "--trace", f"127.0.0.1:{port}"], input=b"hi\n")
    src, out, serr = collect(srv)
    t = r"\d\d:\d\d:\d\d\.\d{6} "
    m = re.search(t + r"client tcp   socket\(AF_INET, SOCK_STREAM, IPPROTO_TCP\) = (\d+)", cerr)
    cfd = m.group(1) if m else "?"
    want_client = [
        rf"client tcp   connect 127\.0\.0\.1:{port} ",
        rf"client tcp   > 127\.0\.0\.1:{port}  3 bytes @0  fd={cfd}",
        r"    00000000  68 69 0a +\|hi\.\|",
        r"client tcp   shutdown SHUT_WR",
        rf"client tcp   close {cfd}",
    ]
    m2 = re.search(r"server tcp   accept 127\.0\.0\.1:(\d+) = (\d+)", serr)
    want_server = [
        r"server tcp   socket\(AF_INET, SOCK_STREAM, IPPROTO_TCP\) = \d+",
        rf"server tcp   bind 127\.0\.0\.1:0 \(port 0: the kernel chose 127\.0\.0\.1:{port}\)",
        r"server tcp   listen backlog=\d+",
        r"server tcp   < 127\.0\.0\.1:\d+  3 bytes @0  fd=\d+",
    ]
    ok = m is not None and m2 is not None
    ok = ok and all(re.search(w, cerr) for w in want_client)
    ok = ok and all(re.search(w, serr) for w in want_server)
    if m2:
        ok = ok and re.search(rf"server tcp   close {m2.group(2)}", serr) is not None
    check(ok and rc == 0 and out == b"hi\n", "trace: connect/listen lines with real ports and fds")
    if not ok:
        print(cerr, serr)


# ---- sessions that end: -k after a client leaves, stdout's EOF, a second client ---------------
def wait_line(p, pattern, timeout=5):
    """Wait for a line matching pattern on p's stderr (kept in p.early_err); True if it came."""
    deadline = time.time() + timeout
    fd = p.stderr.fileno()
    while time.time() < deadline:
        if re.search(pattern, p.early_err):
            return True
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            p.early_err += chunk
    return re.search(pattern, p.early_err) is not None


def feed(p, data):
    """Write to p's stdin; a process that died early is a failed check later, not a crash here."""
    try:
        p.stdin.write(data)
        p.stdin.flush()
    except (BrokenPipeError, ValueError):
        pass


def keep_after_client_leaves():
    # TCP: the client closes while the server's stdin is still open. The next stdin line goes to a
    # socket whose peer is gone; that ends the session, not the server.
    srv = spawn([BIN, "listen", "-k", "-v", "127.0.0.1:0"], stdin=subprocess.PIPE)
    port = listen_port(srv)
    a = socket.create_connection(("127.0.0.1", port), timeout=5)
    a.sendall(b"from-a\n")
    got_a = read_until(srv.stdout, b"from-a\n")
    a.close()
    time.sleep(0.3)  # the server reads A's EOF
    for line in (b"to-a-1\n", b"to-a-2\n", b"to-a-3\n"):  # the first draws the reset, the next fail
        feed(srv, line)
        time.sleep(0.2)
    alive = srv.poll() is None
    b = socket.create_connection(("127.0.0.1", port), timeout=5)
    b.sendall(b"from-b\n")
    got_b = read_until(srv.stdout, b"from-b\n")
    feed(srv, b"to-b\n")
    data = b""
    deadline = time.time() + 5
    while not data.endswith(b"to-b\n") and time.time() < deadline:
        try:
            chunk = b.recv(100)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    b.close()
    still = srv.poll() is None
    srv.terminate()
    _, _, err = collect(srv)
    check(got_a and alive and got_b and data.endswith(b"to-b\n") and still,
          f"listen -k: a client that left while stdin was open does not end the server "
          f"({data!r}, {err.strip()!r})")
    # (the count of lost bytes needs the server to have read A's EOF before to-a-1 went out:
    # likely after the pause below, not certain on a loaded machine)
    lost = [l for l in err.splitlines() if "waiting for the next client" in l]
    check(len(lost) == 1 and ("7 bytes" in lost[0] or "reset" in lost[0]),
          f"listen -k: the lost write is one line that counts it and says the server goes on "
          f"({lost!r})")



def keep_after_unix_client_leaves():
    # Unix stream: the client's close is seen at once (a hang-up), without any stdin traffic.
    path = os.path.join(TMP, "k.sock")
    srv = spawn([BIN, "listen", "-k", "-U", path], stdin=subprocess.PIPE)
    wait_path(path)
    for name in (b"first", b"second"):
        c = socket.socket(socket.AF_UNIX)
        c.settimeout(5)
        c.connect(path)
        c.sendall(name + b"\n")
        ok = read_until(srv.stdout, name + b"\n")
        c.close()
        if not ok:
            break
    check(ok and srv.poll() is None,
          "listen -k -U: the next client is served when the last one closes, stdin untouched")
    srv.terminate()
    collect(srv)
    check(not os.path.exists(path), "listen -k -U: the socket file is removed at SIGTERM")


def read_to_eof(stream, timeout=5):
    """Read a pipe until EOF; returns (data, saw_eof)."""
    data = b""
    fd = stream.fileno()
    deadline = time.time() + timeout
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            chunk = os.read(fd, 65536)
            if not chunk:
                return data, True
            data += chunk
    return data, False


def stdout_eof():
    # `sockkit listen ... | reader`: the reader sees EOF when the client is done sending, while
    # sockkit's stdin stays open (it may still have things to say to the client).
    srv = spawn([BIN, "listen", "-v", "127.0.0.1:0"], stdin=subprocess.PIPE)
    port = listen_port(srv)
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    c.sendall(MID)
    c.shutdown(socket.SHUT_WR)
    data, eof = read_to_eof(srv.stdout)
    alive = srv.poll() is None
    feed(srv, b"still talking\n")
    srv.stdin.close()
    reply = c.recv(100)
    c.close()
    rc, _, err = collect(srv)
    check(data == MID and eof and alive and reply == b"still talking\n" and rc == 0,
          f"listen: stdout ends at the client's EOF while stdin is open {crc(data)} ({err.strip()!r})")

    # the same for connect: the server sends and shuts down its write side
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]
    cli = spawn([BIN, "connect", f"127.0.0.1:{port}"], stdin=subprocess.PIPE)
    conn, _ = lsock.accept()
    conn.sendall(b"reply\n")
    conn.shutdown(socket.SHUT_WR)
    data, eof = read_to_eof(cli.stdout)
    alive = cli.poll() is None
    feed(cli, b"late\n")
    cli.stdin.close()
    conn.settimeout(5)
    late = conn.recv(100)
    conn.close()
    lsock.close()
    rc, _, err = collect(cli)
    check(data == b"reply\n" and eof and alive and late == b"late\n" and rc == 0,
          f"connect: stdout ends at the server's EOF while stdin is open ({err.strip()!r})")


def second_client_refused():
    # Without -k the listening socket closes once the client is in: a second one is refused.
    srv = spawn([BIN, "listen", "-v", "127.0.0.1:0"], stdin=subprocess.PIPE)
    port = listen_port(srv)
    a = socket.create_connection(("127.0.0.1", port), timeout=5)
    accepted = wait_line(srv, rb"connection from")
    try:
        b = socket.create_connection(("127.0.0.1", port), timeout=5)
        b.close()
        refused = False
    except ConnectionRefusedError:
        refused = True
    a.sendall(b"first\n")
    first = read_until(srv.stdout, b"first\n")
    a.close()
    srv.stdin.close()
    rc, _, _ = collect(srv)
    check(accepted and refused and first and rc == 0,
          "listen without -k: a second client is refused during the first session")

    path = os.path.join(TMP, "one.sock")
    srv = spawn([BIN, "listen", "-v", "-U", path, "--exec", "cat"])
    wait_path(path)
    a = socket.socket(socket.AF_UNIX)
    a.settimeout(5)
    a.connect(path)
    accepted = wait_line(srv, rb"connection from")
    b = socket.socket(socket.AF_UNIX)
    try:
        b.connect(path)
        refused = False
    except ConnectionRefusedError:
        refused = True
    b.close()
    a.sendall(b"x\n")
    echoed = a.recv(10)
    a.close()
    rc, _, _ = collect(srv)
    check(not os.path.exists(path), "listen -U --exec: the socket file is removed at exit")
    check(accepted and refused and echoed == b"x\n" and rc == 0,
          "listen -U --exec without -k: a second client is refused during the first session")


def listen_wait_ignores_w():
    # -w bounds a session's idleness, not the wait for the first client (as nc documents).
    srv = spawn([BIN, "listen", "-v", "-w", "0.5", "127.0.0.1:0"], stdin=subprocess.PIPE)
    port = listen_port(srv)
    time.sleep(1.5)
    waited = srv.poll() is None
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    t0 = time.time()
    rc, _, err = collect(srv, 10)
    el = time.time() - t0
    c.close()
    check(waited and rc == 0 and 0.4 <= el < 5,
          f"listen -w 0.5: still waiting after 1.5 s; the idle session ends in {el:.2f}s ({err.strip()!r})")

    srv = spawn([BIN, "listen", "-u", "-v", "-w", "0.5", "127.0.0.1:0"])
    port = listen_port(srv)
    time.sleep(1.5)
    waited = srv.poll() is None
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"hi\n", ("127.0.0.1", port))
    s.close()
    rc, out, err = collect(srv, 10)
    check(waited and rc == 0 and out == b"hi\n",
          f"listen -u -w 0.5: waits for the first datagram, then idles out ({err.strip()!r})")


# ---- Unix datagrams: the client has an address, the listener survives a failed reply ----------
def unix_dgram():
    spath = os.path.join(TMP, "dg.sock")
    # sockkit connect -U -u -> a Python Unix datagram server that replies to the sender
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(spath)
    server.settimeout(5)
    cli = spawn([BIN, "connect", "-v", "-U", "-u", "-w", "1", spath], stdin=subprocess.PIPE)
    feed(cli, b"ping\n")
    try:
        data, sender = server.recvfrom(100)
    except socket.timeout:
        data, sender = b"", ""
    named = isinstance(sender, str) and sender.startswith(os.environ.get("TMPDIR", "/tmp"))
    if named:
        server.sendto(b"pong\n", sender)
    got = read_until(cli.stdout, b"pong\n")
    cli.stdin.close()
    rc, _, err = collect(cli)
    check(data == b"ping\n" and named and got and rc == 0,
          f"connect -U -u: bound to a temporary path ({sender!r}), the server's reply arrives ({err.strip()!r})")
    check(named and not os.path.exists(sender), "connect -U -u: the temporary path is removed at exit")

    # ... and removed when a signal ends it
    cli = spawn([BIN, "connect", "-U", "-u", spath], stdin=subprocess.PIPE)
    feed(cli, b"ping\n")
    try:
        _, sender = server.recvfrom(100)
    except socket.timeout:
        sender = ""
    cli.terminate()
    collect(cli)
    check(sender and not os.path.exists(sender), "connect -U -u: the temporary path is removed on SIGTERM")

    # -U -s PATH: the source is a Unix path, not a host name
    src = os.path.join(TMP, "src.sock")
    rc, _, err = run([BIN, "connect", "-U", "-u", "-s", src, "-w", "0.5", spath], input=b"from src\n")
    try:
        data, sender = server.recvfrom(100)
    except socket.timeout:
        data, sender = b"", ""
    check(rc == 0 and data == b"from src\n" and sender == src and not os.path.exists(src),
          f"connect -U -u -s PATH: sent from PATH ({sender!r}), removed at exit ({err.strip()!r})")
    server.close()
    os.unlink(spath)

    lsock = socket.socket(socket.AF_UNIX)
    lsock.bind(spath)
    lsock.listen()
    lsock.settimeout(5)
    cli = spawn([BIN, "connect", "-N", "-U", "-s", src, spath], stdin=subprocess.PIPE)
    try:
        conn, peer = lsock.accept()
    except socket.timeout:
        conn, peer = None, ""
    bound_during = os.path.exists(src)
    cli.stdin.close()
    if conn:
        conn.close()
    rc, _, err = collect(cli)
    lsock.close()
    os.unlink(spath)
    check(peer == src and bound_during and rc == 0 and not os.path.exists(src),
          f"connect -U -s PATH (stream): the server sees PATH as the peer ({peer!r}; {err.strip()!r})")

    # sockkit listen -U -u: an unbound Python sender cannot be answered, which costs that reply
    # and nothing else; a vanished sender the same; a bound one gets its reply.
    srv = spawn([BIN, "listen", "-v", "-U", "-u", spath], stdin=subprocess.PIPE)
    wait_path(spath)
    anon = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    anon.sendto(b"anonymous\n", spath)
    ok1 = read_until(srv.stdout, b"anonymous\n")
    feed(srv, b"lost 1\n")
    said = wait_line(srv, rb"cannot reply to unix:\(unnamed\)")
    anon.close()
    gone_path = os.path.join(TMP, "gone.sock")
    gone = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    gone.bind(gone_path)
    gone.sendto(b"about to go\n", spath)
    ok2 = read_until(srv.stdout, b"about to go\n")
    gone.close()
    os.unlink(gone_path)
    feed(srv, b"lost 2\n")
    said2 = wait_line(srv, rb"gone\.sock[^\n]*\(7 bytes not delivered\)")
    peer_path = os.path.join(TMP, "peer.sock")
    peer = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    peer.bind(peer_path)
    peer.settimeout(5)
    peer.sendto(b"named\n", spath)
    ok3 = read_until(srv.stdout, b"named\n")
    feed(srv, b"answer\n")
    try:
        answer = peer.recv(100)
    except socket.timeout:
        answer = b""
    alive = srv.poll() is None
    peer.close()
    srv.terminate()
    _, _, err = collect(srv)
    check(not os.path.exists(spath), "listen -U -u survives a gone sender, and removes its file at SIGTERM")
    check(ok1 and said and ok2 and said2 and ok3 and answer == b"answer\n" and alive,
          f"listen -U -u: failed replies (unbound, vanished sender) are one line each, the next "
          f"peer is answered ({err.strip()!r})")

    # sockkit to sockkit, both ways
    srv = spawn([BIN, "listen", "-U", "-u", spath], stdin=subprocess.PIPE)
    wait_path(spath)
    cli = spawn([BIN, "connect", "-U", "-u", spath], stdin=subprocess.PIPE)
    feed(cli, b"question\n")
    q = read_until(srv.stdout, b"question\n")
    feed(srv, b"answer\n")
    a = read_until(cli.stdout, b"answer\n")
    check(q and a, "connect -U -u <-> listen -U -u: question and answer both arrive")
    cli.terminate()
    srv.terminate()
    collect(cli)
    collect(srv)
    check(not os.path.exists(spath), "listen -U -u: the socket file is removed at SIGTERM")


def under_valgrind():
    """Both pumps under memcheck, each ended a way the process ends from inside the pump: listen
    -U -u and connect -U -u by SIGTERM (the handler removes the socket path and ends the process;
    the datagram pump's buffer was a heap block that this left lost: 65,680 bytes definitely lost,
    one report per process); connect -u to a port nobody receives on (exit 1 on the ICMP refusal);
    listen whose client sends 1 MiB and leaves (the stream pump's normal end)."""
    vg = memcheck()
    if not vg:
        return

    def memcheck_said(err):  # with -q valgrind writes only what it found, each line "==PID=="
        return [line for line in err.splitlines() if re.match(r"==\d+==", line)][:6]

    spath = os.path.join(TMP, "vg.sock")
    srv = subprocess.Popen(vg + [BIN, "listen", "-U", "-u", spath], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    procs.append(srv)
    wait_path(spath, timeout=30)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as c:
        c.sendto(b"to the listener\n", spath)
    got = read_until(srv.stdout, b"to the listener\n", timeout=30)
    srv.terminate()
    _, err = srv.communicate(timeout=60)
    said = memcheck_said(err.decode(errors="replace"))
    check(got and not said and not os.path.exists(spath),
          f"valgrind: listen -U -u ended by SIGTERM: the datagram came, the path is removed, "
          f"memcheck found nothing ({said})")

    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(spath)
    server.settimeout(30)
    cli = subprocess.Popen(vg + [BIN, "connect", "-U", "-u", spath], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    procs.append(cli)
    cli.stdin.write(b"to the server\n")
    cli.stdin.flush()
    try:
        data, _ = server.recvfrom(100)
    except socket.timeout:
        data = b""
    cli.terminate()
    _, err = cli.communicate(timeout=60)
    server.close()
    os.unlink(spath)
    said = memcheck_said(err.decode(errors="replace"))
    check(data == b"to the server\n" and not said,
          f"valgrind: connect -U -u ended by SIGTERM: the datagram came, memcheck found nothing "
          f"({said})")

    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    port = u.getsockname()[1]
    u.close()  # nobody receives there now: the kernel answers with port unreachable
    rc, _, err = run(vg + [BIN, "connect", "-u", "-w", "5", f"127.0.0.1:{port}"], input=b"hi\n",
                     timeout=60)
    check(rc == 1 and "Connection refused" in err and not memcheck_said(err),
          "valgrind: connect -u to a closed port ends with exit 1, memcheck found nothing "
          f"({rc}: {err.strip()[-300:]})")

    lport = free_port()
    srv = spawn(vg + [BIN, "listen", f"127.0.0.1:{lport}"], stdin=subprocess.DEVNULL)
    wait_bound(lport, timeout=30)
    with socket.create_connection(("127.0.0.1", lport), timeout=10) as c:
        c.sendall(MID)
        c.shutdown(socket.SHUT_WR)
    got, _ = read_to_eof(srv.stdout, timeout=60)
    srv.wait(timeout=60)
    check(got == MID and srv.returncode == 0,
          f"valgrind: listen takes 1 MiB and ends with the client, memcheck found nothing "
          f"(exit {srv.returncode}, {len(got)} bytes)")


try:
    tcp_transfers()
    unix_transfers()
    udp_transfers()
    udp_three_peers()
    half_close()
    exec_mode()
    zero_and_timeouts()
    bad_input()
    trace_lines()
    for scenario in (keep_after_client_leaves, keep_after_unix_client_leaves, stdout_eof, second_client_refused,
                     listen_wait_ignores_w, unix_dgram, under_valgrind):
        try:
            scenario()
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:  # a dead sockkit, say
            check(False, f"{scenario.__name__}: {e!r}")
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(TMP, ignore_errors=True)
finish()
