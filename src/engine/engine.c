/*
 * The engine: applies command batches to the ledger in order, advancing engine time from the commands'
 * timestamps, and collects results and events. Deterministic: no clock, no I/O, no floating point, and no
 * allocation after ortak_engine_open (the event buffer is sized for the worst case of a batch).
 */
#include "ortak/engine.h"

#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/assert.h"
#include "fx/fx_int.h"
#include "ledger/ledger_int.h"
#include "netting/netting_int.h"
#include "settle/settle_int.h"

/* The first 16 bytes of an encoded state; the version changes whenever the encoding does. */
static const char state_magic[16] = "ortak-state-v3";

struct ortak_engine {
    struct ortak_config cfg;
    struct ortak_ledger ledger;
    struct ortak_settle settle;
    struct ortak_netting netting;
    struct ortak_fx fx;
    ortak_time_ns now;
    struct ortak_event *events;
    uint32_t events_len;
    uint32_t events_cap;
};

/*
 * Events of one batch at most: those of each command itself, plus one expiry per pending transfer that can expire
 * during the batch (those open when it starts, at most pending_max, and those it opens, at most batch_max), plus
 * what every payment can go through later in the batch (released: its transfer and its settlement; or rejected),
 * plus the gridlock resolution runs of each command (a periodic one and an operator's, each per currency), plus
 * the closes of net settlement windows: per account that sent or received in a window closed during the batch (at
 * most every account once for the windows open when the batch starts, and two per net payment of the batch) its
 * transfers, report row and cap, and per close (a periodic and an operator's per command and currency) a summary.
 */
static uint64_t events_cap_for(const struct ortak_limits *l, uint32_t currencies) {
    uint64_t per_command = ORTAK__SETTLE_EVENTS_PER_COMMAND > ORTAK__LEDGER_EVENTS_PER_COMMAND
                               ? ORTAK__SETTLE_EVENTS_PER_COMMAND
                               : ORTAK__LEDGER_EVENTS_PER_COMMAND;
    return (uint64_t)l->batch_max * per_command + l->pending_max + l->batch_max +
           (uint64_t)l->payments_max * ORTAK__SETTLE_EVENTS_PER_PAYMENT +
           (uint64_t)l->batch_max * currencies * ORTAK__SETTLE_GRIDLOCK_EVENTS_PER_CURRENCY +
           ((uint64_t)l->accounts_max + 2 * (uint64_t)l->batch_max) * ORTAK__NET_EVENTS_PER_ACCOUNT +
           (uint64_t)l->batch_max * currencies * 2;
}

ortak_rc ortak_engine_open(const struct ortak_config *cfg, struct ortak_engine **out) {
    *out = NULL;
    if (ortak_config_check(cfg, NULL, 0) != ORTAK_OK) return ORTAK_CONFIG_INVALID;
    struct ortak_engine *e = calloc(1, sizeof *e);
    if (!e) return ORTAK_NOMEM;
    e->cfg = *cfg;
    uint64_t cap = events_cap_for(&cfg->limits, cfg->currency_count);
    e->events_cap = cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
    e->events = ortak__calloc_array(e->events_cap, sizeof *e->events);
    /* Each module frees what it took when it fails, and every _free is safe on a zeroed module: close all. */
    if (!e->events || ortak__ledger_init(&e->ledger, cfg) != 0 ||
        ortak__settle_init(&e->settle, &e->ledger, cfg) != 0 ||
        ortak__netting_init(&e->netting, &e->ledger, cfg) != 0 || ortak__fx_init(&e->fx, &e->ledger, cfg) != 0) {
        ortak_engine_close(e);
        return ORTAK_NOMEM;
    }
    e->settle.netting = &e->netting;
    e->settle.fx = &e->fx;
    e->ledger.payment_ids = &e->settle.map;
    *out = e;
    return ORTAK_OK;
}

ortak_rc ortak_engine_open_state(const struct ortak_config *cfg, const void *state, size_t len,
                                 struct ortak_engine **out) {
    ortak_rc rc = ortak_engine_open(cfg, out);
    if (rc != ORTAK_OK) return rc;
    struct ortak_engine *e = *out;
    struct ortak_slice cur = {state, len};
    if (len < sizeof state_magic + 8 || memcmp(state, state_magic, sizeof state_magic) != 0) goto corrupt;
    cur.ptr += sizeof state_magic;
    cur.len -= sizeof state_magic;
    for (int i = 7; i >= 0; i--) e->now = (e->now << 8) | (unsigned char)cur.ptr[i];
    cur.ptr += 8;
    cur.len -= 8;
    if (ortak__ledger_decode(&e->ledger, &cur) != ORTAK_OK) goto corrupt;
    if (ortak__fx_decode(&e->fx, &e->ledger, &cur) != ORTAK_OK) goto corrupt;
    if (ortak__settle_decode(&e->settle, &e->ledger, &cur) != ORTAK_OK) goto corrupt;
    if (ortak__netting_decode(&e->netting, &e->settle, &e->ledger, &cur) != ORTAK_OK || cur.len != 0) goto corrupt;
    return ORTAK_OK;
corrupt:
    ortak_engine_close(e);
    *out = NULL;
    return ORTAK_CORRUPT;
}

void ortak_engine_close(struct ortak_engine *e) {
    if (!e) return;
    ortak__fx_free(&e->fx);
    ortak__netting_free(&e->netting);
    ortak__settle_free(&e->settle);
    ortak__ledger_free(&e->ledger);
    free(e->events);
    free(e);
}

static ortak_rc apply_one(struct ortak_engine *e, const struct ortak_cmd *cmd, struct ortak__out *out) {
    struct ortak_ledger *l = &e->ledger;
    struct ortak_settle *s = &e->settle;
    switch (cmd->kind) {
    case ORTAK_CMD_TICK: return ORTAK_OK;
    case ORTAK_CMD_PARTICIPANT_CREATE: return ortak__ledger_participant_create(l, &cmd->u.participant_create, out);
    case ORTAK_CMD_PARTICIPANT_SET_STATUS:
        return ortak__ledger_participant_set_status(l, &cmd->u.participant_status, out);
    case ORTAK_CMD_ACCOUNT_CREATE: return ortak__ledger_account_create(l, &cmd->u.account_create, out);
    case ORTAK_CMD_ACCOUNT_CLOSE:
        /* An account in an open net window must stay open until the close settles its position. */
        if (ortak__netting_account_busy(&e->netting, l, cmd->u.account.account_id)) return ORTAK_ACCOUNT_NOT_EMPTY;
        return ortak__ledger_account_close(l, &cmd->u.account, out);
    case ORTAK_CMD_CREDIT_LINE_SET: return ortak__ledger_credit_line_set(l, &cmd->u.account, out);
    case ORTAK_CMD_RESERVE_SET: return ortak__ledger_reserve_set(l, &cmd->u.account, out);
    case ORTAK_CMD_PAYMENT_CANCEL: return ortak__settle_cancel(s, l, &cmd->u.control, out);
    case ORTAK_CMD_PAYMENT_PRIORITY: return ortak__settle_priority(s, l, &cmd->u.control, out);
    case ORTAK_CMD_PAYMENT_MOVE: return ortak__settle_move(s, l, &cmd->u.control, out);
    case ORTAK_CMD_PAYMENT_REJECT: return ortak__settle_hold_reject(s, l, &cmd->u.control, out);
    case ORTAK_CMD_CUTOFF: return ortak__settle_cutoff(s, l, &cmd->u.cutoff, out);
    case ORTAK_CMD_GRIDLOCK: return ortak__settle_gridlock_command(s, l, &cmd->u.gridlock, out);
    case ORTAK_CMD_NET_CAP_SET: return ortak__netting_cap_set(&e->netting, l, &cmd->u.account, out);
    case ORTAK_CMD_NET_CLOSE: return ortak__netting_close_command(&e->netting, s, l, &cmd->u.net_close, out);
    case ORTAK_CMD_FX_RATE_SET: return ortak__fx_rate_set(&e->fx, l, &cmd->u.fx_rate, out);
    default: return ORTAK_COMMAND_UNKNOWN;
    }
}

/*
 * The transfer id table is large and read at random, so each lookup would wait for memory. Loading the slots of the
 * transfers a few commands ahead overlaps those waits with the work on the current command.
 */
static void prefetch_ahead(const struct ortak_ledger *l, const struct ortak_cmd *cmds, uint32_t n, uint32_t i,
                           uint32_t *next) {
    enum { AHEAD = 8 };
    for (; *next < n && *next < i + AHEAD; (*next)++) {
        if (cmds[*next].kind == ORTAK_CMD_TRANSFER) ortak__ledger_prefetch(l, &cmds[*next].u.transfer);
    }
}

/*
 * Periodic gridlock resolution runs when engine time crosses a multiple of the interval: the schedule follows from
 * engine time alone, so replay and snapshots need no state of their own for it.
 */
static bool gridlock_due(const struct ortak_settlement_config *set, ortak_time_ns before, ortak_time_ns now) {
    if (set->gridlock_interval_ms == 0) return false;
    uint64_t interval_ns = set->gridlock_interval_ms * UINT64_C(1000000);
    return now / interval_ns > before / interval_ns;
}

/*
 * What falls due when engine time moves from `before` to out->now by a schedule: net settlement windows close,
 * then gridlock resolution runs.
 */
static void periodic(struct ortak_engine *e, struct ortak__out *out, ortak_time_ns before) {
    ortak__netting_periodic(&e->netting, &e->settle, &e->ledger, before, out);
    if (!gridlock_due(&e->cfg.settlement, before, out->now)) return;
    for (uint32_t c = 0; c < e->ledger.currency_count; c++)
        ortak__settle_gridlock(&e->settle, &e->ledger, c, e->cfg.settlement.gridlock_mode, out);
    ortak__settle_release(&e->settle, &e->ledger, out);
}

ortak_rc ortak_engine_apply(struct ortak_engine *e, const struct ortak_cmd *cmds, uint32_t n,
                            struct ortak_result *results) {
    if (n > e->cfg.limits.batch_max) return ORTAK_BATCH_TOO_LARGE;
    struct ortak__out out = {.now = e->now, .events = e->events, .events_cap = e->events_cap};
    uint32_t i = 0, prefetched = 0;
    while (i < n) {
        prefetch_ahead(&e->ledger, cmds, n, i, &prefetched);
        const struct ortak_cmd *cmd = &cmds[i];
        out.cmd_index = i;
        if (cmd->timestamp >= out.now) {
            ortak_time_ns before = out.now;
            out.now = cmd->timestamp;
            ortak__ledger_expire(&e->ledger, &out);
            ortak__settle_deadlines(&e->settle, &e->ledger, &out);
            ortak__settle_release(&e->settle, &e->ledger, &out); /* expired holds free liquidity */
            periodic(e, &out, before);
        }
        if (cmd->kind == ORTAK_CMD_TRANSFER) {
            /* The chain checks each member's timestamp itself, so that a bad one fails the whole chain. */
            ortak_time_ns before = out.now;
            i = ortak__ledger_transfer_chain(&e->ledger, cmds, i, n, results, &out);
            periodic(e, &out, before); /* its members carry time forward: nothing scheduled may be skipped */
        } else {
            struct ortak_result *r = &results[i];
            *r = (struct ortak_result){.fail_index = UINT32_MAX};
            if (cmd->timestamp < out.now)
                r->rc = ORTAK_TIME_BACKWARDS;
            else if (cmd->kind == ORTAK_CMD_PAYMENT_SUBMIT)
                ortak__settle_submit(&e->settle, &e->ledger, &cmd->u.payment, &out, r);
            else if (cmd->kind == ORTAK_CMD_PAYMENT_RELEASE)
                ortak__settle_hold_release(&e->settle, &e->ledger, &cmd->u.control, &out, r);
            else if (cmd->kind == ORTAK_CMD_FX_QUOTE)
                ortak__fx_quote(&e->fx, &e->ledger, &cmd->u.fx_quote, &out, r);
            else
                r->rc = apply_one(e, cmd, &out);
            i++;
        }
        /* FIFO release: whatever the command did to raise a watched account's liquidity. */
        ortak__settle_release(&e->settle, &e->ledger, &out);
        ORTAK_DEBUG_ASSERT(e->ledger.waived == 0);
    }
    ORTAK_ASSERT(out.now >= e->now);
    e->now = out.now;
    e->events_len = out.events_len;
    return ORTAK_OK;
}

const struct ortak_event *ortak_engine_events(const struct ortak_engine *e, uint32_t *n) {
    *n = e->events_len;
    return e->events;
}

const struct ortak_ledger *ortak_engine_ledger(const struct ortak_engine *e) { return &e->ledger; }
const struct ortak_settle *ortak_engine_settle(const struct ortak_engine *e) { return &e->settle; }
const struct ortak_netting *ortak_engine_netting(const struct ortak_engine *e) { return &e->netting; }
const struct ortak_fx *ortak_engine_fx(const struct ortak_engine *e) { return &e->fx; }
const struct ortak_config *ortak_engine_config(const struct ortak_engine *e) { return &e->cfg; }
ortak_time_ns ortak_engine_now(const struct ortak_engine *e) { return e->now; }

void ortak_engine_encode(const struct ortak_engine *e, ortak_sink_fn sink, void *ctx) {
    sink(ctx, state_magic, sizeof state_magic);
    unsigned char now[8];
    for (int i = 0; i < 8; i++) now[i] = (unsigned char)(e->now >> (8 * i));
    sink(ctx, now, sizeof now);
    ortak__ledger_encode(&e->ledger, sink, ctx);
    ortak__fx_encode(&e->fx, sink, ctx);
    ortak__settle_encode(&e->settle, sink, ctx);
    ortak__netting_encode(&e->netting, sink, ctx);
}

/* Buffers the encoding's many small pieces so that SHA-256 sees large blocks. */
struct hash_sink {
    struct sha256_ctx sha;
    size_t len;
    unsigned char buf[4096];
};

static void hash_piece(void *ctx, const void *data, size_t len) {
    struct hash_sink *h = ctx;
    if (h->len + len > sizeof h->buf) {
        sha256_update(&h->sha, h->len, h->buf);
        h->len = 0;
    }
    if (len > sizeof h->buf) {
        sha256_update(&h->sha, len, data);
        return;
    }
    memcpy(h->buf + h->len, data, len);
    h->len += len;
}

void ortak_engine_state_hash(const struct ortak_engine *e, uint8_t out[32]) {
    struct hash_sink h;
    sha256_init(&h.sha);
    h.len = 0;
    ortak_engine_encode(e, hash_piece, &h);
    sha256_update(&h.sha, h.len, h.buf);
    sha256_digest(&h.sha, SHA256_DIGEST_SIZE, out);
}

size_t ortak_engine_memory_bytes(const struct ortak_engine *e) {
    return sizeof *e + (size_t)e->events_cap * sizeof *e->events + ortak__ledger_memory_bytes(&e->ledger) +
           ortak__settle_memory_bytes(&e->settle) + ortak__netting_memory_bytes(&e->netting) +
           ortak__fx_memory_bytes(&e->fx);
}
