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
# a number without an IPPROTO_ name is still a protocol number (the IP header has 8 bits for it)
rc, out, err = run([BIN, "proto", "200"])
check(rc == 0 and out.decode().startswith("protocol number 200 (")
      and "no IPPROTO_ name" in out.decode(), f"proto 200: a number with no name ({out!r})")
rc, out, err = run([BIN, "proto", "256"])
check(rc == 2 and err.count("\n") == 1 and "from 0 to 255" in err,
      f"proto 256: out of the 8-bit field, exit 2 ({err.strip()!r})")
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


def one_line(args, status, needle):
    """args exit with status and exactly one line on stderr containing needle, nothing on stdout."""
    rc, out, err = run([BIN] + args)
    lines = err.split("\n")
    ok = rc == status and len(lines) == 2 and lines[1] == "" and needle in lines[0] and not out
    check(ok, f"{args!r}: exit {rc}, one line with {needle!r}: {err!r}")


# A usage error is one line that names what is missing and where help is.
one_line([], 2, "sockkit: missing command (demo, connect, listen, relay, serve, mcast, bench, proto, "
                "resolve, ifaces, completion) (see 'sockkit --help')")
one_line(["frobnicate"], 2, "unknown command 'frobnicate'")
one_line(["--frobnicate"], 2, "unknown option '--frobnicate'")
one_line(["bench"], 2, "sockkit bench: missing benchmark (echo, connect, stream, udp, merge) "
                       "(see 'sockkit bench --help')")
one_line(["mcast"], 2, "sockkit mcast: missing 'send' or 'recv' (see 'sockkit mcast --help')")
rc, out, _ = run([BIN, "mcast", "--help"])
check(rc == 0 and b"usage:" in out, "mcast --help: usage on stdout, exit 0")

# The option getopt refused, as typed (not the argument before it).
one_line(["connect", "-vQ", "127.0.0.1:1"], 2, "unknown option '-Q'")
one_line(["connect", "--trace", "-Qv", "127.0.0.1:1"], 2, "unknown option '-Q'")
one_line(["bench", "echo", "--json=yes", "127.0.0.1:1"], 2, "option '--json' takes no value")
one_line(["listen", "--exec"], 2, "option '--exec' needs a value")
one_line(["listen", "-w"], 2, "option '-w' needs a value")

# Arguments are quoted escaped: a message stays one line and shows what was typed.
one_line(["connect", "a\nb"], 2, "'a\\nb' has no port")
one_line(["connect", "\x01\x1b[31m\t\\"], 2, "'\\x01\\x1b[31m\\t\\\\' has no port")
one_line(["connect", "caf\u00e9\u202e"], 2, "'caf\u00e9\\u202e' has no port")
one_line(["connect", "a\nb:1"], 2, "'a\\nb'")
one_line(["proto", "x\ry"], 2, "unknown name 'x\\ry'")
one_line(["serve", "echo\n"], 2, "unknown service 'echo\\n'")
one_line(["mcast", "recv", "--iface", "lo", "x\x7fy"], 2, "x\\x7fy")
rc, _, err = run([BIN, "connect", "-w", "x" * 50000 + "\n", "127.0.0.1:1"])
check(rc == 2 and err.count("\n") == 1 and len(err) < 3000 and "bytes left out" in err,
      f"a 50 kB argument: one line of {len(err)} bytes, the middle left out")
rc, _, err = run([BIN, "connect", b"\xff\xfe\xc3"])
check(rc == 2 and "'\\xff\\xfe\\xc3' has no port" in err and err.count("\n") == 1,
      f"invalid UTF-8 is escaped byte by byte: {err!r}")

# --trace takes calls or data, everywhere; anything else is a usage error.
for cmd in (["connect"], ["listen"], ["serve"], ["mcast", "send"], ["mcast", "recv"], ["demo"]):
    for bad in ("--trace=bogus", "--trace=", "--trace=DATA"):
        one_line(cmd + [bad, "239.1.1.1:9"] if cmd[0] == "mcast" else cmd + [bad], 2,
                 "--trace takes 'calls' or 'data'")
    one_line(cmd + ["--trace-file="], 2, "--trace-file needs a file name")
finish()
