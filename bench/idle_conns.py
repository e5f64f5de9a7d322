#!/usr/bin/env python3
"""What idle connections cost a server: memory per connection, and whether a new client is still
served promptly while they are held. Loopback only; every wait is bounded.

usage: bench/idle_conns.py [-n N] [--tries T] [--json] SERVER COMMAND...
       bench/idle_conns.py build/sockkit serve -v echo 127.0.0.1:0
       bench/idle_conns.py epoll        (bench/peers/epoll_echo.c, built into build-bench/)

The server command must print its port ("port N", or sockkit's -v line "... on 127.0.0.1 N ...")
on stdout or stderr and echo what it receives. It is started with RLIMIT_NOFILE raised to
N + 10,000 (this script raises its own limit, the hard one too when it runs as root).

Steps: 1,000 warm-up echoes of 64 bytes on one connection (the server's fixed buffers in use);
TRIES new clients one after another, each timed from connect() to the last byte of a 64-byte echo
(no idle connections); the server's VmRSS; N connections opened one after another, each checked
with a 1-byte echo (so each was accepted and is being served), VmRSS taken after the first half
and after all, the server's open fds counted in /proc/PID/fd; TRIES new clients timed again while
the N are held; the N closed, VmRSS once the server's fds are back down; SIGTERM.
VmRSS is the server's user-space memory only: the kernel's socket buffers are not in it.
"""
import argparse
import json
import os
import re
import resource
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEADLINE_S = 180  # the whole run
IO_TIMEOUT_S = 5  # any one connect, send or receive
WARM_ECHOES = 1000  # 64-byte echoes on one connection before the baseline


def fail(msg):
    sys.exit(f"idle_conns.py: {msg}")


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return
    if hard < want and os.geteuid() == 0:
        hard = want  # root may raise the hard limit (up to fs.nr_open)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))


def epoll_command():
    exe = os.path.join(ROOT, "build-bench", "epoll_echo")
    src = os.path.join(ROOT, "bench", "peers", "epoll_echo.c")
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
        os.makedirs(os.path.dirname(exe), exist_ok=True)
        subprocess.run(["cc", "-O2", "-D_GNU_SOURCE", "-Wall", "-Werror", "-o", exe, src], check=True)
    return [exe, "0"]


class Server:
    """The server under test, started by this script and stopped by its PID."""

    def __init__(self, argv, nofile):
        self.argv = argv
        self.log = tempfile.TemporaryFile(mode="w+")
        limit = (nofile, nofile)
        self.proc = subprocess.Popen(
            argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, limit))
        self.pid = self.proc.pid
        self.port, self.banner = self._wait_port()

    def _wait_port(self):
        for _ in range(100):  # 5 s
            self.log.seek(0)
            text = self.log.read()
            m = re.search(r"port (\d+)|on 127\.0\.0\.1 (\d+)", text)
            if m:
                line = text[:m.end()].rsplit("\n", 1)[-1] + text[m.end():].split("\n", 1)[0]
                return int(m.group(1) or m.group(2)), line.strip()
            if self.proc.poll() is not None:
                fail(f"the server exited ({self.proc.returncode}) before showing its port:\n{text}")
            time.sleep(0.05)
        self.stop()
        fail("the server did not show its port within 5 s")

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def fds(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def stop(self):
        """SIGTERM (sockkit drains and exits 0); SIGKILL after 10 s. Returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def echo(s, data):
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = s.recv(len(data) - len(got))
        if not chunk:
            raise ConnectionError(f"the server closed after {len(got)} of {len(data)} bytes")
        got += chunk
    if got != data:
        raise ConnectionError("the echo differs from what was sent")


def new_client_ms(port, tries):
    """Times of connect() to the last byte of a 64-byte echo, for TRIES new clients in turn."""
    times = []
    msg = bytes(range(64))
    for _ in range(tries):
        t0 = time.perf_counter()
        s = connect(port)
        echo(s, msg)
        times.append((time.perf_counter() - t0) * 1000)
        s.close()
    return {"median": statistics.median(times), "max": max(times)}


def hold(port, n, deadline):
    """Open N connections and echo 1 byte on each; returns the sockets."""
    conns = []
    try:
        for i in range(n):
            if time.monotonic() > deadline:
                raise TimeoutError(f"out of time after {i} connections")
            s = connect(port)
            conns.append(s)
            echo(s, b"%c" % (65 + i % 26))
    except (OSError, ConnectionError) as e:
        for s in conns:
            s.close()
        raise RuntimeError(f"connection {len(conns)} of {n}: {e}") from e
    return conns


def measure(server, n, tries):
    deadline = time.monotonic() + DEADLINE_S
    r = {"command": " ".join(server.argv), "pid": server.pid, "port": server.port,
         "banner": server.banner, "connections": n}
    # Warm-up: whatever the server sets up lazily is there from now on, and its fixed per-loop
    # buffers are in use as in any server that has run a while (io_uring's provided-buffer ring
    # hands its 256 buffers out in turn: 1 MiB that the first 256 reads touch, however many
    # connections there are), so the growth below is what the connections themselves cost.
    s = connect(server.port)
    for _ in range(WARM_ECHOES):
        echo(s, b"w" * 64)
    s.close()
    time.sleep(0.2)
    r["new_client_ms_no_idle"] = new_client_ms(server.port, tries)
    time.sleep(0.2)
    r["server_fds_before"] = server.fds()
    r["rss_kib_before"] = server.rss_kib()
    conns = hold(server.port, n // 2, deadline)
    time.sleep(0.2)
    r["rss_kib_half"] = server.rss_kib()
    conns += hold(server.port, n - n // 2, deadline)
    time.sleep(0.2)
    r["server_fds_held"] = server.fds()
    r["rss_kib_held"] = server.rss_kib()
    r["bytes_per_conn"] = round((r["rss_kib_held"] - r["rss_kib_before"]) * 1024 / n)
    # the second half alone: what one more connection costs (the slope), free of any fixed part
    r["bytes_per_conn_second_half"] = round((r["rss_kib_held"] - r["rss_kib_half"]) * 1024 /
                                            (n - n // 2))
    r["new_client_ms_held"] = new_client_ms(server.port, tries)
    for c in conns:
        c.close()
    for _ in range(100):  # up to 10 s for the server to see the closes
        if server.fds() <= r["server_fds_before"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    r["server_fds_after_close"] = server.fds()
    r["rss_kib_after_close"] = server.rss_kib()
    return r


def report(r):
    n = r["connections"]
    a, b = r["new_client_ms_no_idle"], r["new_client_ms_held"]
    per = r["bytes_per_conn"]
    rows = [
        ("server", f"{r['command']} (pid {r['pid']}, port {r['port']})"),
        ("", r["banner"]),
        ("connections held", f"{n}, each echoed 1 byte; server fds {r['server_fds_before']} -> "
                             f"{r['server_fds_held']}"),
        ("server VmRSS before", f"{r['rss_kib_before']:,} KiB"),
        (f"server VmRSS with {n} held", f"{r['rss_kib_held']:,} KiB"),
        ("growth per connection", f"{per:,} bytes (target < 4,096: {'met' if per < 4096 else 'MISSED'})"),
        (f"  of the second {n - n // 2}", f"{r['bytes_per_conn_second_half']:,} bytes each "
                                          f"(VmRSS {r['rss_kib_half']:,} KiB at {n // 2})"),
        ("server VmRSS after they closed", f"{r['rss_kib_after_close']:,} KiB "
                                           f"(fds {r['server_fds_after_close']})"),
        ("new client, no idle connections", f"{a['median']:.3f} ms median of {r['tries']} (max {a['max']:.3f})"),
        (f"new client, {n} idle held", f"{b['median']:.3f} ms median of {r['tries']} (max {b['max']:.3f}), "
                                        f"{b['median'] / a['median']:.2f}x"),
        ("server after SIGTERM", f"exit status {r['exit_status']}" if r["exit_status"] >= 0
                                 else f"killed by signal {-r['exit_status']} (it has no handler)"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=10000, help="idle connections to hold (default 10000)")
    ap.add_argument("--tries", type=int, default=20, help="new clients timed each way (default 20)")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    ap.add_argument("server", nargs=argparse.REMAINDER,
                    help="the server command (one argument or several), or 'epoll'")
    args = ap.parse_args()
    if not args.server:
        ap.error("give the server command, or 'epoll'")
    if args.n < 1 or args.tries < 1:
        ap.error("-n and --tries must be at least 1")
    argv = args.server if len(args.server) > 1 else shlex.split(args.server[0])
    if argv == ["epoll"]:
        argv = epoll_command()
    raise_nofile(args.n + 1000)
    server = Server(argv, args.n + 10000)
    try:
        r = measure(server, args.n, args.tries)
    except (OSError, ConnectionError, RuntimeError, TimeoutError) as e:
        server.stop()
        fail(str(e))
    r["tries"] = args.tries
    r["exit_status"] = server.stop()
    if args.json:
        print(json.dumps(r))
    else:
        report(r)


if __name__ == "__main__":
    main()
