/*
 * ortak result codes.
 *
 * Every fallible function in ortak returns an `ortak_rc`. The codes come from the single table below; each has
 * a symbolic name, a human message and the ISO 20022 external status reason code that a payment refused for
 * that reason carries in a pacs.002 ("" when the code never reaches a payment).
 *
 * The table is append-only: codes are journaled and exchanged with clients, so a code's number never changes.
 */
#ifndef ORTAK_RC_H
#define ORTAK_RC_H

/* X(name, number, iso_reason, message) */
#define ORTAK_RC_MAP(X)                                                                                                \
    X(OK, 0, "", "ok")                                                                                                 \
    X(INVALID, 1, "NARR", "invalid argument")                                                                          \
    X(CORRUPT, 2, "", "data is corrupt")                                                                               \
    X(NOMEM, 3, "", "out of memory")                                                                                   \
    X(IO, 4, "", "input/output error")                                                                                 \
    X(CONFIG_INVALID, 5, "", "configuration is invalid")                                                               \
    X(COMMAND_UNKNOWN, 6, "AG03", "unknown command")                                                                   \
    X(BATCH_TOO_LARGE, 7, "", "batch holds more commands than the configured maximum")                                 \
    X(TIME_BACKWARDS, 8, "", "command timestamp is earlier than engine time")                                          \
    X(BIC_INVALID, 9, "RC01", "BIC is not a valid ISO 9362 business identifier code")                                  \
    X(NAME_INVALID, 10, "NARR", "name is empty, too long or contains control characters")                              \
    X(COUNTRY_INVALID, 11, "NARR", "country is not an ISO 3166 alpha-2 code")                                          \
    X(ROLE_INVALID, 12, "NARR", "participant role is invalid")                                                         \
    X(STATUS_INVALID, 13, "NARR", "status is invalid or the change is not allowed")                                    \
    X(PARTICIPANT_EXISTS, 14, "", "participant with this BIC already exists")                                          \
    X(PARTICIPANT_NOT_FOUND, 15, "RC01", "participant not found")                                                      \
    X(PARTICIPANT_NOT_ACTIVE, 16, "AG10", "participant is suspended or closed")                                        \
    X(PARTICIPANTS_FULL, 17, "", "limit reached: participants")                                                        \
    X(CURRENCY_UNKNOWN, 18, "AM03", "currency is not settled by this system")                                          \
    X(ACCOUNT_ID_INVALID, 19, "AC01", "account id must not be 0 or all ones")                                          \
    X(ACCOUNT_KIND_INVALID, 20, "AC01", "account kind is invalid")                                                     \
    X(ACCOUNT_EXISTS, 21, "", "account already exists with the same fields")                                           \
    X(ACCOUNT_EXISTS_DIFFERENT, 22, "", "account id already exists with different fields")                             \
    X(ACCOUNT_KIND_TAKEN, 23, "", "participant already has an account of this kind in this currency")                  \
    X(ACCOUNT_NOT_FOUND, 24, "AC01", "account not found")                                                              \
    X(ACCOUNT_CLOSED, 25, "AC04", "account is closed")                                                                 \
    X(ACCOUNT_NOT_EMPTY, 26, "",                                                                                       \
      "account still has a balance, pending transfers, a credit line or a position in an open net window")             \
    X(ACCOUNTS_FULL, 27, "", "limit reached: accounts")                                                                \
    X(ISSUANCE_NOT_AGENT, 28, "AG01", "only the settlement agent of a currency holds its issuance account")            \
    X(TRANSFER_ID_INVALID, 29, "", "transfer id must not be 0 or in the system's id space (top 16 bits all ones)")     \
    X(FLAGS_INVALID, 30, "", "transfer flags are invalid or contradictory")                                            \
    X(AMOUNT_ZERO, 31, "AM01", "amount is zero")                                                                       \
    X(AMOUNT_OVERFLOW, 32, "AM12", "amount exceeds the largest representable amount")                                  \
    X(SAME_ACCOUNT, 33, "AC01", "debit and credit account are the same")                                               \
    X(CURRENCY_MISMATCH, 34, "AC09", "debit and credit accounts are in different currencies")                          \
    X(INSUFFICIENT_FUNDS, 35, "AM04", "insufficient funds")                                                            \
    X(BALANCE_OVERFLOW, 36, "AM12", "balance would overflow")                                                          \
    X(TIMEOUT_INVALID, 37, "", "timeout is only allowed on pending transfers and must not overflow")                   \
    X(TRANSFER_EXISTS_DIFFERENT, 38, "DUPL", "transfer id already exists with different fields")                       \
    X(TRANSFERS_FULL, 39, "", "limit reached: transfers")                                                              \
    X(PENDING_ID_INVALID, 40, "", "pending id is missing or set on a transfer that is not a post or void")             \
    X(PENDING_NOT_FOUND, 41, "", "pending transfer not found")                                                         \
    X(PENDING_NOT_PENDING, 42, "", "referenced transfer is not a pending transfer")                                    \
    X(PENDING_ALREADY_POSTED, 43, "", "pending transfer already posted")                                               \
    X(PENDING_ALREADY_VOIDED, 44, "", "pending transfer already voided")                                               \
    X(PENDING_EXPIRED, 45, "", "pending transfer expired")                                                             \
    X(PENDING_AMOUNT_EXCEEDS, 46, "AM12", "amount exceeds the pending amount")                                         \
    X(PENDING_DIFFERENT, 47, "", "accounts differ from those of the pending transfer")                                 \
    X(PENDINGS_FULL, 48, "", "limit reached: pending transfers")                                                       \
    X(LINKED_EVENT_FAILED, 49, "", "another transfer in the linked chain failed")                                      \
    X(LINKED_CHAIN_OPEN, 50, "", "linked chain not closed: the batch's last command has the linked flag")              \
    X(CREDIT_LINE_IN_USE, 51, "", "credit line cannot be lowered below what is drawn on it")                           \
    X(KIND_NOT_ALLOWED, 52, "", "operation not allowed on this kind of account")                                       \
    X(NEGATIVE_AMOUNT, 53, "AM12", "amount must not be negative")                                                      \
    X(TRANSFER_NOT_FOUND, 54, "", "transfer not found")                                                                \
    X(PAYMENT_ID_INVALID, 55, "", "payment id must not be 0 or in the system's id space (top 16 bits all ones)")       \
    X(PAYMENT_EXISTS_DIFFERENT, 56, "DUPL", "payment id already exists with different fields")                         \
    X(PAYMENT_NOT_FOUND, 57, "", "payment not found")                                                                  \
    X(PAYMENT_NOT_QUEUED, 58, "", "payment is not queued (already settled, cancelled or rejected)")                    \
    X(PAYMENTS_FULL, 59, "", "limit reached: payments")                                                                \
    X(PRIORITY_INVALID, 60, "NARR", "priority is invalid")                                                             \
    X(CUTOFF_PASSED, 61, "TM01", "the cut-off for this priority has passed")                                           \
    X(REJECTED_AT_CUTOFF, 62, "AM04", "still queued for lack of liquidity at the cut-off")                             \
    X(SETTLEMENT_TIMEOUT, 63, "AB03", "latest settlement time passed while queued")                                    \
    X(LATEST_TIME_PASSED, 64, "AB03", "latest settlement time is already past")                                        \
    X(GRIDLOCK_MODE_INVALID, 65, "NARR", "gridlock resolution mode is invalid")                                        \
    X(METHOD_INVALID, 66, "NARR", "settlement method is invalid, or a net payment is not normal or has a latest time") \
    X(NET_CAP_EXCEEDED, 67, "AM14", "the payer's net debit position would exceed its net debit cap")                   \
    X(NET_CAP_ABOVE_COLLATERAL, 68, "NARR", "a net debit cap must not exceed the collateral held")                     \
    X(NET_CAP_IN_USE, 69, "NARR", "a net debit cap cannot be lowered below the open window's net debit")               \
    X(NET_WINDOW_CLOSED, 70, "TM01", "net settlement is closed for the day (the normal cut-off has passed)")           \
    X(NET_WINDOW_UNSETTLED, 71, "NARR", "the net window could not settle (no room for its transfers); it stays open")  \
    X(WINDOW_NOT_FOUND, 72, "", "no such net window (only the open one and the last closed are kept)")                 \
    X(QUOTE_NOT_FOUND, 73, "", "FX quote not found")                                                                   \
    X(QUOTE_EXISTS_DIFFERENT, 74, "DUPL", "FX quote id already exists with different fields")                          \
    X(QUOTE_EXPIRED, 75, "NARR", "the FX quote has expired")                                                           \
    X(QUOTE_USED, 76, "NARR", "the FX quote is already carried by another payment")                                    \
    X(QUOTE_OTHER_PAYER, 77, "NARR", "the FX quote was given to another payer")                                        \
    X(QUOTE_MISMATCH, 78, "NARR", "the payment's payee or amount differs from its FX quote's")                         \
    X(FX_PAIR_UNSUPPORTED, 79, "AM03", "no FX provider quotes this currency pair")                                     \
    X(FX_AMOUNT_ABOVE_MAX, 80, "AM02", "the amount is above every FX provider's maximum for the pair")                 \
    X(FX_NO_LIQUIDITY, 81, "NARR", "no FX provider has the target-currency liquidity for the amount")                  \
    X(FX_RATE_INVALID, 82, "NARR", "FX rate invalid: bid 0 or above ask, maximum 0, expired, or one currency")         \
    X(FX_RATE_NOT_FOUND, 83, "", "the FX provider has no rate for this pair")                                          \
    X(FX_PROVIDER_INVALID, 84, "RC01", "not an active FX provider with settlement accounts in both currencies")        \
    X(QUOTES_FULL, 85, "", "limit reached: FX quotes")                                                                 \
    X(FX_RATES_FULL, 86, "", "limit reached: FX rates")                                                                \
    X(QUOTE_ID_INVALID, 87, "", "FX quote id must not be 0 or in the system's id space")                               \
    X(QUOTE_REQUEST_INVALID, 88, "NARR", "FX quote request invalid: fixed side unknown or time to live too long")      \
    X(FX_FEE_ACCOUNT_MISSING, 89, "NARR", "an FX fee is set but no active operator has an account in the currency")    \
    X(ISO_INVALID, 90, "FF01", "message breaks its schema or a rule")                                                  \
    X(ISO_UNREADABLE, 91, "FF01", "message cannot be read: not XML, too large, too deep, a DOCTYPE or no Document")    \
    X(ISO_DUPLICATE_MESSAGE, 92, "AM05", "message id already used by this sender")                                     \
    X(ISO_SEEN_FULL, 93, "", "limit reached: message ids remembered")                                                  \
    X(IBAN_INVALID, 94, "AC01", "IBAN fails its check digits or its country's format")                                 \
    X(AMOUNT_INVALID, 95, "AM12", "amount is malformed or has more decimals than its currency")                        \
    X(ISO_NOT_SUPPORTED, 96, "AG03", "message or service not offered")                                                 \
    X(ISO_SENDER_MISMATCH, 97, "AG01", "the message's sender or debtor agent is not the authenticated participant")    \
    X(ISO_RETURN_INVALID, 98, "NARR", "the payment returned is unknown or not settled, or the return does not match")  \
    X(ISO_DUPLICATE_UETR, 99, "DUPL", "a payment with this UETR already exists")                                       \
    X(PAYMENT_NOT_HELD, 100, "", "payment is not held by screening")                                                   \
    X(SCREENING_REJECTED, 101, "RR04", "rejected after sanctions screening (regulatory reason)")                       \
    X(NOT_LEADER, 102, "", "not durable: this node does not hold the replicated journal (another writer does)")

enum ortak_rc {
#define ORTAK_RC_ENUM(name, num, iso, msg) ORTAK_##name = num,
    ORTAK_RC_MAP(ORTAK_RC_ENUM)
#undef ORTAK_RC_ENUM
        ORTAK_RC_COUNT_
};
typedef enum ortak_rc ortak_rc;

/* Human message for a code; "unknown result code" for a number outside the table. Never NULL. */
const char *ortak_rc_str(ortak_rc rc);
/* Symbolic name without the ORTAK_ prefix ("INSUFFICIENT_FUNDS"); "UNKNOWN" outside the table. */
const char *ortak_rc_name(ortak_rc rc);
/* ISO 20022 external status reason code ("AM04"), or "" when the code has none. Never NULL. */
const char *ortak_rc_iso_reason(ortak_rc rc);

#endif
