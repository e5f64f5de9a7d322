"""sockkit relay -u with Unix datagram sockets: a Unix datagram TARGET (each session's socket is
autobound, so the target can answer it, and two clients are two peers to it), a Unix datagram
LISTEN (a client that bound its own address gets its answers), Unix to Unix, and a client that
did not bind (as logger(1) to /dev/log): its datagrams still reach the target, the relay goes on."""
import os
import socket
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import DgramTarget, check, finish, kill_started, relay, stop  # noqa: E402


def Target(path=None):
    """Answers 'SENDER|payload', SENDER the sender's number."""
    return DgramTarget(lambda i, peer: f"{i}|".encode(), path)


def client(d=None, name=None):
    if d is None:
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.bind(("127.0.0.1", 0))
    else:
        c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if name:
            c.bind(os.path.join(d, name))
    c.settimeout(5)
    return c


def ask(c, to, payload):
    c.sendto(payload, to)
    data, _ = c.recvfrom(65536)
    who, _, body = data.partition(b"|")
    return int(who), body


def two_clients(what, clients, to, t):
    seen = {}
    ok = True
    for rnd in range(3):
        for i, c in enumerate(clients):
            payload = f"{what} client {i} round {rnd}".encode()
            try:
                who, body = ask(c, to, payload)
            except socket.timeout:
                check(False, f"{what}: client {i} got an answer")
                return
            ok = ok and body == payload
            seen.setdefault(i, set()).add(who)
    check(ok, f"{what}: each client gets exactly its own answers")
    check(all(len(v) == 1 for v in seen.values()) and len(set.union(*seen.values())) == 2,
          f"{what}: two sessions, the target sees two peers: {seen} {t.peers}")


def main():
    with tempfile.TemporaryDirectory() as d:
        tpath = os.path.join(d, "target.sock")
        ut = Target(tpath)
        udp = Target()
        try:
            # UDP clients -> Unix datagram target
            p, port = relay(["-u", "127.0.0.1:0", f"unix:{tpath}"])
            cs = [client(), client()]
            two_clients("udp -> unix", cs, ("127.0.0.1", port), ut)
            check(all(isinstance(x, bytes) and x.startswith(b"\0") for x in ut.peers),
                  f"the sessions' sockets are autobound (abstract names): {ut.peers}")
            rc, err = stop(p)
            check(rc == 0 and err.count("opened udp") == 2, f"exit 0, two sessions: {err!r}")
            for c in cs:
                c.close()

            # bound Unix clients -> Unix listen -> UDP target
            lpath = os.path.join(d, "listen.sock")
            p, _ = relay(["-u", f"unix:{lpath}", f"127.0.0.1:{udp.port}"])
            cs = [client(d, "c0.sock"), client(d, "c1.sock")]
            two_clients("unix -> udp", cs, lpath, udp)
            rc, err = stop(p)
            check(rc == 0 and err.count("opened udp") == 2, f"exit 0, two sessions: {err!r}")
            for c in cs:
                c.close()

            # Unix -> Unix, and a client that did not bind: one way only, the relay goes on
            lpath2 = os.path.join(d, "listen2.sock")
            p, _ = relay(["-u", f"unix:{lpath2}", f"unix:{tpath}"])
            c = client(d, "c2.sock")
            who, body = ask(c, lpath2, b"unix to unix")
            check(body == b"unix to unix", f"unix -> unix answered: {body!r}")
            anon = client(d)
            anon.sendto(b"from an unbound client", lpath2)
            who, body = ask(c, lpath2, b"still relaying")
            check(body == b"still relaying", "the relay goes on after an unbound client")
            check(b"from an unbound client" in ut.got, "an unbound client's datagram reached "
                  "the target")
            rc, err = stop(p)
            check(rc == 0, f"exit 0 (got {rc}): {err!r}")
            c.close()
            anon.close()
        finally:
            kill_started()
            ut.close()
            udp.close()
    finish()


if __name__ == "__main__":
    main()
