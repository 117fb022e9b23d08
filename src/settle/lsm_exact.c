/*
 * Exact gridlock resolution through CBC's C interface: the reference solver that measures fifo and bypass.
 *
 * The 0-1 program (see lsm.h) has one column per payment and one row per participant, plus one row per
 * payment followed in its queue by an order-keeping payment. CBC works in doubles, so its answer is never
 * trusted as it comes: it is rounded to 0/1, checked with integer arithmetic (ortak_lsm_verify), repaired by
 * dropping payments if the check fails, and the result is asserted feasible. Values up to 2^53 convert to double
 * exactly; above that, CBC sees values rounded by at most 1 part in 2^53 and the check catches any consequence.
 * Nor is a claim of optimality taken on trust: bypass's local search starts from CBC's answer, and anything it
 * finds that is better refutes the claim (and CBC's bound with it).
 *
 * This file allocates and reads a clock (CBC's time limit); the engine never calls it.
 */
#include <Cbc_C_Interface.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/assert.h"
#include "lsm.h"

#define NONE UINT32_MAX
/* CBC reports "no bound" as a huge number (COIN_DBL_MAX); any bound above this is taken to mean none. */
#define BOUND_FINITE_MAX 1e36
/*
 * Work budget of the local search that checks CBC's answer (see exact_answer), per payment and participant, up to
 * ORTAK_LSM_BUDGET_DEFAULT: a check, so it scales with the instance instead of spending a solver's budget on a
 * dozen payments.
 */
#define LSM_POLISH_WORK_PER_ITEM UINT64_C(2000)

/* The model in CBC's compressed-column form. */
struct model {
    int cols, rows;
    int *start;         /* [cols + 1] */
    int *index;         /* [nz] row of each entry */
    double *coef;       /* [nz] */
    double *obj;        /* [cols] */
    double *col_ub;     /* [cols] all 1 */
    double *row_ub;     /* [rows] */
    uint32_t *succ;     /* [cols] scratch: pairs naming the column as their `next`, then entries written */
    uint32_t *next;     /* [cols] the nearest later order-keeping payment of the same payer, or NONE */
    uint32_t *pair_row; /* [cols] row of the pair (j, next[j]) */
    uint32_t *scratch;  /* [participants] */
};

static void model_free(struct model *md) {
    free(md->start);
    free(md->index);
    free(md->coef);
    free(md->obj);
    free(md->col_ub);
    free(md->row_ub);
    free(md->succ);
    free(md->next);
    free(md->pair_row);
    free(md->scratch);
    memset(md, 0, sizeof *md);
}

/*
 * For each payment j, next[j] = the nearest later payment of the same payer that keeps its place; it may settle
 * only if j does (x_next <= x_j). Nearer constraints imply the farther ones: an order-keeping k after next[j]
 * has x_k <= x_next[j] <= x_j. Returns the number of pairs.
 */
static uint32_t order_pairs(struct model *md, const struct ortak_lsm_instance *in, enum ortak_lsm_order order) {
    uint32_t pairs = 0;
    for (uint32_t i = 0; i < in->participant_count; i++) md->scratch[i] = NONE;
    for (uint32_t j = in->payment_count; j-- > 0;) {
        const struct ortak_lsm_payment *p = &in->payments[j];
        md->next[j] = md->scratch[p->payer];
        if (md->next[j] != NONE) md->pair_row[j] = in->participant_count + pairs++;
        bool keeps = order == ORTAK_LSM_ORDER_FIFO || !(p->flags & ORTAK_LSM_MAY_BYPASS);
        if (keeps) md->scratch[p->payer] = j;
    }
    return pairs;
}

static ortak_rc model_alloc(struct model *md, const struct ortak_lsm_instance *in) {
    size_t m = in->payment_count, n = in->participant_count;
    md->next = ortak__calloc_array(m, sizeof *md->next);
    md->pair_row = ortak__calloc_array(m, sizeof *md->pair_row);
    md->succ = ortak__calloc_array(m, sizeof *md->succ);
    md->scratch = ortak__calloc_array(n, sizeof *md->scratch);
    md->start = ortak__calloc_array(m + 1, sizeof *md->start);
    md->obj = ortak__calloc_array(m, sizeof *md->obj);
    md->col_ub = ortak__calloc_array(m, sizeof *md->col_ub);
    md->row_ub = ortak__calloc_array(n + m, sizeof *md->row_ub);
    md->index = ortak__calloc_array(4 * m, sizeof *md->index); /* 2 balance rows + at most 2 pair entries */
    md->coef = ortak__calloc_array(4 * m, sizeof *md->coef);
    bool ok = md->next && md->pair_row && md->succ && md->scratch && md->start && md->obj && md->col_ub && md->row_ub &&
              md->index && md->coef;
    return ok ? ORTAK_OK : ORTAK_NOMEM;
}

/*
 * Fills the columns. Column j: +value in its payer's row, -value in its payee's row, -1 in the row of its own
 * pair (j, next[j]), +1 in the row of each pair whose `next` is j. Row i's bound is balance i; pair rows' is 0.
 */
static void model_fill(struct model *md, const struct ortak_lsm_instance *in, uint32_t pairs) {
    uint32_t m = in->payment_count, n = in->participant_count;
    md->cols = (int)m;
    md->rows = (int)(n + pairs);
    uint32_t *succ_count = md->succ;
    memset(succ_count, 0, (size_t)m * sizeof *succ_count);
    for (uint32_t j = 0; j < m; j++) {
        if (md->next[j] != NONE) succ_count[md->next[j]]++;
    }
    md->start[0] = 0;
    for (uint32_t j = 0; j < m; j++) {
        uint32_t nz = 2 + (md->next[j] != NONE) + succ_count[j];
        md->start[j + 1] = md->start[j] + (int)nz;
    }
    for (uint32_t j = 0; j < m; j++) { /* the fixed entries first; pair successors are appended below */
        const struct ortak_lsm_payment *p = &in->payments[j];
        int k = md->start[j];
        md->index[k] = (int)p->payer;
        md->coef[k++] = (double)p->value;
        md->index[k] = (int)p->payee;
        md->coef[k++] = -(double)p->value;
        if (md->next[j] != NONE) {
            md->index[k] = (int)md->pair_row[j];
            md->coef[k++] = -1.0;
        }
        succ_count[j] = (uint32_t)(k - md->start[j]); /* now: entries written so far */
        md->obj[j] = (double)p->value;
        md->col_ub[j] = 1.0;
    }
    for (uint32_t j = 0; j < m; j++) {
        uint32_t s = md->next[j];
        if (s == NONE) continue;
        int k = md->start[s] + (int)succ_count[s]++;
        md->index[k] = (int)md->pair_row[j];
        md->coef[k] = 1.0;
    }
    for (uint32_t i = 0; i < n; i++) md->row_ub[i] = (double)in->balance[i];
    for (uint32_t r = n; r < n + pairs; r++) md->row_ub[r] = 0.0;
}

/* CBC's proven bound as an integer, widened by its tolerances so that it stays an upper bound; -1 if none. */
static ortak_i128 cbc_bound(Cbc_Model *cbc) {
    double b = Cbc_getBestPossibleObjValue(cbc);
    if (!(b > -1.0) || b > BOUND_FINITE_MAX) return -1; /* NaN, infinite or meaningless */
    return (ortak_i128)floor(b + 1e-6 + 1e-9 * fabs(b));
}

static Cbc_Model *cbc_build(const struct model *md, uint32_t time_limit_ms) {
    Cbc_Model *cbc = Cbc_newModel();
    if (!cbc) return NULL;
    Cbc_loadProblem(cbc, md->cols, md->rows, md->start, md->index, md->coef, NULL, md->col_ub, md->obj, NULL,
                    md->row_ub);
    for (int j = 0; j < md->cols; j++) Cbc_setInteger(cbc, j);
    Cbc_setObjSense(cbc, -1.0); /* maximise */
    Cbc_setLogLevel(cbc, 0);
    Cbc_setParameter(cbc, "timeMode", "elapsed");
    /*
     * CBC's integer preprocessing off: on 40 benchmark instances of 200 payments (values up to 6.5e8) it once
     * "proved" an optimum 170 units short of a selection we verified; without it no proof was wrong, more were
     * completed in 15 s (36 against 33) and the total time was lower (docs/settlement.md).
     */
    Cbc_setParameter(cbc, "preprocess", "off");
    if (time_limit_ms) Cbc_setMaximumSeconds(cbc, (double)time_limit_ms / 1000.0);
    return cbc;
}

/* Hands CBC a feasible selection as its first incumbent. */
static ortak_rc cbc_start(Cbc_Model *cbc, const struct ortak_lsm_instance *in, const uint8_t *start) {
    uint32_t count = 0;
    for (uint32_t j = 0; j < in->payment_count; j++) count += start[j] ? 1u : 0u;
    int *cols = ortak__calloc_array(count, sizeof *cols);
    double *ones = ortak__calloc_array(count, sizeof *ones);
    ortak_rc rc = cols && ones ? ORTAK_OK : ORTAK_NOMEM;
    for (uint32_t j = 0, k = 0; rc == ORTAK_OK && j < in->payment_count; j++) {
        if (!start[j]) continue;
        cols[k] = (int)j;
        ones[k++] = 1.0;
    }
    if (rc == ORTAK_OK && count) Cbc_setMIPStartI(cbc, (int)count, cols, ones);
    free(cols);
    free(ones);
    return rc;
}

/* The best selection CBC found, rounded to 0/1 and made feasible; the empty one when it found none. */
static ortak_rc cbc_selection(Cbc_Model *cbc, struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in,
                              enum ortak_lsm_order order, struct ortak_lsm_result *out,
                              struct ortak_lsm_exact_info *info) {
    const double *x = Cbc_bestSolution(cbc);
    for (uint32_t j = 0; j < in->payment_count; j++) out->selected[j] = (uint8_t)(x && x[j] > 0.5);
    ortak_rc rc = ortak_lsm_verify(ws, in, order, out->selected, &out->value);
    if (rc == ORTAK_INSUFFICIENT_FUNDS || rc == ORTAK_INVALID) { /* CBC's tolerances, or values beyond 2^53 */
        info->repaired = true;
        rc = ortak__lsm_repair_selection(ws, in, order, out);
    }
    info->proven_optimal = x && !info->repaired && Cbc_isProvenOptimal(cbc);
    info->cbc_status = Cbc_status(cbc);
    info->nodes = Cbc_getNodeCount(cbc);
    return rc;
}

/*
 * Turns CBC's answer into `out`: its selection, checked with integers (cbc_selection); then `start` if that is
 * better; then a bypass local search from there (LSM_POLISH_WORK_PER_ITEM). Whatever beats CBC's own answer
 * refutes a claim of optimality, which does happen: with values of 10^8 and more and its default settings, CBC
 * "proved" an optimum 170 units short of a selection we verified.
 */
static ortak_rc exact_answer(Cbc_Model *cbc, struct ortak_lsm_workspace *ws, const struct ortak_lsm_instance *in,
                             enum ortak_lsm_order order, const uint8_t *start, struct ortak_lsm_result *out,
                             struct ortak_lsm_exact_info *info) {
    ortak_rc rc = cbc_selection(cbc, ws, in, order, out, info);
    if (rc != ORTAK_OK) return rc;
    ortak_i128 cbc_value = out->value, start_value = 0;
    if (start && ortak_lsm_verify(ws, in, order, start, &start_value) == ORTAK_OK && start_value > out->value) {
        memcpy(out->selected, start, in->payment_count);
        out->value = start_value;
    }
    uint64_t items = (uint64_t)in->payment_count + in->participant_count;
    uint64_t budget = items < ORTAK_LSM_BUDGET_DEFAULT / LSM_POLISH_WORK_PER_ITEM ? items * LSM_POLISH_WORK_PER_ITEM
                                                                                  : ORTAK_LSM_BUDGET_DEFAULT;
    rc = ortak__lsm_improve_selection(ws, in, order, budget, out);
    if (rc != ORTAK_OK) return rc;
    info->polished = out->value > (start_value > cbc_value ? start_value : cbc_value);
    if (out->value > cbc_value) info->proven_optimal = false;
    rc = ortak_lsm_verify(ws, in, order, out->selected, &out->value);
    ORTAK_ASSERT(rc == ORTAK_OK); /* what leaves this function is feasible, whatever CBC said */
    return ORTAK_OK;
}

/*
 * The bound: CBC's, capped by the solver-free one. A CBC bound below a selection in hand is refuted, and so
 * worthless: the solver-free bound stands alone then. The answer itself when proven optimal.
 */
static void exact_bound(Cbc_Model *cbc, ortak_i128 combinatorial, const struct ortak_lsm_result *out,
                        struct ortak_lsm_exact_info *info) {
    ortak_i128 b = cbc ? cbc_bound(cbc) : -1;
    if (b < out->value || b > combinatorial) b = combinatorial;
    info->bound = info->proven_optimal ? out->value : b;
}

static ortak_rc exact_args(const struct ortak_lsm_instance *in, const struct ortak_lsm_result *out) {
    if (!in || !out) return ORTAK_INVALID;
    ortak_rc rc = ortak_lsm_instance_check(NULL, in);
    if (rc != ORTAK_OK) return rc;
    if (in->payment_count > INT_MAX / 4 || in->participant_count > INT_MAX / 2) return ORTAK_INVALID;
    if (in->payment_count && !out->selected) return ORTAK_INVALID;
    return ORTAK_OK;
}

ortak_rc ortak_lsm_exact(const struct ortak_lsm_instance *in, enum ortak_lsm_order order, uint32_t time_limit_ms,
                         const uint8_t *start, struct ortak_lsm_result *out, struct ortak_lsm_exact_info *info) {
    struct ortak_lsm_exact_info inf = {0};
    struct ortak_lsm_workspace ws = {0};
    struct model md = {0};
    Cbc_Model *cbc = NULL;
    ortak_i128 *sums = NULL;
    ortak_rc rc = exact_args(in, out);
    if (rc != ORTAK_OK) return rc;
    uint32_t m = in->payment_count, n = in->participant_count;
    rc = ortak_lsm_workspace_init(&ws, m ? m : 1, n ? n : 1);
    if (rc != ORTAK_OK) goto done;
    rc = ORTAK_INVALID;
    if (start && ortak_lsm_verify(&ws, in, order, start, NULL) != ORTAK_OK) goto done;
    rc = ORTAK_NOMEM;
    sums = ortak__calloc_array(2 * (size_t)n, sizeof *sums);
    if (!sums) goto done;
    ortak_i128 combinatorial = ortak__lsm_combinatorial_bound(in, sums, sums + n);
    if ((rc = model_alloc(&md, in)) != ORTAK_OK) goto done;
    model_fill(&md, in, order_pairs(&md, in, order));
    rc = ORTAK_NOMEM;
    if (m && !(cbc = cbc_build(&md, time_limit_ms))) goto done;
    if (cbc && start && (rc = cbc_start(cbc, in, start)) != ORTAK_OK) goto done;
    if (cbc) Cbc_solve(cbc);
    if (cbc) {
        rc = exact_answer(cbc, &ws, in, order, start, out, &inf);
        out->count = 0;
        for (uint32_t j = 0; j < m; j++) out->count += out->selected[j];
    } else { /* no payments: nothing to solve */
        out->count = 0;
        out->value = 0;
        inf.proven_optimal = true;
        rc = ORTAK_OK;
    }
    if (rc == ORTAK_OK) exact_bound(cbc, combinatorial, out, &inf);
done:
    if (cbc) Cbc_deleteModel(cbc);
    model_free(&md);
    free(sums);
    ortak_lsm_workspace_free(&ws);
    if (rc == ORTAK_OK && info) *info = inf;
    return rc;
}
