"""UDP floods against `sockkit serve echo -u` in every model: datagrams of random sizes (0 to the
largest UDP payload, 65,507 bytes) sent as fast as one socket can, the replies read meanwhile.
Every reply must be exactly one of the datagrams sent (none cut, none mixed up), the server must
stay up with bounded memory and answer a normal exchange afterwards, stop cleanly, and the fork
model (a child per datagram, at most 40 at once) must leave no zombies. Some loss under a flood
is UDP's nature: how much is printed, not asserted."""
import hashlib
import os
import random
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import check, finish, kill_started, serve, stop, stop_counts  # noqa: E402
from hostile import MODELS, MiB, children, rss, settle, zombies  # noqa: E402

MAX_UDP = 65507


def flood(addr, count):
    """Send count random-size datagrams as fast as the socket takes them, reading replies between;
    then read for up to 2 s more. Returns (datagrams sent, replies received, bad replies)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * MiB)
    s.setblocking(False)
    s.connect(addr)
    sent, got, bad = set(), 0, 0
    blob = os.urandom(MAX_UDP + 4096)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    i = 0
    quiet_until = None
    while True:
        if i == count and quiet_until is None:
            quiet_until = time.time() + 2
            sel.modify(s, selectors.EVENT_READ)
        if quiet_until and time.time() > quiet_until:
            break
        for _, ev in sel.select(0.2):
            if ev & selectors.EVENT_READ:
                try:
                    while True:
                        r = s.recv(MAX_UDP + 1)
                        got += 1
                        bad += hashlib.sha256(r).digest() not in sent
                except (BlockingIOError, ConnectionRefusedError):
                    pass
            if ev & selectors.EVENT_WRITE and i < count:
                n = random.choice((0, 1, random.randint(2, 1500), random.randint(1501, MAX_UDP)))
                off = random.randint(0, 4096)
                d = blob[off:off + n]
                try:
                    s.send(d)
                    sent.add(hashlib.sha256(d).digest())
                    i += 1
                except (BlockingIOError, ConnectionRefusedError):
                    pass
    sel.close()
    s.close()
    return i, got, bad


def one(model, count):
    p, host, port = serve(["echo", "-u", "--model", model, "127.0.0.1:0"])
    time.sleep(0.2)
    rss0 = rss(p.pid)
    peak_children = 0
    t0 = time.time()
    sent, got, bad = flood((host, port), count)
    took = time.time() - t0
    if model == "fork":
        peak_children = len(children(p.pid))
    grew = rss(p.pid) - rss0
    check(bad == 0, f"{model}: {got} replies to {sent} datagrams of random sizes in "
          f"{took:.1f} s, every one exactly a datagram sent ({bad} not)")
    check(got > 0, f"{model}: the flood was answered at all")
    # Under ASan freed memory waits in its quarantine (up to 256 MiB) before reuse, so RSS grows
    # with the flood's churn without a leak (LeakSanitizer checks leaks at exit): a wider bound.
    limit = 96 * MiB if os.environ.get("SK_SANITIZE", "").startswith("address") else 32 * MiB
    check(grew < limit, f"{model}: RSS grew {grew / MiB:.1f} MiB (at most {limit // MiB})")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
        c.settimeout(1)
        ok = False
        for _ in range(5):
            c.sendto(b"after the flood", (host, port))
            try:
                ok = c.recv(100) == b"after the flood"
                break
            except socket.timeout:
                pass
    check(ok, f"{model}: a normal exchange after the flood")
    if model == "fork":
        check(peak_children <= 41, f"fork: {peak_children} children at the end of the flood "
              f"(at most 40)")
        check(settle(lambda: zombies(p.pid), []) == [], "fork: no zombies after the flood")
    rc, err = stop(p)
    st = stop_counts(err)
    check(rc == 0 and st is not None, f"{model}: stops cleanly ({err.strip()[-110:]})")


try:
    t_start = time.time()
    random.seed()
    for model in MODELS:
        one(model, 300 if model == "fork" else 1500)
    print(f"took {time.time() - t_start:.1f} s")
finally:
    kill_started()
finish()
