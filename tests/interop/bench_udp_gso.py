"""bench udp --rate: what a paced sender costs, in system calls (strace -f -c; counts do not depend
on how busy the machine is). At 50,000 packets/s (50 due a 1 ms tick) the sender sends each
tick's packets with one call (UDP GSO: one datagram the kernel cuts into packets; sendmmsg where
GSO is refused) and sleeps until the next tick: it does not come back every few microseconds for
the packet or two due since, one call each. Every packet arrives, in order (the receiver's
sequence check), and --trace still shows each datagram (no GSO then)."""
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import BIN, check, finish, free_port, run, skip, strace_calls  # noqa: E402

if not shutil.which("strace"):
    skip("strace is not installed (scripts/deps.sh test)")

RATE, SECS = 20000, 1


def receive(port, secs):
    return subprocess.Popen([BIN, "bench", "udp", "--recv", "-q", "-d", str(secs), "--json",
                             f"127.0.0.1:{port}"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def end_of(out):
    try:
        return json.loads(out).get("end", {})
    except ValueError:
        return {}


port = free_port("udp")
recv = receive(port, SECS + 5)
try:
    time.sleep(0.3)  # the receiver binds
    rc, out, err, n = strace_calls([BIN, "bench", "udp", "--rate", str(RATE), "-d", str(SECS),
                                    "--json", f"127.0.0.1:{port}"])
    rout, _ = recv.communicate(timeout=30)
finally:
    if recv.poll() is None:
        recv.kill()
        recv.wait()
sent = end_of(out).get("packets", 0)
got = end_of(rout)
check(rc == 0 and sent == RATE * SECS, f"bench udp --rate {RATE} -d {SECS}: {sent} sent")
# a receiver kept off the CPU (ASan, a busy machine) may overflow its buffer: losses, but never
# a packet out of order, twice, or unaccounted for (GSO cuts the datagram at the right places)
check(got.get("received", 0) + got.get("lost", -1) == sent and got.get("received", 0) >= 0.9 * sent
      and got.get("reordered") == 0 and got.get("duplicated", 0) == 0,
      f"the packets arrived in order ({got.get('received')} received, {got.get('lost')} lost)")
sends = n.get("sendmsg", 0) + n.get("sendmmsg", 0)
# 1000 ticks a second, each one call (GSO takes 64 at once, so 20 is one); a busy machine's late
# ticks carry more packets, so fewer calls: 3 a tick is generous
check(0 < sends <= 3 * 1000 * SECS, f"sends: {sends} calls for {sent} packets ({n})")
check(n.get("ppoll", 0) >= 200 * SECS, f"the sender sleeps between ticks: {n.get('ppoll', 0)} waits")

# --trace: each datagram traced (sendmmsg; a GSO datagram would bypass the library's trace)
port = free_port("udp")
recv = receive(port, 5)
try:
    time.sleep(0.3)
    rc, out, err = run([BIN, "bench", "udp", "--rate", "2000", "-d", "0.05", "--trace=calls", "-q",
                        f"127.0.0.1:{port}"], timeout=60)
    recv.communicate(timeout=30)
finally:
    if recv.poll() is None:
        recv.kill()
        recv.wait()
traced = len(re.findall(r"> 127\.0\.0\.1:\d+\s+64 bytes", err))
check(rc == 0 and traced == 100, f"--trace shows each of the 100 datagrams: {traced} lines")
finish()
