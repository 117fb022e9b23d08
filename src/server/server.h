/*
 * ortakd, the network server: internal interfaces between its files.
 *
 * conf.c     the server's INI configuration
 * main.c     start-up (recovery, bootstrap), signals, shutdown
 * http.c     libmicrohttpd and TLS: connections, request bodies, authentication, routing, responses
 * api_*.c    the endpoints (docs/api.md)
 * json.c     request fields and response bodies
 * outbox.c   each participant's inbound messages: built from engine events, kept in a journal of their own
 * inbound.c  ISO 20022 messages received, kept until what they are needed for (forwarding, status) is done
 * idem.c     idempotency keys
 * metrics.c  counters and histograms, and their Prometheus text
 *
 * Threads: libmicrohttpd gives every connection a thread of its own, which parses, validates and authorises a
 * request, reads the engine under the sequencer's lock, and submits commands through the sequencer, which
 * batches them with other connections', journals and syncs the batch, and applies it on the engine thread. The
 * engine thread hands each batch's events to the outbox.
 */
#ifndef ORTAK_SERVER_H
#define ORTAK_SERVER_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ortak/engine.h"
#include "ortak/iso20022.h"
#include "ortak/journal.h"

#define SRV_PATH_MAX 512
#define SRV_CLIENTS_MAX 4096
#define SRV_TOKEN_LEN_MIN 16
#define SRV_TOKEN_LEN_MAX 128
#define SRV_JSON_DEPTH_MAX 16
#define SRV_IDEM_KEY_LEN_MAX 64

/* ---- configuration (conf.c) -------------------------------------------------------------------------------- */

struct srv_client {
    uint8_t fingerprint[32]; /* SHA-256 of the certificate's DER */
    char bic[12];
};

struct srv_token {
    char token[SRV_TOKEN_LEN_MAX + 1];
    char bic[12];
};

/* [replication] (replica.c): absent, the file journal alone as before. */
struct srv_replication {
    bool enabled;
    char nats[1024];                  /* comma-separated NATS URLs */
    char stream[64];                  /* JetStream stream (and bucket prefix) */
    char node[64];                    /* this node's name, unique in the cluster */
    char advertise_url[SRV_PATH_MAX]; /* where clients reach this node (told to writers sent to a follower) */
    uint32_t lease_ms, replicas, state_hash_every;
};

struct srv_config {
    char listen_host[64];
    uint16_t listen_port;
    char data_dir[SRV_PATH_MAX];
    char engine_config[SRV_PATH_MAX]; /* "" = the built-in default */
    char operator_bic[12];
    char operator_name[ORTAK_NAME_LEN_LIMIT + 1];
    bool demo, tls;
    uint32_t connections_max, connection_timeout_s, threads;
    char log_level[8];

    char tls_cert[SRV_PATH_MAX], tls_key[SRV_PATH_MAX], tls_client_ca[SRV_PATH_MAX];
    bool client_bic_from_subject;
    uint32_t client_count, token_count;
    struct srv_client clients[SRV_CLIENTS_MAX];
    struct srv_token tokens[SRV_CLIENTS_MAX];

    uint64_t body_max;
    uint32_t idempotency_keys, outbox_max, long_poll_max_s, msg_ids_max;

    uint32_t group_delay_us;
    uint64_t snapshot_every;
    uint32_t snapshots_keep;

    char schema_dir[SRV_PATH_MAX]; /* "" = the default when it exists */
    char iban_registry[SRV_PATH_MAX];
    struct srv_replication repl;
    char web_dir[SRV_PATH_MAX]; /* the dashboard's files; "" = the default when it exists */

    bool screening;             /* [screening] enabled */
    char screening_lists[2048]; /* comma-separated list files; "" = the reference data's, when they exist */
    char translit_dir[SRV_PATH_MAX];
    uint16_t screening_threshold; /* 1/10000 */
};

void srv_config_init(struct srv_config *c);
/* Reads and checks the file. Returns 0, or -1 with a message naming the line or option in `err`. */
int srv_config_load(struct srv_config *c, const char *path, char *err, size_t err_cap);
/* Whether the listen address is a loopback one (127.0.0.0/8, ::1, localhost). */
bool srv_config_loopback(const struct srv_config *c);

/* ---- metrics (metrics.c) ------------------------------------------------------------------------------------ */

enum { SRV_LATENCY_BUCKETS = 16 };

struct srv_route_metrics {
    atomic_uint_fast64_t requests, errors_4xx, errors_5xx;
    atomic_uint_fast64_t latency_ns_total;
    atomic_uint_fast64_t latency_buckets[SRV_LATENCY_BUCKETS]; /* at most 2^k * 50 us; the last: all others */
};

/* Refusals by error code: a small open-addressing table of stable codes (static strings). */
enum { SRV_REFUSAL_CODES_MAX = 256 };
struct srv_refusals {
    pthread_mutex_t mu;
    const char *code[SRV_REFUSAL_CODES_MAX];
    uint64_t count[SRV_REFUSAL_CODES_MAX];
};

/* ---- the server --------------------------------------------------------------------------------------------- */

struct outbox;
struct replica;
struct dash;
struct inbound;
struct idem;
struct MHD_Daemon;
struct route;

struct server {
    struct srv_config cfg;
    struct ortak_config engine_cfg;
    struct ortak_sequencer *seq;
    struct ortak_engine *engine; /* for the engine thread's callbacks only; others read through srv_read_begin */
    char *pem[3];                /* TLS certificate, key and client CA, kept while the daemon runs */
    struct ortak_iso *iso;
    struct ortak_iso_seen *seen; /* guarded by seen_mu */
    pthread_mutex_t seen_mu;
    struct outbox *outbox;
    struct inbound *inbound;
    struct idem *idem;
    struct MHD_Daemon *mhd;
    char journal_dir[SRV_PATH_MAX + 16];
    atomic_bool ready, stopping;
    atomic_int connections;
    atomic_int suspended; /* requests waiting without a thread: shutdown waits for them */
    atomic_uint_fast64_t connections_refused;
    atomic_uint_fast64_t connections_cut; /* too slow to send a request */
    /* changes whenever a participant is admitted or changes status: identities cached by connections expire */
    atomic_uint_fast64_t participants_epoch;
    struct srv_route_metrics *route_metrics; /* one per route */
    struct srv_refusals refusals;
    struct replica *replica;     /* NULL without [replication] */
    struct dash *dash;           /* the dashboard's aggregates (dash.c) */
    struct screening *screening; /* sanctions lists and held payments (screen.c) */
};

/* The engine, read under the sequencer's lock: between batches only. */
const struct ortak_engine *srv_read_begin(struct server *s);
void srv_read_end(struct server *s);

/* Submits commands and waits until they are durable and applied (the sequencer's submit). Returns the sequence
 * number of the journal record that holds them. */
uint64_t srv_submit(struct server *s, struct ortak_cmd *cmds, uint32_t n, struct ortak_result *results);

/* The calling thread's ISO 20022 reader (opened on first use, closed when the thread ends); NULL: no memory. */
struct ortak_iso_reader *srv_reader(struct server *s);

/* The monotonic clock, in ns (deadlines). */
uint64_t srv_mono_ns(void);

/* Engine time now: the clock the sequencer stamps batches with. */
ortak_time_ns srv_now(void);

/* Account ids the server assigns: derived from owner, currency and kind, so that opening is idempotent. */
ortak_u128 srv_account_id(const char *bic, const char *currency, uint8_t kind);
/* An id derived from a participant and a key of its own (an Idempotency-Key), so that a retry names the same
 * object; and a random one. Neither falls in the system's id space. */
ortak_u128 srv_derived_id(const char *domain, const char *bic, const char *key);
ortak_u128 srv_random_id(void);

/* ---- HTTP (http.c) ------------------------------------------------------------------------------------------ */

struct caller {
    char bic[12];
    uint8_t role, status;
};

/* One request as the endpoints see it. */
struct req {
    struct server *srv;
    void *conn; /* struct MHD_Connection */
    const char *method;
    const char *path;
    const char *seg[8]; /* path segments; the wildcard ones are the route's arguments */
    uint32_t nseg;
    const char *body;
    size_t body_len;
    struct caller who;
    const char *idem_key; /* NULL when none */
    /* the response */
    unsigned status;
    char *resp; /* malloc'd */
    size_t resp_len;
    const char *content_type;
    const char *error_code; /* the stable code of a refusal, for metrics */
    bool replayed;          /* answered from an idempotency key's first response */
    /* an endpoint that waits without holding its thread (srv_submit_async, srv_suspend) sets `resume`, which
       answers when the request is resumed; `state` is the endpoint's (one malloc'd block, freed with the request) */
    void (*resume)(struct req *r);
    void *state;
    bool suspended;
    /* the server's own */
    int route;
    uint8_t idem_hash[32];
    char segbuf[1024];
    struct ortak_result *sub_results; /* srv_submit_async's, for the replicated journal's refusals */
    uint32_t sub_n;
    /* extra response headers (static strings, or hdr_buf) */
    const char *hdr[4][2];
    uint32_t nhdr;
    char hdr_buf[40];
};

/* Submits commands without holding the connection's thread: the request is suspended until they are durable and
 * applied (or refused: the results say so), then r->resume runs. Set r->resume first; `cmds` and `results` must
 * live in r->state. */
void srv_submit_async(struct req *r, struct ortak_cmd *cmds, uint32_t n, struct ortak_result *results);
/* Suspends the request until srv_resume (from any thread); then r->resume runs. Set r->resume first. */
void srv_suspend(struct req *r);
void srv_resume(struct req *r);

/* A query parameter, or NULL. */
const char *req_query(struct req *r, const char *name);
/* A request header, or NULL. */
const char *req_header(struct req *r, const char *name);

/* Responses. Each sets r->status and the body. */
void reply_json(struct req *r, unsigned status, json_t *body); /* takes the reference */
void reply_text(struct req *r, unsigned status, const char *content_type, const char *text, size_t len);
void reply_error(struct req *r, unsigned status, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void reply_error_reason(struct req *r, unsigned status, const char *code, const char *reason, const char *field,
                        const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* The participant `bic` has no settlement account in `currency`: 422 account_not_found, AC01. */
void reply_no_account(struct req *r, const char *field, const char *bic, const char *currency);
/* An engine result code as an error code: its name in lower case ("insufficient_funds"); a static string. */
const char *srv_rc_code(ortak_rc rc);
/* An engine refusal: its code name in lower case, message and ISO reason; `status` 422 unless a limit (429). */
void reply_rc(struct req *r, ortak_rc rc, const char *field);

int srv_http_start(struct server *s, char *err, size_t err_cap);
/* Stops accepting connections; in-flight requests finish. */
void srv_http_quiesce(struct server *s);
void srv_http_stop(struct server *s);
uint16_t srv_http_port(struct server *s);

/* ---- routes (api_*.c) --------------------------------------------------------------------------------------- */

enum {
    ALLOW_NONE = 0, /* no credentials needed */
    ALLOW_OPERATOR = 1u << 1,
    ALLOW_CENTRAL_BANK = 1u << 2,
    ALLOW_BANK = 1u << 3,
    ALLOW_FX_PROVIDER = 1u << 4,
    ALLOW_ANY = ALLOW_OPERATOR | ALLOW_CENTRAL_BANK | ALLOW_BANK | ALLOW_FX_PROVIDER,
};

struct route {
    const char *method;
    const char *pattern; /* "/v1/accounts/ * /history" without spaces: '*' matches one segment */
    uint32_t allow;      /* roles that may call it at all; the handler checks ownership */
    void (*handler)(struct req *r);
    const char *body; /* NULL: no body; "json" or "xml" */
};

/* Shared by the endpoint files (api_core.c). The engine arguments are read under srv_read_begin. */
struct ortak_account_info;
bool api_is_agent(const struct ortak_engine *e, const char *bic, const char *currency);
bool api_may_read_account(const struct req *r, const struct ortak_engine *e, const struct ortak_account_info *a);
bool api_account_arg(struct req *r, const struct ortak_engine *e, uint32_t seg, struct ortak_account_info *a);
json_t *api_account_json(const struct ortak_engine *e, const struct ortak_account_info *a);
struct ortak_payment_info;
bool api_may_read_payment(const struct req *r, const struct ortak_engine *e, const struct ortak_payment_info *p);
json_t *api_payment_json(const struct ortak_engine *e, const struct ortak_payment_info *p);
/* A query parameter that is an integer in [min, max]: absent leaves *out; else replies 400 and returns false. */
bool api_query_u64(struct req *r, const char *name, uint64_t min, uint64_t max, uint64_t *out);
/* A currency's settlement accounts: the sum of their balances, and the payments queued on them. */
struct api_totals {
    ortak_i128 liquidity;
    uint64_t queued;
    ortak_i128 queued_value;
};
void api_currency_totals(const struct ortak_engine *e, const char *currency, struct api_totals *t);
ortak_rc api_submit1(struct req *r, struct ortak_cmd *cmd, struct ortak_result *res);

/* Endpoints of api_core.c and api_pay.c, named in the route table of api_ops.c. */
void api_get_healthz(struct req *r);
void api_get_readyz(struct req *r);
void api_get_metrics(struct req *r);
void api_get_me(struct req *r);
void api_get_participants(struct req *r);
void api_post_participants(struct req *r);
void api_patch_participant(struct req *r);
void api_get_accounts(struct req *r);
void api_post_accounts(struct req *r);
void api_get_account(struct req *r);
void api_post_account_close(struct req *r);
void api_get_history(struct req *r);
void api_get_statement(struct req *r);
void api_get_queue(struct req *r);
void api_put_credit_line(struct req *r);
void api_put_net_cap(struct req *r);
void api_put_reservation(struct req *r);
void api_post_inject(struct req *r);
void api_post_withdraw(struct req *r);
void api_post_payment(struct req *r);
void api_post_iso(struct req *r);
void api_get_payment(struct req *r);
void api_get_payments(struct req *r);
void api_post_cancel(struct req *r);
void api_post_priority(struct req *r);

extern const struct route srv_routes[];
extern const uint32_t srv_route_count;

/* ---- JSON helpers (json.c) ---------------------------------------------------------------------------------- */

/* Parses the body as a JSON object whose keys are all in `allowed` (NULL-terminated); replies and returns NULL on
 * any problem (json_invalid, field_unknown). */
json_t *req_json(struct req *r, const char *const *allowed);
/* Fields: each replies (field_missing, field_invalid) and returns false when the field is wrong. */
bool field_str(struct req *r, json_t *o, const char *name, bool required, char *out, size_t cap, const char **got);
bool field_bic(struct req *r, json_t *o, const char *name, bool required, char out[12]);
bool field_currency(struct req *r, json_t *o, const char *name, bool required, char out[4]);
bool field_id(struct req *r, json_t *o, const char *name, bool required, ortak_u128 *out);
bool field_amount(struct req *r, json_t *o, const char *name, uint8_t minor_units, bool allow_zero, uint64_t *out);
bool field_time(struct req *r, json_t *o, const char *name, ortak_time_ns *out);
/* Text forms. */
bool parse_id(const char *s, ortak_u128 *out);
bool parse_time(const char *s, ortak_time_ns *out);
json_t *json_id(ortak_u128 id);
json_t *json_time(ortak_time_ns t);
json_t *json_amount(ortak_i128 v, uint8_t minor_units);
json_t *json_uetr(ortak_u128 uetr);
void format_time(ortak_time_ns t, char out[40]);
/* Minor units of a currency configured in the engine (2 when unknown). */
uint8_t srv_minor_units(const struct ortak_engine *e, const char *currency);

/* ---- idempotency (idem.c) ----------------------------------------------------------------------------------- */

enum idem_state { IDEM_NEW, IDEM_REPLAY, IDEM_CONFLICT };
int idem_open(uint32_t capacity, struct idem **out);
void idem_close(struct idem *d);
/* Looks up (bic, key) for a request whose fingerprint is `req_hash`. NEW: the caller runs the request and then
 * calls idem_store. REPLAY: *status, *body (malloc'd copy) and *ctype hold the first response. */
enum idem_state idem_lookup(struct idem *d, const char *bic, const char *key, const uint8_t req_hash[32],
                            unsigned *status, char **body, size_t *len, const char **ctype);
void idem_store(struct idem *d, const char *bic, const char *key, const uint8_t req_hash[32], unsigned status,
                const char *body, size_t len, const char *ctype);

/* ---- inbound ISO 20022 messages (inbound.c) ---------------------------------------------------------------- */

/* What a pacs.002 and a forward need of the message a payment came in. */
struct inbound_meta {
    ortak_u128 payment_id;
    uint8_t type; /* enum ortak_iso_type */
    char msg_id[36], instr_id[36], end_to_end_id[36], tx_id[36];
    char sender[12]; /* the participant that sent it */
};

/* Opens the store in `dir`, reading back every message kept; `seen` (may be NULL) is told each message's sender
 * and MsgId. */
int inbound_open(const char *dir, void (*seen)(void *ctx, const char *sender, const char *msg_id), void *seen_ctx,
                 struct inbound **out, char *err, size_t err_cap);
void inbound_close(struct inbound *in);
/* Records a message for its payments (durable by the next sync of the engine's journal: inbound_sync). */
int inbound_add(struct inbound *in, const struct inbound_meta *metas, uint32_t n, const void *xml, size_t len);
void inbound_sync(struct inbound *in);
/* Replication: whether inbound_add also queues each record for the replicated journal; the queued records taken
 * (malloc'd: for each, u32 length and the record; NULL when none); and a follower's copies of such records, added
 * as inbound_add does (`seen` is told each message's sender and MsgId). Returns 0, or -1 (malformed, no memory). */
void inbound_replicate(struct inbound *in, bool on);
uint8_t *inbound_take_replicated(struct inbound *in, size_t *len);
int inbound_add_records(struct inbound *in, const void *buf, size_t len,
                        void (*seen)(void *ctx, const char *sender, const char *msg_id), void *seen_ctx);
/* Finds a payment's message: copies the metadata and, when `xml` is not NULL, a malloc'd copy of the message. */
bool inbound_get(struct inbound *in, ortak_u128 payment_id, struct inbound_meta *meta, char **xml, size_t *len);
/* Outbox messages about a payment (whose XML quotes its inbound message): counted up when made, down when
 * acknowledged; at zero after a count down, the payment's message is forgotten. No-op for other payments. */
void inbound_ref(struct inbound *in, ortak_u128 payment_id, int delta);
/* Forgets every message that no outbox message needs and whose payments `ended` says are over (or unknown). */
void inbound_prune(struct inbound *in, bool (*ended)(void *ctx, ortak_u128 payment_id), void *ctx);
uint32_t inbound_count(struct inbound *in);

/* ---- outbox (outbox.c) -------------------------------------------------------------------------------------- */

enum outbox_type { OUTBOX_PACS002 = 1, OUTBOX_CAMT054, OUTBOX_FORWARD };

/* A message as the outbox keeps it: the facts; the XML is written when the message is fetched. */
struct outbox_msg {
    uint64_t seq;       /* per recipient: 1, 2, ... */
    uint64_t batch_seq; /* the journal record whose events made it */
    char recipient[12];
    uint8_t type;     /* enum outbox_type */
    uint8_t status;   /* pacs.002: 1 settled, 2 rejected, 3 cancelled, 4 accepted (net) */
    uint16_t rc;      /* pacs.002 rejected: why */
    ortak_time_ns at; /* engine time of the event */
    ortak_u128 payment_id, uetr;
    ortak_u128 account_id;      /* camt.054: the account; */
    ortak_u128 counter_account; /* and the other side */
    int64_t amount;             /* camt.054: > 0 credit, < 0 debit; otherwise the payment's amount */
    char currency[4];
    char counterparty[12];
};

int outbox_open(struct server *s, const char *dir, struct outbox **out, char *err, size_t err_cap);
void outbox_close(struct outbox *o);
/* The engine thread's events of journal record `seq` (live and replayed); engine read under its lock. */
void outbox_on_events(struct outbox *o, const struct ortak_engine *e, uint64_t seq, const struct ortak_event *ev,
                      uint32_t n);
/* Makes everything appended durable. */
void outbox_sync(struct outbox *o);
/* Messages of `bic` with seq > after, at most max. */
uint32_t outbox_fetch(struct outbox *o, const char *bic, uint64_t after, struct outbox_msg *out, uint32_t max,
                      uint64_t *acked, uint64_t *last);
/* A long poll: its request (suspended) is resumed when `bic` has a message after `after`, at the deadline
 * (monotonic ns, checked every second: outbox_expire) or at shutdown (outbox_wake_all). */
struct outbox_waiter {
    struct req *r;
    char bic[12];
    uint64_t after, deadline_ns;
    struct outbox_waiter *next;
};
/* Registers `w`; false (nothing registered) when a message is there already or the server is stopping. */
bool outbox_wait(struct outbox *o, struct outbox_waiter *w);
void outbox_expire(struct outbox *o, uint64_t now_ns);
/* Acknowledges up to seq (durable). Returns 0, or -1 when seq is beyond the last message. */
int outbox_ack(struct outbox *o, const char *bic, uint64_t seq);
/* Messages not yet acknowledged: of one participant, and of all. */
uint64_t outbox_pending(struct outbox *o, const char *bic);
uint64_t outbox_pending_total(struct outbox *o);
/* Resumes every long poll (shutdown). */
void outbox_wake_all(struct outbox *o);
/* The XML of a message (malloc'd), written now. NULL when it cannot be written (logged). */
char *outbox_render(struct server *s, const struct outbox_msg *m, size_t *len);

/* ---- metrics (metrics.c) ------------------------------------------------------------------------------------ */

void metrics_request(struct server *s, int route, unsigned status, uint64_t ns);
void metrics_refusal(struct server *s, const char *code);
char *metrics_render(struct server *s, size_t *len);

/* ---- the dashboard (dash.c) --------------------------------------------------------------------------------- */

/* Opens the aggregates, reading back those saved in the data directory. Returns 0, or -1 (no memory). */
int dash_open(struct server *s, struct dash **out);
void dash_close(struct dash *d);
/* The engine thread's events of journal record `seq` (live and replayed; records already saved are skipped). */
void dash_on_events(struct dash *d, const struct ortak_engine *e, uint64_t seq, const struct ortak_event *ev,
                    uint32_t n);
/* Writes the aggregates beside the journal's snapshot (engine thread, or after the sequencer stopped). */
void dash_save(struct dash *d);
/* The directory of the dashboard's files: `configured`, else found beside the executable `exe` or in the source
 * tree; "" when there is none. */
void dash_find_web_dir(const char *configured, const char *exe, char *out, size_t cap);
void dash_set_web_dir(struct dash *d, const char *dir);
/* Endpoints, named in the route table of api_ops.c. */
void dash_get_root(struct req *r);
void dash_get_static(struct req *r);
void dash_get_overview(struct req *r);
void dash_get_liquidity(struct req *r);
void dash_get_queues(struct req *r);
void dash_get_flows(struct req *r);
void dash_get_payments(struct req *r);
void dash_get_payment(struct req *r);
void dash_get_health(struct req *r);

/* ---- sanctions screening (screen.c) ------------------------------------------------------------------------ */

/* Loads the configured lists (or says at start-up that there are none). Returns 0, or -1 (a list cannot be read). */
int screen_open(struct server *s);
void screen_close(struct screening *sc);
/* The payment's agents as participants; call under srv_read_begin. */
struct screen_parties {
    struct ortak_participant_info debtor_agent, creditor_agent;
};
void screen_parties_get(const struct ortak_engine *e, const struct ortak_payment *p, struct screen_parties *out);
/* Screens a cross-border payment's names (debtor and creditor may be NULL) and its agents' names; sets p->hold and
 * p->screening. False when it could not screen (the payment must then be refused). */
bool screen_payment(struct server *s, const struct screen_parties *pt, const char *debtor, const char *creditor,
                    struct ortak_payment *p);
/* The held payments: found once after recovery, then followed from the engine's events. */
void screen_held_scan(struct screening *sc, const struct ortak_engine *e);
void screen_on_events(struct screening *sc, const struct ortak_event *ev, uint32_t n);
/* The screening metrics in the Prometheus text format; false when they do not fit. */
bool screen_metrics(struct screening *sc, char *buf, size_t cap);
/* A payment's screening decision for its JSON. */
json_t *screen_decision_json(const struct ortak_payment *p);
/* Endpoints, named in the route table of api_ops.c. */
void screen_get_status(struct req *r);
void screen_post_reload(struct req *r);
void screen_get_holds(struct req *r);
void screen_post_release(struct req *r);
void screen_post_reject(struct req *r);

/* ---- replication (replica.c) ------------------------------------------------------------------------------- */

/* [replication] keys: 1, or 0 with a message. Defaults first; the check after the whole file: 0, or -1. */
void replica_conf_defaults(struct srv_replication *c);
int replica_conf_key(struct srv_replication *c, const char *k, const char *v, char *msg, size_t cap);
int replica_conf_check(const struct srv_replication *c, char *msg, size_t cap);
/* Connects to the stream and checks that the local journal `local` is a prefix of it; sets s->replica. Returns 0,
 * -1 (NATS unreachable, `err` says why) or -2 (the local journal is not a prefix of the stream). */
int replica_open(struct server *s, struct ortak_journal *local, char *err, size_t err_cap);
const struct ortak_journal_backend *replica_backend(struct replica *rp);
/* Starts following (the sequencer runs); `on_lead` runs on the replica thread each time this node starts leading. */
void replica_start(struct replica *rp, void (*on_lead)(struct server *s));
/* Stops the replica thread (waits for the records handed over); then, after the sequencer stopped, close: gives
 * the lease up when leading. */
void replica_stop(struct replica *rp);
void replica_close(struct replica *rp);
/* The engine thread, after each batch (live or copied). */
void replica_on_batch(struct replica *rp, const struct ortak_engine *e, uint64_t seq);
/* Whether writes are accepted here (always without replication). */
bool replica_may_write(struct replica *rp);
/* 503 not_leader, naming the leader's advertised URL when known. */
void replica_reply_not_leader(struct req *r);
/* Whether any result says the replicated journal refused the batch; the calling thread's note of it (srv_submit),
 * taken (and cleared) by http.c after the endpoint answered. */
bool replica_refused(const struct ortak_result *res, uint32_t n);
void replica_note_not_leader(void);
bool replica_take_not_leader(void);
/* GET /v1/replication; and the metrics' text (bytes written). */
void replica_get(struct req *r);
size_t replica_metrics(struct replica *rp, char *buf, size_t cap);

#endif
