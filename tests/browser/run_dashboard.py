"""The dashboard in a real browser: starts ortakd on loopback in demo mode (bearer tokens), makes a small day
(banks in two countries, settled payments, a gridlock of three queued payments, a payment held by screening when
the server screens), then runs tests/browser/dashboard.mjs, which drives Debian's Chromium with playwright-core and
checks what the operator, a bank and a central bank see and cannot see. Screenshots of every view go to --artifacts.

    python3 tests/browser/run_dashboard.py --ortakd PATH --ortak PATH --artifacts DIR

Exits 0 when every check passed, 77 (skipped) when Chromium, node or web/node_modules (npm ci in web/) is missing,
1 otherwise.
"""
import json
import os
import shutil
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import harness  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"
SKIP = 77
CHROMIUM = os.environ.get("ORTAK_CHROMIUM", "/usr/bin/chromium")
# A name on the UN consolidated list (the primary name of an INDIVIDUAL entry), for a payment screening holds.
UN_NAME = "ERIC BADEGE"

ARTIFACTS = None


def missing():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    if not shutil.which("node"):
        return "node is missing (apt-get install nodejs npm)"
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        return "web/node_modules is missing (npm ci in web/)"
    if not (WEB / "vendor" / "echarts.min.js").is_file():
        return "web/vendor/echarts.min.js is missing (scripts/web)"
    return None


def un_name():
    """The primary name of the first INDIVIDUAL of the UN list beside the repository, else a known one."""
    xml = harness.SHARED_DATA / "sanctions" / "UN_consolidated.xml"
    try:
        import xml.etree.ElementTree as ET
        for _, e in ET.iterparse(str(xml)):
            if e.tag == "INDIVIDUAL":
                parts = [e.findtext(t) for t in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME")]
                name = " ".join(p.strip() for p in parts if p and p.strip())
                if name:
                    return name
    except (OSError, ET.ParseError):
        pass
    return UN_NAME


class Dashboard(unittest.TestCase):
    def test_dashboard_in_chromium(self):
        agents = harness.currencies()
        bics = [harness.OPERATOR_BIC] + sorted(set(agents.values()))
        banks = {"K001KZKA": "KZ", "K002KZKA": "KZ", "K003KZKA": "KZ", "A001AZ2X": "AZ"}
        tokens = {b: f"tok-{b}-{os.urandom(12).hex()}" for b in bics + list(banks)}
        work = harness.tempdir("browser")
        srv = harness.Server(work / "server", tokens=tokens,
                             server={"demo": "yes", "tls": "no", "web_dir": str(WEB)})
        try:
            srv.start(timeout=60)
            self.run_scenario(srv, agents, banks, tokens)
        except BaseException:
            print(f"--- ortakd's stderr:\n{srv.stderr()[-20000:]}", file=sys.stderr)
            raise
        finally:
            if srv.alive():
                srv.stop()
            harness.remove_tempdir(work)

    def run_scenario(self, srv, agents, banks, tokens):
        op = srv.client(token=tokens[harness.OPERATOR_BIC])
        cb = {c: srv.client(token=tokens[b]) for c, b in agents.items()}
        ids = {}
        for bic, country in banks.items():
            harness.expect(op.post("/v1/participants", {"bic": bic, "name": f"Bank {bic}", "role": "bank",
                                                         "country": country}), 201)
            for ccy in (["KZT"] if country == "KZ" else ["AZN", "KZT"]):
                r = harness.expect(op.post("/v1/accounts", {"bic": bic, "currency": ccy, "kind": "settlement"}), 201)
                ids[(bic, ccy)] = r.json()["id"]
        fund = {("K001KZKA", "KZT"): "100.00", ("K002KZKA", "KZT"): "100.00", ("K003KZKA", "KZT"): "100.00",
                ("A001AZ2X", "AZN"): "5000.00", ("A001AZ2X", "KZT"): "20000.00"}
        for (bic, ccy), amt in fund.items():
            harness.expect(cb[ccy].post("/v1/liquidity/inject", {"account": ids[(bic, ccy)], "amount": amt}), 200)
        bank = {b: srv.client(token=tokens[b]) for b in banks}
        pay = lambda a, b, amt, ccy="KZT", status=201, **kw: harness.expect(
            bank[a].post("/v1/payments", dict({"creditor_agent": b, "currency": ccy, "amount": amt}, **kw)),
            status).json()
        # settled payments, within Kazakhstan and from Azerbaijan, for the charts and the flows
        for i in range(5):
            pay("A001AZ2X", "K001KZKA", f"{100 + i}.00")
        pay("K001KZKA", "K002KZKA", "10.00")
        pay("A001AZ2X", agents["AZN"], "50.00", "AZN")  # to the central bank's settlement account
        # a gridlock: each pays more than it holds to the next; only together can they settle
        grid = [pay("K001KZKA", "K002KZKA", "1000.00"), pay("K002KZKA", "K003KZKA", "1000.00"),
                pay("K003KZKA", "K001KZKA", "1000.00")]
        for p in grid:
            self.assertEqual(p["status"], "queued", p)
        # a payment another bank cannot see (K002 -> K003), for the bank's view
        hidden = pay("K002KZKA", "K003KZKA", "1.00")
        screening = op.get("/v1/screening").status != 404
        held = None
        if screening:
            held = pay("A001AZ2X", "K002KZKA", "10.00", debtor_name=un_name(), creditor_name="Aigerim Sadykova")
        scenario = {
            "url": srv.url, "operator": harness.OPERATOR_BIC, "tokens": tokens, "agents": agents,
            "banks": banks, "gridlock": [p["uetr"] for p in grid], "hidden_uetr": hidden["uetr"],
            "screening": screening, "held": held, "artifacts": str(ARTIFACTS),
        }
        node = shutil.which("node")
        p = subprocess.run([node, str(Path(__file__).with_name("dashboard.mjs"))], input=json.dumps(scenario).encode(),
                           cwd=str(WEB), timeout=150)
        self.assertEqual(p.returncode, 0, "the browser checks failed (their output is above)")
        # the aggregates outlive a restart: saved at shutdown, and rebuilt from the journal after a crash
        before = self.totals(op)
        self.assertEqual(srv.stop(), 0)
        srv.start(timeout=60)
        op = srv.client(token=tokens[harness.OPERATOR_BIC])
        self.assertEqual(self.totals(op), before, "after a restart")
        harness.expect(srv.client(token=tokens["A001AZ2X"]).post(
            "/v1/payments", {"creditor_agent": "K003KZKA", "currency": "KZT", "amount": "7.00"}), 201)
        before = self.totals(op)
        srv.kill()  # the payment since the last save comes back from the journal's replay
        srv.start(timeout=60)
        self.assertEqual(self.totals(srv.client(token=tokens[harness.OPERATOR_BIC])), before,
                         "after a crash: the saved aggregates and the journal replayed after them")

    @staticmethod
    def totals(client):
        o = harness.expect(client.get("/v1/dashboard/overview"), 200).json()
        return {c["code"]: (c["settled"], c["value"], c["rejected"]) for c in o["currencies"]}


if __name__ == "__main__":
    why = missing()
    if why:
        print(f"browser_dashboard: skipped: {why}", file=sys.stderr)
        sys.exit(SKIP)
    args = sys.argv[1:]
    if "--artifacts" in args:
        i = args.index("--artifacts")
        ARTIFACTS = Path(args[i + 1]).resolve()
        del args[i:i + 2]
    else:
        ARTIFACTS = Path("browser-artifacts").resolve()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    sys.argv = [sys.argv[0]] + args
    harness.main()
