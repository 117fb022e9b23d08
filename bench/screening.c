/*
 * bench_screening: names screened per second against the full UN list on one thread, with the recall and the
 * false-positive share at the default threshold beside it (docs/screening.md).
 *
 * Queries: every primary name of the UN list perturbed in one of six ways (chosen by a seeded generator: upper
 * case, lower case, tokens reversed, one letter changed, a usual variant spelling, the first token as an initial)
 * and the ordinary names of the region from the false-positive fixture, in Latin and Cyrillic. Recall is the share
 * of perturbed list names whose own entry is the top hit; the false-positive share is the share of fixture names
 * with any hit. Then the whole mix is screened again and again for the timing, reported per second of wall-clock
 * time and per second of the thread's CPU time (the same on an idle machine).
 *
 *   bench_screening [--quick] [--verbose] [--list FILE]... [--names FILE] [--threshold T] [--seconds S]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "ortak/screening.h"

#ifndef ORTAK_SCREEN_FIXTURE
#define ORTAK_SCREEN_FIXTURE "tests/fixtures/screening/region_names.txt"
#endif

#define QUERY_BYTES 256u

struct query {
    char s[QUERY_BYTES];
    uint32_t entry; /* UINT32_MAX: a fixture name */
};

static const char *program = "bench_screening";

/* The CPU time of this thread: the rate per CPU second is the rate on one core, whatever else the machine runs. */
static uint64_t cpu_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* One letter of the name changed (the middle letter of its longest ASCII-letter token) to the next letter. */
static void change_letter(char *s) {
    size_t best = 0, best_len = 0, n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z'))) j++;
        if (j - i > best_len) best = i, best_len = j - i;
        i = j > i ? j : i + 1;
    }
    if (best_len == 0) return;
    char *c = &s[best + best_len / 2];
    if (*c == 'z')
        *c = 'a';
    else if (*c == 'Z')
        *c = 'A';
    else
        (*c)++;
}

static void reverse_tokens(char *s) {
    char tmp[QUERY_BYTES], *tok[32];
    uint32_t n = 0;
    snprintf(tmp, sizeof tmp, "%s", s);
    for (char *p = strtok(tmp, " "); p && n < 32; p = strtok(NULL, " ")) tok[n++] = p;
    size_t o = 0;
    for (uint32_t i = n; i-- > 0;) o += (size_t)snprintf(s + o, QUERY_BYTES - o, "%s%s", o ? " " : "", tok[i]);
}

static void variant(char *s) {
    static const char *const from[] = {"YEV", "yev", "OV ", "ov ", "KH", "kh", "Y", "y"};
    static const char *const to[] = {"EV", "ev", "OFF ", "off ", "H", "h", "I", "i"};
    for (size_t k = 0; k < sizeof from / sizeof from[0]; k++) {
        char *p = strstr(s, from[k]);
        if (!p) continue;
        size_t fl = strlen(from[k]), tl = strlen(to[k]), n = strlen(s);
        if (n - fl + tl + 1 > QUERY_BYTES) return;
        memmove(p + tl, p + fl, n - (size_t)(p - s) - fl + 1);
        memcpy(p, to[k], tl);
        return;
    }
    change_letter(s);
}

static void perturb(char *s, uint32_t how) {
    switch (how) {
    case 0:
        for (char *p = s; *p; p++)
            if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 32);
        break;
    case 1:
        for (char *p = s; *p; p++)
            if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
        break;
    case 2: reverse_tokens(s); break;
    case 3: change_letter(s); break;
    case 4: variant(s); break;
    default: {
        char *sp = strchr(s, ' ');
        if (sp && sp - s > 1 && (unsigned char)s[0] < 0x80) {
            memmove(s + 1, sp, strlen(sp) + 1);
            memmove(s + 2, s + 1, strlen(s + 1) + 1);
            s[1] = '.';
        }
    }
    }
}

static uint32_t load_fixture(const char *path, struct query *q, uint32_t at, uint32_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: %s: cannot open\n", program, path);
        exit(2);
    }
    char line[QUERY_BYTES];
    while (at < cap && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#') continue;
        snprintf(q[at].s, sizeof q[at].s, "%s", line);
        q[at++].entry = UINT32_MAX;
    }
    fclose(f);
    return at;
}

int main(int argc, char **argv) {
    const char *lists[ORTAK_SCREEN_LISTS_LIMIT], *names = ORTAK_SCREEN_FIXTURE;
    uint32_t nlists = 0, threshold = ORTAK_SCREEN_THRESHOLD_DEFAULT;
    double seconds = 2.0;
    bool quick = false, verbose = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = true, seconds = 0.2;
        else if (strcmp(argv[i], "--verbose") == 0)
            verbose = true;
        else if (strcmp(argv[i], "--list") == 0 && i + 1 < argc && nlists < ORTAK_SCREEN_LISTS_LIMIT)
            lists[nlists++] = argv[++i];
        else if (strcmp(argv[i], "--names") == 0 && i + 1 < argc)
            names = argv[++i];
        else if (strcmp(argv[i], "--threshold") == 0 && i + 1 < argc)
            threshold = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = strtod(argv[++i], NULL);
        else {
            fprintf(stderr,
                    "usage: %s [--quick] [--verbose] [--list FILE]... [--names FILE] [--threshold T (0..10000)] "
                    "[--seconds S]\n",
                    program);
            return 2;
        }
    }
    if (nlists == 0) {
        const char *d[2];
        if (ortak_screen_default_lists(d, 2) == 0) {
            fprintf(stderr, "%s: no list found; give --list FILE\n", program);
            return 2;
        }
        lists[nlists++] = d[0]; /* the UN list */
    }
    if (threshold > ORTAK_SCREEN_SCORE_MAX) threshold = ORTAK_SCREEN_SCORE_MAX;
    char err[512];
    struct ortak_screen_set *set;
    uint64_t t0 = bench_now_ns();
    if (ortak_screen_set_load(lists, nlists, NULL, &set, err, sizeof err) != ORTAK_OK) {
        fprintf(stderr, "%s: %s\n", program, err);
        return 2;
    }
    double load_s = (double)(bench_now_ns() - t0) / 1e9;
    struct ortak_screener *t;
    if (ortak_screener_open(NULL, &t, err, sizeof err) != ORTAK_OK) {
        fprintf(stderr, "%s: %s\n", program, err);
        return 2;
    }
    uint32_t nentries = ortak_screen_set_entries(set), cap = nentries + 4096, nq = 0;
    struct query *q = bench_calloc(program, cap, sizeof *q);
    uint64_t rng = 20261128;
    for (uint32_t e = 0; e < nentries; e++) {
        struct ortak_screen_entry_info info;
        if (!ortak_screen_set_entry(set, e, &info) || !info.name[0] || strlen(info.name) >= QUERY_BYTES) continue;
        snprintf(q[nq].s, sizeof q[nq].s, "%s", info.name);
        perturb(q[nq].s, (uint32_t)ortak_rng_below(&rng, 6));
        q[nq++].entry = e;
    }
    uint32_t nlist_q = nq;
    nq = load_fixture(names, q, nq, cap);
    uint32_t found = 0, fp = 0;
    struct ortak_screen_hit hits[8];
    for (uint32_t i = 0; i < nq; i++) {
        uint32_t n = ortak_screen_name(t, set, q[i].s, strlen(q[i].s), (uint16_t)threshold, hits, 8);
        if (q[i].entry == UINT32_MAX) {
            fp += n > 0;
            if (verbose && n > 0)
                printf("false positive: %s -> %s %s (%u)\n", q[i].s, hits[0].entry_id, hits[0].name, hits[0].score);
            continue;
        }
        struct ortak_screen_entry_info info;
        ortak_screen_set_entry(set, q[i].entry, &info);
        bool ok = n > 0 && strcmp(hits[0].entry_id, info.entry_id) == 0 && strcmp(hits[0].list, info.list) == 0;
        found += ok;
        if (verbose && !ok)
            printf("missed: %s [%s] -> %s %s (%u)\n", q[i].s, info.name, n ? hits[0].entry_id : "-",
                   n ? hits[0].name : "", n ? hits[0].score : 0);
    }
    uint64_t screened = 0, hit_total = 0, start = bench_now_ns(), end = start, cpu0 = cpu_now_ns();
    uint64_t budget = (uint64_t)(seconds * 1e9);
    while (end - start < budget || screened < nq) {
        for (uint32_t i = 0; i < nq; i++)
            hit_total += ortak_screen_name(t, set, q[i].s, strlen(q[i].s), (uint16_t)threshold, hits, 8);
        screened += nq;
        end = bench_now_ns();
    }
    double el = (double)(end - start) / 1e9, cpu = (double)(cpu_now_ns() - cpu0) / 1e9;
    char th[7];
    ortak_screen_score_format((uint16_t)threshold, th);
    printf("lists: %u entries, %u names, version %016llx, loaded in %.3f s\n", nentries, ortak_screen_set_names(set),
           (unsigned long long)ortak_screen_set_version(set), load_s);
    printf("threshold %s; queries: %u perturbed list names, %u region names (%s)\n", th, nlist_q, nq - nlist_q, names);
    printf("recall (own entry the top hit): %u / %u = %.2f %%\n", found, nlist_q,
           nlist_q ? 100.0 * found / nlist_q : 0.0);
    printf("false positives (region names with a hit): %u / %u = %.2f %%\n", fp, nq - nlist_q,
           nq > nlist_q ? 100.0 * fp / (nq - nlist_q) : 0.0);
    printf("throughput: %llu names in %.3f s on one thread = %.0f names/s (%llu hits)\n", (unsigned long long)screened,
           el, (double)screened / el, (unsigned long long)hit_total);
    printf("per second of the thread's CPU time (%.3f s): %.0f names/s\n", cpu, cpu > 0 ? (double)screened / cpu : 0.0);
    free(q);
    ortak_screener_close(t);
    ortak_screen_set_free(set);
    return quick && (found == 0 || nlist_q == 0) ? 1 : 0;
}
