/*
 * Replicated journal benchmark: durable replicated transfers per second, and the takeover time.
 *
 *   bench_replication --nats URLS [--transfers N] [--batch N] [--lease-ms N] [--dir DIR] [--quick]
 *
 * Needs a NATS JetStream cluster (scripts/nats-cluster start DIR). Two nodes in this process, each with its own
 * local journal directory and engine, on a stream of its own (deleted at the end):
 *   durable   the leader's sequencer with the JetStream backend, four submitting threads, batches of `batch`
 *             transfers: each batch is one stream message acknowledged by the stream (three replicas, file
 *             storage) before its transfers count; the follower applies the stream meanwhile
 *   takeover  the leader stops (no renewal, no write) at T0; the follower sees the lease expire, takes it,
 *             applies the stream to its end and makes its first batch durable at T1: T1 - T0
 * Figures only; correctness is checked (every transfer booked, the follower's state hash equal to the leader's).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ortak/journal.h"
#include "ortak/nats_journal.h"
#include "transfers.h"

#define SUBMITTERS 4

struct args {
    char dir[1024];
    const char *nats;
    uint64_t transfers;
    uint32_t batch, lease_ms;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "bench_replication: %s\n", what);
    exit(1);
}

static void sleep_ms(uint32_t ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void parse_args(int argc, char **argv, struct args *a) {
    *a = (struct args){.transfers = 1000000, .batch = 8190, .lease_ms = 1000};
    snprintf(a->dir, sizeof a->dir, "/tmp/ortak-bench-replication-%ld", (long)getpid());
    for (int i = 1; i < argc; i++) {
        uint64_t v;
        if (strcmp(argv[i], "--nats") == 0 && i + 1 < argc)
            a->nats = argv[++i];
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            snprintf(a->dir, sizeof a->dir, "%s", argv[++i]);
        else if (strcmp(argv[i], "--transfers") == 0 && i + 1 < argc && parse_u64(argv[++i], 1u << 27, &v) && v)
            a->transfers = v;
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc && parse_u64(argv[++i], ORTAK_BATCH_LIMIT, &v) && v)
            a->batch = (uint32_t)v;
        else if (strcmp(argv[i], "--lease-ms") == 0 && i + 1 < argc && parse_u64(argv[++i], 600000, &v) && v >= 300)
            a->lease_ms = (uint32_t)v;
        else if (strcmp(argv[i], "--quick") == 0)
            a->transfers = 100000;
        else
            die("usage: bench_replication --nats URLS [--transfers N] [--batch N] [--lease-ms N] [--dir DIR] "
                "[--quick]");
    }
    if (!a->nats) die("--nats URLS is required (scripts/nats-cluster start DIR; scripts/nats-cluster urls DIR)");
}

static void config(struct ortak_config *cfg, const struct args *a) {
    ortak_config_default(cfg);
    cfg->limits.accounts_max = ACCOUNTS + 16;
    cfg->limits.participants_max = ACCOUNTS + 16;
    cfg->limits.transfers_max = (uint32_t)(a->transfers * 2 + ACCOUNTS + 16 + 2 * ORTAK_BATCH_LIMIT);
    cfg->limits.history_max = 1u << 20;
    cfg->limits.batch_max = ORTAK_BATCH_LIMIT;
}

/* ---- a node: local journal, engine, JetStream handle, sequencer -------------------------------------------- */

struct node {
    char dir[1100];
    struct ortak_nats *nats;
    struct ortak_sequencer *seq;
    atomic_uint inflight;
    uint64_t next; /* following: the next record */
    char holder[32];
    uint64_t rev;
    uint32_t lease_ms;
};

static void node_open(struct node *n, const struct args *a, const char *name, const char *stream) {
    snprintf(n->dir, sizeof n->dir, "%s/%s", a->dir, name);
    if (mkdir(n->dir, 0750) != 0 && errno != EEXIST) die("cannot create a node directory");
    struct ortak_config cfg;
    config(&cfg, a);
    struct ortak_journal_options jo = {.create = true};
    struct ortak_engine *e;
    struct ortak_journal *j;
    struct ortak_recovery rep;
    struct ortak_journal_problem p;
    if (ortak_recover(n->dir, &cfg, &jo, &e, &j, &rep, &p) != ORTAK_OK) die(p.message);
    char err[512];
    struct ortak_nats_options o = {.servers = a->nats, .stream = stream, .lease_ms = a->lease_ms};
    if (ortak_nats_open(&o, j, &n->nats, err, sizeof err) != ORTAK_OK) die(err);
    struct ortak_sequencer_options so = {.backend = ortak_nats_backend(n->nats)};
    if (ortak_sequencer_start(e, j, n->dir, &so, &n->seq) != ORTAK_OK) die("sequencer");
    snprintf(n->holder, sizeof n->holder, "%s bench", name);
    n->next = 1;
    n->lease_ms = a->lease_ms;
}

static void node_close(struct node *n) {
    struct ortak_engine *e;
    struct ortak_journal *j;
    ortak_nats_fence(n->nats);
    ortak_sequencer_stop(n->seq, &e, &j);
    ortak_nats_close(n->nats);
    ortak_journal_close(j);
    ortak_engine_close(e);
}

struct copy {
    struct node *n;
    struct ortak_nats_record rec;
};

static void copy_done(void *ctx, ortak_rc rc) {
    struct copy *c = ctx;
    if (rc != ORTAK_OK) die("a follower could not apply a record");
    atomic_fetch_sub(&c->n->inflight, 1);
    ortak_nats_record_free(&c->rec);
    free(c);
}

/* Hands every record the stream delivers within `wait_ms` to the node's sequencer. Returns how many. */
static uint32_t follow(struct node *n, uint32_t wait_ms) {
    uint32_t got = 0;
    for (;;) {
        struct copy *c = calloc(1, sizeof *c);
        bool found = false;
        char err[256];
        if (!c) die("out of memory");
        c->n = n;
        ortak_rc rc = ortak_nats_next(n->nats, n->next, got ? 0 : wait_ms, &found, &c->rec, err, sizeof err);
        if (rc == ORTAK_CORRUPT) die(err);
        if (rc != ORTAK_OK || !found) {
            free(c);
            return got;
        }
        atomic_fetch_add(&n->inflight, 1);
        if (ortak_sequencer_submit_record(n->seq, &c->rec.head, c->rec.payload, c->rec.len, copy_done, c) != ORTAK_OK)
            die("submit_record");
        n->next++;
        got++;
    }
}

/* ---- the leader's side ------------------------------------------------------------------------------------- */

struct background {
    struct node *leader, *follower;
    atomic_bool stop, leader_dead;
};

/* The leader renews its lease; the follower follows. Until stop. */
static void *background_main(void *p) {
    struct background *bg = p;
    double renew_at = now_s();
    while (!atomic_load(&bg->stop)) {
        if (!atomic_load(&bg->leader_dead) && now_s() >= renew_at) {
            if (ortak_nats_lease_renew(bg->leader->nats, bg->leader->holder, &bg->leader->rev) == ORTAK_NOT_LEADER)
                die("the leader lost its lease during the load");
            renew_at = now_s() + bg->leader->lease_ms / 4000.0;
        }
        follow(bg->follower, 20);
    }
    return NULL;
}

static void state_hash(const struct ortak_engine *e, void *out) { ortak_engine_state_hash(e, out); }

static void wait_applied(struct node *n) {
    while (atomic_load(&n->inflight) > 0) sleep_ms(1);
}

/* Leader `a` writes the set-up and `transfers` transfers in batches; follower `b` applies them meanwhile. */
static void bench_durable(const struct args *a, struct node *lead, struct node *fol, struct background *bg,
                          pthread_t *bt) {
    if (ortak_nats_lease_take(lead->nats, lead->holder, &lead->rev) != ORTAK_OK) die("lease");
    ortak_nats_lead(lead->nats);
    pthread_create(bt, NULL, background_main, bg);
    struct ortak_cmd *c = calloc(3 + 3 * ACCOUNTS, sizeof *c);
    struct ortak_result *r = calloc(3 + 3 * ACCOUNTS, sizeof *r);
    if (!c || !r) die("out of memory");
    uint32_t n = setup_cmds(c);
    for (uint32_t off = 0; off < n; off += 999)
        ortak_sequencer_submit(lead->seq, c + off, n - off < 999 ? n - off : 999, r + off, NULL);
    free(c);
    free(r);
    struct submitter sb[SUBMITTERS];
    pthread_t t[SUBMITTERS];
    double t0 = now_s();
    for (int i = 0; i < SUBMITTERS; i++) {
        sb[i] = (struct submitter){.s = lead->seq,
                                   .transfers = a->transfers / SUBMITTERS,
                                   .batch = a->batch,
                                   .id_base = (uint64_t)(i + 1) << 40};
        pthread_create(&t[i], NULL, submit_main, &sb[i]);
    }
    uint64_t failed = 0;
    for (int i = 0; i < SUBMITTERS; i++) {
        pthread_join(t[i], NULL);
        failed += sb[i].failed;
    }
    double s = now_s() - t0;
    uint64_t total = a->transfers / SUBMITTERS * SUBMITTERS;
    if (failed) die("some transfers failed");
    struct ortak_sequencer_stats st;
    ortak_sequencer_stats_get(lead->seq, &st);
    printf("durable replicated (R3, file)  %10llu transfers %8.3f s %12.0f transfers/s  (%llu batches, %.1f ms "
           "each)\n",
           (unsigned long long)total, s, (double)total / s, (unsigned long long)st.batches,
           st.batches ? s * 1000.0 / (double)st.batches : 0.0);
    fflush(stdout);
    /* the follower reaches the leader's last record with the same state */
    struct ortak_journal_head lh, fh;
    ortak_nats_head(lead->nats, &lh);
    double until = now_s() + 60;
    do {
        sleep_ms(10);
        ortak_nats_head(fol->nats, &fh);
    } while (fh.seq < lh.seq && now_s() < until);
    wait_applied(fol);
    uint8_t h1[32], h2[32];
    ortak_sequencer_query(lead->seq, state_hash, h1);
    ortak_sequencer_query(fol->seq, state_hash, h2);
    if (fh.seq != lh.seq || memcmp(h1, h2, 32) != 0) die("the follower's state differs from the leader's");
    printf("follower                        at record %llu %.3f s after the last batch, same state hash\n",
           (unsigned long long)fh.seq, now_s() - t0 - s);
}

/* The leader stops at T0; the follower takes over and makes a batch durable at T1. */
static void bench_takeover(const struct args *a, struct node *lead, struct node *fol, struct background *bg,
                           pthread_t bt) {
    double t0 = now_s();
    atomic_store(&bg->leader_dead, true);
    ortak_nats_fence(lead->nats); /* dead: no renewal, no write */
    uint32_t check_ms = a->lease_ms / 4;
    for (;;) {
        char holder[256];
        uint64_t rev;
        if (ortak_nats_lease_get(fol->nats, holder, sizeof holder, &rev) == ORTAK_OK && !holder[0] &&
            ortak_nats_lease_take(fol->nats, fol->holder, &fol->rev) == ORTAK_OK)
            break;
        sleep_ms(check_ms);
    }
    double t_lease = now_s() - t0;
    atomic_store(&bg->stop, true);
    pthread_join(bt, NULL);
    for (;;) { /* the stream to its end */
        follow(fol, 20);
        wait_applied(fol);
        uint64_t first, last;
        struct ortak_journal_head head;
        ortak_nats_head(fol->nats, &head);
        if (ortak_nats_bounds(fol->nats, &first, &last) == ORTAK_OK && last == head.seq) break;
    }
    ortak_nats_unfollow(fol->nats);
    ortak_nats_lead(fol->nats);
    struct ortak_cmd c[16];
    struct ortak_result r[16];
    uint64_t next_id = UINT64_C(9) << 40, rng = 9;
    fill_transfers(c, 16, &next_id, &rng);
    if (ortak_sequencer_submit(fol->seq, c, 16, r, NULL) != ORTAK_OK || r[0].rc != ORTAK_OK)
        die("the new leader could not write");
    double t1 = now_s() - t0;
    printf("takeover (lease %u ms)            lease taken after %.0f ms, first durable batch after %.0f ms\n",
           a->lease_ms, t_lease * 1000, t1 * 1000);
}

static void remove_dir(const char *dir) {
    char cmd[2100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_replication: could not remove %s\n", dir);
}

int main(int argc, char **argv) {
    struct args a;
    parse_args(argc, argv, &a);
    if (mkdir(a.dir, 0750) != 0 && errno != EEXIST) die("cannot create the directory");
    char stream[64];
    snprintf(stream, sizeof stream, "BENCH%ld_%ld", (long)getpid(), (long)time(NULL));
    static struct node lead, fol;
    node_open(&lead, &a, "a", stream);
    node_open(&fol, &a, "b", stream);
    printf("bench_replication: %ld cores, batches of %u, stream %s on %s\n", sysconf(_SC_NPROCESSORS_ONLN), a.batch,
           stream, a.nats);
    struct background bg = {.leader = &lead, .follower = &fol};
    pthread_t bt;
    bench_durable(&a, &lead, &fol, &bg, &bt);
    bench_takeover(&a, &lead, &fol, &bg, bt);
    ortak_nats_delete(fol.nats); /* the stream and its buckets: this run's alone */
    node_close(&fol);
    node_close(&lead);
    ortak_nats_shutdown();
    remove_dir(a.dir);
    return 0;
}
