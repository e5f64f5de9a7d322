"""sockkit connect --tls and listen --tls against peers no one here wrote: Python's ssl module
(server and client) and openssl s_server / s_client, on loopback, with certificates the test
makes (tests/lib/tlscerts.py: root -> intermediate -> leaf, self-signed, expired, a client's).

- data both ways byte-exact (1 MiB each way), close_notify both ways, TLS 1.2 and 1.3
- refused with exit 1 and one line naming the reason: self-signed, unknown CA, wrong host name,
  expired; --insecure accepts and says so
- SNI and ALPN seen by the peer, the ALPN choice shown by -v; mutual TLS accepted and refused
- a peer that ends TCP without close_notify: exit 1 naming the truncation, not a clean EOF
- listen -k resumes sessions (s_client -sess_out / -sess_in: "Reused")
- --trace marks the plaintext as decrypted and shows the handshake
Needs openssl (Debian openssl); exits 77 without it or in a build without TLS."""
import os
import random
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sktest import BIN, check, finish, run, wait_bound  # noqa: E402
import tlscerts  # noqa: E402

tmp, C = tlscerts.setup("sk-tls-")
MiB = 1 << 20


def server_ctx(cert, key, chain=None, alpn=None, maxv=None, client_ca=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain or cert, key)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if maxv:
        ctx.maximum_version = maxv
    if client_ca:
        ctx.load_verify_locations(client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def py_server(ctx, handler):
    """One connection on a fresh loopback port, served by handler(tls_conn, seen) in a thread.
    Returns (port, seen, thread); seen gets sni, alpn, error."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(30)
    seen = {}

    def sni(sock, name, c):
        seen["sni"] = name
    ctx.sni_callback = sni

    def body():
        try:
            raw, _ = ls.accept()
            raw.settimeout(30)
            conn = ctx.wrap_socket(raw, server_side=True)
            seen["alpn"] = conn.selected_alpn_protocol()
            seen["version"] = conn.version()
            handler(conn, seen)
        except (OSError, ssl.SSLError) as e:
            seen["error"] = str(e)
        finally:
            ls.close()
    t = threading.Thread(target=body, daemon=True)
    t.start()
    return ls.getsockname()[1], seen, t


def echo_until_close(conn, seen):
    """Echo until the client's close_notify, then send ours (unwrap)."""
    n = 0
    while True:
        b = conn.recv(65536)
        if not b:
            break
        conn.sendall(b)
        n += len(b)
    seen["echoed"] = n
    conn.unwrap().close()


def say_then_close(data, notify):
    def h(conn, seen):
        conn.sendall(data)
        if notify:
            conn.unwrap().close()
        else:  # TCP FIN without close_notify: a truncation
            conn.close()
    return h


def connect(port, *opts, data=b"", timeout=60):
    return run([BIN, "connect", *opts, f"127.0.0.1:{port}"], input=data, timeout=timeout)


# ---- byte-exact both ways through a chain root -> intermediate -> leaf ------------------------
payload = random.Random(17).randbytes(MiB)
port, seen, t = py_server(server_ctx(C["leaf"], C["leaf_key"], chain=C["chain"], alpn=["x-b", "x-a"]),
                          echo_until_close)
rc, out, err = connect(port, "--tls", "--ca", C["root"], "--sni", "example.test", "--alpn",
                       "x-a,x-b", "-N", "-v", data=payload)
t.join(30)
check(rc == 0, f"connect --tls --ca: exit 0 (got {rc}: {err.strip()[-300:]})")
check(out == payload, f"1 MiB echoed byte-exact through TLS ({len(out)} bytes back)")
check(seen.get("echoed") == MiB, "the Python server got the 1 MiB and the close_notify")
check(seen.get("sni") == "example.test", f"SNI seen by the server ({seen.get('sni')})")
check(seen.get("alpn") == "x-b", f"ALPN: the server's choice ({seen.get('alpn')})")
check("ALPN x-b" in err and "(verified)" in err and "TLSv1.3" in err,
      "-v names version, ALPN and the verified peer")

# ---- TLS 1.2 ------------------------------------------------------------------------------
port, seen, t = py_server(server_ctx(C["leaf"], C["leaf_key"], chain=C["chain"],
                                     maxv=ssl.TLSVersion.TLSv1_2), echo_until_close)
rc, out, err = connect(port, "--tls", "--ca", C["root"], "--sni", "example.test", "-N", "-v",
                       data=b"twelve\n")
t.join(30)
check(rc == 0 and out == b"twelve\n" and "TLSv1.2" in err, f"TLS 1.2 works ({err.strip()[-200:]})")

# ---- refusals: exit 1, one line, the reason -------------------------------------------------
cases = [
    ("self-signed", C["self"], C["self_key"], None, [], "self-signed certificate"),
    ("unknown CA", C["leaf"], C["leaf_key"], C["chain"], [], "unable to get local issuer"),
    ("wrong host", C["leaf"], C["leaf_key"], C["chain"], ["--ca", C["root"], "--sni", "wrong.test"],
     "hostname mismatch (host wrong.test)"),
    ("expired", C["expired"], C["expired_key"], None, ["--ca", C["root"], "--sni", "example.test"],
     "certificate has expired"),
]
for name, cert, key, chain, extra, reason in cases:
    port, seen, t = py_server(server_ctx(cert, key, chain=chain), echo_until_close)
    rc, out, err = connect(port, "--tls", *extra, data=b"x")
    t.join(30)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    check(rc == 1 and len(lines) == 1 and "certificate verify failed: " + reason in err,
          f"{name}: exit 1, one line: {err.strip()}")

port, seen, t = py_server(server_ctx(C["self"], C["self_key"]), echo_until_close)
rc, out, err = connect(port, "--tls", "--insecure", "-N", data=b"anyway\n")
t.join(30)
check(rc == 0 and out == b"anyway\n" and "NOT verified" in err,
      f"--insecure accepts a self-signed certificate and says so ({err.strip()})")

rc, out, err = run([BIN, "connect", "--insecure", "127.0.0.1:9"])
check(rc == 2 and "--insecure goes with --tls" in err, "--insecure without --tls: usage error")

# ---- files that cannot serve: the reason, not OpenSSL's last layer ("system lib", "PEM lib") --
notpem = os.path.join(tmp, "notpem.txt")
with open(notpem, "w") as f:
    f.write("hello\n")
rc, out, err = run([BIN, "connect", "--tls", "--ca", os.path.join(tmp, "missing.pem"),
                    "127.0.0.1:9"], timeout=20)
check(rc == 2 and err.count("\n") == 1 and "--ca" in err and "missing.pem: No such file" in err,
      f"--ca FILE missing: exit 2 before any connect, one line ({err.strip()!r})")
rc, out, err = run([BIN, "listen", "--tls-self-signed", "--keylog",
                    os.path.join(tmp, "no-such-dir", "keys.log"), "127.0.0.1:0"], timeout=20)
check(rc == 2 and err.count("\n") == 1 and "--keylog" in err and "No such file" in err,
      f"--keylog in a missing directory: exit 2, one line ({err.strip()!r})")
for args, reason in ((["listen", "--tls", "--cert", notpem, "127.0.0.1:0"],
                      "notpem.txt: not PEM (no '-----BEGIN' line)"),
                     (["listen", "--tls", "--cert", C["leaf"], "--key", C["leaf"], "127.0.0.1:0"],
                      "no key in it that OpenSSL can read")):
    rc, out, err = run([BIN] + args, timeout=20)
    check(rc == 1 and err.count("\n") == 1 and reason in err and " lib" not in err,
          f"{' '.join(a.replace(tmp, '') for a in args)}: exit 1, one line with the reason "
          f"({err.strip()!r})")

# ---- close_notify vs truncation -------------------------------------------------------------
port, seen, t = py_server(server_ctx(C["leaf"], C["leaf_key"], chain=C["chain"]),
                          say_then_close(b"complete\n", True))
rc, out, err = connect(port, "--tls", "--ca", C["root"], "--sni", "example.test")
t.join(30)
check(rc == 0 and out == b"complete\n", f"close_notify: a clean end, exit 0 ({err.strip()})")
port, seen, t = py_server(server_ctx(C["leaf"], C["leaf_key"], chain=C["chain"]),
                          say_then_close(b"cut here", False))
rc, out, err = connect(port, "--tls", "--ca", C["root"], "--sni", "example.test")
t.join(30)
check(rc == 1 and out == b"cut here" and "without TLS close_notify" in err,
      f"TCP FIN without close_notify: the bytes, then exit 1 naming it ({err.strip()})")

# ---- --trace: the handshake and the plaintext, marked --------------------------------------
port, seen, t = py_server(server_ctx(C["leaf"], C["leaf_key"], chain=C["chain"]),
                          echo_until_close)
rc, out, err = connect(port, "--tls", "--ca", C["root"], "--sni", "example.test", "-N",
                       "--trace", data=b"secret words\n")
t.join(30)
check("tls handshake TLSv1.3" in err and "verified" in err, "--trace shows the handshake")
check("tls plaintext (decrypted)" in err and "secret words" in err,
      "--trace shows the plaintext, marked as decrypted")
check("tls peer subject \"CN=example.test\"" in err, "--trace names the peer's subject")


# ---- listen --tls: Python's client, mutual TLS, openssl s_client resumption ----------------
def listen(*opts):
    # stdin at its end at once: the session ends when the client's does
    p = subprocess.Popen([BIN, "listen", "-v", *opts, "127.0.0.1:0"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = b""
    deadline = time.time() + 10
    while b"listening on" not in line and time.time() < deadline:
        line += p.stderr.readline()
    return p, int(line.split(b"listening on 127.0.0.1 ")[1].split()[0])


def py_client(port, data, cert=None):
    ctx = ssl.create_default_context(cafile=C["root"])
    if cert:
        ctx.load_cert_chain(cert, C["client_key"])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        with ctx.wrap_socket(raw, server_hostname="example.test") as s:
            s.sendall(data)
            s = s.unwrap()  # our close_notify; waits for the server's


p, port = listen("--tls", "--cert", C["chain"], "--key", C["leaf_key"])
data = random.Random(5).randbytes(MiB)
failed = []


def send_big():
    try:
        py_client(port, data)
    except (OSError, ssl.SSLError) as e:
        failed.append(str(e))


sender = threading.Thread(target=send_big, daemon=True)
sender.start()  # while communicate() reads listen's stdout
got, err = p.communicate(timeout=60)
sender.join(30)
check(not failed and p.returncode == 0 and got == data, f"listen --tls: 1 MiB from Python's ssl "
      f"byte-exact ({len(got)} bytes, exit {p.returncode}, {failed})")

for with_cert in (True, False):
    p, port = listen("--tls", "--cert", C["chain"], "--key", C["leaf_key"], "--ca", C["root"])
    try:
        py_client(port, b"mutual\n", C["client"] if with_cert else None)
        ok = True
    except (OSError, ssl.SSLError):
        ok = False
    try:
        got, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        got, err = p.communicate()
    err = err.decode(errors="replace")
    if with_cert:
        check(ok and got == b"mutual\n" and p.returncode == 0, "mutual TLS: a client certificate "
              f"from --ca's CA is accepted ({err.strip()[-200:]})")
    else:
        check(got == b"" and p.returncode == 1 and "certificate" in err,
              f"mutual TLS: a client without a certificate is refused ({err.strip()[-200:]})")

# -N: close_notify (and FIN) as soon as stdin ends, so that s_client -ign_eof ends too
p, port = listen("-k", "-N", "--tls", "--cert", C["chain"], "--key", C["leaf_key"])
sess = os.path.join(tmp, "sess.pem")
outs = []
try:
    for extra in (["-sess_out", sess], ["-sess_in", sess]):
        r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername",
                            "example.test", "-CAfile", C["root"], "-verify_return_error",
                            "-ign_eof", *extra], input=b"hello\n", capture_output=True, timeout=30)
        outs.append(r.stdout.decode(errors="replace"))
finally:
    p.kill()
    p.wait()
check("Verify return code: 0 (ok)" in outs[0] and "New, TLSv1.3" in outs[0],
      "openssl s_client verifies listen --tls's chain")
check("Reused, TLSv1.3" in outs[1], "the second s_client resumes its session (Reused)")

# ---- --tls-self-signed's fingerprint, pinned by the client; --keylog --------------------------
import re  # noqa: E402
for pin_ok in (True, False):
    lp = subprocess.Popen([BIN, "listen", "-v", "--tls-self-signed", "127.0.0.1:0"],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    text = b""
    deadline = time.time() + 10
    while (b"listening on" not in text or b"SHA256:" not in text) and time.time() < deadline:
        text += lp.stderr.readline()
    lport = int(text.split(b"listening on 127.0.0.1 ")[1].split()[0])
    fp = re.search(rb"SHA256:[0-9A-F:]{95}", text).group(0).decode()
    pin = fp if pin_ok else "SHA256:" + ":".join(["00"] * 32)
    keylog = os.path.join(tmp, "keys.log")
    rc, out, err = run([BIN, "connect", "-v", "--tls", "--pin", pin.lower(), "--keylog", keylog,
                        "-N", f"127.0.0.1:{lport}"], input=b"pinned\n", timeout=30)
    got, lerr = lp.communicate(timeout=30) if pin_ok else (b"", b"")
    if not pin_ok:
        lp.kill()
        lp.wait()
    if pin_ok:
        check(rc == 0 and got == b"pinned\n" and "(verified)" in err,
              f"--pin with the fingerprint listen -v printed: accepted as verified ({err.strip()[-160:]})")
        log = open(keylog).read() if os.path.exists(keylog) else ""
        check("CLIENT_TRAFFIC_SECRET_0 " in log and "SERVER_HANDSHAKE_TRAFFIC_SECRET " in log,
              "--keylog writes SSLKEYLOGFILE lines")
    else:
        check(rc == 1 and "does not match the pin" in err and fp in err,
              f"--pin with another fingerprint: refused, naming the one seen ({err.strip()[-200:]})")

# ---- openssl s_server: ALPN and SNI as it sees them -----------------------------------------
sport = socket.socket()
sport.bind(("127.0.0.1", 0))
port = sport.getsockname()[1]
sport.close()
srv = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", C["leaf"],
                        "-key", C["leaf_key"], "-cert_chain", C["inter"], "-alpn", "h2,http/1.1",
                        "-naccept", "1"],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
try:
    wait_bound(port)  # without connecting: that would be s_server's one accept
    rc, out, err = connect(port, "--tls", "--ca", C["root"], "--sni", "example.test", "--alpn",
                           "http/1.1", "-v", "-w", "5", data=b"to s_server\n")
    so, _ = srv.communicate(timeout=15)
except subprocess.TimeoutExpired:
    srv.kill()
    so, _ = srv.communicate()
so = so.decode(errors="replace")
check("ALPN http/1.1" in err, f"-v shows the ALPN s_server chose ({err.strip()[-200:]})")
check("to s_server" in so, "s_server got the plaintext")

shutil.rmtree(tmp, ignore_errors=True)
finish()
