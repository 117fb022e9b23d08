/*
 * The simulator's workload generator: participants and a business day of payments from a seed (sim.h).
 *
 * Determinism: every random choice comes from one splitmix64 sequence (base/rng.h). Doubles are used only to
 * shape draws, with + - * / alone (no libm: its last bits may differ between machines): a normal variate is the sum
 * of twelve uniforms minus six (Irwin-Hall), exp() a range reduction by ln 2 and a Taylor series, scaled exactly by
 * powers of two. ISO C mode (-std=c11) keeps gcc from contracting into fused multiply-adds. Each draw becomes an
 * integer (US cents, nanoseconds) at once; amounts in minor units are integer conversions of those cents.
 */
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

#include "base/rng.h"
#include "ortak/ledger.h"
#include "ortak/settle.h"
#include "ortak/sim.h"

void ortak_sim_params_default(struct ortak_sim_params *p) {
    memset(p, 0, sizeof *p);
    p->seed = 1;
    p->banks_per_country = 5;
    p->fx_providers = 2;
    p->payments = 10000;
    p->domestic_ppm = 400000;
    p->urgent_ppm = 100000;
    p->net_ppm = 0;
    p->value_median_usd_cents = UINT64_C(5000000);
    p->value_sigma_milli = 1500;
    p->day_start_ns = (UINT64_C(1767571200) + 8 * 3600) * ORTAK_NS_PER_S; /* 2026-01-05 08:00 UTC */
}

uint64_t ortak_sim_rate_milli(const char *code) {
    /* Approximate 2023 averages, currency units per US dollar x 1000: a shape for values, not a price source. */
    static const struct {
        char code[4];
        uint64_t milli;
    } rates[] = {{"AZN", 1700},  {"KZT", 456300}, {"KGS", 89100}, {"UZS", 11730000},
                 {"TRY", 23760}, {"HUF", 353100}, {"TMT", 3500},  {"USD", 1000}};
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
        if (strcmp(rates[i].code, code) == 0) return rates[i].milli;
    return 0;
}

static double uniform(uint64_t *s) { return (double)(ortak_rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

static double normal(uint64_t *s) {
    double z = -6.0;
    for (int i = 0; i < 12; i++) z += uniform(s);
    return z;
}

/* e^y for |y| < 40, with basic arithmetic only. */
static double exp_det(double y) {
    static const double ln2 = 0.693147180559945309417;
    int k = 0;
    while (y > ln2 / 2) y -= ln2, k++;
    while (y < -ln2 / 2) y += ln2, k--;
    double term = 1.0, sum = 1.0;
    for (int n = 1; n < 20; n++) {
        term = term * y / n;
        sum += term;
    }
    for (; k > 0; k--) sum *= 2.0;
    for (; k < 0; k++) sum *= 0.5;
    return sum;
}

/* Picks index i with probability w[i] / sum(w). */
static uint32_t pick(uint64_t *s, const uint64_t *cum, uint32_t n) {
    uint64_t x = ortak_rng_below(s, cum[n - 1]);
    uint32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static void bic_make(char out[12], const char *prefix2, uint32_t k, const char cc[3]) {
    out[0] = prefix2[0];
    out[1] = prefix2[1];
    out[2] = (char)('A' + k / 26);
    out[3] = (char)('A' + k % 26);
    out[4] = cc[0];
    out[5] = cc[1];
    out[6] = '2';
    out[7] = '2';
    out[8] = '\0';
}

static void participants_build(const struct ortak_config *cfg, const struct ortak_sim_params *p,
                               struct ortak_sim_workload *w) {
    const struct ortak_sim_trade *t = &w->trade;
    uint32_t n = 0;
    for (uint32_t c = 0; c < t->n; c++) {
        struct ortak_sim_participant *x = &w->participants[n++];
        memcpy(x->bic, cfg->currencies[c].agent_bic, sizeof x->bic);
        memcpy(x->name, cfg->currencies[c].agent_name, sizeof x->name - 1);
        x->role = ORTAK_ROLE_CENTRAL_BANK;
        x->country = (uint8_t)c;
        x->weight = 1;
    }
    for (uint32_t c = 0; c < t->n; c++)
        for (uint32_t k = 0; k < p->banks_per_country; k++) {
            struct ortak_sim_participant *x = &w->participants[n++];
            bic_make(x->bic, "SM", k, t->country[c]);
            memcpy(x->name, "Simulated bank ", 15);
            memcpy(x->name + 15, x->bic, 8);
            x->role = ORTAK_ROLE_BANK;
            x->country = (uint8_t)c;
            x->weight = 1000000u / (k + 1); /* Zipf: the first bank of a country is the largest */
        }
    for (uint32_t f = 0; f < p->fx_providers; f++) {
        struct ortak_sim_participant *x = &w->participants[n++];
        bic_make(x->bic, "FX", f, t->country[f % t->n]);
        memcpy(x->name, "Simulated FX provider ", 22);
        memcpy(x->name + 22, x->bic, 8);
        x->role = ORTAK_ROLE_FX_PROVIDER;
        x->country = (uint8_t)(f % t->n);
        x->weight = 1;
    }
    w->participant_count = n;
}

/* A bank of country c by size; `not` excluded (a domestic payee differs from its payer) unless it is the only one. */
static uint32_t pick_bank(uint64_t *s, const struct ortak_sim_workload *w, uint32_t c, uint32_t not ) {
    uint32_t nb = w->params.banks_per_country, first = w->trade.n + c * nb;
    if (nb == 1) return not == first ? c : first; /* the only bank pays its central bank */
    uint64_t cum[ORTAK_SIM_BANKS_PER_COUNTRY_MAX], acc = 0;
    for (uint32_t k = 0; k < nb; k++) {
        if (first + k != not ) acc += w->participants[first + k].weight;
        cum[k] = acc;
    }
    return first + pick(s, cum, nb);
}

static ortak_time_ns arrival(uint64_t *s, const struct ortak_sim_params *p) {
    /* 40% around 10:00, 40% around 15:00 (sd one hour), 20% spread evenly; clamped into the day. */
    double h, u = uniform(s);
    if (u < 0.4)
        h = 2.0 + normal(s);
    else if (u < 0.8)
        h = 7.0 + normal(s);
    else
        h = 10.0 * uniform(s);
    if (h < 0.0) h = 0.0;
    uint64_t ns = (uint64_t)(h * 3600e9);
    if (ns >= ORTAK_SIM_DAY_NS) ns = ORTAK_SIM_DAY_NS - 1;
    return p->day_start_ns + ns;
}

static uint64_t to_minor(uint64_t cents, uint64_t rate_milli, uint8_t minor_units) {
    ortak_u128 v = (ortak_u128)cents * rate_milli;
    for (uint8_t i = 0; i < minor_units; i++) v *= 10u;
    v /= 100000u; /* cents -> dollars (100), rate x 1000; rounded down */
    if (v < 1) v = 1;
    if (v > ORTAK_AMOUNT_MAX) v = ORTAK_AMOUNT_MAX;
    return (uint64_t)v;
}

static int payment_cmp(const void *a, const void *b) {
    const struct ortak_sim_payment *x = a, *y = b;
    if (x->arrival_ns != y->arrival_ns) return x->arrival_ns < y->arrival_ns ? -1 : 1;
    if (x->instruction != y->instruction) return x->instruction < y->instruction ? -1 : 1;
    return x->leg < y->leg ? -1 : x->leg > y->leg;
}

struct gen {
    uint64_t rng;
    uint64_t pair_cum[ORTAK_SIM_COUNTRIES_MAX * ORTAK_SIM_COUNTRIES_MAX];
    uint64_t dom_cum[ORTAK_SIM_COUNTRIES_MAX];
    uint64_t rate[ORTAK_SIM_COUNTRIES_MAX];
    uint8_t mu[ORTAK_SIM_COUNTRIES_MAX];
};

/* Cumulative weights: ordered pairs i != j by half their trade each way; countries by their total trade. */
static void gen_weights(struct gen *g, const struct ortak_sim_trade *t) {
    uint64_t acc = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        uint64_t tot = 0;
        for (uint32_t j = 0; j < t->n; j++) {
            if (i != j) acc += t->pair_usd_k[i][j], tot += t->pair_usd_k[i][j];
            g->pair_cum[i * t->n + j] = acc;
        }
        g->dom_cum[i] = (i ? g->dom_cum[i - 1] : 0) + tot;
    }
}

static void gen_instruction(struct gen *g, struct ortak_sim_workload *w, uint32_t ins) {
    const struct ortak_sim_params *p = &w->params;
    const struct ortak_sim_trade *t = &w->trade;
    uint32_t from, to;
    if (ortak_rng_below(&g->rng, 1000000) < p->domestic_ppm) {
        from = to = pick(&g->rng, g->dom_cum, t->n);
    } else {
        uint32_t k = pick(&g->rng, g->pair_cum, t->n * t->n);
        from = k / t->n, to = k % t->n;
    }
    double z = normal(&g->rng) * (double)p->value_sigma_milli / 1000.0;
    double v = (double)p->value_median_usd_cents * exp_det(z);
    uint64_t cents = v < 1.0 ? 1 : v > 1e14 ? UINT64_C(100000000000000) : (uint64_t)v;
    uint8_t prio = ortak_rng_below(&g->rng, 1000000) < p->urgent_ppm ? ORTAK_PRIORITY_URGENT : ORTAK_PRIORITY_NORMAL;
    uint8_t method = ORTAK_METHOD_GROSS;
    if (prio == ORTAK_PRIORITY_NORMAL && ortak_rng_below(&g->rng, 1000000) < p->net_ppm) method = ORTAK_METHOD_NET;
    ortak_time_ns at = arrival(&g->rng, p);
    uint32_t payer = pick_bank(&g->rng, w, from, UINT32_MAX);
    uint32_t payee = pick_bank(&g->rng, w, to, from == to ? payer : UINT32_MAX);
    w->usd_cents_total[from][to] += cents;
    struct ortak_sim_payment leg = {.arrival_ns = at,
                                    .instruction = ins,
                                    .from_country = (uint8_t)from,
                                    .to_country = (uint8_t)to,
                                    .priority = prio,
                                    .method = method};
    if (from == to) {
        leg.payer = payer, leg.payee = payee, leg.currency = (uint8_t)from;
        leg.amount = to_minor(cents, g->rate[from], g->mu[from]);
        w->payments[w->payment_count++] = leg;
        return;
    }
    uint32_t mid_from = from, mid_to = to; /* no FX provider: the two central banks */
    if (p->fx_providers) {
        uint32_t f = (uint32_t)ortak_rng_below(&g->rng, p->fx_providers);
        mid_from = mid_to = t->n * (1 + p->banks_per_country) + f;
    }
    leg.leg = 1, leg.payer = payer, leg.payee = mid_from, leg.currency = (uint8_t)from;
    leg.amount = to_minor(cents, g->rate[from], g->mu[from]);
    w->payments[w->payment_count++] = leg;
    leg.leg = 2, leg.payer = mid_to, leg.payee = payee, leg.currency = (uint8_t)to;
    leg.amount = to_minor(cents, g->rate[to], g->mu[to]);
    w->payments[w->payment_count++] = leg;
}

ortak_rc ortak_sim_workload_generate(const struct ortak_config *cfg, const struct ortak_sim_trade *trade,
                                     const struct ortak_sim_params *p, struct ortak_sim_workload *w) {
    memset(w, 0, sizeof *w);
    if (p->banks_per_country < 1 || p->banks_per_country > ORTAK_SIM_BANKS_PER_COUNTRY_MAX ||
        p->fx_providers > ORTAK_SIM_FX_PROVIDERS_MAX || p->payments < 1 || p->payments > ORTAK_SIM_PAYMENTS_MAX ||
        p->domestic_ppm > 1000000 || p->urgent_ppm > 1000000 || p->net_ppm > 1000000 || p->value_median_usd_cents < 1 ||
        p->value_median_usd_cents > UINT64_C(1000000000000) || p->value_sigma_milli > 3000 || trade->n < 2 ||
        trade->n != cfg->currency_count)
        return ORTAK_INVALID;
    struct gen *g = calloc(1, sizeof *g);
    if (!g) return ORTAK_NOMEM;
    for (uint32_t c = 0; c < trade->n; c++) {
        g->rate[c] = ortak_sim_rate_milli(cfg->currencies[c].code);
        g->mu[c] = cfg->currencies[c].minor_units;
        if (!g->rate[c]) {
            free(g);
            return ORTAK_INVALID;
        }
    }
    w->params = *p;
    w->trade = *trade;
    gen_weights(g, trade);
    if (g->pair_cum[trade->n * trade->n - 1] == 0) {
        free(g);
        return ORTAK_INVALID;
    }
    w->participants = calloc(trade->n * (1 + p->banks_per_country) + p->fx_providers, sizeof *w->participants);
    w->payments = calloc((size_t)p->payments * 2, sizeof *w->payments);
    if (!w->participants || !w->payments) {
        free(g);
        ortak_sim_workload_free(w);
        return ORTAK_NOMEM;
    }
    participants_build(cfg, p, w);
    g->rng = p->seed;
    for (uint32_t i = 0; i < p->payments; i++) gen_instruction(g, w, i);
    qsort(w->payments, w->payment_count, sizeof *w->payments, payment_cmp);
    free(g);
    return ORTAK_OK;
}

void ortak_sim_workload_free(struct ortak_sim_workload *w) {
    free(w->participants);
    free(w->payments);
    w->participants = NULL;
    w->payments = NULL;
    w->participant_count = w->payment_count = 0;
}

static void put_u64(struct sha256_ctx *h, uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
    sha256_update(h, sizeof b, b);
}

void ortak_sim_workload_hash(const struct ortak_sim_workload *w, uint8_t out[32]) {
    struct sha256_ctx h;
    sha256_init(&h);
    put_u64(&h, w->participant_count);
    for (uint32_t i = 0; i < w->participant_count; i++) {
        const struct ortak_sim_participant *x = &w->participants[i];
        sha256_update(&h, sizeof x->bic, (const uint8_t *)x->bic);
        sha256_update(&h, sizeof x->name, (const uint8_t *)x->name);
        put_u64(&h, (uint64_t)x->role << 40 | (uint64_t)x->country << 32 | x->weight);
    }
    put_u64(&h, w->payment_count);
    for (uint32_t i = 0; i < w->payment_count; i++) {
        const struct ortak_sim_payment *x = &w->payments[i];
        put_u64(&h, x->arrival_ns);
        put_u64(&h, x->amount);
        put_u64(&h, (uint64_t)x->payer << 32 | x->payee);
        put_u64(&h, (uint64_t)x->instruction << 32 | (uint64_t)x->currency << 24 | (uint64_t)x->from_country << 16 |
                        (uint64_t)x->to_country << 8 | x->priority);
        put_u64(&h, (uint64_t)x->method << 8 | x->leg);
    }
    sha256_digest(&h, 32, out);
}
