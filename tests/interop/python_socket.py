"""Interop: Python's standard socket module as client and as server to a C program built on
libsockkit (tests/helpers/xfer.c), 1 MiB of random bytes each way, CRC-32 compared on both sides,
over TCP/IPv4, TCP/IPv6, a Unix path and a Unix abstract name."""
import os
import random
import socket
import sys
import threading
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import HELPERS, check, finish, read_port, start  # noqa: E402

XFER = os.path.join(HELPERS, "xfer")
SIZE = 1 << 20


def helper_pattern(n, seed):
    """The same pseudo-random bytes xfer.c generates."""
    out = bytearray(n)
    for i in range(n):
        seed = (seed * 1103515245 + 12345) & 0xFFFFFFFF
        out[i] = (seed >> 16) & 0xFF
    return bytes(out)


def recv_all(sock):
    chunks = []
    while True:
        b = sock.recv(65536)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def python_client_c_server(name, family, endpoint, addr_of):
    payload = random.randbytes(SIZE)
    proc = start([XFER, "server", endpoint, str(SIZE), "7"])
    port = read_port(proc)
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(addr_of(port))
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        reply = recv_all(s)
    out, err = proc.communicate(timeout=10)
    line, data = reply[:9], reply[9:]
    mine = f"{zlib.crc32(payload):08x}"
    check(proc.returncode == 0, f"{name}: C server exit 0 ({err.strip()})")
    check(line.decode() == mine + "\n", f"{name}: C server's CRC of our 1 MiB matches ({mine})")
    check(f"received {mine} {SIZE}" in out, f"{name}: C server reports {SIZE} bytes received")
    check(len(data) == SIZE and data == helper_pattern(SIZE, 7),
          f"{name}: the C server's 1 MiB arrived intact")
    check(f"sent {zlib.crc32(data):08x}" in out, f"{name}: C server's own CRC agrees with ours")


def c_client_python_server(name, family, bind_addr, endpoint_of):
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.bind(bind_addr)
    srv.listen(1)
    reply_payload = random.randbytes(SIZE)
    result = {}

    def serve():
        srv.settimeout(10)
        conn, _ = srv.accept()
        with conn:
            conn.settimeout(10)
            got = recv_all(conn)
            result["got"] = got
            conn.sendall(f"{zlib.crc32(got):08x}\n".encode() + reply_payload)

    t = threading.Thread(target=serve)
    t.start()
    proc = start([XFER, "client", endpoint_of(srv.getsockname()), str(SIZE), "11"])
    out, err = proc.communicate(timeout=20)
    t.join(10)
    srv.close()
    expect = helper_pattern(SIZE, 11)
    check(proc.returncode == 0, f"{name}: C client exit 0 ({err.strip()})")
    check(result.get("got") == expect, f"{name}: Python server got the C client's 1 MiB intact")
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines())
    check(lines.get("sent") == lines.get("peer-saw") == f"{zlib.crc32(expect):08x}",
          f"{name}: both sides agree on the CRC of the client's data")
    check(lines.get("received") == f"{zlib.crc32(reply_payload):08x} {SIZE}",
          f"{name}: C client received the Python server's 1 MiB intact")


def main():
    path = f"/tmp/sockkit-interop-{os.getpid()}.sock"
    abstract = f"sockkit-interop-{os.getpid()}"
    python_client_c_server("tcp4", socket.AF_INET, "127.0.0.1:0", lambda p: ("127.0.0.1", p))
    python_client_c_server("tcp6", socket.AF_INET6, "[::1]:0", lambda p: ("::1", p))
    python_client_c_server("unix", socket.AF_UNIX, f"unix:{path}", lambda p: path)
    python_client_c_server("abstract", socket.AF_UNIX, f"unix:@{abstract}",
                           lambda p: "\0" + abstract)
    if os.path.exists(path):
        os.unlink(path)
    c_client_python_server("tcp4", socket.AF_INET, ("127.0.0.1", 0),
                           lambda a: f"{a[0]}:{a[1]}")
    c_client_python_server("tcp6", socket.AF_INET6, ("::1", 0), lambda a: f"[{a[0]}]:{a[1]}")
    c_client_python_server("unix", socket.AF_UNIX, path, lambda a: f"unix:{a}")
    os.unlink(path)
    c_client_python_server("abstract", socket.AF_UNIX, "\0" + abstract + "-c",
                           lambda a: f"unix:@{a[1:].decode() if isinstance(a, bytes) else a[1:]}")
    finish()


main()
