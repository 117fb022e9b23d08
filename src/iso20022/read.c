/*
 * Reading a message: a bounded scan of the bytes, the parse, locating the header and the document, schema
 * validation, and extraction of what ortak maps.
 *
 * Invariants: no byte reaches libxml2 before the scan has bounded the size and the element depth and refused any
 * DOCTYPE (no DTD, no entity declaration, so no entity expansion is possible); libxml2 parses without network
 * access and prints nothing; every text copied out is bounded by its field, and a value too long for its field is
 * an issue, never a silent truncation.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "base/assert.h"
#include "iso20022/iso_int.h"
#include "ortak/ledger.h"

void ortak_iso_issue_add(struct ortak_iso_msg *m, const char *rule, const char *reason, const char *fmt, ...) {
    if (m->issue_count < ORTAK_ISO_ISSUES_MAX) {
        struct ortak_iso_issue *is = &m->issues[m->issue_count];
        snprintf(is->rule, sizeof is->rule, "%s", rule);
        snprintf(is->reason, sizeof is->reason, "%s", reason);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(is->text, sizeof is->text, fmt, ap);
        va_end(ap);
    }
    if (m->issue_count < UINT32_MAX) m->issue_count++;
}

/* ---- the scan before parsing ---- */

/* Index just past the first occurrence of `end` at or after i, or len when there is none. */
static size_t skip_past(const char *d, size_t len, size_t i, const char *end) {
    size_t el = strlen(end);
    for (; i + el <= len; i++)
        if (memcmp(d + i, end, el) == 0) return i + el;
    return len;
}

/* From the '<' of a start tag at i: index past its '>', quotes respected; *self_closing when it ends "/>". */
static size_t skip_tag(const char *d, size_t len, size_t i, bool *self_closing) {
    char quote = 0;
    for (i++; i < len; i++) {
        char c = d[i];
        if (quote) {
            if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '>') {
            *self_closing = d[i - 1] == '/';
            return i + 1;
        }
    }
    *self_closing = true;
    return len;
}

static bool ascii_iequal(const char *a, size_t n, const char *b) {
    if (strlen(b) != n) return false;
    for (size_t i = 0; i < n; i++) {
        char c = a[i] >= 'a' && a[i] <= 'z' ? (char)(a[i] - 'a' + 'A') : a[i];
        if (c != b[i]) return false;
    }
    return true;
}

/* ISO 20022 messages are UTF-8: no UTF-16 or UTF-32 byte order, no XML declaration naming another encoding. */
static bool utf8_declared(const char *d, size_t len) {
    if (len >= 2 &&
        (((uint8_t)d[0] == 0xfe && (uint8_t)d[1] == 0xff) || ((uint8_t)d[0] == 0xff && (uint8_t)d[1] == 0xfe)))
        return false;
    if (len >= 3 && memcmp(d, "\xef\xbb\xbf", 3) == 0) d += 3, len -= 3;
    if (len >= 2 && (d[0] == '\0' || d[1] == '\0')) return false;
    if (len < 5 || memcmp(d, "<?xml", 5) != 0) return true;
    size_t end = skip_past(d, len, 5, "?>");
    size_t at = skip_past(d, end, 5, "encoding");
    if (at >= end) return true; /* no encoding declared: UTF-8 */
    while (at < end && (d[at] == ' ' || d[at] == '=' || d[at] == '\t')) at++;
    if (at >= end || (d[at] != '"' && d[at] != '\'')) return false;
    const char *v = d + at + 1;
    const char *q = memchr(v, d[at], (size_t)(d + end - v));
    return q && (ascii_iequal(v, (size_t)(q - v), "UTF-8") || ascii_iequal(v, (size_t)(q - v), "UTF8"));
}

ortak_rc ortak__iso_prescan(const struct ortak_iso *iso, const char *d, size_t len, char *why, size_t why_len) {
    if (len > iso->opt.message_bytes_max) {
        ortak__iso_say(why, why_len, "message is %zu bytes; the limit is %u", len, iso->opt.message_bytes_max);
        return ORTAK_ISO_UNREADABLE;
    }
    if (!utf8_declared(d, len)) {
        ortak__iso_say(why, why_len, "ISO 20022 messages are UTF-8; this one declares or begins in another encoding");
        return ORTAK_ISO_UNREADABLE;
    }
    uint32_t depth = 0;
    size_t i = 0;
    while (i < len) {
        const char *lt = memchr(d + i, '<', len - i);
        if (!lt) break;
        i = (size_t)(lt - d);
        size_t rest = len - i;
        if (rest >= 2 && d[i + 1] == '?') {
            i = skip_past(d, len, i + 2, "?>");
        } else if (rest >= 4 && memcmp(d + i, "<!--", 4) == 0) {
            i = skip_past(d, len, i + 4, "-->");
        } else if (rest >= 9 && memcmp(d + i, "<![CDATA[", 9) == 0) {
            i = skip_past(d, len, i + 9, "]]>");
        } else if (rest >= 2 && d[i + 1] == '!') {
            ortak__iso_say(why, why_len, "a DOCTYPE or markup declaration is not allowed (offset %zu)", i);
            return ORTAK_ISO_UNREADABLE;
        } else if (rest >= 2 && d[i + 1] == '/') {
            if (depth > 0) depth--;
            i = skip_past(d, len, i + 2, ">");
        } else {
            bool self_closing;
            i = skip_tag(d, len, i, &self_closing);
            if (!self_closing && ++depth > iso->opt.depth_max) {
                ortak__iso_say(why, why_len, "elements nest deeper than %u", iso->opt.depth_max);
                return ORTAK_ISO_UNREADABLE;
            }
        }
    }
    return ORTAK_OK;
}

/* A namespace name: a URI, without the characters that need escaping (libxml2 2.9 writes them back unescaped). */
static bool uri_ok(const xmlChar *href) {
    for (const xmlChar *c = href; c && *c; c++)
        if (*c <= ' ' || *c == '<' || *c == '>' || *c == '"' || *c == '&' || *c == '\'') return false;
    return true;
}

static bool namespaces_ok(xmlNodePtr n) {
    for (xmlNsPtr d = n->nsDef; d; d = d->next)
        if (!uri_ok(d->href)) return false;
    return true;
}

/*
 * Removes comments and processing instructions and merges the text around them, so that an element's value is its
 * one text child, as the schema validator sees it ("12<!-- -->34" is 1234, never 12); checks every namespace name
 * (false when one is not a URI). Iterative, in document order.
 */
static bool normalize(xmlNodePtr root) {
    xmlNodePtr n = root;
    while (n) {
        if (n->type == XML_ELEMENT_NODE && !namespaces_ok(n)) return false;
        xmlNodePtr c = n->type == XML_ELEMENT_NODE ? n->children : NULL;
        while (c) {
            xmlNodePtr next = c->next;
            if (c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE) {
                xmlUnlinkNode(c);
                xmlFreeNode(c);
            } else if (c->type == XML_TEXT_NODE && c->prev && c->prev->type == XML_TEXT_NODE) {
                xmlTextMerge(c->prev, c);
            }
            c = next;
        }
        if (n->type == XML_ELEMENT_NODE && n->children) {
            n = n->children;
            continue;
        }
        while (n != root && !n->next) n = n->parent;
        n = n == root ? NULL : n->next;
    }
    return true;
}

ortak_rc ortak__iso_parse(const struct ortak_iso *iso, const void *data, size_t len, xmlDocPtr *doc, char *why,
                          size_t why_len) {
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt) return ORTAK_NOMEM;
    ortak_rc rc = ortak__iso_parse_with(iso, ctxt, data, len, doc, why, why_len);
    xmlFreeParserCtxt(ctxt);
    return rc;
}

ortak_rc ortak__iso_parse_with(const struct ortak_iso *iso, xmlParserCtxtPtr ctxt, const void *data, size_t len,
                               xmlDocPtr *doc, char *why, size_t why_len) {
    *doc = NULL;
    ortak_rc rc = ortak__iso_prescan(iso, data, len, why, why_len);
    if (rc != ORTAK_OK) return rc;
    /* No XML_PARSE_NOENT (entity substitution) and no XML_PARSE_DTDLOAD: the defaults keep both off. */
    *doc = xmlCtxtReadMemory(ctxt, data, (int)len, NULL, NULL,
                             XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA |
                                 XML_PARSE_NOBLANKS);
    xmlErrorPtr err = xmlCtxtGetLastError(ctxt);
    if (err && err->code == XML_ERR_NO_MEMORY) { /* libxml2 may return a damaged tree then */
        xmlFreeDoc(*doc);
        *doc = NULL;
        ortak__iso_say(why, why_len, "out of memory while parsing");
        rc = ORTAK_NOMEM;
    } else if (!*doc) {
        ortak__iso_say(why, why_len, "not well-formed XML: line %d: %s", err ? err->line : 0,
                       err && err->message ? err->message : "parse failed");
        size_t n = strlen(why);
        if (n > 0 && why[n - 1] == '\n') why[n - 1] = '\0';
        rc = ORTAK_ISO_UNREADABLE;
    } else if ((*doc)->intSubset || (*doc)->extSubset) {
        xmlFreeDoc(*doc);
        *doc = NULL;
        ortak__iso_say(why, why_len, "a DOCTYPE is not allowed");
        rc = ORTAK_ISO_UNREADABLE;
    } else if (!normalize(xmlDocGetRootElement(*doc))) {
        xmlFreeDoc(*doc);
        *doc = NULL;
        ortak__iso_say(why, why_len, "a namespace name is not a URI (it holds a space, quote, '<', '>' or '&')");
        rc = ORTAK_ISO_UNREADABLE;
    }
    return rc;
}

/* ---- navigation ---- */

static bool named(xmlNodePtr n, const char *name) {
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static bool ns_prefixed(xmlNodePtr n, const char *prefix) {
    return n->ns && n->ns->href && strncmp((const char *)n->ns->href, prefix, strlen(prefix)) == 0;
}

void ortak__iso_locate(xmlNodePtr root, xmlNodePtr *hdr, xmlNodePtr *document, uint8_t *type) {
    *hdr = *document = NULL;
    *type = ORTAK_ISO_UNKNOWN;
    if (!root) return;
    xmlNodePtr first = named(root, "Document") ? root : root->children;
    for (xmlNodePtr n = first; n; n = n == root ? NULL : n->next) {
        if (named(n, "AppHdr") && ns_prefixed(n, ISO_NS_PREFIX "head.001.") && !*hdr) *hdr = n;
        if (named(n, "Document") && ns_prefixed(n, ISO_NS_PREFIX) && !*document) *document = n;
    }
    if (*document) {
        const char *href = (const char *)(*document)->ns->href + strlen(ISO_NS_PREFIX);
        *type = ortak_iso_type_from_name(href, strlen(href));
    }
}

/* First element child of `n` with local name `name` (length `len`). */
static xmlNodePtr child_n(xmlNodePtr n, const char *name, size_t len) {
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strlen((const char *)c->name) == len && memcmp(c->name, name, len) == 0)
            return c;
    return NULL;
}

xmlNodePtr ortak__iso_child(xmlNodePtr n, const char *path) {
    while (n && *path) {
        const char *slash = strchr(path, '/');
        size_t len = slash ? (size_t)(slash - path) : strlen(path);
        n = child_n(n, path, len);
        path += len + (slash ? 1 : 0);
    }
    return n;
}

/* The text of an element: its first text child (ISO 20022 leaf elements hold exactly one). */
static const char *leaf_text(xmlNodePtr n) {
    if (!n) return NULL;
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (c->type == XML_TEXT_NODE && c->content) return (const char *)c->content;
    return "";
}

const char *ortak__iso_text(xmlNodePtr n, const char *path) { return leaf_text(ortak__iso_child(n, path)); }

/* ---- extraction ---- */

struct extract {
    struct ortak_iso_msg *m;
    const char *where; /* the transaction being read, for messages: "" or "transaction 2: " */
};

/* Copies the text at `path` under `n` into dst[cap]; "" when absent. Too long for the field: an issue. */
static void copy_at(struct extract *x, xmlNodePtr n, const char *path, char *dst, size_t cap) {
    const char *s = ortak__iso_text(n, path);
    dst[0] = '\0';
    if (!s) return;
    size_t len = strlen(s);
    if (len >= cap) {
        ortak_iso_issue_add(x->m, "FLD-1", "FF01", "%s%s is longer than %zu bytes", x->where, path, cap - 1);
        return;
    }
    memcpy(dst, s, len + 1);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool ortak_iso_uetr_parse(const char *s, ortak_u128 *out) {
    if (strlen(s) != 36) return false;
    ortak_u128 v = 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return false;
            continue;
        }
        int h = hexval(s[i]);
        if (h < 0 || (s[i] >= 'A' && s[i] <= 'F')) return false;
        v = (v << 4) | (ortak_u128)h;
    }
    if (s[14] != '4' || !strchr("89ab", s[19])) return false;
    *out = v;
    return true;
}

bool ortak_iso_uetr_text(ortak_u128 v, char out[37]) {
    char hex[33];
    ortak_u128_hex(v, hex);
    if (hex[12] != '4' || (hex[16] != '8' && hex[16] != '9' && hex[16] != 'a' && hex[16] != 'b')) return false;
    size_t o = 0;
    for (size_t i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20) out[o++] = '-';
        out[o++] = hex[i];
    }
    out[36] = '\0';
    return true;
}

/* "FX" and 32 hex digits: an FX quote id (docs/iso20022.md). */
static bool quote_ref_parse(const char *s, ortak_u128 *out) {
    if (strlen(s) != 34 || s[0] != 'F' || s[1] != 'X') return false;
    ortak_u128 v = 0;
    for (int i = 2; i < 34; i++) {
        int h = hexval(s[i]);
        if (h < 0) return false;
        v = (v << 4) | (ortak_u128)h;
    }
    *out = v;
    return v != 0;
}

static void extract_amount(struct extract *x, xmlNodePtr tx, const char *path, struct ortak_iso_tx *t) {
    xmlNodePtr a = ortak__iso_child(tx, path);
    if (!a) {
        ortak_iso_issue_add(x->m, "FLD-2", "FF01", "%s%s is missing", x->where, path);
        return;
    }
    xmlChar *ccy = xmlGetNoNsProp(a, (const xmlChar *)"Ccy");
    uint8_t minor = 0;
    if (!ccy) ortak_iso_issue_add(x->m, "CCY-2", "AM03", "%s%s has no currency (Ccy)", x->where, path);
    if (ccy && strlen((const char *)ccy) == 3 && ortak_iso_currency((const char *)ccy, &minor)) {
        memcpy(t->currency, ccy, 4);
        const char *s = leaf_text(a);
        if (ortak_iso_amount_parse(s, strlen(s), minor, &t->amount) == ORTAK_OK && t->amount == 0)
            ortak_iso_issue_add(x->m, "AMT-2", "AM01", "%s%s is zero", x->where, path);
    }
    xmlFree(ccy); /* an unknown currency or a malformed amount is reported by the rules (CCY-1, AMT-1) */
}

static void extract_uetr(struct extract *x, xmlNodePtr tx, const char *path, char *text, ortak_u128 *out,
                         bool required) {
    char buf[37];
    copy_at(x, tx, path, buf, sizeof buf);
    if (text) memcpy(text, buf, sizeof buf);
    if (!buf[0]) {
        if (required) ortak_iso_issue_add(x->m, "UETR-1", "FF01", "%s%s is missing", x->where, path);
        return;
    }
    if (!ortak_iso_uetr_parse(buf, out))
        ortak_iso_issue_add(x->m, "UETR-2", "FF01", "%s%s '%s' is not a version 4 UUID in lowercase", x->where, path,
                            buf);
}

/* Priority: SttlmPrty, else InstrPrty, else the service level URGP; normal by default. */
static uint8_t priority_of(xmlNodePtr tx) {
    const char *sp = ortak__iso_text(tx, "SttlmPrty");
    if (sp && strcmp(sp, "URGT") == 0) return ORTAK_PRIORITY_HIGHLY_URGENT;
    if (sp && strcmp(sp, "HIGH") == 0) return ORTAK_PRIORITY_URGENT;
    if (sp && strcmp(sp, "NORM") == 0) return ORTAK_PRIORITY_NORMAL;
    const char *ip = ortak__iso_text(tx, "PmtTpInf/InstrPrty");
    if (ip) return strcmp(ip, "HIGH") == 0 ? ORTAK_PRIORITY_URGENT : ORTAK_PRIORITY_NORMAL;
    for (xmlNodePtr c = ortak__iso_child(tx, "PmtTpInf") ? ortak__iso_child(tx, "PmtTpInf")->children : NULL; c;
         c = c->next) {
        const char *cd = named(c, "SvcLvl") ? ortak__iso_text(c, "Cd") : NULL;
        if (cd && strcmp(cd, "URGP") == 0) return ORTAK_PRIORITY_URGENT;
    }
    return ORTAK_PRIORITY_NORMAL;
}

/* Latest settlement time: SttlmTmReq/RjctTm, else TillTm, on the settlement date. */
static void extract_latest(struct extract *x, xmlNodePtr tx, struct ortak_iso_tx *t) {
    const char *tm = ortak__iso_text(tx, "SttlmTmReq/RjctTm");
    if (!tm) tm = ortak__iso_text(tx, "SttlmTmReq/TillTm");
    if (!tm) return;
    ortak_time_ns day = 0;
    int64_t tod = 0;
    if (!t->settlement_date[0] || !ortak__iso_date_parse(t->settlement_date, &day)) {
        ortak_iso_issue_add(x->m, "TIME-1", "FF01", "%sa settlement time request needs IntrBkSttlmDt", x->where);
        return;
    }
    if (!ortak__iso_time_of_day_parse(tm, &tod) || (tod < 0 && (uint64_t)-tod > day)) {
        ortak_iso_issue_add(x->m, "TIME-2", "FF01", "%sSttlmTmReq time '%s' is not an ISO time", x->where, tm);
        return;
    }
    t->latest_ns = tod < 0 ? day - (uint64_t)-tod : day + (uint64_t)tod;
}

static void extract_party(struct extract *x, xmlNodePtr tx, const char *agent, char *bic) {
    char path[64];
    snprintf(path, sizeof path, "%s/FinInstnId/BICFI", agent);
    copy_at(x, tx, path, bic, 12);
}

static void extract_account(struct extract *x, xmlNodePtr tx, const char *acct, char *dst, uint8_t *kind) {
    char path[48];
    snprintf(path, sizeof path, "%s/Id/IBAN", acct);
    copy_at(x, tx, path, dst, 35);
    *kind = dst[0] ? ORTAK_ISO_ACCT_IBAN : ORTAK_ISO_ACCT_NONE;
    if (dst[0]) return;
    snprintf(path, sizeof path, "%s/Id/Othr/Id", acct);
    copy_at(x, tx, path, dst, 35);
    if (dst[0]) *kind = ORTAK_ISO_ACCT_OTHER;
}

/* ACCT-1: an account given by a domestic identifier at an agent in KG, UZ or TM has that country's format. */
static void check_domestic(struct extract *x, const char *acct, uint8_t kind, const char *agent, const char *what) {
    if (kind != ORTAK_ISO_ACCT_OTHER || strlen(agent) < 6) return;
    char country[3] = {agent[4], agent[5], '\0'}, why[120];
    if (strcmp(country, "KG") != 0 && strcmp(country, "UZ") != 0 && strcmp(country, "TM") != 0) return;
    if (ortak_iso_domestic_account_check(country, acct, why, sizeof why) != ORTAK_OK)
        ortak_iso_issue_add(x->m, "ACCT-1", "AC01", "%s%s '%s' at %s: %s", x->where, what, acct, agent, why);
}

/* pacs.008 and pacs.009: CdtTrfTxInf. pacs.009's debtor and creditor are institutions: they stand in for the
 * agents when no agents are given. */
static void extract_credit_transfer(struct extract *x, xmlNodePtr tx, struct ortak_iso_tx *t) {
    copy_at(x, tx, "PmtId/InstrId", t->instr_id, sizeof t->instr_id);
    copy_at(x, tx, "PmtId/EndToEndId", t->end_to_end_id, sizeof t->end_to_end_id);
    copy_at(x, tx, "PmtId/TxId", t->tx_id, sizeof t->tx_id);
    extract_uetr(x, tx, "PmtId/UETR", t->uetr_text, &t->uetr, true);
    copy_at(x, tx, "PmtId/ClrSysRef", t->clr_sys_ref, sizeof t->clr_sys_ref);
    if (t->clr_sys_ref[0] == 'F' && t->clr_sys_ref[1] == 'X' && !quote_ref_parse(t->clr_sys_ref, &t->quote_id))
        ortak_iso_issue_add(x->m, "FX-1", "FF01",
                            "%sPmtId/ClrSysRef '%s': an FX quote reference is FX and 32 hex digits", x->where,
                            t->clr_sys_ref);
    extract_amount(x, tx, "IntrBkSttlmAmt", t);
    copy_at(x, tx, "IntrBkSttlmDt", t->settlement_date, sizeof t->settlement_date);
    t->priority = priority_of(tx);
    const char *chan = ortak__iso_text(tx, "PmtTpInf/ClrChanl");
    t->method =
        chan && (strcmp(chan, "RTNS") == 0 || strcmp(chan, "MPNS") == 0) ? ORTAK_METHOD_NET : ORTAK_METHOD_GROSS;
    extract_latest(x, tx, t);
    extract_party(x, tx, "InstgAgt", t->instg_agt);
    extract_party(x, tx, "InstdAgt", t->instd_agt);
    extract_party(x, tx, "DbtrAgt", t->dbtr_agt);
    extract_party(x, tx, "CdtrAgt", t->cdtr_agt);
    if (x->m->type == ORTAK_ISO_PACS_009) {
        if (!t->dbtr_agt[0]) extract_party(x, tx, "Dbtr", t->dbtr_agt);
        if (!t->cdtr_agt[0]) extract_party(x, tx, "Cdtr", t->cdtr_agt);
        copy_at(x, tx, "Dbtr/FinInstnId/Nm", t->dbtr_name, sizeof t->dbtr_name);
        copy_at(x, tx, "Cdtr/FinInstnId/Nm", t->cdtr_name, sizeof t->cdtr_name);
    } else {
        copy_at(x, tx, "Dbtr/Nm", t->dbtr_name, sizeof t->dbtr_name);
        copy_at(x, tx, "Cdtr/Nm", t->cdtr_name, sizeof t->cdtr_name);
    }
    extract_account(x, tx, "DbtrAcct", t->dbtr_acct, &t->dbtr_acct_kind);
    extract_account(x, tx, "CdtrAcct", t->cdtr_acct, &t->cdtr_acct_kind);
    check_domestic(x, t->dbtr_acct, t->dbtr_acct_kind, t->dbtr_agt, "DbtrAcct");
    check_domestic(x, t->cdtr_acct, t->cdtr_acct_kind, t->cdtr_agt, "CdtrAcct");
}

/* pacs.004: TxInf. */
static void extract_return(struct extract *x, xmlNodePtr tx, struct ortak_iso_tx *t) {
    copy_at(x, tx, "RtrId", t->rtr_id, sizeof t->rtr_id);
    copy_at(x, tx, "OrgnlInstrId", t->orgnl_instr_id, sizeof t->orgnl_instr_id);
    copy_at(x, tx, "OrgnlEndToEndId", t->orgnl_end_to_end_id, sizeof t->orgnl_end_to_end_id);
    copy_at(x, tx, "OrgnlTxId", t->orgnl_tx_id, sizeof t->orgnl_tx_id);
    extract_uetr(x, tx, "OrgnlUETR", NULL, &t->orgnl_uetr, true);
    copy_at(x, tx, "ClrSysRef", t->clr_sys_ref, sizeof t->clr_sys_ref);
    if (t->clr_sys_ref[0] == 'F' && t->clr_sys_ref[1] == 'X' && !quote_ref_parse(t->clr_sys_ref, &t->quote_id))
        ortak_iso_issue_add(x->m, "FX-1", "FF01", "%sClrSysRef '%s': an FX quote reference is FX and 32 hex digits",
                            x->where, t->clr_sys_ref);
    extract_amount(x, tx, "RtrdIntrBkSttlmAmt", t);
    copy_at(x, tx, "IntrBkSttlmDt", t->settlement_date, sizeof t->settlement_date);
    t->priority = priority_of(tx);
    t->method = ORTAK_METHOD_GROSS;
    extract_party(x, tx, "InstgAgt", t->instg_agt);
    extract_party(x, tx, "InstdAgt", t->instd_agt);
    copy_at(x, tx, "RtrRsnInf/Rsn/Cd", t->rtr_reason, sizeof t->rtr_reason);
}

static void extract_transactions(struct ortak_iso_reader *r, xmlNodePtr body, struct ortak_iso_msg *m) {
    bool ret = m->type == ORTAK_ISO_PACS_004;
    const char *name = ret ? "TxInf" : "CdtTrfTxInf";
    char where[32];
    struct extract x = {.m = m, .where = where};
    uint32_t seen = 0;
    for (xmlNodePtr c = body->children; c; c = c->next) {
        if (!named(c, name)) continue;
        if (++seen > r->iso->opt.tx_max) continue;
        struct ortak_iso_tx *t = &r->tx[m->tx_count++];
        memset(t, 0, sizeof *t);
        where[0] = '\0';
        if (seen > 1) snprintf(where, sizeof where, "transaction %u: ", seen);
        if (ret)
            extract_return(&x, c, t);
        else
            extract_credit_transfer(&x, c, t);
    }
    if (seen > r->iso->opt.tx_max)
        ortak_iso_issue_add(m, "LIMIT", "FF01", "%u transactions; the limit is %u", seen, r->iso->opt.tx_max);
    if (seen == 0) ortak_iso_issue_add(m, "TX-1", "FF01", "the message holds no %s", name);
}

static void extract_header(xmlNodePtr hdr, struct ortak_iso_msg *m) {
    struct extract x = {.m = m, .where = "AppHdr/"};
    m->has_header = true;
    copy_at(&x, hdr, "Fr/FIId/FinInstnId/BICFI", m->hdr_from, sizeof m->hdr_from);
    copy_at(&x, hdr, "To/FIId/FinInstnId/BICFI", m->hdr_to, sizeof m->hdr_to);
    copy_at(&x, hdr, "BizMsgIdr", m->hdr_biz_msg_id, sizeof m->hdr_biz_msg_id);
    copy_at(&x, hdr, "MsgDefIdr", m->hdr_msg_def_id, sizeof m->hdr_msg_def_id);
}

/* The element each message definition's Document holds. */
static const char *const body_names[ORTAK_ISO_TYPES] = {
    [ORTAK_ISO_PACS_008] = "FIToFICstmrCdtTrf",
    [ORTAK_ISO_PACS_009] = "FICdtTrf",
    [ORTAK_ISO_PACS_004] = "PmtRtr",
    [ORTAK_ISO_PACS_002] = "FIToFIPmtStsRpt",
    [ORTAK_ISO_CAMT_052] = "BkToCstmrAcctRpt",
    [ORTAK_ISO_CAMT_053] = "BkToCstmrStmt",
    [ORTAK_ISO_CAMT_054] = "BkToCstmrDbtCdtNtfctn",
    [ORTAK_ISO_ADMI_002] = "admi.002.001.01",
    [ORTAK_ISO_PAIN_001] = "CstmrCdtTrfInitn",
};

/* The message body (the Document's only child), its group header, and its transactions when ortak maps them. */
static void extract_document(struct ortak_iso_reader *r, xmlNodePtr document, struct ortak_iso_msg *m) {
    xmlNodePtr body = document->children;
    while (body && body->type != XML_ELEMENT_NODE) body = body->next;
    if (!body || !named(body, body_names[m->type]) || !body->ns ||
        strcmp((const char *)body->ns->href, (const char *)document->ns->href) != 0) {
        ortak_iso_issue_add(m, "MSG-2", "FF01", "the Document of %s must hold %s", ortak_iso_type_name(m->type),
                            body_names[m->type]);
        return;
    }
    struct extract x = {.m = m, .where = ""};
    if (m->type == ORTAK_ISO_ADMI_002) {
        copy_at(&x, body, "RltdRef/Ref", m->msg_id, sizeof m->msg_id);
        return;
    }
    copy_at(&x, body, "GrpHdr/MsgId", m->msg_id, sizeof m->msg_id);
    copy_at(&x, body, "GrpHdr/CreDtTm", m->created, sizeof m->created);
    const char *nb = ortak__iso_text(body, "GrpHdr/NbOfTxs");
    for (const char *p = nb; p && *p >= '0' && *p <= '9' && m->nb_of_txs < 100000000u; p++)
        m->nb_of_txs = m->nb_of_txs * 10u + (uint32_t)(*p - '0');
    if (m->type == ORTAK_ISO_PACS_008 || m->type == ORTAK_ISO_PACS_009 || m->type == ORTAK_ISO_PACS_004) {
        if (!m->msg_id[0]) ortak_iso_issue_add(m, "GRP-1", "FF01", "GrpHdr/MsgId is missing");
        extract_transactions(r, body, m);
        if (nb && m->nb_of_txs != m->tx_count && m->tx_count > 0)
            ortak_iso_issue_add(m, "GRP-2", "FF01", "GrpHdr/NbOfTxs is %s but the message holds %u transactions", nb,
                                m->tx_count);
    }
}

/* ---- schema validation ---- */

static void schema_error(void *ctx, xmlErrorPtr err) {
    struct ortak_iso_reader *r = ctx;
    if (!r->cur || !err || err->level < XML_ERR_ERROR) return;
    char text[200];
    snprintf(text, sizeof text, "%s", err->message ? err->message : "schema validity error");
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' ')) text[--n] = '\0';
    ortak_iso_issue_add(r->cur, "XSD", "FF01", "line %d: %s", err->line, text);
}

/* Validates `part` against the schema of `type`; false when that schema is not loaded. */
static bool validate(struct ortak_iso_reader *r, xmlNodePtr part, uint8_t type) {
    if (!r->vctx[type]) return false;
    int rc = xmlSchemaValidateOneElement(r->vctx[type], part);
    if (rc != 0 && r->cur->issue_count == 0)
        ortak_iso_issue_add(r->cur, "XSD", "FF01", "%s does not validate against %s", (const char *)part->name,
                            ortak_iso_type_name(type));
    return true;
}

ortak_rc ortak_iso_reader_open(const struct ortak_iso *iso, struct ortak_iso_reader **out) {
    *out = NULL;
    struct ortak_iso_reader *r = calloc(1, sizeof *r);
    if (!r) return ORTAK_NOMEM;
    r->iso = iso;
    r->tx = calloc(iso->opt.tx_max, sizeof *r->tx);
    r->ctxt = xmlNewParserCtxt();
    if (!r->tx || !r->ctxt) goto fail;
    for (uint8_t t = 1; t < ORTAK_ISO_TYPES; t++) {
        if (!iso->schema[t]) continue;
        r->vctx[t] = xmlSchemaNewValidCtxt(iso->schema[t]);
        if (!r->vctx[t]) goto fail;
        xmlSchemaSetValidStructuredErrors(r->vctx[t], schema_error, r);
    }
    *out = r;
    return ORTAK_OK;
fail:
    ortak_iso_reader_close(r);
    return ORTAK_NOMEM;
}

void ortak_iso_reader_close(struct ortak_iso_reader *r) {
    if (!r) return;
    for (uint8_t t = 0; t < ORTAK_ISO_TYPES; t++)
        if (r->vctx[t]) xmlSchemaFreeValidCtxt(r->vctx[t]);
    if (r->ctxt) xmlFreeParserCtxt(r->ctxt);
    free(r->tx);
    free(r);
}

/* Locates, validates and extracts the parts of a parsed message. */
static ortak_rc read_parts(struct ortak_iso_reader *r, xmlDocPtr doc, struct ortak_iso_msg *m) {
    xmlNodePtr hdr, document;
    ortak__iso_locate(xmlDocGetRootElement(doc), &hdr, &document, &m->type);
    if (!document) {
        ortak_iso_issue_add(m, "XML", "FF01", "no ISO 20022 Document element (at the root or under it)");
        return ORTAK_ISO_UNREADABLE;
    }
    if (m->type == ORTAK_ISO_UNKNOWN || m->type == ORTAK_ISO_HEAD_001) {
        ortak_iso_issue_add(m, "MSG-1", "AG03", "message definition %s is not supported",
                            (const char *)document->ns->href + strlen(ISO_NS_PREFIX));
        return ORTAK_ISO_INVALID;
    }
    m->schema_checked = true;
    if (hdr) m->schema_checked &= validate(r, hdr, ORTAK_ISO_HEAD_001);
    m->schema_checked &= validate(r, document, m->type);
    if (hdr) extract_header(hdr, m);
    m->tx = r->tx;
    extract_document(r, document, m);
    ortak__iso_rules(r->iso, hdr, document, m);
    return m->issue_count ? ORTAK_ISO_INVALID : ORTAK_OK;
}

/*
 * The reader's parser context. Its dictionary keeps every name parsed and stops growing at a fixed size, after which
 * libxml2 refuses documents with new names: so a context whose dictionary holds more names than ISO 20022 messages
 * use is replaced (a sender cannot fill it with invented names and block everyone's messages).
 */
#define READER_DICT_NAMES_MAX 4096u

xmlParserCtxtPtr ortak__iso_reader_ctxt(struct ortak_iso_reader *r) {
    if (r->ctxt && r->ctxt->dict && (size_t)xmlDictSize(r->ctxt->dict) > READER_DICT_NAMES_MAX) {
        xmlFreeParserCtxt(r->ctxt);
        r->ctxt = NULL;
    }
    if (!r->ctxt) r->ctxt = xmlNewParserCtxt();
    return r->ctxt;
}

ortak_rc ortak_iso_read(struct ortak_iso_reader *r, const void *data, size_t len, struct ortak_iso_msg *out) {
    memset(out, 0, offsetof(struct ortak_iso_msg, issues));
    out->issue_count = 0;
    out->tx = r->tx;
    char why[200];
    xmlDocPtr doc = NULL;
    ortak__iso_libxml_begin();
    xmlParserCtxtPtr ctxt = ortak__iso_reader_ctxt(r);
    ortak_rc rc = ctxt ? ortak__iso_parse_with(r->iso, ctxt, data, len, &doc, why, sizeof why) : ORTAK_NOMEM;
    if (rc == ORTAK_OK) {
        r->cur = out;
        rc = read_parts(r, doc, out);
        r->cur = NULL;
    }
    if (ortak__iso_libxml_alloc_failed() || rc == ORTAK_NOMEM) {
        rc = ORTAK_NOMEM; /* what was read may lack a part: nothing of it counts */
        out->issue_count = 0;
    } else if (rc == ORTAK_ISO_UNREADABLE && out->issue_count == 0) {
        ortak_iso_issue_add(out, "XML", "FF01", "%s", why);
    }
    xmlFreeDoc(doc);
    return rc;
}
