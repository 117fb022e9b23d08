/*
 * Unit tests of gridlock resolution (src/settle/lsm.h): the FIFO solver, the bypass heuristic and the exact
 * solver (CBC).
 *
 *   - Known answers: every vector of ../shared/data/lsm/vectors.json (path given as argv[1]; the test fails,
 *     loudly, when the file is missing or malformed). fifo returns exactly the `fifo` set and `fifo_value`; exact
 *     returns `opt_value` (and `fifo_value` under FIFO order); bypass, with every payment allowed to bypass (the
 *     vectors' `opt` is the unconstrained optimum), reaches `opt_value`.
 *   - Brute force: 600 seeded random instances of up to 12 payments with mixed bypass flags. fifo returns the
 *     one maximal selection that keeps queue order; exact returns the brute-force optimum under both order
 *     rules; bypass is feasible, at least fifo and at most exact.
 *   - Properties: determinism, no allocation in fifo and bypass, a larger budget never gives less, values beyond
 *     2^53 (where CBC's doubles are inexact), repair of infeasible selections, empty instances, every error code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <malloc.h>

#include "base/rng.h"
#include "settle/lsm.h"

#define MAX_PAY 16u
#define MAX_PART 16u
/* Random instances compared with brute force, and their largest size (2^12 subsets each). */
#define RANDOM_INSTANCES 600u
#define RANDOM_PAY_MAX 12u
#define EXACT_MS 60000u

static const char *vectors_path;
static json_t *vectors;

/* An instance with its storage; small enough to live on the stack. */
struct tinst {
    int64_t balance[MAX_PART];
    struct ortak_lsm_payment pay[MAX_PAY];
    char id[MAX_PAY][16];
    struct ortak_lsm_instance in;
};

static void assert_i128_eq(ortak_i128 got, ortak_i128 want, const char *what) {
    if (got == want) return;
    char g[41], w[41];
    fail_msg("%s: got %s, want %s", what, ortak_i128_dec(got, g), ortak_i128_dec(want, w));
}

/* ---- vectors.json ---------------------------------------------------------------------------------------- */

static int participant_index(json_t *balances, const char *name) {
    int i = 0;
    const char *key;
    json_t *v;
    json_object_foreach(balances, key, v) {
        if (strcmp(key, name) == 0) return i;
        i++;
    }
    return -1;
}

/* Builds an instance from one vector; every payment gets `flags`. Fails the test on malformed data. */
static void vector_instance(json_t *vec, uint32_t flags, struct tinst *t) {
    memset(t, 0, sizeof *t);
    json_t *balances = json_object_get(vec, "B"), *pays = json_object_get(vec, "pays");
    if (!json_is_object(balances) || !json_is_array(pays)) fail_msg("vector without B or pays");
    if (json_object_size(balances) > MAX_PART || json_array_size(pays) > MAX_PAY) fail_msg("vector too large");
    const char *key;
    json_t *v;
    uint32_t n = 0;
    json_object_foreach(balances, key, v) {
        if (!json_is_integer(v)) fail_msg("balance of %s is not an integer", key);
        t->balance[n++] = (int64_t)json_integer_value(v);
    }
    size_t j;
    json_array_foreach(pays, j, v) {
        json_t *id = json_array_get(v, 0), *payer = json_array_get(v, 1), *payee = json_array_get(v, 2);
        json_t *value = json_array_get(v, 3);
        if (!json_is_string(id) || !json_is_string(payer) || !json_is_string(payee) || !json_is_integer(value))
            fail_msg("payment %zu is not [id, payer, payee, value]", j);
        int a = participant_index(balances, json_string_value(payer));
        int b = participant_index(balances, json_string_value(payee));
        size_t len = json_string_length(id);
        if (a < 0 || b < 0 || len >= sizeof t->id[0]) fail_msg("payment %zu names an unknown participant", j);
        memcpy(t->id[j], json_string_value(id), len + 1);
        t->pay[j] = (struct ortak_lsm_payment){json_integer_value(value), (uint32_t)a, (uint32_t)b, flags};
    }
    t->in = (struct ortak_lsm_instance){t->balance, t->pay, n, (uint32_t)json_array_size(pays)};
}

static bool id_listed(json_t *list, const char *id) {
    size_t k;
    json_t *v;
    json_array_foreach(list, k, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), id) == 0) return true;
    }
    return false;
}

static int64_t vector_int(json_t *vec, const char *key) {
    json_t *v = json_object_get(vec, key);
    if (!json_is_integer(v)) fail_msg("vector has no integer %s", key);
    return (int64_t)json_integer_value(v);
}

static const char *vector_name(json_t *vec) {
    json_t *v = json_object_get(vec, "name");
    return json_is_string(v) ? json_string_value(v) : "?";
}

static void test_vectors_present(void **state) {
    (void)state;
    if (!vectors) fail_msg("no gridlock vectors loaded from %s", vectors_path ? vectors_path : "(no path given)");
    assert_true(json_array_size(vectors) >= 6);
}

static void test_vectors_fifo(void **state) {
    (void)state;
    struct ortak_lsm_workspace ws;
    assert_int_equal(ortak_lsm_workspace_init(&ws, MAX_PAY, MAX_PART), ORTAK_OK);
    size_t k;
    json_t *vec;
    json_array_foreach(vectors, k, vec) {
        struct tinst t;
        uint8_t sel[MAX_PAY];
        vector_instance(vec, 0, &t);
        struct ortak_lsm_result r = {.selected = sel};
        assert_int_equal(ortak_lsm_fifo(&ws, &t.in, &r), ORTAK_OK);
        json_t *want = json_object_get(vec, "fifo");
        uint32_t count = 0;
        for (uint32_t j = 0; j < t.in.payment_count; j++) {
            if (sel[j] != id_listed(want, t.id[j]))
                fail_msg("%s: fifo %s payment %s", vector_name(vec), sel[j] ? "selects" : "leaves out", t.id[j]);
            count += sel[j];
        }
        assert_int_equal(count, json_array_size(want));
        assert_int_equal(r.count, count);
        assert_i128_eq(r.value, vector_int(vec, "fifo_value"), vector_name(vec));
    }
    ortak_lsm_workspace_free(&ws);
}

static void test_vectors_exact(void **state) {
    (void)state;
    size_t k;
    json_t *vec;
    json_array_foreach(vectors, k, vec) {
        struct tinst t;
        uint8_t sel[MAX_PAY];
        struct ortak_lsm_result r = {.selected = sel};
        struct ortak_lsm_exact_info info;
        vector_instance(vec, ORTAK_LSM_MAY_BYPASS, &t);
        assert_int_equal(ortak_lsm_exact(&t.in, ORTAK_LSM_ORDER_FLAGS, EXACT_MS, NULL, &r, &info), ORTAK_OK);
        assert_true(info.proven_optimal);
        assert_i128_eq(r.value, vector_int(vec, "opt_value"), vector_name(vec));
        assert_i128_eq(info.bound, r.value, "bound of a proven optimum");
        assert_int_equal(ortak_lsm_exact(&t.in, ORTAK_LSM_ORDER_FIFO, EXACT_MS, NULL, &r, &info), ORTAK_OK);
        assert_i128_eq(r.value, vector_int(vec, "fifo_value"), vector_name(vec));
    }
}

static void test_vectors_bypass(void **state) {
    (void)state;
    struct ortak_lsm_workspace ws;
    assert_int_equal(ortak_lsm_workspace_init(&ws, MAX_PAY, MAX_PART), ORTAK_OK);
    size_t k;
    json_t *vec;
    json_array_foreach(vectors, k, vec) {
        struct tinst t;
        uint8_t sel[MAX_PAY];
        struct ortak_lsm_result r = {.selected = sel};
        struct ortak_lsm_bypass_stats st;
        vector_instance(vec, ORTAK_LSM_MAY_BYPASS, &t);
        assert_int_equal(ortak_lsm_bypass(&ws, &t.in, ORTAK_LSM_BUDGET_DEFAULT, &r, &st), ORTAK_OK);
        assert_i128_eq(r.value, vector_int(vec, "opt_value"), vector_name(vec));
        assert_i128_eq(st.fifo_value, vector_int(vec, "fifo_value"), "bypass's fifo start");
        assert_int_equal(ortak_lsm_verify(&ws, &t.in, ORTAK_LSM_ORDER_FLAGS, sel, NULL), ORTAK_OK);
    }
    ortak_lsm_workspace_free(&ws);
}

/* ---- random instances against brute force ---------------------------------------------------------------- */

static uint32_t rng_below(uint64_t *s, uint32_t n) { return (uint32_t)ortak_rng_below(s, n); }

/*
 * A random instance: 2-5 participants, 0-12 payments, values from 1 to 9,999 times 1, 10 or 100 (so that some
 * dwarf others), balances often 0 and otherwise about one payment, and flags all set, none set or mixed.
 */
static void random_instance(uint64_t *rng, struct tinst *t) {
    memset(t, 0, sizeof *t);
    uint32_t n = 2 + rng_below(rng, 4), m = rng_below(rng, RANDOM_PAY_MAX + 1), flags_mode = rng_below(rng, 3);
    for (uint32_t i = 0; i < n; i++) t->balance[i] = rng_below(rng, 3) ? 0 : 1 + rng_below(rng, 150);
    for (uint32_t j = 0; j < m; j++) {
        struct ortak_lsm_payment *p = &t->pay[j];
        p->payer = rng_below(rng, n);
        p->payee = (p->payer + 1 + rng_below(rng, n - 1)) % n;
        p->value = (1 + (int64_t)rng_below(rng, 99)) * (int64_t)(rng_below(rng, 4) ? 1 : 10);
        bool bypass = flags_mode == 0 || (flags_mode == 2 && rng_below(rng, 2));
        p->flags = bypass ? ORTAK_LSM_MAY_BYPASS : 0;
    }
    t->in = (struct ortak_lsm_instance){t->balance, t->pay, n, m};
}

/* Whether the subset `mask` is feasible under `order`, computed independently of the library. */
static bool brute_feasible(const struct tinst *t, uint32_t mask, enum ortak_lsm_order order, ortak_i128 *value) {
    ortak_i128 pos[MAX_PART];
    bool gap[MAX_PART] = {false};
    *value = 0;
    for (uint32_t i = 0; i < t->in.participant_count; i++) pos[i] = t->balance[i];
    for (uint32_t j = 0; j < t->in.payment_count; j++) {
        const struct ortak_lsm_payment *p = &t->pay[j];
        bool keeps = order == ORTAK_LSM_ORDER_FIFO || !(p->flags & ORTAK_LSM_MAY_BYPASS);
        if (!(mask >> j & 1u)) {
            gap[p->payer] = true;
            continue;
        }
        if (keeps && gap[p->payer]) return false;
        pos[p->payer] -= p->value;
        pos[p->payee] += p->value;
        *value += p->value;
    }
    for (uint32_t i = 0; i < t->in.participant_count; i++) {
        if (pos[i] < 0) return false;
    }
    return true;
}

/* The best value over every subset, and how many subsets reach it (with their mask in *argmax). */
static ortak_i128 brute_best(const struct tinst *t, enum ortak_lsm_order order, uint32_t *argmax, uint32_t *ties) {
    ortak_i128 best = -1, v;
    *ties = 0;
    for (uint32_t mask = 0; mask < (1u << t->in.payment_count); mask++) {
        if (!brute_feasible(t, mask, order, &v) || v < best) continue;
        *ties = v == best ? *ties + 1 : 1;
        if (v > best) *argmax = mask;
        best = v;
    }
    return best;
}

static uint32_t mask_of(const uint8_t *sel, uint32_t m) {
    uint32_t mask = 0;
    for (uint32_t j = 0; j < m; j++) mask |= (uint32_t)(sel[j] != 0) << j;
    return mask;
}

/* One random instance: every solver against brute force. Returns whether bypass found the optimum. */
static bool random_case(struct ortak_lsm_workspace *ws, uint64_t *rng, uint32_t k) {
    struct tinst t;
    random_instance(rng, &t);
    uint32_t m = t.in.payment_count, fifo_mask = 0, flags_mask = 0, ties = 0;
    uint8_t sel[MAX_PAY];
    struct ortak_lsm_result r = {.selected = sel};
    struct ortak_lsm_exact_info info;
    char where[32];
    snprintf(where, sizeof where, "random instance %u", k);
    ortak_i128 fifo_best = brute_best(&t, ORTAK_LSM_ORDER_FIFO, &fifo_mask, &ties);
    /* Values are positive, so the FIFO optimum is the unique maximal selection, and fifo must return it. */
    assert_int_equal(ties, 1);
    assert_int_equal(ortak_lsm_fifo(ws, &t.in, &r), ORTAK_OK);
    assert_i128_eq(r.value, fifo_best, where);
    assert_int_equal(mask_of(sel, m), fifo_mask);
    assert_int_equal(ortak_lsm_exact(&t.in, ORTAK_LSM_ORDER_FIFO, EXACT_MS, NULL, &r, &info), ORTAK_OK);
    assert_true(info.proven_optimal);
    assert_i128_eq(r.value, fifo_best, where);
    ortak_i128 flags_best = brute_best(&t, ORTAK_LSM_ORDER_FLAGS, &flags_mask, &ties);
    assert_int_equal(ortak_lsm_exact(&t.in, ORTAK_LSM_ORDER_FLAGS, EXACT_MS, NULL, &r, &info), ORTAK_OK);
    assert_true(info.proven_optimal && !info.polished && !info.repaired);
    assert_i128_eq(r.value, flags_best, where);
    assert_i128_eq(info.bound, flags_best, where);
    assert_int_equal(ortak_lsm_verify(ws, &t.in, ORTAK_LSM_ORDER_FLAGS, sel, NULL), ORTAK_OK);
    assert_int_equal(ortak_lsm_bypass(ws, &t.in, ORTAK_LSM_BUDGET_DEFAULT / 16, &r, NULL), ORTAK_OK);
    assert_int_equal(ortak_lsm_verify(ws, &t.in, ORTAK_LSM_ORDER_FLAGS, sel, NULL), ORTAK_OK);
    ortak_i128 v;
    assert_true(brute_feasible(&t, mask_of(sel, m), ORTAK_LSM_ORDER_FLAGS, &v) && v == r.value);
    assert_true(r.value >= fifo_best && r.value <= flags_best);
    return r.value == flags_best;
}

static void test_random_against_brute_force(void **state) {
    (void)state;
    struct ortak_lsm_workspace ws;
    assert_int_equal(ortak_lsm_workspace_init(&ws, MAX_PAY, MAX_PART), ORTAK_OK);
    uint64_t rng = 20240601;
    uint32_t optimal = 0;
    for (uint32_t k = 0; k < RANDOM_INSTANCES; k++) optimal += random_case(&ws, &rng, k);
    print_message("bypass found the optimum on %u of %u random instances\n", optimal, RANDOM_INSTANCES);
    ortak_lsm_workspace_free(&ws);
}

/* ---- properties ------------------------------------------------------------------------------------------- */

/* A gridlocked instance of m payments among n participants (n, m <= the arrays' sizes). */
static void gridlock_instance(uint64_t *rng, uint32_t n, uint32_t m, int64_t *balance, struct ortak_lsm_payment *pay) {
    for (uint32_t i = 0; i < n; i++) balance[i] = 0;
    for (uint32_t j = 0; j < m; j++) {
        uint32_t a = rng_below(rng, n), b = (a + 1 + rng_below(rng, n - 1)) % n;
        uint32_t k = (uint32_t)__builtin_ctzll(ortak_rng_next(rng) | (UINT64_C(1) << 12));
        pay[j] = (struct ortak_lsm_payment){(int64_t)(100 + rng_below(rng, 900)) << k, a, b, ORTAK_LSM_MAY_BYPASS};
        if (rng_below(rng, 5) == 0) pay[j].flags = 0;
        balance[a] += pay[j].value / 8;
    }
}

enum { BIG_N = 12, BIG_M = 300 };

static void test_bypass_deterministic_and_allocation_free(void **state) {
    (void)state;
    static int64_t balance[BIG_N];
    static struct ortak_lsm_payment pay[BIG_M];
    static uint8_t a[BIG_M], b[BIG_M];
    uint64_t rng = 7;
    gridlock_instance(&rng, BIG_N, BIG_M, balance, pay);
    struct ortak_lsm_instance in = {balance, pay, BIG_N, BIG_M};
    struct ortak_lsm_workspace ws;
    assert_int_equal(ortak_lsm_workspace_init(&ws, BIG_M, BIG_N), ORTAK_OK);
    struct ortak_lsm_result ra = {.selected = a}, rb = {.selected = b};
    struct mallinfo2 before = mallinfo2();
    assert_int_equal(ortak_lsm_fifo(&ws, &in, &ra), ORTAK_OK);
    assert_int_equal(ortak_lsm_bypass(&ws, &in, 200000, &ra, NULL), ORTAK_OK);
    assert_int_equal(ortak_lsm_bypass(&ws, &in, 200000, &rb, NULL), ORTAK_OK);
    struct mallinfo2 after = mallinfo2();
    /* Nothing was taken from the heap (under a sanitizer these counters may all read 0; the check still holds). */
    assert_int_equal(before.uordblks, after.uordblks);
    assert_int_equal(before.hblkhd, after.hblkhd);
    assert_memory_equal(a, b, BIG_M);
    assert_i128_eq(ra.value, rb.value, "same instance, same budget");
    ortak_lsm_workspace_free(&ws);
}

/* The search is deterministic and keeps the best selection it saw, so more budget never gives less. */
static void test_bypass_budget_monotone(void **state) {
    (void)state;
    static int64_t balance[BIG_N];
    static struct ortak_lsm_payment pay[BIG_M];
    static uint8_t sel[BIG_M];
    uint64_t rng = 11;
    gridlock_instance(&rng, BIG_N, BIG_M, balance, pay);
    struct ortak_lsm_instance in = {balance, pay, BIG_N, BIG_M};
    struct ortak_lsm_workspace ws;
    assert_int_equal(ortak_lsm_workspace_init(&ws, BIG_M, BIG_N), ORTAK_OK);
    struct ortak_lsm_result r = {.selected = sel};
    struct ortak_lsm_bypass_stats st;
    ortak_i128 last = -1;
    static const uint64_t budgets[] = {0, 1000, 20000, 300000, 3000000};
    for (size_t k = 0; k < sizeof budgets / sizeof budgets[0]; k++) {
        assert_int_equal(ortak_lsm_bypass(&ws, &in, budgets[k], &r, &st), ORTAK_OK);
        assert_int_equal(ortak_lsm_verify(&ws, &in, ORTAK_LSM_ORDER_FLAGS, sel, NULL), ORTAK_OK);
        assert_true(r.value >= st.fifo_value && r.value >= st.greedy_value && r.value >= last);
        if (budgets[k] == 0) assert_i128_eq(r.value, st.greedy_value, "no budget: construction only");
        last = r.value;
    }
    ortak_lsm_workspace_free(&ws);
}

/*
 * 2^60 + 1 is not a double: CBC sees the payment as exactly the payer's balance, 2^60, and settles it. The
 * integer check must catch that and drop it.
 */
static void test_exact_values_beyond_double(void **state) {
    (void)state;
    int64_t balance[2] = {INT64_C(1) << 60, 0};
    struct ortak_lsm_payment pay[1] = {{(INT64_C(1) << 60) + 1, 0, 1, ORTAK_LSM_MAY_BYPASS}};
    struct ortak_lsm_instance in = {balance, pay, 2, 1};
    uint8_t sel[1];
    struct ortak_lsm_result r = {.selected = sel};
    struct ortak_lsm_exact_info info;
    assert_int_equal(ortak_lsm_exact(&in, ORTAK_LSM_ORDER_FLAGS, EXACT_MS, NULL, &r, &info), ORTAK_OK);
    assert_int_equal(sel[0], 0);
    assert_i128_eq(r.value, 0, "nothing can settle");
    assert_true(info.repaired && !info.proven_optimal);
    /* Big values that do fit: every sum is 128-bit, so INT64_MAX payments around a ring all settle. */
    int64_t rich[3] = {INT64_MAX, 0, 0};
    struct ortak_lsm_payment ring[3] = {{INT64_MAX, 0, 1, 0}, {INT64_MAX, 1, 2, 0}, {INT64_MAX, 2, 0, 0}};
    struct ortak_lsm_instance big = {rich, ring, 3, 3};
    uint8_t s3[3];
    struct ortak_lsm_result r3 = {.selected = s3};
    struct ortak_lsm_workspace ws;
    assert_int_equal(ortak_lsm_workspace_init(&ws, 3, 3), ORTAK_OK);
    assert_int_equal(ortak_lsm_fifo(&ws, &big, &r3), ORTAK_OK);
    assert_i128_eq(r3.value, (ortak_i128)INT64_MAX * 3, "ring of INT64_MAX");
    assert_int_equal(ortak_lsm_bypass(&ws, &big, 1000, &r3, NULL), ORTAK_OK);
    assert_i128_eq(r3.value, (ortak_i128)INT64_MAX * 3, "ring of INT64_MAX, bypass");
    assert_int_equal(ortak_lsm_exact(&big, ORTAK_LSM_ORDER_FIFO, EXACT_MS, NULL, &r3, &info), ORTAK_OK);
    assert_i128_eq(r3.value, (ortak_i128)INT64_MAX * 3, "ring of INT64_MAX, exact");
    ortak_lsm_workspace_free(&ws);
}

/* A selection that breaks both rules is cut back to a feasible subset of itself. */
static void test_repair_selection(void **state) {
    (void)state;
    int64_t balance[3] = {5, 0, 0};
    struct ortak_lsm_payment pay[4] = {
        {10, 0, 1, 0}, /* unaffordable head of A's queue */
        {3, 0, 2, 0},  /* keeps its place: cannot settle without the head */
        {4, 1, 2, ORTAK_LSM_MAY_BYPASS},
        {2, 2, 0, ORTAK_LSM_MAY_BYPASS},
    };
    struct ortak_lsm_instance in = {balance, pay, 3, 4};
    uint8_t sel[4] = {0, 1, 1, 1};
    struct ortak_lsm_workspace ws;
    assert_int_equal(ortak_lsm_workspace_init(&ws, 4, 3), ORTAK_OK);
    assert_int_equal(ortak_lsm_verify(&ws, &in, ORTAK_LSM_ORDER_FLAGS, sel, NULL), ORTAK_INVALID);
    uint8_t funds[4] = {1, 0, 0, 0};
    assert_int_equal(ortak_lsm_verify(&ws, &in, ORTAK_LSM_ORDER_FLAGS, funds, NULL), ORTAK_INSUFFICIENT_FUNDS);
    struct ortak_lsm_result r = {.selected = sel};
    assert_int_equal(ortak__lsm_repair_selection(&ws, &in, ORTAK_LSM_ORDER_FLAGS, &r), ORTAK_OK);
    assert_int_equal(sel[1], 0); /* order rule */
    assert_int_equal(sel[2], 0); /* B has nothing to pay 4 with */
    assert_int_equal(sel[3], 0); /* C then has nothing either */
    assert_int_equal(ortak_lsm_verify(&ws, &in, ORTAK_LSM_ORDER_FLAGS, sel, NULL), ORTAK_OK);
    /* The local search from there finds nothing: A's head is too big and A's second payment needs it; B and C
     * have nothing to pay with. */
    assert_int_equal(ortak__lsm_improve_selection(&ws, &in, ORTAK_LSM_ORDER_FLAGS, 100000, &r), ORTAK_OK);
    assert_i128_eq(r.value, 0, "nothing can settle here");
    balance[1] = 4; /* now B can pay C 4, and C then A 2 */
    assert_int_equal(ortak__lsm_improve_selection(&ws, &in, ORTAK_LSM_ORDER_FLAGS, 100000, &r), ORTAK_OK);
    assert_i128_eq(r.value, 6, "B pays C, C pays A");
    assert_true(sel[2] && sel[3] && !sel[0] && !sel[1]);
    /* The improving search refuses an infeasible start. */
    memset(sel, 1, sizeof sel);
    assert_int_equal(ortak__lsm_improve_selection(&ws, &in, ORTAK_LSM_ORDER_FLAGS, 100000, &r),
                     ORTAK_INSUFFICIENT_FUNDS);
    ortak_lsm_workspace_free(&ws);
}

static void test_exact_start_and_tiny_limit(void **state) {
    (void)state;
    static int64_t balance[BIG_N];
    static struct ortak_lsm_payment pay[BIG_M];
    static uint8_t start[BIG_M], sel[BIG_M];
    uint64_t rng = 13;
    gridlock_instance(&rng, BIG_N, BIG_M, balance, pay);
    struct ortak_lsm_instance in = {balance, pay, BIG_N, BIG_M};
    struct ortak_lsm_workspace ws;
    assert_int_equal(ortak_lsm_workspace_init(&ws, BIG_M, BIG_N), ORTAK_OK);
    struct ortak_lsm_result rs = {.selected = start}, r = {.selected = sel};
    struct ortak_lsm_exact_info info;
    assert_int_equal(ortak_lsm_bypass(&ws, &in, 100000, &rs, NULL), ORTAK_OK);
    assert_int_equal(ortak_lsm_exact(&in, ORTAK_LSM_ORDER_FLAGS, 1, start, &r, &info), ORTAK_OK);
    assert_true(r.value >= rs.value && r.value <= info.bound);
    assert_int_equal(ortak_lsm_verify(&ws, &in, ORTAK_LSM_ORDER_FLAGS, sel, NULL), ORTAK_OK);
    /* An infeasible start is refused. */
    memset(start, 1, sizeof start);
    assert_int_equal(ortak_lsm_exact(&in, ORTAK_LSM_ORDER_FLAGS, 1, start, &r, &info), ORTAK_INVALID);
    ortak_lsm_workspace_free(&ws);
}

static void test_empty_instances(void **state) {
    (void)state;
    int64_t balance[3] = {1, 2, 3};
    uint8_t sel[1] = {7};
    struct ortak_lsm_result r = {.selected = sel, .count = 9, .value = 9};
    struct ortak_lsm_exact_info info;
    struct ortak_lsm_workspace ws;
    assert_int_equal(ortak_lsm_workspace_init(&ws, 1, 3), ORTAK_OK);
    struct ortak_lsm_instance nothing = {NULL, NULL, 0, 0}, idle = {balance, NULL, 3, 0};
    for (int k = 0; k < 2; k++) {
        const struct ortak_lsm_instance *in = k ? &idle : &nothing;
        assert_int_equal(ortak_lsm_fifo(&ws, in, &r), ORTAK_OK);
        assert_true(r.count == 0 && r.value == 0);
        assert_int_equal(ortak_lsm_bypass(&ws, in, 1000, &r, NULL), ORTAK_OK);
        assert_true(r.count == 0 && r.value == 0);
        assert_int_equal(ortak_lsm_exact(in, ORTAK_LSM_ORDER_FLAGS, 1000, NULL, &r, &info), ORTAK_OK);
        assert_true(r.count == 0 && r.value == 0 && info.proven_optimal && info.bound == 0);
    }
    ortak_lsm_workspace_free(&ws);
}

static void test_error_codes(void **state) {
    (void)state;
    struct ortak_lsm_workspace ws;
    assert_int_equal(ortak_lsm_workspace_init(&ws, 0, 3), ORTAK_INVALID);
    assert_int_equal(ortak_lsm_workspace_init(&ws, 3, 0), ORTAK_INVALID);
    assert_int_equal(ortak_lsm_workspace_init(&ws, ORTAK_LSM_PAYMENTS_LIMIT + 1, 3), ORTAK_INVALID);
    assert_int_equal(ortak_lsm_workspace_init(&ws, 3, ORTAK_LSM_PARTICIPANTS_LIMIT + 1), ORTAK_INVALID);
    ortak_lsm_workspace_free(&ws); /* safe on the emptied workspace */
    assert_int_equal(ortak_lsm_workspace_init(&ws, 2, 2), ORTAK_OK);
    int64_t balance[3] = {0, 0, 0};
    struct ortak_lsm_payment pay[3] = {{5, 0, 1, 0}, {5, 1, 0, 0}, {5, 0, 1, 0}};
    struct ortak_lsm_instance in = {balance, pay, 2, 2};
    uint8_t sel[3];
    struct ortak_lsm_result r = {.selected = sel};
    assert_int_equal(ortak_lsm_instance_check(&ws, &in), ORTAK_OK);
    assert_int_equal(ortak_lsm_fifo(&ws, &in, &r), ORTAK_OK);
    assert_i128_eq(r.value, 10, "two-payment cycle");
    pay[0].payee = 0;
    assert_int_equal(ortak_lsm_instance_check(&ws, &in), ORTAK_SAME_ACCOUNT);
    pay[0].payee = 2;
    assert_int_equal(ortak_lsm_instance_check(&ws, &in), ORTAK_INVALID);
    pay[0].payee = 1;
    pay[0].value = 0;
    assert_int_equal(ortak_lsm_fifo(&ws, &in, &r), ORTAK_AMOUNT_ZERO);
    pay[0].value = -1;
    assert_int_equal(ortak_lsm_bypass(&ws, &in, 10, &r, NULL), ORTAK_NEGATIVE_AMOUNT);
    pay[0].value = 5;
    pay[0].flags = 2;
    assert_int_equal(ortak_lsm_instance_check(&ws, &in), ORTAK_INVALID);
    pay[0].flags = 0;
    balance[1] = -1;
    assert_int_equal(ortak_lsm_exact(&in, ORTAK_LSM_ORDER_FLAGS, 10, NULL, &r, NULL), ORTAK_NEGATIVE_AMOUNT);
    balance[1] = 0;
    in.payment_count = 3; /* more than the workspace holds */
    assert_int_equal(ortak_lsm_fifo(&ws, &in, &r), ORTAK_INVALID);
    in.payment_count = 2;
    assert_int_equal(ortak_lsm_fifo(NULL, &in, &r), ORTAK_INVALID);
    assert_int_equal(ortak_lsm_fifo(&ws, NULL, &r), ORTAK_INVALID);
    assert_int_equal(ortak_lsm_bypass(&ws, &in, 10, NULL, NULL), ORTAK_INVALID);
    assert_int_equal(ortak_lsm_exact(&in, ORTAK_LSM_ORDER_FLAGS, 10, NULL, NULL, NULL), ORTAK_INVALID);
    struct ortak_lsm_instance no_arrays = {NULL, NULL, 2, 2};
    assert_int_equal(ortak_lsm_instance_check(&ws, &no_arrays), ORTAK_INVALID);
    assert_int_equal(ortak_lsm_verify(&ws, &in, ORTAK_LSM_ORDER_FIFO, NULL, NULL), ORTAK_INVALID);
    ortak_lsm_workspace_free(&ws);
}

/*
 * CoinUtils' presolve, which CBC runs, leaks a few hundred bytes on some models (implied_free_action and
 * doubleton_action keep arrays they never free). That is not ortak's to fix, so LeakSanitizer ignores leaks
 * allocated through C++ operator new: in ortak only CBC and the COIN-OR libraries under it are C++, and since
 * they are built without frame pointers, a recorded allocation stack ends at operator new. Sanitizer builds
 * call this hook; others never do.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:operator new\n"; }

/* ---- main ------------------------------------------------------------------------------------------------- */

/* Loads the vectors; on failure says why on stderr and leaves `vectors` NULL, which fails the vector tests. */
static void load_vectors(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "test_lsm: FAIL: give the path of lsm/vectors.json (../shared/data) as the argument\n");
        return;
    }
    vectors_path = argv[1];
    json_error_t err;
    vectors = json_load_file(vectors_path, JSON_REJECT_DUPLICATES, &err);
    if (!vectors) {
        fprintf(stderr, "test_lsm: FAIL: cannot read gridlock vectors %s: %s (line %d)\n", vectors_path, err.text,
                err.line);
    } else if (!json_is_array(vectors) || json_array_size(vectors) == 0) {
        fprintf(stderr, "test_lsm: FAIL: %s is not a non-empty JSON array of vectors\n", vectors_path);
        json_decref(vectors);
        vectors = NULL;
    }
}

static int need_vectors(void **state) {
    (void)state;
    if (!vectors) {
        fprintf(stderr, "test_lsm: gridlock vectors missing (%s): this test cannot pass without them\n",
                vectors_path ? vectors_path : "no path given");
        return -1; /* cmocka reports the test as failed in setup */
    }
    return 0;
}

int main(int argc, char **argv) {
    load_vectors(argc, argv);
#define V(fn) cmocka_unit_test_setup(fn, need_vectors)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_present),
        V(test_vectors_fifo),
        V(test_vectors_exact),
        V(test_vectors_bypass),
        cmocka_unit_test(test_random_against_brute_force),
        cmocka_unit_test(test_bypass_deterministic_and_allocation_free),
        cmocka_unit_test(test_bypass_budget_monotone),
        cmocka_unit_test(test_exact_values_beyond_double),
        cmocka_unit_test(test_repair_selection),
        cmocka_unit_test(test_exact_start_and_tiny_limit),
        cmocka_unit_test(test_empty_instances),
        cmocka_unit_test(test_error_codes),
    };
#undef V
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    bool loaded = vectors != NULL;
    json_decref(vectors);
    return failed || !loaded ? 1 : 0;
}
