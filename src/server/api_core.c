/*
 * Endpoints: health, metrics, participants, accounts and liquidity (docs/api.md). Who may read an account: its
 * owner, the central bank of its currency, the operator.
 */
#include <stdlib.h>
#include <string.h>

#include "ortak/ledger.h"
#include "ortak/netting.h"
#include "ortak/settle.h"
#include "server.h"

/* ---- shared by the endpoint files ----------------------------------------------------------------------------- */

bool api_is_agent(const struct ortak_engine *e, const char *bic, const char *currency) {
    struct ortak_currency_info c;
    struct ortak_participant_info a, b;
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    return ortak_ledger_currency_get(l, currency, &c) == ORTAK_OK &&
           ortak_ledger_participant_get(l, c.agent_bic, &a) == ORTAK_OK &&
           ortak_ledger_participant_get(l, bic, &b) == ORTAK_OK && a.index == b.index;
}

bool api_may_read_account(const struct req *r, const struct ortak_engine *e, const struct ortak_account_info *a) {
    return r->who.role == ORTAK_ROLE_OPERATOR || strcmp(a->bic, r->who.bic) == 0 ||
           (r->who.role == ORTAK_ROLE_CENTRAL_BANK && api_is_agent(e, r->who.bic, a->currency));
}

ortak_rc api_submit1(struct req *r, struct ortak_cmd *cmd, struct ortak_result *res) {
    srv_submit(r->srv, cmd, 1, res);
    return res->rc;
}

/* Adds an account's queued payments, of every priority, to *count and *value; false when it has no queue. */
static bool queue_add(const struct ortak_engine *e, ortak_u128 account, uint64_t *count, ortak_i128 *value) {
    struct ortak_queue_info q;
    uint32_t n;
    if (ortak_settle_queue(ortak_engine_settle(e), account, NULL, 0, &n, &q) != ORTAK_OK) return false;
    for (int p = 0; p < ORTAK_PRIORITIES; p++) {
        *count += q.count[p];
        *value += q.value[p];
    }
    return true;
}

void api_currency_totals(const struct ortak_engine *e, const char *currency, struct api_totals *t) {
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    memset(t, 0, sizeof *t);
    uint32_t na = ortak_ledger_account_count(l);
    for (uint32_t i = 0; i < na; i++) {
        struct ortak_account_info a;
        ortak_ledger_account_at(l, i, &a);
        if (a.kind != ORTAK_ACCOUNT_SETTLEMENT || strcmp(a.currency, currency) != 0) continue;
        t->liquidity += a.balance;
        queue_add(e, a.id, &t->queued, &t->queued_value);
    }
}

json_t *api_account_json(const struct ortak_engine *e, const struct ortak_account_info *a) {
    uint8_t mu = srv_minor_units(e, a->currency);
    json_t *o = json_pack("{s:o, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "id", json_id(a->id), "bic",
                          a->bic, "currency", a->currency, "kind", ortak_account_kind_name(a->kind), "status",
                          a->status == ORTAK_ACCOUNT_STATUS_ACTIVE ? "active" : "closed", "balance",
                          json_amount(a->balance, mu), "available", json_amount(a->available, mu), "credit_line",
                          json_amount(a->credit_line, mu), "reserved", json_amount(a->reserved, mu), "debits_pending",
                          json_amount(a->debits_pending, mu), "credits_pending", json_amount(a->credits_pending, mu));
    int64_t cap;
    ortak_i128 net;
    if (o && ortak_netting_cap(ortak_engine_netting(e), a->id, &cap, &net) == ORTAK_OK) {
        json_object_set_new(o, "net_cap", json_amount(cap, mu));
        json_object_set_new(o, "net_debit", json_amount(net, mu));
    }
    uint64_t count = 0;
    ortak_i128 value = 0;
    if (o && queue_add(e, a->id, &count, &value))
        json_object_set_new(o, "queued",
                            json_pack("{s:I, s:o}", "count", (json_int_t)count, "value", json_amount(value, mu)));
    return o;
}

/* The account named by path segment `i`, readable by the caller; else replies 400/404 and returns false. Reads
 * the engine: call between srv_read_begin and srv_read_end. */
bool api_account_arg(struct req *r, const struct ortak_engine *e, uint32_t i, struct ortak_account_info *a) {
    ortak_u128 id;
    if (!parse_id(r->seg[i], &id)) {
        reply_error(r, 400, "field_invalid", "id", "an account id is 32 lowercase hexadecimal digits");
        return false;
    }
    if (ortak_ledger_account_get(ortak_engine_ledger(e), id, a) != ORTAK_OK) {
        reply_error(r, 404, "not_found", "id", "no account %s", r->seg[i]);
        return false;
    }
    if (!api_may_read_account(r, e, a)) {
        reply_error(r, 403, "forbidden", "id", "account %s is not yours to read", r->seg[i]);
        return false;
    }
    return true;
}

/* ---- health and metrics ------------------------------------------------------------------------------------ */

void api_get_healthz(struct req *r) { reply_json(r, 200, json_pack("{s:s}", "status", "ok")); }

void api_get_readyz(struct req *r) {
    if (atomic_load(&r->srv->ready))
        reply_json(r, 200, json_pack("{s:s}", "status", "ready"));
    else
        reply_error(r, 503, "not_ready", NULL, "the server is starting or stopping");
}

void api_get_metrics(struct req *r) {
    size_t len;
    char *text = metrics_render(r->srv, &len);
    if (!text) {
        reply_error(r, 503, "nomem", NULL, "out of memory");
        return;
    }
    free(r->resp);
    r->resp = text;
    r->resp_len = len;
    r->status = 200;
    r->content_type = "text/plain; version=0.0.4";
}

/* ---- participants ------------------------------------------------------------------------------------------ */

static json_t *participant_json(const struct ortak_participant_info *p) {
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "bic", p->bic, "name", p->name, "country", p->country, "role",
                     ortak_role_name(p->role), "status", ortak_participant_status_name(p->status));
}

void api_get_me(struct req *r) {
    struct ortak_participant_info p;
    const struct ortak_engine *e = srv_read_begin(r->srv);
    ortak_rc rc = ortak_ledger_participant_get(ortak_engine_ledger(e), r->who.bic, &p);
    srv_read_end(r->srv);
    if (rc != ORTAK_OK)
        reply_rc(r, rc, NULL);
    else
        reply_json(r, 200, participant_json(&p));
}

void api_get_participants(struct req *r) {
    json_t *list = json_array();
    const struct ortak_engine *e = srv_read_begin(r->srv);
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    uint32_t n = ortak_ledger_participant_count(l);
    for (uint32_t i = 0; i < n; i++) {
        struct ortak_participant_info p;
        ortak_ledger_participant_at(l, i, &p);
        json_array_append_new(list, participant_json(&p));
    }
    srv_read_end(r->srv);
    reply_json(r, 200, json_pack("{s:o}", "participants", list));
}

static bool parse_role(const char *s, uint8_t *out) {
    for (uint8_t role = ORTAK_ROLE_OPERATOR; role <= ORTAK_ROLE_FX_PROVIDER; role++) {
        if (strcmp(s, ortak_role_name(role)) == 0) {
            *out = role;
            return true;
        }
    }
    return false;
}

void api_post_participants(struct req *r) {
    static const char *const keys[] = {"bic", "name", "country", "role", NULL};
    json_t *o = req_json(r, keys);
    if (!o) return;
    struct ortak_cmd cmd = {.kind = ORTAK_CMD_PARTICIPANT_CREATE};
    struct ortak_participant_create *pc = &cmd.u.participant_create;
    char role[16];
    bool ok = field_bic(r, o, "bic", true, pc->bic) && field_str(r, o, "name", true, pc->name, sizeof pc->name, NULL) &&
              field_str(r, o, "country", false, pc->country, sizeof pc->country, NULL) &&
              field_str(r, o, "role", true, role, sizeof role, NULL);
    json_decref(o);
    if (!ok) return;
    if (!parse_role(role, &pc->role)) {
        reply_error(r, 400, "field_invalid", "role", "role is operator, central_bank, bank or fx_provider");
        return;
    }
    struct ortak_result res;
    if (api_submit1(r, &cmd, &res) != ORTAK_OK) {
        reply_rc(r, res.rc, NULL);
        return;
    }
    struct ortak_participant_info p;
    const struct ortak_engine *e = srv_read_begin(r->srv);
    ortak_ledger_participant_get(ortak_engine_ledger(e), pc->bic, &p);
    srv_read_end(r->srv);
    reply_json(r, 201, participant_json(&p));
}

void api_patch_participant(struct req *r) {
    static const char *const keys[] = {"status", NULL};
    json_t *o = req_json(r, keys);
    if (!o) return;
    char status[16];
    bool ok = field_str(r, o, "status", true, status, sizeof status, NULL);
    json_decref(o);
    if (!ok) return;
    struct ortak_cmd cmd = {.kind = ORTAK_CMD_PARTICIPANT_SET_STATUS};
    snprintf(cmd.u.participant_status.bic, sizeof cmd.u.participant_status.bic, "%.11s", r->seg[2]);
    for (uint8_t st = ORTAK_PARTICIPANT_ACTIVE; st <= ORTAK_PARTICIPANT_CLOSED; st++) {
        if (strcmp(status, ortak_participant_status_name(st)) == 0) cmd.u.participant_status.status = st;
    }
    if (!cmd.u.participant_status.status) {
        reply_error(r, 400, "field_invalid", "status", "status is active, suspended or closed");
        return;
    }
    struct ortak_result res;
    if (strlen(r->seg[2]) > 11 || api_submit1(r, &cmd, &res) != ORTAK_OK) {
        if (strlen(r->seg[2]) > 11) res.rc = ORTAK_BIC_INVALID;
        reply_rc(r, res.rc, "bic");
        return;
    }
    struct ortak_participant_info p;
    const struct ortak_engine *e = srv_read_begin(r->srv);
    ortak_ledger_participant_get(ortak_engine_ledger(e), cmd.u.participant_status.bic, &p);
    srv_read_end(r->srv);
    reply_json(r, 200, participant_json(&p));
}

/* ---- accounts ---------------------------------------------------------------------------------------------- */

void api_get_accounts(struct req *r) {
    const char *bic = req_query(r, "bic"), *currency = req_query(r, "currency");
    json_t *list = json_array();
    const struct ortak_engine *e = srv_read_begin(r->srv);
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    uint32_t n = ortak_ledger_account_count(l);
    for (uint32_t i = 0; i < n; i++) {
        struct ortak_account_info a;
        ortak_ledger_account_at(l, i, &a);
        if (!api_may_read_account(r, e, &a) || (bic && strcmp(bic, a.bic) != 0) ||
            (currency && strcmp(currency, a.currency) != 0))
            continue;
        json_array_append_new(list, api_account_json(e, &a));
    }
    srv_read_end(r->srv);
    reply_json(r, 200, json_pack("{s:o}", "accounts", list));
}

void api_post_accounts(struct req *r) {
    static const char *const keys[] = {"bic", "currency", "kind", NULL};
    json_t *o = req_json(r, keys);
    if (!o) return;
    struct ortak_cmd cmd = {.kind = ORTAK_CMD_ACCOUNT_CREATE};
    struct ortak_account_create *ac = &cmd.u.account_create;
    char kind[16];
    bool ok = field_bic(r, o, "bic", true, ac->bic) && field_currency(r, o, "currency", true, ac->currency) &&
              field_str(r, o, "kind", true, kind, sizeof kind, NULL);
    json_decref(o);
    if (!ok) return;
    for (uint8_t k = ORTAK_ACCOUNT_SETTLEMENT; k <= ORTAK_ACCOUNT_ISSUANCE; k++) {
        if (strcmp(kind, ortak_account_kind_name(k)) == 0) ac->kind = k;
    }
    if (!ac->kind) {
        reply_error(r, 400, "field_invalid", "kind", "kind is settlement, collateral or issuance");
        return;
    }
    ac->id = srv_account_id(ac->bic, ac->currency, ac->kind);
    struct ortak_result res;
    ortak_rc rc = api_submit1(r, &cmd, &res);
    if (rc != ORTAK_OK && rc != ORTAK_ACCOUNT_EXISTS) {
        reply_rc(r, rc, NULL);
        return;
    }
    struct ortak_account_info a;
    const struct ortak_engine *e = srv_read_begin(r->srv);
    ortak_ledger_account_get(ortak_engine_ledger(e), ac->id, &a);
    json_t *body = api_account_json(e, &a);
    srv_read_end(r->srv);
    reply_json(r, rc == ORTAK_OK ? 201 : 200, body);
}

void api_get_account(struct req *r) {
    struct ortak_account_info a;
    const struct ortak_engine *e = srv_read_begin(r->srv);
    json_t *body = api_account_arg(r, e, 2, &a) ? api_account_json(e, &a) : NULL;
    srv_read_end(r->srv);
    if (body) reply_json(r, 200, body);
}

/* A command on the account of the path, by whom `may` allows; the answer is the account after it. */
static void account_command(struct req *r, struct ortak_cmd *cmd,
                            bool (*may)(const struct req *, const struct ortak_engine *,
                                        const struct ortak_account_info *),
                            const char *who) {
    struct ortak_account_info a;
    const struct ortak_engine *e = srv_read_begin(r->srv);
    bool found = api_account_arg(r, e, 2, &a), allowed = found && may(r, e, &a);
    srv_read_end(r->srv);
    if (!found) return;
    if (!allowed) {
        reply_error(r, 403, "forbidden", NULL, "only %s may do this", who);
        return;
    }
    cmd->u.account.account_id = a.id;
    struct ortak_result res;
    if (api_submit1(r, cmd, &res) != ORTAK_OK) {
        reply_rc(r, res.rc, "amount");
        return;
    }
    e = srv_read_begin(r->srv);
    ortak_ledger_account_get(ortak_engine_ledger(e), a.id, &a);
    json_t *body = api_account_json(e, &a);
    srv_read_end(r->srv);
    reply_json(r, 200, body);
}

static bool may_operator(const struct req *r, const struct ortak_engine *e, const struct ortak_account_info *a) {
    (void)e;
    (void)a;
    return r->who.role == ORTAK_ROLE_OPERATOR;
}

static bool may_agent(const struct req *r, const struct ortak_engine *e, const struct ortak_account_info *a) {
    return api_is_agent(e, r->who.bic, a->currency);
}

static bool may_owner(const struct req *r, const struct ortak_engine *e, const struct ortak_account_info *a) {
    (void)e;
    return strcmp(a->bic, r->who.bic) == 0;
}

void api_post_account_close(struct req *r) {
    struct ortak_cmd cmd = {.kind = ORTAK_CMD_ACCOUNT_CLOSE};
    account_command(r, &cmd, may_operator, "the operator");
}

/* PUT credit-line, net-cap, reservation: {"amount"} in the account's currency. */
static void put_account_amount(struct req *r, uint32_t kind,
                               bool (*may)(const struct req *, const struct ortak_engine *,
                                           const struct ortak_account_info *),
                               const char *who) {
    static const char *const keys[] = {"amount", NULL};
    json_t *o = req_json(r, keys);
    if (!o) return;
    struct ortak_account_info a;
    const struct ortak_engine *e = srv_read_begin(r->srv);
    bool found = api_account_arg(r, e, 2, &a);
    uint8_t mu = found ? srv_minor_units(e, a.currency) : 2;
    srv_read_end(r->srv);
    uint64_t amount;
    bool ok = found && field_amount(r, o, "amount", mu, true, &amount);
    json_decref(o);
    if (!ok) return;
    if (amount > (uint64_t)INT64_MAX) {
        reply_rc(r, ORTAK_AMOUNT_OVERFLOW, "amount");
        return;
    }
    struct ortak_cmd cmd = {.kind = kind};
    cmd.u.account.amount = (int64_t)amount;
    account_command(r, &cmd, may, who);
}

void api_put_credit_line(struct req *r) {
    put_account_amount(r, ORTAK_CMD_CREDIT_LINE_SET, may_agent, "the central bank of the account's currency");
}
void api_put_net_cap(struct req *r) {
    put_account_amount(r, ORTAK_CMD_NET_CAP_SET, may_agent, "the central bank of the account's currency");
}
void api_put_reservation(struct req *r) {
    put_account_amount(r, ORTAK_CMD_RESERVE_SET, may_owner, "the account's owner");
}

static bool query_time(struct req *r, const char *name, ortak_time_ns *out) {
    const char *v = req_query(r, name);
    if (v && !parse_time(v, out)) {
        reply_error(r, 400, "field_invalid", name, "%s must be an RFC 3339 UTC time", name);
        return false;
    }
    return true;
}

bool api_query_u64(struct req *r, const char *name, uint64_t min, uint64_t max, uint64_t *out) {
    const char *v = req_query(r, name);
    if (!v) return true;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (!*v || *end || v[0] == '-' || n < min || n > max) {
        reply_error(r, 400, "field_invalid", name, "%s must be an integer from %llu to %llu", name,
                    (unsigned long long)min, (unsigned long long)max);
        return false;
    }
    *out = n;
    return true;
}

void api_get_history(struct req *r) {
    ortak_time_ns from = 0, to = INT64_MAX;
    uint64_t limit = 100, cursor = 0;
    if (!query_time(r, "from", &from) || !query_time(r, "to", &to) || !api_query_u64(r, "limit", 1, 1000, &limit) ||
        !api_query_u64(r, "cursor", 0, UINT64_MAX, &cursor))
        return;
    struct ortak_posting *rows = calloc(limit, sizeof *rows);
    if (!rows) {
        reply_rc(r, ORTAK_NOMEM, NULL);
        return;
    }
    struct ortak_account_info a;
    uint32_t n = 0;
    bool truncated = false;
    json_t *list = json_array();
    const struct ortak_engine *e = srv_read_begin(r->srv);
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    bool found = api_account_arg(r, e, 2, &a);
    if (found) ortak_ledger_history(l, a.id, from, to, &cursor, rows, (uint32_t)limit, &n, &truncated);
    uint8_t mu = found ? srv_minor_units(e, a.currency) : 2;
    for (uint32_t i = 0; i < n; i++) {
        struct ortak_account_info c;
        const char *cbic = ortak_ledger_account_get(l, rows[i].counterparty_account_id, &c) == ORTAK_OK ? c.bic : "";
        json_array_append_new(list,
                              json_pack("{s:I, s:o, s:o, s:o, s:s, s:o, s:o}", "seq", (json_int_t)rows[i].seq, "time",
                                        json_time(rows[i].timestamp), "transfer_id", json_id(rows[i].transfer_id),
                                        "counterparty_account", json_id(rows[i].counterparty_account_id),
                                        "counterparty", cbic, "amount", json_amount(rows[i].amount, mu),
                                        "balance_after", json_amount(rows[i].balance_after, mu)));
    }
    srv_read_end(r->srv);
    free(rows);
    if (!found) {
        json_decref(list);
        return;
    }
    char next[24];
    snprintf(next, sizeof next, "%llu", (unsigned long long)cursor);
    reply_json(r, 200,
               json_pack("{s:o, s:o, s:b}", "postings", list, "next_cursor", cursor ? json_string(next) : json_null(),
                         "truncated", truncated));
}

void api_get_queue(struct req *r) {
    enum { QUEUE_SHOWN_MAX = 1000 };
    ortak_u128 ids[QUEUE_SHOWN_MAX];
    struct ortak_account_info a;
    struct ortak_queue_info q;
    uint32_t n = 0;
    const struct ortak_engine *e = srv_read_begin(r->srv);
    bool found = api_account_arg(r, e, 2, &a);
    json_t *body = NULL;
    if (found && ortak_settle_queue(ortak_engine_settle(e), a.id, ids, QUEUE_SHOWN_MAX, &n, &q) == ORTAK_OK) {
        uint8_t mu = srv_minor_units(e, a.currency);
        json_t *list = json_array(), *by = json_object();
        for (uint32_t i = 0; i < n; i++) {
            struct ortak_payment_info p;
            if (ortak_settle_payment_get(ortak_engine_settle(e), ids[i], &p) != ORTAK_OK) continue;
            json_array_append_new(list, json_pack("{s:o, s:o, s:o, s:s, s:o}", "id", json_id(p.p.id), "uetr",
                                                  json_uetr(p.p.uetr), "amount", json_amount(p.p.amount, mu),
                                                  "priority", ortak_priority_name(p.p.priority), "received_at",
                                                  json_time(p.received_ns)));
        }
        for (uint8_t p = 0; p < ORTAK_PRIORITIES; p++)
            json_object_set_new(
                by, ortak_priority_name(p),
                json_pack("{s:i, s:o}", "count", (json_int_t)q.count[p], "value", json_amount(q.value[p], mu)));
        body = json_pack("{s:o, s:o, s:o}", "account", json_id(a.id), "by_priority", by, "payments", list);
    }
    srv_read_end(r->srv);
    if (body) reply_json(r, 200, body);
}

/* ---- liquidity --------------------------------------------------------------------------------------------- */

/* inject: the currency's issuance account -> the account; withdraw: back. The transfer's id comes from the
 * Idempotency-Key when given (a retry is then the same transfer, even after a restart), else it is random. */
static void liquidity(struct req *r, bool inject) {
    static const char *const keys[] = {"account", "amount", NULL};
    json_t *o = req_json(r, keys);
    if (!o) return;
    ortak_u128 id;
    bool ok = field_id(r, o, "account", true, &id);
    struct ortak_account_info a, issuance;
    const struct ortak_engine *e = srv_read_begin(r->srv);
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    bool found = ok && ortak_ledger_account_get(l, id, &a) == ORTAK_OK;
    bool agent = found && api_is_agent(e, r->who.bic, a.currency);
    bool has_issuance =
        agent && ortak_ledger_account_find(l, r->who.bic, a.currency, ORTAK_ACCOUNT_ISSUANCE, &issuance) == ORTAK_OK;
    uint8_t mu = found ? srv_minor_units(e, a.currency) : 2;
    srv_read_end(r->srv);
    uint64_t amount = 0;
    if (ok && !found) reply_error(r, 404, "not_found", "account", "no such account");
    ok = ok && found && field_amount(r, o, "amount", mu, false, &amount);
    json_decref(o);
    if (!ok) return;
    if (!agent || !has_issuance) {
        reply_error(r, 403, "forbidden", "account", "only the central bank of %s moves its liquidity", a.currency);
        return;
    }
    struct ortak_cmd cmd = {.kind = ORTAK_CMD_TRANSFER};
    struct ortak_transfer *t = &cmd.u.transfer;
    t->id = r->idem_key ? srv_derived_id(inject ? "inject" : "withdraw", r->who.bic, r->idem_key) : srv_random_id();
    t->debit_account_id = inject ? issuance.id : a.id;
    t->credit_account_id = inject ? a.id : issuance.id;
    t->amount = amount;
    t->code = inject ? 10 : 11;
    struct ortak_result res;
    if (api_submit1(r, &cmd, &res) != ORTAK_OK) {
        reply_rc(r, res.rc, "amount");
        return;
    }
    e = srv_read_begin(r->srv);
    ortak_ledger_account_get(ortak_engine_ledger(e), a.id, &a);
    json_t *body = json_pack("{s:o, s:o}", "transfer_id", json_id(t->id), "account", api_account_json(e, &a));
    srv_read_end(r->srv);
    reply_json(r, 200, body);
}

void api_post_inject(struct req *r) { liquidity(r, true); }
void api_post_withdraw(struct req *r) { liquidity(r, false); }

/* ---- statements -------------------------------------------------------------------------------------------- */

enum { STATEMENT_ENTRIES_MAX = 10000 };

/* The balance of an account at the end of `to`: the balance after its last posting up to then. */
static ortak_i128 balance_at(const struct ortak_ledger *l, const struct ortak_account_info *a, ortak_time_ns to) {
    uint64_t cursor = 0;
    struct ortak_posting p;
    uint32_t n;
    bool truncated;
    /* the first posting after `to`: the balance before it is the balance at `to` */
    ortak_ledger_history(l, a->id, to + 1, INT64_MAX, &cursor, &p, 1, &n, &truncated);
    return n ? p.balance_after - p.amount : a->balance;
}

void api_get_statement(struct req *r) {
    ortak_time_ns now = srv_now(), from = now - now % (86400 * ORTAK_NS_PER_S), to = now;
    if (!query_time(r, "from", &from) || !query_time(r, "to", &to)) return;
    const char *format = req_query(r, "format");
    bool xml = format && strcmp(format, "camt.053") == 0;
    if (format && !xml && strcmp(format, "json") != 0) {
        reply_error(r, 400, "field_invalid", "format", "format is json or camt.053");
        return;
    }
    struct ortak_posting *rows = calloc(STATEMENT_ENTRIES_MAX, sizeof *rows);
    struct ortak_iso_entry *entries = calloc(STATEMENT_ENTRIES_MAX, sizeof *entries);
    if (!rows || !entries) {
        free(rows);
        free(entries);
        reply_rc(r, ORTAK_NOMEM, NULL);
        return;
    }
    struct ortak_account_info a;
    uint32_t n = 0;
    bool truncated = false;
    uint64_t cursor = 0;
    const struct ortak_engine *e = srv_read_begin(r->srv);
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    bool found = api_account_arg(r, e, 2, &a);
    struct ortak_iso_report rep = {.from_ns = from, .to_ns = to};
    uint8_t mu = 2;
    if (found) {
        ortak_ledger_history(l, a.id, from, to, &cursor, rows, STATEMENT_ENTRIES_MAX, &n, &truncated);
        mu = srv_minor_units(e, a.currency);
        rep.closing_balance = balance_at(l, &a, to);
        rep.opening_balance = n ? rows[0].balance_after - rows[0].amount : rep.closing_balance;
        for (uint32_t i = 0; i < n; i++) {
            struct ortak_iso_entry *en = &entries[i];
            en->transfer_id = rows[i].transfer_id;
            en->amount = rows[i].amount;
            en->booked_ns = rows[i].timestamp;
            struct ortak_account_info c;
            if (ortak_ledger_account_get(l, rows[i].counterparty_account_id, &c) == ORTAK_OK)
                memcpy(en->counterparty_bic, c.bic, 12);
            struct ortak_payment_info p;
            if (ortak_settle_payment_get(ortak_engine_settle(e), rows[i].transfer_id, &p) == ORTAK_OK)
                en->uetr = p.p.uetr;
        }
    }
    srv_read_end(r->srv);
    free(rows);
    if (!found) {
        free(entries);
        return;
    }
    if (cursor) { /* more than one statement holds */
        free(entries);
        reply_error(r, 413, "statement_too_large", NULL,
                    "more than %d entries in the period: ask for a shorter one, or page through the history",
                    STATEMENT_ENTRIES_MAX);
        return;
    }
    rep.entry_count = n;
    rep.entries = entries;
    if (xml) {
        snprintf(rep.head.from, sizeof rep.head.from, "%s", r->srv->cfg.operator_bic);
        memcpy(rep.head.to, r->who.bic, 12);
        char hex[33];
        snprintf(rep.head.msg_id, sizeof rep.head.msg_id, "S%.16s%llu", ortak_u128_hex(a.id, hex),
                 (unsigned long long)(to / ORTAK_NS_PER_S));
        rep.head.created_ns = now;
        rep.account = (struct ortak_iso_account){.id = a.id, .minor_units = mu};
        memcpy(rep.account.owner_bic, a.bic, 12);
        memcpy(rep.account.currency, a.currency, 4);
        struct ortak_iso_buf b = {0};
        if (ortak_iso_write_camt053(&rep, &b) == ORTAK_OK && !b.failed)
            reply_text(r, 200, "application/xml", b.data, b.len);
        else
            reply_rc(r, ORTAK_NOMEM, NULL);
        ortak_iso_buf_free(&b);
        free(entries);
        return;
    }
    json_t *list = json_array();
    for (uint32_t i = 0; i < n; i++) {
        json_array_append_new(list, json_pack("{s:o, s:o, s:o, s:s, s:o}", "transfer_id",
                                              json_id(entries[i].transfer_id), "time", json_time(entries[i].booked_ns),
                                              "amount", json_amount(entries[i].amount, mu), "counterparty",
                                              entries[i].counterparty_bic, "uetr", json_uetr(entries[i].uetr)));
    }
    free(entries);
    reply_json(r, 200,
               json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:b}", "account", json_id(a.id), "currency", a.currency,
                         "from", json_time(from), "to", json_time(to), "opening_balance",
                         json_amount(rep.opening_balance, mu), "closing_balance", json_amount(rep.closing_balance, mu),
                         "entries", list, "truncated", truncated));
}
