/*
 * Settlement internals, shared with the engine (which drives payments through the ortak__settle_* functions).
 *
 * Storage (sized at open from the limits, never grown):
 *   payments[]   dense, in recording order (queued, settled, cancelled, refused alike); id -> index in `map`
 *   queues[]     per account: for each priority a doubly linked list of queued payments (prev/next indices),
 *                with counts and values
 *   deadlines    a min-heap of payments that have a latest settlement time, by (latest_ns, index); an entry
 *                whose payment is no longer queued is skipped when it comes out (each payment enters once)
 *   gridlock     the scratch of one gridlock resolution run: an lsm workspace and instance arrays for every
 *                queued payment and every account (gridlock.c)
 * A payment's place in its class is an integer key: the tail gets ++tail_place, the head gets --head_place, so
 * the order of a queue is the order of keys and can be rebuilt from the payments alone (snapshot loading).
 */
#ifndef ORTAK_SETTLE_INT_H
#define ORTAK_SETTLE_INT_H

#include "base/idmap.h"
#include "base/slice.h"
#include "ledger/ledger_int.h"
#include "ortak/engine.h"
#include "ortak/settle.h"
#include "settle/lsm.h"

struct stl_payment {
    struct ortak_payment p; /* as submitted */
    ortak_time_ns received_ns;
    ortak_time_ns ended_ns;
    int64_t place;
    uint64_t window;      /* a net payment: its window's id; 0 for a gross one */
    ortak_time_ns due_ns; /* rejected when still queued at this time: its latest time or its quote's expiry */
    uint32_t quote;       /* a cross-currency payment: its FX quote's index; UINT32_MAX otherwise */
    uint64_t fee;         /* ... its quote's fee to the operator, part of its amount (the rest goes to the provider) */
    uint32_t debit, credit; /* account indices; UINT32_MAX when refused before they were resolved */
    uint32_t prev, next;    /* queue links (an accepted net payment: its window's list); UINT32_MAX = none */
    uint16_t rc;
    uint8_t state;
    uint8_t priority; /* current; may differ from p.priority after a change */
};

struct stl_queue {
    uint32_t head[ORTAK_PRIORITIES], tail[ORTAK_PRIORITIES];
    uint32_t count[ORTAK_PRIORITIES];
    ortak_i128 value[ORTAK_PRIORITIES];
};

/* Scratch of gridlock resolution, sized at open: the instance of one currency's queues and its answer. */
struct stl_gridlock {
    struct ortak_lsm_workspace ws;
    struct ortak_lsm_payment *pay; /* [payments_max] the instance's payments */
    uint32_t *payment_of;          /* [payments_max] the settlement payment of each */
    uint8_t *selected;             /* [payments_max] the answer */
    int64_t *balance;              /* [accounts_max + 1] the instance's participants' liquidity */
    uint32_t *account_of;          /* [accounts_max + 1] the account of each participant; NONE for the sink */
    uint32_t *index_of;            /* [accounts_max] each account's participant index; NONE outside a run */
};

struct ortak_netting;
struct ortak_fx;

struct ortak_settle {
    const struct ortak_ledger *ledger; /* for queries that name accounts by id */
    struct ortak_netting *netting;     /* net payments are admitted to its windows */
    struct ortak_fx *fx;               /* cross-currency payments carry its quotes */
    struct ortak_settlement_config cfg;
    uint32_t payments_max;
    uint32_t accounts_max;
    struct stl_payment *payments;
    uint32_t payment_count;
    struct ortak_idmap map;
    struct stl_queue *queues;
    uint32_t *deadlines;
    uint32_t deadline_len;
    int64_t head_place, tail_place;
    uint32_t queued[ORTAK_CURRENCIES_LIMIT]; /* payments queued, by currency index */
    uint8_t cutoff_closed;                   /* bit per priority */
    struct stl_gridlock grid;
};

/*
 * Events one payment can cause in a batch besides its own command's: settled later with its transfer (a
 * cross-currency payment: both legs), or released (its hold) and rejected.
 */
#define ORTAK__SETTLE_EVENTS_PER_PAYMENT 3u
/* Events one settlement command can cause itself: a cross-currency payment released from a screening hold that
 * settles with offsetting (the release, its two legs, the payment, the offset); an FX quote (its hold, the quote). */
#define ORTAK__SETTLE_EVENTS_PER_COMMAND 5u
/* Events of the gridlock resolution runs one command can cause (a periodic run and an operator's): per currency. */
#define ORTAK__SETTLE_GRIDLOCK_EVENTS_PER_CURRENCY 2u

int ortak__settle_init(struct ortak_settle *s, const struct ortak_ledger *l, const struct ortak_config *cfg);
void ortak__settle_free(struct ortak_settle *s);
size_t ortak__settle_memory_bytes(const struct ortak_settle *s);

void ortak__settle_submit(struct ortak_settle *s, struct ortak_ledger *l, const struct ortak_payment *p,
                          struct ortak__out *out, struct ortak_result *r);
void ortak__settle_hold_release(struct ortak_settle *s, struct ortak_ledger *l, const struct ortak_payment_control *c,
                                struct ortak__out *out, struct ortak_result *r);
ortak_rc ortak__settle_hold_reject(struct ortak_settle *s, struct ortak_ledger *l,
                                   const struct ortak_payment_control *c, struct ortak__out *out);
ortak_rc ortak__settle_cancel(struct ortak_settle *s, struct ortak_ledger *l, const struct ortak_payment_control *c,
                              struct ortak__out *out);
ortak_rc ortak__settle_priority(struct ortak_settle *s, struct ortak_ledger *l, const struct ortak_payment_control *c,
                                struct ortak__out *out);
ortak_rc ortak__settle_move(struct ortak_settle *s, struct ortak_ledger *l, const struct ortak_payment_control *c,
                            struct ortak__out *out);
ortak_rc ortak__settle_cutoff(struct ortak_settle *s, struct ortak_ledger *l, const struct ortak_cutoff *c,
                              struct ortak__out *out);
/* Rejects queued payments whose latest settlement time is at or before out->now. */
void ortak__settle_deadlines(struct ortak_settle *s, struct ortak_ledger *l, struct ortak__out *out);
/* Releases, in FIFO order, the queues of every account whose liquidity rose (cascading as payments settle). */
void ortak__settle_release(struct ortak_settle *s, struct ortak_ledger *l, struct ortak__out *out);

/*
 * Gridlock resolution of one currency (index into the configuration's currencies) in `mode`: builds the instance
 * of its queues, solves it, and settles the chosen set atomically, with an ORTAK_EV_GRIDLOCK event when anything
 * was queued. (gridlock.c)
 */
void ortak__settle_gridlock(struct ortak_settle *s, struct ortak_ledger *l, uint32_t currency, uint8_t mode,
                            struct ortak__out *out);
/* The operator's command: validates it and runs gridlock resolution for its currency or all of them. */
ortak_rc ortak__settle_gridlock_command(struct ortak_settle *s, struct ortak_ledger *l, const struct ortak_gridlock *g,
                                        struct ortak__out *out);

/*
 * Shared with gridlock.c and the netting module: a payment's transfer (for a cross-currency payment, its leg in
 * the payer's currency, to the FX provider), a payment's booking (its transfer, or both legs of a cross-currency
 * payment as one chain, under the ledger waivers `waive`; on success the payment ends settled), and a payment's
 * end (unqueued, state, event; a cross-currency payment cancelled or rejected releases its quote's hold).
 */
struct ortak_transfer ortak__settle_payment_transfer(const struct ortak_ledger *l, const struct stl_payment *p);
ortak_rc ortak__settle_book(struct ortak_settle *s, struct ortak_ledger *l, uint32_t x, unsigned waive,
                            struct ortak__out *out);
void ortak__settle_payment_end(struct ortak_settle *s, struct ortak_ledger *l, uint32_t x, uint8_t state, ortak_rc rc,
                               struct ortak__out *out);
uint32_t ortak__settle_queued_total(const struct stl_queue *q);
/* Transfers settling payment p books: one; for a cross-currency payment its legs (two, three with a fee). */
static inline uint32_t ortak__settle_transfers_of(const struct stl_payment *p) {
    return 1 + (p->quote != UINT32_MAX) + (p->fee != 0);
}
/* Whether payment y could settle now if its payer's liquidity allowed: every other check of its transfer passes. */
bool ortak__settle_settleable(const struct ortak_settle *s, struct ortak_ledger *l, const struct stl_payment *y,
                              ortak_time_ns now);

/* Adds queued payment x to the deadline heap (each payment once). */
void ortak__settle_deadline_push(struct ortak_settle *s, uint32_t x);

void ortak__settle_encode(const struct ortak_settle *s, ortak_sink_fn sink, void *ctx);
/* Loads the settlement state after the ledger's (the ledger must be loaded). ORTAK_OK or ORTAK_CORRUPT. */
ortak_rc ortak__settle_decode(struct ortak_settle *s, struct ortak_ledger *l, struct ortak_slice *cur);

#endif
