"""TLS peers for the tests, in Python's ssl with the certificates of tlscerts.make: an echo server
(optionally requiring a client certificate) that records the SNI of each handshake, and a client
that sends bytes through a plain or TLS connection and reads them back. Shared by tls_relay.py,
tls_relay_via.py, tls_relay_mtls.py, tls_serve.py and bench_tls.py."""
import socket
import ssl
import threading
import time


class TlsEcho:
    """A TLS echo server on 127.0.0.1 (certs: tlscerts.make's dict): echoes until the client's
    close_notify, then answers with its own. sni: the name each handshake received; refused: the
    handshakes that failed, with the reason. require_client: a client certificate issued by the
    test root is required (mutual TLS). tickets: TLS 1.3 tickets sent per handshake (None:
    OpenSSL's 2; 0: a server that does not resume)."""

    def __init__(self, certs, require_client=False, tickets=None):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certs["chain"], certs["leaf_key"])
        if tickets is not None:  # TLS 1.3 session tickets per handshake (0: no resumption)
            self.ctx.num_tickets = tickets
        if require_client:
            self.ctx.verify_mode = ssl.CERT_REQUIRED
            self.ctx.load_verify_locations(certs["root"])
        self.sni, self.refused, self.peers = [], [], []
        self.ctx.sni_callback = lambda s, name, c: self.sni.append(name) and None
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _one(self, raw):
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stall per echo
        try:
            with self.ctx.wrap_socket(raw, server_side=True) as s:
                cert = s.getpeercert()
                self.peers.append(dict(x[0] for x in cert["subject"]) if cert else None)
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    s.sendall(b)
                s.unwrap()
        except ssl.SSLError as e:
            self.refused.append(str(e))
        except OSError:
            pass

    def wait_refused(self, n=1, timeout=10.0):
        """The refused list once it holds n entries (the server's thread records a failed
        handshake after sending its alert, so after the peer may already have seen it), or as it
        is after timeout seconds."""
        end = time.monotonic() + timeout
        while len(self.refused) < n and time.monotonic() < end:
            time.sleep(0.01)
        return self.refused

    def _accept(self):
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(raw,), daemon=True).start()

    def close(self):
        self.sock.close()


def recv_count(s, n):
    """Up to n bytes from s (plain or TLS), fewer if the peer ends first."""
    got = bytearray()
    while len(got) < n:
        b = s.recv(65536)
        if not b:
            break
        got.extend(b)
    return bytes(got)


def echo_through(port, data, ctx=None, name="example.test", errors=None):
    """data through a TLS (ctx) or plain connection to 127.0.0.1:port, read back while sending (a
    thread writes); then our end (close_notify or FIN) and the peer's. The bytes that came back;
    errors (a list), if given, gets what ended a plain connection early (a reset: the relay gave
    up), else that is raised."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    s = ctx.wrap_socket(raw, server_hostname=name) if ctx else raw
    got = bytearray()
    if ctx:  # one SSL object, one thread: pieces, each read back before the next
        for off in range(0, len(data), 16384):
            s.sendall(data[off:off + 16384])
            want = min(len(data), off + 16384)
            while len(got) < want:
                b = s.recv(65536)
                if not b:
                    break
                got.extend(b)
        s.unwrap()
        s.close()
        return bytes(got)
    failed = []

    def send():
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            failed.append(e)
    w = threading.Thread(target=send)
    w.start()
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            got.extend(b)
    except OSError as e:
        failed.append(e)
    w.join()
    s.close()
    if failed and errors is None:
        raise failed[0]
    if errors is not None:
        errors.extend(failed)
    return bytes(got)
