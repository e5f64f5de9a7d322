"""Helpers for the hostile-peer tests (tests/interop/hostile_*.py): process figures from /proc,
many non-blocking clients at once, and the five server models. Python standard library only."""
import os
import resource
import selectors
import socket
import subprocess
import time

MODELS = ("iterative", "thread", "fork", "pool", "event")
KiB = 1024
MiB = 1024 * KiB


def raise_fd_limit(need):
    """Raise this process's fd limit to its hard limit; False if that is under need."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 16
    if want < need:
        return False
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
    return True


def proc_status(pid, key):
    """A kB field of /proc/PID/status (VmRSS, VmHWM, Threads...) as an int (bytes for kB)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                parts = line.split()
                return int(parts[1]) * (1024 if len(parts) > 2 and parts[2] == "kB" else 1)
    raise RuntimeError(f"no {key} for {pid}")


def rss(pid):
    return proc_status(pid, "VmRSS")


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid):
    """(pid, state) of the live or zombie children of pid."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,stat="], stdout=subprocess.PIPE,
                         text=True).stdout
    return [(int(p), st) for p, pp, st in (l.split() for l in out.splitlines())
            if int(pp) == pid]


def zombies(pid):
    return [p for p, st in children(pid) if "Z" in st]


def connect_many(addr, n, timeout=20.0):
    """n non-blocking TCP connections made at once; returns those that connected."""
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(addr)
        sel.register(s, selectors.EVENT_WRITE)
        socks.append(s)
    pending = len(socks)
    deadline = time.time() + timeout
    while pending and time.time() < deadline:
        for key, _ in sel.select(0.5):
            sel.unregister(key.fileobj)
            pending -= 1
            if key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                socks.remove(key.fileobj)
                key.fileobj.close()
    for key in list(sel.get_map().values()):
        socks.remove(key.fileobj)
        key.fileobj.close()
    sel.close()
    return socks


def echo_latency(addr, timeout=10.0):
    """Seconds for a fresh client to connect, send a byte and get it back; None if it did not."""
    t0 = time.time()
    try:
        with socket.create_connection(addr, timeout=timeout) as s:
            s.sendall(b"!")
            if s.recv(1) != b"!":
                return None
    except OSError:
        return None
    return time.time() - t0


def end_of(sock, timeout):
    """Read until the connection ends: ('eof', bytes), ('reset', bytes) or ('open', bytes) if it
    had not ended within timeout."""
    sock.settimeout(timeout)
    got = bytearray()
    try:
        while True:
            b = sock.recv(65536)
            if not b:
                return "eof", bytes(got)
            got += b
    except ConnectionResetError:
        return "reset", bytes(got)
    except socket.timeout:
        return "open", bytes(got)
    except OSError:
        return "reset", bytes(got)


def settle(fn, want, timeout=5.0, step=0.1):
    """Call fn until it returns want (or timeout); returns its last value."""
    deadline = time.time() + timeout
    v = fn()
    while v != want and time.time() < deadline:
        time.sleep(step)
        v = fn()
    return v
