/*
 * Settlement metrics: the indicators of payment-system simulation, computed from the payments the engine recorded
 * in one currency over one business day.
 *
 * The figures are those of the simulation literature (Leinonen and Soramäki's settlement delay indicator, the
 * liquidity bounds of the Bank of Finland's BoF-PSS2 simulator). docs/settlement.md ("Settlement metrics") gives
 * the precise definitions; in short, over the payments of the currency received in [day_start_ns, day_end_ns):
 *
 *   accepted    every payment except those refused at submission (they were never queued nor settled);
 *   at day end  a payment's outcome is its state if it ended at or before day_end_ns, else it was still queued;
 *   upper       liquidity an account needs to settle each accepted payment the moment it arrived:
 *               max(0, max over arrivals of cumulative (sent - received)), arrivals in (received_ns, record) order;
 *   lower       liquidity it needs to settle them all by the end of the day with multilateral offsetting:
 *               max(0, sent - received);
 *   used        liquidity its settled payments drew: max(0, max over settlement instants of cumulative
 *               (sent - received)), payments settled at the same nanosecond taken as one step;
 *   delay       rho = sum v (settled - received) / sum v (day_end - received) over accepted payments, an unsettled
 *               one counting as settled at day_end: 0 = no delay, 1 = nothing settled before the end of the day.
 *
 * Money is in minor units (128-bit sums); no floating point is used. Ratios are given exactly, as a numerator and
 * a denominator, and as parts per million rounded half up (0 when the denominator is 0).
 *
 * This is a report over the engine's state, not part of its deterministic apply path: it reads the engine without
 * changing it, allocates scratch memory in proportion to the payments and accounts and frees it before returning.
 */
#ifndef ORTAK_METRICS_H
#define ORTAK_METRICS_H

#include "ortak/engine.h"

/* Figures of one account (over the payments it sent, unless said otherwise) or of all accounts (the total). */
struct ortak_settle_metrics {
    /* Liquidity in minor units: an account's own; the total's are the sums of the accounts'. */
    ortak_i128 liquidity_upper; /* UB: to settle every accepted payment on arrival, without queueing */
    ortak_i128 liquidity_lower; /* LB: to settle them all by the end of the day, with perfect offsetting */
    ortak_i128 liquidity_used;  /* drawn by the payments that settled, in settlement order */

    /* Payments; accepted = settled + queued + cancelled + rejected. */
    uint32_t accepted_count;
    uint32_t settled_count;   /* settled at or before day_end_ns */
    uint32_t queued_count;    /* accepted and still queued at day_end_ns (a net payment: its window still open) */
    uint32_t cancelled_count; /* cancelled by the payer at or before day_end_ns */
    uint32_t rejected_count;  /* rejected after queueing (cut-off, latest settlement time...) by day_end_ns */
    uint32_t refused_count;   /* refused at submission: not accepted, and in no other figure */
    ortak_i128 accepted_value;
    ortak_i128 settled_value;   /* the turnover */
    uint32_t settled_count_ppm; /* settled_count / accepted_count, parts per million */
    uint32_t settled_value_ppm; /* settled_value / accepted_value, parts per million */

    /*
     * Settlement delay indicator rho = delay_num / delay_den, both in (minor units x delay_unit_ns nanoseconds).
     * The unit is 1 ns unless the denominator of the total would not fit 128 bits; then the first of 1 us, 1 ms
     * and 1 s in which it fits (1 s always does), with every instant t read as floor(t / unit). Every account
     * and the total use the same unit, so the total's numerator and denominator are the sums of the accounts'.
     */
    ortak_u128 delay_num;
    ortak_u128 delay_den; /* 0 only when no payment was accepted (or, at a coarse unit, all came in its last unit) */
    uint64_t delay_unit_ns;
    uint32_t delay_ppm; /* rho in parts per million, 0..1,000,000 */
};

/* One settlement account of the currency: the payer or payee of an accepted payment, or the payer of a refused one. */
struct ortak_settle_metrics_account {
    ortak_u128 account_id;
    char bic[12]; /* its participant */
    struct ortak_settle_metrics m;
    /* Accepted payments it received, and those of them settled by day_end_ns. */
    uint32_t received_count;
    uint32_t received_settled_count;
    ortak_i128 received_value;
    ortak_i128 received_settled_value;
};

/*
 * Computes the metrics of the payments in `currency` (ISO 4217 alphabetic code, NUL-terminated) received by the
 * engine in [day_start_ns, day_end_ns), as they stood at day_end_ns. Writes the total to *total and the accounts'
 * rows, ordered by account id, to per_account: at most per_account_cap of them; *per_account_n (may be NULL) gets
 * the number of rows there are, which may exceed the cap (the total always covers every account; a cap of
 * ortak_ledger_account_count() is always enough). per_account may be NULL when the cap is 0. Takes no ownership;
 * the engine is only read. O(P + p log p + a log a) for P payments recorded, p of them counted, a accounts.
 * Returns ORTAK_OK; ORTAK_INVALID (a NULL argument, day_end_ns <= day_start_ns); ORTAK_CURRENCY_UNKNOWN (not a
 * currency of the engine's configuration); ORTAK_NOMEM. On an error *total and *per_account_n (those not NULL)
 * are zeroed.
 */
ortak_rc ortak_settle_metrics_compute(const struct ortak_engine *e, const char *currency, ortak_time_ns day_start_ns,
                                      ortak_time_ns day_end_ns, struct ortak_settle_metrics *total,
                                      struct ortak_settle_metrics_account *per_account, uint32_t per_account_cap,
                                      uint32_t *per_account_n);

#endif
