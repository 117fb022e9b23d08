/*
 * Transfers: plain and pending transfers, post and void, expiry, linked chains, idempotency and history.
 *
 * Invariants kept here:
 *   - for every currency, the sum over its accounts of (credits_posted - debits_posted) is zero, and so is the
 *     sum of (credits_pending - debits_pending): every booking debits one account and credits another by the
 *     same amount;
 *   - no account but an issuance one ever has balance - debits_pending + credit_line < 0;
 *   - a transfer id is recorded at most once, and a recorded outcome never changes (the pending state of a
 *     pending transfer moves on, but its own outcome, ORTAK_OK, does not);
 *   - a linked chain is applied completely or not at all: applied members are undone in reverse order.
 *
 * Check order of a new transfer (the first failing check gives the code): id; existing id (replay or
 * EXISTS_DIFFERENT); flags; pending id; timeout; amount; accounts (invalid, not found); same account; currency;
 * closed; participant active; funds; balance overflow; pending pool; transfer pool.
 */
#include <string.h>

#include "base/assert.h"
#include "ledger_int.h"

/* Balances stay far below the i128 range: 2^125 is 2^62 transfers of the largest amount. */
#define BALANCE_MAX ((ortak_i128)1 << 125)

/* A transfer id a command may use; the settlement modules' own transfers (under LDG_WAIVE_SYSTEM_ID) may use the
 * system's id space too. */
static bool id_valid(const struct ortak_ledger *l, ortak_u128 id) {
    return (l->waived & LDG_WAIVE_SYSTEM_ID) ? id != 0 && id != ORTAK_U128_MAX : ortak__id_client_valid(id);
}

static bool same_fields(const struct ortak_transfer *a, const struct ortak_transfer *b) {
    return a->id == b->id && a->debit_account_id == b->debit_account_id &&
           a->credit_account_id == b->credit_account_id && a->pending_id == b->pending_id &&
           a->user_data == b->user_data && a->amount == b->amount && a->timeout_s == b->timeout_s &&
           a->flags == b->flags && a->code == b->code;
}

/* Failures that say nothing about the transfer itself; they are not recorded, so a retry may succeed. */
static bool rc_recordable(ortak_rc rc) {
    switch (rc) {
    case ORTAK_TRANSFER_ID_INVALID:
    case ORTAK_TRANSFER_EXISTS_DIFFERENT:
    case ORTAK_TRANSFERS_FULL:
    case ORTAK_PENDINGS_FULL:
    case ORTAK_TIME_BACKWARDS:
    case ORTAK_LINKED_CHAIN_OPEN: return false;
    default: return true;
    }
}

/* ---- the pending heap: slots ordered by (expires_at, transfer index) --------------------------------------- */

static struct ldg_pending *pend(const struct ortak_ledger *l, uint32_t slot) {
    return ortak_pool_at(&l->pending_pool, slot);
}

static bool heap_less(const struct ortak_ledger *l, uint32_t a, uint32_t b) {
    const struct ldg_pending *pa = pend(l, a), *pb = pend(l, b);
    if (pa->expires_at != pb->expires_at) return pa->expires_at < pb->expires_at;
    return pa->transfer < pb->transfer;
}

static void heap_set(struct ortak_ledger *l, uint32_t pos, uint32_t slot) {
    l->heap[pos] = slot;
    pend(l, slot)->heap_pos = pos;
}

static void heap_up(struct ortak_ledger *l, uint32_t pos) {
    uint32_t slot = l->heap[pos];
    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;
        if (!heap_less(l, slot, l->heap[parent])) break;
        heap_set(l, pos, l->heap[parent]);
        pos = parent;
    }
    heap_set(l, pos, slot);
}

static void heap_down(struct ortak_ledger *l, uint32_t pos) {
    uint32_t slot = l->heap[pos];
    for (;;) {
        uint32_t child = 2 * pos + 1;
        if (child >= l->heap_len) break;
        if (child + 1 < l->heap_len && heap_less(l, l->heap[child + 1], l->heap[child])) child++;
        if (!heap_less(l, l->heap[child], slot)) break;
        heap_set(l, pos, l->heap[child]);
        pos = child;
    }
    heap_set(l, pos, slot);
}

static void heap_push(struct ortak_ledger *l, uint32_t slot) {
    ORTAK_ASSERT(l->heap_len < l->limits.pending_max);
    heap_set(l, l->heap_len++, slot);
    heap_up(l, l->heap_len - 1);
}

static void heap_remove(struct ortak_ledger *l, uint32_t slot) {
    uint32_t pos = pend(l, slot)->heap_pos;
    ORTAK_ASSERT(pos < l->heap_len && l->heap[pos] == slot);
    uint32_t last = l->heap[--l->heap_len];
    pend(l, slot)->heap_pos = UINT32_MAX;
    if (last == slot) return;
    heap_set(l, pos, last);
    heap_up(l, pos);
    heap_down(l, pend(l, last)->heap_pos);
}

static ortak_time_ns pending_expires_at(const struct ldg_transfer *t) {
    return t->t.timeout_s ? t->timestamp + (uint64_t)t->t.timeout_s * ORTAK_NS_PER_S : 0;
}

bool ortak__ledger_pending_open(struct ortak_ledger *l, uint32_t x) {
    uint32_t slot = ortak_pool_take(&l->pending_pool);
    if (slot == UINT32_MAX) return false;
    struct ldg_transfer *t = &l->transfers[x];
    struct ldg_pending *p = pend(l, slot);
    p->transfer = x;
    p->heap_pos = UINT32_MAX;
    p->expires_at = pending_expires_at(t);
    t->pending_slot = slot;
    if (p->expires_at) heap_push(l, slot);
    return true;
}

static void pending_close(struct ortak_ledger *l, struct ldg_transfer *t) {
    uint32_t slot = t->pending_slot;
    ORTAK_ASSERT(slot != UINT32_MAX);
    if (pend(l, slot)->heap_pos != UINT32_MAX) heap_remove(l, slot);
    ortak_pool_give(&l->pending_pool, slot);
    t->pending_slot = UINT32_MAX;
}

/* ---- records and history ----------------------------------------------------------------------------------- */

/* Appends a transfer record. Returns its index, or UINT32_MAX when the transfer pool is full. */
static uint32_t record(struct ortak_ledger *l, const struct ortak_transfer *t, ortak_time_ns now, ortak_rc rc) {
    if (l->transfer_count >= l->limits.transfers_max) return UINT32_MAX;
    uint32_t idx = l->transfer_count++;
    struct ldg_transfer *x = &l->transfers[idx];
    memset(x, 0, sizeof *x);
    x->t = *t;
    x->timestamp = now;
    x->rc = (uint16_t)rc;
    x->debit = x->credit = x->pending_slot = UINT32_MAX;
    int put = ortak_idmap_put(&l->transfer_map, t->id, idx);
    ORTAK_ASSERT(put == 0);
    return idx;
}

static void unrecord_last(struct ortak_ledger *l, uint32_t idx) {
    ORTAK_ASSERT(idx + 1 == l->transfer_count);
    bool removed = ortak_idmap_del(&l->transfer_map, l->transfers[idx].t.id);
    ORTAK_ASSERT(removed);
    l->transfer_count--;
}

static bool history_held(const struct ortak_ledger *l, uint64_t seq) {
    return seq < l->history_head && l->history_head - seq <= l->limits.history_max;
}

static struct ldg_posting *history_at(const struct ortak_ledger *l, uint64_t seq) { return ortak__history_at(l, seq); }

static void stage_posting(struct ortak_ledger *l, uint32_t account, uint32_t transfer, int64_t amount) {
    ORTAK_ASSERT(l->staged_len < LDG_CHAIN_MAX(&l->limits) * 2);
    const struct ldg_account *a = &l->accounts[account];
    struct ldg_staged_posting *s = &l->staged[l->staged_len++];
    s->account = account;
    s->transfer = transfer;
    s->amount = amount;
    s->balance_after = a->b.credits_posted - a->b.debits_posted;
}

static void history_append(struct ortak_ledger *l, const struct ldg_staged_posting *s) {
    uint64_t seq = l->history_head++;
    struct ldg_posting *p = history_at(l, seq);
    struct ldg_account *a = &l->accounts[s->account];
    p->seq = seq;
    p->timestamp = l->transfers[s->transfer].timestamp;
    p->balance_after = s->balance_after;
    p->amount = s->amount;
    p->prev = a->history_last;
    p->next = 0;
    p->account = s->account;
    p->transfer = s->transfer;
    if (a->history_last && history_held(l, a->history_last - 1)) history_at(l, a->history_last - 1)->next = seq + 1;
    a->history_last = seq + 1;
}

/* ---- booking ----------------------------------------------------------------------------------------------- */

static ortak_rc check_fields(const struct ortak_ledger *l, const struct ortak_transfer *t) {
    unsigned kind = t->flags & (ORTAK_TRANSFER_PENDING | ORTAK_TRANSFER_POST_PENDING | ORTAK_TRANSFER_VOID_PENDING);
    if ((t->flags & ~ORTAK_TRANSFER_FLAGS_ALL) || (kind & (kind - 1))) return ORTAK_FLAGS_INVALID;
    bool resolves = (t->flags & (ORTAK_TRANSFER_POST_PENDING | ORTAK_TRANSFER_VOID_PENDING)) != 0;
    if (resolves ? !id_valid(l, t->pending_id) : t->pending_id != 0) return ORTAK_PENDING_ID_INVALID;
    if (t->timeout_s != 0 && !(t->flags & ORTAK_TRANSFER_PENDING)) return ORTAK_TIMEOUT_INVALID;
    if (t->amount > ORTAK_AMOUNT_MAX) return ORTAK_AMOUNT_OVERFLOW;
    if (!resolves && t->amount == 0) return ORTAK_AMOUNT_ZERO;
    return ORTAK_OK;
}

static ortak_rc account_resolve(const struct ortak_ledger *l, ortak_u128 id, uint32_t *idx) {
    if (id == 0 || id == ORTAK_U128_MAX) return ORTAK_ACCOUNT_ID_INVALID; /* account ids have no system space */
    return ortak_idmap_get(&l->account_map, id, idx) ? ORTAK_OK : ORTAK_ACCOUNT_NOT_FOUND;
}

ortak_rc ortak__ledger_account_index(const struct ortak_ledger *l, ortak_u128 id, uint32_t *idx) {
    return account_resolve(l, id, idx);
}

ortak_i128 ortak__ledger_available(const struct ortak_ledger *l, uint32_t a, bool use_reserved) {
    const struct ldg_account *d = &l->accounts[a];
    ortak_i128 avail = d->b.credits_posted - d->b.debits_posted - d->b.debits_pending + d->credit_line;
    return use_reserved ? avail : avail - d->reserved;
}

static void undo_open(struct ortak_ledger *l, uint32_t x, uint32_t dr, uint32_t cr, uint32_t target) {
    if (!l->undo_on) return;
    ORTAK_ASSERT(l->undo_len < LDG_CHAIN_MAX(&l->limits));
    struct ldg_undo *u = &l->undo[l->undo_len++];
    u->transfer = x;
    u->acct[0] = dr;
    u->acct[1] = cr;
    u->old[0] = l->accounts[dr].b;
    u->old[1] = l->accounts[cr].b;
    u->old_pending_count[0] = l->accounts[dr].pending_count;
    u->old_pending_count[1] = l->accounts[cr].pending_count;
    u->target = target;
}

/* Every check of a new plain or pending transfer that reads state (check order: see the top of this file). */
static ortak_rc new_check(const struct ortak_ledger *l, const struct ortak_transfer *t, ortak_time_ns now,
                          uint32_t *dr_out, uint32_t *cr_out) {
    uint32_t dr, cr;
    ortak_rc rc = account_resolve(l, t->debit_account_id, &dr);
    if (rc != ORTAK_OK) return rc;
    if ((rc = account_resolve(l, t->credit_account_id, &cr)) != ORTAK_OK) return rc;
    if (dr == cr) return ORTAK_SAME_ACCOUNT;
    const struct ldg_account *d = &l->accounts[dr], *c = &l->accounts[cr];
    if (d->currency != c->currency) return ORTAK_CURRENCY_MISMATCH;
    if (d->status != ORTAK_ACCOUNT_STATUS_ACTIVE || c->status != ORTAK_ACCOUNT_STATUS_ACTIVE)
        return ORTAK_ACCOUNT_CLOSED;
    if (!(l->waived & LDG_WAIVE_STATUS) && (l->participant_status[d->participant] != ORTAK_PARTICIPANT_ACTIVE ||
                                            l->participant_status[c->participant] != ORTAK_PARTICIPANT_ACTIVE))
        return ORTAK_PARTICIPANT_NOT_ACTIVE;
    /* A collateral account's reservation is pledged to net settlement: only net settlement (waived) may use it. */
    if ((t->flags & ORTAK_TRANSFER_USE_RESERVED) && d->kind == ORTAK_ACCOUNT_COLLATERAL &&
        !(l->waived & LDG_WAIVE_SYSTEM_ID))
        return ORTAK_FLAGS_INVALID;
    ortak_i128 amount = (ortak_i128)t->amount;
    if (d->kind != ORTAK_ACCOUNT_ISSUANCE && !(l->waived & LDG_WAIVE_FUNDS)) {
        ortak_i128 avail = d->b.credits_posted - d->b.debits_posted - d->b.debits_pending + d->credit_line;
        if (!(t->flags & ORTAK_TRANSFER_USE_RESERVED)) avail -= d->reserved;
        if (avail < amount) return ORTAK_INSUFFICIENT_FUNDS;
    }
    bool pending = (t->flags & ORTAK_TRANSFER_PENDING) != 0;
    ortak_i128 dsum = pending ? d->b.debits_pending : d->b.debits_posted;
    ortak_i128 csum = pending ? c->b.credits_pending : c->b.credits_posted;
    if (dsum > BALANCE_MAX - amount || csum > BALANCE_MAX - amount) return ORTAK_BALANCE_OVERFLOW;
    if (pending && t->timeout_s && now > UINT64_MAX - (uint64_t)t->timeout_s * ORTAK_NS_PER_S)
        return ORTAK_TIMEOUT_INVALID;
    if (pending && ortak_pool_used(&l->pending_pool) >= l->limits.pending_max) return ORTAK_PENDINGS_FULL;
    *dr_out = dr;
    *cr_out = cr;
    return ORTAK_OK;
}

/* Notes that account `a`'s available liquidity rose, when someone (the settlement queues) watches it. */
void ortak__ledger_note_rise(struct ortak_ledger *l, uint32_t a) {
    if (l->watch[a] != LDG_WATCHED) return;
    l->watch[a] = LDG_WATCHED_ROSE;
    ORTAK_ASSERT(l->rose_len < l->limits.accounts_max);
    l->rose[l->rose_len++] = a;
}

static ortak_rc book_new(struct ortak_ledger *l, const struct ortak_transfer *t, struct ortak__out *out) {
    uint32_t dr, cr;
    ortak_rc rc = new_check(l, t, out->now, &dr, &cr);
    if (rc != ORTAK_OK) return rc;
    struct ldg_account *d = &l->accounts[dr], *c = &l->accounts[cr];
    bool pending = (t->flags & ORTAK_TRANSFER_PENDING) != 0;
    ortak_i128 amount = (ortak_i128)t->amount;
    ortak_i128 *dfield = pending ? &d->b.debits_pending : &d->b.debits_posted;
    ortak_i128 *cfield = pending ? &c->b.credits_pending : &c->b.credits_posted;

    uint32_t x = record(l, t, out->now, ORTAK_OK);
    if (x == UINT32_MAX) return ORTAK_TRANSFERS_FULL;
    undo_open(l, x, dr, cr, UINT32_MAX);
    struct ldg_transfer *rec = &l->transfers[x];
    rec->debit = dr;
    rec->credit = cr;
    rec->amount_booked = t->amount;
    *dfield += amount;
    *cfield += amount;
    struct ortak_event *ev;
    if (pending) {
        bool opened = ortak__ledger_pending_open(l, x);
        ORTAK_ASSERT(opened); /* capacity was checked above */
        rec->pending_state = ORTAK_PENDING_STATE_OPEN;
        d->pending_count++;
        c->pending_count++;
        ev = ortak__event_push(out, ORTAK_EV_PENDING_CREATED);
    } else {
        stage_posting(l, dr, x, -(int64_t)t->amount);
        stage_posting(l, cr, x, (int64_t)t->amount);
        ortak__ledger_note_rise(l, cr);
        ev = ortak__event_push(out, ORTAK_EV_TRANSFER_POSTED);
    }
    ev->id = t->id;
    ev->debit_account_id = d->id;
    ev->credit_account_id = c->id;
    ev->amount = (int64_t)t->amount;
    return ORTAK_OK;
}

/* Releases an open pending transfer's hold on both accounts. */
static void pending_release(struct ortak_ledger *l, struct ldg_transfer *p) {
    struct ldg_account *d = &l->accounts[p->debit], *c = &l->accounts[p->credit];
    ortak_i128 held = (ortak_i128)p->amount_booked;
    ORTAK_ASSERT(d->b.debits_pending >= held && c->b.credits_pending >= held);
    ORTAK_ASSERT(d->pending_count > 0 && c->pending_count > 0);
    d->b.debits_pending -= held;
    c->b.credits_pending -= held;
    d->pending_count--;
    c->pending_count--;
}

static ortak_rc pending_check(const struct ortak_ledger *l, const struct ortak_transfer *t, ortak_time_ns now,
                              uint32_t *target) {
    if (!ortak_idmap_get(&l->transfer_map, t->pending_id, target)) return ORTAK_PENDING_NOT_FOUND;
    const struct ldg_transfer *p = &l->transfers[*target];
    if (p->rc != ORTAK_OK || !(p->t.flags & ORTAK_TRANSFER_PENDING)) return ORTAK_PENDING_NOT_PENDING;
    switch (p->pending_state) {
    case ORTAK_PENDING_STATE_POSTED: return ORTAK_PENDING_ALREADY_POSTED;
    case ORTAK_PENDING_STATE_VOIDED: return ORTAK_PENDING_ALREADY_VOIDED;
    case ORTAK_PENDING_STATE_EXPIRED: return ORTAK_PENDING_EXPIRED;
    case ORTAK_PENDING_STATE_OPEN: break;
    default: ORTAK_UNREACHABLE();
    }
    /* Expired by time, even when the expiry itself has not been processed yet (inside a linked chain). */
    ortak_time_ns expires = pending_expires_at(p);
    if (expires && expires <= now) return ORTAK_PENDING_EXPIRED;
    const struct ldg_account *d = &l->accounts[p->debit], *c = &l->accounts[p->credit];
    if ((t->debit_account_id && t->debit_account_id != d->id) ||
        (t->credit_account_id && t->credit_account_id != c->id))
        return ORTAK_PENDING_DIFFERENT;
    if (t->amount > p->amount_booked) return ORTAK_PENDING_AMOUNT_EXCEEDS;
    if ((t->flags & ORTAK_TRANSFER_VOID_PENDING) && t->amount != 0 && t->amount != p->amount_booked)
        return ORTAK_PENDING_DIFFERENT;
    return ORTAK_OK;
}

static ortak_rc book_resolve(struct ortak_ledger *l, const struct ortak_transfer *t, struct ortak__out *out) {
    uint32_t target;
    ortak_rc rc = pending_check(l, t, out->now, &target);
    if (rc != ORTAK_OK) return rc;
    uint32_t x = record(l, t, out->now, ORTAK_OK);
    if (x == UINT32_MAX) return ORTAK_TRANSFERS_FULL;
    struct ldg_transfer *p = &l->transfers[target], *rec = &l->transfers[x];
    undo_open(l, x, p->debit, p->credit, target);
    rec->debit = p->debit;
    rec->credit = p->credit;
    pending_release(l, p);
    pending_close(l, p);
    struct ortak_event *ev;
    if (t->flags & ORTAK_TRANSFER_POST_PENDING) {
        uint64_t amount = t->amount ? t->amount : p->amount_booked;
        ortak__ledger_note_rise(l, p->credit);
        if (amount < p->amount_booked) ortak__ledger_note_rise(l, p->debit); /* the rest of the hold is released */
        rec->amount_booked = amount;
        l->accounts[p->debit].b.debits_posted += (ortak_i128)amount;
        l->accounts[p->credit].b.credits_posted += (ortak_i128)amount;
        p->pending_state = ORTAK_PENDING_STATE_POSTED;
        stage_posting(l, p->debit, x, -(int64_t)amount);
        stage_posting(l, p->credit, x, (int64_t)amount);
        ev = ortak__event_push(out, ORTAK_EV_PENDING_POSTED);
        ev->amount = (int64_t)amount;
    } else {
        ortak__ledger_note_rise(l, p->debit);
        p->pending_state = ORTAK_PENDING_STATE_VOIDED;
        ev = ortak__event_push(out, ORTAK_EV_PENDING_VOIDED);
        ev->amount = (int64_t)p->amount_booked;
    }
    ev->id = t->id;
    ev->ref = p->t.id;
    ev->debit_account_id = l->accounts[p->debit].id;
    ev->credit_account_id = l->accounts[p->credit].id;
    return ORTAK_OK;
}

/* Applies one transfer. *replayed is set when the id was recorded before with identical fields. */
static ortak_rc transfer_one(struct ortak_ledger *l, const struct ortak_transfer *t, struct ortak__out *out,
                             bool *replayed) {
    *replayed = false;
    if (!id_valid(l, t->id)) return ORTAK_TRANSFER_ID_INVALID;
    uint32_t idx;
    if (ortak_idmap_get(&l->transfer_map, t->id, &idx)) {
        if (!same_fields(&l->transfers[idx].t, t)) return ORTAK_TRANSFER_EXISTS_DIFFERENT;
        *replayed = true;
        return (ortak_rc)l->transfers[idx].rc;
    }
    /* A payment's id is kept for the transfer that will settle it, even while the payment waits in a queue. */
    if (l->payment_ids && l->payment_ids->count && ortak_idmap_get(l->payment_ids, t->id, &idx))
        return ORTAK_TRANSFER_EXISTS_DIFFERENT;
    ortak_rc rc = check_fields(l, t);
    if (rc != ORTAK_OK) return rc;
    if (t->flags & (ORTAK_TRANSFER_POST_PENDING | ORTAK_TRANSFER_VOID_PENDING)) return book_resolve(l, t, out);
    return book_new(l, t, out);
}

void ortak__ledger_prefetch(const struct ortak_ledger *l, const struct ortak_transfer *t) {
    ortak_idmap_prefetch(&l->transfer_map, t->id);
}

/* ---- chains ------------------------------------------------------------------------------------------------ */

static void rollback(struct ortak_ledger *l) {
    while (l->undo_len > 0) {
        struct ldg_undo *u = &l->undo[--l->undo_len];
        struct ldg_transfer *rec = &l->transfers[u->transfer];
        if (rec->pending_slot != UINT32_MAX) pending_close(l, rec);
        unrecord_last(l, u->transfer);
        for (int k = 1; k >= 0; k--) {
            l->accounts[u->acct[k]].b = u->old[k];
            l->accounts[u->acct[k]].pending_count = u->old_pending_count[k];
        }
        if (u->target != UINT32_MAX) {
            struct ldg_transfer *p = &l->transfers[u->target];
            p->pending_state = ORTAK_PENDING_STATE_OPEN;
            bool opened = ortak__ledger_pending_open(l, u->target);
            ORTAK_ASSERT(opened); /* the slot it gave back is free again */
        }
    }
    l->staged_len = 0;
}

static void commit(struct ortak_ledger *l) {
    for (uint32_t i = 0; i < l->staged_len; i++) history_append(l, &l->staged[i]);
    l->staged_len = 0;
    l->undo_len = 0;
}

ortak_rc ortak__ledger_book_own(struct ortak_ledger *l, const struct ortak_transfer *ts, uint32_t n, unsigned waive,
                                struct ortak__out *out) {
    ORTAK_ASSERT(n >= 1 && n <= LDG_OWN_CHAIN_MAX && l->undo_len == 0 && l->staged_len == 0);
    uint32_t events_mark = out->events_len, idx;
    ortak__ledger_waive(l, waive);
    l->undo_on = n > 1;
    ortak_rc rc = ORTAK_OK;
    for (uint32_t k = 0; k < n && rc == ORTAK_OK; k++) {
        const struct ortak_transfer *t = &ts[k];
        if (!id_valid(l, t->id))
            rc = ORTAK_TRANSFER_ID_INVALID;
        else if (ortak_idmap_get(&l->transfer_map, t->id, &idx))
            rc = ORTAK_TRANSFER_EXISTS_DIFFERENT;
        else if ((rc = check_fields(l, t)) == ORTAK_OK)
            rc = (t->flags & (ORTAK_TRANSFER_POST_PENDING | ORTAK_TRANSFER_VOID_PENDING)) ? book_resolve(l, t, out)
                                                                                          : book_new(l, t, out);
    }
    if (rc == ORTAK_OK) {
        commit(l);
    } else {
        rollback(l);
        out->events_len = events_mark;
    }
    l->undo_on = false;
    ortak__ledger_waive(l, 0);
    return rc;
}

bool ortak__ledger_pending_usable(const struct ortak_ledger *l, ortak_u128 id, ortak_time_ns now) {
    uint32_t x;
    if (!ortak_idmap_get(&l->transfer_map, id, &x)) return false;
    const struct ldg_transfer *t = &l->transfers[x];
    ortak_time_ns at = pending_expires_at(t);
    return t->pending_state == ORTAK_PENDING_STATE_OPEN && (at == 0 || at > now);
}

static uint32_t chain_end(const struct ortak_cmd *cmds, uint32_t i, uint32_t n) {
    while ((cmds[i].u.transfer.flags & ORTAK_TRANSFER_LINKED) && i + 1 < n && cmds[i + 1].kind == ORTAK_CMD_TRANSFER)
        i++;
    return i;
}

/* After a chain failed at `fail`: the outcome each other member reports, recorded when the failure is. */
static void chain_settle_member(struct ortak_ledger *l, const struct ortak_transfer *t, ortak_time_ns now,
                                bool record_failures, struct ortak_result *r) {
    uint32_t idx;
    r->flags = 0;
    if (id_valid(l, t->id) && ortak_idmap_get(&l->transfer_map, t->id, &idx)) {
        if (same_fields(&l->transfers[idx].t, t)) {
            r->rc = l->transfers[idx].rc;
            r->flags = ORTAK_RESULT_REPLAYED;
            return;
        }
        r->rc = ORTAK_LINKED_EVENT_FAILED;
        return;
    }
    r->rc = ORTAK_LINKED_EVENT_FAILED;
    if (record_failures && id_valid(l, t->id)) record(l, t, now, ORTAK_LINKED_EVENT_FAILED);
}

uint32_t ortak__ledger_transfer_chain(struct ortak_ledger *l, const struct ortak_cmd *cmds, uint32_t i, uint32_t n,
                                      struct ortak_result *results, struct ortak__out *out) {
    uint32_t end = chain_end(cmds, i, n);
    uint32_t events_mark = out->events_len;
    uint32_t fail = UINT32_MAX;
    bool fail_replayed = false;
    ORTAK_ASSERT(l->undo_len == 0 && l->staged_len == 0);
    l->undo_on = end > i || (cmds[end].u.transfer.flags & ORTAK_TRANSFER_LINKED);

    for (uint32_t k = i; k <= end; k++) {
        struct ortak_result *r = &results[k];
        *r = (struct ortak_result){.rc = ORTAK_OK, .fail_index = UINT32_MAX};
        out->cmd_index = k;
        bool replayed = false;
        /* Members after the first move time on but do not expire holds: expiry never happens inside a chain. */
        if (cmds[k].timestamp < out->now) {
            r->rc = ORTAK_TIME_BACKWARDS;
        } else {
            out->now = cmds[k].timestamp;
            r->rc = transfer_one(l, &cmds[k].u.transfer, out, &replayed);
            if (replayed) r->flags = ORTAK_RESULT_REPLAYED;
        }
        if (r->rc != ORTAK_OK) {
            fail = k;
            fail_replayed = replayed;
            break;
        }
    }
    if (fail == UINT32_MAX && (cmds[end].u.transfer.flags & ORTAK_TRANSFER_LINKED)) {
        fail = end;
        fail_replayed = false;
        results[end].rc = ORTAK_LINKED_CHAIN_OPEN;
        results[end].flags = 0;
    }
    if (fail == UINT32_MAX) {
        commit(l);
        return end + 1;
    }

    rollback(l);
    out->events_len = events_mark;
    ortak_rc fail_rc = (ortak_rc)results[fail].rc;
    bool record_failures = !fail_replayed && rc_recordable(fail_rc);
    /*
     * A refusal is an outcome only once it is recorded. Without room to record every member, the answer is the
     * transient TRANSFERS_FULL instead, and a retry may still succeed.
     */
    if (record_failures && l->limits.transfers_max - l->transfer_count < end - i + 1) {
        record_failures = false;
        fail_rc = ORTAK_TRANSFERS_FULL;
        results[fail].rc = fail_rc;
        results[fail].flags = 0;
    }
    for (uint32_t k = i; k <= end; k++) {
        /* Members after the failing one were not applied, but engine time still reaches their timestamps. */
        if (k > fail && cmds[k].timestamp > out->now) out->now = cmds[k].timestamp;
        if (k == fail) {
            if (record_failures) record(l, &cmds[k].u.transfer, out->now, fail_rc);
        } else {
            chain_settle_member(l, &cmds[k].u.transfer, out->now, record_failures, &results[k]);
        }
        if (end > i) results[k].fail_index = fail;
    }
    return end + 1;
}

ortak_rc ortak__ledger_transfer_check(const struct ortak_ledger *l, const struct ortak_transfer *t, ortak_time_ns now) {
    if (!id_valid(l, t->id)) return ORTAK_TRANSFER_ID_INVALID;
    uint32_t idx, dr, cr;
    if (ortak_idmap_get(&l->transfer_map, t->id, &idx)) return ORTAK_TRANSFER_EXISTS_DIFFERENT;
    ortak_rc rc = check_fields(l, t);
    if (rc != ORTAK_OK) return rc;
    if (t->flags & (ORTAK_TRANSFER_PENDING | ORTAK_TRANSFER_POST_PENDING | ORTAK_TRANSFER_VOID_PENDING))
        return ORTAK_FLAGS_INVALID;
    rc = new_check(l, t, now, &dr, &cr);
    if (rc == ORTAK_OK && l->transfer_count >= l->limits.transfers_max) rc = ORTAK_TRANSFERS_FULL;
    return rc;
}

ortak_rc ortak__ledger_transfer_book(struct ortak_ledger *l, const struct ortak_transfer *t, struct ortak__out *out) {
    ortak_rc rc = ortak__ledger_transfer_check(l, t, out->now);
    if (rc != ORTAK_OK) return rc;
    ORTAK_ASSERT(l->undo_len == 0 && l->staged_len == 0);
    l->undo_on = false;
    rc = book_new(l, t, out);
    ORTAK_ASSERT(rc == ORTAK_OK); /* checked above, and nothing changed since */
    commit(l);
    return ORTAK_OK;
}

/* ---- expiry ------------------------------------------------------------------------------------------------ */

void ortak__ledger_expire(struct ortak_ledger *l, struct ortak__out *out) {
    while (l->heap_len > 0) {
        struct ldg_pending *p = pend(l, l->heap[0]);
        if (p->expires_at > out->now) break;
        struct ldg_transfer *t = &l->transfers[p->transfer];
        pending_release(l, t);
        pending_close(l, t);
        ortak__ledger_note_rise(l, t->debit);
        t->pending_state = ORTAK_PENDING_STATE_EXPIRED;
        struct ortak_event *ev = ortak__event_push(out, ORTAK_EV_PENDING_EXPIRED);
        ev->id = t->t.id;
        ev->debit_account_id = l->accounts[t->debit].id;
        ev->credit_account_id = l->accounts[t->credit].id;
        ev->amount = (int64_t)t->amount_booked;
    }
}

/* ---- queries ----------------------------------------------------------------------------------------------- */

uint32_t ortak_ledger_transfer_count(const struct ortak_ledger *l) { return l->transfer_count; }

ortak_rc ortak_ledger_transfer_get(const struct ortak_ledger *l, ortak_u128 id, struct ortak_transfer_info *out) {
    uint32_t idx;
    if (!ortak_idmap_get(&l->transfer_map, id, &idx)) return ORTAK_TRANSFER_NOT_FOUND;
    const struct ldg_transfer *x = &l->transfers[idx];
    memset(out, 0, sizeof *out);
    out->t = x->t;
    out->rc = (ortak_rc)x->rc;
    out->timestamp = x->timestamp;
    out->amount_booked = x->amount_booked;
    out->pending_state = x->pending_state;
    return ORTAK_OK;
}

static void posting_info(const struct ortak_ledger *l, const struct ldg_posting *p, struct ortak_posting *out) {
    const struct ldg_transfer *x = &l->transfers[p->transfer];
    uint32_t other = (x->debit == p->account) ? x->credit : x->debit;
    out->seq = p->seq;
    out->timestamp = p->timestamp;
    out->transfer_id = x->t.id;
    out->counterparty_account_id = l->accounts[other].id;
    out->amount = p->amount;
    out->balance_after = p->balance_after;
}

/*
 * The oldest held posting of the account with timestamp >= from_ns, as seq + 1 (0 = none). Sets *truncated when
 * the account has evicted postings that may fall in the range: timestamps never decrease with seq, so every
 * evicted posting is no later than the oldest posting still held, and the range can only reach them when it
 * starts at or before that one.
 */
static uint64_t history_first(const struct ortak_ledger *l, const struct ldg_account *a, ortak_time_ns from_ns,
                              bool *truncated) {
    uint64_t first = 0;
    for (uint64_t cur = a->history_last; cur != 0;) {
        if (!history_held(l, cur - 1)) {
            uint64_t oldest = l->history_head - l->limits.history_max;
            *truncated = from_ns <= history_at(l, oldest)->timestamp;
            break;
        }
        const struct ldg_posting *p = history_at(l, cur - 1);
        if (p->timestamp < from_ns) break;
        first = cur;
        cur = p->prev;
    }
    return first;
}

ortak_rc ortak_ledger_history(const struct ortak_ledger *l, ortak_u128 account_id, ortak_time_ns from_ns,
                              ortak_time_ns to_ns, uint64_t *cursor, struct ortak_posting *out, uint32_t max,
                              uint32_t *n, bool *truncated) {
    uint32_t idx;
    *n = 0;
    *truncated = false;
    if (!ortak_idmap_get(&l->account_map, account_id, &idx)) return ORTAK_ACCOUNT_NOT_FOUND;
    uint64_t cur = *cursor;
    if (cur == 0) {
        cur = history_first(l, &l->accounts[idx], from_ns, truncated);
    } else if (!history_held(l, cur - 1) || history_at(l, cur - 1)->account != idx) {
        /* The page the cursor pointed at has left memory since (or the cursor is not this account's). */
        *truncated = true;
        cur = 0;
    }
    while (cur != 0 && *n < max) {
        if (!history_held(l, cur - 1)) {
            cur = 0;
            break;
        }
        const struct ldg_posting *p = history_at(l, cur - 1);
        if (p->timestamp > to_ns) {
            cur = 0;
            break;
        }
        posting_info(l, p, &out[(*n)++]);
        cur = p->next;
    }
    if (cur != 0 && (!history_held(l, cur - 1) || history_at(l, cur - 1)->timestamp > to_ns)) cur = 0;
    *cursor = cur;
    return ORTAK_OK;
}
