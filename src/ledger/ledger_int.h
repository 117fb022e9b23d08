/*
 * Ledger internals, shared by the files of src/ledger/ and by the engine (which drives the ledger through the
 * ortak__ledger_* functions below). No other module includes this header.
 *
 * Storage (all sized at init from the configured limits, never grown):
 *   participants[]  dense, in admission order; BIC -> index in `bic_map` (key: the BIC11 form)
 *   accounts[]      dense, in creation order; id -> index in `account_map`;
 *                   (participant, currency, kind) -> index in `owner_map`
 *   transfers[]     dense, in recording order, booked and refused alike; id -> index in `transfer_map`
 *   pendings        a pool of open pending transfers, with a min-heap of those that have a timeout, ordered by
 *                   (expires_at, transfer index) so that expiry order is deterministic
 *   history         a ring of the newest `history_max` postings; each links to the previous and next posting of
 *                   its account by sequence number (seq + 1; 0 = none)
 */
#ifndef ORTAK_LEDGER_INT_H
#define ORTAK_LEDGER_INT_H

#include "base/arena.h"
#include "base/idmap.h"
#include "base/slice.h"
#include "ortak/config.h"
#include "ortak/engine.h"
#include "ortak/ledger.h"

struct ldg_participant {
    char bic[12];
    char name[ORTAK_NAME_LEN_LIMIT + 1];
    char country[3];
    uint8_t role;
};

struct ldg_currency {
    struct ortak_currency_config cfg;
    int32_t agent; /* participant index, -1 until admitted */
};

struct ldg_balances {
    ortak_i128 debits_posted, credits_posted, debits_pending, credits_pending;
};

struct ldg_account {
    ortak_u128 id;
    struct ldg_balances b;
    int64_t credit_line;
    int64_t reserved;
    uint64_t history_last; /* seq + 1 of the newest posting, 0 = none */
    uint32_t participant;
    uint32_t pending_count;
    uint16_t currency;
    uint8_t kind;
    uint8_t status;
};

struct ldg_transfer {
    struct ortak_transfer t;
    ortak_time_ns timestamp;
    uint64_t amount_booked;
    uint32_t debit; /* account index, UINT32_MAX when refused before the accounts were resolved */
    uint32_t credit;
    uint32_t pending_slot; /* open pending transfers: their slot; UINT32_MAX otherwise */
    uint16_t rc;
    uint8_t pending_state;
};

struct ldg_pending {
    ortak_time_ns expires_at; /* 0 = never */
    uint32_t transfer;
    uint32_t heap_pos; /* UINT32_MAX when not in the heap */
};

struct ldg_posting {
    uint64_t seq;
    ortak_time_ns timestamp;
    ortak_i128 balance_after;
    int64_t amount;
    uint64_t prev; /* seq + 1 of the account's previous posting, 0 = none */
    uint64_t next; /* seq + 1 of the account's next posting, 0 = none yet */
    uint32_t account;
    uint32_t transfer;
};

/* Undo record of one transfer applied inside an open linked chain. */
struct ldg_undo {
    uint32_t transfer; /* the record appended */
    uint32_t acct[2];
    struct ldg_balances old[2];
    uint32_t old_pending_count[2];
    uint32_t target; /* post/void: the pending transfer resolved; UINT32_MAX otherwise */
    uint64_t target_booked;
};

/* A posting waiting for its chain to commit. */
struct ldg_staged_posting {
    uint32_t account;
    uint32_t transfer;
    int64_t amount;
    ortak_i128 balance_after;
};

struct ortak_ledger {
    struct ortak_limits limits;
    uint32_t currency_count;
    struct ldg_currency currencies[ORTAK_CURRENCIES_LIMIT];

    struct ldg_participant *participants;
    uint8_t *participant_status; /* apart from the records: every transfer reads it, so it stays in cache */
    uint32_t participant_count;
    struct ortak_idmap bic_map;

    struct ldg_account *accounts;
    uint32_t account_count;
    struct ortak_idmap account_map;
    struct ortak_idmap owner_map;

    struct ldg_transfer *transfers;
    uint32_t transfer_count;
    struct ortak_idmap transfer_map;

    struct ortak_pool pending_pool; /* of struct ldg_pending */
    uint32_t *heap;                 /* pending slots, min-heap by (expires_at, transfer) */
    uint32_t heap_len;

    struct ldg_posting *history; /* history_mask + 1 slots: a power of two >= history_max, indexed by seq & mask */
    uint64_t history_mask;
    uint64_t history_head; /* seq of the next posting */

    /* Chain scratch, sized from batch_max. */
    struct ldg_undo *undo;
    uint32_t undo_len;
    bool undo_on; /* inside a chain of two or more: a lone transfer fails before it changes anything */
    /* Settlement is booking a set it checked as a whole (offsetting, gridlock, net settlement): LDG_WAIVE_* */
    uint8_t waived;
    struct ldg_staged_posting *staged;
    uint32_t staged_len;

    /*
     * Accounts whose available liquidity rose, for the settlement queues: an account the queues watch (it has
     * queued payments) is listed once in `rose` when a credit, a released hold, a higher credit line or a lower
     * reservation raises what it can pay.
     */
    uint8_t *watch; /* per account: 0, LDG_WATCHED, or LDG_WATCHED_ROSE when listed */
    /* Ids that belong to payments (the settlement module's map): a client's transfer may not take one. */
    const struct ortak_idmap *payment_ids;
    uint32_t *rose;
    uint32_t rose_len;
};

#define LDG_WATCHED 1
#define LDG_WATCHED_ROSE 2

/* Where ledger operations report: engine time, the command being applied, and the event buffer. */
struct ortak__out {
    ortak_time_ns now;
    uint32_t cmd_index;
    struct ortak_event *events;
    uint32_t events_len;
    uint32_t events_cap;
};

int ortak__ledger_init(struct ortak_ledger *l, const struct ortak_config *cfg);
void ortak__ledger_free(struct ortak_ledger *l);
size_t ortak__ledger_memory_bytes(const struct ortak_ledger *l);
/* Events one transfer command can cause at most (the engine sizes its event buffer from this). */
#define ORTAK__LEDGER_EVENTS_PER_COMMAND 1u

/* Expires every open pending transfer with expires_at <= out->now. */
void ortak__ledger_expire(struct ortak_ledger *l, struct ortak__out *out);

ortak_rc ortak__ledger_participant_create(struct ortak_ledger *l, const struct ortak_participant_create *c,
                                          struct ortak__out *out);
ortak_rc ortak__ledger_participant_set_status(struct ortak_ledger *l, const struct ortak_participant_set_status *c,
                                              struct ortak__out *out);
ortak_rc ortak__ledger_account_create(struct ortak_ledger *l, const struct ortak_account_create *c,
                                      struct ortak__out *out);
ortak_rc ortak__ledger_account_close(struct ortak_ledger *l, const struct ortak_account_amount *c,
                                     struct ortak__out *out);
ortak_rc ortak__ledger_credit_line_set(struct ortak_ledger *l, const struct ortak_account_amount *c,
                                       struct ortak__out *out);
ortak_rc ortak__ledger_reserve_set(struct ortak_ledger *l, const struct ortak_account_amount *c,
                                   struct ortak__out *out);

/*
 * Applies the linked chain of transfer commands that starts at cmds[i] (a chain of one when it is not linked),
 * writing results[i..]. Time has been advanced to cmds[i].timestamp by the caller. Returns the index of the first
 * command after the chain.
 */
uint32_t ortak__ledger_transfer_chain(struct ortak_ledger *l, const struct ortak_cmd *cmds, uint32_t i, uint32_t n,
                                      struct ortak_result *results, struct ortak__out *out);

/*
 * Starts loading the hash slot of transfer `t`'s id, to overlap that cache miss with other work. (Prefetching the
 * accounts too was measured slower: their tables are small enough to stay in cache, and the extra lookups cost.)
 */
void ortak__ledger_prefetch(const struct ortak_ledger *l, const struct ortak_transfer *t);

void ortak__ledger_encode(const struct ortak_ledger *l, ortak_sink_fn sink, void *ctx);
/*
 * Rebuilds the state of a freshly initialised ledger from its canonical encoding, read from `*cur` (advanced past
 * what was read). Checks everything it reads: counts within limits, indices in range, currencies equal to the
 * configuration, and every balance equal to the sum of the transfers booked on it. Returns ORTAK_OK or
 * ORTAK_CORRUPT (the ledger is then to be freed, not used).
 */
ortak_rc ortak__ledger_decode(struct ortak_ledger *l, struct ortak_slice *cur);

/* The checks of a plain transfer without applying it (no pending flags): ORTAK_OK when it would book. */
ortak_rc ortak__ledger_transfer_check(const struct ortak_ledger *l, const struct ortak_transfer *t, ortak_time_ns now);
/*
 * Books one plain transfer on its own (no chain, nothing recorded when refused: the caller checked first).
 * Returns ORTAK_OK or the refusal of ortak__ledger_transfer_check.
 */
ortak_rc ortak__ledger_transfer_book(struct ortak_ledger *l, const struct ortak_transfer *t, struct ortak__out *out);
/*
 * Waivers, for the settlement module booking a set of transfers it has checked as a whole. LDG_WAIVE_FUNDS:
 * offsetting and gridlock resolution settle sets covered only as a whole (each debtor's position after the whole
 * set is checked by the caller, while a transfer on its own might not be covered). LDG_WAIVE_STATUS: net
 * settlement pays what was guaranteed even when a participant was suspended since (a suspension stops new
 * payments, not the settlement of guaranteed ones). LDG_WAIVE_SYSTEM_ID: the transfer is the system's own (net
 * settlement's, FX holds), with an id in the system's space. Between ortak__ledger_waive(l, mask) and (l, 0),
 * ortak__ledger_transfer_check and _book skip those checks and nothing else; while any waiver is on, a debit
 * may also use a collateral account's pledged part (its reservation). The engine asserts that no waiver
 * outlives the operation.
 */
/* The longest chain the undo log and the staged postings hold: a batch's, or the settlement modules' own (2). */
#define LDG_OWN_CHAIN_MAX 3u
#define LDG_CHAIN_MAX(lim) ((lim)->batch_max > LDG_OWN_CHAIN_MAX ? (lim)->batch_max : LDG_OWN_CHAIN_MAX)
#define LDG_WAIVE_FUNDS 1u
#define LDG_WAIVE_STATUS 2u
#define LDG_WAIVE_SYSTEM_ID 4u /* not a check waived: the system's transfer ids are allowed (see below) */
static inline void ortak__ledger_waive(struct ortak_ledger *l, unsigned mask) { l->waived = (uint8_t)mask; }
static inline void ortak__ledger_waive_funds(struct ortak_ledger *l, bool on) {
    ortak__ledger_waive(l, on ? LDG_WAIVE_FUNDS : 0);
}
/*
 * Transfer and payment ids whose top 16 bits are all ones belong to the system (net settlement's transfers);
 * commands may not use them.
 */
#define ORTAK__SYSTEM_ID_PREFIX ((ortak_u128)0xffff << 112)
static inline bool ortak__id_client_valid(ortak_u128 id) {
    return id != 0 && (id & ORTAK__SYSTEM_ID_PREFIX) != ORTAK__SYSTEM_ID_PREFIX;
}
/*
 * Books n (1..LDG_OWN_CHAIN_MAX) transfers of any kind (plain, pending, post, void) as one all-or-nothing chain,
 * for the settlement modules' own bookings (a PvP payment's legs and fee, an FX hold and its release), under the
 * waivers in `waive`. Nothing is recorded when it fails: it returns the first refusal and changes nothing (its events
 * are withdrawn). A payment's id may be used (for the payment's own transfer).
 */
ortak_rc ortak__ledger_book_own(struct ortak_ledger *l, const struct ortak_transfer *ts, uint32_t n, unsigned waive,
                                struct ortak__out *out);
/* Whether transfer `id` is a pending transfer still open at `now` (its expiry time not come). */
bool ortak__ledger_pending_usable(const struct ortak_ledger *l, ortak_u128 id, ortak_time_ns now);
/* See `watch` above. */
void ortak__ledger_note_rise(struct ortak_ledger *l, uint32_t account);
/* Available liquidity of account `a` for a debit, with or without its reservation. */
ortak_i128 ortak__ledger_available(const struct ortak_ledger *l, uint32_t a, bool use_reserved);
/* Account index of `id`: ORTAK_OK, ORTAK_ACCOUNT_ID_INVALID or ORTAK_ACCOUNT_NOT_FOUND. */
ortak_rc ortak__ledger_account_index(const struct ortak_ledger *l, ortak_u128 id, uint32_t *idx);

/* Helpers shared between ledger files. */
static inline struct ldg_posting *ortak__history_at(const struct ortak_ledger *l, uint64_t seq) {
    return &l->history[seq & l->history_mask];
}
ortak_u128 ortak__bic_key(const char *bic);
struct ortak_event *ortak__event_push(struct ortak__out *out, uint32_t kind);
int ortak__ledger_currency_index(const struct ortak_ledger *l, const char *code);
bool ortak__name_valid(const char *name);
ortak_u128 ortak__owner_key(uint32_t participant, uint32_t currency, uint32_t kind);
/* Opens the pending slot (and expiry heap entry) of booked pending transfer `x`. False when the pool is full. */
bool ortak__ledger_pending_open(struct ortak_ledger *l, uint32_t x);

#endif
