/*
 * Fuzz target of sanctions screening (include/ortak/screening.h): any bytes are loaded as a list file (the loader
 * recognises the UN XML, OFAC's sdn.csv and ortak's CSV from the content) and screened as a name, against a fixed
 * set and, when they load, against themselves.
 *
 * Built two ways, like fuzz_iso_read.c: under libFuzzer (ORTAK_LIBFUZZER), and in every build with replay_main.c,
 * which replays tests/fuzz/corpus/screen and the shared sanctions lists through this function as CTest tests.
 *
 * Invariants checked on every input; a broken one prints what broke and aborts (that is the finding):
 *   - loading returns ORTAK_OK with a set, or ORTAK_CORRUPT / ORTAK_IO with no set and a non-empty message;
 *   - a loaded set has as many names as its lists say, and every entry has an id and a list name;
 *   - a screening returns at most the hits asked for, each with a score from the threshold to 10000, NUL-terminated
 *     strings, best first, and never two hits for one entry of one list;
 *   - the fast path and ICU give the same normalised form of the input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_iso.h"
#include "ortak/screening.h"

#define NAME_BYTES_MAX 600u

static struct ortak_screener *scr;
static struct ortak_screen_set *fixed;
static char dir[256], list_path[300];

static _Noreturn void violated(const char *what) {
    fprintf(stderr, "fuzz_screen: invariant broken: %s\n", what);
    abort();
}

static void write_all(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) violated("cannot write the temporary list file");
}

static void cleanup(void) {
    unlink(list_path);
    rmdir(dir);
    ortak_screen_set_free(fixed);
    ortak_screener_close(scr);
}

static void setup(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/ortak-fuzz-screen-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) violated("cannot make a temporary directory");
    snprintf(list_path, sizeof list_path, "%s/sdn.csv", dir); /* OFAC's name: alt.csv beside it is looked for */
    static const char local[] = "# list: FIX\nentry_id,name,aliases,date_of_birth,nationality\n"
                                "A-1,Nazarbayev Nursultan Abishuly,Назарбаев Нурсултан;N.A. Nazarbayev,,\n"
                                "A-2,Əliyev İlham Heydər oğlu,Алиев Ильхам,,\n"
                                "A-3,Altyn Dala LLP,ТОО «Алтын Дала»,,\n";
    write_all(list_path, (const uint8_t *)local, sizeof local - 1);
    char err[512];
    const char *p = list_path;
    if (ortak_screen_set_load(&p, 1, NULL, &fixed, err, sizeof err) != ORTAK_OK ||
        ortak_screener_open(NULL, &scr, err, sizeof err) != ORTAK_OK) {
        fprintf(stderr, "fuzz_screen: %s\n", err);
        violated("the fixed set does not load");
    }
    atexit(cleanup);
}

static void check_hits(const struct ortak_screen_hit *h, uint32_t n, uint32_t max, uint16_t threshold) {
    if (n > max) violated("more hits than asked for");
    for (uint32_t i = 0; i < n; i++) {
        if (!memchr(h[i].list, 0, sizeof h[i].list) || !memchr(h[i].entry_id, 0, sizeof h[i].entry_id) ||
            !memchr(h[i].name, 0, sizeof h[i].name))
            violated("a hit's string is not NUL-terminated");
        if (h[i].score < threshold || h[i].score > ORTAK_SCREEN_SCORE_MAX) violated("a score out of range");
        if (i > 0 && h[i].score > h[i - 1].score) violated("hits not best first");
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(h[i].list, h[j].list) == 0 && strcmp(h[i].entry_id, h[j].entry_id) == 0)
                violated("two hits for one entry");
    }
}

static void screen_name(const struct ortak_screen_set *s, const char *name, size_t len) {
    static const uint16_t thresholds[] = {0, 5000, ORTAK_SCREEN_THRESHOLD_DEFAULT};
    struct ortak_screen_hit h[8];
    for (size_t i = 0; i < sizeof thresholds / sizeof thresholds[0]; i++) {
        uint32_t n = ortak_screen_name(scr, s, name, len, thresholds[i], h, 8);
        check_hits(h, n, 8, thresholds[i]);
    }
}

static void check_set(const struct ortak_screen_set *s) {
    uint32_t names = 0;
    for (uint32_t i = 0; i < ortak_screen_set_list_count(s); i++) names += ortak_screen_set_list(s, i)->names;
    if (names != ortak_screen_set_names(s)) violated("the lists' names do not add up to the set's");
    for (uint32_t i = 0; i < ortak_screen_set_entries(s); i++) {
        struct ortak_screen_entry_info e;
        if (!ortak_screen_set_entry(s, i, &e) || !e.entry_id[0] || !e.list[0]) violated("an entry without an id");
        if (i < 16 && e.name[0]) screen_name(s, e.name, strlen(e.name));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!scr) setup();
    /* As a name (the first NAME_BYTES_MAX bytes). */
    size_t nl = size < NAME_BYTES_MAX ? size : NAME_BYTES_MAX;
    char fast[2048], icu[2048];
    ortak_screen_normalize(scr, (const char *)data, nl, 0, fast, sizeof fast);
    ortak_screen_normalize(scr, (const char *)data, nl, 1, icu, sizeof icu);
    if (strcmp(fast, icu) != 0) {
        fprintf(stderr, "fuzz_screen: fast '%s', ICU '%s'\n", fast, icu);
        violated("the fast path and ICU disagree");
    }
    screen_name(fixed, (const char *)data, nl);
    /* As a list file. */
    write_all(list_path, data, size);
    struct ortak_screen_set *s = fixed; /* must be replaced: by a new set, or by NULL */
    char err[512] = "";
    const char *p = list_path;
    ortak_rc rc = ortak_screen_set_load(&p, 1, NULL, &s, err, sizeof err);
    if (rc == ORTAK_OK) {
        if (!s) violated("OK without a set");
        check_set(s);
        screen_name(s, (const char *)data, nl);
        ortak_screen_set_free(s);
    } else if ((rc != ORTAK_CORRUPT && rc != ORTAK_IO) || s != NULL || !err[0]) {
        fprintf(stderr, "fuzz_screen: rc %d, message '%s'\n", (int)rc, err);
        violated("a refusal is ORTAK_CORRUPT or ORTAK_IO, without a set, with a message");
    }
    return 0;
}
