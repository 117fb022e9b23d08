/*
 * FX internals, shared with the engine and the settlement module.
 *
 * Storage (sized at open from the limits, never grown):
 *   rates[]   the providers' live rates, in a dense array (a withdrawal moves the last one into the gap); each
 *             carries its publication number, which breaks ties between equally good rates (first published wins)
 *   quotes[]  every quote given, in creation order; id -> index in `map`
 * A quote's state beyond OPEN/USED follows its hold in the ledger (posted, voided or expired), so nothing here
 * changes when the hold expires.
 *
 * System transfer ids (ledger_int.h): a quote's hold, the post of the hold and its void are
 * ORTAK__SYSTEM_ID_PREFIX | kind << 104 | quote index, with kinds 2, 3 and 4, and its payment's fee leg kind 5
 * (net settlement uses kind 0).
 */
#ifndef ORTAK_FX_INT_H
#define ORTAK_FX_INT_H

#include "base/idmap.h"
#include "ledger/ledger_int.h"
#include "ortak/config.h"
#include "ortak/fx.h"

struct fx_rate {
    uint64_t bid, ask, max_amount;
    ortak_time_ns valid_until_ns;
    uint64_t seq; /* publication number */
    uint32_t provider;
    uint16_t base, quote;
};

struct fx_quote {
    struct ortak_fx_quote_request req;
    ortak_u128 payment_id; /* 0 while no payment carries it */
    uint64_t source_amount, target_amount, rate;
    ortak_time_ns created_ns, expires_ns;
    uint32_t provider;
    uint32_t payer, payee;    /* account indices */
    uint32_t provider_source; /* the provider's settlement account in the source currency */
    uint32_t provider_target; /* ... in the target currency */
    uint64_t fee;             /* the operator's fee, in the source currency; 0 = none */
    uint32_t fee_account;     /* the operator's settlement account in the source currency; UINT32_MAX if no fee */
};

struct ortak_fx {
    const struct ortak_ledger *ledger; /* for queries */
    uint32_t rates_max, quotes_max;
    uint32_t quote_ttl_s;
    uint32_t fee_ppm;
    struct fx_rate *rates;
    uint32_t rate_count;
    uint64_t rate_seq;
    struct fx_quote *quotes;
    uint32_t quote_count;
    struct ortak_idmap map;
};

enum { FX_ID_HOLD = 2, FX_ID_POST = 3, FX_ID_VOID = 4, FX_ID_FEE = 5 };
static inline ortak_u128 ortak__fx_system_id(uint32_t kind, uint32_t quote) {
    return ORTAK__SYSTEM_ID_PREFIX | (ortak_u128)kind << 104 | quote;
}

int ortak__fx_init(struct ortak_fx *fx, const struct ortak_ledger *l, const struct ortak_config *cfg);
void ortak__fx_free(struct ortak_fx *fx);
size_t ortak__fx_memory_bytes(const struct ortak_fx *fx);

ortak_rc ortak__fx_rate_set(struct ortak_fx *fx, const struct ortak_ledger *l, const struct ortak_fx_rate *r,
                            struct ortak__out *out);
void ortak__fx_quote(struct ortak_fx *fx, struct ortak_ledger *l, const struct ortak_fx_quote_request *q,
                     struct ortak__out *out, struct ortak_result *r);

/*
 * A payment carrying quote `id`, from account `dr` for `amount` to account id `credit_id`: checks that it may
 * carry it (ORTAK_QUOTE_NOT_FOUND, _OTHER_PAYER, _MISMATCH, _USED, _EXPIRED, ORTAK_PARTICIPANT_NOT_ACTIVE for a
 * payee no longer active) and gives the quote's index, the
 * provider's source-currency account (the payment's leg in the payer's currency goes there) and its expiry.
 */
ortak_rc ortak__fx_quote_check(const struct ortak_fx *fx, const struct ortak_ledger *l, ortak_u128 id, uint32_t dr,
                               ortak_u128 credit_id, uint64_t amount, ortak_time_ns now, uint32_t *quote,
                               uint32_t *provider_source, ortak_time_ns *expires_ns);
/* Binds quote `quote` to payment `payment_id` (after a successful check). */
void ortak__fx_quote_bind(struct ortak_fx *fx, uint32_t quote, ortak_u128 payment_id);
/* The target leg of quote `quote`: the post of its hold. */
struct ortak_transfer ortak__fx_post(const struct ortak_fx *fx, uint32_t quote);
/* Quote `quote`'s fee (0 = none), and its fee leg: payer -> operator in the source currency. */
uint64_t ortak__fx_fee(const struct ortak_fx *fx, uint32_t quote);
struct ortak_transfer ortak__fx_fee_leg(const struct ortak_fx *fx, const struct ortak_ledger *l, uint32_t quote);
/*
 * Whether quote `quote`'s legs other than the payer's to the provider (which the ledger checks) can be booked at
 * `now`: ORTAK_OK; ORTAK_QUOTE_EXPIRED (its hold expired, or its expiry time has come); ORTAK_PARTICIPANT_NOT_ACTIVE
 * (the payee's participant, or the operator taking the fee, is suspended or closed); ORTAK_ACCOUNT_CLOSED (the
 * operator's fee account).
 */
ortak_rc ortak__fx_target_leg_check(const struct ortak_fx *fx, const struct ortak_ledger *l, uint32_t quote,
                                    ortak_time_ns now);
/* Releases quote `quote`'s hold if it is still open (its payment was cancelled or rejected). */
void ortak__fx_release(struct ortak_fx *fx, struct ortak_ledger *l, uint32_t quote, struct ortak__out *out);

void ortak__fx_encode(const struct ortak_fx *fx, ortak_sink_fn sink, void *ctx);
ortak_rc ortak__fx_decode(struct ortak_fx *fx, const struct ortak_ledger *l, struct ortak_slice *cur);

#endif
