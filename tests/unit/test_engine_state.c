/*
 * Engine state encoding: a state written by ortak_engine_encode and read back by ortak_engine_open_state has the
 * same state hash, and the two engines stay identical under the same further commands (which proves that the
 * decoder rebuilt the lookups, the pending pool and the expiry heap, not just the bytes). Damaged encodings are
 * refused with ORTAK_CORRUPT or, where the damage hits a field no check can judge, load as a different state;
 * they never crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ortak/engine.h"

#define T0 (UINT64_C(1767225600) * ORTAK_NS_PER_S) /* 2026-01-01T00:00:00Z */

struct buf {
    unsigned char *p;
    size_t len, cap;
};

static void buf_sink(void *ctx, const void *data, size_t len) {
    struct buf *b = ctx;
    if (b->len + len > b->cap) {
        b->cap = (b->len + len) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
}

static struct buf encode(const struct ortak_engine *e) {
    struct buf b = {0};
    ortak_engine_encode(e, buf_sink, &b);
    return b;
}

static void small_config(struct ortak_config *c) {
    ortak_config_default(c);
    c->limits.participants_max = 16;
    c->limits.accounts_max = 64;
    c->limits.transfers_max = 4096;
    c->limits.pending_max = 64;
    c->limits.history_max = 256;
    c->limits.batch_max = 64;
    c->limits.payments_max = 16;
    c->limits.quotes_max = 16;
    c->limits.fx_rates_max = 16;
}

static struct ortak_cmd participant(uint64_t ts, const char *bic, uint8_t role) {
    struct ortak_cmd c = {.timestamp = ts, .kind = ORTAK_CMD_PARTICIPANT_CREATE};
    strcpy(c.u.participant_create.bic, bic);
    strcpy(c.u.participant_create.name, bic);
    c.u.participant_create.role = role;
    return c;
}

static struct ortak_cmd account(uint64_t ts, ortak_u128 id, const char *bic, uint8_t kind) {
    struct ortak_cmd c = {.timestamp = ts, .kind = ORTAK_CMD_ACCOUNT_CREATE};
    c.u.account_create.id = id;
    strcpy(c.u.account_create.bic, bic);
    strcpy(c.u.account_create.currency, "KZT");
    c.u.account_create.kind = kind;
    return c;
}

static struct ortak_cmd transfer(uint64_t ts, ortak_u128 id, ortak_u128 dr, ortak_u128 cr, uint64_t amount,
                                 uint16_t flags) {
    struct ortak_cmd c = {.timestamp = ts, .kind = ORTAK_CMD_TRANSFER};
    c.u.transfer = (struct ortak_transfer){
        .id = id, .debit_account_id = dr, .credit_account_id = cr, .amount = amount, .flags = flags};
    return c;
}

static void apply(struct ortak_engine *e, const struct ortak_cmd *cmds, uint32_t n) {
    struct ortak_result r[64];
    assert_true(n <= 64);
    assert_int_equal(ortak_engine_apply(e, cmds, n, r), ORTAK_OK);
}

/* A state with every kind of object: booked, refused, pending open/posted/voided/expired, and history. */
static struct ortak_engine *busy_engine(void) {
    struct ortak_config cfg;
    small_config(&cfg);
    struct ortak_engine *e;
    assert_int_equal(ortak_engine_open(&cfg, &e), ORTAK_OK);
    uint64_t t = T0;
    struct ortak_cmd setup[] = {
        participant(t, "NBRKKZKX", ORTAK_ROLE_CENTRAL_BANK),
        participant(t, "HSBKKZKX", ORTAK_ROLE_BANK),
        participant(t, "KCJBKZKX", ORTAK_ROLE_BANK),
        account(t, 1, "NBRKKZKX", ORTAK_ACCOUNT_ISSUANCE),
        account(t, 2, "HSBKKZKX", ORTAK_ACCOUNT_SETTLEMENT),
        account(t, 3, "KCJBKZKX", ORTAK_ACCOUNT_SETTLEMENT),
        transfer(t, 100, 1, 2, 1000000, 0),
        transfer(t, 101, 1, 3, 500000, 0),
        transfer(t, 102, 2, 3, 9999999999, 0), /* refused: insufficient funds */
    };
    apply(e, setup, sizeof setup / sizeof setup[0]);
    struct ortak_cmd pend[] = {
        transfer(t + 1, 200, 2, 3, 1000, ORTAK_TRANSFER_PENDING), /* will be posted */
        transfer(t + 1, 201, 2, 3, 2000, ORTAK_TRANSFER_PENDING), /* will be voided */
        transfer(t + 1, 202, 3, 2, 3000, ORTAK_TRANSFER_PENDING), /* will expire */
        transfer(t + 1, 203, 3, 2, 4000, ORTAK_TRANSFER_PENDING), /* stays open, no timeout */
        transfer(t + 1, 204, 2, 3, 5000, ORTAK_TRANSFER_PENDING), /* stays open, expires later */
    };
    pend[2].u.transfer.timeout_s = 10;
    pend[4].u.transfer.timeout_s = 3600;
    apply(e, pend, 5);
    struct ortak_cmd resolve[] = {
        transfer(t + 2, 300, 0, 0, 600, ORTAK_TRANSFER_POST_PENDING),
        transfer(t + 2, 301, 0, 0, 0, ORTAK_TRANSFER_VOID_PENDING),
        transfer(t + 20 * ORTAK_NS_PER_S, 302, 2, 3, 7, ORTAK_TRANSFER_LINKED),
        transfer(t + 20 * ORTAK_NS_PER_S, 303, 3, 2, 1, 0),
    };
    resolve[0].u.transfer.pending_id = 200;
    resolve[1].u.transfer.pending_id = 201;
    apply(e, resolve, 4);
    return e;
}

static void assert_same_hash(const struct ortak_engine *a, const struct ortak_engine *b) {
    uint8_t ha[32], hb[32];
    ortak_engine_state_hash(a, ha);
    ortak_engine_state_hash(b, hb);
    assert_memory_equal(ha, hb, 32);
}

static void test_round_trip_same_hash_and_behaviour(void **state) {
    (void)state;
    struct ortak_engine *a = busy_engine();
    struct buf b = encode(a);
    struct ortak_config cfg;
    small_config(&cfg);
    struct ortak_engine *r;
    assert_int_equal(ortak_engine_open_state(&cfg, b.p, b.len, &r), ORTAK_OK);
    assert_same_hash(a, r);
    assert_int_equal(ortak_engine_now(r), ortak_engine_now(a));

    /* The same further commands: an expiry from the rebuilt heap, a post of a rebuilt pending, a replay. */
    uint64_t later = ortak_engine_now(a) + 4000 * ORTAK_NS_PER_S;
    struct ortak_cmd more[] = {
        transfer(later, 400, 0, 0, 0, ORTAK_TRANSFER_POST_PENDING),
        transfer(later, 100, 1, 2, 1000000, 0),
        transfer(later, 401, 2, 3, 10, 0),
    };
    more[0].u.transfer.pending_id = 203;
    struct ortak_result ra[3], rr[3];
    assert_int_equal(ortak_engine_apply(a, more, 3, ra), ORTAK_OK);
    uint32_t na, nr;
    ortak_engine_events(a, &na);
    assert_int_equal(ortak_engine_apply(r, more, 3, rr), ORTAK_OK);
    ortak_engine_events(r, &nr);
    assert_memory_equal(ra, rr, sizeof ra);
    assert_int_equal(na, nr);
    assert_int_equal(ra[0].rc, ORTAK_OK);
    assert_int_equal(ra[1].flags, ORTAK_RESULT_REPLAYED);
    assert_same_hash(a, r);

    struct ortak_transfer_info ti;
    assert_int_equal(ortak_ledger_transfer_get(ortak_engine_ledger(r), 204, &ti), ORTAK_OK);
    assert_int_equal(ti.pending_state, ORTAK_PENDING_STATE_EXPIRED);
    free(b.p);
    ortak_engine_close(a);
    ortak_engine_close(r);
}

static void test_every_truncation_is_corrupt(void **state) {
    (void)state;
    struct ortak_engine *a = busy_engine();
    struct buf b = encode(a);
    struct ortak_config cfg;
    small_config(&cfg);
    for (size_t len = 0; len < b.len; len++) {
        struct ortak_engine *r = (struct ortak_engine *)1;
        assert_int_equal(ortak_engine_open_state(&cfg, b.p, len, &r), ORTAK_CORRUPT);
        assert_null(r);
    }
    /* And one byte too many. */
    unsigned char *longer = malloc(b.len + 1);
    memcpy(longer, b.p, b.len);
    longer[b.len] = 0;
    struct ortak_engine *r;
    assert_int_equal(ortak_engine_open_state(&cfg, longer, b.len + 1, &r), ORTAK_CORRUPT);
    free(longer);
    free(b.p);
    ortak_engine_close(a);
}

/* Flipping any single bit either is refused or loads a state whose hash differs: damage never goes unseen. */
static void test_every_bit_flip_is_refused_or_visible(void **state) {
    (void)state;
    struct ortak_engine *a = busy_engine();
    struct buf b = encode(a);
    uint8_t good[32];
    ortak_engine_state_hash(a, good);
    struct ortak_config cfg;
    small_config(&cfg);
    size_t refused = 0;
    for (size_t bit = 0; bit < b.len * 8; bit++) {
        b.p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        struct ortak_engine *r;
        ortak_rc rc = ortak_engine_open_state(&cfg, b.p, b.len, &r);
        if (rc == ORTAK_OK) {
            uint8_t h[32];
            ortak_engine_state_hash(r, h);
            assert_memory_not_equal(h, good, 32);
            ortak_engine_close(r);
        } else {
            assert_int_equal(rc, ORTAK_CORRUPT);
            refused++;
        }
        b.p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    assert_true(refused > 0);
    free(b.p);
    ortak_engine_close(a);
}

/* A state from an engine with other currencies, or more objects than the limits allow, is refused. */
static void test_foreign_or_oversized_state_refused(void **state) {
    (void)state;
    struct ortak_engine *a = busy_engine();
    struct buf b = encode(a);
    struct ortak_config cfg;
    small_config(&cfg);
    cfg.limits.transfers_max = 8; /* the state holds more */
    struct ortak_engine *r;
    assert_int_equal(ortak_engine_open_state(&cfg, b.p, b.len, &r), ORTAK_CORRUPT);
    small_config(&cfg);
    cfg.currencies[1].minor_units = 3;
    assert_int_equal(ortak_engine_open_state(&cfg, b.p, b.len, &r), ORTAK_CORRUPT);
    free(b.p);
    ortak_engine_close(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_same_hash_and_behaviour),
        cmocka_unit_test(test_every_truncation_is_corrupt),
        cmocka_unit_test(test_every_bit_flip_is_refused_or_visible),
        cmocka_unit_test(test_foreign_or_oversized_state_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
