"""bench --hdr-log read by an independent HdrHistogram implementation: HdrHistogramJS (npm's
hdr-histogram-js, installed into the build directory) decodes sockkit's interval log and the
--json result's hdr_histogram, and finds the same sample counts and the same p50/p90/p99/max as
sockkit's own JSON report (the same bucket: HdrHistogram reports a bucket's highest value,
sockkit its midpoint). Then bench merge: of one file it reports that file's percentiles, of two
the union's, and a merge's --json merges again; files of different modes or loops, cut-off or damaged logs are refused with one line naming
the file and the line (exit 2), an unreadable file exit 1; --hdr-log where it cannot be written,
or for bench stream, exit 2. Skipped (77) without node and npm, or when the install fails."""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import BIN, BUILD, check, finish, kill_started, run, serve, skip  # noqa: E402

NODE_SCRIPT = r"""
const hdr = require("hdr-histogram-js");
const fs = require("fs");
const [logPath, jsonPath] = process.argv.slice(2);
const ranks = JSON.parse(process.argv[4]);
const reader = new hdr.HistogramLogReader(fs.readFileSync(logPath, "utf8"), 64);
let h, total = null, sum = 0, intervals = 0;
while ((h = reader.nextIntervalHistogram()) != null) {
  if (h.tag === "total") total = h; else { sum += h.totalCount; intervals++; }
}
/* the value at a nearest rank r (1-based): HdrHistogram picks rank floor(p/100*n + 0.5), so ask
 * for the percentile that rounds to r exactly */
const at = (r) => {
  const v = total.getValueAtPercentile(100 * (r - 0.25) / total.totalCount);
  return [total.lowestEquivalentValue(v), total.highestEquivalentValue(v)];
};
const doc = JSON.parse(fs.readFileSync(jsonPath, "utf8"));
const fromJson = hdr.decodeFromCompressedBase64(doc.end.latency_us.hdr_histogram, 64);
const same = fromJson.totalCount === total.totalCount &&
  [10, 50, 90, 99, 99.9, 100].every((p) => fromJson.getValueAtPercentile(p) ===
                                           total.getValueAtPercentile(p));
const m = total.maxValue;
console.log(JSON.stringify({
  total: total.totalCount, sum, intervals, json_same: same,
  ranks: ranks.map(at),
  max: [total.lowestEquivalentValue(m), total.highestEquivalentValue(m)],
}));
"""


def npm_module(tmp):
    """The directory holding node_modules/hdr-histogram-js (installed once per build
    directory), or skip."""
    if not shutil.which("node") or not shutil.which("npm"):
        skip("node and npm are needed (Debian: nodejs, npm) to read the log with HdrHistogramJS")
    prefix = os.path.join(BUILD, "npm-cache", "hdrjs")
    if not os.path.exists(os.path.join(prefix, "node_modules", "hdr-histogram-js",
                                       "package.json")):
        os.makedirs(prefix, exist_ok=True)
        try:
            p = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", prefix,
                                "hdr-histogram-js@3"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=240,
                               env=dict(os.environ, npm_config_cache=os.path.join(tmp, "npm")))
        except subprocess.TimeoutExpired:
            skip("npm install hdr-histogram-js took over 240 s (no registry?)")
        if p.returncode != 0:
            tail = p.stdout.decode(errors="replace").strip().splitlines()[-1:]
            skip(f"npm install hdr-histogram-js failed: {tail}")
    return os.path.join(prefix, "node_modules")


def bench(mode, ep, log, extra=()):
    rc, out, err = run([BIN, "bench", mode, "-c", "4", "-d", "2", "--warmup", "0.3",
                        "--hdr-log", log, "--json", *extra, ep], timeout=60)
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, {}, err


def nearest_rank(p, n):
    return max(1, math.ceil(p / 100 * n))


def js_agrees(mode, log, doc_path, doc, modules):
    """HdrHistogramJS's reading of the log against sockkit's JSON report of the same run."""
    lat = doc["end"]["latency_us"]
    n = lat["samples"]
    ps = [50, 90, 99]
    ranks = [nearest_rank(p, n) for p in ps]
    script = os.path.join(os.path.dirname(log), "read_log.js")
    with open(script, "w") as f:
        f.write(NODE_SCRIPT)
    p = subprocess.run(["node", script, log, doc_path, json.dumps(ranks)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                       env=dict(os.environ, NODE_PATH=modules))
    try:
        js = json.loads(p.stdout)
    except ValueError:
        check(False, f"{mode}: node read the log ({p.stderr.decode(errors='replace')[:400]})")
        return
    check(js["total"] == n == doc["end"]["requests"] and js["sum"] == n,
          f"{mode}: HdrHistogramJS counts {js['total']} samples in the total, {js['sum']} in "
          f"{js['intervals']} intervals; sockkit's JSON {n} samples, "
          f"{doc['end']['requests']} requests")
    check(js["json_same"], f"{mode}: the JSON's hdr_histogram is the log's total")
    for p_, (lo, hi), key in zip(ps, js["ranks"], ("p50", "p90", "p99")):
        ns = round(lat[key] * 1000)
        check(lo <= ns <= hi, f"{mode}: {key} {ns} ns (sockkit) in HdrHistogramJS's bucket "
                              f"{lo}..{hi} at rank {nearest_rank(p_, n)} of {n}")
    lo, hi = js["max"]
    ns = round(lat["max"] * 1000)
    check(lo <= ns <= hi, f"{mode}: max {ns} ns (sockkit) in HdrHistogramJS's max bucket "
                          f"{lo}..{hi}")
    return js


def merge(*args):
    rc, out, err = run([BIN, "bench", "merge", *args], timeout=30)
    return rc, out.decode(errors="replace"), err.strip()


def main(tmp):
    modules = npm_module(tmp)
    srv, host, port = serve(["echo", "127.0.0.1:0"])
    ep = f"{host}:{port}"
    logs, docs = {}, {}
    for mode, extra in (("echo", ("-i", "0.5", "--pipeline", "2")), ("connect", ())):
        logs[mode] = os.path.join(tmp, f"{mode}.hdr")
        rc, doc, err = bench(mode, ep, logs[mode], extra)
        docs[mode] = os.path.join(tmp, f"{mode}.json")
        with open(docs[mode], "w") as f:
            json.dump(doc, f)
        ok = rc == 0 and bool(doc.get("end", {}).get("latency_us"))
        check(ok, f"bench {mode} --hdr-log --json runs ({err.strip()})")
        if not ok:
            continue
        js = js_agrees(mode, logs[mode], docs[mode], doc, modules)
        if mode == "echo" and js:
            check(js["intervals"] == 4, f"echo: -i 0.5 over 2 s is 4 intervals ({js['intervals']})")
    with open(logs["echo"]) as f:
        text = f.read()
    check(text.startswith("#[Histogram log format version 1.3]\n") and "#[StartTime: " in text
          and "#[BaseTime: " in text and "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
          "\"Interval_Compressed_Histogram\"\n" in text and "\nTag=total,0.000,2.000," in text,
          "the log has HdrHistogram's header lines, legend and the tagged total")

    # merge: one file gives that run's numbers, the log and its JSON twice the samples
    doc = json.load(open(docs["echo"]))
    rc, out, err = merge("--json", logs["echo"])
    m = json.loads(out) if rc == 0 else {}
    lat, mine = m.get("end", {}).get("latency_us", {}), doc["end"]["latency_us"]
    check(rc == 0 and m["end"]["requests"] == doc["end"]["requests"]
          and all(abs(lat[k] - mine[k]) <= mine[k] / 128 for k in ("p50", "p90", "p99")),
          f"merge of one log: its requests and percentiles ({err})")
    rc, out, err = merge("--json", logs["echo"], docs["echo"])
    m = json.loads(out) if rc == 0 else {}
    check(rc == 0 and m["end"]["requests"] == 2 * doc["end"]["requests"]
          and m["end"]["latency_us"]["samples"] == 2 * mine["samples"]
          and m["end"]["latency_us"]["p50"] == lat.get("p50"),
          f"merge of a log and its JSON: twice the samples, the same p50 ({err})")

    # a merge's --json merges again (per-rack merges, then one of them all)
    merged = os.path.join(tmp, "merged.json")
    with open(merged, "w") as f:
        f.write(out)
    rc, out, err = merge("--json", merged, logs["echo"])
    m3 = json.loads(out) if rc == 0 else {}
    check(rc == 0 and m3["end"]["requests"] == 3 * doc["end"]["requests"]
          and m3["end"]["latency_us"]["p99"] == lat.get("p99")
          and abs(m3["end"]["requests_per_second"] - 3 * m["end"]["requests_per_second"] / 2)
          < 1e-3 * m["end"]["requests_per_second"],
          f"merge of a merge and a log: three times the requests and the rate ({err})")

    # refusals
    rc, out, err = merge(logs["echo"], logs["connect"])
    check(rc == 2 and err.count("\n") == 0 and logs["echo"] in err and logs["connect"] in err
          and "bench echo" in err and "bench connect" in err,
          f"merge of echo and connect: exit 2 naming both ({rc}: {err})")
    # an open loop's latencies (from the due time) and a closed loop's (from the send): refused,
    # log against log and JSON against JSON; the open ones merge among themselves, and say so
    openlog, openjson = os.path.join(tmp, "open.hdr"), os.path.join(tmp, "open.json")
    rc, out, err = run([BIN, "bench", "echo", "--rate", "500", "-c", "2", "-d", "0.5", "--warmup",
                        "0.2", "--hdr-log", openlog, "--json", ep])
    with open(openjson, "wb") as f:
        f.write(out)
    check(rc == 0 and ", loop open, " in open(openlog).read().splitlines()[1]
          and ", loop closed, " in text.splitlines()[1],
          f"the log's sockkit line says the loop ({err.strip()})")
    for a, b in ((logs["echo"], openlog), (openjson, docs["echo"])):
        rc, out, err = merge(a, b)
        check(rc == 2 and err.count("\n") == 0 and a in err and b in err and "open loop" in err
              and "closed loop" in err, f"merge of an open and a closed loop: exit 2 naming both "
              f"({rc}: {err})")
    rc, out, err = merge("--json", openlog, openjson)
    m = json.loads(out) if rc == 0 else {}
    check(rc == 0 and m["start"]["parameters"].get("loop") == "open",
          f"two open-loop files merge, and the result says open ({err})")
    cut = os.path.join(tmp, "cut.hdr")
    with open(cut, "w") as f:
        f.write(text[:len(text) - 40])
    rc, out, err = merge(logs["echo"], cut)
    lines = text.count("\n")
    check(rc == 2 and err.count("\n") == 0 and cut in err and f"line {lines}: cut off" in err,
          f"a cut-off log: exit 2 naming the file and line {lines} ({rc}: {err})")
    bad = os.path.join(tmp, "bad.hdr")
    second = text.index("\n0.500,")
    at = text.index("HISTF", second) + 30
    with open(bad, "w") as f:
        f.write(text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1:])
    rc, out, err = merge(bad)
    check(rc == 2 and err.count("\n") == 0 and bad in err and "line 7:" in err,
          f"a damaged histogram: exit 2 naming line 7 ({rc}: {err})")
    rc, out, err = merge(os.path.join(tmp, "nosuch.hdr"))
    check(rc == 2 and "nosuch.hdr: No such file" in err,
          f"a missing file: exit 2, as bad input ({rc}: {err})")
    rc, out, err = merge(tmp)
    check(rc == 2 and err.count("\n") == 0 and "a directory" in err,
          f"a directory: exit 2, one line ({rc}: {err})")
    rc, out, err = merge()
    check(rc == 2 and "missing FILE" in err, f"merge without files: exit 2 ({err})")
    rc, _, err = run([BIN, "bench", "echo", "-d", "0.2", "--hdr-log",
                      os.path.join(tmp, "no", "dir.hdr"), ep])
    check(rc == 2 and "--hdr-log" in err and err.strip().count("\n") == 0,
          f"--hdr-log in a missing directory: exit 2 before the run ({err.strip()})")
    rc, _, err = run([BIN, "bench", "stream", "--hdr-log", "x.hdr", ep])
    check(rc == 2 and "--hdr-log is for bench echo and connect" in err,
          f"bench stream --hdr-log refused ({err.strip()})")
    srv.terminate()
    srv.wait()


tmp = tempfile.mkdtemp(prefix="sk_hdrlog_")
try:
    main(tmp)
finally:
    kill_started()
    shutil.rmtree(tmp, ignore_errors=True)
finish()
