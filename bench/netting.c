/*
 * bench_netting: the close of a net settlement window through the engine, end to end.
 *
 * Net payments (netting.h) are accepted into their currency's open window against their payers' net debit caps and
 * settle together when the window closes. This program times both halves for one window of 1,000,000 payments
 * among 500 banks of one currency (KZT, whose windows close only on command here): the acceptance of the payments,
 * in batches of batch_max through ortak_engine_apply, and the one NET_CLOSE command that settles them, which
 * computes every participant's net position, books the transfers between settlement and collateral accounts, marks
 * every payment settled and reports it all as events. The close is the headline figure.
 *
 * The run: each bank holds a settlement account and a collateral account, both funded from the central bank's
 * issuance account. Payments go between banks drawn with a share falling as 1/rank, with heavy-tailed values, as in
 * bench_gridlock. A bank's collateral is what it sends in the whole run, and its cap pledges all of it, so every
 * payment is accepted. Its settlement account holds all it sends too, except for one bank in four, chosen at
 * random, which holds a random 0-20% of it: those of them that end the window as debtors pay their position partly
 * (or wholly) from collateral. Everything follows from --seed.
 *
 * After the close the program checks that every payment was accepted, then settled (a PAYMENT_SETTLED event each,
 * and a sample read back), that the window's report gives every bank the net position the generator predicts and
 * the collateral share its liquidity implies, that the positions sum to zero and the value moved is the sum of the
 * debtors' positions, that every balance and cap is what those imply, and that the currency's balances sum to zero.
 * Any discrepancy exits 1; a usage error exits 2.
 *
 * Usage: bench_netting [--quick] [--payments N] [--banks N] [--seed N]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/base/slice.h"
#include "bench.h"
#include "ortak/engine.h"

#define CB "NBRKKZKX"
#define CURRENCY "KZT"
#define ISSUANCE ((ortak_u128)1)
#define T0 (UINT64_C(1767225600) * ORTAK_NS_PER_S)
/* One bank in THIN_ONE_IN is thin: its settlement account holds a uniform random share of what it sends, up to
   THIN_PCT_MAX percent. Every other bank's holds all it sends, which covers any net debit it can reach. */
#define THIN_ONE_IN 4u
#define THIN_PCT_MAX 20u
/* Payments read back after the close: evenly spread over the run, the last one included. */
#define SAMPLE 1000u

struct run {
    uint32_t payments, banks;
    uint64_t seed;
};

struct pay {
    uint32_t payer, payee;
    uint64_t amount;
};

/* The generated run: its payments, and per bank what it sends and receives and what it is funded with. */
struct traffic {
    struct pay *pays;
    int64_t *sent, *received, *liquidity, *collateral;
    ortak_i128 gross;
    uint32_t thin; /* banks with little liquidity */
};

struct acceptance {
    double s; /* in ortak_engine_apply */
    uint32_t batches;
};

/* What the close did, from its events. */
struct closing {
    double ms;
    ortak_time_ns at;
    uint32_t events, settled, transfers, rows, caps, windows, collateral_rows;
    uint64_t window;
    int64_t window_payments, window_participants;
    ortak_i128 moved, from_collateral;
};

static ortak_u128 settlement_id(uint32_t bank) { return 1000000 + (ortak_u128)bank; }
static ortak_u128 collateral_id(uint32_t bank) { return 2000000 + (ortak_u128)bank; }
static ortak_u128 payment_id(uint32_t k) { return ((ortak_u128)1 << 64) | k; }

/* Applies commands in batches of at most batch_max; exits on any refusal. Returns the seconds spent applying. */
static double apply(struct ortak_engine *e, const struct ortak_cmd *cmds, uint32_t n, struct ortak_result *res) {
    uint32_t max = ortak_engine_config(e)->limits.batch_max;
    uint64_t spent = 0;
    for (uint32_t i = 0; i < n; i += max) {
        uint32_t k = n - i < max ? n - i : max;
        uint64_t t0 = bench_now_ns();
        if (ortak_engine_apply(e, cmds + i, k, res) != ORTAK_OK) abort();
        spent += bench_now_ns() - t0;
        for (uint32_t j = 0; j < k; j++) {
            if (res[j].rc != ORTAK_OK) {
                fprintf(stderr, "bench_netting: command %u refused: %s\n", i + j, ortak_rc_name((ortak_rc)res[j].rc));
                exit(1);
            }
        }
    }
    return (double)spent / 1e9;
}

/* Bank i's BIC: a four-letter code from its index, in Kazakhstan. */
static void bank_bic(uint32_t i, char bic[12]) {
    char code[5];
    bench_bank_code(i, code);
    snprintf(bic, 12, "%sKZKA", code);
}

/* Draws the run's payments and the banks' funding (deterministic for its seed). */
static void generate(const struct run *r, struct traffic *tr) {
    tr->pays = bench_calloc("bench_netting", r->payments, sizeof *tr->pays);
    tr->sent = bench_calloc("bench_netting", r->banks, sizeof *tr->sent);
    tr->received = bench_calloc("bench_netting", r->banks, sizeof *tr->received);
    tr->liquidity = bench_calloc("bench_netting", r->banks, sizeof *tr->liquidity);
    tr->collateral = bench_calloc("bench_netting", r->banks, sizeof *tr->collateral);
    tr->gross = 0;
    tr->thin = 0;
    double *cum = bench_calloc("bench_netting", r->banks, sizeof *cum);
    for (uint32_t i = 0; i < r->banks; i++) cum[i] = (i ? cum[i - 1] : 0) + 1.0 / (i + 1);
    uint64_t rs = r->seed;
    for (uint32_t k = 0; k < r->payments; k++) {
        uint32_t payer = bench_skewed_bank(&rs, cum, r->banks), payee;
        do payee = bench_skewed_bank(&rs, cum, r->banks);
        while (payee == payer);
        uint64_t value = 1000 + ortak_rng_below(&rs, 9000);
        for (int d = 0; d < 16 && ortak_rng_below(&rs, 2); d++) value *= 2;
        tr->pays[k] = (struct pay){.payer = payer, .payee = payee, .amount = value};
        tr->sent[payer] += (int64_t)value;
        tr->received[payee] += (int64_t)value;
        tr->gross += (ortak_i128)value;
    }
    for (uint32_t i = 0; i < r->banks; i++) {
        bool thin = ortak_rng_below(&rs, THIN_ONE_IN) == 0;
        uint64_t pct = thin ? ortak_rng_below(&rs, THIN_PCT_MAX + 1) : 100;
        tr->thin += thin;
        tr->liquidity[i] = (int64_t)((ortak_u128)(uint64_t)tr->sent[i] * pct / 100);
        tr->collateral[i] = tr->sent[i] > 0 ? tr->sent[i] : 1;
    }
    free(cum);
}

static void traffic_free(struct traffic *tr) {
    free(tr->pays);
    free(tr->sent);
    free(tr->received);
    free(tr->liquidity);
    free(tr->collateral);
}

/* The configuration of the run: limits sized for it, no periodic gridlock runs, KZT windows closed on command. */
static void configure(const struct run *r, struct ortak_config *cfg) {
    ortak_config_default(cfg);
    cfg->limits.participants_max = r->banks + 8;
    cfg->limits.accounts_max = 2 * r->banks + 16;
    cfg->limits.payments_max = r->payments + 16;
    /* Funding (two per bank), then the close: at most a transfer per debtor's two sources and per creditor. */
    cfg->limits.transfers_max = 6 * r->banks + 1024;
    cfg->limits.history_max = 2 * cfg->limits.transfers_max;
    cfg->settlement.gridlock_interval_ms = 0;
    uint32_t c = 0;
    while (c < cfg->currency_count && strcmp(cfg->currencies[c].code, CURRENCY) != 0) c++;
    if (c == cfg->currency_count) abort();
    cfg->currencies[c].net_window_ms = 0;
}

static struct ortak_cmd *participant(struct ortak_cmd *c, ortak_time_ns t, const char *bic, uint8_t role) {
    *c = (struct ortak_cmd){.timestamp = t, .kind = ORTAK_CMD_PARTICIPANT_CREATE};
    snprintf(c->u.participant_create.bic, sizeof c->u.participant_create.bic, "%s", bic);
    snprintf(c->u.participant_create.country, sizeof c->u.participant_create.country, "KZ");
    c->u.participant_create.role = role;
    return c;
}

static void account(struct ortak_cmd *c, ortak_time_ns t, const char *bic, ortak_u128 id, uint8_t kind) {
    *c = (struct ortak_cmd){.timestamp = t, .kind = ORTAK_CMD_ACCOUNT_CREATE};
    c->u.account_create = (struct ortak_account_create){.id = id, .kind = kind};
    snprintf(c->u.account_create.bic, sizeof c->u.account_create.bic, "%s", bic);
    snprintf(c->u.account_create.currency, sizeof c->u.account_create.currency, CURRENCY);
}

static void issue(struct ortak_cmd *c, ortak_time_ns t, uint32_t k, ortak_u128 to, int64_t amount) {
    *c = (struct ortak_cmd){.timestamp = t, .kind = ORTAK_CMD_TRANSFER};
    c->u.transfer = (struct ortak_transfer){.id = ((ortak_u128)2 << 64) | k,
                                            .debit_account_id = ISSUANCE,
                                            .credit_account_id = to,
                                            .amount = (uint64_t)amount};
}

/* Opens the engine of `r` with its banks, their accounts funded and their caps set. */
static struct ortak_engine *build(const struct run *r, const struct traffic *tr) {
    struct ortak_config cfg;
    configure(r, &cfg);
    struct ortak_engine *e;
    if (ortak_engine_open(&cfg, &e) != ORTAK_OK) abort();
    struct ortak_cmd *cmds = bench_calloc("bench_netting", 3 * (size_t)r->banks + 2, sizeof *cmds);
    struct ortak_result *res = bench_calloc("bench_netting", cfg.limits.batch_max, sizeof *res);
    ortak_time_ns t = T0;
    uint32_t n = 0;
    snprintf(participant(&cmds[n++], t, CB, ORTAK_ROLE_CENTRAL_BANK)->u.participant_create.name,
             sizeof cmds[0].u.participant_create.name, "National Bank of Kazakhstan");
    account(&cmds[n++], t, CB, ISSUANCE, ORTAK_ACCOUNT_ISSUANCE);
    for (uint32_t i = 0; i < r->banks; i++) {
        char bic[12];
        bank_bic(i, bic);
        snprintf(participant(&cmds[n], t, bic, ORTAK_ROLE_BANK)->u.participant_create.name,
                 sizeof cmds[n].u.participant_create.name, "Bank %u", i);
        n++;
        account(&cmds[n++], t, bic, settlement_id(i), ORTAK_ACCOUNT_SETTLEMENT);
        account(&cmds[n++], t, bic, collateral_id(i), ORTAK_ACCOUNT_COLLATERAL);
    }
    apply(e, cmds, n, res);

    /* Funding: collateral for every bank, liquidity for those whose share is not zero; then the caps. */
    t += ORTAK_NS_PER_S;
    n = 0;
    for (uint32_t i = 0; i < r->banks; i++) {
        issue(&cmds[n], t, n, collateral_id(i), tr->collateral[i]);
        n++;
        if (tr->liquidity[i] > 0) {
            issue(&cmds[n], t, n, settlement_id(i), tr->liquidity[i]);
            n++;
        }
    }
    for (uint32_t i = 0; i < r->banks; i++) {
        cmds[n] = (struct ortak_cmd){.timestamp = t, .kind = ORTAK_CMD_NET_CAP_SET};
        cmds[n++].u.account =
            (struct ortak_account_amount){.account_id = settlement_id(i), .amount = tr->collateral[i]};
    }
    apply(e, cmds, n, res);
    free(cmds);
    free(res);
    return e;
}

/*
 * Submits every payment of the run as a net payment, a batch of batch_max at a time, each batch a millisecond
 * after the last; checks that each was accepted into the open window with its event, and times the applies.
 */
static struct acceptance submit(struct ortak_engine *e, const struct run *r, const struct traffic *tr) {
    uint32_t max = ortak_engine_config(e)->limits.batch_max;
    struct ortak_cmd *cmds = bench_calloc("bench_netting", max, sizeof *cmds);
    struct ortak_result *res = bench_calloc("bench_netting", max, sizeof *res);
    struct acceptance a = {0};
    ortak_time_ns t = ortak_engine_now(e) + ORTAK_NS_PER_S;
    for (uint32_t i = 0; i < r->payments; i += max, t += ORTAK_NS_PER_S / 1000) {
        uint32_t k = r->payments - i < max ? r->payments - i : max;
        for (uint32_t j = 0; j < k; j++) {
            const struct pay *p = &tr->pays[i + j];
            cmds[j] = (struct ortak_cmd){.timestamp = t, .kind = ORTAK_CMD_PAYMENT_SUBMIT};
            cmds[j].u.payment = (struct ortak_payment){.id = payment_id(i + j),
                                                       .debit_account_id = settlement_id(p->payer),
                                                       .credit_account_id = settlement_id(p->payee),
                                                       .uetr = payment_id(i + j),
                                                       .amount = p->amount,
                                                       .priority = ORTAK_PRIORITY_NORMAL,
                                                       .method = ORTAK_METHOD_NET};
        }
        a.s += apply(e, cmds, k, res);
        a.batches++;
        uint32_t n;
        const struct ortak_event *ev = ortak_engine_events(e, &n);
        bool ok = n == k;
        for (uint32_t j = 0; ok && j < k; j++) ok = res[j].flags == 0 && ev[j].kind == ORTAK_EV_PAYMENT_ACCEPTED;
        if (!ok) {
            fprintf(stderr, "bench_netting: a batch of payments was not accepted one event each\n");
            exit(1);
        }
    }
    free(cmds);
    free(res);
    return a;
}

/* Tallies the close's events into *c. */
static void tally(const struct ortak_event *ev, uint32_t n, struct closing *c) {
    c->events = n;
    for (uint32_t i = 0; i < n; i++) {
        switch (ev[i].kind) {
        case ORTAK_EV_PAYMENT_SETTLED: c->settled++; break;
        case ORTAK_EV_TRANSFER_POSTED: c->transfers++; break;
        case ORTAK_EV_NET_CAP_SET: c->caps++; break;
        case ORTAK_EV_NET_POSITION:
            c->rows++;
            c->collateral_rows += ev[i].amount > 0;
            c->from_collateral += ev[i].amount;
            break;
        case ORTAK_EV_NET_WINDOW:
            c->windows++;
            c->window = ev[i].status;
            c->window_payments = ev[i].amount;
            c->window_participants = ev[i].amount_old;
            c->moved = (ortak_i128)ev[i].ref;
            break;
        default: break;
        }
    }
}

/* The headline: one NET_CLOSE command, timed, and what its events say it did. */
static struct closing close_window(struct ortak_engine *e) {
    struct ortak_cmd cmd = {.timestamp = ortak_engine_now(e) + ORTAK_NS_PER_S, .kind = ORTAK_CMD_NET_CLOSE};
    snprintf(cmd.u.net_close.currency, sizeof cmd.u.net_close.currency, CURRENCY);
    struct ortak_result res;
    uint64_t t0 = bench_now_ns();
    if (ortak_engine_apply(e, &cmd, 1, &res) != ORTAK_OK) abort();
    struct closing c = {.ms = (double)(bench_now_ns() - t0) / 1e6, .at = cmd.timestamp};
    if (res.rc != ORTAK_OK) {
        fprintf(stderr, "bench_netting: NET_CLOSE refused: %s\n", ortak_rc_name((ortak_rc)res.rc));
        exit(1);
    }
    uint32_t n;
    const struct ortak_event *ev = ortak_engine_events(e, &n);
    tally(ev, n, &c);
    return c;
}

static bool fail(const char *what) {
    fprintf(stderr, "bench_netting: %s\n", what);
    return false;
}

/* A sample of the payments, read back: each settled in the closed window, at the close, as submitted. */
static bool verify_payments(const struct ortak_engine *e, const struct run *r, const struct traffic *tr,
                            const struct closing *c) {
    const struct ortak_settle *s = ortak_engine_settle(e);
    if (ortak_settle_payment_count(s) != r->payments) return fail("payments recorded differ from those submitted");
    for (uint32_t i = 0; i <= SAMPLE; i++) {
        uint32_t k = (uint32_t)((uint64_t)(r->payments - 1) * i / SAMPLE);
        struct ortak_payment_info pi;
        if (ortak_settle_payment_get(s, payment_id(k), &pi) != ORTAK_OK) return fail("a payment is missing");
        if (pi.state != ORTAK_PAYMENT_SETTLED || pi.window != c->window || pi.ended_ns != c->at ||
            pi.p.amount != tr->pays[k].amount || pi.p.method != ORTAK_METHOD_NET)
            return fail("a payment was not settled in the closed window");
    }
    return true;
}

/*
 * The closed window's report: a row per participant, in account order, with the net position the generator
 * predicts and the collateral share its liquidity implies; positions summing to zero, the debtors' sum equal to the
 * value moved.
 */
static bool verify_report(const struct ortak_engine *e, const struct run *r, const struct traffic *tr,
                          const struct closing *c) {
    const struct ortak_netting *n = ortak_engine_netting(e);
    struct ortak_window_info wi;
    if (ortak_netting_window(n, CURRENCY, c->window, &wi) != ORTAK_OK || wi.state != ORTAK_WINDOW_SETTLED ||
        wi.payments != r->payments || wi.gross != tr->gross || wi.moved != c->moved || wi.closed_ns != c->at ||
        wi.participants != c->rows)
        return fail("the closed window's summary is wrong");
    struct ortak_window_position *rows = bench_calloc("bench_netting", r->banks, sizeof *rows);
    uint32_t count = 0, participants = 0;
    ortak_i128 sum = 0, debits = 0;
    bool ok =
        ortak_netting_positions(n, CURRENCY, c->window, rows, r->banks, &count) == ORTAK_OK && count == wi.participants;
    for (uint32_t i = 0; i < r->banks; i++) participants += tr->sent[i] + tr->received[i] > 0;
    ok = ok && count == participants;
    for (uint32_t k = 0; ok && k < count; k++) {
        const struct ortak_window_position *p = &rows[k];
        uint32_t b = (uint32_t)(p->account_id - settlement_id(0));
        ok = p->account_id >= settlement_id(0) && b < r->banks && (k == 0 || p->account_id > rows[k - 1].account_id);
        if (!ok) break;
        int64_t net = tr->received[b] - tr->sent[b];
        int64_t short_by = -net - tr->liquidity[b];
        ok = p->sent == tr->sent[b] && p->received == tr->received[b] && p->net == net &&
             p->from_collateral == (short_by > 0 ? short_by : 0);
        sum += p->net;
        if (p->net < 0) debits -= p->net;
    }
    free(rows);
    if (!ok) return fail("a participant's row in the report is wrong");
    if (sum != 0) return fail("the net positions do not sum to zero");
    if (debits != c->moved) return fail("the value moved is not the sum of the debtors' positions");
    return true;
}

/* Balances and caps after the close, and every currency's balances summing to zero. */
static bool verify_ledger(const struct ortak_engine *e, const struct run *r, const struct traffic *tr) {
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    const struct ortak_netting *n = ortak_engine_netting(e);
    for (uint32_t b = 0; b < r->banks; b++) {
        int64_t net = tr->received[b] - tr->sent[b], short_by = -net - tr->liquidity[b];
        int64_t from_collateral = short_by > 0 ? short_by : 0;
        struct ortak_account_info sa, ca;
        int64_t cap;
        ortak_i128 debit;
        if (ortak_ledger_account_get(l, settlement_id(b), &sa) != ORTAK_OK ||
            ortak_ledger_account_get(l, collateral_id(b), &ca) != ORTAK_OK ||
            ortak_netting_cap(n, settlement_id(b), &cap, &debit) != ORTAK_OK)
            return fail("a bank's account is missing");
        if (sa.balance != tr->liquidity[b] + net + from_collateral || ca.balance != tr->collateral[b] - from_collateral)
            return fail("a bank's balance after the close is wrong");
        if (cap != tr->collateral[b] - from_collateral || debit != 0 || ca.reserved != cap)
            return fail("a bank's cap after the close is wrong");
    }
    for (uint32_t c = 0; c < ortak_ledger_currency_count(l); c++) {
        struct ortak_currency_info ci;
        ortak_ledger_currency_at(l, c, &ci);
        ortak_i128 sum = 0;
        for (uint32_t i = 0; i < ortak_ledger_account_count(l); i++) {
            struct ortak_account_info ai;
            ortak_ledger_account_at(l, i, &ai);
            if (strcmp(ai.currency, ci.code) == 0) sum += ai.balance;
        }
        if (sum != 0) return fail("the balances of a currency do not sum to zero");
    }
    struct ortak_window_info open;
    if (ortak_netting_window(n, CURRENCY, 0, &open) != ORTAK_OK || open.state != ORTAK_WINDOW_OPEN ||
        open.payments != 0 || open.id != 2)
        return fail("the next window did not open empty");
    return true;
}

static bool verify(const struct ortak_engine *e, const struct run *r, const struct traffic *tr,
                   const struct closing *c) {
    if (c->windows != 1 || c->window != 1 || c->window_payments != r->payments || c->window_participants != c->rows)
        return fail("the close's summary event is wrong");
    if (c->settled != r->payments) return fail("PAYMENT_SETTLED events differ from the payments");
    if (c->caps != c->collateral_rows) return fail("caps lowered differ from the debtors that drew on collateral");
    if (c->events != c->settled + c->transfers + c->rows + c->caps + c->windows)
        return fail("the close emitted events of an unexpected kind");
    return verify_payments(e, r, tr, c) && verify_report(e, r, tr, c) && verify_ledger(e, r, tr);
}

static void report(const struct ortak_engine *e, const struct run *r, const struct traffic *tr,
                   const struct acceptance *a, const struct closing *c) {
    char gross[41], moved[41], collateral[41];
    uint32_t debtors = 0, creditors = 0;
    for (uint32_t b = 0; b < r->banks; b++) {
        debtors += tr->sent[b] > tr->received[b];
        creditors += tr->received[b] > tr->sent[b];
    }
    printf("net settlement: one " CURRENCY " window of net payments, closed by one NET_CLOSE command\n");
    printf("  %-24s %14u   (seed %" PRIu64 "; payer and payee shares falling as 1/rank)\n", "payments", r->payments,
           r->seed);
    printf("  %-24s %14u   (collateral = cap = all a bank sends)\n", "banks", r->banks);
    printf("  %-24s %14u   (liquidity 0-%u%% of what they send; the others all of it)\n", "thin banks", tr->thin,
           THIN_PCT_MAX);
    printf("  %-24s %14s   minor units\n", "gross value", ortak_i128_dec(tr->gross, gross));
    printf("  %-24s %14.0f   (%u batches of at most %u: %.3f s in ortak_engine_apply)\n", "accepted per second",
           a->s > 0 ? r->payments / a->s : 0.0, a->batches, ortak_engine_config(e)->limits.batch_max, a->s);
    printf("  %-24s %14.2f   (one ortak_engine_apply of one command)\n", "NET_CLOSE ms", c->ms);
    printf("  %-24s %14u   (%u debtors, %u creditors)\n", "participants", c->rows, debtors, creditors);
    printf("  %-24s %14u   (%s minor units from collateral)\n", "debtors on collateral", c->collateral_rows,
           ortak_i128_dec(c->from_collateral, collateral));
    printf("  %-24s %14u\n", "transfers booked", c->transfers);
    printf("  %-24s %14s   minor units (%.2f%% of gross)\n", "value moved", ortak_i128_dec(c->moved, moved),
           tr->gross > 0 ? 100.0 * (double)c->moved / (double)tr->gross : 0.0);
    printf("  %-24s %14u   (%u PAYMENT_SETTLED, %u TRANSFER_POSTED, %u NET_POSITION, %u NET_CAP_SET, %u NET_WINDOW)\n",
           "events", c->events, c->settled, c->transfers, c->rows, c->caps, c->windows);
    printf("  %-24s %14.1f   MiB\n", "engine memory", (double)ortak_engine_memory_bytes(e) / (1024.0 * 1024.0));
}

int main(int argc, char **argv) {
    struct bench_args args;
    if (!bench_args_parse("bench_netting", argc, argv, ORTAK_PAYMENTS_LIMIT - 16, ORTAK_PARTICIPANTS_LIMIT - 8, &args))
        return 2;
    struct run r = {.payments = args.quick ? 10000 : 1000000, .banks = args.quick ? 50 : 500, .seed = args.seed};
    if (args.payments) r.payments = (uint32_t)args.payments;
    if (args.banks) r.banks = (uint32_t)args.banks;
    struct traffic tr;
    generate(&r, &tr);
    struct ortak_engine *e = build(&r, &tr);
    struct acceptance a = submit(e, &r, &tr);
    struct closing c = close_window(e);
    bool ok = verify(e, &r, &tr, &c);
    if (ok) report(e, &r, &tr, &a, &c);
    ortak_engine_close(e);
    traffic_free(&tr);
    return ok ? 0 : 1;
}
