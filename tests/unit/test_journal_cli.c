/*
 * `ortak journal verify|dump|replay` against journal directories damaged in each way the issue names: every case
 * gets its own exit code and message, and nothing in the directory changes. The journal is written through the
 * library (valid batches, small segments so that there are several), then copied and damaged.
 *
 * Usage: test_journal_cli PATH-TO-ortak
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "ortak/journal.h"
#include "test_cli.h"
#include "test_util.h"

/* snprintf into an array that must not truncate (a truncated path or command would test something else). */
#define FMT(buf, ...) assert_true((size_t)snprintf((buf), sizeof(buf), __VA_ARGS__) < sizeof(buf))

static const char *ortak_bin;
static char root[256];

#define RECORDS 900

/* A journal of RECORDS batches of transfers between two funded accounts, with one snapshot. */
static void make_journal(const char *dir) {
    struct ortak_journal_options o = {.segment_bytes = 65536, .group_bytes_max = 4096, .create = true};
    struct ortak_journal *j;
    struct ortak_journal_problem p;
    assert_int_equal(ortak_journal_open(dir, &o, 0, NULL, NULL, &j, &p), ORTAK_OK);
    struct ortak_config cfg;
    ortak_config_default(&cfg);
    cfg.limits.transfers_max = 4096;
    cfg.limits.history_max = 1024;
    struct ortak_engine *e;
    assert_int_equal(ortak_engine_open(&cfg, &e), ORTAK_OK);
    unsigned char buf[4096];
    struct ortak_result r[8];
    for (uint64_t k = 0; k < RECORDS; k++) {
        ortak_time_ns t = 1000 + k;
        struct ortak_cmd c[6];
        uint32_t n = 0;
        if (k == 0) {
            c[n++] = tu_participant(t, "NBRKKZKX", "National Bank of Kazakhstan", ORTAK_ROLE_CENTRAL_BANK);
            c[n++] = tu_participant(t, "HSBKKZKX", "Halyk", ORTAK_ROLE_BANK);
            c[n++] = tu_account(t, 1, "NBRKKZKX", "KZT", ORTAK_ACCOUNT_ISSUANCE);
            c[n++] = tu_account(t, 2, "HSBKKZKX", "KZT", ORTAK_ACCOUNT_SETTLEMENT);
        }
        c[n++] = tu_transfer(t, 100 + k, 1, 2, 1 + k, 0);
        uint64_t seq;
        size_t len = ortak_batch_encode(c, n, buf, sizeof buf);
        assert_int_equal(ortak_journal_append(j, t, buf, (uint32_t)len, &seq), ORTAK_OK);
        assert_int_equal(ortak_engine_apply(e, c, n, r), ORTAK_OK);
        if (k == RECORDS / 2) {
            ortak_journal_sync(j);
            struct ortak_journal_head h;
            ortak_journal_head_get(j, &h);
            ortak_snapshot_write(dir, NULL, e, &h, 0);
        }
    }
    ortak_journal_close(j);
    ortak_engine_close(e);
}

/* Runs `ortak ARGS...` into `r`, first freeing what the last run into `r` captured; returns its exit code. */
static int run(struct tu_run *r, const char *const *args) {
    tu_run_free(r);
    tu_run(r, ortak_bin, args, NULL, root);
    return r->code;
}

#define RUN(r, ...) run((r), (const char *const[]){__VA_ARGS__, NULL})

/* Whether the run wrote `needle`, on stdout or on stderr: the checks here do not mind which. */
static bool said(const struct tu_run *r, const char *needle) {
    return strstr(r->out, needle) != NULL || strstr(r->err, needle) != NULL;
}

static void copy_dir(const char *from, const char *to) {
    char cmd[700];
    FMT(cmd, "rm -rf '%s' && cp -r '%s' '%s'", to, from, to);
    assert_int_equal(system(cmd), 0);
}

/* A listing of names and sizes and contents' checksum, to prove verify changes nothing. */
static unsigned long long dir_fingerprint(const char *dir) {
    char cmd[600], out[256] = "";
    FMT(cmd, "cd '%s' && ls -l --time-style=+ . | cksum && cat ./* 2>/dev/null | cksum", dir);
    FILE *f = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    pclose(f);
    unsigned long long h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)out[i]) * 1099511628211ull;
    return h;
}

static void patch(const char *path, long off, const void *bytes, size_t n) {
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, n, off), (ssize_t)n);
    close(fd);
}

/* Expects `verify` on a damaged copy to exit `code` with `needle` in its message, and to change nothing. */
static void expect_verify(const char *dir, int code, const char *needle) {
    unsigned long long before = dir_fingerprint(dir);
    struct tu_run r = {0};
    int rc = RUN(&r, "journal", "verify", dir);
    if (rc != code || !said(&r, needle)) fail_msg("exit %d (want %d), stdout: %s, stderr: %s", rc, code, r.out, r.err);
    tu_run_free(&r);
    assert_true(before == dir_fingerprint(dir));
}

static void path_in(char *out, size_t cap, const char *dir, const char *name) {
    assert_true((size_t)snprintf(out, cap, "%s/%s", dir, name) < cap);
}

static char good[300], work[300];

static void test_intact_journal_verifies(void **state) {
    (void)state;
    struct tu_run r = {0};
    assert_int_equal(RUN(&r, "journal", "verify", good), 0);
    assert_true(said(&r, "intact"));
    assert_true(said(&r, "records 900"));
    assert_int_equal(RUN(&r, "journal", "verify", good, "--json"), 0);
    assert_true(said(&r, "\"intact\":true,\"records\":900"));
    tu_run_free(&r);
}

static void test_dump_and_replay(void **state) {
    (void)state;
    struct tu_run r = {0};
    assert_int_equal(RUN(&r, "journal", "dump", good, "--json"), 0);
    int lines = 0;
    for (const char *p = r.out; *p; p++) lines += *p == '\n';
    for (const char *p = r.err; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, RECORDS);
    assert_true(said(&r, "\"kind\":\"participant_create\",\"bic\":\"NBRKKZKX\""));
    assert_int_equal(RUN(&r, "journal", "replay", good), 0);
    assert_true(said(&r, "replayed 900 records (904 commands)"));
    assert_true(said(&r, "state hash "));
    tu_run_free(&r);
}

static void test_empty_and_foreign(void **state) {
    (void)state;
    FMT(work, "%s/empty", root);
    mkdir(work, 0750);
    expect_verify(work, 3, "holds no journal");
    copy_dir(good, work);
    char p[400];
    path_in(p, sizeof p, work, "notes.txt");
    FILE *f = fopen(p, "w");
    fputs("hello", f);
    fclose(f);
    expect_verify(work, 4, "not an ortak journal file");
}

static void test_newer_version(void **state) {
    (void)state;
    copy_dir(good, work);
    char p[400];
    path_in(p, sizeof p, work, "00000000000000000001.ojl");
    /* Version 2 with a header checksum that matches it, as a newer ortak would write. */
    unsigned char h[128];
    FILE *f = fopen(p, "rb");
    assert_int_equal(fread(h, 1, 128, f), 128);
    fclose(f);
    h[8] = 2;
    uint64_t sum = XXH3_64bits(h, 120);
    for (int i = 0; i < 8; i++) h[120 + i] = (unsigned char)(sum >> (8 * i));
    patch(p, 0, h, 128);
    expect_verify(work, 5, "format version 2");
}

static void test_truncated_segment(void **state) {
    (void)state;
    copy_dir(good, work);
    char p[400];
    path_in(p, sizeof p, work, "00000000000000000001.ojl");
    assert_int_equal(truncate(p, 30000), 0);
    expect_verify(work, 6, "segment is 30000 bytes");
}

static void test_flipped_byte(void **state) {
    (void)state;
    copy_dir(good, work);
    char p[400];
    path_in(p, sizeof p, work, "00000000000000000001.ojl");
    unsigned char x = 0x5a;
    patch(p, 128 + 72 + 10, &x, 1); /* inside the first record's payload */
    expect_verify(work, 7, "checksum does not match");
    struct tu_run r = {0};
    RUN(&r, "journal", "verify", work);
    assert_true(said(&r, "at 00000000000000000001.ojl, byte offset 128, record 1"));
    tu_run_free(&r);
}

static void test_missing_segment(void **state) {
    (void)state;
    copy_dir(good, work);
    /* The second segment: the second name in sorted order. */
    struct dirent **names;
    int n = scandir(work, &names, NULL, alphasort);
    char second[300] = "";
    int seen = 0;
    for (int i = 0; i < n; i++) {
        if (strstr(names[i]->d_name, ".ojl") && ++seen == 2) FMT(second, "%s", names[i]->d_name);
        free(names[i]);
    }
    free(names);
    assert_true(second[0]);
    char p[700];
    path_in(p, sizeof p, work, second);
    assert_int_equal(unlink(p), 0);
    expect_verify(work, 9, "records are missing");
}

static void test_damaged_snapshot(void **state) {
    (void)state;
    copy_dir(good, work);
    char p[400];
    FMT(p, "%s/%020d.osn", work, RECORDS / 2 + 1);
    unsigned char x = 0xff;
    patch(p, 300, &x, 1);
    expect_verify(work, 10, "snapshot");
}

static int setup(void **state) {
    (void)state;
    if (!tu_mkdtemp(root, sizeof root, "ortak-cli")) return -1;
    FMT(good, "%s/good", root);
    FMT(work, "%s/work", root);
    make_journal(good);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    FMT(cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_journal_cli PATH-TO-ortak\n");
        return 2;
    }
    ortak_bin = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intact_journal_verifies), cmocka_unit_test(test_dump_and_replay),
        cmocka_unit_test(test_empty_and_foreign),       cmocka_unit_test(test_newer_version),
        cmocka_unit_test(test_truncated_segment),       cmocka_unit_test(test_flipped_byte),
        cmocka_unit_test(test_missing_segment),         cmocka_unit_test(test_damaged_snapshot),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
