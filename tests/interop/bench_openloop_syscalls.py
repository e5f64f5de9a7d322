"""The open loop's system calls per request (bench echo --rate, one connection, well under
saturation), counted by strace -f -c against sockkit serve echo: a send; a blocking recv that gets
the reply and one that waits for the next slot, ended by a POSIX timer armed once a request (its
signal); polls before the next slot (a tenth of the gap, more where wakeups come later, at most
200 us); no timerfd (a
timerfd re-armed after each send, and read at each expiry, made the round trip slower than a
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
          f"no timerfd: {n.get('timerfd_settime', 0)} timerfd_settime")
    # one connection: the reply is awaited in a blocking recv, which a POSIX timer, armed once a
    # request (before its send), ends if the reply is late
    check(n.get("timer_create", 0) == 1 and n.get("timer_settime", 0) <= sends * 1.1,
          f"one timer, armed once a request: {n.get('timer_settime', 0)} for {sends} sends")
    # two recvs a request: one gets the reply, one waits for the next slot (ended by the timer)
    check(n.get("recvfrom", 0) <= sends * 2.2,
          f"two recvs per request: {n.get('recvfrom')} for {sends} sends")
    check(n.get("fcntl", 0) < 10, f"the fd made blocking once: {n.get('fcntl', 0)} fcntl")
    # read: the few of the program's start (files; a sanitizer's runtime reads /proc too, 52 under
    # TSan), no timerfd expiry read per request
    check(n.get("read", 0) < sends // 4,
          f"no read per request: {n.get('read', 0)} reads for {sends} sends")
    # sleeping waits (the next slot; the reply, when the blocking recv was not used): epoll_pwait2
    sleeps = n.get("epoll_pwait2", 0)
    check(sleeps <= sends * 3, f"sleeping waits per request: {sleeps / sends:.2f} ({n})")
    # and the polls (epoll_wait, no timeout) before each slot: at most 200 us of the 2 ms gap, where
    # a poll under strace takes ~10 microseconds; polling the whole gap would be hundreds
    polls = n.get("epoll_wait", 0)
    check(polls <= sends * 25, f"polls per request: {polls / sends:.2f} ({n})")
    stop(p)
finally:
    kill_started()
finish()
