"""sockkit relay --via PROXY --tls-target: TLS to the target inside the proxy's tunnel, through
real proxies from Debian started here on loopback (tinyproxy for HTTP CONNECT, danted for SOCKS5;
tests/lib/sk_proxies.py): several concurrent clients each get exactly their own bytes back from a
Python ssl echo server behind the proxy, which saw the SNI the relay was told (--sni) on every
handshake; a target whose certificate does not match the name resets the client and -v names the
verification failure; the relay goes on. Needs openssl; parts needing a missing proxy are
skipped, all of it (77) when neither is installed or in a build without TLS."""
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sktest import BIN, check, finish, kill_started, relay, skip, stop  # noqa: E402

import tlscerts  # noqa: E402
from sk_proxies import (DANTED, TINYPROXY, start_dante, start_tinyproxy,  # noqa: E402
                        stop as stop_daemon)
from sk_tlspeers import TlsEcho, echo_through, recv_count  # noqa: E402

have = [n for n, path in (("tinyproxy", TINYPROXY), ("danted", DANTED)) if os.path.exists(path)]
if not have:
    skip("neither tinyproxy nor danted is installed (Debian packages tinyproxy, dante-server)")
tmp, C = tlscerts.setup("sk-tls-via-")
CLIENTS = 4
SIZE = 256 * 1024
daemons = []


def through(label, via, target):
    """CLIENTS clients at once through relay --via ... --tls-target, each its own bytes back."""
    p, port = relay([*via, "--tls-target", "--ca", C["root"], "--sni", "example.test",
                     "127.0.0.1:0", f"127.0.0.1:{target.port}"])
    before = len(target.sni)
    results = {}

    def one(i):
        """All of it back before our end: tinyproxy ends a tunnel both ways at the first FIN."""
        data = random.Random(i).randbytes(SIZE + i)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                w = threading.Thread(target=s.sendall, args=(data,))
                w.start()
                got = recv_count(s, len(data))
                w.join()
            results[i] = got == data or f"{len(got)} of {len(data)} bytes"
        except OSError as e:
            results[i] = f"{e!r}"
    threads = [threading.Thread(target=one, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    ok = sum(1 for v in results.values() if v is True)
    rc, err = stop(p)
    sni = target.sni[before:]
    # (the ends: tinyproxy closes a tunnel both ways at our FIN, so the target's close_notify
    # does not come back through it and the line says so; danted carries the half-close)
    check(ok == CLIENTS and rc == 0 and len(re.findall(r"closed 127\.0\.0\.1:", err)) == CLIENTS
          and "0 target failures" in err,
          f"{label}: {CLIENTS} concurrent clients, TLS inside the tunnel, each its {SIZE} bytes "
          f"back byte-exact ({results}; {err[-300:]!r})")
    check(sni == ["example.test"] * CLIENTS,
          f"{label}: the target saw SNI example.test on each of the {CLIENTS} handshakes ({sni})")
    check(p.relaying.endswith("(TLS), 1 loop") and err.count(" via 127.0.0.1:") == CLIENTS,
          f"{label}: -v says TLS to the target, and each client via the proxy "
          f"({p.relaying!r}, {err[:200]!r})")


def wrong_name(label, via, target):
    """--sni names a host the certificate does not cover: the client is reset, -v says why, and
    the next client with the right name still gets through."""
    p, port = relay([*via, "--tls-target", "--ca", C["root"], "--sni", "other.test",
                     "127.0.0.1:0", f"127.0.0.1:{target.port}"])
    errors = []
    got = echo_through(port, b"x" * 1000, errors=errors)
    rc, err = stop(p)
    name = re.escape(f"TLS handshake with 127.0.0.1:{target.port} (via {via[1]}): certificate "
                     f"verify failed: hostname mismatch (host other.test); client reset")
    check(got == b"" and re.search(r"failed \S+: " + name, err) and "1 target failure" in err,
          f"{label}: a name the certificate does not cover resets the client, -v says why "
          f"({got[:20]!r}, {errors}; {err[-400:]!r})")


def cut_at_drain(label, via):
    """A target that never answers the ClientHello: at SIGTERM the handshake in the tunnel is cut
    at the end of --drain (counted as a target failure, its line says so, no leak under ASan)
    and the relay exits 0."""
    mute = socket.create_server(("127.0.0.1", 0))
    held = []
    threading.Thread(target=lambda: held.append(mute.accept()), daemon=True).start()
    p, port = relay([*via, "--drain", "0.5", "--tls-target", "--ca", C["root"], "--sni",
                     "example.test", "127.0.0.1:0", f"127.0.0.1:{mute.getsockname()[1]}"])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"early bytes")
        deadline = time.time() + 10
        while not held and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the proxy's reply, then the ClientHello
        rc, err = stop(p)
    check(held and rc == 0 and "1 accepted" in err and "1 target failure" in err
          and re.search(r"failed \S+: TLS handshake with 127\.0\.0\.1:\d+ \(via \S+\): .*; client "
                        r"reset", err),
          f"{label}: a TLS handshake in the tunnel that the target never answers is cut at the "
          f"drain, and the relay exits 0 ({err[-300:]!r})")
    mute.close()


try:
    target = TlsEcho(C)
    if "tinyproxy" in have:
        px, pport, log = start_tinyproxy(tmp)
        daemons.append(px)
        if px:
            via = ["--via", f"127.0.0.1:{pport}", "-X", "connect"]
            through("HTTP CONNECT (tinyproxy)", via, target)
            wrong_name("HTTP CONNECT (tinyproxy)", via, target)
            cut_at_drain("HTTP CONNECT (tinyproxy)", via)
        else:
            print(f"# tinyproxy did not start: {open(log).read()[-300:]}")
    if "danted" in have:
        px, pport, log = start_dante(tmp)
        daemons.append(px)
        if px:
            via = ["--via", f"127.0.0.1:{pport}"]
            through("SOCKS5 (danted)", via, target)
            wrong_name("SOCKS5 (danted)", via, target)
        else:
            print(f"# danted did not start: {open(log).read()[-300:]}")
    # --via and --tls-target's own usage rules still hold together: exit 2, one line
    r = subprocess.run([BIN, "relay", "--via", "127.0.0.1:1", "-X", "connect", "--tls-target",
                        "--target-key", C["client_key"], "127.0.0.1:2", "127.0.0.1:3"],
                       capture_output=True, timeout=10)
    e = r.stderr.decode(errors="replace")
    check(r.returncode == 2 and "--target-key goes with --target-cert" in e
          and e.count("\n") == 1, f"--via --tls-target --target-key alone: exit 2, one line "
          f"({r.returncode}, {e!r})")
    target.close()
finally:
    for d in daemons:
        stop_daemon(d)
    kill_started()
    shutil.rmtree(tmp, ignore_errors=True)
finish()
