/*
 * Journal benchmark: durable transfers per second and replay transfers per second.
 *
 *   bench_journal [--dir DIR] [--transfers N] [--batch N] [--json]
 *
 * durable   batches of `batch` transfers encoded, appended and synced one batch per sync (fdatasync), the worst
 *           case for group commit; then the same through the sequencer with four submitting threads, which adds
 *           the engine applying every batch after it is durable
 * replay    a fresh engine (opened before timing) rebuilt from the journal: read, checksum, hash chain, decode,
 *           apply
 *
 * Figures only; correctness is checked (every transfer booked, replayed state equal to the live state).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ortak/journal.h"
#include "transfers.h"

struct args {
    char dir[1024];
    uint64_t transfers;
    uint32_t batch;
    bool json;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "bench_journal: %s\n", what);
    exit(1);
}

static void parse_args(int argc, char **argv, struct args *a) {
    *a = (struct args){.transfers = 2000000, .batch = 8190};
    snprintf(a->dir, sizeof a->dir, "bench-journal.%d", (int)getpid());
    for (int i = 1; i < argc; i++) {
        uint64_t v;
        if (strcmp(argv[i], "--json") == 0)
            a->json = true;
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            snprintf(a->dir, sizeof a->dir, "%s", argv[++i]);
        else if (strcmp(argv[i], "--transfers") == 0 && i + 1 < argc && parse_u64(argv[++i], 1u << 27, &v) && v)
            a->transfers = v;
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc && parse_u64(argv[++i], ORTAK_BATCH_LIMIT, &v) && v)
            a->batch = (uint32_t)v;
        else
            die("usage: bench_journal [--dir DIR] [--transfers N] [--batch N] [--json]");
    }
}

static void config(struct ortak_config *cfg, const struct args *a) {
    ortak_config_default(cfg);
    cfg->limits.accounts_max = ACCOUNTS + 16;
    cfg->limits.participants_max = ACCOUNTS + 16;
    cfg->limits.transfers_max = (uint32_t)(a->transfers * 2 + ACCOUNTS + 16);
    cfg->limits.history_max = 1u << 20;
    cfg->limits.batch_max = ORTAK_BATCH_LIMIT;
}

static void report(const struct args *a, const char *what, uint64_t n, double s) {
    if (a->json)
        printf("{\"bench\":\"journal\",\"scenario\":\"%s\",\"transfers\":%llu,\"seconds\":%.4f,"
               "\"transfers_per_second\":%.0f}\n",
               what, (unsigned long long)n, s, (double)n / s);
    else
        printf("%-34s %10llu transfers %8.3f s %12.0f transfers/s\n", what, (unsigned long long)n, s, (double)n / s);
}

/* Journal alone: encode, append and sync, one sync per batch. */
static void bench_durable(const struct args *a, const char *dir) {
    struct ortak_journal_options jo = {.create = true};
    struct ortak_journal *j;
    struct ortak_journal_problem p;
    if (ortak_journal_open(dir, &jo, 0, NULL, NULL, &j, &p) != ORTAK_OK) die(p.message);
    struct ortak_cmd *c =
        calloc(ORTAK_BATCH_LIMIT > 3 + 3 * ACCOUNTS ? ORTAK_BATCH_LIMIT : 3 + 3 * ACCOUNTS, sizeof *c);
    unsigned char *buf = malloc(ortak_batch_encoded_size_max(ORTAK_BATCH_LIMIT));
    uint64_t seq, next_id = 0, rng = 42, ts = 1;
    uint32_t n = setup_cmds(c);
    for (uint32_t i = 0; i < n; i++) c[i].timestamp = ts;
    size_t len = ortak_batch_encode(c, n, buf, ortak_batch_encoded_size_max(n));
    if (ortak_journal_append(j, ts, buf, (uint32_t)len, &seq) != ORTAK_OK) die("append");
    ortak_journal_sync(j);
    double t0 = now_s();
    for (uint64_t done = 0; done < a->transfers; done += n) {
        n = (uint32_t)(a->transfers - done < a->batch ? a->transfers - done : a->batch);
        fill_transfers(c, n, &next_id, &rng);
        ts++;
        for (uint32_t i = 0; i < n; i++) c[i].timestamp = ts;
        len = ortak_batch_encode(c, n, buf, ortak_batch_encoded_size_max(n));
        if (ortak_journal_append(j, ts, buf, (uint32_t)len, &seq) != ORTAK_OK) die("append");
        ortak_journal_sync(j);
    }
    report(a, "durable: journal, 1 sync per batch", a->transfers, now_s() - t0);
    ortak_journal_close(j);
    free(c);
    free(buf);
}

/* The whole path: sequencer, journal with group commit, engine. Returns the live state hash. */
static void bench_pipeline(const struct args *a, const char *dir, uint8_t live[32]) {
    struct ortak_config cfg;
    config(&cfg, a);
    struct ortak_journal_options jo = {.create = true};
    struct ortak_engine *e;
    struct ortak_journal *j;
    struct ortak_recovery rep;
    struct ortak_journal_problem p;
    if (ortak_recover(dir, &cfg, &jo, &e, &j, &rep, &p) != ORTAK_OK) die(p.message);
    struct ortak_sequencer *s;
    if (ortak_sequencer_start(e, j, dir, NULL, &s) != ORTAK_OK) die("sequencer");
    struct ortak_cmd *c = calloc(3 + 3 * ACCOUNTS, sizeof *c);
    struct ortak_result *r = calloc(3 + 3 * ACCOUNTS, sizeof *r);
    uint32_t n = setup_cmds(c);
    for (uint32_t off = 0; off < n; off += 999) /* setup in batches that stay well under batch_max */
        ortak_sequencer_submit(s, c + off, n - off < 999 ? n - off : 999, r + off, NULL);
    enum { SUBMITTERS = 4 };
    struct submitter sb[SUBMITTERS];
    pthread_t t[SUBMITTERS];
    double t0 = now_s();
    for (int i = 0; i < SUBMITTERS; i++) {
        sb[i] = (struct submitter){s, a->transfers / SUBMITTERS, a->batch, (uint64_t)(i + 1) << 40, 0};
        pthread_create(&t[i], NULL, submit_main, &sb[i]);
    }
    uint64_t failed = 0;
    for (int i = 0; i < SUBMITTERS; i++) {
        pthread_join(t[i], NULL);
        failed += sb[i].failed;
    }
    report(a, "durable: sequencer + engine, 4 thr", a->transfers / SUBMITTERS * SUBMITTERS, now_s() - t0);
    if (failed) die("some transfers failed");
    ortak_sequencer_stop(s, &e, &j);
    ortak_engine_state_hash(e, live);
    ortak_journal_close(j);
    ortak_engine_close(e);
    free(c);
    free(r);
}

struct replay {
    struct ortak_engine *e;
    struct ortak_cmd *cmds;
    struct ortak_result *results;
    uint64_t commands;
};

static int replay_record(void *ctx, const struct ortak_journal_record *rec, char *why, size_t why_cap) {
    struct replay *r = ctx;
    uint32_t n;
    if (ortak_batch_decode(rec->payload, rec->len, r->cmds, ORTAK_BATCH_LIMIT, &n) != ORTAK_OK ||
        ortak_engine_apply(r->e, r->cmds, n, r->results) != ORTAK_OK) {
        snprintf(why, why_cap, "cannot apply record");
        return 1;
    }
    r->commands += n;
    return 0;
}

/* Replay alone: the engine is opened (its memory taken) before the clock starts. */
static void bench_replay(const struct args *a, const char *dir, const uint8_t live[32]) {
    struct ortak_config cfg;
    config(&cfg, a);
    struct replay r = {0};
    if (ortak_engine_open(&cfg, &r.e) != ORTAK_OK) die("engine open");
    r.cmds = calloc(ORTAK_BATCH_LIMIT, sizeof *r.cmds);
    r.results = calloc(ORTAK_BATCH_LIMIT, sizeof *r.results);
    struct ortak_journal_problem p;
    double t0 = now_s();
    if (ortak_journal_scan(dir, NULL, 0, replay_record, &r, NULL, NULL, &p) != ORTAK_OK) die(p.message);
    report(a, "replay: read, verify, decode, apply", r.commands, now_s() - t0);
    uint8_t h[32];
    ortak_engine_state_hash(r.e, h);
    if (memcmp(h, live, 32) != 0) die("replayed state differs from the live state");
    ortak_engine_close(r.e);
    free(r.cmds);
    free(r.results);
}

static void remove_dir(const char *dir) {
    char cmd[2100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_journal: could not remove %s\n", dir);
}

int main(int argc, char **argv) {
    struct args a;
    parse_args(argc, argv, &a);
    if (mkdir(a.dir, 0750) != 0 && errno != EEXIST) die("cannot create the directory");
    char d1[1100], d2[1100];
    snprintf(d1, sizeof d1, "%s/journal-only", a.dir);
    snprintf(d2, sizeof d2, "%s/pipeline", a.dir);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (!a.json) printf("bench_journal: %ld cores, batches of %u, directory %s\n", cpus, a.batch, a.dir);
    bench_durable(&a, d1);
    uint8_t live[32];
    bench_pipeline(&a, d2, live);
    bench_replay(&a, d2, live);
    remove_dir(a.dir);
    return 0;
}
