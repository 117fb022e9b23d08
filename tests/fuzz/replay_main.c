/*
 * Replays inputs through a fuzz target outside libFuzzer: every regular file named on the command line, and every
 * regular file under each directory named, walked without recursion to at most DEPTH_MAX levels (a deeper
 * directory is an error, not skipped silently), in name order so that runs are reproducible. Files whose names
 * begin with '.' are skipped. A file larger than FILE_BYTES_MAX is an error: no corpus input is that large.
 *
 * Exit status: 0 when every input ran (a broken invariant aborts in the target itself), 1 when an argument cannot
 * be read or holds no input at all, 2 on usage. Compiled in every build except under libFuzzer, which has its own.
 */
#ifndef ORTAK_LIBFUZZER

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_iso.h"

#define DEPTH_MAX 8
#define PATH_BYTES_MAX 4096
#define FILE_BYTES_MAX (64u * 1024u * 1024u)

/* One directory being listed: its entries, which is next, and where its name ends in the path. */
struct level {
    struct dirent **names;
    int count, next;
    size_t path_len;
};

struct replay {
    char path[PATH_BYTES_MAX];
    struct level levels[DEPTH_MAX + 1];
    unsigned files, errors;
    unsigned long long bytes;
};

/* Reads the file at r->path and runs the target on its bytes. */
static void run_file(struct replay *r, const struct stat *st) {
    if ((unsigned long long)st->st_size > FILE_BYTES_MAX) {
        fprintf(stderr, "replay: %s: larger than %u bytes\n", r->path, FILE_BYTES_MAX);
        r->errors++;
        return;
    }
    size_t len = (size_t)st->st_size;
    uint8_t *buf = malloc(len ? len : 1); /* never NULL for an empty input, as under libFuzzer */
    FILE *f = fopen(r->path, "rb");
    if (!buf || !f || fread(buf, 1, len, f) != len) {
        fprintf(stderr, "replay: %s: cannot read: %s\n", r->path, strerror(errno));
        r->errors++;
    } else {
        LLVMFuzzerTestOneInput(buf, len);
        r->files++;
        r->bytes += len;
    }
    if (f) fclose(f);
    free(buf);
}

static int skip_hidden(const struct dirent *d) { return d->d_name[0] != '.'; }

/* Lists the directory at r->path into level `depth`; false (counted as an error) when it cannot. */
static bool open_level(struct replay *r, int depth) {
    struct level *lv = &r->levels[depth];
    *lv = (struct level){.path_len = strlen(r->path)};
    lv->count = scandir(r->path, &lv->names, skip_hidden, alphasort);
    if (lv->count >= 0) return true;
    fprintf(stderr, "replay: %s: cannot list: %s\n", r->path, strerror(errno));
    r->errors++;
    return false;
}

static void close_level(struct level *lv) {
    for (int i = 0; i < lv->count; i++) free(lv->names[i]);
    free(lv->names);
    lv->names = NULL;
}

/* Every regular file under the directory at r->path, depth first, at most DEPTH_MAX levels below it. */
static void walk(struct replay *r) {
    int depth = 0;
    if (!open_level(r, 0)) return;
    while (depth >= 0) {
        struct level *lv = &r->levels[depth];
        if (lv->next >= lv->count) {
            close_level(lv);
            depth--;
            continue;
        }
        const char *name = lv->names[lv->next++]->d_name;
        int n = snprintf(r->path + lv->path_len, sizeof r->path - lv->path_len, "/%s", name);
        struct stat st;
        if (n < 0 || (size_t)n >= sizeof r->path - lv->path_len || stat(r->path, &st) != 0) {
            fprintf(stderr, "replay: %s: cannot stat\n", r->path);
            r->errors++;
        } else if (S_ISREG(st.st_mode)) {
            run_file(r, &st);
        } else if (S_ISDIR(st.st_mode) && depth == DEPTH_MAX) {
            fprintf(stderr, "replay: %s: deeper than %d levels\n", r->path, DEPTH_MAX);
            r->errors++;
        } else if (S_ISDIR(st.st_mode) && open_level(r, depth + 1)) {
            depth++;
        }
        r->path[r->levels[depth].path_len] = '\0';
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
        return 2;
    }
    static struct replay r;
    int status = 0;
    for (int i = 1; i < argc; i++) {
        unsigned files = r.files, errors = r.errors;
        struct stat st;
        snprintf(r.path, sizeof r.path, "%s", argv[i]);
        if (strlen(argv[i]) >= sizeof r.path || stat(r.path, &st) != 0) {
            fprintf(stderr, "replay: %s: no such file or directory\n", argv[i]);
            r.errors++;
        } else if (S_ISDIR(st.st_mode)) {
            walk(&r);
        } else {
            run_file(&r, &st);
        }
        if (r.errors != errors || r.files == files) {
            fprintf(stderr, "replay: %s: %u inputs, %u errors\n", argv[i], r.files - files, r.errors - errors);
            status = 1;
        }
    }
    printf("replayed %u inputs (%llu bytes), %u errors\n", r.files, r.bytes, r.errors);
    return status;
}

#endif
