/*
 * Multilateral gridlock resolution (liquidity-saving mechanism), as a pure algorithm on one instance.
 *
 * An instance is a set of participants with the liquidity each has available now (`balance`, >= 0) and the
 * payments queued between them, each with a payer, a payee, a value (> 0, minor units) and a flag saying whether
 * it may bypass the payments queued before it. Each payer's queue is the subsequence of the payment array with
 * that payer, in array order (the engine orders a queue by priority, then arrival).
 *
 * A selection S of payments settles atomically. Its *position* for participant i is
 *     balance[i] + (value of payments in S paid to i) - (value of payments in S paid by i),
 * and S is *feasible* when every position is >= 0 and the order rule holds:
 *   - ORTAK_LSM_ORDER_FIFO: a payment is in S only if every payment before it in its payer's queue is in S;
 *   - ORTAK_LSM_ORDER_FLAGS: the same, but only for payments without ORTAK_LSM_MAY_BYPASS; a payment with the
 *     flag may be chosen freely (and it still counts as "before" for the ones behind it).
 * The empty selection is always feasible, because balances are >= 0.
 *
 * Three solvers, all maximising the settled value:
 *   ortak_lsm_fifo    the optimum under ORTAK_LSM_ORDER_FIFO: unique (it contains every other feasible
 *                     selection), found in O(payments + participants).
 *   ortak_lsm_bypass  under ORTAK_LSM_ORDER_FLAGS, where the optimum is NP-hard: a heuristic bounded by a work
 *                     budget, never worse than fifo. Deterministic: the same instance and budget give the same
 *                     answer on every machine.
 *   ortak_lsm_exact   the integer program, solved by CBC within a time limit (lsm_exact.c): the reference that
 *                     measures the other two. Allocates, uses floating point internally and reads a clock; the
 *                     engine must not call it.
 *
 * fifo and bypass use only integer arithmetic (64-bit values, 128-bit sums) and never allocate: every array
 * they touch lives in a workspace sized once, at start-up, for the largest instance. No recursion anywhere;
 * every loop is bounded by the instance's size or by the work budget.
 */
#ifndef ORTAK_SETTLE_LSM_H
#define ORTAK_SETTLE_LSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ortak/config.h"
#include "ortak/rc.h"
#include "ortak/types.h"

/* Hard bounds on a workspace: indices are 32-bit, and the undo log holds 3 entries per payment + 2. */
#define ORTAK_LSM_PAYMENTS_LIMIT (UINT32_C(1) << 28)
#define ORTAK_LSM_PARTICIPANTS_LIMIT (UINT32_C(1) << 24)

/* Payment flag: under ORTAK_LSM_ORDER_FLAGS this payment may settle before payments queued ahead of it. */
#define ORTAK_LSM_MAY_BYPASS 1u

/*
 * The work budget the engine should give bypass unless configured otherwise: on 200 queued payments it finishes
 * the local search many times over (perturbations use the rest), in 10-20 ms on one core of the reference
 * machine; more budget adds little (docs/settlement.md has the measured curve).
 */
#define ORTAK_LSM_BUDGET_DEFAULT ORTAK_GRIDLOCK_BUDGET_DEFAULT

enum ortak_lsm_order {
    ORTAK_LSM_ORDER_FIFO = 0,  /* every payment keeps its place in its payer's queue */
    ORTAK_LSM_ORDER_FLAGS = 1, /* only payments without ORTAK_LSM_MAY_BYPASS keep their place */
};

struct ortak_lsm_payment {
    int64_t value;  /* minor units, > 0 */
    uint32_t payer; /* participant index, < participant_count */
    uint32_t payee; /* participant index, < participant_count, != payer */
    uint32_t flags; /* 0 or ORTAK_LSM_MAY_BYPASS */
};

/* Borrowed by every call for its duration only; never modified. */
struct ortak_lsm_instance {
    const int64_t *balance;                   /* [participant_count], each >= 0 */
    const struct ortak_lsm_payment *payments; /* [payment_count], each payer's queue in array order */
    uint32_t participant_count;
    uint32_t payment_count;
};

/*
 * A solver's answer. The caller owns `selected` (at least payment_count bytes) and sets the pointer before the
 * call; the solver writes selected[j] = 1 for each payment that settles and 0 for each that stays queued, and
 * fills `count` and `value` (their sum). On an error return the contents are unspecified.
 */
struct ortak_lsm_result {
    uint8_t *selected;
    uint32_t count;
    ortak_i128 value;
};

/* What ortak_lsm_bypass did, for benchmarks and monitoring. */
struct ortak_lsm_bypass_stats {
    ortak_i128 fifo_value;   /* the fifo optimum it started from (bypass never returns less) */
    ortak_i128 greedy_value; /* the value after construction, before local search */
    uint64_t work;           /* work units spent (see ortak_lsm_bypass) */
    uint64_t moves;          /* local-search moves tried */
    uint64_t improvements;   /* moves that raised the value */
    uint32_t local_optima;   /* times the local search ran out of improving moves */
};

/* What ortak_lsm_exact learnt beyond the selection. */
struct ortak_lsm_exact_info {
    bool proven_optimal; /* CBC proved that no feasible selection is better, and nothing refuted it */
    bool repaired;       /* CBC's rounded answer broke a constraint by its tolerances and was repaired */
    bool polished;       /* a local search from CBC's answer (or `start`) found a better one */
    ortak_i128 bound;    /* an upper bound on the optimum: CBC's proven bound (the LP relaxation of the open
                            branch-and-bound nodes, never weaker than the root relaxation), widened by CBC's
                            tolerances and rounded down, capped by a bound needing no solver (each payer settles
                            at most its balance plus all queued to it), which alone stands when a selection in
                            hand refutes CBC's; equals the value when proven_optimal */
    int cbc_status;      /* Cbc_status(): 0 finished, 1 stopped on the time limit, 2 abandoned (numerics) */
    int64_t nodes;       /* branch-and-bound nodes explored */
};

/*
 * All scratch memory of fifo and bypass, sized once. The fields are private to lsm.c; the struct is public only
 * so that the engine can embed it. One workspace serves one call at a time (not thread-safe).
 */
struct ortak_lsm_workspace {
    uint32_t payments_max;
    uint32_t participants_max;
    void *block; /* the one allocation every array below points into */
    size_t block_bytes;
    /* layout of the current instance */
    uint32_t n, m;
    uint32_t *q_start;  /* [n+1] each payer's queue: q_pay[q_start[a] .. q_start[a+1]) */
    uint32_t *q_pay;    /* [m] */
    uint32_t *qpos;     /* [m] a payment's place in its payer's queue */
    uint32_t *nb_start; /* [n+1] each payer's order-keeping payments (all, under FIFO order), in queue order */
    uint32_t *nb_pay;   /* [m] */
    uint32_t *nb_sel;   /* [n] how many of them are selected: always a prefix of that list */
    uint32_t *cursor;   /* [n] scratch: fill cursors, FIFO queue ends */
    uint32_t *s_start;  /* [n+1] each payer's bypassable payments as slots sorted by (value, index) */
    int64_t *s_val;     /* [m] value of the payment in each slot */
    uint32_t *s_pay;    /* [m] payment in each slot */
    uint32_t *slot_of;  /* [m] slot of a bypassable payment, UINT32_MAX for the others */
    uint32_t *order;    /* [m] payments by value, highest first: the order moves are tried in */
    uint64_t *bits;     /* [(m+63)/64] bit per slot: the slot's payment is selected */
    /* search state */
    uint8_t *sel;        /* [m] 1 = selected */
    uint8_t *best;       /* [m] best selection found so far */
    ortak_i128 *pos;     /* [n] positions of the current selection */
    ortak_i128 *out_sel; /* [n] value each participant pays in the current selection */
    uint32_t *neg_ring;  /* [n] participants whose position is negative, FIFO */
    uint32_t *add_ring;  /* [n] participants whose position rose, FIFO */
    uint8_t *neg_in;     /* [n] participant is in neg_ring */
    uint8_t *add_in;     /* [n] participant is in add_ring */
    uint32_t *undo;      /* [3m+2] payments flipped since the current move began */
    uint32_t neg_head, neg_len, add_head, add_len, undo_len, undo_cap;
    uint32_t *r_start; /* [n+1] each participant's incoming payments: r_pay[r_start[i] .. r_start[i+1]) */
    uint32_t *r_pay;   /* [m] */
    uint32_t *stamp;   /* [m] epoch of the move in which the payment last changed side */
    uint32_t epoch;    /* the current move's number */
    bool marking;      /* inside a move: a payment that changed side is frozen */
    bool pulls;        /* repair may add incoming payments, not only drop outgoing ones */
    uint32_t count;
    ortak_i128 value;
    uint64_t work, work_limit, rng;
};

/*
 * Sizes a workspace for instances of up to `payments_max` payments and `participants_max` participants and
 * allocates all of its memory in one block (about 54 bytes per payment and 66 per participant).
 * Returns ORTAK_OK; ORTAK_INVALID when a maximum is 0 or above its ORTAK_LSM_*_LIMIT; ORTAK_NOMEM. On an error
 * the workspace is left empty and ortak_lsm_workspace_free may still be called on it.
 */
ortak_rc ortak_lsm_workspace_init(struct ortak_lsm_workspace *ws, uint32_t payments_max, uint32_t participants_max);
/* Frees the workspace's memory and empties it. Safe on an empty or zeroed workspace. */
void ortak_lsm_workspace_free(struct ortak_lsm_workspace *ws);

/*
 * Checks an instance: counts within the workspace's maxima (when `ws` is not NULL), indices in range, payer !=
 * payee, values > 0, balances >= 0, no unknown flag. O(payments + participants); every solver calls it first.
 * Returns ORTAK_OK; ORTAK_INVALID (NULL arrays, index out of range, unknown flag, too many payments or
 * participants for the workspace); ORTAK_SAME_ACCOUNT (payer == payee); ORTAK_AMOUNT_ZERO (a value of 0);
 * ORTAK_NEGATIVE_AMOUNT (a negative value or balance).
 */
ortak_rc ortak_lsm_instance_check(const struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in);

/*
 * Checks a selection (`selected[j]` nonzero: payment j settles) against an instance: the order rule `order`
 * holds and every position is >= 0. Sets *value (may be NULL) to the selection's value. Uses the workspace's
 * scratch arrays; never allocates.
 * Returns ORTAK_OK; ORTAK_INVALID when a selected payment would overtake an unselected one it may not bypass
 * (or for a NULL argument); ORTAK_INSUFFICIENT_FUNDS when the order holds but some position is negative; the
 * errors of ortak_lsm_instance_check.
 */
ortak_rc ortak_lsm_verify(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in,
                          enum ortak_lsm_order order, const uint8_t *selected, ortak_i128 *value);

/*
 * The FIFO gridlock resolution: the largest selection that keeps every payer's queue order (flags ignored).
 * Starting from every queued payment, it repeatedly drops the last selected payment of a participant whose
 * position is negative; a payment dropped this way is in no feasible selection, so what remains is the unique
 * maximal feasible selection, which also has the highest value and count. O(payments + participants), no
 * allocation. Writes the answer to `out` (see struct ortak_lsm_result).
 * Returns ORTAK_OK or an error of ortak_lsm_instance_check (ORTAK_INVALID also for a NULL argument).
 */
ortak_rc ortak_lsm_fifo(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in,
                        struct ortak_lsm_result *out);

/*
 * Gridlock resolution with bypass (ORTAK_LSM_ORDER_FLAGS): a feasible selection of high value, never below the
 * FIFO optimum. docs/settlement.md describes the algorithm and its measured distance from the optimum; briefly:
 *   1. construction: from every queued payment, participants in deficit drop payments (the one scoring best
 *      among those near the best fit for the deficit, counting the deficit a drop creates at its payee), then
 *      growth adds back excluded payments, largest that fits first; the FIFO optimum, grown, replaces this
 *      when it is better;
 *   2. local search: each excluded payment, highest value first, is forced in; growth, then repair (dropping
 *      payments, or pulling in excluded payments to a participant in deficit, which moves its deficit
 *      upstream), then growth again; each payment changes side at most once per move; the move is kept only
 *      if the value rose. Selected payments are forced out the same way. Until no move helps;
 *   3. perturbation: from a local optimum, a few pseudo-random forced moves, kept whatever their value, then
 *      local search again; every few rounds the search returns to the best selection seen, which is the answer.
 *      Phases 2 and 3 stop early when the best reaches a bound needing no solver (each payer settles at most its
 *      balance plus all queued to it): then it is optimal.
 * `work_budget` bounds phases 2 and 3 in work units (about one per payment, candidate or bitset word examined;
 * 5-10 ns each): no move starts after the budget is spent, and a move that reaches it is undone. Phase 1
 * always runs, in O((payments + participants) log payments). The pseudo-random sequence has a fixed seed, so
 * the answer depends only on the instance and the budget, and more budget never gives less. No allocation.
 * `stats` may be NULL.
 * Returns ORTAK_OK or an error of ortak_lsm_instance_check (ORTAK_INVALID also for a NULL argument).
 */
ortak_rc ortak_lsm_bypass(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in, uint64_t work_budget,
                          struct ortak_lsm_result *out, struct ortak_lsm_bypass_stats *stats);

/*
 * The exact optimum under `order`, as a 0-1 integer program solved by CBC (the reference solver):
 *     maximise sum(value_j x_j)  subject to, for every participant i,
 *         sum(value_j x_j : payer i) - sum(value_j x_j : payee i) <= balance_i,
 *     and x_k <= x_j for every payment k that keeps its place and each payment j before it in the same queue
 *     (only the nearest such constraints are written; the others follow from them).
 * Stops after `time_limit_ms` of wall-clock time (0: no limit) with the best selection found so far. `start`,
 * when not NULL, is a feasible selection handed to CBC as its first incumbent (it must pass ortak_lsm_verify).
 * CBC works in doubles; its answer is rounded to 0/1 and checked with integer arithmetic; if rounding broke a
 * constraint (possible with values beyond 2^53 or near CBC's tolerances), payments are dropped until the
 * selection is feasible and info->repaired is set. Then `start`, if better, replaces it, and bypass's local
 * search runs from it (2,000 work units per payment and participant, at most ORTAK_LSM_BUDGET_DEFAULT): if
 * that finds better, CBC was not optimal whatever it claimed (info->polished), and its bound is dropped. If CBC
 * finds nothing in time, the answer grows from `start` or the empty selection. The answer written to `out` is
 * always feasible (asserted). `info` may be NULL. Allocates (in proportion to the instance) and frees before
 * returning; not for the engine's hot path.
 * Returns ORTAK_OK; ORTAK_NOMEM; ORTAK_INVALID for a NULL argument, an instance beyond CBC's int indices or an
 * infeasible `start`; the errors of ortak_lsm_instance_check.
 */
ortak_rc ortak_lsm_exact(const struct ortak_lsm_instance *in, enum ortak_lsm_order order, uint32_t time_limit_ms,
                         const uint8_t *start, struct ortak_lsm_result *out, struct ortak_lsm_exact_info *info);

/*
 * Internal to the settle module, for lsm_exact.c. ortak__lsm_repair_selection makes out->selected feasible
 * under `order` (dropping payments that break the order rule, then repairing deficits as bypass does) and fills
 * `out`. ortak__lsm_improve_selection runs bypass's local search and perturbation, from the feasible selection
 * in out->selected, under `order`, for `work_budget`, and writes the best selection seen (never worse) to `out`.
 * Both return ORTAK_OK or an error of ortak_lsm_verify (the improving one requires a feasible start).
 */
ortak_rc ortak__lsm_repair_selection(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in,
                                     enum ortak_lsm_order order, struct ortak_lsm_result *out);
/* An upper bound needing no solver: each payer settles at most its balance plus all queued to it, and at most all
 * it has queued. `pay` and `get` are scratch arrays of participant_count entries. */
ortak_i128 ortak__lsm_combinatorial_bound(const struct ortak_lsm_instance *in, ortak_i128 *pay, ortak_i128 *get);
ortak_rc ortak__lsm_improve_selection(struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in,
                                      enum ortak_lsm_order order, uint64_t work_budget, struct ortak_lsm_result *out);

#endif
