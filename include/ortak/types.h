/*
 * Basic types shared by every ortak module.
 *
 * Identifiers (transfer, account, payment ids; UETRs) are 128-bit unsigned integers. Running totals of money are
 * 128-bit signed integers; one amount is at most INT64_MAX minor units. No floating point is ever used for money.
 */
#ifndef ORTAK_TYPES_H
#define ORTAK_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

__extension__ typedef unsigned __int128 ortak_u128;
__extension__ typedef __int128 ortak_i128;

#define ORTAK_U128(hi, lo) ((((ortak_u128)(uint64_t)(hi)) << 64) | (ortak_u128)(uint64_t)(lo))
#define ORTAK_U128_MAX (~(ortak_u128)0)
#define ORTAK_AMOUNT_MAX ((uint64_t)INT64_MAX)

/* Engine time: nanoseconds since 1970-01-01T00:00:00Z, carried inside every command. */
typedef uint64_t ortak_time_ns;
#define ORTAK_NS_PER_S UINT64_C(1000000000)

/*
 * Writes `v` as 32 lowercase hex digits and a NUL into `out` (33 bytes). Returns `out`.
 * Formats a 128-bit id for logs and messages.
 */
char *ortak_u128_hex(ortak_u128 v, char out[33]);
/* Writes the decimal form of `v` and a NUL into `out` (41 bytes: sign and 39 digits). Returns `out`. */
char *ortak_i128_dec(ortak_i128 v, char out[41]);

/* Receives encoded bytes in pieces (state encoding, snapshots): `len` bytes at `data`. */
typedef void (*ortak_sink_fn)(void *ctx, const void *data, size_t len);

#endif
