"""sockkit relay -u: three clients' sessions stay separate (each has its own socket to the target,
so the target sees three peers and each client gets only its own answers), and expire after the
idle timeout (a later datagram opens a new session); --max-conns bounds the sessions."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import DgramTarget, check, finish, kill_started, relay, stop  # noqa: E402


def Target():
    """Answers 'PORT:payload', PORT the sender's."""
    return DgramTarget(lambda i, peer: f"{peer[1]}:".encode())


def ask(c, port, payload):
    c.sendto(payload, ("127.0.0.1", port))
    data, _ = c.recvfrom(65536)
    up, _, body = data.partition(b":")
    return int(up), body


def main():
    t = Target()
    try:
        p, port = relay(["-u", "--idle-timeout", "1", "127.0.0.1:0", f"127.0.0.1:{t.port}"])
        clients = []
        for i in range(3):
            c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            c.bind(("127.0.0.1", 0))
            c.settimeout(5)
            clients.append(c)
        ups = {}
        ok = True
        for rnd in range(5):
            for i, c in enumerate(clients):
                payload = f"client {i} round {rnd}".encode()
                up, body = ask(c, port, payload)
                ok = ok and body == payload
                ups.setdefault(i, set()).add(up)
        check(ok, "each client gets exactly its own answers")
        check(all(len(v) == 1 for v in ups.values()) and
              len(set.union(*ups.values())) == 3,
              f"three sessions, one upstream socket each, kept for every datagram: {ups}")
        check(len(t.peers) == 3, f"the target saw three peers: {t.peers}")
        time.sleep(2.5)  # idle timeout 1 s: all three sessions expire
        up, body = ask(clients[0], port, b"after the idle timeout")
        check(body == b"after the idle timeout" and up not in ups[0],
              f"a datagram after the idle timeout opens a new session ({up} vs {ups[0]})")
        rc, err = stop(p)
        check(rc == 0, f"exit 0 (got {rc})")
        check(err.count("opened udp") == 4, f"-v: four sessions opened: {err!r}")
        check(err.count(", idle") == 3 and err.count(", stopped") == 1,
              f"-v: three expired idle, one ended at the stop: {err!r}")
        check("5 datagrams (" in err, f"-v counts datagrams each way: {err!r}")

        # --max-conns 1: a second client gets no session (its datagram is dropped)
        p, port = relay(["-u", "--max-conns", "1", "127.0.0.1:0", f"127.0.0.1:{t.port}"])
        up, body = ask(clients[0], port, b"first")
        check(body == b"first", "the first client has a session")
        clients[1].settimeout(0.5)
        try:
            ask(clients[1], port, b"second")
            check(False, "a second session past --max-conns 1 is refused")
        except socket.timeout:
            check(True, "a second session past --max-conns 1 is refused")
        rc, err = stop(p)
        check(rc == 0 and err.count("opened udp") == 1, f"one session only: {err!r}")
        for c in clients:
            c.close()
    finally:
        kill_started()
        t.close()
    finish()


if __name__ == "__main__":
    main()
