/*
 * Deferred net settlement: per currency, windows in which net payments are accepted against collateral and
 * settled together, net, when the window closes.
 *
 * A net payment (struct ortak_payment with method ORTAK_METHOD_NET, priority normal, no latest time) is accepted
 * into its currency's open window when the payer's net debit position in the window after it (what it sent minus
 * what it received) stays within its net debit cap. The cap is set by the central bank (ORTAK_CMD_NET_CAP_SET on
 * the payer's settlement account) and can never exceed what the payer holds in its collateral account in that
 * currency: setting a cap pledges that much of the collateral account (the ledger keeps it as the collateral
 * account's reservation, which no transfer can spend), so a guaranteed position is always covered. Acceptance is
 * final: the payment's state is ACCEPTED and the event ORTAK_EV_PAYMENT_ACCEPTED tells the payee that settlement is
 * guaranteed.
 *
 * A window closes on ORTAK_CMD_NET_CLOSE or when engine time crosses a multiple of the currency's net_window_ms
 * (config.h; 0 = only on the command), so which window a payment belongs to depends on engine timestamps alone.
 * At the close every participant's multilateral net position is settled as one all-or-nothing set of transfers
 * between settlement accounts: each debtor pays from its settlement account as far as its available liquidity
 * (without its reservation) goes and from its collateral account for the rest; creditors are paid in account
 * order. The window's payments become SETTLED, a report row per participant and a summary are events, and the
 * next window opens at once. docs/netting.md has the rules and worked examples.
 */
#ifndef ORTAK_NETTING_H
#define ORTAK_NETTING_H

#include "ortak/rc.h"
#include "ortak/types.h"

enum ortak_window_state { ORTAK_WINDOW_OPEN = 1, ORTAK_WINDOW_SETTLED = 2 };

/* Close the open window of a currency now (an operator's command). */
struct ortak_net_close {
    char currency[4]; /* ISO 4217 code */
};

struct ortak_window_info {
    uint64_t id; /* 1, 2, ... per currency */
    uint8_t state;
    ortak_time_ns opened_ns;
    ortak_time_ns closed_ns; /* 0 while open */
    uint32_t payments;
    uint32_t participants; /* accounts that sent or received in it */
    ortak_i128 gross;      /* value of its payments */
    ortak_i128 moved;      /* value of the net settlement: the sum of the debtors' positions (0 while open) */
};

/* One participant's line of a window's report. */
struct ortak_window_position {
    ortak_u128 account_id; /* its settlement account */
    uint32_t sent_count, received_count;
    ortak_i128 sent, received; /* gross values */
    ortak_i128 net;            /* received - sent: > 0 a creditor, < 0 a debtor */
    int64_t from_collateral;   /* of a debtor's payment at the close, the part its collateral account paid */
};

struct ortak_netting;

/*
 * The open window of `currency` (window_id 0 or its id) or the last one closed. ORTAK_OK, ORTAK_CURRENCY_UNKNOWN,
 * or ORTAK_WINDOW_NOT_FOUND for any other id (older reports live in the events).
 */
ortak_rc ortak_netting_window(const struct ortak_netting *n, const char *currency, uint64_t window_id,
                              struct ortak_window_info *out);
/*
 * The report of the same windows: a row per participant that sent or received, in account order; at most `cap`
 * rows into `rows`, their number in *count (which may exceed cap). Same results as ortak_netting_window.
 */
ortak_rc ortak_netting_positions(const struct ortak_netting *n, const char *currency, uint64_t window_id,
                                 struct ortak_window_position *rows, uint32_t cap, uint32_t *count);
/*
 * The net debit cap of a settlement account and its net debit in the open window (what it sent minus what it
 * received, when positive; else 0). ORTAK_OK, ORTAK_ACCOUNT_NOT_FOUND.
 */
ortak_rc ortak_netting_cap(const struct ortak_netting *n, ortak_u128 account_id, int64_t *cap, ortak_i128 *net_debit);

#endif
