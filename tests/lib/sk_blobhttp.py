"""Python's http.server on loopback serving one random file, /blob.bin, from a directory of the
test's own: a real HTTP peer for the relay tests (relay_basic.py, tls_relay.py)."""
import http.server
import os
import threading


def blob_server(dir, size=1 << 20):
    """Write size random bytes to dir/blob.bin and serve dir on 127.0.0.1 (a free port) on a
    thread, quietly: (the server, the file's bytes). Stop it with shutdown() and server_close()."""
    body = os.urandom(size)
    with open(os.path.join(dir, "blob.bin"), "wb") as f:
        f.write(body)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=dir, **kw)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, body
