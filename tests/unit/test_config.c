/*
 * Unit tests of the engine configuration (include/ortak/config.h).
 *
 * A payment system must refuse a configuration it does not fully understand rather than run on defaults, so
 * most tests here feed one mistake at a time and check three things: the code is ORTAK_CONFIG_INVALID, the
 * message names the line or the currency and the key at fault, and nothing else is blamed. The default
 * configuration is checked field by field against the currencies of the Organization of Turkic States.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ortak/config.h"
#include "ortak/engine.h"

/* One valid currency, to which each test adds its single mistake. */
#define KZT_SECTION      \
    "[currency KZT]\n"   \
    "numeric = 398\n"    \
    "minor_units = 2\n"  \
    "agent = NBRKKZKX\n" \
    "agent_name = National Bank of Kazakhstan\n"

static ortak_rc parse(const char *text, struct ortak_config *c, char *err, size_t cap) {
    return ortak_config_parse(c, text, strlen(text), err, cap);
}

/* Parses `text`, expects ORTAK_CONFIG_INVALID and an error message containing every one of the `want` strings. */
static void expect_invalid(const char *text, const char *want1, const char *want2) {
    struct ortak_config c;
    char err[256] = "untouched";
    ortak_rc rc = parse(text, &c, err, sizeof err);
    if (rc != ORTAK_CONFIG_INVALID || !strstr(err, want1) || (want2 && !strstr(err, want2))) {
        print_error("text:\n%s\nrc %s, err \"%s\", wanted \"%s\"%s%s\n", text, ortak_rc_name(rc), err, want1,
                    want2 ? " and " : "", want2 ? want2 : "");
        fail();
    }
}

static void expect_valid(const char *text, struct ortak_config *c) {
    char err[256] = "";
    ortak_rc rc = parse(text, c, err, sizeof err);
    if (rc != ORTAK_OK) {
        print_error("text:\n%s\nrc %s, err \"%s\"\n", text, ortak_rc_name(rc), err);
        fail();
    }
}

/* ---- the default configuration --------------------------------------------------------------------------- */

static void test_default_currencies(void **state) {
    (void)state;
    static const struct {
        const char *code;
        uint16_t numeric;
        const char *agent;
        const char *name;
    } want[] = {
        {"AZN", 944, "NABZAZ2X", "Central Bank of the Republic of Azerbaijan"},
        {"KZT", 398, "NBRKKZKX", "National Bank of Kazakhstan"},
        {"KGS", 417, "NBKRKG22", "National Bank of the Kyrgyz Republic"},
        {"UZS", 860, "CBUZUZ22", "Central Bank of the Republic of Uzbekistan"},
        {"TRY", 949, "TCMBTR2A", "Central Bank of the Republic of Turkiye"},
        {"HUF", 348, "MANEHUHB", "Magyar Nemzeti Bank"},
        {"TMT", 934, "CBTKTM2X", "Central Bank of Turkmenistan"},
    };
    struct ortak_config c;
    ortak_config_default(&c);
    assert_int_equal(c.currency_count, 7);
    for (uint32_t i = 0; i < 7; i++) {
        const struct ortak_currency_config *cur = &c.currencies[i];
        assert_string_equal(cur->code, want[i].code);
        assert_int_equal(cur->numeric, want[i].numeric);
        assert_int_equal(cur->minor_units, 2);
        assert_string_equal(cur->agent_bic, want[i].agent);
        assert_string_equal(cur->agent_name, want[i].name);
        assert_true(ortak_bic_valid(cur->agent_bic));
    }
    assert_int_equal(c.hash_seed, UINT64_C(7305865148325291521));
    char err[256] = "";
    assert_int_equal(ortak_config_check(&c, err, sizeof err), ORTAK_OK);
}

static void test_default_limits(void **state) {
    (void)state;
    struct ortak_config c;
    ortak_config_default(&c);
    assert_int_equal(c.limits.participants_max, ORTAK_PARTICIPANTS_DEFAULT);
    assert_int_equal(c.limits.accounts_max, ORTAK_ACCOUNTS_DEFAULT);
    assert_int_equal(c.limits.transfers_max, ORTAK_TRANSFERS_DEFAULT);
    assert_int_equal(c.limits.pending_max, ORTAK_PENDING_DEFAULT);
    assert_int_equal(c.limits.history_max, ORTAK_HISTORY_DEFAULT);
    assert_int_equal(c.limits.batch_max, ORTAK_BATCH_DEFAULT);
}

/* What runs by default is exactly what an operator could have written: the published INI text. */
static void test_default_is_its_ini_text(void **state) {
    (void)state;
    struct ortak_config a, b;
    ortak_config_default(&a);
    expect_valid(ortak_config_default_ini(), &b);
    assert_memory_equal(&a, &b, sizeof a);
}

static void test_init(void **state) {
    (void)state;
    struct ortak_config c;
    memset(&c, 0xa5, sizeof c);
    ortak_config_init(&c);
    assert_int_equal(c.currency_count, 0);
    assert_int_equal(c.hash_seed, 0);
    assert_int_equal(c.limits.participants_max, ORTAK_PARTICIPANTS_DEFAULT);
    assert_int_equal(c.limits.batch_max, ORTAK_BATCH_DEFAULT);
    char err[256] = "";
    assert_int_equal(ortak_config_check(&c, err, sizeof err), ORTAK_CONFIG_INVALID); /* no currency yet */
}

/* ---- valid variations ------------------------------------------------------------------------------------ */

static void test_minimal_and_limits(void **state) {
    (void)state;
    struct ortak_config c;
    expect_valid("[engine]\nhash_seed = 18446744073709551615\n"
                 "[limits]\nparticipants_max = 65536\nbatch_max = 8190\ntransfers_max = 1\n" KZT_SECTION,
                 &c);
    assert_int_equal(c.hash_seed, UINT64_MAX);
    assert_int_equal(c.limits.participants_max, ORTAK_PARTICIPANTS_LIMIT);
    assert_int_equal(c.limits.batch_max, ORTAK_BATCH_LIMIT);
    assert_int_equal(c.limits.transfers_max, 1);
    assert_int_equal(c.limits.accounts_max, ORTAK_ACCOUNTS_DEFAULT); /* not mentioned: default */
    assert_int_equal(c.currency_count, 1);
    assert_string_equal(c.currencies[0].code, "KZT");
}

/* The format as config.h documents it: blanks around values and comments after them. */
static void test_documented_format(void **state) {
    (void)state;
    struct ortak_config c;
    expect_valid("; a comment line\n"
                 "[engine]\n"
                 "hash_seed = 12345                ; seeds the id hash tables\n"
                 "[limits]\n"
                 "participants_max =    1024   \n"
                 "[currency KZT]\n"
                 "numeric = 398\n"
                 "minor_units = 0\n"
                 "agent = NBRKKZKXXXX\n"
                 "agent_name = National Bank of Kazakhstan\n",
                 &c);
    assert_int_equal(c.hash_seed, 12345);
    assert_int_equal(c.limits.participants_max, 1024);
    assert_int_equal(c.currencies[0].minor_units, 0);
    assert_string_equal(c.currencies[0].agent_bic, "NBRKKZKXXXX");
}

/* ---- one mistake at a time ------------------------------------------------------------------------------- */

static void test_unknown_section(void **state) {
    (void)state;
    expect_invalid("[engin]\nhash_seed = 1\n" KZT_SECTION, "line 2", "unknown section [engin]");
    expect_invalid(KZT_SECTION "[currencies]\nx = 1\n", "line 7", "unknown section [currencies]");
}

static void test_unknown_key(void **state) {
    (void)state;
    expect_invalid("[limits]\nparticipants_max = 10\nparticipant_max = 10\n" KZT_SECTION, "line 3",
                   "unknown key 'participant_max'");
    expect_invalid("[engine]\nseed = 1\n" KZT_SECTION, "line 2", "seed");
    expect_invalid(KZT_SECTION "colour = blue\n", "line 6", "unknown key 'colour'");
}

static void test_limit_zero(void **state) {
    (void)state;
    expect_invalid("[limits]\nbatch_max = 0\n" KZT_SECTION, "line 2", "batch_max must be a whole number from 1");
}

static void test_limit_above_hard_limit(void **state) {
    (void)state;
    expect_invalid("[limits]\nbatch_max = 8191\n" KZT_SECTION, "line 2", "batch_max");
    expect_invalid("[limits]\nparticipants_max = 65537\n" KZT_SECTION, "line 2", "participants_max");
    expect_invalid("[limits]\ntransfers_max = 268435457\n" KZT_SECTION, "line 2", "transfers_max");
    expect_invalid("[limits]\nhistory_max = 99999999999999999999999\n" KZT_SECTION, "line 2", "history_max");
}

static void test_non_numeric(void **state) {
    (void)state;
    expect_invalid("[limits]\naccounts_max = many\n" KZT_SECTION, "line 2", "accounts_max");
    expect_invalid("[limits]\naccounts_max = 12x\n" KZT_SECTION, "line 2", "accounts_max");
    expect_invalid("[limits]\naccounts_max = -1\n" KZT_SECTION, "line 2", "accounts_max");
    expect_invalid("[limits]\naccounts_max = 0x10\n" KZT_SECTION, "line 2", "accounts_max");
    expect_invalid("[limits]\naccounts_max =\n" KZT_SECTION, "line 2", "accounts_max");
    expect_invalid("[engine]\nhash_seed = 1e6\n" KZT_SECTION, "line 2", "hash_seed");
    expect_invalid("[engine]\nhash_seed = 18446744073709551616\n" KZT_SECTION, "line 2", "hash_seed");
    expect_invalid(KZT_SECTION "[currency KGS]\nnumeric = four\n", "line 7", "numeric");
    expect_invalid(KZT_SECTION "[currency KGS]\nnumeric = 1000\n", "line 7", "numeric");
    expect_invalid(KZT_SECTION "[currency KGS]\nminor_units = two\n", "line 7", "minor_units");
}

static void test_bad_currency_code(void **state) {
    (void)state;
    expect_invalid("[currency KZTX]\nnumeric = 398\n", "line 2", "3 letters");
    expect_invalid("[currency KZ]\nnumeric = 398\n", "line 2", "3 letters");
    /* Three characters but not three uppercase letters: caught by the check, which names the currency. */
    expect_invalid("[currency kzt]\nnumeric = 398\nminor_units = 2\nagent = NBRKKZKX\nagent_name = N\n", "'kzt'",
                   "uppercase");
    expect_invalid("[currency K1T]\nnumeric = 398\nminor_units = 2\nagent = NBRKKZKX\nagent_name = N\n", "'K1T'",
                   "uppercase");
}

static void test_duplicate_numeric(void **state) {
    (void)state;
    expect_invalid(KZT_SECTION "[currency KGS]\nnumeric = 398\nminor_units = 2\nagent = NBKRKG22\nagent_name = K\n",
                   "KZT and KGS", "398");
}

static void test_bad_agent_bic(void **state) {
    (void)state;
    const char *head = "[currency KZT]\nnumeric = 398\nminor_units = 2\nagent_name = N\nagent = ";
    const char *bad[] = {"NBRK", "NBRKKZK", "NBRKQQKX", "nbrkkzkx", "NBRK-ZKX", "NBRKKZKXXX"};
    char text[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "%s%s\n", head, bad[i]);
        expect_invalid(text, "currency KZT", "not a valid BIC");
    }
    /* Longer than any BIC: refused while parsing, on its line. */
    expect_invalid("[currency KZT]\nnumeric = 398\nagent = NBRKKZKXXXXX\n", "line 3", "agent");
    expect_invalid("[currency KZT]\nnumeric = 398\nminor_units = 2\nagent_name = N\n", "currency KZT",
                   "not a valid BIC");
}

static void test_missing_fields(void **state) {
    (void)state;
    expect_invalid("[currency KZT]\nnumeric = 398\nminor_units = 2\nagent = NBRKKZKX\n", "currency KZT",
                   "agent_name missing");
    expect_invalid("[currency KZT]\nminor_units = 2\nagent = NBRKKZKX\nagent_name = N\n", "currency KZT",
                   "numeric code missing");
    expect_invalid("[currency KZT]\nnumeric = 0\nminor_units = 2\nagent = NBRKKZKX\nagent_name = N\n", "currency KZT",
                   "numeric code missing");
}

static void test_agent_name_too_long(void **state) {
    (void)state;
    char text[512];
    char name[ORTAK_NAME_LEN_LIMIT + 2];
    memset(name, 'N', sizeof name - 1);
    name[sizeof name - 1] = '\0'; /* 141 bytes: one more than ISO 20022 Max140Text */
    snprintf(text, sizeof text, "[currency KZT]\nnumeric = 398\nagent = NBRKKZKX\nagent_name = %s\n", name);
    expect_invalid(text, "line 4", "agent_name");
    name[sizeof name - 2] = '\0'; /* 140 bytes fit */
    snprintf(text, sizeof text, "[currency KZT]\nnumeric = 398\nagent = NBRKKZKX\nagent_name = %s\n", name);
    struct ortak_config c;
    expect_valid(text, &c);
    assert_int_equal(strlen(c.currencies[0].agent_name), ORTAK_NAME_LEN_LIMIT);
}

static void test_no_currencies(void **state) {
    (void)state;
    expect_invalid("", "1 to 32 currencies", NULL);
    expect_invalid("[engine]\nhash_seed = 5\n[limits]\nbatch_max = 10\n", "1 to 32 currencies", NULL);
}

static void test_too_many_currencies(void **state) {
    (void)state;
    enum { N = ORTAK_CURRENCIES_LIMIT + 1 };
    static char text[N * 128];
    size_t len = 0;
    for (unsigned i = 0; i < N; i++) {
        len += (size_t)snprintf(text + len, sizeof text - len,
                                "[currency Q%c%c]\nnumeric = %u\nminor_units = 2\nagent = NBRKKZKX\nagent_name = N\n",
                                'A' + i / 26, 'A' + i % 26, 100 + i);
    }
    expect_invalid(text, "more than 32 currencies", NULL);
}

static void test_nul_byte(void **state) {
    (void)state;
    static const char text[] = "[limits]\nbatch_max = 10\0\n" KZT_SECTION;
    struct ortak_config c;
    char err[256] = "";
    assert_int_equal(ortak_config_parse(&c, text, sizeof text - 1, err, sizeof err), ORTAK_CONFIG_INVALID);
    assert_non_null(strstr(err, "NUL byte"));
}

static void test_syntax_error(void **state) {
    (void)state;
    expect_invalid("[limits\nbatch_max = 10\n" KZT_SECTION, "line 1", NULL);
    expect_invalid(KZT_SECTION "just words\n", "line 6", NULL);
}

/* minor_units above 4, including a single digit above the bound (which an earlier parser let through). */
static void test_minor_units_above_4(void **state) {
    (void)state;
    static const char text[] = "[currency KZT]\nnumeric = 398\nminor_units = 9\nagent = NBRKKZKX\nagent_name = N\n";
    /* Whether the parser or the check refuses it, the message must name the key. */
    expect_invalid(text, "minor_units", NULL);
    expect_invalid("[currency KZT]\nnumeric = 398\nminor_units = 45\nagent = NBRKKZKX\nagent_name = N\n", "minor_units",
                   NULL);
}

/*
 * Two mistakes: the message must describe the first one, on the line it names (inih carries on after a handler
 * error and returns the first failing line, so only the first message may be kept).
 */
static void test_first_error_reported(void **state) {
    (void)state;
    static const char text[] = "[limits]\nbatch_max = 0\nfoo = 1\n" KZT_SECTION;
    struct ortak_config c;
    char err[256] = "";
    assert_int_equal(parse(text, &c, err, sizeof err), ORTAK_CONFIG_INVALID);
    assert_null(strstr(err, "foo"));
    expect_invalid(text, "line 2", "batch_max");
}

/* A currency's key given twice (a repeated section) would silently override the first: refused, naming the key. */
static void test_repeated_currency_key(void **state) {
    (void)state;
    expect_invalid("[currency KZT]\nnumeric = 398\nminor_units = 2\nagent = NBRKKZKX\nagent_name = N\n"
                   "[currency KZT]\nnumeric = 399\n",
                   "line 7", "numeric is given twice");
}

/* An agent's name follows the rule of participants' names: no control characters. */
static void test_agent_name_control_character(void **state) {
    (void)state;
    expect_invalid("[currency KZT]\nnumeric = 398\nminor_units = 2\nagent = NBRKKZKX\nagent_name = N\x01B\n",
                   "agent_name", "control characters");
}

/* The error buffer is optional and is always NUL-terminated, however small. */
static void test_error_buffer(void **state) {
    (void)state;
    struct ortak_config c;
    assert_int_equal(parse("[x]\ny = 1\n", &c, NULL, 0), ORTAK_CONFIG_INVALID);
    char err[8];
    memset(err, 'x', sizeof err);
    assert_int_equal(parse("[x]\ny = 1\n", &c, err, sizeof err), ORTAK_CONFIG_INVALID);
    assert_int_equal(strlen(err), sizeof err - 1);
    char ok_err[64] = "stale";
    expect_valid(KZT_SECTION, &c);
    assert_int_equal(parse(KZT_SECTION, &c, ok_err, sizeof ok_err), ORTAK_OK);
    assert_string_equal(ok_err, ""); /* cleared on success */
}

/* ortak_config_check on a configuration built in code rather than parsed. */
static void test_check_limits(void **state) {
    (void)state;
    struct ortak_config c;
    char err[256];
    ortak_config_default(&c);
    c.limits.pending_max = 0;
    assert_int_equal(ortak_config_check(&c, err, sizeof err), ORTAK_CONFIG_INVALID);
    assert_non_null(strstr(err, "pending_max"));
    ortak_config_default(&c);
    c.limits.pending_max = ORTAK_PENDING_LIMIT + 1;
    assert_int_equal(ortak_config_check(&c, err, sizeof err), ORTAK_CONFIG_INVALID);
    assert_non_null(strstr(err, "pending_max"));
    ortak_config_default(&c);
    c.currency_count = ORTAK_CURRENCIES_LIMIT + 1;
    assert_int_equal(ortak_config_check(&c, err, sizeof err), ORTAK_CONFIG_INVALID);
}

/* ---- files and the engine -------------------------------------------------------------------------------- */

static void test_load_missing_file(void **state) {
    (void)state;
    struct ortak_config c;
    char err[256] = "";
    const char *path = "/nonexistent-ortak-dir/ortak.ini";
    assert_int_equal(ortak_config_load(&c, path, err, sizeof err), ORTAK_IO);
    assert_non_null(strstr(err, path));
}

static void test_load_directory(void **state) {
    (void)state;
    struct ortak_config c;
    char err[256] = "";
    assert_int_equal(ortak_config_load(&c, "/", err, sizeof err), ORTAK_IO);
}

/* Writes `len` bytes to a new temporary file; returns its path in `path` (unlinked by the caller). */
static void write_temp(char path[64], const char *data, size_t len) {
    snprintf(path, 64, "/tmp/ortak-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void test_load_temp_file(void **state) {
    (void)state;
    char path[64];
    const char *ini = ortak_config_default_ini();
    write_temp(path, ini, strlen(ini));
    struct ortak_config loaded, def;
    char err[256] = "";
    ortak_rc rc = ortak_config_load(&loaded, path, err, sizeof err);
    unlink(path);
    assert_int_equal(rc, ORTAK_OK);
    ortak_config_default(&def);
    assert_memory_equal(&loaded, &def, sizeof def);

    static const char bad[] = "[limits]\nbatch_max = 0\n";
    write_temp(path, bad, strlen(bad));
    rc = ortak_config_load(&loaded, path, err, sizeof err);
    unlink(path);
    assert_int_equal(rc, ORTAK_CONFIG_INVALID);
    assert_non_null(strstr(err, "line 2"));
}

static void test_load_too_large(void **state) {
    (void)state;
    size_t len = (1u << 20) + 1;
    char *big = malloc(len);
    assert_non_null(big);
    memset(big, '\n', len);
    char path[64];
    write_temp(path, big, len);
    free(big);
    struct ortak_config c;
    char err[256] = "";
    ortak_rc rc = ortak_config_load(&c, path, err, sizeof err);
    unlink(path);
    assert_int_equal(rc, ORTAK_CONFIG_INVALID);
    assert_non_null(strstr(err, "larger than"));
}

static void test_engine_open_rejects_invalid(void **state) {
    (void)state;
    struct ortak_config c;
    struct ortak_engine *e = (struct ortak_engine *)(uintptr_t)1; /* not NULL: open must reset it */
    ortak_config_init(&c);                                        /* no currencies */
    assert_int_equal(ortak_engine_open(&c, &e), ORTAK_CONFIG_INVALID);
    assert_null(e);

    ortak_config_default(&c);
    c.limits.batch_max = ORTAK_BATCH_LIMIT + 1;
    e = (struct ortak_engine *)(uintptr_t)1;
    assert_int_equal(ortak_engine_open(&c, &e), ORTAK_CONFIG_INVALID);
    assert_null(e);

    ortak_config_default(&c);
    memcpy(c.currencies[1].agent_bic, "BAD", 4);
    assert_int_equal(ortak_engine_open(&c, &e), ORTAK_CONFIG_INVALID);
    assert_null(e);
}

/* The default configuration, with its pools shrunk, opens an engine that knows its seven currencies. */
static void test_engine_open_default(void **state) {
    (void)state;
    struct ortak_config c;
    ortak_config_default(&c);
    c.limits.transfers_max = 1024;
    c.limits.history_max = 1024;
    struct ortak_engine *e = NULL;
    assert_int_equal(ortak_engine_open(&c, &e), ORTAK_OK);
    assert_non_null(e);
    const struct ortak_ledger *l = ortak_engine_ledger(e);
    assert_int_equal(ortak_ledger_currency_count(l), 7);
    struct ortak_currency_info info;
    assert_int_equal(ortak_ledger_currency_get(l, "HUF", &info), ORTAK_OK);
    assert_int_equal(info.numeric, 348);
    assert_int_equal(info.agent, -1); /* the central bank is not admitted yet */
    assert_int_equal(ortak_engine_config(e)->limits.transfers_max, 1024);
    ortak_engine_close(e);
    ortak_engine_close(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_currencies),
        cmocka_unit_test(test_default_limits),
        cmocka_unit_test(test_default_is_its_ini_text),
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_minimal_and_limits),
        cmocka_unit_test(test_documented_format),
        cmocka_unit_test(test_unknown_section),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_limit_zero),
        cmocka_unit_test(test_limit_above_hard_limit),
        cmocka_unit_test(test_non_numeric),
        cmocka_unit_test(test_bad_currency_code),
        cmocka_unit_test(test_duplicate_numeric),
        cmocka_unit_test(test_bad_agent_bic),
        cmocka_unit_test(test_missing_fields),
        cmocka_unit_test(test_agent_name_too_long),
        cmocka_unit_test(test_no_currencies),
        cmocka_unit_test(test_too_many_currencies),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_minor_units_above_4),
        cmocka_unit_test(test_first_error_reported),
        cmocka_unit_test(test_repeated_currency_key),
        cmocka_unit_test(test_agent_name_control_character),
        cmocka_unit_test(test_error_buffer),
        cmocka_unit_test(test_check_limits),
        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_load_directory),
        cmocka_unit_test(test_load_temp_file),
        cmocka_unit_test(test_load_too_large),
        cmocka_unit_test(test_engine_open_rejects_invalid),
        cmocka_unit_test(test_engine_open_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
