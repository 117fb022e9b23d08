/*
 * The ledger's canonical encoding (snapshots, state hash) and its decoder.
 *
 * Little-endian, fixed-width fields, in the order documented in docs/ledger.md ("State encoding"). Only logical
 * state is encoded: indices appear only where they are themselves logical (admission and creation order), never
 * pool slots or heap positions, which the decoder rebuilds.
 *
 * The decoder trusts nothing: a snapshot is bytes from a disk. Every count is checked against the configured
 * limits before it is used, every index against what exists, and at the end every account's four running totals
 * are recomputed from the transfers booked on it and must match, as must the zero sum of each currency.
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "ledger_int.h"

static void encode_currency(const struct ortak__writer *e, const struct ldg_currency *c) {
    ortak__put_bytes(e, c->cfg.code, 4);
    ortak__put_u64(e,
                   (uint64_t)c->cfg.numeric | (uint64_t)c->cfg.minor_units << 16 | (uint64_t)(uint32_t)c->agent << 32);
    ortak__put_bytes(e, c->cfg.agent_bic, 12);
}

static void encode_participant(const struct ortak__writer *e, const struct ldg_participant *p, uint8_t status) {
    ortak__put_bytes(e, p->bic, 12);
    ortak__put_bytes(e, p->name, sizeof p->name);
    ortak__put_bytes(e, p->country, 3);
    ortak__put_u64(e, (uint64_t)p->role | (uint64_t)status << 8);
}

static void encode_account(const struct ortak__writer *e, const struct ldg_account *a) {
    ortak__put_u128(e, a->id);
    ortak__put_u64(e, (uint64_t)a->participant | (uint64_t)a->currency << 32 | (uint64_t)a->kind << 48 |
                          (uint64_t)a->status << 56);
    ortak__put_u128(e, (ortak_u128)a->b.debits_posted);
    ortak__put_u128(e, (ortak_u128)a->b.credits_posted);
    ortak__put_u128(e, (ortak_u128)a->b.debits_pending);
    ortak__put_u128(e, (ortak_u128)a->b.credits_pending);
    ortak__put_u64(e, (uint64_t)a->credit_line);
    ortak__put_u64(e, (uint64_t)a->reserved);
    ortak__put_u64(e, a->history_last);
    ortak__put_u64(e, a->pending_count);
}

static void encode_transfer(const struct ortak__writer *e, const struct ldg_transfer *t) {
    ortak__put_u128(e, t->t.id);
    ortak__put_u128(e, t->t.debit_account_id);
    ortak__put_u128(e, t->t.credit_account_id);
    ortak__put_u128(e, t->t.pending_id);
    ortak__put_u128(e, t->t.user_data);
    ortak__put_u64(e, t->t.amount);
    ortak__put_u64(e, (uint64_t)t->t.timeout_s | (uint64_t)t->t.flags << 32 | (uint64_t)t->t.code << 48);
    ortak__put_u64(e, t->timestamp);
    ortak__put_u64(e, t->amount_booked);
    ortak__put_u64(e, (uint64_t)t->rc | (uint64_t)t->pending_state << 16);
}

static void encode_posting(const struct ortak__writer *e, const struct ldg_posting *p) {
    ortak__put_u64(e, p->timestamp);
    ortak__put_u128(e, (ortak_u128)p->balance_after);
    ortak__put_u64(e, (uint64_t)p->amount);
    ortak__put_u64(e, p->prev);
    ortak__put_u64(e, p->next);
    ortak__put_u64(e, (uint64_t)p->account | (uint64_t)p->transfer << 32);
}

void ortak__ledger_encode(const struct ortak_ledger *l, ortak_sink_fn sink, void *ctx) {
    struct ortak__writer e = {sink, ctx};
    ortak__put_u64(&e, l->currency_count);
    for (uint32_t i = 0; i < l->currency_count; i++) encode_currency(&e, &l->currencies[i]);
    ortak__put_u64(&e, l->participant_count);
    for (uint32_t i = 0; i < l->participant_count; i++)
        encode_participant(&e, &l->participants[i], l->participant_status[i]);
    ortak__put_u64(&e, l->account_count);
    for (uint32_t i = 0; i < l->account_count; i++) encode_account(&e, &l->accounts[i]);
    ortak__put_u64(&e, l->transfer_count);
    for (uint32_t i = 0; i < l->transfer_count; i++) encode_transfer(&e, &l->transfers[i]);
    uint64_t kept = l->history_head < l->limits.history_max ? l->history_head : l->limits.history_max;
    ortak__put_u64(&e, l->history_head);
    ortak__put_u64(&e, kept);
    for (uint64_t s = l->history_head - kept; s < l->history_head; s++) {
        const struct ldg_posting *p = ortak__history_at(l, s);
        ORTAK_ASSERT(p->seq == s);
        encode_posting(&e, p);
    }
}

/* ---- decoding ---------------------------------------------------------------------------------------------- */

/* A fixed-size text field in canonical form: a NUL within it, and only NULs after the first. */
static bool terminated(const char *s, size_t cap) {
    const char *nul = memchr(s, '\0', cap);
    if (!nul) return false;
    for (const char *p = nul; p < s + cap; p++) {
        if (*p != '\0') return false;
    }
    return true;
}

static bool decode_currencies(struct ortak_ledger *l, struct ortak__reader *d) {
    if (ortak__get_le(d, 8) != l->currency_count) return false;
    for (uint32_t i = 0; i < l->currency_count && !d->bad; i++) {
        struct ldg_currency *c = &l->currencies[i];
        char code[4], bic[12];
        ortak__get_bytes(d, code, 4);
        uint64_t v = ortak__get_le(d, 8);
        ortak__get_bytes(d, bic, 12);
        if (memcmp(code, c->cfg.code, 4) != 0 || !terminated(bic, 12) || strncmp(bic, c->cfg.agent_bic, 12) != 0)
            return false;
        if ((uint16_t)v != c->cfg.numeric || (uint8_t)(v >> 16) != c->cfg.minor_units || (uint8_t)(v >> 24) != 0)
            return false;
        c->agent = (int32_t)(uint32_t)(v >> 32); /* checked against the participants below */
    }
    return !d->bad;
}

static bool decode_participants(struct ortak_ledger *l, struct ortak__reader *d) {
    uint64_t n = ortak__get_le(d, 8);
    if (n > l->limits.participants_max) return false;
    for (uint32_t i = 0; i < n && !d->bad; i++) {
        struct ldg_participant *p = &l->participants[i];
        ortak__get_bytes(d, p->bic, 12);
        ortak__get_bytes(d, p->name, sizeof p->name);
        ortak__get_bytes(d, p->country, 3);
        uint64_t v = ortak__get_le(d, 8);
        p->role = (uint8_t)v;
        uint8_t status = (uint8_t)(v >> 8);
        l->participant_status[i] = status;
        if (d->bad || !terminated(p->bic, 12) || !ortak_bic_valid(p->bic) || !terminated(p->name, sizeof p->name) ||
            !ortak__name_valid(p->name) || !terminated(p->country, 3) || !ortak_country_valid(p->country) ||
            v >> 16 != 0 || p->role < ORTAK_ROLE_OPERATOR || p->role > ORTAK_ROLE_FX_PROVIDER ||
            status < ORTAK_PARTICIPANT_ACTIVE || status > ORTAK_PARTICIPANT_CLOSED)
            return false;
        if (ortak_idmap_put(&l->bic_map, ortak__bic_key(p->bic), i) != 0) return false;
        l->participant_count = i + 1;
    }
    for (uint32_t i = 0; i < l->currency_count; i++) {
        int32_t a = l->currencies[i].agent;
        if (a != -1 && (a < 0 || (uint32_t)a >= l->participant_count)) return false;
    }
    return !d->bad;
}

static bool balances_sane(const struct ldg_balances *b) {
    return b->debits_posted >= 0 && b->credits_posted >= 0 && b->debits_pending >= 0 && b->credits_pending >= 0;
}

static bool decode_accounts(struct ortak_ledger *l, struct ortak__reader *d) {
    uint64_t n = ortak__get_le(d, 8);
    if (n > l->limits.accounts_max) return false;
    for (uint32_t i = 0; i < n && !d->bad; i++) {
        struct ldg_account *a = &l->accounts[i];
        a->id = ortak__get_u128(d);
        uint64_t v = ortak__get_le(d, 8);
        a->participant = (uint32_t)v;
        a->currency = (uint16_t)(v >> 32);
        a->kind = (uint8_t)(v >> 48);
        a->status = (uint8_t)(v >> 56);
        a->b.debits_posted = (ortak_i128)ortak__get_u128(d);
        a->b.credits_posted = (ortak_i128)ortak__get_u128(d);
        a->b.debits_pending = (ortak_i128)ortak__get_u128(d);
        a->b.credits_pending = (ortak_i128)ortak__get_u128(d);
        a->credit_line = (int64_t)ortak__get_le(d, 8);
        a->reserved = (int64_t)ortak__get_le(d, 8);
        a->history_last = ortak__get_le(d, 8);
        uint64_t pending_count = ortak__get_le(d, 8);
        a->pending_count = (uint32_t)pending_count;
        if (d->bad || a->id == 0 || a->id == ORTAK_U128_MAX || a->participant >= l->participant_count ||
            a->currency >= l->currency_count || a->kind < ORTAK_ACCOUNT_SETTLEMENT ||
            a->kind > ORTAK_ACCOUNT_ISSUANCE || a->status < ORTAK_ACCOUNT_STATUS_ACTIVE ||
            a->status > ORTAK_ACCOUNT_STATUS_CLOSED || !balances_sane(&a->b) || a->credit_line < 0 || a->reserved < 0 ||
            pending_count > UINT32_MAX)
            return false;
        if (ortak_idmap_put(&l->account_map, a->id, i) != 0) return false;
        if (ortak_idmap_put(&l->owner_map, ortak__owner_key(a->participant, a->currency, a->kind), i) != 0)
            return false;
        l->account_count = i + 1;
    }
    return !d->bad;
}

/* Resolves the account indices of a booked transfer (post/void through its pending transfer). */
static bool transfer_accounts(struct ortak_ledger *l, struct ldg_transfer *x) {
    uint32_t idx;
    if (x->t.flags & (ORTAK_TRANSFER_POST_PENDING | ORTAK_TRANSFER_VOID_PENDING)) {
        if (!ortak_idmap_get(&l->transfer_map, x->t.pending_id, &idx)) return false;
        const struct ldg_transfer *p = &l->transfers[idx];
        if (p->rc != ORTAK_OK || !(p->t.flags & ORTAK_TRANSFER_PENDING)) return false;
        x->debit = p->debit;
        x->credit = p->credit;
        return true;
    }
    if (!ortak_idmap_get(&l->account_map, x->t.debit_account_id, &x->debit)) return false;
    if (!ortak_idmap_get(&l->account_map, x->t.credit_account_id, &x->credit)) return false;
    return x->debit != x->credit && l->accounts[x->debit].currency == l->accounts[x->credit].currency;
}

static bool decode_transfer(struct ortak_ledger *l, struct ortak__reader *d, uint32_t i) {
    struct ldg_transfer *x = &l->transfers[i];
    memset(x, 0, sizeof *x);
    x->t.id = ortak__get_u128(d);
    x->t.debit_account_id = ortak__get_u128(d);
    x->t.credit_account_id = ortak__get_u128(d);
    x->t.pending_id = ortak__get_u128(d);
    x->t.user_data = ortak__get_u128(d);
    x->t.amount = ortak__get_le(d, 8);
    uint64_t v = ortak__get_le(d, 8);
    x->t.timeout_s = (uint32_t)v;
    x->t.flags = (uint16_t)(v >> 32);
    x->t.code = (uint16_t)(v >> 48);
    x->timestamp = ortak__get_le(d, 8);
    x->amount_booked = ortak__get_le(d, 8);
    uint64_t w = ortak__get_le(d, 8);
    x->rc = (uint16_t)w;
    x->pending_state = (uint8_t)(w >> 16);
    x->debit = x->credit = x->pending_slot = UINT32_MAX;
    if (d->bad || x->t.id == 0 || x->t.id == ORTAK_U128_MAX || w >> 24 != 0 || x->rc >= ORTAK_RC_COUNT_ ||
        x->pending_state > ORTAK_PENDING_STATE_EXPIRED || x->amount_booked > ORTAK_AMOUNT_MAX)
        return false;
    if (ortak_idmap_put(&l->transfer_map, x->t.id, i) != 0) return false;
    l->transfer_count = i + 1;
    if (x->rc != ORTAK_OK) return x->amount_booked == 0 && x->pending_state == ORTAK_PENDING_STATE_NONE;
    if (!transfer_accounts(l, x)) return false;
    /* A void moves nothing; every other booked transfer moved something. */
    if ((x->amount_booked == 0) != ((x->t.flags & ORTAK_TRANSFER_VOID_PENDING) != 0)) return false;
    bool pending = (x->t.flags & ORTAK_TRANSFER_PENDING) != 0;
    if (pending != (x->pending_state != ORTAK_PENDING_STATE_NONE)) return false;
    if (x->pending_state == ORTAK_PENDING_STATE_OPEN) return ortak__ledger_pending_open(l, i);
    return true;
}

static bool decode_history(struct ortak_ledger *l, struct ortak__reader *d) {
    l->history_head = ortak__get_le(d, 8);
    uint64_t kept = ortak__get_le(d, 8);
    if (d->bad || kept > l->history_head) return false;
    uint64_t skip = kept > l->limits.history_max ? kept - l->limits.history_max : 0;
    for (uint64_t k = 0; k < kept && !d->bad; k++) {
        struct ldg_posting p = {.seq = l->history_head - kept + k};
        p.timestamp = ortak__get_le(d, 8);
        p.balance_after = (ortak_i128)ortak__get_u128(d);
        p.amount = (int64_t)ortak__get_le(d, 8);
        p.prev = ortak__get_le(d, 8);
        p.next = ortak__get_le(d, 8);
        uint64_t v = ortak__get_le(d, 8);
        p.account = (uint32_t)v;
        p.transfer = (uint32_t)(v >> 32);
        if (p.account >= l->account_count || p.transfer >= l->transfer_count || p.prev > p.seq ||
            (p.next != 0 && p.next <= p.seq + 1))
            return false;
        if (k >= skip) *ortak__history_at(l, p.seq) = p;
    }
    return !d->bad;
}

/*
 * Recomputes every account's totals from the booked transfers and compares them; checks floors and the zero sum of
 * every currency. Runs once per snapshot load, so its temporary arrays are allocated here, outside the engine.
 */
static bool totals_consistent(const struct ortak_ledger *l) {
    struct ldg_balances *sum = ortak__calloc_array(l->account_count, sizeof *sum);
    uint32_t *pending = ortak__calloc_array(l->account_count, sizeof *pending);
    bool ok = sum && pending;
    for (uint32_t i = 0; ok && i < l->transfer_count; i++) {
        const struct ldg_transfer *x = &l->transfers[i];
        if (x->rc != ORTAK_OK) continue;
        ortak_i128 amt = (ortak_i128)x->amount_booked;
        if (x->t.flags & ORTAK_TRANSFER_PENDING) {
            if (x->pending_state != ORTAK_PENDING_STATE_OPEN) continue; /* released, or re-booked by its post */
            sum[x->debit].debits_pending += amt;
            sum[x->credit].credits_pending += amt;
            pending[x->debit]++;
            pending[x->credit]++;
        } else if (!(x->t.flags & ORTAK_TRANSFER_VOID_PENDING)) {
            sum[x->debit].debits_posted += amt;
            sum[x->credit].credits_posted += amt;
        }
    }
    ortak_i128 zero[ORTAK_CURRENCIES_LIMIT][2] = {{0}};
    for (uint32_t i = 0; ok && i < l->account_count; i++) {
        const struct ldg_account *a = &l->accounts[i];
        ortak_i128 floor = a->b.credits_posted - a->b.debits_posted - a->b.debits_pending + a->credit_line;
        ok = memcmp(&sum[i], &a->b, sizeof a->b) == 0 && pending[i] == a->pending_count &&
             (a->kind == ORTAK_ACCOUNT_ISSUANCE || floor >= 0);
        zero[a->currency][0] += a->b.credits_posted - a->b.debits_posted;
        zero[a->currency][1] += a->b.credits_pending - a->b.debits_pending;
    }
    for (uint32_t c = 0; ok && c < l->currency_count; c++) ok = zero[c][0] == 0 && zero[c][1] == 0;
    free(sum);
    free(pending);
    return ok;
}

ortak_rc ortak__ledger_decode(struct ortak_ledger *l, struct ortak_slice *cur) {
    struct ortak__reader d = {cur, false};
    if (!decode_currencies(l, &d) || !decode_participants(l, &d) || !decode_accounts(l, &d)) return ORTAK_CORRUPT;
    uint64_t n = ortak__get_le(&d, 8);
    if (d.bad || n > l->limits.transfers_max) return ORTAK_CORRUPT;
    for (uint32_t i = 0; i < n; i++) {
        if (!decode_transfer(l, &d, i)) return ORTAK_CORRUPT;
    }
    if (!decode_history(l, &d) || !totals_consistent(l)) return ORTAK_CORRUPT;
    return ORTAK_OK;
}
