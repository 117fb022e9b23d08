/*
 * Unit and property tests of cross-currency payments (fx.h), driven through the engine: FX providers' rates
 * (publish, replace, withdraw, refusals), firm quotes (conversion and its rounding, choice of the best rate, the
 * hold on the provider's liquidity, refusals), payments versus payment (both legs or neither: at once, from the
 * queue, by offsetting and by gridlock resolution; refused, expired, cancelled, rejected; engine time carried by
 * linked chains; payees no longer active), the journal's batch encoding and the canonical state.
 *
 * Run without arguments for the unit tests (CTest fx_unit), with the argument `property` for the property test over
 * random FX traffic (CTest fx_property).
 *
 * Fixture (setup): the default configuration with small limits, no periodic gridlock runs and no periodic net
 * windows. Four currencies of the default set (AZN, KZT, UZS, TRY, two minor units each), each with its central
 * bank and issuance account and three banks with a settlement account; three FX providers with a settlement account
 * in each of the four currencies; and a fourth provider with an AZN account only. Nothing is funded and no rate is
 * published: each test does what it needs, so its numbers are all in view. Every command takes a timestamp one
 * second after the previous one.
 *
 * Tests assert values: result codes and flags, the events of each batch with their fields in order, balances and
 * held amounts, quotes as ortak_fx_quote_get reports them (state included), rates as ortak_fx_rate_get reports
 * them, payment states and times, and the transfers booked.
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
#define FAR (T0 + 86400 * SEC) /* a validity end no test reaches */

#define NORM ORTAK_PRIORITY_NORMAL
#define URG ORTAK_PRIORITY_URGENT
#define SRC ORTAK_FX_FIXED_SOURCE
#define TGT ORTAK_FX_FIXED_TARGET

/* A rate of `units`.`hundredths` quote units per base unit, x 10^9: RATE(294, 50) is 294.50. */
#define RATE(units, hundredths) \
    ((uint64_t)(units)*ORTAK_FX_RATE_SCALE + (uint64_t)(hundredths) * (ORTAK_FX_RATE_SCALE / 100))

/* The fixture's currencies: their place here (c) and their ISO numbers. */
enum { AZN, KZT, UZS, TRY, CURS };
static const char *const cur_code[CURS] = {"AZN", "KZT", "UZS", "TRY"};
static const uint16_t cur_numeric[CURS] = {944, 398, 860, 949};
static const char *const cb_bic[CURS] = {"NABZAZ2X", "NBRKKZKX", "CBUZUZ22", "TCMBTR2A"};
static const char *const cb_name[CURS] = {"Central Bank of the Republic of Azerbaijan", "National Bank of Kazakhstan",
                                          "Central Bank of the Republic of Uzbekistan",
                                          "Central Bank of the Republic of Turkiye"};
#define BANKS 3
static const char *const bank_bic[CURS][BANKS] = {
    {"IBAZAZ2X", "PAHAAZ22", "KAPIAZ2X"},
    {"HSBKKZKX", "KCJBKZKX", "CASPKZKA"},
    {"NBFAUZ2X", "KACHUZ22", "HAMKUZ22"},
    {"TCZBTR2A", "ISBKTRIS", "AKBKTRIS"},
};
static const char *const bank_name[CURS][BANKS] = {
    {"International Bank of Azerbaijan", "Pasha Bank", "Kapital Bank"},
    {"Halyk Bank", "Kaspi Bank", "Bank CenterCredit"},
    {"National Bank of Uzbekistan", "Kapitalbank", "Hamkorbank"},
    {"Ziraat Bankasi", "Is Bankasi", "Akbank"},
};
/* FX providers: three with accounts in every currency, and one with an AZN account only. */
#define PROVIDERS 3
enum { P1, P2, P3 };
static const char *const prov_bic[PROVIDERS] = {"FXKZKZKA", "FXTRTRIS", "FXUZUZ22"};
static const char *const prov_name[PROVIDERS] = {"Steppe FX", "Bosphorus FX", "Silk Road FX"};
#define HALF_BIC "FXAZAZ22"

/* Account ids: the issuance account (c + 1) * 100, bank k's settlement account + 1 + k, provider j's + 70 + j. */
#define ISS(c) ((ortak_u128)((c) + 1) * 100)
#define SET(c, k) (ISS(c) + 1 + (k))
#define PRV(c, j) (ISS(c) + 70 + (j))
#define HALF_AZN (ISS(AZN) + 79)
/* Short names for the worked examples: bank 1..3 of each currency. */
#define Z1 SET(AZN, 0)
#define Z2 SET(AZN, 1)
#define Z3 SET(AZN, 2)
#define K1 SET(KZT, 0)
#define K2 SET(KZT, 1)
#define K3 SET(KZT, 2)
#define U1 SET(UZS, 0)
#define U2 SET(UZS, 1)
#define T1 SET(TRY, 0)
#define T2 SET(TRY, 1)

/* The system's transfer ids of quote x (the x-th quote given, from 0): its hold, the hold's post and its void. */
static ortak_u128 sysid(uint32_t kind, uint32_t x) { return ((ortak_u128)0xffff << 112) | (ortak_u128)kind << 104 | x; }
#define HOLD_ID(x) sysid(2, x)
#define POST_ID(x) sysid(3, x)
#define FEE_ID(x) sysid(5, x)
#define VOID_ID(x) sysid(4, x)

/* A participant event's id: its BIC's 11 bytes, a BIC8 completed with XXX, the first byte the highest. */
static ortak_u128 bic_id(const char *bic) {
    ortak_u128 id = 0;
    size_t len = strnlen(bic, 11);
    for (size_t k = 0; k < 11; k++) id = id << 8 | (unsigned char)(k < len ? bic[k] : 'X');
    return id;
}

struct fix {
    struct ortak_engine *e;
    ortak_time_ns now;
    uint64_t next_fund;           /* ids of funding transfers */
    struct ortak_engine *more[3]; /* further engines a test opens; closed by teardown */
};

/* ---- helpers ----------------------------------------------------------------------------------------------- */

static ortak_time_ns fix_t(struct fix *f) { return f->now += SEC; }
static struct ortak_result fix_apply(struct fix *f, struct ortak_cmd cmd) { return tu_apply1(f->e, &cmd); }
static ortak_rc fix_rc(struct fix *f, struct ortak_cmd cmd) { return tu_apply1_rc(f->e, cmd); }
static void fix_ok(struct fix *f, struct ortak_cmd cmd) { assert_int_equal(fix_rc(f, cmd), ORTAK_OK); }

/* ORTAK_CMD_FX_RATE_SET: publish (or replace) a rate. */
static struct ortak_cmd rate_cmd(ortak_time_ns ts, const char *provider, const char *base, const char *quote,
                                 uint64_t bid, uint64_t ask, uint64_t max_amount, ortak_time_ns valid_until_ns) {
    struct ortak_cmd c = tu_cmd(ts, ORTAK_CMD_FX_RATE_SET);
    tu_copy(c.u.fx_rate.provider, sizeof c.u.fx_rate.provider, provider);
    tu_copy(c.u.fx_rate.base, sizeof c.u.fx_rate.base, base);
    tu_copy(c.u.fx_rate.quote, sizeof c.u.fx_rate.quote, quote);
    c.u.fx_rate.bid = bid;
    c.u.fx_rate.ask = ask;
    c.u.fx_rate.max_amount = max_amount;
    c.u.fx_rate.valid_until_ns = valid_until_ns;
    return c;
}

static struct ortak_cmd withdraw_cmd(ortak_time_ns ts, const char *provider, const char *base, const char *quote) {
    struct ortak_cmd c = rate_cmd(ts, provider, base, quote, 0, 0, 0, 0);
    c.u.fx_rate.withdraw = 1;
    return c;
}

/* ORTAK_CMD_FX_QUOTE: a quote from `dr` (source currency) to `cr` (target currency); ttl 0 = the default. */
static struct ortak_cmd quote_cmd(ortak_time_ns ts, ortak_u128 id, ortak_u128 dr, ortak_u128 cr, uint64_t amount,
                                  uint8_t fixed, uint32_t ttl_s) {
    struct ortak_cmd c = tu_cmd(ts, ORTAK_CMD_FX_QUOTE);
    c.u.fx_quote.id = id;
    c.u.fx_quote.debit_account_id = dr;
    c.u.fx_quote.credit_account_id = cr;
    c.u.fx_quote.amount = amount;
    c.u.fx_quote.ttl_s = ttl_s;
    c.u.fx_quote.fixed = fixed;
    return c;
}

/* A gross payment at normal priority carrying quote `quote_id`. */
static struct ortak_cmd pvp_cmd(ortak_time_ns ts, ortak_u128 id, ortak_u128 dr, ortak_u128 cr, uint64_t amount,
                                ortak_u128 quote_id) {
    struct ortak_cmd c = tu_payment(ts, id, dr, cr, amount, NORM);
    c.u.payment.quote_id = quote_id;
    return c;
}

static struct ortak_cmd gridlock_cmd(ortak_time_ns ts, uint8_t mode, const char *currency) {
    struct ortak_cmd c = tu_cmd(ts, ORTAK_CMD_GRIDLOCK);
    c.u.gridlock.mode = mode;
    tu_copy(c.u.gridlock.currency, sizeof c.u.gridlock.currency, currency);
    return c;
}

/* New liquidity for `to` from its currency's issuance account. */
static void fix_fund(struct fix *f, int c, ortak_u128 to, uint64_t amount) {
    fix_ok(f, tu_transfer(fix_t(f), 5000 + f->next_fund++, ISS(c), to, amount, 0));
}

/* Publishes a rate valid until FAR. */
static void fix_rate(struct fix *f, int j, int base, int quote, uint64_t bid, uint64_t ask, uint64_t max_amount) {
    fix_ok(f, rate_cmd(fix_t(f), prov_bic[j], cur_code[base], cur_code[quote], bid, ask, max_amount, FAR));
}

/* Applies a command at the next timestamp and asserts its result: code, flags, no fail index (caller's line). */
static void check_result(struct fix *f, struct ortak_cmd c, ortak_rc rc, uint32_t flags, const char *file, int line) {
    c.timestamp = fix_t(f);
    struct ortak_result r = tu_apply1(f->e, &c);
    if (r.rc == (uint32_t)rc && r.flags == flags && r.fail_index == UINT32_MAX) return;
    print_error("command kind %u: rc %s flags %u, expected %s flags %u\n", c.kind, ortak_rc_name((ortak_rc)r.rc),
                r.flags, ortak_rc_name(rc), flags);
    _fail(file, line);
}
/* The command (its timestamp replaced by the next one) gives `rc`. */
#define assert_cmd(f, c, rc) check_result(f, c, rc, 0, __FILE__, __LINE__)
#define assert_cmd_ok(f, c) check_result(f, c, ORTAK_OK, 0, __FILE__, __LINE__)
#define assert_queued_cmd(f, c) check_result(f, c, ORTAK_OK, ORTAK_RESULT_QUEUED, __FILE__, __LINE__)
#define assert_replayed_cmd(f, c, rc) check_result(f, c, rc, ORTAK_RESULT_REPLAYED, __FILE__, __LINE__)

static const struct ortak_ledger *fix_ledger(const struct fix *f) { return ortak_engine_ledger(f->e); }
static const struct ortak_settle *fix_settle(const struct fix *f) { return ortak_engine_settle(f->e); }
static const struct ortak_fx *fix_fx(const struct fix *f) { return ortak_engine_fx(f->e); }

/* An account's balance, what is held on it as debit and as credit, and its available liquidity. */
static void check_account(const struct fix *f, ortak_u128 id, int64_t balance, int64_t debits_pending,
                          int64_t credits_pending, const char *file, int line) {
    struct ortak_account_info a = tu_account_info(f->e, id);
    if (a.id == id && a.balance == balance && a.debits_pending == debits_pending &&
        a.credits_pending == credits_pending && a.available == balance - debits_pending + a.credit_line - a.reserved)
        return;
    print_error("account %llu: balance %lld debits pending %lld credits pending %lld available %lld; expected %lld "
                "%lld %lld\n",
                (unsigned long long)id, (long long)a.balance, (long long)a.debits_pending, (long long)a.credits_pending,
                (long long)a.available, (long long)balance, (long long)debits_pending, (long long)credits_pending);
    _fail(file, line);
}
#define assert_account(f, id, balance, dp, cp) check_account(f, id, balance, dp, cp, __FILE__, __LINE__)

/* A payment's state, result code and end time. */
static void check_payment(const struct fix *f, ortak_u128 id, uint8_t state, ortak_rc rc, ortak_time_ns ended,
                          const char *file, int line) {
    struct ortak_payment_info p;
    ortak_rc got = ortak_settle_payment_get(fix_settle(f), id, &p);
    if (got == ORTAK_OK && p.state == state && p.rc == rc && p.ended_ns == ended) return;
    print_error("payment %llu: get %s, state %s rc %s ended %llu; expected %s rc %s ended %llu\n",
                (unsigned long long)id, ortak_rc_name(got), ortak_payment_state_name(p.state), ortak_rc_name(p.rc),
                (unsigned long long)p.ended_ns, ortak_payment_state_name(state), ortak_rc_name(rc),
                (unsigned long long)ended);
    _fail(file, line);
}
#define assert_settled(f, id, at) check_payment(f, id, ORTAK_PAYMENT_SETTLED, ORTAK_OK, at, __FILE__, __LINE__)
#define assert_queued(f, id) check_payment(f, id, ORTAK_PAYMENT_QUEUED, ORTAK_OK, 0, __FILE__, __LINE__)
#define assert_rejected(f, id, rc, at) check_payment(f, id, ORTAK_PAYMENT_REJECTED, rc, at, __FILE__, __LINE__)
#define assert_cancelled(f, id, at) check_payment(f, id, ORTAK_PAYMENT_CANCELLED, ORTAK_OK, at, __FILE__, __LINE__)

/* What a quote should be: its provider, currencies, amounts, rate, times, hold, payment and state. */
struct xquote {
    const char *provider, *source, *target;
    uint64_t source_amount, target_amount, rate;
    ortak_time_ns created, expires;
    uint32_t index; /* its place among the quotes given: its hold is HOLD_ID(index) */
    ortak_u128 payment;
    uint8_t state;
};

/* Quote `id` as ortak_fx_quote_get reports it, its request as sent (`req`), against `want`. */
static void check_quote(const struct fix *f, const struct ortak_cmd *req, struct xquote want, const char *file,
                        int line) {
    struct ortak_fx_quote_info q;
    memset(&q, 0xa5, sizeof q);
    const struct ortak_fx_quote_request *r = &req->u.fx_quote;
    ortak_rc rc = ortak_fx_quote_get(fix_fx(f), r->id, &q);
    bool same_req = q.req.id == r->id && q.req.debit_account_id == r->debit_account_id &&
                    q.req.credit_account_id == r->credit_account_id && q.req.amount == r->amount &&
                    q.req.ttl_s == r->ttl_s && q.req.fixed == r->fixed;
    if (rc == ORTAK_OK && same_req && strcmp(q.provider, want.provider) == 0 && strcmp(q.source, want.source) == 0 &&
        strcmp(q.target, want.target) == 0 && q.source_amount == want.source_amount &&
        q.target_amount == want.target_amount && q.rate == want.rate && q.created_ns == want.created &&
        q.expires_ns == want.expires && q.hold_id == HOLD_ID(want.index) && q.payment_id == want.payment &&
        q.state == want.state)
        return;
    print_error("quote %llu: %s; provider %.11s %.3s -> %.3s, source %llu target %llu rate %llu created %llu expires "
                "%llu hold %llx payment %llu state %u\n",
                (unsigned long long)r->id, ortak_rc_name(rc), q.provider, q.source, q.target,
                (unsigned long long)q.source_amount, (unsigned long long)q.target_amount, (unsigned long long)q.rate,
                (unsigned long long)q.created_ns, (unsigned long long)q.expires_ns, (unsigned long long)q.hold_id,
                (unsigned long long)q.payment_id, q.state);
    print_error("expected %s %s -> %s, source %llu target %llu rate %llu created %llu expires %llu hold %u payment "
                "%llu state %u\n",
                want.provider, want.source, want.target, (unsigned long long)want.source_amount,
                (unsigned long long)want.target_amount, (unsigned long long)want.rate, (unsigned long long)want.created,
                (unsigned long long)want.expires, want.index, (unsigned long long)want.payment, want.state);
    _fail(file, line);
}
#define assert_quote(f, req, ...) check_quote(f, &(req), (struct xquote){__VA_ARGS__}, __FILE__, __LINE__)
#define assert_no_quote(f, id)                                                                         \
    do {                                                                                               \
        struct ortak_fx_quote_info q_;                                                                 \
        assert_int_equal(ortak_fx_quote_get(fix_fx(f), (ortak_u128)(id), &q_), ORTAK_QUOTE_NOT_FOUND); \
    } while (0)
/* Only the state of quote `id`. */
static uint8_t quote_state(const struct fix *f, ortak_u128 id) {
    struct ortak_fx_quote_info q;
    assert_int_equal(ortak_fx_quote_get(fix_fx(f), id, &q), ORTAK_OK);
    return q.state;
}

/* A rate as ortak_fx_rate_get reports it. */
static void check_rate(const struct fix *f, const char *provider, const char *base, const char *quote, uint64_t bid,
                       uint64_t ask, uint64_t max_amount, ortak_time_ns until, const char *file, int line) {
    struct ortak_fx_rate r;
    memset(&r, 0xa5, sizeof r);
    ortak_rc rc = ortak_fx_rate_get(fix_fx(f), provider, base, quote, &r);
    if (rc == ORTAK_OK && strcmp(r.provider, provider) == 0 && strcmp(r.base, base) == 0 &&
        strcmp(r.quote, quote) == 0 && r.bid == bid && r.ask == ask && r.max_amount == max_amount &&
        r.valid_until_ns == until && r.withdraw == 0)
        return;
    print_error("rate %s %s/%s: %s, bid %llu ask %llu max %llu until %llu\n", provider, base, quote, ortak_rc_name(rc),
                (unsigned long long)r.bid, (unsigned long long)r.ask, (unsigned long long)r.max_amount,
                (unsigned long long)r.valid_until_ns);
    _fail(file, line);
}
#define assert_rate(f, provider, base, quote, bid, ask, max, until) \
    check_rate(f, provider, base, quote, bid, ask, max, until, __FILE__, __LINE__)
#define assert_no_rate(f, provider, base, quote)                                                             \
    do {                                                                                                     \
        struct ortak_fx_rate r_;                                                                             \
        assert_int_equal(ortak_fx_rate_get(fix_fx(f), provider, base, quote, &r_), ORTAK_FX_RATE_NOT_FOUND); \
    } while (0)

/* A transfer the engine booked for an FX quote or a payment: accounts, amount, flags, code and state. */
static void check_transfer(const struct fix *f, ortak_u128 id, ortak_u128 dr, ortak_u128 cr, uint64_t booked,
                           uint16_t flags, uint16_t code, uint8_t pending_state, const char *file, int line) {
    struct ortak_transfer_info t;
    ortak_rc rc = ortak_ledger_transfer_get(fix_ledger(f), id, &t);
    if (rc == ORTAK_OK && t.rc == ORTAK_OK && t.t.debit_account_id == dr && t.t.credit_account_id == cr &&
        t.amount_booked == booked && t.t.flags == flags && t.t.code == code && t.pending_state == pending_state)
        return;
    print_error("transfer %llx: %s rc %s dr %llu cr %llu booked %llu flags %u code %u pending state %u\n",
                (unsigned long long)id, ortak_rc_name(rc), ortak_rc_name(t.rc),
                (unsigned long long)t.t.debit_account_id, (unsigned long long)t.t.credit_account_id,
                (unsigned long long)t.amount_booked, t.t.flags, t.t.code, t.pending_state);
    _fail(file, line);
}
#define assert_transfer(f, id, dr, cr, booked, flags, code, state) \
    check_transfer(f, id, dr, cr, booked, flags, code, state, __FILE__, __LINE__)
/* Quote x's hold: provider's target account -> payee, pending, code 3, in `state`. */
#define assert_hold(f, x, dr, cr, amount, state) \
    check_transfer(f, HOLD_ID(x), dr, cr, amount, ORTAK_TRANSFER_PENDING, 3, state, __FILE__, __LINE__)
#define assert_no_transfer(f, id)                                                                      \
    do {                                                                                               \
        struct ortak_transfer_info t_;                                                                 \
        assert_int_equal(ortak_ledger_transfer_get(fix_ledger(f), id, &t_), ORTAK_TRANSFER_NOT_FOUND); \
    } while (0)

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

/* Shorthands: rates, quotes and their holds, transfers, payments (the tests' payments carry no UETR), runs. */
#define EV_RATE(bic, bid, ask) \
    { ORTAK_EV_FX_RATE, bic_id(bic), (int64_t)(bid), 1, (int64_t)(ask), 0, 0, 0 }
#define EV_WITHDRAWN(bic) \
    { ORTAK_EV_FX_RATE, bic_id(bic), 0, 0, 0, 0, 0, 0 }
#define EV_HOLD(x, dr, cr, tgt) \
    { ORTAK_EV_PENDING_CREATED, HOLD_ID(x), (tgt), 0, 0, 0, (dr), (cr) }
#define EV_QUOTED(id, x, dr, cr, src, tgt) \
    { ORTAK_EV_FX_QUOTED, (id), (src), 0, (tgt), HOLD_ID(x), (dr), (cr) }
#define EV_HOLD_POSTED(x, dr, cr, tgt) \
    { ORTAK_EV_PENDING_POSTED, POST_ID(x), (tgt), 0, 0, HOLD_ID(x), (dr), (cr) }
#define EV_HOLD_VOIDED(x, dr, cr, tgt) \
    { ORTAK_EV_PENDING_VOIDED, VOID_ID(x), (tgt), 0, 0, HOLD_ID(x), (dr), (cr) }
#define EV_HOLD_EXPIRED(x, dr, cr, tgt) \
    { ORTAK_EV_PENDING_EXPIRED, HOLD_ID(x), (tgt), 0, 0, 0, (dr), (cr) }
#define EV_POSTED(id, dr, cr, amt) \
    { ORTAK_EV_TRANSFER_POSTED, (id), (amt), 0, 0, 0, (dr), (cr) }
#define EV_SETTLED(id, dr, cr, amt) \
    { ORTAK_EV_PAYMENT_SETTLED, (id), (amt), 0, 0, 0, (dr), (cr) }
#define EV_QUEUED(id, dr, cr, amt, pr) \
    { ORTAK_EV_PAYMENT_QUEUED, (id), (amt), (pr), 0, 0, (dr), (cr) }
#define EV_REJECTED(id, dr, cr, amt, rc) \
    { ORTAK_EV_PAYMENT_REJECTED, (id), (amt), (rc), 0, 0, (dr), (cr) }
#define EV_CANCELLED(id, dr, cr, amt) \
    { ORTAK_EV_PAYMENT_CANCELLED, (id), (amt), 0, 0, 0, (dr), (cr) }
#define EV_OFFSET(id, dr, cr, n) \
    { ORTAK_EV_OFFSET, (id), (n), 0, 0, 0, (dr), (cr) }
#define EV_GRIDLOCK(numeric, mode, queued, settled, value) \
    { ORTAK_EV_GRIDLOCK, (numeric), (settled), (mode), (queued), (ortak_u128)(value), 0, 0 }
#define EV_CUTOFF(mask, open) \
    { ORTAK_EV_CUTOFF, 0, (open), (mask), 0, 0, 0, 0 }
#define EV_STATUS(bic, st) \
    { ORTAK_EV_PARTICIPANT_STATUS, bic_id(bic), 0, (st), 0, 0, 0, 0 }

static void print_events(const struct ortak_event *ev, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        print_error("  kind %u id %llx:%llx amount %lld status %u amount_old %lld ref %llx:%llx dr %llu cr %llu cmd "
                    "%u\n",
                    ev[i].kind, (unsigned long long)(ev[i].id >> 64), (unsigned long long)ev[i].id,
                    (long long)ev[i].amount, ev[i].status, (long long)ev[i].amount_old,
                    (unsigned long long)(ev[i].ref >> 64), (unsigned long long)ev[i].ref,
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
        print_error("  kind %u id %llx:%llx amount %lld status %u amount_old %lld ref %llx:%llx dr %llu cr %llu\n",
                    want[i].kind, (unsigned long long)(want[i].id >> 64), (unsigned long long)want[i].id,
                    (long long)want[i].amount, want[i].status, (long long)want[i].amount_old,
                    (unsigned long long)(want[i].ref >> 64), (unsigned long long)want[i].ref,
                    (unsigned long long)want[i].dr, (unsigned long long)want[i].cr);
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
static void assert_events_at(const struct fix *f, uint32_t index, ortak_time_ns at) {
    uint32_t n;
    const struct ortak_event *ev = ortak_engine_events(f->e, &n);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(ev[i].command_index, index);
        assert_int_equal(ev[i].timestamp, at);
    }
}

/* Submits a payment at the next timestamp, refused with `rc` and recorded: its result, its event, its state. */
static void check_refused_payment(struct fix *f, struct ortak_cmd c, ortak_rc rc, const char *file, int line) {
    c.timestamp = fix_t(f);
    struct ortak_result r = tu_apply1(f->e, &c);
    const struct ortak_payment *p = &c.u.payment;
    struct xev want = EV_REJECTED(p->id, p->debit_account_id, p->credit_account_id, (int64_t)p->amount, rc);
    if (r.rc != (uint32_t)rc || r.flags != 0) {
        print_error("payment %llu: rc %s flags %u, expected %s\n", (unsigned long long)p->id,
                    ortak_rc_name((ortak_rc)r.rc), r.flags, ortak_rc_name(rc));
        _fail(file, line);
    }
    check_engine_events(f->e, &want, 1, file, line);
    check_payment(f, p->id, ORTAK_PAYMENT_REJECTED, rc, c.timestamp, file, line);
    /* A refused payment books nothing under its id. */
    struct ortak_transfer_info t;
    if (ortak_ledger_transfer_get(fix_ledger(f), p->id, &t) != ORTAK_TRANSFER_NOT_FOUND) _fail(file, line);
}
#define assert_refused_payment(f, c, rc) check_refused_payment(f, c, rc, __FILE__, __LINE__)

/* A command refused with `rc` that leaves nothing behind: no event. */
static void check_refused(struct fix *f, struct ortak_cmd c, ortak_rc rc, const char *file, int line) {
    check_result(f, c, rc, 0, file, line);
    check_engine_events(f->e, NULL, 0, file, line);
}
#define assert_refused(f, c, rc) check_refused(f, c, rc, __FILE__, __LINE__)

/* ---- fixture ----------------------------------------------------------------------------------------------- */

static struct ortak_config fix_config(void) {
    struct ortak_config cfg;
    ortak_config_default(&cfg);
    cfg.limits.participants_max = 32;
    cfg.limits.accounts_max = 64;
    cfg.limits.transfers_max = 4096;
    cfg.limits.pending_max = 64;
    cfg.limits.history_max = 1024;
    cfg.limits.batch_max = 64;
    cfg.limits.payments_max = 256;
    cfg.limits.quotes_max = 64;
    cfg.limits.fx_rates_max = 16;
    cfg.settlement.gridlock_interval_ms = 0;
    for (uint32_t i = 0; i < cfg.currency_count; i++) cfg.currencies[i].net_window_ms = 0;
    return cfg;
}

/*
 * The fixture's commands, one per batch: participants (per currency its central bank and banks; then the
 * providers), then per currency its accounts: issuance, the banks', the providers' (the fourth provider's in AZN).
 */
static void fix_build(struct fix *f) {
    f->now = T0;
    for (int c = 0; c < CURS; c++) {
        fix_ok(f, tu_participant(fix_t(f), cb_bic[c], cb_name[c], ORTAK_ROLE_CENTRAL_BANK));
        for (int k = 0; k < BANKS; k++)
            fix_ok(f, tu_participant(fix_t(f), bank_bic[c][k], bank_name[c][k], ORTAK_ROLE_BANK));
    }
    for (int j = 0; j < PROVIDERS; j++)
        fix_ok(f, tu_participant(fix_t(f), prov_bic[j], prov_name[j], ORTAK_ROLE_FX_PROVIDER));
    fix_ok(f, tu_participant(fix_t(f), HALF_BIC, "Caspian FX", ORTAK_ROLE_FX_PROVIDER));
    for (int c = 0; c < CURS; c++) {
        fix_ok(f, tu_account(fix_t(f), ISS(c), cb_bic[c], cur_code[c], ORTAK_ACCOUNT_ISSUANCE));
        for (int k = 0; k < BANKS; k++)
            fix_ok(f, tu_account(fix_t(f), SET(c, k), bank_bic[c][k], cur_code[c], ORTAK_ACCOUNT_SETTLEMENT));
        for (int j = 0; j < PROVIDERS; j++)
            fix_ok(f, tu_account(fix_t(f), PRV(c, j), prov_bic[j], cur_code[c], ORTAK_ACCOUNT_SETTLEMENT));
    }
    fix_ok(f, tu_account(fix_t(f), HALF_AZN, HALF_BIC, "AZN", ORTAK_ACCOUNT_SETTLEMENT));
}

static int setup_with(void **state, struct ortak_config cfg) {
    struct fix *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(ortak_engine_open(&cfg, &f->e), ORTAK_OK);
    fix_build(f);
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_with(state, fix_config()); }

/* Room for two rates and two quotes only. */
static int setup_small(void **state) {
    struct ortak_config cfg = fix_config();
    cfg.limits.fx_rates_max = 2;
    cfg.limits.quotes_max = 2;
    return setup_with(state, cfg);
}

/* Room for one pending transfer only. */
static int setup_one_pending(void **state) {
    struct ortak_config cfg = fix_config();
    cfg.limits.pending_max = 1;
    return setup_with(state, cfg);
}

static int teardown(void **state) {
    struct fix *f = *state;
    ortak_engine_close(f->e);
    for (size_t i = 0; i < sizeof f->more / sizeof f->more[0]; i++) ortak_engine_close(f->more[i]);
    free(f);
    return 0;
}

/* ---- 1. worked examples ------------------------------------------------------------------------------------ */

/*
 * AZN and KZT (amounts in qəpik and tiyn). Steppe FX publishes AZN/KZT with bid 294.00 and ask 296.00: it buys a
 * manat for 294 tenge and sells one for 296. It holds 10,000.00 AZN and 5,000,000.00 KZT.
 *
 *   AZN -> KZT, fixed source 1,000.00 AZN: the provider buys AZN at its bid, 100,000 x 294 = 29,400,000 tiyn,
 *     294,000.00 KZT exactly.
 *   AZN -> KZT, fixed target 100,000.00 KZT: 10,000,000 / 294 = 34,013.605... qəpik, rounded up: the payer pays
 *     340.14 AZN, 0.39 of a qəpik more than the exact price, which the provider keeps.
 *   KZT -> AZN, fixed source 50,000.00 KZT: the provider sells AZN at its ask, 5,000,000 / 296 = 16,891.89...
 *     qəpik, rounded down: the payee receives 168.91 AZN and the 0.89 of a qəpik stays with the provider.
 *   KZT -> AZN, fixed target 500.00 AZN: 50,000 x 296 = 14,800,000 tiyn, 148,000.00 KZT exactly.
 */
static void test_worked_azn_kzt(void **state) {
    struct fix *f = *state;
    ortak_time_ns at = fix_t(f);
    fix_ok(f, rate_cmd(at, prov_bic[P1], "AZN", "KZT", RATE(294, 0), RATE(296, 0), 100000000, FAR));
    assert_events(f, EV_RATE(prov_bic[P1], RATE(294, 0), RATE(296, 0)));
    assert_rate(f, prov_bic[P1], "AZN", "KZT", 294000000000, 296000000000, 100000000, FAR);
    fix_fund(f, AZN, PRV(AZN, P1), 1000000);
    fix_fund(f, KZT, PRV(KZT, P1), 500000000);
    fix_fund(f, AZN, Z1, 200000);
    fix_fund(f, KZT, K1, 20000000);

    /* AZN -> KZT, fixed source: the target held on the provider's KZT account for the payee. */
    struct ortak_cmd q1 = quote_cmd(at = fix_t(f), 1, Z1, K2, 100000, SRC, 0);
    fix_ok(f, q1);
    assert_events(f, EV_HOLD(0, PRV(KZT, P1), K2, 29400000), EV_QUOTED(1, 0, Z1, K2, 100000, 29400000));
    assert_events_at(f, 0, at);
    assert_quote(f, q1, "FXKZKZKA", "AZN", "KZT", 100000, 29400000, RATE(294, 0), at, at + 600 * SEC, 0, 0,
                 ORTAK_QUOTE_STATE_OPEN);
    assert_hold(f, 0, PRV(KZT, P1), K2, 29400000, ORTAK_PENDING_STATE_OPEN);
    assert_account(f, PRV(KZT, P1), 500000000, 29400000, 0);
    assert_account(f, K2, 0, 0, 29400000);

    /* The payment carrying it settles both legs at once. */
    fix_ok(f, pvp_cmd(at = fix_t(f), 11, Z1, K2, 100000, 1));
    assert_events(f, EV_POSTED(11, Z1, PRV(AZN, P1), 100000), EV_HOLD_POSTED(0, PRV(KZT, P1), K2, 29400000),
                  EV_SETTLED(11, Z1, K2, 100000));
    assert_events_at(f, 0, at);
    assert_settled(f, 11, at);
    assert_quote(f, q1, "FXKZKZKA", "AZN", "KZT", 100000, 29400000, RATE(294, 0), at - SEC, at + 599 * SEC, 0, 11,
                 ORTAK_QUOTE_STATE_SETTLED);
    assert_transfer(f, 11, Z1, PRV(AZN, P1), 100000, 0, 1, ORTAK_PENDING_STATE_NONE);
    assert_transfer(f, POST_ID(0), 0, 0, 29400000, ORTAK_TRANSFER_POST_PENDING, 3, ORTAK_PENDING_STATE_NONE);
    assert_hold(f, 0, PRV(KZT, P1), K2, 29400000, ORTAK_PENDING_STATE_POSTED);
    assert_account(f, Z1, 100000, 0, 0);
    assert_account(f, PRV(AZN, P1), 1100000, 0, 0);
    assert_account(f, PRV(KZT, P1), 470600000, 0, 0);
    assert_account(f, K2, 29400000, 0, 0);

    /* AZN -> KZT, fixed target: the source rounded up. */
    struct ortak_cmd q2 = quote_cmd(at = fix_t(f), 2, Z1, K3, 10000000, TGT, 0);
    fix_ok(f, q2);
    assert_events(f, EV_HOLD(1, PRV(KZT, P1), K3, 10000000), EV_QUOTED(2, 1, Z1, K3, 34014, 10000000));
    assert_quote(f, q2, "FXKZKZKA", "AZN", "KZT", 34014, 10000000, RATE(294, 0), at, at + 600 * SEC, 1, 0,
                 ORTAK_QUOTE_STATE_OPEN);
    assert_true(34013 * 294 < 10000000 && 34014 * 294 >= 10000000); /* the least whole source that buys it */

    /* KZT -> AZN, fixed source: the target rounded down; the hold is on the provider's AZN account. */
    struct ortak_cmd q3 = quote_cmd(at = fix_t(f), 3, K1, Z2, 5000000, SRC, 0);
    fix_ok(f, q3);
    assert_events(f, EV_HOLD(2, PRV(AZN, P1), Z2, 16891), EV_QUOTED(3, 2, K1, Z2, 5000000, 16891));
    assert_quote(f, q3, "FXKZKZKA", "KZT", "AZN", 5000000, 16891, RATE(296, 0), at, at + 600 * SEC, 2, 0,
                 ORTAK_QUOTE_STATE_OPEN);
    assert_true(16891 * 296 <= 5000000 && 16892 * 296 > 5000000); /* the most whole target it buys */

    /* KZT -> AZN, fixed target. */
    struct ortak_cmd q4 = quote_cmd(at = fix_t(f), 4, K1, Z3, 50000, TGT, 0);
    fix_ok(f, q4);
    assert_events(f, EV_HOLD(3, PRV(AZN, P1), Z3, 50000), EV_QUOTED(4, 3, K1, Z3, 14800000, 50000));
    assert_quote(f, q4, "FXKZKZKA", "KZT", "AZN", 14800000, 50000, RATE(296, 0), at, at + 600 * SEC, 3, 0,
                 ORTAK_QUOTE_STATE_OPEN);
    assert_account(f, PRV(AZN, P1), 1100000, 16891 + 50000, 0);
    assert_account(f, PRV(KZT, P1), 470600000, 10000000, 0);

    /* Two of them are paid; the fourth stays open. */
    fix_ok(f, pvp_cmd(fix_t(f), 12, Z1, K3, 34014, 2));
    assert_events(f, EV_POSTED(12, Z1, PRV(AZN, P1), 34014), EV_HOLD_POSTED(1, PRV(KZT, P1), K3, 10000000),
                  EV_SETTLED(12, Z1, K3, 34014));
    fix_ok(f, pvp_cmd(fix_t(f), 13, K1, Z2, 5000000, 3));
    assert_events(f, EV_POSTED(13, K1, PRV(KZT, P1), 5000000), EV_HOLD_POSTED(2, PRV(AZN, P1), Z2, 16891),
                  EV_SETTLED(13, K1, Z2, 5000000));
    assert_account(f, Z1, 200000 - 100000 - 34014, 0, 0);
    assert_account(f, K1, 15000000, 0, 0);
    assert_account(f, PRV(AZN, P1), 1000000 + 100000 + 34014 - 16891, 50000, 0);
    assert_account(f, PRV(KZT, P1), 500000000 - 29400000 - 10000000 + 5000000, 0, 0);
    assert_account(f, K3, 10000000, 0, 0);
    assert_account(f, Z2, 16891, 0, 0);
    assert_account(f, Z3, 0, 0, 50000);
    assert_int_equal(quote_state(f, 2), ORTAK_QUOTE_STATE_SETTLED);
    assert_int_equal(quote_state(f, 3), ORTAK_QUOTE_STATE_SETTLED);
    assert_int_equal(quote_state(f, 4), ORTAK_QUOTE_STATE_OPEN);
}

/*
 * UZS and TRY (amounts in tiyin and kuruş). Bosphorus FX publishes TRY/UZS with bid 330.50 and ask 333.25 (UZS per
 * TRY), at most 100,000.00 TRY a quote. It holds 50,000.00 TRY and 10,000,000.00 UZS.
 *
 *   UZS -> TRY, fixed source 1,000,000.00 UZS: the provider sells TRY at its ask, 100,000,000 / 333.25 =
 *     300,075.018... kuruş, rounded down: the payee receives 3,000.75 TRY, 0.018 of a kuruş stays with the provider.
 *   UZS -> TRY, fixed target 1,500.00 TRY: 150,000 x 333.25 = 49,987,500 tiyin, 499,875.00 UZS exactly.
 *   TRY -> UZS, fixed source 2,500.00 TRY: the provider buys TRY at its bid, 250,000 x 330.50 = 82,625,000 tiyin,
 *     826,250.00 UZS exactly.
 *   TRY -> UZS, fixed target 1,000,000.00 UZS: 100,000,000 / 330.50 = 302,571.86... kuruş, rounded up: the payer
 *     pays 3,025.72 TRY, 0.14 of a kuruş more than the exact price.
 */
static void test_worked_uzs_try(void **state) {
    struct fix *f = *state;
    fix_ok(f, rate_cmd(fix_t(f), prov_bic[P2], "TRY", "UZS", RATE(330, 50), RATE(333, 25), 10000000, FAR));
    assert_events(f, EV_RATE(prov_bic[P2], 330500000000, 333250000000));
    fix_fund(f, TRY, PRV(TRY, P2), 5000000);
    fix_fund(f, UZS, PRV(UZS, P2), 1000000000);
    fix_fund(f, UZS, U1, 200000000);
    fix_fund(f, TRY, T1, 1000000);

    ortak_time_ns at;
    struct ortak_cmd q1 = quote_cmd(at = fix_t(f), 21, U1, T2, 100000000, SRC, 0);
    fix_ok(f, q1);
    assert_events(f, EV_HOLD(0, PRV(TRY, P2), T2, 300075), EV_QUOTED(21, 0, U1, T2, 100000000, 300075));
    assert_quote(f, q1, "FXTRTRIS", "UZS", "TRY", 100000000, 300075, RATE(333, 25), at, at + 600 * SEC, 0, 0,
                 ORTAK_QUOTE_STATE_OPEN);
    assert_true((ortak_u128)300075 * 33325 <= (ortak_u128)100000000 * 100 &&
                (ortak_u128)300076 * 33325 > (ortak_u128)100000000 * 100);

    struct ortak_cmd q2 = quote_cmd(at = fix_t(f), 22, U1, T2, 150000, TGT, 0);
    fix_ok(f, q2);
    assert_events(f, EV_HOLD(1, PRV(TRY, P2), T2, 150000), EV_QUOTED(22, 1, U1, T2, 49987500, 150000));
    assert_quote(f, q2, "FXTRTRIS", "UZS", "TRY", 49987500, 150000, RATE(333, 25), at, at + 600 * SEC, 1, 0,
                 ORTAK_QUOTE_STATE_OPEN);

    struct ortak_cmd q3 = quote_cmd(at = fix_t(f), 23, T1, U2, 250000, SRC, 0);
    fix_ok(f, q3);
    assert_events(f, EV_HOLD(2, PRV(UZS, P2), U2, 82625000), EV_QUOTED(23, 2, T1, U2, 250000, 82625000));
    assert_quote(f, q3, "FXTRTRIS", "TRY", "UZS", 250000, 82625000, RATE(330, 50), at, at + 600 * SEC, 2, 0,
                 ORTAK_QUOTE_STATE_OPEN);

    struct ortak_cmd q4 = quote_cmd(at = fix_t(f), 24, T1, U2, 100000000, TGT, 0);
    fix_ok(f, q4);
    assert_events(f, EV_HOLD(3, PRV(UZS, P2), U2, 100000000), EV_QUOTED(24, 3, T1, U2, 302572, 100000000));
    assert_quote(f, q4, "FXTRTRIS", "TRY", "UZS", 302572, 100000000, RATE(330, 50), at, at + 600 * SEC, 3, 0,
                 ORTAK_QUOTE_STATE_OPEN);
    assert_true((ortak_u128)302571 * 33050 < (ortak_u128)100000000 * 100 &&
                (ortak_u128)302572 * 33050 >= (ortak_u128)100000000 * 100);
    assert_account(f, PRV(TRY, P2), 5000000, 300075 + 150000, 0);
    assert_account(f, PRV(UZS, P2), 1000000000, 82625000 + 100000000, 0);

    /* The first and the last are paid. */
    fix_ok(f, pvp_cmd(at = fix_t(f), 31, U1, T2, 100000000, 21));
    assert_events(f, EV_POSTED(31, U1, PRV(UZS, P2), 100000000), EV_HOLD_POSTED(0, PRV(TRY, P2), T2, 300075),
                  EV_SETTLED(31, U1, T2, 100000000));
    assert_settled(f, 31, at);
    fix_ok(f, pvp_cmd(at = fix_t(f), 32, T1, U2, 302572, 24));
    assert_events(f, EV_POSTED(32, T1, PRV(TRY, P2), 302572), EV_HOLD_POSTED(3, PRV(UZS, P2), U2, 100000000),
                  EV_SETTLED(32, T1, U2, 302572));
    assert_settled(f, 32, at);
    assert_account(f, U1, 100000000, 0, 0);
    assert_account(f, T1, 1000000 - 302572, 0, 0);
    assert_account(f, PRV(UZS, P2), 1000000000 + 100000000 - 100000000, 82625000, 0);
    assert_account(f, PRV(TRY, P2), 5000000 - 300075 + 302572, 150000, 0);
    assert_account(f, T2, 300075, 0, 150000);
    assert_account(f, U2, 100000000, 0, 82625000);
}

/* ---- 2. the choice of the best rate ------------------------------------------------------------------------ */

/*
 * Three providers quote AZN/KZT, in this order: Steppe 294.00 / 296.00, Bosphorus 295.00 / 297.00, Silk Road
 * 293.50 / 295.50. Bosphorus buys AZN dearest, Silk Road sells it cheapest. Each holds 10,000.00 AZN and
 * `kzt` of KZT; Bosphorus's maximum is `max2` (the others' 100,000.00 AZN), its rate valid until `until2`.
 */
static void publish3(struct fix *f, uint64_t kzt, uint64_t max2, ortak_time_ns until2) {
    fix_rate(f, P1, AZN, KZT, RATE(294, 0), RATE(296, 0), 10000000);
    fix_ok(f, rate_cmd(fix_t(f), prov_bic[P2], "AZN", "KZT", RATE(295, 0), RATE(297, 0), max2, until2));
    fix_rate(f, P3, AZN, KZT, RATE(293, 50), RATE(295, 50), 10000000);
    for (int j = 0; j < PROVIDERS; j++) {
        fix_fund(f, AZN, PRV(AZN, j), 1000000);
        fix_fund(f, KZT, PRV(KZT, j), kzt);
    }
    assert_int_equal(ortak_fx_rate_count(fix_fx(f)), 3);
}

/* The quote just given: its provider, amounts and rate. */
static void check_best(const struct fix *f, ortak_u128 id, const char *provider, uint64_t src, uint64_t tgt,
                       uint64_t rate, const char *file, int line) {
    struct ortak_fx_quote_info q;
    ortak_rc rc = ortak_fx_quote_get(fix_fx(f), id, &q);
    if (rc == ORTAK_OK && strcmp(q.provider, provider) == 0 && q.source_amount == src && q.target_amount == tgt &&
        q.rate == rate && q.state == ORTAK_QUOTE_STATE_OPEN)
        return;
    print_error("quote %llu: %s, provider %.11s source %llu target %llu rate %llu; expected %s %llu %llu %llu\n",
                (unsigned long long)id, ortak_rc_name(rc), q.provider, (unsigned long long)q.source_amount,
                (unsigned long long)q.target_amount, (unsigned long long)q.rate, provider, (unsigned long long)src,
                (unsigned long long)tgt, (unsigned long long)rate);
    _fail(file, line);
}
#define assert_best(f, id, provider, src, tgt, rate) check_best(f, id, provider, src, tgt, rate, __FILE__, __LINE__)

/*
 * The most target for a fixed source, the least source for a fixed target, on both sides of the pair:
 *   AZN -> KZT, 100.00 AZN: 29,400.00 / 29,500.00 / 29,350.00 KZT: Bosphorus.
 *   AZN -> KZT for 29,500.00 KZT: 100.35 / 100.00 / 100.52 AZN (rounded up): Bosphorus.
 *   KZT -> AZN, 29,550.00 KZT: 99.83 / 99.49 / 100.00 AZN (rounded down): Silk Road.
 *   KZT -> AZN for 100.00 AZN: 29,600.00 / 29,700.00 / 29,550.00 KZT: Silk Road.
 */
static void test_best_rate(void **state) {
    struct fix *f = *state;
    publish3(f, 300000000, 10000000, FAR);
    fix_ok(f, quote_cmd(fix_t(f), 1, Z1, K1, 10000, SRC, 0));
    assert_events(f, EV_HOLD(0, PRV(KZT, P2), K1, 2950000), EV_QUOTED(1, 0, Z1, K1, 10000, 2950000));
    assert_best(f, 1, "FXTRTRIS", 10000, 2950000, RATE(295, 0));
    fix_ok(f, quote_cmd(fix_t(f), 2, Z1, K1, 2950000, TGT, 0));
    assert_best(f, 2, "FXTRTRIS", 10000, 2950000, RATE(295, 0));
    fix_ok(f, quote_cmd(fix_t(f), 3, K1, Z1, 2955000, SRC, 0));
    assert_events(f, EV_HOLD(2, PRV(AZN, P3), Z1, 10000), EV_QUOTED(3, 2, K1, Z1, 2955000, 10000));
    assert_best(f, 3, "FXUZUZ22", 2955000, 10000, RATE(295, 50));
    fix_ok(f, quote_cmd(fix_t(f), 4, K1, Z1, 10000, TGT, 0));
    assert_best(f, 4, "FXUZUZ22", 2955000, 10000, RATE(295, 50));
    /* Every hold is on the chosen provider's account. */
    assert_account(f, PRV(KZT, P1), 300000000, 0, 0);
    assert_account(f, PRV(KZT, P2), 300000000, 2 * 2950000, 0);
    assert_account(f, PRV(AZN, P3), 1000000, 2 * 10000, 0);
}

/*
 * Bosphorus holds only 30,000.00 KZT: its first quote holds 29,500.00 of it, so the next 100.00 AZN goes to the
 * next best, Steppe; a quote small enough for what is left goes to Bosphorus again. When the hold is released
 * (the quote expires), Bosphorus wins again.
 */
static void test_best_skips_liquidity(void **state) {
    struct fix *f = *state;
    publish3(f, 3000000, 10000000, FAR);
    ortak_time_ns first = fix_t(f);
    fix_ok(f, quote_cmd(first, 1, Z1, K1, 10000, SRC, 60));
    assert_best(f, 1, "FXTRTRIS", 10000, 2950000, RATE(295, 0));
    assert_account(f, PRV(KZT, P2), 3000000, 2950000, 0);
    fix_ok(f, quote_cmd(fix_t(f), 2, Z1, K1, 10000, SRC, 0));
    assert_best(f, 2, "FXKZKZKA", 10000, 2940000, RATE(294, 0));
    fix_ok(f, quote_cmd(fix_t(f), 3, Z1, K1, 100, SRC, 0)); /* 1.00 AZN: 295.00 KZT, within the 500.00 left */
    assert_best(f, 3, "FXTRTRIS", 100, 29500, RATE(295, 0));
    f->now = first + 60 * SEC;
    fix_ok(f, tu_tick(f->now));
    assert_events(f, EV_HOLD_EXPIRED(0, PRV(KZT, P2), K1, 2950000));
    fix_ok(f, quote_cmd(fix_t(f), 4, Z1, K1, 10000, SRC, 0));
    assert_best(f, 4, "FXTRTRIS", 10000, 2950000, RATE(295, 0));
    /* No one can cover 10,000.00 AZN (2,940,000.00 KZT): refused, nothing held. */
    assert_refused(f, quote_cmd(0, 5, Z1, K1, 1000000, SRC, 0), ORTAK_FX_NO_LIQUIDITY);
    assert_no_quote(f, 5);
}

/*
 * Bosphorus converts at most 50.00 AZN a quote. 100.00 AZN goes to Steppe; a fixed target whose source is 50.00
 * AZN goes to Bosphorus; 50.01 AZN does not. On the other side AZN is the target, and its maximum applies there.
 */
static void test_best_skips_max(void **state) {
    struct fix *f = *state;
    publish3(f, 300000000, 5000, FAR);
    fix_ok(f, quote_cmd(fix_t(f), 1, Z1, K1, 10000, SRC, 0));
    assert_best(f, 1, "FXKZKZKA", 10000, 2940000, RATE(294, 0));
    fix_ok(f, quote_cmd(fix_t(f), 2, Z1, K1, 1475000, TGT, 0));
    assert_best(f, 2, "FXTRTRIS", 5000, 1475000, RATE(295, 0));
    fix_ok(f, quote_cmd(fix_t(f), 3, Z1, K1, 5001, SRC, 0));
    assert_best(f, 3, "FXKZKZKA", 5001, 1470294, RATE(294, 0));
    /* Every provider's maximum 50.00 AZN: 50.01 AZN is above all of them, as source or as target. */
    fix_rate(f, P1, AZN, KZT, RATE(294, 0), RATE(296, 0), 5000);
    fix_rate(f, P3, AZN, KZT, RATE(293, 50), RATE(295, 50), 5000);
    assert_refused(f, quote_cmd(0, 4, Z1, K1, 5001, SRC, 0), ORTAK_FX_AMOUNT_ABOVE_MAX);
    assert_refused(f, quote_cmd(0, 4, K1, Z1, 5001, TGT, 0), ORTAK_FX_AMOUNT_ABOVE_MAX);
    fix_ok(f, quote_cmd(fix_t(f), 4, K1, Z1, 5000, TGT, 0));
    assert_best(f, 4, "FXUZUZ22", 1477500, 5000, RATE(295, 50));
}

/* Bosphorus's rate is valid until a time: up to it (excluded) it wins; from it on it is skipped. */
static void test_best_skips_expired(void **state) {
    struct fix *f = *state;
    ortak_time_ns until = f->now + 20 * SEC;
    publish3(f, 300000000, 10000000, until);
    f->now = until - 2 * SEC;
    fix_ok(f, quote_cmd(fix_t(f), 1, Z1, K1, 10000, SRC, 0)); /* 1 s before its end */
    assert_best(f, 1, "FXTRTRIS", 10000, 2950000, RATE(295, 0));
    fix_ok(f, quote_cmd(fix_t(f), 2, Z1, K1, 10000, SRC, 0)); /* at its end */
    assert_int_equal(f->now, until);
    assert_best(f, 2, "FXKZKZKA", 10000, 2940000, RATE(294, 0));
    /* Expired, it is still listed (until replaced or withdrawn), and it can be replaced. */
    assert_rate(f, "FXTRTRIS", "AZN", "KZT", RATE(295, 0), RATE(297, 0), 10000000, until);
    assert_int_equal(ortak_fx_rate_count(fix_fx(f)), 3);
    fix_rate(f, P2, AZN, KZT, RATE(295, 0), RATE(297, 0), 10000000);
    fix_ok(f, quote_cmd(fix_t(f), 3, Z1, K1, 10000, SRC, 0));
    assert_best(f, 3, "FXTRTRIS", 10000, 2950000, RATE(295, 0));
    /* Every rate of the pair expired: no provider quotes it. */
    ortak_time_ns soon = f->now + 5 * SEC;
    for (int j = 0; j < PROVIDERS; j++)
        fix_ok(f, rate_cmd(fix_t(f), prov_bic[j], "AZN", "KZT", RATE(294, 0), RATE(296, 0), 10000000, soon + SEC));
    f->now = soon;
    assert_refused(f, quote_cmd(0, 4, Z1, K1, 10000, SRC, 0), ORTAK_FX_PAIR_UNSUPPORTED);
}

/*
 * Ties go to the rate published first. Steppe and Silk Road publish the same AZN/KZT rate: Steppe, first, wins on
 * both sides. Steppe publishes again (the same values): it is now the later, and Silk Road wins. A tie can also come
 * from rounding: Bosphorus's bid 294.004 is better, but for 1.00 AZN it gives 294.004 KZT, rounded down to the
 * same 294.00 as the others, and the earlier rate wins; for 100.00 AZN it gives 29,400.40, more, and wins.
 */
static void test_best_ties(void **state) {
    struct fix *f = *state;
    fix_rate(f, P1, AZN, KZT, RATE(294, 0), RATE(296, 0), 10000000);
    fix_rate(f, P3, AZN, KZT, RATE(294, 0), RATE(296, 0), 10000000);
    for (int j = 0; j < PROVIDERS; j++) {
        fix_fund(f, AZN, PRV(AZN, j), 1000000);
        fix_fund(f, KZT, PRV(KZT, j), 300000000);
    }
    fix_ok(f, quote_cmd(fix_t(f), 1, Z1, K1, 10000, SRC, 0));
    assert_best(f, 1, "FXKZKZKA", 10000, 2940000, RATE(294, 0));
    fix_ok(f, quote_cmd(fix_t(f), 2, K1, Z1, 10000, TGT, 0));
    assert_best(f, 2, "FXKZKZKA", 2960000, 10000, RATE(296, 0));
    fix_rate(f, P1, AZN, KZT, RATE(294, 0), RATE(296, 0), 10000000);
    assert_events(f, EV_RATE(prov_bic[P1], RATE(294, 0), RATE(296, 0)));
    assert_int_equal(ortak_fx_rate_count(fix_fx(f)), 2);
    fix_ok(f, quote_cmd(fix_t(f), 3, Z1, K1, 10000, SRC, 0));
    assert_best(f, 3, "FXUZUZ22", 10000, 2940000, RATE(294, 0));
    fix_ok(f, quote_cmd(fix_t(f), 4, K1, Z1, 10000, TGT, 0));
    assert_best(f, 4, "FXUZUZ22", 2960000, 10000, RATE(296, 0));

    fix_rate(f, P2, AZN, KZT, RATE(294, 0) + 4000000, RATE(296, 0), 10000000);
    fix_ok(f, quote_cmd(fix_t(f), 5, Z1, K1, 100, SRC, 0));
    assert_best(f, 5, "FXUZUZ22", 100, 29400, RATE(294, 0));
    fix_ok(f, quote_cmd(fix_t(f), 6, Z1, K1, 10000, SRC, 0));
    assert_best(f, 6, "FXTRTRIS", 10000, 2940040, 294004000000);
}

/*
 * A provider is never its own counterparty. Bosphorus has the best bid, but a payment to its own KZT account, or
 * from its own AZN account, is quoted by the next best; when it is the only provider of the pair, there is no quote.
 */
static void test_best_not_own_counterparty(void **state) {
    struct fix *f = *state;
    publish3(f, 300000000, 10000000, FAR);
    fix_ok(f, quote_cmd(fix_t(f), 1, Z1, PRV(KZT, P2), 10000, SRC, 0));
    assert_events(f, EV_HOLD(0, PRV(KZT, P1), PRV(KZT, P2), 2940000),
                  EV_QUOTED(1, 0, Z1, PRV(KZT, P2), 10000, 2940000));
    assert_best(f, 1, "FXKZKZKA", 10000, 2940000, RATE(294, 0));
    fix_ok(f, quote_cmd(fix_t(f), 2, PRV(AZN, P2), K1, 10000, SRC, 0));
    assert_best(f, 2, "FXKZKZKA", 10000, 2940000, RATE(294, 0));
    /* And Steppe, next best, is not its own counterparty either: a payment to Steppe goes to Silk Road. */
    fix_ok(f, quote_cmd(fix_t(f), 3, PRV(AZN, P2), PRV(KZT, P1), 10000, SRC, 0));
    assert_best(f, 3, "FXUZUZ22", 10000, 2935000, RATE(293, 50));
    /* The provider's own quote is paid like any other: Bosphorus pays Steppe's AZN account, Steppe pays K1. */
    fix_ok(f, pvp_cmd(fix_t(f), 9, PRV(AZN, P2), K1, 10000, 2));
    assert_events(f, EV_POSTED(9, PRV(AZN, P2), PRV(AZN, P1), 10000), EV_HOLD_POSTED(1, PRV(KZT, P1), K1, 2940000),
                  EV_SETTLED(9, PRV(AZN, P2), K1, 10000));
    fix_ok(f, withdraw_cmd(fix_t(f), prov_bic[P1], "AZN", "KZT"));
    fix_ok(f, withdraw_cmd(fix_t(f), prov_bic[P3], "AZN", "KZT"));
    assert_refused(f, quote_cmd(0, 4, Z1, PRV(KZT, P2), 10000, SRC, 0), ORTAK_FX_PAIR_UNSUPPORTED);
    assert_refused(f, quote_cmd(0, 4, PRV(AZN, P2), K1, 10000, SRC, 0), ORTAK_FX_PAIR_UNSUPPORTED);
    fix_ok(f, quote_cmd(fix_t(f), 4, Z1, K1, 10000, SRC, 0));
    assert_best(f, 4, "FXTRTRIS", 10000, 2950000, RATE(295, 0));
}

/* ---- 3. rates ---------------------------------------------------------------------------------------------- */

/* Publish, replace, the other orientation, withdraw; the queries and the events. */
static void test_rates(void **state) {
    struct fix *f = *state;
    assert_int_equal(ortak_fx_rate_count(fix_fx(f)), 0);
    assert_no_rate(f, "FXKZKZKA", "AZN", "KZT");
    ortak_time_ns at = fix_t(f);
    fix_ok(f, rate_cmd(at, "FXKZKZKA", "AZN", "KZT", RATE(294, 0), RATE(296, 0), 100000000, FAR));
    assert_events(f, EV_RATE("FXKZKZKA", RATE(294, 0), RATE(296, 0)));
    assert_events_at(f, 0, at);
    assert_rate(f, "FXKZKZKA", "AZN", "KZT", RATE(294, 0), RATE(296, 0), 100000000, FAR);
    assert_no_rate(f, "FXKZKZKA", "KZT", "AZN"); /* a rate is for the pair as published */
    assert_no_rate(f, "FXTRTRIS", "AZN", "KZT");
    assert_no_rate(f, "fxkzkzka", "AZN", "KZT");
    assert_no_rate(f, "ZZZZKZKA", "AZN", "KZT");
    assert_no_rate(f, "FXKZKZKA", "USD", "KZT");
    assert_int_equal(ortak_fx_rate_count(fix_fx(f)), 1);
    /* Replaced: new values, one rate still. The BIC in its 11-character form names the same provider. */
    fix_ok(f, rate_cmd(fix_t(f), "FXKZKZKAXXX", "AZN", "KZT", RATE(295, 10), RATE(295, 90), 50000000, T0 + MIN * 90));
    assert_events(f, EV_RATE("FXKZKZKA", RATE(295, 10), RATE(295, 90)));
    assert_rate(f, "FXKZKZKA", "AZN", "KZT", RATE(295, 10), RATE(295, 90), 50000000, T0 + MIN * 90);
    assert_int_equal(ortak_fx_rate_count(fix_fx(f)), 1);
    /* The other orientation is another rate; bid may equal ask; the extremes of the range are accepted. */
    fix_ok(f, rate_cmd(fix_t(f), "FXKZKZKA", "KZT", "AZN", 3380000, 3380000, 1, FAR));
    fix_ok(f, rate_cmd(fix_t(f), "FXTRTRIS", "AZN", "KZT", 1, UINT64_C(1000000000000000000), ORTAK_AMOUNT_MAX, FAR));
    assert_events(f, EV_RATE("FXTRTRIS", 1, INT64_C(1000000000000000000)));
    assert_rate(f, "FXKZKZKA", "KZT", "AZN", 3380000, 3380000, 1, FAR);
    assert_rate(f, "FXTRTRIS", "AZN", "KZT", 1, UINT64_C(1000000000000000000), ORTAK_AMOUNT_MAX, FAR);
    assert_int_equal(ortak_fx_rate_count(fix_fx(f)), 3);
    /* Withdrawn: gone, with its event; a second withdrawal finds nothing. */
    fix_ok(f, withdraw_cmd(at = fix_t(f), "FXKZKZKA", "AZN", "KZT"));
    assert_events(f, EV_WITHDRAWN("FXKZKZKA"));
    assert_events_at(f, 0, at);
    assert_no_rate(f, "FXKZKZKA", "AZN", "KZT");
    assert_rate(f, "FXKZKZKA", "KZT", "AZN", 3380000, 3380000, 1, FAR);
    assert_rate(f, "FXTRTRIS", "AZN", "KZT", 1, UINT64_C(1000000000000000000), ORTAK_AMOUNT_MAX, FAR);
    assert_int_equal(ortak_fx_rate_count(fix_fx(f)), 2);
    assert_refused(f, withdraw_cmd(0, "FXKZKZKA", "AZN", "KZT"), ORTAK_FX_RATE_NOT_FOUND);
    assert_refused(f, withdraw_cmd(0, "FXUZUZ22", "TRY", "UZS"), ORTAK_FX_RATE_NOT_FOUND);
    /* Published again after the withdrawal. */
    fix_ok(f, rate_cmd(fix_t(f), "FXKZKZKA", "AZN", "KZT", RATE(294, 0), RATE(296, 0), 100000000, FAR));
    assert_rate(f, "FXKZKZKA", "AZN", "KZT", RATE(294, 0), RATE(296, 0), 100000000, FAR);
    assert_int_equal(ortak_fx_rate_count(fix_fx(f)), 3);
    /* A suspended provider may still withdraw. */
    fix_ok(f, tu_status(fix_t(f), "FXKZKZKA", ORTAK_PARTICIPANT_SUSPENDED));
    fix_ok(f, withdraw_cmd(fix_t(f), "FXKZKZKA", "KZT", "AZN"));
    assert_events(f, EV_WITHDRAWN("FXKZKZKA"));
    assert_int_equal(ortak_fx_rate_count(fix_fx(f)), 2);
}

/* Every refusal of a rate, each without an event and without changing the table. */
static void test_rate_refusals(void **state) {
    struct fix *f = *state;
    const uint64_t bid = RATE(294, 0), ask = RATE(296, 0), max = 100000000;
    fix_ok(f, rate_cmd(fix_t(f), "FXKZKZKA", "AZN", "KZT", bid, ask, max, FAR));
    /* The provider: an invalid BIC, an unknown one, a bank, a provider without a KZT account, a KGS account (a
     * currency of the system), or active; unknown currencies. */
    assert_refused(f, rate_cmd(0, "fxkzkzka", "AZN", "KZT", bid, ask, max, FAR), ORTAK_BIC_INVALID);
    assert_refused(f, rate_cmd(0, "FXKZ", "AZN", "KZT", bid, ask, max, FAR), ORTAK_BIC_INVALID);
    assert_refused(f, rate_cmd(0, "ZZZZKZKA", "AZN", "KZT", bid, ask, max, FAR), ORTAK_PARTICIPANT_NOT_FOUND);
    fix_ok(f, tu_account(fix_t(f), 990, bank_bic[KZT][0], "AZN", ORTAK_ACCOUNT_SETTLEMENT));
    assert_refused(f, rate_cmd(0, bank_bic[KZT][0], "AZN", "KZT", bid, ask, max, FAR), ORTAK_FX_PROVIDER_INVALID);
    assert_refused(f, rate_cmd(0, HALF_BIC, "AZN", "KZT", bid, ask, max, FAR), ORTAK_FX_PROVIDER_INVALID);
    assert_refused(f, rate_cmd(0, "FXKZKZKA", "AZN", "KGS", bid, ask, max, FAR), ORTAK_FX_PROVIDER_INVALID);
    assert_refused(f, rate_cmd(0, "FXKZKZKA", "USD", "KZT", bid, ask, max, FAR), ORTAK_CURRENCY_UNKNOWN);
    assert_refused(f, rate_cmd(0, "FXKZKZKA", "AZN", "kzt", bid, ask, max, FAR), ORTAK_CURRENCY_UNKNOWN);
    assert_refused(f, withdraw_cmd(0, "FXKZKZKA", "AZN", "EUR"), ORTAK_CURRENCY_UNKNOWN);
    assert_refused(f, withdraw_cmd(0, "ZZZZKZKA", "AZN", "KZT"), ORTAK_PARTICIPANT_NOT_FOUND);
    fix_ok(f, tu_status(fix_t(f), "FXTRTRIS", ORTAK_PARTICIPANT_SUSPENDED));
    assert_refused(f, rate_cmd(0, "FXTRTRIS", "AZN", "KZT", bid, ask, max, FAR), ORTAK_FX_PROVIDER_INVALID);
    fix_ok(f, tu_status(fix_t(f), "FXTRTRIS", ORTAK_PARTICIPANT_ACTIVE));
    fix_ok(f, tu_account_amount(fix_t(f), ORTAK_CMD_ACCOUNT_CLOSE, PRV(KZT, P3), 0));
    assert_refused(f, rate_cmd(0, "FXUZUZ22", "AZN", "KZT", bid, ask, max, FAR), ORTAK_FX_PROVIDER_INVALID);
    /* The rate itself: one currency twice, bid 0, ask below bid or above 10^18, maximum 0 or above the largest
     * amount, a validity end that is now or past. */
    assert_refused(f, rate_cmd(0, "FXKZKZKA", "AZN", "AZN", bid, ask, max, FAR), ORTAK_FX_RATE_INVALID);
    assert_refused(f, rate_cmd(0, "FXKZKZKA", "AZN", "KZT", 0, ask, max, FAR), ORTAK_FX_RATE_INVALID);
    assert_refused(f, rate_cmd(0, "FXKZKZKA", "AZN", "KZT", bid, bid - 1, max, FAR), ORTAK_FX_RATE_INVALID);
    assert_refused(f, rate_cmd(0, "FXKZKZKA", "AZN", "KZT", bid, UINT64_C(1000000000000000001), max, FAR),
                   ORTAK_FX_RATE_INVALID);
    assert_refused(f, rate_cmd(0, "FXKZKZKA", "AZN", "KZT", bid, ask, 0, FAR), ORTAK_FX_RATE_INVALID);
    assert_refused(f, rate_cmd(0, "FXKZKZKA", "AZN", "KZT", bid, ask, ORTAK_AMOUNT_MAX + 1, FAR),
                   ORTAK_FX_RATE_INVALID);
    assert_refused(f, rate_cmd(0, "FXKZKZKA", "AZN", "KZT", bid, ask, max, f->now + SEC), ORTAK_FX_RATE_INVALID);
    assert_refused(f, rate_cmd(0, "FXKZKZKA", "AZN", "KZT", bid, ask, max, T0), ORTAK_FX_RATE_INVALID);
    /* None of them changed the rate published first. */
    assert_rate(f, "FXKZKZKA", "AZN", "KZT", bid, ask, max, FAR);
    assert_no_rate(f, "FXTRTRIS", "AZN", "KZT");
    assert_int_equal(ortak_fx_rate_count(fix_fx(f)), 1);
    /* One nanosecond of validity is enough. */
    ortak_time_ns at = fix_t(f);
    fix_ok(f, rate_cmd(at, "FXKZKZKA", "AZN", "KZT", bid, ask, max, at + 1));
    assert_rate(f, "FXKZKZKA", "AZN", "KZT", bid, ask, max, at + 1);
}

/* A table of two rates: a third is refused, a replacement is not; a withdrawal makes room. */
static void test_rates_full(void **state) {
    struct fix *f = *state;
    fix_rate(f, P1, AZN, KZT, RATE(294, 0), RATE(296, 0), 100000000);
    fix_rate(f, P2, AZN, KZT, RATE(295, 0), RATE(297, 0), 100000000);
    assert_refused(f, rate_cmd(0, "FXUZUZ22", "AZN", "KZT", RATE(293, 0), RATE(297, 0), 100000000, FAR),
                   ORTAK_FX_RATES_FULL);
    fix_rate(f, P2, AZN, KZT, RATE(295, 50), RATE(297, 0), 100000000);
    assert_events(f, EV_RATE("FXTRTRIS", RATE(295, 50), RATE(297, 0)));
    assert_int_equal(ortak_fx_rate_count(fix_fx(f)), 2);
    fix_ok(f, withdraw_cmd(fix_t(f), "FXKZKZKA", "AZN", "KZT"));
    fix_rate(f, P3, AZN, KZT, RATE(293, 0), RATE(297, 0), 100000000);
    assert_rate(f, "FXUZUZ22", "AZN", "KZT", RATE(293, 0), RATE(297, 0), 100000000, FAR);
    assert_rate(f, "FXTRTRIS", "AZN", "KZT", RATE(295, 50), RATE(297, 0), 100000000, FAR);
    assert_int_equal(ortak_fx_rate_count(fix_fx(f)), 2);
}

/* ---- 4. quotes --------------------------------------------------------------------------------------------- */

/* Steppe quotes AZN/KZT (294.00 / 296.00, at most 100,000.00 AZN) and holds 1,000,000.00 KZT and 10,000.00 AZN. */
static void steppe(struct fix *f) {
    fix_rate(f, P1, AZN, KZT, RATE(294, 0), RATE(296, 0), 10000000);
    fix_fund(f, AZN, PRV(AZN, P1), 1000000);
    fix_fund(f, KZT, PRV(KZT, P1), 100000000);
}

/*
 * Every refusal of a quote, in the documented order of checks; none leaves anything behind (no event, no quote, no
 * hold), so the same request may succeed later. A repeated identical request is answered again, flagged, without a
 * new hold.
 */
static void test_quote_refusals(void **state) {
    struct fix *f = *state;
    steppe(f);
    assert_refused(f, quote_cmd(0, 0, Z1, K1, 10000, SRC, 0), ORTAK_QUOTE_ID_INVALID);
    assert_refused(f, quote_cmd(0, ((ortak_u128)0xffff << 112) | 1, Z1, K1, 10000, SRC, 0), ORTAK_QUOTE_ID_INVALID);
    assert_refused(f, quote_cmd(0, ORTAK_U128_MAX, Z1, K1, 10000, SRC, 0), ORTAK_QUOTE_ID_INVALID);
    struct ortak_cmd q1 = quote_cmd(0, 1, Z1, K1, 10000, SRC, 0);
    assert_cmd_ok(f, q1);
    assert_events(f, EV_HOLD(0, PRV(KZT, P1), K1, 2940000), EV_QUOTED(1, 0, Z1, K1, 10000, 2940000));
    ortak_time_ns created = f->now;
    /* The same id: identical, answered again without a hold; different in any field, refused. */
    assert_replayed_cmd(f, q1, ORTAK_OK);
    assert_no_events(f);
    assert_no_transfer(f, HOLD_ID(1));
    assert_account(f, PRV(KZT, P1), 100000000, 2940000, 0);
    assert_refused(f, quote_cmd(0, 1, Z1, K1, 10001, SRC, 0), ORTAK_QUOTE_EXISTS_DIFFERENT);
    assert_refused(f, quote_cmd(0, 1, Z1, K1, 10000, SRC, 600), ORTAK_QUOTE_EXISTS_DIFFERENT);
    assert_refused(f, quote_cmd(0, 1, Z1, K2, 10000, SRC, 0), ORTAK_QUOTE_EXISTS_DIFFERENT);
    assert_refused(f, quote_cmd(0, 1, Z1, K1, 10000, TGT, 0), ORTAK_QUOTE_EXISTS_DIFFERENT);
    assert_refused(f, quote_cmd(0, 1, Z2, K1, 10000, SRC, 0), ORTAK_QUOTE_EXISTS_DIFFERENT);
    q1.timestamp = created;
    assert_quote(f, q1, "FXKZKZKA", "AZN", "KZT", 10000, 2940000, RATE(294, 0), created, created + 600 * SEC, 0, 0,
                 ORTAK_QUOTE_STATE_OPEN);
    /* The request: the fixed side, the time to live (one day at most), the amount. */
    assert_refused(f, quote_cmd(0, 2, Z1, K1, 10000, 2, 0), ORTAK_QUOTE_REQUEST_INVALID);
    assert_refused(f, quote_cmd(0, 2, Z1, K1, 10000, SRC, 86401), ORTAK_QUOTE_REQUEST_INVALID);
    assert_refused(f, quote_cmd(0, 2, Z1, K1, 0, SRC, 0), ORTAK_AMOUNT_ZERO);
    assert_refused(f, quote_cmd(0, 2, Z1, K1, ORTAK_AMOUNT_MAX + 1, SRC, 0), ORTAK_AMOUNT_OVERFLOW);
    /* The accounts. */
    assert_refused(f, quote_cmd(0, 2, Z1, 999, 10000, SRC, 0), ORTAK_ACCOUNT_NOT_FOUND);
    assert_refused(f, quote_cmd(0, 2, ISS(AZN), K1, 10000, SRC, 0), ORTAK_KIND_NOT_ALLOWED);
    assert_refused(f, quote_cmd(0, 2, Z1, ISS(KZT), 10000, SRC, 0), ORTAK_KIND_NOT_ALLOWED);
    fix_ok(f, tu_account_amount(fix_t(f), ORTAK_CMD_ACCOUNT_CLOSE, K3, 0));
    assert_refused(f, quote_cmd(0, 2, Z1, K3, 10000, SRC, 0), ORTAK_ACCOUNT_CLOSED);
    fix_ok(f, tu_status(fix_t(f), bank_bic[AZN][1], ORTAK_PARTICIPANT_SUSPENDED));
    assert_refused(f, quote_cmd(0, 2, Z2, K1, 10000, SRC, 0), ORTAK_PARTICIPANT_NOT_ACTIVE);
    assert_refused(f, quote_cmd(0, 2, K1, Z2, 10000, SRC, 0), ORTAK_PARTICIPANT_NOT_ACTIVE);
    /* The pair: one currency; a pair nobody quotes. */
    assert_refused(f, quote_cmd(0, 2, Z1, Z3, 10000, SRC, 0), ORTAK_FX_PAIR_UNSUPPORTED);
    assert_refused(f, quote_cmd(0, 2, U1, Z1, 10000, SRC, 0), ORTAK_FX_PAIR_UNSUPPORTED);
    assert_refused(f, quote_cmd(0, 2, Z1, T1, 10000, TGT, 0), ORTAK_FX_PAIR_UNSUPPORTED);
    /* The amount: above the maximum (100,000.00 AZN, the source here, the target there); converting to nothing:
     * 2.95 KZT buy 0.0099... AZN at the ask. */
    assert_refused(f, quote_cmd(0, 2, Z1, K1, 10000001, SRC, 0), ORTAK_FX_AMOUNT_ABOVE_MAX);
    assert_refused(f, quote_cmd(0, 2, K1, Z1, 10000001, TGT, 0), ORTAK_FX_AMOUNT_ABOVE_MAX);
    assert_refused(f, quote_cmd(0, 2, K1, Z1, 295, SRC, 0), ORTAK_AMOUNT_ZERO);
    /* The liquidity: 4,000.00 AZN would need 1,176,000.00 KZT; 970,600.00 are free. */
    struct ortak_cmd big = quote_cmd(0, 2, Z1, K1, 400000, SRC, 0);
    assert_refused(f, big, ORTAK_FX_NO_LIQUIDITY);
    assert_no_quote(f, 2);
    assert_no_transfer(f, HOLD_ID(1));
    assert_account(f, PRV(KZT, P1), 100000000, 2940000, 0);
    /* With more liquidity, the same request is a quote (answered fresh, not as a replay). */
    fix_fund(f, KZT, PRV(KZT, P1), 50000000);
    assert_cmd_ok(f, big);
    assert_events(f, EV_HOLD(1, PRV(KZT, P1), K1, 117600000), EV_QUOTED(2, 1, Z1, K1, 400000, 117600000));
    /* 2.96 KZT buy 0.01 AZN; the longest time to live is one day. */
    struct ortak_cmd small = quote_cmd(0, 3, K1, Z1, 296, SRC, 86400);
    assert_cmd_ok(f, small);
    small.timestamp = f->now;
    assert_quote(f, small, "FXKZKZKA", "KZT", "AZN", 296, 1, RATE(296, 0), f->now, f->now + 86400 * SEC, 2, 0,
                 ORTAK_QUOTE_STATE_OPEN);
}

/* A table of two quotes: the third is refused (a replay of the first is still answered). */
static void test_quotes_full(void **state) {
    struct fix *f = *state;
    steppe(f);
    struct ortak_cmd q1 = quote_cmd(0, 1, Z1, K1, 10000, SRC, 0);
    assert_cmd_ok(f, q1);
    assert_cmd_ok(f, quote_cmd(0, 2, Z1, K1, 10000, SRC, 0));
    assert_refused(f, quote_cmd(0, 3, Z1, K1, 10000, SRC, 0), ORTAK_QUOTES_FULL);
    assert_no_quote(f, 3);
    assert_account(f, PRV(KZT, P1), 100000000, 2 * 2940000, 0);
    assert_replayed_cmd(f, q1, ORTAK_OK);
    /* Quotes are kept for idempotency even when their hold ended: the table stays full. */
    f->now += 600 * SEC;
    fix_ok(f, tu_tick(f->now));
    assert_int_equal(quote_state(f, 1), ORTAK_QUOTE_STATE_EXPIRED);
    assert_refused(f, quote_cmd(0, 3, Z1, K1, 10000, SRC, 0), ORTAK_QUOTES_FULL);
}

/* No room for a hold: the quote is refused (transient, not recorded) and given once the first hold has ended. */
static void test_quote_pendings_full(void **state) {
    struct fix *f = *state;
    steppe(f);
    ortak_time_ns t1 = fix_t(f);
    fix_ok(f, quote_cmd(t1, 1, Z1, K1, 10000, SRC, 30));
    struct ortak_cmd q2 = quote_cmd(0, 2, Z1, K1, 20000, SRC, 0);
    assert_refused(f, q2, ORTAK_PENDINGS_FULL);
    assert_no_quote(f, 2);
    assert_account(f, PRV(KZT, P1), 100000000, 2940000, 0);
    f->now = t1 + 30 * SEC;
    assert_cmd_ok(f, q2);
    assert_events(f, EV_HOLD_EXPIRED(0, PRV(KZT, P1), K1, 2940000), EV_HOLD(1, PRV(KZT, P1), K1, 5880000),
                  EV_QUOTED(2, 1, Z1, K1, 20000, 5880000));
}

/*
 * The hold: a pending transfer of the target amount from the provider's target-currency account to the payee's,
 * in the system's id space, code 3, with the quote's id as user data and the quote's time to live as its timeout.
 * It lowers the provider's available liquidity by the target amount. Unused, it expires with the quote (the
 * configured 600 s, or the request's own time to live) and the liquidity comes back. A client cannot post or void
 * it.
 */
static void test_quote_hold(void **state) {
    struct fix *f = *state;
    steppe(f);
    ortak_time_ns t1 = fix_t(f);
    struct ortak_cmd q1 = quote_cmd(t1, 1, Z1, K1, 10000, SRC, 0);
    fix_ok(f, q1);
    ortak_time_ns t2 = fix_t(f);
    struct ortak_cmd q2 = quote_cmd(t2, 2, K1, Z2, 2960000, SRC, 30);
    fix_ok(f, q2);
    assert_events(f, EV_HOLD(1, PRV(AZN, P1), Z2, 10000), EV_QUOTED(2, 1, K1, Z2, 2960000, 10000));
    assert_events_at(f, 0, t2);
    struct ortak_transfer_info t;
    assert_int_equal(ortak_ledger_transfer_get(fix_ledger(f), HOLD_ID(0), &t), ORTAK_OK);
    assert_true(t.t.user_data == 1 && t.t.timeout_s == 600 && t.t.pending_id == 0 && t.timestamp == t1 &&
                t.t.amount == 2940000);
    assert_int_equal(ortak_ledger_transfer_get(fix_ledger(f), HOLD_ID(1), &t), ORTAK_OK);
    assert_true(t.t.user_data == 2 && t.t.timeout_s == 30 && t.timestamp == t2);
    assert_hold(f, 1, PRV(AZN, P1), Z2, 10000, ORTAK_PENDING_STATE_OPEN);
    assert_account(f, PRV(KZT, P1), 100000000, 2940000, 0);
    assert_account(f, PRV(AZN, P1), 1000000, 10000, 0);
    assert_true(tu_account_info(f->e, PRV(KZT, P1)).available == 100000000 - 2940000);
    assert_account(f, K1, 0, 0, 2940000);
    assert_account(f, Z2, 0, 0, 10000);
    assert_quote(f, q2, "FXKZKZKA", "KZT", "AZN", 2960000, 10000, RATE(296, 0), t2, t2 + 30 * SEC, 1, 0,
                 ORTAK_QUOTE_STATE_OPEN);
    /* Nobody but the engine resolves a hold: its id is not a client's to name. */
    assert_refused(f, tu_resolve(0, 77, HOLD_ID(0), 0, ORTAK_TRANSFER_POST_PENDING), ORTAK_PENDING_ID_INVALID);
    assert_refused(f, tu_resolve(0, 78, HOLD_ID(1), 0, ORTAK_TRANSFER_VOID_PENDING), ORTAK_PENDING_ID_INVALID);
    assert_hold(f, 0, PRV(KZT, P1), K1, 2940000, ORTAK_PENDING_STATE_OPEN);
    /* The short quote expires 30 s after it was given, to the nanosecond; the liquidity comes back. */
    fix_ok(f, tu_tick(t2 + 30 * SEC - 1));
    assert_no_events(f);
    assert_int_equal(quote_state(f, 2), ORTAK_QUOTE_STATE_OPEN);
    fix_ok(f, tu_tick(t2 + 30 * SEC));
    assert_events(f, EV_HOLD_EXPIRED(1, PRV(AZN, P1), Z2, 10000));
    assert_quote(f, q2, "FXKZKZKA", "KZT", "AZN", 2960000, 10000, RATE(296, 0), t2, t2 + 30 * SEC, 1, 0,
                 ORTAK_QUOTE_STATE_EXPIRED);
    assert_hold(f, 1, PRV(AZN, P1), Z2, 10000, ORTAK_PENDING_STATE_EXPIRED);
    assert_account(f, PRV(AZN, P1), 1000000, 0, 0);
    assert_account(f, Z2, 0, 0, 0);
    /* The default one after 600 s. */
    fix_ok(f, tu_tick(t1 + 600 * SEC - 1));
    assert_no_events(f);
    fix_ok(f, tu_tick(t1 + 600 * SEC));
    assert_events(f, EV_HOLD_EXPIRED(0, PRV(KZT, P1), K1, 2940000));
    assert_quote(f, q1, "FXKZKZKA", "AZN", "KZT", 10000, 2940000, RATE(294, 0), t1, t1 + 600 * SEC, 0, 0,
                 ORTAK_QUOTE_STATE_EXPIRED);
    assert_account(f, PRV(KZT, P1), 100000000, 0, 0);
    assert_account(f, K1, 0, 0, 0);
    /* Nothing moved. */
    assert_account(f, Z1, 0, 0, 0);
}

/* ---- 5. payments versus payment ---------------------------------------------------------------------------- */

/*
 * The refusals of a payment carrying a quote, each recorded as a rejected payment and leaving the quote as it was:
 * an unknown quote, another payer's, another payee or amount, a net payment, a quote already carried, an expired
 * one (its hold expires at the same moment, before the payment is looked at).
 */
static void test_pvp_refusals(void **state) {
    struct fix *f = *state;
    steppe(f);
    fix_fund(f, AZN, Z1, 300000);
    fix_fund(f, AZN, Z2, 300000);
    ortak_time_ns t1 = fix_t(f);
    struct ortak_cmd q1 = quote_cmd(t1, 1, Z1, K2, 100000, SRC, 0);
    fix_ok(f, q1);
    assert_refused_payment(f, pvp_cmd(0, 41, Z1, K2, 100000, 999), ORTAK_QUOTE_NOT_FOUND);
    struct ortak_cmd other = pvp_cmd(0, 42, Z2, K2, 100000, 1);
    assert_refused_payment(f, other, ORTAK_QUOTE_OTHER_PAYER);
    assert_refused_payment(f, pvp_cmd(0, 43, Z1, K3, 100000, 1), ORTAK_QUOTE_MISMATCH);
    assert_refused_payment(f, pvp_cmd(0, 44, Z1, K2, 100001, 1), ORTAK_QUOTE_MISMATCH);
    assert_refused_payment(f, pvp_cmd(0, 45, Z1, K2, 29400000, 1), ORTAK_QUOTE_MISMATCH); /* the target amount */
    struct ortak_cmd net = pvp_cmd(0, 46, Z1, K2, 100000, 1);
    net.u.payment.method = ORTAK_METHOD_NET;
    assert_refused_payment(f, net, ORTAK_METHOD_INVALID);
    assert_replayed_cmd(f, other, ORTAK_QUOTE_OTHER_PAYER);
    assert_no_events(f);
    assert_quote(f, q1, "FXKZKZKA", "AZN", "KZT", 100000, 29400000, RATE(294, 0), t1, t1 + 600 * SEC, 0, 0,
                 ORTAK_QUOTE_STATE_OPEN);
    assert_account(f, Z1, 300000, 0, 0);
    assert_account(f, Z2, 300000, 0, 0);

    /* Carried once, the quote is used: a second payment is refused, the first replayed. */
    struct ortak_cmd pay = pvp_cmd(0, 48, Z1, K2, 100000, 1);
    assert_cmd_ok(f, pay);
    ortak_time_ns paid = f->now;
    assert_settled(f, 48, paid);
    assert_refused_payment(f, pvp_cmd(0, 49, Z1, K2, 100000, 1), ORTAK_QUOTE_USED);
    assert_replayed_cmd(f, pay, ORTAK_OK);
    assert_no_events(f);
    assert_quote(f, q1, "FXKZKZKA", "AZN", "KZT", 100000, 29400000, RATE(294, 0), t1, t1 + 600 * SEC, 0, 48,
                 ORTAK_QUOTE_STATE_SETTLED);
    assert_account(f, Z1, 200000, 0, 0);
    assert_account(f, K2, 29400000, 0, 0);

    /* A quote of 60 s, paid 60 s after it was given: its hold expires first, then the payment is refused. */
    ortak_time_ns t2 = fix_t(f);
    struct ortak_cmd q2 = quote_cmd(t2, 2, Z1, K2, 1000, SRC, 60);
    fix_ok(f, q2);
    f->now = t2 + 60 * SEC;
    struct ortak_result r = fix_apply(f, pvp_cmd(f->now, 50, Z1, K2, 1000, 2));
    assert_int_equal(r.rc, ORTAK_QUOTE_EXPIRED);
    assert_events(f, EV_HOLD_EXPIRED(1, PRV(KZT, P1), K2, 294000), EV_REJECTED(50, Z1, K2, 1000, ORTAK_QUOTE_EXPIRED));
    assert_events_at(f, 0, t2 + 60 * SEC);
    assert_rejected(f, 50, ORTAK_QUOTE_EXPIRED, t2 + 60 * SEC);
    assert_quote(f, q2, "FXKZKZKA", "AZN", "KZT", 1000, 294000, RATE(294, 0), t2, t2 + 60 * SEC, 1, 0,
                 ORTAK_QUOTE_STATE_EXPIRED);
    assert_no_transfer(f, 50);
    assert_account(f, Z1, 200000, 0, 0);
}

/*
 * Short of source liquidity, the payment queues as one unit behind what its payer queued before (FIFO) and settles
 * both legs when its turn comes. While it waits, its quote is used: no other payment may carry it.
 */
static void test_pvp_queued_release(void **state) {
    struct fix *f = *state;
    steppe(f);
    struct ortak_cmd q1 = quote_cmd(0, 1, Z1, K2, 100000, SRC, 0);
    assert_cmd_ok(f, q1);
    q1.timestamp = f->now;
    fix_fund(f, AZN, Z1, 10000);
    assert_queued_cmd(f, tu_payment(0, 50, Z1, Z2, 20000, NORM));
    struct ortak_cmd pay = pvp_cmd(0, 51, Z1, K2, 100000, 1);
    assert_queued_cmd(f, pay);
    assert_events(f, EV_QUEUED(51, Z1, K2, 100000, NORM));
    assert_queued(f, 51);
    assert_quote(f, q1, "FXKZKZKA", "AZN", "KZT", 100000, 29400000, RATE(294, 0), q1.timestamp,
                 q1.timestamp + 600 * SEC, 0, 51, ORTAK_QUOTE_STATE_USED);
    assert_hold(f, 0, PRV(KZT, P1), K2, 29400000, ORTAK_PENDING_STATE_OPEN);
    assert_refused_payment(f, pvp_cmd(0, 52, Z1, K2, 100000, 1), ORTAK_QUOTE_USED);
    check_result(f, pay, ORTAK_OK, ORTAK_RESULT_REPLAYED | ORTAK_RESULT_QUEUED, __FILE__, __LINE__);
    ortak_u128 ids[4];
    uint32_t n = 0;
    struct ortak_queue_info qi;
    assert_int_equal(ortak_settle_queue(fix_settle(f), Z1, ids, 4, &n, &qi), ORTAK_OK);
    assert_true(n == 2 && ids[0] == 50 && ids[1] == 51 && qi.count[NORM] == 2 && qi.value[NORM] == 120000);
    /* 700.00 AZN: the first in line settles, the cross-currency payment still waits for 1,000.00. */
    ortak_u128 fund = 5000 + f->next_fund;
    fix_fund(f, AZN, Z1, 60000);
    assert_events(f, EV_POSTED(fund, ISS(AZN), Z1, 60000), EV_POSTED(50, Z1, Z2, 20000), EV_SETTLED(50, Z1, Z2, 20000));
    assert_queued(f, 51);
    assert_no_transfer(f, 51);
    assert_hold(f, 0, PRV(KZT, P1), K2, 29400000, ORTAK_PENDING_STATE_OPEN);
    fund = 5000 + f->next_fund;
    fix_fund(f, AZN, Z1, 50000);
    assert_events(f, EV_POSTED(fund, ISS(AZN), Z1, 50000), EV_POSTED(51, Z1, PRV(AZN, P1), 100000),
                  EV_HOLD_POSTED(0, PRV(KZT, P1), K2, 29400000), EV_SETTLED(51, Z1, K2, 100000));
    assert_settled(f, 51, f->now);
    assert_quote(f, q1, "FXKZKZKA", "AZN", "KZT", 100000, 29400000, RATE(294, 0), q1.timestamp,
                 q1.timestamp + 600 * SEC, 0, 51, ORTAK_QUOTE_STATE_SETTLED);
    assert_account(f, Z1, 0, 0, 0);
    assert_account(f, Z2, 20000, 0, 0);
    assert_account(f, PRV(AZN, P1), 1100000, 0, 0);
    assert_account(f, PRV(KZT, P1), 100000000 - 29400000, 0, 0);
    assert_account(f, K2, 29400000, 0, 0);
}

/*
 * A queued payment is due at its quote's expiry: the hold expires and the payment is rejected at that moment
 * (SETTLEMENT_TIMEOUT); the quote is expired. A latest settlement time later than the expiry does not extend it.
 */
static void test_pvp_timeout(void **state) {
    struct fix *f = *state;
    steppe(f);
    ortak_time_ns tq = fix_t(f);
    struct ortak_cmd q1 = quote_cmd(tq, 1, Z1, K2, 100000, SRC, 60);
    fix_ok(f, q1);
    assert_queued_cmd(f, tu_latest(pvp_cmd(0, 61, Z1, K2, 100000, 1), tq + 100 * SEC));
    fix_ok(f, tu_tick(tq + 60 * SEC - 1));
    assert_no_events(f);
    assert_queued(f, 61);
    fix_ok(f, tu_tick(tq + 60 * SEC));
    assert_events(f, EV_HOLD_EXPIRED(0, PRV(KZT, P1), K2, 29400000),
                  EV_REJECTED(61, Z1, K2, 100000, ORTAK_SETTLEMENT_TIMEOUT));
    assert_events_at(f, 0, tq + 60 * SEC);
    assert_rejected(f, 61, ORTAK_SETTLEMENT_TIMEOUT, tq + 60 * SEC);
    assert_quote(f, q1, "FXKZKZKA", "AZN", "KZT", 100000, 29400000, RATE(294, 0), tq, tq + 60 * SEC, 0, 61,
                 ORTAK_QUOTE_STATE_EXPIRED);
    assert_hold(f, 0, PRV(KZT, P1), K2, 29400000, ORTAK_PENDING_STATE_EXPIRED);
    assert_account(f, PRV(KZT, P1), 100000000, 0, 0);
    assert_account(f, K2, 0, 0, 0);
    /* Liquidity coming later settles nothing. */
    ortak_u128 fund = 5000 + f->next_fund;
    f->now = tq + 60 * SEC;
    fix_fund(f, AZN, Z1, 100000);
    assert_events(f, EV_POSTED(fund, ISS(AZN), Z1, 100000));
    assert_no_transfer(f, 61);
}

/* A latest settlement time before the quote's expiry: the payment is rejected then, and its hold is voided. */
static void test_pvp_latest_time(void **state) {
    struct fix *f = *state;
    steppe(f);
    ortak_time_ns tq = fix_t(f);
    struct ortak_cmd q1 = quote_cmd(tq, 1, Z1, K2, 100000, SRC, 0);
    fix_ok(f, q1);
    assert_queued_cmd(f, tu_latest(pvp_cmd(0, 62, Z1, K2, 100000, 1), tq + 20 * SEC));
    fix_ok(f, tu_tick(tq + 20 * SEC));
    assert_events(f, EV_HOLD_VOIDED(0, PRV(KZT, P1), K2, 29400000),
                  EV_REJECTED(62, Z1, K2, 100000, ORTAK_SETTLEMENT_TIMEOUT));
    assert_rejected(f, 62, ORTAK_SETTLEMENT_TIMEOUT, tq + 20 * SEC);
    assert_quote(f, q1, "FXKZKZKA", "AZN", "KZT", 100000, 29400000, RATE(294, 0), tq, tq + 600 * SEC, 0, 62,
                 ORTAK_QUOTE_STATE_RELEASED);
    assert_hold(f, 0, PRV(KZT, P1), K2, 29400000, ORTAK_PENDING_STATE_VOIDED);
    assert_transfer(f, VOID_ID(0), 0, 0, 0, ORTAK_TRANSFER_VOID_PENDING, 3, ORTAK_PENDING_STATE_NONE);
    assert_account(f, PRV(KZT, P1), 100000000, 0, 0);
    /* Voided, the hold does not expire again at the quote's expiry. */
    fix_ok(f, tu_tick(tq + 600 * SEC));
    assert_no_events(f);
}

/* Cancelled while queued: the hold is voided before the payment's own event; the quote is released, for good. */
static void test_pvp_cancel(void **state) {
    struct fix *f = *state;
    steppe(f);
    ortak_time_ns tq = fix_t(f);
    struct ortak_cmd q1 = quote_cmd(tq, 1, Z1, K2, 100000, SRC, 0);
    fix_ok(f, q1);
    assert_queued_cmd(f, pvp_cmd(0, 71, Z1, K2, 100000, 1));
    ortak_time_ns at = fix_t(f);
    fix_ok(f, tu_cancel(at, 71));
    assert_events(f, EV_HOLD_VOIDED(0, PRV(KZT, P1), K2, 29400000), EV_CANCELLED(71, Z1, K2, 100000));
    assert_events_at(f, 0, at);
    assert_cancelled(f, 71, at);
    assert_quote(f, q1, "FXKZKZKA", "AZN", "KZT", 100000, 29400000, RATE(294, 0), tq, tq + 600 * SEC, 0, 71,
                 ORTAK_QUOTE_STATE_RELEASED);
    assert_hold(f, 0, PRV(KZT, P1), K2, 29400000, ORTAK_PENDING_STATE_VOIDED);
    assert_account(f, PRV(KZT, P1), 100000000, 0, 0);
    assert_account(f, K2, 0, 0, 0);
    assert_refused(f, tu_cancel(0, 71), ORTAK_PAYMENT_NOT_QUEUED);
    assert_refused_payment(f, pvp_cmd(0, 72, Z1, K2, 100000, 1), ORTAK_QUOTE_USED);
    fix_fund(f, AZN, Z1, 100000);
    assert_no_transfer(f, 71);
    assert_account(f, Z1, 100000, 0, 0);
    fix_ok(f, tu_tick(tq + 600 * SEC));
    assert_no_events(f);
}

/*
 * The cut-off of normal payments rejects a queued normal payment carrying a quote and voids its hold; an urgent one
 * waits on. A new normal payment is refused before its quote is looked at, so the quote stays open and can be
 * paid after the reopening.
 */
static void test_pvp_cutoff(void **state) {
    struct fix *f = *state;
    steppe(f);
    fix_ok(f, quote_cmd(fix_t(f), 1, Z1, K2, 100000, SRC, 0));
    fix_ok(f, quote_cmd(fix_t(f), 2, Z1, K3, 1000, SRC, 0));
    assert_queued_cmd(f, pvp_cmd(0, 81, Z1, K2, 100000, 1));
    struct ortak_cmd urgent = pvp_cmd(0, 82, Z1, K3, 1000, 2);
    urgent.u.payment.priority = URG;
    assert_queued_cmd(f, urgent);
    ortak_time_ns at = fix_t(f);
    fix_ok(f, tu_cutoff(at, 1u << NORM, 0));
    assert_events(f, EV_CUTOFF(1u << NORM, 0), EV_HOLD_VOIDED(0, PRV(KZT, P1), K2, 29400000),
                  EV_REJECTED(81, Z1, K2, 100000, ORTAK_REJECTED_AT_CUTOFF));
    assert_rejected(f, 81, ORTAK_REJECTED_AT_CUTOFF, at);
    assert_int_equal(quote_state(f, 1), ORTAK_QUOTE_STATE_RELEASED);
    assert_int_equal(quote_state(f, 2), ORTAK_QUOTE_STATE_USED);
    assert_queued(f, 82);
    fix_ok(f, quote_cmd(fix_t(f), 3, Z1, K2, 2000, SRC, 0));
    assert_refused_payment(f, pvp_cmd(0, 83, Z1, K2, 2000, 3), ORTAK_CUTOFF_PASSED);
    assert_int_equal(quote_state(f, 3), ORTAK_QUOTE_STATE_OPEN);
    assert_hold(f, 2, PRV(KZT, P1), K2, 588000, ORTAK_PENDING_STATE_OPEN);
    fix_ok(f, tu_cutoff(fix_t(f), 1u << NORM, 1));
    ortak_u128 fund = 5000 + f->next_fund;
    fix_fund(f, AZN, Z1, 3000);
    assert_events(f, EV_POSTED(fund, ISS(AZN), Z1, 3000), EV_POSTED(82, Z1, PRV(AZN, P1), 1000),
                  EV_HOLD_POSTED(1, PRV(KZT, P1), K3, 294000), EV_SETTLED(82, Z1, K3, 1000));
    assert_cmd_ok(f, pvp_cmd(0, 84, Z1, K2, 2000, 3));
    assert_events(f, EV_POSTED(84, Z1, PRV(AZN, P1), 2000), EV_HOLD_POSTED(2, PRV(KZT, P1), K2, 588000),
                  EV_SETTLED(84, Z1, K2, 2000));
    assert_transfer(f, 82, Z1, PRV(AZN, P1), 1000, ORTAK_TRANSFER_USE_RESERVED, 1, ORTAK_PENDING_STATE_NONE);
    assert_account(f, Z1, 0, 0, 0);
    assert_account(f, K2, 588000, 0, 0);
    assert_account(f, K3, 294000, 0, 0);
}

/*
 * Offsetting on entry. Steppe has no AZN and has queued 300.00 AZN to Z1. Z1, with 200.00 AZN, pays 500.00 AZN to
 * K1 through Steppe: not covered alone, it settles with Steppe's payment back (Z1: 200 + 300 - 500 = 0; Steppe:
 * 0 + 500 - 300 = 200), both legs. Then the other way round: Z1's next cross-currency payment waits in its queue,
 * and Steppe's new payment to Z1 settles together with it.
 */
static void test_pvp_offsetting(void **state) {
    struct fix *f = *state;
    fix_rate(f, P1, AZN, KZT, RATE(294, 0), RATE(296, 0), 10000000);
    fix_fund(f, KZT, PRV(KZT, P1), 100000000);
    assert_queued_cmd(f, tu_payment(0, 20, PRV(AZN, P1), Z1, 30000, NORM));
    fix_fund(f, AZN, Z1, 20000);
    fix_ok(f, quote_cmd(fix_t(f), 1, Z1, K1, 50000, SRC, 0));
    assert_events(f, EV_HOLD(0, PRV(KZT, P1), K1, 14700000), EV_QUOTED(1, 0, Z1, K1, 50000, 14700000));
    ortak_time_ns at = fix_t(f);
    struct ortak_result r = fix_apply(f, pvp_cmd(at, 21, Z1, K1, 50000, 1));
    assert_true(r.rc == ORTAK_OK && r.flags == 0);
    assert_events(f, EV_POSTED(20, PRV(AZN, P1), Z1, 30000), EV_SETTLED(20, PRV(AZN, P1), Z1, 30000),
                  EV_POSTED(21, Z1, PRV(AZN, P1), 50000), EV_HOLD_POSTED(0, PRV(KZT, P1), K1, 14700000),
                  EV_SETTLED(21, Z1, K1, 50000), EV_OFFSET(21, Z1, K1, 1));
    assert_events_at(f, 0, at);
    assert_settled(f, 20, at);
    assert_settled(f, 21, at);
    assert_int_equal(quote_state(f, 1), ORTAK_QUOTE_STATE_SETTLED);
    assert_account(f, Z1, 0, 0, 0);
    assert_account(f, PRV(AZN, P1), 20000, 0, 0);
    assert_account(f, PRV(KZT, P1), 100000000 - 14700000, 0, 0);
    assert_account(f, K1, 14700000, 0, 0);

    fix_ok(f, quote_cmd(fix_t(f), 2, Z1, K1, 40000, SRC, 0));
    assert_queued_cmd(f, pvp_cmd(0, 22, Z1, K1, 40000, 2));
    at = fix_t(f);
    r = fix_apply(f, tu_payment(at, 23, PRV(AZN, P1), Z1, 60000, NORM));
    assert_true(r.rc == ORTAK_OK && r.flags == 0);
    assert_events(f, EV_POSTED(22, Z1, PRV(AZN, P1), 40000), EV_HOLD_POSTED(1, PRV(KZT, P1), K1, 11760000),
                  EV_SETTLED(22, Z1, K1, 40000), EV_POSTED(23, PRV(AZN, P1), Z1, 60000),
                  EV_SETTLED(23, PRV(AZN, P1), Z1, 60000), EV_OFFSET(23, PRV(AZN, P1), Z1, 1));
    assert_int_equal(quote_state(f, 2), ORTAK_QUOTE_STATE_SETTLED);
    assert_account(f, Z1, 20000, 0, 0);
    assert_account(f, PRV(AZN, P1), 0, 0, 0);
    assert_account(f, K1, 14700000 + 11760000, 0, 0);
}

/*
 * Gridlock resolution. In AZN, Steppe (no AZN) owes Z2 300.00, Z2 (nothing) owes Z1 300.00, and Z1 (nothing) pays
 * 300.00 AZN to K1 through Steppe: a cycle no payment can start. The operator's FIFO run settles all three at once,
 * the cross-currency payment with both legs (its KZT leg is covered by the hold).
 */
static void test_pvp_gridlock(void **state) {
    struct fix *f = *state;
    fix_rate(f, P1, AZN, KZT, RATE(294, 0), RATE(296, 0), 10000000);
    fix_fund(f, KZT, PRV(KZT, P1), 100000000);
    fix_ok(f, quote_cmd(fix_t(f), 1, Z1, K1, 30000, SRC, 0));
    assert_queued_cmd(f, tu_payment(0, 31, PRV(AZN, P1), Z2, 30000, NORM));
    assert_queued_cmd(f, tu_payment(0, 32, Z2, Z1, 30000, NORM));
    assert_queued_cmd(f, pvp_cmd(0, 33, Z1, K1, 30000, 1));
    assert_int_equal(quote_state(f, 1), ORTAK_QUOTE_STATE_USED);
    ortak_time_ns at = fix_t(f);
    fix_ok(f, gridlock_cmd(at, ORTAK_GRIDLOCK_FIFO, "AZN"));
    assert_events(f, EV_POSTED(33, Z1, PRV(AZN, P1), 30000), EV_HOLD_POSTED(0, PRV(KZT, P1), K1, 8820000),
                  EV_SETTLED(33, Z1, K1, 30000), EV_POSTED(32, Z2, Z1, 30000), EV_SETTLED(32, Z2, Z1, 30000),
                  EV_POSTED(31, PRV(AZN, P1), Z2, 30000), EV_SETTLED(31, PRV(AZN, P1), Z2, 30000),
                  EV_GRIDLOCK(cur_numeric[AZN], ORTAK_GRIDLOCK_FIFO, 3, 3, 90000));
    assert_events_at(f, 0, at);
    for (ortak_u128 id = 31; id <= 33; id++) assert_settled(f, id, at);
    assert_int_equal(quote_state(f, 1), ORTAK_QUOTE_STATE_SETTLED);
    assert_account(f, Z1, 0, 0, 0);
    assert_account(f, Z2, 0, 0, 0);
    assert_account(f, PRV(AZN, P1), 0, 0, 0);
    assert_account(f, PRV(KZT, P1), 100000000 - 8820000, 0, 0);
    assert_account(f, K1, 8820000, 0, 0);
}

/* With [fx] fee_ppm = 2500 (0.25%): the operator's fee, rounded up, paid in the source currency in its own leg. */
static int setup_fee(void **state) {
    struct ortak_config cfg = fix_config();
    cfg.settlement.fx_fee_ppm = 2500;
    return setup_with(state, cfg);
}

#define OPERATOR_BIC "OTSOAZ22"
#define OP_AZN ((ortak_u128)900)

static void test_pvp_fee(void **state) {
    struct fix *f = *state;
    fix_rate(f, P1, AZN, KZT, RATE(294, 0), RATE(296, 0), 10000000);
    fix_fund(f, KZT, PRV(KZT, P1), 100000000);
    fix_fund(f, AZN, Z1, 200000);
    /* No operator holds an AZN settlement account yet: a fee cannot be paid, so no quote. */
    assert_refused(f, quote_cmd(fix_t(f), 1, Z1, K2, 100001, SRC, 0), ORTAK_FX_FEE_ACCOUNT_MISSING);
    fix_ok(f, tu_participant(fix_t(f), OPERATOR_BIC, "OTS payment system operator", ORTAK_ROLE_OPERATOR));
    fix_ok(f, tu_account(fix_t(f), OP_AZN, OPERATOR_BIC, "AZN", ORTAK_ACCOUNT_SETTLEMENT));

    /* 1,000.01 AZN converts to 294,002.94 KZT; the fee is 100,001 x 2,500 / 10^6 = 250.0025 qapik, rounded up. */
    fix_ok(f, quote_cmd(fix_t(f), 1, Z1, K2, 100001, SRC, 0));
    struct ortak_fx_quote_info q;
    assert_int_equal(ortak_fx_quote_get(ortak_engine_fx(f->e), 1, &q), ORTAK_OK);
    assert_int_equal(q.source_amount, 100001);
    assert_int_equal(q.fee_amount, 251);
    assert_int_equal(q.target_amount, 29400294);

    /* The payment carries source and fee together. */
    assert_refused_payment(f, pvp_cmd(fix_t(f), 10, Z1, K2, 100001, 1), ORTAK_QUOTE_MISMATCH);
    ortak_time_ns at = fix_t(f);
    fix_ok(f, pvp_cmd(at, 11, Z1, K2, 100252, 1));
    assert_events(f, EV_POSTED(11, Z1, PRV(AZN, P1), 100001), EV_POSTED(FEE_ID(0), Z1, OP_AZN, 251),
                  EV_HOLD_POSTED(0, PRV(KZT, P1), K2, 29400294), EV_SETTLED(11, Z1, K2, 100252));
    assert_settled(f, 11, at);
    assert_account(f, Z1, 200000 - 100252, 0, 0);
    assert_account(f, PRV(AZN, P1), 100001, 0, 0);
    assert_account(f, OP_AZN, 251, 0, 0);
    assert_account(f, K2, 29400294, 0, 0);
    assert_int_equal(quote_state(f, 1), ORTAK_QUOTE_STATE_SETTLED);

    /*
     * Queued behind a payment that cannot go, and settled by gridlock resolution in bypass mode: in the instance
     * the whole amount leaves the payer and its credit counts for no one (part goes to the provider, part to the
     * operator), so nobody's liquidity is overstated.
     */
    assert_queued_cmd(f, tu_payment(0, 23, Z2, Z3, 1000000, NORM));
    fix_ok(f, quote_cmd(fix_t(f), 2, Z2, K3, 40000, SRC, 0)); /* fee 100 */
    assert_queued_cmd(f, pvp_cmd(0, 22, Z2, K3, 40100, 2));
    fix_fund(f, AZN, Z2, 40100); /* FIFO: the head, 23, still cannot go, and 22 waits behind it */
    assert_int_equal(quote_state(f, 2), ORTAK_QUOTE_STATE_USED);
    at = fix_t(f);
    fix_ok(f, gridlock_cmd(at, ORTAK_GRIDLOCK_BYPASS, "AZN"));
    assert_settled(f, 22, at);
    assert_account(f, Z2, 0, 0, 0);
    assert_account(f, PRV(AZN, P1), 100001 + 40000, 0, 0);
    assert_account(f, OP_AZN, 351, 0, 0);
    assert_account(f, K3, 11760000, 0, 0);
    assert_int_equal(quote_state(f, 2), ORTAK_QUOTE_STATE_SETTLED);

    /* The state reopens with the fees. */
    struct tu_buf b = {0};
    ortak_engine_encode(f->e, tu_buf_sink, &b);
    struct ortak_config cfg = *ortak_engine_config(f->e);
    struct ortak_engine *r = NULL;
    assert_int_equal(ortak_engine_open_state(&cfg, b.data, b.len, &r), ORTAK_OK);
    f->more[0] = r;
    free(b.data);
    assert_int_equal(ortak_fx_quote_get(ortak_engine_fx(r), 2, &q), ORTAK_OK);
    assert_int_equal(q.fee_amount, 100);
}

/* [fx] keys: a fee from 0 to 100,000 ppm, a quote's time to live from 1 s to a day. */
static void test_fx_config(void **state) {
    (void)state;
    static const struct {
        const char *text;
        ortak_rc rc;
        uint32_t fee, ttl;
    } cases[] = {
        {"[fx]\nfee_ppm = 2500\n", ORTAK_OK, 2500, 600},
        {"[fx]\nfee_ppm = 100000\nquote_ttl_s = 86400\n", ORTAK_OK, 100000, 86400},
        {"[fx]\nfee_ppm = 100001\n", ORTAK_CONFIG_INVALID, 0, 0},
        {"[fx]\nfee_ppm = -1\n", ORTAK_CONFIG_INVALID, 0, 0},
        {"[fx]\nquote_ttl_s = 0\n", ORTAK_CONFIG_INVALID, 0, 0},
        {"[fx]\nquote_ttl_s = 86401\n", ORTAK_CONFIG_INVALID, 0, 0},
        {"[fx]\nfees = 1\n", ORTAK_CONFIG_INVALID, 0, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char text[512], err[256];
        snprintf(text, sizeof text,
                 "%s[currency KZT]\nnumeric = 398\nminor_units = 2\nagent = NBRKKZKX\n"
                 "agent_name = National Bank of Kazakhstan\n",
                 cases[k].text);
        struct ortak_config cfg;
        assert_int_equal(ortak_config_parse(&cfg, text, strlen(text), err, sizeof err), cases[k].rc);
        if (cases[k].rc != ORTAK_OK) {
            assert_non_null(strstr(err, "[fx]"));
            continue;
        }
        assert_int_equal(cfg.settlement.fx_fee_ppm, cases[k].fee);
        assert_int_equal(cfg.settlement.quote_ttl_s, cases[k].ttl);
    }
}

/* ---- 6. the journal and the canonical state ---------------------------------------------------------------- */

/* A second engine built like f's (same configuration, same fixture), kept in f->more[slot]. */
static struct fix fix_twin(struct fix *f, int slot) {
    struct fix g = {0};
    struct ortak_config cfg = *ortak_engine_config(f->e);
    assert_int_equal(ortak_engine_open(&cfg, &g.e), ORTAK_OK);
    f->more[slot] = g.e;
    fix_build(&g);
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
static void apply_both(struct ortak_engine *a, struct ortak_engine *b, const struct ortak_cmd *cmds, uint32_t n,
                       struct ortak_result *ra) {
    struct ortak_result rb[16];
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

static uint64_t le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* FX_RATE_SET (publish and withdraw), FX_QUOTE and a payment carrying a quote in the journal's batch encoding. */
static void test_journal_commands(void **state) {
    struct fix *f = *state;
    struct fix g = fix_twin(f, 0);
    struct fix *both[2] = {f, &g};
    for (int i = 0; i < 2; i++) {
        steppe(both[i]);
        fix_fund(both[i], KZT, PRV(KZT, P2), 10000000);
        fix_fund(both[i], AZN, Z1, 10000);
    }
    ortak_time_ns t = f->now + SEC;
    struct ortak_cmd cmds[4] = {rate_cmd(t, "FXTRTRIS", "AZN", "KZT", RATE(295, 0), RATE(297, 0), 5000000, FAR),
                                quote_cmd(t + SEC, 7, Z1, K2, 10000, SRC, 120),
                                pvp_cmd(t + 2 * SEC, 8, Z1, K2, 10000, 7),
                                withdraw_cmd(t + 3 * SEC, "FXKZKZKA", "AZN", "KZT")};
    cmds[2].u.payment.uetr = ORTAK_U128(0x0123456789abcdef, 0xfedcba9876543210);
    size_t cap = ortak_batch_encoded_size_max(4);
    unsigned char *buf = malloc(cap + 1);
    assert_non_null(buf);
    /* Records: header (timestamp, kind) 9 bytes; a rate 12 + 4 + 4 + 4 x 8 + 1; a quote 3 x 16 + 8 + 4 + 1; a
     * payment 5 x 16 + 8 + 8 + 1 + 1 with its quote id, then hold 1 and the screening decision 8 + 2 + 1 + 8 + 24. */
    size_t len = ortak_batch_encode(cmds, 4, buf, cap);
    const size_t rate_len = 9 + 53, quote_len = 9 + 61, pay_len = 9 + 98 + 1 + 43;
    assert_int_equal(len, 4 + rate_len + quote_len + pay_len + rate_len);
    const unsigned char *r = buf + 4, *q = r + rate_len, *p = q + quote_len, *w = p + pay_len;
    assert_int_equal(r[8], ORTAK_CMD_FX_RATE_SET);
    assert_memory_equal(r + 9, "FXTRTRIS\0\0\0\0", 12);
    assert_memory_equal(r + 21, "AZN\0KZT\0", 8);
    assert_true(le64(r + 29) == RATE(295, 0) && le64(r + 37) == RATE(297, 0) && le64(r + 45) == 5000000 &&
                le64(r + 53) == FAR);
    assert_int_equal(r[61], 0);
    assert_int_equal(q[8], ORTAK_CMD_FX_QUOTE);
    assert_true(le64(q + 9) == 7 && le64(q + 25) == (uint64_t)Z1 && le64(q + 41) == (uint64_t)K2 &&
                le64(q + 57) == 10000);
    assert_true(q[65] == 120 && q[66] == 0 && q[69] == SRC);
    assert_int_equal(p[8], ORTAK_CMD_PAYMENT_SUBMIT);
    const unsigned char *quote_id = p + pay_len - 44 - 16; /* before the hold and the screening decision */
    assert_true(le64(quote_id) == 7 && le64(quote_id + 8) == 0 && p[pay_len - 44] == 0);
    assert_int_equal(w[8], ORTAK_CMD_FX_RATE_SET);
    assert_int_equal(w[61], 1);
    struct ortak_cmd out[4];
    uint32_t n = 99;
    assert_int_equal(ortak_batch_decode(buf, len, out, 4, &n), ORTAK_OK);
    assert_int_equal(n, 4);
    for (uint32_t i = 0; i < 4; i++) assert_memory_equal(&out[i], &cmds[i], sizeof cmds[i]);
    /* Decoded, they do what the originals do. */
    struct ortak_result ra[4], rb[4];
    assert_int_equal(ortak_engine_apply(f->e, cmds, 4, ra), ORTAK_OK);
    assert_int_equal(ortak_engine_apply(g.e, out, 4, rb), ORTAK_OK);
    for (int i = 0; i < 4; i++) assert_true(ra[i].rc == ORTAK_OK && rb[i].rc == ORTAK_OK && ra[i].flags == 0);
    assert_same_hash(f->e, g.e);
    assert_settled(f, 8, t + 2 * SEC);
    assert_int_equal(quote_state(f, 7), ORTAK_QUOTE_STATE_SETTLED);
    struct ortak_fx_quote_info qa, qb;
    assert_int_equal(ortak_fx_quote_get(fix_fx(f), 7, &qa), ORTAK_OK);
    assert_int_equal(ortak_fx_quote_get(ortak_engine_fx(g.e), 7, &qb), ORTAK_OK);
    assert_true(strcmp(qa.provider, "FXTRTRIS") == 0 && strcmp(qb.provider, "FXTRTRIS") == 0 &&
                qa.target_amount == 2950000 && qb.target_amount == 2950000 && qb.state == ORTAK_QUOTE_STATE_SETTLED);
    assert_int_equal(ortak_fx_rate_count(fix_fx(f)), 1);
    /* Bad bytes: an unterminated provider, fixed side or time to live of any value (the engine judges them), a byte
     * short, a byte too many. */
    memcpy(buf + 4 + 9, "FXTRTRISABCD", 12);
    assert_int_equal(ortak_batch_decode(buf, len, out, 4, &n), ORTAK_CORRUPT);
    memcpy(buf + 4 + 9, "FXTRTRIS\0\0\0\0", 12);
    buf[q - buf + 69] = 7;
    assert_int_equal(ortak_batch_decode(buf, len, out, 4, &n), ORTAK_OK);
    assert_int_equal(out[1].u.fx_quote.fixed, 7);
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
        /* The same hash, the same time, and the bytes round-trip exactly. */
        struct tu_buf b2 = {0};
        ortak_engine_encode(*out, tu_buf_sink, &b2);
        assert_int_equal(b2.len, b.len);
        assert_memory_equal(b2.data, b.data, b.len);
        free(b2.data);
        assert_same_hash(e, *out);
        assert_int_equal(ortak_engine_now(*out), ortak_engine_now(e));
    }
    free(b.data);
    return rc;
}

/* Two engines report quote `id` alike. */
static void assert_same_quote(const struct ortak_engine *a, const struct ortak_engine *b, ortak_u128 id) {
    struct ortak_fx_quote_info x, y;
    assert_int_equal(ortak_fx_quote_get(ortak_engine_fx(a), id, &x), ORTAK_OK);
    assert_int_equal(ortak_fx_quote_get(ortak_engine_fx(b), id, &y), ORTAK_OK);
    assert_true(x.req.id == y.req.id && x.req.debit_account_id == y.req.debit_account_id &&
                x.req.credit_account_id == y.req.credit_account_id && x.req.amount == y.req.amount &&
                x.req.ttl_s == y.req.ttl_s && x.req.fixed == y.req.fixed && strcmp(x.provider, y.provider) == 0 &&
                strcmp(x.source, y.source) == 0 && strcmp(x.target, y.target) == 0 &&
                x.source_amount == y.source_amount && x.target_amount == y.target_amount && x.rate == y.rate &&
                x.created_ns == y.created_ns && x.expires_ns == y.expires_ns && x.hold_id == y.hold_id &&
                x.payment_id == y.payment_id && x.state == y.state);
}

/*
 * The state encoded with quotes in every state — open, used (its payment queued), settled, expired unused, released
 * (its payment cancelled), expired while carried (its payment rejected at the expiry) — and rates published,
 * replaced and withdrawn, then reopened: the same hash and queries, and the same behaviour afterwards.
 */
static void test_state_reopen(void **state) {
    struct fix *f = *state;
    steppe(f);
    fix_rate(f, P2, TRY, UZS, RATE(330, 50), RATE(333, 25), 10000000);
    fix_rate(f, P3, AZN, KZT, RATE(293, 50), RATE(295, 50), 10000000);
    fix_ok(f, withdraw_cmd(fix_t(f), prov_bic[P3], "AZN", "KZT"));
    fix_rate(f, P1, AZN, KZT, RATE(294, 0), RATE(296, 10), 10000000);
    fix_fund(f, AZN, Z1, 100000);
    fix_ok(f, quote_cmd(fix_t(f), 1, Z1, K2, 1000, SRC, 0)); /* open */
    fix_ok(f, quote_cmd(fix_t(f), 2, Z2, K3, 2000, SRC, 0)); /* used */
    assert_queued_cmd(f, pvp_cmd(0, 92, Z2, K3, 2000, 2));
    fix_ok(f, quote_cmd(fix_t(f), 3, Z1, K1, 3000, TGT, 0)); /* settled */
    assert_cmd_ok(f, pvp_cmd(0, 93, Z1, K1, 11, 3));
    ortak_time_ns t4 = fix_t(f);
    fix_ok(f, quote_cmd(t4, 4, Z1, K2, 4000, SRC, 10));      /* expired */
    fix_ok(f, quote_cmd(fix_t(f), 5, Z3, K1, 5000, SRC, 0)); /* released */
    assert_queued_cmd(f, pvp_cmd(0, 95, Z3, K1, 5000, 5));
    fix_ok(f, tu_cancel(fix_t(f), 95));
    ortak_time_ns t6 = fix_t(f);
    fix_ok(f, quote_cmd(t6, 6, Z3, K2, 6000, SRC, 20)); /* expired while carried */
    assert_queued_cmd(f, tu_latest(pvp_cmd(0, 96, Z3, K2, 6000, 6), t6 + 30 * SEC));
    assert_refused_payment(f, pvp_cmd(0, 97, Z3, K2, 6001, 6), ORTAK_QUOTE_MISMATCH);
    f->now = t6 + 20 * SEC;
    fix_ok(f, tu_tick(f->now));
    assert_refused_payment(f, pvp_cmd(0, 94, Z1, K2, 4000, 4), ORTAK_QUOTE_EXPIRED);
    const uint8_t want[6] = {ORTAK_QUOTE_STATE_OPEN,    ORTAK_QUOTE_STATE_USED,     ORTAK_QUOTE_STATE_SETTLED,
                             ORTAK_QUOTE_STATE_EXPIRED, ORTAK_QUOTE_STATE_RELEASED, ORTAK_QUOTE_STATE_EXPIRED};
    for (int i = 0; i < 6; i++) assert_int_equal(quote_state(f, (ortak_u128)i + 1), want[i]);
    assert_rejected(f, 96, ORTAK_SETTLEMENT_TIMEOUT, t6 + 20 * SEC);

    struct ortak_engine *r = NULL;
    assert_int_equal(reopen_rc(f->e, &r), ORTAK_OK);
    f->more[0] = r;
    for (ortak_u128 id = 1; id <= 6; id++) assert_same_quote(f->e, r, id);
    assert_int_equal(ortak_fx_rate_count(ortak_engine_fx(r)), 2);
    struct ortak_fx_rate ra;
    assert_int_equal(ortak_fx_rate_get(ortak_engine_fx(r), "FXKZKZKA", "AZN", "KZT", &ra), ORTAK_OK);
    assert_true(ra.bid == RATE(294, 0) && ra.ask == RATE(296, 10) && ra.max_amount == 10000000 &&
                ra.valid_until_ns == FAR);
    assert_int_equal(ortak_fx_rate_get(ortak_engine_fx(r), "FXUZUZ22", "AZN", "KZT", &ra), ORTAK_FX_RATE_NOT_FOUND);

    /* Afterwards, on both: Z2's liquidity settles its queued payment; the open quote is paid; quote 4 (expired,
     * never carried) is refused; a new quote (its hold numbered after the others); a tie decided by publication
     * order; replays; the end of every hold. */
    ortak_time_ns b = f->now;
    struct ortak_cmd cmds[11] = {
        tu_transfer(b + SEC, 6001, ISS(AZN), Z2, 2000, 0),
        pvp_cmd(b + 2 * SEC, 98, Z1, K2, 1000, 1),
        pvp_cmd(b + 3 * SEC, 99, Z1, K2, 4000, 4),
        tu_transfer(b + 4 * SEC, 6002, ISS(KZT), PRV(KZT, P3), 100000000, 0),
        rate_cmd(b + 4 * SEC, prov_bic[P3], "AZN", "KZT", RATE(294, 0), RATE(296, 10), 10000000, FAR),
        quote_cmd(b + 5 * SEC, 8, Z1, K2, 5000, SRC, 0),
        quote_cmd(b + 6 * SEC, 2, Z2, K3, 2000, SRC, 0),
        pvp_cmd(b + 7 * SEC, 93, Z1, K1, 11, 3),
        tu_cancel(b + 8 * SEC, 92),
        tu_tick(b + 700 * SEC),
        quote_cmd(b + 701 * SEC, 9, K1, Z1, 100000, SRC, 0),
    };
    struct ortak_result res[11];
    apply_both(f->e, r, cmds, 11, res);
    const uint32_t rc[11] = {ORTAK_OK, ORTAK_OK, ORTAK_QUOTE_EXPIRED,      ORTAK_OK, ORTAK_OK, ORTAK_OK,
                             ORTAK_OK, ORTAK_OK, ORTAK_PAYMENT_NOT_QUEUED, ORTAK_OK, ORTAK_OK};
    const uint32_t flags[11] = {0, 0, 0, 0, 0, 0, ORTAK_RESULT_REPLAYED, ORTAK_RESULT_REPLAYED, 0, 0, 0};
    for (int i = 0; i < 11; i++) assert_true(res[i].rc == rc[i] && res[i].flags == flags[i]);
    assert_settled(f, 92, b + SEC);
    assert_settled(f, 98, b + 2 * SEC);
    assert_int_equal(quote_state(f, 2), ORTAK_QUOTE_STATE_SETTLED);
    assert_int_equal(quote_state(f, 1), ORTAK_QUOTE_STATE_SETTLED);
    struct ortak_fx_quote_info q;
    assert_int_equal(ortak_fx_quote_get(ortak_engine_fx(r), 8, &q), ORTAK_OK);
    assert_true(strcmp(q.provider, "FXKZKZKA") == 0 && q.target_amount == 1470000 && q.hold_id == HOLD_ID(6) &&
                q.state == ORTAK_QUOTE_STATE_EXPIRED);
    assert_int_equal(ortak_fx_quote_get(ortak_engine_fx(r), 9, &q), ORTAK_OK);
    assert_true(q.hold_id == HOLD_ID(7) && q.target_amount == 337 && q.state == ORTAK_QUOTE_STATE_OPEN);
    for (ortak_u128 id = 1; id <= 9; id++) {
        if (id != 7) assert_same_quote(f->e, r, id);
    }
}

/* ---- 7. time inside a linked chain, payees no longer active, and a bug ------------------------------------- */

/*
 * A linked chain carries engine time past a quote's expiry: Z1's payment waits for liquidity, due at its quote's
 * expiry (tq + 30 s); a chain of two transfers, the second at tq + 40 s, funds Z1. Inside a chain nothing expires,
 * and the release after it must not book the expired hold nor reject the payment for it with the ledger's
 * PENDING_EXPIRED (no ISO reason): the payment waits, and with the next command the hold expires and the payment is
 * rejected as any payment at its quote's expiry (SETTLEMENT_TIMEOUT).
 */
static void test_pvp_expiry_inside_chain(void **state) {
    struct fix *f = *state;
    steppe(f);
    ortak_time_ns tq = fix_t(f);
    fix_ok(f, quote_cmd(tq, 1, Z1, K2, 100000, SRC, 30));
    assert_queued_cmd(f, pvp_cmd(0, 61, Z1, K2, 100000, 1));
    struct ortak_cmd chain[2] = {tu_linked(tu_transfer(tq + 10 * SEC, 7001, ISS(AZN), Z2, 1, 0)),
                                 tu_transfer(tq + 40 * SEC, 7002, ISS(AZN), Z1, 100000, 0)};
    struct ortak_result r[2];
    assert_int_equal(ortak_engine_apply(f->e, chain, 2, r), ORTAK_OK);
    assert_true(r[0].rc == ORTAK_OK && r[1].rc == ORTAK_OK);
    assert_events(f, EV_POSTED(7001, ISS(AZN), Z2, 1), EV_POSTED(7002, ISS(AZN), Z1, 100000));
    assert_queued(f, 61);
    assert_no_transfer(f, 61);
    assert_hold(f, 0, PRV(KZT, P1), K2, 29400000, ORTAK_PENDING_STATE_OPEN);
    f->now = tq + 41 * SEC;
    fix_ok(f, tu_tick(f->now));
    assert_events(f, EV_HOLD_EXPIRED(0, PRV(KZT, P1), K2, 29400000),
                  EV_REJECTED(61, Z1, K2, 100000, ORTAK_SETTLEMENT_TIMEOUT));
    assert_rejected(f, 61, ORTAK_SETTLEMENT_TIMEOUT, tq + 41 * SEC);
    assert_int_equal(quote_state(f, 1), ORTAK_QUOTE_STATE_EXPIRED);
    assert_account(f, Z1, 100000, 0, 0);
    assert_account(f, PRV(KZT, P1), 100000000, 0, 0);
}

/*
 * The post of a hold checks no participant, so a payment carrying a quote checks its payee's. K2's participant
 * suspended after the quote was given: a new payment is refused with PARTICIPANT_NOT_ACTIVE, like a plain payment
 * to it, and leaves the quote open; one already queued waits (liquidity alone does not settle it) and settles when
 * the payee is active again. A payee closed for good: refused, and the quote's hold expires unused.
 */
static void test_pvp_payee_not_active(void **state) {
    struct fix *f = *state;
    steppe(f);
    fix_fund(f, KZT, K1, 100);
    fix_ok(f, quote_cmd(fix_t(f), 1, Z1, K2, 100000, SRC, 0));
    fix_ok(f, quote_cmd(fix_t(f), 2, Z2, K2, 1000, SRC, 0));
    assert_queued_cmd(f, pvp_cmd(0, 62, Z2, K2, 1000, 2));
    fix_ok(f, tu_status(fix_t(f), bank_bic[KZT][1], ORTAK_PARTICIPANT_SUSPENDED));
    assert_refused_payment(f, tu_payment(0, 60, K1, K2, 1, NORM), ORTAK_PARTICIPANT_NOT_ACTIVE);
    fix_fund(f, AZN, Z1, 100000);
    assert_refused_payment(f, pvp_cmd(0, 61, Z1, K2, 100000, 1), ORTAK_PARTICIPANT_NOT_ACTIVE);
    assert_int_equal(quote_state(f, 1), ORTAK_QUOTE_STATE_OPEN);
    assert_account(f, Z1, 100000, 0, 0);
    /* Z2's queued payment: funded, it still waits for its payee; reactivated, the payee receives it. */
    ortak_u128 fund = 5000 + f->next_fund;
    fix_fund(f, AZN, Z2, 1000);
    assert_events(f, EV_POSTED(fund, ISS(AZN), Z2, 1000));
    assert_queued(f, 62);
    assert_int_equal(quote_state(f, 2), ORTAK_QUOTE_STATE_USED);
    ortak_time_ns at = fix_t(f);
    fix_ok(f, tu_status(at, bank_bic[KZT][1], ORTAK_PARTICIPANT_ACTIVE));
    assert_events(f, EV_STATUS(bank_bic[KZT][1], ORTAK_PARTICIPANT_ACTIVE), EV_POSTED(62, Z2, PRV(AZN, P1), 1000),
                  EV_HOLD_POSTED(1, PRV(KZT, P1), K2, 294000), EV_SETTLED(62, Z2, K2, 1000));
    assert_settled(f, 62, at);
    /* Closed: quote 1 can no longer be paid. */
    fix_ok(f, tu_status(fix_t(f), bank_bic[KZT][1], ORTAK_PARTICIPANT_CLOSED));
    assert_refused_payment(f, pvp_cmd(0, 63, Z1, K2, 100000, 1), ORTAK_PARTICIPANT_NOT_ACTIVE);
    assert_account(f, K2, 294000, 0, 29400000);
    assert_account(f, Z1, 100000, 0, 0);
    f->now += 600 * SEC;
    fix_ok(f, tu_tick(f->now));
    assert_events(f, EV_HOLD_EXPIRED(0, PRV(KZT, P1), K2, 29400000));
    assert_int_equal(quote_state(f, 1), ORTAK_QUOTE_STATE_EXPIRED);
    assert_account(f, K2, 294000, 0, 0);
}

/*
 * A queued payment whose latest settlement time passes inside a linked chain (whose members process no deadline)
 * does not settle in the release after the chain: it waits, and is rejected with SETTLEMENT_TIMEOUT, its hold
 * voided, as soon as engine time is next processed.
 */
static void test_pvp_latest_time_inside_chain(void **state) {
    struct fix *f = *state;
    steppe(f);
    ortak_time_ns tq = fix_t(f);
    fix_ok(f, quote_cmd(tq, 1, Z1, K2, 100000, SRC, 0));
    assert_queued_cmd(f, tu_latest(pvp_cmd(0, 61, Z1, K2, 100000, 1), tq + 30 * SEC));
    struct ortak_cmd chain[2] = {tu_linked(tu_transfer(tq + 10 * SEC, 7001, ISS(AZN), Z2, 1, 0)),
                                 tu_transfer(tq + 40 * SEC, 7002, ISS(AZN), Z1, 100000, 0)};
    struct ortak_result r[2];
    assert_int_equal(ortak_engine_apply(f->e, chain, 2, r), ORTAK_OK);
    assert_true(r[0].rc == ORTAK_OK && r[1].rc == ORTAK_OK);
    f->now = tq + 41 * SEC;
    fix_ok(f, tu_tick(f->now));
    struct ortak_payment_info p;
    assert_int_equal(ortak_settle_payment_get(fix_settle(f), 61, &p), ORTAK_OK);
    if (p.state != ORTAK_PAYMENT_REJECTED || p.rc != ORTAK_SETTLEMENT_TIMEOUT)
        fail_msg("payment 61 (latest tq + 30 s): %s %s at tq + %llu s; expected rejected SETTLEMENT_TIMEOUT",
                 ortak_payment_state_name(p.state), ortak_rc_name(p.rc), (unsigned long long)((p.ended_ns - tq) / SEC));
    assert_int_equal(quote_state(f, 1), ORTAK_QUOTE_STATE_RELEASED);
    assert_no_transfer(f, 61);
}

/* ---- 8. property test: random FX traffic, followed through the events ------------------------------------- */

/*
 * Four currencies; six banks with a settlement account in each; the three providers with one in each too. Random
 * traffic: rates published, replaced (some invalid, some beyond the table), withdrawn and left to expire; quotes of
 * both kinds (some repeated, some the same id with other fields); payments carrying quotes (most as quoted, some by
 * another payer, for another payee or amount, an unknown or a used or expired quote, a net one), urgent ones and ones
 * with a latest time; gross payments between banks and between banks and providers (some made to close a cycle with
 * a waiting cross-currency payment); liquidity in and out; linked chains that carry time past quotes' expiries;
 * cancels; cut-offs; providers and banks suspended and reactivated; ticks past expiries; the operator's gridlock runs
 * and the periodic ones. A model built from the commands and the events alone predicts every quote (the conversion
 * and its rounding, the best rate, the refusal) and every refusal of a rate or of a payment carrying a quote, and
 * follows balances and holds. Events are checked as they come (both legs adjacent, around their payment's
 * settlement; a hold ended once, for its own payment; nothing settled at or after its latest time). After every
 * batch the model is checked against the engine: per-currency sums and floors, each account's balance and holds,
 * each quote's hold against its payment (posted iff settled, voided iff cancelled or rejected after acceptance,
 * expired otherwise once its time passed, resolved by exactly one event), both legs of every payment carrying a quote
 * or neither. Two engines fed the same batches must agree on results, events and state hash, and every few batches
 * the second is replaced by one reopened from the first's encoded state.
 */
#define P_CURS 4
#define P_BANKS 6
#define P_PAYMENTS 8192  /* payment ids 1.. */
#define P_QUOTE_IDS 8192 /* quote ids 1.. */
#define P_COMMANDS 8000  /* per seed */
#define P_BATCH_MAX 16
#define P_REOPEN_EVERY 25 /* batches */
#define P_RATES_MAX 30    /* below the 36 a provider and pair can have: the table fills up */
#define P_SLOTS 400       /* accounts by id - 1000 */
static const char *const p_bank[P_BANKS] = {"HSBKKZKX", "KCJBKZKX", "IBAZAZ2X", "PAHAAZ22", "NBFAUZ2X", "TCZBTR2A"};
/* Currency units per US dollar, x 10: what sizes amounts and mid rates alike in every currency. */
static const uint64_t p_per_usd10[P_CURS] = {17, 5000, 127000, 380};
#define PI(c) ((ortak_u128)1000 + (ortak_u128)(c)*100)
#define PS(c, k) (PI(c) + 1 + (ortak_u128)(k))
#define PP(c, j) (PI(c) + 50 + (ortak_u128)(j))

/* `cents` US cents in minor units of currency c. */
static uint64_t p_minor(int c, uint64_t cents) { return cents * p_per_usd10[c] / 10; }

/* An account of the property test: its currency, its bank or provider (-1 when not one). */
struct pacc {
    int c, k, j;
};

static struct pacc p_account(ortak_u128 id) {
    assert_true(id >= PI(0) && id < PI(P_CURS));
    uint32_t rem = (uint32_t)(id - PI(0)) % 100;
    struct pacc a = {(int)((uint32_t)(id - PI(0)) / 100), -1, -1};
    if (rem >= 1 && rem <= P_BANKS) a.k = (int)rem - 1;
    if (rem >= 50 && rem < 50 + PROVIDERS) a.j = (int)rem - 50;
    return a;
}
static uint32_t p_slot(ortak_u128 id) { return (uint32_t)(id - PI(0)); }

static struct ortak_config p_config(void) {
    struct ortak_config cfg;
    ortak_config_default(&cfg);
    cfg.limits.participants_max = 32;
    cfg.limits.accounts_max = 64;
    cfg.limits.transfers_max = 1u << 16;
    cfg.limits.pending_max = 4096;
    cfg.limits.history_max = 1024;
    cfg.limits.batch_max = 64;
    cfg.limits.payments_max = P_PAYMENTS;
    cfg.limits.quotes_max = P_QUOTE_IDS;
    cfg.limits.fx_rates_max = P_RATES_MAX;
    cfg.settlement.gridlock_interval_ms = 60000; /* periodic runs too; FIFO keeps them cheap */
    cfg.settlement.gridlock_mode = ORTAK_GRIDLOCK_FIFO;
    cfg.settlement.gridlock_budget = 20000; /* the operator's bypass runs stay cheap */
    for (uint32_t i = 0; i < cfg.currency_count; i++) cfg.currencies[i].net_window_ms = 0;
    return cfg;
}

/* A live rate as the model knows it (from the FX_RATE events and their commands). */
struct mrate {
    bool live;
    uint64_t bid, ask, max;
    ortak_time_ns until;
    uint64_t seq;
};

/* A quote given, as the model knows it; its place here is its index in the engine. */
struct mquote {
    struct ortak_fx_quote_request req;
    int payer, payee, s, t, j; /* banks, currencies, provider */
    uint64_t src, tgt, rate;
    bool buys_base; /* the rate is the provider's bid: the source is the base of its pair */
    ortak_time_ns expires;
    ortak_u128 payment; /* bound by the events: the payment queued or settled with it */
    uint32_t end;       /* 0 while its hold is open; then the event that ended it */
    uint32_t resolved;  /* events that ended it: at most one, ever */
};

/* A payment as first submitted, and its state from the events. */
struct mpay {
    struct ortak_cmd cmd;
    bool known;
    uint8_t state; /* 0: refused before it was recorded; else enum ortak_payment_state */
    uint32_t rc;   /* REJECTED: why */
};

/* How a payment carrying a quote settled. */
enum { HOW_AT_ONCE, HOW_RELEASE, HOW_OFFSET, HOW_GRIDLOCK, HOWS };

struct pmodel {
    struct mrate rates[PROVIDERS][P_CURS][P_CURS];
    uint32_t live_rates;
    uint64_t rate_seq;
    struct mquote quotes[P_QUOTE_IDS];
    uint32_t nquotes;
    int32_t quote_of[P_QUOTE_IDS]; /* quote id -> index; -1 none */
    struct mpay pay[P_PAYMENTS];
    ortak_i128 bal[P_SLOTS], dpend[P_SLOTS], cpend[P_SLOTS];
    bool prov_suspended[PROVIDERS], bank_suspended[P_BANKS];
    bool cutoff;
    bool chain_last;     /* the batch ended with a linked chain: what fell due inside it waits for the next command */
    uint32_t recent[64]; /* quotes given lately (indices), for the payments to carry */
    uint32_t nrecent;
    ortak_u128 queued[64]; /* payments queued lately, to cancel */
    uint32_t nqueued;
    /* the batch in progress: expectations of its commands, its settlements to classify */
    uint32_t expect[P_BATCH_MAX];
    bool replay[P_BATCH_MAX], quoted[P_BATCH_MAX];
    struct {
        ortak_u128 id;
        uint32_t cmd;
        uint8_t how;
    } settled[P_PAYMENTS];
    uint32_t nsettled;
    /* tallies */
    uint32_t rate_rc[ORTAK_RC_COUNT_], quote_rc[ORTAK_RC_COUNT_], pvp_rc[ORTAK_RC_COUNT_];
    uint32_t published, replaced, withdrawn, quotes_src, quotes_tgt, quote_replays, rounded;
    uint32_t pvp_settled[HOWS], pvp_queued, pvp_cancelled, pvp_cutoff, pvp_timeout_expired, pvp_timeout_voided;
    uint32_t holds_expired_unused, plain_settled, gridlock_runs, reopens, checks, chains, chain_past_expiry;
};

struct pgen {
    uint64_t rs;
    ortak_time_ns t;
    uint64_t next_pid, next_qid, next_tid;
    struct ortak_cmd sent_quotes[32], sent_pays[32]; /* for repeats */
    uint32_t nsent_quotes, nsent_pays;
    struct ortak_cmd next[2]; /* the rest of a gridlock cycle in the making, sent next */
    uint32_t nnext;
};

static uint64_t rnd(struct pgen *g, uint64_t n) { return ortak_rng_below(&g->rs, n); }

/* The quote of id `id` the model knows; NULL when none. */
static const struct mquote *m_quote_by_id(const struct pmodel *m, ortak_u128 id) {
    if (id == 0 || id >= P_QUOTE_IDS || m->quote_of[(uint32_t)id] < 0) return NULL;
    return &m->quotes[m->quote_of[(uint32_t)id]];
}

/* Whether payment `id` was submitted carrying a quote. */
static bool m_is_pvp(const struct pmodel *m, ortak_u128 id) {
    return id > 0 && id < P_PAYMENTS && m->pay[(uint32_t)id].known && m->pay[(uint32_t)id].cmd.u.payment.quote_id;
}

/* The mid rate: quote units per base unit, x 10^9. */
static uint64_t p_mid(int base, int quote) { return p_per_usd10[quote] * ORTAK_FX_RATE_SCALE / p_per_usd10[base]; }

/* A rate around the mid rate (each provider 2% either way), a spread, a maximum of $2,000-$80,000 of base, a
 * validity of 1 to 31 minutes; a few invalid; some withdrawals. */
static struct ortak_cmd gen_rate(struct pgen *g) {
    int j = (int)rnd(g, PROVIDERS), b = (int)rnd(g, P_CURS), q = (int)rnd(g, P_CURS);
    if (q == b && rnd(g, 20) != 0) q = (b + 1 + (int)rnd(g, P_CURS - 1)) % P_CURS;
    if (rnd(g, 8) == 0) return withdraw_cmd(g->t, prov_bic[j], cur_code[b], cur_code[q]);
    uint64_t mid = p_mid(b, q == b ? (b + 1) % P_CURS : q) * (980 + rnd(g, 41)) / 1000;
    uint64_t bid = mid * (1000 - rnd(g, 15)) / 1000, ask = bid + mid * (1 + rnd(g, 20)) / 1000;
    uint64_t max = p_minor(b, 100 * (2000 + rnd(g, 78000)));
    ortak_time_ns until = g->t + (60 + rnd(g, 1800)) * SEC;
    uint64_t odd = rnd(g, 60);
    if (odd == 0) bid = 0;
    if (odd == 1) ask = bid - 1;
    if (odd == 2) until = g->t;
    if (odd == 3) max = 0;
    return rate_cmd(g->t, prov_bic[j], cur_code[b], cur_code[q], bid, ask, max, until);
}

/* A quote between two banks' accounts: $1-$15,000 most often (a few up to $60,000, beyond most maximums); a third
 * with the default time to live, the others 5 s to 7 min; some repeated, some reusing an id. */
static struct ortak_cmd gen_quote(struct pgen *g) {
    uint64_t r = rnd(g, 100);
    if (r < 5 && g->nsent_quotes) {
        struct ortak_cmd c = g->sent_quotes[rnd(g, g->nsent_quotes < 32 ? g->nsent_quotes : 32)];
        c.timestamp = g->t;
        if (r < 2) c.u.fx_quote.amount++;
        return c;
    }
    int k = (int)rnd(g, P_BANKS), k2 = (int)rnd(g, P_BANKS), sc = (int)rnd(g, P_CURS), tc = (int)rnd(g, P_CURS);
    if (tc == sc && rnd(g, 25) != 0) tc = (sc + 1 + (int)rnd(g, P_CURS - 1)) % P_CURS;
    uint8_t fixed = (uint8_t)rnd(g, 2);
    uint64_t cents = 100 * (1 + rnd(g, rnd(g, 5) == 0 ? 60000 : 15000));
    uint64_t amount = p_minor(fixed == SRC ? sc : tc, cents);
    uint32_t ttl = rnd(g, 3) == 0 ? 0 : 5 + (uint32_t)rnd(g, 400);
    if (r == 99) fixed = 2;
    struct ortak_cmd c = quote_cmd(g->t, g->next_qid++, PS(sc, k), PS(tc, k2), amount, fixed, ttl);
    g->sent_quotes[g->nsent_quotes++ % 32] = c;
    return c;
}

/* A payment carrying a recent quote: mostly as quoted; some by another payer, for another amount or payee, for an
 * unknown quote, or net; urgent ones and ones with a latest time; some repeated. */
static struct ortak_cmd gen_pvp(struct pgen *g, const struct pmodel *m) {
    uint64_t r = rnd(g, 100);
    if (r < 3 && g->nsent_pays) {
        struct ortak_cmd c = g->sent_pays[rnd(g, g->nsent_pays < 32 ? g->nsent_pays : 32)];
        c.timestamp = g->t;
        return c;
    }
    if (m->nrecent == 0) return tu_tick(g->t);
    const struct mquote *q = &m->quotes[m->recent[(m->nrecent - 1 - rnd(g, m->nrecent < 16 ? m->nrecent : 16)) % 64]];
    int payer = q->payer, payee = q->payee;
    uint64_t amount = q->src;
    ortak_u128 quote = q->req.id;
    if (r >= 3 && r < 9) payer = (payer + 1 + (int)rnd(g, P_BANKS - 1)) % P_BANKS;
    if (r >= 9 && r < 12) amount += 1;
    if (r >= 12 && r < 15) payee = (payee + 1 + (int)rnd(g, P_BANKS - 1)) % P_BANKS;
    if (r >= 15 && r < 17) quote = g->next_qid + 100000;
    uint64_t pr = rnd(g, 100);
    struct ortak_cmd c = pvp_cmd(g->t, g->next_pid++, PS(q->s, payer), PS(q->t, payee), amount, quote);
    c.u.payment.priority = pr < 80 ? NORM : pr < 95 ? URG : ORTAK_PRIORITY_HIGHLY_URGENT;
    if (r >= 17 && r < 19) {
        c.u.payment.method = ORTAK_METHOD_NET;
        c.u.payment.priority = NORM;
    }
    if (rnd(g, 4) == 0) c.u.payment.latest_ns = g->t + (1 + rnd(g, 120)) * SEC;
    g->sent_pays[g->nsent_pays++ % 32] = c;
    return c;
}

/*
 * A provider pays back a bank whose payment carrying one of its quotes waits (preferably at the head of its queue):
 * a little more than the provider has, so that it settles only together with that payment (offsetting on entry;
 * or gridlock resolution later, when the provider has payments queued already or the amount is a little more).
 */
static struct ortak_cmd gen_payback(struct pgen *g, const struct pmodel *m, const struct ortak_engine *e) {
    for (uint32_t tries = 0; tries < 8 && m->nqueued; tries++) {
        ortak_u128 id = m->queued[rnd(g, m->nqueued < 64 ? m->nqueued : 64)], head = 0;
        const struct mpay *p = &m->pay[(uint32_t)id];
        const struct mquote *q = m_is_pvp(m, id) ? m_quote_by_id(m, p->cmd.u.payment.quote_id) : NULL;
        if (p->state != ORTAK_PAYMENT_QUEUED || !q || q->payment != id) continue;
        uint32_t n = 0;
        assert_int_equal(ortak_settle_queue(ortak_engine_settle(e), q->req.debit_account_id, &head, 1, &n, NULL),
                         ORTAK_OK);
        if (head != id && tries < 6) continue;
        ortak_i128 avail = tu_account_info(e, PP(q->s, q->j)).available;
        uint64_t top = avail > 0 ? (uint64_t)avail : 0;
        return tu_payment(g->t, g->next_pid++, PP(q->s, q->j), q->req.debit_account_id,
                          top + 1 + rnd(g, q->src + q->src / 4), NORM);
    }
    return tu_tick(g->t);
}

/*
 * A cycle no payment can start, through a payment carrying a quote that waits at the head of its payer A's queue
 * (A -> provider P): P pays a bank B a little more than it has, B pays A a little more than it has, and the
 * operator runs gridlock resolution in that currency (or the periodic run comes first). Amounts are chosen so that
 * the three settle together, as the liquidity stands when they are generated.
 */
static struct ortak_cmd gen_cycle(struct pgen *g, const struct pmodel *m, const struct ortak_engine *e) {
    for (uint32_t tries = 0; tries < 8 && m->nqueued; tries++) {
        ortak_u128 id = m->queued[rnd(g, m->nqueued < 64 ? m->nqueued : 64)], head = 0;
        const struct mpay *p = &m->pay[(uint32_t)id];
        const struct mquote *q = m_is_pvp(m, id) ? m_quote_by_id(m, p->cmd.u.payment.quote_id) : NULL;
        if (p->state != ORTAK_PAYMENT_QUEUED || !q || q->payment != id) continue;
        uint32_t n = 0;
        assert_int_equal(ortak_settle_queue(ortak_engine_settle(e), q->req.debit_account_id, &head, 1, &n, NULL),
                         ORTAK_OK);
        int b = (q->payer + 1 + (int)rnd(g, P_BANKS - 1)) % P_BANKS;
        ortak_u128 pa = PP(q->s, q->j), ba = PS(q->s, b);
        ortak_i128 av_a = tu_account_info(e, q->req.debit_account_id).available;
        ortak_i128 av_p = tu_account_info(e, pa).available, av_b = tu_account_info(e, ba).available;
        if (head != id || av_a < 0 || av_p < 0 || av_b < 0) continue;
        uint64_t x = q->src, y = (uint64_t)av_p + 1 + rnd(g, x / 2 + 1);
        uint64_t z = (uint64_t)av_b + 1, need = x - (uint64_t)av_a; /* A is short: av_a < x */
        if (z < need) z = need;
        if (z > (uint64_t)av_b + y) continue;
        g->next[0] = tu_payment(0, g->next_pid++, ba, q->req.debit_account_id, z, NORM);
        g->next[1] = gridlock_cmd(0, ORTAK_GRIDLOCK_FIFO, cur_code[q->s]);
        g->nnext = rnd(g, 2) ? 2 : 1;
        return tu_payment(g->t, g->next_pid++, pa, ba, y, NORM);
    }
    return tu_tick(g->t);
}

/*
 * A linked chain of two liquidity transfers whose second member carries engine time on: often past the expiry of
 * the quote of a payment that waits, whose payer it funds (inside a chain nothing expires; the payment must wait
 * for the next command, and be rejected then). The batch may end after the first member: the chain is then open.
 */
static struct ortak_cmd gen_chain(struct pgen *g, const struct pmodel *m) {
    int c = (int)rnd(g, P_CURS), k = (int)rnd(g, P_BANKS);
    ortak_time_ns later = g->t + rnd(g, 60) * SEC;
    ortak_u128 to = PS(c, k);
    uint64_t amount = p_minor(c, 100 * (1 + rnd(g, 2000)));
    for (uint32_t tries = 0; tries < 16 && m->nqueued; tries++) {
        ortak_u128 id = m->queued[rnd(g, m->nqueued < 64 ? m->nqueued : 64)];
        const struct mquote *q = m_is_pvp(m, id) ? m_quote_by_id(m, m->pay[(uint32_t)id].cmd.u.payment.quote_id) : NULL;
        if (!q || q->payment != id || m->pay[(uint32_t)id].state != ORTAK_PAYMENT_QUEUED || q->expires < g->t ||
            q->expires > g->t + 300 * SEC)
            continue;
        c = q->s;
        to = q->req.debit_account_id;
        amount = q->src;
        later = q->expires + rnd(g, 3) * SEC;
        break;
    }
    g->next[0] = tu_transfer(later, g->next_tid++, PI(c), to, amount, 0);
    g->nnext = 1;
    return tu_linked(tu_transfer(g->t, g->next_tid++, PI(c), PS(c, (k + 1) % P_BANKS), 1 + rnd(g, 100), 0));
}

/* Gross payments: bank to bank; a provider paying a bank about what it has (it queues half the time); a bank
 * paying a provider; a provider paying back a bank whose cross-currency payment waits. */
static struct ortak_cmd gen_plain(struct pgen *g, const struct pmodel *m, const struct ortak_engine *e) {
    int c = (int)rnd(g, P_CURS), k = (int)rnd(g, P_BANKS), k2 = (int)rnd(g, P_BANKS - 1), j = (int)rnd(g, PROVIDERS);
    if (k2 >= k) k2++;
    uint64_t r = rnd(g, 16);
    if (r >= 13) return gen_cycle(g, m, e);
    if (r >= 10) return gen_payback(g, m, e);
    uint8_t pr = rnd(g, 10) == 0 ? URG : NORM;
    if (r < 5) return tu_payment(g->t, g->next_pid++, PS(c, k), PS(c, k2), p_minor(c, 100 * (1 + rnd(g, 3000))), pr);
    if (r < 8) {
        ortak_i128 avail = tu_account_info(e, PP(c, j)).available;
        uint64_t top = avail > 0 ? (uint64_t)avail : 0;
        return tu_payment(g->t, g->next_pid++, PP(c, j), PS(c, k), 1 + top / 2 + rnd(g, top + 1000), pr);
    }
    return tu_payment(g->t, g->next_pid++, PS(c, k), PP(c, j), p_minor(c, 100 * (1 + rnd(g, 3000))), pr);
}

/* Liquidity in (banks $100-$5,100, providers $10,000-$510,000) and out (banks, some beyond what they have). */
static struct ortak_cmd gen_liquidity(struct pgen *g) {
    int c = (int)rnd(g, P_CURS), k = (int)rnd(g, P_BANKS), j = (int)rnd(g, PROVIDERS);
    uint64_t r = rnd(g, 10);
    if (r < 4) return tu_transfer(g->t, g->next_tid++, PI(c), PS(c, k), p_minor(c, 100 * (100 + rnd(g, 5000))), 0);
    if (r < 6) return tu_transfer(g->t, g->next_tid++, PI(c), PP(c, j), p_minor(c, 100 * (10000 + rnd(g, 500000))), 0);
    return tu_transfer(g->t, g->next_tid++, PS(c, k), PI(c), p_minor(c, 100 * (100 + rnd(g, 5000))), 0);
}

static struct ortak_cmd gen_command(struct pgen *g, const struct pmodel *m, const struct ortak_engine *e) {
    if (g->nnext) {
        struct ortak_cmd c = g->next[0];
        g->next[0] = g->next[1];
        g->nnext--;
        if (c.timestamp < g->t) c.timestamp = g->t;
        g->t = c.timestamp;
        return c;
    }
    g->t += rnd(g, 2) * SEC;
    uint64_t r = rnd(g, 100);
    if (r < 12) return gen_rate(g);
    if (r < 32) return gen_quote(g);
    if (r < 54) return gen_pvp(g, m);
    if (r < 66) return gen_plain(g, m, e);
    if (r < 76) return gen_liquidity(g);
    if (r < 80) {
        /* Mostly a payment queued lately, preferably one carrying a quote; some that cannot be cancelled. */
        ortak_u128 id = 1 + rnd(g, g->next_pid);
        for (uint32_t tries = 0; tries < 4 && m->nqueued && rnd(g, 8); tries++) {
            id = m->queued[rnd(g, m->nqueued < 64 ? m->nqueued : 64)];
            if (m_is_pvp(m, id) && m->pay[(uint32_t)id].state == ORTAK_PAYMENT_QUEUED) break;
        }
        return tu_cancel(g->t, id);
    }
    if (r < 82) return tu_cutoff(g->t, 1u << NORM, m->cutoff || rnd(g, 4) != 0);
    if (r < 88) {
        g->t += rnd(g, 60) * SEC;
        return tu_tick(g->t);
    }
    if (r < 93) return gridlock_cmd(g->t, (uint8_t)rnd(g, 3), rnd(g, 5) == 4 ? "" : cur_code[rnd(g, P_CURS)]);
    if (r < 95) return gen_chain(g, m);
    const char *bic = rnd(g, 2) ? prov_bic[rnd(g, PROVIDERS)] : p_bank[rnd(g, P_BANKS)];
    return tu_status(g->t, bic, rnd(g, 10) == 0 ? ORTAK_PARTICIPANT_SUSPENDED : ORTAK_PARTICIPANT_ACTIVE);
}

static int p_cur_of(const char *code) {
    for (int c = 0; c < P_CURS; c++) {
        if (strcmp(code, cur_code[c]) == 0) return c;
    }
    fail_msg("unexpected currency %s", code);
    return -1;
}

static int p_provider_of(const char *bic) {
    for (int j = 0; j < PROVIDERS; j++) {
        if (strcmp(bic, prov_bic[j]) == 0) return j;
    }
    fail_msg("unexpected provider %s", bic);
    return -1;
}

/* The conversion of docs/fx.md (every currency here has two minor units, which cancel). */
static ortak_rc m_convert(uint64_t rate, bool buys_base, uint8_t fixed, uint64_t amount, uint64_t *src, uint64_t *tgt) {
    ortak_u128 n = buys_base ? rate : ORTAK_FX_RATE_SCALE, d = buys_base ? ORTAK_FX_RATE_SCALE : rate, v;
    if (fixed == SRC) {
        v = (ortak_u128)amount * n / d; /* rounded down */
        *src = amount;
    } else {
        ortak_u128 prod = (ortak_u128)amount * d;
        v = prod / n + (prod % n != 0); /* rounded up */
        *tgt = amount;
    }
    if (v > ORTAK_AMOUNT_MAX) return ORTAK_AMOUNT_OVERFLOW;
    if (v == 0) return ORTAK_AMOUNT_ZERO;
    *(fixed == SRC ? tgt : src) = (uint64_t)v;
    return ORTAK_OK;
}

static ortak_i128 m_available(const struct pmodel *m, ortak_u128 id) {
    return m->bal[p_slot(id)] - m->dpend[p_slot(id)];
}

/* What a rate command should give (docs/fx.md, Rates). */
static ortak_rc m_expect_rate(const struct pmodel *m, const struct ortak_fx_rate *r, ortak_time_ns now) {
    int j = p_provider_of(r->provider), b = p_cur_of(r->base), q = p_cur_of(r->quote);
    const struct mrate *x = &m->rates[j][b][q];
    if (r->withdraw) return x->live ? ORTAK_OK : ORTAK_FX_RATE_NOT_FOUND;
    if (m->prov_suspended[j]) return ORTAK_FX_PROVIDER_INVALID;
    if (b == q || r->bid == 0 || r->ask < r->bid || r->ask > UINT64_C(1000000000000000000) || r->max_amount == 0 ||
        r->max_amount > ORTAK_AMOUNT_MAX || r->valid_until_ns <= now)
        return ORTAK_FX_RATE_INVALID;
    if (!x->live && m->live_rates >= P_RATES_MAX) return ORTAK_FX_RATES_FULL;
    return ORTAK_OK;
}

/*
 * What a new quote request should give (docs/fx.md, Choice): every live, valid rate of the pair in either
 * orientation whose provider is active is tried; within its maximum and the provider's available target
 * liquidity, the most target (fixed source) or least source (fixed target) wins, ties to the first published.
 * On ORTAK_OK, *out has the provider, amounts and rate.
 */
static ortak_rc m_expect_quote(const struct pmodel *m, const struct ortak_fx_quote_request *q, ortak_time_ns now,
                               struct mquote *out) {
    if (q->fixed > TGT || q->ttl_s > ORTAK_QUOTE_TTL_S_LIMIT) return ORTAK_QUOTE_REQUEST_INVALID;
    struct pacc dr = p_account(q->debit_account_id), cr = p_account(q->credit_account_id);
    *out = (struct mquote){.req = *q, .payer = dr.k, .payee = cr.k, .s = dr.c, .t = cr.c, .j = -1};
    if (m->bank_suspended[dr.k] || m->bank_suspended[cr.k]) return ORTAK_PARTICIPANT_NOT_ACTIVE;
    if (dr.c == cr.c) return ORTAK_FX_PAIR_UNSUPPORTED;
    bool any_pair = false, any_within = false;
    ortak_rc conversion = ORTAK_OK;
    uint64_t best_seq = 0;
    for (int j = 0; j < PROVIDERS; j++) {
        for (int o = 0; o < 2; o++) {
            int b = o ? cr.c : dr.c, qc = o ? dr.c : cr.c;
            const struct mrate *x = &m->rates[j][b][qc];
            if (!x->live || x->until <= now || m->prov_suspended[j]) continue;
            any_pair = true;
            bool buys_base = b == dr.c;
            uint64_t rate = buys_base ? x->bid : x->ask, src = 0, tgt = 0;
            ortak_rc rc = m_convert(rate, buys_base, q->fixed, q->amount, &src, &tgt);
            if (rc != ORTAK_OK) {
                conversion = rc;
                continue;
            }
            if ((buys_base ? src : tgt) > x->max) continue;
            any_within = true;
            if (m_available(m, PP(cr.c, j)) < (ortak_i128)tgt) continue;
            bool same = q->fixed == SRC ? tgt == out->tgt : src == out->src;
            bool better =
                out->j < 0 || (q->fixed == SRC ? tgt > out->tgt : src < out->src) || (same && x->seq < best_seq);
            if (!better) continue;
            out->j = j;
            out->src = src;
            out->tgt = tgt;
            out->rate = rate;
            out->buys_base = buys_base;
            best_seq = x->seq;
        }
    }
    if (out->j >= 0) return ORTAK_OK;
    if (!any_pair) return ORTAK_FX_PAIR_UNSUPPORTED;
    if (!any_within) return conversion != ORTAK_OK ? conversion : ORTAK_FX_AMOUNT_ABOVE_MAX;
    return ORTAK_FX_NO_LIQUIDITY;
}

/* What a new payment carrying a quote should give (docs/settlement.md and docs/fx.md, in their order; the
 * generator sends only latest times in the future and priorities that exist). */
static ortak_rc m_expect_pvp(const struct pmodel *m, const struct ortak_payment *p, ortak_time_ns now) {
    if (p->method == ORTAK_METHOD_NET) return ORTAK_METHOD_INVALID;
    if (m->cutoff && p->priority == NORM) return ORTAK_CUTOFF_PASSED;
    const struct mquote *q = m_quote_by_id(m, p->quote_id);
    if (!q) return ORTAK_QUOTE_NOT_FOUND;
    if (p->debit_account_id != q->req.debit_account_id) return ORTAK_QUOTE_OTHER_PAYER;
    if (p->credit_account_id != q->req.credit_account_id || p->amount != q->src) return ORTAK_QUOTE_MISMATCH;
    if (q->payment != 0) return ORTAK_QUOTE_USED;
    if (q->end != 0 || now >= q->expires) return ORTAK_QUOTE_EXPIRED;
    if (m->bank_suspended[q->payee]) return ORTAK_PARTICIPANT_NOT_ACTIVE; /* its target leg's payee */
    if (m->bank_suspended[q->payer] || m->prov_suspended[q->j]) return ORTAK_PARTICIPANT_NOT_ACTIVE; /* source leg */
    return ORTAK_OK;
}

/* The quote a hold id names: its index, checked to be one the model knows. */
static struct mquote *m_hold(struct pmodel *m, ortak_u128 hold) {
    assert_true(hold == HOLD_ID((uint32_t)hold) && (uint32_t)hold < m->nquotes);
    return &m->quotes[(uint32_t)hold];
}

/* Binds quote q to payment id (the events say the payment carries it): once, to one payment. */
static void m_bind(struct mquote *q, ortak_u128 id) {
    if (q->payment != 0 && q->payment != id)
        fail_msg("quote %llu carried by payments %llu and %llu", (unsigned long long)q->req.id,
                 (unsigned long long)q->payment, (unsigned long long)id);
    q->payment = id;
}

/* A hold ends: exactly once, released from both accounts. */
static void m_hold_end(struct pmodel *m, struct mquote *q, uint32_t kind, int64_t amount) {
    if (q->end != 0) fail_msg("hold of quote %llu ended twice", (unsigned long long)q->req.id);
    assert_int_equal(amount, q->tgt);
    q->end = kind;
    q->resolved++;
    m->dpend[p_slot(PP(q->t, q->j))] -= amount;
    m->cpend[p_slot(PS(q->t, q->payee))] -= amount;
}

/* The last `count` settlements of the batch happened in a run of `how` (offsetting, gridlock resolution). */
static void m_mark(struct pmodel *m, uint32_t count, uint8_t how) {
    assert_true(count <= m->nsettled);
    for (uint32_t k = m->nsettled - count; k < m->nsettled; k++) m->settled[k].how = how;
}

/* A quote's hold was just created (its first event): the model's choice, against the event. */
static void m_hold_created(struct pmodel *m, const struct ortak_event *x, const struct ortak_cmd *cmd) {
    if (cmd->kind != ORTAK_CMD_FX_QUOTE) fail_msg("hold created by a command of kind %u", cmd->kind);
    struct mquote want;
    ortak_rc rc = m_expect_quote(m, &cmd->u.fx_quote, x->timestamp, &want);
    if (rc != ORTAK_OK)
        fail_msg("quote %llu given, expected %s", (unsigned long long)cmd->u.fx_quote.id, ortak_rc_name(rc));
    if (x->id != HOLD_ID(m->nquotes) || x->debit_account_id != PP(want.t, want.j) ||
        x->credit_account_id != cmd->u.fx_quote.credit_account_id || x->amount != (int64_t)want.tgt)
        fail_msg("quote %llu: hold %llu from %llu to %llu; expected %llu from provider %d, %llu",
                 (unsigned long long)cmd->u.fx_quote.id, (unsigned long long)x->amount,
                 (unsigned long long)x->debit_account_id, (unsigned long long)x->credit_account_id,
                 (unsigned long long)want.tgt, want.j, (unsigned long long)want.src);
    uint32_t ttl = cmd->u.fx_quote.ttl_s ? cmd->u.fx_quote.ttl_s : 600;
    want.expires = x->timestamp + (uint64_t)ttl * SEC;
    m->quotes[m->nquotes] = want;
    m->dpend[p_slot(x->debit_account_id)] += x->amount;
    m->cpend[p_slot(x->credit_account_id)] += x->amount;
}

/* The quote itself, after its hold: the event and the query agree with the model. */
static void m_quoted(struct pmodel *m, const struct ortak_engine *e, const struct ortak_event *ev, uint32_t i) {
    const struct ortak_event *x = &ev[i];
    struct mquote *q = &m->quotes[m->nquotes];
    assert_true(i > 0 && ev[i - 1].kind == ORTAK_EV_PENDING_CREATED && ev[i - 1].id == x->ref);
    assert_true(x->ref == HOLD_ID(m->nquotes) && x->id == q->req.id && x->debit_account_id == q->req.debit_account_id &&
                x->credit_account_id == q->req.credit_account_id && x->amount == (int64_t)q->src &&
                x->amount_old == (int64_t)q->tgt);
    struct ortak_fx_quote_info info;
    assert_int_equal(ortak_fx_quote_get(ortak_engine_fx(e), q->req.id, &info), ORTAK_OK);
    assert_true(strcmp(info.provider, prov_bic[q->j]) == 0 && strcmp(info.source, cur_code[q->s]) == 0 &&
                strcmp(info.target, cur_code[q->t]) == 0 && info.source_amount == q->src &&
                info.target_amount == q->tgt && info.rate == q->rate && info.created_ns == x->timestamp &&
                info.expires_ns == q->expires && info.hold_id == x->ref);
    assert_true(q->req.id < P_QUOTE_IDS && m->quote_of[(uint32_t)q->req.id] < 0);
    m->quote_of[(uint32_t)q->req.id] = (int32_t)m->nquotes;
    m->recent[m->nrecent++ % 64] = m->nquotes;
    m->nquotes++;
    m->quoted[x->command_index] = true;
    *(q->req.fixed == SRC ? &m->quotes_src : &m->quotes_tgt) += 1;
    /* Rounded: the exact conversion was not whole (the fraction went to the provider). */
    ortak_u128 n = q->buys_base ? q->rate : ORTAK_FX_RATE_SCALE, d = q->buys_base ? ORTAK_FX_RATE_SCALE : q->rate;
    m->rounded += q->req.fixed == SRC ? ((ortak_u128)q->src * n) % d != 0 : ((ortak_u128)q->tgt * d) % n != 0;
}

/* Both legs, adjacent: the source leg just before the hold's post, the payment's settlement just after. */
static void m_hold_posted(struct pmodel *m, const struct ortak_event *ev, uint32_t n, uint32_t i) {
    const struct ortak_event *x = &ev[i];
    struct mquote *q = m_hold(m, x->ref);
    m_hold_end(m, q, x->kind, x->amount);
    m->bal[p_slot(x->debit_account_id)] -= x->amount;
    m->bal[p_slot(x->credit_account_id)] += x->amount;
    assert_true(x->debit_account_id == PP(q->t, q->j) && x->credit_account_id == q->req.credit_account_id);
    assert_true(i >= 1 && i + 1 < n);
    const struct ortak_event *leg = &ev[i - 1], *done = &ev[i + 1];
    if (leg->kind != ORTAK_EV_TRANSFER_POSTED || done->kind != ORTAK_EV_PAYMENT_SETTLED || leg->id != done->id ||
        leg->debit_account_id != q->req.debit_account_id || leg->credit_account_id != PP(q->s, q->j) ||
        leg->amount != (int64_t)q->src || done->credit_account_id != q->req.credit_account_id ||
        done->amount != (int64_t)q->src)
        fail_msg("quote %llu: its hold posted without its source leg and payment around it",
                 (unsigned long long)q->req.id);
    m_bind(q, leg->id);
}

static void m_payment_event(struct pmodel *m, const struct ortak_event *ev, uint32_t i) {
    const struct ortak_event *x = &ev[i];
    assert_true(x->id > 0 && x->id < P_PAYMENTS && m->pay[(uint32_t)x->id].known);
    struct mpay *p = &m->pay[(uint32_t)x->id];
    bool pvp = m_is_pvp(m, x->id);
    struct mquote *q = pvp ? (struct mquote *)m_quote_by_id(m, p->cmd.u.payment.quote_id) : NULL;
    bool bound = q && q->payment == x->id;
    switch (x->kind) {
    case ORTAK_EV_PAYMENT_QUEUED:
        p->state = ORTAK_PAYMENT_QUEUED;
        m->queued[m->nqueued++ % 64] = x->id;
        if (pvp) {
            assert_non_null(q);
            m_bind(q, x->id);
            m->pvp_queued++;
        }
        break;
    case ORTAK_EV_PAYMENT_SETTLED:
        p->state = ORTAK_PAYMENT_SETTLED;
        if (p->cmd.u.payment.latest_ns && x->timestamp >= p->cmd.u.payment.latest_ns)
            fail_msg("payment %llu settled at or after its latest settlement time", (unsigned long long)x->id);
        if (pvp) {
            assert_true(bound && q->end == ORTAK_EV_PENDING_POSTED && i >= 2 &&
                        ev[i - 1].kind == ORTAK_EV_PENDING_POSTED &&
                        ev[i - 1].ref == HOLD_ID((uint32_t)(q - m->quotes)) &&
                        ev[i - 2].kind == ORTAK_EV_TRANSFER_POSTED && ev[i - 2].id == x->id);
        } else {
            assert_true(i >= 1 && ev[i - 1].kind == ORTAK_EV_TRANSFER_POSTED && ev[i - 1].id == x->id);
            m->plain_settled++;
        }
        m->settled[m->nsettled].id = x->id;
        m->settled[m->nsettled].cmd = x->command_index;
        m->settled[m->nsettled++].how = HOWS;
        break;
    case ORTAK_EV_PAYMENT_REJECTED:
        p->state = ORTAK_PAYMENT_REJECTED;
        p->rc = x->status;
        if (!bound) break; /* refused on submission: it never carried its quote */
        /* Rejected after acceptance: its hold was released just before, or has expired. */
        if (q->end == 0) fail_msg("payment %llu rejected with its hold open", (unsigned long long)x->id);
        if (x->status == ORTAK_SETTLEMENT_TIMEOUT) {
            *(q->end == ORTAK_EV_PENDING_EXPIRED ? &m->pvp_timeout_expired : &m->pvp_timeout_voided) += 1;
            if (q->end == ORTAK_EV_PENDING_EXPIRED) assert_true(x->timestamp >= q->expires);
        } else {
            assert_int_equal(x->status, ORTAK_REJECTED_AT_CUTOFF);
            assert_int_equal(q->end, ORTAK_EV_PENDING_VOIDED);
            m->pvp_cutoff++;
        }
        break;
    case ORTAK_EV_PAYMENT_CANCELLED:
        p->state = ORTAK_PAYMENT_CANCELLED;
        if (pvp) {
            assert_true(bound && q->end == ORTAK_EV_PENDING_VOIDED);
            m->pvp_cancelled++;
        }
        break;
    default: fail_msg("event kind %u", x->kind);
    }
}

static void m_rate_event(struct pmodel *m, const struct ortak_event *x, const struct ortak_cmd *cmd) {
    assert_int_equal(cmd->kind, ORTAK_CMD_FX_RATE_SET);
    const struct ortak_fx_rate *r = &cmd->u.fx_rate;
    int j = p_provider_of(r->provider), b = p_cur_of(r->base), q = p_cur_of(r->quote);
    assert_true(x->id == bic_id(prov_bic[j]) && x->status == (r->withdraw ? 0u : 1u));
    struct mrate *rate = &m->rates[j][b][q];
    if (r->withdraw) {
        assert_true(rate->live && x->amount == 0 && x->amount_old == 0);
        rate->live = false;
        m->live_rates--;
        m->withdrawn++;
        return;
    }
    assert_true(x->amount == (int64_t)r->bid && x->amount_old == (int64_t)r->ask);
    if (rate->live) {
        m->replaced++;
    } else {
        m->live_rates++;
        m->published++;
    }
    *rate = (struct mrate){true, r->bid, r->ask, r->max_amount, r->valid_until_ns, ++m->rate_seq};
    assert_true(m->live_rates <= P_RATES_MAX);
}

/* One event of the batch, in order: the model follows it and checks what it can at once. */
static void m_event(struct pmodel *m, const struct ortak_engine *e, const struct ortak_cmd *cmds,
                    const struct ortak_event *ev, uint32_t n, uint32_t i) {
    const struct ortak_event *x = &ev[i];
    const struct ortak_cmd *cmd = &cmds[x->command_index];
    switch (x->kind) {
    case ORTAK_EV_TRANSFER_POSTED:
        m->bal[p_slot(x->debit_account_id)] -= x->amount;
        m->bal[p_slot(x->credit_account_id)] += x->amount;
        if (m_is_pvp(m, x->id) && (i + 1 >= n || ev[i + 1].kind != ORTAK_EV_PENDING_POSTED))
            fail_msg("payment %llu: its source leg booked alone", (unsigned long long)x->id);
        break;
    case ORTAK_EV_PENDING_CREATED: m_hold_created(m, x, cmd); break;
    case ORTAK_EV_FX_QUOTED: m_quoted(m, e, ev, i); break;
    case ORTAK_EV_PENDING_POSTED: m_hold_posted(m, ev, n, i); break;
    case ORTAK_EV_PENDING_VOIDED: {
        struct mquote *q = m_hold(m, x->ref);
        m_hold_end(m, q, x->kind, x->amount);
        if (q->payment == 0 || i + 1 >= n || ev[i + 1].id != q->payment ||
            (ev[i + 1].kind != ORTAK_EV_PAYMENT_CANCELLED && ev[i + 1].kind != ORTAK_EV_PAYMENT_REJECTED))
            fail_msg("hold of quote %llu voided but not for its payment's end", (unsigned long long)q->req.id);
        break;
    }
    case ORTAK_EV_PENDING_EXPIRED: {
        struct mquote *q = m_hold(m, x->id);
        m_hold_end(m, q, x->kind, x->amount);
        assert_true(x->timestamp >= q->expires);
        m->holds_expired_unused += q->payment == 0;
        break;
    }
    case ORTAK_EV_PAYMENT_QUEUED:
    case ORTAK_EV_PAYMENT_SETTLED:
    case ORTAK_EV_PAYMENT_REJECTED:
    case ORTAK_EV_PAYMENT_CANCELLED: m_payment_event(m, ev, i); break;
    case ORTAK_EV_OFFSET: m_mark(m, (uint32_t)x->amount + 1, HOW_OFFSET); break;
    case ORTAK_EV_GRIDLOCK:
        m_mark(m, (uint32_t)x->amount, HOW_GRIDLOCK);
        m->gridlock_runs++;
        break;
    case ORTAK_EV_PARTICIPANT_STATUS:
        for (int j = 0; j < PROVIDERS; j++) {
            if (x->id == bic_id(prov_bic[j])) m->prov_suspended[j] = x->status != ORTAK_PARTICIPANT_ACTIVE;
        }
        for (int k = 0; k < P_BANKS; k++) {
            if (x->id == bic_id(p_bank[k])) m->bank_suspended[k] = x->status != ORTAK_PARTICIPANT_ACTIVE;
        }
        break;
    case ORTAK_EV_CUTOFF: m->cutoff = x->amount == 0; break;
    case ORTAK_EV_FX_RATE: m_rate_event(m, x, cmd); break;
    default: break;
    }
}

/* Before command ci: what it should give, from the model as the commands before it left it. */
static void m_before(struct pmodel *m, const struct ortak_cmd *c, uint32_t ci) {
    m->replay[ci] = m->quoted[ci] = false;
    m->expect[ci] = ORTAK_OK;
    if (c->kind == ORTAK_CMD_FX_RATE_SET) m->expect[ci] = m_expect_rate(m, &c->u.fx_rate, c->timestamp);
    if (c->kind == ORTAK_CMD_FX_QUOTE) {
        const struct mquote *q = m_quote_by_id(m, c->u.fx_quote.id);
        const struct ortak_fx_quote_request *a = &c->u.fx_quote, *b = q ? &q->req : NULL;
        m->replay[ci] = q != NULL;
        if (q && (a->debit_account_id != b->debit_account_id || a->credit_account_id != b->credit_account_id ||
                  a->amount != b->amount || a->ttl_s != b->ttl_s || a->fixed != b->fixed))
            m->expect[ci] = ORTAK_QUOTE_EXISTS_DIFFERENT;
    }
    if (c->kind == ORTAK_CMD_PAYMENT_SUBMIT) {
        assert_true(c->u.payment.id > 0 && c->u.payment.id < P_PAYMENTS);
        struct mpay *p = &m->pay[(uint32_t)c->u.payment.id];
        m->replay[ci] = p->known;
        if (p->known) return;
        *p = (struct mpay){.cmd = *c, .known = true};
        if (c->u.payment.quote_id) m->expect[ci] = m_expect_pvp(m, &c->u.payment, c->timestamp);
    }
}

/* After command ci and its events: its result as the model predicted it. */
static void m_after(struct pmodel *m, const struct ortak_cmd *c, const struct ortak_result *r, uint32_t ci) {
    uint32_t want = m->expect[ci];
    switch (c->kind) {
    case ORTAK_CMD_FX_RATE_SET:
        if (r->rc != want || r->flags != 0)
            fail_msg("rate %s %s/%s: %s, expected %s", c->u.fx_rate.provider, c->u.fx_rate.base, c->u.fx_rate.quote,
                     ortak_rc_name((ortak_rc)r->rc), ortak_rc_name((ortak_rc)want));
        m->rate_rc[r->rc]++;
        break;
    case ORTAK_CMD_FX_QUOTE:
        if (m->replay[ci]) {
            assert_true(r->rc == want && r->flags == (want == ORTAK_OK ? ORTAK_RESULT_REPLAYED : 0u) && !m->quoted[ci]);
            m->quote_replays += want == ORTAK_OK;
        } else if (r->rc == ORTAK_OK) {
            assert_true(m->quoted[ci] && r->flags == 0);
        } else {
            struct mquote q;
            ortak_rc rc = m_expect_quote(m, &c->u.fx_quote, c->timestamp, &q);
            if (rc != r->rc || m->quoted[ci])
                fail_msg("quote %llu: %s, expected %s (provider %d, %llu -> %llu)",
                         (unsigned long long)c->u.fx_quote.id, ortak_rc_name((ortak_rc)r->rc), ortak_rc_name(rc), q.j,
                         (unsigned long long)q.src, (unsigned long long)q.tgt);
        }
        m->quote_rc[r->rc]++;
        break;
    case ORTAK_CMD_PAYMENT_SUBMIT: {
        if (!c->u.payment.quote_id) break;
        const struct mpay *p = &m->pay[(uint32_t)c->u.payment.id];
        if (m->replay[ci]) {
            uint32_t first = p->state == ORTAK_PAYMENT_REJECTED ? p->rc : ORTAK_OK;
            assert_true(r->rc == first && (r->flags & ORTAK_RESULT_REPLAYED));
            break;
        }
        if (r->rc != want)
            fail_msg("payment %llu carrying quote %llu: %s, expected %s", (unsigned long long)c->u.payment.id,
                     (unsigned long long)c->u.payment.quote_id, ortak_rc_name((ortak_rc)r->rc),
                     ortak_rc_name((ortak_rc)want));
        if (r->rc == ORTAK_OK)
            assert_true(r->flags == ORTAK_RESULT_QUEUED ? p->state == ORTAK_PAYMENT_QUEUED
                                                        : r->flags == 0 && p->state == ORTAK_PAYMENT_SETTLED);
        m->pvp_rc[r->rc]++;
        break;
    }
    default: break;
    }
}

/* A linked chain was booked, its last member at `at`: the payments whose quote expired inside it still wait. */
static void m_chain(struct pmodel *m, ortak_time_ns at) {
    m->chains++;
    for (uint32_t x = 0; x < m->nquotes; x++) {
        const struct mquote *q = &m->quotes[x];
        if (q->end == 0 && q->payment && q->expires <= at) {
            assert_int_equal(m->pay[(uint32_t)q->payment].state, ORTAK_PAYMENT_QUEUED);
            m->chain_past_expiry++;
        }
    }
}

/* Follows a batch command by command: expectations, events, results; then how its PvP payments settled. */
static void m_follow(struct pmodel *m, const struct ortak_engine *e, const struct ortak_cmd *cmds,
                     const struct ortak_result *r, uint32_t n) {
    uint32_t ne, i = 0;
    const struct ortak_event *ev = ortak_engine_events(e, &ne);
    m->nsettled = 0;
    for (uint32_t ci = 0; ci < n; ci++) {
        m_before(m, &cmds[ci], ci);
        for (; i < ne && ev[i].command_index == ci; i++) m_event(m, e, cmds, ev, ne, i);
        m_after(m, &cmds[ci], &r[ci], ci);
        if (ci > 0 && cmds[ci].kind == ORTAK_CMD_TRANSFER && cmds[ci - 1].kind == ORTAK_CMD_TRANSFER &&
            (cmds[ci - 1].u.transfer.flags & ORTAK_TRANSFER_LINKED) && r[ci].rc == ORTAK_OK)
            m_chain(m, cmds[ci].timestamp);
    }
    assert_int_equal(i, ne);
    m->chain_last = n >= 2 && cmds[n - 1].kind == ORTAK_CMD_TRANSFER && cmds[n - 2].kind == ORTAK_CMD_TRANSFER &&
                    (cmds[n - 2].u.transfer.flags & ORTAK_TRANSFER_LINKED);
    for (uint32_t k = 0; k < m->nsettled; k++) {
        if (!m_is_pvp(m, m->settled[k].id)) continue;
        uint8_t how = m->settled[k].how;
        const struct ortak_cmd *c = &cmds[m->settled[k].cmd];
        if (how == HOWS)
            how =
                c->kind == ORTAK_CMD_PAYMENT_SUBMIT && c->u.payment.id == m->settled[k].id ? HOW_AT_ONCE : HOW_RELEASE;
        m->pvp_settled[how]++;
    }
}

/* Quote x against the ledger and the payments: its hold open, posted, voided or expired, and why. */
static void p_check_quote(const struct pmodel *m, const struct ortak_engine *e, uint32_t x, ortak_time_ns now,
                          uint64_t batch) {
    const struct mquote *q = &m->quotes[x];
    struct ortak_fx_quote_info info;
    struct ortak_transfer_info hold, leg;
    assert_int_equal(ortak_fx_quote_get(ortak_engine_fx(e), q->req.id, &info), ORTAK_OK);
    assert_int_equal(ortak_ledger_transfer_get(ortak_engine_ledger(e), HOLD_ID(x), &hold), ORTAK_OK);
    assert_true(hold.amount_booked == q->tgt && hold.t.debit_account_id == PP(q->t, q->j) &&
                hold.t.credit_account_id == q->req.credit_account_id && hold.t.user_data == q->req.id &&
                hold.timestamp + (uint64_t)hold.t.timeout_s * SEC == q->expires);
    uint8_t pending = q->end == 0                         ? ORTAK_PENDING_STATE_OPEN
                      : q->end == ORTAK_EV_PENDING_POSTED ? ORTAK_PENDING_STATE_POSTED
                      : q->end == ORTAK_EV_PENDING_VOIDED ? ORTAK_PENDING_STATE_VOIDED
                                                          : ORTAK_PENDING_STATE_EXPIRED;
    uint8_t st = q->end == 0                         ? (q->payment ? ORTAK_QUOTE_STATE_USED : ORTAK_QUOTE_STATE_OPEN)
                 : q->end == ORTAK_EV_PENDING_POSTED ? ORTAK_QUOTE_STATE_SETTLED
                 : q->end == ORTAK_EV_PENDING_VOIDED ? ORTAK_QUOTE_STATE_RELEASED
                                                     : ORTAK_QUOTE_STATE_EXPIRED;
    if (hold.pending_state != pending || info.state != st || info.payment_id != q->payment ||
        q->resolved != (q->end != 0) || (q->end == 0 && now >= q->expires && !m->chain_last))
        fail_msg("batch %llu, quote %llu: hold %u quote %u payment %llu, resolved %u times; model: hold %u quote %u "
                 "payment %llu",
                 (unsigned long long)batch, (unsigned long long)q->req.id, hold.pending_state, info.state,
                 (unsigned long long)info.payment_id, q->resolved, pending, st, (unsigned long long)q->payment);
    ortak_rc leg_rc =
        q->payment ? ortak_ledger_transfer_get(ortak_engine_ledger(e), q->payment, &leg) : ORTAK_TRANSFER_NOT_FOUND;
    if (q->payment == 0) {
        assert_true(q->end == 0 || q->end == ORTAK_EV_PENDING_EXPIRED); /* never posted or voided unpaid */
        return;
    }
    struct ortak_payment_info p;
    assert_int_equal(ortak_settle_payment_get(ortak_engine_settle(e), q->payment, &p), ORTAK_OK);
    bool ok;
    switch (p.state) {
    case ORTAK_PAYMENT_SETTLED:
        ok = q->end == ORTAK_EV_PENDING_POSTED && leg_rc == ORTAK_OK && leg.amount_booked == q->src &&
             leg.t.debit_account_id == q->req.debit_account_id && leg.t.credit_account_id == PP(q->s, q->j);
        break;
    case ORTAK_PAYMENT_QUEUED: ok = q->end == 0; break;
    case ORTAK_PAYMENT_CANCELLED: ok = q->end == ORTAK_EV_PENDING_VOIDED; break;
    case ORTAK_PAYMENT_REJECTED:
        ok = (q->end == ORTAK_EV_PENDING_VOIDED &&
              (p.rc == ORTAK_SETTLEMENT_TIMEOUT || p.rc == ORTAK_REJECTED_AT_CUTOFF)) ||
             (q->end == ORTAK_EV_PENDING_EXPIRED && p.rc == ORTAK_SETTLEMENT_TIMEOUT && p.ended_ns >= q->expires);
        break;
    default: ok = false;
    }
    if (!ok || (p.state != ORTAK_PAYMENT_SETTLED) != (leg_rc == ORTAK_TRANSFER_NOT_FOUND))
        fail_msg("batch %llu, quote %llu: payment %llu %s (%s), source leg %s, hold %u", (unsigned long long)batch,
                 (unsigned long long)q->req.id, (unsigned long long)q->payment, ortak_payment_state_name(p.state),
                 ortak_rc_name(p.rc), ortak_rc_name(leg_rc), hold.pending_state);
}

/* The model against the engine after a batch: sums, floors, every account, every quote, every PvP payment. */
static void p_check(struct pmodel *m, const struct ortak_engine *e, uint64_t batch) {
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    ortak_i128 sum[P_CURS] = {0};
    for (uint32_t i = 0; i < ortak_ledger_account_count(l); i++) {
        struct ortak_account_info a;
        ortak_ledger_account_at(l, i, &a);
        uint32_t slot = p_slot(a.id);
        sum[p_cur_of(a.currency)] += a.balance;
        if (a.kind != ORTAK_ACCOUNT_ISSUANCE && a.balance - a.debits_pending + a.credit_line < 0)
            fail_msg("batch %llu: account %llu below its floor", (unsigned long long)batch, (unsigned long long)a.id);
        if (a.balance != m->bal[slot] || a.debits_pending != m->dpend[slot] || a.credits_pending != m->cpend[slot])
            fail_msg("batch %llu: account %llu: balance %lld held %lld / %lld; the events say %lld held %lld / %lld",
                     (unsigned long long)batch, (unsigned long long)a.id, (long long)a.balance,
                     (long long)a.debits_pending, (long long)a.credits_pending, (long long)m->bal[slot],
                     (long long)m->dpend[slot], (long long)m->cpend[slot]);
    }
    for (int c = 0; c < P_CURS; c++) assert_true(sum[c] == 0);
    ortak_time_ns now = ortak_engine_now(e);
    for (uint32_t x = 0; x < m->nquotes; x++) p_check_quote(m, e, x, now, batch);
    /* No payment carrying a quote has one leg without the other. */
    for (uint32_t id = 1; id < P_PAYMENTS; id++) {
        if (!m_is_pvp(m, id) || m->pay[id].state == 0) continue;
        struct ortak_transfer_info t;
        bool booked = ortak_ledger_transfer_get(l, id, &t) == ORTAK_OK;
        const struct mquote *q = m_quote_by_id(m, m->pay[id].cmd.u.payment.quote_id);
        bool posted = q && q->payment == id && q->end == ORTAK_EV_PENDING_POSTED;
        if (booked != (m->pay[id].state == ORTAK_PAYMENT_SETTLED) || booked != posted)
            fail_msg("batch %llu: payment %llu %s: source leg %s, target leg %s", (unsigned long long)batch,
                     (unsigned long long)id, ortak_payment_state_name(m->pay[id].state), booked ? "booked" : "not",
                     posted ? "posted" : "not");
    }
    m->checks++;
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
    m_follow(m, e[0], cmds, ra, n);
    p_check(m, e[0], batch);
}

/* Participants, accounts (per currency: issuance, the banks', the providers'), funds, and a first rate for every
 * provider and pair. */
static uint64_t p_setup(struct ortak_engine *const *e, struct pmodel *m, struct pgen *g) {
    static struct ortak_cmd
        cmds[P_CURS + P_BANKS + PROVIDERS + P_CURS * (1 + 2 * (P_BANKS + PROVIDERS)) + PROVIDERS * P_CURS * P_CURS];
    uint32_t n = 0;
    for (int c = 0; c < P_CURS; c++)
        cmds[n++] = tu_participant(g->t += SEC, cb_bic[c], cb_name[c], ORTAK_ROLE_CENTRAL_BANK);
    for (int k = 0; k < P_BANKS; k++) cmds[n++] = tu_participant(g->t += SEC, p_bank[k], "A bank", ORTAK_ROLE_BANK);
    for (int j = 0; j < PROVIDERS; j++)
        cmds[n++] = tu_participant(g->t += SEC, prov_bic[j], prov_name[j], ORTAK_ROLE_FX_PROVIDER);
    for (int c = 0; c < P_CURS; c++) {
        cmds[n++] = tu_account(g->t += SEC, PI(c), cb_bic[c], cur_code[c], ORTAK_ACCOUNT_ISSUANCE);
        for (int k = 0; k < P_BANKS; k++)
            cmds[n++] = tu_account(g->t += SEC, PS(c, k), p_bank[k], cur_code[c], ORTAK_ACCOUNT_SETTLEMENT);
        for (int j = 0; j < PROVIDERS; j++)
            cmds[n++] = tu_account(g->t += SEC, PP(c, j), prov_bic[j], cur_code[c], ORTAK_ACCOUNT_SETTLEMENT);
        for (int k = 0; k < P_BANKS; k++)
            cmds[n++] =
                tu_transfer(g->t += SEC, g->next_tid++, PI(c), PS(c, k), p_minor(c, 100 * (500 + rnd(g, 4500))), 0);
        for (int j = 0; j < PROVIDERS; j++)
            cmds[n++] = tu_transfer(g->t += SEC, g->next_tid++, PI(c), PP(c, j),
                                    p_minor(c, 100 * (300000 + rnd(g, 700000))), 0);
    }
    for (int j = 0; j < PROVIDERS; j++) {
        for (int b = 0; b < P_CURS; b++) {
            for (int q = b + 1; q < P_CURS; q++) {
                int x = rnd(g, 2) ? b : q, y = x == b ? q : b;
                uint64_t mid = p_mid(x, y) * (990 + rnd(g, 21)) / 1000;
                ortak_time_ns at = g->t += SEC;
                cmds[n++] = rate_cmd(at, prov_bic[j], cur_code[x], cur_code[y], mid * 997 / 1000, mid * 1003 / 1000,
                                     p_minor(x, 100 * 50000), at + (600 + rnd(g, 1200)) * SEC);
            }
        }
    }
    assert_true(n <= sizeof cmds / sizeof cmds[0]);
    uint64_t batch = 0;
    for (uint32_t i = 0; i < n; i += P_BATCH_MAX, batch++) {
        uint32_t k = n - i < P_BATCH_MAX ? n - i : P_BATCH_MAX;
        p_apply(e, m, cmds + i, k, batch);
    }
    assert_int_equal(m->live_rates, PROVIDERS * 6);
    return batch;
}

static void p_summary(const struct pmodel *m, uint64_t seed, uint64_t batches) {
    const uint32_t *rr = m->rate_rc, *qr = m->quote_rc, *pr = m->pvp_rc, *how = m->pvp_settled;
    print_message("seed %llx: %llu batches checked, %u reopened states, %u linked chains\n", (unsigned long long)seed,
                  (unsigned long long)batches, m->reopens, m->chains);
    print_message("  rates: %u published, %u replaced, %u withdrawn; refused %u invalid, %u table full, %u provider "
                  "not valid, %u none to withdraw\n",
                  m->published, m->replaced, m->withdrawn, rr[ORTAK_FX_RATE_INVALID], rr[ORTAK_FX_RATES_FULL],
                  rr[ORTAK_FX_PROVIDER_INVALID], rr[ORTAK_FX_RATE_NOT_FOUND]);
    print_message("  quotes: %u fixed source and %u fixed target given (%u rounded), %u replays; refused %u pair "
                  "unsupported, %u above max, %u no liquidity, %u id taken, %u request invalid, %u participant not "
                  "active; %u holds expired unused\n",
                  m->quotes_src, m->quotes_tgt, m->rounded, m->quote_replays, qr[ORTAK_FX_PAIR_UNSUPPORTED],
                  qr[ORTAK_FX_AMOUNT_ABOVE_MAX], qr[ORTAK_FX_NO_LIQUIDITY], qr[ORTAK_QUOTE_EXISTS_DIFFERENT],
                  qr[ORTAK_QUOTE_REQUEST_INVALID], qr[ORTAK_PARTICIPANT_NOT_ACTIVE], m->holds_expired_unused);
    print_message("  payments carrying quotes: %u accepted; settled %u at once, %u from the queue, %u by offsetting, "
                  "%u by gridlock resolution; %u queued, %u cancelled, %u rejected at a cut-off, %u timed out as "
                  "their hold expired (%u waiting past it inside a chain), %u timed out before it (hold voided)\n",
                  pr[ORTAK_OK], how[HOW_AT_ONCE], how[HOW_RELEASE], how[HOW_OFFSET], how[HOW_GRIDLOCK], m->pvp_queued,
                  m->pvp_cancelled, m->pvp_cutoff, m->pvp_timeout_expired, m->chain_past_expiry, m->pvp_timeout_voided);
    print_message("  refused: %u quote not found, %u other payer, %u mismatch, %u used, %u expired, %u net, %u "
                  "participant not active, %u cut-off passed; %u plain payments settled, %u gridlock runs\n",
                  pr[ORTAK_QUOTE_NOT_FOUND], pr[ORTAK_QUOTE_OTHER_PAYER], pr[ORTAK_QUOTE_MISMATCH],
                  pr[ORTAK_QUOTE_USED], pr[ORTAK_QUOTE_EXPIRED], pr[ORTAK_METHOD_INVALID],
                  pr[ORTAK_PARTICIPANT_NOT_ACTIVE], pr[ORTAK_CUTOFF_PASSED], m->plain_settled, m->gridlock_runs);
    /* Every path happened. */
    assert_true(m->published > 0 && m->replaced > 0 && m->withdrawn > 0 && rr[ORTAK_FX_RATE_INVALID] > 0 &&
                rr[ORTAK_FX_RATES_FULL] > 0 && rr[ORTAK_FX_PROVIDER_INVALID] > 0 && rr[ORTAK_FX_RATE_NOT_FOUND] > 0);
    assert_true(m->quotes_src > 0 && m->quotes_tgt > 0 && m->rounded > 0 && m->quote_replays > 0 &&
                qr[ORTAK_FX_PAIR_UNSUPPORTED] > 0 && qr[ORTAK_FX_AMOUNT_ABOVE_MAX] > 0 &&
                qr[ORTAK_FX_NO_LIQUIDITY] > 0 && qr[ORTAK_QUOTE_EXISTS_DIFFERENT] > 0 &&
                qr[ORTAK_QUOTE_REQUEST_INVALID] > 0 && qr[ORTAK_PARTICIPANT_NOT_ACTIVE] > 0 &&
                m->holds_expired_unused > 0);
    for (int h = 0; h < HOWS; h++) assert_true(how[h] > 0);
    assert_true(m->pvp_queued > 0 && m->pvp_cancelled > 0 && m->pvp_cutoff > 0 && m->pvp_timeout_expired > 0 &&
                m->chain_past_expiry > 0 && m->pvp_timeout_voided > 0);
    assert_true(pr[ORTAK_QUOTE_NOT_FOUND] > 0 && pr[ORTAK_QUOTE_OTHER_PAYER] > 0 && pr[ORTAK_QUOTE_MISMATCH] > 0 &&
                pr[ORTAK_QUOTE_USED] > 0 && pr[ORTAK_QUOTE_EXPIRED] > 0 && pr[ORTAK_METHOD_INVALID] > 0 &&
                pr[ORTAK_PARTICIPANT_NOT_ACTIVE] > 0 && pr[ORTAK_CUTOFF_PASSED] > 0);
    assert_true(m->plain_settled > 0 && m->gridlock_runs > 0 && m->reopens > 0 && m->chains > 0);
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
    for (uint32_t i = 0; i < P_QUOTE_IDS; i++) m->quote_of[i] = -1;
    *g = (struct pgen){.rs = seed, .t = T0, .next_pid = 1, .next_qid = 1, .next_tid = UINT64_C(1) << 40};
    uint64_t batch = p_setup(e, m, g);
    uint32_t done = 0;
    while (done < P_COMMANDS) {
        struct ortak_cmd cmds[P_BATCH_MAX];
        uint32_t n = 1 + (uint32_t)rnd(g, P_BATCH_MAX);
        for (uint32_t i = 0; i < n; i++) cmds[i] = gen_command(g, m, e[0]);
        p_apply(e, m, cmds, n, batch++);
        done += n;
        if (batch % P_REOPEN_EVERY == 0) {
            /* The second engine goes on from the first's encoded state. */
            struct ortak_engine *r = NULL;
            assert_int_equal(reopen_rc(e[0], &r), ORTAK_OK);
            ortak_engine_close(e[1]);
            e[1] = r;
            m->reopens++;
        }
    }
    assert_true(g->next_pid < P_PAYMENTS && g->next_qid < P_QUOTE_IDS);
    /* The end of the day: every participant active, the cut-off reopened, time past every expiry. */
    struct ortak_cmd end[PROVIDERS + P_BANKS + 2];
    uint32_t n = 0;
    for (int j = 0; j < PROVIDERS; j++) end[n++] = tu_status(g->t += SEC, prov_bic[j], ORTAK_PARTICIPANT_ACTIVE);
    for (int k = 0; k < P_BANKS; k++) end[n++] = tu_status(g->t += SEC, p_bank[k], ORTAK_PARTICIPANT_ACTIVE);
    end[n++] = tu_cutoff(g->t += SEC, 1u << NORM, 1);
    end[n++] = tu_tick(g->t += 86400 * SEC);
    p_apply(e, m, end, n, batch++);
    /* Every hold ended, by exactly one event; no payment carrying a quote still waits. */
    for (uint32_t x = 0; x < m->nquotes; x++) assert_true(m->quotes[x].end != 0 && m->quotes[x].resolved == 1);
    for (uint32_t id = 1; id < P_PAYMENTS; id++) {
        if (m_is_pvp(m, id)) assert_true(m->pay[id].state != ORTAK_PAYMENT_QUEUED);
    }
    assert_int_equal(m->checks, batch);
    p_summary(m, seed, batch);
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
    p_run(0xf0a2b4c8);
}

/* ---- main -------------------------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    const struct CMUnitTest unit[] = {
        cmocka_unit_test_setup_teardown(test_worked_azn_kzt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worked_uzs_try, setup, teardown),
        cmocka_unit_test_setup_teardown(test_best_rate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_best_skips_liquidity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_best_skips_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_best_skips_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_best_ties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_best_not_own_counterparty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rates_full, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_quote_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quotes_full, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_quote_pendings_full, setup_one_pending, teardown),
        cmocka_unit_test_setup_teardown(test_quote_hold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pvp_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pvp_queued_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pvp_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pvp_latest_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pvp_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pvp_cutoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pvp_offsetting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pvp_gridlock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pvp_fee, setup_fee, teardown),
        cmocka_unit_test(test_fx_config),
        cmocka_unit_test_setup_teardown(test_journal_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pvp_expiry_inside_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pvp_payee_not_active, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pvp_latest_time_inside_chain, setup, teardown),
    };
    const struct CMUnitTest property[] = {
        cmocka_unit_test(test_property_seed1),
        cmocka_unit_test(test_property_seed2),
        cmocka_unit_test(test_property_seed3),
    };
    if (argc > 1 && strcmp(argv[1], "property") == 0)
        return cmocka_run_group_tests_name("fx_property", property, NULL, NULL);
    if (argc > 1) {
        fprintf(stderr, "usage: test_fx [property]\n");
        return 2;
    }
    return cmocka_run_group_tests_name("fx_unit", unit, NULL, NULL);
}
