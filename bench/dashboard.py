"""The dashboard's JSON endpoints behind a busy day: starts ortakd on loopback (demo mode, an engine configured for
more than a million payments), admits banks in five countries with KZT accounts, sends --payments payments with
`ortak bench http`, runs a gridlock resolution, then fetches each dashboard endpoint --repeat times as the operator,
a central bank and a bank, and prints the size and time of each (median and worst).

    python3 bench/dashboard.py --ortakd build/release/ortakd --ortak build/release/ortak [--payments 1000000]

Prints a table (and --json FILE writes the figures). Needs only Python 3's standard library.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

OPERATOR = "ORTKTRISXXX"
COUNTRIES = {"KZ": "KZKA", "AZ": "AZ2X", "UZ": "UZ2X", "KG": "KG22", "TR": "TRIS"}


def engine_ini(ortak, payments):
    text = subprocess.run([ortak, "config"], check=True, capture_output=True, text=True).stdout
    want = {"payments_max": payments + payments // 4 + 100000, "transfers_max": 2 * payments + 200000,
            "history_max": 4 * payments + 400000}
    for k, v in want.items():
        text = re.sub(rf"^{k}\s*=.*$", f"{k} = {v}", text, flags=re.M)
    return text


class Http:
    def __init__(self, url, token):
        self.url, self.token = url, token

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        t0 = time.perf_counter()
        with urllib.request.urlopen(req, timeout=120) as r:
            raw = r.read()
        return time.perf_counter() - t0, raw


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ortakd", required=True)
    ap.add_argument("--ortak", required=True)
    ap.add_argument("--payments", type=int, default=1000000)
    ap.add_argument("--banks-per-country", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    a = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ortak-bench-dash-"))
    (work / "engine.ini").write_text(engine_ini(a.ortak, a.payments))
    banks = [f"BK{chr(65 + i // 26)}{chr(65 + i % 26)}{suffix}" for cc, suffix in COUNTRIES.items()
             for i in range(a.banks_per_country)]
    country = {b: b[-4:-2] for b in banks}
    tokens = {b: f"tok-{b}-{os.urandom(8).hex()}" for b in [OPERATOR, "NBRKKZKX"] + banks}
    ini = ["[server]", "listen = 127.0.0.1:0", f"data_dir = {work}/data", f"engine_config = {work}/engine.ini",
           "demo = yes", "tls = no", "log_level = warn", "", "[limits]", "outbox_max = 100000000",
           "idempotency_keys = 1000", "", "[journal]", "snapshot_every = 100000", "", "[tokens]"]
    ini += [f"{b} = {t}" for b, t in tokens.items()]
    (work / "ortakd.ini").write_text("\n".join(ini) + "\n")
    proc = subprocess.Popen([a.ortakd, "--config", str(work / "ortakd.ini")], stderr=subprocess.PIPE, text=True)
    url = None
    for line in proc.stderr:
        m = re.search(r"listening on (http://[0-9.]+:\d+)", line)
        if m:
            url = m.group(1)
            break
    if not url:
        sys.exit("ortakd did not start")
    try:
        run(a, url, tokens, banks, country, work)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


def run(a, url, tokens, banks, country, work):
    op, cb = Http(url, tokens[OPERATOR]), Http(url, tokens["NBRKKZKX"])
    for _ in range(100):
        try:
            op.call("GET", "/readyz")
            break
        except OSError:
            time.sleep(0.1)
    for b in banks:
        op.call("POST", "/v1/participants", {"bic": b, "name": f"Bank {b}", "role": "bank", "country": country[b]})
        _, raw = op.call("POST", "/v1/accounts", {"bic": b, "currency": "KZT", "kind": "settlement"})
        # some banks short of liquidity, so that queues and gridlock resolution have work
        amt = "20000.00" if banks.index(b) % 4 == 0 else "100000000.00"
        cb.call("POST", "/v1/liquidity/inject", {"account": json.loads(raw)["id"], "amount": amt})
    cmd = [a.ortak, "bench", "http", "--url", url, "--count", str(a.payments), "--concurrency",
           str(a.concurrency), "--warmup", "0", "--json"] + [x for b in banks for x in ("--client", f"{b}={tokens[b]}")]
    t0 = time.monotonic()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    load_s = time.monotonic() - t0
    bench = json.loads(out.strip().splitlines()[-1])
    op.call("POST", "/v1/gridlock", {"currency": "KZT"})
    who = {"operator": op, "central bank": cb, "bank": Http(url, tokens[banks[1]])}
    endpoints = ["overview", "overview?from_minute=1439", "liquidity", "queues", "flows", "payments",
                 f"payments?bic={banks[1]}", "health"]
    rows = []
    for name, client in who.items():
        for ep in endpoints:
            times, size = [], 0
            for _ in range(a.repeat):
                try:
                    t, raw = client.call("GET", f"/v1/dashboard/{ep}")
                except urllib.error.HTTPError as e:
                    size = -e.code
                    break
                times.append(t)
                size = len(raw)
            if times:
                rows.append({"who": name, "endpoint": ep, "bytes": size, "median_ms": 1e3 * statistics.median(times),
                             "max_ms": 1e3 * max(times)})
    _, raw = op.call("GET", "/v1/dashboard/overview")
    settled = sum(c["settled"] for c in json.loads(raw)["currencies"])
    print(f"{a.payments} payments sent in {load_s:.1f} s ({bench.get('throughput_per_s', bench)} /s by ortak bench "
          f"http); the dashboard counts {settled} settled today; {len(banks)} banks in {len(COUNTRIES)} countries")
    print(f"{'caller':<14} {'endpoint':<34} {'bytes':>9} {'median ms':>10} {'max ms':>8}")
    for r in rows:
        print(f"{r['who']:<14} /v1/dashboard/{r['endpoint']:<20} {r['bytes']:>9} {r['median_ms']:>10.1f} "
              f"{r['max_ms']:>8.1f}")
    if a.json:
        Path(a.json).write_text(json.dumps({"payments": a.payments, "load_s": load_s, "bench": bench,
                                            "settled": settled, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
