/*
 * Batch encoding: commands as the journal stores them.
 *
 * A batch is a u32 command count followed by the commands; a command is its timestamp (u64), its kind (u8) and a
 * body whose layout depends on the kind. All integers are little-endian; text fields are fixed-size and padded
 * with NULs, exactly as in the structs, so a decoded command is byte-equal to the encoded one. The decoder checks
 * lengths, kinds and that every text field is terminated; the engine then validates meaning as for any command.
 */
#include <string.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/slice.h"
#include "ortak/engine.h"

#define TRANSFER_BODY (5 * 16 + 8 + 4 + 2 + 2)
#define PARTICIPANT_BODY (12 + (ORTAK_NAME_LEN_LIMIT + 1) + 3 + 1)
#define STATUS_BODY (12 + 1)
#define ACCOUNT_CREATE_BODY (16 + 12 + 4 + 1)
#define ACCOUNT_AMOUNT_BODY (16 + 8)
#define PAYMENT_BODY (5 * 16 + 8 + 8 + 1 + 1 + 1 + SCREENING_BODY)
#define SCREENING_BODY (8 + 2 + 1 + 8 + 24)
#define CONTROL_BODY (16 + 1 + 1)
#define CUTOFF_BODY (1 + 1)
#define GRIDLOCK_BODY (1 + 4)
#define NET_CLOSE_BODY 4
#define FX_RATE_BODY (12 + 4 + 4 + 4 * 8 + 1)
#define FX_QUOTE_BODY (3 * 16 + 8 + 4 + 1)
#define HEADER (8 + 1)
#define BODY_MAX PARTICIPANT_BODY
_Static_assert(TRANSFER_BODY <= BODY_MAX && PAYMENT_BODY <= BODY_MAX && ACCOUNT_CREATE_BODY <= BODY_MAX &&
                   STATUS_BODY <= BODY_MAX && ACCOUNT_AMOUNT_BODY <= BODY_MAX && CONTROL_BODY <= BODY_MAX &&
                   CUTOFF_BODY <= BODY_MAX && GRIDLOCK_BODY <= BODY_MAX && NET_CLOSE_BODY <= BODY_MAX &&
                   FX_RATE_BODY <= BODY_MAX && FX_QUOTE_BODY <= BODY_MAX,
               "every body fits the largest");
#define KIND_UNKNOWN 0u

size_t ortak_batch_encoded_size_max(uint32_t n) { return 4 + (size_t)n * (HEADER + BODY_MAX); }

struct w {
    unsigned char *p;
};

static void w_u64(struct w *w, uint64_t v, int bytes) {
    ortak__le_put(w->p, v, bytes);
    w->p += bytes;
}
static void w_u128(struct w *w, ortak_u128 v) {
    w_u64(w, (uint64_t)v, 8);
    w_u64(w, (uint64_t)(v >> 64), 8);
}
static void w_text(struct w *w, const char *s, size_t cap) {
    ORTAK_ASSERT(memchr(s, '\0', cap) != NULL);
    size_t len = strlen(s);
    memcpy(w->p, s, len);
    memset(w->p + len, 0, cap - len);
    w->p += cap;
}

static bool kind_known(uint32_t kind) { return kind >= ORTAK_CMD_TICK && kind <= ORTAK_CMD_PAYMENT_REJECT; }

static void encode_one(struct w *w, const struct ortak_cmd *c) {
    w_u64(w, c->timestamp, 8);
    /* An unknown kind is journaled as kind 0 without a body: replay refuses it just as the live engine did. */
    w_u64(w, kind_known(c->kind) ? c->kind : KIND_UNKNOWN, 1);
    switch (c->kind) {
    case ORTAK_CMD_TRANSFER: {
        const struct ortak_transfer *t = &c->u.transfer;
        w_u128(w, t->id);
        w_u128(w, t->debit_account_id);
        w_u128(w, t->credit_account_id);
        w_u128(w, t->pending_id);
        w_u128(w, t->user_data);
        w_u64(w, t->amount, 8);
        w_u64(w, t->timeout_s, 4);
        w_u64(w, t->flags, 2);
        w_u64(w, t->code, 2);
        break;
    }
    case ORTAK_CMD_PARTICIPANT_CREATE:
        w_text(w, c->u.participant_create.bic, 12);
        w_text(w, c->u.participant_create.name, ORTAK_NAME_LEN_LIMIT + 1);
        w_text(w, c->u.participant_create.country, 3);
        w_u64(w, c->u.participant_create.role, 1);
        break;
    case ORTAK_CMD_PARTICIPANT_SET_STATUS:
        w_text(w, c->u.participant_status.bic, 12);
        w_u64(w, c->u.participant_status.status, 1);
        break;
    case ORTAK_CMD_ACCOUNT_CREATE:
        w_u128(w, c->u.account_create.id);
        w_text(w, c->u.account_create.bic, 12);
        w_text(w, c->u.account_create.currency, 4);
        w_u64(w, c->u.account_create.kind, 1);
        break;
    case ORTAK_CMD_ACCOUNT_CLOSE:
    case ORTAK_CMD_CREDIT_LINE_SET:
    case ORTAK_CMD_RESERVE_SET:
    case ORTAK_CMD_NET_CAP_SET:
        w_u128(w, c->u.account.account_id);
        w_u64(w, (uint64_t)c->u.account.amount, 8);
        break;
    case ORTAK_CMD_PAYMENT_SUBMIT:
        w_u128(w, c->u.payment.id);
        w_u128(w, c->u.payment.debit_account_id);
        w_u128(w, c->u.payment.credit_account_id);
        w_u128(w, c->u.payment.uetr);
        w_u64(w, c->u.payment.amount, 8);
        w_u64(w, c->u.payment.latest_ns, 8);
        w_u64(w, c->u.payment.priority, 1);
        w_u64(w, c->u.payment.method, 1);
        w_u128(w, c->u.payment.quote_id);
        w_u64(w, c->u.payment.hold, 1);
        w_u64(w, c->u.payment.screening.lists_version, 8);
        w_u64(w, c->u.payment.screening.score, 2);
        w_u64(w, c->u.payment.screening.party, 1);
        w_text(w, c->u.payment.screening.list, sizeof c->u.payment.screening.list);
        w_text(w, c->u.payment.screening.entry_id, sizeof c->u.payment.screening.entry_id);
        break;
    case ORTAK_CMD_PAYMENT_CANCEL:
    case ORTAK_CMD_PAYMENT_PRIORITY:
    case ORTAK_CMD_PAYMENT_MOVE:
    case ORTAK_CMD_PAYMENT_RELEASE:
    case ORTAK_CMD_PAYMENT_REJECT:
        w_u128(w, c->u.control.id);
        w_u64(w, c->u.control.priority, 1);
        w_u64(w, c->u.control.to_head, 1);
        break;
    case ORTAK_CMD_CUTOFF:
        w_u64(w, c->u.cutoff.priorities, 1);
        w_u64(w, c->u.cutoff.open, 1);
        break;
    case ORTAK_CMD_GRIDLOCK:
        w_u64(w, c->u.gridlock.mode, 1);
        w_text(w, c->u.gridlock.currency, 4);
        break;
    case ORTAK_CMD_NET_CLOSE: w_text(w, c->u.net_close.currency, 4); break;
    case ORTAK_CMD_FX_RATE_SET:
        w_text(w, c->u.fx_rate.provider, 12);
        w_text(w, c->u.fx_rate.base, 4);
        w_text(w, c->u.fx_rate.quote, 4);
        w_u64(w, c->u.fx_rate.bid, 8);
        w_u64(w, c->u.fx_rate.ask, 8);
        w_u64(w, c->u.fx_rate.max_amount, 8);
        w_u64(w, c->u.fx_rate.valid_until_ns, 8);
        w_u64(w, c->u.fx_rate.withdraw, 1);
        break;
    case ORTAK_CMD_FX_QUOTE:
        w_u128(w, c->u.fx_quote.id);
        w_u128(w, c->u.fx_quote.debit_account_id);
        w_u128(w, c->u.fx_quote.credit_account_id);
        w_u64(w, c->u.fx_quote.amount, 8);
        w_u64(w, c->u.fx_quote.ttl_s, 4);
        w_u64(w, c->u.fx_quote.fixed, 1);
        break;
    default: break; /* TICK and unknown kinds carry no body */
    }
}

size_t ortak_batch_encode(const struct ortak_cmd *cmds, uint32_t n, void *buf, size_t cap) {
    ORTAK_ASSERT(cap >= ortak_batch_encoded_size_max(n));
    struct w w = {buf};
    w_u64(&w, n, 4);
    for (uint32_t i = 0; i < n; i++) encode_one(&w, &cmds[i]);
    return (size_t)(w.p - (unsigned char *)buf);
}

/* ---- decoding ---------------------------------------------------------------------------------------------- */

/* The reader's field helpers, under short local names. */
#define r_u64(r, bytes) ortak__get_le((r), (bytes))
#define r_u128(r) ortak__get_u128(r)

static void r_text(struct ortak__reader *r, char *dst, size_t cap) {
    const unsigned char *p = ortak__get_ref(r, cap);
    if (!p) return;
    if (!memchr(p, '\0', cap)) {
        r->bad = true;
        return;
    }
    memcpy(dst, p, cap);
}

static void decode_transfer(struct ortak__reader *r, struct ortak_transfer *t) {
    t->id = r_u128(r);
    t->debit_account_id = r_u128(r);
    t->credit_account_id = r_u128(r);
    t->pending_id = r_u128(r);
    t->user_data = r_u128(r);
    t->amount = r_u64(r, 8);
    t->timeout_s = (uint32_t)r_u64(r, 4);
    t->flags = (uint16_t)r_u64(r, 2);
    t->code = (uint16_t)r_u64(r, 2);
}

static void decode_one(struct ortak__reader *r, struct ortak_cmd *c) {
    memset(c, 0, sizeof *c);
    c->timestamp = r_u64(r, 8);
    c->kind = (uint32_t)r_u64(r, 1);
    switch (c->kind) {
    case KIND_UNKNOWN:
    case ORTAK_CMD_TICK: break;
    case ORTAK_CMD_TRANSFER: decode_transfer(r, &c->u.transfer); break;
    case ORTAK_CMD_PARTICIPANT_CREATE:
        r_text(r, c->u.participant_create.bic, 12);
        r_text(r, c->u.participant_create.name, ORTAK_NAME_LEN_LIMIT + 1);
        r_text(r, c->u.participant_create.country, 3);
        c->u.participant_create.role = (uint8_t)r_u64(r, 1);
        break;
    case ORTAK_CMD_PARTICIPANT_SET_STATUS:
        r_text(r, c->u.participant_status.bic, 12);
        c->u.participant_status.status = (uint8_t)r_u64(r, 1);
        break;
    case ORTAK_CMD_ACCOUNT_CREATE:
        c->u.account_create.id = r_u128(r);
        r_text(r, c->u.account_create.bic, 12);
        r_text(r, c->u.account_create.currency, 4);
        c->u.account_create.kind = (uint8_t)r_u64(r, 1);
        break;
    case ORTAK_CMD_ACCOUNT_CLOSE:
    case ORTAK_CMD_CREDIT_LINE_SET:
    case ORTAK_CMD_RESERVE_SET:
    case ORTAK_CMD_NET_CAP_SET:
        c->u.account.account_id = r_u128(r);
        c->u.account.amount = (int64_t)r_u64(r, 8);
        break;
    case ORTAK_CMD_PAYMENT_SUBMIT:
        c->u.payment.id = r_u128(r);
        c->u.payment.debit_account_id = r_u128(r);
        c->u.payment.credit_account_id = r_u128(r);
        c->u.payment.uetr = r_u128(r);
        c->u.payment.amount = r_u64(r, 8);
        c->u.payment.latest_ns = r_u64(r, 8);
        c->u.payment.priority = (uint8_t)r_u64(r, 1);
        c->u.payment.method = (uint8_t)r_u64(r, 1);
        c->u.payment.quote_id = r_u128(r);
        c->u.payment.hold = (uint8_t)r_u64(r, 1);
        c->u.payment.screening.lists_version = r_u64(r, 8);
        c->u.payment.screening.score = (uint16_t)r_u64(r, 2);
        c->u.payment.screening.party = (uint8_t)r_u64(r, 1);
        r_text(r, c->u.payment.screening.list, sizeof c->u.payment.screening.list);
        r_text(r, c->u.payment.screening.entry_id, sizeof c->u.payment.screening.entry_id);
        break;
    case ORTAK_CMD_PAYMENT_CANCEL:
    case ORTAK_CMD_PAYMENT_PRIORITY:
    case ORTAK_CMD_PAYMENT_MOVE:
    case ORTAK_CMD_PAYMENT_RELEASE:
    case ORTAK_CMD_PAYMENT_REJECT:
        c->u.control.id = r_u128(r);
        c->u.control.priority = (uint8_t)r_u64(r, 1);
        c->u.control.to_head = (uint8_t)r_u64(r, 1);
        break;
    case ORTAK_CMD_CUTOFF:
        c->u.cutoff.priorities = (uint8_t)r_u64(r, 1);
        c->u.cutoff.open = (uint8_t)r_u64(r, 1);
        break;
    case ORTAK_CMD_GRIDLOCK:
        c->u.gridlock.mode = (uint8_t)r_u64(r, 1);
        r_text(r, c->u.gridlock.currency, 4);
        break;
    case ORTAK_CMD_NET_CLOSE: r_text(r, c->u.net_close.currency, 4); break;
    case ORTAK_CMD_FX_RATE_SET:
        r_text(r, c->u.fx_rate.provider, 12);
        r_text(r, c->u.fx_rate.base, 4);
        r_text(r, c->u.fx_rate.quote, 4);
        c->u.fx_rate.bid = r_u64(r, 8);
        c->u.fx_rate.ask = r_u64(r, 8);
        c->u.fx_rate.max_amount = r_u64(r, 8);
        c->u.fx_rate.valid_until_ns = r_u64(r, 8);
        c->u.fx_rate.withdraw = (uint8_t)r_u64(r, 1);
        break;
    case ORTAK_CMD_FX_QUOTE:
        c->u.fx_quote.id = r_u128(r);
        c->u.fx_quote.debit_account_id = r_u128(r);
        c->u.fx_quote.credit_account_id = r_u128(r);
        c->u.fx_quote.amount = r_u64(r, 8);
        c->u.fx_quote.ttl_s = (uint32_t)r_u64(r, 4);
        c->u.fx_quote.fixed = (uint8_t)r_u64(r, 1);
        break;
    default: r->bad = true; /* a journal only ever holds kinds this version knows */
    }
}

ortak_rc ortak_batch_decode(const void *buf, size_t len, struct ortak_cmd *cmds, uint32_t cap, uint32_t *n) {
    struct ortak_slice in = {buf, len};
    struct ortak__reader r = {&in, false};
    uint64_t count = r_u64(&r, 4);
    *n = 0;
    if (r.bad || count > cap) return ORTAK_CORRUPT;
    for (uint32_t i = 0; i < count && !r.bad; i++) decode_one(&r, &cmds[i]);
    if (r.bad || in.len != 0) return ORTAK_CORRUPT;
    *n = (uint32_t)count;
    return ORTAK_OK;
}
