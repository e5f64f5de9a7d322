"""serve source under concurrent clients in the thread and pool models: every byte every client
reads is 'x', over TCP and over UDP, and the server stops cleanly. Labelled `threads`, so the
ThreadSanitizer build runs it too: source's handler once filled one shared static buffer from
every handler thread (memset on each call), a data race TSan reports (and exits 66 for); the
bytes are read-only now. Any 'ThreadSanitizer' report on the server's stderr fails the test."""
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import check, finish, kill_started, serve, stop  # noqa: E402

CLIENTS = 8
PER_CLIENT = 2 << 20  # bytes each TCP client reads
DATAGRAMS = 16  # UDP requests per client


def tcp_client(port, results, i):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            got = bytearray()
            while len(got) < PER_CLIENT:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            results[i] = len(got) >= PER_CLIENT and got.count(b"x") == len(got)
    except OSError as e:
        results[i] = f"{e!r}"


def udp_client(port, results, i):
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(10)
            ok = True
            for _ in range(DATAGRAMS):
                s.sendto(b"?", ("127.0.0.1", port))
                data, _ = s.recvfrom(65536)
                ok = ok and len(data) == 1024 and data == b"x" * 1024
            results[i] = ok
    except OSError as e:
        results[i] = f"{e!r}"


def run(model, udp):
    args = ["--model", model] + (["-u"] if udp else []) + ["source", "127.0.0.1:0"]
    p, _, port = serve(args)
    results = [None] * CLIENTS
    fn = udp_client if udp else tcp_client
    threads = [threading.Thread(target=fn, args=(port, results, i)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    rc, err = stop(p)
    what = f"source {'-u ' if udp else ''}--model {model}"
    check(all(r is True for r in results),
          f"{what}: {CLIENTS} concurrent clients read only 'x' ({results})")
    check(rc == 0 and "ThreadSanitizer" not in err,
          f"{what}: stops with status 0, no ThreadSanitizer report ({rc}: {err[-2000:]!r})")


try:
    for model in ("thread", "pool"):
        run(model, udp=False)
        run(model, udp=True)
finally:
    kill_started()
finish()
