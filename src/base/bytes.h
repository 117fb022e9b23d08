/*
 * Little-endian fields: the one encoding of integers in every format ortak writes (journal records, batches,
 * snapshots, the canonical state). A writer streams fields to a sink; a reader takes them from a slice and turns
 * any shortfall into a sticky `bad` flag, so a decoder checks once at the end instead of after every field.
 */
#ifndef ORTAK_BASE_BYTES_H
#define ORTAK_BASE_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"
#include "ortak/types.h"

void ortak__le_put(unsigned char *p, uint64_t v, int bytes);
uint64_t ortak__le_get(const unsigned char *p, int bytes);

struct ortak__writer {
    ortak_sink_fn sink;
    void *ctx;
};

void ortak__put_u64(const struct ortak__writer *w, uint64_t v);
void ortak__put_u128(const struct ortak__writer *w, ortak_u128 v);
void ortak__put_bytes(const struct ortak__writer *w, const void *p, size_t n);

struct ortak__reader {
    struct ortak_slice *cur; /* advanced past what is read */
    bool bad;                /* set when a read ran past the end; every later read returns zeros */
};

/* The next `n` bytes, or NULL (and `bad`) when fewer remain. */
const unsigned char *ortak__get_ref(struct ortak__reader *r, size_t n);
/* A little-endian integer of `bytes` bytes (1..8); 0 when bad. */
uint64_t ortak__get_le(struct ortak__reader *r, int bytes);
ortak_u128 ortak__get_u128(struct ortak__reader *r);
/* Copies `n` bytes into `dst` (left unchanged when bad). */
void ortak__get_bytes(struct ortak__reader *r, void *dst, size_t n);

#endif
