"""The operator's commands of `ortak` (docs/cli.md): `ortak init` makes a data directory, `ortak serve` runs ortakd
on it, and `ortak pay`, `quote`, `accounts` and `statement` talk to that server over HTTP. Run as
    python3 tests/integration/test_cli.py --ortakd PATH/TO/ortakd --ortak PATH/TO/ortak
`ortak serve` finds ortakd beside the ortak executable (both in the build directory), else on PATH: the directory
of --ortakd is put first on PATH so that either way the ortakd under test runs.
"""
import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
import unittest
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

OPERATOR = h.OPERATOR_BIC
BANK = "K001KZKA"       # a bank with a token added to the generated ortakd.ini before the server starts
AZ_BANK = "A001AZ2X"    # a payee in AZN (no token needed)
FX = "F001KZKA"         # an FX provider, with a token too


def tokens_of(ini_text):
    """{BIC: token} of the [tokens] section."""
    out, section = {}, None
    for line in ini_text.splitlines():
        m = re.match(r"^\[(.+)\]\s*$", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"^([A-Z0-9]+)\s*=\s*(\S+)\s*$", line)
        if m and section == "tokens":
            out[m.group(1)] = m.group(2)
    return out


def ortak(*args, check=None, timeout=60):
    """(exit code, stdout, stderr) of `ortak ARGS`; with check, asserts the exit code."""
    p = subprocess.run([h.ORTAK] + [str(a) for a in args], capture_output=True, timeout=timeout)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    if check is not None and p.returncode != check:
        raise AssertionError(f"ortak {' '.join(map(str, args))}: exit {p.returncode}, expected {check}\n"
                             f"stdout: {out}\nstderr: {err}")
    return p.returncode, out, err


class InitTest(unittest.TestCase):
    def setUp(self):
        self.tmp = h.tempdir("cli-init")

    def tearDown(self):
        h.remove_tempdir(self.tmp)

    def test_init_files_modes_refusal(self):
        d = self.tmp / "data"
        _, out, _ = ortak("init", "--dir", d, check=0)
        self.assertIn("ortak serve --dir", out)
        for name in ("engine.ini", "ortakd.ini", "README.txt"):
            self.assertTrue((d / name).is_file(), name)
        self.assertEqual(stat.S_IMODE((d / "ortakd.ini").stat().st_mode), 0o600)
        self.assertEqual(stat.S_IMODE((d / "engine.ini").stat().st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(d.stat().st_mode) & 0o077, 0, "the directory is open to others")
        self.assertEqual((d / "engine.ini").read_text(), h.run([h.ORTAK, "config"]).stdout.decode())
        text = (d / "ortakd.ini").read_text()
        self.assertRegex(text, r"(?m)^listen = 127\.0\.0\.1:8080$")
        self.assertRegex(text, r"(?m)^demo = yes$")
        self.assertRegex(text, r"(?m)^tls = no$")
        self.assertIn(f"data_dir = {d.resolve()}/state\n", text)
        self.assertIn(f"engine_config = {d.resolve()}/engine.ini\n", text)
        toks = tokens_of(text)
        want = {OPERATOR} | set(h.currencies().values())
        self.assertEqual(set(toks), want)
        for t in toks.values():
            self.assertRegex(t, r"^[A-Za-z0-9]{32}$")
        self.assertEqual(len(set(toks.values())), len(toks), "tokens repeat")
        # ortakd accepts what init wrote.
        p = h.run([h.ORTAKD, "--config", str(d / "ortakd.ini"), "--check-config"], check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        # An existing directory is refused without --force and left as it was; with --force, new tokens.
        rc, _, err = ortak("init", "--dir", d)
        self.assertEqual(rc, 73, err)
        self.assertIn("--force", err)
        self.assertEqual((d / "ortakd.ini").read_text(), text)
        ortak("init", "--dir", d, "--force", check=0)
        self.assertNotEqual(tokens_of((d / "ortakd.ini").read_text()), toks)
        self.assertEqual(stat.S_IMODE((d / "ortakd.ini").stat().st_mode), 0o600)

    def test_init_default_dir_and_usage(self):
        p = subprocess.run([h.ORTAK, "init"], capture_output=True, cwd=self.tmp, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue((self.tmp / "ortak-data" / "ortakd.ini").is_file())
        self.assertEqual(ortak("init", "--bogus")[0], 2)
        self.assertEqual(ortak("init", "--dir")[0], 2)
        for cmd in ("init", "serve", "pay", "quote", "accounts", "statement"):
            rc, out, _ = ortak(cmd, "--help")
            self.assertEqual(rc, 0, cmd)
            self.assertIn(f"usage: ortak {cmd}", out)

    def test_serve_without_init(self):
        rc, _, err = ortak("serve", "--dir", self.tmp / "nothing")
        self.assertEqual(rc, 2)
        self.assertIn("ortak init", err)

    def test_client_without_server(self):
        d = self.tmp / "data"
        ortak("init", "--dir", d, check=0)
        text = (d / "ortakd.ini").read_text()
        (d / "ortakd.ini").write_text(re.sub(r"(?m)^listen = .*$", f"listen = 127.0.0.1:{h.free_port()}", text))
        rc, _, err = ortak("accounts", "--dir", d)
        self.assertEqual(rc, 69, err)
        self.assertIn("ortak serve --dir", err)
        rc, _, err = ortak("accounts", "--dir", self.tmp / "none")
        self.assertEqual(rc, 2, err)
        rc, _, err = ortak("accounts", "--dir", d, "--as", "NOSUCHBICXX")
        self.assertEqual(rc, 2, err)
        self.assertIn("no token", err)
        rc, _, err = ortak("statement", "--dir", d, "not-an-id")
        self.assertEqual(rc, 2, err)


class ServeTest(unittest.TestCase):
    """One server started with `ortak serve` on a directory of `ortak init`, shared by the tests."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = h.tempdir("cli-serve")
        cls.dir = cls.tmp / "data"
        ortak("init", "--dir", cls.dir, check=0)
        ini = cls.dir / "ortakd.ini"
        cls.port = h.free_port()
        text = re.sub(r"(?m)^listen = .*$", f"listen = 127.0.0.1:{cls.port}", ini.read_text())
        cls.extra = {BANK: uuid.uuid4().hex, FX: uuid.uuid4().hex}
        text += "".join(f"{b} = {t}\n" for b, t in cls.extra.items())
        ini.write_text(text)
        cls.tokens = tokens_of(text)
        cls.stderr_lines = []
        env = dict(os.environ, PATH=os.path.dirname(h.ORTAKD) + os.pathsep + os.environ.get("PATH", ""))
        cls.proc = subprocess.Popen([h.ORTAK, "serve", "--dir", str(cls.dir)], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        listening = threading.Event()

        def reader():
            for raw in iter(cls.proc.stderr.readline, b""):
                line = raw.decode(errors="replace").rstrip("\n")
                cls.stderr_lines.append(line)
                if "ortakd: listening on http://" in line:
                    listening.set()
        threading.Thread(target=reader, daemon=True).start()
        deadline = time.monotonic() + 30
        while not listening.wait(0.05):
            if cls.proc.poll() is not None or time.monotonic() > deadline:
                cls._stop()
                raise h.Fatal("ortak serve did not start ortakd:\n" + "\n".join(cls.stderr_lines))
        cls.setup_world()

    @classmethod
    def _stop(cls):
        if cls.proc.poll() is None:
            cls.proc.send_signal(signal.SIGTERM)
            try:
                cls.proc.wait(30)
            except subprocess.TimeoutExpired:
                cls.proc.kill()
                cls.proc.wait(10)

    @classmethod
    def tearDownClass(cls):
        cls._stop()
        h.remove_tempdir(cls.tmp)

    @classmethod
    def client(cls, bic):
        return h.Client("127.0.0.1", cls.port, tls=False, token=cls.tokens[bic], name=bic)

    @classmethod
    def setup_world(cls):
        """The operator admits a bank, an AZN bank and an FX provider and opens their accounts; the central banks
        fund them; the FX provider publishes an AZN/KZT rate."""
        op, agents = cls.client(OPERATOR), h.currencies()
        for bic, role, ccys in ((BANK, "bank", ["KZT"]), (AZ_BANK, "bank", ["AZN"]), (FX, "fx_provider",
                                                                                        ["KZT", "AZN"])):
            h.expect(op.post("/v1/participants", {"bic": bic, "name": f"Test {bic}", "role": role}), 201)
            for c in ccys:
                h.expect(op.post("/v1/accounts", {"bic": bic, "currency": c, "kind": "settlement"}), 201)
        cls.account = {}
        for a in h.expect(op.get("/v1/accounts"), 200).json()["accounts"]:
            if a["kind"] == "settlement":
                cls.account[(a["bic"], a["currency"])] = a["id"]
        for bic, ccy, amt in ((BANK, "KZT", "50000.00"), (FX, "AZN", "10000.00")):
            cb = cls.client(agents[ccy])
            h.expect(cb.post("/v1/liquidity/inject", {"account": cls.account[(bic, ccy)], "amount": amt}),
                     (200, 201))
        rate = {"base": "AZN", "quote": "KZT", "bid": "299.5", "ask": "300.5", "max_amount": "100000.00"}
        h.expect(cls.client(FX).put("/v1/fx/rates", rate), (200, 201))

    def setUp(self):
        if self.proc.poll() is not None:
            self.fail("the server stopped:\n" + "\n".join(self.stderr_lines[-50:]))

    def test_1_serve_runs_ortakd(self):
        exe = os.readlink(f"/proc/{self.proc.pid}/exe")
        self.assertEqual(os.path.basename(exe), "ortakd", "ortak serve did not exec ortakd")
        self.assertTrue((self.dir / "state").is_dir())

    def test_2_accounts(self):
        rc, out, err = ortak("accounts", "--dir", self.dir, check=0)
        self.assertRegex(out.splitlines()[0], r"^id\s+bic\s+cur\s+kind\s+balance\s+available\s+queued")
        line = [l for l in out.splitlines() if l.startswith(self.account[(BANK, "KZT")])]
        self.assertEqual(len(line), 1, out)
        self.assertRegex(line[0], rf"{BANK}\s+KZT\s+settlement\s+50000\.00\s+50000\.00\s+0/0\.00")
        _, out, _ = ortak("accounts", "--dir", self.dir, "--bic", BANK, "--currency", "KZT", "--json", check=0)
        ids = [a["id"] for a in json.loads(out)["accounts"]]
        self.assertEqual(ids, [self.account[(BANK, "KZT")]])
        # The bank sees its own accounts only.
        _, out, _ = ortak("accounts", "--dir", self.dir, "--as", BANK, "--json", check=0)
        self.assertEqual({a["bic"] for a in json.loads(out)["accounts"]}, {BANK})

    def test_3_pay_and_statement(self):
        key = uuid.uuid4().hex
        args = ["pay", "--dir", self.dir, "--as", BANK, "--to", OPERATOR, "--amount", "12.34", "--currency", "KZT",
                "--idempotency-key", key]
        _, out, _ = ortak(*args, check=0)
        m = re.search(r"payment\s+([0-9a-f]{32})\n\s+uetr\s+(\S+)\n\s+status\s+settled", out)
        self.assertTrue(m, out)
        # A retry with the same key is the same payment.
        _, out2, _ = ortak(*args, "--json", check=0)
        self.assertEqual(json.loads(out2)["id"], m.group(1))
        # Queued: more than the payer has (the operator, the default caller); urgent.
        _, out, _ = ortak("pay", "--dir", self.dir, "--to", BANK, "--amount", "99999999.00", "--currency", "KZT",
                          "--priority", "urgent", check=0)
        self.assertRegex(out, r"status\s+queued")
        # Rejected: no account of the payee in KZT.
        rc, out, err = ortak("pay", "--dir", self.dir, "--as", BANK, "--to", AZ_BANK, "--amount", "1.00",
                             "--currency", "KZT")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("rejected", out)
        self.assertIn("account_not_found", out + err)
        # Malformed amount: the server's 400 and its field.
        rc, _, err = ortak("pay", "--dir", self.dir, "--as", BANK, "--to", OPERATOR, "--amount", "1.234",
                           "--currency", "KZT")
        self.assertEqual(rc, 65, err)
        self.assertIn("field_invalid", err)
        self.assertIn("amount", err)
        rc, _, err = ortak("pay", "--dir", self.dir, "--to", OPERATOR)
        self.assertEqual(rc, 2, err)
        # The statement shows the payment.
        acc = self.account[(BANK, "KZT")]
        _, out, _ = ortak("statement", acc, "--dir", self.dir, "--as", BANK, check=0)
        self.assertIn("-12.34", out)
        self.assertIn(m.group(2), out)
        self.assertRegex(out, r"closing\s+49987\.66")
        _, out, _ = ortak("statement", acc, "--dir", self.dir, "--json", check=0)
        self.assertEqual(json.loads(out)["closing_balance"], "49987.66")
        _, out, _ = ortak("statement", acc, "--dir", self.dir, "--camt053", check=0)
        self.assertIn("camt.053.001", out)
        self.assertTrue(out.lstrip().startswith("<?xml"), out[:200])
        # Another participant's account: forbidden; a bad token: not authenticated.
        rc, _, err = ortak("statement", self.account[(FX, "AZN")], "--dir", self.dir, "--as", BANK)
        self.assertEqual(rc, 77, err)
        self.assertIn("forbidden", err)
        rc, _, err = ortak("accounts", "--dir", self.dir, "--token", "x" * 32)
        self.assertEqual(rc, 77, err)

    def test_4_quote_and_pay(self):
        rc, out, err = ortak("quote", "--dir", self.dir, "--as", BANK, "--to", AZ_BANK, "--from-currency", "KZT",
                             "--to-currency", "AZN", "--amount", "30050.00", "--fixed", "source", "--json", check=0)
        q = json.loads(out)
        self.assertEqual(q["target_amount"], "100.00", q)
        _, out, _ = ortak("quote", "--dir", self.dir, "--as", BANK, "--to", AZ_BANK, "--from-currency", "KZT",
                          "--to-currency", "AZN", "--amount", "3.33", "--fixed", "target", check=0)
        self.assertRegex(out, r"pays\s+1000\.67 KZT")
        self.assertIn("--quote", out)
        _, out, _ = ortak("pay", "--dir", self.dir, "--as", BANK, "--to", AZ_BANK, "--amount", "30050.00",
                          "--currency", "KZT", "--quote", q["id"], check=0)
        self.assertRegex(out, r"status\s+settled")
        _, out, _ = ortak("accounts", "--dir", self.dir, "--bic", AZ_BANK, "--json", check=0)
        self.assertEqual(json.loads(out)["accounts"][0]["balance"], "100.00")
        # The operator may not ask for a quote.
        rc, _, err = ortak("quote", "--dir", self.dir, "--to", AZ_BANK, "--from-currency", "KZT", "--to-currency",
                           "AZN", "--amount", "1.00")
        self.assertIn(rc, (65, 77), err)

    def test_5_url_option(self):
        _, out, _ = ortak("accounts", "--url", f"http://127.0.0.1:{self.port}/", "--token", self.tokens[BANK],
                          "--json", check=0)
        self.assertEqual({a["bic"] for a in json.loads(out)["accounts"]}, {BANK})
        rc, _, err = ortak("accounts", "--url", "ftp://127.0.0.1/", "--token", self.tokens[BANK])
        self.assertEqual(rc, 2, err)


if __name__ == "__main__":
    h.main()
