/*
 * Metrics in the Prometheus text format: requests and latencies by route, refusals by code, connections, the
 * sequencer's batches and journal sync times, outbox lengths, and from the engine: queued payments and liquidity
 * by currency.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ortak/ledger.h"
#include "ortak/settle.h"
#include "server.h"

void metrics_request(struct server *s, int route, unsigned status, uint64_t ns) {
    struct srv_route_metrics *m = &s->route_metrics[route < 0 ? srv_route_count : (uint32_t)route];
    atomic_fetch_add(&m->requests, 1);
    if (status >= 500)
        atomic_fetch_add(&m->errors_5xx, 1);
    else if (status >= 400)
        atomic_fetch_add(&m->errors_4xx, 1);
    atomic_fetch_add(&m->latency_ns_total, ns);
    uint32_t k = 0;
    while (k < SRV_LATENCY_BUCKETS - 1 && ns > (UINT64_C(50000) << k)) k++;
    atomic_fetch_add(&m->latency_buckets[k], 1);
}

void metrics_refusal(struct server *s, const char *code) {
    struct srv_refusals *f = &s->refusals;
    pthread_mutex_lock(&f->mu);
    uint32_t h = 5381;
    for (const char *p = code; *p; p++) h = h * 33 + (unsigned char)*p;
    for (uint32_t i = 0; i < SRV_REFUSAL_CODES_MAX; i++) {
        uint32_t k = (h + i) % SRV_REFUSAL_CODES_MAX;
        if (!f->code[k]) f->code[k] = code; /* codes are static strings */
        if (f->code[k] == code || strcmp(f->code[k], code) == 0) {
            f->count[k]++;
            break;
        }
    }
    pthread_mutex_unlock(&f->mu);
}

struct text {
    char *buf;
    size_t len, cap;
    bool failed;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...) {
    for (;;) {
        if (t->failed) return;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n;
        char *b = realloc(t->buf, cap);
        if (!b) {
            t->failed = true;
            return;
        }
        t->buf = b;
        t->cap = cap;
    }
}

static void routes_text(struct server *s, struct text *t) {
    put(t, "# HELP ortak_http_requests_total HTTP requests by route and status class.\n"
           "# TYPE ortak_http_requests_total counter\n");
    for (uint32_t i = 0; i <= srv_route_count; i++) {
        struct srv_route_metrics *m = &s->route_metrics[i];
        const char *method = i < srv_route_count ? srv_routes[i].method : "any";
        const char *path = i < srv_route_count ? srv_routes[i].pattern : "unrouted";
        uint64_t all = atomic_load(&m->requests), e4 = atomic_load(&m->errors_4xx), e5 = atomic_load(&m->errors_5xx);
        if (!all) continue;
        put(t, "ortak_http_requests_total{method=\"%s\",route=\"%s\",class=\"2xx\"} %llu\n", method, path,
            (unsigned long long)(all - e4 - e5));
        put(t, "ortak_http_requests_total{method=\"%s\",route=\"%s\",class=\"4xx\"} %llu\n", method, path,
            (unsigned long long)e4);
        put(t, "ortak_http_requests_total{method=\"%s\",route=\"%s\",class=\"5xx\"} %llu\n", method, path,
            (unsigned long long)e5);
    }
    put(t, "# HELP ortak_http_request_duration_seconds Time from a request's arrival to its response.\n"
           "# TYPE ortak_http_request_duration_seconds histogram\n");
    for (uint32_t i = 0; i <= srv_route_count; i++) {
        struct srv_route_metrics *m = &s->route_metrics[i];
        const char *method = i < srv_route_count ? srv_routes[i].method : "any";
        const char *path = i < srv_route_count ? srv_routes[i].pattern : "unrouted";
        uint64_t all = atomic_load(&m->requests), cum = 0;
        if (!all) continue;
        for (uint32_t k = 0; k < SRV_LATENCY_BUCKETS - 1; k++) {
            cum += atomic_load(&m->latency_buckets[k]);
            put(t, "ortak_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"%.6f\"} %llu\n", method,
                path, (double)(UINT64_C(50000) << k) / 1e9, (unsigned long long)cum);
        }
        put(t, "ortak_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"+Inf\"} %llu\n", method,
            path, (unsigned long long)all);
        put(t, "ortak_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.9f\n", method, path,
            (double)atomic_load(&m->latency_ns_total) / 1e9);
        put(t, "ortak_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %llu\n", method, path,
            (unsigned long long)all);
    }
    put(t, "# HELP ortak_refusals_total Requests refused, by error code.\n# TYPE ortak_refusals_total counter\n");
    pthread_mutex_lock(&s->refusals.mu);
    for (uint32_t k = 0; k < SRV_REFUSAL_CODES_MAX; k++) {
        if (s->refusals.code[k])
            put(t, "ortak_refusals_total{code=\"%s\"} %llu\n", s->refusals.code[k],
                (unsigned long long)s->refusals.count[k]);
    }
    pthread_mutex_unlock(&s->refusals.mu);
}

static void journal_text(struct server *s, struct text *t) {
    struct ortak_sequencer_stats st;
    ortak_sequencer_stats_get(s->seq, &st);
    put(t, "# TYPE ortak_batches_total counter\nortak_batches_total %llu\n", (unsigned long long)st.batches);
    put(t, "# TYPE ortak_commands_total counter\nortak_commands_total %llu\n", (unsigned long long)st.commands);
    put(t,
        "# HELP ortak_sequencer_queue Submissions waiting for the journal.\n# TYPE ortak_sequencer_queue gauge\n"
        "ortak_sequencer_queue %u\n",
        st.queued);
    put(t, "# HELP ortak_journal_sync_seconds Time of each journal sync (group commit).\n"
           "# TYPE ortak_journal_sync_seconds histogram\n");
    uint64_t cum = 0;
    for (uint32_t k = 0; k < 11; k++) {
        cum += st.sync_buckets[k];
        put(t, "ortak_journal_sync_seconds_bucket{le=\"%.4f\"} %llu\n", (double)(UINT64_C(100000) << k) / 1e9,
            (unsigned long long)cum);
    }
    put(t, "ortak_journal_sync_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)st.syncs);
    put(t, "ortak_journal_sync_seconds_sum %.9f\n", (double)st.sync_ns_total / 1e9);
    put(t, "ortak_journal_sync_seconds_count %llu\n", (unsigned long long)st.syncs);
    put(t, "# TYPE ortak_connections gauge\nortak_connections %d\n", atomic_load(&s->connections));
    put(t, "# TYPE ortak_connections_refused_total counter\nortak_connections_refused_total %llu\n",
        (unsigned long long)atomic_load(&s->connections_refused));
    put(t,
        "# HELP ortak_connections_timed_out_total Connections cut for sending a request too slowly.\n"
        "# TYPE ortak_connections_timed_out_total counter\nortak_connections_timed_out_total %llu\n",
        (unsigned long long)atomic_load(&s->connections_cut));
    put(t,
        "# HELP ortak_outbox_pending Messages not yet acknowledged, all participants.\n"
        "# TYPE ortak_outbox_pending gauge\nortak_outbox_pending %llu\n",
        (unsigned long long)outbox_pending_total(s->outbox));
    put(t, "# TYPE ortak_inbound_messages gauge\nortak_inbound_messages %u\n", inbound_count(s->inbound));
}

/* Liquidity (settlement accounts' balances) and queues, per currency: each family's samples together. */
static void engine_text(struct server *s, struct text *t) {
    struct ortak_currency_info ci[ORTAK_CURRENCIES_LIMIT];
    struct api_totals tot[ORTAK_CURRENCIES_LIMIT];
    const struct ortak_engine *e = srv_read_begin(s);
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    uint32_t nc = ortak_ledger_currency_count(l), payments = ortak_settle_payment_count(ortak_engine_settle(e));
    for (uint32_t c = 0; c < nc; c++) {
        ortak_ledger_currency_at(l, c, &ci[c]);
        api_currency_totals(e, ci[c].code, &tot[c]);
    }
    srv_read_end(s);
    char v[41];
    put(t, "# HELP ortak_liquidity Sum of settlement account balances, in minor units.\n"
           "# TYPE ortak_liquidity gauge\n");
    for (uint32_t c = 0; c < nc; c++)
        put(t, "ortak_liquidity{currency=\"%s\"} %s\n", ci[c].code, ortak_i128_dec(tot[c].liquidity, v));
    put(t, "# HELP ortak_queued_payments Payments waiting in queues.\n# TYPE ortak_queued_payments gauge\n");
    for (uint32_t c = 0; c < nc; c++)
        put(t, "ortak_queued_payments{currency=\"%s\"} %llu\n", ci[c].code, (unsigned long long)tot[c].queued);
    put(t, "# HELP ortak_queued_value Value of the payments waiting in queues, in minor units.\n"
           "# TYPE ortak_queued_value gauge\n");
    for (uint32_t c = 0; c < nc; c++)
        put(t, "ortak_queued_value{currency=\"%s\"} %s\n", ci[c].code, ortak_i128_dec(tot[c].queued_value, v));
    put(t, "# TYPE ortak_payments gauge\nortak_payments %u\n", payments);
}

char *metrics_render(struct server *s, size_t *len) {
    struct text t = {.cap = 16384};
    t.buf = malloc(t.cap);
    if (!t.buf) return NULL;
    routes_text(s, &t);
    journal_text(s, &t);
    engine_text(s, &t);
    char screening[1024];
    if (s->screening && screen_metrics(s->screening, screening, sizeof screening)) put(&t, "%s", screening);
    if (s->replica) {
        char repl[2048];
        if (replica_metrics(s->replica, repl, sizeof repl)) put(&t, "%s", repl);
    }
    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    *len = t.len;
    return t.buf;
}
