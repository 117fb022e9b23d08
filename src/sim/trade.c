/*
 * The trade table of the simulator: reads ots_trade_2023.csv (data/README.md of the shared data) for the countries
 * of a configuration and fills the missing pairs by one stated rule.
 *
 * Figures are kept as integer thousands of USD (the CSV's millions with up to three decimals, read digit by
 * digit: no floating point). Partial-year figures are used as given. The table is symmetric; the diagonal is 0.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ortak/sim.h"

#ifndef ORTAK_SHARED_DATA_DIR
#define ORTAK_SHARED_DATA_DIR "../shared/data"
#endif

#define LINE_MAX_BYTES 1024

const char *ortak_sim_default_trade_path(void) {
    static const char path[] = ORTAK_SHARED_DATA_DIR "/trade/ots_trade_2023.csv";
    return access(path, R_OK) == 0 ? path : NULL;
}

/* The product's own copy of the figures (facts: 2023 bilateral goods trade, USD millions, from news reports quoting
 * national statistics), in the table's format, for a machine without the reference data. */
static const char builtin_csv[] = "country_a,country_b,trade_usd_m,status\n"
                                  "KZ,AZ,529.4,reported\nKZ,TR,6000,reported\nKZ,UZ,4400,reported\n"
                                  "KZ,KG,1317,reported\nKZ,TM,563,reported\nKZ,HU,465,reported\n"
                                  "AZ,TR,7600,reported\nAZ,TM,710.3,partial\nAZ,UZ,376,partial\n"
                                  "AZ,KG,,missing\nAZ,HU,,missing\nUZ,TR,3100,reported\nUZ,KG,694,reported\n"
                                  "UZ,TM,1090,reported\nUZ,HU,,missing\nTR,TM,2550,reported\nTR,KG,2000,reported\n"
                                  "TR,HU,4300,reported\nKG,TM,63.5,reported\nKG,HU,,missing\nTM,HU,,missing\n";

const char *ortak_sim_gap_rule(void) {
    return "a pair without a 2023 figure gets the smallest figure reported for any pair of either of its two "
           "countries (partial-year figures count as reported and are used as given)";
}

/* "529.4" -> 529400 (thousands). False for anything but digits with at most three decimals, or an empty field. */
static bool parse_usd_k(const char *s, size_t len, uint64_t *out) {
    uint64_t v = 0;
    size_t i = 0, decimals = 0;
    bool dot = false, digit = false;
    for (; i < len; i++) {
        if (s[i] == '.' && !dot) {
            dot = true;
            continue;
        }
        if (s[i] < '0' || s[i] > '9' || v > UINT64_C(1000000000000)) return false;
        if (dot && ++decimals > 3) return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
        digit = true;
    }
    for (; decimals < 3; decimals++) v *= 10;
    *out = v;
    return digit;
}

static int country_index(const struct ortak_sim_trade *t, const char *cc, size_t len) {
    if (len != 2) return -1;
    for (uint32_t i = 0; i < t->n; i++)
        if (memcmp(t->country[i], cc, 2) == 0) return (int)i;
    return -1;
}

/* Splits the first `max` comma-separated fields of `line` (the rest, such as the quoted note, is ignored). */
static uint32_t split(const char *line, const char **f, size_t *flen, uint32_t max) {
    uint32_t n = 0;
    const char *p = line;
    while (n < max) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strcspn(p, "\r\n");
        f[n] = p;
        flen[n++] = len;
        if (!c) break;
        p = c + 1;
    }
    return n;
}

static void fill_gaps(struct ortak_sim_trade *t, uint8_t known[ORTAK_SIM_COUNTRIES_MAX][ORTAK_SIM_COUNTRIES_MAX]) {
    uint64_t min_of[ORTAK_SIM_COUNTRIES_MAX];
    uint64_t min_all = UINT64_MAX;
    for (uint32_t i = 0; i < t->n; i++) {
        min_of[i] = UINT64_MAX;
        for (uint32_t j = 0; j < t->n; j++)
            if (known[i][j] && t->pair_usd_k[i][j] < min_of[i]) min_of[i] = t->pair_usd_k[i][j];
        if (min_of[i] < min_all) min_all = min_of[i];
    }
    if (min_all == UINT64_MAX) min_all = 1000; /* no figure at all: every pair alike */
    for (uint32_t i = 0; i < t->n; i++)
        for (uint32_t j = i + 1; j < t->n; j++) {
            if (known[i][j]) continue;
            uint64_t v = min_of[i] < min_of[j] ? min_of[i] : min_of[j];
            if (v == UINT64_MAX) v = min_all;
            t->pair_usd_k[i][j] = t->pair_usd_k[j][i] = v;
            t->filled[i][j] = t->filled[j][i] = 1;
            t->filled_count++;
        }
}

static void trade_init(const struct ortak_config *cfg, struct ortak_sim_trade *t) {
    memset(t, 0, sizeof *t);
    t->n = cfg->currency_count;
    for (uint32_t i = 0; i < t->n; i++) {
        memcpy(t->country[i], cfg->currencies[i].agent_bic + 4, 2);
        memcpy(t->currency[i], cfg->currencies[i].code, 4);
    }
}

ortak_rc ortak_sim_trade_load(const struct ortak_config *cfg, const char *path, struct ortak_sim_trade *t, char *err,
                              size_t err_cap) {
    trade_init(cfg, t);
    uint8_t known[ORTAK_SIM_COUNTRIES_MAX][ORTAK_SIM_COUNTRIES_MAX];
    uint8_t seen[ORTAK_SIM_COUNTRIES_MAX][ORTAK_SIM_COUNTRIES_MAX];
    memset(known, 0, sizeof known);
    memset(seen, 0, sizeof seen);
    FILE *f = path ? fopen(path, "r") : fmemopen((void *)builtin_csv, sizeof builtin_csv - 1, "r");
    if (!path) path = "the built-in trade table";
    if (!f) {
        snprintf(err, err_cap, "%s: cannot be read", path);
        return ORTAK_IO;
    }
    char line[LINE_MAX_BYTES];
    unsigned lineno = 0;
    bool header = false;
    ortak_rc rc = ORTAK_OK;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n' || line[0] == '\r') continue;
        if (!header) { /* the column names */
            header = true;
            continue;
        }
        const char *fld[4];
        size_t len[4];
        if (split(line, fld, len, 4) < 4) {
            snprintf(err, err_cap, "%s:%u: fewer than four fields", path, lineno);
            rc = ORTAK_CORRUPT;
            break;
        }
        int a = country_index(t, fld[0], len[0]), b = country_index(t, fld[1], len[1]);
        if (a < 0 || b < 0 || a == b) continue; /* a country outside the configuration */
        seen[a][b] = seen[b][a] = 1;
        bool missing = len[3] == 7 && memcmp(fld[3], "missing", 7) == 0;
        uint64_t v = 0;
        if (missing) continue;
        if (!parse_usd_k(fld[2], len[2], &v)) {
            snprintf(err, err_cap, "%s:%u: trade figure '%.*s' is not a number", path, lineno, (int)len[2], fld[2]);
            rc = ORTAK_CORRUPT;
            break;
        }
        if (len[3] == 7 && memcmp(fld[3], "partial", 7) == 0) t->partial_count++;
        t->pair_usd_k[a][b] = t->pair_usd_k[b][a] = v;
        known[a][b] = known[b][a] = 1;
    }
    if (rc == ORTAK_OK && ferror(f)) {
        snprintf(err, err_cap, "%s: read error", path);
        rc = ORTAK_IO;
    }
    fclose(f);
    if (rc != ORTAK_OK) return rc;
    for (uint32_t i = 0; i < t->n; i++)
        for (uint32_t j = i + 1; j < t->n; j++)
            if (!seen[i][j]) {
                snprintf(err, err_cap, "%s: no line for the pair %.2s-%.2s", path, t->country[i], t->country[j]);
                return ORTAK_CORRUPT;
            }
    fill_gaps(t, known);
    return ORTAK_OK;
}
