/*
 * Replication: this ortakd's role in a cluster sharing one replicated journal (ortak/nats_journal.h,
 * docs/operations.md "Replication").
 *
 * A node is a follower or the leader. The replica thread runs the roles:
 *   follower: reads the stream from the record after its local journal's head and hands each record to the
 *     sequencer (ortak_sequencer_submit_record), which journals it locally and applies it to the engine exactly as
 *     recovery would, so that the outbox and every other event consumer see the same events as on the leader. It
 *     looks at the lease every lease/4: when nobody holds it, it takes it, applies the stream to its end, and only
 *     then starts writing (and runs the first-start bootstrap when the engine lacks the operator).
 *   leader: renews the lease by compare-and-set every lease/4. It steps down (back to follower) when the stream
 *     refuses a record (another writer), when the lease's revision moved, or when it could not renew before
 *     lease - margin after its last successful renewal: it stops writing before any other node can see the lease
 *     expire. Requests waiting on refused batches are answered 503 not_leader, never acknowledged.
 * HTTP: writes are refused on a follower with 503 not_leader naming the leader's advertised URL; reads are served
 * from the follower's engine.
 *
 * State hash: every `state_hash_every` records each node hashes its engine state (on the engine thread, right after
 * the record is applied); the leader sends its latest in the next message, and followers compare it with theirs
 * at the same record: ortak_replication_state_hash_match in /metrics, and GET /v1/replication.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "ortak/nats_journal.h"
#include "server.h"

#define HASH_RING 64
#define INFLIGHT_MAX 64 /* records handed to the sequencer and not yet applied */
#define LEASE_MARGIN_DIV 5
#define TRIM_EVERY_MS 10000 /* how often a node notes its newest snapshot, and the leader trims the stream */

enum role { ROLE_FOLLOWER = 0, ROLE_LEADER = 1 };

struct hash_mark {
    uint64_t seq;
    uint8_t hash[32];
};

struct replica {
    struct server *s;
    struct ortak_nats *nats;
    const struct srv_replication *cfg;
    char holder[SRV_PATH_MAX + 80]; /* "node url": the lease's value when this node leads */
    void (*on_lead)(struct server *s);
    pthread_t thread;
    bool started;
    atomic_bool stop;
    atomic_int role;

    pthread_mutex_t mu; /* guards what follows */
    pthread_cond_t cv;
    char leader[SRV_PATH_MAX + 80]; /* the lease holder as last seen */
    uint64_t lease_rev;
    uint32_t inflight;
    uint64_t next_seq;    /* follower: the next record to read */
    uint64_t applied_seq; /* the last record applied (follower's copies and leader's batches alike) */
    uint64_t stream_last; /* the stream's last record as last seen */
    struct hash_mark own[HASH_RING], claimed[HASH_RING];
    uint32_t own_n, claimed_n;
    uint64_t hash_checked_seq;
    int hash_match; /* 1 equal, 0 different, -1 not compared yet */
    uint64_t hash_checks, hash_mismatches, takeovers, stepdowns;
    uint64_t trim_at_ms, snapshot_noted; /* the replica thread's; noted UINT64_MAX: not yet */
};

static _Thread_local bool tl_not_leader;

static uint64_t mono_ms(void) { return srv_mono_ns() / 1000000; }

static void sleep_ms(uint32_t ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* ---- configuration ----------------------------------------------------------------------------------------- */

int replica_conf_key(struct srv_replication *c, const char *k, const char *v, char *msg, size_t cap) {
    c->enabled = true;
    struct {
        const char *name;
        char *out;
        size_t cap;
    } strs[] = {
        {"nats", c->nats, sizeof c->nats},
        {"stream", c->stream, sizeof c->stream},
        {"node", c->node, sizeof c->node},
        {"advertise_url", c->advertise_url, sizeof c->advertise_url},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (strcmp(k, strs[i].name) != 0) continue;
        if (strlen(v) >= strs[i].cap || !v[0]) {
            snprintf(msg, cap, "[replication] %s: 1 to %zu characters", k, strs[i].cap - 1);
            return 0;
        }
        memcpy(strs[i].out, v, strlen(v) + 1);
        return 1;
    }
    struct {
        const char *name;
        uint32_t *out, min, max;
    } nums[] = {
        {"lease_ms", &c->lease_ms, 300, 600000},
        {"replicas", &c->replicas, 1, 5},
        {"state_hash_every", &c->state_hash_every, 1, 1000000},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        if (strcmp(k, nums[i].name) != 0) continue;
        char *end = NULL;
        unsigned long long n = strtoull(v, &end, 10);
        if (!v[0] || *end || v[0] == '-' || n < nums[i].min || n > nums[i].max) {
            snprintf(msg, cap, "[replication] %s: %u..%u", k, nums[i].min, nums[i].max);
            return 0;
        }
        *nums[i].out = (uint32_t)n;
        return 1;
    }
    snprintf(msg, cap, "unknown key in [replication]: %s", k);
    return 0;
}

int replica_conf_check(const struct srv_replication *c, char *msg, size_t cap) {
    if (!c->enabled) return 0;
    if (!c->nats[0] || !c->node[0]) {
        snprintf(msg, cap, "[replication] needs nats and node");
        return -1;
    }
    for (const char *p = c->node; *p; p++) {
        bool ok =
            (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_';
        if (!ok) {
            snprintf(msg, cap, "[replication] node: letters, digits, '-' and '_' only");
            return -1;
        }
    }
    for (const char *p = c->stream; *p; p++) {
        bool ok =
            (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_';
        if (!ok) {
            snprintf(msg, cap, "[replication] stream: letters, digits, '-' and '_' only");
            return -1;
        }
    }
    return 0;
}

void replica_conf_defaults(struct srv_replication *c) {
    snprintf(c->stream, sizeof c->stream, "ORTAK");
    c->lease_ms = 3000;
    c->replicas = 3;
    c->state_hash_every = 1000;
}

/* ---- the state hash ---------------------------------------------------------------------------------------- */

static const struct hash_mark *ring_find(const struct hash_mark *ring, uint32_t n, uint64_t seq) {
    for (uint32_t i = 0; i < n && i < HASH_RING; i++) {
        if (ring[i].seq == seq) return &ring[i];
    }
    return NULL;
}

/* Compares the newest record both rings know. Called with mu held. */
static void hash_compare(struct replica *rp) {
    for (uint32_t i = 0; i < rp->claimed_n && i < HASH_RING; i++) {
        const struct hash_mark *c = &rp->claimed[i];
        if (c->seq <= rp->hash_checked_seq) continue;
        const struct hash_mark *o = ring_find(rp->own, rp->own_n, c->seq);
        if (!o) continue;
        rp->hash_checked_seq = c->seq;
        rp->hash_checks++;
        rp->hash_match = memcmp(o->hash, c->hash, 32) == 0;
        if (!rp->hash_match) {
            rp->hash_mismatches++;
            ortak_log_error("replica", "state hash after record %llu differs from the leader's",
                            (unsigned long long)c->seq);
        }
    }
}

static void ring_add(struct hash_mark *ring, uint32_t *n, uint64_t seq, const uint8_t hash[32]) {
    struct hash_mark *m = &ring[*n % HASH_RING];
    m->seq = seq;
    memcpy(m->hash, hash, 32);
    (*n)++;
}

void replica_on_batch(struct replica *rp, const struct ortak_engine *e, uint64_t seq) {
    pthread_mutex_lock(&rp->mu);
    if (seq > rp->applied_seq) rp->applied_seq = seq;
    pthread_mutex_unlock(&rp->mu);
    if (seq % rp->cfg->state_hash_every != 0) return;
    uint8_t h[32];
    ortak_engine_state_hash(e, h);
    pthread_mutex_lock(&rp->mu);
    ring_add(rp->own, &rp->own_n, seq, h);
    hash_compare(rp);
    pthread_mutex_unlock(&rp->mu);
    if (atomic_load(&rp->role) == ROLE_LEADER) ortak_nats_state_set(rp->nats, seq, h);
}

/* ---- following --------------------------------------------------------------------------------------------- */

struct copy {
    struct replica *rp;
    struct ortak_nats_record rec;
};

static void copy_done(void *ctx, ortak_rc rc) {
    struct copy *c = ctx;
    struct replica *rp = c->rp;
    if (rc != ORTAK_OK) {
        /* the stream's record does not continue this node's journal: nothing sane can follow */
        ortak_log_error("replica", "record %llu from the stream cannot be applied here (%s): stopping",
                        (unsigned long long)c->rec.head.seq, ortak_rc_str(rc));
        fflush(stderr);
        _exit(ORTAK_EXIT_DIVERGED);
    }
    pthread_mutex_lock(&rp->mu);
    if (c->rec.has_state) {
        ring_add(rp->claimed, &rp->claimed_n, c->rec.state_seq, c->rec.state_hash);
        hash_compare(rp);
    }
    rp->inflight--;
    pthread_cond_broadcast(&rp->cv);
    pthread_mutex_unlock(&rp->mu);
    ortak_nats_record_free(&c->rec);
    free(c);
}

/* A follower's copy of the leader's inbound messages: their MsgIds stay refused here too, after a takeover. */
static void msg_id_seen(void *ctx, const char *sender, const char *msg_id) {
    struct server *s = ctx;
    pthread_mutex_lock(&s->seen_mu);
    ortak_iso_seen_add(s->seen, sender, msg_id);
    pthread_mutex_unlock(&s->seen_mu);
}

static uint8_t *inbound_take(void *ctx, size_t *len) {
    return inbound_take_replicated(((struct server *)ctx)->inbound, len);
}

/* Reads and hands over up to `max` records. Returns how many; -1 when NATS did not answer. */
static int follow_some(struct replica *rp, uint32_t max) {
    int got = 0;
    for (uint32_t i = 0; i < max && !atomic_load(&rp->stop); i++) {
        pthread_mutex_lock(&rp->mu);
        while (rp->inflight >= INFLIGHT_MAX) pthread_cond_wait(&rp->cv, &rp->mu);
        uint64_t seq = rp->next_seq;
        pthread_mutex_unlock(&rp->mu);
        struct copy *c = calloc(1, sizeof *c);
        if (!c) return got;
        c->rp = rp;
        bool found = false;
        char err[256];
        ortak_rc rc = ortak_nats_next(rp->nats, seq, i == 0 ? 20 : 0, &found, &c->rec, err, sizeof err);
        if (rc != ORTAK_OK || !found) {
            free(c);
            if (rc == ORTAK_CORRUPT) {
                ortak_log_error("replica", "%s: stopping", err);
                fflush(stderr);
                _exit(ORTAK_EXIT_DIVERGED);
            }
            if (rc == ORTAK_IO) ortak_log_warn("replica", "%s", err);
            return rc == ORTAK_OK ? got : -1;
        }
        if (c->rec.attach_len &&
            inbound_add_records(rp->s->inbound, c->rec.attach, c->rec.attach_len, msg_id_seen, rp->s) != 0) {
            ortak_log_error("replica", "record %llu carries inbound messages that cannot be read: stopping",
                            (unsigned long long)seq);
            fflush(stderr);
            _exit(ORTAK_EXIT_DIVERGED);
        }
        pthread_mutex_lock(&rp->mu);
        rp->inflight++;
        rp->next_seq = seq + 1;
        if (seq > rp->stream_last) rp->stream_last = seq;
        pthread_mutex_unlock(&rp->mu);
        if (ortak_sequencer_submit_record(rp->s->seq, &c->rec.head, c->rec.payload, c->rec.len, copy_done, c) !=
            ORTAK_OK) {
            ortak_log_error("replica", "out of memory");
            fflush(stderr);
            _exit(3);
        }
        got++;
    }
    return got;
}

static void wait_applied(struct replica *rp) {
    pthread_mutex_lock(&rp->mu);
    while (rp->inflight > 0) pthread_cond_wait(&rp->cv, &rp->mu);
    pthread_mutex_unlock(&rp->mu);
}

/* ---- leading ----------------------------------------------------------------------------------------------- */

static void step_down(struct replica *rp, const char *why) {
    atomic_store(&rp->role, ROLE_FOLLOWER);
    inbound_replicate(rp->s->inbound, false);
    ortak_nats_fence(rp->nats);
    wait_applied(rp); /* records handed over while taking over: the local journal's head is after them */
    struct ortak_journal_head head;
    ortak_nats_head(rp->nats, &head);
    pthread_mutex_lock(&rp->mu);
    rp->next_seq = head.seq + 1;
    rp->stepdowns++;
    pthread_mutex_unlock(&rp->mu);
    ortak_log_warn("replica", "%s: no longer the leader, following from record %llu", why,
                   (unsigned long long)head.seq + 1);
}

static void snapshots_and_trim(struct replica *rp);

static bool lease_renew(struct replica *rp, uint64_t *deadline_ms) {
    uint64_t t0 = mono_ms();
    pthread_mutex_lock(&rp->mu);
    uint64_t rev = rp->lease_rev;
    pthread_mutex_unlock(&rp->mu);
    ortak_rc rc = ortak_nats_lease_renew(rp->nats, rp->holder, &rev);
    if (rc == ORTAK_OK) {
        pthread_mutex_lock(&rp->mu);
        rp->lease_rev = rev;
        pthread_mutex_unlock(&rp->mu);
        *deadline_ms = t0 + rp->cfg->lease_ms - rp->cfg->lease_ms / LEASE_MARGIN_DIV;
        return true;
    }
    if (rc == ORTAK_NOT_LEADER) {
        *deadline_ms = 0;
        return false;
    }
    return mono_ms() < *deadline_ms;
}

/* Holding the lease: applies the stream to its end, then writes. Returns false when the lease was lost first. */
static bool take_over(struct replica *rp, uint64_t deadline_ms) {
    uint64_t t0 = mono_ms(), renew_at = t0 + rp->cfg->lease_ms / 4;
    struct ortak_journal_head from;
    ortak_nats_head(rp->nats, &from);
    for (;;) {
        if (atomic_load(&rp->stop)) return false;
        int got = follow_some(rp, 256);
        if (mono_ms() >= renew_at) {
            if (!lease_renew(rp, &deadline_ms)) return false;
            renew_at = mono_ms() + rp->cfg->lease_ms / 4;
        }
        if (got > 0) continue;
        wait_applied(rp);
        uint64_t first, last;
        if (ortak_nats_bounds(rp->nats, &first, &last) != ORTAK_OK) continue;
        struct ortak_journal_head head;
        ortak_nats_head(rp->nats, &head);
        if (last == head.seq) break;
    }
    struct ortak_journal_head head;
    ortak_nats_head(rp->nats, &head);
    ortak_log_info("replica", "applied records %llu to %llu in %llu ms", (unsigned long long)from.seq + 1,
                   (unsigned long long)head.seq, (unsigned long long)(mono_ms() - t0));
    if (mono_ms() >= deadline_ms) return false;
    ortak_nats_unfollow(rp->nats);
    inbound_replicate(rp->s->inbound, true);
    ortak_nats_lead(rp->nats);
    pthread_mutex_lock(&rp->mu);
    snprintf(rp->leader, sizeof rp->leader, "%s", rp->holder);
    rp->takeovers++;
    pthread_mutex_unlock(&rp->mu);
    atomic_store(&rp->role, ROLE_LEADER);
    ortak_log_info("replica", "node %s leads from record %llu", rp->cfg->node, (unsigned long long)head.seq);
    if (rp->on_lead) rp->on_lead(rp->s);
    return true;
}

static void lead(struct replica *rp, uint64_t deadline_ms) {
    uint32_t every = rp->cfg->lease_ms / 4;
    uint64_t renew_at = mono_ms() + every;
    while (!atomic_load(&rp->stop)) {
        uint64_t now = mono_ms();
        uint32_t wait = renew_at > now ? (uint32_t)(renew_at - now) : 0;
        if (ortak_nats_wait_refused(rp->nats, wait > 50 ? 50 : wait)) {
            step_down(rp, "the stream refused a record");
            return;
        }
        if (mono_ms() < renew_at) continue;
        snapshots_and_trim(rp);
        if (!lease_renew(rp, &deadline_ms)) {
            step_down(rp, deadline_ms ? "the lease was not renewed in time" : "another node took the lease");
            return;
        }
        /* a failed renewal is retried soon, until the deadline */
        renew_at = mono_ms() + (deadline_ms > mono_ms() + every ? every : 50);
    }
}

/* ---- snapshots and trimming -------------------------------------------------------------------------------- */

/* The last record of the newest snapshot in the journal directory (0: none). */
static uint64_t newest_snapshot(const char *dir) {
    DIR *d = opendir(dir);
    uint64_t best = 0;
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d));) {
        const char *n = e->d_name;
        size_t len = strlen(n);
        if (len != 24 || strcmp(n + 20, ".osn") != 0) continue;
        uint64_t v = 0;
        bool ok = true;
        for (int i = 0; i < 20; i++) {
            if (n[i] < '0' || n[i] > '9') ok = false;
            v = v * 10 + (uint64_t)(n[i] - '0');
        }
        if (ok && v > best) best = v;
    }
    closedir(d);
    return best;
}

/* Every node says which records it can rebuild from its own snapshot; the leader drops the records before the
 * oldest such snapshot of all nodes (a node that never said anything holds the stream back from being trimmed
 * only after it said so once: a brand-new node starts from a copy of another's journal). */
static void snapshots_and_trim(struct replica *rp) {
    if (mono_ms() < rp->trim_at_ms) return;
    rp->trim_at_ms = mono_ms() + TRIM_EVERY_MS;
    uint64_t snap = newest_snapshot(rp->s->journal_dir);
    if (snap != rp->snapshot_noted && ortak_nats_snapshot_note(rp->nats, rp->cfg->node, snap) == ORTAK_OK)
        rp->snapshot_noted = snap;
    if (atomic_load(&rp->role) != ROLE_LEADER) return;
    uint64_t min = 0, first = 0, last = 0;
    if (ortak_nats_snapshot_min(rp->nats, &min) != ORTAK_OK || min == 0) return;
    if (ortak_nats_bounds(rp->nats, &first, &last) != ORTAK_OK || min + 1 <= first) return;
    if (ortak_nats_trim(rp->nats, min + 1) == ORTAK_OK)
        ortak_log_info("replica",
                       "stream trimmed: records before %llu dropped (every node has a snapshot at %llu "
                       "or later)",
                       (unsigned long long)min + 1, (unsigned long long)min);
}

static void *replica_main(void *arg) {
    struct replica *rp = arg;
    uint64_t check_at = 0;
    while (!atomic_load(&rp->stop)) {
        snapshots_and_trim(rp);
        int got = follow_some(rp, 256);
        if (mono_ms() >= check_at) {
            check_at = mono_ms() + rp->cfg->lease_ms / 4;
            char holder[sizeof rp->leader];
            uint64_t rev = 0, first, last;
            if (ortak_nats_bounds(rp->nats, &first, &last) == ORTAK_OK) {
                pthread_mutex_lock(&rp->mu);
                rp->stream_last = last;
                pthread_mutex_unlock(&rp->mu);
            }
            if (ortak_nats_lease_get(rp->nats, holder, sizeof holder, &rev) != ORTAK_OK) continue;
            if (holder[0]) {
                pthread_mutex_lock(&rp->mu);
                snprintf(rp->leader, sizeof rp->leader, "%s", holder);
                pthread_mutex_unlock(&rp->mu);
                continue;
            }
            uint64_t t0 = mono_ms();
            if (ortak_nats_lease_take(rp->nats, rp->holder, &rev) != ORTAK_OK) continue;
            pthread_mutex_lock(&rp->mu);
            rp->lease_rev = rev;
            pthread_mutex_unlock(&rp->mu);
            uint64_t deadline = t0 + rp->cfg->lease_ms - rp->cfg->lease_ms / LEASE_MARGIN_DIV;
            ortak_log_info("replica", "node %s took the lease: applying the stream to its end", rp->cfg->node);
            if (take_over(rp, deadline))
                lead(rp, deadline);
            else
                step_down(rp, "the lease was lost while taking over");
            continue;
        }
        if (got <= 0) sleep_ms(got < 0 ? 100 : 5);
    }
    return NULL;
}

/* ---- start and stop ---------------------------------------------------------------------------------------- */

int replica_open(struct server *s, struct ortak_journal *local, char *err, size_t err_cap) {
    const struct srv_replication *c = &s->cfg.repl;
    struct replica *rp = calloc(1, sizeof *rp);
    if (!rp) {
        snprintf(err, err_cap, "out of memory");
        return -1;
    }
    rp->s = s;
    rp->cfg = c;
    rp->hash_match = -1;
    pthread_mutex_init(&rp->mu, NULL);
    pthread_cond_init(&rp->cv, NULL);
    snprintf(rp->holder, sizeof rp->holder, "%s %s", c->node, c->advertise_url);
    struct ortak_nats_options o = {
        .servers = c->nats, .stream = c->stream, .replicas = c->replicas, .lease_ms = c->lease_ms};
    if (ortak_nats_open(&o, local, &rp->nats, err, err_cap) != ORTAK_OK) {
        replica_close(rp);
        return -1;
    }
    /* The local journal must be a prefix of the stream: its last record is the stream's record of that number. */
    struct ortak_journal_head head;
    ortak_journal_head_get(local, &head);
    rp->next_seq = head.seq + 1;
    rp->applied_seq = head.seq;
    uint64_t first = 0, last = 0;
    if (ortak_nats_bounds(rp->nats, &first, &last) != ORTAK_OK) {
        snprintf(err, err_cap, "stream %s: no answer from NATS", c->stream);
        replica_close(rp);
        return -1;
    }
    if (head.seq > last || (last && first > head.seq + 1)) {
        snprintf(err, err_cap,
                 "the local journal ends at record %llu but stream %s holds records %llu to %llu: start from a "
                 "newer snapshot (docs/operations.md, Replication)",
                 (unsigned long long)head.seq, c->stream, (unsigned long long)first, (unsigned long long)last);
        replica_close(rp);
        return -2;
    }
    if (head.seq > 0 && head.seq >= first) {
        struct ortak_nats_record rec;
        bool found = false;
        if (ortak_nats_get(rp->nats, head.seq, &found, &rec, err, err_cap) != ORTAK_OK) {
            replica_close(rp);
            return -1;
        }
        bool same = found && memcmp(rec.head.hash, head.hash, 32) == 0;
        if (found) ortak_nats_record_free(&rec);
        if (!same) {
            snprintf(err, err_cap, "the local journal's record %llu differs from the stream's",
                     (unsigned long long)head.seq);
            replica_close(rp);
            return -2;
        }
    }
    /* what this node needs of the stream, said before it follows: from its newest snapshot on (0: everything) */
    rp->snapshot_noted = UINT64_MAX;
    uint64_t snap = newest_snapshot(s->journal_dir);
    ortak_rc rc = ORTAK_IO;
    for (int i = 0; i < 80 && (rc = ortak_nats_snapshot_note(rp->nats, c->node, snap)) != ORTAK_OK; i++)
        sleep_ms(250); /* a bucket just created elects its leader first */
    if (rc != ORTAK_OK) {
        snprintf(err, err_cap, "stream %s: no answer from NATS", c->stream);
        replica_close(rp);
        return -1;
    }
    rp->snapshot_noted = snap;
    inbound_replicate(s->inbound, false);
    ortak_nats_attach_source(rp->nats, inbound_take, s);
    s->replica = rp;
    return 0;
}

const struct ortak_journal_backend *replica_backend(struct replica *rp) { return ortak_nats_backend(rp->nats); }

void replica_start(struct replica *rp, void (*on_lead)(struct server *s)) {
    rp->on_lead = on_lead;
    pthread_create(&rp->thread, NULL, replica_main, rp);
    rp->started = true;
    ortak_log_info("replica", "node %s follows stream %s from record %llu", rp->cfg->node, rp->cfg->stream,
                   (unsigned long long)rp->next_seq);
}

void replica_stop(struct replica *rp) {
    if (!rp || !rp->started) return;
    atomic_store(&rp->stop, true);
    pthread_join(rp->thread, NULL);
    rp->started = false;
    wait_applied(rp);
}

void replica_close(struct replica *rp) {
    if (!rp) return;
    if (rp->nats && atomic_load(&rp->role) == ROLE_LEADER) {
        ortak_nats_fence(rp->nats);
        ortak_nats_lease_release(rp->nats, rp->lease_rev); /* a planned switch-over: no waiting for the TTL */
        ortak_log_info("replica", "node %s gave up the lease", rp->cfg->node);
    }
    if (rp->nats) {
        ortak_nats_close(rp->nats);
        ortak_nats_shutdown();
    }
    pthread_mutex_destroy(&rp->mu);
    pthread_cond_destroy(&rp->cv);
    free(rp);
}

/* ---- HTTP -------------------------------------------------------------------------------------------------- */

bool replica_may_write(struct replica *rp) { return !rp || atomic_load(&rp->role) == ROLE_LEADER; }

static void leader_url(struct replica *rp, char *out, size_t cap) {
    pthread_mutex_lock(&rp->mu);
    const char *sp = strchr(rp->leader, ' ');
    snprintf(out, cap, "%s", sp ? sp + 1 : "");
    pthread_mutex_unlock(&rp->mu);
}

void replica_reply_not_leader(struct req *r) {
    char url[SRV_PATH_MAX];
    leader_url(r->srv->replica, url, sizeof url);
    json_t *e = json_pack("{s:s, s:s}", "code", "not_leader", "message",
                          "this node is a follower (or just stepped down): send writes to the leader");
    if (e && url[0]) json_object_set_new(e, "leader", json_string(url));
    reply_json(r, 503, e ? json_pack("{s:o}", "error", e) : NULL);
    r->error_code = "not_leader";
}

bool replica_refused(const struct ortak_result *res, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        if (res[i].rc == ORTAK_NOT_LEADER) return true;
    }
    return false;
}

void replica_note_not_leader(void) { tl_not_leader = true; }

bool replica_take_not_leader(void) {
    bool v = tl_not_leader;
    tl_not_leader = false;
    return v;
}

static void state_read(const struct ortak_engine *e, void *ctx) { ortak_engine_state_hash(e, ctx); }

void replica_get(struct req *r) {
    struct replica *rp = r->srv->replica;
    if (!rp) {
        reply_error(r, 404, "not_replicated", NULL, "this server has no [replication]");
        return;
    }
    uint8_t h[32];
    char hex[65], url[SRV_PATH_MAX];
    /* the engine between batches: its state and the last record applied to it, read together */
    const struct ortak_engine *e = srv_read_begin(r->srv);
    state_read(e, h);
    pthread_mutex_lock(&rp->mu);
    uint64_t applied = rp->applied_seq;
    pthread_mutex_unlock(&rp->mu);
    srv_read_end(r->srv);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", h[i]);
    leader_url(rp, url, sizeof url);
    pthread_mutex_lock(&rp->mu);
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:I}", "node", rp->cfg->node, "role",
                  atomic_load(&rp->role) == ROLE_LEADER ? "leader" : "follower", "leader", url, "seq",
                  (json_int_t)applied, "state_hash", hex, "stream_last", (json_int_t)rp->stream_last, "hash_checks",
                  (json_int_t)rp->hash_checks, "hash_mismatches", (json_int_t)rp->hash_mismatches, "takeovers",
                  (json_int_t)rp->takeovers, "stepdowns", (json_int_t)rp->stepdowns);
    pthread_mutex_unlock(&rp->mu);
    reply_json(r, 200, o);
}

size_t replica_metrics(struct replica *rp, char *buf, size_t cap) {
    if (!rp) return 0;
    pthread_mutex_lock(&rp->mu);
    uint64_t lag = rp->stream_last > rp->applied_seq ? rp->stream_last - rp->applied_seq : 0;
    int n = snprintf(buf, cap,
                     "# HELP ortak_replication_leader 1 when this node leads (accepts writes), 0 when it follows.\n"
                     "# TYPE ortak_replication_leader gauge\nortak_replication_leader %d\n"
                     "# HELP ortak_replication_applied_record The last journal record applied here.\n"
                     "# TYPE ortak_replication_applied_record gauge\nortak_replication_applied_record %llu\n"
                     "# HELP ortak_replication_lag_records Records in the stream not yet applied here.\n"
                     "# TYPE ortak_replication_lag_records gauge\nortak_replication_lag_records %llu\n"
                     "# HELP ortak_replication_state_hash_match 1 when the last state hash compared with the "
                     "leader's was equal, 0 when not, -1 before any comparison.\n"
                     "# TYPE ortak_replication_state_hash_match gauge\nortak_replication_state_hash_match %d\n"
                     "# TYPE ortak_replication_state_hash_checks_total counter\n"
                     "ortak_replication_state_hash_checks_total %llu\n"
                     "# TYPE ortak_replication_state_hash_mismatches_total counter\n"
                     "ortak_replication_state_hash_mismatches_total %llu\n"
                     "# TYPE ortak_replication_takeovers_total counter\nortak_replication_takeovers_total %llu\n"
                     "# TYPE ortak_replication_stepdowns_total counter\nortak_replication_stepdowns_total %llu\n",
                     atomic_load(&rp->role), (unsigned long long)rp->applied_seq, (unsigned long long)lag,
                     rp->hash_match, (unsigned long long)rp->hash_checks, (unsigned long long)rp->hash_mismatches,
                     (unsigned long long)rp->takeovers, (unsigned long long)rp->stepdowns);
    pthread_mutex_unlock(&rp->mu);
    return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}
