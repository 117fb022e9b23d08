/*
 * What the benchmarks share: a monotonic clock, allocation that ends the run when memory runs out, and the pieces
 * of the synthetic workloads (bank codes, banks drawn with a skew). Header-only.
 */
#ifndef ORTAK_BENCH_H
#define ORTAK_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/base/rng.h"
#include "../src/base/slice.h"

static inline uint64_t bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* calloc, or a message naming the program and exit 1: a benchmark cannot go on without its memory. */
static inline void *bench_calloc(const char *program, size_t n, size_t size) {
    void *p = calloc(n, size);
    if (!p) {
        fprintf(stderr, "%s: out of memory\n", program);
        exit(1);
    }
    return p;
}

/* The four-letter bank code of bank i (the first four characters of its BIC): AAAA, AAAB, ... */
static inline void bench_bank_code(uint32_t i, char code[5]) {
    for (int k = 3; k >= 0; k--, i /= 26) code[k] = (char)('A' + i % 26);
    code[4] = '\0';
}

/*
 * A bank drawn with a probability in proportion to its weight: `cum` holds the running sums of the n weights
 * (bank i's share falls as 1/(i+1) in the workloads); bisection finds the first sum above a uniform draw.
 */
static inline uint32_t bench_skewed_bank(uint64_t *s, const double *cum, uint32_t n) {
    double u = (double)ortak_rng_next(s) / 18446744073709551616.0 * cum[n - 1];
    uint32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (cum[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The options of the workload benchmarks; 0 for a count not given. */
struct bench_args {
    bool quick;
    uint64_t payments, banks, seed;
};

/*
 * Parses --quick, --payments N (1..payments_max), --banks N (2..banks_max) and --seed N (default 1). Prints the
 * usage line of `name` and returns false on anything else.
 */
static inline bool bench_args_parse(const char *name, int argc, char **argv, uint64_t payments_max, uint64_t banks_max,
                                    struct bench_args *a) {
    *a = (struct bench_args){.seed = 1};
    bool ok = true;
    for (int i = 1; i < argc && ok; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--quick") == 0) {
            a->quick = true;
            continue;
        }
        if (value && strcmp(argv[i], "--payments") == 0)
            ok = ortak_slice_parse_u64(ortak_slice_from_cstr(value), payments_max, &a->payments) && a->payments > 0;
        else if (value && strcmp(argv[i], "--banks") == 0)
            ok = ortak_slice_parse_u64(ortak_slice_from_cstr(value), banks_max, &a->banks) && a->banks >= 2;
        else if (value && strcmp(argv[i], "--seed") == 0)
            ok = ortak_slice_parse_u64(ortak_slice_from_cstr(value), UINT64_MAX, &a->seed);
        else
            ok = false;
        i++; /* the value */
    }
    if (!ok) fprintf(stderr, "usage: %s [--quick] [--payments N] [--banks N] [--seed N]\n", name);
    return ok;
}

#endif
