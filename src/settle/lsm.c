/*
 * Gridlock resolution: instance checks, the FIFO solver and the bypass heuristic (the exact solver is in
 * lsm_exact.c). See lsm.h for the problem and docs/settlement.md for the algorithms and measured quality.
 *
 * Invariants of the bypass search state (checked by ORTAK_DEBUG_ASSERT in debug builds):
 *   - pos[i] is balance[i] plus what the selection pays to i minus what it takes from i, exactly (128-bit);
 *   - value and count are the selection's sum and size;
 *   - bits has the bit of a slot set exactly when the slot's payment is selected;
 *   - the order rule: every payment before a selected order-keeping payment is selected, so the selected
 *     order-keeping payments of a payer are a prefix of its nb list, of length nb_sel;
 *   - outside repair, every position is >= 0.
 * A bypassable payment queued before the last selected order-keeping payment of its payer is *blocked*: it
 * cannot be dropped alone. Every other selected payment can, except order-keeping ones other than the last.
 */
#include "lsm.h"

#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/rng.h"

#define NONE UINT32_MAX
/* Seed of the perturbation sequence: fixed, so that answers are reproducible (digits of pi). */
#define LSM_SEED UINT64_C(0x243f6a8885a308d3)
/* Payments forced into the selection by one perturbation. */
#define LSM_KICK_SIZE 3u
/* The search walks on from worse local optima, returning to the best one every this many rounds. */
#define LSM_WALK_ROUNDS 8u
/* Bypassable payments examined on each side of the best fit when a participant must drop one. */
#define LSM_DROP_CANDIDATES 8u
/* Weight of a unit of deficit against a unit of value when repair scores a step (see step_score). */
#define LSM_DEFICIT_WEIGHT_NUM 2
#define LSM_DEFICIT_WEIGHT_DEN 1
#define LSM_STUCK_WEIGHT 4
/* Debug builds recompute the whole search state after each move on instances up to this size. */
#define LSM_DEBUG_CHECK_MAX 256u

/* ---- workspace ------------------------------------------------------------------------------------------ */

struct carver {
    unsigned char *base; /* NULL while measuring */
    size_t used;
};

/* Reserves count * size bytes aligned to 16 (the alignment of ortak_i128). Counts are bounded by the limits. */
static void *carve(struct carver *c, size_t count, size_t size) {
    size_t start = (c->used + 15u) & ~(size_t)15u;
    c->used = start + count * size;
    return c->base ? c->base + start : NULL;
}

static void workspace_carve(struct ortak_lsm_workspace *ws, struct carver *c) {
    size_t m = ws->payments_max, n = ws->participants_max;
    ws->q_start = carve(c, n + 1, sizeof(uint32_t));
    ws->q_pay = carve(c, m, sizeof(uint32_t));
    ws->qpos = carve(c, m, sizeof(uint32_t));
    ws->nb_start = carve(c, n + 1, sizeof(uint32_t));
    ws->nb_pay = carve(c, m, sizeof(uint32_t));
    ws->nb_sel = carve(c, n, sizeof(uint32_t));
    ws->cursor = carve(c, n, sizeof(uint32_t));
    ws->s_start = carve(c, n + 1, sizeof(uint32_t));
    ws->s_val = carve(c, m, sizeof(int64_t));
    ws->s_pay = carve(c, m, sizeof(uint32_t));
    ws->slot_of = carve(c, m, sizeof(uint32_t));
    ws->order = carve(c, m, sizeof(uint32_t));
    ws->bits = carve(c, (m + 63) / 64, sizeof(uint64_t));
    ws->sel = carve(c, m, 1);
    ws->best = carve(c, m, 1);
    ws->pos = carve(c, n, sizeof(ortak_i128));
    ws->out_sel = carve(c, n, sizeof(ortak_i128));
    ws->neg_ring = carve(c, n, sizeof(uint32_t));
    ws->add_ring = carve(c, n, sizeof(uint32_t));
    ws->neg_in = carve(c, n, 1);
    ws->add_in = carve(c, n, 1);
    ws->r_start = carve(c, n + 1, sizeof(uint32_t));
    ws->r_pay = carve(c, m, sizeof(uint32_t));
    ws->stamp = carve(c, m, sizeof(uint32_t));
    ws->undo_cap = 3 * (uint32_t)m + 2;
    ws->undo = carve(c, ws->undo_cap, sizeof(uint32_t));
}

ortak_rc ortak_lsm_workspace_init(struct ortak_lsm_workspace *ws, uint32_t payments_max, uint32_t participants_max) {
    memset(ws, 0, sizeof *ws);
    if (payments_max == 0 || payments_max > ORTAK_LSM_PAYMENTS_LIMIT) return ORTAK_INVALID;
    if (participants_max == 0 || participants_max > ORTAK_LSM_PARTICIPANTS_LIMIT) return ORTAK_INVALID;
    ws->payments_max = payments_max;
    ws->participants_max = participants_max;
    struct carver c = {NULL, 0};
    workspace_carve(ws, &c);
    /* Zeroed, so that the in-ring flags start clear; the other arrays are written before they are read. */
    c = (struct carver){calloc(1, c.used), 0};
    if (!c.base) {
        memset(ws, 0, sizeof *ws);
        return ORTAK_NOMEM;
    }
    ws->block = c.base;
    workspace_carve(ws, &c);
    ws->block_bytes = c.used;
    return ORTAK_OK;
}

void ortak_lsm_workspace_free(struct ortak_lsm_workspace *ws) {
    free(ws->block);
    memset(ws, 0, sizeof *ws);
}

/* ---- checks --------------------------------------------------------------------------------------------- */

static ortak_rc payment_check(const struct ortak_lsm_payment *p, uint32_t n) {
    if (p->payer >= n || p->payee >= n) return ORTAK_INVALID;
    if (p->payer == p->payee) return ORTAK_SAME_ACCOUNT;
    if (p->value == 0) return ORTAK_AMOUNT_ZERO;
    if (p->value < 0) return ORTAK_NEGATIVE_AMOUNT;
    if (p->flags & ~ORTAK_LSM_MAY_BYPASS) return ORTAK_INVALID;
    return ORTAK_OK;
}

ortak_rc ortak_lsm_instance_check(const struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in) {
    if (!in) return ORTAK_INVALID;
    uint32_t n = in->participant_count, m = in->payment_count;
    if ((n && !in->balance) || (m && !in->payments)) return ORTAK_INVALID;
    if (ws && (n > ws->participants_max || m > ws->payments_max)) return ORTAK_INVALID;
    if (n > ORTAK_LSM_PARTICIPANTS_LIMIT || m > ORTAK_LSM_PAYMENTS_LIMIT) return ORTAK_INVALID;
    for (uint32_t i = 0; i < n; i++) {
        if (in->balance[i] < 0) return ORTAK_NEGATIVE_AMOUNT;
    }
    for (uint32_t j = 0; j < m; j++) {
        ortak_rc rc = payment_check(&in->payments[j], n);
        if (rc != ORTAK_OK) return rc;
    }
    return ORTAK_OK;
}

static bool keeps_order(const struct ortak_lsm_payment *p, enum ortak_lsm_order order) {
    return order == ORTAK_LSM_ORDER_FIFO || !(p->flags & ORTAK_LSM_MAY_BYPASS);
}

ortak_rc ortak_lsm_verify(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in,
                          enum ortak_lsm_order order, const uint8_t *selected, ortak_i128 *value) {
    if (!ws || !selected) return ORTAK_INVALID;
    ortak_rc rc = ortak_lsm_instance_check(ws, in);
    if (rc != ORTAK_OK) return rc;
    uint8_t *gap = ws->neg_in; /* borrowed; every in-ring flag is clear between calls */
    ortak_i128 sum = 0;
    for (uint32_t i = 0; i < in->participant_count; i++) ws->pos[i] = in->balance[i];
    rc = ORTAK_OK;
    for (uint32_t j = 0; j < in->payment_count; j++) {
        const struct ortak_lsm_payment *p = &in->payments[j];
        if (!selected[j]) {
            gap[p->payer] = 1;
            continue;
        }
        if (gap[p->payer] && keeps_order(p, order)) rc = ORTAK_INVALID;
        ws->pos[p->payer] -= p->value;
        ws->pos[p->payee] += p->value;
        sum += p->value;
    }
    for (uint32_t i = 0; i < in->participant_count; i++) {
        if (rc == ORTAK_OK && ws->pos[i] < 0) rc = ORTAK_INSUFFICIENT_FUNDS;
        gap[i] = 0;
    }
    if (value) *value = sum;
    return rc;
}

/* ---- layout: queues, order-keeping lists, value-sorted slots ------------------------------------------- */

/* Builds q_start, q_pay and qpos by counting sort on the payer: O(payments + participants). */
static void layout_queues(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in) {
    uint32_t n = in->participant_count, m = in->payment_count;
    ws->n = n;
    ws->m = m;
    ORTAK_ASSERT(ws->neg_len == 0 && ws->add_len == 0); /* every call leaves the rings empty */
    ws->neg_head = ws->add_head = 0;                    /* a head from a larger instance may lie beyond n */
    memset(ws->q_start, 0, (size_t)(n + 1) * sizeof *ws->q_start);
    for (uint32_t j = 0; j < m; j++) ws->q_start[in->payments[j].payer + 1]++;
    for (uint32_t i = 0; i < n; i++) {
        ws->q_start[i + 1] += ws->q_start[i];
        ws->cursor[i] = ws->q_start[i];
    }
    for (uint32_t j = 0; j < m; j++) {
        uint32_t a = in->payments[j].payer, k = ws->cursor[a]++;
        ws->q_pay[k] = j;
        ws->qpos[j] = k - ws->q_start[a];
    }
}

/* Payment index order for sorting: by value (ascending, or descending when `desc`), then by index. */
static bool sorts_before(const struct ortak_lsm_payment *p, uint32_t x, uint32_t y, bool desc) {
    if (p[x].value != p[y].value) return desc ? p[x].value > p[y].value : p[x].value < p[y].value;
    return x < y;
}

static void sift_down(uint32_t *idx, uint32_t root, uint32_t len, const struct ortak_lsm_payment *p, bool desc) {
    for (uint32_t depth = 0; depth < 32; depth++) { /* the root index at least doubles each step */
        uint32_t child = 2 * root + 1;
        if (child >= len) return;
        if (child + 1 < len && sorts_before(p, idx[child], idx[child + 1], desc)) child++;
        if (!sorts_before(p, idx[root], idx[child], desc)) return;
        uint32_t t = idx[root];
        idx[root] = idx[child];
        idx[child] = t;
        root = child;
    }
}

/* Heapsort: O(len log len), in place, no recursion; keys are unique (index breaks ties), so it is stable. */
static void sort_payments(uint32_t *idx, uint32_t len, const struct ortak_lsm_payment *p, bool desc) {
    for (uint32_t i = len / 2; i-- > 0;) sift_down(idx, i, len, p, desc);
    for (uint32_t end = len; end-- > 1;) {
        uint32_t t = idx[0];
        idx[0] = idx[end];
        idx[end] = t;
        sift_down(idx, 0, end, p, desc);
    }
}

/* Fills nb_start/nb_pay (order-keeping payments in queue order) and s_start/s_pay (bypassable ones). */
static void layout_split(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in,
                         enum ortak_lsm_order order) {
    uint32_t n = ws->n, m = ws->m;
    memset(ws->nb_start, 0, (size_t)(n + 1) * sizeof *ws->nb_start);
    memset(ws->s_start, 0, (size_t)(n + 1) * sizeof *ws->s_start);
    for (uint32_t j = 0; j < m; j++) {
        const struct ortak_lsm_payment *p = &in->payments[j];
        if (keeps_order(p, order))
            ws->nb_start[p->payer + 1]++;
        else
            ws->s_start[p->payer + 1]++;
    }
    for (uint32_t i = 0; i < n; i++) {
        ws->nb_start[i + 1] += ws->nb_start[i];
        ws->s_start[i + 1] += ws->s_start[i];
        ws->cursor[i] = ws->nb_start[i];
        ws->add_ring[i] = ws->s_start[i]; /* borrowed as the second cursor; the ring is empty */
    }
    for (uint32_t j = 0; j < m; j++) {
        const struct ortak_lsm_payment *p = &in->payments[j];
        if (keeps_order(p, order))
            ws->nb_pay[ws->cursor[p->payer]++] = j;
        else
            ws->s_pay[ws->add_ring[p->payer]++] = j;
    }
}

/* Builds r_start and r_pay, each participant's incoming payments, by counting sort on the payee. */
static void layout_incoming(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in) {
    memset(ws->r_start, 0, (size_t)(ws->n + 1) * sizeof *ws->r_start);
    for (uint32_t j = 0; j < ws->m; j++) ws->r_start[in->payments[j].payee + 1]++;
    for (uint32_t i = 0; i < ws->n; i++) {
        ws->r_start[i + 1] += ws->r_start[i];
        ws->cursor[i] = ws->r_start[i];
    }
    for (uint32_t j = 0; j < ws->m; j++) ws->r_pay[ws->cursor[in->payments[j].payee]++] = j;
}

/* Full layout for bypass and repair: queues, split, slots sorted by value within each payer, move order. */
static void layout_bypass(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in,
                          enum ortak_lsm_order order) {
    layout_queues(ws, in);
    layout_split(ws, in, order);
    for (uint32_t a = 0; a < ws->n; a++) {
        uint32_t lo = ws->s_start[a];
        sort_payments(ws->s_pay + lo, ws->s_start[a + 1] - lo, in->payments, false);
    }
    for (uint32_t j = 0; j < ws->m; j++) {
        ws->slot_of[j] = NONE;
        ws->order[j] = j;
    }
    for (uint32_t s = 0; s < ws->s_start[ws->n]; s++) {
        ws->s_val[s] = in->payments[ws->s_pay[s]].value;
        ws->slot_of[ws->s_pay[s]] = s;
    }
    sort_payments(ws->order, ws->m, in->payments, true);
    layout_incoming(ws, in);
    ws->work += (uint64_t)ws->m * 8u + ws->n;
}

/* ---- worklists: FIFO rings of participants with membership flags, so each is in a ring at most once ---- */

static void ring_push(uint32_t *ring, uint8_t *in_ring, uint32_t head, uint32_t *len, uint32_t n, uint32_t a) {
    if (in_ring[a]) return;
    ORTAK_ASSERT(*len < n);
    uint32_t k = head + *len;
    ring[k >= n ? k - n : k] = a;
    in_ring[a] = 1;
    (*len)++;
}

static uint32_t ring_pop(uint32_t *ring, uint8_t *in_ring, uint32_t *head, uint32_t *len, uint32_t n) {
    ORTAK_ASSERT(*len > 0);
    uint32_t a = ring[*head];
    *head = *head + 1 == n ? 0 : *head + 1;
    (*len)--;
    in_ring[a] = 0;
    return a;
}

static void push_neg(struct ortak_lsm_workspace *ws, uint32_t a) {
    ring_push(ws->neg_ring, ws->neg_in, ws->neg_head, &ws->neg_len, ws->n, a);
}
static void push_add(struct ortak_lsm_workspace *ws, uint32_t a) {
    ring_push(ws->add_ring, ws->add_in, ws->add_head, &ws->add_len, ws->n, a);
}

/* Empties both rings (after a move was cut short by the budget). */
static void rings_clear(struct ortak_lsm_workspace *ws) {
    while (ws->neg_len) ring_pop(ws->neg_ring, ws->neg_in, &ws->neg_head, &ws->neg_len, ws->n);
    while (ws->add_len) ring_pop(ws->add_ring, ws->add_in, &ws->add_head, &ws->add_len, ws->n);
}

/* ---- FIFO ------------------------------------------------------------------------------------------------ */

/*
 * The FIFO optimum into `sel`. A payment dropped here is the last of a payer whose position is negative even
 * with every payment still selected: its position can only fall as more are dropped, so no feasible selection
 * that keeps queue order contains that payment. Hence the result contains every feasible selection.
 */
static void fifo_core(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in, uint8_t *sel) {
    uint32_t n = ws->n, m = ws->m, dropped = 0;
    for (uint32_t i = 0; i < n; i++) {
        ws->pos[i] = in->balance[i];
        ws->cursor[i] = ws->q_start[i + 1]; /* end of the selected prefix of i's queue */
    }
    for (uint32_t j = 0; j < m; j++) {
        ws->pos[in->payments[j].payer] -= in->payments[j].value;
        ws->pos[in->payments[j].payee] += in->payments[j].value;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (ws->pos[i] < 0) push_neg(ws, i);
    }
    while (ws->neg_len > 0) {
        uint32_t a = ring_pop(ws->neg_ring, ws->neg_in, &ws->neg_head, &ws->neg_len, n);
        while (ws->pos[a] < 0) {
            /* With nothing left to pay, a's position is its balance plus credits: never negative. */
            ORTAK_ASSERT(ws->cursor[a] > ws->q_start[a] && dropped < m);
            const struct ortak_lsm_payment *p = &in->payments[ws->q_pay[--ws->cursor[a]]];
            dropped++;
            ws->pos[a] += p->value;
            ws->pos[p->payee] -= p->value;
            if (ws->pos[p->payee] < 0) push_neg(ws, p->payee);
        }
    }
    for (uint32_t a = 0; a < n; a++) {
        for (uint32_t k = ws->q_start[a]; k < ws->q_start[a + 1]; k++) sel[ws->q_pay[k]] = k < ws->cursor[a];
    }
}

static void result_fill(const struct ortak_lsm_instance *in, const uint8_t *sel, struct ortak_lsm_result *out) {
    out->count = 0;
    out->value = 0;
    for (uint32_t j = 0; j < in->payment_count; j++) {
        out->selected[j] = sel[j] ? 1 : 0;
        out->count += out->selected[j];
        if (sel[j]) out->value += in->payments[j].value;
    }
}

ortak_rc ortak_lsm_fifo(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in,
                        struct ortak_lsm_result *out) {
    if (!ws || !out || (!out->selected && in && in->payment_count)) return ORTAK_INVALID;
    ortak_rc rc = ortak_lsm_instance_check(ws, in);
    if (rc != ORTAK_OK) return rc;
    layout_queues(ws, in);
    fifo_core(ws, in, out->selected);
    result_fill(in, out->selected, out);
    ORTAK_DEBUG_ASSERT(ortak_lsm_verify(ws, in, ORTAK_LSM_ORDER_FIFO, out->selected, NULL) == ORTAK_OK);
    return ORTAK_OK;
}

/* ---- bypass: search state ------------------------------------------------------------------------------ */

static void bit_flip(uint64_t *bits, uint32_t s) { bits[s >> 6] ^= UINT64_C(1) << (s & 63u); }

/* First slot in [lo, hi) whose bit is `want`, or hi. One work unit per word. */
static uint32_t bits_next(struct ortak_lsm_workspace *ws, uint32_t lo, uint32_t hi, bool want) {
    if (lo >= hi) return hi;
    uint64_t flip = want ? 0 : ~UINT64_C(0);
    uint32_t last = (hi - 1) >> 6;
    uint64_t word = (ws->bits[lo >> 6] ^ flip) & (~UINT64_C(0) << (lo & 63u));
    for (uint32_t w = lo >> 6; w <= last; w++) {
        ws->work++;
        if (w != lo >> 6) word = ws->bits[w] ^ flip;
        if (word) {
            uint32_t s = w * 64 + (uint32_t)__builtin_ctzll(word);
            return s < hi ? s : hi;
        }
    }
    return hi;
}

/* Last slot in [lo, hi) whose bit is `want`, or NONE. One work unit per word. */
static uint32_t bits_prev(struct ortak_lsm_workspace *ws, uint32_t lo, uint32_t hi, bool want) {
    if (lo >= hi) return NONE;
    uint64_t flip = want ? 0 : ~UINT64_C(0);
    uint32_t first = lo >> 6, top = (hi - 1) >> 6;
    uint64_t word = (ws->bits[top] ^ flip) & (~UINT64_C(0) >> (63u - ((hi - 1) & 63u)));
    for (uint32_t w = top + 1; w-- > first;) {
        ws->work++;
        if (w != top) word = ws->bits[w] ^ flip;
        if (word) {
            uint32_t s = w * 64 + 63u - (uint32_t)__builtin_clzll(word);
            return s >= lo ? s : NONE;
        }
    }
    return NONE;
}

/* First slot of payer a whose value is >= v (strict: > v), by binary search; the slot end when none. */
static uint32_t slot_bound(struct ortak_lsm_workspace *ws, uint32_t a, ortak_i128 v, bool strict) {
    uint32_t lo = ws->s_start[a], hi = ws->s_start[a + 1];
    ws->work++;
    for (uint32_t step = 0; step < 32 && lo < hi; step++) {
        uint32_t mid = lo + (hi - lo) / 2;
        bool below = strict ? ws->s_val[mid] <= v : ws->s_val[mid] < v;
        if (below)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* During a move, a payment that already changed side stays there until the move ends (see move_begin). */
static bool frozen(const struct ortak_lsm_workspace *ws, uint32_t j) {
    return ws->marking && ws->stamp[j] == ws->epoch;
}

/* Selects (add) or deselects payment j, keeping positions, bits, nb_sel, value and count; logs it for undo. */
static void flip(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in, uint32_t j, bool add) {
    const struct ortak_lsm_payment *p = &in->payments[j];
    ORTAK_ASSERT(ws->sel[j] == !add);
    ws->sel[j] = add;
    ortak_i128 v = add ? p->value : -(ortak_i128)p->value;
    ws->pos[p->payer] -= v;
    ws->pos[p->payee] += v;
    ws->out_sel[p->payer] += v;
    ws->value += v;
    ws->count = add ? ws->count + 1 : ws->count - 1;
    if (ws->slot_of[j] != NONE) {
        bit_flip(ws->bits, ws->slot_of[j]);
    } else { /* order-keeping payments come and go at the end of the selected prefix */
        uint32_t *k = &ws->nb_sel[p->payer], at = ws->nb_start[p->payer] + *k;
        if (add)
            ORTAK_ASSERT(at < ws->nb_start[p->payer + 1] && ws->nb_pay[at] == j);
        else
            ORTAK_ASSERT(*k > 0 && ws->nb_pay[at - 1] == j);
        *k = add ? *k + 1 : *k - 1;
    }
    ORTAK_ASSERT(ws->undo_len < ws->undo_cap);
    ws->undo[ws->undo_len++] = j;
    ws->stamp[j] = ws->epoch;
    ws->work++;
}

/* Undoes every flip logged, newest first, which restores the state exactly (integer arithmetic). */
static void rollback(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in) {
    while (ws->undo_len > 0) {
        uint32_t j = ws->undo[ws->undo_len - 1];
        flip(ws, in, j, !ws->sel[j]);
        ws->undo_len -= 2; /* the undoing flip logged itself too */
    }
}

/*
 * Makes `sel` (NULL: every payment) the current selection and recomputes positions, bits, nb_sel, value and
 * count: O(m + n). Selected order-keeping payments must already be a prefix of their payer's nb list.
 */
static void state_load(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in, const uint8_t *sel) {
    ws->value = 0;
    ws->count = 0;
    memset(ws->bits, 0, (size_t)((ws->m + 63) / 64) * sizeof *ws->bits);
    for (uint32_t i = 0; i < ws->n; i++) {
        ws->pos[i] = in->balance[i];
        ws->out_sel[i] = 0;
        ws->nb_sel[i] = 0;
    }
    memset(ws->sel, 0, ws->m);
    for (uint32_t j = 0; j < ws->m; j++) {
        if (!sel || sel[j]) flip(ws, in, j, true);
    }
    ws->undo_len = 0;
    ws->work += ws->m + ws->n;
}

/* The last selected order-keeping payment of payer a, or NONE. */
static uint32_t nb_last(const struct ortak_lsm_workspace *ws, uint32_t a) {
    return ws->nb_sel[a] ? ws->nb_pay[ws->nb_start[a] + ws->nb_sel[a] - 1] : NONE;
}

/* The next order-keeping payment of payer a if every payment queued before it is selected, else NONE. */
static uint32_t nb_next(struct ortak_lsm_workspace *ws, uint32_t a) {
    if (ws->nb_start[a] + ws->nb_sel[a] >= ws->nb_start[a + 1]) return NONE;
    uint32_t j = ws->nb_pay[ws->nb_start[a] + ws->nb_sel[a]], prev = nb_last(ws, a);
    /* Payments before `prev` are all selected (order rule); check the bypassable ones between. */
    uint32_t from = ws->q_start[a] + (prev == NONE ? 0 : ws->qpos[prev] + 1);
    for (uint32_t k = from; k < ws->q_start[a] + ws->qpos[j]; k++) {
        ws->work++;
        if (!ws->sel[ws->q_pay[k]]) return NONE;
    }
    return j;
}

/* A selected payment whose removal alone keeps the order rule (see the file comment). */
static bool droppable(const struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in, uint32_t j) {
    if (!ws->sel[j]) return false;
    uint32_t last = nb_last(ws, in->payments[j].payer);
    if (ws->slot_of[j] == NONE) return j == last;
    return last == NONE || ws->qpos[j] > ws->qpos[last];
}

/* An excluded payment whose addition alone keeps the order rule. */
static bool addable(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in, uint32_t j) {
    if (ws->sel[j]) return false;
    return ws->slot_of[j] != NONE || nb_next(ws, in->payments[j].payer) == j;
}

/* ---- bypass: the two repair primitives and growth -------------------------------------------------------- */

/* How far position x is below zero. */
static ortak_i128 deficit(ortak_i128 x) { return x < 0 ? -x : 0; }

/* A drop candidate's slot is usable: not frozen, and not queued before a selected order-keeping payment. */
static bool slot_droppable(const struct ortak_lsm_workspace *ws, uint32_t s, uint32_t floor_q) {
    return !frozen(ws, ws->s_pay[s]) && ws->qpos[ws->s_pay[s]] >= floor_q;
}

/*
 * The score of one repair step for a participant short by d: its change of value plus LSM_DEFICIT_WEIGHT times
 * the deficit it covers there minus the deficit it creates at the other end (the payee of a dropped payment,
 * the payer of a pulled one). Higher is better. A unit of deficit left behind costs at least a unit of value to
 * clear later, and usually more, since payments are indivisible; hence a weight above 1.
 */
static ortak_i128 step_score(const struct ortak_lsm_workspace *ws, const struct ortak_lsm_payment *p, ortak_i128 d,
                             bool pull) {
    uint32_t o = pull ? p->payer : p->payee;
    ortak_i128 v = p->value, other = ws->pos[o], reserve = other + ws->out_sel[o];
    ortak_i128 created = deficit(other - v) - deficit(other), covered = v < d ? v : d;
    /* The part that even dropping everything the other end pays cannot cover: only pulls could, if anything. */
    ortak_i128 stuck = deficit(reserve - v) - deficit(reserve);
    return (pull ? v : -v) * LSM_DEFICIT_WEIGHT_DEN + LSM_DEFICIT_WEIGHT_NUM * (covered - created) -
           LSM_STUCK_WEIGHT * LSM_DEFICIT_WEIGHT_DEN * stuck;
}

/* The best repair step seen so far: a payment, whether it is pulled (else dropped), and its score. */
struct step {
    uint32_t j;
    bool pull;
    ortak_i128 score;
};

/* Keeps candidate j if it scores higher (on a tie: the larger value, which covers more). */
static void step_consider(const struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in, uint32_t j,
                          ortak_i128 d, bool pull, struct step *best) {
    ortak_i128 score = step_score(ws, &in->payments[j], d, pull);
    bool better = best->j == NONE || score > best->score ||
                  (score == best->score && in->payments[j].value > in->payments[best->j].value);
    if (better) *best = (struct step){j, pull, score};
}

/*
 * Drop candidates of payer a short by d: its last selected order-keeping payment, and the LSM_DROP_CANDIDATES
 * droppable bypassable payments on either side of the smallest one that covers d (best fit).
 */
static void consider_drops(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in, uint32_t a,
                           ortak_i128 d, struct step *best) {
    uint32_t lo = ws->s_start[a], hi = ws->s_start[a + 1], last = nb_last(ws, a);
    uint32_t floor_q = last == NONE ? 0 : ws->qpos[last] + 1, fit = slot_bound(ws, a, d, false), k = 0;
    if (last != NONE && !frozen(ws, last)) step_consider(ws, in, last, d, false, best);
    for (uint32_t s = bits_next(ws, fit, hi, true); s < hi && k < LSM_DROP_CANDIDATES;
         s = bits_next(ws, s + 1, hi, true)) {
        if (!slot_droppable(ws, s, floor_q)) continue;
        step_consider(ws, in, ws->s_pay[s], d, false, best);
        k++;
    }
    k = 0;
    for (uint32_t s = bits_prev(ws, lo, fit, true); s != NONE && k < LSM_DROP_CANDIDATES;
         s = bits_prev(ws, lo, s, true)) {
        if (!slot_droppable(ws, s, floor_q)) continue;
        step_consider(ws, in, ws->s_pay[s], d, false, best);
        k++;
    }
}

/* Pull candidates of participant a: every excluded, unfrozen, addable payment to it. */
static void consider_pulls(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in, uint32_t a,
                           ortak_i128 d, struct step *best) {
    for (uint32_t k = ws->r_start[a]; k < ws->r_start[a + 1]; k++) {
        uint32_t j = ws->r_pay[k];
        ws->work++;
        if (!ws->sel[j] && !frozen(ws, j) && addable(ws, in, j)) step_consider(ws, in, j, d, true, best);
    }
}

/* The payment payer a adds next: the largest excluded, unfrozen one that its position covers, or NONE. */
static uint32_t pick_add(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in, uint32_t a) {
    ortak_i128 p = ws->pos[a];
    if (p <= 0) return NONE;
    uint32_t lo = ws->s_start[a], jb = NONE, jn = nb_next(ws, a);
    uint32_t top = slot_bound(ws, a, p, true);
    for (uint32_t s = bits_prev(ws, lo, top, false); s != NONE; s = bits_prev(ws, lo, s, false)) {
        if (!frozen(ws, ws->s_pay[s])) {
            jb = ws->s_pay[s];
            break;
        }
    }
    if (jn != NONE && (frozen(ws, jn) || in->payments[jn].value > p)) jn = NONE;
    if (jb == NONE || jn == NONE) return jb == NONE ? jn : jb;
    return in->payments[jb].value > in->payments[jn].value ? jb : jn;
}

/*
 * One step for participant a in deficit: the best-scoring of dropping one of its payments and (when the move
 * allows pulls) adding one paid to it. False when nothing can change (a move froze it all).
 */
static bool repair_step(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in, uint32_t a) {
    ortak_i128 d = -ws->pos[a];
    struct step best = {NONE, false, 0};
    consider_drops(ws, in, a, d, &best);
    if (ws->pulls) consider_pulls(ws, in, a, d, &best);
    if (best.j == NONE) return false;
    const struct ortak_lsm_payment *p = &in->payments[best.j];
    flip(ws, in, best.j, best.pull);
    if (best.pull) {
        if (ws->pos[p->payer] < 0) push_neg(ws, p->payer);
    } else {
        push_add(ws, a);
        if (ws->pos[p->payee] < 0) push_neg(ws, p->payee);
    }
    return true;
}

/* Resolves every deficit. False when the work limit cut it short or a move froze what had to change. */
static bool repair(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in) {
    for (uint64_t pops = 0; ws->neg_len > 0; pops++) {
        /* A pop follows a flip or an initial push; flips are bounded by the undo log. */
        ORTAK_ASSERT(pops <= (uint64_t)ws->n + ws->undo_cap);
        uint32_t a = ring_pop(ws->neg_ring, ws->neg_in, &ws->neg_head, &ws->neg_len, ws->n);
        while (ws->pos[a] < 0) {
            if (ws->work > ws->work_limit || !repair_step(ws, in, a)) return false;
        }
        if (ws->pos[a] > 0) push_add(ws, a);
    }
    return true;
}

/* Adds payments, largest that fits first, from every participant in the add ring and those it pays. */
static bool grow(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in) {
    for (uint64_t pops = 0; ws->add_len > 0; pops++) {
        ORTAK_ASSERT(pops <= (uint64_t)ws->n + ws->undo_cap);
        uint32_t a = ring_pop(ws->add_ring, ws->add_in, &ws->add_head, &ws->add_len, ws->n);
        for (uint32_t k = 0;; k++) {
            ORTAK_ASSERT(k <= ws->q_start[a + 1] - ws->q_start[a]);
            if (ws->work > ws->work_limit) return false;
            uint32_t j = pick_add(ws, in, a);
            if (j == NONE) break;
            flip(ws, in, j, true);
            push_add(ws, in->payments[j].payee);
        }
    }
    return true;
}

#ifdef ORTAK_DEBUG
/*
 * Recomputes the search state from `sel` and compares (see the invariants in the file comment). O(n * m), so
 * debug builds run it after every move only on instances of at most LSM_DEBUG_CHECK_MAX payments.
 */
static bool state_ok(const struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in) {
    ortak_i128 value = 0;
    uint32_t count = 0;
    for (uint32_t j = 0; j < ws->m; j++) {
        uint32_t s = ws->slot_of[j];
        if (s != NONE && ((ws->bits[s >> 6] >> (s & 63u)) & 1u) != ws->sel[j]) return false;
        value += ws->sel[j] ? in->payments[j].value : 0;
        count += ws->sel[j];
    }
    if (value != ws->value || count != ws->count) return false;
    for (uint32_t a = 0; a < ws->n; a++) {
        ortak_i128 pos = in->balance[a];
        bool gap = false;
        for (uint32_t k = ws->q_start[a]; k < ws->q_start[a + 1]; k++) {
            uint32_t j = ws->q_pay[k];
            if (ws->sel[j] && gap && ws->slot_of[j] == NONE) return false; /* the order rule */
            gap = gap || !ws->sel[j];
        }
        for (uint32_t k = ws->nb_start[a]; k < ws->nb_start[a + 1]; k++) {
            if (ws->sel[ws->nb_pay[k]] != (k < ws->nb_start[a] + ws->nb_sel[a])) return false;
        }
        for (uint32_t j = 0; j < ws->m; j++) {
            const struct ortak_lsm_payment *p = &in->payments[j];
            if (ws->sel[j] && p->payer == a) pos -= p->value;
            if (ws->sel[j] && p->payee == a) pos += p->value;
        }
        if (pos != ws->pos[a] || pos < 0) return false;
    }
    return true;
}
#endif

/* ---- bypass: moves and the search --------------------------------------------------------------------- */

/*
 * Starts a move: from here until move_end, each payment changes side at most once (it is *frozen* after its
 * first flip), which bounds the move by the number of payments and keeps it from undoing itself.
 */
static void move_begin(struct ortak_lsm_workspace *ws, bool pulls) {
    ORTAK_ASSERT(ws->undo_len == 0 && ws->neg_len == 0 && ws->add_len == 0);
    if (++ws->epoch == 0) { /* after 2^32 moves: forget old stamps */
        memset(ws->stamp, 0, (size_t)ws->m * sizeof *ws->stamp);
        ws->epoch = 1;
    }
    ws->marking = true;
    ws->pulls = pulls;
}

/* Ends a move: keeps it if it completed and `keep` says so, else undoes it. Returns whether it was kept. */
static bool move_end(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in, bool done, bool keep) {
    ws->marking = false;
    ws->pulls = false;
    bool kept = done && keep;
    if (kept) {
        ws->undo_len = 0;
    } else {
        rings_clear(ws);
        rollback(ws, in);
    }
    ORTAK_DEBUG_ASSERT(ws->m > LSM_DEBUG_CHECK_MAX || state_ok(ws, in));
    return kept;
}

/* Forces excluded payment j in, grows, repairs and grows again. Kept when the value rose (or `always`). */
static bool move_in(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in, uint32_t j, bool pulls,
                    bool always) {
    ortak_i128 before = ws->value;
    const struct ortak_lsm_payment *p = &in->payments[j];
    move_begin(ws, pulls);
    flip(ws, in, j, true);
    push_add(ws, p->payee);
    if (ws->pos[p->payer] < 0) push_neg(ws, p->payer);
    bool done = grow(ws, in) && repair(ws, in) && grow(ws, in);
    return move_end(ws, in, done, always || ws->value > before);
}

/* Forces selected payment j out, repairs its payee and grows from its payer. Kept when the value rose (or
 * `always`). */
static bool move_out(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in, uint32_t j, bool always) {
    ortak_i128 before = ws->value;
    const struct ortak_lsm_payment *p = &in->payments[j];
    move_begin(ws, true);
    flip(ws, in, j, false);
    push_add(ws, p->payer);
    if (ws->pos[p->payee] < 0) push_neg(ws, p->payee);
    bool done = repair(ws, in) && grow(ws, in);
    return move_end(ws, in, done, always || ws->value > before);
}

/* One pass of the moves over every payment, highest value first. Returns whether the value rose. */
static bool sweep(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in,
                  struct ortak_lsm_bypass_stats *st) {
    bool improved = false;
    for (uint32_t r = 0; r < ws->m && ws->work < ws->work_limit; r++) {
        uint32_t j = ws->order[r];
        bool kept = false;
        if (addable(ws, in, j)) { /* with pulls first; without, when that did not help */
            st->moves++;
            kept = move_in(ws, in, j, true, false);
            st->moves += !kept;
            kept = kept || move_in(ws, in, j, false, false);
        } else if (droppable(ws, in, j)) {
            st->moves++;
            kept = move_out(ws, in, j, false);
        }
        st->improvements += kept;
        improved = improved || kept;
    }
    return improved;
}

/* Sweeps until no move helps or the budget is spent. Every improving sweep raises the value by at least 1. */
static void local_search(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in,
                         struct ortak_lsm_bypass_stats *st) {
    while (ws->work < ws->work_limit && sweep(ws, in, st)) {
    }
    st->local_optima++;
}

/* A pseudo-random payment that can be added (`add`) or dropped alone, scanning from a random start; or NONE. */
static uint32_t random_candidate(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in, bool add) {
    uint32_t start = (uint32_t)(((ortak_u128)ortak_rng_next(&ws->rng) * ws->m) >> 64);
    for (uint32_t t = 0; t < ws->m; t++) {
        uint32_t c = start + t < ws->m ? start + t : start + t - ws->m;
        ws->work++;
        if (add ? addable(ws, in, c) : droppable(ws, in, c)) return c;
    }
    return NONE;
}

/*
 * Kicks the search out of a local optimum: LSM_KICK_SIZE moves on pseudo-random payments, each forcing one in
 * or out, kept whatever their value. Returns false when there is nothing to move.
 */
static bool perturb(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in) {
    bool moved = false;
    for (uint32_t k = 0; k < LSM_KICK_SIZE && ws->work < ws->work_limit; k++) {
        uint64_t r = ortak_rng_next(&ws->rng);
        bool add = (r & 1u) != 0, pulls = (r & 2u) != 0;
        uint32_t j = random_candidate(ws, in, add);
        if (j == NONE) { /* nothing on that side: try the other */
            add = !add;
            j = random_candidate(ws, in, add);
        }
        if (j == NONE) break;
        moved = true;
        if (add)
            move_in(ws, in, j, pulls, true);
        else
            move_out(ws, in, j, true);
    }
    return moved;
}

/* From every payment selected: repair all deficits by dropping, then grow everywhere. No work limit. */
static void construct(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in) {
    state_load(ws, in, NULL);
    for (uint32_t i = 0; i < ws->n; i++) {
        if (ws->pos[i] < 0) push_neg(ws, i);
    }
    bool done = repair(ws, in);
    for (uint32_t i = 0; i < ws->n; i++) push_add(ws, i);
    done = done && grow(ws, in);
    ORTAK_ASSERT(done); /* outside a move nothing is frozen, so a deficit always has something to drop */
    ws->undo_len = 0;
    ORTAK_DEBUG_ASSERT(ws->m > LSM_DEBUG_CHECK_MAX || state_ok(ws, in));
}

ortak_i128 ortak__lsm_combinatorial_bound(const struct ortak_lsm_instance *in, ortak_i128 *pay, ortak_i128 *get) {
    ortak_i128 bound = 0;
    for (uint32_t i = 0; i < in->participant_count; i++) pay[i] = get[i] = 0;
    for (uint32_t j = 0; j < in->payment_count; j++) {
        pay[in->payments[j].payer] += in->payments[j].value;
        get[in->payments[j].payee] += in->payments[j].value;
    }
    for (uint32_t i = 0; i < in->participant_count; i++) {
        ortak_i128 cover = in->balance[i] + get[i];
        bound += pay[i] < cover ? pay[i] : cover;
    }
    return bound;
}

/*
 * Iterated local search; ws->best holds the best selection seen (it starts as the current one). It stops early
 * when the best reaches `bound`, an upper bound on the optimum: nothing better exists.
 */
static void search(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in, ortak_i128 bound,
                   struct ortak_lsm_bypass_stats *st) {
    ortak_i128 best = ws->value;
    memcpy(ws->best, ws->sel, ws->m);
    /* Bounded by the budget: a round flips at least one payment (one work unit), or it is the last one. */
    for (uint64_t round = 1; ws->work < ws->work_limit && best < bound; round++) {
        local_search(ws, in, st);
        if (ws->value > best) {
            best = ws->value;
            memcpy(ws->best, ws->sel, ws->m);
            ws->work += ws->m;
        } else if (ws->value < best && round % LSM_WALK_ROUNDS == 0) {
            state_load(ws, in, ws->best);
        }
        if (ws->work >= ws->work_limit || best >= bound || !perturb(ws, in)) break;
    }
}

static ortak_i128 selection_value(const struct ortak_lsm_instance *in, const uint8_t *sel) {
    ortak_i128 v = 0;
    for (uint32_t j = 0; j < in->payment_count; j++) {
        if (sel[j]) v += in->payments[j].value;
    }
    return v;
}

/* Resets the search state for a new call: no limit, nothing frozen, the fixed seed. */
static void search_reset(struct ortak_lsm_workspace *ws) {
    ws->work = 0;
    ws->work_limit = UINT64_MAX;
    ws->rng = LSM_SEED;
    ws->marking = ws->pulls = false;
}

ortak_rc ortak_lsm_bypass(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in, uint64_t work_budget,
                          struct ortak_lsm_result *out, struct ortak_lsm_bypass_stats *stats) {
    if (!ws || !out || (!out->selected && in && in->payment_count)) return ORTAK_INVALID;
    ortak_rc rc = ortak_lsm_instance_check(ws, in);
    if (rc != ORTAK_OK) return rc;
    struct ortak_lsm_bypass_stats st = {0};
    search_reset(ws);
    ortak_i128 bound = ortak__lsm_combinatorial_bound(in, ws->pos, ws->out_sel); /* scratch until construct */
    layout_bypass(ws, in, ORTAK_LSM_ORDER_FLAGS);
    fifo_core(ws, in, ws->best);
    st.fifo_value = selection_value(in, ws->best);
    construct(ws, in);
    if (st.fifo_value > ws->value) { /* the FIFO optimum is feasible here too: start from it, grown */
        state_load(ws, in, ws->best);
        for (uint32_t i = 0; i < ws->n; i++) push_add(ws, i);
        bool grown = grow(ws, in);
        ORTAK_ASSERT(grown); /* still no work limit */
        ws->undo_len = 0;
    }
    st.greedy_value = ws->value;
    ws->work_limit = ws->work + work_budget < ws->work ? UINT64_MAX : ws->work + work_budget;
    search(ws, in, bound, &st);
    result_fill(in, ws->best, out);
    ORTAK_ASSERT(out->value >= st.fifo_value && out->value >= st.greedy_value);
    ORTAK_DEBUG_ASSERT(ortak_lsm_verify(ws, in, ORTAK_LSM_ORDER_FLAGS, out->selected, NULL) == ORTAK_OK);
    st.work = ws->work;
    if (stats) *stats = st;
    return ORTAK_OK;
}

/* ---- repair of an outside selection (CBC's rounded answer) -------------------------------------------- */

ortak_rc ortak__lsm_repair_selection(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in,
                                     enum ortak_lsm_order order, struct ortak_lsm_result *out) {
    ortak_rc rc = ortak_lsm_instance_check(ws, in);
    if (rc != ORTAK_OK) return rc;
    uint8_t *gap = ws->neg_in;                         /* borrowed; clear between calls */
    for (uint32_t j = 0; j < in->payment_count; j++) { /* first the order rule, in queue order */
        const struct ortak_lsm_payment *p = &in->payments[j];
        if (!out->selected[j])
            gap[p->payer] = 1;
        else if (gap[p->payer] && keeps_order(p, order))
            out->selected[j] = 0;
    }
    memset(gap, 0, in->participant_count);
    search_reset(ws);
    layout_bypass(ws, in, order);
    state_load(ws, in, out->selected);
    for (uint32_t i = 0; i < ws->n; i++) {
        if (ws->pos[i] < 0) push_neg(ws, i);
    }
    bool repaired = repair(ws, in);
    ORTAK_ASSERT(repaired); /* no work limit, nothing frozen */
    rings_clear(ws);        /* repair queued payers for growth; this answer is only cut back, never grown */
    ws->undo_len = 0;
    result_fill(in, ws->sel, out);
    return ORTAK_OK;
}

/* ---- improving an outside selection (the check on CBC's optimality claims) ------------------------------ */

ortak_rc ortak__lsm_improve_selection(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in,
                                      enum ortak_lsm_order order, uint64_t work_budget, struct ortak_lsm_result *out) {
    ortak_rc rc = ortak_lsm_verify(ws, in, order, out->selected, NULL);
    if (rc != ORTAK_OK) return rc;
    struct ortak_lsm_bypass_stats st = {0};
    search_reset(ws);
    ortak_i128 bound = ortak__lsm_combinatorial_bound(in, ws->pos, ws->out_sel); /* scratch until state_load */
    layout_bypass(ws, in, order);
    state_load(ws, in, out->selected);
    ws->work_limit = ws->work + work_budget < ws->work ? UINT64_MAX : ws->work + work_budget;
    search(ws, in, bound, &st);
    result_fill(in, ws->best, out);
    return ORTAK_OK;
}
