/*
 * The server's configuration: an INI file read with libinih. Every option is documented in docs/operations.md;
 * unknown sections and keys are errors, so that a misspelt option is never silently ignored.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/slice.h"
#include "ortak/ledger.h"
#include "ortak/screening.h"
#include "server.h"

void srv_config_init(struct srv_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->listen_host, sizeof c->listen_host, "127.0.0.1");
    c->listen_port = 8443;
    snprintf(c->data_dir, sizeof c->data_dir, "ortak-data");
    snprintf(c->operator_bic, sizeof c->operator_bic, "%s", ORTAK_OPERATOR_BIC_DEFAULT);
    snprintf(c->operator_name, sizeof c->operator_name, "OTS Payment System Operator");
    snprintf(c->log_level, sizeof c->log_level, "info");
    c->tls = true;
    c->connections_max = 1024;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    c->threads = cpus < 2 ? 2 : cpus > 64 ? 64 : (uint32_t)cpus;
    c->connection_timeout_s = 30;
    c->body_max = 256 * 1024;
    c->idempotency_keys = 100000;
    c->outbox_max = 1000000;
    c->long_poll_max_s = 60;
    c->msg_ids_max = 1000000;
    c->group_delay_us = 1000;
    c->snapshot_every = 10000;
    c->snapshots_keep = 3;
    replica_conf_defaults(&c->repl);
    c->screening = true;
    c->screening_threshold = ORTAK_SCREEN_THRESHOLD_DEFAULT;
}

struct conf_state {
    struct srv_config *c;
    char msg[256];
};

static int fail(struct conf_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct conf_state *st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->msg, sizeof st->msg, fmt, ap);
    va_end(ap);
    return 0;
}

static bool parse_bool(const char *v, bool *out) {
    if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
        *out = true;
        return true;
    }
    if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
        *out = false;
        return true;
    }
    return false;
}

static bool parse_u64(const char *v, uint64_t min, uint64_t max, uint64_t *out) {
    return ortak_slice_parse_u64(ortak_slice_from_cstr(v), max, out) && *out >= min;
}

static bool parse_u32(const char *v, uint32_t min, uint32_t max, uint32_t *out) {
    uint64_t n;
    if (!parse_u64(v, min, max, &n)) return false;
    *out = (uint32_t)n;
    return true;
}

static bool copy_str(const char *v, char *out, size_t cap) {
    size_t n = strlen(v);
    if (n == 0 || n >= cap) return false;
    memcpy(out, v, n + 1);
    return true;
}

/* "host:port", "[v6]:port". */
static bool parse_listen(const char *v, struct srv_config *c) {
    const char *colon = strrchr(v, ':');
    if (!colon) return false;
    const char *host = v;
    size_t hlen = (size_t)(colon - v);
    if (hlen >= 2 && v[0] == '[' && v[hlen - 1] == ']') {
        host++;
        hlen -= 2;
    }
    uint64_t port;
    if (hlen == 0 || hlen >= sizeof c->listen_host || !parse_u64(colon + 1, 0, 65535, &port)) return false;
    memcpy(c->listen_host, host, hlen);
    c->listen_host[hlen] = '\0';
    c->listen_port = (uint16_t)port;
    return true;
}

static bool parse_fingerprint(const char *v, uint8_t out[32]) {
    if (strncmp(v, "sha256:", 7) != 0) return false;
    v += 7;
    size_t n = 0;
    for (; *v && n < 64; v++) {
        if (*v == ':') continue; /* "AB:CD:..." as certtool and openssl print it */
        int d = isdigit((unsigned char)*v) ? *v - '0' : tolower((unsigned char)*v) - 'a' + 10;
        if (d < 0 || d > 15) return false;
        out[n / 2] = (uint8_t)(n % 2 ? out[n / 2] | d : d << 4);
        n++;
    }
    return n == 64 && *v == '\0';
}

static int server_key(struct conf_state *st, const char *k, const char *v) {
    struct srv_config *c = st->c;
    if (strcmp(k, "listen") == 0) return parse_listen(v, c) ? 1 : fail(st, "listen must be HOST:PORT: %s", v);
    if (strcmp(k, "data_dir") == 0) return copy_str(v, c->data_dir, sizeof c->data_dir) ? 1 : fail(st, "data_dir");
    if (strcmp(k, "engine_config") == 0)
        return copy_str(v, c->engine_config, sizeof c->engine_config) ? 1 : fail(st, "engine_config");
    if (strcmp(k, "operator_bic") == 0)
        return copy_str(v, c->operator_bic, sizeof c->operator_bic) && ortak_bic_valid(v)
                   ? 1
                   : fail(st, "operator_bic is not a BIC: %s", v);
    if (strcmp(k, "operator_name") == 0)
        return copy_str(v, c->operator_name, sizeof c->operator_name) ? 1 : fail(st, "operator_name");
    if (strcmp(k, "demo") == 0) return parse_bool(v, &c->demo) ? 1 : fail(st, "demo must be yes or no");
    if (strcmp(k, "tls") == 0) return parse_bool(v, &c->tls) ? 1 : fail(st, "tls must be yes or no");
    if (strcmp(k, "connections_max") == 0)
        return parse_u32(v, 1, 100000, &c->connections_max) ? 1 : fail(st, "connections_max: 1..100000");
    if (strcmp(k, "threads") == 0) return parse_u32(v, 1, 256, &c->threads) ? 1 : fail(st, "threads: 1..256");
    if (strcmp(k, "connection_timeout_s") == 0)
        return parse_u32(v, 1, 3600, &c->connection_timeout_s) ? 1 : fail(st, "connection_timeout_s: 1..3600");
    if (strcmp(k, "log_level") == 0) return copy_str(v, c->log_level, sizeof c->log_level) ? 1 : fail(st, "log_level");
    if (strcmp(k, "web_dir") == 0) return copy_str(v, c->web_dir, sizeof c->web_dir) ? 1 : fail(st, "web_dir");
    return fail(st, "unknown key in [server]: %s", k);
}

static int tls_key(struct conf_state *st, const char *k, const char *v) {
    struct srv_config *c = st->c;
    if (strcmp(k, "cert") == 0) return copy_str(v, c->tls_cert, sizeof c->tls_cert) ? 1 : fail(st, "cert");
    if (strcmp(k, "key") == 0) return copy_str(v, c->tls_key, sizeof c->tls_key) ? 1 : fail(st, "key");
    if (strcmp(k, "client_ca") == 0)
        return copy_str(v, c->tls_client_ca, sizeof c->tls_client_ca) ? 1 : fail(st, "client_ca");
    if (strcmp(k, "client_bic_from_subject") == 0)
        return parse_bool(v, &c->client_bic_from_subject) ? 1 : fail(st, "client_bic_from_subject: yes or no");
    return fail(st, "unknown key in [tls]: %s", k);
}

static int client_key(struct conf_state *st, const char *k, const char *v) {
    struct srv_config *c = st->c;
    if (c->client_count == SRV_CLIENTS_MAX) return fail(st, "more than %d clients", SRV_CLIENTS_MAX);
    struct srv_client *cl = &c->clients[c->client_count];
    /* libinih takes ':' as well as '=' between name and value: "sha256:<hex> = BIC" arrives as "sha256" and
       "<hex> = BIC" */
    char fp[128 + 8], bic[16];
    if (strcmp(k, "sha256") == 0) {
        const char *eq = strrchr(v, '=');
        size_t n = eq ? (size_t)(eq - v) : 0;
        while (n && v[n - 1] == ' ') n--;
        if (!eq || n + 8 > sizeof fp) return fail(st, "a client is 'sha256:<64 hex digits> = BIC'");
        snprintf(fp, sizeof fp, "sha256:%.*s", (int)n, v);
        eq++;
        while (*eq == ' ') eq++;
        snprintf(bic, sizeof bic, "%s", eq);
        k = fp;
        v = bic;
    }
    if (!parse_fingerprint(k, cl->fingerprint))
        return fail(st, "a client is 'sha256:<64 hex digits> = BIC', not '%s'", k);
    if (!copy_str(v, cl->bic, sizeof cl->bic) || !ortak_bic_valid(v)) return fail(st, "not a BIC: %s", v);
    for (uint32_t i = 0; i < c->client_count; i++) {
        if (memcmp(c->clients[i].fingerprint, cl->fingerprint, 32) == 0)
            return fail(st, "fingerprint listed twice: %s", k);
    }
    c->client_count++;
    return 1;
}

static int token_key(struct conf_state *st, const char *k, const char *v) {
    struct srv_config *c = st->c;
    if (c->token_count == SRV_CLIENTS_MAX) return fail(st, "more than %d tokens", SRV_CLIENTS_MAX);
    struct srv_token *t = &c->tokens[c->token_count];
    if (!copy_str(k, t->bic, sizeof t->bic) || !ortak_bic_valid(k)) return fail(st, "not a BIC: %s", k);
    size_t n = strlen(v);
    if (n < SRV_TOKEN_LEN_MIN || n > SRV_TOKEN_LEN_MAX)
        return fail(st, "the token of %s must have %d to %d characters", k, SRV_TOKEN_LEN_MIN, SRV_TOKEN_LEN_MAX);
    for (size_t i = 0; i < n; i++) {
        if (v[i] <= ' ' || v[i] > '~') return fail(st, "the token of %s has a character that is not printable", k);
    }
    memcpy(t->token, v, n + 1);
    for (uint32_t i = 0; i < c->token_count; i++) {
        if (strcmp(c->tokens[i].token, t->token) == 0) return fail(st, "the same token is given twice");
    }
    c->token_count++;
    return 1;
}

static int limits_key(struct conf_state *st, const char *k, const char *v) {
    struct srv_config *c = st->c;
    if (strcmp(k, "body_max") == 0)
        return parse_u64(v, 1024, 64u << 20, &c->body_max) ? 1 : fail(st, "body_max: 1024..67108864");
    if (strcmp(k, "idempotency_keys") == 0)
        return parse_u32(v, 1, 100000000, &c->idempotency_keys) ? 1 : fail(st, "idempotency_keys: 1..100000000");
    if (strcmp(k, "outbox_max") == 0)
        return parse_u32(v, 1, 1000000000, &c->outbox_max) ? 1 : fail(st, "outbox_max: 1..1000000000");
    if (strcmp(k, "long_poll_max_s") == 0)
        return parse_u32(v, 0, 3600, &c->long_poll_max_s) ? 1 : fail(st, "long_poll_max_s: 0..3600");
    if (strcmp(k, "msg_ids_max") == 0)
        return parse_u32(v, 1, 100000000, &c->msg_ids_max) ? 1 : fail(st, "msg_ids_max: 1..100000000");
    return fail(st, "unknown key in [limits]: %s", k);
}

static int journal_key(struct conf_state *st, const char *k, const char *v) {
    struct srv_config *c = st->c;
    if (strcmp(k, "group_delay_us") == 0)
        return parse_u32(v, 0, 100000, &c->group_delay_us) ? 1 : fail(st, "group_delay_us: 0..100000");
    if (strcmp(k, "snapshot_every") == 0)
        return parse_u64(v, 0, UINT64_C(1) << 40, &c->snapshot_every) ? 1 : fail(st, "snapshot_every");
    if (strcmp(k, "snapshots_keep") == 0)
        return parse_u32(v, 0, 1000, &c->snapshots_keep) ? 1 : fail(st, "snapshots_keep: 0..1000");
    return fail(st, "unknown key in [journal]: %s", k);
}

static int iso_key(struct conf_state *st, const char *k, const char *v) {
    struct srv_config *c = st->c;
    if (strcmp(k, "schema_dir") == 0)
        return copy_str(v, c->schema_dir, sizeof c->schema_dir) ? 1 : fail(st, "schema_dir");
    if (strcmp(k, "iban_registry") == 0)
        return copy_str(v, c->iban_registry, sizeof c->iban_registry) ? 1 : fail(st, "iban_registry");
    return fail(st, "unknown key in [iso20022]: %s", k);
}

/* A score in [0, 1] with at most four decimals ("0.88", "1"), as an integer in 1/10000. */
static bool parse_score(const char *v, uint16_t *out) {
    uint32_t whole = 0, frac = 0, scale = 10000;
    if (*v < '0' || *v > '1') return false;
    whole = (uint32_t)(*v++ - '0');
    if (*v == '.') {
        v++;
        if (*v < '0' || *v > '9') return false;
        while (*v >= '0' && *v <= '9' && scale > 1) {
            scale /= 10;
            frac += (uint32_t)(*v++ - '0') * scale;
        }
    }
    if (*v != '\0' || whole * 10000 + frac > 10000) return false;
    *out = (uint16_t)(whole * 10000 + frac);
    return true;
}

static int screening_key(struct conf_state *st, const char *k, const char *v) {
    struct srv_config *c = st->c;
    if (strcmp(k, "enabled") == 0) return parse_bool(v, &c->screening) ? 1 : fail(st, "enabled: yes or no");
    if (strcmp(k, "lists") == 0)
        return copy_str(v, c->screening_lists, sizeof c->screening_lists) ? 1 : fail(st, "lists: too long");
    if (strcmp(k, "translit_dir") == 0)
        return copy_str(v, c->translit_dir, sizeof c->translit_dir) ? 1 : fail(st, "translit_dir");
    if (strcmp(k, "threshold") == 0)
        return parse_score(v, &c->screening_threshold) && c->screening_threshold > 0
                   ? 1
                   : fail(st, "threshold: a score above 0 and at most 1, with at most four decimals (0.88)");
    return fail(st, "unknown key in [screening]: %s", k);
}

static int handler(void *user, const char *section, const char *name, const char *value) {
    struct conf_state *st = user;
    if (!name) return 1; /* a section header alone */
    if (strcmp(section, "server") == 0) return server_key(st, name, value);
    if (strcmp(section, "tls") == 0) return tls_key(st, name, value);
    if (strcmp(section, "clients") == 0) return client_key(st, name, value);
    if (strcmp(section, "tokens") == 0) return token_key(st, name, value);
    if (strcmp(section, "limits") == 0) return limits_key(st, name, value);
    if (strcmp(section, "journal") == 0) return journal_key(st, name, value);
    if (strcmp(section, "iso20022") == 0) return iso_key(st, name, value);
    if (strcmp(section, "replication") == 0)
        return replica_conf_key(&st->c->repl, name, value, st->msg, sizeof st->msg);
    if (strcmp(section, "screening") == 0) return screening_key(st, name, value);
    return fail(st, "unknown section [%s]", section);
}

bool srv_config_loopback(const struct srv_config *c) {
    if (strcmp(c->listen_host, "localhost") == 0 || strcmp(c->listen_host, "::1") == 0) return true;
    struct in_addr a;
    return inet_pton(AF_INET, c->listen_host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

static int check(const struct srv_config *c, char *err, size_t cap) {
    bool loopback = srv_config_loopback(c);
    if (c->demo && !loopback) {
        snprintf(err, cap, "demo mode (bearer tokens) is allowed only on a loopback address, not %s", c->listen_host);
        return -1;
    }
    if (c->token_count && !c->demo) {
        snprintf(err, cap, "[tokens] are given but demo = no: tokens are accepted only in demo mode");
        return -1;
    }
    if (!c->tls && !(c->demo && loopback)) {
        snprintf(err, cap, "tls = no is allowed only in demo mode on a loopback address");
        return -1;
    }
    if (c->tls && (!c->tls_cert[0] || !c->tls_key[0])) {
        snprintf(err, cap, "[tls] cert and key are required when tls = yes");
        return -1;
    }
    if (c->tls && !c->tls_client_ca[0] && (c->client_count || c->client_bic_from_subject)) {
        snprintf(err, cap, "[tls] client_ca is required to accept client certificates");
        return -1;
    }
    if (!c->client_count && !c->token_count && !c->client_bic_from_subject) {
        snprintf(err, cap, "no client can authenticate: give [clients], [tokens] (demo) or client_bic_from_subject");
        return -1;
    }
    if (replica_conf_check(&c->repl, err, cap) != 0) return -1;
    enum ortak_log_level lvl;
    if (ortak_log_level_parse(c->log_level, &lvl) != 0) {
        snprintf(err, cap, "[server] log_level must be debug, info, warn, error or off: %s", c->log_level);
        return -1;
    }
    return 0;
}

int srv_config_load(struct srv_config *c, const char *path, char *err, size_t err_cap) {
    srv_config_init(c);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, err_cap, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct conf_state st = {.c = c};
    int line = ini_parse_file(f, handler, &st);
    fclose(f);
    if (line != 0) {
        snprintf(err, err_cap, "%s: line %d: %s", path, line, st.msg[0] ? st.msg : "syntax error");
        return -1;
    }
    char msg[256];
    if (check(c, msg, sizeof msg) != 0) {
        snprintf(err, err_cap, "%s: %s", path, msg);
        return -1;
    }
    return 0;
}
