/*
 * Outboxes: each participant's inbound messages, in the order the engine's events made them.
 *
 * The engine thread turns each batch's events into messages (the facts only: outbox_msg) and appends them to the
 * outbox journal as one record; the XML is written when a participant fetches them (outbox_render), on its own
 * connection's thread, so the engine thread never writes XML. Acknowledgements are records of the same journal,
 * synced before the reply.
 *
 * Exactly once across crashes: a record names the engine journal record whose events made it. At start-up the
 * outbox journal is read back (acknowledged messages dropped), and recovery then replays the engine journal
 * with the same events: batches up to the last one the outbox holds make nothing, later ones make their messages
 * again, identically, because the engine is deterministic. The outbox is synced before every snapshot (the
 * sequencer's before_snapshot hook), so it never lags behind the point recovery starts from.
 *
 * Record layout (little-endian): 'M' u64 batch_seq u32 n, then n messages of MSG_BYTES; or 'A' BIC[12] u64 seq.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "ortak/fx.h"
#include "ortak/ledger.h"
#include "ortak/settle.h"
#include "server.h"

struct box {
    char bic[12];
    uint64_t next_seq, acked;
    struct outbox_msg *msgs; /* unacknowledged, in order: msgs[start .. start+count) */
    uint32_t start, count, cap;
};

struct outbox {
    struct server *srv;
    pthread_mutex_t mu;
    struct outbox_waiter *waiters; /* long polls, resumed when their participant has a message or at deadline */
    struct ortak_journal *j;
    ortak_time_ns last_ts;
    uint64_t batch_seq; /* the last engine journal record whose messages are held */
    uint64_t pending_total;
    struct box *boxes; /* open addressing by BIC */
    uint32_t nboxes, used;
    /* the batch being built on the engine thread */
    struct outbox_msg *batch;
    uint32_t batch_len, batch_cap;
    uint8_t *rec;
    size_t rec_cap;
};

enum { MSG_BYTES = 8 + 8 + 12 + 1 + 1 + 2 + 8 + 16 * 4 + 8 + 4 + 12 };

/* ---- encoding ---------------------------------------------------------------------------------------------- */

static uint8_t *put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) *p++ = (uint8_t)(v >> (8 * i));
    return p;
}
static uint8_t *put_u128(uint8_t *p, ortak_u128 v) { return put_u64(put_u64(p, (uint64_t)v), (uint64_t)(v >> 64)); }
static uint8_t *put_bytes(uint8_t *p, const void *s, size_t n) {
    memcpy(p, s, n);
    return p + n;
}
static const uint8_t *get_u64(const uint8_t *p, uint64_t *v) {
    *v = 0;
    for (int i = 7; i >= 0; i--) *v = *v << 8 | p[i];
    return p + 8;
}
static const uint8_t *get_u128(const uint8_t *p, ortak_u128 *v) {
    uint64_t lo, hi;
    p = get_u64(get_u64(p, &lo), &hi);
    *v = (ortak_u128)hi << 64 | lo;
    return p;
}

static void msg_encode(const struct outbox_msg *m, uint8_t *p) {
    p = put_u64(p, m->seq);
    p = put_u64(p, m->batch_seq);
    p = put_bytes(p, m->recipient, 12);
    *p++ = m->type;
    *p++ = m->status;
    *p++ = (uint8_t)m->rc;
    *p++ = (uint8_t)(m->rc >> 8);
    p = put_u64(p, (uint64_t)m->at);
    p = put_u128(p, m->payment_id);
    p = put_u128(p, m->uetr);
    p = put_u128(p, m->account_id);
    p = put_u128(p, m->counter_account);
    p = put_u64(p, (uint64_t)m->amount);
    p = put_bytes(p, m->currency, 4);
    put_bytes(p, m->counterparty, 12);
}

static void msg_decode(const uint8_t *p, struct outbox_msg *m) {
    uint64_t v;
    memset(m, 0, sizeof *m);
    p = get_u64(p, &m->seq);
    p = get_u64(p, &m->batch_seq);
    memcpy(m->recipient, p, 11);
    p += 12;
    m->type = *p++;
    m->status = *p++;
    m->rc = (uint16_t)(p[0] | p[1] << 8);
    p += 2;
    p = get_u64(p, &v);
    m->at = (ortak_time_ns)v;
    p = get_u128(p, &m->payment_id);
    p = get_u128(p, &m->uetr);
    p = get_u128(p, &m->account_id);
    p = get_u128(p, &m->counter_account);
    p = get_u64(p, &v);
    m->amount = (int64_t)v;
    memcpy(m->currency, p, 3);
    memcpy(m->counterparty, p + 4, 11);
}

/* ---- boxes ------------------------------------------------------------------------------------------------- */

static uint32_t bic_hash(const char *bic) {
    uint32_t h = 2166136261u;
    for (const char *p = bic; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    return h;
}

/* The box of `bic`, created when `create`; NULL when absent (or no memory). Called with the mutex held. */
static struct box *box_get(struct outbox *o, const char *bic, bool create) {
    if (create && (o->used + 1) * 2 > o->nboxes) {
        uint32_t n = o->nboxes * 2;
        struct box *b = calloc(n, sizeof *b);
        if (!b) return NULL;
        for (uint32_t i = 0; i < o->nboxes; i++) {
            if (!o->boxes[i].bic[0]) continue;
            uint32_t k = bic_hash(o->boxes[i].bic) & (n - 1);
            while (b[k].bic[0]) k = (k + 1) & (n - 1);
            b[k] = o->boxes[i];
        }
        free(o->boxes);
        o->boxes = b;
        o->nboxes = n;
    }
    uint32_t k = bic_hash(bic) & (o->nboxes - 1);
    while (o->boxes[k].bic[0]) {
        if (strcmp(o->boxes[k].bic, bic) == 0) return &o->boxes[k];
        k = (k + 1) & (o->nboxes - 1);
    }
    if (!create) return NULL;
    snprintf(o->boxes[k].bic, sizeof o->boxes[k].bic, "%s", bic);
    o->boxes[k].next_seq = 1;
    o->used++;
    return &o->boxes[k];
}

static bool box_push(struct box *b, const struct outbox_msg *m) {
    if (b->start + b->count == b->cap) {
        if (b->start > b->cap / 2) { /* slide down rather than grow */
            memmove(b->msgs, b->msgs + b->start, b->count * sizeof *b->msgs);
            b->start = 0;
        } else {
            uint32_t cap = b->cap ? b->cap * 2 : 64;
            struct outbox_msg *n = realloc(b->msgs, cap * sizeof *n);
            if (!n) return false;
            b->msgs = n;
            b->cap = cap;
        }
    }
    b->msgs[b->start + b->count++] = *m;
    return true;
}

/* Drops messages up to seq; the inbound messages they needed may go. Called with the mutex held. */
static void box_ack(struct outbox *o, struct box *b, uint64_t seq) {
    while (b->count && b->msgs[b->start].seq <= seq) {
        const struct outbox_msg *m = &b->msgs[b->start];
        inbound_ref(o->srv->inbound, m->payment_id, -1);
        b->start++;
        b->count--;
        o->pending_total--;
    }
    if (seq > b->acked) b->acked = seq;
}

/* ---- reading back -------------------------------------------------------------------------------------------- */

static int load_record(void *ctx, const struct ortak_journal_record *rec, char *why, size_t why_cap) {
    struct outbox *o = ctx;
    const uint8_t *p = rec->payload;
    o->last_ts = rec->timestamp;
    if (rec->len == 1 + 12 + 8 && p[0] == 'A') {
        char bic[12];
        memcpy(bic, p + 1, 12);
        bic[11] = '\0';
        uint64_t seq;
        get_u64(p + 13, &seq);
        struct box *b = box_get(o, bic, true);
        if (!b) goto nomem;
        box_ack(o, b, seq);
        return 0;
    }
    if (rec->len >= 13 && p[0] == 'M') {
        uint64_t batch_seq, n64;
        get_u64(p + 1, &batch_seq);
        uint32_t n = (uint32_t)(p[9] | p[10] << 8 | p[11] << 16 | (uint32_t)p[12] << 24);
        n64 = n;
        if (13 + n64 * MSG_BYTES != rec->len) goto bad;
        for (uint32_t i = 0; i < n; i++) {
            struct outbox_msg m;
            msg_decode(p + 13 + (size_t)i * MSG_BYTES, &m);
            struct box *b = box_get(o, m.recipient, true);
            if (!b) goto nomem;
            if (m.seq != b->next_seq) goto bad;
            b->next_seq++;
            if (m.seq <= b->acked) continue;
            if (!box_push(b, &m)) goto nomem;
            o->pending_total++;
            inbound_ref(o->srv->inbound, m.payment_id, 1);
        }
        o->batch_seq = batch_seq;
        return 0;
    }
bad:
    snprintf(why, why_cap, "not an outbox record");
    return 1;
nomem:
    snprintf(why, why_cap, "out of memory");
    return 1;
}

int outbox_open(struct server *s, const char *dir, struct outbox **out, char *err, size_t err_cap) {
    struct outbox *o = calloc(1, sizeof *o);
    if (!o || !(o->boxes = calloc(256, sizeof *o->boxes))) {
        free(o);
        snprintf(err, err_cap, "out of memory");
        return -1;
    }
    o->srv = s;
    o->nboxes = 256;
    pthread_mutex_init(&o->mu, NULL);
    struct ortak_journal_options opt = {.create = true};
    struct ortak_journal_problem problem;
    if (ortak_journal_open(dir, &opt, 0, load_record, o, &o->j, &problem) != ORTAK_OK) {
        snprintf(err, err_cap, "outbox %s: %s (file %s, offset %llu)", dir, problem.message, problem.file,
                 (unsigned long long)problem.offset);
        outbox_close(o);
        return -1;
    }
    *out = o;
    return 0;
}

void outbox_close(struct outbox *o) {
    if (!o) return;
    if (o->j) ortak_journal_close(o->j);
    for (uint32_t i = 0; i < o->nboxes; i++) free(o->boxes[i].msgs);
    free(o->boxes);
    free(o->batch);
    free(o->rec);
    pthread_mutex_destroy(&o->mu);
    free(o);
}

/* Resumes the long polls that have a message now, or whose deadline is past `now_ns` (when not 0), or all. Called
 * with the mutex held. */
static void wake(struct outbox *o, bool all, uint64_t now_ns) {
    struct outbox_waiter **p = &o->waiters;
    while (*p) {
        struct outbox_waiter *w = *p;
        struct box *b = box_get(o, w->bic, false);
        if (all || (b && b->next_seq - 1 > w->after) || (now_ns && now_ns >= w->deadline_ns)) {
            *p = w->next;
            srv_resume(w->r);
        } else {
            p = &w->next;
        }
    }
}

/* ---- from events ------------------------------------------------------------------------------------------- */

static bool batch_add(struct outbox *o, const struct outbox_msg *m) {
    if (o->batch_len == o->batch_cap) {
        uint32_t cap = o->batch_cap ? o->batch_cap * 2 : 256;
        struct outbox_msg *n = realloc(o->batch, cap * sizeof *n);
        if (!n) return false;
        o->batch = n;
        o->batch_cap = cap;
    }
    o->batch[o->batch_len++] = *m;
    return true;
}

static bool owner_of(const struct ortak_engine *e, ortak_u128 account, struct ortak_account_info *a) {
    return ortak_ledger_account_get(ortak_engine_ledger(e), account, a) == ORTAK_OK;
}

/* Addresses `m` to the owner of account `to`, about its business with account `other`. */
static void address(struct outbox_msg *m, const struct ortak_account_info *to, const struct ortak_account_info *other) {
    m->account_id = to->id;
    m->counter_account = other->id;
    memcpy(m->recipient, to->bic, 12);
    memcpy(m->counterparty, other->bic, 12);
    memcpy(m->currency, to->currency, 4);
}

/* A movement on both sides: camt.054 to each account's owner. */
static bool add_movement(struct outbox *o, const struct ortak_engine *e, const struct ortak_event *ev,
                         struct outbox_msg *base) {
    struct ortak_account_info d, c;
    if (!owner_of(e, ev->debit_account_id, &d) || !owner_of(e, ev->credit_account_id, &c)) return true;
    struct ortak_payment_info pi;
    if (ortak_settle_payment_get(ortak_engine_settle(e), ev->id, &pi) == ORTAK_OK) base->uetr = pi.p.uetr;
    struct outbox_msg m = *base;
    m.type = OUTBOX_CAMT054;
    m.amount = -ev->amount;
    address(&m, &d, &c);
    if (!batch_add(o, &m)) return false;
    m.amount = ev->amount;
    address(&m, &c, &d);
    return batch_add(o, &m);
}

/* pacs.002 to the payer (the debit account's owner) and, for a settled ISO 20022 payment, its forward. */
static bool add_status(struct outbox *o, const struct ortak_engine *e, const struct ortak_event *ev,
                       struct outbox_msg *base, uint8_t status, bool forward) {
    struct ortak_account_info d, c;
    if (!owner_of(e, ev->debit_account_id, &d) || !owner_of(e, ev->credit_account_id, &c)) return true;
    struct outbox_msg m = *base;
    m.type = OUTBOX_PACS002;
    m.status = status;
    m.rc = (uint16_t)(status == 2 ? ev->status : 0);
    m.amount = ev->amount;
    address(&m, &d, &c);
    if (!batch_add(o, &m)) return false;
    struct inbound_meta meta;
    if (!forward || !inbound_get(o->srv->inbound, ev->id, &meta, NULL, NULL)) return true;
    m.type = OUTBOX_FORWARD;
    address(&m, &c, &d);
    return batch_add(o, &m);
}

static bool is_payment(const struct ortak_engine *e, ortak_u128 id) {
    struct ortak_payment_info p;
    return ortak_settle_payment_get(ortak_engine_settle(e), id, &p) == ORTAK_OK;
}

static bool event_messages(struct outbox *o, const struct ortak_engine *e, uint64_t seq, const struct ortak_event *ev) {
    struct outbox_msg base = {.batch_seq = seq, .at = ev->timestamp, .payment_id = ev->id, .uetr = ev->ref};
    switch (ev->kind) {
    case ORTAK_EV_TRANSFER_POSTED:
    case ORTAK_EV_PENDING_POSTED:
        base.uetr = 0;
        if (!add_movement(o, e, ev, &base)) return false;
        /* a pacs.009 booked as a plain transfer (a central bank's liquidity), not a payment's: its status and
           forward (a payment's come with its own event) */
        if (ev->kind == ORTAK_EV_TRANSFER_POSTED && !is_payment(e, ev->id) &&
            inbound_get(o->srv->inbound, ev->id, &(struct inbound_meta){0}, NULL, NULL))
            return add_status(o, e, ev, &base, 1, true);
        return true;
    case ORTAK_EV_PAYMENT_SETTLED: return add_status(o, e, ev, &base, 1, true);
    case ORTAK_EV_PAYMENT_REJECTED: return add_status(o, e, ev, &base, 2, false);
    case ORTAK_EV_PAYMENT_CANCELLED: return add_status(o, e, ev, &base, 3, false);
    case ORTAK_EV_PAYMENT_ACCEPTED: return add_status(o, e, ev, &base, 4, false);
    default: return true;
    }
}

void outbox_on_events(struct outbox *o, const struct ortak_engine *e, uint64_t seq, const struct ortak_event *ev,
                      uint32_t n) {
    /* batch_seq and the batch buffer belong to the engine thread (and to start-up before it): no lock to build */
    if (seq <= o->batch_seq) return; /* recovery: the outbox already holds this batch's messages */
    o->batch_len = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!event_messages(o, e, seq, &ev[i])) {
            ortak_log_error("outbox", "out of memory building the messages of record %llu", (unsigned long long)seq);
            exit(ORTAK_EXIT_IO); /* a message lost would break the outbox's promise: stop, recovery makes it */
        }
    }
    pthread_mutex_lock(&o->mu);
    o->batch_seq = seq;
    if (o->batch_len == 0) {
        pthread_mutex_unlock(&o->mu);
        return;
    }
    for (uint32_t i = 0; i < o->batch_len; i++) {
        struct outbox_msg *m = &o->batch[i];
        struct box *b = box_get(o, m->recipient, true);
        if (!b) {
            ortak_log_error("outbox", "out of memory");
            exit(ORTAK_EXIT_IO);
        }
        m->seq = b->next_seq++;
    }
    size_t len = 13 + (size_t)o->batch_len * MSG_BYTES;
    if (len > o->rec_cap) {
        uint8_t *r = realloc(o->rec, len);
        if (!r) {
            ortak_log_error("outbox", "out of memory");
            exit(ORTAK_EXIT_IO);
        }
        o->rec = r;
        o->rec_cap = len;
    }
    o->rec[0] = 'M';
    put_u64(o->rec + 1, seq);
    for (int i = 0; i < 4; i++) o->rec[9 + i] = (uint8_t)(o->batch_len >> (8 * i));
    for (uint32_t i = 0; i < o->batch_len; i++) msg_encode(&o->batch[i], o->rec + 13 + (size_t)i * MSG_BYTES);
    ortak_time_ns ts = o->batch[0].at > o->last_ts ? o->batch[0].at : o->last_ts;
    o->last_ts = ts;
    uint64_t rseq;
    if (len > ortak_journal_payload_max(o->j) ||
        ortak_journal_append(o->j, ts, o->rec, (uint32_t)len, &rseq) != ORTAK_OK) {
        ortak_log_error("outbox", "record of %zu bytes does not fit a segment", len);
        exit(ORTAK_EXIT_IO);
    }
    for (uint32_t i = 0; i < o->batch_len; i++) {
        struct outbox_msg *m = &o->batch[i];
        struct box *b = box_get(o, m->recipient, false);
        if (!box_push(b, m)) {
            ortak_log_error("outbox", "out of memory");
            exit(ORTAK_EXIT_IO);
        }
        o->pending_total++;
        inbound_ref(o->srv->inbound, m->payment_id, 1);
    }
    wake(o, false, 0);
    pthread_mutex_unlock(&o->mu);
}

void outbox_sync(struct outbox *o) {
    pthread_mutex_lock(&o->mu);
    ortak_journal_sync(o->j);
    pthread_mutex_unlock(&o->mu);
}

/* ---- participants' side -------------------------------------------------------------------------------------- */

uint32_t outbox_fetch(struct outbox *o, const char *bic, uint64_t after, struct outbox_msg *out, uint32_t max,
                      uint64_t *acked, uint64_t *last) {
    uint32_t n = 0;
    pthread_mutex_lock(&o->mu);
    struct box *b = box_get(o, bic, false);
    *acked = b ? b->acked : 0;
    *last = b ? b->next_seq - 1 : 0;
    for (uint32_t i = 0; b && i < b->count && n < max; i++) {
        if (b->msgs[b->start + i].seq > after) out[n++] = b->msgs[b->start + i];
    }
    pthread_mutex_unlock(&o->mu);
    return n;
}

bool outbox_wait(struct outbox *o, struct outbox_waiter *w) {
    pthread_mutex_lock(&o->mu);
    struct box *b = box_get(o, w->bic, false);
    bool waits = !(b && b->next_seq - 1 > w->after) && !atomic_load(&o->srv->stopping);
    if (waits) {
        w->next = o->waiters;
        o->waiters = w;
    }
    pthread_mutex_unlock(&o->mu);
    return waits;
}

void outbox_expire(struct outbox *o, uint64_t now_ns) {
    pthread_mutex_lock(&o->mu);
    wake(o, false, now_ns);
    pthread_mutex_unlock(&o->mu);
}

int outbox_ack(struct outbox *o, const char *bic, uint64_t seq) {
    pthread_mutex_lock(&o->mu);
    struct box *b = box_get(o, bic, false);
    uint64_t last = b ? b->next_seq - 1 : 0;
    if (seq > last) {
        pthread_mutex_unlock(&o->mu);
        return -1;
    }
    if (b && seq > b->acked) {
        uint8_t rec[1 + 12 + 8] = {'A'};
        memcpy(rec + 1, b->bic, 12);
        put_u64(rec + 13, seq);
        ortak_time_ns now = srv_now();
        if (now < o->last_ts) now = o->last_ts;
        o->last_ts = now;
        uint64_t rseq;
        ortak_journal_append(o->j, now, rec, sizeof rec, &rseq);
        ortak_journal_sync(o->j);
        box_ack(o, b, seq);
    }
    pthread_mutex_unlock(&o->mu);
    return 0;
}

uint64_t outbox_pending(struct outbox *o, const char *bic) {
    pthread_mutex_lock(&o->mu);
    struct box *b = box_get(o, bic, false);
    uint64_t n = b ? b->count : 0;
    pthread_mutex_unlock(&o->mu);
    return n;
}

uint64_t outbox_pending_total(struct outbox *o) {
    pthread_mutex_lock(&o->mu);
    uint64_t n = o->pending_total;
    pthread_mutex_unlock(&o->mu);
    return n;
}

void outbox_wake_all(struct outbox *o) {
    pthread_mutex_lock(&o->mu);
    wake(o, true, 0);
    pthread_mutex_unlock(&o->mu);
}
