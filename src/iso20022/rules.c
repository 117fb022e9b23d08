/*
 * ortak's rules beyond the schema (docs/iso20022.md lists them with their ids and reason codes).
 *
 * The header rules compare the application header with the document. The field rules run over every element of
 * both parts in one iterative walk (no recursion; the scan before parsing bounded the depth), so they hold for
 * every message type, including the ones ortak only validates: identifiers, BICs, IBANs, currencies and the
 * decimals of every amount. Without schemas these are also the structural checks of what ortak maps.
 */
#include <string.h>

#include "iso20022/iso_int.h"
#include "ortak/ledger.h"

static bool is(xmlNodePtr n, const char *name) { return strcmp((const char *)n->name, name) == 0; }

static const char *text_of(xmlNodePtr n) {
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (c->type == XML_TEXT_NODE && c->content) return (const char *)c->content;
    return "";
}

/* ID-1: an identifier neither starts nor ends with '/' nor holds "//" (they break the field formats of the
 * networks a payment may travel on). */
static void rule_identifier(xmlNodePtr n, struct ortak_iso_msg *m) {
    static const char *const ids[] = {"MsgId", "BizMsgIdr", "InstrId", "EndToEndId", "TxId", "RtrId"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        if (!is(n, ids[i])) continue;
        const char *s = text_of(n);
        size_t len = strlen(s);
        if (len > 0 && (s[0] == '/' || s[len - 1] == '/' || strstr(s, "//")))
            ortak_iso_issue_add(m, "ID-1", "FF01", "%s '%s' starts or ends with '/' or contains '//'", ids[i], s);
        return;
    }
}

/* CCY-1 and AMT-1: a currency is an active ISO 4217 code with minor units; an amount has no more decimals. */
static void rule_amount(xmlNodePtr n, struct ortak_iso_msg *m) {
    xmlChar *ccy = xmlGetNoNsProp(n, (const xmlChar *)"Ccy");
    const char *code = ccy ? (const char *)ccy : is(n, "Ccy") ? text_of(n) : NULL;
    uint8_t minor;
    if (!code) return;
    if (!ortak_iso_currency(code, &minor)) {
        ortak_iso_issue_add(m, "CCY-1", "AM03", "%s: '%s' is not an active ISO 4217 currency with minor units",
                            (const char *)n->name, code);
    } else if (ccy) {
        const char *s = text_of(n);
        uint64_t v;
        if (ortak_iso_amount_parse(s, strlen(s), minor, &v) != ORTAK_OK)
            ortak_iso_issue_add(m, "AMT-1", "AM12", "%s %s '%s': not an amount with at most %u decimals",
                                (const char *)n->name, code, s, minor);
    }
    xmlFree(ccy);
}

static void rule_field(const struct ortak_iso *iso, xmlNodePtr n, struct ortak_iso_msg *m) {
    rule_identifier(n, m);
    rule_amount(n, m);
    if (is(n, "BICFI") || is(n, "AnyBIC")) {
        const char *s = text_of(n);
        if (!ortak_bic_valid(s))
            ortak_iso_issue_add(m, "BIC-1", "RC01", "%s '%s' is not a valid ISO 9362 BIC", (const char *)n->name, s);
    } else if (is(n, "IBAN")) {
        char why[120];
        if (ortak_iso_iban_check(iso, text_of(n), why, sizeof why) != ORTAK_OK)
            ortak_iso_issue_add(m, "IBAN-1", "AC01", "IBAN '%s': %s", text_of(n), why);
    }
}

/* Every element under `top`, in document order, without recursion. */
static void walk(const struct ortak_iso *iso, xmlNodePtr top, struct ortak_iso_msg *m) {
    xmlNodePtr n = top;
    while (n) {
        if (n->type == XML_ELEMENT_NODE) rule_field(iso, n, m);
        if (n->children && n->type == XML_ELEMENT_NODE) {
            n = n->children;
            continue;
        }
        while (n != top && !n->next) n = n->parent;
        n = n == top ? NULL : n->next;
    }
}

/* HDR-1: the header names the document's message definition. HDR-2: its BizMsgIdr is the document's MsgId (an
 * admi.002 has none of its own: its message id is the rejected message's). */
static void rules_header(struct ortak_iso_msg *m) {
    const char *def = ortak_iso_type_name(m->type);
    if (strcmp(m->hdr_msg_def_id, def) != 0)
        ortak_iso_issue_add(m, "HDR-1", "FF01", "AppHdr/MsgDefIdr '%s' does not match the document's %s",
                            m->hdr_msg_def_id, def);
    if (m->type != ORTAK_ISO_ADMI_002 && m->msg_id[0] && m->hdr_biz_msg_id[0] &&
        strcmp(m->msg_id, m->hdr_biz_msg_id) != 0)
        ortak_iso_issue_add(m, "HDR-2", "FF01", "AppHdr/BizMsgIdr '%s' differs from the document's message id '%s'",
                            m->hdr_biz_msg_id, m->msg_id);
}

void ortak__iso_rules(const struct ortak_iso *iso, xmlNodePtr hdr, xmlNodePtr document, struct ortak_iso_msg *m) {
    if (hdr) {
        rules_header(m);
        walk(iso, hdr, m);
    }
    walk(iso, document, m);
}
