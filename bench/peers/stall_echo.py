"""An echo server that stalls: for the first STALL seconds of every PERIOD seconds (its own
monotonic clock, one for every connection) it answers nothing; what arrives then is answered when
the stall ends. bench/openloop.sh's known schedule.
usage: stall_echo.py [STALL [PERIOD]] (default 0.2 and 1.0); prints "port N"."""
import socket
import socketserver
import sys
import time

STALL = float(sys.argv[1]) if len(sys.argv) > 1 else 0.2
PERIOD = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
T0 = time.monotonic()


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                data = self.request.recv(65536)
                if not data:
                    return
                phase = (time.monotonic() - T0) % PERIOD
                if phase < STALL:
                    time.sleep(STALL - phase)
                self.request.sendall(data)
        except OSError:
            pass


socketserver.ThreadingTCPServer.allow_reuse_address = True
srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
srv.daemon_threads = True
print(f"port {srv.server_address[1]}", flush=True)
srv.serve_forever()
