/*
 * bench_gridlock: gridlock resolution through the engine, end to end.
 *
 * bench_lsm times the solvers on bare instances; this program times what an operator's GRIDLOCK command costs in
 * the engine: building the instance from the queues (with each payment's transfer checked), solving it, and
 * booking every settled payment with its events. For 10,000 and 100,000 queued payments among 50 and 500 banks
 * of one currency, it builds two identical engines: banks with zero balances submit payments (heavy-tailed
 * values, a bank's share of payments falling as 1/rank, as in bench_lsm), which all queue; then each bank receives
 * a random share of what it has queued to pay, averaging --liquidity percent, and FIFO release settles what it
 * can. What is left is in gridlock. One engine then runs GRIDLOCK in fifo mode, the other in bypass mode; the
 * program prints the time of that one command and the share of the queued value it settled. (A run before the
 * funding, which settles nothing, warms the run's scratch memory as a live engine's periodic runs keep it warm.)
 *
 * Usage: bench_gridlock [--quick] [--liquidity PCT] [--seed N]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/base/slice.h"
#include "bench.h"
#include "ortak/engine.h"

#define CB "NBRKKZKX"
#define ISSUANCE ((ortak_u128)1)
#define T0 (UINT64_C(1767225600) * ORTAK_NS_PER_S)

struct run {
    uint32_t banks, payments, liquidity_pct;
    uint64_t seed;
};

struct outcome {
    double ms;
    uint32_t queued, settled;
    ortak_i128 queued_value, settled_value;
};

/* Applies commands in batches of at most batch_max; exits on any refusal the benchmark does not expect. */
static void apply(struct ortak_engine *e, const struct ortak_cmd *cmds, uint32_t n, struct ortak_result *res) {
    uint32_t max = ortak_engine_config(e)->limits.batch_max;
    for (uint32_t i = 0; i < n; i += max) {
        uint32_t k = n - i < max ? n - i : max;
        if (ortak_engine_apply(e, cmds + i, k, res) != ORTAK_OK) abort();
        for (uint32_t j = 0; j < k; j++) {
            if (res[j].rc != ORTAK_OK) {
                fprintf(stderr, "bench_gridlock: command %u refused: %s\n", i + j, ortak_rc_name((ortak_rc)res[j].rc));
                exit(1);
            }
        }
    }
}

/* Bank i's BIC: a four-letter code from its index, in Kazakhstan. */
static void bank_bic(uint32_t i, char bic[12]) {
    char code[5];
    bench_bank_code(i, code);
    snprintf(bic, 12, "%sKZKA", code);
}

/* Builds the gridlocked engine of `r` (deterministic for its seed). */
static struct ortak_engine *build(const struct run *r) {
    struct ortak_config cfg;
    ortak_config_default(&cfg);
    cfg.limits.participants_max = r->banks + 8;
    cfg.limits.accounts_max = r->banks + 16;
    cfg.limits.payments_max = r->payments + 16;
    cfg.limits.transfers_max = r->payments + r->banks + 1024;
    cfg.limits.history_max = 2 * (r->payments + r->banks) + 1024;
    cfg.settlement.offsetting = false;
    cfg.settlement.gridlock_interval_ms = 0;
    struct ortak_engine *e;
    if (ortak_engine_open(&cfg, &e) != ORTAK_OK) abort();
    uint32_t cap = r->payments + 2 * r->banks + 8;
    struct ortak_cmd *cmds = calloc(cap, sizeof *cmds);
    struct ortak_result *res = calloc(cfg.limits.batch_max, sizeof *res);
    int64_t *owes = calloc(r->banks, sizeof *owes);
    double *cum = calloc(r->banks, sizeof *cum);
    if (!cmds || !res || !owes || !cum) abort();
    ortak_time_ns t = T0;
    uint32_t n = 0;
    cmds[n] = (struct ortak_cmd){.timestamp = t, .kind = ORTAK_CMD_PARTICIPANT_CREATE};
    strcpy(cmds[n].u.participant_create.bic, CB);
    strcpy(cmds[n].u.participant_create.name, "National Bank of Kazakhstan");
    strcpy(cmds[n].u.participant_create.country, "KZ");
    cmds[n++].u.participant_create.role = ORTAK_ROLE_CENTRAL_BANK;
    cmds[n] = (struct ortak_cmd){.timestamp = t, .kind = ORTAK_CMD_ACCOUNT_CREATE};
    cmds[n].u.account_create = (struct ortak_account_create){.id = ISSUANCE, .kind = ORTAK_ACCOUNT_ISSUANCE};
    strcpy(cmds[n].u.account_create.bic, CB);
    strcpy(cmds[n++].u.account_create.currency, "KZT");
    for (uint32_t i = 0; i < r->banks; i++) {
        char bic[12];
        bank_bic(i, bic);
        cmds[n] = (struct ortak_cmd){.timestamp = t, .kind = ORTAK_CMD_PARTICIPANT_CREATE};
        strcpy(cmds[n].u.participant_create.bic, bic);
        snprintf(cmds[n].u.participant_create.name, sizeof cmds[n].u.participant_create.name, "Bank %u", i);
        strcpy(cmds[n].u.participant_create.country, "KZ");
        cmds[n++].u.participant_create.role = ORTAK_ROLE_BANK;
        cmds[n] = (struct ortak_cmd){.timestamp = t, .kind = ORTAK_CMD_ACCOUNT_CREATE};
        cmds[n].u.account_create = (struct ortak_account_create){.id = 100 + i, .kind = ORTAK_ACCOUNT_SETTLEMENT};
        strcpy(cmds[n].u.account_create.bic, bic);
        strcpy(cmds[n++].u.account_create.currency, "KZT");
        cum[i] = (i ? cum[i - 1] : 0) + 1.0 / (i + 1);
    }
    apply(e, cmds, n, res);

    /* Payments: all queue, for every balance is zero. */
    uint64_t rs = r->seed;
    t += ORTAK_NS_PER_S;
    for (uint32_t k = 0; k < r->payments; k++) {
        uint32_t payer = bench_skewed_bank(&rs, cum, r->banks), payee;
        do payee = bench_skewed_bank(&rs, cum, r->banks);
        while (payee == payer);
        uint64_t value = 1000 + ortak_rng_below(&rs, 9000);
        for (int d = 0; d < 16 && ortak_rng_below(&rs, 2); d++) value *= 2;
        owes[payer] += (int64_t)value;
        cmds[k] = (struct ortak_cmd){.timestamp = t, .kind = ORTAK_CMD_PAYMENT_SUBMIT};
        cmds[k].u.payment = (struct ortak_payment){.id = ((ortak_u128)1 << 64) | k,
                                                   .debit_account_id = 100 + payer,
                                                   .credit_account_id = 100 + payee,
                                                   .amount = value,
                                                   .priority = ORTAK_PRIORITY_NORMAL};
    }
    apply(e, cmds, r->payments, res);

    /* A run with every balance at zero settles nothing but brings the run's scratch memory into use, as the
       periodic runs of a live engine keep it: the measured run is not charged with first-touch page faults. */
    cmds[0] = (struct ortak_cmd){.timestamp = t, .kind = ORTAK_CMD_GRIDLOCK};
    cmds[0].u.gridlock.mode = ORTAK_GRIDLOCK_BYPASS;
    apply(e, cmds, 1, res);

    /* Liquidity: a uniform random share of what each bank owes, averaging liquidity_pct percent. */
    t += ORTAK_NS_PER_S;
    for (uint32_t i = 0; i < r->banks; i++) {
        uint64_t amount =
            (uint64_t)((ortak_u128)(uint64_t)owes[i] * ortak_rng_below(&rs, 2 * r->liquidity_pct + 1) / 100);
        cmds[i] = (struct ortak_cmd){.timestamp = t, .kind = ORTAK_CMD_TRANSFER};
        cmds[i].u.transfer = (struct ortak_transfer){.id = ((ortak_u128)2 << 64) | i,
                                                     .debit_account_id = ISSUANCE,
                                                     .credit_account_id = 100 + i,
                                                     .amount = amount ? amount : 1};
    }
    apply(e, cmds, r->banks, res);
    free(cmds);
    free(res);
    free(owes);
    free(cum);
    return e;
}

/* Runs one GRIDLOCK command in `mode` on a gridlocked engine and measures it. */
static struct outcome resolve(struct ortak_engine *e, uint8_t mode) {
    struct ortak_cmd c = {.timestamp = ortak_engine_now(e) + ORTAK_NS_PER_S, .kind = ORTAK_CMD_GRIDLOCK};
    c.u.gridlock.mode = mode;
    struct ortak_result res;
    uint64_t t0 = bench_now_ns();
    if (ortak_engine_apply(e, &c, 1, &res) != ORTAK_OK || res.rc != ORTAK_OK) abort();
    struct outcome o = {.ms = (double)(bench_now_ns() - t0) / 1e6};
    uint32_t n;
    const struct ortak_event *ev = ortak_engine_events(e, &n);
    for (uint32_t i = 0; i < n; i++) {
        if (ev[i].kind != ORTAK_EV_GRIDLOCK) continue;
        o.queued = (uint32_t)ev[i].amount_old;
        o.settled = (uint32_t)ev[i].amount;
        o.settled_value = (ortak_i128)ev[i].ref;
    }
    return o;
}

/* The value still queued in the currency: the sum over the banks' queues. */
static ortak_i128 queued_value(const struct ortak_engine *e, uint32_t banks) {
    ortak_i128 v = 0;
    for (uint32_t i = 0; i < banks; i++) {
        struct ortak_queue_info qi;
        uint32_t n;
        ortak_u128 id;
        if (ortak_settle_queue(ortak_engine_settle(e), 100 + i, &id, 0, &n, &qi) != ORTAK_OK) abort();
        for (int p = 0; p < ORTAK_PRIORITIES; p++) v += qi.value[p];
    }
    return v;
}

int main(int argc, char **argv) {
    bool quick = false;
    uint64_t liquidity = 25, seed = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = true;
        } else if (i + 1 < argc && strcmp(argv[i], "--liquidity") == 0) {
            if (!ortak_slice_parse_u64(ortak_slice_from_cstr(argv[++i]), 100, &liquidity)) goto usage;
        } else if (i + 1 < argc && strcmp(argv[i], "--seed") == 0) {
            if (!ortak_slice_parse_u64(ortak_slice_from_cstr(argv[++i]), UINT64_MAX, &seed)) goto usage;
        } else {
            goto usage;
        }
    }
    static const uint32_t sizes[][2] = {{10000, 50}, {10000, 500}, {100000, 50}, {100000, 500}};
    printf("gridlock resolution through the engine (one GRIDLOCK command; liquidity %" PRIu64 "%%)\n", liquidity);
    printf("%9s %6s %8s | %10s %9s | %10s %9s\n", "payments", "banks", "queued", "fifo ms", "settled", "bypass ms",
           "settled");
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        struct run r = {
            .payments = sizes[k][0], .banks = sizes[k][1], .liquidity_pct = (uint32_t)liquidity, .seed = seed + k};
        if (quick) r.payments /= 10;
        struct ortak_engine *a = build(&r), *b = build(&r);
        ortak_i128 before = queued_value(a, r.banks);
        struct outcome f = resolve(a, ORTAK_GRIDLOCK_FIFO), y = resolve(b, ORTAK_GRIDLOCK_BYPASS);
        if (queued_value(a, r.banks) != before - f.settled_value ||
            queued_value(b, r.banks) != before - y.settled_value || f.settled_value > y.settled_value) {
            fprintf(stderr, "bench_gridlock: settled values do not add up\n");
            return 1;
        }
        printf("%9u %6u %8u | %10.2f %8.1f%% | %10.2f %8.1f%%\n", r.payments, r.banks, f.queued, f.ms,
               before ? 100.0 * (double)f.settled_value / (double)before : 0.0, y.ms,
               before ? 100.0 * (double)y.settled_value / (double)before : 0.0);
        ortak_engine_close(a);
        ortak_engine_close(b);
    }
    return 0;
usage:
    fprintf(stderr, "usage: bench_gridlock [--quick] [--liquidity PCT] [--seed N]\n");
    return 2;
}
