/*
 * Endpoints: payments, in JSON and in ISO 20022 (docs/api.md). A payment's id follows from its UETR as for ISO
 * 20022 payments, so that one payment is never booked twice whichever way it arrives, and a retried JSON payment
 * (same Idempotency-Key, hence same UETR) is recognised by the engine itself even after a restart.
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "ortak/fx.h"
#include "ortak/ledger.h"
#include "ortak/settle.h"
#include "server.h"

/* A version 4 UUID from 16 bytes: version nibble 4, variant 10. */
static ortak_u128 uuid4(ortak_u128 bits) {
    bits &= ~((ortak_u128)0xf << 76);
    bits |= (ortak_u128)4 << 76;
    bits &= ~((ortak_u128)3 << 62);
    bits |= (ortak_u128)2 << 62;
    return bits;
}

bool api_may_read_payment(const struct req *r, const struct ortak_engine *e, const struct ortak_payment_info *p) {
    if (r->who.role == ORTAK_ROLE_OPERATOR) return true;
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    struct ortak_account_info d, c;
    bool dk = ortak_ledger_account_get(l, p->p.debit_account_id, &d) == ORTAK_OK;
    bool ck = ortak_ledger_account_get(l, p->p.credit_account_id, &c) == ORTAK_OK;
    return (dk && (strcmp(d.bic, r->who.bic) == 0 || api_is_agent(e, r->who.bic, d.currency))) ||
           (ck && (strcmp(c.bic, r->who.bic) == 0 || api_is_agent(e, r->who.bic, c.currency)));
}

json_t *api_payment_json(const struct ortak_engine *e, const struct ortak_payment_info *p) {
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    struct ortak_account_info d = {0}, c = {0};
    ortak_ledger_account_get(l, p->p.debit_account_id, &d);
    ortak_ledger_account_get(l, p->p.credit_account_id, &c);
    uint8_t mu = srv_minor_units(e, d.currency);
    json_t *o = json_pack("{s:o, s:o, s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:s, s:s, s:o, s:o}", "id", json_id(p->p.id),
                          "uetr", json_uetr(p->p.uetr), "status", ortak_payment_state_name(p->state), "debtor_agent",
                          d.bic, "creditor_agent", c.bic, "debit_account", json_id(p->p.debit_account_id),
                          "credit_account", json_id(p->p.credit_account_id), "currency", d.currency, "amount",
                          json_amount(p->p.amount, mu), "priority", ortak_priority_name(p->p.priority), "method",
                          p->p.method == ORTAK_METHOD_NET ? "net" : "gross", "received_at", json_time(p->received_ns),
                          "ended_at", json_time(p->ended_ns));
    if (!o) return NULL;
    if (p->p.quote_id) {
        json_object_set_new(o, "quote_id", json_id(p->p.quote_id));
        json_object_set_new(o, "creditor_currency", json_string(c.currency));
    }
    if (p->p.latest_ns) json_object_set_new(o, "latest_settlement", json_time(p->p.latest_ns));
    if (p->p.screening.lists_version) json_object_set_new(o, "screening", screen_decision_json(&p->p));
    if (p->window) json_object_set_new(o, "window", json_integer((json_int_t)p->window));
    if (p->rc != ORTAK_OK) {
        json_object_set_new(o, "code", json_string(srv_rc_code(p->rc)));
        json_object_set_new(o, "reason", json_string(ortak_rc_iso_reason(p->rc)));
        json_object_set_new(o, "message", json_string(ortak_rc_str(p->rc)));
    }
    return o;
}

static bool parse_priority(const char *s, uint8_t *out) {
    for (uint8_t p = 0; p < ORTAK_PRIORITIES; p++) {
        if (strcmp(s, ortak_priority_name(p)) == 0) {
            *out = p;
            return true;
        }
    }
    return false;
}

/* The payer's and payee's settlement accounts of a JSON payment. Replies and returns false when one is missing. */
static bool payment_accounts(struct req *r, const struct ortak_engine *e, const char *payee, const char *currency,
                             ortak_u128 quote_id, struct ortak_payment *p, uint8_t *mu) {
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    struct ortak_account_info a, b;
    if (ortak_ledger_account_find(l, r->who.bic, currency, ORTAK_ACCOUNT_SETTLEMENT, &a) != ORTAK_OK) {
        reply_no_account(r, "currency", r->who.bic, currency);
        return false;
    }
    *mu = srv_minor_units(e, currency);
    p->debit_account_id = a.id;
    if (quote_id) {
        struct ortak_fx_quote_info q;
        if (ortak_fx_quote_get(ortak_engine_fx(e), quote_id, &q) != ORTAK_OK) {
            reply_rc(r, ORTAK_QUOTE_NOT_FOUND, "quote_id");
            return false;
        }
        if (ortak_ledger_account_get(l, q.req.credit_account_id, &b) != ORTAK_OK || strcmp(b.bic, payee) != 0) {
            reply_rc(r, ORTAK_QUOTE_MISMATCH, "creditor_agent");
            return false;
        }
        p->credit_account_id = b.id;
        return true;
    }
    if (ortak_ledger_account_find(l, payee, currency, ORTAK_ACCOUNT_SETTLEMENT, &b) != ORTAK_OK) {
        reply_no_account(r, "creditor_agent", payee, currency);
        return false;
    }
    p->credit_account_id = b.id;
    return true;
}

/* Refuses with 429 when the payer's or payee's outbox is full: their messages could no longer be kept. */
static bool outboxes_have_room(struct req *r, const char *payee) {
    uint64_t max = r->srv->cfg.outbox_max;
    if (outbox_pending(r->srv->outbox, r->who.bic) < max && outbox_pending(r->srv->outbox, payee) < max) return true;
    reply_error(r, 429, "outbox_full", NULL, "an outbox holds %llu messages not acknowledged: acknowledge them first",
                (unsigned long long)max);
    return false;
}

static void get_payment_by(struct req *r, ortak_u128 id);

/* A JSON payment between its submission and its answer. */
struct json_payment {
    struct ortak_cmd cmd;
    struct ortak_result res;
    char payee[12], currency[4];
    uint8_t mu;
};

/* Answered from the command and its result: no second look at the engine, except for a retry. */
static void payment_durable(struct req *r) {
    struct json_payment *st = r->state;
    const struct ortak_payment *p = &st->cmd.u.payment;
    const struct ortak_result *res = &st->res;
    if (res->rc == ORTAK_OK && (res->flags & ORTAK_RESULT_REPLAYED)) { /* a retry: the payment as it is now */
        get_payment_by(r, p->id);
        return;
    }
    if (res->rc == ORTAK_OK) {
        /* The busiest answer of all, written directly: every value is an id, a UUID, a BIC, a code, an amount or a
           time, none of which needs escaping (checked when they were read). */
        const char *status = res->flags & ORTAK_RESULT_QUEUED ? "queued"
                             : res->flags & ORTAK_RESULT_HELD ? "held"
                             : p->method == ORTAK_METHOD_NET  ? "accepted"
                                                              : "settled";
        char id[33], uetr[37], amount[48], at[40], body[640];
        ortak_u128_hex(p->id, id);
        ortak_iso_uetr_text(p->uetr, uetr);
        ortak_iso_amount_format(p->amount, st->mu, amount);
        format_time(st->cmd.timestamp, at);
        int n = snprintf(body, sizeof body,
                         "{\"id\":\"%s\",\"uetr\":\"%s\",\"status\":\"%s\",\"debtor_agent\":\"%s\","
                         "\"creditor_agent\":\"%s\",\"currency\":\"%s\",\"amount\":\"%s\",\"priority\":\"%s\","
                         "\"method\":\"%s\",\"received_at\":\"%s\"%s%s%s}",
                         id, uetr, status, r->who.bic, st->payee, st->currency, amount,
                         ortak_priority_name(p->priority), p->method == ORTAK_METHOD_NET ? "net" : "gross", at,
                         strcmp(status, "settled") == 0 ? ",\"ended_at\":\"" : "",
                         strcmp(status, "settled") == 0 ? at : "", strcmp(status, "settled") == 0 ? "\"" : "");
        ORTAK_ASSERT(n > 0 && (size_t)n < sizeof body);
        reply_text(r, 201, "application/json", body, (size_t)n);
        return;
    }
    reply_rc(r, res->rc, NULL);
    if (res->rc == ORTAK_PAYMENT_EXISTS_DIFFERENT) r->status = 409;
    json_t *err = r->resp && res->rc != ORTAK_PAYMENT_EXISTS_DIFFERENT ? json_loads(r->resp, 0, NULL) : NULL;
    if (err) { /* the refusal names the payment it refused (unless the id is another payment's) */
        json_object_set_new(
            err, "payment",
            json_pack("{s:o, s:o, s:s}", "id", json_id(p->id), "uetr", json_uetr(p->uetr), "status", "rejected"));
        unsigned status = r->status;
        reply_json(r, status, err);
    }
}

void api_post_payment(struct req *r) {
    static const char *const keys[] = {"creditor_agent", "currency",          "amount",        "priority",
                                       "method",         "latest_settlement", "quote_id",      "uetr",
                                       "end_to_end_id",  "debtor_name",       "creditor_name", NULL};
    struct json_payment *st = calloc(1, sizeof *st);
    if (!st) {
        reply_rc(r, ORTAK_NOMEM, NULL);
        return;
    }
    r->state = st;
    json_t *o = req_json(r, keys);
    if (!o) return;
    char priority[16], method[8], uetr_text[40], e2e[36], debtor[141], creditor[141];
    st->cmd.kind = ORTAK_CMD_PAYMENT_SUBMIT;
    struct ortak_payment *p = &st->cmd.u.payment;
    p->priority = ORTAK_PRIORITY_NORMAL;
    bool ok = field_bic(r, o, "creditor_agent", true, st->payee) &&
              field_currency(r, o, "currency", true, st->currency) &&
              field_str(r, o, "priority", false, priority, sizeof priority, NULL) &&
              field_str(r, o, "method", false, method, sizeof method, NULL) &&
              field_time(r, o, "latest_settlement", &p->latest_ns) && field_id(r, o, "quote_id", false, &p->quote_id) &&
              field_str(r, o, "uetr", false, uetr_text, sizeof uetr_text, NULL) &&
              field_str(r, o, "end_to_end_id", false, e2e, sizeof e2e, NULL) &&
              field_str(r, o, "debtor_name", false, debtor, sizeof debtor, NULL) &&
              field_str(r, o, "creditor_name", false, creditor, sizeof creditor, NULL);
    if (ok && priority[0] && !parse_priority(priority, &p->priority)) {
        reply_error(r, 400, "field_invalid", "priority", "priority is normal, urgent or highly_urgent");
        ok = false;
    }
    if (ok && method[0] && strcmp(method, "gross") != 0 && strcmp(method, "net") != 0) {
        reply_error(r, 400, "field_invalid", "method", "method is gross or net");
        ok = false;
    }
    p->method = strcmp(method, "net") == 0 ? ORTAK_METHOD_NET : ORTAK_METHOD_GROSS;
    if (ok && uetr_text[0] && !ortak_iso_uetr_parse(uetr_text, &p->uetr)) {
        reply_error(r, 400, "field_invalid", "uetr", "uetr must be a version 4 UUID in lowercase");
        ok = false;
    }
    st->mu = 2;
    struct screen_parties parties;
    if (ok) {
        const struct ortak_engine *e = srv_read_begin(r->srv);
        ok = payment_accounts(r, e, st->payee, st->currency, p->quote_id, p, &st->mu);
        if (ok) screen_parties_get(e, p, &parties);
        srv_read_end(r->srv);
    }
    ok = ok && field_amount(r, o, "amount", st->mu, false, &p->amount) && outboxes_have_room(r, st->payee);
    json_decref(o);
    if (!ok) return;
    if (!screen_payment(r->srv, &parties, debtor, creditor, p)) {
        reply_error(r, 503, "screening_unavailable", NULL, "the payment cannot be screened now: try again");
        return;
    }
    if (!p->uetr) p->uetr = uuid4(r->idem_key ? srv_derived_id("uetr", r->who.bic, r->idem_key) : srv_random_id());
    p->id = ortak_iso_payment_id(p->uetr);
    r->resume = payment_durable;
    srv_submit_async(r, &st->cmd, 1, &st->res);
}

/* The payment of path segment 2 (an id), readable by the caller: replies 400/404 and returns false otherwise. */
static bool payment_arg(struct req *r, const struct ortak_engine *e, ortak_u128 id, struct ortak_payment_info *p) {
    char hex[33];
    if (ortak_settle_payment_get(ortak_engine_settle(e), id, p) != ORTAK_OK) {
        reply_error(r, 404, "not_found", "id", "no payment %s", ortak_u128_hex(id, hex));
        return false;
    }
    if (!api_may_read_payment(r, e, p)) {
        reply_error(r, 403, "forbidden", "id", "payment %s is neither sent nor received by you",
                    ortak_u128_hex(id, hex));
        return false;
    }
    return true;
}

static void get_payment_by(struct req *r, ortak_u128 id) {
    struct ortak_payment_info p;
    const struct ortak_engine *e = srv_read_begin(r->srv);
    json_t *body = payment_arg(r, e, id, &p) ? api_payment_json(e, &p) : NULL;
    srv_read_end(r->srv);
    if (body) reply_json(r, 200, body);
}

void api_get_payment(struct req *r) {
    ortak_u128 id;
    if (!parse_id(r->seg[2], &id)) {
        reply_error(r, 400, "field_invalid", "id", "a payment id is 32 lowercase hexadecimal digits");
        return;
    }
    get_payment_by(r, id);
}

void api_get_payments(struct req *r) {
    const char *text = req_query(r, "uetr");
    ortak_u128 uetr;
    if (!text) {
        reply_error(r, 400, "field_missing", "uetr", "give ?uetr= (or GET /v1/payments/{id})");
        return;
    }
    if (!ortak_iso_uetr_parse(text, &uetr)) {
        reply_error(r, 400, "field_invalid", "uetr", "uetr must be a version 4 UUID in lowercase");
        return;
    }
    get_payment_by(r, ortak_iso_payment_id(uetr));
}

/* cancel and priority: by the payer or the operator. */
static void payment_control(struct req *r, uint32_t kind, uint8_t priority) {
    ortak_u128 id;
    if (!parse_id(r->seg[2], &id)) {
        reply_error(r, 400, "field_invalid", "id", "a payment id is 32 lowercase hexadecimal digits");
        return;
    }
    struct ortak_payment_info p;
    struct ortak_account_info d;
    const struct ortak_engine *e = srv_read_begin(r->srv);
    bool found = payment_arg(r, e, id, &p);
    bool payer = found && (r->who.role == ORTAK_ROLE_OPERATOR ||
                           (ortak_ledger_account_get(ortak_engine_ledger(e), p.p.debit_account_id, &d) == ORTAK_OK &&
                            strcmp(d.bic, r->who.bic) == 0));
    srv_read_end(r->srv);
    if (!found) return;
    if (!payer) {
        reply_error(r, 403, "forbidden", "id", "only the payer or the operator may change a payment");
        return;
    }
    struct ortak_cmd cmd = {.kind = kind};
    cmd.u.control.id = id;
    cmd.u.control.priority = priority;
    struct ortak_result res;
    if (api_submit1(r, &cmd, &res) != ORTAK_OK) {
        reply_rc(r, res.rc, NULL);
        if (res.rc == ORTAK_PAYMENT_NOT_QUEUED) r->status = 409;
        return;
    }
    get_payment_by(r, id);
}

void api_post_cancel(struct req *r) { payment_control(r, ORTAK_CMD_PAYMENT_CANCEL, 0); }

void api_post_priority(struct req *r) {
    static const char *const keys[] = {"priority", NULL};
    json_t *o = req_json(r, keys);
    if (!o) return;
    char priority[16];
    uint8_t p = 0;
    bool ok = field_str(r, o, "priority", true, priority, sizeof priority, NULL);
    json_decref(o);
    if (ok && !parse_priority(priority, &p)) {
        reply_error(r, 400, "field_invalid", "priority", "priority is normal, urgent or highly_urgent");
        ok = false;
    }
    if (ok) payment_control(r, ORTAK_CMD_PAYMENT_PRIORITY, p);
}

/* ---- ISO 20022 --------------------------------------------------------------------------------------------- */

struct iso_tx_result {
    ortak_u128 uetr, id;
    const char *status; /* settled, queued, accepted, rejected, cancelled */
    ortak_rc rc;
    char reason[5];
    char text[200];
};

static bool wants_xml(struct req *r) {
    const char *accept = req_header(r, "Accept");
    return accept && strstr(accept, "application/xml") != NULL;
}

static void iso_head(struct req *r, struct ortak_iso_head *h, const char *tag) {
    memset(h, 0, sizeof *h);
    snprintf(h->from, sizeof h->from, "%s", r->srv->cfg.operator_bic);
    memcpy(h->to, r->who.bic, 12);
    char hex[33];
    snprintf(h->msg_id, sizeof h->msg_id, "%s%.32s", tag, ortak_u128_hex(srv_random_id(), hex));
    h->created_ns = srv_now();
}

/* A message that cannot be read: 400 with the error, or its admi.002. */
static void iso_unreadable(struct req *r, const struct ortak_iso_msg *m) {
    const char *why = m->issue_count ? m->issues[0].text : "the message cannot be read";
    if (!wants_xml(r)) {
        reply_error(r, 400, "iso_unreadable", NULL, "%s", why);
        json_t *o = json_loads(r->resp, 0, NULL);
        if (o) json_object_set_new(json_object_get(o, "error"), "reason", json_string("FF01"));
        if (o) reply_json(r, 400, o);
        return;
    }
    struct ortak_iso_reject rej;
    memset(&rej, 0, sizeof rej);
    iso_head(r, &rej.head, "R");
    snprintf(rej.ref, sizeof rej.ref, "%s", m->msg_id[0] ? m->msg_id : "NONREF");
    snprintf(rej.reason, sizeof rej.reason, "FF01");
    snprintf(rej.text, sizeof rej.text, "%s", why);
    struct ortak_iso_buf b = {0};
    if (ortak_iso_write_admi002(&rej, &b) == ORTAK_OK && !b.failed)
        reply_text(r, 400, "application/xml", b.data, b.len);
    else
        reply_rc(r, ORTAK_NOMEM, NULL);
    ortak_iso_buf_free(&b);
    r->error_code = "iso_unreadable";
}

static void iso_invalid(struct req *r, const struct ortak_iso_msg *m) {
    json_t *issues = json_array();
    for (uint32_t i = 0; i < m->issue_count && i < ORTAK_ISO_ISSUES_MAX; i++)
        json_array_append_new(issues, json_pack("{s:s, s:s, s:s}", "rule", m->issues[i].rule, "reason",
                                                m->issues[i].reason, "text", m->issues[i].text));
    const char *reason = m->issue_count ? m->issues[0].reason : "FF01";
    json_t *e = json_pack("{s:s, s:s, s:s, s:o}", "code", "iso_invalid", "message", ortak_rc_str(ORTAK_ISO_INVALID),
                          "reason", reason, "issues", issues);
    reply_json(r, 422, json_pack("{s:o}", "error", e));
    r->error_code = "iso_invalid";
}

/* The status of a transaction whose UETR is taken: the payment itself when the same payer sent the same amount
 * (a retry, answered with the payment's state), else a duplicate. */
static void iso_existing(const struct ortak_engine *e, struct req *r, const struct ortak_iso_tx *t,
                         struct iso_tx_result *out) {
    struct ortak_payment_info p;
    struct ortak_account_info d;
    if (ortak_settle_payment_get(ortak_engine_settle(e), out->id, &p) == ORTAK_OK && p.p.amount == t->amount &&
        ortak_ledger_account_get(ortak_engine_ledger(e), p.p.debit_account_id, &d) == ORTAK_OK &&
        strcmp(d.bic, r->who.bic) == 0) {
        out->rc = p.rc;
        out->status = ortak_payment_state_name(p.state);
        return;
    }
    out->rc = ORTAK_ISO_DUPLICATE_UETR;
    out->status = "rejected";
}

/* What the answer to a message needs of it, once the reader has gone on to other messages. */
struct iso_summary {
    char msg_id[36];
    uint8_t type;
    uint32_t tx_count;
    struct ortak_iso_tx tx0; /* the first transaction, for a pacs.002 answer */
};

static json_t *iso_results_json(const struct iso_summary *m, const struct iso_tx_result *res) {
    json_t *list = json_array();
    for (uint32_t i = 0; i < m->tx_count; i++) {
        json_t *t = json_pack("{s:o, s:o, s:s}", "uetr", json_uetr(res[i].uetr), "id", json_id(res[i].id), "status",
                              res[i].status);
        if (res[i].rc != ORTAK_OK) {
            json_object_set_new(t, "code", json_string(srv_rc_code(res[i].rc)));
            json_object_set_new(t, "reason", json_string(res[i].reason));
            json_object_set_new(t, "message", json_string(res[i].text));
        }
        json_array_append_new(list, t);
    }
    return json_pack("{s:s, s:s, s:o}", "msg_id", m->msg_id, "type", ortak_iso_type_name(m->type), "transactions",
                     list);
}

/* With Accept: application/xml and one transaction: its pacs.002. */
static bool iso_reply_pacs002(struct req *r, const struct iso_summary *m, const struct iso_tx_result *res) {
    if (!wants_xml(r) || m->tx_count != 1) return false;
    struct ortak_iso_status st;
    memset(&st, 0, sizeof st);
    iso_head(r, &st.head, "S");
    snprintf(st.orgnl_msg_id, sizeof st.orgnl_msg_id, "%s", m->msg_id);
    st.orgnl_type = m->type;
    memcpy(st.orgnl_instr_id, m->tx0.instr_id, sizeof st.orgnl_instr_id);
    memcpy(st.orgnl_end_to_end_id, m->tx0.end_to_end_id, sizeof st.orgnl_end_to_end_id);
    memcpy(st.orgnl_tx_id, m->tx0.tx_id, sizeof st.orgnl_tx_id);
    st.orgnl_uetr = m->tx0.uetr;
    const char *s = res->status;
    snprintf(st.status, sizeof st.status, "%s",
             strcmp(s, "settled") == 0    ? "ACSC"
             : strcmp(s, "queued") == 0   ? "PDNG"
             : strcmp(s, "held") == 0     ? "PDNG"
             : strcmp(s, "accepted") == 0 ? "ACSP"
                                          : "RJCT");
    if (res->rc != ORTAK_OK) {
        snprintf(st.reason, sizeof st.reason, "%s", res->reason[0] ? res->reason : "NARR");
        snprintf(st.reason_text, sizeof st.reason_text, "%.105s", res->text);
    }
    if (strcmp(s, "settled") == 0) st.settled_ns = st.head.created_ns;
    struct ortak_iso_buf b = {0};
    bool ok = ortak_iso_write_pacs002(&st, &b) == ORTAK_OK && !b.failed;
    if (ok) reply_text(r, res->rc == ORTAK_OK ? 200 : 422, "application/xml", b.data, b.len);
    ortak_iso_buf_free(&b);
    return ok;
}

/* An ISO 20022 message between its submission and its answer: one block (the request frees it). The message's
 * transactions belong to the reader, which reads other messages meanwhile: the first one is copied for the
 * pacs.002 answer, and the results carry the rest. */
struct iso_state {
    struct iso_summary m;
    uint32_t ncmd;
    struct iso_tx_result *res;
    struct ortak_cmd *cmds;
    struct ortak_result *results;
    uint32_t *slot; /* transaction i -> its command, or UINT32_MAX */
};

static struct iso_state *iso_state_new(uint32_t n) {
    size_t size = sizeof(struct iso_state) + n * (sizeof(struct iso_tx_result) + sizeof(struct ortak_cmd) +
                                                  sizeof(struct ortak_result) + sizeof(uint32_t));
    struct iso_state *st = calloc(1, size);
    if (!st) return NULL;
    /* largest alignment first: commands (16-byte ids), then results, then the rest */
    st->cmds = (struct ortak_cmd *)(st + 1);
    st->results = (struct ortak_result *)(st->cmds + n);
    st->res = (struct iso_tx_result *)(st->results + n);
    st->slot = (uint32_t *)(st->res + n);
    return st;
}

/* The engine's outcome of each transaction submitted, then the answer. */
static void iso_durable(struct req *r) {
    struct iso_state *st = r->state;
    const struct ortak_engine *e = srv_read_begin(r->srv);
    for (uint32_t i = 0; i < st->m.tx_count; i++) {
        if (st->slot[i] == UINT32_MAX) continue;
        struct iso_tx_result *x = &st->res[i];
        const struct ortak_result *res = &st->results[st->slot[i]];
        x->rc = res->flags & ORTAK_RESULT_REPLAYED ? ORTAK_ISO_DUPLICATE_UETR : res->rc;
        struct ortak_payment_info p;
        if (x->rc != ORTAK_OK)
            x->status = "rejected";
        else if (st->cmds[st->slot[i]].kind == ORTAK_CMD_TRANSFER)
            x->status = "settled";
        else
            x->status = ortak_settle_payment_get(ortak_engine_settle(e), x->id, &p) == ORTAK_OK
                            ? ortak_payment_state_name(p.state)
                            : "rejected";
        if (x->rc != ORTAK_OK) {
            snprintf(x->reason, sizeof x->reason, "%s", ortak_rc_iso_reason(x->rc));
            snprintf(x->text, sizeof x->text, "%s", ortak_rc_str(x->rc));
            struct ortak_transfer_info t;
            if (ortak_settle_payment_get(ortak_engine_settle(e), x->id, &p) != ORTAK_OK &&
                ortak_ledger_transfer_get(ortak_engine_ledger(e), x->id, &t) != ORTAK_OK)
                inbound_ref(r->srv->inbound, x->id, -1); /* refused unrecorded: no message will quote it */
        }
    }
    srv_read_end(r->srv);
    if (!iso_reply_pacs002(r, &st->m, st->res)) reply_json(r, 200, iso_results_json(&st->m, st->res));
}

/* Maps every transaction (under the engine's lock); the ones refused get their result now. */
static void iso_map_all(struct req *r, struct iso_state *st, const struct ortak_iso_msg *m, struct inbound_meta *metas,
                        struct screen_parties *parties) {
    const struct ortak_iso_tx *tx = m->tx;
    const struct ortak_engine *e = srv_read_begin(r->srv);
    ortak_time_ns now = srv_now();
    for (uint32_t i = 0; i < m->tx_count; i++) {
        struct ortak_iso_mapped mp;
        struct iso_tx_result *x = &st->res[i];
        ortak_iso_map(e, m, i, r->who.bic, now, &mp);
        x->uetr = tx[i].uetr;
        x->id = ortak_iso_payment_id(tx[i].uetr);
        st->slot[i] = UINT32_MAX;
        if (mp.rc == ORTAK_ISO_DUPLICATE_UETR) {
            iso_existing(e, r, &tx[i], x);
        } else if (mp.rc != ORTAK_OK) {
            x->rc = mp.rc;
            x->status = "rejected";
            snprintf(x->reason, sizeof x->reason, "%s", mp.reason);
            snprintf(x->text, sizeof x->text, "%s", mp.text);
        } else {
            st->slot[i] = st->ncmd;
            st->cmds[st->ncmd] = mp.cmd;
            if (mp.cmd.kind == ORTAK_CMD_PAYMENT_SUBMIT) screen_parties_get(e, &mp.cmd.u.payment, &parties[st->ncmd]);
            struct inbound_meta *mt = &metas[st->ncmd++];
            mt->payment_id = mp.cmd.kind == ORTAK_CMD_TRANSFER ? mp.cmd.u.transfer.id : mp.cmd.u.payment.id;
            mt->type = m->type;
            memcpy(mt->msg_id, m->msg_id, sizeof mt->msg_id);
            memcpy(mt->instr_id, tx[i].instr_id, sizeof mt->instr_id);
            memcpy(mt->end_to_end_id, tx[i].end_to_end_id, sizeof mt->end_to_end_id);
            memcpy(mt->tx_id, tx[i].tx_id, sizeof mt->tx_id);
            memcpy(mt->sender, r->who.bic, sizeof mt->sender);
            x->id = mt->payment_id;
        }
        if (x->rc != ORTAK_OK && !x->reason[0]) snprintf(x->reason, sizeof x->reason, "%s", ortak_rc_iso_reason(x->rc));
        if (x->rc != ORTAK_OK && !x->text[0]) snprintf(x->text, sizeof x->text, "%s", ortak_rc_str(x->rc));
    }
    srv_read_end(r->srv);
}

/* A valid payment message: each transaction mapped, the message kept, the commands submitted. */
static void iso_submit(struct req *r, const struct ortak_iso_msg *m) {
    uint32_t n = m->tx_count;
    struct iso_state *st = iso_state_new(n);
    struct inbound_meta *metas = calloc(n ? n : 1, sizeof *metas);
    struct screen_parties *parties = calloc(n ? n : 1, sizeof *parties);
    if (!st || !metas || !parties) {
        free(st);
        free(metas);
        free(parties);
        reply_rc(r, ORTAK_NOMEM, NULL);
        return;
    }
    r->state = st;
    memcpy(st->m.msg_id, m->msg_id, sizeof st->m.msg_id);
    st->m.type = m->type;
    st->m.tx_count = n;
    if (n) st->m.tx0 = m->tx[0];
    pthread_mutex_lock(&r->srv->seen_mu);
    ortak_rc rc = ortak_iso_seen_add(r->srv->seen, r->who.bic, m->msg_id);
    pthread_mutex_unlock(&r->srv->seen_mu);
    if (rc != ORTAK_OK) {
        reply_rc(r, rc, "MsgId");
        if (rc == ORTAK_ISO_DUPLICATE_MESSAGE) r->status = 409;
        free(metas);
        free(parties);
        return;
    }
    iso_map_all(r, st, m, metas, parties);
    /* Screened outside the engine's lock: each payment's parties, and its agents (its debtor and creditor) */
    bool screened = true;
    for (uint32_t i = 0; i < n && screened; i++) {
        uint32_t k = st->slot[i];
        if (k == UINT32_MAX || st->cmds[k].kind != ORTAK_CMD_PAYMENT_SUBMIT) continue;
        screened = screen_payment(r->srv, &parties[k], m->tx[i].dbtr_name, m->tx[i].cdtr_name, &st->cmds[k].u.payment);
    }
    free(parties);
    if (!screened) {
        free(metas);
        reply_error(r, 503, "screening_unavailable", NULL, "the message cannot be screened now: send it again");
        return;
    }
    const struct ortak_iso_tx *t0 = &m->tx[0];
    bool room = !st->ncmd || outboxes_have_room(r, t0->instd_agt[0] ? t0->instd_agt : t0->cdtr_agt);
    /* the message is kept before its commands go to the journal: durable no later than they are */
    if (room && st->ncmd && inbound_add(r->srv->inbound, metas, st->ncmd, r->body, r->body_len) != 0) {
        reply_rc(r, ORTAK_NOMEM, NULL);
        room = false;
    }
    free(metas);
    if (!room) return;
    r->resume = iso_durable;
    srv_submit_async(r, st->cmds, st->ncmd, st->results);
}

void api_post_iso(struct req *r) {
    static _Thread_local struct ortak_iso_msg msg; /* large: one per network thread, not one per request */
    struct ortak_iso_reader *rd = srv_reader(r->srv);
    struct ortak_iso_msg *m = &msg;
    if (!rd) {
        reply_rc(r, ORTAK_NOMEM, NULL);
        return;
    }
    ortak_rc rc = ortak_iso_read(rd, r->body, r->body_len, m);
    if (rc == ORTAK_ISO_UNREADABLE) {
        iso_unreadable(r, m);
    } else if (rc == ORTAK_ISO_INVALID) {
        iso_invalid(r, m);
    } else if (rc != ORTAK_OK) {
        reply_rc(r, rc, NULL);
    } else if (m->type != ORTAK_ISO_PACS_008 && m->type != ORTAK_ISO_PACS_009 && m->type != ORTAK_ISO_PACS_004) {
        reply_error(r, 422, "iso_not_supported", NULL,
                    "%s is not a payment message ortak takes: send pacs.008, pacs.009 or pacs.004",
                    ortak_iso_type_name(m->type));
    } else {
        iso_submit(r, m);
    }
}
