/*
 * The sequencer: callers' command submissions -> batches with sequence numbers and timestamps -> journal (group
 * commit) -> engine -> results back to the callers.
 *
 * Two threads. The journal thread takes every submission waiting, forms batches (at most batch_max commands; a
 * submission is never split), stamps each batch with engine time, appends it to the journal, and syncs once for
 * the whole group: every batch that arrived while the previous sync ran shares the next one. Only then does it
 * hand the batches to the engine thread, which applies them in sequence order and releases each caller. So the
 * engine never holds a state that is not durable, and no result leaves before its batch is on disk (write-ahead).
 * Applying one group overlaps with journaling the next.
 *
 * One mutex guards the queues; the engine has its own lock so that queries from other threads see it between
 * batches only.
 *
 * With a backend (the replicated journal), appends and syncs go to it instead, and it may refuse: a batch it does
 * not make durable is never applied, and its callers get ORTAK_NOT_LEADER in every result. A follower's records
 * (ortak_sequencer_submit_record) arrive already formed: each is a batch of its own, journaled byte for byte with
 * its own timestamp, and applied as recovery applies a record.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/assert.h"
#include "base/log.h"
#include "journal_int.h"

#define SLOTS 4 /* batches journaled and waiting for the engine */

struct submission {
    struct ortak_cmd *cmds;
    struct ortak_result *results;
    uint32_t n;
    uint64_t seq;
    sem_t ready;                  /* a waiting caller's: posted once the results are written */
    ortak_sequencer_done_fn done; /* an asynchronous caller's: called instead (the submission is then freed) */
    void *done_ctx;
    /* a follower's record (n is 0 then): its bytes, and where it must land */
    const void *rec;
    uint32_t rec_len;
    struct ortak_journal_head rec_head;
    ortak_sequencer_record_fn rec_done;
    struct submission *next;
};

struct slot {
    struct ortak_cmd *cmds;
    struct ortak_result *results;
    uint32_t n;
    struct submission *subs;        /* in batch order, linked through `next` */
    struct ortak_journal_head head; /* the journal after this batch */
    ortak_rc rc;                    /* ORTAK_OK, or why the batch was not journaled (it is not applied then) */
};

struct ortak_sequencer {
    struct ortak_engine *e;
    struct ortak_journal *j;
    char dir[JNL_DIR_LEN_MAX + 1];
    struct ortak_sequencer_options opt;
    uint32_t batch_max;

    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* submissions waiting, or stop */
    pthread_cond_t slot_cv; /* a slot filled (engine) or freed (journal) */
    struct submission *queue_head, *queue_tail;
    struct slot slots[SLOTS];
    uint32_t slot_filled, slot_applied; /* counters; slot index = counter % SLOTS */
    bool stopping, journal_done;

    pthread_mutex_t engine_mu;
    pthread_t journal_thread, engine_thread;
    unsigned char *encode_buf;
    ortak_time_ns last_ts;
    uint64_t batches_applied;
    struct ortak_sequencer_stats stats; /* guarded by mu */
    uint32_t queued;                    /* submissions in the queue */
    uint32_t last_group;                /* submissions the last group took */
};

static ortak_time_ns real_clock(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (ortak_time_ns)ts.tv_sec * ORTAK_NS_PER_S + (ortak_time_ns)ts.tv_nsec;
}

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the journal thread ------------------------------------------------------------------------------------ */

/* Moves whole submissions from the queue into slot `sl` while they fit. Called with the mutex held. */
static void batch_fill(struct ortak_sequencer *s, struct slot *sl) {
    struct submission **tail = &sl->subs;
    sl->n = 0;
    sl->subs = NULL;
    sl->rc = ORTAK_OK;
    if (s->queue_head && s->queue_head->rec) { /* a follower's record: a batch of its own */
        struct submission *sub = s->queue_head;
        s->queue_head = sub->next;
        s->queued--;
        if (!s->queue_head) s->queue_tail = NULL;
        sub->next = NULL;
        sl->subs = sub;
        return;
    }
    while (s->queue_head && !s->queue_head->rec && sl->n + s->queue_head->n <= s->batch_max) {
        struct submission *sub = s->queue_head;
        s->queue_head = sub->next;
        s->queued--;
        if (!s->queue_head) s->queue_tail = NULL;
        sub->next = NULL;
        memcpy(sl->cmds + sl->n, sub->cmds, sub->n * sizeof *sub->cmds);
        sl->n += sub->n;
        *tail = sub;
        tail = &sub->next;
        /* A submission ending in an open chain closes the batch, so the chain cannot swallow the next caller's. */
        const struct ortak_cmd *last = &sub->cmds[sub->n - 1];
        if (last->kind == ORTAK_CMD_TRANSFER && (last->u.transfer.flags & ORTAK_TRANSFER_LINKED)) break;
    }
}

/* A follower's record: decoded for the engine, journaled as it came. */
static void record_journal(struct ortak_sequencer *s, struct slot *sl) {
    struct submission *sub = sl->subs;
    uint32_t n = 0;
    if (ortak_batch_decode(sub->rec, sub->rec_len, sl->cmds, s->batch_max, &n) != ORTAK_OK) {
        sl->rc = ORTAK_CORRUPT;
        return;
    }
    sl->n = n;
    sl->rc = s->opt.backend->append(s->opt.backend->ctx, sub->rec_head.timestamp, sub->rec, sub->rec_len,
                                    &sub->rec_head, &sl->head);
    /* the leader's clock from now on (it may be behind a batch this node stamped and the stream refused) */
    if (sl->rc == ORTAK_OK) s->last_ts = sub->rec_head.timestamp;
}

static void batch_journal(struct ortak_sequencer *s, struct slot *sl) {
    if (sl->subs && sl->subs->rec) {
        record_journal(s, sl);
        return;
    }
    ortak_time_ns now = s->opt.clock ? s->opt.clock(s->opt.clock_ctx) : real_clock(NULL), prev_ts = s->last_ts;
    if (now < s->last_ts) now = s->last_ts;
    s->last_ts = now;
    for (uint32_t i = 0; i < sl->n; i++) sl->cmds[i].timestamp = now;
    size_t len = ortak_batch_encode(sl->cmds, sl->n, s->encode_buf, ortak_batch_encoded_size_max(s->batch_max));
    if (s->opt.backend) {
        sl->rc = s->opt.backend->append(s->opt.backend->ctx, now, s->encode_buf, (uint32_t)len, NULL, &sl->head);
        if (sl->rc != ORTAK_OK) s->last_ts = prev_ts; /* the batch is not in the journal: nor is its time */
        return;
    }
    uint64_t seq;
    ortak_rc rc = ortak_journal_append(s->j, now, s->encode_buf, (uint32_t)len, &seq);
    ORTAK_ASSERT(rc == ORTAK_OK); /* payload_max was checked against batch_max at start */
    ortak_journal_head_get(s->j, &sl->head);
}

/* Makes the group's batches durable; those the backend could not are marked failed. */
static void group_sync(struct ortak_sequencer *s, uint32_t from, uint32_t to) {
    if (!s->opt.backend) {
        ortak_journal_sync(s->j);
        return;
    }
    uint64_t durable = 0;
    ortak_rc rc = s->opt.backend->sync(s->opt.backend->ctx, &durable);
    for (uint32_t k = from; k < to; k++) {
        struct slot *sl = &s->slots[k % SLOTS];
        if (sl->rc == ORTAK_OK && rc != ORTAK_OK && sl->head.seq > durable) sl->rc = ORTAK_NOT_LEADER;
    }
}

static void stats_sync(struct ortak_sequencer_stats *st, uint64_t ns) {
    st->syncs++;
    st->sync_ns_total += ns;
    if (ns > st->sync_ns_max) st->sync_ns_max = ns;
    uint32_t k = 0;
    while (k < 11 && ns > (UINT64_C(100000) << k)) k++;
    st->sync_buckets[k]++;
}

static void *journal_main(void *arg) {
    struct ortak_sequencer *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->queue_head && !s->stopping) pthread_cond_wait(&s->work_cv, &s->mu);
        if (!s->queue_head) break;
        if (s->opt.group_delay_us && s->last_group > 1) {
            /* Under concurrent load, a short wait lets as many callers join this group as joined the last one;
               bounded so latency stays bounded. A lone caller (last group of one) is never kept waiting. */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += (long)s->opt.group_delay_us * 1000;
            until.tv_sec += until.tv_nsec / 1000000000;
            until.tv_nsec %= 1000000000;
            while (s->queued < s->last_group && !s->stopping &&
                   pthread_cond_timedwait(&s->work_cv, &s->mu, &until) != ETIMEDOUT)
                continue;
        }
        s->last_group = s->queued;
        /* Journal every batch that fits in the free slots, then one sync for all of them. */
        uint32_t first = s->slot_filled, filled = first;
        while (s->queue_head) {
            while (filled - s->slot_applied >= SLOTS) pthread_cond_wait(&s->slot_cv, &s->mu);
            struct slot *sl = &s->slots[filled % SLOTS];
            batch_fill(s, sl);
            pthread_mutex_unlock(&s->mu);
            batch_journal(s, sl);
            pthread_mutex_lock(&s->mu);
            filled++;
            if (filled - first == SLOTS) break;
        }
        pthread_mutex_unlock(&s->mu);
        uint64_t t0 = mono_ns();
        if (s->opt.before_sync) s->opt.before_sync(s->opt.hooks_ctx);
        group_sync(s, s->slot_filled, filled);
        uint64_t took = mono_ns() - t0;
        pthread_mutex_lock(&s->mu);
        stats_sync(&s->stats, took);
        for (uint32_t k = s->slot_filled; k < filled; k++) {
            if (s->slots[k % SLOTS].rc != ORTAK_OK) continue;
            s->stats.batches++;
            s->stats.commands += s->slots[k % SLOTS].n;
        }
        s->slot_filled = filled;
        pthread_cond_broadcast(&s->slot_cv);
    }
    s->journal_done = true;
    pthread_cond_broadcast(&s->slot_cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- the engine thread ------------------------------------------------------------------------------------- */

static void batch_apply(struct ortak_sequencer *s, struct slot *sl) {
    if (sl->rc != ORTAK_OK) {
        for (uint32_t i = 0; i < sl->n; i++)
            sl->results[i] = (struct ortak_result){.rc = sl->rc, .fail_index = UINT32_MAX};
        return;
    }
    pthread_mutex_lock(&s->engine_mu);
    ortak_rc rc = ortak_engine_apply(s->e, sl->cmds, sl->n, sl->results);
    ORTAK_ASSERT(rc == ORTAK_OK);
    if (s->opt.on_events) {
        uint32_t nev;
        const struct ortak_event *ev = ortak_engine_events(s->e, &nev);
        s->opt.on_events(s->opt.events_ctx, sl->head.seq, ev, nev);
    }
    s->batches_applied++;
    if (s->opt.snapshot_every && s->batches_applied % s->opt.snapshot_every == 0) {
        if (s->opt.before_snapshot) s->opt.before_snapshot(s->opt.hooks_ctx);
        ortak_snapshot_write(s->dir, ortak__journal_ops(s->j), s->e, &sl->head, s->opt.snapshots_keep);
    }
    pthread_mutex_unlock(&s->engine_mu);
}

static void *engine_main(void *arg) {
    struct ortak_sequencer *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->slot_applied == s->slot_filled && !s->journal_done) pthread_cond_wait(&s->slot_cv, &s->mu);
        if (s->slot_applied == s->slot_filled) break;
        struct slot *sl = &s->slots[s->slot_applied % SLOTS];
        pthread_mutex_unlock(&s->mu);
        batch_apply(s, sl);
        /* The slot's submissions are the engine thread's until the slot is handed back: results first, then the
           callers are released without the mutex held, so that none wakes only to wait for it. */
        uint32_t off = 0;
        struct submission *subs = sl->subs;
        for (struct submission *sub = subs; sub && !sub->rec; sub = sub->next) {
            memcpy(sub->results, sl->results + off, sub->n * sizeof *sub->results);
            for (uint32_t i = 0; i < sub->n; i++) {
                sub->cmds[i].timestamp = sl->head.timestamp;
                if (sub->results[i].fail_index != UINT32_MAX) sub->results[i].fail_index -= off;
            }
            off += sub->n;
            sub->seq = sl->rc == ORTAK_OK ? sl->head.seq : 0;
        }
        pthread_mutex_lock(&s->mu);
        s->slot_applied++;
        pthread_cond_broadcast(&s->slot_cv);
        pthread_mutex_unlock(&s->mu);
        for (struct submission *sub = subs, *next; sub; sub = next) {
            next = sub->next; /* read first: a released submission is gone */
            if (sub->rec) {
                sub->rec_done(sub->done_ctx, sl->rc);
                free(sub);
            } else if (sub->done) {
                sub->done(sub->done_ctx, sub->seq);
                free(sub);
            } else {
                sem_post(&sub->ready);
            }
        }
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- the API ----------------------------------------------------------------------------------------------- */

static void enqueue(struct ortak_sequencer *s, struct submission *sub) {
    pthread_mutex_lock(&s->mu);
    ORTAK_ASSERT(!s->stopping);
    if (s->queue_tail)
        s->queue_tail->next = sub;
    else
        s->queue_head = sub;
    s->queue_tail = sub;
    s->queued++;
    pthread_cond_signal(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
}

ortak_rc ortak_sequencer_submit(struct ortak_sequencer *s, struct ortak_cmd *cmds, uint32_t n,
                                struct ortak_result *results, uint64_t *seq) {
    if (n > s->batch_max) return ORTAK_BATCH_TOO_LARGE;
    if (n == 0) return ORTAK_OK;
    struct submission sub = {.cmds = cmds, .results = results, .n = n};
    sem_init(&sub.ready, 0, 0);
    enqueue(s, &sub);
    while (sem_wait(&sub.ready) != 0) continue; /* EINTR */
    sem_destroy(&sub.ready);
    if (seq) *seq = sub.seq;
    return ORTAK_OK;
}

ortak_rc ortak_sequencer_submit_async(struct ortak_sequencer *s, struct ortak_cmd *cmds, uint32_t n,
                                      struct ortak_result *results, ortak_sequencer_done_fn done, void *ctx) {
    if (n > s->batch_max) return ORTAK_BATCH_TOO_LARGE;
    if (n == 0) {
        done(ctx, 0);
        return ORTAK_OK;
    }
    struct submission *sub = calloc(1, sizeof *sub);
    if (!sub) return ORTAK_NOMEM;
    *sub = (struct submission){.cmds = cmds, .results = results, .n = n, .done = done, .done_ctx = ctx};
    enqueue(s, sub);
    return ORTAK_OK;
}

ortak_rc ortak_sequencer_submit_record(struct ortak_sequencer *s, const struct ortak_journal_head *head,
                                       const void *payload, uint32_t len, ortak_sequencer_record_fn done, void *ctx) {
    ORTAK_ASSERT(s->opt.backend);
    struct submission *sub = calloc(1, sizeof *sub);
    if (!sub) return ORTAK_NOMEM;
    *sub = (struct submission){.rec = payload, .rec_len = len, .rec_head = *head, .rec_done = done, .done_ctx = ctx};
    enqueue(s, sub);
    return ORTAK_OK;
}

void ortak_sequencer_query(struct ortak_sequencer *s, void (*fn)(const struct ortak_engine *e, void *ctx), void *ctx) {
    fn(ortak_sequencer_read_begin(s), ctx);
    ortak_sequencer_read_end(s);
}

const struct ortak_engine *ortak_sequencer_read_begin(struct ortak_sequencer *s) {
    pthread_mutex_lock(&s->engine_mu);
    return s->e;
}

void ortak_sequencer_read_end(struct ortak_sequencer *s) { pthread_mutex_unlock(&s->engine_mu); }

void ortak_sequencer_stats_get(struct ortak_sequencer *s, struct ortak_sequencer_stats *out) {
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    out->queued = s->queued;
    pthread_mutex_unlock(&s->mu);
}

static void sequencer_free(struct ortak_sequencer *s) {
    for (int i = 0; i < SLOTS; i++) {
        free(s->slots[i].cmds);
        free(s->slots[i].results);
    }
    free(s->encode_buf);
    free(s);
}

ortak_rc ortak_sequencer_start(struct ortak_engine *e, struct ortak_journal *j, const char *dir,
                               const struct ortak_sequencer_options *opt, struct ortak_sequencer **out) {
    *out = NULL;
    struct ortak_sequencer *s = calloc(1, sizeof *s);
    if (!s) return ORTAK_NOMEM;
    s->e = e;
    s->j = j;
    ORTAK_ASSERT(strlen(dir) <= JNL_DIR_LEN_MAX);
    memcpy(s->dir, dir, strlen(dir) + 1);
    if (opt) s->opt = *opt;
    s->batch_max = ortak_engine_config(e)->limits.batch_max;
    if (ortak_batch_encoded_size_max(s->batch_max) > ortak_journal_payload_max(j)) {
        free(s);
        return ORTAK_INVALID;
    }
    s->encode_buf = malloc(ortak_batch_encoded_size_max(s->batch_max));
    bool ok = s->encode_buf != NULL;
    for (int i = 0; ok && i < SLOTS; i++) {
        s->slots[i].cmds = calloc(s->batch_max, sizeof *s->slots[i].cmds);
        s->slots[i].results = calloc(s->batch_max, sizeof *s->slots[i].results);
        ok = s->slots[i].cmds && s->slots[i].results;
    }
    if (!ok) {
        sequencer_free(s);
        return ORTAK_NOMEM;
    }
    struct ortak_journal_head head;
    ortak_journal_head_get(j, &head);
    s->last_ts = head.timestamp > ortak_engine_now(e) ? head.timestamp : ortak_engine_now(e);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->engine_mu, NULL);
    pthread_cond_init(&s->work_cv, NULL);
    pthread_cond_init(&s->slot_cv, NULL);
    pthread_create(&s->journal_thread, NULL, journal_main, s);
    pthread_create(&s->engine_thread, NULL, engine_main, s);
    *out = s;
    return ORTAK_OK;
}

void ortak_sequencer_stop(struct ortak_sequencer *s, struct ortak_engine **e, struct ortak_journal **j) {
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->journal_thread, NULL);
    pthread_join(s->engine_thread, NULL);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->engine_mu);
    pthread_cond_destroy(&s->work_cv);
    pthread_cond_destroy(&s->slot_cv);
    if (e) *e = s->e;
    if (j) *j = s->j;
    sequencer_free(s);
}
