/*
 * Endpoints: FX rates and quotes, net settlement windows, the operator's commands, outboxes; and the route table
 * (docs/api.md).
 */
#include <stdlib.h>
#include <string.h>

#include "ortak/fx.h"
#include "ortak/ledger.h"
#include "ortak/netting.h"
#include "ortak/settle.h"
#include "server.h"

/* ---- FX ---------------------------------------------------------------------------------------------------- */

/* A rate: decimal text with at most 9 decimals, as units x 10^9. */
static bool parse_rate(const char *s, uint64_t *out) {
    uint64_t whole = 0, frac = 0;
    int digits = 0, decimals = -1;
    for (const char *p = s; *p; p++) {
        if (*p == '.' && decimals < 0 && digits > 0) {
            decimals = 0;
            continue;
        }
        if (*p < '0' || *p > '9') return false;
        if (decimals >= 0) {
            if (++decimals > 9) return false;
            frac = frac * 10 + (uint64_t)(*p - '0');
        } else {
            if (++digits > 9) return false; /* 10^9 quote units per base unit at most */
            whole = whole * 10 + (uint64_t)(*p - '0');
        }
    }
    if (digits == 0 || decimals == 0) return false;
    for (int d = decimals < 0 ? 0 : decimals; d < 9; d++) frac *= 10;
    *out = whole * 1000000000u + frac;
    return *out > 0;
}

static json_t *json_rate(uint64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%llu.%09llu", (unsigned long long)(v / 1000000000u),
             (unsigned long long)(v % 1000000000u));
    return json_string(buf);
}

static bool field_rate(struct req *r, json_t *o, const char *name, uint64_t *out) {
    char buf[32];
    if (!field_str(r, o, name, true, buf, sizeof buf, NULL)) return false;
    if (!parse_rate(buf, out)) {
        reply_error(r, 400, "field_invalid", name, "%s must be a positive decimal with at most 9 decimals", name);
        return false;
    }
    return true;
}

static json_t *rate_json(const struct ortak_engine *e, const struct ortak_fx_rate *x) {
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "provider", x->provider, "base", x->base, "quote", x->quote,
                     "bid", json_rate(x->bid), "ask", json_rate(x->ask), "max_amount",
                     json_amount(x->max_amount, srv_minor_units(e, x->base)), "valid_until",
                     json_time(x->valid_until_ns));
}

static void put_rate(struct req *r) {
    static const char *const keys[] = {"base", "quote", "bid", "ask", "max_amount", "valid_until", NULL};
    json_t *o = req_json(r, keys);
    if (!o) return;
    struct ortak_cmd cmd = {.kind = ORTAK_CMD_FX_RATE_SET};
    struct ortak_fx_rate *x = &cmd.u.fx_rate;
    memcpy(x->provider, r->who.bic, 12);
    bool ok = field_currency(r, o, "base", true, x->base) && field_currency(r, o, "quote", true, x->quote) &&
              field_rate(r, o, "bid", &x->bid) && field_rate(r, o, "ask", &x->ask) &&
              field_time(r, o, "valid_until", &x->valid_until_ns);
    if (ok) {
        const struct ortak_engine *e = srv_read_begin(r->srv);
        uint8_t mu = srv_minor_units(e, x->base);
        srv_read_end(r->srv);
        ok = field_amount(r, o, "max_amount", mu, false, &x->max_amount);
    }
    json_decref(o);
    if (!ok) return;
    if (!x->valid_until_ns) x->valid_until_ns = srv_now() + (ortak_time_ns)86400 * ORTAK_NS_PER_S;
    struct ortak_result res;
    if (api_submit1(r, &cmd, &res) != ORTAK_OK) {
        reply_rc(r, res.rc, NULL);
        return;
    }
    const struct ortak_engine *e = srv_read_begin(r->srv);
    json_t *body = rate_json(e, x);
    srv_read_end(r->srv);
    reply_json(r, 200, body);
}

static void delete_rate(struct req *r) {
    struct ortak_cmd cmd = {.kind = ORTAK_CMD_FX_RATE_SET};
    struct ortak_fx_rate *x = &cmd.u.fx_rate;
    memcpy(x->provider, r->who.bic, 12);
    if (strlen(r->seg[3]) != 3 || strlen(r->seg[4]) != 3 || !ortak_iso_currency(r->seg[3], NULL) ||
        !ortak_iso_currency(r->seg[4], NULL)) {
        reply_error(r, 400, "field_invalid", "currency", "the pair is two ISO 4217 codes: /v1/fx/rates/KZT/AZN");
        return;
    }
    memcpy(x->base, r->seg[3], 4);
    memcpy(x->quote, r->seg[4], 4);
    x->withdraw = 1;
    struct ortak_result res;
    if (api_submit1(r, &cmd, &res) != ORTAK_OK) {
        reply_rc(r, res.rc, NULL);
        if (res.rc == ORTAK_FX_RATE_NOT_FOUND) r->status = 404;
        return;
    }
    reply_json(
        r, 200,
        json_pack("{s:s, s:s, s:s, s:b}", "provider", x->provider, "base", x->base, "quote", x->quote, "withdrawn", 1));
}

static void get_rates(struct req *r) {
    json_t *list = json_array();
    const struct ortak_engine *e = srv_read_begin(r->srv);
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    uint32_t np = ortak_ledger_participant_count(l), nc = ortak_ledger_currency_count(l);
    for (uint32_t i = 0; i < np; i++) {
        struct ortak_participant_info p;
        ortak_ledger_participant_at(l, i, &p);
        if (p.role != ORTAK_ROLE_FX_PROVIDER) continue;
        for (uint32_t a = 0; a < nc; a++) {
            for (uint32_t b = 0; b < nc; b++) {
                struct ortak_currency_info ca, cb;
                ortak_ledger_currency_at(l, a, &ca);
                ortak_ledger_currency_at(l, b, &cb);
                struct ortak_fx_rate x;
                if (a != b && ortak_fx_rate_get(ortak_engine_fx(e), p.bic, ca.code, cb.code, &x) == ORTAK_OK)
                    json_array_append_new(list, rate_json(e, &x));
            }
        }
    }
    srv_read_end(r->srv);
    reply_json(r, 200, json_pack("{s:o}", "rates", list));
}

static const char *quote_state_name(uint8_t s) {
    static const char *const names[] = {"unknown", "open", "used", "settled", "released", "expired"};
    return s <= ORTAK_QUOTE_STATE_EXPIRED ? names[s] : "unknown";
}

static json_t *quote_json(const struct ortak_engine *e, const struct ortak_fx_quote_info *q) {
    uint8_t ms = srv_minor_units(e, q->source), mt = srv_minor_units(e, q->target);
    return json_pack("{s:o, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:o}", "id", json_id(q->req.id),
                     "provider", q->provider, "source_currency", q->source, "target_currency", q->target,
                     "source_amount", json_amount(q->source_amount, ms), "fee_amount", json_amount(q->fee_amount, ms),
                     "target_amount", json_amount(q->target_amount, mt), "rate", json_rate(q->rate), "created_at",
                     json_time(q->created_ns), "expires_at", json_time(q->expires_ns), "state",
                     quote_state_name(q->state), "payment_id", q->payment_id ? json_id(q->payment_id) : json_null());
}

static void post_quote(struct req *r) {
    static const char *const keys[] = {
        "source_currency", "creditor_agent", "target_currency", "amount", "fixed", "ttl_s", NULL};
    json_t *o = req_json(r, keys);
    if (!o) return;
    char source[4], target[4], payee[12], fixed[8];
    struct ortak_cmd cmd = {.kind = ORTAK_CMD_FX_QUOTE};
    struct ortak_fx_quote_request *q = &cmd.u.fx_quote;
    bool ok = field_currency(r, o, "source_currency", true, source) && field_bic(r, o, "creditor_agent", true, payee) &&
              field_currency(r, o, "target_currency", true, target) &&
              field_str(r, o, "fixed", false, fixed, sizeof fixed, NULL);
    json_t *ttl = json_object_get(o, "ttl_s");
    if (ok && ttl &&
        (!json_is_integer(ttl) || json_integer_value(ttl) < 0 || json_integer_value(ttl) > ORTAK_QUOTE_TTL_S_LIMIT)) {
        reply_error(r, 400, "field_invalid", "ttl_s", "ttl_s is an integer from 0 to %u", ORTAK_QUOTE_TTL_S_LIMIT);
        ok = false;
    }
    if (ok && fixed[0] && strcmp(fixed, "source") != 0 && strcmp(fixed, "target") != 0) {
        reply_error(r, 400, "field_invalid", "fixed", "fixed is source or target");
        ok = false;
    }
    q->fixed = strcmp(fixed, "target") == 0 ? ORTAK_FX_FIXED_TARGET : ORTAK_FX_FIXED_SOURCE;
    q->ttl_s = ttl ? (uint32_t)json_integer_value(ttl) : 0;
    if (ok) {
        const struct ortak_engine *e = srv_read_begin(r->srv);
        const struct ortak_ledger *l = ortak_engine_ledger(e);
        struct ortak_account_info a, b;
        if (ortak_ledger_account_find(l, r->who.bic, source, ORTAK_ACCOUNT_SETTLEMENT, &a) != ORTAK_OK) {
            reply_no_account(r, "source_currency", r->who.bic, source);
            ok = false;
        } else if (ortak_ledger_account_find(l, payee, target, ORTAK_ACCOUNT_SETTLEMENT, &b) != ORTAK_OK) {
            reply_no_account(r, "creditor_agent", payee, target);
            ok = false;
        } else {
            q->debit_account_id = a.id;
            q->credit_account_id = b.id;
        }
        uint8_t mu = srv_minor_units(e, q->fixed == ORTAK_FX_FIXED_TARGET ? target : source);
        srv_read_end(r->srv);
        ok = ok && field_amount(r, o, "amount", mu, false, &q->amount);
    }
    json_decref(o);
    if (!ok) return;
    q->id = r->idem_key ? srv_derived_id("quote", r->who.bic, r->idem_key) : srv_random_id();
    struct ortak_result res;
    if (api_submit1(r, &cmd, &res) != ORTAK_OK) {
        reply_rc(r, res.rc, NULL);
        return;
    }
    struct ortak_fx_quote_info info;
    const struct ortak_engine *e = srv_read_begin(r->srv);
    ortak_fx_quote_get(ortak_engine_fx(e), q->id, &info);
    json_t *body = quote_json(e, &info);
    srv_read_end(r->srv);
    reply_json(r, res.flags & ORTAK_RESULT_REPLAYED ? 200 : 201, body);
}

static void get_quote(struct req *r) {
    ortak_u128 id;
    if (!parse_id(r->seg[3], &id)) {
        reply_error(r, 400, "field_invalid", "id", "a quote id is 32 lowercase hexadecimal digits");
        return;
    }
    struct ortak_fx_quote_info q;
    struct ortak_account_info a;
    json_t *body = NULL;
    const struct ortak_engine *e = srv_read_begin(r->srv);
    bool found = ortak_fx_quote_get(ortak_engine_fx(e), id, &q) == ORTAK_OK &&
                 ortak_ledger_account_get(ortak_engine_ledger(e), q.req.debit_account_id, &a) == ORTAK_OK;
    /* its payer, its provider, the operator */
    if (found &&
        (r->who.role == ORTAK_ROLE_OPERATOR || strcmp(a.bic, r->who.bic) == 0 || strcmp(q.provider, r->who.bic) == 0))
        body = quote_json(e, &q);
    srv_read_end(r->srv);
    if (body)
        reply_json(r, 200, body);
    else if (found)
        reply_error(r, 403, "forbidden", "id", "quote %s was given neither to you nor by you", r->seg[3]);
    else
        reply_error(r, 404, "not_found", "id", "no quote %s", r->seg[3]);
}

/* ---- net settlement ---------------------------------------------------------------------------------------- */

static bool currency_arg(struct req *r, const char *s) {
    if (strlen(s) == 3 && ortak_iso_currency(s, NULL)) return true;
    reply_error(r, 400, "field_invalid", "currency", "not an ISO 4217 currency code: %.8s", s);
    return false;
}

static json_t *window_json(const struct ortak_engine *e, const char *currency, const struct ortak_window_info *w) {
    uint8_t mu = srv_minor_units(e, currency);
    return json_pack("{s:s, s:I, s:s, s:o, s:o, s:i, s:i, s:o, s:o}", "currency", currency, "id", (json_int_t)w->id,
                     "state", w->state == ORTAK_WINDOW_OPEN ? "open" : "settled", "opened_at", json_time(w->opened_ns),
                     "closed_at", json_time(w->closed_ns), "payments", (json_int_t)w->payments, "participants",
                     (json_int_t)w->participants, "gross", json_amount(w->gross, mu), "moved",
                     json_amount(w->moved, mu));
}

static void get_window(struct req *r) {
    const char *cur = r->seg[3];
    uint64_t id = 0;
    if (!currency_arg(r, cur) || !api_query_u64(r, "id", 1, UINT64_MAX, &id)) return;
    struct ortak_window_info w;
    const struct ortak_engine *e = srv_read_begin(r->srv);
    ortak_rc rc = ortak_netting_window(ortak_engine_netting(e), cur, id, &w);
    json_t *body = rc == ORTAK_OK ? window_json(e, cur, &w) : NULL;
    srv_read_end(r->srv);
    if (body)
        reply_json(r, 200, body);
    else
        reply_error(r, 404, srv_rc_code(rc), "currency", "%s", ortak_rc_str(rc));
}

static void get_window_report(struct req *r) {
    const char *cur = r->seg[3];
    uint64_t id = 0;
    if (!currency_arg(r, cur) || !api_query_u64(r, "id", 1, UINT64_MAX, &id)) return;
    const struct ortak_engine *e = srv_read_begin(r->srv);
    uint32_t count = 0, cap = ortak_engine_config(e)->limits.accounts_max;
    struct ortak_window_position *rows = calloc(cap ? cap : 1, sizeof *rows);
    struct ortak_window_info w;
    ortak_rc rc = rows ? ortak_netting_window(ortak_engine_netting(e), cur, id, &w) : ORTAK_NOMEM;
    if (rc == ORTAK_OK) rc = ortak_netting_positions(ortak_engine_netting(e), cur, w.id, rows, cap, &count);
    json_t *body = NULL;
    if (rc == ORTAK_OK) {
        uint8_t mu = srv_minor_units(e, cur);
        bool all = r->who.role == ORTAK_ROLE_OPERATOR || api_is_agent(e, r->who.bic, cur);
        json_t *list = json_array();
        for (uint32_t i = 0; i < count && i < cap; i++) {
            struct ortak_account_info a;
            if (ortak_ledger_account_get(ortak_engine_ledger(e), rows[i].account_id, &a) != ORTAK_OK) continue;
            if (!all && strcmp(a.bic, r->who.bic) != 0) continue;
            json_array_append_new(
                list, json_pack("{s:s, s:o, s:i, s:i, s:o, s:o, s:o, s:o}", "bic", a.bic, "account", json_id(a.id),
                                "sent_count", (json_int_t)rows[i].sent_count, "received_count",
                                (json_int_t)rows[i].received_count, "sent", json_amount(rows[i].sent, mu), "received",
                                json_amount(rows[i].received, mu), "net", json_amount(rows[i].net, mu),
                                "from_collateral", json_amount(rows[i].from_collateral, mu)));
        }
        body = json_pack("{s:o, s:o}", "window", window_json(e, cur, &w), "positions", list);
    }
    srv_read_end(r->srv);
    free(rows);
    if (body)
        reply_json(r, 200, body);
    else
        reply_error(r, rc == ORTAK_NOMEM ? 503 : 404, srv_rc_code(rc), "currency", "%s", ortak_rc_str(rc));
}

static void post_window_close(struct req *r) {
    const char *cur = r->seg[3];
    if (!currency_arg(r, cur)) return;
    struct ortak_cmd cmd = {.kind = ORTAK_CMD_NET_CLOSE};
    memcpy(cmd.u.net_close.currency, cur, 4);
    struct ortak_result res;
    if (api_submit1(r, &cmd, &res) != ORTAK_OK) {
        reply_rc(r, res.rc, "currency");
        return;
    }
    struct ortak_window_info open, last = {0};
    const struct ortak_engine *e = srv_read_begin(r->srv);
    const struct ortak_netting *n = ortak_engine_netting(e);
    json_t *body = NULL;
    if (ortak_netting_window(n, cur, 0, &open) == ORTAK_OK && open.id > 1 &&
        ortak_netting_window(n, cur, open.id - 1, &last) == ORTAK_OK)
        body = json_pack("{s:o, s:o}", "closed", window_json(e, cur, &last), "open", window_json(e, cur, &open));
    srv_read_end(r->srv);
    if (body)
        reply_json(r, 200, body);
    else
        reply_error(r, 422, "net_window_unsettled", "currency", "%s", ortak_rc_str(ORTAK_NET_WINDOW_UNSETTLED));
}

/* ---- the operator ------------------------------------------------------------------------------------------ */

static bool parse_priority_mask(struct req *r, json_t *list, uint8_t *mask) {
    size_t i;
    json_t *v;
    *mask = 0;
    if (!list) {
        reply_error(r, 400, "field_missing", "priorities", "field 'priorities' is required");
        return false;
    }
    if (!json_is_array(list) || json_array_size(list) == 0) goto bad;
    json_array_foreach(list, i, v) {
        uint8_t p = 0;
        while (p < ORTAK_PRIORITIES &&
               (!json_is_string(v) || strcmp(json_string_value(v), ortak_priority_name(p)) != 0))
            p++;
        if (p == ORTAK_PRIORITIES) goto bad;
        *mask |= (uint8_t)(1u << p);
    }
    return true;
bad:
    reply_error(r, 400, "field_invalid", "priorities", "priorities is a list of normal, urgent, highly_urgent");
    return false;
}

static void post_cutoffs(struct req *r) {
    static const char *const keys[] = {"priorities", "open", NULL};
    json_t *o = req_json(r, keys);
    if (!o) return;
    struct ortak_cmd cmd = {.kind = ORTAK_CMD_CUTOFF};
    json_t *open = json_object_get(o, "open");
    bool ok = parse_priority_mask(r, json_object_get(o, "priorities"), &cmd.u.cutoff.priorities);
    if (ok && open && !json_is_boolean(open)) {
        reply_error(r, 400, "field_invalid", "open", "open is true or false");
        ok = false;
    }
    cmd.u.cutoff.open = open && json_is_true(open);
    json_decref(o);
    struct ortak_result res;
    if (!ok) return;
    if (api_submit1(r, &cmd, &res) != ORTAK_OK) {
        reply_rc(r, res.rc, NULL);
        return;
    }
    json_t *closed = json_array();
    const struct ortak_engine *e = srv_read_begin(r->srv);
    for (uint8_t p = 0; p < ORTAK_PRIORITIES; p++) {
        if (ortak_settle_cutoff_passed(ortak_engine_settle(e), p))
            json_array_append_new(closed, json_string(ortak_priority_name(p)));
    }
    srv_read_end(r->srv);
    reply_json(r, 200, json_pack("{s:o}", "closed", closed));
}

/* Queued payments and their value in each currency (or in `only`). */
static json_t *queues_json(struct server *s, const char *only) {
    json_t *o = json_object();
    const struct ortak_engine *e = srv_read_begin(s);
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    uint32_t nc = ortak_ledger_currency_count(l);
    for (uint32_t c = 0; c < nc; c++) {
        struct ortak_currency_info ci;
        ortak_ledger_currency_at(l, c, &ci);
        if (only && only[0] && strcmp(only, ci.code) != 0) continue;
        struct api_totals t;
        api_currency_totals(e, ci.code, &t);
        json_object_set_new(o, ci.code,
                            json_pack("{s:I, s:o}", "count", (json_int_t)t.queued, "value",
                                      json_amount(t.queued_value, ci.minor_units)));
    }
    srv_read_end(s);
    return o;
}

static void post_gridlock(struct req *r) {
    static const char *const keys[] = {"currency", "mode", NULL};
    json_t *o = req_json(r, keys);
    if (!o) return;
    struct ortak_cmd cmd = {.kind = ORTAK_CMD_GRIDLOCK};
    char mode[8];
    bool ok = field_currency(r, o, "currency", false, cmd.u.gridlock.currency) &&
              field_str(r, o, "mode", false, mode, sizeof mode, NULL);
    json_decref(o);
    if (ok && mode[0]) {
        cmd.u.gridlock.mode = strcmp(mode, "fifo") == 0     ? ORTAK_GRIDLOCK_FIFO
                              : strcmp(mode, "bypass") == 0 ? ORTAK_GRIDLOCK_BYPASS
                                                            : 0;
        if (!cmd.u.gridlock.mode) {
            reply_error(r, 400, "field_invalid", "mode", "mode is fifo or bypass");
            ok = false;
        }
    }
    if (!ok) return;
    json_t *before = queues_json(r->srv, cmd.u.gridlock.currency);
    struct ortak_result res;
    if (api_submit1(r, &cmd, &res) != ORTAK_OK) {
        json_decref(before);
        reply_rc(r, res.rc, NULL);
        return;
    }
    reply_json(
        r, 200,
        json_pack("{s:o, s:o}", "queued_before", before, "queued_after", queues_json(r->srv, cmd.u.gridlock.currency)));
}

/* The end of the business day: gridlock resolution in every currency, every net window closed, every priority cut
 * off (what is still queued is rejected), in one batch. */
static void post_close_day(struct req *r) {
    const struct ortak_config *ec = &r->srv->engine_cfg;
    uint32_t n = 0;
    struct ortak_cmd *cmds = calloc(ec->currency_count + 2, sizeof *cmds);
    struct ortak_result *res = calloc(ec->currency_count + 2, sizeof *res);
    if (!cmds || !res) {
        free(cmds);
        free(res);
        reply_rc(r, ORTAK_NOMEM, NULL);
        return;
    }
    cmds[n++].kind = ORTAK_CMD_GRIDLOCK;
    for (uint32_t i = 0; i < ec->currency_count; i++) {
        cmds[n].kind = ORTAK_CMD_NET_CLOSE;
        memcpy(cmds[n++].u.net_close.currency, ec->currencies[i].code, 4);
    }
    cmds[n].kind = ORTAK_CMD_CUTOFF;
    cmds[n++].u.cutoff.priorities = (1u << ORTAK_PRIORITIES) - 1;
    json_t *before = queues_json(r->srv, NULL);
    srv_submit(r->srv, cmds, n, res);
    json_t *windows = json_object();
    for (uint32_t i = 0; i < ec->currency_count; i++) {
        ortak_rc rc = res[1 + i].rc;
        json_object_set_new(windows, ec->currencies[i].code, json_string(rc == ORTAK_OK ? "settled" : srv_rc_code(rc)));
    }
    reply_json(r, 200,
               json_pack("{s:o, s:o, s:o, s:b}", "queued_before", before, "queued_after", queues_json(r->srv, NULL),
                         "net_windows", windows, "cut_off", res[n - 1].rc == ORTAK_OK));
    free(cmds);
    free(res);
}

/* ---- outboxes ---------------------------------------------------------------------------------------------- */

static const char *outbox_type_name(struct server *s, const struct outbox_msg *m) {
    if (m->type == OUTBOX_PACS002) return ortak_iso_type_name(ORTAK_ISO_PACS_002);
    if (m->type == OUTBOX_CAMT054) return ortak_iso_type_name(ORTAK_ISO_CAMT_054);
    struct inbound_meta meta;
    return inbound_get(s->inbound, m->payment_id, &meta, NULL, NULL) ? ortak_iso_type_name(meta.type) : "unknown";
}

/* The messages of the caller numbered above `after`, at most `limit`; false when there is none (nothing answered). */
static bool outbox_answer(struct req *r, uint64_t after, uint64_t limit, bool even_empty) {
    struct outbox_msg *msgs = calloc(limit, sizeof *msgs);
    if (!msgs) {
        reply_rc(r, ORTAK_NOMEM, NULL);
        return true;
    }
    uint64_t acked, last;
    uint32_t n = outbox_fetch(r->srv->outbox, r->who.bic, after, msgs, (uint32_t)limit, &acked, &last);
    if (n == 0 && !even_empty) {
        free(msgs);
        return false;
    }
    json_t *list = json_array();
    for (uint32_t i = 0; i < n; i++) {
        size_t len;
        char *xml = outbox_render(r->srv, &msgs[i], &len);
        json_array_append_new(list, json_pack("{s:I, s:s, s:o, s:o, s:s%}", "seq", (json_int_t)msgs[i].seq, "type",
                                              outbox_type_name(r->srv, &msgs[i]), "payment_id",
                                              json_id(msgs[i].payment_id), "created_at", json_time(msgs[i].at), "xml",
                                              xml ? xml : "", xml ? len : (size_t)0));
        free(xml);
    }
    uint64_t next = n ? msgs[n - 1].seq : after;
    free(msgs);
    reply_json(r, 200,
               json_pack("{s:o, s:I, s:I, s:I}", "messages", list, "next", (json_int_t)next, "acked", (json_int_t)acked,
                         "last", (json_int_t)last));
    return true;
}

/* A long poll: waits, holding no thread, until a message comes or its time is up. */
struct outbox_poll {
    struct outbox_waiter w;
    uint64_t limit;
};

static void outbox_poll_resumed(struct req *r) {
    struct outbox_poll *p = r->state;
    outbox_answer(r, p->w.after, p->limit, true);
}

static void get_outbox(struct req *r) {
    uint64_t after = UINT64_MAX, limit = 100, wait = 0;
    if (!api_query_u64(r, "after", 0, UINT64_MAX - 1, &after) || !api_query_u64(r, "limit", 1, 1000, &limit) ||
        !api_query_u64(r, "wait", 0, r->srv->cfg.long_poll_max_s, &wait))
        return;
    if (after == UINT64_MAX) { /* from the last acknowledged */
        uint64_t last;
        outbox_fetch(r->srv->outbox, r->who.bic, UINT64_MAX, NULL, 0, &after, &last);
    }
    if (outbox_answer(r, after, limit, wait == 0)) return;
    struct outbox_poll *p = calloc(1, sizeof *p);
    if (!p) {
        reply_rc(r, ORTAK_NOMEM, NULL);
        return;
    }
    p->w = (struct outbox_waiter){.r = r, .after = after, .deadline_ns = srv_mono_ns() + wait * 1000000000u};
    memcpy(p->w.bic, r->who.bic, 12);
    p->limit = limit;
    r->state = p;
    r->resume = outbox_poll_resumed;
    srv_suspend(r);
    if (!outbox_wait(r->srv->outbox, &p->w)) srv_resume(r); /* a message came meanwhile */
}

static void post_outbox_ack(struct req *r) {
    static const char *const keys[] = {"seq", NULL};
    json_t *o = req_json(r, keys);
    if (!o) return;
    json_t *v = json_object_get(o, "seq");
    bool ok = json_is_integer(v) && json_integer_value(v) >= 0;
    uint64_t seq = ok ? (uint64_t)json_integer_value(v) : 0;
    json_decref(o);
    if (!v) {
        reply_error(r, 400, "field_missing", "seq", "field 'seq' is required");
        return;
    }
    if (!ok) {
        reply_error(r, 400, "field_invalid", "seq", "seq is a message number");
        return;
    }
    if (outbox_ack(r->srv->outbox, r->who.bic, seq) != 0) {
        reply_error(r, 422, "seq_beyond_last", "seq", "there is no message %llu yet", (unsigned long long)seq);
        return;
    }
    reply_json(r, 200,
               json_pack("{s:I, s:I}", "acked", (json_int_t)seq, "pending",
                         (json_int_t)outbox_pending(r->srv->outbox, r->who.bic)));
}

/* ---- the routes -------------------------------------------------------------------------------------------- */

enum {
    CB = ALLOW_CENTRAL_BANK,
    OP = ALLOW_OPERATOR,
    BANK = ALLOW_BANK,
    FX = ALLOW_FX_PROVIDER,
    ANY = ALLOW_ANY,
};

const struct route srv_routes[] = {
    {"GET", "/healthz", ALLOW_NONE, api_get_healthz, NULL},
    {"GET", "/readyz", ALLOW_NONE, api_get_readyz, NULL},
    {"GET", "/metrics", OP, api_get_metrics, NULL},
    {"GET", "/v1/replication", OP, replica_get, NULL},
    {"GET", "/v1/me", ANY, api_get_me, NULL},
    {"GET", "/v1/participants", ANY, api_get_participants, NULL},
    {"POST", "/v1/participants", OP, api_post_participants, "json"},
    {"PATCH", "/v1/participants/*", OP, api_patch_participant, "json"},
    {"GET", "/v1/accounts", ANY, api_get_accounts, NULL},
    {"POST", "/v1/accounts", OP, api_post_accounts, "json"},
    {"GET", "/v1/accounts/*", ANY, api_get_account, NULL},
    {"POST", "/v1/accounts/*/close", OP, api_post_account_close, NULL},
    {"GET", "/v1/accounts/*/history", ANY, api_get_history, NULL},
    {"GET", "/v1/accounts/*/statement", ANY, api_get_statement, NULL},
    {"GET", "/v1/accounts/*/queue", ANY, api_get_queue, NULL},
    {"PUT", "/v1/accounts/*/credit-line", CB, api_put_credit_line, "json"},
    {"PUT", "/v1/accounts/*/net-cap", CB, api_put_net_cap, "json"},
    {"PUT", "/v1/accounts/*/reservation", CB | BANK | FX | OP, api_put_reservation, "json"},
    {"POST", "/v1/liquidity/inject", CB, api_post_inject, "json"},
    {"POST", "/v1/liquidity/withdraw", CB, api_post_withdraw, "json"},
    {"POST", "/v1/payments", ANY, api_post_payment, "json"},
    {"GET", "/v1/payments", ANY, api_get_payments, NULL},
    {"POST", "/v1/iso20022", CB | BANK | FX, api_post_iso, "xml"},
    {"GET", "/v1/payments/*", ANY, api_get_payment, NULL},
    {"POST", "/v1/payments/*/cancel", ANY, api_post_cancel, NULL},
    {"POST", "/v1/payments/*/priority", ANY, api_post_priority, "json"},
    {"PUT", "/v1/fx/rates", FX, put_rate, "json"},
    {"GET", "/v1/fx/rates", ANY, get_rates, NULL},
    {"DELETE", "/v1/fx/rates/*/*", FX, delete_rate, NULL},
    {"POST", "/v1/fx/quotes", CB | BANK, post_quote, "json"},
    {"GET", "/v1/fx/quotes/*", ANY, get_quote, NULL},
    {"GET", "/v1/net/windows/*", ANY, get_window, NULL},
    {"GET", "/v1/net/windows/*/report", ANY, get_window_report, NULL},
    {"POST", "/v1/net/windows/*/close", OP, post_window_close, NULL},
    {"POST", "/v1/cutoffs", OP, post_cutoffs, "json"},
    {"POST", "/v1/gridlock", OP, post_gridlock, "json"},
    {"POST", "/v1/business-day/close", OP, post_close_day, NULL},
    {"GET", "/v1/outbox", ANY, get_outbox, NULL},
    {"POST", "/v1/outbox/ack", ANY, post_outbox_ack, "json"},
    {"GET", "/v1/screening", OP | CB, screen_get_status, NULL},
    {"POST", "/v1/screening/reload", OP, screen_post_reload, NULL},
    {"GET", "/v1/screening/holds", OP | CB, screen_get_holds, NULL},
    {"POST", "/v1/screening/holds/*/release", OP, screen_post_release, NULL},
    {"POST", "/v1/screening/holds/*/reject", OP, screen_post_reject, NULL},
    /* the dashboard (dash.c): its files, and what its views poll */
    {"GET", "/", ALLOW_NONE, dash_get_root, NULL},
    {"GET", "/dashboard", ALLOW_NONE, dash_get_static, NULL},
    {"GET", "/dashboard/*", ALLOW_NONE, dash_get_static, NULL},
    {"GET", "/dashboard/*/*", ALLOW_NONE, dash_get_static, NULL},
    {"GET", "/v1/dashboard/overview", ANY, dash_get_overview, NULL},
    {"GET", "/v1/dashboard/liquidity", ANY, dash_get_liquidity, NULL},
    {"GET", "/v1/dashboard/queues", ANY, dash_get_queues, NULL},
    {"GET", "/v1/dashboard/flows", OP | CB, dash_get_flows, NULL},
    {"GET", "/v1/dashboard/payments", ANY, dash_get_payments, NULL},
    {"GET", "/v1/dashboard/payments/*", ANY, dash_get_payment, NULL},
    {"GET", "/v1/dashboard/health", OP, dash_get_health, NULL},
};
const uint32_t srv_route_count = sizeof srv_routes / sizeof srv_routes[0];
