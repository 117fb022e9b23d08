/*
 * bench_fx: cross-currency payments, payment versus payment, through the engine.
 *
 * A cross-currency payment takes two commands (fx.h): an FX quote, which picks the best provider's rate, converts
 * and holds the target amount with a pending transfer, and then the payment that carries the quote, which settles
 * both legs as one chain (payer -> provider in the source currency, the hold posted provider -> payee in the target
 * currency). This program times both through ortak_engine_apply for 200,000 such pairs among 100 banks: quotes per
 * second, PvP payments per second, and the end-to-end rate of quote + payment pairs. Every batch is full: a batch of
 * batch_max quotes, each read back with ortak_fx_quote_get for its source amount, then the batch of the payments
 * carrying them, each batch a millisecond of engine time after the last.
 *
 * The run: four currencies (AZN, KZT, UZS, TRY), each with its central bank and issuance account. Three FX
 * providers hold settlement accounts in all four and publish a rate for each of the six pairs, valid all day, around
 * a mid rate the seed skews by up to SKEW_BP per provider and pair, each provider with its own spread; the keenest
 * one quotes only up to KEEN_MAX_USD, so the large payments go to the others. Banks are spread evenly over the four
 * countries, one settlement account each in their currency. Payers and payees are drawn with shares falling as
 * 1/rank (as in bench_netting), never in the same currency; each quote fixes the source or the target amount at
 * random, with a heavy-tailed value in US cents converted to that currency. Everything follows from --seed.
 *
 * The program predicts every quote from the published rates (fx.h: the best for the bank, rounded in the provider's
 * favour) and funds each bank with exactly what it will send and each provider, in every currency, with all that
 * the quotes pay out in it, so every payment settles at once. It checks each quote read back against its
 * prediction, each payment's results and events, and at the end: a PAYMENT_SETTLED event per payment, a sample of
 * quotes and payments settled, every currency's balances summing to zero, every provider's balance change in every
 * currency equal to what its quotes say (source amounts received less target amounts paid), every bank's to what it
 * sent and received, no hold left open, and the transfers booked. Any discrepancy exits 1; a usage error exits 2.
 *
 * Usage: bench_fx [--quick] [--payments N] [--banks N] [--seed N]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/base/slice.h"
#include "bench.h"
#include "ortak/engine.h"

#define CURRENCIES 4u
#define PROVIDERS 3u
#define PAIRS 6u
#define T0 (UINT64_C(1767225600) * ORTAK_NS_PER_S)
/* Rates quote for a day of engine time: far beyond any run (a batch takes a millisecond). */
#define RATE_VALID_NS (UINT64_C(86400) * ORTAK_NS_PER_S)
/* Each provider's rate for a pair sits up to this many basis points either side of the pair's mid rate. */
#define SKEW_BP 25
/* The most the keenest provider converts in one quote, in US dollars' worth of the pair's base currency. */
#define KEEN_MAX_USD 25000u
/* Quotes and payments read back at the end: evenly spread over the run, the last one included. */
#define SAMPLE 1000u

/* A currency of the run: its code, its country, and what one US dollar buys of it, x 10^4. */
struct currency {
    const char *code, *country;
    uint64_t per_usd_e4;
};

static const struct currency currencies[CURRENCIES] = {
    {"AZN", "AZ", 17000},
    {"KZT", "KZ", 5050000},
    {"UZS", "UZ", 126000000},
    {"TRY", "TR", 410000},
};

/* The six pairs, base / quote (indices into currencies[]), the stronger currency as base. */
static const uint8_t pairs[PAIRS][2] = {{0, 1}, {0, 2}, {0, 3}, {3, 1}, {3, 2}, {1, 2}};

struct provider {
    const char *bic, *name;
    uint64_t half_spread_bp;
    uint64_t max_usd; /* 0: up to ORTAK_AMOUNT_MAX */
};

static const struct provider providers[PROVIDERS] = {
    {"CSPFAZ22", "Caspian FX", 15, KEEN_MAX_USD},
    {"TRNFKZKA", "Turan FX", 20, 0},
    {"SLKRTRIS", "Silk Road FX", 25, 0},
};

struct run {
    uint32_t payments, banks;
    uint64_t seed;
};

struct rate {
    uint64_t bid, ask, max_amount;
};

/* One quote and the payment that carries it, with the quote the program predicts. */
struct order {
    uint32_t payer, payee;
    uint64_t amount; /* of the fixed side, in its currency's minor units */
    uint8_t fixed;   /* enum ortak_fx_fixed */
    uint8_t provider;
    uint64_t source, target, rate;
};

struct workload {
    unsigned minor_units[CURRENCIES];
    struct rate rates[PROVIDERS][PAIRS];
    struct order *orders;
    int64_t *bank_funding;                /* per bank: all it sends */
    int64_t provider_funding[CURRENCIES]; /* per provider and currency: all the quotes pay out in it, and 1 */
    uint32_t fixed_target;
};

/* What the run did, from results, events and quotes read back. */
struct outcome {
    double quotes_s, payments_s, wall_s; /* the first two in ortak_engine_apply */
    uint32_t batches;
    uint32_t quoted, held, settled, legs, posted; /* events */
    uint32_t won[PROVIDERS];
    ortak_i128 provider_flow[PROVIDERS][CURRENCIES]; /* source received less target paid */
    ortak_i128 *bank_flow;                           /* target received less source paid */
};

static ortak_u128 issuance_id(uint32_t c) { return 1 + (ortak_u128)c; }
static ortak_u128 provider_account_id(uint32_t p, uint32_t c) { return 100 + (ortak_u128)(p * CURRENCIES + c); }
static ortak_u128 settlement_id(uint32_t bank) { return 1000000 + (ortak_u128)bank; }
static ortak_u128 payment_id(uint32_t k) { return ((ortak_u128)1 << 64) | k; }
static ortak_u128 quote_id(uint32_t k) { return ((ortak_u128)3 << 64) | k; }
static uint32_t bank_currency(uint32_t bank) { return bank % CURRENCIES; }

/* Applies commands in batches of at most batch_max; exits on any refusal. Returns the seconds spent applying. */
static double apply(struct ortak_engine *e, const struct ortak_cmd *cmds, uint32_t n, struct ortak_result *res) {
    uint32_t max = ortak_engine_config(e)->limits.batch_max;
    uint64_t spent = 0;
    for (uint32_t i = 0; i < n; i += max) {
        uint32_t k = n - i < max ? n - i : max;
        uint64_t t0 = bench_now_ns();
        if (ortak_engine_apply(e, cmds + i, k, res) != ORTAK_OK) abort();
        spent += bench_now_ns() - t0;
        for (uint32_t j = 0; j < k; j++) {
            if (res[j].rc != ORTAK_OK || res[j].flags != 0) {
                fprintf(stderr, "bench_fx: command %u refused or not done at once: %s\n", i + j,
                        ortak_rc_name((ortak_rc)res[j].rc));
                exit(1);
            }
        }
    }
    return (double)spent / 1e9;
}

static uint64_t pow10u(unsigned e) {
    uint64_t v = 1;
    while (e--) v *= 10;
    return v;
}

/* `usd_cents` of US money in minor units of currency c, rounded down. */
static uint64_t from_cents(const struct workload *w, uint32_t c, uint64_t usd_cents) {
    ortak_u128 v = (ortak_u128)usd_cents * currencies[c].per_usd_e4 * pow10u(w->minor_units[c]);
    return (uint64_t)(v / 1000000); /* cents per dollar x the 10^4 of per_usd_e4 */
}

/* Bank i's BIC: a four-letter code from its index, in its currency's country. */
static void bank_bic(uint32_t i, char bic[12]) {
    char code[5];
    uint32_t c = bank_currency(i);
    bench_bank_code(i, code);
    snprintf(bic, 12, "%s%sBA", code, currencies[c].country);
}

/* Every provider's rate for every pair: the mid rate skewed by the seed, its spread either side. */
static void make_rates(struct workload *w, uint64_t *rs) {
    for (uint32_t p = 0; p < PROVIDERS; p++) {
        for (uint32_t k = 0; k < PAIRS; k++) {
            uint32_t base = pairs[k][0], quote = pairs[k][1];
            ortak_u128 mid =
                (ortak_u128)currencies[quote].per_usd_e4 * ORTAK_FX_RATE_SCALE / currencies[base].per_usd_e4;
            uint64_t skew = 10000 - SKEW_BP + ortak_rng_below(rs, 2 * SKEW_BP + 1);
            mid = mid * skew / 10000;
            struct rate *r = &w->rates[p][k];
            r->bid = (uint64_t)(mid * (10000 - providers[p].half_spread_bp) / 10000);
            r->ask = (uint64_t)(mid * (10000 + providers[p].half_spread_bp) / 10000);
            r->max_amount =
                providers[p].max_usd ? from_cents(w, base, (uint64_t)providers[p].max_usd * 100) : ORTAK_AMOUNT_MAX;
        }
    }
}

/*
 * Converts the fixed side of order `o` with rate `r` as fx.h prices it: the provider buys the base currency at its
 * bid and sells it at its ask (quote units per base unit x 10^9); a fixed source gives the target rounded down, a
 * fixed target needs the source rounded up. False when the result is zero or too large.
 */
static bool convert(const struct workload *w, const struct rate *r, bool source_is_base, const struct order *o,
                    uint64_t *src, uint64_t *tgt, uint64_t *rate) {
    uint32_t s = bank_currency(o->payer), t = bank_currency(o->payee);
    *rate = source_is_base ? r->bid : r->ask;
    /* target minor units per source minor unit = num / den */
    ortak_u128 num = (ortak_u128)(source_is_base ? r->bid : ORTAK_FX_RATE_SCALE) * pow10u(w->minor_units[t]);
    ortak_u128 den = (ortak_u128)(source_is_base ? ORTAK_FX_RATE_SCALE : r->ask) * pow10u(w->minor_units[s]);
    ortak_u128 v = o->fixed == ORTAK_FX_FIXED_SOURCE ? o->amount * num / den : (o->amount * den + num - 1) / num;
    if (v == 0 || v > ORTAK_AMOUNT_MAX) return false;
    *src = o->fixed == ORTAK_FX_FIXED_SOURCE ? o->amount : (uint64_t)v;
    *tgt = o->fixed == ORTAK_FX_FIXED_SOURCE ? (uint64_t)v : o->amount;
    return true;
}

/* The quote the engine should give order `o`: the best for the bank within each rate's maximum, ties to the rate
   published first (providers publish in order). False when no rate can serve it. */
static bool predict(const struct workload *w, struct order *o) {
    uint32_t s = bank_currency(o->payer), t = bank_currency(o->payee), k = 0;
    while (!((pairs[k][0] == s && pairs[k][1] == t) || (pairs[k][0] == t && pairs[k][1] == s))) k++;
    bool source_is_base = pairs[k][0] == s, found = false;
    for (uint32_t p = 0; p < PROVIDERS; p++) {
        uint64_t src, tgt, rate;
        if (!convert(w, &w->rates[p][k], source_is_base, o, &src, &tgt, &rate)) continue;
        if ((source_is_base ? src : tgt) > w->rates[p][k].max_amount) continue;
        if (found && (o->fixed == ORTAK_FX_FIXED_SOURCE ? tgt <= o->target : src >= o->source)) continue;
        found = true;
        o->provider = (uint8_t)p;
        o->source = src;
        o->target = tgt;
        o->rate = rate;
    }
    return found;
}

/* Draws the run's rates and orders, predicts every quote and sizes the funding (deterministic for its seed). */
static void generate(const struct run *r, const struct ortak_config *cfg, struct workload *w) {
    for (uint32_t c = 0; c < CURRENCIES; c++) {
        uint32_t i = 0;
        while (i < cfg->currency_count && strcmp(cfg->currencies[i].code, currencies[c].code) != 0) i++;
        if (i == cfg->currency_count) abort();
        w->minor_units[c] = cfg->currencies[i].minor_units;
    }
    for (uint32_t c = 0; c < CURRENCIES; c++) w->provider_funding[c] = 1; /* a unit even where no quote pays out */
    uint64_t rs = r->seed;
    make_rates(w, &rs);
    w->orders = bench_calloc("bench_fx", r->payments, sizeof *w->orders);
    w->bank_funding = bench_calloc("bench_fx", r->banks, sizeof *w->bank_funding);
    double *cum = bench_calloc("bench_fx", r->banks, sizeof *cum);
    for (uint32_t i = 0; i < r->banks; i++) cum[i] = (i ? cum[i - 1] : 0) + 1.0 / (i + 1);
    for (uint32_t k = 0; k < r->payments; k++) {
        struct order *o = &w->orders[k];
        o->payer = bench_skewed_bank(&rs, cum, r->banks);
        do o->payee = bench_skewed_bank(&rs, cum, r->banks);
        while (bank_currency(o->payee) == bank_currency(o->payer));
        o->fixed = (uint8_t)ortak_rng_below(&rs, 2);
        uint64_t cents = 1000 + ortak_rng_below(&rs, 9000);
        for (int d = 0; d < 16 && ortak_rng_below(&rs, 2); d++) cents *= 2;
        o->amount = from_cents(w, bank_currency(o->fixed == ORTAK_FX_FIXED_SOURCE ? o->payer : o->payee), cents);
        if (!predict(w, o)) abort(); /* two providers quote any amount */
        w->fixed_target += o->fixed == ORTAK_FX_FIXED_TARGET;
        w->bank_funding[o->payer] += (int64_t)o->source;
        w->provider_funding[bank_currency(o->payee)] += (int64_t)o->target;
    }
    free(cum);
}

static void workload_free(struct workload *w) {
    free(w->orders);
    free(w->bank_funding);
}

/* The configuration of the run: limits sized for it, no periodic gridlock runs, no offsetting. */
static void configure(const struct run *r, struct ortak_config *cfg) {
    ortak_config_default(cfg);
    cfg->limits.participants_max = r->banks + CURRENCIES + PROVIDERS + 8;
    cfg->limits.accounts_max = r->banks + CURRENCIES * (PROVIDERS + 1) + 16;
    cfg->limits.payments_max = r->payments + 16;
    cfg->limits.quotes_max = r->payments + 16;
    /* Funding, then three per pair: the quote's hold, the payment's leg in the source currency, the hold's post. */
    uint32_t funding = r->banks + CURRENCIES * PROVIDERS;
    cfg->limits.transfers_max = 3 * r->payments + funding + 64;
    cfg->limits.pending_max = cfg->limits.batch_max; /* the holds of one batch of quotes are open at once */
    /* Two postings per transfer that moves money: the funding, and per pair the payment's leg and the hold's post. */
    cfg->limits.history_max = 2 * (2 * r->payments + funding) + 64;
    cfg->settlement.gridlock_interval_ms = 0;
    cfg->settlement.offsetting = false;
}

static const struct ortak_currency_config *currency_config(const struct ortak_config *cfg, uint32_t c) {
    for (uint32_t i = 0; i < cfg->currency_count; i++)
        if (strcmp(cfg->currencies[i].code, currencies[c].code) == 0) return &cfg->currencies[i];
    abort();
}

static void participant(struct ortak_cmd *c, ortak_time_ns t, const char *bic, const char *name, const char *country,
                        uint8_t role) {
    *c = (struct ortak_cmd){.timestamp = t, .kind = ORTAK_CMD_PARTICIPANT_CREATE};
    struct ortak_participant_create *pc = &c->u.participant_create;
    snprintf(pc->bic, sizeof pc->bic, "%s", bic);
    snprintf(pc->name, sizeof pc->name, "%s", name);
    snprintf(pc->country, sizeof pc->country, "%s", country);
    pc->role = role;
}

static void account(struct ortak_cmd *c, ortak_time_ns t, const char *bic, ortak_u128 id, uint32_t cur, uint8_t kind) {
    *c = (struct ortak_cmd){.timestamp = t, .kind = ORTAK_CMD_ACCOUNT_CREATE};
    c->u.account_create = (struct ortak_account_create){.id = id, .kind = kind};
    snprintf(c->u.account_create.bic, sizeof c->u.account_create.bic, "%s", bic);
    snprintf(c->u.account_create.currency, sizeof c->u.account_create.currency, "%s", currencies[cur].code);
}

static void issue(struct ortak_cmd *c, ortak_time_ns t, uint32_t k, uint32_t cur, ortak_u128 to, int64_t amount) {
    *c = (struct ortak_cmd){.timestamp = t, .kind = ORTAK_CMD_TRANSFER};
    c->u.transfer = (struct ortak_transfer){.id = ((ortak_u128)2 << 64) | k,
                                            .debit_account_id = issuance_id(cur),
                                            .credit_account_id = to,
                                            .amount = (uint64_t)amount};
}

/* The central banks, the providers and the banks, with their accounts. Returns the number of commands. */
static uint32_t admit(const struct run *r, const struct ortak_config *cfg, struct ortak_cmd *cmds, ortak_time_ns t) {
    uint32_t n = 0;
    for (uint32_t c = 0; c < CURRENCIES; c++) {
        const struct ortak_currency_config *cc = currency_config(cfg, c);
        participant(&cmds[n++], t, cc->agent_bic, cc->agent_name, currencies[c].country, ORTAK_ROLE_CENTRAL_BANK);
        account(&cmds[n++], t, cc->agent_bic, issuance_id(c), c, ORTAK_ACCOUNT_ISSUANCE);
    }
    for (uint32_t p = 0; p < PROVIDERS; p++) {
        participant(&cmds[n++], t, providers[p].bic, providers[p].name, "", ORTAK_ROLE_FX_PROVIDER);
        for (uint32_t c = 0; c < CURRENCIES; c++)
            account(&cmds[n++], t, providers[p].bic, provider_account_id(p, c), c, ORTAK_ACCOUNT_SETTLEMENT);
    }
    for (uint32_t i = 0; i < r->banks; i++) {
        char bic[12], name[32];
        bank_bic(i, bic);
        snprintf(name, sizeof name, "Bank %u", i);
        participant(&cmds[n++], t, bic, name, currencies[bank_currency(i)].country, ORTAK_ROLE_BANK);
        account(&cmds[n++], t, bic, settlement_id(i), bank_currency(i), ORTAK_ACCOUNT_SETTLEMENT);
    }
    return n;
}

/* Funding from the issuance accounts, then the rates. Returns the number of commands; *funded: transfers. */
static uint32_t fund_and_publish(const struct run *r, const struct workload *w, struct ortak_cmd *cmds, ortak_time_ns t,
                                 uint32_t *funded) {
    uint32_t n = 0;
    for (uint32_t p = 0; p < PROVIDERS; p++) {
        for (uint32_t c = 0; c < CURRENCIES; c++) {
            issue(&cmds[n], t, n, c, provider_account_id(p, c), w->provider_funding[c]);
            n++;
        }
    }
    for (uint32_t i = 0; i < r->banks; i++) {
        if (w->bank_funding[i] == 0) continue;
        issue(&cmds[n], t, n, bank_currency(i), settlement_id(i), w->bank_funding[i]);
        n++;
    }
    *funded = n;
    for (uint32_t p = 0; p < PROVIDERS; p++) {
        for (uint32_t k = 0; k < PAIRS; k++) {
            cmds[n] = (struct ortak_cmd){.timestamp = t, .kind = ORTAK_CMD_FX_RATE_SET};
            struct ortak_fx_rate *fr = &cmds[n++].u.fx_rate;
            *fr = (struct ortak_fx_rate){.bid = w->rates[p][k].bid,
                                         .ask = w->rates[p][k].ask,
                                         .max_amount = w->rates[p][k].max_amount,
                                         .valid_until_ns = T0 + RATE_VALID_NS};
            snprintf(fr->provider, sizeof fr->provider, "%s", providers[p].bic);
            snprintf(fr->base, sizeof fr->base, "%s", currencies[pairs[k][0]].code);
            snprintf(fr->quote, sizeof fr->quote, "%s", currencies[pairs[k][1]].code);
        }
    }
    return n;
}

/* Opens the engine of `r` with every participant and account, funded, and the rates published. */
static struct ortak_engine *build(const struct run *r, const struct workload *w, uint32_t *funded) {
    struct ortak_config cfg;
    configure(r, &cfg);
    struct ortak_engine *e;
    if (ortak_engine_open(&cfg, &e) != ORTAK_OK) abort();
    struct ortak_cmd *cmds = bench_calloc("bench_fx", 2 * (size_t)r->banks + 64, sizeof *cmds);
    struct ortak_result *res = bench_calloc("bench_fx", cfg.limits.batch_max, sizeof *res);
    apply(e, cmds, admit(r, &cfg, cmds, T0), res);
    apply(e, cmds, fund_and_publish(r, w, cmds, T0 + ORTAK_NS_PER_S, funded), res);
    free(cmds);
    free(res);
    return e;
}

/* Whether quote k, read back, is what the program predicted, open and unused, given at `t`. */
static bool quote_as_predicted(const struct ortak_fx_quote_info *qi, const struct order *o, ortak_time_ns t,
                               const struct ortak_config *cfg) {
    return qi->state == ORTAK_QUOTE_STATE_OPEN && qi->payment_id == 0 &&
           strcmp(qi->provider, providers[o->provider].bic) == 0 &&
           strcmp(qi->source, currencies[bank_currency(o->payer)].code) == 0 &&
           strcmp(qi->target, currencies[bank_currency(o->payee)].code) == 0 && qi->source_amount == o->source &&
           qi->target_amount == o->target && qi->rate == o->rate && qi->created_ns == t &&
           qi->expires_ns == t + (ortak_time_ns)cfg->settlement.quote_ttl_s * ORTAK_NS_PER_S;
}

/*
 * Quotes for orders [i, i + k) as one batch at `t`: each given with its hold (its events checked), read back and
 * checked against its prediction; its source amount goes into amounts[]. Returns the seconds in apply.
 */
static double quote_batch(struct ortak_engine *e, const struct workload *w, uint32_t i, uint32_t k, ortak_time_ns t,
                          struct ortak_cmd *cmds, struct ortak_result *res, uint64_t *amounts, struct outcome *out) {
    for (uint32_t j = 0; j < k; j++) {
        const struct order *o = &w->orders[i + j];
        cmds[j] = (struct ortak_cmd){.timestamp = t, .kind = ORTAK_CMD_FX_QUOTE};
        cmds[j].u.fx_quote = (struct ortak_fx_quote_request){.id = quote_id(i + j),
                                                             .debit_account_id = settlement_id(o->payer),
                                                             .credit_account_id = settlement_id(o->payee),
                                                             .amount = o->amount,
                                                             .fixed = o->fixed};
    }
    double s = apply(e, cmds, k, res);
    uint32_t n;
    const struct ortak_event *ev = ortak_engine_events(e, &n);
    bool ok = n == 2 * k;
    for (uint32_t j = 0; ok && j < k; j++)
        ok = ev[2 * j].kind == ORTAK_EV_PENDING_CREATED && ev[2 * j + 1].kind == ORTAK_EV_FX_QUOTED &&
             ev[2 * j + 1].id == quote_id(i + j) && ev[2 * j + 1].ref == ev[2 * j].id;
    if (!ok) {
        fprintf(stderr, "bench_fx: a batch of quotes did not give a hold and a quote each\n");
        exit(1);
    }
    out->held += k;
    out->quoted += k;
    const struct ortak_fx *fx = ortak_engine_fx(e);
    for (uint32_t j = 0; j < k; j++) {
        const struct order *o = &w->orders[i + j];
        struct ortak_fx_quote_info qi;
        if (ortak_fx_quote_get(fx, quote_id(i + j), &qi) != ORTAK_OK ||
            !quote_as_predicted(&qi, o, t, ortak_engine_config(e)) ||
            ev[2 * j + 1].amount != (int64_t)qi.source_amount ||
            ev[2 * j + 1].amount_old != (int64_t)qi.target_amount) {
            fprintf(stderr, "bench_fx: quote %u is not the one its rates give\n", i + j);
            exit(1);
        }
        amounts[j] = qi.source_amount;
        out->won[o->provider]++;
        out->provider_flow[o->provider][bank_currency(o->payer)] += (ortak_i128)qi.source_amount;
        out->provider_flow[o->provider][bank_currency(o->payee)] -= (ortak_i128)qi.target_amount;
        out->bank_flow[o->payer] -= (ortak_i128)qi.source_amount;
        out->bank_flow[o->payee] += (ortak_i128)qi.target_amount;
    }
    return s;
}

/*
 * The payments carrying quotes [i, i + k), for their source amounts, as one batch at `t`: each settled at once, both
 * legs, with nothing but the two legs' and the settlement's events. Returns the seconds in apply.
 */
static double payment_batch(struct ortak_engine *e, const struct workload *w, uint32_t i, uint32_t k, ortak_time_ns t,
                            struct ortak_cmd *cmds, struct ortak_result *res, const uint64_t *amounts,
                            struct outcome *out) {
    for (uint32_t j = 0; j < k; j++) {
        const struct order *o = &w->orders[i + j];
        cmds[j] = (struct ortak_cmd){.timestamp = t, .kind = ORTAK_CMD_PAYMENT_SUBMIT};
        cmds[j].u.payment = (struct ortak_payment){.id = payment_id(i + j),
                                                   .debit_account_id = settlement_id(o->payer),
                                                   .credit_account_id = settlement_id(o->payee),
                                                   .uetr = payment_id(i + j),
                                                   .quote_id = quote_id(i + j),
                                                   .amount = amounts[j],
                                                   .priority = ORTAK_PRIORITY_NORMAL,
                                                   .method = ORTAK_METHOD_GROSS};
    }
    double s = apply(e, cmds, k, res);
    uint32_t n, settled = 0, legs = 0, posted = 0;
    const struct ortak_event *ev = ortak_engine_events(e, &n);
    for (uint32_t j = 0; j < n; j++) {
        switch (ev[j].kind) {
        case ORTAK_EV_PAYMENT_SETTLED: settled++; break;
        case ORTAK_EV_TRANSFER_POSTED: legs++; break;
        case ORTAK_EV_PENDING_POSTED: posted++; break;
        default: fprintf(stderr, "bench_fx: a batch of payments gave an event of kind %u\n", ev[j].kind); exit(1);
        }
    }
    if (legs != settled || posted != settled) {
        fprintf(stderr, "bench_fx: a batch of payments did not book both legs of each settled payment\n");
        exit(1);
    }
    out->settled += settled;
    out->legs += legs;
    out->posted += posted;
    return s;
}

/* Every order: a full batch of quotes, then the batch of the payments carrying them, a millisecond apart. */
static void run_orders(struct ortak_engine *e, const struct run *r, const struct workload *w, struct outcome *out) {
    uint32_t max = ortak_engine_config(e)->limits.batch_max;
    struct ortak_cmd *cmds = bench_calloc("bench_fx", max, sizeof *cmds);
    struct ortak_result *res = bench_calloc("bench_fx", max, sizeof *res);
    uint64_t *amounts = bench_calloc("bench_fx", max, sizeof *amounts);
    ortak_time_ns t = ortak_engine_now(e) + ORTAK_NS_PER_S;
    uint64_t t0 = bench_now_ns();
    for (uint32_t i = 0; i < r->payments; i += max, t += ORTAK_NS_PER_S / 500) {
        uint32_t k = r->payments - i < max ? r->payments - i : max;
        out->quotes_s += quote_batch(e, w, i, k, t, cmds, res, amounts, out);
        out->payments_s += payment_batch(e, w, i, k, t + ORTAK_NS_PER_S / 1000, cmds, res, amounts, out);
        out->batches++;
    }
    out->wall_s = (double)(bench_now_ns() - t0) / 1e9;
    free(cmds);
    free(res);
    free(amounts);
}

static bool fail(const char *what) {
    fprintf(stderr, "bench_fx: %s\n", what);
    return false;
}

/* A sample of quotes and payments, read back: every quote settled by its payment, every payment settled. */
static bool verify_sample(const struct ortak_engine *e, const struct run *r, const struct workload *w) {
    const struct ortak_fx *fx = ortak_engine_fx(e);
    const struct ortak_settle *s = ortak_engine_settle(e);
    if (ortak_settle_payment_count(s) != r->payments) return fail("payments recorded differ from those submitted");
    for (uint32_t i = 0; i <= SAMPLE; i++) {
        uint32_t k = (uint32_t)((uint64_t)(r->payments - 1) * i / SAMPLE);
        struct ortak_fx_quote_info qi;
        struct ortak_payment_info pi;
        if (ortak_fx_quote_get(fx, quote_id(k), &qi) != ORTAK_OK) return fail("a quote is missing");
        if (qi.state != ORTAK_QUOTE_STATE_SETTLED || qi.payment_id != payment_id(k))
            return fail("a quote was not settled by its payment");
        if (ortak_settle_payment_get(s, payment_id(k), &pi) != ORTAK_OK) return fail("a payment is missing");
        if (pi.state != ORTAK_PAYMENT_SETTLED || pi.ended_ns != pi.received_ns || pi.p.quote_id != quote_id(k) ||
            pi.p.amount != w->orders[k].source)
            return fail("a payment was not settled at once, as submitted");
    }
    return true;
}

static bool verify_balance(const struct ortak_ledger *l, ortak_u128 id, ortak_i128 expected) {
    struct ortak_account_info ai;
    return ortak_ledger_account_get(l, id, &ai) == ORTAK_OK && ai.balance == expected && ai.debits_pending == 0 &&
           ai.credits_pending == 0 && ai.pending_count == 0;
}

/* Providers' and banks' balances as the quotes say, no hold left, every currency's balances summing to zero. */
static bool verify_ledger(const struct ortak_engine *e, const struct run *r, const struct workload *w,
                          const struct outcome *out, uint32_t funded) {
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    for (uint32_t p = 0; p < PROVIDERS; p++)
        for (uint32_t c = 0; c < CURRENCIES; c++)
            if (!verify_balance(l, provider_account_id(p, c), w->provider_funding[c] + out->provider_flow[p][c]))
                return fail("a provider's balance change differs from what its quotes say, or a hold is left");
    for (uint32_t b = 0; b < r->banks; b++)
        if (!verify_balance(l, settlement_id(b), w->bank_funding[b] + out->bank_flow[b]))
            return fail("a bank's balance differs from what it sent and received, or a hold is left");
    for (uint32_t c = 0; c < ortak_ledger_currency_count(l); c++) {
        struct ortak_currency_info ci;
        ortak_ledger_currency_at(l, c, &ci);
        ortak_i128 sum = 0;
        for (uint32_t i = 0; i < ortak_ledger_account_count(l); i++) {
            struct ortak_account_info ai;
            ortak_ledger_account_at(l, i, &ai);
            if (strcmp(ai.currency, ci.code) == 0) sum += ai.balance;
        }
        if (sum != 0) return fail("the balances of a currency do not sum to zero");
    }
    if (ortak_ledger_transfer_count(l) != funded + 3 * r->payments)
        return fail("transfers recorded differ from the funding and three per payment");
    return true;
}

static bool verify(const struct ortak_engine *e, const struct run *r, const struct workload *w,
                   const struct outcome *out, uint32_t funded) {
    if (out->settled != r->payments) return fail("PAYMENT_SETTLED events differ from the payments");
    if (out->quoted != r->payments || out->held != r->payments) return fail("quotes given differ from those asked");
    return verify_sample(e, r, w) && verify_ledger(e, r, w, out, funded);
}

static void report(const struct ortak_engine *e, const struct run *r, const struct workload *w,
                   const struct outcome *out) {
    double both = out->quotes_s + out->payments_s;
    uint32_t max = ortak_engine_config(e)->limits.batch_max;
    printf("FX payment versus payment: a quote, then the payment carrying it, both legs settled at once\n");
    printf("  %-24s %14u   (seed %" PRIu64 "; %u fixed source, %u fixed target; heavy-tailed values)\n", "payments",
           r->payments, r->seed, r->payments - w->fixed_target, w->fixed_target);
    printf("  %-24s %14u   (", "banks", r->banks);
    for (uint32_t c = 0; c < CURRENCIES; c++)
        printf("%s %u, ", currencies[c].code, (r->banks + CURRENCIES - 1 - c) / CURRENCIES);
    printf("one settlement account each; shares falling as 1/rank)\n");
    printf("  %-24s %14u   (%u rates; quotes won:", "FX providers", PROVIDERS, PROVIDERS * PAIRS);
    for (uint32_t p = 0; p < PROVIDERS; p++)
        printf(" %s %.1f%%%s", providers[p].name, 100.0 * out->won[p] / r->payments, p + 1 < PROVIDERS ? "," : ")\n");
    printf("  %-24s %14.0f   (%u batches of at most %u: %.3f s in ortak_engine_apply)\n", "quotes per second",
           out->quotes_s > 0 ? r->payments / out->quotes_s : 0.0, out->batches, max, out->quotes_s);
    printf("  %-24s %14.0f   (%u batches of at most %u: %.3f s in ortak_engine_apply)\n", "PvP payments per second",
           out->payments_s > 0 ? r->payments / out->payments_s : 0.0, out->batches, max, out->payments_s);
    printf("  %-24s %14.0f   (quote + payment: %.3f s in ortak_engine_apply)\n", "pairs per second",
           both > 0 ? r->payments / both : 0.0, both);
    printf("  %-24s %14.0f   (%.3f s, with each quote read back and the commands built)\n", "pairs per second, wall",
           out->wall_s > 0 ? r->payments / out->wall_s : 0.0, out->wall_s);
    printf("  %-24s %14u   (%u PENDING_CREATED, %u FX_QUOTED, %u TRANSFER_POSTED, %u PENDING_POSTED, "
           "%u PAYMENT_SETTLED)\n",
           "events", out->held + out->quoted + out->legs + out->posted + out->settled, out->held, out->quoted,
           out->legs, out->posted, out->settled);
    printf("  %-24s %14.1f   MiB\n", "engine memory", (double)ortak_engine_memory_bytes(e) / (1024.0 * 1024.0));
}

int main(int argc, char **argv) {
    struct bench_args args;
    if (!bench_args_parse("bench_fx", argc, argv, ORTAK_QUOTES_LIMIT - 16, ORTAK_PARTICIPANTS_LIMIT - 16, &args))
        return 2;
    struct run r = {.payments = args.quick ? 2000 : 200000, .banks = 100, .seed = args.seed};
    if (args.payments) r.payments = (uint32_t)args.payments;
    if (args.banks) r.banks = (uint32_t)args.banks;
    struct ortak_config cfg;
    configure(&r, &cfg);
    struct workload w = {0};
    generate(&r, &cfg, &w);
    uint32_t funded;
    struct ortak_engine *e = build(&r, &w, &funded);
    struct outcome out = {.bank_flow = bench_calloc("bench_fx", r.banks, sizeof *out.bank_flow)};
    run_orders(e, &r, &w, &out);
    bool ok = verify(e, &r, &w, &out, funded);
    if (ok) report(e, &r, &w, &out);
    ortak_engine_close(e);
    free(out.bank_flow);
    workload_free(&w);
    return ok ? 0 : 1;
}
