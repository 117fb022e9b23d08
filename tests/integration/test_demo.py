"""`ortak demo --quick` (docs/cli.md): init a directory, start ortakd on loopback, run a short simulated business
day against it over HTTP, print and write the report, send three payments that sanctions screening holds (names of
the DEMO list that `ortak init` writes), stop the server; a restarted server still holds exactly those three. Run as
    python3 tests/integration/test_demo.py --ortakd PATH/TO/ortakd --ortak PATH/TO/ortak
`ortak demo` finds ortakd beside the ortak executable, else on PATH: the directory of --ortakd is put first on PATH
so that either way the ortakd under test runs.
"""
import configparser
import os
import re
import socket
import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

QUICK_INSTRUCTIONS = 2000  # demo.c's DEMO_QUICK_PAYMENTS
# demo.c's screening payments: the first bank of each country but the first FX provider's pays that provider in its
# own currency, to a name of the DEMO list (init.c).
SCREENED = {("SMAAKZ22", "KZT", "DEMO-001"), ("SMAAKG22", "KGS", "DEMO-002"), ("SMAAUZ22", "UZS", "DEMO-003")}


def listening(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Demo(unittest.TestCase):
    def setUp(self):
        self.tmp = h.tempdir("ortak-demo-")
        self.dir = Path(self.tmp) / "demo"
        self.port = h.free_port()
        self.env = dict(os.environ, PATH=os.path.dirname(h.ORTAKD) + os.pathsep + os.environ.get("PATH", ""))

    def tearDown(self):
        h.remove_tempdir(self.tmp)

    def test_quick(self):
        t0 = time.monotonic()
        p = subprocess.run([h.ORTAK, "demo", "--quick", "--dir", str(self.dir), "--port", str(self.port)],
                           capture_output=True, timeout=150, cwd=self.tmp, env=self.env)
        out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        log = (self.dir / "ortakd.log").read_text(errors="replace") if (self.dir / "ortakd.log").exists() else ""
        self.assertEqual(p.returncode, 0, f"stdout:\n{out}\nstderr:\n{err}\nortakd.log:\n{log}")
        print(f"ortak demo --quick: {time.monotonic() - t0:.1f} s", file=sys.stderr)

        # Every leg was sent and answered: legs sent == the legs of the workload, none lost to errors.
        m = re.search(r"ortak demo: (\d+) instructions \((\d+) legs\)", out)
        self.assertIsNotNone(m, out)
        self.assertEqual(int(m.group(1)), QUICK_INSTRUCTIONS)
        legs = int(m.group(2))
        m = re.search(r"payments sent\s+(\d+) legs \((\d+) instructions\)", out)
        self.assertIsNotNone(m, out)
        self.assertEqual((int(m.group(1)), int(m.group(2))), (legs, QUICK_INSTRUCTIONS))
        m = re.search(r"not settled\s+queued (\d+), rejected (\d+), other (\d+), errors (\d+)", out)
        self.assertIsNotNone(m, out)
        self.assertEqual(int(m.group(4)), 0, out)
        m = re.search(r"settled\s+(\d+) legs \((\d+)\.(\d+)%\)", out)
        self.assertIsNotNone(m, out)
        settled = int(m.group(1))
        self.assertGreater(settled, 0)
        self.assertEqual(settled + sum(int(x) for x in re.search(
            r"queued (\d+), rejected (\d+), other (\d+), errors (\d+)", out).groups()), legs)
        self.assertRegex(out, r"client latency\s+p50 \d+\.\d{3} ms, p99 \d+\.\d{3} ms")
        self.assertRegex(out, r"\n  KZT-KZT\s+\d+")
        self.assertIn("liquidity saved by gridlock resolution versus plain RTGS", out)

        # The report files, and the CSV's instructions add up.
        for name in ("report.txt", "report.csv", "policies.csv", "ortakd.log"):
            self.assertTrue((self.dir / name).is_file(), name)
        rows = (self.dir / "report.csv").read_text().splitlines()
        self.assertEqual(rows[0], "from_currency,to_currency,instructions,usd_cents,settled_usd_cents")
        self.assertEqual(sum(int(r.split(",")[2]) for r in rows[1:]), QUICK_INSTRUCTIONS)
        self.assertIn("payments sent", (self.dir / "report.txt").read_text())
        policies = (self.dir / "policies.csv").read_text().splitlines()
        self.assertEqual(len(policies), 1 + 3 * 5, policies)

        # The server is gone: it stopped cleanly and nothing listens on the port any more.
        self.assertIn("the server stopped (exit 0)", out)
        self.assertFalse(listening(self.port))
        self.assertIn("stopped at journal record", log)

        # Screening: DIR/ortakd.ini lists DIR/demo-sanctions.csv (list DEMO), and the demo's three payments to its
        # names are held; a restarted server holds exactly those, as the operator lists them.
        ini = configparser.ConfigParser(interpolation=None)
        ini.read(self.dir / "ortakd.ini")
        lists = [x.strip() for x in ini["screening"]["lists"].split(",")]
        self.assertIn(str(self.dir / "demo-sanctions.csv"), lists)
        self.assertTrue((self.dir / "demo-sanctions.csv").read_text(encoding="utf-8").startswith("# list: DEMO\n"))
        self.assertIn("3 of 3 payments held by sanctions screening", out)
        holds = self.holds_after_restart(ini["tokens"][h.OPERATOR_BIC.lower()])
        self.assertEqual({(p["debtor_agent"], p["currency"], p["screening"]["entry_id"]) for p in holds}, SCREENED,
                         holds)
        for p in holds:
            self.assertEqual((p["status"], p["creditor_agent"], p["screening"]["list"]), ("held", "FXAAAZ22", "DEMO"))
        self.assertEqual(len(holds), len(SCREENED))

    def holds_after_restart(self, op_token):
        """GET /v1/screening/holds as the operator from ortakd restarted on the demo's directory (its output appended
        to DIR/ortakd.log), then stopped."""
        with open(self.dir / "ortakd.log", "ab") as log:
            srv = subprocess.Popen([h.ORTAKD, "--config", str(self.dir / "ortakd.ini")], stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, env=self.env)
        try:
            c = h.Client("127.0.0.1", self.port, tls=False, token=op_token)

            def ready():
                try:
                    return c.get("/readyz").status == 200
                except OSError:
                    return False
            self.assertTrue(h.wait_until(ready, timeout=60, interval=0.1), "the restarted server is not ready")
            return h.expect(c.get("/v1/screening/holds"), 200).json()["holds"]
        finally:
            srv.terminate()
            try:
                srv.wait(timeout=30)
            except subprocess.TimeoutExpired:
                srv.kill()
                srv.wait()


if __name__ == "__main__":
    h.main()
