#!/usr/bin/env python3
"""Hold N idle TLS connections to a server, for bench/tls.sh's memory per idle TLS connection.

usage: bench/tls_idle.py PORT N CAFILE
Opens N TLS connections to 127.0.0.1:PORT one after another (verified against CAFILE, name
localhost), checks each with a 1-byte echo (so the server finished its handshake and serves it),
prints "held N" on stdout, then keeps them until stdin ends (bench/tls.sh runs it under
`timeout 300`) and closes them.
Exits 1 naming the first connection that failed. The caller raises RLIMIT_NOFILE above N.
"""
import socket
import ssl
import sys
import time

IO_TIMEOUT_S = 10


def main():
    port, n, cafile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    ctx = ssl.create_default_context(cafile=cafile)
    held = []
    deadline = time.monotonic() + 240
    for i in range(n):
        if time.monotonic() > deadline:
            sys.exit(f"tls_idle.py: only {i} of {n} connections in 240 s")
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S)
            s = ctx.wrap_socket(raw, server_hostname="localhost")
            s.sendall(b"x")
            if s.recv(1) != b"x":
                sys.exit(f"tls_idle.py: connection {i}: no echo")
        except OSError as e:
            sys.exit(f"tls_idle.py: connection {i}: {e}")
        held.append(s)
    print(f"held {len(held)}", flush=True)
    sys.stdin.read()  # the caller closes our stdin when it has measured
    for s in held:
        s.close()


if __name__ == "__main__":
    main()
