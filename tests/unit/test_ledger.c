/*
 * Unit tests of the ledger, driven through the engine as every client drives it: each ledger result code with the
 * exact code and the balances afterwards (a refused command changes nothing), and the behaviour around them —
 * floors, credit lines, reservations, pending transfers and expiry, linked chains, idempotency, participants,
 * history, result code tables and the state hash.
 *
 * Fixture (setup): the default configuration's seven currencies with small limits; the Kazakh and Azerbaijani
 * central banks, three Kazakh banks (A, B, C) with KZT settlement accounts, an Azerbaijani bank with an AZN
 * settlement account, and each central bank's issuance account. A and B and the AZN account are funded from the
 * issuance accounts; C starts empty. Every command takes a timestamp one second after the previous one. Two variants
 * lower limits further: setup_tight (participants and accounts exactly full, few transfer records, one pending slot,
 * batches of four) for the "limit reached" codes, and setup_short_history (eight postings held) for truncation.
 *
 * Balances are asserted with assert_balances (the four running totals, and balance and available derived from
 * them) or assert_fixture_balances (every fixture account at its opening balances: nothing moved).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ortak/engine.h"
#include "test_util.h"

#define T0 (UINT64_C(1767225600) * ORTAK_NS_PER_S) /* 2026-01-01T00:00:00Z */

#define CB_KZ "NBRKKZKX"
#define CB_AZ "NABZAZ2X"
#define BANK_A "HSBKKZKX"
#define BANK_B "KCJBKZKX"
#define BANK_C "CASPKZKA"
#define BANK_AZ "IBAZAZ2X"

/* Account ids of the fixture. */
#define ACC_A ((ortak_u128)1)
#define ACC_B ((ortak_u128)2)
#define ACC_C ((ortak_u128)3)
#define ACC_AZN ((ortak_u128)20)
#define ACC_ISS ((ortak_u128)100)
#define ACC_ISS_AZN ((ortak_u128)120)
#define ACC_NONE ((ortak_u128)777) /* never created */

/* Opening balances of the fixture (minor units). */
#define FUND_A 100000
#define FUND_B 50000
#define FUND_AZN 70000

struct fx {
    struct ortak_engine *e;
    ortak_time_ns now;            /* timestamp of the latest command */
    struct ortak_engine *more[2]; /* further engines a test opens; closed by teardown even when it fails */
};

/* ---- helpers ----------------------------------------------------------------------------------------------- */

/* The next command's timestamp: one second after the previous one. */
static ortak_time_ns fx_t(struct fx *f) { return f->now += ORTAK_NS_PER_S; }

static ortak_rc fx_rc(struct fx *f, struct ortak_cmd cmd) { return tu_apply1_rc(f->e, cmd); }

static void fx_ok(struct fx *f, struct ortak_cmd cmd) { assert_int_equal(fx_rc(f, cmd), ORTAK_OK); }

/* A plain transfer at the next timestamp; returns its result code. */
static ortak_rc fx_xfer(struct fx *f, ortak_u128 id, ortak_u128 dr, ortak_u128 cr, uint64_t amount) {
    return fx_rc(f, tu_transfer(fx_t(f), id, dr, cr, amount, 0));
}

static const struct ortak_ledger *fx_ledger(const struct fx *f) { return ortak_engine_ledger(f->e); }

static void check_i128(ortak_i128 got, ortak_i128 want, const char *what, ortak_u128 id, const char *file, int line) {
    if (got == want) return;
    char g[41], w[41];
    print_error("account %llu: %s is %s, expected %s\n", (unsigned long long)id, what, ortak_i128_dec(got, g),
                ortak_i128_dec(want, w));
    _fail(file, line);
}

/* Asserts the four running totals of an account, and that balance and available follow from them. */
static void check_balances(const struct ortak_engine *e, ortak_u128 id, ortak_i128 dp, ortak_i128 cp, ortak_i128 dpend,
                           ortak_i128 cpend, const char *file, int line) {
    struct ortak_account_info a;
    if (ortak_ledger_account_get(ortak_engine_ledger(e), id, &a) != ORTAK_OK) {
        print_error("account %llu not found\n", (unsigned long long)id);
        _fail(file, line);
    }
    check_i128(a.debits_posted, dp, "debits_posted", id, file, line);
    check_i128(a.credits_posted, cp, "credits_posted", id, file, line);
    check_i128(a.debits_pending, dpend, "debits_pending", id, file, line);
    check_i128(a.credits_pending, cpend, "credits_pending", id, file, line);
    check_i128(a.balance, cp - dp, "balance", id, file, line);
    check_i128(a.available, cp - dp - dpend + a.credit_line - a.reserved, "available", id, file, line);
}
#define assert_balances(e, id, dp, cp, dpend, cpend) check_balances(e, id, dp, cp, dpend, cpend, __FILE__, __LINE__)

/* Asserts an account's available balance (balance - debits_pending + credit_line - reserved). */
#define assert_available(e, id, want) \
    check_i128(tu_account_info(e, id).available, (ortak_i128)(want), "available", id, __FILE__, __LINE__)

/* Asserts that every fixture account still has its opening balances. */
static void check_fixture_balances(const struct ortak_engine *e, const char *file, int line) {
    check_balances(e, ACC_ISS, FUND_A + FUND_B, 0, 0, 0, file, line);
    check_balances(e, ACC_A, 0, FUND_A, 0, 0, file, line);
    check_balances(e, ACC_B, 0, FUND_B, 0, 0, file, line);
    check_balances(e, ACC_C, 0, 0, 0, 0, file, line);
    check_balances(e, ACC_ISS_AZN, FUND_AZN, 0, 0, 0, file, line);
    check_balances(e, ACC_AZN, 0, FUND_AZN, 0, 0, file, line);
}
#define assert_fixture_balances(e) check_fixture_balances(e, __FILE__, __LINE__)

/* The fixture's limits: small, so that the sanitizer run stays fast. */
static void fx_limits(struct ortak_limits *l) {
    l->participants_max = 16;
    l->accounts_max = 64;
    l->transfers_max = 4096;
    l->pending_max = 16;
    l->history_max = 64;
    l->batch_max = 64;
    l->payments_max = 64;
    l->quotes_max = 16;
    l->fx_rates_max = 16;
}

/* Opens an engine with `lim` and builds the fixture in it, one command per batch. */
static void fx_build(struct fx *f, const struct ortak_limits *lim) {
    struct ortak_config cfg;
    ortak_config_default(&cfg);
    cfg.limits = *lim;
    assert_int_equal(ortak_engine_open(&cfg, &f->e), ORTAK_OK);
    f->now = T0;
    fx_ok(f, tu_participant(fx_t(f), CB_KZ, "National Bank of Kazakhstan", ORTAK_ROLE_CENTRAL_BANK));
    fx_ok(f, tu_participant(fx_t(f), CB_AZ, "Central Bank of the Republic of Azerbaijan", ORTAK_ROLE_CENTRAL_BANK));
    fx_ok(f, tu_participant(fx_t(f), BANK_A, "Halyk Bank", ORTAK_ROLE_BANK));
    fx_ok(f, tu_participant(fx_t(f), BANK_B, "Kaspi Bank", ORTAK_ROLE_BANK));
    fx_ok(f, tu_participant(fx_t(f), BANK_C, "Bank CenterCredit", ORTAK_ROLE_BANK));
    fx_ok(f, tu_participant(fx_t(f), BANK_AZ, "International Bank of Azerbaijan", ORTAK_ROLE_BANK));
    fx_ok(f, tu_account(fx_t(f), ACC_ISS, CB_KZ, "KZT", ORTAK_ACCOUNT_ISSUANCE));
    fx_ok(f, tu_account(fx_t(f), ACC_A, BANK_A, "KZT", ORTAK_ACCOUNT_SETTLEMENT));
    fx_ok(f, tu_account(fx_t(f), ACC_B, BANK_B, "KZT", ORTAK_ACCOUNT_SETTLEMENT));
    fx_ok(f, tu_account(fx_t(f), ACC_C, BANK_C, "KZT", ORTAK_ACCOUNT_SETTLEMENT));
    fx_ok(f, tu_account(fx_t(f), ACC_ISS_AZN, CB_AZ, "AZN", ORTAK_ACCOUNT_ISSUANCE));
    fx_ok(f, tu_account(fx_t(f), ACC_AZN, BANK_AZ, "AZN", ORTAK_ACCOUNT_SETTLEMENT));
    assert_int_equal(fx_xfer(f, 9001, ACC_ISS, ACC_A, FUND_A), ORTAK_OK);
    assert_int_equal(fx_xfer(f, 9002, ACC_ISS, ACC_B, FUND_B), ORTAK_OK);
    assert_int_equal(fx_xfer(f, 9003, ACC_ISS_AZN, ACC_AZN, FUND_AZN), ORTAK_OK);
}

static int fx_setup_with(void **state, const struct ortak_limits *lim) {
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    fx_build(f, lim);
    *state = f;
    return 0;
}

static int setup(void **state) {
    struct ortak_limits lim;
    fx_limits(&lim);
    return fx_setup_with(state, &lim);
}

static int teardown(void **state) {
    struct fx *f = *state;
    ortak_engine_close(f->e);
    ortak_engine_close(f->more[0]);
    ortak_engine_close(f->more[1]);
    free(f);
    return 0;
}

/* The events of the last apply. */
static const struct ortak_event *fx_events(const struct fx *f, uint32_t *n) { return ortak_engine_events(f->e, n); }

/* The recorded outcome of a transfer id; fails the test when it was not recorded. */
static struct ortak_transfer_info fx_transfer(const struct fx *f, ortak_u128 id) {
    struct ortak_transfer_info info;
    assert_int_equal(ortak_ledger_transfer_get(fx_ledger(f), id, &info), ORTAK_OK);
    return info;
}

/* Asserts that a transfer id was not recorded. */
static void assert_not_recorded(const struct fx *f, ortak_u128 id) {
    struct ortak_transfer_info info;
    assert_int_equal(ortak_ledger_transfer_get(fx_ledger(f), id, &info), ORTAK_TRANSFER_NOT_FOUND);
}

/* ---- fixture and plain transfers --------------------------------------------------------------------------- */

/* The fixture is what the tests assume: balances, agents, accounts found by owner. */
static void test_fixture_state(void **state) {
    struct fx *f = *state;
    assert_fixture_balances(f->e);
    assert_int_equal(ortak_ledger_participant_count(fx_ledger(f)), 6);
    assert_int_equal(ortak_ledger_account_count(fx_ledger(f)), 6);
    assert_int_equal(ortak_ledger_transfer_count(fx_ledger(f)), 3);
    struct ortak_currency_info cur;
    assert_int_equal(ortak_ledger_currency_get(fx_ledger(f), "KZT", &cur), ORTAK_OK);
    assert_int_equal(cur.agent, 0); /* NBRK was admitted first */
    assert_int_equal(ortak_ledger_currency_get(fx_ledger(f), "KGS", &cur), ORTAK_OK);
    assert_int_equal(cur.agent, -1); /* not admitted */
    struct ortak_account_info a;
    assert_int_equal(ortak_ledger_account_find(fx_ledger(f), BANK_B, "KZT", ORTAK_ACCOUNT_SETTLEMENT, &a), ORTAK_OK);
    assert_true(a.id == ACC_B);
    assert_int_equal(a.status, ORTAK_ACCOUNT_STATUS_ACTIVE);
    assert_int_equal(ortak_ledger_account_find(fx_ledger(f), BANK_B, "KZT", ORTAK_ACCOUNT_COLLATERAL, &a),
                     ORTAK_ACCOUNT_NOT_FOUND);
}

/* A plain transfer moves the amount, emits TRANSFER_POSTED with its fields, and is recorded as booked. */
static void test_plain_transfer_posts(void **state) {
    struct fx *f = *state;
    struct ortak_cmd c = tu_transfer(fx_t(f), 10, ACC_A, ACC_B, 2500, 0);
    c.u.transfer.user_data = 0xabcdef;
    c.u.transfer.code = 7;
    struct ortak_result r = tu_apply1(f->e, &c);
    assert_int_equal(r.rc, ORTAK_OK);
    assert_int_equal(r.flags, 0);
    assert_int_equal(r.fail_index, UINT32_MAX);
    assert_balances(f->e, ACC_A, 2500, FUND_A, 0, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B + 2500, 0, 0);
    uint32_t n;
    const struct ortak_event *ev = fx_events(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].kind, ORTAK_EV_TRANSFER_POSTED);
    assert_int_equal(ev[0].timestamp, f->now);
    assert_int_equal(ev[0].command_index, 0);
    assert_true(ev[0].id == 10 && ev[0].debit_account_id == ACC_A && ev[0].credit_account_id == ACC_B);
    assert_int_equal(ev[0].amount, 2500);
    struct ortak_transfer_info info = fx_transfer(f, 10);
    assert_int_equal(info.rc, ORTAK_OK);
    assert_int_equal(info.amount_booked, 2500);
    assert_int_equal(info.timestamp, f->now);
    assert_int_equal(info.pending_state, ORTAK_PENDING_STATE_NONE);
    assert_true(info.t.user_data == 0xabcdef);
    assert_int_equal(info.t.code, 7);
}

/* ortak_ledger_transfer_get answers TRANSFER_NOT_FOUND for ids never seen, 0 and all ones included. */
static void test_transfer_not_found(void **state) {
    struct fx *f = *state;
    struct ortak_transfer_info info;
    assert_int_equal(ortak_ledger_transfer_get(fx_ledger(f), 424242, &info), ORTAK_TRANSFER_NOT_FOUND);
    assert_int_equal(ortak_ledger_transfer_get(fx_ledger(f), 0, &info), ORTAK_TRANSFER_NOT_FOUND);
    assert_int_equal(ortak_ledger_transfer_get(fx_ledger(f), ORTAK_U128_MAX, &info), ORTAK_TRANSFER_NOT_FOUND);
    assert_int_equal(fx_transfer(f, 9001).rc, ORTAK_OK);
    assert_fixture_balances(f->e);
}

/* ---- participants ------------------------------------------------------------------------------------------ */

/* Admits a participant with an explicit country field: up to 3 bytes copied, so a 3-letter one lacks its NUL. */
static struct ortak_cmd participant_in(struct fx *f, const char *bic, const char *country) {
    struct ortak_cmd c = tu_participant(fx_t(f), bic, "Test Bank", ORTAK_ROLE_BANK);
    memcpy(c.u.participant_create.country, country, strnlen(country, sizeof c.u.participant_create.country));
    return c;
}

/* Malformed BICs are refused with BIC_INVALID by every command and query that takes one; nothing is admitted. */
static void test_bic_invalid(void **state) {
    struct fx *f = *state;
    static const char *const bad[] = {"",         "HSBKKZK",     "HSBKKZKX0", "HSBKKZKX01", "hsbkKZKX",
                                      "HSBKkzKX", "HSBKQQKX",    "HSB-KZKX",  "HSBKKZkx",   "HSBKKZKXxxx",
                                      "HSBK12KX", "HSBKKZKX 01", "ABCDAA12"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(ortak_bic_valid(bad[i]));
        assert_int_equal(fx_rc(f, tu_participant(fx_t(f), bad[i], "Bank", ORTAK_ROLE_BANK)), ORTAK_BIC_INVALID);
    }
    assert_int_equal(fx_rc(f, tu_status(fx_t(f), "hsbkkzkx", ORTAK_PARTICIPANT_SUSPENDED)), ORTAK_BIC_INVALID);
    assert_int_equal(fx_rc(f, tu_account(fx_t(f), 50, "HSBK", "KZT", ORTAK_ACCOUNT_COLLATERAL)), ORTAK_BIC_INVALID);
    struct ortak_participant_info p;
    assert_int_equal(ortak_ledger_participant_get(fx_ledger(f), "HSBKKZ", &p), ORTAK_BIC_INVALID);
    assert_int_equal(ortak_ledger_participant_count(fx_ledger(f)), 6);
    assert_int_equal(ortak_ledger_account_count(fx_ledger(f)), 6);
    assert_fixture_balances(f->e);
}

/* ortak_bic_valid: 8 or 11 uppercase letters or digits with an assigned ISO 3166 country (and XK). */
static void test_bic_valid(void **state) {
    (void)state;
    assert_true(ortak_bic_valid("HSBKKZKX"));
    assert_true(ortak_bic_valid("HSBKKZKXXXX"));
    assert_true(ortak_bic_valid("NABZAZ2X"));
    assert_true(ortak_bic_valid("1234TR2A"));    /* digits in the party prefix (ISO 9362:2014) */
    assert_true(ortak_bic_valid("ABCDXK22"));    /* Kosovo, used by SWIFT */
    assert_true(ortak_bic_valid("TCMBTR2A001")); /* a branch */
    assert_true(ortak_country_valid("KZ") && ortak_country_valid("UZ") && ortak_country_valid("ZW"));
    assert_false(ortak_country_valid("QQ") || ortak_country_valid("kz") || ortak_country_valid("K"));
}

/* A BIC8 and the same BIC11 with branch XXX are one participant; another branch is another participant. */
static void test_bic8_and_bic11_xxx_same_participant(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_rc(f, tu_participant(fx_t(f), BANK_A "XXX", "Halyk again", ORTAK_ROLE_BANK)),
                     ORTAK_PARTICIPANT_EXISTS);
    struct ortak_participant_info p;
    assert_int_equal(ortak_ledger_participant_get(fx_ledger(f), BANK_A "XXX", &p), ORTAK_OK);
    assert_string_equal(p.bic, BANK_A);
    assert_string_equal(p.name, "Halyk Bank");
    assert_string_equal(p.country, "KZ");
    assert_int_equal(p.index, 2);
    /* An account created through the BIC11 form belongs to the same participant: A already has KZT settlement. */
    assert_int_equal(fx_rc(f, tu_account(fx_t(f), 50, BANK_A "XXX", "KZT", ORTAK_ACCOUNT_SETTLEMENT)),
                     ORTAK_ACCOUNT_KIND_TAKEN);
    fx_ok(f, tu_participant(fx_t(f), BANK_A "001", "Halyk branch", ORTAK_ROLE_BANK));
    assert_int_equal(ortak_ledger_participant_count(fx_ledger(f)), 7);
    /* Admitting as BIC11 XXX, then asking with the BIC8. */
    fx_ok(f, tu_participant(fx_t(f), "ATFBKZKAXXX", "ATF", ORTAK_ROLE_BANK));
    assert_int_equal(ortak_ledger_participant_get(fx_ledger(f), "ATFBKZKA", &p), ORTAK_OK);
    assert_int_equal(fx_rc(f, tu_participant(fx_t(f), "ATFBKZKA", "ATF", ORTAK_ROLE_BANK)), ORTAK_PARTICIPANT_EXISTS);
    assert_fixture_balances(f->e);
}

/* Names must be 1..140 bytes without control characters (NAME_INVALID); UTF-8 is fine. */
static void test_name_invalid(void **state) {
    struct fx *f = *state;
    static const char *const bad[] = {"", "Bad\x01name", "Tab\tname", "Del\x7f", "New\nline"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fx_rc(f, tu_participant(fx_t(f), "ATFBKZKA", bad[i], ORTAK_ROLE_BANK)), ORTAK_NAME_INVALID);
    struct ortak_cmd c = tu_participant(fx_t(f), "ATFBKZKA", "", ORTAK_ROLE_BANK);
    memset(c.u.participant_create.name, 'N', sizeof c.u.participant_create.name); /* 141 bytes, no NUL */
    assert_int_equal(fx_rc(f, c), ORTAK_NAME_INVALID);
    assert_int_equal(ortak_ledger_participant_count(fx_ledger(f)), 6);
    c.timestamp = fx_t(f);
    c.u.participant_create.name[ORTAK_NAME_LEN_LIMIT] = '\0'; /* exactly 140 bytes */
    fx_ok(f, c);
    fx_ok(f, tu_participant(fx_t(f), "KZKOKZKX", "\xd0\x9a\xd0\xb0\xd0\xb7\xd0\xba\xd0\xbe\xd0\xbc", ORTAK_ROLE_BANK));
    assert_int_equal(ortak_ledger_participant_count(fx_ledger(f)), 8);
    assert_fixture_balances(f->e);
}

/* An explicit country must be an assigned ISO 3166 alpha-2 code (COUNTRY_INVALID); "" takes the BIC's. */
static void test_country_invalid(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_rc(f, participant_in(f, "ATFBKZKA", "QQ")), ORTAK_COUNTRY_INVALID);
    assert_int_equal(fx_rc(f, participant_in(f, "ATFBKZKA", "kz")), ORTAK_COUNTRY_INVALID);
    assert_int_equal(fx_rc(f, participant_in(f, "ATFBKZKA", "K")), ORTAK_COUNTRY_INVALID);
    assert_int_equal(fx_rc(f, participant_in(f, "ATFBKZKA", "KZX")), ORTAK_COUNTRY_INVALID); /* no NUL */
    assert_int_equal(ortak_ledger_participant_count(fx_ledger(f)), 6);
    fx_ok(f, participant_in(f, "ATFBKZKA", "KZ"));
    fx_ok(f, participant_in(f, "KZKOKZKX", ""));
    struct ortak_participant_info p;
    assert_int_equal(ortak_ledger_participant_get(fx_ledger(f), "KZKOKZKX", &p), ORTAK_OK);
    assert_string_equal(p.country, "KZ");
    assert_fixture_balances(f->e);
}

/* Roles outside operator..fx_provider are ROLE_INVALID. */
static void test_role_invalid(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_rc(f, tu_participant(fx_t(f), "ATFBKZKA", "ATF", 0)), ORTAK_ROLE_INVALID);
    assert_int_equal(fx_rc(f, tu_participant(fx_t(f), "ATFBKZKA", "ATF", ORTAK_ROLE_FX_PROVIDER + 1)),
                     ORTAK_ROLE_INVALID);
    assert_int_equal(ortak_ledger_participant_count(fx_ledger(f)), 6);
    fx_ok(f, tu_participant(fx_t(f), "ATFBKZKA", "ATF", ORTAK_ROLE_FX_PROVIDER));
    assert_fixture_balances(f->e);
}

/* A second admission of a BIC is PARTICIPANT_EXISTS, whatever its other fields; the first stays as it was. */
static void test_participant_exists(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_rc(f, tu_participant(fx_t(f), BANK_B, "Other", ORTAK_ROLE_FX_PROVIDER)),
                     ORTAK_PARTICIPANT_EXISTS);
    struct ortak_participant_info p;
    assert_int_equal(ortak_ledger_participant_get(fx_ledger(f), BANK_B, &p), ORTAK_OK);
    assert_string_equal(p.name, "Kaspi Bank");
    assert_int_equal(p.role, ORTAK_ROLE_BANK);
    assert_int_equal(ortak_ledger_participant_count(fx_ledger(f)), 6);
    assert_fixture_balances(f->e);
}

/* Unknown BICs are PARTICIPANT_NOT_FOUND for status changes, account creation and queries. */
static void test_participant_not_found(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_rc(f, tu_status(fx_t(f), "ATFBKZKA", ORTAK_PARTICIPANT_SUSPENDED)),
                     ORTAK_PARTICIPANT_NOT_FOUND);
    assert_int_equal(fx_rc(f, tu_account(fx_t(f), 50, "ATFBKZKA", "KZT", ORTAK_ACCOUNT_SETTLEMENT)),
                     ORTAK_PARTICIPANT_NOT_FOUND);
    struct ortak_participant_info p;
    assert_int_equal(ortak_ledger_participant_get(fx_ledger(f), "ATFBKZKA", &p), ORTAK_PARTICIPANT_NOT_FOUND);
    struct ortak_account_info a;
    assert_int_equal(ortak_ledger_account_find(fx_ledger(f), "ATFBKZKA", "KZT", ORTAK_ACCOUNT_SETTLEMENT, &a),
                     ORTAK_PARTICIPANT_NOT_FOUND);
    assert_int_equal(ortak_ledger_account_count(fx_ledger(f)), 6);
    assert_fixture_balances(f->e);
}

/* Statuses outside active..closed are STATUS_INVALID, and so is any change after closing (closed is final). */
static void test_status_invalid(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_rc(f, tu_status(fx_t(f), BANK_C, 0)), ORTAK_STATUS_INVALID);
    assert_int_equal(fx_rc(f, tu_status(fx_t(f), BANK_C, ORTAK_PARTICIPANT_CLOSED + 1)), ORTAK_STATUS_INVALID);
    fx_ok(f, tu_status(fx_t(f), BANK_C, ORTAK_PARTICIPANT_CLOSED));
    assert_int_equal(fx_rc(f, tu_status(fx_t(f), BANK_C, ORTAK_PARTICIPANT_ACTIVE)), ORTAK_STATUS_INVALID);
    assert_int_equal(fx_rc(f, tu_status(fx_t(f), BANK_C, ORTAK_PARTICIPANT_SUSPENDED)), ORTAK_STATUS_INVALID);
    assert_int_equal(fx_rc(f, tu_status(fx_t(f), BANK_C, ORTAK_PARTICIPANT_CLOSED)), ORTAK_STATUS_INVALID);
    struct ortak_participant_info p;
    assert_int_equal(ortak_ledger_participant_get(fx_ledger(f), BANK_C, &p), ORTAK_OK);
    assert_int_equal(p.status, ORTAK_PARTICIPANT_CLOSED);
    /* A closed participant's accounts take no transfers. */
    assert_int_equal(fx_xfer(f, 11, ACC_A, ACC_C, 100), ORTAK_PARTICIPANT_NOT_ACTIVE);
    assert_fixture_balances(f->e);
}

/* A suspended participant can neither pay nor be paid nor open accounts (PARTICIPANT_NOT_ACTIVE); reactivated,
 * it can again. The refusals are recorded outcomes. */
static void test_suspended_participant(void **state) {
    struct fx *f = *state;
    fx_ok(f, tu_status(fx_t(f), BANK_A, ORTAK_PARTICIPANT_SUSPENDED));
    uint32_t n;
    const struct ortak_event *ev = fx_events(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].kind, ORTAK_EV_PARTICIPANT_STATUS);
    assert_int_equal(ev[0].status, ORTAK_PARTICIPANT_SUSPENDED);
    assert_int_equal(fx_xfer(f, 11, ACC_A, ACC_B, 100), ORTAK_PARTICIPANT_NOT_ACTIVE);
    assert_int_equal(fx_xfer(f, 12, ACC_B, ACC_A, 100), ORTAK_PARTICIPANT_NOT_ACTIVE);
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 13, ACC_B, ACC_A, 100, 0)), ORTAK_PARTICIPANT_NOT_ACTIVE);
    assert_int_equal(fx_rc(f, tu_account(fx_t(f), 50, BANK_A, "KZT", ORTAK_ACCOUNT_COLLATERAL)),
                     ORTAK_PARTICIPANT_NOT_ACTIVE);
    assert_int_equal(fx_transfer(f, 11).rc, ORTAK_PARTICIPANT_NOT_ACTIVE);
    assert_int_equal(fx_transfer(f, 11).amount_booked, 0);
    assert_fixture_balances(f->e);
    fx_ok(f, tu_status(fx_t(f), BANK_A, ORTAK_PARTICIPANT_ACTIVE));
    assert_int_equal(fx_xfer(f, 14, ACC_A, ACC_B, 100), ORTAK_OK);
    assert_balances(f->e, ACC_A, 100, FUND_A, 0, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B + 100, 0, 0);
    assert_not_recorded(f, 15);
}

/* ---- accounts ---------------------------------------------------------------------------------------------- */

/* Account ids 0 and all ones are ACCOUNT_ID_INVALID wherever an account id is taken. */
static void test_account_id_invalid(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_rc(f, tu_account(fx_t(f), 0, BANK_A, "KZT", ORTAK_ACCOUNT_COLLATERAL)),
                     ORTAK_ACCOUNT_ID_INVALID);
    assert_int_equal(fx_rc(f, tu_account(fx_t(f), ORTAK_U128_MAX, BANK_A, "KZT", ORTAK_ACCOUNT_COLLATERAL)),
                     ORTAK_ACCOUNT_ID_INVALID);
    assert_int_equal(fx_xfer(f, 11, 0, ACC_B, 100), ORTAK_ACCOUNT_ID_INVALID);
    assert_int_equal(fx_xfer(f, 12, ACC_A, ORTAK_U128_MAX, 100), ORTAK_ACCOUNT_ID_INVALID);
    assert_int_equal(fx_rc(f, tu_account_amount(fx_t(f), ORTAK_CMD_ACCOUNT_CLOSE, 0, 0)), ORTAK_ACCOUNT_ID_INVALID);
    assert_int_equal(fx_rc(f, tu_account_amount(fx_t(f), ORTAK_CMD_CREDIT_LINE_SET, ORTAK_U128_MAX, 5)),
                     ORTAK_ACCOUNT_ID_INVALID);
    assert_int_equal(fx_rc(f, tu_account_amount(fx_t(f), ORTAK_CMD_RESERVE_SET, 0, 5)), ORTAK_ACCOUNT_ID_INVALID);
    assert_int_equal(fx_transfer(f, 11).rc, ORTAK_ACCOUNT_ID_INVALID); /* a refusal of the transfer: recorded */
    assert_int_equal(ortak_ledger_account_count(fx_ledger(f)), 6);
    assert_fixture_balances(f->e);
}

/* Kinds outside settlement..issuance are ACCOUNT_KIND_INVALID. */
static void test_account_kind_invalid(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_rc(f, tu_account(fx_t(f), 50, BANK_A, "KZT", 0)), ORTAK_ACCOUNT_KIND_INVALID);
    assert_int_equal(fx_rc(f, tu_account(fx_t(f), 50, BANK_A, "KZT", ORTAK_ACCOUNT_ISSUANCE + 1)),
                     ORTAK_ACCOUNT_KIND_INVALID);
    assert_int_equal(ortak_ledger_account_count(fx_ledger(f)), 6);
    assert_fixture_balances(f->e);
}

/* Re-creating an account with the same fields is ACCOUNT_EXISTS, with any field different
 * ACCOUNT_EXISTS_DIFFERENT; neither touches the account or emits an event. */
static void test_account_exists(void **state) {
    struct fx *f = *state;
    uint32_t n;
    assert_int_equal(fx_rc(f, tu_account(fx_t(f), ACC_A, BANK_A, "KZT", ORTAK_ACCOUNT_SETTLEMENT)),
                     ORTAK_ACCOUNT_EXISTS);
    fx_events(f, &n);
    assert_int_equal(n, 0);
    assert_int_equal(fx_rc(f, tu_account(fx_t(f), ACC_A, BANK_A, "KZT", ORTAK_ACCOUNT_COLLATERAL)),
                     ORTAK_ACCOUNT_EXISTS_DIFFERENT);
    assert_int_equal(fx_rc(f, tu_account(fx_t(f), ACC_A, BANK_A, "AZN", ORTAK_ACCOUNT_SETTLEMENT)),
                     ORTAK_ACCOUNT_EXISTS_DIFFERENT);
    assert_int_equal(fx_rc(f, tu_account(fx_t(f), ACC_A, BANK_B, "KZT", ORTAK_ACCOUNT_SETTLEMENT)),
                     ORTAK_ACCOUNT_EXISTS_DIFFERENT);
    fx_events(f, &n);
    assert_int_equal(n, 0);
    assert_int_equal(ortak_ledger_account_count(fx_ledger(f)), 6);
    assert_fixture_balances(f->e);
}

/* One account per participant, currency and kind: a second one under a new id is ACCOUNT_KIND_TAKEN. */
static void test_account_kind_taken(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_rc(f, tu_account(fx_t(f), 50, BANK_A, "KZT", ORTAK_ACCOUNT_SETTLEMENT)),
                     ORTAK_ACCOUNT_KIND_TAKEN);
    assert_int_equal(fx_rc(f, tu_account(fx_t(f), 51, CB_KZ, "KZT", ORTAK_ACCOUNT_ISSUANCE)), ORTAK_ACCOUNT_KIND_TAKEN);
    assert_int_equal(ortak_ledger_account_count(fx_ledger(f)), 6);
    /* Another kind or another currency is a different slot. */
    fx_ok(f, tu_account(fx_t(f), 50, BANK_A, "KZT", ORTAK_ACCOUNT_COLLATERAL));
    uint32_t n;
    const struct ortak_event *ev = fx_events(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].kind, ORTAK_EV_ACCOUNT_CREATED);
    assert_true(ev[0].id == 50);
    fx_ok(f, tu_account(fx_t(f), 52, BANK_A, "AZN", ORTAK_ACCOUNT_SETTLEMENT));
    assert_balances(f->e, 50, 0, 0, 0, 0);
    assert_balances(f->e, 52, 0, 0, 0, 0);
    assert_fixture_balances(f->e);
}

/* Ids never created are ACCOUNT_NOT_FOUND for transfers (either side), close, credit line, reserve and queries. */
static void test_account_not_found(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_xfer(f, 11, ACC_A, ACC_NONE, 100), ORTAK_ACCOUNT_NOT_FOUND);
    assert_int_equal(fx_xfer(f, 12, ACC_NONE, ACC_A, 100), ORTAK_ACCOUNT_NOT_FOUND);
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 13, ACC_A, ACC_NONE, 100, 5)), ORTAK_ACCOUNT_NOT_FOUND);
    assert_int_equal(fx_rc(f, tu_account_amount(fx_t(f), ORTAK_CMD_ACCOUNT_CLOSE, ACC_NONE, 0)),
                     ORTAK_ACCOUNT_NOT_FOUND);
    assert_int_equal(fx_rc(f, tu_account_amount(fx_t(f), ORTAK_CMD_CREDIT_LINE_SET, ACC_NONE, 5)),
                     ORTAK_ACCOUNT_NOT_FOUND);
    assert_int_equal(fx_rc(f, tu_account_amount(fx_t(f), ORTAK_CMD_RESERVE_SET, ACC_NONE, 5)), ORTAK_ACCOUNT_NOT_FOUND);
    struct ortak_account_info a;
    assert_int_equal(ortak_ledger_account_get(fx_ledger(f), ACC_NONE, &a), ORTAK_ACCOUNT_NOT_FOUND);
    assert_int_equal(fx_transfer(f, 12).rc, ORTAK_ACCOUNT_NOT_FOUND);
    assert_fixture_balances(f->e);
}

/* An empty account closes (event ACCOUNT_CLOSED); afterwards everything that would touch it is ACCOUNT_CLOSED. */
static void test_account_closed(void **state) {
    struct fx *f = *state;
    fx_ok(f, tu_account_amount(fx_t(f), ORTAK_CMD_ACCOUNT_CLOSE, ACC_C, 0));
    uint32_t n;
    const struct ortak_event *ev = fx_events(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].kind, ORTAK_EV_ACCOUNT_CLOSED);
    assert_true(ev[0].id == ACC_C);
    assert_int_equal(tu_account_info(f->e, ACC_C).status, ORTAK_ACCOUNT_STATUS_CLOSED);
    assert_int_equal(fx_xfer(f, 11, ACC_A, ACC_C, 100), ORTAK_ACCOUNT_CLOSED);
    assert_int_equal(fx_xfer(f, 12, ACC_C, ACC_A, 100), ORTAK_ACCOUNT_CLOSED);
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 13, ACC_A, ACC_C, 100, 0)), ORTAK_ACCOUNT_CLOSED);
    assert_int_equal(fx_rc(f, tu_account_amount(fx_t(f), ORTAK_CMD_ACCOUNT_CLOSE, ACC_C, 0)), ORTAK_ACCOUNT_CLOSED);
    assert_int_equal(fx_rc(f, tu_account_amount(fx_t(f), ORTAK_CMD_CREDIT_LINE_SET, ACC_C, 10)), ORTAK_ACCOUNT_CLOSED);
    assert_int_equal(fx_rc(f, tu_account_amount(fx_t(f), ORTAK_CMD_RESERVE_SET, ACC_C, 10)), ORTAK_ACCOUNT_CLOSED);
    assert_int_equal(fx_transfer(f, 11).rc, ORTAK_ACCOUNT_CLOSED);
    assert_fixture_balances(f->e);
    assert_int_equal(tu_account_info(f->e, ACC_C).credit_line, 0);
}

/* An account closes only when balance, both pending totals, credit line and reservation are all zero. */
static void test_account_not_empty(void **state) {
    struct fx *f = *state;
    struct ortak_cmd close_c = tu_account_amount(0, ORTAK_CMD_ACCOUNT_CLOSE, ACC_C, 0);
    assert_int_equal(fx_rc(f, tu_account_amount(fx_t(f), ORTAK_CMD_ACCOUNT_CLOSE, ACC_A, 0)), ORTAK_ACCOUNT_NOT_EMPTY);
    assert_int_equal(fx_rc(f, tu_account_amount(fx_t(f), ORTAK_CMD_ACCOUNT_CLOSE, ACC_ISS, 0)),
                     ORTAK_ACCOUNT_NOT_EMPTY); /* negative balance */
    fx_ok(f, tu_account_amount(fx_t(f), ORTAK_CMD_CREDIT_LINE_SET, ACC_C, 10));
    close_c.timestamp = fx_t(f);
    assert_int_equal(fx_rc(f, close_c), ORTAK_ACCOUNT_NOT_EMPTY); /* credit line */
    fx_ok(f, tu_account_amount(fx_t(f), ORTAK_CMD_CREDIT_LINE_SET, ACC_C, 0));
    fx_ok(f, tu_account_amount(fx_t(f), ORTAK_CMD_RESERVE_SET, ACC_C, 10));
    close_c.timestamp = fx_t(f);
    assert_int_equal(fx_rc(f, close_c), ORTAK_ACCOUNT_NOT_EMPTY); /* reservation */
    fx_ok(f, tu_account_amount(fx_t(f), ORTAK_CMD_RESERVE_SET, ACC_C, 0));
    fx_ok(f, tu_pending(fx_t(f), 11, ACC_A, ACC_C, 300, 0));
    close_c.timestamp = fx_t(f);
    assert_int_equal(fx_rc(f, close_c), ORTAK_ACCOUNT_NOT_EMPTY); /* credits pending */
    assert_balances(f->e, ACC_C, 0, 0, 0, 300);
    assert_balances(f->e, ACC_A, 0, FUND_A, 300, 0);
    fx_ok(f, tu_resolve(fx_t(f), 12, 11, 0, ORTAK_TRANSFER_POST_PENDING));
    close_c.timestamp = fx_t(f);
    assert_int_equal(fx_rc(f, close_c), ORTAK_ACCOUNT_NOT_EMPTY); /* balance */
    assert_int_equal(fx_xfer(f, 13, ACC_C, ACC_A, 300), ORTAK_OK);
    close_c.timestamp = fx_t(f);
    fx_ok(f, close_c); /* zero balance with turnover is empty */
    assert_balances(f->e, ACC_C, 300, 300, 0, 0);
    assert_int_equal(tu_account_info(f->e, ACC_C).status, ORTAK_ACCOUNT_STATUS_CLOSED);
    assert_balances(f->e, ACC_A, 300, FUND_A + 300, 0, 0);
}

/* Only the currency's settlement agent (its configured BIC admitted as a central bank) may hold its issuance
 * account: anyone else is ISSUANCE_NOT_AGENT. */
static void test_issuance_not_agent(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_rc(f, tu_account(fx_t(f), 50, BANK_A, "KZT", ORTAK_ACCOUNT_ISSUANCE)),
                     ORTAK_ISSUANCE_NOT_AGENT);
    assert_int_equal(fx_rc(f, tu_account(fx_t(f), 50, CB_KZ, "AZN", ORTAK_ACCOUNT_ISSUANCE)), /* another's currency */
                     ORTAK_ISSUANCE_NOT_AGENT);
    /* The KGS agent's BIC admitted as a bank does not become the agent. */
    fx_ok(f, tu_participant(fx_t(f), "NBKRKG22", "National Bank of the Kyrgyz Republic", ORTAK_ROLE_BANK));
    assert_int_equal(fx_rc(f, tu_account(fx_t(f), 50, "NBKRKG22", "KGS", ORTAK_ACCOUNT_ISSUANCE)),
                     ORTAK_ISSUANCE_NOT_AGENT);
    struct ortak_currency_info cur;
    assert_int_equal(ortak_ledger_currency_get(fx_ledger(f), "KGS", &cur), ORTAK_OK);
    assert_int_equal(cur.agent, -1);
    assert_int_equal(ortak_ledger_account_count(fx_ledger(f)), 6);
    /* Admitted as a central bank, through its BIC11 form, it does. */
    fx_ok(f, tu_participant(fx_t(f), "CBUZUZ22XXX", "Central Bank of Uzbekistan", ORTAK_ROLE_CENTRAL_BANK));
    fx_ok(f, tu_account(fx_t(f), 50, "CBUZUZ22", "UZS", ORTAK_ACCOUNT_ISSUANCE));
    assert_int_equal(ortak_ledger_currency_get(fx_ledger(f), "UZS", &cur), ORTAK_OK);
    assert_int_equal(cur.agent, 7);
    assert_balances(f->e, 50, 0, 0, 0, 0);
    assert_fixture_balances(f->e);
}

/* Currencies not in the configuration (or not spelt as configured) are CURRENCY_UNKNOWN. */
static void test_currency_unknown(void **state) {
    struct fx *f = *state;
    static const char *const bad[] = {"USD", "kzt", "", "KZ", "EUR"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fx_rc(f, tu_account(fx_t(f), 50, BANK_A, bad[i], ORTAK_ACCOUNT_SETTLEMENT)),
                         ORTAK_CURRENCY_UNKNOWN);
    struct ortak_currency_info cur;
    assert_int_equal(ortak_ledger_currency_get(fx_ledger(f), "USD", &cur), ORTAK_CURRENCY_UNKNOWN);
    struct ortak_account_info a;
    assert_int_equal(ortak_ledger_account_find(fx_ledger(f), BANK_A, "USD", ORTAK_ACCOUNT_SETTLEMENT, &a),
                     ORTAK_CURRENCY_UNKNOWN);
    assert_int_equal(ortak_ledger_currency_count(fx_ledger(f)), 7);
    assert_int_equal(ortak_ledger_account_count(fx_ledger(f)), 6);
    assert_fixture_balances(f->e);
}

/* An issuance account has no floor: it pays out with any balance and goes further negative. */
static void test_issuance_goes_negative(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_xfer(f, 11, ACC_ISS, ACC_C, 5000), ORTAK_OK);
    assert_int_equal(fx_xfer(f, 12, ACC_ISS, ACC_C, ORTAK_AMOUNT_MAX), ORTAK_OK);
    assert_balances(f->e, ACC_ISS, (ortak_i128)FUND_A + FUND_B + 5000 + (ortak_i128)ORTAK_AMOUNT_MAX, 0, 0, 0);
    assert_balances(f->e, ACC_C, 0, 5000 + (ortak_i128)ORTAK_AMOUNT_MAX, 0, 0);
    /* Money returns to the issuance account like to any other. */
    assert_int_equal(fx_xfer(f, 13, ACC_C, ACC_ISS, 5000), ORTAK_OK);
    assert_balances(f->e, ACC_ISS, (ortak_i128)FUND_A + FUND_B + 5000 + (ortak_i128)ORTAK_AMOUNT_MAX, 5000, 0, 0);
}

/* A settlement account without a credit line pays exactly its balance and not one unit more
 * (INSUFFICIENT_FUNDS, recorded, nothing moved). */
static void test_insufficient_funds(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_xfer(f, 11, ACC_A, ACC_B, FUND_A + 1), ORTAK_INSUFFICIENT_FUNDS);
    assert_int_equal(fx_xfer(f, 12, ACC_C, ACC_B, 1), ORTAK_INSUFFICIENT_FUNDS);
    assert_fixture_balances(f->e);
    struct ortak_transfer_info info = fx_transfer(f, 11);
    assert_int_equal(info.rc, ORTAK_INSUFFICIENT_FUNDS);
    assert_int_equal(info.amount_booked, 0);
    uint32_t n;
    fx_events(f, &n);
    assert_int_equal(n, 0);
    assert_int_equal(fx_xfer(f, 13, ACC_A, ACC_B, FUND_A), ORTAK_OK);
    assert_balances(f->e, ACC_A, FUND_A, FUND_A, 0, 0);
    assert_available(f->e, ACC_A, 0);
    assert_int_equal(fx_xfer(f, 14, ACC_A, ACC_B, 1), ORTAK_INSUFFICIENT_FUNDS);
    assert_balances(f->e, ACC_A, FUND_A, FUND_A, 0, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B + FUND_A, 0, 0);
}

/* A collateral account's floor is zero: it pays what it holds, no more. */
static void test_collateral_floor(void **state) {
    struct fx *f = *state;
    fx_ok(f, tu_account(fx_t(f), 50, BANK_A, "KZT", ORTAK_ACCOUNT_COLLATERAL));
    assert_int_equal(fx_xfer(f, 11, ACC_A, 50, 1000), ORTAK_OK);
    assert_int_equal(fx_xfer(f, 12, 50, ACC_B, 1001), ORTAK_INSUFFICIENT_FUNDS);
    assert_balances(f->e, 50, 0, 1000, 0, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B, 0, 0);
    assert_int_equal(fx_xfer(f, 13, 50, ACC_B, 1000), ORTAK_OK);
    assert_balances(f->e, 50, 1000, 1000, 0, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B + 1000, 0, 0);
}

/* ---- transfer fields and check order ----------------------------------------------------------------------- */

/* Transfer ids 0 and all ones are TRANSFER_ID_INVALID and, saying nothing about a transfer, are not recorded. */
static void test_transfer_id_invalid(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_xfer(f, 0, ACC_A, ACC_B, 100), ORTAK_TRANSFER_ID_INVALID);
    assert_int_equal(fx_xfer(f, ORTAK_U128_MAX, ACC_A, ACC_B, 100), ORTAK_TRANSFER_ID_INVALID);
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 0, ACC_A, ACC_B, 100, 0)), ORTAK_TRANSFER_ID_INVALID);
    assert_int_equal(ortak_ledger_transfer_count(fx_ledger(f)), 3);
    assert_not_recorded(f, ORTAK_U128_MAX);
    assert_fixture_balances(f->e);
}

/* Unknown flag bits, or more than one of pending/post/void, are FLAGS_INVALID. */
static void test_flags_invalid(void **state) {
    struct fx *f = *state;
    static const uint16_t bad[] = {
        0x20,
        0x8000,
        ORTAK_TRANSFER_PENDING | ORTAK_TRANSFER_POST_PENDING,
        ORTAK_TRANSFER_PENDING | ORTAK_TRANSFER_VOID_PENDING,
        ORTAK_TRANSFER_POST_PENDING | ORTAK_TRANSFER_VOID_PENDING,
        ORTAK_TRANSFER_PENDING | ORTAK_TRANSFER_POST_PENDING | ORTAK_TRANSFER_VOID_PENDING,
    };
    for (uint16_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ortak_cmd c = tu_transfer(fx_t(f), 20u + i, ACC_A, ACC_B, 100, bad[i]);
        c.u.transfer.pending_id = 9001;
        assert_int_equal(fx_rc(f, c), ORTAK_FLAGS_INVALID);
        assert_int_equal(fx_transfer(f, 20u + i).rc, ORTAK_FLAGS_INVALID);
    }
    assert_fixture_balances(f->e);
}

/* pending_id must be set exactly on post and void (PENDING_ID_INVALID otherwise). */
static void test_pending_id_invalid(void **state) {
    struct fx *f = *state;
    struct ortak_cmd c = tu_transfer(fx_t(f), 11, ACC_A, ACC_B, 100, 0);
    c.u.transfer.pending_id = 9001;
    assert_int_equal(fx_rc(f, c), ORTAK_PENDING_ID_INVALID);
    c = tu_pending(fx_t(f), 12, ACC_A, ACC_B, 100, 0);
    c.u.transfer.pending_id = 9001;
    assert_int_equal(fx_rc(f, c), ORTAK_PENDING_ID_INVALID);
    assert_int_equal(fx_rc(f, tu_resolve(fx_t(f), 13, 0, 0, ORTAK_TRANSFER_POST_PENDING)), ORTAK_PENDING_ID_INVALID);
    assert_int_equal(fx_rc(f, tu_resolve(fx_t(f), 14, ORTAK_U128_MAX, 0, ORTAK_TRANSFER_VOID_PENDING)),
                     ORTAK_PENDING_ID_INVALID);
    assert_int_equal(fx_transfer(f, 13).rc, ORTAK_PENDING_ID_INVALID);
    assert_fixture_balances(f->e);
}

/* A timeout on anything but a pending transfer, or one whose expiry time overflows, is TIMEOUT_INVALID. */
static void test_timeout_invalid(void **state) {
    struct fx *f = *state;
    struct ortak_cmd c = tu_transfer(fx_t(f), 11, ACC_A, ACC_B, 100, 0);
    c.u.transfer.timeout_s = 5;
    assert_int_equal(fx_rc(f, c), ORTAK_TIMEOUT_INVALID);
    fx_ok(f, tu_pending(fx_t(f), 12, ACC_A, ACC_B, 100, 0));
    c = tu_resolve(fx_t(f), 13, 12, 0, ORTAK_TRANSFER_POST_PENDING);
    c.u.transfer.timeout_s = 5;
    assert_int_equal(fx_rc(f, c), ORTAK_TIMEOUT_INVALID);
    assert_balances(f->e, ACC_A, 0, FUND_A, 100, 0);
    /* Near the end of time, now + timeout_s must still fit 64 bits. */
    f->now = UINT64_MAX - 10 * ORTAK_NS_PER_S;
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 14, ACC_A, ACC_B, 100, 10)), ORTAK_TIMEOUT_INVALID);
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 15, ACC_A, ACC_B, 100, UINT32_MAX)), ORTAK_TIMEOUT_INVALID);
    assert_int_equal(fx_transfer(f, 14).rc, ORTAK_TIMEOUT_INVALID);
    assert_balances(f->e, ACC_A, 0, FUND_A, 100, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B, 0, 100);
    fx_ok(f, tu_pending(fx_t(f), 16, ACC_A, ACC_B, 100, 7)); /* expires at UINT64_MAX */
    assert_balances(f->e, ACC_A, 0, FUND_A, 200, 0);
}

/* Amount 0 is AMOUNT_ZERO for plain and pending transfers (not for post and void). */
static void test_amount_zero(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_xfer(f, 11, ACC_A, ACC_B, 0), ORTAK_AMOUNT_ZERO);
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 12, ACC_A, ACC_B, 0, 5)), ORTAK_AMOUNT_ZERO);
    assert_int_equal(fx_xfer(f, 13, ACC_ISS, ACC_B, 0), ORTAK_AMOUNT_ZERO);
    assert_int_equal(fx_transfer(f, 11).rc, ORTAK_AMOUNT_ZERO);
    assert_fixture_balances(f->e);
}

/* Amounts above 2^63 - 1 are AMOUNT_OVERFLOW, for every kind of transfer; 2^63 - 1 itself is fine. */
static void test_amount_overflow(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_xfer(f, 11, ACC_ISS, ACC_B, ORTAK_AMOUNT_MAX + 1), ORTAK_AMOUNT_OVERFLOW);
    assert_int_equal(fx_xfer(f, 12, ACC_ISS, ACC_B, UINT64_MAX), ORTAK_AMOUNT_OVERFLOW);
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 13, ACC_ISS, ACC_B, UINT64_MAX, 0)), ORTAK_AMOUNT_OVERFLOW);
    fx_ok(f, tu_pending(fx_t(f), 14, ACC_A, ACC_B, 100, 0));
    assert_int_equal(fx_rc(f, tu_resolve(fx_t(f), 15, 14, ORTAK_AMOUNT_MAX + 1, ORTAK_TRANSFER_POST_PENDING)),
                     ORTAK_AMOUNT_OVERFLOW);
    assert_int_equal(fx_transfer(f, 12).rc, ORTAK_AMOUNT_OVERFLOW);
    assert_balances(f->e, ACC_ISS, FUND_A + FUND_B, 0, 0, 0);
    assert_balances(f->e, ACC_A, 0, FUND_A, 100, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B, 0, 100);
    assert_int_equal(fx_xfer(f, 16, ACC_ISS, ACC_B, ORTAK_AMOUNT_MAX), ORTAK_OK);
    assert_balances(f->e, ACC_B, 0, FUND_B + (ortak_i128)ORTAK_AMOUNT_MAX, 0, 100);
}

/* Debit and credit the same account: SAME_ACCOUNT. */
static void test_same_account(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_xfer(f, 11, ACC_A, ACC_A, 100), ORTAK_SAME_ACCOUNT);
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 12, ACC_ISS, ACC_ISS, 100, 0)), ORTAK_SAME_ACCOUNT);
    assert_int_equal(fx_transfer(f, 11).rc, ORTAK_SAME_ACCOUNT);
    assert_fixture_balances(f->e);
}

/* Accounts in different currencies: CURRENCY_MISMATCH, in either direction. */
static void test_currency_mismatch(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_xfer(f, 11, ACC_A, ACC_AZN, 100), ORTAK_CURRENCY_MISMATCH);
    assert_int_equal(fx_xfer(f, 12, ACC_AZN, ACC_A, 100), ORTAK_CURRENCY_MISMATCH);
    assert_int_equal(fx_xfer(f, 13, ACC_ISS_AZN, ACC_B, 100), ORTAK_CURRENCY_MISMATCH);
    assert_int_equal(fx_transfer(f, 12).rc, ORTAK_CURRENCY_MISMATCH);
    assert_fixture_balances(f->e);
}

/* When several checks fail, the first in the documented order gives the code. */
static void test_check_order(void **state) {
    struct fx *f = *state;
    struct ortak_cmd c = tu_transfer(fx_t(f), 0, 0, 0, 0, 0x20); /* everything wrong */
    assert_int_equal(fx_rc(f, c), ORTAK_TRANSFER_ID_INVALID);
    c = tu_transfer(fx_t(f), 9001, 0, 0, 0, 0x20);
    assert_int_equal(fx_rc(f, c), ORTAK_TRANSFER_EXISTS_DIFFERENT);
    c = tu_transfer(fx_t(f), 11, ACC_A, ACC_A, 0, 0x20);
    c.u.transfer.pending_id = 5;
    assert_int_equal(fx_rc(f, c), ORTAK_FLAGS_INVALID);
    c = tu_transfer(fx_t(f), 12, ACC_A, ACC_A, 0, 0);
    c.u.transfer.pending_id = 5;
    c.u.transfer.timeout_s = 5;
    assert_int_equal(fx_rc(f, c), ORTAK_PENDING_ID_INVALID);
    c = tu_transfer(fx_t(f), 13, 0, ACC_A, 0, 0);
    c.u.transfer.timeout_s = 5;
    assert_int_equal(fx_rc(f, c), ORTAK_TIMEOUT_INVALID);
    assert_int_equal(fx_xfer(f, 14, 0, ACC_NONE, UINT64_MAX), ORTAK_AMOUNT_OVERFLOW);
    assert_int_equal(fx_xfer(f, 15, 0, ACC_NONE, 0), ORTAK_AMOUNT_ZERO);
    assert_int_equal(fx_xfer(f, 16, ACC_NONE, 0, 1), ORTAK_ACCOUNT_NOT_FOUND); /* debit resolved first */
    assert_int_equal(fx_xfer(f, 17, ACC_A, 0, 1), ORTAK_ACCOUNT_ID_INVALID);
    assert_int_equal(fx_xfer(f, 18, ACC_C, ACC_C, FUND_A), ORTAK_SAME_ACCOUNT);
    fx_ok(f, tu_account_amount(fx_t(f), ORTAK_CMD_ACCOUNT_CLOSE, ACC_C, 0));
    assert_int_equal(fx_xfer(f, 19, ACC_C, ACC_AZN, 1), ORTAK_CURRENCY_MISMATCH);
    fx_ok(f, tu_status(fx_t(f), BANK_C, ORTAK_PARTICIPANT_SUSPENDED));
    assert_int_equal(fx_xfer(f, 20, ACC_C, ACC_A, 1), ORTAK_ACCOUNT_CLOSED);
    fx_ok(f, tu_status(fx_t(f), BANK_B, ORTAK_PARTICIPANT_SUSPENDED));
    assert_int_equal(fx_xfer(f, 21, ACC_B, ACC_A, FUND_B + 1), ORTAK_PARTICIPANT_NOT_ACTIVE);
    assert_int_equal(ortak_ledger_transfer_count(fx_ledger(f)), 3 + 11);
    assert_fixture_balances(f->e);
}

/* ---- idempotency ------------------------------------------------------------------------------------------- */

/* Resubmitting a booked transfer with identical fields returns its outcome with REPLAYED, moves nothing, emits
 * nothing and records nothing, whenever it comes. */
static void test_replay_identical(void **state) {
    struct fx *f = *state;
    struct ortak_cmd c = tu_transfer(fx_t(f), 11, ACC_A, ACC_B, 500, 0);
    c.u.transfer.user_data = 99;
    const ortak_time_ns first = c.timestamp;
    struct ortak_result r = tu_apply1(f->e, &c);
    assert_int_equal(r.rc, ORTAK_OK);
    assert_int_equal(r.flags, 0);
    for (int k = 0; k < 2; k++) {
        c.timestamp = fx_t(f);
        r = tu_apply1(f->e, &c);
        assert_int_equal(r.rc, ORTAK_OK);
        assert_int_equal(r.flags, ORTAK_RESULT_REPLAYED);
        assert_int_equal(r.fail_index, UINT32_MAX);
        uint32_t n;
        fx_events(f, &n);
        assert_int_equal(n, 0);
    }
    assert_balances(f->e, ACC_A, 500, FUND_A, 0, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B + 500, 0, 0);
    assert_int_equal(ortak_ledger_transfer_count(fx_ledger(f)), 4);
    assert_int_equal(fx_transfer(f, 11).timestamp, first); /* the first submission's time */
}

/* The same id with any field different is TRANSFER_EXISTS_DIFFERENT; the recorded transfer is untouched. */
static void test_exists_different(void **state) {
    struct fx *f = *state;
    struct ortak_cmd orig = tu_transfer(fx_t(f), 11, ACC_A, ACC_B, 500, 0);
    fx_ok(f, orig);
    struct ortak_cmd v[7];
    for (int i = 0; i < 7; i++) v[i] = orig;
    v[0].u.transfer.amount = 501;
    v[1].u.transfer.credit_account_id = ACC_C;
    v[2].u.transfer.debit_account_id = ACC_B;
    v[3].u.transfer.user_data = 1;
    v[4].u.transfer.code = 1;
    v[5].u.transfer.flags = ORTAK_TRANSFER_USE_RESERVED;
    v[6].u.transfer.flags = ORTAK_TRANSFER_PENDING;
    for (int i = 0; i < 7; i++) {
        v[i].timestamp = fx_t(f);
        assert_int_equal(fx_rc(f, v[i]), ORTAK_TRANSFER_EXISTS_DIFFERENT);
    }
    /* A refused id is just as taken. */
    assert_int_equal(fx_xfer(f, 12, ACC_C, ACC_B, 10), ORTAK_INSUFFICIENT_FUNDS);
    assert_int_equal(fx_xfer(f, 12, ACC_A, ACC_B, 10), ORTAK_TRANSFER_EXISTS_DIFFERENT);
    struct ortak_transfer_info info = fx_transfer(f, 11);
    assert_int_equal(info.t.amount, 500);
    assert_true(info.t.credit_account_id == ACC_B);
    assert_int_equal(ortak_ledger_transfer_count(fx_ledger(f)), 5);
    assert_balances(f->e, ACC_A, 500, FUND_A, 0, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B + 500, 0, 0);
    assert_balances(f->e, ACC_C, 0, 0, 0, 0);
}

/* An id refused for insufficient funds stays refused after funds arrive: the retry is INSUFFICIENT_FUNDS with
 * REPLAYED and moves nothing; a new id with the same fields goes through. */
static void test_refused_stays_refused(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_xfer(f, 11, ACC_C, ACC_B, 1000), ORTAK_INSUFFICIENT_FUNDS);
    assert_int_equal(fx_xfer(f, 12, ACC_A, ACC_C, 5000), ORTAK_OK);
    struct ortak_cmd retry = tu_transfer(fx_t(f), 11, ACC_C, ACC_B, 1000, 0);
    struct ortak_result r = tu_apply1(f->e, &retry);
    assert_int_equal(r.rc, ORTAK_INSUFFICIENT_FUNDS);
    assert_int_equal(r.flags, ORTAK_RESULT_REPLAYED);
    assert_balances(f->e, ACC_C, 0, 5000, 0, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B, 0, 0);
    assert_int_equal(fx_xfer(f, 13, ACC_C, ACC_B, 1000), ORTAK_OK);
    assert_balances(f->e, ACC_C, 1000, 5000, 0, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B + 1000, 0, 0);
    /* Validation refusals replay the same way. */
    struct ortak_cmd zero = tu_transfer(fx_t(f), 14, ACC_A, ACC_B, 0, 0);
    assert_int_equal(fx_rc(f, zero), ORTAK_AMOUNT_ZERO);
    zero.timestamp = fx_t(f);
    r = tu_apply1(f->e, &zero);
    assert_int_equal(r.rc, ORTAK_AMOUNT_ZERO);
    assert_int_equal(r.flags, ORTAK_RESULT_REPLAYED);
}

/* ---- credit lines and reservations ------------------------------------------------------------------------- */

/* Sets an account's credit line or reservation at the next timestamp; returns the result code. */
static ortak_rc fx_set(struct fx *f, uint32_t kind, ortak_u128 account, int64_t amount) {
    return fx_rc(f, tu_account_amount(fx_t(f), kind, account, amount));
}

/* Asserts that the last apply emitted exactly one credit-line or reservation event with these amounts. */
static void assert_amount_event(const struct fx *f, uint32_t kind, ortak_u128 account, int64_t amount, int64_t old) {
    uint32_t n;
    const struct ortak_event *ev = fx_events(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].kind, kind);
    assert_true(ev[0].id == account);
    assert_int_equal(ev[0].amount, amount);
    assert_int_equal(ev[0].amount_old, old);
}

/* A credit line lets a settlement account go down to -credit_line and not below. */
static void test_credit_line_floor(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_set(f, ORTAK_CMD_CREDIT_LINE_SET, ACC_C, 5000), ORTAK_OK);
    assert_amount_event(f, ORTAK_EV_CREDIT_LINE_SET, ACC_C, 5000, 0);
    assert_int_equal(tu_account_info(f->e, ACC_C).credit_line, 5000);
    assert_available(f->e, ACC_C, 5000);
    assert_int_equal(fx_xfer(f, 11, ACC_C, ACC_B, 5001), ORTAK_INSUFFICIENT_FUNDS);
    assert_balances(f->e, ACC_C, 0, 0, 0, 0);
    assert_int_equal(fx_xfer(f, 12, ACC_C, ACC_B, 5000), ORTAK_OK);
    assert_balances(f->e, ACC_C, 5000, 0, 0, 0);
    assert_available(f->e, ACC_C, 0);
    assert_true(tu_account_info(f->e, ACC_C).balance == -5000);
    assert_int_equal(fx_xfer(f, 13, ACC_C, ACC_B, 1), ORTAK_INSUFFICIENT_FUNDS);
    assert_balances(f->e, ACC_C, 5000, 0, 0, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B + 5000, 0, 0);
}

/* A credit line cannot be lowered below what is drawn on it, holds included (CREDIT_LINE_IN_USE); down to
 * exactly the drawn amount it can. */
static void test_credit_line_in_use(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_set(f, ORTAK_CMD_CREDIT_LINE_SET, ACC_C, 5000), ORTAK_OK);
    assert_int_equal(fx_xfer(f, 11, ACC_C, ACC_B, 3000), ORTAK_OK);
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 12, ACC_C, ACC_B, 1000, 0)), ORTAK_OK);
    assert_int_equal(fx_set(f, ORTAK_CMD_CREDIT_LINE_SET, ACC_C, 3999), ORTAK_CREDIT_LINE_IN_USE);
    assert_int_equal(fx_set(f, ORTAK_CMD_CREDIT_LINE_SET, ACC_C, 0), ORTAK_CREDIT_LINE_IN_USE);
    uint32_t n;
    fx_events(f, &n);
    assert_int_equal(n, 0);
    assert_int_equal(tu_account_info(f->e, ACC_C).credit_line, 5000);
    assert_balances(f->e, ACC_C, 3000, 0, 1000, 0);
    assert_available(f->e, ACC_C, 1000);
    assert_int_equal(fx_set(f, ORTAK_CMD_CREDIT_LINE_SET, ACC_C, 4000), ORTAK_OK);
    assert_amount_event(f, ORTAK_EV_CREDIT_LINE_SET, ACC_C, 4000, 5000);
    assert_available(f->e, ACC_C, 0);
    /* Raising is always allowed. */
    assert_int_equal(fx_set(f, ORTAK_CMD_CREDIT_LINE_SET, ACC_C, INT64_MAX), ORTAK_OK);
    assert_balances(f->e, ACC_C, 3000, 0, 1000, 0);
}

/* Credit lines and reservations are absolute amounts >= 0: negative ones are NEGATIVE_AMOUNT. */
static void test_negative_amount(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_set(f, ORTAK_CMD_CREDIT_LINE_SET, ACC_A, -1), ORTAK_NEGATIVE_AMOUNT);
    assert_int_equal(fx_set(f, ORTAK_CMD_CREDIT_LINE_SET, ACC_A, INT64_MIN), ORTAK_NEGATIVE_AMOUNT);
    assert_int_equal(fx_set(f, ORTAK_CMD_RESERVE_SET, ACC_A, -1), ORTAK_NEGATIVE_AMOUNT);
    assert_int_equal(fx_set(f, ORTAK_CMD_RESERVE_SET, ACC_C, INT64_MIN), ORTAK_NEGATIVE_AMOUNT);
    struct ortak_account_info a = tu_account_info(f->e, ACC_A);
    assert_int_equal(a.credit_line, 0);
    assert_int_equal(a.reserved, 0);
    assert_available(f->e, ACC_A, FUND_A);
    assert_fixture_balances(f->e);
}

/* Credit lines and reservations exist only on settlement accounts (KIND_NOT_ALLOWED), checked before the sign. */
static void test_kind_not_allowed(void **state) {
    struct fx *f = *state;
    fx_ok(f, tu_account(fx_t(f), 50, BANK_A, "KZT", ORTAK_ACCOUNT_COLLATERAL));
    assert_int_equal(fx_set(f, ORTAK_CMD_CREDIT_LINE_SET, ACC_ISS, 100), ORTAK_KIND_NOT_ALLOWED);
    assert_int_equal(fx_set(f, ORTAK_CMD_CREDIT_LINE_SET, 50, 100), ORTAK_KIND_NOT_ALLOWED);
    assert_int_equal(fx_set(f, ORTAK_CMD_RESERVE_SET, ACC_ISS_AZN, 100), ORTAK_KIND_NOT_ALLOWED);
    assert_int_equal(fx_set(f, ORTAK_CMD_RESERVE_SET, 50, 100), ORTAK_KIND_NOT_ALLOWED);
    assert_int_equal(fx_set(f, ORTAK_CMD_CREDIT_LINE_SET, 50, -1), ORTAK_KIND_NOT_ALLOWED);
    assert_int_equal(tu_account_info(f->e, 50).credit_line, 0);
    assert_int_equal(tu_account_info(f->e, ACC_ISS).reserved, 0);
    assert_int_equal(fx_xfer(f, 11, 50, ACC_B, 1), ORTAK_INSUFFICIENT_FUNDS);
    assert_balances(f->e, 50, 0, 0, 0, 0);
    assert_fixture_balances(f->e);
}

/* Without USE_RESERVED a transfer cannot touch reserved liquidity; with it, it can. */
static void test_reservation(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_set(f, ORTAK_CMD_RESERVE_SET, ACC_A, 30000), ORTAK_OK);
    assert_amount_event(f, ORTAK_EV_RESERVE_SET, ACC_A, 30000, 0);
    assert_available(f->e, ACC_A, FUND_A - 30000);
    assert_int_equal(fx_xfer(f, 11, ACC_A, ACC_B, FUND_A - 30000 + 1), ORTAK_INSUFFICIENT_FUNDS);
    assert_balances(f->e, ACC_A, 0, FUND_A, 0, 0);
    assert_int_equal(fx_xfer(f, 12, ACC_A, ACC_B, FUND_A - 30000), ORTAK_OK);
    assert_balances(f->e, ACC_A, FUND_A - 30000, FUND_A, 0, 0);
    assert_available(f->e, ACC_A, 0);
    assert_int_equal(fx_xfer(f, 13, ACC_A, ACC_B, 1), ORTAK_INSUFFICIENT_FUNDS);
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 14, ACC_A, ACC_B, 1, 0)), ORTAK_INSUFFICIENT_FUNDS);
    assert_balances(f->e, ACC_A, FUND_A - 30000, FUND_A, 0, 0);
    /* Urgent: may use the reservation, but not beyond the floor. */
    assert_int_equal(fx_rc(f, tu_transfer(fx_t(f), 15, ACC_A, ACC_B, 30001, ORTAK_TRANSFER_USE_RESERVED)),
                     ORTAK_INSUFFICIENT_FUNDS);
    assert_int_equal(fx_rc(f, tu_transfer(fx_t(f), 16, ACC_A, ACC_B, 30000, ORTAK_TRANSFER_USE_RESERVED)), ORTAK_OK);
    assert_balances(f->e, ACC_A, FUND_A, FUND_A, 0, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B + FUND_A, 0, 0);
    /* The reservation now exceeds what the account holds; it fills as liquidity arrives. */
    assert_available(f->e, ACC_A, -30000);
    assert_int_equal(fx_xfer(f, 17, ACC_B, ACC_A, 40000), ORTAK_OK);
    assert_available(f->e, ACC_A, 10000);
    assert_int_equal(fx_xfer(f, 18, ACC_A, ACC_B, 10001), ORTAK_INSUFFICIENT_FUNDS);
    assert_int_equal(fx_set(f, ORTAK_CMD_RESERVE_SET, ACC_A, 0), ORTAK_OK);
    assert_amount_event(f, ORTAK_EV_RESERVE_SET, ACC_A, 0, 30000);
    assert_available(f->e, ACC_A, 40000);
}

/* A reservation and a credit line together: available = balance - debits_pending + credit_line - reserved. */
static void test_reservation_with_credit_line(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_set(f, ORTAK_CMD_CREDIT_LINE_SET, ACC_C, 8000), ORTAK_OK);
    assert_int_equal(fx_set(f, ORTAK_CMD_RESERVE_SET, ACC_C, 3000), ORTAK_OK);
    assert_available(f->e, ACC_C, 5000);
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 11, ACC_C, ACC_B, 2000, 0)), ORTAK_OK);
    assert_available(f->e, ACC_C, 3000);
    assert_int_equal(fx_xfer(f, 12, ACC_C, ACC_B, 3001), ORTAK_INSUFFICIENT_FUNDS);
    assert_int_equal(fx_rc(f, tu_transfer(fx_t(f), 13, ACC_C, ACC_B, 6001, ORTAK_TRANSFER_USE_RESERVED)),
                     ORTAK_INSUFFICIENT_FUNDS);
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 14, ACC_C, ACC_B, 6000, 0) /* no USE_RESERVED */),
                     ORTAK_INSUFFICIENT_FUNDS);
    struct ortak_cmd urgent = tu_pending(fx_t(f), 15, ACC_C, ACC_B, 6000, 0);
    urgent.u.transfer.flags |= ORTAK_TRANSFER_USE_RESERVED;
    assert_int_equal(fx_rc(f, urgent), ORTAK_OK);
    assert_balances(f->e, ACC_C, 0, 0, 8000, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B, 0, 8000);
    assert_available(f->e, ACC_C, -3000);
}

/* ---- pending transfers ------------------------------------------------------------------------------------- */

/* Creates the fixture's standard hold: transfer 11, A -> B, 2000, expiring after timeout_s (0 = never). */
static void fx_hold(struct fx *f, uint32_t timeout_s) {
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 11, ACC_A, ACC_B, 2000, timeout_s)), ORTAK_OK);
}

/* Posts (POST_PENDING) or voids (VOID_PENDING) `pending` with transfer `id` at the next timestamp. */
static ortak_rc fx_resolve(struct fx *f, ortak_u128 id, ortak_u128 pending, uint64_t amount, uint16_t flags) {
    return fx_rc(f, tu_resolve(fx_t(f), id, pending, amount, flags));
}

/* Asserts the only event of the last apply: its kind, ids and amount. */
static void assert_one_event(const struct fx *f, uint32_t kind, ortak_u128 id, ortak_u128 ref, int64_t amount) {
    uint32_t n;
    const struct ortak_event *ev = fx_events(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].kind, kind);
    assert_true(ev[0].id == id);
    assert_true(ev[0].ref == ref);
    assert_true(ev[0].debit_account_id == ACC_A && ev[0].credit_account_id == ACC_B);
    assert_int_equal(ev[0].amount, amount);
}

/* A pending transfer holds the amount: pending totals rise, available falls, nothing is posted. */
static void test_pending_holds(void **state) {
    struct fx *f = *state;
    fx_hold(f, 0);
    assert_one_event(f, ORTAK_EV_PENDING_CREATED, 11, 0, 2000);
    assert_balances(f->e, ACC_A, 0, FUND_A, 2000, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B, 0, 2000);
    assert_available(f->e, ACC_A, FUND_A - 2000);
    assert_available(f->e, ACC_B, FUND_B); /* incoming holds are not spendable */
    assert_int_equal(tu_account_info(f->e, ACC_A).pending_count, 1);
    struct ortak_transfer_info info = fx_transfer(f, 11);
    assert_int_equal(info.pending_state, ORTAK_PENDING_STATE_OPEN);
    assert_int_equal(info.amount_booked, 2000);
    /* The hold blocks what it holds. */
    assert_int_equal(fx_xfer(f, 12, ACC_A, ACC_C, FUND_A - 2000 + 1), ORTAK_INSUFFICIENT_FUNDS);
    assert_int_equal(fx_xfer(f, 13, ACC_B, ACC_C, FUND_B + 1), ORTAK_INSUFFICIENT_FUNDS);
    assert_balances(f->e, ACC_A, 0, FUND_A, 2000, 0);
    assert_balances(f->e, ACC_C, 0, 0, 0, 0);
}

/* Posting with amount 0 posts the whole hold. */
static void test_pending_post_full(void **state) {
    struct fx *f = *state;
    fx_hold(f, 60);
    assert_int_equal(fx_resolve(f, 12, 11, 0, ORTAK_TRANSFER_POST_PENDING), ORTAK_OK);
    assert_one_event(f, ORTAK_EV_PENDING_POSTED, 12, 11, 2000);
    assert_balances(f->e, ACC_A, 2000, FUND_A, 0, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B + 2000, 0, 0);
    assert_int_equal(tu_account_info(f->e, ACC_A).pending_count, 0);
    assert_int_equal(fx_transfer(f, 11).pending_state, ORTAK_PENDING_STATE_POSTED);
    assert_int_equal(fx_transfer(f, 12).amount_booked, 2000);
    /* A posted hold no longer expires. */
    fx_ok(f, tu_tick(f->now + 120 * ORTAK_NS_PER_S));
    uint32_t n;
    fx_events(f, &n);
    assert_int_equal(n, 0);
    assert_balances(f->e, ACC_A, 2000, FUND_A, 0, 0);
}

/* Posting part of a hold posts that part and releases the rest; the accounts may be named if they match. */
static void test_pending_post_partial(void **state) {
    struct fx *f = *state;
    fx_hold(f, 0);
    struct ortak_cmd c = tu_resolve(fx_t(f), 12, 11, 1500, ORTAK_TRANSFER_POST_PENDING);
    c.u.transfer.debit_account_id = ACC_A;
    c.u.transfer.credit_account_id = ACC_B;
    fx_ok(f, c);
    assert_one_event(f, ORTAK_EV_PENDING_POSTED, 12, 11, 1500);
    assert_balances(f->e, ACC_A, 1500, FUND_A, 0, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B + 1500, 0, 0);
    assert_available(f->e, ACC_A, FUND_A - 1500);
    assert_int_equal(fx_transfer(f, 12).amount_booked, 1500);
    assert_int_equal(fx_transfer(f, 11).amount_booked, 2000);
}

/* Voiding releases the whole hold (amount 0 or exactly the held amount). */
static void test_pending_void(void **state) {
    struct fx *f = *state;
    fx_hold(f, 0);
    assert_int_equal(fx_resolve(f, 12, 11, 0, ORTAK_TRANSFER_VOID_PENDING), ORTAK_OK);
    assert_one_event(f, ORTAK_EV_PENDING_VOIDED, 12, 11, 2000);
    assert_fixture_balances(f->e);
    assert_int_equal(fx_transfer(f, 11).pending_state, ORTAK_PENDING_STATE_VOIDED);
    assert_int_equal(tu_account_info(f->e, ACC_B).pending_count, 0);
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 13, ACC_A, ACC_B, 700, 0)), ORTAK_OK);
    assert_int_equal(fx_resolve(f, 14, 13, 700, ORTAK_TRANSFER_VOID_PENDING), ORTAK_OK);
    assert_fixture_balances(f->e);
}

/* A post or void of an id never recorded is PENDING_NOT_FOUND. */
static void test_pending_not_found(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_resolve(f, 12, 555, 0, ORTAK_TRANSFER_POST_PENDING), ORTAK_PENDING_NOT_FOUND);
    assert_int_equal(fx_resolve(f, 13, 555, 0, ORTAK_TRANSFER_VOID_PENDING), ORTAK_PENDING_NOT_FOUND);
    assert_int_equal(fx_transfer(f, 12).rc, ORTAK_PENDING_NOT_FOUND);
    assert_fixture_balances(f->e);
}

/* A post or void of a plain transfer, of a refused pending transfer, or of another post, is PENDING_NOT_PENDING. */
static void test_pending_not_pending(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_resolve(f, 12, 9001, 0, ORTAK_TRANSFER_POST_PENDING), ORTAK_PENDING_NOT_PENDING);
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 13, ACC_C, ACC_B, 10, 0)), ORTAK_INSUFFICIENT_FUNDS);
    assert_int_equal(fx_resolve(f, 14, 13, 0, ORTAK_TRANSFER_VOID_PENDING), ORTAK_PENDING_NOT_PENDING);
    fx_hold(f, 0);
    assert_int_equal(fx_resolve(f, 15, 11, 1000, ORTAK_TRANSFER_POST_PENDING), ORTAK_OK);
    assert_int_equal(fx_resolve(f, 16, 15, 0, ORTAK_TRANSFER_POST_PENDING), ORTAK_PENDING_NOT_PENDING);
    assert_balances(f->e, ACC_A, 1000, FUND_A, 0, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B + 1000, 0, 0);
    assert_balances(f->e, ACC_C, 0, 0, 0, 0);
}

/* A posted hold cannot be posted or voided again (PENDING_ALREADY_POSTED). */
static void test_pending_already_posted(void **state) {
    struct fx *f = *state;
    fx_hold(f, 0);
    assert_int_equal(fx_resolve(f, 12, 11, 500, ORTAK_TRANSFER_POST_PENDING), ORTAK_OK);
    assert_int_equal(fx_resolve(f, 13, 11, 500, ORTAK_TRANSFER_POST_PENDING), ORTAK_PENDING_ALREADY_POSTED);
    assert_int_equal(fx_resolve(f, 14, 11, 0, ORTAK_TRANSFER_VOID_PENDING), ORTAK_PENDING_ALREADY_POSTED);
    assert_balances(f->e, ACC_A, 500, FUND_A, 0, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B + 500, 0, 0);
}

/* A voided hold cannot be posted or voided again (PENDING_ALREADY_VOIDED). */
static void test_pending_already_voided(void **state) {
    struct fx *f = *state;
    fx_hold(f, 0);
    assert_int_equal(fx_resolve(f, 12, 11, 0, ORTAK_TRANSFER_VOID_PENDING), ORTAK_OK);
    assert_int_equal(fx_resolve(f, 13, 11, 0, ORTAK_TRANSFER_POST_PENDING), ORTAK_PENDING_ALREADY_VOIDED);
    assert_int_equal(fx_resolve(f, 14, 11, 0, ORTAK_TRANSFER_VOID_PENDING), ORTAK_PENDING_ALREADY_VOIDED);
    assert_fixture_balances(f->e);
}

/* A hold expires when time reaches its expiry (TICK), releasing it with PENDING_EXPIRED; it cannot be posted
 * or voided afterwards (PENDING_EXPIRED). */
static void test_pending_expiry(void **state) {
    struct fx *f = *state;
    fx_hold(f, 10);
    const ortak_time_ns expires = f->now + 10 * ORTAK_NS_PER_S;
    fx_ok(f, tu_tick(expires - 1));
    uint32_t n;
    fx_events(f, &n);
    assert_int_equal(n, 0);
    assert_balances(f->e, ACC_A, 0, FUND_A, 2000, 0);
    fx_ok(f, tu_tick(expires));
    f->now = expires;
    const struct ortak_event *ev = fx_events(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].kind, ORTAK_EV_PENDING_EXPIRED);
    assert_true(ev[0].id == 11 && ev[0].debit_account_id == ACC_A && ev[0].credit_account_id == ACC_B);
    assert_int_equal(ev[0].amount, 2000);
    assert_int_equal(ev[0].timestamp, expires);
    assert_fixture_balances(f->e);
    assert_int_equal(fx_transfer(f, 11).pending_state, ORTAK_PENDING_STATE_EXPIRED);
    assert_int_equal(fx_resolve(f, 12, 11, 0, ORTAK_TRANSFER_POST_PENDING), ORTAK_PENDING_EXPIRED);
    assert_int_equal(fx_resolve(f, 13, 11, 0, ORTAK_TRANSFER_VOID_PENDING), ORTAK_PENDING_EXPIRED);
    assert_fixture_balances(f->e);
}

/* A post arriving exactly at the expiry time finds the hold expired: expiry runs before the command. */
static void test_pending_expires_before_command(void **state) {
    struct fx *f = *state;
    fx_hold(f, 10);
    struct ortak_cmd post = tu_resolve(f->now + 10 * ORTAK_NS_PER_S, 12, 11, 0, ORTAK_TRANSFER_POST_PENDING);
    assert_int_equal(fx_rc(f, post), ORTAK_PENDING_EXPIRED);
    uint32_t n;
    const struct ortak_event *ev = fx_events(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].kind, ORTAK_EV_PENDING_EXPIRED);
    assert_int_equal(ev[0].command_index, 0);
    assert_fixture_balances(f->e);
}

/* Post or void of more than is held: PENDING_AMOUNT_EXCEEDS. */
static void test_pending_amount_exceeds(void **state) {
    struct fx *f = *state;
    fx_hold(f, 0);
    assert_int_equal(fx_resolve(f, 12, 11, 2001, ORTAK_TRANSFER_POST_PENDING), ORTAK_PENDING_AMOUNT_EXCEEDS);
    assert_int_equal(fx_resolve(f, 13, 11, 2001, ORTAK_TRANSFER_VOID_PENDING), ORTAK_PENDING_AMOUNT_EXCEEDS);
    assert_balances(f->e, ACC_A, 0, FUND_A, 2000, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B, 0, 2000);
    assert_int_equal(fx_transfer(f, 11).pending_state, ORTAK_PENDING_STATE_OPEN);
    assert_int_equal(fx_resolve(f, 14, 11, 2000, ORTAK_TRANSFER_POST_PENDING), ORTAK_OK);
    assert_balances(f->e, ACC_A, 2000, FUND_A, 0, 0);
}

/* Post or void naming other accounts than the hold's (or voiding a part of it): PENDING_DIFFERENT. */
static void test_pending_different(void **state) {
    struct fx *f = *state;
    fx_hold(f, 0);
    struct ortak_cmd c = tu_resolve(fx_t(f), 12, 11, 0, ORTAK_TRANSFER_POST_PENDING);
    c.u.transfer.debit_account_id = ACC_B;
    assert_int_equal(fx_rc(f, c), ORTAK_PENDING_DIFFERENT);
    c = tu_resolve(fx_t(f), 13, 11, 0, ORTAK_TRANSFER_VOID_PENDING);
    c.u.transfer.credit_account_id = ACC_C;
    assert_int_equal(fx_rc(f, c), ORTAK_PENDING_DIFFERENT);
    c = tu_resolve(fx_t(f), 14, 11, 0, ORTAK_TRANSFER_POST_PENDING);
    c.u.transfer.debit_account_id = ACC_NONE;
    assert_int_equal(fx_rc(f, c), ORTAK_PENDING_DIFFERENT);
    assert_int_equal(fx_resolve(f, 15, 11, 1999, ORTAK_TRANSFER_VOID_PENDING), ORTAK_PENDING_DIFFERENT);
    assert_int_equal(fx_transfer(f, 12).rc, ORTAK_PENDING_DIFFERENT);
    assert_balances(f->e, ACC_A, 0, FUND_A, 2000, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B, 0, 2000);
    assert_balances(f->e, ACC_C, 0, 0, 0, 0);
}

/* Holds expire in order of expiry time, then of recording, each releasing only its own amount. */
static void test_pending_expiry_order(void **state) {
    struct fx *f = *state;
    const ortak_time_ns t = fx_t(f);
    struct ortak_cmd c[4] = {
        tu_pending(t, 21, ACC_A, ACC_B, 100, 30),
        tu_pending(t, 22, ACC_A, ACC_C, 200, 10),
        tu_pending(t, 23, ACC_B, ACC_C, 300, 20),
        tu_pending(t, 24, ACC_A, ACC_B, 400, 10),
    };
    struct ortak_result r[4];
    assert_int_equal(ortak_engine_apply(f->e, c, 4, r), ORTAK_OK);
    for (int i = 0; i < 4; i++) assert_int_equal(r[i].rc, ORTAK_OK);
    fx_ok(f, tu_tick(t + 15 * ORTAK_NS_PER_S));
    uint32_t n;
    const struct ortak_event *ev = fx_events(f, &n);
    assert_int_equal(n, 2);
    assert_true(ev[0].id == 22 && ev[1].id == 24);
    assert_balances(f->e, ACC_A, 0, FUND_A, 100, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B, 300, 100);
    assert_balances(f->e, ACC_C, 0, 0, 0, 300);
    fx_ok(f, tu_tick(t + 60 * ORTAK_NS_PER_S));
    ev = fx_events(f, &n);
    assert_int_equal(n, 2);
    assert_true(ev[0].id == 23 && ev[1].id == 21);
    assert_fixture_balances(f->e);
}

/* ---- linked chains ----------------------------------------------------------------------------------------- */

/* Applies a batch whose results array starts out filled with garbage, as a caller's stack would be. */
static void fx_apply(struct fx *f, const struct ortak_cmd *cmds, uint32_t n, struct ortak_result *r) {
    memset(r, 0xa5, n * sizeof *r);
    assert_int_equal(ortak_engine_apply(f->e, cmds, n, r), ORTAK_OK);
}

static void check_result(const struct ortak_result *r, ortak_rc rc, uint32_t flags, uint32_t fail_index,
                         const char *file, int line) {
    _assert_int_equal(r->rc, (LargestIntegralType)rc, file, line);
    _assert_int_equal(r->flags, flags, file, line);
    _assert_int_equal(r->fail_index, fail_index, file, line);
}
/* Asserts a result's code, flags and fail_index. */
#define assert_result(r, rc, flags, fail_index) check_result(r, rc, flags, fail_index, __FILE__, __LINE__)

/* A chain whose members all succeed is booked completely, with one event per member in order. */
static void test_chain_commits(void **state) {
    struct fx *f = *state;
    const ortak_time_ns t = fx_t(f);
    struct ortak_cmd c[3] = {tu_linked(tu_transfer(t, 11, ACC_A, ACC_B, 1000, 0)),
                             tu_linked(tu_transfer(t, 12, ACC_B, ACC_C, 500, 0)),
                             tu_transfer(t, 13, ACC_C, ACC_A, 200, 0)};
    struct ortak_result r[3];
    fx_apply(f, c, 3, r);
    for (int i = 0; i < 3; i++) assert_result(&r[i], ORTAK_OK, 0, UINT32_MAX);
    uint32_t n;
    const struct ortak_event *ev = fx_events(f, &n);
    assert_int_equal(n, 3);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(ev[i].kind, ORTAK_EV_TRANSFER_POSTED);
        assert_int_equal(ev[i].command_index, i);
        assert_true(ev[i].id == 11 + i);
    }
    assert_balances(f->e, ACC_A, 1000, FUND_A + 200, 0, 0);
    assert_balances(f->e, ACC_B, 500, FUND_B + 1000, 0, 0);
    assert_balances(f->e, ACC_C, 200, 500, 0, 0);
}

/* A later member may spend what an earlier member of the same chain credited. */
static void test_chain_spends_earlier_credit(void **state) {
    struct fx *f = *state;
    const ortak_time_ns t = fx_t(f);
    struct ortak_cmd c[2] = {tu_linked(tu_transfer(t, 11, ACC_A, ACC_C, 3000, 0)),
                             tu_transfer(t, 12, ACC_C, ACC_B, 3000, 0)};
    struct ortak_result r[2];
    fx_apply(f, c, 2, r);
    assert_result(&r[0], ORTAK_OK, 0, UINT32_MAX);
    assert_result(&r[1], ORTAK_OK, 0, UINT32_MAX);
    assert_balances(f->e, ACC_A, 3000, FUND_A, 0, 0);
    assert_balances(f->e, ACC_C, 3000, 3000, 0, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B + 3000, 0, 0);
}

/* One failing member fails the chain: its own code, LINKED_EVENT_FAILED for the others, fail_index everywhere;
 * no balance, event or posting remains, and every member is recorded with its outcome. */
static void test_chain_all_or_nothing(void **state) {
    struct fx *f = *state;
    const ortak_time_ns t = fx_t(f);
    struct ortak_cmd c[4] = {tu_linked(tu_transfer(t, 11, ACC_A, ACC_B, 1000, 0)),
                             tu_linked(tu_transfer(t, 12, ACC_B, ACC_C, 500, 0)),
                             tu_linked(tu_transfer(t, 13, ACC_C, ACC_B, 501, 0)), /* C holds only 500 here */
                             tu_transfer(t, 14, ACC_A, ACC_C, 10, 0)};
    struct ortak_result r[4];
    fx_apply(f, c, 4, r);
    assert_result(&r[0], ORTAK_LINKED_EVENT_FAILED, 0, 2);
    assert_result(&r[1], ORTAK_LINKED_EVENT_FAILED, 0, 2);
    assert_result(&r[2], ORTAK_INSUFFICIENT_FUNDS, 0, 2);
    assert_int_equal(r[3].rc, ORTAK_LINKED_EVENT_FAILED); /* its flags: test_chain_results_after_failure */
    assert_int_equal(r[3].fail_index, 2);
    uint32_t n;
    fx_events(f, &n);
    assert_int_equal(n, 0);
    assert_fixture_balances(f->e);
    assert_int_equal(fx_transfer(f, 11).rc, ORTAK_LINKED_EVENT_FAILED);
    assert_int_equal(fx_transfer(f, 13).rc, ORTAK_INSUFFICIENT_FUNDS);
    assert_int_equal(fx_transfer(f, 14).rc, ORTAK_LINKED_EVENT_FAILED);
    assert_int_equal(tu_account_info(f->e, ACC_A).pending_count, 0);
    /* A member resubmitted alone (with its fields, so linked) gets the recorded outcome back. */
    struct ortak_cmd again = tu_linked(tu_transfer(fx_t(f), 11, ACC_A, ACC_B, 1000, 0));
    struct ortak_result one = tu_apply1(f->e, &again);
    assert_result(&one, ORTAK_LINKED_EVENT_FAILED, ORTAK_RESULT_REPLAYED, UINT32_MAX);
    assert_fixture_balances(f->e);
}

/* The members after the failing one report LINKED_EVENT_FAILED with no REPLAYED flag: every field of their
 * results is written, whatever the caller's array held. */
static void test_chain_results_after_failure(void **state) {
    struct fx *f = *state;
    const ortak_time_ns t = fx_t(f);
    struct ortak_cmd c[3] = {tu_linked(tu_transfer(t, 11, ACC_A, ACC_B, 100, 0)),
                             tu_linked(tu_transfer(t, 12, ACC_C, ACC_B, 1, 0)),
                             tu_transfer(t, 13, ACC_A, ACC_C, 100, 0)};
    struct ortak_result r[3];
    fx_apply(f, c, 3, r);
    assert_result(&r[0], ORTAK_LINKED_EVENT_FAILED, 0, 1);
    assert_result(&r[1], ORTAK_INSUFFICIENT_FUNDS, 0, 1);
    assert_result(&r[2], ORTAK_LINKED_EVENT_FAILED, 0, 1);
    assert_fixture_balances(f->e);
}

/* A chain still open at the end of the batch fails with LINKED_CHAIN_OPEN on its last member; that says nothing
 * about the transfers, so nothing is recorded and the same ids succeed in a closed chain. */
static void test_chain_open_at_batch_end(void **state) {
    struct fx *f = *state;
    const ortak_time_ns t = fx_t(f);
    struct ortak_cmd c[2] = {tu_linked(tu_transfer(t, 11, ACC_A, ACC_B, 100, 0)),
                             tu_linked(tu_transfer(t, 12, ACC_A, ACC_C, 100, 0))};
    struct ortak_result r[2];
    fx_apply(f, c, 2, r);
    assert_result(&r[0], ORTAK_LINKED_EVENT_FAILED, 0, 1);
    assert_result(&r[1], ORTAK_LINKED_CHAIN_OPEN, 0, 1);
    assert_fixture_balances(f->e);
    assert_not_recorded(f, 11);
    assert_not_recorded(f, 12);
    c[1].u.transfer.flags = 0;
    c[0].timestamp = c[1].timestamp = fx_t(f);
    fx_apply(f, c, 2, r);
    assert_result(&r[0], ORTAK_OK, 0, UINT32_MAX);
    assert_result(&r[1], ORTAK_OK, 0, UINT32_MAX);
    assert_balances(f->e, ACC_A, 200, FUND_A, 0, 0);
}

/* A linked transfer followed by a command that is not a transfer is an open chain of one (LINKED_CHAIN_OPEN);
 * the next command still applies. */
static void test_chain_open_before_other_command(void **state) {
    struct fx *f = *state;
    const ortak_time_ns t = fx_t(f);
    struct ortak_cmd c[3] = {tu_linked(tu_transfer(t, 11, ACC_A, ACC_B, 100, 0)), tu_tick(t),
                             tu_transfer(t, 12, ACC_A, ACC_C, 100, 0)};
    struct ortak_result r[3];
    fx_apply(f, c, 3, r);
    assert_result(&r[0], ORTAK_LINKED_CHAIN_OPEN, 0, UINT32_MAX);
    assert_result(&r[1], ORTAK_OK, 0, UINT32_MAX);
    assert_result(&r[2], ORTAK_OK, 0, UINT32_MAX);
    assert_not_recorded(f, 11);
    assert_balances(f->e, ACC_A, 100, FUND_A, 0, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B, 0, 0);
    assert_balances(f->e, ACC_C, 0, 100, 0, 0);
}

/* A hold created in a failed chain leaves nothing behind: no hold, and no expiry later. */
static void test_chain_rolls_back_hold(void **state) {
    struct fx *f = *state;
    const ortak_time_ns t = fx_t(f);
    struct ortak_cmd c[2] = {tu_linked(tu_pending(t, 11, ACC_A, ACC_B, 2000, 10)),
                             tu_transfer(t, 12, ACC_C, ACC_B, 1, 0)};
    struct ortak_result r[2];
    fx_apply(f, c, 2, r);
    assert_result(&r[0], ORTAK_LINKED_EVENT_FAILED, 0, 1);
    assert_result(&r[1], ORTAK_INSUFFICIENT_FUNDS, 0, 1);
    assert_fixture_balances(f->e);
    assert_int_equal(tu_account_info(f->e, ACC_A).pending_count, 0);
    assert_int_equal(fx_transfer(f, 11).pending_state, ORTAK_PENDING_STATE_NONE);
    fx_ok(f, tu_tick(t + 20 * ORTAK_NS_PER_S));
    uint32_t n;
    fx_events(f, &n);
    assert_int_equal(n, 0);
    assert_fixture_balances(f->e);
}

/* A post inside a failed chain is undone: the hold is open again, with its expiry. */
static void test_chain_rolls_back_post(void **state) {
    struct fx *f = *state;
    fx_hold(f, 30);
    const ortak_time_ns created = f->now, t = fx_t(f);
    struct ortak_cmd c[2] = {tu_linked(tu_resolve(t, 12, 11, 0, ORTAK_TRANSFER_POST_PENDING)),
                             tu_transfer(t, 13, ACC_C, ACC_B, 1, 0)};
    struct ortak_result r[2];
    fx_apply(f, c, 2, r);
    assert_result(&r[0], ORTAK_LINKED_EVENT_FAILED, 0, 1);
    assert_result(&r[1], ORTAK_INSUFFICIENT_FUNDS, 0, 1);
    assert_balances(f->e, ACC_A, 0, FUND_A, 2000, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B, 0, 2000);
    assert_int_equal(fx_transfer(f, 11).pending_state, ORTAK_PENDING_STATE_OPEN);
    fx_ok(f, tu_tick(created + 30 * ORTAK_NS_PER_S));
    uint32_t n;
    const struct ortak_event *ev = fx_events(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].kind, ORTAK_EV_PENDING_EXPIRED);
    assert_fixture_balances(f->e);
}

/* Inside a chain holds do not expire, but a post of one whose expiry time has come is PENDING_EXPIRED. */
static void test_chain_post_of_expired_hold(void **state) {
    struct fx *f = *state;
    fx_hold(f, 10);
    const ortak_time_ns created = f->now;
    struct ortak_cmd c[2] = {tu_linked(tu_transfer(created + 5 * ORTAK_NS_PER_S, 12, ACC_A, ACC_C, 1, 0)),
                             tu_resolve(created + 10 * ORTAK_NS_PER_S, 13, 11, 0, ORTAK_TRANSFER_POST_PENDING)};
    struct ortak_result r[2];
    fx_apply(f, c, 2, r);
    assert_result(&r[0], ORTAK_LINKED_EVENT_FAILED, 0, 1);
    assert_result(&r[1], ORTAK_PENDING_EXPIRED, 0, 1);
    uint32_t n;
    fx_events(f, &n);
    assert_int_equal(n, 0); /* the expiry itself waits for the next command */
    assert_balances(f->e, ACC_A, 0, FUND_A, 2000, 0);
    fx_ok(f, tu_tick(created + 10 * ORTAK_NS_PER_S));
    const struct ortak_event *ev = fx_events(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].kind, ORTAK_EV_PENDING_EXPIRED);
    assert_fixture_balances(f->e);
}

/* Resubmitting a booked chain replays every member (OK, REPLAYED); a replayed member inside a new chain lets the
 * chain go on; a member reusing an id with other fields fails the chain with TRANSFER_EXISTS_DIFFERENT. */
static void test_chain_replay(void **state) {
    struct fx *f = *state;
    struct ortak_cmd c[2] = {tu_linked(tu_transfer(fx_t(f), 11, ACC_A, ACC_B, 100, 0)),
                             tu_transfer(f->now, 12, ACC_A, ACC_C, 100, 0)};
    struct ortak_result r[2];
    fx_apply(f, c, 2, r);
    assert_result(&r[0], ORTAK_OK, 0, UINT32_MAX);
    c[0].timestamp = c[1].timestamp = fx_t(f);
    fx_apply(f, c, 2, r);
    assert_result(&r[0], ORTAK_OK, ORTAK_RESULT_REPLAYED, UINT32_MAX);
    assert_result(&r[1], ORTAK_OK, ORTAK_RESULT_REPLAYED, UINT32_MAX);
    assert_balances(f->e, ACC_A, 200, FUND_A, 0, 0);
    c[1] = tu_transfer(c[0].timestamp = fx_t(f), 13, ACC_A, ACC_C, 100, 0);
    fx_apply(f, c, 2, r);
    assert_result(&r[0], ORTAK_OK, ORTAK_RESULT_REPLAYED, UINT32_MAX);
    assert_result(&r[1], ORTAK_OK, 0, UINT32_MAX);
    assert_balances(f->e, ACC_A, 300, FUND_A, 0, 0);
    assert_balances(f->e, ACC_C, 0, 200, 0, 0);
    /* Id 12 with another amount: the chain fails and its new member is not recorded. */
    c[0] = tu_linked(tu_transfer(fx_t(f), 14, ACC_A, ACC_B, 100, 0));
    c[1] = tu_transfer(f->now, 12, ACC_A, ACC_C, 999, 0);
    fx_apply(f, c, 2, r);
    assert_result(&r[0], ORTAK_LINKED_EVENT_FAILED, 0, 1);
    assert_result(&r[1], ORTAK_TRANSFER_EXISTS_DIFFERENT, 0, 1);
    assert_not_recorded(f, 14);
    assert_balances(f->e, ACC_A, 300, FUND_A, 0, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B + 100, 0, 0);
}

/* A member earlier than the previous one is TIME_BACKWARDS and fails the chain; nothing is recorded. */
static void test_chain_time_backwards(void **state) {
    struct fx *f = *state;
    const ortak_time_ns t = fx_t(f);
    struct ortak_cmd c[2] = {tu_linked(tu_transfer(t, 11, ACC_A, ACC_B, 100, 0)),
                             tu_transfer(t - 1, 12, ACC_A, ACC_C, 100, 0)};
    struct ortak_result r[2];
    fx_apply(f, c, 2, r);
    assert_result(&r[0], ORTAK_LINKED_EVENT_FAILED, 0, 1);
    assert_result(&r[1], ORTAK_TIME_BACKWARDS, 0, 1);
    assert_not_recorded(f, 11);
    assert_not_recorded(f, 12);
    assert_fixture_balances(f->e);
    assert_int_equal(ortak_engine_now(f->e), t);
}

/* A hold created and posted in one chain: booked when the chain holds, gone without trace when it fails. */
static void test_chain_hold_and_post(void **state) {
    struct fx *f = *state;
    const ortak_time_ns t = fx_t(f);
    struct ortak_cmd c[3] = {tu_linked(tu_pending(t, 11, ACC_A, ACC_B, 900, 10)),
                             tu_linked(tu_resolve(t, 12, 11, 400, ORTAK_TRANSFER_POST_PENDING)),
                             tu_transfer(t, 13, ACC_C, ACC_B, 401, 0)}; /* C has only 0 */
    struct ortak_result r[3];
    fx_apply(f, c, 3, r);
    assert_int_equal(r[2].rc, ORTAK_INSUFFICIENT_FUNDS);
    assert_fixture_balances(f->e);
    assert_int_equal(fx_transfer(f, 11).pending_state, ORTAK_PENDING_STATE_NONE);
    c[2] = tu_transfer(t, 14, ACC_B, ACC_C, 401, 0);
    for (int i = 0; i < 3; i++) c[i].timestamp = fx_t(f);
    c[0].u.transfer.id = 21;
    c[1].u.transfer.id = 22;
    c[1].u.transfer.pending_id = 21;
    fx_apply(f, c, 3, r);
    for (int i = 0; i < 3; i++) assert_result(&r[i], ORTAK_OK, 0, UINT32_MAX);
    assert_balances(f->e, ACC_A, 400, FUND_A, 0, 0);
    assert_balances(f->e, ACC_B, 401, FUND_B + 400, 0, 0);
    assert_balances(f->e, ACC_C, 0, 401, 0, 0);
    assert_int_equal(fx_transfer(f, 21).pending_state, ORTAK_PENDING_STATE_POSTED);
    fx_ok(f, tu_tick(f->now + 60 * ORTAK_NS_PER_S)); /* nothing left to expire */
    uint32_t n;
    fx_events(f, &n);
    assert_int_equal(n, 0);
}

/* ---- engine: time, unknown commands, batches, result codes, state hash ------------------------------------ */

/* A command earlier than engine time is TIME_BACKWARDS: not applied, not recorded, engine time unchanged; the
 * same transfer with a proper timestamp then succeeds. */
static void test_time_backwards(void **state) {
    struct fx *f = *state;
    const ortak_time_ns now = f->now;
    assert_int_equal(fx_rc(f, tu_transfer(now - 1, 11, ACC_A, ACC_B, 100, 0)), ORTAK_TIME_BACKWARDS);
    assert_int_equal(fx_rc(f, tu_account(now - 1, 50, BANK_A, "KZT", ORTAK_ACCOUNT_COLLATERAL)), ORTAK_TIME_BACKWARDS);
    assert_int_equal(fx_rc(f, tu_tick(0)), ORTAK_TIME_BACKWARDS);
    assert_int_equal(fx_rc(f, tu_account_amount(now - 1, ORTAK_CMD_CREDIT_LINE_SET, ACC_C, 10)), ORTAK_TIME_BACKWARDS);
    assert_int_equal(ortak_engine_now(f->e), now);
    assert_not_recorded(f, 11);
    assert_int_equal(ortak_ledger_account_count(fx_ledger(f)), 6);
    assert_int_equal(tu_account_info(f->e, ACC_C).credit_line, 0);
    assert_fixture_balances(f->e);
    /* Equal timestamps are fine: time does not have to move. */
    assert_int_equal(fx_rc(f, tu_transfer(now, 11, ACC_A, ACC_B, 100, 0)), ORTAK_OK);
    assert_balances(f->e, ACC_A, 100, FUND_A, 0, 0);
}

/* A command of an unknown kind is COMMAND_UNKNOWN and changes nothing but time; the batch goes on. */
static void test_command_unknown(void **state) {
    struct fx *f = *state;
    const ortak_time_ns t = fx_t(f);
    struct ortak_cmd c[3] = {tu_cmd(t, 0), tu_cmd(t, 200), tu_transfer(t, 11, ACC_A, ACC_B, 5, 0)};
    struct ortak_result r[3];
    fx_apply(f, c, 3, r);
    assert_result(&r[0], ORTAK_COMMAND_UNKNOWN, 0, UINT32_MAX);
    assert_result(&r[1], ORTAK_COMMAND_UNKNOWN, 0, UINT32_MAX);
    assert_result(&r[2], ORTAK_OK, 0, UINT32_MAX);
    assert_int_equal(ortak_engine_now(f->e), t);
    uint32_t n;
    const struct ortak_event *ev = fx_events(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].command_index, 2);
    assert_balances(f->e, ACC_A, 5, FUND_A, 0, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B + 5, 0, 0);
}

/* More commands than batch_max: BATCH_TOO_LARGE and nothing of the batch is applied; batch_max itself is fine. */
static void test_batch_too_large(void **state) {
    struct fx *f = *state;
    enum { MAX = 64 };
    struct ortak_cmd c[MAX + 1];
    struct ortak_result r[MAX + 1];
    assert_int_equal(ortak_engine_apply(f->e, NULL, 0, NULL), ORTAK_OK); /* an empty batch is fine */
    const ortak_time_ns t = fx_t(f);
    for (uint32_t i = 0; i <= MAX; i++) c[i] = tu_transfer(t, 100 + i, ACC_A, ACC_B, 1, 0);
    assert_int_equal(ortak_engine_apply(f->e, c, MAX + 1, r), ORTAK_BATCH_TOO_LARGE);
    assert_int_equal(ortak_engine_now(f->e), t - ORTAK_NS_PER_S);
    assert_int_equal(ortak_ledger_transfer_count(fx_ledger(f)), 3);
    assert_fixture_balances(f->e);
    struct ortak_result one = tu_apply1(f->e, &c[0]);
    assert_int_equal(one.rc, ORTAK_OK); /* the engine is still usable */
    assert_int_equal(ortak_engine_apply(f->e, c + 1, MAX, r), ORTAK_OK);
    assert_int_equal(r[MAX - 1].rc, ORTAK_OK);
    assert_balances(f->e, ACC_A, MAX + 1, FUND_A, 0, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B + MAX + 1, 0, 0);
}

/* Result code tables: message, name and ISO reason of a few codes, and the answers outside the table. */
static void test_rc_strings(void **state) {
    (void)state;
    assert_string_equal(ortak_rc_str(ORTAK_OK), "ok");
    assert_string_equal(ortak_rc_name(ORTAK_INSUFFICIENT_FUNDS), "INSUFFICIENT_FUNDS");
    assert_string_equal(ortak_rc_str(ORTAK_INSUFFICIENT_FUNDS), "insufficient funds");
    assert_string_equal(ortak_rc_iso_reason(ORTAK_INSUFFICIENT_FUNDS), "AM04");
    assert_string_equal(ortak_rc_iso_reason(ORTAK_TRANSFER_EXISTS_DIFFERENT), "DUPL");
    assert_string_equal(ortak_rc_iso_reason(ORTAK_ACCOUNT_CLOSED), "AC04");
    assert_string_equal(ortak_rc_iso_reason(ORTAK_CURRENCY_MISMATCH), "AC09");
    assert_string_equal(ortak_rc_iso_reason(ORTAK_PARTICIPANT_NOT_ACTIVE), "AG10");
    assert_string_equal(ortak_rc_iso_reason(ORTAK_LINKED_EVENT_FAILED), "");
    assert_string_equal(ortak_rc_name(ORTAK_TRANSFER_NOT_FOUND), "TRANSFER_NOT_FOUND");
    assert_string_equal(ortak_rc_str(ORTAK_RC_COUNT_), "unknown result code");
    assert_string_equal(ortak_rc_name(ORTAK_RC_COUNT_), "UNKNOWN");
    assert_string_equal(ortak_rc_iso_reason(ORTAK_RC_COUNT_), "");
    assert_string_equal(ortak_rc_name((ortak_rc)-1), "UNKNOWN");
    /* Every code in the table has a name, a message and a reason string. */
    for (int rc = 0; rc < ORTAK_RC_COUNT_; rc++) {
        assert_true(strlen(ortak_rc_name((ortak_rc)rc)) > 0);
        assert_true(strlen(ortak_rc_str((ortak_rc)rc)) > 0);
        size_t iso = strlen(ortak_rc_iso_reason((ortak_rc)rc));
        assert_true(iso == 0 || iso == 4);
    }
}

/* The names of roles, kinds and statuses. */
static void test_enum_names(void **state) {
    (void)state;
    assert_string_equal(ortak_role_name(ORTAK_ROLE_CENTRAL_BANK), "central_bank");
    assert_string_equal(ortak_role_name(0), "unknown");
    assert_string_equal(ortak_account_kind_name(ORTAK_ACCOUNT_ISSUANCE), "issuance");
    assert_string_equal(ortak_account_kind_name(9), "unknown");
    assert_string_equal(ortak_participant_status_name(ORTAK_PARTICIPANT_SUSPENDED), "suspended");
    assert_string_equal(ortak_participant_status_name(0), "unknown");
}

/* A few commands of every kind, applied to `f` from its current time. */
static void fx_workload(struct fx *f, uint64_t amount) {
    assert_int_equal(fx_xfer(f, 11, ACC_A, ACC_B, amount), ORTAK_OK);
    assert_int_equal(fx_xfer(f, 12, ACC_C, ACC_B, 1), ORTAK_INSUFFICIENT_FUNDS);
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 13, ACC_B, ACC_C, 300, 5)), ORTAK_OK);
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 14, ACC_B, ACC_C, 400, 0)), ORTAK_OK);
    assert_int_equal(fx_resolve(f, 15, 14, 100, ORTAK_TRANSFER_POST_PENDING), ORTAK_OK);
    assert_int_equal(fx_set(f, ORTAK_CMD_CREDIT_LINE_SET, ACC_C, 50), ORTAK_OK);
    fx_ok(f, tu_tick(f->now += 10 * ORTAK_NS_PER_S));
}

/* Two engines given the same commands have the same state hash; any difference in the commands changes it. */
static void test_state_hash(void **state) {
    struct fx *f = *state;
    struct fx g, h;
    struct ortak_limits lim;
    fx_limits(&lim);
    fx_build(&g, &lim);
    f->more[0] = g.e;
    fx_build(&h, &lim);
    f->more[1] = h.e;
    uint8_t hf[32], hg[32], hh[32];
    ortak_engine_state_hash(f->e, hf);
    ortak_engine_state_hash(g.e, hg);
    assert_memory_equal(hf, hg, 32);
    fx_workload(f, 700);
    fx_workload(&g, 700);
    fx_workload(&h, 701);
    ortak_engine_state_hash(f->e, hf);
    ortak_engine_state_hash(g.e, hg);
    ortak_engine_state_hash(h.e, hh);
    assert_memory_equal(hf, hg, 32);
    assert_memory_not_equal(hf, hh, 32);
    assert_balances(g.e, ACC_B, 100, FUND_B + 700, 0, 0);
    assert_balances(h.e, ACC_B, 100, FUND_B + 701, 0, 0);
    /* Same refusal in both: equal. A replay changes nothing but time; a new refusal is recorded state. */
    assert_int_equal(fx_xfer(f, 16, ACC_C, ACC_A, 1000), ORTAK_INSUFFICIENT_FUNDS);
    assert_int_equal(fx_xfer(&g, 16, ACC_C, ACC_A, 1000), ORTAK_INSUFFICIENT_FUNDS);
    assert_true(f->now == g.now);
    assert_int_equal(fx_xfer(f, 16, ACC_C, ACC_A, 1000), ORTAK_INSUFFICIENT_FUNDS);
    fx_ok(&g, tu_tick(fx_t(&g)));
    ortak_engine_state_hash(f->e, hf);
    ortak_engine_state_hash(g.e, hg);
    assert_memory_equal(hf, hg, 32);
    assert_int_equal(fx_xfer(f, 17, ACC_C, ACC_A, 1000), ORTAK_INSUFFICIENT_FUNDS);
    fx_ok(&g, tu_tick(fx_t(&g)));
    ortak_engine_state_hash(f->e, hf);
    ortak_engine_state_hash(g.e, hg);
    assert_memory_not_equal(hf, hg, 32);
}

/* ---- limits ------------------------------------------------------------------------------------------------ */

/* Tight limits: the fixture fills participants and accounts exactly, leaves five transfer records, one pending
 * slot, eight postings of history (the fixture writes six) and batches of four. */
static int setup_tight(void **state) {
    struct ortak_limits lim = {.participants_max = 6,
                               .accounts_max = 6,
                               .transfers_max = 8,
                               .pending_max = 1,
                               .history_max = 8,
                               .batch_max = 4,
                               .payments_max = 4,
                               .quotes_max = 16,
                               .fx_rates_max = 16};
    return fx_setup_with(state, &lim);
}

/* With accounts_max reached a new account is ACCOUNTS_FULL; checks that come first still answer first. */
static void test_accounts_full(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_rc(f, tu_account(fx_t(f), 50, BANK_A, "KZT", ORTAK_ACCOUNT_COLLATERAL)), ORTAK_ACCOUNTS_FULL);
    assert_int_equal(fx_rc(f, tu_account(fx_t(f), 50, BANK_A, "AZN", ORTAK_ACCOUNT_SETTLEMENT)), ORTAK_ACCOUNTS_FULL);
    assert_int_equal(fx_rc(f, tu_account(fx_t(f), ACC_A, BANK_A, "KZT", ORTAK_ACCOUNT_SETTLEMENT)),
                     ORTAK_ACCOUNT_EXISTS);
    assert_int_equal(fx_rc(f, tu_account(fx_t(f), 51, BANK_A, "KZT", ORTAK_ACCOUNT_SETTLEMENT)),
                     ORTAK_ACCOUNT_KIND_TAKEN);
    assert_int_equal(ortak_ledger_account_count(fx_ledger(f)), 6);
    struct ortak_account_info a;
    assert_int_equal(ortak_ledger_account_get(fx_ledger(f), 50, &a), ORTAK_ACCOUNT_NOT_FOUND);
    assert_fixture_balances(f->e);
}

/* With participants_max reached a new participant is PARTICIPANTS_FULL; a known BIC is still PARTICIPANT_EXISTS. */
static void test_participants_full(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_rc(f, tu_participant(fx_t(f), "ATFBKZKA", "ATF", ORTAK_ROLE_BANK)), ORTAK_PARTICIPANTS_FULL);
    assert_int_equal(fx_rc(f, tu_participant(fx_t(f), BANK_A, "Halyk", ORTAK_ROLE_BANK)), ORTAK_PARTICIPANT_EXISTS);
    assert_int_equal(ortak_ledger_participant_count(fx_ledger(f)), 6);
    struct ortak_participant_info p;
    assert_int_equal(ortak_ledger_participant_get(fx_ledger(f), "ATFBKZKA", &p), ORTAK_PARTICIPANT_NOT_FOUND);
    assert_fixture_balances(f->e);
}

/* Refused transfers take records too; with transfers_max reached a new transfer is TRANSFERS_FULL, unrecorded,
 * while replays of recorded ids still answer. */
static void test_transfers_full(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_xfer(f, 11, ACC_A, ACC_B, 100), ORTAK_OK);
    assert_int_equal(fx_xfer(f, 12, ACC_C, ACC_B, 100), ORTAK_INSUFFICIENT_FUNDS);
    assert_int_equal(fx_xfer(f, 13, ACC_A, ACC_B, 100), ORTAK_OK);
    assert_int_equal(fx_xfer(f, 14, ACC_A, ACC_B, 0), ORTAK_AMOUNT_ZERO);
    assert_int_equal(fx_xfer(f, 15, ACC_A, ACC_B, 100), ORTAK_OK);
    assert_int_equal(ortak_ledger_transfer_count(fx_ledger(f)), 8);
    assert_int_equal(fx_xfer(f, 16, ACC_A, ACC_B, 100), ORTAK_TRANSFERS_FULL);
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 17, ACC_A, ACC_B, 100, 0)), ORTAK_TRANSFERS_FULL);
    assert_not_recorded(f, 16);
    assert_not_recorded(f, 17);
    assert_balances(f->e, ACC_A, 300, FUND_A, 0, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B + 300, 0, 0);
    struct ortak_cmd again = tu_transfer(fx_t(f), 11, ACC_A, ACC_B, 100, 0);
    struct ortak_result r = tu_apply1(f->e, &again);
    assert_result(&r, ORTAK_OK, ORTAK_RESULT_REPLAYED, UINT32_MAX);
    assert_int_equal(fx_xfer(f, 12, ACC_C, ACC_B, 100), ORTAK_INSUFFICIENT_FUNDS);
    assert_balances(f->e, ACC_A, 300, FUND_A, 0, 0);
    assert_int_equal(ortak_ledger_transfer_count(fx_ledger(f)), 8);
}

/* With pending_max holds open a new hold is PENDINGS_FULL, unrecorded; once one is resolved, or a failed chain
 * gave its hold back, the same id succeeds. */
static void test_pendings_full(void **state) {
    struct fx *f = *state;
    fx_hold(f, 0);
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 12, ACC_B, ACC_C, 100, 0)), ORTAK_PENDINGS_FULL);
    assert_not_recorded(f, 12);
    assert_balances(f->e, ACC_B, 0, FUND_B, 0, 2000);
    assert_balances(f->e, ACC_C, 0, 0, 0, 0);
    assert_int_equal(fx_resolve(f, 13, 11, 0, ORTAK_TRANSFER_VOID_PENDING), ORTAK_OK);
    const ortak_time_ns t = fx_t(f);
    struct ortak_cmd c[2] = {tu_linked(tu_pending(t, 14, ACC_A, ACC_C, 100, 0)),
                             tu_transfer(t, 15, ACC_C, ACC_B, 1, 0)};
    struct ortak_result r[2];
    fx_apply(f, c, 2, r);
    assert_int_equal(r[1].rc, ORTAK_INSUFFICIENT_FUNDS);
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 12, ACC_B, ACC_C, 100, 0)), ORTAK_OK);
    assert_balances(f->e, ACC_A, 0, FUND_A, 0, 0);
    assert_balances(f->e, ACC_B, 0, FUND_B, 100, 0);
    assert_balances(f->e, ACC_C, 0, 0, 0, 100);
}

/* batch_max counts commands, linked or not: a batch of exactly batch_max applies, one more is refused whole. */
static void test_batch_max_tight(void **state) {
    struct fx *f = *state;
    const ortak_time_ns t = fx_t(f);
    struct ortak_cmd c[5] = {tu_linked(tu_transfer(t, 11, ACC_A, ACC_C, 10, 0)),
                             tu_linked(tu_transfer(t, 12, ACC_C, ACC_B, 10, 0)), tu_tick(t), tu_tick(t), tu_tick(t)};
    struct ortak_result r[5];
    c[1].u.transfer.flags = 0;
    assert_int_equal(ortak_engine_apply(f->e, c, 5, r), ORTAK_BATCH_TOO_LARGE);
    assert_fixture_balances(f->e);
    fx_apply(f, c, 4, r);
    assert_result(&r[0], ORTAK_OK, 0, UINT32_MAX);
    assert_result(&r[1], ORTAK_OK, 0, UINT32_MAX);
    assert_balances(f->e, ACC_A, 10, FUND_A, 0, 0);
    assert_balances(f->e, ACC_C, 10, 10, 0, 0);
}

/* ---- history ----------------------------------------------------------------------------------------------- */

enum { PAGE_MAX = 32 };

/* One page of an account's history; fails the test unless the query answers ORTAK_OK. */
struct page {
    struct ortak_posting p[PAGE_MAX];
    uint32_t n;
    bool truncated;
    uint64_t cursor;
};

static void fx_history(const struct fx *f, ortak_u128 account, ortak_time_ns from, ortak_time_ns to, uint32_t max,
                       struct page *pg) {
    assert_true(max <= PAGE_MAX);
    assert_int_equal(
        ortak_ledger_history(fx_ledger(f), account, from, to, &pg->cursor, pg->p, max, &pg->n, &pg->truncated),
        ORTAK_OK);
}

static void check_posting(const struct ortak_posting *p, ortak_u128 transfer, ortak_u128 counterparty, int64_t amount,
                          ortak_i128 balance_after, const char *file, int line) {
    _assert_true(p->transfer_id == transfer, "transfer_id", file, line);
    _assert_true(p->counterparty_account_id == counterparty, "counterparty_account_id", file, line);
    _assert_int_equal((LargestIntegralType)p->amount, (LargestIntegralType)amount, file, line);
    check_i128(p->balance_after, balance_after, "balance_after", 0, file, line);
}
/* Asserts a posting's transfer, counterparty, signed amount and balance after it. */
#define assert_posting(p, transfer, counterparty, amount, balance_after) \
    check_posting(p, transfer, counterparty, amount, balance_after, __FILE__, __LINE__)

/* History lists an account's postings oldest first: transfer, counterparty, signed amount, balance after. */
static void test_history_oldest_first(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_xfer(f, 11, ACC_A, ACC_B, 1000), ORTAK_OK);
    assert_int_equal(fx_xfer(f, 12, ACC_B, ACC_A, 300), ORTAK_OK);
    assert_int_equal(fx_xfer(f, 13, ACC_A, ACC_C, 200), ORTAK_OK);
    struct page pg = {.cursor = 0};
    fx_history(f, ACC_A, 0, UINT64_MAX, PAGE_MAX, &pg);
    assert_int_equal(pg.n, 4);
    assert_false(pg.truncated);
    assert_int_equal(pg.cursor, 0);
    assert_posting(&pg.p[0], 9001, ACC_ISS, FUND_A, FUND_A);
    assert_posting(&pg.p[1], 11, ACC_B, -1000, FUND_A - 1000);
    assert_posting(&pg.p[2], 12, ACC_B, 300, FUND_A - 700);
    assert_posting(&pg.p[3], 13, ACC_C, -200, FUND_A - 900);
    for (uint32_t i = 1; i < pg.n; i++) {
        assert_true(pg.p[i].seq > pg.p[i - 1].seq);
        assert_true(pg.p[i].timestamp > pg.p[i - 1].timestamp);
    }
    assert_int_equal(pg.p[3].timestamp, f->now);
    fx_history(f, ACC_ISS, 0, UINT64_MAX, PAGE_MAX, &pg);
    assert_int_equal(pg.n, 2);
    assert_posting(&pg.p[1], 9002, ACC_B, -FUND_B, -(FUND_A + FUND_B));
    assert_balances(f->e, ACC_A, 1200, FUND_A + 300, 0, 0);
}

/* Holds and releases are not postings; the posted part of a hold is, under the posting transfer's id. */
static void test_history_pending(void **state) {
    struct fx *f = *state;
    fx_hold(f, 0);
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 12, ACC_A, ACC_B, 50, 0)), ORTAK_OK);
    assert_int_equal(fx_resolve(f, 13, 12, 0, ORTAK_TRANSFER_VOID_PENDING), ORTAK_OK);
    struct page pg = {.cursor = 0};
    fx_history(f, ACC_B, 0, UINT64_MAX, PAGE_MAX, &pg);
    assert_int_equal(pg.n, 1); /* the funding only */
    assert_int_equal(fx_resolve(f, 14, 11, 1500, ORTAK_TRANSFER_POST_PENDING), ORTAK_OK);
    fx_history(f, ACC_B, 0, UINT64_MAX, PAGE_MAX, &pg);
    assert_int_equal(pg.n, 2);
    assert_posting(&pg.p[1], 14, ACC_A, 1500, FUND_B + 1500);
    assert_int_equal(pg.p[1].timestamp, f->now);
    fx_history(f, ACC_A, 0, UINT64_MAX, PAGE_MAX, &pg);
    assert_int_equal(pg.n, 2);
    assert_posting(&pg.p[1], 14, ACC_B, -1500, FUND_A - 1500);
}

/* A time range keeps the postings with from <= timestamp <= to. */
static void test_history_time_range(void **state) {
    struct fx *f = *state;
    ortak_time_ns t[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fx_xfer(f, 11u + (unsigned)i, ACC_A, ACC_C, 10u * (unsigned)(i + 1)), ORTAK_OK);
        t[i] = f->now;
    }
    struct page pg = {.cursor = 0};
    fx_history(f, ACC_C, t[1], t[1], PAGE_MAX, &pg);
    assert_int_equal(pg.n, 1);
    assert_posting(&pg.p[0], 12, ACC_A, 20, 30);
    fx_history(f, ACC_C, t[0] + 1, t[2] - 1, PAGE_MAX, &pg);
    assert_int_equal(pg.n, 1);
    assert_true(pg.p[0].transfer_id == 12);
    fx_history(f, ACC_C, t[1], UINT64_MAX, PAGE_MAX, &pg);
    assert_int_equal(pg.n, 2);
    assert_posting(&pg.p[1], 13, ACC_A, 30, 60);
    fx_history(f, ACC_C, 0, t[0], PAGE_MAX, &pg);
    assert_int_equal(pg.n, 1);
    assert_posting(&pg.p[0], 11, ACC_A, 10, 10);
    fx_history(f, ACC_C, t[2] + 1, UINT64_MAX, PAGE_MAX, &pg);
    assert_int_equal(pg.n, 0);
    assert_int_equal(pg.cursor, 0);
    fx_history(f, ACC_C, 0, t[0] - 1, PAGE_MAX, &pg);
    assert_int_equal(pg.n, 0);
    assert_false(pg.truncated);
}

/* Small pages with the cursor read the same postings as one large page, then the cursor returns to 0. */
static void test_history_paging(void **state) {
    struct fx *f = *state;
    for (unsigned i = 0; i < 10; i++) assert_int_equal(fx_xfer(f, 11 + i, ACC_A, ACC_B, 1 + i), ORTAK_OK);
    struct page all = {.cursor = 0};
    fx_history(f, ACC_B, 0, UINT64_MAX, PAGE_MAX, &all);
    assert_int_equal(all.n, 11);
    assert_posting(&all.p[10], 20, ACC_A, 10, FUND_B + 55);
    struct page pg = {.cursor = 0};
    uint32_t seen = 0, pages = 0;
    do {
        fx_history(f, ACC_B, 0, UINT64_MAX, 3, &pg);
        assert_true(pg.n == 3 || (pg.n == 2 && pg.cursor == 0));
        for (uint32_t i = 0; i < pg.n; i++) assert_int_equal(pg.p[i].seq, all.p[seen + i].seq);
        seen += pg.n;
        pages++;
    } while (pg.cursor != 0);
    assert_int_equal(seen, 11);
    assert_int_equal(pages, 4);
    /* A page that ends exactly at the range's end returns cursor 0. */
    pg.cursor = 0;
    fx_history(f, ACC_B, 0, all.p[2].timestamp, 3, &pg);
    assert_int_equal(pg.n, 3);
    assert_int_equal(pg.cursor, 0);
}

/* History of an unknown account is ACCOUNT_NOT_FOUND; of an account without postings, empty. */
static void test_history_not_found(void **state) {
    struct fx *f = *state;
    struct ortak_posting p[2];
    uint32_t n = 7;
    bool truncated = true;
    uint64_t cursor = 0;
    assert_int_equal(ortak_ledger_history(fx_ledger(f), ACC_NONE, 0, UINT64_MAX, &cursor, p, 2, &n, &truncated),
                     ORTAK_ACCOUNT_NOT_FOUND);
    assert_int_equal(n, 0);
    struct page pg = {.cursor = 0};
    fx_history(f, ACC_C, 0, UINT64_MAX, PAGE_MAX, &pg);
    assert_int_equal(pg.n, 0);
    assert_false(pg.truncated);
}

/* A failed chain leaves no postings. */
static void test_history_failed_chain(void **state) {
    struct fx *f = *state;
    const ortak_time_ns t = fx_t(f);
    struct ortak_cmd c[2] = {tu_linked(tu_transfer(t, 11, ACC_A, ACC_C, 500, 0)),
                             tu_transfer(t, 12, ACC_C, ACC_B, 501, 0)};
    struct ortak_result r[2];
    fx_apply(f, c, 2, r);
    assert_int_equal(r[1].rc, ORTAK_INSUFFICIENT_FUNDS);
    struct page pg = {.cursor = 0};
    fx_history(f, ACC_A, 0, UINT64_MAX, PAGE_MAX, &pg);
    assert_int_equal(pg.n, 1);
    fx_history(f, ACC_C, 0, UINT64_MAX, PAGE_MAX, &pg);
    assert_int_equal(pg.n, 0);
    assert_int_equal(fx_xfer(f, 13, ACC_A, ACC_C, 500), ORTAK_OK);
    fx_history(f, ACC_C, 0, UINT64_MAX, PAGE_MAX, &pg);
    assert_int_equal(pg.n, 1);
    assert_posting(&pg.p[0], 13, ACC_A, 500, 500);
    assert_int_equal(pg.p[0].seq, 7); /* after the fixture's 0..5 and A's debit: the chain consumed none */
}

/* The fixture with room for only eight postings in memory (it writes six: seq 0..5). */
static int setup_short_history(void **state) {
    struct ortak_limits lim;
    fx_limits(&lim);
    lim.history_max = 8;
    return fx_setup_with(state, &lim);
}

/* Two A -> C transfers push the fixture's first two postings (seq 0: ISS, seq 1: A) out of memory. */
static void fx_evict_funding(struct fx *f) {
    assert_int_equal(fx_xfer(f, 11, ACC_A, ACC_C, 100), ORTAK_OK);
    assert_int_equal(fx_xfer(f, 12, ACC_A, ACC_C, 200), ORTAK_OK);
}

/* When history_max postings are held, older ones leave memory: a range reaching back to them answers what is
 * held and sets `truncated`; accounts whose postings are all held are not truncated. */
static void test_history_truncated(void **state) {
    struct fx *f = *state;
    fx_evict_funding(f);
    struct page pg = {.cursor = 0};
    fx_history(f, ACC_A, 0, UINT64_MAX, PAGE_MAX, &pg);
    assert_int_equal(pg.n, 2);
    assert_true(pg.truncated);
    assert_posting(&pg.p[0], 11, ACC_C, -100, FUND_A - 100);
    assert_posting(&pg.p[1], 12, ACC_C, -200, FUND_A - 300);
    fx_history(f, ACC_ISS, 0, UINT64_MAX, PAGE_MAX, &pg);
    assert_int_equal(pg.n, 1);
    assert_true(pg.truncated);
    assert_posting(&pg.p[0], 9002, ACC_B, -FUND_B, -(FUND_A + FUND_B));
    fx_history(f, ACC_B, 0, UINT64_MAX, PAGE_MAX, &pg);
    assert_int_equal(pg.n, 1);
    assert_false(pg.truncated);
    fx_history(f, ACC_C, 0, UINT64_MAX, PAGE_MAX, &pg);
    assert_int_equal(pg.n, 2);
    assert_false(pg.truncated);
    assert_balances(f->e, ACC_A, 300, FUND_A, 0, 0);
    assert_balances(f->e, ACC_C, 0, 300, 0, 0);
}

/* `truncated` means the range reaches back before the oldest posting held: a range that starts at (or after)
 * the time of everything held, with every evicted posting older than its start, is complete. */
static void test_history_truncated_only_when_range_reaches_back(void **state) {
    struct fx *f = *state;
    fx_evict_funding(f);
    struct page pg = {.cursor = 0};
    fx_history(f, ACC_A, 0, UINT64_MAX, PAGE_MAX, &pg);
    const ortak_time_ns first_held = pg.p[0].timestamp; /* transfer 11; the evicted funding is older */
    pg.cursor = 0;
    fx_history(f, ACC_A, first_held, UINT64_MAX, PAGE_MAX, &pg);
    assert_int_equal(pg.n, 2);
    assert_false(pg.truncated);
}

/* A cursor whose page has left memory since it was handed out answers nothing more and sets `truncated`. */
static void test_history_cursor_evicted(void **state) {
    struct fx *f = *state;
    fx_evict_funding(f);
    struct page pg = {.cursor = 0};
    fx_history(f, ACC_C, 0, UINT64_MAX, 1, &pg);
    assert_int_equal(pg.n, 1);
    assert_true(pg.cursor != 0);
    for (unsigned i = 0; i < 4; i++) assert_int_equal(fx_xfer(f, 20 + i, ACC_A, ACC_B, 1), ORTAK_OK);
    fx_history(f, ACC_C, 0, UINT64_MAX, PAGE_MAX, &pg);
    assert_int_equal(pg.n, 0);
    assert_true(pg.truncated);
    assert_int_equal(pg.cursor, 0);
    /* A fresh query: C's postings are gone, the answer says so. */
    fx_history(f, ACC_C, 0, UINT64_MAX, PAGE_MAX, &pg);
    assert_int_equal(pg.n, 0);
    assert_true(pg.truncated);
    fx_history(f, ACC_B, 0, UINT64_MAX, PAGE_MAX, &pg);
    assert_int_equal(pg.n, 4);
    assert_true(pg.truncated);
    assert_posting(&pg.p[3], 23, ACC_A, 1, FUND_B + 4);
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define TIGHT(fn) cmocka_unit_test_setup_teardown(fn, setup_tight, teardown)
#define SHORT(fn) cmocka_unit_test_setup_teardown(fn, setup_short_history, teardown)
    const struct CMUnitTest tests[] = {
        T(test_fixture_state),
        T(test_plain_transfer_posts),
        T(test_transfer_not_found),
        T(test_bic_invalid),
        T(test_bic_valid),
        T(test_bic8_and_bic11_xxx_same_participant),
        T(test_name_invalid),
        T(test_country_invalid),
        T(test_role_invalid),
        T(test_participant_exists),
        T(test_participant_not_found),
        T(test_status_invalid),
        T(test_suspended_participant),
        T(test_account_id_invalid),
        T(test_account_kind_invalid),
        T(test_account_exists),
        T(test_account_kind_taken),
        T(test_account_not_found),
        T(test_account_closed),
        T(test_account_not_empty),
        T(test_issuance_not_agent),
        T(test_currency_unknown),
        T(test_issuance_goes_negative),
        T(test_insufficient_funds),
        T(test_collateral_floor),
        T(test_transfer_id_invalid),
        T(test_flags_invalid),
        T(test_pending_id_invalid),
        T(test_timeout_invalid),
        T(test_amount_zero),
        T(test_amount_overflow),
        T(test_same_account),
        T(test_currency_mismatch),
        T(test_check_order),
        T(test_replay_identical),
        T(test_exists_different),
        T(test_refused_stays_refused),
        T(test_credit_line_floor),
        T(test_credit_line_in_use),
        T(test_negative_amount),
        T(test_kind_not_allowed),
        T(test_reservation),
        T(test_reservation_with_credit_line),
        T(test_pending_holds),
        T(test_pending_post_full),
        T(test_pending_post_partial),
        T(test_pending_void),
        T(test_pending_not_found),
        T(test_pending_not_pending),
        T(test_pending_already_posted),
        T(test_pending_already_voided),
        T(test_pending_expiry),
        T(test_pending_expires_before_command),
        T(test_pending_amount_exceeds),
        T(test_pending_different),
        T(test_pending_expiry_order),
        T(test_chain_commits),
        T(test_chain_spends_earlier_credit),
        T(test_chain_all_or_nothing),
        T(test_chain_results_after_failure),
        T(test_chain_open_at_batch_end),
        T(test_chain_open_before_other_command),
        T(test_chain_rolls_back_hold),
        T(test_chain_rolls_back_post),
        T(test_chain_post_of_expired_hold),
        T(test_chain_replay),
        T(test_chain_time_backwards),
        T(test_chain_hold_and_post),
        T(test_time_backwards),
        T(test_command_unknown),
        T(test_batch_too_large),
        T(test_rc_strings),
        T(test_enum_names),
        T(test_state_hash),
        T(test_history_oldest_first),
        T(test_history_pending),
        T(test_history_time_range),
        T(test_history_paging),
        T(test_history_not_found),
        T(test_history_failed_chain),
        SHORT(test_history_truncated),
        SHORT(test_history_truncated_only_when_range_reaches_back),
        SHORT(test_history_cursor_evicted),
        TIGHT(test_accounts_full),
        TIGHT(test_participants_full),
        TIGHT(test_transfers_full),
        TIGHT(test_pendings_full),
        TIGHT(test_batch_max_tight),
    };
#undef T
#undef TIGHT
#undef SHORT
    return cmocka_run_group_tests(tests, NULL, NULL);
}
