/*
 * 128-bit id -> 32-bit value hash table: linear probing, backward-shift deletion (no tombstones), load <= 1/2.
 */
#include "idmap.h"

#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "arena.h"
#include "assert.h"

static uint32_t slot_of(const struct ortak_idmap *m, ortak_u128 key) {
    return (uint32_t)XXH3_64bits_withSeed(&key, sizeof key, m->seed) & m->mask;
}

int ortak_idmap_init(struct ortak_idmap *m, uint32_t cap, uint64_t seed) {
    *m = (struct ortak_idmap){0};
    ORTAK_ASSERT(cap > 0 && cap <= (UINT32_C(1) << 30));
    uint64_t size = 2;
    while (size < (uint64_t)cap * 2) size <<= 1;
    m->slots = ortak__calloc_array((size_t)size, sizeof *m->slots);
    if (!m->slots) return -1;
    m->mask = (uint32_t)(size - 1);
    m->cap = cap;
    m->seed = seed;
    return 0;
}

void ortak_idmap_free(struct ortak_idmap *m) {
    free(m->slots);
    *m = (struct ortak_idmap){0};
}

bool ortak_idmap_get(const struct ortak_idmap *m, ortak_u128 key, uint32_t *value) {
    if (key == 0) return false;
    for (uint32_t i = slot_of(m, key);; i = (i + 1) & m->mask) {
        const struct ortak_idmap_slot *s = &m->slots[i];
        if (s->key == key) {
            *value = s->value;
            return true;
        }
        if (s->key == 0) return false;
    }
}

void ortak_idmap_prefetch(const struct ortak_idmap *m, ortak_u128 key) {
    __builtin_prefetch(&m->slots[slot_of(m, key)]);
}

int ortak_idmap_put(struct ortak_idmap *m, ortak_u128 key, uint32_t value) {
    ORTAK_ASSERT(key != 0);
    uint32_t i = slot_of(m, key);
    for (;; i = (i + 1) & m->mask) {
        if (m->slots[i].key == key) return 1;
        if (m->slots[i].key == 0) break;
    }
    if (m->count >= m->cap) return -1;
    m->slots[i].key = key;
    m->slots[i].value = value;
    m->count++;
    return 0;
}

bool ortak_idmap_del(struct ortak_idmap *m, ortak_u128 key) {
    if (key == 0) return false;
    uint32_t i = slot_of(m, key);
    for (;; i = (i + 1) & m->mask) {
        if (m->slots[i].key == key) break;
        if (m->slots[i].key == 0) return false;
    }
    /* Backward shift: move later members of the probe run into the hole when their home slot allows it. */
    uint32_t hole = i;
    for (uint32_t j = (hole + 1) & m->mask; m->slots[j].key != 0; j = (j + 1) & m->mask) {
        uint32_t home = slot_of(m, m->slots[j].key);
        /* j's entry may move to `hole` iff `home` is not cyclically within (hole, j]. */
        bool stays = (hole < j) ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole].key = 0;
    m->slots[hole].value = 0;
    m->count--;
    return true;
}

void ortak_idmap_clear(struct ortak_idmap *m) {
    memset(m->slots, 0, ((size_t)m->mask + 1) * sizeof *m->slots);
    m->count = 0;
}
