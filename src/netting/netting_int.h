/*
 * Net settlement internals, shared with the engine and the settlement module.
 *
 * Storage (sized at open, never grown):
 *   acc[]     per ledger account: its gross sent and received in its currency's open window, and its row of the
 *             report of the last window closed
 *   open[c]   per currency: the open window; last[c]: the last one closed
 *   list      per currency, the open window's accepted payments in acceptance order, linked through the
 *             payments' queue links (an accepted payment is never queued): head[c] .. tail[c]
 *   scratch   the close's rows and the sources and sinks of its transfers
 * A participant's net debit cap is its collateral account's reservation in the ledger (netting.h), so caps need
 * no state here; the open window's sums are rebuilt from its accepted payments when a snapshot is loaded.
 */
#ifndef ORTAK_NETTING_INT_H
#define ORTAK_NETTING_INT_H

#include "ledger/ledger_int.h"
#include "ortak/config.h"
#include "ortak/netting.h"

struct ortak_settle;

struct net_account {
    ortak_i128 sent, received; /* open window */
    uint32_t sent_count, received_count;
    struct ortak_window_position last; /* its row in the last closed window of its currency */
    uint64_t last_window;              /* that window's id; 0 = none */
};

/* One leg of the close: `amount` out of (a source) or into (a sink) account `account`. */
struct net_leg {
    uint32_t account;
    uint32_t debtor; /* a source: the debtor's settlement account (its row) */
    int64_t amount;
    bool collateral; /* a source: the debtor's collateral account */
};

struct ortak_netting {
    const struct ortak_ledger *ledger; /* for queries that name accounts by id */
    uint32_t accounts_max;
    uint64_t window_ms[ORTAK_CURRENCIES_LIMIT];
    struct ortak_window_info open[ORTAK_CURRENCIES_LIMIT], last[ORTAK_CURRENCIES_LIMIT];
    uint32_t head[ORTAK_CURRENCIES_LIMIT], tail[ORTAK_CURRENCIES_LIMIT]; /* accepted payments of the open window */
    struct net_account *acc;
    uint32_t *rows;
    struct net_leg *src, *dst;
};

/* Events one close can cause besides its payments': a transfer and a row per participant (two per debtor at most),
 * a cap lowered per debtor, and the summary. Per participant, then: */
#define ORTAK__NET_EVENTS_PER_ACCOUNT 4u

int ortak__netting_init(struct ortak_netting *n, const struct ortak_ledger *l, const struct ortak_config *cfg);
void ortak__netting_free(struct ortak_netting *n);
size_t ortak__netting_memory_bytes(const struct ortak_netting *n);

/*
 * Admission of a net payment of `amount` from account dr to cr (checked otherwise by the caller): its payer's net
 * debit position must stay within its cap. ORTAK_OK (nothing changed yet) or ORTAK_NET_CAP_EXCEEDED.
 */
ortak_rc ortak__netting_admit(const struct ortak_netting *n, const struct ortak_ledger *l, uint32_t dr, uint32_t cr,
                              uint64_t amount);
/* Records accepted payment x (already in the settlement module's table) in its currency's open window. */
void ortak__netting_add(struct ortak_netting *n, struct ortak_settle *s, const struct ortak_ledger *l, uint32_t x);
/* Whether account `id` sent or received in its currency's open window. */
bool ortak__netting_account_busy(const struct ortak_netting *n, const struct ortak_ledger *l, ortak_u128 id);
/* The open window's id of currency `cur`. */
uint64_t ortak__netting_window_id(const struct ortak_netting *n, uint32_t cur);

ortak_rc ortak__netting_cap_set(struct ortak_netting *n, struct ortak_ledger *l, const struct ortak_account_amount *c,
                                struct ortak__out *out);
/* The operator's close of one currency's window (empty windows too). */
ortak_rc ortak__netting_close_command(struct ortak_netting *n, struct ortak_settle *s, struct ortak_ledger *l,
                                      const struct ortak_net_close *c, struct ortak__out *out);
/* Closes every window whose currency's interval engine time crossed between `before` and out->now (not empty ones). */
void ortak__netting_periodic(struct ortak_netting *n, struct ortak_settle *s, struct ortak_ledger *l,
                             ortak_time_ns before, struct ortak__out *out);

void ortak__netting_encode(const struct ortak_netting *n, ortak_sink_fn sink, void *ctx);
/* Loads the netting state after the settlement state (whose accepted payments it rebuilds the open windows from). */
ortak_rc ortak__netting_decode(struct ortak_netting *n, struct ortak_settle *s, const struct ortak_ledger *l,
                               struct ortak_slice *cur);

#endif
