"""sockkit proto, demo, --help and --version: output and exit codes."""
import os
import re
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import BIN, check, finish, run  # noqa: E402

rc, out, err = run([BIN, "proto"])
text = out.decode()
check(rc == 0 and re.search(r"^IPPROTO_TCP\s+6\s+tcp\s", text, re.M) is not None,
      "proto: the table lists IPPROTO_TCP 6 tcp")
names = {line.split()[0] for line in text.splitlines()[1:]}
expected = {k for k in dir(socket) if k.startswith("IPPROTO_") and k not in ("IPPROTO_MAX",)}
missing = sorted(expected - names)
check(not missing, f"proto: every IPPROTO_* Python's socket module knows is listed (missing {missing})")

rc, out, _ = run([BIN, "proto", "IPPROTO_IP"])
t = out.decode()
check(rc == 0 and "IPPROTO_HOPOPTS" in t and "default protocol for this" in t and "level argument" in t,
      "proto IPPROTO_IP: both roles and the shared number")
rc, out, _ = run([BIN, "proto", "6"])
check(rc == 0 and "IPPROTO_TCP" in out.decode(), "proto 6: IPPROTO_TCP")
rc, out, _ = run([BIN, "proto", "--options"])
check(rc == 0 and re.search(r"^SO_REUSEADDR\s+SOL_SOCKET\s+2\s+yes", out.decode(), re.M) is not None,
      "proto --options: SO_REUSEADDR at SOL_SOCKET")
for flag, want in (("--families", "AF_INET6"), ("--types", "SOCK_SEQPACKET")):
    rc, out, _ = run([BIN, "proto", flag])
    check(rc == 0 and want in out.decode(), f"proto {flag} lists {want}")
rc, _, err = run([BIN, "proto", "nosuchthing"])
check(rc == 2 and len(err.strip().splitlines()) == 1 and "nosuchthing" in err, "proto: unknown name exits 2")

rc, out, err = run([BIN, "demo"])
d = out.decode()
for pattern in [r"server tcp   socket\(AF_INET, SOCK_STREAM, IPPROTO_TCP\) = \d+",
                r"server tcp   bind 127\.0\.0\.1:0 \(port 0: the kernel chose 127\.0\.0\.1:\d+\)",
                r"server tcp   listen backlog=\d+",
                r"client tcp   connect 127\.0\.0\.1:\d+",
                r"server tcp   accept 127\.0\.0\.1:\d+ = \d+",
                r"client tcp   > 127\.0\.0\.1:\d+  10 bytes @0",
                r"    00000000  47 45 54 20 2f 74 69 6d  65 0a +\|GET /time\.\|",
                r"client tcp   shutdown SHUT_WR",
                r"server udp   socket\(AF_INET, SOCK_DGRAM, IPPROTO_UDP\)",
                r"IPPROTO_IP\) = \d+  \(protocol 0: default for SOCK_DGRAM = IPPROTO_UDP\)",
                r"server udp   < 127\.0\.0\.1:\d+  4 bytes @0",
                r"client unix  connect unix:@sockkit-demo-\d+"]:
    check(re.search(pattern, d) is not None, f"demo shows /{pattern}/")
check(rc == 0, "demo exits 0")
udp_part = d[d.index("UDP server"):d.index("Unix stream")]
check("udp   listen" not in udp_part and "udp   accept" not in udp_part and "udp   recvfrom" not in udp_part
      and "server udp   < " in udp_part, "demo: the UDP part has datagrams but no listen or accept")

for args in (["--help"], ["connect", "--help"], ["listen", "-h"], ["proto", "--help"], ["demo", "--help"]):
    rc, out, _ = run([BIN] + args)
    check(rc == 0 and b"usage:" in out, f"{' '.join(args)}: usage on stdout, exit 0")
rc, out, _ = run([BIN, "--version"])
check(rc == 0 and re.match(rb"sockkit \d+\.\d+\.\d+\n", out) is not None, "--version")
rc, _, err = run([BIN])
check(rc == 2 and "usage:" in err, "no command: usage on stderr, exit 2")
rc, _, err = run([BIN, "frobnicate"])
check(rc == 2 and len(err.strip().splitlines()) == 1, "unknown command: one line, exit 2")
finish()
