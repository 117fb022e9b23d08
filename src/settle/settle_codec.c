/*
 * Settlement state in the engine's canonical encoding, and its decoder.
 *
 * Encoded: the place counters, the closed cut-offs, and every payment in recording order with its state, current
 * priority and place. Not encoded, because they follow from those: the queues (the queued payments ordered by
 * account, priority and place), the deadline heap and the account indices. The decoder checks what it reads:
 * counts within limits, ids unique, states and priorities valid, queued payments on live settlement accounts,
 * settled payments booked in the ledger under their id.
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "settle_int.h"

#define NONE UINT32_MAX

static void put_u64(ortak_sink_fn sink, void *ctx, uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
    sink(ctx, b, 8);
}

static void put_u128(ortak_sink_fn sink, void *ctx, ortak_u128 v) {
    put_u64(sink, ctx, (uint64_t)v);
    put_u64(sink, ctx, (uint64_t)(v >> 64));
}

void ortak__settle_encode(const struct ortak_settle *s, ortak_sink_fn sink, void *ctx) {
    put_u64(sink, ctx, s->payment_count);
    put_u64(sink, ctx, (uint64_t)s->head_place);
    put_u64(sink, ctx, (uint64_t)s->tail_place);
    put_u64(sink, ctx, s->cutoff_closed);
    for (uint32_t i = 0; i < s->payment_count; i++) {
        const struct stl_payment *p = &s->payments[i];
        put_u128(sink, ctx, p->p.id);
        put_u128(sink, ctx, p->p.debit_account_id);
        put_u128(sink, ctx, p->p.credit_account_id);
        put_u128(sink, ctx, p->p.uetr);
        put_u64(sink, ctx, p->p.amount);
        put_u64(sink, ctx, p->p.latest_ns);
        put_u64(sink, ctx, p->received_ns);
        put_u64(sink, ctx, p->ended_ns);
        put_u64(sink, ctx, (uint64_t)p->place);
        put_u64(sink, ctx,
                (uint64_t)p->rc | (uint64_t)p->state << 16 | (uint64_t)p->priority << 24 |
                    (uint64_t)p->p.priority << 32);
    }
}

/* ---- decoding ---------------------------------------------------------------------------------------------- */

struct dec {
    struct ortak_slice *cur;
    bool bad;
};

static uint64_t get_u64(struct dec *d) {
    if (d->bad || d->cur->len < 8) {
        d->bad = true;
        return 0;
    }
    const unsigned char *b = (const unsigned char *)d->cur->ptr;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    d->cur->ptr += 8;
    d->cur->len -= 8;
    return v;
}

static ortak_u128 get_u128(struct dec *d) {
    uint64_t lo = get_u64(d);
    return ORTAK_U128(get_u64(d), lo);
}

/* Reads one payment into index x; checks it on its own and against the ledger. */
static bool decode_payment(struct ortak_settle *s, const struct ortak_ledger *l, struct dec *d, uint32_t x) {
    struct stl_payment *p = &s->payments[x];
    memset(p, 0, sizeof *p);
    p->p.id = get_u128(d);
    p->p.debit_account_id = get_u128(d);
    p->p.credit_account_id = get_u128(d);
    p->p.uetr = get_u128(d);
    p->p.amount = get_u64(d);
    p->p.latest_ns = get_u64(d);
    p->received_ns = get_u64(d);
    p->ended_ns = get_u64(d);
    p->place = (int64_t)get_u64(d);
    uint64_t v = get_u64(d);
    p->rc = (uint16_t)v;
    p->state = (uint8_t)(v >> 16);
    p->priority = (uint8_t)(v >> 24);
    p->p.priority = (uint8_t)(v >> 32);
    p->debit = p->credit = p->prev = p->next = NONE;
    if (d->bad || v >> 40 != 0 || p->p.id == 0 || p->p.id == ORTAK_U128_MAX || p->rc >= ORTAK_RC_COUNT_ ||
        p->state < ORTAK_PAYMENT_QUEUED || p->state > ORTAK_PAYMENT_REJECTED || p->priority >= ORTAK_PRIORITIES ||
        p->p.priority >= ORTAK_PRIORITIES || (p->state == ORTAK_PAYMENT_REJECTED) != (p->rc != ORTAK_OK))
        return false;
    if (ortak_idmap_put(&s->map, p->p.id, x) != 0) return false;
    s->payment_count = x + 1;
    if (p->state == ORTAK_PAYMENT_REJECTED || p->state == ORTAK_PAYMENT_CANCELLED) return true;
    if (ortak__ledger_account_index(l, p->p.debit_account_id, &p->debit) != ORTAK_OK ||
        ortak__ledger_account_index(l, p->p.credit_account_id, &p->credit) != ORTAK_OK)
        return false;
    if (p->state == ORTAK_PAYMENT_SETTLED) {
        struct ortak_transfer_info t;
        return ortak_ledger_transfer_get(l, p->p.id, &t) == ORTAK_OK && t.rc == ORTAK_OK &&
               t.amount_booked == p->p.amount;
    }
    return l->accounts[p->debit].kind == ORTAK_ACCOUNT_SETTLEMENT && p->p.amount > 0;
}

struct queue_key {
    int64_t place;
    uint32_t debit;
    uint32_t priority;
    uint32_t x;
};

static int queue_order(const void *a, const void *b) {
    const struct queue_key *x = a, *y = b;
    if (x->debit != y->debit) return x->debit < y->debit ? -1 : 1;
    if (x->priority != y->priority) return x->priority < y->priority ? -1 : 1;
    return (x->place > y->place) - (x->place < y->place);
}

/* Rebuilds the queues and the ledger's watch flags from the queued payments, in the order of their places. */
static bool rebuild_queues(struct ortak_settle *s, struct ortak_ledger *l) {
    struct queue_key *order = malloc((size_t)(s->payment_count ? s->payment_count : 1) * sizeof *order);
    if (!order) return false;
    uint32_t n = 0;
    for (uint32_t x = 0; x < s->payment_count; x++) {
        const struct stl_payment *p = &s->payments[x];
        if (p->state == ORTAK_PAYMENT_QUEUED) order[n++] = (struct queue_key){p->place, p->debit, p->priority, x};
    }
    qsort(order, n, sizeof *order, queue_order);
    bool ok = true;
    for (uint32_t k = 0; k < n && ok; k++) {
        struct stl_payment *p = &s->payments[order[k].x];
        struct stl_queue *q = &s->queues[p->debit];
        uint8_t pr = p->priority;
        ok = p->place > s->head_place - 1 && p->place <= s->tail_place && p->place != 0;
        p->prev = q->tail[pr];
        if (q->tail[pr] != NONE)
            s->payments[q->tail[pr]].next = order[k].x;
        else
            q->head[pr] = order[k].x;
        q->tail[pr] = order[k].x;
        q->count[pr]++;
        q->value[pr] += (ortak_i128)p->p.amount;
        l->watch[p->debit] = LDG_WATCHED;
    }
    free(order);
    return ok;
}

ortak_rc ortak__settle_decode(struct ortak_settle *s, struct ortak_ledger *l, struct ortak_slice *cur) {
    struct dec d = {cur, false};
    uint64_t n = get_u64(&d);
    s->head_place = (int64_t)get_u64(&d);
    s->tail_place = (int64_t)get_u64(&d);
    uint64_t cut = get_u64(&d);
    if (d.bad || n > s->payments_max || cut >= (1u << ORTAK_PRIORITIES) || s->head_place > 0 || s->tail_place < 0)
        return ORTAK_CORRUPT;
    s->cutoff_closed = (uint8_t)cut;
    for (uint32_t x = 0; x < n; x++) {
        if (!decode_payment(s, l, &d, x)) return ORTAK_CORRUPT;
    }
    if (!rebuild_queues(s, l)) return ORTAK_CORRUPT;
    /* Deadlines: the queued payments with a latest settlement time; they come out in the same order as live. */
    for (uint32_t x = 0; x < s->payment_count; x++) {
        const struct stl_payment *p = &s->payments[x];
        if (p->state == ORTAK_PAYMENT_QUEUED && p->p.latest_ns) ortak__settle_deadline_push(s, x);
    }
    return ORTAK_OK;
}
