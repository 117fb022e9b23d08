/*
 * The ledger: currencies, participants, accounts and transfers.
 *
 * The ledger books transfers between accounts and keeps every balance exact in 128-bit integers. It is part of the
 * deterministic engine: it has no clock (time comes with each command), does no I/O and never allocates after
 * the engine opens. Its state changes only through engine commands (engine.h); this header gives the command
 * payloads, the enumerations and read-only queries.
 *
 * Balances of an account:
 *   balance   = credits_posted - debits_posted
 *   available = balance - debits_pending + credit_line - reserved
 * Floor: for every account but an `issuance` one, balance - debits_pending + credit_line >= 0 at all times. A
 * transfer may draw on `reserved` only with ORTAK_TRANSFER_USE_RESERVED (urgent payments).
 */
#ifndef ORTAK_LEDGER_H
#define ORTAK_LEDGER_H

#include "ortak/limits.h"
#include "ortak/rc.h"
#include "ortak/types.h"

enum ortak_role { ORTAK_ROLE_OPERATOR = 1, ORTAK_ROLE_CENTRAL_BANK, ORTAK_ROLE_BANK, ORTAK_ROLE_FX_PROVIDER };
enum ortak_participant_status { ORTAK_PARTICIPANT_ACTIVE = 1, ORTAK_PARTICIPANT_SUSPENDED, ORTAK_PARTICIPANT_CLOSED };
enum ortak_account_kind { ORTAK_ACCOUNT_SETTLEMENT = 1, ORTAK_ACCOUNT_COLLATERAL, ORTAK_ACCOUNT_ISSUANCE };
enum ortak_account_status { ORTAK_ACCOUNT_STATUS_ACTIVE = 1, ORTAK_ACCOUNT_STATUS_CLOSED };

/* Transfer flags. */
enum {
    /* Hold the amount: debits_pending/credits_pending rise; post or void later, or it expires after timeout_s. */
    ORTAK_TRANSFER_PENDING = 1u << 0,
    /* Post the pending transfer `pending_id`: all of it (amount 0) or part of it (0 < amount <= pending). */
    ORTAK_TRANSFER_POST_PENDING = 1u << 1,
    /* Void the pending transfer `pending_id` (amount 0 or equal to the pending amount). */
    ORTAK_TRANSFER_VOID_PENDING = 1u << 2,
    /* This transfer and the next command of the batch succeed or fail together. */
    ORTAK_TRANSFER_LINKED = 1u << 3,
    /* The debit may draw on the account's reserved liquidity (urgent and highly urgent payments). */
    ORTAK_TRANSFER_USE_RESERVED = 1u << 4,
};
#define ORTAK_TRANSFER_FLAGS_ALL 0x1fu

/* State of a pending transfer. */
enum ortak_pending_state {
    ORTAK_PENDING_STATE_NONE = 0, /* not a pending transfer */
    ORTAK_PENDING_STATE_OPEN,
    ORTAK_PENDING_STATE_POSTED,
    ORTAK_PENDING_STATE_VOIDED,
    ORTAK_PENDING_STATE_EXPIRED,
};

/* A transfer as submitted. Every field takes part in the idempotency comparison. */
struct ortak_transfer {
    ortak_u128 id;                /* not 0, not all ones */
    ortak_u128 debit_account_id;  /* for post/void: 0 (take the pending one's) or equal to it */
    ortak_u128 credit_account_id; /* likewise */
    ortak_u128 pending_id;        /* post/void only: the pending transfer */
    ortak_u128 user_data;         /* opaque to the ledger: a payment's UETR, for instance */
    uint64_t amount;              /* minor units, 1..ORTAK_AMOUNT_MAX (see flags for post/void) */
    uint32_t timeout_s;           /* pending only: seconds until it expires; 0 = never */
    uint16_t flags;
    uint16_t code; /* opaque to the ledger: the kind of business movement */
};

struct ortak_participant_create {
    char bic[12];                        /* 8 or 11 characters, NUL-terminated */
    char name[ORTAK_NAME_LEN_LIMIT + 1]; /* UTF-8, 1..140 bytes, no control characters */
    char country[3];                     /* ISO 3166 alpha-2; "" takes the BIC's country */
    uint8_t role;                        /* enum ortak_role */
};

struct ortak_participant_set_status {
    char bic[12];
    uint8_t status; /* enum ortak_participant_status; closed is final */
};

struct ortak_account_create {
    ortak_u128 id;
    char bic[12];     /* the owner */
    char currency[4]; /* ISO 4217 alphabetic code */
    uint8_t kind;     /* enum ortak_account_kind */
};

/* Close an account, set its credit line (settlement accounts), or set its reservation (settlement accounts). */
struct ortak_account_amount {
    ortak_u128 account_id;
    int64_t amount; /* credit line or reservation in minor units, >= 0; unused by close */
};

/* Read-only views. */
struct ortak_currency_info {
    char code[4];
    uint16_t numeric;
    uint8_t minor_units;
    char agent_bic[12];
    int32_t agent; /* participant index of the settlement agent, or -1 until it is admitted */
};

struct ortak_participant_info {
    char bic[12];
    char name[ORTAK_NAME_LEN_LIMIT + 1];
    char country[3];
    uint8_t role;
    uint8_t status;
    uint32_t index;
};

struct ortak_account_info {
    ortak_u128 id;
    char bic[12];
    char currency[4];
    uint8_t kind;
    uint8_t status;
    ortak_i128 debits_posted, credits_posted;
    ortak_i128 debits_pending, credits_pending;
    int64_t credit_line;
    int64_t reserved;
    ortak_i128 balance;   /* credits_posted - debits_posted */
    ortak_i128 available; /* balance - debits_pending + credit_line - reserved */
    uint32_t pending_count;
};

struct ortak_transfer_info {
    struct ortak_transfer t; /* as submitted */
    ortak_rc rc;             /* its outcome: ORTAK_OK when booked */
    ortak_time_ns timestamp;
    uint64_t amount_booked; /* what moved (post of a part: the part); 0 when refused */
    uint8_t pending_state;  /* enum ortak_pending_state */
};

/* One entry of an account's history: a posted movement and the balance after it. */
struct ortak_posting {
    uint64_t seq; /* position in the ledger's history, strictly increasing */
    ortak_time_ns timestamp;
    ortak_u128 transfer_id;
    ortak_u128 counterparty_account_id;
    int64_t amount; /* > 0 credit, < 0 debit */
    ortak_i128 balance_after;
};

struct ortak_ledger;

uint32_t ortak_ledger_currency_count(const struct ortak_ledger *l);
/* Fills *out for currency index i (< count). */
void ortak_ledger_currency_at(const struct ortak_ledger *l, uint32_t i, struct ortak_currency_info *out);
/* Returns ORTAK_OK or ORTAK_CURRENCY_UNKNOWN. */
ortak_rc ortak_ledger_currency_get(const struct ortak_ledger *l, const char *code, struct ortak_currency_info *out);

uint32_t ortak_ledger_participant_count(const struct ortak_ledger *l);
void ortak_ledger_participant_at(const struct ortak_ledger *l, uint32_t i, struct ortak_participant_info *out);
/* Returns ORTAK_OK, ORTAK_BIC_INVALID or ORTAK_PARTICIPANT_NOT_FOUND. A BIC8 and its BIC11 with XXX match. */
ortak_rc ortak_ledger_participant_get(const struct ortak_ledger *l, const char *bic,
                                      struct ortak_participant_info *out);

uint32_t ortak_ledger_account_count(const struct ortak_ledger *l);
void ortak_ledger_account_at(const struct ortak_ledger *l, uint32_t i, struct ortak_account_info *out);
/* Returns ORTAK_OK or ORTAK_ACCOUNT_NOT_FOUND. */
ortak_rc ortak_ledger_account_get(const struct ortak_ledger *l, ortak_u128 id, struct ortak_account_info *out);
/* The account a participant holds of a kind in a currency. ORTAK_OK, or a NOT_FOUND/UNKNOWN/BIC code. */
ortak_rc ortak_ledger_account_find(const struct ortak_ledger *l, const char *bic, const char *currency, uint8_t kind,
                                   struct ortak_account_info *out);

/* Transfers recorded (booked and refused). */
uint32_t ortak_ledger_transfer_count(const struct ortak_ledger *l);
/* Returns ORTAK_OK or ORTAK_TRANSFER_NOT_FOUND. */
ortak_rc ortak_ledger_transfer_get(const struct ortak_ledger *l, ortak_u128 id, struct ortak_transfer_info *out);

/*
 * Reads an account's history in time order: postings with from_ns <= timestamp <= to_ns, oldest first, at most
 * `max` of them into `out`. `*cursor` is 0 for the first page; on return it holds the value that fetches the
 * next page, or 0 when the range is exhausted. `*truncated` is set when the range reaches back before the
 * oldest posting still held in memory (older ones are in the journal). Returns ORTAK_OK or
 * ORTAK_ACCOUNT_NOT_FOUND; *n is the number written.
 */
ortak_rc ortak_ledger_history(const struct ortak_ledger *l, ortak_u128 account_id, ortak_time_ns from_ns,
                              ortak_time_ns to_ns, uint64_t *cursor, struct ortak_posting *out, uint32_t max,
                              uint32_t *n, bool *truncated);

/* Validates an ISO 9362 BIC: 4 alphanumerics, a 2-letter ISO 3166 country, 2 alphanumerics, and optionally 3. */
bool ortak_bic_valid(const char *bic);
/* Whether `cc` (2 uppercase letters) is an assigned ISO 3166-1 alpha-2 code. */
bool ortak_country_valid(const char *cc);

const char *ortak_role_name(uint8_t role);
const char *ortak_account_kind_name(uint8_t kind);
const char *ortak_participant_status_name(uint8_t status);

#endif
