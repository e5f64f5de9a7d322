"""sockkit relay --via: each client's target connection through a proxy. Real proxies from Debian
started here on loopback with configuration files of this test's own and stopped by PID (danted
for SOCKS5, tinyproxy for HTTP CONNECT): several concurrent clients through the relay each get
exactly their own bytes back from a Python echo server, spliced and with --no-splice; a closed
target behind the proxy resets the client, the relay goes on and -v quotes the proxy's reply.
Fake proxies in Python: one that sends tunnel bytes in the same segment as its reply (they reach
the client first, in order), one that never answers (the client is reset after
--connect-timeout). Usage errors: -u with --via, a Unix proxy, -X without --via. Parts needing a
missing package are skipped; all of it (77) when neither proxy is installed."""
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sktest import BIN, check, finish, free_port, kill_started, relay, stop  # noqa: E402

from sk_proxies import (DANTED, TINYPROXY, Echo, start_dante, start_tinyproxy,  # noqa: E402
                        stop as stop_daemon)

CLIENTS = 8
SIZE = 200 * 1024


def one_client(port, i, results):
    payload = random.Random(i).randbytes(SIZE + i)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as c:
            c.sendall(len(payload).to_bytes(4, "big") + payload)
            got = b""
            while len(got) < len(payload):
                b = c.recv(65536)
                if not b:
                    break
                got += b
        results[i] = got == payload
    except OSError as e:
        results[i] = repr(e)


def concurrent(label, args, target):
    """CLIENTS clients at once through `relay ARGS 127.0.0.1:0 TARGET`, each its own bytes."""
    p, port = relay(args + ["127.0.0.1:0", target])
    results = {}
    threads = [threading.Thread(target=one_client, args=(port, i, results)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    ok = sum(1 for v in results.values() if v is True)
    check(ok == CLIENTS, f"{label}: {CLIENTS} concurrent clients each got their bytes back "
          f"({ok} ok: {results})")
    rc, err = stop(p)
    check(rc == 0 and err.count("closed ") == CLIENTS and "0 target failures" in err,
          f"{label}: exit 0, a closed line each, no failure ({rc}, {err[-400:]!r})")
    return err


def reset_expected(port, label):
    try:  # on loopback the reset can come before connect() has returned
        with socket.create_connection(("127.0.0.1", port), timeout=30) as c:
            c.settimeout(30)
            b = c.recv(10)
        check(False, f"{label}: the client is reset, not given {b!r}")
    except ConnectionResetError:
        check(True, f"{label}: the client sees a reset")


def refused(label, args, want):
    p, port = relay(args + ["127.0.0.1:0", f"127.0.0.1:{free_port()}"])
    reset_expected(port, label)
    check(p.poll() is None, f"{label}: the relay keeps running")
    rc, err = stop(p)
    check(rc == 0 and "1 target failure" in err and want(err),
          f"{label}: counted, -v quotes the proxy's reply ({rc}, {err.strip()!r})")


def test_dante(tmp, echo):
    p, port, log = start_dante(tmp)
    if not p:
        check(False, f"danted started ({open(log).read()[-400:]})")
        return
    try:
        via = ["--via", f"127.0.0.1:{port}"]
        err = concurrent("dante, splice", via, f"127.0.0.1:{echo.port}")
        check(err.count("spliced") == CLIENTS, f"dante: the pairs are spliced after the "
              f"handshake: {err[-300:]!r}")
        concurrent("dante, --no-splice", via + ["--no-splice"], f"localhost:{echo.port}")
        refused("dante, closed target", via,
                lambda e: f"SOCKS5 proxy 127.0.0.1:{port}: " in e and "reply 5: Connection refused"
                in e and "client reset" in e)
    finally:
        stop_daemon(p)


def test_tinyproxy(tmp, echo):
    p, port, log = start_tinyproxy(tmp)
    if not p:
        check(False, f"tinyproxy started ({open(log).read()[-400:]})")
        return
    try:
        via = ["--via", f"127.0.0.1:{port}", "-X", "connect"]
        concurrent("tinyproxy, splice", via, f"127.0.0.1:{echo.port}")
        concurrent("tinyproxy, --no-splice", via + ["--no-splice"], f"127.0.0.1:{echo.port}")
        refused("tinyproxy, closed target", via,
                lambda e: f"HTTP CONNECT proxy 127.0.0.1:{port}: " in e and "answered 'HTTP/1."
                in e and "client reset" in e)
    finally:
        stop_daemon(p)


class FakeSocks5:
    """A SOCKS5 proxy of one behaviour: 'eager' answers the request and, in the same send, the
    first tunnel bytes (then echoes what comes); 'stall' accepts and never answers; 'bad' answers
    the greeting as SOCKS4 would not; 'close' closes after reading the greeting."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.conns = []
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conns.append(conn)
            if self.mode == "eager":
                threading.Thread(target=self.eager, args=(conn,), daemon=True).start()
            elif self.mode in ("bad", "close"):
                threading.Thread(target=self.short, args=(conn, self.mode), daemon=True).start()

    @staticmethod
    def eager(conn):
        try:
            conn.settimeout(20)
            conn.recv(3)  # 05 01 00
            conn.sendall(b"\x05\x00")
            req = b""  # the relay asks for 127.0.0.1:9: 05 01 00 01, 4 address bytes, port
            while len(req) < 10:
                b = conn.recv(10 - len(req))
                if not b:
                    return
                req += b
            conn.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x00" + b"HELLO-FIRST|")
            while True:
                b = conn.recv(65536)
                if not b:
                    break
                conn.sendall(b)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            conn.close()

    @staticmethod
    def short(conn, mode):
        try:
            conn.settimeout(20)
            conn.recv(3)
            if mode == "bad":
                conn.sendall(b"\x04\x5a")
                conn.recv(1)  # until the relay resets it
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()
        for c in self.conns:
            c.close()


def test_fakes():
    eager = FakeSocks5("eager")
    try:
        for mode in ([], ["--no-splice"]):
            p, port = relay(["--via", f"127.0.0.1:{eager.port}"] + mode +
                            ["127.0.0.1:0", "127.0.0.1:9"])
            with socket.create_connection(("127.0.0.1", port), timeout=30) as c:
                c.sendall(b"and then this")
                c.shutdown(socket.SHUT_WR)
                got = b""
                while True:
                    b = c.recv(65536)
                    if not b:
                        break
                    got += b
            check(got == b"HELLO-FIRST|and then this",
                  f"eager proxy {mode}: the bytes after its reply reach the client first "
                  f"({got!r})")
            rc, err = stop(p)
            check(rc == 0 and "12 bytes target->client" not in err
                  and "25 bytes target->client" in err,
                  f"eager proxy {mode}: the early bytes are counted ({err.strip()!r})")
    finally:
        eager.close()
    stall = FakeSocks5("stall")
    try:
        p, port = relay(["--via", f"127.0.0.1:{stall.port}", "--connect-timeout", "2",
                         "127.0.0.1:0", "127.0.0.1:9"])
        # a client that leaves during the handshake is paused (as while a connect runs): its
        # leaving is seen at the deadline, and it counts as a failure as well
        with socket.create_connection(("127.0.0.1", port), timeout=30):
            time.sleep(0.3)
        reset_expected(port, "stalling proxy")
        rc, err = stop(p)
        check(rc == 0 and "no reply within the connect timeout (waiting for the SOCKS5 method"
              in err and "2 target failures" in err and err.count("failed ") == 2,
              f"stalling proxy: reset after --connect-timeout, -v says so ({err.strip()!r})")
        # SIGTERM while handshakes hang: the drain's deadline cuts both sides, exit 0
        p, port = relay(["--via", f"127.0.0.1:{stall.port}", "--connect-timeout", "30",
                         "--drain", "1", "127.0.0.1:0", "127.0.0.1:9"])
        clients = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(3)]
        time.sleep(0.5)
        rc, err = stop(p)
        check(rc == 0 and "3 accepted" in err,
              f"stalling proxy, SIGTERM during the handshakes: exit 0 ({rc}, {err.strip()!r})")
        for c in clients:
            c.close()
    finally:
        stall.close()
    for mode, want in (("bad", "SOCKS5 proxy 127.0.0.1:"), ("close", "the connection ended")):
        fake = FakeSocks5(mode)
        try:
            p, port = relay(["--via", f"127.0.0.1:{fake.port}", "127.0.0.1:0", "127.0.0.1:9"])
            reset_expected(port, f"proxy '{mode}'")
            rc, err = stop(p)
            check(rc == 0 and want in err and "1 target failure" in err,
                  f"proxy '{mode}': the client is reset, counted, -v says why ({err.strip()!r})")
        finally:
            fake.close()


def usage_errors():
    for args, want in (
            (["-u", "--via", "127.0.0.1:1080", "127.0.0.1:0", "127.0.0.1:53"], "UDP ASSOCIATE"),
            (["--via", "unix:/tmp/p.sock", "127.0.0.1:0", "127.0.0.1:80"], "over TCP"),
            (["-X", "connect", "127.0.0.1:0", "127.0.0.1:80"], "-X goes with --via"),
            (["--via", "127.0.0.1:1080", "-X", "4", "127.0.0.1:0", "127.0.0.1:80"], "SOCKS4"),
            (["--via", "127.0.0.1:1080", "127.0.0.1:0", "unix:/tmp/t.sock"], "Unix endpoint")):
        r = subprocess.run([BIN, "relay"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=10)
        err = r.stderr.decode(errors="replace")
        check(r.returncode == 2 and want in err and err.count("\n") == 1,
              f"relay {' '.join(args)}: exit 2, one line ({r.returncode}, {err.strip()!r})")


tmp = tempfile.mkdtemp(prefix="sockkit-relay-via-")
echo = Echo()
try:
    usage_errors()
    test_fakes()
    if os.path.exists(DANTED):
        test_dante(tmp, echo)
    else:
        print("SKIP part: danted not installed (dante-server)")
    if os.path.exists(TINYPROXY):
        test_tinyproxy(tmp, echo)
    else:
        print("SKIP part: tinyproxy not installed")
finally:
    kill_started()
    echo.close()
    shutil.rmtree(tmp, ignore_errors=True)
finish()
