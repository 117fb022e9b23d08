/*
 * Deferred net settlement (netting.h): admission against net debit caps, caps pledged on collateral, and the
 * close of a window, which settles every participant's multilateral net position as one all-or-nothing set of
 * transfers.
 *
 * Invariants kept here:
 *   - in every open window, the accounts' sent and received sums equal those of its accepted payments, and the
 *     sum of all net positions (received - sent) is zero;
 *   - a payer's net debit (sent - received) never exceeds its cap, and its cap never exceeds what its collateral
 *     account holds (posted balance less pending debits): the cap is that account's reservation, which no transfer
 *     but net settlement's may spend, and a close that spends collateral lowers the cap to what is left;
 *   - a close books exactly the net positions, or nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/assert.h"
#include "netting_int.h"
#include "settle/settle_int.h"

#define NONE UINT32_MAX

int ortak__netting_init(struct ortak_netting *n, const struct ortak_ledger *l, const struct ortak_config *cfg) {
    memset(n, 0, sizeof *n);
    n->ledger = l;
    n->accounts_max = cfg->limits.accounts_max;
    for (uint32_t c = 0; c < cfg->currency_count; c++) {
        n->window_ms[c] = cfg->currencies[c].net_window_ms;
        n->open[c] = (struct ortak_window_info){.id = 1, .state = ORTAK_WINDOW_OPEN};
        n->head[c] = n->tail[c] = NONE;
    }
    n->acc = ortak__calloc_array(n->accounts_max, sizeof *n->acc);
    n->rows = ortak__calloc_array(n->accounts_max, sizeof *n->rows);
    n->src = ortak__calloc_array(2 * (size_t)n->accounts_max, sizeof *n->src);
    n->dst = ortak__calloc_array(n->accounts_max, sizeof *n->dst);
    if (!n->acc || !n->rows || !n->src || !n->dst) {
        ortak__netting_free(n);
        return -1;
    }
    return 0;
}

void ortak__netting_free(struct ortak_netting *n) {
    free(n->acc);
    free(n->rows);
    free(n->src);
    free(n->dst);
    memset(n, 0, sizeof *n);
}

size_t ortak__netting_memory_bytes(const struct ortak_netting *n) {
    return (size_t)n->accounts_max * (sizeof *n->acc + sizeof *n->rows + 2 * sizeof *n->src + sizeof *n->dst);
}

/* ---- caps -------------------------------------------------------------------------------------------------- */

/* The collateral account of settlement account `a`'s participant in its currency; NONE when it has none. */
static uint32_t collateral_of(const struct ortak_ledger *l, uint32_t a) {
    const struct ldg_account *s = &l->accounts[a];
    uint32_t c;
    return ortak_idmap_get(&l->owner_map, ortak__owner_key(s->participant, s->currency, ORTAK_ACCOUNT_COLLATERAL), &c)
               ? c
               : NONE;
}

/* What a collateral account holds: its posted balance less its pending debits. */
static ortak_i128 collateral_held(const struct ldg_account *c) {
    return c->b.credits_posted - c->b.debits_posted - c->b.debits_pending;
}

static int64_t cap_of(const struct ortak_ledger *l, uint32_t a) {
    uint32_t c = collateral_of(l, a);
    return c == NONE ? 0 : l->accounts[c].reserved;
}

static ortak_i128 net_debit(const struct net_account *x) { return x->sent - x->received; }

ortak_rc ortak__netting_admit(const struct ortak_netting *n, const struct ortak_ledger *l, uint32_t dr, uint32_t cr,
                              uint64_t amount) {
    (void)cr;
    return net_debit(&n->acc[dr]) + (ortak_i128)amount <= cap_of(l, dr) ? ORTAK_OK : ORTAK_NET_CAP_EXCEEDED;
}

static void cap_event(struct ortak__out *out, ortak_u128 account, int64_t cap, int64_t old) {
    struct ortak_event *ev = ortak__event_push(out, ORTAK_EV_NET_CAP_SET);
    ev->id = account;
    ev->amount = cap;
    ev->amount_old = old;
}

ortak_rc ortak__netting_cap_set(struct ortak_netting *n, struct ortak_ledger *l, const struct ortak_account_amount *c,
                                struct ortak__out *out) {
    uint32_t a;
    ortak_rc rc = ortak__ledger_account_index(l, c->account_id, &a);
    if (rc != ORTAK_OK) return rc;
    if (l->accounts[a].kind != ORTAK_ACCOUNT_SETTLEMENT) return ORTAK_KIND_NOT_ALLOWED;
    if (c->amount < 0) return ORTAK_NEGATIVE_AMOUNT;
    uint32_t col = collateral_of(l, a);
    if (c->amount > (col == NONE ? 0 : collateral_held(&l->accounts[col]))) return ORTAK_NET_CAP_ABOVE_COLLATERAL;
    if ((ortak_i128)c->amount < net_debit(&n->acc[a])) return ORTAK_NET_CAP_IN_USE;
    int64_t old = cap_of(l, a);
    if (col != NONE) l->accounts[col].reserved = c->amount;
    cap_event(out, l->accounts[a].id, c->amount, old);
    return ORTAK_OK;
}

/* ---- the open window --------------------------------------------------------------------------------------- */

uint64_t ortak__netting_window_id(const struct ortak_netting *n, uint32_t cur) { return n->open[cur].id; }

bool ortak__netting_account_busy(const struct ortak_netting *n, const struct ortak_ledger *l, ortak_u128 id) {
    uint32_t a;
    return ortak__ledger_account_index(l, id, &a) == ORTAK_OK && n->acc[a].sent_count + n->acc[a].received_count > 0;
}

/* Adds payment x's amount to its accounts' sums and its window's totals (no list, no event). */
static void window_count(struct ortak_netting *n, const struct ortak_ledger *l, const struct stl_payment *p) {
    uint32_t cur = l->accounts[p->debit].currency;
    struct net_account *d = &n->acc[p->debit], *c = &n->acc[p->credit];
    struct ortak_window_info *w = &n->open[cur];
    if (d->sent_count + d->received_count == 0) w->participants++;
    if (c->sent_count + c->received_count == 0) w->participants++;
    d->sent += (ortak_i128)p->p.amount;
    d->sent_count++;
    c->received += (ortak_i128)p->p.amount;
    c->received_count++;
    w->payments++;
    w->gross += (ortak_i128)p->p.amount;
}

/* Appends payment x to its currency's list of the open window's payments. */
static void window_link(struct ortak_netting *n, struct ortak_settle *s, uint32_t cur, uint32_t x) {
    s->payments[x].prev = n->tail[cur];
    s->payments[x].next = NONE;
    if (n->tail[cur] != NONE)
        s->payments[n->tail[cur]].next = x;
    else
        n->head[cur] = x;
    n->tail[cur] = x;
}

void ortak__netting_add(struct ortak_netting *n, struct ortak_settle *s, const struct ortak_ledger *l, uint32_t x) {
    const struct stl_payment *p = &s->payments[x];
    ORTAK_ASSERT(p->state == ORTAK_PAYMENT_ACCEPTED && p->window == n->open[l->accounts[p->debit].currency].id);
    window_count(n, l, p);
    window_link(n, s, l->accounts[p->debit].currency, x);
}

/* ---- the close --------------------------------------------------------------------------------------------- */

/* The id of the k-th transfer of window `w` of currency `cur`: in the system's id space (ledger_int.h). */
static ortak_u128 close_transfer_id(uint32_t cur, uint64_t w, uint32_t k) {
    return ORTAK__SYSTEM_ID_PREFIX | (ortak_u128)cur << 96 | (ortak_u128)w << 32 | k;
}

static bool account_usable(const struct ortak_ledger *l, uint32_t a) {
    return l->accounts[a].status == ORTAK_ACCOUNT_STATUS_ACTIVE;
}

/*
 * Plans the close of currency `cur`'s window: its rows (accounts that sent or received, in account order), the
 * sources (each debtor's settlement account as far as its available liquidity without reservation goes, then its
 * collateral account) and the sinks (each creditor's settlement account). Returns ORTAK_OK, or
 * ORTAK_NET_WINDOW_UNSETTLED when an account it must book on is closed or the transfer table has no room.
 */
static ortak_rc close_plan(struct ortak_netting *n, const struct ortak_ledger *l, uint32_t cur, uint32_t *nrows,
                           uint32_t *nsrc, uint32_t *ndst, ortak_i128 *moved) {
    *nrows = *nsrc = *ndst = 0;
    *moved = 0;
    ortak_i128 credits = 0;
    for (uint32_t a = 0; a < l->account_count; a++) {
        const struct net_account *x = &n->acc[a];
        if (l->accounts[a].currency != cur || x->sent_count + x->received_count == 0) continue;
        n->rows[(*nrows)++] = a;
        ortak_i128 net = x->received - x->sent;
        if (net == 0) continue;
        if (net > 0) {
            if (!account_usable(l, a)) return ORTAK_NET_WINDOW_UNSETTLED; /* a creditor must be able to receive */
            /* A creditor's net credit is at most the sum of the debtors' debits, each within an int64 cap. */
            for (ortak_i128 left = net; left > 0; left -= INT64_MAX) {
                n->dst[(*ndst)++] =
                    (struct net_leg){.account = a, .amount = left > INT64_MAX ? INT64_MAX : (int64_t)left};
                ORTAK_ASSERT(*ndst <= n->accounts_max);
            }
            credits += net;
            continue;
        }
        int64_t debit = (int64_t)-net; /* at most the cap, an int64 */
        /* A debtor whose settlement account was closed (empty) since pays all from its collateral. */
        ortak_i128 avail = account_usable(l, a) ? ortak__ledger_available(l, a, false) : 0;
        int64_t own = avail <= 0 ? 0 : avail >= debit ? debit : (int64_t)avail;
        if (own > 0) n->src[(*nsrc)++] = (struct net_leg){.account = a, .debtor = a, .amount = own};
        if (own < debit) {
            uint32_t col = collateral_of(l, a);
            ORTAK_ASSERT(col != NONE && collateral_held(&l->accounts[col]) >= debit - own); /* the cap's pledge */
            if (!account_usable(l, col)) return ORTAK_NET_WINDOW_UNSETTLED;
            n->src[(*nsrc)++] =
                (struct net_leg){.account = col, .debtor = a, .amount = debit - own, .collateral = true};
        }
        *moved += debit;
    }
    ORTAK_ASSERT(credits == *moved); /* net positions sum to zero */
    uint64_t room = l->limits.transfers_max - l->transfer_count;
    if (*nsrc + *ndst > room + 1) return ORTAK_NET_WINDOW_UNSETTLED; /* at most sources + sinks - 1 transfers */
    return ORTAK_OK;
}

/* Books the plan: sources pay sinks in order, each transfer the smaller of what the two have left. */
static void close_book(struct ortak_ledger *l, uint32_t cur, uint64_t w, uint32_t nsrc, struct net_leg *src,
                       uint32_t ndst, struct net_leg *dst, struct ortak__out *out) {
    uint32_t i = 0, j = 0, k = 0;
    ortak__ledger_waive(l, LDG_WAIVE_STATUS | LDG_WAIVE_SYSTEM_ID);
    while (i < nsrc && j < ndst) {
        int64_t amount = src[i].amount < dst[j].amount ? src[i].amount : dst[j].amount;
        struct ortak_transfer t = {
            .id = close_transfer_id(cur, w, k++),
            .debit_account_id = l->accounts[src[i].account].id,
            .credit_account_id = l->accounts[dst[j].account].id,
            .user_data = w,
            .amount = (uint64_t)amount,
            .flags = src[i].collateral ? ORTAK_TRANSFER_USE_RESERVED : 0,
            .code = 2, /* net settlement */
        };
        ortak_rc rc = ortak__ledger_transfer_book(l, &t, out);
        ORTAK_ASSERT(rc == ORTAK_OK); /* planned: every source within what it holds, every account open */
        src[i].amount -= amount;
        dst[j].amount -= amount;
        if (src[i].amount == 0) i++;
        if (dst[j].amount == 0) j++;
    }
    ortak__ledger_waive(l, 0);
    ORTAK_ASSERT(i == nsrc && j == ndst);
}

/*
 * Closes and settles currency `cur`'s open window, or refuses (ORTAK_NET_WINDOW_UNSETTLED, with an event saying so,
 * and the window stays open). Then the next window opens.
 */
static ortak_rc window_close(struct ortak_netting *n, struct ortak_settle *s, struct ortak_ledger *l, uint32_t cur,
                             struct ortak__out *out) {
    struct ortak_window_info *w = &n->open[cur];
    uint32_t nrows, nsrc, ndst;
    ortak_i128 moved;
    ortak_rc rc = close_plan(n, l, cur, &nrows, &nsrc, &ndst, &moved);
    if (rc != ORTAK_OK) {
        struct ortak_event *ev = ortak__event_push(out, ORTAK_EV_NET_WINDOW);
        ev->id = l->currencies[cur].cfg.numeric;
        ev->amount = -1;
        ev->status = (uint32_t)rc;
        return rc;
    }
    /* Before booking: what each debtor's collateral pays, for its row. */
    for (uint32_t k = 0; k < nrows; k++) n->acc[n->rows[k]].last = (struct ortak_window_position){0};
    for (uint32_t k = 0; k < nsrc; k++) {
        if (n->src[k].collateral) n->acc[n->src[k].debtor].last.from_collateral = n->src[k].amount;
    }
    close_book(l, cur, w->id, nsrc, n->src, ndst, n->dst, out);
    /* Collateral spent: the cap cannot exceed what is left of it. */
    for (uint32_t k = 0; k < nrows; k++) {
        uint32_t a = n->rows[k], col;
        if (n->acc[a].last.from_collateral == 0 || (col = collateral_of(l, a)) == NONE) continue;
        int64_t old = l->accounts[col].reserved;
        ortak_i128 held = collateral_held(&l->accounts[col]);
        if (held < old) {
            l->accounts[col].reserved = held < 0 ? 0 : (int64_t)held;
            cap_event(out, l->accounts[a].id, l->accounts[col].reserved, old);
        }
    }
    /* The payments settle; each row becomes the last report and the sums start again. */
    for (uint32_t x = n->head[cur]; x != NONE;) {
        uint32_t next = s->payments[x].next;
        s->payments[x].prev = s->payments[x].next = NONE;
        ortak__settle_payment_end(s, l, x, ORTAK_PAYMENT_SETTLED, ORTAK_OK, out);
        x = next;
    }
    n->head[cur] = n->tail[cur] = NONE;
    for (uint32_t k = 0; k < nrows; k++) {
        uint32_t a = n->rows[k];
        struct net_account *x = &n->acc[a];
        x->last = (struct ortak_window_position){
            .account_id = l->accounts[a].id,
            .sent_count = x->sent_count,
            .received_count = x->received_count,
            .sent = x->sent,
            .received = x->received,
            .net = x->received - x->sent,
            .from_collateral = x->last.from_collateral,
        };
        x->last_window = w->id;
        x->sent = x->received = 0;
        x->sent_count = x->received_count = 0;
        struct ortak_event *ev = ortak__event_push(out, ORTAK_EV_NET_POSITION);
        ev->id = x->last.account_id;
        ev->ref = (ortak_u128)x->last.sent;
        ev->credit_account_id = (ortak_u128)x->last.received;
        ev->amount = x->last.from_collateral;
        ev->status = (uint32_t)w->id;
    }
    struct ortak_event *ev = ortak__event_push(out, ORTAK_EV_NET_WINDOW);
    ev->id = l->currencies[cur].cfg.numeric;
    ev->status = (uint32_t)w->id;
    ev->amount = w->payments;
    ev->amount_old = w->participants;
    ev->ref = (ortak_u128)moved;
    n->last[cur] = *w;
    n->last[cur].state = ORTAK_WINDOW_SETTLED;
    n->last[cur].closed_ns = out->now;
    n->last[cur].moved = moved;
    *w = (struct ortak_window_info){.id = w->id + 1, .state = ORTAK_WINDOW_OPEN, .opened_ns = out->now};
    return ORTAK_OK;
}

ortak_rc ortak__netting_close_command(struct ortak_netting *n, struct ortak_settle *s, struct ortak_ledger *l,
                                      const struct ortak_net_close *c, struct ortak__out *out) {
    if (!memchr(c->currency, '\0', sizeof c->currency)) return ORTAK_CURRENCY_UNKNOWN;
    int cur = ortak__ledger_currency_index(l, c->currency);
    if (cur < 0) return ORTAK_CURRENCY_UNKNOWN;
    return window_close(n, s, l, (uint32_t)cur, out);
}

void ortak__netting_periodic(struct ortak_netting *n, struct ortak_settle *s, struct ortak_ledger *l,
                             ortak_time_ns before, struct ortak__out *out) {
    for (uint32_t c = 0; c < l->currency_count; c++) {
        if (n->window_ms[c] == 0 || n->open[c].payments == 0) continue; /* an empty window just goes on */
        uint64_t every_ns = n->window_ms[c] * UINT64_C(1000000);
        if (out->now / every_ns > before / every_ns) window_close(n, s, l, c, out);
    }
}
