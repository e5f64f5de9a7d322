"""Certificates for the TLS tests, made by `openssl` in a directory the test owns: a root CA, an
intermediate CA, a leaf for example.test (and 127.0.0.1, localhost) signed by the intermediate,
a self-signed leaf, an expired leaf, and a client certificate for mutual TLS (signed by the root).
Every key is P-256. Returns the paths in a dict."""
import os
import shutil
import subprocess
import tempfile


def _ssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def _write(d, name, text):
    with open(os.path.join(d, name), "w") as f:
        f.write(text)


def _key_csr(d, name, subj, san=None):
    args = ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subj]
    if san:
        args += ["-addext", f"subjectAltName={san}"]
    _ssl(*args, cwd=d)


def _sign(d, name, ca, ext):
    _write(d, f"{name}.ext", ext)
    _ssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
         "-CAcreateserial", "-days", "2", "-sha256", "-extfile", f"{name}.ext", "-out",
         f"{name}.pem", cwd=d)


def make(d):
    if not shutil.which("openssl"):
        return None
    leaf_ext = ("basicConstraints=critical,CA:FALSE\nkeyUsage=digitalSignature\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=DNS:example.test,DNS:localhost,IP:127.0.0.1\n")
    _ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", "root.key", "-out", "root.pem", "-days", "2", "-subj", "/CN=sockkit test root",
         cwd=d)
    _key_csr(d, "inter", "/CN=sockkit test intermediate")
    _sign(d, "inter", "root", "basicConstraints=critical,CA:TRUE,pathlen:0\n"
          "keyUsage=critical,keyCertSign,cRLSign\n")
    _key_csr(d, "leaf", "/CN=example.test")
    _sign(d, "leaf", "inter", leaf_ext)
    with open(os.path.join(d, "chain.pem"), "w") as f:  # leaf, then the intermediate
        for n in ("leaf.pem", "inter.pem"):
            f.write(open(os.path.join(d, n)).read())
    _key_csr(d, "client", "/CN=sockkit test client")
    _sign(d, "client", "root", "basicConstraints=critical,CA:FALSE\n"
          "extendedKeyUsage=clientAuth\n")
    _ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", "self.key", "-out", "self.pem", "-days", "2", "-subj", "/CN=example.test",
         "-addext", "subjectAltName=DNS:example.test,IP:127.0.0.1", cwd=d)
    # Expired: `openssl ca` takes explicit dates (req and x509 take only positive -days).
    _write(d, "index.txt", "")
    _write(d, "serial", "1000\n")
    _write(d, "ca.cnf", f"""[ ca ]
default_ca = sk
[ sk ]
database = {d}/index.txt
new_certs_dir = {d}
serial = {d}/serial
default_md = sha256
policy = any
copy_extensions = copy
[ any ]
commonName = supplied
""")
    _key_csr(d, "expired", "/CN=example.test", "DNS:example.test,IP:127.0.0.1")
    _ssl("ca", "-batch", "-config", "ca.cnf", "-cert", "root.pem", "-keyfile", "root.key",
         "-in", "expired.csr", "-out", "expired.pem", "-notext", "-startdate", "20200101000000Z",
         "-enddate", "20200102000000Z", cwd=d)
    names = ("root", "inter", "leaf", "chain", "client", "self", "expired")
    out = {n: os.path.join(d, f"{n}.pem") for n in names}
    for n in ("root", "inter", "leaf", "client", "self", "expired"):
        out[n + "_key"] = os.path.join(d, f"{n}.key")
    return out


def setup(prefix):
    """A TLS test's start: skipped (exit 77) without the openssl command or in a sockkit built
    without TLS; else a temporary directory of the test's own and the certificates made in it,
    (directory, make()'s dict)."""
    from sktest import BIN, skip
    if not shutil.which("openssl"):
        skip("no openssl command (Debian package openssl)")
    if b"TLS: yes" not in subprocess.run([BIN, "--version"], capture_output=True).stdout:
        skip("sockkit built without TLS")
    tmp = tempfile.mkdtemp(prefix=prefix)
    return tmp, make(tmp)
