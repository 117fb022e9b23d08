/*
 * Reference checks of the ISO 20022 module: IBANs (src/iso20022/iban.c), domestic account identifiers, ISO 4217
 * currencies and amounts as text (src/iso20022/currency.c), and `ortak iban check` end to end.
 *
 *   - Every IBAN of every file in ../shared/data/iban/examples/ (one a line, written by people: spaces, dots,
 *     dashes and lowercase are taken out here first) is valid with the registry and with the built-in lengths.
 *     Every substitution of one character by another of its class (digit for digit, letter for letter) is
 *     refused, and so is every transposition of two adjacent different characters -- except the letter-digit
 *     pairs MOD 97-10 cannot see (B1, M2 and X3: the letter's value is 11 times the digit), which are counted.
 *   - For every row of the registry, random IBANs built from its format are valid with the registry and the
 *     built-in table; one character more is refused by both; a character of the wrong class is refused by the
 *     registry's structure check.
 *   - Malformed registries are refused with the line named; an unreadable one is ORTAK_IO.
 *   - Currencies, amounts (known answers, refusals, a round-trip property over random values), domestic accounts.
 *   - The CLI: valid and invalid IBANs, --json (with escaping), usage errors, unreadable and malformed registries.
 *
 * Usage: test_iso_iban PATH-TO-shared/data [PATH-TO-ortak]. Without the data the test fails, naming what is
 * missing; without the binary the CLI cases fail.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/rng.h"
#include "iso20022/iso_int.h"
#include "ortak/iso20022.h"
#include "test_cli.h"

/* snprintf into an array that must not truncate (a truncated path would test something else). */
#define FMT(buf, ...) assert_true((size_t)snprintf((buf), sizeof(buf), __VA_ARGS__) < sizeof(buf))

#define EXAMPLES_MAX 1024u
#define IBAN_BYTES 40u
#define ROWS_MAX 700u

static const char *data_dir, *ortak_bin;
static char registry_path[512], tmp_dir[256];
static struct ortak__iban_registry *registry;
static struct ortak_iso iso_reg; /* only .iban is set: all the IBAN check reads */

static char examples[EXAMPLES_MAX][IBAN_BYTES];
static size_t example_count, example_files;

/* One row of the registry as this test reads it, independently of iban.c. */
struct row {
    char cc[3];
    unsigned len;
    char format[64];
};
static struct row rows[ROWS_MAX];
static size_t row_count;

/* ---- helpers -------------------------------------------------------------------------------------------------- */

static bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/*
 * MOD 97-10 the way ISO 13616 describes it for people: letters become two digits, and the number is reduced 9
 * digits at a time. A second implementation, so that the library is not checked against itself.
 */
static unsigned mod97_text(const char *s, size_t len) {
    char digits[80];
    size_t n = 0;
    for (size_t k = 0; k < len; k++) {
        char c = s[(k + 4) % len];
        if (is_digit(c))
            digits[n++] = c;
        else {
            unsigned v = (unsigned)(c - 'A') + 10;
            digits[n++] = (char)('0' + v / 10);
            digits[n++] = (char)('0' + v % 10);
        }
        assert_true(n < sizeof digits - 1);
    }
    uint64_t r = 0;
    for (size_t i = 0; i < n;) {
        uint64_t chunk = r; /* the remainder so far leads the next chunk */
        for (size_t j = 0; j < 7 && i < n; j++, i++) chunk = chunk * 10 + (uint64_t)(digits[i] - '0');
        r = chunk % 97;
    }
    return (unsigned)r;
}

/* `cc` + check digits + `bban` into `out`, with the check digits that make it valid. */
static void make_iban(char out[IBAN_BYTES], const char *cc, const char *bban) {
    assert_true((size_t)snprintf(out, IBAN_BYTES, "%.2s00%s", cc, bban) < IBAN_BYTES);
    unsigned cd = 98 - mod97_text(out, strlen(out));
    out[2] = (char)('0' + cd / 10);
    out[3] = (char)('0' + cd % 10);
    assert_int_equal(mod97_text(out, strlen(out)), 1);
}

static ortak_rc check_reg(const char *iban, char *why, size_t why_len) {
    return ortak_iso_iban_check(&iso_reg, iban, why, why_len);
}

/* Asserts that `iban` is refused with and without the registry, the first reason containing `needle`. */
static void refused(const char *iban, const char *needle) {
    char why[256];
    if (check_reg(iban, why, sizeof why) != ORTAK_IBAN_INVALID) fail_msg("%s passed with the registry", iban);
    if (needle && !strstr(why, needle)) fail_msg("%s: \"%s\" does not say \"%s\"", iban, why, needle);
    if (ortak_iso_iban_check(NULL, iban, why, sizeof why) != ORTAK_IBAN_INVALID)
        fail_msg("%s passed without the registry", iban);
}

static void accepted(const char *iban) {
    char why[256];
    if (check_reg(iban, why, sizeof why) != ORTAK_OK) fail_msg("%s refused with the registry: %s", iban, why);
    if (ortak_iso_iban_check(NULL, iban, why, sizeof why) != ORTAK_OK)
        fail_msg("%s refused without the registry: %s", iban, why);
    assert_string_equal(why, "");
}

/* ---- the reference data --------------------------------------------------------------------------------------- */

/* A line of an examples file in electronic form: letters and digits only, uppercase, without an "IBAN" label. */
static bool normalize(const char *line, char out[IBAN_BYTES]) {
    size_t n = 0;
    for (const char *p = line; *p; p++) {
        char c = *p;
        if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
        if (!is_upper(c) && !is_digit(c)) continue;
        if (n + 1 >= IBAN_BYTES) return false;
        out[n++] = c;
    }
    out[n] = '\0';
    if (n >= 4 && memcmp(out, "IBAN", 4) == 0) memmove(out, out + 4, n - 3);
    return out[0] != '\0';
}

static bool load_examples(void) {
    char dir_path[600];
    if ((size_t)snprintf(dir_path, sizeof dir_path, "%s/iban/examples", data_dir) >= sizeof dir_path) return false;
    DIR *d = opendir(dir_path);
    if (!d) {
        fprintf(stderr, "test_iso_iban: FAIL: no example IBANs: cannot open %s\n", dir_path);
        return false;
    }
    bool ok = true;
    for (struct dirent *e; ok && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.') continue;
        char path[900], line[256];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir_path, e->d_name) >= sizeof path) ok = false;
        FILE *f = ok ? fopen(path, "r") : NULL;
        if (!f) {
            fprintf(stderr, "test_iso_iban: FAIL: cannot read %s\n", path);
            ok = false;
            break;
        }
        example_files++;
        while (ok && fgets(line, sizeof line, f)) {
            char iban[IBAN_BYTES];
            if (!normalize(line, iban)) continue;
            if (example_count == EXAMPLES_MAX)
                ok = false;
            else
                memcpy(examples[example_count++], iban, sizeof iban);
        }
        fclose(f);
    }
    closedir(d);
    if (ok && example_count == 0) fprintf(stderr, "test_iso_iban: FAIL: %s holds no IBAN\n", dir_path);
    return ok && example_count > 0;
}

/* Reads the registry's country_code (column 1), iban_format_swift (9) and iban_length (11) by hand. */
static bool load_rows(void) {
    FILE *f = fopen(registry_path, "r");
    char line[1024];
    if (!f) {
        fprintf(stderr, "test_iso_iban: FAIL: IBAN registry missing: cannot open %s\n", registry_path);
        return false;
    }
    bool header = true;
    while (fgets(line, sizeof line, f) && row_count < ROWS_MAX) {
        if (header) {
            header = false;
            continue;
        }
        char *field[27];
        size_t n = 0;
        for (char *p = line; n < 27; n++) {
            field[n] = p;
            char *bar = strchr(p, '|');
            if (!bar) {
                n++;
                break;
            }
            *bar = '\0';
            p = bar + 1;
        }
        if (n < 11) continue;
        struct row *r = &rows[row_count++];
        FMT(r->cc, "%.2s", field[0]);
        FMT(r->format, "%s", field[8]);
        r->len = (unsigned)strtoul(field[10], NULL, 10);
    }
    fclose(f);
    return row_count > 0;
}

static int need_data(void **state) {
    (void)state;
    if (!registry || example_count == 0 || row_count == 0) {
        fprintf(stderr,
                "test_iso_iban: the IBAN reference data in %s/iban is missing: this test cannot pass "
                "without it\n",
                data_dir ? data_dir : "(no path given)");
        return -1; /* cmocka reports the test as failed in setup */
    }
    return 0;
}

/* ---- IBANs ---------------------------------------------------------------------------------------------------- */

static void test_examples_valid(void **state) {
    (void)state;
    for (size_t i = 0; i < example_count; i++) accepted(examples[i]);
    printf("  %zu example IBANs from %zu files valid with the registry and the built-in lengths\n", example_count,
           example_files);
}

/* Whether swapping the adjacent letter `a` and digit `b` (either order) at positions 5 and later leaves the
 * MOD 97-10 remainder unchanged: the letter's value is 11 times the digit. */
static bool blind_pair(char a, char b) {
    if (is_digit(a)) {
        char t = a;
        a = b;
        b = t;
    }
    return is_upper(a) && is_digit(b) && (unsigned)(a - 'A') + 10 == 11u * (unsigned)(b - '0');
}

static void test_examples_single_errors(void **state) {
    (void)state;
    static const char digits[] = "0123456789", letters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    size_t substitutions = 0, transpositions = 0, blind = 0, expected = 0;
    for (size_t i = 0; i < example_count; i++) {
        const char *good = examples[i];
        size_t len = strlen(good);
        char t[IBAN_BYTES];
        for (size_t pos = 0; pos < len; pos++) {
            expected += is_digit(good[pos]) ? 9 : 25;
            for (const char *a = is_digit(good[pos]) ? digits : letters; *a; a++) {
                if (*a == good[pos]) continue;
                memcpy(t, good, len + 1);
                t[pos] = *a;
                refused(t, NULL);
                substitutions++;
            }
        }
        for (size_t pos = 0; pos + 1 < len; pos++) {
            if (good[pos] == good[pos + 1]) continue;
            memcpy(t, good, len + 1);
            t[pos] = good[pos + 1];
            t[pos + 1] = good[pos];
            if (pos >= 4 && blind_pair(t[pos], t[pos + 1])) {
                assert_int_equal(mod97_text(t, len), 1); /* the blind spot is real, not a bug of the check */
                blind++;
                continue;
            }
            refused(t, NULL);
            transpositions++;
        }
    }
    assert_int_equal(substitutions, expected);
    printf("  %zu substitutions and %zu transpositions refused; %zu transpositions of B1, M2 or X3 MOD 97-10 "
           "cannot see\n",
           substitutions, transpositions, blind);
}

static void test_known_ibans(void **state) {
    (void)state;
    /* the SWIFT IBAN registry's own examples */
    static const char *const good[] = {
        "GB82WEST12345698765432",
        "DE89370400440532013000",
        "KZ86125KZT5004100100",
        "AZ21NABZ00000000137010001944",
        "TR330006100519786457841326",
        "HU42117730161111101800000000",
        "FR1420041010050500013M02606",
        "NL91ABNA0417164300",
        "BE68539007547034",
        "CH9300762011623852957",
        "AT611904300234573201",
        "ES9121000418450200051332",
        "IT60X0542811101000000123456",
        "NO9386011117947",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) accepted(good[i]);
    assert_int_equal(ortak_iso_iban_check(NULL, good[0], NULL, 0), ORTAK_OK);
    char small[8];
    assert_int_equal(ortak_iso_iban_check(NULL, "gb82west12345698765432", small, sizeof small), ORTAK_IBAN_INVALID);
    assert_int_equal(strlen(small), sizeof small - 1); /* cut, and terminated */
}

static void test_refusals(void **state) {
    (void)state;
    refused("gb82west12345698765432", "lowercase");
    refused("GB82west12345698765432", "character 5 ('w') is a lowercase letter");
    refused("GB82 WEST 1234 5698 7654 32", "character 5 is a space");
    refused("GB82-WEST-1234-5698-7654-32", "character 5 ('-') is not a letter or a digit");
    refused("GB82WEST12345698765432\xc3\xa9", "byte 0xc3");
    refused("", "0 characters");
    refused("GB82WEST1234", "at least 15");
    refused("GB82WEST123456987654320000000000000", "longer than 34");
    refused("1B82WEST12345698765432", "two-letter country code");
    refused("GBX2WEST12345698765432", "check digits");
    refused("GB00WEST12345698765432", "never valid");
    refused("GB01WEST12345698765432", "never valid");
    refused("GB99WEST12345698765432", "never valid");
    refused("GB83WEST12345698765432", "do not match");

    char iban[IBAN_BYTES], why[256];
    /* a country that does not use IBAN: refused with the registry, check digits only without */
    make_iban(iban, "US", "12345678901234567");
    assert_int_equal(check_reg(iban, why, sizeof why), ORTAK_IBAN_INVALID);
    assert_non_null(strstr(why, "country US does not use IBAN"));
    assert_int_equal(ortak_iso_iban_check(NULL, iban, why, sizeof why), ORTAK_OK);
    /* right check digits, wrong length */
    make_iban(iban, "DE", "3704004405320130001");
    refused(iban, "DE IBANs have 22 characters, this one has 23");
    make_iban(iban, "KZ", "125KZT500410010");
    refused(iban, "KZ IBANs have 20 characters, this one has 19");
    /* right check digits and length, wrong structure: only the registry knows */
    make_iban(iban, "GB", "123412345698765432");
    assert_int_equal(check_reg(iban, why, sizeof why), ORTAK_IBAN_INVALID);
    assert_non_null(strstr(why, "character 5 ('1') must be an uppercase letter: GB IBANs are GB2!n4!a6!n8!n"));
    assert_int_equal(ortak_iso_iban_check(NULL, iban, why, sizeof why), ORTAK_OK);
    /* MOD 97-10's blind spot: B1 and 1B weigh the same. The registry's structure still sees it here. */
    make_iban(iban, "GB", "WESB12345698765432");
    accepted(iban);
    iban[7] = '1';
    iban[8] = 'B';
    assert_int_equal(mod97_text(iban, strlen(iban)), 1);
    assert_int_equal(check_reg(iban, why, sizeof why), ORTAK_IBAN_INVALID);
    assert_non_null(strstr(why, "character 8 ('1') must be an uppercase letter"));
    assert_int_equal(ortak_iso_iban_check(NULL, iban, why, sizeof why), ORTAK_OK);
    make_iban(iban, "AZ", "NABZ0000000013701000194!");
    refused(iban, "'!'");
}

/*
 * A random IBAN of registry row `r`, built from its format, into `out`; *first_n and *first_a are the positions
 * (from 0) of its first digit-only and letter-only characters after the check digits, or SIZE_MAX. False when the
 * format does not add up to the row's length.
 */
static bool build_from_format(const struct row *r, uint64_t *seed, char out[IBAN_BYTES], size_t *first_n,
                              size_t *first_a) {
    char bban[IBAN_BYTES];
    size_t n = 0, pos = 2;
    const char *p = r->format + 2;
    *first_n = *first_a = SIZE_MAX;
    while (*p) {
        char *end;
        unsigned len = (unsigned)strtoul(p, &end, 10);
        assert_true(end[0] == '!' && (end[1] == 'n' || end[1] == 'a' || end[1] == 'c'));
        char cls = end[1];
        p = end + 2;
        for (unsigned k = 0; k < len; k++, pos++) {
            if (pos < 4) continue; /* the check digits */
            if (n + 1 >= sizeof bban) return false;
            uint64_t v = ortak_rng_below(seed, cls == 'n' ? 10 : cls == 'a' ? 26 : 36);
            if (cls == 'a')
                bban[n++] = (char)('A' + v);
            else
                bban[n++] = v < 10 ? (char)('0' + v) : (char)('A' + v - 10);
            if (cls == 'n' && *first_n == SIZE_MAX) *first_n = pos;
            if (cls == 'a' && *first_a == SIZE_MAX) *first_a = pos;
        }
    }
    bban[n] = '\0';
    if (pos != r->len) return false;
    make_iban(out, r->cc, bban);
    return true;
}

static void test_registry_rows(void **state) {
    (void)state;
    uint64_t seed = UINT64_C(0x1ba17e57);
    size_t built = 0, unstructured = 0;
    for (size_t i = 0; i < row_count; i++) {
        const struct row *r = &rows[i];
        bool builtin_knows = strcmp(r->cc, "AA") != 0; /* AA, IIBAN, is no country */
        char iban[IBAN_BYTES], t[IBAN_BYTES], why[256];
        size_t first_n, first_a;
        if (!build_from_format(r, &seed, iban, &first_n, &first_a)) {
            /* the row's format disagrees with its length: the length holds, the structure is not checked */
            char bban[IBAN_BYTES];
            for (size_t k = 0; k + 4 < r->len; k++) bban[k] = (char)('0' + ortak_rng_below(&seed, 10));
            bban[r->len - 4] = '\0';
            make_iban(iban, r->cc, bban);
            accepted(iban);
            printf("  %s: format %s is not %u characters long; only the length is checked\n", r->cc, r->format, r->len);
            unstructured++;
            continue;
        }
        for (int k = 0; k < 20; k++, built++) {
            if (k > 0) assert_true(build_from_format(r, &seed, iban, &first_n, &first_a));
            accepted(iban);
        }
        /* one character more */
        FMT(t, "%s0", iban + 4);
        char longer[IBAN_BYTES];
        make_iban(longer, r->cc, t);
        assert_int_equal(check_reg(longer, why, sizeof why), ORTAK_IBAN_INVALID);
        assert_non_null(strstr(why, "characters"));
        assert_int_equal(ortak_iso_iban_check(NULL, longer, why, sizeof why),
                         builtin_knows ? ORTAK_IBAN_INVALID : ORTAK_OK);
        /* a letter where a digit must be, a digit where a letter must be: right check digits, wrong structure */
        size_t where[2] = {first_n, first_a};
        for (int k = 0; k < 2; k++) {
            if (where[k] == SIZE_MAX) continue;
            memcpy(t, iban + 4, sizeof t - 4);
            t[where[k] - 4] = k == 0 ? 'A' : '0';
            char wrong[IBAN_BYTES];
            make_iban(wrong, r->cc, t);
            assert_int_equal(check_reg(wrong, why, sizeof why), ORTAK_IBAN_INVALID);
            assert_non_null(strstr(why, k == 0 ? "must be a digit" : "must be an uppercase letter"));
            assert_int_equal(ortak_iso_iban_check(NULL, wrong, why, sizeof why), ORTAK_OK);
        }
    }
    printf("  %zu registry rows: %zu random IBANs valid, %zu rows without a usable structure\n", row_count, built,
           unstructured);
    assert_true(built >= 20 * (row_count - unstructured));
}

/* ---- malformed registries ------------------------------------------------------------------------------------- */

static void write_file(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Loads a registry file holding `text`; returns the result, with `why` and *out (freed when the test is done). */
static ortak_rc load_text(const char *text, char *why, size_t why_len, struct ortak__iban_registry **out) {
    char path[300];
    FMT(path, "%s/registry.txt", tmp_dir);
    write_file(path, text, strlen(text));
    *out = (struct ortak__iban_registry *)1; /* must be overwritten */
    ortak_rc rc = ortak__iban_registry_load(path, out, why, why_len);
    if (rc != ORTAK_OK)
        assert_null(*out);
    else
        assert_non_null(*out);
    return rc;
}

#define HEADER "country_code|iban_format_swift|iban_length\n"

static void expect_malformed(const char *text, const char *needle1, const char *needle2) {
    char why[512];
    struct ortak__iban_registry *reg;
    ortak_rc rc = load_text(text, why, sizeof why, &reg);
    if (rc != ORTAK_CONFIG_INVALID) {
        ortak__iban_registry_free(reg == (struct ortak__iban_registry *)1 ? NULL : reg);
        fail_msg("%s: %s, not refused as malformed (%.60s)", ortak_rc_str(rc), why, text);
    }
    if (!strstr(why, needle1) || (needle2 && !strstr(why, needle2)))
        fail_msg("\"%s\" should say \"%s\" and \"%s\"", why, needle1, needle2 ? needle2 : "");
}

static void test_registry_files(void **state) {
    (void)state;
    char why[512], iban[IBAN_BYTES];
    struct ortak__iban_registry *reg;
    /* a minimal registry, with a byte order mark, CRLF line ends and blank lines */
    assert_int_equal(load_text("\xef\xbb\xbf"
                               "country_code|iban_format_swift|iban_length\r\n"
                               "GB|GB2!n4!a6!n8!n|22\r\n\r\n",
                               why, sizeof why, &reg),
                     ORTAK_OK);
    struct ortak_iso mini = {.iban = reg};
    assert_int_equal(ortak_iso_iban_check(&mini, "GB82WEST12345698765432", why, sizeof why), ORTAK_OK);
    assert_int_equal(ortak_iso_iban_check(&mini, "DE89370400440532013000", why, sizeof why), ORTAK_IBAN_INVALID);
    assert_non_null(strstr(why, "country DE does not use IBAN"));
    ortak__iban_registry_free(reg);
    /* a format that does not add up to the length: the length holds */
    assert_int_equal(load_text(HEADER "GB|GB2!n4!a6!n8!n|23\n", why, sizeof why, &reg), ORTAK_OK);
    mini.iban = reg;
    make_iban(iban, "GB", "1234123456987654321");
    assert_int_equal(ortak_iso_iban_check(&mini, iban, why, sizeof why), ORTAK_OK);
    ortak__iban_registry_free(reg);

    expect_malformed("", "empty", NULL);
    expect_malformed(HEADER, "no country rows", NULL);
    expect_malformed("country_code|iban_length\nGB|22\n", "line 1", "iban_format_swift");
    expect_malformed(HEADER "GB|GB2!n4!a6!n8!n|x22\n", "line 2", "iban_length \"x22\"");
    expect_malformed(HEADER "GB|GB2!n4!a6!n8!n|14\n", "line 2", "iban_length");
    expect_malformed(HEADER "GB|GB2!n4!a6!n8!n|35\n", "line 2", "iban_length");
    expect_malformed(HEADER "GB|GB2!n4!a6!n8!n|\n", "line 2", "iban_length");
    expect_malformed(HEADER "gb|GB2!n4!a6!n8!n|22\n", "line 2", "country_code \"gb\"");
    expect_malformed(HEADER "GBR|GB2!n4!a6!n8!n|22\n", "line 2", "country_code");
    expect_malformed(HEADER "GB|GB2!n4!a6!n8!n|22\n\nGB|GB2!n4!a6!n8!n|22\n", "line 4", "twice");
    expect_malformed(HEADER "GB|GB2!n4!a6!n8!n\n", "line 2", "2 fields, the header names 3");
    expect_malformed(HEADER "GB|GB2!n4!a6!n8!n|22|x\n", "line 2", "4 fields");
    expect_malformed(HEADER "GB|GB2!n4a6!n8!n|22\n", "line 2", "fixed lengths");
    expect_malformed(HEADER "GB|GB2!n4!x6!n8!n|22\n", "line 2", "class");
    expect_malformed(HEADER "GB|GB2!n4!a6!n8!e|22\n", "line 2", "blanks");
    expect_malformed(HEADER "GB|GB4!a6!n8!n2!n|22\n", "line 2", "2!n");
    expect_malformed(HEADER "GB|GB2!n|22\n", "line 2", "2!n");
    expect_malformed(HEADER "GB|DE2!n4!a6!n8!n|22\n", "line 2", "country code");
    expect_malformed(HEADER "GB|GB2!n30!n8!n|22\n", "line 2", "more than 34");
    expect_malformed(HEADER "GB|GB2!n1!n1!n1!n1!n1!n1!n1!n1!n1!n1!n1!n1!n1!n1!n1!n1!n1!n|21\n", "line 2",
                     "more than 16 elements");
}

static void test_registry_limits(void **state) {
    (void)state;
    char why[512];
    struct ortak__iban_registry *reg;
    /* a line too long, and a file too large */
    size_t big = ((size_t)1 << 20) + 2;
    char *text = malloc(big + 1);
    assert_non_null(text);
    memcpy(text, HEADER, strlen(HEADER));
    memset(text + strlen(HEADER), 'x', 5000);
    text[strlen(HEADER) + 5000] = '\0';
    expect_malformed(text, "line 2", "longer than 4096 bytes");
    memset(text, '\n', big);
    memcpy(text, HEADER "GB|GB2!n4!a6!n8!n|22\n", strlen(HEADER "GB|GB2!n4!a6!n8!n|22\n"));
    text[big] = '\0';
    expect_malformed(text, "larger than 1 MiB", NULL);
    text[big - 3] = '\0'; /* just under: blank lines are fine */
    assert_int_equal(load_text(text, why, sizeof why, &reg), ORTAK_OK);
    ortak__iban_registry_free(reg);
    free(text);

    /* unreadable */
    char path[300];
    FMT(path, "%s/absent.txt", tmp_dir);
    reg = (struct ortak__iban_registry *)1;
    assert_int_equal(ortak__iban_registry_load(path, &reg, why, sizeof why), ORTAK_IO);
    assert_null(reg);
    assert_non_null(strstr(why, "absent.txt"));
    assert_int_equal(ortak__iban_registry_load(tmp_dir, &reg, why, sizeof why), ORTAK_IO);
    assert_null(reg);
    ortak__iban_registry_free(NULL);
}

/* ---- currencies ----------------------------------------------------------------------------------------------- */

static void test_currencies(void **state) {
    (void)state;
    static const struct {
        const char *code;
        uint8_t minor;
    } known[] = {
        {"AZN", 2}, {"KZT", 2}, {"KGS", 2}, {"UZS", 2}, {"TRY", 2}, {"HUF", 2}, {"TMT", 2}, {"EUR", 2}, {"USD", 2},
        {"GBP", 2}, {"CHF", 2}, {"RUB", 2}, {"CNY", 2}, {"AED", 2}, {"ZWG", 2}, {"XCG", 2}, {"JPY", 0}, {"ISK", 0},
        {"KRW", 0}, {"VND", 0}, {"XAF", 0}, {"XOF", 0}, {"XPF", 0}, {"CLP", 0}, {"UYI", 0}, {"BHD", 3}, {"KWD", 3},
        {"IQD", 3}, {"JOD", 3}, {"LYD", 3}, {"OMR", 3}, {"TND", 3}, {"CLF", 4}, {"UYW", 4}, {"AED", 2}, {"ZWL", 2},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        uint8_t m = 99;
        if (!ortak_iso_currency(known[i].code, &m)) fail_msg("%s refused", known[i].code);
        if (m != known[i].minor) fail_msg("%s: %u minor units, not %u", known[i].code, m, known[i].minor);
        assert_true(ortak_iso_currency(known[i].code, NULL));
    }
    /* no minor units (N.A.), withdrawn, malformed */
    static const char *const refused_codes[] = {
        "XAU", "XAG", "XPT", "XPD", "XDR", "XBA",  "XBB", "XBC", "XBD", "XSU", "XUA", "XTS", "XXX",
        "HRK", "DEM", "usd", "Usd", "US",  "USDD", "",    "U1D", "US ", " US", "ABC", "ZZZ", "AAA",
    };
    for (size_t i = 0; i < sizeof refused_codes / sizeof refused_codes[0]; i++) {
        uint8_t m = 77;
        if (ortak_iso_currency(refused_codes[i], &m)) fail_msg("\"%s\" accepted", refused_codes[i]);
        assert_int_equal(m, 77);
    }
    assert_false(ortak_iso_currency(NULL, NULL));
    /* every three-letter code: the table is found whole by its binary search */
    size_t found = 0, by_minor[5] = {0};
    char code[4] = {0};
    for (char a = 'A'; a <= 'Z'; a++)
        for (char b = 'A'; b <= 'Z'; b++)
            for (char c = 'A'; c <= 'Z'; c++) {
                code[0] = a, code[1] = b, code[2] = c;
                uint8_t m;
                if (!ortak_iso_currency(code, &m)) continue;
                assert_true(m <= 4);
                by_minor[m]++;
                found++;
            }
    assert_int_equal(found, 169);
    assert_int_equal(by_minor[0], 17);
    assert_int_equal(by_minor[1], 0);
    assert_int_equal(by_minor[3], 7);
    assert_int_equal(by_minor[4], 2);
}

/* ---- amounts -------------------------------------------------------------------------------------------------- */

static ortak_rc parse(const char *text, uint8_t minor, uint64_t *out) {
    return ortak_iso_amount_parse(text, strlen(text), minor, out);
}

static void parses(const char *text, uint8_t minor, uint64_t want) {
    uint64_t v = 12345;
    ortak_rc rc = parse(text, minor, &v);
    if (rc != ORTAK_OK) fail_msg("\"%s\" (%u decimals) refused", text, minor);
    if (v != want)
        fail_msg("\"%s\" (%u decimals) is %llu, not %llu", text, minor, (unsigned long long)v,
                 (unsigned long long)want);
}

static void parse_refused(const char *text, uint8_t minor) {
    uint64_t v = 12345;
    if (parse(text, minor, &v) != ORTAK_AMOUNT_INVALID) fail_msg("\"%s\" (%u decimals) accepted", text, minor);
    assert_int_equal(v, 12345); /* untouched */
}

static void test_amount_parse(void **state) {
    (void)state;
    parses("0", 2, 0);
    parses("0.00", 2, 0);
    parses("1", 2, 100);
    parses("1.5", 2, 150);
    parses("1.50", 2, 150);
    parses("12.500", 2, 1250);
    parses("12.340000000", 2, 1234);
    parses("0.01", 2, 1);
    parses("00012.34", 2, 1234);
    parses("5", 0, 5);
    parses("5.0", 0, 5);
    parses("5.000", 0, 5);
    parses("1.234", 3, 1234);
    parses("0.0001", 4, 1);
    parses("123456789012345678", 0, UINT64_C(123456789012345678));         /* 18 digits */
    parses("1234567890123456.78", 2, UINT64_C(123456789012345678));        /* 18 digits */
    parses("0001234567890123456.780000", 2, UINT64_C(123456789012345678)); /* zeros are not significant */
    parses("92233720368547758", 2, UINT64_C(9223372036854775800));         /* the largest whole amount of cents */
    uint64_t v;
    assert_int_equal(ortak_iso_amount_parse("12345", 2, 2, &v), ORTAK_OK); /* a slice: "12" */
    assert_int_equal(v, 1200);
    assert_int_equal(ortak_iso_amount_parse(NULL, 0, 2, &v), ORTAK_AMOUNT_INVALID);

    parse_refused("1.234", 2);
    parse_refused("12.505", 2);
    parse_refused("5.1", 0);
    parse_refused("0.00001", 4);
    parse_refused("", 2);
    parse_refused(".", 2);
    parse_refused("1.", 2);
    parse_refused(".5", 2);
    parse_refused("-1", 2);
    parse_refused("+1", 2);
    parse_refused("1e3", 2);
    parse_refused("1E3", 0);
    parse_refused(" 1", 2);
    parse_refused("1 ", 2);
    parse_refused("1,5", 2);
    parse_refused("1..2", 2);
    parse_refused("1.2.3", 2);
    parse_refused("0x10", 2);
    parse_refused("1234567890123456789", 0);  /* 19 digits */
    parse_refused("12345678901234567.89", 2); /* 19 digits */
    parse_refused("92233720368547759", 2);    /* above ORTAK_AMOUNT_MAX */
    parse_refused("99999999999999999", 2);    /* above ORTAK_AMOUNT_MAX */
    parse_refused("999999999999999999", 4);   /* 18 digits, but above ORTAK_AMOUNT_MAX */
    assert_int_equal(ortak_iso_amount_parse("1\0", 2, 2, &v), ORTAK_AMOUNT_INVALID); /* a NUL inside */
}

static void formats(ortak_i128 amount, uint8_t minor, const char *want) {
    char out[48];
    memset(out, 'x', sizeof out);
    size_t n = ortak_iso_amount_format(amount, minor, out);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void test_amount_format(void **state) {
    (void)state;
    formats(0, 2, "0.00");
    formats(0, 0, "0");
    formats(5, 2, "0.05");
    formats(-5, 2, "-0.05");
    formats(123456, 2, "1234.56");
    formats(-123456, 2, "-1234.56");
    formats(100, 0, "100");
    formats(-1, 0, "-1");
    formats(1, 4, "0.0001");
    formats(1234, 3, "1.234");
    formats(INT64_MAX, 2, "92233720368547758.07");
    formats(-(ortak_i128)INT64_MAX - 1, 0, "-9223372036854775808");
    ortak_i128 max = (ortak_i128)(((ortak_u128)1 << 127) - 1), min = -max - 1;
    formats(max, 2, "1701411834604692317316873037158841057.27");
    formats(min, 2, "-1701411834604692317316873037158841057.28");
    formats(min, 4, "-17014118346046923173168730371588410.5728");
    formats(min, 0, "-170141183460469231731687303715884105728");
}

/* format then parse gives the value back, for random values of every size that has at most 18 digits */
static void test_amount_round_trip(void **state) {
    (void)state;
    uint64_t seed = 4217;
    for (int k = 0; k < 200000; k++) {
        uint8_t minor = (uint8_t)ortak_rng_below(&seed, 5);
        uint64_t bound = 1;
        for (uint64_t d = 1 + ortak_rng_below(&seed, 18); d > 0; d--) bound *= 10;
        uint64_t v = ortak_rng_below(&seed, bound), back = 0;
        char text[48], padded[64];
        size_t n = ortak_iso_amount_format((ortak_i128)v, minor, text);
        assert_int_equal(ortak_iso_amount_parse(text, n, minor, &back), ORTAK_OK);
        assert_int_equal(back, v);
        /* with more zeros after the point, the same */
        FMT(padded, "%s%s000", text, minor == 0 ? "." : "");
        assert_int_equal(parse(padded, minor, &back), ORTAK_OK);
        assert_int_equal(back, v);
        /* one more non-zero decimal is refused */
        FMT(padded, "%s%s7", text, minor == 0 ? "." : "");
        parse_refused(padded, minor);
    }
    /* values of 19 digits format fine and are refused as text */
    char text[48];
    size_t n = ortak_iso_amount_format((ortak_i128)ORTAK_AMOUNT_MAX, 0, text);
    uint64_t back;
    assert_int_equal(ortak_iso_amount_parse(text, n, 0, &back), ORTAK_AMOUNT_INVALID);
}

/* ---- domestic accounts ---------------------------------------------------------------------------------------- */

static void domestic_ok(const char *country, const char *account) {
    char why[256];
    if (ortak_iso_domestic_account_check(country, account, why, sizeof why) != ORTAK_OK)
        fail_msg("%s account %s refused: %s", country, account, why);
    assert_string_equal(why, "");
}

static void domestic_refused(const char *country, const char *account, const char *needle) {
    char why[256];
    if (ortak_iso_domestic_account_check(country, account, why, sizeof why) != ORTAK_ACCOUNT_ID_INVALID)
        fail_msg("%s account %s accepted", country, account);
    if (!strstr(why, needle)) fail_msg("%s account %s: \"%s\" does not say \"%s\"", country, account, why, needle);
}

static void test_domestic_accounts(void **state) {
    (void)state;
    /* Kyrgyzstan: 16 digits, the bank's code first */
    domestic_ok("KG", "1280010012345678");
    domestic_ok("KG", "1090000123456789");
    domestic_refused("KG", "128001001234567", "KG accounts have 16 digits, this one has 15");
    domestic_refused("KG", "12800100123456789", "this one has more than 16");
    domestic_refused("KG", "0001234567890123", "bank code");
    domestic_refused("KG", "12800100123456A8", "character 15 ('A') is not a digit");
    domestic_refused("KG", "1280 0100 1234 5678", "character 5 (' ')");
    domestic_refused("KG", "", "this one has 0");
    /* Uzbekistan: 20 digits, currency in digits 6 to 8 */
    domestic_ok("UZ", "20208000900123456001"); /* sum */
    domestic_ok("UZ", "20208840100123456001"); /* US dollar */
    domestic_ok("UZ", "22616978500987654002"); /* euro */
    domestic_refused("UZ", "20208999900123456001", "digits 6 to 8 (999)");
    domestic_refused("UZ", "20208959900123456001", "digits 6 to 8 (959)"); /* gold: not a payment currency */
    domestic_refused("UZ", "20208123900123456001", "neither 000 nor");
    domestic_refused("UZ", "2020800090012345600", "UZ accounts have 20 digits, this one has 19");
    domestic_refused("UZ", "202080009001234560011", "more than 20");
    domestic_refused("UZ", "20208-000-9-00123456-001", "character 6 ('-')");
    /* Turkmenistan: 20 digits, currency in digits 6 to 8 */
    domestic_ok("TM", "23202934170110100034"); /* manat */
    domestic_ok("TM", "20208840000000012345");
    domestic_ok("TM", "20208000000000012345");
    domestic_refused("TM", "23202935170110100034", "digits 6 to 8 (935)");
    domestic_refused("TM", "23202934170110100034123", "more than 20");
    domestic_refused("TM", "2320293417011010003", "this one has 19");
    /* countries without a domestic format here */
    domestic_refused("KZ", "1280010012345678", "no domestic account format is known for country KZ");
    domestic_refused("kg", "1280010012345678", "not two uppercase letters");
    domestic_refused("", "1280010012345678", "not two uppercase letters");
    assert_int_equal(ortak_iso_domestic_account_check("KG", "1280010012345678", NULL, 0), ORTAK_OK);
}

/* ---- the CLI -------------------------------------------------------------------------------------------------- */

/* Runs `ortak ARGS...` (`args` NULL-terminated), first freeing what the last run into `r` captured. */
static void run_iban(struct tu_run *r, const char *const *args) {
    if (!ortak_bin) fail_msg("no path to the ortak binary given (argument 2)");
    tu_run_free(r);
    tu_run(r, ortak_bin, args, NULL, tmp_dir);
}

#define RUN(r, ...) run_iban((r), (const char *const[]){"iban", __VA_ARGS__, NULL})

static void expect_run(const struct tu_run *r, int code, const char *out) {
    if (r->code != code || (out && strcmp(r->out, out) != 0))
        fail_msg("exit %d (want %d)\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", r->code, code, r->out, out ? out : "",
                 r->err);
}

static void test_cli(void **state) {
    (void)state;
    struct tu_run r = {0};
    char us[IBAN_BYTES], arg[600], bad[300];
    make_iban(us, "US", "12345678901234567");
    RUN(&r, "check", "--registry", registry_path, "GB82WEST12345698765432");
    expect_run(&r, 0, "GB82WEST12345698765432: valid\n");
    RUN(&r, "check", "--registry", registry_path, "GB82WEST12345698765432", "GB83WEST12345698765432", us);
    FMT(arg,
        "GB82WEST12345698765432: valid\n"
        "GB83WEST12345698765432: invalid: check digits 83 do not match the rest (ISO 7064 MOD 97-10)\n"
        "%s: invalid: country US does not use IBAN (it is not in the IBAN registry)\n",
        us);
    expect_run(&r, 1, arg);
    /* options anywhere, --registry=FILE, and "--" before an argument that looks like one */
    FMT(arg, "--registry=%s", registry_path);
    RUN(&r, "check", "AZ21NABZ00000000137010001944", arg, "--", "-Z21NABZ00000000137010001944");
    expect_run(&r, 1,
               "AZ21NABZ00000000137010001944: valid\n"
               "-Z21NABZ00000000137010001944: invalid: character 1 ('-') is not a letter or a digit\n");
    /* the built-in lengths only */
    RUN(&r, "check", "--registry", "", us, "KZ86125KZT5004100100");
    FMT(arg, "%s: valid\nKZ86125KZT5004100100: valid\n", us);
    expect_run(&r, 0, arg);

    /* JSON, with escaping: a quote, a backslash, a control character, a byte that is not UTF-8, and é */
    RUN(&r, "check", "--json", "--registry", registry_path, "GB82WEST12345698765432", "gb82west12345698765432",
        "A\"B\\\x01\xff\xc3\xa9");
    expect_run(&r, 1,
               "{\"iban\": \"GB82WEST12345698765432\", \"valid\": true, \"errors\": []}\n"
               "{\"iban\": \"gb82west12345698765432\", \"valid\": false, \"errors\": [\"character 1 ('g') is a "
               "lowercase letter: IBANs are written in uppercase\"]}\n"
               "{\"iban\": \"A\\\"B\\\\\\u0001\\ufffd\xc3\xa9\", \"valid\": false, \"errors\": [\"character 2 "
               "('\\\"') is not a letter or a digit\"]}\n");
    RUN(&r, "check", "--json", "--registry", registry_path, "TR330006100519786457841326");
    expect_run(&r, 0, "{\"iban\": \"TR330006100519786457841326\", \"valid\": true, \"errors\": []}\n");

    /* usage */
    run_iban(&r, (const char *const[]){"iban", NULL});
    expect_run(&r, 2, "");
    assert_non_null(strstr(r.err, "usage: ortak iban check"));
    RUN(&r, "check");
    expect_run(&r, 2, "");
    assert_non_null(strstr(r.err, "no IBAN given"));
    RUN(&r, "check", "--json");
    expect_run(&r, 2, "");
    RUN(&r, "check", "--bogus", "GB82WEST12345698765432");
    expect_run(&r, 2, "");
    assert_non_null(strstr(r.err, "unknown option --bogus"));
    RUN(&r, "check", "GB82WEST12345698765432", "--registry");
    expect_run(&r, 2, "");
    RUN(&r, "verify", "GB82WEST12345698765432");
    expect_run(&r, 2, "");
    RUN(&r, "--help");
    expect_run(&r, 0, NULL);
    assert_true(strncmp(r.out, "usage: ortak iban check", 23) == 0);
    RUN(&r, "check", "--help");
    expect_run(&r, 0, NULL);
    assert_true(strncmp(r.out, "usage: ortak iban check", 23) == 0);

    /* registries that cannot be read or do not parse */
    RUN(&r, "check", "--registry", "/nonexistent/registry.txt", "GB82WEST12345698765432");
    expect_run(&r, 74, "");
    assert_non_null(strstr(r.err, "/nonexistent/registry.txt"));
    FMT(bad, "%s/bad-registry.txt", tmp_dir);
    write_file(bad, HEADER "GB|GB2!n4!a6!n8!n|x\n", strlen(HEADER "GB|GB2!n4!a6!n8!n|x\n"));
    RUN(&r, "check", "--registry", bad, "GB82WEST12345698765432");
    expect_run(&r, 2, "");
    assert_non_null(strstr(r.err, "line 2"));
    tu_run_free(&r);
}

/* ---- main ----------------------------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_iso_iban PATH-TO-shared/data [PATH-TO-ortak]\n");
        return 2;
    }
    data_dir = argv[1];
    ortak_bin = argc > 2 ? argv[2] : NULL;
    char why[512];
    bool data_ok =
        (size_t)snprintf(registry_path, sizeof registry_path, "%s/iban/registry.txt", data_dir) < sizeof registry_path;
    if (data_ok && ortak__iban_registry_load(registry_path, &registry, why, sizeof why) != ORTAK_OK) {
        fprintf(stderr, "test_iso_iban: FAIL: the IBAN registry does not load: %s\n", why);
        registry = NULL;
    }
    iso_reg.iban = registry;
    data_ok = registry && load_rows() && load_examples();
    if (!tu_mkdtemp(tmp_dir, sizeof tmp_dir, "ortak-iban")) {
        fprintf(stderr, "test_iso_iban: cannot make a temporary directory\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_examples_valid, need_data),
        cmocka_unit_test_setup(test_examples_single_errors, need_data),
        cmocka_unit_test_setup(test_known_ibans, need_data),
        cmocka_unit_test_setup(test_refusals, need_data),
        cmocka_unit_test_setup(test_registry_rows, need_data),
        cmocka_unit_test(test_registry_files),
        cmocka_unit_test(test_registry_limits),
        cmocka_unit_test(test_currencies),
        cmocka_unit_test(test_amount_parse),
        cmocka_unit_test(test_amount_format),
        cmocka_unit_test(test_amount_round_trip),
        cmocka_unit_test(test_domestic_accounts),
        cmocka_unit_test_setup(test_cli, need_data),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    ortak__iban_registry_free(registry);
    tu_remove_dir(tmp_dir, (const char *const[]){"stdout", "stderr", "registry.txt", "bad-registry.txt", NULL});
    return failed || !data_ok ? 1 : 0;
}
