"""One report shape across bench echo|connect|stream|udp and mcast send|recv: every --json output
parses with Python's json module and is one document with start (version, time, command,
command_line, parameters), intervals and end (SI units in the names); --json-lines gives a start
line, interval lines and an end line; -i prints interval lines (warm-up labelled); every text
report fits 80 columns."""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import BIN, check, finish, free_port, run, serving_port  # noqa: E402

started = []


def server(service):
    p = subprocess.Popen([BIN, "serve", service, "127.0.0.1:0", "-v"], stderr=subprocess.PIPE)
    started.append(p)
    return f"127.0.0.1:{serving_port(p.stderr.readline().decode()) or 0}"


def with_receiver(recv_args, send_args, timeout=30):
    """Start a receiver, run a sender to its end, then let the receiver finish: (sender, receiver)
    each as (status, stdout, stderr)."""
    r = subprocess.Popen([BIN] + recv_args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started.append(r)
    time.sleep(0.3)
    s = run([BIN] + send_args, timeout=timeout)
    out, err = r.communicate(timeout=timeout)
    return s, (r.returncode, out, err.decode(errors="replace"))


ECHO, SINK = server("echo"), server("sink")
SHORT = ["-d", "0.6", "--warmup", "0.3"]
# mode -> (its end's documented fields, a function running it with extra args -> (rc, out, err))
MODES = {
    "bench echo": ({"seconds", "requests", "requests_per_second", "bytes", "bits_per_second",
                    "errors", "starved_connections", "latency_us", "cpu"},
                   lambda extra: run([BIN, "bench", "echo", "-c", "2"] + SHORT + extra + [ECHO])),
    "bench connect": ({"seconds", "requests", "requests_per_second", "bits_per_second", "errors",
                       "latency_us", "cpu"},
                      lambda extra: run([BIN, "bench", "connect"] + SHORT + extra + [ECHO])),
    "bench stream": ({"seconds", "direction", "bytes", "bits_per_second", "errors", "cpu"},
                     lambda extra: run([BIN, "bench", "stream"] + SHORT + extra + [SINK])),
}


def udp(side):
    def go(extra):
        port = free_port("udp")
        ep = f"127.0.0.1:{port}"
        recv = ["bench", "udp", "--recv", "-d", "5"] + (extra if side == "recv" else []) + [ep]
        send = ["bench", "udp", "--rate", "2000", "-d", "0.8"] + (extra if side == "send" else []) + [ep]
        s, r = with_receiver(recv, send)
        return s if side == "send" else r
    return go


def mcast(side):
    def go(extra):
        g = f"239.71.1.{1 if side == 'send' else 2}:{free_port('udp')}"
        recv = ["mcast", "recv", "--iface", "lo", "-d", "1.5"] + (extra if side == "recv" else ["-q"]) + [g]
        send = ["mcast", "send", "--iface", "lo", "--rate", "500", "--count", "400"] + \
            (extra if side == "send" else []) + [g]
        s, r = with_receiver(recv, send)
        return s if side == "send" else r
    return go


SEQ_FIELDS = {"received", "lost", "lost_before_first", "lost_after_last", "reordered",
              "duplicated", "packets_per_second", "jitter_us", "seconds"}
MODES["bench udp"] = ({"seconds", "packets", "packets_per_second", "bits_per_second", "sender_id"},
                      udp("send"))
MODES["bench udp --recv"] = (SEQ_FIELDS | {"sender_id", "foreign_packets"}, udp("recv"))
MODES["mcast send"] = ({"seconds", "packets", "packets_per_second", "sender_id"}, mcast("send"))
MODES["mcast recv"] = ({"seconds", "streams", "foreign_packets"}, mcast("recv"))


def start_ok(start, mode):
    cl = start.get("command_line", [])
    return (isinstance(start.get("version"), str) and re.match(r"\d{4}-\d\d-\d\dT", start.get("time", ""))
            and start.get("command") == mode.replace(" --recv", "") and cl[:1] == ["sockkit"]
            and isinstance(start.get("parameters"), dict))


def narrow(text):
    return [line for line in text.splitlines() if len(line) > 80]


for mode, (fields, go) in MODES.items():
    rc, out, err = go(["--json"])
    try:
        doc = json.loads(out)
    except ValueError as e:
        doc = {"error": str(e)}
    end = doc.get("end", {})
    if mode == "mcast recv":
        end = dict(end, **(end.get("streams") or [{}])[0])
        fields = fields | SEQ_FIELDS
    check(rc == 0 and set(doc) == {"start", "intervals", "end"} and start_ok(doc["start"], mode),
          f"{mode} --json: one document, start with version, time, command, command_line, "
          f"parameters ({str(doc)[:160]})")
    check(fields <= set(end), f"{mode} --json: end has {sorted(fields - set(end)) or 'every field'}")
    check(not re.search(r"_(mbit|kbit|ms|sec)\b|_s\"", out.decode()),
          f"{mode} --json: field names in SI units (no _mbit, _ms, _sec)")

    rc, out, err = go(["--json-lines", "-i", "0.25"])
    try:
        lines = [json.loads(line) for line in out.decode().splitlines()]
    except ValueError:
        lines = []
    events = [x.get("event") for x in lines]
    check(rc == 0 and events[:1] == ["start"] and events[-1:] == ["end"]
          and events.count("interval") >= 2 and all(isinstance(x.get("data"), dict) for x in lines),
          f"{mode} --json-lines -i 0.25: start, intervals, end ({events})")
    if mode.startswith("bench") and "udp" not in mode:
        warm = [x["data"].get("warmup") for x in lines if x.get("event") == "interval"]
        check(warm[:1] == [True] and warm[-1:] == [False],
              f"{mode}: warm-up intervals are labelled ({warm})")

    rc, out, err = go(["-i", "0.25"])
    text = out.decode(errors="replace")
    ivals = [line for line in text.splitlines() if re.search(r"\d+\.\d\d-\s*\d+\.\d\d s ", line)]
    check(rc == 0 and len(ivals) >= 2, f"{mode} -i 0.25: interval lines ({len(ivals)})")
    check(not narrow(text) and not narrow(err if isinstance(err, str) else err.decode()),
          f"{mode} -i: every line within 80 columns ({narrow(text)[:2]})")
    rc, out, err = go([])
    text = out.decode(errors="replace")
    check(rc == 0 and text.strip() and not narrow(text), f"{mode}: the text report within 80 columns "
                                                         f"({narrow(text)[:2]})")

# the bench echo report with its chart, at the widest: 1,000 connections' worth of numbers
rc, out, err = run([BIN, "bench", "echo", "-c", "50", "--threads", "2", "--pipeline", "16",
                    "--size", "1000", "-d", "1", "--warmup", "0.2", ECHO])
check(rc == 0 and "latency distribution" in out.decode() and not narrow(out.decode()),
      f"bench echo with the chart: within 80 columns ({narrow(out.decode())[:2]})")
for p in started:
    if p.poll() is None:
        p.kill()
        p.wait()
finish()
