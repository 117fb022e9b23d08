/*
 * Internals of the ISO 20022 module, shared by its files and by no one else.
 *
 * read.c     bounded scan, parse, locating header and document, schema validation, extraction
 * rules.c    ortak's rules beyond the schema
 * map.c      transactions to engine commands; message-id set; ids from UETRs
 * write.c    generated messages
 * currency.c ISO 4217 table, amounts as text
 * iban.c     IBAN registry and checks; domestic account formats
 * iso.c      the shared context: options, schemas, registry
 */
#ifndef ORTAK_ISO_INT_H
#define ORTAK_ISO_INT_H

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>

#include "ortak/iso20022.h"

#define ISO_NS_PREFIX "urn:iso:std:iso:20022:tech:xsd:"

/* Whether `numeric` is the ISO 4217 numeric code of a currency of the table in currency.c. */
bool ortak__iso_currency_numeric_known(unsigned numeric);

/* Writes a message into why[why_len] (nothing when why is NULL or why_len 0). */
void ortak__iso_say(char *why, size_t why_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The IBAN registry: one row per country (iban.c). */
struct ortak__iban_registry;
ortak_rc ortak__iban_registry_load(const char *path, struct ortak__iban_registry **out, char *why, size_t why_len);
void ortak__iban_registry_free(struct ortak__iban_registry *reg);

struct ortak_iso {
    struct ortak_iso_options opt; /* defaults applied; the paths are not kept */
    xmlSchemaPtr schema[ORTAK_ISO_TYPES];
    uint32_t schema_count;
    struct ortak__iban_registry *iban; /* NULL: built-in lengths only */
};

struct ortak_iso_reader {
    const struct ortak_iso *iso;
    xmlSchemaValidCtxtPtr vctx[ORTAK_ISO_TYPES];
    struct ortak_iso_tx *tx;   /* iso->opt.tx_max of them */
    struct ortak_iso_msg *cur; /* the message being read: schema errors are added to it */
    xmlParserCtxtPtr ctxt;     /* reused while its dictionary of names stays small (ortak__iso_reader_ctxt) */
};

/*
 * Scans `len` bytes before any parser sees them: at most message_bytes_max, element depth at most depth_max, no
 * DOCTYPE (so no DTD and no entity can be declared). ORTAK_OK or ORTAK_ISO_UNREADABLE with `why`.
 */
ortak_rc ortak__iso_prescan(const struct ortak_iso *iso, const char *data, size_t len, char *why, size_t why_len);
/*
 * Scans, then parses with libxml2 without network access, DTD loading or entity substitution. On ORTAK_OK *doc is
 * the caller's (xmlFreeDoc); otherwise ORTAK_ISO_UNREADABLE with `why`.
 */
ortak_rc ortak__iso_parse(const struct ortak_iso *iso, const void *data, size_t len, xmlDocPtr *doc, char *why,
                          size_t why_len);
/* The same with a parser context of the caller's (a reader's), reused from message to message. */
ortak_rc ortak__iso_parse_with(const struct ortak_iso *iso, xmlParserCtxtPtr ctxt, const void *data, size_t len,
                               xmlDocPtr *doc, char *why, size_t why_len);
/* The reader's parser context, replaced when its dictionary has grown past what messages need; NULL: no memory. */
xmlParserCtxtPtr ortak__iso_reader_ctxt(struct ortak_iso_reader *r);
/* The AppHdr (head.001 namespace) and Document (a known message namespace) at the root or one level below it. */
void ortak__iso_locate(xmlNodePtr root, xmlNodePtr *hdr, xmlNodePtr *document, uint8_t *type);

/* Text of the first descendant of `n` reached by the path of local names ("PmtId/UETR"), or NULL. */
const char *ortak__iso_text(xmlNodePtr n, const char *path);
xmlNodePtr ortak__iso_child(xmlNodePtr n, const char *path);

/* Time: ns since the epoch (UTC) to "YYYY-MM-DDThh:mm:ss.sssZ" / "YYYY-MM-DD". */
void ortak__iso_time_format(ortak_time_ns t, char out[32]);
void ortak__iso_date_format(ortak_time_ns t, char out[11]);
/* "YYYY-MM-DD" to ns at 00:00 UTC; false when malformed or out of range. */
bool ortak__iso_date_parse(const char *s, ortak_time_ns *out);
/* ISO time of day "hh:mm:ss[.fff][Z|+hh:mm|-hh:mm]" to ns after midnight UTC (may fall on the previous or next
 * day: the offset is applied, result is signed). False when malformed. */
bool ortak__iso_time_of_day_parse(const char *s, int64_t *out_ns);

/*
 * Before libxml2 works on a thread (a read, a forward): silence its error output on this thread and start noting
 * its failed allocations; ask after the work (iso.c). A test may put its own allocator under the watch (NULL
 * restores malloc and realloc).
 */
void ortak__iso_libxml_begin(void);
bool ortak__iso_libxml_alloc_failed(void);
void ortak__iso_alloc_base(void *(*m)(size_t), void *(*r)(void *, size_t));

/* Rules beyond the schema on a message read; add issues to `m`. */
void ortak__iso_rules(const struct ortak_iso *iso, xmlNodePtr hdr, xmlNodePtr document, struct ortak_iso_msg *m);

#endif
