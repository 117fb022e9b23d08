/*
 * Sanctions screening in the payment path (docs/screening.md, "In the server").
 *
 * Every payment whose debtor and creditor agents are in different countries is screened before its command goes
 * to the engine: the debtor's and creditor's names (when the message gives them) and the two agents' names, against
 * the lists loaded at start-up. A hit at or above the threshold submits the payment held (struct ortak_payment's
 * `hold`); the decision (lists version, best score, the name it hit on, list and entry) travels with the command
 * into the journal and stays with the payment. The operator releases a held payment (it goes on as if submitted
 * then) or rejects it (RR04); both are engine commands, so in the journal too.
 *
 * Threads: the network threads screen, each with its own screener (a thread-specific key closes it when the
 * thread ends), under the read side of a lock that a reload takes for writing only to swap the set. The agents'
 * names repeat payment after payment: each thread keeps their outcome per lists version in a small cache.
 *
 * Held payments: their ids are kept here, found by one look over the engine's payments at start-up and then
 * followed from the engine's events (held; released or rejected), so listing the holds never scans a day's payments.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "ortak/iso20022.h"
#include "ortak/screening.h"
#include "server.h"

_Static_assert(sizeof((struct ortak_screen_hit *)0)->list == sizeof((struct ortak_screening *)0)->list &&
                   sizeof((struct ortak_screen_hit *)0)->entry_id == sizeof((struct ortak_screening *)0)->entry_id,
               "a hit's list and entry fit the decision as they are");

#define AGENT_CACHE 64u /* per thread; direct-mapped by BIC */
#define HELD_MAX 65536u /* held payments followed at most (far more than an operator works through in a day) */

struct screening {
    pthread_rwlock_t lock;
    struct ortak_screen_set *set; /* NULL: nothing loaded, nothing screened */
    const char *paths[ORTAK_SCREEN_LISTS_LIMIT];
    uint32_t npaths;
    char path_buf[ORTAK_SCREEN_LISTS_LIMIT][SRV_PATH_MAX];
    const char *translit_dir; /* NULL: ICU's built-in transliterators only */
    uint16_t threshold;
    uint64_t loaded_ns; /* when the set in use was loaded (wall clock) */
    pthread_mutex_t mu; /* the held ids and counters */
    ortak_u128 *held;
    uint32_t held_len;
    uint64_t screened, hits;
};

/* ---- lists ------------------------------------------------------------------------------------------------- */

/* Splits the configured comma-separated list paths; none configured: the reference data's lists, when present. */
static void list_paths(struct screening *sc, const char *configured) {
    sc->npaths = 0;
    if (!configured[0]) {
        sc->npaths = ortak_screen_default_lists(sc->paths, ORTAK_SCREEN_LISTS_LIMIT);
        return;
    }
    const char *p = configured;
    while (*p && sc->npaths < ORTAK_SCREEN_LISTS_LIMIT) {
        while (*p == ' ' || *p == ',') p++;
        size_t n = strcspn(p, ",");
        while (n && p[n - 1] == ' ') n--;
        if (n) {
            char *dst = sc->path_buf[sc->npaths];
            snprintf(dst, SRV_PATH_MAX, "%.*s", (int)n, p);
            sc->paths[sc->npaths++] = dst;
        }
        p += n;
        while (*p && *p != ',') p++;
    }
}

static void log_set(const struct ortak_screen_set *set, const char *verb) {
    for (uint32_t i = 0; i < ortak_screen_set_list_count(set); i++) {
        const struct ortak_screen_list_info *li = ortak_screen_set_list(set, i);
        ortak_log_info("screening", "%s list %s (%s%s%s): %u entries, %u names", verb, li->list, li->format,
                       li->date_generated[0] ? ", generated " : "", li->date_generated, li->entries, li->names);
    }
    ortak_log_info("screening", "lists version %016llx", (unsigned long long)ortak_screen_set_version(set));
}

int screen_open(struct server *s) {
    struct screening *sc = calloc(1, sizeof *sc);
    if (!sc) return -1;
    pthread_rwlock_init(&sc->lock, NULL);
    pthread_mutex_init(&sc->mu, NULL);
    sc->threshold = s->cfg.screening_threshold;
    sc->translit_dir = s->cfg.translit_dir[0] ? s->cfg.translit_dir : ortak_screen_default_translit_dir();
    s->screening = sc;
    if (!s->cfg.screening) {
        ortak_log_warn("screening", "switched off ([screening] enabled = false): cross-border payments are NOT "
                                    "screened against sanctions lists");
        return 0;
    }
    list_paths(sc, s->cfg.screening_lists);
    if (sc->npaths == 0) {
        ortak_log_warn("screening", "no sanctions lists configured ([screening] lists) or found: cross-border payments "
                                    "are NOT screened");
        return 0;
    }
    char err[512];
    if (ortak_screen_set_load(sc->paths, sc->npaths, sc->translit_dir, &sc->set, err, sizeof err) != ORTAK_OK) {
        fprintf(stderr, "ortakd: [screening] lists: %s\n", err);
        return -1;
    }
    sc->loaded_ns = srv_now();
    ortak_log_info("screening", "%s", ortak_screen_translit_status(sc->translit_dir));
    log_set(sc->set, "loaded");
    return 0;
}

void screen_close(struct screening *sc) {
    if (!sc) return;
    ortak_screen_set_free(sc->set);
    pthread_rwlock_destroy(&sc->lock);
    pthread_mutex_destroy(&sc->mu);
    free(sc->held);
    free(sc);
}

/* ---- screening one payment --------------------------------------------------------------------------------- */

static pthread_key_t screener_key;
static pthread_once_t screener_once = PTHREAD_ONCE_INIT;

static void screener_free(void *t) { ortak_screener_close(t); }
static void screener_key_make(void) { pthread_key_create(&screener_key, screener_free); }

struct agent_memo {
    char bic[12];
    uint64_t version;
    struct ortak_screen_hit best; /* score 0: no hit */
};
static _Thread_local struct agent_memo agent_memo[AGENT_CACHE];

static struct ortak_screener *screener(const struct screening *sc) {
    pthread_once(&screener_once, screener_key_make);
    struct ortak_screener *t = pthread_getspecific(screener_key);
    char err[256];
    if (t) return t;
    if (ortak_screener_open(sc->translit_dir, &t, err, sizeof err) != ORTAK_OK) {
        ortak_log_error("screening", "cannot open a screener: %s", err);
        return NULL;
    }
    pthread_setspecific(screener_key, t);
    return t;
}

/* The best hit of one name (score 0 when none reaches the threshold). */
static struct ortak_screen_hit best_hit(const struct screening *sc, struct ortak_screener *t, const char *name) {
    struct ortak_screen_hit hit = {.score = 0};
    if (name && name[0]) ortak_screen_name(t, sc->set, name, strlen(name), sc->threshold, &hit, 1);
    return hit;
}

static struct ortak_screen_hit agent_hit(const struct screening *sc, struct ortak_screener *t, const char *bic,
                                         const char *name, uint64_t version) {
    uint32_t h = 2166136261u;
    for (const char *c = bic; *c; c++) h = (h ^ (uint8_t)*c) * 16777619u;
    struct agent_memo *m = &agent_memo[h % AGENT_CACHE];
    if (m->version != version || strcmp(m->bic, bic) != 0) {
        snprintf(m->bic, sizeof m->bic, "%s", bic);
        m->version = version;
        m->best = best_hit(sc, t, name);
    }
    return m->best;
}

void screen_parties_get(const struct ortak_engine *e, const struct ortak_payment *p, struct screen_parties *out) {
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    struct ortak_account_info a;
    memset(out, 0, sizeof *out);
    if (ortak_ledger_account_get(l, p->debit_account_id, &a) == ORTAK_OK)
        ortak_ledger_participant_get(l, a.bic, &out->debtor_agent);
    if (ortak_ledger_account_get(l, p->credit_account_id, &a) == ORTAK_OK)
        ortak_ledger_participant_get(l, a.bic, &out->creditor_agent);
}

bool screen_payment(struct server *s, const struct screen_parties *pt, const char *debtor, const char *creditor,
                    struct ortak_payment *p) {
    struct screening *sc = s->screening;
    memset(&p->screening, 0, sizeof p->screening);
    p->hold = 0;
    /* A domestic payment is the national system's to screen; an unknown agent is refused by the engine anyway. */
    if (!pt->debtor_agent.bic[0] || !pt->creditor_agent.bic[0] ||
        strcmp(pt->debtor_agent.country, pt->creditor_agent.country) == 0)
        return true;
    pthread_rwlock_rdlock(&sc->lock);
    struct ortak_screener *t = sc->set ? screener(sc) : NULL;
    if (!t) {
        pthread_rwlock_unlock(&sc->lock);
        return sc->set == NULL; /* nothing loaded: nothing to screen against (said at start-up) */
    }
    uint64_t version = ortak_screen_set_version(sc->set);
    struct ortak_screen_hit hits[4] = {
        best_hit(sc, t, debtor),
        best_hit(sc, t, creditor),
        agent_hit(sc, t, pt->debtor_agent.bic, pt->debtor_agent.name, version),
        agent_hit(sc, t, pt->creditor_agent.bic, pt->creditor_agent.name, version),
    };
    pthread_rwlock_unlock(&sc->lock);
    struct ortak_screening *d = &p->screening;
    d->lists_version = version;
    for (uint8_t i = 0; i < 4; i++) {
        if (hits[i].score <= d->score) continue;
        d->score = hits[i].score;
        d->party = (uint8_t)(ORTAK_PARTY_DEBTOR + i);
        memcpy(d->list, hits[i].list, sizeof d->list); /* both NUL-terminated within the same sizes */
        memcpy(d->entry_id, hits[i].entry_id, sizeof d->entry_id);
    }
    p->hold = d->score > 0;
    pthread_mutex_lock(&sc->mu);
    sc->screened++;
    sc->hits += p->hold;
    pthread_mutex_unlock(&sc->mu);
    return true;
}

/* ---- held payments ----------------------------------------------------------------------------------------- */

static void held_add(struct screening *sc, ortak_u128 id) {
    if (!sc->held) sc->held = malloc(HELD_MAX * sizeof *sc->held);
    if (!sc->held || sc->held_len == HELD_MAX) {
        ortak_log_error("screening", "more than %u payments held: the newest are not listed (they stay held)",
                        HELD_MAX);
        return;
    }
    sc->held[sc->held_len++] = id;
}

static void held_remove(struct screening *sc, ortak_u128 id) {
    for (uint32_t i = 0; i < sc->held_len; i++) {
        if (sc->held[i] != id) continue;
        memmove(&sc->held[i], &sc->held[i + 1], (sc->held_len - i - 1) * sizeof *sc->held);
        sc->held_len--;
        return;
    }
}

void screen_held_scan(struct screening *sc, const struct ortak_engine *e) {
    const struct ortak_settle *st = ortak_engine_settle(e);
    uint32_t n = ortak_settle_payment_count(st);
    pthread_mutex_lock(&sc->mu);
    sc->held_len = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct ortak_payment_info p;
        if (ortak_settle_payment_at(st, i, &p) == ORTAK_OK && p.state == ORTAK_PAYMENT_HELD) held_add(sc, p.p.id);
    }
    pthread_mutex_unlock(&sc->mu);
}

void screen_on_events(struct screening *sc, const struct ortak_event *ev, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = ev[i].kind;
        if (k != ORTAK_EV_PAYMENT_HELD && k != ORTAK_EV_PAYMENT_RELEASED &&
            !(k == ORTAK_EV_PAYMENT_REJECTED && ev[i].status == ORTAK_SCREENING_REJECTED))
            continue;
        pthread_mutex_lock(&sc->mu);
        if (k == ORTAK_EV_PAYMENT_HELD)
            held_add(sc, ev[i].id);
        else
            held_remove(sc, ev[i].id);
        pthread_mutex_unlock(&sc->mu);
    }
}

bool screen_metrics(struct screening *sc, char *buf, size_t cap) {
    pthread_rwlock_rdlock(&sc->lock);
    uint64_t version = sc->set ? ortak_screen_set_version(sc->set) : 0;
    uint32_t entries = sc->set ? ortak_screen_set_entries(sc->set) : 0;
    pthread_rwlock_unlock(&sc->lock);
    pthread_mutex_lock(&sc->mu);
    int n =
        snprintf(buf, cap,
                 "# HELP ortak_screening_payments_total Cross-border payments screened against sanctions lists.\n"
                 "# TYPE ortak_screening_payments_total counter\nortak_screening_payments_total %llu\n"
                 "# HELP ortak_screening_hits_total Payments held for a hit at or above the threshold.\n"
                 "# TYPE ortak_screening_hits_total counter\nortak_screening_hits_total %llu\n"
                 "# HELP ortak_screening_held Payments held now, awaiting the operator's decision.\n"
                 "# TYPE ortak_screening_held gauge\nortak_screening_held %u\n"
                 "# HELP ortak_screening_list_entries Entries of the sanctions lists in use (0: none loaded).\n"
                 "# TYPE ortak_screening_list_entries gauge\nortak_screening_list_entries{version=\"%016llx\"} %u\n",
                 (unsigned long long)sc->screened, (unsigned long long)sc->hits, sc->held_len,
                 (unsigned long long)version, entries);
    pthread_mutex_unlock(&sc->mu);
    return n > 0 && (size_t)n < cap;
}

/* ---- endpoints --------------------------------------------------------------------------------------------- */

static const char *party_name(uint8_t party) {
    static const char *const names[] = {"", "debtor", "creditor", "debtor_agent", "creditor_agent"};
    return party < sizeof names / sizeof names[0] ? names[party] : "";
}

/* A score (1/10000) as JSON's number: a score, not money; the division is correctly rounded, so 9300 is 0.93. */
static double score_real(uint16_t score) { return (double)score / ORTAK_SCREEN_SCORE_MAX; }

json_t *screen_decision_json(const struct ortak_payment *p) {
    const struct ortak_screening *d = &p->screening;
    char version[17];
    snprintf(version, sizeof version, "%016llx", (unsigned long long)d->lists_version);
    json_t *o = json_pack("{s:s, s:b}", "lists_version", version, "held", p->hold);
    if (d->score) {
        json_object_set_new(o, "party", json_string(party_name(d->party)));
        json_object_set_new(o, "list", json_string(d->list));
        json_object_set_new(o, "entry_id", json_string(d->entry_id));
        json_object_set_new(o, "score", json_real(score_real(d->score)));
    }
    return o;
}

static json_t *status_json(struct screening *sc) {
    json_t *lists = json_array();
    json_t *o;
    pthread_rwlock_rdlock(&sc->lock);
    char version[17] = "";
    if (sc->set) {
        snprintf(version, sizeof version, "%016llx", (unsigned long long)ortak_screen_set_version(sc->set));
        for (uint32_t i = 0; i < ortak_screen_set_list_count(sc->set); i++) {
            const struct ortak_screen_list_info *li = ortak_screen_set_list(sc->set, i);
            json_array_append_new(lists, json_pack("{s:s, s:s, s:s, s:i, s:i}", "list", li->list, "format", li->format,
                                                   "date_generated", li->date_generated, "entries",
                                                   (json_int_t)li->entries, "names", (json_int_t)li->names));
        }
    }
    pthread_mutex_lock(&sc->mu);
    o = json_pack("{s:b, s:s, s:f, s:o, s:o, s:s, s:I, s:I, s:I}", "enabled", sc->set != NULL, "lists_version", version,
                  "threshold", score_real(sc->threshold), "lists", lists, "loaded_at",
                  sc->set ? json_time(sc->loaded_ns) : json_null(), "transliteration",
                  ortak_screen_translit_status(sc->translit_dir), "screened", (json_int_t)sc->screened, "hits",
                  (json_int_t)sc->hits, "held", (json_int_t)sc->held_len);
    pthread_mutex_unlock(&sc->mu);
    pthread_rwlock_unlock(&sc->lock);
    return o;
}

void screen_get_status(struct req *r) { reply_json(r, 200, status_json(r->srv->screening)); }

/* Loads the configured lists anew and swaps them in; payments screened meanwhile use the old set. */
void screen_post_reload(struct req *r) {
    struct screening *sc = r->srv->screening;
    if (!r->srv->cfg.screening) {
        reply_error(r, 409, "screening_off", NULL, "screening is switched off ([screening] enabled = false)");
        return;
    }
    struct screening fresh = {.npaths = 0};
    list_paths(&fresh, r->srv->cfg.screening_lists);
    if (fresh.npaths == 0) {
        reply_error(r, 409, "no_lists", NULL, "no sanctions lists are configured ([screening] lists) or found");
        return;
    }
    struct ortak_screen_set *set;
    char err[512];
    if (ortak_screen_set_load(fresh.paths, fresh.npaths, sc->translit_dir, &set, err, sizeof err) != ORTAK_OK) {
        reply_error(r, 422, "lists_invalid", NULL, "%s: the lists in use stay", err);
        return;
    }
    pthread_rwlock_wrlock(&sc->lock);
    struct ortak_screen_set *old = sc->set;
    sc->set = set;
    sc->npaths = fresh.npaths;
    for (uint32_t i = 0; i < fresh.npaths; i++) {
        memcpy(sc->path_buf[i], fresh.paths[i], strlen(fresh.paths[i]) + 1);
        sc->paths[i] = sc->path_buf[i];
    }
    sc->loaded_ns = srv_now();
    pthread_rwlock_unlock(&sc->lock);
    ortak_screen_set_free(old);
    log_set(set, "reloaded");
    reply_json(r, 200, status_json(sc));
}

/* A central bank sees the holds of its currency; the operator all of them. */
void screen_get_holds(struct req *r) {
    struct screening *sc = r->srv->screening;
    pthread_mutex_lock(&sc->mu);
    uint32_t n = sc->held_len;
    ortak_u128 *ids = malloc((n ? n : 1) * sizeof *ids);
    if (ids && n) memcpy(ids, sc->held, n * sizeof *ids);
    pthread_mutex_unlock(&sc->mu);
    if (!ids) {
        reply_rc(r, ORTAK_NOMEM, NULL);
        return;
    }
    json_t *holds = json_array();
    const struct ortak_engine *e = srv_read_begin(r->srv);
    for (uint32_t i = 0; i < n; i++) {
        struct ortak_payment_info p;
        if (ortak_settle_payment_get(ortak_engine_settle(e), ids[i], &p) != ORTAK_OK || p.state != ORTAK_PAYMENT_HELD ||
            !api_may_read_payment(r, e, &p))
            continue;
        json_array_append_new(holds, api_payment_json(e, &p));
    }
    srv_read_end(r->srv);
    free(ids);
    reply_json(r, 200, json_pack("{s:o}", "holds", holds));
}

/* Release or reject: the operator's decision, an engine command. */
static void hold_decide(struct req *r, uint32_t kind) {
    ortak_u128 id;
    if (!parse_id(r->seg[3], &id)) {
        reply_error(r, 400, "field_invalid", "id", "a payment id is 32 lowercase hexadecimal digits");
        return;
    }
    struct ortak_cmd cmd = {.kind = kind};
    cmd.u.control.id = id;
    struct ortak_result res;
    ortak_rc rc = api_submit1(r, &cmd, &res);
    /* Refused: nothing changed. Otherwise the decision was taken, even when the release found the payment could no
       longer go (its cut-off passed, say) and rejected it: the answer is the payment as it is now. */
    if (rc == ORTAK_PAYMENT_NOT_FOUND || rc == ORTAK_PAYMENT_NOT_HELD || rc == ORTAK_TRANSFERS_FULL) {
        reply_rc(r, rc, "id");
        if (rc == ORTAK_PAYMENT_NOT_FOUND) r->status = 404;
        if (rc == ORTAK_PAYMENT_NOT_HELD) r->status = 409;
        return;
    }
    struct ortak_payment_info p;
    const struct ortak_engine *e = srv_read_begin(r->srv);
    json_t *body =
        ortak_settle_payment_get(ortak_engine_settle(e), id, &p) == ORTAK_OK ? api_payment_json(e, &p) : NULL;
    srv_read_end(r->srv);
    if (body)
        reply_json(r, 200, body);
    else
        reply_rc(r, ORTAK_PAYMENT_NOT_FOUND, "id");
}

void screen_post_release(struct req *r) { hold_decide(r, ORTAK_CMD_PAYMENT_RELEASE); }
void screen_post_reject(struct req *r) { hold_decide(r, ORTAK_CMD_PAYMENT_REJECT); }
