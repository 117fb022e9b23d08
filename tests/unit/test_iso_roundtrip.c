/*
 * ISO 20022 round trips: a sample of each inbound type (pacs.008, pacs.009, pacs.004) is read, mapped, applied to
 * an engine; the messages generated from the outcome (pacs.002, the forwarded message, camt.054) validate against
 * their schemas when read back and carry the original ids. Also every refusal of the mapping, with its reason.
 *
 * argv[1] is the shared reference data directory; the test fails when it is absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ortak/iso20022.h"
#include "test_cli.h"
#include "test_util.h"

static const char *data_dir;
static struct ortak_iso *iso;
static struct ortak_iso_reader *rd, *rd_check;
static struct ortak_iso_msg msg, back;

#define T0 (UINT64_C(1776038400) * 1000000000u) /* 2026-04-13T00:00:00Z */
#define SEC 1000000000ull
#define FUNDS UINT64_C(100000000000) /* each bank's opening balance, minor units */

static const char config_ini[] = "[engine]\nhash_seed = 7\n"
                                 "[currency EUR]\nnumeric = 978\nminor_units = 2\nagent = MARKDEFF\n"
                                 "agent_name = Euro central bank\nnet_window_ms = 0\n"
                                 "[currency JPY]\nnumeric = 392\nminor_units = 0\nagent = BOJPJPJT\n"
                                 "agent_name = Yen central bank\nnet_window_ms = 0\n"
                                 "[currency GBP]\nnumeric = 826\nminor_units = 2\nagent = BKENGB2L\n"
                                 "agent_name = Sterling central bank\nnet_window_ms = 0\n"
                                 "[settlement]\ngridlock_interval_ms = 0\n";

static const struct {
    const char *bic, *ccy;
    ortak_u128 account;
} banks[] = {
    {"FNTXDE2X", "EUR", 101}, {"GLPBES2X", "EUR", 102}, {"KRMTJP2X", "JPY", 201},
    {"PLNFSGSX", "JPY", 202}, {"RVNTGB2L", "GBP", 301}, {"HDQCFR2X", "GBP", 302},
};
static const struct {
    const char *bic, *ccy;
    ortak_u128 account;
} cbs[] = {{"MARKDEFF", "EUR", 100}, {"BOJPJPJT", "JPY", 200}, {"BKENGB2L", "GBP", 300}};

struct fix {
    struct ortak_engine *e;
    ortak_time_ns now;
};

static ortak_time_ns tick(struct fix *f) { return f->now += SEC; }

static void ok(struct fix *f, struct ortak_cmd c) {
    ortak_rc rc = tu_apply1_rc(f->e, c);
    if (rc != ORTAK_OK) fail_msg("setup command %u: %s", c.kind, ortak_rc_str(rc));
}

/* Central banks with issuance accounts; banks with settlement accounts holding FUNDS each. */
static void fix_open(struct fix *f) {
    struct ortak_config cfg;
    char err[256];
    assert_int_equal(ortak_config_parse(&cfg, config_ini, sizeof config_ini - 1, err, sizeof err), ORTAK_OK);
    assert_int_equal(ortak_engine_open(&cfg, &f->e), ORTAK_OK);
    f->now = T0;
    for (size_t i = 0; i < 3; i++) {
        ok(f, tu_participant(tick(f), cbs[i].bic, "Central bank", ORTAK_ROLE_CENTRAL_BANK));
        ok(f, tu_account(tick(f), cbs[i].account, cbs[i].bic, cbs[i].ccy, ORTAK_ACCOUNT_ISSUANCE));
    }
    for (size_t i = 0; i < 6; i++) {
        ok(f, tu_participant(tick(f), banks[i].bic, "Bank", ORTAK_ROLE_BANK));
        ok(f, tu_account(tick(f), banks[i].account, banks[i].bic, banks[i].ccy, ORTAK_ACCOUNT_SETTLEMENT));
        ok(f, tu_transfer(tick(f), 1000 + i, banks[i].account / 100 * 100, banks[i].account, FUNDS, 0));
    }
}

/* The sample `rel` (below iso20022/samples/cbpr-ur/) read whole, NUL-terminated; its length in `*len`. */
static char *slurp_sample(const char *rel, size_t *len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/iso20022/samples/cbpr-ur/%s", data_dir, rel);
    return tu_slurp(path, len);
}

/* Reads a generated message back: it must validate and be of `type`. */
static void check_back(const struct ortak_iso_buf *b, uint8_t type) {
    assert_false(b->failed);
    ortak_rc rc = ortak_iso_read(rd_check, b->data, b->len, &back);
    if (rc != ORTAK_OK && !(type != ORTAK_ISO_PACS_008 && rc == ORTAK_ISO_INVALID && back.issue_count == 0))
        fail_msg("generated %s does not read back: %s (%s)\n%.*s", ortak_iso_type_name(type),
                 back.issue_count ? back.issues[0].text : ortak_rc_str(rc), back.issue_count ? back.issues[0].rule : "",
                 (int)b->len, b->data);
    assert_int_equal(back.type, type);
    assert_true(back.schema_checked);
}

static void contains(const struct ortak_iso_buf *b, const char *element, const char *value) {
    char needle[256];
    snprintf(needle, sizeof needle, "<%s>%s</%s>", element, value, element);
    size_t n = strlen(needle);
    bool found = false;
    for (size_t i = 0; !found && i + n <= b->len; i++) found = memcmp(b->data + i, needle, n) == 0;
    if (!found) fail_msg("no %s in\n%.*s", needle, (int)b->len, b->data);
}

static void head(struct ortak_iso_head *h, const char *to, const char *id, ortak_time_ns now) {
    memset(h, 0, sizeof *h);
    snprintf(h->from, sizeof h->from, "%s", "ORTKTRISXXX");
    snprintf(h->to, sizeof h->to, "%s", to);
    snprintf(h->msg_id, sizeof h->msg_id, "%s", id);
    h->created_ns = now;
}

/* Reads a sample and maps its first transaction for `sender`; returns the mapping. */
static struct ortak_iso_mapped read_and_map(struct fix *f, const char *rel, const char *sender, uint8_t type) {
    size_t len;
    char *buf = slurp_sample(rel, &len);
    ortak_rc rc = ortak_iso_read(rd, buf, len, &msg);
    free(buf);
    if (rc != ORTAK_OK) fail_msg("%s: %s", rel, msg.issue_count ? msg.issues[0].text : ortak_rc_str(rc));
    assert_int_equal(msg.type, type);
    struct ortak_iso_mapped m;
    ortak_iso_map(f->e, &msg, 0, sender, tick(f), &m);
    return m;
}

/* Applies a mapped command; it must settle at once. Returns the settlement's booking time. */
static ortak_time_ns apply_settled(struct fix *f, const struct ortak_iso_mapped *m) {
    if (m->rc != ORTAK_OK) fail_msg("mapping refused: %s %s", m->reason, m->text);
    struct ortak_result r = tu_apply1(f->e, &m->cmd);
    if (r.rc != ORTAK_OK) fail_msg("engine: %s", ortak_rc_str((ortak_rc)r.rc));
    assert_false(r.flags & ORTAK_RESULT_QUEUED);
    return m->cmd.timestamp;
}

/* pacs.002 ACSC for the transaction read; it carries the original ids. */
static void check_status(const struct ortak_iso_tx *t, const char *to, ortak_time_ns settled) {
    struct ortak_iso_status s;
    memset(&s, 0, sizeof s);
    head(&s.head, to, "STS-1", settled);
    snprintf(s.orgnl_msg_id, sizeof s.orgnl_msg_id, "%s", msg.msg_id);
    s.orgnl_type = msg.type;
    snprintf(s.orgnl_instr_id, sizeof s.orgnl_instr_id, "%s", msg.type == ORTAK_ISO_PACS_004 ? t->rtr_id : t->instr_id);
    snprintf(s.orgnl_end_to_end_id, sizeof s.orgnl_end_to_end_id, "%s",
             msg.type == ORTAK_ISO_PACS_004 ? t->orgnl_end_to_end_id : t->end_to_end_id);
    s.orgnl_uetr = msg.type == ORTAK_ISO_PACS_004 ? t->orgnl_uetr : t->uetr;
    snprintf(s.status, sizeof s.status, "ACSC");
    s.settled_ns = settled;
    struct ortak_iso_buf b = {0};
    assert_int_equal(ortak_iso_write_pacs002(&s, &b), ORTAK_OK);
    check_back(&b, ORTAK_ISO_PACS_002);
    contains(&b, "OrgnlMsgId", msg.msg_id);
    contains(&b, "OrgnlInstrId", s.orgnl_instr_id);
    contains(&b, "OrgnlEndToEndId", s.orgnl_end_to_end_id);
    char uetr[37];
    snprintf(uetr, sizeof uetr, "%s",
             msg.type == ORTAK_ISO_PACS_004 ? "c3d4e5f6-a7b8-4012-9def-123456789012" : t->uetr_text);
    contains(&b, "OrgnlUETR", uetr);
    contains(&b, "TxSts", "ACSC");
    ortak_iso_buf_free(&b);
}

/* camt.054 for both sides of the settlement: debit to the payer, credit to the payee. */
static void check_notifications(struct fix *f, const struct ortak_iso_mapped *m, const struct ortak_iso_tx *t,
                                ortak_time_ns settled) {
    ortak_u128 accounts[2] = {m->cmd.u.payment.debit_account_id, m->cmd.u.payment.credit_account_id};
    for (int side = 0; side < 2; side++) {
        struct ortak_account_info a = tu_account_info(f->e, accounts[side]);
        struct ortak_iso_account acct = {.id = a.id, .minor_units = 2};
        snprintf(acct.owner_bic, sizeof acct.owner_bic, "%s", a.bic);
        snprintf(acct.currency, sizeof acct.currency, "%s", a.currency);
        struct ortak_currency_info c;
        assert_int_equal(ortak_ledger_currency_get(ortak_engine_ledger(f->e), a.currency, &c), ORTAK_OK);
        acct.minor_units = c.minor_units;
        bool ret = msg.type == ORTAK_ISO_PACS_004; /* a return names the payment it returns */
        struct ortak_iso_entry en = {.transfer_id = m->cmd.u.payment.id, .booked_ns = settled};
        en.uetr = ret ? t->orgnl_uetr : t->uetr;
        en.amount = side == 0 ? -(int64_t)m->cmd.u.payment.amount : (int64_t)m->cmd.u.payment.amount;
        snprintf(en.msg_id, sizeof en.msg_id, "%s", msg.msg_id);
        snprintf(en.instr_id, sizeof en.instr_id, "%s", ret ? t->rtr_id : t->instr_id);
        snprintf(en.end_to_end_id, sizeof en.end_to_end_id, "%s", ret ? t->orgnl_end_to_end_id : t->end_to_end_id);
        snprintf(en.counterparty_bic, sizeof en.counterparty_bic, "%s", side ? banks[0].bic : banks[1].bic);
        struct ortak_iso_head h;
        head(&h, a.bic, side ? "NTF-C" : "NTF-D", settled);
        struct ortak_iso_buf b = {0};
        assert_int_equal(ortak_iso_write_camt054(&h, &acct, &en, &b), ORTAK_OK);
        check_back(&b, ORTAK_ISO_CAMT_054);
        contains(&b, "CdtDbtInd", side ? "CRDT" : "DBIT");
        contains(&b, "InstrId", en.instr_id);
        contains(&b, "EndToEndId", en.end_to_end_id);
        contains(&b, "UETR", ret ? "c3d4e5f6-a7b8-4012-9def-123456789012" : t->uetr_text);
        ortak_iso_buf_free(&b);
    }
}

/* The forwarded message reads back in the original's type (msg.type), with the original transaction's ids (a
 * return's: RtrId and the returned payment's), addressed to the creditor agent. */
static void check_forward(const char *rel, const struct ortak_iso_tx *t, ortak_time_ns settled) {
    size_t len;
    char *orig = slurp_sample(rel, &len);
    uint8_t type = msg.type;
    bool ret = type == ORTAK_ISO_PACS_004;
    struct ortak_iso_head h;
    /* a pacs.009 without agents names its creditor institution (read into cdtr_agt); a return, its instructed agent */
    head(&h, t->cdtr_agt[0] ? t->cdtr_agt : t->instd_agt, "FWD-1", settled);
    struct ortak_iso_buf b = {0};
    ortak_u128 uetr = ret ? t->orgnl_uetr : t->uetr;
    assert_true(uetr != 0);
    assert_int_equal(ortak_iso_write_forward(rd, orig, len, uetr, &h, settled, &b), ORTAK_OK);
    assert_int_equal(ortak_iso_write_forward(rd, orig, len, uetr + 1, &h, settled, &b), ORTAK_ISO_INVALID);
    free(orig);
    check_back(&b, type);
    assert_string_equal(back.hdr_to, h.to);
    assert_string_equal(back.msg_id, "FWD-1");
    assert_int_equal(back.tx_count, 1);
    const struct ortak_iso_tx *f = &back.tx[0];
    assert_string_equal(f->settlement_date, "2026-04-13"); /* the day `settled` falls on */
    assert_int_equal(f->amount, t->amount);
    assert_string_equal(f->currency, t->currency);
    if (ret) {
        assert_string_equal(f->rtr_id, t->rtr_id);
        assert_string_equal(f->orgnl_instr_id, t->orgnl_instr_id);
        assert_string_equal(f->orgnl_end_to_end_id, t->orgnl_end_to_end_id);
        assert_true(f->orgnl_uetr == t->orgnl_uetr);
    } else {
        assert_string_equal(f->end_to_end_id, t->end_to_end_id);
        assert_string_equal(f->instr_id, t->instr_id);
        assert_string_equal(f->uetr_text, t->uetr_text);
    }
    ortak_iso_buf_free(&b);
}

static void test_pacs008(void **state) {
    (void)state;
    struct fix f;
    fix_open(&f);
    static const char *const rel = "test_files/2026/pacs008_credit_transfer_sample.xml";
    struct ortak_iso_mapped m = read_and_map(&f, rel, "FNTXDE2X", ORTAK_ISO_PACS_008);
    assert_int_equal(m.cmd.u.payment.debit_account_id, 101);
    assert_int_equal(m.cmd.u.payment.credit_account_id, 102);
    assert_int_equal(m.cmd.u.payment.amount, 75000000);
    assert_true(m.cmd.u.payment.uetr == msg.tx[0].uetr);
    assert_true(m.cmd.u.payment.id == ortak_iso_payment_id(msg.tx[0].uetr));
    ortak_time_ns settled = apply_settled(&f, &m);
    assert_true(tu_account_info(f.e, 102).balance == FUNDS + 75000000);
    struct ortak_iso_tx t = msg.tx[0];
    check_status(&t, "FNTXDE2X", settled);
    check_notifications(&f, &m, &t, settled);
    check_forward(rel, &t, settled);
    /* the same message again: the UETR is taken */
    m = read_and_map(&f, rel, "FNTXDE2X", ORTAK_ISO_PACS_008);
    assert_int_equal(m.rc, ORTAK_ISO_DUPLICATE_UETR);
    assert_string_equal(m.reason, "DUPL");
    ortak_engine_close(f.e);
}

static void test_pacs009(void **state) {
    (void)state;
    struct fix f;
    fix_open(&f);
    static const char *const rel = "test_files/2026/pacs009_fi_transfer_sample.xml";
    struct ortak_iso_mapped m = read_and_map(&f, rel, "KRMTJP2X", ORTAK_ISO_PACS_009);
    assert_int_equal(m.cmd.kind, ORTAK_CMD_PAYMENT_SUBMIT);
    assert_int_equal(m.cmd.u.payment.debit_account_id, 201);
    assert_int_equal(m.cmd.u.payment.credit_account_id, 202);
    assert_int_equal(m.cmd.u.payment.amount, 45000000); /* JPY has no minor units */
    ortak_time_ns settled = apply_settled(&f, &m);
    struct ortak_iso_tx t = msg.tx[0];
    check_status(&t, "KRMTJP2X", settled);
    check_notifications(&f, &m, &t, settled);
    check_forward(rel, &t, settled);
    ortak_engine_close(f.e);
}

/* pacs.004: the original payee returns a settled payment, once, at most what it received. */
static void test_pacs004(void **state) {
    (void)state;
    struct fix f;
    fix_open(&f);
    static const char *const rel = "test_files/2026/pacs004_payment_return_sample.xml";
    ortak_u128 orig_uetr = ((ortak_u128)0xc3d4e5f6a7b84012u << 64) | 0x9def123456789012u;
    /* not yet paid: nothing to return */
    struct ortak_iso_mapped m = read_and_map(&f, rel, "RVNTGB2L", ORTAK_ISO_PACS_004);
    assert_int_equal(m.rc, ORTAK_ISO_RETURN_INVALID);
    /* the original payment, HDQCFR2X to RVNTGB2L, 200,000.00 GBP; the return is 125,000.00 */
    struct ortak_cmd pay = tu_payment(tick(&f), ortak_iso_payment_id(orig_uetr), 302, 301, 20000000, 2);
    pay.u.payment.uetr = orig_uetr;
    ok(&f, pay);
    m = read_and_map(&f, rel, "HDQCFR2X", ORTAK_ISO_PACS_004);
    assert_int_equal(m.rc, ORTAK_ISO_SENDER_MISMATCH); /* the header's sender is RVNTGB2L */
    m = read_and_map(&f, rel, "RVNTGB2L", ORTAK_ISO_PACS_004);
    assert_int_equal(m.cmd.u.payment.debit_account_id, 301);
    assert_int_equal(m.cmd.u.payment.credit_account_id, 302);
    assert_int_equal(m.cmd.u.payment.amount, 12500000);
    assert_true(m.cmd.u.payment.id == ortak_iso_return_id(ortak_iso_payment_id(orig_uetr)));
    assert_true(m.cmd.u.payment.uetr == orig_uetr);
    ortak_time_ns settled = apply_settled(&f, &m);
    assert_true(tu_account_info(f.e, 302).balance == FUNDS - 20000000 + 12500000);
    struct ortak_iso_tx t = msg.tx[0];
    check_status(&t, "RVNTGB2L", settled);
    check_notifications(&f, &m, &t, settled);
    check_forward(rel, &t, settled);
    m = read_and_map(&f, rel, "RVNTGB2L", ORTAK_ISO_PACS_004);
    assert_int_equal(m.rc, ORTAK_ISO_RETURN_INVALID); /* already returned */
    assert_string_equal(m.reason, "NARR");
    ortak_engine_close(f.e);
}

/* The pacs.008 sample with `from` replaced by `to`, read (it must stay valid) and mapped for `sender`. */
static struct ortak_iso_mapped map_mutated(struct fix *f, const char *from, const char *to, const char *sender) {
    size_t len, out_len;
    char *buf = slurp_sample("test_files/2026/pacs008_credit_transfer_sample.xml", &len);
    char *out = tu_replace_first(buf, len, from, to, &out_len);
    if (!out) fail_msg("no '%s'", from);
    ortak_rc rc = ortak_iso_read(rd, out, out_len, &msg);
    free(out);
    free(buf);
    if (rc != ORTAK_OK) fail_msg("mutated sample: %s", msg.issue_count ? msg.issues[0].text : ortak_rc_str(rc));
    struct ortak_iso_mapped m;
    ortak_iso_map(f->e, &msg, 0, sender, tick(f), &m);
    return m;
}

/* Every refusal of the mapping, with its reason code; and a pacs.002 RJCT that validates. */
static void test_refusals(void **state) {
    (void)state;
    struct fix f;
    fix_open(&f);
    static const struct {
        const char *from, *to, *sender;
        ortak_rc rc;
        const char *reason;
    } cases[] = {
        {"<head:BICFI>GLPBES2X", "<head:BICFI>GLPBES2X", "GLPBES2X", ORTAK_ISO_SENDER_MISMATCH, "AG01"},
        {"<pacs:InstdAgt>\n\t\t\t\t\t<pacs:FinInstnId>\n\t\t\t\t\t\t<pacs:BICFI>GLPBES2X",
         "<pacs:InstdAgt>\n\t\t\t\t\t<pacs:FinInstnId>\n\t\t\t\t\t\t<pacs:BICFI>UNKNES2X", "FNTXDE2X",
         ORTAK_PARTICIPANT_NOT_FOUND, "RC01"},
        {"Ccy=\"EUR\">750000</pacs:IntrBkSttlmAmt>", "Ccy=\"USD\">750000</pacs:IntrBkSttlmAmt>", "FNTXDE2X",
         ORTAK_CURRENCY_UNKNOWN, "AM03"},
        {"Ccy=\"EUR\">750000</pacs:IntrBkSttlmAmt>", "Ccy=\"JPY\">750000</pacs:IntrBkSttlmAmt>", "FNTXDE2X",
         ORTAK_ACCOUNT_NOT_FOUND, "AC01"},
        {"</pacs:UETR>", "</pacs:UETR><pacs:ClrSysRef>FX000000000000000000000000000000ab</pacs:ClrSysRef>", "FNTXDE2X",
         ORTAK_QUOTE_NOT_FOUND, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ortak_iso_mapped m = map_mutated(&f, cases[i].from, cases[i].to, cases[i].sender);
        if (m.rc != cases[i].rc) fail_msg("case %zu: %s (%s)", i, ortak_rc_str(m.rc), m.text);
        assert_string_equal(m.reason, cases[i].reason);
        assert_true(m.text[0] != '\0');
    }
    /* a message read with issues is never mapped */
    static struct ortak_iso_msg invalid;
    invalid = msg;
    ortak_iso_issue_add(&invalid, "XSD", "FF01", "line 1: broken");
    struct ortak_iso_mapped refused;
    ortak_iso_map(f.e, &invalid, 0, "FNTXDE2X", tick(&f), &refused);
    assert_int_equal(refused.rc, ORTAK_ISO_INVALID);
    assert_string_equal(refused.reason, "FF01");
    /* the refusal as a pacs.002 RJCT */
    struct ortak_iso_mapped m = map_mutated(&f, cases[2].from, cases[2].to, "FNTXDE2X");
    struct ortak_iso_status s;
    memset(&s, 0, sizeof s);
    head(&s.head, "FNTXDE2X", "RJ-1", f.now);
    snprintf(s.orgnl_msg_id, sizeof s.orgnl_msg_id, "%s", msg.msg_id);
    s.orgnl_type = ORTAK_ISO_PACS_008;
    snprintf(s.orgnl_end_to_end_id, sizeof s.orgnl_end_to_end_id, "%s", msg.tx[0].end_to_end_id);
    s.orgnl_uetr = msg.tx[0].uetr;
    snprintf(s.status, sizeof s.status, "RJCT");
    snprintf(s.reason, sizeof s.reason, "%s", m.reason);
    snprintf(s.reason_text, sizeof s.reason_text, "%.105s", m.text);
    struct ortak_iso_buf b = {0};
    assert_int_equal(ortak_iso_write_pacs002(&s, &b), ORTAK_OK);
    check_back(&b, ORTAK_ISO_PACS_002);
    contains(&b, "TxSts", "RJCT");
    contains(&b, "Cd", "AM03");
    ortak_iso_buf_free(&b);
    ortak_engine_close(f.e);
}

/* A pacs.009 from the currency's central bank moves liquidity out of its issuance account. */
static void test_liquidity(void **state) {
    (void)state;
    struct fix f;
    fix_open(&f);
    size_t len;
    char *buf = slurp_sample("test_files/2026/pacs009_fi_transfer_sample.xml", &len);
    for (char *p = strstr(buf, "KRMTJP2X"); p; p = strstr(p, "KRMTJP2X")) memcpy(p, "BOJPJPJT", 8);
    assert_int_equal(ortak_iso_read(rd, buf, len, &msg), ORTAK_OK);
    free(buf);
    struct ortak_iso_mapped m;
    ortak_iso_map(f.e, &msg, 0, "BOJPJPJT", tick(&f), &m);
    assert_int_equal(m.rc, ORTAK_OK);
    assert_int_equal(m.cmd.kind, ORTAK_CMD_TRANSFER);
    assert_int_equal(m.cmd.u.transfer.debit_account_id, 200);
    assert_int_equal(m.cmd.u.transfer.credit_account_id, 202);
    ok(&f, m.cmd);
    assert_true(tu_account_info(f.e, 202).balance == FUNDS + 45000000);
    ortak_engine_close(f.e);
}

/* Ids from UETRs: distinct, beginning with 4 (payments) or 5 (returns), never in the system's id space. */
static void test_ids(void **state) {
    (void)state;
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 100000; i++) {
        ortak_u128 u = 0;
        for (int k = 0; k < 2; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            u = (u << 64) | x;
        }
        u = (u & ~((ortak_u128)0xf << 76)) | ((ortak_u128)4 << 76); /* version 4 */
        u = (u & ~((ortak_u128)0x3 << 62)) | ((ortak_u128)2 << 62); /* variant 10 */
        ortak_u128 id = ortak_iso_payment_id(u);
        assert_int_equal((unsigned)(id >> 124), 4);
        assert_true(ortak_iso_payment_id(id) == u); /* the swap is its own inverse: one id per UETR */
        assert_int_equal((unsigned)(ortak_iso_return_id(id) >> 124), 5);
    }
    struct ortak_iso_seen *seen;
    assert_int_equal(ortak_iso_seen_open(2, &seen), ORTAK_OK);
    assert_int_equal(ortak_iso_seen_add(seen, "FNTXDE2X", "M1"), ORTAK_OK);
    assert_int_equal(ortak_iso_seen_add(seen, "GLPBES2X", "M1"), ORTAK_OK); /* another sender's M1 */
    assert_int_equal(ortak_iso_seen_add(seen, "FNTXDE2X", "M1"), ORTAK_ISO_DUPLICATE_MESSAGE);
    assert_string_equal(ortak_rc_iso_reason(ORTAK_ISO_DUPLICATE_MESSAGE), "AM05");
    assert_int_equal(ortak_iso_seen_add(seen, "FNTXDE2X", "M2"), ORTAK_ISO_SEEN_FULL);
    ortak_iso_seen_close(seen);
}

static int setup(void **state) {
    (void)state;
    char dir[1024], reg[1024], why[512];
    snprintf(dir, sizeof dir, "%s/iso20022/xsd", data_dir);
    snprintf(reg, sizeof reg, "%s/iban/registry.txt", data_dir);
    struct ortak_iso_options o = {.schema_dir = dir, .iban_registry = reg};
    if (ortak_iso_open(&o, &iso, why, sizeof why) != ORTAK_OK) fail_msg("reference data: %s", why);
    assert_int_equal(ortak_iso_reader_open(iso, &rd), ORTAK_OK);
    assert_int_equal(ortak_iso_reader_open(iso, &rd_check), ORTAK_OK);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ortak_iso_reader_close(rd);
    ortak_iso_reader_close(rd_check);
    ortak_iso_close(iso);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s SHARED_DATA_DIR\n", argv[0]);
        return 2;
    }
    data_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pacs008),  cmocka_unit_test(test_pacs009),   cmocka_unit_test(test_pacs004),
        cmocka_unit_test(test_refusals), cmocka_unit_test(test_liquidity), cmocka_unit_test(test_ids),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
