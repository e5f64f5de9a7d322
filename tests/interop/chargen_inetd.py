"""`sockkit serve chargen` against a real inetd's internal chargen (openbsd-inetd), byte for byte,
over TCP and UDP, in every model, and both against the RFC 864 pattern: 72 printable characters
and CR LF per line, line n starting at character n of the ring ASCII 32..126. UDP: each datagram
holds a random 0..512 characters of the pattern (RFC 864), a new length at every start and in
every child of the fork model, starting one line further each time (as inetd does).

inetd runs as our own process (-d: in the foreground) with a config of our own. Its internal
services are found by name, so it listens on the chargen port, 19: on 127.0.0.19 for TCP, and on
[::1] for UDP (openbsd-inetd does not answer datagrams from 127.0.0.0/8, an anti-spoofing rule).
That needs root (a port under 1024); without it, or without inetd, the test skips."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import check, finish, kill_started, serve, skip, stop  # noqa: E402
from hostile import MODELS  # noqa: E402

TCP_ADDR = ("127.0.0.19", 19)
UDP_ADDR = ("::1", 19)
TCP_BYTES = 74 * 300 + 41  # 300 lines and a part: past the ring's 95 lines, three times


def pattern(line, n):
    """n bytes of the RFC 864 pattern from the start of line `line`."""
    out = bytearray(n)
    for i in range(n):
        col = i % 74
        out[i] = 32 + (line + i // 74 + col) % 95 if col < 72 else (13 if col == 72 else 10)
    return bytes(out)


def tcp_read(addr, n, family=socket.AF_INET):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(addr)
        got = bytearray()
        while len(got) < n:
            b = s.recv(65536)
            if not b:
                break
            got += b
    return bytes(got[:n])


def udp_replies(addr, count, family):
    """count datagrams, one at a time; the replies in order (None for one that did not come)."""
    out = []
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        for _ in range(count):
            s.sendto(b"?", addr)
            try:
                out.append(s.recv(65536))
            except socket.timeout:
                out.append(None)
    return out


def start_inetd(tmp):
    conf = os.path.join(tmp, "inetd.conf")
    with open(conf, "w") as f:
        f.write(f"{TCP_ADDR[0]}:chargen stream tcp nowait root internal\n"
                f"[{UDP_ADDR[0]}]:chargen dgram udp6 wait root internal\n")
    p = subprocess.Popen([shutil.which("inetd"), "-d", conf], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 5
    while time.time() < deadline:
        if p.poll() is not None:
            break
        try:
            socket.create_connection(TCP_ADDR, timeout=1).close()
            return p
        except OSError:
            time.sleep(0.1)
    p.kill()
    _, err = p.communicate()
    skip(f"inetd did not serve chargen on {TCP_ADDR[0]}:19: {err.decode(errors='replace')[-300:]}")


def check_dgrams(what, replies, start=0):
    """Each reply is the pattern from one line further than the one before; returns the lengths."""
    lens = []
    line = start
    for i, r in enumerate(replies):
        if r is None:
            check(False, f"{what}: datagram {i} answered")
            return lens
        lens.append(len(r))
        if not r == pattern(line % 95, len(r)):
            check(False, f"{what}: datagram {i} ({len(r)} bytes) is the pattern from line "
                         f"{line % 95}: {r[:80]!r}")
            return lens
        line += 1
    check(True, f"{what}: {len(replies)} datagrams, each the RFC 864 pattern from one line "
                f"further, lengths {min(lens)}..{max(lens)}")
    return lens


def main(tmp):
    inetd = start_inetd(tmp)
    try:
        ref = tcp_read(TCP_ADDR, TCP_BYTES)
        check(ref == pattern(0, TCP_BYTES), f"inetd tcp: {TCP_BYTES} bytes of the RFC 864 pattern")
        ref_dg = udp_replies(UDP_ADDR, 100, socket.AF_INET6)
        check_dgrams("inetd udp", ref_dg)
    finally:
        inetd.send_signal(signal.SIGTERM)
        inetd.wait(5)
    for model in MODELS:
        p, host, port = serve(["chargen", "--model", model, "127.0.0.1:0"])
        got = tcp_read((host, port), TCP_BYTES)
        check(got == ref, f"{model} tcp: the first {TCP_BYTES} bytes equal inetd's")
        stop(p)
        runs = []
        for _ in range(2):  # a restart must not repeat the lengths
            p, host, port = serve(["chargen", "-u", "--model", model, "[::1]:0"])
            replies = udp_replies((host.strip("[]"), port), 100, socket.AF_INET6)
            stop(p)
            lens = check_dgrams(f"{model} udp", replies)
            same = all(r is not None and d is not None and r[:len(d)] == d[:len(r)]
                       for r, d in zip(replies, ref_dg))
            check(same, f"{model} udp: each datagram agrees with inetd's for the same line")
            runs.append(lens)
        check(len(set(runs[0])) >= 20 and runs[0] != runs[1],
              f"{model} udp: random lengths ({len(set(runs[0]))} different in 100), not the same "
              f"after a restart")


if os.geteuid() != 0:
    skip("inetd's chargen listens on port 19: root is needed")
if not shutil.which("inetd"):
    skip("inetd (openbsd-inetd) is not installed")
try:
    with tempfile.TemporaryDirectory() as tmp:
        main(tmp)
finally:
    kill_started()
finish()
