"""sockkit bench against Python servers and sockkit's sink and source: echo and connect pass with
--json holding the documented fields, a server that flips one byte is caught (exit 1, which byte),
stream both ways, -t as time (iperf3's), the nc letters -s/-w/-p refused, udp's exact accounting,
--svg's axes, and bad arguments give one line."""
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import BIN, check, echo_server, finish, free_port, run, serving_port  # noqa: E402


def doc_of(out):
    try:
        return json.loads(out)
    except ValueError:
        return {}


def sockkit_server(service):
    p = subprocess.Popen([BIN, "serve", service, "127.0.0.1:0", "-v"], stderr=subprocess.PIPE)
    port = serving_port(p.stderr.readline().decode()) or 0
    return p, f"127.0.0.1:{port}"


echo, ep = echo_server()
rc, out, err = run([BIN, "bench", "echo", "-c", "4", "-d", "1", "--warmup", "0.2", "--json", ep])
doc = doc_of(out)
end, params = doc.get("end", {}), doc.get("start", {}).get("parameters", {})
lat = end.get("latency_us", {})
check(rc == 0 and {"requests", "requests_per_second", "bytes", "bits_per_second", "errors",
                   "starved_connections", "seconds", "cpu"} <= set(end)
      and set(lat) == {"samples", "min", "p50", "p90", "p99", "p99_9", "max", "mean",
                       "hdr_histogram"}
      and params.get("connections") == 4 and params.get("size_bytes") == 64,
      f"bench echo --json: the documented fields ({err.strip()})")
check(end.get("requests", 0) > 0 and end.get("errors") == 0 and end.get("starved_connections") == 0
      and lat.get("samples") == end.get("requests")
      and 0 < lat.get("p50", 0) <= lat.get("p90", 0) <= lat.get("p99", 0) <= lat.get("max", 0),
      f"bench echo: requests counted, percentiles ordered ({lat})")

rc, out, err = run([BIN, "bench", "echo", "-c", "2", "--pipeline", "8", "--size", "700", "-d", "1",
                    "--warmup", "0.2", "--no-chart", ep])
check(rc == 0 and "requests:" in out.decode() and "p99.9" in out.decode()
      and "latency distribution" not in out.decode(),
      "bench echo with pipelining and 700-byte messages: a report, no chart with --no-chart")

# sizes take iperf3's binary suffixes (-l 128K): 1k is 1,024 bytes, in the parameters and the bytes sent
rc, out, err = run([BIN, "bench", "echo", "--size", "1k", "-d", "0.3", "--warmup", "0", "--json", ep])
doc = json.loads(out or b"{}")
params, end = doc.get("start", {}).get("parameters", {}), doc.get("end", {})
check(rc == 0 and params.get("size_bytes") == 1024 and end.get("requests", 0) > 0
      and end.get("bytes") == 1024 * end.get("requests", -1),
      f"bench echo --size 1k: 1,024-byte messages ({params.get('size_bytes')}, {end.get('bytes')}"
      f" bytes for {end.get('requests')} requests)")

rc, out, err = run([BIN, "bench", "echo", "-v", "-q", "-d", "0.3", "--warmup", "0", ep])
check(rc == 2 and "contradict" in err, "-v with -q: refused")
rc, out, err = run([BIN, "bench", "echo", "-v", "-d", "0.3", "--warmup", "0", "--no-chart", ep])
check(rc == 0 and "answers" in err and "measuring" in err, f"-v says where and when ({err.strip()})")
rc, out, err = run([BIN, "bench", "connect", "-d", "0.3", "--warmup", "0", "-q", "--trace=calls", ep])
check(rc == 0 and "connect 127.0.0.1:" in err and "socket(AF_INET" in err,
      "bench connect --trace=calls traces every connection")



def with_terminal(args):
    """Run with stderr on a pseudo-terminal (the progress line shows only there); its text."""
    import pty
    master, slave = pty.openpty()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    text = b""
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        text += data
    p.wait(30)
    os.close(master)
    return p.returncode, text.decode(errors="replace")


# the progress line: warm-up labelled and counted, a real rate from the first measuring tick, a
# clock of measured time only (-d 2 ends at "measuring 2.0 s")
rc, tty = with_terminal([BIN, "bench", "echo", "-d", "2", "--warmup", "1", "--no-chart", ep])
ticks = re.findall(r"(warm-up|measuring) +([\d.]+) s +(\d+) req/s", tty)
phases = [t[0] for t in ticks]
check(rc == 0 and phases[:1] == ["warm-up"] and ticks[-1][:2] == ("measuring", "2.0")
      and all(int(t[2]) > 0 for t in ticks) and len(tty.splitlines()[-1]) < 80,
      f"the progress line: warm-up first, every tick a rate, ends at 'measuring 2.0 s' ({ticks})")
rc, tty = with_terminal([BIN, "bench", "echo", "-q", "-d", "0.5", "--warmup", "0", "--no-chart", ep])
check(rc == 0 and "measuring" not in tty, "-q: no progress line")

# --svg: HdrHistogram's log axis of 1/(1 - percentile), round y ticks with a title, no more nines
# than the samples support
svg = os.path.join(tempfile.mkdtemp(), "lat.svg")
rc, out, err = run([BIN, "bench", "connect", "-c", "2", "-d", "1", "--warmup", "0.2", "--json",
                    "--svg", svg, ep])
doc = doc_of(out)
n = doc.get("end", {}).get("requests", 0)
check(doc.get("start", {}).get("command") == "bench connect" and n > 10, f"bench connect: {n} connections")
try:
    root = ET.parse(svg).getroot()
    texts = [e.text for e in root.iter() if e.tag.endswith("text")]
    ok = root.tag.endswith("svg") and any(e.tag.endswith("polyline") for e in root.iter())
except (ET.ParseError, OSError):
    texts, ok = [], False
nines = [t for t in texts if t and re.fullmatch(r"9[0-9.]*%", t)]
ticks = [t for t in texts if t and re.fullmatch(r"[0-9.]+", t)]
supported = len(str(n)) - 1  # whole nines the sample count supports
check(ok and any(t.startswith("latency (") for t in texts) and "0%" in texts and "50%" in texts,
      f"--svg: a valid SVG with the curve, a y title and percentile ticks ({texts[:12]})")


def round_steps(ticks):
    """Ticks from 0 in equal steps of 1, 2 or 5 times a power of ten."""
    v = [float(t) for t in ticks]
    if len(v) < 3 or v[0] != 0:
        return False
    step = v[1] - v[0]
    mantissa = step / 10 ** math.floor(math.log10(step))
    return (any(abs(mantissa - m) < 1e-9 for m in (1, 2, 5))
            and all(abs(b - a - step) < 1e-9 for a, b in zip(v, v[1:])))


check(len(nines) == min(supported, 12) and round_steps(ticks),
      f"--svg: {len(nines)} nines for {n} samples, round y ticks {ticks}")

# a pool of 2 workers holds 2 long-lived connections: the other 4 are reported as starved
pool = subprocess.Popen([BIN, "serve", "echo", "127.0.0.1:0", "-v", "--model", "pool", "--workers", "2"],
                        stderr=subprocess.PIPE)
pport = serving_port(pool.stderr.readline().decode()) or 0
rc, out, err = run([BIN, "bench", "echo", "-c", "6", "-d", "1", "--warmup", "0.2", "--json",
                    f"127.0.0.1:{pport}"])
end = doc_of(out).get("end", {})
check(end.get("starved_connections") == 4 and end.get("requests", 0) > 0,
      f"starved connections are reported: {end.get('starved_connections')} of 6 against 2 pool workers")
# the open loop too: each connection is sent requests on the schedule, 4 get no reply
rc, out, err = run([BIN, "bench", "echo", "--rate", "600", "-c", "6", "-d", "1", "--warmup", "0.2",
                    "--json", f"127.0.0.1:{pport}"])
end = doc_of(out).get("end", {})
check(end.get("starved_connections") == 4 and end.get("requests", 0) > 0,
      f"open loop: starved connections reported: {end.get('starved_connections')} of 6")
pool.terminate()
pool.wait(15)

# a server that never answers (serve sink): the report says no reply came and names an echo server
sink = subprocess.Popen([BIN, "serve", "sink", "127.0.0.1:0", "-v"], stderr=subprocess.PIPE)
sport = serving_port(sink.stderr.readline().decode()) or 0
rc, out, err = run([BIN, "bench", "echo", "-d", "0.3", "--warmup", "0", f"127.0.0.1:{sport}"])
check(rc == 0 and "no reply came at all" in out.decode() and "serve echo" in out.decode(),
      f"bench echo against serve sink: the report says no reply came ({out.decode()[-300:]})")
sink.terminate()
sink.wait(15)

flip, fep = echo_server(flip_at=1000)
rc, out, err = run([BIN, "bench", "echo", "-c", "1", "-d", "2", "--warmup", "0", fep])
check(rc == 1 and "byte 1000 came back as" in err and len(err.strip().splitlines()) == 1
      and "does not send back what it gets" in err and "serve echo" in err
      and not out, f"a server that flips one byte is caught: exit {rc}, {err.strip()!r}")

# stream both ways; -t is time (iperf3): `bench stream -t 1` runs 1 s, not the 5 s default
sink, sink_ep = sockkit_server("sink")
t0 = time.time()
rc, out, err = run([BIN, "bench", "stream", "-t", "1", "--warmup", "0.2", "--json", sink_ep])
el = time.time() - t0
doc = doc_of(out)
end = doc.get("end", {})
check(rc == 0 and end.get("bytes", 0) > 1_000_000 and end.get("errors") == 0
      and end.get("direction") == "send" and end.get("seconds") == 1.0 and el < 4.5,
      f"bench stream -t 1 to sink: {end.get('bits_per_second')} bit/s in {el:.1f} s")
check(not any(k.startswith("latency") or k.startswith("requests") for k in end),
      f"bench stream: no latency or request fields, nothing to time ({sorted(end)})")
sink.terminate()
sink.wait(10)
source, source_ep = sockkit_server("source")
rc, out, err = run([BIN, "bench", "stream", "-R", "-P", "2", "-d", "1", "--warmup", "0", "--json",
                    source_ep])
doc = doc_of(out)
check(rc == 0 and doc.get("end", {}).get("direction") == "receive"
      and doc.get("start", {}).get("parameters", {}).get("direction") == "receive"
      and doc.get("start", {}).get("parameters", {}).get("connections") == 2
      and doc.get("end", {}).get("bytes", 0) > 1_000_000,
      "bench stream --reverse -P 2 from source: direction receive, 2 connections")
rc, out, err = run([BIN, "bench", "stream", "-R", "-d", "0.5", "--warmup", "0", source_ep])
check(rc == 0 and "reads (receiving from the server)" in out.decode(),
      "bench stream --reverse: the text says the direction")
source.terminate()
source.wait(10)

# udp: a bounded rate; the accounting is exact whatever the load (received - duplicated + lost
# is what the sender's end marker says it sent)
uport = free_port("udp")
recv = subprocess.Popen([BIN, "bench", "udp", "--recv", "-d", "10", "--json", f"127.0.0.1:{uport}"],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
recv.stderr.readline()  # "receiving on ..."
rc, out, err = run([BIN, "bench", "udp", "--rate", "5000", "-d", "1", "--json", f"127.0.0.1:{uport}"])
sent = doc_of(out).get("end", {}).get("packets", 0) if rc == 0 else 0
rout, _ = recv.communicate(timeout=20)
got = doc_of(rout).get("end", {}) if recv.returncode == 0 else {}
check(sent > 3000 and got.get("sender_count") == sent
      and got.get("received", 0) - got.get("duplicated", 0) + got.get("lost", -1) == sent
      and got.get("lost", sent) <= sent // 100,
      f"bench udp at 5,000/s: sent {sent}, received {got.get('received')}, lost {got.get('lost')}")
uport = free_port("udp")
recv = subprocess.Popen([BIN, "bench", "udp", "--recv", "-q", "-d", "10", f"127.0.0.1:{uport}"],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
time.sleep(0.3)
run([BIN, "bench", "udp", "--rate", "1000", "-t", "0.3", "-q", f"127.0.0.1:{uport}"])
rout, rerr = recv.communicate(timeout=20)
check(recv.returncode == 0 and rerr == b"" and b"received" in rout,
      f"bench udp --recv -q: no 'receiving on' line, the result on stdout ({rerr!r})")

for args, code, needle in ((["echo", "-c", "0", ep], 2, "--connections"),
                           (["echo", "-d", "-1", ep], 2, "--duration"),
                           (["echo", "-d", "0", ep], 2, "--duration"),
                           (["stream", "-t", "0", ep], 2, "--time"),
                           (["echo", "-s", "100", ep], 2, "--size"),
                           (["echo", "--size", "1.5k", ep], 2, "--size"),
                           (["echo", "--size", "1kb", ep], 2, "unknown suffix"),
                           (["stream", "--size", "17M", ep], 2, "--size"),
                           (["udp", "--size", "64k", "127.0.0.1:9"], 2, "--size"),
                           (["echo", "-w", "1", ep], 2, "--warmup"),
                           (["echo", "-p", "4", ep], 2, "--pipeline"),
                           (["echo", "--threads", "0", ep], 2, "--threads"),
                           (["stream", "--pipeline", "4", ep], 2, "bench echo only"),
                           (["connect", "--threads", "2", ep], 2, "bench echo only"),
                           (["stream", "--svg", "x.svg", ep], 2, "no latency"),
                           (["echo", "-R", ep], 2, "bench stream only"),
                           (["udp", "--recv", "--rate", "5", "127.0.0.1:9"], 2, "for the sender"),
                           (["udp", "--threads", "2", "127.0.0.1:9"], 2, "--threads"),
                           (["nosuch", ep], 2, "unknown benchmark"),
                           (["echo"], 2, "missing ENDPOINT"),
                           (["udp", "--rate", "-5", "127.0.0.1:9"], 2, "--rate"),
                           (["udp", "--recv", "239.1.2.3:9"], 2, "mcast recv 239.1.2.3:9"),
                           (["udp", "nosuch.invalid:9"], 2, "does not resolve"),
                           (["echo", "nosuch.invalid:9"], 2, "does not resolve"),
                           (["echo", "--trace=bogus", ep], 2, "--trace"),
                           (["echo", "--json", "--json-lines", ep], 2, "contradict"),
                           (["echo", f"127.0.0.1:{free_port()}"], 1, "Connection refused")):
    rc, out, err = run([BIN, "bench"] + args)
    check(rc == code and len(err.strip().splitlines()) == 1 and needle in err and not out,
          f"bench {' '.join(args)}: exit {code}, one line ({err.strip()})")

# each mode's --help lists only what it takes
helps = {m: run([BIN, "bench", m, "--help"])[1].decode() for m in ("echo", "connect", "stream", "udp")}
check("--reverse" in helps["stream"] and "--threads" in helps["echo"]
      and "--pipeline" not in helps["stream"] and "--reverse" not in helps["echo"]
      and "--svg" not in helps["stream"] and "--rate" in helps["udp"]
      and "--threads" not in helps["udp"] and "-t, --time" in helps["stream"]
      and all(re.search(r"^  -s[, ]", h, re.M) is None for h in helps.values()),
      "bench MODE --help: each lists its own options (--reverse for stream, -t is time)")
finish()
