/*
 * Fuzz target of the ISO 20022 reader (include/ortak/iso20022.h): any bytes go to ortak_iso_read, with schemas and
 * without; a payment message (pacs.008, pacs.009, pacs.004) that is read, valid or not, is also forwarded with
 * ortak_iso_write_forward, and what is forwarded is read back.
 *
 * Built two ways: under libFuzzer (ORTAK_LIBFUZZER, scripts/fuzz), and in every build with replay_main.c, which
 * replays the corpus and the shared samples through this same function as CTest tests.
 *
 * Invariants checked on every input; a broken one prints what broke and aborts (that is the finding):
 *   - ortak_iso_read returns ORTAK_OK, ORTAK_ISO_INVALID or ORTAK_ISO_UNREADABLE, and counts issues iff not OK;
 *   - every kept issue has a non-empty rule and a reason of 4 uppercase letters or digits; every text field of the
 *     message, its issues and its transactions is NUL-terminated within its array; type and kinds are in range;
 *   - tx_count is at most the reader's transaction limit;
 *   - a valid payment message holds transactions, each with a UETR, a currency and a non-zero amount;
 *   - "bare": without schemas the rules are the same (docs/iso20022.md): a message valid with schemas is valid
 *     without, one unreadable with is unreadable without, and the valid-payment invariant above holds without;
 *   - "comments": comments and processing instructions are not data: a valid message reads the same with them
 *     removed (a value split by a comment must not be read as its first piece);
 *   - "forward": a message without a UETR to forward is refused; a valid payment message forwards; what is
 *     forwarded reads back as a message of the same type with a header and the one transaction forwarded, valid
 *     when the original was.
 *
 * The quoted groups can be switched off while a library bug they catch is open, so that fuzzing goes on past it:
 * ORTAK_FUZZ_SKIP=bare,comments,forward (any of them). A skipped invariant is reported once on stderr when it first
 * breaks. The schemas come from $ORTAK_SCHEMAS, else ortak_iso_default_schema_dir(); the IBAN registry from
 * $ORTAK_IBAN_REGISTRY, else ortak_iso_default_iban_registry(). State is opened once and kept for the process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_iso.h"
#include "ortak/iso20022.h"

/* 2026-04-13T12:00:00Z: the creation and settlement time of forwarded messages. */
#define FORWARD_NS (UINT64_C(1776081600) * ORTAK_NS_PER_S)
#define SYSTEM_BIC "ORTKTRISXXX"
#define FALLBACK_BIC "GLPBES2XXXX"

static struct ortak_iso *iso;      /* production limits, schemas: what a bank's message meets */
static struct ortak_iso *iso_bare; /* production limits, no schemas: ortak's own checks only */
static struct ortak_iso *iso_wide; /* the largest limits: reads back what was generated */
static struct ortak_iso_reader *rd, *rd_bare, *rd_other, *rd_wide;
static struct ortak_iso_msg msg, other, back;
static uint8_t *stripped; /* the input without comments and processing instructions */
static size_t stripped_cap;

/* The skippable invariant groups: whether ORTAK_FUZZ_SKIP names each, and whether it was reported broken. */
enum group { GROUP_BARE, GROUP_COMMENTS, GROUP_FORWARD, GROUPS };
static const char *const group_names[GROUPS] = {"bare", "comments", "forward"};
static bool group_skipped[GROUPS], group_reported[GROUPS];

static void print_issues(const char *name, const struct ortak_iso_msg *m) {
    uint32_t kept = m->issue_count < ORTAK_ISO_ISSUES_MAX ? m->issue_count : ORTAK_ISO_ISSUES_MAX;
    fprintf(stderr, "  %s: type %u, %u issues, %u transactions\n", name, m->type, m->issue_count, m->tx_count);
    for (uint32_t i = 0; i < kept; i++)
        fprintf(stderr, "    %.16s %.5s %.200s\n", m->issues[i].rule, m->issues[i].reason, m->issues[i].text);
}

static _Noreturn void violated(const char *what, const struct ortak_iso_msg *m) {
    fprintf(stderr, "fuzz_iso_read: invariant broken: %s\n", what);
    if (m) print_issues(m == &msg ? "message" : m == &back ? "forwarded message read back" : "read again", m);
    abort();
}

/* An invariant of a skippable group: aborts when it is broken, unless the group is skipped. */
static void require(enum group g, bool ok, const char *what, const struct ortak_iso_msg *m) {
    if (ok) return;
    if (!group_skipped[g]) violated(what, m);
    if (!group_reported[g])
        fprintf(stderr, "fuzz_iso_read: invariant broken (%s skipped, reported once): %s\n", group_names[g], what);
    group_reported[g] = true;
}

static void open_skips(void) {
    const char *skip = getenv("ORTAK_FUZZ_SKIP");
    for (int g = 0; g < GROUPS && skip; g++) {
        size_t n = strlen(group_names[g]);
        for (const char *p = strstr(skip, group_names[g]); p; p = strstr(p + 1, group_names[g]))
            if ((p == skip || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) group_skipped[g] = true;
        if (group_skipped[g]) fprintf(stderr, "fuzz_iso_read: invariants '%s' not enforced\n", group_names[g]);
    }
}

static void open_state(void) {
    const char *dir = getenv("ORTAK_SCHEMAS");
    const char *reg = getenv("ORTAK_IBAN_REGISTRY");
    if (!dir || !dir[0]) dir = ortak_iso_default_schema_dir();
    if (!reg || !reg[0]) reg = ortak_iso_default_iban_registry();
    struct ortak_iso_options o = {.schema_dir = dir, .iban_registry = reg};
    struct ortak_iso_options bare = {.iban_registry = reg};
    struct ortak_iso_options wide = o;
    wide.message_bytes_max = ORTAK_ISO_MESSAGE_BYTES_LIMIT;
    wide.depth_max = ORTAK_ISO_DEPTH_LIMIT;
    char why[512];
    if (ortak_iso_open(&o, &iso, why, sizeof why) != ORTAK_OK ||
        ortak_iso_open(&bare, &iso_bare, why, sizeof why) != ORTAK_OK ||
        ortak_iso_open(&wide, &iso_wide, why, sizeof why) != ORTAK_OK) {
        fprintf(stderr, "fuzz_iso_read: cannot open ISO 20022 state: %s\n", why);
        exit(2);
    }
    if (ortak_iso_reader_open(iso, &rd) != ORTAK_OK || ortak_iso_reader_open(iso_bare, &rd_bare) != ORTAK_OK ||
        ortak_iso_reader_open(iso, &rd_other) != ORTAK_OK || ortak_iso_reader_open(iso_wide, &rd_wide) != ORTAK_OK) {
        fprintf(stderr, "fuzz_iso_read: cannot open a reader\n");
        exit(2);
    }
    fprintf(stderr, "fuzz_iso_read: %u schemas from %s; IBAN registry %s\n", ortak_iso_schema_count(iso),
            dir ? dir : "(none)", reg ? reg : "(built-in lengths)");
    open_skips();
}

static bool terminated(const char *s, size_t cap) { return memchr(s, '\0', cap) != NULL; }

#define CHECK_TEXT(m, field)                                                                                      \
    do {                                                                                                          \
        if (!terminated((field), sizeof(field))) violated(#field " is not NUL-terminated within its array", (m)); \
    } while (0)

static bool reason_code(const char r[5]) {
    if (!terminated(r, 5) || strlen(r) != 4) return false;
    for (int i = 0; i < 4; i++)
        if (!((r[i] >= 'A' && r[i] <= 'Z') || (r[i] >= '0' && r[i] <= '9'))) return false;
    return true;
}

static void check_issues(const struct ortak_iso_msg *m) {
    uint32_t kept = m->issue_count < ORTAK_ISO_ISSUES_MAX ? m->issue_count : ORTAK_ISO_ISSUES_MAX;
    for (uint32_t i = 0; i < kept; i++) {
        const struct ortak_iso_issue *is = &m->issues[i];
        CHECK_TEXT(m, is->rule);
        CHECK_TEXT(m, is->text);
        if (!is->rule[0]) violated("an issue has an empty rule", m);
        if (!reason_code(is->reason)) violated("an issue's reason is not 4 uppercase letters or digits", m);
    }
}

static void check_tx(const struct ortak_iso_msg *m, const struct ortak_iso_tx *t) {
    CHECK_TEXT(m, t->instr_id);
    CHECK_TEXT(m, t->end_to_end_id);
    CHECK_TEXT(m, t->tx_id);
    CHECK_TEXT(m, t->uetr_text);
    CHECK_TEXT(m, t->clr_sys_ref);
    CHECK_TEXT(m, t->currency);
    CHECK_TEXT(m, t->settlement_date);
    CHECK_TEXT(m, t->instg_agt);
    CHECK_TEXT(m, t->instd_agt);
    CHECK_TEXT(m, t->dbtr_agt);
    CHECK_TEXT(m, t->cdtr_agt);
    CHECK_TEXT(m, t->dbtr_name);
    CHECK_TEXT(m, t->cdtr_name);
    CHECK_TEXT(m, t->dbtr_acct);
    CHECK_TEXT(m, t->cdtr_acct);
    CHECK_TEXT(m, t->rtr_id);
    CHECK_TEXT(m, t->orgnl_instr_id);
    CHECK_TEXT(m, t->orgnl_end_to_end_id);
    CHECK_TEXT(m, t->orgnl_tx_id);
    CHECK_TEXT(m, t->rtr_reason);
    if (t->dbtr_acct_kind > ORTAK_ISO_ACCT_OTHER || t->cdtr_acct_kind > ORTAK_ISO_ACCT_OTHER)
        violated("an account kind is out of range", m);
    if (t->priority > ORTAK_PRIORITY_NORMAL || t->method > ORTAK_METHOD_NET)
        violated("a priority or settlement method is out of range", m);
}

static bool payment_message(uint8_t type) {
    return type == ORTAK_ISO_PACS_008 || type == ORTAK_ISO_PACS_009 || type == ORTAK_ISO_PACS_004;
}

/* What a valid payment message guarantees to the mapping: each transaction names a payment and an amount. */
static const char *valid_payments_broken(const struct ortak_iso_msg *m) {
    if (m->tx_count == 0) return "a valid payment message holds no transaction";
    for (uint32_t i = 0; i < m->tx_count; i++) {
        const struct ortak_iso_tx *t = &m->tx[i];
        ortak_u128 id = m->type == ORTAK_ISO_PACS_004 ? t->orgnl_uetr : t->uetr;
        if (id == 0) return "a valid transaction has no UETR";
        if (strlen(t->currency) != 3) return "a valid transaction has no currency";
        if (t->amount == 0) return "a valid transaction has a zero amount";
    }
    return NULL;
}

/* Every invariant of a message as read by a reader whose transaction limit is `tx_max`, but the valid-payment one. */
static void check_msg(const struct ortak_iso_msg *m, ortak_rc rc, uint32_t tx_max) {
    if (rc != ORTAK_OK && rc != ORTAK_ISO_INVALID && rc != ORTAK_ISO_UNREADABLE)
        violated("ortak_iso_read returned a code other than OK, ISO_INVALID or ISO_UNREADABLE", m);
    if ((m->issue_count > 0) != (rc != ORTAK_OK)) violated("issues are counted iff the read is not OK", m);
    if (m->type >= ORTAK_ISO_TYPES) violated("the message type is out of range", m);
    check_issues(m);
    CHECK_TEXT(m, m->hdr_from);
    CHECK_TEXT(m, m->hdr_to);
    CHECK_TEXT(m, m->hdr_biz_msg_id);
    CHECK_TEXT(m, m->hdr_msg_def_id);
    CHECK_TEXT(m, m->msg_id);
    CHECK_TEXT(m, m->created);
    if (m->tx_count > tx_max) violated("more transactions read than the reader's limit", m);
    if (m->tx_count > 0 && !m->tx) violated("transactions counted but none given", m);
    for (uint32_t i = 0; i < m->tx_count; i++) check_tx(m, &m->tx[i]);
}

/* The valid-payment invariant of a message read OK: a rule of the schema when it was checked, else ortak's own. */
static void check_valid_payments(const struct ortak_iso_msg *m) {
    const char *broken = payment_message(m->type) ? valid_payments_broken(m) : NULL;
    if (broken && m->schema_checked) violated(broken, m);
    require(GROUP_BARE, broken == NULL, broken ? broken : "", m);
}

/* The same bytes read without schemas: the same verdict but for schema issues, and the same guarantees. */
static void check_bare(const uint8_t *data, size_t size, ortak_rc rc) {
    ortak_rc bare = ortak_iso_read(rd_bare, data, size, &other);
    check_msg(&other, bare, ORTAK_ISO_TX_DEFAULT);
    require(GROUP_BARE, (bare == ORTAK_ISO_UNREADABLE) == (rc == ORTAK_ISO_UNREADABLE),
            "a message is unreadable with schemas but not without, or the reverse", &other);
    require(GROUP_BARE, rc != ORTAK_OK || bare == ORTAK_OK, "a message valid with schemas is refused without them",
            &other);
    if (bare == ORTAK_OK) check_valid_payments(&other);
}

static bool at(const uint8_t *d, size_t n, size_t i, const char *s) {
    size_t len = strlen(s);
    return i + len <= n && memcmp(d + i, s, len) == 0;
}

/* Index just past the first `end` at or after i, or n. */
static size_t past(const uint8_t *d, size_t n, size_t i, const char *end) {
    for (; i < n; i++)
        if (at(d, n, i, end)) return i + strlen(end);
    return n;
}

/*
 * Copies the input into `stripped` without its comments and processing instructions (the XML declaration at the
 * start stays: it may name the encoding). CDATA sections are copied whole. In a well-formed message '<' occurs
 * nowhere else but in markup, so this removes exactly the comment and PI nodes. Returns the length.
 */
static size_t strip(const uint8_t *d, size_t n) {
    if (stripped_cap < n) {
        uint8_t *p = realloc(stripped, n);
        if (!p) violated("out of memory in the fuzz target", NULL);
        stripped = p;
        stripped_cap = n;
    }
    size_t i = 0, o = 0;
    while (i < n) {
        size_t from = i;
        if (at(d, n, i, "<![CDATA[")) {
            i = past(d, n, i + 9, "]]>");
        } else if (at(d, n, i, "<!--")) {
            i = past(d, n, i + 4, "-->");
            continue;
        } else if (at(d, n, i, "<?") && !(i == 0 && at(d, n, i, "<?xml "))) {
            i = past(d, n, i + 2, "?>");
            continue;
        } else {
            i++;
        }
        memcpy(stripped + o, d + from, i - from);
        o += i - from;
    }
    return o;
}

static bool same_read(const struct ortak_iso_msg *a, const struct ortak_iso_msg *b) {
    if (a->type != b->type || a->has_header != b->has_header || a->nb_of_txs != b->nb_of_txs ||
        a->tx_count != b->tx_count)
        return false;
    if (strcmp(a->hdr_from, b->hdr_from) != 0 || strcmp(a->hdr_to, b->hdr_to) != 0 ||
        strcmp(a->hdr_biz_msg_id, b->hdr_biz_msg_id) != 0 || strcmp(a->hdr_msg_def_id, b->hdr_msg_def_id) != 0 ||
        strcmp(a->msg_id, b->msg_id) != 0 || strcmp(a->created, b->created) != 0)
        return false;
    return a->tx_count == 0 || memcmp(a->tx, b->tx, a->tx_count * sizeof *a->tx) == 0; /* zeroed, then filled */
}

/* A valid message reads the same without its comments and processing instructions. */
static void check_comments(const uint8_t *data, size_t size) {
    size_t n = strip(data, size);
    if (n == size) return; /* nothing removed */
    ortak_rc rc = ortak_iso_read(rd_other, stripped, n, &other);
    check_msg(&other, rc, ORTAK_ISO_TX_DEFAULT);
    require(GROUP_COMMENTS, rc == ORTAK_OK, "a valid message is refused once its comments are removed", &other);
    require(GROUP_COMMENTS, rc != ORTAK_OK || same_read(&msg, &other),
            "a valid message reads differently once its comments and processing instructions are removed", &other);
}

/* The transaction a forward names: its UETR, or for a return the UETR of the payment returned; 0 for none. */
static ortak_u128 forward_uetr(const struct ortak_iso_msg *m) {
    if (m->tx_count == 0) return 0;
    return m->type == ORTAK_ISO_PACS_004 ? m->tx[0].orgnl_uetr : m->tx[0].uetr;
}

/* The forwarded message read back: of the original's type, with a header and exactly the transaction forwarded. */
static void check_forwarded(const struct ortak_iso_buf *out, uint8_t type, ortak_u128 uetr, ortak_rc original_rc) {
    if (out->failed || out->len == 0 || out->len > out->cap || !out->data)
        violated("a forward returned OK with an empty, failed or overrun buffer", NULL);
    ortak_rc rc = ortak_iso_read(rd_wide, out->data, out->len, &back);
    check_msg(&back, rc, ORTAK_ISO_TX_DEFAULT);
    require(GROUP_FORWARD, rc != ORTAK_ISO_UNREADABLE, "a forwarded message cannot be read back", &back);
    if (rc == ORTAK_ISO_UNREADABLE) return;
    require(GROUP_FORWARD, back.type == type && back.has_header, "a forward is not of its original's type, with header",
            &back);
    require(GROUP_FORWARD, back.tx_count == 1 && forward_uetr(&back) == uetr,
            "a forward does not hold the one transaction forwarded", &back);
    require(GROUP_FORWARD, original_rc != ORTAK_OK || rc == ORTAK_OK,
            "a valid payment message forwards as an invalid one", &back);
}

/* Forwards the first transaction of the payment message just read from `data` (its UETR, or none). */
static void forward(const uint8_t *data, size_t size, ortak_rc original_rc) {
    ortak_u128 uetr = forward_uetr(&msg);
    uint8_t type = msg.type;
    struct ortak_iso_head h = {.created_ns = FORWARD_NS};
    const char *to = FALLBACK_BIC;
    if (msg.tx_count && msg.tx[0].instd_agt[0])
        to = msg.tx[0].instd_agt;
    else if (msg.tx_count && msg.tx[0].cdtr_agt[0])
        to = msg.tx[0].cdtr_agt;
    snprintf(h.from, sizeof h.from, "%s", SYSTEM_BIC);
    snprintf(h.to, sizeof h.to, "%s", to); /* copied: the forward reads again and overwrites msg.tx */
    snprintf(h.msg_id, sizeof h.msg_id, "%s", "ORTAK-FWD-0001");
    struct ortak_iso_buf out = {0};
    ortak_rc rc = ortak_iso_write_forward(rd, data, size, uetr, &h, FORWARD_NS, &out);
    if (rc != ORTAK_OK && rc != ORTAK_ISO_INVALID && rc != ORTAK_INVALID)
        violated("a forward returned a code other than OK, ISO_INVALID or INVALID", NULL);
    if (uetr == 0 && rc == ORTAK_OK) violated("a transaction without UETR was forwarded", NULL);
    if (original_rc == ORTAK_OK && rc != ORTAK_OK && !group_skipped[GROUP_FORWARD])
        fprintf(stderr, "fuzz_iso_read: forward returned %s\n", ortak_rc_name(rc));
    require(GROUP_FORWARD, original_rc != ORTAK_OK || rc == ORTAK_OK, "a valid payment message does not forward", NULL);
    if (rc == ORTAK_OK) check_forwarded(&out, type, uetr, original_rc);
    ortak_iso_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!iso) open_state();
    ortak_rc rc = ortak_iso_read(rd, data, size, &msg);
    check_msg(&msg, rc, ORTAK_ISO_TX_DEFAULT);
    if (rc == ORTAK_OK) check_valid_payments(&msg);
    check_bare(data, size, rc);
    if (rc == ORTAK_OK) check_comments(data, size);
    if ((rc == ORTAK_OK || rc == ORTAK_ISO_INVALID) && payment_message(msg.type)) forward(data, size, rc);
    return 0;
}
