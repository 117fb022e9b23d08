/*
 * ortak simulate --target: the simulated business day against a running ortakd over HTTP (simtarget.h).
 *
 * Invariants: every participant the workload uses has a token before anything is sent (else nothing is sent);
 * payments go out in arrival order, at most `concurrency` in flight, each exactly once (never resent: it may have
 * been booked) with an Idempotency-Key unique to this run; every leg ends with one status. Money is integer.
 */
#include "simtarget.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/assert.h"
#include "cli.h"
#include "http.h"
#include "ortak/ledger.h"
#include "ortak/settle.h"

#define PATH_CAP 96u
#define KEY_CAP 48u

/* What the run keeps while it goes. */
struct run {
    const struct ortak_config *cfg;
    const struct ortak_sim_workload *w;
    const struct cli_simtarget_cfg *c;
    struct cli_http_opts http;    /* url and the operator's token */
    struct cli_server_file *file; /* DIR/ortakd.ini */
    const char **token;           /* [participant] */
    uint32_t ncur;                /* currencies of the configuration */
    char (*acc_id)[33];           /* [participant * ncur + currency]: settlement account id, "" = none */
    uint8_t *status;              /* [leg]: enum leg_status */
    char (*pay_id)[33];           /* [leg] */
    uint64_t *latency_us;         /* [leg] */
    uint32_t *recheck;            /* legs read again after the close */
    char run_id[24];
};

enum leg_status { ST_NONE = 0, ST_SETTLED, ST_QUEUED, ST_ACCEPTED, ST_REJECTED, ST_OTHER, ST_ERROR };

static uint64_t mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* "1234.56" from minor units with `minor` decimals (0..4). */
static void amount_str(uint64_t v, uint8_t minor, char out[48]) {
    ORTAK_ASSERT(minor <= 4);
    uint64_t div = 1;
    for (uint8_t i = 0; i < minor; i++) div *= 10;
    int n = snprintf(out, 48, "%llu", (unsigned long long)(v / div));
    if (minor == 0 || n < 0) return;
    char *p = out + n;
    *p++ = '.';
    uint64_t frac = v % div;
    for (uint8_t i = minor; i > 0; i--) {
        p[i - 1] = (char)('0' + frac % 10);
        frac /= 10;
    }
    p[minor] = '\0';
}

/* US cents of `v` minor units of configuration currency `cur` (rounded down; the rate is in major units). */
static uint64_t usd_cents(const struct run *x, uint32_t cur, uint64_t v) {
    ortak_u128 den = ortak_sim_rate_milli(x->cfg->currencies[cur].code);
    for (uint8_t i = 0; i < x->cfg->currencies[cur].minor_units; i++) den *= 10u;
    return den ? (uint64_t)((ortak_u128)v * 100000u / den) : 0;
}

static enum leg_status status_parse(const char *s) {
    if (!s) return ST_OTHER;
    if (strcmp(s, "settled") == 0) return ST_SETTLED;
    if (strcmp(s, "queued") == 0) return ST_QUEUED;
    if (strcmp(s, "accepted") == 0) return ST_ACCEPTED;
    if (strcmp(s, "rejected") == 0 || strcmp(s, "cancelled") == 0) return ST_REJECTED;
    return ST_OTHER;
}

/* The string at `key` of object `o`, or NULL. */
static const char *jstr(const json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }

/*
 * One request as `token` (NULL: the operator) that must answer 2xx, or `ok_code` (an error code taken as done, e.g.
 * a participant admitted by an earlier run). Copies the answer's "id" into id_out when given. 0 or an exit code.
 */
static int call(struct run *x, const char *method, const char *path, json_t *body, const char *token,
                const char *ok_code, char id_out[33]) {
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (body && !text) return CLI_EXIT_INTERNAL;
    struct cli_http_opts o = x->http;
    if (token) o.token = token;
    struct cli_answer a;
    int rc = ortak__http_request(&o, method, path, text, NULL, &a);
    free(text);
    if (rc != CLI_EXIT_OK) return rc;
    json_error_t je;
    json_t *j = a.body ? json_loadb(a.body, a.len, 0, &je) : NULL;
    const char *code = jstr(json_object_get(j, "error"), "code");
    if (a.status >= 200 && a.status < 300) {
        if (id_out) snprintf(id_out, 33, "%s", jstr(j, "id") ? jstr(j, "id") : "");
        if (id_out && !id_out[0]) rc = CLI_EXIT_PROTOCOL;
    } else if (!(ok_code && code && strstr(code, ok_code))) {
        fprintf(stderr, "ortak %s: %s %s: the server answered %ld %s: %s\n", x->c->cmd, method, path, a.status,
                code ? code : "?",
                jstr(json_object_get(j, "error"), "message") ? jstr(json_object_get(j, "error"), "message") : "");
        rc = ortak__http_status_exit(a.status);
    }
    if (rc == CLI_EXIT_PROTOCOL) fprintf(stderr, "ortak %s: %s %s: the answer has no id\n", x->c->cmd, method, path);
    json_decref(j);
    free(a.body);
    return rc;
}

static const char *role_name(uint8_t role) {
    switch (role) {
    case ORTAK_ROLE_BANK: return "bank";
    case ORTAK_ROLE_FX_PROVIDER: return "fx_provider";
    case ORTAK_ROLE_CENTRAL_BANK: return "central_bank";
    default: return "operator";
    }
}

/* Every participant's token from DIR/ortakd.ini; 2 after naming the first one without. */
static int tokens_find(struct run *x) {
    for (uint32_t p = 0; p < x->w->participant_count; p++) {
        x->token[p] = ortak__http_token_of(x->file, x->w->participants[p].bic);
        if (!x->token[p]) {
            fprintf(stderr,
                    "ortak %s: %s/ortakd.ini has no token for %s: `ortak init --sim-banks` writes tokens for the "
                    "default workload's banks (with --force on an existing DIR; then restart the server)\n",
                    x->c->cmd, x->c->dir, x->w->participants[p].bic);
            return CLI_EXIT_USAGE;
        }
    }
    return CLI_EXIT_OK;
}

/* Admits every bank and FX provider (central banks and the operator exist from the server's first start). */
static int participants_admit(struct run *x) {
    for (uint32_t p = 0; p < x->w->participant_count; p++) {
        const struct ortak_sim_participant *sp = &x->w->participants[p];
        if (sp->role == ORTAK_ROLE_CENTRAL_BANK) continue;
        char cc[3] = {0};
        memcpy(cc, x->w->trade.country[sp->country], 2);
        json_t *b = json_pack("{s:s, s:s, s:s, s:s}", "bic", sp->bic, "name", sp->name, "country", cc, "role",
                              role_name(sp->role));
        int rc = call(x, "POST", "/v1/participants", b, NULL, "exist", NULL);
        if (rc != CLI_EXIT_OK) return rc;
    }
    return CLI_EXIT_OK;
}

/* Whether participant p holds a settlement account in currency cur (docs/simulation.md). */
static bool holds(const struct run *x, uint32_t p, uint32_t cur) {
    const struct ortak_sim_participant *sp = &x->w->participants[p];
    return sp->role == ORTAK_ROLE_FX_PROVIDER || sp->country == cur;
}

/* Opens (or finds: the id follows from bic, currency and kind) every settlement account. */
static int accounts_open(struct run *x) {
    for (uint32_t p = 0; p < x->w->participant_count; p++) {
        for (uint32_t cur = 0; cur < x->ncur; cur++) {
            if (!holds(x, p, cur)) continue;
            json_t *b = json_pack("{s:s, s:s, s:s}", "bic", x->w->participants[p].bic, "currency",
                                  x->cfg->currencies[cur].code, "kind", "settlement");
            int rc = call(x, "POST", "/v1/accounts", b, NULL, NULL, x->acc_id[p * x->ncur + cur]);
            if (rc != CLI_EXIT_OK) return rc;
        }
    }
    return CLI_EXIT_OK;
}

/*
 * Each account's level: lower + (upper - lower) x pct / 100, where lower is its net outflow over the day and upper
 * its peak net debit when every leg settles on arrival. `level` has room for participants x currencies.
 */
static bool levels_compute(const struct run *x, uint64_t *level) {
    uint32_t n = x->w->participant_count * x->ncur;
    int64_t *pos = calloc(n, sizeof *pos), *peak = calloc(n, sizeof *peak);
    if (!pos || !peak) {
        free(pos);
        free(peak);
        return false;
    }
    for (uint32_t i = 0; i < x->w->payment_count; i++) {
        const struct ortak_sim_payment *py = &x->w->payments[i];
        uint32_t a = py->payer * x->ncur + py->currency, b = py->payee * x->ncur + py->currency;
        ORTAK_ASSERT(py->amount <= INT64_MAX);
        pos[a] += (int64_t)py->amount;
        if (pos[a] > peak[a]) peak[a] = pos[a];
        pos[b] -= (int64_t)py->amount;
    }
    for (uint32_t k = 0; k < n; k++) {
        uint64_t lower = pos[k] > 0 ? (uint64_t)pos[k] : 0, upper = (uint64_t)peak[k];
        if (upper < lower) upper = lower;
        level[k] = lower + (uint64_t)((ortak_u128)(upper - lower) * x->c->level_pct / 100u);
    }
    free(pos);
    free(peak);
    return true;
}

/* Each central bank funds every settlement account in its currency at its level. */
static int liquidity_inject(struct run *x, struct cli_simtarget_result *r) {
    uint32_t n = x->w->participant_count * x->ncur;
    uint64_t *level = calloc(n, sizeof *level);
    if (!level || !levels_compute(x, level)) {
        free(level);
        return CLI_EXIT_INTERNAL;
    }
    int rc = CLI_EXIT_OK;
    for (uint32_t k = 0; k < n && rc == CLI_EXIT_OK; k++) {
        uint32_t cur = k % x->ncur;
        ORTAK_ASSERT(x->w->participants[cur].role == ORTAK_ROLE_CENTRAL_BANK); /* currency c's is participant c */
        if (!level[k] || !x->acc_id[k][0]) continue;
        char amt[48];
        amount_str(level[k], x->cfg->currencies[cur].minor_units, amt);
        json_t *b = json_pack("{s:s, s:s}", "account", x->acc_id[k], "amount", amt);
        rc = call(x, "POST", "/v1/liquidity/inject", b, x->token[cur], NULL, NULL);
        r->liquidity_usd_cents += usd_cents(x, cur, level[k]);
    }
    free(level);
    return rc;
}

/* ---- many requests, a few in flight ------------------------------------------------------------------------ */

/* One request of a batch, filled by the batch's `make`; its answer goes to `done`. */
struct job {
    const char *method;
    char path[PATH_CAP];
    char *body; /* JSON, owned by the slot until the answer; NULL for none */
    const char *token;
    char key[KEY_CAP]; /* Idempotency-Key; "" for none */
};

struct batch {
    struct run *x;
    const char *label; /* progress: "payments" */
    uint32_t n;
    bool (*make)(struct run *x, uint32_t i, struct job *j);
    void (*done)(struct run *x, uint32_t i, const struct cli_answer *a, bool ok, uint64_t latency_us);
};

struct slot {
    CURL *c;
    struct curl_slist *headers;
    struct cli_answer a;
    struct job j;
    char err[CURL_ERROR_SIZE];
    uint32_t i;
    uint64_t t0_us;
    bool busy;
};

/* Progress: a bar rewritten in place on a terminal, else a line every 10%. */
static void progress(const struct batch *b, uint32_t done, uint32_t *last_pct) {
    uint32_t pct = b->n ? (uint32_t)((uint64_t)done * 100u / b->n) : 100u;
    if (ortak__cli_tty()) {
        if (pct == *last_pct && done != b->n) return;
        char bar[41];
        for (uint32_t k = 0; k < 40; k++) bar[k] = k < pct * 40u / 100u ? '#' : '.';
        bar[40] = '\0';
        printf("\r%-9s [%s] %3u%% %u/%u%s", b->label, bar, pct, done, b->n, done == b->n ? "\n" : "");
    } else {
        if (pct / 10u == *last_pct / 10u && done != b->n) return;
        if (done == b->n && *last_pct == 100u) return;
        printf("%s: %u%% (%u/%u)\n", b->label, pct, done, b->n);
    }
    *last_pct = pct;
    fflush(stdout);
}

static bool slot_start(struct batch *b, struct slot *s, CURLM *m, uint32_t i) {
    memset(&s->j, 0, sizeof s->j);
    if (!b->make(b->x, i, &s->j)) return false;
    curl_easy_reset(s->c);
    s->headers = NULL;
    s->err[0] = '\0';
    if (ortak__http_prepare(s->c, &b->x->http, s->j.method, s->j.path, s->j.body, s->j.token,
                            s->j.key[0] ? s->j.key : NULL, &s->headers, &s->a, s->err) != CLI_EXIT_OK ||
        curl_easy_setopt(s->c, CURLOPT_PRIVATE, s) != CURLE_OK || curl_multi_add_handle(m, s->c) != CURLM_OK) {
        free(s->j.body);
        curl_slist_free_all(s->headers);
        return false;
    }
    s->i = i;
    s->t0_us = mono_us();
    s->busy = true;
    return true;
}

static void slot_finish(struct batch *b, struct slot *s, CURLM *m, CURLcode cc) {
    uint64_t lat = mono_us() - s->t0_us;
    bool ok = cc == CURLE_OK;
    if (ok) curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &s->a.status);
    b->done(b->x, s->i, &s->a, ok, lat);
    curl_multi_remove_handle(m, s->c);
    curl_slist_free_all(s->headers);
    free(s->j.body);
    free(s->a.body);
    s->a.body = NULL;
    s->busy = false;
}

/* Runs the batch: requests started in index order, at most `concurrency` in flight. 0, or 1 (out of memory). */
static int batch_run(struct batch *b) {
    uint32_t nslot = b->x->c->concurrency, next = 0, done = 0, last_pct = 0;
    struct slot *slots = calloc(nslot, sizeof *slots);
    CURLM *m = curl_multi_init();
    int rc = CLI_EXIT_INTERNAL;
    if (!slots || !m) goto fail;
    for (uint32_t k = 0; k < nslot; k++) {
        if (!(slots[k].c = curl_easy_init())) goto fail;
    }
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)nslot);
    while (done < b->n) {
        for (uint32_t k = 0; k < nslot && next < b->n; k++) {
            if (slots[k].busy) continue;
            if (!slot_start(b, &slots[k], m, next)) goto fail;
            next++;
        }
        int running = 0, q = 0;
        if (curl_multi_perform(m, &running) != CURLM_OK) goto fail;
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(m, &q)) != NULL) {
            if (msg->msg != CURLMSG_DONE) continue;
            struct slot *s = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            ORTAK_ASSERT(s && s->busy);
            slot_finish(b, s, m, msg->data.result);
            done++;
            progress(b, done, &last_pct);
        }
        if (done < b->n && curl_multi_poll(m, NULL, 0, 100, NULL) != CURLM_OK) goto fail;
    }
    rc = CLI_EXIT_OK;
fail:
    if (rc != CLI_EXIT_OK) fprintf(stderr, "ortak %s: out of memory, or libcurl failed\n", b->x->c->cmd);
    for (uint32_t k = 0; slots && k < nslot; k++) {
        if (slots[k].busy) slot_finish(b, &slots[k], m, CURLE_ABORTED_BY_CALLBACK);
        if (slots[k].c) curl_easy_cleanup(slots[k].c);
    }
    if (m) curl_multi_cleanup(m);
    free(slots);
    return rc;
}

/* ---- the payments ----------------------------------------------------------------------------------------- */

static const char *const priority_json[] = {"highly_urgent", "urgent", "normal"};

static bool pay_make(struct run *x, uint32_t i, struct job *j) {
    const struct ortak_sim_payment *py = &x->w->payments[i];
    char amt[48];
    amount_str(py->amount, x->cfg->currencies[py->currency].minor_units, amt);
    json_t *b = json_pack("{s:s, s:s, s:s, s:s, s:s}", "creditor_agent", x->w->participants[py->payee].bic, "currency",
                          x->cfg->currencies[py->currency].code, "amount", amt, "priority",
                          priority_json[py->priority < 3 ? py->priority : 2], "method",
                          py->method == ORTAK_METHOD_NET ? "net" : "gross");
    j->body = b ? json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    j->method = "POST";
    snprintf(j->path, sizeof j->path, "/v1/payments");
    j->token = x->token[py->payer];
    snprintf(j->key, sizeof j->key, "sim-%s-%u", x->run_id, i);
    return j->body != NULL;
}

/* Takes the status and id of a payment's answer (201, 200 for a replay, 422/429 for a refusal). */
static void pay_done(struct run *x, uint32_t i, const struct cli_answer *a, bool ok, uint64_t latency_us) {
    x->latency_us[i] = latency_us;
    x->status[i] = ST_ERROR;
    if (!ok || a->status >= 500) return;
    json_error_t je;
    json_t *j = a->body ? json_loadb(a->body, a->len, 0, &je) : NULL;
    json_t *p = (a->status == 422 || a->status == 429) ? json_object_get(j, "payment") : j;
    if (a->status == 422 || a->status == 429)
        x->status[i] = ST_REJECTED;
    else if (a->status == 200 || a->status == 201)
        x->status[i] = (uint8_t)status_parse(jstr(p, "status"));
    else
        x->status[i] = ST_ERROR;
    snprintf(x->pay_id[i], 33, "%s", jstr(p, "id") ? jstr(p, "id") : "");
    json_decref(j);
}

/* The legs not ended on arrival, read again after the close (GET /v1/payments/{id}, as the operator). */
static bool recheck_make(struct run *x, uint32_t i, struct job *j) {
    j->method = "GET";
    snprintf(j->path, sizeof j->path, "/v1/payments/%s", x->pay_id[x->recheck[i]]);
    j->token = x->http.token;
    return true;
}

static void recheck_done(struct run *x, uint32_t i, const struct cli_answer *a, bool ok, uint64_t latency_us) {
    (void)latency_us;
    if (!ok || a->status != 200) return; /* keeps the status of the first answer */
    json_error_t je;
    json_t *j = a->body ? json_loadb(a->body, a->len, 0, &je) : NULL;
    if (jstr(j, "status")) x->status[x->recheck[i]] = (uint8_t)status_parse(jstr(j, "status"));
    json_decref(j);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The smallest latency at or above share `ppm` of them (sorted). */
static uint64_t percentile(const uint64_t *sorted, uint32_t n, uint32_t ppm) {
    if (!n) return 0;
    uint64_t rank = ((uint64_t)n * ppm + 999999u) / 1000000u;
    return sorted[rank ? rank - 1 : 0];
}

/* Counts, values by pair and latency percentiles from the legs' statuses. */
static int tally(struct run *x, struct cli_simtarget_result *r) {
    const struct ortak_sim_workload *w = x->w;
    r->legs = w->payment_count;
    for (uint32_t i = 0; i < w->payment_count; i++) {
        uint8_t st = x->status[i];
        r->settled += st == ST_SETTLED;
        r->queued += st == ST_QUEUED || st == ST_ACCEPTED;
        r->rejected += st == ST_REJECTED;
        r->other += st == ST_OTHER || st == ST_NONE;
        r->errors += st == ST_ERROR;
    }
    /* An instruction is one leg (domestic) or two adjacent legs sharing its number; its value is its first leg's. */
    for (uint32_t i = 0; i < w->payment_count;) {
        const struct ortak_sim_payment *py = &w->payments[i];
        uint32_t k = i + 1;
        bool settled = x->status[i] == ST_SETTLED;
        while (k < w->payment_count && w->payments[k].instruction == py->instruction) {
            settled = settled && x->status[k] == ST_SETTLED;
            k++;
        }
        uint64_t v = usd_cents(x, py->currency, py->amount);
        r->instructions++;
        r->pair_count[py->from_country][py->to_country]++;
        r->pair_usd_cents[py->from_country][py->to_country] += v;
        r->sent_usd_cents += v;
        if (settled) r->pair_settled_usd_cents[py->from_country][py->to_country] += v;
        if (settled) r->settled_usd_cents += v;
        i = k;
    }
    uint64_t *lat = malloc((size_t)w->payment_count * sizeof *lat);
    if (!lat) return CLI_EXIT_INTERNAL;
    memcpy(lat, x->latency_us, (size_t)w->payment_count * sizeof *lat);
    qsort(lat, w->payment_count, sizeof *lat, cmp_u64);
    r->latency_p50_us = percentile(lat, w->payment_count, 500000u);
    r->latency_p99_us = percentile(lat, w->payment_count, 990000u);
    r->latency_max_us = w->payment_count ? lat[w->payment_count - 1] : 0;
    free(lat);
    return CLI_EXIT_OK;
}

/* ---- the run ------------------------------------------------------------------------------------------------ */

/* Sets up: cut-offs reopened (a day closed by an earlier run), participants, accounts, liquidity. */
static int setup(struct run *x, struct cli_simtarget_result *r) {
    json_t *b = json_pack("{s:[s,s,s], s:b}", "priorities", "normal", "urgent", "highly_urgent", "open", 1);
    int rc = call(x, "POST", "/v1/cutoffs", b, NULL, NULL, NULL);
    if (rc == CLI_EXIT_OK) rc = participants_admit(x);
    if (rc == CLI_EXIT_OK) rc = accounts_open(x);
    if (rc == CLI_EXIT_OK) rc = liquidity_inject(x, r);
    return rc;
}

/* Sends the legs, closes the day, reads again the legs that had not ended. */
static int day(struct run *x, struct cli_simtarget_result *r) {
    uint64_t t0 = mono_us();
    struct batch pay = {x, "payments", x->w->payment_count, pay_make, pay_done};
    int rc = batch_run(&pay);
    r->send_ms = (mono_us() - t0) / 1000u;
    if (rc != CLI_EXIT_OK) return rc;
    uint32_t nrecheck = 0;
    for (uint32_t i = 0; i < x->w->payment_count; i++) {
        r->settled_on_arrival += x->status[i] == ST_SETTLED;
        if ((x->status[i] == ST_QUEUED || x->status[i] == ST_ACCEPTED) && x->pay_id[i][0]) x->recheck[nrecheck++] = i;
    }
    if (r->settled_on_arrival == 0 && nrecheck == 0) {
        fprintf(stderr, "ortak %s: no payment was accepted by %s (see the server's log)\n", x->c->cmd, x->http.url);
        return CLI_EXIT_UNAVAILABLE;
    }
    rc = call(x, "POST", "/v1/business-day/close", NULL, NULL, NULL, NULL);
    if (rc != CLI_EXIT_OK) return rc;
    struct batch again = {x, "statuses", nrecheck, recheck_make, recheck_done};
    return nrecheck ? batch_run(&again) : CLI_EXIT_OK;
}

static int run_alloc(struct run *x) {
    uint32_t np = x->w->participant_count, nl = x->w->payment_count;
    x->file = calloc(1, sizeof *x->file);
    x->token = calloc(np, sizeof *x->token);
    x->acc_id = calloc((size_t)np * x->ncur, sizeof *x->acc_id);
    x->status = calloc(nl, sizeof *x->status);
    x->pay_id = calloc(nl, sizeof *x->pay_id);
    x->latency_us = calloc(nl, sizeof *x->latency_us);
    x->recheck = calloc(nl, sizeof *x->recheck);
    return x->file && x->token && x->acc_id && x->status && x->pay_id && x->latency_us && x->recheck
               ? CLI_EXIT_OK
               : CLI_EXIT_INTERNAL;
}

static void run_free(struct run *x) {
    free(x->file);
    free(x->token);
    free(x->acc_id);
    free(x->status);
    free(x->pay_id);
    free(x->latency_us);
    free(x->recheck);
}

int ortak__cli_simtarget_run(const struct ortak_config *cfg, const struct ortak_sim_workload *w,
                             const struct cli_simtarget_cfg *c, struct cli_simtarget_result *r) {
    ORTAK_ASSERT(c->concurrency >= 1 && c->concurrency <= CLI_SIMTARGET_CONCURRENCY_MAX && c->level_pct <= 100);
    memset(r, 0, sizeof *r);
    struct run x = {.cfg = cfg, .w = w, .c = c, .ncur = cfg->currency_count};
    x.http.cmd = c->cmd;
    x.http.dir = c->dir;
    x.http.url = c->url;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    snprintf(x.run_id, sizeof x.run_id, "%llx-%x",
             (unsigned long long)now.tv_sec * 1000000000ull + (unsigned long long)now.tv_nsec, (unsigned)getpid());
    uint64_t t0 = mono_us();
    int rc = run_alloc(&x);
    if (rc == CLI_EXIT_OK) rc = ortak__http_server_file(c->cmd, c->dir, x.file);
    if (rc == CLI_EXIT_OK) rc = ortak__http_resolve(&x.http);
    if (rc == CLI_EXIT_OK) rc = tokens_find(&x);
    if (rc == CLI_EXIT_OK) rc = setup(&x, r);
    if (rc == CLI_EXIT_OK) rc = day(&x, r);
    if (rc == CLI_EXIT_OK) rc = tally(&x, r);
    r->total_ms = (mono_us() - t0) / 1000u;
    run_free(&x);
    return rc;
}

/* ---- the summary -------------------------------------------------------------------------------------------- */

static void usd_fmt(uint64_t cents, char out[32]) {
    snprintf(out, 32, "%llu.%02llu", (unsigned long long)(cents / 100), (unsigned long long)(cents % 100));
}

/* "12.34%" of part in whole. */
static void pct_fmt(uint64_t part, uint64_t whole, char out[32]) {
    uint64_t bp = whole ? (uint64_t)((ortak_u128)part * 10000u / whole) : 0;
    snprintf(out, 32, "%llu.%02llu%%", (unsigned long long)(bp / 100), (unsigned long long)(bp % 100));
}

static void ms_fmt(uint64_t us, char out[48]) {
    snprintf(out, 48, "%llu.%03llu", (unsigned long long)(us / 1000), (unsigned long long)(us % 1000));
}

void ortak__cli_simtarget_print(FILE *f, const struct ortak_sim_workload *w, const struct cli_simtarget_result *r) {
    char b1[32], b2[32], p1[32], p2[32], m1[48], m2[48], m3[48];
    pct_fmt(r->settled, r->legs, p1);
    pct_fmt(r->settled_usd_cents, r->sent_usd_cents, p2);
    fprintf(f, "payments sent      %u legs (%u instructions) in %llu ms\n", r->legs, r->instructions,
            (unsigned long long)r->send_ms);
    fprintf(f, "settled            %u legs (%s), %u on arrival; by value %s\n", r->settled, p1, r->settled_on_arrival,
            p2);
    fprintf(f, "not settled        queued %u, rejected %u, other %u, errors %u\n", r->queued, r->rejected, r->other,
            r->errors);
    usd_fmt(r->liquidity_usd_cents, b1);
    fprintf(f, "liquidity given    USD %s (sum over settlement accounts)\n", b1);
    ms_fmt(r->latency_p50_us, m1);
    ms_fmt(r->latency_p99_us, m2);
    ms_fmt(r->latency_max_us, m3);
    fprintf(f, "client latency     p50 %s ms, p99 %s ms, max %s ms\n", m1, m2, m3);
    fprintf(f, "value by currency pair (USD equivalent):\n  %-7s %8s %18s %18s %8s\n", "pair", "count", "sent",
            "settled", "settled%");
    for (uint32_t i = 0; i < w->trade.n; i++) {
        for (uint32_t j = 0; j < w->trade.n; j++) {
            if (!r->pair_count[i][j]) continue;
            usd_fmt(r->pair_usd_cents[i][j], b1);
            usd_fmt(r->pair_settled_usd_cents[i][j], b2);
            pct_fmt(r->pair_settled_usd_cents[i][j], r->pair_usd_cents[i][j], p1);
            fprintf(f, "  %.3s-%.3s %8u %18s %18s %8s\n", w->trade.currency[i], w->trade.currency[j],
                    r->pair_count[i][j], b1, b2, p1);
        }
    }
    usd_fmt(r->sent_usd_cents, b1);
    usd_fmt(r->settled_usd_cents, b2);
    fprintf(f, "  %-7s %8u %18s %18s %8s\n", "total", r->instructions, b1, b2, p2);
}

bool ortak__cli_simtarget_csv(FILE *f, const struct ortak_sim_workload *w, const struct cli_simtarget_result *r) {
    fprintf(f, "from_currency,to_currency,instructions,usd_cents,settled_usd_cents\n");
    for (uint32_t i = 0; i < w->trade.n; i++) {
        for (uint32_t j = 0; j < w->trade.n; j++) {
            if (!r->pair_count[i][j]) continue;
            fprintf(f, "%.3s,%.3s,%u,%llu,%llu\n", w->trade.currency[i], w->trade.currency[j], r->pair_count[i][j],
                    (unsigned long long)r->pair_usd_cents[i][j], (unsigned long long)r->pair_settled_usd_cents[i][j]);
        }
    }
    return !ferror(f);
}
