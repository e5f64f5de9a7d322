"""Real proxies for the tests (danted, tinyproxy), started in the foreground on loopback with
configuration files of the test's own and stopped by PID, and a Python echo server to reach
through them. Shared by proxy_real.py (connect -x) and relay_via.py (relay --via)."""
import os
import socket
import subprocess
import threading

from sktest import free_port, wait_bound

DANTED = "/usr/sbin/danted"
TINYPROXY = "/usr/bin/tinyproxy"


class Echo:
    """A TCP server: per connection, a 4-byte length, then that many bytes, sent back, close."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self.one, args=(conn,), daemon=True).start()

    @staticmethod
    def one(conn):
        with conn:
            conn.settimeout(30)
            data = b""
            try:
                while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "big"):
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                conn.sendall(data[4:])
            except OSError:
                pass

    def close(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()


def daemon(argv, port, log):
    """Start a proxy in the foreground; wait until it listens. None (and the log) if it does not."""
    out = open(log, "wb")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_bound(port, timeout=15)
    except RuntimeError:
        stop(p)
        return None
    return p


def stop(p):
    if p and p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def dante_conf(dir, port, method):
    path = os.path.join(dir, f"danted-{method}.conf")
    with open(path, "w") as f:
        f.write(f"""logoutput: stderr
internal: 127.0.0.1 port = {port}
external: 127.0.0.1
clientmethod: none
socksmethod: {method}
{"user.privileged: root" if os.geteuid() == 0 else ""}
{"user.unprivileged: nobody" if os.geteuid() == 0 else ""}
client pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}
socks pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}
""")
    return path


def tiny_conf(dir, port, auth):
    path = os.path.join(dir, f"tinyproxy-{int(auth)}.conf")
    with open(path, "w") as f:
        f.write(f"""Port {port}
Listen 127.0.0.1
Timeout 30
MaxClients 20
Allow 127.0.0.1
LogLevel Info
PidFile "{dir}/tinyproxy.pid"
""")
        if os.geteuid() == 0:
            f.write("User nobody\nGroup nogroup\n")
        if auth:
            f.write("BasicAuth proxyuser s3cret-pw\n")
    return path


def start_dante(dir, method="none", tag="d"):
    """danted on a free loopback port with dante_conf(method): (process or None, port, log)."""
    port = free_port()
    log = os.path.join(dir, f"{tag}anted.log")
    p = daemon([DANTED, "-f", dante_conf(dir, port, method), "-p", os.path.join(dir, f"{tag}.pid"),
                "-N", "1"], port, log)
    return p, port, log


def start_tinyproxy(dir, auth=False):
    """tinyproxy on a free loopback port with tiny_conf(auth): (process or None, port, log)."""
    port = free_port()
    log = os.path.join(dir, f"tinyproxy-{int(auth)}.log")
    p = daemon([TINYPROXY, "-d", "-c", tiny_conf(dir, port, auth)], port, log)
    return p, port, log
