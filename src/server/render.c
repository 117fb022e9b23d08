/*
 * The XML of an outbox message, written when its recipient fetches it: pacs.002 (a payment's final status),
 * camt.054 (a debit or credit notification), or the forward of a payment that came in ISO 20022. What the
 * original message said (its ids, its transaction) comes from the inbound store; a payment submitted in JSON has
 * no original message, and its status report names the payment id instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "server.h"

static void head_fill(struct server *s, const struct outbox_msg *m, struct ortak_iso_head *h) {
    memset(h, 0, sizeof *h);
    snprintf(h->from, sizeof h->from, "%s", s->cfg.operator_bic);
    snprintf(h->to, sizeof h->to, "%s", m->recipient);
    /* unique per recipient and message: "O" + the BIC + its sequence number, at most 35 characters */
    snprintf(h->msg_id, sizeof h->msg_id, "O%.11s%llu", m->recipient, (unsigned long long)m->seq);
    h->created_ns = m->at;
}

static const char *status_code(uint8_t status) {
    switch (status) {
    case 1: return "ACSC";
    case 4: return "ACSP";
    default: return "RJCT";
    }
}

static ortak_rc render_pacs002(struct server *s, const struct outbox_msg *m, struct ortak_iso_buf *out) {
    struct ortak_iso_status st;
    memset(&st, 0, sizeof st);
    head_fill(s, m, &st.head);
    struct inbound_meta meta;
    if (inbound_get(s->inbound, m->payment_id, &meta, NULL, NULL)) {
        memcpy(st.orgnl_msg_id, meta.msg_id, sizeof st.orgnl_msg_id);
        st.orgnl_type = meta.type;
        memcpy(st.orgnl_instr_id, meta.instr_id, sizeof st.orgnl_instr_id);
        memcpy(st.orgnl_end_to_end_id, meta.end_to_end_id, sizeof st.orgnl_end_to_end_id);
        memcpy(st.orgnl_tx_id, meta.tx_id, sizeof st.orgnl_tx_id);
    } else { /* submitted in JSON: the payment id stands for the message */
        char hex[33];
        snprintf(st.orgnl_msg_id, sizeof st.orgnl_msg_id, "%s", ortak_u128_hex(m->payment_id, hex));
        st.orgnl_type = ORTAK_ISO_PACS_008;
        snprintf(st.orgnl_end_to_end_id, sizeof st.orgnl_end_to_end_id, "NOTPROVIDED");
    }
    st.orgnl_uetr = m->uetr;
    snprintf(st.status, sizeof st.status, "%s", status_code(m->status));
    if (m->status == 2) {
        snprintf(st.reason, sizeof st.reason, "%s",
                 ortak_rc_iso_reason(m->rc)[0] ? ortak_rc_iso_reason(m->rc) : "NARR");
        snprintf(st.reason_text, sizeof st.reason_text, "%s", ortak_rc_str(m->rc));
    } else if (m->status == 3) {
        snprintf(st.reason, sizeof st.reason, "DS02"); /* order cancelled */
        snprintf(st.reason_text, sizeof st.reason_text, "cancelled by its sender or the operator");
    }
    if (m->status == 1) st.settled_ns = m->at;
    return ortak_iso_write_pacs002(&st, out);
}

static ortak_rc render_camt054(struct server *s, const struct outbox_msg *m, struct ortak_iso_buf *out) {
    struct ortak_iso_head h;
    head_fill(s, m, &h);
    struct ortak_iso_account a = {.id = m->account_id};
    snprintf(a.owner_bic, sizeof a.owner_bic, "%s", m->recipient);
    snprintf(a.currency, sizeof a.currency, "%s", m->currency);
    if (!ortak_iso_currency(a.currency, &a.minor_units)) a.minor_units = 2;
    struct ortak_iso_entry en;
    memset(&en, 0, sizeof en);
    en.transfer_id = m->payment_id;
    en.amount = m->amount;
    en.booked_ns = m->at;
    en.uetr = m->uetr;
    snprintf(en.counterparty_bic, sizeof en.counterparty_bic, "%s", m->counterparty);
    struct inbound_meta meta;
    if (inbound_get(s->inbound, m->payment_id, &meta, NULL, NULL)) {
        memcpy(en.msg_id, meta.msg_id, sizeof en.msg_id);
        memcpy(en.instr_id, meta.instr_id, sizeof en.instr_id);
        memcpy(en.end_to_end_id, meta.end_to_end_id, sizeof en.end_to_end_id);
        memcpy(en.tx_id, meta.tx_id, sizeof en.tx_id);
    }
    return ortak_iso_write_camt054(&h, &a, &en, out);
}

static ortak_rc render_forward(struct server *s, const struct outbox_msg *m, struct ortak_iso_buf *out) {
    struct inbound_meta meta;
    char *xml;
    size_t len;
    if (!inbound_get(s->inbound, m->payment_id, &meta, &xml, &len)) return ORTAK_INVALID;
    struct ortak_iso_reader *r = srv_reader(s);
    struct ortak_iso_head h;
    head_fill(s, m, &h);
    ortak_rc rc = r ? ortak_iso_write_forward(r, xml, len, m->uetr, &h, m->at, out) : ORTAK_NOMEM;
    free(xml);
    return rc;
}

char *outbox_render(struct server *s, const struct outbox_msg *m, size_t *len) {
    struct ortak_iso_buf b = {0};
    ortak_rc rc = m->type == OUTBOX_PACS002   ? render_pacs002(s, m, &b)
                  : m->type == OUTBOX_CAMT054 ? render_camt054(s, m, &b)
                                              : render_forward(s, m, &b);
    if (rc != ORTAK_OK || b.failed) {
        char hex[33];
        ortak_log_error("outbox", "cannot write message %llu of %s (payment %s): %s", (unsigned long long)m->seq,
                        m->recipient, ortak_u128_hex(m->payment_id, hex), ortak_rc_str(rc));
        ortak_iso_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.data;
}
