/*
 * ISO 20022 reading: the samples others wrote are classified as their manifest says, the rules catch the
 * business-rule violators, and hostile or broken input is refused before or by the parser, never crashing it.
 *
 * argv[1] is the shared reference data directory; the test fails when it is absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "iso20022/iso_int.h"
#include "ortak/iso20022.h"
#include "test_cli.h"

static const char *data_dir, *ortak_bin;
static struct ortak_iso *iso;      /* schemas and registry */
static struct ortak_iso *iso_bare; /* no schemas: ortak's own checks only */
static struct ortak_iso_reader *rd, *rd_bare;
static struct ortak_iso_msg msg;
static char tmp_dir[256]; /* where the CLI's output is captured; made by setup, removed by teardown */

static char *sample_path(const char *rel) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/iso20022/samples/%s", data_dir, rel);
    return path;
}

static bool has_issue(const struct ortak_iso_msg *m, const char *rule) {
    uint32_t kept = m->issue_count < ORTAK_ISO_ISSUES_MAX ? m->issue_count : ORTAK_ISO_ISSUES_MAX;
    for (uint32_t i = 0; i < kept; i++)
        if (strcmp(m->issues[i].rule, rule) == 0) return true;
    return false;
}

static ortak_rc read_file(struct ortak_iso_reader *r, const char *rel) {
    size_t len;
    char *buf = tu_slurp(sample_path(rel), &len);
    ortak_rc rc = ortak_iso_read(r, buf, len, &msg);
    free(buf);
    return rc;
}

static ortak_rc read_text(struct ortak_iso_reader *r, const char *text) {
    return ortak_iso_read(r, text, strlen(text), &msg);
}

static int setup(void **state) {
    (void)state;
    char dir[1024], reg[1024], why[512];
    snprintf(dir, sizeof dir, "%s/iso20022/xsd", data_dir);
    snprintf(reg, sizeof reg, "%s/iban/registry.txt", data_dir);
    struct ortak_iso_options o = {.schema_dir = dir, .iban_registry = reg};
    if (ortak_iso_open(&o, &iso, why, sizeof why) != ORTAK_OK) fail_msg("reference data: %s", why);
    assert_int_equal(ortak_iso_schema_count(iso), ORTAK_ISO_TYPES - 1);
    struct ortak_iso_options bare = {0};
    assert_int_equal(ortak_iso_open(&bare, &iso_bare, why, sizeof why), ORTAK_OK);
    assert_int_equal(ortak_iso_schema_count(iso_bare), 0);
    assert_int_equal(ortak_iso_reader_open(iso, &rd), ORTAK_OK);
    assert_int_equal(ortak_iso_reader_open(iso_bare, &rd_bare), ORTAK_OK);
    if (!tu_mkdtemp(tmp_dir, sizeof tmp_dir, "ortak-iso-read")) fail_msg("cannot make a temporary directory");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ortak_iso_reader_close(rd);
    ortak_iso_reader_close(rd_bare);
    ortak_iso_close(iso);
    ortak_iso_close(iso_bare);
    /* stdout and stderr stay only when a run failed half-way */
    if (tmp_dir[0] && !tu_remove_dir(tmp_dir, (const char *const[]){"stdout", "stderr", NULL})) return -1;
    return 0;
}

/* Every manifest row: the schema verdict equals the manifest's `xsd` column, and the type is the manifest's. */
static void test_manifest(void **state) {
    (void)state;
    size_t len;
    char *csv = tu_slurp(sample_path("MANIFEST.csv"), &len);
    char *save = NULL;
    uint32_t rows = 0, valid = 0;
    strtok_r(csv, "\n", &save); /* the header */
    for (char *line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *c1 = strchr(line, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
        assert_non_null(c2);
        *c1 = *c2 = '\0';
        const char *type = c1 + 1;
        bool xsd_valid = strncmp(c2 + 1, "valid", 5) == 0;
        ortak_rc rc = read_file(rd, line);
        bool schema_valid =
            rc != ORTAK_ISO_UNREADABLE && msg.schema_checked && !has_issue(&msg, "XSD") && !has_issue(&msg, "MSG-1");
        if (schema_valid != xsd_valid)
            fail_msg("%s: schema says %s, manifest says %s (%s)", line, schema_valid ? "valid" : "invalid",
                     xsd_valid ? "valid" : "invalid", msg.issue_count ? msg.issues[0].text : "no issue");
        if (strcmp(type, "no") == 0)
            assert_int_equal(rc, ORTAK_ISO_UNREADABLE);
        else
            assert_string_equal(ortak_iso_type_name(msg.type), type);
        rows++;
        valid += xsd_valid;
    }
    free(csv);
    assert_int_equal(rows, 130);
    print_message("%u samples, %u valid against their schemas\n", rows, valid);
}

/* The business-rule violators: every header/document mismatch, commodity currency and slashed id is caught. */
static void test_violators(void **state) {
    (void)state;
    static const struct {
        const char *marker, *rule;
    } expect[] = {{"msgdefidr_mismatch", "HDR-1"}, {"commodity_currency_XAU", "CCY-1"}, {"slash_in_instrid", "ID-1"}};
    size_t len;
    char *csv = tu_slurp(sample_path("MANIFEST.csv"), &len);
    char *save = NULL;
    uint32_t checked[3] = {0};
    for (char *line = strtok_r(csv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strstr(line, "__violates_")) continue;
        *strchr(line, ',') = '\0';
        for (int k = 0; k < 3; k++) {
            if (!strstr(line, expect[k].marker)) continue;
            assert_int_equal(read_file(rd, line), ORTAK_ISO_INVALID);
            if (!has_issue(&msg, expect[k].rule)) fail_msg("%s: no %s issue", line, expect[k].rule);
            assert_int_equal(read_file(rd_bare, line), ORTAK_ISO_INVALID); /* the rules need no schema */
            assert_true(has_issue(&msg, expect[k].rule));
            checked[k]++;
        }
    }
    free(csv);
    assert_int_equal(checked[0], 5);
    assert_true(checked[1] >= 10);
    assert_int_equal(checked[2], 2);
}

/* A valid pacs.008 reads with every mapped field; its header and transaction as written. */
static void test_pacs008_fields(void **state) {
    (void)state;
    assert_int_equal(read_file(rd, "cbpr-ur/test_files/2026/pacs008_credit_transfer_sample.xml"), ORTAK_OK);
    assert_int_equal(msg.type, ORTAK_ISO_PACS_008);
    assert_true(msg.has_header && msg.schema_checked);
    assert_string_equal(msg.hdr_from, "FNTXDE2X");
    assert_string_equal(msg.hdr_to, "GLPBES2X");
    assert_string_equal(msg.hdr_msg_def_id, "pacs.008.001.08");
    assert_string_equal(msg.msg_id, "P008-20260413-5017");
    assert_int_equal(msg.tx_count, 1);
    const struct ortak_iso_tx *t = &msg.tx[0];
    assert_string_equal(t->instr_id, "IN20260413-5017");
    assert_string_equal(t->end_to_end_id, "E2E-04138234");
    assert_string_equal(t->uetr_text, "a1b2c3d4-e5f6-4890-abcd-ef1234567890");
    assert_true(t->uetr == (((ortak_u128)0xa1b2c3d4e5f64890u << 64) | 0xabcdef1234567890u));
    assert_string_equal(t->currency, "EUR");
    assert_int_equal(t->amount, 75000000);
    assert_string_equal(t->settlement_date, "2026-04-13");
    assert_string_equal(t->instg_agt, "FNTXDE2X");
    assert_string_equal(t->cdtr_agt, "GLPBES2X");
    assert_string_equal(t->dbtr_acct, "74829163");
    assert_int_equal(t->dbtr_acct_kind, ORTAK_ISO_ACCT_OTHER);
    assert_int_equal(t->priority, ORTAK_PRIORITY_NORMAL);
    assert_int_equal(t->method, ORTAK_METHOD_GROSS);
    assert_int_equal(t->latest_ns, 0);
}

/* Input refused before the parser: size, depth, DOCTYPE (entity expansion), and what is not an ISO message. */
static void test_unreadable(void **state) {
    (void)state;
    static const char *const bad[] = {
        "",
        "not xml at all",
        "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08\"><unclosed></Document>",
        ("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]>"
         "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08\">&lol2;</Document>"),
        "<!DOCTYPE x SYSTEM \"http://example.com/x.dtd\"><x/>",
        "<Document xmlns=\"urn:test:mini\"><Amt>5</Amt></Document>",
        "<Envelope><AppHdr xmlns=\"urn:iso:std:iso:20022:tech:xsd:head.001.001.02\"/></Envelope>",
        "<?xml version=\"1.0\" encoding=\"ISO-2022-JP\"?><Document "
        "xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08\"/>",
        "\xff\xfe<\0D\0/\0>\0",
        "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08\"><x:a xmlns:x=\"urn:a&lt;b\"/></Document>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (read_text(rd, bad[i]) != ORTAK_ISO_UNREADABLE) fail_msg("case %zu read as %u", i, msg.type);
        assert_true(msg.issue_count > 0);
        assert_string_equal(msg.issues[0].reason, "FF01");
    }
    /* 33 nested elements: one more than the default depth */
    char deep[1024] = "";
    for (int i = 0; i < 33; i++) strcat(deep, "<a>");
    for (int i = 0; i < 33; i++) strcat(deep, "</a>");
    assert_int_equal(read_text(rd, deep), ORTAK_ISO_UNREADABLE);
    assert_non_null(strstr(msg.issues[0].text, "deeper"));
    size_t big = ORTAK_ISO_MESSAGE_BYTES_DEFAULT + 1;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    assert_int_equal(ortak_iso_read(rd, huge, big, &msg), ORTAK_ISO_UNREADABLE);
    assert_non_null(strstr(msg.issues[0].text, "limit"));
    free(huge);
    /* an ISO namespace of a version ortak does not support */
    assert_int_equal(read_text(rd, "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.02\"/>"),
                     ORTAK_ISO_INVALID);
    assert_true(has_issue(&msg, "MSG-1"));
    assert_string_equal(msg.issues[0].reason, "AG03");
}

/* The sample with `from` replaced by `to` (first occurrence), read by `r`. */
static ortak_rc read_mutated(struct ortak_iso_reader *r, const char *rel, const char *from, const char *to) {
    size_t len, out_len;
    char *buf = tu_slurp(sample_path(rel), &len);
    char *out = tu_replace_first(buf, len, from, to, &out_len);
    if (!out) fail_msg("%s: no '%s'", rel, from);
    ortak_rc rc = ortak_iso_read(r, out, out_len, &msg);
    free(out);
    free(buf);
    return rc;
}

/* ortak's own checks of what it maps hold without schemas; with schemas the schema agrees where it can. */
static void test_structural_checks(void **state) {
    (void)state;
    static const char *const f = "cbpr-ur/test_files/2026/pacs008_credit_transfer_sample.xml";
    static const struct {
        const char *from, *to, *rule, *reason;
    } cases[] = {
        {">750000<", ">750000.001<", "AMT-1", "AM12"},
        {">750000<", ">0<", "AMT-2", "AM01"},
        {"Ccy=\"EUR\">750000", "Ccy=\"XAU\">750000", "CCY-1", "AM03"},
        {"<pacs:BICFI>GLPBES2X", "<pacs:BICFI>GLPBXX2X", "BIC-1", "RC01"},
        {"<pacs:UETR>a1b2c3d4-e5f6-4890-abcd-ef1234567890</pacs:UETR>", "", "UETR-1", "FF01"},
        {"a1b2c3d4-e5f6-4890", "a1b2c3d4-e5f6-5890", "UETR-2", "FF01"},
        {"<pacs:NbOfTxs>1<", "<pacs:NbOfTxs>2<", "GRP-2", "FF01"},
        {"<head:MsgDefIdr>pacs.008.001.08<", "<head:MsgDefIdr>pacs.009.001.08<", "HDR-1", "FF01"},
        {"<head:BizMsgIdr>P008-20260413-5017<", "<head:BizMsgIdr>OTHER<", "HDR-2", "FF01"},
        {"IN20260413-5017", "IN2026//0413", "ID-1", "FF01"},
        {"<pacs:CdtrAgt>\n\t\t\t\t\t<pacs:FinInstnId>\n\t\t\t\t\t\t<pacs:BICFI>GLPBES2X",
         "<pacs:CdtrAgt>\n\t\t\t\t\t<pacs:FinInstnId>\n\t\t\t\t\t\t<pacs:BICFI>GLPBKG2X", "ACCT-1", "AC01"},
        {"<pacs:EndToEndId>", "<pacs:ClrSysRef>FX12</pacs:ClrSysRef><pacs:EndToEndId>", "FX-1", "FF01"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ortak_iso_reader *rs[] = {rd_bare, rd};
        for (int k = 0; k < 2; k++) {
            assert_int_equal(read_mutated(rs[k], f, cases[i].from, cases[i].to), ORTAK_ISO_INVALID);
            if (!has_issue(&msg, cases[i].rule))
                fail_msg("case %zu (%s), %s: issue %s '%s'", i, cases[i].rule, k ? "schemas" : "bare",
                         msg.issues[0].rule, msg.issues[0].text);
        }
        assert_false(msg.schema_checked && rs[0] == rd);
    }
    /* a Document that does not hold its message definition's element */
    assert_int_equal(read_text(rd_bare, "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08\">"
                                        "<FICdtTrf/></Document>"),
                     ORTAK_ISO_INVALID);
    assert_true(has_issue(&msg, "MSG-2"));
    assert_int_equal(
        read_text(rd_bare, "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08\">x</Document>"),
        ORTAK_ISO_INVALID);
    assert_true(has_issue(&msg, "MSG-2"));
    /* the IBAN rule: a real IBAN passes, one changed digit fails */
    assert_int_equal(read_mutated(rd, f,
                                  "<pacs:Othr>\n\t\t\t\t\t\t\t<pacs:Id>74829163</pacs:Id>\n\t\t\t\t\t\t</pacs:Othr>",
                                  "<pacs:IBAN>DE89370400440532013000</pacs:IBAN>"),
                     ORTAK_OK);
    assert_int_equal(msg.tx[0].dbtr_acct_kind, ORTAK_ISO_ACCT_IBAN);
    assert_int_equal(read_mutated(rd, f,
                                  "<pacs:Othr>\n\t\t\t\t\t\t\t<pacs:Id>74829163</pacs:Id>\n\t\t\t\t\t\t</pacs:Othr>",
                                  "<pacs:IBAN>DE89370400440532013001</pacs:IBAN>"),
                     ORTAK_ISO_INVALID);
    assert_true(has_issue(&msg, "IBAN-1"));
    assert_string_equal(msg.issues[0].reason, "AC01");
}

/* Priority, settlement method, latest time and FX quote come from their documented fields. */
static void test_mapped_fields(void **state) {
    (void)state;
    static const char *const f = "cbpr-ur/test_files/2026/pacs008_credit_transfer_sample.xml";
    static const char *const at = "<pacs:IntrBkSttlmAmt";
    static const struct {
        const char *insert;
        uint8_t priority, method;
    } cases[] = {
        {"<pacs:PmtTpInf><pacs:InstrPrty>HIGH</pacs:InstrPrty></pacs:PmtTpInf>", ORTAK_PRIORITY_URGENT, 0},
        {"<pacs:PmtTpInf><pacs:InstrPrty>NORM</pacs:InstrPrty></pacs:PmtTpInf>", ORTAK_PRIORITY_NORMAL, 0},
        {"<pacs:PmtTpInf><pacs:SvcLvl><pacs:Cd>URGP</pacs:Cd></pacs:SvcLvl></pacs:PmtTpInf>", ORTAK_PRIORITY_URGENT, 0},
        {"<pacs:PmtTpInf><pacs:ClrChanl>RTNS</pacs:ClrChanl></pacs:PmtTpInf>", ORTAK_PRIORITY_NORMAL, 1},
        {"<pacs:PmtTpInf><pacs:ClrChanl>RTGS</pacs:ClrChanl></pacs:PmtTpInf>", ORTAK_PRIORITY_NORMAL, 0},
    };
    char to[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(to, sizeof to, "%s%s", cases[i].insert, at);
        assert_int_equal(read_mutated(rd, f, at, to), ORTAK_OK);
        assert_int_equal(msg.tx[0].priority, cases[i].priority);
        assert_int_equal(msg.tx[0].method, cases[i].method);
    }
    /* SttlmPrty (after IntrBkSttlmDt) wins over InstrPrty; SttlmTmReq gives the latest time on the settlement date */
    assert_int_equal(read_mutated(rd, f, "</pacs:IntrBkSttlmDt>",
                                  "</pacs:IntrBkSttlmDt><pacs:SttlmPrty>URGT</pacs:SttlmPrty>"
                                  "<pacs:SttlmTmReq><pacs:RjctTm>14:30:00+02:00</pacs:RjctTm></pacs:SttlmTmReq>"),
                     ORTAK_OK);
    assert_int_equal(msg.tx[0].priority, ORTAK_PRIORITY_HIGHLY_URGENT);
    /* 2026-04-13 is day 20556 since the epoch; 14:30 at +02:00 is 12:30 UTC */
    assert_int_equal(msg.tx[0].latest_ns, (20556ull * 86400 + 12 * 3600 + 30 * 60) * 1000000000ull);
    assert_int_equal(read_mutated(rd, f, "</pacs:UETR>",
                                  "</pacs:UETR><pacs:ClrSysRef>FX000000000000000000000000000000ab</pacs:ClrSysRef>"),
                     ORTAK_OK);
    assert_int_equal(msg.tx[0].quote_id, 0xab);
}

/* Fault injection: the allocation that fails (0 = the next one; negative = none), and whether one did. */
static long fail_at = -1;
static bool failed_once;

static bool fail_now(void) {
    if (fail_at < 0 || fail_at-- != 0) return false;
    failed_once = true;
    return true;
}
static void *fi_malloc(size_t n) { return fail_now() ? NULL : malloc(n); }
static void *fi_realloc(void *p, size_t n) { return fail_now() ? NULL : realloc(p, n); }

/*
 * Every allocation libxml2 makes while reading a message is failed in turn: the read then answers ORTAK_NOMEM,
 * never a message with a part missing; when no allocation failed, the result is exactly the undisturbed one.
 */
static void test_allocation_failures(void **state) {
    (void)state;
    size_t len;
    char *buf = tu_slurp(sample_path("cbpr-ur/test_files/2026/pacs008_credit_transfer_sample.xml"), &len);
    static struct ortak_iso_msg want;
    static struct ortak_iso_tx want_tx;
    assert_int_equal(ortak_iso_read(rd, buf, len, &want), ORTAK_OK);
    want_tx = want.tx[0];
    ortak__iso_alloc_base(fi_malloc, fi_realloc);
    long n = 0, failures = 0;
    for (bool done = false; !done && n < 100000; n++) {
        fail_at = n;
        failed_once = false;
        ortak_rc rc = ortak_iso_read(rd, buf, len, &msg);
        fail_at = -1;
        done = !failed_once;
        if (failed_once) {
            if (rc != ORTAK_NOMEM) fail_msg("allocation %ld failed but the read answered %s", n, ortak_rc_str(rc));
            failures++;
            continue;
        }
        assert_int_equal(rc, ORTAK_OK);
        assert_string_equal(msg.msg_id, want.msg_id);
        assert_memory_equal(&msg.tx[0], &want_tx, sizeof want_tx);
    }
    ortak__iso_alloc_base(NULL, NULL);
    free(buf);
    print_message("%ld allocations failed in turn, each answered ORTAK_NOMEM\n", failures);
    assert_true(failures > 50);
}

/* Runs `ortak ARGS...` into `r`, first freeing what the last run into `r` captured; returns its exit code. */
static int run_cli(struct tu_run *r, const char *const *args) {
    tu_run_free(r);
    tu_run(r, ortak_bin, args, NULL, tmp_dir);
    return r->code;
}

#define RUN(r, ...) run_cli((r), (const char *const[]){"iso", "validate", __VA_ARGS__, NULL})

/*
 * Messages full of invented element names (each refused) do not fill the reader's name dictionary: a valid message
 * still reads after 2,400,000 of them, far more than libxml2's dictionary would hold.
 */
static void test_invented_names(void **state) {
    (void)state;
    static char junk[8192];
    for (long i = 0; i < 12000; i++) {
        int n = snprintf(junk, sizeof junk, "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08\">");
        for (int k = 0; k < 200; k++) n += snprintf(junk + n, sizeof junk - (size_t)n, "<E%ldx%d/>", i, k);
        n += snprintf(junk + n, sizeof junk - (size_t)n, "</Document>");
        assert_true((size_t)n < sizeof junk);
        assert_int_equal(ortak_iso_read(rd, junk, (size_t)n, &msg), ORTAK_ISO_INVALID);
    }
    assert_int_equal(read_file(rd, "cbpr-ur/src/cbpr_rules/examples/y2026/pacs.008.max.xml"), ORTAK_OK);
}

/* ortak iso validate: one line per file on stdout (stderr is not checked), exit 0/1/2, --json objects. */
static void test_cli(void **state) {
    (void)state;
    struct tu_run r = {0};
    const char *ok_file = sample_path("cbpr-ur/test_files/2026/pacs008_credit_transfer_sample.xml");
    char ok_path[1024];
    snprintf(ok_path, sizeof ok_path, "%s", ok_file);
    const char *bad = sample_path(
        "cbpr-ur/test_files/2026/violators/pacs002_status_report_sample__violates_pacs.002-R7_msgdefidr_mismatch.xml");
    assert_int_equal(RUN(&r, ok_path), 0);
    char want[1200];
    snprintf(want, sizeof want, "%s: valid\n", ok_path);
    assert_string_equal(r.out, want);
    assert_int_equal(RUN(&r, ok_path, bad), 1);
    assert_non_null(strstr(r.out, ": invalid: AppHdr/MsgDefIdr 'WRONG.000.00' does not match"));
    assert_non_null(strstr(r.out, "(HDR-1 FF01)"));
    assert_int_equal(RUN(&r, "--json", bad), 1);
    assert_non_null(strstr(r.out, "\"type\":\"pacs.002.001.10\",\"valid\":false,\"errors\":[{\"rule\":\"HDR-1\""));
    assert_int_equal(RUN(&r, ok_path, "/nonexistent/file.xml"), 2); /* an unreadable file; the others still checked */
    assert_string_equal(r.out, want);
    assert_int_equal(run_cli(&r, (const char *const[]){"iso", "validate", NULL}), 2);
    assert_int_equal(RUN(&r, "--bogus", "x"), 2);
    assert_int_equal(RUN(&r, "--help"), 0);
    assert_non_null(strstr(r.out, "usage: ortak iso validate"));
    /* without schemas: the rules still run */
    assert_int_equal(RUN(&r, "--schemas", "", bad), 1);
    tu_run_free(&r);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s SHARED_DATA_DIR ORTAK_BINARY\n", argv[0]);
        return 2;
    }
    data_dir = argv[1];
    ortak_bin = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest),
        cmocka_unit_test(test_violators),
        cmocka_unit_test(test_pacs008_fields),
        cmocka_unit_test(test_unreadable),
        cmocka_unit_test(test_structural_checks),
        cmocka_unit_test(test_mapped_fields),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_invented_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
