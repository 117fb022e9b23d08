/*
 * Net settlement: queries, and the canonical state encoding and its loader.
 *
 * Encoding (docs/ledger.md, section 9): per currency, the open window's id and opening time, then the last
 * closed window (id, opening and closing times, payments, participants, gross and moved values); then the rows
 * of those last reports: their count, and per row the account index, the window id, the counts, sent, received
 * and the part paid from collateral. The open windows' sums are not encoded: they are rebuilt from the accepted
 * payments, which the settlement state holds.
 */
#include <string.h>

#include "base/bytes.h"
#include "netting_int.h"
#include "settle/settle_int.h"

#define NONE UINT32_MAX

/* ---- queries ----------------------------------------------------------------------------------------------- */

/* The window `id` of currency `code` (0: the open one): the open or the last closed; NULL if neither. */
static const struct ortak_window_info *window_find(const struct ortak_netting *n, const char *code, uint64_t id,
                                                   int *cur, ortak_rc *rc) {
    *cur = ortak__ledger_currency_index(n->ledger, code);
    *rc = ORTAK_CURRENCY_UNKNOWN;
    if (*cur < 0) return NULL;
    *rc = ORTAK_WINDOW_NOT_FOUND;
    if (id == 0 || id == n->open[*cur].id) return &n->open[*cur];
    if (n->last[*cur].id != 0 && id == n->last[*cur].id) return &n->last[*cur];
    return NULL;
}

ortak_rc ortak_netting_window(const struct ortak_netting *n, const char *currency, uint64_t window_id,
                              struct ortak_window_info *out) {
    int cur;
    ortak_rc rc;
    const struct ortak_window_info *w = window_find(n, currency, window_id, &cur, &rc);
    if (!w) return rc;
    *out = *w;
    return ORTAK_OK;
}

ortak_rc ortak_netting_positions(const struct ortak_netting *n, const char *currency, uint64_t window_id,
                                 struct ortak_window_position *rows, uint32_t cap, uint32_t *count) {
    int cur;
    ortak_rc rc;
    *count = 0;
    const struct ortak_window_info *w = window_find(n, currency, window_id, &cur, &rc);
    if (!w) return rc;
    const struct ortak_ledger *l = n->ledger;
    bool open = w->state == ORTAK_WINDOW_OPEN;
    for (uint32_t a = 0; a < l->account_count; a++) {
        const struct net_account *x = &n->acc[a];
        if (l->accounts[a].currency != (uint32_t)cur) continue;
        if (open ? x->sent_count + x->received_count == 0 : x->last_window != w->id) continue;
        if (*count < cap) {
            rows[*count] = open ? (struct ortak_window_position){.account_id = l->accounts[a].id,
                                                                 .sent_count = x->sent_count,
                                                                 .received_count = x->received_count,
                                                                 .sent = x->sent,
                                                                 .received = x->received,
                                                                 .net = x->received - x->sent}
                                : x->last;
        }
        (*count)++;
    }
    return ORTAK_OK;
}

ortak_rc ortak_netting_cap(const struct ortak_netting *n, ortak_u128 account_id, int64_t *cap, ortak_i128 *net_debit) {
    const struct ortak_ledger *l = n->ledger;
    uint32_t a, c;
    if (ortak__ledger_account_index(l, account_id, &a) != ORTAK_OK) return ORTAK_ACCOUNT_NOT_FOUND;
    const struct ldg_account *s = &l->accounts[a];
    *cap = ortak_idmap_get(&l->owner_map, ortak__owner_key(s->participant, s->currency, ORTAK_ACCOUNT_COLLATERAL), &c)
               ? l->accounts[c].reserved
               : 0;
    ortak_i128 d = n->acc[a].sent - n->acc[a].received;
    *net_debit = d > 0 ? d : 0;
    return ORTAK_OK;
}

/* ---- encoding ---------------------------------------------------------------------------------------------- */

static void window_put(const struct ortak__writer *w, const struct ortak_window_info *x) {
    ortak__put_u64(w, x->id);
    ortak__put_u64(w, x->opened_ns);
    ortak__put_u64(w, x->closed_ns);
    ortak__put_u64(w, (uint64_t)x->payments | (uint64_t)x->participants << 32);
    ortak__put_u128(w, (ortak_u128)x->gross);
    ortak__put_u128(w, (ortak_u128)x->moved);
}

void ortak__netting_encode(const struct ortak_netting *n, ortak_sink_fn sink, void *ctx) {
    const struct ortak__writer w = {sink, ctx};
    const struct ortak_ledger *l = n->ledger;
    for (uint32_t c = 0; c < l->currency_count; c++) {
        ortak__put_u64(&w, n->open[c].id);
        ortak__put_u64(&w, n->open[c].opened_ns);
        window_put(&w, &n->last[c]);
    }
    uint64_t rows = 0;
    for (uint32_t a = 0; a < l->account_count; a++) rows += n->acc[a].last_window != 0;
    ortak__put_u64(&w, rows);
    for (uint32_t a = 0; a < l->account_count; a++) {
        const struct net_account *x = &n->acc[a];
        if (x->last_window == 0) continue;
        ortak__put_u64(&w, a);
        ortak__put_u64(&w, x->last_window);
        ortak__put_u64(&w, (uint64_t)x->last.sent_count | (uint64_t)x->last.received_count << 32);
        ortak__put_u128(&w, (ortak_u128)x->last.sent);
        ortak__put_u128(&w, (ortak_u128)x->last.received);
        ortak__put_u64(&w, (uint64_t)x->last.from_collateral);
    }
}

static void window_get(struct ortak__reader *r, struct ortak_window_info *x) {
    x->id = ortak__get_le(r, 8);
    x->opened_ns = ortak__get_le(r, 8);
    x->closed_ns = ortak__get_le(r, 8);
    uint64_t v = ortak__get_le(r, 8);
    x->payments = (uint32_t)v;
    x->participants = (uint32_t)(v >> 32);
    x->gross = (ortak_i128)ortak__get_u128(r);
    x->moved = (ortak_i128)ortak__get_u128(r);
    x->state = x->id ? ORTAK_WINDOW_SETTLED : 0;
}

ortak_rc ortak__netting_decode(struct ortak_netting *n, struct ortak_settle *s, const struct ortak_ledger *l,
                               struct ortak_slice *cur) {
    struct ortak__reader r = {cur, false};
    for (uint32_t c = 0; c < l->currency_count; c++) {
        n->open[c] = (struct ortak_window_info){.state = ORTAK_WINDOW_OPEN};
        n->open[c].id = ortak__get_le(&r, 8);
        n->open[c].opened_ns = ortak__get_le(&r, 8);
        window_get(&r, &n->last[c]);
        bool last_ok = n->last[c].id == 0 ? n->last[c].closed_ns == 0 && n->last[c].payments == 0
                                          : n->last[c].id + 1 == n->open[c].id;
        if (r.bad || n->open[c].id == 0 || !last_ok || n->last[c].gross < 0 || n->last[c].moved < 0)
            return ORTAK_CORRUPT;
    }
    uint64_t rows = ortak__get_le(&r, 8);
    if (r.bad || rows > l->account_count) return ORTAK_CORRUPT;
    uint64_t prev = 0;
    for (uint64_t k = 0; k < rows; k++) {
        uint64_t a = ortak__get_le(&r, 8);
        if (r.bad || a >= l->account_count || (k > 0 && a <= prev)) return ORTAK_CORRUPT;
        prev = a;
        struct net_account *x = &n->acc[a];
        x->last_window = ortak__get_le(&r, 8);
        uint64_t v = ortak__get_le(&r, 8);
        x->last.account_id = l->accounts[a].id;
        x->last.sent_count = (uint32_t)v;
        x->last.received_count = (uint32_t)(v >> 32);
        x->last.sent = (ortak_i128)ortak__get_u128(&r);
        x->last.received = (ortak_i128)ortak__get_u128(&r);
        x->last.net = x->last.received - x->last.sent;
        x->last.from_collateral = (int64_t)ortak__get_le(&r, 8);
        uint32_t c = l->accounts[a].currency;
        if (r.bad || x->last_window == 0 || x->last_window >= n->open[c].id || x->last.sent < 0 ||
            x->last.received < 0 || x->last.from_collateral < 0)
            return ORTAK_CORRUPT;
    }
    /* The open windows, from their accepted payments in recording order (the order they were accepted in). */
    for (uint32_t x = 0; x < s->payment_count; x++) {
        struct stl_payment *p = &s->payments[x];
        if (p->state != ORTAK_PAYMENT_ACCEPTED) continue;
        uint32_t c = l->accounts[p->debit].currency;
        if (p->window != n->open[c].id) return ORTAK_CORRUPT;
        ortak__netting_add(n, s, l, x);
    }
    for (uint32_t a = 0; a < l->account_count; a++) {
        uint32_t c;
        const struct ldg_account *acc = &l->accounts[a];
        if (acc->kind != ORTAK_ACCOUNT_SETTLEMENT) continue;
        int64_t cap = ortak_idmap_get(&l->owner_map,
                                      ortak__owner_key(acc->participant, acc->currency, ORTAK_ACCOUNT_COLLATERAL), &c)
                          ? l->accounts[c].reserved
                          : 0;
        if (n->acc[a].sent - n->acc[a].received > cap) return ORTAK_CORRUPT; /* a cap is never exceeded */
    }
    return ORTAK_OK;
}
