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
#include "base/bytes.h"
#include "fx/fx_int.h"
#include "settle_int.h"

#define NONE UINT32_MAX

void ortak__settle_encode(const struct ortak_settle *s, ortak_sink_fn sink, void *ctx) {
    const struct ortak__writer w = {sink, ctx}, *e = &w;
    ortak__put_u64(e, s->payment_count);
    ortak__put_u64(e, (uint64_t)s->head_place);
    ortak__put_u64(e, (uint64_t)s->tail_place);
    ortak__put_u64(e, s->cutoff_closed);
    for (uint32_t i = 0; i < s->payment_count; i++) {
        const struct stl_payment *p = &s->payments[i];
        ortak__put_u128(e, p->p.id);
        ortak__put_u128(e, p->p.debit_account_id);
        ortak__put_u128(e, p->p.credit_account_id);
        ortak__put_u128(e, p->p.uetr);
        ortak__put_u64(e, p->p.amount);
        ortak__put_u64(e, p->p.latest_ns);
        ortak__put_u64(e, p->received_ns);
        ortak__put_u64(e, p->ended_ns);
        ortak__put_u64(e, (uint64_t)p->place);
        ortak__put_u64(e, p->window);
        ortak__put_u128(e, p->p.quote_id);
        ortak__put_u64(e, p->due_ns);
        ortak__put_u64(e, p->quote);
        ortak__put_u64(e, (uint64_t)p->rc | (uint64_t)p->state << 16 | (uint64_t)p->priority << 24 |
                              (uint64_t)p->p.priority << 32 | (uint64_t)p->p.method << 40);
        const struct ortak_screening *sc = &p->p.screening;
        ortak__put_u64(e, (uint64_t)p->p.hold | (uint64_t)sc->party << 8 | (uint64_t)sc->score << 16);
        ortak__put_u64(e, sc->lists_version);
        ortak__put_bytes(e, sc->list, sizeof sc->list);
        ortak__put_bytes(e, sc->entry_id, sizeof sc->entry_id);
    }
}

/* ---- decoding ---------------------------------------------------------------------------------------------- */

/* Reads one payment into index x; checks it on its own and against the ledger. */
static bool decode_payment(struct ortak_settle *s, const struct ortak_ledger *l, struct ortak__reader *d, uint32_t x) {
    struct stl_payment *p = &s->payments[x];
    memset(p, 0, sizeof *p);
    p->p.id = ortak__get_u128(d);
    p->p.debit_account_id = ortak__get_u128(d);
    p->p.credit_account_id = ortak__get_u128(d);
    p->p.uetr = ortak__get_u128(d);
    p->p.amount = ortak__get_le(d, 8);
    p->p.latest_ns = ortak__get_le(d, 8);
    p->received_ns = ortak__get_le(d, 8);
    p->ended_ns = ortak__get_le(d, 8);
    p->place = (int64_t)ortak__get_le(d, 8);
    p->window = ortak__get_le(d, 8);
    p->p.quote_id = ortak__get_u128(d);
    p->due_ns = ortak__get_le(d, 8);
    uint64_t quote = ortak__get_le(d, 8);
    uint64_t v = ortak__get_le(d, 8);
    p->rc = (uint16_t)v;
    p->state = (uint8_t)(v >> 16);
    p->priority = (uint8_t)(v >> 24);
    p->p.priority = (uint8_t)(v >> 32);
    p->p.method = (uint8_t)(v >> 40);
    struct ortak_screening *sc = &p->p.screening;
    uint64_t h = ortak__get_le(d, 8);
    p->p.hold = (uint8_t)h;
    sc->party = (uint8_t)(h >> 8);
    sc->score = (uint16_t)(h >> 16);
    sc->lists_version = ortak__get_le(d, 8);
    ortak__get_bytes(d, sc->list, sizeof sc->list);
    ortak__get_bytes(d, sc->entry_id, sizeof sc->entry_id);
    bool held = p->state == ORTAK_PAYMENT_HELD;
    if (h >> 32 != 0 || p->p.hold > 1 || sc->party > ORTAK_PARTY_CREDITOR_AGENT || sc->score > 10000 ||
        !memchr(sc->list, '\0', sizeof sc->list) || !memchr(sc->entry_id, '\0', sizeof sc->entry_id) ||
        (held && !p->p.hold))
        return false;
    p->debit = p->credit = p->prev = p->next = NONE;
    /* A quote is bound exactly when the payment carries one and was accepted (a rejected one: after queueing). */
    bool bound = p->p.quote_id != 0 && !held && (p->state != ORTAK_PAYMENT_REJECTED || p->place != 0);
    const struct ortak_fx *fx = s->fx;
    if (bound ? quote >= fx->quote_count || fx->quotes[quote].payment_id != p->p.id : quote != NONE) return false;
    p->quote = (uint32_t)quote;
    bool net = p->p.method == ORTAK_METHOD_NET, rejected = p->state == ORTAK_PAYMENT_REJECTED;
    /* A payment refused at submission keeps the fields it was submitted with, a bad priority or method included. */
    bool fields_ok = rejected || (p->priority < ORTAK_PRIORITIES && p->p.priority < ORTAK_PRIORITIES &&
                                  p->p.method <= ORTAK_METHOD_NET);
    if (d->bad || v >> 48 != 0 || p->p.id == 0 || p->p.id == ORTAK_U128_MAX || p->rc >= ORTAK_RC_COUNT_ ||
        p->state < ORTAK_PAYMENT_QUEUED || p->state > ORTAK_PAYMENT_HELD || !fields_ok ||
        rejected != (p->rc != ORTAK_OK) || (p->state == ORTAK_PAYMENT_ACCEPTED && !net) ||
        (net && !rejected && !held) != (p->window != 0) || (net && p->place != 0) ||
        (held && (p->place != 0 || p->ended_ns != 0)))
        return false;
    if (ortak_idmap_put(&s->map, p->p.id, x) != 0) return false;
    s->payment_count = x + 1;
    /* Ended payments, and held ones (as live: they took no account, queue or quote yet), keep no indices. */
    if (p->state == ORTAK_PAYMENT_REJECTED || p->state == ORTAK_PAYMENT_CANCELLED || held) return true;
    if (ortak__ledger_account_index(l, p->p.debit_account_id, &p->debit) != ORTAK_OK ||
        ortak__ledger_account_index(l, p->p.credit_account_id, &p->credit) != ORTAK_OK)
        return false;
    if (p->quote != NONE) {
        p->credit = fx->quotes[p->quote].provider_source; /* its first leg's payee */
        p->fee = fx->quotes[p->quote].fee;
    }
    if (p->state == ORTAK_PAYMENT_SETTLED && net) return true; /* settled by its window's net transfers */
    if (p->state == ORTAK_PAYMENT_SETTLED) {
        struct ortak_transfer_info t;
        return ortak_ledger_transfer_get(l, p->p.id, &t) == ORTAK_OK && t.rc == ORTAK_OK &&
               t.amount_booked == p->p.amount - p->fee; /* a cross-currency payment's first leg */
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
        s->queued[l->accounts[p->debit].currency]++;
        l->watch[p->debit] = LDG_WATCHED;
    }
    free(order);
    return ok;
}

ortak_rc ortak__settle_decode(struct ortak_settle *s, struct ortak_ledger *l, struct ortak_slice *cur) {
    struct ortak__reader d = {cur, false};
    uint64_t n = ortak__get_le(&d, 8);
    s->head_place = (int64_t)ortak__get_le(&d, 8);
    s->tail_place = (int64_t)ortak__get_le(&d, 8);
    uint64_t cut = ortak__get_le(&d, 8);
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
        if (p->state == ORTAK_PAYMENT_QUEUED && p->due_ns) ortak__settle_deadline_push(s, x);
    }
    return ORTAK_OK;
}
