"""sockkit resolve: rows, sources, connect order, --all-flags, -r, --self and --json, checked
against Python's socket module and the machine's own /etc/hosts (read, never changed); bad input
exits 2, a name that does not resolve exits 1. Names that reach the resolver end in .invalid
(RFC 2606), so nothing waits on the network for long."""
import ipaddress
import json
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import BIN, check, finish, run  # noqa: E402


def resolve(*args):
    rc, out, err = run([BIN, "resolve", *args])
    return rc, out.decode(errors="replace"), err


def resolve_json(*args):
    rc, out, err = resolve("--json", *args)
    try:
        doc = json.loads(out)
    except ValueError as e:
        doc = {"_error": f"not one JSON document ({e}): {out[:200]!r}"}
    return rc, doc, err


def addrs(doc):
    return [r["address"] for r in doc.get("rows", [])]


# ---- localhost: the library's RFC 6761 rule, both families, Happy Eyeballs --------------------
rc, out, err = resolve("localhost:80")
check(rc == 0, f"localhost:80 exits 0 ({err.strip()})")
check("built in (RFC 6761)" in out, "localhost: the source is the library's RFC 6761 rule")
check("IPPROTO_TCP (6)" in out and "AF_INET6 (10)" in out and "SOCK_STREAM (1)" in out,
      "localhost: family, type and protocol by name and number")
check("sockkit proto IPPROTO_IP" in out, "localhost: the hint ties protocol 0 to 'sockkit proto IPPROTO_IP'")
check("Happy Eyeballs" in out and "1. [::1]:80 2. 127.0.0.1:80" in out,
      "localhost: Happy Eyeballs order [::1]:80, then 127.0.0.1:80")

rc, doc, err = resolve_json("localhost:80")
check(rc == 0 and addrs(doc) == ["::1", "127.0.0.1"], f"--json localhost:80 rows {addrs(doc)}")
check(doc.get("source") == "built in (RFC 6761)" and doc.get("builtin") is True, "--json: source built in")
row = doc.get("rows", [{}])[0]
check((row.get("protocol"), row.get("protocol_number"), row.get("socktype"), row.get("port"),
       row.get("endpoint"), row.get("canonical_name")) ==
      ("IPPROTO_TCP", 6, "SOCK_STREAM", 80, "[::1]:80", "localhost"), f"--json row {row}")
order = doc.get("connect_order") or {}
check(order.get("happy_eyeballs") is True and order.get("endpoints") == ["[::1]:80", "127.0.0.1:80"],
      f"--json connect order {order}")
check(doc.get("error") is None and isinstance(doc.get("elapsed_ms"), (int, float)), "--json: no error, a time")
check(doc.get("hints", {}).get("protocol") == 0, "--json: the hints asked for protocol 0")

for flag, want in (("-4", ["127.0.0.1"]), ("-6", ["::1"])):
    rc, doc, _ = resolve_json(flag, "localhost")
    check(rc == 0 and addrs(doc) == want, f"{flag} localhost: {addrs(doc)}")
    check((doc.get("connect_order") or {}).get("happy_eyeballs") is False, f"{flag}: one family, no Happy Eyeballs")

# ---- numeric, datagram, service names ------------------------------------------------------
rc, doc, _ = resolve_json("127.0.0.1:8080")
check(rc == 0 and addrs(doc) == ["127.0.0.1"] and doc.get("source") == "numeric (no lookup)",
      f"127.0.0.1:8080: one row, numeric ({doc.get('source')})")
rc, doc, _ = resolve_json("[::1]:8080")
check(rc == 0 and addrs(doc) == ["::1"] and doc["rows"][0]["port"] == 8080, "[::1]:8080")
rc, doc, _ = resolve_json("::1")
check(rc == 0 and addrs(doc) == ["::1"] and doc["rows"][0]["port"] == 0, "::1 without a port: port 0")

rc, doc, _ = resolve_json("-u", "127.0.0.1:domain")
row = doc.get("rows", [{}])[0]
want_port = socket.getservbyname("domain", "udp")
check(rc == 0 and (row.get("socktype"), row.get("protocol"), row.get("protocol_number"), row.get("port")) ==
      ("SOCK_DGRAM", "IPPROTO_UDP", 17, want_port), f"-u 127.0.0.1:domain: {row}")
rc, out, _ = resolve("-u", "localhost:53")
check(rc == 0 and "IPPROTO_UDP (17)" in out and "UDP" in out, "-u localhost:53: UDP rows and the UDP connect note")

# ---- passive: the wildcard addresses, as Python's getaddrinfo(None, ..., AI_PASSIVE) ---------
rc, doc, _ = resolve_json("--passive", ":8080")
py = [ai[4][0] for ai in socket.getaddrinfo(None, 8080, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)]
check(rc == 0 and addrs(doc) == py, f"--passive :8080: {addrs(doc)} == Python's {py}")
check(doc.get("connect_order") is None and "AI_PASSIVE" in doc.get("hints", {}).get("flags", ""),
      "--passive: AI_PASSIVE, no connect order")
rc, doc, _ = resolve_json("--passive", "-4", "*:8080")
check(rc == 0 and addrs(doc) == ["0.0.0.0"], f"--passive -4 *:8080: {addrs(doc)}")

# ---- --all-flags ------------------------------------------------------------------------------
rc, doc, _ = resolve_json("--all-flags", "127.0.0.1:80")
variants = {v["hints"]["flags"]: v for v in doc.get("variants", [])}
mapped = variants.get("AI_V4MAPPED", {})
check(rc == 0 and [r["address"] for r in mapped.get("rows", [])] == ["::ffff:127.0.0.1"],
      f"--all-flags: AI_V4MAPPED with AF_INET6 maps 127.0.0.1 ({mapped.get('rows')})")
check(set(variants) >= {"AI_ADDRCONFIG", "AI_V4MAPPED", "AI_V4MAPPED|AI_ALL", "AI_V4MAPPED|AI_ADDRCONFIG"},
      f"--all-flags: the four variants ({sorted(variants)})")
rc, out, _ = resolve("--all-flags", "127.0.0.1:80")
check(rc == 0 and "+::ffff:127.0.0.1" in out, "--all-flags text: +::ffff:127.0.0.1")

# ---- a name from /etc/hosts (read, not changed) -------------------------------------------
def hosts_entries():
    try:
        lines = open("/etc/hosts").read().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        words = line.split("#")[0].split()
        if len(words) < 2:
            continue
        try:
            ipaddress.ip_address(words[0].split("%")[0])
        except ValueError:
            continue
        out += [(words[0], name) for name in words[1:]]
    return out


def nss_hosts():
    try:
        for line in open("/etc/nsswitch.conf"):
            line = line.split("#")[0]
            if line.strip().startswith("hosts:"):
                return line.split(":", 1)[1].split()
    except OSError:
        pass
    return ["dns", "files"]


entries = hosts_entries()
names = [(a, n) for a, n in entries if not n.lower().rstrip(".").endswith("localhost")
         and not n.lower().startswith("ip6-")]
if names and nss_hosts()[:1] == ["files"]:
    addr, name = names[0]
    rc, doc, err = resolve_json(name)
    check(rc == 0 and doc.get("source") == "files (/etc/hosts)" and addr in addrs(doc),
          f"{name} (from /etc/hosts): source {doc.get('source')}, {addr} in {addrs(doc)} ({err.strip()})")
    py = []
    for ai in socket.getaddrinfo(name, None, type=socket.SOCK_STREAM):
        py.append(ai[4][0])
    check(addrs(doc) == py, f"{name}: rows {addrs(doc)} == Python's getaddrinfo {py}")
else:
    print("note: /etc/hosts has no name besides localhost (or nsswitch does not ask files first): "
          "the hosts-file check did not run")

v4 = [n for a, n in entries if a == "127.0.0.1"]
if v4 and nss_hosts()[:1] == ["files"]:
    rc, doc, err = resolve_json("-r", "127.0.0.1:80")
    check(rc == 0 and doc.get("name") == v4[0] and doc.get("service") == "http"
          and doc.get("source") == "files (/etc/hosts)",
          f"-r 127.0.0.1:80: {doc.get('name')} {doc.get('service')} from {doc.get('source')} ({err.strip()})")
    rc, out, _ = resolve("-r", "127.0.0.1")
    check(rc == 0 and f'= "{v4[0]}"' in out and "forward check" in out, f"-r 127.0.0.1 text: {out.strip().splitlines()[0][:120]}")
else:
    print("note: /etc/hosts does not list 127.0.0.1: the reverse check did not run")

# ---- --self -----------------------------------------------------------------------------------
rc, doc, err = resolve_json("--self")
check("_error" not in doc and doc.get("hostname") == socket.gethostname(),
      f"--self: hostname {doc.get('hostname')} == {socket.gethostname()}")
check(any(a["address"] == "127.0.0.1" and a["iface"] for a in doc.get("interface_addresses", [])),
      "--self: lists 127.0.0.1 on an interface")
check((rc == 0) == (doc.get("error") is None) and isinstance(doc.get("differ"), bool),
      f"--self: exit {rc} matches error {doc.get('error')}, differ is {doc.get('differ')}")
rc, out, _ = resolve("--self")
check("gethostname()" in out and "on the interfaces:" in out, "--self text")

# ---- failures: one line naming the name and the EAI_* reason; exit 2 for a name (or service, or
# family) with no answer, as every command exits for a host that does not resolve; exit 1 when
# the resolver itself failed (EAI_AGAIN, EAI_FAIL: a sandbox without DNS may answer so)
def lookup_status(text):
    return 1 if "EAI_AGAIN" in text or "EAI_FAIL" in text else 2


rc, out, err = resolve("nosuch-sockkit-test.invalid:80")
check(rc == lookup_status(err) and len(err.strip().splitlines()) == 1
      and "nosuch-sockkit-test.invalid" in err and "EAI_" in err,
      f"unknown name: exit {rc}, '{err.strip()}'")
rc, doc, err = resolve_json("nosuch-sockkit-test.invalid")
eai = (doc.get("error") or {}).get("eai", "")
check(rc == lookup_status(eai) and doc.get("rows") == [] and eai.startswith("EAI_"),
      f"--json unknown name: exit {rc}, error {doc.get('error')}")
rc, out, err = resolve("127.0.0.1:no-such-service-x")
check(rc == 2 and "EAI_SERVICE" in err and "no-such-service-x" in err, f"unknown service: exit {rc}, '{err.strip()}'")
rc, out, err = resolve("-4", "::1")
check(rc == 2 and "EAI_" in err, f"-4 ::1: exit {rc}, '{err.strip()}'")

# ---- malformed input: exit 2, one line ------------------------------------------------------
bad = [[], [""], ["[::1"], ["[nothex]:80"], ["localhost:99999"], ["localhost:"], ["a b"],
       ["unix:/tmp/x"], ["-4", "-6", "localhost"], ["--nope", "x"], ["a", "b"], ["x" * 300],
       ["a" * 64 + ".example"], ["1::2::3"], ["-r", "not-an-address"], ["-r", "::1", "x"],
       ["--self", "x"], ["--self", "-r", "::1"], ["--passive", "-r", "::1"], ["-r"]]
for args in bad:
    rc, out, err = resolve(*args)
    check(rc == 2 and len(err.strip().splitlines()) == 1, f"bad input {args!r}: exit {rc}, '{err.strip()}'")

rc, out, _ = resolve("--help")
check(rc == 0 and "usage: sockkit resolve" in out and "--all-flags" in out, "--help")
rc, out, _ = run([BIN, "completion", "bash"])
check(rc == 0 and b"resolve" in out and b"--all-flags" in out and b"ifaces" in out,
      "completion knows resolve and ifaces")
finish()
