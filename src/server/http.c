/*
 * HTTP and TLS: libmicrohttpd with GnuTLS, a thread per connection.
 *
 * A request's life: its body is gathered up to [limits] body_max (a larger Content-Length is refused before any
 * byte of the body is read); its path is matched against the route table; its caller is authenticated (the TLS
 * client certificate, checked once per connection, or a bearer token in demo mode) and looked up in the engine;
 * the route's roles and body type are checked; an idempotent retry is answered from the key's first response;
 * then the endpoint runs. Every refusal is counted by code, every request by route with its latency.
 */
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "ortak/ledger.h"
#include "server.h"

/* Per connection: its authentication, decided once. */
struct conn_ctx {
    bool over_limit;
    bool tls_checked;
    bool tls_known;
    char tls_bic[12];
    /* the last participant looked up on this connection, valid while participants_epoch is `epoch` */
    struct caller who;
    uint64_t epoch;
    /* for the sweeper: a request must arrive whole within connection_timeout_s of the last answer */
    int fd;
    atomic_uint_fast64_t last_done_ns;
    atomic_bool in_handler; /* an endpoint runs (a long poll may wait): not the client's slowness */
    struct conn_ctx *prev, *next;
};

/* Every open connection, for the sweeper (one daemon per process). */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct conn_ctx *head;
    bool stop;
    pthread_t thread;
    bool running;
} conns = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* Per request: its body as it arrives. */
struct req_ctx {
    struct req r; /* lives as long as the request: an endpoint may suspend it */
    char *body;
    size_t len, cap;
    uint64_t t0;
    bool waiting; /* suspended: the next call is its resumption */
};

static pthread_key_t reader_key;
static pthread_once_t reader_once = PTHREAD_ONCE_INIT;

static void reader_free(void *r) { ortak_iso_reader_close(r); }
static void reader_key_make(void) { pthread_key_create(&reader_key, reader_free); }

struct ortak_iso_reader *srv_reader(struct server *s) {
    pthread_once(&reader_once, reader_key_make);
    struct ortak_iso_reader *r = pthread_getspecific(reader_key);
    if (!r && ortak_iso_reader_open(s->iso, &r) == ORTAK_OK) pthread_setspecific(reader_key, r);
    return r;
}

uint64_t srv_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- responses ----------------------------------------------------------------------------------------------- */

const char *req_query(struct req *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *req_header(struct req *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void reply_text(struct req *r, unsigned status, const char *content_type, const char *text, size_t len) {
    free(r->resp);
    r->resp = malloc(len ? len : 1);
    r->resp_len = r->resp ? len : 0;
    if (r->resp) memcpy(r->resp, text, len);
    r->status = r->resp ? status : 500;
    r->content_type = content_type;
}

void reply_json(struct req *r, unsigned status, json_t *body) {
    free(r->resp);
    r->resp = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    r->resp_len = r->resp ? strlen(r->resp) : 0;
    r->status = r->resp ? status : 500;
    r->content_type = "application/json";
}

static void reply_error_v(struct req *r, unsigned status, const char *code, const char *reason, const char *field,
                          const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));
static void reply_error_v(struct req *r, unsigned status, const char *code, const char *reason, const char *field,
                          const char *fmt, va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    json_t *e = json_pack("{s:s, s:s}", "code", code, "message", msg);
    if (e && reason && reason[0]) json_object_set_new(e, "reason", json_string(reason));
    if (e && field) json_object_set_new(e, "field", json_string(field));
    reply_json(r, status, e ? json_pack("{s:o}", "error", e) : NULL);
    r->error_code = code;
}

void reply_error(struct req *r, unsigned status, const char *code, const char *field, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    reply_error_v(r, status, code, NULL, field, fmt, ap);
    va_end(ap);
}

/* Engine result codes as error codes: "INSUFFICIENT_FUNDS" -> "insufficient_funds". Made once at start-up; metrics
 * keep the pointers. */
static char rc_codes[128][40];

static void rc_codes_make(void) {
    for (uint32_t k = 0; k < 128; k++) {
        const char *n = ortak_rc_name((ortak_rc)k);
        size_t i = 0;
        for (; n[i] && i < sizeof rc_codes[k] - 1; i++)
            rc_codes[k][i] = (char)(n[i] >= 'A' && n[i] <= 'Z' ? n[i] + 32 : n[i]);
        rc_codes[k][i] = '\0';
    }
}

const char *srv_rc_code(ortak_rc rc) { return rc_codes[(uint32_t)rc & 127]; }

void reply_error_reason(struct req *r, unsigned status, const char *code, const char *reason, const char *field,
                        const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    reply_error_v(r, status, code, reason, field, fmt, ap);
    va_end(ap);
}

void reply_no_account(struct req *r, const char *field, const char *bic, const char *currency) {
    reply_error_reason(r, 422, "account_not_found", "AC01", field, "%s has no settlement account in %s", bic, currency);
}

void reply_rc(struct req *r, ortak_rc rc, const char *field) {
    const char *name = ortak_rc_name(rc);
    size_t n = strlen(name);
    unsigned status = n > 5 && strcmp(name + n - 5, "_FULL") == 0 ? 429 : rc == ORTAK_NOMEM ? 503 : 422;
    reply_error_reason(r, status, srv_rc_code(rc), ortak_rc_iso_reason(rc), field, "%s", ortak_rc_str(rc));
}

/* ---- authentication ---------------------------------------------------------------------------------------- */

/* The BIC of a connection's TLS client certificate, once per connection: verified against the client CA, then
 * looked up by fingerprint, else (when configured) taken from the subject's common name. */
static void tls_identify(struct server *s, struct MHD_Connection *c, struct conn_ctx *cc) {
    cc->tls_checked = true;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session) return;
    gnutls_session_t session = ci->tls_session;
    unsigned n = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(session, &n);
    if (!certs || n == 0) return;
    unsigned status = 0;
    if (gnutls_certificate_verify_peers2(session, &status) != GNUTLS_E_SUCCESS || status != 0) {
        ortak_log_info("server", "a client certificate failed verification (status 0x%x)", status);
        return;
    }
    uint8_t fp[32];
    struct sha256_ctx h;
    sha256_init(&h);
    sha256_update(&h, certs[0].size, certs[0].data);
    sha256_digest(&h, 32, fp);
    for (uint32_t i = 0; i < s->cfg.client_count; i++) {
        if (memcmp(s->cfg.clients[i].fingerprint, fp, 32) == 0) {
            memcpy(cc->tls_bic, s->cfg.clients[i].bic, 12);
            cc->tls_known = true;
            return;
        }
    }
    if (!s->cfg.client_bic_from_subject) return;
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) != GNUTLS_E_SUCCESS) return;
    char cn[64];
    size_t cn_len = sizeof cn;
    if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == GNUTLS_E_SUCCESS &&
        gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cn_len) == GNUTLS_E_SUCCESS &&
        cn_len < 12 && ortak_bic_valid(cn)) {
        memcpy(cc->tls_bic, cn, cn_len + 1);
        cc->tls_known = true;
    }
    gnutls_x509_crt_deinit(crt);
}

/* Compares in time independent of where the strings differ. */
static bool token_eq(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    for (size_t i = 0; i < la && i < lb; i++) d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* Fills r->who, or replies 401/403 and returns false. */
static bool authenticate(struct req *r, struct conn_ctx *cc) {
    struct server *s = r->srv;
    const char *bic = NULL;
    bool presented = false;
    if (s->cfg.tls) {
        if (!cc->tls_checked) tls_identify(s, r->conn, cc);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        unsigned n = 0;
        presented = ci && ci->tls_session && gnutls_certificate_get_peers(ci->tls_session, &n) && n > 0;
        if (cc->tls_known) bic = cc->tls_bic;
    }
    const char *auth = req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!bic && s->cfg.demo && auth) {
        presented = true;
        if (strncmp(auth, "Bearer ", 7) == 0) {
            for (uint32_t i = 0; i < s->cfg.token_count; i++) {
                if (token_eq(auth + 7, s->cfg.tokens[i].token)) bic = s->cfg.tokens[i].bic;
            }
        }
    }
    if (!bic) {
        if (presented)
            reply_error(r, 401, "unknown_client", NULL, "the certificate or token is not one of a participant's");
        else
            reply_error(r, 401, "unauthenticated", NULL, "present a client certificate%s",
                        s->cfg.demo ? " or a bearer token" : "");
        return false; /* logged and counted with every other refusal (finish) */
    }
    uint64_t epoch = atomic_load(&s->participants_epoch);
    if (cc->epoch != epoch + 1 || strcmp(cc->who.bic, bic) != 0) { /* epoch + 1: 0 means nothing cached */
        struct ortak_participant_info p;
        const struct ortak_engine *e = srv_read_begin(s);
        ortak_rc rc = ortak_ledger_participant_get(ortak_engine_ledger(e), bic, &p);
        srv_read_end(s);
        if (rc != ORTAK_OK) {
            reply_error(r, 401, "unknown_client", NULL, "%s is not a participant", bic);
            return false;
        }
        snprintf(cc->who.bic, sizeof cc->who.bic, "%s", bic);
        cc->who.role = p.role;
        cc->who.status = p.status;
        cc->epoch = epoch + 1;
    }
    if (cc->who.status != ORTAK_PARTICIPANT_ACTIVE) {
        reply_error(r, 403, "participant_not_active", NULL, "%s is %s", bic,
                    ortak_participant_status_name(cc->who.status));
        return false;
    }
    r->who = cc->who;
    return true;
}

static uint32_t role_bit(uint8_t role) {
    switch (role) {
    case ORTAK_ROLE_OPERATOR: return ALLOW_OPERATOR;
    case ORTAK_ROLE_CENTRAL_BANK: return ALLOW_CENTRAL_BANK;
    case ORTAK_ROLE_BANK: return ALLOW_BANK;
    case ORTAK_ROLE_FX_PROVIDER: return ALLOW_FX_PROVIDER;
    default: return 0;
    }
}

/* ---- routing ----------------------------------------------------------------------------------------------- */

/* Splits "/v1/accounts/abc" into segments in `buf`. False when there are too many or the path is not absolute. */
static bool split_path(struct req *r, char *buf, size_t cap) {
    size_t n = strlen(r->path);
    if (n == 0 || n >= cap || r->path[0] != '/') return false;
    memcpy(buf, r->path + 1, n);
    r->nseg = 0;
    char *p = buf;
    while (*p) {
        if (r->nseg == 8) return false;
        r->seg[r->nseg++] = p;
        char *slash = strchr(p, '/');
        if (!slash) break;
        *slash = '\0';
        p = slash + 1;
    }
    return true;
}

static bool pattern_match(const char *pattern, const struct req *r) {
    uint32_t i = 0;
    const char *p = pattern + 1;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (i == r->nseg) return false;
        if (!(len == 1 && p[0] == '*') && (strlen(r->seg[i]) != len || memcmp(p, r->seg[i], len) != 0)) return false;
        if (len == 1 && p[0] == '*' && r->seg[i][0] == '\0') return false;
        i++;
        p += len + (end ? 1 : 0);
    }
    return i == r->nseg;
}

/* The route for the request: its index, or -1 (404) or -2 (the path exists with other methods: 405). */
static int route_find(const struct req *r) {
    bool path_known = false;
    for (uint32_t i = 0; i < srv_route_count; i++) {
        if (!pattern_match(srv_routes[i].pattern, r)) continue;
        if (strcmp(srv_routes[i].method, r->method) == 0) return (int)i;
        path_known = true;
    }
    return path_known ? -2 : -1;
}

static bool is_write(const char *method) { return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0; }

static bool content_type_is(struct req *r, const char *want) {
    const char *ct = req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct) return false;
    size_t n = strlen(want);
    return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static bool idem_key_valid(const char *k) {
    size_t n = strlen(k);
    if (n == 0 || n > SRV_IDEM_KEY_LEN_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        if (k[i] < '!' || k[i] > '~') return false;
    }
    return true;
}

static void request_hash(const struct req *r, uint8_t out[32]) {
    struct sha256_ctx h;
    sha256_init(&h);
    sha256_update(&h, strlen(r->method) + 1, (const uint8_t *)r->method);
    sha256_update(&h, strlen(r->path) + 1, (const uint8_t *)r->path);
    sha256_update(&h, r->body_len, (const uint8_t *)r->body);
    sha256_digest(&h, 32, out);
}

/* ---- the request ------------------------------------------------------------------------------------------- */

/* Runs the request up to its endpoint, which answers or suspends it. */
static void dispatch(struct req *r, struct conn_ctx *cc) {
    int route = split_path(r, r->segbuf, sizeof r->segbuf) ? route_find(r) : -1;
    r->route = route;
    if (route == -1) {
        reply_error(r, 404, "not_found", NULL, "no such endpoint: %.200s", r->path);
        return;
    }
    if (route == -2) {
        reply_error(r, 405, "method_not_allowed", NULL, "%s is not allowed on %.200s", r->method, r->path);
        return;
    }
    const struct route *rt = &srv_routes[route];
    if (rt->allow != ALLOW_NONE) {
        if (!atomic_load(&r->srv->ready)) {
            reply_error(r, 503, "not_ready", NULL, "the server is starting");
            return;
        }
        if (!authenticate(r, cc)) return;
        if (!(rt->allow & role_bit(r->who.role))) {
            reply_error(r, 403, "forbidden", NULL, "a %s may not call %s %s", ortak_role_name(r->who.role), rt->method,
                        rt->pattern);
            return;
        }
    }
    if (rt->body) {
        const char *want = strcmp(rt->body, "xml") == 0 ? "application/xml" : "application/json";
        bool ok = content_type_is(r, want) || (strcmp(rt->body, "xml") == 0 && content_type_is(r, "text/xml"));
        if (!ok) {
            reply_error(r, 415, "unsupported_media_type", NULL, "the body must be %s", want);
            return;
        }
    } else if (r->body_len) {
        reply_error(r, 400, "body_unexpected", NULL, "%s %s takes no body", rt->method, rt->pattern);
        return;
    }
    if (is_write(r->method) && !replica_may_write(r->srv->replica)) { /* a follower: reads only */
        replica_reply_not_leader(r);
        return;
    }
    const char *key = is_write(r->method) ? req_header(r, "Idempotency-Key") : NULL;
    if (key && !idem_key_valid(key)) {
        reply_error(r, 400, "field_invalid", "Idempotency-Key", "Idempotency-Key must be 1 to %d printable characters",
                    SRV_IDEM_KEY_LEN_MAX);
        return;
    }
    uint8_t *hash = r->idem_hash;
    if (key) {
        r->idem_key = key;
        request_hash(r, hash);
        char *body = NULL;
        size_t len = 0;
        unsigned status = 0;
        const char *ctype = NULL;
        switch (idem_lookup(r->srv->idem, r->who.bic, key, hash, &status, &body, &len, &ctype)) {
        case IDEM_REPLAY:
            free(r->resp);
            r->resp = body;
            r->resp_len = len;
            r->status = status;
            r->content_type = ctype;
            r->replayed = true;
            return;
        case IDEM_CONFLICT:
            reply_error(r, 409, "idempotency_key_reused", "Idempotency-Key",
                        "this Idempotency-Key was used for a different request");
            return;
        case IDEM_NEW: break;
        }
    }
    rt->handler(r);
}

/* An answer made by an endpoint is its idempotency key's first response. */
static void answered(struct req *r) {
    if (r->idem_key && !r->replayed && r->status < 500 && r->resp)
        idem_store(r->srv->idem, r->who.bic, r->idem_key, r->idem_hash, r->status, r->resp, r->resp_len,
                   r->content_type);
}

static void on_durable(void *ctx, uint64_t seq) {
    (void)seq;
    srv_resume(ctx);
}

void srv_suspend(struct req *r) {
    r->suspended = true;
    atomic_fetch_add(&r->srv->suspended, 1);
    MHD_suspend_connection(r->conn);
}

void srv_resume(struct req *r) {
    struct server *s = r->srv; /* r may be answered and gone as soon as the connection runs again */
    MHD_resume_connection(r->conn);
    atomic_fetch_sub(&s->suspended, 1);
}

void srv_submit_async(struct req *r, struct ortak_cmd *cmds, uint32_t n, struct ortak_result *results) {
    /* suspended before submitting: the completion may come before this thread returns */
    srv_suspend(r);
    r->sub_results = results;
    r->sub_n = n;
    ortak_rc rc = ortak_sequencer_submit_async(r->srv->seq, cmds, n, results, on_durable, r);
    if (rc != ORTAK_OK) {
        for (uint32_t i = 0; i < n; i++) results[i] = (struct ortak_result){.rc = rc, .fail_index = UINT32_MAX};
        srv_resume(r);
    }
}

static enum MHD_Result send_reply(struct req *r, bool replayed, bool close) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(r->resp_len, r->resp, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(r->resp);
        r->resp = NULL;
        return MHD_NO;
    }
    r->resp = NULL; /* the response owns it now */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type ? r->content_type : "text/plain");
    if (replayed) MHD_add_response_header(resp, "Idempotent-Replayed", "true");
    for (uint32_t i = 0; i < r->nhdr; i++) MHD_add_response_header(resp, r->hdr[i][0], r->hdr[i][1]);
    if (close) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void finish(struct req *r, int route, uint64_t t0) {
    if (r->error_code) {
        metrics_refusal(r->srv, r->error_code);
        if (r->status == 401 || r->status == 403)
            ortak_log_info("server", "%s %s by %s refused: %s", r->method, r->path, r->who.bic[0] ? r->who.bic : "-",
                           r->error_code);
    }
    metrics_request(r->srv, route, r->status, srv_mono_ns() - t0);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    struct server *s = cls;
    struct req_ctx *rc = *con_cls;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn_ctx *cc = ci ? ci->socket_context : NULL;
    if (!rc) {
        rc = calloc(1, sizeof *rc);
        if (!rc) return MHD_NO;
        rc->t0 = srv_mono_ns();
        rc->r = (struct req){.srv = s, .conn = conn, .method = method, .path = url, .route = -1};
        *con_cls = rc;
        struct req *r = &rc->r;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        bool too_large = cl && strtoull(cl, NULL, 10) > s->cfg.body_max;
        if (!cc || cc->over_limit || too_large || atomic_load(&s->stopping)) {
            if (!cc || cc->over_limit) {
                atomic_fetch_add(&s->connections_refused, 1);
                reply_error(r, 503, "too_many_connections", NULL, "more than %u connections are open",
                            s->cfg.connections_max);
            } else if (too_large) {
                reply_error(r, 413, "body_too_large", NULL, "the body is larger than %llu bytes",
                            (unsigned long long)s->cfg.body_max);
            } else {
                reply_error(r, 503, "shutting_down", NULL, "the server is stopping");
            }
            finish(r, -1, rc->t0);
            return send_reply(r, false, true);
        }
        return MHD_YES;
    }
    struct req *r = &rc->r;
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (rc->len + n > s->cfg.body_max) { /* no Content-Length (chunked) and too much */
            rc->len = SIZE_MAX;
            return MHD_YES;
        }
        if (rc->len == SIZE_MAX) return MHD_YES;
        if (rc->len + n > rc->cap) { /* the Content-Length when given (checked above), so usually once */
            const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
            size_t cap = rc->cap ? rc->cap : cl ? (size_t)strtoull(cl, NULL, 10) : 512;
            if (cap == 0) cap = 512;
            while (cap < rc->len + n) cap *= 2;
            char *b = realloc(rc->body, cap + 1);
            if (!b) return MHD_NO;
            rc->body = b;
            rc->cap = cap;
        }
        memcpy(rc->body + rc->len, upload, n);
        rc->len += n;
        return MHD_YES;
    }
    if (rc->waiting) { /* resumed: the endpoint answers now */
        rc->waiting = false;
        r->suspended = false;
        r->resume(r);
    } else if (rc->len == SIZE_MAX) {
        reply_error(r, 413, "body_too_large", NULL, "the body is larger than %llu bytes",
                    (unsigned long long)s->cfg.body_max);
    } else {
        if (rc->body) rc->body[rc->len] = '\0';
        r->body = rc->body ? rc->body : "";
        r->body_len = rc->len;
        if (cc) atomic_store(&cc->in_handler, true);
        dispatch(r, cc);
    }
    if (r->suspended) {
        rc->waiting = true;
        return MHD_YES;
    }
    /* commands the replicated journal refused (this node stopped leading): never acknowledged */
    if (replica_take_not_leader() || replica_refused(r->sub_results, r->sub_n)) replica_reply_not_leader(r);
    answered(r);
    finish(r, r->route, rc->t0);
    enum MHD_Result ret = send_reply(r, r->replayed, false);
    if (cc) {
        atomic_store(&cc->last_done_ns, srv_mono_ns());
        atomic_store(&cc->in_handler, false);
    }
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)conn;
    (void)toe;
    struct req_ctx *rc = *con_cls;
    if (rc) {
        free(rc->r.resp);
        free(rc->r.state);
        free(rc->body);
        free(rc);
    }
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
    struct server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct conn_ctx *cc = calloc(1, sizeof *cc);
        int n = atomic_fetch_add(&s->connections, 1) + 1;
        *socket_context = cc;
        if (!cc) return;
        cc->over_limit = (uint32_t)n > s->cfg.connections_max;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        cc->fd = ci ? ci->connect_fd : -1;
        atomic_store(&cc->last_done_ns, srv_mono_ns());
        pthread_mutex_lock(&conns.mu);
        cc->next = conns.head;
        if (conns.head) conns.head->prev = cc;
        conns.head = cc;
        pthread_mutex_unlock(&conns.mu);
    } else {
        atomic_fetch_sub(&s->connections, 1);
        struct conn_ctx *cc = *socket_context;
        if (cc) {
            pthread_mutex_lock(&conns.mu);
            if (cc->prev)
                cc->prev->next = cc->next;
            else
                conns.head = cc->next;
            if (cc->next) cc->next->prev = cc->prev;
            pthread_mutex_unlock(&conns.mu);
        }
        free(cc);
        *socket_context = NULL;
    }
}

/* Cuts connections that send a request too slowly (a byte now and then keeps libmicrohttpd's idle timeout from
 * ever firing): shutting the socket down makes the connection's own thread see the end and close it. */
static void *sweeper_main(void *arg) {
    struct server *s = arg;
    uint64_t limit = (uint64_t)s->cfg.connection_timeout_s * 1000000000u;
    pthread_mutex_lock(&conns.mu);
    while (!conns.stop) {
        struct timespec until; /* a quarter of a second: the resolution of long polls' deadlines */
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 250000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&conns.cv, &conns.mu, &until);
        uint64_t now = srv_mono_ns();
        outbox_expire(s->outbox, now);
        for (struct conn_ctx *cc = conns.head; cc; cc = cc->next) {
            /* last_done_ns may be later than `now` (an answer sent meanwhile): compare without subtracting */
            if (cc->fd < 0 || atomic_load(&cc->in_handler) || atomic_load(&cc->last_done_ns) + limit >= now) continue;
            shutdown(cc->fd, SHUT_RDWR);
            cc->fd = -1;
            atomic_fetch_add(&s->connections_cut, 1);
            ortak_log_info("server", "a connection that sent no whole request in %u s was cut",
                           s->cfg.connection_timeout_s);
        }
    }
    pthread_mutex_unlock(&conns.mu);
    return NULL;
}

/* ---- the daemon -------------------------------------------------------------------------------------------- */

static char *read_file(const char *path, char *err, size_t err_cap) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_cap, "%s: cannot be read", path);
        return NULL;
    }
    enum { PEM_MAX = 1 << 20 };
    char *buf = malloc(PEM_MAX + 1);
    size_t n = buf ? fread(buf, 1, PEM_MAX, f) : 0;
    fclose(f);
    if (!buf || n == 0 || n == PEM_MAX) {
        free(buf);
        snprintf(err, err_cap, "%s: empty, unreadable or larger than 1 MiB", path);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    if (ortak_log_level_get() > ORTAK_LOG_DEBUG) return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = '\0';
    ortak_log_debug("http", "%s", msg);
}

int srv_http_start(struct server *s, char *err, size_t err_cap) {
    rc_codes_make();
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    const char *host = strcmp(s->cfg.listen_host, "localhost") == 0 ? "127.0.0.1" : s->cfg.listen_host;
    /* A few threads, each driving its share of the connections with epoll; a request waiting for the journal is
       suspended and holds no thread. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(s->cfg.listen_port);
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(s->cfg.listen_port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, err_cap, "listen address %s is not an IPv4 or IPv6 address", s->cfg.listen_host);
        return -1;
    }
    char *cert = NULL, *key = NULL, *ca = NULL;
    if (s->cfg.tls) {
        flags |= MHD_USE_TLS;
        if (!(cert = read_file(s->cfg.tls_cert, err, err_cap)) || !(key = read_file(s->cfg.tls_key, err, err_cap)) ||
            (s->cfg.tls_client_ca[0] && !(ca = read_file(s->cfg.tls_client_ca, err, err_cap)))) {
            free(cert);
            free(key);
            return -1;
        }
    }
    struct MHD_OptionItem opts[16];
    int n = 0;
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &ss};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, s->cfg.threads, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, s->cfg.connections_max + 64, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.connection_timeout_s, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL};
    opts[n++] =
        (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, 16 * 1024, NULL}; /* headers; bodies are ours */
    if (s->cfg.tls) {
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, cert};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, key};
        if (ca) opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, ca};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                            "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SERVER_PRECEDENCE"};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    conns.stop = false;
    conns.running = pthread_create(&conns.thread, NULL, sweeper_main, s) == 0;
    s->pem[0] = cert;
    s->pem[1] = key;
    s->pem[2] = ca;
    if (!s->mhd) {
        snprintf(err, err_cap, "cannot listen on %s:%u (address in use, or the TLS certificate or key is invalid)",
                 s->cfg.listen_host, s->cfg.listen_port);
        return -1;
    }
    return 0;
}

uint16_t srv_http_port(struct server *s) {
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : 0;
}

void srv_http_quiesce(struct server *s) {
    if (s->mhd) {
        MHD_socket fd = MHD_quiesce_daemon(s->mhd);
        if (fd != MHD_INVALID_SOCKET) close(fd);
    }
}

void srv_http_stop(struct server *s) {
    if (conns.running) {
        pthread_mutex_lock(&conns.mu);
        conns.stop = true;
        pthread_cond_signal(&conns.cv);
        pthread_mutex_unlock(&conns.mu);
        pthread_join(conns.thread, NULL);
        conns.running = false;
    }
    if (s->mhd) MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    for (int i = 0; i < 3; i++) {
        free(s->pem[i]);
        s->pem[i] = NULL;
    }
}
