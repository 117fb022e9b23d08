/*
 * IBANs (ISO 13616) and the domestic account identifiers of the members without IBAN.
 *
 * An IBAN is checked in its electronic form only: uppercase letters and digits, no spaces. In order, each with its
 * own reason: the characters; the length, 15 to 34; a two-letter country code; two check digits, never 00, 01 or
 * 99; the check digits themselves (ISO 7064 MOD 97-10, computed digit by digit on a remainder below 97, so no big
 * number is built); then the country's rules. With an IBAN registry loaded (docs/iso20022.md) the country must be
 * in it -- a country that is not "does not use IBAN" -- and the IBAN must have its length and its structure. With no
 * registry, a built-in table of lengths (the same edition as shared/data/iban/registry.txt) gives the length, and
 * an IBAN of a country it does not know is checked by its check digits alone.
 *
 * The registry file is pipe-separated with a header line naming the columns; ortak reads country_code,
 * iban_length and iban_format_swift and ignores the others. A format is SWIFT's: the country code, then elements
 * "<length>!<class>", where the class is n (digits), a (uppercase letters) or c (uppercase letters and digits)
 * and '!' marks a fixed length; the first element is 2!n, the check digits. Only fixed-length elements are
 * accepted, and not SWIFT's e (blanks): an IBAN in electronic form holds none. The file is bounded (1 MiB, 676 rows, 4
 * KiB a line) and every row is checked: a malformed row, a missing column or a country given twice refuses the whole
 * file (ORTAK_CONFIG_INVALID, naming the line). A row whose format does not add up to its iban_length keeps its length
 * and loses its structure check (the php-iban edition in shared/ has two: KM and DJ give a 29-character format for
 * 27-character IBANs).
 *
 * Domestic account identifiers (ortak_iso_domestic_account_check). These are ortak's structural rules, not a
 * published check-digit algorithm: they catch a mistyped or truncated identifier, not a wrong account.
 *   KG, Kyrgyzstan: exactly 16 digits. The first 3 are the bank's code (the first three digits of its BIK, the
 *       bank identification code the National Bank of the Kyrgyz Republic assigns) and are not 000. The National
 *       Bank's numbering instruction (2005) ends the number with 2 check digits computed modulo 97 over the first
 *       14; they are not verified here until the exact computation is confirmed.
 *   UZ, Uzbekistan: exactly 20 digits: balance account (5 digits, the chart of accounts of the Central Bank of
 *       Uzbekistan), currency (3), check key (1), the client's unique number (8) and a sequence number (3).
 *       Digits 6 to 8 are 000 for the sum or the ISO 4217 numeric code of an active currency (840 for USD). The
 *       check key is computed with the bank's code (MFO), which the account does not carry, so it is not checked.
 *   TM, Turkmenistan: exactly 20 digits, laid out like Uzbekistan's: balance account (5), currency (3), then the
 *       bank's own numbering (12). Digits 6 to 8 are 000 or the ISO 4217 numeric code of an active currency (934
 *       for the manat). No check digit is checked.
 *
 * Threads: a registry is read-only once loaded; every function here may run on any thread.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/log.h"
#include "base/slice.h"
#include "iso20022/iso_int.h"

#define IBAN_LEN_MIN 15u
#define IBAN_LEN_MAX 34u
#define REGISTRY_BYTES_MAX ((size_t)1 << 20)
#define REGISTRY_LINE_BYTES_MAX 4096u
#define REGISTRY_COLUMNS_MAX 64u
#define REGISTRY_COUNTRIES (26u * 26u) /* one row per two-letter code at most */
#define REGISTRY_ROWS_MAX REGISTRY_COUNTRIES
#define IBAN_ELEMENTS_MAX 16u /* of a format, after the country code */
#define IBAN_FORMAT_BYTES_MAX 63u

/* ---- facts ---------------------------------------------------------------------------------------------------- */

/* IBAN lengths by country, as in the SWIFT IBAN registry edition of shared/data/iban/registry.txt (php-iban at
 * c92138c), without its AA (IIBAN, not a country). Sorted by country code. */
static const struct {
    char cc[3];
    uint8_t len;
} iban_lengths[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AO", 25}, {"AT", 20}, {"AX", 18}, {"AZ", 28}, {"BA", 20}, {"BE", 16},
    {"BF", 27}, {"BG", 22}, {"BH", 22}, {"BI", 16}, {"BJ", 28}, {"BL", 27}, {"BR", 29}, {"BY", 28}, {"CF", 27},
    {"CG", 27}, {"CH", 21}, {"CI", 28}, {"CM", 27}, {"CR", 22}, {"CV", 25}, {"CY", 28}, {"CZ", 24}, {"DE", 22},
    {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"DZ", 24}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FO", 18},
    {"FR", 27}, {"GA", 27}, {"GB", 22}, {"GE", 22}, {"GF", 27}, {"GI", 23}, {"GL", 18}, {"GP", 27}, {"GQ", 27},
    {"GR", 27}, {"GT", 28}, {"GW", 25}, {"HN", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23},
    {"IR", 26}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KM", 27}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32},
    {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21}, {"MA", 28}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MF", 27},
    {"MG", 27}, {"MK", 19}, {"ML", 28}, {"MQ", 27}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"MZ", 25}, {"NC", 27},
    {"NE", 28}, {"NI", 32}, {"NL", 18}, {"NO", 15}, {"PF", 27}, {"PK", 24}, {"PL", 28}, {"PM", 27}, {"PS", 29},
    {"PT", 25}, {"QA", 29}, {"RE", 27}, {"RO", 24}, {"RS", 22}, {"SA", 24}, {"SC", 31}, {"SE", 24}, {"SI", 19},
    {"SK", 24}, {"SM", 27}, {"SN", 28}, {"ST", 25}, {"SV", 28}, {"TD", 27}, {"TF", 27}, {"TG", 28}, {"TL", 23},
    {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VG", 24}, {"WF", 27}, {"XK", 20}, {"YT", 27},
};
#define IBAN_LENGTH_COUNT (sizeof iban_lengths / sizeof iban_lengths[0])
_Static_assert(IBAN_LENGTH_COUNT == 115, "the registry's 116 rows less AA");

/* ---- the registry --------------------------------------------------------------------------------------------- */

struct iban_element {
    uint8_t len;
    char cls; /* 'n', 'a' or 'c' */
};

struct iban_country {
    uint8_t len;      /* the IBAN's length; 0: the country is not in the registry */
    uint8_t elements; /* of the BBAN, after the check digits; 0: the structure is not known */
    struct iban_element element[IBAN_ELEMENTS_MAX];
    char format[IBAN_FORMAT_BYTES_MAX + 1]; /* iban_format_swift as written, for messages */
};

struct ortak__iban_registry {
    uint32_t count;
    struct iban_country country[REGISTRY_COUNTRIES]; /* indexed by country_index */
};

/* ---- small helpers -------------------------------------------------------------------------------------------- */

static bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alnum(char c) { return is_upper(c) || is_digit(c); }

static size_t country_index(char a, char b) {
    ORTAK_ASSERT(is_upper(a) && is_upper(b));
    return (size_t)(a - 'A') * 26u + (size_t)(b - 'A');
}

/* `c` for a message: "'x'" when printable ASCII, else its byte value. */
static const char *show_char(char c, char out[12]) {
    unsigned char u = (unsigned char)c;
    if (u >= 0x20 && u < 0x7f && u != '\'')
        snprintf(out, 12, "'%c'", c);
    else
        snprintf(out, 12, "byte 0x%02x", u);
    return out;
}

/* The built-in IBAN length of country `cc` (two uppercase letters), or 0 when unknown. */
static unsigned builtin_length(const char *cc) {
    size_t lo = 0, hi = IBAN_LENGTH_COUNT;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = memcmp(cc, iban_lengths[mid].cc, 2);
        if (cmp == 0) return iban_lengths[mid].len;
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

/* ---- reading the registry ------------------------------------------------------------------------------------- */

/* Reads all of `path`, at most REGISTRY_BYTES_MAX bytes, into a new buffer (*out, the caller frees it). */
static ortak_rc read_all(const char *path, char **out, size_t *out_len, char *why, size_t why_len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        ortak__iso_say(why, why_len, "IBAN registry %s: %s", path, strerror(errno));
        return ORTAK_IO;
    }
    ortak_rc rc = ORTAK_OK;
    size_t n = 0;
    char *buf = malloc(REGISTRY_BYTES_MAX + 1); /* one byte past the bound tells "too large" */
    if (!buf) {
        ortak__iso_say(why, why_len, "IBAN registry %s: out of memory", path);
        rc = ORTAK_NOMEM;
        goto done;
    }
    while (n < REGISTRY_BYTES_MAX + 1) {
        size_t got = fread(buf + n, 1, REGISTRY_BYTES_MAX + 1 - n, f);
        if (got == 0) break;
        n += got;
    }
    if (ferror(f)) {
        ortak__iso_say(why, why_len, "IBAN registry %s: cannot read: %s", path, strerror(errno ? errno : EIO));
        rc = ORTAK_IO;
        goto done;
    }
    if (n > REGISTRY_BYTES_MAX) {
        ortak__iso_say(why, why_len, "IBAN registry %s: larger than %zu MiB", path, REGISTRY_BYTES_MAX >> 20);
        rc = ORTAK_CONFIG_INVALID;
        goto done;
    }
    *out = buf;
    *out_len = n;
    buf = NULL;
done:
    free(buf);
    fclose(f);
    return rc;
}

struct cursor {
    const char *p, *end;
    uint32_t line; /* of the line last returned, from 1 */
};

/* The next line without its end ("\n" or "\r\n"); false at the end of the text. */
static bool next_line(struct cursor *c, struct ortak_slice *line) {
    if (c->p >= c->end) return false;
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    const char *stop = nl ? nl : c->end;
    line->ptr = c->p;
    line->len = (size_t)(stop - c->p);
    if (line->len > 0 && line->ptr[line->len - 1] == '\r') line->len--;
    c->p = nl ? nl + 1 : c->end;
    c->line++;
    return true;
}

/* Splits `line` at '|' into `field` (REGISTRY_COLUMNS_MAX of them). Returns the count of fields, or
 * REGISTRY_COLUMNS_MAX + 1 when there are more. */
static size_t split(struct ortak_slice line, struct ortak_slice field[REGISTRY_COLUMNS_MAX]) {
    const char *p = line.ptr, *end = line.ptr + line.len;
    size_t n = 0;
    for (;;) { /* each turn moves p past a '|' or returns: bounded by the line's length */
        const char *bar = p < end ? memchr(p, '|', (size_t)(end - p)) : NULL;
        const char *stop = bar ? bar : end;
        if (n == REGISTRY_COLUMNS_MAX) return n + 1;
        field[n++] = (struct ortak_slice){p, (size_t)(stop - p)};
        if (!bar) return n;
        p = bar + 1;
    }
}

/* Where the columns ortak reads are. */
struct columns {
    size_t count, country, length, format;
};

static ortak_rc read_header(const char *path, struct ortak_slice line, struct columns *col, char *why, size_t why_len) {
    static const char *const names[3] = {"country_code", "iban_length", "iban_format_swift"};
    struct ortak_slice field[REGISTRY_COLUMNS_MAX];
    size_t *where[3] = {&col->country, &col->length, &col->format};
    col->count = split(line, field);
    if (col->count > REGISTRY_COLUMNS_MAX) {
        ortak__iso_say(why, why_len, "IBAN registry %s line 1: more than %u columns", path, REGISTRY_COLUMNS_MAX);
        return ORTAK_CONFIG_INVALID;
    }
    for (size_t k = 0; k < 3; k++) {
        *where[k] = SIZE_MAX;
        for (size_t i = 0; i < col->count && *where[k] == SIZE_MAX; i++)
            if (ortak_slice_eq_cstr(ortak_slice_trim(field[i]), names[k])) *where[k] = i;
        if (*where[k] == SIZE_MAX) {
            ortak__iso_say(why, why_len, "IBAN registry %s line 1: the header has no column %s", path, names[k]);
            return ORTAK_CONFIG_INVALID;
        }
    }
    return ORTAK_OK;
}

/*
 * Parses a SWIFT IBAN format ("AL2!n8!n16!c") of country `cc` into `c` (its elements after the check digits) and
 * *total (the length it describes). Returns NULL, or what is wrong with it.
 */
static const char *parse_format(struct ortak_slice f, const char *cc, struct iban_country *c, unsigned *total) {
    struct iban_element el[IBAN_ELEMENTS_MAX + 1]; /* the check digits and the BBAN's elements */
    size_t n = 0, i = 2;
    unsigned sum = 2;
    if (f.len > IBAN_FORMAT_BYTES_MAX) return "is longer than 63 characters";
    if (f.len < 2 || f.ptr[0] != cc[0] || f.ptr[1] != cc[1]) return "does not begin with the country code";
    while (i < f.len) { /* each turn consumes at least 3 characters */
        unsigned len = 0, digits = 0;
        while (i < f.len && is_digit(f.ptr[i]) && digits < 2) {
            len = len * 10 + (unsigned)(f.ptr[i] - '0');
            digits++;
            i++;
        }
        if (digits == 0 || len == 0 || i >= f.len || f.ptr[i] != '!')
            return "has an element that is not a length of 1 to 99 and '!' (only fixed lengths are accepted)";
        i++;
        char cls = i < f.len ? f.ptr[i] : '\0';
        if (cls == 'e') return "has an element of blanks (e), which an IBAN in electronic form never holds";
        if (cls != 'n' && cls != 'a' && cls != 'c') return "has an element whose class is not n, a or c";
        i++;
        if (n == IBAN_ELEMENTS_MAX + 1) return "has more than 16 elements";
        sum += len;
        if (sum > IBAN_LEN_MAX) return "describes more than 34 characters";
        el[n++] = (struct iban_element){(uint8_t)len, cls};
    }
    if (n < 2 || el[0].len != 2 || el[0].cls != 'n') return "does not give the check digits (2!n) and a BBAN";
    c->elements = (uint8_t)(n - 1);
    memcpy(c->element, el + 1, (n - 1) * sizeof el[0]);
    memcpy(c->format, f.ptr, f.len);
    c->format[f.len] = '\0';
    *total = sum;
    return NULL;
}

/* How much of a field a message quotes. */
#define QUOTE_BYTES_MAX 40

static int quote_len(struct ortak_slice s) { return (int)(s.len < QUOTE_BYTES_MAX ? s.len : QUOTE_BYTES_MAX); }

static ortak_rc read_row(struct ortak__iban_registry *reg, const struct columns *col, const char *path, uint32_t ln,
                         struct ortak_slice line, char *why, size_t why_len) {
    struct ortak_slice field[REGISTRY_COLUMNS_MAX];
    size_t n = split(line, field);
    if (n != col->count) {
        ortak__iso_say(why, why_len, "IBAN registry %s line %u: %s%zu fields, the header names %zu", path, ln,
                       n > REGISTRY_COLUMNS_MAX ? "more than " : "",
                       n > REGISTRY_COLUMNS_MAX ? REGISTRY_COLUMNS_MAX : n, col->count);
        return ORTAK_CONFIG_INVALID;
    }
    struct ortak_slice cc = field[col->country], len_text = field[col->length], format = field[col->format];
    if (cc.len != 2 || !is_upper(cc.ptr[0]) || !is_upper(cc.ptr[1])) {
        ortak__iso_say(why, why_len, "IBAN registry %s line %u: country_code \"%.*s\" is not two uppercase letters",
                       path, ln, quote_len(cc), cc.ptr);
        return ORTAK_CONFIG_INVALID;
    }
    struct iban_country *c = &reg->country[country_index(cc.ptr[0], cc.ptr[1])];
    if (c->len != 0) {
        ortak__iso_say(why, why_len, "IBAN registry %s line %u: country %.2s is given twice", path, ln, cc.ptr);
        return ORTAK_CONFIG_INVALID;
    }
    uint64_t len;
    if (!ortak_slice_parse_u64(len_text, IBAN_LEN_MAX, &len) || len < IBAN_LEN_MIN) {
        ortak__iso_say(why, why_len,
                       "IBAN registry %s line %u: iban_length \"%.*s\" of %.2s is not a number from %u to %u", path, ln,
                       quote_len(len_text), len_text.ptr, cc.ptr, IBAN_LEN_MIN, IBAN_LEN_MAX);
        return ORTAK_CONFIG_INVALID;
    }
    unsigned total = 0;
    const char *wrong = parse_format(format, cc.ptr, c, &total);
    if (wrong) {
        memset(c, 0, sizeof *c);
        ortak__iso_say(why, why_len, "IBAN registry %s line %u: iban_format_swift \"%.*s\" of %.2s %s", path, ln,
                       quote_len(format), format.ptr, cc.ptr, wrong);
        return ORTAK_CONFIG_INVALID;
    }
    c->len = (uint8_t)len;
    if (total != len) { /* the length is the registry's plain statement; the structure cannot be trusted */
        ortak_log_debug("iso20022",
                        "IBAN registry %s line %u: %.2s's format %s describes %u characters, not %u: "
                        "its structure is not checked",
                        path, ln, cc.ptr, c->format, total, (unsigned)len);
        c->elements = 0;
    }
    reg->count++;
    return ORTAK_OK;
}

static ortak_rc parse_registry(const char *path, const char *text, size_t len, struct ortak__iban_registry *reg,
                               char *why, size_t why_len) {
    struct cursor cur = {text, text + len, 0};
    struct ortak_slice line;
    struct columns col = {0, 0, 0, 0};
    uint32_t rows = 0;
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) cur.p += 3; /* a UTF-8 byte order mark */
    if (!next_line(&cur, &line)) {
        ortak__iso_say(why, why_len, "IBAN registry %s: empty (no header line)", path);
        return ORTAK_CONFIG_INVALID;
    }
    do { /* each turn consumes a line: bounded by the file's size */
        if (line.len > REGISTRY_LINE_BYTES_MAX) {
            ortak__iso_say(why, why_len, "IBAN registry %s line %u: longer than %u bytes", path, cur.line,
                           REGISTRY_LINE_BYTES_MAX);
            return ORTAK_CONFIG_INVALID;
        }
        ortak_rc rc;
        if (cur.line == 1)
            rc = read_header(path, line, &col, why, why_len);
        else if (ortak_slice_trim(line).len == 0)
            rc = ORTAK_OK; /* blank lines are allowed */
        else if (++rows > REGISTRY_ROWS_MAX) {
            ortak__iso_say(why, why_len, "IBAN registry %s line %u: more than %u rows", path, cur.line,
                           REGISTRY_ROWS_MAX);
            rc = ORTAK_CONFIG_INVALID;
        } else
            rc = read_row(reg, &col, path, cur.line, line, why, why_len);
        if (rc != ORTAK_OK) return rc;
    } while (next_line(&cur, &line));
    if (reg->count == 0) {
        ortak__iso_say(why, why_len, "IBAN registry %s: no country rows", path);
        return ORTAK_CONFIG_INVALID;
    }
    return ORTAK_OK;
}

ortak_rc ortak__iban_registry_load(const char *path, struct ortak__iban_registry **out, char *why, size_t why_len) {
    ORTAK_ASSERT(path && out);
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    struct ortak__iban_registry *reg = NULL;
    ortak_rc rc = read_all(path, &text, &len, why, why_len);
    if (rc != ORTAK_OK) goto fail;
    reg = calloc(1, sizeof *reg);
    if (!reg) {
        rc = ORTAK_NOMEM;
        ortak__iso_say(why, why_len, "IBAN registry %s: out of memory", path);
        goto fail;
    }
    rc = parse_registry(path, text, len, reg, why, why_len);
    if (rc != ORTAK_OK) goto fail;
    ORTAK_ASSERT(reg->count > 0 && reg->count <= REGISTRY_ROWS_MAX);
    free(text);
    *out = reg;
    return ORTAK_OK;
fail:
    ORTAK_ASSERT(rc != ORTAK_OK);
    free(text);
    free(reg);
    return rc;
}

void ortak__iban_registry_free(struct ortak__iban_registry *reg) { free(reg); }

/* ---- IBAN check ----------------------------------------------------------------------------------------------- */

/* Whether every one of the `len` characters is an uppercase letter or a digit; if not, says which is not. */
static bool chars_ok(const char *iban, size_t len, char *why, size_t why_len) {
    for (size_t i = 0; i < len; i++) {
        char c = iban[i], shown[12];
        if (is_alnum(c)) continue;
        if (c >= 'a' && c <= 'z')
            ortak__iso_say(why, why_len, "character %zu ('%c') is a lowercase letter: IBANs are written in uppercase",
                           i + 1, c);
        else if (c == ' ')
            ortak__iso_say(why, why_len,
                           "character %zu is a space: give the IBAN in its electronic form, without spaces", i + 1);
        else
            ortak__iso_say(why, why_len, "character %zu (%s) is not a letter or a digit", i + 1, show_char(c, shown));
        return false;
    }
    return true;
}

/*
 * ISO 7064 MOD 97-10 of the IBAN with its first four characters moved to the end and letters read as 10 to 35:
 * the remainder, 1 for a valid IBAN. Digit by digit, so the remainder stays below 97 and nothing overflows.
 */
static unsigned mod97(const char *iban, size_t len) {
    unsigned r = 0;
    for (size_t k = 0; k < len; k++) {
        char c = iban[(k + 4) % len];
        if (is_digit(c))
            r = (r * 10 + (unsigned)(c - '0')) % 97;
        else
            r = (r * 100 + (unsigned)(c - 'A') + 10) % 97;
    }
    return r;
}

static bool class_has(char cls, char c) {
    switch (cls) {
    case 'n': return is_digit(c);
    case 'a': return is_upper(c);
    case 'c': return is_alnum(c);
    default: ORTAK_UNREACHABLE();
    }
}

static const char *class_name(char cls) {
    switch (cls) {
    case 'n': return "a digit";
    case 'a': return "an uppercase letter";
    case 'c': return "a letter or a digit";
    default: ORTAK_UNREACHABLE();
    }
}

/* The country's length and, when the registry gives it, structure. */
static ortak_rc check_country(const struct iban_country *c, const char *iban, size_t len, char *why, size_t why_len) {
    ORTAK_ASSERT(c->len >= IBAN_LEN_MIN && c->len <= IBAN_LEN_MAX);
    if (len != c->len) {
        ortak__iso_say(why, why_len, "%.2s IBANs have %u characters, this one has %zu", iban, (unsigned)c->len, len);
        return ORTAK_IBAN_INVALID;
    }
    size_t pos = 4;
    for (size_t e = 0; e < c->elements; e++) {
        for (size_t j = 0; j < c->element[e].len; j++, pos++) {
            ORTAK_ASSERT(pos < len);
            if (class_has(c->element[e].cls, iban[pos])) continue;
            char shown[12];
            ortak__iso_say(why, why_len, "character %zu (%s) must be %s: %.2s IBANs are %s", pos + 1,
                           show_char(iban[pos], shown), class_name(c->element[e].cls), iban, c->format);
            return ORTAK_IBAN_INVALID;
        }
    }
    ORTAK_ASSERT(c->elements == 0 || pos == len);
    return ORTAK_OK;
}

ortak_rc ortak_iso_iban_check(const struct ortak_iso *iso, const char *iban, char *why, size_t why_len) {
    ORTAK_ASSERT(iban);
    ortak__iso_say(why, why_len, "%s", "");
    size_t len = strnlen(iban, IBAN_LEN_MAX + 1);
    if (!chars_ok(iban, len, why, why_len)) return ORTAK_IBAN_INVALID;
    if (len > IBAN_LEN_MAX) {
        ortak__iso_say(why, why_len, "longer than %u characters", IBAN_LEN_MAX);
        return ORTAK_IBAN_INVALID;
    }
    if (len < IBAN_LEN_MIN) {
        ortak__iso_say(why, why_len, "%zu characters: an IBAN has at least %u", len, IBAN_LEN_MIN);
        return ORTAK_IBAN_INVALID;
    }
    if (!is_upper(iban[0]) || !is_upper(iban[1])) {
        ortak__iso_say(why, why_len, "does not begin with a two-letter country code");
        return ORTAK_IBAN_INVALID;
    }
    if (!is_digit(iban[2]) || !is_digit(iban[3])) {
        ortak__iso_say(why, why_len, "characters 3 and 4 (%.2s) are not two check digits", iban + 2);
        return ORTAK_IBAN_INVALID;
    }
    unsigned check = (unsigned)(iban[2] - '0') * 10 + (unsigned)(iban[3] - '0');
    if (check < 2 || check > 98) {
        ortak__iso_say(why, why_len, "check digits %.2s are never valid (they are 02 to 98)", iban + 2);
        return ORTAK_IBAN_INVALID;
    }
    if (mod97(iban, len) != 1) {
        ortak__iso_say(why, why_len, "check digits %.2s do not match the rest (ISO 7064 MOD 97-10)", iban + 2);
        return ORTAK_IBAN_INVALID;
    }
    const struct ortak__iban_registry *reg = iso ? iso->iban : NULL;
    if (reg) {
        const struct iban_country *c = &reg->country[country_index(iban[0], iban[1])];
        if (c->len == 0) {
            ortak__iso_say(why, why_len, "country %.2s does not use IBAN (it is not in the IBAN registry)", iban);
            return ORTAK_IBAN_INVALID;
        }
        return check_country(c, iban, len, why, why_len);
    }
    unsigned want = builtin_length(iban);
    if (want != 0 && want != len) {
        ortak__iso_say(why, why_len, "%.2s IBANs have %u characters, this one has %zu", iban, want, len);
        return ORTAK_IBAN_INVALID;
    }
    return ORTAK_OK; /* a country the built-in table does not know: its check digits are all that is known */
}

/* ---- domestic account identifiers ----------------------------------------------------------------------------- */

/* Digits 6 to 8 of a UZ or TM account: 000 or an active ISO 4217 numeric code. */
static ortak_rc check_currency_digits(const char *country, const char *account, char *why, size_t why_len) {
    unsigned code =
        (unsigned)(account[5] - '0') * 100 + (unsigned)(account[6] - '0') * 10 + (unsigned)(account[7] - '0');
    if (code == 0 || ortak__iso_currency_numeric_known(code)) return ORTAK_OK;
    ortak__iso_say(why, why_len,
                   "%s account: digits 6 to 8 (%.3s) are neither 000 nor the ISO 4217 numeric code of a currency",
                   country, account + 5);
    return ORTAK_ACCOUNT_ID_INVALID;
}

ortak_rc ortak_iso_domestic_account_check(const char *country, const char *account, char *why, size_t why_len) {
    ORTAK_ASSERT(country && account);
    ortak__iso_say(why, why_len, "%s", "");
    size_t want;
    if (strcmp(country, "KG") == 0)
        want = 16;
    else if (strcmp(country, "UZ") == 0 || strcmp(country, "TM") == 0)
        want = 20;
    else {
        bool code = is_upper(country[0]) && is_upper(country[1]) && country[2] == '\0';
        ortak__iso_say(why, why_len, "no domestic account format is known for %s%s (only KG, UZ and TM)",
                       code ? "country " : "a country code that is not two uppercase letters", code ? country : "");
        return ORTAK_ACCOUNT_ID_INVALID;
    }
    size_t len = strnlen(account, want + 1);
    for (size_t i = 0; i < len; i++) {
        char shown[12];
        if (is_digit(account[i])) continue;
        ortak__iso_say(why, why_len, "%s account: character %zu (%s) is not a digit", country, i + 1,
                       show_char(account[i], shown));
        return ORTAK_ACCOUNT_ID_INVALID;
    }
    if (len != want) {
        ortak__iso_say(why, why_len, "%s accounts have %zu digits, this one has %s%zu", country, want,
                       len > want ? "more than " : "", len > want ? want : len);
        return ORTAK_ACCOUNT_ID_INVALID;
    }
    if (want == 16) {
        if (memcmp(account, "000", 3) != 0) return ORTAK_OK;
        ortak__iso_say(why, why_len, "KG account: the bank code (digits 1 to 3) is 000");
        return ORTAK_ACCOUNT_ID_INVALID;
    }
    return check_currency_digits(country, account, why, why_len);
}
