/*
 * The replicated journal on NATS JetStream (include/ortak/nats_journal.h; message format in
 * docs/formats/replication.md).
 *
 * Invariants. Stream sequence number = journal sequence number: the stream holds nothing but batch records, one
 * message each, and every publish expects the stream's last sequence to be the record before. The local file
 * journal is appended only after the stream acknowledged (leader) or delivered (follower) a record, and each record
 * is checked to land at the position the message names, so the local journal is a prefix of the stream with the
 * same hash chain. A publish that times out is repeated with the same message id (the record hash), which the
 * stream deduplicates: an ambiguous outcome never turns into two records nor into a refusal of our own record.
 */
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/assert.h"
#include "base/log.h"
#include "journal_int.h"
#include "ortak/nats_journal.h"

#define SERVERS_MAX 16
#define NAME_MAX_LEN 64

enum mode { MODE_FOLLOW, MODE_LEAD, MODE_REFUSED };

struct ortak_nats {
    natsConnection *nc;
    jsCtx *js;
    kvStore *lease, *nodes;
    natsSubscription *sub; /* following: an ordered consumer of the stream */
    uint64_t sub_next;     /* the record it delivers next */
    /* leading: what goes in the next message before the record (ortak_nats_attach_source), kept across retries */
    uint8_t *(*attach_take)(void *ctx, size_t *len);
    void *attach_ctx;
    uint8_t *attach;
    size_t attach_len;
    struct ortak_journal *local;
    struct ortak_journal_backend backend;
    char stream[NAME_MAX_LEN], subject[NAME_MAX_LEN + 8];
    uint32_t timeout_ms, publish_wait_ms; /* a request; a publish (a batch may be megabytes) */

    pthread_mutex_t mu; /* held by append for a whole publish: fence waits for it */
    pthread_cond_t cv;
    enum mode mode;
    _Atomic bool fence_asked;       /* read by a publish retrying, without the mutex */
    struct ortak_journal_head head; /* the local journal's head, under mu */
    pthread_mutex_t state_mu;       /* the state hash to send: set by the engine thread, never waits for a publish */
    uint64_t state_seq, state_sent;
    uint8_t state_hash[32];
};

static void hex(const uint8_t *b, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int unhex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static bool unhex(const char *s, uint8_t *out, size_t n) {
    if (!s || strlen(s) != 2 * n) return false;
    for (size_t i = 0; i < n; i++) {
        int a = unhex_digit(s[2 * i]), b = unhex_digit(s[2 * i + 1]);
        if (a < 0 || b < 0) return false;
        out[i] = (uint8_t)(a << 4 | b);
    }
    return true;
}

static bool parse_u64(const char *s, const char **end, uint64_t *out) {
    uint64_t v = 0;
    const char *p = s;
    if (!p || *p < '0' || *p > '9') return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10) return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (end)
        *end = p;
    else if (*p)
        return false;
    *out = v;
    return true;
}

static void sleep_ms(uint32_t ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static bool transient(natsStatus st) {
    return st == NATS_TIMEOUT || st == NATS_NO_RESPONDERS || st == NATS_CONNECTION_CLOSED ||
           st == NATS_CONNECTION_DISCONNECTED || st == NATS_STALE_CONNECTION || st == NATS_NO_SERVER;
}

/* ---- the backend: publishing ------------------------------------------------------------------------------- */

static natsStatus message_make(struct ortak_nats *n, const struct ortak_journal_head *prev,
                               const struct ortak_journal_head *next, const void *payload, uint32_t len,
                               natsMsg **out) {
    natsMsg *m = NULL;
    natsStatus st;
    char buf[96], h[65];
    if (n->attach_len) {
        uint8_t *data = malloc(n->attach_len + len);
        if (!data) return NATS_NO_MEMORY;
        memcpy(data, n->attach, n->attach_len);
        memcpy(data + n->attach_len, payload, len);
        st = natsMsg_Create(&m, n->subject, NULL, (const char *)data, (int)(n->attach_len + len));
        free(data);
        snprintf(buf, sizeof buf, "%zu", n->attach_len);
        if (st == NATS_OK) st = natsMsgHeader_Set(m, "Ortak-Attach", buf);
    } else {
        st = natsMsg_Create(&m, n->subject, NULL, payload, (int)len);
    }
    if (st == NATS_OK) {
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)next->seq);
        st = natsMsgHeader_Set(m, "Ortak-Seq", buf);
    }
    if (st == NATS_OK) {
        snprintf(buf, sizeof buf, "%lld", (long long)next->timestamp);
        st = natsMsgHeader_Set(m, "Ortak-Time", buf);
    }
    if (st == NATS_OK) {
        hex(prev->hash, 32, h);
        st = natsMsgHeader_Set(m, "Ortak-Prev", h);
    }
    if (st == NATS_OK) {
        hex(next->hash, 32, h);
        st = natsMsgHeader_Set(m, "Ortak-Hash", h);
    }
    pthread_mutex_lock(&n->state_mu);
    bool state = n->state_seq > n->state_sent;
    if (state) {
        hex(n->state_hash, 32, h);
        snprintf(buf, sizeof buf, "%llu %s", (unsigned long long)n->state_seq, h);
    }
    pthread_mutex_unlock(&n->state_mu);
    if (st == NATS_OK && state) st = natsMsgHeader_Set(m, "Ortak-State", buf);
    if (st == NATS_OK && state) { /* sent at most once: a message refused or lost only delays one comparison */
        pthread_mutex_lock(&n->state_mu);
        n->state_sent = n->state_seq;
        pthread_mutex_unlock(&n->state_mu);
    }
    if (st != NATS_OK) {
        natsMsg_Destroy(m);
        return st;
    }
    *out = m;
    return NATS_OK;
}

/* Publishes one record until the stream has it or refuses it. Called with mu held. */
static ortak_rc publish(struct ortak_nats *n, const struct ortak_journal_head *next, const void *payload,
                        uint32_t len) {
    char msg_id[65];
    hex(next->hash, 32, msg_id);
    for (uint32_t attempt = 0;; attempt++) {
        if (atomic_load(&n->fence_asked)) return ORTAK_NOT_LEADER;
        natsMsg *m = NULL;
        natsStatus st = message_make(n, &n->head, next, payload, len, &m);
        if (st != NATS_OK) ortak__journal_fatal("a NATS message for", n->stream); /* no memory */
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MsgId = msg_id;
        po.ExpectLastSeq = n->head.seq;
        po.ExpectNoMessage = n->head.seq == 0; /* ExpectLastSeq 0 means "no check": the first record needs this */
        po.MaxWait = n->publish_wait_ms;
        jsPubAck *pa = NULL;
        jsErrCode jerr = 0;
        st = js_PublishMsg(&pa, n->js, m, &po, &jerr);
        natsMsg_Destroy(m);
        if (st == NATS_OK) {
            uint64_t got = pa->Sequence;
            jsPubAck_Destroy(pa);
            if (got != next->seq) {
                /* an older message with this id (a record hash) cannot be anything but this record */
                ortak_log_error("journal", "stream %s stored record %llu at sequence %llu", n->stream,
                                (unsigned long long)next->seq, (unsigned long long)got);
                return ORTAK_NOT_LEADER;
            }
            return ORTAK_OK;
        }
        if (jerr == JSStreamWrongLastSequenceErr) {
            ortak_log_warn("journal",
                           "stream %s refused record %llu: another node writes (its last record is not "
                           "%llu)",
                           n->stream, (unsigned long long)next->seq, (unsigned long long)n->head.seq);
            return ORTAK_NOT_LEADER;
        }
        if (!transient(st) && jerr == 0 && st != NATS_ERR) {
            ortak_log_error("journal", "stream %s: publish of record %llu: %s", n->stream,
                            (unsigned long long)next->seq, natsStatus_GetText(st));
        }
        if (attempt % 8 == 0)
            ortak_log_warn("journal", "stream %s: record %llu not acknowledged yet (%s, error %d): retrying", n->stream,
                           (unsigned long long)next->seq, natsStatus_GetText(st), (int)jerr);
        sleep_ms(20);
    }
}

static ortak_rc backend_append(void *ctx, ortak_time_ns timestamp, const void *payload, uint32_t len,
                               const struct ortak_journal_head *expect, struct ortak_journal_head *head) {
    struct ortak_nats *n = ctx;
    struct ortak_journal_head next;
    pthread_mutex_lock(&n->mu);
    ortak_journal_head_next(&n->head, timestamp, payload, len, &next);
    ortak_rc rc = ORTAK_OK;
    if (expect) { /* a follower's copy: it must land where the leader's did */
        if (expect->seq != next.seq || memcmp(expect->hash, next.hash, 32) != 0) rc = ORTAK_CORRUPT;
    } else if (n->mode != MODE_LEAD) {
        rc = ORTAK_NOT_LEADER;
    } else {
        if (n->attach_take) n->attach = n->attach_take(n->attach_ctx, &n->attach_len);
        if ((rc = publish(n, &next, payload, len)) != ORTAK_OK) {
            n->mode = MODE_REFUSED;
            pthread_cond_broadcast(&n->cv);
        }
        free(n->attach);
        n->attach = NULL;
        n->attach_len = 0;
    }
    if (rc == ORTAK_OK) {
        uint64_t seq;
        ortak_rc lrc = ortak_journal_append(n->local, timestamp, payload, len, &seq);
        ORTAK_ASSERT(lrc == ORTAK_OK && seq == next.seq);
        ortak_journal_head_get(n->local, &n->head);
        ORTAK_ASSERT(memcmp(n->head.hash, next.hash, 32) == 0);
        *head = n->head;
    }
    pthread_mutex_unlock(&n->mu);
    return rc;
}

/* Every record appended was acknowledged by the stream already: only the local copy remains to be synced (a
 * snapshot must never be ahead of the local journal on disk, so followers sync each group too). */
static ortak_rc backend_sync(void *ctx, uint64_t *durable_seq) {
    struct ortak_nats *n = ctx;
    pthread_mutex_lock(&n->mu);
    ortak_journal_sync(n->local);
    *durable_seq = n->head.seq;
    pthread_mutex_unlock(&n->mu);
    return ORTAK_OK;
}

const struct ortak_journal_backend *ortak_nats_backend(struct ortak_nats *n) { return &n->backend; }

void ortak_nats_attach_source(struct ortak_nats *n, uint8_t *(*take)(void *ctx, size_t *len), void *ctx) {
    pthread_mutex_lock(&n->mu);
    n->attach_take = take;
    n->attach_ctx = ctx;
    pthread_mutex_unlock(&n->mu);
}

void ortak_nats_lead(struct ortak_nats *n) {
    pthread_mutex_lock(&n->mu);
    atomic_store(&n->fence_asked, false);
    n->mode = MODE_LEAD;
    pthread_mutex_unlock(&n->mu);
}

void ortak_nats_fence(struct ortak_nats *n) {
    atomic_store(&n->fence_asked, true);
    pthread_mutex_lock(&n->mu);
    n->mode = MODE_FOLLOW;
    pthread_mutex_unlock(&n->mu);
}

bool ortak_nats_wait_refused(struct ortak_nats *n, uint32_t ms) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&n->mu);
    while (n->mode != MODE_REFUSED && pthread_cond_timedwait(&n->cv, &n->mu, &until) == 0) continue;
    bool refused = n->mode == MODE_REFUSED;
    pthread_mutex_unlock(&n->mu);
    return refused;
}

void ortak_nats_state_set(struct ortak_nats *n, uint64_t seq, const uint8_t hash[32]) {
    pthread_mutex_lock(&n->state_mu);
    n->state_seq = seq;
    memcpy(n->state_hash, hash, 32);
    pthread_mutex_unlock(&n->state_mu);
}

void ortak_nats_head(struct ortak_nats *n, struct ortak_journal_head *head) {
    pthread_mutex_lock(&n->mu);
    *head = n->head;
    pthread_mutex_unlock(&n->mu);
}

/* ---- reading ----------------------------------------------------------------------------------------------- */

static bool header_u64(natsMsg *m, const char *key, uint64_t *v) {
    const char *s = NULL;
    return natsMsgHeader_Get(m, key, &s) == NATS_OK && parse_u64(s, NULL, v);
}

static bool header_hash(natsMsg *m, const char *key, uint8_t out[32]) {
    const char *s = NULL;
    return natsMsgHeader_Get(m, key, &s) == NATS_OK && unhex(s, out, 32);
}

static bool record_read(natsMsg *m, uint64_t seq, struct ortak_nats_record *rec) {
    uint64_t ts;
    memset(rec, 0, sizeof *rec);
    if (!header_u64(m, "Ortak-Seq", &rec->head.seq) || rec->head.seq != seq || !header_u64(m, "Ortak-Time", &ts) ||
        ts > INT64_MAX || !header_hash(m, "Ortak-Prev", rec->prev_hash) ||
        !header_hash(m, "Ortak-Hash", rec->head.hash))
        return false;
    rec->head.timestamp = (ortak_time_ns)ts;
    const uint8_t *data = (const uint8_t *)natsMsg_GetData(m);
    uint64_t total = (uint64_t)natsMsg_GetDataLength(m), attach = 0;
    const char *st = NULL, *end = NULL;
    if (natsMsgHeader_Get(m, "Ortak-Attach", &st) == NATS_OK && (!parse_u64(st, NULL, &attach) || attach > total))
        return false;
    rec->attach = attach ? data : NULL;
    rec->attach_len = (size_t)attach;
    rec->payload = data + attach;
    rec->len = (uint32_t)(total - attach);
    if (natsMsgHeader_Get(m, "Ortak-State", &st) == NATS_OK) {
        if (!parse_u64(st, &end, &rec->state_seq) || *end != ' ' || !unhex(end + 1, rec->state_hash, 32)) return false;
        rec->has_state = true;
    }
    rec->msg_ = m;
    return true;
}

ortak_rc ortak_nats_get(struct ortak_nats *n, uint64_t seq, bool *found, struct ortak_nats_record *rec, char *err,
                        size_t err_cap) {
    *found = false;
    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = n->timeout_ms;
    natsStatus st = js_GetMsg(&m, n->js, n->stream, seq, &o, &jerr);
    if (st == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) return ORTAK_OK;
    if (st != NATS_OK) {
        snprintf(err, err_cap, "stream %s: reading record %llu: %s (error %d)", n->stream, (unsigned long long)seq,
                 natsStatus_GetText(st), (int)jerr);
        return ORTAK_IO;
    }
    if (!record_read(m, seq, rec)) {
        natsMsg_Destroy(m);
        snprintf(err, err_cap, "stream %s: message %llu is not a well-formed ortak record", n->stream,
                 (unsigned long long)seq);
        return ORTAK_CORRUPT;
    }
    *found = true;
    return ORTAK_OK;
}

static void unfollow(struct ortak_nats *n) {
    if (!n->sub) return;
    natsSubscription_Unsubscribe(n->sub);
    natsSubscription_Destroy(n->sub);
    n->sub = NULL;
}

void ortak_nats_unfollow(struct ortak_nats *n) { unfollow(n); }

static ortak_rc follow(struct ortak_nats *n, uint64_t from_seq, char *err, size_t err_cap) {
    unfollow(n);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = n->stream;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = from_seq;
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = n->timeout_ms;
    jsErrCode jerr = 0;
    natsStatus st = js_SubscribeSync(&n->sub, n->js, n->subject, &o, &so, &jerr);
    if (st != NATS_OK) {
        n->sub = NULL;
        snprintf(err, err_cap, "stream %s: following from record %llu: %s (error %d)", n->stream,
                 (unsigned long long)from_seq, natsStatus_GetText(st), (int)jerr);
        return ORTAK_IO;
    }
    n->sub_next = from_seq;
    return ORTAK_OK;
}

ortak_rc ortak_nats_next(struct ortak_nats *n, uint64_t seq, uint32_t wait_ms, bool *found,
                         struct ortak_nats_record *rec, char *err, size_t err_cap) {
    *found = false;
    if ((!n->sub || n->sub_next != seq) && follow(n, seq, err, err_cap) != ORTAK_OK) return ORTAK_IO;
    natsMsg *m = NULL;
    natsStatus st = natsSubscription_NextMsg(&m, n->sub, wait_ms);
    if (st == NATS_TIMEOUT) return ORTAK_OK;
    if (st != NATS_OK) {
        unfollow(n); /* followed again from `seq` next time */
        snprintf(err, err_cap, "stream %s: reading record %llu: %s", n->stream, (unsigned long long)seq,
                 natsStatus_GetText(st));
        return ORTAK_IO;
    }
    if (!record_read(m, seq, rec)) {
        natsMsg_Destroy(m);
        unfollow(n);
        snprintf(err, err_cap, "stream %s: message for record %llu is not that well-formed ortak record", n->stream,
                 (unsigned long long)seq);
        return ORTAK_CORRUPT;
    }
    n->sub_next = seq + 1;
    *found = true;
    return ORTAK_OK;
}

void ortak_nats_record_free(struct ortak_nats_record *rec) {
    natsMsg_Destroy(rec->msg_);
    rec->msg_ = NULL;
}

ortak_rc ortak_nats_bounds(struct ortak_nats *n, uint64_t *first, uint64_t *last) {
    jsStreamInfo *si = NULL;
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = n->timeout_ms;
    if (js_GetStreamInfo(&si, n->js, n->stream, &o, NULL) != NATS_OK) return ORTAK_IO;
    *first = si->State.FirstSeq;
    *last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    return ORTAK_OK;
}

/* ---- the lease --------------------------------------------------------------------------------------------- */

#define LEASE_KEY "leader"

/* Read from the stream's leader (not a "direct get", which any replica may answer from an older state): a lease
 * just given up or expired is seen as gone at once. */
ortak_rc ortak_nats_lease_get(struct ortak_nats *n, char *holder, size_t cap, uint64_t *rev) {
    char stream[NAME_MAX_LEN + 16], subject[NAME_MAX_LEN + 32];
    snprintf(stream, sizeof stream, "KV_%s_lease", n->stream);
    snprintf(subject, sizeof subject, "$KV.%s_lease.%s", n->stream, LEASE_KEY);
    holder[0] = '\0';
    *rev = 0;
    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = n->timeout_ms;
    natsStatus st = js_GetLastMsg(&m, n->js, stream, subject, &o, &jerr);
    if (st == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) return ORTAK_OK;
    if (st != NATS_OK) {
        ortak_log_debug("journal", "lease: %s (%s)", natsStatus_GetText(st), nats_GetLastError(NULL));
        return ORTAK_IO;
    }
    const char *op = NULL;
    if (natsMsgHeader_Get(m, "KV-Operation", &op) != NATS_OK || !op) { /* a put; deletes and purges say so */
        snprintf(holder, cap, "%.*s", natsMsg_GetDataLength(m), natsMsg_GetData(m));
        *rev = natsMsg_GetSequence(m);
    }
    natsMsg_Destroy(m);
    return ORTAK_OK;
}

ortak_rc ortak_nats_lease_take(struct ortak_nats *n, const char *holder, uint64_t *rev) {
    natsStatus st = kvStore_CreateString(rev, n->lease, LEASE_KEY, holder);
    if (st == NATS_OK) return ORTAK_OK;
    ortak_log_debug("journal", "lease not taken: %s (%s)", natsStatus_GetText(st), nats_GetLastError(NULL));
    return transient(st) ? ORTAK_IO : ORTAK_NOT_LEADER;
}

ortak_rc ortak_nats_lease_renew(struct ortak_nats *n, const char *holder, uint64_t *rev) {
    uint64_t next = 0;
    natsStatus st = kvStore_UpdateString(&next, n->lease, LEASE_KEY, holder, *rev);
    if (st == NATS_OK) {
        *rev = next;
        return ORTAK_OK;
    }
    return transient(st) ? ORTAK_IO : ORTAK_NOT_LEADER;
}

void ortak_nats_lease_release(struct ortak_nats *n, uint64_t rev) {
    char holder[256];
    uint64_t now = 0;
    if (ortak_nats_lease_get(n, holder, sizeof holder, &now) == ORTAK_OK && now == rev)
        kvStore_Delete(n->lease, LEASE_KEY);
}

/* ---- snapshots and trimming -------------------------------------------------------------------------------- */

ortak_rc ortak_nats_snapshot_note(struct ortak_nats *n, const char *node, uint64_t seq) {
    char v[24];
    snprintf(v, sizeof v, "%llu", (unsigned long long)seq);
    return kvStore_PutString(NULL, n->nodes, node, v) == NATS_OK ? ORTAK_OK : ORTAK_IO;
}

ortak_rc ortak_nats_snapshot_min(struct ortak_nats *n, uint64_t *min_seq) {
    kvKeysList keys = {0};
    *min_seq = 0;
    natsStatus st = kvStore_Keys(&keys, n->nodes, NULL);
    if (st == NATS_NOT_FOUND) return ORTAK_OK;
    if (st != NATS_OK) return ORTAK_IO;
    uint64_t min = UINT64_MAX;
    for (int i = 0; st == NATS_OK && i < keys.Count; i++) {
        kvEntry *e = NULL;
        char v[24];
        uint64_t seq;
        if ((st = kvStore_Get(&e, n->nodes, keys.Keys[i])) != NATS_OK) break;
        snprintf(v, sizeof v, "%.*s", kvEntry_ValueLen(e), (const char *)kvEntry_Value(e));
        kvEntry_Destroy(e);
        if (parse_u64(v, NULL, &seq) && seq < min) min = seq;
    }
    kvKeysList_Destroy(&keys);
    if (st != NATS_OK) return ORTAK_IO;
    *min_seq = min == UINT64_MAX ? 0 : min;
    return ORTAK_OK;
}

ortak_rc ortak_nats_trim(struct ortak_nats *n, uint64_t seq) {
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = n->timeout_ms;
    o.Stream.Purge.Sequence = seq; /* removes every message before seq */
    return js_PurgeStream(n->js, n->stream, &o, NULL) == NATS_OK ? ORTAK_OK : ORTAK_IO;
}

void ortak_nats_delete(struct ortak_nats *n) {
    char name[NAME_MAX_LEN + 8];
    js_DeleteStream(n->js, n->stream, NULL, NULL);
    snprintf(name, sizeof name, "%s_lease", n->stream);
    js_DeleteKeyValue(n->js, name);
    snprintf(name, sizeof name, "%s_nodes", n->stream);
    js_DeleteKeyValue(n->js, name);
}

/* ---- opening ----------------------------------------------------------------------------------------------- */

static natsStatus connect_servers(struct ortak_nats *n, const char *servers) {
    char copy[2048];
    const char *urls[SERVERS_MAX];
    int count = 0;
    snprintf(copy, sizeof copy, "%s", servers);
    for (char *p = copy, *save = NULL, *tok; count < SERVERS_MAX && (tok = strtok_r(p, ",", &save)); p = NULL)
        urls[count++] = tok;
    natsOptions *o = NULL;
    natsStatus st = natsOptions_Create(&o);
    if (st == NATS_OK) st = natsOptions_SetServers(o, urls, count);
    if (st == NATS_OK) st = natsOptions_SetMaxReconnect(o, -1);
    if (st == NATS_OK) st = natsOptions_SetReconnectWait(o, 100);
    if (st == NATS_OK) st = natsOptions_SetTimeout(o, n->timeout_ms);
    if (st == NATS_OK) st = natsOptions_SetName(o, "ortakd");
    if (st == NATS_OK) st = natsConnection_Connect(&n->nc, o);
    natsOptions_Destroy(o);
    return st;
}

static natsStatus stream_ensure(struct ortak_nats *n, uint32_t replicas) {
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus st = js_GetStreamInfo(&si, n->js, n->stream, NULL, &jerr);
    if (st == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return NATS_OK;
    }
    jsStreamConfig c;
    jsStreamConfig_Init(&c);
    const char *subjects[] = {n->subject};
    c.Name = n->stream;
    c.Subjects = subjects;
    c.SubjectsLen = 1;
    c.Storage = js_FileStorage;
    c.Replicas = replicas;
    c.Duplicates = INT64_C(120) * 1000000000; /* a retried publish within 2 minutes is recognised */
    c.Discard = js_DiscardNew;
    st = js_AddStream(&si, n->js, &c, NULL, &jerr);
    jsStreamInfo_Destroy(si);
    return st;
}

static natsStatus bucket_ensure(struct ortak_nats *n, kvStore **kv, const char *suffix, int64_t ttl_ms,
                                uint32_t replicas) {
    char name[NAME_MAX_LEN + 8];
    snprintf(name, sizeof name, "%s_%s", n->stream, suffix);
    natsStatus st = js_KeyValue(kv, n->js, name);
    if (st == NATS_OK) return st;
    kvConfig c;
    kvConfig_Init(&c);
    c.Bucket = name;
    c.History = 1;
    c.TTL = ttl_ms * 1000000; /* nanoseconds, whatever the header says */
    c.StorageType = js_FileStorage;
    c.Replicas = (int)replicas;
    return js_CreateKeyValue(kv, n->js, &c);
}

ortak_rc ortak_nats_open(const struct ortak_nats_options *opt, struct ortak_journal *local, struct ortak_nats **out,
                         char *err, size_t err_cap) {
    *out = NULL;
    struct ortak_nats *n = calloc(1, sizeof *n);
    if (!n) {
        snprintf(err, err_cap, "out of memory");
        return ORTAK_NOMEM;
    }
    uint32_t lease_ms = opt->lease_ms ? opt->lease_ms : 3000, replicas = opt->replicas ? opt->replicas : 3;
    n->timeout_ms = opt->timeout_ms ? opt->timeout_ms : lease_ms / 4;
    n->publish_wait_ms = n->timeout_ms > lease_ms / 2 ? n->timeout_ms : lease_ms / 2;
    n->local = local;
    snprintf(n->stream, sizeof n->stream, "%s", opt->stream);
    snprintf(n->subject, sizeof n->subject, "%s.batch", opt->stream);
    n->backend = (struct ortak_journal_backend){.append = backend_append, .sync = backend_sync, .ctx = n};
    ortak_journal_head_get(local, &n->head);
    pthread_mutex_init(&n->mu, NULL);
    pthread_mutex_init(&n->state_mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    const char *what = "connect to";
    natsStatus st = connect_servers(n, opt->servers);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = n->timeout_ms;
    if (st == NATS_OK) what = "JetStream on", st = natsConnection_JetStream(&n->js, n->nc, &jo);
    /* a cluster just started elects its JetStream leaders first: retried for up to 20 s */
    for (uint32_t i = 0; st == NATS_OK && i < 80; i++) {
        what = "create the stream on";
        if ((st = stream_ensure(n, replicas)) != NATS_OK) goto again;
        what = "create the lease bucket on";
        if (!n->lease && (st = bucket_ensure(n, &n->lease, "lease", lease_ms, replicas)) != NATS_OK) goto again;
        what = "create the nodes bucket on";
        if (!n->nodes && (st = bucket_ensure(n, &n->nodes, "nodes", 0, replicas)) != NATS_OK) goto again;
        break;
    again:
        if (i + 1 < 80) st = NATS_OK;
        sleep_ms(250);
    }
    if (st != NATS_OK) {
        const char *detail = nats_GetLastError(NULL);
        snprintf(err, err_cap, "cannot %s NATS %s: %s (%s)", what, opt->servers, natsStatus_GetText(st),
                 detail ? detail : "");
        ortak_nats_close(n);
        return ORTAK_IO;
    }
    *out = n;
    return ORTAK_OK;
}

void ortak_nats_close(struct ortak_nats *n) {
    if (!n) return;
    unfollow(n);
    kvStore_Destroy(n->lease);
    kvStore_Destroy(n->nodes);
    jsCtx_Destroy(n->js);
    natsConnection_Destroy(n->nc);
    pthread_mutex_destroy(&n->mu);
    pthread_mutex_destroy(&n->state_mu);
    pthread_cond_destroy(&n->cv);
    free(n);
}

void ortak_nats_shutdown(void) { nats_CloseAndWait(2000); }
