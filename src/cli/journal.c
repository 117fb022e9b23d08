/*
 * ortak journal verify|dump|replay: the auditor's tools. They only read the journal directory; nothing in it is
 * changed (a torn tail is reported, not cut off).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "ortak/journal.h"

static const char journal_usage[] =
    "usage: ortak journal verify DIR [--config FILE] [--json]\n"
    "       ortak journal dump DIR [--json] [--from SEQ]\n"
    "       ortak journal replay DIR [--config FILE] [--json]\n"
    "\n"
    "verify  checks every segment header, every record's checksum, sequence number and place in the hash chain,\n"
    "        that every batch decodes, and every snapshot's checksums, state hash and contents.\n"
    "        Exit 0 when intact; otherwise the first problem is named (file, byte offset, record) and the exit\n"
    "        code tells its kind: 3 empty, 4 foreign, 5 newer version, 6 truncated, 7 checksum, 8 hash chain,\n"
    "        9 sequence, 10 snapshot, 11 payload, 74 I/O.\n"
    "dump    prints every record and its commands (one JSON object per line with --json).\n"
    "replay  applies every record to an empty engine (as configured: --config FILE, else the default\n"
    "        configuration) and prints the state hash and the replay rate.\n";

struct opts {
    const char *dir;
    const char *config;
    bool json;
    uint64_t from;
};

static void hex32(const uint8_t *h, char out[65]) {
    static const char d[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = d[h[i] >> 4];
        out[2 * i + 1] = d[h[i] & 15];
    }
    out[64] = '\0';
}

static void time_text(ortak_time_ns ns, char out[40]) {
    time_t s = (time_t)(ns / ORTAK_NS_PER_S);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%09lluZ", (unsigned long long)(ns % ORTAK_NS_PER_S));
}

static int report_problem(const char *dir, const struct ortak_journal_problem *p, bool json) {
    if (json) {
        printf("{\"intact\":false,\"problem\":%d,\"file\":\"%s\",\"offset\":%llu,\"seq\":%llu,\"message\":\"%s\"}\n",
               (int)p->kind, p->file, (unsigned long long)p->offset, (unsigned long long)p->seq, p->message);
    } else {
        fprintf(stderr, "ortak: journal %s: %s\n", dir, p->message);
        if (p->file[0])
            fprintf(stderr, "  at %s, byte offset %llu, record %llu\n", p->file, (unsigned long long)p->offset,
                    (unsigned long long)p->seq);
    }
    return ortak_journal_problem_exit_code(p->kind);
}

/* ---- verify ------------------------------------------------------------------------------------------------ */

struct decode_ctx {
    struct ortak_cmd *cmds;
    uint32_t cap;
    uint64_t commands;
};

static int decode_record(void *ctx, const struct ortak_journal_record *rec, char *why, size_t why_cap) {
    struct decode_ctx *d = ctx;
    uint32_t n;
    if (ortak_batch_decode(rec->payload, rec->len, d->cmds, d->cap, &n) != ORTAK_OK) {
        snprintf(why, why_cap, "record %llu holds no well-formed batch", (unsigned long long)rec->seq);
        return 1;
    }
    d->commands += n;
    return 0;
}

static int journal_verify(const struct opts *o) {
    struct ortak_config cfg;
    if (!ortak__cli_config(o->config, &cfg)) return CLI_EXIT_USAGE;
    struct decode_ctx d = {.cap = ORTAK_BATCH_LIMIT};
    d.cmds = calloc(d.cap, sizeof *d.cmds);
    if (!d.cmds) return CLI_EXIT_INTERNAL;
    struct ortak_journal_head head;
    struct ortak_journal_problem p;
    uint64_t torn;
    ortak_rc rc = ortak_journal_scan(o->dir, NULL, 0, decode_record, &d, &head, &torn, &p);
    free(d.cmds);
    if (rc != ORTAK_OK) return report_problem(o->dir, &p, o->json);
    uint32_t snapshots;
    if (ortak_snapshot_verify_all(o->dir, NULL, &cfg, &snapshots, &p) != ORTAK_OK)
        return report_problem(o->dir, &p, o->json);
    char hash[65], when[40];
    hex32(head.hash, hash);
    time_text(head.timestamp, when);
    if (o->json) {
        printf("{\"intact\":true,\"records\":%llu,\"commands\":%llu,\"snapshots\":%u,\"torn_bytes\":%llu,"
               "\"last_timestamp\":\"%s\",\"head_hash\":\"%s\"}\n",
               (unsigned long long)head.seq, (unsigned long long)d.commands, snapshots, (unsigned long long)torn, when,
               hash);
    } else {
        printf("journal %s: intact\n  records %llu (commands %llu), snapshots %u\n  last record %s\n  head %s\n",
               o->dir, (unsigned long long)head.seq, (unsigned long long)d.commands, snapshots, when, hash);
        if (torn)
            printf("  note: %llu bytes of a torn, unacknowledged record at the tail; they are cut off when ortak "
                   "next opens the journal\n",
                   (unsigned long long)torn);
    }
    return CLI_EXIT_OK;
}

/* ---- dump -------------------------------------------------------------------------------------------------- */

static const char *kind_name(uint32_t kind) {
    static const char *const names[] = {
        "unknown",        "tick",           "participant_create", "participant_status",
        "account_create", "account_close",  "transfer",           "credit_line_set",
        "reserve_set",    "payment_submit", "payment_cancel",     "payment_priority",
        "payment_move",   "cutoff",         "gridlock",           "net_cap_set",
        "net_close",      "fx_rate_set",    "fx_quote",           "payment_release",
        "payment_reject",
    };
    return kind < sizeof names / sizeof names[0] ? names[kind] : "unknown";
}

static void dump_command(const struct ortak_cmd *c, bool json) {
    char a[33], b[33], x[33];
    const char *sep = json ? "\"" : "";
    printf(json ? "{\"kind\":\"%s\"" : "    %s", kind_name(c->kind));
    switch (c->kind) {
    case ORTAK_CMD_TRANSFER: {
        const struct ortak_transfer *t = &c->u.transfer;
        printf(json ? ",\"id\":\"%s\",\"debit\":\"%s\",\"credit\":\"%s\",\"amount\":%llu,\"flags\":%u"
                    : " id %s debit %s credit %s amount %llu flags %u",
               ortak_u128_hex(t->id, x), ortak_u128_hex(t->debit_account_id, a),
               ortak_u128_hex(t->credit_account_id, b), (unsigned long long)t->amount, t->flags);
        if (t->pending_id) printf(json ? ",\"pending_id\":\"%s\"" : " pending %s", ortak_u128_hex(t->pending_id, x));
        break;
    }
    case ORTAK_CMD_PARTICIPANT_CREATE:
        printf(json ? ",\"bic\":\"%s\",\"role\":\"%s\"" : " %s role %s", c->u.participant_create.bic,
               ortak_role_name(c->u.participant_create.role));
        break;
    case ORTAK_CMD_PARTICIPANT_SET_STATUS:
        printf(json ? ",\"bic\":\"%s\",\"status\":\"%s\"" : " %s status %s", c->u.participant_status.bic,
               ortak_participant_status_name(c->u.participant_status.status));
        break;
    case ORTAK_CMD_ACCOUNT_CREATE:
        printf(json ? ",\"id\":\"%s\",\"bic\":\"%s\",\"currency\":\"%s\",\"account_kind\":\"%s\""
                    : " id %s owner %s %s %s",
               ortak_u128_hex(c->u.account_create.id, x), c->u.account_create.bic, c->u.account_create.currency,
               ortak_account_kind_name(c->u.account_create.kind));
        break;
    case ORTAK_CMD_PAYMENT_SUBMIT:
        printf(json ? ",\"id\":\"%s\",\"debit\":\"%s\",\"credit\":\"%s\",\"amount\":%llu,\"priority\":\"%s\","
                      "\"method\":\"%s\""
                    : " id %s debit %s credit %s amount %llu priority %s method %s",
               ortak_u128_hex(c->u.payment.id, x), ortak_u128_hex(c->u.payment.debit_account_id, a),
               ortak_u128_hex(c->u.payment.credit_account_id, b), (unsigned long long)c->u.payment.amount,
               ortak_priority_name(c->u.payment.priority), c->u.payment.method == ORTAK_METHOD_NET ? "net" : "gross");
        if (c->u.payment.quote_id)
            printf(json ? ",\"quote\":\"%s\"" : " quote %s", ortak_u128_hex(c->u.payment.quote_id, x));
        if (c->u.payment.screening.lists_version) {
            const struct ortak_screening *sc = &c->u.payment.screening;
            printf(json ? ",\"hold\":%u,\"lists_version\":\"%016llx\",\"score\":%u,\"list\":\"%s\",\"entry_id\":\"%s\""
                        : " hold %u lists %016llx score %u list %s entry %s",
                   c->u.payment.hold, (unsigned long long)sc->lists_version, sc->score, sc->list, sc->entry_id);
        }
        break;
    case ORTAK_CMD_PAYMENT_CANCEL:
    case ORTAK_CMD_PAYMENT_PRIORITY:
    case ORTAK_CMD_PAYMENT_MOVE:
    case ORTAK_CMD_PAYMENT_RELEASE:
    case ORTAK_CMD_PAYMENT_REJECT:
        printf(json ? ",\"id\":\"%s\",\"priority\":%u,\"to_head\":%u" : " id %s priority %u to_head %u",
               ortak_u128_hex(c->u.control.id, x), c->u.control.priority, c->u.control.to_head);
        break;
    case ORTAK_CMD_CUTOFF:
        printf(json ? ",\"priorities\":%u,\"open\":%u" : " priorities %u open %u", c->u.cutoff.priorities,
               c->u.cutoff.open);
        break;
    case ORTAK_CMD_GRIDLOCK:
        printf(json ? ",\"mode\":%u,\"currency\":\"%s\"" : " mode %u currency %s", c->u.gridlock.mode,
               c->u.gridlock.currency[0] ? c->u.gridlock.currency : (json ? "" : "all"));
        break;
    case ORTAK_CMD_NET_CLOSE: printf(json ? ",\"currency\":\"%s\"" : " currency %s", c->u.net_close.currency); break;
    case ORTAK_CMD_FX_RATE_SET: {
        const struct ortak_fx_rate *r = &c->u.fx_rate;
        printf(json ? ",\"provider\":\"%s\",\"base\":\"%s\",\"quote\":\"%s\",\"bid\":%llu,\"ask\":%llu,\"max\":%llu,"
                      "\"withdraw\":%u"
                    : " provider %s pair %s/%s bid %llu ask %llu max %llu withdraw %u",
               r->provider, r->base, r->quote, (unsigned long long)r->bid, (unsigned long long)r->ask,
               (unsigned long long)r->max_amount, r->withdraw);
        break;
    }
    case ORTAK_CMD_FX_QUOTE: {
        const struct ortak_fx_quote_request *q = &c->u.fx_quote;
        printf(json ? ",\"id\":\"%s\",\"debit\":\"%s\",\"credit\":\"%s\",\"amount\":%llu,\"fixed\":\"%s\""
                    : " id %s debit %s credit %s amount %llu fixed %s",
               ortak_u128_hex(q->id, x), ortak_u128_hex(q->debit_account_id, a),
               ortak_u128_hex(q->credit_account_id, b), (unsigned long long)q->amount, q->fixed ? "target" : "source");
        break;
    }
    case ORTAK_CMD_ACCOUNT_CLOSE:
    case ORTAK_CMD_CREDIT_LINE_SET:
    case ORTAK_CMD_RESERVE_SET:
    case ORTAK_CMD_NET_CAP_SET:
        printf(json ? ",\"account\":%s%s%s,\"amount\":%lld" : " account %s%s%s amount %lld", sep,
               ortak_u128_hex(c->u.account.account_id, x), sep, (long long)c->u.account.amount);
        break;
    default: break;
    }
    fputs(json ? "}" : "\n", stdout);
}

struct dump_ctx {
    struct decode_ctx d;
    bool json;
};

static int dump_record(void *ctx, const struct ortak_journal_record *rec, char *why, size_t why_cap) {
    struct dump_ctx *dc = ctx;
    uint32_t n;
    if (ortak_batch_decode(rec->payload, rec->len, dc->d.cmds, dc->d.cap, &n) != ORTAK_OK) {
        snprintf(why, why_cap, "record %llu holds no well-formed batch", (unsigned long long)rec->seq);
        return 1;
    }
    char when[40];
    time_text(rec->timestamp, when);
    if (dc->json)
        printf("{\"seq\":%llu,\"timestamp\":\"%s\",\"commands\":[", (unsigned long long)rec->seq, when);
    else
        printf("record %llu at %s: %u commands\n", (unsigned long long)rec->seq, when, n);
    for (uint32_t i = 0; i < n; i++) {
        if (dc->json && i) putchar(',');
        dump_command(&dc->d.cmds[i], dc->json);
    }
    if (dc->json) puts("]}");
    return 0;
}

static int journal_dump(const struct opts *o) {
    struct dump_ctx dc = {.d = {.cap = ORTAK_BATCH_LIMIT}, .json = o->json};
    dc.d.cmds = calloc(dc.d.cap, sizeof *dc.d.cmds);
    if (!dc.d.cmds) return CLI_EXIT_INTERNAL;
    struct ortak_journal_problem p;
    ortak_rc rc = ortak_journal_scan(o->dir, NULL, o->from ? o->from - 1 : 0, dump_record, &dc, NULL, NULL, &p);
    free(dc.d.cmds);
    return rc == ORTAK_OK ? CLI_EXIT_OK : report_problem(o->dir, &p, false);
}

/* ---- replay ------------------------------------------------------------------------------------------------ */

struct replay_ctx {
    struct decode_ctx d;
    struct ortak_engine *e;
    struct ortak_result *results;
    uint64_t batches;
};

static int replay_record(void *ctx, const struct ortak_journal_record *rec, char *why, size_t why_cap) {
    struct replay_ctx *r = ctx;
    uint32_t n;
    if (ortak_batch_decode(rec->payload, rec->len, r->d.cmds, r->d.cap, &n) != ORTAK_OK ||
        ortak_engine_apply(r->e, r->d.cmds, n, r->results) != ORTAK_OK) {
        snprintf(why, why_cap, "record %llu cannot be applied (batch malformed or above batch_max)",
                 (unsigned long long)rec->seq);
        return 1;
    }
    r->d.commands += n;
    r->batches++;
    if (r->batches % 1000 == 0 && ortak__cli_tty()) {
        fprintf(stderr, "\rreplayed %llu records", (unsigned long long)r->batches);
    }
    return 0;
}

static int journal_replay(const struct opts *o) {
    struct ortak_config cfg;
    if (!ortak__cli_config(o->config, &cfg)) return CLI_EXIT_USAGE;
    struct replay_ctx r = {.d = {.cap = cfg.limits.batch_max}};
    if (ortak_engine_open(&cfg, &r.e) != ORTAK_OK) {
        fprintf(stderr, "ortak: not enough memory for the configured limits\n");
        return CLI_EXIT_INTERNAL;
    }
    r.d.cmds = calloc(r.d.cap, sizeof *r.d.cmds);
    r.results = calloc(r.d.cap, sizeof *r.results);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct ortak_journal_problem p;
    struct ortak_journal_head head;
    ortak_rc rc =
        r.d.cmds && r.results ? ortak_journal_scan(o->dir, NULL, 0, replay_record, &r, &head, NULL, &p) : ORTAK_NOMEM;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int exit_code = CLI_EXIT_OK;
    if (rc == ORTAK_OK) {
        uint8_t h[32];
        char hash[65];
        ortak_engine_state_hash(r.e, h);
        hex32(h, hash);
        double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9; /* report only */
        double rate = s > 0 ? (double)r.d.commands / s : 0;
        if (ortak__cli_tty()) fputc('\n', stderr);
        if (o->json)
            printf("{\"records\":%llu,\"commands\":%llu,\"seconds\":%.3f,\"commands_per_second\":%.0f,"
                   "\"state_hash\":\"%s\"}\n",
                   (unsigned long long)r.batches, (unsigned long long)r.d.commands, s, rate, hash);
        else
            printf("replayed %llu records (%llu commands) in %.3f s: %.0f commands/s\nstate hash %s\n",
                   (unsigned long long)r.batches, (unsigned long long)r.d.commands, s, rate, hash);
    } else {
        exit_code = rc == ORTAK_NOMEM ? CLI_EXIT_INTERNAL : report_problem(o->dir, &p, o->json);
    }
    free(r.d.cmds);
    free(r.results);
    ortak_engine_close(r.e);
    return exit_code;
}

/* ---- arguments --------------------------------------------------------------------------------------------- */

static bool parse_u64(const char *s, uint64_t *out) {
    uint64_t v = 0;
    if (!*s) return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

static bool parse_opts(int argc, char **argv, struct opts *o) {
    memset(o, 0, sizeof *o);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0)
            o->json = true;
        else if (strcmp(a, "--config") == 0 && i + 1 < argc)
            o->config = argv[++i];
        else if (strcmp(a, "--from") == 0 && i + 1 < argc) {
            if (!parse_u64(argv[++i], &o->from)) return false;
        } else if (a[0] != '-' && !o->dir)
            o->dir = a;
        else
            return false;
    }
    return o->dir != NULL;
}

int ortak__cli_journal(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fputs(journal_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    struct opts o;
    if (!parse_opts(argc, argv, &o)) {
        fprintf(stderr, "ortak journal: bad arguments\n\n%s", journal_usage);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "verify") == 0) return journal_verify(&o);
    if (strcmp(argv[1], "dump") == 0) return journal_dump(&o);
    if (strcmp(argv[1], "replay") == 0) return journal_replay(&o);
    fprintf(stderr, "ortak journal: unknown subcommand '%s'\n\n%s", argv[1], journal_usage);
    return CLI_EXIT_USAGE;
}
