/*
 * Helpers shared by the unit tests that run the `ortak` binary or read files whole: a temporary directory, a
 * file read into memory, a text with one string replaced, and a run of a program with its stdout and stderr
 * captured apart.
 *
 * Header-only (static inline), like test_util.h, but tied to cmocka: what a test cannot go on without (a file
 * that does not open, a fork that fails, a child killed by a signal) fails the running test at once, naming
 * what went wrong. Every buffer handed back is malloc'd and NUL-terminated; the caller frees it.
 */
#ifndef ORTAK_TEST_CLI_H
#define ORTAK_TEST_CLI_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* The most arguments tu_run passes, argv[0] and the closing NULL included. */
#define TU_RUN_ARGS_MAX 64u

/*
 * Makes a fresh directory "$TMPDIR/PREFIX-XXXXXX" (/tmp when TMPDIR is unset or empty) and puts its path in
 * dir[cap]. Returns false when the path does not fit or mkdtemp fails; usable outside a test (from main).
 */
static inline bool tu_mkdtemp(char *dir, size_t cap, const char *prefix) {
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(dir, cap, "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix);
    return n >= 0 && (size_t)n < cap && mkdtemp(dir) != NULL;
}

/*
 * Removes the files `names` (NULL-terminated; those missing are passed over) from `dir`, then `dir` itself.
 * Returns whether `dir` is gone. Usable outside a test (from main or a teardown).
 */
static inline bool tu_remove_dir(const char *dir, const char *const *names) {
    char path[1024];
    for (; *names; names++) {
        int n = snprintf(path, sizeof path, "%s/%s", dir, *names);
        if (n >= 0 && (size_t)n < sizeof path) unlink(path);
    }
    return rmdir(dir) == 0;
}

/*
 * The whole of the file at `path`, NUL-terminated (it may hold other NULs: `*len` is its length when `len` is
 * not NULL). Fails the test when the file cannot be opened or read.
 */
static inline char *tu_slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    assert_non_null(b);
    for (size_t got; (got = fread(b + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (cap - n - 1 == 0) {
            cap *= 2;
            char *grown = realloc(b, cap);
            assert_non_null(grown);
            b = grown;
        }
    }
    if (ferror(f)) fail_msg("cannot read %s", path);
    fclose(f);
    b[n] = '\0';
    if (len) *len = n;
    return b;
}

/*
 * `text` (`len` bytes) with the first occurrence of `from` replaced by `to`: a new NUL-terminated buffer, its
 * length in `*out_len`. Returns NULL (and 0 in `*out_len`) when `from` does not occur, so that the caller can say
 * where it looked.
 */
static inline char *tu_replace_first(const char *text, size_t len, const char *from, const char *to, size_t *out_len) {
    size_t fl = strlen(from), tl = strlen(to), at = 0;
    *out_len = 0;
    while (at + fl <= len && memcmp(text + at, from, fl) != 0) at++;
    if (at + fl > len) return NULL;
    size_t n = len - fl + tl;
    char *out = malloc(n + 1);
    assert_non_null(out);
    memcpy(out, text, at);
    memcpy(out + at, to, tl);
    memcpy(out + at + tl, text + at + fl, len - at - fl);
    out[n] = '\0';
    *out_len = n;
    return out;
}

/* What one run of a program gave: its exit code and what it wrote (NUL-terminated; freed by tu_run_free). */
struct tu_run {
    int code;
    char *out, *err;
};

/*
 * Runs the program `bin` with the arguments `argv` (NULL-terminated, argv[0] excluded: `bin` is passed as it)
 * and stdin from `stdin_path` (NULL: /dev/null), and waits for it. Its stdout and stderr go to the files
 * "stdout" and "stderr" in `tmp_dir` (removed once read) and come back in r->out and r->err. A program that
 * cannot be started exits 127 (126 when its files cannot be opened). Fails the test when the child dies by a
 * signal.
 */
static inline void tu_run(struct tu_run *r, const char *bin, const char *const *argv, const char *stdin_path,
                          const char *tmp_dir) {
    char out_path[1024], err_path[1024];
    assert_true((size_t)snprintf(out_path, sizeof out_path, "%s/stdout", tmp_dir) < sizeof out_path);
    assert_true((size_t)snprintf(err_path, sizeof err_path, "%s/stderr", tmp_dir) < sizeof err_path);
    const char *args[TU_RUN_ARGS_MAX] = {bin};
    size_t argc = 1;
    for (; *argv; argv++) {
        assert_true(argc + 1 < TU_RUN_ARGS_MAX);
        args[argc++] = *argv;
    }
    args[argc] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int i = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY);
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (i < 0 || o < 0 || e < 0 || dup2(i, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0) _exit(126);
        execv(bin, (char *const *)args);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status))
        fail_msg("%s %s did not exit (signal %d)", bin, argc > 1 ? args[1] : "",
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    r->code = WEXITSTATUS(status);
    r->out = tu_slurp(out_path, NULL);
    r->err = tu_slurp(err_path, NULL);
    unlink(out_path);
    unlink(err_path);
}

/* Frees what tu_run captured; `r` may then be run again or freed again. */
static inline void tu_run_free(struct tu_run *r) {
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

#endif
