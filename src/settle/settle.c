/*
 * Real-time gross settlement: payments, queues, FIFO release, participant controls, cut-offs, deadlines.
 *
 * Invariants kept here:
 *   - a payment is in exactly one queue (its payer account's, its current priority's) while QUEUED, and in none
 *     otherwise; each queue's count and value equal the sum over its members;
 *   - a payment settles only as one ledger transfer with the payment's id, booked when the ledger's checks pass;
 *   - within a payer account no payment settles while a payment of higher or equal priority queued before it
 *     waits (FIFO): release goes class by class from the head and stops at the first payment that cannot settle;
 *   - an account is watched by the ledger (its liquidity rises are reported) exactly while it has queued payments;
 *   - a queued payment ends once: settled, cancelled or rejected, each with its event.
 */
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/assert.h"
#include "fx/fx_int.h"
#include "netting/netting_int.h"
#include "settle_int.h"

#define NONE UINT32_MAX

static bool id_valid(ortak_u128 id) { return ortak__id_client_valid(id); }

static int gridlock_init(struct stl_gridlock *g, const struct ortak_limits *lim) {
    g->pay = ortak__calloc_array(lim->payments_max, sizeof *g->pay);
    g->payment_of = ortak__calloc_array(lim->payments_max, sizeof *g->payment_of);
    g->selected = ortak__calloc_array(lim->payments_max, sizeof *g->selected);
    g->balance = ortak__calloc_array(lim->accounts_max + 1, sizeof *g->balance); /* every account and a sink */
    g->account_of = ortak__calloc_array(lim->accounts_max + 1, sizeof *g->account_of);
    g->index_of = ortak__calloc_array(lim->accounts_max, sizeof *g->index_of);
    if (!g->pay || !g->payment_of || !g->selected || !g->balance || !g->account_of || !g->index_of) return -1;
    for (uint32_t a = 0; a < lim->accounts_max; a++) g->index_of[a] = NONE;
    return ortak_lsm_workspace_init(&g->ws, lim->payments_max, lim->accounts_max + 1) == ORTAK_OK ? 0 : -1;
}

int ortak__settle_init(struct ortak_settle *s, const struct ortak_ledger *l, const struct ortak_config *cfg) {
    const struct ortak_limits *lim = &cfg->limits;
    memset(s, 0, sizeof *s);
    s->ledger = l;
    s->cfg = cfg->settlement;
    s->payments_max = lim->payments_max;
    s->accounts_max = lim->accounts_max;
    s->payments = ortak__calloc_array(lim->payments_max, sizeof *s->payments);
    s->queues = ortak__calloc_array(lim->accounts_max, sizeof *s->queues);
    s->deadlines = ortak__calloc_array(lim->payments_max, sizeof *s->deadlines);
    if (!s->payments || !s->queues || !s->deadlines ||
        ortak_idmap_init(&s->map, lim->payments_max, cfg->hash_seed) != 0 || gridlock_init(&s->grid, lim) != 0) {
        ortak__settle_free(s);
        return -1;
    }
    for (uint32_t a = 0; a < lim->accounts_max; a++) {
        for (int p = 0; p < ORTAK_PRIORITIES; p++) s->queues[a].head[p] = s->queues[a].tail[p] = NONE;
    }
    return 0;
}

void ortak__settle_free(struct ortak_settle *s) {
    free(s->payments);
    free(s->queues);
    free(s->deadlines);
    ortak_idmap_free(&s->map);
    struct stl_gridlock *g = &s->grid;
    ortak_lsm_workspace_free(&g->ws);
    free(g->pay);
    free(g->payment_of);
    free(g->selected);
    free(g->balance);
    free(g->account_of);
    free(g->index_of);
    memset(s, 0, sizeof *s);
}

size_t ortak__settle_memory_bytes(const struct ortak_settle *s) {
    const struct stl_gridlock *g = &s->grid;
    return (size_t)s->payments_max * (sizeof *s->payments + sizeof *s->deadlines + sizeof *g->pay +
                                      sizeof *g->payment_of + sizeof *g->selected) +
           (size_t)s->accounts_max * (sizeof *s->queues + sizeof *g->index_of) +
           ((size_t)s->accounts_max + 1) * (sizeof *g->balance + sizeof *g->account_of) +
           ((size_t)s->map.mask + 1) * sizeof(struct ortak_idmap_slot) + g->ws.block_bytes;
}

/* ---- queues ------------------------------------------------------------------------------------------------ */

uint32_t ortak__settle_queued_total(const struct stl_queue *q) { return q->count[0] + q->count[1] + q->count[2]; }

static void queue_link(struct ortak_settle *s, struct ortak_ledger *l, uint32_t x, bool at_head) {
    struct stl_payment *p = &s->payments[x];
    struct stl_queue *q = &s->queues[p->debit];
    uint8_t pr = p->priority;
    if (at_head) {
        p->place = --s->head_place;
        p->prev = NONE;
        p->next = q->head[pr];
        if (q->head[pr] != NONE)
            s->payments[q->head[pr]].prev = x;
        else
            q->tail[pr] = x;
        q->head[pr] = x;
    } else {
        p->place = ++s->tail_place;
        p->next = NONE;
        p->prev = q->tail[pr];
        if (q->tail[pr] != NONE)
            s->payments[q->tail[pr]].next = x;
        else
            q->head[pr] = x;
        q->tail[pr] = x;
    }
    q->count[pr]++;
    q->value[pr] += (ortak_i128)p->p.amount;
    s->queued[l->accounts[p->debit].currency]++;
    if (l->watch[p->debit] == 0) l->watch[p->debit] = LDG_WATCHED;
}

static void queue_unlink(struct ortak_settle *s, struct ortak_ledger *l, uint32_t x) {
    struct stl_payment *p = &s->payments[x];
    struct stl_queue *q = &s->queues[p->debit];
    uint8_t pr = p->priority;
    if (p->prev != NONE)
        s->payments[p->prev].next = p->next;
    else
        q->head[pr] = p->next;
    if (p->next != NONE)
        s->payments[p->next].prev = p->prev;
    else
        q->tail[pr] = p->prev;
    p->prev = p->next = NONE;
    ORTAK_ASSERT(q->count[pr] > 0);
    q->count[pr]--;
    q->value[pr] -= (ortak_i128)p->p.amount;
    s->queued[l->accounts[p->debit].currency]--;
    /* Still listed in `rose`: release will find the queue empty. */
    if (ortak__settle_queued_total(q) == 0 && l->watch[p->debit] == LDG_WATCHED) l->watch[p->debit] = 0;
}

/* Whether the payer has a payment queued at priority `pr` or above. */
static bool queued_at_or_above(const struct stl_queue *q, uint8_t pr) {
    for (uint8_t k = 0; k <= pr; k++) {
        if (q->count[k]) return true;
    }
    return false;
}

/* ---- events and endings ------------------------------------------------------------------------------------ */

static struct ortak_event *payment_event(struct ortak__out *out, const struct stl_payment *p, uint32_t kind) {
    struct ortak_event *ev = ortak__event_push(out, kind);
    ev->id = p->p.id;
    ev->ref = p->p.uetr;
    ev->debit_account_id = p->p.debit_account_id;
    ev->credit_account_id = p->p.credit_account_id; /* the payee's, also for a cross-currency payment */
    ev->amount = (int64_t)p->p.amount;
    return ev;
}

void ortak__settle_payment_end(struct ortak_settle *s, struct ortak_ledger *l, uint32_t x, uint8_t state, ortak_rc rc,
                               struct ortak__out *out) {
    struct stl_payment *p = &s->payments[x];
    if (p->state == ORTAK_PAYMENT_QUEUED) queue_unlink(s, l, x);
    if (p->quote != NONE && state != ORTAK_PAYMENT_SETTLED) ortak__fx_release(s->fx, l, p->quote, out);
    p->state = state;
    p->rc = (uint16_t)rc;
    p->ended_ns = out->now;
    uint32_t kind = state == ORTAK_PAYMENT_SETTLED     ? ORTAK_EV_PAYMENT_SETTLED
                    : state == ORTAK_PAYMENT_CANCELLED ? ORTAK_EV_PAYMENT_CANCELLED
                                                       : ORTAK_EV_PAYMENT_REJECTED;
    payment_event(out, p, kind)->status = (uint32_t)rc;
}

struct ortak_transfer ortak__settle_payment_transfer(const struct ortak_ledger *l, const struct stl_payment *p) {
    return (struct ortak_transfer){
        .id = p->p.id,
        .debit_account_id = p->p.debit_account_id,
        .credit_account_id = p->credit != NONE ? l->accounts[p->credit].id : p->p.credit_account_id,
        .amount = p->p.amount - p->fee, /* a cross-currency payment's fee goes to the operator in its own leg */
        .user_data = p->p.uetr,
        .flags = p->priority <= ORTAK_PRIORITY_URGENT ? ORTAK_TRANSFER_USE_RESERVED : 0,
        .code = 1, /* a gross payment */
    };
}

ortak_rc ortak__settle_book(struct ortak_settle *s, struct ortak_ledger *l, uint32_t x, unsigned waive,
                            struct ortak__out *out) {
    struct stl_payment *p = &s->payments[x];
    struct ortak_transfer legs[3] = {ortak__settle_payment_transfer(l, p)};
    uint32_t n = 1;
    ortak_rc rc;
    if (p->quote == NONE) {
        ortak__ledger_waive(l, waive);
        rc = ortak__ledger_transfer_book(l, &legs[0], out);
        ortak__ledger_waive(l, 0);
    } else { /* payment versus payment: the payer's leg, its fee, and the quote's hold, together or not at all */
        if (p->fee) legs[n++] = ortak__fx_fee_leg(s->fx, l, p->quote);
        legs[n++] = ortak__fx_post(s->fx, p->quote);
        rc = ortak__ledger_book_own(l, legs, n, waive | LDG_WAIVE_SYSTEM_ID, out);
    }
    if (rc == ORTAK_OK) ortak__settle_payment_end(s, l, x, ORTAK_PAYMENT_SETTLED, ORTAK_OK, out);
    return rc;
}

/* Tries to settle payment x now. ORTAK_OK when it settled, else the ledger's refusal (nothing changed). */
static ortak_rc try_settle(struct ortak_settle *s, struct ortak_ledger *l, uint32_t x, struct ortak__out *out) {
    struct stl_payment *p = &s->payments[x];
    if (ortak__ledger_available(l, p->debit, p->priority <= ORTAK_PRIORITY_URGENT) < (ortak_i128)p->p.amount)
        return ORTAK_INSUFFICIENT_FUNDS;
    if (p->due_ns != 0 && p->due_ns <= out->now) return ORTAK_SETTLEMENT_TIMEOUT; /* came due inside a chain */
    if (p->quote != NONE) {
        ortak_rc rc = ortak__fx_target_leg_check(s->fx, l, p->quote, out->now);
        if (rc != ORTAK_OK) return rc;
    }
    return ortak__settle_book(s, l, x, 0, out);
}

/*
 * Waiting can cure only a lack of liquidity or a suspended participant; anything else ends the payment. A payment
 * that came due inside a linked chain (whose members move time on but process no deadline), by its latest time or
 * its quote's expiry, waits too: its deadline rejects it with SETTLEMENT_TIMEOUT as soon as engine time is next
 * processed.
 */
static bool rc_worth_waiting(ortak_rc rc) {
    return rc == ORTAK_INSUFFICIENT_FUNDS || rc == ORTAK_PARTICIPANT_NOT_ACTIVE || rc == ORTAK_TRANSFERS_FULL ||
           rc == ORTAK_QUOTE_EXPIRED || rc == ORTAK_SETTLEMENT_TIMEOUT;
}

/* ---- release ----------------------------------------------------------------------------------------------- */

static void release_account(struct ortak_settle *s, struct ortak_ledger *l, uint32_t a, struct ortak__out *out) {
    struct stl_queue *q = &s->queues[a];
    for (uint8_t pr = 0; pr < ORTAK_PRIORITIES; pr++) {
        while (q->head[pr] != NONE) {
            uint32_t x = q->head[pr];
            ortak_rc rc = try_settle(s, l, x, out);
            if (rc == ORTAK_OK) continue;
            if (rc_worth_waiting(rc)) return; /* the head waits, and so does everything behind it */
            ortak__settle_payment_end(s, l, x, ORTAK_PAYMENT_REJECTED, rc, out);
        }
    }
}

void ortak__settle_release(struct ortak_settle *s, struct ortak_ledger *l, struct ortak__out *out) {
    /* A stack: each account is listed at most once, and settling may list more (the payees). */
    while (l->rose_len > 0) {
        uint32_t a = l->rose[--l->rose_len];
        l->watch[a] = ortak__settle_queued_total(&s->queues[a]) ? LDG_WATCHED : 0;
        release_account(s, l, a, out);
    }
}

/* ---- bilateral offsetting on entry ------------------------------------------------------------------------- */

/* Payments of the payee's queue looked at by one offsetting attempt, at most: a submission stays O(1). */
#define OFFSET_SCAN_MAX 64u

bool ortak__settle_settleable(const struct ortak_settle *s, struct ortak_ledger *l, const struct stl_payment *y,
                              ortak_time_ns now) {
    /*
     * The payment passed every check of its transfer but liquidity when it was accepted (a lack of funds hides
     * only checks that cannot fail for a payment: balance overflow is out of reach, the transfer table's room is
     * checked for the whole set, and no transfer can take a payment's id). What can change since is whether its
     * accounts are open and their participants active: that is all this checks, without a hash lookup. Debug
     * builds compare it with the ledger's full check.
     */
    const struct ldg_account *d = &l->accounts[y->debit], *c = &l->accounts[y->credit];
    bool ok = d->status == ORTAK_ACCOUNT_STATUS_ACTIVE && c->status == ORTAK_ACCOUNT_STATUS_ACTIVE &&
              l->participant_status[d->participant] == ORTAK_PARTICIPANT_ACTIVE &&
              l->participant_status[c->participant] == ORTAK_PARTICIPANT_ACTIVE;
    /* A cross-currency payment also needs its quote's hold (the other leg), which its deadline keeps alive. */
    if (ok && y->due_ns != 0 && y->due_ns <= now) return false; /* came due inside a chain: its deadline ends it */
    if (ok && y->quote != NONE && ortak__fx_target_leg_check(s->fx, l, y->quote, now) != ORTAK_OK) return false;
#ifdef ORTAK_DEBUG
    struct ortak_transfer t = ortak__settle_payment_transfer(l, y);
    ortak__ledger_waive_funds(l, true);
    ortak_rc rc = ortak__ledger_transfer_check(l, &t, now);
    ortak__ledger_waive_funds(l, false);
    ORTAK_ASSERT(rc == ORTAK_TRANSFERS_FULL || (rc == ORTAK_OK) == ok);
#else
    (void)now;
#endif
    return ok;
}

/*
 * New payment x (payer A, payee B) is not covered on its own, and A has nothing queued at its priority or above.
 * The payments at the head of B's queue that go to A would bring A liquidity: take the longest run of them from
 * the head of B's queue (in B's settlement order, so B's FIFO holds) such that A, paying x and receiving the run,
 * and B, receiving x and paying the run, both stay covered; settle x with it atomically. Each side's cover is
 * that of its payments' priorities: A's reservation counts when x is urgent, B's while the run's last payment
 * (its lowest priority) is. Returns whether x settled.
 */
static bool offset_on_entry(struct ortak_settle *s, struct ortak_ledger *l, uint32_t x, struct ortak__out *out) {
    const struct stl_payment *p = &s->payments[x];
    uint32_t payer = p->debit, payee = p->credit;
    const struct stl_queue *q = &s->queues[payee];
    /* A payment with an FX fee pays two accounts: it takes no part in offsetting, whose two sides it would blur. */
    if (p->fee || ortak__settle_queued_total(q) == 0 || !ortak__settle_settleable(s, l, p, out->now)) return false;
    ortak_i128 amount = (ortak_i128)p->p.amount;
    ortak_i128 payer_after = ortak__ledger_available(l, payer, p->priority <= ORTAK_PRIORITY_URGENT) - amount;
    ortak_i128 run = 0;
    uint32_t len = 0, take = 0;
    uint32_t room = l->limits.transfers_max - l->transfer_count, needed = ortak__settle_transfers_of(p);
    for (uint8_t pr = 0; pr < ORTAK_PRIORITIES && len < OFFSET_SCAN_MAX; pr++) {
        for (uint32_t y = q->head[pr]; y != NONE && len < OFFSET_SCAN_MAX; y = s->payments[y].next) {
            const struct stl_payment *back = &s->payments[y];
            needed += ortak__settle_transfers_of(back);
            if (back->credit != payer || back->fee || needed > room || !ortak__settle_settleable(s, l, back, out->now))
                goto scanned;
            run += (ortak_i128)back->p.amount;
            len++;
            if (ortak__ledger_available(l, payee, pr <= ORTAK_PRIORITY_URGENT) + amount - run < 0) goto scanned;
            if (payer_after + run >= 0) take = len;
        }
    }
scanned:
    if (take == 0) return false;
    for (uint32_t k = 0; k < take; k++) {
        uint32_t y = q->head[0] != NONE ? q->head[0] : q->head[1] != NONE ? q->head[1] : q->head[2];
        ortak_rc rc = ortak__settle_book(s, l, y, LDG_WAIVE_FUNDS, out);
        ORTAK_ASSERT(rc == ORTAK_OK); /* checked in the scan; the run's own bookings change no other check */
    }
    ortak_rc rc = ortak__settle_book(s, l, x, LDG_WAIVE_FUNDS, out);
    ORTAK_ASSERT(rc == ORTAK_OK);
    ORTAK_ASSERT(ortak__ledger_available(l, payer, p->priority <= ORTAK_PRIORITY_URGENT) >= 0);
    struct ortak_event *ev = ortak__event_push(out, ORTAK_EV_OFFSET);
    ev->id = p->p.id;
    ev->ref = p->p.uetr;
    ev->debit_account_id = p->p.debit_account_id;
    ev->credit_account_id = p->p.credit_account_id;
    ev->amount = (int64_t)take;
    return true;
}

/* ---- submission -------------------------------------------------------------------------------------------- */

static bool same_payment(const struct ortak_payment *a, const struct ortak_payment *b) {
    return a->id == b->id && a->debit_account_id == b->debit_account_id &&
           a->credit_account_id == b->credit_account_id && a->uetr == b->uetr && a->amount == b->amount &&
           a->latest_ns == b->latest_ns && a->priority == b->priority && a->method == b->method &&
           a->quote_id == b->quote_id;
}

/*
 * Checks that need no ledger transfer check; fills the account indices it resolves (for a cross-currency payment,
 * `cr` is the FX provider's account in the payer's currency, where its first leg goes), its quote and when it is
 * due (its latest settlement time or its quote's expiry, whichever comes first; 0 = never).
 */
static ortak_rc submit_check(const struct ortak_settle *s, const struct ortak_ledger *l, const struct ortak_payment *p,
                             ortak_time_ns now, uint32_t *dr, uint32_t *cr, uint32_t *quote, ortak_time_ns *due) {
    *quote = NONE;
    *due = p->latest_ns;
    if (p->priority >= ORTAK_PRIORITIES) return ORTAK_PRIORITY_INVALID;
    if (p->method > ORTAK_METHOD_NET ||
        (p->method == ORTAK_METHOD_NET && (p->priority != ORTAK_PRIORITY_NORMAL || p->latest_ns != 0 || p->quote_id)))
        return ORTAK_METHOD_INVALID;
    if (p->amount == 0) return ORTAK_AMOUNT_ZERO;
    if (p->amount > ORTAK_AMOUNT_MAX) return ORTAK_AMOUNT_OVERFLOW;
    ortak_rc rc = ortak__ledger_account_index(l, p->debit_account_id, dr);
    if (rc == ORTAK_OK) rc = ortak__ledger_account_index(l, p->credit_account_id, cr);
    if (rc != ORTAK_OK) return rc;
    if (l->accounts[*dr].kind != ORTAK_ACCOUNT_SETTLEMENT || l->accounts[*cr].kind != ORTAK_ACCOUNT_SETTLEMENT)
        return ORTAK_KIND_NOT_ALLOWED;
    if (s->cutoff_closed & (1u << p->priority))
        return p->method == ORTAK_METHOD_NET ? ORTAK_NET_WINDOW_CLOSED : ORTAK_CUTOFF_PASSED;
    if (p->latest_ns != 0 && p->latest_ns <= now) return ORTAK_LATEST_TIME_PASSED;
    if (p->quote_id != 0) {
        ortak_time_ns expires;
        rc = ortak__fx_quote_check(s->fx, l, p->quote_id, *dr, p->credit_account_id, p->amount, now, quote, cr,
                                   &expires);
        if (rc != ORTAK_OK) return rc;
        if (*due == 0 || expires < *due) *due = expires;
    }
    return ORTAK_OK;
}

/* Records payment `p` as index x, not yet in any state. */
static uint32_t payment_record(struct ortak_settle *s, const struct ortak_payment *p, ortak_time_ns now) {
    uint32_t x = s->payment_count++;
    struct stl_payment *rec = &s->payments[x];
    memset(rec, 0, sizeof *rec);
    rec->p = *p;
    rec->received_ns = now;
    rec->priority = p->priority;
    rec->debit = rec->credit = rec->prev = rec->next = rec->quote = NONE;
    int put = ortak_idmap_put(&s->map, p->id, x);
    ORTAK_ASSERT(put == 0);
    return x;
}

/*
 * Every check of payment p before it is recorded or goes on (submission, release from a screening hold): the refusal,
 * or ORTAK_OK, or ORTAK_INSUFFICIENT_FUNDS for a gross payment that would wait in its queue. A net payment needs no
 * liquidity now, but room under its payer's net debit cap.
 */
static ortak_rc admission_check(const struct ortak_settle *s, struct ortak_ledger *l, const struct ortak_payment *p,
                                ortak_time_ns now, uint32_t *dr, uint32_t *cr, uint32_t *quote, ortak_time_ns *due) {
    bool net = p->method == ORTAK_METHOD_NET;
    ortak_rc rc = submit_check(s, l, p, now, dr, cr, quote, due);
    if (rc != ORTAK_OK) return rc;
    struct stl_payment probe = {.p = *p, .priority = p->priority, .credit = *cr};
    struct ortak_transfer t = ortak__settle_payment_transfer(l, &probe);
    ortak__ledger_waive(l, net ? LDG_WAIVE_FUNDS : 0);
    rc = ortak__ledger_transfer_check(l, &t, now);
    ortak__ledger_waive(l, 0);
    if (net && rc == ORTAK_OK) rc = ortak__netting_admit(s->netting, l, *dr, *cr, p->amount);
    return rc;
}

/*
 * Payment x, recorded, goes on after admission_check said rc: a net one joins its window, a gross one settles now,
 * offsets or queues; a refusal rejects it.
 */
static void admit(struct ortak_settle *s, struct ortak_ledger *l, uint32_t x, ortak_rc rc, uint32_t dr, uint32_t cr,
                  uint32_t quote, ortak_time_ns due, struct ortak__out *out, struct ortak_result *r) {
    struct stl_payment *rec = &s->payments[x];
    const struct ortak_payment *p = &rec->p;
    bool net = p->method == ORTAK_METHOD_NET;
    rec->debit = dr;
    rec->credit = cr;
    r->rc = ORTAK_OK;
    if (net && rc == ORTAK_OK) {
        rec->state = ORTAK_PAYMENT_ACCEPTED;
        rec->window = ortak__netting_window_id(s->netting, l->accounts[dr].currency);
        ortak__netting_add(s->netting, s, l, x);
        payment_event(out, rec, ORTAK_EV_PAYMENT_ACCEPTED)->status = (uint32_t)rec->window;
        return;
    }
    if (rc == ORTAK_OK || rc == ORTAK_INSUFFICIENT_FUNDS) { /* accepted: it settles now or queues */
        rec->due_ns = due;
        if (quote != NONE) {
            ortak__fx_quote_bind(s->fx, quote, p->id);
            rec->quote = quote;
            rec->fee = ortak__fx_fee(s->fx, quote);
        }
    }
    bool may_go =
        !net && (rc == ORTAK_OK || rc == ORTAK_INSUFFICIENT_FUNDS) && !queued_at_or_above(&s->queues[dr], p->priority);
    if (may_go && rc == ORTAK_OK && try_settle(s, l, x, out) == ORTAK_OK) return;
    if (may_go && s->cfg.offsetting && offset_on_entry(s, l, x, out)) return;
    if (rc != ORTAK_OK && rc != ORTAK_INSUFFICIENT_FUNDS) {
        r->rc = rc;
        ortak__settle_payment_end(s, l, x, ORTAK_PAYMENT_REJECTED, rc, out);
        return;
    }
    rec->state = ORTAK_PAYMENT_QUEUED;
    queue_link(s, l, x, false);
    if (rec->due_ns) ortak__settle_deadline_push(s, x);
    payment_event(out, rec, ORTAK_EV_PAYMENT_QUEUED)->status = rec->priority;
    r->flags = ORTAK_RESULT_QUEUED;
}

static uint32_t result_flags(uint8_t state) {
    return state == ORTAK_PAYMENT_QUEUED ? ORTAK_RESULT_QUEUED : state == ORTAK_PAYMENT_HELD ? ORTAK_RESULT_HELD : 0;
}

void ortak__settle_submit(struct ortak_settle *s, struct ortak_ledger *l, const struct ortak_payment *p,
                          struct ortak__out *out, struct ortak_result *r) {
    uint32_t x, dr = NONE, cr = NONE, quote = NONE;
    ortak_time_ns due = 0;
    if (!id_valid(p->id)) {
        r->rc = ORTAK_PAYMENT_ID_INVALID;
        return;
    }
    if (ortak_idmap_get(&s->map, p->id, &x)) {
        const struct stl_payment *old = &s->payments[x];
        if (!same_payment(&old->p, p)) {
            r->rc = ORTAK_PAYMENT_EXISTS_DIFFERENT;
            return;
        }
        r->rc = old->state == ORTAK_PAYMENT_REJECTED ? old->rc : ORTAK_OK;
        r->flags = ORTAK_RESULT_REPLAYED | result_flags(old->state);
        return;
    }
    /* A lack of liquidity queues a gross payment; every other refusal rejects it (and is recorded, like a
     * transfer's). */
    ortak_rc rc = admission_check(s, l, p, out->now, &dr, &cr, &quote, &due);
    if (rc == ORTAK_TRANSFERS_FULL || s->payment_count >= s->payments_max) {
        r->rc = rc == ORTAK_TRANSFERS_FULL ? rc : ORTAK_PAYMENTS_FULL; /* transient: nothing recorded */
        return;
    }
    x = payment_record(s, p, out->now);
    if (p->hold && (rc == ORTAK_OK || rc == ORTAK_INSUFFICIENT_FUNDS)) {
        /* Screening holds it before it touches any liquidity, queue or quote; its checks run again on release. */
        struct stl_payment *rec = &s->payments[x];
        rec->state = ORTAK_PAYMENT_HELD;
        payment_event(out, rec, ORTAK_EV_PAYMENT_HELD)->status = p->screening.score;
        r->rc = ORTAK_OK;
        r->flags = ORTAK_RESULT_HELD;
        return;
    }
    admit(s, l, x, rc, dr, cr, quote, due, out, r);
}

/* ---- screening holds --------------------------------------------------------------------------------------- */

static ortak_rc held_payment(const struct ortak_settle *s, ortak_u128 id, uint32_t *x) {
    if (!ortak_idmap_get(&s->map, id, x)) return ORTAK_PAYMENT_NOT_FOUND;
    return s->payments[*x].state == ORTAK_PAYMENT_HELD ? ORTAK_OK : ORTAK_PAYMENT_NOT_HELD;
}

void ortak__settle_hold_release(struct ortak_settle *s, struct ortak_ledger *l, const struct ortak_payment_control *c,
                                struct ortak__out *out, struct ortak_result *r) {
    uint32_t x, dr = NONE, cr = NONE, quote = NONE;
    ortak_time_ns due = 0;
    r->rc = held_payment(s, c->id, &x);
    if (r->rc != ORTAK_OK) return;
    /* As if submitted now: its cut-off, latest time and quote are judged at the release. */
    ortak_rc rc = admission_check(s, l, &s->payments[x].p, out->now, &dr, &cr, &quote, &due);
    if (rc == ORTAK_TRANSFERS_FULL) { /* transient: it stays held */
        r->rc = rc;
        return;
    }
    payment_event(out, &s->payments[x], ORTAK_EV_PAYMENT_RELEASED);
    admit(s, l, x, rc, dr, cr, quote, due, out, r);
}

ortak_rc ortak__settle_hold_reject(struct ortak_settle *s, struct ortak_ledger *l,
                                   const struct ortak_payment_control *c, struct ortak__out *out) {
    uint32_t x;
    ortak_rc rc = held_payment(s, c->id, &x);
    if (rc == ORTAK_OK) ortak__settle_payment_end(s, l, x, ORTAK_PAYMENT_REJECTED, ORTAK_SCREENING_REJECTED, out);
    return rc;
}

/* ---- participant controls ---------------------------------------------------------------------------------- */

static ortak_rc queued_payment(const struct ortak_settle *s, ortak_u128 id, uint32_t *x) {
    if (!ortak_idmap_get(&s->map, id, x)) return ORTAK_PAYMENT_NOT_FOUND;
    return s->payments[*x].state == ORTAK_PAYMENT_QUEUED ? ORTAK_OK : ORTAK_PAYMENT_NOT_QUEUED;
}

ortak_rc ortak__settle_cancel(struct ortak_settle *s, struct ortak_ledger *l, const struct ortak_payment_control *c,
                              struct ortak__out *out) {
    uint32_t x;
    ortak_rc rc = queued_payment(s, c->id, &x);
    if (rc != ORTAK_OK) return rc;
    uint32_t payer = s->payments[x].debit;
    ortak__settle_payment_end(s, l, x, ORTAK_PAYMENT_CANCELLED, ORTAK_OK, out);
    ortak__ledger_note_rise(l, payer); /* what waited behind it may go now */
    return ORTAK_OK;
}

ortak_rc ortak__settle_priority(struct ortak_settle *s, struct ortak_ledger *l, const struct ortak_payment_control *c,
                                struct ortak__out *out) {
    uint32_t x;
    if (c->priority >= ORTAK_PRIORITIES) return ORTAK_PRIORITY_INVALID;
    ortak_rc rc = queued_payment(s, c->id, &x);
    if (rc != ORTAK_OK) return rc;
    if (s->cutoff_closed & (1u << c->priority)) return ORTAK_CUTOFF_PASSED; /* no payment waits in a closed class */
    struct stl_payment *p = &s->payments[x];
    uint8_t old = p->priority;
    queue_unlink(s, l, x);
    p->priority = c->priority;
    queue_link(s, l, x, false);
    struct ortak_event *ev = payment_event(out, p, ORTAK_EV_PAYMENT_PRIORITY);
    ev->status = p->priority;
    ev->amount_old = old;
    ortak__ledger_note_rise(l, p->debit);
    return ORTAK_OK;
}

ortak_rc ortak__settle_move(struct ortak_settle *s, struct ortak_ledger *l, const struct ortak_payment_control *c,
                            struct ortak__out *out) {
    uint32_t x;
    ortak_rc rc = queued_payment(s, c->id, &x);
    if (rc != ORTAK_OK) return rc;
    queue_unlink(s, l, x);
    queue_link(s, l, x, c->to_head != 0);
    payment_event(out, &s->payments[x], ORTAK_EV_PAYMENT_MOVED)->status = c->to_head != 0;
    ortak__ledger_note_rise(l, s->payments[x].debit);
    return ORTAK_OK;
}

/* ---- cut-offs and deadlines -------------------------------------------------------------------------------- */

ortak_rc ortak__settle_cutoff(struct ortak_settle *s, struct ortak_ledger *l, const struct ortak_cutoff *c,
                              struct ortak__out *out) {
    if (c->priorities == 0 || c->priorities >= (1u << ORTAK_PRIORITIES)) return ORTAK_PRIORITY_INVALID;
    struct ortak_event *ev = ortak__event_push(out, ORTAK_EV_CUTOFF);
    ev->status = c->priorities;
    ev->amount = c->open ? 1 : 0;
    if (c->open) {
        s->cutoff_closed = (uint8_t)(s->cutoff_closed & ~c->priorities);
        return ORTAK_OK;
    }
    s->cutoff_closed = (uint8_t)(s->cutoff_closed | c->priorities);
    /* Every payment still queued in a closed class is rejected now, with its reason; none is dropped. */
    for (uint32_t a = 0; a < l->account_count; a++) {
        for (uint8_t pr = 0; pr < ORTAK_PRIORITIES; pr++) {
            if (!(c->priorities & (1u << pr))) continue;
            if (s->queues[a].head[pr] == NONE) continue;
            while (s->queues[a].head[pr] != NONE)
                ortak__settle_payment_end(s, l, s->queues[a].head[pr], ORTAK_PAYMENT_REJECTED, ORTAK_REJECTED_AT_CUTOFF,
                                          out);
            ortak__ledger_note_rise(l, a); /* what waited behind the rejected class may go now */
        }
    }
    return ORTAK_OK;
}

static bool deadline_less(const struct ortak_settle *s, uint32_t a, uint32_t b) {
    ortak_time_ns ta = s->payments[a].due_ns, tb = s->payments[b].due_ns;
    return ta != tb ? ta < tb : a < b;
}

void ortak__settle_deadline_push(struct ortak_settle *s, uint32_t x) {
    ORTAK_ASSERT(s->deadline_len < s->payments_max); /* each payment enters once */
    uint32_t pos = s->deadline_len++;
    while (pos > 0 && deadline_less(s, x, s->deadlines[(pos - 1) / 2])) {
        s->deadlines[pos] = s->deadlines[(pos - 1) / 2];
        pos = (pos - 1) / 2;
    }
    s->deadlines[pos] = x;
}

static uint32_t deadline_pop(struct ortak_settle *s) {
    uint32_t top = s->deadlines[0], last = s->deadlines[--s->deadline_len], pos = 0;
    for (;;) {
        uint32_t child = 2 * pos + 1;
        if (child >= s->deadline_len) break;
        if (child + 1 < s->deadline_len && deadline_less(s, s->deadlines[child + 1], s->deadlines[child])) child++;
        if (!deadline_less(s, s->deadlines[child], last)) break;
        s->deadlines[pos] = s->deadlines[child];
        pos = child;
    }
    if (s->deadline_len) s->deadlines[pos] = last;
    return top;
}

void ortak__settle_deadlines(struct ortak_settle *s, struct ortak_ledger *l, struct ortak__out *out) {
    while (s->deadline_len > 0 && s->payments[s->deadlines[0]].due_ns <= out->now) {
        uint32_t x = deadline_pop(s);
        if (s->payments[x].state != ORTAK_PAYMENT_QUEUED) continue; /* settled or ended meanwhile */
        uint32_t payer = s->payments[x].debit;
        ortak__settle_payment_end(s, l, x, ORTAK_PAYMENT_REJECTED, ORTAK_SETTLEMENT_TIMEOUT, out);
        ortak__ledger_note_rise(l, payer);
    }
}

/* ---- queries ----------------------------------------------------------------------------------------------- */

ortak_rc ortak_settle_payment_get(const struct ortak_settle *s, ortak_u128 id, struct ortak_payment_info *out) {
    uint32_t x;
    if (!ortak_idmap_get(&s->map, id, &x)) return ORTAK_PAYMENT_NOT_FOUND;
    return ortak_settle_payment_at(s, x, out);
}

ortak_rc ortak_settle_payment_at(const struct ortak_settle *s, uint32_t x, struct ortak_payment_info *out) {
    if (x >= s->payment_count) return ORTAK_PAYMENT_NOT_FOUND;
    const struct stl_payment *p = &s->payments[x];
    memset(out, 0, sizeof *out);
    out->p = p->p;
    out->p.priority = p->priority;
    out->state = p->state;
    out->rc = (ortak_rc)p->rc;
    out->received_ns = p->received_ns;
    out->ended_ns = p->ended_ns;
    out->window = p->window;
    return ORTAK_OK;
}

uint32_t ortak_settle_payment_count(const struct ortak_settle *s) { return s->payment_count; }

ortak_rc ortak_settle_queue(const struct ortak_settle *s, ortak_u128 account_id, ortak_u128 *ids, uint32_t max,
                            uint32_t *n, struct ortak_queue_info *info) {
    *n = 0;
    uint32_t a;
    ortak_rc rc = ortak__ledger_account_index(s->ledger, account_id, &a);
    if (rc != ORTAK_OK) return ORTAK_ACCOUNT_NOT_FOUND;
    const struct stl_queue *q = &s->queues[a];
    if (info) {
        memset(info, 0, sizeof *info);
        for (int pr = 0; pr < ORTAK_PRIORITIES; pr++) {
            info->count[pr] = q->count[pr];
            info->value[pr] = q->value[pr];
        }
    }
    for (uint8_t pr = 0; pr < ORTAK_PRIORITIES; pr++) {
        for (uint32_t x = q->head[pr]; x != NONE && *n < max; x = s->payments[x].next)
            ids[(*n)++] = s->payments[x].p.id;
    }
    return ORTAK_OK;
}

bool ortak_settle_cutoff_passed(const struct ortak_settle *s, uint8_t priority) {
    return priority < ORTAK_PRIORITIES && (s->cutoff_closed & (1u << priority));
}

const char *ortak_priority_name(uint8_t priority) {
    static const char *const names[] = {"highly_urgent", "urgent", "normal"};
    return priority < ORTAK_PRIORITIES ? names[priority] : "unknown";
}

const char *ortak_payment_state_name(uint8_t state) {
    switch (state) {
    case ORTAK_PAYMENT_QUEUED: return "queued";
    case ORTAK_PAYMENT_SETTLED: return "settled";
    case ORTAK_PAYMENT_CANCELLED: return "cancelled";
    case ORTAK_PAYMENT_REJECTED: return "rejected";
    case ORTAK_PAYMENT_ACCEPTED: return "accepted";
    case ORTAK_PAYMENT_HELD: return "held";
    default: return "unknown";
    }
}
