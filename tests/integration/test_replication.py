#!/usr/bin/env python3
"""The replicated journal (docs/operations.md, "Replication"): three nats-server processes on loopback (JetStream,
one stream with three replicas) and two ortakd, one leading and one following.

    python3 tests/integration/test_replication.py --ortakd PATH/TO/ortakd --ortak PATH/TO/ortak [TestClass]

- KillLeader: the leader is SIGKILLed under load again and again (restarted as a follower each time); the other
  takes over within 5 s; every payment answered settled or queued is in the engine, and the engine holds each
  payment once; afterwards both nodes are at the same record with the same state hash.
- KillNats: one NATS server is SIGKILLed: writes go on; restarted, it catches up with the stream. Then a planned
  switch-over: the leader stopped with SIGTERM gives the lease up, and the follower leads at once; both exit 0.
- PausedLeader: the leader is SIGSTOPped; the follower takes over; SIGCONT: the old leader's pending write is
  refused (503 not_leader, never acknowledged), it steps down and follows, and both agree; an ISO 20022 payment the
  old leader took is forwarded by the new one.
- BenchSmoke: bench_replication --quick (beside ortakd) runs and its checks hold.

Exits 77 (skipped) when nats-server is not installed.
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.request
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SKIP = 77
CLUSTER = h.REPO / "scripts" / "nats-cluster"
LEASE_MS = 1500
TAKEOVER_MAX_S = 5.0
BANKS = ["BANKKZKA", "BANKKZKB", "BANKKZKC", "BANKKZKD"]
KZT_AGENT = None  # read from `ortak config` at the first set-up


def free_base():
    """A base port with BASE..BASE+2, BASE+100..BASE+102 and BASE+200..BASE+202 free now."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 40000)
        ok = True
        for p in [base + k + i for k in (0, 100, 200) for i in range(3)]:
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return base
    raise h.Fatal("no free ports for the NATS cluster")


class Cluster:
    """Three nats-server processes started by scripts/nats-cluster."""

    def __init__(self, workdir, stream):
        self.stream = stream
        self.dir = workdir / "nats"
        self.base = free_base()
        try:
            h.run([str(CLUSTER), "start", str(self.dir), str(self.base)], timeout=60)
        except BaseException:
            self.stop()  # those that did start
            raise
        self.urls = h.run([str(CLUSTER), "urls", str(self.dir)]).stdout.decode().strip()

    def kill(self, n):
        h.run([str(CLUSTER), "node-kill", str(self.dir), str(n)])

    def start(self, n):
        h.run([str(CLUSTER), "node-start", str(self.dir), str(n)], timeout=60)

    def stop(self):
        h.run([str(CLUSTER), "stop", str(self.dir)], check=False, timeout=60)


def node(workdir, name, urls, stream, tokens):
    port = h.free_port()
    extra = h.ini([("replication", [("nats", urls), ("stream", stream), ("node", name),
                                    ("advertise_url", f"http://127.0.0.1:{port}"), ("lease_ms", str(LEASE_MS)),
                                    ("state_hash_every", "64")])])
    srv = h.Server(workdir / name, tokens=tokens, server={"listen": f"127.0.0.1:{port}", "demo": "yes",
                                                           "tls": "no", "connections_max": "256"},
                   journal={"snapshot_every": "200"}, extra=extra)
    srv.name = name
    return srv


class Replicated(unittest.TestCase):
    """Three NATS servers, two ortakd (a and b) on one stream; a leads first."""
    stream = "T"

    @classmethod
    def setUpClass(cls):
        global KZT_AGENT
        KZT_AGENT = KZT_AGENT or h.currencies()["KZT"]
        cls.work = h.tempdir("replication")
        cls.cluster = None
        cls.nodes = []
        try:
            stream = cls.stream + uuid.uuid4().hex[:8]
            cls.cluster = Cluster(cls.work, stream)
            cls.tokens = {b: f"tok-{b}-{uuid.uuid4().hex}" for b in [h.OPERATOR_BIC, KZT_AGENT] + BANKS}
            cls.nodes = [node(cls.work, n, cls.cluster.urls, stream, cls.tokens) for n in ("a", "b")]
            cls.nodes[0].start()
            cls.wait_leader(timeout=20)
            cls.nodes[1].start()
            cls.set_up_banks()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for n in cls.nodes:
            if n.proc is not None and n.proc.poll() is None:
                try:
                    os.kill(n.proc.pid, signal.SIGCONT)
                except OSError:
                    pass
                n.kill()
        if cls.cluster:
            cls.cluster.stop()
        h.remove_tempdir(cls.work)

    # -- helpers
    @classmethod
    def client(cls, srv, bic=None, timeout=10):
        return srv.client(token=cls.tokens[bic or h.OPERATOR_BIC], timeout=timeout)

    @classmethod
    def info(cls, srv, timeout=3):
        try:
            r = cls.client(srv, timeout=timeout).get("/v1/replication")
        except (OSError, h.http.client.HTTPException):
            return None
        return r.json() if r.status == 200 else None

    @classmethod
    def leader(cls):
        for n in cls.nodes:
            if n.alive():
                i = cls.info(n, timeout=1)
                if i and i["role"] == "leader":
                    return n
        return None

    @classmethod
    def wait_leader(cls, timeout=TAKEOVER_MAX_S, exclude=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            n = cls.leader()
            if n is not None and n is not exclude:
                return n
            time.sleep(0.02)
        raise AssertionError(f"no leader within {timeout} s:\n" + "\n".join(x.stderr()[-3000:] for x in cls.nodes))

    @classmethod
    def set_up_banks(cls):
        lead = cls.wait_leader()
        op, cb = cls.client(lead), cls.client(lead, KZT_AGENT)
        for b in BANKS:
            h.expect(op.post("/v1/participants", {"bic": b, "name": "Bank " + b, "role": "bank"}), 201)
            acct = h.expect(op.post("/v1/accounts", {"bic": b, "currency": "KZT", "kind": "settlement"}), 201).json()
            amount = "2000.00" if b == "BANKKZKD" else "100000000.00"  # one is short: some payments queue
            h.expect(cb.post("/v1/liquidity/inject", {"account": acct["id"], "amount": amount}), (200, 201))

    def wait_caught_up(self, srv, lag=50, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lead, mine = self.leader(), self.info(srv)
            theirs = self.info(lead) if lead else None
            if mine and theirs and mine["seq"] + lag >= theirs["seq"]:
                return
            time.sleep(0.05)
        self.fail(f"{srv.name} did not catch up within {timeout} s")

    def wait_same_state(self, timeout=20):
        """Both nodes at the same record with the same state hash; returns their info."""
        deadline = time.monotonic() + timeout
        infos = None
        while time.monotonic() < deadline:
            infos = [self.info(n) for n in self.nodes]
            if all(infos) and len({(i["seq"], i["state_hash"]) for i in infos}) == 1:
                return infos
            time.sleep(0.1)
        self.fail(f"the nodes do not agree: {json.dumps(infos)}")

    def check_payments(self, answered, srv):
        """Every payment answered settled or queued is in `srv`'s engine (once: its id derives from its UETR)."""
        from concurrent.futures import ThreadPoolExecutor

        def check(item):
            uetr, said = item
            r = self.client(srv).get(f"/v1/payments?uetr={uetr}")
            if r.status != 200:
                return f"payment {uetr} answered {said} is missing: {r}"
            if said == "settled" and r.json()["status"] != "settled":
                return f"payment {uetr} answered settled is {r.json()['status']}"
            return None

        with ThreadPoolExecutor(4) as ex:
            problems = [p for p in ex.map(check, answered.items()) if p]
        self.assertFalse(problems, problems[:5])
        return h.parse_metrics(self.client(srv).get("/metrics").text)


class Load:
    """Threads paying between the banks through whichever node leads, each payment with its own UETR; a payment
    whose answer was lost or refused 503 is retried with the same UETR (so never twice in the engine)."""

    def __init__(self, test, threads=6):
        self.cls = type(test)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.answered = {}  # uetr -> settled | queued
        self.tried = set()
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, i):
        rng = random.Random(i)
        target = None
        while not self.stop.is_set():
            payer, payee = rng.sample(BANKS, 2)
            uetr = str(uuid.uuid4())
            with self.lock:
                self.tried.add(uetr)
            body = {"creditor_agent": payee, "currency": "KZT", "amount": f"{rng.randint(1, 3000)}.00", "uetr": uetr}
            for _ in range(200):
                if self.stop.is_set():
                    break
                if target is None or not target.alive():
                    target = self.cls.leader()
                    if target is None:
                        time.sleep(0.02)
                        continue
                try:
                    r = self.cls.client(target, payer, timeout=10).post("/v1/payments", body)
                except (OSError, h.http.client.HTTPException):
                    target = None
                    continue
                if r.status == 503:
                    target = None
                    continue
                if r.status == 201:
                    st = r.json().get("status")
                    if st in ("settled", "queued"):
                        with self.lock:
                            self.answered[uetr] = st
                elif r.status == 422 and r.code == "iso_duplicate_uetr":
                    pass  # an earlier attempt made it: it is in the engine once
                elif r.status >= 500:
                    with self.lock:
                        self.errors.append(f"{r.status} {r.text}")
                break

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)
        return self.answered


class KillLeader(Replicated):
    stream = "K"

    def test_kill_leader_under_load(self):
        load = Load(self, threads=3)
        takeovers = []
        try:
            for k in range(10):
                time.sleep(random.uniform(0.4, 0.8))
                old = self.wait_leader()
                old.kill()
                t0 = time.monotonic()
                new = self.wait_leader(exclude=old)
                # writes are accepted: the takeover is complete
                while True:
                    r = self.client(new).get("/v1/replication")
                    if r.status == 200 and r.json()["role"] == "leader":
                        break
                took = time.monotonic() - t0
                takeovers.append(took)
                self.assertLess(took, TAKEOVER_MAX_S, f"takeover {k + 1} took {took:.2f} s")
                t1 = time.monotonic()
                old.start()  # restarted: it follows, and catches up before the next kill
                t2 = time.monotonic()
                self.wait_caught_up(old)
                print(f"kill {k + 1}/10: {new.name} leads after {took:.2f} s; {old.name} restarted in "
                      f"{t2 - t1:.1f} s, caught up in {time.monotonic() - t2:.1f} s", file=sys.stderr, flush=True)
            time.sleep(1)
        finally:
            answered = load.finish()
        self.assertFalse(load.errors, load.errors[:5])
        self.assertGreater(len(answered), 100, "the load did not run")
        t3 = time.monotonic()
        infos = self.wait_same_state()
        lead = self.wait_leader()
        metrics = self.check_payments(answered, lead)
        # no payment twice, none from nowhere: at most one per UETR tried (retries reuse theirs)
        self.assertLessEqual(int(metrics["ortak_payments"]), len(load.tried))
        self.assertGreaterEqual(int(metrics["ortak_payments"]), len(answered))
        # the stream was trimmed below the snapshots every node holds, and the restarted nodes still caught up
        first = stream_first(self.cluster, 1)
        self.assertIsNotNone(first)
        self.assertGreater(first, 1, "the stream was never trimmed")
        for n in self.nodes:
            m = h.parse_metrics(self.client(n).get("/metrics").text)
            self.assertEqual(m.get("ortak_replication_state_hash_mismatches_total"), 0.0, n.stderr()[-2000:])
        print(f"checks took {time.monotonic() - t3:.1f} s", file=sys.stderr)
        print(f"{len(answered)} acknowledged payments present; takeover max {max(takeovers):.2f} s, "
              f"mean {sum(takeovers) / len(takeovers):.2f} s; both at record {infos[0]['seq']}",
              file=sys.stderr, flush=True)


class KillNats(Replicated):
    stream = "N"

    def writes(self, count, within_s):
        """`count` payments through whichever node leads, within `within_s`; returns the longest time without a
        successful write (a NATS election after a server's loss, or a takeover)."""
        t0 = last = time.monotonic()
        ok, gap = 0, 0.0
        while ok < count and time.monotonic() - t0 < within_s:
            lead = self.leader()
            if lead is None:
                time.sleep(0.05)
                continue
            try:
                r = self.client(lead, "BANKKZKA").post("/v1/payments", {"creditor_agent": "BANKKZKB",
                                                                        "currency": "KZT", "amount": "1.00"})
            except (OSError, h.http.client.HTTPException):
                continue
            if r.status == 201:
                ok += 1
                gap, last = max(gap, time.monotonic() - last), time.monotonic()
            else:
                self.assertEqual(r.status, 503, str(r))
        self.assertEqual(ok, count, f"only {ok} of {count} writes within {within_s} s")
        return gap

    def test_kill_one_nats_server(self):
        self.writes(20, 30)
        self.cluster.kill(2)
        gap = self.writes(50, 60)  # the stream keeps its majority: writes go on (after an election at most)
        print(f"NATS server 2 killed: writes went on (longest pause {gap:.2f} s)", file=sys.stderr, flush=True)
        self.cluster.start(2)
        gap = self.writes(20, 60)
        print(f"NATS server 2 restarted (longest pause {gap:.2f} s)", file=sys.stderr, flush=True)
        infos = self.wait_same_state()
        # the restarted server's own copy of the stream holds every record
        self.assertTrue(caught_up(self.cluster, 2, infos[0]["seq"]), "NATS server 2 did not catch up")
        print(f"NATS server 2 caught up to record {infos[0]['seq']}", file=sys.stderr, flush=True)
        # planned switch-over: the leader stops cleanly and gives the lease up; the follower leads at once
        lead = self.wait_leader()
        other = next(n for n in self.nodes if n is not lead)
        t0 = time.monotonic()
        self.assertEqual(lead.stop(), 0, lead.stderr()[-3000:])
        # (the bound is the takeover bound: under a loaded CI machine "at once" can take more than a lease)
        self.assertIs(self.wait_leader(timeout=TAKEOVER_MAX_S), other)
        took = time.monotonic() - t0
        h.expect(self.client(other, "BANKKZKA").post("/v1/payments", {"creditor_agent": "BANKKZKB",
                                                                      "currency": "KZT", "amount": "1.00"}), 201)
        self.assertEqual(other.stop(), 0, other.stderr()[-3000:])
        print(f"planned switch-over: the follower led {took:.2f} s after SIGTERM to the leader", file=sys.stderr,
              flush=True)


def jsz_stream(cluster, n):
    """NATS server n's own copy of the test's stream: its state from the monitoring page /jsz, or None."""
    url = f"http://127.0.0.1:{cluster.base + 200 + n - 1}/jsz?accounts=true&streams=true"
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            jsz = json.load(r)
    except (OSError, ValueError):
        return None
    for acc in jsz.get("account_details", []):
        for st in acc.get("stream_detail", []):
            if st.get("name") == cluster.stream:
                return st.get("state")
    return None


def stream_first(cluster, n):
    st = jsz_stream(cluster, n)
    return st.get("first_seq") if st else None


def caught_up(cluster, n, seq, timeout=20):
    """Whether NATS server n's own copy of the stream (its monitoring page /jsz) reaches record `seq`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = jsz_stream(cluster, n)
        if st and st.get("last_seq", 0) >= seq:
            return True
        time.sleep(0.2)
    return False


class PausedLeader(Replicated):
    stream = "P"

    def test_paused_leader_is_fenced(self):
        old = self.wait_leader()
        other = next(n for n in self.nodes if n is not old)
        pay = {"creditor_agent": "BANKKZKB", "currency": "KZT", "amount": "1.00"}
        h.expect(self.client(old, "BANKKZKA").post("/v1/payments", pay), 201)
        # an ISO 20022 payment: its message travels with its batch, so the follower can forward it after takeover
        xml, msg_id, uetr = h.pacs008("BANKKZKA", "BANKKZKB", "7.00")
        r = self.client(old, "BANKKZKA").post("/v1/iso20022", xml.encode() if isinstance(xml, str) else xml,
                                               ctype="application/xml")
        h.expect(r, 200)
        os.kill(old.proc.pid, signal.SIGSTOP)
        # a write sent to the paused leader: it waits in the socket
        result = {}

        def write():
            body = dict(pay, uetr=str(uuid.uuid4()))
            result["uetr"] = body["uetr"]
            try:
                result["r"] = self.client(old, "BANKKZKA", timeout=30).post("/v1/payments", body)
            except (OSError, h.http.client.HTTPException) as e:
                result["e"] = e

        t = threading.Thread(target=write)
        t.start()
        deadline = time.monotonic() + TAKEOVER_MAX_S + LEASE_MS / 1000
        while time.monotonic() < deadline:
            i = self.info(other, timeout=1)
            if i and i["role"] == "leader":
                break
            time.sleep(0.05)
        else:
            self.fail("the follower did not take over from the paused leader")
        for _ in range(10):  # the new leader writes
            h.expect(self.client(other, "BANKKZKC").post("/v1/payments", dict(pay, creditor_agent="BANKKZKA")), 201)
        os.kill(old.proc.pid, signal.SIGCONT)
        t.join(40)
        self.assertIn("r", result, f"the old leader did not answer: {result}")
        r = result["r"]
        self.assertEqual(r.status, 503, f"the old leader acknowledged a write after losing the lease: {r}")
        self.assertEqual(r.code, "not_leader", str(r))
        # it stepped down and follows; the refused payment is nowhere
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            i = self.info(old)
            if i and i["role"] == "follower":
                break
            time.sleep(0.05)
        else:
            self.fail(f"the old leader did not step down: {self.info(old)}\n{old.stderr()[-4000:]}")
        r = self.client(old, "BANKKZKA").post("/v1/payments", pay)
        self.assertEqual(r.status, 503, str(r))
        self.assertEqual(r.code, "not_leader")
        self.wait_same_state()
        for n in self.nodes:
            self.assertEqual(self.client(n).get(f"/v1/payments?uetr={result['uetr']}").status, 404)
        # the new leader forwards the ISO payment taken by the old one, in its message definition, and the same
        # MsgId stays refused
        box = h.expect(self.client(other, "BANKKZKB").get("/v1/outbox?limit=1000"), 200).json()
        fwd = [m for m in box["messages"] if m["type"].startswith("pacs.008") and uetr in (m.get("xml") or "")]
        self.assertEqual(len(fwd), 1, box)
        r = self.client(other, "BANKKZKA").post("/v1/iso20022", xml.encode() if isinstance(xml, str) else xml,
                                                ctype="application/xml")
        h.expect(r, 409, code="iso_duplicate_message")


class BenchSmoke(unittest.TestCase):
    """bench_replication --quick against a cluster of its own: it runs, and its checks hold."""

    def test_bench_quick(self):
        bench = os.path.join(os.path.dirname(h.ORTAKD), "bench_replication")
        if not os.access(bench, os.X_OK):
            self.skipTest("bench_replication is not built beside ortakd")
        work = h.tempdir("replication-bench")
        cluster = None
        try:
            cluster = Cluster(work, "none")
            p = h.run([bench, "--nats", cluster.urls, "--quick", "--dir", str(work / "bench")], check=False,
                      timeout=240)
            out = p.stdout.decode()
            self.assertEqual(p.returncode, 0, out + p.stderr.decode()[-3000:])
            self.assertIn("transfers/s", out)
            self.assertIn("same state hash", out)
            self.assertIn("first durable batch after", out)
            print(out, file=sys.stderr, flush=True)
        finally:
            if cluster:
                cluster.stop()
            h.remove_tempdir(work)


def main():
    if not shutil.which("nats-server"):
        print("nats-server is not installed (scripts/setup installs it): skipped", file=sys.stderr)
        sys.exit(SKIP)
    h.main()


if __name__ == "__main__":
    main()
