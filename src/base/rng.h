/*
 * A small reproducible pseudo-random sequence (splitmix64) for work that must give the same answer on every
 * machine for the same seed: the gridlock solver's perturbations, workload generators, randomised tests.
 * Not for anything secret.
 */
#ifndef ORTAK_BASE_RNG_H
#define ORTAK_BASE_RNG_H

#include <stdint.h>

#include "ortak/types.h"

/* The next 64 bits of the sequence whose state is *s. */
static inline uint64_t ortak_rng_next(uint64_t *s) {
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in [0, n) by multiply-and-shift (n > 0); the bias, below n / 2^64, is far below what any use here sees. */
static inline uint64_t ortak_rng_below(uint64_t *s, uint64_t n) {
    return (uint64_t)(((ortak_u128)ortak_rng_next(s) * n) >> 64);
}

#endif
