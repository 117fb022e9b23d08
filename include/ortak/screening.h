/*
 * Sanctions screening: load sanctions lists, normalise names across scripts, and match a name against the lists.
 *
 * Lists. A set is built from one or more list files whose format is recognised from their content: the UN Security
 * Council Consolidated List (XML, root element CONSOLIDATED_LIST), OFAC's SDN list (sdn.csv; the aliases in alt.csv
 * and the addresses in add.csv are read from beside it when present), and ortak's own CSV for a central bank's list
 * (header "entry_id,name,aliases,date_of_birth,nationality"; docs/screening.md). Every input is bounded (file size,
 * field lengths, entries, names) and checked; a bad file is refused with a message, never half loaded.
 *
 * Sets and threads. A struct ortak_screen_set holds the loaded lists and their index. It is immutable once
 * ortak_screen_set_load returns and may be read by any number of threads at once; a new set can be loaded while an
 * old one is in use, and the caller swaps the pointer (an operator's reload) and frees the old set once no thread
 * reads it. Each thread that screens owns a struct ortak_screener: the ICU transliterator, a per-code-point cache
 * and scratch memory. A screener may be used with any set, one call at a time.
 *
 * Normalisation (docs/screening.md): Unicode NFKC, Turkic-aware case folding (I, i, İ and ı all fold to i),
 * transliteration to Latin (ICU's built-in transliterators and ortak's rules for the region's Cyrillic letters),
 * removal of diacritics and punctuation, tokenisation, removal of honorifics and company-form words, then a
 * phonetic key per token that merges common spelling variants (kh/h/x, zh/j/dzh, y/i, w/v, doubled letters, ...).
 *
 * Scores are integers in 1/10000: 10000 is an exact match of every token, 0 nothing in common.
 */
#ifndef ORTAK_SCREENING_H
#define ORTAK_SCREENING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ortak/rc.h"

/* A score of 1.0. */
#define ORTAK_SCREEN_SCORE_MAX 10000u
/* The default threshold: a name whose best score against an entry reaches it is a hit (docs/screening.md says why
 * this value: recall and false positives measured on the UN list and the region's names). */
#define ORTAK_SCREEN_THRESHOLD_DEFAULT 8500u
/* List files in one set (an OFAC sdn.csv counts as one, with its alt.csv and add.csv). */
#define ORTAK_SCREEN_LISTS_LIMIT 16u
/* The largest list file read, in bytes. */
#define ORTAK_SCREEN_FILE_BYTES_LIMIT (64u * 1024u * 1024u)
/* Entries in one set, and names (primary names, aliases, original-script names) in one set. */
#define ORTAK_SCREEN_ENTRIES_LIMIT 200000u
#define ORTAK_SCREEN_NAMES_LIMIT 1000000u
/* The longest name read from a list or screened, in bytes of UTF-8; longer list names are refused, longer queries
 * are screened on their first ORTAK_SCREEN_NAME_BYTES_LIMIT bytes. */
#define ORTAK_SCREEN_NAME_BYTES_LIMIT 512u
/* Tokens of one name that take part in matching (more are ignored). */
#define ORTAK_SCREEN_TOKENS_LIMIT 16u
/* Hits one call reports at most (the caller's array may be smaller). */
#define ORTAK_SCREEN_HITS_LIMIT 64u

/* Loaded lists and their index; immutable after ortak_screen_set_load; shared across threads. */
struct ortak_screen_set;
/* One thread's screening state: ICU objects, caches, scratch. */
struct ortak_screener;

/* One hit: at most one per entry of a list. Strings are NUL-terminated UTF-8, cut on a character boundary. */
struct ortak_screen_hit {
    char list[8];      /* "UN", "OFAC", or the local list's name */
    char entry_id[24]; /* UN REFERENCE_NUMBER, OFAC entity number, or the local list's entry_id */
    char name[160];    /* the name that matched, as the list writes it */
    uint16_t score;    /* 0..ORTAK_SCREEN_SCORE_MAX */
};

/* What a set holds from one list file. */
struct ortak_screen_list_info {
    char list[8];            /* "UN", "OFAC", or the local list's name */
    char format[8];          /* "un-xml", "ofac", "csv" */
    char date_generated[32]; /* the UN list's dateGenerated, else "" */
    uint32_t entries;        /* entries (individuals, entities) */
    uint32_t names;          /* names indexed: primary, aliases, original script */
    uint64_t digest;         /* xxh3 of the file's bytes (and OFAC's alt.csv and add.csv) */
};

/*
 * Loads `n` list files (1..ORTAK_SCREEN_LISTS_LIMIT) into a new set and builds its index. `translit_dir` is the
 * directory of CLDR transliteration data or NULL (see ortak_screen_translit_status). On success *out owns the set
 * (free it with ortak_screen_set_free). Errors: ORTAK_INVALID (bad arguments), ORTAK_IO (a file cannot be read),
 * ORTAK_CORRUPT (a file is malformed, of unknown format or over a limit), ORTAK_NOMEM; `err` (may be NULL) then
 * says which file and why.
 */
ortak_rc ortak_screen_set_load(const char *const *paths, uint32_t n, const char *translit_dir,
                               struct ortak_screen_set **out, char *err, size_t err_cap);
/* The set's version: a 64-bit digest of every loaded file's bytes, in load order. Record it with each decision. */
uint64_t ortak_screen_set_version(const struct ortak_screen_set *s);
/* The number of list files loaded, and what each holds (i < count; NULL otherwise). */
uint32_t ortak_screen_set_list_count(const struct ortak_screen_set *s);
const struct ortak_screen_list_info *ortak_screen_set_list(const struct ortak_screen_set *s, uint32_t i);
/* Entries and names over every list of the set. */
uint32_t ortak_screen_set_entries(const struct ortak_screen_set *s);
uint32_t ortak_screen_set_names(const struct ortak_screen_set *s);
/* One entry of a set (i < ortak_screen_set_entries): strings owned by the set, "" when unknown. */
struct ortak_screen_entry_info {
    const char *list;          /* "UN", "OFAC", or the local list's name */
    const char *entry_id;      /* the list's own id */
    const char *name;          /* its primary name as listed ("" when it has none) */
    const char *date_of_birth; /* as the list writes it */
    const char *nationality;
};
/* Fills *out for entry i; returns false when i is out of range. */
bool ortak_screen_set_entry(const struct ortak_screen_set *s, uint32_t i, struct ortak_screen_entry_info *out);
/* Name i of the set (i < ortak_screen_set_names), in list order: primary names, aliases and original-script names
 * as listed; *entry is its entry's index. Returns NULL when i is out of range. */
const char *ortak_screen_set_name(const struct ortak_screen_set *s, uint32_t i, uint32_t *entry);
/* Frees the set (NULL is fine). No thread may still read it. */
void ortak_screen_set_free(struct ortak_screen_set *s);

/*
 * Opens one thread's screener. `translit_dir` as for ortak_screen_set_load. Errors: ORTAK_NOMEM, ORTAK_INVALID (ICU
 * could not build the transliterator; `err` says why). Close it with ortak_screener_close (NULL is fine).
 */
ortak_rc ortak_screener_open(const char *translit_dir, struct ortak_screener **out, char *err, size_t err_cap);
void ortak_screener_close(struct ortak_screener *t);

/*
 * Screens one name (UTF-8; invalid bytes are replaced, never refused) against the set. Writes the hits whose score
 * is at least `threshold`, best first (then in list order), at most one per entry, at most `max`; returns how many
 * were written. A name with no letters or digits has no hits. Never allocates once the screener has seen a set
 * of this size.
 */
uint32_t ortak_screen_name(struct ortak_screener *t, const struct ortak_screen_set *s, const char *utf8, size_t len,
                           uint16_t threshold, struct ortak_screen_hit *hits, uint32_t max);

/*
 * The normalised form of a name: its tokens' phonetic keys separated by single spaces, in the name's order, after
 * honorifics and company-form words are removed. Writes at most `cap` bytes including the NUL and returns the
 * length (0 when nothing remains). With `icu_only`, every non-ASCII character goes through the ICU transliterator
 * (the reference); otherwise the fast path (ASCII directly, other code points from the per-code-point cache) is
 * used. Both give the same result; the tests check it.
 */
size_t ortak_screen_normalize(struct ortak_screener *t, const char *utf8, size_t len, int icu_only, char *out,
                              size_t cap);
/* The transliterated Latin text of a name before keys are made (lower case ASCII, tokens separated by spaces). */
size_t ortak_screen_latin(struct ortak_screener *t, const char *utf8, size_t len, char *out, size_t cap);

/* A human-readable line on how names are transliterated (the server prints it at start-up). Static storage. */
const char *ortak_screen_translit_status(const char *translit_dir);

/*
 * The default list files: the UN list and OFAC's sdn.csv of the shared reference data beside the source tree, those
 * that exist. Writes up to `max` paths (static storage) and returns how many.
 */
uint32_t ortak_screen_default_lists(const char **paths, uint32_t max);
/* The default CLDR transliteration directory beside the source tree, or NULL when there is none. */
const char *ortak_screen_default_translit_dir(void);

/* Formats a score as "0.9312" (four decimals, from the integer; no floating point). `out` holds at least 7 bytes. */
void ortak_screen_score_format(uint16_t score, char out[static 7]);

#endif
