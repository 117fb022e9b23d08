/*
 * Unit and property tests of deferred net settlement (netting.h), driven through the engine: net debit caps
 * pledged on collateral, net payments accepted into per-currency windows, the all-or-nothing close and its
 * report (events and queries), periodic windows, suspended participants and closes that cannot book, gross and
 * net settlement side by side, the journal's batch encoding and the canonical state.
 *
 * Run without arguments for the unit tests (CTest netting_unit), with the argument `property` for the property
 * test over random traffic (CTest netting_property).
 *
 * Fixture (setup): the default configuration with small limits, no periodic gridlock runs and no periodic net
 * windows (setup_periodic closes KZT windows every 60 s of engine time). Four currencies of the default set (AZN,
 * KZT, UZS, TRY), each with its central bank and issuance account and four banks with settlement accounts; the
 * first three banks of each currency also hold a collateral account there, the fourth has none. Nothing is funded:
 * each test funds what it needs from the issuance accounts, so its numbers are all in view. Every command takes a
 * timestamp one second after the previous one.
 *
 * Tests assert values: result codes and flags, the events of each batch with their fields in order, balances and
 * reservations, payment states and times, transfers booked, window and position queries, and caps.
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
#define MIN (60 * SEC)

#define NORM ORTAK_PRIORITY_NORMAL
#define URG ORTAK_PRIORITY_URGENT

/* The fixture's currencies: their place here (c), their index in the engine's configuration, their ISO numbers. */
enum { AZN, KZT, UZS, TRY, CURS };
static const char *const cur_code[CURS] = {"AZN", "KZT", "UZS", "TRY"};
static const uint32_t cur_index[CURS] = {0, 1, 3, 4};
static const uint16_t cur_numeric[CURS] = {944, 398, 860, 949};
static const char *const cb_bic[CURS] = {"NABZAZ2X", "NBRKKZKX", "CBUZUZ22", "TCMBTR2A"};
static const char *const cb_name[CURS] = {"Central Bank of the Republic of Azerbaijan", "National Bank of Kazakhstan",
                                          "Central Bank of the Republic of Uzbekistan",
                                          "Central Bank of the Republic of Turkiye"};
#define BANKS 4
static const char *const bank_bic[CURS][BANKS] = {
    {"IBAZAZ2X", "PAHAAZ22", "KAPIAZ2X", "AZERAZ22"},
    {"HSBKKZKX", "KCJBKZKX", "CASPKZKA", "ATYNKZKA"},
    {"NBFAUZ2X", "KACHUZ22", "HAMKUZ22", "IPTBUZ22"},
    {"TCZBTR2A", "ISBKTRIS", "AKBKTRIS", "TGBATRIS"},
};
static const char *const bank_name[CURS][BANKS] = {
    {"International Bank of Azerbaijan", "Pasha Bank", "Kapital Bank", "AccessBank"},
    {"Halyk Bank", "Kaspi Bank", "Bank CenterCredit", "Altyn Bank"},
    {"National Bank of Uzbekistan", "Kapitalbank", "Hamkorbank", "Ipoteka Bank"},
    {"Ziraat Bankasi", "Is Bankasi", "Akbank", "Garanti BBVA"},
};

/* Account ids: the issuance account (c + 1) * 100, bank k's settlement account + 1 + k, its collateral + 51 + k. */
#define ISS(c) ((ortak_u128)((c) + 1) * 100)
#define SET(c, k) (ISS(c) + 1 + (k))
#define COL(c, k) (ISS(c) + 51 + (k))
/* Short names for the worked examples: bank 1..4 of each currency and the first three's collateral accounts. */
#define Z1 SET(AZN, 0)
#define Z2 SET(AZN, 1)
#define Z3 SET(AZN, 2)
#define Z4 SET(AZN, 3)
#define ZC1 COL(AZN, 0)
#define K1 SET(KZT, 0)
#define K2 SET(KZT, 1)
#define K3 SET(KZT, 2)
#define K4 SET(KZT, 3)
#define KC1 COL(KZT, 0)
#define KC2 COL(KZT, 1)
#define KC3 COL(KZT, 2)
#define U1 SET(UZS, 0)
#define U2 SET(UZS, 1)
#define U3 SET(UZS, 2)
#define UC1 COL(UZS, 0)
#define T1 SET(TRY, 0)
#define T2 SET(TRY, 1)
#define T3 SET(TRY, 2)
#define T4 SET(TRY, 3)
#define TC1 COL(TRY, 0)
#define TC2 COL(TRY, 1)

/* The id of the k-th transfer of window w of the currency at configuration index `index` (docs/netting.md). */
static ortak_u128 xid(uint32_t index, uint64_t w, uint32_t k) {
    return ((ortak_u128)0xffff << 112) | (ortak_u128)index << 96 | (ortak_u128)w << 32 | k;
}
#define XID(c, w, k) xid(cur_index[c], w, k)

struct fx {
    struct ortak_engine *e;
    ortak_time_ns now;
    uint64_t next_fund;           /* ids of funding transfers */
    struct ortak_engine *more[3]; /* further engines a test opens; closed by teardown */
};

/* ---- helpers ----------------------------------------------------------------------------------------------- */

static ortak_time_ns fx_t(struct fx *f) { return f->now += SEC; }
static struct ortak_result fx_apply(struct fx *f, struct ortak_cmd cmd) { return tu_apply1(f->e, &cmd); }
static ortak_rc fx_rc(struct fx *f, struct ortak_cmd cmd) { return tu_apply1_rc(f->e, cmd); }
static void fx_ok(struct fx *f, struct ortak_cmd cmd) { assert_int_equal(fx_rc(f, cmd), ORTAK_OK); }

/* A net payment: method net, priority normal, no latest time. */
static struct ortak_cmd net_pay(ortak_time_ns ts, ortak_u128 id, ortak_u128 dr, ortak_u128 cr, uint64_t amount) {
    struct ortak_cmd c = tu_payment(ts, id, dr, cr, amount, NORM);
    c.u.payment.method = ORTAK_METHOD_NET;
    return c;
}

static struct ortak_cmd cap_cmd(ortak_time_ns ts, ortak_u128 acc, int64_t cap) {
    return tu_account_amount(ts, ORTAK_CMD_NET_CAP_SET, acc, cap);
}

static struct ortak_cmd close_cmd(ortak_time_ns ts, const char *code) {
    struct ortak_cmd c = tu_cmd(ts, ORTAK_CMD_NET_CLOSE);
    tu_copy(c.u.net_close.currency, sizeof c.u.net_close.currency, code);
    return c;
}

/* New liquidity for `to` from its currency's issuance account. */
static void fx_fund(struct fx *f, int c, ortak_u128 to, uint64_t amount) {
    fx_ok(f, tu_transfer(fx_t(f), 5000 + f->next_fund++, ISS(c), to, amount, 0));
}

static void fx_cap(struct fx *f, ortak_u128 acc, int64_t cap) { fx_ok(f, cap_cmd(fx_t(f), acc, cap)); }

/* Submits a net payment at the next timestamp and asserts its result code (reported at the caller's line). */
static void check_net(struct fx *f, ortak_u128 id, ortak_u128 dr, ortak_u128 cr, uint64_t amount, ortak_rc rc,
                      const char *file, int line) {
    struct ortak_result r = fx_apply(f, net_pay(fx_t(f), id, dr, cr, amount));
    if (r.rc == (uint32_t)rc && r.flags == 0 && r.fail_index == UINT32_MAX) return;
    print_error("net payment %llu: rc %s flags %u, expected %s\n", (unsigned long long)id,
                ortak_rc_name((ortak_rc)r.rc), r.flags, ortak_rc_name(rc));
    _fail(file, line);
}
#define net_ok(f, id, dr, cr, amount) check_net(f, id, dr, cr, amount, ORTAK_OK, __FILE__, __LINE__)
#define net_refused(f, id, dr, cr, amount, rc) check_net(f, id, dr, cr, amount, rc, __FILE__, __LINE__)

static const struct ortak_ledger *fx_ledger(const struct fx *f) { return ortak_engine_ledger(f->e); }
static const struct ortak_settle *fx_settle(const struct fx *f) { return ortak_engine_settle(f->e); }
static const struct ortak_netting *fx_net(const struct fx *f) { return ortak_engine_netting(f->e); }

static ortak_i128 fx_balance(const struct fx *f, ortak_u128 id) { return tu_account_info(f->e, id).balance; }
#define assert_balance(f, id, want) assert_true(fx_balance(f, id) == (ortak_i128)(want))
#define assert_reserved(f, id, want) assert_int_equal(tu_account_info((f)->e, id).reserved, want)

/* A payment's state, result code, window and end time. */
static void check_payment(const struct fx *f, ortak_u128 id, uint8_t state, ortak_rc rc, uint64_t window,
                          ortak_time_ns ended, const char *file, int line) {
    struct ortak_payment_info p;
    ortak_rc got = ortak_settle_payment_get(fx_settle(f), id, &p);
    if (got == ORTAK_OK && p.state == state && p.rc == rc && p.window == window && p.ended_ns == ended) return;
    print_error("payment %llu: get %s, state %s rc %s window %llu ended %llu; expected %s rc %s window %llu ended "
                "%llu\n",
                (unsigned long long)id, ortak_rc_name(got), ortak_payment_state_name(p.state), ortak_rc_name(p.rc),
                (unsigned long long)p.window, (unsigned long long)p.ended_ns, ortak_payment_state_name(state),
                ortak_rc_name(rc), (unsigned long long)window, (unsigned long long)ended);
    _fail(file, line);
}
#define assert_accepted(f, id, w) check_payment(f, id, ORTAK_PAYMENT_ACCEPTED, ORTAK_OK, w, 0, __FILE__, __LINE__)
#define assert_net_settled(f, id, w, at) \
    check_payment(f, id, ORTAK_PAYMENT_SETTLED, ORTAK_OK, w, at, __FILE__, __LINE__)
#define assert_rejected(f, id, rc, at) check_payment(f, id, ORTAK_PAYMENT_REJECTED, rc, 0, at, __FILE__, __LINE__)

/* A net debit cap and the net debit in the open window, as ortak_netting_cap reports them. */
static void check_cap(const struct fx *f, ortak_u128 acc, int64_t cap, int64_t debit, const char *file, int line) {
    int64_t got_cap = -1;
    ortak_i128 got_debit = -1;
    ortak_rc rc = ortak_netting_cap(fx_net(f), acc, &got_cap, &got_debit);
    if (rc == ORTAK_OK && got_cap == cap && got_debit == (ortak_i128)debit) return;
    print_error("cap of %llu: %s, cap %lld debit %lld; expected cap %lld debit %lld\n", (unsigned long long)acc,
                ortak_rc_name(rc), (long long)got_cap, (long long)got_debit, (long long)cap, (long long)debit);
    _fail(file, line);
}
#define assert_cap(f, acc, cap, debit) check_cap(f, acc, cap, debit, __FILE__, __LINE__)

/*
 * An expected event: every field but the timestamp and the command index (assert_events_at checks those): kind, id,
 * amount, status, amount_old, ref, debit and credit account.
 */
struct xev {
    uint32_t kind;
    ortak_u128 id;
    int64_t amount;
    uint32_t status;
    int64_t amount_old;
    ortak_u128 ref, dr, cr;
};

/* Shorthands: payment events (the tests' payments carry no UETR), transfers, caps, report rows and summaries. */
#define EV_ACCEPTED(id, dr, cr, amt, w) \
    { ORTAK_EV_PAYMENT_ACCEPTED, (id), (amt), (w), 0, 0, (dr), (cr) }
#define EV_SETTLED(id, dr, cr, amt) \
    { ORTAK_EV_PAYMENT_SETTLED, (id), (amt), 0, 0, 0, (dr), (cr) }
#define EV_REJECTED(id, dr, cr, amt, rc) \
    { ORTAK_EV_PAYMENT_REJECTED, (id), (amt), (rc), 0, 0, (dr), (cr) }
#define EV_QUEUED(id, dr, cr, amt, pr) \
    { ORTAK_EV_PAYMENT_QUEUED, (id), (amt), (pr), 0, 0, (dr), (cr) }
#define EV_POSTED(id, dr, cr, amt) \
    { ORTAK_EV_TRANSFER_POSTED, (id), (amt), 0, 0, 0, (dr), (cr) }
#define EV_CAP(acc, cap, old) \
    { ORTAK_EV_NET_CAP_SET, (acc), (cap), 0, (old), 0, 0, 0 }
/* A report row: gross sent in ref, gross received in credit_account_id, the part from collateral in amount. */
#define EV_POS(acc, sent, received, coll, w) \
    { ORTAK_EV_NET_POSITION, (acc), (coll), (w), 0, (ortak_u128)(sent), 0, (ortak_u128)(received) }
/* A summary: currency, window, payments, participants, value moved. */
#define EV_WINDOW(numeric, w, payments, participants, moved) \
    { ORTAK_EV_NET_WINDOW, (numeric), (payments), (w), (participants), (ortak_u128)(moved), 0, 0 }
#define EV_UNSETTLED(numeric) \
    { ORTAK_EV_NET_WINDOW, (numeric), -1, ORTAK_NET_WINDOW_UNSETTLED, 0, 0, 0, 0 }

static void print_events(const struct ortak_event *ev, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        print_error("  kind %u id %llx:%llx amount %lld status %u amount_old %lld ref %llu dr %llu cr %llu cmd %u\n",
                    ev[i].kind, (unsigned long long)(ev[i].id >> 64), (unsigned long long)ev[i].id,
                    (long long)ev[i].amount, ev[i].status, (long long)ev[i].amount_old, (unsigned long long)ev[i].ref,
                    (unsigned long long)ev[i].debit_account_id, (unsigned long long)ev[i].credit_account_id,
                    ev[i].command_index);
}

static void check_events(const struct ortak_event *ev, uint32_t n, const struct xev *want, uint32_t nwant,
                         const char *file, int line) {
    bool ok = n == nwant;
    for (uint32_t i = 0; ok && i < n; i++)
        ok = ev[i].kind == want[i].kind && ev[i].id == want[i].id && ev[i].amount == want[i].amount &&
             ev[i].status == want[i].status && ev[i].amount_old == want[i].amount_old && ev[i].ref == want[i].ref &&
             ev[i].debit_account_id == want[i].dr && ev[i].credit_account_id == want[i].cr;
    if (ok) return;
    print_error("events: got %u\n", n);
    print_events(ev, n);
    print_error("expected %u\n", nwant);
    for (uint32_t i = 0; i < nwant; i++)
        print_error("  kind %u id %llx:%llx amount %lld status %u amount_old %lld ref %llu dr %llu cr %llu\n",
                    want[i].kind, (unsigned long long)(want[i].id >> 64), (unsigned long long)want[i].id,
                    (long long)want[i].amount, want[i].status, (long long)want[i].amount_old,
                    (unsigned long long)want[i].ref, (unsigned long long)want[i].dr, (unsigned long long)want[i].cr);
    _fail(file, line);
}
static void check_engine_events(const struct ortak_engine *e, const struct xev *want, uint32_t nwant, const char *file,
                                int line) {
    uint32_t n;
    const struct ortak_event *ev = ortak_engine_events(e, &n);
    check_events(ev, n, want, nwant, file, line);
}
#define assert_events(f, ...)                                                                               \
    do {                                                                                                    \
        const struct xev want_[] = {__VA_ARGS__};                                                           \
        check_engine_events((f)->e, want_, (uint32_t)(sizeof want_ / sizeof want_[0]), __FILE__, __LINE__); \
    } while (0)
#define assert_no_events(f) check_engine_events((f)->e, NULL, 0, __FILE__, __LINE__)

/* Every event of the last batch was caused by command `index` at time `at`. */
static void assert_events_at(const struct fx *f, uint32_t index, ortak_time_ns at) {
    uint32_t n;
    const struct ortak_event *ev = ortak_engine_events(f->e, &n);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(ev[i].command_index, index);
        assert_int_equal(ev[i].timestamp, at);
    }
}

/* A window as ortak_netting_window reports it. */
static void check_window(const struct fx *f, int c, uint64_t query, uint64_t id, uint8_t state, ortak_time_ns opened,
                         ortak_time_ns closed, uint32_t payments, uint32_t participants, int64_t gross, int64_t moved,
                         const char *file, int line) {
    struct ortak_window_info w;
    memset(&w, 0xa5, sizeof w);
    ortak_rc rc = ortak_netting_window(fx_net(f), cur_code[c], query, &w);
    if (rc == ORTAK_OK && w.id == id && w.state == state && w.opened_ns == opened && w.closed_ns == closed &&
        w.payments == payments && w.participants == participants && w.gross == (ortak_i128)gross &&
        w.moved == (ortak_i128)moved)
        return;
    print_error("window %s/%llu: %s id %llu state %u opened %llu closed %llu payments %u participants %u gross %lld "
                "moved %lld\n",
                cur_code[c], (unsigned long long)query, ortak_rc_name(rc), (unsigned long long)w.id, w.state,
                (unsigned long long)w.opened_ns, (unsigned long long)w.closed_ns, w.payments, w.participants,
                (long long)w.gross, (long long)w.moved);
    _fail(file, line);
}
#define assert_window(f, c, query, id, state, opened, closed, payments, participants, gross, moved) \
    check_window(f, c, query, id, state, opened, closed, payments, participants, gross, moved, __FILE__, __LINE__)
#define assert_open_window(f, c, id, opened, payments, participants, gross) \
    check_window(f, c, 0, id, ORTAK_WINDOW_OPEN, opened, 0, payments, participants, gross, 0, __FILE__, __LINE__)

/* An expected report row. */
struct xpos {
    ortak_u128 account;
    uint32_t sent_count, received_count;
    int64_t sent, received, from_collateral;
};

static void check_positions(const struct fx *f, int c, uint64_t window, const struct xpos *want, uint32_t nwant,
                            const char *file, int line) {
    struct ortak_window_position rows[16];
    uint32_t n = 99;
    ortak_rc rc = ortak_netting_positions(fx_net(f), cur_code[c], window, rows, 16, &n);
    bool ok = rc == ORTAK_OK && n == nwant;
    for (uint32_t i = 0; ok && i < n; i++)
        ok = rows[i].account_id == want[i].account && rows[i].sent_count == want[i].sent_count &&
             rows[i].received_count == want[i].received_count && rows[i].sent == (ortak_i128)want[i].sent &&
             rows[i].received == (ortak_i128)want[i].received &&
             rows[i].net == (ortak_i128)want[i].received - (ortak_i128)want[i].sent &&
             rows[i].from_collateral == want[i].from_collateral;
    if (ok) return;
    print_error("positions %s/%llu: %s, %u rows\n", cur_code[c], (unsigned long long)window, ortak_rc_name(rc), n);
    for (uint32_t i = 0; rc == ORTAK_OK && i < n && i < 16; i++)
        print_error("  %llu: %u/%u sent %lld received %lld net %lld collateral %lld\n",
                    (unsigned long long)rows[i].account_id, rows[i].sent_count, rows[i].received_count,
                    (long long)rows[i].sent, (long long)rows[i].received, (long long)rows[i].net,
                    (long long)rows[i].from_collateral);
    _fail(file, line);
}
#define assert_positions(f, c, window, ...)                                                                   \
    do {                                                                                                      \
        const struct xpos want_[] = {__VA_ARGS__};                                                            \
        check_positions(f, c, window, want_, (uint32_t)(sizeof want_ / sizeof want_[0]), __FILE__, __LINE__); \
    } while (0)
#define assert_no_positions(f, c, window) check_positions(f, c, window, NULL, 0, __FILE__, __LINE__)

/* A transfer booked by a close: its accounts, amount, flags, code 2, user_data the window id, and its time. */
static void check_close_transfer(const struct fx *f, ortak_u128 id, ortak_u128 dr, ortak_u128 cr, uint64_t amount,
                                 uint16_t flags, uint64_t window, ortak_time_ns at, const char *file, int line) {
    struct ortak_transfer_info t;
    ortak_rc rc = ortak_ledger_transfer_get(fx_ledger(f), id, &t);
    if (rc == ORTAK_OK && (id >> 112) == 0xffff && t.rc == ORTAK_OK && t.t.debit_account_id == dr &&
        t.t.credit_account_id == cr && t.t.amount == amount && t.amount_booked == amount && t.t.flags == flags &&
        t.t.code == 2 && t.t.user_data == (ortak_u128)window && t.t.pending_id == 0 && t.t.timeout_s == 0 &&
        t.timestamp == at)
        return;
    print_error("close transfer %llx: %s dr %llu cr %llu amount %llu flags %u code %u user_data %llu at %llu\n",
                (unsigned long long)id, ortak_rc_name(rc), (unsigned long long)t.t.debit_account_id,
                (unsigned long long)t.t.credit_account_id, (unsigned long long)t.t.amount, t.t.flags, t.t.code,
                (unsigned long long)t.t.user_data, (unsigned long long)t.timestamp);
    _fail(file, line);
}
#define assert_close_transfer(f, id, dr, cr, amount, flags, window, at) \
    check_close_transfer(f, id, dr, cr, amount, flags, window, at, __FILE__, __LINE__)
#define assert_no_transfer(f, id)                                                                     \
    do {                                                                                              \
        struct ortak_transfer_info t_;                                                                \
        assert_int_equal(ortak_ledger_transfer_get(fx_ledger(f), id, &t_), ORTAK_TRANSFER_NOT_FOUND); \
    } while (0)

/* ---- fixture ----------------------------------------------------------------------------------------------- */

static struct ortak_config fx_config(uint64_t kzt_window_ms) {
    struct ortak_config cfg;
    ortak_config_default(&cfg);
    cfg.limits.participants_max = 32;
    cfg.limits.accounts_max = 64;
    cfg.limits.transfers_max = 4096;
    cfg.limits.pending_max = 16;
    cfg.limits.history_max = 1024;
    cfg.limits.batch_max = 64;
    cfg.limits.payments_max = 256;
    cfg.settlement.gridlock_interval_ms = 0;
    for (uint32_t i = 0; i < cfg.currency_count; i++) cfg.currencies[i].net_window_ms = 0;
    cfg.currencies[cur_index[KZT]].net_window_ms = kzt_window_ms;
    return cfg;
}

/* The fixture's commands, one per batch: participants, then per currency its accounts in account order. */
static void fx_build(struct fx *f) {
    f->now = T0;
    for (int c = 0; c < CURS; c++) {
        fx_ok(f, tu_participant(fx_t(f), cb_bic[c], cb_name[c], ORTAK_ROLE_CENTRAL_BANK));
        for (int k = 0; k < BANKS; k++)
            fx_ok(f, tu_participant(fx_t(f), bank_bic[c][k], bank_name[c][k], ORTAK_ROLE_BANK));
    }
    for (int c = 0; c < CURS; c++) {
        fx_ok(f, tu_account(fx_t(f), ISS(c), cb_bic[c], cur_code[c], ORTAK_ACCOUNT_ISSUANCE));
        for (int k = 0; k < BANKS; k++) {
            fx_ok(f, tu_account(fx_t(f), SET(c, k), bank_bic[c][k], cur_code[c], ORTAK_ACCOUNT_SETTLEMENT));
            if (k < BANKS - 1)
                fx_ok(f, tu_account(fx_t(f), COL(c, k), bank_bic[c][k], cur_code[c], ORTAK_ACCOUNT_COLLATERAL));
        }
    }
}

static int setup_with(void **state, struct ortak_config cfg) {
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(ortak_engine_open(&cfg, &f->e), ORTAK_OK);
    fx_build(f);
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_with(state, fx_config(0)); }
/* KZT windows also close every 60 s of engine time. */
static int setup_periodic(void **state) { return setup_with(state, fx_config(60000)); }

static int teardown(void **state) {
    struct fx *f = *state;
    ortak_engine_close(f->e);
    for (size_t i = 0; i < sizeof f->more / sizeof f->more[0]; i++) ortak_engine_close(f->more[i]);
    free(f);
    return 0;
}

/* ---- 1. worked examples ------------------------------------------------------------------------------------ */

/*
 * KZT, the example of docs/netting.md (amounts in tiyn): bank 1 holds 300.00 and 1,000.00 of collateral, cap
 * 800.00; banks 2 and 3 have no collateral and cap 0. Bank 1 pays 550.00 net, 300.00 from its settlement account and
 * 250.00 from its collateral; its cap falls to 750.00.
 */
static void test_worked_kzt(void **state) {
    struct fx *f = *state;
    fx_fund(f, KZT, K1, 30000);
    fx_fund(f, KZT, KC1, 100000);
    /* A cap above the collateral is refused; 800.00 is pledged, with its event. */
    assert_int_equal(fx_rc(f, cap_cmd(fx_t(f), K1, 200000)), ORTAK_NET_CAP_ABOVE_COLLATERAL);
    assert_no_events(f);
    fx_cap(f, K1, 80000);
    assert_events(f, EV_CAP(K1, 80000, 0));
    assert_events_at(f, 0, f->now);
    assert_reserved(f, KC1, 80000);
    assert_cap(f, K1, 80000, 0);
    assert_cap(f, K2, 0, 0);
    assert_open_window(f, KZT, 1, 0, 0, 0, 0);

    net_ok(f, 1, K1, K2, 50000);
    assert_events(f, EV_ACCEPTED(1, K1, K2, 50000, 1));
    assert_accepted(f, 1, 1);
    net_refused(f, 2, K1, K3, 40000, ORTAK_NET_CAP_EXCEEDED); /* 900.00 > 800.00 */
    assert_events(f, EV_REJECTED(2, K1, K3, 40000, ORTAK_NET_CAP_EXCEEDED));
    ortak_time_ns refused_at = f->now;
    assert_rejected(f, 2, ORTAK_NET_CAP_EXCEEDED, refused_at);
    net_ok(f, 3, K1, K3, 10000);
    net_ok(f, 4, K2, K1, 5000);  /* bank 2 sends out of what it received */
    net_ok(f, 5, K3, K2, 10000); /* bank 3: 100.00 - 100.00 = 0 */
    assert_events(f, EV_ACCEPTED(5, K3, K2, 10000, 1));
    assert_cap(f, K1, 80000, 55000);
    assert_cap(f, K2, 0, 0);
    assert_cap(f, K3, 0, 0);
    /* Acceptance moved nothing. */
    assert_balance(f, K1, 30000);
    assert_balance(f, K2, 0);
    assert_balance(f, KC1, 100000);

    /* Only 200.00 of the collateral is free; the cap cannot fall below the net debit of 550.00. */
    assert_int_equal(fx_rc(f, tu_transfer(fx_t(f), 70, KC1, K1, 50000, 0)), ORTAK_INSUFFICIENT_FUNDS);
    assert_int_equal(fx_rc(f, cap_cmd(fx_t(f), K1, 10000)), ORTAK_NET_CAP_IN_USE);
    assert_no_events(f);
    assert_open_window(f, KZT, 1, 0, 4, 3, 75000);
    assert_positions(f, KZT, 0, {K1, 2, 1, 60000, 5000, 0}, {K2, 1, 2, 5000, 60000, 0}, {K3, 1, 1, 10000, 10000, 0});

    ortak_time_ns at = fx_t(f);
    fx_ok(f, close_cmd(at, "KZT"));
    assert_events(f, EV_POSTED(XID(KZT, 1, 0), K1, K2, 30000), EV_POSTED(XID(KZT, 1, 1), KC1, K2, 25000),
                  EV_CAP(K1, 75000, 80000), EV_SETTLED(1, K1, K2, 50000), EV_SETTLED(3, K1, K3, 10000),
                  EV_SETTLED(4, K2, K1, 5000), EV_SETTLED(5, K3, K2, 10000), EV_POS(K1, 60000, 5000, 25000, 1),
                  EV_POS(K2, 5000, 60000, 0, 1), EV_POS(K3, 10000, 10000, 0, 1), EV_WINDOW(398, 1, 4, 3, 55000));
    assert_events_at(f, 0, at);
    assert_close_transfer(f, XID(KZT, 1, 0), K1, K2, 30000, 0, 1, at);
    assert_close_transfer(f, XID(KZT, 1, 1), KC1, K2, 25000, ORTAK_TRANSFER_USE_RESERVED, 1, at);
    assert_no_transfer(f, XID(KZT, 1, 2));
    assert_no_transfer(f, 1); /* a net payment books no transfer of its own */
    assert_balance(f, K1, 0);
    assert_balance(f, KC1, 75000);
    assert_balance(f, K2, 55000);
    assert_balance(f, K3, 0);
    assert_reserved(f, KC1, 75000);
    assert_cap(f, K1, 75000, 0);
    for (uint64_t id = 1; id <= 5; id++) {
        if (id != 2) assert_net_settled(f, id, 1, at);
    }
    assert_rejected(f, 2, ORTAK_NET_CAP_EXCEEDED, refused_at);
    assert_window(f, KZT, 1, 1, ORTAK_WINDOW_SETTLED, 0, at, 4, 3, 75000, 55000);
    assert_open_window(f, KZT, 2, at, 0, 0, 0);
    assert_positions(f, KZT, 1, {K1, 2, 1, 60000, 5000, 25000}, {K2, 1, 2, 5000, 60000, 0},
                     {K3, 1, 1, 10000, 10000, 0});
    assert_no_positions(f, KZT, 2);
    assert_no_positions(f, KZT, 0);
    /* The other currencies' windows did not move. */
    for (int c = 0; c < CURS; c++) {
        if (c != KZT) assert_open_window(f, c, 1, 0, 0, 0, 0);
    }
}

/*
 * TRY (amounts in kuruş), two debtors and two creditors. Bank 1 (5,000.00 on its settlement account) pays its
 * 1,000.00 from there; bank 2 (1,000.00 there, 4,000.00 of collateral, cap 3,000.00) pays 1,000.00 from its
 * settlement account and 1,700.00 from collateral, and its cap falls to the 2,300.00 left. The sources (bank 1,
 * bank 2, bank 2's collateral) pay the sinks (banks 3 and 4) in order: four transfers.
 */
static void test_worked_try(void **state) {
    struct fx *f = *state;
    fx_fund(f, TRY, T1, 500000);
    fx_fund(f, TRY, TC1, 200000);
    fx_fund(f, TRY, T2, 100000);
    fx_fund(f, TRY, TC2, 400000);
    fx_cap(f, T1, 150000);
    fx_cap(f, T2, 300000);
    assert_events(f, EV_CAP(T2, 300000, 0));
    net_ok(f, 11, T1, T3, 120000);
    net_ok(f, 12, T2, T3, 250000);
    net_refused(f, 13, T2, T4, 80000, ORTAK_NET_CAP_EXCEEDED); /* 3,300.00 > 3,000.00 */
    net_ok(f, 14, T2, T4, 30000);                              /* exactly 2,800.00 */
    net_ok(f, 15, T3, T1, 20000);
    net_ok(f, 16, T4, T2, 10000);
    assert_events(f, EV_ACCEPTED(16, T4, T2, 10000, 1));
    assert_cap(f, T1, 150000, 100000);
    assert_cap(f, T2, 300000, 270000);
    assert_cap(f, T3, 0, 0);
    assert_cap(f, T4, 0, 0); /* no collateral account: cap 0 */
    assert_open_window(f, TRY, 1, 0, 5, 4, 430000);
    assert_positions(f, TRY, 1, {T1, 1, 1, 120000, 20000, 0}, {T2, 2, 1, 280000, 10000, 0},
                     {T3, 1, 2, 20000, 370000, 0}, {T4, 1, 1, 10000, 30000, 0});

    ortak_time_ns at = fx_t(f);
    fx_ok(f, close_cmd(at, "TRY"));
    assert_events(f, EV_POSTED(XID(TRY, 1, 0), T1, T3, 100000), EV_POSTED(XID(TRY, 1, 1), T2, T3, 100000),
                  EV_POSTED(XID(TRY, 1, 2), TC2, T3, 150000), EV_POSTED(XID(TRY, 1, 3), TC2, T4, 20000),
                  EV_CAP(T2, 230000, 300000), EV_SETTLED(11, T1, T3, 120000), EV_SETTLED(12, T2, T3, 250000),
                  EV_SETTLED(14, T2, T4, 30000), EV_SETTLED(15, T3, T1, 20000), EV_SETTLED(16, T4, T2, 10000),
                  EV_POS(T1, 120000, 20000, 0, 1), EV_POS(T2, 280000, 10000, 170000, 1),
                  EV_POS(T3, 20000, 370000, 0, 1), EV_POS(T4, 10000, 30000, 0, 1), EV_WINDOW(949, 1, 5, 4, 370000));
    assert_events_at(f, 0, at);
    assert_close_transfer(f, XID(TRY, 1, 0), T1, T3, 100000, 0, 1, at);
    assert_close_transfer(f, XID(TRY, 1, 1), T2, T3, 100000, 0, 1, at);
    assert_close_transfer(f, XID(TRY, 1, 2), TC2, T3, 150000, ORTAK_TRANSFER_USE_RESERVED, 1, at);
    assert_close_transfer(f, XID(TRY, 1, 3), TC2, T4, 20000, ORTAK_TRANSFER_USE_RESERVED, 1, at);
    assert_no_transfer(f, XID(TRY, 1, 4));
    assert_balance(f, T1, 400000);
    assert_balance(f, TC1, 200000);
    assert_balance(f, T2, 0);
    assert_balance(f, TC2, 230000);
    assert_balance(f, T3, 350000);
    assert_balance(f, T4, 20000);
    assert_reserved(f, TC1, 150000); /* bank 1's collateral was not touched: its cap stays */
    assert_reserved(f, TC2, 230000);
    assert_cap(f, T1, 150000, 0);
    assert_cap(f, T2, 230000, 0);
    assert_net_settled(f, 11, 1, at);
    assert_net_settled(f, 16, 1, at);
    assert_window(f, TRY, 0, 2, ORTAK_WINDOW_OPEN, at, 0, 0, 0, 0, 0);
    assert_window(f, TRY, 1, 1, ORTAK_WINDOW_SETTLED, 0, at, 5, 4, 430000, 370000);
    assert_positions(f, TRY, 1, {T1, 1, 1, 120000, 20000, 0}, {T2, 2, 1, 280000, 10000, 170000},
                     {T3, 1, 2, 20000, 370000, 0}, {T4, 1, 1, 10000, 30000, 0});
    /* Bank 2's collateral is all pledged now: nothing of it can leave. */
    assert_int_equal(fx_rc(f, tu_transfer(fx_t(f), 70, TC2, T2, 1, 0)), ORTAK_INSUFFICIENT_FUNDS);
}

/*
 * AZN (amounts in qəpik): a debtor that pays from its settlement account only, and a cap of 0, with which a bank
 * can send only what it has received in the window.
 */
static void test_worked_azn(void **state) {
    struct fx *f = *state;
    fx_fund(f, AZN, Z1, 100000);
    fx_fund(f, AZN, ZC1, 50000);
    fx_fund(f, AZN, Z2, 20000);
    fx_cap(f, Z1, 50000);
    net_ok(f, 21, Z1, Z2, 30000);
    net_refused(f, 22, Z2, Z1, 45000, ORTAK_NET_CAP_EXCEEDED); /* 450.00 - 300.00 > 0 */
    net_ok(f, 23, Z2, Z1, 30000);                              /* 300.00 - 300.00 = 0 */
    net_ok(f, 24, Z1, Z3, 12000);
    assert_cap(f, Z1, 50000, 12000);
    assert_cap(f, Z2, 0, 0);
    ortak_time_ns at = fx_t(f);
    fx_ok(f, close_cmd(at, "AZN"));
    assert_events(f, EV_POSTED(XID(AZN, 1, 0), Z1, Z3, 12000), EV_SETTLED(21, Z1, Z2, 30000),
                  EV_SETTLED(23, Z2, Z1, 30000), EV_SETTLED(24, Z1, Z3, 12000), EV_POS(Z1, 42000, 30000, 0, 1),
                  EV_POS(Z2, 30000, 30000, 0, 1), EV_POS(Z3, 0, 12000, 0, 1), EV_WINDOW(944, 1, 3, 3, 12000));
    assert_close_transfer(f, XID(AZN, 1, 0), Z1, Z3, 12000, 0, 1, at);
    assert_balance(f, Z1, 88000);
    assert_balance(f, Z2, 20000);
    assert_balance(f, Z3, 12000);
    assert_balance(f, ZC1, 50000);
    assert_cap(f, Z1, 50000, 0); /* no collateral used: the cap stays */
    assert_positions(f, AZN, 1, {Z1, 2, 1, 42000, 30000, 0}, {Z2, 1, 1, 30000, 30000, 0}, {Z3, 0, 1, 0, 12000, 0});
    assert_window(f, AZN, 1, 1, ORTAK_WINDOW_SETTLED, 0, at, 3, 3, 72000, 12000);
}

/*
 * UZS (amounts in tiyin): bank 1 has no liquidity at all and pays everything from its collateral; its cap falls
 * to 0, so it can send nothing more until its collateral is topped up and its cap raised again.
 */
static void test_worked_uzs(void **state) {
    struct fx *f = *state;
    fx_fund(f, UZS, UC1, 1000000);
    fx_cap(f, U1, 1000000);
    net_ok(f, 31, U1, U2, 400000);
    net_ok(f, 32, U1, U3, 600000); /* exactly the cap */
    net_refused(f, 33, U1, U2, 1, ORTAK_NET_CAP_EXCEEDED);
    assert_cap(f, U1, 1000000, 1000000);
    ortak_time_ns at = fx_t(f);
    fx_ok(f, close_cmd(at, "UZS"));
    assert_events(f, EV_POSTED(XID(UZS, 1, 0), UC1, U2, 400000), EV_POSTED(XID(UZS, 1, 1), UC1, U3, 600000),
                  EV_CAP(U1, 0, 1000000), EV_SETTLED(31, U1, U2, 400000), EV_SETTLED(32, U1, U3, 600000),
                  EV_POS(U1, 1000000, 0, 1000000, 1), EV_POS(U2, 0, 400000, 0, 1), EV_POS(U3, 0, 600000, 0, 1),
                  EV_WINDOW(860, 1, 2, 3, 1000000));
    assert_balance(f, U1, 0);
    assert_balance(f, UC1, 0);
    assert_balance(f, U2, 400000);
    assert_balance(f, U3, 600000);
    assert_reserved(f, UC1, 0);
    assert_cap(f, U1, 0, 0);
    net_refused(f, 34, U1, U2, 1, ORTAK_NET_CAP_EXCEEDED);
    /* Bank 2 moves 2,000.00 of what it received into its collateral; its cap can then be raised. */
    fx_ok(f, tu_transfer(fx_t(f), 80, U2, COL(UZS, 1), 200000, 0));
    fx_cap(f, U2, 200000);
    net_ok(f, 35, U2, U1, 150000);
    fx_fund(f, UZS, UC1, 50000);
    fx_cap(f, U1, 50000);
    net_ok(f, 36, U1, U3, 200000); /* 2,000.00 - 1,500.00 received = 500.00, the cap */
    assert_events(f, EV_ACCEPTED(36, U1, U3, 200000, 2));
    assert_cap(f, U1, 50000, 50000);
    assert_cap(f, U2, 200000, 150000);
    assert_open_window(f, UZS, 2, at, 2, 3, 350000);
}

/*
 * KZT, two debtors both short of liquidity: each pays what its settlement account has and the rest from its
 * collateral. The sources go debtor by debtor in account order, each its settlement account and then its
 * collateral account; the sinks (banks 3 and 4) are paid in account order.
 */
static void test_two_debtors_from_collateral(void **state) {
    struct fx *f = *state;
    fx_fund(f, KZT, K1, 10000);
    fx_fund(f, KZT, KC1, 100000);
    fx_fund(f, KZT, K2, 20000);
    fx_fund(f, KZT, KC2, 100000);
    fx_cap(f, K1, 100000);
    fx_cap(f, K2, 60000);
    net_ok(f, 1, K1, K3, 50000);
    net_ok(f, 2, K2, K4, 60000);
    ortak_time_ns at = fx_t(f);
    fx_ok(f, close_cmd(at, "KZT"));
    assert_events(f, EV_POSTED(XID(KZT, 1, 0), K1, K3, 10000), EV_POSTED(XID(KZT, 1, 1), KC1, K3, 40000),
                  EV_POSTED(XID(KZT, 1, 2), K2, K4, 20000), EV_POSTED(XID(KZT, 1, 3), KC2, K4, 40000),
                  EV_CAP(K1, 60000, 100000), EV_SETTLED(1, K1, K3, 50000), EV_SETTLED(2, K2, K4, 60000),
                  EV_POS(K1, 50000, 0, 40000, 1), EV_POS(K2, 60000, 0, 40000, 1), EV_POS(K3, 0, 50000, 0, 1),
                  EV_POS(K4, 0, 60000, 0, 1), EV_WINDOW(398, 1, 2, 4, 110000));
    /* Bank 2's cap of 600.00 still fits the 600.00 its collateral holds: unchanged, no event. */
    assert_cap(f, K1, 60000, 0);
    assert_cap(f, K2, 60000, 0);
    assert_balance(f, KC1, 60000);
    assert_balance(f, KC2, 60000);
    assert_balance(f, K3, 50000);
    assert_balance(f, K4, 60000);
}

/* ---- 2. queries, empty windows and refusals ---------------------------------------------------------------- */

/*
 * The queries keep the open window and the last one closed; older windows are WINDOW_NOT_FOUND. Each currency
 * numbers its own windows.
 */
static void test_window_queries(void **state) {
    struct fx *f = *state;
    fx_fund(f, KZT, KC1, 10000);
    fx_cap(f, K1, 10000);
    fx_fund(f, KZT, K3, 1000);
    fx_fund(f, KZT, KC3, 500);
    fx_cap(f, K3, 500);
    net_ok(f, 1, K1, K2, 700);
    net_ok(f, 2, K1, K3, 300);
    net_ok(f, 3, K2, K3, 100);
    /* At most `cap` rows are written; the count is all of them. */
    struct ortak_window_position rows[2];
    memset(rows, 0, sizeof rows);
    uint32_t n = 0;
    assert_int_equal(ortak_netting_positions(fx_net(f), "KZT", 0, rows, 1, &n), ORTAK_OK);
    assert_int_equal(n, 3);
    assert_true(rows[0].account_id == K1 && rows[0].sent == 1000 && rows[0].net == -1000);
    assert_true(rows[1].account_id == 0);
    assert_int_equal(ortak_netting_positions(fx_net(f), "KZT", 0, NULL, 0, &n), ORTAK_OK);
    assert_int_equal(n, 3);
    /* Unknown currencies and windows. */
    struct ortak_window_info w;
    assert_int_equal(ortak_netting_window(fx_net(f), "XXX", 0, &w), ORTAK_CURRENCY_UNKNOWN);
    assert_int_equal(ortak_netting_positions(fx_net(f), "XXX", 0, rows, 2, &n), ORTAK_CURRENCY_UNKNOWN);
    assert_int_equal(n, 0);
    assert_int_equal(ortak_netting_window(fx_net(f), "KZT", 2, &w), ORTAK_WINDOW_NOT_FOUND);
    assert_int_equal(ortak_netting_positions(fx_net(f), "KZT", 2, rows, 2, &n), ORTAK_WINDOW_NOT_FOUND);
    assert_int_equal(n, 0);
    assert_open_window(f, KZT, 1, 0, 3, 3, 1100);
    check_window(f, KZT, 1, 1, ORTAK_WINDOW_OPEN, 0, 0, 3, 3, 1100, 0, __FILE__, __LINE__); /* by its id too */
    /* A currency with no accounts has its window 1 open as well. */
    assert_int_equal(ortak_netting_window(fx_net(f), "KGS", 0, &w), ORTAK_OK);
    assert_true(w.id == 1 && w.state == ORTAK_WINDOW_OPEN && w.payments == 0);

    ortak_time_ns at1 = fx_t(f);
    fx_ok(f, close_cmd(at1, "KZT"));
    assert_window(f, KZT, 1, 1, ORTAK_WINDOW_SETTLED, 0, at1, 3, 3, 1100, 1000);
    assert_open_window(f, KZT, 2, at1, 0, 0, 0);
    assert_int_equal(ortak_netting_window(fx_net(f), "KZT", 3, &w), ORTAK_WINDOW_NOT_FOUND);
    /* Bank 1 paid its 10.00 from collateral: its cap follows. Window 2: banks 2 and 3 only. */
    assert_cap(f, K1, 9000, 0);
    net_ok(f, 4, K3, K2, 250);
    assert_events(f, EV_ACCEPTED(4, K3, K2, 250, 2));
    assert_accepted(f, 4, 2);
    ortak_time_ns at2 = fx_t(f);
    fx_ok(f, close_cmd(at2, "KZT"));
    assert_events(f, EV_POSTED(XID(KZT, 2, 0), K3, K2, 250), EV_SETTLED(4, K3, K2, 250), EV_POS(K2, 0, 250, 0, 2),
                  EV_POS(K3, 250, 0, 0, 2), EV_WINDOW(398, 2, 1, 2, 250));
    assert_net_settled(f, 1, 1, at1);
    assert_net_settled(f, 4, 2, at2);
    /* Window 1 is gone from the queries; window 2 is the last; window 3 is open. */
    assert_int_equal(ortak_netting_window(fx_net(f), "KZT", 1, &w), ORTAK_WINDOW_NOT_FOUND);
    assert_int_equal(ortak_netting_positions(fx_net(f), "KZT", 1, rows, 2, &n), ORTAK_WINDOW_NOT_FOUND);
    assert_window(f, KZT, 2, 2, ORTAK_WINDOW_SETTLED, at1, at2, 1, 2, 250, 250);
    assert_positions(f, KZT, 2, {K2, 0, 1, 0, 250, 0}, {K3, 1, 0, 250, 0, 0});
    assert_open_window(f, KZT, 3, at2, 0, 0, 0);
    assert_no_positions(f, KZT, 3);
    /* Bank 1 sent in window 1 only: its net debit is 0 and its cap stays. */
    assert_cap(f, K1, 9000, 0);
    assert_cap(f, K3, 500, 0);
    assert_int_equal(ortak_netting_cap(fx_net(f), 999, &(int64_t){0}, &(ortak_i128){0}), ORTAK_ACCOUNT_NOT_FOUND);
    /* The other currencies are still at window 1. */
    assert_open_window(f, AZN, 1, 0, 0, 0, 0);
    assert_int_equal(ortak_netting_window(fx_net(f), "AZN", 1, &w), ORTAK_OK);
}

/* A window with nothing in it closes on command: a summary of zeros, and the next window opens. */
static void test_close_empty(void **state) {
    struct fx *f = *state;
    ortak_time_ns at = fx_t(f);
    struct ortak_result r = fx_apply(f, close_cmd(at, "AZN"));
    assert_int_equal(r.rc, ORTAK_OK);
    assert_int_equal(r.flags, 0);
    assert_int_equal(r.fail_index, UINT32_MAX);
    assert_events(f, EV_WINDOW(944, 1, 0, 0, 0));
    assert_events_at(f, 0, at);
    assert_window(f, AZN, 1, 1, ORTAK_WINDOW_SETTLED, 0, at, 0, 0, 0, 0);
    assert_no_positions(f, AZN, 1);
    assert_open_window(f, AZN, 2, at, 0, 0, 0);
    /* Twice in one batch: windows 2 and 3; other currencies untouched. */
    ortak_time_ns t = fx_t(f);
    struct ortak_cmd cmds[2] = {close_cmd(t, "AZN"), close_cmd(t, "AZN")};
    struct ortak_result rs[2];
    assert_int_equal(ortak_engine_apply(f->e, cmds, 2, rs), ORTAK_OK);
    assert_int_equal(rs[0].rc, ORTAK_OK);
    assert_int_equal(rs[1].rc, ORTAK_OK);
    assert_events(f, EV_WINDOW(944, 2, 0, 0, 0), EV_WINDOW(944, 3, 0, 0, 0));
    assert_open_window(f, AZN, 4, t, 0, 0, 0);
    assert_window(f, AZN, 3, 3, ORTAK_WINDOW_SETTLED, t, t, 0, 0, 0, 0);
    assert_open_window(f, KZT, 1, 0, 0, 0, 0);
    assert_balance(f, Z1, 0);
}

/* The refusals of NET_CAP_SET, each with its code; nothing changes and no event is written. */
static void test_cap_refusals(void **state) {
    struct fx *f = *state;
    fx_fund(f, KZT, KC1, 100000);
    assert_int_equal(fx_rc(f, cap_cmd(fx_t(f), K1, 100001)), ORTAK_NET_CAP_ABOVE_COLLATERAL);
    assert_no_events(f);
    assert_int_equal(fx_rc(f, cap_cmd(fx_t(f), K1, -1)), ORTAK_NEGATIVE_AMOUNT);
    assert_int_equal(fx_rc(f, cap_cmd(fx_t(f), K1, INT64_MIN)), ORTAK_NEGATIVE_AMOUNT);
    assert_int_equal(fx_rc(f, cap_cmd(fx_t(f), KC1, 100)), ORTAK_KIND_NOT_ALLOWED);
    assert_int_equal(fx_rc(f, cap_cmd(fx_t(f), KC1, -1)), ORTAK_KIND_NOT_ALLOWED); /* the kind is checked first */
    assert_int_equal(fx_rc(f, cap_cmd(fx_t(f), ISS(KZT), 100)), ORTAK_KIND_NOT_ALLOWED);
    assert_int_equal(fx_rc(f, cap_cmd(fx_t(f), 999, 100)), ORTAK_ACCOUNT_NOT_FOUND);
    assert_int_equal(fx_rc(f, cap_cmd(fx_t(f), 0, 100)), ORTAK_ACCOUNT_ID_INVALID);
    assert_no_events(f);
    assert_reserved(f, KC1, 0);
    /* Exactly the collateral is allowed. */
    fx_cap(f, K1, 100000);
    assert_events(f, EV_CAP(K1, 100000, 0));
    /* Without a collateral account (bank 4) or with an empty one (bank 3), only 0. */
    assert_int_equal(fx_rc(f, cap_cmd(fx_t(f), K4, 1)), ORTAK_NET_CAP_ABOVE_COLLATERAL);
    assert_int_equal(fx_rc(f, cap_cmd(fx_t(f), K3, 1)), ORTAK_NET_CAP_ABOVE_COLLATERAL);
    fx_cap(f, K4, 0);
    assert_events(f, EV_CAP(K4, 0, 0));
    assert_cap(f, K4, 0, 0);
    /* Collateral held is the posted balance less pending debits: a hold on 300.00 of the free part... */
    fx_cap(f, K1, 60000);
    assert_events(f, EV_CAP(K1, 60000, 100000));
    fx_ok(f, tu_pending(fx_t(f), 60, KC1, K1, 30000, 0));
    assert_int_equal(fx_rc(f, cap_cmd(fx_t(f), K1, 70001)), ORTAK_NET_CAP_ABOVE_COLLATERAL);
    fx_cap(f, K1, 70000);
    /* ...and, the other way, the pledge leaves nothing free for another hold. */
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), 61, KC1, K1, 1, 0)), ORTAK_INSUFFICIENT_FUNDS);
    fx_ok(f, tu_resolve(fx_t(f), 62, 60, 0, ORTAK_TRANSFER_POST_PENDING));
    assert_balance(f, KC1, 70000);
    assert_cap(f, K1, 70000, 0);
    /* Lowering a cap below the open window's net debit is refused; to it exactly is allowed. */
    net_ok(f, 1, K1, K2, 40000);
    net_ok(f, 2, K2, K1, 5000);
    assert_int_equal(fx_rc(f, cap_cmd(fx_t(f), K1, 34999)), ORTAK_NET_CAP_IN_USE);
    assert_no_events(f);
    fx_cap(f, K1, 35000);
    assert_events(f, EV_CAP(K1, 35000, 70000));
    assert_cap(f, K1, 35000, 35000);
    assert_reserved(f, KC1, 35000);
    /* A creditor's cap can go to 0 while it is owed. */
    fx_cap(f, K2, 0);
    assert_cap(f, K2, 0, 0);
}

/* A payment refused and recorded: its result, its REJECTED event and its state. */
static void check_refused_cmd(struct fx *f, struct ortak_cmd c, ortak_rc rc, const char *file, int line) {
    struct ortak_result r = tu_apply1(f->e, &c);
    const struct ortak_payment *p = &c.u.payment;
    struct xev want = EV_REJECTED(p->id, p->debit_account_id, p->credit_account_id, (int64_t)p->amount, rc);
    if (r.rc != (uint32_t)rc || r.flags != 0) {
        print_error("payment %llu: rc %s flags %u, expected %s\n", (unsigned long long)p->id,
                    ortak_rc_name((ortak_rc)r.rc), r.flags, ortak_rc_name(rc));
        _fail(file, line);
    }
    check_engine_events(f->e, &want, 1, file, line);
    check_payment(f, p->id, ORTAK_PAYMENT_REJECTED, rc, 0, c.timestamp, file, line);
}
#define assert_refused_cmd(f, c, rc) check_refused_cmd(f, c, rc, __FILE__, __LINE__)

/* Replays command `c` at the next timestamp: its first outcome, flagged, and nothing else. */
static void check_replay(struct fx *f, struct ortak_cmd c, ortak_rc rc, const char *file, int line) {
    c.timestamp = fx_t(f);
    struct ortak_result r = tu_apply1(f->e, &c);
    if (r.rc != (uint32_t)rc || r.flags != ORTAK_RESULT_REPLAYED) {
        print_error("replay: rc %s flags %u, expected %s replayed\n", ortak_rc_name((ortak_rc)r.rc), r.flags,
                    ortak_rc_name(rc));
        _fail(file, line);
    }
    check_engine_events(f->e, NULL, 0, file, line);
}
#define assert_replay(f, c, rc) check_replay(f, c, rc, __FILE__, __LINE__)

/* The refusals of a net payment, each with its code, recorded as rejected payments; replays give the same. */
static void test_payment_refusals(void **state) {
    struct fx *f = *state;
    fx_fund(f, KZT, KC1, 50000);
    fx_cap(f, K1, 50000);
    struct ortak_cmd over = net_pay(fx_t(f), 1, K1, K2, 50001);
    assert_refused_cmd(f, over, ORTAK_NET_CAP_EXCEEDED);
    assert_replay(f, over, ORTAK_NET_CAP_EXCEEDED);
    /* Not normal, or with a latest time; a method that is neither gross nor net. */
    struct ortak_cmd c = net_pay(fx_t(f), 2, K1, K2, 100);
    c.u.payment.priority = URG;
    assert_refused_cmd(f, c, ORTAK_METHOD_INVALID);
    c = net_pay(fx_t(f), 3, K1, K2, 100);
    c.u.payment.priority = ORTAK_PRIORITY_HIGHLY_URGENT;
    assert_refused_cmd(f, c, ORTAK_METHOD_INVALID);
    c = tu_latest(net_pay(fx_t(f), 4, K1, K2, 100), f->now + MIN);
    assert_refused_cmd(f, c, ORTAK_METHOD_INVALID);
    c = net_pay(fx_t(f), 5, K1, K2, 100);
    c.u.payment.method = 2;
    assert_refused_cmd(f, c, ORTAK_METHOD_INVALID);
    c.u.payment.method = 255;
    c.u.payment.id = 6;
    c.timestamp = fx_t(f);
    assert_refused_cmd(f, c, ORTAK_METHOD_INVALID);
    /* A priority outside the table is refused as such, before the method. */
    c = net_pay(fx_t(f), 7, K1, K2, 100);
    c.u.payment.priority = 3;
    assert_refused_cmd(f, c, ORTAK_PRIORITY_INVALID);
    /* The checks every payment goes through. */
    assert_refused_cmd(f, net_pay(fx_t(f), 8, K1, K2, 0), ORTAK_AMOUNT_ZERO);
    assert_refused_cmd(f, net_pay(fx_t(f), 9, K1, KC2, 100), ORTAK_KIND_NOT_ALLOWED);
    assert_refused_cmd(f, net_pay(fx_t(f), 10, KC1, K2, 100), ORTAK_KIND_NOT_ALLOWED);
    assert_refused_cmd(f, net_pay(fx_t(f), 11, K1, Z1, 100), ORTAK_CURRENCY_MISMATCH);
    assert_refused_cmd(f, net_pay(fx_t(f), 12, K1, K1, 100), ORTAK_SAME_ACCOUNT);
    assert_refused_cmd(f, net_pay(fx_t(f), 13, K1, 999, 100), ORTAK_ACCOUNT_NOT_FOUND);
    /* Ids in the system's space are refused and not recorded, for net and gross payments alike. */
    ortak_u128 sys = XID(KZT, 1, 0);
    assert_int_equal(fx_rc(f, net_pay(fx_t(f), sys, K1, K2, 100)), ORTAK_PAYMENT_ID_INVALID);
    assert_int_equal(fx_rc(f, tu_payment(fx_t(f), (ortak_u128)0xffff << 112, K1, K2, 100, NORM)),
                     ORTAK_PAYMENT_ID_INVALID);
    assert_no_events(f);
    struct ortak_payment_info info;
    assert_int_equal(ortak_settle_payment_get(fx_settle(f), sys, &info), ORTAK_PAYMENT_NOT_FOUND);
    /* Just below the system's space is a client's id. */
    ortak_u128 high = ((ortak_u128)0xfffe << 112) | 1;
    net_ok(f, high, K1, K2, 100);
    assert_accepted(f, high, 1);
    /* Nothing of this touched the window but the accepted payment. */
    assert_open_window(f, KZT, 1, 0, 1, 2, 100);
    assert_cap(f, K1, 50000, 100);
    /* Raising the cap does not change a recorded refusal; a different payment with its id is a different one. */
    fx_fund(f, KZT, KC1, 10000);
    fx_cap(f, K1, 60000);
    assert_replay(f, over, ORTAK_NET_CAP_EXCEEDED);
    struct ortak_cmd other = net_pay(fx_t(f), 1, K1, K2, 100);
    assert_int_equal(fx_rc(f, other), ORTAK_PAYMENT_EXISTS_DIFFERENT);
    /* A net payment accepted replays as accepted, without events. */
    struct ortak_cmd good = net_pay(fx_t(f), 20, K1, K3, 59900);
    fx_ok(f, good);
    assert_replay(f, good, ORTAK_OK);
    assert_cap(f, K1, 60000, 60000);
    assert_open_window(f, KZT, 1, 0, 2, 3, 60000);
    /* An accepted payment cannot be cancelled, reprioritised or moved; its id is not a transfer's. */
    assert_int_equal(fx_rc(f, tu_cancel(fx_t(f), 20)), ORTAK_PAYMENT_NOT_QUEUED);
    assert_int_equal(fx_rc(f, tu_priority(fx_t(f), 20, URG)), ORTAK_PAYMENT_NOT_QUEUED);
    assert_int_equal(fx_rc(f, tu_move(fx_t(f), 20, 1)), ORTAK_PAYMENT_NOT_QUEUED);
    assert_int_equal(fx_rc(f, tu_transfer(fx_t(f), 20, ISS(KZT), K3, 1, 0)), ORTAK_TRANSFER_EXISTS_DIFFERENT);
    assert_accepted(f, 20, 1);
}

/* Collateral can be topped up and withdrawn above the pledge, never from it; system ids are not for clients. */
static void test_collateral_and_ids(void **state) {
    struct fx *f = *state;
    fx_fund(f, KZT, K1, 20000);
    fx_fund(f, KZT, KC1, 50000);
    fx_cap(f, K1, 30000);
    /* USE_RESERVED on a collateral debit is refused, even within the free part and with no cap at all. */
    assert_int_equal(fx_rc(f, tu_transfer(fx_t(f), 40, KC1, K1, 1, ORTAK_TRANSFER_USE_RESERVED)), ORTAK_FLAGS_INVALID);
    assert_int_equal(
        fx_rc(f, tu_transfer(fx_t(f), 41, KC1, K1, 1, ORTAK_TRANSFER_USE_RESERVED | ORTAK_TRANSFER_PENDING)),
        ORTAK_FLAGS_INVALID);
    fx_fund(f, KZT, KC2, 100);
    assert_int_equal(fx_rc(f, tu_transfer(fx_t(f), 42, KC2, K2, 1, ORTAK_TRANSFER_USE_RESERVED)), ORTAK_FLAGS_INVALID);
    /* A plain withdrawal beyond what the cap leaves free; exactly the free part; a top-up from the bank itself. */
    assert_int_equal(fx_rc(f, tu_transfer(fx_t(f), 43, KC1, K1, 20001, 0)), ORTAK_INSUFFICIENT_FUNDS);
    fx_ok(f, tu_transfer(fx_t(f), 44, KC1, K1, 20000, 0));
    assert_balance(f, KC1, 30000);
    assert_int_equal(fx_rc(f, tu_transfer(fx_t(f), 45, KC1, K1, 1, 0)), ORTAK_INSUFFICIENT_FUNDS);
    fx_ok(f, tu_transfer(fx_t(f), 46, K1, KC1, 15000, 0));
    assert_balance(f, K1, 25000);
    assert_balance(f, KC1, 45000);
    assert_reserved(f, KC1, 30000);
    assert_int_equal(tu_account_info(f->e, KC1).available, 15000);
    /* Those refusals were recorded as transfers, unlike the refusals of ids below. */
    struct ortak_transfer_info t;
    assert_int_equal(ortak_ledger_transfer_get(fx_ledger(f), 40, &t), ORTAK_OK);
    assert_int_equal(t.rc, ORTAK_FLAGS_INVALID);
    /* Transfer ids in the system's space: refused, not recorded. */
    ortak_u128 sys = XID(KZT, 1, 0);
    assert_int_equal(fx_rc(f, tu_transfer(fx_t(f), sys, ISS(KZT), K1, 1, 0)), ORTAK_TRANSFER_ID_INVALID);
    assert_int_equal(fx_rc(f, tu_transfer(fx_t(f), ORTAK_U128_MAX - 1, ISS(KZT), K1, 1, 0)), ORTAK_TRANSFER_ID_INVALID);
    assert_no_transfer(f, sys);
    fx_ok(f, tu_transfer(fx_t(f), ((ortak_u128)0xfffe << 112) | 7, ISS(KZT), K1, 1, 0));
    /* After a close books the system's transfer, a client still cannot use (or replay) its id. */
    net_ok(f, 1, K1, K2, 100);
    fx_ok(f, close_cmd(fx_t(f), "KZT"));
    assert_close_transfer(f, sys, K1, K2, 100, 0, 1, f->now);
    struct ortak_cmd replay = tu_transfer(fx_t(f), sys, K1, K2, 100, 0);
    replay.u.transfer.user_data = 1;
    replay.u.transfer.code = 2;
    assert_int_equal(fx_rc(f, replay), ORTAK_TRANSFER_ID_INVALID);
    /* Pending transfers may not take the system's ids either, nor post one. */
    assert_int_equal(fx_rc(f, tu_pending(fx_t(f), sys + 1, K1, K2, 1, 0)), ORTAK_TRANSFER_ID_INVALID);
    assert_int_equal(fx_rc(f, tu_resolve(fx_t(f), 47, sys, 0, ORTAK_TRANSFER_POST_PENDING)), ORTAK_PENDING_ID_INVALID);
}

/* NET_CLOSE of a currency the system does not settle, or not a terminated code. */
static void test_close_refusals(void **state) {
    struct fx *f = *state;
    assert_int_equal(fx_rc(f, close_cmd(fx_t(f), "XXX")), ORTAK_CURRENCY_UNKNOWN);
    assert_int_equal(fx_rc(f, close_cmd(fx_t(f), "")), ORTAK_CURRENCY_UNKNOWN);
    assert_int_equal(fx_rc(f, close_cmd(fx_t(f), "kzt")), ORTAK_CURRENCY_UNKNOWN);
    assert_int_equal(fx_rc(f, close_cmd(fx_t(f), "KZ")), ORTAK_CURRENCY_UNKNOWN);
    struct ortak_cmd c = close_cmd(fx_t(f), "KZT");
    memcpy(c.u.net_close.currency, "KZTX", 4); /* no terminator */
    assert_int_equal(fx_rc(f, c), ORTAK_CURRENCY_UNKNOWN);
    assert_no_events(f);
    assert_open_window(f, KZT, 1, 0, 0, 0, 0);
    /* A configured currency without any account closes like any other. */
    fx_ok(f, close_cmd(fx_t(f), "KGS"));
    assert_events(f, EV_WINDOW(417, 1, 0, 0, 0));
}

/* After the normal cut-off new net payments are refused (NET_WINDOW_CLOSED); those accepted still settle. */
static void test_cutoff(void **state) {
    struct fx *f = *state;
    fx_fund(f, KZT, K1, 10000);
    fx_fund(f, KZT, KC1, 50000);
    fx_cap(f, K1, 50000);
    net_ok(f, 1, K1, K2, 10000);
    fx_ok(f, tu_cutoff(fx_t(f), 1u << NORM, 0));
    assert_events(f, {ORTAK_EV_CUTOFF, 0, 0, 1u << NORM, 0, 0, 0, 0});
    assert_accepted(f, 1, 1);
    assert_refused_cmd(f, net_pay(fx_t(f), 2, K1, K2, 100), ORTAK_NET_WINDOW_CLOSED);
    assert_refused_cmd(f, tu_payment(fx_t(f), 3, K1, K2, 100, NORM), ORTAK_CUTOFF_PASSED);
    /* The method's own rules are checked first. */
    struct ortak_cmd c = net_pay(fx_t(f), 4, K1, K2, 100);
    c.u.payment.priority = URG;
    assert_refused_cmd(f, c, ORTAK_METHOD_INVALID);
    assert_string_equal(ortak_rc_iso_reason(ORTAK_NET_WINDOW_CLOSED), "TM01");
    assert_string_equal(ortak_rc_iso_reason(ORTAK_NET_CAP_EXCEEDED), "AM14");
    /* The close after the cut-off settles what was accepted before it. */
    ortak_time_ns at = fx_t(f);
    fx_ok(f, close_cmd(at, "KZT"));
    assert_events(f, EV_POSTED(XID(KZT, 1, 0), K1, K2, 10000), EV_SETTLED(1, K1, K2, 10000), EV_POS(K1, 10000, 0, 0, 1),
                  EV_POS(K2, 0, 10000, 0, 1), EV_WINDOW(398, 1, 1, 2, 10000));
    assert_net_settled(f, 1, 1, at);
    /* Reopened for a new day: net payments are accepted again, into window 2. */
    fx_ok(f, tu_cutoff(fx_t(f), 1u << NORM, 1));
    net_ok(f, 5, K1, K2, 100);
    assert_events(f, EV_ACCEPTED(5, K1, K2, 100, 2));
}

/* ---- 3. periodic windows ----------------------------------------------------------------------------------- */

/*
 * Periodic windows (KZT every 60 s; AZN on command only). The close happens when engine time crosses a multiple of
 * 60 s, before the command that carries the new time is applied: a payment 1 ns before the boundary is in the old
 * window, one at the boundary in the new. A window with no payments does not close on its own.
 */
static void test_periodic(void **state) {
    struct fx *f = *state;
    fx_fund(f, KZT, K1, 100000);
    fx_fund(f, KZT, KC1, 1000);
    fx_cap(f, K1, 1000);
    fx_fund(f, KZT, K2, 100);
    fx_fund(f, KZT, KC2, 100);
    fx_cap(f, K2, 100);
    fx_fund(f, AZN, ZC1, 1000);
    fx_cap(f, Z1, 1000);
    /* Engine time crosses T0 + 60 s and T0 + 120 s with nothing in the window: still window 1. */
    assert_true(f->now < T0 + 2 * MIN);
    fx_ok(f, tu_tick(T0 + 2 * MIN));
    assert_no_events(f);
    assert_open_window(f, KZT, 1, 0, 0, 0, 0);
    const ortak_time_ns b = T0 + 5 * MIN;
    f->now = b;
    fx_ok(f, net_pay(b + 10 * SEC, 1, K1, K2, 100));
    fx_ok(f, net_pay(b + 20 * SEC, 2, Z1, Z2, 50));
    fx_ok(f, tu_tick(b + MIN - 1));
    assert_no_events(f);
    fx_ok(f, net_pay(b + MIN - 1, 3, K1, K3, 200));
    assert_events(f, EV_ACCEPTED(3, K1, K3, 200, 1));
    /* At the boundary: window 1 closes first, then payment 4 enters window 2. AZN's window stays open. */
    fx_ok(f, net_pay(b + MIN, 4, K1, K2, 300));
    assert_events(f, EV_POSTED(XID(KZT, 1, 0), K1, K2, 100), EV_POSTED(XID(KZT, 1, 1), K1, K3, 200),
                  EV_SETTLED(1, K1, K2, 100), EV_SETTLED(3, K1, K3, 200), EV_POS(K1, 300, 0, 0, 1),
                  EV_POS(K2, 0, 100, 0, 1), EV_POS(K3, 0, 200, 0, 1), EV_WINDOW(398, 1, 2, 3, 300),
                  EV_ACCEPTED(4, K1, K2, 300, 2));
    assert_events_at(f, 0, b + MIN);
    assert_window(f, KZT, 1, 1, ORTAK_WINDOW_SETTLED, 0, b + MIN, 2, 3, 300, 300);
    assert_open_window(f, KZT, 2, b + MIN, 1, 2, 300);
    assert_net_settled(f, 3, 1, b + MIN);
    assert_accepted(f, 4, 2);
    assert_accepted(f, 2, 1);
    assert_open_window(f, AZN, 1, 0, 1, 2, 50);
    /* Not before the next boundary; at it, on a tick. */
    fx_ok(f, tu_tick(b + 2 * MIN - 1));
    assert_no_events(f);
    fx_ok(f, tu_tick(b + 2 * MIN));
    assert_events(f, EV_POSTED(XID(KZT, 2, 0), K1, K2, 300), EV_SETTLED(4, K1, K2, 300), EV_POS(K1, 300, 0, 0, 2),
                  EV_POS(K2, 0, 300, 0, 2), EV_WINDOW(398, 2, 1, 2, 300));
    assert_events_at(f, 0, b + 2 * MIN);
    assert_net_settled(f, 4, 2, b + 2 * MIN);
    /* Window 3 stays empty across a boundary: no close. */
    fx_ok(f, tu_tick(b + 3 * MIN));
    assert_no_events(f);
    assert_open_window(f, KZT, 3, b + 2 * MIN, 0, 0, 0);
    fx_ok(f, net_pay(b + 3 * MIN + 20 * SEC, 5, K2, K1, 50));
    assert_events(f, EV_ACCEPTED(5, K2, K1, 50, 3));
    /* A jump over several boundaries closes it once. */
    fx_ok(f, tu_tick(b + 10 * MIN));
    assert_events(f, EV_POSTED(XID(KZT, 3, 0), K2, K1, 50), EV_SETTLED(5, K2, K1, 50), EV_POS(K1, 0, 50, 0, 3),
                  EV_POS(K2, 50, 0, 0, 3), EV_WINDOW(398, 3, 1, 2, 50));
    assert_open_window(f, KZT, 4, b + 10 * MIN, 0, 0, 0);
    /* Within one batch the close carries the index of the command whose time crossed the boundary. */
    struct ortak_cmd cmds[3] = {net_pay(b + 10 * MIN + 30 * SEC, 6, K1, K2, 10), net_pay(b + 11 * MIN, 7, K1, K2, 20),
                                net_pay(b + 11 * MIN, 8, K1, K3, 30)};
    struct ortak_result rs[3];
    assert_int_equal(ortak_engine_apply(f->e, cmds, 3, rs), ORTAK_OK);
    for (int i = 0; i < 3; i++) assert_int_equal(rs[i].rc, ORTAK_OK);
    assert_events(f, EV_ACCEPTED(6, K1, K2, 10, 4), EV_POSTED(XID(KZT, 4, 0), K1, K2, 10), EV_SETTLED(6, K1, K2, 10),
                  EV_POS(K1, 10, 0, 0, 4), EV_POS(K2, 0, 10, 0, 4), EV_WINDOW(398, 4, 1, 2, 10),
                  EV_ACCEPTED(7, K1, K2, 20, 5), EV_ACCEPTED(8, K1, K3, 30, 5));
    uint32_t n;
    const struct ortak_event *ev = ortak_engine_events(f->e, &n);
    assert_int_equal(ev[0].command_index, 0);
    for (uint32_t i = 1; i < 7; i++) assert_int_equal(ev[i].command_index, 1);
    assert_int_equal(ev[7].command_index, 2);
    /* The operator may still close early; the periodic schedule goes on from engine time alone. */
    fx_ok(f, close_cmd(b + 11 * MIN + 5 * SEC, "KZT"));
    assert_open_window(f, KZT, 6, b + 11 * MIN + 5 * SEC, 0, 0, 0);
    fx_ok(f, net_pay(b + 11 * MIN + 6 * SEC, 9, K1, K2, 40));
    fx_ok(f, tu_tick(b + 12 * MIN));
    assert_events(f, EV_POSTED(XID(KZT, 6, 0), K1, K2, 40), EV_SETTLED(9, K1, K2, 40), EV_POS(K1, 40, 0, 0, 6),
                  EV_POS(K2, 0, 40, 0, 6), EV_WINDOW(398, 6, 1, 2, 40));
    /* AZN closed none of this on its own. */
    assert_open_window(f, AZN, 1, 0, 1, 2, 50);
}

/* A linked chain carries time across a boundary: the window closes right after the chain, at the chain's time. */
static void test_periodic_after_chain(void **state) {
    struct fx *f = *state;
    fx_fund(f, KZT, K1, 100000);
    fx_fund(f, KZT, KC1, 1000);
    fx_cap(f, K1, 1000);
    const ortak_time_ns b = T0 + 5 * MIN;
    fx_ok(f, net_pay(b - 10 * SEC, 1, K1, K2, 100));
    struct ortak_cmd chain[2] = {tu_linked(tu_transfer(b - SEC, 50, K1, K3, 1000, 0)),
                                 tu_transfer(b + SEC, 51, K1, K3, 2000, 0)};
    struct ortak_result rs[2];
    assert_int_equal(ortak_engine_apply(f->e, chain, 2, rs), ORTAK_OK);
    assert_int_equal(rs[0].rc, ORTAK_OK);
    assert_int_equal(rs[1].rc, ORTAK_OK);
    assert_events(f, EV_POSTED(50, K1, K3, 1000), EV_POSTED(51, K1, K3, 2000), EV_POSTED(XID(KZT, 1, 0), K1, K2, 100),
                  EV_SETTLED(1, K1, K2, 100), EV_POS(K1, 100, 0, 0, 1), EV_POS(K2, 0, 100, 0, 1),
                  EV_WINDOW(398, 1, 1, 2, 100));
    uint32_t n;
    const struct ortak_event *ev = ortak_engine_events(f->e, &n);
    for (uint32_t i = 2; i < n; i++) {
        assert_int_equal(ev[i].command_index, 1);
        assert_int_equal(ev[i].timestamp, b + SEC);
    }
    assert_net_settled(f, 1, 1, b + SEC);
    assert_balance(f, K1, 100000 - 3100);
}

/* ---- 4. suspended participants, and closes that cannot book ------------------------------------------------ */

#define EV_STATUS(bic_key, st) \
    { ORTAK_EV_PARTICIPANT_STATUS, (bic_key), 0, (st), 0, 0, 0, 0 }

/* A participant event's id: its BIC's 11 bytes, a BIC8 completed with XXX, the first byte the highest. */
static ortak_u128 bic_id(const char *bic) {
    ortak_u128 id = 0;
    size_t len = strnlen(bic, 11);
    for (size_t k = 0; k < 11; k++) id = id << 8 | (unsigned char)(k < len ? bic[k] : 'X');
    return id;
}

/*
 * Suspended participants: new net payments from or to them are refused, but what was accepted settles at the
 * close, debtor and creditor alike (the close waives participant status).
 */
static void test_suspended(void **state) {
    struct fx *f = *state;
    const char *bank1 = bank_bic[KZT][0], *bank3 = bank_bic[KZT][2];
    fx_fund(f, KZT, KC1, 30000);
    fx_cap(f, K1, 30000);
    net_ok(f, 1, K1, K2, 20000);
    net_ok(f, 2, K2, K3, 4000);
    net_ok(f, 3, K3, K1, 1000);
    fx_ok(f, tu_status(fx_t(f), bank1, ORTAK_PARTICIPANT_SUSPENDED));
    assert_events(f, EV_STATUS(bic_id(bank1), ORTAK_PARTICIPANT_SUSPENDED));
    fx_ok(f, tu_status(fx_t(f), bank3, ORTAK_PARTICIPANT_SUSPENDED));
    assert_refused_cmd(f, net_pay(fx_t(f), 4, K1, K2, 100), ORTAK_PARTICIPANT_NOT_ACTIVE);
    assert_refused_cmd(f, net_pay(fx_t(f), 5, K2, K1, 100), ORTAK_PARTICIPANT_NOT_ACTIVE);
    assert_refused_cmd(f, net_pay(fx_t(f), 6, K2, K3, 100), ORTAK_PARTICIPANT_NOT_ACTIVE);
    assert_accepted(f, 1, 1);
    assert_cap(f, K1, 30000, 19000);
    ortak_time_ns at = fx_t(f);
    fx_ok(f, close_cmd(at, "KZT"));
    assert_events(f, EV_POSTED(XID(KZT, 1, 0), KC1, K2, 16000), EV_POSTED(XID(KZT, 1, 1), KC1, K3, 3000),
                  EV_CAP(K1, 11000, 30000), EV_SETTLED(1, K1, K2, 20000), EV_SETTLED(2, K2, K3, 4000),
                  EV_SETTLED(3, K3, K1, 1000), EV_POS(K1, 20000, 1000, 19000, 1), EV_POS(K2, 4000, 20000, 0, 1),
                  EV_POS(K3, 1000, 4000, 0, 1), EV_WINDOW(398, 1, 3, 3, 19000));
    assert_balance(f, KC1, 11000);
    assert_balance(f, K2, 16000);
    assert_balance(f, K3, 3000);
    assert_net_settled(f, 3, 1, at);
    /* Still suspended: still refused. Reactivated: accepted. */
    assert_refused_cmd(f, net_pay(fx_t(f), 7, K1, K2, 100), ORTAK_PARTICIPANT_NOT_ACTIVE);
    fx_ok(f, tu_status(fx_t(f), bank1, ORTAK_PARTICIPANT_ACTIVE));
    net_ok(f, 8, K1, K2, 100);
    assert_events(f, EV_ACCEPTED(8, K1, K2, 100, 2));
}

/*
 * An account with a position in an open window cannot be closed (ACCOUNT_NOT_EMPTY) until the window's close
 * settles it: a creditor must be able to receive, and the guarantee must hold. A debtor whose settlement account is
 * empty pays all from its collateral.
 */
static void test_account_close_in_open_window(void **state) {
    struct fx *f = *state;
    fx_fund(f, KZT, KC3, 1000);
    fx_cap(f, K3, 1000);
    net_ok(f, 1, K3, K2, 500);
    assert_int_equal(fx_rc(f, tu_account_amount(fx_t(f), ORTAK_CMD_ACCOUNT_CLOSE, K2, 0)), ORTAK_ACCOUNT_NOT_EMPTY);
    assert_int_equal(fx_rc(f, tu_account_amount(fx_t(f), ORTAK_CMD_ACCOUNT_CLOSE, K3, 0)), ORTAK_ACCOUNT_NOT_EMPTY);
    /* Its collateral account holds a pledge: that one cannot be closed either. */
    assert_int_equal(fx_rc(f, tu_account_amount(fx_t(f), ORTAK_CMD_ACCOUNT_CLOSE, KC3, 0)), ORTAK_ACCOUNT_NOT_EMPTY);
    ortak_time_ns at = fx_t(f);
    assert_int_equal(fx_rc(f, close_cmd(at, "KZT")), ORTAK_OK);
    assert_events(f, EV_POSTED(XID(KZT, 1, 0), KC3, K2, 500), EV_CAP(K3, 500, 1000), EV_SETTLED(1, K3, K2, 500),
                  EV_POS(K2, 0, 500, 0, 1), EV_POS(K3, 500, 0, 500, 1), EV_WINDOW(398, 1, 1, 2, 500));
    assert_net_settled(f, 1, 1, at);
    /* Settled, the empty settlement account may close. */
    fx_ok(f, tu_account_amount(fx_t(f), ORTAK_CMD_ACCOUNT_CLOSE, K3, 0));
}

/* Room for one more transfer: the transfer table cannot hold a close that needs two. */
static int setup_few_transfers(void **state) {
    struct ortak_config cfg = fx_config(0);
    cfg.limits.transfers_max = 3;
    return setup_with(state, cfg);
}

/* A close that needs more transfers than the table has room for books nothing (NET_WINDOW_UNSETTLED). */
static void test_unsettled_transfers_full(void **state) {
    struct fx *f = *state;
    fx_fund(f, KZT, K1, 5000);
    fx_fund(f, KZT, KC1, 1000);
    fx_cap(f, K1, 1000);
    net_ok(f, 1, K1, K2, 100);
    net_ok(f, 2, K1, K3, 100);
    /* One source, two sinks: two transfers, one place. */
    assert_int_equal(fx_rc(f, close_cmd(fx_t(f), "KZT")), ORTAK_NET_WINDOW_UNSETTLED);
    assert_events(f, EV_UNSETTLED(398));
    assert_int_equal(ortak_ledger_transfer_count(fx_ledger(f)), 2);
    assert_accepted(f, 1, 1);
    assert_accepted(f, 2, 1);
    assert_open_window(f, KZT, 1, 0, 2, 3, 200);
    /* With the table full, a net payment is refused as for any transfer, and not recorded (a retry may pass). */
    fx_fund(f, AZN, Z1, 1);
    assert_int_equal(fx_rc(f, net_pay(fx_t(f), 3, K1, K2, 100)), ORTAK_TRANSFERS_FULL);
    assert_no_events(f);
    struct ortak_payment_info info;
    assert_int_equal(ortak_settle_payment_get(fx_settle(f), 3, &info), ORTAK_PAYMENT_NOT_FOUND);
}

/* A close books at most sources + sinks - 1 transfers: one debtor paying one creditor fits in room for one. */
static void test_close_fits_sources_plus_sinks_minus_one(void **state) {
    struct fx *f = *state;
    fx_fund(f, KZT, K1, 5000);
    fx_fund(f, KZT, KC1, 1000);
    fx_cap(f, K1, 1000);
    net_ok(f, 1, K1, K2, 100);
    assert_int_equal(ortak_ledger_transfer_count(fx_ledger(f)), 2); /* room for exactly one more */
    ortak_time_ns at = fx_t(f);
    assert_int_equal(fx_rc(f, close_cmd(at, "KZT")), ORTAK_OK);
    assert_events(f, EV_POSTED(XID(KZT, 1, 0), K1, K2, 100), EV_SETTLED(1, K1, K2, 100), EV_POS(K1, 100, 0, 0, 1),
                  EV_POS(K2, 0, 100, 0, 1), EV_WINDOW(398, 1, 1, 2, 100));
    assert_net_settled(f, 1, 1, at);
}

/* ---- 5. gross and net together ----------------------------------------------------------------------------- */

/*
 * Gross and net side by side. Net acceptance moves no liquidity: it neither releases nor blocks gross queues, and a
 * payer's settlement liquidity stays free for gross payments (its cap rests on collateral). A close that credits a
 * payer with queued gross payments releases them, FIFO, right after the close. A debtor's own reservation stays for
 * its urgent payments: the close takes only what is above it.
 */
static void test_gross_and_net(void **state) {
    struct fx *f = *state;
    fx_fund(f, KZT, K1, 10000);
    fx_fund(f, KZT, KC1, 20000);
    fx_cap(f, K1, 20000);
    /* Bank 2 has nothing: its gross payments queue. */
    struct ortak_result r = fx_apply(f, tu_payment(fx_t(f), 101, K2, K3, 4000, NORM));
    assert_int_equal(r.rc, ORTAK_OK);
    assert_int_equal(r.flags, ORTAK_RESULT_QUEUED);
    assert_events(f, EV_QUEUED(101, K2, K3, 4000, NORM));
    r = fx_apply(f, tu_payment(fx_t(f), 102, K2, K1, 3000, NORM));
    assert_int_equal(r.flags, ORTAK_RESULT_QUEUED);
    /* Net payments to and from bank 2: accepted, nothing released, nothing moved. */
    net_ok(f, 1, K1, K2, 8000);
    assert_events(f, EV_ACCEPTED(1, K1, K2, 8000, 1));
    net_ok(f, 2, K2, K3, 1000);
    assert_events(f, EV_ACCEPTED(2, K2, K3, 1000, 1));
    ortak_u128 ids[4];
    uint32_t n;
    struct ortak_queue_info qi;
    assert_int_equal(ortak_settle_queue(fx_settle(f), K2, ids, 4, &n, &qi), ORTAK_OK);
    assert_int_equal(n, 2);
    assert_true(ids[0] == 101 && ids[1] == 102 && qi.value[NORM] == 7000);
    assert_balance(f, K1, 10000);
    assert_balance(f, K2, 0);
    /* Bank 1 spends most of its settlement liquidity gross, at once, and reserves 5.00 of the rest. */
    r = fx_apply(f, tu_payment(fx_t(f), 103, K1, K3, 9000, URG));
    assert_int_equal(r.rc, ORTAK_OK);
    assert_int_equal(r.flags, 0);
    assert_events(f, EV_POSTED(103, K1, K3, 9000), EV_SETTLED(103, K1, K3, 9000));
    fx_ok(f, tu_account_amount(fx_t(f), ORTAK_CMD_RESERVE_SET, K1, 500));
    assert_cap(f, K1, 20000, 8000);
    /* The close: bank 1 pays 5.00 from its settlement account, 75.00 from collateral; bank 2's queue then goes. */
    ortak_time_ns at = fx_t(f);
    fx_ok(f, close_cmd(at, "KZT"));
    assert_events(f, EV_POSTED(XID(KZT, 1, 0), K1, K2, 500), EV_POSTED(XID(KZT, 1, 1), KC1, K2, 6500),
                  EV_POSTED(XID(KZT, 1, 2), KC1, K3, 1000), EV_CAP(K1, 12500, 20000), EV_SETTLED(1, K1, K2, 8000),
                  EV_SETTLED(2, K2, K3, 1000), EV_POS(K1, 8000, 0, 7500, 1), EV_POS(K2, 1000, 8000, 0, 1),
                  EV_POS(K3, 0, 1000, 0, 1), EV_WINDOW(398, 1, 2, 3, 8000), EV_POSTED(101, K2, K3, 4000),
                  EV_SETTLED(101, K2, K3, 4000), EV_POSTED(102, K2, K1, 3000), EV_SETTLED(102, K2, K1, 3000));
    assert_events_at(f, 0, at);
    assert_int_equal(ortak_settle_queue(fx_settle(f), K2, ids, 4, &n, &qi), ORTAK_OK);
    assert_int_equal(n, 0);
    assert_balance(f, K1, 3500); /* 5.00 kept for its reservation, plus 30.00 released from bank 2 */
    assert_reserved(f, K1, 500);
    assert_balance(f, KC1, 12500);
    assert_balance(f, K2, 0);
    assert_balance(f, K3, 9000 + 1000 + 4000);
    assert_reserved(f, KC1, 12500);
}

/* ---- 6. the journal and the canonical state ---------------------------------------------------------------- */

/* A second engine built like f's (same configuration, same fixture), kept in f->more[slot]. */
static struct fx fx_twin(struct fx *f, int slot) {
    struct fx g = {0};
    struct ortak_config cfg = *ortak_engine_config(f->e);
    assert_int_equal(ortak_engine_open(&cfg, &g.e), ORTAK_OK);
    f->more[slot] = g.e;
    fx_build(&g);
    return g;
}

static bool same_event(const struct ortak_event *x, const struct ortak_event *y) {
    return x->timestamp == y->timestamp && x->kind == y->kind && x->command_index == y->command_index &&
           x->id == y->id && x->ref == y->ref && x->debit_account_id == y->debit_account_id &&
           x->credit_account_id == y->credit_account_id && x->amount == y->amount && x->amount_old == y->amount_old &&
           x->status == y->status;
}

static void assert_same_hash(const struct ortak_engine *a, const struct ortak_engine *b) {
    uint8_t ha[32], hb[32];
    ortak_engine_state_hash(a, ha);
    ortak_engine_state_hash(b, hb);
    assert_memory_equal(ha, hb, 32);
}

/* Applies a batch to two engines: the same results, the same events, the same state hash. */
static void apply_both(struct ortak_engine *a, struct ortak_engine *b, const struct ortak_cmd *cmds, uint32_t n) {
    struct ortak_result ra[16], rb[16];
    assert_true(n <= 16);
    assert_int_equal(ortak_engine_apply(a, cmds, n, ra), ORTAK_OK);
    assert_int_equal(ortak_engine_apply(b, cmds, n, rb), ORTAK_OK);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(ra[i].rc, rb[i].rc);
        assert_int_equal(ra[i].flags, rb[i].flags);
        assert_int_equal(ra[i].fail_index, rb[i].fail_index);
    }
    uint32_t na, nb;
    const struct ortak_event *ea = ortak_engine_events(a, &na), *eb = ortak_engine_events(b, &nb);
    assert_int_equal(na, nb);
    for (uint32_t i = 0; i < na; i++) assert_true(same_event(&ea[i], &eb[i]));
    assert_same_hash(a, b);
}

/* NET_CAP_SET, NET_CLOSE and a net payment (its method byte) in the journal's batch encoding. */
static void test_journal_commands(void **state) {
    struct fx *f = *state;
    struct fx g = fx_twin(f, 0);
    fx_fund(f, KZT, KC1, 10000);
    fx_fund(&g, KZT, KC1, 10000);
    ortak_time_ns t = f->now + SEC;
    struct ortak_cmd cmds[4] = {cap_cmd(t, K1, 5000), net_pay(t + SEC, 9, K1, K2, 300), close_cmd(t + 2 * SEC, "KZT"),
                                cap_cmd(t + 3 * SEC, K1, -7)};
    cmds[1].u.payment.uetr = ORTAK_U128(0x0123456789abcdef, 0xfedcba9876543210);
    size_t cap = ortak_batch_encoded_size_max(4);
    unsigned char *buf = malloc(cap + 1);
    assert_non_null(buf);
    /* A payment's record: header, ids, UETR, amount, latest time, priority, method (and what later fields follow). */
    size_t pay_len = ortak_batch_encode(&cmds[1], 1, buf, cap) - 4;
    assert_true(pay_len >= 9 + 4 * 16 + 8 + 8 + 1 + 1);
    size_t len = ortak_batch_encode(cmds, 4, buf, cap);
    assert_int_equal(len, 4 + (9 + 24) + pay_len + (9 + 4) + (9 + 24));
    /* Layout: the cap's account and amount; the payment's method as its last byte; the currency padded. */
    assert_int_equal(buf[4 + 8], ORTAK_CMD_NET_CAP_SET);
    assert_int_equal(buf[4 + 9], (uint8_t)K1);
    assert_int_equal(buf[4 + 9 + 16], 0x88); /* 5000 = 0x1388, little-endian */
    assert_int_equal(buf[4 + 9 + 17], 0x13);
    size_t pay = 4 + 33;
    assert_int_equal(buf[pay + 8], ORTAK_CMD_PAYMENT_SUBMIT);
    assert_int_equal(buf[pay + 9 + 80], NORM);
    assert_int_equal(buf[pay + 9 + 81], ORTAK_METHOD_NET);
    size_t cls = pay + pay_len;
    assert_int_equal(buf[cls + 8], ORTAK_CMD_NET_CLOSE);
    assert_memory_equal(buf + cls + 9, "KZT\0", 4);
    struct ortak_cmd out[4];
    uint32_t n = 99;
    assert_int_equal(ortak_batch_decode(buf, len, out, 4, &n), ORTAK_OK);
    assert_int_equal(n, 4);
    for (uint32_t i = 0; i < 4; i++) assert_memory_equal(&out[i], &cmds[i], sizeof cmds[i]);
    assert_int_equal(out[3].u.account.amount, -7);
    /* Decoded, they do what the originals do. */
    struct ortak_result ra[4], rb[4];
    assert_int_equal(ortak_engine_apply(f->e, cmds, 4, ra), ORTAK_OK);
    assert_int_equal(ortak_engine_apply(g.e, out, 4, rb), ORTAK_OK);
    for (int i = 0; i < 4; i++) assert_int_equal(ra[i].rc, rb[i].rc);
    assert_int_equal(ra[3].rc, ORTAK_NEGATIVE_AMOUNT);
    assert_same_hash(f->e, g.e);
    assert_net_settled(f, 9, 1, t + 2 * SEC);
    /* Any method byte decodes (the engine judges it); an unterminated currency or a byte short is corrupt. */
    buf[pay + 9 + 81] = 7;
    assert_int_equal(ortak_batch_decode(buf, len, out, 4, &n), ORTAK_OK);
    assert_int_equal(out[1].u.payment.method, 7);
    memcpy(buf + cls + 9, "KZTX", 4);
    assert_int_equal(ortak_batch_decode(buf, len, out, 4, &n), ORTAK_CORRUPT);
    assert_int_equal(n, 0);
    memcpy(buf + cls + 9, "KZT\0", 4);
    assert_int_equal(ortak_batch_decode(buf, len - 1, out, 4, &n), ORTAK_CORRUPT);
    buf[len] = 0;
    assert_int_equal(ortak_batch_decode(buf, len + 1, out, 4, &n), ORTAK_CORRUPT);
    free(buf);
}

/* Encodes `e` and opens a new engine from the bytes: its result code, and the engine in *out when ORTAK_OK. */
static ortak_rc reopen_rc(const struct ortak_engine *e, struct ortak_engine **out) {
    struct tu_buf b = {0};
    ortak_engine_encode(e, tu_buf_sink, &b);
    struct ortak_config cfg = *ortak_engine_config(e);
    ortak_rc rc = ortak_engine_open_state(&cfg, b.data, b.len, out);
    if (rc == ORTAK_OK) {
        /* The same hash, and the bytes round-trip exactly. */
        struct tu_buf b2 = {0};
        ortak_engine_encode(*out, tu_buf_sink, &b2);
        assert_int_equal(b2.len, b.len);
        assert_memory_equal(b2.data, b.data, b.len);
        free(b2.data);
        assert_same_hash(e, *out);
    }
    free(b.data);
    return rc;
}

/* The queries of two engines agree on a currency's windows, reports and the caps of its banks. */
static void assert_same_netting(const struct ortak_engine *a, const struct ortak_engine *b, int c) {
    const struct ortak_netting *na = ortak_engine_netting(a), *nb = ortak_engine_netting(b);
    struct ortak_window_info wa, wb;
    assert_int_equal(ortak_netting_window(na, cur_code[c], 0, &wa), ORTAK_OK);
    assert_int_equal(ortak_netting_window(nb, cur_code[c], 0, &wb), ORTAK_OK);
    assert_true(wa.id == wb.id && wa.state == wb.state && wa.opened_ns == wb.opened_ns && wa.payments == wb.payments &&
                wa.participants == wb.participants && wa.gross == wb.gross);
    struct ortak_window_position ra[8], rb[8];
    uint32_t n1, n2;
    assert_int_equal(ortak_netting_positions(na, cur_code[c], 0, ra, 8, &n1), ORTAK_OK);
    assert_int_equal(ortak_netting_positions(nb, cur_code[c], 0, rb, 8, &n2), ORTAK_OK);
    assert_int_equal(n1, n2);
    for (uint32_t i = 0; i < n1 && i < 8; i++)
        assert_true(ra[i].account_id == rb[i].account_id && ra[i].sent == rb[i].sent &&
                    ra[i].received == rb[i].received && ra[i].sent_count == rb[i].sent_count &&
                    ra[i].received_count == rb[i].received_count);
    for (int k = 0; k < BANKS; k++) {
        int64_t ca, cb;
        ortak_i128 da, db;
        assert_int_equal(ortak_netting_cap(na, SET(c, k), &ca, &da), ORTAK_OK);
        assert_int_equal(ortak_netting_cap(nb, SET(c, k), &cb, &db), ORTAK_OK);
        assert_true(ca == cb && da == db);
    }
}

/*
 * The state encoded mid-window (KZT every 60 s, AZN on command) and reopened: the same hash, the same queries, and
 * the same behaviour afterwards: the periodic close, the operator's close and new payments give the same results,
 * events and hash on both.
 */
static void test_state_mid_window(void **state) {
    struct fx *f = *state;
    fx_fund(f, KZT, K1, 3000);
    fx_fund(f, KZT, KC1, 10000);
    fx_cap(f, K1, 8000);
    fx_fund(f, AZN, ZC1, 5000);
    fx_cap(f, Z1, 5000);
    const ortak_time_ns b = T0 + 5 * MIN;
    f->now = b;
    net_ok(f, 1, K1, K2, 6000);
    net_ok(f, 2, K2, K3, 1000);
    net_ok(f, 3, Z1, Z2, 700);
    assert_refused_cmd(f, net_pay(fx_t(f), 4, K1, K3, 5000), ORTAK_NET_CAP_EXCEEDED);
    struct ortak_engine *r = NULL;
    assert_int_equal(reopen_rc(f->e, &r), ORTAK_OK);
    f->more[0] = r;
    assert_int_equal(ortak_engine_now(r), f->now);
    for (int c = 0; c < CURS; c++) assert_same_netting(f->e, r, c);
    struct ortak_payment_info p;
    assert_int_equal(ortak_settle_payment_get(ortak_engine_settle(r), 1, &p), ORTAK_OK);
    assert_true(p.state == ORTAK_PAYMENT_ACCEPTED && p.window == 1 && p.p.method == ORTAK_METHOD_NET);
    /* Afterwards: a payment, the periodic close of KZT (which lowers bank 1's cap), the operator's close of AZN, a
     * payment over the lowered cap, a cap change. */
    struct ortak_cmd cmds[5] = {net_pay(b + 30 * SEC, 5, K3, K1, 500), tu_tick(b + MIN), close_cmd(b + MIN, "AZN"),
                                net_pay(b + MIN + SEC, 6, K1, K2, 8000), cap_cmd(b + MIN + 2 * SEC, K1, 0)};
    apply_both(f->e, r, cmds, 5);
    uint32_t n;
    const struct ortak_event *ev = ortak_engine_events(r, &n);
    assert_true(n > 0 && ev[0].kind == ORTAK_EV_PAYMENT_ACCEPTED);
    assert_events(f, EV_ACCEPTED(5, K3, K1, 500, 1), EV_POSTED(XID(KZT, 1, 0), K1, K2, 3000),
                  EV_POSTED(XID(KZT, 1, 1), KC1, K2, 2000), EV_POSTED(XID(KZT, 1, 2), KC1, K3, 500),
                  EV_CAP(K1, 7500, 8000), EV_SETTLED(1, K1, K2, 6000), EV_SETTLED(2, K2, K3, 1000),
                  EV_SETTLED(5, K3, K1, 500), EV_POS(K1, 6000, 500, 2500, 1), EV_POS(K2, 1000, 6000, 0, 1),
                  EV_POS(K3, 500, 1000, 0, 1), EV_WINDOW(398, 1, 3, 3, 5500), EV_POSTED(XID(AZN, 1, 0), ZC1, Z2, 700),
                  EV_CAP(Z1, 4300, 5000), EV_SETTLED(3, Z1, Z2, 700), EV_POS(Z1, 700, 0, 700, 1),
                  EV_POS(Z2, 0, 700, 0, 1), EV_WINDOW(944, 1, 1, 2, 700),
                  EV_REJECTED(6, K1, K2, 8000, ORTAK_NET_CAP_EXCEEDED), EV_CAP(K1, 0, 7500));
    for (int c = 0; c < CURS; c++) assert_same_netting(f->e, r, c);
}

/* A state holding a net payment settled at a close (through the close's transfers, not its own) reopens. */
static void test_reopen_after_close(void **state) {
    struct fx *f = *state;
    fx_fund(f, KZT, K1, 3000);
    fx_fund(f, KZT, KC1, 1000);
    fx_cap(f, K1, 1000);
    net_ok(f, 1, K1, K2, 600);
    fx_ok(f, close_cmd(fx_t(f), "KZT"));
    assert_net_settled(f, 1, 1, f->now);
    struct ortak_engine *r = NULL;
    ortak_rc rc = reopen_rc(f->e, &r);
    f->more[0] = r;
    assert_int_equal(rc, ORTAK_OK);
}

/* A state holding a payment refused for its method (recorded with method 2, as submitted) reopens. */
static void test_reopen_after_method_refused(void **state) {
    struct fx *f = *state;
    struct ortak_cmd c = net_pay(fx_t(f), 1, K1, K2, 100);
    c.u.payment.method = 2;
    assert_refused_cmd(f, c, ORTAK_METHOD_INVALID);
    struct ortak_engine *r = NULL;
    ortak_rc rc = reopen_rc(f->e, &r);
    f->more[0] = r;
    assert_int_equal(rc, ORTAK_OK);
}

/* ---- 7. property test: random net and gross traffic, followed through the events --------------------------- */

/*
 * Three currencies (KZT closing every 60 s, AZN on command only, TRY every 45 s), nine banks with a settlement and a
 * collateral account in each, random caps; random net and gross payments, collateral top-ups, withdrawals and holds,
 * cap changes, closes by command and by time, suspensions, cut-offs, reservations and credit lines, replays. A model
 * built from the events alone is checked against the engine's queries after every batch, and two engines fed the
 * same batches must agree on results, events and state hash.
 */
#define P_CURS 3
#define P_BANKS 9
#define P_PAYMENTS 16384 /* payment ids 1..; transfer ids from 2^40 */
#define P_COMMANDS 8000  /* per seed */
#define P_BATCH_MAX 24
static const int p_cur[P_CURS] = {KZT, AZN, TRY};
static const uint64_t p_window_ms[P_CURS] = {60000, 0, 45000};
static const char *const p_bic[P_BANKS] = {"HSBKKZKX", "KCJBKZKX", "CASPKZKA", "IBAZAZ2X", "PAHAAZ22",
                                           "TCZBTR2A", "ISBKTRIS", "AKBKTRIS", "NBFAUZ2X"};
#define PI(c) ((ortak_u128)1000 + (ortak_u128)(c)*100)
#define PS(c, k) (PI(c) + 1 + (ortak_u128)(k))
#define PC(c, k) (PI(c) + 51 + (ortak_u128)(k))

/* An account of the property test: its currency (place in p_cur), its bank (-1: issuance), whether collateral. */
struct pacc {
    int c, k;
    bool collateral;
};

static struct pacc p_account(ortak_u128 id) {
    assert_true(id >= PI(0) && id < PI(P_CURS));
    uint32_t rem = (uint32_t)(id - PI(0)) % 100;
    struct pacc a = {(int)((uint32_t)(id - PI(0)) / 100), -1, false};
    if (rem >= 1 && rem <= P_BANKS) a.k = (int)rem - 1;
    if (rem >= 51 && rem < 51 + P_BANKS) a = (struct pacc){a.c, (int)rem - 51, true};
    return a;
}

static struct ortak_config p_config(void) {
    struct ortak_config cfg;
    ortak_config_default(&cfg);
    cfg.limits.participants_max = 32;
    cfg.limits.accounts_max = 64;
    cfg.limits.transfers_max = 1u << 16;
    cfg.limits.pending_max = 256;
    cfg.limits.history_max = 1024;
    cfg.limits.batch_max = 64;
    cfg.limits.payments_max = P_PAYMENTS;
    cfg.settlement.gridlock_interval_ms = 60000; /* periodic runs meet periodic closes; FIFO keeps them cheap */
    cfg.settlement.gridlock_mode = ORTAK_GRIDLOCK_FIFO;
    for (uint32_t i = 0; i < cfg.currency_count; i++) cfg.currencies[i].net_window_ms = 0;
    for (int c = 0; c < P_CURS; c++) cfg.currencies[cur_index[p_cur[c]]].net_window_ms = p_window_ms[c];
    return cfg;
}

struct pgen {
    uint64_t rs;
    ortak_time_ns t;
    uint64_t next_pid, next_tid;
    struct ortak_cmd sent[64]; /* recent net payments, for replays */
    uint32_t nsent;
    ortak_u128 holds[64]; /* recent holds on collateral, to post or void */
    uint32_t nholds;
};

static uint64_t rnd(struct pgen *g, uint64_t n) { return ortak_rng_below(&g->rs, n); }

/* What a collateral account holds (balance less pending debits) and has free above its pledge, in engine e. */
static ortak_i128 p_held(const struct ortak_engine *e, ortak_u128 col) {
    struct ortak_account_info a = tu_account_info(e, col);
    return a.balance - a.debits_pending;
}

static uint64_t p_amount(struct pgen *g, ortak_i128 around) {
    ortak_i128 top = around < 0 ? 0 : around;
    return 1 + rnd(g, (uint64_t)(top + top / 4 + 10));
}

static struct ortak_cmd gen_net(struct pgen *g, int c, int k, int j) {
    uint64_t amount = 1 + rnd(g, rnd(g, 4) == 0 ? 60000 : 8000);
    struct ortak_cmd cmd = net_pay(g->t, g->next_pid++, PS(c, k), PS(c, j), amount);
    uint64_t odd = rnd(g, 100);
    if (odd == 0) cmd.u.payment.method = 2;
    if (odd == 1) cmd.u.payment.priority = URG;
    g->sent[g->nsent++ % 64] = cmd;
    return cmd;
}

/* Collateral moves: top-ups, withdrawals (some beyond the free part, some with USE_RESERVED), holds. */
static struct ortak_cmd gen_collateral(struct pgen *g, const struct ortak_engine *e, int c, int k, uint64_t r) {
    ortak_u128 col = PC(c, k), set = PS(c, k), id = g->next_tid++;
    struct ortak_account_info a = tu_account_info(e, col);
    if (r < 3) return tu_transfer(g->t, id, PI(c), col, 1 + rnd(g, 30000), 0);
    if (r < 6) return tu_transfer(g->t, id, set, col, 1 + rnd(g, 20000), 0);
    if (r < 11) return tu_transfer(g->t, id, col, set, p_amount(g, a.available), 0);
    if (r < 12) return tu_transfer(g->t, id, col, set, 1 + rnd(g, 100), ORTAK_TRANSFER_USE_RESERVED);
    if (r < 15) {
        g->holds[g->nholds++ % 64] = id;
        return tu_pending(g->t, id, col, set, p_amount(g, a.available), 1 + (uint32_t)rnd(g, 60));
    }
    ortak_u128 hold = g->nholds ? g->holds[rnd(g, g->nholds < 64 ? g->nholds : 64)] : 1;
    return tu_resolve(g->t, id, hold, 0, rnd(g, 2) ? ORTAK_TRANSFER_POST_PENDING : ORTAK_TRANSFER_VOID_PENDING);
}

static struct ortak_cmd gen_command(struct pgen *g, const struct ortak_engine *e) {
    g->t += rnd(g, 3) * SEC;
    uint64_t r = rnd(g, 100);
    int c = (int)rnd(g, P_CURS), k = (int)rnd(g, P_BANKS), j = (int)rnd(g, P_BANKS - 1);
    if (j >= k) j++;
    if (r < 36) return gen_net(g, c, k, j);
    if (r < 50) return tu_payment(g->t, g->next_pid++, PS(c, k), PS(c, j), 1 + rnd(g, 20000), (uint8_t)rnd(g, 3));
    if (r < 67) return gen_collateral(g, e, c, k, r - 50);
    if (r < 76) {
        /* Mostly around the collateral held (some above it), some below the net debit, a few negative. */
        ortak_i128 held = p_held(e, PC(c, k)), debit = 0;
        int64_t cap = 0;
        assert_int_equal(ortak_netting_cap(ortak_engine_netting(e), PS(c, k), &cap, &debit), ORTAK_OK);
        uint64_t how = rnd(g, 20);
        if (how == 0) return cap_cmd(g->t, PS(c, k), -1);
        if (how < 5 && debit > 0) return cap_cmd(g->t, PS(c, k), (int64_t)rnd(g, (uint64_t)debit));
        return cap_cmd(g->t, PS(c, k), (int64_t)rnd(g, (uint64_t)(held + held / 4 + 2)));
    }
    if (r < 80) return close_cmd(g->t, cur_code[p_cur[c]]);
    if (r < 85) {
        g->t += rnd(g, 90) * SEC;
        return tu_tick(g->t);
    }
    if (r < 88) return tu_status(g->t, p_bic[k], rnd(g, 8) ? ORTAK_PARTICIPANT_ACTIVE : ORTAK_PARTICIPANT_SUSPENDED);
    if (r < 90) return tu_cutoff(g->t, 1u << NORM, rnd(g, 5) != 0);
    if (r < 94) return tu_transfer(g->t, g->next_tid++, PI(c), PS(c, k), 1 + rnd(g, 40000), 0);
    if (r < 96) return tu_account_amount(g->t, ORTAK_CMD_RESERVE_SET, PS(c, k), (int64_t)rnd(g, 3000));
    if (r < 98) return tu_account_amount(g->t, ORTAK_CMD_CREDIT_LINE_SET, PS(c, k), (int64_t)rnd(g, 5000));
    if (g->nsent == 0) return tu_tick(g->t);
    struct ortak_cmd again = g->sent[rnd(g, g->nsent < 64 ? g->nsent : 64)];
    again.timestamp = g->t;
    return again;
}

/* A net payment as the events tell it. */
struct mpay {
    uint8_t state; /* 0: none (or gross); ORTAK_PAYMENT_ACCEPTED, then ORTAK_PAYMENT_SETTLED */
    int8_t c, payer, payee;
    uint64_t window;
    int64_t amount;
};

struct pmodel {
    struct mpay pay[P_PAYMENTS];
    uint32_t members[P_CURS][P_PAYMENTS]; /* the open window's payments */
    uint32_t nmembers[P_CURS];
    uint64_t window[P_CURS];        /* the open window's id */
    ortak_time_ns first_ns[P_CURS]; /* when its first payment was accepted */
    ortak_i128 sent[P_CURS][P_BANKS], received[P_CURS][P_BANKS], gross[P_CURS];
    uint32_t sent_n[P_CURS][P_BANKS], received_n[P_CURS][P_BANKS];
    int64_t cap[P_CURS][P_BANKS];
    /* The close in progress: what its transfers moved per bank (collateral counted for its owner), what each
     * bank's collateral paid, how many payments settled and rows were reported. */
    ortak_i128 moved[P_CURS][P_BANKS];
    int64_t from_collateral[P_CURS][P_BANKS];
    uint32_t close_settled[P_CURS], close_rows[P_CURS];
    bool suspended[P_BANKS];
    bool cutoff;
    /* tallies */
    uint32_t accepted, settled, closes_cmd, closes_time, closes_empty, closes_collateral, cap_lowered;
    uint32_t close_transfers, suspended_rows, gross_settled, replays;
    uint32_t refused[ORTAK_RC_COUNT_];     /* net payments refused, by code */
    uint32_t cmd_refused[ORTAK_RC_COUNT_]; /* caps and collateral transfers refused, by code */
};

static int p_cur_of_numeric(int64_t numeric) {
    for (int c = 0; c < P_CURS; c++) {
        if (cur_numeric[p_cur[c]] == numeric) return c;
    }
    fail_msg("unexpected currency %lld", (long long)numeric);
    return -1;
}

static uint32_t p_participants(const struct pmodel *m, int c) {
    uint32_t n = 0;
    for (int k = 0; k < P_BANKS; k++) n += m->sent_n[c][k] + m->received_n[c][k] > 0;
    return n;
}

static void m_accepted(struct pmodel *m, const struct ortak_event *ev) {
    assert_true(ev->id > 0 && ev->id < P_PAYMENTS);
    struct mpay *p = &m->pay[(uint32_t)ev->id];
    struct pacc dr = p_account(ev->debit_account_id), cr = p_account(ev->credit_account_id);
    assert_int_equal(p->state, 0);
    assert_true(dr.c == cr.c && dr.k >= 0 && cr.k >= 0 && !dr.collateral && !cr.collateral);
    int c = dr.c;
    assert_int_equal(ev->status, (uint32_t)m->window[c]);
    *p = (struct mpay){ORTAK_PAYMENT_ACCEPTED, (int8_t)c, (int8_t)dr.k, (int8_t)cr.k, m->window[c], ev->amount};
    m->sent[c][dr.k] += ev->amount;
    m->sent_n[c][dr.k]++;
    m->received[c][cr.k] += ev->amount;
    m->received_n[c][cr.k]++;
    m->gross[c] += ev->amount;
    if (m->nmembers[c] == 0) m->first_ns[c] = ev->timestamp;
    m->members[c][m->nmembers[c]++] = (uint32_t)ev->id;
    /* The payer's net debit after it stays within its cap; no bank is suspended when it is accepted. */
    assert_true(m->sent[c][dr.k] - m->received[c][dr.k] <= m->cap[c][dr.k]);
    assert_false(m->suspended[dr.k] || m->suspended[cr.k]);
    m->accepted++;
}

/* A transfer of a close: in the system's id space, numbered for its currency and window; code 2. */
static void m_close_transfer(struct pmodel *m, const struct ortak_engine *e, const struct ortak_event *ev) {
    struct pacc dr = p_account(ev->debit_account_id), cr = p_account(ev->credit_account_id);
    int c = dr.c;
    assert_true(cr.c == c && dr.k >= 0 && cr.k >= 0 && !cr.collateral);
    assert_true((uint32_t)(ev->id >> 96) == (0xffffu << 16 | cur_index[p_cur[c]]));
    assert_true((uint64_t)(ev->id >> 32) == m->window[c]);
    struct ortak_transfer_info t;
    assert_int_equal(ortak_ledger_transfer_get(ortak_engine_ledger(e), ev->id, &t), ORTAK_OK);
    assert_true(t.t.code == 2 && t.t.user_data == (ortak_u128)m->window[c] && t.amount_booked == (uint64_t)ev->amount);
    assert_int_equal(t.t.flags, dr.collateral ? ORTAK_TRANSFER_USE_RESERVED : 0);
    m->moved[c][dr.k] -= ev->amount;
    m->moved[c][cr.k] += ev->amount;
    if (dr.collateral) m->from_collateral[c][dr.k] += ev->amount;
    m->close_transfers++;
}

static void m_cap(struct pmodel *m, const struct ortak_event *ev, const struct ortak_cmd *cmd) {
    struct pacc a = p_account(ev->id);
    assert_true(a.k >= 0 && !a.collateral);
    assert_int_equal(ev->amount_old, m->cap[a.c][a.k]);
    m->cap[a.c][a.k] = ev->amount;
    if (cmd->kind == ORTAK_CMD_NET_CAP_SET && cmd->u.account.account_id == ev->id) return;
    /* Lowered by a close that took some of its collateral. */
    assert_true(ev->amount < ev->amount_old && m->from_collateral[a.c][a.k] > 0);
    m->cap_lowered++;
}

static void m_settled(struct pmodel *m, const struct ortak_event *ev) {
    if (ev->id == 0 || ev->id >= P_PAYMENTS || m->pay[(uint32_t)ev->id].state == 0) {
        m->gross_settled++;
        return;
    }
    struct mpay *p = &m->pay[(uint32_t)ev->id];
    if (p->state != ORTAK_PAYMENT_ACCEPTED) fail_msg("net payment %u settled twice", (unsigned)ev->id);
    assert_true(p->window == m->window[p->c]);
    p->state = ORTAK_PAYMENT_SETTLED;
    m->close_settled[p->c]++;
    m->settled++;
}

static void m_position(struct pmodel *m, const struct ortak_event *ev) {
    struct pacc a = p_account(ev->id);
    int c = a.c, k = a.k;
    assert_true(k >= 0 && !a.collateral && m->sent_n[c][k] + m->received_n[c][k] > 0);
    assert_int_equal(ev->status, (uint32_t)m->window[c]);
    assert_true(ev->ref == (ortak_u128)m->sent[c][k] && ev->credit_account_id == (ortak_u128)m->received[c][k]);
    assert_int_equal(ev->amount, m->from_collateral[c][k]);
    /* The close moved exactly its net position. */
    if (m->moved[c][k] != m->received[c][k] - m->sent[c][k])
        fail_msg("%s window %llu: bank %d moved %lld, its position is %lld", cur_code[p_cur[c]],
                 (unsigned long long)m->window[c], k, (long long)m->moved[c][k],
                 (long long)(m->received[c][k] - m->sent[c][k]));
    m->close_rows[c]++;
    m->suspended_rows += m->suspended[k];
}

/* Whether the summary at ev[i] is the close that command cmds[ev->command_index] asked for (the last of its
 * currency for that command: a periodic close may precede it when the command's time crossed a boundary). */
static bool close_by_command(const struct ortak_event *ev, uint32_t n, uint32_t i, const struct ortak_cmd *cmds) {
    const struct ortak_cmd *cmd = &cmds[ev[i].command_index];
    int c = p_cur_of_numeric((int64_t)ev[i].id);
    if (cmd->kind != ORTAK_CMD_NET_CLOSE || strcmp(cmd->u.net_close.currency, cur_code[p_cur[c]]) != 0) return false;
    for (uint32_t x = i + 1; x < n; x++) {
        if (ev[x].kind == ORTAK_EV_NET_WINDOW && ev[x].id == ev[i].id && ev[x].command_index == ev[i].command_index)
            return false;
    }
    return true;
}

/* The summary of a close: it matches the model's window, every payment of it settled now, and the next opens. */
static void m_window(struct pmodel *m, const struct ortak_engine *e, const struct ortak_event *ev, bool by_command,
                     bool last) {
    int c = p_cur_of_numeric((int64_t)ev->id);
    if (ev->amount == -1) fail_msg("%s window could not settle: %s", cur_code[p_cur[c]], ortak_rc_name(ev->status));
    assert_int_equal(ev->status, (uint32_t)m->window[c]);
    assert_int_equal(ev->amount, m->nmembers[c]);
    assert_int_equal(ev->amount_old, p_participants(m, c));
    assert_int_equal(m->close_rows[c], p_participants(m, c));
    assert_int_equal(m->close_settled[c], m->nmembers[c]);
    /* A close by time: its currency has an interval, its window has payments, and a boundary passed since the
     * first of them. */
    if (!by_command) {
        uint64_t every = p_window_ms[c] * UINT64_C(1000000);
        assert_true(every != 0 && m->nmembers[c] > 0 && ev->timestamp / every > m->first_ns[c] / every);
    }
    ortak_i128 debits = 0, sum = 0;
    bool collateral = false;
    for (int k = 0; k < P_BANKS; k++) {
        ortak_i128 net = m->received[c][k] - m->sent[c][k];
        assert_true(m->moved[c][k] == net); /* also for banks without a row: nothing */
        debits += net < 0 ? -net : 0;
        sum += net;
        collateral |= m->from_collateral[c][k] > 0;
    }
    assert_true(sum == 0);
    assert_true(ev->ref == (ortak_u128)debits);
    for (uint32_t x = 0; x < m->nmembers[c]; x++) {
        struct ortak_payment_info p;
        assert_int_equal(ortak_settle_payment_get(ortak_engine_settle(e), m->members[c][x], &p), ORTAK_OK);
        if (p.state != ORTAK_PAYMENT_SETTLED || p.ended_ns != ev->timestamp || p.window != m->window[c] ||
            m->pay[m->members[c][x]].state != ORTAK_PAYMENT_SETTLED)
            fail_msg("net payment %u: %s at %llu in window %llu", m->members[c][x], ortak_payment_state_name(p.state),
                     (unsigned long long)p.ended_ns, (unsigned long long)p.window);
    }
    /* The query keeps the last window closed (the batch may have closed another since). */
    struct ortak_window_info w;
    ortak_rc rc = ortak_netting_window(ortak_engine_netting(e), cur_code[p_cur[c]], m->window[c], &w);
    assert_int_equal(rc, last ? ORTAK_OK : ORTAK_WINDOW_NOT_FOUND);
    if (last)
        assert_true(w.state == ORTAK_WINDOW_SETTLED && w.closed_ns == ev->timestamp && w.moved == debits &&
                    w.gross == m->gross[c] && w.payments == m->nmembers[c]);
    *(by_command ? &m->closes_cmd : &m->closes_time) += 1;
    m->closes_empty += m->nmembers[c] == 0;
    m->closes_collateral += collateral;
    memset(m->sent[c], 0, sizeof m->sent[c]);
    memset(m->received[c], 0, sizeof m->received[c]);
    memset(m->sent_n[c], 0, sizeof m->sent_n[c]);
    memset(m->received_n[c], 0, sizeof m->received_n[c]);
    memset(m->moved[c], 0, sizeof m->moved[c]);
    memset(m->from_collateral[c], 0, sizeof m->from_collateral[c]);
    m->gross[c] = 0;
    m->nmembers[c] = m->close_settled[c] = m->close_rows[c] = 0;
    m->window[c]++;
}

/* Whether the summary at ev[i] is the last of its currency in the batch. */
static bool last_close(const struct ortak_event *ev, uint32_t n, uint32_t i) {
    for (uint32_t x = i + 1; x < n; x++) {
        if (ev[x].kind == ORTAK_EV_NET_WINDOW && ev[x].id == ev[i].id) return false;
    }
    return true;
}

/* Follows a batch's events in order. */
static void m_events(struct pmodel *m, const struct ortak_engine *e, const struct ortak_cmd *cmds) {
    uint32_t n;
    const struct ortak_event *ev = ortak_engine_events(e, &n);
    for (uint32_t i = 0; i < n; i++) {
        const struct ortak_cmd *cmd = &cmds[ev[i].command_index];
        switch (ev[i].kind) {
        case ORTAK_EV_PAYMENT_ACCEPTED: m_accepted(m, &ev[i]); break;
        case ORTAK_EV_PAYMENT_SETTLED: m_settled(m, &ev[i]); break;
        case ORTAK_EV_TRANSFER_POSTED:
            if ((ev[i].id >> 112) == 0xffff) m_close_transfer(m, e, &ev[i]);
            break;
        case ORTAK_EV_NET_CAP_SET: m_cap(m, &ev[i], cmd); break;
        case ORTAK_EV_NET_POSITION: m_position(m, &ev[i]); break;
        case ORTAK_EV_NET_WINDOW: m_window(m, e, &ev[i], close_by_command(ev, n, i, cmds), last_close(ev, n, i)); break;
        case ORTAK_EV_PAYMENT_REJECTED:
            if (cmd->kind == ORTAK_CMD_PAYMENT_SUBMIT && cmd->u.payment.method == ORTAK_METHOD_NET &&
                cmd->u.payment.id == ev[i].id && ev[i].status < ORTAK_RC_COUNT_)
                m->refused[ev[i].status]++;
            break;
        case ORTAK_EV_PARTICIPANT_STATUS:
            for (int k = 0; k < P_BANKS; k++) {
                if (strcmp(cmd->u.participant_status.bic, p_bic[k]) == 0)
                    m->suspended[k] = ev[i].status != ORTAK_PARTICIPANT_ACTIVE;
            }
            break;
        case ORTAK_EV_CUTOFF: m->cutoff = ev[i].amount == 0; break;
        default: break;
        }
    }
}

/* The results of commands that are not payments: refusals of caps and of collateral transfers, by code. */
static void m_results(struct pmodel *m, const struct ortak_cmd *cmds, const struct ortak_result *r, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        if (cmds[i].kind == ORTAK_CMD_PAYMENT_SUBMIT && (r[i].flags & ORTAK_RESULT_REPLAYED)) m->replays++;
        if (r[i].rc == ORTAK_OK || r[i].rc >= ORTAK_RC_COUNT_) continue;
        const struct ortak_transfer *t = &cmds[i].u.transfer;
        bool collateral_debit =
            cmds[i].kind == ORTAK_CMD_TRANSFER && t->debit_account_id != 0 && p_account(t->debit_account_id).collateral;
        if (cmds[i].kind == ORTAK_CMD_NET_CAP_SET || collateral_debit) m->cmd_refused[r[i].rc]++;
    }
}

/* DESIGN §2: every currency sums to zero; no account but an issuance one below its floor. */
static void p_check_ledger(const struct ortak_ledger *l, uint64_t batch) {
    ortak_i128 sum[CURS] = {0};
    for (uint32_t i = 0; i < ortak_ledger_account_count(l); i++) {
        struct ortak_account_info a;
        ortak_ledger_account_at(l, i, &a);
        int c = 0;
        while (c < CURS && strcmp(a.currency, cur_code[c]) != 0) c++;
        assert_true(c < CURS);
        sum[c] += a.balance;
        if (a.kind != ORTAK_ACCOUNT_ISSUANCE && a.balance - a.debits_pending + a.credit_line < 0)
            fail_msg("batch %llu: account %llu below its floor", (unsigned long long)batch, (unsigned long long)a.id);
    }
    for (int c = 0; c < CURS; c++) assert_true(sum[c] == 0);
}

/* The model against the engine's queries: open windows, their reports, caps and collateral. */
static void p_check(const struct pmodel *m, const struct ortak_engine *e, uint64_t batch) {
    const struct ortak_netting *net = ortak_engine_netting(e);
    p_check_ledger(ortak_engine_ledger(e), batch);
    for (int c = 0; c < P_CURS; c++) {
        const char *code = cur_code[p_cur[c]];
        struct ortak_window_info w;
        assert_int_equal(ortak_netting_window(net, code, 0, &w), ORTAK_OK);
        if (w.id != m->window[c] || w.state != ORTAK_WINDOW_OPEN || w.payments != m->nmembers[c] ||
            w.participants != p_participants(m, c) || w.gross != m->gross[c])
            fail_msg("batch %llu: %s window %llu differs from the model's %llu", (unsigned long long)batch, code,
                     (unsigned long long)w.id, (unsigned long long)m->window[c]);
        struct ortak_window_position rows[P_BANKS];
        uint32_t n, r = 0;
        assert_int_equal(ortak_netting_positions(net, code, 0, rows, P_BANKS, &n), ORTAK_OK);
        assert_int_equal(n, p_participants(m, c));
        ortak_i128 sum = 0;
        for (int k = 0; k < P_BANKS; k++) {
            if (m->sent_n[c][k] + m->received_n[c][k] == 0) continue;
            const struct ortak_window_position *x = &rows[r++];
            assert_true(x->account_id == PS(c, k) && x->sent == m->sent[c][k] && x->received == m->received[c][k] &&
                        x->sent_count == m->sent_n[c][k] && x->received_count == m->received_n[c][k] &&
                        x->net == x->received - x->sent && x->from_collateral == 0);
            sum += x->net;
        }
        assert_true(sum == 0);
        for (int k = 0; k < P_BANKS; k++) {
            int64_t cap;
            ortak_i128 debit, own = m->sent[c][k] - m->received[c][k];
            if (tu_account_info(e, PS(c, k)).id == 0) continue; /* not created yet */
            assert_int_equal(ortak_netting_cap(net, PS(c, k), &cap, &debit), ORTAK_OK);
            assert_int_equal(cap, m->cap[c][k]);
            assert_true(debit == (own > 0 ? own : 0));
            struct ortak_account_info col = tu_account_info(e, PC(c, k));
            if (debit > cap || cap > col.balance - col.debits_pending || col.reserved != cap)
                fail_msg("batch %llu: %s bank %d: net debit %lld, cap %lld, collateral held %lld, pledged %lld",
                         (unsigned long long)batch, code, k, (long long)debit, (long long)cap,
                         (long long)(col.balance - col.debits_pending), (long long)col.reserved);
        }
        for (uint32_t x = 0; x < m->nmembers[c]; x++) {
            struct ortak_payment_info p;
            assert_int_equal(ortak_settle_payment_get(ortak_engine_settle(e), m->members[c][x], &p), ORTAK_OK);
            assert_true(p.state == ORTAK_PAYMENT_ACCEPTED && p.window == m->window[c] && p.ended_ns == 0);
        }
        /* A window with payments has seen no boundary of its currency's interval since the first of them. */
        uint64_t every = p_window_ms[c] * UINT64_C(1000000);
        if (every && m->nmembers[c] > 0 && ortak_engine_now(e) / every != m->first_ns[c] / every)
            fail_msg("batch %llu: %s window %llu should have closed by time", (unsigned long long)batch, code,
                     (unsigned long long)m->window[c]);
    }
}

/* Applies a batch to both engines (the same results, events and hash), follows it in the model and checks. */
static void p_apply(struct ortak_engine *const *e, struct pmodel *m, const struct ortak_cmd *cmds, uint32_t n,
                    uint64_t batch) {
    struct ortak_result ra[P_BATCH_MAX], rb[P_BATCH_MAX];
    assert_true(n <= P_BATCH_MAX);
    assert_int_equal(ortak_engine_apply(e[0], cmds, n, ra), ORTAK_OK);
    assert_int_equal(ortak_engine_apply(e[1], cmds, n, rb), ORTAK_OK);
    for (uint32_t i = 0; i < n; i++)
        assert_true(ra[i].rc == rb[i].rc && ra[i].flags == rb[i].flags && ra[i].fail_index == rb[i].fail_index);
    uint32_t na, nb;
    const struct ortak_event *ea = ortak_engine_events(e[0], &na), *eb = ortak_engine_events(e[1], &nb);
    assert_int_equal(na, nb);
    for (uint32_t i = 0; i < na; i++) assert_true(same_event(&ea[i], &eb[i]));
    assert_same_hash(e[0], e[1]);
    m_events(m, e[0], cmds);
    m_results(m, cmds, ra, n);
    p_check(m, e[0], batch);
}

/* Participants, accounts (per currency: issuance, then each bank's settlement and collateral), funds and caps. */
static uint64_t p_setup(struct ortak_engine *const *e, struct pmodel *m, struct pgen *g) {
    static struct ortak_cmd cmds[P_CURS + P_BANKS + P_CURS * (1 + 5 * P_BANKS)];
    uint32_t n = 0;
    for (int c = 0; c < P_CURS; c++)
        cmds[n++] = tu_participant(g->t += SEC, cb_bic[p_cur[c]], cb_name[p_cur[c]], ORTAK_ROLE_CENTRAL_BANK);
    for (int k = 0; k < P_BANKS; k++) cmds[n++] = tu_participant(g->t += SEC, p_bic[k], "A bank", ORTAK_ROLE_BANK);
    for (int c = 0; c < P_CURS; c++) {
        const char *code = cur_code[p_cur[c]];
        cmds[n++] = tu_account(g->t += SEC, PI(c), cb_bic[p_cur[c]], code, ORTAK_ACCOUNT_ISSUANCE);
        for (int k = 0; k < P_BANKS; k++) {
            cmds[n++] = tu_account(g->t += SEC, PS(c, k), p_bic[k], code, ORTAK_ACCOUNT_SETTLEMENT);
            cmds[n++] = tu_account(g->t += SEC, PC(c, k), p_bic[k], code, ORTAK_ACCOUNT_COLLATERAL);
        }
        for (int k = 0; k < P_BANKS; k++) {
            uint64_t col = rnd(g, 100000), set = rnd(g, 50000);
            if (col) cmds[n++] = tu_transfer(g->t += SEC, g->next_tid++, PI(c), PC(c, k), col, 0);
            if (set) cmds[n++] = tu_transfer(g->t += SEC, g->next_tid++, PI(c), PS(c, k), set, 0);
            cmds[n++] = cap_cmd(g->t += SEC, PS(c, k), (int64_t)rnd(g, col + 1));
        }
    }
    assert_true(n <= sizeof cmds / sizeof cmds[0]);
    uint64_t batch = 0;
    for (uint32_t i = 0; i < n; i += P_BATCH_MAX, batch++) {
        uint32_t k = n - i < P_BATCH_MAX ? n - i : P_BATCH_MAX;
        p_apply(e, m, cmds + i, k, batch);
        uint32_t ne;
        (void)ortak_engine_events(e[0], &ne);
        assert_true(ne > 0);
    }
    return batch;
}

static void p_run(uint64_t seed) {
    struct ortak_config cfg = p_config();
    struct ortak_engine *e[2] = {NULL, NULL};
    assert_int_equal(ortak_engine_open(&cfg, &e[0]), ORTAK_OK);
    assert_int_equal(ortak_engine_open(&cfg, &e[1]), ORTAK_OK);
    struct pmodel *m = calloc(1, sizeof *m);
    struct pgen *g = calloc(1, sizeof *g);
    assert_non_null(m);
    assert_non_null(g);
    *g = (struct pgen){.rs = seed, .t = T0, .next_pid = 1, .next_tid = UINT64_C(1) << 40};
    for (int c = 0; c < P_CURS; c++) m->window[c] = 1;
    uint64_t batch = p_setup(e, m, g);
    uint32_t done = 0;
    while (done < P_COMMANDS) {
        struct ortak_cmd cmds[P_BATCH_MAX];
        uint32_t n = 1 + (uint32_t)rnd(g, P_BATCH_MAX);
        for (uint32_t i = 0; i < n; i++) cmds[i] = gen_command(g, e[0]);
        p_apply(e, m, cmds, n, batch++);
        done += n;
    }
    assert_true(g->next_pid < P_PAYMENTS);
    /* The end of the day: everyone active, net settlement open, every window closed. */
    struct ortak_cmd end[P_BANKS + 1 + P_CURS];
    uint32_t n = 0;
    for (int k = 0; k < P_BANKS; k++) end[n++] = tu_status(g->t += SEC, p_bic[k], ORTAK_PARTICIPANT_ACTIVE);
    end[n++] = tu_cutoff(g->t += SEC, 1u << NORM, 1);
    for (int c = 0; c < P_CURS; c++) end[n++] = close_cmd(g->t += SEC, cur_code[p_cur[c]]);
    p_apply(e, m, end, n, batch++);
    /* Every net payment accepted has settled, once, at its window's close. */
    for (uint64_t id = 1; id < g->next_pid; id++) {
        if (m->pay[id].state == 0) continue;
        assert_int_equal(m->pay[id].state, ORTAK_PAYMENT_SETTLED);
    }
    for (int c = 0; c < P_CURS; c++) assert_int_equal(m->nmembers[c], 0);
    assert_int_equal(m->accepted, m->settled);
    const uint32_t *rf = m->refused, *cr = m->cmd_refused;
    print_message("seed %llx: %llu batches; %u net payments accepted and settled in %u closes (%u by command, %u by "
                  "time, %u empty, %u using collateral: %u caps lowered; %u transfers; %u rows of suspended banks); "
                  "net refused: %u over cap, %u not active, %u window closed, %u method; caps refused: %u above "
                  "collateral, %u in use, %u negative; collateral debits refused: %u insufficient, %u flags; %u "
                  "replays; %u gross settlements\n",
                  (unsigned long long)seed, (unsigned long long)batch, m->accepted, m->closes_cmd + m->closes_time,
                  m->closes_cmd, m->closes_time, m->closes_empty, m->closes_collateral, m->cap_lowered,
                  m->close_transfers, m->suspended_rows, rf[ORTAK_NET_CAP_EXCEEDED], rf[ORTAK_PARTICIPANT_NOT_ACTIVE],
                  rf[ORTAK_NET_WINDOW_CLOSED], rf[ORTAK_METHOD_INVALID], cr[ORTAK_NET_CAP_ABOVE_COLLATERAL],
                  cr[ORTAK_NET_CAP_IN_USE], cr[ORTAK_NEGATIVE_AMOUNT], cr[ORTAK_INSUFFICIENT_FUNDS],
                  cr[ORTAK_FLAGS_INVALID], m->replays, m->gross_settled);
    assert_true(m->accepted > 500 && m->closes_cmd > 0 && m->closes_time > 0 && m->closes_empty > 0);
    assert_true(m->closes_collateral > 0 && m->cap_lowered > 0 && m->suspended_rows > 0);
    assert_true(rf[ORTAK_NET_CAP_EXCEEDED] > 0 && rf[ORTAK_PARTICIPANT_NOT_ACTIVE] > 0 &&
                rf[ORTAK_NET_WINDOW_CLOSED] > 0 && rf[ORTAK_METHOD_INVALID] > 0);
    assert_true(cr[ORTAK_NET_CAP_ABOVE_COLLATERAL] > 0 && cr[ORTAK_NET_CAP_IN_USE] > 0 &&
                cr[ORTAK_INSUFFICIENT_FUNDS] > 0 && cr[ORTAK_FLAGS_INVALID] > 0);
    assert_true(m->replays > 0 && m->gross_settled > 0);
    free(g);
    free(m);
    ortak_engine_close(e[0]);
    ortak_engine_close(e[1]);
}

static void test_property_seed1(void **state) {
    (void)state;
    p_run(1);
}
static void test_property_seed2(void **state) {
    (void)state;
    p_run(0x5eed2026);
}
static void test_property_seed3(void **state) {
    (void)state;
    p_run(0xa2b4c8d0);
}

int main(int argc, char **argv) {
    const struct CMUnitTest unit[] = {
        cmocka_unit_test_setup_teardown(test_worked_kzt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worked_try, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worked_azn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worked_uzs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_debtors_from_collateral, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payment_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collateral_and_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cutoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_periodic, setup_periodic, teardown),
        cmocka_unit_test_setup_teardown(test_periodic_after_chain, setup_periodic, teardown),
        cmocka_unit_test_setup_teardown(test_suspended, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_close_in_open_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsettled_transfers_full, setup_few_transfers, teardown),
        cmocka_unit_test_setup_teardown(test_gross_and_net, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_mid_window, setup_periodic, teardown),
        cmocka_unit_test_setup_teardown(test_close_fits_sources_plus_sinks_minus_one, setup_few_transfers, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_after_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_after_method_refused, setup, teardown),
    };
    const struct CMUnitTest property[] = {
        cmocka_unit_test(test_property_seed1),
        cmocka_unit_test(test_property_seed2),
        cmocka_unit_test(test_property_seed3),
    };
    if (argc > 1 && strcmp(argv[1], "property") == 0)
        return cmocka_run_group_tests_name("netting_property", property, NULL, NULL);
    if (argc > 1) {
        fprintf(stderr, "usage: test_netting [property]\n");
        return 2;
    }
    return cmocka_run_group_tests_name("netting_unit", unit, NULL, NULL);
}
