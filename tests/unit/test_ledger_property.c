/*
 * Property test of the ledger, driven through the engine: a model-based random walk of a million commands.
 *
 * From a seed (argv[1], else DEFAULT_SEED; always printed) the test admits three central banks (the agents of KZT,
 * AZN and TRY, each with an issuance account), thirty banks with settlement accounts in two or three currencies and
 * some collateral accounts, an FX provider and a dormant bank whose accounts are closed or kept empty. It funds
 * the banks from the issuance accounts and then applies random batches of 1..500 commands: plain and pending
 * transfers (amounts small, at the funds boundary, zero, huge, over the maximum; wrong currency, unknown, closed or
 * identical accounts; invalid ids, flags, timeouts), posts (full and partial) and voids of open, settled, unknown
 * and non-pending transfers, linked chains of 2..6 transfers (some made to fail in the middle, some left open, some
 * replayed whole), exact and altered replays of earlier ids, credit-line and reservation changes, account closes,
 * participant suspensions and reactivations, unknown commands, a few commands from the past (TIME_BACKWARDS), and
 * ticks that move time so that holds expire.
 *
 * Beside the engine runs a model. Its oracle predicts every result (code, replay flag, fail_index) from the model's
 * state, following the check order and the recording policy of src/ledger/transfer.c; its ledger keeps every
 * account's posted and pending debits and credits, updated only from what the engine reports: OK results (with the
 * command's fields) and the events that go with them, and expiry events. After every batch the test checks:
 *   1. per currency, the posted balances sum to zero and the pending balances sum to zero;
 *   2. no account but an issuance one is below its floor: balance - debits_pending + credit_line >= 0;
 *   3. every result equals the oracle's, every event matches the booking or expiry that caused it (and expiries
 *      happen exactly when due, in (expires_at, recording order)), and every account equals the model exactly;
 *   4. an id is booked at most once: an OK result for a recorded id carries ORTAK_RESULT_REPLAYED, the transfer
 *      count equals the model's, and ortak_ledger_transfer_get returns the recorded outcome of every id and
 *      pending id of the batch (and of every id ever submitted, at checkpoints);
 *   5. a linked chain is all or nothing: either every member is OK or no member is OK-and-new, every member names
 *      the failing member in fail_index, and the balances (model check 3) show no trace of it;
 *   6. determinism: a replica engine, opened with a different hash seed, applies the same batches; its results,
 *      events and state hash must equal the first engine's. At each of eight checkpoints (and at the end) the live
 *      state is encoded and loaded into a new engine (ortak_engine_open_state) whose hash must match and which then
 *      serves as the replica, so a restored engine must also behave like the live one. Another test reruns a
 *      shorter walk from the same seed (same hashes) and from the next seed (a different hash); a third runs with
 *      tiny pools, into PENDINGS_FULL and TRANSFERS_FULL.
 * Every result buffer is poisoned before each apply, so a result field the engine does not write shows up. At
 * checkpoints every id ever submitted is read back, and every account's history in memory is walked: consecutive
 * balances, the newest equal to the balance, a complete history summing to it, as many postings as the model made.
 *
 * Engine time follows every command that is not refused as earlier than engine time, including members of a failed
 * chain after the failing one; their refusals are recorded at their own timestamps.
 *
 * Usage: test_ledger_property [SEED [COMMANDS]]. A failure prints the seed, the batch, the command and the chain
 * around it; rerunning with the same SEED replays the same walk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ortak/engine.h"

#define DEFAULT_SEED UINT64_C(20240917)
#define COMMANDS_FULL UINT64_C(1000000)
#define COMMANDS_RERUN UINT64_C(30000)
#define COMMANDS_SMALL UINT64_C(20000)
/* Engine time of the set-up: 2023-11-14T22:13:20Z. */
#define EPOCH_NS (UINT64_C(1700000000) * ORTAK_NS_PER_S)
#define BATCH_CAP 512u     /* the configured batch_max */
#define BATCH_LEN_MAX 500u /* the longest batch generated */
#define CHECKPOINTS 8u     /* state hashes compared during a run, besides the final one */
#define NCUR 3u
#define NBANKS 30u
#define MAX_PARTS 40u
#define MAX_ACCTS 192u
#define RING 4096u /* recent submissions, for replays */
#define CHAIN_RING 64u
#define CLOSED_RING 256u
#define SAMPLE_IDS 64u /* registry ids re-read after every batch */
#define NONE32 UINT32_MAX
#define NONE16 UINT16_MAX
/* High halves of generated ids: transfers (low half = registry index), accounts (low half = index + 1), unknown. */
#define ID_HI UINT64_C(0x0a7e5f1d00c0ffee)
#define ACC_HI UINT64_C(0x00acc0a7e5f1d000)
#define GHOST_HI UINT64_C(0x60057000deadbeef)
#define TRILLION INT64_C(1000000000000)
#define BALANCE_MAX ((ortak_i128)1 << 125) /* as src/ledger/transfer.c */
#define RESOLVES (ORTAK_TRANSFER_POST_PENDING | ORTAK_TRANSFER_VOID_PENDING)

static const char *const CUR_CODE[NCUR] = {"KZT", "AZN", "TRY"};
static const char *const CUR_AGENT[NCUR] = {"NBRKKZKX", "NABZAZ2X", "TCMBTR2A"};
static const char *const BANK_COUNTRY[5] = {"KZ", "AZ", "TR", "KG", "UZ"};

/* ---- random numbers: xoshiro256** seeded through splitmix64 ---------------------------------------------------- */

struct rng {
    uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, unsigned k) { return (x << k) | (x >> (64u - k)); }

static uint64_t rng_next(struct rng *r) {
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Uniform in [0, n); 0 when n is 0. */
static uint64_t rnd_below(struct rng *r, uint64_t n) { return (uint64_t)(((ortak_u128)rng_next(r) * n) >> 64); }
static uint64_t rnd_range(struct rng *r, uint64_t lo, uint64_t hi) { return lo + rnd_below(r, hi - lo + 1); }
static bool rnd_chance(struct rng *r, unsigned per_mille) { return rnd_below(r, 1000) < per_mille; }
static uint32_t rnd_u32(struct rng *r, uint32_t n) { return (uint32_t)rnd_below(r, n); }

/* ---- the model ------------------------------------------------------------------------------------------------- */

struct m_participant {
    char bic[12];
    uint8_t role;
    uint8_t status;
};

struct m_balances {
    ortak_i128 dp, cp, dpend, cpend; /* debits/credits posted, debits/credits pending */
};

struct m_account {
    ortak_u128 id;
    struct m_balances b;
    int64_t credit_line;
    int64_t reserved;
    uint32_t pending_count;
    uint32_t participant;
    uint8_t currency;
    uint8_t kind;
    uint8_t status;
};

/* What the model knows of transfer id (ID_HI, k): registry entry k. */
struct m_transfer {
    struct ortak_transfer t; /* as recorded */
    ortak_time_ns timestamp;
    ortak_time_ns expires_at; /* open pending transfers: 0 = never */
    uint64_t amount_booked;
    uint32_t index;    /* recording position in the ledger: the tie-break of expiry order */
    uint32_t open_pos; /* position in the list of open pending transfers, NONE32 when not open */
    uint64_t picked;   /* generator: batch (+1) in which a post or void was generated for it */
    uint16_t debit, credit;
    uint16_t rc;
    uint8_t pending_state;
    bool recorded;
};

struct heap_entry {
    ortak_time_ns expires_at;
    uint32_t index;
    uint32_t k;
};

struct undo_acct {
    uint32_t a;
    uint32_t pending_count;
    struct m_balances b;
};

struct undo_reg {
    uint32_t k;
    struct m_transfer old;
};

struct run_params {
    uint64_t seed;
    uint64_t commands;
    uint32_t transfers_max, pending_max, history_max;
    bool replica;
    bool report;
};

struct stats {
    uint64_t rc[ORTAK_RC_COUNT_];
    uint64_t chain_fail[ORTAK_RC_COUNT_]; /* code of the failing member of multi-member chains */
    uint64_t replayed, chains_ok, chains_failed, chain_members, expired, posted, voided, transfers_ok;
    uint32_t open_max;
    uint64_t time_behind; /* batches after which engine time is behind the latest command */
};

struct sim {
    struct run_params p;
    struct rng rng;       /* the walk */
    struct rng check_rng; /* samples for checks, apart so that checks do not change the walk */
    struct ortak_engine *e, *replica;

    struct m_participant parts[MAX_PARTS];
    uint32_t part_count;
    struct m_account accts[MAX_ACCTS];
    uint32_t acct_count;
    uint32_t traffic[NCUR][MAX_ACCTS]; /* accounts drawn for ordinary traffic, by currency */
    uint32_t traffic_len[NCUR];
    uint32_t issuance[NCUR];
    uint32_t spare[NCUR]; /* the dormant bank's settlement accounts: empty, targets of close attempts */
    uint32_t closed[MAX_ACCTS];
    uint32_t closed_len;

    struct m_transfer *reg;
    uint32_t reg_cap, next_k;
    uint32_t transfer_count, open_count;
    uint64_t postings;
    struct heap_entry *heap; /* open pending transfers with a timeout, lazily pruned */
    uint32_t heap_len;
    uint32_t *open; /* registry index of every open pending transfer */
    uint32_t open_len;
    uint32_t closed_p[CLOSED_RING]; /* recently posted, voided or expired pending transfers */
    uint64_t closed_p_n;
    ortak_time_ns now;    /* engine time as the model sees it */
    ortak_time_ns latest; /* the latest timestamp of the batch among commands not refused as from the past */

    bool tentative; /* the oracle is trying a chain: changes are logged and undone */
    struct undo_acct ua[2 * BATCH_CAP + 8];
    struct undo_reg ur[2 * BATCH_CAP + 8];
    uint32_t ua_len, ur_len, saved_count, saved_open;

    ortak_time_ns clock; /* the generator's latest timestamp */
    struct ortak_transfer ring[RING];
    uint64_t ring_n;
    uint64_t chain_first[CHAIN_RING];
    uint32_t chain_len[CHAIN_RING];
    uint64_t chains_n;
    bool bank_closed;

    struct ortak_cmd cmds[BATCH_CAP + 1];
    struct ortak_result res[BATCH_CAP + 1], res_b[BATCH_CAP + 1], exp[BATCH_CAP + 1];
    uint32_t n;
    const struct ortak_event *ev;
    uint32_t ev_n, ev_pos;
    uint32_t cur; /* command being checked, for failure reports; NONE32 outside a batch */

    uint64_t commands, batches;
    uint8_t cp_hash[CHECKPOINTS + 2][32];
    uint32_t cp_count;
    uint8_t final_hash[32];
    struct stats st;
};

static uint64_t g_seed = DEFAULT_SEED;
static uint64_t g_commands = COMMANDS_FULL;

/* ---- failure reports ------------------------------------------------------------------------------------------- */

static const char *hex(ortak_u128 v, char buf[33]) { return ortak_u128_hex(v, buf); }

static const char *cmd_kind_name(uint32_t kind) {
    static const char *const names[] = {"?",
                                        "tick",
                                        "participant_create",
                                        "participant_set_status",
                                        "account_create",
                                        "account_close",
                                        "transfer",
                                        "credit_line_set",
                                        "reserve_set"};
    return kind < sizeof names / sizeof names[0] ? names[kind] : "unknown";
}

static void dump_cmd(const struct sim *s, uint32_t i) {
    const struct ortak_cmd *c = &s->cmds[i];
    char a[33], b[33], d[33], p[33];
    print_error("    [%u] %s at %" PRIu64 " ns: ", i, cmd_kind_name(c->kind), c->timestamp);
    if (c->kind == ORTAK_CMD_TRANSFER) {
        const struct ortak_transfer *t = &c->u.transfer;
        print_error("id %s debit %s credit %s pending %s amount %" PRIu64 " flags 0x%x timeout %u code %u\n",
                    hex(t->id, a), hex(t->debit_account_id, b), hex(t->credit_account_id, d), hex(t->pending_id, p),
                    t->amount, t->flags, t->timeout_s, t->code);
    } else if (c->kind == ORTAK_CMD_PARTICIPANT_SET_STATUS) {
        print_error("bic %.11s status %u\n", c->u.participant_status.bic, c->u.participant_status.status);
    } else {
        print_error("account %s amount %" PRId64 "\n", hex(c->u.account.account_id, a), c->u.account.amount);
    }
    const struct ortak_result *r = &s->res[i], *x = &s->exp[i];
    print_error("        engine: %s flags 0x%x fail_index %u | model: %s flags 0x%x fail_index %u\n",
                ortak_rc_name((ortak_rc)r->rc), r->flags, r->fail_index, ortak_rc_name((ortak_rc)x->rc), x->flags,
                x->fail_index);
}

/* Prints the chain (or the single command) around command `i`. */
static void dump_context(const struct sim *s, uint32_t i) {
    uint32_t lo = i, hi = i;
    while (lo > 0 && i - lo < 8 && s->cmds[lo - 1].kind == ORTAK_CMD_TRANSFER &&
           (s->cmds[lo - 1].u.transfer.flags & ORTAK_TRANSFER_LINKED))
        lo--;
    while (hi + 1 < s->n && hi - i < 8 && s->cmds[hi].kind == ORTAK_CMD_TRANSFER &&
           (s->cmds[hi].u.transfer.flags & ORTAK_TRANSFER_LINKED))
        hi++;
    for (uint32_t k = lo; k <= hi; k++) dump_cmd(s, k);
}

__attribute__((format(printf, 5, 6))) static void violated(const struct sim *s, const char *file, int line,
                                                           const char *expr, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    print_error("PROPERTY VIOLATED: %s\n  check: %s\n  walk seed %" PRIu64 ", batch %" PRIu64 " (after %" PRIu64
                " commands), command %d of %u\n  reproduce: test_ledger_property %" PRIu64 "\n",
                msg, expr, s->p.seed, s->batches, s->commands, s->cur == NONE32 ? -1 : (int)s->cur, s->n, g_seed);
    if (s->cur != NONE32 && s->cur < s->n) dump_context(s, s->cur);
    _fail(file, line);
}

#define CHECK(s, cond, ...)                                                 \
    do {                                                                    \
        if (!(cond)) violated((s), __FILE__, __LINE__, #cond, __VA_ARGS__); \
    } while (0)

static const char *dec(ortak_i128 v, char buf[41]) { return ortak_i128_dec(v, buf); }

/* ---- model lookups --------------------------------------------------------------------------------------------- */

static bool id_valid(ortak_u128 id) { return id != 0 && id != ORTAK_U128_MAX; }

static ortak_u128 transfer_id(uint32_t k) { return ORTAK_U128(ID_HI, k); }

static struct m_transfer *reg_find(const struct sim *s, ortak_u128 id) {
    if ((uint64_t)(id >> 64) != ID_HI || (uint64_t)id >= s->next_k) return NULL;
    return &s->reg[(uint64_t)id];
}

static int acct_find(const struct sim *s, ortak_u128 id) {
    uint64_t lo = (uint64_t)id;
    if ((uint64_t)(id >> 64) != ACC_HI || lo < 1 || lo > s->acct_count) return -1;
    return (int)(lo - 1);
}

static void bic11(const char *bic, char out[12]) {
    size_t n = strnlen(bic, 11);
    memcpy(out, bic, n);
    if (n == 8) {
        memcpy(out + 8, "XXX", 3);
        n = 11;
    }
    out[n] = '\0';
}

/* A BIC8 and its BIC11 with branch XXX name the same participant. */
static int part_find(const struct sim *s, const char *bic) {
    char key[12], other[12];
    bic11(bic, key);
    for (uint32_t i = 0; i < s->part_count; i++) {
        bic11(s->parts[i].bic, other);
        if (strcmp(key, other) == 0) return (int)i;
    }
    return -1;
}

/* The idempotency comparison: every field of the transfer takes part. */
static bool same_fields(const struct ortak_transfer *a, const struct ortak_transfer *b) {
    return a->id == b->id && a->debit_account_id == b->debit_account_id &&
           a->credit_account_id == b->credit_account_id && a->pending_id == b->pending_id &&
           a->user_data == b->user_data && a->amount == b->amount && a->timeout_s == b->timeout_s &&
           a->flags == b->flags && a->code == b->code;
}

/* available = balance - debits_pending + credit_line - reserved; USE_RESERVED may draw on the reservation. */
static ortak_i128 m_avail(const struct m_account *a, bool use_reserved) {
    ortak_i128 v = a->b.cp - a->b.dp - a->b.dpend + a->credit_line;
    return use_reserved ? v : v - a->reserved;
}

static bool part_active(const struct sim *s, const struct m_account *a) {
    return s->parts[a->participant].status == ORTAK_PARTICIPANT_ACTIVE;
}

/* ---- model bookkeeping: undo log (oracle), heap of timeouts, open list ------------------------------------------ */

static void touch_acct(struct sim *s, uint32_t a) {
    if (!s->tentative) return;
    CHECK(s, s->ua_len < sizeof s->ua / sizeof s->ua[0], "model undo log full");
    s->ua[s->ua_len++] = (struct undo_acct){.a = a, .pending_count = s->accts[a].pending_count, .b = s->accts[a].b};
}

static void touch_reg(struct sim *s, struct m_transfer *m) {
    if (!s->tentative) return;
    CHECK(s, s->ur_len < sizeof s->ur / sizeof s->ur[0], "model undo log full");
    s->ur[s->ur_len].k = (uint32_t)(m - s->reg);
    s->ur[s->ur_len++].old = *m;
}

static void undo_begin(struct sim *s) {
    s->tentative = true;
    s->ua_len = s->ur_len = 0;
    s->saved_count = s->transfer_count;
    s->saved_open = s->open_count;
}

static void undo_rollback(struct sim *s) {
    while (s->ur_len > 0) {
        const struct undo_reg *u = &s->ur[--s->ur_len];
        s->reg[u->k] = u->old;
    }
    while (s->ua_len > 0) {
        const struct undo_acct *u = &s->ua[--s->ua_len];
        s->accts[u->a].b = u->b;
        s->accts[u->a].pending_count = u->pending_count;
    }
    s->transfer_count = s->saved_count;
    s->open_count = s->saved_open;
    s->tentative = false;
}

static bool heap_less(const struct heap_entry *a, const struct heap_entry *b) {
    return a->expires_at != b->expires_at ? a->expires_at < b->expires_at : a->index < b->index;
}

static void heap_push(struct sim *s, struct heap_entry x) {
    CHECK(s, s->heap_len < s->reg_cap, "model heap full");
    uint32_t pos = s->heap_len++;
    while (pos > 0 && heap_less(&x, &s->heap[(pos - 1) / 2])) {
        s->heap[pos] = s->heap[(pos - 1) / 2];
        pos = (pos - 1) / 2;
    }
    s->heap[pos] = x;
}

static void heap_pop(struct sim *s) {
    struct heap_entry last = s->heap[--s->heap_len];
    uint32_t pos = 0;
    for (;;) {
        uint32_t child = 2 * pos + 1;
        if (child >= s->heap_len) break;
        if (child + 1 < s->heap_len && heap_less(&s->heap[child + 1], &s->heap[child])) child++;
        if (!heap_less(&s->heap[child], &last)) break;
        s->heap[pos] = s->heap[child];
        pos = child;
    }
    if (s->heap_len > 0) s->heap[pos] = last;
}

/* The next open pending transfer due at `now` in the engine's order (expires_at, recording order), or NULL. */
static struct m_transfer *heap_due(struct sim *s, ortak_time_ns now) {
    while (s->heap_len > 0) {
        const struct heap_entry *top = &s->heap[0];
        struct m_transfer *p = &s->reg[top->k];
        if (p->pending_state != ORTAK_PENDING_STATE_OPEN) {
            heap_pop(s); /* posted or voided since: a stale entry */
            continue;
        }
        if (top->expires_at > now) return NULL;
        heap_pop(s);
        return p;
    }
    return NULL;
}

static void open_add(struct sim *s, struct m_transfer *p) {
    p->open_pos = s->open_len;
    s->open[s->open_len++] = (uint32_t)(p - s->reg);
    if (s->open_len > s->st.open_max) s->st.open_max = s->open_len;
}

static void open_remove(struct sim *s, struct m_transfer *p) {
    uint32_t pos = p->open_pos, last = s->open[--s->open_len];
    s->open[pos] = last;
    s->reg[last].open_pos = pos;
    p->open_pos = NONE32;
    s->closed_p[s->closed_p_n++ % CLOSED_RING] = (uint32_t)(p - s->reg);
}

/* ---- model updates: what an OK transfer does ------------------------------------------------------------------- */

/* Records transfer `t` with outcome `rc`: the id must not be recorded yet (a transfer id is recorded at most once). */
static struct m_transfer *reg_record(struct sim *s, const struct ortak_transfer *t, ortak_time_ns now, ortak_rc rc) {
    struct m_transfer *m = reg_find(s, t->id);
    char h[33];
    CHECK(s, m != NULL && !m->recorded, "model: id %s recorded twice", hex(t->id, h));
    touch_reg(s, m);
    memset(m, 0, sizeof *m);
    m->t = *t;
    m->timestamp = now;
    m->rc = (uint16_t)rc;
    m->recorded = true;
    m->index = s->transfer_count++;
    m->open_pos = NONE32;
    m->debit = m->credit = NONE16;
    return m;
}

/* Releases an open hold from both accounts (post, void, expiry). */
static void release_hold(struct sim *s, struct m_transfer *p) {
    struct m_account *d = &s->accts[p->debit], *c = &s->accts[p->credit];
    touch_acct(s, p->debit);
    touch_acct(s, p->credit);
    touch_reg(s, p);
    d->b.dpend -= p->amount_booked;
    c->b.cpend -= p->amount_booked;
    d->pending_count--;
    c->pending_count--;
    s->open_count--;
}

static void book_resolve(struct sim *s, const struct ortak_transfer *t, ortak_time_ns now) {
    struct m_transfer *p = reg_find(s, t->pending_id);
    release_hold(s, p);
    uint64_t amount = 0;
    if (t->flags & ORTAK_TRANSFER_POST_PENDING) {
        amount = t->amount ? t->amount : p->amount_booked;
        s->accts[p->debit].b.dp += amount;
        s->accts[p->credit].b.cp += amount;
        p->pending_state = ORTAK_PENDING_STATE_POSTED;
    } else {
        p->pending_state = ORTAK_PENDING_STATE_VOIDED;
    }
    if (!s->tentative) {
        open_remove(s, p);
        s->postings += amount ? 2 : 0;
        (t->flags & ORTAK_TRANSFER_POST_PENDING) ? s->st.posted++ : s->st.voided++;
    }
    struct m_transfer *m = reg_record(s, t, now, ORTAK_OK);
    m->debit = p->debit;
    m->credit = p->credit;
    m->amount_booked = amount; /* a void moves nothing */
}

/* Applies the effect of transfer `t`, which the engine booked (or, tentatively, which the oracle expects to book). */
static void book(struct sim *s, const struct ortak_transfer *t, ortak_time_ns now) {
    if (t->flags & RESOLVES) {
        book_resolve(s, t, now);
        return;
    }
    uint32_t d = (uint32_t)acct_find(s, t->debit_account_id), c = (uint32_t)acct_find(s, t->credit_account_id);
    bool pending = (t->flags & ORTAK_TRANSFER_PENDING) != 0;
    touch_acct(s, d);
    touch_acct(s, c);
    if (pending) {
        s->accts[d].b.dpend += t->amount;
        s->accts[c].b.cpend += t->amount;
        s->accts[d].pending_count++;
        s->accts[c].pending_count++;
        s->open_count++;
    } else {
        s->accts[d].b.dp += t->amount;
        s->accts[c].b.cp += t->amount;
        if (!s->tentative) s->postings += 2;
    }
    struct m_transfer *m = reg_record(s, t, now, ORTAK_OK);
    m->debit = (uint16_t)d;
    m->credit = (uint16_t)c;
    m->amount_booked = t->amount;
    if (!pending) return;
    m->pending_state = ORTAK_PENDING_STATE_OPEN;
    m->expires_at = t->timeout_s ? now + (uint64_t)t->timeout_s * ORTAK_NS_PER_S : 0;
    if (s->tentative) return;
    open_add(s, m);
    if (m->expires_at) heap_push(s, (struct heap_entry){m->expires_at, m->index, (uint32_t)(m - s->reg)});
}

/* ---- the oracle: the result the engine must give ---------------------------------------------------------------- */

/* Failures that say nothing about the transfer itself are not recorded, so that a retry may succeed. */
static bool rc_recordable(ortak_rc rc) {
    switch (rc) {
    case ORTAK_TRANSFER_ID_INVALID:
    case ORTAK_TRANSFER_EXISTS_DIFFERENT:
    case ORTAK_TRANSFERS_FULL:
    case ORTAK_PENDINGS_FULL:
    case ORTAK_TIME_BACKWARDS:
    case ORTAK_LINKED_CHAIN_OPEN: return false;
    default: return true;
    }
}

static ortak_rc predict_fields(const struct ortak_transfer *t) {
    unsigned kind = t->flags & (ORTAK_TRANSFER_PENDING | RESOLVES);
    if ((t->flags & ~ORTAK_TRANSFER_FLAGS_ALL) || (kind & (kind - 1))) return ORTAK_FLAGS_INVALID;
    bool resolves = (t->flags & RESOLVES) != 0;
    if (resolves ? !id_valid(t->pending_id) : t->pending_id != 0) return ORTAK_PENDING_ID_INVALID;
    if (t->timeout_s != 0 && !(t->flags & ORTAK_TRANSFER_PENDING)) return ORTAK_TIMEOUT_INVALID;
    if (t->amount > ORTAK_AMOUNT_MAX) return ORTAK_AMOUNT_OVERFLOW;
    if (!resolves && t->amount == 0) return ORTAK_AMOUNT_ZERO;
    return ORTAK_OK;
}

static ortak_rc predict_resolve(const struct sim *s, const struct ortak_transfer *t, ortak_time_ns now) {
    const struct m_transfer *p = reg_find(s, t->pending_id);
    if (!p || !p->recorded) return ORTAK_PENDING_NOT_FOUND;
    if (p->rc != ORTAK_OK || !(p->t.flags & ORTAK_TRANSFER_PENDING)) return ORTAK_PENDING_NOT_PENDING;
    if (p->pending_state == ORTAK_PENDING_STATE_POSTED) return ORTAK_PENDING_ALREADY_POSTED;
    if (p->pending_state == ORTAK_PENDING_STATE_VOIDED) return ORTAK_PENDING_ALREADY_VOIDED;
    if (p->pending_state == ORTAK_PENDING_STATE_EXPIRED) return ORTAK_PENDING_EXPIRED;
    /* Expired by time even when the expiry has not been processed yet (inside a chain). */
    if (p->expires_at && p->expires_at <= now) return ORTAK_PENDING_EXPIRED;
    if ((t->debit_account_id && t->debit_account_id != s->accts[p->debit].id) ||
        (t->credit_account_id && t->credit_account_id != s->accts[p->credit].id))
        return ORTAK_PENDING_DIFFERENT;
    if (t->amount > p->amount_booked) return ORTAK_PENDING_AMOUNT_EXCEEDS;
    if ((t->flags & ORTAK_TRANSFER_VOID_PENDING) && t->amount != 0 && t->amount != p->amount_booked)
        return ORTAK_PENDING_DIFFERENT;
    if (s->transfer_count >= s->p.transfers_max) return ORTAK_TRANSFERS_FULL;
    return ORTAK_OK;
}

static ortak_rc predict_accounts(const struct sim *s, const struct ortak_transfer *t, int *dr, int *cr) {
    if (!id_valid(t->debit_account_id)) return ORTAK_ACCOUNT_ID_INVALID;
    if ((*dr = acct_find(s, t->debit_account_id)) < 0) return ORTAK_ACCOUNT_NOT_FOUND;
    if (!id_valid(t->credit_account_id)) return ORTAK_ACCOUNT_ID_INVALID;
    if ((*cr = acct_find(s, t->credit_account_id)) < 0) return ORTAK_ACCOUNT_NOT_FOUND;
    if (*dr == *cr) return ORTAK_SAME_ACCOUNT;
    const struct m_account *d = &s->accts[*dr], *c = &s->accts[*cr];
    if (d->currency != c->currency) return ORTAK_CURRENCY_MISMATCH;
    if (d->status != ORTAK_ACCOUNT_STATUS_ACTIVE || c->status != ORTAK_ACCOUNT_STATUS_ACTIVE)
        return ORTAK_ACCOUNT_CLOSED;
    if (!part_active(s, d) || !part_active(s, c)) return ORTAK_PARTICIPANT_NOT_ACTIVE;
    return ORTAK_OK;
}

static ortak_rc predict_new(const struct sim *s, const struct ortak_transfer *t, ortak_time_ns now) {
    int dr = -1, cr = -1;
    ortak_rc rc = predict_accounts(s, t, &dr, &cr);
    if (rc != ORTAK_OK) return rc;
    const struct m_account *d = &s->accts[dr], *c = &s->accts[cr];
    /* A collateral account's reservation is pledged to net settlement: no command may spend it. */
    if ((t->flags & ORTAK_TRANSFER_USE_RESERVED) && d->kind == ORTAK_ACCOUNT_COLLATERAL) return ORTAK_FLAGS_INVALID;
    ortak_i128 amount = (ortak_i128)t->amount;
    bool pending = (t->flags & ORTAK_TRANSFER_PENDING) != 0;
    if (d->kind != ORTAK_ACCOUNT_ISSUANCE && m_avail(d, (t->flags & ORTAK_TRANSFER_USE_RESERVED) != 0) < amount)
        return ORTAK_INSUFFICIENT_FUNDS;
    ortak_i128 dfield = pending ? d->b.dpend : d->b.dp, cfield = pending ? c->b.cpend : c->b.cp;
    if (dfield > BALANCE_MAX - amount || cfield > BALANCE_MAX - amount) return ORTAK_BALANCE_OVERFLOW;
    if (pending && t->timeout_s && now > UINT64_MAX - (uint64_t)t->timeout_s * ORTAK_NS_PER_S)
        return ORTAK_TIMEOUT_INVALID;
    if (pending && s->open_count >= s->p.pending_max) return ORTAK_PENDINGS_FULL;
    if (s->transfer_count >= s->p.transfers_max) return ORTAK_TRANSFERS_FULL;
    return ORTAK_OK;
}

/* The outcome of one transfer in the model's current state; *replayed when it repeats a recorded id exactly. */
static ortak_rc predict_transfer(const struct sim *s, const struct ortak_transfer *t, ortak_time_ns now,
                                 bool *replayed) {
    *replayed = false;
    if (!id_valid(t->id)) return ORTAK_TRANSFER_ID_INVALID;
    const struct m_transfer *m = reg_find(s, t->id);
    if (m && m->recorded) {
        if (!same_fields(&m->t, t)) return ORTAK_TRANSFER_EXISTS_DIFFERENT;
        *replayed = true;
        return (ortak_rc)m->rc;
    }
    ortak_rc rc = predict_fields(t);
    if (rc != ORTAK_OK) return rc;
    return (t->flags & RESOLVES) ? predict_resolve(s, t, now) : predict_new(s, t, now);
}

static struct ortak_result result_of(ortak_rc rc, uint32_t flags) {
    return (struct ortak_result){.rc = (uint32_t)rc, .flags = flags, .fail_index = NONE32};
}

/* Records a refusal (settle_failed_chain made sure there is room for every member) at engine time `now`. */
static void record_failure(struct sim *s, uint32_t k, ortak_time_ns now, ortak_rc rc) {
    CHECK(s, s->transfer_count < s->p.transfers_max, "model: no room to record a refusal");
    reg_record(s, &s->cmds[k].u.transfer, now, rc);
}

/* After a chain failed: what another member reports, and the failure it records (when the failure is recorded). */
static void settle_member(struct sim *s, uint32_t k, ortak_time_ns now, bool record, struct ortak_result *r) {
    const struct ortak_transfer *t = &s->cmds[k].u.transfer;
    const struct m_transfer *m = id_valid(t->id) ? reg_find(s, t->id) : NULL;
    if (m && m->recorded) {
        *r = same_fields(&m->t, t) ? result_of((ortak_rc)m->rc, ORTAK_RESULT_REPLAYED)
                                   : result_of(ORTAK_LINKED_EVENT_FAILED, 0);
        return;
    }
    *r = result_of(ORTAK_LINKED_EVENT_FAILED, 0);
    if (record && id_valid(t->id)) record_failure(s, k, now, ORTAK_LINKED_EVENT_FAILED);
}

/* Returns engine time after the chain: members after the failing one move it on although they are not applied. */
static ortak_time_ns settle_failed_chain(struct sim *s, uint32_t i, uint32_t end, uint32_t fail, bool fail_replayed,
                                         ortak_time_ns now) {
    ortak_rc fail_rc = (ortak_rc)s->exp[fail].rc;
    bool record = !fail_replayed && rc_recordable(fail_rc);
    /* No room to record the whole chain's failures: the transient TRANSFERS_FULL, nothing recorded. */
    if (record && s->p.transfers_max - s->transfer_count < end - i + 1) {
        record = false;
        s->exp[fail] = result_of(ORTAK_TRANSFERS_FULL, 0);
    }
    for (uint32_t k = i; k <= end; k++) {
        if (k > fail && s->cmds[k].timestamp > now) now = s->cmds[k].timestamp;
        if (k == fail) {
            if (record) record_failure(s, k, now, fail_rc);
        } else {
            settle_member(s, k, now, record, &s->exp[k]);
        }
        if (end > i) s->exp[k].fail_index = fail;
    }
    return now;
}

/*
 * Predicts the results of the chain cmds[i..end] into s->exp: members are tried in order on the model (changes
 * logged), the first failure stops the chain, and every tried change is undone; the model is updated later, from
 * the engine's results. A failed chain's recorded failures go into the registry here. Returns the failing index.
 */
static uint32_t predict_chain(struct sim *s, uint32_t i, uint32_t end) {
    uint32_t fail = NONE32;
    bool fail_replayed = false;
    ortak_time_ns now = s->now;
    undo_begin(s);
    for (uint32_t k = i; k <= end; k++) {
        const struct ortak_transfer *t = &s->cmds[k].u.transfer;
        bool replayed = false;
        ortak_rc rc = ORTAK_TIME_BACKWARDS;
        if (s->cmds[k].timestamp >= now) {
            now = s->cmds[k].timestamp; /* members after the first move time on, without expiring holds */
            rc = predict_transfer(s, t, now, &replayed);
        }
        s->exp[k] = result_of(rc, replayed ? ORTAK_RESULT_REPLAYED : 0);
        if (rc != ORTAK_OK) {
            fail = k;
            fail_replayed = replayed;
            break;
        }
        if (!replayed) book(s, t, now);
    }
    if (fail == NONE32 && (s->cmds[end].u.transfer.flags & ORTAK_TRANSFER_LINKED)) {
        fail = end;
        s->exp[end] = result_of(ORTAK_LINKED_CHAIN_OPEN, 0);
    }
    undo_rollback(s);
    if (fail != NONE32) now = settle_failed_chain(s, i, end, fail, fail_replayed, now);
    s->now = now;
    return fail;
}

/* ---- checking one batch: results, events, model updates ------------------------------------------------------- */

static const struct ortak_event *next_event(struct sim *s, uint32_t index, uint32_t kind, ortak_time_ns ts) {
    CHECK(s, s->ev_pos < s->ev_n, "event of kind %u for command %u missing (%u events)", kind, index, s->ev_n);
    const struct ortak_event *ev = &s->ev[s->ev_pos++];
    CHECK(s, ev->kind == kind && ev->command_index == index && ev->timestamp == ts,
          "event %u: kind %u command %u at %" PRIu64 ", model expects kind %u command %u at %" PRIu64, s->ev_pos - 1,
          ev->kind, ev->command_index, ev->timestamp, kind, index, ts);
    return ev;
}

/* No event may name a command up to `index` beyond those already matched. */
static void no_more_events(struct sim *s, uint32_t index) {
    CHECK(s, s->ev_pos >= s->ev_n || s->ev[s->ev_pos].command_index > index,
          "unexpected event of kind %u for command %u", s->ev_pos < s->ev_n ? s->ev[s->ev_pos].kind : 0,
          s->ev_pos < s->ev_n ? s->ev[s->ev_pos].command_index : 0);
}

static void check_event_accounts(struct sim *s, const struct ortak_event *ev, const struct m_transfer *m, ortak_u128 id,
                                 ortak_u128 ref, uint64_t amount) {
    char a[33];
    CHECK(s,
          ev->id == id && ev->ref == ref && ev->debit_account_id == s->accts[m->debit].id &&
              ev->credit_account_id == s->accts[m->credit].id && ev->amount == (int64_t)amount,
          "event for %s differs from the booking (amount %" PRId64 ", model %" PRIu64 ")", hex(id, a), ev->amount,
          amount);
}

/* Before command `i` applies, every hold due at its timestamp expires, in (expires_at, recording order). */
static void expect_expiries(struct sim *s, uint32_t i) {
    struct m_transfer *p;
    while ((p = heap_due(s, s->now)) != NULL) {
        const struct ortak_event *ev = next_event(s, i, ORTAK_EV_PENDING_EXPIRED, s->now);
        check_event_accounts(s, ev, p, p->t.id, 0, p->amount_booked);
        release_hold(s, p);
        p->pending_state = ORTAK_PENDING_STATE_EXPIRED;
        open_remove(s, p);
        s->st.expired++;
    }
    CHECK(s,
          s->ev_pos >= s->ev_n || s->ev[s->ev_pos].kind != ORTAK_EV_PENDING_EXPIRED ||
              s->ev[s->ev_pos].command_index != i,
          "the engine expired a hold the model does not see as due at %" PRIu64, s->now);
}

static void compare_result(struct sim *s, uint32_t k) {
    const struct ortak_result *r = &s->res[k], *x = &s->exp[k];
    s->cur = k;
    CHECK(s, r->rc == x->rc && r->flags == x->flags && r->fail_index == x->fail_index,
          "result of command %u differs from the model: engine %s flags 0x%x fail_index %u, model %s flags 0x%x "
          "fail_index %u",
          k, ortak_rc_name((ortak_rc)r->rc), r->flags, r->fail_index, ortak_rc_name((ortak_rc)x->rc), x->flags,
          x->fail_index);
    s->st.rc[r->rc < ORTAK_RC_COUNT_ ? r->rc : 0]++;
}

/* Invariant 5 on the engine's own results: a chain is booked whole or not at all, and says where it failed. */
static void check_chain_atomic(struct sim *s, uint32_t i, uint32_t end) {
    uint32_t ok_new = 0, failed = 0, f = s->res[i].fail_index;
    for (uint32_t k = i; k <= end; k++) {
        if (s->res[k].rc != ORTAK_OK)
            failed++;
        else if (!(s->res[k].flags & ORTAK_RESULT_REPLAYED))
            ok_new++;
    }
    s->cur = i;
    CHECK(s, failed == 0 || ok_new == 0, "linked chain %u..%u partly booked: %u new bookings, %u failures", i, end,
          ok_new, failed);
    if (end == i) return;
    for (uint32_t k = i; k <= end; k++) {
        CHECK(s, s->res[k].fail_index == (failed ? f : NONE32), "chain %u..%u: member %u names fail_index %u", i, end,
              k, s->res[k].fail_index);
    }
    if (!failed) return;
    /* The failing member reports its own code (a replay reports the first outcome, which may be LINKED_EVENT_FAILED).
     */
    CHECK(s,
          f >= i && f <= end && s->res[f].rc != ORTAK_OK &&
              (s->res[f].rc != ORTAK_LINKED_EVENT_FAILED || (s->res[f].flags & ORTAK_RESULT_REPLAYED)),
          "chain %u..%u: fail_index %u does not name a failing member", i, end, f);
    for (uint32_t k = i; k <= end; k++) {
        CHECK(s, k == f || s->res[k].rc == ORTAK_LINKED_EVENT_FAILED || (s->res[k].flags & ORTAK_RESULT_REPLAYED),
              "chain %u..%u failed at %u but member %u reports %s", i, end, f, k,
              ortak_rc_name((ortak_rc)s->res[k].rc));
    }
}

static uint32_t booking_event_kind(uint16_t flags) {
    if (flags & ORTAK_TRANSFER_POST_PENDING) return ORTAK_EV_PENDING_POSTED;
    if (flags & ORTAK_TRANSFER_VOID_PENDING) return ORTAK_EV_PENDING_VOIDED;
    return (flags & ORTAK_TRANSFER_PENDING) ? ORTAK_EV_PENDING_CREATED : ORTAK_EV_TRANSFER_POSTED;
}

/* Model update from an OK result: a new booking (never a second one for the id) and its one event. */
static void book_member(struct sim *s, uint32_t k) {
    const struct ortak_transfer *t = &s->cmds[k].u.transfer;
    char h[33];
    s->cur = k;
    if (s->res[k].flags & ORTAK_RESULT_REPLAYED) {
        s->st.replayed++;
        return;
    }
    const struct m_transfer *m = reg_find(s, t->id);
    CHECK(s, m != NULL && !m->recorded, "id %s booked OK a second time without ORTAK_RESULT_REPLAYED", hex(t->id, h));
    book(s, t, s->cmds[k].timestamp);
    s->st.transfers_ok++;
    const struct ortak_event *ev = next_event(s, k, booking_event_kind(t->flags), s->cmds[k].timestamp);
    if (!(t->flags & RESOLVES)) {
        check_event_accounts(s, ev, m, t->id, 0, t->amount);
        return;
    }
    const struct m_transfer *p = reg_find(s, t->pending_id);
    uint64_t amount = (t->flags & ORTAK_TRANSFER_POST_PENDING) ? m->amount_booked : p->amount_booked;
    check_event_accounts(s, ev, p, t->id, t->pending_id, amount);
}

static uint32_t chain_last(const struct sim *s, uint32_t i) {
    while ((s->cmds[i].u.transfer.flags & ORTAK_TRANSFER_LINKED) && i + 1 < s->n &&
           s->cmds[i + 1].kind == ORTAK_CMD_TRANSFER)
        i++;
    return i;
}

static uint32_t check_chain(struct sim *s, uint32_t i) {
    uint32_t end = chain_last(s, i);
    uint32_t fail = predict_chain(s, i, end);
    for (uint32_t k = i; k <= end; k++) compare_result(s, k);
    check_chain_atomic(s, i, end);
    if (end > i) {
        fail == NONE32 ? s->st.chains_ok++ : s->st.chains_failed++;
        if (fail != NONE32 && s->res[fail].rc < ORTAK_RC_COUNT_) s->st.chain_fail[s->res[fail].rc]++;
        s->st.chain_members += end - i + 1;
    }
    if (fail == NONE32) {
        for (uint32_t k = i; k <= end; k++) book_member(s, k);
    }
    no_more_events(s, end);
    return end + 1;
}

static ortak_rc predict_account_change(const struct sim *s, const struct ortak_account_amount *c, bool credit_line) {
    if (!id_valid(c->account_id)) return ORTAK_ACCOUNT_ID_INVALID;
    int a = acct_find(s, c->account_id);
    if (a < 0) return ORTAK_ACCOUNT_NOT_FOUND;
    const struct m_account *m = &s->accts[a];
    if (m->status != ORTAK_ACCOUNT_STATUS_ACTIVE) return ORTAK_ACCOUNT_CLOSED;
    if (m->kind != ORTAK_ACCOUNT_SETTLEMENT) return ORTAK_KIND_NOT_ALLOWED;
    if (c->amount < 0) return ORTAK_NEGATIVE_AMOUNT;
    /* The floor must hold under the new line. */
    if (credit_line && m->b.cp - m->b.dp - m->b.dpend + c->amount < 0) return ORTAK_CREDIT_LINE_IN_USE;
    return ORTAK_OK;
}

static ortak_rc predict_close(const struct sim *s, const struct ortak_account_amount *c) {
    if (!id_valid(c->account_id)) return ORTAK_ACCOUNT_ID_INVALID;
    int a = acct_find(s, c->account_id);
    if (a < 0) return ORTAK_ACCOUNT_NOT_FOUND;
    const struct m_account *m = &s->accts[a];
    if (m->status != ORTAK_ACCOUNT_STATUS_ACTIVE) return ORTAK_ACCOUNT_CLOSED;
    if (m->b.cp != m->b.dp || m->b.dpend != 0 || m->b.cpend != 0 || m->credit_line != 0 || m->reserved != 0)
        return ORTAK_ACCOUNT_NOT_EMPTY;
    return ORTAK_OK;
}

static ortak_rc predict_status(const struct sim *s, const struct ortak_participant_set_status *c) {
    if (!ortak_bic_valid(c->bic)) return ORTAK_BIC_INVALID;
    int p = part_find(s, c->bic);
    if (p < 0) return ORTAK_PARTICIPANT_NOT_FOUND;
    if (c->status < ORTAK_PARTICIPANT_ACTIVE || c->status > ORTAK_PARTICIPANT_CLOSED) return ORTAK_STATUS_INVALID;
    if (s->parts[p].status == ORTAK_PARTICIPANT_CLOSED) return ORTAK_STATUS_INVALID; /* closing is final */
    return ORTAK_OK;
}

static ortak_rc predict_other(const struct sim *s, const struct ortak_cmd *c) {
    switch (c->kind) {
    case ORTAK_CMD_TICK: return ORTAK_OK;
    case ORTAK_CMD_CREDIT_LINE_SET: return predict_account_change(s, &c->u.account, true);
    case ORTAK_CMD_RESERVE_SET: return predict_account_change(s, &c->u.account, false);
    case ORTAK_CMD_ACCOUNT_CLOSE: return predict_close(s, &c->u.account);
    case ORTAK_CMD_PARTICIPANT_SET_STATUS: return predict_status(s, &c->u.participant_status);
    default: return ORTAK_COMMAND_UNKNOWN;
    }
}

static void apply_amount_change(struct sim *s, uint32_t i, uint32_t kind, int64_t *field) {
    const struct ortak_account_amount *c = &s->cmds[i].u.account;
    const struct ortak_event *ev = next_event(s, i, kind, s->now);
    CHECK(s, ev->id == c->account_id && ev->amount == c->amount && ev->amount_old == *field,
          "amount event: new %" PRId64 " old %" PRId64 ", model new %" PRId64 " old %" PRId64, ev->amount,
          ev->amount_old, c->amount, *field);
    *field = c->amount;
}

/* Closed accounts, and those of a closed participant, leave ordinary traffic (they would only collect refusals). */
static void retire_account(struct sim *s, uint32_t a) {
    uint32_t c = s->accts[a].currency;
    for (uint32_t j = 0; j < s->traffic_len[c]; j++) {
        if (s->traffic[c][j] == a) {
            s->traffic[c][j] = s->traffic[c][--s->traffic_len[c]];
            return;
        }
    }
}

static void retire_accounts(struct sim *s, uint32_t p) {
    for (uint32_t a = 0; a < s->acct_count; a++) {
        if (s->accts[a].participant == p) retire_account(s, a);
    }
}

/* Model update from an OK non-transfer command, with its event. */
static void apply_other(struct sim *s, uint32_t i) {
    const struct ortak_cmd *c = &s->cmds[i];
    int a = acct_find(s, c->u.account.account_id);
    if (c->kind == ORTAK_CMD_CREDIT_LINE_SET) {
        apply_amount_change(s, i, ORTAK_EV_CREDIT_LINE_SET, &s->accts[a].credit_line);
    } else if (c->kind == ORTAK_CMD_RESERVE_SET) {
        apply_amount_change(s, i, ORTAK_EV_RESERVE_SET, &s->accts[a].reserved);
    } else if (c->kind == ORTAK_CMD_ACCOUNT_CLOSE) {
        const struct ortak_event *ev = next_event(s, i, ORTAK_EV_ACCOUNT_CLOSED, s->now);
        CHECK(s, ev->id == c->u.account.account_id, "account-closed event names another account");
        s->accts[a].status = ORTAK_ACCOUNT_STATUS_CLOSED;
        s->closed[s->closed_len++] = (uint32_t)a;
        retire_account(s, (uint32_t)a);
    } else if (c->kind == ORTAK_CMD_PARTICIPANT_SET_STATUS) {
        const struct ortak_event *ev = next_event(s, i, ORTAK_EV_PARTICIPANT_STATUS, s->now);
        CHECK(s, ev->status == c->u.participant_status.status, "participant event status %u", ev->status);
        int p = part_find(s, c->u.participant_status.bic);
        s->parts[p].status = c->u.participant_status.status;
        if (s->parts[p].status == ORTAK_PARTICIPANT_CLOSED) retire_accounts(s, (uint32_t)p);
    }
}

static void check_other(struct sim *s, uint32_t i) {
    bool late = s->cmds[i].timestamp < s->now;
    s->exp[i] = result_of(late ? ORTAK_TIME_BACKWARDS : predict_other(s, &s->cmds[i]), 0);
    compare_result(s, i);
    if (s->res[i].rc == ORTAK_OK) apply_other(s, i);
    no_more_events(s, i);
}

/* Walks the batch as the engine does: time and expiry before each command, linked chains as units. */
static void check_batch(struct sim *s) {
    uint32_t i = 0;
    s->latest = s->now;
    while (i < s->n) {
        const struct ortak_cmd *c = &s->cmds[i];
        s->cur = i;
        if (c->timestamp >= s->now) { /* a command from the past neither moves time nor expires anything */
            s->now = c->timestamp;
            expect_expiries(s, i);
        }
        if (c->kind == ORTAK_CMD_TRANSFER) {
            i = check_chain(s, i);
        } else {
            check_other(s, i);
            i++;
        }
    }
    s->cur = NONE32;
    CHECK(s, s->ev_pos == s->ev_n, "%u events left unmatched by the model", s->ev_n - s->ev_pos);
    for (uint32_t k = 0; k < s->n; k++) {
        if (s->res[k].rc != ORTAK_TIME_BACKWARDS && s->cmds[k].timestamp > s->latest) s->latest = s->cmds[k].timestamp;
    }
}

/* ---- checking the state after a batch --------------------------------------------------------------------------- */

static void check_account(struct sim *s, uint32_t a, const struct ortak_account_info *x) {
    const struct m_account *m = &s->accts[a];
    char h[33], v1[41], v2[41], v3[41];
    CHECK(s,
          x->id == m->id && x->kind == m->kind && x->status == m->status &&
              strcmp(x->currency, CUR_CODE[m->currency]) == 0,
          "account %u (%s) differs in id, kind, status or currency", a, hex(m->id, h));
    /* Invariant 2: the floor. */
    CHECK(s, x->kind == ORTAK_ACCOUNT_ISSUANCE || x->balance - x->debits_pending + x->credit_line >= 0,
          "account %s below its floor: balance %s, debits pending %s, credit line %" PRId64, hex(m->id, h),
          dec(x->balance, v1), dec(x->debits_pending, v2), x->credit_line);
    CHECK(s,
          x->balance == x->credits_posted - x->debits_posted &&
              x->available == x->balance - x->debits_pending + x->credit_line - x->reserved,
          "account %s: balance or available inconsistent with its parts", hex(m->id, h));
    /* Invariant 3: the engine's balances are exactly those the reported results and events imply. */
    CHECK(s,
          x->debits_posted == m->b.dp && x->credits_posted == m->b.cp && x->debits_pending == m->b.dpend &&
              x->credits_pending == m->b.cpend,
          "account %s differs from the model: balance %s (model %s), debits pending %s (model %s)", hex(m->id, h),
          dec(x->balance, v1), dec(m->b.cp - m->b.dp, v2), dec(x->debits_pending, v3), dec(m->b.dpend, v1));
    CHECK(s, x->credit_line == m->credit_line && x->reserved == m->reserved && x->pending_count == m->pending_count,
          "account %s differs from the model: credit line %" PRId64 " (%" PRId64 "), reserved %" PRId64 " (%" PRId64
          "), pending count %u (%u)",
          hex(m->id, h), x->credit_line, m->credit_line, x->reserved, m->reserved, x->pending_count, m->pending_count);
}

static void check_accounts(struct sim *s) {
    const struct ortak_ledger *l = ortak_engine_ledger(s->e);
    ortak_i128 posted[NCUR] = {0}, pending[NCUR] = {0};
    char v1[41], v2[41];
    CHECK(s, ortak_ledger_account_count(l) == s->acct_count, "account count %u", ortak_ledger_account_count(l));
    for (uint32_t a = 0; a < s->acct_count; a++) {
        struct ortak_account_info x;
        ortak_ledger_account_at(l, a, &x);
        check_account(s, a, &x);
        posted[s->accts[a].currency] += x.credits_posted - x.debits_posted;
        pending[s->accts[a].currency] += x.credits_pending - x.debits_pending;
    }
    /* Invariant 1: money is neither created nor destroyed inside a currency. */
    for (uint32_t c = 0; c < NCUR; c++) {
        CHECK(s, posted[c] == 0 && pending[c] == 0, "%s does not sum to zero: posted %s, pending %s", CUR_CODE[c],
              dec(posted[c], v1), dec(pending[c], v2));
    }
}

static void check_participants(struct sim *s) {
    const struct ortak_ledger *l = ortak_engine_ledger(s->e);
    CHECK(s, ortak_ledger_participant_count(l) == s->part_count, "participant count");
    for (uint32_t i = 0; i < s->part_count; i++) {
        struct ortak_participant_info x;
        ortak_ledger_participant_at(l, i, &x);
        CHECK(s, strcmp(x.bic, s->parts[i].bic) == 0 && x.status == s->parts[i].status,
              "participant %s: status %u, model %u", s->parts[i].bic, x.status, s->parts[i].status);
    }
}

/* Invariant 4: the ledger returns, for an id, exactly the outcome recorded first (or nothing). */
static void check_id(struct sim *s, ortak_u128 id) {
    struct ortak_transfer_info x;
    ortak_rc rc = ortak_ledger_transfer_get(ortak_engine_ledger(s->e), id, &x);
    const struct m_transfer *m = reg_find(s, id);
    char h[33];
    if (!m || !m->recorded) {
        CHECK(s, rc == ORTAK_TRANSFER_NOT_FOUND, "transfer %s is recorded but the model has no record of it",
              hex(id, h));
        return;
    }
    CHECK(s, rc == ORTAK_OK, "transfer %s: %s", hex(id, h), ortak_rc_name(rc));
    CHECK(s,
          same_fields(&x.t, &m->t) && x.rc == m->rc && x.amount_booked == m->amount_booked &&
              x.pending_state == m->pending_state && x.timestamp == m->timestamp,
          "transfer %s: recorded %s booked %" PRIu64 " state %u at %" PRIu64 ", model %s booked %" PRIu64
          " state %u at %" PRIu64,
          hex(id, h), ortak_rc_name(x.rc), x.amount_booked, x.pending_state, x.timestamp,
          ortak_rc_name((ortak_rc)m->rc), m->amount_booked, m->pending_state, m->timestamp);
}

static void check_transfers(struct sim *s) {
    uint32_t count = ortak_ledger_transfer_count(ortak_engine_ledger(s->e));
    CHECK(s, count == s->transfer_count, "transfer count %u, model %u", count, s->transfer_count);
    for (uint32_t i = 0; i < s->n; i++) {
        if (s->cmds[i].kind != ORTAK_CMD_TRANSFER) continue;
        check_id(s, s->cmds[i].u.transfer.id);
        if (s->cmds[i].u.transfer.pending_id) check_id(s, s->cmds[i].u.transfer.pending_id);
    }
    for (uint32_t j = 0; j < SAMPLE_IDS && s->next_k > 0; j++)
        check_id(s, transfer_id(rnd_u32(&s->check_rng, s->next_k)));
}

static void check_state(struct sim *s) {
    s->cur = NONE32;
    check_accounts(s);
    check_participants(s);
    check_transfers(s);
    /* Engine time is the timestamp of the latest command that was not refused as earlier than engine time. */
    ortak_time_ns now = ortak_engine_now(s->e);
    CHECK(s, now == s->now, "engine time %" PRIu64 ", model %" PRIu64 ", latest command %" PRIu64, now, s->now,
          s->latest);
    s->st.time_behind += now != s->latest;
}

/* An account's history in memory: consecutive balances, ending at the balance; complete history sums to it. */
static uint64_t check_history_of(struct sim *s, uint32_t a) {
    const struct m_account *m = &s->accts[a];
    struct ortak_posting page[128];
    uint64_t cursor = 0, count = 0, last_seq = 0;
    ortak_i128 bal = 0, sum = 0, model = m->b.cp - m->b.dp;
    bool truncated = false;
    char h[33], v1[41], v2[41];
    do {
        uint32_t n;
        bool t;
        ortak_rc rc = ortak_ledger_history(ortak_engine_ledger(s->e), m->id, 0, UINT64_MAX, &cursor, page, 128, &n, &t);
        CHECK(s, rc == ORTAK_OK, "history of %s: %s", hex(m->id, h), ortak_rc_name(rc));
        truncated |= t;
        for (uint32_t j = 0; j < n; j++) {
            const struct ortak_posting *p = &page[j];
            int other = acct_find(s, p->counterparty_account_id);
            CHECK(s,
                  (count == 0 || (p->seq > last_seq && p->balance_after == bal + p->amount)) && p->amount != 0 &&
                      other >= 0 && s->accts[other].currency == m->currency,
                  "history of %s broken at posting %" PRIu64, hex(m->id, h), p->seq);
            bal = p->balance_after;
            sum += p->amount;
            last_seq = p->seq;
            count++;
        }
    } while (cursor != 0);
    CHECK(s, count == 0 || bal == model, "history of %s ends at %s, balance %s", hex(m->id, h), dec(bal, v1),
          dec(model, v2));
    CHECK(s, truncated || sum == model, "complete history of %s sums to %s, balance %s", hex(m->id, h), dec(sum, v1),
          dec(model, v2));
    return count;
}

static void check_history(struct sim *s) {
    uint64_t held = 0, expect = s->postings < s->p.history_max ? s->postings : s->p.history_max;
    for (uint32_t a = 0; a < s->acct_count; a++) held += check_history_of(s, a);
    CHECK(s, held == expect, "history holds %" PRIu64 " postings, model expects %" PRIu64, held, expect);
}

static bool event_equal(const struct ortak_event *a, const struct ortak_event *b) {
    return a->timestamp == b->timestamp && a->kind == b->kind && a->command_index == b->command_index &&
           a->id == b->id && a->ref == b->ref && a->debit_account_id == b->debit_account_id &&
           a->credit_account_id == b->credit_account_id && a->amount == b->amount && a->amount_old == b->amount_old &&
           a->status == b->status;
}

/* Invariant 6: the replica, fed the same batch, gives the same results and events. */
static void check_replica(struct sim *s) {
    uint32_t n_b;
    memset(s->res_b, 0x5a, sizeof s->res_b[0] * s->n);
    CHECK(s, ortak_engine_apply(s->replica, s->cmds, s->n, s->res_b) == ORTAK_OK, "replica refused the batch");
    for (uint32_t k = 0; k < s->n; k++) {
        s->cur = k;
        CHECK(s,
              s->res[k].rc == s->res_b[k].rc && s->res[k].flags == s->res_b[k].flags &&
                  s->res[k].fail_index == s->res_b[k].fail_index,
              "replica result differs: %s flags 0x%x", ortak_rc_name((ortak_rc)s->res_b[k].rc), s->res_b[k].flags);
    }
    s->cur = NONE32;
    const struct ortak_event *ev_b = ortak_engine_events(s->replica, &n_b);
    CHECK(s, n_b == s->ev_n, "replica gave %u events, engine %u", n_b, s->ev_n);
    for (uint32_t j = 0; j < n_b; j++) CHECK(s, event_equal(&s->ev[j], &ev_b[j]), "replica event %u differs", j);
}

static void state_hash(struct sim *s, uint8_t out[32]) {
    ortak_engine_state_hash(s->e, out);
    if (!s->replica) return;
    uint8_t other[32];
    ortak_engine_state_hash(s->replica, other);
    s->cur = NONE32;
    CHECK(s, memcmp(out, other, 32) == 0, "replica state hash differs after %" PRIu64 " commands", s->commands);
}

struct buf {
    unsigned char *p;
    size_t len, cap;
    bool oom;
};

static void buf_sink(void *ctx, const void *data, size_t len) {
    struct buf *b = ctx;
    if (b->oom) return;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 1u << 20;
        while (cap < b->len + len) cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
}

/*
 * Invariant 6, snapshots: the live state, encoded and loaded into a new engine (with the replica's hash seed), has
 * the same hash; that engine then replaces the replica, so a restored engine must also behave like the live one.
 */
static void snapshot_roundtrip(struct sim *s, const uint8_t hash[32]) {
    struct buf b = {0};
    struct ortak_engine *loaded = NULL;
    uint8_t h[32];
    ortak_engine_encode(s->e, buf_sink, &b);
    ortak_rc rc = b.oom ? ORTAK_NOMEM : ortak_engine_open_state(ortak_engine_config(s->replica), b.p, b.len, &loaded);
    free(b.p);
    CHECK(s, rc == ORTAK_OK, "the live state (%zu bytes) did not load: %s", b.len, ortak_rc_name(rc));
    ortak_engine_state_hash(loaded, h);
    bool same = memcmp(h, hash, 32) == 0 && ortak_engine_now(loaded) == ortak_engine_now(s->e);
    ortak_engine_close(same ? s->replica : loaded);
    CHECK(s, same, "the loaded state's hash or time differs from the live state's");
    s->replica = loaded;
}

static void checkpoint(struct sim *s) {
    CHECK(s, s->cp_count < CHECKPOINTS + 2, "too many checkpoints");
    state_hash(s, s->cp_hash[s->cp_count]);
    if (s->replica) snapshot_roundtrip(s, s->cp_hash[s->cp_count]);
    s->cp_count++;
    check_history(s);
    for (uint32_t k = 0; k < s->next_k; k++) check_id(s, transfer_id(k));
}

/* ---- the generator ---------------------------------------------------------------------------------------------- */

static ortak_time_ns next_ts(struct sim *s) {
    if (!rnd_chance(&s->rng, 200)) s->clock += rnd_below(&s->rng, 2000000); /* up to 2 ms apart, often equal */
    return s->clock;
}

/* A new command; one in a thousand carries a timestamp from the past (a sequencer bug the engine must refuse). */
static struct ortak_cmd *push_cmd(struct sim *s, uint32_t kind) {
    struct ortak_cmd *c = &s->cmds[s->n++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->timestamp = next_ts(s);
    if (rnd_chance(&s->rng, 1) && s->clock > EPOCH_NS + ORTAK_NS_PER_S)
        c->timestamp -= rnd_range(&s->rng, 1, ORTAK_NS_PER_S);
    return c;
}

static ortak_u128 new_id(struct sim *s) {
    CHECK(s, s->next_k < s->reg_cap, "model registry full");
    return transfer_id(s->next_k++);
}

static void ring_push(struct sim *s, const struct ortak_transfer *t) { s->ring[s->ring_n++ % RING] = *t; }

static const struct ortak_transfer *ring_pick(struct sim *s) {
    uint64_t held = s->ring_n < RING ? s->ring_n : RING;
    return &s->ring[(s->ring_n - 1 - rnd_below(&s->rng, held)) % RING];
}

static uint32_t pick_traffic(struct sim *s, uint32_t cur) {
    return s->traffic[cur][rnd_below(&s->rng, s->traffic_len[cur])];
}

static ortak_u128 ghost_account(struct sim *s) {
    return rnd_chance(&s->rng, 500) ? ORTAK_U128(ACC_HI, MAX_ACCTS + 1 + rnd_below(&s->rng, 1000))
                                    : ORTAK_U128(GHOST_HI, rng_next(&s->rng));
}

static uint64_t spendable(const struct sim *s, ortak_u128 id, bool use_reserved);

/* For chain members that should pass: an account of an active participant with money (best of a few draws). */
static uint32_t pick_payer(struct sim *s, uint32_t cur) {
    uint32_t best = pick_traffic(s, cur);
    for (int i = 0; i < 3; i++) {
        uint32_t a = pick_traffic(s, cur);
        bool active = part_active(s, &s->accts[a]), best_active = part_active(s, &s->accts[best]);
        if ((active && !best_active) ||
            (active == best_active && spendable(s, s->accts[a].id, false) > spendable(s, s->accts[best].id, false)))
            best = a;
    }
    return best;
}

static uint32_t pick_payee(struct sim *s, uint32_t cur, bool sane) {
    uint32_t a = pick_traffic(s, cur);
    for (int i = 0; sane && i < 3 && !part_active(s, &s->accts[a]); i++) a = pick_traffic(s, cur);
    return a;
}

/* Mostly two accounts of one currency; sometimes the central bank's issuance account; sometimes a bad pair. */
static void pick_accounts(struct sim *s, struct ortak_transfer *t, bool sane) {
    uint32_t cur = rnd_u32(&s->rng, NCUR), d = sane ? pick_payer(s, cur) : pick_traffic(s, cur);
    uint32_t c = pick_payee(s, cur, sane);
    if (c == d) c = pick_payee(s, cur, sane);
    unsigned r = rnd_u32(&s->rng, 1000);
    if (r < 60)
        d = s->issuance[cur]; /* liquidity injected */
    else if (r < 90)
        c = s->issuance[cur]; /* liquidity withdrawn */
    t->debit_account_id = s->accts[d].id;
    t->credit_account_id = s->accts[c].id;
    if (sane) return;
    r = rnd_u32(&s->rng, 1000);
    if (r < 30)
        t->credit_account_id = s->accts[pick_traffic(s, (cur + 1 + rnd_u32(&s->rng, NCUR - 1)) % NCUR)].id;
    else if (r < 45)
        *(rnd_chance(&s->rng, 500) ? &t->debit_account_id : &t->credit_account_id) = ghost_account(s);
    else if (r < 60 && s->closed_len)
        t->credit_account_id = s->accts[s->closed[rnd_u32(&s->rng, s->closed_len)]].id;
    else if (r < 65)
        t->credit_account_id = t->debit_account_id;
    else if (r < 69)
        t->debit_account_id = rnd_chance(&s->rng, 500) ? 0 : ORTAK_U128_MAX;
}

/* What the debit account could pay now, as far as the model knows (0..AMOUNT_MAX). */
static uint64_t spendable(const struct sim *s, ortak_u128 id, bool use_reserved) {
    int a = acct_find(s, id);
    if (a < 0) return 1000000;
    if (s->accts[a].kind == ORTAK_ACCOUNT_ISSUANCE) return (uint64_t)TRILLION;
    ortak_i128 v = m_avail(&s->accts[a], use_reserved);
    if (v <= 0) return 0;
    return v > (ortak_i128)ORTAK_AMOUNT_MAX ? ORTAK_AMOUNT_MAX : (uint64_t)v;
}

static uint64_t gen_amount(struct sim *s, const struct ortak_transfer *t, bool sane) {
    uint64_t cap = spendable(s, t->debit_account_id, (t->flags & ORTAK_TRANSFER_USE_RESERVED) != 0);
    unsigned r = rnd_u32(&s->rng, 1000);
    if (sane || r < 450) return 1 + rnd_below(&s->rng, cap / 8 + 1);
    if (r < 570) return rnd_range(&s->rng, 1, 1000);
    if (r < 700) return cap + rnd_below(&s->rng, 3) - (cap > 0); /* the funds boundary: cap - 1, cap, cap + 1 */
    if (r < 760) return rnd_below(&s->rng, UINT64_C(1) << 40);
    if (r < 780) return ORTAK_AMOUNT_MAX;
    if (r < 790) return rnd_chance(&s->rng, 500) ? ORTAK_AMOUNT_MAX + 1 : UINT64_MAX;
    if (r < 810) return 0;
    return 1 + rnd_below(&s->rng, cap + 1);
}

static uint32_t gen_timeout(struct sim *s) {
    unsigned r = rnd_u32(&s->rng, 1000);
    if (r < 400) return (uint32_t)rnd_range(&s->rng, 1, 30);
    if (r < 700) return (uint32_t)rnd_range(&s->rng, 30, 300);
    if (r < 800) return 0; /* never expires */
    if (r < 850) return UINT32_MAX;
    if (r < 900) return 1;
    return (uint32_t)rnd_range(&s->rng, 300, 3600);
}

static void gen_new(struct sim *s, struct ortak_transfer *t, bool pending, bool sane) {
    memset(t, 0, sizeof *t);
    t->id = new_id(s);
    pick_accounts(s, t, sane);
    if (rnd_chance(&s->rng, 150)) t->flags |= ORTAK_TRANSFER_USE_RESERVED;
    t->amount = gen_amount(s, t, sane);
    if (pending) {
        t->flags |= ORTAK_TRANSFER_PENDING;
        t->timeout_s = gen_timeout(s);
    }
    if (rnd_chance(&s->rng, 500)) t->user_data = ORTAK_U128(rng_next(&s->rng), rng_next(&s->rng));
    t->code = (uint16_t)rnd_below(&s->rng, 8);
}

/* An open hold, preferably one that no post or void of the batch being generated targets yet. */
static ortak_u128 pick_open(struct sim *s) {
    uint32_t k = s->open[rnd_u32(&s->rng, s->open_len)];
    for (int tries = 0; tries < 8 && s->reg[k].picked == s->batches + 1; tries++) {
        k = s->open[rnd_u32(&s->rng, s->open_len)];
    }
    s->reg[k].picked = s->batches + 1;
    return transfer_id(k);
}

/* A pending id: mostly an open hold, else a settled one, any recent transfer, an unknown id or none. */
static ortak_u128 pick_pending(struct sim *s, bool sane) {
    unsigned r = sane ? 0 : rnd_u32(&s->rng, 1000);
    uint64_t closed = s->closed_p_n < CLOSED_RING ? s->closed_p_n : CLOSED_RING;
    if (r < 700 && s->open_len) return pick_open(s);
    if (r < 780 && s->open_len) return transfer_id(s->open[rnd_u32(&s->rng, s->open_len)]);
    if (r < 860 && closed) return transfer_id(s->closed_p[rnd_below(&s->rng, closed)]);
    if (r < 930 && s->ring_n) return ring_pick(s)->id;
    if (r < 980) return ORTAK_U128(GHOST_HI, rng_next(&s->rng));
    return 0;
}

/* Post (full, partial, exact, too much) or void of `target` (NULL: pick one); `target` may be in this batch. */
static void gen_resolve(struct sim *s, struct ortak_transfer *t, bool post, const struct ortak_transfer *target,
                        bool sane) {
    memset(t, 0, sizeof *t);
    t->id = new_id(s);
    t->flags = post ? ORTAK_TRANSFER_POST_PENDING : ORTAK_TRANSFER_VOID_PENDING;
    t->pending_id = target ? target->id : pick_pending(s, sane);
    const struct m_transfer *p = reg_find(s, t->pending_id);
    if (!target && p && p->recorded) target = &p->t;
    uint64_t held = target ? target->amount : rnd_range(&s->rng, 1, 1000000);
    unsigned r = sane ? rnd_u32(&s->rng, 800) : rnd_u32(&s->rng, 1000);
    if (r < 450)
        t->amount = 0;
    else if (r < 700)
        t->amount = post ? 1 + rnd_below(&s->rng, held) : held;
    else if (r < 800)
        t->amount = held;
    else if (r < 900)
        t->amount = held + 1;
    else
        t->amount = rnd_below(&s->rng, UINT64_C(1) << 32);
    r = rnd_u32(&s->rng, 1000);
    if (target && r < 150) {
        t->debit_account_id = target->debit_account_id;
        t->credit_account_id = target->credit_account_id;
    } else if (!sane && r < 200) {
        t->credit_account_id = s->accts[pick_traffic(s, rnd_u32(&s->rng, NCUR))].id;
    }
    if (rnd_chance(&s->rng, 100)) t->flags |= ORTAK_TRANSFER_USE_RESERVED;
}

/* Invalid shapes a client may send: bad id, flags, timeout or pending id. */
static void corrupt(struct sim *s, struct ortak_transfer *t) {
    unsigned r = rnd_u32(&s->rng, 1000);
    if (r < 5)
        t->id = 0;
    else if (r < 8)
        t->id = ORTAK_U128_MAX;
    else if (r < 16)
        t->flags |= (uint16_t)(1u << rnd_range(&s->rng, 5, 15));
    else if (r < 22)
        t->flags |= ORTAK_TRANSFER_PENDING | ORTAK_TRANSFER_POST_PENDING;
    else if (r < 28 && !(t->flags & ORTAK_TRANSFER_PENDING))
        t->timeout_s = (uint32_t)rnd_range(&s->rng, 1, 100);
    else if (r < 34 && !(t->flags & RESOLVES))
        t->pending_id = transfer_id(rnd_u32(&s->rng, s->next_k));
}

static void gen_single(struct sim *s) {
    struct ortak_transfer *t = &push_cmd(s, ORTAK_CMD_TRANSFER)->u.transfer;
    unsigned r = rnd_u32(&s->rng, 1000);
    if (r < 520)
        gen_new(s, t, false, false);
    else if (r < 800)
        gen_new(s, t, true, false);
    else
        gen_resolve(s, t, r < 920, NULL, false);
    corrupt(s, t);
    ring_push(s, t);
}

/* Makes a chain member fail at one of several checks. */
static void make_fail(struct sim *s, struct ortak_transfer *t, uint64_t chain_first, uint32_t member) {
    switch (rnd_u32(&s->rng, 6)) {
    case 0:
        if (t->flags & RESOLVES)
            t->pending_id = ORTAK_U128(GHOST_HI, rng_next(&s->rng));
        else
            t->amount = ORTAK_AMOUNT_MAX; /* insufficient funds, unless drawn on an issuance account */
        break;
    case 1: t->credit_account_id = ghost_account(s); break;
    case 2: t->amount = (t->flags & RESOLVES) ? UINT64_MAX : 0; break;
    case 3:
        if (member > 0) t->id = s->ring[chain_first % RING].id; /* the first member's id, other fields */
        break;
    case 4: t->credit_account_id = s->accts[s->issuance[(rnd_u32(&s->rng, NCUR))]].id; break;
    default:
        if (s->closed_p_n && (t->flags & RESOLVES))
            t->pending_id = transfer_id(s->closed_p[0]);
        else
            t->flags |= ORTAK_TRANSFER_POST_PENDING; /* with a timeout or PENDING: invalid */
        break;
    }
}

static void gen_member(struct sim *s, struct ortak_transfer *t, const struct ortak_transfer *held) {
    unsigned r = rnd_u32(&s->rng, 1000);
    if (held && r < 350)
        gen_resolve(s, t, rnd_chance(&s->rng, 700), held, true); /* the chain's own hold */
    else if (r < 620)
        gen_new(s, t, false, true);
    else if (r < 860)
        gen_new(s, t, true, true);
    else
        gen_resolve(s, t, r < 960, NULL, true);
}

/* A linked chain of `len` transfers; some fail in the middle, some are left open (before a tick or at the end). */
static void gen_chain(struct sim *s, uint32_t len, uint32_t room) {
    uint32_t fail_at = rnd_chance(&s->rng, 300) ? rnd_u32(&s->rng, len) : NONE32;
    bool leave_open = rnd_chance(&s->rng, 30);
    uint64_t first = s->ring_n;
    struct ortak_transfer held;
    bool have_held = false;
    for (uint32_t m = 0; m < len; m++) {
        struct ortak_transfer *t = &push_cmd(s, ORTAK_CMD_TRANSFER)->u.transfer;
        gen_member(s, t, have_held ? &held : NULL);
        if (m > 0 && rnd_chance(&s->rng, 40)) *t = s->ring[(s->ring_n - 1) % RING]; /* the previous member again */
        if (m == fail_at) make_fail(s, t, first, m);
        if (m + 1 < len || leave_open) t->flags |= ORTAK_TRANSFER_LINKED;
        if (t->flags & ORTAK_TRANSFER_PENDING) {
            held = *t;
            have_held = true;
        }
        ring_push(s, t);
    }
    if (leave_open && room > len) push_cmd(s, ORTAK_CMD_TICK);
    s->chain_first[s->chains_n % CHAIN_RING] = first;
    s->chain_len[s->chains_n++ % CHAIN_RING] = len;
}

/* Replays a recent chain exactly, if it is still in the ring and fits. */
static bool gen_chain_replay(struct sim *s, uint32_t room) {
    if (s->chains_n == 0) return false;
    uint64_t j = s->chains_n - 1 - rnd_below(&s->rng, s->chains_n < CHAIN_RING ? s->chains_n : CHAIN_RING);
    uint64_t first = s->chain_first[j % CHAIN_RING];
    uint32_t len = s->chain_len[j % CHAIN_RING];
    if (len > room || first + RING <= s->ring_n + len) return false;
    for (uint32_t m = 0; m < len; m++) {
        struct ortak_transfer *t = &push_cmd(s, ORTAK_CMD_TRANSFER)->u.transfer;
        *t = s->ring[(first + m) % RING];
        ring_push(s, t);
    }
    return true;
}

/* Repeats a recent transfer: exactly (a retry), or with one field changed (a different transfer, same id). */
static void gen_replay(struct sim *s, bool altered) {
    if (s->ring_n == 0) {
        gen_single(s);
        return;
    }
    struct ortak_transfer *t = &push_cmd(s, ORTAK_CMD_TRANSFER)->u.transfer;
    *t = *ring_pick(s);
    if (altered) {
        switch (rnd_u32(&s->rng, 5)) {
        case 0: t->amount += 1; break;
        case 1: t->user_data ^= 1; break;
        case 2: t->code = (uint16_t)(t->code + 1); break;
        case 3: t->flags ^= ORTAK_TRANSFER_USE_RESERVED; break;
        default: t->debit_account_id = s->accts[pick_traffic(s, rnd_u32(&s->rng, NCUR))].id; break;
        }
    }
    ring_push(s, t);
}

static void gen_tick(struct sim *s) {
    s->clock += rnd_chance(&s->rng, 30) ? rnd_range(&s->rng, 60, 900) * ORTAK_NS_PER_S
                                        : rnd_range(&s->rng, 1, 8) * ORTAK_NS_PER_S;
    push_cmd(s, ORTAK_CMD_TICK);
}

static uint32_t pick_any_account(struct sim *s) {
    unsigned r = rnd_u32(&s->rng, 1000);
    if (r < 850) return pick_traffic(s, rnd_u32(&s->rng, NCUR));
    if (r < 900) return s->issuance[rnd_u32(&s->rng, NCUR)];
    if (r < 950 && s->closed_len) return s->closed[rnd_u32(&s->rng, s->closed_len)];
    return rnd_u32(&s->rng, s->acct_count);
}

static int64_t clamp_i64(ortak_i128 v) { return v < 0 ? 0 : v > (ortak_i128)INT64_MAX ? INT64_MAX : (int64_t)v; }

/* Credit lines: zero, random, exactly what is drawn, one below it, negative, the maximum, bad accounts. */
static void gen_credit_line(struct sim *s) {
    struct ortak_account_amount *c = &push_cmd(s, ORTAK_CMD_CREDIT_LINE_SET)->u.account;
    const struct m_account *a = &s->accts[pick_any_account(s)];
    int64_t drawn = clamp_i64(a->b.dpend - (a->b.cp - a->b.dp));
    unsigned r = rnd_u32(&s->rng, 1000);
    c->account_id = a->id;
    if (r < 250)
        c->amount = 0;
    else if (r < 600)
        c->amount = (int64_t)rnd_below(&s->rng, 100000000000u);
    else if (r < 700)
        c->amount = drawn;
    else if (r < 760)
        c->amount = drawn - 1;
    else if (r < 790)
        c->amount = -(int64_t)rnd_range(&s->rng, 1, 1000);
    else if (r < 800)
        c->amount = INT64_MAX;
    else if (r < 850)
        c->account_id = ghost_account(s);
    else if (r < 860)
        c->account_id = 0;
    else
        c->amount = clamp_i64((ortak_i128)a->credit_line + (ortak_i128)rnd_below(&s->rng, 1000000000u));
}

static void gen_reserve(struct sim *s) {
    struct ortak_account_amount *c = &push_cmd(s, ORTAK_CMD_RESERVE_SET)->u.account;
    const struct m_account *a = &s->accts[pick_any_account(s)];
    unsigned r = rnd_u32(&s->rng, 1000);
    c->account_id = a->id;
    if (r < 300)
        c->amount = 0;
    else if (r < 700)
        c->amount = (int64_t)rnd_below(&s->rng, (uint64_t)clamp_i64(m_avail(a, true)) + 1);
    else if (r < 800)
        c->amount = (int64_t)rnd_below(&s->rng, (uint64_t)TRILLION);
    else if (r < 830)
        c->amount = -(int64_t)rnd_range(&s->rng, 1, 1000);
    else if (r < 840)
        c->amount = INT64_MAX;
    else if (r < 880)
        c->account_id = ghost_account(s);
    else
        c->amount = a->reserved / 2;
}

static void gen_close(struct sim *s) {
    struct ortak_account_amount *c = &push_cmd(s, ORTAK_CMD_ACCOUNT_CLOSE)->u.account;
    unsigned r = rnd_u32(&s->rng, 1000);
    if (r < 400)
        c->account_id = s->accts[s->spare[rnd_u32(&s->rng, NCUR)]].id;
    else if (r < 600)
        c->account_id = s->accts[pick_any_account(s)].id;
    else if (r < 700)
        c->account_id = ghost_account(s);
    else
        c->account_id = s->accts[pick_traffic(s, rnd_u32(&s->rng, NCUR))].id; /* not empty */
}

static uint32_t suspended_count(const struct sim *s) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->part_count; i++) n += s->parts[i].status == ORTAK_PARTICIPANT_SUSPENDED;
    return n;
}

static uint32_t pick_suspended(struct sim *s) {
    for (uint32_t i = 0, j = rnd_u32(&s->rng, s->part_count);; i++, j = (j + 1) % s->part_count) {
        if (s->parts[j].status == ORTAK_PARTICIPANT_SUSPENDED || i == s->part_count) return j;
    }
}

/* Short suspensions (two at most at a time) and reactivations, one closure a run, and bad requests. */
static void gen_status(struct sim *s) {
    struct ortak_participant_set_status *c = &push_cmd(s, ORTAK_CMD_PARTICIPANT_SET_STATUS)->u.participant_status;
    uint32_t suspended = suspended_count(s);
    bool many = suspended >= 2 || (suspended > 0 && rnd_chance(&s->rng, 700));
    uint32_t p =
        many ? pick_suspended(s)
             : (rnd_chance(&s->rng, 900) ? NCUR + 2 + rnd_u32(&s->rng, NBANKS) : rnd_u32(&s->rng, s->part_count));
    unsigned r = rnd_u32(&s->rng, 1000);
    snprintf(c->bic, sizeof c->bic, "%s", s->parts[p].bic);
    if (rnd_chance(&s->rng, 100)) snprintf(c->bic, sizeof c->bic, "%.8sXXX", s->parts[p].bic);
    c->status = s->parts[p].status == ORTAK_PARTICIPANT_ACTIVE ? ORTAK_PARTICIPANT_SUSPENDED : ORTAK_PARTICIPANT_ACTIVE;
    if (many || r < 800) return;
    if (r < 850)
        c->status = (uint8_t)(rnd_chance(&s->rng, 500) ? 0 : 4);
    else if (r < 900)
        snprintf(c->bic, sizeof c->bic, "ZZZZKZ22");
    else if (r < 930)
        snprintf(c->bic, sizeof c->bic, "%s", rnd_chance(&s->rng, 500) ? "nbrkkzkx" : "ZZZZQQ22");
    else if (r < 935 && !s->bank_closed && p >= NCUR + 2) {
        c->status = ORTAK_PARTICIPANT_CLOSED;
        s->bank_closed = true;
    }
}

static void gen_item(struct sim *s, uint32_t room) {
    unsigned r = rnd_u32(&s->rng, 1000);
    if (r < 6)
        gen_tick(s);
    else if (r < 25)
        gen_credit_line(s);
    else if (r < 32)
        gen_reserve(s);
    else if (r < 34)
        gen_status(s);
    else if (r < 36)
        gen_close(s);
    else if (r < 37)
        push_cmd(s, rnd_chance(&s->rng, 500) ? 0u : 99u); /* unknown command */
    else if (r < 130 && room >= 2)
        gen_chain(s, (uint32_t)rnd_range(&s->rng, 2, room < 6 ? room : 6), room);
    else if (r < 145 && room >= 2 && gen_chain_replay(s, room))
        return;
    else if (r < 175)
        gen_replay(s, false);
    else if (r < 185)
        gen_replay(s, true);
    else
        gen_single(s);
}

static void gen_batch(struct sim *s) {
    uint32_t len =
        rnd_chance(&s->rng, 50) ? (uint32_t)rnd_range(&s->rng, 1, 5) : (uint32_t)rnd_range(&s->rng, 1, BATCH_LEN_MAX);
    s->n = 0;
    while (s->n < len) gen_item(s, len - s->n);
}

/* ---- set-up ----------------------------------------------------------------------------------------------------- */

static uint32_t add_participant(struct sim *s, const char *bic, const char *name, uint8_t role) {
    struct ortak_cmd *c = &s->cmds[s->n++];
    memset(c, 0, sizeof *c);
    c->kind = ORTAK_CMD_PARTICIPANT_CREATE;
    c->timestamp = EPOCH_NS;
    snprintf(c->u.participant_create.bic, sizeof c->u.participant_create.bic, "%s", bic);
    snprintf(c->u.participant_create.name, sizeof c->u.participant_create.name, "%s", name);
    c->u.participant_create.role = role;
    struct m_participant *p = &s->parts[s->part_count];
    snprintf(p->bic, sizeof p->bic, "%s", bic);
    p->role = role;
    p->status = ORTAK_PARTICIPANT_ACTIVE;
    return s->part_count++;
}

static uint32_t add_account(struct sim *s, uint32_t part, uint32_t cur, uint8_t kind, bool traffic) {
    uint32_t a = s->acct_count++;
    struct m_account *m = &s->accts[a];
    memset(m, 0, sizeof *m);
    m->id = ORTAK_U128(ACC_HI, a + 1);
    m->participant = part;
    m->currency = (uint8_t)cur;
    m->kind = kind;
    m->status = ORTAK_ACCOUNT_STATUS_ACTIVE;
    if (traffic) s->traffic[cur][s->traffic_len[cur]++] = a;
    struct ortak_cmd *c = &s->cmds[s->n++];
    memset(c, 0, sizeof *c);
    c->kind = ORTAK_CMD_ACCOUNT_CREATE;
    c->timestamp = EPOCH_NS;
    c->u.account_create.id = m->id;
    memcpy(c->u.account_create.bic, s->parts[part].bic, sizeof c->u.account_create.bic);
    memcpy(c->u.account_create.currency, CUR_CODE[cur], 4);
    c->u.account_create.kind = kind;
    return a;
}

static void close_account(struct sim *s, uint32_t a) {
    struct ortak_cmd *c = &s->cmds[s->n++];
    memset(c, 0, sizeof *c);
    c->kind = ORTAK_CMD_ACCOUNT_CLOSE;
    c->timestamp = EPOCH_NS;
    c->u.account.account_id = s->accts[a].id;
    s->accts[a].status = ORTAK_ACCOUNT_STATUS_CLOSED;
    s->closed[s->closed_len++] = a;
}

/* Banks hold settlement accounts in two or three currencies; every other bank a collateral account too. */
static void add_banks(struct sim *s) {
    static const unsigned sets[4] = {7u, 3u, 5u, 6u}; /* bit c: an account in currency c */
    for (uint32_t b = 0; b < NBANKS; b++) {
        char bic[12], name[32];
        snprintf(bic, sizeof bic, "BK%02u%s2A", b % 100u, BANK_COUNTRY[b % 5]);
        snprintf(name, sizeof name, "Bank %02u", b % 100u);
        uint32_t p = add_participant(s, bic, name, ORTAK_ROLE_BANK);
        unsigned set = sets[rnd_u32(&s->rng, 4)];
        for (uint32_t c = 0; c < NCUR; c++) {
            if (set & (1u << c)) add_account(s, p, c, ORTAK_ACCOUNT_SETTLEMENT, true);
        }
        if (b % 2 == 0) add_account(s, p, (uint32_t)__builtin_ctz(set), ORTAK_ACCOUNT_COLLATERAL, true);
    }
}

static void setup_commands(struct sim *s) {
    s->n = 0;
    for (uint32_t c = 0; c < NCUR; c++) add_participant(s, CUR_AGENT[c], "Central bank", ORTAK_ROLE_CENTRAL_BANK);
    add_participant(s, "OTSHKZKA", "OTS settlement hub", ORTAK_ROLE_OPERATOR);
    uint32_t fx = add_participant(s, "FXPRTR2A", "FX provider", ORTAK_ROLE_FX_PROVIDER);
    add_banks(s);
    uint32_t dormant = add_participant(s, "DORMUZ22", "Dormant bank", ORTAK_ROLE_BANK);
    for (uint32_t c = 0; c < NCUR; c++) {
        s->issuance[c] = add_account(s, c, c, ORTAK_ACCOUNT_ISSUANCE, false);
        add_account(s, c, c, ORTAK_ACCOUNT_SETTLEMENT, true);
        add_account(s, fx, c, ORTAK_ACCOUNT_SETTLEMENT, true);
        s->spare[c] = add_account(s, dormant, c, ORTAK_ACCOUNT_SETTLEMENT, false);
        close_account(s, add_account(s, dormant, c, ORTAK_ACCOUNT_COLLATERAL, false));
    }
}

/* Applies the set-up to both engines; every command must succeed. */
static void setup(struct sim *s) {
    setup_commands(s);
    CHECK(s, s->n <= BATCH_CAP && s->acct_count <= MAX_ACCTS, "set-up too large");
    CHECK(s, ortak_engine_apply(s->e, s->cmds, s->n, s->res) == ORTAK_OK, "set-up refused");
    if (s->replica) CHECK(s, ortak_engine_apply(s->replica, s->cmds, s->n, s->res_b) == ORTAK_OK, "set-up refused");
    for (uint32_t i = 0; i < s->n; i++) {
        s->cur = i;
        CHECK(s, s->res[i].rc == ORTAK_OK, "set-up command %u: %s", i, ortak_rc_name((ortak_rc)s->res[i].rc));
    }
    s->now = s->clock = EPOCH_NS;
    s->commands += s->n;
    s->cur = NONE32;
    s->n = 0;
}

/* A batch larger than batch_max is refused whole and changes nothing. */
static void check_batch_too_large(struct sim *s) {
    uint8_t before[32], after[32];
    ortak_engine_state_hash(s->e, before);
    for (uint32_t i = 0; i <= BATCH_CAP; i++) {
        memset(&s->cmds[i], 0, sizeof s->cmds[i]);
        s->cmds[i].kind = ORTAK_CMD_TICK;
        s->cmds[i].timestamp = EPOCH_NS;
    }
    CHECK(s, ortak_engine_apply(s->e, s->cmds, BATCH_CAP + 1, s->res) == ORTAK_BATCH_TOO_LARGE, "oversized batch");
    ortak_engine_state_hash(s->e, after);
    CHECK(s, memcmp(before, after, 32) == 0 && ortak_engine_now(s->e) == 0, "a refused batch changed the state");
}

/* The first batch: the central banks fund every traffic account and grant some credit lines and reservations. */
static void gen_funding(struct sim *s) {
    s->n = 0;
    for (uint32_t c = 0; c < NCUR; c++) {
        for (uint32_t j = 0; j < s->traffic_len[c]; j++) {
            const struct m_account *a = &s->accts[s->traffic[c][j]];
            struct ortak_transfer *t = &push_cmd(s, ORTAK_CMD_TRANSFER)->u.transfer;
            t->id = new_id(s);
            t->debit_account_id = s->accts[s->issuance[c]].id;
            t->credit_account_id = a->id;
            t->amount = rnd_range(&s->rng, 10000000000u, (uint64_t)TRILLION);
            ring_push(s, t);
            if (a->kind != ORTAK_ACCOUNT_SETTLEMENT || !rnd_chance(&s->rng, 400)) continue;
            struct ortak_account_amount *x = &push_cmd(s, ORTAK_CMD_CREDIT_LINE_SET)->u.account;
            x->account_id = a->id;
            x->amount = (int64_t)rnd_range(&s->rng, 1000000000u, 100000000000u);
        }
    }
}

/* ---- running ---------------------------------------------------------------------------------------------------- */

static void apply_batch(struct sim *s) {
    memset(s->res, 0xa5, sizeof s->res[0] * s->n); /* every field of every result must be written */
    memset(s->exp, 0, sizeof s->exp[0] * s->n);
    s->cur = NONE32;
    CHECK(s, ortak_engine_apply(s->e, s->cmds, s->n, s->res) == ORTAK_OK, "batch of %u refused", s->n);
    s->ev = ortak_engine_events(s->e, &s->ev_n);
    s->ev_pos = 0;
    check_batch(s);
    check_state(s);
    if (s->replica) check_replica(s);
    s->commands += s->n;
    s->batches++;
}

static struct ortak_engine *open_engine(struct sim *s, uint64_t hash_seed) {
    struct ortak_config cfg;
    ortak_config_default(&cfg);
    cfg.hash_seed = hash_seed;
    cfg.limits = (struct ortak_limits){.participants_max = 64,
                                       .accounts_max = 256,
                                       .transfers_max = s->p.transfers_max,
                                       .pending_max = s->p.pending_max,
                                       .history_max = s->p.history_max,
                                       .batch_max = BATCH_CAP,
                                       .payments_max = 16,
                                       .quotes_max = 16,
                                       .fx_rates_max = 16};
    struct ortak_engine *e = NULL;
    CHECK(s, ortak_engine_open(&cfg, &e) == ORTAK_OK, "engine did not open");
    return e;
}

/* A new walk, registered in *state at once so that the teardown frees it whatever fails. */
static struct sim *sim_new(void **state, const struct run_params *p) {
    struct sim *s = calloc(1, sizeof *s);
    assert_non_null(s);
    *state = s;
    s->p = *p;
    s->cur = NONE32;
    rng_seed(&s->rng, p->seed);
    rng_seed(&s->check_rng, p->seed ^ UINT64_C(0xc4ec4ec4ec4ec4e));
    s->reg_cap = (uint32_t)p->commands + 4 * BATCH_CAP;
    s->reg = calloc(s->reg_cap, sizeof *s->reg);
    s->heap = calloc(s->reg_cap, sizeof *s->heap);
    s->open = calloc((size_t)p->pending_max + 1, sizeof *s->open);
    assert_true(s->reg && s->heap && s->open);
    struct ortak_config def;
    ortak_config_default(&def);
    s->e = open_engine(s, def.hash_seed);
    /* The replica hashes ids with another seed: the state hash must depend on the logical state only. */
    if (p->replica) s->replica = open_engine(s, def.hash_seed ^ UINT64_C(0x5deece66d));
    return s;
}

static void sim_free(struct sim *s) {
    if (!s) return;
    ortak_engine_close(s->e);
    ortak_engine_close(s->replica);
    free(s->reg);
    free(s->heap);
    free(s->open);
    free(s);
}

static void sim_run(struct sim *s) {
    uint64_t step = s->p.commands / CHECKPOINTS, next = step;
    check_batch_too_large(s);
    setup(s);
    gen_funding(s);
    apply_batch(s);
    while (s->commands < s->p.commands) {
        gen_batch(s);
        apply_batch(s);
        if (s->commands >= next && s->cp_count < CHECKPOINTS) {
            checkpoint(s);
            next += step;
        }
    }
    checkpoint(s);
    memcpy(s->final_hash, s->cp_hash[s->cp_count - 1], 32);
}

static void print_report(const struct sim *s, double seconds) {
    char h[65];
    for (int i = 0; i < 32; i++) snprintf(h + 2 * i, 3, "%02x", s->final_hash[i]);
    printf("  %" PRIu64 " commands in %" PRIu64 " batches, %.1f s; final state hash %s\n", s->commands, s->batches,
           seconds, h);
    printf("  transfers booked %" PRIu64 ", replays %" PRIu64 ", chains committed %" PRIu64 " / failed %" PRIu64
           " (%" PRIu64 " members), posted %" PRIu64 ", voided %" PRIu64 ", expired %" PRIu64
           ", open holds max %u, postings %" PRIu64 ", batches ending behind engine time %" PRIu64 "\n",
           s->st.transfers_ok, s->st.replayed, s->st.chains_ok, s->st.chains_failed, s->st.chain_members, s->st.posted,
           s->st.voided, s->st.expired, s->st.open_max, s->postings, s->st.time_behind);
    printf("  results:");
    for (uint32_t rc = 0; rc < ORTAK_RC_COUNT_; rc++) {
        if (s->st.rc[rc]) printf(" %s=%" PRIu64, ortak_rc_name((ortak_rc)rc), s->st.rc[rc]);
    }
    printf("\n  chain failures:");
    for (uint32_t rc = 0; rc < ORTAK_RC_COUNT_; rc++) {
        if (s->st.chain_fail[rc]) printf(" %s=%" PRIu64, ortak_rc_name((ortak_rc)rc), s->st.chain_fail[rc]);
    }
    printf("\n");
    fflush(stdout);
}

static double seconds_since(const struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Runs one walk; the sim stays in *state so that the teardown frees it even when a check fails. */
static struct sim *run_walk(void **state, const struct run_params *p) {
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct sim *s = sim_new(state, p);
    sim_run(s);
    if (p->report) print_report(s, seconds_since(&t0));
    return s;
}

static void release_walk(void **state) {
    sim_free(*state);
    *state = NULL;
}

static int teardown(void **state) {
    sim_free(*state);
    *state = NULL;
    return 0;
}

static struct run_params params(uint64_t seed, uint64_t commands) {
    return (struct run_params){.seed = seed,
                               .commands = commands,
                               .transfers_max = (uint32_t)commands + 4 * BATCH_CAP,
                               .pending_max = 4096,
                               .history_max = UINT32_C(1) << 18,
                               .replica = false,
                               .report = false};
}

/* ---- tests ------------------------------------------------------------------------------------------------------ */

/* The million-command walk, every invariant after every batch, a replica engine in lockstep. */
static void test_random_walk(void **state) {
    struct run_params p = params(g_seed, g_commands);
    p.replica = true;
    p.report = true;
    printf("random walk: seed %" PRIu64 ", %" PRIu64 " commands\n", p.seed, p.commands);
    run_walk(state, &p);
}

/* Rerunning a seed gives the same states; another seed gives another state. */
static void test_same_seed_same_hash(void **state) {
    struct run_params p = params(g_seed, COMMANDS_RERUN);
    uint8_t hashes[CHECKPOINTS + 2][32], final[32];
    struct sim *s = run_walk(state, &p);
    uint32_t count = s->cp_count;
    memcpy(hashes, s->cp_hash, sizeof hashes);
    memcpy(final, s->final_hash, 32);
    release_walk(state);

    s = run_walk(state, &p);
    assert_int_equal(s->cp_count, count);
    for (uint32_t i = 0; i < count; i++) assert_memory_equal(s->cp_hash[i], hashes[i], 32);
    release_walk(state);

    p.seed = g_seed + 1;
    s = run_walk(state, &p);
    assert_memory_not_equal(s->final_hash, final, 32);
    release_walk(state);
}

/* Small pools: the walk runs into the pending and transfer limits, which must refuse without recording. */
static void test_small_limits(void **state) {
    struct run_params p = params(g_seed ^ UINT64_C(0x1234), COMMANDS_SMALL);
    p.transfers_max = (uint32_t)(COMMANDS_SMALL / 3);
    p.pending_max = 48;
    p.history_max = 1000;
    p.replica = true;
    struct sim *s = run_walk(state, &p);
    assert_true(s->st.rc[ORTAK_TRANSFERS_FULL] > 0);
    assert_true(s->st.rc[ORTAK_PENDINGS_FULL] > 0);
    release_walk(state);
}

/* A whole decimal number; false for anything else. */
static bool parse_u64(const char *str, uint64_t *out) {
    uint64_t v = 0;
    if (!*str) return false;
    for (; *str; str++) {
        if (*str < '0' || *str > '9' || v > (UINT64_MAX - (uint64_t)(*str - '0')) / 10) return false;
        v = v * 10 + (uint64_t)(*str - '0');
    }
    *out = v;
    return true;
}

int main(int argc, char **argv) {
    if ((argc > 1 && !parse_u64(argv[1], &g_seed)) ||
        (argc > 2 && (!parse_u64(argv[2], &g_commands) || g_commands < 1000 || g_commands > 20000000))) {
        fprintf(stderr, "usage: test_ledger_property [SEED [COMMANDS]]  (COMMANDS 1000..20000000)\n");
        return 2;
    }
    printf("test_ledger_property: seed %" PRIu64 " (reproduce with: test_ledger_property %" PRIu64 ")\n", g_seed,
           g_seed);
    fflush(stdout);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_random_walk, teardown),
        cmocka_unit_test_teardown(test_same_seed_same_hash, teardown),
        cmocka_unit_test_teardown(test_small_limits, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
