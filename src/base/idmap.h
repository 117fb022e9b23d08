/*
 * Open-addressing hash table from 128-bit ids to 32-bit values.
 *
 * Linear probing over a power-of-two table of at least twice the configured capacity, so the load factor stays
 * at or below one half and probes stay short. Key 0 marks an empty slot and cannot be stored. Deletion shifts
 * later members of a probe run back, so there are no tombstones and lookups never slow down with churn.
 * The hash is XXH3 with a per-deployment seed, so that a client cannot choose ids that collide.
 * No allocation after init.
 */
#ifndef ORTAK_BASE_IDMAP_H
#define ORTAK_BASE_IDMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "ortak/types.h"

struct ortak_idmap_slot {
    ortak_u128 key;
    uint32_t value;
};

struct ortak_idmap {
    struct ortak_idmap_slot *slots;
    uint64_t seed;
    uint32_t mask;
    uint32_t count;
    uint32_t cap; /* entries allowed: at most half the slots */
};

/* Sizes the table for `cap` entries. Returns 0, or -1 when memory is exhausted. */
int ortak_idmap_init(struct ortak_idmap *m, uint32_t cap, uint64_t seed);
void ortak_idmap_free(struct ortak_idmap *m);
/* Looks `key` up. Returns true and sets *value when present. */
bool ortak_idmap_get(const struct ortak_idmap *m, ortak_u128 key, uint32_t *value);
/*
 * Inserts `key` -> `value`. Returns 0, 1 when the key is already present (nothing changes), or -1 when the table
 * holds `cap` entries. The key must not be 0.
 */
int ortak_idmap_put(struct ortak_idmap *m, ortak_u128 key, uint32_t value);
/* Starts loading the slot where `key` would be, so that a lookup shortly after finds it in cache. */
void ortak_idmap_prefetch(const struct ortak_idmap *m, ortak_u128 key);
/* Removes `key`. Returns true when it was present. */
bool ortak_idmap_del(struct ortak_idmap *m, ortak_u128 key);
void ortak_idmap_clear(struct ortak_idmap *m);

#endif
