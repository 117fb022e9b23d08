/*
 * Mapping in: a transaction of a pacs.008, pacs.009 or pacs.004 becomes one engine command, or a refusal with its
 * ISO reason code. Also the ids derived from UETRs and the set of message ids already seen.
 *
 * The mapping reads the engine's state (participants, accounts, payments, quotes) and never changes it: the
 * command it builds is checked again by the engine when applied, so a race between mapping and applying can only
 * lead to a refusal by the engine, never to a wrong booking. Parties (docs/iso20022.md): the payer is the
 * instructing agent, else the debtor agent, and must be the authenticated sender; the payee is the instructed
 * agent, else the creditor agent.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

#include "base/assert.h"
#include "iso20022/iso_int.h"
#include "ortak/ledger.h"

/* ---- ids ---- */

ortak_u128 ortak_iso_payment_id(ortak_u128 uetr) {
    const unsigned top = 124, version = 76; /* bit offsets of the first and thirteenth hex digits */
    ortak_u128 a = (uetr >> top) & 0xf, b = (uetr >> version) & 0xf;
    uetr &= ~(((ortak_u128)0xf << top) | ((ortak_u128)0xf << version));
    return uetr | (b << top) | (a << version);
}

ortak_u128 ortak_iso_return_id(ortak_u128 original_id) {
    uint8_t in[28] = "ortak return", out[32];
    for (int i = 0; i < 16; i++) in[12 + i] = (uint8_t)(original_id >> (120 - 8 * i));
    struct sha256_ctx sha;
    sha256_init(&sha);
    sha256_update(&sha, sizeof in, in);
    sha256_digest(&sha, sizeof out, out);
    ortak_u128 id = 0;
    for (int i = 0; i < 16; i++) id = (id << 8) | out[i];
    return (id & ~((ortak_u128)0xf << 124)) | ((ortak_u128)5 << 124);
}

/* ---- refusals ---- */

/* Records a refusal; returns false, so that `return refuse(...)` ends a mapping step. */
static bool refuse(struct ortak_iso_mapped *out, ortak_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool refuse(struct ortak_iso_mapped *out, ortak_rc rc, const char *fmt, ...) {
    out->rc = rc;
    snprintf(out->reason, sizeof out->reason, "%s", ortak_rc_iso_reason(rc));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->text, sizeof out->text, fmt, ap);
    va_end(ap);
    return false;
}

/* Whether two BICs name the same participant (a BIC8 and its BIC11 with XXX do); false when `a` is none. */
static bool same_participant(const struct ortak_ledger *l, const char *a, const char *b) {
    struct ortak_participant_info pa, pb;
    return ortak_ledger_participant_get(l, a, &pa) == ORTAK_OK && ortak_ledger_participant_get(l, b, &pb) == ORTAK_OK &&
           pa.index == pb.index;
}

static bool settlement_account(const struct ortak_ledger *l, const char *bic, const char *ccy, ortak_u128 *id,
                               struct ortak_iso_mapped *out) {
    struct ortak_account_info a;
    ortak_rc rc = ortak_ledger_account_find(l, bic, ccy, ORTAK_ACCOUNT_SETTLEMENT, &a);
    if (rc == ORTAK_OK) {
        *id = a.id;
        return true;
    }
    if (rc == ORTAK_ACCOUNT_NOT_FOUND)
        refuse(out, rc, "%s holds no settlement account in %s", bic, ccy);
    else
        refuse(out, rc, "%s, %s: %s", bic, ccy, ortak_rc_str(rc));
    return false;
}

/* The payee's account: the one its FX quote credits, or its settlement account in the payment's currency. */
static bool payee_account(const struct ortak_engine *e, const char *payee, const struct ortak_iso_tx *t, ortak_u128 *id,
                          struct ortak_iso_mapped *out) {
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    if (!t->quote_id) return settlement_account(l, payee, t->currency, id, out);
    struct ortak_fx_quote_info q;
    struct ortak_account_info a;
    if (ortak_fx_quote_get(ortak_engine_fx(e), t->quote_id, &q) != ORTAK_OK) {
        refuse(out, ORTAK_QUOTE_NOT_FOUND, "FX quote %s not found", t->clr_sys_ref);
        return false;
    }
    if (ortak_ledger_account_get(l, q.req.credit_account_id, &a) != ORTAK_OK || !same_participant(l, a.bic, payee)) {
        refuse(out, ORTAK_QUOTE_MISMATCH, "FX quote %s pays another participant than %s", t->clr_sys_ref, payee);
        return false;
    }
    *id = a.id;
    return true;
}

/* ---- transactions ---- */

static bool id_taken(const struct ortak_engine *e, ortak_u128 id) {
    struct ortak_payment_info p;
    struct ortak_transfer_info t;
    return ortak_settle_payment_get(ortak_engine_settle(e), id, &p) == ORTAK_OK ||
           ortak_ledger_transfer_get(ortak_engine_ledger(e), id, &t) == ORTAK_OK;
}

/* A pacs.009 from a currency's central bank moves liquidity: a transfer from its issuance account. */
static bool liquidity_move(const struct ortak_engine *e, const struct ortak_iso_msg *m, const char *payer,
                           const struct ortak_iso_tx *t) {
    struct ortak_currency_info c;
    return m->type == ORTAK_ISO_PACS_009 &&
           ortak_ledger_currency_get(ortak_engine_ledger(e), t->currency, &c) == ORTAK_OK &&
           same_participant(ortak_engine_ledger(e), c.agent_bic, payer);
}

static bool map_liquidity(const struct ortak_engine *e, const char *payer, const char *payee,
                          const struct ortak_iso_tx *t, struct ortak_iso_mapped *out) {
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    struct ortak_account_info issuance;
    if (ortak_ledger_account_find(l, payer, t->currency, ORTAK_ACCOUNT_ISSUANCE, &issuance) != ORTAK_OK)
        return refuse(out, ORTAK_ACCOUNT_NOT_FOUND, "%s holds no issuance account in %s", payer, t->currency);
    struct ortak_transfer *tr = &out->cmd.u.transfer;
    out->cmd.kind = ORTAK_CMD_TRANSFER;
    tr->id = ortak_iso_payment_id(t->uetr);
    tr->debit_account_id = issuance.id;
    tr->amount = t->amount;
    tr->user_data = t->uetr;
    return settlement_account(l, payee, t->currency, &tr->credit_account_id, out);
}

static bool map_transfer(const struct ortak_engine *e, const struct ortak_iso_msg *m, const struct ortak_iso_tx *t,
                         const char *sender, struct ortak_iso_mapped *out) {
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    const char *payer = t->instg_agt[0] ? t->instg_agt : t->dbtr_agt;
    const char *payee = t->instd_agt[0] ? t->instd_agt : t->cdtr_agt;
    struct ortak_participant_info p;
    if (!same_participant(l, payer, sender))
        return refuse(out, ORTAK_ISO_SENDER_MISMATCH, "the paying agent %s is not the sender %s", payer, sender);
    if (ortak_ledger_participant_get(l, payee, &p) != ORTAK_OK)
        return refuse(out, ORTAK_PARTICIPANT_NOT_FOUND, "the receiving agent '%s' is not a participant", payee);
    if (id_taken(e, ortak_iso_payment_id(t->uetr)))
        return refuse(out, ORTAK_ISO_DUPLICATE_UETR, "a payment with UETR %s already exists", t->uetr_text);
    struct ortak_currency_info c;
    if (ortak_ledger_currency_get(l, t->currency, &c) != ORTAK_OK)
        return refuse(out, ORTAK_CURRENCY_UNKNOWN, "%s is not settled by this system", t->currency);
    if (liquidity_move(e, m, payer, t)) return map_liquidity(e, payer, payee, t, out);
    struct ortak_payment *pay = &out->cmd.u.payment;
    pay->id = ortak_iso_payment_id(t->uetr);
    pay->uetr = t->uetr;
    pay->quote_id = t->quote_id;
    pay->amount = t->amount;
    pay->latest_ns = t->latest_ns;
    pay->priority = t->priority;
    pay->method = t->method;
    return settlement_account(l, payer, t->currency, &pay->debit_account_id, out) &&
           payee_account(e, payee, t, &pay->credit_account_id, out);
}

/* What a settled payment credited: its amount, or its FX quote's target amount. */
static uint64_t credited_amount(const struct ortak_engine *e, const struct ortak_payment_info *p) {
    struct ortak_fx_quote_info q;
    if (p->p.quote_id && ortak_fx_quote_get(ortak_engine_fx(e), p->p.quote_id, &q) == ORTAK_OK) return q.target_amount;
    return p->p.amount;
}

/* pacs.004: the original payee pays back, at most what it received, once. */
static bool map_return(const struct ortak_engine *e, const struct ortak_iso_tx *t, const char *sender,
                       struct ortak_iso_mapped *out) {
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    struct ortak_payment_info orig;
    struct ortak_account_info cr, dr;
    ortak_u128 orig_id = ortak_iso_payment_id(t->orgnl_uetr);
    if (ortak_settle_payment_get(ortak_engine_settle(e), orig_id, &orig) != ORTAK_OK ||
        orig.state != ORTAK_PAYMENT_SETTLED) {
        char uetr[37] = "";
        ortak_iso_uetr_text(t->orgnl_uetr, uetr);
        return refuse(out, ORTAK_ISO_RETURN_INVALID, "no settled payment with UETR %s to return", uetr);
    }
    ORTAK_ASSERT(ortak_ledger_account_get(l, orig.p.credit_account_id, &cr) == ORTAK_OK);
    ORTAK_ASSERT(ortak_ledger_account_get(l, orig.p.debit_account_id, &dr) == ORTAK_OK);
    if (!same_participant(l, cr.bic, sender))
        return refuse(out, ORTAK_ISO_SENDER_MISMATCH, "only %s, which received the payment, may return it", cr.bic);
    if (strcmp(t->currency, cr.currency) != 0 || t->amount > credited_amount(e, &orig))
        return refuse(out, ORTAK_ISO_RETURN_INVALID, "a return is in %s and at most what the payment credited",
                      cr.currency);
    if (strcmp(cr.currency, dr.currency) != 0 && !t->quote_id)
        return refuse(out, ORTAK_ISO_RETURN_INVALID,
                      "returning a cross-currency payment needs an FX quote (ClrSysRef)");
    struct ortak_payment *pay = &out->cmd.u.payment;
    pay->id = ortak_iso_return_id(orig_id);
    if (id_taken(e, pay->id)) return refuse(out, ORTAK_ISO_RETURN_INVALID, "the payment is already returned");
    pay->uetr = orig.p.uetr;
    pay->quote_id = t->quote_id;
    pay->amount = t->amount;
    pay->priority = t->priority;
    pay->method = ORTAK_METHOD_GROSS;
    pay->debit_account_id = cr.id;
    pay->credit_account_id = dr.id;
    return !t->quote_id || payee_account(e, dr.bic, t, &pay->credit_account_id, out);
}

void ortak_iso_map(const struct ortak_engine *e, const struct ortak_iso_msg *m, uint32_t i, const char *sender,
                   ortak_time_ns now, struct ortak_iso_mapped *out) {
    memset(out, 0, sizeof *out);
    out->rc = ORTAK_OK;
    out->cmd.kind = ORTAK_CMD_PAYMENT_SUBMIT;
    out->cmd.timestamp = now;
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    if (m->type != ORTAK_ISO_PACS_008 && m->type != ORTAK_ISO_PACS_009 && m->type != ORTAK_ISO_PACS_004) {
        refuse(out, ORTAK_ISO_NOT_SUPPORTED, "%s is not a payment ortak accepts", ortak_iso_type_name(m->type));
        return;
    }
    if (m->issue_count > 0) { /* only a message read as valid is mapped */
        refuse(out, ORTAK_ISO_INVALID, "the message is invalid: %s", m->issues[0].text);
        return;
    }
    if (i >= m->tx_count) {
        refuse(out, ORTAK_INVALID, "no transaction %u in the message", i);
        return;
    }
    if (m->has_header && !same_participant(l, m->hdr_from, sender)) {
        refuse(out, ORTAK_ISO_SENDER_MISMATCH, "the header's sender '%s' is not the authenticated %s", m->hdr_from,
               sender);
        return;
    }
    const struct ortak_iso_tx *t = &m->tx[i];
    if (t->amount == 0) {
        refuse(out, ORTAK_AMOUNT_ZERO, "the amount is zero or unreadable");
        return;
    }
    if (m->type == ORTAK_ISO_PACS_004)
        (void)map_return(e, t, sender, out);
    else
        (void)map_transfer(e, m, t, sender, out);
}

/* ---- message ids seen ---- */

/* Open addressing over 128-bit digests of (sender, MsgId): SHA-256, so that no sender can craft a message id whose
 * key collides with another sender's. The table is twice the capacity, so probes stay short. */
struct ortak_iso_seen {
    ortak_u128 *slot; /* 0 = empty */
    uint32_t mask;
    uint32_t count, capacity;
};

ortak_rc ortak_iso_seen_open(uint32_t capacity, struct ortak_iso_seen **out) {
    *out = NULL;
    if (capacity == 0 || capacity > (1u << 30)) return ORTAK_INVALID;
    struct ortak_iso_seen *s = calloc(1, sizeof *s);
    uint32_t size = 2;
    while (size < 2 * (uint64_t)capacity) size *= 2;
    if (s) s->slot = calloc(size, sizeof *s->slot);
    if (!s || !s->slot) {
        ortak_iso_seen_close(s);
        return ORTAK_NOMEM;
    }
    s->mask = size - 1;
    s->capacity = capacity;
    *out = s;
    return ORTAK_OK;
}

void ortak_iso_seen_close(struct ortak_iso_seen *s) {
    if (!s) return;
    free(s->slot);
    free(s);
}

ortak_rc ortak_iso_seen_add(struct ortak_iso_seen *s, const char *sender, const char *msg_id) {
    struct sha256_ctx sha;
    uint8_t d[32];
    sha256_init(&sha);
    sha256_update(&sha, strlen(sender) + 1, (const uint8_t *)sender); /* the NUL separates the two */
    sha256_update(&sha, strlen(msg_id), (const uint8_t *)msg_id);
    sha256_digest(&sha, sizeof d, d);
    ortak_u128 key = 0;
    for (int i = 0; i < 16; i++) key = (key << 8) | d[i];
    if (key == 0) key = 1;
    for (uint32_t i = (uint32_t)key & s->mask, probes = 0; probes <= s->mask; i = (i + 1) & s->mask, probes++) {
        if (s->slot[i] == key) return ORTAK_ISO_DUPLICATE_MESSAGE;
        if (s->slot[i] != 0) continue;
        if (s->count == s->capacity) return ORTAK_ISO_SEEN_FULL;
        s->slot[i] = key;
        s->count++;
        return ORTAK_OK;
    }
    ORTAK_ASSERT(false); /* the table is never full: count <= capacity < size */
    return ORTAK_ISO_SEEN_FULL;
}
