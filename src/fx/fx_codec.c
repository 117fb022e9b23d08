/*
 * FX: queries, and the canonical state encoding and its loader.
 *
 * Encoding (docs/ledger.md, section 7): the rate publication counter and the live rates in their array order
 * (provider | base << 32 | quote << 48, bid, ask, maximum, validity end, publication number); then the quotes in
 * creation order (id, payer's and payee's account ids, amount, ttl_s | fixed << 32, payment id, source and target
 * amounts, rate, creation and expiry times, provider | provider's source account << 32, provider's target
 * account, fee, fee account). Account indices of payer and payee follow from their ids; the id map is rebuilt.
 */
#include <string.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "fx_int.h"

#define NONE UINT32_MAX

/* ---- queries ----------------------------------------------------------------------------------------------- */

ortak_rc ortak_fx_quote_get(const struct ortak_fx *fx, ortak_u128 id, struct ortak_fx_quote_info *out) {
    uint32_t x, h;
    if (!ortak_idmap_get(&fx->map, id, &x)) return ORTAK_QUOTE_NOT_FOUND;
    const struct ortak_ledger *l = fx->ledger;
    const struct fx_quote *q = &fx->quotes[x];
    memset(out, 0, sizeof *out);
    out->req = q->req;
    memcpy(out->provider, l->participants[q->provider].bic, sizeof out->provider);
    memcpy(out->source, l->currencies[l->accounts[q->payer].currency].cfg.code, sizeof out->source);
    memcpy(out->target, l->currencies[l->accounts[q->payee].currency].cfg.code, sizeof out->target);
    out->source_amount = q->source_amount;
    out->fee_amount = q->fee;
    out->target_amount = q->target_amount;
    out->rate = q->rate;
    out->created_ns = q->created_ns;
    out->expires_ns = q->expires_ns;
    out->hold_id = ortak__fx_system_id(FX_ID_HOLD, x);
    out->payment_id = q->payment_id;
    bool found = ortak_idmap_get(&l->transfer_map, out->hold_id, &h);
    ORTAK_ASSERT(found);
    switch (l->transfers[h].pending_state) {
    case ORTAK_PENDING_STATE_POSTED: out->state = ORTAK_QUOTE_STATE_SETTLED; break;
    case ORTAK_PENDING_STATE_VOIDED: out->state = ORTAK_QUOTE_STATE_RELEASED; break;
    case ORTAK_PENDING_STATE_EXPIRED: out->state = ORTAK_QUOTE_STATE_EXPIRED; break;
    default: out->state = q->payment_id ? ORTAK_QUOTE_STATE_USED : ORTAK_QUOTE_STATE_OPEN;
    }
    return ORTAK_OK;
}

ortak_rc ortak_fx_rate_get(const struct ortak_fx *fx, const char *provider_bic, const char *base, const char *quote,
                           struct ortak_fx_rate *out) {
    const struct ortak_ledger *l = fx->ledger;
    uint32_t p;
    int b = ortak__ledger_currency_index(l, base), q = ortak__ledger_currency_index(l, quote);
    if (!ortak_bic_valid(provider_bic) || !ortak_idmap_get(&l->bic_map, ortak__bic_key(provider_bic), &p) || b < 0 ||
        q < 0)
        return ORTAK_FX_RATE_NOT_FOUND;
    for (uint32_t i = 0; i < fx->rate_count; i++) {
        const struct fx_rate *r = &fx->rates[i];
        if (r->provider != p || r->base != (uint32_t)b || r->quote != (uint32_t)q) continue;
        memset(out, 0, sizeof *out);
        memcpy(out->provider, l->participants[p].bic, sizeof out->provider);
        memcpy(out->base, l->currencies[b].cfg.code, sizeof out->base);
        memcpy(out->quote, l->currencies[q].cfg.code, sizeof out->quote);
        out->bid = r->bid;
        out->ask = r->ask;
        out->max_amount = r->max_amount;
        out->valid_until_ns = r->valid_until_ns;
        return ORTAK_OK;
    }
    return ORTAK_FX_RATE_NOT_FOUND;
}

uint32_t ortak_fx_rate_count(const struct ortak_fx *fx) { return fx->rate_count; }

/* ---- encoding ---------------------------------------------------------------------------------------------- */

void ortak__fx_encode(const struct ortak_fx *fx, ortak_sink_fn sink, void *ctx) {
    const struct ortak__writer w = {sink, ctx};
    ortak__put_u64(&w, fx->rate_seq);
    ortak__put_u64(&w, fx->rate_count);
    for (uint32_t i = 0; i < fx->rate_count; i++) {
        const struct fx_rate *r = &fx->rates[i];
        ortak__put_u64(&w, (uint64_t)r->provider | (uint64_t)r->base << 32 | (uint64_t)r->quote << 48);
        ortak__put_u64(&w, r->bid);
        ortak__put_u64(&w, r->ask);
        ortak__put_u64(&w, r->max_amount);
        ortak__put_u64(&w, r->valid_until_ns);
        ortak__put_u64(&w, r->seq);
    }
    ortak__put_u64(&w, fx->quote_count);
    for (uint32_t x = 0; x < fx->quote_count; x++) {
        const struct fx_quote *q = &fx->quotes[x];
        ortak__put_u128(&w, q->req.id);
        ortak__put_u128(&w, q->req.debit_account_id);
        ortak__put_u128(&w, q->req.credit_account_id);
        ortak__put_u64(&w, q->req.amount);
        ortak__put_u64(&w, (uint64_t)q->req.ttl_s | (uint64_t)q->req.fixed << 32);
        ortak__put_u128(&w, q->payment_id);
        ortak__put_u64(&w, q->source_amount);
        ortak__put_u64(&w, q->target_amount);
        ortak__put_u64(&w, q->rate);
        ortak__put_u64(&w, q->created_ns);
        ortak__put_u64(&w, q->expires_ns);
        ortak__put_u64(&w, (uint64_t)q->provider | (uint64_t)q->provider_source << 32);
        ortak__put_u64(&w, q->provider_target);
        ortak__put_u64(&w, q->fee);
        ortak__put_u64(&w, q->fee_account);
    }
}

/* Whether account `a` exists and is a settlement account of participant `p` in currency `cur`. */
static bool account_is(const struct ortak_ledger *l, uint64_t a, uint32_t p, uint32_t cur) {
    return a < l->account_count && l->accounts[a].participant == p && l->accounts[a].currency == cur &&
           l->accounts[a].kind == ORTAK_ACCOUNT_SETTLEMENT;
}

ortak_rc ortak__fx_decode(struct ortak_fx *fx, const struct ortak_ledger *l, struct ortak_slice *cur) {
    struct ortak__reader r = {cur, false};
    fx->rate_seq = ortak__get_le(&r, 8);
    uint64_t n = ortak__get_le(&r, 8);
    if (r.bad || n > fx->rates_max) return ORTAK_CORRUPT;
    for (uint32_t i = 0; i < n; i++) {
        struct fx_rate *x = &fx->rates[i];
        uint64_t v = ortak__get_le(&r, 8);
        x->provider = (uint32_t)v;
        x->base = (uint16_t)(v >> 32);
        x->quote = (uint16_t)(v >> 48);
        x->bid = ortak__get_le(&r, 8);
        x->ask = ortak__get_le(&r, 8);
        x->max_amount = ortak__get_le(&r, 8);
        x->valid_until_ns = ortak__get_le(&r, 8);
        x->seq = ortak__get_le(&r, 8);
        if (r.bad || x->provider >= l->participant_count || x->base >= l->currency_count ||
            x->quote >= l->currency_count || x->base == x->quote || x->bid == 0 || x->ask < x->bid ||
            x->max_amount == 0 || x->seq == 0 || x->seq > fx->rate_seq)
            return ORTAK_CORRUPT;
    }
    fx->rate_count = (uint32_t)n;
    n = ortak__get_le(&r, 8);
    if (r.bad || n > fx->quotes_max) return ORTAK_CORRUPT;
    for (uint32_t x = 0; x < n; x++) {
        struct fx_quote *q = &fx->quotes[x];
        q->req.id = ortak__get_u128(&r);
        q->req.debit_account_id = ortak__get_u128(&r);
        q->req.credit_account_id = ortak__get_u128(&r);
        q->req.amount = ortak__get_le(&r, 8);
        uint64_t v = ortak__get_le(&r, 8);
        q->req.ttl_s = (uint32_t)v;
        q->req.fixed = (uint8_t)(v >> 32);
        q->payment_id = ortak__get_u128(&r);
        q->source_amount = ortak__get_le(&r, 8);
        q->target_amount = ortak__get_le(&r, 8);
        q->rate = ortak__get_le(&r, 8);
        q->created_ns = ortak__get_le(&r, 8);
        q->expires_ns = ortak__get_le(&r, 8);
        v = ortak__get_le(&r, 8);
        q->provider = (uint32_t)v;
        q->provider_source = (uint32_t)(v >> 32);
        q->provider_target = (uint32_t)ortak__get_le(&r, 8);
        q->fee = ortak__get_le(&r, 8);
        uint64_t fee_account = ortak__get_le(&r, 8);
        q->fee_account = (uint32_t)fee_account;
        if (r.bad || ortak__ledger_account_index(l, q->req.debit_account_id, &q->payer) != ORTAK_OK ||
            ortak__ledger_account_index(l, q->req.credit_account_id, &q->payee) != ORTAK_OK ||
            q->provider >= l->participant_count)
            return ORTAK_CORRUPT;
        uint32_t s = l->accounts[q->payer].currency, t = l->accounts[q->payee].currency;
        uint32_t h;
        bool fee_ok = q->fee == 0 ? fee_account == NONE
                                  : fee_account < l->account_count && l->accounts[fee_account].currency == s &&
                                        l->accounts[fee_account].kind == ORTAK_ACCOUNT_SETTLEMENT &&
                                        q->fee <= ORTAK_AMOUNT_MAX - q->source_amount;
        if (s == t || !fee_ok || !account_is(l, q->provider_source, q->provider, s) ||
            !account_is(l, q->provider_target, q->provider, t) || q->source_amount == 0 || q->target_amount == 0 ||
            q->expires_ns <= q->created_ns ||
            !ortak_idmap_get(&l->transfer_map, ortak__fx_system_id(FX_ID_HOLD, x), &h) ||
            l->transfers[h].amount_booked != q->target_amount || ortak_idmap_put(&fx->map, q->req.id, x) != 0)
            return ORTAK_CORRUPT;
    }
    fx->quote_count = (uint32_t)n;
    return ORTAK_OK;
}
