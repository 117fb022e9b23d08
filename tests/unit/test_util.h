/*
 * Small helpers shared by the ledger unit tests: build engine commands, apply one command, read an account.
 *
 * Header-only (static inline) and independent of the test framework, so any test file can include it. Every
 * builder returns a zeroed command with only the named fields set; string fields are copied with truncation to
 * their field and always NUL-terminated, so a test can also pass deliberately bad (too long, lowercase) values.
 */
#ifndef ORTAK_TEST_UTIL_H
#define ORTAK_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ortak/engine.h"

/* Copies `src` into the field `dst` of `cap` bytes: at most cap - 1 bytes, then NUL. */
static inline void tu_copy(char *dst, size_t cap, const char *src) {
    size_t len = strnlen(src, cap - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static inline struct ortak_cmd tu_cmd(ortak_time_ns ts, uint32_t kind) {
    struct ortak_cmd c;
    memset(&c, 0, sizeof c);
    c.timestamp = ts;
    c.kind = kind;
    return c;
}

/* ORTAK_CMD_TICK: only advances engine time (and so expires pending transfers). */
static inline struct ortak_cmd tu_tick(ortak_time_ns ts) { return tu_cmd(ts, ORTAK_CMD_TICK); }

/* Admits a participant; the country is taken from the BIC. */
static inline struct ortak_cmd tu_participant(ortak_time_ns ts, const char *bic, const char *name, uint8_t role) {
    struct ortak_cmd c = tu_cmd(ts, ORTAK_CMD_PARTICIPANT_CREATE);
    tu_copy(c.u.participant_create.bic, sizeof c.u.participant_create.bic, bic);
    tu_copy(c.u.participant_create.name, sizeof c.u.participant_create.name, name);
    c.u.participant_create.role = role;
    return c;
}

static inline struct ortak_cmd tu_status(ortak_time_ns ts, const char *bic, uint8_t status) {
    struct ortak_cmd c = tu_cmd(ts, ORTAK_CMD_PARTICIPANT_SET_STATUS);
    tu_copy(c.u.participant_status.bic, sizeof c.u.participant_status.bic, bic);
    c.u.participant_status.status = status;
    return c;
}

static inline struct ortak_cmd tu_account(ortak_time_ns ts, ortak_u128 id, const char *bic, const char *currency,
                                          uint8_t kind) {
    struct ortak_cmd c = tu_cmd(ts, ORTAK_CMD_ACCOUNT_CREATE);
    c.u.account_create.id = id;
    tu_copy(c.u.account_create.bic, sizeof c.u.account_create.bic, bic);
    tu_copy(c.u.account_create.currency, sizeof c.u.account_create.currency, currency);
    c.u.account_create.kind = kind;
    return c;
}

/* ORTAK_CMD_ACCOUNT_CLOSE (amount unused), ORTAK_CMD_CREDIT_LINE_SET or ORTAK_CMD_RESERVE_SET. */
static inline struct ortak_cmd tu_account_amount(ortak_time_ns ts, uint32_t kind, ortak_u128 account_id,
                                                 int64_t amount) {
    struct ortak_cmd c = tu_cmd(ts, kind);
    c.u.account.account_id = account_id;
    c.u.account.amount = amount;
    return c;
}

/* A transfer of `amount` with `flags` (0 for a plain transfer). */
static inline struct ortak_cmd tu_transfer(ortak_time_ns ts, ortak_u128 id, ortak_u128 debit, ortak_u128 credit,
                                           uint64_t amount, uint16_t flags) {
    struct ortak_cmd c = tu_cmd(ts, ORTAK_CMD_TRANSFER);
    c.u.transfer.id = id;
    c.u.transfer.debit_account_id = debit;
    c.u.transfer.credit_account_id = credit;
    c.u.transfer.amount = amount;
    c.u.transfer.flags = flags;
    return c;
}

/* A pending transfer (a hold) that expires after timeout_s seconds (0 = never). */
static inline struct ortak_cmd tu_pending(ortak_time_ns ts, ortak_u128 id, ortak_u128 debit, ortak_u128 credit,
                                          uint64_t amount, uint32_t timeout_s) {
    struct ortak_cmd c = tu_transfer(ts, id, debit, credit, amount, ORTAK_TRANSFER_PENDING);
    c.u.transfer.timeout_s = timeout_s;
    return c;
}

/* Posts (ORTAK_TRANSFER_POST_PENDING) or voids (ORTAK_TRANSFER_VOID_PENDING) `pending_id`; accounts left 0. */
static inline struct ortak_cmd tu_resolve(ortak_time_ns ts, ortak_u128 id, ortak_u128 pending_id, uint64_t amount,
                                          uint16_t flags) {
    struct ortak_cmd c = tu_transfer(ts, id, 0, 0, amount, flags);
    c.u.transfer.pending_id = pending_id;
    return c;
}

/* The transfer command `c` with ORTAK_TRANSFER_LINKED added: it chains to the next command of the batch. */
static inline struct ortak_cmd tu_linked(struct ortak_cmd c) {
    c.u.transfer.flags |= ORTAK_TRANSFER_LINKED;
    return c;
}

/*
 * Applies one command and returns its result. When the batch itself is refused (ortak_engine_apply does not
 * return ORTAK_OK), the returned result carries that code with fail_index UINT32_MAX.
 */
static inline struct ortak_result tu_apply1(struct ortak_engine *e, const struct ortak_cmd *cmd) {
    struct ortak_result r;
    memset(&r, 0, sizeof r);
    r.fail_index = UINT32_MAX;
    ortak_rc rc = ortak_engine_apply(e, cmd, 1, &r);
    if (rc != ORTAK_OK) r.rc = (uint32_t)rc;
    return r;
}

/* The result code of applying one command. */
static inline ortak_rc tu_apply1_rc(struct ortak_engine *e, struct ortak_cmd cmd) {
    return (ortak_rc)tu_apply1(e, &cmd).rc;
}

/* The account's current view; all zero (id 0) when it does not exist. */
static inline struct ortak_account_info tu_account_info(const struct ortak_engine *e, ortak_u128 id) {
    struct ortak_account_info a;
    if (ortak_ledger_account_get(ortak_engine_ledger(e), id, &a) != ORTAK_OK) memset(&a, 0, sizeof a);
    return a;
}

/* ---- payments (settle.h) ----------------------------------------------------------------------------------- */

/* ORTAK_CMD_PAYMENT_SUBMIT of `amount` from `debit` to `credit` at `priority` (enum ortak_priority), no latest time. */
static inline struct ortak_cmd tu_payment(ortak_time_ns ts, ortak_u128 id, ortak_u128 debit, ortak_u128 credit,
                                          uint64_t amount, uint8_t priority) {
    struct ortak_cmd c = tu_cmd(ts, ORTAK_CMD_PAYMENT_SUBMIT);
    c.u.payment.id = id;
    c.u.payment.debit_account_id = debit;
    c.u.payment.credit_account_id = credit;
    c.u.payment.amount = amount;
    c.u.payment.priority = priority;
    return c;
}

/* The payment command `c` with a latest settlement time. */
static inline struct ortak_cmd tu_latest(struct ortak_cmd c, ortak_time_ns latest_ns) {
    c.u.payment.latest_ns = latest_ns;
    return c;
}

/* ORTAK_CMD_PAYMENT_CANCEL of a queued payment. */
static inline struct ortak_cmd tu_cancel(ortak_time_ns ts, ortak_u128 id) {
    struct ortak_cmd c = tu_cmd(ts, ORTAK_CMD_PAYMENT_CANCEL);
    c.u.control.id = id;
    return c;
}

/* A command that names one payment: ORTAK_CMD_PAYMENT_RELEASE or ORTAK_CMD_PAYMENT_REJECT (a screening hold). */
static inline struct ortak_cmd tu_control(ortak_time_ns ts, uint32_t kind, ortak_u128 id) {
    struct ortak_cmd c = tu_cmd(ts, kind);
    c.u.control.id = id;
    return c;
}

/* A payment held by screening: hit on `list`/`entry` with `score` (1/10000), lists version 0x5ca1ab1e. */
static inline struct ortak_cmd tu_held(struct ortak_cmd c, const char *list, const char *entry, uint16_t score) {
    c.u.payment.hold = 1;
    c.u.payment.screening.lists_version = 0x5ca1ab1e;
    c.u.payment.screening.score = score;
    c.u.payment.screening.party = ORTAK_PARTY_CREDITOR;
    snprintf(c.u.payment.screening.list, sizeof c.u.payment.screening.list, "%s", list);
    snprintf(c.u.payment.screening.entry_id, sizeof c.u.payment.screening.entry_id, "%s", entry);
    return c;
}

/* ORTAK_CMD_PAYMENT_PRIORITY: a queued payment's new priority. */
static inline struct ortak_cmd tu_priority(ortak_time_ns ts, ortak_u128 id, uint8_t priority) {
    struct ortak_cmd c = tu_cmd(ts, ORTAK_CMD_PAYMENT_PRIORITY);
    c.u.control.id = id;
    c.u.control.priority = priority;
    return c;
}

/* ORTAK_CMD_PAYMENT_MOVE: a queued payment to the head (to_head = 1) or the tail of its class. */
static inline struct ortak_cmd tu_move(ortak_time_ns ts, ortak_u128 id, uint8_t to_head) {
    struct ortak_cmd c = tu_cmd(ts, ORTAK_CMD_PAYMENT_MOVE);
    c.u.control.id = id;
    c.u.control.to_head = to_head;
    return c;
}

/* ORTAK_CMD_CUTOFF: closes (open = 0) or reopens the priorities in `mask` (1 << priority). */
static inline struct ortak_cmd tu_cutoff(ortak_time_ns ts, uint8_t mask, uint8_t open) {
    struct ortak_cmd c = tu_cmd(ts, ORTAK_CMD_CUTOFF);
    c.u.cutoff.priorities = mask;
    c.u.cutoff.open = open;
    return c;
}

/* A growing byte buffer, an ortak_sink_fn target for ortak_engine_encode. A test cannot go on without memory, so
 * running out aborts. */
struct tu_buf {
    unsigned char *data;
    size_t len, cap;
};

static inline void tu_buf_sink(void *ctx, const void *data, size_t len) {
    struct tu_buf *b = ctx;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len) cap *= 2;
        unsigned char *p = realloc(b->data, cap);
        if (!p) abort();
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

#endif
