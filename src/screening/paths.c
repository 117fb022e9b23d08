/*
 * Where the screening data is by default, and what the transliteration uses: the lists of the shared reference data
 * beside the source tree (as src/sim/trade.c finds its table), and a status line for the server's start-up.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <unicode/uversion.h>

#include "screen_int.h"

#ifndef ORTAK_SHARED_DATA_DIR
#define ORTAK_SHARED_DATA_DIR "../shared/data"
#endif

uint32_t ortak_screen_default_lists(const char **paths, uint32_t max) {
    static const char *const candidates[] = {
        ORTAK_SHARED_DATA_DIR "/sanctions/UN_consolidated.xml",
        ORTAK_SHARED_DATA_DIR "/sanctions/ofac/sdn.csv",
    };
    uint32_t n = 0;
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0] && n < max; i++)
        if (access(candidates[i], R_OK) == 0) paths[n++] = candidates[i];
    return n;
}

const char *ortak_screen_default_translit_dir(void) {
    static const char dir[] = ORTAK_SHARED_DATA_DIR "/translit";
    struct stat st;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? dir : NULL;
}

const char *ortak_screen_translit_status(const char *translit_dir) {
    static _Thread_local char line[512];
    char probe[400];
    bool cldr = false;
    if (translit_dir && translit_dir[0]) {
        snprintf(probe, sizeof probe, "%s/transforms/Kazakh-Latin-BGN.xml", translit_dir);
        cldr = access(probe, R_OK) == 0;
    }
    snprintf(line, sizeof line,
             "screening: transliteration by ICU %s built-in transforms (Any-Latin, Latin-ASCII) with ortak's rules "
             "for the region's Cyrillic letters; %s%s%s",
             U_ICU_VERSION,
             !translit_dir || !translit_dir[0] ? "no CLDR transliteration directory configured (not needed)"
             : cldr                            ? "CLDR rules found in "
                                               : "no CLDR rules in ",
             translit_dir && translit_dir[0] ? translit_dir : "",
             translit_dir && translit_dir[0] && cldr ? " (used by the tests as reference pairs, not at run time)" : "");
    return line;
}
