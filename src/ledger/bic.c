/*
 * ISO 9362 business identifier codes and ISO 3166-1 alpha-2 country codes.
 *
 * A BIC is 8 or 11 characters: a 4-character party prefix (letters or digits since ISO 9362:2014), a 2-letter
 * country code that must be an assigned ISO 3166-1 alpha-2 code (or XK, which SWIFT uses for Kosovo), a
 * 2-character location code, and an optional 3-character branch code. Only uppercase letters and digits.
 * A BIC8 names the same institution as its BIC11 with branch "XXX".
 */
#include <string.h>

#include "ledger_int.h"

/* Officially assigned ISO 3166-1 alpha-2 codes (249), plus XK. */
static const char country_codes[] =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ "
    "CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO "
    "FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE "
    "JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO "
    "MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW "
    "PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM "
    "TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW XK";

static bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static bool is_alnum(char c) { return is_upper(c) || (c >= '0' && c <= '9'); }

bool ortak_country_valid(const char *cc) {
    if (!is_upper(cc[0]) || !is_upper(cc[1]) || cc[2] != '\0') return false;
    for (const char *p = country_codes; *p; p += 3) {
        if (p[0] == cc[0] && p[1] == cc[1]) return true;
        if (p[2] == '\0') break;
    }
    return false;
}

bool ortak_bic_valid(const char *bic) {
    size_t len = strnlen(bic, 12);
    if (len != 8 && len != 11) return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_alnum(bic[i])) return false;
    }
    char cc[3] = {bic[4], bic[5], '\0'};
    return ortak_country_valid(cc);
}

ortak_u128 ortak__bic_key(const char *bic) {
    char b11[11];
    size_t len = strnlen(bic, 11);
    memcpy(b11, bic, len);
    if (len == 8) memcpy(b11 + 8, "XXX", 3);
    ortak_u128 k = 0;
    for (int i = 0; i < 11; i++) k = (k << 8) | (unsigned char)b11[i];
    return k;
}

const char *ortak_role_name(uint8_t role) {
    switch (role) {
    case ORTAK_ROLE_OPERATOR: return "operator";
    case ORTAK_ROLE_CENTRAL_BANK: return "central_bank";
    case ORTAK_ROLE_BANK: return "bank";
    case ORTAK_ROLE_FX_PROVIDER: return "fx_provider";
    default: return "unknown";
    }
}

const char *ortak_account_kind_name(uint8_t kind) {
    switch (kind) {
    case ORTAK_ACCOUNT_SETTLEMENT: return "settlement";
    case ORTAK_ACCOUNT_COLLATERAL: return "collateral";
    case ORTAK_ACCOUNT_ISSUANCE: return "issuance";
    default: return "unknown";
    }
}

const char *ortak_participant_status_name(uint8_t status) {
    switch (status) {
    case ORTAK_PARTICIPANT_ACTIVE: return "active";
    case ORTAK_PARTICIPANT_SUSPENDED: return "suspended";
    case ORTAK_PARTICIPANT_CLOSED: return "closed";
    default: return "unknown";
    }
}
