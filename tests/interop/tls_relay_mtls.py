"""sockkit relay --tls-target --target-cert FILE --target-key FILE: the relay's own client
certificate for a target that requires one (mutual TLS on the relay->target leg; --cert and --key
stay the listening side's). A Python ssl echo server with CERT_REQUIRED (the test root as its CA)
takes the relay with the certificate (bytes byte-exact, the target saw the client's subject) and
refuses it without: the client is reset, and -v and --json-lines say why (the target's alert).
Usage: --target-cert without --tls-target, --target-key without --target-cert: exit 2, one line;
a missing file or a key that does not match: exit 1, one line naming the file. Needs openssl;
exits 77 without it or in a build without TLS."""
import json
import os
import random
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sktest import BIN, check, finish, kill_started, relay, stop  # noqa: E402

import tlscerts  # noqa: E402
from sk_tlspeers import TlsEcho, echo_through  # noqa: E402

tmp, C = tlscerts.setup("sk-tls-mtls-")
TARGET = ["--tls-target", "--ca", C["root"], "--sni", "example.test"]
MINE = ["--target-cert", C["client"], "--target-key", C["client_key"]]


def run(args):
    p = subprocess.run([BIN, "relay", *args, "127.0.0.1:1", "127.0.0.1:2"], capture_output=True,
                       timeout=10)
    return p.returncode, p.stderr.decode(errors="replace")


try:
    # ---- usage: exit 2, one line; files: exit 1, one line naming the file ---------------------
    for args, want in ((["--target-cert", C["client"]], "--target-cert goes with --tls-target"),
                       (["--target-key", C["client_key"]], "--target-key goes with --tls-target"),
                       ([*TARGET, "--target-key", C["client_key"]],
                        "--target-key goes with --target-cert")):
        rc, err = run(args)
        check(rc == 2 and want in err and err.count("\n") == 1,
              f"relay {' '.join(a for a in args if not a.startswith('/'))}: exit 2, one line "
              f"({rc}, {err.strip()!r})")
    missing = os.path.join(tmp, "missing.pem")
    # a file that cannot be opened is bad input (exit 2); one whose contents do not serve, a
    # failure the library finds making the context (exit 1)
    for args, want, status, what in (
            ([*TARGET, "--target-cert", missing], "missing.pem: No such file", 2, "a missing file"),
            ([*TARGET, "--target-cert", C["client"], "--target-key", C["leaf_key"]], "leaf.key", 1,
             "a key of another certificate")):
        rc, err = run(args)
        check(rc == status and want in err and err.count("\n") == 1,
              f"--target-cert with {what}: exit {status}, one line naming the file ({rc}, {err!r})")

    target = TlsEcho(C, require_client=True)
    data = random.Random(7).randbytes(256 * 1024)
    # ---- with the certificate: through, byte-exact ---------------------------------------------
    p, port = relay([*TARGET, *MINE, "127.0.0.1:0", f"127.0.0.1:{target.port}"])
    got = echo_through(port, data)
    rc, err = stop(p)
    check(got == data and rc == 0 and "0 target failures" in err,
          f"--target-cert: the target requiring a client certificate takes the relay, "
          f"{len(data)} bytes byte-exact ({len(got)} bytes; {err[-200:]!r})")
    check(target.peers[-1:] == [{"commonName": "sockkit test client"}],
          f"--target-cert: the target saw the relay's certificate ({target.peers[-1:]})")

    # ---- without: the client is reset, -v and --json-lines say why ----------------------------
    # (a short request: a long one may meet the target's RST while writing, before the alert is
    # read, and then the line says "Connection reset by peer")
    p, port = relay(["--json-lines", *TARGET, "127.0.0.1:0", f"127.0.0.1:{target.port}"])
    refused_before = len(target.refused)
    errors = []
    got = echo_through(port, b"GET / HTTP/1.0\r\n\r\n", errors=errors)
    p.send_signal(15)
    out, err = p.communicate(timeout=15)
    err = err.decode(errors="replace")
    objs = [json.loads(x) for x in out.decode().splitlines() if x.strip()]
    reset = any(isinstance(e, ConnectionResetError) for e in errors)
    check(reset and got == b"",
          f"no --target-cert: the client is reset, nothing comes back ({len(got)} bytes, "
          f"{errors})")
    line = re.search(r"closed \S+: .*target: TLS \w+ fd \d+: (.*)", err)
    check(line and "certificate required" in line.group(1),
          f"no --target-cert: -v names the target's alert ({err[-300:]!r})")
    check(len(objs) == 1 and objs[0]["event"] == "closed"
          and "certificate required" in (objs[0]["error"] or ""),
          f"no --target-cert: --json-lines's error field names the alert too ({objs})")
    refused = target.wait_refused(refused_before + 1)
    check(refused and "CERTIFICATE" in refused[-1].upper(),
          f"no --target-cert: the target refused the handshake ({refused[-1:]})")
    target.close()
finally:
    kill_started()
    shutil.rmtree(tmp, ignore_errors=True)
finish()
