/*
 * Unit tests of src/base: result codes, arenas, pools, the id hash map, slices, 128-bit formatting, log levels.
 *
 * These are the pieces every other module stands on, so the tests pin the documented contracts: the exact
 * strings of the result-code tables (they reach clients and journals), the order in which pool slots come out
 * (the engine's determinism depends on it), and the id map's behaviour under heavy collision and deletion,
 * checked against a plain array after every operation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "base/arena.h"
#include "base/idmap.h"
#include "base/log.h"
#include "base/slice.h"
#include "ortak/rc.h"
#include "ortak/types.h"

/* ---- result codes ---------------------------------------------------------------------------------------- */

static void test_rc_known_codes(void **state) {
    (void)state;
    assert_string_equal(ortak_rc_str(ORTAK_OK), "ok");
    assert_string_equal(ortak_rc_name(ORTAK_OK), "OK");
    assert_string_equal(ortak_rc_iso_reason(ORTAK_OK), "");

    assert_string_equal(ortak_rc_str(ORTAK_INSUFFICIENT_FUNDS), "insufficient funds");
    assert_string_equal(ortak_rc_name(ORTAK_INSUFFICIENT_FUNDS), "INSUFFICIENT_FUNDS");
    assert_string_equal(ortak_rc_iso_reason(ORTAK_INSUFFICIENT_FUNDS), "AM04");

    assert_string_equal(ortak_rc_name(ORTAK_TRANSFER_EXISTS_DIFFERENT), "TRANSFER_EXISTS_DIFFERENT");
    assert_string_equal(ortak_rc_iso_reason(ORTAK_TRANSFER_EXISTS_DIFFERENT), "DUPL");
    assert_string_equal(ortak_rc_iso_reason(ORTAK_BIC_INVALID), "RC01");
    assert_string_equal(ortak_rc_iso_reason(ORTAK_CURRENCY_MISMATCH), "AC09");
    assert_string_equal(ortak_rc_str(ORTAK_CONFIG_INVALID), "configuration is invalid");
    /* Codes that never reach a payment carry no ISO reason. */
    assert_string_equal(ortak_rc_iso_reason(ORTAK_CORRUPT), "");
    assert_string_equal(ortak_rc_iso_reason(ORTAK_NOMEM), "");
}

/* Codes are journaled and sent to clients, so their numbers are append-only: pin a spread of them. */
static void test_rc_numbers_are_stable(void **state) {
    (void)state;
    assert_int_equal(ORTAK_OK, 0);
    assert_int_equal(ORTAK_INVALID, 1);
    assert_int_equal(ORTAK_CORRUPT, 2);
    assert_int_equal(ORTAK_IO, 4);
    assert_int_equal(ORTAK_CONFIG_INVALID, 5);
    assert_int_equal(ORTAK_BIC_INVALID, 9);
    assert_int_equal(ORTAK_ACCOUNT_NOT_FOUND, 24);
    assert_int_equal(ORTAK_INSUFFICIENT_FUNDS, 35);
    assert_int_equal(ORTAK_LINKED_EVENT_FAILED, 49);
    assert_int_equal(ORTAK_TRANSFER_NOT_FOUND, 54);
    assert_true(ORTAK_RC_COUNT_ > ORTAK_TRANSFER_NOT_FOUND);
}

static void test_rc_out_of_range(void **state) {
    (void)state;
    const ortak_rc outside[] = {ORTAK_RC_COUNT_, (ortak_rc)(ORTAK_RC_COUNT_ + 1), (ortak_rc)1000, (ortak_rc)0x7fffffff};
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
        assert_string_equal(ortak_rc_str(outside[i]), "unknown result code");
        assert_string_equal(ortak_rc_name(outside[i]), "UNKNOWN");
        assert_string_equal(ortak_rc_iso_reason(outside[i]), "");
    }
}

static bool iso_reason_well_formed(const char *s) {
    if (s[0] == '\0') return true;
    if (strlen(s) != 4) return false;
    for (int i = 0; i < 4; i++) {
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9'))) return false;
    }
    return true;
}

/* Every code in the table has a message, a unique name, and an ISO reason that is empty or 4 characters. */
static void test_rc_every_code_described(void **state) {
    (void)state;
    for (int i = 0; i < (int)ORTAK_RC_COUNT_; i++) {
        ortak_rc rc = (ortak_rc)i;
        assert_non_null(ortak_rc_str(rc));
        assert_true(ortak_rc_str(rc)[0] != '\0');
        assert_string_not_equal(ortak_rc_str(rc), "unknown result code");
        assert_true(ortak_rc_name(rc)[0] != '\0');
        assert_string_not_equal(ortak_rc_name(rc), "UNKNOWN");
        assert_true(iso_reason_well_formed(ortak_rc_iso_reason(rc)));
        for (int j = 0; j < i; j++) assert_string_not_equal(ortak_rc_name((ortak_rc)j), ortak_rc_name(rc));
    }
}

/* ---- arenas ---------------------------------------------------------------------------------------------- */

static bool all_zero(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0) return false;
    }
    return true;
}

static void test_arena_alignment_and_zeroing(void **state) {
    (void)state;
    struct ortak_arena a;
    assert_int_equal(ortak_arena_init(&a, 1024), 0);
    unsigned char *p1 = ortak_arena_alloc(&a, 1, 1);
    assert_non_null(p1);
    *p1 = 0xff;
    /* Alignments up to max_align_t hold for the address itself (the block comes from malloc). */
    for (size_t align = 2; align <= _Alignof(max_align_t); align *= 2) {
        unsigned char *p = ortak_arena_alloc(&a, 3, align);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % align, 0);
        assert_true(all_zero(p, 3));
        memset(p, 0xab, 3);
    }
    /* Objects never overlap: the next one starts past the last byte written. */
    unsigned char *q = ortak_arena_alloc(&a, 16, 8);
    assert_non_null(q);
    assert_true(all_zero(q, 16));
    assert_true(a.used <= a.cap);
    ortak_arena_free(&a);
    assert_null(a.base);
    assert_int_equal(a.cap, 0);
}

/* Reused memory comes back zeroed, and exhaustion is NULL without moving the bump pointer. */
static void test_arena_exhaustion_and_reset(void **state) {
    (void)state;
    struct ortak_arena a;
    assert_int_equal(ortak_arena_init(&a, 64), 0);
    unsigned char *p = ortak_arena_alloc(&a, 48, 8);
    assert_non_null(p);
    memset(p, 0x5a, 48);
    assert_null(ortak_arena_alloc(&a, 17, 1)); /* 48 + 17 > 64 */
    assert_int_equal(a.used, 48);
    assert_non_null(ortak_arena_alloc(&a, 16, 16)); /* exactly fills it */
    assert_int_equal(a.used, 64);
    assert_null(ortak_arena_alloc(&a, 1, 1));
    assert_null(ortak_arena_alloc(&a, SIZE_MAX, 1)); /* no overflow in the bound check */
    ortak_arena_reset(&a);
    assert_int_equal(a.used, 0);
    unsigned char *again = ortak_arena_alloc(&a, 64, 1);
    assert_ptr_equal(again, p);
    assert_true(all_zero(again, 64));
    ortak_arena_free(&a);
}

/* Padding for alignment counts against capacity: an aligned request that only fits unpadded is refused. */
static void test_arena_alignment_padding_counts(void **state) {
    (void)state;
    struct ortak_arena a;
    assert_int_equal(ortak_arena_init(&a, 32), 0);
    assert_non_null(ortak_arena_alloc(&a, 1, 1));
    assert_null(ortak_arena_alloc(&a, 31, 2)); /* starts at 2: 2 + 31 > 32 */
    assert_int_equal(a.used, 1);
    assert_non_null(ortak_arena_alloc(&a, 30, 2));
    assert_int_equal(a.used, 32);
    ortak_arena_free(&a);
}

/*
 * Alignments above max_align_t: the block comes from malloc (16-byte aligned), so the address must be aligned, not
 * the offset inside the block. Several arenas are tried so that at least one block starts off a 64-byte boundary.
 */
static void test_arena_large_alignment(void **state) {
    (void)state;
    enum { ARENAS = 8 };
    struct ortak_arena a[ARENAS];
    bool misaligned = false;
    for (int i = 0; i < ARENAS; i++) {
        assert_int_equal(ortak_arena_init(&a[i], 200 + 16 * (size_t)i), 0);
        assert_non_null(ortak_arena_alloc(&a[i], 1, 1));
        void *p = ortak_arena_alloc(&a[i], 8, 64);
        assert_non_null(p);
        misaligned = misaligned || (uintptr_t)p % 64 != 0;
    }
    for (int i = 0; i < ARENAS; i++) ortak_arena_free(&a[i]);
    assert_false(misaligned); /* the address is aligned, not merely the offset into the block */
}

static void test_calloc_array_overflow(void **state) {
    (void)state;
    assert_null(ortak__calloc_array(SIZE_MAX / 2 + 1, 2));
    assert_null(ortak__calloc_array(SIZE_MAX, SIZE_MAX));
    void *p = ortak__calloc_array(0, 16); /* zero elements still gives a pointer that can be freed */
    assert_non_null(p);
    free(p);
    unsigned char *q = ortak__calloc_array(10, 3);
    assert_non_null(q);
    assert_true(all_zero(q, 30));
    free(q);
    /* Large arrays take another path (aligned, zeroed up front); they too come back zeroed and free() takes them. */
    size_t big = (size_t)5 << 20;
    unsigned char *r = ortak__calloc_array(big / 8, 8);
    assert_non_null(r);
    assert_true(all_zero(r, big));
    memset(r, 0xee, big);
    free(r);
}

/* ---- pools ----------------------------------------------------------------------------------------------- */

static void test_pool_take_until_full(void **state) {
    (void)state;
    struct ortak_pool p;
    assert_int_equal(ortak_pool_init(&p, 24, 5), 0);
    assert_int_equal(ortak_pool_used(&p), 0);
    /* Slot 0 first, then in order: the engine's determinism relies on this order. */
    for (uint32_t i = 0; i < 5; i++) {
        assert_int_equal(ortak_pool_take(&p), i);
        assert_int_equal(ortak_pool_used(&p), i + 1);
    }
    assert_int_equal(ortak_pool_take(&p), UINT32_MAX);
    assert_int_equal(ortak_pool_used(&p), 5);
    /* Slots are distinct, slot_size apart, and writable. */
    for (uint32_t i = 0; i < 5; i++) {
        unsigned char *s = ortak_pool_at(&p, i);
        assert_ptr_equal(s, (unsigned char *)ortak_pool_at(&p, 0) + (size_t)i * 24);
        memset(s, (int)i, 24);
    }
    ortak_pool_free(&p);
    assert_null(p.slots);
}

static void test_pool_give_take_reuse(void **state) {
    (void)state;
    struct ortak_pool p;
    assert_int_equal(ortak_pool_init(&p, 8, 4), 0);
    for (int i = 0; i < 4; i++) ortak_pool_take(&p);
    ortak_pool_give(&p, 2);
    ortak_pool_give(&p, 0);
    assert_int_equal(ortak_pool_used(&p), 2);
    /* The most recently given slot comes out first. */
    assert_int_equal(ortak_pool_take(&p), 0);
    assert_int_equal(ortak_pool_take(&p), 2);
    assert_int_equal(ortak_pool_take(&p), UINT32_MAX);
    for (uint32_t i = 0; i < 4; i++) ortak_pool_give(&p, i);
    assert_int_equal(ortak_pool_used(&p), 0);
    assert_int_equal(ortak_pool_take(&p), 3);
    ortak_pool_free(&p);
}

static void test_pool_empty_capacity(void **state) {
    (void)state;
    struct ortak_pool p;
    assert_int_equal(ortak_pool_init(&p, 16, 0), 0);
    assert_int_equal(ortak_pool_take(&p), UINT32_MAX);
    assert_int_equal(ortak_pool_used(&p), 0);
    ortak_pool_free(&p);
}

/* ---- id map ---------------------------------------------------------------------------------------------- */

#define MAP_SEED UINT64_C(0x0123456789abcdef)

static void test_idmap_basic(void **state) {
    (void)state;
    struct ortak_idmap m;
    assert_int_equal(ortak_idmap_init(&m, 4, MAP_SEED), 0);
    assert_true(m.mask + 1 >= 8); /* at least twice the capacity */
    uint32_t v = 77;
    assert_false(ortak_idmap_get(&m, 1, &v));
    assert_int_equal(v, 77);
    assert_int_equal(ortak_idmap_put(&m, 1, 10), 0);
    assert_int_equal(ortak_idmap_put(&m, ORTAK_U128_MAX, 11), 0);
    assert_int_equal(ortak_idmap_put(&m, ORTAK_U128(1, 0), 12), 0);
    /* A duplicate is refused and does not change the value. */
    assert_int_equal(ortak_idmap_put(&m, 1, 99), 1);
    assert_true(ortak_idmap_get(&m, 1, &v));
    assert_int_equal(v, 10);
    assert_true(ortak_idmap_get(&m, ORTAK_U128_MAX, &v));
    assert_int_equal(v, 11);
    assert_int_equal(ortak_idmap_put(&m, 2, 13), 0);
    assert_int_equal(m.count, 4);
    /* Full: a new key is refused, a present one is still reported as present. */
    assert_int_equal(ortak_idmap_put(&m, 3, 14), -1);
    assert_int_equal(ortak_idmap_put(&m, 2, 15), 1);
    assert_false(ortak_idmap_get(&m, 3, &v));
    ortak_idmap_prefetch(&m, 2); /* a hint only: present or absent keys alike */
    ortak_idmap_prefetch(&m, 12345);
    /* Key 0 marks empty slots: never found, never deleted. */
    assert_false(ortak_idmap_get(&m, 0, &v));
    assert_false(ortak_idmap_del(&m, 0));
    assert_false(ortak_idmap_del(&m, 3));
    assert_true(ortak_idmap_del(&m, 1));
    assert_false(ortak_idmap_del(&m, 1));
    assert_false(ortak_idmap_get(&m, 1, &v));
    assert_int_equal(m.count, 3);
    assert_int_equal(ortak_idmap_put(&m, 3, 14), 0); /* room again */
    ortak_idmap_clear(&m);
    assert_int_equal(m.count, 0);
    assert_false(ortak_idmap_get(&m, 2, &v));
    ortak_idmap_free(&m);
}

/* The slot a key hashes to, computed as idmap.c does, so tests can build collisions on purpose. */
static uint32_t home_slot(const struct ortak_idmap *m, ortak_u128 key) {
    return (uint32_t)XXH3_64bits_withSeed(&key, sizeof key, m->seed) & m->mask;
}

/* `n` keys whose home slot is `slot`, searched from `from` upward in steps of `step`. */
static void keys_homed_at(const struct ortak_idmap *m, uint32_t slot, ortak_u128 from, unsigned step, ortak_u128 *out,
                          int n) {
    for (ortak_u128 k = from; n > 0; k += step) {
        if (home_slot(m, k) == slot) out[--n] = k;
    }
}

/* Every key of the reference is found with its value, and every deleted key is absent. */
static void check_against_reference(const struct ortak_idmap *m, const ortak_u128 *keys, const bool *present,
                                    const uint32_t *values, size_t n) {
    uint32_t count = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = UINT32_MAX;
        bool found = ortak_idmap_get(m, keys[i], &v);
        assert_int_equal(found, present[i]);
        if (found) {
            assert_int_equal(v, values[i]);
            count++;
        }
    }
    assert_int_equal(m->count, count);
}

/*
 * Clusters that wrap around the end of the table: keys whose home is the last slot or the one before it fill
 * slots mask-1, mask, 0, 1, ... Deleting from the middle of such a run must shift the wrapped members back
 * across the end of the table, and must leave in place a member sitting at its own home.
 */
static void test_idmap_wrapping_cluster(void **state) {
    (void)state;
    struct ortak_idmap m;
    assert_int_equal(ortak_idmap_init(&m, 8, MAP_SEED), 0); /* 16 slots */
    ortak_u128 keys[8];
    bool present[8];
    uint32_t values[8];
    keys_homed_at(&m, m.mask, 1, 1, keys, 5);         /* 5 keys at the last slot */
    keys_homed_at(&m, m.mask - 1, 1, 1, keys + 5, 2); /* 2 at the one before */
    keys_homed_at(&m, 1, 1, 1, keys + 7, 1);          /* 1 homed inside the wrapped part of the run */
    for (int i = 0; i < 8; i++) {
        values[i] = (uint32_t)i * 3 + 1;
        present[i] = true;
        assert_int_equal(ortak_idmap_put(&m, keys[i], values[i]), 0);
    }
    check_against_reference(&m, keys, present, values, 8);
    const int order[] = {5, 0, 7, 2, 6, 4, 1, 3};
    for (int k = 0; k < 8; k++) {
        assert_true(ortak_idmap_del(&m, keys[order[k]]));
        present[order[k]] = false;
        check_against_reference(&m, keys, present, values, 8);
    }
    for (uint32_t s = 0; s <= m.mask; s++) assert_true(m.slots[s].key == 0);
    ortak_idmap_free(&m);
}

static uint64_t test_rng(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/*
 * Random puts and deletes against a reference array, in tables from 1 to 64 entries. The keys come from a pool
 * of keys homed in a few slots only, so long probe runs, wrap-around and deletion in the middle of runs happen
 * constantly; after every operation the whole reference is checked.
 */
static void churn(uint32_t cap, uint64_t seed, int ops) {
    struct ortak_idmap m;
    assert_int_equal(ortak_idmap_init(&m, cap, seed), 0);
    enum { KEYS = 96 };
    ortak_u128 keys[KEYS];
    bool present[KEYS] = {false};
    uint32_t values[KEYS] = {0};
    /* Three homes (the last slot, the first, the middle); each draws keys of its own residue mod 3 so that no
     * two keys are equal even when two homes coincide in a tiny table. */
    const uint32_t homes[3] = {m.mask, 0, m.mask / 2};
    ortak_u128 next[3] = {1, 2, 3};
    for (int i = 0; i < KEYS; i++) {
        keys_homed_at(&m, homes[i % 3], next[i % 3], 3, &keys[i], 1);
        next[i % 3] = keys[i] + 3;
    }
    uint64_t rng = seed | 1;
    for (int op = 0; op < ops; op++) {
        int i = (int)(test_rng(&rng) % KEYS);
        if (test_rng(&rng) % 2) {
            uint32_t v = (uint32_t)op;
            int want = present[i] ? 1 : (m.count >= cap ? -1 : 0);
            assert_int_equal(ortak_idmap_put(&m, keys[i], v), want);
            if (want == 0) {
                present[i] = true;
                values[i] = v;
            }
        } else {
            assert_int_equal(ortak_idmap_del(&m, keys[i]), present[i]);
            present[i] = false;
        }
        check_against_reference(&m, keys, present, values, KEYS);
    }
    ortak_idmap_free(&m);
}

static void test_idmap_churn_against_reference(void **state) {
    (void)state;
    const uint32_t caps[] = {1, 2, 3, 5, 8, 13, 32, 64};
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        for (uint64_t seed = 1; seed <= 3; seed++) churn(caps[c], seed * UINT64_C(0x9e3779b97f4a7c15), 1500);
    }
}

/* A larger table filled to capacity with ordinary keys, then half deleted at random. */
static void test_idmap_fill_and_delete(void **state) {
    (void)state;
    enum { N = 4096 };
    struct ortak_idmap m;
    assert_int_equal(ortak_idmap_init(&m, N, 42), 0);
    ortak_u128 *keys = calloc(N, sizeof *keys);
    bool *present = calloc(N, sizeof *present);
    uint32_t *values = calloc(N, sizeof *values);
    assert_true(keys && present && values);
    uint64_t rng = 99;
    for (uint32_t i = 0; i < N; i++) {
        keys[i] = ORTAK_U128(test_rng(&rng), i + 1);
        values[i] = i;
        present[i] = true;
        assert_int_equal(ortak_idmap_put(&m, keys[i], i), 0);
    }
    assert_int_equal(ortak_idmap_put(&m, ORTAK_U128(0, 0xfeed), 0), -1);
    for (uint32_t k = 0; k < N; k++) {
        uint32_t i = (uint32_t)(test_rng(&rng) % N);
        assert_int_equal(ortak_idmap_del(&m, keys[i]), present[i]);
        present[i] = false;
    }
    check_against_reference(&m, keys, present, values, N);
    free(keys);
    free(present);
    free(values);
    ortak_idmap_free(&m);
}

/* ---- slices ---------------------------------------------------------------------------------------------- */

static bool slice_is(struct ortak_slice s, const char *want) { return ortak_slice_eq_cstr(s, want); }

static void test_slice_trim(void **state) {
    (void)state;
    assert_true(slice_is(ortak_slice_trim(ORTAK_SLICE_LIT("  a b \t")), "a b"));
    assert_true(slice_is(ortak_slice_trim(ORTAK_SLICE_LIT("\t\tx")), "x"));
    assert_true(slice_is(ortak_slice_trim(ORTAK_SLICE_LIT("x  ")), "x"));
    assert_int_equal(ortak_slice_trim(ORTAK_SLICE_LIT(" \t \t")).len, 0);
    assert_int_equal(ortak_slice_trim(ORTAK_SLICE_LIT("")).len, 0);
    /* Only spaces and tabs are blanks: a newline is content. */
    assert_true(slice_is(ortak_slice_trim(ORTAK_SLICE_LIT(" a\n")), "a\n"));
    /* Trimming never reads outside the slice: the bytes around it are not blanks. */
    const char buf[] = "x  y  z";
    struct ortak_slice mid = {buf + 1, 5};
    assert_true(slice_is(ortak_slice_trim(mid), "y"));
}

static void test_slice_eq_and_copy(void **state) {
    (void)state;
    assert_true(ortak_slice_eq(ORTAK_SLICE_LIT("abc"), ORTAK_SLICE_LIT("abc")));
    assert_false(ortak_slice_eq(ORTAK_SLICE_LIT("abc"), ORTAK_SLICE_LIT("abd")));
    assert_false(ortak_slice_eq(ORTAK_SLICE_LIT("abc"), ORTAK_SLICE_LIT("ab")));
    assert_true(ortak_slice_eq((struct ortak_slice){NULL, 0}, ORTAK_SLICE_LIT("")));
    assert_true(ortak_slice_eq_cstr(ortak_slice_from_cstr("KZT"), "KZT"));
    assert_false(ortak_slice_eq_cstr(ORTAK_SLICE_LIT("KZT"), "KZ"));

    char dst[4] = "???";
    assert_true(ortak_slice_copy(ORTAK_SLICE_LIT("abc"), dst, sizeof dst)); /* exactly fits with its NUL */
    assert_string_equal(dst, "abc");
    assert_false(ortak_slice_copy(ORTAK_SLICE_LIT("abcd"), dst, sizeof dst));
    assert_false(ortak_slice_copy(ORTAK_SLICE_LIT(""), dst, 0));
    assert_true(ortak_slice_copy(ORTAK_SLICE_LIT(""), dst, 1));
    assert_string_equal(dst, "");
}

static bool parses(const char *s, uint64_t max, uint64_t want) {
    uint64_t v = 0;
    return ortak_slice_parse_u64(ortak_slice_from_cstr(s), max, &v) && v == want;
}

static bool refused(const char *s, uint64_t max) {
    uint64_t v = 12345;
    return !ortak_slice_parse_u64(ortak_slice_from_cstr(s), max, &v);
}

static void test_slice_parse_u64(void **state) {
    (void)state;
    assert_true(parses("0", UINT64_MAX, 0));
    assert_true(parses("007", UINT64_MAX, 7));
    assert_true(parses("18446744073709551615", UINT64_MAX, UINT64_MAX));
    assert_true(refused("18446744073709551616", UINT64_MAX));
    assert_true(refused("99999999999999999999", UINT64_MAX));
    assert_true(refused("184467440737095516150", UINT64_MAX));
    assert_true(refused("", UINT64_MAX));
    assert_true(refused("12a", UINT64_MAX));
    assert_true(refused("a12", UINT64_MAX));
    assert_true(refused("-1", UINT64_MAX));
    assert_true(refused("+1", UINT64_MAX));
    assert_true(refused(" 1", UINT64_MAX)); /* callers trim; the parser does not */
    assert_true(refused("1 ", UINT64_MAX));
    assert_true(refused("0x10", UINT64_MAX));
    /* The bound is inclusive. */
    assert_true(parses("8190", 8190, 8190));
    assert_true(refused("8191", 8190));
    assert_true(parses("999", 999, 999));
    assert_true(refused("1000", 999));
    assert_true(parses("65536", 65536, 65536));
    assert_true(refused("65537", 65536));
    assert_true(parses("0", 0, 0));
    /* Only the slice is read, not up to a NUL. */
    uint64_t v = 0;
    assert_true(ortak_slice_parse_u64((struct ortak_slice){"12345", 3}, 1000, &v));
    assert_int_equal(v, 123);
}

/*
 * Bounds below 10, where a single digit can exceed the bound: (max - d) / 10 in unsigned arithmetic would wrap
 * when the digit d is greater than max. The configuration's minor_units (max 4) is parsed this way.
 */
static void test_slice_parse_u64_small_bound(void **state) {
    (void)state;
    assert_true(refused("9", 4)); /* a single digit above the bound */
    assert_true(parses("4", 4, 4));
    assert_true(refused("5", 4));
    assert_true(refused("45", 4));
    assert_true(refused("1", 0));
    assert_true(parses("9", 9, 9));
}

/* ---- 128-bit formatting ---------------------------------------------------------------------------------- */

static void test_u128_hex(void **state) {
    (void)state;
    char out[33];
    assert_ptr_equal(ortak_u128_hex(0, out), out);
    assert_string_equal(out, "00000000000000000000000000000000");
    assert_string_equal(ortak_u128_hex(ORTAK_U128(0x0123456789abcdefu, 0xfedcba9876543210u), out),
                        "0123456789abcdeffedcba9876543210");
    assert_string_equal(ortak_u128_hex(ORTAK_U128_MAX, out), "ffffffffffffffffffffffffffffffff");
    assert_string_equal(ortak_u128_hex(255, out), "000000000000000000000000000000ff");
}

static void test_i128_dec(void **state) {
    (void)state;
    char out[41];
    memset(out, 'x', sizeof out);
    assert_ptr_equal(ortak_i128_dec(0, out), out);
    assert_string_equal(out, "0");
    assert_string_equal(ortak_i128_dec(7, out), "7");
    assert_string_equal(ortak_i128_dec(-7, out), "-7");
    assert_string_equal(ortak_i128_dec(-10, out), "-10");
    assert_string_equal(ortak_i128_dec(INT64_MAX, out), "9223372036854775807");
    assert_string_equal(ortak_i128_dec((ortak_i128)INT64_MIN, out), "-9223372036854775808");
    ortak_i128 max = (ortak_i128)(ORTAK_U128_MAX >> 1);
    ortak_i128 min = -max - 1;
    assert_string_equal(ortak_i128_dec(max, out), "170141183460469231731687303715884105727");
    /* The most negative value: 40 characters and the NUL fill the 41-byte buffer exactly. */
    memset(out, 'x', sizeof out);
    assert_string_equal(ortak_i128_dec(min, out), "-170141183460469231731687303715884105728");
    assert_int_equal(strlen(out), 40);
    assert_string_equal(ortak_i128_dec(min + 1, out), "-170141183460469231731687303715884105727");
}

/* ---- logging --------------------------------------------------------------------------------------------- */

static void test_log_level_parse(void **state) {
    (void)state;
    const char *names[] = {"debug", "info", "warn", "error", "off"};
    const enum ortak_log_level levels[] = {ORTAK_LOG_DEBUG, ORTAK_LOG_INFO, ORTAK_LOG_WARN, ORTAK_LOG_ERROR,
                                           ORTAK_LOG_OFF};
    for (int i = 0; i < 5; i++) {
        enum ortak_log_level l = ORTAK_LOG_OFF;
        assert_int_equal(ortak_log_level_parse(names[i], &l), 0);
        assert_int_equal(l, levels[i]);
    }
    const char *bad[] = {"", "DEBUG", "Info", "warning", "err", "off ", "none"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum ortak_log_level l = ORTAK_LOG_WARN;
        assert_int_equal(ortak_log_level_parse(bad[i], &l), -1);
        assert_int_equal(l, ORTAK_LOG_WARN); /* untouched on failure */
    }
}

/* Lines below the level are dropped; the rest come out as "level module: message". */
static void test_log_filters_and_formats(void **state) {
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    ortak_log_setup(ORTAK_LOG_WARN, f);
    assert_int_equal(ortak_log_level_get(), ORTAK_LOG_WARN);
    ortak_log_info("test", "dropped %d", 1);
    ortak_log_warn("test", "kept %d", 2);
    ortak_log_error("journal", "%s", "fatal");
    ortak_log_setup(ORTAK_LOG_OFF, f);
    ortak_log_error("test", "silenced");
    ortak_log_setup(ORTAK_LOG_INFO, NULL);
    char buf[256] = "";
    rewind(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_string_equal(buf, "warn test: kept 2\nerror journal: fatal\n");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rc_known_codes),
        cmocka_unit_test(test_rc_numbers_are_stable),
        cmocka_unit_test(test_rc_out_of_range),
        cmocka_unit_test(test_rc_every_code_described),
        cmocka_unit_test(test_arena_alignment_and_zeroing),
        cmocka_unit_test(test_arena_exhaustion_and_reset),
        cmocka_unit_test(test_arena_alignment_padding_counts),
        cmocka_unit_test(test_arena_large_alignment),
        cmocka_unit_test(test_calloc_array_overflow),
        cmocka_unit_test(test_pool_take_until_full),
        cmocka_unit_test(test_pool_give_take_reuse),
        cmocka_unit_test(test_pool_empty_capacity),
        cmocka_unit_test(test_idmap_basic),
        cmocka_unit_test(test_idmap_wrapping_cluster),
        cmocka_unit_test(test_idmap_churn_against_reference),
        cmocka_unit_test(test_idmap_fill_and_delete),
        cmocka_unit_test(test_slice_trim),
        cmocka_unit_test(test_slice_eq_and_copy),
        cmocka_unit_test(test_slice_parse_u64),
        cmocka_unit_test(test_slice_parse_u64_small_bound),
        cmocka_unit_test(test_u128_hex),
        cmocka_unit_test(test_i128_dec),
        cmocka_unit_test(test_log_level_parse),
        cmocka_unit_test(test_log_filters_and_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
