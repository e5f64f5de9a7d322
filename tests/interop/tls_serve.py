"""sockkit serve --tls in every model, with Python's ssl and openssl s_client as clients, on
loopback: byte-exact echo and the server's close_notify in each model; the event model with 1,000
TLS clients connected at once, each getting exactly its own bytes; a client that stalls in the handshake
does not hold the loop and is closed at the handshake timeout; plain HTTP and random bytes sent to
the TLS listener end only that connection (counted as errors, one -v line each with the
reason); a client that ends TCP without
close_notify is counted as an error; the certificate chain verified by s_client; mutual TLS.
Needs openssl; exits 77 without it or in a build without TLS."""
import os
import random
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sktest import check, finish, kill_started, serve, stop, stop_counts  # noqa: E402
import tlscerts  # noqa: E402
from sk_tlspeers import recv_count  # noqa: E402

tmp, C = tlscerts.setup("sk-tls-serve-")
CERT = ["--tls", "--cert", C["chain"], "--key", C["leaf_key"]]


def client_ctx(cert=None):
    ctx = ssl.create_default_context(cafile=C["root"])
    if cert:
        ctx.load_cert_chain(cert, C["client_key"])
    return ctx


def echo_once(port, data, ctx=None):
    """Send data in 16 KiB pieces, each read back before the next (one thread: an SSL object is
    not for two threads at once), then close_notify both ways (unwrap waits for the server's).
    Returns the bytes that came back."""
    ctx = ctx or client_ctx()
    got = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        with ctx.wrap_socket(raw, server_hostname="example.test") as s:
            for off in range(0, len(data), 16384):
                piece = data[off:off + 16384]
                s.sendall(piece)
                want = len(got) + len(piece)
                while len(got) < want:
                    b = s.recv(65536)
                    if not b:
                        return bytes(got)
                    got.extend(b)
            s.unwrap()
    return bytes(got)


try:
    # ---- every model: echo byte-exact, and the server's close_notify ------------------------
    for model in ("event", "iterative", "thread", "fork", "pool"):
        p, host, port = serve(["--model", model, *CERT, "echo", "127.0.0.1:0"])
        data = random.Random(model).randbytes(256 * 1024)
        try:
            got = echo_once(port, data)
            ok = got == data
            why = f"{len(got)} bytes back"
        except (OSError, ssl.SSLError) as e:
            ok, why = False, str(e)
        rc, err = stop(p)
        n = stop_counts(err)
        check(ok and rc == 0 and n and n["errors"] == 0,
              f"serve --tls --model {model}: 256 KiB echoed byte-exact, close_notify both ways "
              f"({why}; {err.strip()[-160:]})")

    # ---- event model: 1,000 clients connected at once, each its own bytes ----------------------
    N = 1000
    p, host, port = serve(["--workers", "1", *CERT, "echo", "127.0.0.1:0"])
    results = {}
    ctx = client_ctx()
    barrier = threading.Barrier(N, timeout=180)

    def one(i):
        data = random.Random(i).randbytes(1000 + i)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=180) as raw:
                with ctx.wrap_socket(raw, server_hostname="example.test") as s:
                    barrier.wait()  # every one of the N is connected and through its handshake
                    s.sendall(data)
                    got = recv_count(s, len(data))
                    s.unwrap()
            results[i] = got == data
        except (OSError, ssl.SSLError, threading.BrokenBarrierError) as e:
            results[i] = repr(e)
            barrier.abort()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(N)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(240)
    good = sum(1 for v in results.values() if v is True)
    bad = [v for v in results.values() if v is not True][:2]
    check(good == N, f"event model, 1 loop: {N} TLS clients connected at once, each got exactly "
          f"its own bytes ({good} of {N}, {time.time() - t0:.1f} s; {bad})")

    # ---- a stalled handshake does not hold the loop; it is closed at the timeout -------------
    stalled = socket.create_connection(("127.0.0.1", port), timeout=40)
    stalled.sendall(b"\x16\x03\x01")  # the first bytes of a ClientHello, then nothing
    t0 = time.time()
    try:
        ok = echo_once(port, b"while one stalls\n") == b"while one stalls\n"
    except (OSError, ssl.SSLError):
        ok = False
    check(ok and time.time() - t0 < 5, "a client stalled mid-handshake does not hold the loop")
    try:
        end = stalled.recv(100)
    except OSError:
        end = b""
    waited = time.time() - t0
    check(end == b"" and 5 < waited < 35,
          f"the stalled client is closed at the handshake timeout (10 s; after {waited:.1f} s)")
    stalled.close()

    # ---- garbage to the TLS listener: that connection ends, nothing else ---------------------
    for junk in (b"GET / HTTP/1.0\r\nHost: x\r\n\r\n", random.Random(3).randbytes(3000)):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as g:
            g.sendall(junk)
            try:
                while g.recv(4096):
                    pass
                ended = True
            except ConnectionResetError:
                ended = True
            except OSError:
                ended = False
        check(ended, f"{'plain HTTP' if junk.startswith(b'GET') else 'random bytes'} to the TLS "
              "listener: the connection is closed")
    # a client that ends TCP without close_notify
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        s = client_ctx().wrap_socket(raw, server_hostname="example.test")
        s.sendall(b"cut\n")
        s.recv(4)
        s.shutdown(socket.SHUT_RDWR)  # TCP ends, no close_notify (SSLSocket.shutdown sends none)
        s.close()
    time.sleep(0.5)
    try:
        ok = echo_once(port, b"still serving\n") == b"still serving\n"
    except (OSError, ssl.SSLError):
        ok = False
    check(ok, "the server serves on after garbage and a truncation")
    rc, err = stop(p)
    n = stop_counts(err)
    # (the stalled client counts as an idle timeout: a peer gone, not an error, as without TLS)
    check(rc == 0 and n and n["errors"] >= 3 and n["accepted"] == N + 6,
          f"the garbage and the truncation are counted as errors ({n})")
    # -v: one line per failed handshake, with its reason (the stalled one's included); the
    # truncation came after a handshake: counted, not a handshake failure
    fails = re.findall(r"TLS handshake with 127\.0\.0\.1:\d+: (.+); connection closed", err)
    check(len(fails) == 3 and "the handshake did not finish in time" in fails[0]
          and "http request" in fails[1] and fails[2],
          f"serve --tls -v: one line with the reason for the stalled, the plain HTTP and the "
          f"random-bytes client ({fails})")

    # ---- the reason a handshake failed is in the trace (event and a blocking model) -----------
    for model in ("event", "pool"):
        trace = os.path.join(tmp, f"trace-{model}")
        p, host, port = serve(["--model", model, "--trace=calls", "--trace-file", trace, *CERT,
                               "echo", "127.0.0.1:0"])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as g:
            g.sendall(b"GET / HTTP/1.0\r\n\r\n")
            try:
                while g.recv(4096):
                    pass
            except OSError:
                pass
        time.sleep(0.3)
        rc, err = stop(p)
        err = open(trace).read() if os.path.exists(trace) else ""
        check("TLS handshake with 127.0.0.1:" in err and ": http request" in err,
              f"{model}: --trace names why a handshake failed ('http request')")

    # ---- openssl s_client verifies the chain; mutual TLS ------------------------------------
    p, host, port = serve(["--model", "thread", *CERT, "--ca", C["root"], "echo", "127.0.0.1:0"])
    sc = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername",
                           "example.test", "-CAfile", C["root"], "-verify_return_error", "-cert",
                           C["client"], "-key", C["client_key"], "-quiet"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sc.stdin.write(b"mutual\n")
    sc.stdin.flush()
    line = b""
    timer = threading.Timer(30, sc.kill)  # s_client -quiet waits for the server to close
    timer.start()
    line = sc.stdout.readline()
    timer.cancel()
    sc.kill()
    sc.wait()
    check(line == b"mutual\n", f"s_client with a client certificate: verified both ways and "
          f"echoed ({line!r})")
    try:
        echo_once(port, b"no certificate\n")
        refused = False
    except (OSError, ssl.SSLError):
        refused = True
    check(refused, "mutual TLS: a client without a certificate is refused")
    rc, err = stop(p)
finally:
    kill_started()
    shutil.rmtree(tmp, ignore_errors=True)
finish()
