/*
 * The load of the journal benchmarks (bench/journal.c, bench/replication.c): 1,000 funded settlement accounts of
 * one currency, then transfers between random pairs of them, from a seeded generator.
 */
#ifndef ORTAK_BENCH_TRANSFERS_H
#define ORTAK_BENCH_TRANSFERS_H

#include <stdio.h>
#include <string.h>

#include "ortak/engine.h"

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

#endif
