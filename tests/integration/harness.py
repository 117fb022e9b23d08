"""Shared machinery of the ortakd integration tests (docs/api.md): certificates, configuration, starting and
stopping a real ortakd on loopback, an HTTP client with client certificates or bearer tokens, JSON helpers and a
small pacs.008 generator. Python 3 standard library only.

Every test file is run as
    python3 tests/integration/test_X.py --ortakd PATH/TO/ortakd --ortak PATH/TO/ortak [--keep] [unittest options]
and exits 0 when every test passed, non-zero otherwise. --keep keeps the temporary directories (configuration,
data directory, certificates); ORTAK_IT_VERBOSE=1 prints a few observations (what /metrics counted...).
The servers get the ISO 20022 schemas from ../shared/data/iso20022/xsd beside the repository.
"""
import argparse
import datetime
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()

OPERATOR_BIC = "ORTKTRISXXX"
OPERATOR_NAME = "OTS Payment System Operator"

# Set by main(): the two binaries under test.
ORTAKD = None
ORTAK = None


class Fatal(Exception):
    """A problem of the test environment (a binary missing, the server not starting): not a test verdict."""


# --------------------------------------------------------------------------------------------------------------
# Command line



def free_port():
    """A TCP port on 127.0.0.1 free just now (for a server whose port must be known before it starts)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port

def main(module_name="__main__"):
    """Parse --ortakd and --ortak, hand the rest to unittest, exit 0 on success and 1 on any failure."""
    global ORTAKD, ORTAK
    ap = argparse.ArgumentParser(description="ortakd integration tests")
    ap.add_argument("--ortakd", required=True, help="the server binary")
    ap.add_argument("--ortak", required=True, help="the ortak command (CLI)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories (for debugging)")
    args, rest = ap.parse_known_args()
    for name, path in (("--ortakd", args.ortakd), ("--ortak", args.ortak)):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            print(f"{sys.argv[0]}: {name} {path}: not an executable file", file=sys.stderr)
            sys.exit(2)
    ORTAKD, ORTAK = os.path.abspath(args.ortakd), os.path.abspath(args.ortak)
    if args.keep:
        os.environ["ORTAK_IT_KEEP"] = "1"
    started = time.monotonic()
    prog = unittest.main(module=module_name, argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
    elapsed = time.monotonic() - started
    ok = prog.result.wasSuccessful()
    print(f"{os.path.basename(sys.argv[0])}: {'PASS' if ok else 'FAIL'} in {elapsed:.1f} s", file=sys.stderr)
    sys.exit(0 if ok else 1)


def tempdir(prefix):
    d = tempfile.mkdtemp(prefix=f"ortak-it-{prefix}-")
    return Path(d)


def remove_tempdir(d):
    if os.environ.get("ORTAK_IT_KEEP"):
        print(f"kept {d}", file=sys.stderr)
    else:
        shutil.rmtree(d, ignore_errors=True)


def run(cmd, check=True, input=None, timeout=60):
    p = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout)
    if check and p.returncode != 0:
        raise Fatal(f"{' '.join(map(str, cmd))}: exit {p.returncode}: {p.stderr.decode(errors='replace')}")
    return p


# --------------------------------------------------------------------------------------------------------------
# Certificates (openssl, ECDSA P-256)


def fingerprint(cert_path):
    """'sha256:<64 lowercase hex>' of the certificate's DER encoding, as [clients] lists it."""
    pem = Path(cert_path).read_text()
    return "sha256:" + hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


class Certs:
    """A test CA, a server certificate for 127.0.0.1 and client certificates on demand."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ca, self.ca_key = self._self_signed("ca", "ortak integration test CA", ca=True)
        self.server, self.server_key = self._signed("server", "127.0.0.1", server=True)
        self._clients = {}

    def _openssl(self, args):
        run(["openssl"] + args)

    def _self_signed(self, name, cn, ca=False):
        cert, key = self.dir / f"{name}.pem", self.dir / f"{name}-key.pem"
        ext = (["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
               if ca else ["-addext", "basicConstraints=critical,CA:FALSE",
                           "-addext", "extendedKeyUsage=clientAuth"])
        self._openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                       "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={cn}", "-days", "3"] + ext)
        return cert, key

    def _signed(self, name, cn, server=False):
        cert, key = self.dir / f"{name}.pem", self.dir / f"{name}-key.pem"
        ext = ["-addext", "basicConstraints=critical,CA:FALSE"]
        ext += (["-addext", "subjectAltName=IP:127.0.0.1", "-addext", "extendedKeyUsage=serverAuth"]
                if server else ["-addext", "extendedKeyUsage=clientAuth"])
        self._openssl(["req", "-x509", "-CA", str(self.ca), "-CAkey", str(self.ca_key), "-newkey", "ec",
                       "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(cert),
                       "-subj", f"/CN={cn}", "-days", "3"] + ext)
        return cert, key

    def client(self, name, cn=None):
        """(cert, key) of the client certificate `name` (signed by the CA; subject CN `cn`, default `name`)."""
        if name not in self._clients:
            self._clients[name] = self._signed("client-" + re.sub(r"[^A-Za-z0-9_.-]", "_", name), cn or name)
        return self._clients[name]

    def foreign(self, name, cn=None):
        """(cert, key) of a self-signed client certificate: it does not chain to the CA."""
        key = "foreign:" + name
        if key not in self._clients:
            self._clients[key] = self._self_signed("foreign-" + name, cn or name)
        return self._clients[key]


# --------------------------------------------------------------------------------------------------------------
# Configuration


def engine_config_text(overrides=None):
    """`ortak config` with `overrides` ({section: {key: value}}) applied: deterministic test engines turn off the
    periodic gridlock runs and the timed net-window closes, which would otherwise fire when wall-clock time
    crosses a minute or an hour boundary in the middle of a test."""
    text = run([ORTAK, "config"]).stdout.decode()
    ov = {"settlement": {"gridlock_interval_ms": "0"}}
    for sec in re.findall(r"^\[(currency [A-Z]{3})\]", text, re.M):
        ov[sec] = {"net_window_ms": "0"}
    for sec, kv in (overrides or {}).items():
        ov.setdefault(sec, {}).update(kv)
    out, section = [], None
    for line in text.splitlines():
        m = re.match(r"^\[(.+)\]\s*$", line)
        if m:
            section = m.group(1)
        else:
            m = re.match(r"^([a-z_]+)\s*=", line)
            if m and section in ov and m.group(1) in ov[section]:
                line = f"{m.group(1)} = {ov[section].pop(m.group(1))}"
        out.append(line)
    # Keys not present in the default text are appended to their section at the end of the file.
    for sec, kv in ov.items():
        if kv:
            out.append(f"[{sec}]")
            out += [f"{k} = {v}" for k, v in kv.items()]
    return "\n".join(out) + "\n"


def currencies():
    """{currency: agent BIC} read from `ortak config`."""
    text = run([ORTAK, "config"]).stdout.decode()
    res, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"^\[currency ([A-Z]{3})\]", line)
        if m:
            cur = m.group(1)
            continue
        m = re.match(r"^agent\s*=\s*(\S+)", line)
        if m and cur:
            res[cur] = m.group(1)
    if not res:
        raise Fatal("`ortak config` lists no currency")
    return res


def ini(sections):
    """INI text from [(section, [(key, value), ...]), ...]."""
    out = []
    for sec, kvs in sections:
        out.append(f"[{sec}]")
        out += [f"{k} = {v}" for k, v in kvs]
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------------------------
# HTTP


class Response:
    def __init__(self, method, path, status, reason, headers, body):
        self.method, self.path, self.status, self.reason = method, path, status, reason
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body
        self._json = None

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        if self._json is None:
            try:
                self._json = json.loads(self.body)
            except ValueError as e:
                raise AssertionError(f"{self}: the body is not JSON ({e})") from None
        return self._json

    @property
    def error(self):
        """The `error` object of an error body ({} when there is none)."""
        try:
            j = json.loads(self.body)
        except ValueError:
            return {}
        return j.get("error", {}) if isinstance(j, dict) and isinstance(j.get("error"), dict) else {}

    @property
    def code(self):
        return self.error.get("code")

    @property
    def content_type(self):
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def __str__(self):
        body = self.text
        if len(body) > 600:
            body = body[:600] + "..."
        return f"{self.method} {self.path} -> {self.status} {body}"


RESPONSE_HOOKS = []  # callables seeing every Response a Client receives (a test's tally of refusals)


class Client:
    """One participant's (or nobody's) HTTP client: a TLS client certificate, a bearer token, both or neither.
    Each request uses a new connection unless keep_alive is set."""

    def __init__(self, host, port, tls=True, cafile=None, cert=None, token=None, timeout=15, name=None):
        self.host, self.port, self.tls, self.token, self.timeout = host, port, tls, token, timeout
        self.name = name or (Path(cert[0]).stem if cert else "anonymous")
        self.ctx = None
        if tls:
            self.ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(cafile))
            if cert:
                self.ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        self._conn = None

    def connection(self, timeout=None):
        t = timeout or self.timeout
        if self.tls:
            return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=t)
        return http.client.HTTPConnection(self.host, self.port, timeout=t)

    def request(self, method, path, body=None, headers=None, ctype=None, key=None, accept=None, timeout=None,
                conn=None):
        """Send one request. `body`: dict or list (JSON), str or bytes (sent as is). `ctype` defaults to
        application/json when there is a body; pass ctype="" to send none. `key`: an Idempotency-Key."""
        h = {}
        if body is not None:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
            elif isinstance(body, str):
                body = body.encode()
            if ctype is None:
                ctype = "application/json"
        if ctype:
            h["Content-Type"] = ctype
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if key is not None:
            h["Idempotency-Key"] = key
        if accept:
            h["Accept"] = accept
        h.update(headers or {})
        own = conn is None
        c = conn or self.connection(timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            resp = Response(method, path, r.status, r.reason, r.getheaders(), data)
            for hook in RESPONSE_HOOKS:
                hook(resp)
            return resp
        finally:
            if own:
                c.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)  # no body: the bodiless commands (close, cancel...)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body if body is not None else {}, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body if body is not None else {}, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def request_large(self, method, path, body, ctype="application/json"):
        """Send a body the server may refuse before reading it all (413 from the Content-Length): a failure to
        send the rest of the body is no error; the answer is read if there is one. Returns the Response, or None
        when the server closed the connection without an answer the client could read."""
        body = body.encode() if isinstance(body, str) else body
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n")
        if self.token:
            head += f"Authorization: Bearer {self.token}\r\n"
        s = self.raw_socket(timeout=self.timeout)
        try:
            s.sendall(head.encode() + b"\r\n")
            try:
                s.sendall(body)
            except OSError:
                pass
            r = http.client.HTTPResponse(s, method=method)
            try:
                r.begin()
                data = r.read()
            except (OSError, http.client.HTTPException):
                return None
            resp = Response(method, path, r.status, r.reason, r.getheaders(), data)
            for hook in RESPONSE_HOOKS:
                hook(resp)
            return resp
        finally:
            s.close()

    def raw_socket(self, handshake=True, timeout=10):
        """A connected socket (TLS-wrapped when the server speaks TLS and `handshake` is set)."""
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        if self.tls and handshake:
            s = self.ctx.wrap_socket(s, server_hostname=self.host)
        return s


# --------------------------------------------------------------------------------------------------------------
# The server


class Server:
    """One ortakd: its configuration file, data directory, process and stderr."""

    def __init__(self, workdir, certs=None, clients=None, tokens=None, server=None, tls=None, limits=None,
                 journal=None, iso=None, engine_overrides=None, extra=""):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.certs = certs
        self.config = self.workdir / "ortakd.ini"
        self.data_dir = self.workdir / "data"
        self.engine_config = self.workdir / "engine.ini"
        self.engine_config.write_text(engine_config_text(engine_overrides))
        self.server_opts = {"listen": "127.0.0.1:0", "data_dir": str(self.data_dir),
                            "engine_config": str(self.engine_config), "operator_bic": OPERATOR_BIC,
                            "operator_name": OPERATOR_NAME, "demo": "no", "tls": "yes" if certs else "no",
                            "connections_max": "64", "connection_timeout_s": "10"}
        self.server_opts.update(server or {})
        self.tls_opts = {}
        if certs and self.server_opts["tls"] == "yes":
            self.tls_opts = {"cert": str(certs.server), "key": str(certs.server_key), "client_ca": str(certs.ca),
                             "client_bic_from_subject": "no"}
        if self.tls_opts:
            self.tls_opts.update(tls or {})
        self.clients = dict(clients or {})  # fingerprint -> BIC
        self.tokens = dict(tokens or {})  # BIC -> token
        self.limits = {"body_max": "262144", "idempotency_keys": "100000", "outbox_max": "100000"}
        self.limits.update(limits or {})
        self.journal = {"group_delay_us": "0", "snapshot_every": "10000", "snapshots_keep": "3"}
        self.journal.update(journal or {})
        xsd = SHARED_DATA / "iso20022" / "xsd"
        if not xsd.is_dir():
            raise Fatal(f"the ISO 20022 schemas are missing: {xsd} (the reference data beside the repository)")
        self.iso = {"schema_dir": str(xsd)}
        self.iso.update(iso or {})
        self.extra = extra
        self.proc = None
        self.url = None
        self.port = None
        self._stderr = []
        self._stderr_lock = threading.Lock()
        self._listening = threading.Event()

    @property
    def tls(self):
        return self.server_opts.get("tls", "yes") == "yes"

    def write_config(self):
        sections = [("server", list(self.server_opts.items()))]
        if self.tls_opts:
            sections.append(("tls", list(self.tls_opts.items())))
        if self.clients:
            sections.append(("clients", list(self.clients.items())))
        if self.tokens:
            sections.append(("tokens", list(self.tokens.items())))
        sections += [("limits", list(self.limits.items())), ("journal", list(self.journal.items()))]
        if self.iso:
            sections.append(("iso20022", list(self.iso.items())))
        self.config.write_text(ini(sections) + self.extra)

    def check_config(self):
        """(exit code, stderr) of `ortakd --config FILE --check-config`."""
        self.write_config()
        p = run([ORTAKD, "--config", str(self.config), "--check-config"], check=False, timeout=30)
        return p.returncode, p.stderr.decode(errors="replace")

    def _read_stderr(self, stream):
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            with self._stderr_lock:
                self._stderr.append(line)
            m = re.search(r"ortakd: listening on (https?)://([0-9.]+):(\d+)", line)
            if m and not self._listening.is_set():
                self.url, self.port = m.group(0).split(" on ")[1], int(m.group(3))
                self._listening.set()
        stream.close()

    def stderr(self):
        with self._stderr_lock:
            return "\n".join(self._stderr)

    def start(self, timeout=30):
        self.write_config()
        self._listening.clear()
        self.url = self.port = None
        with self._stderr_lock:
            self._stderr.append(f"--- start {time.strftime('%H:%M:%S')}")
        self.proc = subprocess.Popen([ORTAKD, "--config", str(self.config)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=str(self.workdir))
        self._reader = threading.Thread(target=self._read_stderr, args=(self.proc.stderr,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while not self._listening.wait(0.05):
            if self.proc.poll() is not None:
                self._reader.join(2)
                raise Fatal(f"ortakd exited with {self.proc.returncode} before listening:\n{self.stderr()}")
            if time.monotonic() > deadline:
                self.kill()
                raise Fatal(f"ortakd did not print 'listening on' within {timeout} s:\n{self.stderr()}")
        scheme = "https" if self.tls else "http"
        if not self.url.startswith(scheme + "://"):
            raise Fatal(f"ortakd listens on {self.url}, expected {scheme}://")
        anon = self.anonymous()
        while True:
            try:
                r = anon.get("/readyz", timeout=5)
                if r.status == 200:
                    return self
            except (OSError, http.client.HTTPException):
                pass
            if self.proc.poll() is not None:
                raise Fatal(f"ortakd exited with {self.proc.returncode} before ready:\n{self.stderr()}")
            if time.monotonic() > deadline:
                self.kill()
                raise Fatal(f"ortakd did not answer GET /readyz 200 within {timeout} s:\n{self.stderr()}")
            time.sleep(0.05)

    def stop(self, timeout=30):
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"ortakd did not exit within {timeout} s of SIGTERM:\n{self.stderr()}")
        self._reader.join(2)
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
            self._reader.join(2)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def client(self, cert=None, token=None, **kw):
        return Client("127.0.0.1", self.port, tls=self.tls, cafile=self.certs.ca if self.certs else None,
                      cert=cert, token=token, **kw)

    def anonymous(self):
        return self.client()


# --------------------------------------------------------------------------------------------------------------
# Assertions and JSON helpers

HEX32 = re.compile(r"^[0-9a-f]{32}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
AMOUNT_RE = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


def _tuple(x):
    return tuple(x) if isinstance(x, (tuple, list, set, frozenset)) else (x,)


def expect(resp, status, code=None, field=None, reason=None, what=""):
    """Assert the status (one or several), and for errors the error body: its code, field and ISO reason."""
    prefix = f"{what}: " if what else ""
    if resp.status not in _tuple(status):
        raise AssertionError(f"{prefix}expected {'/'.join(map(str, _tuple(status)))}"
                             f"{' ' + '/'.join(_tuple(code)) if code else ''}, got {resp}")
    if (resp.status >= 400 and resp.content_type != "application/xml") or code:
        err = resp.error
        if not err or not isinstance(err.get("code"), str) or not isinstance(err.get("message"), str):
            raise AssertionError(f"{prefix}error body is not {{\"error\": {{\"code\", \"message\", ...}}}}: {resp}")
    if code and resp.code not in _tuple(code):
        raise AssertionError(f"{prefix}expected error code {'/'.join(_tuple(code))}, got {resp}")
    if field and resp.error.get("field") not in _tuple(field):
        raise AssertionError(f"{prefix}expected the error to name field {field!r}, got {resp}")
    if reason and resp.error.get("reason") not in _tuple(reason):
        raise AssertionError(f"{prefix}expected ISO reason {reason}, got {resp}")
    return resp


def expect_ok(resp, status=(200, 201), what=""):
    return expect(resp, status, what=what).json() if resp.body else None


def refused(resp):
    return resp.status in (401, 403)


def amount(value, what="amount"):
    """A decimal string of the API as a Decimal (a JSON number is refused: money is never a float)."""
    if not isinstance(value, str) or not AMOUNT_RE.match(value):
        raise AssertionError(f"{what}: {value!r} is not a decimal string")
    return Decimal(value)


def assert_amount(value, expected, what="amount"):
    got = amount(value, what)
    if got != Decimal(expected):
        raise AssertionError(f"{what}: expected {expected}, got {value}")


def items(j, key):
    """The list of a collection answer: a bare list or the list under `key`."""
    if isinstance(j, list):
        return j
    if isinstance(j, dict) and isinstance(j.get(key), list):
        return j[key]
    raise AssertionError(f"expected a list or an object with the list {key!r}, got {json.dumps(j)[:400]}")


def contains(obj, value):
    """Whether `value` appears anywhere in the JSON value `obj` (as a value or a key)."""
    if obj == value:
        return True
    if isinstance(obj, dict):
        return any(k == value or contains(v, value) for k, v in obj.items())
    if isinstance(obj, list):
        return any(contains(v, value) for v in obj)
    return False


def find_key(obj, pred):
    """The first (key, value) anywhere in `obj` whose key satisfies `pred`."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if pred(k):
                return k, v
        for v in obj.values():
            r = find_key(v, pred)
            if r:
                return r
    elif isinstance(obj, list):
        for v in obj:
            r = find_key(v, pred)
            if r:
                return r
    return None


def payment_id_of_uetr(uetr):
    """docs/iso20022.md: the payment id is the UETR with its first and thirteenth hex digits swapped."""
    h = list(uetr.replace("-", ""))
    h[0], h[12] = h[12], h[0]
    return "".join(h)


def parse_metrics(text):
    """Prometheus text format -> {'name{labels}': value}."""
    res = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)(?:\s+\d+)?$", line)
        if not m:
            raise AssertionError(f"/metrics: a line that is not Prometheus text format: {line!r}")
        try:
            res[m.group(1)] = float(m.group(2))
        except ValueError:
            raise AssertionError(f"/metrics: a value that is not a number: {line!r}") from None
    return res


def metrics_increase(before, after, needle):
    """The largest increase between two /metrics snapshots among series whose name or labels contain
    `needle`, and the name of that series."""
    best, name = 0.0, None
    for k, v in after.items():
        if needle in k:
            d = v - before.get(k, 0.0)
            if d > best:
                best, name = d, k
    return best, name


def utc(t=None, delta_s=0):
    t = (t or datetime.datetime.now(datetime.timezone.utc)) + datetime.timedelta(seconds=delta_s)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def wait_until(pred, timeout=5.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


# --------------------------------------------------------------------------------------------------------------
# ISO 20022


def _esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def pacs008(sender, receiver, amount, ccy="KZT", uetr=None, msg_id=None, fr=None, instg=None, nb_of_txs=None,
            end_to_end="E2E-1", clr_chanl=None, priority=None, extra_tx=0):
    """A schema-valid pacs.008.001.08 in an Envelope with its head.001.001.02 header. `fr` (header sender) and
    `instg` (instructing agent) default to `sender`; `nb_of_txs` may be set wrong on purpose (GRP-2);
    `extra_tx` adds that many further transactions (each with its own UETR)."""
    msg_id = msg_id or "M" + uuid.uuid4().hex[:30]
    uetrs = [uetr or str(uuid.uuid4())] + [str(uuid.uuid4()) for _ in range(extra_tx)]
    fr, instg = fr or sender, instg or sender
    now = datetime.datetime.now(datetime.timezone.utc)
    cre = now.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    day = now.strftime("%Y-%m-%d")
    ptp = ""
    if clr_chanl or priority:
        ptp = "<PmtTpInf>" + (f"<InstrPrty>{priority}</InstrPrty>" if priority else "") + \
              (f"<ClrChanl>{clr_chanl}</ClrChanl>" if clr_chanl else "") + "</PmtTpInf>"
    txs = ""
    for i, u in enumerate(uetrs):
        txs += f"""
      <CdtTrfTxInf>
        <PmtId><InstrId>I{i}-{_esc(msg_id[:30])}</InstrId><EndToEndId>{_esc(end_to_end)}</EndToEndId>\
<UETR>{u}</UETR></PmtId>
        {ptp}
        <IntrBkSttlmAmt Ccy="{ccy}">{amount}</IntrBkSttlmAmt>
        <IntrBkSttlmDt>{day}</IntrBkSttlmDt>
        <ChrgBr>SHAR</ChrgBr>
        <InstgAgt><FinInstnId><BICFI>{instg}</BICFI></FinInstnId></InstgAgt>
        <InstdAgt><FinInstnId><BICFI>{receiver}</BICFI></FinInstnId></InstdAgt>
        <Dbtr><Nm>Debtor Ltd</Nm></Dbtr>
        <DbtrAgt><FinInstnId><BICFI>{instg}</BICFI></FinInstnId></DbtrAgt>
        <CdtrAgt><FinInstnId><BICFI>{receiver}</BICFI></FinInstnId></CdtrAgt>
        <Cdtr><Nm>Creditor LLP</Nm></Cdtr>
      </CdtTrfTxInf>"""
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<Envelope>
  <AppHdr xmlns="urn:iso:std:iso:20022:tech:xsd:head.001.001.02">
    <Fr><FIId><FinInstnId><BICFI>{fr}</BICFI></FinInstnId></FIId></Fr>
    <To><FIId><FinInstnId><BICFI>{OPERATOR_BIC}</BICFI></FinInstnId></FIId></To>
    <BizMsgIdr>{_esc(msg_id)}</BizMsgIdr>
    <MsgDefIdr>pacs.008.001.08</MsgDefIdr>
    <CreDt>{cre}</CreDt>
  </AppHdr>
  <Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08">
    <FIToFICstmrCdtTrf>
      <GrpHdr>
        <MsgId>{_esc(msg_id)}</MsgId>
        <CreDtTm>{cre}</CreDtTm>
        <NbOfTxs>{nb_of_txs if nb_of_txs is not None else len(uetrs)}</NbOfTxs>
        <SttlmInf><SttlmMtd>CLRG</SttlmMtd></SttlmInf>
      </GrpHdr>{txs}
    </FIToFICstmrCdtTrf>
  </Document>
</Envelope>
"""
    return xml, msg_id, uetrs[0] if not extra_tx else uetrs


def iso_validate(xml, workdir):
    """(valid, output) of `ortak iso validate` on one message (bytes or str)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    f = workdir / f"msg-{uuid.uuid4().hex[:8]}.xml"
    f.write_bytes(xml.encode() if isinstance(xml, str) else xml)
    p = run([ORTAK, "iso", "validate", str(f)], check=False)
    return p.returncode == 0, (p.stdout + p.stderr).decode(errors="replace").strip()


def journal_verify(data_dir, engine_config=None):
    """(exit code, output) of `ortak journal verify` on the server's journal: the data directory itself or the
    first subdirectory of it that holds a journal (the layout inside data_dir is the server's)."""
    d = Path(data_dir)
    cands = [d / "journal", d] + sorted(p for p in d.rglob("*") if p.is_dir() and p.name != "journal")
    cands = [p for p in cands if p.is_dir()]
    last = None
    for d in cands:
        cmd = [ORTAK, "journal", "verify", str(d)]
        if engine_config:
            cmd += ["--config", str(engine_config)]
        p = run(cmd, check=False)
        last = (p.returncode, (p.stdout + p.stderr).decode(errors="replace").strip())
        if p.returncode not in (3, 4):  # 3: no journal here; 4: not ortak's files
            return last
    return last


# --------------------------------------------------------------------------------------------------------------
# A world: a server, its participants' certificates and clients, and shortcuts for the operator's and the central
# banks' work.

KZ_BANKS = [f"K{n:03d}KZKA" for n in range(1, 49)]
AZ_BANKS = [f"A{n:03d}AZ2X" for n in range(1, 9)]
FX_PROVIDERS = [f"F{n:03d}KZKA" for n in range(1, 4)]


class World:
    def __init__(self, name, server=None, limits=None, tls=None, tokens=False, engine_overrides=None,
                 kz_banks=KZ_BANKS, az_banks=AZ_BANKS, fx=FX_PROVIDERS, extra_identities=(), foreign=()):
        """`foreign`: BICs listed in [clients] with the fingerprint of a self-signed certificate (CN = the BIC),
        which does not chain to the client CA (self.foreign_cert[bic])."""
        self.dir = tempdir(name)
        self.agents = currencies()  # {currency: central bank BIC}
        for need in ("KZT", "AZN"):
            if need not in self.agents:
                raise Fatal(f"the engine configuration has no {need}: the tests need KZT and AZN")
        self.certs = Certs(self.dir / "certs")
        self.pool = {"KZ": list(kz_banks), "AZ": list(az_banks), "FX": list(fx)}
        bics = [OPERATOR_BIC] + sorted(set(self.agents.values())) + list(kz_banks) + list(az_banks) + list(fx)
        bics += list(extra_identities)
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(4) as ex:
            pairs = list(ex.map(lambda b: (b, self.certs.client(b)), bics + ["unknown"]))
        self.cert = dict(pairs)
        clients = {fingerprint(self.cert[b][0]): b for b in bics}
        self.foreign_cert = {b: self.certs.foreign(b, cn=b) for b in foreign}
        clients.update({fingerprint(c[0]): b for b, c in self.foreign_cert.items()})
        self.tokens = {b: f"tok-{b}-{uuid.uuid4().hex}" for b in bics} if tokens else {}
        self.server = Server(self.dir / "server", certs=self.certs, clients=clients, tokens=self.tokens,
                             server=server, limits=limits, tls=tls, engine_overrides=engine_overrides)
        self._clients = {}
        self.accounts = {}  # (bic, currency, kind) -> id

    # -- lifecycle
    def start(self):
        self.server.start()
        self._clients = {}
        return self

    def close(self):
        try:
            if self.server.alive():
                rc = self.server.stop()
                if rc != 0:
                    print(f"warning: ortakd exited with {rc} on SIGTERM", file=sys.stderr)
        finally:
            remove_tempdir(self.dir)

    # -- clients
    def as_(self, bic):
        """The client of participant `bic` (its certificate)."""
        if bic not in self._clients:
            self._clients[bic] = self.server.client(cert=self.cert[bic], name=bic)
        return self._clients[bic]

    @property
    def op(self):
        return self.as_(OPERATOR_BIC)

    def cb(self, ccy="KZT"):
        return self.as_(self.agents[ccy])

    def unknown(self):
        return self.server.client(cert=self.cert["unknown"], name="unknown")

    def anonymous(self):
        return self.server.anonymous()

    # -- operator's and central banks' work
    def admit(self, bic, role="bank", name=None, country=None):
        body = {"bic": bic, "name": name or f"Test {role} {bic}", "role": role}
        if country:
            body["country"] = country
        return expect(self.op.post("/v1/participants", body), 201, what=f"admit {bic}").json()

    def open_account(self, bic, ccy, kind="settlement"):
        r = expect(self.op.post("/v1/accounts", {"bic": bic, "currency": ccy, "kind": kind}), 201,
                   what=f"open {kind} account {bic} {ccy}")
        aid = r.json().get("id")
        if not isinstance(aid, str) or not HEX32.match(aid):
            raise AssertionError(f"POST /v1/accounts: the answer has no 32-hex id: {r}")
        self.accounts[(bic, ccy, kind)] = aid
        return aid

    def account_id(self, bic, ccy="KZT", kind="settlement"):
        k = (bic, ccy, kind)
        if k not in self.accounts:
            r = expect(self.op.get(f"/v1/accounts?bic={bic}&currency={ccy}"), 200, what="list accounts")
            for a in items(r.json(), "accounts"):
                if a.get("kind") == kind and a.get("currency") == ccy:
                    self.accounts[k] = a["id"]
            if k not in self.accounts:
                raise AssertionError(f"no {kind} account of {bic} in {ccy}: {r}")
        return self.accounts[k]

    def inject(self, aid, amt, ccy="KZT"):
        return expect(self.cb(ccy).post("/v1/liquidity/inject", {"account": aid, "amount": amt}), (200, 201),
                      what=f"inject {amt} {ccy}")

    def account(self, aid, who=None):
        return expect((who or self.op).get(f"/v1/accounts/{aid}"), 200, what=f"GET account {aid}").json()

    def balance(self, aid):
        return amount(self.account(aid)["balance"], "balance")

    def new_bank(self, country="KZ", role="bank", fund=None, ccys=None):
        """Take a fresh participant from the pool (KZ or AZ bank, or FX provider), admit it, open its settlement
        accounts (default: the currency of its country) and fund them ({currency: amount})."""
        pool = "FX" if role == "fx_provider" else country
        if not self.pool[pool]:
            raise Fatal(f"the pool of {pool} identities is exhausted: add more to the World")
        bic = self.pool[pool].pop(0)
        self.admit(bic, role)
        ccys = ccys or (["KZT"] if country == "KZ" else ["AZN"])
        for c in ccys:
            self.open_account(bic, c)
        for c, a in (fund or {}).items():
            self.inject(self.account_id(bic, c), a, c)
        return bic

    def pay(self, payer, payee, amt, ccy="KZT", status=201, key=None, **extra):
        body = {"creditor_agent": payee, "currency": ccy, "amount": amt}
        body.update(extra)
        r = self.as_(payer).post("/v1/payments", body, key=key)
        return expect(r, status, what=f"payment {payer} -> {payee} {amt} {ccy}").json()


class WorldTest(unittest.TestCase):
    """A test case class sharing one started World (setUpClass) among its tests."""
    world_name = "world"
    world_kw = {}
    world = None

    @classmethod
    def setUpClass(cls):
        cls.world = World(cls.world_name, **cls.world_kw)
        try:
            cls.world.start()
        except BaseException:
            cls.world.close()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.world:
            cls.world.close()

    def soft(self, what):
        """A check whose failure is recorded without ending the test (a subTest): for the places where a server
        may deviate from docs/api.md while the rest of the scenario is still worth running."""
        return self.subTest(what)

    def setUp(self):
        if self.world and not self.world.server.alive():
            self.fail(f"ortakd is not running (exit {self.world.server.proc.returncode}):\n"
                      f"{self.world.server.stderr()[-3000:]}")
