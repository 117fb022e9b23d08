/*
 * bench_ledger: how many transfers a second one engine thread books.
 *
 * The budget in DESIGN.md §8 says the engine's work for one transfer is two account lookups, a few comparisons
 * and an append, and sets a target of at least 5 million transfers a second on one core. This program measures
 * that: it opens an engine from the default configuration (limits raised to fit the run), admits banks, opens
 * their settlement accounts with generous credit lines (so no transfer can fail for funds), and then applies
 * batches of plain transfers through ortak_engine_apply, which is the only thing timed. Two scenarios:
 *
 *   uniform  debit and credit account drawn uniformly from all accounts of one currency;
 *   hot      80% of transfers draw both accounts from the hottest 1% of accounts, the rest are uniform.
 *
 * Shape of the ledger: the default configuration settles 7 currencies and a bank holds one settlement account
 * per currency, so N accounts belong to ceil(N / 7) banks, each with an account in every currency (10,000
 * accounts = 1,429 banks). That is the shape of the real system (banks settle in several currencies) and it keeps
 * the participant count far below its hard limit. Accounts are created in a shuffled order, so that the hot
 * accounts are scattered through the engine's account array as they would be in production, not packed into
 * a few cache lines by accident of numbering.
 *
 * Every command is generated before the clock starts. After each run the program checks that every transfer
 * was booked (ORTAK_OK, one event each), that each account's balance equals the one the generator predicted,
 * and that every currency sums to zero; any discrepancy makes it exit non-zero. Missing the speed target does
 * not: a benchmark prints figures, it is not a test.
 *
 * Usage: bench_ledger [--transfers N] [--accounts N] [--batch N] [--seed N] [--scenario uniform|hot|both] [--json]
 */
#define _DEFAULT_SOURCE /* madvise(MADV_HUGEPAGE) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../src/base/rng.h"
#include "../src/base/slice.h"
#include "ortak/engine.h"

/* Engine time of the first command: 2023-11-14T22:13:20Z. Any value works; a fixed one keeps the hash stable. */
#define BENCH_EPOCH_NS (UINT64_C(1700000000) * ORTAK_NS_PER_S)
/* Above what any account can drift in one run: 2^28 transfers of at most AMOUNT_MAX_MINOR is 2.7e14. */
#define CREDIT_LINE_MINOR INT64_C(1000000000000000)
#define AMOUNT_MAX_MINOR 1000000u
/* Hot set: this share of transfers (in percent) go between the hottest 1% of accounts. */
#define HOT_SHARE_PCT 80u

struct options {
    uint64_t transfers;
    uint32_t accounts;
    uint32_t batch;
    uint64_t seed;
    unsigned scenarios; /* bit 0 uniform, bit 1 hot */
    bool json;
};

struct machine {
    long cpus;
    char cpu[128];
};

struct scenario {
    const char *name;
    unsigned hot_pct;   /* share of transfers confined to the hot set */
    uint32_t hot_count; /* accounts in the hot set: logical indices 0..hot_count-1 */
};

/* The accounts of one run, by logical index: currency = index % currency_count, bank = index / currency_count. */
struct book {
    struct ortak_config cfg;
    uint32_t count;
    uint32_t banks;
    uint32_t currencies;
    ortak_u128 *ids;
    int64_t *expected; /* balance the generator predicts */
};

struct report {
    uint64_t transfers;
    uint64_t ns;     /* wall time inside ortak_engine_apply (CLOCK_MONOTONIC) */
    uint64_t cpu_ns; /* this thread's CPU time there: on a shared machine, the part that was really ours */
    uint64_t batch_ns_p50, batch_ns_p99, batch_ns_max;
    uint32_t batch_len; /* commands in a full batch: the median batch's rate resists a noisy neighbour */
    uint64_t hash_ns;
    size_t memory_bytes;
    char hash_hex[17];
};

/* ---- random numbers: splitmix64, enough for workload shape, and reproducible from --seed ----------------- */

/* ortak_rng_below for 32-bit counts. */
static uint32_t rng_below(uint64_t *s, uint32_t n) { return (uint32_t)ortak_rng_below(s, n); }

static uint64_t clock_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * ORTAK_NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

/* ---- options --------------------------------------------------------------------------------------------- */

static void usage(FILE *f) {
    fprintf(f,
            "usage: bench_ledger [--transfers N] [--accounts N] [--batch N] [--seed N]\n"
            "                    [--scenario uniform|hot|both] [--json]\n"
            "  --transfers N  transfers per scenario (default 10000000)\n"
            "  --accounts N   settlement accounts, spread over the configured currencies (default 10000)\n"
            "  --batch N      commands per ortak_engine_apply call, 1..%u (default %u)\n"
            "  --seed N       workload seed (default 1)\n"
            "  --scenario S   uniform, hot or both (default both)\n"
            "  --json         one JSON object per scenario on stdout instead of text\n",
            ORTAK_BATCH_LIMIT, ORTAK_BATCH_LIMIT);
}

/* Parses a whole decimal argument within [lo, hi]; strtoull would accept signs, spaces and "0x". */
static bool parse_number(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
    uint64_t v;
    if (s && ortak_slice_parse_u64(ortak_slice_from_cstr(s), hi, &v) && v >= lo) {
        *out = v;
        return true;
    }
    fprintf(stderr, "bench_ledger: %s needs a whole number from %" PRIu64 " to %" PRIu64 "\n", opt, lo, hi);
    return false;
}

static bool parse_scenario(const char *s, unsigned *out) {
    static const char *const names[] = {"uniform", "hot", "both"};
    for (unsigned i = 0; s && i < 3; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i + 1; /* 1 = uniform, 2 = hot, 3 = both */
            return true;
        }
    }
    fprintf(stderr, "bench_ledger: --scenario takes uniform, hot or both\n");
    return false;
}

/* Returns true when the options are usable; *exit_code is set when the program should stop (help or error). */
static bool parse_options(int argc, char **argv, uint32_t currencies, struct options *o, int *exit_code) {
    *o = (struct options){
        .transfers = 10000000, .accounts = 10000, .batch = ORTAK_BATCH_LIMIT, .seed = 1, .scenarios = 3};
    /* One account per bank and currency, within the participant limit; at least two accounts per currency so that
     * every transfer has a distinct counterparty in its currency. */
    uint64_t accounts_hi = (uint64_t)ORTAK_PARTICIPANTS_LIMIT * currencies, v = 0;
    bool ok = true;
    for (int i = 1; ok && i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            *exit_code = 0;
            return false;
        }
        i++; /* every other option takes a value */
        if (strcmp(a, "--transfers") == 0) {
            ok = parse_number(a, next, 1, ORTAK_TRANSFERS_LIMIT, &o->transfers);
        } else if (strcmp(a, "--accounts") == 0) {
            ok = parse_number(a, next, 2 * (uint64_t)currencies, accounts_hi, &v);
            o->accounts = (uint32_t)v;
        } else if (strcmp(a, "--batch") == 0) {
            ok = parse_number(a, next, 1, ORTAK_BATCH_LIMIT, &v);
            o->batch = (uint32_t)v;
        } else if (strcmp(a, "--seed") == 0) {
            ok = parse_number(a, next, 0, UINT64_MAX, &o->seed);
        } else if (strcmp(a, "--scenario") == 0) {
            ok = parse_scenario(next, &o->scenarios);
        } else {
            fprintf(stderr, "bench_ledger: unknown option '%s'\n", a);
            ok = false;
        }
    }
    if (!ok) {
        usage(stderr);
        *exit_code = 2;
    }
    return ok;
}

/* ---- machine --------------------------------------------------------------------------------------------- */

/* The "model name" line of /proc/cpuinfo, or "unknown" where there is none (non-x86, containers without /proc). */
static void cpu_model(char *out, size_t cap) {
    snprintf(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        const char *colon = strchr(line, ':');
        if (!colon) break;
        struct ortak_slice v = ortak_slice_from_cstr(colon + 1);
        while (v.len > 0 && (v.ptr[v.len - 1] == '\n' || v.ptr[v.len - 1] == '\r')) v.len--;
        v = ortak_slice_trim(v);
        if (v.len >= cap) v.len = cap - 1; /* a long model name is cut, not rejected */
        ortak_slice_copy(v, out, cap);
        break;
    }
    fclose(f);
}

/* Replaces what JSON would need escaped, so the model name can be printed between quotes as it is. */
static void json_safe(char *s) {
    for (; *s; s++) {
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) *s = '?';
    }
}

static const char *build_kind(void) {
#if defined(ORTAK_DEBUG)
    return "debug";
#elif defined(NDEBUG)
    return "release";
#else
    return "unknown";
#endif
}

/* ---- set-up: banks, settlement accounts, credit lines ---------------------------------------------------- */

/* Applies set-up commands in batches. Every one must succeed: a refusal here is a bug in this program. */
static bool apply_setup(struct ortak_engine *e, const struct ortak_cmd *cmds, uint32_t n, uint32_t batch,
                        struct ortak_result *results) {
    for (uint32_t i = 0; i < n; i += batch) {
        uint32_t len = n - i < batch ? n - i : batch;
        ortak_rc rc = ortak_engine_apply(e, cmds + i, len, results);
        if (rc != ORTAK_OK) {
            fprintf(stderr, "bench_ledger: set-up batch at %u: %s\n", i, ortak_rc_str(rc));
            return false;
        }
        for (uint32_t k = 0; k < len; k++) {
            if (results[k].rc != ORTAK_OK) {
                fprintf(stderr, "bench_ledger: set-up command %u (kind %u) failed: %s\n", i + k, cmds[i + k].kind,
                        ortak_rc_str((ortak_rc)results[k].rc));
                return false;
            }
        }
    }
    return true;
}

/* BIC of bank i: 4 base-36 characters, country KZ, location KA ("000AKZKA"); valid ISO 9362 for i < 36^4. */
static void bank_bic(uint32_t i, char bic[12]) {
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (int k = 3; k >= 0; k--) {
        bic[k] = digits[i % 36];
        i /= 36;
    }
    memcpy(bic + 4, "KZKA", 5);
}

/* The order in which accounts are created: a seeded shuffle of the logical indices (Fisher-Yates). */
static uint32_t *creation_order(uint32_t n, uint64_t *rng) {
    uint32_t *order = malloc((size_t)n * sizeof *order);
    if (!order) return NULL;
    for (uint32_t i = 0; i < n; i++) order[i] = i;
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = rng_below(rng, i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    return order;
}

static void setup_account(const struct book *b, uint32_t logical, struct ortak_cmd *create, struct ortak_cmd *line) {
    *create = (struct ortak_cmd){.timestamp = BENCH_EPOCH_NS, .kind = ORTAK_CMD_ACCOUNT_CREATE};
    struct ortak_account_create *ac = &create->u.account_create;
    ac->id = b->ids[logical];
    bank_bic(logical / b->currencies, ac->bic);
    memcpy(ac->currency, b->cfg.currencies[logical % b->currencies].code, sizeof ac->currency);
    ac->kind = ORTAK_ACCOUNT_SETTLEMENT;
    *line = (struct ortak_cmd){.timestamp = BENCH_EPOCH_NS, .kind = ORTAK_CMD_CREDIT_LINE_SET};
    line->u.account = (struct ortak_account_amount){.account_id = b->ids[logical], .amount = CREDIT_LINE_MINOR};
}

/* Admits the banks, opens every account and gives it a credit line, all before the clock starts. */
static bool setup_ledger(struct ortak_engine *e, const struct book *b, uint32_t batch, uint64_t *rng) {
    uint32_t n = b->banks + 2 * b->count;
    struct ortak_cmd *cmds = calloc(n, sizeof *cmds);
    struct ortak_result *results = calloc(batch, sizeof *results);
    uint32_t *order = creation_order(b->count, rng);
    bool ok = false;
    if (!cmds || !results || !order) goto done;
    for (uint32_t i = 0; i < b->banks; i++) {
        cmds[i] = (struct ortak_cmd){.timestamp = BENCH_EPOCH_NS, .kind = ORTAK_CMD_PARTICIPANT_CREATE};
        struct ortak_participant_create *pc = &cmds[i].u.participant_create;
        bank_bic(i, pc->bic);
        snprintf(pc->name, sizeof pc->name, "Bench Bank %u", i);
        pc->role = ORTAK_ROLE_BANK;
    }
    for (uint32_t i = 0; i < b->count; i++)
        setup_account(b, order[i], &cmds[b->banks + i], &cmds[b->banks + b->count + i]);
    ok = apply_setup(e, cmds, n, batch, results);
done:
    if (!cmds || !results || !order) fprintf(stderr, "bench_ledger: out of memory in set-up\n");
    free(cmds);
    free(results);
    free(order);
    return ok;
}

/* Configuration for one run: the default one, with every pool sized to what the run needs. */
static bool book_init(struct book *b, const struct options *o, uint64_t *rng) {
    memset(b, 0, sizeof *b);
    ortak_config_default(&b->cfg);
    b->currencies = b->cfg.currency_count;
    b->count = o->accounts;
    b->banks = (o->accounts + b->currencies - 1) / b->currencies;
    struct ortak_limits *lim = &b->cfg.limits;
    lim->participants_max = b->banks;
    lim->accounts_max = b->count;
    /* Exactly the run's transfers: a stray extra record would show up as ORTAK_TRANSFERS_FULL. */
    lim->transfers_max = (uint32_t)o->transfers;
    /* Two postings per transfer, all kept, so the history ring never wraps during the run. */
    uint64_t history = 2 * o->transfers;
    lim->history_max = (uint32_t)(history < ORTAK_HISTORY_LIMIT ? history : ORTAK_HISTORY_LIMIT);
    lim->batch_max = o->batch;
    char err[256];
    if (ortak_config_check(&b->cfg, err, sizeof err) != ORTAK_OK) {
        fprintf(stderr, "bench_ledger: configuration: %s\n", err);
        return false;
    }
    b->ids = calloc(b->count, sizeof *b->ids);
    b->expected = calloc(b->count, sizeof *b->expected);
    if (!b->ids || !b->expected) {
        fprintf(stderr, "bench_ledger: out of memory for %u accounts\n", b->count);
        return false;
    }
    /* Random ids, as clients choose them. The high half is below 2^63 and the low half odd, so an id is never 0
     * or all ones; the halves are drawn in separate statements so that every compiler draws them in one order. */
    for (uint32_t i = 0; i < b->count; i++) {
        uint64_t hi = ortak_rng_next(rng) >> 1;
        b->ids[i] = ORTAK_U128(hi, ortak_rng_next(rng) | 1);
    }
    return true;
}

static void book_free(struct book *b) {
    free(b->ids);
    free(b->expected);
    memset(b, 0, sizeof *b);
}

/* ---- workload -------------------------------------------------------------------------------------------- */

/*
 * Debit and credit account among logical indices [0, m): distinct and in the same currency (index % c), the
 * debit uniform over all m, the credit uniform over the other accounts of its currency. Needs m >= 2c.
 */
static void pick_pair(uint64_t *rng, uint32_t m, uint32_t c, uint32_t *debit, uint32_t *credit) {
    uint32_t d = rng_below(rng, m);
    uint32_t cur = d % c;
    uint32_t class_len = (m - cur + c - 1) / c; /* indices j < m with j % c == cur */
    uint32_t pos = rng_below(rng, class_len - 1);
    if (pos >= d / c) pos++; /* skip the debit account itself */
    *debit = d;
    *credit = cur + pos * c;
}

/*
 * The command array: gigabytes for a long run, read once in order. On 4 KiB pages every 23 commands would cost the
 * engine a TLB miss that a real batch (1 MiB, just received) would not, so it goes on transparent huge pages, as
 * the engine's own tables do. Free with free().
 */
static struct ortak_cmd *commands_alloc(uint64_t n) {
    const size_t huge = (size_t)2 << 20;
    if (n > SIZE_MAX / sizeof(struct ortak_cmd)) return NULL;
    size_t bytes = (size_t)n * sizeof(struct ortak_cmd);
    void *p = NULL;
    if (posix_memalign(&p, huge, bytes) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE); /* advice only */
#endif
    memset(p, 0, bytes);
    return p;
}

/* Every transfer of a run, generated up front so the generator's cost stays out of the timing. */
static struct ortak_cmd *generate(struct book *b, const struct scenario *sc, uint64_t n, uint64_t *rng) {
    struct ortak_cmd *cmds = commands_alloc(n);
    if (!cmds) return NULL;
    for (uint64_t k = 0; k < n; k++) {
        uint32_t m = rng_below(rng, 100) < sc->hot_pct ? sc->hot_count : b->count;
        uint32_t d, c;
        pick_pair(rng, m, b->currencies, &d, &c);
        uint64_t amount = 1 + rng_below(rng, AMOUNT_MAX_MINOR);
        /* One microsecond apart: engine time moves on with every command, as the sequencer would make it. */
        cmds[k].timestamp = BENCH_EPOCH_NS + (k + 1) * 1000;
        cmds[k].kind = ORTAK_CMD_TRANSFER;
        struct ortak_transfer *t = &cmds[k].u.transfer;
        t->id = ORTAK_U128(UINT64_C(0x7472616e73666572), k + 1);
        t->debit_account_id = b->ids[d];
        t->credit_account_id = b->ids[c];
        uint64_t uetr_hi = ortak_rng_next(rng); /* user_data stands for the payment's UETR */
        t->user_data = ORTAK_U128(uetr_hi, ortak_rng_next(rng));
        t->amount = amount;
        t->code = 1;
        b->expected[d] -= (int64_t)amount;
        b->expected[c] += (int64_t)amount;
    }
    return cmds;
}

/* ---- timing and checks ----------------------------------------------------------------------------------- */

/* A batch of plain transfers must book every one (no replay) and post one event each. */
static bool batch_ok(const struct ortak_engine *e, const struct ortak_result *results, uint32_t len, uint64_t first) {
    uint32_t n_events;
    const struct ortak_event *ev = ortak_engine_events(e, &n_events);
    for (uint32_t k = 0; k < len; k++) {
        if (results[k].rc != ORTAK_OK || results[k].flags != 0) {
            fprintf(stderr, "bench_ledger: transfer %" PRIu64 ": %s (flags %u)\n", first + k,
                    ortak_rc_str((ortak_rc)results[k].rc), results[k].flags);
            return false;
        }
    }
    for (uint32_t k = 0; k < n_events; k++) {
        if (ev[k].kind != ORTAK_EV_TRANSFER_POSTED || ev[k].command_index != k) n_events = UINT32_MAX;
    }
    if (n_events != len) {
        fprintf(stderr, "bench_ledger: batch at %" PRIu64 ": events are not one TRANSFER_POSTED per transfer\n", first);
        return false;
    }
    return true;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void batch_percentiles(uint64_t *batch_ns, uint64_t batches, struct report *r) {
    qsort(batch_ns, (size_t)batches, sizeof *batch_ns, cmp_u64);
    r->batch_ns_p50 = batch_ns[(batches - 1) * 50 / 100];
    r->batch_ns_p99 = batch_ns[(batches - 1) * 99 / 100];
    r->batch_ns_max = batch_ns[batches - 1];
}

/* Applies the transfers batch by batch; only ortak_engine_apply is inside the clock readings. */
static bool run_timed(struct ortak_engine *e, const struct ortak_cmd *cmds, uint64_t n, uint32_t batch,
                      struct report *r) {
    uint64_t batches = (n + batch - 1) / batch;
    uint64_t *batch_ns = calloc((size_t)batches, sizeof *batch_ns);
    struct ortak_result *results = calloc(batch, sizeof *results);
    bool ok = batch_ns && results;
    for (uint64_t i = 0; ok && i < batches; i++) {
        uint64_t first = i * batch;
        uint32_t len = (uint32_t)(n - first < batch ? n - first : batch);
        uint64_t c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID), t0 = now_ns();
        ortak_rc rc = ortak_engine_apply(e, cmds + first, len, results);
        uint64_t t1 = now_ns(), c1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
        batch_ns[i] = t1 - t0;
        r->ns += t1 - t0;
        r->cpu_ns += c1 - c0;
        if (rc != ORTAK_OK) fprintf(stderr, "bench_ledger: ortak_engine_apply: %s\n", ortak_rc_str(rc));
        ok = rc == ORTAK_OK && batch_ok(e, results, len, first);
    }
    if (ok) batch_percentiles(batch_ns, batches, r);
    r->transfers = n;
    r->batch_len = (uint32_t)(n < batch ? n : batch);
    free(batch_ns);
    free(results);
    return ok;
}

/* Each account's balance is what the generator predicted, nothing is pending, and every currency sums to zero. */
static bool verify_ledger(const struct ortak_engine *e, const struct book *b, uint64_t transfers) {
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    bool ok = ortak_ledger_transfer_count(l) == transfers && ortak_ledger_account_count(l) == b->count;
    if (!ok)
        fprintf(stderr, "bench_ledger: the ledger holds %u transfers and %u accounts; expected %" PRIu64 " and %u\n",
                ortak_ledger_transfer_count(l), ortak_ledger_account_count(l), transfers, b->count);
    ortak_i128 sum[ORTAK_CURRENCIES_LIMIT] = {0};
    for (uint32_t i = 0; ok && i < b->count; i++) {
        struct ortak_account_info a;
        ok = ortak_ledger_account_get(l, b->ids[i], &a) == ORTAK_OK && a.balance == (ortak_i128)b->expected[i] &&
             a.debits_pending == 0 && a.credits_pending == 0 &&
             strcmp(a.currency, b->cfg.currencies[i % b->currencies].code) == 0;
        if (!ok) {
            fprintf(stderr, "bench_ledger: account %u does not hold the expected balance\n", i);
            break;
        }
        sum[i % b->currencies] += a.balance;
    }
    for (uint32_t c = 0; ok && c < b->currencies; c++) {
        ok = sum[c] == 0;
        if (!ok) fprintf(stderr, "bench_ledger: %s balances do not sum to zero\n", b->cfg.currencies[c].code);
    }
    return ok;
}

/* The state hash identifies the run: the same options must give the same hash on any machine. */
static void state_hash(const struct ortak_engine *e, struct report *r) {
    uint8_t h[32];
    uint64_t t0 = now_ns();
    ortak_engine_state_hash(e, h);
    r->hash_ns = now_ns() - t0;
    for (int i = 0; i < 8; i++) snprintf(r->hash_hex + 2 * i, 3, "%02x", h[i]);
}

/* ---- output ---------------------------------------------------------------------------------------------- */

static double per_second(uint64_t count, uint64_t ns) { return ns ? (double)count * 1e9 / (double)ns : 0.0; }

static void print_header(const struct options *o, const struct machine *m, const struct book *b) {
    if (o->json) return; /* JSON lines carry the same facts in every object */
    printf("bench_ledger: %ld cpus, %s; %s build; %" PRIu64 " transfers per scenario over %u accounts "
           "(%u banks x %u currencies), batches of %u, seed %" PRIu64 "\n",
           m->cpus, m->cpu, build_kind(), o->transfers, b->count, b->banks, b->currencies, o->batch, o->seed);
    if (strcmp(build_kind(), "release") != 0) printf("bench_ledger: not a Release build: figures are not comparable\n");
    const char *tunables = getenv("GLIBC_TUNABLES"); /* e.g. glibc.malloc.hugetlb=1 changes the figures */
    if (tunables) printf("bench_ledger: GLIBC_TUNABLES=%s\n", tunables);
}

static void print_text(const struct scenario *sc, const struct report *r) {
    double tps = per_second(r->transfers, r->ns);
    printf("%s: %" PRIu64 " transfers in %.3f s (cpu %.3f s) = %.0f transfers/s, %.1f ns/transfer "
           "[target 5000000/s: %s]\n",
           sc->name, r->transfers, (double)r->ns / 1e9, (double)r->cpu_ns / 1e9, tps,
           (double)r->ns / (double)r->transfers, tps >= 5e6 ? "met" : "MISSED");
    printf("    batches of %u: p50 %.0f us (%.0f transfers/s), p99 %.0f us, max %.0f us\n", r->batch_len,
           (double)r->batch_ns_p50 / 1e3, per_second(r->batch_len, r->batch_ns_p50), (double)r->batch_ns_p99 / 1e3,
           (double)r->batch_ns_max / 1e3);
    printf("    engine memory %.1f MiB; state hash %s (hashed in %.2f s)\n",
           (double)r->memory_bytes / (1024.0 * 1024.0), r->hash_hex, (double)r->hash_ns / 1e9);
}

static void print_json(const struct options *o, const struct machine *m, const struct book *b,
                       const struct scenario *sc, const struct report *r) {
    printf("{\"bench\":\"ledger\",\"scenario\":\"%s\",\"transfers\":%" PRIu64 ",\"accounts\":%u,\"banks\":%u,"
           "\"currencies\":%u,\"batch\":%u,\"hot_accounts\":%u,\"hot_pct\":%u,\"seed\":%" PRIu64 ","
           "\"seconds\":%.6f,\"cpu_seconds\":%.6f,\"transfers_per_s\":%.0f,\"ns_per_transfer\":%.2f,\"batch_ns_p50\":"
           "%" PRIu64 ","
           "\"batch_ns_p99\":%" PRIu64 ",\"batch_p50_transfers_per_s\":%.0f,\"batch_ns_max\":%" PRIu64
           ",\"memory_bytes\":%zu,\"state_hash\":\"%s\","
           "\"hash_seconds\":%.3f,\"cpus\":%ld,\"cpu\":\"%s\",\"build\":\"%s\",\"ok\":true}\n",
           sc->name, r->transfers, b->count, b->banks, b->currencies, o->batch, sc->hot_pct ? sc->hot_count : 0,
           sc->hot_pct, o->seed, (double)r->ns / 1e9, (double)r->cpu_ns / 1e9, per_second(r->transfers, r->ns),
           (double)r->ns / (double)r->transfers, r->batch_ns_p50, r->batch_ns_p99,
           per_second(r->batch_len, r->batch_ns_p50), r->batch_ns_max, r->memory_bytes, r->hash_hex,
           (double)r->hash_ns / 1e9, m->cpus, m->cpu, build_kind());
}

/* ---- main ------------------------------------------------------------------------------------------------ */

/* One scenario on a fresh engine, so that neither scenario inherits the other's warm memory. */
static bool run_scenario(const struct options *o, const struct machine *m, const struct scenario *sc, bool header) {
    struct book b;
    struct ortak_engine *e = NULL;
    struct ortak_cmd *cmds = NULL;
    struct report r = {0};
    uint64_t rng = o->seed ^ ((uint64_t)sc->hot_pct << 56); /* each scenario its own stream */
    bool ok = book_init(&b, o, &rng);
    if (ok && header) print_header(o, m, &b);
    ortak_rc rc = ok ? ortak_engine_open(&b.cfg, &e) : ORTAK_OK;
    if (rc != ORTAK_OK) fprintf(stderr, "bench_ledger: ortak_engine_open: %s\n", ortak_rc_str(rc));
    ok = ok && rc == ORTAK_OK && setup_ledger(e, &b, o->batch, &rng);
    if (ok && !(cmds = generate(&b, sc, o->transfers, &rng))) {
        fprintf(stderr, "bench_ledger: out of memory generating %" PRIu64 " transfers\n", o->transfers);
        ok = false;
    }
    ok = ok && run_timed(e, cmds, o->transfers, o->batch, &r) && verify_ledger(e, &b, o->transfers);
    if (ok) {
        r.memory_bytes = ortak_engine_memory_bytes(e);
        state_hash(e, &r);
        if (o->json)
            print_json(o, m, &b, sc, &r);
        else
            print_text(sc, &r);
        fflush(stdout);
    } else {
        fprintf(stderr, "bench_ledger: scenario %s FAILED\n", sc->name);
    }
    free(cmds);
    ortak_engine_close(e);
    book_free(&b);
    return ok;
}

int main(int argc, char **argv) {
    struct ortak_config cfg;
    ortak_config_default(&cfg);
    struct options o;
    int exit_code = 0;
    if (!parse_options(argc, argv, cfg.currency_count, &o, &exit_code)) return exit_code;

    struct machine m = {.cpus = sysconf(_SC_NPROCESSORS_ONLN)};
    cpu_model(m.cpu, sizeof m.cpu);
    json_safe(m.cpu);
    /* The hottest 1% of accounts, but at least two per currency so that a hot pair always exists. */
    uint32_t hot = o.accounts / 100 < 2 * cfg.currency_count ? 2 * cfg.currency_count : o.accounts / 100;
    const struct scenario scenarios[] = {
        {"uniform", 0, o.accounts},
        {"hot", HOT_SHARE_PCT, hot},
    };
    bool ok = true, header = true;
    for (unsigned i = 0; i < 2; i++) {
        if (!(o.scenarios & (1u << i))) continue;
        ok = run_scenario(&o, &m, &scenarios[i], header) && ok;
        header = false;
    }
    return ok ? 0 : 1;
}
