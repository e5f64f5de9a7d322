#!/usr/bin/env python3
"""What idle relayed pairs cost a relay: user-space memory (VmRSS) and fds per pair, for sockkit
relay and, when installed, HAProxy (mode tcp, one thread, splice-auto). Loopback only; every wait
is bounded.

usage: bench/relay_idle.py [-n N] [--json] [--only sockkit|haproxy]

Steps per relay: sockkit serve echo as the target (one loop); the relay in front of it; 20 warm-up
pairs opened, each checked with a 1-byte echo, and closed (the relay's allocator and pools are
warm); the relay's VmRSS and fd count; N clients opened one after another, each checked with a
1-byte echo through the relay (so each pair is joined and has carried bytes both ways); VmRSS and
fds again; per pair = the difference / N. The relay, the target and this script run with
RLIMIT_NOFILE raised to 3 N + 1,000 where allowed (the hard limit needs CAP_SYS_RESOURCE; where
it stays, N must fit: 2 fds per pair in the relay).
VmRSS is user space only: the kernel's socket buffers and pipes are not in it (the fd count shows
the pipes: a pipe is 2 fds).
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SK = os.environ.get("SK_BIN", os.path.join(ROOT, "build", "sockkit"))  # the relay and target
IO_TIMEOUT_S = 10
DEADLINE_S = 300


def fail(msg):
    sys.exit(f"relay_idle.py: {msg}")


def raise_nofile(want):
    """Soft limit up to want, the hard one too where allowed (root with CAP_SYS_RESOURCE; a
    container may deny it). Fails when the relay's 2 fds per pair would not fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return
    if hard < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return
        except (ValueError, OSError):
            pass
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start(cmd, log):
    """Start cmd; wait (bounded) for a port in its output ("port N" / "on 127.0.0.1 N")."""
    f = open(log, "w+")
    p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
    for _ in range(200):
        f.seek(0)
        m = re.search(r"(?:port |on 127\.0\.0\.1 |relaying 127\.0\.0\.1:)(\d+)", f.read())
        if m:
            return p, int(m.group(1))
        if p.poll() is not None:
            break
        time.sleep(0.05)
    p.kill()
    f.seek(0)
    fail(f"{cmd[0]} did not start: {f.read()[-500:]}")


def wait_listen(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    fail(f"nothing listens on {port}")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def nfds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def open_pairs(port, n, deadline):
    socks = []
    for i in range(n):
        if time.monotonic() > deadline:
            fail(f"deadline: {i} of {n} pairs opened")
        s = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S)
        s.sendall(b"x")
        if s.recv(1) != b"x":
            fail(f"pair {i}: no echo through the relay")
        socks.append(s)
    return socks


def measure(name, target_port, n, tmp):
    lp = None
    if name == "sockkit":
        cmd = [SK, "relay", "-v", "--workers", "1", "--max-conns", str(n + 1000), "127.0.0.1:0",
               f"127.0.0.1:{target_port}"]
        relay, lp = start(cmd, os.path.join(tmp, "relay.log"))
    else:
        lp = free_port()
        cfg = os.path.join(tmp, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(f"""global
    nbthread 1
    maxconn {n + 20}
    maxpipes 32
defaults
    mode tcp
    timeout connect 5s
    timeout client 600s
    timeout server 600s
    option splice-auto
listen relay
    bind 127.0.0.1:{lp}
    server target 127.0.0.1:{target_port}
""")
        relay = subprocess.Popen(["haproxy", "-f", cfg, "-db"], stdout=subprocess.DEVNULL,
                                 stderr=open(os.path.join(tmp, "haproxy.log"), "w"))
        wait_listen(lp)
    deadline = time.monotonic() + DEADLINE_S
    try:
        for s in open_pairs(lp, 20, deadline):
            s.close()
        time.sleep(0.5)
        rss0, fd0 = rss_kib(relay.pid), nfds(relay.pid)
        socks = open_pairs(lp, n, deadline)
        time.sleep(0.5)
        rss1, fd1 = rss_kib(relay.pid), nfds(relay.pid)
        for s in socks:
            s.close()
        return {"relay": name, "pairs": n, "rss_before_kib": rss0, "rss_after_kib": rss1,
                "rss_per_pair_bytes": round((rss1 - rss0) * 1024 / n),
                "fds_per_pair": round((fd1 - fd0) / n, 2)}
    finally:
        relay.send_signal(signal.SIGTERM)
        try:
            relay.wait(10)
        except subprocess.TimeoutExpired:
            relay.kill()
            relay.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--only", choices=["sockkit", "haproxy"])
    a = ap.parse_args()
    raise_nofile(3 * a.n + 1000)  # inherited by the relay and the target
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if 2 * a.n + 150 > limit:
        fail(f"the relay needs 2 fds per pair: -n {a.n} does not fit RLIMIT_NOFILE {limit} "
             f"(at most -n {(limit - 150) // 2} here; raise the hard limit as root)")
    names = [a.only] if a.only else ["sockkit"] + (["haproxy"] if shutil.which("haproxy") else [])
    with tempfile.TemporaryDirectory() as tmp:
        target, tport = start([SK, "serve", "-v", "--workers", "1", "--max-conns",
                               str(a.n + 1000), "echo", "127.0.0.1:0"],
                              os.path.join(tmp, "target.log"))
        try:
            rows = [measure(n, tport, a.n, tmp) for n in names]
        finally:
            target.send_signal(signal.SIGTERM)
            try:
                target.wait(10)
            except subprocess.TimeoutExpired:
                target.kill()
    if a.json:
        print(json.dumps(rows))
        return
    print("| relay | pairs | VmRSS before -> after (KiB) | RSS per pair | fds per pair |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['relay']} | {r['pairs']} | {r['rss_before_kib']} -> {r['rss_after_kib']} | "
              f"{r['rss_per_pair_bytes']} B | {r['fds_per_pair']} |")


if __name__ == "__main__":
    main()
