/*
 * What the journal benchmarks (bench/journal.c, bench/replication.c) share: their load (1,000 funded settlement
 * accounts of one currency, then transfers between random pairs of them, from a seeded generator), the threads that
 * submit it through the sequencer, and their option parsing.
 */
#ifndef ORTAK_BENCH_TRANSFERS_H
#define ORTAK_BENCH_TRANSFERS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/base/slice.h"
#include "ortak/engine.h"
#include "ortak/journal.h"

#define ACCOUNTS 1000u

/* Participants and funded settlement accounts, as one batch per 1,000 commands. */
static inline uint32_t setup_cmds(struct ortak_cmd *c) {
    uint32_t n = 0;
    memset(c, 0, sizeof *c * (3 + 3 * ACCOUNTS));
    c[n].kind = ORTAK_CMD_PARTICIPANT_CREATE;
    strcpy(c[n].u.participant_create.bic, "NBRKKZKX");
    strcpy(c[n].u.participant_create.name, "National Bank of Kazakhstan");
    c[n++].u.participant_create.role = ORTAK_ROLE_CENTRAL_BANK;
    c[n].kind = ORTAK_CMD_ACCOUNT_CREATE;
    c[n++].u.account_create = (struct ortak_account_create){1, "NBRKKZKX", "KZT", ORTAK_ACCOUNT_ISSUANCE};
    for (uint32_t i = 0; i < ACCOUNTS; i++) {
        char bic[12];
        snprintf(bic, sizeof bic, "B%03uKZKA", i);
        c[n].kind = ORTAK_CMD_PARTICIPANT_CREATE;
        strcpy(c[n].u.participant_create.bic, bic);
        strcpy(c[n].u.participant_create.name, bic);
        c[n++].u.participant_create.role = ORTAK_ROLE_BANK;
        c[n].kind = ORTAK_CMD_ACCOUNT_CREATE;
        c[n].u.account_create =
            (struct ortak_account_create){.id = 10 + i, .currency = "KZT", .kind = ORTAK_ACCOUNT_SETTLEMENT};
        strcpy(c[n++].u.account_create.bic, bic);
        c[n].kind = ORTAK_CMD_TRANSFER;
        c[n++].u.transfer = (struct ortak_transfer){
            .id = ORTAK_U128(1, i), .debit_account_id = 1, .credit_account_id = 10 + i, .amount = UINT64_C(1) << 50};
    }
    return n;
}

static inline void fill_transfers(struct ortak_cmd *c, uint32_t n, uint64_t *next_id, uint64_t *rng) {
    for (uint32_t i = 0; i < n; i++) {
        *rng = *rng * 6364136223846793005u + 1442695040888963407u;
        uint32_t d = (uint32_t)(*rng >> 33) % ACCOUNTS, k = (uint32_t)(*rng >> 13) % (ACCOUNTS - 1);
        memset(&c[i], 0, sizeof c[i]);
        c[i].kind = ORTAK_CMD_TRANSFER;
        c[i].u.transfer.id = ORTAK_U128(2, ++*next_id);
        c[i].u.transfer.debit_account_id = 10 + d;
        c[i].u.transfer.credit_account_id = 10 + (d + 1 + k) % ACCOUNTS;
        c[i].u.transfer.amount = 1 + (*rng >> 40) % 100000;
    }
}

/* One submitting thread: `transfers` transfers in batches of `batch`, ids from `id_base`; counts the refused. */
struct submitter {
    struct ortak_sequencer *s;
    uint64_t transfers;
    uint32_t batch;
    uint64_t id_base;
    uint64_t failed;
};

static inline void *submit_main(void *p) {
    struct submitter *sb = p;
    struct ortak_cmd *c = calloc(sb->batch, sizeof *c);
    struct ortak_result *r = calloc(sb->batch, sizeof *r);
    uint64_t next_id = sb->id_base, rng = sb->id_base;
    if (!c || !r) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    for (uint64_t done = 0; done < sb->transfers;) {
        uint32_t n = (uint32_t)(sb->transfers - done < sb->batch ? sb->transfers - done : sb->batch);
        fill_transfers(c, n, &next_id, &rng);
        ortak_rc rc = ortak_sequencer_submit(sb->s, c, n, r, NULL);
        if (rc != ORTAK_OK) {
            fprintf(stderr, "bench: submit: %s\n", ortak_rc_name(rc));
            exit(1);
        }
        for (uint32_t i = 0; i < n; i++) sb->failed += r[i].rc != ORTAK_OK;
        done += n;
    }
    free(c);
    free(r);
    return NULL;
}

/* An option's value: a decimal number of at most `max`. */
static inline bool parse_u64(const char *s, uint64_t max, uint64_t *out) {
    return ortak_slice_parse_u64(ortak_slice_from_cstr(s), max, out);
}

#endif
