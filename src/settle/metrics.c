/*
 * Settlement metrics (ortak/metrics.h): liquidity bounds, liquidity used, the settlement delay indicator and
 * settlement shares, from the payments the settle module recorded. Definitions: docs/settlement.md.
 *
 * A report, outside the engine's apply path: it reads the payments and the ledger and writes only its own scratch
 * memory (one array of rows, one of payments), freed before it returns. The steps, each O(n) or O(n log n):
 *   collect    one pass over the recorded payments: those of the day in the currency, their accounts' rows;
 *   count      outcomes at day end, values and the delay sums (order does not matter);
 *   upper      the accepted payments in arrival order (received_ns, then recording order), one step each;
 *   used       the payments settled by day end in settlement order (ended_ns, then recording order), one step per
 *              nanosecond;
 *   finish     rows sorted by account id, ratios, the total as the sum of the rows.
 * Invariants: every counted payment has a row for its payer (and, when accepted, for its payee); the total's every
 * additive figure is the sum of the rows'; delay_num <= delay_den and settled <= accepted, so every ratio is in
 * [0, 1]. No floating point.
 */
#include "ortak/metrics.h"

#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/assert.h"
#include "settle_int.h"

#define NONE UINT32_MAX
#define PPM 1000000u

/*
 * The delay sums in the coarsest unit fit 128 bits: each term is below 2^63 x (2^64 / 10^9) < 2^98, and there are
 * fewer than 2^30 of them.
 */
_Static_assert(ORTAK_PAYMENTS_LIMIT <= (UINT32_C(1) << 30), "delay sums in seconds fit 128 bits");

/* An accepted payment of the day. */
struct mx_pay {
    ortak_time_ns key_ns;  /* the order being walked: received_ns, later ended_ns */
    uint32_t x;            /* index in recording order: breaks ties */
    uint32_t payer, payee; /* row indices */
};

/* The row of one account, under construction. */
struct mx_row {
    ortak_i128 cum;  /* sent - received so far in the walk */
    ortak_i128 peak; /* the highest `cum` so far, at least 0 */
    struct ortak_settle_metrics_account out;
};

struct mx {
    const struct ortak_settle *s;
    const struct ortak_ledger *l;
    ortak_time_ns start_ns, end_ns;
    uint16_t currency;
    uint32_t *row_of;    /* [account_count] row of each account, NONE when it has none */
    struct mx_row *rows; /* [account_count] */
    uint32_t row_count;
    struct mx_pay *pays; /* [payment_count] the accepted payments of the day */
    uint32_t pay_count;
    uint64_t delay_unit_ns;
};

/* ---- exact ratios ------------------------------------------------------------------------------------------ */

/*
 * num / den in parts per million, rounded half up: floor(num * 10^6 / den + 1/2), computed exactly for any 128-bit
 * values with num <= den (so the answer is at most 10^6): the 256-bit product num * 10^6, then a restoring division
 * by den one bit at a time. 0 when den is 0.
 */
static uint32_t ratio_ppm(ortak_u128 num, ortak_u128 den) {
    if (den == 0) return 0;
    ORTAK_ASSERT(num <= den);
    ortak_u128 low = (ortak_u128)(uint64_t)num * PPM;
    ortak_u128 high = (num >> 64) * PPM; /* < 2^84 */
    ortak_u128 lo = low + (high << 64);
    ortak_u128 hi = (high >> 64) + (lo < low ? 1u : 0u);
    ortak_u128 q = 0, r = 0;
    for (int i = 255; i >= 0; i--) {
        ortak_u128 bit = i >= 128 ? (hi >> (i - 128)) & 1u : (lo >> i) & 1u;
        bool carry = (r >> 127) != 0; /* 2r + bit exceeds 128 bits: then it certainly exceeds den */
        r = (r << 1) | bit;
        q <<= 1;
        if (carry || r >= den) {
            r -= den; /* wraps back to the true remainder, which is below den */
            q |= 1u;
        }
    }
    ORTAK_ASSERT(q <= PPM && r < den);
    if (r >= den - r) q++; /* the rest is at least one half */
    ORTAK_ASSERT(q <= PPM);
    return (uint32_t)q;
}

/* ---- collect ----------------------------------------------------------------------------------------------- */

/*
 * Accepted: settled or queued on submission. A payment refused at submission is rejected without ever having been
 * queued, and only queueing gives a payment a place (never 0: the tail takes ++tail_place, the head --head_place).
 */
static bool payment_accepted(const struct stl_payment *p) {
    return p->state != ORTAK_PAYMENT_REJECTED || p->place != 0;
}

/* Its state at day end: an ending after end_ns had not happened yet. */
static uint8_t payment_outcome(const struct stl_payment *p, ortak_time_ns end_ns) {
    /* A net payment accepted into a window that has not closed yet, or one held by screening, waits as a queued one
     * does. */
    if (p->state == ORTAK_PAYMENT_QUEUED || p->state == ORTAK_PAYMENT_ACCEPTED || p->state == ORTAK_PAYMENT_HELD ||
        p->ended_ns > end_ns)
        return ORTAK_PAYMENT_QUEUED;
    return p->state;
}

/*
 * The account index of a payment's side: the resolved one when recorded, else by id (a snapshot keeps no indices
 * for ended payments). NONE when there is no such account.
 */
static uint32_t payment_account(const struct ortak_ledger *l, uint32_t idx, ortak_u128 id) {
    if (idx != NONE) return idx;
    uint32_t a;
    return ortak__ledger_account_index(l, id, &a) == ORTAK_OK ? a : NONE;
}

static uint32_t row_for(struct mx *m, uint32_t a) {
    if (m->row_of[a] != NONE) return m->row_of[a];
    const struct ldg_account *acc = &m->l->accounts[a];
    ORTAK_ASSERT(acc->kind == ORTAK_ACCOUNT_SETTLEMENT && acc->currency == m->currency);
    uint32_t r = m->row_count++;
    struct mx_row *row = &m->rows[r];
    row->out.account_id = acc->id;
    memcpy(row->out.bic, m->l->participants[acc->participant].bic, sizeof row->out.bic);
    m->row_of[a] = r;
    return r;
}

/* One recorded payment: counted if it arrived during the day and its payer is an account of the currency. */
static void collect_payment(struct mx *m, uint32_t x) {
    const struct stl_payment *p = &m->s->payments[x];
    if (p->received_ns < m->start_ns || p->received_ns >= m->end_ns) return;
    uint32_t payer = payment_account(m->l, p->debit, p->p.debit_account_id);
    if (payer == NONE) return;
    const struct ldg_account *a = &m->l->accounts[payer];
    if (a->currency != m->currency) return;
    if (!payment_accepted(p)) {
        /* Refusals count for settlement accounts only: a payment from any other kind was never a payment. */
        if (a->kind == ORTAK_ACCOUNT_SETTLEMENT) m->rows[row_for(m, payer)].out.m.refused_count++;
        return;
    }
    uint32_t payee = payment_account(m->l, p->credit, p->p.credit_account_id);
    /* Only a payment between two settlement accounts of one currency is ever accepted (row_for asserts the rest). */
    ORTAK_ASSERT(payee != NONE && payee != payer);
    ORTAK_ASSERT(p->p.amount > 0 && p->p.amount <= ORTAK_AMOUNT_MAX);
    ORTAK_ASSERT(p->state == ORTAK_PAYMENT_QUEUED || p->state == ORTAK_PAYMENT_ACCEPTED ||
                 p->state == ORTAK_PAYMENT_HELD || p->ended_ns >= p->received_ns);
    m->pays[m->pay_count++] = (struct mx_pay){p->received_ns, x, row_for(m, payer), row_for(m, payee)};
}

/* ---- count ------------------------------------------------------------------------------------------------- */

static void count_payment(struct mx *m, const struct mx_pay *q) {
    const struct stl_payment *p = &m->s->payments[q->x];
    struct ortak_settle_metrics *sent = &m->rows[q->payer].out.m;
    struct ortak_settle_metrics_account *to = &m->rows[q->payee].out;
    ortak_i128 v = (ortak_i128)p->p.amount;
    sent->accepted_count++;
    sent->accepted_value += v;
    to->received_count++;
    to->received_value += v;
    switch (payment_outcome(p, m->end_ns)) {
    case ORTAK_PAYMENT_SETTLED:
        sent->settled_count++;
        sent->settled_value += v;
        to->received_settled_count++;
        to->received_settled_value += v;
        break;
    case ORTAK_PAYMENT_QUEUED: sent->queued_count++; break;
    case ORTAK_PAYMENT_CANCELLED: sent->cancelled_count++; break;
    case ORTAK_PAYMENT_REJECTED: sent->rejected_count++; break;
    default: ORTAK_UNREACHABLE();
    }
}

/* When payment p counts as settled for the delay indicator: when it settled by day end, else at day end. */
static ortak_time_ns delay_settled_ns(const struct stl_payment *p, ortak_time_ns end_ns) {
    return payment_outcome(p, end_ns) == ORTAK_PAYMENT_SETTLED ? p->ended_ns : end_ns;
}

/*
 * The finest of 1 ns, 1 us, 1 ms and 1 s in which the total delay denominator fits 128 bits. Each term is below
 * 2^127 (a value below 2^63 times a span below 2^64), so only the sum can overflow; numerators are no larger.
 */
static uint64_t delay_unit(const struct mx *m) {
    static const uint64_t units[] = {1, UINT64_C(1000), UINT64_C(1000000), UINT64_C(1000000000)};
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
        uint64_t u = units[k];
        ortak_u128 den = 0;
        bool fits = true;
        for (uint32_t i = 0; i < m->pay_count && fits; i++) {
            const struct stl_payment *p = &m->s->payments[m->pays[i].x];
            ortak_u128 term = (ortak_u128)p->p.amount * (m->end_ns / u - p->received_ns / u);
            fits = den + term >= den;
            den += term;
        }
        if (fits) return u;
    }
    ORTAK_UNREACHABLE(); /* seconds always fit (see the _Static_assert above) */
}

static void count_all(struct mx *m) {
    uint64_t u = m->delay_unit_ns = delay_unit(m);
    for (uint32_t i = 0; i < m->pay_count; i++) {
        const struct mx_pay *q = &m->pays[i];
        const struct stl_payment *p = &m->s->payments[q->x];
        count_payment(m, q);
        ortak_u128 v = p->p.amount;
        uint64_t r = p->received_ns / u;
        struct ortak_settle_metrics *sent = &m->rows[q->payer].out.m;
        sent->delay_num += v * (delay_settled_ns(p, m->end_ns) / u - r);
        sent->delay_den += v * (m->end_ns / u - r);
    }
}

/* ---- liquidity --------------------------------------------------------------------------------------------- */

static int pay_order(const void *a, const void *b) {
    const struct mx_pay *x = a, *y = b;
    if (x->key_ns != y->key_ns) return x->key_ns < y->key_ns ? -1 : 1;
    return x->x < y->x ? -1 : x->x > y->x;
}

/* Sorts pays[0..n) by (key_ns, recording order); payments are recorded in time order, so usually nothing moves. */
static void pays_sort(struct mx_pay *pays, uint32_t n) {
    for (uint32_t i = 1; i < n; i++) {
        if (pay_order(&pays[i - 1], &pays[i]) > 0) {
            qsort(pays, n, sizeof *pays, pay_order);
            return;
        }
    }
}

static void rows_reset_walk(struct mx *m) {
    for (uint32_t r = 0; r < m->row_count; r++) m->rows[r].cum = m->rows[r].peak = 0;
}

static void walk_step(struct mx *m, const struct mx_pay *q) {
    ortak_i128 v = (ortak_i128)m->s->payments[q->x].p.amount;
    m->rows[q->payer].cum += v;
    m->rows[q->payee].cum -= v;
}

static void walk_peak(struct mx_row *row) {
    if (row->cum > row->peak) row->peak = row->cum;
}

/* Upper bound: every accepted payment settles on arrival, one at a time. Lower bound: the net at the end. */
static void liquidity_bounds(struct mx *m) {
    pays_sort(m->pays, m->pay_count);
    rows_reset_walk(m);
    for (uint32_t i = 0; i < m->pay_count; i++) {
        walk_step(m, &m->pays[i]);
        walk_peak(&m->rows[m->pays[i].payer]); /* only the payer's position rose */
    }
    for (uint32_t r = 0; r < m->row_count; r++) {
        struct ortak_settle_metrics *out = &m->rows[r].out.m;
        out->liquidity_upper = m->rows[r].peak;
        out->liquidity_lower = m->rows[r].cum > 0 ? m->rows[r].cum : 0;
    }
}

/*
 * Used: the payments settled by day end, in settlement order. Payments settled at the same nanosecond are one step
 * (offsetting and gridlock resolution settle sets at once), so peaks are taken after each instant, for the accounts
 * that paid in it (only they can have risen). Reorders and shortens pays[]: call it last.
 */
static void liquidity_used(struct mx *m) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->pay_count; i++) {
        const struct stl_payment *p = &m->s->payments[m->pays[i].x];
        if (payment_outcome(p, m->end_ns) != ORTAK_PAYMENT_SETTLED) continue;
        m->pays[n] = m->pays[i];
        m->pays[n++].key_ns = p->ended_ns;
    }
    m->pay_count = n;
    pays_sort(m->pays, n);
    rows_reset_walk(m);
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i;
        while (j < n && m->pays[j].key_ns == m->pays[i].key_ns) walk_step(m, &m->pays[j++]);
        for (; i < j; i++) walk_peak(&m->rows[m->pays[i].payer]);
    }
    for (uint32_t r = 0; r < m->row_count; r++) m->rows[r].out.m.liquidity_used = m->rows[r].peak;
}

/* ---- finish ------------------------------------------------------------------------------------------------ */

static int row_order(const void *a, const void *b) {
    const struct mx_row *x = a, *y = b;
    return x->out.account_id < y->out.account_id ? -1 : x->out.account_id > y->out.account_id;
}

static void ratios(struct ortak_settle_metrics *m) {
    ORTAK_ASSERT(m->settled_count <= m->accepted_count && m->settled_value <= m->accepted_value);
    ORTAK_ASSERT(m->settled_value >= 0 && m->delay_num <= m->delay_den);
    ORTAK_ASSERT(m->accepted_count == m->settled_count + m->queued_count + m->cancelled_count + m->rejected_count);
    m->settled_count_ppm = ratio_ppm(m->settled_count, m->accepted_count);
    m->settled_value_ppm = ratio_ppm((ortak_u128)m->settled_value, (ortak_u128)m->accepted_value);
    m->delay_ppm = ratio_ppm(m->delay_num, m->delay_den);
}

static void total_add(struct ortak_settle_metrics *t, const struct ortak_settle_metrics *a) {
    t->liquidity_upper += a->liquidity_upper;
    t->liquidity_lower += a->liquidity_lower;
    t->liquidity_used += a->liquidity_used;
    t->accepted_count += a->accepted_count;
    t->settled_count += a->settled_count;
    t->queued_count += a->queued_count;
    t->cancelled_count += a->cancelled_count;
    t->rejected_count += a->rejected_count;
    t->refused_count += a->refused_count;
    t->accepted_value += a->accepted_value;
    t->settled_value += a->settled_value;
    t->delay_num += a->delay_num;
    t->delay_den += a->delay_den;
}

static void finish(struct mx *m, struct ortak_settle_metrics *total, struct ortak_settle_metrics_account *rows,
                   uint32_t cap) {
    qsort(m->rows, m->row_count, sizeof *m->rows, row_order);
    memset(total, 0, sizeof *total);
    total->delay_unit_ns = m->delay_unit_ns;
    uint64_t received_count = 0;
    ortak_i128 received_value = 0;
    for (uint32_t r = 0; r < m->row_count; r++) {
        struct ortak_settle_metrics *a = &m->rows[r].out.m;
        a->delay_unit_ns = m->delay_unit_ns;
        ratios(a);
        total_add(total, a);
        received_count += m->rows[r].out.received_count;
        received_value += m->rows[r].out.received_value;
        if (r < cap) rows[r] = m->rows[r].out;
    }
    ratios(total);
    /* Every accepted payment has a payer and a payee among the rows: what is sent is received. */
    ORTAK_ASSERT(received_count == total->accepted_count && received_value == total->accepted_value);
    ORTAK_ASSERT(total->liquidity_lower <= total->liquidity_upper);
}

/* ---- entry ------------------------------------------------------------------------------------------------- */

ortak_rc ortak_settle_metrics_compute(const struct ortak_engine *e, const char *currency, ortak_time_ns day_start_ns,
                                      ortak_time_ns day_end_ns, struct ortak_settle_metrics *total,
                                      struct ortak_settle_metrics_account *per_account, uint32_t per_account_cap,
                                      uint32_t *per_account_n) {
    if (per_account_n) *per_account_n = 0;
    if (total) memset(total, 0, sizeof *total);
    if (!e || !currency || !total || (!per_account && per_account_cap > 0) || day_end_ns <= day_start_ns)
        return ORTAK_INVALID;
    struct mx m = {.s = ortak_engine_settle(e), .l = ortak_engine_ledger(e)};
    int ci = ortak__ledger_currency_index(m.l, currency);
    if (ci < 0) return ORTAK_CURRENCY_UNKNOWN;
    m.currency = (uint16_t)ci;
    m.start_ns = day_start_ns;
    m.end_ns = day_end_ns;
    ortak_rc rc = ORTAK_NOMEM;
    uint32_t accounts = m.l->account_count;
    m.row_of = ortak__calloc_array(accounts ? accounts : 1, sizeof *m.row_of);
    m.rows = ortak__calloc_array(accounts ? accounts : 1, sizeof *m.rows);
    m.pays = ortak__calloc_array(m.s->payment_count ? m.s->payment_count : 1, sizeof *m.pays);
    if (!m.row_of || !m.rows || !m.pays) goto done;
    memset(m.row_of, 0xff, (size_t)accounts * sizeof *m.row_of); /* NONE */
    for (uint32_t x = 0; x < m.s->payment_count; x++) collect_payment(&m, x);
    count_all(&m);
    liquidity_bounds(&m);
    liquidity_used(&m);
    finish(&m, total, per_account, per_account_cap);
    if (per_account_n) *per_account_n = m.row_count;
    rc = ORTAK_OK;
done:
    free(m.row_of);
    free(m.rows);
    free(m.pays);
    return rc;
}
