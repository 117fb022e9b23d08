/*
 * Arenas and fixed pools.
 *
 * An arena is one block taken at start-up from which objects are carved with a bump pointer; it is reset as a
 * whole (per-request scratch memory) and freed as a whole. A pool is an array of equal-size slots with a free
 * stack, sized once from a configured limit; taking a slot from a full pool fails, it never grows. The order in
 * which slots come out depends only on the order of takes and gives, so it is deterministic.
 */
#ifndef ORTAK_BASE_ARENA_H
#define ORTAK_BASE_ARENA_H

#include <stddef.h>
#include <stdint.h>

struct ortak_arena {
    unsigned char *base;
    size_t cap;
    size_t used;
};

/* Allocates the block. Returns 0, or -1 when memory is exhausted (the arena is then empty but valid). */
int ortak_arena_init(struct ortak_arena *a, size_t cap);
void ortak_arena_free(struct ortak_arena *a);
/* Returns `size` bytes aligned to `align` (a power of two), zeroed, or NULL when the arena is full. */
void *ortak_arena_alloc(struct ortak_arena *a, size_t size, size_t align);
void ortak_arena_reset(struct ortak_arena *a);

struct ortak_pool {
    unsigned char *slots;
    uint32_t *free_stack;
    size_t slot_size;
    uint32_t cap;
    uint32_t free_count;
};

/* Allocates `cap` slots of `slot_size` bytes. Returns 0, or -1 when memory is exhausted. */
int ortak_pool_init(struct ortak_pool *p, size_t slot_size, uint32_t cap);
void ortak_pool_free(struct ortak_pool *p);
/* Takes a free slot and returns its index, or UINT32_MAX when full. Slot 0 first, then the most recently given. */
uint32_t ortak_pool_take(struct ortak_pool *p);
/* Returns slot `i` to the pool. Giving back a slot that is already free is a bug (asserted in debug builds). */
void ortak_pool_give(struct ortak_pool *p, uint32_t i);
void *ortak_pool_at(const struct ortak_pool *p, uint32_t i);
uint32_t ortak_pool_used(const struct ortak_pool *p);

/*
 * calloc with an overflow check on count * size; NULL on overflow or exhaustion. Blocks of 2 MiB and more are
 * aligned for transparent huge pages and zeroed at once (so every page is taken now). Release with free().
 */
void *ortak__calloc_array(size_t count, size_t size);
/* `bytes` not zeroed, aligned for transparent huge pages when large (for big I/O buffers). Release with free(). */
void *ortak__alloc_large(size_t bytes);

#endif
