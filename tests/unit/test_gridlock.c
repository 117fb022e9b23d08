/*
 * Unit tests of the settlement mechanisms beyond FIFO release (settle.h, engine.h): bilateral offsetting on entry,
 * gridlock resolution on the operator's command (ORTAK_CMD_GRIDLOCK) and on the engine's timer, the order and
 * reservation rules of bypass, the GRIDLOCK command in the journal's batch encoding, the [settlement] configuration,
 * determinism (two engines, and a state reopened mid-way), and a property test over random traffic that follows
 * every payment's life through the events alone.
 *
 * Fixture (setup): the default configuration with small limits, offsetting on and no periodic gridlock runs
 * (setup_periodic runs them every 60 s of engine time, setup_no_offset turns offsetting off, setup_few_transfers
 * leaves room for two more transfers, setup_property adds a sixth Kazakh bank and room for random traffic); the Kazakh
 * central bank with its KZT issuance account, five Kazakh banks (A, B, C, D, E) with KZT settlement accounts, the
 * Azerbaijani central bank and two banks with AZN settlement accounts. A, B and the first Azerbaijani bank are
 * funded from the issuance accounts; C, D, E and the second Azerbaijani bank start empty, so their payments queue
 * until liquidity arrives. Every command takes a timestamp one second after the previous one.
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

#define T0 (UINT64_C(1767225600) * ORTAK_NS_PER_S) /* 2026-01-01T00:00:00Z, a multiple of 60 s */
#define SEC ORTAK_NS_PER_S

#define CB_KZ "NBRKKZKX"
#define CB_AZ "NABZAZ2X"
#define BANK_A "HSBKKZKX"
#define BANK_B "KCJBKZKX"
#define BANK_C "CASPKZKA"
#define BANK_D "ATYNKZKA"
#define BANK_E "TSESKZKA"
#define BANK_AZ "IBAZAZ2X"
#define BANK_AZ2 "PAHAAZ22"

#define ACC_A ((ortak_u128)1)
#define ACC_B ((ortak_u128)2)
#define ACC_C ((ortak_u128)3)
#define ACC_D ((ortak_u128)4)
#define ACC_E ((ortak_u128)5)
#define ACC_AZN ((ortak_u128)20)
#define ACC_AZN2 ((ortak_u128)21)
#define ACC_ISS ((ortak_u128)100)
#define ACC_ISS_AZN ((ortak_u128)120)

#define FUND_A 100000
#define FUND_B 50000
#define FUND_AZN 70000

#define KZT_NUMERIC 398
#define AZN_NUMERIC 944

#define HU ORTAK_PRIORITY_HIGHLY_URGENT
#define URG ORTAK_PRIORITY_URGENT
#define NORM ORTAK_PRIORITY_NORMAL
#define FIFO ORTAK_GRIDLOCK_FIFO
#define BYPASS ORTAK_GRIDLOCK_BYPASS

struct fx {
    struct ortak_engine *e;
    ortak_time_ns now;
    uint64_t next_xfer;           /* ids of funding transfers */
    struct ortak_engine *more[3]; /* further engines a test opens; closed by teardown */
};

/* ---- helpers ----------------------------------------------------------------------------------------------- */

static ortak_time_ns fx_t(struct fx *f) { return f->now += SEC; }

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
/* A payment that must settle at once (on its own or with offsetting), or queue. */
#define fx_pay_settles(f, id, dr, cr, amount, pr) check_pay(f, id, dr, cr, amount, pr, ORTAK_OK, 0, __FILE__, __LINE__)
#define fx_pay_queues(f, id, dr, cr, amount, pr) \
    check_pay(f, id, dr, cr, amount, pr, ORTAK_OK, ORTAK_RESULT_QUEUED, __FILE__, __LINE__)
/* A payment refused with `rc` (no flags). */
#define fx_pay_refused(f, id, dr, cr, amount, pr, rc) check_pay(f, id, dr, cr, amount, pr, rc, 0, __FILE__, __LINE__)

/* A plain transfer from the issuance account: new liquidity for `to`. */
static void fx_fund(struct fx *f, ortak_u128 to, uint64_t amount) {
    fx_ok(f, tu_transfer(fx_t(f), 5000 + f->next_xfer++, ACC_ISS, to, amount, 0));
}

static void fx_reserve(struct fx *f, ortak_u128 acc, int64_t amount) {
    fx_ok(f, tu_account_amount(fx_t(f), ORTAK_CMD_RESERVE_SET, acc, amount));
}

/* ORTAK_CMD_GRIDLOCK in `mode` (0 = configured) for `currency` ("" = every currency). */
static struct ortak_cmd tu_gridlock(ortak_time_ns ts, uint8_t mode, const char *currency) {
    struct ortak_cmd c = tu_cmd(ts, ORTAK_CMD_GRIDLOCK);
    c.u.gridlock.mode = mode;
    tu_copy(c.u.gridlock.currency, sizeof c.u.gridlock.currency, currency);
    return c;
}

/* Runs gridlock resolution at the next timestamp; it must be accepted. */
static void fx_gridlock(struct fx *f, uint8_t mode, const char *currency) {
    fx_ok(f, tu_gridlock(fx_t(f), mode, currency));
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
    /* Ended now when it ended; never while queued. */
    if ((state == ORTAK_PAYMENT_QUEUED) != (info.ended_ns == 0)) {
        print_error("payment %llu: ended_ns %llu in state %s\n", (unsigned long long)id,
                    (unsigned long long)info.ended_ns, ortak_payment_state_name(info.state));
        _fail(file, line);
    }
}
#define assert_state(f, id, state, rc) check_state(f, (ortak_u128)(id), state, rc, __FILE__, __LINE__)
#define assert_queued(f, id) assert_state(f, id, ORTAK_PAYMENT_QUEUED, ORTAK_OK)
#define assert_settled(f, id) assert_state(f, id, ORTAK_PAYMENT_SETTLED, ORTAK_OK)

/* A settled payment: its state, when it ended, and its one transfer with the payment's id, accounts and amount. */
static void check_settled_at(const struct fx *f, ortak_u128 id, ortak_time_ns at, const char *file, int line) {
    check_state(f, id, ORTAK_PAYMENT_SETTLED, ORTAK_OK, file, line);
    struct ortak_payment_info p = fx_payment(f, id);
    struct ortak_transfer_info t;
    ortak_rc rc = ortak_ledger_transfer_get(fx_ledger(f), id, &t);
    if (p.ended_ns == at && rc == ORTAK_OK && t.rc == ORTAK_OK && t.amount_booked == p.p.amount &&
        t.t.debit_account_id == p.p.debit_account_id && t.t.credit_account_id == p.p.credit_account_id &&
        t.timestamp == at)
        return;
    print_error("payment %llu: ended %llu (expected %llu), transfer %s\n", (unsigned long long)id,
                (unsigned long long)p.ended_ns, (unsigned long long)at, ortak_rc_name(rc));
    _fail(file, line);
}
#define assert_settled_now(f, id) check_settled_at(f, (ortak_u128)(id), (f)->now, __FILE__, __LINE__)

/* An account's balance (credits_posted - debits_posted). */
static ortak_i128 fx_balance(const struct fx *f, ortak_u128 id) { return tu_account_info(f->e, id).balance; }
#define assert_balance(f, id, want) assert_true(fx_balance(f, id) == (ortak_i128)(want))

/* Asserts an account's queue: the ids in settlement order and the count and value of each class. */
static void check_queue(const struct fx *f, ortak_u128 acc, const uint64_t *want, uint32_t nwant, const char *file,
                        int line) {
    ortak_u128 ids[128];
    uint32_t n = 0;
    struct ortak_queue_info qi;
    ortak_rc rc = ortak_settle_queue(fx_settle(f), acc, ids, 128, &n, &qi);
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
    for (uint32_t i = 0; i < n && i < 128; i++) print_error(" %llu", (unsigned long long)ids[i]);
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

/*
 * An expected event: kind, id, amount and status, and amount_old and ref (0 unless given: the tests' payments carry
 * no UETR). Accounts, timestamps and command indices are checked where a test needs them.
 */
struct xev {
    uint32_t kind;
    uint64_t id;
    int64_t amount;
    uint32_t status;
    int64_t amount_old;
    uint64_t ref;
};

static void print_events(const struct ortak_event *ev, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        print_error("  kind %u id %llu amount %lld status %u amount_old %lld ref %llu cmd %u\n", ev[i].kind,
                    (unsigned long long)ev[i].id, (long long)ev[i].amount, ev[i].status, (long long)ev[i].amount_old,
                    (unsigned long long)ev[i].ref, ev[i].command_index);
}

static void check_events(const struct fx *f, const struct xev *want, uint32_t nwant, const char *file, int line) {
    uint32_t n;
    const struct ortak_event *ev = ortak_engine_events(f->e, &n);
    bool ok = n == nwant;
    for (uint32_t i = 0; ok && i < n; i++)
        ok = ev[i].kind == want[i].kind && ev[i].id == (ortak_u128)want[i].id && ev[i].amount == want[i].amount &&
             ev[i].status == want[i].status && ev[i].amount_old == want[i].amount_old &&
             ev[i].ref == (ortak_u128)want[i].ref;
    if (ok) return;
    print_error("events: got %u\n", n);
    print_events(ev, n);
    print_error("expected %u\n", nwant);
    for (uint32_t i = 0; i < nwant; i++)
        print_error("  kind %u id %llu amount %lld status %u amount_old %lld ref %llu\n", want[i].kind,
                    (unsigned long long)want[i].id, (long long)want[i].amount, want[i].status,
                    (long long)want[i].amount_old, (unsigned long long)want[i].ref);
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
    { ORTAK_EV_TRANSFER_POSTED, (id), (amt), 0, 0, 0 }
#define EV_SETTLED(id, amt) \
    { ORTAK_EV_PAYMENT_SETTLED, (id), (amt), 0, 0, 0 }
#define EV_QUEUED(id, amt, pr) \
    { ORTAK_EV_PAYMENT_QUEUED, (id), (amt), (pr), 0, 0 }
#define EV_REJECTED(id, amt, rc) \
    { ORTAK_EV_PAYMENT_REJECTED, (id), (amt), (rc), 0, 0 }
#define EV_CANCELLED(id, amt) \
    { ORTAK_EV_PAYMENT_CANCELLED, (id), (amt), 0, 0, 0 }
#define EV_RESERVE(acc, amt, old) \
    { ORTAK_EV_RESERVE_SET, (uint64_t)(acc), (amt), 0, (old), 0 }
/* A payment settling: its transfer, then its settlement. */
#define EV_PAY(id, amt) EV_POSTED(id, amt), EV_SETTLED(id, amt)
/* Payment `id` settled together with `n` payments queued back to its payer. */
#define EV_OFFSET(id, n) \
    { ORTAK_EV_OFFSET, (id), (n), 0, 0, 0 }
/* A gridlock resolution run: currency, mode, payments queued in it, and the count and value it settled. */
#define EV_GRID(numeric, mode, queued, count, value) \
    { ORTAK_EV_GRIDLOCK, (numeric), (count), (mode), (queued), (value) }

/* The event at `i` of the last batch. */
static const struct ortak_event *fx_event(const struct fx *f, uint32_t i) {
    uint32_t n;
    const struct ortak_event *ev = ortak_engine_events(f->e, &n);
    assert_true(i < n);
    return &ev[i];
}

/* Every event of the last batch was caused by command `index` at time `at`. */
static void assert_events_from(const struct fx *f, uint32_t index, ortak_time_ns at) {
    uint32_t n;
    const struct ortak_event *ev = ortak_engine_events(f->e, &n);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(ev[i].command_index, index);
        assert_int_equal(ev[i].timestamp, at);
    }
}

/* The SHA-256 state hash of f's engine. */
static void fx_hash(const struct fx *f, uint8_t out[32]) { ortak_engine_state_hash(f->e, out); }

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

static struct ortak_config fx_config(bool offsetting, uint64_t interval_ms) {
    struct ortak_config cfg;
    ortak_config_default(&cfg);
    fx_limits(&cfg.limits);
    cfg.settlement.offsetting = offsetting;
    cfg.settlement.gridlock_interval_ms = interval_ms;
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
    fx_ok(f, tu_participant(fx_t(f), BANK_E, "First Heartland Jusan Bank", ORTAK_ROLE_BANK));
    fx_ok(f, tu_participant(fx_t(f), BANK_AZ, "International Bank of Azerbaijan", ORTAK_ROLE_BANK));
    fx_ok(f, tu_participant(fx_t(f), BANK_AZ2, "Pasha Bank", ORTAK_ROLE_BANK));
    fx_ok(f, tu_account(fx_t(f), ACC_ISS, CB_KZ, "KZT", ORTAK_ACCOUNT_ISSUANCE));
    fx_ok(f, tu_account(fx_t(f), ACC_A, BANK_A, "KZT", ORTAK_ACCOUNT_SETTLEMENT));
    fx_ok(f, tu_account(fx_t(f), ACC_B, BANK_B, "KZT", ORTAK_ACCOUNT_SETTLEMENT));
    fx_ok(f, tu_account(fx_t(f), ACC_C, BANK_C, "KZT", ORTAK_ACCOUNT_SETTLEMENT));
    fx_ok(f, tu_account(fx_t(f), ACC_D, BANK_D, "KZT", ORTAK_ACCOUNT_SETTLEMENT));
    fx_ok(f, tu_account(fx_t(f), ACC_E, BANK_E, "KZT", ORTAK_ACCOUNT_SETTLEMENT));
    fx_ok(f, tu_account(fx_t(f), ACC_ISS_AZN, CB_AZ, "AZN", ORTAK_ACCOUNT_ISSUANCE));
    fx_ok(f, tu_account(fx_t(f), ACC_AZN, BANK_AZ, "AZN", ORTAK_ACCOUNT_SETTLEMENT));
    fx_ok(f, tu_account(fx_t(f), ACC_AZN2, BANK_AZ2, "AZN", ORTAK_ACCOUNT_SETTLEMENT));
    fx_ok(f, tu_transfer(fx_t(f), 9001, ACC_ISS, ACC_A, FUND_A, 0));
    fx_ok(f, tu_transfer(fx_t(f), 9002, ACC_ISS, ACC_B, FUND_B, 0));
    fx_ok(f, tu_transfer(fx_t(f), 9003, ACC_ISS_AZN, ACC_AZN, FUND_AZN, 0));
}

static int setup_with(void **state, struct ortak_config cfg) {
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(ortak_engine_open(&cfg, &f->e), ORTAK_OK);
    fx_build(f);
    *state = f;
    return 0;
}

/* Offsetting on, gridlock resolution only on command. */
static int setup(void **state) { return setup_with(state, fx_config(true, 0)); }
static int setup_no_offset(void **state) { return setup_with(state, fx_config(false, 0)); }
/* Periodic gridlock resolution every 60 s of engine time. */
static int setup_periodic(void **state) { return setup_with(state, fx_config(true, 60000)); }

static int teardown(void **state) {
    struct fx *f = *state;
    ortak_engine_close(f->e);
    for (size_t i = 0; i < sizeof f->more / sizeof f->more[0]; i++) ortak_engine_close(f->more[i]);
    free(f);
    return 0;
}

/* ---- 1. bilateral offsetting on entry ---------------------------------------------------------------------- */

#define UETR 0x5eed0000c0ffeeULL

/* C (0) pays D 100; D's queue holds 60 + 40 back to C: together they leave both exactly covered. */
static void test_offset_exact_cover(void **state) {
    struct fx *f = *state;
    fx_pay_queues(f, 1, ACC_D, ACC_C, 60, NORM);
    assert_events(f, EV_QUEUED(1, 60, NORM));
    fx_pay_queues(f, 2, ACC_D, ACC_C, 40, NORM);
    assert_queue(f, ACC_D, 1, 2);
    struct ortak_cmd c = tu_payment(fx_t(f), 10, ACC_C, ACC_D, 100, NORM);
    c.u.payment.uetr = UETR;
    struct ortak_result r = fx_apply(f, c);
    assert_int_equal(r.rc, ORTAK_OK);
    assert_int_equal(r.flags, 0);
    assert_int_equal(r.fail_index, UINT32_MAX);
    /* The back payments first, in D's order, then C's payment, then the offset naming it and how many went back. */
    assert_events(f, EV_PAY(1, 60), EV_PAY(2, 40), EV_POSTED(10, 100), {ORTAK_EV_PAYMENT_SETTLED, 10, 100, 0, 0, UETR},
                  {ORTAK_EV_OFFSET, 10, 2, 0, 0, UETR});
    assert_events_from(f, 0, f->now);
    const struct ortak_event *off = fx_event(f, 6);
    assert_true(off->debit_account_id == ACC_C && off->credit_account_id == ACC_D);
    for (uint32_t i = 0; i < 4; i++) {
        assert_true(fx_event(f, i)->debit_account_id == ACC_D);
        assert_true(fx_event(f, i)->credit_account_id == ACC_C);
    }
    assert_true(fx_event(f, 4)->debit_account_id == ACC_C && fx_event(f, 5)->credit_account_id == ACC_D);
    assert_settled_now(f, 1);
    assert_settled_now(f, 2);
    assert_settled_now(f, 10);
    assert_queue_empty(f, ACC_C);
    assert_queue_empty(f, ACC_D);
    assert_balance(f, ACC_C, 0);
    assert_balance(f, ACC_D, 0);
    struct ortak_transfer_info t;
    assert_int_equal(ortak_ledger_transfer_get(fx_ledger(f), 10, &t), ORTAK_OK);
    assert_true(t.t.user_data == UETR);
    assert_int_equal(t.t.flags & ORTAK_TRANSFER_USE_RESERVED, 0);
    assert_int_equal(fx_payment(f, 10).received_ns, f->now);
    /* A replay gives the first outcome and settles nothing again. */
    r = fx_apply(f, c);
    assert_int_equal(r.rc, ORTAK_OK);
    assert_int_equal(r.flags, ORTAK_RESULT_REPLAYED);
    assert_no_events(f);
}

/* C (50) pays D 100; D's queue holds 60, 30, 20 to C. With the 20 D would be at -10: the run stops at 60 + 30. */
static void test_offset_prefix(void **state) {
    struct fx *f = *state;
    fx_fund(f, ACC_C, 50);
    fx_pay_queues(f, 1, ACC_D, ACC_C, 60, NORM);
    fx_pay_queues(f, 2, ACC_D, ACC_C, 30, NORM);
    fx_pay_queues(f, 3, ACC_D, ACC_C, 20, NORM);
    /* 60 alone would cover C; the run is the longest that keeps both covered. */
    fx_pay_settles(f, 10, ACC_C, ACC_D, 100, NORM);
    assert_events(f, EV_PAY(1, 60), EV_PAY(2, 30), EV_PAY(10, 100), EV_OFFSET(10, 2));
    assert_balance(f, ACC_C, 40);
    assert_balance(f, ACC_D, 10);
    assert_queue(f, ACC_D, 3);
    assert_queued(f, 3);
    assert_queue_empty(f, ACC_C);
}

/* C (0) pays D 100; D (20) has 30, 30, 50, 40 queued to C: C needs the first three, and D covers no more. */
static void test_offset_needs_k(void **state) {
    struct fx *f = *state;
    fx_fund(f, ACC_D, 20);
    fx_pay_queues(f, 1, ACC_D, ACC_C, 30, NORM);
    fx_pay_queues(f, 2, ACC_D, ACC_C, 30, NORM);
    fx_pay_queues(f, 3, ACC_D, ACC_C, 50, NORM);
    fx_pay_queues(f, 4, ACC_D, ACC_C, 40, NORM);
    fx_pay_settles(f, 10, ACC_C, ACC_D, 100, NORM);
    assert_events(f, EV_PAY(1, 30), EV_PAY(2, 30), EV_PAY(3, 50), EV_PAY(10, 100), EV_OFFSET(10, 3));
    assert_balance(f, ACC_C, 10);
    assert_balance(f, ACC_D, 10);
    assert_queue(f, ACC_D, 4);
    /* C (10) pays 60: D's 40 back would leave C at -10, and it is all D has queued: the payment queues. */
    fx_pay_queues(f, 11, ACC_C, ACC_D, 60, NORM);
    assert_events(f, EV_QUEUED(11, 60, NORM));
    assert_queue(f, ACC_C, 11);
    assert_queue(f, ACC_D, 4);
    assert_balance(f, ACC_C, 10);
    assert_balance(f, ACC_D, 10);
}

/* Offsetting looks only at the head of the payee's queue, class by class: a head to someone else stops it. */
static void test_offset_payee_head_elsewhere(void **state) {
    struct fx *f = *state;
    fx_pay_queues(f, 1, ACC_D, ACC_E, 50, NORM);
    fx_pay_queues(f, 2, ACC_D, ACC_C, 100, NORM);
    fx_pay_queues(f, 10, ACC_C, ACC_D, 100, NORM);
    assert_events(f, EV_QUEUED(10, 100, NORM));
    assert_queue(f, ACC_D, 1, 2);
    assert_queue(f, ACC_C, 10);
    /* Without D's 50 to E, the two would offset; offsetting happens on entry only, gridlock resolution does it now. */
    fx_ok(f, tu_cancel(fx_t(f), 1));
    assert_events(f, EV_CANCELLED(1, 50));
    assert_queue(f, ACC_D, 2);
    fx_gridlock(f, FIFO, "KZT");
    assert_events(f, EV_PAY(10, 100), EV_PAY(2, 100), EV_GRID(KZT_NUMERIC, FIFO, 2, 2, 200));
    /* An urgent payment to E queued later still heads D's queue, before the normal one to C. */
    fx_pay_queues(f, 3, ACC_D, ACC_C, 70, NORM);
    fx_pay_queues(f, 4, ACC_D, ACC_E, 5, URG);
    assert_queue(f, ACC_D, 4, 3);
    fx_pay_queues(f, 11, ACC_C, ACC_D, 70, NORM);
    assert_events(f, EV_QUEUED(11, 70, NORM));
    assert_queue(f, ACC_D, 4, 3);
    assert_balance(f, ACC_C, 0);
    assert_balance(f, ACC_D, 0);
}

/* The payer's own queue at the payment's priority or above comes first: the payment queues behind it, unoffset. */
static void test_offset_payer_queue_blocks(void **state) {
    struct fx *f = *state;
    fx_pay_queues(f, 1, ACC_C, ACC_E, 500, NORM);
    fx_pay_queues(f, 2, ACC_D, ACC_C, 100, NORM); /* C's head goes to E: no offsetting for D either */
    fx_pay_queues(f, 10, ACC_C, ACC_D, 100, NORM);
    assert_events(f, EV_QUEUED(10, 100, NORM));
    assert_queue(f, ACC_C, 1, 10);
    assert_queue(f, ACC_D, 2);
    /* Urgent: C has nothing queued at urgent or above, so it settles with D's 100 back. */
    fx_pay_settles(f, 11, ACC_C, ACC_D, 100, URG);
    assert_events(f, EV_PAY(2, 100), EV_PAY(11, 100), EV_OFFSET(11, 1));
    assert_queue(f, ACC_C, 1, 10);
    assert_queue_empty(f, ACC_D);
    /* Now C has an urgent payment queued: a new urgent one queues; a highly urgent one may offset. */
    fx_pay_queues(f, 3, ACC_C, ACC_E, 900, URG);
    fx_pay_queues(f, 4, ACC_D, ACC_C, 100, NORM);
    fx_pay_queues(f, 12, ACC_C, ACC_D, 100, URG);
    assert_events(f, EV_QUEUED(12, 100, URG));
    fx_pay_settles(f, 13, ACC_C, ACC_D, 100, HU);
    assert_events(f, EV_PAY(4, 100), EV_PAY(13, 100), EV_OFFSET(13, 1));
    assert_queue(f, ACC_C, 3, 12, 1, 10);
    assert_queue_empty(f, ACC_D);
    assert_balance(f, ACC_C, 0);
    assert_balance(f, ACC_D, 0);
}

/* The payer's reservation: an urgent payment may count it, a normal one may not. */
static void test_offset_payer_reservation(void **state) {
    struct fx *f = *state;
    fx_fund(f, ACC_C, 100);
    fx_reserve(f, ACC_C, 100);
    fx_pay_queues(f, 1, ACC_D, ACC_C, 60, NORM);
    /* Normal: C's free liquidity is 0, and 0 - 150 + 60 < 0. */
    fx_pay_queues(f, 10, ACC_C, ACC_D, 150, NORM);
    assert_events(f, EV_QUEUED(10, 150, NORM));
    assert_queue(f, ACC_D, 1);
    /* Urgent (nothing queued at urgent or above): 100 - 150 + 60 = 10 with the reservation. */
    fx_pay_settles(f, 11, ACC_C, ACC_D, 150, URG);
    assert_events(f, EV_PAY(1, 60), EV_PAY(11, 150), EV_OFFSET(11, 1));
    assert_balance(f, ACC_C, 10);
    assert_balance(f, ACC_D, 90);
    struct ortak_account_info c = tu_account_info(f->e, ACC_C);
    assert_int_equal(c.reserved, 100);
    assert_true(c.available == -90);
    struct ortak_transfer_info t;
    assert_int_equal(ortak_ledger_transfer_get(fx_ledger(f), 11, &t), ORTAK_OK);
    assert_int_not_equal(t.t.flags & ORTAK_TRANSFER_USE_RESERVED, 0);
    assert_int_equal(ortak_ledger_transfer_get(fx_ledger(f), 1, &t), ORTAK_OK);
    assert_int_equal(t.t.flags & ORTAK_TRANSFER_USE_RESERVED, 0);
    /* The normal one still waits: C's 10 is all reserved. */
    assert_queue(f, ACC_C, 10);
    assert_queue_empty(f, ACC_D);
}

/* The payee's reservation counts while the run's payments are urgent or highly urgent, and no further. */
static void test_offset_payee_reservation(void **state) {
    struct fx *f = *state;
    fx_fund(f, ACC_D, 50);
    fx_reserve(f, ACC_D, 50);
    fx_pay_queues(f, 1, ACC_D, ACC_C, 80, URG);
    fx_pay_queues(f, 2, ACC_D, ACC_C, 30, NORM);
    /* Urgent 80: 50 + 60 - 80 = 30 with D's reservation. The normal 30 after it: 0 + 60 - 110 without it. */
    fx_pay_settles(f, 10, ACC_C, ACC_D, 60, NORM);
    assert_events(f, EV_PAY(1, 80), EV_PAY(10, 60), EV_OFFSET(10, 1));
    assert_balance(f, ACC_C, 20);
    assert_balance(f, ACC_D, 30);
    assert_queue(f, ACC_D, 2);
    assert_int_equal(tu_account_info(f->e, ACC_D).reserved, 50);

    /* A normal run never counts the payee's reservation: E (50, all reserved) owes C 40; C (20) pays E 30. */
    fx_fund(f, ACC_E, 50);
    fx_reserve(f, ACC_E, 50);
    fx_pay_queues(f, 3, ACC_E, ACC_C, 40, NORM);
    fx_pay_queues(f, 11, ACC_C, ACC_E, 30, NORM);
    assert_events(f, EV_QUEUED(11, 30, NORM));
    assert_queue(f, ACC_E, 3);
    /* E's reservation lowered to 10: its 40 goes by FIFO release, and C's 30 follows. */
    fx_reserve(f, ACC_E, 10);
    assert_events(f, EV_RESERVE(ACC_E, 10, 50), EV_PAY(3, 40), EV_PAY(11, 30));
    assert_balance(f, ACC_C, 30);
    assert_balance(f, ACC_E, 40);
    assert_queue(f, ACC_D, 2);
}

/* With offsetting off, the exact cover of test_offset_exact_cover queues; gridlock resolution settles it. */
static void test_offset_disabled(void **state) {
    struct fx *f = *state;
    assert_false(ortak_engine_config(f->e)->settlement.offsetting);
    fx_pay_queues(f, 1, ACC_D, ACC_C, 60, NORM);
    fx_pay_queues(f, 2, ACC_D, ACC_C, 40, NORM);
    fx_pay_queues(f, 10, ACC_C, ACC_D, 100, NORM);
    assert_events(f, EV_QUEUED(10, 100, NORM));
    fx_pay_queues(f, 11, ACC_C, ACC_D, 100, HU);
    assert_events(f, EV_QUEUED(11, 100, HU));
    assert_queue(f, ACC_C, 11, 10);
    assert_queue(f, ACC_D, 1, 2);
    fx_ok(f, tu_cancel(fx_t(f), 11));
    fx_gridlock(f, FIFO, "KZT");
    assert_events(f, EV_PAY(10, 100), EV_PAY(1, 60), EV_PAY(2, 40), EV_GRID(KZT_NUMERIC, FIFO, 3, 3, 200));
    assert_queue_empty(f, ACC_C);
    assert_queue_empty(f, ACC_D);
    assert_balance(f, ACC_C, 0);
    assert_balance(f, ACC_D, 0);
}

static void assert_status_event(const struct fx *f, uint8_t status) {
    uint32_t n;
    const struct ortak_event *ev = ortak_engine_events(f->e, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].kind, ORTAK_EV_PARTICIPANT_STATUS);
    assert_int_equal(ev[0].status, status);
}

/*
 * A suspended participant: the back payments and the new payment share the same two accounts, so a suspension of
 * either side refuses the new payment itself (PARTICIPANT_NOT_ACTIVE) and leaves the back payments queued.
 */
static void test_offset_suspended(void **state) {
    struct fx *f = *state;
    fx_pay_queues(f, 1, ACC_D, ACC_C, 100, NORM);
    fx_ok(f, tu_status(fx_t(f), BANK_D, ORTAK_PARTICIPANT_SUSPENDED));
    fx_pay_refused(f, 10, ACC_C, ACC_D, 100, NORM, ORTAK_PARTICIPANT_NOT_ACTIVE);
    assert_events(f, EV_REJECTED(10, 100, ORTAK_PARTICIPANT_NOT_ACTIVE));
    assert_state(f, 10, ORTAK_PAYMENT_REJECTED, ORTAK_PARTICIPANT_NOT_ACTIVE);
    assert_queue(f, ACC_D, 1);
    assert_queued(f, 1);
    /* Reactivated: D's own queue is retried (not covered), nothing else happens. */
    fx_ok(f, tu_status(fx_t(f), BANK_D, ORTAK_PARTICIPANT_ACTIVE));
    assert_status_event(f, ORTAK_PARTICIPANT_ACTIVE);
    /* The payer suspended: likewise refused. */
    fx_ok(f, tu_status(fx_t(f), BANK_C, ORTAK_PARTICIPANT_SUSPENDED));
    fx_pay_refused(f, 11, ACC_C, ACC_D, 100, NORM, ORTAK_PARTICIPANT_NOT_ACTIVE);
    assert_events(f, EV_REJECTED(11, 100, ORTAK_PARTICIPANT_NOT_ACTIVE));
    fx_ok(f, tu_status(fx_t(f), BANK_C, ORTAK_PARTICIPANT_ACTIVE));
    assert_status_event(f, ORTAK_PARTICIPANT_ACTIVE);
    assert_queue(f, ACC_D, 1);
    assert_balance(f, ACC_C, 0);
    assert_balance(f, ACC_D, 0);
    /* Both active again: the offset goes through. */
    fx_pay_settles(f, 12, ACC_C, ACC_D, 100, NORM);
    assert_events(f, EV_PAY(1, 100), EV_PAY(12, 100), EV_OFFSET(12, 1));
    assert_queue_empty(f, ACC_D);
}

/* One offsetting attempt looks at 64 payments of the payee's queue at most. */
static void test_offset_scan_bound(void **state) {
    struct fx *f = *state;
    for (uint64_t k = 0; k < 70; k++) fx_pay_queues(f, 100 + k, ACC_D, ACC_C, 1, NORM);
    fx_pay_queues(f, 10, ACC_C, ACC_D, 65, NORM); /* would need 65 of D's payments back */
    assert_events(f, EV_QUEUED(10, 65, NORM));
    fx_ok(f, tu_cancel(fx_t(f), 10));
    fx_pay_settles(f, 11, ACC_C, ACC_D, 64, NORM);
    uint32_t n;
    const struct ortak_event *ev = ortak_engine_events(f->e, &n);
    assert_int_equal(n, 64 * 2 + 3);
    for (uint32_t k = 0; k < 64; k++) {
        assert_int_equal(ev[2 * k].kind, ORTAK_EV_TRANSFER_POSTED);
        assert_int_equal(ev[2 * k + 1].kind, ORTAK_EV_PAYMENT_SETTLED);
        assert_true(ev[2 * k + 1].id == 100 + k);
    }
    assert_true(ev[n - 3].id == 11 && ev[n - 2].id == 11);
    assert_int_equal(ev[n - 1].kind, ORTAK_EV_OFFSET);
    assert_int_equal(ev[n - 1].amount, 64);
    assert_queue(f, ACC_D, 164, 165, 166, 167, 168, 169);
    assert_balance(f, ACC_C, 0);
    assert_balance(f, ACC_D, 0);
}

/* ---- 2. gridlock resolution on command --------------------------------------------------------------------- */

/* Queues the ring C -> D -> E -> C of `amount` each (ids id, id + 1, id + 2); offsetting finds nothing to pair. */
static void fx_ring(struct fx *f, uint64_t id, uint64_t amount) {
    fx_pay_queues(f, id, ACC_C, ACC_D, amount, NORM);
    fx_pay_queues(f, id + 1, ACC_D, ACC_E, amount, NORM);
    fx_pay_queues(f, id + 2, ACC_E, ACC_C, amount, NORM);
}

/* TV1: a ring of three banks without liquidity settles whole, atomically, in either mode. */
static void test_gridlock_ring(void **state) {
    struct fx *f = *state;
    fx_ring(f, 1, 100);
    assert_queue(f, ACC_C, 1);
    assert_queue(f, ACC_D, 2);
    assert_queue(f, ACC_E, 3);
    ortak_time_ns at = fx_t(f);
    struct ortak_result r = fx_apply(f, tu_gridlock(at, FIFO, "KZT"));
    assert_int_equal(r.rc, ORTAK_OK);
    assert_int_equal(r.flags, 0);
    assert_int_equal(r.fail_index, UINT32_MAX);
    /* The payments' own events first (payer by payer), then the run's summary. */
    assert_events(f, EV_PAY(1, 100), EV_PAY(2, 100), EV_PAY(3, 100), EV_GRID(KZT_NUMERIC, FIFO, 3, 3, 300));
    assert_events_from(f, 0, at);
    assert_true(fx_event(f, 0)->debit_account_id == ACC_C && fx_event(f, 0)->credit_account_id == ACC_D);
    assert_true(fx_event(f, 6)->debit_account_id == 0 && fx_event(f, 6)->credit_account_id == 0);
    assert_settled_now(f, 1);
    assert_settled_now(f, 2);
    assert_settled_now(f, 3);
    assert_queue_empty(f, ACC_C);
    assert_queue_empty(f, ACC_D);
    assert_queue_empty(f, ACC_E);
    assert_balance(f, ACC_C, 0);
    assert_balance(f, ACC_D, 0);
    assert_balance(f, ACC_E, 0);
    /* Nothing queued any more: a run finds nothing and says nothing. */
    fx_gridlock(f, BYPASS, "KZT");
    assert_no_events(f);
    fx_gridlock(f, 0, "");
    assert_no_events(f);
    /* The same ring again in the configured mode (bypass): the event names the mode that ran. */
    fx_ring(f, 4, 70);
    fx_gridlock(f, 0, "KZT");
    assert_events(f, EV_PAY(4, 70), EV_PAY(5, 70), EV_PAY(6, 70), EV_GRID(KZT_NUMERIC, BYPASS, 3, 3, 210));
    assert_settled_now(f, 6);
}

/* TV2a: A (here C) holds 30; 100 out, 80 on, 70 back: every position stays covered, so all three settle. */
static void test_gridlock_unequal_cycle_covered(void **state) {
    struct fx *f = *state;
    fx_fund(f, ACC_C, 30);
    fx_pay_queues(f, 1, ACC_C, ACC_D, 100, NORM);
    fx_pay_queues(f, 2, ACC_D, ACC_E, 80, NORM);
    fx_pay_queues(f, 3, ACC_E, ACC_C, 70, NORM);
    fx_gridlock(f, BYPASS, "KZT");
    assert_events(f, EV_PAY(1, 100), EV_PAY(2, 80), EV_PAY(3, 70), EV_GRID(KZT_NUMERIC, BYPASS, 3, 3, 250));
    assert_balance(f, ACC_C, 0);
    assert_balance(f, ACC_D, 20);
    assert_balance(f, ACC_E, 10);
    assert_queue_empty(f, ACC_C);
}

/* TV2b: short by 1, nothing settles in either mode, and the state is unchanged (same hash at the same time). */
static void test_gridlock_unequal_cycle_short(void **state) {
    struct fx *f = *state;
    fx_fund(f, ACC_C, 29);
    fx_pay_queues(f, 1, ACC_C, ACC_D, 100, NORM);
    fx_pay_queues(f, 2, ACC_D, ACC_E, 80, NORM);
    fx_pay_queues(f, 3, ACC_E, ACC_C, 70, NORM);
    uint8_t before[32], after[32];
    fx_hash(f, before);
    fx_ok(f, tu_gridlock(f->now, FIFO, "KZT"));
    assert_events(f, EV_GRID(KZT_NUMERIC, FIFO, 3, 0, 0));
    fx_ok(f, tu_gridlock(f->now, BYPASS, "KZT"));
    assert_events(f, EV_GRID(KZT_NUMERIC, BYPASS, 3, 0, 0));
    fx_hash(f, after);
    assert_memory_equal(before, after, 32);
    assert_queue(f, ACC_C, 1);
    assert_queue(f, ACC_D, 2);
    assert_queue(f, ACC_E, 3);
    assert_balance(f, ACC_C, 29);
}

/* TV3: C's 50 to D heads its queue; the 10s between C and E offset only if C's 10 may pass it (bypass). */
static void test_gridlock_fifo_head_blocks_offset(void **state) {
    struct fx *f = *state;
    fx_pay_queues(f, 1, ACC_C, ACC_D, 50, NORM);
    fx_pay_queues(f, 2, ACC_C, ACC_E, 10, NORM);
    fx_pay_queues(f, 3, ACC_E, ACC_C, 10, NORM); /* C's head goes to D: no offsetting on entry */
    fx_gridlock(f, FIFO, "KZT");
    assert_events(f, EV_GRID(KZT_NUMERIC, FIFO, 3, 0, 0));
    assert_queue(f, ACC_C, 1, 2);
    fx_gridlock(f, BYPASS, "KZT");
    assert_events(f, EV_PAY(2, 10), EV_PAY(3, 10), EV_GRID(KZT_NUMERIC, BYPASS, 3, 2, 20));
    assert_settled_now(f, 2);
    assert_settled_now(f, 3);
    assert_queue(f, ACC_C, 1);
    assert_queue_empty(f, ACC_E);
    assert_balance(f, ACC_C, 0);
    assert_balance(f, ACC_E, 0);
}

/*
 * TV4, the knapsack: C has 10 for 6, 5 and 4 to D. In the engine FIFO release settles the 6 as soon as the 10
 * arrives (a covered head never waits for a gridlock run); then fifo resolution adds nothing (6 in all) and bypass
 * passes the 5 to settle the 4 (6 + 4 = 10).
 */
static void test_gridlock_knapsack(void **state) {
    struct fx *f = *state;
    fx_pay_queues(f, 1, ACC_C, ACC_D, 6, NORM);
    fx_pay_queues(f, 2, ACC_C, ACC_D, 5, NORM);
    fx_pay_queues(f, 3, ACC_C, ACC_D, 4, NORM);
    fx_fund(f, ACC_C, 10);
    assert_events(f, EV_POSTED(5000, 10), EV_PAY(1, 6));
    assert_queue(f, ACC_C, 2, 3);
    fx_gridlock(f, FIFO, "KZT");
    assert_events(f, EV_GRID(KZT_NUMERIC, FIFO, 2, 0, 0));
    fx_gridlock(f, BYPASS, "KZT");
    assert_events(f, EV_PAY(3, 4), EV_GRID(KZT_NUMERIC, BYPASS, 2, 1, 4));
    assert_queue(f, ACC_C, 2);
    assert_balance(f, ACC_C, 0);
    assert_balance(f, ACC_D, 10);
}

/* The knapsack as a gridlock: C's 6, 5, 4 to D wait for D's 10 back, which waits for them. */
static void test_gridlock_knapsack_cycle(void **state) {
    struct fx *f = *state;
    fx_pay_queues(f, 1, ACC_C, ACC_D, 6, NORM);
    fx_pay_queues(f, 2, ACC_C, ACC_D, 5, NORM);
    fx_pay_queues(f, 3, ACC_C, ACC_D, 4, NORM);
    fx_pay_queues(f, 4, ACC_D, ACC_C, 10, NORM); /* offsetting: 6 back leaves D at -4, 6 + 5 leaves C at -1 */
    fx_gridlock(f, FIFO, "KZT");
    assert_events(f, EV_GRID(KZT_NUMERIC, FIFO, 4, 0, 0));
    fx_gridlock(f, BYPASS, "KZT");
    assert_events(f, EV_PAY(1, 6), EV_PAY(3, 4), EV_PAY(4, 10), EV_GRID(KZT_NUMERIC, BYPASS, 4, 3, 20));
    assert_queue(f, ACC_C, 2);
    assert_queue_empty(f, ACC_D);
    assert_balance(f, ACC_C, 0);
    assert_balance(f, ACC_D, 0);
}

/* One currency, or every currency in configuration order; a currency with nothing queued has no run and no event. */
static void test_gridlock_currencies(void **state) {
    struct fx *f = *state;
    struct ortak_currency_info ci;
    ortak_ledger_currency_at(fx_ledger(f), 0, &ci);
    assert_string_equal(ci.code, "AZN");
    ortak_ledger_currency_at(fx_ledger(f), 1, &ci);
    assert_string_equal(ci.code, "KZT");
    fx_ring(f, 1, 100);
    fx_pay_queues(f, 20, ACC_AZN2, ACC_AZN, 500, NORM);
    fx_gridlock(f, BYPASS, "AZN");
    assert_events(f, EV_GRID(AZN_NUMERIC, BYPASS, 1, 0, 0));
    assert_queue(f, ACC_C, 1);
    fx_gridlock(f, FIFO, "");
    assert_events(f, EV_GRID(AZN_NUMERIC, FIFO, 1, 0, 0), EV_PAY(1, 100), EV_PAY(2, 100), EV_PAY(3, 100),
                  EV_GRID(KZT_NUMERIC, FIFO, 3, 3, 300));
    assert_queue_empty(f, ACC_C);
    assert_queue(f, ACC_AZN2, 20);
    fx_gridlock(f, FIFO, "KZT");
    assert_no_events(f);
    fx_gridlock(f, 0, "KGS"); /* configured, but no account at all */
    assert_no_events(f);
    fx_gridlock(f, 0, "");
    assert_events(f, EV_GRID(AZN_NUMERIC, BYPASS, 1, 0, 0));
    /* Funded, the AZN payment goes by FIFO release; then nothing is queued anywhere. */
    fx_ok(f, tu_transfer(fx_t(f), 7000, ACC_ISS_AZN, ACC_AZN2, 500, 0));
    assert_events(f, EV_POSTED(7000, 500), EV_PAY(20, 500));
    fx_gridlock(f, 0, "");
    assert_no_events(f);
}

/* A bad mode or an unknown currency is refused, and nothing changes: no event, the same state hash. */
static void test_gridlock_refusals(void **state) {
    struct fx *f = *state;
    fx_ring(f, 1, 100);
    uint8_t before[32], after[32];
    fx_hash(f, before);
    ortak_time_ns at = f->now; /* the same time: a refused command leaves even engine time as it was */
    assert_int_equal(fx_rc(f, tu_gridlock(at, 3, "KZT")), ORTAK_GRIDLOCK_MODE_INVALID);
    assert_no_events(f);
    assert_int_equal(fx_rc(f, tu_gridlock(at, 255, "")), ORTAK_GRIDLOCK_MODE_INVALID);
    assert_int_equal(fx_rc(f, tu_gridlock(at, 3, "XXX")), ORTAK_GRIDLOCK_MODE_INVALID); /* the mode first */
    assert_int_equal(fx_rc(f, tu_gridlock(at, FIFO, "XXX")), ORTAK_CURRENCY_UNKNOWN);
    assert_no_events(f);
    assert_int_equal(fx_rc(f, tu_gridlock(at, BYPASS, "USD")), ORTAK_CURRENCY_UNKNOWN);
    assert_int_equal(fx_rc(f, tu_gridlock(at, 0, "kzt")), ORTAK_CURRENCY_UNKNOWN);
    assert_int_equal(fx_rc(f, tu_gridlock(at, 0, "KZ")), ORTAK_CURRENCY_UNKNOWN);
    struct ortak_cmd c = tu_gridlock(at, FIFO, "");
    memcpy(c.u.gridlock.currency, "KZTX", 4); /* unterminated */
    assert_int_equal(fx_rc(f, c), ORTAK_CURRENCY_UNKNOWN);
    assert_no_events(f);
    fx_hash(f, after);
    assert_memory_equal(before, after, 32);
    assert_queue(f, ACC_C, 1);
    assert_queue(f, ACC_D, 2);
    assert_queue(f, ACC_E, 3);
    /* In a batch: the refused command changes nothing, the next one runs. */
    struct ortak_cmd cmds[2] = {tu_gridlock(fx_t(f), 3, "KZT"), tu_gridlock(f->now, FIFO, "KZT")};
    struct ortak_result r[2];
    assert_int_equal(ortak_engine_apply(f->e, cmds, 2, r), ORTAK_OK);
    assert_int_equal(r[0].rc, ORTAK_GRIDLOCK_MODE_INVALID);
    assert_int_equal(r[1].rc, ORTAK_OK);
    assert_events(f, EV_PAY(1, 100), EV_PAY(2, 100), EV_PAY(3, 100), EV_GRID(KZT_NUMERIC, FIFO, 3, 3, 300));
    assert_events_from(f, 1, f->now);
}

/* Room for two transfers after the fixture's three. */
static int setup_few_transfers(void **state) {
    struct ortak_config cfg = fx_config(true, 0);
    cfg.limits.transfers_max = 5;
    return setup_with(state, cfg);
}

/* Each settled payment books a transfer: a set that does not fit the transfer table settles nothing. */
static void test_gridlock_transfers_full(void **state) {
    struct fx *f = *state;
    assert_int_equal(ortak_ledger_transfer_count(fx_ledger(f)), 3);
    fx_ring(f, 1, 100);
    fx_gridlock(f, FIFO, "KZT");
    assert_events(f, EV_GRID(KZT_NUMERIC, FIFO, 3, 0, 0));
    fx_gridlock(f, BYPASS, "KZT");
    assert_events(f, EV_GRID(KZT_NUMERIC, BYPASS, 3, 0, 0));
    assert_int_equal(ortak_ledger_transfer_count(fx_ledger(f)), 3);
    /* Two fit: E pays D, D's 100 to E comes back. */
    fx_ok(f, tu_cancel(fx_t(f), 3));
    fx_pay_settles(f, 4, ACC_E, ACC_D, 100, NORM);
    assert_events(f, EV_PAY(2, 100), EV_PAY(4, 100), EV_OFFSET(4, 1));
    assert_int_equal(ortak_ledger_transfer_count(fx_ledger(f)), 5);
    /* Full: no offsetting (it would book two), and a run that would settle two settles none. */
    fx_pay_queues(f, 5, ACC_D, ACC_C, 100, NORM);
    fx_gridlock(f, FIFO, "KZT");
    assert_events(f, EV_GRID(KZT_NUMERIC, FIFO, 2, 0, 0));
    assert_queue(f, ACC_C, 1);
    assert_queue(f, ACC_D, 5);
    fx_pay_refused(f, 6, ACC_A, ACC_B, 1, NORM, ORTAK_TRANSFERS_FULL); /* transient: not recorded */
    struct ortak_payment_info p;
    assert_int_equal(ortak_settle_payment_get(fx_settle(f), 6, &p), ORTAK_PAYMENT_NOT_FOUND);
}

/* ---- 3. bypass: the priority rule and reservations --------------------------------------------------------- */

/*
 * A payer with an urgent or highly urgent payment queued keeps its whole queue in order, even in bypass; one with
 * only normal payments queued lets them pass each other.
 */
static void test_bypass_priority_rule(void **state) {
    struct fx *f = *state;
    fx_pay_queues(f, 1, ACC_C, ACC_D, 100, HU);
    fx_pay_queues(f, 2, ACC_C, ACC_D, 100, NORM);
    fx_pay_queues(f, 3, ACC_C, ACC_D, 10, NORM);
    fx_pay_queues(f, 4, ACC_D, ACC_C, 10, NORM); /* C's head (HU 100 to D) is too big to offset */
    assert_queue(f, ACC_C, 1, 2, 3);
    /* C's 10 would pair with D's 10, but it may not pass the highly urgent 100. */
    fx_gridlock(f, BYPASS, "KZT");
    assert_events(f, EV_GRID(KZT_NUMERIC, BYPASS, 4, 0, 0));
    fx_ok(f, tu_priority(fx_t(f), 1, URG));
    fx_gridlock(f, BYPASS, "KZT");
    assert_events(f, EV_GRID(KZT_NUMERIC, BYPASS, 4, 0, 0));
    assert_queue(f, ACC_C, 1, 2, 3);
    /* Without it, only normal payments: the 10 passes the 100 in bypass (not in fifo). */
    fx_ok(f, tu_cancel(fx_t(f), 1));
    assert_events(f, EV_CANCELLED(1, 100));
    fx_gridlock(f, FIFO, "KZT");
    assert_events(f, EV_GRID(KZT_NUMERIC, FIFO, 3, 0, 0));
    fx_gridlock(f, BYPASS, "KZT");
    assert_events(f, EV_PAY(3, 10), EV_PAY(4, 10), EV_GRID(KZT_NUMERIC, BYPASS, 3, 2, 20));
    assert_queue(f, ACC_C, 2);
    assert_queue_empty(f, ACC_D);

    /* An urgent payment queued after the normal ones still heads the queue and keeps it in order. */
    fx_pay_queues(f, 5, ACC_C, ACC_D, 10, NORM);
    fx_pay_queues(f, 6, ACC_D, ACC_C, 10, NORM);
    fx_pay_queues(f, 7, ACC_C, ACC_E, 1000, URG);
    assert_queue(f, ACC_C, 7, 2, 5);
    fx_gridlock(f, BYPASS, "KZT");
    assert_events(f, EV_GRID(KZT_NUMERIC, BYPASS, 4, 0, 0));
    /* Lowered to normal, it goes to the tail: C has only normal payments again. */
    fx_ok(f, tu_priority(fx_t(f), 7, NORM));
    assert_queue(f, ACC_C, 2, 5, 7);
    fx_gridlock(f, BYPASS, "KZT");
    assert_events(f, EV_PAY(5, 10), EV_PAY(6, 10), EV_GRID(KZT_NUMERIC, BYPASS, 4, 2, 20));
    assert_queue(f, ACC_C, 2, 7);
    assert_balance(f, ACC_C, 0);
    assert_balance(f, ACC_D, 0);
}

/* A payer whose queued payments are all urgent or above may use its reservation; one with any normal may not. */
static void test_gridlock_reservation(void **state) {
    struct fx *f = *state;
    fx_fund(f, ACC_C, 100);
    fx_reserve(f, ACC_C, 100);
    fx_pay_queues(f, 1, ACC_C, ACC_D, 150, URG);
    fx_pay_queues(f, 2, ACC_C, ACC_A, 1000, NORM);
    fx_pay_queues(f, 3, ACC_D, ACC_E, 50, NORM);
    fx_pay_queues(f, 4, ACC_E, ACC_C, 50, NORM); /* C's head goes to D: no offsetting */
    /* With 100 of reservation C could pay 150 and get 50 back; its normal payment keeps the reservation out. */
    fx_gridlock(f, BYPASS, "KZT");
    assert_events(f, EV_GRID(KZT_NUMERIC, BYPASS, 4, 0, 0));
    fx_gridlock(f, FIFO, "KZT");
    assert_events(f, EV_GRID(KZT_NUMERIC, FIFO, 4, 0, 0));
    struct ortak_account_info c = tu_account_info(f->e, ACC_C);
    assert_true(c.balance == 100 && c.reserved == 100 && c.available == 0);
    /* Only urgent queued: the reservation counts (100 - 150 + 50 = 0). */
    fx_ok(f, tu_cancel(fx_t(f), 2));
    assert_events(f, EV_CANCELLED(2, 1000));
    fx_gridlock(f, FIFO, "KZT");
    assert_events(f, EV_PAY(1, 150), EV_PAY(3, 50), EV_PAY(4, 50), EV_GRID(KZT_NUMERIC, FIFO, 3, 3, 250));
    c = tu_account_info(f->e, ACC_C);
    assert_true(c.balance == 0 && c.reserved == 100 && c.available == -100);
    assert_balance(f, ACC_D, 100);
    assert_balance(f, ACC_E, 0);
    struct ortak_transfer_info t;
    assert_int_equal(ortak_ledger_transfer_get(fx_ledger(f), 1, &t), ORTAK_OK);
    assert_int_not_equal(t.t.flags & ORTAK_TRANSFER_USE_RESERVED, 0);
}

/*
 * A queued payment that could not settle even with liquidity (its payee suspended, or its account closed since it
 * queued) stays out of a run; behind it, a payer's queue keeps its place in fifo, and its normal payments may pass
 * it in bypass. (Offsetting off, so that the small payments queue.)
 */
static void test_gridlock_unsettleable_stays_out(void **state) {
    struct fx *f = *state;
    fx_pay_queues(f, 1, ACC_C, ACC_D, 10, NORM);
    fx_pay_queues(f, 2, ACC_C, ACC_E, 10, NORM);
    fx_pay_queues(f, 3, ACC_E, ACC_C, 10, NORM);
    fx_ok(f, tu_status(fx_t(f), BANK_D, ORTAK_PARTICIPANT_SUSPENDED));
    fx_gridlock(f, FIFO, "KZT");
    assert_events(f, EV_GRID(KZT_NUMERIC, FIFO, 3, 0, 0));
    fx_gridlock(f, BYPASS, "KZT");
    assert_events(f, EV_PAY(2, 10), EV_PAY(3, 10), EV_GRID(KZT_NUMERIC, BYPASS, 3, 2, 20));
    assert_queue(f, ACC_C, 1);
    assert_queued(f, 1);
    /* Urgent, the blocked payment keeps C's whole queue in order: the urgent 10 behind it does not go either. */
    fx_ok(f, tu_priority(fx_t(f), 1, URG));
    fx_pay_queues(f, 4, ACC_C, ACC_E, 10, URG);
    fx_pay_queues(f, 5, ACC_E, ACC_C, 10, NORM);
    assert_queue(f, ACC_C, 1, 4);
    fx_gridlock(f, BYPASS, "KZT");
    assert_events(f, EV_GRID(KZT_NUMERIC, BYPASS, 3, 0, 0));
    /* D back, then its (empty) account closed: the payment to it still cannot settle. Lowered to normal, it lets
       the urgent one lead, and that one settles with E's 10 back. */
    fx_ok(f, tu_status(fx_t(f), BANK_D, ORTAK_PARTICIPANT_ACTIVE));
    fx_ok(f, tu_account_amount(fx_t(f), ORTAK_CMD_ACCOUNT_CLOSE, ACC_D, 0));
    fx_ok(f, tu_priority(fx_t(f), 1, NORM));
    assert_queue(f, ACC_C, 4, 1);
    fx_gridlock(f, FIFO, "KZT");
    assert_events(f, EV_PAY(4, 10), EV_PAY(5, 10), EV_GRID(KZT_NUMERIC, FIFO, 3, 2, 20));
    assert_queue(f, ACC_C, 1);
    fx_gridlock(f, BYPASS, "KZT");
    assert_events(f, EV_GRID(KZT_NUMERIC, BYPASS, 1, 0, 0));
    /* FIFO release, when C's liquidity rises, ends it: its transfer is refused for a reason waiting cannot cure. */
    fx_fund(f, ACC_C, 10);
    assert_events(f, EV_POSTED(5000, 10), EV_REJECTED(1, 10, ORTAK_ACCOUNT_CLOSED));
    assert_queue_empty(f, ACC_C);
}

/* ---- 4. periodic runs -------------------------------------------------------------------------------------- */

/* Every 60 s of engine time (a multiple of it), before the command that crosses it, once per crossing. */
static void test_periodic_gridlock(void **state) {
    struct fx *f = *state;
    assert_int_equal(ortak_engine_config(f->e)->settlement.gridlock_interval_ms, 60000);
    assert_true(f->now < T0 + 50 * SEC);
    fx_ring(f, 1, 100);
    f->now = T0 + 59 * SEC;
    fx_ok(f, tu_tick(f->now));
    assert_no_events(f);
    f->now = T0 + 59 * SEC + 999999999;
    fx_ok(f, tu_tick(f->now));
    assert_no_events(f);
    assert_queue(f, ACC_C, 1);
    /* T0 + 60 s: the run, in the configured mode, with the tick's index and time. */
    f->now = T0 + 60 * SEC;
    fx_ok(f, tu_tick(f->now));
    assert_events(f, EV_PAY(1, 100), EV_PAY(2, 100), EV_PAY(3, 100), EV_GRID(KZT_NUMERIC, BYPASS, 3, 3, 300));
    assert_events_from(f, 0, f->now);
    assert_settled_now(f, 3);
    /* The same time again, and later in the same minute: no other run. */
    fx_ok(f, tu_tick(f->now));
    assert_no_events(f);
    fx_ring(f, 4, 50);
    f->now = T0 + 119 * SEC;
    fx_ok(f, tu_tick(f->now));
    assert_no_events(f);
    assert_queue(f, ACC_C, 4);
    /* Crossing T0 + 120 s with a batch: the run comes before the first command's own events, and only once. */
    f->now = T0 + 120 * SEC;
    struct ortak_cmd cmds[3] = {tu_payment(f->now, 7, ACC_C, ACC_D, 5, NORM), tu_tick(f->now), tu_tick(f->now)};
    struct ortak_result r[3];
    assert_int_equal(ortak_engine_apply(f->e, cmds, 3, r), ORTAK_OK);
    assert_int_equal(r[0].rc, ORTAK_OK);
    assert_int_equal(r[0].flags, ORTAK_RESULT_QUEUED);
    assert_events(f, EV_PAY(4, 50), EV_PAY(5, 50), EV_PAY(6, 50), EV_GRID(KZT_NUMERIC, BYPASS, 3, 3, 150),
                  EV_QUEUED(7, 5, NORM));
    assert_events_from(f, 0, f->now);
    /* A jump over several minutes: one run. It settles nothing, but says so. */
    f->now = T0 + 600 * SEC;
    fx_ok(f, tu_tick(f->now));
    assert_events(f, EV_GRID(KZT_NUMERIC, BYPASS, 1, 0, 0));
    /* Nothing queued at a crossing: no event. */
    fx_ok(f, tu_cancel(fx_t(f), 7));
    f->now = T0 + 660 * SEC;
    fx_ok(f, tu_tick(f->now));
    assert_no_events(f);
    /* A latest settlement time at the crossing passes first: the ring is broken before the run. */
    struct ortak_result late = fx_apply(f, tu_latest(tu_payment(fx_t(f), 10, ACC_C, ACC_D, 100, NORM), T0 + 720 * SEC));
    assert_int_equal(late.flags, ORTAK_RESULT_QUEUED);
    fx_pay_queues(f, 11, ACC_D, ACC_E, 100, NORM);
    fx_pay_queues(f, 12, ACC_E, ACC_C, 100, NORM);
    f->now = T0 + 720 * SEC;
    fx_ok(f, tu_tick(f->now));
    assert_events(f, EV_REJECTED(10, 100, ORTAK_SETTLEMENT_TIMEOUT), EV_GRID(KZT_NUMERIC, BYPASS, 2, 0, 0));
    assert_queue(f, ACC_D, 11);

    /* An engine configured for fifo runs fifo, at every crossing while something is queued. */
    struct ortak_config cfg = fx_config(true, 60000);
    cfg.settlement.gridlock_mode = FIFO;
    struct fx g = {0};
    assert_int_equal(ortak_engine_open(&cfg, &g.e), ORTAK_OK);
    f->more[0] = g.e;
    fx_build(&g);
    fx_pay_queues(&g, 1, ACC_C, ACC_D, 50, NORM);
    fx_pay_queues(&g, 2, ACC_C, ACC_E, 10, NORM);
    fx_pay_queues(&g, 3, ACC_E, ACC_C, 10, NORM);
    g.now = T0 + 60 * SEC;
    fx_ok(&g, tu_tick(g.now));
    assert_events(&g, EV_GRID(KZT_NUMERIC, FIFO, 3, 0, 0));
    g.now = T0 + 120 * SEC;
    fx_ok(&g, tu_tick(g.now));
    assert_events(&g, EV_GRID(KZT_NUMERIC, FIFO, 3, 0, 0));
    /* The operator's command in the configured mode is fifo too; bypass on request. */
    fx_gridlock(&g, 0, "KZT");
    assert_events(&g, EV_GRID(KZT_NUMERIC, FIFO, 3, 0, 0));
    fx_gridlock(&g, BYPASS, "KZT");
    assert_events(&g, EV_PAY(2, 10), EV_PAY(3, 10), EV_GRID(KZT_NUMERIC, BYPASS, 3, 2, 20));
}

/*
 * The members of a linked chain after the first carry engine time on themselves: a multiple of the interval crossed
 * inside a chain still gets its run (right after the chain), not only at the next crossing (T0 + 120 s).
 */
static void test_periodic_run_after_linked_chain(void **state) {
    struct fx *f = *state;
    fx_ring(f, 1, 100);
    f->now = T0 + 59 * SEC;
    struct ortak_cmd chain[2] = {tu_linked(tu_transfer(f->now, 7001, ACC_A, ACC_B, 1, 0)),
                                 tu_transfer(T0 + 61 * SEC, 7002, ACC_A, ACC_B, 1, 0)};
    struct ortak_result r[2];
    assert_int_equal(ortak_engine_apply(f->e, chain, 2, r), ORTAK_OK);
    assert_int_equal(r[0].rc, ORTAK_OK);
    assert_int_equal(r[1].rc, ORTAK_OK);
    assert_int_equal(ortak_engine_now(f->e), T0 + 61 * SEC); /* engine time crossed T0 + 60 s */
    f->now = T0 + 62 * SEC;
    fx_ok(f, tu_tick(f->now));
    /* By now the run of T0 + 60 s has settled the ring (within the chain's batch or before this tick). */
    assert_settled(f, 1);
    assert_settled(f, 2);
    assert_settled(f, 3);
    assert_queue_empty(f, ACC_C);
}

/* ---- 5. the journal's batch encoding ----------------------------------------------------------------------- */

static bool same_cmd(const struct ortak_cmd *a, const struct ortak_cmd *b) {
    return a->timestamp == b->timestamp && a->kind == b->kind && a->u.gridlock.mode == b->u.gridlock.mode &&
           memcmp(a->u.gridlock.currency, b->u.gridlock.currency, sizeof a->u.gridlock.currency) == 0;
}

static void test_journal_gridlock_command(void **state) {
    struct fx *f = *state;
    ortak_time_ns t = f->now + SEC;
    struct ortak_cmd cmds[3] = {tu_gridlock(t, BYPASS, "KZT"), tu_gridlock(t + SEC, 0, ""),
                                tu_gridlock(t + 2 * SEC, 7, "AZN")};
    size_t cap = ortak_batch_encoded_size_max(3);
    unsigned char *buf = malloc(cap + 1);
    assert_non_null(buf);
    size_t len = ortak_batch_encode(cmds, 3, buf, cap);
    assert_int_equal(len, 4 + 3 * (8 + 1 + 1 + 4));
    /* Layout: count, then timestamp, kind, mode and the currency padded with NULs. */
    assert_int_equal(buf[0], 3);
    assert_int_equal(buf[12], ORTAK_CMD_GRIDLOCK);
    assert_int_equal(buf[13], BYPASS);
    assert_memory_equal(buf + 14, "KZT\0", 4);
    assert_memory_equal(buf + 14 + 14, "\0\0\0\0", 4);
    struct ortak_cmd out[3];
    uint32_t n = 99;
    assert_int_equal(ortak_batch_decode(buf, len, out, 3, &n), ORTAK_OK);
    assert_int_equal(n, 3);
    for (uint32_t i = 0; i < 3; i++) assert_true(same_cmd(&cmds[i], &out[i]));
    /* Decoded, they do what the originals do: two runs (nothing queued: no events), a bad mode refused. */
    struct ortak_result r[3];
    assert_int_equal(ortak_engine_apply(f->e, out, 3, r), ORTAK_OK);
    assert_int_equal(r[0].rc, ORTAK_OK);
    assert_int_equal(r[1].rc, ORTAK_OK);
    assert_int_equal(r[2].rc, ORTAK_GRIDLOCK_MODE_INVALID);
    /* An unterminated currency is corrupt, and so is a payload one byte short or long, or more than fits. */
    memcpy(buf + 14, "KZTX", 4);
    assert_int_equal(ortak_batch_decode(buf, len, out, 3, &n), ORTAK_CORRUPT);
    assert_int_equal(n, 0);
    memcpy(buf + 14, "KZT\0", 4);
    assert_int_equal(ortak_batch_decode(buf, len - 1, out, 3, &n), ORTAK_CORRUPT);
    buf[len] = 0;
    assert_int_equal(ortak_batch_decode(buf, len + 1, out, 3, &n), ORTAK_CORRUPT);
    assert_int_equal(ortak_batch_decode(buf, len, out, 2, &n), ORTAK_CORRUPT);
    assert_int_equal(ortak_batch_decode(buf, len, out, 3, &n), ORTAK_OK);
    /* The currency's last byte must be the terminator when the first three are letters. */
    struct ortak_cmd one = tu_gridlock(t, FIFO, "AZN");
    len = ortak_batch_encode(&one, 1, buf, cap);
    assert_int_equal(len, 4 + 14);
    buf[17] = 'X';
    assert_int_equal(ortak_batch_decode(buf, len, out, 1, &n), ORTAK_CORRUPT);
    buf[17] = 0;
    assert_int_equal(ortak_batch_decode(buf, len, out, 1, &n), ORTAK_OK);
    assert_true(same_cmd(&one, &out[0]));
    free(buf);
}

/* ---- 6. configuration -------------------------------------------------------------------------------------- */

static const char config_base[] = "[currency KZT]\n"
                                  "numeric = 398\n"
                                  "minor_units = 2\n"
                                  "agent = NBRKKZKX\n"
                                  "agent_name = National Bank of Kazakhstan\n";

/* Parses the base configuration followed by `extra`. */
static ortak_rc parse_with(struct ortak_config *c, const char *extra, char *err, size_t err_cap) {
    char text[1024];
    int len = snprintf(text, sizeof text, "%s%s", config_base, extra);
    assert_true(len > 0 && (size_t)len < sizeof text);
    return ortak_config_parse(c, text, (size_t)len, err, err_cap);
}

static void assert_settlement_defaults(const struct ortak_settlement_config *s) {
    assert_true(s->offsetting);
    assert_int_equal(s->gridlock_mode, ORTAK_GRIDLOCK_BYPASS);
    assert_int_equal(s->gridlock_interval_ms, 60000);
    assert_int_equal(s->gridlock_budget, 2000000);
}

static void test_config_settlement(void **state) {
    (void)state;
    struct ortak_config c;
    char err[256];
    /* Defaults: from ortak_config_init, from a text without the section, and in the product's default text. */
    ortak_config_init(&c);
    assert_settlement_defaults(&c.settlement);
    assert_int_equal(ORTAK_GRIDLOCK_BUDGET_DEFAULT, 2000000);
    assert_int_equal(parse_with(&c, "", err, sizeof err), ORTAK_OK);
    assert_settlement_defaults(&c.settlement);
    ortak_config_default(&c);
    assert_settlement_defaults(&c.settlement);
    assert_non_null(strstr(ortak_config_default_ini(), "[settlement]\n"));

    /* Every key, at both ends of its range. */
    assert_int_equal(parse_with(&c,
                                "[settlement]\noffsetting = no\ngridlock_mode = fifo\ngridlock_interval_ms = 0\n"
                                "gridlock_budget = 1\n",
                                err, sizeof err),
                     ORTAK_OK);
    assert_false(c.settlement.offsetting);
    assert_int_equal(c.settlement.gridlock_mode, ORTAK_GRIDLOCK_FIFO);
    assert_int_equal(c.settlement.gridlock_interval_ms, 0);
    assert_int_equal(c.settlement.gridlock_budget, 1);
    assert_int_equal(parse_with(&c,
                                "[settlement]\noffsetting = yes\ngridlock_mode = bypass\n"
                                "gridlock_interval_ms = 86400000\ngridlock_budget = 1000000000000\n",
                                err, sizeof err),
                     ORTAK_OK);
    assert_true(c.settlement.offsetting);
    assert_int_equal(c.settlement.gridlock_mode, ORTAK_GRIDLOCK_BYPASS);
    assert_int_equal(c.settlement.gridlock_interval_ms, ORTAK_GRIDLOCK_INTERVAL_MS_LIMIT);
    assert_int_equal(c.settlement.gridlock_budget, ORTAK_GRIDLOCK_BUDGET_LIMIT);
    struct ortak_engine *e = NULL;
    assert_int_equal(ortak_engine_open(&c, &e), ORTAK_OK);
    assert_int_equal(ortak_engine_config(e)->settlement.gridlock_budget, ORTAK_GRIDLOCK_BUDGET_LIMIT);
    ortak_engine_close(e);

    /* Each invalid value and each unknown key is refused, with a message naming the key and its line. */
    static const struct {
        const char *line;
        const char *key;
    } bad[] = {
        {"offsetting = maybe", "offsetting"},
        {"offsetting = 1", "offsetting"},
        {"offsetting = Yes", "offsetting"},
        {"offsetting = yes please", "offsetting"},
        {"gridlock_mode = lifo", "gridlock_mode"},
        {"gridlock_mode = 2", "gridlock_mode"},
        {"gridlock_mode = FIFO", "gridlock_mode"},
        {"gridlock_mode = ", "gridlock_mode"},
        {"gridlock_interval_ms = 86400001", "gridlock_interval_ms"},
        {"gridlock_interval_ms = -1", "gridlock_interval_ms"},
        {"gridlock_interval_ms = 60s", "gridlock_interval_ms"},
        {"gridlock_interval_ms = 18446744073709551616", "gridlock_interval_ms"},
        {"gridlock_budget = 0", "gridlock_budget"},
        {"gridlock_budget = 1000000000001", "gridlock_budget"},
        {"gridlock_budget = -5", "gridlock_budget"},
        {"gridlock_budget = lots", "gridlock_budget"},
        {"gridlock_every_ms = 5", "gridlock_every_ms"},
        {"offset = yes", "offset"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char extra[128];
        snprintf(extra, sizeof extra, "[settlement]\n%s\n", bad[i].line);
        err[0] = '\0';
        ortak_rc rc = parse_with(&c, extra, err, sizeof err);
        if (rc != ORTAK_CONFIG_INVALID || !strstr(err, bad[i].key) || !strstr(err, "line 7"))
            fail_msg("'%s': %s, message '%s'", bad[i].line, ortak_rc_name(rc), err);
    }
    /* A settlement key in another section is unknown there. */
    assert_int_equal(parse_with(&c, "[limits]\noffsetting = yes\n", err, sizeof err), ORTAK_CONFIG_INVALID);
    assert_non_null(strstr(err, "offsetting"));

    /* ortak_config_check (and so ortak_engine_open) refuses settings out of range set without parsing. */
    const struct {
        uint8_t mode;
        uint64_t interval_ms, budget;
    } out_of_range[] = {
        {0, 60000, 1},
        {3, 60000, 1},
        {FIFO, ORTAK_GRIDLOCK_INTERVAL_MS_LIMIT + 1, 1},
        {FIFO, 0, 0},
        {BYPASS, 0, ORTAK_GRIDLOCK_BUDGET_LIMIT + 1},
    };
    for (size_t i = 0; i < sizeof out_of_range / sizeof out_of_range[0]; i++) {
        ortak_config_default(&c);
        c.settlement.gridlock_mode = out_of_range[i].mode;
        c.settlement.gridlock_interval_ms = out_of_range[i].interval_ms;
        c.settlement.gridlock_budget = out_of_range[i].budget;
        err[0] = '\0';
        assert_int_equal(ortak_config_check(&c, err, sizeof err), ORTAK_CONFIG_INVALID);
        assert_non_null(strstr(err, "[settlement]"));
        assert_int_equal(ortak_engine_open(&c, &e), ORTAK_CONFIG_INVALID);
        assert_null(e);
    }
}

/* ---- 7. random traffic: the generator and engines fed the same batches ------------------------------------- */

#define PROP_BANKS 6
#define PROP_PAYMENTS 4096
#define PROP_HOLDS 16384 /* transfer ids from 2^40 */

#define BANK_F "EURIKZKA"
static const ortak_u128 prop_accs[PROP_BANKS] = {ACC_A, ACC_B, ACC_C, ACC_D, ACC_E, 6};
static const char *const prop_bics[PROP_BANKS] = {BANK_A, BANK_B, BANK_C, BANK_D, BANK_E, BANK_F};

static uint64_t rnd(uint64_t *s, uint64_t n) { return ortak_rng_next(s) % n; }

/* Offsetting, periodic runs every 30 s, room for a few thousand payments; a small budget keeps bypass runs fast. */
static struct ortak_config prop_config(void) {
    struct ortak_config cfg = fx_config(true, 30000);
    cfg.limits.payments_max = PROP_PAYMENTS;
    cfg.limits.transfers_max = 16384;
    cfg.limits.pending_max = 64;
    cfg.settlement.gridlock_budget = 50000;
    return cfg;
}

/* The fixture and a sixth Kazakh bank, F. */
static void prop_build(struct fx *f) {
    fx_build(f);
    fx_ok(f, tu_participant(fx_t(f), BANK_F, "Eurasian Bank", ORTAK_ROLE_BANK));
    fx_ok(f, tu_account(fx_t(f), prop_accs[5], BANK_F, "KZT", ORTAK_ACCOUNT_SETTLEMENT));
}

static int setup_property(void **state) {
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    struct ortak_config cfg = prop_config();
    assert_int_equal(ortak_engine_open(&cfg, &f->e), ORTAK_OK);
    prop_build(f);
    *state = f;
    return 0;
}

struct gen {
    uint64_t rs;
    ortak_time_ns t;
    uint64_t next_pid, next_tid;
    uint32_t nsent;
    uint8_t suspended; /* bit per bank, as the generator has asked */

    uint32_t nholds;
    uint64_t holds[PROP_PAYMENTS];        /* ids of the holds (pending transfers) asked for */
    struct ortak_cmd sent[PROP_PAYMENTS]; /* submissions, for replays and replies */
};

static struct gen *gen_new(uint64_t seed, ortak_time_ns t) {
    struct gen *g = calloc(1, sizeof *g);
    assert_non_null(g);
    g->rs = seed;
    g->t = t;
    g->next_pid = 1;
    g->next_tid = UINT64_C(1) << 40;
    return g;
}

static struct ortak_cmd gen_payment(struct gen *g, ortak_u128 payer, ortak_u128 payee) {
    uint64_t *rs = &g->rs;
    if (g->nsent > 0 && rnd(rs, 30) == 0) { /* a replay of an earlier submission */
        struct ortak_cmd c = g->sent[rnd(rs, g->nsent)];
        c.timestamp = g->t;
        return c;
    }
    if (g->nsent > 0 && rnd(rs, 2) == 0) { /* a reply: back to the payer of a recent payment, so that pairs form */
        const struct ortak_cmd *to = &g->sent[g->nsent - 1 - rnd(rs, g->nsent < 8 ? g->nsent : 8)];
        payer = to->u.payment.credit_account_id;
        payee = to->u.payment.debit_account_id;
    }
    uint64_t pr = rnd(rs, 10);
    uint64_t amount = 1 + rnd(rs, rnd(rs, 2) ? 5000 : 60000);
    struct ortak_cmd c = tu_payment(g->t, g->next_pid++, payer, payee, amount, pr < 2 ? HU : pr < 4 ? URG : NORM);
    c.u.payment.uetr = ortak_rng_next(rs);
    uint64_t l = rnd(rs, 20);
    if (l < 4)
        c.u.payment.latest_ns = g->t + (1 + rnd(rs, 120)) * SEC;
    else if (l == 4)
        c.u.payment.latest_ns = g->t; /* already past: rejected */
    g->sent[g->nsent++] = c;
    return c;
}

/*
 * One random command at time g->t (which it may advance): payments of every priority, liquidity in, across and out,
 * the participants' controls, reservations and credit lines, suspensions and reactivations, cut-offs and
 * reopenings, and gridlock resolution in every mode (now and then an invalid one).
 */
static struct ortak_cmd gen_command(struct gen *g) {
    uint64_t *rs = &g->rs;
    uint64_t k = rnd(rs, PROP_BANKS), j = rnd(rs, PROP_BANKS - 1);
    if (j >= k) j++;
    ortak_u128 payer = prop_accs[k], payee = prop_accs[j];
    uint64_t r = rnd(rs, 1000);
    /* Controls mostly aim at recent payments, which are the likeliest to be still queued. */
    uint64_t any_pid = g->next_pid - rnd(rs, g->next_pid < 40 ? g->next_pid : 40);
    if (r < 430 && g->next_pid < PROP_PAYMENTS - 1) return gen_payment(g, payer, payee);
    /* Liquidity in, across and out, scarce enough that queues build up. */
    if (r < 500) return tu_transfer(g->t, g->next_tid++, ACC_ISS, payee, 1 + rnd(rs, 12000), 0);
    if (r < 530) return tu_transfer(g->t, g->next_tid++, payer, payee, 1 + rnd(rs, 5000), 0);
    if (r < 570) return tu_transfer(g->t, g->next_tid++, payer, ACC_ISS, 1 + rnd(rs, 30000), 0);
    if (r < 630) return tu_cancel(g->t, any_pid);
    if (r < 680) return tu_priority(g->t, any_pid, (uint8_t)rnd(rs, 3));
    if (r < 730) return tu_move(g->t, any_pid, (uint8_t)rnd(rs, 2));
    if (r < 790) {
        g->t += (1 + rnd(rs, 20)) * SEC;
        return tu_tick(g->t);
    }
    /* Holds that expire, or are posted (whole or in part) or voided: liquidity tied up and freed. */
    if (r < 805 || (r < 810 && g->nholds == 0)) {
        g->holds[g->nholds % PROP_PAYMENTS] = g->next_tid;
        g->nholds++;
        return tu_pending(g->t, g->next_tid++, payer, payee, 1 + rnd(rs, 5000), (uint32_t)(1 + rnd(rs, 90)));
    }
    if (r < 810) {
        uint64_t held = g->holds[(g->nholds - 1 - rnd(rs, g->nholds < 10 ? g->nholds : 10)) % PROP_PAYMENTS];
        uint64_t how = rnd(rs, 3);
        return tu_resolve(g->t, g->next_tid++, held, how == 1 ? 1 + rnd(rs, 3000) : 0,
                          how == 2 ? ORTAK_TRANSFER_VOID_PENDING : ORTAK_TRANSFER_POST_PENDING);
    }
    if (r < 840) return tu_account_amount(g->t, ORTAK_CMD_RESERVE_SET, payer, rnd(rs, 3) ? 0 : (int64_t)rnd(rs, 10000));
    if (r < 860) return tu_account_amount(g->t, ORTAK_CMD_CREDIT_LINE_SET, payer, (int64_t)rnd(rs, 5000));
    /* Suspensions and cut-offs are short: the traffic must go on around them. */
    if (r < 868) {
        g->suspended |= (uint8_t)(1u << k);
        return tu_status(g->t, prop_bics[k], ORTAK_PARTICIPANT_SUSPENDED);
    }
    if (r < 900) {
        while (g->suspended && !(g->suspended & (1u << k))) k = rnd(rs, PROP_BANKS);
        g->suspended &= (uint8_t) ~(1u << k);
        return tu_status(g->t, prop_bics[k], ORTAK_PARTICIPANT_ACTIVE);
    }
    if (r < 906) return tu_cutoff(g->t, (uint8_t)(1 + rnd(rs, 7)), 0);
    if (r < 935) return tu_cutoff(g->t, 7u, 1);
    uint8_t mode = rnd(rs, 20) == 0 ? 3 : (uint8_t)rnd(rs, 3);
    return tu_gridlock(g->t, mode, rnd(rs, 3) == 0 ? "" : rnd(rs, 10) == 0 ? "XXX" : "KZT");
}

/* A random batch of 1..16 commands. */
static uint32_t gen_batch(struct gen *g, struct ortak_cmd *cmds) {
    uint32_t n = 1 + (uint32_t)rnd(&g->rs, 16);
    for (uint32_t i = 0; i < n; i++) {
        if (rnd(&g->rs, 4) == 0) g->t += rnd(&g->rs, 3) * SEC;
        cmds[i] = gen_command(g);
    }
    return n;
}

static bool same_event(const struct ortak_event *x, const struct ortak_event *y) {
    return x->timestamp == y->timestamp && x->kind == y->kind && x->command_index == y->command_index &&
           x->id == y->id && x->ref == y->ref && x->debit_account_id == y->debit_account_id &&
           x->credit_account_id == y->credit_account_id && x->amount == y->amount && x->amount_old == y->amount_old &&
           x->status == y->status;
}

/* Applies the batch to every engine: the same results, the same events, the same state hash. */
static void apply_all(struct ortak_engine *const *e, uint32_t k, const struct ortak_cmd *cmds, uint32_t n) {
    struct ortak_result r0[16], ri[16];
    assert_true(n <= 16);
    assert_int_equal(ortak_engine_apply(e[0], cmds, n, r0), ORTAK_OK);
    uint32_t n0;
    const struct ortak_event *ev0 = ortak_engine_events(e[0], &n0);
    uint8_t h0[32], hi[32];
    ortak_engine_state_hash(e[0], h0);
    for (uint32_t x = 1; x < k; x++) {
        assert_int_equal(ortak_engine_apply(e[x], cmds, n, ri), ORTAK_OK);
        for (uint32_t i = 0; i < n; i++) {
            assert_int_equal(ri[i].rc, r0[i].rc);
            assert_int_equal(ri[i].flags, r0[i].flags);
            assert_int_equal(ri[i].fail_index, r0[i].fail_index);
        }
        uint32_t ni;
        const struct ortak_event *evi = ortak_engine_events(e[x], &ni);
        assert_int_equal(ni, n0);
        for (uint32_t i = 0; i < n0; i++) assert_true(same_event(&ev0[i], &evi[i]));
        ortak_engine_state_hash(e[x], hi);
        assert_memory_equal(h0, hi, 32);
    }
}

/* Encodes `e` and opens a new engine from the bytes: the same hash. */
static struct ortak_engine *reopen(const struct ortak_engine *e) {
    struct tu_buf b = {0};
    ortak_engine_encode(e, tu_buf_sink, &b);
    struct ortak_config cfg = *ortak_engine_config(e);
    struct ortak_engine *r = NULL;
    assert_int_equal(ortak_engine_open_state(&cfg, b.data, b.len, &r), ORTAK_OK);
    free(b.data);
    uint8_t ha[32], hb[32];
    ortak_engine_state_hash(e, ha);
    ortak_engine_state_hash(r, hb);
    assert_memory_equal(ha, hb, 32);
    return r;
}

/*
 * Two engines fed the same random batches (offsetting, periodic runs and the operator's runs among them) stay
 * equal after every batch; a third opened mid-way from the first one's encoded state joins them and stays equal.
 */
static void test_determinism(void **state) {
    struct fx *f = *state;
    struct ortak_config cfg = prop_config();
    struct fx g = {0};
    assert_int_equal(ortak_engine_open(&cfg, &g.e), ORTAK_OK);
    f->more[0] = g.e;
    prop_build(&g);
    struct ortak_engine *e[3] = {f->e, g.e, NULL};
    uint32_t k = 2;
    struct gen *gen = gen_new(0xde7e4a11, f->now);
    uint32_t done = 0, offsets = 0, runs = 0, operator_runs = 0;
    while (done < 2400) {
        struct ortak_cmd cmds[16];
        uint32_t n = gen_batch(gen, cmds);
        apply_all(e, k, cmds, n);
        uint32_t nev;
        const struct ortak_event *ev = ortak_engine_events(e[0], &nev);
        for (uint32_t i = 0; i < nev; i++) {
            offsets += ev[i].kind == ORTAK_EV_OFFSET;
            runs += ev[i].kind == ORTAK_EV_GRIDLOCK;
            operator_runs += ev[i].kind == ORTAK_EV_GRIDLOCK && cmds[ev[i].command_index].kind == ORTAK_CMD_GRIDLOCK;
        }
        done += n;
        if (k == 2 && done >= 1200) {
            e[2] = reopen(e[0]);
            f->more[1] = e[2];
            k = 3;
        }
    }
    free(gen);
    print_message("determinism: %u offsets, %u gridlock runs (%u on command)\n", offsets, runs, operator_runs);
    assert_true(offsets > 0 && runs > operator_runs && operator_runs > 0);
}

/* ---- 8. property test: every payment's life, followed through the events ----------------------------------- */

/* How a settlement came about, from the events around it. */
enum mech { MECH_NONE, MECH_OFFSET_BACK, MECH_OFFSET_NEW, MECH_GRID_FIFO, MECH_GRID_BYPASS };

/* A payment as the events tell it. */
struct mpay {
    uint8_t state; /* 0: no event yet; else enum ortak_payment_state */
    uint8_t priority;
    int8_t payer, payee; /* bank indices */
    int64_t key;         /* place in its class: the later linked at the tail, the higher; at the head, the lower */
    int64_t amount;
};

struct model {
    struct mpay p[PROP_PAYMENTS];
    int64_t head_key, tail_key;
    uint32_t queued; /* payments queued (every one in KZT) */
    /* A bank whose queue head may be covered without a release having run since: a payee was reactivated. */
    bool stale[PROP_BANKS];
    uint8_t mech[16384];    /* of each event of the batch */
    bool starts_run[16384]; /* the event is the first settlement of a gridlock run */
    /* Each bank's liquidity as the events tell it. */
    ortak_i128 balance[PROP_BANKS], debits_pending[PROP_BANKS];
    int64_t credit_line[PROP_BANKS], reserved[PROP_BANKS];
    int8_t hold_bank[PROP_HOLDS]; /* open holds by transfer id (from 2^40): the payer's bank, the amount */
    int64_t hold_amount[PROP_HOLDS];
    /* At the start of the current gridlock run: whether the bank had a normal payment queued, and its liquidity. */
    bool run_normal[PROP_BANKS];
    ortak_i128 run_free[PROP_BANKS];
    /* tallies */
    uint32_t at_once, released, offset_new, offset_back, by_grid[3], runs[3], passes, cancelled, rejected;
    uint32_t at_cutoff, timeouts, queued_max, holds, expired;
};

static int bank_of(ortak_u128 acc) {
    for (int k = 0; k < PROP_BANKS; k++) {
        if (prop_accs[k] == acc) return k;
    }
    return -1;
}

static bool is_payment_id(ortak_u128 id) { return id > 0 && id < PROP_PAYMENTS; }

/* Events i and i + 1 are a payment's transfer and its settlement. */
static void check_pair(const struct ortak_event *ev, uint32_t n, uint32_t i, uint64_t batch) {
    if (i + 1 < n && ev[i].kind == ORTAK_EV_TRANSFER_POSTED && ev[i + 1].kind == ORTAK_EV_PAYMENT_SETTLED &&
        ev[i].id == ev[i + 1].id && is_payment_id(ev[i].id) && ev[i].amount == ev[i + 1].amount &&
        ev[i].debit_account_id == ev[i + 1].debit_account_id && ev[i].credit_account_id == ev[i + 1].credit_account_id)
        return;
    print_events(ev, n);
    fail_msg("batch %llu: events %u and %u are not a payment's transfer and settlement", (unsigned long long)batch, i,
             i + 1);
}

/* First pass: the settlements of each offset and of each gridlock run, which precede its event. */
static void model_mark(struct model *m, const struct ortak_event *ev, uint32_t n, uint64_t batch) {
    assert_true(n <= sizeof m->mech);
    memset(m->mech, MECH_NONE, n);
    memset(m->starts_run, 0, n);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = (uint32_t)ev[i].amount;
        if (ev[i].kind == ORTAK_EV_OFFSET) {
            assert_true(k >= 1 && 2 * (k + 1) <= i);
            for (uint32_t j = i - 2 * (k + 1); j < i; j += 2) {
                check_pair(ev, n, j, batch);
                bool own = j + 2 == i;
                m->mech[j + 1] = own ? MECH_OFFSET_NEW : MECH_OFFSET_BACK;
                /* The back payments go from the payment's payee to its payer. */
                assert_true(own || (ev[j].debit_account_id == ev[i].credit_account_id &&
                                    ev[j].credit_account_id == ev[i].debit_account_id));
            }
            assert_true(ev[i - 1].id == ev[i].id);
        } else if (ev[i].kind == ORTAK_EV_GRIDLOCK) {
            assert_true(ev[i].id == KZT_NUMERIC);
            assert_true(ev[i].status == FIFO || ev[i].status == BYPASS);
            assert_true(2 * k <= i);
            if (k > 0) m->starts_run[i - 2 * k] = true;
            ortak_i128 value = 0;
            for (uint32_t j = i - 2 * k; j < i; j += 2) {
                check_pair(ev, n, j, batch);
                m->mech[j + 1] = ev[i].status == BYPASS ? MECH_GRID_BYPASS : MECH_GRID_FIFO;
                value += ev[j].amount;
            }
            assert_true(ev[i].ref == (ortak_u128)value);
        }
    }
}

/* A bank's liquidity with its reservation (the floor's) and without it. */
static ortak_i128 bank_with_reserve(const struct model *m, int k) {
    return m->balance[k] - m->debits_pending[k] + m->credit_line[k];
}
static ortak_i128 bank_free(const struct model *m, int k) { return bank_with_reserve(m, k) - m->reserved[k]; }

/* What a payment of `priority` may use: the reservation only when urgent or highly urgent. */
static ortak_i128 bank_usable(const struct model *m, int k, uint8_t priority) {
    return priority == NORM ? bank_free(m, k) : bank_with_reserve(m, k);
}

/* The liquidity of each bank from the ledger, where the events take it from. */
static void model_load(struct model *m, const struct ortak_ledger *l) {
    for (int k = 0; k < PROP_BANKS; k++) {
        struct ortak_account_info a;
        assert_int_equal(ortak_ledger_account_get(l, prop_accs[k], &a), ORTAK_OK);
        m->balance[k] = a.balance;
        m->debits_pending[k] = a.debits_pending;
        m->credit_line[k] = a.credit_line;
        m->reserved[k] = a.reserved;
    }
}

/* A gridlock run begins: note who had a normal payment queued, and its free liquidity. */
static void model_run_start(struct model *m) {
    for (int k = 0; k < PROP_BANKS; k++) {
        m->run_normal[k] = false;
        m->run_free[k] = bank_free(m, k);
    }
    for (uint64_t z = 1; z < PROP_PAYMENTS; z++) {
        const struct mpay *q = &m->p[z];
        if (q->state == ORTAK_PAYMENT_QUEUED && q->priority == NORM) m->run_normal[q->payer] = true;
    }
}

/*
 * A gridlock run ended: a bank with a normal payment queued had only its free liquidity (0 if negative) to spend,
 * so its free liquidity ends no lower than that allows; the others kept to their floor.
 */
static void model_run_end(const struct model *m, uint64_t batch) {
    for (int k = 0; k < PROP_BANKS; k++) {
        ortak_i128 least = m->run_free[k] < 0 ? m->run_free[k] : 0;
        bool ok = m->run_normal[k] ? bank_free(m, k) >= least : bank_with_reserve(m, k) >= 0;
        if (!ok)
            fail_msg("batch %llu: a gridlock run spent bank %d's reservation (normal payments queued: %d)",
                     (unsigned long long)batch, k, m->run_normal[k]);
    }
}

/* An offset ended (event i): each side stayed covered by what its payments may use. */
static void model_offset_end(const struct model *m, const struct ortak_event *ev, uint32_t i, uint64_t batch) {
    const struct mpay *x = &m->p[(uint64_t)ev[i].id];
    uint8_t lowest = HU;
    for (uint32_t j = i - 2 * ((uint32_t)ev[i].amount + 1); j + 2 < i; j += 2) {
        uint8_t pr = m->p[(uint64_t)ev[j].id].priority;
        if (pr > lowest) lowest = pr;
    }
    if (bank_usable(m, x->payer, x->priority) < 0 || bank_usable(m, x->payee, lowest) < 0)
        fail_msg("batch %llu: offset of payment %llu left a side uncovered", (unsigned long long)batch,
                 (unsigned long long)ev[i].id);
}

/*
 * A payment settles (event i). The FIFO rule: no payment of the same payer with higher or equal priority queued
 * ahead of it may still wait; a new payment is behind everything queued. The one exception: a bypass run may settle
 * a normal payment ahead of a waiting normal one.
 */
static void model_settle(struct model *m, const struct ortak_event *ev, uint32_t i, const struct ortak_cmd *cmds,
                         uint64_t batch) {
    const struct ortak_event *e = &ev[i];
    assert_true(is_payment_id(e->id));
    uint64_t id = (uint64_t)e->id;
    struct mpay *p = &m->p[id];
    uint8_t mech = m->mech[i], prev = p->state;
    /* Its transfer comes right before it. */
    assert_true(i > 0 && ev[i - 1].kind == ORTAK_EV_TRANSFER_POSTED && ev[i - 1].id == e->id);
    if (prev == 0) { /* settled on submission: its priority is the command's */
        const struct ortak_cmd *c = &cmds[e->command_index];
        assert_true(c->kind == ORTAK_CMD_PAYMENT_SUBMIT && c->u.payment.id == e->id);
        p->priority = c->u.payment.priority;
        p->key = INT64_MAX;
        p->payer = (int8_t)bank_of(e->debit_account_id);
        p->payee = (int8_t)bank_of(e->credit_account_id);
        p->amount = e->amount;
        assert_true(mech == MECH_NONE || mech == MECH_OFFSET_NEW);
    } else {
        if (prev != ORTAK_PAYMENT_QUEUED)
            fail_msg("batch %llu: payment %llu settled in state %s", (unsigned long long)batch, (unsigned long long)id,
                     ortak_payment_state_name(prev));
        assert_true(mech != MECH_OFFSET_NEW);
        assert_true(p->amount == e->amount && prop_accs[p->payer] == e->debit_account_id &&
                    prop_accs[p->payee] == e->credit_account_id);
    }
    for (uint64_t z = 1; z < PROP_PAYMENTS; z++) {
        const struct mpay *q = &m->p[z];
        if (z == id || q->state != ORTAK_PAYMENT_QUEUED || q->payer != p->payer) continue;
        if (q->priority > p->priority || (q->priority == p->priority && q->key > p->key)) continue;
        if (mech == MECH_GRID_BYPASS && q->priority == NORM && p->priority == NORM) {
            m->passes++;
            continue;
        }
        fail_msg("batch %llu: payment %llu (%s, mechanism %u) settled while %llu (%s) of the same payer waited "
                 "ahead of it",
                 (unsigned long long)batch, (unsigned long long)id, ortak_priority_name(p->priority), mech,
                 (unsigned long long)z, ortak_priority_name(q->priority));
    }
    if (prev == ORTAK_PAYMENT_QUEUED) m->queued--;
    p->state = ORTAK_PAYMENT_SETTLED;
    switch (mech) {
    case MECH_NONE: /* on its own: its payer stays covered by what the payment may use */
        if (bank_usable(m, p->payer, p->priority) < 0)
            fail_msg("batch %llu: payment %llu (%s) left its payer uncovered", (unsigned long long)batch,
                     (unsigned long long)id, ortak_priority_name(p->priority));
        if (prev == 0)
            m->at_once++;
        else
            m->released++;
        break;
    case MECH_OFFSET_NEW: m->offset_new++; break;
    case MECH_OFFSET_BACK: m->offset_back++; break;
    case MECH_GRID_FIFO: m->by_grid[FIFO]++; break;
    default: m->by_grid[BYPASS]++; break;
    }
}

/* A queued payment, by the event that names it. */
static struct mpay *model_queued(struct model *m, const struct ortak_event *e, uint64_t batch) {
    assert_true(is_payment_id(e->id));
    struct mpay *p = &m->p[(uint64_t)e->id];
    if (p->state != ORTAK_PAYMENT_QUEUED)
        fail_msg("batch %llu: event %u for payment %llu in state %u", (unsigned long long)batch, e->kind,
                 (unsigned long long)e->id, p->state);
    return p;
}

/* Events that retry a bank's queue (its liquidity rose, or its queue changed) end its staleness. */
static void model_rise(struct model *m, ortak_u128 acc) {
    int k = bank_of(acc);
    if (k >= 0) m->stale[k] = false;
}

/* A hold opened, posted, voided or expired. */
static void model_hold(struct model *m, const struct ortak_event *e) {
    ortak_u128 held = e->kind == ORTAK_EV_PENDING_CREATED || e->kind == ORTAK_EV_PENDING_EXPIRED ? e->id : e->ref;
    ortak_u128 base = (ortak_u128)1 << 40;
    assert_true(held >= base && held < base + PROP_HOLDS);
    uint32_t h = (uint32_t)(held - base);
    int dr = bank_of(e->debit_account_id), cr = bank_of(e->credit_account_id);
    if (e->kind == ORTAK_EV_PENDING_CREATED) {
        m->hold_bank[h] = (int8_t)dr;
        m->hold_amount[h] = e->amount;
        if (dr >= 0) m->debits_pending[dr] += e->amount;
        m->holds++;
        return;
    }
    assert_true(m->hold_amount[h] > 0 && m->hold_bank[h] == dr);
    if (dr >= 0) m->debits_pending[dr] -= m->hold_amount[h];
    if (e->kind == ORTAK_EV_PENDING_POSTED) {
        if (dr >= 0) m->balance[dr] -= e->amount;
        if (cr >= 0) m->balance[cr] += e->amount;
    } else {
        assert_int_equal(e->amount, m->hold_amount[h]);
        m->expired += e->kind == ORTAK_EV_PENDING_EXPIRED;
        model_rise(m, e->debit_account_id); /* released */
    }
    m->hold_amount[h] = 0;
}

/* Second pass: every event in order, against the model. */
static void model_apply(struct model *m, const struct ortak_event *ev, uint32_t n, const struct ortak_cmd *cmds,
                        uint64_t batch) {
    model_mark(m, ev, n, batch);
    for (uint32_t i = 0; i < n; i++) {
        const struct ortak_event *e = &ev[i];
        struct mpay *p;
        int k;
        if (m->starts_run[i]) model_run_start(m);
        switch (e->kind) {
        case ORTAK_EV_TRANSFER_POSTED:
            if (is_payment_id(e->id)) check_pair(ev, n, i, batch);
            if ((k = bank_of(e->debit_account_id)) >= 0) m->balance[k] -= e->amount;
            if ((k = bank_of(e->credit_account_id)) >= 0) m->balance[k] += e->amount;
            model_rise(m, e->credit_account_id);
            break;
        case ORTAK_EV_PAYMENT_SETTLED: model_settle(m, ev, i, cmds, batch); break;
        case ORTAK_EV_PAYMENT_QUEUED:
            assert_true(is_payment_id(e->id));
            p = &m->p[(uint64_t)e->id];
            assert_int_equal(p->state, 0);
            *p = (struct mpay){ORTAK_PAYMENT_QUEUED,
                               (uint8_t)e->status,
                               (int8_t)bank_of(e->debit_account_id),
                               (int8_t)bank_of(e->credit_account_id),
                               ++m->tail_key,
                               e->amount};
            assert_true(p->payer >= 0 && p->payee >= 0 && p->priority < ORTAK_PRIORITIES);
            m->queued++;
            if (m->queued > m->queued_max) m->queued_max = m->queued;
            break;
        case ORTAK_EV_PAYMENT_CANCELLED:
            model_queued(m, e, batch)->state = ORTAK_PAYMENT_CANCELLED;
            m->queued--;
            m->cancelled++;
            model_rise(m, e->debit_account_id);
            break;
        case ORTAK_EV_PAYMENT_REJECTED:
            assert_true(is_payment_id(e->id));
            p = &m->p[(uint64_t)e->id];
            if (p->state == ORTAK_PAYMENT_QUEUED) {
                /* Only a cut-off or the latest time ends a queued payment this way here. */
                assert_true(e->status == ORTAK_REJECTED_AT_CUTOFF || e->status == ORTAK_SETTLEMENT_TIMEOUT);
                m->at_cutoff += e->status == ORTAK_REJECTED_AT_CUTOFF;
                m->timeouts += e->status == ORTAK_SETTLEMENT_TIMEOUT;
                m->queued--;
                model_rise(m, e->debit_account_id);
            } else {
                assert_int_equal(p->state, 0);
                assert_int_not_equal(e->status, ORTAK_OK);
            }
            p->state = ORTAK_PAYMENT_REJECTED;
            m->rejected++;
            break;
        case ORTAK_EV_PAYMENT_PRIORITY:
            p = model_queued(m, e, batch);
            assert_int_equal(e->amount_old, p->priority);
            p->priority = (uint8_t)e->status;
            p->key = ++m->tail_key;
            model_rise(m, e->debit_account_id);
            break;
        case ORTAK_EV_PAYMENT_MOVED:
            p = model_queued(m, e, batch);
            p->key = e->status ? --m->head_key : ++m->tail_key;
            model_rise(m, e->debit_account_id);
            break;
        case ORTAK_EV_RESERVE_SET:
            if ((k = bank_of(e->id)) >= 0) {
                assert_int_equal(e->amount_old, m->reserved[k]);
                m->reserved[k] = e->amount;
            }
            if (e->amount < e->amount_old) model_rise(m, e->id);
            break;
        case ORTAK_EV_CREDIT_LINE_SET:
            if ((k = bank_of(e->id)) >= 0) {
                assert_int_equal(e->amount_old, m->credit_line[k]);
                m->credit_line[k] = e->amount;
            }
            if (e->amount > e->amount_old) model_rise(m, e->id);
            break;
        case ORTAK_EV_OFFSET: model_offset_end(m, ev, i, batch); break;
        case ORTAK_EV_PENDING_CREATED:
        case ORTAK_EV_PENDING_POSTED:
        case ORTAK_EV_PENDING_VOIDED:
        case ORTAK_EV_PENDING_EXPIRED: model_hold(m, e); break;
        case ORTAK_EV_PARTICIPANT_STATUS:
            /* A payee back: payers whose heads it blocked are not retried until their liquidity rises. */
            if (e->status == ORTAK_PARTICIPANT_ACTIVE)
                for (int b = 0; b < PROP_BANKS; b++) m->stale[b] = true;
            break;
        case ORTAK_EV_GRIDLOCK:
            /* The run counted what was queued before its own settlements (already applied). */
            assert_true(e->amount_old == (int64_t)(m->queued + (uint32_t)e->amount));
            assert_true(e->amount_old > 0);
            if (e->amount > 0) model_run_end(m, batch);
            m->runs[e->status]++;
            break;
        default: break;
        }
    }
}

/* DESIGN §2: each currency sums to zero, no account but an issuance one below its floor. */
static void check_ledger(const struct ortak_ledger *l, uint64_t batch) {
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
}

static bool participant_active(const struct ortak_ledger *l, int k) {
    struct ortak_participant_info pi;
    assert_int_equal(ortak_ledger_participant_get(l, prop_bics[k], &pi), ORTAK_OK);
    return pi.status == ORTAK_PARTICIPANT_ACTIVE;
}

/* The model against the engine's state: every payment's state, every queue's members and order. */
static void model_compare(const struct model *m, const struct ortak_engine *e, uint64_t next_pid, uint64_t batch) {
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    const struct ortak_settle *s = ortak_engine_settle(e);
    check_ledger(l, batch);
    /* The events account for every change of the banks' liquidity. */
    for (int k = 0; k < PROP_BANKS; k++) {
        struct ortak_account_info a;
        assert_int_equal(ortak_ledger_account_get(l, prop_accs[k], &a), ORTAK_OK);
        if (a.balance != m->balance[k] || a.debits_pending != m->debits_pending[k] ||
            a.credit_line != m->credit_line[k] || a.reserved != m->reserved[k])
            fail_msg("batch %llu: bank %d's balance, holds, credit line or reservation differ from its events",
                     (unsigned long long)batch, k);
    }
    for (uint64_t id = 1; id < next_pid; id++) {
        struct ortak_payment_info p;
        const struct mpay *mp = &m->p[id];
        if (ortak_settle_payment_get(s, id, &p) != ORTAK_OK) {
            if (mp->state != 0)
                fail_msg("batch %llu: payment %llu unknown", (unsigned long long)batch, (unsigned long long)id);
            continue;
        }
        if (p.state != mp->state)
            fail_msg("batch %llu: payment %llu is %s, its events say %s", (unsigned long long)batch,
                     (unsigned long long)id, ortak_payment_state_name(p.state), ortak_payment_state_name(mp->state));
        if (p.state == ORTAK_PAYMENT_QUEUED) assert_int_equal(p.p.priority, mp->priority);
        /* Every settled payment has exactly its transfer; no other payment has one. */
        struct ortak_transfer_info t;
        ortak_rc trc = ortak_ledger_transfer_get(l, id, &t);
        bool booked = trc == ORTAK_OK && t.rc == ORTAK_OK && t.amount_booked == p.p.amount &&
                      t.t.debit_account_id == p.p.debit_account_id && t.t.credit_account_id == p.p.credit_account_id;
        if ((p.state == ORTAK_PAYMENT_SETTLED) != booked || (p.state != ORTAK_PAYMENT_SETTLED && trc == ORTAK_OK))
            fail_msg("batch %llu: payment %llu state %s, transfer %s", (unsigned long long)batch,
                     (unsigned long long)id, ortak_payment_state_name(p.state), ortak_rc_name(trc));
    }
    /* Each queue holds exactly the model's queued payments of its payer, by class and then place. */
    static ortak_u128 ids[PROP_PAYMENTS];
    static uint64_t want[PROP_PAYMENTS];
    for (int k = 0; k < PROP_BANKS; k++) {
        uint32_t n, nwant = 0;
        struct ortak_queue_info qi;
        assert_int_equal(ortak_settle_queue(s, prop_accs[k], ids, PROP_PAYMENTS, &n, &qi), ORTAK_OK);
        for (uint64_t id = 1; id < next_pid; id++) {
            const struct mpay *mp = &m->p[id];
            if (mp->state != ORTAK_PAYMENT_QUEUED || mp->payer != k) continue;
            uint32_t at = nwant++;
            while (at > 0 && (m->p[want[at - 1]].priority > mp->priority ||
                              (m->p[want[at - 1]].priority == mp->priority && m->p[want[at - 1]].key > mp->key))) {
                want[at] = want[at - 1];
                at--;
            }
            want[at] = id;
        }
        bool same = n == nwant && qi.count[0] + qi.count[1] + qi.count[2] == n;
        for (uint32_t i = 0; same && i < n; i++) same = ids[i] == want[i];
        if (!same)
            fail_msg("batch %llu: bank %d's queue holds %u payments, the model %u, or not in its order",
                     (unsigned long long)batch, k, n, nwant);
        /* FIFO release left nothing releasable: the head is not covered (unless it cannot settle anyway). */
        if (n == 0 || m->stale[k] || !participant_active(l, k) || !participant_active(l, m->p[want[0]].payee)) continue;
        const struct mpay *head = &m->p[want[0]];
        struct ortak_account_info a;
        assert_int_equal(ortak_ledger_account_get(l, prop_accs[k], &a), ORTAK_OK);
        ortak_i128 avail = a.balance - a.debits_pending + a.credit_line - (head->priority == NORM ? a.reserved : 0);
        if (avail >= head->amount)
            fail_msg("batch %llu: bank %d's head %llu (%lld, %s) is covered but still queued",
                     (unsigned long long)batch, k, (unsigned long long)want[0], (long long)head->amount,
                     ortak_priority_name(head->priority));
    }
}

static void prop_run(struct fx *f, uint64_t seed) {
    struct gen *g = gen_new(seed, f->now);
    struct model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    model_load(m, ortak_engine_ledger(f->e));
    uint64_t batch = 0;
    uint32_t done = 0;
    while (done < 4000) {
        struct ortak_cmd cmds[16];
        struct ortak_result r[16];
        uint32_t n = gen_batch(g, cmds);
        assert_int_equal(ortak_engine_apply(f->e, cmds, n, r), ORTAK_OK);
        uint32_t nev;
        const struct ortak_event *ev = ortak_engine_events(f->e, &nev);
        model_apply(m, ev, nev, cmds, batch);
        model_compare(m, f->e, g->next_pid, batch);
        batch++;
        done += n;
    }
    uint32_t grid = m->by_grid[FIFO] + m->by_grid[BYPASS];
    print_message("seed %llu: %llu batches, %llu payments; settled %u at once, %u by release, %u by offsetting "
                  "(%u new with %u back), %u by gridlock (%u fifo, %u bypass; %u + %u runs), %u passes; %u "
                  "cancelled, %u rejected (%u queued ones at a cut-off, %u at their latest time); %u queued, at "
                  "most %u; %u holds, %u expired\n",
                  (unsigned long long)seed, (unsigned long long)batch, (unsigned long long)g->next_pid - 1, m->at_once,
                  m->released, m->offset_new + m->offset_back, m->offset_new, m->offset_back, grid, m->by_grid[FIFO],
                  m->by_grid[BYPASS], m->runs[FIFO], m->runs[BYPASS], m->passes, m->cancelled, m->rejected,
                  m->at_cutoff, m->timeouts, m->queued, m->queued_max, m->holds, m->expired);
    assert_true(m->at_once > 0 && m->released > 0);
    assert_true(m->offset_new > 0 && m->offset_back >= m->offset_new);
    assert_true(grid > 0 && m->runs[FIFO] > 0 && m->runs[BYPASS] > 0);
    assert_true(m->passes > 0 && m->at_cutoff > 0 && m->timeouts > 0 && m->expired > 0);
    free(m);
    free(g);
}

static void test_property_seed1(void **state) { prop_run(*state, 1); }
static void test_property_seed2(void **state) { prop_run(*state, 0x5eed2026); }
static void test_property_seed3(void **state) { prop_run(*state, 0xfeedface); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_offset_exact_cover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_needs_k, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_payee_head_elsewhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_payer_queue_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_payer_reservation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_payee_reservation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_disabled, setup_no_offset, teardown),
        cmocka_unit_test_setup_teardown(test_offset_suspended, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_scan_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gridlock_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gridlock_unequal_cycle_covered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gridlock_unequal_cycle_short, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gridlock_fifo_head_blocks_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gridlock_knapsack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gridlock_knapsack_cycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gridlock_currencies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gridlock_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gridlock_transfers_full, setup_few_transfers, teardown),
        cmocka_unit_test_setup_teardown(test_bypass_priority_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gridlock_reservation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gridlock_unsettleable_stays_out, setup_no_offset, teardown),
        cmocka_unit_test_setup_teardown(test_periodic_gridlock, setup_periodic, teardown),
        cmocka_unit_test_setup_teardown(test_periodic_run_after_linked_chain, setup_periodic, teardown),
        cmocka_unit_test_setup_teardown(test_journal_gridlock_command, setup, teardown),
        cmocka_unit_test(test_config_settlement),
        cmocka_unit_test_setup_teardown(test_determinism, setup_property, teardown),
        cmocka_unit_test_setup_teardown(test_property_seed1, setup_property, teardown),
        cmocka_unit_test_setup_teardown(test_property_seed2, setup_property, teardown),
        cmocka_unit_test_setup_teardown(test_property_seed3, setup_property, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
