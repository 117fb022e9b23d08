/*
 * The engine: ortak's deterministic state machine.
 *
 * Commands go in as batches; each command carries its own timestamp (engine time, assigned by the sequencer).
 * For every command the engine writes one result, and it appends events for every change of state, in order.
 * The same batches applied to engines opened from the same configuration give the same results, events and state
 * hash on any machine: the engine reads no clock, does no I/O, uses no floating point and allocates nothing after
 * ortak_engine_open (every pool is sized from the configured limits).
 *
 * Time: before a command is applied, engine time advances to its timestamp; then pending transfers whose timeout
 * has passed (expires_at <= timestamp) expire and queued payments whose latest settlement time has come are
 * rejected, each with an event, what that freed is released, and a periodic gridlock resolution runs if engine
 * time crossed a multiple of its interval. The members of a linked chain carry time forward themselves: holds
 * and payments that fall due meanwhile are handled before the next command, and a periodic gridlock resolution
 * that falls due runs right after the chain. A timestamp earlier than engine time is refused
 * (ORTAK_TIME_BACKWARDS). ORTAK_CMD_TICK only advances time.
 *
 * Linked chains: transfers flagged ORTAK_TRANSFER_LINKED are chained to the command that follows; the chain ends
 * with the first transfer without the flag. All transfers of a chain are booked, or none: when one fails, it
 * reports its own code, every other one reports ORTAK_LINKED_EVENT_FAILED, and every result of the chain names
 * the failing command's index in `fail_index`.
 */
#ifndef ORTAK_ENGINE_H
#define ORTAK_ENGINE_H

#include "ortak/config.h"
#include "ortak/fx.h"
#include "ortak/ledger.h"
#include "ortak/netting.h"
#include "ortak/settle.h"

enum ortak_cmd_kind {
    ORTAK_CMD_TICK = 1,
    ORTAK_CMD_PARTICIPANT_CREATE,
    ORTAK_CMD_PARTICIPANT_SET_STATUS,
    ORTAK_CMD_ACCOUNT_CREATE,
    ORTAK_CMD_ACCOUNT_CLOSE,
    ORTAK_CMD_TRANSFER,
    ORTAK_CMD_CREDIT_LINE_SET,
    ORTAK_CMD_RESERVE_SET,
    ORTAK_CMD_PAYMENT_SUBMIT,
    ORTAK_CMD_PAYMENT_CANCEL,
    ORTAK_CMD_PAYMENT_PRIORITY,
    ORTAK_CMD_PAYMENT_MOVE,
    ORTAK_CMD_CUTOFF,
    ORTAK_CMD_GRIDLOCK,
    ORTAK_CMD_NET_CAP_SET, /* u.account: the payer's settlement account and its new net debit cap */
    ORTAK_CMD_NET_CLOSE,
    ORTAK_CMD_FX_RATE_SET,
    ORTAK_CMD_FX_QUOTE,
    ORTAK_CMD_PAYMENT_RELEASE, /* u.control.id: a payment held by screening goes on as if submitted now */
    ORTAK_CMD_PAYMENT_REJECT,  /* u.control.id: a payment held by screening is rejected (SCREENING_REJECTED) */
};

struct ortak_cmd {
    ortak_time_ns timestamp;
    uint32_t kind; /* enum ortak_cmd_kind */
    union {
        struct ortak_transfer transfer;
        struct ortak_participant_create participant_create;
        struct ortak_participant_set_status participant_status;
        struct ortak_account_create account_create;
        struct ortak_account_amount account; /* close, credit line, reserve */
        struct ortak_payment payment;
        struct ortak_payment_control control; /* cancel, priority, move */
        struct ortak_cutoff cutoff;
        struct ortak_gridlock gridlock;
        struct ortak_net_close net_close;
        struct ortak_fx_rate fx_rate;
        struct ortak_fx_quote_request fx_quote;
    } u;
};

enum {
    /* The command repeated an id already booked or refused with identical fields: this is the first outcome. */
    ORTAK_RESULT_REPLAYED = 1u << 0,
    /* A payment accepted but not settled: it waits in its payer's queue. */
    ORTAK_RESULT_QUEUED = 1u << 1,
    /* A payment held by screening: it waits for the operator's release or rejection. */
    ORTAK_RESULT_HELD = 1u << 2,
};

struct ortak_result {
    uint32_t rc;         /* ortak_rc */
    uint32_t flags;      /* ORTAK_RESULT_* */
    uint32_t fail_index; /* linked chains: batch index of the command that failed; UINT32_MAX otherwise */
    uint32_t reserved_;
};

enum ortak_event_kind {
    ORTAK_EV_PARTICIPANT_CREATED = 1,
    ORTAK_EV_PARTICIPANT_STATUS,
    ORTAK_EV_ACCOUNT_CREATED,
    ORTAK_EV_ACCOUNT_CLOSED,
    ORTAK_EV_TRANSFER_POSTED,  /* a plain transfer booked: amount moved */
    ORTAK_EV_PENDING_CREATED,  /* amount held */
    ORTAK_EV_PENDING_POSTED,   /* id = the posting transfer, ref = the pending one; amount booked */
    ORTAK_EV_PENDING_VOIDED,   /* id = the voiding transfer, ref = the pending one; amount released */
    ORTAK_EV_PENDING_EXPIRED,  /* id = the pending transfer; amount released */
    ORTAK_EV_CREDIT_LINE_SET,  /* id = account; amount = new line, amount_old = previous */
    ORTAK_EV_RESERVE_SET,      /* id = account; amount = new reservation, amount_old = previous */
    ORTAK_EV_PAYMENT_SETTLED,  /* id = payment; ref = its UETR; accounts and amount */
    ORTAK_EV_PAYMENT_QUEUED,   /* likewise; status = priority */
    ORTAK_EV_PAYMENT_REJECTED, /* likewise; status = the result code (why) */
    ORTAK_EV_PAYMENT_CANCELLED,
    ORTAK_EV_PAYMENT_PRIORITY, /* status = new priority, amount_old = previous priority */
    ORTAK_EV_PAYMENT_MOVED,    /* status = 1 to the head, 0 to the tail */
    ORTAK_EV_CUTOFF,           /* status = priorities mask; amount = 1 when reopened, 0 when closed */
    ORTAK_EV_GRIDLOCK,         /* a gridlock resolution run in one currency: id = its ISO numeric code, status =
                                  mode, amount_old = payments queued in it, amount = payments settled, ref = value
                                  settled; the payments' own events precede it */
    ORTAK_EV_OFFSET,           /* a payment settled with payments queued back to its payer: id = the payment,
                                  amount = how many of those settled with it; their events precede it */
    ORTAK_EV_PAYMENT_ACCEPTED, /* a net payment accepted into its window, settlement guaranteed; status = the
                                  window's id (low 32 bits); accounts, amount and UETR as for the others */
    ORTAK_EV_NET_CAP_SET,      /* id = settlement account; amount = new cap, amount_old = previous */
    ORTAK_EV_NET_POSITION,     /* a row of a closed window's report: id = settlement account, ref = gross sent,
                                  credit_account_id = gross received (both u128), amount = the part of a debtor's
                                  payment taken from its collateral, status = the window's id (low 32 bits) */
    ORTAK_EV_NET_WINDOW,       /* a window closed and settled: id = the currency's ISO numeric code, status = the
                                  window's id (low 32 bits), amount = its payments, amount_old = participants,
                                  ref = value moved by the settlement; transfers and rows precede it. When the
                                  settlement cannot be booked the window stays open: amount = -1, status = the
                                  result code */
    ORTAK_EV_FX_RATE,          /* a rate published (status 1) or withdrawn (status 0): id = the provider's BIC (as for
                                  participant events), amount = bid, amount_old = ask (x 10^9) */
    ORTAK_EV_FX_QUOTED,        /* a firm quote: id = quote, ref = its hold (the pending transfer, whose own event
                                  precedes), accounts = payer's and payee's, amount = source amount, amount_old =
                                  target amount */
    ORTAK_EV_PAYMENT_HELD,     /* held by screening: accounts, amount and UETR as for the others; status = the hit's
                                  score (1/10000) */
    ORTAK_EV_PAYMENT_RELEASED, /* the operator released a held payment; its settled, queued, accepted or rejected
                                  event follows */
};

struct ortak_event {
    ortak_time_ns timestamp;
    uint32_t kind;          /* enum ortak_event_kind */
    uint32_t command_index; /* index in the batch of the command that caused it */
    ortak_u128 id;          /* transfer or account id; for participant events the BIC's 11 bytes */
    ortak_u128 ref;
    ortak_u128 debit_account_id;
    ortak_u128 credit_account_id;
    int64_t amount;
    int64_t amount_old;
    uint32_t status; /* participant events: the new status */
    uint32_t reserved_;
};

struct ortak_engine;

/*
 * Opens an engine: checks the configuration, allocates every pool, registers the currencies.
 * Returns ORTAK_OK, ORTAK_CONFIG_INVALID or ORTAK_NOMEM. On failure *out is NULL.
 */
ortak_rc ortak_engine_open(const struct ortak_config *cfg, struct ortak_engine **out);
/*
 * Opens an engine and loads the state encoded in `state` (`len` bytes written by ortak_engine_encode, from an engine
 * with the same currencies). Everything read is checked; the state hash of the result equals that of the engine
 * that wrote it. Returns ORTAK_OK, ORTAK_CONFIG_INVALID, ORTAK_NOMEM, or ORTAK_CORRUPT when the bytes are not a
 * valid state for this configuration (too many objects for its limits, inconsistent totals, trailing bytes...).
 */
ortak_rc ortak_engine_open_state(const struct ortak_config *cfg, const void *state, size_t len,
                                 struct ortak_engine **out);
/* Frees everything the engine holds. NULL is allowed. */
void ortak_engine_close(struct ortak_engine *e);

/*
 * Applies `n` commands in order and writes one result for each into `results`. Returns ORTAK_OK (the outcome of
 * each command is in its result), or ORTAK_BATCH_TOO_LARGE when n exceeds the configured batch_max, in which case
 * nothing is applied. The events of the batch are then readable with ortak_engine_events until the next call.
 */
ortak_rc ortak_engine_apply(struct ortak_engine *e, const struct ortak_cmd *cmds, uint32_t n,
                            struct ortak_result *results);

/* The events of the last ortak_engine_apply, in order. Valid until the next apply or close. */
const struct ortak_event *ortak_engine_events(const struct ortak_engine *e, uint32_t *n);

/* The ledger, for read-only queries (ledger.h). */
const struct ortak_ledger *ortak_engine_ledger(const struct ortak_engine *e);
/* Payments and queues, for read-only queries (settle.h). */
const struct ortak_settle *ortak_engine_settle(const struct ortak_engine *e);
/* Net settlement windows, for read-only queries (netting.h). */
const struct ortak_netting *ortak_engine_netting(const struct ortak_engine *e);
/* FX rates and quotes, for read-only queries (fx.h). */
const struct ortak_fx *ortak_engine_fx(const struct ortak_engine *e);
const struct ortak_config *ortak_engine_config(const struct ortak_engine *e);
ortak_time_ns ortak_engine_now(const struct ortak_engine *e);

/*
 * Writes the canonical encoding of the whole state through `sink` in pieces. The encoding is documented in
 * docs/ledger.md; it depends only on the logical state, never on memory layout or pool slot order.
 */
void ortak_engine_encode(const struct ortak_engine *e, ortak_sink_fn sink, void *ctx);

/*
 * Batch encoding: the bytes the journal stores for a batch of commands (little-endian, documented in
 * docs/formats/journal.md). ortak_batch_encode writes at most ortak_batch_encoded_size_max(n) bytes and returns how
 * many; it cannot fail for commands whose text fields are NUL-terminated within their arrays (asserted).
 * ortak_batch_decode reads a whole payload into at most `cap` commands: ORTAK_OK, or ORTAK_CORRUPT for anything
 * that is not exactly one well-formed batch (unknown kind, unterminated text, trailing bytes, more than `cap`).
 */
size_t ortak_batch_encoded_size_max(uint32_t n);
size_t ortak_batch_encode(const struct ortak_cmd *cmds, uint32_t n, void *buf, size_t cap);
ortak_rc ortak_batch_decode(const void *buf, size_t len, struct ortak_cmd *cmds, uint32_t cap, uint32_t *n);

/* SHA-256 of the canonical encoding. */
void ortak_engine_state_hash(const struct ortak_engine *e, uint8_t out[32]);

/* Bytes of memory the engine took at open. */
size_t ortak_engine_memory_bytes(const struct ortak_engine *e);

#endif
