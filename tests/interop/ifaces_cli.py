"""sockkit ifaces on this machine, without root: the interfaces Python's socket.if_nameindex()
knows, loopback's addresses, groups joined by a Python socket on loopback (any-source and
source-specific) as they appear and go, --route to loopback addresses, bad input exit 2. The
namespace test (tests/net/ifaces_netns.sh) compares everything with iproute2."""
import json
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import BIN, check, finish, run  # noqa: E402


def ifaces(*args):
    rc, out, err = run([BIN, "ifaces", *args])
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, out.decode(errors="replace"), err


rc, doc, err = ifaces("--json")
check(rc == 0 and isinstance(doc, dict), f"ifaces --json: one JSON document ({err.strip()})")
ours = {i["index"]: i["name"] for i in doc["interfaces"]} if isinstance(doc, dict) else {}
check(ours == dict(socket.if_nameindex()), f"the interfaces of if_nameindex(): {ours}")
lo = next((i for i in doc["interfaces"] if "LOOPBACK" in i["flags"]), None)
check(lo is not None, "a loopback interface")
v4 = [a for a in lo["addresses"] if a["address"] == "127.0.0.1"] if lo else []
check(v4 and v4[0]["prefix"] == 8 and v4[0]["scope"] == "host" and v4[0]["family"] == "inet",
      f"loopback has 127.0.0.1/8 scope host ({v4})")

rc, text, _ = ifaces(lo["name"])
check(rc == 0 and text.startswith(f"{lo['index']}: {lo['name']} <") and "127.0.0.1/8" in text,
      f"ifaces {lo['name']}: its line and address")


def lo_groups():
    _, d, _ = ifaces("--json", lo["name"])
    return {g["group"]: g for g in d["interfaces"][0]["groups"]}


# A Python socket joins on loopback: once any-source, once for source 127.0.0.1.
asm, ssm = "239.77.18.9", "232.77.18.9"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
             socket.inet_aton(asm) + socket.inet_aton("127.0.0.1"))
ip_add_source = getattr(socket, "IP_ADD_SOURCE_MEMBERSHIP", 39)
# struct ip_mreq_source on Linux: multiaddr, interface, sourceaddr
s.setsockopt(socket.IPPROTO_IP, ip_add_source,
             socket.inet_aton(ssm) + socket.inet_aton("127.0.0.1") + socket.inet_aton("127.0.0.1"))
g = lo_groups()
check(asm in g and g[asm]["users"] >= 1 and g[asm]["sources"] == [], f"{asm} joined any-source on lo")
srcs = [(x["address"], x["include"]) for x in g.get(ssm, {}).get("sources", [])]
check(srcs == [("127.0.0.1", 1)], f"{ssm} joined for source 127.0.0.1 (include): {srcs}")
rc, text, _ = ifaces(lo["name"])
check(f"group {ssm}" in text and "sources 127.0.0.1 (include)" in text, "the text shows the SSM join")
s.close()
g = lo_groups()
check(asm not in g and ssm not in g, "both groups are gone after the socket closed")

rc, doc, err = ifaces("--json", "--route", "127.0.0.1")
check(rc == 0 and (doc["iface"], doc["source"], doc["type"]) == (lo["name"], "127.0.0.1", "local"),
      f"--route 127.0.0.1: {doc} {err.strip()}")
rc, doc, err = ifaces("--json", "--route", "::1")
if rc == 0:
    check((doc["iface"], doc["source"]) == (lo["name"], "::1"), f"--route ::1: {doc}")
else:
    print("note: no IPv6 loopback route here:", err.strip())
rc, text, _ = ifaces("--route", "127.0.0.2:80")
check(rc == 0 and text.startswith(f"127.0.0.2 dev {lo['name']} src 127.0.0.1"), f"--route text: {text.strip().splitlines()[0]}")

for args in (["--route", "not-an-address"], ["nosuch-if9"], ["a", "b"], ["--route", "::1", "lo"],
             ["--nope"], ["--route"]):
    rc, out, err = ifaces(*args)
    check(rc == 2 and len(err.strip().splitlines()) == 1, f"bad input {args}: exit {rc}, '{err.strip()}'")
rc, out, err = ifaces("nosuch-if9")
check(f"(this host has {lo['name']}" in err and err.count("see '") == 0,
      f"an unknown interface: the ones this host has, no 'see' twice ({err.strip()!r})")
rc, text, _ = ifaces("--help")
check(rc == 0 and "usage: sockkit ifaces" in text and "--route" in text, "--help")
finish()
