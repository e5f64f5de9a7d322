"""redis-server and redis-cli (Debian's) talking through sockkit relay --trace: the answers are
right, and the trace shows the RESP bytes on both legs, each data line naming its leg and
direction (client->relay, relay->target, target->relay, relay->client)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import (check, finish, free_port, kill_started, relay, skip, stop,  # noqa: E402
                    wait_bound)


def main():
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        skip("redis-server and redis-cli are needed (Debian redis-server, redis-tools)")
    rport = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no", "--dir", tmp],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_bound(rport, timeout=10)
            trace = os.path.join(tmp, "trace.txt")
            p, port = relay(["--trace", "--trace-file", trace, "127.0.0.1:0",
                             f"127.0.0.1:{rport}"])
            cli = ["redis-cli", "-h", "127.0.0.1", "-p", str(port)]
            out = subprocess.run(cli + ["SET", "sockkit", "relayed"], capture_output=True,
                                 text=True, timeout=10).stdout.strip()
            check(out == "OK", f"SET through the relay: {out!r}")
            out = subprocess.run(cli + ["GET", "sockkit"], capture_output=True, text=True,
                                 timeout=10).stdout.strip()
            check(out == "relayed", f"GET through the relay: {out!r}")
            time.sleep(0.3)
            rc, err = stop(p)
            check(rc == 0, f"relay exits 0 (got {rc})")
            with open(trace) as f:
                err = f.read()
            for leg in ("client->relay", "relay->target", "target->relay", "relay->client"):
                check(re.search(rf"[<>] \S+  \d+ bytes? @\d+  fd=\d+  {re.escape(leg)}\n", err),
                      f"a data line names the leg {leg}")
            # the hexdump's text column: "*3\r\n$3\r\nSET" read from the client and written to
            # the target; "+OK\r\n" and "$7\r\nrelayed\r\n" read from the target and written to
            # the client
            for what, text in (("the SET command", "|*3..$3..SET..$"), ("+OK", "|+OK..|"),
                               ("the GET answer", "|$7..relayed..|")):
                n = err.count(text)
                check(n >= 2, f"the trace shows {what} on both legs ({n} dumps)")
            check("spliced" not in err, "--trace copies (the bytes must be seen), never splices")
        finally:
            kill_started()
            server.terminate()
            server.wait(timeout=10)
    finish()


if __name__ == "__main__":
    main()
