/*
 * The operator dashboard: its static files (web/, served under /dashboard/) and the JSON endpoints its views poll
 * (docs/dashboard.md).
 *
 * Aggregates are made from the engine's events on the engine thread (dash_on_events), live and while recovery
 * replays the journal, so they rebuild on restart: recovery replays only the records after the newest snapshot,
 * so the aggregates are saved beside it (dash_save, from the sequencer's before_snapshot hook and at shutdown) with
 * the journal record they include, and records up to that one are skipped when replayed.
 *
 * Invariants: memory is fixed at start-up (one struct dash_state, no allocation on the engine thread); one business
 * day (UTC) is kept, in per-minute buckets by currency, per-hour buckets by account and five-minute samples of each
 * account, and an event of a later day starts a new one; the ring of recent payment events and of gridlock runs
 * outlive the day. Every endpoint applies the API's authorisation: the operator sees everything, a central bank its
 * currency, a bank its own accounts and payments.
 */
#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "ortak/ledger.h"
#include "ortak/settle.h"
#include "server.h"

enum {
    DASH_CURRENCIES_MAX = 16,
    DASH_MINUTES = 1440,
    DASH_HOURS = 24,
    DASH_SAMPLE_MIN = 5, /* account samples: one every 5 minutes */
    DASH_SAMPLES = DASH_MINUTES / DASH_SAMPLE_MIN,
    DASH_ACCOUNTS_MAX = 512, /* settlement accounts followed one by one; more still count in their currency */
    DASH_ACCOUNT_SLOTS = 1024,
    DASH_COUNTRIES_MAX = 32,
    DASH_RECENT = 8192, /* payment events kept for search */
    DASH_RUNS = 64,     /* gridlock resolution runs kept */
    DASH_DELAY_BUCKETS = 40,
    DASH_FILE_VERSION = 2,
};
_Static_assert(DASH_ACCOUNT_SLOTS >= 2 * DASH_ACCOUNTS_MAX, "the account table stays at most half full");
_Static_assert(DASH_MINUTES % DASH_SAMPLE_MIN == 0, "samples divide the day");

struct dash_minute {
    uint32_t settled, rejected, queued, accepted, held;
    int64_t value; /* settled, minor units, saturated */
};

struct dash_level { /* a currency's totals at a minute */
    int64_t liquidity, queued_value, credit_lines, reserved;
    uint32_t queued;
    uint32_t set; /* 1 when sampled */
};

struct dash_hour {
    uint32_t sent, received, rejected;
    int64_t sent_value, received_value;
};

struct dash_account {
    ortak_u128 id; /* 0: free */
    char bic[12];
    uint8_t currency; /* index in cur[] */
    uint8_t country;  /* index in countries[], or 0xff */
    uint8_t agent;    /* 1: the central bank of its currency */
    uint16_t rank;    /* its place in the per-account arrays: the order accounts were first seen */
};

struct dash_sample {
    int64_t balance, queued_value;
};

struct dash_recent {
    ortak_time_ns at;
    ortak_u128 id, uetr;
    uint16_t debtor, creditor; /* account slots, or 0xffff */
    uint8_t kind;              /* enum ortak_event_kind */
    uint8_t currency;
    uint32_t status;
    int64_t amount;
};

struct dash_run {
    ortak_time_ns at;
    uint8_t currency, mode;
    int64_t queued, settled;
    int64_t value;
};

struct dash_flow {
    uint64_t count;
    int64_t value;
};

struct dash_cur {
    char code[4];
    uint8_t minor_units;
    uint64_t settled, rejected, accepted, held;
    int64_t value;
    uint64_t delay_hist[DASH_DELAY_BUCKETS]; /* queued then settled: at most 2^k ms */
    struct dash_minute min[DASH_MINUTES];
    struct dash_level level[DASH_MINUTES];
};

/* Everything the dashboard keeps: one block, written to disk as it is. */
struct dash_state {
    uint64_t seq;    /* the last journal record whose events are included */
    int64_t day;     /* days since 1970-01-01 of the buckets; -1 before the first event */
    int32_t sampled; /* the last minute sampled, -1 none */
    ortak_time_ns sampled_at;
    uint32_t ncur, ncountries, naccounts;
    char countries[DASH_COUNTRIES_MAX][3];
    struct dash_cur cur[DASH_CURRENCIES_MAX];
    struct dash_account acc[DASH_ACCOUNT_SLOTS];
    uint16_t acc_order[DASH_ACCOUNTS_MAX]; /* slots in the order accounts were first seen */
    struct dash_hour hour[DASH_ACCOUNTS_MAX][DASH_HOURS];
    struct dash_sample sample[DASH_ACCOUNTS_MAX][DASH_SAMPLES];
    uint8_t sample_set[DASH_SAMPLES];
    struct dash_flow flow[DASH_COUNTRIES_MAX][DASH_COUNTRIES_MAX][DASH_CURRENCIES_MAX];
    uint64_t recent_next; /* total written; the ring holds the last DASH_RECENT */
    struct dash_recent recent[DASH_RECENT];
    uint64_t runs_next;
    struct dash_run runs[DASH_RUNS];
};

struct dash {
    struct server *srv;
    pthread_mutex_t mu;
    char path[SRV_PATH_MAX + 32];
    char web_dir[SRV_PATH_MAX];
    uint64_t saved_seq;
    ortak_time_ns started;
    struct dash_state st;
};

/* ---- arithmetic -------------------------------------------------------------------------------------------- */

static int64_t sat64(ortak_i128 v) {
    return v > (ortak_i128)INT64_MAX ? INT64_MAX : v < (ortak_i128)INT64_MIN ? INT64_MIN : (int64_t)v;
}

static void add_sat(int64_t *a, int64_t b) {
    if (b > 0 && *a > INT64_MAX - b)
        *a = INT64_MAX;
    else if (b < 0 && *a < INT64_MIN - b)
        *a = INT64_MIN;
    else
        *a += b;
}

static int64_t day_of(ortak_time_ns t) { return (int64_t)(t / (86400 * ORTAK_NS_PER_S)); }
static uint32_t minute_of(ortak_time_ns t) { return (uint32_t)(t / (60 * ORTAK_NS_PER_S) % DASH_MINUTES); }

/* ---- tables ------------------------------------------------------------------------------------------------ */

static int cur_index(struct dash_state *st, const struct ortak_engine *e, const char *code) {
    for (uint32_t i = 0; i < st->ncur; i++) {
        if (strcmp(st->cur[i].code, code) == 0) return (int)i;
    }
    if (st->ncur == DASH_CURRENCIES_MAX) return -1;
    struct dash_cur *c = &st->cur[st->ncur];
    snprintf(c->code, sizeof c->code, "%s", code);
    c->minor_units = srv_minor_units(e, code);
    return (int)st->ncur++;
}

static uint8_t country_index(struct dash_state *st, const char *cc) {
    if (!cc[0]) return 0xff;
    for (uint32_t i = 0; i < st->ncountries; i++) {
        if (memcmp(st->countries[i], cc, 2) == 0) return (uint8_t)i;
    }
    if (st->ncountries == DASH_COUNTRIES_MAX) return 0xff;
    memcpy(st->countries[st->ncountries], cc, 2);
    st->countries[st->ncountries][2] = '\0';
    return (uint8_t)st->ncountries++;
}

static uint32_t id_hash(ortak_u128 id) {
    uint64_t x = (uint64_t)id ^ (uint64_t)(id >> 64);
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    return (uint32_t)x;
}

/* The slot of a settlement account, added when first seen: -1 when it is not one, or the table is full. */
static int acc_slot(struct dash_state *st, const struct ortak_engine *e, ortak_u128 id) {
    if (!id) return -1;
    uint32_t h = id_hash(id);
    for (uint32_t i = 0; i < DASH_ACCOUNT_SLOTS; i++) {
        uint32_t k = (h + i) % DASH_ACCOUNT_SLOTS;
        if (st->acc[k].id == id) return (int)k;
        if (st->acc[k].id) continue;
        if (st->naccounts == DASH_ACCOUNTS_MAX) return -1;
        struct ortak_account_info a;
        struct ortak_participant_info p;
        const struct ortak_ledger *l = ortak_engine_ledger(e);
        if (ortak_ledger_account_get(l, id, &a) != ORTAK_OK || a.kind != ORTAK_ACCOUNT_SETTLEMENT) return -1;
        int c = cur_index(st, e, a.currency);
        if (c < 0) return -1;
        struct dash_account *d = &st->acc[k];
        d->id = id;
        memcpy(d->bic, a.bic, 12);
        d->currency = (uint8_t)c;
        d->country = ortak_ledger_participant_get(l, a.bic, &p) == ORTAK_OK ? country_index(st, p.country) : 0xff;
        d->agent = api_is_agent(e, a.bic, a.currency);
        d->rank = (uint16_t)st->naccounts;
        st->acc_order[st->naccounts++] = (uint16_t)k;
        return (int)k;
    }
    return -1;
}

/* The account's place in the per-account arrays (order of first sight). */
static int acc_rank(const struct dash_state *st, int slot) { return st->acc[slot].rank; }

/* ---- events ------------------------------------------------------------------------------------------------ */

static void new_day(struct dash_state *st, int64_t day) {
    st->day = day;
    st->sampled = -1;
    for (uint32_t i = 0; i < DASH_CURRENCIES_MAX; i++) {
        struct dash_cur *c = &st->cur[i];
        c->settled = c->rejected = c->accepted = c->held = 0;
        c->value = 0;
        memset(c->delay_hist, 0, sizeof c->delay_hist);
        memset(c->min, 0, sizeof c->min);
        memset(c->level, 0, sizeof c->level);
    }
    memset(st->hour, 0, sizeof st->hour);
    memset(st->sample, 0, sizeof st->sample);
    memset(st->sample_set, 0, sizeof st->sample_set);
    memset(st->flow, 0, sizeof st->flow);
}

/* Totals of every currency, and every followed account, at minute `m` (once a minute at most). */
static void sample(struct dash_state *st, const struct ortak_engine *e, uint32_t m) {
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    const struct ortak_settle *se = ortak_engine_settle(e);
    struct dash_level lv[DASH_CURRENCIES_MAX];
    memset(lv, 0, sizeof lv);
    uint32_t s = m / DASH_SAMPLE_MIN, na = ortak_ledger_account_count(l);
    for (uint32_t i = 0; i < na; i++) {
        struct ortak_account_info a;
        ortak_ledger_account_at(l, i, &a);
        if (a.kind != ORTAK_ACCOUNT_SETTLEMENT) continue;
        int c = cur_index(st, e, a.currency);
        struct ortak_queue_info q;
        uint32_t n;
        int64_t qv = 0;
        uint32_t qc = 0;
        if (ortak_settle_queue(se, a.id, NULL, 0, &n, &q) == ORTAK_OK) {
            for (int p = 0; p < ORTAK_PRIORITIES; p++) {
                qc += q.count[p];
                add_sat(&qv, sat64(q.value[p]));
            }
        }
        if (c >= 0) {
            add_sat(&lv[c].liquidity, sat64(a.balance));
            add_sat(&lv[c].queued_value, qv);
            add_sat(&lv[c].credit_lines, a.credit_line);
            add_sat(&lv[c].reserved, a.reserved);
            lv[c].queued += qc;
            lv[c].set = 1;
        }
        int slot = acc_slot(st, e, a.id), rank = slot < 0 ? -1 : acc_rank(st, slot);
        if (rank >= 0) st->sample[rank][s] = (struct dash_sample){.balance = sat64(a.balance), .queued_value = qv};
    }
    st->sample_set[s] = 1;
    for (uint32_t c = 0; c < st->ncur; c++) st->cur[c].level[m] = lv[c];
    st->sampled = (int32_t)m;
}

static void recent_add(struct dash_state *st, const struct ortak_event *ev, int d, int c, int cur) {
    struct dash_recent *r = &st->recent[st->recent_next++ % DASH_RECENT];
    *r = (struct dash_recent){.at = ev->timestamp,
                              .id = ev->id,
                              .uetr = ev->ref,
                              .debtor = d < 0 ? 0xffff : (uint16_t)d,
                              .creditor = c < 0 ? 0xffff : (uint16_t)c,
                              .kind = (uint8_t)ev->kind,
                              .currency = cur < 0 ? 0xff : (uint8_t)cur,
                              .status = ev->status,
                              .amount = ev->amount};
}

static void on_settled(struct dash_state *st, const struct ortak_engine *e, const struct ortak_event *ev,
                       struct dash_minute *m, struct dash_cur *c, int d, int k) {
    m->settled++;
    add_sat(&m->value, ev->amount);
    c->settled++;
    add_sat(&c->value, ev->amount);
    int rd = d < 0 ? -1 : acc_rank(st, d), rk = k < 0 ? -1 : acc_rank(st, k);
    uint32_t h = minute_of(ev->timestamp) / 60;
    if (rd >= 0) {
        st->hour[rd][h].sent++;
        add_sat(&st->hour[rd][h].sent_value, ev->amount);
    }
    if (rk >= 0) {
        st->hour[rk][h].received++;
        add_sat(&st->hour[rk][h].received_value, ev->amount);
    }
    if (d >= 0 && k >= 0 && st->acc[d].country != 0xff && st->acc[k].country != 0xff) {
        struct dash_flow *f = &st->flow[st->acc[d].country][st->acc[k].country][st->acc[d].currency];
        f->count++;
        add_sat(&f->value, ev->amount);
    }
    struct ortak_payment_info p;
    if (ortak_settle_payment_get(ortak_engine_settle(e), ev->id, &p) == ORTAK_OK && p.received_ns &&
        ev->timestamp > p.received_ns + ORTAK_NS_PER_S / 1000) { /* it waited: how long */
        uint64_t ms = (ev->timestamp - p.received_ns) / 1000000;
        uint32_t b = 0;
        while (b < DASH_DELAY_BUCKETS - 1 && ms > (UINT64_C(1) << b)) b++;
        c->delay_hist[b]++;
    }
}

static void on_payment(struct dash_state *st, const struct ortak_engine *e, const struct ortak_event *ev) {
    int d = acc_slot(st, e, ev->debit_account_id), k = acc_slot(st, e, ev->credit_account_id);
    int cur = d >= 0 ? st->acc[d].currency : -1;
    if (cur < 0) {
        struct ortak_account_info a;
        if (ortak_ledger_account_get(ortak_engine_ledger(e), ev->debit_account_id, &a) != ORTAK_OK) return;
        cur = cur_index(st, e, a.currency);
        if (cur < 0) return;
    }
    recent_add(st, ev, d, k, cur);
    struct dash_cur *c = &st->cur[cur];
    struct dash_minute *m = &c->min[minute_of(ev->timestamp)];
    switch (ev->kind) {
    case ORTAK_EV_PAYMENT_SETTLED: on_settled(st, e, ev, m, c, d, k); break;
    case ORTAK_EV_PAYMENT_QUEUED: m->queued++; break;
    case ORTAK_EV_PAYMENT_ACCEPTED:
        m->accepted++;
        c->accepted++;
        break;
    case ORTAK_EV_PAYMENT_HELD:
        m->held++;
        c->held++;
        break;
    case ORTAK_EV_PAYMENT_REJECTED: {
        m->rejected++;
        c->rejected++;
        int rd = d < 0 ? -1 : acc_rank(st, d);
        if (rd >= 0) st->hour[rd][minute_of(ev->timestamp) / 60].rejected++;
        break;
    }
    default: break;
    }
}

static void on_gridlock(struct dash_state *st, const struct ortak_engine *e, const struct ortak_event *ev) {
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    uint32_t nc = ortak_ledger_currency_count(l);
    int cur = -1;
    for (uint32_t i = 0; i < nc; i++) {
        struct ortak_currency_info ci;
        ortak_ledger_currency_at(l, i, &ci);
        if ((ortak_u128)ci.numeric == ev->id) cur = cur_index(st, e, ci.code);
    }
    st->runs[st->runs_next++ % DASH_RUNS] = (struct dash_run){.at = ev->timestamp,
                                                              .currency = cur < 0 ? 0xff : (uint8_t)cur,
                                                              .mode = (uint8_t)ev->status,
                                                              .queued = ev->amount_old,
                                                              .settled = ev->amount,
                                                              .value = sat64((ortak_i128)ev->ref)};
}

void dash_on_events(struct dash *d, const struct ortak_engine *e, uint64_t seq, const struct ortak_event *ev,
                    uint32_t n) {
    if (!d) return;
    pthread_mutex_lock(&d->mu);
    struct dash_state *st = &d->st;
    if (seq <= st->seq) { /* recovery: the saved aggregates include this record */
        pthread_mutex_unlock(&d->mu);
        return;
    }
    st->seq = seq;
    for (uint32_t i = 0; i < n; i++) {
        int64_t day = day_of(ev[i].timestamp);
        if (day > st->day) new_day(st, day);
        if (day < st->day) continue; /* cannot be: engine time never goes back */
        switch (ev[i].kind) {
        case ORTAK_EV_PAYMENT_SETTLED:
        case ORTAK_EV_PAYMENT_QUEUED:
        case ORTAK_EV_PAYMENT_REJECTED:
        case ORTAK_EV_PAYMENT_CANCELLED:
        case ORTAK_EV_PAYMENT_ACCEPTED:
        case ORTAK_EV_PAYMENT_HELD:
        case ORTAK_EV_PAYMENT_RELEASED: on_payment(st, e, &ev[i]); break;
        case ORTAK_EV_GRIDLOCK: on_gridlock(st, e, &ev[i]); break;
        default: break;
        }
    }
    if (n) {
        ortak_time_ns now = ev[n - 1].timestamp;
        uint32_t m = minute_of(now);
        /* the balances of this minute and slot as they are at its last batch, looked at once a second at most */
        if (day_of(now) == st->day && ((int32_t)m != st->sampled || now >= st->sampled_at + ORTAK_NS_PER_S)) {
            sample(st, e, m);
            st->sampled_at = now;
        }
    }
    pthread_mutex_unlock(&d->mu);
}

/* ---- open, save, close ------------------------------------------------------------------------------------- */

struct dash_file_head {
    char magic[8];
    uint32_t version, size;
    uint8_t hash[32]; /* SHA-256 of the state */
};

static void state_hash(const struct dash_state *st, uint8_t out[32]) {
    struct sha256_ctx h;
    sha256_init(&h);
    sha256_update(&h, sizeof *st, (const uint8_t *)st);
    sha256_digest(&h, 32, out);
}

/* Every index the file holds within its table (the hash guards against damage, this against a file not ours). */
static bool state_valid(const struct dash_state *st) {
    if (st->ncur > DASH_CURRENCIES_MAX || st->naccounts > DASH_ACCOUNTS_MAX || st->ncountries > DASH_COUNTRIES_MAX)
        return false;
    for (uint32_t i = 0; i < DASH_ACCOUNT_SLOTS; i++) {
        const struct dash_account *a = &st->acc[i];
        if (a->id && (a->rank >= st->naccounts || a->currency >= st->ncur ||
                      (a->country != 0xff && a->country >= st->ncountries)))
            return false;
    }
    for (uint32_t i = 0; i < st->naccounts; i++) {
        if (st->acc_order[i] >= DASH_ACCOUNT_SLOTS) return false;
    }
    for (uint32_t i = 0; i < DASH_RECENT; i++) {
        const struct dash_recent *x = &st->recent[i];
        if ((x->debtor != 0xffff && x->debtor >= DASH_ACCOUNT_SLOTS) ||
            (x->creditor != 0xffff && x->creditor >= DASH_ACCOUNT_SLOTS))
            return false;
    }
    return st->sampled < (int32_t)DASH_MINUTES;
}

static void load(struct dash *d) {
    FILE *f = fopen(d->path, "rb");
    if (!f) return;
    struct dash_file_head h;
    uint8_t want[32];
    bool ok = fread(&h, sizeof h, 1, f) == 1 && memcmp(h.magic, "ORTKDASH", 8) == 0 && h.version == DASH_FILE_VERSION &&
              h.size == sizeof d->st && fread(&d->st, sizeof d->st, 1, f) == 1;
    fclose(f);
    if (ok) state_hash(&d->st, want);
    if (!ok || memcmp(want, h.hash, 32) != 0 || !state_valid(&d->st)) {
        ortak_log_warn("dashboard", "%s is damaged or of another version: the dashboard starts from the journal",
                       d->path);
        memset(&d->st, 0, sizeof d->st);
        d->st.day = -1;
        d->st.sampled = -1;
        return;
    }
    d->saved_seq = d->st.seq;
}

int dash_open(struct server *s, struct dash **out) {
    struct dash *d = calloc(1, sizeof *d);
    if (!d) return -1;
    d->srv = s;
    pthread_mutex_init(&d->mu, NULL);
    d->st.day = -1;
    d->st.sampled = -1;
    d->started = srv_now();
    snprintf(d->path, sizeof d->path, "%s/dashboard.bin", s->cfg.data_dir);
    load(d);
    ortak_log_info("dashboard", "%zu KiB of aggregates; from journal record %llu", sizeof *d / 1024,
                   (unsigned long long)d->st.seq);
    *out = d;
    return 0;
}

void dash_set_web_dir(struct dash *d, const char *dir) {
    snprintf(d->web_dir, sizeof d->web_dir, "%s", dir ? dir : "");
}

void dash_save(struct dash *d) {
    if (!d) return;
    char tmp[sizeof d->path + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", d->path);
    struct dash_file_head h = {.magic = "ORTKDASH", .version = DASH_FILE_VERSION, .size = sizeof d->st};
    pthread_mutex_lock(&d->mu);
    state_hash(&d->st, h.hash);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    bool ok = fd >= 0 && write(fd, &h, sizeof h) == (ssize_t)sizeof h &&
              write(fd, &d->st, sizeof d->st) == (ssize_t)sizeof d->st && fsync(fd) == 0;
    uint64_t seq = d->st.seq;
    pthread_mutex_unlock(&d->mu);
    if (fd >= 0) close(fd);
    /* derived data: a failure costs the dashboard its history before the snapshot, never the journal */
    if (!ok || rename(tmp, d->path) != 0) {
        ortak_log_warn("dashboard", "cannot write %s: %s", d->path, strerror(errno));
        unlink(tmp);
        return;
    }
    pthread_mutex_lock(&d->mu);
    d->saved_seq = seq;
    pthread_mutex_unlock(&d->mu);
}

void dash_close(struct dash *d) {
    if (!d) return;
    pthread_mutex_destroy(&d->mu);
    free(d);
}

/* ---- access ------------------------------------------------------------------------------------------------ */

/* What the caller may see of a currency: everything (operator, its central bank), or its own accounts only. */
static bool sees_currency(const struct req *r, const struct ortak_engine *e, const char *code) {
    return r->who.role == ORTAK_ROLE_OPERATOR || api_is_agent(e, r->who.bic, code);
}

static bool sees_account(const struct req *r, const struct ortak_engine *e, const struct dash_state *st,
                         const struct dash_account *a) {
    return r->who.role == ORTAK_ROLE_OPERATOR || strcmp(a->bic, r->who.bic) == 0 ||
           sees_currency(r, e, st->cur[a->currency].code);
}

static const char *scope_name(const struct req *r) {
    return r->who.role == ORTAK_ROLE_OPERATOR ? "all" : r->who.role == ORTAK_ROLE_CENTRAL_BANK ? "currency" : "own";
}

static json_t *json_i64(int64_t v) { return json_integer((json_int_t)v); }

/* ---- overview ---------------------------------------------------------------------------------------------- */

/* p99 of the payment routes' latency since start, in ms (the upper bound of its bucket). */
static json_t *latency_json(struct server *s) {
    uint64_t b[SRV_LATENCY_BUCKETS] = {0}, total = 0, ns = 0;
    for (uint32_t i = 0; i < srv_route_count; i++) {
        const struct route *rt = &srv_routes[i];
        if (strcmp(rt->method, "POST") != 0 ||
            (strcmp(rt->pattern, "/v1/payments") != 0 && strcmp(rt->pattern, "/v1/iso20022") != 0))
            continue;
        for (uint32_t k = 0; k < SRV_LATENCY_BUCKETS; k++) {
            uint64_t v = atomic_load(&s->route_metrics[i].latency_buckets[k]);
            b[k] += v;
            total += v;
        }
        ns += atomic_load(&s->route_metrics[i].latency_ns_total);
    }
    double q[2] = {0.5, 0.99}, out[2] = {0, 0};
    for (int j = 0; j < 2 && total; j++) {
        uint64_t need = (uint64_t)((double)total * q[j]), acc = 0;
        for (uint32_t k = 0; k < SRV_LATENCY_BUCKETS; k++) {
            acc += b[k];
            if (acc >= need || k == SRV_LATENCY_BUCKETS - 1) {
                out[j] = (double)(UINT64_C(50000) << k) / 1e6;
                break;
            }
        }
    }
    return json_pack("{s:I, s:f, s:f, s:f}", "requests", (json_int_t)total, "p50_ms", out[0], "p99_ms", out[1],
                     "mean_ms", total ? (double)ns / (double)total / 1e6 : 0.0);
}

static double delay_p99_ms(const struct dash_cur *c) {
    uint64_t total = 0, acc = 0;
    for (int k = 0; k < DASH_DELAY_BUCKETS; k++) total += c->delay_hist[k];
    if (!total) return 0;
    uint64_t need = total - total / 100;
    for (int k = 0; k < DASH_DELAY_BUCKETS; k++) {
        acc += c->delay_hist[k];
        if (acc >= need) return (double)(UINT64_C(1) << k);
    }
    return 0;
}

/* Non-empty minutes from `from`: columns. */
static json_t *minutes_json(const struct dash_cur *c, uint32_t from) {
    json_t *mi = json_array(), *se = json_array(), *va = json_array(), *re = json_array(), *qu = json_array(),
           *ac = json_array(), *li = json_array(), *qv = json_array(), *qc = json_array();
    for (uint32_t m = from; m < DASH_MINUTES; m++) {
        const struct dash_minute *x = &c->min[m];
        const struct dash_level *l = &c->level[m];
        if (!x->settled && !x->rejected && !x->queued && !x->accepted && !x->held && !l->set) continue;
        json_array_append_new(mi, json_integer(m));
        json_array_append_new(se, json_integer(x->settled));
        json_array_append_new(va, json_i64(x->value));
        json_array_append_new(re, json_integer(x->rejected));
        json_array_append_new(qu, json_integer(x->queued));
        json_array_append_new(ac, json_integer(x->accepted));
        json_array_append_new(li, l->set ? json_i64(l->liquidity) : json_null());
        json_array_append_new(qv, l->set ? json_i64(l->queued_value) : json_null());
        json_array_append_new(qc, l->set ? json_integer(l->queued) : json_null());
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "minute", mi, "settled", se, "value", va,
                     "rejected", re, "queued", qu, "accepted", ac, "liquidity", li, "queued_value", qv, "queued_count",
                     qc);
}

/* A bank's own accounts in a currency: hourly sent and received. */
static json_t *own_hours_json(const struct dash_state *st, const char *bic, uint32_t cur, uint64_t *sent,
                              int64_t *value, uint64_t *rejected) {
    struct dash_hour h[DASH_HOURS];
    memset(h, 0, sizeof h);
    for (uint32_t i = 0; i < st->naccounts; i++) {
        const struct dash_account *a = &st->acc[st->acc_order[i]];
        if (a->currency != cur || strcmp(a->bic, bic) != 0) continue;
        for (int k = 0; k < DASH_HOURS; k++) {
            h[k].sent += st->hour[i][k].sent;
            h[k].received += st->hour[i][k].received;
            h[k].rejected += st->hour[i][k].rejected;
            add_sat(&h[k].sent_value, st->hour[i][k].sent_value);
            add_sat(&h[k].received_value, st->hour[i][k].received_value);
        }
    }
    json_t *mi = json_array(), *se = json_array(), *va = json_array(), *re = json_array(), *rc = json_array(),
           *rv = json_array();
    for (int k = 0; k < DASH_HOURS; k++) {
        *sent += h[k].sent;
        add_sat(value, h[k].sent_value);
        *rejected += h[k].rejected;
        if (!h[k].sent && !h[k].received && !h[k].rejected) continue;
        json_array_append_new(mi, json_integer(k * 60));
        json_array_append_new(se, json_integer(h[k].sent));
        json_array_append_new(va, json_i64(h[k].sent_value));
        json_array_append_new(re, json_integer(h[k].rejected));
        json_array_append_new(rc, json_integer(h[k].received));
        json_array_append_new(rv, json_i64(h[k].received_value));
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "minute", mi, "settled", se, "value", va, "rejected", re,
                     "received", rc, "received_value", rv);
}

static bool has_account_in(const struct dash_state *st, const char *bic, uint32_t cur) {
    for (uint32_t i = 0; i < st->naccounts; i++) {
        const struct dash_account *a = &st->acc[st->acc_order[i]];
        if (a->currency == cur && strcmp(a->bic, bic) == 0) return true;
    }
    return false;
}

void dash_get_overview(struct req *r) {
    struct dash *d = r->srv->dash;
    uint64_t from = 0;
    if (!api_query_u64(r, "from_minute", 0, DASH_MINUTES - 1, &from)) return;
    json_t *list = json_array();
    const struct ortak_engine *e = srv_read_begin(r->srv);
    pthread_mutex_lock(&d->mu);
    const struct dash_state *st = &d->st;
    for (uint32_t i = 0; i < st->ncur; i++) {
        const struct dash_cur *c = &st->cur[i];
        bool all = sees_currency(r, e, c->code);
        if (!all && !has_account_in(st, r->who.bic, i)) continue;
        struct api_totals t;
        api_currency_totals(e, c->code, &t);
        json_t *o;
        if (all) {
            uint64_t done = c->settled + c->rejected + c->accepted;
            o = json_pack(
                "{s:s, s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:f, s:f, s:i, s:o}", "code", c->code,
                "minor_units", c->minor_units, "scope", "all", "settled", (json_int_t)c->settled, "rejected",
                (json_int_t)c->rejected, "accepted", (json_int_t)c->accepted, "held", (json_int_t)c->held, "queued_now",
                (json_int_t)t.queued, "value", json_i64(c->value), "queued_value_now", json_i64(sat64(t.queued_value)),
                "liquidity_now", json_i64(sat64(t.liquidity)), "settled_share",
                done + t.queued ? (double)(c->settled + c->accepted) / (double)(done + t.queued) : 1.0,
                "queue_delay_p99_ms", delay_p99_ms(c), "resolution_s", 60, "series", minutes_json(c, (uint32_t)from));
        } else {
            uint64_t sent = 0, rejected = 0;
            int64_t value = 0;
            json_t *series = own_hours_json(st, r->who.bic, i, &sent, &value, &rejected);
            o = json_pack("{s:s, s:i, s:s, s:I, s:I, s:o, s:f, s:i, s:o}", "code", c->code, "minor_units",
                          c->minor_units, "scope", "own", "settled", (json_int_t)sent, "rejected", (json_int_t)rejected,
                          "value", json_i64(value), "settled_share",
                          sent + rejected ? (double)sent / (double)(sent + rejected) : 1.0, "resolution_s", 3600,
                          "series", series);
        }
        json_array_append_new(list, o);
    }
    char day[40] = "";
    if (st->day >= 0) format_time((ortak_time_ns)st->day * 86400 * ORTAK_NS_PER_S, day);
    day[10] = '\0';
    pthread_mutex_unlock(&d->mu);
    srv_read_end(r->srv);
    reply_json(r, 200,
               json_pack("{s:s, s:s, s:o, s:I, s:o, s:o}", "scope", scope_name(r), "day", day, "now",
                         json_time(srv_now()), "from_minute", (json_int_t)from, "latency", latency_json(r->srv),
                         "currencies", list));
}

/* ---- liquidity --------------------------------------------------------------------------------------------- */

static json_t *account_row(const struct ortak_engine *e, const struct ortak_account_info *a) {
    json_t *o = api_account_json(e, a);
    struct ortak_participant_info p;
    if (o && ortak_ledger_participant_get(ortak_engine_ledger(e), a->bic, &p) == ORTAK_OK) {
        json_object_set_new(o, "name", json_string(p.name));
        json_object_set_new(o, "country", json_string(p.country));
        json_object_set_new(o, "role", json_string(ortak_role_name(p.role)));
    }
    return o;
}

void dash_get_liquidity(struct req *r) {
    struct dash *d = r->srv->dash;
    const char *only = req_query(r, "currency");
    json_t *accounts = json_array(), *samples = json_object(), *slots = json_array();
    const struct ortak_engine *e = srv_read_begin(r->srv);
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    uint32_t na = ortak_ledger_account_count(l);
    for (uint32_t i = 0; i < na; i++) {
        struct ortak_account_info a;
        ortak_ledger_account_at(l, i, &a);
        if (a.kind != ORTAK_ACCOUNT_SETTLEMENT || !api_may_read_account(r, e, &a) ||
            (only && strcmp(only, a.currency) != 0))
            continue;
        json_array_append_new(accounts, account_row(e, &a));
    }
    pthread_mutex_lock(&d->mu);
    const struct dash_state *st = &d->st;
    for (uint32_t s = 0; s < DASH_SAMPLES; s++) {
        if (st->sample_set[s]) json_array_append_new(slots, json_integer(s * DASH_SAMPLE_MIN));
    }
    for (uint32_t i = 0; i < st->naccounts; i++) {
        const struct dash_account *a = &st->acc[st->acc_order[i]];
        const char *code = st->cur[a->currency].code;
        if (!sees_account(r, e, st, a) || (only && strcmp(only, code) != 0)) continue;
        json_t *bal = json_array(), *que = json_array();
        for (uint32_t s = 0; s < DASH_SAMPLES; s++) {
            if (!st->sample_set[s]) continue;
            json_array_append_new(bal, json_i64(st->sample[i][s].balance));
            json_array_append_new(que, json_i64(st->sample[i][s].queued_value));
        }
        char key[20];
        snprintf(key, sizeof key, "%s/%s", a->bic, code);
        json_object_set_new(samples, key,
                            json_pack("{s:s, s:s, s:i, s:o, s:o}", "bic", a->bic, "currency", code, "minor_units",
                                      st->cur[a->currency].minor_units, "balance", bal, "queued_value", que));
    }
    pthread_mutex_unlock(&d->mu);
    srv_read_end(r->srv);
    reply_json(r, 200,
               json_pack("{s:s, s:o, s:{s:i, s:o, s:o}}", "scope", scope_name(r), "accounts", accounts, "samples",
                         "resolution_s", DASH_SAMPLE_MIN * 60, "minute", slots, "accounts", samples));
}

/* ---- queues ------------------------------------------------------------------------------------------------ */

static const char *mode_name(uint8_t mode) {
    return mode == ORTAK_GRIDLOCK_FIFO ? "fifo" : mode == ORTAK_GRIDLOCK_BYPASS ? "bypass" : "default";
}

static json_t *queue_json(const struct ortak_engine *e, const struct ortak_account_info *a) {
    enum { HEAD_SHOWN = 10 };
    ortak_u128 ids[HEAD_SHOWN];
    struct ortak_queue_info q;
    uint32_t n = 0, total = 0;
    const struct ortak_settle *se = ortak_engine_settle(e);
    if (ortak_settle_queue(se, a->id, ids, HEAD_SHOWN, &n, &q) != ORTAK_OK) return NULL;
    for (int p = 0; p < ORTAK_PRIORITIES; p++) total += q.count[p];
    if (!total) return NULL;
    uint8_t mu = srv_minor_units(e, a->currency);
    json_t *by = json_object(), *head = json_array();
    for (uint8_t p = 0; p < ORTAK_PRIORITIES; p++)
        json_object_set_new(
            by, ortak_priority_name(p),
            json_pack("{s:I, s:o}", "count", (json_int_t)q.count[p], "value", json_amount(q.value[p], mu)));
    for (uint32_t i = 0; i < n; i++) {
        struct ortak_payment_info p;
        struct ortak_account_info c = {0};
        if (ortak_settle_payment_get(se, ids[i], &p) != ORTAK_OK) continue;
        ortak_ledger_account_get(ortak_engine_ledger(e), p.p.credit_account_id, &c);
        json_array_append_new(
            head, json_pack("{s:o, s:o, s:s, s:o, s:s, s:o}", "id", json_id(p.p.id), "uetr", json_uetr(p.p.uetr),
                            "creditor_agent", c.bic, "amount", json_amount(p.p.amount, mu), "priority",
                            ortak_priority_name(p.p.priority), "received_at", json_time(p.received_ns)));
    }
    return json_pack("{s:s, s:s, s:o, s:I, s:o, s:o}", "bic", a->bic, "currency", a->currency, "account",
                     json_id(a->id), "count", (json_int_t)total, "by_priority", by, "head", head);
}

void dash_get_queues(struct req *r) {
    struct dash *d = r->srv->dash;
    json_t *queues = json_array(), *runs = json_array(), *totals = json_object();
    const struct ortak_engine *e = srv_read_begin(r->srv);
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    uint32_t na = ortak_ledger_account_count(l), nc = ortak_ledger_currency_count(l);
    for (uint32_t i = 0; i < na; i++) {
        struct ortak_account_info a;
        ortak_ledger_account_at(l, i, &a);
        if (a.kind != ORTAK_ACCOUNT_SETTLEMENT || !api_may_read_account(r, e, &a)) continue;
        json_t *q = queue_json(e, &a);
        if (q) json_array_append_new(queues, q);
    }
    for (uint32_t i = 0; i < nc; i++) {
        struct ortak_currency_info ci;
        ortak_ledger_currency_at(l, i, &ci);
        if (!sees_currency(r, e, ci.code)) continue;
        struct api_totals t;
        api_currency_totals(e, ci.code, &t);
        json_object_set_new(totals, ci.code,
                            json_pack("{s:I, s:o}", "count", (json_int_t)t.queued, "value",
                                      json_amount(t.queued_value, ci.minor_units)));
    }
    pthread_mutex_lock(&d->mu);
    const struct dash_state *st = &d->st;
    uint64_t first = st->runs_next > DASH_RUNS ? st->runs_next - DASH_RUNS : 0;
    for (uint64_t k = st->runs_next; k > first; k--) { /* newest first */
        const struct dash_run *x = &st->runs[(k - 1) % DASH_RUNS];
        const char *code = x->currency < st->ncur ? st->cur[x->currency].code : "";
        if (!code[0] || !sees_currency(r, e, code)) continue;
        json_array_append_new(runs, json_pack("{s:o, s:s, s:s, s:I, s:I, s:o}", "at", json_time(x->at), "currency",
                                              code, "mode", mode_name(x->mode), "queued", (json_int_t)x->queued,
                                              "settled", (json_int_t)x->settled, "value",
                                              json_amount(x->value, st->cur[x->currency].minor_units)));
    }
    pthread_mutex_unlock(&d->mu);
    srv_read_end(r->srv);
    reply_json(r, 200,
               json_pack("{s:s, s:o, s:o, s:o}", "scope", scope_name(r), "queues", queues, "totals", totals,
                         "gridlock_runs", runs));
}

/* ---- flows ------------------------------------------------------------------------------------------------- */

void dash_get_flows(struct req *r) {
    struct dash *d = r->srv->dash;
    json_t *flows = json_array(), *currencies = json_array();
    const struct ortak_engine *e = srv_read_begin(r->srv);
    pthread_mutex_lock(&d->mu);
    const struct dash_state *st = &d->st;
    bool seen[DASH_CURRENCIES_MAX] = {false};
    for (uint32_t c = 0; c < st->ncur; c++) {
        seen[c] = sees_currency(r, e, st->cur[c].code);
        if (seen[c])
            json_array_append_new(
                currencies, json_pack("{s:s, s:i}", "code", st->cur[c].code, "minor_units", st->cur[c].minor_units));
    }
    for (uint32_t a = 0; a < st->ncountries; a++) {
        for (uint32_t b = 0; b < st->ncountries; b++) {
            for (uint32_t c = 0; c < st->ncur; c++) {
                const struct dash_flow *f = &st->flow[a][b][c];
                if (!f->count || !seen[c]) continue;
                json_array_append_new(flows, json_pack("{s:s, s:s, s:s, s:I, s:o}", "from", st->countries[a], "to",
                                                       st->countries[b], "currency", st->cur[c].code, "count",
                                                       (json_int_t)f->count, "value", json_i64(f->value)));
            }
        }
    }
    pthread_mutex_unlock(&d->mu);
    srv_read_end(r->srv);
    /* a bank sees no flows: they are everyone's payments */
    reply_json(r, 200, json_pack("{s:s, s:o, s:o}", "scope", scope_name(r), "currencies", currencies, "flows", flows));
}

/* ---- payments ---------------------------------------------------------------------------------------------- */

static const char *event_name(uint8_t kind) {
    switch (kind) {
    case ORTAK_EV_PAYMENT_SETTLED: return "settled";
    case ORTAK_EV_PAYMENT_QUEUED: return "queued";
    case ORTAK_EV_PAYMENT_REJECTED: return "rejected";
    case ORTAK_EV_PAYMENT_CANCELLED: return "cancelled";
    case ORTAK_EV_PAYMENT_ACCEPTED: return "accepted";
    case ORTAK_EV_PAYMENT_HELD: return "held";
    case ORTAK_EV_PAYMENT_RELEASED: return "released";
    default: return "other";
    }
}

static bool sees_recent(const struct req *r, const struct ortak_engine *e, const struct dash_state *st,
                        const struct dash_recent *x) {
    if (r->who.role == ORTAK_ROLE_OPERATOR) return true;
    if (x->currency < st->ncur && api_is_agent(e, r->who.bic, st->cur[x->currency].code)) return true;
    return (x->debtor != 0xffff && strcmp(st->acc[x->debtor].bic, r->who.bic) == 0) ||
           (x->creditor != 0xffff && strcmp(st->acc[x->creditor].bic, r->who.bic) == 0);
}

/* Payments named by `q` (a payment id, a UETR, or an end-to-end id of an ISO 20022 payment among the recent ones),
 * or the recent payments of `bic`; into ids[], at most max. */
static uint32_t payment_ids(struct req *r, const struct ortak_engine *e, const char *q, const char *bic,
                            ortak_u128 *ids, uint32_t max) {
    ortak_u128 id, uetr;
    if (q && q[0] && parse_id(q, &id)) {
        ids[0] = id;
        return 1;
    }
    if (q && q[0] && ortak_iso_uetr_parse(q, &uetr)) {
        ids[0] = ortak_iso_payment_id(uetr);
        return 1;
    }
    struct dash *d = r->srv->dash;
    uint32_t n = 0;
    pthread_mutex_lock(&d->mu);
    const struct dash_state *st = &d->st;
    uint64_t first = st->recent_next > DASH_RECENT ? st->recent_next - DASH_RECENT : 0;
    for (uint64_t k = st->recent_next; k > first && n < max; k--) {
        const struct dash_recent *x = &st->recent[(k - 1) % DASH_RECENT];
        bool dup = false;
        for (uint32_t i = 0; i < n && !dup; i++) dup = ids[i] == x->id;
        if (dup || !sees_recent(r, e, st, x)) continue;
        if (bic && bic[0] &&
            !((x->debtor != 0xffff && strcmp(st->acc[x->debtor].bic, bic) == 0) ||
              (x->creditor != 0xffff && strcmp(st->acc[x->creditor].bic, bic) == 0)))
            continue;
        if (q && q[0]) { /* an end-to-end id: the payment's ISO 20022 message says */
            struct inbound_meta meta;
            if (!inbound_get(r->srv->inbound, x->id, &meta, NULL, NULL) || strcmp(meta.end_to_end_id, q) != 0) continue;
        }
        ids[n++] = x->id;
    }
    pthread_mutex_unlock(&d->mu);
    return n;
}

void dash_get_payments(struct req *r) {
    enum { SHOWN_MAX = 200 };
    uint64_t limit = 50;
    if (!api_query_u64(r, "limit", 1, SHOWN_MAX, &limit)) return;
    const char *q = req_query(r, "q"), *bic = req_query(r, "bic");
    if (q && strlen(q) > 64) {
        reply_error(r, 400, "field_invalid", "q", "q is a payment id, a UETR or an end-to-end id");
        return;
    }
    ortak_u128 ids[SHOWN_MAX];
    json_t *list = json_array();
    const struct ortak_engine *e = srv_read_begin(r->srv);
    uint32_t n = payment_ids(r, e, q, bic, ids, (uint32_t)limit);
    for (uint32_t i = 0; i < n; i++) {
        struct ortak_payment_info p;
        if (ortak_settle_payment_get(ortak_engine_settle(e), ids[i], &p) != ORTAK_OK || !api_may_read_payment(r, e, &p))
            continue;
        json_array_append_new(list, api_payment_json(e, &p));
    }
    srv_read_end(r->srv);
    reply_json(r, 200, json_pack("{s:s, s:o}", "scope", scope_name(r), "payments", list));
}

void dash_get_payment(struct req *r) {
    ortak_u128 id;
    if (!parse_id(r->seg[3], &id)) {
        reply_error(r, 400, "field_invalid", "id", "a payment id is 32 lowercase hexadecimal digits");
        return;
    }
    struct dash *d = r->srv->dash;
    struct ortak_payment_info p;
    json_t *body = NULL, *events = json_array();
    const struct ortak_engine *e = srv_read_begin(r->srv);
    bool found = ortak_settle_payment_get(ortak_engine_settle(e), id, &p) == ORTAK_OK;
    bool allowed = found && api_may_read_payment(r, e, &p);
    if (allowed) {
        body = api_payment_json(e, &p);
        pthread_mutex_lock(&d->mu);
        const struct dash_state *st = &d->st;
        uint64_t first = st->recent_next > DASH_RECENT ? st->recent_next - DASH_RECENT : 0;
        for (uint64_t k = first; k < st->recent_next; k++) {
            const struct dash_recent *x = &st->recent[k % DASH_RECENT];
            if (x->id != id) continue;
            json_array_append_new(events, json_pack("{s:o, s:s, s:I}", "at", json_time(x->at), "event",
                                                    event_name(x->kind), "status", (json_int_t)x->status));
        }
        pthread_mutex_unlock(&d->mu);
    }
    srv_read_end(r->srv);
    if (!found || !allowed) {
        json_decref(events);
        if (found)
            reply_error(r, 403, "forbidden", "id", "payment %s is neither sent nor received by you", r->seg[3]);
        else
            reply_error(r, 404, "not_found", "id", "no payment %s", r->seg[3]);
        return;
    }
    json_t *messages = json_array();
    struct inbound_meta meta;
    if (inbound_get(r->srv->inbound, id, &meta, NULL, NULL))
        json_array_append_new(messages,
                              json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "direction", "in", "type",
                                        ortak_iso_type_name(meta.type), "sender", meta.sender, "msg_id", meta.msg_id,
                                        "instr_id", meta.instr_id, "end_to_end_id", meta.end_to_end_id));
    json_object_set_new(body, "events", events);
    json_object_set_new(body, "messages", messages);
    reply_json(r, 200, body);
}

/* ---- journal and replication health ------------------------------------------------------------------------ */

void dash_get_health(struct req *r) {
    struct server *s = r->srv;
    struct dash *d = s->dash;
    struct ortak_sequencer_stats ss;
    ortak_sequencer_stats_get(s->seq, &ss);
    pthread_mutex_lock(&d->mu);
    uint64_t seq = d->st.seq, saved = d->saved_seq;
    pthread_mutex_unlock(&d->mu);
    const struct ortak_engine *e = srv_read_begin(s);
    ortak_time_ns engine_now = ortak_engine_now(e);
    uint32_t payments = ortak_settle_payment_count(ortak_engine_settle(e));
    srv_read_end(s);
    json_t *sq = json_pack("{s:I, s:I, s:I, s:f, s:f, s:I}", "batches", (json_int_t)ss.batches, "commands",
                           (json_int_t)ss.commands, "syncs", (json_int_t)ss.syncs, "sync_mean_ms",
                           ss.syncs ? (double)ss.sync_ns_total / (double)ss.syncs / 1e6 : 0.0, "sync_max_ms",
                           (double)ss.sync_ns_max / 1e6, "queued", (json_int_t)ss.queued);
    json_t *buckets = json_array();
    for (int k = 0; k < 12; k++) json_array_append_new(buckets, json_integer((json_int_t)ss.sync_buckets[k]));
    json_object_set_new(sq, "sync_buckets", buckets);
    reply_json(r, 200,
               json_pack("{s:{s:I, s:o}, s:o, s:I, s:I, s:i, s:I, s:i, s:{s:I, s:I}, s:o, s:I}", "journal", "head_seq",
                         (json_int_t)seq, "engine_time", json_time(engine_now), "sequencer", sq, "outbox_pending",
                         (json_int_t)outbox_pending_total(s->outbox), "inbound_messages",
                         (json_int_t)inbound_count(s->inbound), "connections", atomic_load(&s->connections),
                         "payments_recorded", (json_int_t)payments, "ready", atomic_load(&s->ready) ? 1 : 0,
                         "dashboard", "events_seq", (json_int_t)seq, "saved_seq", (json_int_t)saved, "started_at",
                         json_time(d->started), "uptime_s", (json_int_t)((srv_now() - d->started) / ORTAK_NS_PER_S)));
}

/* ---- static files ------------------------------------------------------------------------------------------ */

enum { STATIC_BYTES_MAX = 8 << 20 };

static const char *content_type_of(const char *name) {
    static const char *const types[][2] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".json", "application/json"},
        {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(dot, types[i][0]) == 0) return types[i][1];
    }
    return NULL;
}

/* A path segment that names a file: letters, digits, '-', '_' and '.', not starting with '.'. */
static bool segment_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] == '.') return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.'))
            return false;
    }
    return true;
}

static void add_header(struct req *r, const char *name, const char *value) {
    if (r->nhdr < sizeof r->hdr / sizeof r->hdr[0]) {
        r->hdr[r->nhdr][0] = name;
        r->hdr[r->nhdr][1] = value;
        r->nhdr++;
    }
}

void dash_get_root(struct req *r) {
    add_header(r, "Location", "/dashboard/");
    reply_text(r, 302, "text/plain; charset=utf-8", "/dashboard/\n", 12);
}

void dash_get_static(struct req *r) {
    struct dash *d = r->srv->dash;
    char path[SRV_PATH_MAX + 160];
    const char *a = r->nseg > 1 ? r->seg[1] : "", *b = r->nseg > 2 ? r->seg[2] : NULL;
    size_t plen = strlen(r->path);
    if (r->nseg == 1 && r->path[plen - 1] != '/') { /* /dashboard: the directory, with its slash */
        add_header(r, "Location", "/dashboard/");
        reply_text(r, 301, "text/plain; charset=utf-8", "/dashboard/\n", 12);
        return;
    }
    if (r->nseg == 1) a = "index.html";
    const char *name = b ? b : a;
    const char *ctype = content_type_of(name);
    if (!d->web_dir[0]) {
        reply_error(r, 404, "not_found", NULL, "the dashboard is not installed on this server ([server] web_dir)");
        return;
    }
    if (!segment_ok(a) || (b && (!segment_ok(b) || strcmp(a, "vendor") != 0)) || !ctype) {
        reply_error(r, 404, "not_found", NULL, "no such file");
        return;
    }
    snprintf(path, sizeof path, "%s/%s%s%s", d->web_dir, a, b ? "/" : "", b ? b : "");
    int fd = open(path, O_RDONLY | O_NOFOLLOW);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > STATIC_BYTES_MAX) {
        if (fd >= 0) close(fd);
        reply_error(r, 404, "not_found", NULL, "no such file");
        return;
    }
    /* Last-Modified and If-Modified-Since: the browser asks again (no-cache) and gets 304 while nothing changed;
       the vendored library, which changes only with its version, is kept a day. */
    char *lm = r->hdr_buf;
    struct tm tm;
    time_t mt = sb.st_mtime;
    strftime(lm, sizeof r->hdr_buf, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&mt, &tm));
    add_header(r, "Last-Modified", lm);
    add_header(r, "Cache-Control", b ? "public, max-age=86400" : "no-cache");
    add_header(r, "X-Content-Type-Options", "nosniff");
    if (strcmp(name, "index.html") == 0) {
        add_header(r, "Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data:; style-src 'self' "
                   "'unsafe-inline'; frame-ancestors 'none'");
    }
    const char *ims = req_header(r, "If-Modified-Since");
    if (ims && strcmp(ims, lm) == 0) {
        close(fd);
        reply_text(r, 304, ctype, "", 0);
        return;
    }
    size_t len = (size_t)sb.st_size, got = 0;
    char *buf = malloc(len ? len : 1);
    while (buf && got < len) {
        ssize_t k = read(fd, buf + got, len - got);
        if (k <= 0) break;
        got += (size_t)k;
    }
    close(fd);
    if (!buf || got != len) {
        free(buf);
        reply_error(r, 503, "unavailable", NULL, "the file could not be read");
        return;
    }
    free(r->resp);
    r->resp = buf;
    r->resp_len = len;
    r->status = 200;
    r->content_type = ctype;
}

/* ---- the web directory ---------------------------------------------------------------------------------- */

/* Where the dashboard's files are: [server] web_dir, else web/ beside the executable or two levels up (a build
 * directory in the source tree), else the source tree it was built from. "" when none exists. */
void dash_find_web_dir(const char *configured, const char *exe, char *out, size_t cap) {
    struct stat sb;
    char buf[SRV_PATH_MAX + 64];
    out[0] = '\0';
    if (configured && configured[0]) {
        if (stat(configured, &sb) == 0 && S_ISDIR(sb.st_mode)) snprintf(out, cap, "%s", configured);
        return;
    }
    char dir[SRV_PATH_MAX];
    ssize_t n = exe ? readlink(exe, dir, sizeof dir - 1) : -1;
    if (n > 0) {
        dir[n] = '\0';
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
        const char *rel[] = {"/web", "/../../web", "/../share/ortak/web"};
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            snprintf(buf, sizeof buf, "%s%s/index.html", dir, rel[i]);
            if (stat(buf, &sb) == 0) {
                snprintf(out, cap, "%s%s", dir, rel[i]);
                return;
            }
        }
    }
#ifdef ORTAKD_WEB_DIR
    snprintf(buf, sizeof buf, "%s/index.html", ORTAKD_WEB_DIR);
    if (stat(buf, &sb) == 0) snprintf(out, cap, "%s", ORTAKD_WEB_DIR);
#endif
}
