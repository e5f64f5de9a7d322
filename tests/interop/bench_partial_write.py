"""sockkit bench echo (the closed loop) with messages larger than the socket buffers: a partial
write makes the generator ask for EPOLLOUT, and only while bytes wait for room.

- Echo: a slow reader that echoes what it reads at once, but holds the end of each message for
  a second. The generator hears echoes while it still writes; once its bytes are out it must stop
  asking for EPOLLOUT (level-triggered: left armed, every epoll_wait returns at once and it spins
  on a writable socket while it waits for the end of the echo): its epoll_wait calls (strace -c)
  stay within a few per read or write.
- Whole: a server that answers only once it has the whole message. After a partial write the
  generator must ask for EPOLLOUT by itself (no reply comes to wake it): the message gets out and
  its echo back.

Every byte comes back in both."""
import json
import os
import shutil
import socketserver
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import BIN, check, finish, run, strace_calls, tcp_server  # noqa: E402

SIZE = 8 << 20  # more than the send buffer ever holds (tcp_wmem's most is 4 MiB)
HOLD_S = 1.0


class Echo(socketserver.BaseRequestHandler):
    whole = False

    def handle(self):
        time.sleep(0.2)  # the generator's first write fills its send buffer: a partial write
        seen, held = 0, bytearray()
        while True:
            try:
                data = self.request.recv(65536)
            except OSError:
                return
            if not data:
                return
            time.sleep(0.002)  # a slow reader: the generator's writes wait for room, over and over
            seen += len(data)
            held += data
            end = seen % SIZE == 0
            if end:
                time.sleep(HOLD_S)  # the generator has written it all and waits
            if end or not self.whole:
                try:
                    self.request.sendall(held)
                except OSError:
                    return
                held = bytearray()


class Whole(Echo):
    whole = True


HAVE_STRACE = shutil.which("strace") is not None

for handler in (Echo, Whole):
    name = handler.__name__
    args = [BIN, "bench", "echo", "--size", str(SIZE), "-d", "3", "--warmup", "0", "--json",
            tcp_server(handler)[1]]
    if HAVE_STRACE:
        rc, out, err, n = strace_calls(args)
    else:
        (rc, out, err), n = run(args, timeout=60), {}
    try:
        end = json.loads(out).get("end", {})
    except ValueError:
        end = {}
    check(rc == 0 and end.get("requests", 0) >= 1 and end.get("errors") == 0,
          f"{name}: bench echo --size {SIZE}: echoes checked, no errors "
          f"({end.get('requests')} requests, {err.strip()[-200:]})")
    if not HAVE_STRACE:
        print("(no strace: the count of waits is not checked)")
        continue
    # counts, not CPU time (a sanitizer's build spends seconds writing and checking the bytes):
    # a wait returns for a read, a write or the loop's 10 ms timeout; a spinning generator's
    # return at once, tens of thousands of times
    waits, io = n.get("epoll_wait", 0), n.get("sendto", 0) + n.get("recvfrom", 0)
    check(waits <= 2 * io + 1000,
          f"{name}: the generator waits, not spins: {waits} epoll_wait for {io} sends and recvs")
finish()
