/*
 * Unit tests of the generated ISO 20022 messages (iso20022.h, "Generating out": pacs.002, camt.054, camt.052,
 * camt.053, admi.002, the forwarded pacs.008, pacs.009 and pacs.004) and of the module's time helpers (iso_int.h).
 *
 * argv[1] is the shared data directory: the schemas are loaded from its iso20022/xsd with libxml2 directly (not
 * through ortak_iso_open), and the test fails at once when one is missing. Every message generated is parsed again,
 * its AppHdr validated against head.001.001.02 and its Document against its own schema, and its content asserted
 * with XPath: ids carried, amounts as exact text, credit/debit indicators, dates, escaping and UTF-8 round trips.
 * Refusals are asserted too, with the buffer left as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "iso20022/iso_int.h"
#include "test_util.h"

#define T0 (UINT64_C(1767225600) * ORTAK_NS_PER_S) /* 2026-01-01T00:00:00Z */
#define NS_PER_DAY (UINT64_C(86400) * ORTAK_NS_PER_S)
#define SEC(s) ((uint64_t)(s)*ORTAK_NS_PER_S)

#define SYS "NBRKKZKX"
#define BANK_A "HSBKKZKX"
#define BANK_B "KCJBKZKXXXX"
/* 123e4567-e89b-42d3-a456-426614174000 */
#define UETR1 ORTAK_U128(UINT64_C(0x123e4567e89b42d3), UINT64_C(0xa456426614174000))
#define UETR1_TEXT "123e4567-e89b-42d3-a456-426614174000"

#define SAMPLES "/iso20022/samples/cbpr-ur/"
#define EXAMPLES SAMPLES "src/cbpr_rules/examples/y2026/"

static const char *data_dir;
static xmlSchemaPtr schemas[ORTAK_ISO_TYPES];
static const uint8_t schema_types[] = {ORTAK_ISO_HEAD_001, ORTAK_ISO_PACS_002, ORTAK_ISO_PACS_008,
                                       ORTAK_ISO_PACS_009, ORTAK_ISO_PACS_004, ORTAK_ISO_CAMT_052,
                                       ORTAK_ISO_CAMT_053, ORTAK_ISO_CAMT_054, ORTAK_ISO_ADMI_002};

/* ---- helpers ----------------------------------------------------------------------------------------------- */

/* A generated message parsed again, with XPath prefixes h (head.001) and d (the document's namespace). */
struct parsed {
    xmlDocPtr doc;
    xmlXPathContextPtr xp;
    char text[2048]; /* the last text xp_text returned */
};

/* Schema errors are printed: they say why a message failed. */
static void schema_error(void *ctx, xmlErrorPtr err) {
    (void)ctx;
    fprintf(stderr, "  line %d: %s", err->line, err->message != NULL ? err->message : "?\n");
}

static void must_validate(uint8_t type, xmlNodePtr n) {
    xmlSchemaValidCtxtPtr v = xmlSchemaNewValidCtxt(schemas[type]);
    assert_non_null(v);
    xmlSchemaSetValidStructuredErrors(v, schema_error, NULL);
    int rc = xmlSchemaValidateOneElement(v, n);
    xmlSchemaFreeValidCtxt(v);
    if (rc != 0) fail_msg("%s part does not validate (%d)", ortak_iso_type_name(type), rc);
}

/* Parses `len` bytes of one message and validates both parts; the envelope must be exactly as ortak writes it. */
static void parse_valid(const char *data, size_t len, uint8_t type, struct parsed *p) {
    static const char decl[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
    char ns[128];
    assert_true(len > sizeof decl && memcmp(data, decl, sizeof decl - 1) == 0);
    p->doc = xmlReadMemory(data, (int)len, NULL, NULL, XML_PARSE_NONET);
    if (p->doc == NULL) fail_msg("not well-formed: %.*s", (int)(len < 4000 ? len : 4000), data);
    xmlNodePtr root = xmlDocGetRootElement(p->doc), hdr = NULL, document = NULL;
    uint8_t found = ORTAK_ISO_UNKNOWN;
    assert_string_equal((const char *)root->name, "Envelope");
    assert_null(root->ns);
    ortak__iso_locate(root, &hdr, &document, &found);
    assert_non_null(hdr);
    assert_non_null(document);
    assert_int_equal(found, type);
    must_validate(ORTAK_ISO_HEAD_001, hdr);
    must_validate(type, document);
    p->xp = xmlXPathNewContext(p->doc);
    assert_non_null(p->xp);
    snprintf(ns, sizeof ns, "%s%s", ISO_NS_PREFIX, ortak_iso_type_name(type));
    assert_int_equal(xmlXPathRegisterNs(p->xp, BAD_CAST "h", BAD_CAST ISO_NS_PREFIX "head.001.001.02"), 0);
    assert_int_equal(xmlXPathRegisterNs(p->xp, BAD_CAST "d", BAD_CAST ns), 0);
    assert_int_equal(xmlXPathRegisterNs(p->xp, BAD_CAST "x", BAD_CAST "urn:example:extra"), 0);
}

static void parsed_free(struct parsed *p) {
    xmlXPathFreeContext(p->xp);
    xmlFreeDoc(p->doc);
}

static void buf_valid(const struct ortak_iso_buf *b, size_t start, uint8_t type, struct parsed *p) {
    assert_false(b->failed);
    assert_true(b->len > start);
    assert_int_equal(strlen(b->data), b->len); /* NUL-terminated, no NUL inside */
    parse_valid(b->data + start, b->len - start, type, p);
}

/* Number of nodes `expr` selects. */
static int xp_count(struct parsed *p, const char *expr) {
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, p->xp);
    if (o == NULL) fail_msg("bad XPath %s", expr);
    int n = o->nodesetval != NULL ? o->nodesetval->nodeNr : 0;
    xmlXPathFreeObject(o);
    return n;
}

/* Text of the first node `expr` selects; fails when it selects none. */
static const char *xp_text(struct parsed *p, const char *expr) {
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, p->xp);
    if (o == NULL || o->nodesetval == NULL || o->nodesetval->nodeNr == 0) fail_msg("nothing at %s", expr);
    xmlChar *s = xmlNodeGetContent(o->nodesetval->nodeTab[0]);
    assert_non_null(s);
    snprintf(p->text, sizeof p->text, "%s", (const char *)s);
    xmlFree(s);
    xmlXPathFreeObject(o);
    return p->text;
}

static void expect_text(struct parsed *p, const char *expr, const char *want) {
    const char *got = xp_text(p, expr);
    if (strcmp(got, want) != 0) fail_msg("%s: got \"%s\", want \"%s\"", expr, got, want);
}

static struct ortak_iso_head head_of(const char *to, const char *msg_id, ortak_time_ns created) {
    struct ortak_iso_head h;
    memset(&h, 0, sizeof h);
    tu_copy(h.from, sizeof h.from, SYS);
    tu_copy(h.to, sizeof h.to, to);
    tu_copy(h.msg_id, sizeof h.msg_id, msg_id);
    h.created_ns = created;
    return h;
}

static void expect_head(struct parsed *p, const char *to, const char *msg_id, const char *def) {
    expect_text(p, "/Envelope/h:AppHdr/h:Fr/h:FIId/h:FinInstnId/h:BICFI", SYS);
    expect_text(p, "/Envelope/h:AppHdr/h:To/h:FIId/h:FinInstnId/h:BICFI", to);
    expect_text(p, "/Envelope/h:AppHdr/h:BizMsgIdr", msg_id);
    expect_text(p, "/Envelope/h:AppHdr/h:MsgDefIdr", def);
}

static char *read_file(const char *rel, size_t *len) {
    char path[1024];
    snprintf(path, sizeof path, "%s%s", data_dir, rel);
    FILE *f = fopen(path, "rb");
    if (f == NULL) fail_msg("cannot open %s", path);
    char *data = malloc(1 << 20);
    assert_non_null(data);
    *len = fread(data, 1, 1 << 20, f);
    fclose(f);
    assert_true(*len > 0 && *len < (1 << 20));
    return data;
}

/* ---- time helpers ------------------------------------------------------------------------------------------ */

static void expect_time(ortak_time_ns t, const char *want) {
    char out[32], date[11];
    ortak__iso_time_format(t, out);
    assert_string_equal(out, want);
    ortak__iso_date_format(t, date);
    assert_memory_equal(date, want, 10);
    assert_int_equal(date[10], '\0');
}

static void test_time_format(void **state) {
    (void)state;
    expect_time(0, "1970-01-01T00:00:00.000Z");
    expect_time(T0 + 123456789, "2026-01-01T00:00:00.123Z");
    expect_time(SEC(951782400), "2000-02-29T00:00:00.000Z");
    expect_time(SEC(951782400) + NS_PER_DAY - 1, "2000-02-29T23:59:59.999Z");
    expect_time(SEC(951782400) + NS_PER_DAY, "2000-03-01T00:00:00.000Z");
    expect_time(SEC(1709164800) + SEC(45296), "2024-02-29T12:34:56.000Z");
    expect_time(SEC(4107456000), "2100-02-28T00:00:00.000Z");
    expect_time(SEC(4107456000) + NS_PER_DAY, "2100-03-01T00:00:00.000Z"); /* 2100 is not a leap year */
    expect_time(SEC(18446659200), "2554-07-21T00:00:00.000Z");
    expect_time(UINT64_MAX, "2554-07-21T23:34:33.709Z"); /* the last instant ortak_time_ns holds */
}

static void expect_date(const char *s, ortak_time_ns want) {
    ortak_time_ns t = 1;
    if (!ortak__iso_date_parse(s, &t)) fail_msg("refused %s", s);
    assert_int_equal(t, want);
}

static void expect_no_date(const char *s) {
    ortak_time_ns t = 7;
    if (ortak__iso_date_parse(s, &t)) fail_msg("accepted %s", s);
    assert_int_equal(t, 7);
}

static void test_date_parse(void **state) {
    (void)state;
    expect_date("1970-01-01", 0);
    expect_date("2000-02-29", SEC(951782400));
    expect_date("2024-02-29", SEC(1709164800));
    expect_date("2100-02-28", SEC(4107456000));
    expect_date("2100-03-01", SEC(4107542400));
    expect_date("2026-01-01", T0);
    expect_date("2554-07-21", SEC(18446659200));
    /* beyond ortak_time_ns (2554-07-21T23:34:33Z): valid dates, refused as out of range */
    expect_no_date("2554-07-22");
    expect_no_date("9999-12-31");
    expect_no_date("1969-12-31");
    expect_no_date("2100-02-29");
    expect_no_date("2023-02-29");
    expect_no_date("2026-02-30");
    expect_no_date("2026-04-31");
    expect_no_date("2026-13-01");
    expect_no_date("2026-00-10");
    expect_no_date("2026-01-00");
    expect_no_date("26-01-01");
    expect_no_date("2026-1-01");
    expect_no_date("2026-01-01T");
    expect_no_date("2026-01-01Z");
    expect_no_date("2026/01/01");
    expect_no_date("2026-01-0a");
    expect_no_date("+026-01-01");
    expect_no_date("");
}

/* Every day ortak_time_ns reaches, formatted and parsed back. */
static void test_date_round_trip(void **state) {
    (void)state;
    char date[11];
    for (uint64_t day = 0; day <= UINT64_MAX / NS_PER_DAY; day++) {
        ortak_time_ns t = 0;
        ortak__iso_date_format(day * NS_PER_DAY + NS_PER_DAY / 2, date);
        if (!ortak__iso_date_parse(date, &t) || t != day * NS_PER_DAY)
            fail_msg("day %llu: %s", (unsigned long long)day, date);
    }
}

static void expect_tod(const char *s, int64_t want) {
    int64_t v = 1;
    if (!ortak__iso_time_of_day_parse(s, &v)) fail_msg("refused %s", s);
    if (v != want) fail_msg("%s: got %lld, want %lld", s, (long long)v, (long long)want);
}

static void expect_no_tod(const char *s) {
    int64_t v = 7;
    if (ortak__iso_time_of_day_parse(s, &v)) fail_msg("accepted %s", s);
    assert_int_equal(v, 7);
}

static void test_time_of_day(void **state) {
    (void)state;
    const int64_t h = 3600 * (int64_t)ORTAK_NS_PER_S, m = 60 * (int64_t)ORTAK_NS_PER_S, s = (int64_t)ORTAK_NS_PER_S;
    expect_tod("00:00:00Z", 0);
    expect_tod("12:34:56Z", 12 * h + 34 * m + 56 * s);
    expect_tod("12:34:56", 12 * h + 34 * m + 56 * s); /* no zone: taken as UTC */
    expect_tod("10:00:00+05:00", 5 * h);
    expect_tod("01:00:00+05:00", -4 * h);          /* the previous day */
    expect_tod("23:00:00-03:30", 26 * h + 30 * m); /* the next day */
    expect_tod("12:00:00.5Z", 12 * h + s / 2);
    expect_tod("12:00:00.123+00:00", 12 * h + 123000000);
    expect_tod("12:00:00.123456789-00:00", 12 * h + 123456789);
    expect_tod("23:59:59.999999999Z", 24 * h - 1);
    expect_tod("24:00:00Z", 24 * h);
    expect_tod("00:00:00+14:00", -14 * h);
    expect_tod("00:00:00-14:00", 14 * h);
    expect_no_tod("24:00:01");
    expect_no_tod("24:00:00.1Z");
    expect_no_tod("12:60:00");
    expect_no_tod("12:00:60");
    expect_no_tod("25:00:00");
    expect_no_tod("1:00:00");
    expect_no_tod("12:00");
    expect_no_tod("12-00-00");
    expect_no_tod("12:00:00.");
    expect_no_tod("12:00:00.Z");
    expect_no_tod("12:00:00.1234567890Z");
    expect_no_tod("12:00:00z");
    expect_no_tod("12:00:00ZZ");
    expect_no_tod("12:00:00+05");
    expect_no_tod("12:00:00+0500");
    expect_no_tod("12:00:00+15:00");
    expect_no_tod("12:00:00+14:30");
    expect_no_tod("12:00:00+05:60");
    expect_no_tod("12:00:00 Z");
    expect_no_tod("");
}

/* ---- pacs.002 ---------------------------------------------------------------------------------------------- */

static struct ortak_iso_status status_of(const char *status, uint8_t orgnl_type) {
    struct ortak_iso_status s;
    memset(&s, 0, sizeof s);
    s.head = head_of(BANK_A, "SYS-PACS002-1", T0 + SEC(3600));
    tu_copy(s.orgnl_msg_id, sizeof s.orgnl_msg_id, "BANKA-MSG-77");
    s.orgnl_type = orgnl_type;
    tu_copy(s.orgnl_instr_id, sizeof s.orgnl_instr_id, "INSTR-1");
    tu_copy(s.orgnl_end_to_end_id, sizeof s.orgnl_end_to_end_id, "E2E-1");
    tu_copy(s.orgnl_tx_id, sizeof s.orgnl_tx_id, "TX-1");
    s.orgnl_uetr = UETR1;
    tu_copy(s.status, sizeof s.status, status);
    return s;
}

#define TX "/Envelope/d:Document/d:FIToFIPmtStsRpt/d:TxInfAndSts/"

static void test_pacs002_statuses(void **state) {
    (void)state;
    static const char *const statuses[] = {"ACTC", "PDNG", "ACSP", "ACSC", "ACCC", "RJCT"};
    static const uint8_t types[] = {ORTAK_ISO_PACS_008, ORTAK_ISO_PACS_009, ORTAK_ISO_PACS_004};
    char long_text[106];
    memset(long_text, 'x', 105);
    long_text[105] = '\0';
    for (size_t i = 0; i < 6; i++) {
        for (size_t t = 0; t < 3; t++) {
            struct ortak_iso_status s = status_of(statuses[i], types[t]);
            bool settled = i == 3 || i == 4, pending = i == 1, rejected = i == 5;
            if (pending) tu_copy(s.reason, sizeof s.reason, "AM04");
            if (pending) tu_copy(s.reason_text, sizeof s.reason_text, "queued for liquidity");
            if (rejected) tu_copy(s.reason, sizeof s.reason, "AC04");
            if (rejected) tu_copy(s.reason_text, sizeof s.reason_text, long_text);
            if (settled) s.settled_ns = T0 + SEC(36000);
            struct ortak_iso_buf b = {0};
            struct parsed p;
            assert_int_equal(ortak_iso_write_pacs002(&s, &b), ORTAK_OK);
            buf_valid(&b, 0, ORTAK_ISO_PACS_002, &p);
            expect_head(&p, BANK_A, "SYS-PACS002-1", "pacs.002.001.10");
            expect_text(&p, "/Envelope/h:AppHdr/h:CreDt", "2026-01-01T01:00:00.000Z");
            expect_text(&p, "//d:GrpHdr/d:MsgId", "SYS-PACS002-1");
            expect_text(&p, "//d:GrpHdr/d:CreDtTm", "2026-01-01T01:00:00.000Z");
            expect_text(&p, TX "d:OrgnlGrpInf/d:OrgnlMsgId", "BANKA-MSG-77");
            expect_text(&p, TX "d:OrgnlGrpInf/d:OrgnlMsgNmId", ortak_iso_type_name(types[t]));
            expect_text(&p, TX "d:OrgnlInstrId", "INSTR-1");
            expect_text(&p, TX "d:OrgnlEndToEndId", "E2E-1");
            expect_text(&p, TX "d:OrgnlTxId", "TX-1");
            expect_text(&p, TX "d:OrgnlUETR", UETR1_TEXT);
            expect_text(&p, TX "d:TxSts", statuses[i]);
            assert_int_equal(xp_count(&p, TX "d:StsRsnInf"), pending || rejected ? 1 : 0);
            if (pending) expect_text(&p, TX "d:StsRsnInf/d:Rsn/d:Cd", "AM04");
            if (pending) expect_text(&p, TX "d:StsRsnInf/d:AddtlInf", "queued for liquidity");
            if (rejected) expect_text(&p, TX "d:StsRsnInf/d:Rsn/d:Cd", "AC04");
            if (rejected) expect_text(&p, TX "d:StsRsnInf/d:AddtlInf", long_text);
            assert_int_equal(xp_count(&p, TX "d:FctvIntrBkSttlmDt"), settled ? 1 : 0);
            if (settled) expect_text(&p, TX "d:FctvIntrBkSttlmDt/d:Dt", "2026-01-01");
            parsed_free(&p);
            ortak_iso_buf_free(&b);
        }
    }
}

/* Empty optional fields are left out; text without a code still has its StsRsnInf. */
static void test_pacs002_minimal(void **state) {
    (void)state;
    struct ortak_iso_status s = status_of("RJCT", ORTAK_ISO_PACS_008);
    s.orgnl_msg_id[0] = s.orgnl_instr_id[0] = s.orgnl_end_to_end_id[0] = s.orgnl_tx_id[0] = '\0';
    s.orgnl_uetr = 0;
    tu_copy(s.reason_text, sizeof s.reason_text, "unreadable");
    struct ortak_iso_buf b = {0};
    struct parsed p;
    assert_int_equal(ortak_iso_write_pacs002(&s, &b), ORTAK_OK);
    buf_valid(&b, 0, ORTAK_ISO_PACS_002, &p);
    assert_int_equal(xp_count(&p, TX "*"), 2); /* TxSts and StsRsnInf only */
    expect_text(&p, TX "d:TxSts", "RJCT");
    assert_int_equal(xp_count(&p, TX "d:StsRsnInf/d:Rsn"), 0);
    expect_text(&p, TX "d:StsRsnInf/d:AddtlInf", "unreadable");
    parsed_free(&p);
    ortak_iso_buf_free(&b);
}

/* A refused message leaves the buffer exactly as it was, here after a first message. */
static void expect_pacs002_refused(struct ortak_iso_status *s, ortak_rc want) {
    struct ortak_iso_buf b = {0};
    struct ortak_iso_status good = status_of("ACTC", ORTAK_ISO_PACS_008);
    assert_int_equal(ortak_iso_write_pacs002(&good, &b), ORTAK_OK);
    size_t len = b.len;
    char *copy = strdup(b.data);
    assert_int_equal(ortak_iso_write_pacs002(s, &b), want);
    assert_int_equal(b.len, len);
    assert_string_equal(b.data, copy);
    free(copy);
    ortak_iso_buf_free(&b);
}

static void test_pacs002_refused(void **state) {
    (void)state;
    struct ortak_iso_status s = status_of("ACTC", ORTAK_ISO_PACS_008);
    tu_copy(s.head.from, sizeof s.head.from, "nbrkkzkx");
    expect_pacs002_refused(&s, ORTAK_INVALID);
    s = status_of("ACTC", ORTAK_ISO_PACS_008);
    tu_copy(s.head.to, sizeof s.head.to, "");
    expect_pacs002_refused(&s, ORTAK_INVALID);
    s = status_of("ACTC", ORTAK_ISO_PACS_008);
    s.head.msg_id[0] = '\0';
    expect_pacs002_refused(&s, ORTAK_INVALID);
    s = status_of("ACTC", ORTAK_ISO_PACS_008);
    memset(s.head.msg_id, 'A', sizeof s.head.msg_id); /* no NUL */
    expect_pacs002_refused(&s, ORTAK_INVALID);
    s = status_of("ACTC", ORTAK_ISO_PACS_008);
    s.orgnl_uetr = ORTAK_U128(UINT64_C(0x123e4567e89b12d3), UINT64_C(0xa456426614174000)); /* version 1 */
    expect_pacs002_refused(&s, ORTAK_INVALID);
    s = status_of("ACTC", ORTAK_ISO_PACS_008);
    s.orgnl_uetr = ORTAK_U128(UINT64_C(0x123e4567e89b42d3), UINT64_C(0x7456426614174000)); /* variant 0 */
    expect_pacs002_refused(&s, ORTAK_INVALID);
    s = status_of("DONE", ORTAK_ISO_PACS_008);
    expect_pacs002_refused(&s, ORTAK_INVALID);
    s = status_of("RJCT", ORTAK_ISO_PACS_008);
    tu_copy(s.reason, sizeof s.reason, "am04");
    expect_pacs002_refused(&s, ORTAK_INVALID);
    s = status_of("ACTC", ORTAK_ISO_UNKNOWN);
    expect_pacs002_refused(&s, ORTAK_INVALID);
    s = status_of("ACTC", ORTAK_ISO_PACS_008);
    tu_copy(s.orgnl_end_to_end_id, sizeof s.orgnl_end_to_end_id, "E2E\x01");
    expect_pacs002_refused(&s, ORTAK_INVALID);
    s = status_of("ACTC", ORTAK_ISO_PACS_008);
    tu_copy(s.orgnl_end_to_end_id, sizeof s.orgnl_end_to_end_id, "E2E\r\n");
    expect_pacs002_refused(&s, ORTAK_INVALID);
    s = status_of("RJCT", ORTAK_ISO_PACS_008);
    tu_copy(s.reason_text, sizeof s.reason_text, "bad \xc3\x28 UTF-8");
    expect_pacs002_refused(&s, ORTAK_INVALID);
    tu_copy(s.reason_text, sizeof s.reason_text, "overlong \xc0\xaf");
    expect_pacs002_refused(&s, ORTAK_INVALID);
    tu_copy(s.reason_text, sizeof s.reason_text, "surrogate \xed\xa0\x80");
    expect_pacs002_refused(&s, ORTAK_INVALID);
    tu_copy(s.reason_text, sizeof s.reason_text, "C1 \xc2\x85");
    expect_pacs002_refused(&s, ORTAK_INVALID);
    tu_copy(s.reason_text, sizeof s.reason_text, "cut \xd0");
    expect_pacs002_refused(&s, ORTAK_INVALID);
    /* an earlier allocation failure: every generator answers ORTAK_NOMEM and writes nothing */
    struct ortak_iso_buf b = {0};
    b.failed = true;
    s = status_of("ACTC", ORTAK_ISO_PACS_008);
    assert_int_equal(ortak_iso_write_pacs002(&s, &b), ORTAK_NOMEM);
    assert_int_equal(b.len, 0);
    assert_true(b.failed);
    ortak_iso_buf_free(&b);
}

/* & < > " and Cyrillic in ids and text come back as they were written; tab and newline are kept. */
static void test_escaping(void **state) {
    (void)state;
    static const char id[] = "A<&>\"Б'ж"; /* 11 bytes */
    static const char text[] = "Сумма <не> & \"больше\"\tлимита\nстрока 2 — ✓ 𝄞";
    struct ortak_iso_status s = status_of("RJCT", ORTAK_ISO_PACS_009);
    tu_copy(s.head.msg_id, sizeof s.head.msg_id, id);
    tu_copy(s.orgnl_msg_id, sizeof s.orgnl_msg_id, id);
    tu_copy(s.orgnl_end_to_end_id, sizeof s.orgnl_end_to_end_id, "Платёж №1 <x>");
    tu_copy(s.reason, sizeof s.reason, "NARR");
    tu_copy(s.reason_text, sizeof s.reason_text, text);
    struct ortak_iso_buf b = {0};
    struct parsed p;
    assert_int_equal(ortak_iso_write_pacs002(&s, &b), ORTAK_OK);
    assert_non_null(strstr(b.data, "A&lt;&amp;&gt;&quot;Б'ж"));
    buf_valid(&b, 0, ORTAK_ISO_PACS_002, &p);
    expect_text(&p, "/Envelope/h:AppHdr/h:BizMsgIdr", id);
    expect_text(&p, "//d:GrpHdr/d:MsgId", id);
    expect_text(&p, TX "d:OrgnlGrpInf/d:OrgnlMsgId", id);
    expect_text(&p, TX "d:OrgnlEndToEndId", "Платёж №1 <x>");
    expect_text(&p, TX "d:StsRsnInf/d:AddtlInf", text);
    parsed_free(&p);
    ortak_iso_buf_free(&b);
}

/* ---- camt.054 ---------------------------------------------------------------------------------------------- */

#define ACCOUNT_ID ORTAK_U128(UINT64_C(0x0123456789abcdef), UINT64_C(0xfedcba9876543210))
#define ACCOUNT_HEX "0123456789abcdeffedcba9876543210"
#define TRANSFER_ID ORTAK_U128(0, 0x2a)
#define TRANSFER_HEX "0000000000000000000000000000002a"

static struct ortak_iso_account account_of(const char *currency, uint8_t minor_units) {
    struct ortak_iso_account a;
    memset(&a, 0, sizeof a);
    a.id = ACCOUNT_ID;
    tu_copy(a.owner_bic, sizeof a.owner_bic, BANK_A);
    tu_copy(a.currency, sizeof a.currency, currency);
    a.minor_units = minor_units;
    return a;
}

static struct ortak_iso_entry entry_of(int64_t amount, ortak_u128 uetr, const char *counterparty) {
    struct ortak_iso_entry e;
    memset(&e, 0, sizeof e);
    e.transfer_id = TRANSFER_ID;
    e.amount = amount;
    e.booked_ns = T0 + SEC(37230) + 250000000; /* 10:20:30.25 */
    tu_copy(e.msg_id, sizeof e.msg_id, "BANKB-MSG-1");
    tu_copy(e.instr_id, sizeof e.instr_id, "INSTR-9");
    tu_copy(e.end_to_end_id, sizeof e.end_to_end_id, "E2E-9");
    tu_copy(e.tx_id, sizeof e.tx_id, "TX-9");
    e.uetr = uetr;
    tu_copy(e.counterparty_bic, sizeof e.counterparty_bic, counterparty);
    return e;
}

#define NTFCTN "/Envelope/d:Document/d:BkToCstmrDbtCdtNtfctn/d:Ntfctn/"

/* The account as every camt message shows it. */
static void expect_account(struct parsed *p, const char *at, const char *currency) {
    char path[256];
    snprintf(path, sizeof path, "%sd:Acct/d:Id/d:Othr/d:Id", at);
    expect_text(p, path, ACCOUNT_HEX);
    snprintf(path, sizeof path, "%sd:Acct/d:Ccy", at);
    expect_text(p, path, currency);
    snprintf(path, sizeof path, "%sd:Acct/d:Ownr/d:Id/d:OrgId/d:AnyBIC", at);
    expect_text(p, path, BANK_A);
    snprintf(path, sizeof path, "%sd:Acct/d:Svcr/d:FinInstnId/d:BICFI", at);
    expect_text(p, path, SYS);
}

static void test_camt054_credit(void **state) {
    (void)state;
    struct ortak_iso_head h = head_of(BANK_A, "SYS-NTF-1", T0 + SEC(37231));
    struct ortak_iso_account a = account_of("KZT", 2);
    struct ortak_iso_entry e = entry_of(123456, UETR1, BANK_B);
    struct ortak_iso_buf b = {0};
    struct parsed p;
    assert_int_equal(ortak_iso_write_camt054(&h, &a, &e, &b), ORTAK_OK);
    buf_valid(&b, 0, ORTAK_ISO_CAMT_054, &p);
    expect_head(&p, BANK_A, "SYS-NTF-1", "camt.054.001.08");
    expect_text(&p, NTFCTN "d:Id", "SYS-NTF-1");
    expect_text(&p, NTFCTN "d:CreDtTm", "2026-01-01T10:20:31.000Z");
    expect_account(&p, NTFCTN, "KZT");
    assert_int_equal(xp_count(&p, NTFCTN "d:Ntry"), 1);
    expect_text(&p, NTFCTN "d:Ntry/d:Amt", "1234.56");
    expect_text(&p, NTFCTN "d:Ntry/d:Amt/@Ccy", "KZT");
    expect_text(&p, NTFCTN "d:Ntry/d:CdtDbtInd", "CRDT");
    expect_text(&p, NTFCTN "d:Ntry/d:Sts/d:Cd", "BOOK");
    expect_text(&p, NTFCTN "d:Ntry/d:BookgDt/d:DtTm", "2026-01-01T10:20:30.250Z");
    expect_text(&p, NTFCTN "d:Ntry/d:ValDt/d:Dt", "2026-01-01");
    expect_text(&p, NTFCTN "d:Ntry/d:AcctSvcrRef", TRANSFER_HEX);
    expect_text(&p, NTFCTN "d:Ntry/d:BkTxCd/d:Domn/d:Cd", "PMNT");
    expect_text(&p, NTFCTN "d:Ntry/d:BkTxCd/d:Domn/d:Fmly/d:Cd", "RCDT");
    expect_text(&p, NTFCTN "d:Ntry/d:BkTxCd/d:Domn/d:Fmly/d:SubFmlyCd", "OTHR");
#define TXD NTFCTN "d:Ntry/d:NtryDtls/d:TxDtls/"
    expect_text(&p, TXD "d:Refs/d:MsgId", "BANKB-MSG-1");
    expect_text(&p, TXD "d:Refs/d:AcctSvcrRef", TRANSFER_HEX);
    expect_text(&p, TXD "d:Refs/d:InstrId", "INSTR-9");
    expect_text(&p, TXD "d:Refs/d:EndToEndId", "E2E-9");
    expect_text(&p, TXD "d:Refs/d:UETR", UETR1_TEXT);
    expect_text(&p, TXD "d:Refs/d:TxId", "TX-9");
    expect_text(&p, TXD "d:Amt", "1234.56");
    expect_text(&p, TXD "d:CdtDbtInd", "CRDT");
    expect_text(&p, TXD "d:RltdAgts/d:DbtrAgt/d:FinInstnId/d:BICFI", BANK_B);
    assert_int_equal(xp_count(&p, TXD "d:RltdAgts/d:CdtrAgt"), 0);
    parsed_free(&p);
    ortak_iso_buf_free(&b);
}

static void test_camt054_debit(void **state) {
    (void)state;
    struct ortak_iso_head h = head_of(BANK_A, "SYS-NTF-2", T0);
    struct ortak_iso_account a = account_of("KZT", 2);
    struct ortak_iso_entry e = entry_of(-5, 0, BANK_B);
    struct ortak_iso_buf b = {0};
    struct parsed p;
    assert_int_equal(ortak_iso_write_camt054(&h, &a, &e, &b), ORTAK_OK);
    buf_valid(&b, 0, ORTAK_ISO_CAMT_054, &p);
    expect_text(&p, NTFCTN "d:Ntry/d:Amt", "0.05");
    expect_text(&p, NTFCTN "d:Ntry/d:CdtDbtInd", "DBIT");
    expect_text(&p, NTFCTN "d:Ntry/d:BkTxCd/d:Domn/d:Fmly/d:Cd", "ICDT");
    assert_int_equal(xp_count(&p, TXD "d:Refs/d:UETR"), 0);
    expect_text(&p, TXD "d:Refs/d:EndToEndId", "E2E-9");
    expect_text(&p, TXD "d:CdtDbtInd", "DBIT");
    expect_text(&p, TXD "d:RltdAgts/d:CdtrAgt/d:FinInstnId/d:BICFI", BANK_B);
    assert_int_equal(xp_count(&p, TXD "d:RltdAgts/d:DbtrAgt"), 0);
    parsed_free(&p);
    ortak_iso_buf_free(&b);

    /* no references, no counterparty, no owner, no minor units: each optional part left out */
    e = entry_of(-7, 0, "");
    e.transfer_id = 0;
    e.msg_id[0] = e.instr_id[0] = e.end_to_end_id[0] = e.tx_id[0] = '\0';
    a = account_of("JPY", 0);
    a.owner_bic[0] = '\0';
    assert_int_equal(ortak_iso_write_camt054(&h, &a, &e, &b), ORTAK_OK);
    buf_valid(&b, 0, ORTAK_ISO_CAMT_054, &p);
    expect_text(&p, NTFCTN "d:Ntry/d:Amt", "7");
    expect_text(&p, NTFCTN "d:Ntry/d:Amt/@Ccy", "JPY");
    assert_int_equal(xp_count(&p, NTFCTN "d:Ntry/d:AcctSvcrRef"), 0);
    assert_int_equal(xp_count(&p, TXD "d:Refs"), 0);
    assert_int_equal(xp_count(&p, TXD "d:RltdAgts"), 0);
    assert_int_equal(xp_count(&p, NTFCTN "d:Acct/d:Ownr"), 0);
    parsed_free(&p);
    ortak_iso_buf_free(&b);
}

static void expect_camt054_refused(const struct ortak_iso_account *a, const struct ortak_iso_entry *e) {
    struct ortak_iso_head h = head_of(BANK_A, "SYS-NTF-3", T0);
    struct ortak_iso_buf b = {0};
    assert_int_equal(ortak_iso_write_camt054(&h, a, e, &b), ORTAK_INVALID);
    assert_int_equal(b.len, 0);
    assert_false(b.failed);
    ortak_iso_buf_free(&b);
}

static void test_camt054_refused(void **state) {
    (void)state;
    struct ortak_iso_account a = account_of("KZT", 2);
    struct ortak_iso_entry e = entry_of(0, 0, ""); /* nothing settles zero */
    expect_camt054_refused(&a, &e);
    e = entry_of(INT64_C(1000000000000000000), 0, ""); /* 19 digits */
    expect_camt054_refused(&a, &e);
    e = entry_of(INT64_MIN, 0, "");
    expect_camt054_refused(&a, &e);
    e = entry_of(1, 0, "BAD");
    expect_camt054_refused(&a, &e);
    e = entry_of(1, ORTAK_U128(1, 2), "");
    expect_camt054_refused(&a, &e);
    e = entry_of(1, 0, "");
    a = account_of("kzt", 2);
    expect_camt054_refused(&a, &e);
    a = account_of("KZT", 5);
    expect_camt054_refused(&a, &e);
    a = account_of("KZT", 2);
    a.id = 0;
    expect_camt054_refused(&a, &e);
    a = account_of("KZT", 2);
    tu_copy(a.owner_bic, sizeof a.owner_bic, "HSBKZZKX"); /* no such country */
    expect_camt054_refused(&a, &e);

    /* the largest amount that fits: 18 digits */
    struct ortak_iso_head h = head_of(BANK_A, "SYS-NTF-4", T0);
    struct ortak_iso_buf b = {0};
    struct parsed p;
    a = account_of("KZT", 2);
    e = entry_of(-INT64_C(999999999999999999), 0, "");
    assert_int_equal(ortak_iso_write_camt054(&h, &a, &e, &b), ORTAK_OK);
    buf_valid(&b, 0, ORTAK_ISO_CAMT_054, &p);
    expect_text(&p, NTFCTN "d:Ntry/d:Amt", "9999999999999999.99");
    expect_text(&p, NTFCTN "d:Ntry/d:CdtDbtInd", "DBIT");
    parsed_free(&p);
    ortak_iso_buf_free(&b);
}

/* ---- camt.052, camt.053 ------------------------------------------------------------------------------------ */

struct report_case {
    uint32_t entries;
    uint8_t minor_units;
    ortak_i128 opening, closing;
    const char *opening_text, *closing_text; /* amount text */
    const char *currency;
};

/* Entry i: alternately credits of 100 + i and debits of 50 + i minor units, UETRs on every third. */
static struct ortak_iso_entry *entries_make(uint32_t n) {
    struct ortak_iso_entry *es = calloc(n + 1, sizeof *es);
    assert_non_null(es);
    for (uint32_t i = 0; i < n; i++) {
        int64_t amount = i % 2 == 0 ? 100 + (int64_t)i : -(50 + (int64_t)i);
        es[i] = entry_of(amount, i % 3 == 0 ? UETR1 + ((ortak_u128)i << 64) : 0, i % 2 ? BANK_B : "");
        es[i].transfer_id = (ortak_u128)i + 1;
        snprintf(es[i].end_to_end_id, sizeof es[i].end_to_end_id, "E2E-%u", (unsigned)i);
    }
    return es;
}

static void check_report(const struct report_case *c, bool statement) {
    struct ortak_iso_report rep;
    memset(&rep, 0, sizeof rep);
    rep.head = head_of(BANK_A, statement ? "SYS-STMT-1" : "SYS-RPT-1", T0 + SEC(86400));
    rep.account = account_of(c->currency, c->minor_units);
    rep.from_ns = T0;
    rep.to_ns = T0 + SEC(86399);
    rep.opening_balance = c->opening;
    rep.closing_balance = c->closing;
    rep.entry_count = c->entries;
    struct ortak_iso_entry *es = entries_make(c->entries);
    rep.entries = c->entries != 0 ? es : NULL;
    struct ortak_iso_buf b = {0};
    struct parsed p;
    uint8_t type = statement ? ORTAK_ISO_CAMT_053 : ORTAK_ISO_CAMT_052;
    ortak_rc rc = statement ? ortak_iso_write_camt053(&rep, &b) : ortak_iso_write_camt052(&rep, &b);
    assert_int_equal(rc, ORTAK_OK);
    buf_valid(&b, 0, type, &p);
    const char *at =
        statement ? "/Envelope/d:Document/d:BkToCstmrStmt/d:Stmt/" : "/Envelope/d:Document/d:BkToCstmrAcctRpt/d:Rpt/";
    char path[256], want[64];
#define AT(rel) (snprintf(path, sizeof path, "%s%s", at, rel), path)
    expect_head(&p, BANK_A, rep.head.msg_id, statement ? "camt.053.001.08" : "camt.052.001.08");
    expect_text(&p, AT("d:Id"), rep.head.msg_id);
    expect_text(&p, AT("d:FrToDt/d:FrDtTm"), "2026-01-01T00:00:00.000Z");
    expect_text(&p, AT("d:FrToDt/d:ToDtTm"), "2026-01-01T23:59:59.000Z");
    expect_account(&p, at, c->currency);
    assert_int_equal(xp_count(&p, AT("d:Bal")), 2);
    expect_text(&p, AT("d:Bal[1]/d:Tp/d:CdOrPrtry/d:Cd"), "OPBD");
    expect_text(&p, AT("d:Bal[1]/d:Amt"), c->opening_text);
    expect_text(&p, AT("d:Bal[1]/d:CdtDbtInd"), c->opening < 0 ? "DBIT" : "CRDT");
    expect_text(&p, AT("d:Bal[1]/d:Dt/d:DtTm"), "2026-01-01T00:00:00.000Z");
    expect_text(&p, AT("d:Bal[2]/d:Tp/d:CdOrPrtry/d:Cd"), statement ? "CLBD" : "ITBD");
    expect_text(&p, AT("d:Bal[2]/d:Amt"), c->closing_text);
    expect_text(&p, AT("d:Bal[2]/d:Amt/@Ccy"), c->currency);
    expect_text(&p, AT("d:Bal[2]/d:CdtDbtInd"), c->closing < 0 ? "DBIT" : "CRDT");
    assert_int_equal(xp_count(&p, AT("d:Ntry")), (int)c->entries);
    assert_int_equal(xp_count(&p, AT("d:TxsSummry")), c->entries != 0 ? 1 : 0);
    if (c->entries != 0) {
        snprintf(want, sizeof want, "%u", (unsigned)c->entries);
        expect_text(&p, AT("d:TxsSummry/d:TtlNtries/d:NbOfNtries"), want);
        snprintf(want, sizeof want, "%u", (unsigned)(c->entries + 1) / 2);
        expect_text(&p, AT("d:TxsSummry/d:TtlCdtNtries/d:NbOfNtries"), want);
        expect_text(&p, AT("d:Ntry[1]/d:CdtDbtInd"), "CRDT");
        expect_text(&p, AT("d:Ntry[1]/d:NtryDtls/d:TxDtls/d:Refs/d:EndToEndId"), "E2E-0");
        expect_text(&p, AT("d:Ntry[1]/d:NtryDtls/d:TxDtls/d:Refs/d:UETR"), UETR1_TEXT);
        expect_text(&p, AT("d:Ntry[1]/d:AcctSvcrRef"), "00000000000000000000000000000001");
    }
    if (c->entries > 1) expect_text(&p, AT("d:Ntry[2]/d:CdtDbtInd"), "DBIT");
    parsed_free(&p);
    ortak_iso_buf_free(&b);
    free(es);
}

static void test_reports(void **state) {
    (void)state;
    static const struct report_case cases[] = {
        {0, 2, 0, 0, "0.00", "0.00", "KZT"},
        {0, 2, -123456, 654321, "1234.56", "6543.21", "KZT"},
        {1, 2, 100, 200, "1.00", "2.00", "KZT"},
        {1, 0, -1234, -1, "1234", "1", "JPY"},
        {1000, 3, 1234567, -7654321, "1234.567", "7654.321", "KWD"},
        {1000, 0, -999999999999999999, 999999999999999999, "999999999999999999", "999999999999999999", "KRW"},
        {3, 2, 5, -5, "0.05", "0.05", "EUR"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_report(&cases[i], false);
        check_report(&cases[i], true);
    }
}

/* 1000 entries whose sum has more than 18 digits: the optional summary is left out, the report still written. */
static void test_report_large_sums(void **state) {
    (void)state;
    struct ortak_iso_report rep;
    memset(&rep, 0, sizeof rep);
    rep.head = head_of(BANK_A, "SYS-STMT-2", T0);
    rep.account = account_of("KZT", 2);
    rep.from_ns = rep.to_ns = T0;
    rep.entry_count = 1000;
    struct ortak_iso_entry *es = entries_make(1000);
    for (uint32_t i = 0; i < 1000; i++) es[i].amount = INT64_C(999999999999999999);
    rep.entries = es;
    struct ortak_iso_buf b = {0};
    struct parsed p;
    assert_int_equal(ortak_iso_write_camt053(&rep, &b), ORTAK_OK);
    buf_valid(&b, 0, ORTAK_ISO_CAMT_053, &p);
    assert_int_equal(xp_count(&p, "//d:TxsSummry"), 0);
    assert_int_equal(xp_count(&p, "//d:Ntry"), 1000);
    parsed_free(&p);
    /* refused: a period ending before it starts, a balance of 19 digits, one bad entry among many */
    size_t len = b.len;
    rep.from_ns = T0 + 1;
    assert_int_equal(ortak_iso_write_camt052(&rep, &b), ORTAK_INVALID);
    rep.from_ns = T0;
    rep.closing_balance = (ortak_i128)INT64_C(1000000000000000000);
    assert_int_equal(ortak_iso_write_camt053(&rep, &b), ORTAK_INVALID);
    rep.closing_balance = 0;
    es[999].amount = 0;
    assert_int_equal(ortak_iso_write_camt052(&rep, &b), ORTAK_INVALID);
    assert_int_equal(b.len, len);
    assert_false(b.failed);
    ortak_iso_buf_free(&b);
    free(es);
}

/* ---- admi.002 ---------------------------------------------------------------------------------------------- */

#define ADMI "/Envelope/d:Document/d:admi.002.001.01/"

static void test_admi002(void **state) {
    (void)state;
    struct ortak_iso_reject rej;
    memset(&rej, 0, sizeof rej);
    rej.head = head_of(BANK_B, "SYS-REJ-1", T0 + SEC(1));
    tu_copy(rej.ref, sizeof rej.ref, "BANKB<&>\"Ж");
    tu_copy(rej.reason, sizeof rej.reason, "FF01");
    tu_copy(rej.text, sizeof rej.text, "не XML: строка 1: ожидался '<' & \"Document\"");
    struct ortak_iso_buf b = {0};
    struct parsed p;
    assert_int_equal(ortak_iso_write_admi002(&rej, &b), ORTAK_OK);
    buf_valid(&b, 0, ORTAK_ISO_ADMI_002, &p);
    expect_head(&p, BANK_B, "SYS-REJ-1", "admi.002.001.01");
    expect_text(&p, ADMI "d:RltdRef/d:Ref", "BANKB<&>\"Ж");
    expect_text(&p, ADMI "d:Rsn/d:RjctgPtyRsn", "FF01");
    expect_text(&p, ADMI "d:Rsn/d:RjctnDtTm", "2026-01-01T00:00:01.000Z");
    expect_text(&p, ADMI "d:Rsn/d:RsnDesc", rej.text);
    parsed_free(&p);
    ortak_iso_buf_free(&b);

    rej.ref[0] = rej.text[0] = '\0';
    assert_int_equal(ortak_iso_write_admi002(&rej, &b), ORTAK_OK);
    buf_valid(&b, 0, ORTAK_ISO_ADMI_002, &p);
    expect_text(&p, ADMI "d:RltdRef/d:Ref", "NONREF");
    assert_int_equal(xp_count(&p, ADMI "d:Rsn/d:RsnDesc"), 0);
    parsed_free(&p);
    size_t len = b.len;
    rej.reason[0] = '\0';
    assert_int_equal(ortak_iso_write_admi002(&rej, &b), ORTAK_INVALID);
    tu_copy(rej.reason, sizeof rej.reason, "FF01");
    tu_copy(rej.text, sizeof rej.text, "bell \a");
    assert_int_equal(ortak_iso_write_admi002(&rej, &b), ORTAK_INVALID);
    assert_int_equal(b.len, len);
    ortak_iso_buf_free(&b);
}

/* Generators append: several messages in one buffer, each whole and valid where it starts. */
static void test_append(void **state) {
    (void)state;
    struct ortak_iso_buf b = {0};
    struct parsed p;
    size_t starts[40];
    for (size_t i = 0; i < 40; i++) {
        starts[i] = b.len;
        struct ortak_iso_head h = head_of(BANK_A, "SYS-MANY", T0 + SEC(i));
        struct ortak_iso_account a = account_of("KZT", 2);
        struct ortak_iso_entry e = entry_of((int64_t)i + 1, UETR1, BANK_B);
        struct ortak_iso_status s = status_of("ACSC", ORTAK_ISO_PACS_008);
        s.settled_ns = T0;
        ortak_rc rc = i % 2 ? ortak_iso_write_camt054(&h, &a, &e, &b) : ortak_iso_write_pacs002(&s, &b);
        assert_int_equal(rc, ORTAK_OK);
    }
    for (size_t i = 0; i < 40; i++) {
        size_t end = i + 1 < 40 ? starts[i + 1] : b.len;
        parse_valid(b.data + starts[i], end - starts[i], i % 2 ? ORTAK_ISO_CAMT_054 : ORTAK_ISO_PACS_002, &p);
        parsed_free(&p);
    }
    assert_true(b.cap >= b.len + 1);
    ortak_iso_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    ortak_iso_buf_free(&b); /* twice is harmless */
    ortak_iso_buf_free(NULL);
}

/* ---- payments forwarded ----------------------------------------------------------------------------------- */

struct forward_env {
    struct ortak_iso *iso;
    struct ortak_iso_reader *r;
};

static int forward_setup(void **state) {
    static struct forward_env env;
    struct ortak_iso_options o;
    char why[256];
    memset(&o, 0, sizeof o);
    if (ortak_iso_open(&o, &env.iso, why, sizeof why) != ORTAK_OK) return -1;
    if (ortak_iso_reader_open(env.iso, &env.r) != ORTAK_OK) return -1;
    *state = &env;
    return 0;
}

static int forward_teardown(void **state) {
    struct forward_env *env = *state;
    ortak_iso_reader_close(env->r);
    ortak_iso_close(env->iso);
    return 0;
}

#define SETTLED_NS (T0 + SEC(86400 + 3600)) /* 2026-01-02T01:00:00Z */
#define CTTI "/Envelope/d:Document/d:FIToFICstmrCdtTrf/d:CdtTrfTxInf/"
#define FITI "/Envelope/d:Document/d:FICdtTrf/d:CdtTrfTxInf/"
#define RTTI "/Envelope/d:Document/d:PmtRtr/d:TxInf/"

/* Where a forwarded message of each type holds its transaction, the UETR that names it, and its amount. */
static const struct shape {
    uint8_t type;
    const char *tx, *uetr, *amount;
} shapes[] = {
    {ORTAK_ISO_PACS_008, CTTI, "d:PmtId/d:UETR", "d:IntrBkSttlmAmt"},
    {ORTAK_ISO_PACS_009, FITI, "d:PmtId/d:UETR", "d:IntrBkSttlmAmt"},
    {ORTAK_ISO_PACS_004, RTTI, "d:OrgnlUETR", "d:RtrdIntrBkSttlmAmt"},
};

static const struct shape *shape_of(uint8_t type) {
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        if (shapes[i].type == type) return &shapes[i];
    }
    fail_msg("type %u is not forwarded", type);
    return NULL;
}

/* The text at `rel` within the transaction of forwarded message `p` of `type`. */
static void expect_tx(struct parsed *p, uint8_t type, const char *rel, const char *want) {
    char expr[256];
    snprintf(expr, sizeof expr, "%s%s", shape_of(type)->tx, rel);
    expect_text(p, expr, want);
}

static int count_tx(struct parsed *p, uint8_t type, const char *rel) {
    char expr[256];
    snprintf(expr, sizeof expr, "%s%s", shape_of(type)->tx, rel);
    return xp_count(p, expr);
}

/* UUID text to its 128 bits (the test's own, not the module's). */
static ortak_u128 uetr_of(const char *text) {
    ortak_u128 uetr = 0;
    for (const char *c = text; *c; c++) {
        if (*c == '-') continue;
        int v = *c <= '9' ? *c - '0' : (*c | 0x20) - 'a' + 10;
        uetr = (uetr << 4) | (ortak_u128)v;
    }
    return uetr;
}

/* Forwards the transaction with UETR (pacs.004: OrgnlUETR) `uetr_text` of `data`, a message of `type`; validates,
 * and checks the new headers and the settlement date. */
static void forward_as(struct forward_env *env, uint8_t type, const char *data, size_t len, const char *uetr_text,
                       struct parsed *p, struct ortak_iso_buf *b) {
    const struct shape *sh = shape_of(type);
    struct ortak_iso_head h = head_of(BANK_B, "SYS-FWD-1", T0 + SEC(86400 + 3601));
    memset(b, 0, sizeof *b);
    assert_int_equal(ortak_iso_write_forward(env->r, data, len, uetr_of(uetr_text), &h, SETTLED_NS, b), ORTAK_OK);
    buf_valid(b, 0, type, p);
    expect_head(p, BANK_B, "SYS-FWD-1", ortak_iso_type_name(type));
    expect_text(p, "//d:GrpHdr/d:MsgId", "SYS-FWD-1");
    expect_text(p, "//d:GrpHdr/d:CreDtTm", "2026-01-02T01:00:01.000Z");
    expect_text(p, "//d:GrpHdr/d:NbOfTxs", "1");
    expect_text(p, "//d:GrpHdr/d:SttlmInf/d:SttlmMtd", "CLRG");
    assert_int_equal(count_tx(p, type, "."), 1);
    /* one settlement date: the transaction's (a return's OrgnlTxRef may hold the original's) */
    assert_int_equal(xp_count(p, "//d:IntrBkSttlmDt[not(ancestor::d:OrgnlTxRef)]"), 1);
    expect_tx(p, type, "d:IntrBkSttlmDt", "2026-01-02");
    char rel[128];
    snprintf(rel, sizeof rel, "%s/following-sibling::*[1][self::d:IntrBkSttlmDt]", sh->amount);
    assert_int_equal(count_tx(p, type, rel), 1);
    expect_tx(p, type, sh->uetr, uetr_text);
}

/* The same for a pacs.008. */
static void forward_ok(struct forward_env *env, const char *data, size_t len, const char *uetr_text, struct parsed *p,
                       struct ortak_iso_buf *b) {
    forward_as(env, ORTAK_ISO_PACS_008, data, len, uetr_text, p, b);
}

static void test_forward_samples(void **state) {
    struct forward_env *env = *state;
    struct ortak_iso_buf b;
    struct parsed p;
    size_t len;
    char *data = read_file(EXAMPLES "pacs.008.max.xml", &len);
    forward_ok(env, data, len, "00000000-0000-4000-8322-704e78b41399", &p, &b);
    expect_text(&p, CTTI "d:PmtId/d:InstrId", "EXInstrId");
    expect_text(&p, CTTI "d:PmtId/d:EndToEndId", "EXEndToEndId");
    expect_text(&p, CTTI "d:PmtId/d:TxId", "EXTxId");
    expect_text(&p, CTTI "d:IntrBkSttlmAmt", "1000.00");
    expect_text(&p, CTTI "d:RltdRmtInf/d:RmtId", "EXRmtId");
    expect_text(&p, CTTI "d:RltdRmtInf/d:RmtLctnDtls/d:ElctrncAdr", "EXElctrncAdr");
    expect_text(&p, CTTI "d:PmtTpInf/d:ClrChanl", "RTGS");
    expect_text(&p, CTTI "d:RgltryRptg/d:Dtls/d:Inf", "EXInf");
    parsed_free(&p);
    ortak_iso_buf_free(&b);
    free(data);

    data = read_file(EXAMPLES "pacs.008.min.xml", &len);
    forward_ok(env, data, len, "00000000-0000-4000-b221-3244f5d5c293", &p, &b);
    expect_text(&p, CTTI "d:PmtId/d:InstrId", "EXInstrId");
    expect_text(&p, CTTI "d:PmtId/d:EndToEndId", "EXEndToEndId");
    expect_text(&p, CTTI "d:Dbtr/d:Nm", "EXAMPLE PARTY NV");
    parsed_free(&p);
    ortak_iso_buf_free(&b);
    free(data);

    /* prefixed elements (pacs:, head:) in an enveloppe with its own namespace */
    data = read_file(SAMPLES "test_files/2026/pacs008_credit_transfer_sample.xml", &len);
    forward_ok(env, data, len, "a1b2c3d4-e5f6-4890-abcd-ef1234567890", &p, &b);
    expect_text(&p, CTTI "d:PmtId/d:InstrId", "IN20260413-5017");
    expect_text(&p, CTTI "d:PmtId/d:EndToEndId", "E2E-04138234");
    expect_text(&p, CTTI "d:IntrBkSttlmAmt", "750000");
    expect_text(&p, CTTI "d:DbtrAcct/d:Id/d:Othr/d:Id", "74829163");
    expect_text(&p, CTTI "d:CdtrAgt/d:FinInstnId/d:BICFI", "GLPBES2X");
    assert_null(strstr(b.data, "<pacs:")); /* the elements are in the default namespace */
    parsed_free(&p);
    ortak_iso_buf_free(&b);
    free(data);
}

/* Prefixed pacs.008 with two transactions, a group PmtTpInf, Cyrillic and escaped remittance text, and
 * supplementary data in another namespace and in none. */
static const char synthetic[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Envelope xmlns:p=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08\" xmlns:x=\"urn:example:extra\">"
    "<h:AppHdr xmlns:h=\"urn:iso:std:iso:20022:tech:xsd:head.001.001.02\"><h:Fr><h:FIId><h:FinInstnId>"
    "<h:BICFI>HSBKKZKX</h:BICFI></h:FinInstnId></h:FIId></h:Fr><h:To><h:FIId><h:FinInstnId><h:BICFI>NBRKKZKX"
    "</h:BICFI></h:FinInstnId></h:FIId></h:To><h:BizMsgIdr>M1</h:BizMsgIdr><h:MsgDefIdr>pacs.008.001.08"
    "</h:MsgDefIdr><h:CreDt>2026-01-01T09:00:00Z</h:CreDt></h:AppHdr>\n"
    "<p:Document><p:FIToFICstmrCdtTrf>\n"
    " <p:GrpHdr><p:MsgId>M1</p:MsgId><p:CreDtTm>2026-01-01T09:00:00Z</p:CreDtTm><p:NbOfTxs>2</p:NbOfTxs>"
    "<p:SttlmInf><p:SttlmMtd>CLRG</p:SttlmMtd></p:SttlmInf><p:PmtTpInf><p:InstrPrty>HIGH</p:InstrPrty>"
    "</p:PmtTpInf></p:GrpHdr>\n"
    " <p:CdtTrfTxInf>\n"
    "  <p:PmtId><p:InstrId>I-1</p:InstrId><p:EndToEndId>E-1</p:EndToEndId>"
    "<p:UETR>123e4567-e89b-42d3-a456-426614174000</p:UETR></p:PmtId>\n"
    "  <p:IntrBkSttlmAmt Ccy=\"KZT\">10.00</p:IntrBkSttlmAmt><p:IntrBkSttlmDt>2026-01-01</p:IntrBkSttlmDt>\n"
    "  <p:ChrgBr>SLEV</p:ChrgBr><p:Dbtr><p:Nm>Debtor One</p:Nm></p:Dbtr><p:DbtrAgt><p:FinInstnId><p:BICFI>HSBKKZKX"
    "</p:BICFI></p:FinInstnId></p:DbtrAgt><p:CdtrAgt><p:FinInstnId><p:BICFI>KCJBKZKX</p:BICFI></p:FinInstnId>"
    "</p:CdtrAgt><p:Cdtr><p:Nm>Creditor One</p:Nm></p:Cdtr>\n"
    "  <p:SplmtryData><p:Envlp><Plain><Inner>v</Inner></Plain></p:Envlp></p:SplmtryData>\n"
    " </p:CdtTrfTxInf>\n"
    " <p:CdtTrfTxInf>\n"
    "  <p:PmtId><p:InstrId>I-2</p:InstrId><p:EndToEndId>E-2 &lt;&amp;&gt;</p:EndToEndId>"
    "<p:UETR>9f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b</p:UETR></p:PmtId>\n"
    "  <p:IntrBkSttlmAmt Ccy=\"KZT\">1234.56</p:IntrBkSttlmAmt>\n"
    "  <p:ChrgBr>SLEV</p:ChrgBr><p:Dbtr><p:Nm>ТОО «Дебитор»</p:Nm></p:Dbtr><p:DbtrAgt><p:FinInstnId><p:BICFI>"
    "HSBKKZKX</p:BICFI></p:FinInstnId></p:DbtrAgt><p:CdtrAgt><p:FinInstnId><p:BICFI>KCJBKZKX</p:BICFI>"
    "</p:FinInstnId></p:CdtrAgt><p:Cdtr><p:Nm>Creditor Two</p:Nm></p:Cdtr>\n"
    "  <p:RmtInf><p:Ustrd>Оплата по договору №5 &lt;&amp;&gt; &quot;срочно&quot;</p:Ustrd></p:RmtInf>\n"
    "  <p:SplmtryData><p:Envlp><x:Extra><x:Note xml:lang=\"ru\" x:kind=\"n\">заметка</x:Note></x:Extra></p:Envlp>"
    "</p:SplmtryData>\n"
    " </p:CdtTrfTxInf>\n"
    "</p:FIToFICstmrCdtTrf></p:Document></Envelope>\n";

static void test_forward_synthetic(void **state) {
    struct forward_env *env = *state;
    struct ortak_iso_buf b;
    struct parsed p;
    parse_valid(synthetic, sizeof synthetic - 1, ORTAK_ISO_PACS_008, &p); /* the fixture itself is valid */
    parsed_free(&p);

    forward_ok(env, synthetic, sizeof synthetic - 1, "9f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b", &p, &b);
    expect_text(&p, CTTI "d:PmtId/d:InstrId", "I-2");
    expect_text(&p, CTTI "d:PmtId/d:EndToEndId", "E-2 <&>");
    expect_text(&p, CTTI "d:IntrBkSttlmAmt", "1234.56");
    expect_text(&p, CTTI "d:IntrBkSttlmAmt/@Ccy", "KZT");
    expect_text(&p, CTTI "d:Dbtr/d:Nm", "ТОО «Дебитор»");
    expect_text(&p, CTTI "d:RmtInf/d:Ustrd", "Оплата по договору №5 <&> \"срочно\"");
    expect_text(&p, CTTI "d:SplmtryData/d:Envlp/x:Extra/x:Note", "заметка");
    expect_text(&p, CTTI "d:SplmtryData/d:Envlp/x:Extra/x:Note/@xml:lang", "ru");
    expect_text(&p, CTTI "d:SplmtryData/d:Envlp/x:Extra/x:Note/@x:kind", "n");
    expect_text(&p, "//d:GrpHdr/d:PmtTpInf/d:InstrPrty", "HIGH"); /* the group's, applying to the transaction */
    parsed_free(&p);
    ortak_iso_buf_free(&b);

    forward_ok(env, synthetic, sizeof synthetic - 1, UETR1_TEXT, &p, &b);
    expect_text(&p, CTTI "d:PmtId/d:EndToEndId", "E-1");
    expect_text(&p, CTTI "d:SplmtryData/d:Envlp/Plain/Inner", "v"); /* still in no namespace */
    parsed_free(&p);
    ortak_iso_buf_free(&b);
}

/* A copy of NUL-terminated `src` with `text` inserted after the first `anchor`; its length in *len. */
static char *insert_after(const char *src, const char *anchor, const char *text, size_t *len) {
    const char *at = strstr(src, anchor);
    assert_non_null(at);
    size_t head = (size_t)(at - src) + strlen(anchor), n = strlen(text), total = strlen(src) + n;
    char *out = malloc(total + 1);
    assert_non_null(out);
    memcpy(out, src, head);
    memcpy(out + head, text, n);
    memcpy(out + head + n, src + head, strlen(src) - head + 1);
    *len = total;
    return out;
}

static void test_forward_variants(void **state) {
    struct forward_env *env = *state;
    struct ortak_iso_buf b;
    struct parsed p;
    size_t len;
    /* a comment inside the UETR, a processing instruction inside the settlement date: still found, and replaced */
    char *once = insert_after(synthetic, "<p:UETR>", "<!--c-->", &len);
    char *twice = insert_after(once, "<p:IntrBkSttlmDt>", "<?pi x?>", &len);
    forward_ok(env, twice, len, UETR1_TEXT, &p, &b);
    expect_text(&p, CTTI "d:PmtId/d:EndToEndId", "E-1");
    parsed_free(&p);
    ortak_iso_buf_free(&b);
    free(once);
    free(twice);

    /* the envelope declares a default namespace: Plain and Inner are in it and must stay there */
    char *outer = insert_after(synthetic, "<Envelope ", "xmlns=\"urn:example:extra\" ", &len);
    forward_ok(env, outer, len, UETR1_TEXT, &p, &b);
    expect_text(&p, CTTI "d:SplmtryData/d:Envlp/x:Plain/x:Inner", "v");
    parsed_free(&p);
    ortak_iso_buf_free(&b);
    free(outer);
}

static void expect_forward_refused(struct forward_env *env, const char *data, size_t len, ortak_u128 uetr,
                                   const char *to, ortak_rc want) {
    struct ortak_iso_head h = head_of(to, "SYS-FWD-2", T0);
    struct ortak_iso_buf b = {0};
    struct ortak_iso_status s = status_of("ACTC", ORTAK_ISO_PACS_008);
    assert_int_equal(ortak_iso_write_pacs002(&s, &b), ORTAK_OK);
    size_t before = b.len;
    assert_int_equal(ortak_iso_write_forward(env->r, data, len, uetr, &h, SETTLED_NS, &b), want);
    assert_int_equal(b.len, before);
    assert_int_equal(strlen(b.data), before);
    ortak_iso_buf_free(&b);
}

static void test_forward_refused(void **state) {
    struct forward_env *env = *state;
    size_t n = sizeof synthetic - 1;
    expect_forward_refused(env, synthetic, n, UETR1 + 1, BANK_B, ORTAK_ISO_INVALID); /* unknown UETR */
    expect_forward_refused(env, synthetic, n, 0, BANK_B, ORTAK_ISO_INVALID);
    expect_forward_refused(env, synthetic, n, UETR1, "NOTABIC", ORTAK_INVALID);
    expect_forward_refused(env, "not xml", 7, UETR1, BANK_B, ORTAK_ISO_INVALID);
    expect_forward_refused(env, "", 0, UETR1, BANK_B, ORTAK_ISO_INVALID);
    expect_forward_refused(env, synthetic, n / 2, UETR1, BANK_B, ORTAK_ISO_INVALID); /* cut short */
    static const char doctype[] = "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY e \"x\">]><Document/>";
    expect_forward_refused(env, doctype, sizeof doctype - 1, UETR1, BANK_B, ORTAK_ISO_INVALID);

    /* a transaction without IntrBkSttlmAmt, and the same UETR in a pacs.002 */
    char *copy = strdup(synthetic);
    for (char *at = strstr(copy, "IntrBkSttlmAmt"); at != NULL; at = strstr(at, "IntrBkSttlmAmt")) at[13] = 'X';
    expect_forward_refused(env, copy, n, UETR1, BANK_B, ORTAK_ISO_INVALID);
    free(copy);
    size_t len;
    char *data = read_file(EXAMPLES "pacs.002.max.xml", &len);
    expect_forward_refused(env, data, len, UETR1, BANK_B, ORTAK_ISO_INVALID);
    free(data);
    data = read_file(EXAMPLES "pacs.009.min.xml", &len);
    expect_forward_refused(env, data, len, UETR1, BANK_B, ORTAK_ISO_INVALID);
    free(data);
}

/* One sample forwarded: the UETR that names its transaction, two ids it must carry, and one more element. */
struct forward_case {
    const char *file, *uetr;
    const char *id_rel, *id, *e2e_rel, *e2e;
    const char *extra_rel, *extra;
};

/* Forwards the sample; a UETR one off names no transaction. */
static void forward_case_check(struct forward_env *env, uint8_t type, const struct forward_case *c) {
    struct ortak_iso_buf b;
    struct parsed p;
    size_t len;
    char *data = read_file(c->file, &len);
    forward_as(env, type, data, len, c->uetr, &p, &b);
    expect_tx(&p, type, c->id_rel, c->id);
    expect_tx(&p, type, c->e2e_rel, c->e2e);
    expect_tx(&p, type, c->extra_rel, c->extra);
    parsed_free(&p);
    ortak_iso_buf_free(&b);
    expect_forward_refused(env, data, len, uetr_of(c->uetr) + 1, BANK_B, ORTAK_ISO_INVALID);
    free(data);
}

#define PACS009_SAMPLE SAMPLES "test_files/2026/pacs009_fi_transfer_sample.xml"
#define PACS004_SAMPLE SAMPLES "test_files/2026/pacs004_payment_return_sample.xml"

static void test_forward_pacs009(void **state) {
    struct forward_env *env = *state;
    static const struct forward_case cases[] = {
        /* prefixed elements in an envelope with its own namespace */
        {PACS009_SAMPLE, "b2c3d4e5-f6a7-4901-bcde-f12345678901", "d:PmtId/d:InstrId", "IN20260413-6201",
         "d:PmtId/d:EndToEndId", "E2E-04137745", "d:Cdtr/d:FinInstnId/d:BICFI", "PLNFSGSX"},
        {EXAMPLES "pacs.009.max.xml", "00000000-0000-4000-8322-705774385f0c", "d:PmtId/d:InstrId", "EXInstrId",
         "d:PmtId/d:EndToEndId", "EXEndToEndId", "d:PmtTpInf/d:ClrChanl", "RTGS"},
        {EXAMPLES "pacs.009_cov.max.xml", "00000000-0000-4000-8a65-209d7b14f4c4", "d:PmtId/d:InstrId", "EXInstrId",
         "d:PmtId/d:EndToEndId", "EXEndToEndId", "d:UndrlygCstmrCdtTrf/d:InstdAmt", "1000.00"},
        {EXAMPLES "pacs.009_adv.min.xml", "00000000-0000-4000-b9f2-fde44c5cdb75", "d:PmtId/d:InstrId", "EXInstrId",
         "d:PmtId/d:EndToEndId", "EXEndToEndId", "d:IntrBkSttlmAmt", "1000.00"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) forward_case_check(env, ORTAK_ISO_PACS_009, &cases[i]);

    /* the group's PmtTpInf applies to a transaction without one of its own: carried into the new group header */
    struct ortak_iso_buf b;
    struct parsed p;
    size_t len;
    char *data = read_file(PACS009_SAMPLE, &len);
    data[len] = '\0';
    char *grp = insert_after(data, "</pacs:SttlmInf>",
                             "<pacs:PmtTpInf><pacs:InstrPrty>HIGH</pacs:InstrPrty></pacs:PmtTpInf>", &len);
    forward_as(env, ORTAK_ISO_PACS_009, grp, len, "b2c3d4e5-f6a7-4901-bcde-f12345678901", &p, &b);
    expect_text(&p, "//d:GrpHdr/d:PmtTpInf/d:InstrPrty", "HIGH");
    assert_int_equal(xp_count(&p, "//d:GrpHdr/d:SttlmInf/following-sibling::*[1][self::d:PmtTpInf]"), 1);
    assert_null(strstr(b.data, "<pacs:"));
    parsed_free(&p);
    ortak_iso_buf_free(&b);
    free(grp);
    free(data);
}

/* A copy of NUL-terminated `src` without the first `text`; its length in *len. */
static char *without(const char *src, const char *text, size_t *len) {
    const char *at = strstr(src, text);
    assert_non_null(at);
    size_t head = (size_t)(at - src), n = strlen(text);
    char *out = strdup(src);
    assert_non_null(out);
    memmove(out + head, out + head + n, strlen(src) - head - n + 1);
    *len = strlen(out);
    return out;
}

#define ORIGINAL_GROUP \
    "<OrgnlGrpInf><OrgnlMsgId>M-0</OrgnlMsgId><OrgnlMsgNmId>pacs.008.001.08</OrgnlMsgNmId></OrgnlGrpInf>"

/* The original group information of a return applies to a TxInf without its own: carried, after GrpHdr; the
 * settlement date is added right after RtrdIntrBkSttlmAmt when the return has none. */
static void forward_return_variants(struct forward_env *env) {
    struct ortak_iso_buf b;
    struct parsed p;
    size_t len;
    char *data = read_file(EXAMPLES "pacs.004.min.xml", &len);
    data[len] = '\0';
    char *grp = insert_after(data, "</GrpHdr>", ORIGINAL_GROUP, &len);
    char *undated = without(grp, "<IntrBkSttlmDt>2026-01-01</IntrBkSttlmDt>", &len);
    forward_as(env, ORTAK_ISO_PACS_004, undated, len, "00000000-0000-4000-b221-322107c494c7", &p, &b);
    expect_text(&p, "/Envelope/d:Document/d:PmtRtr/d:GrpHdr/following-sibling::*[1][self::d:OrgnlGrpInf]/d:OrgnlMsgId",
                "M-0");
    expect_tx(&p, ORTAK_ISO_PACS_004, "d:RtrId", "EXRtrId");
    parsed_free(&p);
    ortak_iso_buf_free(&b);
    free(undated);
    free(grp);
    free(data);

    /* a TxInf with its own OrgnlGrpInf: the group's is left out (the schema's rule allows one of them) */
    data = read_file(PACS004_SAMPLE, &len);
    data[len] = '\0';
    grp = insert_after(data, "</pacs:GrpHdr>",
                       "<pacs:OrgnlGrpInf><pacs:OrgnlMsgId>M-0</pacs:OrgnlMsgId>"
                       "<pacs:OrgnlMsgNmId>pacs.008.001.08</pacs:OrgnlMsgNmId></pacs:OrgnlGrpInf>",
                       &len);
    forward_as(env, ORTAK_ISO_PACS_004, grp, len, "c3d4e5f6-a7b8-4012-9def-123456789012", &p, &b);
    assert_int_equal(xp_count(&p, "//d:OrgnlGrpInf"), 1);
    expect_tx(&p, ORTAK_ISO_PACS_004, "d:OrgnlGrpInf/d:OrgnlMsgId", "P008-20260412-1100");
    parsed_free(&p);
    ortak_iso_buf_free(&b);
    free(grp);
    free(data);
}

static void test_forward_pacs004(void **state) {
    struct forward_env *env = *state;
    static const struct forward_case cases[] = {
        {PACS004_SAMPLE, "c3d4e5f6-a7b8-4012-9def-123456789012", "d:RtrId", "RTR20260413-3390", "d:OrgnlEndToEndId",
         "E2E-04124421", "d:OrgnlTxRef/d:IntrBkSttlmDt", "2026-04-12"}, /* the original's */
        {EXAMPLES "pacs.004.max.xml", "00000000-0000-4000-8322-702a8aa2e5cd", "d:RtrId", "EXRtrId", "d:OrgnlEndToEndId",
         "EXOrgnlEndToEndId", "d:OrgnlInstrId", "EXOrgnlInstrId"},
        {EXAMPLES "pacs.004.min.xml", "00000000-0000-4000-b221-322107c494c7", "d:RtrId", "EXRtrId", "d:OrgnlEndToEndId",
         "EXOrgnlEndToEndId", "d:RtrdIntrBkSttlmAmt", "1000.00"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) forward_case_check(env, ORTAK_ISO_PACS_004, &cases[i]);
    forward_return_variants(env);
}

/*
 * Fault injection: the allocator under libxml2 (ortak__iso_alloc_base) fails the Nth allocation of a forward, for
 * every N from the first allocation of its parse until the forward needs no more. Each failure is answered
 * ORTAK_NOMEM, never a crash, a leak (the sanitizer build checks) or a message missing a part, and leaves the
 * buffer as it was; the first success is a valid message.
 */
static long alloc_countdown = -1; /* the allocation that fails: 0 = the next one; negative = none */

static bool alloc_fails(void) { return alloc_countdown >= 0 && alloc_countdown-- == 0; }
static void *fi_malloc(size_t n) { return alloc_fails() ? NULL : malloc(n); }
static void *fi_realloc(void *p, size_t n) { return alloc_fails() ? NULL : realloc(p, n); }

/* Fails each allocation of forwarding the transaction `c->uetr` of `data` (a message of `type`) in turn, until the
 * forward needs no more; the first success carries the ids of `c`. Returns how many allocations were failed. */
static long forward_alloc_failures(struct forward_env *env, uint8_t type, const char *data, size_t len,
                                   const struct forward_case *c) {
    struct ortak_iso_head h = head_of(BANK_B, "SYS-FWD-3", T0);
    struct ortak_iso_status s = status_of("ACTC", type);
    bool done = false;
    long first = 0, n = first;
    for (; n < first + 100000 && !done; n++) {
        struct ortak_iso_buf b = {0};
        struct parsed p;
        assert_int_equal(ortak_iso_write_pacs002(&s, &b), ORTAK_OK);
        size_t before = b.len;
        alloc_countdown = n;
        ortak_rc rc = ortak_iso_write_forward(env->r, data, len, uetr_of(c->uetr), &h, SETTLED_NS, &b);
        done = alloc_countdown >= 0; /* the forward made fewer than n + 1 allocations: none failed */
        alloc_countdown = -1;
        if (rc == ORTAK_OK) {
            buf_valid(&b, before, type, &p);
            expect_tx(&p, type, c->id_rel, c->id);
            expect_tx(&p, type, c->e2e_rel, c->e2e);
            expect_tx(&p, type, c->extra_rel, c->extra);
            parsed_free(&p);
        } else {
            if (done || rc != ORTAK_NOMEM) fail_msg("allocation %ld of the forward: %d", n, rc);
            assert_int_equal(b.len, before);
            assert_true(b.failed);
        }
        ortak_iso_buf_free(&b);
    }
    assert_true(done);
    return n - first;
}

static void test_forward_alloc_failures(void **state) {
    struct forward_env *env = *state;
    static const struct forward_case synthetic_case = {NULL,
                                                       UETR1_TEXT,
                                                       "d:PmtId/d:InstrId",
                                                       "I-1",
                                                       "d:PmtId/d:EndToEndId",
                                                       "E-1",
                                                       "d:SplmtryData/d:Envlp/Plain/Inner",
                                                       "v"};
    static const struct forward_case return_case = {NULL,
                                                    "c3d4e5f6-a7b8-4012-9def-123456789012",
                                                    "d:RtrId",
                                                    "RTR20260413-3390",
                                                    "d:OrgnlEndToEndId",
                                                    "E2E-04124421",
                                                    "d:OrgnlUETR",
                                                    "c3d4e5f6-a7b8-4012-9def-123456789012"};
    size_t len;
    char *ret = read_file(PACS004_SAMPLE, &len); /* prefixed, in an envelope with a default namespace of its own */
    ortak__iso_alloc_base(fi_malloc, fi_realloc);
    long pacs008 = forward_alloc_failures(env, ORTAK_ISO_PACS_008, synthetic, sizeof synthetic - 1, &synthetic_case);
    long pacs004 = forward_alloc_failures(env, ORTAK_ISO_PACS_004, ret, len, &return_case);
    ortak__iso_alloc_base(NULL, NULL);
    free(ret);
    print_message("%ld and %ld allocations of the forwards (pacs.008, pacs.004) failed in turn\n", pacs008, pacs004);
    assert_true(pacs008 > 5 && pacs004 > 5); /* the forward's own allocations were failed */
}

/* ---- main -------------------------------------------------------------------------------------------------- */

static void ignore(void *ctx, const char *msg, ...) {
    (void)ctx;
    (void)msg;
}

/* Loads the schemas the test validates with; false (said on stderr) when one is missing or does not parse. */
static bool schemas_load(void) {
    char path[1024];
    for (size_t i = 0; i < sizeof schema_types; i++) {
        uint8_t t = schema_types[i];
        snprintf(path, sizeof path, "%s/iso20022/xsd/%s.xsd", data_dir, ortak_iso_type_name(t));
        FILE *f = fopen(path, "rb");
        if (f == NULL) {
            fprintf(stderr, "FAIL: schema %s is missing: the test needs the shared data directory\n", path);
            return false;
        }
        fclose(f);
        xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(path);
        schemas[t] = pc != NULL ? xmlSchemaParse(pc) : NULL;
        xmlSchemaFreeParserCtxt(pc);
        if (schemas[t] == NULL) {
            fprintf(stderr, "FAIL: schema %s does not parse\n", path);
            return false;
        }
    }
    return true;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "FAIL: usage: %s SHARED_DATA_DIR (the schemas are read from its iso20022/xsd)\n", argv[0]);
        return 1;
    }
    data_dir = argv[1];
    xmlInitParser();
    if (!schemas_load()) return 1;
    xmlSetGenericErrorFunc(NULL, ignore); /* the refusals below feed libxml2 bad XML on purpose */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_date_parse),
        cmocka_unit_test(test_date_round_trip),
        cmocka_unit_test(test_time_of_day),
        cmocka_unit_test(test_pacs002_statuses),
        cmocka_unit_test(test_pacs002_minimal),
        cmocka_unit_test(test_pacs002_refused),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_camt054_credit),
        cmocka_unit_test(test_camt054_debit),
        cmocka_unit_test(test_camt054_refused),
        cmocka_unit_test(test_reports),
        cmocka_unit_test(test_report_large_sums),
        cmocka_unit_test(test_admi002),
        cmocka_unit_test(test_append),
        cmocka_unit_test_setup_teardown(test_forward_samples, forward_setup, forward_teardown),
        cmocka_unit_test_setup_teardown(test_forward_synthetic, forward_setup, forward_teardown),
        cmocka_unit_test_setup_teardown(test_forward_variants, forward_setup, forward_teardown),
        cmocka_unit_test_setup_teardown(test_forward_refused, forward_setup, forward_teardown),
        cmocka_unit_test_setup_teardown(test_forward_pacs009, forward_setup, forward_teardown),
        cmocka_unit_test_setup_teardown(test_forward_pacs004, forward_setup, forward_teardown),
        cmocka_unit_test_setup_teardown(test_forward_alloc_failures, forward_setup, forward_teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    for (size_t i = 0; i < ORTAK_ISO_TYPES; i++) {
        if (schemas[i] != NULL) xmlSchemaFree(schemas[i]);
    }
    xmlCleanupParser();
    return failed;
}
