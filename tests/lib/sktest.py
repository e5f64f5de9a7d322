"""Helpers shared by the script tests (Python 3 standard library only)."""
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time

SRC = os.environ.get("SK_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("SK_BUILD", os.path.join(SRC, "build"))
HELPERS = os.environ.get("SK_HELPERS", os.path.join(BUILD, "tests", "helpers"))
BIN = os.environ.get("SK_BIN", os.path.join(BUILD, "sockkit"))

failures = []


def check(cond, what):
    """Record a failed expectation (and keep going, so one run shows every failure)."""
    if cond:
        print("ok   ", what)
    else:
        print("FAIL ", what)
        failures.append(what)


def finish():
    """Exit 1 if any check failed."""
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("all checks passed")
    sys.exit(0)


def skip(why):
    print("SKIP:", why)
    sys.exit(77)


def start(args, **kw):
    """Start a process with pipes; the caller reads its first line for the port."""
    return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def read_port(proc, timeout=10):
    """Read 'port N' (or 'ready') from a helper's first stdout line."""
    import select
    r, _, _ = select.select([proc.stdout], [], [], timeout)
    if not r:
        proc.kill()
        raise RuntimeError("helper did not report its port")
    line = proc.stdout.readline().strip()
    if line.startswith("port "):
        return int(line.split()[1])
    return line


def free_port(kind="tcp", host="127.0.0.1"):
    """A port nobody uses right now (for peers such as nc that cannot report port 0)."""
    import socket
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    typ = socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM
    with socket.socket(fam, typ) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_bound(port, kind="tcp", timeout=5.0):
    """Wait until some socket listens on (tcp) or is bound to (udp) port, without connecting to
    it (a connection would use up a one-shot server such as nc -l)."""
    import time
    want = f":{port:04X} "
    deadline = time.time() + timeout
    files = [f"/proc/net/{kind}", f"/proc/net/{kind}6"]
    while time.time() < deadline:
        for f in files:
            try:
                with open(f) as fh:
                    for line in fh.readlines()[1:]:
                        cols = line.split()
                        if cols[1].endswith(want.strip()) and (kind == "udp" or cols[3] == "0A"):
                            return True
            except OSError:
                pass
        time.sleep(0.02)
    raise RuntimeError(f"nothing {kind}-bound on port {port} within {timeout}s")


def _unix_listening(path):
    """For the socket bound at path: True once it listens (a stream or seqpacket socket whose
    /proc/net/unix flags have __SO_ACCEPTCON) or if it never will (a datagram socket, or no
    entry to go by); False while a stream socket is bound but not listening yet."""
    try:
        with open("/proc/net/unix") as f:
            rows = [line.split() for line in f.readlines()[1:]]
    except OSError:
        return True
    mine = [r for r in rows if len(r) >= 8 and r[7] == path]
    if not mine:
        return True
    return any(int(r[4], 16) == 2 or int(r[3], 16) & 0x10000 for r in mine)


def wait_path(path, timeout=5.0):
    """Until the Unix socket at path exists and, for a stream socket, listens: the file appears
    at bind, a moment before listen(2), and a client that connects in between is refused."""
    import os
    import time
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path) and _unix_listening(path):
            return True
        time.sleep(0.02)
    raise RuntimeError(f"{path} did not appear (or did not listen) within {timeout}s")


def run(args, input=b"", timeout=30):
    """Run to completion; returns (exit status, stdout bytes, stderr text)."""
    p = subprocess.run(args, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def memcheck():
    """valgrind memcheck as a command prefix (an error, a definite or an indirect leak: exit 99),
    or None where it cannot run: a sanitized build (ASan, TSan; a note says so). valgrind missing
    is a failed check: the test dependencies (scripts/deps.sh test) install it."""
    import shutil
    libs = run(["ldd", BIN])[1]
    if b"libasan" in libs or b"libtsan" in libs:
        print("note: a sanitized build; the valgrind cases are left out")
        return None
    if not shutil.which("valgrind"):
        check(False, "valgrind installed (scripts/deps.sh test installs it)")
        return None
    return ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect"]


started = []  # every process serve() started: kill_started() ends those still running


def _first_line(p, timeout):
    """The first line p writes on stderr (read a byte at a time, so nothing after it is taken
    from the pipe), within timeout seconds."""
    line = b""
    deadline = time.time() + timeout
    while time.time() < deadline and b"\n" not in line:
        r, _, _ = select.select([p.stderr], [], [], 0.1)
        if r:
            c = os.read(p.stderr.fileno(), 1)
            if not c:
                break
            line += c
    return line


def serve(args, timeout=5.0, **popen_kw):
    """Start `sockkit serve -v ARGS`; returns (proc, host, port) from its 'serving' line on
    stderr (port None for a unix endpoint, whose host is then 'unix:/path' or 'unix:@name')."""
    p = subprocess.Popen([BIN, "serve", "-v"] + args, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen_kw)
    started.append(p)
    deadline = time.time() + timeout
    p.early_lines = []  # --trace: the socket calls come before the 'serving' line
    while True:
        line = _first_line(p, max(deadline - time.time(), 0.1))
        m = re.search(rb"serving \S+ on (\S+)(?: (\d+))?", line)
        if m or not line or time.time() >= deadline:
            break
        p.early_lines.append(line)
    if not m:
        raise RuntimeError(f"no 'serving' line: {line!r}")
    p.serving_line = line.decode(errors="replace").strip()
    return p, m.group(1).decode(), int(m.group(2)) if m.group(2) else None


def stop(p, sig=signal.SIGTERM, timeout=15):
    """Signal a server and wait for it; returns (exit status, the rest of its stderr)."""
    p.send_signal(sig)
    _, err = p.communicate(timeout=timeout)
    return p.returncode, err.decode(errors="replace")


def kill_started():
    """For a test's finally: kill every server serve() started that is still running."""
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait()


def stop_counts(err):
    """The counters of serve's stop line ('echo stopped: A accepted, ... C cut off at drain') as a
    dict (accepted, rejected, errors, bytes_in, bytes_out, cut_off), or None without one."""
    m = re.search(r"stopped: (\d+) accepted, (\d+) rejected, (\d+) errors?, (\d+) bytes? in, "
                  r"(\d+) bytes? out, (\d+) cut off at drain", err)
    if not m:
        return None
    keys = ("accepted", "rejected", "errors", "bytes_in", "bytes_out", "cut_off")
    return dict(zip(keys, map(int, m.groups())))


def serving_port(text):
    """The port in sockkit serve -v's 'serving SERVICE on HOST PORT (...)' line, or None."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    m = re.search(r"serving \S+ on \S+ (\d+) \(", text)
    return int(m.group(1)) if m else None


def recv_to_eof(sock, bufsize=65536):
    """Everything a stream socket receives until the peer's FIN (the socket's own timeout
    applies to each recv)."""
    got = b""
    while True:
        b = sock.recv(bufsize)
        if not b:
            return got
        got += b


class DgramTarget:
    """A datagram server on loopback (UDP, or Unix at `path`) on a thread of its own: it answers
    each datagram with prefix(i, sender) + payload (i: the sender's number, in order of first
    appearance) and remembers the senders (peers) and payloads (got); an unbound Unix sender's
    datagram is remembered, not answered. close() stops it."""

    def __init__(self, prefix, path=None):
        fam = socket.AF_UNIX if path else socket.AF_INET
        self.prefix = prefix
        self.s = socket.socket(fam, socket.SOCK_DGRAM)
        self.s.bind(path if path else ("127.0.0.1", 0))
        self.s.settimeout(0.2)
        self.port = None if path else self.s.getsockname()[1]
        self.peers, self.got = [], []
        self.running = True
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while self.running:
            try:
                data, peer = self.s.recvfrom(65536)
            except socket.timeout:
                continue
            self.got.append(data)
            if peer is None or peer in (b"", ""):
                continue
            if peer not in self.peers:
                self.peers.append(peer)
            self.s.sendto(self.prefix(self.peers.index(peer), peer) + data, peer)

    def close(self):
        self.running = False
        self.t.join()
        self.s.close()


def relay(args, timeout=5.0, **popen_kw):
    """Start `sockkit relay -v ARGS` (LISTEN as 127.0.0.1:0 or a unix: path); returns (proc, port)
    from its 'relaying ADDR' line on stderr (port None for a unix endpoint). The rest of stderr is
    read by the caller (stop() or p.stderr)."""
    p = subprocess.Popen([BIN, "relay", "-v"] + args, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen_kw)
    started.append(p)
    line = _first_line(p, timeout)
    m = re.search(rb"relaying (\S+) \(", line)
    if not m:
        p.kill()
        raise RuntimeError(f"no 'relaying' line: {line!r}")
    p.relaying = line.decode(errors="replace").strip()
    addr = m.group(1).decode()
    port = int(addr.rsplit(":", 1)[1]) if not addr.startswith("unix:") else None
    return p, port


def collect_stderr(p):
    """Read p's stderr on a thread from now on (a busy relay's -v lines must not fill the pipe
    and block it); stop_collected(p) signals it, waits, and returns (status, the text)."""
    import threading
    p.err_chunks = []

    def pump():
        while True:
            b = os.read(p.stderr.fileno(), 65536)
            if not b:
                break
            p.err_chunks.append(b)

    p.err_thread = threading.Thread(target=pump, daemon=True)
    p.err_thread.start()


def stop_collected(p, sig=signal.SIGTERM, timeout=30):
    p.send_signal(sig)
    p.wait(timeout=timeout)
    p.err_thread.join(timeout=timeout)
    return p.returncode, b"".join(p.err_chunks).decode(errors="replace")



def tcp_server(handler, rcvbuf=0):
    """A threaded Python TCP server (socketserver, handler a BaseRequestHandler class) on
    127.0.0.1 port 0, serving on a daemon thread; returns (server, "127.0.0.1:PORT"). rcvbuf:
    SO_RCVBUF of its connections (set on the listening socket, so the window is small from the
    handshake on)."""
    import socket
    import socketserver
    import threading

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

        def server_bind(self):
            if rcvbuf:
                self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            super().server_bind()

    s = Server(("127.0.0.1", 0), handler)
    threading.Thread(target=s.serve_forever, args=(0.1,), daemon=True).start()
    return s, f"127.0.0.1:{s.server_address[1]}"


def echo_server(flip_at=None, before_send=None, nodelay=False):
    """A Python echo server for the bench tests (tcp_server); returns (server, "127.0.0.1:PORT").
    flip_at: the byte of each connection's stream to send back with its low bit flipped (a
    server that corrupts); before_send(): called before each echo (a stall); nodelay:
    TCP_NODELAY on its connections."""
    import socket
    import socketserver

    class Echo(socketserver.BaseRequestHandler):
        def handle(self):
            if nodelay:
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            seen = 0
            while True:
                try:
                    data = self.request.recv(65536)
                except OSError:  # the bench closes with echoes still unread
                    return
                if not data:
                    return
                if flip_at is not None and seen <= flip_at < seen + len(data):
                    b = bytearray(data)
                    b[flip_at - seen] ^= 0x01
                    data = bytes(b)
                seen += len(data)
                if before_send:
                    before_send()
                try:
                    self.request.sendall(data)
                except OSError:
                    return

    return tcp_server(Echo)



def strace_calls(args, timeout=60):
    """Run args to completion under strace -f -c: (exit status, stdout bytes, stderr text,
    {system call: calls}), counts a test can hold a program to whatever the machine's load.
    LeakSanitizer cannot run under ptrace (it fails the ASan build's run), so it is off here."""
    import tempfile
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
    with tempfile.TemporaryDirectory() as d:
        table = os.path.join(d, "strace.txt")
        p = subprocess.run(["strace", "-f", "-c", "-o", table] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, env=env)
        calls = {}
        with open(table) as f:
            for line in f:
                m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?([a-z_0-9]+)\s*$",
                             line)
                if m and m.group(2) != "total":
                    calls[m.group(2)] = int(m.group(1))
    return p.returncode, p.stdout, p.stderr.decode(errors="replace"), calls
