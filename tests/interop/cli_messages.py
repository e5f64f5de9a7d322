"""Messages that say what to do: one line on stderr naming the input and the next step, and the
exit status of the one rule. A port below 1024 without the capability (setpriv drops it), a port
someone holds (this test, another sockkit, another user's process), a Unix name in use or a file
left behind, an IPv6 link-local address without its interface, -4/-6 against what a name or
address has, a port that only connections use (open, or in TIME-WAIT), connecting where nobody
serves (TCP, UDP, Unix), an endpoint without a port, the stop line after Ctrl-C (on a
pseudo-terminal) and singular counts."""
import os
import pty
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sktest import BIN, check, finish, kill_started, run, serve, stop  # noqa: E402

TMP = tempfile.mkdtemp(prefix="sockkit-msg-")
ME = f"pid {os.getpid()} ("
with open("/proc/self/comm") as f:
    COMM = f.read().strip()


def one_line(args, status, *needles, forbid=(), prefix=()):
    """args exit with status, exactly one line on stderr holding every needle."""
    rc, out, err = run(list(prefix) + [BIN] + args, timeout=20)
    ok = rc == status and err.count("\n") == 1 and err.endswith("\n")
    ok = ok and all(n in err for n in needles) and not any(f in err for f in forbid)
    check(ok, f"{' '.join(args)}: exit {rc}, one line with {needles}: {err.strip()!r}")
    return err


def free_low_port():
    """A port below 1024 nothing is bound to on 127.0.0.1 (TCP and UDP)."""
    for port in range(1000, 900, -1):
        try:
            for typ in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                with socket.socket(socket.AF_INET, typ) as s:
                    s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    return None


def privileged_port():
    try:
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
            start = int(f.read())
    except OSError:
        start = 1024
    port = free_low_port()
    if not shutil.which("setpriv") or start <= 1 or port is None or port >= start:
        print("SKIP the privileged-port messages: no setpriv, or every port is unprivileged here")
        return
    drop = ["setpriv", "--bounding-set=-net_bind_service", "--inh-caps=-net_bind_service"]
    for args in (["listen", f"127.0.0.1:{port}"], ["listen", "-u", str(port)],
                 ["serve", "echo", f"127.0.0.1:{port}"]):
        one_line(args, 1, "Permission denied", f"ports below {start} need root or the "
                 "CAP_NET_BIND_SERVICE capability", f"choose a port from {start} up", prefix=drop)
    # a connect from a privileged source port is not a bind of the command's own: no hint there
    one_line(["connect", "-p", str(port), f"127.0.0.1:{port + 1}"], 1, "Permission denied",
             forbid=("CAP_NET_BIND_SERVICE",), prefix=drop)


def held_ports():
    t = socket.create_server(("127.0.0.1", 0))
    port = t.getsockname()[1]
    for args in (["listen", f"127.0.0.1:{port}"], ["listen", str(port)],
                 ["serve", "echo", f"127.0.0.1:{port}"]):
        one_line(args, 1, "Address already in use", f"TCP port {port} is held by {ME}{COMM})",
                 "choose another port (0 picks a free one)", forbid=("-k",))
    t.close()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    port = u.getsockname()[1]
    one_line(["listen", "-u", f"127.0.0.1:{port}"], 1, f"UDP port {port} is held by {ME}")
    one_line(["serve", "-u", "echo", f"127.0.0.1:{port}"], 1, f"UDP port {port} is held by {ME}")
    u.close()
    # another sockkit listen holds it: one listener with -k does the job
    p = subprocess.Popen([BIN, "listen", "-v", "127.0.0.1:0"], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        line = p.stderr.readline().decode()
        m = re.search(r"listening on \S+ (\d+)", line)
        port = int(m.group(1)) if m else 0
        one_line(["listen", f"127.0.0.1:{port}"], 1, f"held by pid {p.pid} (sockkit)",
                 "with -k one listener serves client after client")
    finally:
        p.kill()
        p.wait()
    # the holder's process is not visible to the command (another user's): the ss command
    if shutil.which("setpriv"):
        t = socket.create_server(("127.0.0.1", 0))
        port = t.getsockname()[1]
        one_line(["listen", f"127.0.0.1:{port}"], 1, f"TCP port {port} is taken",
                 f"\"ss -ltnp 'sport = :{port}'\" shows by whom",
                 prefix=["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
        t.close()


def port_in_connections():
    """No listener, but the port is a connection's local port: open (ESTABLISHED) or closed by
    this side first (TIME-WAIT). Sockets without SO_REUSEADDR (a plain socket(), not
    create_server, which sets it) make the kernel refuse the bind."""
    lsn = socket.socket()
    lsn.bind(("127.0.0.1", 0))
    lsn.listen()
    port = lsn.getsockname()[1]
    cli = socket.create_connection(("127.0.0.1", port))
    srv, _ = lsn.accept()
    lsn.close()
    one_line(["listen", f"127.0.0.1:{port}"], 1, "Address already in use",
             f"no server holds TCP port {port}, but a connection uses it", "ESTABLISHED",
             forbid=("-k",))
    srv.close()  # this side closes first: its end of the connection waits out TIME-WAIT
    cli.recv(1)
    cli.close()
    one_line(["serve", "echo", f"127.0.0.1:{port}"], 1, "Address already in use",
             "TIME-WAIT", "wait, or choose another port")


def held_unix():
    path = os.path.join(TMP, "held.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.listen()
    one_line(["listen", f"unix:{path}"], 1, f"{ME}{COMM}) listens there")
    s.close()  # the file stays: nobody listens
    one_line(["listen", "-U", path], 1, "no socket is open there",
             f"remove {path} if nothing serves on it")
    name = f"sockkit-msg-{os.getpid()}"
    a = socket.socket(socket.AF_UNIX)
    a.bind("\0" + name)
    a.listen()
    one_line(["serve", "echo", f"unix:@{name}"], 1, f"{ME}{COMM}) listens there")
    a.close()


def refused():
    """Connecting where nobody serves: the refusal with what it means and what to do, from
    connect (TCP, UDP's ICMP port unreachable, a Unix path missing, a file left behind, an
    abstract name) and from bench's first connection."""
    from sktest import free_port
    port = free_port()
    for args in (["connect", f"127.0.0.1:{port}"],
                 ["bench", "echo", "-d", "0.2", f"127.0.0.1:{port}"],
                 ["bench", "connect", "-d", "0.2", f"[::1]:{free_port(host='::1')}"]):
        one_line(args, 1, "Connection refused", "nothing accepts connections on TCP port",
                 "start the server first")
    uport = free_port("udp")
    rc, out, err = run([BIN, "connect", "-u", f"127.0.0.1:{uport}"], input=b"hi\n", timeout=20)
    check(rc == 1 and err.count("\n") == 1 and "ICMP port unreachable" in err
          and f"nothing receives on UDP port {uport}" in err,
          f"connect -u to a closed UDP port: exit {rc}, {err.strip()!r}")
    missing = os.path.join(TMP, "missing.sock")
    one_line(["connect", f"unix:{missing}"], 1, f"no socket at {missing}", "start the server")
    stale = os.path.join(TMP, "stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(stale)
    s.close()
    one_line(["bench", "echo", "-d", "0.2", f"unix:{stale}"], 1,
             "the socket file is there but no server listens")
    one_line(["connect", f"unix:@sockkit-msg-none-{os.getpid()}"], 1, "no server listens on @")
    # an address that is not this host's (TEST-NET-2, RFC 5737): to listen on, or to connect from
    one_line(["listen", "198.51.100.77:5000"], 1, "Cannot assign requested address",
             "198.51.100.77 is not an address of this host", ":5000 listens on every address")
    one_line(["connect", "-s", "198.51.100.77", f"127.0.0.1:{port}"], 1,
             "the source (-s) is not an address of this host")
    nodir = os.path.join(TMP, "no-such-dir")
    one_line(["listen", "-U", os.path.join(nodir, "s.sock")], 1,
             f"there is no directory {nodir}: create it (mkdir -p {nodir})")


def link_local():
    for args in (["connect", "[fe80::1]:80"], ["connect", "fe80::1", "80"],
                 ["listen", "[fe80::1]:7000"], ["serve", "echo", "[fe80::1]:7000"]):
        port = "80" if args[0] == "connect" else "7000"
        one_line(args, 2, "a link-local address needs its interface: add it, as in [fe80::1%",
                 f"]:{port}", "'sockkit ifaces' lists them")


def families():
    port = socket.create_server(("127.0.0.1", 0))
    p = port.getsockname()[1]
    one_line(["connect", "-6", f"127.0.0.1:{p}"], 2,
             "127.0.0.1 is an IPv4 address, and -6 asks for IPv6: leave out -6")
    one_line(["connect", "-4", "::1", str(p)], 2,
             "::1 is an IPv6 address, and -4 asks for IPv4: leave out -4")
    one_line(["listen", "-6", f"127.0.0.1:{p}"], 2, "127.0.0.1 is an IPv4 address")
    # a name with addresses of one family only, from /etc/hosts, as the resolver sees it (glibc
    # answers an IPv4 lookup of a name on ::1 with 127.0.0.1, so ip6-loopback is not IPv6-only)
    names = {}
    try:
        with open("/etc/hosts") as f:
            for line in f:
                words = line.split("#")[0].split()
                for name in words[1:]:
                    names.setdefault(name, set()).add(":" in words[0])
    except OSError:
        pass

    def resolves(name, fam):
        try:
            return bool(socket.getaddrinfo(name, None, fam, socket.SOCK_STREAM))
        except (socket.gaierror, UnicodeError):
            return False

    def one_family(v6):
        fam, other = (socket.AF_INET6, socket.AF_INET) if v6 else (socket.AF_INET, socket.AF_INET6)
        for n, fams in names.items():
            if fams == {v6} and "localhost" not in n and resolves(n, fam) and not resolves(n, other):
                return n
        return None

    # a port nothing listens on: should the name resolve after all, the connect fails fast
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    v4only, v6only = one_family(False), one_family(True)
    if v4only:
        one_line(["connect", "-6", f"{v4only}:{closed}"], 2,
                 f"{v4only} has no IPv6 address (it resolves to ", ": leave out -6")
    if v6only:
        one_line(["connect", "-4", f"{v6only}:{closed}"], 2,
                 f"{v6only} has no IPv4 address (it resolves to ", ": leave out -4")
    if not v4only and not v6only:
        print("SKIP: /etc/hosts has no name of one family only")
    port.close()
    # localhost is the library's own (RFC 6761): -6 gives ::1, which is tried, not "no address"
    try:
        with socket.socket(socket.AF_INET6) as s6:
            s6.bind(("::1", 0))
            q = s6.getsockname()[1]
        one_line(["connect", "-6", f"localhost:{q}"], 1, f"connect [::1]:{q}: Connection refused")
    except OSError:
        print("SKIP: no ::1 here")


def no_port():
    one_line(["connect", "127.0.0.1"], 2, "'127.0.0.1' has no port: give 127.0.0.1:PORT (as in "
             "127.0.0.1:80), or HOST PORT", forbid=("not a number",))
    one_line(["connect", "[::1]"], 2, "'[::1]' has no port: give [::1]:PORT",
             forbid=("not a number",))
    one_line(["connect", "localhost:"], 2, "'localhost:' has no port: give localhost:PORT",
             forbid=("not a number",))
    one_line(["serve", "echo", "127.0.0.1"], 2, "'127.0.0.1' has no port",
             ":PORT for every address", forbid=("not a number",))
    one_line(["listen", "localhost"], 2, "'localhost' has no port", ":PORT for every address")
    one_line(["connect", ":80"], 2, "':80' has no host: give HOST:PORT (as in 127.0.0.1:80)")
    # every command that takes an endpoint says it the same way; "HOST PORT" only where the
    # command takes two operands (connect), ":PORT" only where a host may be left out
    for args in (["bench", "echo", "127.0.0.1"], ["bench", "stream", "localhost:"],
                 ["bench", "udp", "127.0.0.1"], ["mcast", "send", "239.1.2.3"],
                 ["mcast", "recv", "239.1.2.3"], ["relay", "127.0.0.1:1", "127.0.0.1"]):
        host = args[-1].rstrip(":")
        one_line(args, 2, f"'{args[-1]}' has no port: give {host}:PORT (as in {host}:80)",
                 forbid=("not a number", "HOST PORT", "every address"))
    one_line(["bench", "udp", "--recv", "127.0.0.1"], 2, "has no port", ":PORT for every address")
    one_line(["bench", "connect", "*:7"], 2, "'*:7' has no host")
    # a service name the host does not know: which file, and what to give instead
    one_line(["connect", "localhost:nosuchsvc"], 2, "unknown service name",
             "no tcp service 'nosuchsvc' in /etc/services", "give the port number")
    one_line(["listen", "-u", "127.0.0.1:nosuchsvc"], 2, "no udp service 'nosuchsvc'")
    # port 0 as a destination: nobody's port (connect(2) would be refused, a relay would start and
    # fail each client); where it is bound (serve, listen, relay's LISTEN) it stays any free port
    for args in (["connect", "127.0.0.1:0"], ["connect", "127.0.0.1", "0"], ["connect", "-u", "[::1]:00"],
                 ["relay", "127.0.0.1:0", "127.0.0.2:0"], ["bench", "echo", "localhost:0"],
                 ["bench", "udp", "127.0.0.1:0"]):
        one_line(args, 2, "port 0 cannot be a destination", "give the port the other side listens on",
                 forbid=("refused",))
    # digits and dots that make no IPv4 address: refused before any lookup (DNS would be asked
    # for "256.1.1.1" and answer "does not resolve")
    for args, host in ((["connect", "256.1.1.1:80"], "256.1.1.1"), (["connect", "1.2.3.4.5", "80"], "1.2.3.4.5"),
                       (["relay", "127.0.0.1:0", "127.0.0.300:80"], "127.0.0.300"),
                       (["listen", "1.2.3.999:0"], "1.2.3.999"), (["serve", "echo", "127.0.0.256:0"], "127.0.0.256"),
                       (["mcast", "send", "--iface", "lo", "239.1.2.300:5000"], "239.1.2.300")):
        one_line(args, 2, f"{host} is not an IPv4 address: give four numbers from 0 to 255",
                 forbid=("resolve",))
    # a leading 0 is octal to getaddrinfo: 0177.0.0.1 is 127.0.0.1, not 177.0.0.1 (a loopback
    # reading, so that the test reaches no other host should the check go); both readings named.
    # Where they agree (127.000.000.001) the address is taken as it is.
    one_line(["connect", "0177.0.0.1:9"], 2, "a number with a leading 0 is octal",
             "0177.0.0.1 is 127.0.0.1: write 177.0.0.1, or 127.0.0.1 if that is the host meant")
    one_line(["bench", "echo", "127.0.0.010:7"], 2, "127.0.0.010 is 127.0.0.8: write 127.0.0.10")
    port = free_low_port()
    if port:
        one_line(["connect", f"127.000.000.001:{port}"], 1, "Connection refused", forbid=("octal",))
    for args in (["mcast", "send", "--iface", "lo", "239.1.2.3:0"],
                 ["mcast", "recv", "--iface", "lo", "239.1.2.3:0"]):
        one_line(args, 2, "port 0 cannot be a destination", "give the group's port")


def ctrl_c():
    """serve on a terminal: after Ctrl-C (echoed as ^C) the stop line starts a line of its own."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(BIN, [BIN, "serve", "-v", "echo", "127.0.0.1:0"])
    out = b""
    try:
        deadline = time.time() + 10
        # -v's start: the "serving" line, then the loop backend's (both before a user's Ctrl-C)
        while b"backend" not in out and time.time() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                out += os.read(fd, 4096)
        os.write(fd, b"\x03")
        deadline = time.time() + 15
        while time.time() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    text = out.decode(errors="replace")
    check(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
          and re.search(r"(^|\r?\n)sockkit serve: echo stopped: ", text) is not None
          and "^Csockkit" not in text,
          f"serve on a terminal: after ^C the stop line starts a new line ({text!r})")


def singular():
    p, host, port = serve(["echo", "127.0.0.1:0"])
    with socket.create_connection(("127.0.0.1", port)) as c:
        c.sendall(b"x")
        c.recv(1)
    rc, err = stop(p)
    check(rc == 0 and "1 accepted, 0 rejected, 0 errors, 1 byte in, 1 byte out" in err,
          f"serve's stop line: 1 byte, not 1 bytes ({err.strip()!r})")


try:
    privileged_port()
    held_ports()
    port_in_connections()
    held_unix()
    refused()
    link_local()
    families()
    no_port()
    ctrl_c()
    singular()
finally:
    kill_started()
    shutil.rmtree(TMP, ignore_errors=True)
finish()
