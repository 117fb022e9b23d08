/*
 * Screening internals shared by the files of src/screening: the set's layout, the screener's scratch, and the
 * normaliser's token form.
 *
 * Invariants: a set's arrays are written only while it is built (ortak_screen_set_load) and read-only afterwards;
 * every name's tokens lie inside the token array, every token's key inside the key pool; every name refers to an
 * existing entry and every entry to an existing list.
 */
#ifndef ORTAK_SCREEN_INT_H
#define ORTAK_SCREEN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ortak/screening.h"

/* The longest key of one token (longer tokens are cut). */
#define SCREEN_KEY_BYTES_MAX 31u
/* Transliterated text of one name. */
#define SCREEN_LATIN_BYTES_MAX (ORTAK_SCREEN_NAME_BYTES_LIMIT * 4u)

_Static_assert(ORTAK_SCREEN_TOKENS_LIMIT <= 31u, "token sets are 32-bit masks; a name's stamp spacing is 32");
_Static_assert(SCREEN_KEY_BYTES_MAX < 255u, "token lengths are 8-bit");
_Static_assert(ORTAK_SCREEN_TOKENS_LIMIT * 8u < 256u && ORTAK_SCREEN_TOKENS_LIMIT * 256u + 255u <= UINT16_MAX,
               "per-name found tokens are 16-bit: 256 * count + weight");
_Static_assert(ORTAK_SCREEN_HITS_LIMIT <= 256u, "hits are chosen among at most 256 candidates");

/* One token of a normalised name. */
struct screen_tok {
    char key[SCREEN_KEY_BYTES_MAX + 1]; /* phonetic key */
    char raw[SCREEN_KEY_BYTES_MAX + 1]; /* the token as transliterated (typos are one edit here) */
    uint8_t len;                        /* key length, 1..SCREEN_KEY_BYTES_MAX */
    uint8_t rawlen;
    uint8_t initial;       /* the token is one letter (an initial) */
    uint8_t minor;         /* a company-form word (LLC, TOO, ...) or a patronymic marker (oglu, kyzy): not indexed */
    uint8_t weight;        /* in the score: key length up to 8; 2 for a patronymic; 1 for initials and minor words */
    char first;            /* the first letter of the token as transliterated (initials match on it) */
    uint32_t kmask, rmask; /* letters of the key and of the raw token, as bits: a filter before edit distances */
};

struct screen_toks {
    struct screen_tok t[ORTAK_SCREEN_TOKENS_LIMIT];
    uint32_t n;
};

/* The kinds of a listed name: a match with a weak alias counts 0.9 times. */
enum screen_name_kind { SCREEN_NAME_PRIMARY = 0, SCREEN_NAME_ALIAS = 1, SCREEN_NAME_WEAK_ALIAS = 2 };

struct screen_entry {
    uint32_t list;        /* index into lists */
    uint32_t display;     /* offset of the primary name (NUL-terminated) in text */
    char id[24];          /* the list's own id */
    char dob[24];         /* "" when unknown */
    char nationality[48]; /* "" when unknown */
};

struct screen_name {
    uint32_t entry;   /* index into entries */
    uint32_t display; /* offset of the name as listed in text */
    uint32_t tok;     /* first token in toks */
    uint8_t ntok;     /* 1..ORTAK_SCREEN_TOKENS_LIMIT */
    uint8_t kind;     /* enum screen_name_kind */
    uint16_t weight;  /* sum of the tokens' weights */
};

struct screen_ntok {
    uint32_t key; /* offset of the key in keys (NUL-terminated) */
    uint32_t raw; /* offset of the transliterated token in keys */
    uint8_t len, rawlen;
    uint8_t initial;
    uint8_t minor;
    uint8_t weight;
    char first;
    uint32_t kmask, rmask;
};

/* One slot of the open-addressing index: a key hash and its run of name ids in post. */
struct screen_slot {
    uint64_t hash; /* 0: empty */
    uint32_t start;
    uint32_t count;
};

struct ortak_screen_set {
    struct ortak_screen_list_info lists[ORTAK_SCREEN_LISTS_LIMIT];
    uint32_t nlists;
    uint64_t version;
    struct screen_entry *entries;
    uint32_t nentries, entries_cap;
    struct screen_name *names;
    uint32_t nnames, names_cap;
    struct screen_ntok *toks;
    uint32_t ntoks, toks_cap;
    char *text; /* display strings */
    size_t text_len, text_cap;
    char *keys; /* token keys */
    size_t keys_len, keys_cap;
    struct screen_slot *slots; /* index: 2^k slots */
    uint32_t slots_mask;
    uint32_t *post; /* name ids, grouped by key hash */
    uint32_t npost;
};

/* Code points below this have a slot in the screener's cache of single-character transliterations. */
#define SCREEN_CACHE_CPS 0x3000u
/* A cached transliteration: up to 7 bytes of ASCII; len 0xff: not computed yet; 0xfe: use ICU for the name. */
struct screen_cp {
    char s[7];
    uint8_t len;
};
#define SCREEN_CP_UNKNOWN 0xffu
#define SCREEN_CP_ICU 0xfeu

struct ortak_screener {
    void *tr; /* UTransliterator * */
    struct screen_cp cache[SCREEN_CACHE_CPS];
    uint16_t ubuf[SCREEN_LATIN_BYTES_MAX]; /* UTF-16 for ICU */
    char latin[SCREEN_LATIN_BYTES_MAX];
    /* Matching scratch, sized for the largest set seen: per name, the query token stamp and the weight found. */
    uint32_t *stamp;   /* epoch * 32 + last token counted, per name */
    uint16_t *found;   /* query tokens that reached the name through the index: 256 * count + weight */
    uint32_t *touched; /* names touched in this call */
    uint32_t ntouched, cap;
    uint32_t epoch;
    /* Keys of the longer company-form words, to recognise them misspelt (COMPANI, CORPOSATION). */
    char form_key[16][SCREEN_KEY_BYTES_MAX + 1];
    uint8_t form_len[16];
    uint32_t nforms;
};

/* ---- normalise.c ---------------------------------------------------------------------------------------------- */

/* Normalises a name into tokens (keys). `icu_only` forces the ICU path for every non-ASCII character. */
void screen__tokens(struct ortak_screener *t, const char *utf8, size_t len, bool icu_only, struct screen_toks *out);
/* Whether a token takes part in the index (neither an initial nor a company-form word). */
static inline bool screen__tok_indexed(bool initial, bool minor) { return !initial && !minor; }

/* Levenshtein distance of two keys of at most SCREEN_KEY_BYTES_MAX bytes, or limit + 1 when it exceeds limit. */
uint32_t screen__edits(const char *a, uint32_t n, const char *b, uint32_t m, uint32_t limit);

/* The letters of a string as a bit set (bit c & 31): strings within d edits differ in at most 2d bits. */
static inline uint32_t screen__letters(const char *s, size_t n) {
    uint32_t m = 0;
    for (size_t i = 0; i < n; i++) m |= 1u << ((unsigned char)s[i] & 31u);
    return m;
}

/* ---- match.c -------------------------------------------------------------------------------------------------- */

/* The similarity of a query token and a name token of set s, in 1/10000 (0 when too far apart). */
uint32_t screen__tok_sim(const struct screen_tok *q, const struct ortak_screen_set *s, const struct screen_ntok *n);

/* ---- set.c (building; lists.c calls it) ----------------------------------------------------------------------- */

struct screen_build; /* set under construction + a screener to normalise names */
/* Adds an entry to list `list`; returns its index or UINT32_MAX with `err` set when a limit is reached. */
uint32_t screen__add_entry(struct screen_build *b, uint32_t list, const char *id, size_t id_len, char *err,
                           size_t err_cap);
/* Adds a name of an entry (UTF-8, as listed). Names that normalise to nothing are skipped. Returns false with
 * `err` set when a limit is reached or the name is too long. */
bool screen__add_name(struct screen_build *b, uint32_t entry, const char *utf8, size_t len, enum screen_name_kind kind,
                      char *err, size_t err_cap);
/* Sets an entry's date of birth or nationality when it has none yet (cut to fit). */
void screen__entry_dob(struct screen_build *b, uint32_t entry, const char *s, size_t len);
void screen__entry_nationality(struct screen_build *b, uint32_t entry, const char *s, size_t len);
/* Whether the entry ids of list `list` are unique; if not, the first duplicate is copied to dup. */
bool screen__ids_unique(struct screen_build *b, uint32_t list, char *dup, size_t dup_cap);
struct ortak_screen_list_info *screen__list(struct screen_build *b, uint32_t list);

/* ---- lists.c -------------------------------------------------------------------------------------------------- */

/* Loads one list file (format from its content) as list `list` of the set under construction. */
ortak_rc screen__load_file(struct screen_build *b, uint32_t list, const char *path, uint64_t *digest, char *err,
                           size_t err_cap);
/* Reads a whole file of at most ORTAK_SCREEN_FILE_BYTES_LIMIT bytes; *out is malloc'd (free it), NUL-terminated. */
ortak_rc screen__read_file(const char *path, char **out, size_t *len, char *err, size_t err_cap);

/* Copies at most cap-1 bytes of UTF-8 into dst, cut on a character boundary, NUL-terminated. */
void screen__copy_utf8(char *dst, size_t cap, const char *src, size_t len);

#endif
