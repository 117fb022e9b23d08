/*
 * Gridlock resolution in the engine: one currency's queues become an lsm instance (lsm.h), a solver chooses the
 * payments that settle together, and they settle atomically.
 *
 * The instance: its participants are the currency's accounts that have payments queued or are paid by one; its
 * payments are every queued payment, payer by payer, each payer's in settlement order (priority, then place).
 * A participant's liquidity is its available liquidity (0 when negative) without its reservation, or with it when
 * every payment it has queued is urgent or highly urgent, so that the set settles only what each of its payments
 * could have used on its own. A payment that could not settle even with liquidity (an account closed, a
 * participant suspended since it queued) stays out, and so does everything queued behind it that keeps its place.
 *
 * The order rule: in fifo mode every payment keeps its place. In bypass mode a payer's normal payments may pass
 * each other, but only when it has no urgent or highly urgent payment in the instance: the solvers let a payment
 * that may bypass pass every payment before it, so a payer with urgent payments queued keeps its whole queue in
 * order, and a normal payment never settles ahead of a waiting urgent one.
 *
 * Everything lives in scratch arrays sized at open (struct stl_gridlock); the solvers use integer arithmetic only
 * and a work budget, so a run is deterministic and allocates nothing.
 */
#include <string.h>

#include "base/assert.h"
#include "settle_int.h"

#define NONE UINT32_MAX

/* The participant index of account a in the instance being built, added on first sight. */
static uint32_t participant(struct stl_gridlock *g, uint32_t a, uint32_t *n) {
    if (g->index_of[a] == NONE) {
        g->index_of[a] = *n;
        g->account_of[*n] = a;
        (*n)++;
    }
    return g->index_of[a];
}

/*
 * The instance's sink: a participant with no account and nothing to pay, which receives what payments with an FX
 * fee pay (their provider and the operator each get only part of it: crediting either with all of it would
 * overstate its liquidity). Added on first use.
 */
static uint32_t sink(struct stl_gridlock *g, uint32_t *n, uint32_t *index) {
    if (*index == NONE) {
        *index = *n;
        g->account_of[(*n)++] = NONE;
    }
    return *index;
}

/* Builds the instance of currency `cur` into g; returns the number of queued payments it looked at. */
static uint32_t instance_build(struct ortak_settle *s, struct ortak_ledger *l, uint32_t cur, bool bypass,
                               ortak_time_ns now, struct ortak_lsm_instance *in) {
    struct stl_gridlock *g = &s->grid;
    uint32_t n = 0, m = 0, seen = 0, sink_index = NONE;
    for (uint32_t a = 0; a < l->account_count; a++) {
        const struct stl_queue *q = &s->queues[a];
        if (l->accounts[a].currency != cur || ortak__settle_queued_total(q) == 0) continue;
        seen += ortak__settle_queued_total(q);
        uint32_t payer = participant(g, a, &n);
        bool payer_bypasses =
            bypass && q->count[ORTAK_PRIORITY_HIGHLY_URGENT] == 0 && q->count[ORTAK_PRIORITY_URGENT] == 0;
        for (uint8_t pr = 0; pr < ORTAK_PRIORITIES; pr++) {
            for (uint32_t x = q->head[pr]; x != NONE; x = s->payments[x].next) {
                const struct stl_payment *p = &s->payments[x];
                if (!ortak__settle_settleable(s, l, p, now)) {
                    if (payer_bypasses) continue;
                    goto next_payer; /* it keeps its place: nothing behind it may pass */
                }
                g->pay[m] = (struct ortak_lsm_payment){
                    .value = (int64_t)p->p.amount,
                    .payer = payer,
                    .payee = p->fee ? sink(g, &n, &sink_index) : participant(g, p->credit, &n),
                    .flags = payer_bypasses ? ORTAK_LSM_MAY_BYPASS : 0,
                };
                g->payment_of[m++] = x;
            }
        }
    next_payer:;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t a = g->account_of[i];
        if (a == NONE) { /* the sink */
            g->balance[i] = 0;
            continue;
        }
        bool urgent_only = s->queues[a].count[ORTAK_PRIORITY_NORMAL] == 0;
        ortak_i128 avail = ortak__ledger_available(l, a, urgent_only);
        g->balance[i] = avail < 0 ? 0 : avail > INT64_MAX ? INT64_MAX : (int64_t)avail;
    }
    *in = (struct ortak_lsm_instance){
        .balance = g->balance, .payments = g->pay, .participant_count = n, .payment_count = m};
    return seen;
}

void ortak__settle_gridlock(struct ortak_settle *s, struct ortak_ledger *l, uint32_t cur, uint8_t mode,
                            struct ortak__out *out) {
    if (s->queued[cur] == 0) return;
    struct stl_gridlock *g = &s->grid;
    struct ortak_lsm_instance in;
    uint32_t seen = instance_build(s, l, cur, mode == ORTAK_GRIDLOCK_BYPASS, out->now, &in);
    struct ortak_lsm_result res = {.selected = g->selected};
    ortak_rc rc = mode == ORTAK_GRIDLOCK_BYPASS ? ortak_lsm_bypass(&g->ws, &in, s->cfg.gridlock_budget, &res, NULL)
                                                : ortak_lsm_fifo(&g->ws, &in, &res);
    ORTAK_ASSERT(rc == ORTAK_OK); /* the instance is well formed by construction and fits the workspace */
    ORTAK_ASSERT(ortak_lsm_verify(&g->ws, &in,
                                  mode == ORTAK_GRIDLOCK_BYPASS ? ORTAK_LSM_ORDER_FLAGS : ORTAK_LSM_ORDER_FIFO,
                                  res.selected, NULL) == ORTAK_OK);
    /* A set that does not fit the transfer table settles nothing (and the run says so). */
    uint64_t needed = 0;
    for (uint32_t j = 0; j < in.payment_count; j++) {
        if (res.selected[j]) needed += ortak__settle_transfers_of(&s->payments[g->payment_of[j]]);
    }
    if (needed > l->limits.transfers_max - l->transfer_count) res.count = 0, res.value = 0;
    if (res.count > 0) {
        for (uint32_t j = 0; j < in.payment_count; j++) {
            if (!res.selected[j]) continue;
            uint32_t x = g->payment_of[j];
            rc = ortak__settle_book(s, l, x, LDG_WAIVE_FUNDS, out);
            ORTAK_ASSERT(rc == ORTAK_OK); /* checked when the instance was built; bookings change no other check */
        }
    }
    for (uint32_t i = 0; i < in.participant_count; i++) {
        if (g->account_of[i] != NONE) g->index_of[g->account_of[i]] = NONE;
    }
    struct ortak_event *ev = ortak__event_push(out, ORTAK_EV_GRIDLOCK);
    ev->id = l->currencies[cur].cfg.numeric;
    ev->status = mode;
    ev->amount_old = seen;
    ev->amount = res.count;
    ev->ref = (ortak_u128)res.value;
}

ortak_rc ortak__settle_gridlock_command(struct ortak_settle *s, struct ortak_ledger *l, const struct ortak_gridlock *g,
                                        struct ortak__out *out) {
    uint8_t mode = g->mode ? g->mode : s->cfg.gridlock_mode;
    if (mode != ORTAK_GRIDLOCK_FIFO && mode != ORTAK_GRIDLOCK_BYPASS) return ORTAK_GRIDLOCK_MODE_INVALID;
    if (!memchr(g->currency, '\0', sizeof g->currency)) return ORTAK_CURRENCY_UNKNOWN;
    if (g->currency[0] == '\0') {
        for (uint32_t c = 0; c < l->currency_count; c++) ortak__settle_gridlock(s, l, c, mode, out);
        return ORTAK_OK;
    }
    int c = ortak__ledger_currency_index(l, g->currency);
    if (c < 0) return ORTAK_CURRENCY_UNKNOWN;
    ortak__settle_gridlock(s, l, (uint32_t)c, mode, out);
    return ORTAK_OK;
}
