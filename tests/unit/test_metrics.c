/*
 * Unit tests of the settlement metrics (metrics.h), driven through a real engine: liquidity upper and lower bounds,
 * liquidity used, the settlement delay indicator, settlement shares and counts.
 *
 * Fixture (setup): the default configuration with small limits, without offsetting and periodic gridlock
 * resolution unless a test turns them on; the Kazakh central bank with its KZT issuance account, four Kazakh banks
 * (A, B, C, D) with KZT settlement accounts, the Azerbaijani central bank and a bank with an AZN settlement account.
 * Before the day, A gets 1,000 and B 500 from the issuance account; C and D start empty. The day starts at DAY0;
 * the scenarios place each command at DAY0 + k seconds and every expected figure is computed by hand in the
 * comments next to it.
 *
 * Then a randomized check: 50 seeded random days (payments among six banks, some refused, some cancelled, timeouts,
 * a cut-off, offsetting and gridlock runs on some days) compared field by field with a slow recomputation from the
 * public queries (quadratic, straight from the definitions), with the invariants that follow from the definitions:
 * LB <= UB; LB <= used when every accepted payment settled; used <= each bank's own liquidity, and so <= UB when
 * the banks were funded with at most their UB; rho in [0, 1]. The same figures come out of an engine reopened from
 * the encoded state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ortak/engine.h"
#include "ortak/metrics.h"
#include "test_util.h"

#define T0 (UINT64_C(1767225600) * ORTAK_NS_PER_S) /* 2026-01-01T00:00:00Z */
#define DAY0 (T0 + 100 * ORTAK_NS_PER_S)
#define AT(k) (DAY0 + (uint64_t)(k)*ORTAK_NS_PER_S)
#define S ORTAK_NS_PER_S

#define CB_KZ "NBRKKZKX"
#define CB_AZ "NABZAZ2X"
#define BANK_A "HSBKKZKX"
#define BANK_B "KCJBKZKX"
#define BANK_C "CASPKZKA"
#define BANK_D "ATYNKZKA"
#define BANK_E "TSESKZKA"
#define BANK_F "EURIKZKA"
#define BANK_AZ "IBAZAZ2X"

#define ACC_A ((ortak_u128)1)
#define ACC_B ((ortak_u128)2)
#define ACC_C ((ortak_u128)3)
#define ACC_D ((ortak_u128)4)
#define ACC_E ((ortak_u128)5)
#define ACC_F ((ortak_u128)6)
#define ACC_AZN ((ortak_u128)20)
#define ACC_ISS ((ortak_u128)100)
#define ACC_ISS_AZN ((ortak_u128)120)
#define ACC_NONE ((ortak_u128)777)

#define HU ORTAK_PRIORITY_HIGHLY_URGENT
#define URG ORTAK_PRIORITY_URGENT
#define NORM ORTAK_PRIORITY_NORMAL

#define ROWS_MAX 16

struct fx {
    struct ortak_engine *e;
    uint64_t next_xfer; /* ids of funding transfers */
    struct ortak_settle_metrics total;
    struct ortak_settle_metrics_account rows[ROWS_MAX];
    uint32_t nrows;
};

/* ---- fixture ----------------------------------------------------------------------------------------------- */

static struct ortak_config fx_config(bool offsetting) {
    struct ortak_config cfg;
    ortak_config_default(&cfg);
    cfg.limits.participants_max = 16;
    cfg.limits.accounts_max = 64;
    cfg.limits.transfers_max = 8192;
    cfg.limits.pending_max = 16;
    cfg.limits.history_max = 256;
    cfg.limits.batch_max = 256;
    cfg.limits.payments_max = 4096;
    cfg.settlement.offsetting = offsetting;
    cfg.settlement.gridlock_interval_ms = 0;
    return cfg;
}

static void fx_ok(struct fx *f, struct ortak_cmd c) { assert_int_equal(tu_apply1_rc(f->e, c), ORTAK_OK); }

/* Participants and accounts, then (with `fund`) A's, B's and the AZN bank's liquidity, all before DAY0. */
static void fx_build(struct fx *f, bool fund) {
    ortak_time_ns t = T0;
    static const struct {
        const char *bic, *name;
        uint8_t role;
    } parts[] = {
        {CB_KZ, "National Bank of Kazakhstan", ORTAK_ROLE_CENTRAL_BANK},
        {CB_AZ, "Central Bank of the Republic of Azerbaijan", ORTAK_ROLE_CENTRAL_BANK},
        {BANK_A, "Halyk Bank", ORTAK_ROLE_BANK},
        {BANK_B, "Kaspi Bank", ORTAK_ROLE_BANK},
        {BANK_C, "Bank CenterCredit", ORTAK_ROLE_BANK},
        {BANK_D, "Altyn Bank", ORTAK_ROLE_BANK},
        {BANK_E, "First Heartland Jusan Bank", ORTAK_ROLE_BANK},
        {BANK_F, "Eurasian Bank", ORTAK_ROLE_BANK},
        {BANK_AZ, "International Bank of Azerbaijan", ORTAK_ROLE_BANK},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        fx_ok(f, tu_participant(t += S, parts[i].bic, parts[i].name, parts[i].role));
    fx_ok(f, tu_account(t += S, ACC_ISS, CB_KZ, "KZT", ORTAK_ACCOUNT_ISSUANCE));
    fx_ok(f, tu_account(t += S, ACC_ISS_AZN, CB_AZ, "AZN", ORTAK_ACCOUNT_ISSUANCE));
    /* Created out of id order, so that rows sorted by id differ from creation order. */
    fx_ok(f, tu_account(t += S, ACC_F, BANK_F, "KZT", ORTAK_ACCOUNT_SETTLEMENT));
    fx_ok(f, tu_account(t += S, ACC_D, BANK_D, "KZT", ORTAK_ACCOUNT_SETTLEMENT));
    fx_ok(f, tu_account(t += S, ACC_C, BANK_C, "KZT", ORTAK_ACCOUNT_SETTLEMENT));
    fx_ok(f, tu_account(t += S, ACC_B, BANK_B, "KZT", ORTAK_ACCOUNT_SETTLEMENT));
    fx_ok(f, tu_account(t += S, ACC_A, BANK_A, "KZT", ORTAK_ACCOUNT_SETTLEMENT));
    fx_ok(f, tu_account(t += S, ACC_E, BANK_E, "KZT", ORTAK_ACCOUNT_SETTLEMENT));
    fx_ok(f, tu_account(t += S, ACC_AZN, BANK_AZ, "AZN", ORTAK_ACCOUNT_SETTLEMENT));
    if (!fund) return;
    fx_ok(f, tu_transfer(t += S, 9001, ACC_ISS, ACC_A, 1000, 0));
    fx_ok(f, tu_transfer(t += S, 9002, ACC_ISS, ACC_B, 500, 0));
    fx_ok(f, tu_transfer(t += S, 9003, ACC_ISS_AZN, ACC_AZN, 700, 0));
    assert_true(t < DAY0);
}

static int fx_open(void **state, bool offsetting) {
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    struct ortak_config cfg = fx_config(offsetting);
    assert_int_equal(ortak_engine_open(&cfg, &f->e), ORTAK_OK);
    fx_build(f, true);
    *state = f;
    return 0;
}

static int setup(void **state) { return fx_open(state, false); }
static int setup_offsetting(void **state) { return fx_open(state, true); }

static int teardown(void **state) {
    struct fx *f = *state;
    ortak_engine_close(f->e);
    free(f);
    return 0;
}

/* ---- helpers ----------------------------------------------------------------------------------------------- */

/* Submits a payment at `ts`; asserts its result code and flags. */
static void check_pay(struct fx *f, ortak_time_ns ts, uint64_t id, ortak_u128 dr, ortak_u128 cr, uint64_t amount,
                      uint8_t pr, ortak_rc rc, uint32_t flags, const char *file, int line) {
    struct ortak_cmd c = tu_payment(ts, id, dr, cr, amount, pr);
    struct ortak_result r = tu_apply1(f->e, &c);
    if (r.rc == (uint32_t)rc && r.flags == flags) return;
    print_error("payment %llu: rc %s flags %u, expected %s flags %u\n", (unsigned long long)id,
                ortak_rc_name((ortak_rc)r.rc), r.flags, ortak_rc_name(rc), flags);
    _fail(file, line);
}
#define pay_settles(f, ts, id, dr, cr, amount, pr) \
    check_pay(f, ts, id, dr, cr, amount, pr, ORTAK_OK, 0, __FILE__, __LINE__)
#define pay_queues(f, ts, id, dr, cr, amount, pr) \
    check_pay(f, ts, id, dr, cr, amount, pr, ORTAK_OK, ORTAK_RESULT_QUEUED, __FILE__, __LINE__)
#define pay_refused(f, ts, id, dr, cr, amount, pr, rc) \
    check_pay(f, ts, id, dr, cr, amount, pr, rc, 0, __FILE__, __LINE__)

static void fx_fund(struct fx *f, ortak_time_ns ts, ortak_u128 to, uint64_t amount) {
    fx_ok(f, tu_transfer(ts, 5000 + f->next_xfer++, ACC_ISS, to, amount, 0));
}

static void check_state(const struct fx *f, uint64_t id, uint8_t state, ortak_time_ns ended_ns, const char *file,
                        int line) {
    struct ortak_payment_info p;
    if (ortak_settle_payment_get(ortak_engine_settle(f->e), id, &p) == ORTAK_OK && p.state == state &&
        p.ended_ns == ended_ns)
        return;
    print_error("payment %llu: state %s ended %llu, expected %s ended %llu\n", (unsigned long long)id,
                ortak_payment_state_name(p.state), (unsigned long long)p.ended_ns, ortak_payment_state_name(state),
                (unsigned long long)ended_ns);
    _fail(file, line);
}
/* The engine did what the hand computation assumes. */
#define assert_payment(f, id, state, ended_ns) check_state(f, id, state, ended_ns, __FILE__, __LINE__)

/* Computes the KZT metrics of [start, end) into f; asserts ORTAK_OK. */
static void fx_metrics(struct fx *f, ortak_time_ns start, ortak_time_ns end) {
    memset(f->rows, 0xa5, sizeof f->rows); /* rows beyond nrows must stay untouched */
    assert_int_equal(ortak_settle_metrics_compute(f->e, "KZT", start, end, &f->total, f->rows, ROWS_MAX, &f->nrows),
                     ORTAK_OK);
}

/* The row of account `id`, which must exist. */
static const struct ortak_settle_metrics_account *fx_row(const struct fx *f, ortak_u128 id) {
    for (uint32_t i = 0; i < f->nrows && i < ROWS_MAX; i++)
        if (f->rows[i].account_id == id) return &f->rows[i];
    fail_msg("no row for account %llu", (unsigned long long)id);
    return NULL;
}

/* Compares every field of `got` with `want`, printing each difference. */
static bool metrics_equal(const struct ortak_settle_metrics *got, const struct ortak_settle_metrics *want,
                          const char *what) {
    bool ok = true;
    char a[41], b[41];
#define CMP_I(field)                                                                                     \
    if (got->field != want->field) {                                                                     \
        print_error("%s: " #field " %s, expected %s\n", what, ortak_i128_dec((ortak_i128)got->field, a), \
                    ortak_i128_dec((ortak_i128)want->field, b));                                         \
        ok = false;                                                                                      \
    }
    CMP_I(liquidity_upper)
    CMP_I(liquidity_lower)
    CMP_I(liquidity_used)
    CMP_I(accepted_count)
    CMP_I(settled_count)
    CMP_I(queued_count)
    CMP_I(cancelled_count)
    CMP_I(rejected_count)
    CMP_I(refused_count)
    CMP_I(accepted_value)
    CMP_I(settled_value)
    CMP_I(settled_count_ppm)
    CMP_I(settled_value_ppm)
    CMP_I(delay_unit_ns)
    CMP_I(delay_ppm)
#undef CMP_I
    if (got->delay_num != want->delay_num || got->delay_den != want->delay_den) {
        char h1[33], h2[33], h3[33], h4[33];
        print_error("%s: delay %s / %s (hex), expected %s / %s\n", what, ortak_u128_hex(got->delay_num, h1),
                    ortak_u128_hex(got->delay_den, h2), ortak_u128_hex(want->delay_num, h3),
                    ortak_u128_hex(want->delay_den, h4));
        ok = false;
    }
    return ok;
}

static void check_total(const struct fx *f, struct ortak_settle_metrics want, const char *file, int line) {
    if (want.delay_unit_ns == 0) want.delay_unit_ns = 1;
    if (!metrics_equal(&f->total, &want, "total")) _fail(file, line);
}
/* The total: fields not named are 0, except the delay unit (1 ns unless named). */
#define assert_total(f, ...) check_total(f, (struct ortak_settle_metrics){__VA_ARGS__}, __FILE__, __LINE__)

/* Received figures of a row: count, settled count, value, settled value. */
struct xrecv {
    uint32_t count, settled_count;
    int64_t value, settled_value;
};

static void check_row(const struct fx *f, ortak_u128 id, const char *bic, struct ortak_settle_metrics want,
                      struct xrecv recv, const char *file, int line) {
    const struct ortak_settle_metrics_account *r = fx_row(f, id);
    if (want.delay_unit_ns == 0) want.delay_unit_ns = 1;
    char what[32];
    snprintf(what, sizeof what, "account %llu", (unsigned long long)id);
    bool ok = metrics_equal(&r->m, &want, what);
    if (strcmp(r->bic, bic) != 0 || r->received_count != recv.count ||
        r->received_settled_count != recv.settled_count || r->received_value != recv.value ||
        r->received_settled_value != recv.settled_value) {
        print_error("%s: bic %s received %u/%u, expected %s %u/%u (values in the struct)\n", what, r->bic,
                    r->received_count, r->received_settled_count, bic, recv.count, recv.settled_count);
        ok = false;
    }
    if (!ok) _fail(file, line);
}
#define M(...) ((struct ortak_settle_metrics){__VA_ARGS__})
#define R(...) ((struct xrecv){__VA_ARGS__})
/* A row: its account, its participant, its figures (M(...)) and what it received (R(count, settled, value, ...)). */
#define assert_row(f, id, bic, m, r) check_row(f, id, bic, m, r, __FILE__, __LINE__)

/* The rows are exactly these accounts, in this (id) order. */
static void check_row_ids(const struct fx *f, const ortak_u128 *want, uint32_t n, const char *file, int line) {
    bool ok = f->nrows == n;
    for (uint32_t i = 0; ok && i < n; i++) ok = f->rows[i].account_id == want[i];
    if (ok) return;
    print_error("rows: got %u [", f->nrows);
    for (uint32_t i = 0; i < f->nrows && i < ROWS_MAX; i++)
        print_error(" %llu", (unsigned long long)f->rows[i].account_id);
    print_error(" ], expected %u\n", n);
    _fail(file, line);
}
#define assert_rows(f, ...)                                                                      \
    do {                                                                                         \
        const ortak_u128 want_[] = {__VA_ARGS__};                                                \
        check_row_ids(f, want_, (uint32_t)(sizeof want_ / sizeof want_[0]), __FILE__, __LINE__); \
    } while (0)

/* ---- 1. a day of FIFO settlement --------------------------------------------------------------------------- */

/*
 * The day of the first tests. Liquidity before it: A 1,000, B 500, C and D 0.
 *   k=1   P1 A->B 300 normal     settles (A 700, B 800)
 *   k=2   P2 C->D 200 normal     queues (C has 0)
 *   k=3   P3 C->A 100 normal     queues behind P2
 *   k=4   P4 B->C 250 normal     settles (B 550, C 250); C's queue releases P2 (C 50, D 200); P3 waits (50 < 100)
 *   k=5   P5 D->B 900 normal     queues (D has 200)
 *   k=6   P6 D->C 50 urgent      settles (nothing urgent queued at D; D 150, C 100); C releases P3 (C 0, A 800)
 *   k=7   cancel P5
 *   k=8   P7 C->B 80 normal      queues (C has 0)
 *   k=9   cut-off of normal      P7 rejected (REJECTED_AT_CUTOFF)
 *   k=10  P8 A->B 10 normal      refused at submission (CUTOFF_PASSED)
 *   k=11  P9 A->D 40 urgent      settles
 */
static void fx_day(struct fx *f) {
    pay_settles(f, AT(1), 1, ACC_A, ACC_B, 300, NORM);
    pay_queues(f, AT(2), 2, ACC_C, ACC_D, 200, NORM);
    pay_queues(f, AT(3), 3, ACC_C, ACC_A, 100, NORM);
    pay_settles(f, AT(4), 4, ACC_B, ACC_C, 250, NORM);
    pay_queues(f, AT(5), 5, ACC_D, ACC_B, 900, NORM);
    pay_settles(f, AT(6), 6, ACC_D, ACC_C, 50, URG);
    fx_ok(f, tu_cancel(AT(7), 5));
    pay_queues(f, AT(8), 7, ACC_C, ACC_B, 80, NORM);
    fx_ok(f, tu_cutoff(AT(9), 1u << NORM, 0));
    pay_refused(f, AT(10), 8, ACC_A, ACC_B, 10, NORM, ORTAK_CUTOFF_PASSED);
    pay_settles(f, AT(11), 9, ACC_A, ACC_D, 40, URG);
    assert_payment(f, 2, ORTAK_PAYMENT_SETTLED, AT(4));
    assert_payment(f, 3, ORTAK_PAYMENT_SETTLED, AT(6));
    assert_payment(f, 5, ORTAK_PAYMENT_CANCELLED, AT(7));
    assert_payment(f, 7, ORTAK_PAYMENT_REJECTED, AT(9));
    assert_payment(f, 8, ORTAK_PAYMENT_REJECTED, AT(10));
}

static void test_day(void **state) {
    struct fx *f = *state;
    fx_day(f);
    fx_metrics(f, DAY0, AT(12));
    /*
     * Accepted: P1-P7 and P9 (P8 was refused). At day end: settled P1 P2 P3 P4 P6 P9, P5 cancelled, P7 rejected.
     * Delay, in seconds (x 10^9 ns), day end k=12:
     *   P1 300 (1->1) 0/3300   P2 200 (2->4) 400/2000   P3 100 (3->6) 300/900   P4 250 (4->4) 0/2000
     *   P5 900 (5->end) 6300/6300   P6 50 (6->6) 0/300   P7 80 (8->end) 320/320   P9 40 (11->11) 0/40
     *   rho = 7320 / 15160 = 0.4828496 -> 482,850 ppm
     * Arrival order (UB), cumulative sent - received after each payment:
     *   P1 A 300 B -300 | P2 C 200 D -200 | P3 C 300 A 200 | P4 B -50 C 50 | P5 D 700 B -950 | P6 D 750 C 0 |
     *   P7 C 80 B -1030 | P9 A 240 D 710
     *   UB: A 300, B 0, C 300, D 750 (1,350); LB from the last: A 240, B 0, C 80, D 710 (1,030)
     * Settlement order (used), one step per instant:
     *   k=1 P1: A 300 B -300 | k=4 P4 P2: B -50 C -50 D -200 | k=6 P6 P3: D -150 C 0 A 200 | k=11 P9: A 240 D -190
     *   used: A 300, others 0
     */
    assert_total(f, .liquidity_upper = 1350, .liquidity_lower = 1030, .liquidity_used = 300, .accepted_count = 8,
                 .settled_count = 6, .cancelled_count = 1, .rejected_count = 1, .refused_count = 1,
                 .accepted_value = 1920, .settled_value = 940, .settled_count_ppm = 750000,
                 .settled_value_ppm = 489583, /* 940 / 1920 = 0.48958333 */
                 .delay_num = (ortak_u128)7320 * S, .delay_den = (ortak_u128)15160 * S, .delay_ppm = 482850);
    assert_rows(f, ACC_A, ACC_B, ACC_C, ACC_D);
    assert_row(f, ACC_A, BANK_A,
               M(.liquidity_upper = 300, .liquidity_lower = 240, .liquidity_used = 300, .accepted_count = 2,
                 .settled_count = 2, .refused_count = 1, .accepted_value = 340, .settled_value = 340,
                 .settled_count_ppm = 1000000, .settled_value_ppm = 1000000, .delay_den = (ortak_u128)3340 * S),
               R(1, 1, 100, 100));
    assert_row(f, ACC_B, BANK_B,
               M(.accepted_count = 1, .settled_count = 1, .accepted_value = 250, .settled_value = 250,
                 .settled_count_ppm = 1000000, .settled_value_ppm = 1000000, .delay_den = (ortak_u128)2000 * S),
               R(3, 1, 1280, 300));
    /* C: 2 of 3 settled (666,667 ppm), 300 of 380 (789,474), delay 1020 / 3220 (316,770). */
    assert_row(f, ACC_C, BANK_C,
               M(.liquidity_upper = 300, .liquidity_lower = 80, .accepted_count = 3, .settled_count = 2,
                 .rejected_count = 1, .accepted_value = 380, .settled_value = 300, .settled_count_ppm = 666667,
                 .settled_value_ppm = 789474, .delay_num = (ortak_u128)1020 * S, .delay_den = (ortak_u128)3220 * S,
                 .delay_ppm = 316770),
               R(2, 2, 300, 300));
    /* D: 50 of 950 settled (52,632 ppm), delay 6300 / 6600 (954,545). */
    assert_row(f, ACC_D, BANK_D,
               M(.liquidity_upper = 750, .liquidity_lower = 710, .accepted_count = 2, .settled_count = 1,
                 .cancelled_count = 1, .accepted_value = 950, .settled_value = 50, .settled_count_ppm = 500000,
                 .settled_value_ppm = 52632, .delay_num = (ortak_u128)6300 * S, .delay_den = (ortak_u128)6600 * S,
                 .delay_ppm = 954545),
               R(2, 2, 240, 240));
}

/* The same day seen up to k=5: P1-P4 count; P3, settled at k=6, was still queued at the end. */
static void test_day_window_end(void **state) {
    struct fx *f = *state;
    fx_day(f);
    fx_metrics(f, DAY0, AT(5));
    /*
     * Delay, day end k=5: P1 0/1200, P2 200x2 = 400 / 200x3 = 600, P3 100x2 = 200 / 200, P4 0/250: 600 / 2250.
     * UB as before up to P4: A 300, C 300; LB: A 300 - 100 = 200, C 50. Used: P1, then P4 and P2 at k=4.
     */
    assert_total(f, .liquidity_upper = 600, .liquidity_lower = 250, .liquidity_used = 300, .accepted_count = 4,
                 .settled_count = 3, .queued_count = 1, .accepted_value = 850, .settled_value = 750,
                 .settled_count_ppm = 750000, .settled_value_ppm = 882353, .delay_num = (ortak_u128)600 * S,
                 .delay_den = (ortak_u128)2250 * S, .delay_ppm = 266667);
    assert_rows(f, ACC_A, ACC_B, ACC_C, ACC_D);
    assert_row(f, ACC_A, BANK_A,
               M(.liquidity_upper = 300, .liquidity_lower = 200, .liquidity_used = 300, .accepted_count = 1,
                 .settled_count = 1, .accepted_value = 300, .settled_value = 300, .settled_count_ppm = 1000000,
                 .settled_value_ppm = 1000000, .delay_den = (ortak_u128)1200 * S),
               R(1, 0, 100, 0));
    assert_row(f, ACC_B, BANK_B,
               M(.accepted_count = 1, .settled_count = 1, .accepted_value = 250, .settled_value = 250,
                 .settled_count_ppm = 1000000, .settled_value_ppm = 1000000, .delay_den = (ortak_u128)250 * S),
               R(1, 1, 300, 300));
    assert_row(f, ACC_C, BANK_C,
               M(.liquidity_upper = 300, .liquidity_lower = 50, .accepted_count = 2, .settled_count = 1,
                 .queued_count = 1, .accepted_value = 300, .settled_value = 200, .settled_count_ppm = 500000,
                 .settled_value_ppm = 666667, .delay_num = (ortak_u128)600 * S, .delay_den = (ortak_u128)800 * S,
                 .delay_ppm = 750000),
               R(1, 1, 250, 250));
    assert_row(f, ACC_D, BANK_D, M(.delay_den = 0), R(1, 1, 200, 200)); /* only received: no ratio (0 ppm) */

    /* From k=10: the refusal P8 and P9 only. */
    fx_metrics(f, AT(10), AT(12));
    assert_total(f, .liquidity_upper = 40, .liquidity_lower = 40, .liquidity_used = 40, .accepted_count = 1,
                 .settled_count = 1, .refused_count = 1, .accepted_value = 40, .settled_value = 40,
                 .settled_count_ppm = 1000000, .settled_value_ppm = 1000000, .delay_den = (ortak_u128)40 * S);
    assert_rows(f, ACC_A, ACC_D);
    /* The day after: nothing. */
    fx_metrics(f, AT(12), AT(100));
    assert_total(f, .accepted_count = 0);
    assert_int_equal(f->nrows, 0);
    /*
     * A window ending the instant P3 settles counts it as settled, with its whole wait as its delay; P5, cancelled
     * after it, was still queued. Delay, day end k=6: P3 300/300, P4 0/500, P5 900/900: 1200 / 1700.
     * UB: C 100, B 250, D 900; LB: D 900. Used: P4 at k=4 (B 250), P3 at k=6.
     */
    fx_metrics(f, AT(3), AT(6));
    assert_total(f, .liquidity_upper = 1250, .liquidity_lower = 900, .liquidity_used = 250, .accepted_count = 3,
                 .settled_count = 2, .queued_count = 1, .accepted_value = 1250, .settled_value = 350,
                 .settled_count_ppm = 666667, .settled_value_ppm = 280000, .delay_num = (ortak_u128)1200 * S,
                 .delay_den = (ortak_u128)1700 * S, .delay_ppm = 705882);
    assert_rows(f, ACC_A, ACC_B, ACC_C, ACC_D);
}

/* ---- 2. used against the bounds ---------------------------------------------------------------------------- */

/*
 * Liquidity used can exceed the upper bound: UB assumes every payment settles on arrival, incoming ones included,
 * while A here pays out of its own liquidity before a payment to it, which arrived first, settles.
 *   k=1  P1 C->A 100   queues (C has 0)
 *   k=2  P2 A->D 100   settles out of A's 1,000
 *   k=3  C gets 100    P1 settles
 * Arrival order: P1 C 100 A -100 | P2 A 0 D -100: UB A 0, C 100; LB A 0, C 100.
 * Settlement order: k=2 P2 A 100 D -100 | k=3 P1 C 100 A 0: used A 100, C 100 (total 200 > UB 100).
 * Every payment settled, so LB <= used still holds. Delay, day end k=4: P1 100x2 / 100x3, P2 0 / 100x2.
 */
static void test_used_above_upper(void **state) {
    struct fx *f = *state;
    pay_queues(f, AT(1), 1, ACC_C, ACC_A, 100, NORM);
    pay_settles(f, AT(2), 2, ACC_A, ACC_D, 100, NORM);
    fx_fund(f, AT(3), ACC_C, 100);
    assert_payment(f, 1, ORTAK_PAYMENT_SETTLED, AT(3));
    fx_metrics(f, DAY0, AT(4));
    assert_total(f, .liquidity_upper = 100, .liquidity_lower = 100, .liquidity_used = 200, .accepted_count = 2,
                 .settled_count = 2, .accepted_value = 200, .settled_value = 200, .settled_count_ppm = 1000000,
                 .settled_value_ppm = 1000000, .delay_num = (ortak_u128)200 * S, .delay_den = (ortak_u128)500 * S,
                 .delay_ppm = 400000);
    assert_rows(f, ACC_A, ACC_C, ACC_D);
    assert_row(f, ACC_A, BANK_A,
               M(.liquidity_used = 100, .accepted_count = 1, .settled_count = 1, .accepted_value = 100,
                 .settled_value = 100, .settled_count_ppm = 1000000, .settled_value_ppm = 1000000,
                 .delay_den = (ortak_u128)200 * S),
               R(1, 1, 100, 100));
    assert_row(f, ACC_C, BANK_C,
               M(.liquidity_upper = 100, .liquidity_lower = 100, .liquidity_used = 100, .accepted_count = 1,
                 .settled_count = 1, .accepted_value = 100, .settled_value = 100, .settled_count_ppm = 1000000,
                 .settled_value_ppm = 1000000, .delay_num = (ortak_u128)200 * S, .delay_den = (ortak_u128)300 * S,
                 .delay_ppm = 666667),
               R(0, 0, 0, 0));
    assert_row(f, ACC_D, BANK_D, M(.delay_den = 0), R(1, 1, 100, 100));
}

/*
 * Payments settled at the same instant are one step. With offsetting on entry:
 *   k=1  P1 C->D 100   queues (C has 0; D has nothing queued to C)
 *   k=2  P2 D->C 100   D has 0, but C's queue holds P1 to D: both settle together (P1 first, then P2)
 * Taken one payment at a time, C would be 100 out after P1; as one step, C and D end the instant where they began.
 * Arrival order: P1 C 100 D -100 | P2 D 0 C 0: UB C 100, D 0; LB 0. Used 0.
 * Delay, day end k=3: P1 100x1 / 100x2, P2 0 / 100x1: 100 / 300.
 */
static void test_offsetting_is_one_step(void **state) {
    struct fx *f = *state;
    pay_queues(f, AT(1), 1, ACC_C, ACC_D, 100, NORM);
    pay_settles(f, AT(2), 2, ACC_D, ACC_C, 100, NORM);
    assert_payment(f, 1, ORTAK_PAYMENT_SETTLED, AT(2));
    fx_metrics(f, DAY0, AT(3));
    assert_total(f, .liquidity_upper = 100, .accepted_count = 2, .settled_count = 2, .accepted_value = 200,
                 .settled_value = 200, .settled_count_ppm = 1000000, .settled_value_ppm = 1000000,
                 .delay_num = (ortak_u128)100 * S, .delay_den = (ortak_u128)300 * S, .delay_ppm = 333333);
    assert_rows(f, ACC_C, ACC_D);
    assert_row(f, ACC_C, BANK_C,
               M(.liquidity_upper = 100, .accepted_count = 1, .settled_count = 1, .accepted_value = 100,
                 .settled_value = 100, .settled_count_ppm = 1000000, .settled_value_ppm = 1000000,
                 .delay_num = (ortak_u128)100 * S, .delay_den = (ortak_u128)200 * S, .delay_ppm = 500000),
               R(1, 1, 100, 100));
    assert_row(f, ACC_D, BANK_D,
               M(.accepted_count = 1, .settled_count = 1, .accepted_value = 100, .settled_value = 100,
                 .settled_count_ppm = 1000000, .settled_value_ppm = 1000000, .delay_den = (ortak_u128)100 * S),
               R(1, 1, 100, 100));
}

/*
 * The same with gridlock resolution (offsetting off): P1 C->D 100 and P2 D->C 100 both queue; the operator's run
 * at k=3 settles them together. UB C 100, D 0; used 0. Delay, day end k=4: 100x2 + 100x1 / 100x3 + 100x2.
 */
static void test_gridlock_is_one_step(void **state) {
    struct fx *f = *state;
    pay_queues(f, AT(1), 1, ACC_C, ACC_D, 100, NORM);
    pay_queues(f, AT(2), 2, ACC_D, ACC_C, 100, NORM);
    struct ortak_cmd g = tu_cmd(AT(3), ORTAK_CMD_GRIDLOCK);
    memcpy(g.u.gridlock.currency, "KZT", 4);
    fx_ok(f, g);
    assert_payment(f, 1, ORTAK_PAYMENT_SETTLED, AT(3));
    assert_payment(f, 2, ORTAK_PAYMENT_SETTLED, AT(3));
    fx_metrics(f, DAY0, AT(4));
    assert_total(f, .liquidity_upper = 100, .accepted_count = 2, .settled_count = 2, .accepted_value = 200,
                 .settled_value = 200, .settled_count_ppm = 1000000, .settled_value_ppm = 1000000,
                 .delay_num = (ortak_u128)300 * S, .delay_den = (ortak_u128)500 * S, .delay_ppm = 600000);
    assert_int_equal(fx_row(f, ACC_C)->m.liquidity_used, 0);
    assert_int_equal(fx_row(f, ACC_D)->m.liquidity_used, 0);
}

/* Parts per million round half up: 1 of 2,000,000 settled by value is 0.5 ppm, reported as 1; 1 of 2,000,002 is 0. */
static void test_rounding(void **state) {
    struct fx *f = *state;
    pay_settles(f, AT(1), 1, ACC_A, ACC_B, 1, NORM);
    pay_queues(f, AT(2), 2, ACC_C, ACC_D, 1999999, NORM);
    pay_queues(f, AT(3), 3, ACC_C, ACC_D, 2, NORM);
    /* Delay, day end k=3: P1 0 / 1x2, P2 1999999 / 1999999: 1999999 / 2000001 = 0.9999990000005 -> 999,999. */
    fx_metrics(f, DAY0, AT(3));
    assert_total(f, .liquidity_upper = 2000000, .liquidity_lower = 2000000, .liquidity_used = 1, .accepted_count = 2,
                 .settled_count = 1, .queued_count = 1, .accepted_value = 2000000, .settled_value = 1,
                 .settled_count_ppm = 500000, .settled_value_ppm = 1, .delay_num = (ortak_u128)1999999 * S,
                 .delay_den = (ortak_u128)2000001 * S, .delay_ppm = 999999);
    /* Day end k=4: P1 0 / 3, P2 1999999x2 / same, P3 2 / 2: 4000000 / 4000003 = 0.99999925 -> 999,999. */
    fx_metrics(f, DAY0, AT(4));
    assert_total(f, .liquidity_upper = 2000002, .liquidity_lower = 2000002, .liquidity_used = 1, .accepted_count = 3,
                 .settled_count = 1, .queued_count = 2, .accepted_value = 2000002, .settled_value = 1,
                 .settled_count_ppm = 333333, .settled_value_ppm = 0, .delay_num = (ortak_u128)4000000 * S,
                 .delay_den = (ortak_u128)4000003 * S, .delay_ppm = 999999);
}

/* ---- 3. which payments count; the call's contract ---------------------------------------------------------- */

/*
 * Refusals count for the payer's settlement account of the currency; a payment from an unknown account or from an
 * issuance account counts nowhere; each currency sees only its own payments.
 *   k=1  AZN bank -> A 10      refused (CURRENCY_MISMATCH): an AZN refusal
 *   k=2  issuance -> A 10      refused (KIND_NOT_ALLOWED): counts nowhere
 *   k=3  unknown -> A 10       refused (ACCOUNT_NOT_FOUND): counts nowhere
 *   k=4  C -> unknown 10       refused (ACCOUNT_NOT_FOUND): C's
 *   k=5  A -> B 0              refused (AMOUNT_ZERO): A's
 *   k=6  P6 A -> B 70          settles
 *   k=7  P7 B -> A 20          settles
 */
static void fx_refusals(struct fx *f) {
    pay_refused(f, AT(1), 1, ACC_AZN, ACC_A, 10, NORM, ORTAK_CURRENCY_MISMATCH);
    pay_refused(f, AT(2), 2, ACC_ISS, ACC_A, 10, NORM, ORTAK_KIND_NOT_ALLOWED);
    pay_refused(f, AT(3), 3, ACC_NONE, ACC_A, 10, NORM, ORTAK_ACCOUNT_NOT_FOUND);
    pay_refused(f, AT(4), 4, ACC_C, ACC_NONE, 10, NORM, ORTAK_ACCOUNT_NOT_FOUND);
    pay_refused(f, AT(5), 5, ACC_A, ACC_B, 0, NORM, ORTAK_AMOUNT_ZERO);
    pay_settles(f, AT(6), 6, ACC_A, ACC_B, 70, NORM);
    pay_settles(f, AT(7), 7, ACC_B, ACC_A, 20, NORM);
}

static void test_refusals_and_currencies(void **state) {
    struct fx *f = *state;
    fx_refusals(f);
    fx_metrics(f, DAY0, AT(8));
    /* UB: A 70 (then 50), B 0; LB A 50. Used: A 70. Delay: 0 / (70x2 + 20x1). */
    assert_total(f, .liquidity_upper = 70, .liquidity_lower = 50, .liquidity_used = 70, .accepted_count = 2,
                 .settled_count = 2, .refused_count = 2, .accepted_value = 90, .settled_value = 90,
                 .settled_count_ppm = 1000000, .settled_value_ppm = 1000000, .delay_den = (ortak_u128)160 * S);
    assert_rows(f, ACC_A, ACC_B, ACC_C);
    assert_row(f, ACC_A, BANK_A,
               M(.liquidity_upper = 70, .liquidity_lower = 50, .liquidity_used = 70, .accepted_count = 1,
                 .settled_count = 1, .refused_count = 1, .accepted_value = 70, .settled_value = 70,
                 .settled_count_ppm = 1000000, .settled_value_ppm = 1000000, .delay_den = (ortak_u128)140 * S),
               R(1, 1, 20, 20));
    assert_row(f, ACC_C, BANK_C, M(.refused_count = 1), R(0, 0, 0, 0));

    assert_int_equal(ortak_settle_metrics_compute(f->e, "AZN", DAY0, AT(8), &f->total, f->rows, ROWS_MAX, &f->nrows),
                     ORTAK_OK);
    assert_total(f, .refused_count = 1);
    assert_rows(f, ACC_AZN);
    assert_row(f, ACC_AZN, BANK_AZ, M(.refused_count = 1), R(0, 0, 0, 0));
    /* A currency of the configuration without any account. */
    assert_int_equal(ortak_settle_metrics_compute(f->e, "TRY", DAY0, AT(8), &f->total, f->rows, ROWS_MAX, &f->nrows),
                     ORTAK_OK);
    assert_total(f, .refused_count = 0);
    assert_int_equal(f->nrows, 0);
}

/* The cap on rows, optional outputs, errors, and the engine left as it was. */
static void test_contract(void **state) {
    struct fx *f = *state;
    fx_refusals(f);
    uint8_t hash[32], hash_after[32];
    ortak_engine_state_hash(f->e, hash);
    struct ortak_settle_metrics full;
    fx_metrics(f, DAY0, AT(8));
    full = f->total;

    /* Two rows fit: the first two by id; the count says three; the total is whole; the third slot is untouched. */
    memset(f->rows, 0xa5, sizeof f->rows);
    uint32_t n = 0;
    assert_int_equal(ortak_settle_metrics_compute(f->e, "KZT", DAY0, AT(8), &f->total, f->rows, 2, &n), ORTAK_OK);
    assert_int_equal(n, 3);
    assert_true(f->rows[0].account_id == ACC_A && f->rows[1].account_id == ACC_B);
    uint8_t untouched[sizeof f->rows[2]];
    memset(untouched, 0xa5, sizeof untouched);
    assert_memory_equal(&f->rows[2], untouched, sizeof untouched);
    assert_true(metrics_equal(&f->total, &full, "capped total"));
    /* No rows wanted; no count wanted. */
    assert_int_equal(ortak_settle_metrics_compute(f->e, "KZT", DAY0, AT(8), &f->total, NULL, 0, &n), ORTAK_OK);
    assert_int_equal(n, 3);
    assert_true(metrics_equal(&f->total, &full, "total without rows"));
    assert_int_equal(ortak_settle_metrics_compute(f->e, "KZT", DAY0, AT(8), &f->total, f->rows, ROWS_MAX, NULL),
                     ORTAK_OK);

    /* Errors: the total is zeroed and the count is 0. */
    static const struct {
        const char *currency;
        ortak_time_ns start, end;
        ortak_rc rc;
    } bad[] = {
        {"XXX", DAY0, AT(8), ORTAK_CURRENCY_UNKNOWN}, {"kzt", DAY0, AT(8), ORTAK_CURRENCY_UNKNOWN},
        {"", DAY0, AT(8), ORTAK_CURRENCY_UNKNOWN},    {"KZT", AT(8), AT(8), ORTAK_INVALID},
        {"KZT", AT(8), DAY0, ORTAK_INVALID},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&f->total, 0xa5, sizeof f->total);
        n = 99;
        assert_int_equal(
            ortak_settle_metrics_compute(f->e, bad[i].currency, bad[i].start, bad[i].end, &f->total, f->rows, 1, &n),
            bad[i].rc);
        assert_int_equal(n, 0);
        static const struct ortak_settle_metrics zero;
        assert_memory_equal(&f->total, &zero, sizeof zero);
    }
    n = 99;
    assert_int_equal(ortak_settle_metrics_compute(NULL, "KZT", DAY0, AT(8), &f->total, NULL, 0, &n), ORTAK_INVALID);
    assert_int_equal(n, 0);
    assert_int_equal(ortak_settle_metrics_compute(f->e, NULL, DAY0, AT(8), &f->total, NULL, 0, &n), ORTAK_INVALID);
    assert_int_equal(ortak_settle_metrics_compute(f->e, "KZT", DAY0, AT(8), NULL, NULL, 0, &n), ORTAK_INVALID);
    assert_int_equal(ortak_settle_metrics_compute(f->e, "KZT", DAY0, AT(8), &f->total, NULL, 1, &n), ORTAK_INVALID);

    ortak_engine_state_hash(f->e, hash_after);
    assert_memory_equal(hash, hash_after, sizeof hash);
}

/* ---- 4. a slow recomputation from the definitions ---------------------------------------------------------- */

/*
 * Recomputes the metrics from the public queries alone, straight from the definitions in docs/settlement.md, in
 * quadratic time: every bound is a maximum over all prefixes, each summed afresh. Payments are looked up by id
 * 1..max_id, which the tests assign in submission order, so id order is recording order. A payment was accepted
 * unless it was rejected with a code other than those of a rejection after queueing (the tests close no account, so
 * no other code ends a queued payment). `unit_ns` is the delay unit to use; *overflow is set when the total delay
 * denominator does not fit 128 bits in it.
 */
#define REF_PAYMENTS 4096
#define REF_ROWS 16

struct ref_pay {
    uint64_t id;
    ortak_u128 payer, payee;
    ortak_i128 v;
    ortak_time_ns r_ns, e_ns;
    uint8_t outcome; /* at day end */
    bool accepted;
};

struct ref {
    struct ref_pay pay[REF_PAYMENTS];
    uint32_t n;
    struct ortak_settle_metrics_account rows[REF_ROWS];
    uint32_t nrows;
    struct ortak_settle_metrics total;
    bool overflow;
};

static uint32_t ref_row(struct ref *x, const struct ortak_engine *e, ortak_u128 id) {
    for (uint32_t i = 0; i < x->nrows; i++)
        if (x->rows[i].account_id == id) return i;
    assert_true(x->nrows < REF_ROWS);
    struct ortak_account_info a = tu_account_info(e, id);
    assert_true(a.id == id && a.kind == ORTAK_ACCOUNT_SETTLEMENT);
    struct ortak_settle_metrics_account *row = &x->rows[x->nrows];
    memset(row, 0, sizeof *row);
    row->account_id = id;
    memcpy(row->bic, a.bic, sizeof row->bic);
    return x->nrows++;
}

static void ref_load(struct ref *x, const struct ortak_engine *e, uint64_t max_id, const char *cur, ortak_time_ns start,
                     ortak_time_ns end) {
    x->n = x->nrows = 0;
    for (uint64_t id = 1; id <= max_id; id++) {
        struct ortak_payment_info p;
        if (ortak_settle_payment_get(ortak_engine_settle(e), id, &p) != ORTAK_OK) continue;
        if (p.received_ns < start || p.received_ns >= end) continue;
        struct ortak_account_info payer = tu_account_info(e, p.p.debit_account_id);
        if (payer.id == 0 || strcmp(payer.currency, cur) != 0) continue;
        bool accepted =
            p.state != ORTAK_PAYMENT_REJECTED || p.rc == ORTAK_REJECTED_AT_CUTOFF || p.rc == ORTAK_SETTLEMENT_TIMEOUT;
        if (!accepted) {
            if (payer.kind == ORTAK_ACCOUNT_SETTLEMENT) x->rows[ref_row(x, e, payer.id)].m.refused_count++;
            continue;
        }
        assert_true(x->n < REF_PAYMENTS);
        x->pay[x->n++] = (struct ref_pay){
            .id = id,
            .payer = p.p.debit_account_id,
            .payee = p.p.credit_account_id,
            .v = (ortak_i128)p.p.amount,
            .r_ns = p.received_ns,
            .e_ns = p.ended_ns,
            .outcome = p.state == ORTAK_PAYMENT_QUEUED || p.ended_ns > end ? ORTAK_PAYMENT_QUEUED : p.state,
            .accepted = true,
        };
        ref_row(x, e, p.p.debit_account_id);
        ref_row(x, e, p.p.credit_account_id);
    }
    /* Rows by account id. */
    for (uint32_t i = 1; i < x->nrows; i++)
        for (uint32_t j = i; j > 0 && x->rows[j - 1].account_id > x->rows[j].account_id; j--) {
            struct ortak_settle_metrics_account t = x->rows[j];
            x->rows[j] = x->rows[j - 1];
            x->rows[j - 1] = t;
        }
}

/* What payment q does to account a's sent - received. */
static ortak_i128 ref_flow(const struct ref_pay *q, ortak_u128 a) {
    return q->payer == a ? q->v : q->payee == a ? -q->v : 0;
}

/* Payment j arrived no later than k: by received time, then recording (id) order. */
static bool ref_arrived_by(const struct ref_pay *j, const struct ref_pay *k) {
    return j->r_ns < k->r_ns || (j->r_ns == k->r_ns && j->id <= k->id);
}

/* UB, LB and used of account a. */
static void ref_liquidity(const struct ref *x, ortak_u128 a, struct ortak_settle_metrics *m) {
    ortak_i128 ub = 0, used = 0, net = 0;
    for (uint32_t k = 0; k < x->n; k++) {
        ortak_i128 cum = 0, at = 0;
        for (uint32_t j = 0; j < x->n; j++) {
            if (ref_arrived_by(&x->pay[j], &x->pay[k])) cum += ref_flow(&x->pay[j], a);
            /* Settled by the instant payment k settled: everything settled at that nanosecond counts. */
            if (x->pay[k].outcome == ORTAK_PAYMENT_SETTLED && x->pay[j].outcome == ORTAK_PAYMENT_SETTLED &&
                x->pay[j].e_ns <= x->pay[k].e_ns)
                at += ref_flow(&x->pay[j], a);
        }
        if (cum > ub) ub = cum;
        if (at > used) used = at;
        net += ref_flow(&x->pay[k], a);
    }
    m->liquidity_upper = ub;
    m->liquidity_lower = net > 0 ? net : 0;
    m->liquidity_used = used;
}

/* floor(num * 10^6 / den + 1/2) for small values, by another route than the library's: one division. */
static uint32_t ref_ppm(ortak_u128 num, ortak_u128 den) {
    if (den == 0) return 0;
    assert_true(num <= den && den < ((ortak_u128)1 << 100));
    return (uint32_t)((2 * num * 1000000 + den) / (2 * den));
}

static void ref_ratios(struct ortak_settle_metrics *m, bool small) {
    m->settled_count_ppm = ref_ppm(m->settled_count, m->accepted_count);
    m->settled_value_ppm = ref_ppm((ortak_u128)m->settled_value, (ortak_u128)m->accepted_value);
    if (small) m->delay_ppm = ref_ppm(m->delay_num, m->delay_den);
}

/* Fills x->rows and x->total for [start, end) with delay unit `unit_ns`. */
static void ref_compute(struct ref *x, const struct ortak_engine *e, uint64_t max_id, const char *cur,
                        ortak_time_ns start, ortak_time_ns end, uint64_t unit_ns) {
    ref_load(x, e, max_id, cur, start, end);
    x->overflow = false;
    ortak_u128 den_total = 0;
    for (uint32_t i = 0; i < x->nrows; i++) {
        struct ortak_settle_metrics_account *row = &x->rows[i];
        struct ortak_settle_metrics *m = &row->m;
        ref_liquidity(x, row->account_id, m);
        for (uint32_t k = 0; k < x->n; k++) {
            const struct ref_pay *q = &x->pay[k];
            bool settled = q->outcome == ORTAK_PAYMENT_SETTLED;
            if (q->payee == row->account_id) {
                row->received_count++;
                row->received_value += q->v;
                row->received_settled_count += settled;
                row->received_settled_value += settled ? q->v : 0;
            }
            if (q->payer != row->account_id) continue;
            m->accepted_count++;
            m->accepted_value += q->v;
            m->settled_count += settled;
            m->settled_value += settled ? q->v : 0;
            m->queued_count += q->outcome == ORTAK_PAYMENT_QUEUED;
            m->cancelled_count += q->outcome == ORTAK_PAYMENT_CANCELLED;
            m->rejected_count += q->outcome == ORTAK_PAYMENT_REJECTED;
            ortak_time_ns s = settled ? q->e_ns : end;
            ortak_u128 den = (ortak_u128)q->v * (end / unit_ns - q->r_ns / unit_ns);
            m->delay_num += (ortak_u128)q->v * (s / unit_ns - q->r_ns / unit_ns);
            m->delay_den += den;
            if (den_total + den < den_total) x->overflow = true;
            den_total += den;
        }
        m->delay_unit_ns = unit_ns;
    }
    struct ortak_settle_metrics *t = &x->total;
    memset(t, 0, sizeof *t);
    t->delay_unit_ns = unit_ns;
    bool small = !x->overflow && den_total < ((ortak_u128)1 << 100);
    for (uint32_t i = 0; i < x->nrows; i++) {
        struct ortak_settle_metrics *m = &x->rows[i].m;
        ref_ratios(m, small);
        t->liquidity_upper += m->liquidity_upper;
        t->liquidity_lower += m->liquidity_lower;
        t->liquidity_used += m->liquidity_used;
        t->accepted_count += m->accepted_count;
        t->settled_count += m->settled_count;
        t->queued_count += m->queued_count;
        t->cancelled_count += m->cancelled_count;
        t->rejected_count += m->rejected_count;
        t->refused_count += m->refused_count;
        t->accepted_value += m->accepted_value;
        t->settled_value += m->settled_value;
        t->delay_num += m->delay_num;
        t->delay_den += m->delay_den;
    }
    ref_ratios(t, small);
}

/* The library's figures (in f) equal the recomputation's, row by row. */
static void check_against_ref(const struct fx *f, const struct ref *x, const char *file, int line) {
    bool ok = f->nrows == x->nrows && metrics_equal(&f->total, &x->total, "total");
    for (uint32_t i = 0; ok && i < x->nrows; i++) {
        const struct ortak_settle_metrics_account *a = &f->rows[i], *b = &x->rows[i];
        char what[32];
        snprintf(what, sizeof what, "account %llu", (unsigned long long)b->account_id);
        ok = a->account_id == b->account_id && strcmp(a->bic, b->bic) == 0 && metrics_equal(&a->m, &b->m, what) &&
             a->received_count == b->received_count && a->received_settled_count == b->received_settled_count &&
             a->received_value == b->received_value && a->received_settled_value == b->received_settled_value;
    }
    if (ok) return;
    print_error("rows: got %u, recomputed %u\n", f->nrows, x->nrows);
    _fail(file, line);
}
#define assert_as_ref(f, x) check_against_ref(f, x, __FILE__, __LINE__)

/* ---- 5. the delay unit ------------------------------------------------------------------------------------- */

/*
 * Values near 2^63 and a day ending at the end of time (2^64 - 1 ns): three such payments overflow 128 bits in
 * nanoseconds, so the unit becomes the microsecond; 2,300 of them overflow that too (2,212 suffice), and the unit
 * becomes the millisecond. Every figure is checked against the recomputation in the unit chosen, after checking
 * that the finer unit overflows; rho by exact rational arithmetic done beforehand.
 */
static void test_delay_unit(void **state) {
    struct fx *f = *state;
    const ortak_time_ns end = UINT64_MAX;
    const uint64_t big = ORTAK_AMOUNT_MAX;
    static struct ref x;
    for (uint64_t id = 1; id <= 3; id++) pay_queues(f, AT(id), id, ACC_C, ACC_D, big, NORM);
    fx_fund(f, AT(4), ACC_A, big - 1000);
    pay_settles(f, AT(4), 4, ACC_A, ACC_B, big, NORM);
    fx_metrics(f, DAY0, end);
    ref_compute(&x, f->e, 4, "KZT", DAY0, end, 1);
    assert_true(x.overflow);
    ref_compute(&x, f->e, 4, "KZT", DAY0, end, 1000);
    assert_false(x.overflow);
    x.total.delay_ppm = 750000; /* 0.750000000022 */
    assert_true(x.nrows == 4 && x.rows[2].account_id == ACC_C);
    x.rows[2].m.delay_ppm = 1000000; /* C settled nothing */
    assert_as_ref(f, &x);
    assert_true(f->total.liquidity_upper == (ortak_i128)big * 4 && f->total.liquidity_used == (ortak_i128)big);

    uint64_t id = 5;
    while (id <= 2300) {
        struct ortak_cmd cmds[256];
        struct ortak_result res[256];
        uint32_t n = 0;
        for (; n < 256 && id <= 2300; n++, id++) cmds[n] = tu_payment(AT(5), id, ACC_C, ACC_D, big, NORM);
        assert_int_equal(ortak_engine_apply(f->e, cmds, n, res), ORTAK_OK);
        for (uint32_t i = 0; i < n; i++) assert_int_equal(res[i].flags, ORTAK_RESULT_QUEUED);
    }
    fx_metrics(f, DAY0, end);
    ref_compute(&x, f->e, 2300, "KZT", DAY0, end, 1000);
    assert_true(x.overflow);
    ref_compute(&x, f->e, 2300, "KZT", DAY0, end, 1000000);
    assert_false(x.overflow);
    x.total.delay_ppm = 999565; /* 0.99956521739 */
    x.rows[2].m.delay_ppm = 1000000;
    assert_as_ref(f, &x);
}

/* ---- 6. allocation failures ------------------------------------------------------------------------------- */

/*
 * The test links with --wrap=ortak__calloc_array, so every scratch allocation of the library comes through here:
 * when `fail_at` is n > 0, the n-th allocation from then on fails.
 */
void *__real_ortak__calloc_array(size_t count, size_t size);
void *__wrap_ortak__calloc_array(size_t count, size_t size);
static uint32_t fail_at, alloc_seen;

void *__wrap_ortak__calloc_array(size_t count, size_t size) {
    if (fail_at != 0 && ++alloc_seen == fail_at) return NULL;
    return __real_ortak__calloc_array(count, size);
}

/* Failing each allocation in turn gives ORTAK_NOMEM with nothing leaked (the sanitizer build checks); then OK. */
static void test_out_of_memory(void **state) {
    struct fx *f = *state;
    fx_day(f);
    fx_metrics(f, DAY0, AT(12));
    struct ortak_settle_metrics full = f->total;
    uint32_t n = 0, failures = 0;
    for (uint32_t at = 1;; at++) {
        fail_at = at;
        alloc_seen = 0;
        memset(&f->total, 0xa5, sizeof f->total);
        ortak_rc rc = ortak_settle_metrics_compute(f->e, "KZT", DAY0, AT(12), &f->total, f->rows, ROWS_MAX, &n);
        fail_at = 0;
        if (rc == ORTAK_OK) break;
        assert_int_equal(rc, ORTAK_NOMEM);
        assert_int_equal(n, 0);
        static const struct ortak_settle_metrics zero;
        assert_memory_equal(&f->total, &zero, sizeof zero);
        failures++;
    }
    assert_true(failures > 0 && alloc_seen == failures);
    assert_int_equal(n, 4);
    assert_true(metrics_equal(&f->total, &full, "after the failures"));
}

/* ---- 7. random days ---------------------------------------------------------------------------------------- */

#define RUNS 50
#define BANKS 6
#define PLAN_MAX 64
static const ortak_u128 banks[BANKS] = {ACC_A, ACC_B, ACC_C, ACC_D, ACC_E, ACC_F};

static uint64_t prng_next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}
static uint64_t rnd(uint64_t *s, uint64_t n) { return prng_next(s) % n; }

/*
 * ample: each bank gets its UB before the day, and nothing else happens: every payment settles on arrival.
 * lean:  each bank gets at most its UB; cancellations, latest settlement times, gridlock runs, maybe a cut-off.
 * mixed: as lean, plus liquidity arriving during the day.
 */
enum day_mode { DAY_AMPLE, DAY_LEAN, DAY_MIXED };

struct day_stats {
    uint32_t days_all_settled, queued, cancelled, rejected, refused, used_above_upper;
};

struct buf {
    uint8_t *p;
    size_t len, cap;
};

static void buf_sink(void *ctx, const void *data, size_t len) {
    struct buf *b = ctx;
    if (b->len + len > b->cap) {
        b->cap = (b->len + len) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
}

/* An engine opened from `e`'s encoded state: its ended payments carry no account indices. */
static struct ortak_engine *reopen(const struct ortak_engine *e) {
    struct buf b = {0};
    ortak_engine_encode(e, buf_sink, &b);
    struct ortak_engine *r = NULL;
    assert_int_equal(ortak_engine_open_state(ortak_engine_config(e), b.p, b.len, &r), ORTAK_OK);
    free(b.p);
    return r;
}

/* The day's payments: each bank's UB follows from them alone, before anything is applied. */
static uint32_t day_plan(uint64_t *rs, enum day_mode mode, struct ortak_cmd *plan, bool *refused, ortak_i128 *ub) {
    uint32_t n = 10 + (uint32_t)rnd(rs, PLAN_MAX - 10);
    ortak_time_ns t = DAY0 + rnd(rs, S);
    ortak_i128 cum[BANKS] = {0};
    for (uint32_t i = 0; i < n; i++) {
        if (rnd(rs, 3)) t += 1 + rnd(rs, 2 * S); /* else at the same nanosecond as the one before */
        uint32_t a = (uint32_t)rnd(rs, BANKS), b = (a + 1 + (uint32_t)rnd(rs, BANKS - 1)) % BANKS;
        uint64_t amount = 1 + rnd(rs, rnd(rs, 4) ? 300 : 2000);
        uint64_t pr = rnd(rs, 10);
        plan[i] = tu_payment(t, i + 1, banks[a], banks[b], amount, pr == 0 ? HU : pr < 3 ? URG : NORM);
        uint64_t r = rnd(rs, 100);
        refused[i] = r < 8;
        if (r < 4)
            plan[i].u.payment.amount = 0; /* AMOUNT_ZERO: the payer's refusal */
        else if (r < 6)
            plan[i].u.payment.credit_account_id = ACC_NONE; /* ACCOUNT_NOT_FOUND: the payer's refusal */
        else if (r < 8)
            plan[i].u.payment.debit_account_id = ACC_AZN; /* CURRENCY_MISMATCH: an AZN refusal */
        else if (mode != DAY_AMPLE && r < 16)
            plan[i].u.payment.latest_ns = t + (1 + rnd(rs, 20)) * S;
        if (refused[i]) continue;
        cum[a] += (ortak_i128)amount;
        cum[b] -= (ortak_i128)amount;
        if (cum[a] > ub[a]) ub[a] = cum[a];
    }
    return n;
}

/* Applies the plan, with the day's other events before each payment. */
static void day_play(struct fx *f, uint64_t *rs, enum day_mode mode, const struct ortak_cmd *plan, const bool *refused,
                     uint32_t n, ortak_i128 *funded) {
    for (uint32_t i = 0; i < n; i++) {
        ortak_time_ns ts = plan[i].timestamp;
        if (mode != DAY_AMPLE && rnd(rs, 100) < 8) {
            struct ortak_cmd c = tu_cancel(ts, 1 + rnd(rs, i + 1)); /* often not queued any more: refused */
            tu_apply1(f->e, &c);
        }
        if (mode != DAY_AMPLE && rnd(rs, 100) < 4) {
            struct ortak_cmd g = tu_cmd(ts, ORTAK_CMD_GRIDLOCK);
            g.u.gridlock.mode = (uint8_t)rnd(rs, 3); /* configured, fifo, bypass */
            memcpy(g.u.gridlock.currency, "KZT", 4);
            fx_ok(f, g);
        }
        if (mode == DAY_MIXED && rnd(rs, 100) < 6) {
            uint32_t k = (uint32_t)rnd(rs, BANKS);
            uint64_t amount = 1 + rnd(rs, 300);
            fx_ok(f, tu_transfer(ts, 7100 + f->next_xfer++, ACC_ISS, banks[k], amount, 0));
            funded[k] += (ortak_i128)amount;
        }
        struct ortak_result r = tu_apply1(f->e, &plan[i]);
        if (refused[i])
            assert_int_not_equal(r.rc, ORTAK_OK);
        else
            assert_int_equal(r.rc, ORTAK_OK);
    }
}

/* The invariants of one day's figures (whole day: every payment arrived in it, all liquidity came before or in it). */
static void day_invariants(const struct fx *f, enum day_mode mode, const ortak_i128 *ub, const ortak_i128 *funded,
                           struct day_stats *st) {
    const struct ortak_settle_metrics *t = &f->total;
    bool all_settled = t->settled_count == t->accepted_count;
    assert_true(t->delay_num <= t->delay_den && t->delay_ppm <= 1000000);
    assert_int_equal(t->delay_unit_ns, 1);
    for (uint32_t k = 0; k < BANKS; k++) {
        const struct ortak_settle_metrics_account *row = NULL;
        for (uint32_t i = 0; i < f->nrows; i++)
            if (f->rows[i].account_id == banks[k]) row = &f->rows[i];
        if (!row) {
            assert_true(ub[k] == 0);
            continue;
        }
        const struct ortak_settle_metrics *m = &row->m;
        assert_true(m->liquidity_upper == ub[k]); /* UB depends on arrivals alone */
        assert_true(0 <= m->liquidity_lower && m->liquidity_lower <= m->liquidity_upper);
        assert_true(0 <= m->liquidity_used && m->liquidity_used <= funded[k]); /* no balance went below 0 */
        if (all_settled) assert_true(m->liquidity_lower <= m->liquidity_used);
        if (mode != DAY_MIXED) assert_true(m->liquidity_used <= m->liquidity_upper); /* funded with <= UB */
        if (m->liquidity_used > m->liquidity_upper) st->used_above_upper++;
        assert_true(m->delay_num <= m->delay_den && m->delay_ppm <= 1000000);
    }
    if (mode == DAY_AMPLE) {
        assert_true(all_settled && t->delay_num == 0 && t->delay_ppm == 0);
        assert_true(t->liquidity_used <= t->liquidity_upper);
    }
    st->days_all_settled += all_settled;
    st->queued += t->queued_count;
    st->cancelled += t->cancelled_count;
    st->rejected += t->rejected_count;
    st->refused += t->refused_count;
}

static void random_day(uint64_t seed, struct day_stats *st) {
    uint64_t rs = seed;
    struct fx *f = calloc(1, sizeof *f), *g = calloc(1, sizeof *g);
    assert_true(f && g);
    struct ortak_config cfg = fx_config(rnd(&rs, 2) == 0);
    assert_int_equal(ortak_engine_open(&cfg, &f->e), ORTAK_OK);
    fx_build(f, false);
    enum day_mode mode = (enum day_mode)rnd(&rs, 3);
    struct ortak_cmd plan[PLAN_MAX];
    bool refused[PLAN_MAX];
    ortak_i128 ub[BANKS] = {0}, funded[BANKS] = {0};
    uint32_t n = day_plan(&rs, mode, plan, refused, ub);
    for (uint32_t k = 0; k < BANKS; k++) {
        funded[k] = mode == DAY_AMPLE ? ub[k] : (ortak_i128)rnd(&rs, (uint64_t)ub[k] + 1);
        if (funded[k] > 0) fx_ok(f, tu_transfer(DAY0 - S, 7000 + k, ACC_ISS, banks[k], (uint64_t)funded[k], 0));
    }
    day_play(f, &rs, mode, plan, refused, n, funded);
    ortak_time_ns last = plan[n - 1].timestamp;
    if (mode != DAY_AMPLE && rnd(&rs, 2)) fx_ok(f, tu_cutoff(last + S, 7, 0));
    ortak_time_ns end = last + 1 + rnd(&rs, 4 * S); /* sometimes before the cut-off */

    static struct ref x;
    fx_metrics(f, DAY0, end);
    ref_compute(&x, f->e, n, "KZT", DAY0, end, 1);
    assert_false(x.overflow);
    assert_as_ref(f, &x);
    day_invariants(f, mode, ub, funded, st);

    /* The same from the encoded state. */
    g->e = reopen(f->e);
    fx_metrics(g, DAY0, end);
    x.total = g->total;
    x.nrows = g->nrows;
    memcpy(x.rows, g->rows, sizeof g->rows);
    assert_as_ref(f, &x);

    /* Any window, against the recomputation. */
    ortak_time_ns a = DAY0 - S + rnd(&rs, last - DAY0 + S), b = a + 1 + rnd(&rs, last + 4 * S - a);
    fx_metrics(f, a, b);
    ref_compute(&x, f->e, n, "KZT", a, b, 1);
    assert_as_ref(f, &x);

    ortak_engine_close(g->e);
    ortak_engine_close(f->e);
    free(g);
    free(f);
}

static void test_random_days(void **state) {
    (void)state;
    struct day_stats st = {0};
    for (uint64_t run = 0; run < RUNS; run++) random_day(UINT64_C(0x6d657472696373) + run, &st);
    print_message("%d days: %u with everything settled; at day end %u queued, %u cancelled, %u rejected, %u refused; "
                  "%u accounts used more than their UB\n",
                  RUNS, st.days_all_settled, st.queued, st.cancelled, st.rejected, st.refused, st.used_above_upper);
    /* Every outcome was exercised. */
    assert_true(st.days_all_settled > 0 && st.queued > 0 && st.cancelled > 0 && st.rejected > 0 && st.refused > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_day, setup, teardown),
        cmocka_unit_test_setup_teardown(test_day_window_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_used_above_upper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offsetting_is_one_step, setup_offsetting, teardown),
        cmocka_unit_test_setup_teardown(test_gridlock_is_one_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rounding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_and_currencies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_contract, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delay_unit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_memory, setup, teardown),
        cmocka_unit_test(test_random_days),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
