"""sockkit relay with peers no one here wrote: Python's http.server behind the relay (a real GET,
byte-exact), nc as the client and socat as the target, half-close carried across both ways (in
the splice and the copy mode), Unix to TCP, a target that refuses (the client is reset, the relay
goes on, -v says why), LISTEN equal to TARGET refused, --json-lines, and the SIGTERM drain (pairs
finish, or are cut at the deadline; exit 0)."""
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import (BIN, check, finish, free_port, kill_started, relay, recv_to_eof, run,  # noqa: E402
                    serve, stop, wait_bound)
from sk_blobhttp import blob_server  # noqa: E402


def http_get(tmp):
    """A real GET through the relay: the body byte-exact, for a 1 MiB file."""
    httpd, body = blob_server(tmp)
    for mode in ([], ["--no-splice"], ["--splice", "on"], ["--workers", "2"]):
        p, port = relay(mode + ["127.0.0.1:0", f"127.0.0.1:{httpd.server_port}"])
        for _ in range(3):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/blob.bin")
            r = c.getresponse()
            got = r.read()
            c.close()
            check(r.status == 200 and got == body,
                  f"http GET through the relay {mode}: status {r.status}, {len(got)} bytes, "
                  f"same: {got == body}")
        rc, err = stop(p)
        check(rc == 0, f"relay {mode} exits 0 at SIGTERM (got {rc})")
        check(len(re.findall(r"closed \S+: \d+ bytes client->target, 1048\d{3} bytes", err)) == 3,
              f"-v: a closed line per GET with the bytes each way: {err!r}")
        if not mode:
            check("spliced" in err, f"TCP to TCP without --trace is spliced: {err!r}")
    httpd.shutdown()
    httpd.server_close()


def nc_and_socat():
    """nc as the client, socat as the target (upper-casing what it reads until EOF)."""
    tport = free_port()
    target = subprocess.Popen(["socat", f"TCP-LISTEN:{tport},bind=127.0.0.1,reuseaddr",
                               "SYSTEM:tr a-z A-Z"], stderr=subprocess.DEVNULL)
    try:
        wait_bound(tport)
        p, port = relay(["127.0.0.1:0", f"127.0.0.1:{tport}"])
        out = subprocess.run(["nc", "-N", "127.0.0.1", str(port)], input=b"hello relay\n",
                             stdout=subprocess.PIPE, timeout=10).stdout
        check(out == b"HELLO RELAY\n", f"nc -> relay -> socat: {out!r}")
        rc, _ = stop(p)
        check(rc == 0, "relay exits 0")
    finally:
        target.kill()
        target.wait()


def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s, s.getsockname()[1]


def half_close(extra):
    """Each side's FIN reaches the other, while the other direction goes on."""
    lst, tport = listener()
    p, port = relay(extra + ["127.0.0.1:0", f"127.0.0.1:{tport}"])
    lst.settimeout(10)
    # client finishes first
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    t, _ = lst.accept()
    t.settimeout(10)
    c.sendall(b"question")
    c.shutdown(socket.SHUT_WR)
    got = recv_to_eof(t)
    check(got == b"question", f"{extra} the target reads the client's bytes then EOF: {got!r}")
    t.sendall(b"answer after your FIN")
    t.close()
    reply = c.recv(100)
    rest = c.recv(100)
    check(reply == b"answer after your FIN" and rest == b"",
          f"{extra} the client gets the answer after its own FIN, then EOF: {reply!r} {rest!r}")
    c.close()
    # target finishes first
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    t, _ = lst.accept()
    t.settimeout(10)
    t.sendall(b"banner")
    t.shutdown(socket.SHUT_WR)
    got = recv_to_eof(c)
    check(got == b"banner", f"{extra} the client reads the target's bytes then EOF: {got!r}")
    c.sendall(b"late words")
    c.close()
    got = recv_to_eof(t)
    check(got == b"late words", f"{extra} the target still gets the client's bytes: {got!r}")
    t.close()
    rc, err = stop(p)
    check(rc == 0 and err.count("closed ") == 2, f"{extra} two pairs closed, exit 0: {rc} {err!r}")
    lst.close()


def unix_to_tcp(tmp):
    e, host, eport = serve(["echo", "127.0.0.1:0"])
    path = os.path.join(tmp, "relay.sock")
    p, _ = relay([f"unix:{path}", f"127.0.0.1:{eport}"])
    data = os.urandom(200000)
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = recv_to_eof(s)
    check(got == data, f"unix -> relay -> tcp echo: {len(got)} bytes, equal {got == data}")
    rc, err = stop(p)
    check(rc == 0 and not os.path.exists(path), f"exit 0, socket file removed: {rc} {err!r}")
    stop(e)


def refused():
    dead = free_port()
    p, port = relay(["127.0.0.1:0", f"127.0.0.1:{dead}"])
    for i in range(2):
        try:  # on loopback the reset can come before connect() has returned
            with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                b = c.recv(10)
            check(False, f"refused target: the client is reset, not given {b!r}")
        except ConnectionResetError:
            check(True, "refused target: the client sees a reset")
    check(p.poll() is None, "the relay keeps running after its target refused")
    rc, err = stop(p)
    check(rc == 0, f"exit 0 (got {rc})")
    check(err.count("Connection refused; client reset") == 2, f"-v says why, each time: {err!r}")
    check("2 target failures" in err, f"the failures are counted: {err!r}")


def same_endpoint(tmp):
    port = free_port()
    for a, b in ((f":{port}", f"127.0.0.1:{port}"), (f"127.0.0.1:{port}", f"127.0.0.1:{port}"),
                 (f"unix:{tmp}/x.sock", f"unix:{tmp}/x.sock")):
        rc, out, err = run([BIN, "relay", a, b], timeout=10)
        check(rc == 2 and err.count("\n") == 1 and "itself" in err,
              f"relay {a} {b}: refused, exit 2, one line: {rc} {err!r}")
    rc, out, err = run([BIN, "relay", ":1"], timeout=10)
    check(rc == 2 and "missing TARGET" in err, f"one operand: exit 2: {err!r}")


def json_lines():
    e, host, eport = serve(["echo", "127.0.0.1:0"])
    p, port = relay(["--json-lines", "127.0.0.1:0", f"127.0.0.1:{eport}"])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(b"x" * 1000)
        c.shutdown(socket.SHUT_WR)
        n = 0
        while True:
            b = c.recv(4096)
            if not b:
                break
            n += len(b)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=15)
    out = out.decode()
    objs = [json.loads(line) for line in out.splitlines()]
    check(len(objs) == 1 and objs[0]["bytes_client_to_target"] == 1000 and
          objs[0]["bytes_target_to_client"] == 1000 and objs[0]["error"] is None,
          f"--json-lines: one object per closed connection: {out!r}")
    stop(e)


def idle_timeout():
    """A pair quiet for --idle-timeout is ended: both sides reset, -v says why."""
    lst, tport = listener()
    p, port = relay(["--idle-timeout", "0.5", "127.0.0.1:0", f"127.0.0.1:{tport}"])
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    lst.settimeout(10)
    t, _ = lst.accept()
    c.sendall(b"one")
    check(t.recv(10) == b"one", "the pair works before it idles")
    t0 = time.time()
    for s in (c, t):
        s.settimeout(10)
        try:
            b = s.recv(10)
            check(b == b"", f"an idle pair's side sees its end: {b!r}")
        except ConnectionResetError:
            check(True, "an idle pair's side is reset")
    check(0.3 < time.time() - t0 < 8, f"after about the idle timeout ({time.time() - t0:.2f} s)")
    c.close()
    t.close()
    lst.close()
    rc, err = stop(p)
    check(rc == 0 and "timed out" in err, f"-v says the pair timed out: {err!r}")


def drain():
    """SIGTERM: a pair in progress finishes; one that does not is cut at the deadline."""
    e, host, eport = serve(["echo", "127.0.0.1:0"])
    p, port = relay(["--drain", "1.5", "127.0.0.1:0", f"127.0.0.1:{eport}"])
    busy = socket.create_connection(("127.0.0.1", port), timeout=10)
    idle = socket.create_connection(("127.0.0.1", port), timeout=10)
    busy.sendall(b"before")
    check(busy.recv(100) == b"before", "a pair works before the drain")
    time.sleep(0.2)
    t0 = time.time()
    p.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        check(False, "the listener is closed at SIGTERM")
    except OSError:
        check(True, "the listener is closed at SIGTERM")
    busy.sendall(b"during the drain")
    check(busy.recv(100) == b"during the drain", "a pair goes on during the drain")
    busy.close()
    _, err = p.communicate(timeout=15)
    err = err.decode()
    took = time.time() - t0
    check(p.returncode == 0, f"exit 0 after the drain (got {p.returncode})")
    check(1.2 <= took < 10, f"the idle pair is cut at the deadline: {took:.2f} s")
    check("1 cut off at drain" in err, f"one pair cut off: {err!r}")
    try:
        b = idle.recv(10)
        check(b == b"", f"the cut pair's client sees its end: {b!r}")
    except ConnectionResetError:
        check(True, "the cut pair's client sees its end (reset)")
    idle.close()
    stop(e)


def tcp_to_unix(tmp):
    """A Unix TARGET connects at once (no EINPROGRESS): the pair must run, not be failed as if
    no address had been tried (it was: the client got nothing back)."""
    path = os.path.join(tmp, "echo.sock")
    e, _, _ = serve(["echo", f"unix:{path}"])
    for extra in ([], ["--no-splice"]):
        p, port = relay(extra + ["127.0.0.1:0", f"unix:{path}"])
        data = os.urandom(100000)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            got = recv_to_eof(s)
        rc, err = stop(p)
        check(got == data and rc == 0 and "0 target failures" in err,
              f"tcp -> relay {' '.join(extra)} -> unix echo: {len(got)} bytes, equal "
              f"{got == data} ({err[-200:]!r})")
    stop(e)


def main():
    try:
        with tempfile.TemporaryDirectory() as tmp:
            http_get(tmp)
            nc_and_socat()
            half_close([])
            half_close(["--no-splice"])
            half_close(["--splice", "on"])
            unix_to_tcp(tmp)
            tcp_to_unix(tmp)
            refused()
            same_endpoint(tmp)
            json_lines()
            idle_timeout()
            drain()
    finally:
        kill_started()
    finish()


if __name__ == "__main__":
    main()
