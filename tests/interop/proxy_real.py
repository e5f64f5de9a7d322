"""sockkit connect -x through real proxies from Debian, started here on loopback in the
foreground with configuration files of this test's own (never the packages' services) and
stopped afterwards by PID: dante-server's danted (SOCKS5, without authentication, and with
username/password against a throwaway system user when root) and tinyproxy (HTTP CONNECT, with and
without Basic credentials). Through each, 300 KiB of random bytes go to a Python echo server and
come back byte-exact; a target whose port is closed gives exit 1 with the proxy's reply in the
message; --trace shows the handshake as the proxy leg. Skipped (77) without the packages."""
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sktest import BIN, check, finish, free_port, skip  # noqa: E402
from sk_proxies import DANTED, TINYPROXY, Echo, start_dante, start_tinyproxy, stop  # noqa: E402

if not os.path.exists(DANTED) and not os.path.exists(TINYPROXY):
    skip("neither danted (dante-server) nor tinyproxy is installed (scripts/deps.sh test)")

NO_PASSWORD = {k: v for k, v in os.environ.items() if k != "SOCKKIT_PROXY_PASSWORD"}
SIZE = 300 * 1024


def sockkit(args, stdin=b"", env=None, timeout=60):
    p = subprocess.run([BIN, "connect"] + args, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout,
                       env=env if env is not None else NO_PASSWORD)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def through(label, proxy_args, echo, env=None, target=None):
    payload = random.Random(label).randbytes(SIZE)
    msg = len(payload).to_bytes(4, "big") + payload
    rc, out, err = sockkit(proxy_args + [target or f"127.0.0.1:{echo.port}"], msg, env)
    check(rc == 0 and out == payload,
          f"{label}: {SIZE} bytes there and back byte-exact ({rc}, {len(out)} bytes, "
          f"{err.strip()!r})")


def refused(label, proxy_args, want, env=None):
    rc, out, err = sockkit(proxy_args + [f"127.0.0.1:{free_port()}"], b"x", env)
    check(rc == 1 and want(err) and err.count("\n") == 1,
          f"{label}: closed target port: exit 1 with the proxy's reply ({rc}, {err.strip()!r})")


def throwaway_user():
    """A system user with a random password for dante's username method; None if not root."""
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("chpasswd"):
        return None, None
    name = "skpx" + secrets.token_hex(4)
    password = secrets.token_urlsafe(12)
    if subprocess.run(["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", name]).returncode:
        return None, None
    subprocess.run(["chpasswd"], input=f"{name}:{password}".encode(), check=True)
    return name, password


def test_dante(tmp, echo):
    p, port, log = start_dante(tmp)
    if not p:
        check(False, f"danted started ({open(log).read()[-400:]})")
        return
    try:
        x = ["-x", f"127.0.0.1:{port}"]
        through("dante socks5", x, echo)
        through("dante socks5 -X 5, name resolved by the proxy", x + ["-X", "5"], echo,
                target=f"localhost:{echo.port}")
        refused("dante socks5", x, lambda e: "reply 5: Connection refused" in e)
        rc, out, err = sockkit(["--trace", "-w", "20"] + x + [f"127.0.0.1:{echo.port}"],
                               (3).to_bytes(4, "big") + b"abc")
        check(rc == 0 and out == b"abc" and "proxy leg: SOCKS5 handshake" in err
              and "05 01 00" in err and "proxy leg: tunnel to" in err,
              f"dante --trace: the handshake is shown as the proxy leg ({rc}, {err[-300:]!r})")
    finally:
        stop(p)
    check(p.returncode is not None, "danted stopped")

    user, password = throwaway_user()
    if not user:
        print("SKIP part: dante username/password needs root (a throwaway system user)")
        return
    try:
        p, port, _ = start_dante(tmp, "username", tag="d2")
        if not p:
            check(False, "danted (username) started")
            return
        try:
            x = ["-x", f"127.0.0.1:{port}"]
            good = dict(NO_PASSWORD, SOCKKIT_PROXY_PASSWORD=password)
            through("dante socks5 -P user", x + ["-P", user], echo, env=good)
            rc, out, err = sockkit(x + ["-P", user, f"127.0.0.1:{echo.port}"], b"x",
                                   dict(NO_PASSWORD, SOCKKIT_PROXY_PASSWORD="wrong" + password))
            check(rc == 1 and "username/password authentication failed" in err,
                  f"dante socks5 -P, wrong password: exit 1 ({rc}, {err.strip()!r})")
            rc, out, err = sockkit(x + [f"127.0.0.1:{echo.port}"], b"x")
            check(rc == 1 and "accepts none of the authentication methods" in err,
                  f"dante socks5 wanting a user, none given: exit 1 ({rc}, {err.strip()!r})")
        finally:
            stop(p)
    finally:
        subprocess.run(["userdel", user])


def test_tinyproxy(tmp, echo):
    for auth in (False, True):
        p, port, log = start_tinyproxy(tmp, auth)
        if not p:
            check(False, f"tinyproxy started ({open(log).read()[-400:]})")
            return
        try:
            x = ["-X", "connect", "-x", f"127.0.0.1:{port}"]
            env = dict(NO_PASSWORD, SOCKKIT_PROXY_PASSWORD="s3cret-pw")
            if auth:
                through("tinyproxy CONNECT -P user", x + ["-P", "proxyuser"], echo, env=env)
                rc, out, err = sockkit(x + [f"127.0.0.1:{echo.port}"], b"x")
                check(rc == 1 and "407" in err and "answered 'HTTP/1." in err,
                      f"tinyproxy without credentials: exit 1 with its 407 ({rc}, {err.strip()!r})")
                continue
            through("tinyproxy CONNECT", x, echo)
            through("tinyproxy CONNECT by name", x, echo, target=f"localhost:{echo.port}")
            refused("tinyproxy CONNECT", x,
                    lambda e: "answered 'HTTP/1." in e and " 50" in e)
        finally:
            stop(p)


tmp = tempfile.mkdtemp(prefix="sockkit-proxy-")
echo = Echo()
try:
    if os.path.exists(DANTED):
        test_dante(tmp, echo)
    else:
        print("SKIP part: danted not installed (dante-server)")
    if os.path.exists(TINYPROXY):
        test_tinyproxy(tmp, echo)
    else:
        print("SKIP part: tinyproxy not installed")
finally:
    echo.close()
    shutil.rmtree(tmp, ignore_errors=True)
time.sleep(0)
finish()
