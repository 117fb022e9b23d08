/*
 * ortakd: start-up, the operator and central banks at first start, signals, shutdown.
 *
 * Start-up: configuration; the inbound store and the outbox read back; the engine recovered from the newest
 * snapshot and the journal (its events rebuild what the outbox lacks); inbound messages no longer needed dropped;
 * the sequencer started; the operator and each currency's central bank with their accounts created when missing;
 * then the server listens and says so on stderr. SIGTERM or SIGINT: stop accepting connections, let requests in
 * flight finish, drain and sync the journal, write a snapshot, sync the outbox, exit 0.
 */
#include <errno.h>
#include <malloc.h>
#include <nettle/sha2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "base/log.h"
#include "ortak/ledger.h"
#include "ortak/settle.h"
#include "server.h"

static const char usage[] =
    "usage: ortakd --config FILE [--check-config]\n"
    "\n"
    "Runs the ortak server: the HTTP API over TLS (docs/api.md) with the engine, its journal and the outboxes.\n"
    "  --config FILE    the server configuration (INI; every option is in docs/operations.md)\n"
    "  --check-config   check the configuration and the files it names, then exit: 0 valid, 1 not\n"
    "Exit codes: 0 stopped by SIGTERM or SIGINT, 1 configuration, 2 usage, 3 start-up failed, 74 journal I/O,\n"
    "76 replication: the stream does not continue this node's journal.\n";

ortak_time_ns srv_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (ortak_time_ns)ts.tv_sec * ORTAK_NS_PER_S + (ortak_time_ns)ts.tv_nsec;
}

const struct ortak_engine *srv_read_begin(struct server *s) { return ortak_sequencer_read_begin(s->seq); }
void srv_read_end(struct server *s) { ortak_sequencer_read_end(s->seq); }

uint64_t srv_submit(struct server *s, struct ortak_cmd *cmds, uint32_t n, struct ortak_result *results) {
    uint64_t seq = 0;
    ortak_rc rc = ortak_sequencer_submit(s->seq, cmds, n, results, &seq);
    if (rc != ORTAK_OK) { /* callers never submit more than batch_max */
        for (uint32_t i = 0; i < n; i++) results[i] = (struct ortak_result){.rc = rc, .fail_index = UINT32_MAX};
    }
    if (s->replica && replica_refused(results, n)) replica_note_not_leader(); /* answered 503 by http.c */
    return seq;
}

ortak_u128 srv_derived_id(const char *domain, const char *bic, const char *key) {
    char bic11[12];
    snprintf(bic11, sizeof bic11, "%s%s", bic, strlen(bic) == 8 ? "XXX" : "");
    struct sha256_ctx h;
    uint8_t d[32];
    sha256_init(&h);
    sha256_update(&h, strlen(domain) + 1, (const uint8_t *)domain);
    sha256_update(&h, strlen(bic11) + 1, (const uint8_t *)bic11);
    sha256_update(&h, strlen(key) + 1, (const uint8_t *)key);
    sha256_digest(&h, 32, d);
    ortak_u128 id = 0;
    for (int i = 0; i < 16; i++) id = id << 8 | d[i];
    id &= ~((ortak_u128)1 << 127); /* never in the system's id space (top 16 bits all ones) */
    return id ? id : 1;
}

ortak_u128 srv_account_id(const char *bic, const char *currency, uint8_t kind) {
    char key[32];
    snprintf(key, sizeof key, "%.3s/%s", currency, ortak_account_kind_name(kind));
    return srv_derived_id("ortak account", bic, key);
}

ortak_u128 srv_random_id(void) {
    ortak_u128 id = 0;
    while (getrandom(&id, sizeof id, 0) != sizeof id) continue;
    id &= ~((ortak_u128)1 << 127);
    return id ? id : 1;
}

/* ---- the engine's callbacks -------------------------------------------------------------------------------- */

static void on_events(void *ctx, uint64_t seq, const struct ortak_event *ev, uint32_t n) {
    struct server *s = ctx;
    for (uint32_t i = 0; i < n; i++) {
        if (ev[i].kind == ORTAK_EV_PARTICIPANT_CREATED || ev[i].kind == ORTAK_EV_PARTICIPANT_STATUS) {
            atomic_fetch_add(&s->participants_epoch, 1);
            break;
        }
    }
    outbox_on_events(s->outbox, s->engine, seq, ev, n);
    dash_on_events(s->dash, s->engine, seq, ev, n);
    screen_on_events(s->screening, ev, n);
    if (s->replica) replica_on_batch(s->replica, s->engine, seq);
}

static void on_replayed(void *ctx, const struct ortak_engine *e, uint64_t seq, const struct ortak_event *ev,
                        uint32_t n) {
    struct server *s = ctx;
    outbox_on_events(s->outbox, e, seq, ev, n);
    dash_on_events(s->dash, e, seq, ev, n);
}

static void before_sync(void *ctx) { inbound_sync(((struct server *)ctx)->inbound); }
static void before_snapshot(void *ctx) {
    outbox_sync(((struct server *)ctx)->outbox);
    dash_save(((struct server *)ctx)->dash);
}

static bool payment_over(void *ctx, ortak_u128 id) {
    struct ortak_payment_info p;
    struct ortak_transfer_info t;
    const struct ortak_engine *e = ctx;
    if (ortak_settle_payment_get(ortak_engine_settle(e), id, &p) == ORTAK_OK)
        return p.state != ORTAK_PAYMENT_QUEUED && p.state != ORTAK_PAYMENT_ACCEPTED && p.state != ORTAK_PAYMENT_HELD;
    return ortak_ledger_transfer_get(ortak_engine_ledger(e), id, &t) != ORTAK_OK || t.rc == ORTAK_OK;
}

/* ---- first start ------------------------------------------------------------------------------------------- */

static void add_participant(struct ortak_cmd *cmds, uint32_t *n, const struct ortak_ledger *l, const char *bic,
                            const char *name, uint8_t role) {
    struct ortak_participant_info p;
    if (ortak_ledger_participant_get(l, bic, &p) == ORTAK_OK) return;
    for (uint32_t i = 0; i < *n; i++) { /* a central bank of several currencies */
        if (cmds[i].kind == ORTAK_CMD_PARTICIPANT_CREATE && strcmp(cmds[i].u.participant_create.bic, bic) == 0) return;
    }
    struct ortak_cmd *c = &cmds[(*n)++];
    memset(c, 0, sizeof *c);
    c->kind = ORTAK_CMD_PARTICIPANT_CREATE;
    snprintf(c->u.participant_create.bic, sizeof c->u.participant_create.bic, "%s", bic);
    snprintf(c->u.participant_create.name, sizeof c->u.participant_create.name, "%s", name);
    c->u.participant_create.role = role;
}

static void add_account(struct ortak_cmd *cmds, uint32_t *n, const struct ortak_ledger *l, const char *bic,
                        const char *currency, uint8_t kind) {
    struct ortak_account_info a;
    if (ortak_ledger_account_find(l, bic, currency, kind, &a) == ORTAK_OK) return;
    struct ortak_cmd *c = &cmds[(*n)++];
    memset(c, 0, sizeof *c);
    c->kind = ORTAK_CMD_ACCOUNT_CREATE;
    c->u.account_create.id = srv_account_id(bic, currency, kind);
    snprintf(c->u.account_create.bic, sizeof c->u.account_create.bic, "%s", bic);
    snprintf(c->u.account_create.currency, sizeof c->u.account_create.currency, "%s", currency);
    c->u.account_create.kind = kind;
}

/* The operator, and each currency's central bank with its issuance and settlement accounts, when missing. */
static int bootstrap(struct server *s) {
    const struct ortak_config *ec = &s->engine_cfg;
    uint32_t cap = 2 + ec->currency_count * 4, n = 0;
    struct ortak_cmd *cmds = calloc(cap, sizeof *cmds);
    struct ortak_result *res = calloc(cap, sizeof *res);
    if (!cmds || !res) {
        free(cmds);
        free(res);
        return -1;
    }
    const struct ortak_ledger *l = ortak_engine_ledger(srv_read_begin(s));
    add_participant(cmds, &n, l, s->cfg.operator_bic, s->cfg.operator_name, ORTAK_ROLE_OPERATOR);
    for (uint32_t i = 0; i < ec->currency_count; i++) {
        const struct ortak_currency_config *c = &ec->currencies[i];
        add_participant(cmds, &n, l, c->agent_bic, c->agent_name, ORTAK_ROLE_CENTRAL_BANK);
    }
    uint32_t participants = n;
    for (uint32_t i = 0; i < ec->currency_count; i++) {
        const struct ortak_currency_config *c = &ec->currencies[i];
        add_account(cmds, &n, l, c->agent_bic, c->code, ORTAK_ACCOUNT_ISSUANCE);
        add_account(cmds, &n, l, c->agent_bic, c->code, ORTAK_ACCOUNT_SETTLEMENT);
        add_account(cmds, &n, l, s->cfg.operator_bic, c->code, ORTAK_ACCOUNT_SETTLEMENT);
    }
    srv_read_end(s);
    int rc = 0;
    /* participants first: an account needs its owner admitted in an earlier command */
    if (n) srv_submit(s, cmds, n, res);
    for (uint32_t i = 0; i < n; i++) {
        if (res[i].rc != ORTAK_OK) {
            ortak_log_error("server", "first start: command %u (%s) refused: %s", i,
                            i < participants ? "participant" : "account", ortak_rc_str(res[i].rc));
            rc = -1;
        }
    }
    if (n)
        ortak_log_info("server", "first start: %u participants and %u accounts created", participants,
                       n - participants);
    free(cmds);
    free(res);
    return rc;
}

/* Replication: each time this node starts leading, what the first start creates, when missing. */
static void on_lead(struct server *s) {
    if (bootstrap(s) != 0) ortak_log_error("server", "first start: the operator or a central bank is missing");
}

/* ---- start and stop ---------------------------------------------------------------------------------------- */

static int make_dir(const char *path) {
    if (mkdir(path, 0750) == 0 || errno == EEXIST) return 0;
    fprintf(stderr, "ortakd: cannot create %s: %s\n", path, strerror(errno));
    return -1;
}

static int load_config(struct server *s, const char *path) {
    char err[600];
    if (srv_config_load(&s->cfg, path, err, sizeof err) != 0) {
        fprintf(stderr, "ortakd: configuration %s\n", err);
        return -1;
    }
    if (s->cfg.engine_config[0]) {
        if (ortak_config_load(&s->engine_cfg, s->cfg.engine_config, err, sizeof err) != ORTAK_OK) {
            fprintf(stderr, "ortakd: engine configuration %s: %s\n", s->cfg.engine_config, err);
            return -1;
        }
    } else {
        ortak_config_default(&s->engine_cfg);
    }
    enum ortak_log_level lvl;
    ortak_log_level_parse(s->cfg.log_level, &lvl);
    ortak_log_setup(lvl, NULL);
    return 0;
}

static int open_iso(struct server *s) {
    uint64_t bytes = s->cfg.body_max < ORTAK_ISO_MESSAGE_BYTES_LIMIT ? s->cfg.body_max : ORTAK_ISO_MESSAGE_BYTES_LIMIT;
    struct ortak_iso_options o = {.message_bytes_max = (uint32_t)bytes};
    const char *schemas = s->cfg.schema_dir[0] ? s->cfg.schema_dir : ortak_iso_default_schema_dir();
    struct stat st;
    if (schemas && !s->cfg.schema_dir[0] && stat(schemas, &st) != 0) schemas = NULL;
    o.schema_dir = schemas;
    o.iban_registry = s->cfg.iban_registry[0] ? s->cfg.iban_registry : ortak_iso_default_iban_registry();
    if (o.iban_registry && !s->cfg.iban_registry[0] && stat(o.iban_registry, &st) != 0) o.iban_registry = NULL;
    char why[512];
    if (ortak_iso_open(&o, &s->iso, why, sizeof why) != ORTAK_OK) {
        fprintf(stderr, "ortakd: ISO 20022: %s\n", why);
        return -1;
    }
    if (!schemas || ortak_iso_schema_count(s->iso) == 0)
        ortak_log_warn("server", "no ISO 20022 schemas: messages are checked by ortak's own rules only "
                                 "(set [iso20022] schema_dir)");
    else
        ortak_log_info("server", "ISO 20022: %u schemas from %s", ortak_iso_schema_count(s->iso), schemas);
    if (!o.iban_registry) ortak_log_warn("server", "no IBAN registry: IBANs are checked by their check digits only");
    if (ortak_iso_seen_open(s->cfg.msg_ids_max, &s->seen) != ORTAK_OK) return -1;
    pthread_mutex_init(&s->seen_mu, NULL);
    return 0;
}

/* A message accepted before this start: its MsgId stays refused for its sender (AM05). */
static void msg_id_seen(void *ctx, const char *sender, const char *msg_id) {
    struct server *s = ctx;
    static bool warned;
    if (ortak_iso_seen_add(s->seen, sender, msg_id) == ORTAK_ISO_SEEN_FULL && !warned) {
        ortak_log_warn("server", "more messages than [limits] msg_ids_max: the rest of their ids are not remembered");
        warned = true;
    }
}

static int recover(struct server *s) {
    char path[SRV_PATH_MAX + 16], err[600];
    snprintf(s->journal_dir, sizeof s->journal_dir, "%s/journal", s->cfg.data_dir);
    if (make_dir(s->cfg.data_dir) || make_dir(s->journal_dir)) return -1;
    snprintf(path, sizeof path, "%s/inbound", s->cfg.data_dir);
    if (make_dir(path) || inbound_open(path, msg_id_seen, s, &s->inbound, err, sizeof err) != 0) {
        fprintf(stderr, "ortakd: %s\n", err);
        return -1;
    }
    snprintf(path, sizeof path, "%s/outbox", s->cfg.data_dir);
    if (make_dir(path) || outbox_open(s, path, &s->outbox, err, sizeof err) != 0) {
        fprintf(stderr, "ortakd: %s\n", err);
        return -1;
    }
    struct ortak_journal_options jo = {.create = true, .replay_events = on_replayed, .replay_ctx = s};
    struct ortak_journal *j;
    struct ortak_recovery report;
    struct ortak_journal_problem problem;
    ortak_rc rc = ortak_recover(s->journal_dir, &s->engine_cfg, &jo, &s->engine, &j, &report, &problem);
    if (rc != ORTAK_OK) {
        fprintf(stderr, "ortakd: journal %s: %s (file %s, offset %llu, record %llu)\n", s->journal_dir,
                rc == ORTAK_CORRUPT || rc == ORTAK_IO ? problem.message : ortak_rc_str(rc), problem.file,
                (unsigned long long)problem.offset, (unsigned long long)problem.seq);
        return -1;
    }
    inbound_prune(s->inbound, payment_over, s->engine);
    if (s->cfg.repl.enabled && replica_open(s, j, err, sizeof err) != 0) {
        fprintf(stderr, "ortakd: replication: %s\n", err);
        ortak_journal_close(j);
        return -1;
    }
    struct ortak_sequencer_options so = {
        .group_delay_us = s->cfg.group_delay_us,
        .snapshot_every = s->cfg.snapshot_every,
        .snapshots_keep = s->cfg.snapshots_keep,
        .on_events = on_events,
        .events_ctx = s,
        .before_sync = before_sync,
        .before_snapshot = before_snapshot,
        .hooks_ctx = s,
        .backend = s->replica ? replica_backend(s->replica) : NULL, /* NULL: the file journal alone */
    };
    if (ortak_sequencer_start(s->engine, j, s->journal_dir, &so, &s->seq) != ORTAK_OK) {
        fprintf(stderr, "ortakd: the journal's records cannot hold a batch of batch_max commands\n");
        ortak_journal_close(j);
        return -1;
    }
    return 0;
}

/* The dashboard's aggregates, and where its files are (said at start-up). */
static int open_dash(struct server *s) {
    if (dash_open(s, &s->dash) != 0) return -1;
    char dir[SRV_PATH_MAX];
    dash_find_web_dir(s->cfg.web_dir, "/proc/self/exe", dir, sizeof dir);
    dash_set_web_dir(s->dash, dir);
    if (dir[0])
        ortak_log_info("server", "dashboard: files from %s, served at /dashboard/", dir);
    else if (s->cfg.web_dir[0])
        ortak_log_warn("server", "dashboard: [server] web_dir %s is not a directory: no dashboard", s->cfg.web_dir);
    else
        ortak_log_warn("server", "dashboard: no web directory found (set [server] web_dir): the API only");
    return 0;
}

static int check_config(struct server *s, const char *path) {
    if (s->cfg.tls) {
        const char *files[] = {s->cfg.tls_cert, s->cfg.tls_key, s->cfg.tls_client_ca};
        for (int i = 0; i < 3; i++) {
            FILE *f = files[i][0] ? fopen(files[i], "r") : NULL;
            if (files[i][0] && !f) {
                fprintf(stderr, "ortakd: configuration %s: %s cannot be read\n", path, files[i]);
                return 1;
            }
            if (f) fclose(f);
        }
    }
    if (screen_open(s) != 0) return 1; /* the sanctions lists configured must load */
    screen_close(s->screening);
    s->screening = NULL;
    printf("ortakd: configuration %s is valid: %s on %s:%u, %u client certificates, %u tokens, %u currencies\n", path,
           s->cfg.tls ? "HTTPS" : "HTTP (demo)", s->cfg.listen_host, s->cfg.listen_port, s->cfg.client_count,
           s->cfg.token_count, s->engine_cfg.currency_count);
    return 0;
}

static void shutdown_server(struct server *s) {
    atomic_store(&s->stopping, true);
    atomic_store(&s->ready, false);
    srv_http_quiesce(s);
    outbox_wake_all(s->outbox);
    /* requests waiting for the journal get their results (the sequencer still runs), long polls their answers */
    for (int i = 0; i < 10000 && atomic_load(&s->suspended) > 0; i++) nanosleep(&(struct timespec){0, 1000000}, NULL);
    srv_http_stop(s); /* joins the network threads: requests in flight have their answers */
    replica_stop(s->replica);
    struct ortak_engine *e;
    struct ortak_journal *j;
    ortak_sequencer_stop(s->seq, &e, &j);
    replica_close(s->replica); /* a leader gives the lease up: a follower takes over at once */
    inbound_sync(s->inbound);
    struct ortak_journal_head head;
    ortak_journal_head_get(j, &head);
    outbox_sync(s->outbox);
    dash_save(s->dash);
    if (head.seq) ortak_snapshot_write(s->journal_dir, NULL, e, &head, s->cfg.snapshots_keep);
    ortak_log_info("server", "stopped at journal record %llu", (unsigned long long)head.seq);
    ortak_journal_close(j);
    ortak_engine_close(e);
}

int main(int argc, char **argv) {
    const char *config = NULL;
    bool check = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else if (strcmp(argv[i], "--check-config") == 0) {
            check = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else {
            fprintf(stderr, "ortakd: unknown argument '%s'\n\n%s", argv[i], usage);
            return 2;
        }
    }
    if (!config) {
        fprintf(stderr, "ortakd: --config FILE is required\n\n%s", usage);
        return 2;
    }
    static struct server srv; /* large (the client tables): not on the stack */
    struct server *s = &srv;
    if (load_config(s, config) != 0) return 1;
    if (check) return check_config(s, config);

    /* signals are taken by this thread alone, with sigwait; every thread started after this inherits the mask */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Many threads allocate and free small objects per request: keep their heaps instead of giving memory back to
       the system and asking for it again on the next request. */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_TOP_PAD, 4 << 20);
    pthread_mutex_init(&s->refusals.mu, NULL);
    s->route_metrics = calloc(srv_route_count + 1, sizeof *s->route_metrics);
    if (s->route_metrics && screen_open(s) != 0) return 1; /* a configured list that cannot be read */
    if (!s->route_metrics || idem_open(s->cfg.idempotency_keys, &s->idem) != 0 || open_iso(s) != 0 ||
        open_dash(s) != 0 || recover(s) != 0)
        return 3;
    if (s->replica)
        replica_start(s->replica, on_lead); /* the first start's bootstrap waits for this node to lead */
    else if (bootstrap(s) != 0)
        return 3;
    screen_held_scan(s->screening, srv_read_begin(s));
    srv_read_end(s);
    char err[600];
    if (srv_http_start(s, err, sizeof err) != 0) {
        fprintf(stderr, "ortakd: %s\n", err);
        return 3;
    }
    atomic_store(&s->ready, true);
    const char *host = s->cfg.listen_host;
    bool v6 = strchr(host, ':') != NULL;
    fprintf(stderr, "ortakd: listening on %s://%s%s%s:%u\n", s->cfg.tls ? "https" : "http", v6 ? "[" : "", host,
            v6 ? "]" : "", srv_http_port(s));
    fflush(stderr);

    int sig = 0;
    sigwait(&sigs, &sig);
    ortak_log_info("server", "%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    shutdown_server(s);
    outbox_close(s->outbox);
    dash_close(s->dash);
    screen_close(s->screening);
    inbound_close(s->inbound);
    idem_close(s->idem);
    ortak_iso_seen_close(s->seen);
    ortak_iso_close(s->iso);
    free(s->route_metrics);
    return 0;
}
