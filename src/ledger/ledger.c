/*
 * Ledger: storage, participants, accounts, credit lines, reservations and queries. Transfers, pending transfers,
 * linked chains and history live in transfer.c; the canonical encoding and its decoder in codec.c.
 *
 * Invariants kept here: every account belongs to an existing participant and a configured currency; at most one
 * account per (participant, currency, kind); only a currency's settlement agent holds its issuance account; a
 * credit line is never lowered below what the account draws on it.
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "ledger_int.h"

int ortak__ledger_currency_index(const struct ortak_ledger *l, const char *code) {
    for (uint32_t i = 0; i < l->currency_count; i++) {
        if (strncmp(l->currencies[i].cfg.code, code, 4) == 0) return (int)i;
    }
    return -1;
}

int ortak__ledger_init(struct ortak_ledger *l, const struct ortak_config *cfg) {
    memset(l, 0, sizeof *l);
    const struct ortak_limits *lim = &cfg->limits;
    l->limits = *lim;
    l->currency_count = cfg->currency_count;
    for (uint32_t i = 0; i < cfg->currency_count; i++) {
        l->currencies[i].cfg = cfg->currencies[i];
        l->currencies[i].agent = -1;
    }
    l->participants = ortak__calloc_array(lim->participants_max, sizeof *l->participants);
    l->participant_status = ortak__calloc_array(lim->participants_max, sizeof *l->participant_status);
    l->accounts = ortak__calloc_array(lim->accounts_max, sizeof *l->accounts);
    l->transfers = ortak__calloc_array(lim->transfers_max, sizeof *l->transfers);
    l->heap = ortak__calloc_array(lim->pending_max, sizeof *l->heap);
    uint64_t history_slots = 1;
    while (history_slots < lim->history_max) history_slots <<= 1;
    l->history_mask = history_slots - 1;
    l->history = ortak__calloc_array(history_slots, sizeof *l->history);
    l->undo = ortak__calloc_array(LDG_CHAIN_MAX(lim), sizeof *l->undo);
    l->staged = ortak__calloc_array((size_t)LDG_CHAIN_MAX(lim) * 2, sizeof *l->staged);
    l->watch = ortak__calloc_array(lim->accounts_max, sizeof *l->watch);
    l->rose = ortak__calloc_array(lim->accounts_max, sizeof *l->rose);
    if (!l->participants || !l->participant_status || !l->accounts || !l->transfers || !l->heap || !l->history ||
        !l->undo || !l->staged || !l->watch || !l->rose)
        goto fail;
    if (ortak_idmap_init(&l->bic_map, lim->participants_max, cfg->hash_seed) != 0) goto fail;
    if (ortak_idmap_init(&l->account_map, lim->accounts_max, cfg->hash_seed) != 0) goto fail;
    if (ortak_idmap_init(&l->owner_map, lim->accounts_max, cfg->hash_seed) != 0) goto fail;
    if (ortak_idmap_init(&l->transfer_map, lim->transfers_max, cfg->hash_seed) != 0) goto fail;
    if (ortak_pool_init(&l->pending_pool, sizeof(struct ldg_pending), lim->pending_max) != 0) goto fail;
    return 0;
fail:
    ortak__ledger_free(l);
    return -1;
}

void ortak__ledger_free(struct ortak_ledger *l) {
    free(l->participants);
    free(l->participant_status);
    free(l->accounts);
    free(l->transfers);
    free(l->heap);
    free(l->history);
    free(l->undo);
    free(l->staged);
    free(l->watch);
    free(l->rose);
    ortak_idmap_free(&l->bic_map);
    ortak_idmap_free(&l->account_map);
    ortak_idmap_free(&l->owner_map);
    ortak_idmap_free(&l->transfer_map);
    ortak_pool_free(&l->pending_pool);
    memset(l, 0, sizeof *l);
}

size_t ortak__ledger_memory_bytes(const struct ortak_ledger *l) {
    const struct ortak_limits *m = &l->limits;
    size_t map_slot = sizeof(struct ortak_idmap_slot);
    return (size_t)m->participants_max * (sizeof *l->participants + sizeof *l->participant_status) +
           (size_t)m->accounts_max * sizeof *l->accounts + (size_t)m->transfers_max * sizeof *l->transfers +
           (size_t)m->pending_max * sizeof *l->heap + ((size_t)l->history_mask + 1) * sizeof *l->history +
           (size_t)LDG_CHAIN_MAX(m) * sizeof *l->undo + (size_t)LDG_CHAIN_MAX(m) * 2 * sizeof *l->staged +
           (size_t)m->accounts_max * (sizeof *l->watch + sizeof *l->rose) +
           ((size_t)l->bic_map.mask + 1 + (size_t)l->account_map.mask + 1 + (size_t)l->owner_map.mask + 1 +
            (size_t)l->transfer_map.mask + 1) *
               map_slot +
           (size_t)m->pending_max * (sizeof(struct ldg_pending) + sizeof(uint32_t));
}

struct ortak_event *ortak__event_push(struct ortak__out *out, uint32_t kind) {
    /* The engine sizes the buffer for the worst case of a batch; running out is a bug, not an input error. */
    ORTAK_ASSERT(out->events_len < out->events_cap);
    struct ortak_event *ev = &out->events[out->events_len++];
    memset(ev, 0, sizeof *ev);
    ev->timestamp = out->now;
    ev->kind = kind;
    ev->command_index = out->cmd_index;
    return ev;
}

/* ---- participants ------------------------------------------------------------------------------------------ */

bool ortak__name_valid(const char *name) {
    size_t len = strnlen(name, ORTAK_NAME_LEN_LIMIT + 1);
    if (len == 0 || len > ORTAK_NAME_LEN_LIMIT) return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f) return false;
    }
    return true;
}

static int participant_index(const struct ortak_ledger *l, const char *bic) {
    uint32_t idx;
    if (!ortak_bic_valid(bic)) return -2;
    if (!ortak_idmap_get(&l->bic_map, ortak__bic_key(bic), &idx)) return -1;
    return (int)idx;
}

static ortak_rc participant_lookup(const struct ortak_ledger *l, const char *bic, uint32_t *idx) {
    int i = participant_index(l, bic);
    if (i == -2) return ORTAK_BIC_INVALID;
    if (i < 0) return ORTAK_PARTICIPANT_NOT_FOUND;
    *idx = (uint32_t)i;
    return ORTAK_OK;
}

static void event_bic(struct ortak_event *ev, const char *bic) { ev->id = ortak__bic_key(bic); }

ortak_rc ortak__ledger_participant_create(struct ortak_ledger *l, const struct ortak_participant_create *c,
                                          struct ortak__out *out) {
    if (!ortak_bic_valid(c->bic)) return ORTAK_BIC_INVALID;
    if (!ortak__name_valid(c->name)) return ORTAK_NAME_INVALID;
    char country[3] = {c->country[0], c->country[1], '\0'};
    if (country[0] == '\0') {
        country[0] = c->bic[4];
        country[1] = c->bic[5];
    } else if (c->country[2] != '\0' || !ortak_country_valid(country)) {
        return ORTAK_COUNTRY_INVALID;
    }
    if (c->role < ORTAK_ROLE_OPERATOR || c->role > ORTAK_ROLE_FX_PROVIDER) return ORTAK_ROLE_INVALID;
    uint32_t existing;
    if (ortak_idmap_get(&l->bic_map, ortak__bic_key(c->bic), &existing)) return ORTAK_PARTICIPANT_EXISTS;
    if (l->participant_count >= l->limits.participants_max) return ORTAK_PARTICIPANTS_FULL;

    uint32_t idx = l->participant_count++;
    struct ldg_participant *p = &l->participants[idx];
    memset(p, 0, sizeof *p);
    memcpy(p->bic, c->bic, strnlen(c->bic, 11));
    memcpy(p->name, c->name, strnlen(c->name, ORTAK_NAME_LEN_LIMIT));
    memcpy(p->country, country, 2);
    p->role = c->role;
    l->participant_status[idx] = ORTAK_PARTICIPANT_ACTIVE;
    int rc = ortak_idmap_put(&l->bic_map, ortak__bic_key(p->bic), idx);
    ORTAK_ASSERT(rc == 0);
    if (p->role == ORTAK_ROLE_CENTRAL_BANK) {
        for (uint32_t i = 0; i < l->currency_count; i++) {
            if (ortak__bic_key(l->currencies[i].cfg.agent_bic) == ortak__bic_key(p->bic))
                l->currencies[i].agent = (int32_t)idx;
        }
    }
    struct ortak_event *ev = ortak__event_push(out, ORTAK_EV_PARTICIPANT_CREATED);
    event_bic(ev, p->bic);
    ev->status = l->participant_status[idx];
    return ORTAK_OK;
}

ortak_rc ortak__ledger_participant_set_status(struct ortak_ledger *l, const struct ortak_participant_set_status *c,
                                              struct ortak__out *out) {
    uint32_t idx;
    ortak_rc rc = participant_lookup(l, c->bic, &idx);
    if (rc != ORTAK_OK) return rc;
    struct ldg_participant *p = &l->participants[idx];
    if (c->status < ORTAK_PARTICIPANT_ACTIVE || c->status > ORTAK_PARTICIPANT_CLOSED) return ORTAK_STATUS_INVALID;
    if (l->participant_status[idx] == ORTAK_PARTICIPANT_CLOSED) return ORTAK_STATUS_INVALID; /* closing is final */
    l->participant_status[idx] = c->status;
    if (c->status == ORTAK_PARTICIPANT_ACTIVE) {
        /*
         * Queued payments it sends, and those others send it (a queue's head waits while its payee is suspended),
         * may settle again: report every watched account as if its liquidity rose. Reactivations are rare; the
         * release that follows stops at each head that still cannot go.
         */
        for (uint32_t a = 0; a < l->account_count; a++) ortak__ledger_note_rise(l, a);
    }
    struct ortak_event *ev = ortak__event_push(out, ORTAK_EV_PARTICIPANT_STATUS);
    event_bic(ev, p->bic);
    ev->status = l->participant_status[idx];
    return ORTAK_OK;
}

/* ---- accounts ---------------------------------------------------------------------------------------------- */

ortak_u128 ortak__owner_key(uint32_t participant, uint32_t currency, uint32_t kind) {
    return ((ortak_u128)1 << 120) | ((ortak_u128)participant << 16) | ((ortak_u128)currency << 8) | kind;
}

static bool id_valid(ortak_u128 id) { return id != 0 && id != ORTAK_U128_MAX; }

ortak_rc ortak__ledger_account_create(struct ortak_ledger *l, const struct ortak_account_create *c,
                                      struct ortak__out *out) {
    if (!id_valid(c->id)) return ORTAK_ACCOUNT_ID_INVALID;
    if (c->kind < ORTAK_ACCOUNT_SETTLEMENT || c->kind > ORTAK_ACCOUNT_ISSUANCE) return ORTAK_ACCOUNT_KIND_INVALID;
    uint32_t pidx;
    ortak_rc rc = participant_lookup(l, c->bic, &pidx);
    if (rc != ORTAK_OK) return rc;
    int cur = ortak__ledger_currency_index(l, c->currency);
    if (cur < 0) return ORTAK_CURRENCY_UNKNOWN;

    uint32_t existing;
    if (ortak_idmap_get(&l->account_map, c->id, &existing)) {
        const struct ldg_account *a = &l->accounts[existing];
        bool same = a->participant == pidx && a->currency == (uint16_t)cur && a->kind == c->kind;
        return same ? ORTAK_ACCOUNT_EXISTS : ORTAK_ACCOUNT_EXISTS_DIFFERENT;
    }
    if (l->participant_status[pidx] != ORTAK_PARTICIPANT_ACTIVE) return ORTAK_PARTICIPANT_NOT_ACTIVE;
    if (c->kind == ORTAK_ACCOUNT_ISSUANCE && l->currencies[cur].agent != (int32_t)pidx) return ORTAK_ISSUANCE_NOT_AGENT;
    ortak_u128 okey = ortak__owner_key(pidx, (uint32_t)cur, c->kind);
    if (ortak_idmap_get(&l->owner_map, okey, &existing)) return ORTAK_ACCOUNT_KIND_TAKEN;
    if (l->account_count >= l->limits.accounts_max) return ORTAK_ACCOUNTS_FULL;

    uint32_t idx = l->account_count++;
    struct ldg_account *a = &l->accounts[idx];
    memset(a, 0, sizeof *a);
    a->id = c->id;
    a->participant = pidx;
    a->currency = (uint16_t)cur;
    a->kind = c->kind;
    a->status = ORTAK_ACCOUNT_STATUS_ACTIVE;
    int put1 = ortak_idmap_put(&l->account_map, a->id, idx);
    int put2 = ortak_idmap_put(&l->owner_map, okey, idx);
    ORTAK_ASSERT(put1 == 0 && put2 == 0);
    struct ortak_event *ev = ortak__event_push(out, ORTAK_EV_ACCOUNT_CREATED);
    ev->id = a->id;
    return ORTAK_OK;
}

static ortak_rc account_lookup(const struct ortak_ledger *l, ortak_u128 id, uint32_t *idx) {
    if (!id_valid(id)) return ORTAK_ACCOUNT_ID_INVALID;
    if (!ortak_idmap_get(&l->account_map, id, idx)) return ORTAK_ACCOUNT_NOT_FOUND;
    return ORTAK_OK;
}

ortak_rc ortak__ledger_account_close(struct ortak_ledger *l, const struct ortak_account_amount *c,
                                     struct ortak__out *out) {
    uint32_t idx;
    ortak_rc rc = account_lookup(l, c->account_id, &idx);
    if (rc != ORTAK_OK) return rc;
    struct ldg_account *a = &l->accounts[idx];
    if (a->status != ORTAK_ACCOUNT_STATUS_ACTIVE) return ORTAK_ACCOUNT_CLOSED;
    if (a->b.credits_posted != a->b.debits_posted || a->b.debits_pending != 0 || a->b.credits_pending != 0 ||
        a->credit_line != 0 || a->reserved != 0)
        return ORTAK_ACCOUNT_NOT_EMPTY;
    a->status = ORTAK_ACCOUNT_STATUS_CLOSED;
    struct ortak_event *ev = ortak__event_push(out, ORTAK_EV_ACCOUNT_CLOSED);
    ev->id = a->id;
    return ORTAK_OK;
}

/* Common checks for credit-line and reservation changes: a live settlement account and a non-negative amount. */
static ortak_rc settlement_account_for_change(struct ortak_ledger *l, const struct ortak_account_amount *c,
                                              struct ldg_account **out) {
    uint32_t idx;
    ortak_rc rc = account_lookup(l, c->account_id, &idx);
    if (rc != ORTAK_OK) return rc;
    struct ldg_account *a = &l->accounts[idx];
    if (a->status != ORTAK_ACCOUNT_STATUS_ACTIVE) return ORTAK_ACCOUNT_CLOSED;
    if (a->kind != ORTAK_ACCOUNT_SETTLEMENT) return ORTAK_KIND_NOT_ALLOWED;
    if (c->amount < 0) return ORTAK_NEGATIVE_AMOUNT;
    *out = a;
    return ORTAK_OK;
}

static void amount_event(struct ortak__out *out, uint32_t kind, ortak_u128 id, int64_t now, int64_t old) {
    struct ortak_event *ev = ortak__event_push(out, kind);
    ev->id = id;
    ev->amount = now;
    ev->amount_old = old;
}

ortak_rc ortak__ledger_credit_line_set(struct ortak_ledger *l, const struct ortak_account_amount *c,
                                       struct ortak__out *out) {
    struct ldg_account *a;
    ortak_rc rc = settlement_account_for_change(l, c, &a);
    if (rc != ORTAK_OK) return rc;
    /* The floor (balance - debits_pending + credit_line >= 0) must still hold under the new line. */
    ortak_i128 own = a->b.credits_posted - a->b.debits_posted - a->b.debits_pending;
    if (own + c->amount < 0) return ORTAK_CREDIT_LINE_IN_USE;
    int64_t old = a->credit_line;
    a->credit_line = c->amount;
    if (c->amount > old) ortak__ledger_note_rise(l, (uint32_t)(a - l->accounts));
    amount_event(out, ORTAK_EV_CREDIT_LINE_SET, a->id, a->credit_line, old);
    return ORTAK_OK;
}

ortak_rc ortak__ledger_reserve_set(struct ortak_ledger *l, const struct ortak_account_amount *c,
                                   struct ortak__out *out) {
    struct ldg_account *a;
    ortak_rc rc = settlement_account_for_change(l, c, &a);
    if (rc != ORTAK_OK) return rc;
    /* A reservation may exceed the liquidity there is: it then fills as liquidity arrives. */
    int64_t old = a->reserved;
    a->reserved = c->amount;
    if (c->amount < old) ortak__ledger_note_rise(l, (uint32_t)(a - l->accounts)); /* normal payments see more */
    amount_event(out, ORTAK_EV_RESERVE_SET, a->id, a->reserved, old);
    return ORTAK_OK;
}

/* ---- queries ----------------------------------------------------------------------------------------------- */

uint32_t ortak_ledger_currency_count(const struct ortak_ledger *l) { return l->currency_count; }

void ortak_ledger_currency_at(const struct ortak_ledger *l, uint32_t i, struct ortak_currency_info *out) {
    ORTAK_ASSERT(i < l->currency_count);
    const struct ldg_currency *c = &l->currencies[i];
    memset(out, 0, sizeof *out);
    memcpy(out->code, c->cfg.code, sizeof out->code);
    out->numeric = c->cfg.numeric;
    out->minor_units = c->cfg.minor_units;
    memcpy(out->agent_bic, c->cfg.agent_bic, sizeof out->agent_bic);
    out->agent = c->agent;
}

ortak_rc ortak_ledger_currency_get(const struct ortak_ledger *l, const char *code, struct ortak_currency_info *out) {
    int i = ortak__ledger_currency_index(l, code);
    if (i < 0) return ORTAK_CURRENCY_UNKNOWN;
    ortak_ledger_currency_at(l, (uint32_t)i, out);
    return ORTAK_OK;
}

uint32_t ortak_ledger_participant_count(const struct ortak_ledger *l) { return l->participant_count; }

void ortak_ledger_participant_at(const struct ortak_ledger *l, uint32_t i, struct ortak_participant_info *out) {
    ORTAK_ASSERT(i < l->participant_count);
    const struct ldg_participant *p = &l->participants[i];
    memset(out, 0, sizeof *out);
    memcpy(out->bic, p->bic, sizeof out->bic);
    memcpy(out->name, p->name, sizeof out->name);
    memcpy(out->country, p->country, sizeof out->country);
    out->role = p->role;
    out->status = l->participant_status[i];
    out->index = i;
}

ortak_rc ortak_ledger_participant_get(const struct ortak_ledger *l, const char *bic,
                                      struct ortak_participant_info *out) {
    uint32_t idx;
    ortak_rc rc = participant_lookup(l, bic, &idx);
    if (rc == ORTAK_OK) ortak_ledger_participant_at(l, idx, out);
    return rc;
}

uint32_t ortak_ledger_account_count(const struct ortak_ledger *l) { return l->account_count; }

void ortak_ledger_account_at(const struct ortak_ledger *l, uint32_t i, struct ortak_account_info *out) {
    ORTAK_ASSERT(i < l->account_count);
    const struct ldg_account *a = &l->accounts[i];
    memset(out, 0, sizeof *out);
    out->id = a->id;
    memcpy(out->bic, l->participants[a->participant].bic, sizeof out->bic);
    memcpy(out->currency, l->currencies[a->currency].cfg.code, sizeof out->currency);
    out->kind = a->kind;
    out->status = a->status;
    out->debits_posted = a->b.debits_posted;
    out->credits_posted = a->b.credits_posted;
    out->debits_pending = a->b.debits_pending;
    out->credits_pending = a->b.credits_pending;
    out->credit_line = a->credit_line;
    out->reserved = a->reserved;
    out->balance = a->b.credits_posted - a->b.debits_posted;
    out->available = out->balance - a->b.debits_pending + a->credit_line - a->reserved;
    out->pending_count = a->pending_count;
}

ortak_rc ortak_ledger_account_get(const struct ortak_ledger *l, ortak_u128 id, struct ortak_account_info *out) {
    uint32_t idx;
    if (!ortak_idmap_get(&l->account_map, id, &idx)) return ORTAK_ACCOUNT_NOT_FOUND;
    ortak_ledger_account_at(l, idx, out);
    return ORTAK_OK;
}

ortak_rc ortak_ledger_account_find(const struct ortak_ledger *l, const char *bic, const char *currency, uint8_t kind,
                                   struct ortak_account_info *out) {
    uint32_t pidx, idx;
    ortak_rc rc = participant_lookup(l, bic, &pidx);
    if (rc != ORTAK_OK) return rc;
    int cur = ortak__ledger_currency_index(l, currency);
    if (cur < 0) return ORTAK_CURRENCY_UNKNOWN;
    if (!ortak_idmap_get(&l->owner_map, ortak__owner_key(pidx, (uint32_t)cur, kind), &idx))
        return ORTAK_ACCOUNT_NOT_FOUND;
    ortak_ledger_account_at(l, idx, out);
    return ORTAK_OK;
}
