#!/usr/bin/env python3
"""The authorisation matrix of ortakd (docs/api.md): every endpoint against every kind of caller.

Callers: the operator, a central bank (KZT), a bank, an FX provider, a certificate signed by the client CA but not
listed ("unknown"), no certificate at all ("none"), a suspended bank, and a self-signed certificate whose
fingerprint IS listed ("foreign": it does not chain to the client CA, so it must not authenticate). An allowed
call may succeed or be refused by the business (404, 409, 422...), anything but 401/403; a refused call is
401 unauthenticated / 401 unknown_client / 403 forbidden / 403 participant_not_active as the caller deserves.
Then bearer tokens: ignored without demo mode; accepted in demo mode (TLS and plain HTTP); and certificates mapped
by their subject's CN with client_bic_from_subject = yes.

    python3 tests/integration/test_auth.py --ortakd PATH/TO/ortakd --ortak PATH/TO/ortak
"""
import http.client
import itertools
import os
import ssl
import sys
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import expect  # noqa: E402

OP, CB, BANK, FX = "operator", "central_bank", "bank", "fx_provider"
P = frozenset({OP, CB, BANK, FX})
CALLERS = [OP, CB, BANK, FX, "unknown", "none", "suspended", "foreign"]
FOREIGN_BIC = "K900KZKA"   # admitted; its fingerprint in [clients] is that of a self-signed certificate
SUSPENDED_BIC = "K901KZKA"


class Row:
    """One endpoint: how to call it (path and body may depend on the caller), who may, and who may either way."""

    def __init__(self, method, path, allowed, body=None, ctype=None, either=(), public=False):
        self.method, self.path, self.allowed, self.body = method, path, frozenset(allowed), body
        self.ctype, self.either, self.public = ctype, frozenset(either), public

    def build(self, caller):
        path = self.path(caller) if callable(self.path) else self.path
        body = self.body(caller) if callable(self.body) else self.body
        return path, body

    def __str__(self):
        return f"{self.method} {self.path if isinstance(self.path, str) else self.path('bank')}"


class AuthMatrixTest(h.WorldTest):
    world_name = "auth"
    world_kw = {"kz_banks": [f"K{n:03d}KZKA" for n in range(1, 9)] + [SUSPENDED_BIC],
                "az_banks": ["A001AZ2X"], "fx": ["F001KZKA"], "foreign": [FOREIGN_BIC]}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.fixtures()
        except BaseException:
            cls.world.close()
            raise

    @classmethod
    def fixtures(cls):
        w = cls.world
        cls.a = w.new_bank(fund={"KZT": "1000.00"})                 # the "bank" caller
        cls.b = w.new_bank(fund={"KZT": "1000.00"})                 # owner of the resources tested
        cls.c = w.new_bank()                                         # payee
        cls.fx = w.new_bank(role="fx_provider", ccys=["KZT", "AZN"], fund={"AZN": "1000.00"})
        cls.az = w.new_bank("AZ")
        w.pool["KZ"].remove(SUSPENDED_BIC)
        w.admit(SUSPENDED_BIC)
        w.open_account(SUSPENDED_BIC, "KZT")
        expect(w.op.patch(f"/v1/participants/{SUSPENDED_BIC}", {"status": "suspended"}), 200)
        # "foreign": a self-signed certificate listed in [clients] for an admitted bank.
        w.admit(FOREIGN_BIC)
        cls.sb = w.account_id(cls.b)
        cls.cb_coll = w.open_account(cls.b, "KZT", "collateral")
        w.inject(cls.cb_coll, "100.00")
        expect(w.cb().put(f"/v1/accounts/{cls.sb}/net-cap", {"amount": "100.00"}), 200)
        cls.closable = w.open_account(cls.c, "KZT", "collateral")
        cls.pay_b = w.pay(cls.b, cls.c, "10.00")
        cls.pay_a = w.pay(cls.a, cls.c, "10.00")
        cls.queued_b1 = w.pay(cls.b, cls.c, "5000.00")
        cls.queued_b2 = w.pay(cls.b, cls.c, "6000.00")
        assert cls.queued_b1["status"] == "queued" and cls.queued_b2["status"] == "queued"
        cls.rate = {"base": "AZN", "quote": "KZT", "bid": "299.5", "ask": "300.5", "max_amount": "100000.00",
                    "valid_until": h.utc(delta_s=3600)}
        expect(w.as_(cls.fx).put("/v1/fx/rates", cls.rate), (200, 201))
        qreq = {"source_currency": "KZT", "creditor_agent": cls.az, "target_currency": "AZN", "amount": "30.05",
                "fixed": "source"}
        cls.quote_b = expect(w.as_(cls.b).post("/v1/fx/quotes", qreq), 201).json()
        cls.quote_a = expect(w.as_(cls.a).post("/v1/fx/quotes", qreq), 201).json()
        cls.qreq = qreq
        # A closed net window with b and a in it.
        w.pay(cls.b, cls.a, "10.00", method="net")
        cls.window = expect(w.op.get("/v1/net/windows/KZT"), 200).json()["id"]
        expect(w.op.post("/v1/net/windows/KZT/close"), 200)
        cls.new_bics = (f"N{n:03d}KZKA" for n in itertools.count(1))
        cls.open_combos = iter([(c, k) for c in ("KGS", "UZS", "TRY", "HUF", "TMT", "AZN")
                                for k in ("settlement", "collateral")])
        cls.admitted_by = {}   # BIC -> caller that tried to admit it
        cls.bic_of = {OP: h.OPERATOR_BIC, CB: w.agents["KZT"], BANK: cls.a, FX: cls.fx, "suspended": SUSPENDED_BIC,
                      "unknown": cls.a, "none": cls.a, "foreign": FOREIGN_BIC}
        foreign = w.foreign_cert[FOREIGN_BIC]
        cls.callers = {OP: w.op, CB: w.cb("KZT"), BANK: w.as_(cls.a), FX: w.as_(cls.fx),
                       "unknown": w.unknown(), "none": w.anonymous(), "suspended": w.as_(SUSPENDED_BIC),
                       "foreign": w.server.client(cert=foreign, name="foreign")}

    # -- rows
    def rows(self):
        w, c = self.world, type(self)
        sb, pb, pa = c.sb, c.pay_b, c.pay_a

        def own_account(caller):
            return f"/v1/accounts/{w.account_id(c.bic_of[caller]) if caller != 'foreign' else sb}/reservation"

        def new_participant(caller):
            bic = next(c.new_bics)
            c.admitted_by[bic] = caller
            return {"bic": bic, "name": f"Matrix {caller}", "role": "bank"}

        def new_account(caller):
            ccy, kind = next(c.open_combos) if caller == OP else ("KGS", "collateral")
            return {"bic": c.c, "currency": ccy, "kind": kind}

        def payment(caller):
            return {"creditor_agent": c.c, "currency": "KZT", "amount": "1.00"}

        def iso(caller):
            return h.pacs008(c.bic_of[caller], c.c, "1.00")[0]

        xml = "application/xml"
        return [
            Row("GET", "/healthz", P, public=True),
            Row("GET", "/readyz", P, public=True),
            Row("GET", "/metrics", {OP}),
            Row("GET", "/v1/me", P),
            Row("GET", "/v1/participants", P),
            Row("POST", "/v1/participants", {OP}, body=new_participant),
            Row("PATCH", f"/v1/participants/{c.c}", {OP}, body={"status": "active"}),
            Row("GET", "/v1/accounts", P),
            Row("GET", f"/v1/accounts?bic={c.b}&currency=KZT", {OP, CB}, either={BANK, FX}),  # empty or 403
            Row("POST", "/v1/accounts", {OP}, body=new_account),
            Row("GET", f"/v1/accounts/{sb}", {OP, CB}),
            Row("GET", f"/v1/accounts/{sb}/history", {OP, CB}),
            Row("GET", f"/v1/accounts/{sb}/statement", {OP, CB}),
            Row("GET", f"/v1/accounts/{sb}/statement?format=camt.053", {OP, CB}),
            Row("GET", f"/v1/accounts/{sb}/queue", {OP, CB}),
            Row("PUT", f"/v1/accounts/{sb}/credit-line", {CB}, body={"amount": "0.00"}),
            Row("PUT", f"/v1/accounts/{sb}/net-cap", {CB}, body={"amount": "100.00"}),
            Row("PUT", f"/v1/accounts/{sb}/reservation", set(), body={"amount": "0.00"}),
            Row("PUT", own_account, P, body={"amount": "0.00"}),
            Row("POST", "/v1/liquidity/inject", {CB}, body={"account": sb, "amount": "1.00"}),
            Row("POST", "/v1/liquidity/withdraw", {CB}, body={"account": sb, "amount": "1.00"}),
            Row("POST", "/v1/payments", P, body=payment),
            Row("POST", "/v1/iso20022", {CB, BANK, FX}, body=iso, ctype=xml),
            Row("GET", f"/v1/payments/{pb['id']}", {OP, CB}),
            Row("GET", f"/v1/payments/{pa['id']}", {OP, CB, BANK}),
            Row("GET", f"/v1/payments?uetr={pb['uetr']}", {OP, CB}),
            Row("GET", f"/v1/payments?uetr={pa['uetr']}", {OP, CB, BANK}),
            Row("POST", f"/v1/payments/{c.queued_b1['id']}/priority", {OP}, body={"priority": "normal"}),
            Row("POST", f"/v1/payments/{c.queued_b2['id']}/cancel", {OP}),
            Row("PUT", "/v1/fx/rates", {FX}, body=c.rate),
            Row("DELETE", "/v1/fx/rates/AZN/TRY", {FX}),
            Row("GET", "/v1/fx/rates", P),
            Row("POST", "/v1/fx/quotes", {BANK, CB}, body=c.qreq),
            Row("GET", f"/v1/fx/quotes/{c.quote_b['id']}", {OP, FX}),  # its FX provider may read it
            Row("GET", f"/v1/fx/quotes/{c.quote_a['id']}", {OP, BANK, FX}),
            Row("GET", "/v1/net/windows/KZT", P),
            Row("GET", f"/v1/net/windows/KZT?id={c.window}", P),
            Row("GET", f"/v1/net/windows/KZT/report?id={c.window}", {OP, CB, BANK}, either={FX}),
            Row("POST", "/v1/net/windows/KZT/close", {OP}),
            Row("POST", "/v1/cutoffs", {OP}, body={"priorities": ["normal"], "open": True}),
            Row("POST", "/v1/gridlock", {OP}, body={"currency": "KZT"}),
            Row("GET", "/v1/outbox", P),
            Row("GET", "/v1/outbox?limit=1", P),
            Row("POST", "/v1/outbox/ack", P, body={"seq": 1}),
            Row("POST", "/v1/business-day/close", {OP}),   # last: it closes every priority
        ]

    # -- one cell of the matrix
    def cell(self, row, caller):
        path, body = row.build(caller)
        client = self.callers[caller]
        try:
            r = client.request(row.method, path, body, ctype=row.ctype)
        except (ssl.SSLError, ConnectionError, http.client.HTTPException, OSError) as e:
            if caller == "foreign":
                return  # refused during the TLS handshake: acceptable
            raise AssertionError(f"{caller}: {row.method} {path}: no answer: {e!r}") from None
        what = f"{caller}: {row.method} {path}"
        if row.public or caller in row.allowed:
            self.assertFalse(h.refused(r), f"{what}: must be allowed, got {r}")
            self.assertLess(r.status, 500, f"{what}: {r}")
            return
        if caller in row.either and not h.refused(r):
            return
        status, code = {"unknown": (401, "unknown_client"), "none": (401, "unauthenticated"),
                        "suspended": (403, "participant_not_active"), "foreign": (401, None)}.get(caller,
                                                                                              (403, "forbidden"))
        # Served (2xx), or handed to the engine (422), when it must be refused: a hole.
        self.assertFalse(200 <= r.status < 300 or r.status == 422, f"{what}: must be refused, got {r}")
        self.assertLess(r.status, 500, f"{what}: {r}")
        if r.status != status or (code and r.code != code):
            # Refused, but not as docs/api.md says (e.g. 404 instead of 403): collected, reported once.
            self.deviations.append(f"{caller:12} {row.method} {path}: expected {status} {code or ''}, got "
                                   f"{r.status} {r.code}")

    def test_1_matrix(self):
        w, c = self.world, type(self)
        before = w.account(c.sb)
        self.deviations = []
        try:
            for row in self.rows():
                for caller in CALLERS:
                    with self.subTest(endpoint=str(row), caller=caller):
                        self.cell(row, caller)
        finally:
            w.op.post("/v1/cutoffs", {"priorities": ["normal", "urgent", "highly_urgent"], "open": True})
        with self.subTest("refusals with the status and code docs/api.md gives"):
            if self.deviations:
                self.fail(f"{len(self.deviations)} refusals not as docs/api.md says:\n" + "\n".join(self.deviations))
        # Refused writes left nothing behind.
        parts = expect(w.op.get("/v1/participants"), 200).json()
        for bic, caller in c.admitted_by.items():
            self.assertEqual(h.contains(parts, bic), caller == OP, f"participant {bic} tried by {caller}")
        after = w.account(c.sb)
        for f in ("balance", "credit_line", "reserved", "net_cap"):
            self.assertEqual(h.amount(after[f]), h.amount(before[f]), f"{f} of the tested account changed")
        accs = h.items(expect(w.op.get(f"/v1/accounts?bic={c.c}"), 200).json(), "accounts")
        kinds = {(a["currency"], a["kind"]) for a in accs}
        self.assertIn(("KGS", "settlement"), kinds)
        self.assertNotIn(("KGS", "collateral"), kinds, "an account opened by a refused caller")
        # Only the operator cancelled (the business day's close rejected what was still queued).
        self.assertEqual(expect(w.op.get(f"/v1/payments/{c.queued_b2['id']}"), 200).json()["status"],
                         "cancelled")

    def test_2_tokens_ignored_without_demo(self):
        """Without demo mode a bearer token is no credential (the server may even refuse [tokens] then)."""
        w = self.world
        tok = "t" * 32
        expect(w.server.client(token=tok).get("/v1/me"), 401, code=("unauthenticated", "unknown_client"))
        expect(w.server.client(cert=w.cert["unknown"], token=tok).get("/v1/me"), 401, code="unknown_client")
        expect(w.server.client(token=tok).get("/metrics"), 401)
        me = expect(w.server.client(cert=w.cert[self.a], token=tok).get("/v1/me"), 200).json()
        self.assertEqual(me["bic"], self.a)

    def test_3_subject_not_used_by_default(self):
        w = self.world
        cert = w.certs.client("cn-only-" + self.a, cn=self.a)  # signed by the CA, CN = an admitted bank
        expect(w.server.client(cert=cert).get("/v1/me"), 401, code="unknown_client")


class DemoTlsTest(h.WorldTest):
    """demo = yes over TLS with client_bic_from_subject = yes: tokens and subject CNs identify participants."""
    world_name = "auth-demo"
    world_kw = {"tokens": True, "server": {"demo": "yes"}, "tls": {"client_bic_from_subject": "yes"},
                "kz_banks": ["K001KZKA", "K002KZKA"], "az_banks": [], "fx": [],
                "extra_identities": ["K003KZKA", "K004KZKA"]}  # K003 never admitted; K004 admitted by token

    def test_tokens(self):
        w = self.world
        tok = w.tokens
        me = expect(w.server.client(token=tok[h.OPERATOR_BIC]).get("/v1/me"), 200).json()
        self.assertEqual(me["role"], "operator")
        bank = w.new_bank()
        me = expect(w.server.client(token=tok[bank]).get("/v1/me"), 200).json()
        self.assertEqual((me["bic"], me["role"]), (bank, "bank"))
        expect(w.server.client(token=tok[bank]).get("/metrics"), 403, code="forbidden")
        expect(w.server.client(token=tok[w.agents["KZT"]]).get("/metrics"), 403, code="forbidden")
        expect(w.server.client(token=tok[h.OPERATOR_BIC]).get("/metrics"), 200)
        expect(w.server.client(token="x" * 40).get("/v1/me"), 401, code="unknown_client")
        # A token listed for a BIC that is no participant (yet).
        expect(w.server.client(token=tok["K003KZKA"]).get("/v1/me"), 401, code="unknown_client")
        expect(w.server.anonymous().get("/v1/me"), 401, code="unauthenticated")
        r = w.server.anonymous().get("/v1/me", headers={"Authorization": "Basic " + "eDp5" * 4})
        expect(r, 401)
        r = w.server.anonymous().get("/v1/me", headers={"Authorization": "Bearer"})
        expect(r, 401)
        # Token holders write like certificate holders (the operator admits with its token).
        opt = w.server.client(token=tok[h.OPERATOR_BIC])
        expect(opt.post("/v1/participants", {"bic": "K004KZKA", "name": "By token", "role": "bank"}), 201)
        expect(w.server.client(token=tok["K004KZKA"]).post(
            "/v1/participants", {"bic": "K009KZKA", "name": "No", "role": "bank"}), 403, code="forbidden")

    def test_subject_cn(self):
        w = self.world
        bank = w.new_bank()
        cert = w.certs.client("cn-" + bank, cn=bank)  # not listed: identified by its CN
        me = expect(w.server.client(cert=cert).get("/v1/me"), 200).json()
        self.assertEqual(me["bic"], bank)
        cert = w.certs.client("cn-unknown", cn="ZZZZKZKA")
        expect(w.server.client(cert=cert).get("/v1/me"), 401, code="unknown_client")
        cert = w.certs.client("cn-notabic", cn="not a BIC at all")
        expect(w.server.client(cert=cert).get("/v1/me"), 401, code="unknown_client")
        # A self-signed certificate claiming the bank's CN does not chain to the CA: never that bank.
        forged = w.certs.foreign("forged-" + bank, cn=bank)
        try:
            r = w.server.client(cert=forged).get("/v1/me")
        except (ssl.SSLError, ConnectionError, OSError):
            return
        expect(r, 401)


class DemoPlainTest(h.WorldTest):
    """tls = no, demo = yes on loopback: plain HTTP, bearer tokens."""
    world_name = "auth-plain"
    world_kw = {"tokens": True, "server": {"demo": "yes", "tls": "no"}, "kz_banks": ["K001KZKA"],
                "az_banks": [], "fx": []}

    def test_plain_http(self):
        w = self.world
        self.assertTrue(w.server.url.startswith("http://127.0.0.1:"), w.server.url)
        expect(w.server.anonymous().get("/healthz"), 200)
        me = expect(w.server.client(token=w.tokens[h.OPERATOR_BIC]).get("/v1/me"), 200).json()
        self.assertEqual(me["role"], "operator")
        expect(w.server.anonymous().get("/v1/me"), 401, code="unauthenticated")
        expect(w.server.client(token=uuid.uuid4().hex).get("/v1/participants"), 401, code="unknown_client")


if __name__ == "__main__":
    h.main()
