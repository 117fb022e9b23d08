#!/usr/bin/env python3
"""Every endpoint of ortakd (docs/api.md) against a real server on loopback: success and refusal cases.

    python3 tests/integration/test_api.py --ortakd PATH/TO/ortakd --ortak PATH/TO/ortak
"""
import json
import os
import sys
import threading
import time
import uuid
from decimal import Decimal

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import expect, items, assert_amount, amount, HEX32, UUID_RE  # noqa: E402


def bic8(b):
    return b[:8] if len(b) == 11 and b.endswith("XXX") else b


class ApiTest(h.WorldTest):
    world_name = "api"

    def forbidden(self, resp):
        """docs/api.md: "a known participant asking for what is not its own, 403 forbidden"."""
        with self.soft(f"403 forbidden for {resp.method} {resp.path}"):
            expect(resp, 403, code="forbidden")

    # ---------------------------------------------------------------------------------------------- probes
    def test_01_health_and_ready(self):
        anon = self.world.anonymous()
        r = expect(anon.get("/healthz"), 200)
        self.assertEqual(r.json(), {"status": "ok"})
        self.assertEqual(r.content_type, "application/json")
        r = expect(anon.get("/readyz"), 200)
        self.assertEqual(r.json(), {"status": "ready"})
        # Probes need no credentials but work with them too.
        expect(self.world.op.get("/healthz"), 200)
        expect(self.world.unknown().get("/readyz"), 200)

    def test_02_first_start_directory(self):
        w = self.world
        r = expect(w.op.get("/v1/participants"), 200)
        parts = {bic8(p["bic"]): p for p in items(r.json(), "participants")}
        op = parts.get(bic8(h.OPERATOR_BIC))
        self.assertIsNotNone(op, f"the operator is not in the directory: {r}")
        self.assertEqual(op["role"], "operator")
        self.assertEqual(op["name"], h.OPERATOR_NAME)
        self.assertEqual(op["status"], "active")
        for ccy, agent in w.agents.items():
            p = parts.get(bic8(agent))
            self.assertIsNotNone(p, f"central bank {agent} of {ccy} was not created at first start: {r}")
            self.assertEqual(p["role"], "central_bank", agent)
            acc = items(expect(w.op.get(f"/v1/accounts?bic={agent}"), 200).json(), "accounts")
            kinds = {(a["currency"], a["kind"]) for a in acc}
            self.assertIn((ccy, "issuance"), kinds, f"{agent}: {acc}")
            self.assertIn((ccy, "settlement"), kinds, f"{agent}: {acc}")
            for a in acc:
                self.assertTrue(HEX32.match(a["id"]), a)
                self.assertEqual(bic8(a["bic"]), bic8(agent), a)
        acc = items(expect(w.op.get(f"/v1/accounts?bic={h.OPERATOR_BIC}"), 200).json(), "accounts")
        have = {a["currency"] for a in acc if a["kind"] == "settlement"}
        self.assertEqual(have, set(w.agents), f"operator settlement accounts: {acc}")

    def test_03_me(self):
        w = self.world
        me = expect(w.op.get("/v1/me"), 200).json()
        self.assertEqual(bic8(me["bic"]), bic8(h.OPERATOR_BIC))
        self.assertEqual((me["role"], me["status"], me["country"]), ("operator", "active", "TR"))
        self.assertEqual(me["name"], h.OPERATOR_NAME)
        me = expect(w.cb("KZT").get("/v1/me"), 200).json()
        self.assertEqual((bic8(me["bic"]), me["role"], me["country"]), (w.agents["KZT"], "central_bank", "KZ"))
        bank = w.new_bank("AZ")
        me = expect(w.as_(bank).get("/v1/me"), 200).json()
        self.assertEqual((me["bic"], me["role"], me["status"], me["country"]), (bank, "bank", "active", "AZ"))
        fx = w.new_bank(role="fx_provider")
        self.assertEqual(expect(w.as_(fx).get("/v1/me"), 200).json()["role"], "fx_provider")

    # ---------------------------------------------------------------------------------------------- participants
    def test_04_admit_participant(self):
        w = self.world
        bic = w.pool["KZ"].pop(0)
        r = expect(w.op.post("/v1/participants", {"bic": bic, "name": "Halyk Test", "country": "KZ",
                                                  "role": "bank"}), 201)
        self.assertEqual(r.json().get("bic"), bic, r)
        parts = {p["bic"]: p for p in items(expect(w.op.get("/v1/participants"), 200).json(), "participants")}
        self.assertEqual((parts[bic]["name"], parts[bic]["role"], parts[bic]["status"], parts[bic]["country"]),
                         ("Halyk Test", "bank", "active", "KZ"))
        # A bank sees the same directory.
        self.assertTrue(h.contains(expect(w.as_(bic).get("/v1/participants"), 200).json(), bic))
        expect(w.op.post("/v1/participants", {"bic": bic, "name": "Again", "role": "bank"}), 422,
               code="participant_exists")
        expect(w.op.post("/v1/participants", {"bic": "NOT-A-BIC", "name": "X", "role": "bank"}), (400, 422),
               code=("field_invalid", "bic_invalid"))
        expect(w.op.post("/v1/participants", {"bic": "ZZZZKZKA", "name": "X", "role": "king"}), (400, 422),
               code=("field_invalid", "role_invalid"))
        expect(w.op.post("/v1/participants", {"bic": "ZZZZKZKA", "name": "", "role": "bank"}), (400, 422),
               code=("field_invalid", "name_invalid"))
        expect(w.op.post("/v1/participants", {"bic": "ZZZZKZKA", "name": "X", "role": "bank", "country": "QQ"}),
               (400, 422), code=("field_invalid", "country_invalid"))
        # None of the refused admissions left a participant behind.
        self.assertFalse(h.contains(expect(w.op.get("/v1/participants"), 200).json(), "ZZZZKZKA"))

    def test_05_participant_status(self):
        w = self.world
        payer = w.new_bank(fund={"KZT": "100.00"})
        bank = w.new_bank(fund={"KZT": "100.00"})
        expect(w.op.patch(f"/v1/participants/{bank}", {"status": "suspended"}), 200)
        expect(w.as_(bank).get("/v1/me"), 403, code="participant_not_active")
        r = w.as_(bank).post("/v1/payments", {"creditor_agent": payer, "currency": "KZT", "amount": "1.00"})
        expect(r, 403, code="participant_not_active")
        parts = {p["bic"]: p for p in items(expect(w.op.get("/v1/participants"), 200).json(), "participants")}
        self.assertEqual(parts[bank]["status"], "suspended")
        # Paying a suspended participant is refused by the engine (ledger: owned by active participants).
        r = w.as_(payer).post("/v1/payments", {"creditor_agent": bank, "currency": "KZT", "amount": "1.00"})
        expect(r, 422, code="participant_not_active", reason="AG10")
        self.assertEqual(r.json()["payment"]["status"], "rejected")
        expect(w.op.patch(f"/v1/participants/{bank}", {"status": "active"}), 200)
        expect(w.as_(bank).get("/v1/me"), 200)
        w.pay(bank, payer, "1.00")
        # closed is final
        idle = w.new_bank()
        expect(w.op.patch(f"/v1/participants/{idle}", {"status": "closed"}), 200)
        expect(w.as_(idle).get("/v1/me"), 403, code="participant_not_active")
        expect(w.op.patch(f"/v1/participants/{idle}", {"status": "active"}), 422, code="status_invalid")
        expect(w.op.patch(f"/v1/participants/{bank}", {"status": "sleeping"}), (400, 422),
               code=("field_invalid", "status_invalid"), field=None)
        expect(w.op.patch("/v1/participants/ZZZZKZKA", {"status": "suspended"}), (404, 422),
               code=("not_found", "participant_not_found"))

    # ---------------------------------------------------------------------------------------------- accounts
    def test_06_open_and_list_accounts(self):
        w = self.world
        bank = w.new_bank()
        az = w.new_bank("AZ")
        sid = w.account_id(bank, "KZT")
        cid = w.open_account(bank, "KZT", "collateral")
        self.assertNotEqual(sid, cid)
        # The id follows from (bic, currency, kind): opening it again finds the same account or says it exists.
        r = w.op.post("/v1/accounts", {"bic": bank, "currency": "KZT", "kind": "collateral"})
        if r.status in (200, 201):
            self.assertEqual(r.json()["id"], cid, r)
        else:
            expect(r, 422, code="account_exists")
        expect(w.op.post("/v1/accounts", {"bic": bank, "currency": "KZT", "kind": "issuance"}), 422,
               code="issuance_not_agent", reason="AG01")
        expect(w.op.post("/v1/accounts", {"bic": bank, "currency": "USD", "kind": "settlement"}), (400, 422),
               code=("currency_unknown", "field_invalid"))
        expect(w.op.post("/v1/accounts", {"bic": bank, "currency": "KZT", "kind": "savings"}), (400, 422),
               code=("field_invalid", "account_kind_invalid"))
        expect(w.op.post("/v1/accounts", {"bic": "ZZZZKZKA", "currency": "KZT", "kind": "settlement"}),
               (404, 422), code=("participant_not_found", "not_found"))
        # A bank reads its own accounts only.
        own = items(expect(w.as_(bank).get("/v1/accounts"), 200).json(), "accounts")
        self.assertEqual({a["id"] for a in own}, {sid, cid}, own)
        for a in own:
            self.assertEqual((a["bic"], a["currency"]), (bank, "KZT"))
        self.assertEqual({a["kind"] for a in own}, {"settlement", "collateral"})
        # The central bank of KZT reads every KZT account, and no account in another currency.
        cbacc = items(expect(w.cb("KZT").get("/v1/accounts"), 200).json(), "accounts")
        ids = {a["id"] for a in cbacc}
        self.assertIn(sid, ids)
        self.assertIn(cid, ids)
        self.assertEqual({a["currency"] for a in cbacc}, {"KZT"}, cbacc)
        # The operator reads all; filters narrow.
        allacc = items(expect(w.op.get("/v1/accounts"), 200).json(), "accounts")
        self.assertIn(w.account_id(az, "AZN"), {a["id"] for a in allacc})
        self.assertIn(sid, {a["id"] for a in allacc})
        azn = items(expect(w.op.get("/v1/accounts?currency=AZN"), 200).json(), "accounts")
        self.assertTrue(azn and all(a["currency"] == "AZN" for a in azn), azn)
        mine = items(expect(w.op.get(f"/v1/accounts?bic={bank}&currency=KZT"), 200).json(), "accounts")
        self.assertEqual({a["id"] for a in mine}, {sid, cid})
        # A bank filtering on another's BIC gets nothing of it (or is refused).
        r = w.as_(az).get(f"/v1/accounts?bic={bank}")
        if r.status == 200:
            self.assertEqual(items(r.json(), "accounts"), [], r)
        else:
            self.forbidden(r)

    def test_07_account_balances(self):
        w = self.world
        bank = w.new_bank(fund={"KZT": "1000.00"})
        other = w.new_bank()
        aid = w.account_id(bank, "KZT")
        acc = w.account(aid, w.as_(bank))
        for f in ("balance", "available", "credit_line", "reserved", "debits_pending", "credits_pending",
                  "net_cap", "queued"):
            self.assertIn(f, acc, f"GET /v1/accounts/{{id}} lacks {f}: {acc}")
        assert_amount(acc["balance"], "1000.00")
        assert_amount(acc["available"], "1000.00")
        for f in ("credit_line", "reserved", "debits_pending", "credits_pending", "net_cap"):
            assert_amount(acc[f], "0", f)
        self.assertEqual(amount(acc["balance"]).as_tuple().exponent, -2, "amounts carry the minor units")
        # Readers: the owner, the central bank of the currency, the operator.
        expect(w.cb("KZT").get(f"/v1/accounts/{aid}"), 200)
        expect(w.op.get(f"/v1/accounts/{aid}"), 200)
        self.forbidden(w.as_(other).get(f"/v1/accounts/{aid}"))
        self.forbidden(w.cb("AZN").get(f"/v1/accounts/{aid}"))
        expect(w.op.get("/v1/accounts/" + uuid.uuid4().hex), 404, code="not_found")
        expect(w.op.get("/v1/accounts/not-an-id"), (400, 404), code=("field_invalid", "not_found"))
        expect(w.op.get("/v1/accounts/" + "A" * 32), (400, 404), code=("field_invalid", "not_found"))

    def test_08_credit_line_and_reservation(self):
        w = self.world
        bank = w.new_bank(fund={"KZT": "1000.00"})
        payee = w.new_bank()
        aid = w.account_id(bank, "KZT")
        expect(w.cb("KZT").put(f"/v1/accounts/{aid}/credit-line", {"amount": "500.00"}), 200)
        acc = w.account(aid)
        assert_amount(acc["credit_line"], "500.00")
        assert_amount(acc["available"], "1500.00")
        self.assertEqual(w.pay(bank, payee, "1200.00")["status"], "settled")
        acc = w.account(aid)
        assert_amount(acc["balance"], "-200.00")
        assert_amount(acc["available"], "300.00")
        expect(w.cb("KZT").put(f"/v1/accounts/{aid}/credit-line", {"amount": "100.00"}), 422,
               code="credit_line_in_use")
        expect(w.cb("KZT").put(f"/v1/accounts/{aid}/credit-line", {"amount": "-1.00"}), (400, 422),
               code=("negative_amount", "field_invalid"))
        self.forbidden(w.as_(bank).put(f"/v1/accounts/{aid}/credit-line", {"amount": "9000.00"}))
        self.forbidden(w.cb("AZN").put(f"/v1/accounts/{aid}/credit-line", {"amount": "9000.00"}))
        self.forbidden(w.op.put(f"/v1/accounts/{aid}/credit-line", {"amount": "9000.00"}))
        assert_amount(w.account(aid)["credit_line"], "500.00")
        cid = w.open_account(bank, "KZT", "collateral")
        expect(w.cb("KZT").put(f"/v1/accounts/{cid}/credit-line", {"amount": "1.00"}), 422,
               code="kind_not_allowed")
        # Reservation: the owner's.
        expect(w.as_(bank).put(f"/v1/accounts/{aid}/reservation", {"amount": "100.00"}), 200)
        acc = w.account(aid)
        assert_amount(acc["reserved"], "100.00")
        assert_amount(acc["available"], "200.00")
        self.forbidden(w.as_(payee).put(f"/v1/accounts/{aid}/reservation", {"amount": "0"}))
        self.forbidden(w.cb("KZT").put(f"/v1/accounts/{aid}/reservation", {"amount": "0"}))
        # A normal payment cannot use the reserved part; an urgent one can.
        self.assertEqual(w.pay(bank, payee, "250.00")["status"], "queued")
        self.assertEqual(w.pay(bank, payee, "50.00", priority="urgent")["status"], "settled")
        expect(w.as_(bank).put(f"/v1/accounts/{aid}/reservation", {"amount": "0.00"}), 200)
        assert_amount(w.account(aid)["reserved"], "0.00")

    def test_09_liquidity(self):
        w = self.world
        bank = w.new_bank()
        aid = w.account_id(bank, "KZT")
        iss = w.account_id(w.agents["KZT"], "KZT", "issuance")
        before = amount(w.account(iss, w.cb("KZT"))["balance"])
        r = expect(w.cb("KZT").post("/v1/liquidity/inject", {"account": aid, "amount": "250.00"}), (200, 201))
        assert_amount(w.account(aid)["balance"], "250.00")
        self.assertEqual(amount(w.account(iss, w.cb("KZT"))["balance"]), before - Decimal("250.00"), r)
        expect(w.cb("KZT").post("/v1/liquidity/withdraw", {"account": aid, "amount": "50.00"}), (200, 201))
        assert_amount(w.account(aid)["balance"], "200.00")
        self.assertEqual(amount(w.account(iss)["balance"]), before - Decimal("200.00"))
        expect(w.cb("KZT").post("/v1/liquidity/withdraw", {"account": aid, "amount": "200.01"}), 422,
               code="insufficient_funds", reason="AM04")
        self.forbidden(w.cb("AZN").post("/v1/liquidity/inject", {"account": aid, "amount": "1.00"}))
        self.forbidden(w.as_(bank).post("/v1/liquidity/inject", {"account": aid, "amount": "1.00"}))
        self.forbidden(w.op.post("/v1/liquidity/inject", {"account": aid, "amount": "1.00"}))
        expect(w.cb("KZT").post("/v1/liquidity/inject", {"account": aid, "amount": "0.00"}), (400, 422),
               code=("amount_zero", "field_invalid"))
        expect(w.cb("KZT").post("/v1/liquidity/inject", {"account": aid, "amount": "1.005"}), (400, 422),
               code=("field_invalid", "amount_invalid"), field=("amount", None))
        expect(w.cb("KZT").post("/v1/liquidity/inject", {"account": uuid.uuid4().hex, "amount": "1.00"}),
               (404, 422), code=("not_found", "account_not_found"))
        assert_amount(w.account(aid)["balance"], "200.00")

    def test_10_close_account(self):
        w = self.world
        bank = w.new_bank(fund={"KZT": "10.00"})
        payer = w.new_bank(fund={"KZT": "10.00"})
        aid = w.account_id(bank, "KZT")
        expect(w.op.post(f"/v1/accounts/{aid}/close"), 422, code="account_not_empty")
        self.forbidden(w.as_(bank).post(f"/v1/accounts/{aid}/close"))
        expect(w.cb("KZT").post("/v1/liquidity/withdraw", {"account": aid, "amount": "10.00"}), (200, 201))
        expect(w.op.post(f"/v1/accounts/{aid}/close"), 200)
        acc = w.account(aid)
        if "status" in acc:  # the spec lists balances only; when the account says its status, it is closed
            self.assertEqual(acc["status"], "closed", acc)
        r = w.op.post(f"/v1/accounts/{aid}/close")  # again: done already, or refused as closed
        if r.status != 200:
            expect(r, 422, code="account_closed")
        r = w.as_(payer).post("/v1/payments", {"creditor_agent": bank, "currency": "KZT", "amount": "1.00"})
        expect(r, 422, code=("account_closed", "account_not_found"))
        expect(w.op.post(f"/v1/accounts/{uuid.uuid4().hex}/close"), (404, 422),
               code=("not_found", "account_not_found"))

    # ---------------------------------------------------------------------------------------------- payments
    def check_payment(self, p, status=None):
        self.assertTrue(HEX32.match(p.get("id", "")), p)
        self.assertTrue(UUID_RE.match(p.get("uetr", "")), f"not a lowercase v4 UUID: {p}")
        self.assertEqual(p["id"], h.payment_id_of_uetr(p["uetr"]), f"id does not follow from the UETR: {p}")
        if status:
            self.assertEqual(p["status"], status, p)

    def test_11_payment_settled_and_read(self):
        w = self.world
        a, b, c = w.new_bank(fund={"KZT": "1000.00"}), w.new_bank(), w.new_bank()
        p = w.pay(a, b, "100.00")
        self.check_payment(p, "settled")
        assert_amount(w.account(w.account_id(a))["balance"], "900.00")
        assert_amount(w.account(w.account_id(b))["balance"], "100.00")
        for who in (w.as_(a), w.as_(b), w.cb("KZT"), w.op):
            q = expect(who.get(f"/v1/payments/{p['id']}"), 200, what=who.name).json()
            self.assertEqual((q["id"], q["uetr"], q["status"]), (p["id"], p["uetr"], "settled"), q)
            assert_amount(q["amount"], "100.00")
            self.assertEqual(q.get("currency"), "KZT", q)
        self.forbidden(w.as_(c).get(f"/v1/payments/{p['id']}"))
        self.forbidden(w.cb("AZN").get(f"/v1/payments/{p['id']}"))
        q = expect(w.as_(a).get(f"/v1/payments?uetr={p['uetr']}"), 200).json()
        self.assertEqual(q["id"], p["id"], q)
        self.forbidden(w.as_(c).get(f"/v1/payments?uetr={p['uetr']}"))
        expect(w.op.get(f"/v1/payments/{uuid.uuid4().hex}"), 404, code="not_found")
        expect(w.op.get(f"/v1/payments?uetr={uuid.uuid4()}"), 404, code="not_found")
        expect(w.op.get("/v1/payments?uetr=not-a-uuid"), (400, 404), code=("field_invalid", "not_found"))

    def test_12_payment_uetr_and_refusals(self):
        w = self.world
        a, b = w.new_bank(fund={"KZT": "1000.00"}), w.new_bank()
        uetr = str(uuid.uuid4())
        p = w.pay(a, b, "10.00", uetr=uetr, end_to_end_id="E2E-" + "x" * 31)
        self.check_payment(p, "settled")
        self.assertEqual(p["uetr"], uetr)
        # The same UETR for a different payment: refused, the first payment unchanged.
        r = w.as_(a).post("/v1/payments", {"creditor_agent": b, "currency": "KZT", "amount": "11.00",
                                           "uetr": uetr})
        expect(r, 409, code="payment_exists_different", reason="DUPL")
        self.assertNotIn("payment", r.json(), "the refusal must not describe the existing payment as rejected")
        self.assertEqual(expect(w.as_(a).get(f"/v1/payments/{p['id']}"), 200).json()["status"], "settled")
        assert_amount(w.account(w.account_id(a))["balance"], "990.00")
        for body, codes in (
                ({"amount": "10.00", "end_to_end_id": "x" * 36}, ("field_invalid",)),
                ({"amount": "10.001"}, ("field_invalid", "amount_invalid")),
                ({"amount": "0.00"}, ("field_invalid", "amount_zero")),
                ({"amount": "-5.00"}, ("field_invalid", "negative_amount", "amount_invalid")),
                ({"amount": "1.00", "uetr": "not-a-uuid"}, ("field_invalid",)),
                ({"amount": "1.00", "priority": "whenever"}, ("field_invalid", "priority_invalid")),
                ({"amount": "1.00", "method": "barter"}, ("field_invalid", "method_invalid")),
                ({"amount": "1.00", "latest_settlement": "tomorrow"}, ("field_invalid",)),
                ({"amount": "1.00", "quote_id": "xyz"}, ("field_invalid",))):
            full = {"creditor_agent": b, "currency": "KZT"}
            full.update(body)
            expect(w.as_(a).post("/v1/payments", full), (400, 422), code=codes, what=json.dumps(body))
        # Engine refusals are recorded payments: 422 with the payment, status rejected.
        r = w.as_(a).post("/v1/payments", {"creditor_agent": b, "currency": "KZT", "amount": "1.00",
                                           "latest_settlement": "2020-01-01T00:00:00Z"})
        expect(r, 422, code="latest_time_passed", reason="AB03")
        self.check_payment(r.json()["payment"], "rejected")
        r = w.as_(a).post("/v1/payments", {"creditor_agent": b, "currency": "KZT", "amount": "1.00",
                                           "method": "net", "priority": "urgent"})
        expect(r, 422, code="method_invalid")
        r = w.as_(a).post("/v1/payments", {"creditor_agent": "ZZZZKZKA", "currency": "KZT", "amount": "1.00"})
        expect(r, 422, code=("participant_not_found", "account_not_found"))
        with self.soft("an unknown payee's refusal carries its ISO reason"):
            expect(r, 422, reason=("RC01", "AC01"))
        r = w.as_(a).post("/v1/payments", {"creditor_agent": b, "currency": "AZN", "amount": "1.00"})
        expect(r, 422, code="account_not_found")
        with self.soft("account_not_found carries its ISO reason AC01"):
            expect(r, 422, reason="AC01")
        r = w.as_(a).post("/v1/payments", {"creditor_agent": b, "currency": "XAU", "amount": "1.00"})
        expect(r, (400, 422), code=("currency_unknown", "field_invalid"))
        assert_amount(w.account(w.account_id(a))["balance"], "990.00")

    def test_13_payment_idempotency(self):
        w = self.world
        a, b, c = w.new_bank(fund={"KZT": "1000.00"}), w.new_bank(), w.new_bank(fund={"KZT": "100.00"})
        body = {"creditor_agent": b, "currency": "KZT", "amount": "25.00"}
        r1 = expect(w.as_(a).post("/v1/payments", body, key="pay-0001"), 201)
        self.assertNotEqual(r1.headers.get("idempotent-replayed"), "true")
        r2 = expect(w.as_(a).post("/v1/payments", body, key="pay-0001"), (200, 201))
        self.assertEqual(r2.headers.get("idempotent-replayed"), "true", r2)
        self.assertEqual(r2.json(), r1.json())
        assert_amount(w.account(w.account_id(a))["balance"], "975.00")
        # The key fixes the UETR: another participant using the same key pays with another UETR.
        r3 = expect(w.as_(c).post("/v1/payments", body, key="pay-0001"), 201)
        self.assertNotEqual(r3.json()["uetr"], r1.json()["uetr"])
        self.assertNotEqual(r3.headers.get("idempotent-replayed"), "true")
        # Different body under the same key.
        r4 = w.as_(a).post("/v1/payments", dict(body, amount="26.00"), key="pay-0001")
        expect(r4, 409, code="idempotency_key_reused")
        assert_amount(w.account(w.account_id(a))["balance"], "975.00")
        # Without a key every request is a new payment.
        p5, p6 = w.pay(a, b, "1.00"), w.pay(a, b, "1.00")
        self.assertNotEqual(p5["uetr"], p6["uetr"])
        assert_amount(w.account(w.account_id(a))["balance"], "973.00")

    def test_14_queue_priority_cancel(self):
        w = self.world
        a, b = w.new_bank(), w.new_bank()
        aid = w.account_id(a)
        p1 = w.pay(a, b, "100.00")
        p2 = w.pay(a, b, "30.00")
        self.check_payment(p1, "queued")
        self.assertEqual(p2["status"], "queued")
        acc = w.account(aid)
        qd = acc["queued"]  # the spec does not say whether a count or a value: either must show both payments
        if isinstance(qd, dict):
            self.assertEqual((qd.get("count"), Decimal(qd.get("value", "0"))), (2, Decimal("130.00")), acc)
        else:
            self.assertTrue(qd == 2 or (isinstance(qd, str) and Decimal(qd) in (2, Decimal("130.00"))), acc)
        q = expect(w.as_(a).get(f"/v1/accounts/{aid}/queue"), 200).json()
        self.assertTrue(h.contains(q, p1["id"]) and h.contains(q, p2["id"]), q)
        self.assertLess(json.dumps(q).index(p1["id"]), json.dumps(q).index(p2["id"]), "settlement order")
        expect(w.cb("KZT").get(f"/v1/accounts/{aid}/queue"), 200)
        self.forbidden(w.as_(b).get(f"/v1/accounts/{aid}/queue"))
        # Priority: the payer or the operator.
        expect(w.as_(a).post(f"/v1/payments/{p2['id']}/priority", {"priority": "urgent"}), 200)
        q = expect(w.as_(a).get(f"/v1/payments/{p2['id']}"), 200).json()
        self.assertEqual(q.get("priority"), "urgent", q)
        hu = w.pay(a, b, "1.00", priority="highly_urgent", status=201)
        self.assertEqual(hu["status"], "queued", hu)
        q = expect(w.as_(a).get(f"/v1/accounts/{aid}/queue"), 200).json()
        self.assertLess(json.dumps(q).index(hu["id"]), json.dumps(q).index(p1["id"]), "highly urgent first")
        expect(w.as_(a).post(f"/v1/payments/{hu['id']}/cancel"), 200)
        expect(w.as_(a).post(f"/v1/payments/{p2['id']}/priority", {"priority": "normal"}), 200)
        self.forbidden(w.as_(b).post(f"/v1/payments/{p2['id']}/priority", {"priority": "urgent"}))
        expect(w.as_(a).post(f"/v1/payments/{p2['id']}/priority", {"priority": "asap"}), (400, 422),
               code=("field_invalid", "priority_invalid"))
        # Cancel: the payer or the operator, queued payments only.
        self.forbidden(w.as_(b).post(f"/v1/payments/{p1['id']}/cancel"))
        self.forbidden(w.cb("KZT").post(f"/v1/payments/{p1['id']}/cancel"))
        expect(w.as_(a).post(f"/v1/payments/{p1['id']}/cancel"), 200)
        self.assertEqual(expect(w.as_(a).get(f"/v1/payments/{p1['id']}"), 200).json()["status"], "cancelled")
        expect(w.as_(a).post(f"/v1/payments/{p1['id']}/cancel"), 409, code="payment_not_queued")
        expect(w.op.post(f"/v1/payments/{uuid.uuid4().hex}/cancel"), (404, 422),
               code=("not_found", "payment_not_found"))
        # Liquidity arriving releases the queue (FIFO).
        p3 = w.pay(a, b, "20.00")
        w.inject(aid, "50.00")
        self.assertEqual(expect(w.op.get(f"/v1/payments/{p2['id']}"), 200).json()["status"], "settled")
        self.assertEqual(expect(w.op.get(f"/v1/payments/{p3['id']}"), 200).json()["status"], "settled")
        assert_amount(w.account(aid)["balance"], "0.00")
        expect(w.op.post(f"/v1/payments/{p3['id']}/cancel"), 409, code="payment_not_queued")
        p4 = w.pay(a, b, "5.00")
        expect(w.op.post(f"/v1/payments/{p4['id']}/cancel"), 200)

    # ---------------------------------------------------------------------------------------------- ISO 20022
    def iso(self, who, xml, accept=None):
        return who.post("/v1/iso20022", xml, ctype="application/xml", accept=accept)

    def test_15_iso20022(self):
        w = self.world
        a, b = w.new_bank(fund={"KZT": "1000.00"}), w.new_bank()
        xml, msg_id, uetr = h.pacs008(a, b, "100.00")
        r = expect(self.iso(w.as_(a), xml), 200).json()
        self.assertEqual(r["msg_id"], msg_id)
        self.assertEqual(len(r["transactions"]), 1, r)
        tx = r["transactions"][0]
        self.assertEqual((tx["uetr"], tx["id"], tx["status"]), (uetr, h.payment_id_of_uetr(uetr), "settled"), r)
        assert_amount(w.account(w.account_id(b))["balance"], "100.00")
        q = expect(w.as_(b).get(f"/v1/payments/{tx['id']}"), 200).json()
        self.assertEqual((q["uetr"], q["status"]), (uetr, "settled"))
        # The same message id again: a duplicate, nothing booked.
        expect(self.iso(w.as_(a), xml), 409, code="iso_duplicate_message")
        assert_amount(w.account(w.account_id(b))["balance"], "100.00")
        # Answered as a pacs.002 in XML: one transaction, then two.
        xml, msg_id, uetr = h.pacs008(a, b, "50.00")
        r = expect(self.iso(w.as_(a), xml, accept="application/xml"), 200)
        self.assertEqual(r.content_type, "application/xml", r)
        for s in ("pacs.002.001.10", uetr, msg_id, "ACSC"):
            self.assertIn(s, r.text)
        ok, out = h.iso_validate(r.body, w.dir / "iso")
        self.assertTrue(ok, f"the pacs.002 answer is not valid: {out}\n{r.text}")
        xml, msg_id, uetrs = h.pacs008(a, b, "25.00", extra_tx=1)
        r = expect(self.iso(w.as_(a), xml, accept="application/xml"), 200)
        # several transactions: answered in JSON (docs/api.md), one status per transaction
        self.assertEqual(r.content_type, "application/json", r)
        self.assertEqual([t["uetr"] for t in r.json()["transactions"]], uetrs, r)
        self.assertEqual({t["status"] for t in r.json()["transactions"]}, {"settled"}, r)
        assert_amount(w.account(w.account_id(b))["balance"], "200.00")
        # Short of liquidity: queued.
        xml, _, uetr = h.pacs008(a, b, "5000.00")
        tx = expect(self.iso(w.as_(a), xml), 200).json()["transactions"][0]
        self.assertEqual(tx["status"], "queued", tx)
        expect(w.as_(a).post(f"/v1/payments/{tx['id']}/cancel"), 200)
        # Unreadable: 400, or the admi.002 with Accept: application/xml.
        expect(self.iso(w.as_(a), "this is not XML"), 400, code="iso_unreadable")
        r = expect(self.iso(w.as_(a), "<Document>", accept="application/xml"), 400)
        self.assertEqual(r.content_type, "application/xml", r)
        self.assertIn("admi.002.001.01", r.text)
        with self.soft("the admi.002 answer passes `ortak iso validate`"):
            ok, out = h.iso_validate(r.body, w.dir / "iso")
            self.assertTrue(ok, f"the admi.002 answer is not valid: {out}\n{r.text}")
        bomb = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><Document>&a;</Document>'
        expect(self.iso(w.as_(a), bomb), 400, code="iso_unreadable")
        # Read but invalid (GRP-2: NbOfTxs wrong): 422 with the issues.
        xml, _, _ = h.pacs008(a, b, "1.00", nb_of_txs=2)
        r = expect(self.iso(w.as_(a), xml), 422, code="iso_invalid")
        self.assertIn("NbOfTxs", r.text, "the issues name what is wrong")
        xml, _, _ = h.pacs008(a, b, "1.005")
        expect(self.iso(w.as_(a), xml), 422, code="iso_invalid")
        # Unknown payee (RC01): the transaction is refused.
        xml, _, uetr = h.pacs008(a, "ZZZZKZKA", "1.00")
        r = self.iso(w.as_(a), xml)
        if r.status == 200:
            tx = r.json()["transactions"][0]
            self.assertEqual((tx["status"], tx.get("reason")), ("rejected", "RC01"), r)
        else:
            expect(r, 422, reason="RC01")
        assert_amount(w.account(w.account_id(a))["balance"], "800.00")
        # The operator does not submit ISO 20022; JSON is not ISO 20022.
        xml, _, _ = h.pacs008(h.OPERATOR_BIC, b, "1.00")
        self.forbidden(self.iso(w.op, xml))
        expect(w.as_(a).post("/v1/iso20022", {"xml": xml}), 415, code="unsupported_media_type")

    # ---------------------------------------------------------------------------------------------- FX
    def test_16_fx(self):
        w = self.world
        fx = w.new_bank(role="fx_provider", ccys=["KZT", "AZN"], fund={"AZN": "10000.00"})
        payer = w.new_bank(fund={"KZT": "50000.00"})
        payee = w.new_bank("AZ")
        other = w.new_bank()
        rate = {"base": "AZN", "quote": "KZT", "bid": "299.5", "ask": "300.5", "max_amount": "100000.00",
                "valid_until": h.utc(delta_s=3600)}
        expect(w.as_(fx).put("/v1/fx/rates", rate), (200, 201))
        self.forbidden(w.as_(payer).put("/v1/fx/rates", rate))
        self.forbidden(w.op.put("/v1/fx/rates", rate))
        expect(w.as_(fx).put("/v1/fx/rates", dict(rate, bid="301", ask="300")), (400, 422),
               code=("fx_rate_invalid", "field_invalid"))
        expect(w.as_(fx).put("/v1/fx/rates", dict(rate, bid="299.1234567891")), 400, code="field_invalid",
               field="bid")
        expect(w.as_(fx).put("/v1/fx/rates", dict(rate, valid_until="2020-01-01T00:00:00Z")), (400, 422),
               code=("fx_rate_invalid", "field_invalid"))
        rates = expect(w.as_(other).get("/v1/fx/rates"), 200).json()
        self.assertTrue(h.contains(rates, fx) and h.contains(rates, "AZN"), rates)
        # Fixed source: 30,050.00 KZT at ask 300.50 is 100.00 AZN (docs/fx.md).
        qreq = {"source_currency": "KZT", "creditor_agent": payee, "target_currency": "AZN",
                "amount": "30050.00", "fixed": "source"}
        quote = expect(w.as_(payer).post("/v1/fx/quotes", qreq), 201).json()
        self.assertTrue(HEX32.match(quote.get("id", "")), quote)
        self.assertTrue(h.contains(quote, "100.00"), f"the quote does not give 100.00 AZN: {quote}")
        expect(w.as_(payer).get(f"/v1/fx/quotes/{quote['id']}"), 200)
        expect(w.op.get(f"/v1/fx/quotes/{quote['id']}"), 200)
        self.forbidden(w.as_(other).get(f"/v1/fx/quotes/{quote['id']}"))
        expect(w.op.get(f"/v1/fx/quotes/{uuid.uuid4().hex}"), 404, code=("not_found", "quote_not_found"))
        self.forbidden(w.as_(fx).post("/v1/fx/quotes", qreq))
        expect(w.as_(payer).post("/v1/fx/quotes", dict(qreq, fixed="both")), (400, 422),
               code=("field_invalid", "quote_request_invalid"))
        # Payment versus payment.
        body = {"creditor_agent": payee, "currency": "KZT", "amount": "30050.00", "quote_id": quote["id"]}
        p = expect(w.as_(payer).post("/v1/payments", body), 201).json()
        self.assertEqual(p["status"], "settled", p)
        assert_amount(w.account(w.account_id(payer))["balance"], "19950.00")
        assert_amount(w.account(w.account_id(payee, "AZN"))["balance"], "100.00")
        assert_amount(w.account(w.account_id(fx, "KZT"))["balance"], "30050.00")
        assert_amount(w.account(w.account_id(fx, "AZN"))["balance"], "9900.00")
        expect(w.as_(payer).post("/v1/payments", body), 422, code="quote_used")
        # Fixed target: 3.33 AZN costs 1,000.67 KZT (rounded up).
        q2 = expect(w.as_(payer).post("/v1/fx/quotes", dict(qreq, amount="3.33", fixed="target")), 201).json()
        self.assertTrue(h.contains(q2, "1000.67"), f"the quote does not ask 1000.67 KZT: {q2}")
        r = w.as_(payer).post("/v1/payments", dict(body, amount="1000.00", quote_id=q2["id"]))
        expect(r, 422, code="quote_mismatch")
        r = w.as_(other).post("/v1/payments", dict(body, amount="1000.67", quote_id=q2["id"]))
        expect(r, 422, code="quote_other_payer")
        # No rate for the pair; withdrawal.
        expect(w.as_(payer).post("/v1/fx/quotes", dict(qreq, target_currency="KGS")), 422,
               code=("fx_pair_unsupported", "account_not_found"))
        self.forbidden(w.as_(payer).delete("/v1/fx/rates/AZN/KZT"))
        expect(w.as_(fx).delete("/v1/fx/rates/AZN/KZT"), 200)
        self.assertFalse(h.contains(expect(w.op.get("/v1/fx/rates"), 200).json(), fx))
        expect(w.as_(payer).post("/v1/fx/quotes", qreq), 422, code="fx_pair_unsupported")
        expect(w.as_(fx).delete("/v1/fx/rates/AZN/KZT"), (404, 422), code=("fx_rate_not_found", "not_found"))

    # ---------------------------------------------------------------------------------------------- net settlement
    def test_17_net_settlement(self):
        """The worked example of docs/netting.md, through the API."""
        w = self.world
        cb = w.cb("KZT")
        a = w.new_bank(fund={"KZT": "300.00"})
        b, c = w.new_bank(), w.new_bank()
        sa = w.account_id(a)
        ca = w.open_account(a, "KZT", "collateral")
        w.inject(ca, "1000.00")
        expect(cb.put(f"/v1/accounts/{sa}/net-cap", {"amount": "2000.00"}), 422, code="net_cap_above_collateral")
        expect(cb.put(f"/v1/accounts/{sa}/net-cap", {"amount": "800.00"}), 200)
        self.forbidden(w.as_(a).put(f"/v1/accounts/{sa}/net-cap", {"amount": "900.00"}))
        self.forbidden(w.cb("AZN").put(f"/v1/accounts/{sa}/net-cap", {"amount": "900.00"}))
        assert_amount(w.account(sa)["net_cap"], "800.00")
        win = expect(w.as_(b).get("/v1/net/windows/KZT"), 200).json()
        wid = win.get("id")
        self.assertTrue(isinstance(wid, int) and wid >= 1, f"a window id is a number 1, 2, ...: {win}")
        net = {"currency": "KZT", "method": "net"}
        self.assertEqual(w.pay(a, b, "500.00", **net)["status"], "accepted")
        r = w.as_(a).post("/v1/payments", dict(net, creditor_agent=c, amount="400.00"))
        expect(r, 422, code="net_cap_exceeded", reason="AM14")
        self.assertEqual(r.json()["payment"]["status"], "rejected")
        self.assertEqual(w.pay(a, c, "100.00", **net)["status"], "accepted")
        self.assertEqual(w.pay(b, a, "50.00", **net)["status"], "accepted")
        self.assertEqual(w.pay(c, b, "100.00", **net)["status"], "accepted")
        expect(cb.put(f"/v1/accounts/{sa}/net-cap", {"amount": "100.00"}), 422, code="net_cap_in_use")
        expect(w.cb("KZT").post("/v1/liquidity/withdraw", {"account": ca, "amount": "500.00"}), 422,
               code="insufficient_funds")
        # Nothing has moved yet.
        assert_amount(w.account(w.account_id(b))["balance"], "0.00")
        self.forbidden(w.as_(a).post("/v1/net/windows/KZT/close"))
        self.forbidden(cb.post("/v1/net/windows/KZT/close"))
        expect(w.op.post("/v1/net/windows/KZT/close"), 200)
        assert_amount(w.account(sa)["balance"], "0.00")
        assert_amount(w.account(ca)["balance"], "750.00")
        assert_amount(w.account(w.account_id(b))["balance"], "550.00")
        assert_amount(w.account(w.account_id(c))["balance"], "0.00")
        assert_amount(w.account(sa)["net_cap"], "750.00")
        now = expect(w.as_(b).get("/v1/net/windows/KZT"), 200).json()
        self.assertGreater(now["id"], wid, now)
        closed = expect(w.as_(b).get(f"/v1/net/windows/KZT?id={wid}"), 200).json()
        self.assertTrue(h.contains(closed, "550.00"), f"value moved 550.00 not in {closed}")
        # The report: all rows for the central bank and the operator, its own row for a participant.
        for who in (cb, w.op):
            rep = expect(who.get(f"/v1/net/windows/KZT/report?id={wid}"), 200).json()
            for bank in (a, b, c):
                self.assertTrue(h.contains(rep, bank) or h.contains(rep, w.account_id(bank)), f"{bank}: {rep}")
        rep = expect(w.as_(b).get(f"/v1/net/windows/KZT/report?id={wid}"), 200).json()
        self.assertTrue(h.contains(rep, b) or h.contains(rep, w.account_id(b)), rep)
        self.assertFalse(h.contains(rep, a) or h.contains(rep, w.account_id(a)), f"another's row shown: {rep}")
        r = w.cb("AZN").get(f"/v1/net/windows/KZT/report?id={wid}")  # in no row of it: refused, or shown nothing
        if r.status == 200:
            for bank in (a, b, c):
                self.assertFalse(h.contains(r.json(), bank) or h.contains(r.json(), w.account_id(bank)), r)
        else:
            self.forbidden(r)
        expect(w.op.get("/v1/net/windows/KZT?id=999999"), (404, 422), code=("not_found", "window_not_found"))
        expect(w.op.get("/v1/net/windows/XYZ"), (400, 404, 422),
               code=("not_found", "currency_unknown", "field_invalid"))
        # The accepted payments settled with the window.
        pays = items(expect(w.as_(b).get(f"/v1/accounts/{w.account_id(b)}/history"), 200).json(), "postings")
        self.assertTrue(pays, "the close left no posting on the creditor's account")

    # ---------------------------------------------------------------------------------------------- history
    def test_18_history_and_statement(self):
        w = self.world
        a, b = w.new_bank(fund={"KZT": "1000.00"}), w.new_bank()
        aid = w.account_id(a)
        w.pay(a, b, "100.00")
        w.pay(a, b, "200.00")
        r = expect(w.as_(a).get(f"/v1/accounts/{aid}/history"), 200).json()
        ps = r["postings"]
        self.assertEqual([amount(p["amount"]) for p in ps], [Decimal("1000.00"), Decimal("-100.00"),
                                                             Decimal("-200.00")], r)
        self.assertIsNone(r["next_cursor"], r)
        self.assertIs(r["truncated"], False)
        bal = h.find_key(ps[-1], lambda k: "balance" in k)
        self.assertTrue(bal and amount(bal[1]) == Decimal("700.00"), f"no balance after 700.00 in {ps[-1]}")
        # Pages.
        p1 = expect(w.as_(a).get(f"/v1/accounts/{aid}/history?limit=2"), 200).json()
        self.assertEqual(len(p1["postings"]), 2)
        self.assertIsInstance(p1["next_cursor"], str, p1)
        p2 = expect(w.as_(a).get(f"/v1/accounts/{aid}/history?limit=2&cursor={p1['next_cursor']}"), 200).json()
        self.assertEqual(p1["postings"] + p2["postings"], ps)
        self.assertIsNone(p2["next_cursor"], p2)
        later = h.utc(delta_s=3600)
        r = expect(w.as_(a).get(f"/v1/accounts/{aid}/history?from={later}"), 200).json()
        self.assertEqual(r["postings"], [])
        for q in ("limit=0", "limit=1001", "limit=x", "from=yesterday", "cursor=%00bad"):
            expect(w.as_(a).get(f"/v1/accounts/{aid}/history?{q}"), 400, code="field_invalid", what=q)
        self.forbidden(w.as_(b).get(f"/v1/accounts/{aid}/history"))
        expect(w.cb("KZT").get(f"/v1/accounts/{aid}/history"), 200)
        # Statement, JSON and camt.053.
        st = expect(w.as_(a).get(f"/v1/accounts/{aid}/statement"), 200).json()
        op = h.find_key(st, lambda k: "opening" in k)
        cl = h.find_key(st, lambda k: "closing" in k)
        self.assertTrue(op and cl, f"no opening or closing balance: {st}")
        self.assertTrue(h.contains(cl[1], "700.00") or cl[1] == "700.00", f"closing balance: {st}")
        self.assertTrue(h.contains(st, "-200.00") or h.contains(st, "200.00"), st)
        r = expect(w.as_(a).get(f"/v1/accounts/{aid}/statement?format=camt.053"), 200)
        self.assertEqual(r.content_type, "application/xml", r)
        self.assertIn("camt.053.001.08", r.text)
        self.assertIn("700.00", r.text)
        ok, out = h.iso_validate(r.body, w.dir / "iso")
        self.assertTrue(ok, f"the camt.053 is not valid: {out}")
        expect(w.as_(a).get(f"/v1/accounts/{aid}/statement?format=pdf"), 400, code="field_invalid")
        self.forbidden(w.as_(b).get(f"/v1/accounts/{aid}/statement"))

    # ---------------------------------------------------------------------------------------------- gridlock
    def test_19_gridlock(self):
        w = self.world
        g1, g2, g3 = w.new_bank(), w.new_bank(), w.new_bank()
        ps = [w.pay(g1, g2, "100.00"), w.pay(g2, g3, "100.00"), w.pay(g3, g1, "100.00")]
        self.assertEqual([p["status"] for p in ps], ["queued"] * 3)
        self.forbidden(w.as_(g1).post("/v1/gridlock", {"currency": "KZT"}))
        expect(w.op.post("/v1/gridlock", {"currency": "KZT", "mode": "magic"}), (400, 422),
               code=("field_invalid", "gridlock_mode_invalid"))
        expect(w.op.post("/v1/gridlock", {"currency": "KZT", "mode": "fifo"}), 200)
        for p in ps:
            self.assertEqual(expect(w.op.get(f"/v1/payments/{p['id']}"), 200).json()["status"], "settled")
        for g in (g1, g2, g3):
            assert_amount(w.account(w.account_id(g))["balance"], "0.00")
        expect(w.op.post("/v1/gridlock", {}), 200)

    # ---------------------------------------------------------------------------------------------- outbox
    def outbox(self, who, query=""):
        r = expect(who.get("/v1/outbox" + query), 200).json()
        for k in ("messages", "next", "acked"):
            self.assertIn(k, r, r)
        return r

    def test_20_outbox(self):
        w = self.world
        a, b = w.new_bank(fund={"KZT": "1000.00"}), w.new_bank()
        p = w.pay(a, b, "10.00")
        ra = self.outbox(w.as_(a))
        types = [m["type"] for m in ra["messages"]]
        self.assertTrue(any(t.startswith("pacs.002") for t in types), f"payer has no pacs.002: {ra}")
        self.assertTrue(any(t.startswith("camt.054") for t in types), f"payer has no camt.054: {ra}")
        seqs = [m["seq"] for m in ra["messages"]]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)), "numbered 1, 2, 3, ...")
        self.assertEqual(ra["acked"], 0)
        self.assertEqual(ra["next"], seqs[-1])
        for m in ra["messages"]:
            self.assertTrue(h.re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$", m["created_at"]), m)
            ok, out = h.iso_validate(m["xml"], w.dir / "iso")
            self.assertTrue(ok, f"outbox {m['type']} is not valid: {out}")
        self.assertTrue(any(m.get("payment_id") == p["id"] for m in ra["messages"]), ra)
        rb = self.outbox(w.as_(b))
        self.assertEqual([m["type"][:8] for m in rb["messages"]], ["camt.054"], rb)
        self.assertIn(p["uetr"], rb["messages"][0]["xml"])
        # after and limit
        r = self.outbox(w.as_(a), "?after=1")
        self.assertEqual([m["seq"] for m in r["messages"]], seqs[1:])
        r = self.outbox(w.as_(a), "?limit=1")
        self.assertEqual([m["seq"] for m in r["messages"]], [1])
        # ack: never returned again
        expect(w.as_(a).post("/v1/outbox/ack", {"seq": seqs[-1]}), 200)
        r = self.outbox(w.as_(a))
        self.assertEqual((r["messages"], r["acked"]), ([], seqs[-1]), r)
        # An ISO payment is forwarded to the payee once it settles.
        xml, _, uetr = h.pacs008(a, b, "20.00")
        expect(w.as_(a).post("/v1/iso20022", xml, ctype="application/xml"), 200)
        rb = self.outbox(w.as_(b), "?after=1")
        fwd = [m for m in rb["messages"] if m["type"].startswith("pacs.008")]
        self.assertEqual(len(fwd), 1, rb)
        self.assertIn(uetr, fwd[0]["xml"])
        ok, out = h.iso_validate(fwd[0]["xml"], w.dir / "iso")
        self.assertTrue(ok, out)
        ra = self.outbox(w.as_(a))
        self.assertTrue(ra["messages"], "the payer of the ISO payment has nothing new")
        expect(w.as_(a).post("/v1/outbox/ack", {"seq": ra["next"]}), 200)
        # wait: nothing arrives -> an empty answer after about `wait` seconds; something arrives -> at once.
        t0 = time.monotonic()
        r = self.outbox(w.as_(a), "?wait=1")
        self.assertEqual(r["messages"], [])
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        got = {}

        def waiter():
            t = time.monotonic()
            got["r"] = w.as_(a).get("/v1/outbox?wait=10")
            got["t"] = time.monotonic() - t
        th = threading.Thread(target=waiter)
        th.start()
        time.sleep(0.3)
        w.pay(b, a, "1.00")
        th.join(12)
        r = expect(got["r"], 200).json()
        self.assertTrue(r["messages"], r)
        self.assertLess(got["t"], 5, "a waiting GET /v1/outbox returned late")
        for q in ("limit=0", "limit=1001", "wait=61", "after=-1", "after=x"):
            with self.soft(f"GET /v1/outbox?{q}"):
                expect(w.as_(a).get("/v1/outbox?" + q), 400, code="field_invalid", what=q)
        expect(w.as_(a).post("/v1/outbox/ack", {"seq": "x"}), 400, code="field_invalid", field="seq")

    # ---------------------------------------------------------------------------------------------- generic
    def test_21_not_found_and_method(self):
        w = self.world
        expect(w.op.get("/v1/nothing-here"), 404, code="not_found")
        expect(w.op.get("/nothing"), 404, code="not_found")
        r = expect(w.op.delete("/v1/me"), 405, code="method_not_allowed")
        expect(w.op.post("/v1/participants/ORTKTRISXXX", {"status": "active"}), 405, code="method_not_allowed")
        expect(w.op.request("PUT", "/healthz", {}), 405, code="method_not_allowed")
        self.assertIsNotNone(r)

    def test_22_metrics(self):
        w = self.world
        r = expect(w.op.get("/metrics"), 200)
        self.assertEqual(r.content_type, "text/plain", r.headers)
        series = h.parse_metrics(r.text)
        self.assertTrue(series, "no series in /metrics")
        self.assertIn("# TYPE", r.text)
        self.forbidden(w.cb("KZT").get("/metrics"))
        expect(w.anonymous().get("/metrics"), 401, code="unauthenticated")

    # ---------------------------------------------------------------------------------------------- end of day
    def test_90_cutoffs(self):
        w = self.world
        a, b = w.new_bank(), w.new_bank()
        p = w.pay(a, b, "10.00")
        self.assertEqual(p["status"], "queued")
        self.forbidden(w.as_(a).post("/v1/cutoffs", {"priorities": ["normal"], "open": False}))
        expect(w.op.post("/v1/cutoffs", {"priorities": ["sometime"], "open": False}), (400, 422),
               code=("field_invalid", "priority_invalid"))
        with self.soft("a missing required field is field_missing"):
            expect(w.op.post("/v1/cutoffs", {"open": False}), 400, code="field_missing", field="priorities")
        expect(w.op.post("/v1/cutoffs", {"priorities": ["normal"], "open": False}), 200)
        q = expect(w.op.get(f"/v1/payments/{p['id']}"), 200).json()
        self.assertEqual(q["status"], "rejected", q)
        if "code" in q:
            self.assertEqual(q["code"], "rejected_at_cutoff", q)
        r = w.as_(a).post("/v1/payments", {"creditor_agent": b, "currency": "KZT", "amount": "1.00"})
        expect(r, 422, code="cutoff_passed", reason="TM01")
        self.assertEqual(r.json()["payment"]["status"], "rejected")
        w.inject(w.account_id(a), "5.00")
        self.assertEqual(w.pay(a, b, "5.00", priority="urgent")["status"], "settled")
        expect(w.op.post("/v1/cutoffs", {"priorities": ["normal"], "open": True}), 200)
        self.assertEqual(w.pay(a, b, "1.00")["status"], "queued")

    def reopen_all(self):
        """Reopen every priority (with the spec's names; failing that, with the engine's, so that later tests run)."""
        r = self.world.op.post("/v1/cutoffs", {"priorities": ["normal", "urgent", "highly_urgent"], "open": True})
        expect(r, 200)

    def test_91_business_day_close(self):
        w = self.world
        a, b = w.new_bank(), w.new_bank()
        p = w.pay(a, b, "10.00")
        self.forbidden(w.as_(a).post("/v1/business-day/close"))
        self.forbidden(w.cb("KZT").post("/v1/business-day/close"))
        expect(w.op.post("/v1/business-day/close"), 200)
        self.assertEqual(expect(w.op.get(f"/v1/payments/{p['id']}"), 200).json()["status"], "rejected")
        for prio in ("normal", "urgent", "highly_urgent"):
            r = w.as_(a).post("/v1/payments", {"creditor_agent": b, "currency": "KZT", "amount": "1.00",
                                               "priority": prio})
            with self.soft(f"priority {prio} after the business day's close"):
                expect(r, 422, code="cutoff_passed", reason="TM01", what=prio)
        r = w.as_(a).post("/v1/payments", {"creditor_agent": b, "currency": "KZT", "amount": "1.00",
                                           "method": "net"})
        expect(r, 422, code=("net_window_closed", "cutoff_passed"), reason="TM01")
        self.reopen_all()
        w.inject(w.account_id(a), "1.00")
        self.assertEqual(w.pay(a, b, "1.00")["status"], "settled")

    # ---------------------------------------------------------------------------------------------- durability
    def test_99_restart(self):
        """Acknowledged writes survive SIGKILL; an idempotent retry after a restart books nothing twice; the outbox
        survives; SIGTERM exits 0 leaving a journal that `ortak journal verify` accepts."""
        w = self.world
        a, b = w.new_bank(fund={"KZT": "100.00"}), w.new_bank()
        body = {"creditor_agent": b, "currency": "KZT", "amount": "10.00"}
        p = expect(w.as_(a).post("/v1/payments", body, key="restart-1"), 201).json()
        xml, msg_id, _ = h.pacs008(a, b, "1.00")
        expect(self.iso(w.as_(a), xml), 200)
        box = self.outbox(w.as_(b))["messages"]
        w.server.kill()  # SIGKILL: no chance to flush anything not already durable
        w.start()
        # the message id stays taken for its sender across the restart (AM05), with new UETRs too
        xml2, _, _ = h.pacs008(a, b, "1.00", msg_id=msg_id)
        expect(self.iso(w.as_(a), xml2), 409, code="iso_duplicate_message", reason="AM05")
        q = expect(w.as_(a).get(f"/v1/payments/{p['id']}"), 200).json()
        self.assertEqual(q["status"], "settled")
        assert_amount(w.account(w.account_id(a))["balance"], "89.00")
        r = expect(w.as_(a).post("/v1/payments", body, key="restart-1"), (200, 201))
        self.assertEqual((r.json()["id"], r.json()["uetr"]), (p["id"], p["uetr"]), r)
        assert_amount(w.account(w.account_id(a))["balance"], "89.00")
        assert_amount(w.account(w.account_id(b))["balance"], "11.00")
        self.assertEqual(self.outbox(w.as_(b))["messages"], box, "the outbox changed across a restart")
        # SIGTERM with a request in flight (a long poll): it is answered, and the server exits 0 promptly.
        got = {}

        def poll():
            try:
                got["r"] = w.as_(b).get("/v1/outbox?wait=30", timeout=40)
            except (OSError, h.http.client.HTTPException) as e:
                got["e"] = e
        th = threading.Thread(target=poll)
        th.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        rc = w.server.stop()
        stopped = time.monotonic() - t0
        th.join(40)
        if os.environ.get("ORTAK_IT_VERBOSE"):
            print(f"SIGTERM with a long poll in flight: {stopped:.2f} s, {got}", file=sys.stderr)
        self.assertEqual(rc, 0, f"SIGTERM: exit {rc}\n{w.server.stderr()[-2000:]}")
        with self.soft("SIGTERM answers the request in flight and exits promptly"):
            self.assertLess(stopped, 10, "SIGTERM took long with a long poll in flight")
            self.assertIn("r", got, f"the request in flight got no answer: {got.get('e')!r}")
            if got["r"].status != 200:
                expect(got["r"], 503, code="shutting_down")
        rc, out = h.journal_verify(w.server.data_dir, w.server.engine_config)
        self.assertEqual(rc, 0, f"ortak journal verify: {out}")
        w.start()
        assert_amount(w.account(w.account_id(a))["balance"], "89.00")
        self.assertEqual(len(items(expect(w.op.get(f"/v1/accounts?bic={a}"), 200).json(), "accounts")), 1)


if __name__ == "__main__":
    h.main()
