/*
 * Real-time gross settlement: payments, their queues and their release.
 *
 * A payment is what a bank asks for: move `amount` from its settlement account to the payee's, with a priority
 * and optionally a latest settlement time. It settles at once, final, as one ledger transfer (whose id is the
 * payment's id), when the payer has nothing queued at its priority or above and enough available liquidity
 * (urgent and highly urgent payments may use the reserved part). Otherwise it waits in the payer's queue for that
 * account, ordered by priority and then by place in the queue, and is released in that order whenever the payer's
 * liquidity rises (FIFO release): a queued payment never settles while one of higher or equal priority queued before
 * it waits. A queued payment ends settled, cancelled by its payer, or rejected — at a cut-off of its priority
 * (REJECTED_AT_CUTOFF, ISO AM04) or when its latest settlement time passes (SETTLEMENT_TIMEOUT, AB03).
 * Every change of state is an event.
 *
 * Payments are part of the deterministic engine: commands in engine.h, state in the engine's canonical encoding,
 * read-only queries here.
 */
#ifndef ORTAK_SETTLE_H
#define ORTAK_SETTLE_H

#include "ortak/rc.h"
#include "ortak/types.h"

enum ortak_priority { ORTAK_PRIORITY_HIGHLY_URGENT = 0, ORTAK_PRIORITY_URGENT = 1, ORTAK_PRIORITY_NORMAL = 2 };
#define ORTAK_PRIORITIES 3

enum ortak_payment_state {
    ORTAK_PAYMENT_QUEUED = 1,
    ORTAK_PAYMENT_SETTLED,
    ORTAK_PAYMENT_CANCELLED,
    ORTAK_PAYMENT_REJECTED, /* the result code says why */
    ORTAK_PAYMENT_ACCEPTED, /* a net payment in its open window: settlement guaranteed at the window's close */
    ORTAK_PAYMENT_HELD,     /* held by sanctions screening until the operator releases or rejects it */
};

/* How a payment settles: gross, at once or from its queue; or net, when its currency's window closes (netting.h). */
enum ortak_settlement_method { ORTAK_METHOD_GROSS = 0, ORTAK_METHOD_NET = 1 };

/* Which name of a payment a screening hit is on. */
enum ortak_screening_party {
    ORTAK_PARTY_NONE = 0,
    ORTAK_PARTY_DEBTOR,
    ORTAK_PARTY_CREDITOR,
    ORTAK_PARTY_DEBTOR_AGENT,
    ORTAK_PARTY_CREDITOR_AGENT,
};

/*
 * The sanctions-screening decision a payment was submitted with (the server screens; the engine only keeps it with
 * the payment, in its journal record and its snapshot): which lists, and the best hit at or above the threshold.
 */
struct ortak_screening {
    uint64_t lists_version; /* digest of the lists that screened it; 0 = not screened (domestic, or no lists) */
    uint16_t score;         /* the best hit's score in 1/10000; 0 = no hit */
    uint8_t party;          /* enum ortak_screening_party: the name it hit on */
    char list[8];           /* the hit's list ("UN", "OFAC", a local list's name), NUL-terminated */
    char entry_id[24];      /* the entry's reference in its list, NUL-terminated */
};

/*
 * A payment as submitted; every field but `hold` and `screening` takes part in the idempotency comparison (a retry
 * screened against newer lists is the same payment).
 */
struct ortak_payment {
    ortak_u128 id;                /* not 0, not all ones; also the id of the transfer that settles it */
    ortak_u128 debit_account_id;  /* the payer's settlement account */
    ortak_u128 credit_account_id; /* the payee's settlement account, same currency */
    ortak_u128 uetr;              /* opaque to the engine: the ISO 20022 UETR */
    ortak_u128 quote_id;          /* an FX quote (fx.h): a cross-currency payment; 0 for one currency */
    uint64_t amount;              /* minor units, 1..ORTAK_AMOUNT_MAX */
    ortak_time_ns latest_ns;      /* latest settlement time; 0 = none */
    uint8_t priority;             /* enum ortak_priority; a net payment's is normal */
    uint8_t method;               /* enum ortak_settlement_method */
    uint8_t hold;                 /* 1: screening holds it (state HELD) until ORTAK_CMD_PAYMENT_RELEASE or _REJECT */
    struct ortak_screening screening;
};

/*
 * Cancel a queued payment, change its priority (it goes to the tail of its new class), or move it; release or reject
 * a payment held by screening.
 */
struct ortak_payment_control {
    ortak_u128 id;
    uint8_t priority; /* ORTAK_CMD_PAYMENT_PRIORITY: the new priority */
    uint8_t to_head;  /* ORTAK_CMD_PAYMENT_MOVE: 1 = head of its class, 0 = tail */
};

/* Close (or, with open = 1, reopen for a new business day) the priorities in the mask (1 << priority). */
struct ortak_cutoff {
    uint8_t priorities;
    uint8_t open;
};

/*
 * Run gridlock resolution now (an operator's command): for one currency or all, settle atomically the set of
 * queued payments the mode chooses (see the top of this file and docs/settlement.md).
 */
struct ortak_gridlock {
    uint8_t mode;     /* enum ortak_gridlock_mode (config.h); 0 = the configured mode */
    char currency[4]; /* ISO 4217 code, or "" for every currency */
};

struct ortak_payment_info {
    struct ortak_payment p;
    uint8_t state; /* enum ortak_payment_state */
    ortak_rc rc;   /* ORTAK_OK unless rejected */
    ortak_time_ns received_ns;
    ortak_time_ns ended_ns; /* settled, cancelled or rejected at; 0 while queued or accepted */
    uint64_t window;        /* a net payment: the id of its currency's window; 0 for a gross payment */
};

struct ortak_queue_info {
    uint32_t count[ORTAK_PRIORITIES];
    ortak_i128 value[ORTAK_PRIORITIES];
};

struct ortak_settle;

/* Returns ORTAK_OK or ORTAK_PAYMENT_NOT_FOUND. */
ortak_rc ortak_settle_payment_get(const struct ortak_settle *s, ortak_u128 id, struct ortak_payment_info *out);
/* Payments recorded (in every state). */
uint32_t ortak_settle_payment_count(const struct ortak_settle *s);
/* The payment recorded i-th (i < ortak_settle_payment_count): ORTAK_OK, or ORTAK_PAYMENT_NOT_FOUND past the end. */
ortak_rc ortak_settle_payment_at(const struct ortak_settle *s, uint32_t i, struct ortak_payment_info *out);
/*
 * The queue of an account in settlement order (highest priority first, then place): at most `max` payment ids
 * into `ids`, the number written in *n. Returns ORTAK_OK or ORTAK_ACCOUNT_NOT_FOUND.
 */
ortak_rc ortak_settle_queue(const struct ortak_settle *s, ortak_u128 account_id, ortak_u128 *ids, uint32_t max,
                            uint32_t *n, struct ortak_queue_info *info);
/* Whether the cut-off of `priority` has passed (and no reopening since). */
bool ortak_settle_cutoff_passed(const struct ortak_settle *s, uint8_t priority);

const char *ortak_priority_name(uint8_t priority);
const char *ortak_payment_state_name(uint8_t state);

#endif
