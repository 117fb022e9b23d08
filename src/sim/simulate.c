/*
 * The business-day simulator: runs a workload (workload.c) through fresh engines, in-process, under each policy
 * and opening liquidity level, and measures the outcome (sim.h, docs/simulation.md).
 *
 * Every run is deterministic but for its elapsed time: commands carry the workload's timestamps, the setup happens
 * an hour before the day, and the engines are opened from the same configuration with only the settlement
 * settings of the policy changed. Accounts (ids below) are: each central bank's issuance and settlement account in
 * its currency; each bank's settlement and collateral account in its country's currency; each FX provider's
 * settlement and collateral account in every currency. Funding moves a settlement account's level from its central
 * bank's issuance account; the same amount again goes to the collateral account and is pledged as the net debit
 * cap, so a level bounds both gross and net exposure.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ortak/engine.h"
#include "ortak/metrics.h"
#include "ortak/sim.h"

#define SAMPLE_STEP_NS (UINT64_C(900) * ORTAK_NS_PER_S)
#define SETUP_LEAD_NS (UINT64_C(3600) * ORTAK_NS_PER_S)
#define FUND_ID_HI UINT64_C(0x46554e44) /* "FUND": funding transfers */
#define PAY_ID_HI UINT64_C(0x53494d50)  /* "SIMP": payments (a leg's id is its index + 1) */

_Static_assert(ORTAK_SIM_SAMPLES == 1 + ORTAK_SIM_DAY_NS / SAMPLE_STEP_NS, "a sample every 15 minutes");

const char *ortak_sim_policy_name(uint32_t policy) {
    static const char *const names[ORTAK_SIM_POLICIES] = {"rtgs", "fifo", "bypass", "net"};
    return policy < ORTAK_SIM_POLICIES ? names[policy] : "unknown";
}

ortak_rc ortak_sim_policy_parse(const char *name, uint32_t *policy) {
    for (uint32_t p = 0; p < ORTAK_SIM_POLICIES; p++)
        if (strcmp(name, ortak_sim_policy_name(p)) == 0) {
            *policy = p;
            return ORTAK_OK;
        }
    return ORTAK_INVALID;
}

void ortak_sim_options_default(struct ortak_sim_options *o) {
    memset(o, 0, sizeof *o);
    o->policies_mask = (1u << ORTAK_SIM_POLICIES) - 1;
    o->liquidity_steps = 5;
    o->gridlock_interval_ms = 300000;
    o->gridlock_budget = 50000;
}

/* The account of participant p in currency c of a kind (enum ortak_account_kind). */
static ortak_u128 acc_id(uint32_t p, uint32_t c, uint32_t kind) { return ((ortak_u128)(p + 1) << 8) | (c << 2) | kind; }

static uint64_t to_usd_cents(uint64_t minor, uint64_t rate_milli, uint8_t minor_units) {
    ortak_u128 den = rate_milli;
    for (uint8_t i = 0; i < minor_units; i++) den *= 10u;
    return (uint64_t)((ortak_u128)minor * 100000u / den);
}

/* A settlement account that may pay: what the run needs to know of it. */
struct sacc {
    ortak_u128 id;
    uint32_t owner, currency;
    uint64_t gross_sent, net_sent; /* of the workload, minor units */
    int64_t lower, upper;          /* the metrics' bounds, from the probe */
};

struct sim {
    const struct ortak_config *cfg;
    const struct ortak_sim_workload *w;
    const struct ortak_sim_options *o;
    struct ortak_engine *e;
    struct ortak_cmd *cmds;
    struct ortak_result *res;
    uint32_t ncmds, batch_max;
    uint8_t *refused; /* per leg: the submission was refused */
    uint64_t *delays_ms;
    struct sacc *acc;
    uint32_t nacc;
    uint64_t fund_seq;
    ortak_rc setup_rc;
    struct ortak_settle_metrics_account *rows;
    uint32_t rows_cap;
};

/* Applies the pending commands; a setup command refused is a bug of the simulator (kept in setup_rc). */
static void flush(struct sim *s, bool setup) {
    if (!s->ncmds) return;
    ortak_rc rc = ortak_engine_apply(s->e, s->cmds, s->ncmds, s->res);
    if (rc != ORTAK_OK && s->setup_rc == ORTAK_OK) s->setup_rc = rc;
    for (uint32_t i = 0; rc == ORTAK_OK && i < s->ncmds; i++) {
        if (s->cmds[i].kind == ORTAK_CMD_PAYMENT_SUBMIT) {
            uint64_t leg = (uint64_t)(s->cmds[i].u.payment.id & UINT64_MAX) - 1;
            s->refused[leg] = s->res[i].rc != ORTAK_OK;
        } else if (s->res[i].rc != ORTAK_OK && setup && s->setup_rc == ORTAK_OK) {
            s->setup_rc = (ortak_rc)s->res[i].rc;
        }
    }
    s->ncmds = 0;
}

static struct ortak_cmd *push(struct sim *s, ortak_time_ns ts, uint32_t kind, bool setup) {
    if (s->ncmds == s->batch_max) flush(s, setup);
    struct ortak_cmd *c = &s->cmds[s->ncmds++];
    memset(c, 0, sizeof *c);
    c->timestamp = ts;
    c->kind = kind;
    return c;
}

static void cmd_participant(struct sim *s, ortak_time_ns t, const struct ortak_sim_participant *x) {
    struct ortak_cmd *c = push(s, t, ORTAK_CMD_PARTICIPANT_CREATE, true);
    memcpy(c->u.participant_create.bic, x->bic, sizeof x->bic);
    memcpy(c->u.participant_create.name, x->name, sizeof x->name);
    c->u.participant_create.role = x->role;
}

static void cmd_account(struct sim *s, ortak_time_ns t, uint32_t p, uint32_t cur, uint8_t kind) {
    struct ortak_cmd *c = push(s, t, ORTAK_CMD_ACCOUNT_CREATE, true);
    c->u.account_create.id = acc_id(p, cur, kind);
    memcpy(c->u.account_create.bic, s->w->participants[p].bic, 12);
    memcpy(c->u.account_create.currency, s->cfg->currencies[cur].code, 4);
    c->u.account_create.kind = kind;
}

/* Moves `amount` from the currency's issuance account to `to`. */
static void cmd_fund(struct sim *s, ortak_time_ns t, uint32_t cur, ortak_u128 to, uint64_t amount) {
    if (!amount) return;
    struct ortak_cmd *c = push(s, t, ORTAK_CMD_TRANSFER, true);
    c->u.transfer.id = ((ortak_u128)FUND_ID_HI << 64) | ++s->fund_seq;
    c->u.transfer.debit_account_id = acc_id(cur, cur, ORTAK_ACCOUNT_ISSUANCE); /* central bank cur is index cur */
    c->u.transfer.credit_account_id = to;
    c->u.transfer.amount = amount;
}

/* The settlement account index of participant p in currency cur (see sim_accounts for the order). */
static uint32_t sacc_index(const struct sim *s, uint32_t p, uint32_t cur) {
    uint32_t n = s->w->trade.n, fx0 = n * (1 + s->w->params.banks_per_country);
    return p < fx0 ? p : fx0 + (p - fx0) * n + cur;
}

/* Settlement accounts: central banks, banks (both in their own currency), FX providers in every currency. */
static ortak_rc sim_accounts(struct sim *s) {
    const struct ortak_sim_workload *w = s->w;
    uint32_t n = w->trade.n, fx0 = n * (1 + w->params.banks_per_country);
    s->nacc = fx0 + w->params.fx_providers * n;
    s->acc = calloc(s->nacc, sizeof *s->acc);
    if (!s->acc) return ORTAK_NOMEM;
    for (uint32_t p = 0; p < w->participant_count; p++) {
        bool fxp = p >= fx0;
        for (uint32_t c = 0; c < n; c++) {
            if (!fxp && c != w->participants[p].country) continue;
            struct sacc *a = &s->acc[sacc_index(s, p, c)];
            a->id = acc_id(p, c, ORTAK_ACCOUNT_SETTLEMENT);
            a->owner = p;
            a->currency = c;
        }
    }
    for (uint32_t i = 0; i < w->payment_count; i++) {
        const struct ortak_sim_payment *x = &w->payments[i];
        struct sacc *a = &s->acc[sacc_index(s, x->payer, x->currency)];
        if (x->method == ORTAK_METHOD_NET)
            a->net_sent += x->amount;
        else
            a->gross_sent += x->amount;
    }
    return ORTAK_OK;
}

static void sim_config(const struct sim *s, uint32_t policy, struct ortak_config *cfg) {
    *cfg = *s->cfg;
    uint32_t legs = s->w->payment_count, accounts = s->w->participant_count * 2 + s->nacc * 2 + 64;
    cfg->limits.participants_max = s->w->participant_count + 8;
    cfg->limits.accounts_max = accounts;
    cfg->limits.payments_max = legs + 16;
    cfg->limits.transfers_max = legs + accounts * 64 + 4096; /* payments, funding, net settlements */
    cfg->limits.history_max = cfg->limits.transfers_max * 2;
    cfg->limits.pending_max = 1024;
    cfg->limits.batch_max = 4096;
    cfg->settlement.offsetting = policy == ORTAK_SIM_FIFO || policy == ORTAK_SIM_BYPASS;
    cfg->settlement.gridlock_mode = policy == ORTAK_SIM_FIFO ? ORTAK_GRIDLOCK_FIFO : ORTAK_GRIDLOCK_BYPASS;
    cfg->settlement.gridlock_interval_ms = cfg->settlement.offsetting ? s->o->gridlock_interval_ms : 0;
    cfg->settlement.gridlock_budget = s->o->gridlock_budget;
    for (uint32_t c = 0; c < cfg->currency_count; c++) cfg->currencies[c].net_window_ms = UINT64_C(3600000);
}

/* Participants, accounts, and each settlement account's level (and as much collateral, pledged as its cap). */
static void sim_setup(struct sim *s, const int64_t *level) {
    const struct ortak_sim_workload *w = s->w;
    ortak_time_ns t = w->params.day_start_ns - SETUP_LEAD_NS;
    for (uint32_t p = 0; p < w->participant_count; p++) cmd_participant(s, t, &w->participants[p]);
    for (uint32_t c = 0; c < w->trade.n; c++) cmd_account(s, t, c, c, ORTAK_ACCOUNT_ISSUANCE);
    for (uint32_t i = 0; i < s->nacc; i++) {
        cmd_account(s, t, s->acc[i].owner, s->acc[i].currency, ORTAK_ACCOUNT_SETTLEMENT);
        cmd_account(s, t, s->acc[i].owner, s->acc[i].currency, ORTAK_ACCOUNT_COLLATERAL);
    }
    for (uint32_t i = 0; i < s->nacc; i++) {
        const struct sacc *a = &s->acc[i];
        if (level[i] <= 0) continue;
        cmd_fund(s, t, a->currency, a->id, (uint64_t)level[i]);
        cmd_fund(s, t, a->currency, acc_id(a->owner, a->currency, ORTAK_ACCOUNT_COLLATERAL), (uint64_t)level[i]);
        struct ortak_cmd *c = push(s, t, ORTAK_CMD_NET_CAP_SET, true);
        c->u.account.account_id = a->id;
        c->u.account.amount = level[i];
    }
    flush(s, true);
}

/* Gross queues of every settlement account plus the payments in the currencies' open net windows. */
static uint32_t queue_len(const struct sim *s) {
    const struct ortak_settle *st = ortak_engine_settle(s->e);
    const struct ortak_netting *nt = ortak_engine_netting(s->e);
    uint32_t total = 0, n;
    for (uint32_t i = 0; i < s->nacc; i++) {
        struct ortak_queue_info qi;
        if (ortak_settle_queue(st, s->acc[i].id, NULL, 0, &n, &qi) != ORTAK_OK) continue;
        for (int pr = 0; pr < ORTAK_PRIORITIES; pr++) total += qi.count[pr];
    }
    for (uint32_t c = 0; c < s->cfg->currency_count; c++) {
        struct ortak_window_info wi;
        if (ortak_netting_window(nt, s->cfg->currencies[c].code, 0, &wi) == ORTAK_OK && wi.state == ORTAK_WINDOW_OPEN)
            total += wi.payments;
    }
    return total;
}

static void sample(struct sim *s, uint32_t k, struct ortak_sim_result *r) {
    push(s, s->w->params.day_start_ns + k * SAMPLE_STEP_NS, ORTAK_CMD_TICK, false);
    flush(s, false);
    if (r) r->queue_len[k] = queue_len(s);
}

/* The day: every leg at its arrival time, a tick (and a queue sample) every 15 minutes up to the day's end. */
static void sim_day(struct sim *s, uint32_t policy, struct ortak_sim_result *r) {
    const struct ortak_sim_workload *w = s->w;
    uint32_t k = 0;
    for (uint32_t i = 0; i < w->payment_count; i++) {
        const struct ortak_sim_payment *x = &w->payments[i];
        while (k < ORTAK_SIM_SAMPLES && w->params.day_start_ns + k * SAMPLE_STEP_NS <= x->arrival_ns) sample(s, k++, r);
        struct ortak_cmd *c = push(s, x->arrival_ns, ORTAK_CMD_PAYMENT_SUBMIT, false);
        c->u.payment.id = ((ortak_u128)PAY_ID_HI << 64) | (i + 1);
        c->u.payment.uetr = c->u.payment.id;
        c->u.payment.debit_account_id = acc_id(x->payer, x->currency, ORTAK_ACCOUNT_SETTLEMENT);
        c->u.payment.credit_account_id = acc_id(x->payee, x->currency, ORTAK_ACCOUNT_SETTLEMENT);
        c->u.payment.amount = x->amount;
        c->u.payment.priority = x->priority;
        c->u.payment.method = x->method;
        if (policy == ORTAK_SIM_NET && x->priority == ORTAK_PRIORITY_NORMAL) c->u.payment.method = ORTAK_METHOD_NET;
    }
    while (k < ORTAK_SIM_SAMPLES) sample(s, k++, r);
}

static int u64_cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t rate_of(const struct sim *s, uint32_t c) { return ortak_sim_rate_milli(s->cfg->currencies[c].code); }

static uint64_t cents_of(const struct sim *s, uint32_t c, ortak_i128 minor) {
    if (minor <= 0) return 0;
    uint64_t m = minor > (ortak_i128)INT64_MAX ? (uint64_t)INT64_MAX : (uint64_t)minor;
    return to_usd_cents(m, rate_of(s, c), s->cfg->currencies[c].minor_units);
}

/* Outcome of every leg at the day's end, the delays of those settled, and the metrics of every currency. */
static ortak_rc sim_measure(struct sim *s, struct ortak_sim_result *r) {
    const struct ortak_sim_workload *w = s->w;
    const struct ortak_settle *st = ortak_engine_settle(s->e);
    ortak_time_ns end = w->params.day_start_ns + ORTAK_SIM_DAY_NS;
    uint32_t nd = 0;
    ortak_u128 delay_sum = 0;
    r->legs = w->payment_count;
    for (uint32_t i = 0; i < w->payment_count; i++) {
        const struct ortak_sim_payment *x = &w->payments[i];
        uint64_t cents = cents_of(s, x->currency, (ortak_i128)x->amount);
        r->legs_usd_cents += cents;
        struct ortak_payment_info pi;
        if (s->refused[i] || ortak_settle_payment_get(st, ((ortak_u128)PAY_ID_HI << 64) | (i + 1), &pi) != ORTAK_OK) {
            r->refused_count++;
        } else if (pi.state == ORTAK_PAYMENT_SETTLED && pi.ended_ns <= end) {
            r->settled_count++;
            r->settled_usd_cents += cents;
            s->delays_ms[nd++] = (pi.ended_ns - x->arrival_ns) / UINT64_C(1000000);
            delay_sum += pi.ended_ns - x->arrival_ns;
        } else if (pi.state == ORTAK_PAYMENT_QUEUED || pi.state == ORTAK_PAYMENT_ACCEPTED ||
                   pi.state == ORTAK_PAYMENT_SETTLED) {
            r->queued_count++;
        } else {
            r->rejected_count++;
        }
    }
    r->settled_count_ppm = r->legs ? (uint32_t)((uint64_t)r->settled_count * 1000000u / r->legs) : 0;
    r->settled_value_ppm =
        r->legs_usd_cents ? (uint32_t)((ortak_u128)r->settled_usd_cents * 1000000u / r->legs_usd_cents) : 0;
    if (nd) {
        qsort(s->delays_ms, nd, sizeof *s->delays_ms, u64_cmp);
        r->delay_mean_ms = (uint64_t)(delay_sum / nd / UINT64_C(1000000));
        r->delay_p99_ms = s->delays_ms[(nd * UINT64_C(99) + 99) / 100 - 1];
    }
    for (uint32_t c = 0; c < s->cfg->currency_count; c++) {
        struct ortak_settle_metrics m;
        ortak_rc rc = ortak_settle_metrics_compute(s->e, s->cfg->currencies[c].code, w->params.day_start_ns, end, &m,
                                                   NULL, 0, NULL);
        if (rc != ORTAK_OK) return rc;
        r->liquidity_used_usd_cents += cents_of(s, c, m.liquidity_used);
        if (m.delay_ppm > r->rho_ppm_max) r->rho_ppm_max = m.delay_ppm;
    }
    return ORTAK_OK;
}

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* One run: a fresh engine (left open in s->e for the caller to read and close), the setup with `level`, the day;
 * then the measures into *r (may be NULL: the probe). */
static ortak_rc sim_once(struct sim *s, uint32_t policy, const int64_t *level, struct ortak_sim_result *r) {
    struct ortak_config cfg;
    sim_config(s, policy, &cfg);
    uint64_t t0 = now_us();
    ortak_rc rc = ortak_engine_open(&cfg, &s->e);
    if (rc != ORTAK_OK) return rc;
    s->batch_max = cfg.limits.batch_max;
    s->setup_rc = ORTAK_OK;
    memset(s->refused, 0, s->w->payment_count);
    sim_setup(s, level);
    rc = s->setup_rc;
    if (rc == ORTAK_OK) sim_day(s, policy, r);
    if (rc == ORTAK_OK) rc = s->setup_rc;
    if (rc == ORTAK_OK && r) {
        r->policy = policy;
        for (uint32_t i = 0; i < s->nacc; i++) r->liquidity_usd_cents += cents_of(s, s->acc[i].currency, level[i]);
        rc = sim_measure(s, r);
        r->elapsed_us = now_us() - t0;
    }
    return rc;
}

/* The probe: every account funded with all it sends, plain RTGS; the metrics give each account's bounds. */
static ortak_rc sim_probe(struct sim *s, int64_t *level) {
    for (uint32_t i = 0; i < s->nacc; i++) {
        uint64_t v = s->acc[i].gross_sent + s->acc[i].net_sent + 1;
        level[i] = v > ORTAK_AMOUNT_MAX ? (int64_t)ORTAK_AMOUNT_MAX : (int64_t)v;
    }
    ortak_rc rc = sim_once(s, ORTAK_SIM_RTGS, level, NULL);
    ortak_time_ns start = s->w->params.day_start_ns;
    for (uint32_t c = 0; rc == ORTAK_OK && c < s->cfg->currency_count; c++) {
        struct ortak_settle_metrics total;
        uint32_t nrows = 0;
        rc = ortak_settle_metrics_compute(s->e, s->cfg->currencies[c].code, start, start + ORTAK_SIM_DAY_NS, &total,
                                          s->rows, s->rows_cap, &nrows);
        for (uint32_t r = 0; rc == ORTAK_OK && r < nrows && r < s->rows_cap; r++) {
            for (uint32_t i = 0; i < s->nacc; i++) {
                if (s->acc[i].id != s->rows[r].account_id) continue;
                const struct ortak_settle_metrics *m = &s->rows[r].m;
                s->acc[i].lower = m->liquidity_lower > INT64_MAX ? INT64_MAX : (int64_t)m->liquidity_lower;
                s->acc[i].upper = m->liquidity_upper > INT64_MAX ? INT64_MAX : (int64_t)m->liquidity_upper;
            }
        }
    }
    ortak_engine_close(s->e);
    s->e = NULL;
    return rc;
}

static void sim_free(struct sim *s) {
    free(s->cmds);
    free(s->res);
    free(s->refused);
    free(s->delays_ms);
    free(s->acc);
    free(s->rows);
}

ortak_rc ortak_sim_run(const struct ortak_config *cfg, const struct ortak_sim_workload *w,
                       const struct ortak_sim_options *o, struct ortak_sim_result *results, uint32_t *n,
                       uint64_t *lower_usd_cents, uint64_t *upper_usd_cents) {
    *n = 0;
    *lower_usd_cents = *upper_usd_cents = 0;
    if (o->liquidity_steps < 1 || o->liquidity_steps > 20 || !o->policies_mask ||
        o->policies_mask >= (1u << ORTAK_SIM_POLICIES) || o->gridlock_interval_ms > ORTAK_GRIDLOCK_INTERVAL_MS_LIMIT ||
        o->gridlock_budget < 1 || o->gridlock_budget > ORTAK_GRIDLOCK_BUDGET_LIMIT || !w->payment_count ||
        cfg->currency_count != w->trade.n)
        return ORTAK_INVALID;
    struct sim s = {.cfg = cfg, .w = w, .o = o};
    ortak_rc rc = sim_accounts(&s);
    int64_t *level = rc == ORTAK_OK ? calloc(s.nacc, sizeof *level) : NULL;
    s.cmds = calloc(ORTAK_BATCH_LIMIT, sizeof *s.cmds);
    s.res = calloc(ORTAK_BATCH_LIMIT, sizeof *s.res);
    s.refused = calloc(w->payment_count, 1);
    s.delays_ms = calloc(w->payment_count, sizeof *s.delays_ms);
    s.rows_cap = w->participant_count * 2 + s.nacc * 2 + 64;
    s.rows = calloc(s.rows_cap, sizeof *s.rows);
    if (rc == ORTAK_OK && (!level || !s.cmds || !s.res || !s.refused || !s.delays_ms || !s.rows)) rc = ORTAK_NOMEM;
    if (rc == ORTAK_OK) rc = sim_probe(&s, level);
    for (uint32_t i = 0; rc == ORTAK_OK && i < s.nacc; i++) {
        *lower_usd_cents += cents_of(&s, s.acc[i].currency, s.acc[i].lower);
        *upper_usd_cents += cents_of(&s, s.acc[i].currency, s.acc[i].upper);
    }
    uint32_t steps = o->liquidity_steps;
    for (uint32_t p = 0; rc == ORTAK_OK && p < ORTAK_SIM_POLICIES; p++) {
        if (!(o->policies_mask & (1u << p))) continue;
        for (uint32_t k = 0; rc == ORTAK_OK && k < steps; k++) {
            for (uint32_t i = 0; i < s.nacc; i++) { /* lower + (upper - lower) x k / (steps - 1), rounded down */
                const struct sacc *a = &s.acc[i];
                ortak_i128 span = (ortak_i128)a->upper - a->lower;
                level[i] = steps == 1 ? a->upper : a->lower + (int64_t)(span * k / (steps - 1));
            }
            struct ortak_sim_result *r = &results[*n];
            memset(r, 0, sizeof *r);
            r->level = k;
            rc = sim_once(&s, p, level, r);
            ortak_engine_close(s.e);
            s.e = NULL;
            if (rc == ORTAK_OK) (*n)++;
        }
    }
    free(level);
    sim_free(&s);
    return rc;
}
