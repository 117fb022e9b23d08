/*
 * ortak screen: screens names against sanctions lists (src/screening, docs/screening.md) and prints, for each name
 * in the order given, the hits at or above the threshold: list, entry id, matched name, score.
 *
 * Lists: every --list FILE (format recognised from the content); without one, `lists` of the [screening] section
 * of DIR/ortakd.ini (comma-separated, as the server reads them), and without that the default lists of the shared
 * reference data. The threshold: --threshold, else `threshold` of the same section, else the library's default.
 *
 * Exit codes: 0 no name has a hit; 1 at least one has; 2 an error (bad option, a list that does not load; the
 * message on stderr). With --json, one JSON object per name and line, the score with four decimals formatted from
 * the integer score (no floating point); names that are not valid UTF-8 are printed with U+FFFD in their place.
 */
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ortak/screening.h"

#define SCREEN_EXIT_HIT 1
#define SCREEN_PATH_BYTES 1024u

static void screen_usage(FILE *f) {
    char th[7];
    ortak_screen_score_format(ORTAK_SCREEN_THRESHOLD_DEFAULT, th);
    fprintf(f,
            "usage: ortak screen [--json] [--list FILE]... [--threshold T] [--dir DIR] [--verbose] NAME...\n"
            "\n"
            "Screens each NAME against sanctions lists and prints its hits: list, entry id, the name as listed and\n"
            "the score (0 to 1). Names may be written in Latin or Cyrillic script, in any case, with tokens in any\n"
            "order, initials or variant spellings (docs/screening.md).\n"
            "\n"
            "  --json         one JSON object per name and line:\n"
            "                 {\"query\": \"...\", \"hits\": [{\"list\": \"UN\", \"entry_id\": \"...\", \"name\": "
            "\"...\", \"score\": 0.9312}]}\n"
            "  --list FILE    a list to load (repeatable): the UN Consolidated List XML, OFAC's sdn.csv (with\n"
            "                 alt.csv and add.csv beside it), or ortak's CSV (docs/screening.md)\n"
            "  --threshold T  the lowest score reported, 0 to 1 with at most four decimals (default: [screening]\n"
            "                 threshold of DIR/ortakd.ini, else %s)\n"
            "  --dir DIR      the data directory whose ortakd.ini names the lists ([screening] lists) when no\n"
            "                 --list is given (default: ortak-data); without it, the default lists\n"
            "  --verbose      say on stderr which lists were loaded\n"
            "\n"
            "Exit codes: 0 no name has a hit; 1 one or more has; 2 bad arguments or a list that does not load.\n",
            th);
}

/* A score in [0, 1] with at most four decimals ("0.88", "1") as an integer in 1/10000; false when malformed. */
static bool parse_score(const char *v, uint16_t *out) {
    uint32_t whole, frac = 0, scale = 10000;
    if (*v < '0' || *v > '1') return false;
    whole = (uint32_t)(*v++ - '0');
    if (*v == '.') {
        v++;
        if (*v < '0' || *v > '9') return false;
        while (*v >= '0' && *v <= '9') {
            if (scale == 1) return false; /* a fifth decimal */
            scale /= 10;
            frac += (uint32_t)(*v++ - '0') * scale;
        }
    }
    if (*v != '\0' || whole * 10000 + frac > 10000) return false;
    *out = (uint16_t)(whole * 10000 + frac);
    return true;
}

/* ---- DIR/ortakd.ini ------------------------------------------------------------------------------------------- */

struct ini_screening {
    char lists[4096];
    char threshold[16];
    bool lists_set, threshold_set, too_long;
};

static int screening_ini_key(void *user, const char *section, const char *name, const char *value) {
    struct ini_screening *c = user;
    if (!name || strcmp(section, "screening") != 0) return 1;
    if (strcmp(name, "lists") == 0) {
        c->too_long |= snprintf(c->lists, sizeof c->lists, "%s", value) >= (int)sizeof c->lists;
        c->lists_set = true;
    } else if (strcmp(name, "threshold") == 0) {
        c->too_long |= snprintf(c->threshold, sizeof c->threshold, "%s", value) >= (int)sizeof c->threshold;
        c->threshold_set = true;
    }
    return 1;
}

/* Splits comma-separated paths into paths[] (storage in buf). Returns how many, or -1 when there are too many. */
static int split_lists(const char *s, char buf[][SCREEN_PATH_BYTES], const char **paths, uint32_t max) {
    uint32_t n = 0;
    while (*s) {
        while (*s == ' ' || *s == ',') s++;
        size_t len = strcspn(s, ",");
        size_t end = len;
        while (end && s[end - 1] == ' ') end--;
        if (end) {
            if (n == max || end >= SCREEN_PATH_BYTES) return -1;
            memcpy(buf[n], s, end);
            buf[n][end] = '\0';
            paths[n] = buf[n];
            n++;
        }
        s += len;
    }
    return (int)n;
}

/* ---- output --------------------------------------------------------------------------------------------------- */

/* The length of the well-formed UTF-8 sequence at s (NUL-terminated), or 0 when there is none. */
static size_t utf8_seq(const unsigned char *s) {
    unsigned c = s[0], cp, min;
    size_t n;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, cp = c & 0x1fu, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, cp = c & 0x0fu, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, cp = c & 0x07u, min = 0x10000;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0u) != 0x80u) return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

static void json_string(FILE *f, const char *s) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    putc('"', f);
    while (*p) {
        size_t n = utf8_seq(p);
        if (n == 0) {
            fputs("\\ufffd", f);
            p++;
        } else if (n > 1) {
            fwrite(p, 1, n, f);
            p += n;
        } else {
            unsigned c = *p++;
            if (c == '"' || c == '\\')
                putc('\\', f), putc((int)c, f);
            else if (c == '\n')
                fputs("\\n", f);
            else if (c == '\t')
                fputs("\\t", f);
            else if (c == '\r')
                fputs("\\r", f);
            else if (c < 0x20 || c == 0x7f)
                fprintf(f, "\\u00%c%c", hex[c >> 4], hex[c & 15u]);
            else
                putc((int)c, f);
        }
    }
    putc('"', f);
}

static void print_json(const char *query, const struct ortak_screen_hit *h, uint32_t n) {
    fputs("{\"query\": ", stdout);
    json_string(stdout, query);
    fputs(", \"hits\": [", stdout);
    for (uint32_t i = 0; i < n; i++) {
        char sc[7];
        ortak_screen_score_format(h[i].score, sc);
        fputs(i ? ", {\"list\": " : "{\"list\": ", stdout);
        json_string(stdout, h[i].list);
        fputs(", \"entry_id\": ", stdout);
        json_string(stdout, h[i].entry_id);
        fputs(", \"name\": ", stdout);
        json_string(stdout, h[i].name);
        printf(", \"score\": %s}", sc);
    }
    fputs("]}\n", stdout);
}

static void print_text(const char *query, const struct ortak_screen_hit *h, uint32_t n) {
    if (n == 0) {
        printf("%s: no hit\n", query);
        return;
    }
    printf("%s: %u hit%s\n", query, n, n == 1 ? "" : "s");
    for (uint32_t i = 0; i < n; i++) {
        char sc[7];
        ortak_screen_score_format(h[i].score, sc);
        printf("  %s  %-6s %-12s %s\n", sc, h[i].list, h[i].entry_id, h[i].name);
    }
}

static void describe_lists(FILE *f, const struct ortak_screen_set *set, uint16_t threshold) {
    char th[7];
    ortak_screen_score_format(threshold, th);
    fputs("# lists:", f);
    for (uint32_t i = 0; i < ortak_screen_set_list_count(set); i++) {
        const struct ortak_screen_list_info *li = ortak_screen_set_list(set, i);
        fprintf(f, "%s %s (%s, %u entries, %u names%s%s)", i ? "," : "", li->list, li->format, li->entries, li->names,
                li->date_generated[0] ? ", generated " : "", li->date_generated);
    }
    fprintf(f, "; version %016llx; threshold %s\n", (unsigned long long)ortak_screen_set_version(set), th);
}

/* ---- the command ---------------------------------------------------------------------------------------------- */

struct screen_opts {
    bool json, verbose, threshold_given;
    uint16_t threshold;
    const char *dir;
    const char *lists[ORTAK_SCREEN_LISTS_LIMIT];
    uint32_t nlists;
    int first_name; /* argv index of the first NAME */
};

/* Parses the options; returns -1 to go on, else the exit code. */
static int parse_opts(int argc, char **argv, struct screen_opts *o) {
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0') break;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            screen_usage(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(a, "--json") == 0)
            o->json = true;
        else if (strcmp(a, "--verbose") == 0)
            o->verbose = true;
        else if ((strcmp(a, "--list") == 0 || strcmp(a, "--threshold") == 0 || strcmp(a, "--dir") == 0) &&
                 i + 1 >= argc) {
            fprintf(stderr, "ortak screen: %s needs a value\n", a);
            return CLI_EXIT_USAGE;
        } else if (strcmp(a, "--list") == 0) {
            if (o->nlists == ORTAK_SCREEN_LISTS_LIMIT) {
                fprintf(stderr, "ortak screen: at most %u lists\n", ORTAK_SCREEN_LISTS_LIMIT);
                return CLI_EXIT_USAGE;
            }
            o->lists[o->nlists++] = argv[++i];
        } else if (strcmp(a, "--threshold") == 0) {
            if (!parse_score(argv[++i], &o->threshold)) {
                fprintf(stderr, "ortak screen: --threshold: a score from 0 to 1 with at most four decimals (0.85)\n");
                return CLI_EXIT_USAGE;
            }
            o->threshold_given = true;
        } else if (strcmp(a, "--dir") == 0)
            o->dir = argv[++i];
        else {
            fprintf(stderr, "ortak screen: unknown option %s\n\n", a);
            screen_usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    o->first_name = i;
    if (i >= argc) {
        fprintf(stderr, "ortak screen: no NAME given\n\n");
        screen_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    return -1;
}

/* Without --list: the lists (and threshold) of DIR/ortakd.ini, else the default lists. Returns -1 or an exit code. */
static int configured_lists(struct screen_opts *o, char buf[][SCREEN_PATH_BYTES]) {
    char ini_path[SCREEN_PATH_BYTES];
    static struct ini_screening c; /* one command per process */
    memset(&c, 0, sizeof c);
    if (snprintf(ini_path, sizeof ini_path, "%s/ortakd.ini", o->dir) >= (int)sizeof ini_path) {
        fprintf(stderr, "ortak screen: --dir: path too long\n");
        return CLI_EXIT_USAGE;
    }
    int r = ini_parse(ini_path, screening_ini_key, &c);
    if (r > 0 || c.too_long) {
        fprintf(stderr, "ortak screen: %s: line %d: malformed or too long\n", ini_path, r);
        return CLI_EXIT_USAGE;
    }
    if (c.threshold_set && !o->threshold_given && !parse_score(c.threshold, &o->threshold)) {
        fprintf(stderr, "ortak screen: %s: [screening] threshold: a score from 0 to 1\n", ini_path);
        return CLI_EXIT_USAGE;
    }
    if (o->nlists > 0) return -1;
    if (c.lists_set && c.lists[0]) {
        int n = split_lists(c.lists, buf, o->lists, ORTAK_SCREEN_LISTS_LIMIT);
        if (n < 0) {
            fprintf(stderr, "ortak screen: %s: [screening] lists: more than %u lists or a path too long\n", ini_path,
                    ORTAK_SCREEN_LISTS_LIMIT);
            return CLI_EXIT_USAGE;
        }
        o->nlists = (uint32_t)n;
        if (o->verbose) fprintf(stderr, "ortak screen: lists from %s\n", ini_path);
    }
    if (o->nlists == 0) o->nlists = ortak_screen_default_lists(o->lists, ORTAK_SCREEN_LISTS_LIMIT);
    if (o->nlists == 0) {
        fprintf(stderr, "ortak screen: no lists: give --list FILE or set [screening] lists in %s\n", ini_path);
        return CLI_EXIT_USAGE;
    }
    return -1;
}

int ortak__cli_screen(int argc, char **argv) {
    struct screen_opts o = {.threshold = ORTAK_SCREEN_THRESHOLD_DEFAULT, .dir = "ortak-data"};
    static char buf[ORTAK_SCREEN_LISTS_LIMIT][SCREEN_PATH_BYTES];
    int rc = parse_opts(argc, argv, &o);
    if (rc < 0) rc = configured_lists(&o, buf);
    if (rc >= 0) return rc;
    char err[1024];
    struct ortak_screen_set *set = NULL;
    struct ortak_screener *t = NULL;
    if (ortak_screen_set_load(o.lists, o.nlists, NULL, &set, err, sizeof err) != ORTAK_OK ||
        ortak_screener_open(NULL, &t, err, sizeof err) != ORTAK_OK) {
        fprintf(stderr, "ortak screen: %s\n", err);
        ortak_screen_set_free(set);
        return CLI_EXIT_USAGE;
    }
    if (o.verbose) describe_lists(stderr, set, o.threshold);
    if (!o.json) describe_lists(stdout, set, o.threshold);
    rc = CLI_EXIT_OK;
    struct ortak_screen_hit hits[ORTAK_SCREEN_HITS_LIMIT];
    for (int i = o.first_name; i < argc; i++) {
        uint32_t n = ortak_screen_name(t, set, argv[i], strlen(argv[i]), o.threshold, hits, ORTAK_SCREEN_HITS_LIMIT);
        if (n > 0) rc = SCREEN_EXIT_HIT;
        if (o.json)
            print_json(argv[i], hits, n);
        else
            print_text(argv[i], hits, n);
    }
    ortak_screener_close(t);
    ortak_screen_set_free(set);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "ortak screen: cannot write the output\n");
        return CLI_EXIT_USAGE;
    }
    return rc;
}
