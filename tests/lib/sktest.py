"""Helpers shared by the script tests (Python 3 standard library only)."""
import os
import subprocess
import sys

SRC = os.environ.get("SK_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("SK_BUILD", os.path.join(SRC, "build"))
HELPERS = os.environ.get("SK_HELPERS", os.path.join(BUILD, "tests", "helpers"))
BIN = os.environ.get("SK_BIN", os.path.join(BUILD, "sockkit"))

failures = []


def check(cond, what):
    """Record a failed expectation (and keep going, so one run shows every failure)."""
    if cond:
        print("ok   ", what)
    else:
        print("FAIL ", what)
        failures.append(what)


def finish():
    """Exit 1 if any check failed."""
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("all checks passed")
    sys.exit(0)


def skip(why):
    print("SKIP:", why)
    sys.exit(77)


def start(args, **kw):
    """Start a process with pipes; the caller reads its first line for the port."""
    return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def read_port(proc, timeout=10):
    """Read 'port N' (or 'ready') from a helper's first stdout line."""
    import select
    r, _, _ = select.select([proc.stdout], [], [], timeout)
    if not r:
        proc.kill()
        raise RuntimeError("helper did not report its port")
    line = proc.stdout.readline().strip()
    if line.startswith("port "):
        return int(line.split()[1])
    return line
