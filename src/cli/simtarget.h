/*
 * `ortak simulate --target URL`: a generated business day run against a running ortakd over HTTP (simtarget.c),
 * used by `ortak simulate` and `ortak demo`.
 *
 * The run admits the workload's banks and FX providers and opens their settlement accounts (as the operator),
 * has each central bank fund every settlement account in its currency at the chosen level between the account's
 * lower bound (its net outflow over the day) and upper bound (its peak net debit when every payment settles on
 * arrival), sends the legs in arrival order over a few keep-alive connections (each as its payer, with an
 * Idempotency-Key unique to the run), closes the business day, and reads back the status of every payment not
 * settled on arrival. Tokens come from DIR/ortakd.ini (`ortak init --sim-banks` writes them for the default workload).
 * Money is integer: amounts in minor units, values in US cents.
 */
#ifndef ORTAK_CLI_SIMTARGET_H
#define ORTAK_CLI_SIMTARGET_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ortak/sim.h"

#define CLI_SIMTARGET_CONCURRENCY_MAX 64u

struct cli_simtarget_cfg {
    const char *url;      /* http://HOST:PORT; NULL: from DIR/ortakd.ini */
    const char *dir;      /* the directory of `ortak init` (tokens) */
    const char *cmd;      /* "simulate", "demo": for messages */
    uint32_t concurrency; /* connections, 1..CLI_SIMTARGET_CONCURRENCY_MAX */
    uint32_t level_pct;   /* liquidity level between every account's lower (0) and upper (100) bound */
};

struct cli_simtarget_result {
    uint32_t legs, instructions;
    uint32_t settled, queued, rejected, other, errors; /* legs by status after the close */
    uint32_t settled_on_arrival;
    uint64_t liquidity_usd_cents;                            /* injected, summed over settlement accounts */
    uint64_t sent_usd_cents, settled_usd_cents;              /* instructions' value; of those whose every leg settled */
    uint64_t latency_p50_us, latency_p99_us, latency_max_us; /* per payment request, measured by the client */
    uint64_t send_ms, total_ms;
    uint32_t pair_count[ORTAK_SIM_COUNTRIES_MAX][ORTAK_SIM_COUNTRIES_MAX]; /* instructions, from i to j */
    uint64_t pair_usd_cents[ORTAK_SIM_COUNTRIES_MAX][ORTAK_SIM_COUNTRIES_MAX];
    uint64_t pair_settled_usd_cents[ORTAK_SIM_COUNTRIES_MAX][ORTAK_SIM_COUNTRIES_MAX];
};

/*
 * Runs workload `w` of configuration `cfg` against the server. Returns 0 with *r filled, or an exit code after
 * printing the problem: 2 (no token for a participant, a bad URL), 1 (out of memory), 65/77 (a setup request
 * refused), 69 (the server cannot be reached), 76 (a malformed answer). Progress goes to stdout.
 */
int ortak__cli_simtarget_run(const struct ortak_config *cfg, const struct ortak_sim_workload *w,
                             const struct cli_simtarget_cfg *c, struct cli_simtarget_result *r);

/* Prints the summary: payments, settled share, value by currency pair, latency percentiles. */
void ortak__cli_simtarget_print(FILE *f, const struct ortak_sim_workload *w, const struct cli_simtarget_result *r);

/* Writes one CSV row per currency pair (from,to,instructions,usd_cents,settled_usd_cents); false on failure. */
bool ortak__cli_simtarget_csv(FILE *f, const struct ortak_sim_workload *w, const struct cli_simtarget_result *r);

#endif
