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
    uint16_t numeric; /* XCG took over ANG's 532 */
    uint8_t minor_units;
};

static const struct currency currencies[] = {
    {"AED", 784, 2}, {"AFN", 971, 2}, {"ALL", 8, 2},   {"AMD", 51, 2},  {"ANG", 532, 2}, {"AOA", 973, 2},
    {"ARS", 32, 2},  {"AUD", 36, 2},  {"AWG", 533, 2}, {"AZN", 944, 2}, {"BAM", 977, 2}, {"BBD", 52, 2},
    {"BDT", 50, 2},  {"BGN", 975, 2}, {"BHD", 48, 3},  {"BIF", 108, 0}, {"BMD", 60, 2},  {"BND", 96, 2},
    {"BOB", 68, 2},  {"BOV", 984, 2}, {"BRL", 986, 2}, {"BSD", 44, 2},  {"BTN", 64, 2},  {"BWP", 72, 2},
    {"BYN", 933, 2}, {"BZD", 84, 2},  {"CAD", 124, 2}, {"CDF", 976, 2}, {"CHE", 947, 2}, {"CHF", 756, 2},
    {"CHW", 948, 2}, {"CLF", 990, 4}, {"CLP", 152, 0}, {"CNY", 156, 2}, {"COP", 170, 2}, {"COU", 970, 2},
    {"CRC", 188, 2}, {"CUC", 931, 2}, {"CUP", 192, 2}, {"CVE", 132, 2}, {"CZK", 203, 2}, {"DJF", 262, 0},
    {"DKK", 208, 2}, {"DOP", 214, 2}, {"DZD", 12, 2},  {"EGP", 818, 2}, {"ERN", 232, 2}, {"ETB", 230, 2},
    {"EUR", 978, 2}, {"FJD", 242, 2}, {"FKP", 238, 2}, {"GBP", 826, 2}, {"GEL", 981, 2}, {"GHS", 936, 2},
    {"GIP", 292, 2}, {"GMD", 270, 2}, {"GNF", 324, 0}, {"GTQ", 320, 2}, {"GYD", 328, 2}, {"HKD", 344, 2},
    {"HNL", 340, 2}, {"HTG", 332, 2}, {"HUF", 348, 2}, {"IDR", 360, 2}, {"ILS", 376, 2}, {"INR", 356, 2},
    {"IQD", 368, 3}, {"IRR", 364, 2}, {"ISK", 352, 0}, {"JMD", 388, 2}, {"JOD", 400, 3}, {"JPY", 392, 0},
    {"KES", 404, 2}, {"KGS", 417, 2}, {"KHR", 116, 2}, {"KMF", 174, 0}, {"KPW", 408, 2}, {"KRW", 410, 0},
    {"KWD", 414, 3}, {"KYD", 136, 2}, {"KZT", 398, 2}, {"LAK", 418, 2}, {"LBP", 422, 2}, {"LKR", 144, 2},
    {"LRD", 430, 2}, {"LSL", 426, 2}, {"LYD", 434, 3}, {"MAD", 504, 2}, {"MDL", 498, 2}, {"MGA", 969, 2},
    {"MKD", 807, 2}, {"MMK", 104, 2}, {"MNT", 496, 2}, {"MOP", 446, 2}, {"MRU", 929, 2}, {"MUR", 480, 2},
    {"MVR", 462, 2}, {"MWK", 454, 2}, {"MXN", 484, 2}, {"MXV", 979, 2}, {"MYR", 458, 2}, {"MZN", 943, 2},
    {"NAD", 516, 2}, {"NGN", 566, 2}, {"NIO", 558, 2}, {"NOK", 578, 2}, {"NPR", 524, 2}, {"NZD", 554, 2},
    {"OMR", 512, 3}, {"PAB", 590, 2}, {"PEN", 604, 2}, {"PGK", 598, 2}, {"PHP", 608, 2}, {"PKR", 586, 2},
    {"PLN", 985, 2}, {"PYG", 600, 0}, {"QAR", 634, 2}, {"RON", 946, 2}, {"RSD", 941, 2}, {"RUB", 643, 2},
    {"RWF", 646, 0}, {"SAR", 682, 2}, {"SBD", 90, 2},  {"SCR", 690, 2}, {"SDG", 938, 2}, {"SEK", 752, 2},
    {"SGD", 702, 2}, {"SHP", 654, 2}, {"SLE", 925, 2}, {"SLL", 694, 2}, {"SOS", 706, 2}, {"SRD", 968, 2},
    {"SSP", 728, 2}, {"STN", 930, 2}, {"SVC", 222, 2}, {"SYP", 760, 2}, {"SZL", 748, 2}, {"THB", 764, 2},
    {"TJS", 972, 2}, {"TMT", 934, 2}, {"TND", 788, 3}, {"TOP", 776, 2}, {"TRY", 949, 2}, {"TTD", 780, 2},
    {"TWD", 901, 2}, {"TZS", 834, 2}, {"UAH", 980, 2}, {"UGX", 800, 0}, {"USD", 840, 2}, {"USN", 997, 2},
    {"UYI", 940, 0}, {"UYU", 858, 2}, {"UYW", 927, 4}, {"UZS", 860, 2}, {"VED", 926, 2}, {"VES", 928, 2},
    {"VND", 704, 0}, {"VUV", 548, 0}, {"WST", 882, 2}, {"XAF", 950, 0}, {"XCD", 951, 2}, {"XCG", 532, 2},
    {"XOF", 952, 0}, {"XPF", 953, 0}, {"YER", 886, 2}, {"ZAR", 710, 2}, {"ZMW", 967, 2}, {"ZWG", 924, 2},
    {"ZWL", 932, 2},
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

bool ortak__iso_currency_numeric_known(unsigned numeric) {
    for (size_t i = 0; i < CURRENCY_COUNT; i++)
        if (currencies[i].numeric == numeric) return true;
    return false;
}

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
