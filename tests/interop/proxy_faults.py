"""sockkit connect -x against a fake proxy written here (Python's socket module): the requests are
checked byte for byte (SOCKS5 greeting, RFC 1929 credentials, the DOMAINNAME request that leaves
resolution to the proxy; HTTP CONNECT with Host and Basic credentials), the tunnel's first bytes
arriving in the same segment as the reply are not lost, and every malformed or hostile reply
(wrong version, truncated, an unoffered method, a bad address type, an oversized header, a stall)
ends in exit 1 with one line naming the fault, within a bounded time. Usage errors exit 2."""
import base64
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sktest import BIN, check, finish, run  # noqa: E402,F401


class FakeProxy:
    """One connection: script(conn, log) talks to the client; log keeps what it received."""

    def __init__(self, script):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.script = script
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def recv(self, conn, n):
        data = b""
        conn.settimeout(10)
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                break
            data += chunk
        self.received += data
        return data

    def recv_header(self, conn):
        data = b""
        conn.settimeout(10)
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        self.received += data
        return data

    def serve(self):
        self.sock.settimeout(20)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            try:
                self.script(self, conn)
            except OSError:
                pass

    def close(self):
        self.sock.close()
        self.thread.join(timeout=20)


NO_PASSWORD = {k: v for k, v in os.environ.items() if k != "SOCKKIT_PROXY_PASSWORD"}


def run_env(args, stdin=b"", env=None, timeout=30):
    p = subprocess.run(args, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, env=env if env is not None else NO_PASSWORD)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def socks(args, script, stdin=b"", env=None, timeout=30):
    fake = FakeProxy(script)
    t0 = time.monotonic()
    rc, out, err = run_env([BIN, "connect", "-x", f"127.0.0.1:{fake.port}"] + args, stdin, env,
                           timeout)
    took = time.monotonic() - t0
    fake.close()
    return rc, out, err, fake.received, took


def one_line(err):
    return err.count("\n") == 1 and err.startswith("sockkit connect: ")


# ---- well-formed exchanges: the bytes on the wire -------------------------------------------

def socks_ok(f, conn):
    f.recv(conn, 3)  # 05 01 00
    conn.sendall(b"\x05\x00")
    head = f.recv(conn, 5)
    f.recv(conn, head[4] + 2)
    # the reply and the tunnel's first bytes in one segment: none may be lost
    conn.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x38" + b"HELLO from the target")


rc, out, err, got, _ = socks(["example.invalid:4321"], socks_ok)
check(rc == 0, f"socks5: exit 0 ({rc}, {err.strip()})")
check(got == b"\x05\x01\x00" + b"\x05\x01\x00\x03\x0fexample.invalid\x10\xe1",
      f"socks5: greeting offers 'no auth'; CONNECT by DOMAINNAME (resolved at the proxy) ({got!r})")
check(out == b"HELLO from the target", f"socks5: bytes after the reply reach stdout ({out!r})")


def socks_v6(f, conn):
    f.recv(conn, 3)
    conn.sendall(b"\x05\x00")
    f.recv(conn, 4 + 16 + 2)
    conn.sendall(b"\x05\x00\x00\x04" + bytes(16) + b"\x00\x50")


rc, out, err, got, _ = socks(["-N", "[::1]:80"], socks_v6)
check(rc == 0 and got[3:7] == b"\x05\x01\x00\x04" and got[7:23] == socket.inet_pton(
    socket.AF_INET6, "::1") and got[23:] == b"\x00\x50",
    f"socks5: an IPv6 literal goes as address type 4 ({rc}, {got!r})")


def socks_auth(f, conn):
    f.recv(conn, 4)  # 05 02 00 02
    conn.sendall(b"\x05\x02")
    head = f.recv(conn, 2)
    user = f.recv(conn, head[1])
    plen = f.recv(conn, 1)
    f.recv(conn, plen[0])
    conn.sendall(b"\x01\x00")
    f.recv(conn, 10)
    conn.sendall(b"\x05\x00\x00\x03\x09localhost\x00\x50" + b"ok:" + user)


pw_env = dict(os.environ, SOCKKIT_PROXY_PASSWORD="pa ss:wörd")
rc, out, err, got, _ = socks(["-P", "alice", "127.0.0.1:80"], socks_auth, env=pw_env)
pw = "pa ss:wörd".encode()
check(rc == 0 and out == b"ok:alice", f"socks5 -P: authenticated, exit 0 ({rc}, {err.strip()})")
check(got[:4] == b"\x05\x02\x00\x02" and got[4:] .startswith(
    b"\x01\x05alice" + bytes([len(pw)]) + pw),
    f"socks5 -P: offers none and username/password; RFC 1929 request ({got!r})")


def socks_auth_fails(f, conn):
    f.recv(conn, 4)
    conn.sendall(b"\x05\x02")
    f.recv(conn, 1 + 1 + 5 + 1 + 6)  # 01 05 alice 06 sekret
    conn.sendall(b"\x01\x01")


rc, out, err, got, _ = socks(["-P", "alice", "127.0.0.1:80"], socks_auth_fails,
                             env=dict(os.environ, SOCKKIT_PROXY_PASSWORD="sekret"))
check(rc == 1 and "authentication failed (status 1)" in err and one_line(err),
      f"socks5 -P: refused credentials: exit 1, says so ({rc}, {err.strip()})")


def http_ok(f, conn):
    f.recv_header(conn)
    conn.sendall(b"HTTP/1.1 200 Connection established\r\nX-A: b\r\n\r\nTUNNEL DATA")


rc, out, err, got, _ = socks(["-X", "connect", "-P", "bob", "localhost:8443"], http_ok,
                             env=dict(os.environ, SOCKKIT_PROXY_PASSWORD="sekret"))
auth = base64.b64encode(b"bob:sekret")
check(rc == 0 and out == b"TUNNEL DATA", f"http: 200, tunnel bytes after the header kept ({rc}, "
      f"{out!r}, {err.strip()})")
check(got == b"CONNECT localhost:8443 HTTP/1.1\r\nHost: localhost:8443\r\n"
      b"Proxy-Authorization: Basic " + auth + b"\r\n\r\n", f"http: the CONNECT request ({got!r})")


def http_interim(f, conn):
    f.recv_header(conn)
    conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\n")


rc, out, err, got, _ = socks(["-X", "connect", "[::1]:443"], http_interim)
check(rc == 0 and got.startswith(b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n"),
      f"http: an interim 1xx answer is skipped; IPv6 target bracketed ({rc}, {got!r}, "
      f"{err.strip()})")

# ---- refusals and malformed replies: exit 1, one line, no hang ------------------------------


def reply(first, then=None, stall=False, greet=3):
    def script(f, conn):
        f.recv(conn, greet)
        conn.sendall(first)
        if then is not None:
            f.recv(conn, 10)  # the CONNECT request for 127.0.0.1:9, read whole (no RST)
            conn.sendall(then)
        if stall:
            time.sleep(8)
    return script


def http_reply(data, stall=False):
    def script(f, conn):
        f.recv_header(conn)
        conn.sendall(data)
        if stall:
            time.sleep(8)
    return script


cases = [
    ("socks5 refused (REP 5)", [], reply(b"\x05\x00", b"\x05\x05\x00\x01" + bytes(6)),
     "reply 5: Connection refused (target 127.0.0.1:9)"),
    ("socks5 REP 2", [], reply(b"\x05\x00", b"\x05\x02\x00\x01" + bytes(6)),
     "reply 2: connection not allowed by ruleset"),
    ("socks5 wrong version", [], reply(b"\x04\x5a"), "not SOCKS version 5"),
    ("socks5 an HTTP server", [], reply(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
     "is it a SOCKS5 proxy?"),
    ("socks5 truncated method", [], reply(b"\x05"),
     "closed the connection while the SOCKS5 method choice was due"),
    ("socks5 method not offered", [], reply(b"\x05\x02"), "method 2, which was not offered"),
    ("socks5 no acceptable method", [], reply(b"\x05\xff"),
     "accepts none of the authentication methods"),
    ("socks5 truncated reply", [], reply(b"\x05\x00", b"\x05\x00\x00\x01\x7f"),
     "closed the connection while the SOCKS5 reply to CONNECT was due"),
    ("socks5 bad address type", [], reply(b"\x05\x00", b"\x05\x00\x00\x07"),
     "reply address type 7"),
    ("socks5 reply version", [], reply(b"\x05\x00", b"\x01\x00\x00\x01"), "reply version 1"),
    ("socks5 stall", ["-w", "2"], reply(b"", stall=True),
     "no answer within 2000 ms (waiting for the SOCKS5 method choice)"),
    ("socks5 stall mid-reply", ["-w", "2"], reply(b"\x05\x00", b"\x05\x00", stall=True),
     "no answer within"),
    ("http 407", ["-X", "connect"],
     http_reply(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n"),
     "answered 'HTTP/1.1 407 Proxy Authentication Required' (target 127.0.0.1:9)"),
    ("http 502", ["-X", "connect"], http_reply(b"HTTP/1.0 502 Bad Gateway\r\n\r\n"),
     "answered 'HTTP/1.0 502 Bad Gateway'"),
    ("http not http", ["-X", "connect"], http_reply(b"SSH-2.0-OpenSSH_9.2\r\n"),
     "is it an HTTP proxy?"),
    ("http bad status line", ["-X", "connect"], http_reply(b"HTTP/1.1 2x0 OK\r\n\r\n"),
     "bad status line 'HTTP/1.1 2x0 OK'"),
    ("http oversized header", ["-X", "connect"],
     http_reply(b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n"),
     "longer than 8192 bytes"),
    ("http truncated", ["-X", "connect"], http_reply(b"HTTP/1.1 200 OK\r\n"),
     "closed the connection while the HTTP reply to CONNECT was due"),
    ("http stall", ["-X", "connect", "-w", "2"], http_reply(b"HTTP/1.1 200 OK\r\n", stall=True),
     "no answer within 2000 ms"),
]
for name, args, script, want in cases:
    rc, out, err, got, took = socks(args + ["127.0.0.1:9"], script)
    check(rc == 1 and want in err and one_line(err) and out == b"",
          f"{name}: exit 1, one line with '{want}' ({rc}, {err.strip()!r})")
    check(took < 15, f"{name}: ends in bounded time ({took:.1f} s)")

# ---- usage errors: exit 2 before anything is opened ------------------------------------------
usage = [
    (["-x", "127.0.0.1:1", "-P", "u", "127.0.0.1:9"], "SOCKKIT_PROXY_PASSWORD"),
    (["-x", "127.0.0.1:1", "-X", "4", "127.0.0.1:9"], "SOCKS4 is not supported"),
    (["-x", "127.0.0.1:1", "-X", "http", "127.0.0.1:9"], "give 5 (SOCKS5) or connect"),
    (["-X", "connect", "127.0.0.1:9"], "-X goes with -x"),
    (["-x", "127.0.0.1:1", "-u", "127.0.0.1:9"], "does not go with -u"),
    (["-x", "127.0.0.1:1", "unix:/tmp/x"], "does not go with a Unix endpoint"),
]
for args, want in usage:
    rc, out, err = run_env([BIN, "connect"] + args)
    check(rc == 2 and want in err and one_line(err), f"usage {args}: exit 2, '{want}' ({rc}, "
          f"{err.strip()!r})")
# -x without a port: nc's defaults, 1080 for SOCKS5 and 3128 for HTTP
for proto, port in (("5", 1080), ("connect", 3128)):
    rc, out, err = run_env([BIN, "connect", "-w", "3", "-X", proto, "-x", "127.0.0.1", "127.0.0.1:9"])
    check(rc == 1 and f"proxy 127.0.0.1:{port}" in err,
          f"-X {proto} -x HOST: the proxy's port is {port} ({rc}, {err.strip()!r})")
rc, out, err = run([BIN, "listen", "-x", "127.0.0.1:1", "7000"])
check(rc == 2 and "-x is for connect" in err, f"listen -x: exit 2 ({err.strip()!r})")

finish()
