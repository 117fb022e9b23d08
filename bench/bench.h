/*
 * What the benchmarks share: a monotonic clock, allocation that ends the run when memory runs out, and the pieces
 * of the synthetic workloads (bank codes, banks drawn with a skew). Header-only.
 */
#ifndef ORTAK_BENCH_H
#define ORTAK_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../src/base/rng.h"

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

#endif
