/*
 * Crash test of the journal: nothing acknowledged is ever lost, nothing is half-applied.
 *
 *   crash_journal run DIR KILLS [SEED]   the driver: KILLS times, start a writer, SIGKILL it at a random moment,
 *                                        then recover DIR and check everything below
 *   crash_journal writer DIR RUN SEED    a writer: recover, then submit transfers from three threads forever
 *
 * The writer logs, per submission, an intent line before submitting and an acknowledgement line (with every
 * result code) after ortak_sequencer_submit returns. After each kill the driver recovers the directory and checks:
 * every acknowledged transfer is present with its acknowledged outcome; every submission is all-or-nothing (its
 * linked pair is booked together or not at all, acknowledged or not); each currency sums to zero and no floor is
 * breached; and the recovered state hash equals that of a clean replay of the whole journal from record 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../src/base/rng.h"
#include "ortak/journal.h"

#define BANKS 8
#define THREADS 3
#define AMOUNT_FUNDING UINT64_C(1000000)

static const char *const bank_bic[BANKS] = {"HSBKKZKX", "KCJBKZKX", "CASPKZKA", "ATYNKZKA",
                                            "TSESKZKA", "ALFAKZKA", "HCSKKZKA", "BRKEKZKA"};

static void die(const char *what) {
    fprintf(stderr, "crash_journal: %s\n", what);
    exit(1);
}

static void config(struct ortak_config *cfg) {
    ortak_config_default(cfg);
    cfg->limits.participants_max = 64;
    cfg->limits.accounts_max = 64;
    cfg->limits.transfers_max = 1u << 18;
    cfg->limits.history_max = 1u << 14;
    cfg->limits.pending_max = 1024;
    cfg->limits.batch_max = 1024;
}

static const struct ortak_journal_options jopt = {
    .segment_bytes = 1u << 20, .group_bytes_max = 1u << 18, .create = true};

static ortak_u128 bank_account(int b) { return 100 + (ortak_u128)b; }

/* ---- the writer -------------------------------------------------------------------------------------------- */

struct writer {
    struct ortak_sequencer *s;
    int log_fd;
    uint64_t run;
    uint64_t seed;
};

static void submit_or_die(struct ortak_sequencer *s, struct ortak_cmd *c, uint32_t n) {
    struct ortak_result r[32];
    if (ortak_sequencer_submit(s, c, n, r, NULL) != ORTAK_OK) die("submit refused");
}

/* Admits the central bank and the banks and funds them; idempotent, so every run may do it. */
static void setup(struct ortak_sequencer *s) {
    struct ortak_cmd c[2 + 3 * BANKS];
    uint32_t n = 0;
    memset(c, 0, sizeof c);
    c[n].kind = ORTAK_CMD_PARTICIPANT_CREATE;
    strcpy(c[n].u.participant_create.bic, "NBRKKZKX");
    strcpy(c[n].u.participant_create.name, "National Bank of Kazakhstan");
    c[n++].u.participant_create.role = ORTAK_ROLE_CENTRAL_BANK;
    c[n].kind = ORTAK_CMD_ACCOUNT_CREATE;
    c[n].u.account_create =
        (struct ortak_account_create){.id = 1, .bic = "NBRKKZKX", .currency = "KZT", .kind = ORTAK_ACCOUNT_ISSUANCE};
    n++;
    for (int b = 0; b < BANKS; b++) {
        c[n].kind = ORTAK_CMD_PARTICIPANT_CREATE;
        strcpy(c[n].u.participant_create.bic, bank_bic[b]);
        strcpy(c[n].u.participant_create.name, bank_bic[b]);
        c[n++].u.participant_create.role = ORTAK_ROLE_BANK;
        c[n].kind = ORTAK_CMD_ACCOUNT_CREATE;
        c[n].u.account_create =
            (struct ortak_account_create){.id = bank_account(b), .currency = "KZT", .kind = ORTAK_ACCOUNT_SETTLEMENT};
        strcpy(c[n++].u.account_create.bic, bank_bic[b]);
        c[n].kind = ORTAK_CMD_TRANSFER;
        c[n++].u.transfer = (struct ortak_transfer){.id = 1000 + (ortak_u128)b,
                                                    .debit_account_id = 1,
                                                    .credit_account_id = bank_account(b),
                                                    .amount = AMOUNT_FUNDING};
    }
    submit_or_die(s, c, n);
}

/* One submission: a plain transfer, or a linked pair; ids unique across runs and threads. */
static uint32_t make_submission(uint64_t *rng, uint64_t run, uint64_t thread, uint64_t *counter, struct ortak_cmd *c) {
    uint32_t n = (ortak_rng_next(rng) % 3 == 0) ? 2 : 1;
    for (uint32_t i = 0; i < n; i++) {
        int from = (int)(ortak_rng_next(rng) % BANKS),
            to = (from + 1 + (int)(ortak_rng_next(rng) % (BANKS - 1))) % BANKS;
        memset(&c[i], 0, sizeof c[i]);
        c[i].kind = ORTAK_CMD_TRANSFER;
        c[i].u.transfer.id = ORTAK_U128(run + 1, (thread << 48) | ++*counter);
        c[i].u.transfer.debit_account_id = bank_account(from);
        c[i].u.transfer.credit_account_id = bank_account(to);
        c[i].u.transfer.amount = 1 + ortak_rng_next(rng) % (AMOUNT_FUNDING / 4); /* some fail for funds */
        c[i].u.transfer.flags = (i + 1 < n) ? ORTAK_TRANSFER_LINKED : 0;
    }
    return n;
}

static void log_line(int fd, char tag, const struct ortak_cmd *c, const struct ortak_result *r, uint32_t n) {
    char line[512];
    int len = snprintf(line, sizeof line, "%c %u", tag, n);
    for (uint32_t i = 0; i < n; i++) {
        char hex[33];
        len += snprintf(line + len, sizeof line - (size_t)len, " %s:%u", ortak_u128_hex(c[i].u.transfer.id, hex),
                        r ? r[i].rc : 0u);
    }
    line[len++] = '\n';
    if (write(fd, line, (size_t)len) != len) die("log write");
}

struct thread_arg {
    struct writer *w;
    uint64_t thread;
};

static void *writer_thread(void *p) {
    struct thread_arg *a = p;
    uint64_t rng = a->w->seed ^ (a->thread * 7919) ^ (a->w->run << 20), counter = 0;
    for (;;) {
        struct ortak_cmd c[2];
        struct ortak_result r[2];
        uint32_t n = make_submission(&rng, a->w->run, a->thread, &counter, c);
        log_line(a->w->log_fd, 'I', c, NULL, n);
        if (ortak_sequencer_submit(a->w->s, c, n, r, NULL) != ORTAK_OK) die("submit refused");
        log_line(a->w->log_fd, 'A', c, r, n);
    }
    return NULL;
}

static int writer_main(const char *dir, uint64_t run, uint64_t seed) {
    struct ortak_config cfg;
    config(&cfg);
    struct ortak_engine *e;
    struct ortak_journal *j;
    struct ortak_recovery rep;
    struct ortak_journal_problem p;
    if (ortak_recover(dir, &cfg, &jopt, &e, &j, &rep, &p) != ORTAK_OK) {
        fprintf(stderr, "crash_journal writer: recovery failed: %s\n", p.message);
        return 1;
    }
    struct ortak_sequencer_options sopt = {.snapshot_every = 64, .snapshots_keep = 2};
    struct writer w = {.run = run, .seed = seed};
    if (ortak_sequencer_start(e, j, dir, &sopt, &w.s) != ORTAK_OK) die("sequencer start");
    char log_path[4200];
    snprintf(log_path, sizeof log_path, "%s.log", dir);
    w.log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0640);
    if (w.log_fd < 0) die("log open");
    setup(w.s);
    pthread_t t[THREADS];
    struct thread_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct thread_arg){&w, (uint64_t)i};
        pthread_create(&t[i], NULL, writer_thread, &args[i]);
    }
    for (;;) pause(); /* until SIGKILL */
}

/* ---- the checks -------------------------------------------------------------------------------------------- */

struct replay {
    struct ortak_engine *e;
    struct ortak_cmd *cmds;
    struct ortak_result *res;
    uint32_t cap;
};

static int replay_record(void *ctx, const struct ortak_journal_record *rec, char *why, size_t why_cap) {
    struct replay *r = ctx;
    uint32_t n;
    if (ortak_batch_decode(rec->payload, rec->len, r->cmds, r->cap, &n) != ORTAK_OK ||
        ortak_engine_apply(r->e, r->cmds, n, r->res) != ORTAK_OK) {
        snprintf(why, why_cap, "cannot apply record");
        return 1;
    }
    return 0;
}

/* The state hash of a clean replay of the whole journal, ignoring snapshots. */
static void clean_replay_hash(const char *dir, uint8_t out[32]) {
    struct ortak_config cfg;
    config(&cfg);
    struct replay r = {.cap = cfg.limits.batch_max};
    r.cmds = calloc(r.cap, sizeof *r.cmds);
    r.res = calloc(r.cap, sizeof *r.res);
    if (ortak_engine_open(&cfg, &r.e) != ORTAK_OK) die("engine open");
    struct ortak_journal_problem p;
    if (ortak_journal_scan(dir, NULL, 0, replay_record, &r, NULL, NULL, &p) != ORTAK_OK) {
        fprintf(stderr, "crash_journal: clean replay failed: %s\n", p.message);
        exit(1);
    }
    ortak_engine_state_hash(r.e, out);
    ortak_engine_close(r.e);
    free(r.cmds);
    free(r.res);
}

static void check_invariants(const struct ortak_ledger *l) {
    ortak_i128 sum = 0;
    for (uint32_t i = 0; i < ortak_ledger_account_count(l); i++) {
        struct ortak_account_info a;
        ortak_ledger_account_at(l, i, &a);
        sum += a.balance;
        if (a.kind != ORTAK_ACCOUNT_ISSUANCE && a.balance - a.debits_pending + a.credit_line < 0) die("floor breached");
    }
    if (sum != 0) die("currency does not sum to zero");
}

static ortak_u128 parse_hex(const char *s) {
    ortak_u128 v = 0;
    for (int i = 0; i < 32; i++) {
        char ch = s[i];
        v = (v << 4) | (ortak_u128)(ch <= '9' ? ch - '0' : ch - 'a' + 10);
    }
    return v;
}

/* Checks every log line against the recovered ledger. Returns the number of acknowledged transfers checked. */
static uint64_t check_log(const char *log_path, const struct ortak_ledger *l) {
    FILE *f = fopen(log_path, "r");
    if (!f) return 0;
    char line[512];
    uint64_t acked = 0;
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        if (len == 0 || line[len - 1] != '\n') break; /* the writer died mid-line */
        unsigned n = (unsigned)(line[2] - '0');
        int ok_count = 0, present = 0;
        const char *item = line + 3;
        for (unsigned i = 0; i < n; i++) {
            /* " <32 hex digits>:<rc>" */
            if (strlen(item) < 35 || item[0] != ' ' || item[33] != ':') die("malformed log line");
            ortak_u128 id = parse_hex(item + 1);
            char *end;
            unsigned rc = (unsigned)strtoul(item + 34, &end, 10);
            item = end;
            struct ortak_transfer_info ti;
            bool found = ortak_ledger_transfer_get(l, id, &ti) == ORTAK_OK;
            present += found;
            ok_count += found && ti.rc == ORTAK_OK;
            if (line[0] == 'A') {
                if (!found) die("an acknowledged transfer is missing after recovery");
                if ((unsigned)ti.rc != rc) die("an acknowledged transfer changed its outcome after recovery");
                acked++;
            }
        }
        if (ok_count != 0 && ok_count != (int)n) die("a linked submission is half-applied");
        if (present != 0 && present != (int)n) die("a submission is partly recorded");
    }
    fclose(f);
    return acked;
}

static void check(const char *dir, const char *log_path, uint64_t *acked) {
    struct ortak_config cfg;
    config(&cfg);
    struct ortak_engine *e;
    struct ortak_journal *j;
    struct ortak_recovery rep;
    struct ortak_journal_problem p;
    if (ortak_recover(dir, &cfg, &jopt, &e, &j, &rep, &p) != ORTAK_OK) {
        fprintf(stderr, "crash_journal: recovery failed: %s (%s offset %llu)\n", p.message, p.file,
                (unsigned long long)p.offset);
        exit(1);
    }
    check_invariants(ortak_engine_ledger(e));
    *acked = check_log(log_path, ortak_engine_ledger(e));
    uint8_t live[32], clean[32];
    ortak_engine_state_hash(e, live);
    clean_replay_hash(dir, clean);
    if (memcmp(live, clean, 32) != 0) die("recovered state differs from a clean replay of the journal");
    ortak_journal_close(j);
    ortak_engine_close(e);
}

static int run_main(const char *self, const char *dir, uint64_t kills, uint64_t seed) {
    char log_path[4200];
    snprintf(log_path, sizeof log_path, "%s.log", dir);
    uint64_t rng = seed, acked = 0;
    for (uint64_t k = 0; k < kills; k++) {
        pid_t pid = fork();
        if (pid < 0) die("fork");
        if (pid == 0) {
            char run[32], sd[32];
            snprintf(run, sizeof run, "%llu", (unsigned long long)k);
            snprintf(sd, sizeof sd, "%llu", (unsigned long long)seed);
            execl(self, self, "writer", dir, run, sd, (char *)NULL);
            _exit(127);
        }
        uint64_t ms = (k == 0 ? 300 : 50) + ortak_rng_next(&rng) % 400;
        struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        if (!WIFSIGNALED(status)) {
            fprintf(stderr, "crash_journal: writer exited by itself (status %d) before the kill\n", status);
            return 1;
        }
        check(dir, log_path, &acked);
    }
    printf("crash_journal: %llu kills, %llu acknowledged transfers all present with their outcome, "
           "no half-applied submission, state equal to a clean replay\n",
           (unsigned long long)kills, (unsigned long long)acked);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 5 && strcmp(argv[1], "writer") == 0)
        return writer_main(argv[2], strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10));
    if (argc >= 4 && strcmp(argv[1], "run") == 0) {
        uint64_t seed = argc >= 5 ? strtoull(argv[4], NULL, 10) : (uint64_t)time(NULL);
        printf("crash_journal: seed %llu\n", (unsigned long long)seed);
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/journal", argv[2]);
        mkdir(argv[2], 0750);
        return run_main(argv[0], dir, strtoull(argv[3], NULL, 10), seed);
    }
    fprintf(stderr, "usage: crash_journal run DIR KILLS [SEED] | writer DIR RUN SEED\n");
    return 2;
}
