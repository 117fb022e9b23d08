/*
 * Cross-currency payments, payment versus payment: FX providers' rates, firm quotes, and payments that carry one.
 *
 * Rates. A participant with role fx_provider, holding settlement accounts in the currencies it trades, publishes
 * a rate per currency pair base/quote (ORTAK_CMD_FX_RATE_SET): bid and ask in quote-currency units per base-currency
 * unit, times 10^9 (fixed point, bid <= ask), the most base currency one quote may convert, and a validity end.
 * Publishing again replaces its rate for that pair; `withdraw` removes it.
 *
 * Quotes. A bank asks for a quote (ORTAK_CMD_FX_QUOTE) to pay from its settlement account in the source currency to
 * a payee's settlement account in the target currency, fixing either the amount it sends or the amount the payee
 * receives. The engine converts with every valid rate of the pair (the provider buys base at bid: source base ->
 * target quote; it sells base at ask: source quote -> target base), keeps those within the provider's maximum and
 * whose target-currency liquidity covers the target amount, and picks the best for the bank (the most target for
 * a fixed source, the least source for a fixed target; ties to the rate published first). It holds the target
 * amount with a pending transfer from the provider's target-currency account to the payee's, which expires with
 * the quote, and answers with a firm quote: its id (chosen by the bank, idempotent), both amounts, the rate and
 * the expiry (default 600 s, configurable).
 *
 * Rounding, always in the provider's favour and by less than one minor unit: a fixed source converts to the target
 * amount rounded down (the payee gets the whole minor units; the fraction stays with the provider); a fixed target
 * needs the source amount rounded up. docs/fx.md has the formulas and worked examples.
 *
 * Payment versus payment. A gross payment that carries the quote's id (struct ortak_payment.quote_id), from the
 * quote's payer to its payee for its source amount, settles as one linked chain: payer -> provider in the source
 * currency, and the hold posted provider -> payee in the target currency. Either both legs settle or neither.
 * Short of liquidity, it queues as one unit in the payer's source-currency queue, with the quote's expiry as its
 * latest settlement time, and takes part in FIFO release, offsetting and gridlock resolution as a payment to the
 * provider (its target leg is covered by the hold). Cancelled or rejected, its hold is released. A quote's hold
 * ends exactly once: posted, released, or expired.
 *
 * Fee. With [fx] fee_ppm set, a quote adds the operator's fee, ceil(source x fee_ppm / 10^6) in the source
 * currency, paid by the payer (its payment is for source + fee) to the operator's settlement account as a third
 * member of the chain.
 */
#ifndef ORTAK_FX_H
#define ORTAK_FX_H

#include "ortak/rc.h"
#include "ortak/types.h"

/* Fixed-point scale of rates: a rate of 1.5 is 1,500,000,000. */
#define ORTAK_FX_RATE_SCALE UINT64_C(1000000000)

struct ortak_fx_rate {
    char provider[12]; /* BIC of a participant with role fx_provider */
    char base[4];      /* ISO 4217 codes of the pair */
    char quote[4];
    uint64_t bid;                 /* quote units per base unit x 10^9 at which the provider buys base; > 0 */
    uint64_t ask;                 /* ... at which it sells base; >= bid */
    uint64_t max_amount;          /* the most base currency, in minor units, one quote may convert; > 0 */
    ortak_time_ns valid_until_ns; /* the rate quotes until this engine time (excluded) */
    uint8_t withdraw;             /* 1: remove the provider's rate for the pair (other fields ignored) */
};

enum ortak_fx_fixed { ORTAK_FX_FIXED_SOURCE = 0, ORTAK_FX_FIXED_TARGET = 1 };

struct ortak_fx_quote_request {
    ortak_u128 id;                /* chosen by the bank; not 0, not in the system's id space */
    ortak_u128 debit_account_id;  /* the payer's settlement account, in the source currency */
    ortak_u128 credit_account_id; /* the payee's settlement account, in the target currency */
    uint64_t amount;              /* what the payer sends (fixed source) or the payee receives (fixed target) */
    uint32_t ttl_s;               /* seconds the quote stays firm; 0 = the configured default */
    uint8_t fixed;                /* enum ortak_fx_fixed */
};

enum ortak_quote_state {
    ORTAK_QUOTE_STATE_OPEN = 1, /* firm, unused */
    ORTAK_QUOTE_STATE_USED,     /* carried by a payment still queued */
    ORTAK_QUOTE_STATE_SETTLED,  /* its payment settled: the hold was posted */
    ORTAK_QUOTE_STATE_RELEASED, /* its payment was cancelled or rejected: the hold was voided */
    ORTAK_QUOTE_STATE_EXPIRED,  /* its expiry came before a payment settled: the hold expired */
};

struct ortak_fx_quote_info {
    struct ortak_fx_quote_request req;
    char provider[12];
    char source[4], target[4];
    uint64_t source_amount; /* what the provider receives from the payer */
    uint64_t fee_amount;    /* the operator's fee, in the source currency: the payer pays source + fee */
    uint64_t target_amount; /* what the payee receives */
    uint64_t rate;          /* the rate applied (bid or ask, x 10^9, quote units per base unit) */
    ortak_time_ns created_ns, expires_ns;
    ortak_u128 hold_id;    /* the pending transfer that holds the target amount */
    ortak_u128 payment_id; /* the payment that carries it; 0 while none */
    uint8_t state;         /* enum ortak_quote_state */
};

struct ortak_fx;

/* A quote by id: ORTAK_OK or ORTAK_QUOTE_NOT_FOUND. Its state follows its hold in the ledger. */
ortak_rc ortak_fx_quote_get(const struct ortak_fx *fx, ortak_u128 id, struct ortak_fx_quote_info *out);
/* A provider's rate for a pair (base, quote as published): ORTAK_OK or ORTAK_FX_RATE_NOT_FOUND. */
ortak_rc ortak_fx_rate_get(const struct ortak_fx *fx, const char *provider_bic, const char *base, const char *quote,
                           struct ortak_fx_rate *out);
/* Rates published and not withdrawn (expired ones included until replaced or withdrawn). */
uint32_t ortak_fx_rate_count(const struct ortak_fx *fx);

#endif
