/*
 * Name normalisation for screening: UTF-8 in, tokens with phonetic keys out.
 *
 * Steps (docs/screening.md): (1) to lower-case ASCII Latin through one ICU transliterator built from ortak's rules
 * (NFKC; Turkic folding of I, İ and ı to i; lower case; the region's Cyrillic letters; ICU's Any-Latin for every
 * other script; Latin letters with a digraph reading; Latin-ASCII; marks removed); (2) tokens: runs of letters and
 * digits, apostrophes dropped inside a token; (3) honorifics and company-form words removed when something else
 * remains; (4) a phonetic key per token.
 *
 * ICU is the reference. The fast path gives the same result without calling ICU per name: pure ASCII needs only
 * lower-casing, and any other code point below SCREEN_CACHE_CPS is transliterated once, alone, and cached in the
 * screener. The rules are context-free so that a character's transliteration does not depend on its neighbours;
 * the tests check that both paths agree on every name of the lists, the CLDR pairs and the region's names. A code
 * point above the cache, or one whose transliteration does not fit a slot, sends the whole name through ICU.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/uchar.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>
#include <unicode/utrans.h>

#include "screen_int.h"

/* ICU transform rules (ICU's rule syntax). The Cyrillic letters follow the BGN/PCGN romanisations of the region's
 * languages where they agree, so that a Cyrillic name and its usual Latin spelling meet in the phonetic key. */
static const char rules_utf8[] =
    "::NFKC;\n"
    /* Turkic-aware folding before any lower-casing: dotted and dotless i are one letter for matching. */
    "\\u0130 > i; \\u0131 > i; I > i;\n"
    "::Lower;\n"
    "[\\u0027\\u0060\\u00B4\\u00B7\\u02B9-\\u02BC\\u2018\\u2019] > ;\n"
    /* Russian and the letters shared by the region's Cyrillic alphabets. */
    "\\u0436 > zh; \\u0439 > y; \\u0445 > kh; \\u0446 > ts; \\u0447 > ch; \\u0448 > sh; \\u0449 > shch;\n"
    "\\u044A > ; \\u044C > ; \\u044B > y; \\u044D > e; \\u044E > yu; \\u044F > ya; \\u0451 > e; \\u0435 > e;\n"
    /* Kazakh, Kyrgyz, Uzbek, Turkmen, Azerbaijani, Tajik, Ukrainian letters. */
    "\\u04D9 > a; \\u0493 > gh; \\u049B > q; \\u04A3 > ng; \\u04E9 > o; \\u04B1 > u; \\u04AF > u; \\u04BB > h;\n"
    "\\u0456 > i; \\u04B3 > h; \\u045E > u; \\u04B7 > j; \\u04B9 > j; \\u0458 > y; \\u0491 > g; \\u0454 > ye;\n"
    "\\u0457 > yi; \\u04E3 > i; \\u04EF > u; \\u0495 > gh; \\u049F > q; \\u04A5 > ng; \\u04BD > ch; \\u049D > g;\n"
    "::Any-Latin;\n"
    /* Latin letters whose usual ASCII spelling is a digraph. */
    "\\u0259 > a; \\u01DD > a; \\u015F > sh; \\u0219 > sh; \\u00E7 > ch; \\u011F > gh; \\u0161 > sh; \\u017E > zh;\n"
    "\\u010D > ch; \\u015D > shch; \\u00E4 > a; \\u00F1 > n; \\u0148 > n; \\u00FD > y; \\u012D > y;\n"
    "\\u012B\\u0306 > y; i\\u0306 > y;\n"
    "::Latin-ASCII;\n"
    "::NFD;\n"
    "::[:Nonspacing Mark:] Remove;\n"
    "::Lower;\n"
    "[\\u0027\\u0060] > ;\n";

static const char *const honorifics[] = {
    "mr",     "mrs",    "ms",     "miss",    "mister",  "dr",      "doctor",   "prof",     "professor", "haji",
    "hajji",  "hadji",  "haj",    "hajj",    "alhaj",   "alhaji",  "sheikh",   "shaikh",   "sheik",     "shaykh",
    "shaik",  "mullah", "mulla",  "mullo",   "maulana", "mawlana", "maulvi",   "mawlawi",  "sir",       "madam",
    "madame", "mme",    "mlle",   "herr",    "frau",    "bey",     "bay",      "bayan",    "sayin",     "hanim",
    "khanum", "xanim",  "efendi", "effendi", "ustaz",   "ustad",   "gospodin", "gospozha", "janob",     "hazrat",
};

static const char *const company_forms[] = {
    "llc",  "ltd",  "limited", "inc",   "incorporated", "corp", "corporation", "co",   "company", "plc",   "llp",
    "lp",   "gmbh", "ag",      "sa",    "sas",          "sarl", "bv",          "nv",   "jsc",     "ojsc",  "cjsc",
    "pjsc", "oao",  "zao",     "pao",   "ooo",          "ao",   "too",         "tov",  "mchj",    "mchzh", "xk",
    "qk",   "aj",   "aq",      "zhshs", "mmc",          "asc",  "qsc",         "as",   "sti",     "kft",   "zrt",
    "nyrt", "bt",   "kg",      "ltda",  "spa",          "srl",  "ip",          "osoo", "aak",     "fe",
};

static bool in_list(const char *const *list, size_t n, const char *s, size_t len) {
    for (size_t i = 0; i < n; i++)
        if (list[i][0] == s[0] && strlen(list[i]) == len && memcmp(list[i], s, len) == 0) return true;
    return false;
}

static size_t token_key(const char *s, size_t n, char *out, size_t cap);

/* Words that mark the token before them as a father's name (Azerbaijani, Turkmen, Uzbek, Kazakh, Kyrgyz). */
static const char *const patronym_markers[] = {"oglu", "ogly", "ogli", "ugli", "ughli", "oghlu", "uly", "uli",
                                               "uulu", "kyzy", "kizi", "qizi", "gizi",  "qyzy",  "gyzy"};

static bool ends_with(const char *s, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    return n > k + 2 && memcmp(s + n - k, suffix, k) == 0;
}

/* A patronymic in one word: Russian-style (Khamatovich, Abishevna) or with a Turkic suffix (Abishuly, Abishkyzy). */
static bool patronymic(const char *s, size_t n) {
    static const char *const suffixes[] = {"ovich", "evich", "ovna", "evna", "ichna", "ovic", "evic", "uly",
                                           "ulu",   "kyzy",  "qizi", "ogly", "oglu",  "ugli", "ogli"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
        if (ends_with(s, n, suffixes[i])) return true;
    return false;
}

ortak_rc ortak_screener_open(const char *translit_dir, struct ortak_screener **out, char *err, size_t err_cap) {
    (void)translit_dir; /* ortak's rules and ICU's built-ins; the directory serves the tests (translit status) */
    if (!out) return ORTAK_INVALID;
    *out = NULL;
    struct ortak_screener *t = calloc(1, sizeof *t);
    if (!t) return ORTAK_NOMEM;
    for (uint32_t i = 0; i < SCREEN_CACHE_CPS; i++) t->cache[i].len = SCREEN_CP_UNKNOWN;
    UChar rules[sizeof rules_utf8];
    int32_t rules_len = 0;
    UErrorCode st = U_ZERO_ERROR;
    u_strFromUTF8(rules, (int32_t)(sizeof rules / sizeof rules[0]), &rules_len, rules_utf8, -1, &st);
    UParseError pe;
    memset(&pe, 0, sizeof pe);
    if (U_SUCCESS(st)) {
        UChar id[] = {'o', 'r', 't', 'a', 'k', '-', 'S', 'c', 'r', 'e', 'e', 'n', 0};
        t->tr = utrans_openU(id, -1, UTRANS_FORWARD, rules, rules_len, &pe, &st);
    }
    if (U_FAILURE(st) || !t->tr) {
        if (err && err_cap) snprintf(err, err_cap, "ICU transliterator: %s (rule line %d)", u_errorName(st), pe.line);
        free(t);
        return ORTAK_INVALID;
    }
    for (size_t i = 0; i < sizeof company_forms / sizeof company_forms[0] && t->nforms < 16; i++) {
        size_t n = strlen(company_forms[i]);
        if (n < 6) continue;
        size_t kl = token_key(company_forms[i], n, t->form_key[t->nforms], sizeof t->form_key[0]);
        t->form_len[t->nforms++] = (uint8_t)kl;
    }
    *out = t;
    return ORTAK_OK;
}

void ortak_screener_close(struct ortak_screener *t) {
    if (!t) return;
    if (t->tr) utrans_close((UTransliterator *)t->tr);
    free(t->stamp);
    free(t->found);
    free(t->touched);
    free(t);
}

/* The whole name through ICU. Returns the bytes written to out (NUL-terminated), or SIZE_MAX on an ICU failure. */
static size_t icu_latin(struct ortak_screener *t, const char *utf8, size_t len, char *out, size_t cap) {
    UErrorCode st = U_ZERO_ERROR;
    int32_t ulen = 0;
    const int32_t ucap = (int32_t)(sizeof t->ubuf / sizeof t->ubuf[0]);
    if (len > ORTAK_SCREEN_NAME_BYTES_LIMIT) len = ORTAK_SCREEN_NAME_BYTES_LIMIT;
    out[0] = '\0';
    u_strFromUTF8WithSub(t->ubuf, ucap / 4, &ulen, utf8, (int32_t)len, 0xfffd, NULL, &st);
    if (U_FAILURE(st)) return SIZE_MAX;
    int32_t limit = ulen;
    utrans_transUChars((UTransliterator *)t->tr, t->ubuf, &ulen, ucap, 0, &limit, &st);
    if (U_FAILURE(st)) return SIZE_MAX;
    int32_t blen = 0;
    u_strToUTF8WithSub(out, (int32_t)cap - 1, &blen, t->ubuf, ulen, '?', NULL, &st);
    if (U_FAILURE(st) || st == U_STRING_NOT_TERMINATED_WARNING) return SIZE_MAX;
    out[blen] = '\0';
    return (size_t)blen;
}

/* The cached transliteration of one code point below SCREEN_CACHE_CPS, computed by ICU on first use. */
static const struct screen_cp *cp_latin(struct ortak_screener *t, UChar32 cp) {
    struct screen_cp *c = &t->cache[cp];
    if (c->len != SCREEN_CP_UNKNOWN) return c;
    char in[8], outb[64];
    int32_t n = 0;
    UBool bad = 0;
    U8_APPEND((uint8_t *)in, n, (int32_t)sizeof in, cp, bad);
    c->len = SCREEN_CP_ICU;
    /* A combining mark changes the letter before it (NFKC composes them): such names go through ICU whole. */
    int8_t type = u_charType(cp);
    if (type == U_NON_SPACING_MARK || type == U_COMBINING_SPACING_MARK || type == U_ENCLOSING_MARK) return c;
    size_t m = bad ? SIZE_MAX : icu_latin(t, in, (size_t)n, outb, sizeof outb);
    if (m == SIZE_MAX || m > sizeof c->s) return c;
    for (size_t i = 0; i < m; i++)
        if ((unsigned char)outb[i] >= 0x80) return c;
    memcpy(c->s, outb, m);
    c->len = (uint8_t)m;
    return c;
}

/* The fast path. Returns the length written, or SIZE_MAX when the name needs ICU. */
static size_t fast_latin(struct ortak_screener *t, const char *utf8, size_t len, char *out, size_t cap) {
    size_t o = 0;
    int32_t i = 0, n = (int32_t)len;
    while (i < n) {
        UChar32 cp;
        U8_NEXT((const uint8_t *)utf8, i, n, cp);
        if (cp < 0) cp = 0xfffd;
        if (cp < 0x80) {
            if (cp == '\'' || cp == '`') continue;
            if (o + 1 >= cap) break;
            out[o++] = (char)(cp >= 'A' && cp <= 'Z' ? cp + ('a' - 'A') : cp);
            continue;
        }
        if ((uint32_t)cp >= SCREEN_CACHE_CPS) return SIZE_MAX;
        const struct screen_cp *c = cp_latin(t, cp);
        if (c->len == SCREEN_CP_ICU) return SIZE_MAX;
        if (o + c->len >= cap) break;
        memcpy(out + o, c->s, c->len);
        o += c->len;
    }
    out[o] = '\0';
    return o;
}

static size_t to_latin(struct ortak_screener *t, const char *utf8, size_t len, bool icu_only, char *out, size_t cap) {
    if (len > ORTAK_SCREEN_NAME_BYTES_LIMIT) len = ORTAK_SCREEN_NAME_BYTES_LIMIT;
    bool ascii = true;
    for (size_t i = 0; i < len && ascii; i++) ascii = (unsigned char)utf8[i] < 0x80;
    if (!icu_only || ascii) {
        size_t o = fast_latin(t, utf8, len, out, cap);
        if (o != SIZE_MAX) return o;
    }
    size_t o = icu_latin(t, utf8, len, out, cap);
    if (o == SIZE_MAX) {
        out[0] = '\0';
        return 0;
    }
    return o;
}

static bool vowel(char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; }

/* Pass 1 of the key: digraphs and letters with variant spellings to one symbol each (upper case: a symbol that
 * stands for a sound spelt in several ways). 'y' before a vowel is a glide and dropped; other 'y' is 'i'. */
static size_t key_symbols(const char *s, size_t n, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap;) {
        const char *p = s + i;
        size_t left = n - i;
        char sym;
        size_t adv = 2;
        if (left >= 4 && memcmp(p, "shch", 4) == 0)
            sym = 'S', adv = 4;
        else if (left >= 3 && memcmp(p, "sch", 3) == 0)
            sym = 'S', adv = 3;
        else if (left >= 3 && memcmp(p, "dzh", 3) == 0)
            sym = 'J', adv = 3;
        else if (left >= 3 && memcmp(p, "tch", 3) == 0)
            sym = 'C', adv = 3;
        else if (left >= 2 && memcmp(p, "sh", 2) == 0)
            sym = 'S';
        else if (left >= 2 && memcmp(p, "ch", 2) == 0)
            sym = 'C';
        else if (left >= 2 && (memcmp(p, "zh", 2) == 0 || memcmp(p, "dj", 2) == 0))
            sym = 'J';
        else if (left >= 2 && memcmp(p, "kh", 2) == 0)
            sym = 'H';
        else if (left >= 2 && memcmp(p, "gh", 2) == 0)
            sym = 'K';
        else if (left >= 2 && memcmp(p, "ph", 2) == 0)
            sym = 'f';
        else if (left >= 2 && memcmp(p, "th", 2) == 0)
            sym = 't';
        else if (left >= 2 && (memcmp(p, "ts", 2) == 0 || memcmp(p, "tz", 2) == 0))
            sym = 'c';
        else if (left >= 2 && memcmp(p, "ck", 2) == 0)
            sym = 'K';
        else if (left >= 2 && memcmp(p, "ou", 2) == 0)
            sym = 'u';
        else {
            adv = 1;
            switch (*p) {
            case 'j': sym = 'J'; break;
            case 'h':
            case 'x': sym = 'H'; break;
            case 'g':
            case 'k':
            case 'q':
            case 'c': sym = 'K'; break;
            case 'w': sym = 'v'; break;
            case 'y':
                if (left >= 2 && p[1] == 'y') { /* "yy" is one y */
                    i++;
                    continue;
                }
                if (left >= 2 && vowel(p[1])) {
                    i++;
                    continue;
                }
                sym = 'i';
                break;
            default: sym = *p;
            }
        }
        out[o++] = sym;
        i += adv;
    }
    return o;
}

/* The phonetic key of one ASCII token. Returns its length (0..cap-1); out is NUL-terminated. */
static size_t token_key(const char *s, size_t n, char *out, size_t cap) {
    char sym[2 * SCREEN_KEY_BYTES_MAX + 2];
    size_t m = key_symbols(s, n, sym, sizeof sym);
    size_t o = 0;
    for (size_t i = 0; i < m && o + 1 < cap; i++) {
        if (o > 0 && out[o - 1] == sym[i]) continue; /* doubled letters */
        if (sym[i] == 'i' && o > 0 && vowel(out[o - 1]) && i + 1 < m && vowel(sym[i + 1])) continue; /* a glide */
        out[o++] = sym[i];
    }
    if (n >= 3 && memcmp(s + n - 2, "ff", 2) == 0 && o >= 2 && out[o - 1] == 'f' &&
        (out[o - 2] == 'o' || out[o - 2] == 'e'))
        out[o - 1] = 'v'; /* -off, -eff: the older French and German spelling of -ov, -ev */
    out[o] = '\0';
    return o;
}

static bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

void screen__tokens(struct ortak_screener *t, const char *utf8, size_t len, bool icu_only, struct screen_toks *out) {
    size_t n = to_latin(t, utf8, len, icu_only, t->latin, sizeof t->latin);
    const char *s = t->latin;
    struct {
        uint32_t off, len;
        uint8_t kind; /* 0 a name, 1 an honorific, 2 a company-form word, 3 a patronymic marker */
    } raw[ORTAK_SCREEN_TOKENS_LIMIT];
    uint32_t nraw = 0, names = 0, forms = 0;
    for (size_t i = 0; i < n && nraw < ORTAK_SCREEN_TOKENS_LIMIT;) {
        if (!is_alnum(s[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && is_alnum(s[j])) j++;
        raw[nraw].off = (uint32_t)i;
        raw[nraw].len = (uint32_t)(j - i);
        raw[nraw].kind = in_list(honorifics, sizeof honorifics / sizeof honorifics[0], s + i, j - i)            ? 1
                         : in_list(company_forms, sizeof company_forms / sizeof company_forms[0], s + i, j - i) ? 2
                                                                                                                : 0;
        if (raw[nraw].kind == 0 &&
            in_list(patronym_markers, sizeof patronym_markers / sizeof patronym_markers[0], s + i, j - i))
            raw[nraw].kind = 3;
        /* A.Ş. (a Turkish joint-stock company) comes out as "a" and "sh". */
        if (nraw > 0 && raw[nraw - 1].kind == 0 && raw[nraw - 1].len == 1 && s[raw[nraw - 1].off] == 'a' &&
            j - i == 2 && memcmp(s + i, "sh", 2) == 0) {
            raw[nraw - 1].kind = 2;
            raw[nraw].kind = 2;
            names--;
        }
        names += raw[nraw].kind == 0;
        forms += raw[nraw].kind == 2;
        nraw++;
        i = j;
    }
    out->n = 0;
    for (uint32_t k = 0; k < nraw; k++) {
        /* Honorifics go when anything else remains; company-form words stay as minor tokens beside a name. */
        if (raw[k].kind == 1 && names + forms > 0) continue;
        struct screen_tok *tk = &out->t[out->n];
        size_t kl = token_key(s + raw[k].off, raw[k].len, tk->key, sizeof tk->key);
        if (kl == 0) continue;
        tk->len = (uint8_t)kl;
        size_t rl = raw[k].len < SCREEN_KEY_BYTES_MAX ? raw[k].len : SCREEN_KEY_BYTES_MAX;
        memcpy(tk->raw, s + raw[k].off, rl);
        tk->raw[rl] = '\0';
        tk->rawlen = (uint8_t)rl;
        tk->first = s[raw[k].off];
        tk->kmask = screen__letters(tk->key, kl);
        tk->rmask = screen__letters(tk->raw, rl);
        tk->initial = raw[k].len == 1 && !(tk->first >= '0' && tk->first <= '9');
        if (raw[k].kind == 0 && names > 1 && kl >= 6) /* a misspelt company-form word beside a name */
            for (uint32_t f = 0; f < t->nforms && raw[k].kind == 0; f++)
                if (screen__edits(tk->key, (uint32_t)kl, t->form_key[f], t->form_len[f], 1) <= 1) raw[k].kind = 2;
        tk->minor = (raw[k].kind == 2 || raw[k].kind == 3) && names > 0;
        tk->weight = tk->initial || tk->minor ? 1 : (uint8_t)(kl > 8 ? 8 : kl);
        bool father = k + 1 < nraw && raw[k + 1].kind == 3; /* the father's name before oglu, kyzy, ... */
        if (!tk->initial && !tk->minor && tk->weight > 2 && (father || patronymic(tk->raw, rl))) tk->weight = 2;
        out->n++;
    }
}

size_t ortak_screen_normalize(struct ortak_screener *t, const char *utf8, size_t len, int icu_only, char *out,
                              size_t cap) {
    struct screen_toks tk;
    if (!t || !out || cap == 0) return 0;
    screen__tokens(t, utf8 ? utf8 : "", utf8 ? len : 0, icu_only != 0, &tk);
    size_t o = 0;
    for (uint32_t i = 0; i < tk.n; i++) {
        if (o + tk.t[i].len + 2 > cap) break;
        if (o) out[o++] = ' ';
        memcpy(out + o, tk.t[i].key, tk.t[i].len);
        o += tk.t[i].len;
    }
    out[o] = '\0';
    return o;
}

size_t ortak_screen_latin(struct ortak_screener *t, const char *utf8, size_t len, char *out, size_t cap) {
    if (!t || !out || cap == 0) return 0;
    size_t n = to_latin(t, utf8 ? utf8 : "", utf8 ? len : 0, true, out, cap);
    return n;
}
