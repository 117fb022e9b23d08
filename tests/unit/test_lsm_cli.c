/*
 * `ortak lsm solve` end to end: the binary runs in its own process on instance files, and its one line of JSON
 * is parsed and checked here, independently of the library.
 *
 *   - Known answers: every vector of ../shared/data/lsm/vectors.json, written to its own file, in each mode:
 *     fifo returns exactly the `fifo` set (in input order) and `fifo_value`; exact returns `opt_value`, proven;
 *     bypass reaches `opt_value`; under --order fifo, exact and bypass return `fifo_value`.
 *   - Brute force: seeded random instances (up to 12 payments, 2-5 participants) against every subset: fifo
 *     returns the maximal queue-keeping selection, exact the optimum with and without --order fifo, and bypass
 *     a feasible selection between the two.
 *   - Every answer is checked for feasibility (positions recomputed here), value, count and id order.
 *   - Malformed instances and bad arguments: exit 2 (74 for an unreadable file) with the problem named on
 *     stderr and nothing on stdout; limits on size and counts; ids that need escaping; values beyond 2^63.
 *
 * Usage: test_lsm_cli PATH-TO-ortak PATH-TO-lsm/vectors.json
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/rng.h"
#include <cmocka.h>
#include <jansson.h>

#include "test_cli.h"

#define MAX_PAY 16u
#define MAX_PART 16u
/* Random instances compared with brute force (four runs of the binary each), and their largest size. */
#define RANDOM_INSTANCES 200u
#define RANDOM_PAY_MAX 12u
/* Enough for bypass to find the optimum on most small instances, and quick even in a sanitizer build. */
#define RANDOM_BUDGET "125000"

/* snprintf into an array that must not truncate (a truncated path would test something else). */
#define FMT(buf, ...) assert_true((size_t)snprintf((buf), sizeof(buf), __VA_ARGS__) < sizeof(buf))

static const char *ortak_bin, *vectors_path;
static json_t *vectors;
static char tmp_dir[256];

/* An instance as the test sees it: enough to recompute positions. */
struct tinst {
    uint32_t n, m;
    int64_t balance[MAX_PART];
    uint32_t payer[MAX_PAY], payee[MAX_PAY];
    int64_t value[MAX_PAY];
    char id[MAX_PAY][16];
};

/* ---- running the binary --------------------------------------------------------------------------------- */

static void tmp_path(char *out, size_t cap, const char *name) {
    assert_true((size_t)snprintf(out, cap, "%s/%s", tmp_dir, name) < cap);
}

/* Runs `ortak lsm solve ARGS...` with stdin from `in` (NULL: /dev/null), capturing stdout and stderr apart. */
#define RUN(r, in, ...) tu_run((r), ortak_bin, (const char *const[]){"lsm", "solve", __VA_ARGS__, NULL}, (in), tmp_dir)

/* Writes `text` to a file in the temporary directory; returns its path (a static buffer of one of two). */
static const char *write_file(const char *name, const char *text) {
    static char paths[2][300];
    static int k;
    char *path = paths[k++ & 1];
    tmp_path(path, 300, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    return path;
}

/* ---- answers ------------------------------------------------------------------------------------------- */

static int64_t int_field(json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v)) fail_msg("no integer \"%s\"", key);
    return (int64_t)json_integer_value(v);
}

/*
 * The answer of a successful run: exit 0, nothing on stderr, one JSON object on one line with the mode, the
 * settled ids, their count and value, and elapsed_us (plus proven_optimal and bound in exact mode).
 */
static json_t *answer(const struct tu_run *r, const char *mode) {
    if (r->code != 0) fail_msg("exit %d, stderr: %s", r->code, r->err);
    assert_string_equal(r->err, "");
    size_t len = strlen(r->out);
    assert_true(len > 0 && r->out[len - 1] == '\n' && strchr(r->out, '\n') == r->out + len - 1);
    json_error_t e;
    json_t *a = json_loads(r->out, JSON_REJECT_DUPLICATES, &e);
    if (!json_is_object(a)) fail_msg("stdout is not a JSON object (%s): %s", e.text, r->out);
    assert_string_equal(json_string_value(json_object_get(a, "mode")), mode);
    json_t *settled = json_object_get(a, "settled");
    assert_true(json_is_array(settled));
    assert_int_equal(int_field(a, "count"), json_array_size(settled));
    assert_true(int_field(a, "value") >= 0 && int_field(a, "elapsed_us") >= 0);
    bool exact = strcmp(mode, "exact") == 0;
    assert_int_equal(json_is_boolean(json_object_get(a, "proven_optimal")), exact);
    assert_int_equal(json_is_integer(json_object_get(a, "bound")), exact);
    if (exact) assert_true(int_field(a, "bound") >= int_field(a, "value"));
    assert_int_equal(json_object_size(a), exact ? 7 : 5);
    return a;
}

/* The settled ids as a mask of t's payments; fails unless each is known, listed once and in input order. */
static uint32_t settled_mask(const struct tinst *t, json_t *a) {
    json_t *settled = json_object_get(a, "settled"), *v;
    size_t k;
    uint32_t mask = 0, next = 0;
    json_array_foreach(settled, k, v) {
        assert_true(json_is_string(v));
        uint32_t j = next;
        while (j < t->m && strcmp(t->id[j], json_string_value(v)) != 0) j++;
        if (j == t->m) fail_msg("settled id %s unknown, repeated or out of input order", json_string_value(v));
        mask |= UINT32_C(1) << j;
        next = j + 1;
    }
    return mask;
}

/*
 * Whether the selection `mask` is feasible (every position >= 0; with `fifo`, a payment settles only after
 * every payment its payer queued before it), computed here from the instance alone.
 */
static bool feasible(const struct tinst *t, uint32_t mask, bool fifo, int64_t *value) {
    __int128 pos[MAX_PART], sum = 0;
    bool gap[MAX_PART] = {false};
    for (uint32_t i = 0; i < t->n; i++) pos[i] = t->balance[i];
    for (uint32_t j = 0; j < t->m; j++) {
        if (!(mask >> j & 1u)) {
            gap[t->payer[j]] = true;
            continue;
        }
        if (fifo && gap[t->payer[j]]) return false;
        pos[t->payer[j]] -= t->value[j];
        pos[t->payee[j]] += t->value[j];
        sum += t->value[j];
    }
    for (uint32_t i = 0; i < t->n; i++) {
        if (pos[i] < 0) return false;
    }
    *value = (int64_t)sum;
    return true;
}

/* What one checked run returned. */
struct solved {
    uint32_t mask;
    int64_t value;
    int64_t bound; /* exact only */
    bool proven;   /* exact only */
};

/*
 * Runs `ortak lsm solve --mode MODE [--order fifo] [--budget B] FILE` on t's instance (FILE "-" reads `path`
 * from stdin) and checks the answer: feasible under its order rule, with the value and count it claims.
 */
static struct solved solve_checked(const struct tinst *t, const char *path, bool use_stdin, const char *mode,
                                   bool fifo_order, const char *budget) {
    const char *args[12] = {"lsm", "solve", "--mode", mode};
    size_t n = 4;
    if (fifo_order) {
        args[n++] = "--order";
        args[n++] = "fifo";
    }
    if (budget) {
        args[n++] = "--budget";
        args[n++] = budget;
    }
    args[n++] = use_stdin ? "-" : path;
    args[n] = NULL;
    struct tu_run r;
    tu_run(&r, ortak_bin, args, use_stdin ? path : NULL, tmp_dir);
    json_t *a = answer(&r, mode);
    struct solved s = {.mask = settled_mask(t, a)};
    int64_t value;
    if (!feasible(t, s.mask, fifo_order || strcmp(mode, "fifo") == 0, &value))
        fail_msg("%s%s: infeasible answer %s", mode, fifo_order ? " --order fifo" : "", r.out);
    assert_int_equal(int_field(a, "value"), value);
    s.value = value;
    if (strcmp(mode, "exact") == 0) {
        s.bound = int_field(a, "bound");
        s.proven = json_is_true(json_object_get(a, "proven_optimal"));
    }
    json_decref(a);
    tu_run_free(&r);
    return s;
}

/* ---- vectors.json -------------------------------------------------------------------------------------- */

static uint32_t participant_index(json_t *balances, const char *name) {
    uint32_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach(balances, key, v) {
        if (strcmp(key, name) == 0) return i;
        i++;
    }
    fail_msg("vector names an unknown participant %s", name);
    return 0;
}

/* The test's view of one vector; fails the test on malformed data. */
static void vector_instance(json_t *vec, struct tinst *t) {
    memset(t, 0, sizeof *t);
    json_t *balances = json_object_get(vec, "B"), *pays = json_object_get(vec, "pays"), *v;
    if (!json_is_object(balances) || !json_is_array(pays)) fail_msg("vector without B or pays");
    if (json_object_size(balances) > MAX_PART || json_array_size(pays) > MAX_PAY) fail_msg("vector too large");
    const char *key;
    json_object_foreach(balances, key, v) t->balance[t->n++] = (int64_t)json_integer_value(v);
    size_t j;
    json_array_foreach(pays, j, v) {
        const char *id = json_string_value(json_array_get(v, 0));
        if (!id || strlen(id) >= sizeof t->id[0]) fail_msg("payment %zu has no short id", j);
        memcpy(t->id[j], id, strlen(id) + 1);
        t->payer[j] = participant_index(balances, json_string_value(json_array_get(v, 1)));
        t->payee[j] = participant_index(balances, json_string_value(json_array_get(v, 2)));
        t->value[j] = (int64_t)json_integer_value(json_array_get(v, 3));
        t->m++;
    }
}

static uint32_t ids_mask(const struct tinst *t, json_t *ids) {
    uint32_t mask = 0;
    size_t k;
    json_t *v;
    json_array_foreach(ids, k, v) {
        uint32_t j = 0;
        while (j < t->m && strcmp(t->id[j], json_string_value(v)) != 0) j++;
        assert_true(j < t->m);
        mask |= UINT32_C(1) << j;
    }
    return mask;
}

static void test_vectors(void **state) {
    (void)state;
    char path[300];
    tmp_path(path, sizeof path, "vector.json");
    size_t k;
    json_t *vec;
    json_array_foreach(vectors, k, vec) {
        struct tinst t;
        vector_instance(vec, &t);
        const char *name = json_string_value(json_object_get(vec, "name"));
        int64_t fifo_value = int_field(vec, "fifo_value"), opt_value = int_field(vec, "opt_value");
        assert_int_equal(json_dump_file(vec, path, JSON_COMPACT), 0);
        /* The first vector goes through stdin. */
        struct solved s = solve_checked(&t, path, k == 0, "fifo", false, NULL);
        if (s.mask != ids_mask(&t, json_object_get(vec, "fifo"))) fail_msg("%s: fifo selects the wrong set", name);
        assert_int_equal(s.value, fifo_value);
        s = solve_checked(&t, path, false, "exact", false, NULL);
        if (s.value != opt_value || !s.proven || s.bound != opt_value) fail_msg("%s: exact misses the optimum", name);
        s = solve_checked(&t, path, false, "bypass", false, NULL);
        if (s.value != opt_value)
            fail_msg("%s: bypass settles %lld, not %lld", name, (long long)s.value, (long long)opt_value);
        s = solve_checked(&t, path, false, "exact", true, NULL);
        if (s.value != fifo_value || !s.proven) fail_msg("%s: exact --order fifo misses fifo_value", name);
        s = solve_checked(&t, path, false, "bypass", true, NULL);
        if (s.value != fifo_value) fail_msg("%s: bypass --order fifo misses fifo_value", name);
    }
}

/* ---- random instances against brute force ------------------------------------------------------------ */

static uint32_t rng_below(uint64_t *s, uint32_t n) { return (uint32_t)ortak_rng_below(s, n); }

/*
 * A random instance: 2-5 participants, 0-12 payments, values from 1 to 99, some times 10 (so that some dwarf
 * others), balances often 0 and otherwise about one payment. Written to `path` as an instance file.
 */
static void random_instance(uint64_t *rng, struct tinst *t, const char *path) {
    memset(t, 0, sizeof *t);
    t->n = 2 + rng_below(rng, 4);
    t->m = rng_below(rng, RANDOM_PAY_MAX + 1);
    json_t *b = json_object(), *pays = json_array();
    char name[8];
    for (uint32_t i = 0; i < t->n; i++) {
        t->balance[i] = rng_below(rng, 3) ? 0 : 1 + rng_below(rng, 150);
        FMT(name, "P%u", i);
        assert_int_equal(json_object_set_new(b, name, json_integer(t->balance[i])), 0);
    }
    for (uint32_t j = 0; j < t->m; j++) {
        t->payer[j] = rng_below(rng, t->n);
        t->payee[j] = (t->payer[j] + 1 + rng_below(rng, t->n - 1)) % t->n;
        t->value[j] = (1 + (int64_t)rng_below(rng, 99)) * (rng_below(rng, 4) ? 1 : 10);
        FMT(t->id[j], "r%u", j);
        char payer[8], payee[8];
        FMT(payer, "P%u", t->payer[j]);
        FMT(payee, "P%u", t->payee[j]);
        json_t *p = json_pack("[s,s,s,I]", t->id[j], payer, payee, (json_int_t)t->value[j]);
        assert_int_equal(json_array_append_new(pays, p), 0);
    }
    json_t *root = json_pack("{s:o,s:o}", "B", b, "pays", pays);
    assert_non_null(root);
    assert_int_equal(json_dump_file(root, path, JSON_COMPACT), 0);
    json_decref(root);
}

/* The best value over every subset feasible under the rule, how many subsets reach it, and one of them. */
static int64_t brute_best(const struct tinst *t, bool fifo, uint32_t *argmax, uint32_t *ties) {
    int64_t best = -1, v;
    *ties = 0;
    for (uint32_t mask = 0; mask < (UINT32_C(1) << t->m); mask++) {
        if (!feasible(t, mask, fifo, &v) || v < best) continue;
        *ties = v == best ? *ties + 1 : 1;
        if (v > best) *argmax = mask;
        best = v;
    }
    return best;
}

/* One random instance, every mode against brute force. Returns whether bypass found the optimum. */
static bool random_case(uint64_t *rng, uint32_t k, const char *path) {
    struct tinst t;
    random_instance(rng, &t, path);
    uint32_t fifo_mask = 0, any_mask = 0, ties = 0;
    int64_t fifo_best = brute_best(&t, true, &fifo_mask, &ties);
    /* Values are positive, so the FIFO optimum is the unique maximal selection: fifo must return exactly it. */
    assert_int_equal(ties, 1);
    struct solved s = solve_checked(&t, path, false, "fifo", false, NULL);
    if (s.mask != fifo_mask) fail_msg("random instance %u: fifo selects %#x, not %#x", k, s.mask, fifo_mask);
    s = solve_checked(&t, path, false, "exact", true, NULL);
    if (s.value != fifo_best || !s.proven) fail_msg("random instance %u: exact --order fifo is not optimal", k);
    int64_t any_best = brute_best(&t, false, &any_mask, &ties);
    s = solve_checked(&t, path, false, "exact", false, NULL);
    if (s.value != any_best || !s.proven || s.bound != any_best)
        fail_msg("random instance %u: exact settles %lld (bound %lld), the optimum is %lld", k, (long long)s.value,
                 (long long)s.bound, (long long)any_best);
    s = solve_checked(&t, path, false, "bypass", false, RANDOM_BUDGET);
    if (s.value > any_best || s.value < fifo_best)
        fail_msg("random instance %u: bypass settles %lld, outside [%lld, %lld]", k, (long long)s.value,
                 (long long)fifo_best, (long long)any_best);
    return s.value == any_best;
}

static void test_random_against_brute_force(void **state) {
    (void)state;
    char path[300];
    tmp_path(path, sizeof path, "random.json");
    uint64_t rng = 20240607;
    uint32_t optimal = 0;
    for (uint32_t k = 0; k < RANDOM_INSTANCES; k++) optimal += random_case(&rng, k, path);
    print_message("bypass found the optimum on %u of %u random instances\n", optimal, RANDOM_INSTANCES);
}

/* ---- malformed instances and bad arguments ------------------------------------------------------------ */

/* Expects exit `code`, nothing on stdout and a message on stderr that contains `needle`. */
static void expect_refusal(const struct tu_run *r, int code, const char *needle, const char *what) {
    if (r->code != code || r->out[0] || !strstr(r->err, needle))
        fail_msg("%s: exit %d (want %d), stdout \"%s\", stderr \"%s\" (want \"%s\" in it)", what, r->code, code, r->out,
                 r->err, needle);
}

#define GOOD "{\"B\": {\"A\": 10, \"B\": 0}, \"pays\": [[\"p1\", \"A\", \"B\", 5]]}"
#define PAYS(p) "{\"B\": {\"A\": 10, \"B\": 0}, \"pays\": [" p "]}"

static const struct bad_instance {
    const char *what, *text, *needle;
} bad_instances[] = {
    {"not JSON", "{\"B\": {\"A\": 1}, \"pays\": [", "line 1"},
    {"empty file", "", "line 1"},
    {"trailing bytes", GOOD " x", "line 1"},
    {"duplicate key", "{\"B\": {\"A\": 1, \"A\": 2}, \"pays\": []}", "duplicate"},
    {"an array of vectors", "[" GOOD "]", "array"},
    {"missing B", "{\"pays\": []}", "\"B\""},
    {"B not an object", "{\"B\": [10, 0], \"pays\": []}", "\"B\""},
    {"missing pays", "{\"B\": {\"A\": 10}}", "\"pays\""},
    {"negative balance", "{\"B\": {\"A\": -1, \"B\": 0}, \"pays\": []}", "balance"},
    {"real balance", "{\"B\": {\"A\": 10.0, \"B\": 0}, \"pays\": []}", "balance"},
    {"balance beyond INT64_MAX", "{\"B\": {\"A\": 9223372036854775808}, \"pays\": []}", "line 1"},
    {"zero value", PAYS("[\"p1\", \"A\", \"B\", 0]"), "value"},
    {"negative value", PAYS("[\"p1\", \"A\", \"B\", -5]"), "value"},
    {"real value", PAYS("[\"p1\", \"A\", \"B\", 5.0]"), "value"},
    {"exponent value", PAYS("[\"p1\", \"A\", \"B\", 5e0]"), "value"},
    {"string value", PAYS("[\"p1\", \"A\", \"B\", \"5\"]"), "value"},
    {"value beyond INT64_MAX", PAYS("[\"p1\", \"A\", \"B\", 9223372036854775808]"), "line 1"},
    {"payer is payee", PAYS("[\"p1\", \"A\", \"A\", 5]"), "payee"},
    {"duplicate id", PAYS("[\"p1\", \"A\", \"B\", 5], [\"p2\", \"A\", \"B\", 1], [\"p1\", \"B\", \"A\", 1]"),
     "same id \"p1\""},
    {"unknown payee", PAYS("[\"p1\", \"A\", \"Z\", 5]"), "payee \"Z\" is not a participant"},
    {"unknown payer", PAYS("[\"p1\", \"Z\", \"A\", 5]"), "payer \"Z\" is not a participant"},
    {"empty id", PAYS("[\"\", \"A\", \"B\", 5]"), "id"},
    {"numeric id", PAYS("[1, \"A\", \"B\", 5]"), "id"},
    {"short payment", PAYS("[\"p1\", \"A\", \"B\"]"), "pays[0]"},
    {"long payment", PAYS("[\"p1\", \"A\", \"B\", 5, 1]"), "pays[0]"},
    {"payment object", PAYS("{\"id\": \"p1\"}"), "pays[0]"},
};

static void test_malformed_instances(void **state) {
    (void)state;
    for (size_t k = 0; k < sizeof bad_instances / sizeof bad_instances[0]; k++) {
        const struct bad_instance *b = &bad_instances[k];
        const char *path = write_file("bad.json", b->text);
        const char *mode = k % 3 == 0 ? "fifo" : k % 3 == 1 ? "bypass" : "exact";
        struct tu_run r;
        RUN(&r, NULL, "--mode", mode, path);
        expect_refusal(&r, 2, b->needle, b->what);
        tu_run_free(&r);
    }
}

static void test_bad_arguments(void **state) {
    (void)state;
    const char *good = write_file("ok.json", GOOD);
    static const char *const bad[][4] = {
        {"--mode", "fast", NULL}, {"--mode", NULL},         {"--order", "lifo", NULL},
        {"--budget", "x", NULL},  {"--budget", "-1", NULL}, {"--time-limit-ms", "4294967296", NULL},
        {"--frobnicate", NULL},   {"extra.json", NULL},     {NULL},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        const char *args[8] = {"lsm", "solve"};
        size_t n = 2;
        for (const char *const *a = bad[k]; *a; a++) args[n++] = *a;
        if (k + 1 < sizeof bad / sizeof bad[0]) args[n++] = good; /* the last case has no FILE at all */
        args[n] = NULL;
        struct tu_run r;
        tu_run(&r, ortak_bin, args, NULL, tmp_dir);
        expect_refusal(&r, 2, "usage: ortak lsm solve", bad[k][0] ? bad[k][0] : "no FILE");
        tu_run_free(&r);
    }
    struct tu_run r;
    RUN(&r, NULL, "--mode", "fifo", "--help");
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "usage: ortak lsm solve"));
    assert_string_equal(r.err, "");
    tu_run_free(&r);
}

static void test_unreadable_files(void **state) {
    (void)state;
    char missing[300];
    tmp_path(missing, sizeof missing, "no-such-file.json");
    struct tu_run r;
    RUN(&r, NULL, "--mode", "fifo", missing);
    expect_refusal(&r, 74, "no-such-file.json", "missing file");
    tu_run_free(&r);
    RUN(&r, NULL, tmp_dir); /* a directory opens, but cannot be read */
    expect_refusal(&r, 74, tmp_dir, "directory");
    tu_run_free(&r);
}

/* Opens big.json for writing (its path in `path`). */
static FILE *open_big(char path[300]) {
    tmp_path(path, 300, "big.json");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    return f;
}

static void test_limits(void **state) {
    (void)state;
    struct tu_run r;
    char path[300];
    FILE *f = open_big(path);
    fputs("{\"B\": {\"P0\": 0", f);
    for (uint32_t k = 1; k <= 100000; k++) fprintf(f, ", \"P%u\": 0", k);
    fputs("}, \"pays\": []}", f);
    assert_int_equal(fclose(f), 0);
    RUN(&r, NULL, path);
    expect_refusal(&r, 2, "more than 100000 participants", "participants");
    tu_run_free(&r);
    f = open_big(path);
    fputs("{\"B\": {}, \"pays\": [0", f);
    for (uint32_t k = 1; k <= 1000000; k++) fputs(",0", f);
    fputs("]}", f);
    assert_int_equal(fclose(f), 0);
    RUN(&r, NULL, path);
    expect_refusal(&r, 2, "more than 1000000 payments", "payments");
    tu_run_free(&r);
    /* 64 MiB of blanks before a valid instance: refused by size, before parsing. */
    f = open_big(path);
    static char blanks[1 << 20];
    memset(blanks, ' ', sizeof blanks);
    for (int k = 0; k < 64; k++) assert_int_equal(fwrite(blanks, 1, sizeof blanks, f), sizeof blanks);
    fputs(GOOD, f);
    assert_int_equal(fclose(f), 0);
    RUN(&r, NULL, path);
    expect_refusal(&r, 2, "larger than 64 MiB", "file size");
    tu_run_free(&r);
    RUN(&r, path, "-");
    expect_refusal(&r, 2, "stdin: larger than 64 MiB", "stdin size");
    tu_run_free(&r);
    unlink(path);
}

/* Ids and names that need escaping come back intact; a message quotes a long name cut short, escaped. */
static void test_escaping(void **state) {
    (void)state;
    static const char *const ids[] = {"q\"uote", "back\\slash", "tab\there", "ctl\001", "\xc3\xbcn\xc3\xaf"};
    const char *path = write_file("ok.json", "{\"B\": {\"\xc3\x84\": 100, \"B\\\"\": 0}, \"pays\": ["
                                             "[\"q\\\"uote\", \"\xc3\x84\", \"B\\\"\", 10],"
                                             "[\"back\\\\slash\", \"\xc3\x84\", \"B\\\"\", 10],"
                                             "[\"tab\\there\", \"\xc3\x84\", \"B\\\"\", 10],"
                                             "[\"ctl\\u0001\", \"\xc3\x84\", \"B\\\"\", 10],"
                                             "[\"\xc3\xbcn\xc3\xaf\", \"B\\\"\", \"\xc3\x84\", 10]]}");
    struct tu_run r;
    RUN(&r, NULL, "--mode", "fifo", path);
    json_t *a = answer(&r, "fifo"), *settled = json_object_get(a, "settled");
    assert_int_equal(json_array_size(settled), 5);
    for (size_t k = 0; k < 5; k++) assert_string_equal(json_string_value(json_array_get(settled, k)), ids[k]);
    assert_int_equal(int_field(a, "value"), 50);
    json_decref(a);
    tu_run_free(&r);
    char big[300];
    FILE *f = open_big(big);
    fputs("{\"B\": {\"A\": 1}, \"pays\": [[\"p1\", \"A\", \"\\u0007", f);
    for (int k = 0; k < 200; k++) fputc('x', f);
    fputs("\", 1]]}", f);
    assert_int_equal(fclose(f), 0);
    RUN(&r, NULL, big);
    expect_refusal(&r, 2, "payee \"\\u0007xxx", "long unknown payee");
    assert_non_null(strstr(r.err, "...\" is not a participant"));
    assert_null(strchr(r.err, '\a'));
    tu_run_free(&r);
}

/* Values up to INT64_MAX each; their sum, beyond 2^63, is printed exactly. */
static void test_values_beyond_int64(void **state) {
    (void)state;
    const char *path = write_file("ok.json", "{\"B\": {\"A\": 9223372036854775807, \"B\": 0, \"C\": 0}, \"pays\": ["
                                             "[\"p1\", \"A\", \"B\", 9223372036854775807],"
                                             "[\"p2\", \"B\", \"C\", 9223372036854775807],"
                                             "[\"p3\", \"C\", \"A\", 9223372036854775807]]}");
    static const char *const modes[] = {"fifo", "bypass", "exact"};
    for (size_t k = 0; k < 3; k++) {
        struct tu_run r;
        RUN(&r, NULL, "--mode", modes[k], path);
        if (r.code != 0 || !strstr(r.out, "\"settled\": [\"p1\",\"p2\",\"p3\"], \"value\": 27670116110564327421,"))
            fail_msg("%s: exit %d, stdout %s, stderr %s", modes[k], r.code, r.out, r.err);
        tu_run_free(&r);
    }
}

static void test_empty_instance(void **state) {
    (void)state;
    const char *path = write_file("ok.json", "{\"B\": {}, \"pays\": [], \"name\": \"ignored\"}");
    static const char *const modes[] = {"fifo", "bypass", "exact"};
    for (size_t k = 0; k < 3; k++) {
        struct tu_run r;
        RUN(&r, NULL, "--mode", modes[k], path);
        json_t *a = answer(&r, modes[k]);
        assert_int_equal(json_array_size(json_object_get(a, "settled")), 0);
        assert_int_equal(int_field(a, "value"), 0);
        if (k == 2) assert_true(json_is_true(json_object_get(a, "proven_optimal")) && int_field(a, "bound") == 0);
        json_decref(a);
        tu_run_free(&r);
    }
}

/* ---- main --------------------------------------------------------------------------------------------- */

static int need_vectors(void **state) {
    (void)state;
    if (!vectors) {
        fprintf(stderr, "test_lsm_cli: gridlock vectors missing (%s): this test cannot pass without them\n",
                vectors_path ? vectors_path : "no path given");
        return -1; /* cmocka reports the test as failed in setup */
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_lsm_cli PATH-TO-ortak PATH-TO-lsm/vectors.json\n");
        return 2;
    }
    ortak_bin = argv[1];
    vectors_path = argv[2];
    json_error_t err;
    vectors = json_load_file(vectors_path, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_array(vectors) || json_array_size(vectors) == 0) {
        fprintf(stderr, "test_lsm_cli: FAIL: %s is not a non-empty JSON array of vectors (%s)\n", vectors_path,
                err.text);
        json_decref(vectors);
        vectors = NULL;
    }
    if (!tu_mkdtemp(tmp_dir, sizeof tmp_dir, "ortak-lsm-cli")) {
        fprintf(stderr, "test_lsm_cli: cannot make a temporary directory\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_vectors, need_vectors),
        cmocka_unit_test(test_random_against_brute_force),
        cmocka_unit_test(test_malformed_instances),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_unreadable_files),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_values_beyond_int64),
        cmocka_unit_test(test_empty_instance),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    bool loaded = vectors != NULL;
    json_decref(vectors);
    tu_remove_dir(tmp_dir, (const char *const[]){"stdout", "stderr", "vector.json", "random.json", "bad.json",
                                                 "ok.json", "big.json", NULL});
    return failed || !loaded ? 1 : 0;
}
