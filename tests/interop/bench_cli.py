"""sockkit bench against Python servers: echo and connect pass with --json holding the documented
fields, a server that flips one byte is caught (exit 1, which byte), stream against sockkit's sink,
--svg writes a valid SVG, and bad arguments give one line."""
import json
import os
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import BIN, check, finish, free_port, run, serving_port  # noqa: E402


class Echo(socketserver.BaseRequestHandler):
    flip_at = None

    def handle(self):
        seen = 0
        while True:
            try:
                data = self.request.recv(65536)
            except ConnectionResetError:  # the bench closes with echoes still unread
                return
            if not data:
                return
            if self.flip_at is not None and seen <= self.flip_at < seen + len(data):
                b = bytearray(data)
                b[self.flip_at - seen] ^= 0x01
                data = bytes(b)
            seen += len(data)
            self.request.sendall(data)


class Flip(Echo):
    flip_at = 1000


def server(handler):
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    s = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    s.daemon_threads = True
    threading.Thread(target=s.serve_forever, args=(0.1,), daemon=True).start()
    return s, f"127.0.0.1:{s.server_address[1]}"


echo, ep = server(Echo)
rc, out, err = run([BIN, "bench", "echo", "-c", "4", "-d", "1", "-w", "0.2", "--json", ep])
try:
    doc = json.loads(out)
except ValueError:
    doc = {}
fields = {"mode", "endpoint", "connections", "threads", "size", "pipeline", "duration_s",
          "requests", "requests_per_sec", "bytes", "throughput_mbit_s", "errors", "latency_us", "cpu_s"}
lat = doc.get("latency_us", {})
check(rc == 0 and fields <= set(doc) and set(lat) == {"p50", "p90", "p99", "p999", "max", "mean"},
      f"bench echo --json: the documented fields ({err.strip()})")
check(doc.get("requests", 0) > 0 and doc.get("errors") == 0 and doc.get("connections") == 4
      and doc.get("starved_connections") == 0
      and 0 < lat.get("p50", 0) <= lat.get("p90", 0) <= lat.get("p99", 0) <= lat.get("max", 0),
      f"bench echo: requests counted, percentiles ordered ({lat})")

rc, out, err = run([BIN, "bench", "echo", "-c", "2", "-p", "8", "-s", "700", "-d", "1", "-w", "0.2",
                    "--no-chart", ep])
check(rc == 0 and "requests:" in out.decode() and "latency: p50" in out.decode(),
      "bench echo with pipelining and 700-byte messages: a report")

svg = os.path.join(tempfile.mkdtemp(), "lat.svg")
rc, out, err = run([BIN, "bench", "connect", "-c", "2", "-d", "1", "-w", "0.2", "--json", "--svg", svg, ep])
doc = json.loads(out) if rc == 0 else {}
check(doc.get("mode") == "connect" and doc.get("requests", 0) > 10, f"bench connect: {doc.get('requests')} connections")
try:
    root = ET.parse(svg).getroot()
    ok = root.tag.endswith("svg") and any(e.tag.endswith("polyline") for e in root.iter())
except (ET.ParseError, OSError):
    ok = False
check(ok, "--svg: a valid SVG with the percentile curve")

# a pool of 2 workers holds 2 long-lived connections: the other 4 are reported as starved
pool = subprocess.Popen([BIN, "serve", "echo", "127.0.0.1:0", "-v", "--model", "pool", "--workers", "2"],
                        stderr=subprocess.PIPE)
pline = pool.stderr.readline().decode()
pport = serving_port(pline) or 0
rc, out, err = run([BIN, "bench", "echo", "-c", "6", "-d", "1", "-w", "0.2", "--json", f"127.0.0.1:{pport}"])
doc = json.loads(out) if rc == 0 else {}
check(doc.get("starved_connections") == 4 and doc.get("requests", 0) > 0,
      f"starved connections are reported: {doc.get('starved_connections')} of 6 against 2 pool workers")
pool.terminate()
pool.wait(15)

flip, fep = server(Flip)
rc, out, err = run([BIN, "bench", "echo", "-c", "1", "-d", "2", "-w", "0", fep])
check(rc == 1 and "byte 1000 came back as" in err and len(err.strip().splitlines()) == 1,
      f"a server that flips one byte is caught: exit {rc}, {err.strip()!r}")

sink = subprocess.Popen([BIN, "serve", "sink", "127.0.0.1:0", "-v"], stderr=subprocess.PIPE)
line = sink.stderr.readline().decode()
port = serving_port(line) or 0
rc, out, err = run([BIN, "bench", "stream", "-d", "1", "-w", "0.2", "--json", f"127.0.0.1:{port}"])
doc = json.loads(out) if rc == 0 else {}
check(doc.get("bytes", 0) > 1_000_000 and doc.get("errors") == 0, f"bench stream to sink: {doc.get('throughput_mbit_s')} Mbit/s")
sink.terminate()
sink.wait(10)

# udp: sender at a bounded rate, receiver checks the sequence numbers
uport = free_port("udp")
recv = subprocess.Popen([BIN, "bench", "udp", "--recv", "-d", "10", "--json", f"127.0.0.1:{uport}"],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
recv.stderr.readline()  # "receiving on ..."
rc, out, err = run([BIN, "bench", "udp", "--rate", "20000", "-d", "1", "--json", f"127.0.0.1:{uport}"])
sent = json.loads(out).get("sent", 0) if rc == 0 else 0
rout, _ = recv.communicate(timeout=20)
got = json.loads(rout) if recv.returncode == 0 else {}
check(sent > 15000 and got.get("received") == sent and got.get("lost") == 0
      and got.get("duplicated") == 0 and got.get("last_seq") == sent - 1,
      f"bench udp at 20,000/s: sent {sent}, received {got.get('received')}, lost {got.get('lost')}")

for args, code, needle in ((["echo", "-c", "0", ep], 2, "--connections"),
                           (["echo", "-d", "-1", ep], 2, "--duration"),
                           (["echo", "-d", "0", ep], 2, "--duration"),
                           (["nosuch", ep], 2, "unknown benchmark"),
                           (["echo"], 2, "missing ENDPOINT"),
                           (["udp", "--rate", "-5", "127.0.0.1:9"], 2, "--rate"),
                           (["echo", f"127.0.0.1:{free_port()}"], 1, "Connection refused")):
    rc, _, err = run([BIN, "bench"] + args)
    check(rc == code and len(err.strip().splitlines()) == 1 and needle in err,
          f"bench {' '.join(args)}: exit {code}, one line ({err.strip()})")
finish()
