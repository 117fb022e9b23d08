/*
 * Generating the messages ortak sends (iso20022.h, "Generating out"): pacs.002 status reports, camt.054
 * notifications, camt.052 and camt.053 account reports, admi.002 rejects, and the payment (pacs.008, pacs.009 or
 * pacs.004) forwarded to the creditor agent after settlement; and the time helpers the whole module shares (iso_int.h).
 *
 * The fixed messages are written straight as text into a struct ortak_iso_buf, element after element in the order of
 * their schema: no tree is built. Every message is <Envelope> (no namespace) holding a head.001.001.02 AppHdr and the
 * Document. Invariants kept here:
 *   - every text value is checked and escaped before it is written: well-formed UTF-8, only characters XML 1.0
 *     allows, no control character but tab and newline; & < > " are escaped. A value that fails is ORTAK_INVALID;
 *   - a mandatory element whose value is empty or malformed (an id, a BIC, a currency, a UETR that is not a version 4
 *     UUID) is ORTAK_INVALID, and an optional one that is empty is left out: what is written validates against the
 *     message's schema. Every text field read is bounded by its array (one without a NUL is ORTAK_INVALID);
 *   - a generator that fails leaves the buffer's content as it found it (its length is restored); after an
 *     allocation failure `failed` stays set and every later generator returns ORTAK_NOMEM;
 *   - money is integer minor units throughout; amounts and balances of more than 18 digits (the schemas'
 *     totalDigits) are refused, never rounded;
 *   - time is converted with civil-from-days arithmetic on integers: no time zone, no floating point, every number
 *     bounded.
 * Only the forwarded payment uses libxml2 trees: the original is parsed again, its transaction's elements moved from
 * the message's namespace into the default one, and the transaction serialised after a new group header.
 */
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlsave.h>

#include "base/assert.h"
#include "iso_int.h"
#include "ortak/ledger.h"

#define BUF_CAP_MIN ((size_t)4096)
/* The schemas' amounts and sums have at most 18 digits (totalDigits); in minor units that bounds the integer. */
#define AMOUNT_TEXT_MAX ((ortak_i128)INT64_C(999999999999999999))
/* StsRsnInf/AddtlInf is Max105Text: a longer text is split over several. */
#define ADDTL_INF_CHARS 105u
/* ISO 4217 minor units are 0 to 4 (ortak_iso_currency). */
#define MINOR_UNITS_MAX 4u
#define NS_PER_DAY (UINT64_C(86400) * ORTAK_NS_PER_S)
/* The last day on which 00:00 UTC is an ortak_time_ns: 2554-07-21. */
#define DAYS_MAX (UINT64_MAX / NS_PER_DAY)

#define FIELD(f) (f), sizeof(f)

/* Every id the messages carry is Max35Text; each field holds at most 35 bytes, so at most 35 characters. */
_Static_assert(sizeof(((struct ortak_iso_head *)0)->msg_id) <= 36, "msg_id fits Max35Text");
_Static_assert(sizeof(((struct ortak_iso_status *)0)->orgnl_msg_id) <= 36, "orgnl_msg_id fits Max35Text");
_Static_assert(sizeof(((struct ortak_iso_entry *)0)->end_to_end_id) <= 36, "ids fit Max35Text");
_Static_assert(sizeof(((struct ortak_iso_reject *)0)->ref) <= 36, "ref fits Max35Text");
_Static_assert(sizeof(((struct ortak_iso_reject *)0)->text) <= 351, "text fits Max350Text");

/* ---- buffer and writer ------------------------------------------------------------------------------------- */

void ortak_iso_buf_free(struct ortak_iso_buf *b) {
    if (b == NULL) return;
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* Makes room for `n` more bytes and the NUL kept after them, doubling the capacity. False when it cannot. */
static bool buf_grow(struct ortak_iso_buf *b, size_t n) {
    if (b->cap - b->len > n) return true;
    size_t cap = b->cap != 0 ? b->cap : BUF_CAP_MIN;
    for (int i = 0; i < 64 && cap - b->len <= n; i++) {
        if (cap > SIZE_MAX / 2) return false;
        cap *= 2;
    }
    if (cap - b->len <= n) return false;
    char *p = realloc(b->data, cap);
    if (p == NULL) return false;
    b->data = p;
    b->cap = cap;
    return true;
}

/* One message being written: the first failure is kept and every step after it does nothing. */
struct w {
    struct ortak_iso_buf *b;
    size_t start; /* the buffer's length before this message: restored when writing fails */
    ortak_rc rc;
};

static void w_begin(struct w *w, struct ortak_iso_buf *b) {
    ORTAK_ASSERT(b != NULL);
    ORTAK_ASSERT(b->len <= b->cap);
    ORTAK_ASSERT(b->data != NULL || b->cap == 0);
    w->b = b;
    w->start = b->len;
    w->rc = b->failed ? ORTAK_NOMEM : ORTAK_OK;
}

static void w_fail(struct w *w, ortak_rc rc) {
    if (w->rc == ORTAK_OK) w->rc = rc;
}

static ortak_rc w_end(struct w *w) {
    if (w->rc == ORTAK_NOMEM) w->b->failed = true; /* as iso20022.h promises, whichever allocation failed */
    if (w->rc != ORTAK_OK) {
        w->b->len = w->start;
        if (w->b->data != NULL) w->b->data[w->start] = '\0';
    }
    return w->rc;
}

/* Appends `n` bytes as they are (markup, or text already checked). */
static void w_raw(struct w *w, const char *s, size_t n) {
    if (w->rc != ORTAK_OK || n == 0) return;
    struct ortak_iso_buf *b = w->b;
    if (!buf_grow(b, n)) {
        b->failed = true;
        w->rc = ORTAK_NOMEM;
        return;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void w_str(struct w *w, const char *s) { w_raw(w, s, strlen(s)); }

/* ---- text -------------------------------------------------------------------------------------------------- */

/* The length of NUL-terminated field `f` of `cap` bytes; SIZE_MAX when it holds no NUL (refused as text). */
static size_t field_len(const char *f, size_t cap) {
    size_t n = strnlen(f, cap);
    return n < cap ? n : SIZE_MAX;
}

/*
 * The length of the character at `s` (`n` > 0 bytes left) when ortak writes it as text: well-formed UTF-8 (no
 * overlong form, no surrogate, at most U+10FFFF), a character XML 1.0 allows, and no control character but tab and
 * newline (C0 controls, DEL and C1 controls are refused). 0 otherwise.
 */
static size_t text_char(const unsigned char *s, size_t n) {
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    unsigned c = s[0];
    if (c < 0x80) return (c >= 0x20 && c != 0x7f) || c == '\t' || c == '\n' ? 1 : 0;
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (len == 0 || c > 0xf4 || len > n) return 0;
    uint32_t cp = c & (0x3fu >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    if (cp <= 0x9f || cp == 0xfffe || cp == 0xffff) return 0; /* C1 controls; the non-characters XML forbids */
    return len;
}

static const char *escape_of(unsigned char c) {
    switch (c) {
    case '&': return "&amp;";
    case '<': return "&lt;";
    case '>': return "&gt;";
    case '"': return "&quot;";
    default: return NULL;
    }
}

/* Appends `n` bytes of text, checked and escaped; ORTAK_INVALID when a character may not be written. */
static void w_text(struct w *w, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0; /* the first byte not yet appended */
    for (size_t i = 0; i < n && w->rc == ORTAK_OK;) {
        const char *esc = escape_of(u[i]);
        if (esc != NULL) {
            w_raw(w, s + run, i - run);
            w_str(w, esc);
            run = ++i;
            continue;
        }
        size_t len = text_char(u + i, n - i);
        if (len == 0) {
            w_fail(w, ORTAK_INVALID);
            return;
        }
        i += len;
    }
    w_raw(w, s + run, n - run);
}

static void w_open(struct w *w, const char *tag) {
    w_raw(w, "<", 1);
    w_str(w, tag);
    w_raw(w, ">", 1);
}

static void w_close(struct w *w, const char *tag) {
    w_raw(w, "</", 2);
    w_str(w, tag);
    w_raw(w, ">", 1);
}

/* <tag>text</tag>. Every text type of the schemas has minLength 1: an empty (or unterminated) value is refused. */
static void w_elem_n(struct w *w, const char *tag, const char *s, size_t n) {
    if (n == 0 || n == SIZE_MAX) {
        w_fail(w, ORTAK_INVALID);
        return;
    }
    w_open(w, tag);
    w_text(w, s, n);
    w_close(w, tag);
}

static void w_elem(struct w *w, const char *tag, const char *s) { w_elem_n(w, tag, s, strlen(s)); }

/* A mandatory element from a NUL-terminated field of `cap` bytes. */
static void w_field(struct w *w, const char *tag, const char *f, size_t cap) { w_elem_n(w, tag, f, field_len(f, cap)); }

/* An optional element: left out when the field is empty. */
static void w_field_opt(struct w *w, const char *tag, const char *f, size_t cap) {
    size_t n = field_len(f, cap);
    if (n != 0) w_elem_n(w, tag, f, n);
}

/* Writes `n` bytes of text as elements <tag> of at most `max_chars` characters each, cut between characters. */
static void w_pieces(struct w *w, const char *tag, const char *s, size_t n, size_t max_chars) {
    size_t start = 0, chars = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xc0) == 0x80) continue; /* a continuation byte: not a new character */
        if (chars == max_chars) {
            w_elem_n(w, tag, s + start, i - start);
            start = i;
            chars = 0;
        }
        chars++;
    }
    if (start < n) w_elem_n(w, tag, s + start, n - start);
}

/* ---- time -------------------------------------------------------------------------------------------------- */

/* Writes `v` as exactly `width` decimal digits (leading zeros; higher digits dropped). */
static void put_digits(char *p, uint64_t v, unsigned width) {
    for (unsigned i = width; i > 0; i--) {
        p[i - 1] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* Parses exactly `width` (<= 9) decimal digits. */
static bool get_digits(const char *p, unsigned width, uint32_t *out) {
    uint32_t v = 0;
    for (unsigned i = 0; i < width; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        v = v * 10 + (uint32_t)(p[i] - '0');
    }
    *out = v;
    return true;
}

static bool leap_year(uint32_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static uint32_t month_days(uint32_t y, uint32_t m) {
    static const uint8_t days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

/* Civil date of day `days` after 1970-01-01 (H. Hinnant's civil_from_days, on non-negative integers only). */
static void civil_from_days(uint64_t days, uint32_t *y, uint32_t *m, uint32_t *d) {
    uint64_t z = days + 719468; /* days since 0000-03-01 */
    uint64_t era = z / 146097, doe = z - era * 146097;
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    uint64_t mp = (5 * doy + 2) / 153;
    *d = (uint32_t)(doy - (153 * mp + 2) / 5 + 1);
    *m = (uint32_t)(mp < 10 ? mp + 3 : mp - 9);
    *y = (uint32_t)(yoe + era * 400 + (*m <= 2 ? 1 : 0));
}

/* Days from 1970-01-01 to a valid civil date of year 1970 or later (days_from_civil). */
static uint64_t days_from_civil(uint32_t y, uint32_t m, uint32_t d) {
    ORTAK_ASSERT(y >= 1970 && m >= 1 && m <= 12 && d >= 1 && d <= 31);
    uint64_t yy = y - (m <= 2 ? 1u : 0u);
    uint64_t era = yy / 400, yoe = yy - era * 400;
    uint64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    uint64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void ortak__iso_date_format(ortak_time_ns t, char out[11]) {
    uint32_t y, m, d;
    civil_from_days(t / NS_PER_DAY, &y, &m, &d);
    ORTAK_ASSERT(y >= 1970 && y <= 9999);
    put_digits(out, y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = '\0';
}

void ortak__iso_time_format(ortak_time_ns t, char out[32]) {
    uint64_t ns = t % NS_PER_DAY;
    uint64_t s = ns / ORTAK_NS_PER_S;
    ortak__iso_date_format(t, out);
    out[10] = 'T';
    put_digits(out + 11, s / 3600, 2);
    out[13] = ':';
    put_digits(out + 14, s / 60 % 60, 2);
    out[16] = ':';
    put_digits(out + 17, s % 60, 2);
    out[19] = '.';
    put_digits(out + 20, ns % ORTAK_NS_PER_S / 1000000, 3);
    out[23] = 'Z';
    out[24] = '\0';
}

bool ortak__iso_date_parse(const char *s, ortak_time_ns *out) {
    uint32_t y, m, d;
    if (strnlen(s, 11) != 10 || s[4] != '-' || s[7] != '-') return false;
    if (!get_digits(s, 4, &y) || !get_digits(s + 5, 2, &m) || !get_digits(s + 8, 2, &d)) return false;
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > month_days(y, m)) return false;
    uint64_t days = days_from_civil(y, m, d);
    if (days > DAYS_MAX) return false; /* after 2554-07-21: beyond ortak_time_ns */
    *out = days * NS_PER_DAY;
    return true;
}

/* ".f" to ".fffffffff" at `s` (NUL-terminated): its value in ns and its length; a lone "." or a 10th digit is
 * refused. No fraction: 0 and 0. */
static bool fraction_parse(const char *s, uint64_t *ns, size_t *len) {
    *ns = 0;
    *len = 0;
    if (s[0] != '.') return true;
    uint64_t v = 0, scale = ORTAK_NS_PER_S;
    size_t i = 1;
    for (; i <= 10 && s[i] >= '0' && s[i] <= '9'; i++) {
        if (i == 10) return false;
        scale /= 10;
        v += (uint64_t)(s[i] - '0') * scale;
    }
    if (i == 1) return false;
    *ns = v;
    *len = i;
    return true;
}

/* The zone at the end of a time: "" (taken as UTC), "Z", or "+hh:mm" / "-hh:mm" up to 14:00, in seconds east. */
static bool zone_parse(const char *s, int64_t *offset_s) {
    uint32_t hh, mm;
    *offset_s = 0;
    if (s[0] == '\0') return true;
    if (s[0] == 'Z') return s[1] == '\0';
    if (s[0] != '+' && s[0] != '-') return false;
    if (strnlen(s, 7) != 6 || s[3] != ':' || !get_digits(s + 1, 2, &hh) || !get_digits(s + 4, 2, &mm)) return false;
    if (hh > 14 || mm > 59 || (hh == 14 && mm != 0)) return false;
    int64_t off = (int64_t)hh * 3600 + (int64_t)mm * 60;
    *offset_s = s[0] == '-' ? -off : off;
    return true;
}

/* Seconds are 00 to 59 (no leap second), a fraction has 1 to 9 digits, 24:00:00 is the end of the day, a time
 * without a zone is taken as UTC, and a zone is at most 14 hours from UTC (xs:time). */
bool ortak__iso_time_of_day_parse(const char *s, int64_t *out_ns) {
    uint32_t hh, mm, ss;
    uint64_t frac_ns;
    size_t frac_len;
    int64_t offset_s;
    if (strnlen(s, 9) < 8 || s[2] != ':' || s[5] != ':') return false;
    if (!get_digits(s, 2, &hh) || !get_digits(s + 3, 2, &mm) || !get_digits(s + 6, 2, &ss)) return false;
    if (hh > 24 || mm > 59 || ss > 59) return false;
    if (!fraction_parse(s + 8, &frac_ns, &frac_len) || !zone_parse(s + 8 + frac_len, &offset_s)) return false;
    if (hh == 24 && (mm != 0 || ss != 0 || frac_ns != 0)) return false; /* 24:00:00 is the end of the day only */
    int64_t local_s = (int64_t)hh * 3600 + (int64_t)mm * 60 + (int64_t)ss;
    *out_ns = (local_s - offset_s) * (int64_t)ORTAK_NS_PER_S + (int64_t)frac_ns;
    return true;
}

/* ---- values ------------------------------------------------------------------------------------------------ */

/* Decimal text of `v` and a NUL; returns `out`. */
static char *u64_dec(uint64_t v, char out[21]) {
    char tmp[20];
    unsigned n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0 && n < 20);
    for (unsigned i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return out;
}

/* Three uppercase letters and a NUL: the schemas' currency code pattern. */
static bool currency_ok(const char c[4]) {
    for (int i = 0; i < 3; i++) {
        if (c[i] < 'A' || c[i] > 'Z') return false;
    }
    return c[3] == '\0';
}

/* |v| as amount text with `minor_units` decimals; false when it has more than 18 digits or too many decimals. */
static bool amount_text(ortak_i128 v, uint8_t minor_units, char out[48]) {
    if (v > AMOUNT_TEXT_MAX || v < -AMOUNT_TEXT_MAX || minor_units > MINOR_UNITS_MAX) return false;
    ortak_iso_amount_format(v < 0 ? -v : v, minor_units, out);
    return true;
}

/* ---- common parts ------------------------------------------------------------------------------------------ */

/* <FinInstnId><BICFI>bic</BICFI></FinInstnId>; a BIC that is not a valid ISO 9362 code is refused. */
static void w_fin_instn(struct w *w, const char *bic) {
    if (!ortak_bic_valid(bic)) {
        w_fail(w, ORTAK_INVALID);
        return;
    }
    w_str(w, "<FinInstnId><BICFI>");
    w_str(w, bic);
    w_str(w, "</BICFI></FinInstnId>");
}

static void w_time(struct w *w, const char *tag, ortak_time_ns t) {
    char ts[32];
    ortak__iso_time_format(t, ts);
    w_elem(w, tag, ts);
}

/* The declaration, <Envelope>, the AppHdr and the opening of the Document of message definition `type`. */
static void w_envelope_open(struct w *w, const struct ortak_iso_head *h, uint8_t type) {
    const char *def = ortak_iso_type_name(type);
    w_str(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Envelope><AppHdr xmlns=\"" ISO_NS_PREFIX
             "head.001.001.02\"><Fr><FIId>");
    w_fin_instn(w, h->from);
    w_str(w, "</FIId></Fr><To><FIId>");
    w_fin_instn(w, h->to);
    w_str(w, "</FIId></To>");
    w_field(w, "BizMsgIdr", FIELD(h->msg_id));
    w_elem(w, "MsgDefIdr", def);
    w_time(w, "CreDt", h->created_ns);
    w_str(w, "</AppHdr><Document xmlns=\"" ISO_NS_PREFIX);
    w_str(w, def);
    w_str(w, "\">");
}

static void w_envelope_close(struct w *w) { w_str(w, "</Document></Envelope>\n"); }

/* <GrpHdr> with MsgId and CreDtTm: all of GroupHeader91 (pacs.002) and GroupHeader81 (camt) that ortak uses. */
static void w_group_header(struct w *w, const struct ortak_iso_head *h) {
    w_str(w, "<GrpHdr>");
    w_field(w, "MsgId", FIELD(h->msg_id));
    w_time(w, "CreDtTm", h->created_ns);
    w_str(w, "</GrpHdr>");
}

/* <tag Ccy="XXX">amount</tag> from amount text already formed. */
static void w_amount(struct w *w, const char *tag, const char currency[4], const char *amount) {
    if (!currency_ok(currency)) {
        w_fail(w, ORTAK_INVALID);
        return;
    }
    w_raw(w, "<", 1);
    w_str(w, tag);
    w_str(w, " Ccy=\"");
    w_raw(w, currency, 3);
    w_str(w, "\">");
    w_str(w, amount);
    w_close(w, tag);
}

/*
 * <Acct> (CashAccount39): Id/Othr/Id is ortak's account id as 32 hex digits (ortak's accounts have no IBAN), Ccy
 * its currency, Ownr/Id/OrgId/AnyBIC the participant that holds it (PartyIdentification135 allows a BIC only there),
 * and Svcr the institution that services it: the system itself, `servicer_bic`. An empty owner is left out.
 */
static void w_account(struct w *w, const struct ortak_iso_account *a, const char *servicer_bic) {
    char hex[33];
    size_t owner_len = field_len(FIELD(a->owner_bic));
    if (a->id == 0 || !currency_ok(a->currency) || a->minor_units > MINOR_UNITS_MAX ||
        (owner_len != 0 && !ortak_bic_valid(a->owner_bic))) {
        w_fail(w, ORTAK_INVALID);
        return;
    }
    w_str(w, "<Acct><Id><Othr><Id>");
    w_str(w, ortak_u128_hex(a->id, hex));
    w_str(w, "</Id></Othr></Id><Ccy>");
    w_raw(w, a->currency, 3);
    w_str(w, "</Ccy>");
    if (owner_len != 0) {
        w_str(w, "<Ownr><Id><OrgId><AnyBIC>");
        w_str(w, a->owner_bic);
        w_str(w, "</AnyBIC></OrgId></Id></Ownr>");
    }
    w_str(w, "<Svcr>");
    w_fin_instn(w, servicer_bic);
    w_str(w, "</Svcr></Acct>");
}

static bool entry_has_refs(const struct ortak_iso_entry *e) {
    return e->transfer_id != 0 || e->uetr != 0 || e->msg_id[0] != '\0' || e->instr_id[0] != '\0' ||
           e->end_to_end_id[0] != '\0' || e->tx_id[0] != '\0';
}

/* TxDtls/Refs (TransactionReferences6, in its order); left out when the entry carries no reference. */
static void w_entry_refs(struct w *w, const struct ortak_iso_entry *e) {
    char hex[33], uetr[37];
    if (!entry_has_refs(e)) return;
    w_str(w, "<Refs>");
    w_field_opt(w, "MsgId", FIELD(e->msg_id));
    if (e->transfer_id != 0) w_elem(w, "AcctSvcrRef", ortak_u128_hex(e->transfer_id, hex));
    w_field_opt(w, "InstrId", FIELD(e->instr_id));
    w_field_opt(w, "EndToEndId", FIELD(e->end_to_end_id));
    if (e->uetr != 0) {
        if (!ortak_iso_uetr_text(e->uetr, uetr)) w_fail(w, ORTAK_INVALID);
        w_elem(w, "UETR", uetr);
    }
    w_field_opt(w, "TxId", FIELD(e->tx_id));
    w_str(w, "</Refs>");
}

/* TxDtls/RltdAgts: the counterparty's agent, the debtor agent of a credit or the creditor agent of a debit. */
static void w_entry_agent(struct w *w, const struct ortak_iso_entry *e, bool credit) {
    const char *tag = credit ? "DbtrAgt" : "CdtrAgt";
    if (field_len(FIELD(e->counterparty_bic)) == 0) return;
    w_str(w, "<RltdAgts>");
    w_open(w, tag);
    w_fin_instn(w, e->counterparty_bic);
    w_close(w, tag);
    w_str(w, "</RltdAgts>");
}

/*
 * <Ntry> (ReportEntry10) for a settled movement: booked (Sts/Cd BOOK) at its time, value date its day, the transfer
 * id as AcctSvcrRef, and one TxDtls with the payment's references. Bank transaction code: domain PMNT, family RCDT
 * (received credit transfers) or ICDT (issued), sub-family OTHR: the entry does not say which message moved it
 * (customer or institution transfer, return, liquidity transfer). A zero amount is refused: nothing settles zero.
 */
static void w_entry(struct w *w, const struct ortak_iso_account *a, const struct ortak_iso_entry *e) {
    char amount[48], date[11], hex[33];
    bool credit = e->amount > 0;
    const char *ind = credit ? "<CdtDbtInd>CRDT</CdtDbtInd>" : "<CdtDbtInd>DBIT</CdtDbtInd>";
    if (e->amount == 0 || !amount_text(e->amount, a->minor_units, amount)) {
        w_fail(w, ORTAK_INVALID);
        return;
    }
    ortak__iso_date_format(e->booked_ns, date);
    w_str(w, "<Ntry>");
    w_amount(w, "Amt", a->currency, amount);
    w_str(w, ind);
    w_str(w, "<Sts><Cd>BOOK</Cd></Sts><BookgDt>");
    w_time(w, "DtTm", e->booked_ns);
    w_str(w, "</BookgDt><ValDt>");
    w_elem(w, "Dt", date);
    w_str(w, "</ValDt>");
    if (e->transfer_id != 0) w_elem(w, "AcctSvcrRef", ortak_u128_hex(e->transfer_id, hex));
    w_str(w,
          credit ? "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd>" : "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd>");
    w_str(w, "<SubFmlyCd>OTHR</SubFmlyCd></Fmly></Domn></BkTxCd><NtryDtls><TxDtls>");
    w_entry_refs(w, e);
    w_amount(w, "Amt", a->currency, amount);
    w_str(w, ind);
    w_entry_agent(w, e, credit);
    w_str(w, "</TxDtls></NtryDtls></Ntry>");
}

/* ---- pacs.002 ---------------------------------------------------------------------------------------------- */

/* The transaction statuses ortak sends (STATUS_CODES). */
static bool status_ok(const char *status) {
    static const char *const known[] = {"ACTC", "PDNG", "ACSP", "ACSC", "ACCC", "RJCT"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strncmp(status, known[i], 5) == 0) return true;
    }
    return false;
}

/* An external code: 1 to 4 uppercase letters or digits. */
static bool code_ok(const char *code, size_t n) {
    if (n == 0 || n > 4) return false;
    for (size_t i = 0; i < n; i++) {
        bool upper = code[i] >= 'A' && code[i] <= 'Z', digit = code[i] >= '0' && code[i] <= '9';
        if (!upper && !digit) return false;
    }
    return true;
}

/* OrgnlGrpInf (left out with no original message id) and the original transaction's ids, each when present. */
static void w_status_original(struct w *w, const struct ortak_iso_status *s) {
    char uetr[37];
    if (field_len(FIELD(s->orgnl_msg_id)) != 0) {
        if (s->orgnl_type == ORTAK_ISO_UNKNOWN || s->orgnl_type >= ORTAK_ISO_TYPES) w_fail(w, ORTAK_INVALID);
        w_str(w, "<OrgnlGrpInf>");
        w_field(w, "OrgnlMsgId", FIELD(s->orgnl_msg_id));
        w_elem(w, "OrgnlMsgNmId", ortak_iso_type_name(s->orgnl_type));
        w_str(w, "</OrgnlGrpInf>");
    }
    w_field_opt(w, "OrgnlInstrId", FIELD(s->orgnl_instr_id));
    w_field_opt(w, "OrgnlEndToEndId", FIELD(s->orgnl_end_to_end_id));
    w_field_opt(w, "OrgnlTxId", FIELD(s->orgnl_tx_id));
    if (s->orgnl_uetr != 0) {
        if (!ortak_iso_uetr_text(s->orgnl_uetr, uetr)) w_fail(w, ORTAK_INVALID);
        w_elem(w, "OrgnlUETR", uetr);
    }
}

/* TxSts, StsRsnInf (reason code, and the text in pieces of at most 105 characters) and FctvIntrBkSttlmDt. */
static void w_status_state(struct w *w, const struct ortak_iso_status *s) {
    char date[11];
    size_t reason_len = field_len(FIELD(s->reason)), text_len = field_len(FIELD(s->reason_text));
    if (!status_ok(s->status) || (reason_len != 0 && !code_ok(s->reason, reason_len)) || text_len == SIZE_MAX) {
        w_fail(w, ORTAK_INVALID);
        return;
    }
    w_elem(w, "TxSts", s->status);
    if (reason_len != 0 || text_len != 0) {
        w_str(w, "<StsRsnInf>");
        if (reason_len != 0) {
            w_str(w, "<Rsn>");
            w_elem(w, "Cd", s->reason);
            w_str(w, "</Rsn>");
        }
        w_pieces(w, "AddtlInf", s->reason_text, text_len, ADDTL_INF_CHARS);
        w_str(w, "</StsRsnInf>");
    }
    if (s->settled_ns != 0) {
        ortak__iso_date_format(s->settled_ns, date);
        w_str(w, "<FctvIntrBkSttlmDt>");
        w_elem(w, "Dt", date);
        w_str(w, "</FctvIntrBkSttlmDt>");
    }
}

ortak_rc ortak_iso_write_pacs002(const struct ortak_iso_status *s, struct ortak_iso_buf *out) {
    struct w w;
    ORTAK_ASSERT(s != NULL);
    w_begin(&w, out);
    w_envelope_open(&w, &s->head, ORTAK_ISO_PACS_002);
    w_str(&w, "<FIToFIPmtStsRpt>");
    w_group_header(&w, &s->head);
    w_str(&w, "<TxInfAndSts>");
    w_status_original(&w, s);
    w_status_state(&w, s);
    w_str(&w, "</TxInfAndSts></FIToFIPmtStsRpt>");
    w_envelope_close(&w);
    return w_end(&w);
}

/* ---- camt.054 ---------------------------------------------------------------------------------------------- */

ortak_rc ortak_iso_write_camt054(const struct ortak_iso_head *h, const struct ortak_iso_account *a,
                                 const struct ortak_iso_entry *entry, struct ortak_iso_buf *out) {
    struct w w;
    ORTAK_ASSERT(h != NULL && a != NULL && entry != NULL);
    w_begin(&w, out);
    w_envelope_open(&w, h, ORTAK_ISO_CAMT_054);
    w_str(&w, "<BkToCstmrDbtCdtNtfctn>");
    w_group_header(&w, h);
    w_str(&w, "<Ntfctn>");
    w_field(&w, "Id", FIELD(h->msg_id));
    w_time(&w, "CreDtTm", h->created_ns);
    w_account(&w, a, h->from);
    w_entry(&w, a, entry);
    w_str(&w, "</Ntfctn></BkToCstmrDbtCdtNtfctn>");
    w_envelope_close(&w);
    return w_end(&w);
}

/* ---- camt.052, camt.053 ------------------------------------------------------------------------------------ */

/* <Bal> (CashBalance8) of type `code`: the amount, CRDT when the balance is zero or more, DBIT below zero. */
static void w_balance(struct w *w, const char *code, ortak_i128 v, ortak_time_ns at,
                      const struct ortak_iso_account *a) {
    char amount[48];
    if (!amount_text(v, a->minor_units, amount)) {
        w_fail(w, ORTAK_INVALID);
        return;
    }
    w_str(w, "<Bal><Tp><CdOrPrtry>");
    w_elem(w, "Cd", code);
    w_str(w, "</CdOrPrtry></Tp>");
    w_amount(w, "Amt", a->currency, amount);
    w_str(w, v < 0 ? "<CdtDbtInd>DBIT</CdtDbtInd><Dt>" : "<CdtDbtInd>CRDT</CdtDbtInd><Dt>");
    w_time(w, "DtTm", at);
    w_str(w, "</Dt></Bal>");
}

/* NbOfNtries and Sum of a NumberAndSumOfTransactions1 or 4. */
static void w_count_sum(struct w *w, uint32_t count, ortak_i128 sum, uint8_t minor_units) {
    char n[21], amount[48];
    bool fits = amount_text(sum, minor_units, amount);
    ORTAK_ASSERT(fits); /* the caller checked the sum of every amount */
    w_elem(w, "NbOfNtries", u64_dec(count, n));
    w_elem(w, "Sum", amount);
}

/*
 * TxsSummry (TotalTransactions6): number and sum of all entries with the net, of the credits and of the debits.
 * Left out with no entries, and when a sum has more than 18 digits (DecimalNumber) and so cannot be written.
 */
static void w_summary(struct w *w, const struct ortak_iso_report *rep) {
    ortak_i128 credit = 0, debit = 0; /* at most 2^32 amounts of at most 2^63 each: no overflow */
    uint32_t credits = 0;
    char amount[48];
    for (uint32_t i = 0; i < rep->entry_count; i++) {
        int64_t v = rep->entries[i].amount;
        if (v > 0) credits++;
        if (v > 0)
            credit += v;
        else
            debit -= (ortak_i128)v;
    }
    ortak_i128 net = credit - debit;
    if (rep->entry_count == 0 || credit + debit > AMOUNT_TEXT_MAX) return;
    w_str(w, "<TxsSummry><TtlNtries>");
    w_count_sum(w, rep->entry_count, credit + debit, rep->account.minor_units);
    w_str(w, "<TtlNetNtry>");
    bool fits = amount_text(net, rep->account.minor_units, amount);
    ORTAK_ASSERT(fits); /* |net| <= credit + debit */
    w_elem(w, "Amt", amount);
    w_str(w, net < 0 ? "<CdtDbtInd>DBIT</CdtDbtInd>" : "<CdtDbtInd>CRDT</CdtDbtInd>");
    w_str(w, "</TtlNetNtry></TtlNtries><TtlCdtNtries>");
    w_count_sum(w, credits, credit, rep->account.minor_units);
    w_str(w, "</TtlCdtNtries><TtlDbtNtries>");
    w_count_sum(w, rep->entry_count - credits, debit, rep->account.minor_units);
    w_str(w, "</TtlDbtNtries></TxsSummry>");
}

/*
 * camt.052 (Rpt, AccountReport25) and camt.053 (Stmt, AccountStatement9) share their content: Id (the message id),
 * CreDtTm, FrToDt, Acct, the opening booked balance (OPBD) at the start of the period and, at its end, the closing
 * booked balance (CLBD) of a statement or the interim booked balance (ITBD) of an intraday report; TxsSummry; and an
 * Ntry per entry.
 */
static ortak_rc write_report(const struct ortak_iso_report *rep, struct ortak_iso_buf *out, bool statement) {
    struct w w;
    ORTAK_ASSERT(rep != NULL);
    ORTAK_ASSERT(rep->entry_count == 0 || rep->entries != NULL);
    w_begin(&w, out);
    if (rep->from_ns > rep->to_ns) w_fail(&w, ORTAK_INVALID);
    w_envelope_open(&w, &rep->head, statement ? ORTAK_ISO_CAMT_053 : ORTAK_ISO_CAMT_052);
    w_str(&w, statement ? "<BkToCstmrStmt>" : "<BkToCstmrAcctRpt>");
    w_group_header(&w, &rep->head);
    w_str(&w, statement ? "<Stmt>" : "<Rpt>");
    w_field(&w, "Id", FIELD(rep->head.msg_id));
    w_time(&w, "CreDtTm", rep->head.created_ns);
    w_str(&w, "<FrToDt>");
    w_time(&w, "FrDtTm", rep->from_ns);
    w_time(&w, "ToDtTm", rep->to_ns);
    w_str(&w, "</FrToDt>");
    w_account(&w, &rep->account, rep->head.from);
    w_balance(&w, "OPBD", rep->opening_balance, rep->from_ns, &rep->account);
    w_balance(&w, statement ? "CLBD" : "ITBD", rep->closing_balance, rep->to_ns, &rep->account);
    if (w.rc == ORTAK_OK) w_summary(&w, rep);
    for (uint32_t i = 0; i < rep->entry_count && w.rc == ORTAK_OK; i++) w_entry(&w, &rep->account, &rep->entries[i]);
    w_str(&w, statement ? "</Stmt></BkToCstmrStmt>" : "</Rpt></BkToCstmrAcctRpt>");
    w_envelope_close(&w);
    return w_end(&w);
}

ortak_rc ortak_iso_write_camt052(const struct ortak_iso_report *rep, struct ortak_iso_buf *out) {
    return write_report(rep, out, false);
}

ortak_rc ortak_iso_write_camt053(const struct ortak_iso_report *rep, struct ortak_iso_buf *out) {
    return write_report(rep, out, true);
}

/* ---- admi.002 ---------------------------------------------------------------------------------------------- */

/* RltdRef/Ref (the rejected message's id, or NONREF), Rsn/RjctgPtyRsn (the code), RjctnDtTm and RsnDesc. */
ortak_rc ortak_iso_write_admi002(const struct ortak_iso_reject *rej, struct ortak_iso_buf *out) {
    struct w w;
    ORTAK_ASSERT(rej != NULL);
    w_begin(&w, out);
    size_t reason_len = field_len(FIELD(rej->reason));
    if (reason_len == SIZE_MAX || !code_ok(rej->reason, reason_len)) w_fail(&w, ORTAK_INVALID);
    w_envelope_open(&w, &rej->head, ORTAK_ISO_ADMI_002);
    w_str(&w, "<admi.002.001.01><RltdRef>");
    if (field_len(FIELD(rej->ref)) == 0)
        w_elem(&w, "Ref", "NONREF");
    else
        w_field(&w, "Ref", FIELD(rej->ref));
    w_str(&w, "</RltdRef><Rsn>");
    w_field(&w, "RjctgPtyRsn", FIELD(rej->reason));
    w_time(&w, "RjctnDtTm", rej->head.created_ns);
    w_field_opt(&w, "RsnDesc", FIELD(rej->text));
    w_str(&w, "</Rsn></admi.002.001.01>");
    w_envelope_close(&w);
    return w_end(&w);
}

/* ---- payments forwarded ----------------------------------------------------------------------------------- */

/*
 * What the forward knows of each message definition it forwards: where its transactions are, which element of a
 * transaction holds the UETR that names it, the amount its settlement date follows (the schemas' order), and the
 * part of the group that applies to every transaction: carried over when the transaction has none of its own.
 */
struct kind {
    uint8_t type;          /* enum ortak_iso_type */
    const char *ns;        /* the Document's namespace */
    const char *body;      /* the Document's child */
    const char *tx;        /* a transaction, a child of the body */
    const char *uetr_in;   /* the transaction's child holding the UETR; NULL: the transaction itself */
    const char *uetr;      /* PmtId/UETR, or a return's OrgnlUETR: the UETR of the payment returned */
    const char *amount;    /* IntrBkSttlmDt follows it */
    const char *grp_part;  /* in GrpHdr, last in the new one (after SttlmInf); NULL: the schema has none */
    const char *body_part; /* in the body, right after GrpHdr; NULL: none */
};

static const struct kind kinds[] = {
    {ORTAK_ISO_PACS_008, ISO_NS_PREFIX "pacs.008.001.08", "FIToFICstmrCdtTrf", "CdtTrfTxInf", "PmtId", "UETR",
     "IntrBkSttlmAmt", "PmtTpInf", NULL},
    {ORTAK_ISO_PACS_009, ISO_NS_PREFIX "pacs.009.001.08", "FICdtTrf", "CdtTrfTxInf", "PmtId", "UETR", "IntrBkSttlmAmt",
     "PmtTpInf", NULL},
    /* GroupHeader90 has no PmtTpInf; the original group information of PaymentReturnV09 applies to every TxInf */
    {ORTAK_ISO_PACS_004, ISO_NS_PREFIX "pacs.004.001.09", "PmtRtr", "TxInf", NULL, "OrgnlUETR", "RtrdIntrBkSttlmAmt",
     NULL, "OrgnlGrpInf"},
};

/* The kind of message definition `type`, or NULL when it is not forwarded. */
static const struct kind *kind_of(uint8_t type) {
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        const struct kind *k = &kinds[i];
        if (k->type != type) continue;
        ORTAK_ASSERT(strcmp(k->ns + strlen(ISO_NS_PREFIX), ortak_iso_type_name(type)) == 0);
        return k;
    }
    return NULL;
}

static bool in_ns(xmlNodePtr n, const char *ns) {
    return n->type == XML_ELEMENT_NODE && n->ns != NULL && n->ns->href != NULL &&
           strcmp((const char *)n->ns->href, ns) == 0;
}

/* The first element child of `n` in namespace `ns` named `name`, looking at most at `bound` children. */
static xmlNodePtr ns_child(xmlNodePtr n, const char *ns, const char *name, size_t bound) {
    xmlNodePtr c = n != NULL ? n->children : NULL;
    for (size_t i = 0; c != NULL && i < bound; i++, c = c->next) {
        if (in_ns(c, ns) && strcmp((const char *)c->name, name) == 0) return c;
    }
    return NULL;
}

/* The text of leaf element `n`, its text children joined (a comment or processing instruction between them does
 * not count), into `out` of `cap` bytes. False when `n` is absent, holds an element, or its text does not fit. */
static bool leaf_text(xmlNodePtr n, char *out, size_t cap, size_t bound) {
    size_t len = 0;
    xmlNodePtr c = n != NULL ? n->children : NULL;
    for (size_t i = 0; c != NULL && i < bound; i++, c = c->next) {
        if (c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE) continue;
        if ((c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE) || c->content == NULL) return false;
        size_t k = strlen((const char *)c->content);
        if (k >= cap - len) return false;
        memcpy(out + len, c->content, k);
        len += k;
    }
    out[len] = '\0';
    return n != NULL && c == NULL;
}

/* The first transaction of `body` whose UETR (a return's OrgnlUETR) is `uetr`, or NULL. */
static xmlNodePtr find_transaction(const struct kind *k, xmlNodePtr body, ortak_u128 uetr, size_t bound) {
    xmlNodePtr c = body->children;
    for (size_t i = 0; c != NULL && i < bound; i++, c = c->next) {
        char text[40];
        ortak_u128 v;
        if (!in_ns(c, k->ns) || strcmp((const char *)c->name, k->tx) != 0) continue;
        xmlNodePtr holder = k->uetr_in != NULL ? ns_child(c, k->ns, k->uetr_in, bound) : c;
        xmlNodePtr u = ns_child(holder, k->ns, k->uetr, bound);
        if (leaf_text(u, text, sizeof text, bound) && ortak_iso_uetr_parse(text, &v) && v == uetr) return c;
    }
    return NULL;
}

/*
 * Serialising a subtree of the original alone. The subtree `top` (a transaction, or a part of the group) is
 * changed in place in the parsed original, which is freed afterwards, then written with xmlSaveTree: nothing is
 * copied (libxml2 2.9's deep copy drops a subtree silently when an allocation fails). Its elements in the message's
 * namespace go into the default namespace, declared on `top`; a namespace the subtree uses but the original declared
 * above `top` (a prefix on the original's envelope, used inside SplmtryData) is declared again inside the subtree.
 * Every walk is bounded by `bound`, the original's size in bytes: a node takes at least a byte.
 */
struct subtree {
    xmlDocPtr doc;
    xmlNodePtr top;
    const char *ns;  /* the message's namespace */
    bool to_default; /* the message's elements go into the default namespace (false: top declares another default) */
    size_t bound;
};

/* xmlNewNs, checking what libxml2 2.9 does not: that its copies of the strings were made. NULL: no memory, or
 * `n` declares that prefix already. */
static xmlNsPtr new_ns(xmlNodePtr n, const xmlChar *href, const xmlChar *prefix) {
    xmlNsPtr d = xmlNewNs(n, href, prefix);
    return d != NULL && d->href != NULL && (prefix == NULL || d->prefix != NULL) ? d : NULL;
}

/* Whether `n` declares a default namespace itself. */
static bool declares_default(const struct subtree *t, xmlNodePtr n) {
    xmlNsPtr d = n->nsDef;
    for (size_t i = 0; d != NULL && i < t->bound; i++, d = d->next) {
        if (d->prefix == NULL) return true;
    }
    return false;
}

/* The declaration of `prefix` (NULL: the default namespace) in force at `n` within the subtree: the nearest on the
 * way up to the top, or NULL. */
static xmlNsPtr declaration_in_force(const struct subtree *t, xmlNodePtr n, const xmlChar *prefix) {
    size_t steps = 0;
    for (xmlNodePtr m = n; m != NULL && steps < t->bound; m = m->parent, steps++) {
        xmlNsPtr d = m->nsDef;
        for (; d != NULL && steps < t->bound; d = d->next, steps++) {
            if (prefix == NULL ? d->prefix == NULL : d->prefix != NULL && xmlStrEqual(d->prefix, prefix)) return d;
        }
        if (m == t->top) return NULL;
    }
    return NULL;
}

/* Makes sure namespace `*ns`, used at `n` (by the element or an attribute), is in force there within the subtree;
 * else declares it: on the top when the prefix is free there, on `n` otherwise. Updates `*ns` to the declaration in
 * force. False: no memory. */
static bool keep_declared(const struct subtree *t, xmlNodePtr n, xmlNsPtr *ns) {
    if (*ns == NULL || ((*ns)->prefix != NULL && xmlStrEqual((*ns)->prefix, BAD_CAST "xml")))
        return true; /* implicit */
    xmlNsPtr d = declaration_in_force(t, n, (*ns)->prefix);
    if (d != NULL && d->href != NULL && xmlStrEqual(d->href, (*ns)->href)) {
        *ns = d;
        return true;
    }
    d = new_ns((*ns)->prefix == NULL || d != NULL ? n : t->top, (*ns)->href, (*ns)->prefix);
    if (d == NULL) return false;
    *ns = d;
    return true;
}

/* An element `n` of the message into the default namespace `d` in scope at it, or declares that on `n`; an element
 * that declares another default namespace itself keeps its prefix. False: no memory. */
static bool message_to_default(const struct subtree *t, xmlNodePtr n, xmlNsPtr d) {
    if (d != NULL && d->href != NULL && strcmp((const char *)d->href, t->ns) == 0) {
        n->ns = d;
        return true;
    }
    if (declares_default(t, n)) return keep_declared(t, n, &n->ns);
    d = new_ns(n, BAD_CAST t->ns, NULL);
    if (d == NULL) return false;
    n->ns = d;
    return true;
}

/* Element `n` and its attributes: the message's into the default namespace, xmlns="" on an element in no namespace
 * under a default one, other namespaces kept declared. False: no memory. */
static bool namespace_fix(const struct subtree *t, xmlNodePtr n) {
    xmlNsPtr d = declaration_in_force(t, n, NULL); /* never NULL: the top declares one */
    bool ok;
    if (in_ns(n, t->ns) && t->to_default)
        ok = message_to_default(t, n, d);
    else if (n->ns == NULL)
        ok = d == NULL || d->href == NULL || d->href[0] == '\0' || new_ns(n, BAD_CAST "", NULL);
    else
        ok = keep_declared(t, n, &n->ns);
    xmlAttrPtr a = n->properties;
    for (size_t i = 0; ok && a != NULL && i < t->bound; i++, a = a->next) ok = keep_declared(t, n, &a->ns);
    return ok;
}

/* Applies namespace_fix to every element of the subtree in document order, without recursion: each node is
 * entered and left once. False: no memory, or more nodes than the bound allows. */
static bool namespace_walk(const struct subtree *t) {
    xmlNodePtr n = t->top;
    bool down = true; /* n is entered, not left */
    for (size_t i = 0; i < 2 * t->bound + 2; i++) {
        if (down && n->type == XML_ELEMENT_NODE) {
            if (!namespace_fix(t, n)) return false;
            if (n->children != NULL) {
                n = n->children;
                continue;
            }
        }
        if (n == t->top) return true;
        down = n->next != NULL;
        n = n->next != NULL ? n->next : n->parent;
    }
    return false;
}

/* Declares the default namespace on the top: the message's, unless the top declares another one itself. */
static bool subtree_open(struct subtree *t, const char *ns, xmlDocPtr doc, xmlNodePtr top, size_t bound) {
    t->doc = doc;
    t->top = top;
    t->ns = ns;
    t->bound = bound;
    t->to_default = true;
    xmlNsPtr d = top->nsDef;
    for (size_t i = 0; d != NULL && i < bound; i++, d = d->next) {
        if (d->prefix == NULL) {
            t->to_default = d->href != NULL && strcmp((const char *)d->href, ns) == 0;
            return true;
        }
    }
    return new_ns(top, BAD_CAST ns, NULL) != NULL;
}

/* Whether element `n` holds exactly the text `text` (libxml2 2.9 can leave a text node without its content when an
 * allocation fails). */
static bool holds_text(xmlNodePtr n, const char *text) {
    char s[16];
    return leaf_text(n, s, sizeof s, 4) && strcmp(s, text) == 0;
}

/* Sets the transaction's IntrBkSttlmDt to `date`: replaced when present, added right after element `amount` (the
 * interbank settlement amount, or a return's returned one) otherwise. */
static bool settlement_date_set(const struct subtree *t, const char *amount_name, const char *date) {
    xmlNodePtr dt = ns_child(t->top, t->ns, "IntrBkSttlmDt", t->bound);
    if (dt != NULL) {
        xmlNodeSetContent(dt, BAD_CAST date);
        return holds_text(dt, date);
    }
    xmlNodePtr amount = ns_child(t->top, t->ns, amount_name, t->bound);
    ORTAK_ASSERT(amount != NULL); /* checked by the caller */
    dt = xmlNewDocNode(t->doc, amount->ns, BAD_CAST "IntrBkSttlmDt", BAD_CAST date);
    if (dt == NULL || !holds_text(dt, date) || xmlAddNextSibling(amount, dt) == NULL) {
        if (dt != NULL) xmlFreeNode(dt);
        return false;
    }
    return true;
}

/* Serialises `n` as UTF-8 and appends it. */
static void w_node(struct w *w, xmlNodePtr n) {
    xmlBufferPtr xb = xmlBufferCreate();
    xmlSaveCtxtPtr save = xb != NULL ? xmlSaveToBuffer(xb, "UTF-8", XML_SAVE_NO_DECL) : NULL;
    bool ok = save != NULL && xmlSaveTree(save, n) >= 0;
    if (save != NULL) ok = xmlSaveClose(save) >= 0 && ok; /* a failed write is reported here */
    if (ok)
        w_raw(w, (const char *)xmlBufferContent(xb), (size_t)xmlBufferLength(xb));
    else
        w_fail(w, ORTAK_NOMEM);
    if (xb != NULL) xmlBufferFree(xb);
}

/* Appends element `top` of the original, the message's elements in the default namespace; a transaction (`date`
 * not NULL) settled on `date`. */
static void w_subtree(struct w *w, const struct kind *k, xmlDocPtr doc, xmlNodePtr top, const char *date,
                      size_t bound) {
    struct subtree t;
    if (w->rc != ORTAK_OK) return;
    bool ok = subtree_open(&t, k->ns, doc, top, bound) && namespace_walk(&t);
    ok = ok && (date == NULL || settlement_date_set(&t, k->amount, date));
    if (ok)
        w_node(w, top);
    else
        w_fail(w, ORTAK_NOMEM);
}

/* The part `name` of `parent` (the group header or the body) when it applies to transaction `tx`: NULL when there
 * is none, or when `tx` has one of its own. */
static xmlNodePtr carried(const struct kind *k, xmlNodePtr parent, const char *name, xmlNodePtr tx, size_t bound) {
    if (name == NULL || ns_child(tx, k->ns, name, bound) != NULL) return NULL;
    return ns_child(parent, k->ns, name, bound);
}

/*
 * The new message around the transaction: AppHdr from h->from to h->to; GrpHdr with MsgId, CreDtTm, NbOfTxs 1 and
 * SttlmInf/SttlmMtd CLRG (settled in the clearing system, ortak: not through accounts the agents hold with each
 * other, INDA/INGA, nor by cover, COVE), and the part of the original group that applied to the transaction when it
 * has none of its own (pacs.008 and pacs.009: GrpHdr/PmtTpInf; pacs.004: OrgnlGrpInf after GrpHdr); then the
 * transaction, settled on `date`. In both group headers (GroupHeader93 of pacs.008 and pacs.009, GroupHeader90 of
 * pacs.004) these elements come in this order and SttlmInf is mandatory; what else they hold is optional.
 */
static void w_forward(struct w *w, const struct kind *k, const struct ortak_iso_head *h, xmlDocPtr doc, xmlNodePtr body,
                      xmlNodePtr tx, const char *date, size_t bound) {
    xmlNodePtr grp_part = carried(k, ns_child(body, k->ns, "GrpHdr", bound), k->grp_part, tx, bound);
    xmlNodePtr body_part = carried(k, body, k->body_part, tx, bound);
    w_envelope_open(w, h, k->type);
    w_open(w, k->body);
    w_str(w, "<GrpHdr>");
    w_field(w, "MsgId", FIELD(h->msg_id));
    w_time(w, "CreDtTm", h->created_ns);
    w_str(w, "<NbOfTxs>1</NbOfTxs><SttlmInf><SttlmMtd>CLRG</SttlmMtd></SttlmInf>");
    if (grp_part != NULL) w_subtree(w, k, doc, grp_part, NULL, bound);
    w_str(w, "</GrpHdr>");
    if (body_part != NULL) w_subtree(w, k, doc, body_part, NULL, bound);
    w_subtree(w, k, doc, tx, date, bound);
    w_close(w, k->body);
    w_envelope_close(w);
}

ortak_rc ortak_iso_write_forward(struct ortak_iso_reader *r, const void *original, size_t len, ortak_u128 uetr,
                                 const struct ortak_iso_head *h, ortak_time_ns settled_ns, struct ortak_iso_buf *out) {
    ORTAK_ASSERT(r != NULL && h != NULL && (original != NULL || len == 0));
    xmlDocPtr doc = NULL;
    xmlNodePtr hdr, document = NULL, tx = NULL, body = NULL;
    uint8_t type = ORTAK_ISO_UNKNOWN;
    const struct kind *k = NULL;
    char why[160], date[11];
    struct w w;
    w_begin(&w, out);
    ortak__iso_libxml_begin();
    ortak_rc rc = len == 0 ? ORTAK_ISO_UNREADABLE
                  : ortak__iso_reader_ctxt(r) == NULL
                      ? ORTAK_NOMEM
                      : ortak__iso_parse_with(r->iso, r->ctxt, original, len, &doc, why, sizeof why);
    if (rc == ORTAK_OK) ortak__iso_locate(xmlDocGetRootElement(doc), &hdr, &document, &type);
    if (rc == ORTAK_OK) k = kind_of(type);
    if (k != NULL && document != NULL && in_ns(document, k->ns)) {
        body = ns_child(document, k->ns, k->body, len);
        tx = body != NULL && uetr != 0 ? find_transaction(k, body, uetr, len) : NULL;
    }
    if (rc == ORTAK_OK && (tx == NULL || ns_child(tx, k->ns, k->amount, len) == NULL)) rc = ORTAK_ISO_INVALID;
    if (rc == ORTAK_ISO_UNREADABLE) rc = ORTAK_ISO_INVALID;
    w_fail(&w, rc);
    ortak__iso_date_format(settled_ns, date);
    if (w.rc == ORTAK_OK) w_forward(&w, k, h, doc, body, tx, date, len);
    if (ortak__iso_libxml_alloc_failed()) w.rc = ORTAK_NOMEM; /* whatever else went wrong: a part may be lost */
    if (doc != NULL) xmlFreeDoc(doc);
    return w_end(&w);
}
