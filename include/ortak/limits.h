/*
 * Every limit of ortak in one place.
 *
 * Two kinds of number live here. Hard limits (`*_LIMIT`) are compile-time bounds that fix the width of fields
 * and the size of fixed arrays. Defaults (`*_DEFAULT`) are the values a configuration gets when it says nothing;
 * a configuration may set any count between 1 and its hard limit. The engine sizes every pool from the
 * configured counts when it opens and never allocates afterwards; reaching a count is a result code, never a
 * crash.
 */
#ifndef ORTAK_LIMITS_H
#define ORTAK_LIMITS_H

#include <stdint.h>

/* Currencies settled by one system. The OTS default set has seven; room for the council to grow. */
#define ORTAK_CURRENCIES_LIMIT 32u
/* Participants (central banks, banks, FX providers, the operator). Indices are 32-bit; this bounds memory. */
#define ORTAK_PARTICIPANTS_LIMIT 65536u
/* Accounts: one per participant, currency and kind at most. */
#define ORTAK_ACCOUNTS_LIMIT (ORTAK_PARTICIPANTS_LIMIT * ORTAK_CURRENCIES_LIMIT * 3u)
/* Transfers kept in memory for idempotency and lookup (booked and refused). 2^28 x 128 B = 32 GiB. */
#define ORTAK_TRANSFERS_LIMIT (UINT32_C(1) << 28)
/* Pending transfers alive at once. */
#define ORTAK_PENDING_LIMIT (UINT32_C(1) << 24)
/* Postings (balance history entries) retained in memory; older ones live in the journal. */
#define ORTAK_HISTORY_LIMIT (UINT32_C(1) << 30)
/* Payments held (queued, settled, refused) for idempotency, queues and lookup. */
#define ORTAK_PAYMENTS_LIMIT (UINT32_C(1) << 27)
/* FX quotes held (open, used and ended alike, for idempotency and lookup), and providers' rates published. */
#define ORTAK_QUOTES_LIMIT (UINT32_C(1) << 24)
#define ORTAK_FX_RATES_LIMIT 65536u
/* Commands in one batch. 8190 fits a batch with its header in 1 MiB of 128-byte records. */
#define ORTAK_BATCH_LIMIT 8190u
/* Bytes of a participant's or a currency agent's name (ISO 20022 Max140Text). */
#define ORTAK_NAME_LEN_LIMIT 140u

#define ORTAK_PARTICIPANTS_DEFAULT 1024u
#define ORTAK_ACCOUNTS_DEFAULT 16384u
#define ORTAK_TRANSFERS_DEFAULT (UINT32_C(1) << 22)
#define ORTAK_PENDING_DEFAULT (UINT32_C(1) << 16)
#define ORTAK_HISTORY_DEFAULT (UINT32_C(1) << 22)
#define ORTAK_BATCH_DEFAULT ORTAK_BATCH_LIMIT
#define ORTAK_PAYMENTS_DEFAULT (UINT32_C(1) << 16)
#define ORTAK_QUOTES_DEFAULT (UINT32_C(1) << 16)
#define ORTAK_FX_RATES_DEFAULT 4096u

_Static_assert(ORTAK_ACCOUNTS_LIMIT <= UINT32_MAX / 2, "account indices and hash slots fit 32 bits");
_Static_assert(ORTAK_TRANSFERS_LIMIT <= UINT32_MAX / 2, "transfer hash table (2x) fits 32-bit slots");
_Static_assert(ORTAK_PENDING_LIMIT <= ORTAK_TRANSFERS_LIMIT, "every pending transfer is a transfer");
_Static_assert(ORTAK_PARTICIPANTS_DEFAULT <= ORTAK_PARTICIPANTS_LIMIT, "default within limit");
_Static_assert(ORTAK_ACCOUNTS_DEFAULT <= ORTAK_ACCOUNTS_LIMIT, "default within limit");
_Static_assert(ORTAK_TRANSFERS_DEFAULT <= ORTAK_TRANSFERS_LIMIT, "default within limit");
_Static_assert(ORTAK_PENDING_DEFAULT <= ORTAK_PENDING_LIMIT, "default within limit");
_Static_assert(ORTAK_HISTORY_DEFAULT <= ORTAK_HISTORY_LIMIT, "default within limit");
_Static_assert(ORTAK_BATCH_DEFAULT <= ORTAK_BATCH_LIMIT, "default within limit");
_Static_assert(ORTAK_NAME_LEN_LIMIT <= 255u, "name length fits one byte");
_Static_assert(ORTAK_PAYMENTS_DEFAULT <= ORTAK_PAYMENTS_LIMIT, "default within limit");
_Static_assert(ORTAK_PAYMENTS_LIMIT <= ORTAK_TRANSFERS_LIMIT, "every settled payment books a transfer");
_Static_assert(ORTAK_QUOTES_DEFAULT <= ORTAK_QUOTES_LIMIT, "default within limit");
_Static_assert(ORTAK_FX_RATES_DEFAULT <= ORTAK_FX_RATES_LIMIT, "default within limit");

/* The configured counts. Every field is between 1 and its hard limit (checked by ortak_config_check). */
struct ortak_limits {
    uint32_t participants_max;
    uint32_t accounts_max;
    uint32_t transfers_max;
    uint32_t pending_max;
    uint32_t history_max;
    uint32_t batch_max;
    uint32_t payments_max;
    uint32_t quotes_max;
    uint32_t fx_rates_max;
};

#endif
