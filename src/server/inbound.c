/*
 * Inbound ISO 20022 messages: kept from their arrival until their payments no longer need them. A payment that
 * came in ISO 20022 is forwarded, after it settles, in its own message definition with its sender's transaction,
 * and its status reports name the original message; both are written when the outbox is read, from this store.
 *
 * Durability: a message is added here before its payments' commands are submitted, and the sequencer writes and
 * syncs what was added before each sync of the engine's journal (the before_sync hook, on the journal thread,
 * which alone touches this store's journal). So whenever a payment's command is durable, so is its message. A message
 * whose commands never reached the journal (a crash in between) is forgotten at start-up, when the engine does not know
 * its payments.
 *
 * On disk: a journal of its own (the file journal's format, docs/formats/journal.md), one record per message:
 *   u32 n; n times { u128 payment id (16 bytes, little-endian), u8 message type, 4 x 36 bytes: MsgId, InstrId,
 *   EndToEndId, TxId, then 12 bytes: the sender's BIC (NUL-padded) }; u32 length; the message as received.
 * Reading it back also tells the caller every (sender, MsgId) accepted, so duplicates stay refused across restarts.
 *
 * Replication (replica.c): on the leader each record is also queued for the replicated journal, which sends it in
 * the same stream message as the first engine batch published after it (before the batch that needs it, since a
 * message is added before its commands are submitted); a follower adds the records it receives before it applies
 * that batch (inbound_add_records), so that its store, and so its forwards and status reports, are the leader's.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/log.h"
#include "server.h"

struct pending {
    struct pending *next;
    uint32_t len;
    uint8_t rec[];
};

struct inbound_entry {
    struct inbound_meta meta;
    uint32_t refs;
    char *xml;
    size_t len;
    struct inbound_entry *next;
};

struct inbound {
    pthread_mutex_t mu;
    struct ortak_journal *j;
    ortak_time_ns last_ts;
    /* records not yet in the journal: the journal is the syncing thread's alone, so that adding a message never
       waits for a sync */
    struct pending *pending, **pending_tail;
    /* records not yet handed to the replicated journal (replicate set: a replicated server) */
    atomic_bool replicate;
    struct pending *repl, **repl_tail;
    void (*seen)(void *ctx, const char *sender, const char *msg_id); /* start-up only */
    void *seen_ctx;
    struct inbound_entry **buckets;
    uint32_t nbuckets, count;
};

enum { META_BYTES = 16 + 1 + 4 * 36 + 12 };

static uint32_t bucket_of(const struct inbound *in, ortak_u128 id) {
    uint64_t h = (uint64_t)id ^ (uint64_t)(id >> 64);
    h *= UINT64_C(0x9E3779B97F4A7C15);
    return (uint32_t)(h >> 32) & (in->nbuckets - 1);
}

static struct inbound_entry **find(struct inbound *in, ortak_u128 id) {
    struct inbound_entry **p = &in->buckets[bucket_of(in, id)];
    while (*p && (*p)->meta.payment_id != id) p = &(*p)->next;
    return p;
}

static void grow(struct inbound *in) {
    if (in->count < in->nbuckets) return;
    uint32_t n = in->nbuckets * 2;
    struct inbound_entry **b = calloc(n, sizeof *b);
    if (!b) return; /* chains get longer; still correct */
    struct inbound_entry **old = in->buckets;
    uint32_t oldn = in->nbuckets;
    in->buckets = b;
    in->nbuckets = n;
    for (uint32_t i = 0; i < oldn; i++) {
        for (struct inbound_entry *e = old[i], *next; e; e = next) {
            next = e->next;
            uint32_t k = bucket_of(in, e->meta.payment_id);
            e->next = b[k];
            b[k] = e;
        }
    }
    free(old);
}

/* Adds the entries of one record; a payment already held is replaced (the newer message wins). */
static int insert(struct inbound *in, const struct inbound_meta *m, const void *xml, size_t len) {
    struct inbound_entry *e = calloc(1, sizeof *e);
    if (!e || !(e->xml = malloc(len ? len : 1))) {
        free(e);
        return -1;
    }
    memcpy(e->xml, xml, len);
    e->len = len;
    e->meta = *m;
    struct inbound_entry **p = find(in, m->payment_id);
    if (*p) {
        struct inbound_entry *old = *p;
        e->next = old->next;
        free(old->xml);
        free(old);
        *p = e;
        return 0;
    }
    *p = e;
    in->count++;
    grow(in);
    return 0;
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void meta_encode(const struct inbound_meta *m, uint8_t *p) {
    for (int i = 0; i < 16; i++) p[i] = (uint8_t)(m->payment_id >> (8 * i));
    p[16] = m->type;
    memcpy(p + 17, m->msg_id, 36);
    memcpy(p + 17 + 36, m->instr_id, 36);
    memcpy(p + 17 + 72, m->end_to_end_id, 36);
    memcpy(p + 17 + 108, m->tx_id, 36);
    memcpy(p + 17 + 144, m->sender, 12);
}

static void meta_decode(const uint8_t *p, struct inbound_meta *m) {
    memset(m, 0, sizeof *m);
    for (int i = 15; i >= 0; i--) m->payment_id = m->payment_id << 8 | p[i];
    m->type = p[16];
    memcpy(m->msg_id, p + 17, 35);
    memcpy(m->instr_id, p + 17 + 36, 35);
    memcpy(m->end_to_end_id, p + 17 + 72, 35);
    memcpy(m->tx_id, p + 17 + 108, 35);
    memcpy(m->sender, p + 17 + 144, 11);
}

static int load_record(void *ctx, const struct ortak_journal_record *rec, char *why, size_t why_cap) {
    struct inbound *in = ctx;
    const uint8_t *p = rec->payload;
    if (rec->len < 8) goto bad;
    uint32_t n = get_u32(p);
    if (n == 0 || (uint64_t)n * META_BYTES + 8 > rec->len) goto bad;
    uint32_t xlen = get_u32(p + 4 + (size_t)n * META_BYTES);
    if ((uint64_t)n * META_BYTES + 8 + xlen != rec->len) goto bad;
    const uint8_t *xml = p + 8 + (size_t)n * META_BYTES;
    for (uint32_t i = 0; i < n; i++) {
        struct inbound_meta m;
        meta_decode(p + 4 + (size_t)i * META_BYTES, &m);
        if (i == 0 && in->seen) in->seen(in->seen_ctx, m.sender, m.msg_id);
        if (insert(in, &m, xml, xlen) != 0) {
            snprintf(why, why_cap, "out of memory");
            return 1;
        }
    }
    in->last_ts = rec->timestamp;
    return 0;
bad:
    snprintf(why, why_cap, "not an inbound message record");
    return 1;
}

int inbound_open(const char *dir, void (*seen)(void *ctx, const char *sender, const char *msg_id), void *seen_ctx,
                 struct inbound **out, char *err, size_t err_cap) {
    struct inbound *in = calloc(1, sizeof *in);
    if (!in || !(in->buckets = calloc(1024, sizeof *in->buckets))) {
        free(in);
        snprintf(err, err_cap, "out of memory");
        return -1;
    }
    in->nbuckets = 1024;
    in->pending_tail = &in->pending;
    in->repl_tail = &in->repl;
    in->seen = seen;
    in->seen_ctx = seen_ctx;
    pthread_mutex_init(&in->mu, NULL);
    struct ortak_journal_options opt = {.create = true};
    struct ortak_journal_problem problem;
    if (ortak_journal_open(dir, &opt, 0, load_record, in, &in->j, &problem) != ORTAK_OK) {
        snprintf(err, err_cap, "inbound messages %s: %s (file %s, offset %llu)", dir, problem.message, problem.file,
                 (unsigned long long)problem.offset);
        inbound_close(in);
        return -1;
    }
    *out = in;
    return 0;
}

void inbound_close(struct inbound *in) {
    if (!in) return;
    if (in->j) ortak_journal_close(in->j);
    for (uint32_t i = 0; i < in->nbuckets; i++) {
        for (struct inbound_entry *e = in->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e->xml);
            free(e);
        }
    }
    free(in->buckets);
    for (struct pending *p = in->pending, *next; p; p = next) {
        next = p->next;
        free(p);
    }
    for (struct pending *p = in->repl, *next; p; p = next) {
        next = p->next;
        free(p);
    }
    pthread_mutex_destroy(&in->mu);
    free(in);
}

int inbound_add(struct inbound *in, const struct inbound_meta *metas, uint32_t n, const void *xml, size_t len) {
    size_t total = 8 + (size_t)n * META_BYTES + len;
    if (n == 0 || total > ortak_journal_payload_max(in->j)) return -1;
    struct pending *p = malloc(sizeof *p + total);
    if (!p) return -1;
    p->next = NULL;
    p->len = (uint32_t)total;
    put_u32(p->rec, n);
    for (uint32_t i = 0; i < n; i++) meta_encode(&metas[i], p->rec + 4 + (size_t)i * META_BYTES);
    put_u32(p->rec + 4 + (size_t)n * META_BYTES, (uint32_t)len);
    memcpy(p->rec + 8 + (size_t)n * META_BYTES, xml, len);
    struct pending *q = NULL;
    if (atomic_load(&in->replicate)) {
        if (!(q = malloc(sizeof *q + total))) {
            free(p);
            return -1;
        }
        memcpy(q, p, sizeof *q + total);
    }
    int rc = 0;
    pthread_mutex_lock(&in->mu);
    for (uint32_t i = 0; rc == 0 && i < n; i++) rc = insert(in, &metas[i], xml, len);
    *in->pending_tail = p;
    in->pending_tail = &p->next;
    if (q) {
        *in->repl_tail = q;
        in->repl_tail = &q->next;
    }
    pthread_mutex_unlock(&in->mu);
    return rc;
}

uint8_t *inbound_take_replicated(struct inbound *in, size_t *len);

void inbound_replicate(struct inbound *in, bool on) {
    atomic_store(&in->replicate, on);
    if (on) return;
    size_t len;
    free(inbound_take_replicated(in, &len)); /* queued for batches this node will no longer write */
}

uint8_t *inbound_take_replicated(struct inbound *in, size_t *len) {
    pthread_mutex_lock(&in->mu);
    struct pending *p = in->repl;
    in->repl = NULL;
    in->repl_tail = &in->repl;
    pthread_mutex_unlock(&in->mu);
    size_t total = 0;
    for (struct pending *q = p; q; q = q->next) total += 4 + q->len;
    uint8_t *buf = total ? malloc(total) : NULL;
    size_t off = 0;
    for (struct pending *q = p, *next; q; q = next) {
        next = q->next;
        if (buf) {
            put_u32(buf + off, q->len);
            memcpy(buf + off + 4, q->rec, q->len);
            off += 4 + q->len;
        }
        free(q);
    }
    ORTAK_ASSERT(!total || !buf || off == total);
    if (total && !buf) ortak_log_error("inbound", "out of memory: inbound messages not replicated");
    *len = buf ? total : 0;
    return buf;
}

int inbound_add_records(struct inbound *in, const void *buf, size_t len,
                        void (*seen)(void *ctx, const char *sender, const char *msg_id), void *seen_ctx) {
    const uint8_t *p = buf;
    size_t off = 0;
    while (off < len) {
        if (len - off < 4) return -1;
        uint32_t n = get_u32(p + off);
        if (n > len - off - 4) return -1;
        const uint8_t *rec = p + off + 4;
        if (n < 8) return -1;
        uint32_t count = get_u32(rec);
        if (count == 0 || (uint64_t)count * META_BYTES + 8 > n) return -1;
        uint32_t xlen = get_u32(rec + 4 + (size_t)count * META_BYTES);
        if ((uint64_t)count * META_BYTES + 8 + xlen != n) return -1;
        struct inbound_meta *metas = calloc(count, sizeof *metas);
        if (!metas) return -1;
        for (uint32_t i = 0; i < count; i++) meta_decode(rec + 4 + (size_t)i * META_BYTES, &metas[i]);
        if (seen) seen(seen_ctx, metas[0].sender, metas[0].msg_id);
        int rc = inbound_add(in, metas, count, rec + 8 + (size_t)count * META_BYTES, xlen);
        free(metas);
        if (rc != 0) return -1;
        off += 4 + (size_t)n;
    }
    return 0;
}

void inbound_sync(struct inbound *in) {
    pthread_mutex_lock(&in->mu);
    struct pending *p = in->pending;
    in->pending = NULL;
    in->pending_tail = &in->pending;
    pthread_mutex_unlock(&in->mu);
    if (!p) return;
    while (p) {
        struct pending *next = p->next;
        ortak_time_ns now = srv_now();
        if (now < in->last_ts) now = in->last_ts;
        in->last_ts = now;
        uint64_t seq;
        ortak_rc rc = ortak_journal_append(in->j, now, p->rec, p->len, &seq);
        ORTAK_ASSERT(rc == ORTAK_OK); /* its size was checked when it was added */
        free(p);
        p = next;
    }
    ortak_journal_sync(in->j);
}

bool inbound_get(struct inbound *in, ortak_u128 payment_id, struct inbound_meta *meta, char **xml, size_t *len) {
    pthread_mutex_lock(&in->mu);
    struct inbound_entry *e = *find(in, payment_id);
    bool ok = e != NULL;
    if (ok) {
        *meta = e->meta;
        if (xml) {
            *xml = malloc(e->len ? e->len : 1);
            ok = *xml != NULL;
            if (ok) memcpy(*xml, e->xml, e->len);
            *len = e->len;
        }
    }
    pthread_mutex_unlock(&in->mu);
    return ok;
}

/* Unlinks and frees the entry *p points to. Called with the mutex held. */
static void drop(struct inbound *in, struct inbound_entry **p) {
    struct inbound_entry *e = *p;
    *p = e->next;
    free(e->xml);
    free(e);
    in->count--;
}

void inbound_ref(struct inbound *in, ortak_u128 payment_id, int delta) {
    pthread_mutex_lock(&in->mu);
    struct inbound_entry **p = find(in, payment_id), *e = *p;
    if (e && delta > 0) e->refs += (uint32_t)delta;
    if (e && delta < 0) {
        e->refs = e->refs > (uint32_t)-delta ? e->refs - (uint32_t)-delta : 0;
        if (e->refs == 0) drop(in, p);
    }
    pthread_mutex_unlock(&in->mu);
}

void inbound_prune(struct inbound *in, bool (*ended)(void *ctx, ortak_u128 payment_id), void *ctx) {
    pthread_mutex_lock(&in->mu);
    for (uint32_t i = 0; i < in->nbuckets; i++) {
        struct inbound_entry **p = &in->buckets[i];
        while (*p) {
            struct inbound_entry *e = *p;
            if (e->refs == 0 && ended(ctx, e->meta.payment_id))
                drop(in, p);
            else
                p = &e->next;
        }
    }
    pthread_mutex_unlock(&in->mu);
}

uint32_t inbound_count(struct inbound *in) {
    pthread_mutex_lock(&in->mu);
    uint32_t n = in->count;
    pthread_mutex_unlock(&in->mu);
    return n;
}
