#!/usr/bin/env python3
"""The journal's crash test over HTTP: ortakd is killed with SIGKILL under load from `ortak bench http`, again and
again, and restarted each time. Afterwards:

- every payment whose answer said settled, queued or accepted is in the engine (and a settled one is settled);
- every participant's outbox is numbered 1..last without a gap, and holds each message exactly once: one pacs.002
  for the payer of every payment that ended, one camt.054 for each side of every movement, one forward for the
  payee of every settled ISO 20022 payment;
- the journal verifies end to end.

usage: crash_http.py --ortakd PATH --ortak PATH [--kills N] [--keep DIR]
"""
import argparse
import collections
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

OPERATOR = "ORTKTRISXXX"
CENTRAL_BANK = "NBRKKZKX"  # KZT's settlement agent in the default configuration
BANKS = ["BANKKZKA", "BANKKZKB", "BANKAZBA", "BANKTRIS"]


def token(bic):
    return ("token-" + bic + "-0123456789")[:40]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, ortakd, workdir, port):
        self.ortakd, self.port = ortakd, port
        self.data = os.path.join(workdir, "data")
        self.config = os.path.join(workdir, "ortakd.ini")
        self.log = open(os.path.join(workdir, "ortakd.log"), "ab")
        tokens = "".join(f"{b} = {token(b)}\n" for b in [OPERATOR, CENTRAL_BANK] + BANKS)
        with open(self.config, "w") as f:
            f.write(f"[server]\nlisten = 127.0.0.1:{port}\ndata_dir = {self.data}\ndemo = yes\ntls = no\n"
                    f"connections_max = 512\n[journal]\nsnapshot_every = 2000\n[tokens]\n{tokens}")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([self.ortakd, "--config", self.config], stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"ortakd exited with {self.proc.returncode} at start-up; see {self.log.name}")
            try:
                if request(self.port, None, "GET", "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        sys.exit("ortakd did not become ready within 60 s")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        if self.proc.wait(timeout=60) != 0:
            sys.exit(f"ortakd exited with {self.proc.returncode} after SIGTERM")


def request(port, bic, method, path, body=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {}
    if bic:
        headers["Authorization"] = "Bearer " + token(bic)
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body)
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    ctype = r.getheader("Content-Type", "")
    return r.status, json.loads(data) if ctype.startswith("application/json") else data


def must(resp, *ok):
    if resp[0] not in ok:
        sys.exit(f"unexpected answer {resp[0]}: {resp[1]}")
    return resp[1]


def set_up(port):
    for b in BANKS:
        must(request(port, OPERATOR, "POST", "/v1/participants", {"bic": b, "name": "Bank " + b, "role": "bank"}), 201)
        acct = must(request(port, OPERATOR, "POST", "/v1/accounts",
                            {"bic": b, "currency": "KZT", "kind": "settlement"}), 201)
        # one bank is short of liquidity, so that some payments queue and settle later
        amount = "1500.00" if b == "BANKTRIS" else "100000000.00"
        must(request(port, CENTRAL_BANK, "POST", "/v1/liquidity/inject", {"account": acct["id"], "amount": amount}),
             200)


def read_outbox(port, bic):
    msgs, after = [], 0
    while True:
        page = must(request(port, bic, "GET", f"/v1/outbox?after={after}&limit=1000"), 200)
        msgs += page["messages"]
        if not page["messages"]:
            return msgs, page["last"]
        after = page["next"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ortakd", required=True)
    ap.add_argument("--ortak", required=True)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--keep", help="work in this directory and keep it")
    args = ap.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="ortak-crash-http-")
    os.makedirs(work, exist_ok=True)
    rng = random.Random(7)
    port = free_port()
    srv = Server(args.ortakd, work, port)
    srv.start()
    set_up(port)
    record = os.path.join(work, "answers.txt")
    clients = [a for b in BANKS for a in ("--client", f"{b}={token(b)}")]
    bench = subprocess.Popen([args.ortak, "bench", "http", "--url", f"http://127.0.0.1:{port}", "--concurrency", "16",
                              "--seconds", "3600", "--warmup", "0", "--iso-share", "0.3", "--retry-connect",
                              "--record", record, "--amount-max", "3000.00"] + clients,
                             stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "bench.log"), "wb"))
    time.sleep(0.5)
    if bench.poll() is not None:
        sys.exit(f"ortak bench http stopped at once ({bench.returncode}); see {work}/bench.log")
    try:
        for k in range(args.kills):
            time.sleep(rng.uniform(0.3, 1.2))
            srv.kill()
            srv.start()
            print(f"kill {k + 1}/{args.kills}: restarted", flush=True)
        time.sleep(1)
    finally:
        bench.send_signal(signal.SIGTERM)
        bench.wait(timeout=30)
    check(port, record)
    srv.stop()
    verify = subprocess.run([args.ortak, "journal", "verify", os.path.join(srv.data, "journal")],
                            capture_output=True, text=True)
    if verify.returncode != 0:
        sys.exit(f"journal verify failed: {verify.stdout}{verify.stderr}")
    if not args.keep:
        shutil.rmtree(work)
    print("crash_http: ok")


def check(port, record):
    answered = {}
    with open(record) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[1].startswith("50") and parts[1] != "503":
                sys.exit(f"payment {parts[0]} was answered {parts[1]}: a server error")
            if len(parts) == 3 and parts[2] in ("settled", "queued", "accepted"):
                answered[parts[0]] = parts[2]
    if len(answered) < 100:
        sys.exit(f"only {len(answered)} payments were answered: the load did not run")
    payments = {}
    for uetr, said in answered.items():
        status, p = request(port, OPERATOR, "GET", f"/v1/payments?uetr={uetr}")
        if status != 200:
            sys.exit(f"payment {uetr} was answered '{said}' but is missing after the crashes: {status} {p}")
        if said == "settled" and p["status"] != "settled":
            sys.exit(f"payment {uetr} was answered settled but is {p['status']} now")
        payments[p["id"]] = p
    print(f"{len(answered)} acknowledged payments all present", flush=True)

    held = collections.Counter()
    for bic in BANKS:
        msgs, last = read_outbox(port, bic)
        seqs = [m["seq"] for m in msgs]
        if seqs != list(range(1, last + 1)):
            sys.exit(f"outbox of {bic}: messages are not numbered 1..{last} exactly once")
        for m in msgs:
            if not m["xml"]:
                sys.exit(f"outbox of {bic}: message {m['seq']} could not be written")
            kind = m["type"][:8]
            if kind == "camt.054":
                kind += " CRDT" if "<CdtDbtInd>CRDT" in m["xml"] else " DBIT"
            held[(bic, kind, m["payment_id"])] += 1
    dups = [k for k, n in held.items() if n > 1]
    if dups:
        sys.exit(f"messages held more than once: {dups[:5]}")
    for pid, p in payments.items():
        if p["status"] not in ("settled", "rejected", "cancelled"):
            continue
        want = [(p["debtor_agent"], "pacs.002", pid)]
        if p["status"] == "settled":
            want += [(p["debtor_agent"], "camt.054 DBIT", pid), (p["creditor_agent"], "camt.054 CRDT", pid)]
        for w in want:
            if held[w] != 1:
                sys.exit(f"payment {pid} ({p['status']}): {w[1]} for {w[0]} held {held[w]} times, not once")
    print(f"outboxes: {sum(held.values())} messages, each once", flush=True)


if __name__ == "__main__":
    main()
