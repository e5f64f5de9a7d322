"""SIGTERM to `sockkit serve echo` in every model while clients stay connected: idle clients
(3, 10 and 70; they never send and never close) and 50 streaming clients (they keep sending and
reading). The server must exit 0 within the drain deadline (5 s; 7 s allowed for a loaded
machine), every client must see its connection end (EOF or a reset, never a hang), echoed bytes
must be exactly the client's own, and what the server read it answered: bytes in = bytes out =
what the clients received, unless a client was reset (then it knows)."""
import os
import selectors
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import check, finish, kill_started, serve, skip, stop_counts  # noqa: E402
from hostile import MODELS, connect_many, raise_fd_limit, zombies  # noqa: E402

DRAIN_S = 5.0    # cli/serve.c drains for 5 s
SLACK_S = 2.0    # a loaded machine
BLOB = os.urandom(1 << 18)


def wait_exits(procs, t0, limit):
    """Wait for every process to exit (limit s after t0), each timed on its own; returns
    {proc: (seconds after t0 or None if killed, stderr text)}."""
    done = {}
    while len(done) < len(procs) and time.time() < t0 + limit:
        for p in procs:
            if p not in done and p.poll() is not None:
                done[p] = time.time() - t0
        time.sleep(0.01)
    out = {}
    for p in procs:
        if p not in done:
            os.killpg(p.pid, signal.SIGKILL)  # its session: forked children too (they hold stderr)
        _, err = p.communicate(timeout=10)
        out[p] = (done.get(p), err.decode(errors="replace"))
    return out


def idle_round(n):
    """All five models at once, n idle clients each, one SIGTERM each at the same moment."""
    servers = {}
    for model in MODELS:
        p, host, port = serve(["echo", "--model", model, "127.0.0.1:0"], start_new_session=True)
        servers[model] = (p, connect_many((host, port), n))
    time.sleep(0.5)  # let each server take in what it will
    t0 = time.time()
    for p, _ in servers.values():
        p.send_signal(signal.SIGTERM)
    exits = wait_exits([p for p, _ in servers.values()], t0, DRAIN_S + SLACK_S + 3)
    for model, (p, socks) in servers.items():
        took, err = exits[p]
        ends = {"eof": 0, "reset": 0, "open": 0}
        for s in socks:
            s.settimeout(1)
            try:
                ends["eof" if s.recv(1) == b"" else "open"] += 1
            except ConnectionResetError:
                ends["reset"] += 1
            except OSError:
                ends["open"] += 1
            s.close()
        st = stop_counts(err)
        check(took is not None and took < DRAIN_S + SLACK_S and p.returncode == 0 and st,
              f"{model}, {n} idle clients: exit {p.returncode} {took and round(took, 2)} s after "
              f"SIGTERM (deadline {DRAIN_S:.0f} s)")
        check(len(socks) == n and ends["open"] == 0,
              f"{model}, {n} idle clients: every connection ended {ends}")
        if model == "fork":
            check(not zombies(p.pid), "fork: no zombies")


class Streamer:
    """A client that keeps sending its own byte stream and reads the echo; it closes when the
    server ends the connection (EOF) and checks every echoed byte."""

    def __init__(self, sock, i):
        self.sock, self.off = sock, i * 4099
        self.sent = self.got = 0
        self.bad = False
        self.end = None  # 'eof' or 'reset'

    def stream(self, at, n):
        o = (self.off + at) % len(BLOB)
        out = BLOB[o:o + n]
        while len(out) < n:
            out += BLOB[:n - len(out)]
        return out

    def on_write(self):
        if self.sent - self.got < 256 * 1024:  # a reading client: bounded bytes in flight
            try:
                self.sent += self.sock.send(self.stream(self.sent, 16384))
            except BlockingIOError:
                pass

    def on_read(self):
        b = self.sock.recv(65536)
        if not b:
            self.end = "eof"
            return
        if b != self.stream(self.got, len(b)):
            self.bad = True
        self.got += len(b)


def pump(clients, until):
    sel = selectors.DefaultSelector()
    for c in clients:
        if c.end is None:
            sel.register(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
    while sel.get_map() and time.time() < until:
        for key, ev in sel.select(0.2):
            c = key.data
            try:
                if ev & selectors.EVENT_READ:
                    c.on_read()
                if c.end is None and ev & selectors.EVENT_WRITE:
                    c.on_write()
            except (ConnectionResetError, BrokenPipeError):
                c.end = "reset"
            except BlockingIOError:
                pass
            if c.end:
                sel.unregister(c.sock)
                c.sock.close()
    sel.close()


def streaming(model, n=50):
    p, host, port = serve(["echo", "--model", model, "127.0.0.1:0"], start_new_session=True)
    clients = [Streamer(s, i) for i, s in enumerate(connect_many((host, port), n))]
    for c in clients:
        c.sock.setblocking(False)
    pump(clients, time.time() + 1.0)
    t0 = time.time()
    p.send_signal(signal.SIGTERM)
    pump(clients, t0 + DRAIN_S + SLACK_S + 3)
    took, err = wait_exits([p], t0, DRAIN_S + SLACK_S + 3)[p]
    for c in clients:
        if c.end is None:
            c.sock.close()
    st = stop_counts(err)
    ends = {e: sum(1 for c in clients if c.end == e) for e in ("eof", "reset", None)}
    received = sum(c.got for c in clients)
    check(took is not None and took < DRAIN_S + SLACK_S and p.returncode == 0 and st,
          f"{model}, {n} streaming clients: exit {p.returncode} {took and round(took, 2)} s "
          f"after SIGTERM")
    check(len(clients) == n and ends[None] == 0,
          f"{model}, {n} streaming clients: every connection ended {ends}")
    check(not any(c.bad for c in clients), f"{model}: every echoed byte was the client's own")
    if not st:
        return
    if ends["reset"] == 0:
        ok = st["bytes_in"] == st["bytes_out"] == received
    else:  # a reset client knows that what it sent may not all have been answered
        ok = received <= st["bytes_out"] <= st["bytes_in"]
    check(ok, f"{model}: read {st['bytes_in']}, answered {st['bytes_out']}, clients received "
          f"{received}, {ends['reset']} reset, {st['cut_off']} cut off, {st['errors']} errors")
    check(st["errors"] == 0, f"{model}: resets and the drain are not handler errors")
    if model == "fork":
        check(not zombies(p.pid), "fork: no zombies")


try:
    if not raise_fd_limit(5 * 2 * 70 + 100):
        skip("not enough file descriptors for 5 x 70 clients")
    t_start = time.time()
    for n in (3, 10, 70):
        idle_round(n)
    for model in MODELS:
        streaming(model)
    print(f"took {time.time() - t_start:.1f} s")
finally:
    kill_started()
finish()
