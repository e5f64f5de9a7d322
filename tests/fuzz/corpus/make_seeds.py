#!/usr/bin/env python3
"""Writes the seed inputs of tests/fuzz/corpus/<harness>/ (each harness's input layout is described
at the top of tests/fuzz/fuzz_<harness>.c). Run from anywhere; it rewrites the seed-* files only,
so inputs added by hand or from a fuzzing run (named by their hash) stay."""
import base64
import os
import struct
import zlib

here = os.path.dirname(os.path.abspath(__file__))


def put(harness, name, data):
    d = os.path.join(here, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# ---- addr: option byte (bits 0-1 family, 2 datagram, 3 passive), output-size byte, text ----------
for i, text in enumerate([b"127.0.0.1:80", b"*:8080", b":0", b"[::1]:443", b"[fe80::1%lo]:80",
                          b"[fe80::1%3]:9", b"unix:/tmp/sock", b"unix:@abstract", b"localhost:http",
                          b"[::ffff:1.2.3.4]:0", b"1.2.3:65535", b"0x7f.1:1", b"host:99999",
                          b"[::1:80", b"a]:1", b"::1:80"]):
    put("addr", "%02d" % i, bytes([i % 16, 16]) + text)
put("addr", "raw-in", bytes([0, 0xff]) + struct.pack("=H", 2) + struct.pack(">H", 80)
    + bytes([127, 0, 0, 1]) + bytes(8))
put("addr", "raw-unix", bytes([0, 0xff]) + struct.pack("=H", 1) + b"\0abstract")


# ---- reader: flags, 2-byte buffer size, op count, 6-byte ops, stream -----------------------------
def op(kind, x, y1=0, y2=0, y3=0):
    return bytes([kind]) + struct.pack(">H", x) + bytes([y1, y2, y3])


LINE, UNTIL, EXACT, FRAME, SOME = range(5)
http = b"GET / HTTP/1.0\r\nHost: x\r\n\r\nbody"
put("reader", "lines", bytes([1]) + struct.pack(">H", 0) + bytes([4])
    + op(LINE, 100) * 3 + op(SOME, 100) + http)
put("reader", "until", bytes([1]) + struct.pack(">H", 16) + bytes([2])
    + op(UNTIL, 64, 2, ord("\r"), ord("\n")) + op(UNTIL, 64, 4, ord("\r"), ord("\n")) + http)
frames = struct.pack(">H", 3) + b"abc" + struct.pack(">I", 2) + b"hi" + struct.pack(">H", 300)
put("reader", "frames", bytes([0]) + struct.pack(">H", 8) + bytes([3])
    + op(FRAME, 100, 0) + op(FRAME, 100, 1) + op(FRAME, 600, 0) + frames + bytes(300))
put("reader", "exact-pipe", bytes([3]) + struct.pack(">H", 10) + bytes([3])
    + op(EXACT, 4) + op(EXACT, 40) + op(EXACT, 1) + bytes(range(50)))
put("reader", "open", bytes([0]) + struct.pack(">H", 5) + bytes([3])
    + op(LINE, 10) + op(SOME, 0) + op(SOME, 3) + b"no newline")


# ---- seqpkt: records [2-byte length][8-byte receive time][datagram]; top bit: a fault plan -------
def pkt(ident, seq, sent, size=28):
    h = b"SKMC" + bytes([1, 0]) + struct.pack(">HIQQ", 28, ident, seq, sent)
    return h + bytes((seq + i) & 0xff for i in range(28, size))


def rec(data, recv):
    return struct.pack(">HQ", len(data), recv) + data


now = 1_700_000_000_000_000_000
put("seqpkt", "stream", b"".join(rec(pkt(7, s, now + s * 1000), now + s * 1000 + 50 + s % 3)
                                 for s in [0, 1, 3, 2, 2, 5]))
put("seqpkt", "two-senders", rec(pkt(1, 10, now), now) + rec(pkt(2, 0, now), now + 9)
    + rec(pkt(1, 11, now), now + 5) + rec(b"not ours", now))
put("seqpkt", "forged-times", rec(pkt(3, 0, 0), now) + rec(pkt(3, 1, now + (1 << 63)), now)
    + rec(pkt(3, 2, 2**64 - 1), 0))
put("seqpkt", "far-ahead", rec(pkt(4, 0, now), now) + rec(pkt(4, 2**26 - 1, now), now)
    + rec(pkt(4, 2**64 - 1, now), now))
plan = b"1,5\x002,7\x003"
put("seqpkt", "plan", struct.pack(">H", 0x8000 | len(plan)) + plan)

# ---- trace: mode, output size, 8-byte base offset, [28-byte sockaddr], data --------------------
put("trace", "short", bytes([0, 10]) + bytes(8) + b"hello")
put("trace", "rows", bytes([3 | 8, 80]) + struct.pack(">Q", 0xfff0) + bytes(range(256)) * 2)
put("trace", "peer", bytes([4 | 2, 0]) + bytes(8) + struct.pack("=H", 2) + struct.pack(">H", 9)
    + bytes([127, 0, 0, 1]) + bytes(20) + b"data\n\x00\x7f")
put("trace", "big-offset", bytes([1, 200]) + struct.pack(">Q", 2**64 - 8) + b"0123456789abcdefXYZ")


# ---- proxy: flags (bit 0 HTTP, bit 1 credentials, bits 2-3 target), chunking, the proxy's bytes ---
SOCKS, HTTP, CREDS = 0, 1, 2
put("proxy", "socks-none-v4", bytes([SOCKS, 0]) + b"\x05\x00" + b"\x05\x00\x00\x01" + bytes(6)
    + b"tunnel")
put("proxy", "socks-auth-name", bytes([SOCKS | CREDS, 3]) + b"\x05\x02\x01\x00"
    + b"\x05\x00\x00\x03\x0bexample.org\x00\x50")
put("proxy", "socks-v6", bytes([SOCKS | 8, 5]) + b"\x05\x00\x05\x00\x00\x04" + bytes(18))
put("proxy", "socks-refused", bytes([SOCKS, 1]) + b"\x05\x00\x05\x05\x00\x01" + bytes(6))
put("proxy", "socks-auth-failed", bytes([SOCKS | CREDS, 0]) + b"\x05\x02\x01\x01")
put("proxy", "socks-no-method", bytes([SOCKS, 0]) + b"\x05\xff")
put("proxy", "socks-bad-atyp", bytes([SOCKS, 2]) + b"\x05\x00\x05\x00\x00\x09")
put("proxy", "http-200", bytes([HTTP, 0]) + b"HTTP/1.1 200 Connection established\r\n"
    b"Proxy-Agent: x\r\n\r\ndata")
put("proxy", "http-100-200", bytes([HTTP | CREDS, 7]) + b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.0 200 OK\r\n\r\n")
put("proxy", "http-407", bytes([HTTP | CREDS, 0]) + b"HTTP/1.1 407 Proxy Authentication Required"
    b"\r\nProxy-Authenticate: Basic realm=x\r\n\r\n")
put("proxy", "http-bare-lf", bytes([HTTP, 0]) + b"HTTP/1.0 200 OK\nVia: 1.0 x\n\ntail")
put("proxy", "http-bad-line", bytes([HTTP, 4]) + b"HTTP/1.1 2OO OK\r\n\r\n")
put("proxy", "http-oversized", bytes([HTTP, 16]) + b"HTTP/1.1 200 OK\r\nX: " + b"a" * 8200)


# ---- hdrlog: what byte (0 a file for bench merge, 1 base64 of a histogram, 2 a raw V2 encoding),
# then the rest. Histograms as {counts index: count} (HdrHistogram, 2 digits from 1). -------------
def zigzag(v):
    u = ((v << 1) ^ (v >> 63)) & (2**64 - 1)
    out = bytearray()
    for _ in range(8):
        if u < 0x80:
            return bytes(out + bytes([u]))
        out.append((u & 0x7f) | 0x80)
        u >>= 7
    return bytes(out + bytes([u & 0xff]))


def v2_raw(counts):
    body, i, top = b"", 0, max(counts) + 1 if counts else 0
    while i < top:
        if counts.get(i):
            body += zigzag(counts[i])
            i += 1
            continue
        run = 0
        while i < top and not counts.get(i):
            run, i = run + 1, i + 1
        body += zigzag(-run if run > 1 else 0)
    return struct.pack(">iIiIqqd", 0x1c849313, len(body), 0, 2, 1, 2**41 - 1, 1.0) + body


def v2_base64(counts):
    z = zlib.compress(v2_raw(counts))
    return base64.b64encode(struct.pack(">iI", 0x1c849314, len(z)) + z).decode()


h1, h2 = {3: 5, 300: 2, 1000: 1}, {0: 1, 255: 7, 4479: 1}
total = {k: h1.get(k, 0) + h2.get(k, 0) for k in set(h1) | set(h2)}
log = ("#[Histogram log format version 1.3]\n"
       "#[sockkit bench echo, size_bytes 64, connections 1; values in nanoseconds]\n"
       "#[StartTime: 1700000000.000 (seconds since epoch), 2023-11-14T22:13:20Z]\n"
       "#[BaseTime: 1700000000.000 (seconds since epoch)]\n"
       '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"\n'
       f"0.000,1.000,0.001,{v2_base64(h1)}\n1.000,1.000,9000.000,{v2_base64(h2)}\n"
       f"Tag=total,0.000,2.000,9000.000,{v2_base64(total)}\n")
put("hdrlog", "log", b"\0" + log.encode())
put("hdrlog", "log-cut", b"\0" + log.encode()[:-30])
put("hdrlog", "log-crlf-othertag", b"\0" + log.replace("\n", "\r\n").encode()
    + f"Tag=other,0,1,2,{v2_base64(h1)}\r\n".encode())
doc = ('{"start": {"command": "bench connect", "parameters": {"size_bytes": 32}},\n'
       ' "intervals": [{"requests": 7}],\n'
       f' "end": {{"seconds": 2.0, "requests": 11, "latency_us": {{"hdr_histogram": '
       f'"{v2_base64(total)}"}}}}}}\n')
put("hdrlog", "json", b"\0" + doc.encode())
lines = "".join('{"event": "%s", "data": %s}\n' % (e, d) for e, d in (
    ("start", '{"command": "bench echo", "parameters": {"size_bytes": 64}}'),
    ("interval", '{"requests": 3}'),
    ("end", '{"requests": 8, "latency_us": {"hdr_histogram": "%s"}}' % v2_base64(h1))))
put("hdrlog", "json-lines", b"\0" + lines.encode())
put("hdrlog", "base64", b"\1" + v2_base64(total).encode())
put("hdrlog", "base64-empty", b"\1" + v2_base64({}).encode())
put("hdrlog", "raw", b"\2" + v2_raw({1: 2**62, 2: 1, 700: 3}))
