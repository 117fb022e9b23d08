/*
 * ISO 4217 currencies and amounts as text.
 *
 * The table holds every code of ISO 4217 list one (current currencies and funds, as published by the maintenance
 * agency, SIX) that has minor units, with them. It follows list one as amended up to 2025: VED (2021), SLE (2022),
 * ZWG (2024) and XCG (2025) are in; HRK (withdrawn 2023-01-01 for the euro) is out; ANG, SLL and ZWL, which their
 * successors XCG, SLE and ZWG replace, stay while they are listed. Codes whose minor units list one gives as
 * "N.A." -- gold XAU, silver XAG, platinum XPT, palladium XPD, the SDR XDR, the bond-market units XBA to XBD, the
 * SUCRE XSU, the ADB unit of account XUA, the test code XTS and "no currency" XXX -- are left out on purpose: they
 * are not settled as payments, so ortak_iso_currency refuses them like any unknown code.
 *
 * Invariants: the table is sorted by code (binary search; checked in debug builds) and every minor unit is 0..4.
 * Amounts are integers of minor units from end to end; no floating point is used anywhere in this file.
 */
#include <string.h>

#include "base/assert.h"
#include "iso20022/iso_int.h"

/* The most minor units any currency has (CLF and UYW have 4). */
#define MINOR_UNITS_MAX 4u
/* ISO 20022 amounts (ActiveCurrencyAndAmount): at most 18 digits in all. */
#define AMOUNT_DIGITS_MAX 18u

struct currency {
    char code[4];
    uint8_t minor_units;
};

static const struct currency currencies[] = {
    {"AED", 2}, {"AFN", 2}, {"ALL", 2}, {"AMD", 2}, {"ANG", 2}, {"AOA", 2}, {"ARS", 2}, {"AUD", 2}, {"AWG", 2},
    {"AZN", 2}, {"BAM", 2}, {"BBD", 2}, {"BDT", 2}, {"BGN", 2}, {"BHD", 3}, {"BIF", 0}, {"BMD", 2}, {"BND", 2},
    {"BOB", 2}, {"BOV", 2}, {"BRL", 2}, {"BSD", 2}, {"BTN", 2}, {"BWP", 2}, {"BYN", 2}, {"BZD", 2}, {"CAD", 2},
    {"CDF", 2}, {"CHE", 2}, {"CHF", 2}, {"CHW", 2}, {"CLF", 4}, {"CLP", 0}, {"CNY", 2}, {"COP", 2}, {"COU", 2},
    {"CRC", 2}, {"CUC", 2}, {"CUP", 2}, {"CVE", 2}, {"CZK", 2}, {"DJF", 0}, {"DKK", 2}, {"DOP", 2}, {"DZD", 2},
    {"EGP", 2}, {"ERN", 2}, {"ETB", 2}, {"EUR", 2}, {"FJD", 2}, {"FKP", 2}, {"GBP", 2}, {"GEL", 2}, {"GHS", 2},
    {"GIP", 2}, {"GMD", 2}, {"GNF", 0}, {"GTQ", 2}, {"GYD", 2}, {"HKD", 2}, {"HNL", 2}, {"HTG", 2}, {"HUF", 2},
    {"IDR", 2}, {"ILS", 2}, {"INR", 2}, {"IQD", 3}, {"IRR", 2}, {"ISK", 0}, {"JMD", 2}, {"JOD", 3}, {"JPY", 0},
    {"KES", 2}, {"KGS", 2}, {"KHR", 2}, {"KMF", 0}, {"KPW", 2}, {"KRW", 0}, {"KWD", 3}, {"KYD", 2}, {"KZT", 2},
    {"LAK", 2}, {"LBP", 2}, {"LKR", 2}, {"LRD", 2}, {"LSL", 2}, {"LYD", 3}, {"MAD", 2}, {"MDL", 2}, {"MGA", 2},
    {"MKD", 2}, {"MMK", 2}, {"MNT", 2}, {"MOP", 2}, {"MRU", 2}, {"MUR", 2}, {"MVR", 2}, {"MWK", 2}, {"MXN", 2},
    {"MXV", 2}, {"MYR", 2}, {"MZN", 2}, {"NAD", 2}, {"NGN", 2}, {"NIO", 2}, {"NOK", 2}, {"NPR", 2}, {"NZD", 2},
    {"OMR", 3}, {"PAB", 2}, {"PEN", 2}, {"PGK", 2}, {"PHP", 2}, {"PKR", 2}, {"PLN", 2}, {"PYG", 0}, {"QAR", 2},
    {"RON", 2}, {"RSD", 2}, {"RUB", 2}, {"RWF", 0}, {"SAR", 2}, {"SBD", 2}, {"SCR", 2}, {"SDG", 2}, {"SEK", 2},
    {"SGD", 2}, {"SHP", 2}, {"SLE", 2}, {"SLL", 2}, {"SOS", 2}, {"SRD", 2}, {"SSP", 2}, {"STN", 2}, {"SVC", 2},
    {"SYP", 2}, {"SZL", 2}, {"THB", 2}, {"TJS", 2}, {"TMT", 2}, {"TND", 3}, {"TOP", 2}, {"TRY", 2}, {"TTD", 2},
    {"TWD", 2}, {"TZS", 2}, {"UAH", 2}, {"UGX", 0}, {"USD", 2}, {"USN", 2}, {"UYI", 0}, {"UYU", 2}, {"UYW", 4},
    {"UZS", 2}, {"VED", 2}, {"VES", 2}, {"VND", 0}, {"VUV", 0}, {"WST", 2}, {"XAF", 0}, {"XCD", 2}, {"XCG", 2},
    {"XOF", 0}, {"XPF", 0}, {"YER", 2}, {"ZAR", 2}, {"ZMW", 2}, {"ZWG", 2}, {"ZWL", 2},
};
#define CURRENCY_COUNT (sizeof currencies / sizeof currencies[0])

_Static_assert(CURRENCY_COUNT == 169, "list one as described at the top of this file");

#ifdef ORTAK_DEBUG
/* Whether the table is sorted, without duplicates, and every minor unit is in range (debug builds). */
static bool table_ok(void) {
    for (size_t i = 0; i < CURRENCY_COUNT; i++) {
        if (currencies[i].minor_units > MINOR_UNITS_MAX) return false;
        if (i > 0 && memcmp(currencies[i - 1].code, currencies[i].code, 3) >= 0) return false;
    }
    return true;
}
#endif

static bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool ortak_iso_currency(const char *code, uint8_t *minor_units) {
    ORTAK_DEBUG_ASSERT(table_ok());
    if (!code || !is_upper(code[0]) || !is_upper(code[1]) || !is_upper(code[2]) || code[3] != '\0') return false;
    size_t lo = 0, hi = CURRENCY_COUNT;
    while (lo < hi) { /* invariant: the code, if present, lies in [lo, hi) */
        size_t mid = lo + (hi - lo) / 2;
        int cmp = memcmp(code, currencies[mid].code, 3);
        if (cmp == 0) {
            if (minor_units) *minor_units = currencies[mid].minor_units;
            return true;
        }
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return false;
}

/* Adds digit `d` to `*v` (v = v * 10 + d). False when the result would exceed ORTAK_AMOUNT_MAX. */
static bool push_digit(uint64_t *v, unsigned d) {
    if (*v > (ORTAK_AMOUNT_MAX - d) / 10) return false;
    *v = *v * 10 + d;
    return true;
}

/*
 * The ISO 20022 decimal: one or more digits, then optionally '.' and one or more digits. No sign, exponent, space
 * or other character. Digits are counted as XML Schema's totalDigits counts them -- leading zeros of the integer
 * part and trailing zeros of the fraction are not significant -- and at most 18 are allowed. Fraction digits past
 * the currency's minor units must be zeros ("12.500" is 1250 cents; "12.505" is refused).
 */
ortak_rc ortak_iso_amount_parse(const char *text, size_t len, uint8_t minor_units, uint64_t *out) {
    ORTAK_ASSERT(minor_units <= MINOR_UNITS_MAX && out);
    ORTAK_ASSERT(text || len == 0);
    size_t int_len = 0;
    while (int_len < len && is_digit(text[int_len])) int_len++;
    if (int_len == 0) return ORTAK_AMOUNT_INVALID; /* empty, a sign, a leading '.', a space... */
    const char *frac = text + int_len;
    size_t frac_len = 0;
    if (int_len < len) {
        if (text[int_len] != '.') return ORTAK_AMOUNT_INVALID;
        frac++;
        frac_len = len - int_len - 1;
        if (frac_len == 0) return ORTAK_AMOUNT_INVALID; /* "1." */
        for (size_t i = 0; i < frac_len; i++)
            if (!is_digit(frac[i])) return ORTAK_AMOUNT_INVALID;
    }
    /* significant digits */
    size_t lead = 0, trail = 0;
    while (lead < int_len && text[lead] == '0') lead++;
    while (trail < frac_len && frac[frac_len - 1 - trail] == '0') trail++;
    if ((int_len - lead) + (frac_len - trail) > AMOUNT_DIGITS_MAX) return ORTAK_AMOUNT_INVALID;
    if (frac_len - trail > minor_units) return ORTAK_AMOUNT_INVALID; /* more decimals than the currency has */
    uint64_t v = 0;
    for (size_t i = lead; i < int_len; i++)
        if (!push_digit(&v, (unsigned)(text[i] - '0'))) return ORTAK_AMOUNT_INVALID;
    for (size_t i = 0; i < minor_units; i++)
        if (!push_digit(&v, i < frac_len ? (unsigned)(frac[i] - '0') : 0u)) return ORTAK_AMOUNT_INVALID;
    ORTAK_ASSERT(v <= ORTAK_AMOUNT_MAX);
    *out = v;
    return ORTAK_OK;
}

/*
 * Writes `amount` minor units as decimal text: '-' for a negative amount, the integer part without leading zeros
 * (but at least "0"), and for a currency with minor units '.' and exactly that many digits. Any ortak_i128 fits:
 * 39 digits, a sign and a point are 41 characters and the NUL.
 */
size_t ortak_iso_amount_format(ortak_i128 amount, uint8_t minor_units, char out[48]) {
    ORTAK_ASSERT(minor_units <= MINOR_UNITS_MAX && out);
    bool negative = amount < 0;
    /* the magnitude, computed unsigned so that the most negative value has one too */
    ortak_u128 mag = negative ? (ortak_u128)0 - (ortak_u128)amount : (ortak_u128)amount;
    char digits[40]; /* least significant first */
    size_t n = 0;
    do {
        ORTAK_ASSERT(n < sizeof digits);
        digits[n++] = (char)('0' + (unsigned)(mag % 10));
        mag /= 10;
    } while (mag != 0);
    while (n < (size_t)minor_units + 1) digits[n++] = '0'; /* "0.05": at least one digit before the point */
    size_t len = 0;
    if (negative) out[len++] = '-';
    for (size_t i = n; i > minor_units; i--) out[len++] = digits[i - 1];
    if (minor_units > 0) {
        out[len++] = '.';
        for (size_t i = minor_units; i > 0; i--) out[len++] = digits[i - 1];
    }
    ORTAK_ASSERT(len < 48);
    out[len] = '\0';
    return len;
}
