/*
 * The shared ISO 20022 context: options with their defaults, the schemas (parsed once, read-only afterwards, so
 * every reader thread validates with them), and the IBAN registry.
 *
 * libxml2 is set up here for hostile input once and for all: no network access for any URL it is ever asked to
 * load (the schema files themselves are local), and its errors are collected by ortak rather than printed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libxml/parser.h>
#include <libxml/xmlIO.h>

#include "base/assert.h"
#include "iso20022/iso_int.h"

static const char *const type_names[ORTAK_ISO_TYPES] = {
    [ORTAK_ISO_UNKNOWN] = "unknown",          [ORTAK_ISO_HEAD_001] = "head.001.001.02",
    [ORTAK_ISO_PACS_008] = "pacs.008.001.08", [ORTAK_ISO_PACS_009] = "pacs.009.001.08",
    [ORTAK_ISO_PACS_004] = "pacs.004.001.09", [ORTAK_ISO_PACS_002] = "pacs.002.001.10",
    [ORTAK_ISO_CAMT_052] = "camt.052.001.08", [ORTAK_ISO_CAMT_053] = "camt.053.001.08",
    [ORTAK_ISO_CAMT_054] = "camt.054.001.08", [ORTAK_ISO_ADMI_002] = "admi.002.001.01",
    [ORTAK_ISO_PAIN_001] = "pain.001.001.09",
};

const char *ortak_iso_type_name(uint8_t type) {
    return type < ORTAK_ISO_TYPES ? type_names[type] : type_names[ORTAK_ISO_UNKNOWN];
}

uint8_t ortak_iso_type_from_name(const char *name, size_t len) {
    for (uint8_t t = 1; t < ORTAK_ISO_TYPES; t++)
        if (strlen(type_names[t]) == len && memcmp(type_names[t], name, len) == 0) return t;
    return ORTAK_ISO_UNKNOWN;
}

static const char *existing(const char *path, bool want_dir) {
    struct stat st;
    if (stat(path, &st) != 0) return NULL;
    return (want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode)) ? path : NULL;
}

#ifndef ORTAK_SHARED_DATA_DIR
#define ORTAK_SHARED_DATA_DIR "../shared/data"
#endif

const char *ortak_iso_default_schema_dir(void) { return existing(ORTAK_SHARED_DATA_DIR "/iso20022/xsd", true); }

const char *ortak_iso_default_iban_registry(void) {
    return existing(ORTAK_SHARED_DATA_DIR "/iban/registry.txt", false);
}

/*
 * libxml2's allocator. libxml2 2.9 does not report every failed allocation: its parser can return a document that
 * lacks a text node or a namespace declaration. So every allocation it makes goes through these wrappers, which
 * note a failure for the thread; a read or a forward that saw one answers ORTAK_NOMEM instead of trusting what it
 * got. The allocator underneath is malloc, or a test's (ortak__iso_alloc_base).
 */
static _Thread_local bool alloc_failed;
static void *(*base_malloc)(size_t) = malloc;
static void *(*base_realloc)(void *, size_t) = realloc;

static void *watched_malloc(size_t n) {
    void *p = base_malloc(n);
    if (!p) alloc_failed = true;
    return p;
}

static void *watched_realloc(void *q, size_t n) {
    void *p = base_realloc(q, n);
    if (!p) alloc_failed = true;
    return p;
}

static char *watched_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = watched_malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static void silent(void *ctx, const char *msg, ...) {
    (void)ctx;
    (void)msg;
}

void ortak__iso_libxml_begin(void) {
    alloc_failed = false;
    xmlSetGenericErrorFunc(NULL, silent); /* per thread in libxml2: its errors reach ortak as issues, never stderr */
}
bool ortak__iso_libxml_alloc_failed(void) { return alloc_failed; }

void ortak__iso_alloc_base(void *(*m)(size_t), void *(*r)(void *, size_t)) {
    base_malloc = m ? m : malloc;
    base_realloc = r ? r : realloc;
}

void ortak__iso_say(char *why, size_t why_len, const char *fmt, ...) {
    if (!why || why_len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

struct schema_errors {
    char *why;
    size_t why_len;
    bool said;
};

static void schema_parse_error(void *ctx, xmlErrorPtr err) {
    struct schema_errors *se = ctx;
    if (se->said || !err || err->level < XML_ERR_ERROR) return;
    se->said = true;
    ortak__iso_say(se->why, se->why_len, "line %d: %s", err->line, err->message ? err->message : "error");
    size_t n = strlen(se->why);
    if (n > 0 && se->why[n - 1] == '\n') se->why[n - 1] = '\0';
}

/* Parses dir/<name>.xsd into iso->schema[type]. A missing file is not an error: that type is not validated. */
static ortak_rc schema_load(struct ortak_iso *iso, const char *dir, uint8_t type, char *why, size_t why_len) {
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s.xsd", dir, type_names[type]);
    if (n < 0 || (size_t)n >= sizeof path) {
        ortak__iso_say(why, why_len, "schema directory path too long");
        return ORTAK_CONFIG_INVALID;
    }
    if (!existing(path, false)) return ORTAK_OK;
    xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(path);
    if (!pc) return ORTAK_NOMEM;
    char detail[256] = "";
    struct schema_errors se = {.why = detail, .why_len = sizeof detail};
    xmlSchemaSetParserStructuredErrors(pc, schema_parse_error, &se);
    iso->schema[type] = xmlSchemaParse(pc);
    xmlSchemaFreeParserCtxt(pc);
    if (!iso->schema[type]) {
        ortak__iso_say(why, why_len, "schema %s does not load: %s", path, detail[0] ? detail : "parse failed");
        return ORTAK_CONFIG_INVALID;
    }
    iso->schema_count++;
    return ORTAK_OK;
}

static ortak_rc options_check(const struct ortak_iso_options *o, struct ortak_iso_options *out, char *why,
                              size_t why_len) {
    *out = *o;
    out->schema_dir = NULL;
    out->iban_registry = NULL;
    if (out->message_bytes_max == 0) out->message_bytes_max = ORTAK_ISO_MESSAGE_BYTES_DEFAULT;
    if (out->depth_max == 0) out->depth_max = ORTAK_ISO_DEPTH_DEFAULT;
    if (out->tx_max == 0) out->tx_max = ORTAK_ISO_TX_DEFAULT;
    if (out->message_bytes_max > ORTAK_ISO_MESSAGE_BYTES_LIMIT || out->depth_max > ORTAK_ISO_DEPTH_LIMIT ||
        out->tx_max > ORTAK_ISO_TX_LIMIT || out->depth_max < 4) {
        ortak__iso_say(why, why_len,
                       "ISO 20022 limits out of range (message bytes <= %u, depth 4..%u, transactions <= %u)",
                       ORTAK_ISO_MESSAGE_BYTES_LIMIT, ORTAK_ISO_DEPTH_LIMIT, ORTAK_ISO_TX_LIMIT);
        return ORTAK_CONFIG_INVALID;
    }
    return ORTAK_OK;
}

ortak_rc ortak_iso_open(const struct ortak_iso_options *options, struct ortak_iso **out, char *why, size_t why_len) {
    ORTAK_ASSERT(options && out);
    *out = NULL;
    ortak__iso_say(why, why_len, "ok");
    static bool libxml_ready; /* the first open, before any reader thread exists */
    if (!libxml_ready) {
        xmlMemSetup(free, watched_malloc, watched_realloc, watched_strdup);
        xmlInitParser();
        xmlSetExternalEntityLoader(xmlNoNetExternalEntityLoader);
        libxml_ready = true;
    }
    struct ortak_iso *iso = calloc(1, sizeof *iso);
    if (!iso) return ORTAK_NOMEM;
    ortak_rc rc = options_check(options, &iso->opt, why, why_len);
    if (rc != ORTAK_OK) goto fail;
    const char *dir = options->schema_dir;
    if (dir && dir[0]) {
        if (!existing(dir, true)) {
            ortak__iso_say(why, why_len, "schema directory %s: %s", dir, strerror(errno ? errno : ENOTDIR));
            rc = ORTAK_IO;
            goto fail;
        }
        for (uint8_t t = 1; t < ORTAK_ISO_TYPES && rc == ORTAK_OK; t++) rc = schema_load(iso, dir, t, why, why_len);
        if (rc != ORTAK_OK) goto fail;
    }
    if (options->iban_registry && options->iban_registry[0]) {
        rc = ortak__iban_registry_load(options->iban_registry, &iso->iban, why, why_len);
        if (rc != ORTAK_OK) goto fail;
    }
    *out = iso;
    return ORTAK_OK;
fail:
    ortak_iso_close(iso);
    return rc;
}

void ortak_iso_close(struct ortak_iso *iso) {
    if (!iso) return;
    for (uint8_t t = 0; t < ORTAK_ISO_TYPES; t++)
        if (iso->schema[t]) xmlSchemaFree(iso->schema[t]);
    ortak__iban_registry_free(iso->iban);
    free(iso);
}

uint32_t ortak_iso_schema_count(const struct ortak_iso *iso) { return iso->schema_count; }

bool ortak_iso_schema_loaded(const struct ortak_iso *iso, uint8_t type) {
    return type < ORTAK_ISO_TYPES && iso->schema[type] != NULL;
}
