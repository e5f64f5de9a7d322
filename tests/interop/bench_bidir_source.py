"""sockkit bench stream --bidir against sockkit serve source, in every server model: source also
reads (and throws away) what the client sends, so both directions move at once and each is
reported, the bytes the bench sent counted by the server as bytes in. A client that half-closes
still gets source's bytes until it leaves, and -R (reading only) works as before. Against a server
that sends nothing back (sink for --bidir, echo for -R) the report says so and names the server
that would."""
import json
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import (BIN, check, finish, kill_started, run, serve, stop,  # noqa: E402
                    stop_counts)

MODELS = ["event", "iterative", "thread", "fork", "pool"]


def doc_of(out):
    try:
        return json.loads(out)
    except ValueError:
        return {}


def half_close_reads(port, want=1 << 20):
    """Send a little, shut down writing, then read `want` bytes of source's: how many came."""
    got = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"hello " * 100)
        s.shutdown(socket.SHUT_WR)
        while got < want:
            b = s.recv(65536)
            if not b:
                break
            got += len(b)
    return got


try:
    for model in MODELS:
        p, host, port = serve(["--model", model, "source", "127.0.0.1:0"])
        ep = f"{host}:{port}"
        # paced, 20 Mbit/s each way (2.5 MB in the second): unpaced, the event model's source
        # writes in bulk each turn and reads 64 KiB, and on a busy machine under TSan the send
        # direction once moved nothing in the measured window; paced, both must move in full
        rc, out, err = run([BIN, "bench", "stream", "--bidir", "-b", "20M", "-d", "1", "--warmup",
                            "0.2", "--json", ep], timeout=60)
        end = doc_of(out).get("end", {})
        snd, rcv = end.get("send", {}), end.get("receive", {})
        check(rc == 0 and end.get("direction") == "both" and snd.get("bytes", 0) >= 1000000
              and rcv.get("bytes", 0) >= 1000000 and end.get("errors") == 0,
              f"{model}: bench stream --bidir against serve source: sent {snd.get('bytes')}, "
              f"received {rcv.get('bytes')} ({err.strip()})")
        got = half_close_reads(port)
        check(got >= 1 << 20, f"{model}: a client that half-closed still reads source ({got})")
        rc, out, err = run([BIN, "bench", "stream", "-R", "-d", "0.5", "--warmup", "0", "--json",
                            ep], timeout=60)
        check(rc == 0 and doc_of(out).get("end", {}).get("bytes", 0) > 0,
              f"{model}: bench stream -R against serve source ({err.strip()})")
        rc, err = stop(p)
        counts = stop_counts(err) or {}
        check(rc == 0 and counts.get("bytes_in", 0) >= snd.get("bytes", 1) and
              counts.get("errors", 1) == 0,
              f"{model}: source counted what the bench sent as bytes in ({err.strip()})")
    # the wrong server for the direction: the report says nothing came and which server would send
    for server, args, hint in (("sink", ["--bidir", "-b", "20M"], "nothing came back"),
                               ("echo", ["-R"], "nothing came: the server sent nothing")):
        p, host, port = serve([server, "127.0.0.1:0"])
        rc, out, err = run([BIN, "bench", "stream", *args, "-d", "0.3", "--warmup", "0",
                            f"{host}:{port}"], timeout=60)
        text = out.decode()
        check(rc == 0 and hint in text and "serve source" in text,
              f"bench stream {' '.join(args)} against serve {server}: the report says nothing came")
        stop(p)
    p, host, port = serve(["source", "127.0.0.1:0"])
    rc, out, err = run([BIN, "bench", "stream", "-R", "-d", "0.3", "--warmup", "0", f"{host}:{port}"],
                       timeout=60)
    check(rc == 0 and "nothing came" not in out.decode(), "against serve source -R says no such thing")
    stop(p)
finally:
    kill_started()
finish()
