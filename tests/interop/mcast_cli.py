"""sockkit mcast on loopback (multicast loop on, every send pinned to lo): 20,000 packets at a
bounded rate with exact accounting, exact loss (before the first, in gaps, after the last) /
reorder / duplicate accounting with the test helper's faults, the receiver's --count as the known
count, several groups, plain payloads from a Python sender, SIGINT, --stats, where the receiver
listens and what it says when nothing came, the examples, and bad input."""
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import BIN, BUILD, HELPERS, check, finish, free_port, run  # noqa: E402

FAULTS = os.path.join(HELPERS, "mcast_faults")
procs = []


def members(group):
    """How many sockets on this host have joined GROUP (an address), from /proc/net/igmp(6)."""
    try:  # IPv4 groups as the kernel prints a __be32 with %08X: the bytes reversed
        want, path, col = socket.inet_pton(socket.AF_INET, group)[::-1].hex().upper(), \
            "/proc/net/igmp", 1
    except OSError:
        want, path, col = socket.inet_pton(socket.AF_INET6, group).hex(), "/proc/net/igmp6", 3
    n = 0
    with open(path) as f:
        for line in f:
            t = line.split()
            if path.endswith("igmp") and t and t[0] == want:
                n += int(t[col])
            elif path.endswith("igmp6") and len(t) > 3 and t[2] == want:
                n += int(t[col])
    return n


def groups_of(args):
    """The group addresses among mcast recv's operands (239.1.2.3:5000, [ff15::1]:5000)."""
    out = []
    for a in args:
        m = re.fullmatch(r"\[([0-9a-fA-F:]+)\]:\d+|(\d+\.\d+\.\d+\.\d+):\d+", a)
        if m:
            out.append(m.group(1) or m.group(2))
    return out


def start_joined(argv, groups):
    """Start a receiver and return once the kernel counts its membership of every group (10 s at
    most, or sooner if it exits): a packet sent before that would not reach it."""
    before = {g: members(g) for g in groups}
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    procs.append(p)
    deadline = time.time() + 10
    while p.poll() is None and time.time() < deadline and \
            any(members(g) <= before[g] for g in groups):
        time.sleep(0.01)
    return p


def recv(args, iface=("--iface", "lo")):
    return start_joined([BIN, "mcast", "recv", *iface] + args, groups_of(args))


def send(args):
    return run([BIN, "mcast", "send", "--iface", "lo"] + args, timeout=60)


def done(p, timeout=30):
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out.decode(), err.decode()


def doc_of(out):
    try:
        return json.loads(out)
    except ValueError:
        return {}


def stream_of(out):
    doc = doc_of(out)
    streams = doc.get("end", {}).get("streams", [])
    return doc, (streams[0] if streams else {})


def narrow(text, what):
    wide = [line for line in text.splitlines() if len(line) > 80]
    check(not wide, f"{what}: every line within 80 columns ({wide[:2]})")


def accounting():
    """A bounded rate and the receiver's large buffer: the numbers add up exactly, whatever the
    machine's load does to the loss."""
    port = free_port("udp")
    g = f"239.71.0.1:{port}"
    r = recv(["--json", "--count", "20000", "--duration", "30", g])
    rc, _, err = send(["--rate", "5000", "--count", "20000", "--size", "100", g])
    rrc, out, rerr = done(r, 40)
    doc, s = stream_of(out)
    check(rc == 0 and rrc == 0, f"20k: both exit 0 ({err.strip()} {rerr.strip()})")
    check(s.get("sender_count") == 20000 or s.get("received") == 20000,
          f"the sender's count came, or every packet did ({s.get('sender_count')})")
    check(s.get("received", 0) - s.get("duplicated", 0) + s.get("lost", -1) == 20000
          and s.get("lost", 20000) <= 200 and s.get("first_seq") == 0,
          f"20,000 packets at 5,000/s: received + lost is what was sent ({s})")
    check(4000 < (s.get("packets_per_second") or 0) < 6000,
          f"the rate is over the arrival time: {s.get('packets_per_second')}/s")


def exact_faults():
    """The test helper leaves out 0-2 (before the first), 7-9 and 500 (gaps), 998-999 (after the
    last), swaps three pairs and sends five twice."""
    port = free_port("udp")
    g = f"239.71.0.2:{port}"
    r = recv(["--json", "--duration", "3", g])
    rc, out, err = run([FAULTS, "--rate", "2000", "--count", "1000", "--skip", "0,1,2,7,8,9,500,998,999",
                        "--swap", "100,200,300", "--dup", "50,51,52,53,997", "lo", g])
    _, rout, _ = done(r)
    _, s = stream_of(rout)
    check(rc == 0 and out.startswith(b"sent 996 datagrams, 1000 numbers"), f"helper: {out!r} {err}")
    check(s.get("lost") == 9 and s.get("lost_before_first") == 3 and s.get("lost_after_last") == 2
          and s.get("reordered") == 3 and s.get("duplicated") == 5
          and s.get("received") == 1000 - 9 + 5 and s.get("first_seq") == 3
          and s.get("highest_seq") == 997 and s.get("sender_count") == 1000,
          f"accounting: 9 lost (3 before, 2 after), 3 reordered, 5 duplicated ({s})")
    # the same faults, as text: the first number seen and the parts of the loss
    r = recv(["-q", "--duration", "3", g])
    run([FAULTS, "--rate", "2000", "--count", "1000", "--skip", "0,1,2,7,8,9,500,998,999",
         "--swap", "100,200,300", "--dup", "50,51,52,53,997", "lo", g])
    rc, rout, rerr = done(r)
    check(rc == 0 and "first seq 3" in rout and "lost 9 (0.90%: 3 before the first, 2 after the last)"
          in rout and "reordered 3, duplicated 5" in rout and not rerr,
          f"-q: the summary on stdout with the first sequence number and the loss's parts ({rout!r})")
    narrow(rout, "the summary")


def sender_without_end_marker(g, port, skip_last):
    """Our header from Python, numbers 0..9 less the last skip_last, and no end marker."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    for seq in range(10 - skip_last):
        hdr = b"SKMC" + struct.pack(">BBHIQQ", 1, 0, 28, 0x1234, seq, time.time_ns())
        s.sendto(hdr + bytes(36), (g, port))
        time.sleep(0.01)
    s.close()


def count_as_known():
    """Without an end marker, the receiver's --count says how many one sender sent."""
    port = free_port("udp")
    g = f"239.71.0.7:{port}"
    r = recv(["--json", "--count", "10", "--duration", "1.5", g])
    sender_without_end_marker("239.71.0.7", port, 2)
    _, out, _ = done(r)
    _, s = stream_of(out)
    check(s.get("received") == 8 and s.get("lost") == 2 and s.get("lost_after_last") == 2
          and s.get("sender_count") is None,
          f"--count 10, 8 came, no end marker: 2 lost after the last ({s})")


def several_groups_and_foreign():
    port = free_port("udp")
    ga, gb = f"239.71.0.3:{port}", f"239.71.0.4:{port}"
    r = recv(["--json", "--duration", "2", ga, gb])
    send(["--rate", "1000", "--count", "20", ga])
    send(["--rate", "1000", "--count", "30", gb])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    s.sendto(b"a plain payload", ("239.71.0.4", port))
    s.close()
    _, out, _ = done(r)
    end = doc_of(out).get("end", {})
    by = {(x["group"], x["sockkit"]): x for x in end.get("streams", [])}
    check(by.get((ga, True), {}).get("received") == 20 and by.get((gb, True), {}).get("received") == 30,
          "two groups at once: each sender counted in its own group")
    check(by.get((gb, False), {}).get("received") == 1 and end.get("foreign_packets") == 1,
          "a plain payload from another sender is shown, without sequence stats")


def sigint_and_stats():
    port = free_port("udp")
    g = f"239.71.0.5:{port}"
    r = recv(["--stats", g])
    sender = subprocess.Popen([BIN, "mcast", "send", "--iface", "lo", "--rate", "50", "--duration", "10", g],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    procs.append(sender)
    time.sleep(2.3)
    t0 = time.time()
    r.send_signal(signal.SIGINT)
    rc, out, _ = done(r)
    el = time.time() - t0
    sender.send_signal(signal.SIGINT)
    sout, _ = sender.communicate(timeout=10)
    lines = [line for line in out.splitlines() if re.match(r"\s*[\d.]+-\s*[\d.]+ s  #1 ", line)]
    check(rc == 0 and el < 0.5, f"SIGINT ends recv at once ({el * 1000:.0f} ms), exit 0")
    check(len(lines) >= 2 and "received" in lines[0] and "summary after" in out,
          f"--stats: a line per second ({len(lines)}) and a summary")
    narrow(out, "--stats")
    check(sender.returncode == 0 and b"sent " in sout, "SIGINT ends send, exit 0, its summary")
    narrow(sout.decode(), "mcast send's summary")


def json_outputs():
    """--stats --json and --json-lines: JSON only on stdout; -i intervals in it."""
    port = free_port("udp")
    g = f"239.71.0.8:{port}"
    r = recv(["--stats", "--json", "-d", "2.5", g])
    rc, sout, _ = send(["--rate", "200", "--count", "300", "--json", g])
    rrc, out, err = done(r)
    doc = doc_of(out)
    sdoc = doc_of(sout)
    check(rrc == 0 and len(doc.get("intervals", [])) >= 2 and doc.get("end", {}).get("streams")
          and doc.get("start", {}).get("command") == "mcast recv",
          f"mcast recv --stats --json: one document, intervals and streams ({out[:200]!r})")
    check(rc == 0 and sdoc.get("end", {}).get("packets") == 300
          and sdoc.get("start", {}).get("sending", {}).get("iface") == "lo",
          f"mcast send --json: one document with where it sent ({sout[:200]!r})")
    r = recv(["--json-lines", "-i", "0.5", "-d", "1.6", g])
    send(["--rate", "200", "--count", "100", g])
    _, out, _ = done(r)
    try:
        events = [json.loads(line)["event"] for line in out.splitlines()]
    except (ValueError, KeyError):
        events = []
    check(events[:1] == ["start"] and events[-1:] == ["end"] and events.count("interval") >= 3,
          f"mcast recv --json-lines: start, intervals, end ({events})")


def where_it_listens():
    port = free_port("udp")
    g = f"239.71.0.9:{port}"
    r = recv(["-v", "--json", "-d", "0.5", g])
    _, out, err = done(r)
    joined = doc_of(out).get("start", {}).get("joined", [{}])[0]
    check(f"joined {g} on lo (index 1, address 127.0.0.1)" in err,
          f"-v: where it listens, as mcjoin says it ({err.strip()})")
    check(joined.get("iface") == "lo" and joined.get("index") == 1
          and joined.get("address") == "127.0.0.1" and joined.get("chosen_by_route") is False,
          f"--json: start.joined says where ({joined})")
    # without --iface: the route's interface, said always in --json
    r = recv(["--json", "-d", "0.5", g], iface=())
    _, out, _ = done(r)
    joined = doc_of(out).get("start", {}).get("joined", [{}])[0]
    check(joined.get("chosen_by_route") is True and joined.get("index", 0) > 0 and joined.get("iface"),
          f"without --iface: the interface the kernel chose ({joined})")
    route_iface = joined.get("iface")
    # a sender on this host on lo, a receiver joined on the route's interface: the summary says so
    if route_iface and route_iface != "lo":
        r = recv(["-d", "2", g], iface=())
        sender = subprocess.Popen([BIN, "mcast", "send", "--iface", "lo", "--rate", "20", "-d", "3", g],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        procs.append(sender)
        rc, out, err = done(r)
        sender.communicate(timeout=10)
        if "no packets" in err:
            check(f"on {route_iface} (index" in err and "--iface lo" in err,
                  f"no packets: names the interface joined and suggests --iface lo ({err!r})")
            narrow(err, "the no-packets summary")
        else:
            print(f"note: {route_iface} delivered the lo sender's packets here; no hint to check")
    rc, _, err = run([BIN, "mcast", "recv", "--iface", "nosuchif0", g])
    names = err.split("multicast:")[-1]
    check(rc == 2 and re.search(r"\blo\b", names), f"unknown interface: lo among the choices ({err.strip()})")
    rc, _, err = send(["-v", "--count", "1", g])
    check(rc == 0 and "sending to" in err and "on lo (index 1, address 127.0.0.1)" in err,
          f"send -v: where it sends ({err.strip()})")


def examples():
    ex = os.path.join(BUILD, "examples")
    port = free_port("udp")
    r = start_joined([os.path.join(ex, "mcast_recv"), f"239.71.0.6:{port}", "lo", "3"],
                     ["239.71.0.6"])
    rc, _, err = run([os.path.join(ex, "mcast_send"), f"239.71.0.6:{port}", "lo", "3"])
    rrc, out, rerr = done(r, 10)
    check(rc == 0 and rrc == 0 and out.count("received from=127.0.0.1") == 3,
          f"examples: mcast_send -> mcast_recv, 3 packets ({out.strip()} {err} {rerr})")


def bad_input():
    for args, needle in ((["recv", "10.0.0.1:5000"], "not a multicast group"),
                         (["recv", "--iface", "nosuchif0", "239.1.1.1:5000"], "nosuchif0"),
                         (["recv", "--iface", "lo", "--source", "127.0.0.1", "239.1.1.1:5000"], "SSM"),
                         (["recv", "--iface", "lo", "232.1.1.1:5000"], "needs a source"),
                         (["send", "--ttl", "0", "239.1.1.1:5000"], "--ttl"),
                         (["send", "--size", "5", "239.1.1.1:5000"], "--size"),
                         (["send", "127.0.0.1:5000"], "not a multicast group"),
                         (["send", "--test-skip", "1", "239.1.1.1:5000"], "--test-skip"),
                         (["send", "-v", "-q", "239.1.1.1:5000"], "contradict"),
                         (["recv", "--trace=bogus", "239.1.1.1:5000"], "--trace"),
                         (["recv"], "missing GROUP"),
                         (["recv", "--iface", "lo", "239.1.1.1:5000", "239.1.1.1:5000"],
                          "given twice"),
                         (["send", "--rate", "1.5Ki", "239.1.1.1:5000"], "--rate"),
                         (["frob"], "mcast send")):
        rc, out, err = run([BIN, "mcast"] + args)
        check(rc == 2 and len(err.strip().splitlines()) == 1 and needle in err and not out,
              f"mcast {' '.join(args)}: exit 2, one line ({err.strip()})")


try:
    accounting()
    exact_faults()
    count_as_known()
    several_groups_and_foreign()
    sigint_and_stats()
    json_outputs()
    where_it_listens()
    examples()
    bad_input()
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
finish()
