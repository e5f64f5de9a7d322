"""sockkit relay with TLS on either leg, with peers no one here wrote, on loopback:
--tls-listen in front of Python's plain http.server (a real GET through openssl s_client and
through Python's ssl, byte-exact); --tls-target to openssl s_server and to a Python ssl echo
server (the chain verified, SNI seen by the Python server); both at once, 1 MiB each way byte-exact;
--trace: each TLS leg's handshake, its plaintext marked decrypted, and its record and byte totals
(records >= 1 each way, encrypted bytes > plaintext bytes, plaintext = what was sent); a target
whose certificate fails verification resets the client and -v says why; plain HTTP and random
bytes to --tls-listen: one -v line each with the reason, and the relay goes on; TLS 1.3 key
updates from openssl s_client ('K': ours requested too) and s_server do not stall a pair.
Needs openssl; exits 77 without it or in a build without TLS."""
import http.client
import json
import os
import random
import re
import select
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sktest import (BIN, check, finish, free_port, kill_started, relay,  # noqa: E402
                    stop, wait_bound)
import tlscerts  # noqa: E402
from sk_blobhttp import blob_server  # noqa: E402
from sk_tlspeers import TlsEcho, echo_through  # noqa: E402

tmp, C = tlscerts.setup("sk-tls-relay-")
LISTEN = ["--tls-listen", "--cert", C["chain"], "--key", C["leaf_key"]]
TARGET = ["--tls-target", "--ca", C["root"], "--sni", "example.test"]
others = []  # processes started here (openssl): killed in the finally


def client_ctx():
    return ssl.create_default_context(cafile=C["root"])


def s_client(port, request, extra=()):
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile",
                        C["root"], "-servername", "example.test", "-verify_return_error",
                        "-quiet", *extra], input=request, capture_output=True, timeout=30)
    return p.stdout


def start_s_server(port, extra=()):
    p = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert",
                          C["leaf"], "-cert_chain", C["inter"], "-key", C["leaf_key"],
                          "-naccept", "100", *extra], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    others.append(p)
    wait_bound(port)
    return p


def read_until(f, want, timeout=15):
    """Read the pipe f until want appears (or the timeout); returns what was read."""
    buf = b""
    deadline = time.time() + timeout
    while want not in buf and time.time() < deadline:
        r, _, _ = select.select([f], [], [], 0.2)
        if r:
            b = os.read(f.fileno(), 65536)
            if not b:
                break
            buf += b
    return buf


try:
    # ---- usage: each side's options need their side, exit 2 with one line ---------------------
    for args, want in ((["--insecure"], "--insecure goes with --tls-target"),
                       (["--cert", C["chain"]], "--cert goes with --tls-listen"),
                       (["--tls-listen"], "--tls-listen needs --cert FILE and --key FILE"),
                       (["--keylog", "k.log"], "--keylog goes with --tls-listen or --tls-target"),
                       (["-u", "--tls-target"], "DTLS is not supported")):
        p = subprocess.run([BIN, "relay", *args, "127.0.0.1:1", "127.0.0.1:2"],
                           capture_output=True, timeout=10)
        err = p.stderr.decode(errors="replace")
        check(p.returncode == 2 and want in err and err.count("\n") == 1,
              f"relay {' '.join(args)}: exit 2, one line ({p.returncode}, {err.strip()!r})")

    # ---- --tls-listen in front of a plain http.server ---------------------------------------
    httpd, body = blob_server(tmp)
    p, port = relay([*LISTEN, "127.0.0.1:0", f"127.0.0.1:{httpd.server_port}"])
    out = s_client(port, b"GET /blob.bin HTTP/1.0\r\nHost: example.test\r\n\r\n")
    got = out.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in out else b""
    check(out.startswith(b"HTTP/1.0 200") and got == body,
          f"--tls-listen: openssl s_client's GET through the relay to http.server, byte-exact "
          f"({len(got)} of {len(body)} bytes)")
    c = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=client_ctx())
    c.request("GET", "/blob.bin")  # the name verified: 127.0.0.1 is in the leaf's SANs
    r = c.getresponse()
    got = r.read()
    c.close()
    check(r.status == 200 and got == body,
          f"--tls-listen: Python ssl (http.client) GET byte-exact ({len(got)} bytes)")
    # garbage: one line each with the reason, the relay goes on
    for junk in (b"GET / HTTP/1.0\r\nHost: x\r\n\r\n", random.Random(5).randbytes(3000)):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as g:
            g.sendall(junk)
            try:
                while g.recv(4096):
                    pass
            except OSError:
                pass
    c = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=client_ctx())
    c.request("GET", "/blob.bin")
    ok = c.getresponse().read() == body
    c.close()
    check(ok, "--tls-listen: the relay serves on after plain HTTP and random bytes")
    rc, err = stop(p)
    fails = re.findall(r"failed 127\.0\.0\.1:\d+: TLS handshake: (.+); connection closed", err)
    check(rc == 0 and len(fails) == 2 and "http request" in fails[0] and fails[1],
          f"--tls-listen -v: one line with the reason for each garbage client ({fails}; "
          f"{err[-300:]!r})")
    check("2 client TLS failures" in err and err.count("opened ") == 3,
          f"--tls-listen: the failures counted, and only the good clients opened a pair "
          f"({err[-200:]!r})")
    check("spliced" not in err, "--tls-listen: no pair is spliced (the plaintext is in user space)")
    p, port = relay(["--json-lines", *LISTEN, "127.0.0.1:0", f"127.0.0.1:{httpd.server_port}"])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as g:
        g.sendall(b"GET / HTTP/1.0\r\n\r\n")
        try:
            while g.recv(4096):
                pass
        except OSError:
            pass
    time.sleep(0.3)
    p.send_signal(15)
    out, _ = p.communicate(timeout=15)
    objs = [json.loads(x) for x in out.decode().splitlines() if x.strip()]
    check(len(objs) == 1 and objs[0]["event"] == "tls_failed"
          and "http request" in objs[0]["error"],
          f"--tls-listen --json-lines: one tls_failed object with the reason ({objs})")
    httpd.shutdown()
    httpd.server_close()

    # ---- --tls-target: openssl s_server, and a Python ssl echo server -------------------------
    sport = free_port()
    srv = start_s_server(sport, ["-www"])
    p, port = relay([*TARGET, "127.0.0.1:0", f"127.0.0.1:{sport}"])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        page = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            page += b
    check(page.startswith(b"HTTP/1.0 200 ok") and b"TLSv1.3" in page,
          f"--tls-target: a plain GET through the relay to openssl s_server -www, which "
          f"answers over TLS ({len(page)} bytes)")
    rc, err = stop(p)
    check(rc == 0 and re.search(r"closed \S+: 18 bytes client->target, \d+ bytes", err),
          f"--tls-target: the pair closed cleanly ({err[-200:]!r})")
    # the chain is not trusted without --ca: the client is reset, -v says why
    p, port = relay(["--tls-target", "127.0.0.1:0", f"127.0.0.1:{sport}"])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        try:
            reset = s.recv(100) == b""
        except ConnectionResetError:
            reset = True
    rc, err = stop(p)
    check(reset and "certificate verify failed" in err and "client reset" in err
          and "1 target failure" in err,
          f"--tls-target without --ca: the client is reset, -v names the verify failure "
          f"({err[-300:]!r})")
    srv.kill()

    target = TlsEcho(C)
    seen = target.sni
    p, port = relay([*TARGET, "127.0.0.1:0", f"127.0.0.1:{target.port}"])
    data = random.Random(1).randbytes(1 << 20)
    got = echo_through(port, data)
    rc, err = stop(p)
    check(got == data and seen[:1] == ["example.test"],
          f"--tls-target: 1 MiB through the relay to a Python ssl echo server and back, "
          f"byte-exact, SNI {seen[:1]} ({len(got)} bytes)")

    # ---- both at once, and --trace's totals ---------------------------------------------------
    p, port = relay([*LISTEN, *TARGET, "127.0.0.1:0", f"127.0.0.1:{target.port}"])
    got = echo_through(port, data, client_ctx())
    rc, err = stop(p)
    check(got == data and rc == 0 and re.search(r"closed \S+: 1048576 bytes client->target, "
                                                r"1048576 bytes target->client", err),
          f"--tls-listen and --tls-target: 1 MiB each way byte-exact, close_notify both legs "
          f"({len(got)} bytes; {err[-200:]!r})")
    trace = os.path.join(tmp, "trace.txt")
    p, port = relay(["--trace", "--trace-file", trace, *LISTEN, *TARGET, "127.0.0.1:0",
                     f"127.0.0.1:{target.port}"])
    msg = b"through two TLS legs\n" * 100
    got = echo_through(port, msg, client_ctx())
    rc, err = stop(p)
    text = open(trace, errors="replace").read()
    hs = re.findall(r"(server|client) tcp +tls handshake TLSv1\.[23]", text)
    tot = re.findall(r"tls totals: out (\d+) records (\d+) bytes encrypted \((\d+) plaintext\), "
                     r"in (\d+) records (\d+) bytes encrypted \((\d+) plaintext\)", text)
    tot = [tuple(map(int, t)) for t in tot]
    legs = all(re.search(leg + r"  tls plaintext \(decrypted\)", text)
               for leg in ("client->relay", "relay->target", "target->relay", "relay->client"))
    counts_ok = len(tot) == 2 and all(
        ro >= 1 and ri >= 1 and bo > po and bi > pi and po == pi == len(msg)
        for ro, bo, po, ri, bi, pi in tot)
    check(got == msg and sorted(hs) == ["client", "server"] and legs and counts_ok,
          f"--trace: both legs' handshakes, the four directions' plaintext marked decrypted, and "
          f"per leg records >= 1 and encrypted > plaintext = {len(msg)} bytes each way ({tot})")

    # ---- key updates do not stall a pair -------------------------------------------------------
    # openssl s_client 'K' (without -quiet, which turns the command letters off): a KeyUpdate
    # asking the relay to update its keys too; its answer goes out while it reads.
    echo = socket.create_server(("127.0.0.1", 0))

    def plain_echo():
        while True:
            try:
                c, _ = echo.accept()
            except OSError:
                return

            def one(c=c):
                with c:
                    while True:
                        b = c.recv(65536)
                        if not b:
                            break
                        c.sendall(b)
            threading.Thread(target=one, daemon=True).start()
    threading.Thread(target=plain_echo, daemon=True).start()
    p, port = relay([*LISTEN, "127.0.0.1:0", f"127.0.0.1:{echo.getsockname()[1]}"])
    cl = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile",
                           C["root"], "-servername", "example.test", "-tls1_3"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
    others.append(cl)
    cl.stdin.write(b"before\n")
    cl.stdin.flush()
    a = read_until(cl.stdout, b"before\n")
    outs = []
    for k in range(3):
        cl.stdin.write(b"K\n")
        cl.stdin.flush()
        time.sleep(0.3)  # s_client drops the rest of a read that began with a command letter
        cl.stdin.write(b"after %d\n" % k)
        cl.stdin.flush()
        t0 = time.time()
        outs.append((read_until(cl.stdout, b"after %d\n" % k), time.time() - t0))
    cl.stdin.close()
    cl.wait(timeout=15)
    ok = b"before\n" in a and all(b"KEYUPDATE" in o and b"after %d\n" % k in o
                                  for k, (o, _) in enumerate(outs))
    check(ok and max(t for _, t in outs) < 10,
          f"--tls-listen: three TLS 1.3 key updates from s_client ('K': ours requested too), "
          f"the pair echoes on at once after each ({[round(t, 2) for _, t in outs]} s)")
    rc, err = stop(p)
    check(rc == 0 and "closed 127.0.0.1" in err,
          f"the key-updated pair ended cleanly ({err[-200:]!r})")

    # s_server's 'K' on the --tls-target leg: the relay as the client receives the key update
    sport = free_port()
    srv = start_s_server(sport, ["-tls1_3"])
    p, port = relay([*TARGET, "127.0.0.1:0", f"127.0.0.1:{sport}"])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"hello target\n")
        first = read_until(srv.stdout, b"hello target\n")
        srv.stdin.write(b"K\n")
        srv.stdin.flush()
        time.sleep(0.3)
        srv.stdin.write(b"from target\n")
        srv.stdin.flush()
        s.settimeout(10)
        back = b""
        try:
            while b"from target\n" not in back:
                b = s.recv(4096)
                if not b:
                    break
                back += b
        except OSError:
            pass
        s.sendall(b"after update\n")
        second = read_until(srv.stdout, b"after update\n")
    check(b"hello target" in first and back.endswith(b"from target\n")
          and b"after update\n" in second,
          f"--tls-target: a key update from s_server ('K') and the pair goes on both ways "
          f"({back!r}, {second[-40:]!r})")
    stop(p)
    srv.kill()
finally:
    for o in others:
        if o.poll() is None:
            o.kill()
            o.wait()
    kill_started()
    shutil.rmtree(tmp, ignore_errors=True)
finish()
