"""The open loop's system calls per request (bench echo --rate, one connection, well under
saturation), counted by strace -f -c against sockkit serve echo: a send and a recv each, waits
(epoll_pwait2 to the next slot, a few polls in the last 20 us before it), and no timer of its own
(a timerfd re-armed after each send, and read at each expiry, made the round trip slower than a
blocking client's: docs/bench.md, "Open loop against closed loop"). Counts, not times: they do not
depend on how busy the machine is."""
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import (BIN, check, finish, kill_started, serve, skip, stop,  # noqa: E402
                    strace_calls)

if not shutil.which("strace"):
    skip("strace is not installed (scripts/deps.sh test)")

RATE, SECS = 500, 2
REQUESTS = RATE * SECS


try:
    p, host, port = serve(["echo", "127.0.0.1:0"])
    rc, out, err, n = strace_calls([BIN, "bench", "echo", "--rate", str(RATE), "-c", "1", "-d",
                                    str(SECS), "--warmup", "0", "-q", f"{host}:{port}"])
    check(rc == 0 and n.get("sendto", 0) >= REQUESTS * 0.9,
          f"bench echo --rate {RATE} under strace: {n.get('sendto')} sends ({err.strip()[-200:]})")
    sends = max(n.get("sendto", 0), 1)
    check(n.get("timerfd_settime", 0) == 0 and n.get("timerfd_create", 0) == 0,
          f"no timer of its own: {n.get('timerfd_settime', 0)} timerfd_settime")
    check(n.get("recvfrom", 0) <= sends * 1.1,
          f"one recv per request: {n.get('recvfrom')} for {sends} sends")
    # read: the few of the program's start (files), no timerfd expiries
    check(n.get("read", 0) < 50, f"no read per request: {n.get('read', 0)} reads")
    waits = n.get("epoll_pwait2", 0) + n.get("epoll_wait", 0)
    # two waits a request (the reply, the next slot) and the polls of the last 20 us: strace
    # slows each call down, so there are few of them; generous all the same
    check(waits <= sends * 6, f"waits per request: {waits / sends:.2f} ({n})")
    stop(p)
finally:
    kill_started()
finish()
