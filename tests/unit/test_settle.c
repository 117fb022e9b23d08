/*
 * Unit tests of real-time gross settlement (settle.h), driven through the engine: immediate settlement, queueing and
 * FIFO release (every kind of liquidity rise, cascades, priority classes), reservations, participant controls
 * (cancel, priority change, move), cut-offs, latest settlement times, validation and idempotency, suspended
 * payers, the state hash and the canonical encoding, and a property test over random command sequences.
 *
 * Fixture (setup): the default configuration with small limits, without offsetting and periodic gridlock resolution;
 * the Kazakh central bank with its KZT issuance account and a collateral account, four Kazakh banks (A, B, C, D) with
 * KZT settlement accounts, the Azerbaijani central bank and a bank with an AZN settlement account. A and B are funded
 * from the issuance account; C and D start empty, so their payments queue until liquidity arrives. Every command takes
 * a timestamp one second after the previous one.
 *
 * Each test asserts values: result codes and flags, payment states (ortak_settle_payment_get), queue order and totals
 * (ortak_settle_queue), balances (ortak_ledger_account_get) and the events of the batch with their fields, in order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/rng.h"
#include "ortak/engine.h"
#include "test_util.h"

#define T0 (UINT64_C(1767225600) * ORTAK_NS_PER_S) /* 2026-01-01T00:00:00Z */

#define CB_KZ "NBRKKZKX"
#define CB_AZ "NABZAZ2X"
#define BANK_A "HSBKKZKX"
#define BANK_B "KCJBKZKX"
#define BANK_C "CASPKZKA"
#define BANK_D "ATYNKZKA"
#define BANK_AZ "IBAZAZ2X"

#define ACC_A ((ortak_u128)1)
#define ACC_B ((ortak_u128)2)
#define ACC_C ((ortak_u128)3)
#define ACC_D ((ortak_u128)4)
#define ACC_AZN ((ortak_u128)20)
#define ACC_COLL ((ortak_u128)50) /* the central bank's KZT collateral account */
#define ACC_ISS ((ortak_u128)100)
#define ACC_ISS_AZN ((ortak_u128)120)
#define ACC_NONE ((ortak_u128)777)

#define FUND_A 100000
#define FUND_B 50000
#define FUND_AZN 70000

#define HU ORTAK_PRIORITY_HIGHLY_URGENT
#define URG ORTAK_PRIORITY_URGENT
#define NORM ORTAK_PRIORITY_NORMAL

struct fx {
    struct ortak_engine *e;
    ortak_time_ns now;
    uint64_t next_xfer;           /* ids of funding transfers */
    struct ortak_engine *more[2]; /* further engines a test opens; closed by teardown */
};

/* ---- helpers ----------------------------------------------------------------------------------------------- */

static ortak_time_ns fx_t(struct fx *f) { return f->now += ORTAK_NS_PER_S; }

static struct ortak_result fx_apply(struct fx *f, struct ortak_cmd cmd) { return tu_apply1(f->e, &cmd); }

static ortak_rc fx_rc(struct fx *f, struct ortak_cmd cmd) { return tu_apply1_rc(f->e, cmd); }

static void fx_ok(struct fx *f, struct ortak_cmd cmd) { assert_int_equal(fx_rc(f, cmd), ORTAK_OK); }

/* Submits a payment at the next timestamp. */
static struct ortak_result fx_pay(struct fx *f, ortak_u128 id, ortak_u128 dr, ortak_u128 cr, uint64_t amount,
                                  uint8_t priority) {
    return fx_apply(f, tu_payment(fx_t(f), id, dr, cr, amount, priority));
}

/* Submits a payment and asserts its result code and flags (reported at the caller's line). */
static void check_pay(struct fx *f, ortak_u128 id, ortak_u128 dr, ortak_u128 cr, uint64_t amount, uint8_t priority,
                      ortak_rc rc, uint32_t flags, const char *file, int line) {
    struct ortak_result r = fx_pay(f, id, dr, cr, amount, priority);
    if (r.rc == (uint32_t)rc && r.flags == flags) return;
    print_error("payment %llu: rc %s flags %u, expected %s flags %u\n", (unsigned long long)id,
                ortak_rc_name((ortak_rc)r.rc), r.flags, ortak_rc_name(rc), flags);
    _fail(file, line);
}
/* A payment that must settle at once, or queue. */
#define fx_pay_settles(f, id, dr, cr, amount, pr) check_pay(f, id, dr, cr, amount, pr, ORTAK_OK, 0, __FILE__, __LINE__)
#define fx_pay_queues(f, id, dr, cr, amount, pr) \
    check_pay(f, id, dr, cr, amount, pr, ORTAK_OK, ORTAK_RESULT_QUEUED, __FILE__, __LINE__)
/* A payment refused with `rc` (no flags). */
#define fx_pay_refused(f, id, dr, cr, amount, pr, rc) check_pay(f, id, dr, cr, amount, pr, rc, 0, __FILE__, __LINE__)

/* A plain transfer of new liquidity from the issuance account into `to`. */
static struct ortak_cmd tu_fund_cmd(ortak_time_ns ts, uint64_t id, ortak_u128 to, uint64_t amount) {
    return tu_transfer(ts, id, ACC_ISS, to, amount, 0);
}

/* A plain transfer from the issuance account: new liquidity for `to`. */
static void fx_fund(struct fx *f, ortak_u128 to, uint64_t amount) {
    fx_ok(f, tu_transfer(fx_t(f), 5000 + f->next_xfer++, ACC_ISS, to, amount, 0));
}

static const struct ortak_ledger *fx_ledger(const struct fx *f) { return ortak_engine_ledger(f->e); }
static const struct ortak_settle *fx_settle(const struct fx *f) { return ortak_engine_settle(f->e); }

static struct ortak_payment_info fx_payment(const struct fx *f, ortak_u128 id) {
    struct ortak_payment_info info;
    assert_int_equal(ortak_settle_payment_get(fx_settle(f), id, &info), ORTAK_OK);
    return info;
}

static void check_state(const struct fx *f, ortak_u128 id, uint8_t state, ortak_rc rc, const char *file, int line) {
    struct ortak_payment_info info;
    ortak_rc got = ortak_settle_payment_get(fx_settle(f), id, &info);
    if (got != ORTAK_OK) {
        print_error("payment %llu: payment_get gave %s\n", (unsigned long long)id, ortak_rc_name(got));
        _fail(file, line);
    }
    if (info.state != state || info.rc != rc) {
        print_error("payment %llu: state %s rc %s, expected %s rc %s\n", (unsigned long long)id,
                    ortak_payment_state_name(info.state), ortak_rc_name(info.rc), ortak_payment_state_name(state),
                    ortak_rc_name(rc));
        _fail(file, line);
    }
}
#define assert_state(f, id, state, rc) check_state(f, (ortak_u128)(id), state, rc, __FILE__, __LINE__)
#define assert_queued(f, id) assert_state(f, id, ORTAK_PAYMENT_QUEUED, ORTAK_OK)
#define assert_settled(f, id) assert_state(f, id, ORTAK_PAYMENT_SETTLED, ORTAK_OK)

/* An account's balance (credits_posted - debits_posted). */
static ortak_i128 fx_balance(const struct fx *f, ortak_u128 id) { return tu_account_info(f->e, id).balance; }
#define assert_balance(f, id, want) assert_true(fx_balance(f, id) == (ortak_i128)(want))

/* Asserts an account's queue: the ids in settlement order and the count and value of each class. */
static void check_queue(const struct fx *f, ortak_u128 acc, const uint64_t *want, uint32_t nwant, const char *file,
                        int line) {
    ortak_u128 ids[64];
    uint32_t n = 0;
    struct ortak_queue_info qi;
    ortak_rc rc = ortak_settle_queue(fx_settle(f), acc, ids, 64, &n, &qi);
    bool ok = rc == ORTAK_OK && n == nwant;
    for (uint32_t i = 0; ok && i < n; i++) ok = ids[i] == (ortak_u128)want[i];
    /* Counts and values per class must follow from the members. */
    uint32_t count[ORTAK_PRIORITIES] = {0};
    ortak_i128 value[ORTAK_PRIORITIES] = {0};
    for (uint32_t i = 0; ok && i < n; i++) {
        struct ortak_payment_info p;
        ok = ortak_settle_payment_get(fx_settle(f), ids[i], &p) == ORTAK_OK && p.state == ORTAK_PAYMENT_QUEUED &&
             p.p.debit_account_id == acc;
        if (ok) {
            count[p.p.priority]++;
            value[p.p.priority] += (ortak_i128)p.p.amount;
        }
    }
    for (int pr = 0; ok && pr < ORTAK_PRIORITIES; pr++) ok = qi.count[pr] == count[pr] && qi.value[pr] == value[pr];
    if (ok) return;
    print_error("queue of account %llu (rc %s): got %u [", (unsigned long long)acc, ortak_rc_name(rc), n);
    for (uint32_t i = 0; i < n && i < 64; i++) print_error(" %llu", (unsigned long long)ids[i]);
    print_error(" ] counts %u/%u/%u, expected %u [", qi.count[0], qi.count[1], qi.count[2], nwant);
    for (uint32_t i = 0; i < nwant; i++) print_error(" %llu", (unsigned long long)want[i]);
    print_error(" ]\n");
    _fail(file, line);
}
#define assert_queue(f, acc, ...)                                                                   \
    do {                                                                                            \
        const uint64_t want_[] = {__VA_ARGS__};                                                     \
        check_queue(f, acc, want_, (uint32_t)(sizeof want_ / sizeof want_[0]), __FILE__, __LINE__); \
    } while (0)
#define assert_queue_empty(f, acc) check_queue(f, acc, NULL, 0, __FILE__, __LINE__)

/* Count and value of one class of an account's queue. */
static struct ortak_queue_info fx_queue_info(const struct fx *f, ortak_u128 acc) {
    ortak_u128 ids[64];
    uint32_t n;
    struct ortak_queue_info qi;
    assert_int_equal(ortak_settle_queue(fx_settle(f), acc, ids, 64, &n, &qi), ORTAK_OK);
    return qi;
}

/* An expected event: kind, id, amount and status (the other fields are checked where a test needs them). */
struct xev {
    uint32_t kind;
    uint64_t id;
    int64_t amount;
    uint32_t status;
};

static void check_events(const struct fx *f, const struct xev *want, uint32_t nwant, const char *file, int line) {
    uint32_t n;
    const struct ortak_event *ev = ortak_engine_events(f->e, &n);
    bool ok = n == nwant;
    for (uint32_t i = 0; ok && i < n; i++)
        ok = ev[i].kind == want[i].kind && ev[i].id == (ortak_u128)want[i].id && ev[i].amount == want[i].amount &&
             ev[i].status == want[i].status;
    if (ok) return;
    print_error("events: got %u\n", n);
    for (uint32_t i = 0; i < n; i++)
        print_error("  kind %u id %llu amount %lld status %u\n", ev[i].kind, (unsigned long long)ev[i].id,
                    (long long)ev[i].amount, ev[i].status);
    print_error("expected %u\n", nwant);
    for (uint32_t i = 0; i < nwant; i++)
        print_error("  kind %u id %llu amount %lld status %u\n", want[i].kind, (unsigned long long)want[i].id,
                    (long long)want[i].amount, want[i].status);
    _fail(file, line);
}
#define assert_events(f, ...)                                                                   \
    do {                                                                                        \
        const struct xev want_[] = {__VA_ARGS__};                                               \
        check_events(f, want_, (uint32_t)(sizeof want_ / sizeof want_[0]), __FILE__, __LINE__); \
    } while (0)
#define assert_no_events(f) check_events(f, NULL, 0, __FILE__, __LINE__)

/* Shorthands for expected events. */
#define EV_POSTED(id, amt) \
    { ORTAK_EV_TRANSFER_POSTED, (id), (amt), 0 }
#define EV_SETTLED(id, amt) \
    { ORTAK_EV_PAYMENT_SETTLED, (id), (amt), 0 }
#define EV_QUEUED(id, amt, pr) \
    { ORTAK_EV_PAYMENT_QUEUED, (id), (amt), (pr) }
#define EV_REJECTED(id, amt, rc) \
    { ORTAK_EV_PAYMENT_REJECTED, (id), (amt), (rc) }
#define EV_CANCELLED(id, amt) \
    { ORTAK_EV_PAYMENT_CANCELLED, (id), (amt), 0 }
/* An event about an account (credit line, reservation) or a transfer, with its amount. */
#define EV_AMOUNT(kind, id, amt) \
    { (kind), (uint64_t)(id), (amt), 0 }
/* A payment settling: its transfer, then its settlement. */
#define EV_PAY(id, amt) EV_POSTED(id, amt), EV_SETTLED(id, amt)

/* ---- fixture ----------------------------------------------------------------------------------------------- */

static void fx_limits(struct ortak_limits *l) {
    l->participants_max = 16;
    l->accounts_max = 64;
    l->transfers_max = 4096;
    l->pending_max = 16;
    l->history_max = 256;
    l->batch_max = 64;
    l->payments_max = 256;
    l->quotes_max = 16;
    l->fx_rates_max = 16;
}

/* FIFO release on its own: offsetting and periodic gridlock resolution are tested in test_gridlock.c. */
static struct ortak_config fx_config(void) {
    struct ortak_config cfg;
    ortak_config_default(&cfg);
    fx_limits(&cfg.limits);
    cfg.settlement.offsetting = false;
    cfg.settlement.gridlock_interval_ms = 0;
    return cfg;
}

/* The fixture's commands, one per batch, into engine f->e. */
static void fx_build(struct fx *f) {
    f->now = T0;
    fx_ok(f, tu_participant(fx_t(f), CB_KZ, "National Bank of Kazakhstan", ORTAK_ROLE_CENTRAL_BANK));
    fx_ok(f, tu_participant(fx_t(f), CB_AZ, "Central Bank of the Republic of Azerbaijan", ORTAK_ROLE_CENTRAL_BANK));
    fx_ok(f, tu_participant(fx_t(f), BANK_A, "Halyk Bank", ORTAK_ROLE_BANK));
    fx_ok(f, tu_participant(fx_t(f), BANK_B, "Kaspi Bank", ORTAK_ROLE_BANK));
    fx_ok(f, tu_participant(fx_t(f), BANK_C, "Bank CenterCredit", ORTAK_ROLE_BANK));
    fx_ok(f, tu_participant(fx_t(f), BANK_D, "Altyn Bank", ORTAK_ROLE_BANK));
    fx_ok(f, tu_participant(fx_t(f), BANK_AZ, "International Bank of Azerbaijan", ORTAK_ROLE_BANK));
    fx_ok(f, tu_account(fx_t(f), ACC_ISS, CB_KZ, "KZT", ORTAK_ACCOUNT_ISSUANCE));
    fx_ok(f, tu_account(fx_t(f), ACC_COLL, CB_KZ, "KZT", ORTAK_ACCOUNT_COLLATERAL));
    fx_ok(f, tu_account(fx_t(f), ACC_A, BANK_A, "KZT", ORTAK_ACCOUNT_SETTLEMENT));
    fx_ok(f, tu_account(fx_t(f), ACC_B, BANK_B, "KZT", ORTAK_ACCOUNT_SETTLEMENT));
    fx_ok(f, tu_account(fx_t(f), ACC_C, BANK_C, "KZT", ORTAK_ACCOUNT_SETTLEMENT));
    fx_ok(f, tu_account(fx_t(f), ACC_D, BANK_D, "KZT", ORTAK_ACCOUNT_SETTLEMENT));
    fx_ok(f, tu_account(fx_t(f), ACC_ISS_AZN, CB_AZ, "AZN", ORTAK_ACCOUNT_ISSUANCE));
    fx_ok(f, tu_account(fx_t(f), ACC_AZN, BANK_AZ, "AZN", ORTAK_ACCOUNT_SETTLEMENT));
    fx_ok(f, tu_transfer(fx_t(f), 9001, ACC_ISS, ACC_A, FUND_A, 0));
    fx_ok(f, tu_transfer(fx_t(f), 9002, ACC_ISS, ACC_B, FUND_B, 0));
    fx_ok(f, tu_transfer(fx_t(f), 9003, ACC_ISS_AZN, ACC_AZN, FUND_AZN, 0));
}

static int setup(void **state) {
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    struct ortak_config cfg = fx_config();
    assert_int_equal(ortak_engine_open(&cfg, &f->e), ORTAK_OK);
    fx_build(f);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fx *f = *state;
    ortak_engine_close(f->e);
    ortak_engine_close(f->more[0]);
    ortak_engine_close(f->more[1]);
    free(f);
    return 0;
}

/* ---- 1. immediate settlement ------------------------------------------------------------------------------- */

static void test_settles_at_once(void **state) {
    struct fx *f = *state;
    struct ortak_cmd c = tu_payment(fx_t(f), 1, ACC_A, ACC_B, 1234, NORM);
    c.u.payment.uetr = ORTAK_U128(0x1111222233334444u, 0x5555666677778888u);
    struct ortak_result r = fx_apply(f, c);
    assert_int_equal(r.rc, ORTAK_OK);
    assert_int_equal(r.flags, 0);
    assert_int_equal(r.fail_index, UINT32_MAX);
    assert_events(f, EV_PAY(1, 1234));
    uint32_t n;
    const struct ortak_event *ev = ortak_engine_events(f->e, &n);
    for (uint32_t i = 0; i < 2; i++) {
        assert_true(ev[i].debit_account_id == ACC_A);
        assert_true(ev[i].credit_account_id == ACC_B);
        assert_int_equal(ev[i].timestamp, f->now);
        assert_int_equal(ev[i].command_index, 0);
    }
    assert_true(ev[1].ref == c.u.payment.uetr);
    assert_balance(f, ACC_A, FUND_A - 1234);
    assert_balance(f, ACC_B, FUND_B + 1234);
    struct ortak_transfer_info t;
    assert_int_equal(ortak_ledger_transfer_get(fx_ledger(f), 1, &t), ORTAK_OK);
    assert_int_equal(t.rc, ORTAK_OK);
    assert_int_equal(t.amount_booked, 1234);
    assert_true(t.t.debit_account_id == ACC_A && t.t.credit_account_id == ACC_B);
    assert_true(t.t.user_data == c.u.payment.uetr);
    assert_int_equal(t.t.flags & ORTAK_TRANSFER_USE_RESERVED, 0);
    struct ortak_payment_info p = fx_payment(f, 1);
    assert_int_equal(p.state, ORTAK_PAYMENT_SETTLED);
    assert_int_equal(p.rc, ORTAK_OK);
    assert_int_equal(p.received_ns, f->now);
    assert_int_equal(p.ended_ns, f->now);
    assert_int_equal(p.p.amount, 1234);
    assert_int_equal(p.p.priority, NORM);
    assert_int_equal(ortak_settle_payment_count(fx_settle(f)), 1);
    assert_queue_empty(f, ACC_A);

    /* Urgent payments settle as transfers that may use the reservation. */
    fx_pay_settles(f, 2, ACC_A, ACC_C, 100, URG);
    assert_int_equal(ortak_ledger_transfer_get(fx_ledger(f), 2, &t), ORTAK_OK);
    assert_int_not_equal(t.t.flags & ORTAK_TRANSFER_USE_RESERVED, 0);
    assert_balance(f, ACC_C, 100);
    /* Exactly the whole balance settles too. */
    fx_pay_settles(f, 3, ACC_C, ACC_D, 100, NORM);
    assert_balance(f, ACC_C, 0);
    assert_balance(f, ACC_D, 100);
    assert_int_equal(ortak_settle_payment_get(fx_settle(f), 4, &p), ORTAK_PAYMENT_NOT_FOUND);
}

/* ---- 2. queueing and release ------------------------------------------------------------------------------- */

static void test_queues_without_liquidity(void **state) {
    struct fx *f = *state;
    struct ortak_result r = fx_pay(f, 10, ACC_C, ACC_D, 500, NORM);
    assert_int_equal(r.rc, ORTAK_OK);
    assert_int_equal(r.flags, ORTAK_RESULT_QUEUED);
    assert_events(f, EV_QUEUED(10, 500, NORM));
    uint32_t n;
    const struct ortak_event *ev = ortak_engine_events(f->e, &n);
    assert_true(ev[0].debit_account_id == ACC_C && ev[0].credit_account_id == ACC_D);
    assert_queued(f, 10);
    assert_int_equal(fx_payment(f, 10).ended_ns, 0);
    assert_balance(f, ACC_C, 0);
    assert_balance(f, ACC_D, 0);
    struct ortak_transfer_info t;
    assert_int_equal(ortak_ledger_transfer_get(fx_ledger(f), 10, &t), ORTAK_TRANSFER_NOT_FOUND);
    fx_pay_queues(f, 11, ACC_C, ACC_D, 300, URG);
    assert_events(f, EV_QUEUED(11, 300, URG));
    fx_pay_queues(f, 12, ACC_C, ACC_B, 200, NORM);
    assert_queue(f, ACC_C, 11, 10, 12);
    struct ortak_queue_info qi = fx_queue_info(f, ACC_C);
    assert_int_equal(qi.count[HU], 0);
    assert_int_equal(qi.count[URG], 1);
    assert_int_equal(qi.count[NORM], 2);
    assert_true(qi.value[URG] == 300 && qi.value[NORM] == 700);

    /* Not enough yet for the head (urgent 300): nothing moves. */
    fx_fund(f, ACC_C, 250);
    assert_events(f, EV_POSTED(5000, 250));
    assert_queue(f, ACC_C, 11, 10, 12);
    /* Enough for all three: they settle in queue order within the same command. */
    fx_fund(f, ACC_C, 800);
    assert_events(f, EV_POSTED(5001, 800), EV_PAY(11, 300), EV_PAY(10, 500), EV_PAY(12, 200));
    ev = ortak_engine_events(f->e, &n);
    for (uint32_t i = 0; i < n; i++) assert_int_equal(ev[i].command_index, 0);
    assert_queue_empty(f, ACC_C);
    assert_settled(f, 10);
    assert_settled(f, 11);
    assert_settled(f, 12);
    assert_int_equal(fx_payment(f, 10).ended_ns, f->now);
    assert_balance(f, ACC_C, 50);
    assert_balance(f, ACC_D, 800);
    assert_balance(f, ACC_B, FUND_B + 200);
    assert_int_equal(ortak_ledger_transfer_get(fx_ledger(f), 10, &t), ORTAK_OK);
    assert_int_equal(t.amount_booked, 500);
}

/* The release happens within the batch, after the command that raised liquidity, before the next one. */
static void test_release_in_batch(void **state) {
    struct fx *f = *state;
    fx_pay_queues(f, 10, ACC_C, ACC_D, 500, NORM);
    ortak_time_ns t = fx_t(f);
    struct ortak_cmd cmds[3] = {
        tu_transfer(t, 5000, ACC_ISS, ACC_C, 400, 0),
        tu_transfer(t, 5001, ACC_ISS, ACC_C, 100, 0),
        tu_payment(t, 11, ACC_C, ACC_D, 10, NORM),
    };
    struct ortak_result r[3];
    assert_int_equal(ortak_engine_apply(f->e, cmds, 3, r), ORTAK_OK);
    assert_int_equal(r[0].rc, ORTAK_OK);
    assert_int_equal(r[1].rc, ORTAK_OK);
    assert_int_equal(r[2].rc, ORTAK_OK);
    assert_int_equal(r[2].flags, ORTAK_RESULT_QUEUED); /* C has 0 again */
    assert_events(f, EV_POSTED(5000, 400), EV_POSTED(5001, 100), EV_PAY(10, 500), EV_QUEUED(11, 10, NORM));
    uint32_t n;
    const struct ortak_event *ev = ortak_engine_events(f->e, &n);
    assert_int_equal(ev[2].command_index, 1);
    assert_int_equal(ev[3].command_index, 1);
    assert_int_equal(ev[4].command_index, 2);
    assert_queue(f, ACC_C, 11);
}

/* A's release credits B, whose queue then releases, which credits C... all in the same command. */
static void test_release_cascades(void **state) {
    struct fx *f = *state;
    fx_pay_queues(f, 10, ACC_C, ACC_D, 500, NORM);
    fx_pay_queues(f, 11, ACC_D, ACC_C, 300, URG); /* D has nothing */
    fx_pay_queues(f, 12, ACC_D, ACC_B, 150, NORM);
    /* C's queued payment to D would need 500; a credit into D of 500 lets both of D's go, and 300 back to C. */
    fx_fund(f, ACC_C, 500);
    assert_events(f, EV_POSTED(5000, 500), EV_PAY(10, 500), EV_PAY(11, 300), EV_PAY(12, 150));
    assert_queue_empty(f, ACC_C);
    assert_queue_empty(f, ACC_D);
    assert_balance(f, ACC_C, 300);
    assert_balance(f, ACC_D, 50);
    assert_balance(f, ACC_B, FUND_B + 150);

    /* A circle: C -> D queued, D -> C queued, each blocked; funding C releases both round the circle. */
    fx_pay_queues(f, 20, ACC_C, ACC_D, 1000, NORM);
    fx_pay_queues(f, 21, ACC_D, ACC_C, 900, NORM);
    fx_pay_queues(f, 22, ACC_C, ACC_D, 1100, NORM);
    fx_fund(f, ACC_C, 700); /* C: 1000 -> 20 settles (0), D: 1050 -> 21 (150), C: 900 -> 22 blocked (1100) */
    assert_events(f, EV_POSTED(5001, 700), EV_PAY(20, 1000), EV_PAY(21, 900));
    assert_queue(f, ACC_C, 22);
    assert_queue_empty(f, ACC_D);
    assert_balance(f, ACC_C, 900);
    assert_balance(f, ACC_D, 150);
}

/* Every kind of liquidity rise releases: a credit line raised, a reservation lowered, a hold voided or expired. */
static void test_release_triggers(void **state) {
    struct fx *f = *state;
    /* Credit line. */
    fx_pay_queues(f, 10, ACC_C, ACC_D, 500, NORM);
    fx_ok(f, tu_account_amount(fx_t(f), ORTAK_CMD_CREDIT_LINE_SET, ACC_C, 400));
    assert_events(f, EV_AMOUNT(ORTAK_EV_CREDIT_LINE_SET, ACC_C, 400));
    assert_queued(f, 10);
    fx_ok(f, tu_account_amount(fx_t(f), ORTAK_CMD_CREDIT_LINE_SET, ACC_C, 600));
    assert_events(f, EV_AMOUNT(ORTAK_EV_CREDIT_LINE_SET, ACC_C, 600), EV_PAY(10, 500));
    assert_balance(f, ACC_C, -500);
    assert_queue_empty(f, ACC_C);

    /* Reservation lowered: D holds 1000 of which 800 reserved; a normal 500 waits until the reservation drops. */
    fx_fund(f, ACC_D, 500); /* D already holds 500 from payment 10 */
    fx_ok(f, tu_account_amount(fx_t(f), ORTAK_CMD_RESERVE_SET, ACC_D, 800));
    fx_pay_queues(f, 20, ACC_D, ACC_B, 500, NORM);
    fx_ok(f, tu_account_amount(fx_t(f), ORTAK_CMD_RESERVE_SET, ACC_D, 600)); /* 400 free: not enough */
    assert_events(f, EV_AMOUNT(ORTAK_EV_RESERVE_SET, ACC_D, 600));
    assert_queued(f, 20);
    fx_ok(f, tu_account_amount(fx_t(f), ORTAK_CMD_RESERVE_SET, ACC_D, 500));
    assert_events(f, EV_AMOUNT(ORTAK_EV_RESERVE_SET, ACC_D, 500), EV_PAY(20, 500));
    assert_balance(f, ACC_D, 500);
    /* Raising a reservation releases nothing (and is not a rise). */
    fx_ok(f, tu_account_amount(fx_t(f), ORTAK_CMD_RESERVE_SET, ACC_D, 0));

    /* A hold voided: D's 500 is held by a pending transfer; a normal 300 waits until the void. */
    fx_ok(f, tu_pending(fx_t(f), 30, ACC_D, ACC_A, 400, 0));
    fx_pay_queues(f, 31, ACC_D, ACC_A, 300, NORM);
    fx_ok(f, tu_resolve(fx_t(f), 32, 30, 0, ORTAK_TRANSFER_VOID_PENDING));
    assert_events(f, EV_AMOUNT(ORTAK_EV_PENDING_VOIDED, 32, 400), EV_PAY(31, 300));
    assert_balance(f, ACC_D, 200);

    /* A hold expiring: the payment settles within the command at whose time it expires, before that command. */
    fx_ok(f, tu_pending(fx_t(f), 40, ACC_D, ACC_A, 200, 5));
    ortak_time_ns held_at = f->now;
    fx_pay_queues(f, 41, ACC_D, ACC_A, 150, NORM);
    f->now = held_at + 5 * ORTAK_NS_PER_S;
    fx_ok(f, tu_tick(f->now));
    assert_events(f, EV_AMOUNT(ORTAK_EV_PENDING_EXPIRED, 40, 200), EV_PAY(41, 150));
    assert_balance(f, ACC_D, 50);
    assert_queue_empty(f, ACC_D);

    /* A partial post of a hold releases the rest of it. */
    fx_fund(f, ACC_D, 950); /* 1000 */
    fx_ok(f, tu_pending(fx_t(f), 50, ACC_D, ACC_A, 900, 0));
    fx_pay_queues(f, 51, ACC_D, ACC_B, 400, NORM);
    fx_ok(f, tu_resolve(fx_t(f), 52, 50, 500, ORTAK_TRANSFER_POST_PENDING));
    assert_events(f, EV_AMOUNT(ORTAK_EV_PENDING_POSTED, 52, 500), EV_PAY(51, 400));
    assert_balance(f, ACC_D, 100);
}

/* ---- 3. FIFO and priorities -------------------------------------------------------------------------------- */

static void test_fifo_normal_waits_behind_normal(void **state) {
    struct fx *f = *state;
    fx_fund(f, ACC_C, 1000);
    fx_pay_queues(f, 10, ACC_C, ACC_D, 2000, NORM);
    /* 100 is covered, but an earlier normal payment waits: it queues behind it. */
    fx_pay_queues(f, 11, ACC_C, ACC_D, 100, NORM);
    assert_queue(f, ACC_C, 10, 11);
    assert_balance(f, ACC_C, 1000);
    /* A liquidity rise that still does not cover the head releases nothing, not even the small one. */
    fx_fund(f, ACC_C, 500);
    assert_events(f, EV_POSTED(5001, 500));
    assert_queue(f, ACC_C, 10, 11);
    /* Another payer is not affected by C's queue. */
    fx_pay_settles(f, 12, ACC_A, ACC_D, 100, NORM);
    fx_fund(f, ACC_C, 600); /* 2100: both go */
    assert_events(f, EV_POSTED(5002, 600), EV_PAY(10, 2000), EV_PAY(11, 100));
    assert_balance(f, ACC_C, 0);
}

static void test_fifo_normal_does_not_pass_urgent(void **state) {
    struct fx *f = *state;
    fx_fund(f, ACC_C, 1000);
    fx_pay_queues(f, 10, ACC_C, ACC_D, 5000, URG);
    fx_pay_queues(f, 11, ACC_C, ACC_D, 10, NORM);
    fx_pay_queues(f, 12, ACC_C, ACC_D, 10, URG); /* urgent behind a queued urgent */
    assert_queue(f, ACC_C, 10, 12, 11);
    /* Highly urgent passes them all: nothing queued at its priority or above. */
    fx_pay_settles(f, 13, ACC_C, ACC_D, 600, HU);
    assert_events(f, EV_PAY(13, 600));
    assert_queue(f, ACC_C, 10, 12, 11);
    assert_balance(f, ACC_C, 400);
    /* Urgent passes queued normal payments. */
    fx_pay_queues(f, 14, ACC_A, ACC_B, 200000, NORM);
    fx_pay_settles(f, 15, ACC_A, ACC_B, 300, URG);
    fx_pay_settles(f, 16, ACC_A, ACC_B, 300, HU);
    assert_queue(f, ACC_A, 14);
    assert_balance(f, ACC_A, FUND_A - 600);
}

static void test_release_order_by_class(void **state) {
    struct fx *f = *state;
    fx_pay_queues(f, 1, ACC_C, ACC_D, 100, NORM);
    fx_pay_queues(f, 2, ACC_C, ACC_D, 100, URG);
    fx_pay_queues(f, 3, ACC_C, ACC_D, 100, HU);
    fx_pay_queues(f, 4, ACC_C, ACC_D, 5000, URG);
    fx_pay_queues(f, 5, ACC_C, ACC_D, 100, NORM);
    fx_pay_queues(f, 6, ACC_C, ACC_D, 100, HU);
    assert_queue(f, ACC_C, 3, 6, 2, 4, 1, 5);
    struct ortak_queue_info qi = fx_queue_info(f, ACC_C);
    assert_int_equal(qi.count[HU], 2);
    assert_int_equal(qi.count[URG], 2);
    assert_int_equal(qi.count[NORM], 2);
    assert_true(qi.value[HU] == 200 && qi.value[URG] == 5100 && qi.value[NORM] == 200);
    /* 1000: highly urgent first, then urgent, stopping at the urgent 5000; the normal ones wait behind. */
    fx_fund(f, ACC_C, 1000);
    assert_events(f, EV_POSTED(5000, 1000), EV_PAY(3, 100), EV_PAY(6, 100), EV_PAY(2, 100));
    assert_queue(f, ACC_C, 4, 1, 5);
    assert_balance(f, ACC_C, 700);
    fx_fund(f, ACC_C, 4500); /* 5200 */
    assert_events(f, EV_POSTED(5001, 4500), EV_PAY(4, 5000), EV_PAY(1, 100), EV_PAY(5, 100));
    assert_queue_empty(f, ACC_C);
    assert_balance(f, ACC_C, 0);
    assert_balance(f, ACC_D, 5500);
}

/* ---- 4. reservations --------------------------------------------------------------------------------------- */

static void test_reservation(void **state) {
    struct fx *f = *state;
    fx_fund(f, ACC_C, 1000);
    fx_ok(f, tu_account_amount(fx_t(f), ORTAK_CMD_RESERVE_SET, ACC_C, 600));
    assert_events(f, EV_AMOUNT(ORTAK_EV_RESERVE_SET, ACC_C, 600));
    uint32_t n;
    assert_int_equal(ortak_engine_events(f->e, &n)[0].amount_old, 0);
    /* Normal: only 400 usable. */
    fx_pay_settles(f, 10, ACC_C, ACC_D, 300, NORM);
    fx_pay_queues(f, 11, ACC_C, ACC_D, 200, NORM);
    /* Urgent and highly urgent may use the reservation. */
    fx_pay_settles(f, 12, ACC_C, ACC_D, 500, URG);
    fx_pay_settles(f, 13, ACC_C, ACC_D, 150, HU);
    assert_balance(f, ACC_C, 50);
    fx_pay_queues(f, 14, ACC_C, ACC_D, 100, URG); /* beyond even the reservation */
    assert_queue(f, ACC_C, 14, 11);
    /* 100 arrives: the urgent one takes it from the reservation; the normal one still sees nothing free. */
    fx_fund(f, ACC_C, 100);
    assert_events(f, EV_POSTED(5001, 100), EV_PAY(14, 100));
    assert_queue(f, ACC_C, 11);
    /* Dropping the reservation frees the 50 left: still not 200. Funding 150 more does it. */
    fx_ok(f, tu_account_amount(fx_t(f), ORTAK_CMD_RESERVE_SET, ACC_C, 0));
    assert_events(f, EV_AMOUNT(ORTAK_EV_RESERVE_SET, ACC_C, 0));
    assert_queued(f, 11);
    fx_fund(f, ACC_C, 150);
    assert_events(f, EV_POSTED(5002, 150), EV_PAY(11, 200));
    assert_balance(f, ACC_C, 0);
    assert_balance(f, ACC_D, 1250);
}

/* ---- 5. participant controls ------------------------------------------------------------------------------ */

static void test_cancel(void **state) {
    struct fx *f = *state;
    fx_fund(f, ACC_C, 1000);
    fx_pay_queues(f, 10, ACC_C, ACC_D, 2000, NORM);
    fx_pay_queues(f, 11, ACC_C, ACC_D, 100, NORM);
    fx_pay_queues(f, 12, ACC_C, ACC_D, 950, NORM);
    /* Cancelling the head lets the next one go in the same command; the one after it is then blocked again. */
    fx_ok(f, tu_cancel(fx_t(f), 10));
    assert_events(f, EV_CANCELLED(10, 2000), EV_PAY(11, 100));
    struct ortak_payment_info p = fx_payment(f, 10);
    assert_int_equal(p.state, ORTAK_PAYMENT_CANCELLED);
    assert_int_equal(p.rc, ORTAK_OK);
    assert_int_equal(p.ended_ns, f->now);
    assert_settled(f, 11);
    assert_queue(f, ACC_C, 12);
    assert_balance(f, ACC_C, 900);
    struct ortak_transfer_info t;
    assert_int_equal(ortak_ledger_transfer_get(fx_ledger(f), 10, &t), ORTAK_TRANSFER_NOT_FOUND);
    /* Cancelling what is not queued, or unknown. */
    assert_int_equal(fx_rc(f, tu_cancel(fx_t(f), 10)), ORTAK_PAYMENT_NOT_QUEUED);
    assert_no_events(f);
    assert_int_equal(fx_rc(f, tu_cancel(fx_t(f), 11)), ORTAK_PAYMENT_NOT_QUEUED);
    assert_int_equal(fx_rc(f, tu_cancel(fx_t(f), 999)), ORTAK_PAYMENT_NOT_FOUND);
    assert_no_events(f);
    /* Cancelling the last one empties the queue; a later rise settles nothing. */
    fx_ok(f, tu_cancel(fx_t(f), 12));
    assert_events(f, EV_CANCELLED(12, 950));
    assert_queue_empty(f, ACC_C);
    fx_fund(f, ACC_C, 100);
    assert_events(f, EV_POSTED(5001, 100));
    assert_balance(f, ACC_C, 1000);
    /* A replay of a cancelled payment gives its first outcome. */
    struct ortak_result r = fx_pay(f, 10, ACC_C, ACC_D, 2000, NORM);
    assert_int_equal(r.rc, ORTAK_OK);
    assert_int_equal(r.flags, ORTAK_RESULT_REPLAYED);
    assert_state(f, 10, ORTAK_PAYMENT_CANCELLED, ORTAK_OK);
}

static void test_priority_change(void **state) {
    struct fx *f = *state;
    fx_pay_queues(f, 1, ACC_C, ACC_D, 100, NORM);
    fx_pay_queues(f, 2, ACC_C, ACC_D, 200, NORM);
    fx_pay_queues(f, 3, ACC_C, ACC_D, 300, URG);
    fx_pay_queues(f, 4, ACC_C, ACC_D, 50, URG);
    assert_queue(f, ACC_C, 3, 4, 1, 2);
    /* 2 becomes urgent: the tail of the urgent class. */
    fx_ok(f, tu_priority(fx_t(f), 2, URG));
    assert_events(f, {ORTAK_EV_PAYMENT_PRIORITY, 2, 200, URG});
    uint32_t n;
    const struct ortak_event *ev = ortak_engine_events(f->e, &n);
    assert_int_equal(ev[0].amount_old, NORM);
    assert_true(ev[0].debit_account_id == ACC_C && ev[0].credit_account_id == ACC_D);
    assert_queue(f, ACC_C, 3, 4, 2, 1);
    struct ortak_payment_info p = fx_payment(f, 2);
    assert_int_equal(p.p.priority, URG);
    assert_int_equal(p.state, ORTAK_PAYMENT_QUEUED);
    struct ortak_queue_info qi = fx_queue_info(f, ACC_C);
    assert_int_equal(qi.count[URG], 3);
    assert_int_equal(qi.count[NORM], 1);
    assert_true(qi.value[URG] == 550 && qi.value[NORM] == 100);
    /* 3 becomes normal: the tail of the normal class. */
    fx_ok(f, tu_priority(fx_t(f), 3, NORM));
    assert_events(f, {ORTAK_EV_PAYMENT_PRIORITY, 3, 300, NORM});
    assert_int_equal(ortak_engine_events(f->e, &n)[0].amount_old, URG);
    assert_queue(f, ACC_C, 4, 2, 1, 3);
    /* The same priority again: to the tail of its class. */
    fx_ok(f, tu_priority(fx_t(f), 4, URG));
    assert_queue(f, ACC_C, 2, 4, 1, 3);
    /* Refusals: invalid priority, unknown, not queued. */
    assert_int_equal(fx_rc(f, tu_priority(fx_t(f), 4, 3)), ORTAK_PRIORITY_INVALID);
    assert_no_events(f);
    assert_int_equal(fx_rc(f, tu_priority(fx_t(f), 999, URG)), ORTAK_PAYMENT_NOT_FOUND);
    assert_queue(f, ACC_C, 2, 4, 1, 3);
    /* Release follows the new order: 2 (200), 4 (50), then 1 (100) is too much for the 0 left. */
    fx_fund(f, ACC_C, 250);
    assert_events(f, EV_POSTED(5000, 250), EV_PAY(2, 200), EV_PAY(4, 50));
    assert_queue(f, ACC_C, 1, 3);
    assert_int_equal(fx_rc(f, tu_priority(fx_t(f), 2, NORM)), ORTAK_PAYMENT_NOT_QUEUED);
    /* The settled payment keeps the priority it settled at; its submitted fields are unchanged for replay. */
    assert_int_equal(fx_payment(f, 2).p.priority, URG);
    struct ortak_result r = fx_pay(f, 2, ACC_C, ACC_D, 200, NORM);
    assert_int_equal(r.rc, ORTAK_OK);
    assert_int_equal(r.flags, ORTAK_RESULT_REPLAYED);
}

/* Raising a blocked payment above the one blocking it settles it at once; lowering a blocker frees the class. */
static void test_priority_change_releases(void **state) {
    struct fx *f = *state;
    fx_fund(f, ACC_C, 500);
    fx_pay_queues(f, 1, ACC_C, ACC_D, 5000, NORM);
    fx_pay_queues(f, 2, ACC_C, ACC_D, 100, NORM);
    fx_ok(f, tu_priority(fx_t(f), 2, URG));
    assert_events(f, {ORTAK_EV_PAYMENT_PRIORITY, 2, 100, URG}, EV_PAY(2, 100));
    assert_queue(f, ACC_C, 1);
    assert_balance(f, ACC_C, 400);
    /* An urgent 5000 blocks a normal 100; lowering it to normal puts it behind the 100, which then goes. */
    fx_ok(f, tu_priority(fx_t(f), 1, URG));
    fx_pay_queues(f, 3, ACC_C, ACC_D, 100, NORM);
    assert_queue(f, ACC_C, 1, 3);
    fx_ok(f, tu_priority(fx_t(f), 1, NORM));
    assert_events(f, {ORTAK_EV_PAYMENT_PRIORITY, 1, 5000, NORM}, EV_PAY(3, 100));
    assert_queue(f, ACC_C, 1);
    assert_balance(f, ACC_C, 300);
}

static void test_move(void **state) {
    struct fx *f = *state;
    fx_fund(f, ACC_C, 150);
    fx_pay_queues(f, 1, ACC_C, ACC_D, 1000, NORM);
    fx_pay_queues(f, 2, ACC_C, ACC_D, 400, NORM);
    fx_pay_queues(f, 3, ACC_C, ACC_D, 300, NORM);
    fx_pay_queues(f, 4, ACC_C, ACC_D, 2000, URG);
    assert_queue(f, ACC_C, 4, 1, 2, 3);
    fx_ok(f, tu_move(fx_t(f), 3, 1));
    assert_events(f, {ORTAK_EV_PAYMENT_MOVED, 3, 300, 1});
    assert_queue(f, ACC_C, 4, 3, 1, 2);
    fx_ok(f, tu_move(fx_t(f), 3, 0));
    assert_events(f, {ORTAK_EV_PAYMENT_MOVED, 3, 300, 0});
    assert_queue(f, ACC_C, 4, 1, 2, 3);
    fx_ok(f, tu_move(fx_t(f), 2, 1));
    assert_queue(f, ACC_C, 4, 2, 1, 3);
    fx_ok(f, tu_move(fx_t(f), 1, 1));
    assert_queue(f, ACC_C, 4, 1, 2, 3);
    fx_ok(f, tu_move(fx_t(f), 4, 0)); /* moves within its own class only */
    assert_queue(f, ACC_C, 4, 1, 2, 3);
    assert_int_equal(fx_payment(f, 4).p.priority, URG);
    assert_int_equal(fx_rc(f, tu_move(fx_t(f), 999, 1)), ORTAK_PAYMENT_NOT_FOUND);
    assert_no_events(f);
    /* The urgent one goes to normal behind 3; a small one moved to the head of normal settles at once. */
    fx_ok(f, tu_priority(fx_t(f), 4, NORM));
    assert_queue(f, ACC_C, 1, 2, 3, 4);
    fx_pay_queues(f, 5, ACC_C, ACC_D, 120, NORM);
    fx_ok(f, tu_move(fx_t(f), 5, 1));
    assert_events(f, {ORTAK_EV_PAYMENT_MOVED, 5, 120, 1}, EV_PAY(5, 120));
    assert_queue(f, ACC_C, 1, 2, 3, 4);
    assert_balance(f, ACC_C, 30);
    assert_int_equal(fx_rc(f, tu_move(fx_t(f), 5, 1)), ORTAK_PAYMENT_NOT_QUEUED);
}

/* ---- 6. cut-offs ------------------------------------------------------------------------------------------- */

static void test_cutoff(void **state) {
    struct fx *f = *state;
    fx_pay_queues(f, 1, ACC_C, ACC_D, 100, NORM);
    fx_pay_queues(f, 2, ACC_C, ACC_D, 200, NORM);
    fx_pay_queues(f, 3, ACC_C, ACC_D, 5000, URG);
    fx_pay_queues(f, 4, ACC_D, ACC_C, 50, NORM);
    assert_false(ortak_settle_cutoff_passed(fx_settle(f), NORM));
    fx_ok(f, tu_cutoff(fx_t(f), 1u << NORM, 0));
    assert_events(f, {ORTAK_EV_CUTOFF, 0, 0, 1u << NORM}, EV_REJECTED(1, 100, ORTAK_REJECTED_AT_CUTOFF),
                  EV_REJECTED(2, 200, ORTAK_REJECTED_AT_CUTOFF), EV_REJECTED(4, 50, ORTAK_REJECTED_AT_CUTOFF));
    assert_state(f, 1, ORTAK_PAYMENT_REJECTED, ORTAK_REJECTED_AT_CUTOFF);
    assert_state(f, 4, ORTAK_PAYMENT_REJECTED, ORTAK_REJECTED_AT_CUTOFF);
    assert_int_equal(fx_payment(f, 2).ended_ns, f->now);
    assert_string_equal(ortak_rc_iso_reason(ORTAK_REJECTED_AT_CUTOFF), "AM04");
    assert_true(ortak_settle_cutoff_passed(fx_settle(f), NORM));
    assert_false(ortak_settle_cutoff_passed(fx_settle(f), URG));
    assert_false(ortak_settle_cutoff_passed(fx_settle(f), HU));
    assert_queue(f, ACC_C, 3);
    assert_queue_empty(f, ACC_D);
    /* A new normal payment is refused and recorded, even with liquidity; nothing moves. */
    fx_pay_refused(f, 5, ACC_A, ACC_B, 100, NORM, ORTAK_CUTOFF_PASSED);
    assert_events(f, EV_REJECTED(5, 100, ORTAK_CUTOFF_PASSED));
    assert_state(f, 5, ORTAK_PAYMENT_REJECTED, ORTAK_CUTOFF_PASSED);
    assert_string_equal(ortak_rc_iso_reason(ORTAK_CUTOFF_PASSED), "TM01");
    assert_balance(f, ACC_A, FUND_A);
    struct ortak_transfer_info t;
    assert_int_equal(ortak_ledger_transfer_get(fx_ledger(f), 5, &t), ORTAK_TRANSFER_NOT_FOUND);
    /* Urgent is still open. */
    fx_pay_settles(f, 6, ACC_A, ACC_B, 100, URG);
    /* Replays give the first outcome. */
    struct ortak_result r = fx_pay(f, 1, ACC_C, ACC_D, 100, NORM);
    assert_int_equal(r.rc, ORTAK_REJECTED_AT_CUTOFF);
    assert_int_equal(r.flags, ORTAK_RESULT_REPLAYED);
    /* Closing again rejects nothing more; invalid masks are refused. */
    fx_ok(f, tu_cutoff(fx_t(f), 1u << NORM, 0));
    assert_events(f, {ORTAK_EV_CUTOFF, 0, 0, 1u << NORM});
    assert_int_equal(fx_rc(f, tu_cutoff(fx_t(f), 0, 0)), ORTAK_PRIORITY_INVALID);
    assert_int_equal(fx_rc(f, tu_cutoff(fx_t(f), 8, 0)), ORTAK_PRIORITY_INVALID);
    assert_int_equal(fx_rc(f, tu_cutoff(fx_t(f), 8, 1)), ORTAK_PRIORITY_INVALID);
    assert_no_events(f);
    /* Reopening accepts normal payments again. */
    fx_ok(f, tu_cutoff(fx_t(f), 1u << NORM, 1));
    assert_events(f, {ORTAK_EV_CUTOFF, 0, 1, 1u << NORM});
    assert_false(ortak_settle_cutoff_passed(fx_settle(f), NORM));
    fx_pay_settles(f, 7, ACC_A, ACC_B, 100, NORM);
    assert_balance(f, ACC_A, FUND_A - 200);
    /* Closing urgent and highly urgent together rejects both classes, leaving normal. */
    fx_pay_queues(f, 8, ACC_C, ACC_D, 10, HU);
    fx_pay_queues(f, 9, ACC_C, ACC_D, 10, NORM);
    fx_ok(f, tu_cutoff(fx_t(f), (1u << HU) | (1u << URG), 0));
    assert_state(f, 3, ORTAK_PAYMENT_REJECTED, ORTAK_REJECTED_AT_CUTOFF);
    assert_state(f, 8, ORTAK_PAYMENT_REJECTED, ORTAK_REJECTED_AT_CUTOFF);
    assert_queue(f, ACC_C, 9);
    fx_pay_refused(f, 10, ACC_A, ACC_B, 100, HU, ORTAK_CUTOFF_PASSED);
}

/*
 * BUG (see the report): a cut-off that rejects the queued urgent payments does not retry the payer's normal ones
 * that waited behind them, although they are now covered. They stay queued until some later liquidity rise, which
 * breaks "release left nothing releasable" (FIFO release runs only for accounts in the ledger's `rose` list, and
 * ortak__settle_cutoff never calls ortak__ledger_note_rise for the payers it rejected from, unlike cancel and the
 * latest-time rejection).
 */
static void test_cutoff_releases_what_waited_behind(void **state) {
    struct fx *f = *state;
    fx_fund(f, ACC_C, 500);
    fx_pay_queues(f, 1, ACC_C, ACC_D, 5000, URG);
    fx_pay_queues(f, 2, ACC_C, ACC_D, 100, NORM);
    fx_ok(f, tu_cutoff(fx_t(f), 1u << URG, 0));
    assert_state(f, 1, ORTAK_PAYMENT_REJECTED, ORTAK_REJECTED_AT_CUTOFF);
    assert_events(f, {ORTAK_EV_CUTOFF, 0, 0, 1u << URG}, EV_REJECTED(1, 5000, ORTAK_REJECTED_AT_CUTOFF),
                  EV_PAY(2, 100));
    assert_settled(f, 2);
    assert_balance(f, ACC_C, 400);
}

/*
 * After the normal cut-off no payment may wait in the normal class (DESIGN §3: at a cut-off, queued payments of
 * that class are rejected). A priority change into a closed class would break that: it must either be refused or
 * end the payment, never leave it queued as normal.
 */
static void test_priority_change_into_closed_class(void **state) {
    struct fx *f = *state;
    fx_pay_queues(f, 1, ACC_C, ACC_D, 100, URG);
    fx_ok(f, tu_cutoff(fx_t(f), 1u << NORM, 0));
    /* Refused: no payment may wait in a closed class. It stays queued as urgent. */
    assert_int_equal(fx_rc(f, tu_priority(fx_t(f), 1, NORM)), ORTAK_CUTOFF_PASSED);
    struct ortak_payment_info p = fx_payment(f, 1);
    assert_int_equal(p.state, ORTAK_PAYMENT_QUEUED);
    assert_int_equal(p.p.priority, URG);
    assert_int_equal(fx_queue_info(f, ACC_C).count[NORM], 0);
}

/* ---- 7. latest settlement time ----------------------------------------------------------------------------- */

static void test_latest_time(void **state) {
    struct fx *f = *state;
    ortak_time_ns t0 = f->now;
    fx_fund(f, ACC_C, 60);
    struct ortak_result r =
        fx_apply(f, tu_latest(tu_payment(fx_t(f), 1, ACC_C, ACC_D, 100, NORM), t0 + 20 * ORTAK_NS_PER_S));
    assert_int_equal(r.rc, ORTAK_OK);
    assert_int_equal(r.flags, ORTAK_RESULT_QUEUED);
    assert_int_equal(fx_payment(f, 1).p.latest_ns, t0 + 20 * ORTAK_NS_PER_S);
    fx_pay_queues(f, 2, ACC_C, ACC_D, 50, NORM);
    /* Just before the latest time nothing happens. */
    fx_ok(f, tu_tick(t0 + 20 * ORTAK_NS_PER_S - 1));
    assert_no_events(f);
    assert_queued(f, 1);
    /* At the latest time: rejected, and what waited behind it settles, in that TICK. */
    f->now = t0 + 20 * ORTAK_NS_PER_S;
    fx_ok(f, tu_tick(f->now));
    assert_events(f, EV_REJECTED(1, 100, ORTAK_SETTLEMENT_TIMEOUT), EV_PAY(2, 50));
    assert_state(f, 1, ORTAK_PAYMENT_REJECTED, ORTAK_SETTLEMENT_TIMEOUT);
    assert_int_equal(fx_payment(f, 1).ended_ns, f->now);
    assert_string_equal(ortak_rc_iso_reason(ORTAK_SETTLEMENT_TIMEOUT), "AB03");
    assert_string_equal(ortak_rc_iso_reason(ORTAK_LATEST_TIME_PASSED), "AB03");
    assert_balance(f, ACC_C, 10);
    assert_queue_empty(f, ACC_C);

    /* The rejection comes before the command at that time: funding at the latest time is too late. */
    ortak_time_ns late = f->now + 5 * ORTAK_NS_PER_S;
    r = fx_apply(f, tu_latest(tu_payment(fx_t(f), 3, ACC_C, ACC_D, 500, URG), late));
    assert_int_equal(r.flags, ORTAK_RESULT_QUEUED);
    f->now = late;
    fx_ok(f, tu_transfer(late, 5100, ACC_ISS, ACC_C, 1000, 0));
    assert_events(f, EV_REJECTED(3, 500, ORTAK_SETTLEMENT_TIMEOUT), EV_POSTED(5100, 1000));
    assert_state(f, 3, ORTAK_PAYMENT_REJECTED, ORTAK_SETTLEMENT_TIMEOUT);
    assert_balance(f, ACC_C, 1010);

    /* Already past, or now: refused and recorded, nothing moves even with liquidity. */
    r = fx_apply(f, tu_latest(tu_payment(fx_t(f), 4, ACC_A, ACC_B, 100, NORM), f->now));
    assert_int_equal(r.rc, ORTAK_LATEST_TIME_PASSED);
    assert_events(f, EV_REJECTED(4, 100, ORTAK_LATEST_TIME_PASSED));
    assert_state(f, 4, ORTAK_PAYMENT_REJECTED, ORTAK_LATEST_TIME_PASSED);
    r = fx_apply(f, tu_latest(tu_payment(fx_t(f), 5, ACC_A, ACC_B, 100, HU), t0));
    assert_int_equal(r.rc, ORTAK_LATEST_TIME_PASSED);
    assert_balance(f, ACC_A, FUND_A);

    /* Settled before its latest time: the time passing does nothing. Several expire in order of their times. */
    r = fx_apply(f, tu_latest(tu_payment(fx_t(f), 6, ACC_A, ACC_B, 100, NORM), f->now + 3 * ORTAK_NS_PER_S));
    assert_int_equal(r.flags, 0);
    ortak_time_ns base = f->now;
    r = fx_apply(f, tu_latest(tu_payment(fx_t(f), 7, ACC_D, ACC_C, 99999, NORM), base + 30 * ORTAK_NS_PER_S));
    assert_int_equal(r.flags, ORTAK_RESULT_QUEUED);
    r = fx_apply(f, tu_latest(tu_payment(fx_t(f), 8, ACC_D, ACC_C, 99999, URG), base + 20 * ORTAK_NS_PER_S));
    assert_int_equal(r.flags, ORTAK_RESULT_QUEUED);
    r = fx_apply(f, tu_latest(tu_payment(fx_t(f), 9, ACC_D, ACC_C, 5, NORM), base + 40 * ORTAK_NS_PER_S));
    assert_int_equal(r.flags, ORTAK_RESULT_QUEUED);
    f->now = base + 35 * ORTAK_NS_PER_S;
    fx_ok(f, tu_tick(f->now));
    /* 8 then 7 (by latest time); 9 (5 of D's 550) then settles. */
    assert_events(f, EV_REJECTED(8, 99999, ORTAK_SETTLEMENT_TIMEOUT), EV_REJECTED(7, 99999, ORTAK_SETTLEMENT_TIMEOUT),
                  EV_PAY(9, 5));
    assert_settled(f, 6);
    assert_settled(f, 9);
    assert_queue_empty(f, ACC_D);
}

/* ---- 8. validation and idempotency ------------------------------------------------------------------------ */

/* Submits a payment that must be refused with `rc` and recorded as REJECTED with it, with its event, moving nothing. */
static void check_rejected(struct fx *f, struct ortak_cmd c, ortak_rc rc, const char *file, int line) {
    uint32_t count = ortak_settle_payment_count(fx_settle(f));
    uint32_t transfers = ortak_ledger_transfer_count(fx_ledger(f));
    ortak_i128 a = fx_balance(f, ACC_A), b = fx_balance(f, ACC_B), c_bal = fx_balance(f, ACC_C);
    struct ortak_result r = tu_apply1(f->e, &c);
    uint32_t n;
    const struct ortak_event *ev = ortak_engine_events(f->e, &n);
    struct ortak_payment_info info;
    ortak_rc got = ortak_settle_payment_get(fx_settle(f), c.u.payment.id, &info);
    bool ok = r.rc == (uint32_t)rc && r.flags == 0 && got == ORTAK_OK && info.state == ORTAK_PAYMENT_REJECTED &&
              info.rc == rc && info.ended_ns == c.timestamp && info.received_ns == c.timestamp &&
              ortak_settle_payment_count(fx_settle(f)) == count + 1 && n == 1 &&
              ev[0].kind == ORTAK_EV_PAYMENT_REJECTED && ev[0].id == c.u.payment.id && ev[0].status == (uint32_t)rc &&
              ev[0].debit_account_id == c.u.payment.debit_account_id &&
              ev[0].credit_account_id == c.u.payment.credit_account_id && ev[0].amount == (int64_t)c.u.payment.amount &&
              ortak_ledger_transfer_count(fx_ledger(f)) == transfers && fx_balance(f, ACC_A) == a &&
              fx_balance(f, ACC_B) == b && fx_balance(f, ACC_C) == c_bal;
    if (ok) {
        /* The replay gives the same refusal. */
        r = tu_apply1(f->e, &c);
        ok = r.rc == (uint32_t)rc && r.flags == ORTAK_RESULT_REPLAYED &&
             ortak_settle_payment_count(fx_settle(f)) == count + 1;
        ortak_engine_events(f->e, &n);
        ok = ok && n == 0;
    }
    if (ok) return;
    print_error("payment %llu: rc %s flags %u, recorded %s state %u rc %s, %u events; expected %s\n",
                (unsigned long long)c.u.payment.id, ortak_rc_name((ortak_rc)r.rc), r.flags, ortak_rc_name(got),
                info.state, ortak_rc_name(info.rc), n, ortak_rc_name(rc));
    _fail(file, line);
}
#define assert_rejected(f, cmd, rc) check_rejected(f, cmd, rc, __FILE__, __LINE__)

static void test_validation(void **state) {
    struct fx *f = *state;
    fx_fund(f, ACC_C, 1000);
    /* Invalid ids cannot be recorded. */
    assert_int_equal(fx_pay(f, 0, ACC_A, ACC_B, 100, NORM).rc, ORTAK_PAYMENT_ID_INVALID);
    assert_int_equal(fx_pay(f, ORTAK_U128_MAX, ACC_A, ACC_B, 100, NORM).rc, ORTAK_PAYMENT_ID_INVALID);
    assert_no_events(f);
    assert_int_equal(ortak_settle_payment_count(fx_settle(f)), 0);
    /* Every other refusal is recorded. */
    assert_rejected(f, tu_payment(fx_t(f), 1, ACC_A, ACC_B, 100, 3), ORTAK_PRIORITY_INVALID);
    assert_rejected(f, tu_payment(fx_t(f), 2, ACC_A, ACC_B, 100, 255), ORTAK_PRIORITY_INVALID);
    assert_rejected(f, tu_payment(fx_t(f), 3, ACC_A, ACC_B, 0, NORM), ORTAK_AMOUNT_ZERO);
    assert_rejected(f, tu_payment(fx_t(f), 4, ACC_A, ACC_B, ORTAK_AMOUNT_MAX + 1, URG), ORTAK_AMOUNT_OVERFLOW);
    assert_rejected(f, tu_payment(fx_t(f), 5, ACC_NONE, ACC_B, 100, NORM), ORTAK_ACCOUNT_NOT_FOUND);
    assert_rejected(f, tu_payment(fx_t(f), 6, ACC_A, ACC_NONE, 100, NORM), ORTAK_ACCOUNT_NOT_FOUND);
    assert_rejected(f, tu_payment(fx_t(f), 7, 0, ACC_B, 100, NORM), ORTAK_ACCOUNT_ID_INVALID);
    assert_rejected(f, tu_payment(fx_t(f), 8, ACC_A, ACC_A, 100, NORM), ORTAK_SAME_ACCOUNT);
    assert_rejected(f, tu_payment(fx_t(f), 9, ACC_A, ACC_AZN, 100, NORM), ORTAK_CURRENCY_MISMATCH);
    assert_rejected(f, tu_payment(fx_t(f), 10, ACC_AZN, ACC_A, 100, HU), ORTAK_CURRENCY_MISMATCH);
    assert_rejected(f, tu_payment(fx_t(f), 11, ACC_ISS, ACC_A, 100, NORM), ORTAK_KIND_NOT_ALLOWED);
    assert_rejected(f, tu_payment(fx_t(f), 12, ACC_A, ACC_ISS, 100, NORM), ORTAK_KIND_NOT_ALLOWED);
    assert_rejected(f, tu_payment(fx_t(f), 13, ACC_A, ACC_COLL, 100, URG), ORTAK_KIND_NOT_ALLOWED);
    assert_rejected(f, tu_payment(fx_t(f), 14, ACC_COLL, ACC_A, 100, URG), ORTAK_KIND_NOT_ALLOWED);
    /* The largest amount is accepted (and queues: nobody has it). */
    fx_pay_queues(f, 15, ACC_A, ACC_B, ORTAK_AMOUNT_MAX, HU);
    fx_ok(f, tu_cancel(fx_t(f), 15));
    /* Suspended payer or payee. */
    fx_ok(f, tu_status(fx_t(f), BANK_C, ORTAK_PARTICIPANT_SUSPENDED));
    assert_rejected(f, tu_payment(fx_t(f), 16, ACC_C, ACC_B, 100, NORM), ORTAK_PARTICIPANT_NOT_ACTIVE);
    assert_rejected(f, tu_payment(fx_t(f), 17, ACC_A, ACC_C, 100, HU), ORTAK_PARTICIPANT_NOT_ACTIVE);
    /* Even without liquidity, a suspended payer's new payment is refused, not queued. */
    assert_rejected(f, tu_payment(fx_t(f), 18, ACC_C, ACC_B, 5000, NORM), ORTAK_PARTICIPANT_NOT_ACTIVE);
    fx_ok(f, tu_status(fx_t(f), BANK_C, ORTAK_PARTICIPANT_ACTIVE));
    /* A payment id that a transfer already uses. */
    assert_rejected(f, tu_payment(fx_t(f), 9001, ACC_A, ACC_B, 100, NORM), ORTAK_TRANSFER_EXISTS_DIFFERENT);
    struct ortak_transfer_info t;
    assert_int_equal(ortak_ledger_transfer_get(fx_ledger(f), 9001, &t), ORTAK_OK);
    assert_true(t.t.debit_account_id == ACC_ISS && t.amount_booked == FUND_A);
    assert_string_equal(ortak_rc_iso_reason(ORTAK_PRIORITY_INVALID), "NARR");
    assert_balance(f, ACC_A, FUND_A);
    assert_balance(f, ACC_B, FUND_B);
    assert_balance(f, ACC_C, 1000);
}

static void test_idempotency(void **state) {
    struct fx *f = *state;
    struct ortak_cmd c = tu_latest(tu_payment(fx_t(f), 1, ACC_A, ACC_B, 700, URG), f->now + 1000 * ORTAK_NS_PER_S);
    c.u.payment.uetr = 0xabcdef;
    struct ortak_result r = tu_apply1(f->e, &c);
    assert_int_equal(r.rc, ORTAK_OK);
    assert_int_equal(r.flags, 0);
    /* The same payment again, later: the first outcome, nothing moves. */
    c.timestamp = fx_t(f);
    r = tu_apply1(f->e, &c);
    assert_int_equal(r.rc, ORTAK_OK);
    assert_int_equal(r.flags, ORTAK_RESULT_REPLAYED);
    assert_no_events(f);
    assert_balance(f, ACC_A, FUND_A - 700);
    assert_int_equal(ortak_settle_payment_count(fx_settle(f)), 1);
    /* Any field different. */
    struct ortak_cmd d = c;
    d.timestamp = fx_t(f);
    d.u.payment.amount = 701;
    assert_int_equal(tu_apply1(f->e, &d).rc, ORTAK_PAYMENT_EXISTS_DIFFERENT);
    d = c;
    d.timestamp = fx_t(f);
    d.u.payment.uetr = 1;
    assert_int_equal(tu_apply1(f->e, &d).rc, ORTAK_PAYMENT_EXISTS_DIFFERENT);
    d = c;
    d.timestamp = fx_t(f);
    d.u.payment.latest_ns = 0;
    assert_int_equal(tu_apply1(f->e, &d).rc, ORTAK_PAYMENT_EXISTS_DIFFERENT);
    d = c;
    d.timestamp = fx_t(f);
    d.u.payment.priority = NORM;
    assert_int_equal(tu_apply1(f->e, &d).rc, ORTAK_PAYMENT_EXISTS_DIFFERENT);
    d = c;
    d.timestamp = fx_t(f);
    d.u.payment.credit_account_id = ACC_C;
    assert_int_equal(tu_apply1(f->e, &d).rc, ORTAK_PAYMENT_EXISTS_DIFFERENT);
    d = c;
    d.timestamp = fx_t(f);
    d.u.payment.debit_account_id = ACC_C;
    r = tu_apply1(f->e, &d);
    assert_int_equal(r.rc, ORTAK_PAYMENT_EXISTS_DIFFERENT);
    assert_int_equal(r.flags, 0);
    assert_no_events(f);
    assert_int_equal(ortak_settle_payment_count(fx_settle(f)), 1);
    assert_balance(f, ACC_A, FUND_A - 700);
    assert_balance(f, ACC_C, 0);
    assert_int_equal(fx_payment(f, 1).p.amount, 700);

    /* A queued payment replayed: REPLAYED and QUEUED, no second queue entry. */
    fx_pay_queues(f, 2, ACC_C, ACC_D, 300, NORM);
    r = fx_pay(f, 2, ACC_C, ACC_D, 300, NORM);
    assert_int_equal(r.rc, ORTAK_OK);
    assert_int_equal(r.flags, ORTAK_RESULT_REPLAYED | ORTAK_RESULT_QUEUED);
    assert_no_events(f);
    assert_queue(f, ACC_C, 2);
    /* After its priority changed, the replay still compares with what was submitted. */
    fx_ok(f, tu_priority(fx_t(f), 2, URG));
    r = fx_pay(f, 2, ACC_C, ACC_D, 300, NORM);
    assert_int_equal(r.flags, ORTAK_RESULT_REPLAYED | ORTAK_RESULT_QUEUED);
    assert_int_equal(fx_pay(f, 2, ACC_C, ACC_D, 300, URG).rc, ORTAK_PAYMENT_EXISTS_DIFFERENT);
    fx_fund(f, ACC_C, 300);
    assert_events(f, EV_POSTED(5000, 300), EV_PAY(2, 300));
    r = fx_pay(f, 2, ACC_C, ACC_D, 300, NORM);
    assert_int_equal(r.rc, ORTAK_OK);
    assert_int_equal(r.flags, ORTAK_RESULT_REPLAYED);
    assert_balance(f, ACC_D, 300);
}

/*
 * A plain transfer that takes the id of a queued payment. The payment's id is also the id of the transfer that will
 * settle it (settle.h), so the ledger must not book a different transfer under it: afterwards a booked transfer
 * with that id must be the payment's settlement.
 */
static void test_transfer_takes_queued_payment_id(void **state) {
    struct fx *f = *state;
    fx_pay_queues(f, 10, ACC_C, ACC_D, 500, NORM);
    (void)fx_rc(f, tu_transfer(fx_t(f), 10, ACC_ISS, ACC_C, 1000, 0));
    fx_fund(f, ACC_C, 1000);
    struct ortak_transfer_info t;
    if (ortak_ledger_transfer_get(fx_ledger(f), 10, &t) == ORTAK_OK && t.rc == ORTAK_OK) {
        assert_settled(f,
                       10); /* BUG: the transfer was booked and the payment then rejected TRANSFER_EXISTS_DIFFERENT */
        assert_true(t.t.debit_account_id == ACC_C && t.t.credit_account_id == ACC_D && t.amount_booked == 500);
    } else {
        assert_settled(f, 10); /* the transfer was refused: the payment settles on the rise */
    }
}

static int setup_few_payments(void **state) {
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    struct ortak_config cfg = fx_config();
    cfg.limits.payments_max = 4;
    assert_int_equal(ortak_engine_open(&cfg, &f->e), ORTAK_OK);
    fx_build(f);
    *state = f;
    return 0;
}

static void test_payments_full(void **state) {
    struct fx *f = *state;
    fx_pay_settles(f, 1, ACC_A, ACC_B, 10, NORM);
    fx_pay_queues(f, 2, ACC_C, ACC_B, 10, NORM);
    fx_pay_refused(f, 3, ACC_A, ACC_B, 0, NORM, ORTAK_AMOUNT_ZERO);
    fx_pay_settles(f, 4, ACC_A, ACC_B, 10, URG);
    assert_int_equal(ortak_settle_payment_count(fx_settle(f)), 4);
    /* Full: refused, not recorded, nothing moves; a retry after room appears is not a replay. */
    fx_pay_refused(f, 5, ACC_A, ACC_B, 10, NORM, ORTAK_PAYMENTS_FULL);
    assert_no_events(f);
    struct ortak_payment_info p;
    assert_int_equal(ortak_settle_payment_get(fx_settle(f), 5, &p), ORTAK_PAYMENT_NOT_FOUND);
    assert_balance(f, ACC_A, FUND_A - 20);
    /* Replays still answer. */
    struct ortak_result r = fx_pay(f, 2, ACC_C, ACC_B, 10, NORM);
    assert_int_equal(r.rc, ORTAK_OK);
    assert_int_equal(r.flags, ORTAK_RESULT_REPLAYED | ORTAK_RESULT_QUEUED);
    /* Queued payments still settle when full. */
    fx_fund(f, ACC_C, 10);
    assert_events(f, EV_POSTED(5000, 10), EV_PAY(2, 10));
}

/* ---- 9. suspended payers ----------------------------------------------------------------------------------- */

static void test_suspended_payer_keeps_queue(void **state) {
    struct fx *f = *state;
    fx_fund(f, ACC_C, 1000);
    fx_ok(f, tu_pending(fx_t(f), 30, ACC_C, ACC_D, 1000, 0));
    fx_pay_queues(f, 1, ACC_C, ACC_D, 300, NORM);
    fx_pay_queues(f, 2, ACC_C, ACC_B, 200, URG);
    fx_ok(f, tu_status(fx_t(f), BANK_C, ORTAK_PARTICIPANT_SUSPENDED));
    /* The hold is voided: liquidity rises, but the suspended payer's payments stay queued, not rejected. */
    fx_ok(f, tu_resolve(fx_t(f), 31, 30, 0, ORTAK_TRANSFER_VOID_PENDING));
    assert_events(f, EV_AMOUNT(ORTAK_EV_PENDING_VOIDED, 31, 1000));
    assert_queued(f, 1);
    assert_queued(f, 2);
    assert_queue(f, ACC_C, 2, 1);
    assert_balance(f, ACC_C, 1000);
    /* A move (which retries the queue) leaves them queued too. */
    fx_ok(f, tu_move(fx_t(f), 1, 1));
    assert_events(f, {ORTAK_EV_PAYMENT_MOVED, 1, 300, 1});
    assert_queue(f, ACC_C, 2, 1);
    /* Reactivated: the reactivation itself releases the queue, in order (urgent first). */
    fx_ok(f, tu_status(fx_t(f), BANK_C, ORTAK_PARTICIPANT_ACTIVE));
    assert_queue_empty(f, ACC_C);
    assert_state(f, 2, ORTAK_PAYMENT_SETTLED, ORTAK_OK);
    assert_state(f, 1, ORTAK_PAYMENT_SETTLED, ORTAK_OK);
    fx_fund(f, ACC_C, 1);
    assert_events(f, EV_POSTED(5001, 1));
    assert_balance(f, ACC_C, 501);
    assert_balance(f, ACC_D, 300);
}

/* A suspended payee blocks the payer's queue head without ending it; its reactivation releases that queue. */
static void test_suspended_payee(void **state) {
    struct fx *f = *state;
    fx_pay_queues(f, 1, ACC_C, ACC_D, 300, NORM);
    fx_pay_queues(f, 2, ACC_C, ACC_B, 200, NORM);
    fx_ok(f, tu_status(fx_t(f), BANK_D, ORTAK_PARTICIPANT_SUSPENDED));
    fx_fund(f, ACC_C, 1000);
    assert_events(f, EV_POSTED(5000, 1000));
    assert_queue(f, ACC_C, 1, 2);
    fx_ok(f, tu_status(fx_t(f), BANK_D, ORTAK_PARTICIPANT_ACTIVE));
    assert_queue_empty(f, ACC_C);
    assert_settled(f, 1);
    assert_settled(f, 2);
    assert_balance(f, ACC_C, 500);
}

/* ---- 10. state hash and encoding -------------------------------------------------------------------------- */

/* Encodes `e` and opens a new engine from the bytes; the hashes match. */
static struct ortak_engine *reopen(const struct ortak_engine *e) {
    struct tu_buf b = {0};
    ortak_engine_encode(e, tu_buf_sink, &b);
    struct ortak_config cfg = *ortak_engine_config(e);
    struct ortak_engine *r = NULL;
    assert_int_equal(ortak_engine_open_state(&cfg, b.data, b.len, &r), ORTAK_OK);
    /* The bytes round-trip exactly. */
    struct tu_buf b2 = {0};
    ortak_engine_encode(r, tu_buf_sink, &b2);
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.data, b.data, b.len);
    free(b.data);
    free(b2.data);
    return r;
}

static void assert_same_hash(const struct ortak_engine *a, const struct ortak_engine *b) {
    uint8_t ha[32], hb[32];
    ortak_engine_state_hash(a, ha);
    ortak_engine_state_hash(b, hb);
    assert_memory_equal(ha, hb, 32);
}

static bool same_event(const struct ortak_event *x, const struct ortak_event *y) {
    return x->timestamp == y->timestamp && x->kind == y->kind && x->command_index == y->command_index &&
           x->id == y->id && x->ref == y->ref && x->debit_account_id == y->debit_account_id &&
           x->credit_account_id == y->credit_account_id && x->amount == y->amount && x->amount_old == y->amount_old &&
           x->status == y->status;
}

/* Applies the same batch to both engines: same results, same events, same state hash. */
static void apply_both(struct ortak_engine *a, struct ortak_engine *b, const struct ortak_cmd *cmds, uint32_t n) {
    struct ortak_result ra[64], rb[64];
    assert_true(n <= 64);
    assert_int_equal(ortak_engine_apply(a, cmds, n, ra), ORTAK_OK);
    uint32_t na, nb;
    const struct ortak_event *ea = ortak_engine_events(a, &na);
    struct ortak_event *copy = malloc((size_t)(na ? na : 1) * sizeof *copy);
    assert_non_null(copy);
    memcpy(copy, ea, (size_t)na * sizeof *copy);
    assert_int_equal(ortak_engine_apply(b, cmds, n, rb), ORTAK_OK);
    const struct ortak_event *eb = ortak_engine_events(b, &nb);
    bool ok = na == nb;
    for (uint32_t i = 0; ok && i < na; i++) ok = same_event(&copy[i], &eb[i]);
    free(copy);
    assert_true(ok);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(ra[i].rc, rb[i].rc);
        assert_int_equal(ra[i].flags, rb[i].flags);
        assert_int_equal(ra[i].fail_index, rb[i].fail_index);
    }
    assert_same_hash(a, b);
}

static void apply_both1(struct ortak_engine *a, struct ortak_engine *b, struct ortak_cmd c) { apply_both(a, b, &c, 1); }

/* Queues of C and D and every payment's view are the same in both engines. */
static void assert_same_settlement(const struct ortak_engine *a, const struct ortak_engine *b, uint64_t max_id) {
    const ortak_u128 accs[] = {ACC_A, ACC_B, ACC_C, ACC_D};
    for (size_t k = 0; k < 4; k++) {
        ortak_u128 ia[64], ib[64];
        uint32_t na, nb;
        struct ortak_queue_info qa, qb;
        assert_int_equal(ortak_settle_queue(ortak_engine_settle(a), accs[k], ia, 64, &na, &qa), ORTAK_OK);
        assert_int_equal(ortak_settle_queue(ortak_engine_settle(b), accs[k], ib, 64, &nb, &qb), ORTAK_OK);
        assert_int_equal(na, nb);
        for (uint32_t i = 0; i < na; i++) assert_true(ia[i] == ib[i]);
        for (int pr = 0; pr < ORTAK_PRIORITIES; pr++) {
            assert_int_equal(qa.count[pr], qb.count[pr]);
            assert_true(qa.value[pr] == qb.value[pr]);
        }
    }
    for (uint64_t id = 1; id <= max_id; id++) {
        struct ortak_payment_info pa, pb;
        ortak_rc rca = ortak_settle_payment_get(ortak_engine_settle(a), id, &pa);
        assert_int_equal(rca, ortak_settle_payment_get(ortak_engine_settle(b), id, &pb));
        if (rca != ORTAK_OK) continue;
        assert_int_equal(pa.state, pb.state);
        assert_int_equal(pa.rc, pb.rc);
        assert_int_equal(pa.p.priority, pb.p.priority);
        assert_int_equal(pa.received_ns, pb.received_ns);
        assert_int_equal(pa.ended_ns, pb.ended_ns);
        assert_int_equal(pa.p.latest_ns, pb.p.latest_ns);
    }
    for (uint8_t pr = 0; pr < ORTAK_PRIORITIES; pr++)
        assert_int_equal(ortak_settle_cutoff_passed(ortak_engine_settle(a), pr),
                         ortak_settle_cutoff_passed(ortak_engine_settle(b), pr));
    assert_int_equal(ortak_settle_payment_count(ortak_engine_settle(a)),
                     ortak_settle_payment_count(ortak_engine_settle(b)));
}

static void test_state_hash_and_encoding(void **state) {
    struct fx *f = *state;
    /* A second engine with the same fixture. */
    struct fx g = {0};
    struct ortak_config cfg = fx_config();
    assert_int_equal(ortak_engine_open(&cfg, &g.e), ORTAK_OK);
    f->more[0] = g.e;
    fx_build(&g);
    assert_same_hash(f->e, g.e);
    struct ortak_engine *a = f->e, *b = g.e;
    ortak_time_ns t = f->now;
    const ortak_time_ns base = f->now;
#define NEXT (t += ORTAK_NS_PER_S)
    apply_both1(a, b, tu_fund_cmd(NEXT, 6000, ACC_C, 50));
    apply_both1(a, b, tu_latest(tu_payment(NEXT, 1, ACC_C, ACC_D, 100, NORM), base + 100 * ORTAK_NS_PER_S));
    apply_both1(a, b, tu_payment(NEXT, 2, ACC_C, ACC_D, 200, NORM));
    apply_both1(a, b, tu_payment(NEXT, 3, ACC_C, ACC_D, 5000, URG));
    apply_both1(a, b, tu_latest(tu_payment(NEXT, 4, ACC_C, ACC_B, 50000, HU), base + 50 * ORTAK_NS_PER_S));
    apply_both1(a, b, tu_latest(tu_payment(NEXT, 5, ACC_D, ACC_C, 30, NORM), base + 200 * ORTAK_NS_PER_S));
    apply_both1(a, b, tu_payment(NEXT, 6, ACC_C, ACC_D, 7, NORM));
    apply_both1(a, b, tu_payment(NEXT, 7, ACC_D, ACC_C, 70, URG));
    apply_both1(a, b, tu_move(NEXT, 2, 1));
    apply_both1(a, b, tu_move(NEXT, 6, 1));
    apply_both1(a, b, tu_priority(NEXT, 1, URG));
    apply_both1(a, b, tu_move(NEXT, 5, 0));
    apply_both1(a, b, tu_payment(NEXT, 8, ACC_A, ACC_B, 100, URG));
    apply_both1(a, b, tu_payment(NEXT, 9, ACC_A, ACC_B, 0, URG)); /* rejected */
    apply_both1(a, b, tu_cancel(NEXT, 7));
    apply_both1(a, b, tu_cutoff(NEXT, 1u << HU, 0)); /* rejects 4, whose latest time is still in the heap */
    apply_both1(a, b, tu_account_amount(NEXT, ORTAK_CMD_RESERVE_SET, ACC_C, 100));
    assert_queue(f, ACC_C, 3, 1, 6, 2);
    assert_queue(f, ACC_D, 5);
    assert_same_settlement(a, b, 10);

    /* Encode and reopen: same hash and bytes, and the restored engine behaves as the original from here on. */
    struct ortak_engine *r = reopen(a);
    f->more[1] = r;
    assert_same_hash(a, r);
    assert_same_settlement(a, r, 10);
    assert_int_equal(ortak_engine_now(r), ortak_engine_now(a));
    apply_both1(a, r, tu_payment(NEXT, 10, ACC_C, ACC_D, 1, NORM));
    apply_both1(a, r, tu_payment(NEXT, 11, ACC_C, ACC_D, 1, HU)); /* highly urgent is closed */
    apply_both1(a, r, tu_move(NEXT, 10, 1));
    apply_both1(a, r, tu_payment(NEXT, 4, ACC_C, ACC_B, 50000, HU)); /* replay */
    /* Past payment 4's latest time (already rejected), 1's and 5's: those two are rejected. */
    t = base + 200 * ORTAK_NS_PER_S;
    apply_both1(a, r, tu_tick(t));
    assert_state(f, 1, ORTAK_PAYMENT_REJECTED, ORTAK_SETTLEMENT_TIMEOUT);
    assert_state(f, 5, ORTAK_PAYMENT_REJECTED, ORTAK_SETTLEMENT_TIMEOUT);
    t += ORTAK_NS_PER_S;
    struct ortak_cmd batch[3] = {
        tu_fund_cmd(t, 6001, ACC_C, 5000),
        tu_payment(t, 12, ACC_C, ACC_D, 100, URG),
        tu_fund_cmd(t, 6002, ACC_C, 400),
    };
    apply_both(a, r, batch, 3);
    assert_same_settlement(a, r, 13);
    apply_both1(a, r, tu_cutoff(NEXT, 1u << HU, 1));
    apply_both1(a, r, tu_account_amount(NEXT, ORTAK_CMD_RESERVE_SET, ACC_C, 0));
    apply_both1(a, r, tu_fund_cmd(NEXT, 6003, ACC_C, 100000));
    assert_same_settlement(a, r, 13);
    assert_queue_empty(f, ACC_C);
    /* A state reopened again later matches too. */
    struct ortak_engine *r2 = reopen(r);
    assert_same_hash(a, r2);
    ortak_engine_close(r2);
#undef NEXT
}

/* ---- screening holds ---------------------------------------------------------------------------------------- */

#define EV_HELD(id, amt, score) \
    { ORTAK_EV_PAYMENT_HELD, (id), (amt), (score) }
#define EV_RELEASED(id, amt) \
    { ORTAK_EV_PAYMENT_RELEASED, (id), (amt), 0 }

static struct ortak_result fx_held(struct fx *f, ortak_u128 id, ortak_u128 dr, ortak_u128 cr, uint64_t amount,
                                   uint8_t priority) {
    return fx_apply(f, tu_held(tu_payment(fx_t(f), id, dr, cr, amount, priority), "UN", "KZi.001", 9300));
}

static void test_screening_hold(void **state) {
    struct fx *f = *state;
    /* Held: recorded, untouched liquidity, no queue; the decision is kept with the payment. */
    struct ortak_result r = fx_held(f, 1, ACC_A, ACC_B, 100, NORM);
    assert_int_equal(r.rc, ORTAK_OK);
    assert_int_equal(r.flags, ORTAK_RESULT_HELD);
    assert_events(f, EV_HELD(1, 100, 9300));
    assert_state(f, 1, ORTAK_PAYMENT_HELD, ORTAK_OK);
    assert_balance(f, ACC_A, FUND_A);
    assert_queue_empty(f, ACC_A);
    struct ortak_payment_info p = fx_payment(f, 1);
    assert_int_equal(p.p.hold, 1);
    assert_true(p.p.screening.lists_version == 0x5ca1ab1e);
    assert_string_equal(p.p.screening.list, "UN");
    assert_string_equal(p.p.screening.entry_id, "KZi.001");
    assert_int_equal(p.ended_ns, 0);
    /* A retry screened otherwise (newer lists, no hit) is the same payment: replayed, still held. */
    r = fx_pay(f, 1, ACC_A, ACC_B, 100, NORM);
    assert_int_equal(r.rc, ORTAK_OK);
    assert_int_equal(r.flags, ORTAK_RESULT_REPLAYED | ORTAK_RESULT_HELD);
    /* Only a held payment can be cancelled by nobody, and released or rejected only while held. */
    assert_int_equal(fx_rc(f, tu_cancel(fx_t(f), 1)), ORTAK_PAYMENT_NOT_QUEUED);
    assert_int_equal(fx_rc(f, tu_control(fx_t(f), ORTAK_CMD_PAYMENT_RELEASE, 999)), ORTAK_PAYMENT_NOT_FOUND);
    /* Released: it goes on as if submitted now, and settles. */
    r = fx_apply(f, tu_control(fx_t(f), ORTAK_CMD_PAYMENT_RELEASE, 1));
    assert_int_equal(r.rc, ORTAK_OK);
    assert_int_equal(r.flags, 0);
    assert_events(f, EV_RELEASED(1, 100), EV_PAY(1, 100));
    assert_settled(f, 1);
    assert_balance(f, ACC_A, FUND_A - 100);
    assert_balance(f, ACC_B, FUND_B + 100);
    assert_int_equal(fx_rc(f, tu_control(fx_t(f), ORTAK_CMD_PAYMENT_RELEASE, 1)), ORTAK_PAYMENT_NOT_HELD);
    assert_int_equal(fx_rc(f, tu_control(fx_t(f), ORTAK_CMD_PAYMENT_REJECT, 1)), ORTAK_PAYMENT_NOT_HELD);

    /* Released without liquidity: it queues like any payment. */
    r = fx_held(f, 2, ACC_C, ACC_D, 500, URG);
    assert_int_equal(r.flags, ORTAK_RESULT_HELD);
    r = fx_apply(f, tu_control(fx_t(f), ORTAK_CMD_PAYMENT_RELEASE, 2));
    assert_int_equal(r.rc, ORTAK_OK);
    assert_int_equal(r.flags, ORTAK_RESULT_QUEUED);
    assert_events(f, EV_RELEASED(2, 500), EV_QUEUED(2, 500, URG));
    assert_queue(f, ACC_C, 2);

    /* Rejected: RR04, nothing booked, and it stays rejected. */
    fx_held(f, 3, ACC_A, ACC_B, 70, HU);
    assert_int_equal(fx_rc(f, tu_control(fx_t(f), ORTAK_CMD_PAYMENT_REJECT, 3)), ORTAK_OK);
    assert_events(f, EV_REJECTED(3, 70, ORTAK_SCREENING_REJECTED));
    assert_state(f, 3, ORTAK_PAYMENT_REJECTED, ORTAK_SCREENING_REJECTED);
    assert_string_equal(ortak_rc_iso_reason(ORTAK_SCREENING_REJECTED), "RR04");
    assert_balance(f, ACC_A, FUND_A - 100);
    assert_int_equal(fx_rc(f, tu_control(fx_t(f), ORTAK_CMD_PAYMENT_RELEASE, 3)), ORTAK_PAYMENT_NOT_HELD);

    /* A payment that would be refused anyway is rejected, not held. */
    r = fx_held(f, 4, ACC_A, ACC_NONE, 10, NORM);
    assert_int_equal(r.rc, ORTAK_ACCOUNT_NOT_FOUND);
    assert_state(f, 4, ORTAK_PAYMENT_REJECTED, ORTAK_ACCOUNT_NOT_FOUND);

    /* Held across its class's cut-off: the release judges it then, and the cut-off rejects it. */
    fx_held(f, 5, ACC_A, ACC_B, 10, NORM);
    fx_ok(f, tu_cutoff(fx_t(f), 1u << NORM, 0));
    assert_state(f, 5, ORTAK_PAYMENT_HELD, ORTAK_OK); /* a cut-off ends queued payments, not held ones */
    r = fx_apply(f, tu_control(fx_t(f), ORTAK_CMD_PAYMENT_RELEASE, 5));
    assert_int_equal(r.rc, ORTAK_CUTOFF_PASSED);
    assert_events(f, EV_RELEASED(5, 10), EV_REJECTED(5, 10, ORTAK_CUTOFF_PASSED));
    fx_ok(f, tu_cutoff(fx_t(f), 1u << NORM, 1));

    /* A held payment survives encoding: the reopened engine holds it, and releases it alike. */
    fx_held(f, 6, ACC_B, ACC_A, 40, NORM);
    struct ortak_engine *o = reopen(f->e);
    f->more[0] = o;
    assert_same_hash(f->e, o);
    ortak_time_ns t = fx_t(f);
    apply_both1(f->e, o, tu_control(t, ORTAK_CMD_PAYMENT_RELEASE, 6));
    assert_settled(f, 6);
    assert_same_settlement(f->e, o, 6);

    /* The journal's encoding keeps the hold and the decision. */
    struct ortak_cmd in[2] = {tu_held(tu_payment(t, 7, ACC_A, ACC_B, 5, NORM), "OFAC", "306", 10000),
                              tu_control(t, ORTAK_CMD_PAYMENT_REJECT, 7)};
    unsigned char buf[1024];
    assert_true(ortak_batch_encoded_size_max(2) <= sizeof buf);
    size_t len = ortak_batch_encode(in, 2, buf, sizeof buf);
    struct ortak_cmd out[2];
    uint32_t n;
    assert_int_equal(ortak_batch_decode(buf, len, out, 2, &n), ORTAK_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].u.payment.hold, 1);
    assert_memory_equal(&out[0].u.payment.screening, &in[0].u.payment.screening, sizeof in[0].u.payment.screening);
    assert_int_equal(out[1].kind, ORTAK_CMD_PAYMENT_REJECT);
    assert_true(out[1].u.control.id == 7);
}

/* ---- 11. property test ------------------------------------------------------------------------------------ */

#define PROP_BANKS 6
#define PROP_COMMANDS 4000
static const ortak_u128 prop_accs[PROP_BANKS] = {ACC_A, ACC_B, ACC_C, ACC_D, 5, 6};

static uint64_t rnd(uint64_t *s, uint64_t n) { return ortak_rng_next(s) % n; }

static struct ortak_config prop_config(void) {
    struct ortak_config cfg = fx_config();
    cfg.limits.payments_max = 2048;
    cfg.limits.transfers_max = 8192;
    return cfg;
}

/* One random command at time *t (which it may advance). */
static struct ortak_cmd prop_command(uint64_t *rs, ortak_time_ns *t, uint64_t *next_pid, uint64_t *next_tid,
                                     struct ortak_cmd *sent, uint32_t *nsent) {
    ortak_u128 payer = prop_accs[rnd(rs, PROP_BANKS)];
    ortak_u128 payee = prop_accs[rnd(rs, PROP_BANKS)];
    while (payee == payer) payee = prop_accs[rnd(rs, PROP_BANKS)];
    uint64_t r = rnd(rs, 100);
    /* Controls mostly aim at recent payments, which are the likeliest to be still queued. */
    uint64_t any_pid = *next_pid - rnd(rs, *next_pid < 40 ? *next_pid : 40);
    if (r < 45) {
        if (*nsent > 0 && rnd(rs, 30) == 0) { /* a replay of an earlier submission */
            struct ortak_cmd c = sent[rnd(rs, *nsent)];
            c.timestamp = *t;
            return c;
        }
        uint64_t pr = rnd(rs, 10);
        uint64_t amount = 1 + rnd(rs, rnd(rs, 2) ? 5000 : 60000);
        struct ortak_cmd c = tu_payment(*t, (*next_pid)++, payer, payee, amount, pr < 2 ? HU : pr < 4 ? URG : NORM);
        c.u.payment.uetr = ortak_rng_next(rs);
        uint64_t l = rnd(rs, 20);
        if (l < 5)
            c.u.payment.latest_ns = *t + (1 + rnd(rs, 60)) * ORTAK_NS_PER_S;
        else if (l == 5)
            c.u.payment.latest_ns = *t; /* already past */
        if (rnd(rs, 12) == 0) c = tu_held(c, "UN", "KZi.001", (uint16_t)(8000 + rnd(rs, 2001)));
        sent[(*nsent)++] = c;
        return c;
    }
    /* Liquidity in from the central bank, across between banks, and back out (so queues build up). */
    if (r < 55) return tu_transfer(*t, (*next_tid)++, ACC_ISS, payee, 1 + rnd(rs, 20000), 0);
    if (r < 58) return tu_transfer(*t, (*next_tid)++, payer, payee, 1 + rnd(rs, 5000), 0);
    if (r < 60) return tu_transfer(*t, (*next_tid)++, payer, ACC_ISS, 1 + rnd(rs, 50000), 0);
    if (r < 67) return tu_cancel(*t, any_pid);
    if (r < 74) return tu_priority(*t, any_pid, (uint8_t)rnd(rs, 3));
    if (r < 79) return tu_move(*t, any_pid, (uint8_t)rnd(rs, 2));
    if (r < 81) { /* the operator decides on a payment screening held (or on any, now and then) */
        ortak_u128 id = any_pid;
        for (int k = 0; k < 16 && *nsent > 0; k++) {
            const struct ortak_cmd *c = &sent[rnd(rs, *nsent)];
            if (c->u.payment.hold) {
                id = c->u.payment.id;
                break;
            }
        }
        return tu_control(*t, rnd(rs, 3) ? ORTAK_CMD_PAYMENT_RELEASE : ORTAK_CMD_PAYMENT_REJECT, id);
    }
    if (r < 89) {
        *t += (1 + rnd(rs, 20)) * ORTAK_NS_PER_S;
        return tu_tick(*t);
    }
    if (r < 92) return tu_account_amount(*t, ORTAK_CMD_RESERVE_SET, payer, rnd(rs, 3) ? 0 : (int64_t)rnd(rs, 10000));
    if (r < 94) return tu_account_amount(*t, ORTAK_CMD_CREDIT_LINE_SET, payer, (int64_t)rnd(rs, 5000));
    /*
     * Cut-offs close normal alone or every class: closing only a higher class leaves normal payments that waited
     * behind it unreleased (test_cutoff_releases_what_waited_behind), which the FIFO check below would report.
     */
    if (r < 95) return tu_cutoff(*t, rnd(rs, 3) ? 1u << NORM : 7u, 0);
    return tu_cutoff(*t, 7u, 1);
}

/* Every invariant of the ledger and the settlement state, after a batch. */
static void prop_check(const struct ortak_engine *e, uint64_t next_pid, uint64_t batch) {
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    const struct ortak_settle *s = ortak_engine_settle(e);
    ortak_i128 sum_kzt = 0, sum_azn = 0;
    for (uint32_t i = 0; i < ortak_ledger_account_count(l); i++) {
        struct ortak_account_info a;
        ortak_ledger_account_at(l, i, &a);
        if (strcmp(a.currency, "KZT") == 0)
            sum_kzt += a.balance;
        else if (strcmp(a.currency, "AZN") == 0)
            sum_azn += a.balance;
        else
            fail_msg("unexpected currency %s", a.currency);
        if (a.kind != ORTAK_ACCOUNT_ISSUANCE && a.balance - a.debits_pending + a.credit_line < 0)
            fail_msg("batch %llu: account %llu below its floor", (unsigned long long)batch, (unsigned long long)a.id);
    }
    assert_true(sum_kzt == 0);
    assert_true(sum_azn == 0);

    /* Payments against the ledger; tallies of the queued ones per payer and class. */
    uint32_t count[PROP_BANKS][ORTAK_PRIORITIES] = {{0}};
    ortak_i128 value[PROP_BANKS][ORTAK_PRIORITIES] = {{0}};
    for (uint64_t id = 1; id < next_pid; id++) {
        struct ortak_payment_info p;
        if (ortak_settle_payment_get(s, id, &p) != ORTAK_OK) continue;
        struct ortak_transfer_info t;
        ortak_rc trc = ortak_ledger_transfer_get(l, id, &t);
        bool booked = trc == ORTAK_OK && t.rc == ORTAK_OK && t.amount_booked == p.p.amount &&
                      t.t.debit_account_id == p.p.debit_account_id && t.t.credit_account_id == p.p.credit_account_id;
        if ((p.state == ORTAK_PAYMENT_SETTLED) != booked || (p.state != ORTAK_PAYMENT_SETTLED && trc == ORTAK_OK))
            fail_msg("batch %llu: payment %llu state %s, transfer %s", (unsigned long long)batch,
                     (unsigned long long)id, ortak_payment_state_name(p.state), ortak_rc_name(trc));
        assert_int_equal(p.state == ORTAK_PAYMENT_REJECTED, p.rc != ORTAK_OK);
        assert_int_equal(p.state == ORTAK_PAYMENT_QUEUED || p.state == ORTAK_PAYMENT_HELD, p.ended_ns == 0);
        if (p.state != ORTAK_PAYMENT_QUEUED) continue;
        int k = 0;
        while (k < PROP_BANKS && prop_accs[k] != p.p.debit_account_id) k++;
        assert_true(k < PROP_BANKS);
        count[k][p.p.priority]++;
        value[k][p.p.priority] += (ortak_i128)p.p.amount;
    }

    /* Each queue holds exactly its payer's queued payments, in class order; its head cannot settle (FIFO). */
    for (int k = 0; k < PROP_BANKS; k++) {
        static ortak_u128 ids[2048];
        uint32_t n;
        struct ortak_queue_info qi;
        assert_int_equal(ortak_settle_queue(s, prop_accs[k], ids, 2048, &n, &qi), ORTAK_OK);
        uint32_t total = 0;
        for (int pr = 0; pr < ORTAK_PRIORITIES; pr++) {
            assert_int_equal(qi.count[pr], count[k][pr]);
            assert_true(qi.value[pr] == value[k][pr]);
            total += qi.count[pr];
        }
        assert_int_equal(n, total);
        uint8_t last = 0;
        for (uint32_t i = 0; i < n; i++) {
            struct ortak_payment_info p;
            assert_int_equal(ortak_settle_payment_get(s, ids[i], &p), ORTAK_OK);
            assert_int_equal(p.state, ORTAK_PAYMENT_QUEUED);
            assert_true(p.p.debit_account_id == prop_accs[k]);
            assert_true(p.p.priority >= last);
            last = p.p.priority;
            for (uint32_t j = 0; j < i; j++) assert_true(ids[j] != ids[i]);
        }
        if (n == 0) continue;
        struct ortak_payment_info head;
        assert_int_equal(ortak_settle_payment_get(s, ids[0], &head), ORTAK_OK);
        struct ortak_account_info a;
        assert_int_equal(ortak_ledger_account_get(l, prop_accs[k], &a), ORTAK_OK);
        ortak_i128 avail = a.balance - a.debits_pending + a.credit_line - (head.p.priority == NORM ? a.reserved : 0);
        if (avail >= (ortak_i128)head.p.amount)
            fail_msg("batch %llu: account %llu's head %llu (%llu, %s) is covered but still queued",
                     (unsigned long long)batch, (unsigned long long)prop_accs[k], (unsigned long long)ids[0],
                     (unsigned long long)head.p.amount, ortak_priority_name(head.p.priority));
    }
}

static void prop_run(struct fx *f, uint64_t seed) {
    struct ortak_config cfg = prop_config();
    struct fx g = {0};
    assert_int_equal(ortak_engine_open(&cfg, &g.e), ORTAK_OK);
    f->more[0] = g.e;
    fx_build(&g);
    struct ortak_engine *a = f->e, *b = g.e;
    ortak_time_ns t = f->now;
    apply_both1(a, b, tu_participant(t += ORTAK_NS_PER_S, "TSESKZKA", "First Heartland Jusan Bank", ORTAK_ROLE_BANK));
    apply_both1(a, b, tu_participant(t += ORTAK_NS_PER_S, "EURIKZKA", "Eurasian Bank", ORTAK_ROLE_BANK));
    apply_both1(a, b, tu_account(t += ORTAK_NS_PER_S, 5, "TSESKZKA", "KZT", ORTAK_ACCOUNT_SETTLEMENT));
    apply_both1(a, b, tu_account(t += ORTAK_NS_PER_S, 6, "EURIKZKA", "KZT", ORTAK_ACCOUNT_SETTLEMENT));
    uint64_t rs = seed, next_pid = 1, next_tid = UINT64_C(1) << 40, batch = 0;
    static struct ortak_cmd sent[PROP_COMMANDS];
    uint32_t nsent = 0, done = 0;
    uint32_t seen[ORTAK_EV_PAYMENT_MOVED - ORTAK_EV_PAYMENT_SETTLED + 1] = {0}, timeouts = 0, at_cutoff = 0;
    uint32_t held = 0, released = 0, screened_out = 0;
    while (done < PROP_COMMANDS) {
        struct ortak_cmd cmds[16];
        uint32_t n = 1 + (uint32_t)rnd(&rs, 16);
        for (uint32_t i = 0; i < n; i++) {
            if (rnd(&rs, 4) == 0) t += rnd(&rs, 3) * ORTAK_NS_PER_S;
            cmds[i] = prop_command(&rs, &t, &next_pid, &next_tid, sent, &nsent);
        }
        apply_both(a, b, cmds, n);
        uint32_t nev;
        const struct ortak_event *ev = ortak_engine_events(a, &nev);
        for (uint32_t i = 0; i < nev; i++) {
            if (ev[i].kind >= ORTAK_EV_PAYMENT_SETTLED && ev[i].kind <= ORTAK_EV_PAYMENT_MOVED)
                seen[ev[i].kind - ORTAK_EV_PAYMENT_SETTLED]++;
            if (ev[i].kind == ORTAK_EV_PAYMENT_REJECTED && ev[i].status == ORTAK_SETTLEMENT_TIMEOUT) timeouts++;
            if (ev[i].kind == ORTAK_EV_PAYMENT_REJECTED && ev[i].status == ORTAK_REJECTED_AT_CUTOFF) at_cutoff++;
            if (ev[i].kind == ORTAK_EV_PAYMENT_REJECTED && ev[i].status == ORTAK_SCREENING_REJECTED) screened_out++;
            held += ev[i].kind == ORTAK_EV_PAYMENT_HELD;
            released += ev[i].kind == ORTAK_EV_PAYMENT_RELEASED;
        }
        prop_check(a, next_pid, batch++);
        done += n;
    }
    /* The state encodes and reopens to the same hash; both engines saw something of everything. */
    struct ortak_engine *r = reopen(a);
    assert_same_hash(a, r);
    ortak_engine_close(r);
    uint32_t states[ORTAK_PAYMENT_HELD + 1] = {0};
    for (uint64_t id = 1; id < next_pid; id++) {
        struct ortak_payment_info p;
        if (ortak_settle_payment_get(ortak_engine_settle(a), id, &p) == ORTAK_OK) states[p.state]++;
    }
    print_message("seed %llu: %llu batches; now %u queued, %u settled, %u cancelled, %u rejected; events: %u queued, "
                  "%u priority, %u moved, %u timeouts, %u at cut-off; %u held, %u released, %u rejected by screening\n",
                  (unsigned long long)seed, (unsigned long long)batch, states[1], states[2], states[3], states[4],
                  seen[ORTAK_EV_PAYMENT_QUEUED - ORTAK_EV_PAYMENT_SETTLED],
                  seen[ORTAK_EV_PAYMENT_PRIORITY - ORTAK_EV_PAYMENT_SETTLED],
                  seen[ORTAK_EV_PAYMENT_MOVED - ORTAK_EV_PAYMENT_SETTLED], timeouts, at_cutoff, held, released,
                  screened_out);
    for (size_t k = 0; k < sizeof seen / sizeof seen[0]; k++) assert_true(seen[k] > 0);
    assert_true(timeouts > 0 && at_cutoff > 0);
    assert_true(held > 0 && released > 0 && screened_out > 0);
}

static int setup_property(void **state) {
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    struct ortak_config cfg = prop_config();
    assert_int_equal(ortak_engine_open(&cfg, &f->e), ORTAK_OK);
    fx_build(f);
    *state = f;
    return 0;
}

static void test_property_seed1(void **state) { prop_run(*state, 1); }
static void test_property_seed2(void **state) { prop_run(*state, 0x5eed2026); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_settles_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queues_without_liquidity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_in_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_cascades, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_triggers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_normal_waits_behind_normal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_normal_does_not_pass_urgent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_order_by_class, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reservation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_priority_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_priority_change_releases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_move, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cutoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cutoff_releases_what_waited_behind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_priority_change_into_closed_class, setup, teardown),
        cmocka_unit_test_setup_teardown(test_latest_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transfer_takes_queued_payment_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payments_full, setup_few_payments, teardown),
        cmocka_unit_test_setup_teardown(test_suspended_payer_keeps_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suspended_payee, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_hash_and_encoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_screening_hold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_property_seed1, setup_property, teardown),
        cmocka_unit_test_setup_teardown(test_property_seed2, setup_property, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
