#!/usr/bin/env python3
"""Sanctions screening in ortakd's payment path (docs/screening.md, "In the server"), against a real server.

A cross-border payment whose creditor is on the UN list is held (JSON and ISO 20022); a domestic one is not
screened; the operator lists, releases and rejects holds (RR04 in the payer's outbox); holds and decisions survive a
restart and are in the journal; a reload of the lists changes the version recorded with later decisions.

    python3 tests/integration/test_screening.py --ortakd PATH/TO/ortakd --ortak PATH/TO/ortak
"""
import json
import os
import re
import sys
import unittest
import uuid
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import expect, items, amount  # noqa: E402

UN_LIST = h.SHARED_DATA / "sanctions" / "UN_consolidated.xml"
LOCAL_HEADER = "entry_id,name,aliases,date_of_birth,nationality\n"


def un_individual():
    """(name, reference number) of the first UN individual with three name parts: a name that must be caught."""
    for ind in ET.parse(UN_LIST).getroot().iter("INDIVIDUAL"):
        parts = [(ind.findtext(t) or "").strip() for t in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME")]
        if all(parts):
            return " ".join(parts), ind.findtext("REFERENCE_NUMBER").strip()
    raise h.Fatal("no UN individual with three name parts")


class ScreeningTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not UN_LIST.is_file():
            raise h.Fatal(f"the UN list is missing: {UN_LIST}")
        cls.w = h.World("screening")
        cls.local = cls.w.dir / "central-bank-list.csv"
        cls.local.write_text("# list: NBKZ\n" + LOCAL_HEADER + "NBKZ-1,Karabas Barabasov,,1970-01-01,KZ\n")
        cls.w.server.extra = f"\n[screening]\nlists = {UN_LIST}, {cls.local}\nthreshold = 0.88\n"
        try:
            cls.w.start()
        except BaseException:
            cls.w.close()
            raise
        w = cls.w
        cls.kz = w.new_bank("KZ", fund={"KZT": "100000.00"})
        cls.kz2 = w.new_bank("KZ")
        cls.az = w.new_bank("AZ", ccys=["AZN", "KZT"])
        cls.sanctioned, cls.reference = un_individual()

    @classmethod
    def tearDownClass(cls):
        cls.w.close()

    def pay(self, payee, creditor_name, amt="10.00", status=201):
        body = {"creditor_agent": payee, "currency": "KZT", "amount": amt, "creditor_name": creditor_name,
                "debtor_name": "Aigerim Nurlanovna Zhaksylykova"}
        return expect(self.w.as_(self.kz).post("/v1/payments", body, key=str(uuid.uuid4())), status).json()

    def payment(self, pid):
        return expect(self.w.op.get(f"/v1/payments/{pid}"), 200).json()

    def holds(self, who):
        return [p["id"] for p in items(expect(who.get("/v1/screening/holds"), 200).json(), "holds")]

    def decide(self, pid, what, who=None, status=200):
        return expect((who or self.w.op).post(f"/v1/screening/holds/{pid}/{what}", key=str(uuid.uuid4())), status)

    def test_1_status(self):
        s = expect(self.w.op.get("/v1/screening"), 200).json()
        self.assertTrue(s["enabled"], s)
        self.assertRegex(s["lists_version"], r"^[0-9a-f]{16}$")
        lists = {li["list"]: li for li in s["lists"]}
        self.assertEqual(sorted(lists), ["NBKZ", "UN"], s)
        self.assertGreater(lists["UN"]["entries"], 500, s)
        self.assertEqual(lists["NBKZ"]["entries"], 1, s)
        self.assertEqual(s["threshold"], 0.88, s)
        self.assertEqual(self.holds(self.w.op), [])  # none held yet
        expect(self.w.cb("KZT").get("/v1/screening"), 200)
        expect(self.w.as_(self.kz).get("/v1/screening"), 403, code="forbidden")
        expect(self.w.as_(self.kz).get("/v1/screening/holds"), 403, code="forbidden")

    def test_2_clean_and_domestic(self):
        before = amount(self.w.account(self.w.account_id(self.kz))["balance"])
        p = self.pay(self.az, "Rashad Mammadov")
        self.assertEqual(p["status"], "settled", p)
        got = self.payment(p["id"])
        self.assertFalse(got["screening"]["held"], got)
        self.assertNotIn("score", got["screening"], got)
        # domestic: the national system's to screen; no decision recorded
        p = self.pay(self.kz2, self.sanctioned)
        self.assertEqual(p["status"], "settled", p)
        self.assertNotIn("screening", self.payment(p["id"]))
        after = amount(self.w.account(self.w.account_id(self.kz))["balance"])
        self.assertEqual(before - after, 20)

    def test_3_hold_and_release(self):
        w = self.w
        payer_acc = w.account_id(self.kz)
        before = amount(w.account(payer_acc)["balance"])
        p = self.pay(self.az, self.sanctioned.upper(), amt="25.00")
        self.assertEqual(p["status"], "held", p)
        got = self.payment(p["id"])
        self.assertEqual(got["status"], "held", got)
        d = got["screening"]
        self.assertEqual((d["held"], d["party"], d["list"], d["entry_id"]), (True, "creditor", "UN", self.reference),
                         got)
        self.assertGreaterEqual(d["score"], 0.88, got)
        self.assertEqual(amount(w.account(payer_acc)["balance"]), before, "a held payment moved money")
        self.assertIn(p["id"], self.holds(w.op))
        self.assertIn(p["id"], self.holds(w.cb("KZT")))  # the central bank of its currency sees it
        self.assertNotIn(p["id"], self.holds(w.cb("AZN")))
        self.decide(p["id"], "release", who=w.as_(self.kz), status=403)
        self.decide(p["id"], "release", who=w.cb("KZT"), status=403)
        r = self.decide(p["id"], "release").json()
        self.assertEqual(r["status"], "settled", r)
        self.assertEqual(before - amount(w.account(payer_acc)["balance"]), 25)
        self.assertNotIn(p["id"], self.holds(w.op))
        expect(w.op.post(f"/v1/screening/holds/{p['id']}/release", key=str(uuid.uuid4())), 409,
               code="payment_not_held")
        expect(w.op.post(f"/v1/screening/holds/{uuid.uuid4().hex}/reject", key=str(uuid.uuid4())), 404)
        expect(w.op.post("/v1/screening/holds/xyz/reject", key=str(uuid.uuid4())), 400, code="field_invalid")

    def test_4_reject_rr04(self):
        w = self.w
        p = self.pay(self.az, self.sanctioned.lower())
        self.assertEqual(p["status"], "held", p)
        r = self.decide(p["id"], "reject").json()
        self.assertEqual((r["status"], r["reason"], r["code"]), ("rejected", "RR04", "screening_rejected"), r)

        def rr04_in_outbox():
            got = expect(w.as_(self.kz).get("/v1/outbox?limit=1000"), 200).text
            return p["uetr"] in got and "RR04" in got
        self.assertTrue(h.wait_until(rr04_in_outbox, timeout=5), "no pacs.002 with RR04 in the payer's outbox")

    def test_5_iso_held_survives_restart(self):
        w = self.w
        xml, msg_id, uetr = h.pacs008(self.kz, self.az, "7.00")
        xml = xml.replace("<Cdtr><Nm>Creditor LLP</Nm></Cdtr>", f"<Cdtr><Nm>{self.sanctioned}</Nm></Cdtr>")
        r = expect(w.as_(self.kz).post("/v1/iso20022", xml, ctype="application/xml"), 200).json()
        self.assertEqual(r["transactions"][0]["status"], "held", r)
        pid = h.payment_id_of_uetr(uetr)
        xml2, _, uetr2 = h.pacs008(self.kz, self.az, "8.00")
        xml2 = xml2.replace("<Dbtr><Nm>Debtor Ltd</Nm></Dbtr>", f"<Dbtr><Nm>{self.sanctioned}</Nm></Dbtr>")
        resp = w.as_(self.kz).post("/v1/iso20022", xml2, ctype="application/xml", accept="application/xml")
        self.assertIn("<TxSts>PDNG</TxSts>", expect(resp, 200).text)
        self.assertEqual(self.payment(h.payment_id_of_uetr(uetr2))["screening"]["party"], "debtor")
        # a restart: the holds are found again, and the decision is still the operator's to take
        self.assertEqual(w.server.stop(), 0)
        w.start()
        self.assertIn(pid, self.holds(w.op))
        self.assertEqual(self.decide(pid, "release").json()["status"], "settled")
        self.decide(h.payment_id_of_uetr(uetr2), "reject")
        # every decision is in the journal: the holds with their entry, the release and the rejection
        self.assertEqual(w.server.stop(), 0)
        out = h.run([h.ORTAK, "journal", "dump", str(w.server.data_dir / "journal"), "--json"]).stdout.decode()
        w.start()
        cmds = [c for line in out.splitlines() if line.startswith("{")
                for c in json.loads(line).get("commands", [])]
        held = [c for c in cmds if c.get("kind") == "payment_submit" and c.get("hold") == 1]
        self.assertGreaterEqual(len(held), 4, "held submissions in the journal")
        self.assertTrue(all(c["entry_id"] == self.reference for c in held), held)
        kinds = [c["kind"] for c in cmds]
        self.assertGreaterEqual(kinds.count("payment_release"), 2)
        self.assertGreaterEqual(kinds.count("payment_reject"), 2)

    def test_6_reload(self):
        w = self.w
        v1 = expect(w.op.get("/v1/screening"), 200).json()["lists_version"]
        p = self.pay(self.az, "Zhanybek Tursunbaev")
        self.assertEqual(p["status"], "settled", p)
        self.local.write_text(self.local.read_text() + "NBKZ-2,Zhanybek Tursunbaev,,,KZ\n")
        expect(w.as_(self.kz).post("/v1/screening/reload", key=str(uuid.uuid4())), 403)
        s = expect(w.op.post("/v1/screening/reload", key=str(uuid.uuid4())), 200).json()
        self.assertNotEqual(s["lists_version"], v1)
        p = self.pay(self.az, "Zhanybek Tursunbaev")
        self.assertEqual(p["status"], "held", p)
        d = self.payment(p["id"])["screening"]
        self.assertEqual((d["list"], d["entry_id"], d["lists_version"]), ("NBKZ", "NBKZ-2", s["lists_version"]))
        # a broken list is refused and the lists in use stay
        good = self.local.read_text()
        self.local.write_text("not,a,list\n")
        expect(w.op.post("/v1/screening/reload", key=str(uuid.uuid4())), 422, code="lists_invalid")
        self.assertEqual(expect(w.op.get("/v1/screening"), 200).json()["lists_version"], s["lists_version"])
        self.local.write_text(good)
        self.decide(p["id"], "reject")
        m = h.parse_metrics(expect(w.op.get("/metrics"), 200).text)
        self.assertGreaterEqual(m.get("ortak_screening_hits_total", 0), 1, "hits since the restart")
        self.assertEqual(m.get("ortak_screening_held"), 0)
        self.assertGreater(m.get(f'ortak_screening_list_entries{{version="{s["lists_version"]}"}}', 0), 500)

    def test_7_bad_config(self):
        demo = {"server": {"demo": "yes"}, "tokens": {h.OPERATOR_BIC: "tok-" + uuid.uuid4().hex}}
        bad = h.Server(self.w.dir / "bad", extra="\n[screening]\nthreshold = 1.5\n", **demo)
        rc, err = bad.check_config()
        self.assertEqual(rc, 1, err)
        self.assertIn("threshold", err)
        missing = h.Server(self.w.dir / "bad2", extra="\n[screening]\nlists = /nonexistent/list.xml\n", **demo)
        rc, err = missing.check_config()
        self.assertEqual(rc, 1, err)
        self.assertIn("[screening] lists", err)
        missing.write_config()
        p = h.run([h.ORTAKD, "--config", str(missing.config)], check=False, timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"[screening] lists", p.stderr)


if __name__ == "__main__":
    h.main()
