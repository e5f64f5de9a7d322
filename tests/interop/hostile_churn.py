"""Hostile clients against `sockkit serve echo` in every model where it applies:
- connect/RST churn: clients that reset their connection (SO_LINGER 0) right after connecting or
  in the middle of an exchange; the server's fd count (/proc/PID/fd) comes back to where it was,
  resets are not counted as errors (one rule for every model), the fork model leaves no zombies;
- a client that sends and never reads: with --send-timeout 1 the blocking models reset it after
  about a second while other clients are served; the event model bounds it with its high-water
  mark;
- out of file descriptors (prlimit --nofile): clients over the limit are closed at once, the
  server does not spin and serves again once fds are back (thread, pool, event: the iterative
  and fork models never hold more than one connection, or one per child, in the server)."""
import os
import signal
import select
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import sktest  # noqa: E402
from sktest import check, finish, kill_started, serve, skip, stop, stop_counts  # noqa: E402
from hostile import (MODELS, MiB, cpu_seconds, echo_latency, end_of, fds,  # noqa: E402
                     raise_fd_limit, rss, settle, zombies)

LINGER0 = struct.pack("ii", 1, 0)


def rst(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
    s.close()


def churn(model, n):
    p, host, port = serve(["echo", "--model", model, "127.0.0.1:0"])
    assert echo_latency((host, port)) is not None
    time.sleep(0.3)  # that client's connection closed on the server's side too
    base = fds(p.pid)
    mid_exchange = 0
    for i in range(n):
        s = socket.socket()
        s.settimeout(5)
        try:
            s.connect((host, port))
            if i % 2:  # in the middle of an exchange: the handler is reading when the RST comes
                s.sendall(b"ping")
                mid_exchange += s.recv(4) == b"ping"
        except OSError:
            pass
        rst(s)
    back = settle(lambda: fds(p.pid), base, timeout=10)
    check(back == base, f"{model}: after {n} connect/RST clients the server holds {back} fds "
          f"(before: {base})")
    check(mid_exchange == n // 2, f"{model}: {mid_exchange} of {n // 2} were echoed before their RST")
    check(echo_latency((host, port)) is not None, f"{model}: serves after the churn")
    if model == "fork":
        check(settle(lambda: zombies(p.pid), []) == [], "fork: no zombies after the churn")
    rc, err = stop(p)
    st = stop_counts(err)
    check(rc == 0 and st is not None and st["errors"] == 0,
          f"{model}: peer resets are not errors ({err.strip()[-110:]})")


def never_reads(model):
    args = ["--send-timeout", "1"] if model != "event" else ["--high-water", "262144"]
    p, host, port = serve(["echo", "--model", model] + args + ["127.0.0.1:0"])
    rss0 = rss(p.pid)
    s = socket.create_connection((host, port), timeout=5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.settimeout(0.5)
    sent, blob = 0, os.urandom(MiB)
    t0 = time.time()
    while time.time() < t0 + 15 and sent < 256 * MiB:  # until the server stops taking bytes
        try:
            sent += s.send(blob)
        except socket.timeout:
            break
        except OSError:
            break
    stalled = time.time()
    others = None
    if model != "iterative":  # the iterative model serves one client at a time, by design
        others = echo_latency((host, port), timeout=5)
    grew = rss(p.pid) - rss0
    if model == "event":
        check(grew < 4 * MiB, f"event: RSS grew {grew / MiB:.1f} MiB against a client that sent "
              f"{sent / MiB:.0f} MiB and never read (high water 256 KiB)")
        s.close()
    else:
        time.sleep(max(0.0, stalled + 3 - time.time()))  # still not reading: past the timeout
        how, got = end_of(s, 10)  # a reset arrives after the data the kernel already holds
        took = time.time() - stalled
        check(how == "reset" and took < 8,
              f"{model}: a client that does not read for 3 s is reset by --send-timeout 1 ({how}, "
              f"{len(got)} of {sent} bytes echoed)")
        check(grew < 16 * MiB, f"{model}: RSS grew {grew / MiB:.1f} MiB")
        s.close()
    if others is not None or model != "iterative":
        check(others is not None, f"{model}: another client is served meanwhile")
    rc, err = stop(p)
    st = stop_counts(err)
    check(rc == 0 and st is not None and st["errors"] == 0,
          f"{model}: the send timeout is not a handler error ({err.strip()[-110:]})")


def serve_limited(nofile, args):
    """sockkit serve -v ARGS under prlimit --nofile; returns (proc, host, port)."""
    p = subprocess.Popen(["prlimit", f"--nofile={nofile}:{nofile}", sktest.BIN, "serve", "-v"]
                         + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    sktest.started.append(p)
    line = b""
    deadline = time.time() + 5
    while time.time() < deadline and b"\n" not in line:
        if select.select([p.stderr], [], [], 0.1)[0]:
            c = os.read(p.stderr.fileno(), 1)
            if not c:
                break
            line += c
    port = sktest.serving_port(line)
    if port is None:
        raise RuntimeError(f"no 'serving' line: {line!r}")
    return p, "127.0.0.1", port


def try_echo(addr, timeout=2):
    """'served' (socket returned open), 'closed' (EOF or reset) or 'hung'."""
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.connect(addr)
        s.sendall(b"!")
        b = s.recv(1)
    except socket.timeout:
        s.close()
        return "hung", None
    except ConnectionError:
        b = b""
    if b == b"!":
        return "served", s
    s.close()
    return "closed", None


def out_of_fds(model):
    # a pool of 4 would queue clients rather than run out of fds: give it more workers than fds
    extra = ["--workers", "60"] if model == "pool" else []
    p, host, port = serve_limited(48, ["echo", "--model", model] + extra + ["127.0.0.1:0"])
    held, seen = [], {"served": 0, "closed": 0, "hung": 0}
    try:
        for _ in range(70):
            what, s = try_echo((host, port))
            seen[what] += 1
            if s:
                held.append(s)
            if seen["hung"] == 2:
                break
        cpu0, t0 = cpu_seconds(p.pid), time.time()
        window = {"served": 0, "closed": 0, "hung": 0}
        while time.time() < t0 + 2:
            what, s = try_echo((host, port))
            window[what] += 1
            if s:
                held.append(s)
            time.sleep(0.05)
        cpu = cpu_seconds(p.pid) - cpu0
    finally:
        for s in held:
            s.close()
    check(seen["hung"] == 0 and seen["closed"] > 0 and seen["served"] >= 10,
          f"{model} at --nofile=48: 70 clients, those over the limit closed at once {seen}")
    check(window["hung"] == 0 and cpu < 0.3,
          f"{model}: clients that keep coming are closed at once {window}, {cpu:.2f} s CPU in 2 s")
    again = settle(lambda: echo_latency((host, port), timeout=1) is not None, True)
    check(again, f"{model}: serves again once the held clients are gone")
    rc, err = stop(p)
    st = stop_counts(err)
    check(rc == 0 and st is not None and st["rejected"] >= seen["closed"],
          f"{model}: refused clients counted as rejected ({err.strip()[-110:]})")


try:
    if not raise_fd_limit(1000):
        skip("not enough file descriptors")
    t_start = time.time()
    for model in MODELS:
        churn(model, 200 if model == "fork" else 400)
    for model in MODELS:
        never_reads(model)
    for model in ("thread", "pool", "event"):
        out_of_fds(model)
    print(f"took {time.time() - t_start:.1f} s")
finally:
    kill_started()
finish()
