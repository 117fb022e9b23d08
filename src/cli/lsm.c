/*
 * ortak lsm solve: runs a gridlock-resolution solver (src/settle/lsm.h) on one instance read from a JSON file and
 * prints the selection as one JSON object on one line.
 *
 * The file comes from outside, so every part of it is bounded and checked before a solver sees it: the file's
 * size, the memory its parse may take, the counts of participants and payments, every number's type and range
 * (money stays integer: JSON reals are refused, never converted), names and ids. A malformed instance is named
 * on stderr and exits 2; nothing on stdout then. Money is summed in 128 bits, so "value" may exceed 2^63.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "base/assert.h"
#include "cli.h"
#include "settle/lsm.h"

/* Bounds on an instance file. The parse memory bound leaves room for the largest instance the counts allow
 * (about 400 bytes per payment in jansson's tree) and stops pathological files (millions of tiny values). */
#define LSM_FILE_BYTES_MAX ((size_t)64 << 20)
#define LSM_PARSE_BYTES_MAX ((size_t)1 << 30)
#define LSM_PAYMENTS_MAX UINT32_C(1000000)
#define LSM_PARTICIPANTS_MAX UINT32_C(100000)
#define LSM_TIME_LIMIT_MS_DEFAULT UINT32_C(60000)
/* How much of an id or name a message quotes. */
#define LSM_QUOTE_BYTES_MAX 64u

_Static_assert(LSM_PAYMENTS_MAX <= ORTAK_LSM_PAYMENTS_LIMIT, "payments must fit a solver workspace");
_Static_assert(LSM_PARTICIPANTS_MAX <= ORTAK_LSM_PARTICIPANTS_LIMIT, "participants must fit a solver workspace");
_Static_assert((uint64_t)LSM_PAYMENTS_MAX * 512 < LSM_PARSE_BYTES_MAX, "the largest instance must parse");

/* The usage text; `f` is stdout for --help, stderr after a mistake. */
static void lsm_usage(FILE *f) {
    fprintf(f,
            "usage: ortak lsm solve [--mode fifo|bypass|exact] [--order any|fifo] [--budget N] [--time-limit-ms N] "
            "FILE\n"
            "\n"
            "Finds the queued payments that can settle together (gridlock resolution) and prints one JSON object on\n"
            "one line: {\"mode\": ..., \"settled\": [ids in input order], \"value\": ..., \"count\": ...,\n"
            "\"elapsed_us\": ...}. FILE (- for stdin) holds one JSON object: \"B\", each participant's balance by\n"
            "name (integers >= 0), and \"pays\", the queue in order: [[id, payer, payee, value], ...] with value an\n"
            "integer > 0. Other keys are ignored.\n"
            "\n"
            "  --mode fifo         the best selection that keeps every payer's queue order (linear time)\n"
            "  --mode bypass       the default: a heuristic that lets payments overtake, bounded by --budget N\n"
            "                      work units (default %llu)\n"
            "  --mode exact        the optimum by integer programming (CBC) within --time-limit-ms N (default\n"
            "                      %u, 0 for none); adds \"proven_optimal\" and \"bound\" to the output\n"
            "  --order any|fifo    whether bypass and exact may let a payment overtake those its payer queued\n"
            "                      before it (any, the default) or must keep queue order (fifo)\n"
            "\n"
            "Exit codes: 0 solved; 2 bad arguments or a malformed instance (named on stderr); 74 FILE unreadable;\n"
            "1 internal error.\n",
            (unsigned long long)ORTAK_LSM_BUDGET_DEFAULT, (unsigned)LSM_TIME_LIMIT_MS_DEFAULT);
}

enum lsm_mode { LSM_MODE_FIFO, LSM_MODE_BYPASS, LSM_MODE_EXACT };

static const char *const mode_names[] = {"fifo", "bypass", "exact"};

struct lsm_opts {
    enum lsm_mode mode;
    bool order_fifo;
    uint64_t budget;
    uint32_t time_limit_ms;
    const char *path;  /* "-" for stdin */
    const char *label; /* the path, or "stdin", for messages */
};

/* One instance, parsed: the arrays handed to the solver point into this; ids and names into `root`. */
struct lsm_problem {
    json_t *root;
    int64_t *balance;              /* [n] */
    struct ortak_lsm_payment *pay; /* [m] */
    const char **id;               /* [m] */
    uint8_t *selected;             /* [m] the answer */
    uint32_t n, m;
};

/* ---- bounded parse memory ------------------------------------------------------------------------------- */

/* jansson's allocations carry their size in front, so that the total can be bounded. Single-threaded. */
union alloc_head {
    size_t bytes;
    max_align_t align;
};

static size_t parse_bytes;
static bool parse_over;

static void *capped_malloc(size_t bytes) {
    ORTAK_ASSERT(parse_bytes <= LSM_PARSE_BYTES_MAX);
    size_t room = LSM_PARSE_BYTES_MAX - parse_bytes;
    if (room < sizeof(union alloc_head) || bytes > room - sizeof(union alloc_head)) {
        parse_over = true;
        return NULL;
    }
    union alloc_head *h = malloc(sizeof *h + bytes);
    if (!h) return NULL;
    h->bytes = sizeof *h + bytes; /* the head counts too: the bound is on memory taken, not on jansson's sizes */
    parse_bytes += h->bytes;
    return h + 1;
}

static void capped_free(void *p) {
    if (!p) return;
    union alloc_head *h = (union alloc_head *)p - 1;
    ORTAK_ASSERT(h->bytes <= parse_bytes);
    parse_bytes -= h->bytes;
    free(h);
}

/* ---- reading -------------------------------------------------------------------------------------------- */

/*
 * Reads all of `path` ("-": stdin) into a new buffer (*buf, the caller frees it), refusing more than
 * LSM_FILE_BYTES_MAX bytes. Returns CLI_EXIT_OK, CLI_EXIT_IO (unreadable), CLI_EXIT_USAGE (too large) or
 * CLI_EXIT_INTERNAL (no memory), having said why.
 */
static int read_input(const struct lsm_opts *o, char **buf, size_t *len) {
    bool std = strcmp(o->path, "-") == 0;
    FILE *f = std ? stdin : fopen(o->path, "rb");
    int exit_code = CLI_EXIT_OK;
    size_t cap = 0, n = 0;
    char *b = NULL;
    if (!f) {
        fprintf(stderr, "ortak lsm: cannot open %s: %s\n", o->label, strerror(errno));
        return CLI_EXIT_IO;
    }
    for (;;) {
        if (n == cap) {
            if (cap > LSM_FILE_BYTES_MAX) {
                fprintf(stderr, "ortak lsm: %s: larger than %zu MiB\n", o->label, LSM_FILE_BYTES_MAX >> 20);
                exit_code = CLI_EXIT_USAGE;
                goto fail;
            }
            size_t grown = cap ? cap * 2 : 65536;
            if (grown > LSM_FILE_BYTES_MAX) grown = LSM_FILE_BYTES_MAX + 1; /* one byte past tells "too large" */
            char *nb = realloc(b, grown);
            if (!nb) {
                fprintf(stderr, "ortak lsm: out of memory reading %s\n", o->label);
                exit_code = CLI_EXIT_INTERNAL;
                goto fail;
            }
            b = nb;
            cap = grown;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        fprintf(stderr, "ortak lsm: cannot read %s: %s\n", o->label, strerror(errno));
        exit_code = CLI_EXIT_IO;
        goto fail;
    }
    if (n > LSM_FILE_BYTES_MAX) {
        fprintf(stderr, "ortak lsm: %s: larger than %zu MiB\n", o->label, LSM_FILE_BYTES_MAX >> 20);
        exit_code = CLI_EXIT_USAGE;
        goto fail;
    }
    if (!std) fclose(f);
    *buf = b;
    *len = n;
    return CLI_EXIT_OK;
fail:
    if (!std) fclose(f);
    free(b);
    return exit_code;
}

/* ---- strings out ---------------------------------------------------------------------------------------- */

/* The JSON text of byte `c` inside a string (UTF-8 passes through: jansson has checked it). */
static const char *escape_byte(unsigned char c, char out[8]) {
    static const char hex[] = "0123456789abcdef";
    if (c == '"') return "\\\"";
    if (c == '\\') return "\\\\";
    if (c >= 0x20) {
        out[0] = (char)c;
        out[1] = '\0';
        return out;
    }
    memcpy(out, "\\u00", 4);
    out[4] = hex[c >> 4];
    out[5] = hex[c & 15];
    out[6] = '\0';
    return out;
}

/* Writes `s` to `f` as a JSON string. */
static void put_string(FILE *f, const char *s) {
    char tmp[8];
    fputc('"', f);
    for (; *s; s++) fputs(escape_byte((unsigned char)*s, tmp), f);
    fputc('"', f);
}

/* `s` as a JSON string for a message, cut after LSM_QUOTE_BYTES_MAX bytes (at a character boundary). */
static const char *quote(const char *s, char out[LSM_QUOTE_BYTES_MAX * 6 + 8]) {
    size_t len = strlen(s), cut = len > LSM_QUOTE_BYTES_MAX ? LSM_QUOTE_BYTES_MAX : len, n = 0;
    while (cut < len && cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80) cut--;
    char tmp[8];
    out[n++] = '"';
    for (size_t i = 0; i < cut; i++) {
        const char *e = escape_byte((unsigned char)s[i], tmp);
        size_t el = strlen(e);
        memcpy(out + n, e, el);
        n += el;
    }
    if (cut < len) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n++] = '"';
    out[n] = '\0';
    return out;
}

/* Names a problem of the instance on stderr. Returns CLI_EXIT_USAGE, the exit code of a malformed instance. */
__attribute__((format(printf, 2, 3))) static int bad(const struct lsm_opts *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ortak lsm: %s: ", o->label);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

/* ---- the instance --------------------------------------------------------------------------------------- */

_Static_assert(sizeof(json_int_t) == sizeof(int64_t), "a JSON integer is exactly an int64_t: no range is lost");

/* Parses the text; reports syntax errors with jansson's line and column. */
static int parse_json(const struct lsm_opts *o, const char *buf, size_t len, json_t **root) {
    json_error_t err;
    *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
    if (*root) return CLI_EXIT_OK;
    if (parse_over) return bad(o, "parsing needs more than %zu MiB of memory", LSM_PARSE_BYTES_MAX >> 20);
    if (json_error_code(&err) == json_error_out_of_memory) {
        fprintf(stderr, "ortak lsm: out of memory parsing %s\n", o->label);
        return CLI_EXIT_INTERNAL;
    }
    return bad(o, "not valid JSON: line %d, column %d: %s", err.line, err.column, err.text);
}

/* Reads "B" into p->balance, and `index`, each participant's name to its index. */
static int load_balances(const struct lsm_opts *o, json_t *b, json_t *index, struct lsm_problem *p) {
    const char *name;
    json_t *v;
    char q[LSM_QUOTE_BYTES_MAX * 6 + 8];
    uint32_t i = 0;
    json_object_foreach(b, name, v) {
        if (json_is_real(v)) return bad(o, "the balance of %s is a real number: money is integer", quote(name, q));
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return bad(o, "the balance of %s is not an integer >= 0", quote(name, q));
        p->balance[i] = (int64_t)json_integer_value(v);
        if (json_object_set_new(index, name, json_integer(i)) != 0) {
            fprintf(stderr, "ortak lsm: out of memory loading %s\n", o->label);
            return CLI_EXIT_INTERNAL;
        }
        i++;
    }
    ORTAK_ASSERT(i == p->n);
    return CLI_EXIT_OK;
}

/* The index of the participant named by `v` in "pays"[j], or -1 after saying what is wrong. */
static int64_t participant_of(const struct lsm_opts *o, json_t *index, json_t *v, size_t j, const char *role) {
    char q[LSM_QUOTE_BYTES_MAX * 6 + 8];
    if (!json_is_string(v)) {
        bad(o, "pays[%zu]: the %s is not a string", j, role);
        return -1;
    }
    json_t *i = json_object_get(index, json_string_value(v));
    if (!i) {
        bad(o, "pays[%zu]: the %s %s is not a participant: \"B\" has no balance for it", j, role,
            quote(json_string_value(v), q));
        return -1;
    }
    return (int64_t)json_integer_value(i);
}

/* Reads "pays" into p->pay and p->id; every payment gets `flags`. */
static int load_payments(const struct lsm_opts *o, json_t *pays, json_t *index, uint32_t flags, struct lsm_problem *p) {
    size_t j;
    json_t *e;
    json_array_foreach(pays, j, e) {
        if (!json_is_array(e) || json_array_size(e) != 4)
            return bad(o, "pays[%zu] is not an array [id, payer, payee, value]", j);
        json_t *id = json_array_get(e, 0), *value = json_array_get(e, 3);
        if (!json_is_string(id) || json_string_length(id) == 0)
            return bad(o, "pays[%zu]: the id is not a non-empty string", j);
        int64_t payer = participant_of(o, index, json_array_get(e, 1), j, "payer");
        if (payer < 0) return CLI_EXIT_USAGE;
        int64_t payee = participant_of(o, index, json_array_get(e, 2), j, "payee");
        if (payee < 0) return CLI_EXIT_USAGE;
        if (payer == payee) return bad(o, "pays[%zu]: the payer is also the payee", j);
        if (json_is_real(value)) return bad(o, "pays[%zu]: the value is a real number: money is integer", j);
        if (!json_is_integer(value) || json_integer_value(value) <= 0)
            return bad(o, "pays[%zu]: the value is not an integer from 1 to %lld", j, (long long)INT64_MAX);
        p->id[j] = json_string_value(id);
        p->pay[j] = (struct ortak_lsm_payment){.value = (int64_t)json_integer_value(value),
                                               .payer = (uint32_t)payer,
                                               .payee = (uint32_t)payee,
                                               .flags = flags};
    }
    return CLI_EXIT_OK;
}

struct id_ref {
    const char *id;
    uint32_t j;
};

static int id_ref_cmp(const void *a, const void *b) {
    const struct id_ref *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->j > y->j) - (x->j < y->j);
}

/* Refuses an id given to two payments: sorting finds them in O(m log m) without a hash table. */
static int check_ids(const struct lsm_opts *o, const struct lsm_problem *p) {
    if (p->m < 2) return CLI_EXIT_OK;
    struct id_ref *r = malloc(p->m * sizeof *r);
    if (!r) {
        fprintf(stderr, "ortak lsm: out of memory checking ids\n");
        return CLI_EXIT_INTERNAL;
    }
    for (uint32_t j = 0; j < p->m; j++) r[j] = (struct id_ref){p->id[j], j};
    qsort(r, p->m, sizeof *r, id_ref_cmp);
    int exit_code = CLI_EXIT_OK;
    for (uint32_t k = 1; k < p->m && exit_code == CLI_EXIT_OK; k++) {
        char q[LSM_QUOTE_BYTES_MAX * 6 + 8];
        if (strcmp(r[k - 1].id, r[k].id) == 0)
            exit_code = bad(o, "pays[%u] and pays[%u] have the same id %s", r[k - 1].j, r[k].j, quote(r[k].id, q));
    }
    free(r);
    return exit_code;
}

/* Checks the shape and the counts and allocates the problem's arrays. */
static int size_problem(const struct lsm_opts *o, json_t *b, json_t *pays, struct lsm_problem *p) {
    if (json_is_array(p->root))
        return bad(o, "an array, not an instance: give one object with \"B\" and \"pays\" (one entry of a vector "
                      "file)");
    if (!json_is_object(b)) return bad(o, "\"B\" is missing or not an object of balances by participant");
    if (!json_is_array(pays)) return bad(o, "\"pays\" is missing or not an array of payments");
    if (json_object_size(b) > LSM_PARTICIPANTS_MAX)
        return bad(o, "more than %u participants", (unsigned)LSM_PARTICIPANTS_MAX);
    if (json_array_size(pays) > LSM_PAYMENTS_MAX) return bad(o, "more than %u payments", (unsigned)LSM_PAYMENTS_MAX);
    p->n = (uint32_t)json_object_size(b);
    p->m = (uint32_t)json_array_size(pays);
    /* At least one element each: malloc(0) may return NULL, and the workspace needs maxima >= 1. */
    p->balance = calloc(p->n ? p->n : 1, sizeof *p->balance);
    p->pay = calloc(p->m ? p->m : 1, sizeof *p->pay);
    p->id = calloc(p->m ? p->m : 1, sizeof *p->id);
    p->selected = calloc(p->m ? p->m : 1, 1);
    if (!p->balance || !p->pay || !p->id || !p->selected) {
        fprintf(stderr, "ortak lsm: out of memory loading %s\n", o->label);
        return CLI_EXIT_INTERNAL;
    }
    return CLI_EXIT_OK;
}

/* Parses and checks the instance in `buf` into `p` (freed by problem_free, whatever this returns). */
static int load_problem(const struct lsm_opts *o, const char *buf, size_t len, struct lsm_problem *p) {
    int exit_code = parse_json(o, buf, len, &p->root);
    if (exit_code != CLI_EXIT_OK) return exit_code;
    json_t *b = json_object_get(p->root, "B"), *pays = json_object_get(p->root, "pays");
    exit_code = size_problem(o, b, pays, p);
    if (exit_code != CLI_EXIT_OK) return exit_code;
    json_t *index = json_object();
    if (!index) {
        fprintf(stderr, "ortak lsm: out of memory loading %s\n", o->label);
        return CLI_EXIT_INTERNAL;
    }
    /* Under --order fifo no payment may overtake; otherwise (the vector files have no priorities) all may. */
    uint32_t flags = o->order_fifo ? 0 : ORTAK_LSM_MAY_BYPASS;
    exit_code = load_balances(o, b, index, p);
    if (exit_code == CLI_EXIT_OK) exit_code = load_payments(o, pays, index, flags, p);
    if (exit_code == CLI_EXIT_OK) exit_code = check_ids(o, p);
    json_decref(index);
    return exit_code;
}

static void problem_free(struct lsm_problem *p) {
    json_decref(p->root);
    free(p->balance);
    free(p->pay);
    free(p->id);
    free(p->selected);
    memset(p, 0, sizeof *p);
}

/* ---- solving -------------------------------------------------------------------------------------------- */

static uint64_t elapsed_us_between(const struct timespec *t0, const struct timespec *t1) {
    int64_t ns = (int64_t)(t1->tv_sec - t0->tv_sec) * 1000000000 + (t1->tv_nsec - t0->tv_nsec);
    return ns > 0 ? (uint64_t)ns / 1000 : 0;
}

/*
 * Runs the chosen solver on `p` (the answer in p->selected and `r`), timing the solver call alone, then checks
 * the answer with integer arithmetic: an infeasible answer, or one whose value or count is wrong, is a bug.
 */
static int solve(const struct lsm_opts *o, struct lsm_problem *p, struct ortak_lsm_result *r,
                 struct ortak_lsm_exact_info *info, uint64_t *elapsed_us) {
    struct ortak_lsm_instance in = {p->balance, p->pay, p->n, p->m};
    struct ortak_lsm_workspace ws;
    memset(&ws, 0, sizeof ws);
    *r = (struct ortak_lsm_result){.selected = p->selected};
    enum ortak_lsm_order order =
        o->mode == LSM_MODE_FIFO || o->order_fifo ? ORTAK_LSM_ORDER_FIFO : ORTAK_LSM_ORDER_FLAGS;
    ortak_rc rc = ortak_lsm_workspace_init(&ws, p->m ? p->m : 1, p->n ? p->n : 1);
    if (rc == ORTAK_OK) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (o->mode == LSM_MODE_FIFO) rc = ortak_lsm_fifo(&ws, &in, r);
        if (o->mode == LSM_MODE_BYPASS) rc = ortak_lsm_bypass(&ws, &in, o->budget, r, NULL);
        if (o->mode == LSM_MODE_EXACT) rc = ortak_lsm_exact(&in, order, o->time_limit_ms, NULL, r, info);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        *elapsed_us = elapsed_us_between(&t0, &t1);
    }
    if (rc == ORTAK_OK) {
        ortak_i128 value = -1;
        uint32_t count = 0;
        ORTAK_ASSERT(ortak_lsm_verify(&ws, &in, order, p->selected, &value) == ORTAK_OK);
        for (uint32_t j = 0; j < p->m; j++) count += p->selected[j] != 0;
        ORTAK_ASSERT(value == r->value && count == r->count);
    }
    ortak_lsm_workspace_free(&ws);
    if (rc == ORTAK_OK) return CLI_EXIT_OK;
    fprintf(stderr, "ortak lsm: %s: the solver refused the instance: %s\n", o->label, ortak_rc_str(rc));
    return rc == ORTAK_NOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_USAGE;
}

/* Prints the answer as one JSON object on one line; the settled ids in input order. */
static int print_answer(const struct lsm_opts *o, const struct lsm_problem *p, const struct ortak_lsm_result *r,
                        const struct ortak_lsm_exact_info *info, uint64_t elapsed_us) {
    char dec[41];
    printf("{\"mode\": \"%s\", \"settled\": [", mode_names[o->mode]);
    bool first = true;
    for (uint32_t j = 0; j < p->m; j++) {
        if (!p->selected[j]) continue;
        if (!first) putchar(',');
        put_string(stdout, p->id[j]);
        first = false;
    }
    printf("], \"value\": %s, \"count\": %u, \"elapsed_us\": %llu", ortak_i128_dec(r->value, dec), r->count,
           (unsigned long long)elapsed_us);
    if (o->mode == LSM_MODE_EXACT)
        printf(", \"proven_optimal\": %s, \"bound\": %s", info->proven_optimal ? "true" : "false",
               ortak_i128_dec(info->bound, dec));
    fputs("}\n", stdout);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "ortak lsm: cannot write the answer: %s\n", strerror(errno));
        return CLI_EXIT_IO;
    }
    return CLI_EXIT_OK;
}

/*
 * CoinUtils' presolve, which CBC runs in exact mode, leaks a few hundred bytes on some models (arrays kept by
 * implied_free_action and doubleton_action). That is not ortak's to fix, so LeakSanitizer ignores leaks allocated
 * through C++ operator new: in ortak only CBC and the COIN-OR libraries under it are C++ (tests/unit/test_lsm.c
 * does the same), and says nothing of it, so that stderr stays empty on success. Only sanitizer builds call these
 * hooks.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:operator new\n"; }
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) { return "print_suppressions=0"; }

/* ---- arguments ------------------------------------------------------------------------------------------ */

/* A decimal number of at most `max`; no sign, no spaces, no other bytes. */
static bool parse_uint(const char *s, uint64_t max, uint64_t *out) {
    uint64_t v = 0;
    if (!*s) return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10) return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

/* One option and its value (argv[*i + 1]); says what is wrong when it returns false. */
static bool parse_option(int argc, char **argv, int *i, struct lsm_opts *o) {
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    bool mode = strcmp(a, "--mode") == 0, order = strcmp(a, "--order") == 0, budget = strcmp(a, "--budget") == 0;
    bool limit = strcmp(a, "--time-limit-ms") == 0, ok = false;
    uint64_t n = 0;
    if (!mode && !order && !budget && !limit) {
        fprintf(stderr, "ortak lsm solve: unknown option '%s'\n", a);
        return false;
    }
    if (!v) {
        fprintf(stderr, "ortak lsm solve: %s needs a value\n", a);
        return false;
    }
    for (int k = 0; mode && k < 3; k++) {
        if (strcmp(v, mode_names[k]) == 0) {
            o->mode = (enum lsm_mode)k;
            ok = true;
        }
    }
    if (order) {
        ok = strcmp(v, "fifo") == 0 || strcmp(v, "any") == 0;
        o->order_fifo = strcmp(v, "fifo") == 0;
    }
    if (budget) ok = parse_uint(v, UINT64_MAX, &o->budget);
    if (limit && parse_uint(v, UINT32_MAX, &n)) {
        o->time_limit_ms = (uint32_t)n;
        ok = true;
    }
    if (!ok) fprintf(stderr, "ortak lsm solve: bad value for %s: '%s'\n", a, v);
    (*i)++;
    return ok;
}

static bool parse_opts(int argc, char **argv, struct lsm_opts *o) {
    *o = (struct lsm_opts){
        .mode = LSM_MODE_BYPASS, .budget = ORTAK_LSM_BUDGET_DEFAULT, .time_limit_ms = LSM_TIME_LIMIT_MS_DEFAULT};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && a[1] != '\0') {
            if (!parse_option(argc, argv, &i, o)) return false;
        } else if (!o->path) {
            o->path = a;
        } else {
            fprintf(stderr, "ortak lsm solve: more than one FILE ('%s', '%s')\n", o->path, a);
            return false;
        }
    }
    if (!o->path) fprintf(stderr, "ortak lsm solve: no FILE given (- reads stdin)\n");
    o->label = o->path && strcmp(o->path, "-") == 0 ? "stdin" : o->path;
    return o->path != NULL;
}

static bool wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return true;
    }
    return false;
}

static int lsm_solve(const struct lsm_opts *o) {
    struct lsm_problem p;
    memset(&p, 0, sizeof p);
    char *buf = NULL;
    size_t len = 0;
    struct ortak_lsm_result r;
    struct ortak_lsm_exact_info info;
    memset(&info, 0, sizeof info);
    uint64_t elapsed_us = 0;
    /* Every allocation of jansson's is counted, so that no file makes the parse take unbounded memory. */
    json_set_alloc_funcs(capped_malloc, capped_free);
    int exit_code = read_input(o, &buf, &len);
    if (exit_code == CLI_EXIT_OK) exit_code = load_problem(o, buf, len, &p);
    free(buf);
    if (exit_code == CLI_EXIT_OK) exit_code = solve(o, &p, &r, &info, &elapsed_us);
    if (exit_code == CLI_EXIT_OK) exit_code = print_answer(o, &p, &r, &info, elapsed_us);
    problem_free(&p);
    return exit_code;
}

int ortak__cli_lsm(int argc, char **argv) {
    if (argc < 2 || wants_help(argc, argv)) {
        lsm_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "solve") != 0) {
        fprintf(stderr, "ortak lsm: unknown subcommand '%s'\n\n", argv[1]);
        lsm_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    struct lsm_opts o;
    if (!parse_opts(argc, argv, &o)) {
        fputc('\n', stderr);
        lsm_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    return lsm_solve(&o);
}
