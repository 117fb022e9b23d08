/*
 * ISO 20022 messaging: read what banks send, refuse what is wrong with the right reason code, map payments to
 * engine commands, and generate the messages ortak sends.
 *
 * Reading. A message is a bare Document, or a business application header (head.001 AppHdr) and a Document inside
 * a wrapper element of any name. Size and element depth are bounded by a scan of the bytes before anything is
 * parsed; a DOCTYPE is refused there too, so no DTD is read and no entity is expanded; libxml2 never touches the
 * network. The header and the document are found by namespace, the message definition comes from the document's
 * namespace, and each part is validated against its schema when schemas are loaded. Then ortak's own rules
 * (docs/iso20022.md) run: each has an id, a message and an ISO external status reason code. The structural checks
 * of every field ortak maps run whether or not schemas are loaded.
 *
 * Threads: a struct ortak_iso (schemas, IBAN registry, options) is read-only once open and shared by every thread;
 * each thread reads with its own struct ortak_iso_reader.
 *
 * Identifiers. A payment's engine id is its UETR with the first and thirteenth hex digits swapped: a UETR is a
 * version 4 UUID, whose thirteenth digit is always 4, so the id begins with 4 and never falls in the system's id
 * space (top 16 bits all ones), and two UETRs never share an id. A duplicate UETR is therefore a duplicate payment
 * id, refused by the engine forever. A return (pacs.004) settles as a payment whose id is derived from the returned
 * payment's id (ortak_iso_return_id) and begins with 5: one return per payment.
 */
#ifndef ORTAK_ISO20022_H
#define ORTAK_ISO20022_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ortak/engine.h"
#include "ortak/rc.h"
#include "ortak/types.h"

/* Message definitions ortak knows; the schema of each is <name>.xsd in the schema directory. */
enum ortak_iso_type {
    ORTAK_ISO_UNKNOWN = 0,
    ORTAK_ISO_HEAD_001, /* head.001.001.02, business application header */
    ORTAK_ISO_PACS_008, /* pacs.008.001.08, FI to FI customer credit transfer */
    ORTAK_ISO_PACS_009, /* pacs.009.001.08, financial institution credit transfer */
    ORTAK_ISO_PACS_004, /* pacs.004.001.09, payment return */
    ORTAK_ISO_PACS_002, /* pacs.002.001.10, payment status report */
    ORTAK_ISO_CAMT_052, /* camt.052.001.08, intraday account report */
    ORTAK_ISO_CAMT_053, /* camt.053.001.08, statement */
    ORTAK_ISO_CAMT_054, /* camt.054.001.08, debit and credit notification */
    ORTAK_ISO_ADMI_002, /* admi.002.001.01, message reject */
    ORTAK_ISO_PAIN_001, /* pain.001.001.09, customer credit transfer initiation: validated, never mapped */
};
#define ORTAK_ISO_TYPES 11

/* "pacs.008.001.08", or "unknown". */
const char *ortak_iso_type_name(uint8_t type);
/* The type whose message definition identifier is `name` ("pacs.008.001.08"), or ORTAK_ISO_UNKNOWN. */
uint8_t ortak_iso_type_from_name(const char *name, size_t len);

/* Limits of what is read. */
#define ORTAK_ISO_MESSAGE_BYTES_DEFAULT (256u * 1024u)
#define ORTAK_ISO_MESSAGE_BYTES_LIMIT (16u * 1024u * 1024u)
#define ORTAK_ISO_DEPTH_DEFAULT 32u
#define ORTAK_ISO_DEPTH_LIMIT 128u
#define ORTAK_ISO_TX_DEFAULT 64u /* transactions per message */
#define ORTAK_ISO_TX_LIMIT 10000u
#define ORTAK_ISO_ISSUES_MAX 8u /* issues kept per message; more are counted */

struct ortak_iso_options {
    const char *schema_dir;     /* NULL or "": no schema validation (structural checks still run) */
    const char *iban_registry;  /* the IBAN registry file (docs/iso20022.md); NULL or "": built-in lengths */
    uint32_t message_bytes_max; /* 0 = default */
    uint32_t depth_max;         /* 0 = default */
    uint32_t tx_max;            /* 0 = default */
};

/* Where the reference data is when nothing is configured: ../shared/data/... beside the source tree, if present. */
const char *ortak_iso_default_schema_dir(void);
const char *ortak_iso_default_iban_registry(void);

struct ortak_iso;
/*
 * Loads every schema of enum ortak_iso_type found in options->schema_dir (a missing file leaves that type
 * unvalidated) and the IBAN registry. Returns ORTAK_OK, ORTAK_NOMEM, ORTAK_IO (a directory or file that cannot be
 * read) or ORTAK_CONFIG_INVALID (a schema or registry that does not parse, or an option out of range); `why` then
 * says which and why.
 */
ortak_rc ortak_iso_open(const struct ortak_iso_options *options, struct ortak_iso **out, char *why, size_t why_len);
void ortak_iso_close(struct ortak_iso *iso);
/* Whether the schema of `type` is loaded; with ORTAK_ISO_UNKNOWN, how many are. */
uint32_t ortak_iso_schema_count(const struct ortak_iso *iso);
bool ortak_iso_schema_loaded(const struct ortak_iso *iso, uint8_t type);

/* One thing wrong with a message. */
struct ortak_iso_issue {
    char rule[16];  /* "XSD", "XML", "LIMIT", or a rule id of docs/iso20022.md ("HDR-1", "AMT-2", ...) */
    char reason[5]; /* ISO external status reason code: FF01, AM12, RC01, ... */
    char text[200]; /* what is wrong, naming the element */
};

enum ortak_iso_account_kind { ORTAK_ISO_ACCT_NONE = 0, ORTAK_ISO_ACCT_IBAN, ORTAK_ISO_ACCT_OTHER };

/* One transaction of a pacs.008, pacs.009 or pacs.004, as read. Text fields are NUL-terminated UTF-8. */
struct ortak_iso_tx {
    char instr_id[36];
    char end_to_end_id[36];
    char tx_id[36];
    char uetr_text[37];
    ortak_u128 uetr; /* 0 when absent */
    char clr_sys_ref[36];
    ortak_u128 quote_id; /* from PmtId/ClrSysRef "FX" + 32 hex digits (docs/iso20022.md); 0 when none */
    char currency[4];
    uint64_t amount;          /* IntrBkSttlmAmt (pacs.004: RtrdIntrBkSttlmAmt) in minor units */
    char settlement_date[11]; /* IntrBkSttlmDt, "YYYY-MM-DD", or "" */
    ortak_time_ns latest_ns;  /* SttlmTmReq RjctTm or TillTm on the settlement date (UTC); 0 = none */
    uint8_t priority;         /* enum ortak_priority */
    uint8_t method;           /* enum ortak_settlement_method */
    char instg_agt[12], instd_agt[12];
    char dbtr_agt[12], cdtr_agt[12]; /* pacs.009: the debtor and creditor institutions when no agents are given */
    char dbtr_name[564], cdtr_name[564];
    char dbtr_acct[35], cdtr_acct[35];
    uint8_t dbtr_acct_kind, cdtr_acct_kind; /* enum ortak_iso_account_kind */
    /* pacs.004 only */
    char rtr_id[36];
    char orgnl_instr_id[36], orgnl_end_to_end_id[36], orgnl_tx_id[36];
    ortak_u128 orgnl_uetr;
    char rtr_reason[5]; /* RtrRsnInf/Rsn/Cd, or "" */
};

/* A message as read. */
struct ortak_iso_msg {
    uint8_t type; /* enum ortak_iso_type of the Document */
    bool has_header;
    bool schema_checked; /* every part present was validated against its schema */
    /* the header */
    char hdr_from[12], hdr_to[12]; /* Fr and To BICs ("" when given otherwise) */
    char hdr_biz_msg_id[36];
    char hdr_msg_def_id[36];
    /* the document */
    char msg_id[36];  /* GrpHdr/MsgId (admi.002: RltdRef/Ref); "" when the message has none */
    char created[36]; /* GrpHdr/CreDtTm as written */
    uint32_t nb_of_txs;
    uint32_t tx_count;             /* transactions read (pacs.008, pacs.009, pacs.004) */
    const struct ortak_iso_tx *tx; /* owned by the reader; valid until its next read */
    uint32_t issue_count;          /* issues found; at most ORTAK_ISO_ISSUES_MAX are kept */
    struct ortak_iso_issue issues[ORTAK_ISO_ISSUES_MAX];
};

struct ortak_iso_reader;
/* Returns ORTAK_OK or ORTAK_NOMEM. The reader uses `iso`, which must outlive it. */
ortak_rc ortak_iso_reader_open(const struct ortak_iso *iso, struct ortak_iso_reader **out);
void ortak_iso_reader_close(struct ortak_iso_reader *r);

/*
 * Reads, validates and extracts one message of `len` bytes. Returns ORTAK_OK when the message is valid (no issue),
 * ORTAK_ISO_INVALID when it is well-formed but breaks its schema or a rule (the issues say which), or
 * ORTAK_ISO_UNREADABLE when it cannot be read at all (too large, too deep, not XML, a DOCTYPE, no Document):
 * answer that with admi.002; or ORTAK_NOMEM (nothing read counts then; no issue). `out` is filled as far as reading
 * got in every other case.
 */
ortak_rc ortak_iso_read(struct ortak_iso_reader *r, const void *data, size_t len, struct ortak_iso_msg *out);

/* Adds an issue to `m` (kept when there is room; always counted). */
void ortak_iso_issue_add(struct ortak_iso_msg *m, const char *rule, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- Mapping in ---- */

/* A UETR (version 4 UUID, lowercase 8-4-4-4-12) from text and back; both false for anything else. */
bool ortak_iso_uetr_parse(const char *text, ortak_u128 *out);
bool ortak_iso_uetr_text(ortak_u128 uetr, char out[37]);

/* The engine id of a payment with this UETR (see the top of this file); 0 for 0. */
ortak_u128 ortak_iso_payment_id(ortak_u128 uetr);
/* The id of the payment that returns payment `original_id`. */
ortak_u128 ortak_iso_return_id(ortak_u128 original_id);

/* What a transaction became: a command to apply, or a refusal to answer with pacs.002 RJCT. */
struct ortak_iso_mapped {
    ortak_rc rc;          /* ORTAK_OK: `cmd` holds the command; otherwise why it is refused */
    char reason[5];       /* its ISO reason code when refused */
    char text[200];       /* what is wrong, when refused */
    struct ortak_cmd cmd; /* ORTAK_CMD_PAYMENT_SUBMIT */
};

/*
 * Maps transaction `i` of a valid pacs.008, pacs.009 or pacs.004 (a message with issues is refused with
 * ORTAK_ISO_INVALID) to a payment command against the engine's
 * current state (read-only: accounts and participants; for a return, the payment returned). `sender` is the BIC
 * the connection authenticated: the header's sender must be that participant, and so must the debtor agent (for a
 * return, the creditor agent of the payment returned). The command's timestamp is `now`. Never fails for a reason
 * other than what it writes into out->rc.
 */
void ortak_iso_map(const struct ortak_engine *e, const struct ortak_iso_msg *m, uint32_t i, const char *sender,
                   ortak_time_ns now, struct ortak_iso_mapped *out);

/*
 * Duplicate message ids: a set of (sender, MsgId) pairs, bounded by `capacity`. ortak_iso_seen_add returns ORTAK_OK
 * when the pair is new (and records it), ORTAK_ISO_DUPLICATE_MESSAGE when it was seen (ISO AM05), or
 * ORTAK_ISO_SEEN_FULL. Not thread-safe: one owner.
 */
struct ortak_iso_seen;
ortak_rc ortak_iso_seen_open(uint32_t capacity, struct ortak_iso_seen **out);
void ortak_iso_seen_close(struct ortak_iso_seen *s);
ortak_rc ortak_iso_seen_add(struct ortak_iso_seen *s, const char *sender, const char *msg_id);

/* ---- Generating out ---- */

/* A growing output buffer. Generators append; ortak_iso_buf_free releases. */
struct ortak_iso_buf {
    char *data;
    size_t len, cap;
    bool failed; /* an allocation failed: the content is incomplete */
};
void ortak_iso_buf_free(struct ortak_iso_buf *b);

/* What every generated message carries: its application header and group header. */
struct ortak_iso_head {
    char from[12];            /* sender BIC: the system's */
    char to[12];              /* receiver BIC */
    char msg_id[36];          /* BizMsgIdr and MsgId */
    ortak_time_ns created_ns; /* CreDt and CreDtTm, UTC */
};

/* pacs.002: the status of one transaction of a message a participant sent. */
struct ortak_iso_status {
    struct ortak_iso_head head;
    char orgnl_msg_id[36];
    uint8_t orgnl_type; /* enum ortak_iso_type of the original message */
    char orgnl_instr_id[36], orgnl_end_to_end_id[36], orgnl_tx_id[36];
    ortak_u128 orgnl_uetr; /* 0: none */
    char status[5];        /* ACTC, PDNG, ACSP, ACSC, ACCC, RJCT (STATUS_CODES) */
    char reason[5];        /* with RJCT and PDNG; "" for none */
    char reason_text[106];
    ortak_time_ns settled_ns; /* ACSC, ACCC: when it settled (FctvIntrBkSttlmDt); 0 otherwise */
};

/* A settled movement on an account, for camt.054 and the entries of camt.052 and camt.053. */
struct ortak_iso_entry {
    ortak_u128 transfer_id; /* AcctSvcrRef */
    int64_t amount;         /* minor units: > 0 credit, < 0 debit */
    ortak_time_ns booked_ns;
    char msg_id[36], instr_id[36], end_to_end_id[36], tx_id[36];
    ortak_u128 uetr; /* 0: none */
    char counterparty_bic[12];
};

/* An account as reports name it: ortak's account id, its owner and currency. */
struct ortak_iso_account {
    ortak_u128 id;
    char owner_bic[12];
    char currency[4];
    uint8_t minor_units;
};

/* camt.052 and camt.053: balances and entries of one account over a period. */
struct ortak_iso_report {
    struct ortak_iso_head head;
    struct ortak_iso_account account;
    ortak_time_ns from_ns, to_ns;
    ortak_i128 opening_balance, closing_balance; /* minor units */
    uint32_t entry_count;
    const struct ortak_iso_entry *entries;
};

/* admi.002: a message that could not be read. */
struct ortak_iso_reject {
    struct ortak_iso_head head;
    char ref[36];   /* the rejected message's id when it could be found, else "NONREF" */
    char reason[5]; /* FF01 ... */
    char text[200]; /* up to 350 characters are allowed; what is wrong */
};

/*
 * Generators. Each appends one message — a wrapper element <Envelope> holding AppHdr and Document — to `out` and
 * returns ORTAK_OK, or ORTAK_NOMEM (out->failed is set), or ORTAK_INVALID when a field cannot be written as the
 * schema requires (an empty id, a BIC that is not one). Every message generated validates against its schema.
 */
ortak_rc ortak_iso_write_pacs002(const struct ortak_iso_status *s, struct ortak_iso_buf *out);
ortak_rc ortak_iso_write_camt054(const struct ortak_iso_head *h, const struct ortak_iso_account *a,
                                 const struct ortak_iso_entry *entry, struct ortak_iso_buf *out);
ortak_rc ortak_iso_write_camt052(const struct ortak_iso_report *rep, struct ortak_iso_buf *out);
ortak_rc ortak_iso_write_camt053(const struct ortak_iso_report *rep, struct ortak_iso_buf *out);
ortak_rc ortak_iso_write_admi002(const struct ortak_iso_reject *rej, struct ortak_iso_buf *out);
/*
 * The payment to the creditor agent after settlement, in the original's own message definition: pacs.008, pacs.009
 * or pacs.004, with the original message's transaction as its sender wrote it (parties, remittance information and
 * all) under a new application header from the system to the creditor agent and a new group header (settlement by
 * the clearing system, settled on `settled_ns`: the transaction's IntrBkSttlmDt). `original` is the message as
 * received (it is read again); `uetr` names the transaction: its PmtId/UETR, or for a return its OrgnlUETR, the UETR
 * of the payment returned. Returns as above, or ORTAK_ISO_INVALID when `original` is not a pacs.008, pacs.009 or
 * pacs.004 holding a transaction with `uetr` and a settlement amount.
 */
ortak_rc ortak_iso_write_forward(struct ortak_iso_reader *r, const void *original, size_t len, ortak_u128 uetr,
                                 const struct ortak_iso_head *h, ortak_time_ns settled_ns, struct ortak_iso_buf *out);

/* ---- Reference checks ---- */

/* ISO 4217: whether `code` is an active currency code, and its minor units (0..4). Precious metals, SDR and test
 * codes have no minor units and are refused: they are not settled as payments. */
bool ortak_iso_currency(const char *code, uint8_t *minor_units);
/* Amount text (ISO decimal: digits, optional fraction) to minor units with `minor_units` decimals. Returns ORTAK_OK,
 * or ORTAK_AMOUNT_INVALID (malformed, more decimals than the currency has, overflow, zero handled by caller). */
ortak_rc ortak_iso_amount_parse(const char *text, size_t len, uint8_t minor_units, uint64_t *out);
/* Minor units to decimal text with exactly `minor_units` decimals. Returns the length written (< 48). */
size_t ortak_iso_amount_format(ortak_i128 amount, uint8_t minor_units, char out[48]);

/*
 * IBAN check (ISO 13616): characters, ISO 7064 MOD 97-10 check digits, and, for a country in the registry, its
 * length and structure. Returns ORTAK_OK or ORTAK_IBAN_INVALID, with `why` saying what failed. With `iso` NULL only
 * the built-in lengths are known.
 */
ortak_rc ortak_iso_iban_check(const struct ortak_iso *iso, const char *iban, char *why, size_t why_len);
/* Domestic account identifiers of the members without IBAN (KG, UZ, TM; docs/iso20022.md). ORTAK_OK or
 * ORTAK_ACCOUNT_ID_INVALID. */
ortak_rc ortak_iso_domestic_account_check(const char *country, const char *account, char *why, size_t why_len);

#endif
