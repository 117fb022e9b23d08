/*
 * Pointer-and-length slices and bounded parsing.
 *
 * Input from outside (configuration, messages, journal files) is read through slices: a cursor advances, every
 * number is bounded, nothing relies on a terminating NUL. No atoi, sscanf or strcpy.
 */
#ifndef ORTAK_BASE_SLICE_H
#define ORTAK_BASE_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ortak_slice {
    const char *ptr;
    size_t len;
};

#define ORTAK_SLICE_LIT(s) ((struct ortak_slice){(s), sizeof(s) - 1})

struct ortak_slice ortak_slice_from_cstr(const char *s);
/* Removes ASCII spaces and tabs at both ends. */
struct ortak_slice ortak_slice_trim(struct ortak_slice s);
bool ortak_slice_eq(struct ortak_slice a, struct ortak_slice b);
bool ortak_slice_eq_cstr(struct ortak_slice a, const char *b);
/*
 * Parses the whole slice as an unsigned decimal number no greater than `max`. Returns false for an empty slice,
 * any character that is not a digit, or a value above `max` (no overflow can occur).
 */
bool ortak_slice_parse_u64(struct ortak_slice s, uint64_t max, uint64_t *out);
/*
 * Copies the slice into `dst` (capacity `cap` including the NUL). Returns false, writing nothing useful, when it
 * does not fit.
 */
bool ortak_slice_copy(struct ortak_slice s, char *dst, size_t cap);

#endif
