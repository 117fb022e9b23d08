/*
 * The business-day simulator: a seeded workload generator and an in-process run of that workload through engines
 * under several settlement policies and opening liquidity levels (docs/simulation.md).
 *
 * Workload. Participants are the central bank of every currency of the configuration, `banks_per_country`
 * commercial banks per country and `fx_providers` FX providers holding an account in every currency. Countries'
 * activity follows the bilateral trade table (ots_trade_2023.csv): a cross-border payment goes from country i to
 * country j with probability proportional to the trade of the pair (half each way), a domestic payment stays in a
 * country chosen in proportion to its total trade. Missing pairs are filled by the rule ortak_sim_gap_rule() states.
 * Values are log-normal in US cents (drawn with double precision only to choose a number), converted to integer
 * minor units of each currency with fixed integer rates. A cross-border payment is two gross legs at the same
 * instant: payer -> intermediary in the payer's currency, intermediary -> payee in the payee's currency (the
 * intermediary is an FX provider, or the two central banks when there are none); legs are not linked (PvP is not
 * simulated). Arrivals follow a morning and an afternoon peak over a ten-hour day. The same parameters give the
 * same workload, byte for byte, on every machine (ortak_sim_workload_hash).
 *
 * Simulation. Each (policy, liquidity level) opens a fresh engine, admits the participants, funds every settlement
 * account with its level, feeds the payments in arrival order with their own timestamps, samples queue lengths,
 * and reads the settlement metrics (metrics.h). Levels go from each account's lower bound to its upper bound
 * (measured on a probe run with unlimited liquidity) in `liquidity_steps` equal steps. Money is integer throughout.
 */
#ifndef ORTAK_SIM_H
#define ORTAK_SIM_H

#include <stdio.h>

#include "ortak/config.h"
#include "ortak/rc.h"
#include "ortak/types.h"

#define ORTAK_SIM_COUNTRIES_MAX ORTAK_CURRENCIES_LIMIT
#define ORTAK_SIM_BANKS_PER_COUNTRY_MAX 200u
#define ORTAK_SIM_FX_PROVIDERS_MAX 16u
#define ORTAK_SIM_PAYMENTS_MAX 2000000u
#define ORTAK_SIM_SAMPLES 41u /* queue length sampled every 15 minutes of the ten-hour day, both ends included */
#define ORTAK_SIM_DAY_NS (UINT64_C(36000) * ORTAK_NS_PER_S) /* 08:00 to 18:00 */

struct ortak_sim_params {
    uint64_t seed;
    uint32_t banks_per_country;      /* 1..ORTAK_SIM_BANKS_PER_COUNTRY_MAX */
    uint32_t fx_providers;           /* 0..ORTAK_SIM_FX_PROVIDERS_MAX; 0 = central banks intermediate */
    uint32_t payments;               /* instructions (a cross-border one makes two legs), 1..ORTAK_SIM_PAYMENTS_MAX */
    uint32_t domestic_ppm;           /* share of domestic instructions, parts per million */
    uint32_t urgent_ppm;             /* share of urgent legs */
    uint32_t net_ppm;                /* share of the normal legs sent net (into the windows) */
    uint64_t value_median_usd_cents; /* median value of an instruction, in US cents */
    uint32_t value_sigma_milli;      /* log-normal sigma x 1000 */
    ortak_time_ns day_start_ns;      /* the business day starts here (08:00) */
};

/* Fills the defaults: seed 1, 5 banks per country, 2 FX providers, 10,000 payments, 40% domestic, 10% urgent,
 * no net, median 50,000 USD, sigma 1.5, day 2026-01-05 08:00 UTC. */
void ortak_sim_params_default(struct ortak_sim_params *p);

/* Countries and their trade: country i's currency is the configuration's currency i. */
struct ortak_sim_trade {
    uint32_t n;
    char country[ORTAK_SIM_COUNTRIES_MAX][3];
    char currency[ORTAK_SIM_COUNTRIES_MAX][4];
    uint64_t pair_usd_k[ORTAK_SIM_COUNTRIES_MAX][ORTAK_SIM_COUNTRIES_MAX]; /* thousands of USD, symmetric */
    uint8_t filled[ORTAK_SIM_COUNTRIES_MAX][ORTAK_SIM_COUNTRIES_MAX];      /* 1 = gap filled by the rule */
    uint32_t filled_count, partial_count;
};

/* The rule that fills missing pairs, in one sentence, for reports. */
const char *ortak_sim_gap_rule(void);
/* Where the trade table is by default (beside the source tree, set at build time), or NULL when it is not there. */
const char *ortak_sim_default_trade_path(void);
/*
 * Reads the trade CSV at `path` (NULL: the product's built-in copy of the 2023 figures) for the countries of `cfg` (the
 * country of a currency is its agent's BIC country) and fills the gaps. ORTAK_OK; ORTAK_IO when the file cannot be
 * read; ORTAK_CORRUPT when a line is malformed or a pair of two configured countries has neither a figure nor a
 * "missing" mark (message in err).
 */
ortak_rc ortak_sim_trade_load(const struct ortak_config *cfg, const char *path, struct ortak_sim_trade *out, char *err,
                              size_t err_cap);

struct ortak_sim_participant {
    char bic[12];
    char name[48];
    uint8_t role;    /* enum ortak_role */
    uint8_t country; /* index in the trade table; FX providers: 0 */
    uint32_t weight; /* a bank's relative size within its country */
};

struct ortak_sim_payment {
    ortak_time_ns arrival_ns;         /* absolute engine time */
    uint64_t amount;                  /* minor units of the currency, >= 1 */
    uint32_t payer, payee;            /* participant indices */
    uint32_t instruction;             /* the instruction it belongs to (the two legs of a cross-border one share it) */
    uint8_t currency;                 /* index in the configuration */
    uint8_t from_country, to_country; /* of the instruction */
    uint8_t priority;                 /* enum ortak_priority */
    uint8_t method;                   /* enum ortak_settlement_method */
    uint8_t leg;                      /* 0 domestic, 1 first leg, 2 second leg */
    uint8_t pad_[2];
};

struct ortak_sim_workload {
    struct ortak_sim_params params;
    struct ortak_sim_trade trade;
    uint32_t participant_count;
    struct ortak_sim_participant *participants;
    uint32_t payment_count;
    struct ortak_sim_payment *payments;                                         /* in arrival order */
    uint64_t usd_cents_total[ORTAK_SIM_COUNTRIES_MAX][ORTAK_SIM_COUNTRIES_MAX]; /* instructions' value by flow */
};

/* Minor units of currency `code` per US dollar x 1000 (fixed table; 0 for an unknown currency). */
uint64_t ortak_sim_rate_milli(const char *code);

/* Generates the workload. ORTAK_OK, ORTAK_INVALID (parameters out of range), ORTAK_NOMEM. */
ortak_rc ortak_sim_workload_generate(const struct ortak_config *cfg, const struct ortak_sim_trade *trade,
                                     const struct ortak_sim_params *p, struct ortak_sim_workload *out);
void ortak_sim_workload_free(struct ortak_sim_workload *w);
/* SHA-256 of the workload's canonical little-endian encoding (participants, then payments). */
void ortak_sim_workload_hash(const struct ortak_sim_workload *w, uint8_t out[32]);

/* ---- policies -------------------------------------------------------------------------------------------- */

enum ortak_sim_policy {
    ORTAK_SIM_RTGS = 0, /* gross, FIFO release only: no offsetting, no gridlock resolution */
    ORTAK_SIM_FIFO,     /* + bilateral offsetting, gridlock resolution (fifo) every gridlock_interval */
    ORTAK_SIM_BYPASS,   /* + bilateral offsetting, gridlock resolution (bypass) */
    ORTAK_SIM_NET,      /* every normal leg net, in hourly windows; urgent legs gross (as rtgs) */
    ORTAK_SIM_POLICIES
};
const char *ortak_sim_policy_name(uint32_t policy);
/* ORTAK_OK and the policy, or ORTAK_INVALID. */
ortak_rc ortak_sim_policy_parse(const char *name, uint32_t *policy);

struct ortak_sim_result {
    uint32_t policy;
    uint32_t level; /* 0 = lower bounds .. steps - 1 = upper bounds */
    uint32_t legs, settled_count, queued_count, refused_count, rejected_count;
    uint64_t legs_usd_cents, settled_usd_cents; /* values converted back to US cents (rounded down per leg) */
    uint32_t settled_count_ppm, settled_value_ppm;
    uint64_t delay_mean_ms, delay_p99_ms;  /* over settled legs: settled - arrival */
    uint32_t rho_ppm_max;                  /* the worst currency's settlement delay indicator */
    uint64_t liquidity_usd_cents;          /* opening liquidity given, all settlement accounts */
    uint64_t liquidity_used_usd_cents;     /* drawn (metrics' liquidity_used), summed over currencies */
    uint32_t queue_len[ORTAK_SIM_SAMPLES]; /* gross queues + open net windows, every 15 minutes */
    uint64_t elapsed_us;
};

struct ortak_sim_options {
    uint32_t policies_mask;   /* 1 << enum ortak_sim_policy */
    uint32_t liquidity_steps; /* 1..20; 1 = upper bounds only */
    uint64_t gridlock_interval_ms;
    uint64_t gridlock_budget;
};

/* Every policy, 5 levels, gridlock resolution every 300,000 ms of engine time with a budget of 50,000 per run. */
void ortak_sim_options_default(struct ortak_sim_options *o);

/*
 * Runs the workload under every policy of the mask and every level; writes one result per (policy, level), in
 * policy then level order, into `results` (room for ORTAK_SIM_POLICIES x liquidity_steps), their count in *n. The
 * bounds of the liquidity range, summed over settlement accounts in US cents, go to *lower and *upper.
 * ORTAK_OK, ORTAK_INVALID, ORTAK_NOMEM, or an engine's code for a setup command it refused (a bug).
 */
ortak_rc ortak_sim_run(const struct ortak_config *cfg, const struct ortak_sim_workload *w,
                       const struct ortak_sim_options *o, struct ortak_sim_result *results, uint32_t *n,
                       uint64_t *lower_usd_cents, uint64_t *upper_usd_cents);

#endif
