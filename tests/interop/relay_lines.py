"""sockkit relay -v with two loops and many short clients at once: each client gets exactly one
'opened' and one 'closed' line, whole (the message buffer of cli_say was one for all threads:
two loops printing at once made a line come out twice and another not at all; under TSan, the
`threads` label, the race itself is reported and the relay's exit status says so)."""
import os
import re
import socket
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sktest import check, collect_stderr, finish, kill_started, relay, stop_collected  # noqa: E402

THREADS, EACH = 6, 40


def target():
    """A plain server that answers each connection's first bytes with 'ok' and closes."""
    srv = socket.create_server(("127.0.0.1", 0))

    def one(c):
        with c:
            c.recv(100)
            c.sendall(b"ok")

    def accept():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=one, args=(c,), daemon=True).start()
    threading.Thread(target=accept, daemon=True).start()
    return srv


try:
    srv = target()
    p, port = relay(["--workers", "2", "127.0.0.1:0", f"127.0.0.1:{srv.getsockname()[1]}"])
    collect_stderr(p)
    answered = []

    def clients():
        for _ in range(EACH):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                    s.sendall(b"hi")
                    answered.append(s.recv(10) == b"ok")
            except OSError:
                answered.append(False)
    ts = [threading.Thread(target=clients) for _ in range(THREADS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=120)
    rc, err = stop_collected(p)
    n = THREADS * EACH
    opened = re.findall(r"^sockkit relay: opened (127\.0\.0\.1:\d+) -> ", err, re.M)
    closed = re.findall(r"^sockkit relay: closed (127\.0\.0\.1:\d+): \d+ bytes client->target, \d+ "
                        r"bytes target->client, [\d.]+ s", err, re.M)
    check(sum(answered) == n, f"{n} clients through two loops, each answered ({sum(answered)})")
    check(rc == 0 and len(opened) == len(set(opened)) == n and sorted(opened) == sorted(closed),
          f"-v: one whole 'opened' and one 'closed' line per client, none twice ({rc}; "
          f"{len(opened)} opened, {len(set(opened))} distinct, {len(closed)} closed)")
    srv.close()
finally:
    kill_started()
finish()
