/*
 * Arenas and fixed pools: all memory is taken at start-up. A pool keeps a stack of free indices (slot 0 on top at
 * first, then whatever was given back last), so slot assignment is deterministic, which the engine relies on.
 */
#define _DEFAULT_SOURCE /* madvise(MADV_HUGEPAGE) */
#include "arena.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "assert.h"

/*
 * Large arrays (the engine's tables) are aligned to 2 MiB and offered to the kernel as transparent huge pages, then
 * zeroed, which touches every page now: random lookups in a table of hundreds of megabytes then cost one cache
 * miss instead of a page walk through 4 KiB pages (a TLB miss) or a page fault, and the memory a configuration
 * needs is taken whole at start-up rather than failing later.
 */
#define HUGE_PAGE (UINT64_C(2) << 20)

void *ortak__alloc_large(size_t bytes) {
    if (bytes < HUGE_PAGE) return malloc(bytes ? bytes : 1);
    void *p;
    if (posix_memalign(&p, HUGE_PAGE, bytes) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE); /* advice only: without huge pages everything still works */
#endif
    return p;
}

void *ortak__calloc_array(size_t count, size_t size) {
    if (count == 0 || size == 0) return calloc(1, 1);
    if (count > SIZE_MAX / size) return NULL;
    size_t bytes = count * size;
    if (bytes < HUGE_PAGE) return calloc(count, size);
    void *p = ortak__alloc_large(bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

int ortak_arena_init(struct ortak_arena *a, size_t cap) {
    a->base = cap ? malloc(cap) : NULL;
    a->cap = a->base ? cap : 0;
    a->used = 0;
    return (cap && !a->base) ? -1 : 0;
}

void ortak_arena_free(struct ortak_arena *a) {
    free(a->base);
    *a = (struct ortak_arena){0};
}

void *ortak_arena_alloc(struct ortak_arena *a, size_t size, size_t align) {
    ORTAK_ASSERT(align && (align & (align - 1)) == 0);
    if (!a->base) return NULL;
    /* Align the address, not the offset: the block itself is only as aligned as malloc makes it. */
    uintptr_t base = (uintptr_t)a->base, at = base + a->used;
    uintptr_t aligned = (at + align - 1) & ~(uintptr_t)(align - 1);
    if (aligned < at) return NULL;
    size_t start = (size_t)(aligned - base);
    if (start > a->cap || size > a->cap - start) return NULL;
    a->used = start + size;
    void *p = a->base + start;
    memset(p, 0, size);
    return p;
}

void ortak_arena_reset(struct ortak_arena *a) { a->used = 0; }

int ortak_pool_init(struct ortak_pool *p, size_t slot_size, uint32_t cap) {
    *p = (struct ortak_pool){0};
    p->slots = ortak__calloc_array(cap, slot_size);
    p->free_stack = ortak__calloc_array(cap, sizeof *p->free_stack);
    if (!p->slots || !p->free_stack) {
        ortak_pool_free(p);
        return -1;
    }
    p->slot_size = slot_size;
    p->cap = cap;
    p->free_count = cap;
    for (uint32_t i = 0; i < cap; i++) p->free_stack[i] = cap - 1 - i;
    return 0;
}

void ortak_pool_free(struct ortak_pool *p) {
    free(p->slots);
    free(p->free_stack);
    *p = (struct ortak_pool){0};
}

uint32_t ortak_pool_take(struct ortak_pool *p) {
    if (p->free_count == 0) return UINT32_MAX;
    return p->free_stack[--p->free_count];
}

void ortak_pool_give(struct ortak_pool *p, uint32_t i) {
    ORTAK_ASSERT(i < p->cap);
    ORTAK_ASSERT(p->free_count < p->cap);
#ifdef ORTAK_DEBUG
    for (uint32_t k = 0; k < p->free_count; k++) ORTAK_ASSERT(p->free_stack[k] != i);
#endif
    p->free_stack[p->free_count++] = i;
}

void *ortak_pool_at(const struct ortak_pool *p, uint32_t i) {
    ORTAK_ASSERT(i < p->cap);
    return p->slots + (size_t)i * p->slot_size;
}

uint32_t ortak_pool_used(const struct ortak_pool *p) { return p->cap - p->free_count; }
