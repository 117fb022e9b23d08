/*
 * FX (fx.h): providers' rates, firm quotes with their holds, and what a payment carrying a quote needs.
 *
 * Invariants kept here:
 *   - a live rate belongs to an FX provider with settlement accounts in both currencies of its pair, with
 *     0 < bid <= ask <= 10^18 and a maximum > 0;
 *   - every quote has exactly one hold: a pending transfer provider -> payee of its target amount in the target
 *     currency, expiring with the quote; it ends once (posted with its payment, voided when its payment is
 *     cancelled or rejected, or expired), and only a payment bound to the quote posts or voids it;
 *   - a quote is bound to at most one payment, forever.
 * Conversions use integer arithmetic only; every rounding favours the provider by less than one minor unit.
 */
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/assert.h"
#include "fx_int.h"

#define NONE UINT32_MAX
#define RATE_MAX UINT64_C(1000000000000000000) /* 10^9 units of quote per unit of base, x 10^9 */

int ortak__fx_init(struct ortak_fx *fx, const struct ortak_ledger *l, const struct ortak_config *cfg) {
    memset(fx, 0, sizeof *fx);
    fx->ledger = l;
    fx->rates_max = cfg->limits.fx_rates_max;
    fx->quotes_max = cfg->limits.quotes_max;
    fx->quote_ttl_s = cfg->settlement.quote_ttl_s;
    fx->fee_ppm = cfg->settlement.fx_fee_ppm;
    fx->rates = ortak__calloc_array(fx->rates_max, sizeof *fx->rates);
    fx->quotes = ortak__calloc_array(fx->quotes_max, sizeof *fx->quotes);
    if (!fx->rates || !fx->quotes || ortak_idmap_init(&fx->map, fx->quotes_max, cfg->hash_seed ^ 0xf0f0) != 0) {
        ortak__fx_free(fx);
        return -1;
    }
    return 0;
}

void ortak__fx_free(struct ortak_fx *fx) {
    free(fx->rates);
    free(fx->quotes);
    ortak_idmap_free(&fx->map);
    memset(fx, 0, sizeof *fx);
}

size_t ortak__fx_memory_bytes(const struct ortak_fx *fx) {
    return (size_t)fx->rates_max * sizeof *fx->rates + (size_t)fx->quotes_max * sizeof *fx->quotes +
           ((size_t)fx->map.mask + 1) * sizeof(struct ortak_idmap_slot);
}

/* ---- rates ------------------------------------------------------------------------------------------------- */

/* The settlement account of participant `p` in currency `cur`; NONE when it has none. */
static uint32_t settlement_account(const struct ortak_ledger *l, uint32_t p, uint32_t cur) {
    uint32_t a;
    return ortak_idmap_get(&l->owner_map, ortak__owner_key(p, cur, ORTAK_ACCOUNT_SETTLEMENT), &a) ? a : NONE;
}

static bool account_open(const struct ortak_ledger *l, uint32_t a) {
    return a != NONE && l->accounts[a].status == ORTAK_ACCOUNT_STATUS_ACTIVE;
}

/* Whether participant `p` can quote the pair: an active FX provider with open settlement accounts in both. */
static bool provider_ok(const struct ortak_ledger *l, uint32_t p, uint32_t base, uint32_t quote) {
    return l->participants[p].role == ORTAK_ROLE_FX_PROVIDER && l->participant_status[p] == ORTAK_PARTICIPANT_ACTIVE &&
           account_open(l, settlement_account(l, p, base)) && account_open(l, settlement_account(l, p, quote));
}

static uint32_t rate_find(const struct ortak_fx *fx, uint32_t provider, uint32_t base, uint32_t quote) {
    for (uint32_t i = 0; i < fx->rate_count; i++) {
        const struct fx_rate *r = &fx->rates[i];
        if (r->provider == provider && r->base == base && r->quote == quote) return i;
    }
    return NONE;
}

static void rate_event(struct ortak__out *out, const struct ortak_fx_rate *r, bool published) {
    struct ortak_event *ev = ortak__event_push(out, ORTAK_EV_FX_RATE);
    ev->id = ortak__bic_key(r->provider);
    ev->status = published;
    ev->amount = published ? (int64_t)r->bid : 0;
    ev->amount_old = published ? (int64_t)r->ask : 0;
}

ortak_rc ortak__fx_rate_set(struct ortak_fx *fx, const struct ortak_ledger *l, const struct ortak_fx_rate *r,
                            struct ortak__out *out) {
    uint32_t p;
    if (!memchr(r->provider, '\0', sizeof r->provider) || !ortak_bic_valid(r->provider)) return ORTAK_BIC_INVALID;
    if (!ortak_idmap_get(&l->bic_map, ortak__bic_key(r->provider), &p)) return ORTAK_PARTICIPANT_NOT_FOUND;
    if (!memchr(r->base, '\0', sizeof r->base) || !memchr(r->quote, '\0', sizeof r->quote))
        return ORTAK_CURRENCY_UNKNOWN;
    int base = ortak__ledger_currency_index(l, r->base), quote = ortak__ledger_currency_index(l, r->quote);
    if (base < 0 || quote < 0) return ORTAK_CURRENCY_UNKNOWN;
    uint32_t i = rate_find(fx, p, (uint32_t)base, (uint32_t)quote);
    if (r->withdraw) {
        if (i == NONE) return ORTAK_FX_RATE_NOT_FOUND;
        fx->rates[i] = fx->rates[--fx->rate_count];
        rate_event(out, r, false);
        return ORTAK_OK;
    }
    if (!provider_ok(l, p, (uint32_t)base, (uint32_t)quote)) return ORTAK_FX_PROVIDER_INVALID;
    if (base == quote || r->bid == 0 || r->ask < r->bid || r->ask > RATE_MAX || r->max_amount == 0 ||
        r->max_amount > ORTAK_AMOUNT_MAX || r->valid_until_ns <= out->now)
        return ORTAK_FX_RATE_INVALID;
    if (i == NONE) {
        if (fx->rate_count >= fx->rates_max) return ORTAK_FX_RATES_FULL;
        i = fx->rate_count++;
    }
    fx->rates[i] = (struct fx_rate){.bid = r->bid,
                                    .ask = r->ask,
                                    .max_amount = r->max_amount,
                                    .valid_until_ns = r->valid_until_ns,
                                    .seq = ++fx->rate_seq,
                                    .provider = p,
                                    .base = (uint16_t)base,
                                    .quote = (uint16_t)quote};
    rate_event(out, r, true);
    return ORTAK_OK;
}

/* ---- conversion -------------------------------------------------------------------------------------------- */

static uint64_t pow10u(unsigned e) {
    uint64_t v = 1;
    while (e--) v *= 10;
    return v;
}

/*
 * Converts with rate record `r` from currency `src_cur` to `tgt_cur` (one of the two orientations of its pair):
 * target = source x N / D in minor units, where N / D is the rate between minor units — bid x 10^mu(target) /
 * (10^9 x 10^mu(source)) when the provider buys base, 10^9 x 10^mu(target) / (ask x 10^mu(source)) when it sells
 * base. A fixed source gives target = floor(source x N / D); a fixed target needs source = ceil(target x D / N).
 * Fills *src, *tgt and *rate (bid or ask). ORTAK_OK, ORTAK_AMOUNT_OVERFLOW or ORTAK_AMOUNT_ZERO.
 */
static ortak_rc convert(const struct ortak_ledger *l, const struct fx_rate *r, uint32_t src_cur, uint32_t tgt_cur,
                        uint8_t fixed, uint64_t amount, uint64_t *src, uint64_t *tgt, uint64_t *rate) {
    unsigned mu_s = l->currencies[src_cur].cfg.minor_units, mu_t = l->currencies[tgt_cur].cfg.minor_units;
    bool buys_base = src_cur == r->base; /* the payer sells base to the provider, at its bid */
    *rate = buys_base ? r->bid : r->ask;
    ortak_u128 n = (ortak_u128)(buys_base ? r->bid : ORTAK_FX_RATE_SCALE) * pow10u(mu_t);
    ortak_u128 d = (ortak_u128)(buys_base ? ORTAK_FX_RATE_SCALE : r->ask) * pow10u(mu_s);
    ortak_u128 prod, result;
    if (fixed == ORTAK_FX_FIXED_SOURCE) {
        if (__builtin_mul_overflow((ortak_u128)amount, n, &prod)) return ORTAK_AMOUNT_OVERFLOW;
        result = prod / d; /* rounded down: the fraction stays with the provider */
        *src = amount;
    } else {
        if (__builtin_mul_overflow((ortak_u128)amount, d, &prod)) return ORTAK_AMOUNT_OVERFLOW;
        result = prod / n + (prod % n != 0); /* rounded up: the payer pays the fraction */
        *tgt = amount;
    }
    if (result > ORTAK_AMOUNT_MAX) return ORTAK_AMOUNT_OVERFLOW;
    if (result == 0) return ORTAK_AMOUNT_ZERO;
    if (fixed == ORTAK_FX_FIXED_SOURCE)
        *tgt = (uint64_t)result;
    else
        *src = (uint64_t)result;
    return ORTAK_OK;
}

/* ---- quotes ------------------------------------------------------------------------------------------------ */

static bool same_request(const struct ortak_fx_quote_request *a, const struct ortak_fx_quote_request *b) {
    return a->id == b->id && a->debit_account_id == b->debit_account_id &&
           a->credit_account_id == b->credit_account_id && a->amount == b->amount && a->ttl_s == b->ttl_s &&
           a->fixed == b->fixed;
}

/* The checks of a request that need no rate; resolves the payer's and payee's accounts. */
static ortak_rc request_check(const struct ortak_ledger *l, const struct ortak_fx_quote_request *q, uint32_t *dr,
                              uint32_t *cr) {
    if (q->fixed > ORTAK_FX_FIXED_TARGET || q->ttl_s > ORTAK_QUOTE_TTL_S_LIMIT) return ORTAK_QUOTE_REQUEST_INVALID;
    if (q->amount == 0) return ORTAK_AMOUNT_ZERO;
    if (q->amount > ORTAK_AMOUNT_MAX) return ORTAK_AMOUNT_OVERFLOW;
    ortak_rc rc = ortak__ledger_account_index(l, q->debit_account_id, dr);
    if (rc == ORTAK_OK) rc = ortak__ledger_account_index(l, q->credit_account_id, cr);
    if (rc != ORTAK_OK) return rc;
    const struct ldg_account *d = &l->accounts[*dr], *c = &l->accounts[*cr];
    if (d->kind != ORTAK_ACCOUNT_SETTLEMENT || c->kind != ORTAK_ACCOUNT_SETTLEMENT) return ORTAK_KIND_NOT_ALLOWED;
    if (d->status != ORTAK_ACCOUNT_STATUS_ACTIVE || c->status != ORTAK_ACCOUNT_STATUS_ACTIVE)
        return ORTAK_ACCOUNT_CLOSED;
    if (l->participant_status[d->participant] != ORTAK_PARTICIPANT_ACTIVE ||
        l->participant_status[c->participant] != ORTAK_PARTICIPANT_ACTIVE)
        return ORTAK_PARTICIPANT_NOT_ACTIVE;
    if (d->currency == c->currency) return ORTAK_FX_PAIR_UNSUPPORTED;
    return ORTAK_OK;
}

/* The best rate for the request, as struct fx_quote fields; or why there is none. */
static ortak_rc best_rate(const struct ortak_fx *fx, const struct ortak_ledger *l,
                          const struct ortak_fx_quote_request *q, uint32_t dr, uint32_t cr, ortak_time_ns now,
                          struct fx_quote *out) {
    uint32_t s = l->accounts[dr].currency, t = l->accounts[cr].currency;
    uint32_t best = NONE;
    bool any_pair = false, any_within = false;
    ortak_rc conversion = ORTAK_OK;
    for (uint32_t i = 0; i < fx->rate_count; i++) {
        const struct fx_rate *r = &fx->rates[i];
        bool pair = (r->base == s && r->quote == t) || (r->base == t && r->quote == s);
        if (!pair || r->valid_until_ns <= now || !provider_ok(l, r->provider, s, t)) continue;
        if (r->provider == l->accounts[dr].participant || r->provider == l->accounts[cr].participant) continue;
        any_pair = true;
        uint64_t src, tgt, rate;
        ortak_rc rc = convert(l, r, s, t, q->fixed, q->amount, &src, &tgt, &rate);
        if (rc != ORTAK_OK) {
            conversion = rc;
            continue;
        }
        if ((r->base == s ? src : tgt) > r->max_amount) continue;
        any_within = true;
        uint32_t target_account = settlement_account(l, r->provider, t);
        if (ortak__ledger_available(l, target_account, false) < (ortak_i128)tgt) continue;
        bool better = best == NONE ||
                      (q->fixed == ORTAK_FX_FIXED_SOURCE ? tgt > out->target_amount : src < out->source_amount) ||
                      ((q->fixed == ORTAK_FX_FIXED_SOURCE ? tgt == out->target_amount : src == out->source_amount) &&
                       r->seq < fx->rates[best].seq);
        if (!better) continue;
        best = i;
        out->source_amount = src;
        out->target_amount = tgt;
        out->rate = rate;
        out->provider = r->provider;
        out->provider_source = settlement_account(l, r->provider, s);
        out->provider_target = target_account;
    }
    if (best != NONE) return ORTAK_OK;
    if (!any_pair) return ORTAK_FX_PAIR_UNSUPPORTED;
    if (!any_within) return conversion != ORTAK_OK ? conversion : ORTAK_FX_AMOUNT_ABOVE_MAX;
    return ORTAK_FX_NO_LIQUIDITY;
}

/*
 * The operator's fee on a quote's source amount: fee_ppm millionths, rounded up (the payer pays the fraction),
 * paid to the first active operator (in admission order) with an open settlement account in the source currency.
 * ORTAK_OK (the fee is 0 only when no fee is set: rounded up, any fee_ppm charges at least one minor unit),
 * ORTAK_FX_FEE_ACCOUNT_MISSING, or ORTAK_AMOUNT_OVERFLOW when source and fee together exceed an amount.
 */
static ortak_rc fee_for(const struct ortak_fx *fx, const struct ortak_ledger *l, uint32_t source_currency,
                        struct fx_quote *quote) {
    quote->fee = 0;
    quote->fee_account = NONE;
    if (fx->fee_ppm == 0) return ORTAK_OK;
    ortak_u128 prod = (ortak_u128)quote->source_amount * fx->fee_ppm;
    quote->fee = (uint64_t)(prod / 1000000 + (prod % 1000000 != 0));
    if (quote->fee > ORTAK_AMOUNT_MAX - quote->source_amount) return ORTAK_AMOUNT_OVERFLOW;
    for (uint32_t p = 0; p < l->participant_count; p++) {
        if (l->participants[p].role != ORTAK_ROLE_OPERATOR || l->participant_status[p] != ORTAK_PARTICIPANT_ACTIVE)
            continue;
        uint32_t a = settlement_account(l, p, source_currency);
        if (account_open(l, a)) {
            quote->fee_account = a;
            return ORTAK_OK;
        }
    }
    return ORTAK_FX_FEE_ACCOUNT_MISSING;
}

void ortak__fx_quote(struct ortak_fx *fx, struct ortak_ledger *l, const struct ortak_fx_quote_request *q,
                     struct ortak__out *out, struct ortak_result *r) {
    uint32_t x, dr, cr;
    if (!ortak__id_client_valid(q->id) || q->id == ORTAK_U128_MAX) {
        r->rc = ORTAK_QUOTE_ID_INVALID;
        return;
    }
    if (ortak_idmap_get(&fx->map, q->id, &x)) {
        r->rc = same_request(&fx->quotes[x].req, q) ? ORTAK_OK : ORTAK_QUOTE_EXISTS_DIFFERENT;
        r->flags = r->rc == ORTAK_OK ? ORTAK_RESULT_REPLAYED : 0;
        return;
    }
    /* A refused request leaves nothing behind: liquidity may come, and the same request then succeed. */
    struct fx_quote quote = {.req = *q, .created_ns = out->now};
    ortak_rc rc = request_check(l, q, &dr, &cr);
    if (rc == ORTAK_OK) rc = best_rate(fx, l, q, dr, cr, out->now, &quote);
    if (rc == ORTAK_OK) rc = fee_for(fx, l, l->accounts[dr].currency, &quote);
    if (rc == ORTAK_OK && fx->quote_count >= fx->quotes_max) rc = ORTAK_QUOTES_FULL;
    if (rc != ORTAK_OK) {
        r->rc = rc;
        return;
    }
    x = fx->quote_count;
    uint32_t ttl = q->ttl_s ? q->ttl_s : fx->quote_ttl_s;
    quote.payer = dr;
    quote.payee = cr;
    quote.expires_ns = out->now + (uint64_t)ttl * ORTAK_NS_PER_S;
    struct ortak_transfer hold = {
        .id = ortak__fx_system_id(FX_ID_HOLD, x),
        .debit_account_id = l->accounts[quote.provider_target].id,
        .credit_account_id = l->accounts[cr].id,
        .user_data = q->id,
        .amount = quote.target_amount,
        .timeout_s = ttl,
        .flags = ORTAK_TRANSFER_PENDING,
        .code = 3, /* an FX quote's hold */
    };
    rc = ortak__ledger_book_own(l, &hold, 1, LDG_WAIVE_SYSTEM_ID, out);
    if (rc != ORTAK_OK) { /* the liquidity was checked: only a full table can refuse it */
        r->rc = rc;
        return;
    }
    fx->quotes[fx->quote_count++] = quote;
    int put = ortak_idmap_put(&fx->map, q->id, x);
    ORTAK_ASSERT(put == 0);
    struct ortak_event *ev = ortak__event_push(out, ORTAK_EV_FX_QUOTED);
    ev->id = q->id;
    ev->ref = hold.id;
    ev->debit_account_id = q->debit_account_id;
    ev->credit_account_id = q->credit_account_id;
    ev->amount = (int64_t)quote.source_amount;
    ev->amount_old = (int64_t)quote.target_amount;
    r->rc = ORTAK_OK;
}

/* ---- payments carrying a quote ----------------------------------------------------------------------------- */

ortak_rc ortak__fx_target_leg_check(const struct ortak_fx *fx, const struct ortak_ledger *l, uint32_t quote,
                                    ortak_time_ns now) {
    const struct fx_quote *q = &fx->quotes[quote];
    if (!ortak__ledger_pending_usable(l, ortak__fx_system_id(FX_ID_HOLD, quote), now) || q->expires_ns <= now)
        return ORTAK_QUOTE_EXPIRED;
    /* The post of a hold checks no participant: a payee suspended or closed since the quote receives nothing. */
    if (l->participant_status[l->accounts[q->payee].participant] != ORTAK_PARTICIPANT_ACTIVE)
        return ORTAK_PARTICIPANT_NOT_ACTIVE;
    if (q->fee_account != NONE) { /* the fee leg: booked with the chain, checked here as the queue's payee is not */
        if (!account_open(l, q->fee_account)) return ORTAK_ACCOUNT_CLOSED;
        if (l->participant_status[l->accounts[q->fee_account].participant] != ORTAK_PARTICIPANT_ACTIVE)
            return ORTAK_PARTICIPANT_NOT_ACTIVE;
    }
    return ORTAK_OK;
}

ortak_rc ortak__fx_quote_check(const struct ortak_fx *fx, const struct ortak_ledger *l, ortak_u128 id, uint32_t dr,
                               ortak_u128 credit_id, uint64_t amount, ortak_time_ns now, uint32_t *quote,
                               uint32_t *provider_source, ortak_time_ns *expires_ns) {
    uint32_t x;
    if (!ortak_idmap_get(&fx->map, id, &x)) return ORTAK_QUOTE_NOT_FOUND;
    const struct fx_quote *q = &fx->quotes[x];
    if (q->payer != dr) return ORTAK_QUOTE_OTHER_PAYER;
    if (q->req.credit_account_id != credit_id || q->source_amount + q->fee != amount) return ORTAK_QUOTE_MISMATCH;
    if (q->payment_id != 0) return ORTAK_QUOTE_USED;
    ortak_rc rc = ortak__fx_target_leg_check(fx, l, x, now);
    if (rc != ORTAK_OK) return rc;
    *quote = x;
    *provider_source = q->provider_source;
    *expires_ns = q->expires_ns;
    return ORTAK_OK;
}

void ortak__fx_quote_bind(struct ortak_fx *fx, uint32_t quote, ortak_u128 payment_id) {
    ORTAK_ASSERT(fx->quotes[quote].payment_id == 0);
    fx->quotes[quote].payment_id = payment_id;
}

struct ortak_transfer ortak__fx_post(const struct ortak_fx *fx, uint32_t quote) {
    return (struct ortak_transfer){
        .id = ortak__fx_system_id(FX_ID_POST, quote),
        .pending_id = ortak__fx_system_id(FX_ID_HOLD, quote),
        .user_data = fx->quotes[quote].req.id,
        .amount = fx->quotes[quote].target_amount,
        .flags = ORTAK_TRANSFER_POST_PENDING,
        .code = 3,
    };
}

uint64_t ortak__fx_fee(const struct ortak_fx *fx, uint32_t quote) { return fx->quotes[quote].fee; }

struct ortak_transfer ortak__fx_fee_leg(const struct ortak_fx *fx, const struct ortak_ledger *l, uint32_t quote) {
    const struct fx_quote *q = &fx->quotes[quote];
    return (struct ortak_transfer){
        .id = ortak__fx_system_id(FX_ID_FEE, quote),
        .debit_account_id = q->req.debit_account_id,
        .credit_account_id = l->accounts[q->fee_account].id,
        .user_data = q->req.id,
        .amount = q->fee,
        .code = 4, /* an FX fee */
    };
}

void ortak__fx_release(struct ortak_fx *fx, struct ortak_ledger *l, uint32_t quote, struct ortak__out *out) {
    if (!ortak__ledger_pending_usable(l, ortak__fx_system_id(FX_ID_HOLD, quote), out->now)) return; /* expired */
    struct ortak_transfer t = {
        .id = ortak__fx_system_id(FX_ID_VOID, quote),
        .pending_id = ortak__fx_system_id(FX_ID_HOLD, quote),
        .user_data = fx->quotes[quote].req.id,
        .flags = ORTAK_TRANSFER_VOID_PENDING,
        .code = 3,
    };
    ortak_rc rc = ortak__ledger_book_own(l, &t, 1, LDG_WAIVE_SYSTEM_ID, out);
    ORTAK_ASSERT(rc == ORTAK_OK); /* the hold is open */
}
