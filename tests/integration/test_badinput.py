#!/usr/bin/env python3
"""ortakd against bad input (docs/api.md, Conventions): malformed JSON, oversize bodies, wrong content types,
unknown, missing and mistyped fields, an ISO message from the wrong participant, a reused Idempotency-Key, slow
clients, too many connections, bad configurations; and every refusal counted in GET /metrics.

    python3 tests/integration/test_badinput.py --ortakd PATH/TO/ortakd --ortak PATH/TO/ortak
"""
import collections
import http.client
import json
import os
import socket
import ssl
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import expect, assert_amount  # noqa: E402

BODY_MAX = 4096
CONNECTIONS_MAX = 8
TIMEOUT_S = 2


class BadInputTest(h.WorldTest):
    world_name = "badinput"
    world_kw = {"server": {"connections_max": str(CONNECTIONS_MAX), "connection_timeout_s": str(TIMEOUT_S)},
                "limits": {"body_max": str(BODY_MAX)},
                "kz_banks": [f"K{n:03d}KZKA" for n in range(1, 9)], "az_banks": [], "fx": []}

    tally = collections.Counter()      # (status, code) of every refusal seen since the first /metrics snapshot
    events = collections.Counter()     # connection-level refusals: "timeout", "too_many_connections"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        w = cls.world
        cls.a = w.new_bank(fund={"KZT": "1000.00"})
        cls.b = w.new_bank()
        r = expect(w.op.get("/metrics"), 200)
        cls.metrics_before = h.parse_metrics(r.text)

        def hook(resp):
            # A replayed response is the first one again, not a new refusal; an XML answer (a pacs.002 RJCT
            # with Accept: application/xml) names no code the tally could look for.
            if resp.status >= 400 and resp.headers.get("idempotent-replayed") != "true" and resp.code:
                cls.tally[(resp.status, resp.code)] += 1
        cls.hook = hook
        h.RESPONSE_HOOKS.append(hook)

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "hook", None) in h.RESPONSE_HOOKS:
            h.RESPONSE_HOOKS.remove(cls.hook)
        super().tearDownClass()

    def participant(self, **over):
        body = {"bic": "ZZZZKZKA", "name": "Bad input", "role": "bank"}
        body.update(over)
        return body

    def large(self, client, path, body, status, code, ctype="application/json"):
        r = client.request_large("POST", path, body, ctype=ctype)
        if r is None:  # refused all the same; only the answer was lost with the connection
            print(f"note: POST {path} with {len(body)} bytes: connection closed before an answer could be read",
                  file=sys.stderr)
            return
        expect(r, status, code=code)

    # -------------------------------------------------------------------------------------------------- JSON
    def test_1_json_invalid(self):
        op = self.world.op
        expect(op.post("/v1/participants", '{"bic": "ZZZZKZKA", "name": "\\ud800", "role": "bank"}'), 400,
               code=("json_invalid", "field_invalid"), what="a lone surrogate")
        for raw in ('{"bic": "ZZZZKZKA", "name": ', '{not json}', '{"bic": "ZZZZKZKA"} trailing', '',
                    "{'bic': 'ZZZZKZKA'}",
                    '{"bic": "ZZZZKZKA", "name": "x", "role": "bank",}'):
            expect(op.post("/v1/participants", raw), 400, code="json_invalid", what=repr(raw))
        bad_utf8 = b'{"bic": "ZZZZKZKA", "name": "\xff\xfe", "role": "bank"}'
        expect(op.post("/v1/participants", bad_utf8), 400, code="json_invalid", what="invalid UTF-8")
        # Nesting: 16 levels parse (and the unknown field is named), 17 do not.
        deep16 = '{"bic": "ZZZZKZKA", "name": "x", "role": "bank", "zz": ' + "[" * 15 + "]" * 15 + "}"
        expect(op.post("/v1/participants", deep16), 400, code="field_unknown", field="zz")
        deep17 = '{"bic": "ZZZZKZKA", "name": "x", "role": "bank", "zz": ' + "[" * 16 + "]" * 16 + "}"
        expect(op.post("/v1/participants", deep17), 400, code="json_invalid")
        self.large(op, "/v1/participants", "[" * 100000, (400, 413), ("json_invalid", "body_too_large"))
        self.assertFalse(h.contains(expect(op.get("/v1/participants"), 200).json(), "ZZZZKZKA"))

    def test_2_fields(self):
        w, op = self.world, self.world.op
        expect(op.post("/v1/participants", self.participant(colour="blue")), 400, code="field_unknown",
               field="colour")
        body = self.participant()
        del body["name"]
        expect(op.post("/v1/participants", body), 400, code="field_missing", field="name")
        expect(op.post("/v1/participants", {}), 400, code="field_missing")
        expect(op.post("/v1/participants", self.participant(role=5)), 400, code="field_invalid", field="role")
        expect(op.post("/v1/participants", self.participant(name=None)), 400, code=("field_invalid",
                                                                                     "field_missing"), field="name")
        expect(op.post("/v1/participants", ["bic", "ZZZZKZKA"]), 400, code=("field_invalid", "json_invalid"))
        pay = {"creditor_agent": self.b, "currency": "KZT", "amount": "1.00"}
        a = w.as_(self.a)
        expect(a.post("/v1/payments", dict(pay, amount=1.0)), 400, code="field_invalid", field="amount")
        expect(a.post("/v1/payments", dict(pay, amount=100)), 400, code="field_invalid", field="amount")
        expect(a.post("/v1/payments", dict(pay, amount="1,00")), (400, 422), code=("field_invalid",
                                                                                   "amount_invalid"))
        expect(a.post("/v1/payments", dict(pay, amount="1e3")), (400, 422), code=("field_invalid",
                                                                                  "amount_invalid"))
        expect(a.post("/v1/payments", dict(pay, priority=["high"])), 400, code="field_invalid", field="priority")
        expect(a.post("/v1/payments", dict(pay, creditor_agent=True)), 400, code="field_invalid",
               field="creditor_agent")
        expect(a.post("/v1/payments", dict(pay, latest_settlement="2026-13-45T99:00:00Z")), 400,
               code="field_invalid", field="latest_settlement")
        expect(a.post("/v1/payments", dict(pay, extra={"x": 1})), 400, code="field_unknown", field="extra")
        expect(a.post("/v1/payments", {"currency": "KZT", "amount": "1.00"}), 400, code="field_missing",
               field="creditor_agent")
        expect(w.cb().put(f"/v1/accounts/{w.account_id(self.a)}/credit-line", {}), 400, code="field_missing",
               field="amount")
        expect(a.post("/v1/outbox/ack", {"seq": -1}), 400, code="field_invalid", field="seq")
        expect(a.post("/v1/outbox/ack", {"seq": 1.5}), 400, code="field_invalid", field="seq")
        assert_amount(w.account(w.account_id(self.a))["balance"], "1000.00")

    # -------------------------------------------------------------------------------------------------- sizes
    def test_3_body_too_large(self):
        w, op = self.world, self.world.op

        def padded(n):
            body = json.dumps(self.participant(pad=""))
            return body.replace('"pad": ""', '"pad": "' + "x" * (n - len(body)) + '"')
        exact = padded(BODY_MAX)
        self.assertEqual(len(exact), BODY_MAX)
        expect(op.post("/v1/participants", exact), 400, code="field_unknown", field="pad")
        expect(op.post("/v1/participants", padded(BODY_MAX + 1)), 413, code="body_too_large")
        self.large(op, "/v1/participants", padded(BODY_MAX * 20), 413, "body_too_large")
        xml = h.pacs008(self.a, self.b, "1.00")[0]
        xml = xml.replace("<Nm>Debtor Ltd</Nm>", "<Nm>Debtor Ltd</Nm>" + "<!--" + "p" * BODY_MAX + "-->")
        self.large(w.as_(self.a), "/v1/iso20022", xml, 413, "body_too_large", ctype="application/xml")
        # A Content-Length beyond the limit is refused without waiting for the body.
        c = op.connection(timeout=TIMEOUT_S + 3)
        try:
            t0 = time.monotonic()
            c.putrequest("POST", "/v1/participants")
            c.putheader("Content-Type", "application/json")
            c.putheader("Content-Length", str(10 ** 9))
            c.endheaders()
            r = c.getresponse()
            resp = h.Response("POST", "/v1/participants", r.status, r.reason, r.getheaders(), r.read())
            self.assertLess(time.monotonic() - t0, TIMEOUT_S, "413 came only after the connection timeout")
            expect(resp, 413, code="body_too_large")
            self.tally[(413, resp.code)] += 1
        finally:
            c.close()

    def test_4_content_type(self):
        w, op = self.world, self.world.op
        body = json.dumps(self.participant())
        for ct in ("text/plain", "application/x-www-form-urlencoded", "application/xml", "", "application/jsonx"):
            expect(op.post("/v1/participants", body, ctype=ct), 415, code="unsupported_media_type", what=ct)
        body = json.dumps(self.participant(colour="blue"))  # refused further on, for its unknown field
        expect(op.post("/v1/participants", body, ctype="application/json; charset=utf-8"), 400,
               code="field_unknown", field="colour")
        xml = h.pacs008(self.a, self.b, "1.00")[0]
        for ct in ("application/json", "text/plain", ""):
            expect(w.as_(self.a).post("/v1/iso20022", xml, ctype=ct), 415, code="unsupported_media_type", what=ct)
        self.assertFalse(h.contains(expect(op.get("/v1/participants"), 200).json(), "ZZZZKZKA"))
        assert_amount(w.account(w.account_id(self.b))["balance"], "0.00")

    # -------------------------------------------------------------------------------------------------- ISO, keys
    def test_5_iso_wrong_participant(self):
        """A bank may only send as itself: header sender (Fr) or instructing agent another participant -> AG01."""
        w = self.world
        a = w.as_(self.a)
        for kw in ({"fr": self.b}, {"instg": self.b}, {"fr": self.b, "instg": self.b}):
            xml, _, uetr = h.pacs008(self.a, self.b, "1.00", **kw)
            r = a.post("/v1/iso20022", xml, ctype="application/xml")
            if r.status == 200:
                txs = r.json()["transactions"]
                self.assertTrue(txs and all(t["status"] == "rejected" and t.get("reason") == "AG01" for t in txs),
                                f"{kw}: {r}")
            else:
                expect(r, (403, 422), reason="AG01", what=str(kw))
                self.assertIn(r.code, ("iso_sender_mismatch", "iso_invalid", "forbidden"), r)
            xml, _, uetr = h.pacs008(self.a, self.b, "1.00", **kw)
            r = a.post("/v1/iso20022", xml, ctype="application/xml", accept="application/xml")
            self.assertIn(r.status, (200, 403, 422), r)
            self.assertIn("RJCT", r.text, r)
            self.assertIn("AG01", r.text, r)
        # b sends a's payment (b as sender, a as instructing agent): refused for b too.
        xml, _, _ = h.pacs008(self.a, self.b, "1.00", fr=self.b)
        r = w.as_(self.b).post("/v1/iso20022", xml, ctype="application/xml")
        if r.status == 200:
            self.assertTrue(all(t["status"] == "rejected" for t in r.json()["transactions"]), r)
        else:
            expect(r, (403, 422), reason="AG01")
        assert_amount(w.account(w.account_id(self.a))["balance"], "1000.00")
        assert_amount(w.account(w.account_id(self.b))["balance"], "0.00")

    def test_6_idempotency_key(self):
        w = self.world
        a = w.as_(self.a)
        body = {"creditor_agent": self.b, "currency": "KZT", "amount": "2.00"}
        r1 = expect(a.post("/v1/payments", body, key="k-1"), 201)
        expect(a.post("/v1/payments", dict(body, amount="3.00"), key="k-1"), 409, code="idempotency_key_reused")
        expect(a.post("/v1/payments", dict(body, end_to_end_id="x"), key="k-1"), 409,
               code="idempotency_key_reused")
        expect(w.cb().post("/v1/liquidity/inject", {"account": w.account_id(self.a), "amount": "2.00"}, key="k-1"),
               (200, 201))  # keys are per participant: the central bank's k-1 is its own
        expect(a.put(f"/v1/accounts/{w.account_id(self.a)}/reservation", {"amount": "0.00"}, key="k-1"), 409,
               code="idempotency_key_reused")
        r2 = expect(a.post("/v1/payments", body, key="k-1"), (200, 201))
        self.assertEqual((r2.json(), r2.headers.get("idempotent-replayed")), (r1.json(), "true"))
        # A refusal is a response like any other: replayed as it was.
        wd = {"account": w.account_id(self.b), "amount": "999999.00"}
        r3 = expect(w.cb().post("/v1/liquidity/withdraw", wd, key="wd-1"), 422, code="insufficient_funds")
        r4 = expect(w.cb().post("/v1/liquidity/withdraw", wd, key="wd-1"), 422, code="insufficient_funds")
        self.assertEqual((r4.body, r4.headers.get("idempotent-replayed")), (r3.body, "true"))
        # Malformed keys.
        for key in ("", "k" * 65, "caf\u00e9"):
            r = a.request("POST", "/v1/payments", body, headers={"Idempotency-Key": key})
            expect(r, 400, code=("field_invalid", "idempotency_key_invalid"), what=repr(key))
        expect(a.post("/v1/payments", dict(body, amount="4.00"), key="k" * 64), 201)
        assert_amount(w.account(w.account_id(self.a))["balance"], "996.00")  # 1000 - 2 + 2 - 4

    # -------------------------------------------------------------------------------------------------- connections
    def timed_requests(self, n=5):
        """Seconds each of n requests by a well-behaved client takes."""
        times = []
        for _ in range(n):
            t0 = time.monotonic()
            expect(self.world.as_(self.b).get("/v1/me"), 200)
            times.append(time.monotonic() - t0)
        return times

    def wait_cut(self, s, budget):
        """Seconds until the server closes `s` (reading and discarding what it sends), or None."""
        t0 = time.monotonic()
        s.settimeout(0.2)
        while time.monotonic() - t0 < budget:
            try:
                if not s.recv(4096):
                    return time.monotonic() - t0
            except (socket.timeout, ssl.SSLWantReadError):
                continue
            except (ConnectionError, ssl.SSLError, OSError):
                return time.monotonic() - t0
        return None

    def test_7_slow_clients(self):
        w = self.world
        b = w.as_(self.b)
        half = b.raw_socket()   # TLS done, half a request sent
        half.sendall(b"POST /v1/payments HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"creditor_")
        mute = b.raw_socket(handshake=False)  # TCP only: the TLS handshake never starts
        trickle = b.raw_socket()
        stop = threading.Event()

        def drip():  # one byte of header every 0.4 s: never idle, never done
            try:
                for ch in b"GET /v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100:
                    if stop.wait(0.4):
                        return
                    trickle.sendall(bytes([ch]))
            except OSError:
                return
        t = threading.Thread(target=drip, daemon=True)
        t.start()
        try:
            times = self.timed_requests()
            self.assertLess(max(times), 1.5, f"slow clients delay others: {times}")
            res = {}
            ths = [threading.Thread(target=lambda n=n, s=s: res.__setitem__(n, self.wait_cut(s, TIMEOUT_S + 4)))
                   for n, s in (("half", half), ("mute", mute), ("trickle", trickle))]
            for th in ths:
                th.start()
            for th in ths:
                th.join()
            for n, how in (("half", "sent half a request and stalled"),
                           ("mute", "opened a TCP connection and sent nothing (no TLS handshake)"),
                           ("trickle", "sends its headers one byte every 0.4 s (never idle, never done)")):
                with self.soft(f"a slow client is cut after connection_timeout_s: {n}"):
                    self.assertIsNotNone(res[n], f"a client that {how} was not cut within {TIMEOUT_S + 4} s "
                                                 f"(connection_timeout_s = {TIMEOUT_S})")
                    self.events["timeout"] += 1
        finally:
            stop.set()
            for s in (half, mute, trickle):
                s.close()
        self.assertLess(max(self.timed_requests(2)), 1.5)

    def test_8_connection_limit(self):
        w = self.world
        b = w.as_(self.b)
        held = []
        try:
            for _ in range(CONNECTIONS_MAX):
                held.append(b.raw_socket())
            t0 = time.monotonic()
            try:
                r = b.get("/v1/me", timeout=TIMEOUT_S + 2)
                expect(r, 503, code="too_many_connections")
                outcome = "503"
            except (ConnectionError, ssl.SSLError, http.client.RemoteDisconnected, http.client.BadStatusLine,
                    socket.timeout, OSError) as e:
                outcome = repr(e)
                self.assertNotIsInstance(e, socket.timeout, "the connection over the limit hangs: neither "
                                                            "answered 503 nor refused")
                self.events["too_many_connections"] += 1
            self.assertLess(time.monotonic() - t0, TIMEOUT_S, f"refusing took too long ({outcome})")
            if os.environ.get("ORTAK_IT_VERBOSE"):
                print(f"connection over the limit: {outcome}", file=sys.stderr)
        finally:
            for s in held:
                s.close()
        # Once the connections are gone, the server serves again.
        ok = h.wait_until(lambda: self._me_ok(b), timeout=3)
        self.assertTrue(ok, "the server does not serve after the held connections closed")

    @staticmethod
    def _me_ok(client):
        try:
            return client.get("/v1/me").status == 200
        except (OSError, http.client.HTTPException):
            return False

    # -------------------------------------------------------------------------------------------------- metrics
    def test_9_refusals_in_metrics(self):
        """Every refusal of the tests above shows in /metrics: a series naming its error code (or, failing that, a
        series labelled with its status) rose at least as often as the refusal happened."""
        w = self.world
        # A few more refusals of kinds the other tests do not make.
        expect(w.anonymous().get("/v1/me"), 401, code="unauthenticated")
        expect(w.unknown().get("/v1/me"), 401, code="unknown_client")
        expect(w.as_(self.a).get("/metrics"), 403, code="forbidden")
        expect(w.op.get("/v1/none"), 404, code="not_found")
        expect(w.op.delete("/v1/me"), 405, code="method_not_allowed")
        expect(w.as_(self.a).post("/v1/payments", {"creditor_agent": self.b, "currency": "KZT",
                                                    "amount": "1.00", "latest_settlement": "2020-01-01T00:00:00Z"}),
               422, code="latest_time_passed")
        after = h.parse_metrics(expect(w.op.get("/metrics"), 200).text)
        before = self.metrics_before
        if os.environ.get("ORTAK_IT_VERBOSE"):
            print("\n".join(f"{k} {v}" for k, v in after.items() if v != before.get(k)), file=sys.stderr)
        by_status = collections.Counter()
        for (status, code), n in self.tally.items():
            by_status[status] += n
        missing = []
        for (status, code), n in sorted(self.tally.items(), key=str):
            if code and any(code in k for k in after):
                inc, name = h.metrics_increase(before, after, code)
                if inc < n:
                    missing.append(f"{status} {code}: {n} refusals, the series naming it rose by {inc} ({name})")
            else:
                inc, name = h.metrics_increase(before, after, f'"{status}"')
                if inc < by_status[status]:
                    missing.append(f"{status} {code}: no series names the code, and no series labelled "
                                   f"\"{status}\" rose by {by_status[status]} (best: {inc}, {name})")
        if self.events["too_many_connections"]:
            inc, name = h.metrics_increase(before, after, "too_many_connections")
            if inc < 1:
                inc, name = h.metrics_increase(before, after, "connections")
            if inc < 1:
                missing.append("connections refused over connections_max: no series counts them")
        if self.events["timeout"]:
            best = max((h.metrics_increase(before, after, k) for k in ("timeout", "timed_out", "slow", "idle")),
                       key=lambda x: x[0])
            if best[0] < 1:
                missing.append("slow clients cut after connection_timeout_s: no series (timeout, timed_out, slow, "
                               "idle) counts them")
        self.assertEqual(missing, [], "refusals missing from /metrics:\n  " + "\n  ".join(missing))


class ConfigTest(h.WorldTest):
    """`ortakd --config FILE --check-config`: 0 for a valid file; 1 and a message naming the problem otherwise.
    A bad configuration also stops `ortakd --config FILE` itself."""
    world_name = "config"
    world_kw = {"kz_banks": [], "az_banks": [], "fx": []}

    @classmethod
    def setUpClass(cls):  # no server runs: only certificates and files
        cls.world = h.World(cls.world_name, **cls.world_kw)
        cls.n = 0

    def setUp(self):
        pass

    def server(self, **kw):
        w = self.world
        type(self).n += 1
        kw["clients"] = dict(w.server.clients, **kw.get("clients", {}))
        s = h.Server(w.dir / f"cfg{self.n}", certs=w.certs, **kw)
        return s

    def check(self, server, ok, *words):
        rc, err = server.check_config()
        if ok:
            self.assertEqual(rc, 0, f"valid configuration refused: {err}\n{server.config.read_text()}")
        else:
            self.assertEqual(rc, 1, f"invalid configuration: exit {rc}, expected 1: {err}\n"
                                    f"{server.config.read_text()}")
            self.assertTrue(any(wd.lower() in err.lower() for wd in words),
                            f"stderr does not name the problem ({' or '.join(words)}): {err!r}")

    def test_check_config(self):
        w = self.world
        self.check(self.server(), True)
        self.check(self.server(tokens={h.OPERATOR_BIC: "x" * 16}, server={"demo": "yes"}), True)
        self.check(self.server(server={"demo": "yes", "listen": "0.0.0.0:0"}), False, "demo", "loopback")
        self.check(self.server(server={"tls": "no"}), False, "tls", "demo")
        self.check(self.server(server={"tls": "no", "demo": "yes", "listen": "0.0.0.0:0"}), False, "demo",
                   "loopback", "tls")
        self.check(self.server(server={"demo": "yes"}, tokens={h.OPERATOR_BIC: "short"}), False, "token",
                   h.OPERATOR_BIC, "16")
        self.check(self.server(clients={"sha256:abcd": "K001KZKA"}), False, "sha256", "clients", "fingerprint")
        self.check(self.server(clients={h.fingerprint(w.certs.ca): "NOT A BIC"}), False, "BIC", "clients")
        self.check(self.server(server={"colour": "blue"}), False, "colour")
        self.check(self.server(extra="[nonsense]\nkey = value\n"), False, "nonsense")
        self.check(self.server(limits={"body_max": "0"}), False, "body_max")
        self.check(self.server(server={"connections_max": "many"}), False, "connections_max")
        self.check(self.server(server={"connection_timeout_s": "-1"}), False, "connection_timeout_s")
        self.check(self.server(server={"listen": "127.0.0.1:99999"}), False, "listen")
        self.check(self.server(server={"operator_bic": "XX"}), False, "operator_bic", "BIC")
        self.check(self.server(tls={"cert": str(w.dir / "missing.pem")}), False, "missing.pem", "cert")
        self.check(self.server(server={"engine_config": str(w.dir / "missing.ini")}), False, "missing.ini",
                   "engine_config")
        bad_engine = self.server(engine_overrides={"settlement": {"gridlock_mode": "magic"}})
        self.check(bad_engine, False, "gridlock_mode", "engine")

    def test_bad_config_stops_the_server(self):
        s = self.server(server={"tls": "no"})
        s.write_config()
        try:
            p = h.run([h.ORTAKD, "--config", str(s.config)], check=False, timeout=20)
        except h.subprocess.TimeoutExpired:
            self.fail("ortakd started (and ran for 20 s) with tls = no and demo = no")
        self.assertNotEqual(p.returncode, 0, "ortakd started with tls = no and demo = no")
        self.assertNotIn(b"listening on", p.stderr)


if __name__ == "__main__":
    h.main()
