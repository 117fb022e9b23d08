/*
 * Screening: normalisation, list loading, matching (src/screening, docs/screening.md).
 *
 *   - the CLDR transliteration pairs of the region (az, kk, uz, ru): a Cyrillic word and its BGN Latin spelling
 *     give the same key, but for an exact, documented number of pairs per language;
 *   - the fast path (ASCII and the per-code-point cache) agrees with ICU on every list name, CLDR word and
 *     fixture name;
 *   - every primary name of the UN list is found, its own entry first, in upper case, lower case, with its tokens
 *     reversed, and with one letter changed (exact, documented counts of the few that are not);
 *   - the UN entries with a Cyrillic original-script name are found from their Latin name in a list holding only
 *     the Cyrillic one, and the other way round;
 *   - Turkic case folding, honorifics, company forms, initials, OFAC and local CSV lists with their ids, bad files
 *     refused with a message, the version, swapping sets, several threads on one set;
 *   - the false-positive share of the region's ordinary names (tests/fixtures/screening/region_names.txt).
 *
 * Usage: test_screening PATH-TO-shared/data PATH-TO-region_names.txt
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ortak/screening.h"
#include "unit/test_cli.h"

/* Pairs of the CLDR test data whose two sides do not give the same key (docs/screening.md says why). */
#define CLDR_MISMATCH_AZ 36u
#define CLDR_MISMATCH_KK 0u
#define CLDR_MISMATCH_UZ 0u
#define CLDR_MISMATCH_RU 0u
/* UN primary names not found with their own entry first (docs/screening.md lists them). */
#define UN_MISS_UPPER 1u
#define UN_MISS_LOWER 1u
#define UN_MISS_REVERSED 1u
#define UN_MISS_CHANGED 5u
/* Cyrillic-Latin lookups of the UN's Cyrillic original-script names that miss: both ways of QDe.168, whose two
 * spellings differ in four tokens (Катиба ат-Таухид валь-Джихад, KHATIBA AL-TAWHID WAL-JIHAD (KTJ)). */
#define CROSS_SCRIPT_MISSES 2u
/* Region names with a hit at the default threshold: the documented bound, in names per 10000. */
#define FALSE_POSITIVE_MAX_PER_10000 50u

static const char *data_dir, *fixture_path;
static char tmp_dir[512];
static struct ortak_screen_set *un_set;
static struct ortak_screener *scr;

/* ---- helpers -------------------------------------------------------------------------------------------------- */

static void path_in(char *out, size_t cap, const char *dir, const char *rel) {
    assert_true((size_t)snprintf(out, cap, "%s/%s", dir, rel) < cap);
}

static void write_file(const char *name, const char *text, char *path, size_t cap) {
    path_in(path, cap, tmp_dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static struct ortak_screen_set *load_one(const char *path) {
    struct ortak_screen_set *s = NULL;
    char err[512];
    ortak_rc rc = ortak_screen_set_load(&path, 1, NULL, &s, err, sizeof err);
    if (rc != ORTAK_OK) fail_msg("%s does not load: %s", path, err);
    return s;
}

static void key(const char *name, char *out, size_t cap) {
    ortak_screen_normalize(scr, name, strlen(name), 0, out, cap);
}

static void assert_same_key(const char *a, const char *b) {
    char ka[512], kb[512];
    key(a, ka, sizeof ka);
    key(b, kb, sizeof kb);
    if (strcmp(ka, kb) != 0) fail_msg("'%s' -> '%s' but '%s' -> '%s'", a, ka, b, kb);
}

static uint32_t screen(const struct ortak_screen_set *s, const char *name, struct ortak_screen_hit *h, uint32_t max) {
    return ortak_screen_name(scr, s, name, strlen(name), ORTAK_SCREEN_THRESHOLD_DEFAULT, h, max);
}

/* Whether `name` has the entry `id` of list `list` as its first hit. */
static bool top_hit(const struct ortak_screen_set *s, const char *name, const char *list, const char *id) {
    struct ortak_screen_hit h[4];
    uint32_t n = screen(s, name, h, 4);
    return n > 0 && strcmp(h[0].list, list) == 0 && strcmp(h[0].entry_id, id) == 0;
}

/* ---- normalisation -------------------------------------------------------------------------------------------- */

static uint32_t cldr_mismatches(const char *file, uint32_t *pairs) {
    char path[1024];
    path_in(path, sizeof path, data_dir, file);
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot open %s", path);
    char line[1024];
    uint32_t bad = 0, shown = 0;
    *pairs = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *tab = strchr(line, '\t');
        if (line[0] == '#' || !tab) continue;
        *tab = '\0';
        char kc[512], kl[512], kc_icu[512], kl_icu[512];
        key(line, kc, sizeof kc);
        key(tab + 1, kl, sizeof kl);
        ortak_screen_normalize(scr, line, strlen(line), 1, kc_icu, sizeof kc_icu);
        ortak_screen_normalize(scr, tab + 1, strlen(tab + 1), 1, kl_icu, sizeof kl_icu);
        assert_string_equal(kc, kc_icu); /* the fast path agrees with ICU */
        assert_string_equal(kl, kl_icu);
        (*pairs)++;
        if (strcmp(kc, kl) == 0) continue;
        bad++;
        if (shown++ < 3) fprintf(stderr, "  %s: %s -> %s, %s -> %s\n", file, line, kc, tab + 1, kl);
    }
    fclose(f);
    return bad;
}

static void test_cldr_pairs(void **state) {
    (void)state;
    static const struct {
        const char *file;
        uint32_t expected;
    } langs[] = {
        {"translit/testData/az-t-az-cyrl-m0-bgn.txt", CLDR_MISMATCH_AZ},
        {"translit/testData/kk-Latn-t-kk-m0-bgn.txt", CLDR_MISMATCH_KK},
        {"translit/testData/uz-t-uz-Cyrl-m0-bgn.txt", CLDR_MISMATCH_UZ},
        {"translit/testData/ru-Latn-t-ru-m0-bgn.txt", CLDR_MISMATCH_RU},
    };
    for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++) {
        uint32_t pairs, bad = cldr_mismatches(langs[i].file, &pairs);
        fprintf(stderr, "cldr %s: %u of %u pairs give different keys\n", langs[i].file, bad, pairs);
        assert_true(pairs > 50);
        assert_int_equal(bad, langs[i].expected);
    }
}

static void test_fast_path_agrees(void **state) {
    (void)state;
    char a[512], b[512];
    uint32_t checked = 0;
    for (uint32_t i = 0; i < ortak_screen_set_names(un_set); i++) {
        const char *n = ortak_screen_set_name(un_set, i, NULL);
        ortak_screen_normalize(scr, n, strlen(n), 0, a, sizeof a);
        ortak_screen_normalize(scr, n, strlen(n), 1, b, sizeof b);
        if (strcmp(a, b) != 0) fail_msg("'%s': fast path '%s', ICU '%s'", n, a, b);
        checked++;
    }
    FILE *f = fopen(fixture_path, "r");
    assert_non_null(f);
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        ortak_screen_normalize(scr, line, strlen(line), 0, a, sizeof a);
        ortak_screen_normalize(scr, line, strlen(line), 1, b, sizeof b);
        if (strcmp(a, b) != 0) fail_msg("'%s': fast path '%s', ICU '%s'", line, a, b);
        checked++;
    }
    fclose(f);
    assert_true(checked > 5000);
}

static void test_turkic_folding(void **state) {
    (void)state;
    char k[256];
    key("İstanbul", k, sizeof k);
    assert_string_equal(k, "istanbul");
    assert_same_key("İstanbul", "ISTANBUL");
    assert_same_key("İstanbul", "istanbul");
    assert_same_key("İstanbul", "ıstanbul");
    assert_same_key("İSTANBUL", "Istanbul");
    assert_same_key("Aliyev", "ƏLİYEV");
    assert_same_key("Aliyev", "Алиев");
    assert_same_key("Əliyev", "Aliev");
    assert_same_key("Şükürov", "Shukurov");
    assert_same_key("Çağrı", "Chaghri");
    assert_same_key("Nazarbayev", "Назарбаев");
    assert_same_key("Nazarbaev", "NAZARBAYEV");
    assert_same_key("Жанар", "Zhanar");
    assert_same_key("Ivanoff", "Ivanov");
    assert_same_key("Khan", "Han");
    assert_same_key("Xəlilov", "Khalilov");
    assert_same_key("Dzhaksybekov", "Джаксыбеков");
    assert_same_key("Jaksybekov", "Zhaksybekov");
    assert_same_key("Қасымов", "Kasymov");
    assert_same_key("Ўзбекистон", "Uzbekiston");
    assert_same_key("Oʻzbekiston", "Ozbekiston");
}

static void test_honorifics_and_forms(void **state) {
    (void)state;
    assert_same_key("Mr. Eric Badege", "Eric Badege");
    assert_same_key("Dr Eric Badege", "ERIC BADEGE");
    assert_same_key("Sheikh Eric Badege", "Eric Badege");
    assert_same_key("Haji Eric Badege", "Eric Badege");
    char k[256];
    key("Mr", k, sizeof k); /* nothing else: kept */
    assert_string_equal(k, "mr");
    /* Company forms stay as minor tokens: the same name with another form still matches. */
    char path[1024];
    write_file("companies.csv",
               "# list: TEST\nentry_id,name,aliases,date_of_birth,nationality\n"
               "C-1,Altyn Dala LLP,,,KZ\nC-2,Samruk Trading Company,,,KZ\n",
               path, sizeof path);
    struct ortak_screen_set *s = load_one(path);
    assert_true(top_hit(s, "ТОО «Алтын Дала»", "TEST", "C-1"));
    assert_true(top_hit(s, "ALTYN DALA TOO", "TEST", "C-1"));
    assert_true(top_hit(s, "Altyn Dala", "TEST", "C-1"));
    assert_true(top_hit(s, "Samruk Trading Compani", "TEST", "C-2"));
    assert_true(top_hit(s, "Samruk Trading Co. Ltd.", "TEST", "C-2"));
    struct ortak_screen_hit h[4];
    assert_int_equal(screen(s, "Dala Trading LLP", h, 4), 0);
    ortak_screen_set_free(s);
}

static void test_initials_and_variants(void **state) {
    (void)state;
    char path[1024];
    write_file("people.csv",
               "# list: NBK\nentry_id,name,aliases,date_of_birth,nationality\n"
               "KZ-0001,Nazarbayev Nursultan Abishuly,Nursultan Nazarbaev;Назарбаев Нурсултан Әбішұлы,1940-07-06,"
               "Kazakhstan\n"
               "AZ-0002,Əliyev İlham Heydər oğlu,,1961-12-24,Azerbaijan\n"
               "KG-0003,Dzhaparov Sadyr Nurgozhoevich,,,Kyrgyzstan\n",
               path, sizeof path);
    struct ortak_screen_set *s = load_one(path);
    static const char *const kz[] = {"N.A. Nazarbayev",      "N. Nazarbayev",           "NAZARBAYEV N.A.",
                                     "Назарбаев Н.А.",       "Nazarbaev Nursultan",     "Nursultan Nazarbayev",
                                     "nazarbayev nursultan", "Nursultan A. Nazarbaeff", "Nazarbajev Nursultan",
                                     "Нурсултан Назарбаев",  "Mr Nursultan Nazarbayev", "NAZARBAYEV, Nursultan"};
    for (size_t i = 0; i < sizeof kz / sizeof kz[0]; i++)
        if (!top_hit(s, kz[i], "NBK", "KZ-0001")) fail_msg("%s is not found", kz[i]);
    static const char *const az[] = {"Ilham Aliyev", "ƏLİYEV İLHAM", "Алиев Ильхам", "ILHAM ALIEV", "I. Aliyev"};
    for (size_t i = 0; i < sizeof az / sizeof az[0]; i++)
        if (!top_hit(s, az[i], "NBK", "AZ-0002")) fail_msg("%s is not found", az[i]);
    static const char *const kg[] = {"Sadyr Japarov", "Жапаров Садыр", "Садыр Жапаров", "Sadyr Zhaparov"};
    for (size_t i = 0; i < sizeof kg / sizeof kg[0]; i++)
        if (!top_hit(s, kg[i], "NBK", "KG-0003")) fail_msg("%s is not found", kg[i]);
    struct ortak_screen_hit h[4];
    assert_int_equal(screen(s, "Nazarbayev", h, 4), 0); /* a surname alone is not the person */
    assert_int_equal(screen(s, "Nurlan Nazarbekov", h, 4), 0);
    assert_int_equal(screen(s, "Ilham Karimov", h, 4), 0);
    assert_int_equal(screen(s, "", h, 4), 0);
    assert_int_equal(screen(s, " .,-' ", h, 4), 0);
    assert_int_equal(screen(s, "\xff\xfe Nazarbayev \xc3", h, 4), 0); /* bad UTF-8 is replaced, not refused */
    struct ortak_screen_entry_info e;
    assert_true(ortak_screen_set_entry(s, 0, &e));
    assert_string_equal(e.list, "NBK");
    assert_string_equal(e.entry_id, "KZ-0001");
    assert_string_equal(e.name, "Nazarbayev Nursultan Abishuly");
    assert_string_equal(e.date_of_birth, "1940-07-06");
    assert_string_equal(e.nationality, "Kazakhstan");
    assert_false(ortak_screen_set_entry(s, 3, &e));
    const struct ortak_screen_list_info *li = ortak_screen_set_list(s, 0);
    assert_string_equal(li->list, "NBK");
    assert_string_equal(li->format, "csv");
    assert_int_equal(li->entries, 3);
    assert_int_equal(li->names, 5);
    ortak_screen_set_free(s);
}

/* ---- the UN list ---------------------------------------------------------------------------------------------- */

/* Variant `how` of a name: 0 upper case, 1 lower case (ASCII letters), 2 tokens reversed, 3 one letter changed (the
 * middle letter of the longest ASCII-letter token, to the next letter of the alphabet). */
static void variant(const char *name, uint32_t how, char *out, size_t cap) {
    snprintf(out, cap, "%s", name);
    size_t n = strlen(out);
    if (how == 0 || how == 1) {
        for (size_t i = 0; i < n; i++) {
            if (how == 0 && out[i] >= 'a' && out[i] <= 'z') out[i] = (char)(out[i] - 32);
            if (how == 1 && out[i] >= 'A' && out[i] <= 'Z') out[i] = (char)(out[i] + 32);
        }
    } else if (how == 2) {
        char tmp[1024], *tok[64];
        uint32_t k = 0;
        snprintf(tmp, sizeof tmp, "%s", name);
        for (char *p = strtok(tmp, " "); p && k < 64; p = strtok(NULL, " ")) tok[k++] = p;
        size_t o = 0;
        out[0] = '\0';
        for (uint32_t i = k; i-- > 0 && o < cap;) o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? " " : "", tok[i]);
    } else {
        size_t best = 0, best_len = 0;
        for (size_t i = 0; i < n;) {
            size_t j = i;
            while (j < n && ((out[j] >= 'a' && out[j] <= 'z') || (out[j] >= 'A' && out[j] <= 'Z'))) j++;
            if (j - i > best_len) best = i, best_len = j - i;
            i = j > i ? j : i + 1;
        }
        if (best_len == 0) return;
        char *c = &out[best + best_len / 2];
        *c = *c == 'z' ? 'a' : *c == 'Z' ? 'A' : (char)(*c + 1);
    }
}

static void test_un_primary_names(void **state) {
    (void)state;
    static const char *const what[] = {"upper case", "lower case", "tokens reversed", "one letter changed"};
    static const uint32_t expected[] = {UN_MISS_UPPER, UN_MISS_LOWER, UN_MISS_REVERSED, UN_MISS_CHANGED};
    uint32_t entries = ortak_screen_set_entries(un_set), tried = 0;
    assert_true(entries > 1000);
    for (uint32_t how = 0; how < 4; how++) {
        uint32_t missed = 0;
        tried = 0;
        for (uint32_t i = 0; i < entries; i++) {
            struct ortak_screen_entry_info e;
            assert_true(ortak_screen_set_entry(un_set, i, &e));
            if (!e.name[0]) continue;
            char q[1024];
            variant(e.name, how, q, sizeof q);
            tried++;
            if (top_hit(un_set, q, "UN", e.entry_id)) continue;
            missed++;
            struct ortak_screen_hit h[2];
            uint32_t n = screen(un_set, q, h, 2);
            fprintf(stderr, "  %s: %s (%s) -> %s %s\n", what[how], q, e.entry_id, n ? h[0].entry_id : "no hit",
                    n ? h[0].name : "");
        }
        fprintf(stderr, "UN primary names, %s: %u of %u not found first\n", what[how], missed, tried);
        assert_int_equal(missed, expected[how]);
    }
}

/* A name written in Cyrillic only (the UN's NAME_ORIGINAL_SCRIPT; aliases that mix scripts are not). */
static bool cyrillic_only(const char *s) {
    bool cyr = false;
    for (; *s; s++) {
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) return false;
        cyr |= (unsigned char)*s == 0xd0 || (unsigned char)*s == 0xd1;
    }
    return cyr;
}

static void append_csv(FILE *f, const char *id, const char *name) {
    fprintf(f, "%s,\"", id);
    for (const char *p = name; *p; p++) {
        if (*p == '"') fputc('"', f);
        fputc(*p, f);
    }
    fputs("\",,,\n", f);
}

/* The UN entries written in Cyrillic: each list holds one script only, the query is in the other. */
static void test_cross_script(void **state) {
    (void)state;
    char lat_path[1024], cyr_path[1024];
    path_in(lat_path, sizeof lat_path, tmp_dir, "latin.csv");
    path_in(cyr_path, sizeof cyr_path, tmp_dir, "cyrillic.csv");
    FILE *lat = fopen(lat_path, "w"), *cyr = fopen(cyr_path, "w");
    assert_non_null(lat);
    assert_non_null(cyr);
    fputs("# list: UN\nentry_id,name,aliases,date_of_birth,nationality\n", lat);
    fputs("# list: UN\nentry_id,name,aliases,date_of_birth,nationality\n", cyr);
    static char latin[32][600], cyrillic[32][600], ids[32][24];
    uint32_t n = 0;
    for (uint32_t i = 0; i < ortak_screen_set_names(un_set) && n < 32; i++) {
        uint32_t entry;
        const char *name = ortak_screen_set_name(un_set, i, &entry);
        if (!cyrillic_only(name)) continue;
        struct ortak_screen_entry_info e;
        assert_true(ortak_screen_set_entry(un_set, entry, &e));
        snprintf(latin[n], sizeof latin[n], "%s", e.name);
        snprintf(cyrillic[n], sizeof cyrillic[n], "%s", name);
        snprintf(ids[n], sizeof ids[n], "%.16s/%u", e.entry_id, n); /* an entry may have two Cyrillic names */
        append_csv(lat, ids[n], latin[n]);
        append_csv(cyr, ids[n], cyrillic[n]);
        n++;
    }
    assert_int_equal(fclose(lat), 0);
    assert_int_equal(fclose(cyr), 0);
    assert_int_equal(n, 11);
    struct ortak_screen_set *sl = load_one(lat_path), *sc = load_one(cyr_path);
    uint32_t missed = 0;
    for (uint32_t i = 0; i < n; i++) {
        bool a = top_hit(sl, cyrillic[i], "UN", ids[i]), b = top_hit(sc, latin[i], "UN", ids[i]);
        if (!a) fprintf(stderr, "  Cyrillic %s not found as %s (%s)\n", cyrillic[i], latin[i], ids[i]);
        if (!b) fprintf(stderr, "  Latin %s not found as %s (%s)\n", latin[i], cyrillic[i], ids[i]);
        missed += !a + !b;
    }
    fprintf(stderr, "cross-script: %u of %u lookups missed\n", missed, 2 * n);
    assert_int_equal(missed, CROSS_SCRIPT_MISSES);
    ortak_screen_set_free(sl);
    ortak_screen_set_free(sc);
}

static void test_false_positives(void **state) {
    (void)state;
    FILE *f = fopen(fixture_path, "r");
    assert_non_null(f);
    char line[512];
    uint32_t names = 0, hits = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#') continue;
        names++;
        struct ortak_screen_hit h[2];
        if (screen(un_set, line, h, 2) == 0) continue;
        hits++;
        fprintf(stderr, "  false positive: %s -> %s %s (%u)\n", line, h[0].entry_id, h[0].name, h[0].score);
    }
    fclose(f);
    fprintf(stderr, "false positives at the default threshold: %u of %u region names (%u.%02u %%)\n", hits, names,
            hits * 100 / names, hits * 10000 / names % 100);
    assert_true(names >= 1000);
    assert_true((uint64_t)hits * 10000 <= (uint64_t)FALSE_POSITIVE_MAX_PER_10000 * names);
}

/* ---- lists ---------------------------------------------------------------------------------------------------- */

static void test_ofac(void **state) {
    (void)state;
    char path[1024];
    path_in(path, sizeof path, data_dir, "sanctions/ofac/sdn.csv");
    struct ortak_screen_set *s = load_one(path);
    const struct ortak_screen_list_info *li = ortak_screen_set_list(s, 0);
    assert_string_equal(li->list, "OFAC");
    assert_string_equal(li->format, "ofac");
    assert_int_equal(li->entries, 17);
    assert_true(li->names > li->entries);
    assert_true(top_hit(s, "Elvis Angus Logan Morey", "OFAC", "10278"));
    assert_true(top_hit(s, "LOGAN MOREY, Elvis", "OFAC", "10278"));
    assert_true(top_hit(s, "Burton Burgess", "OFAC", "10278"));    /* a.k.a. in the remarks */
    assert_true(top_hit(s, "HESA Trade Center", "OFAC", "11195")); /* alt.csv */
    assert_true(top_hit(s, "Iran Aircraft Manufacturing Industries", "OFAC", "11195"));
    struct ortak_screen_entry_info e;
    assert_true(ortak_screen_set_entry(s, 0, &e));
    assert_string_equal(e.entry_id, "10278");
    assert_string_equal(e.date_of_birth, "28 Jul 1963");
    /* The UN list and OFAC together: hits carry their list. */
    const char *both[2];
    path_in((char *)(both[0] = malloc(1024)), 1024, data_dir, "sanctions/UN_consolidated.xml");
    both[1] = path;
    struct ortak_screen_set *s2;
    char err[512];
    assert_int_equal(ortak_screen_set_load(both, 2, NULL, &s2, err, sizeof err), ORTAK_OK);
    assert_int_equal(ortak_screen_set_list_count(s2), 2);
    assert_string_equal(ortak_screen_set_list(s2, 0)->list, "UN");
    assert_string_equal(ortak_screen_set_list(s2, 0)->date_generated, "2026-02-27T00:00:09.554Z");
    assert_true(top_hit(s2, "Elvis Logan Morey", "OFAC", "10278"));
    assert_true(top_hit(s2, "Eric Badege", "UN", "CDi.001"));
    assert_int_not_equal(ortak_screen_set_version(s2), ortak_screen_set_version(s));
    assert_int_not_equal(ortak_screen_set_version(s2), ortak_screen_set_version(un_set));
    free((char *)both[0]);
    ortak_screen_set_free(s2);
    ortak_screen_set_free(s);
}

static void expect_refused(const char *name, const char *text, ortak_rc rc, const char *why) {
    char path[1024], err[512];
    write_file(name, text, path, sizeof path);
    struct ortak_screen_set *s = (struct ortak_screen_set *)1;
    const char *p = path;
    assert_int_equal(ortak_screen_set_load(&p, 1, NULL, &s, err, sizeof err), rc);
    assert_null(s);
    if (!strstr(err, why)) fail_msg("%s: message '%s' does not say '%s'", name, err, why);
    assert_non_null(strstr(err, name)); /* the message names the file */
    unlink(path);
}

static void test_bad_files(void **state) {
    (void)state;
    static const char H[] = "entry_id,name,aliases,date_of_birth,nationality\n";
    char path[1024];
    path_in(path, sizeof path, data_dir, "sanctions/UN_consolidated.xml");
    size_t len;
    char *xml = tu_slurp(path, &len);
    xml[len / 2] = '\0'; /* truncated */
    expect_refused("truncated.xml", xml, ORTAK_CORRUPT, "not well-formed");
    free(xml);
    expect_refused("root.xml", "<?xml version=\"1.0\"?><OTHER_LIST/>", ORTAK_CORRUPT, "CONSOLIDATED_LIST");
    expect_refused("doctype.xml",
                   "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>"
                   "<CONSOLIDATED_LIST>&e;</CONSOLIDATED_LIST>",
                   ORTAK_CORRUPT, "DOCTYPE");
    expect_refused("empty-un.xml", "<CONSOLIDATED_LIST><INDIVIDUALS/></CONSOLIDATED_LIST>", ORTAK_CORRUPT,
                   "no INDIVIDUAL");
    expect_refused("empty.csv", "", ORTAK_CORRUPT, "unknown list format");
    expect_refused("other.csv", "a,b,c\n1,2,3\n", ORTAK_CORRUPT, "unknown list format");
    char text[8192];
    snprintf(text, sizeof text, "%sX-1,Some Name,,\n", H);
    expect_refused("columns.csv", text, ORTAK_CORRUPT, "expected 5 fields, found 4");
    snprintf(text, sizeof text, "%sX-1,Some Name,,,,extra\n", H);
    expect_refused("columns6.csv", text, ORTAK_CORRUPT, "expected 5 fields, found 6");
    snprintf(text, sizeof text, "entry_id,name,aliases\nX-1,Some Name,\n");
    expect_refused("header.csv", text, ORTAK_CORRUPT, "unknown list format");
    snprintf(text, sizeof text, "# list: NBK\nentry_id,name\n");
    expect_refused("header2.csv", text, ORTAK_CORRUPT, "the header must be");
    snprintf(text, sizeof text, "# list: way too long\n%s", H);
    expect_refused("listname.csv", text, ORTAK_CORRUPT, "list name");
    snprintf(text, sizeof text, "%sX-1,Some Name,,,\nX-1,Other Name,,,\n", H);
    expect_refused("dup.csv", text, ORTAK_CORRUPT, "appears twice");
    snprintf(text, sizeof text, "%s,No Id,,,\n", H);
    expect_refused("noid.csv", text, ORTAK_CORRUPT, "entry_id");
    snprintf(text, sizeof text, "%sX-1,\"Unclosed,,,\n", H);
    expect_refused("quote.csv", text, ORTAK_CORRUPT, "not closed");
    int o = snprintf(text, sizeof text, "%sX-1,", H);
    memset(text + o, 'A', 600);
    snprintf(text + o + 600, sizeof text - (size_t)o - 600, ",,,\n");
    expect_refused("longname.csv", text, ORTAK_CORRUPT, "longer than 512 bytes");
    char *huge = malloc(20000);
    assert_non_null(huge);
    o = snprintf(huge, 20000, "%sX-1,Name,,,", H);
    memset(huge + o, 'b', 9000);
    huge[o + 9000] = '\0';
    expect_refused("field.csv", huge, ORTAK_CORRUPT, "longer than 8192 bytes");
    free(huge);
    expect_refused("ofac.csv",
                   "10278,\"LOGAN MOREY, Elvis Angus\",\"individual\",\"SDNT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0-\n"
                   "10279,\"SHORT\",\"individual\",\"SDNT\"\n",
                   ORTAK_CORRUPT, "line 2: not an OFAC SDN record");
    /* Oversize: a sparse file one byte over the limit. */
    path_in(path, sizeof path, tmp_dir, "oversize.csv");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), (off_t)ORTAK_SCREEN_FILE_BYTES_LIMIT + 1), 0);
    fclose(f);
    char err[512];
    struct ortak_screen_set *s;
    const char *p = path;
    assert_int_equal(ortak_screen_set_load(&p, 1, NULL, &s, err, sizeof err), ORTAK_CORRUPT);
    assert_non_null(strstr(err, "larger than the limit"));
    unlink(path);
    path_in(path, sizeof path, tmp_dir, "missing.xml");
    assert_int_equal(ortak_screen_set_load(&p, 1, NULL, &s, err, sizeof err), ORTAK_IO);
    assert_non_null(strstr(err, "missing.xml"));
    assert_int_equal(ortak_screen_set_load(&p, 0, NULL, &s, err, sizeof err), ORTAK_INVALID);
}

/* ---- sets and threads ----------------------------------------------------------------------------------------- */

static void test_version_and_swap(void **state) {
    (void)state;
    char path[1024], path2[1024];
    path_in(path, sizeof path, data_dir, "sanctions/UN_consolidated.xml");
    struct ortak_screen_set *again = load_one(path);
    assert_int_equal(ortak_screen_set_version(again), ortak_screen_set_version(un_set));
    write_file("swap.csv", "# list: NBK\nentry_id,name,aliases,date_of_birth,nationality\nS-1,Eric Badege,,,\n", path2,
               sizeof path2);
    /* A new set is loaded while the old one is in use; each answers from its own lists. */
    struct ortak_screen_set *fresh = load_one(path2);
    assert_true(top_hit(again, "Eric Badege", "UN", "CDi.001"));
    assert_true(top_hit(fresh, "Eric Badege", "NBK", "S-1"));
    assert_int_not_equal(ortak_screen_set_version(fresh), ortak_screen_set_version(again));
    ortak_screen_set_free(again);
    assert_true(top_hit(fresh, "Eric Badege", "NBK", "S-1"));
    ortak_screen_set_free(fresh);
    char sc[7];
    ortak_screen_score_format(9312, sc);
    assert_string_equal(sc, "0.9312");
    ortak_screen_score_format(10000, sc);
    assert_string_equal(sc, "1.0000");
    ortak_screen_score_format(5, sc);
    assert_string_equal(sc, "0.0005");
    assert_non_null(strstr(ortak_screen_translit_status(NULL), "ICU"));
}

struct worker {
    uint32_t from, to;
    uint64_t sum; /* of entry ids' first bytes and scores of every hit */
};

static void *worker_run(void *arg) {
    struct worker *w = arg;
    struct ortak_screener *t;
    char err[256];
    if (ortak_screener_open(NULL, &t, err, sizeof err) != ORTAK_OK) return NULL;
    for (uint32_t r = 0; r < 3; r++)
        for (uint32_t i = w->from; i < w->to; i++) {
            const char *n = ortak_screen_set_name(un_set, i, NULL);
            struct ortak_screen_hit h[8];
            uint32_t k = ortak_screen_name(t, un_set, n, strlen(n), ORTAK_SCREEN_THRESHOLD_DEFAULT, h, 8);
            for (uint32_t j = 0; j < k; j++) w->sum += h[j].score + (uint8_t)h[j].entry_id[4];
        }
    ortak_screener_close(t);
    return w;
}

static void test_threads(void **state) {
    (void)state;
    uint32_t names = ortak_screen_set_names(un_set), per = names < 1200 ? names : 1200;
    struct worker one = {0, per, 0}, w[3];
    worker_run(&one);
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (struct worker){0, per, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].sum, one.sum);
    }
    assert_true(one.sum > 0);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_screening PATH-TO-shared/data PATH-TO-region_names.txt\n");
        return 2;
    }
    data_dir = argv[1];
    fixture_path = argv[2];
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/sanctions/UN_consolidated.xml", data_dir);
    const char *p = path;
    if (ortak_screen_set_load(&p, 1, NULL, &un_set, err, sizeof err) != ORTAK_OK ||
        ortak_screener_open(NULL, &scr, err, sizeof err) != ORTAK_OK) {
        fprintf(stderr, "test_screening: FAIL: %s\n", err);
        return 1;
    }
    if (!tu_mkdtemp(tmp_dir, sizeof tmp_dir, "ortak-screen")) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cldr_pairs),
        cmocka_unit_test(test_fast_path_agrees),
        cmocka_unit_test(test_turkic_folding),
        cmocka_unit_test(test_honorifics_and_forms),
        cmocka_unit_test(test_initials_and_variants),
        cmocka_unit_test(test_un_primary_names),
        cmocka_unit_test(test_cross_script),
        cmocka_unit_test(test_false_positives),
        cmocka_unit_test(test_ofac),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_version_and_swap),
        cmocka_unit_test(test_threads),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    ortak_screener_close(scr);
    ortak_screen_set_free(un_set);
    tu_remove_dir(tmp_dir, (const char *const[]){"companies.csv", "people.csv", "latin.csv", "cyrillic.csv", "swap.csv",
                                                 "stdout", "stderr", NULL});
    return failed ? 1 : 0;
}
