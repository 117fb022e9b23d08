/*
 * Configuration: INI text (libinih) into struct ortak_config, and the checks that make a configuration safe to
 * open an engine with. Unknown sections and keys are errors: a misspelt limit must not silently fall back to a
 * default in a payment system.
 */
#include "ortak/config.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/slice.h"
#include "ortak/ledger.h"

static const char default_ini[] =
    "; ortak default configuration: the currencies of the Organization of Turkic States' members and observers.\n"
    "; Every key is documented in docs/ledger.md (Configuration).\n"
    "\n"
    "[engine]\n"
    "; Seeds the hash tables of ids. Choose a private value per deployment; every node of one system shares it.\n"
    "hash_seed = 7305865148325291521\n"
    "\n"
    "[limits]\n"
    "participants_max = 1024\n"
    "accounts_max = 16384\n"
    "transfers_max = 4194304\n"
    "pending_max = 65536\n"
    "history_max = 4194304\n"
    "batch_max = 8190\n"
    "payments_max = 65536\n"
    "quotes_max = 65536\n"
    "fx_rates_max = 4096\n"
    "\n"
    "[settlement]\n"
    "; Settle a new payment together with the payments its payee has queued back to its payer.\n"
    "offsetting = yes\n"
    "; Gridlock resolution: fifo keeps every queue's order; bypass lets normal payments pass each other.\n"
    "gridlock_mode = bypass\n"
    "; Engine time between runs (0 = only on the operator's command), and the work budget of a bypass run.\n"
    "gridlock_interval_ms = 60000\n"
    "gridlock_budget = 2000000\n"
    "\n"
    "[fx]\n"
    "; Seconds an FX quote stays firm (its provider's liquidity held) unless the request asks for less or more.\n"
    "quote_ttl_s = 600\n"
    "; The operator's fee on a payment versus payment, in millionths of what the payer converts (0 = none).\n"
    "fee_ppm = 0\n"
    "\n"
    "[currency AZN]\n"
    "numeric = 944\n"
    "minor_units = 2\n"
    "agent = NABZAZ2X\n"
    "agent_name = Central Bank of the Republic of Azerbaijan\n"
    "net_window_ms = 3600000\n"
    "\n"
    "[currency KZT]\n"
    "numeric = 398\n"
    "minor_units = 2\n"
    "agent = NBRKKZKX\n"
    "agent_name = National Bank of Kazakhstan\n"
    "net_window_ms = 3600000\n"
    "\n"
    "[currency KGS]\n"
    "numeric = 417\n"
    "minor_units = 2\n"
    "agent = NBKRKG22\n"
    "agent_name = National Bank of the Kyrgyz Republic\n"
    "net_window_ms = 3600000\n"
    "\n"
    "[currency UZS]\n"
    "numeric = 860\n"
    "minor_units = 2\n"
    "agent = CBUZUZ22\n"
    "agent_name = Central Bank of the Republic of Uzbekistan\n"
    "net_window_ms = 3600000\n"
    "\n"
    "[currency TRY]\n"
    "numeric = 949\n"
    "minor_units = 2\n"
    "agent = TCMBTR2A\n"
    "agent_name = Central Bank of the Republic of Turkiye\n"
    "net_window_ms = 3600000\n"
    "\n"
    "[currency HUF]\n"
    "numeric = 348\n"
    "minor_units = 2\n"
    "agent = MANEHUHB\n"
    "agent_name = Magyar Nemzeti Bank\n"
    "net_window_ms = 3600000\n"
    "\n"
    "[currency TMT]\n"
    "numeric = 934\n"
    "minor_units = 2\n"
    "agent = CBTKTM2X\n"
    "agent_name = Central Bank of Turkmenistan\n"
    "net_window_ms = 3600000\n";

const char *ortak_config_default_ini(void) { return default_ini; }

void ortak_config_init(struct ortak_config *c) {
    memset(c, 0, sizeof *c);
    c->limits = (struct ortak_limits){
        .participants_max = ORTAK_PARTICIPANTS_DEFAULT,
        .accounts_max = ORTAK_ACCOUNTS_DEFAULT,
        .transfers_max = ORTAK_TRANSFERS_DEFAULT,
        .pending_max = ORTAK_PENDING_DEFAULT,
        .history_max = ORTAK_HISTORY_DEFAULT,
        .batch_max = ORTAK_BATCH_DEFAULT,
        .payments_max = ORTAK_PAYMENTS_DEFAULT,
        .quotes_max = ORTAK_QUOTES_DEFAULT,
        .fx_rates_max = ORTAK_FX_RATES_DEFAULT,
    };
    c->settlement = (struct ortak_settlement_config){
        .offsetting = true,
        .gridlock_mode = ORTAK_GRIDLOCK_BYPASS,
        .gridlock_interval_ms = 60000,
        .gridlock_budget = ORTAK_GRIDLOCK_BUDGET_DEFAULT,
        .quote_ttl_s = 600,
    };
}

struct parse_state {
    struct ortak_config *c;
    char *err;
    size_t err_cap;
    uint8_t keys_seen[ORTAK_CURRENCIES_LIMIT]; /* per currency, a bit per key: a key given twice is an error */
};

/* Writes the message unless one is there already: the first problem found is the one reported. */
__attribute__((format(printf, 3, 4))) static void fail(char *err, size_t cap, const char *fmt, ...) {
    if (!err || cap == 0 || err[0] != '\0') return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

struct limit_key {
    const char *name;
    size_t offset;
    uint32_t hard;
};

static const struct limit_key limit_keys[] = {
    {"participants_max", offsetof(struct ortak_limits, participants_max), ORTAK_PARTICIPANTS_LIMIT},
    {"accounts_max", offsetof(struct ortak_limits, accounts_max), ORTAK_ACCOUNTS_LIMIT},
    {"transfers_max", offsetof(struct ortak_limits, transfers_max), ORTAK_TRANSFERS_LIMIT},
    {"pending_max", offsetof(struct ortak_limits, pending_max), ORTAK_PENDING_LIMIT},
    {"history_max", offsetof(struct ortak_limits, history_max), ORTAK_HISTORY_LIMIT},
    {"batch_max", offsetof(struct ortak_limits, batch_max), ORTAK_BATCH_LIMIT},
    {"payments_max", offsetof(struct ortak_limits, payments_max), ORTAK_PAYMENTS_LIMIT},
    {"quotes_max", offsetof(struct ortak_limits, quotes_max), ORTAK_QUOTES_LIMIT},
    {"fx_rates_max", offsetof(struct ortak_limits, fx_rates_max), ORTAK_FX_RATES_LIMIT},
};

static int parse_limit(struct parse_state *st, const char *name, struct ortak_slice v) {
    for (size_t i = 0; i < sizeof limit_keys / sizeof limit_keys[0]; i++) {
        if (strcmp(name, limit_keys[i].name) != 0) continue;
        uint64_t n;
        if (!ortak_slice_parse_u64(v, limit_keys[i].hard, &n) || n == 0) {
            fail(st->err, st->err_cap, "[limits] %s must be a whole number from 1 to %u", name, limit_keys[i].hard);
            return 0;
        }
        *(uint32_t *)((char *)&st->c->limits + limit_keys[i].offset) = (uint32_t)n;
        return 1;
    }
    fail(st->err, st->err_cap, "[limits] unknown key '%s'", name);
    return 0;
}

/* The currency of section "currency XXX", created on its first key. */
static struct ortak_currency_config *section_currency(struct parse_state *st, const char *section) {
    const char *code = section + strlen("currency ");
    if (strlen(code) != 3) {
        fail(st->err, st->err_cap, "[%s]: a currency code has 3 letters", section);
        return NULL;
    }
    for (uint32_t i = 0; i < st->c->currency_count; i++) {
        if (strcmp(st->c->currencies[i].code, code) == 0) return &st->c->currencies[i];
    }
    if (st->c->currency_count >= ORTAK_CURRENCIES_LIMIT) {
        fail(st->err, st->err_cap, "more than %u currencies", ORTAK_CURRENCIES_LIMIT);
        return NULL;
    }
    struct ortak_currency_config *cur = &st->c->currencies[st->c->currency_count++];
    memcpy(cur->code, code, 3);
    return cur;
}

static const char *const currency_keys[] = {"numeric", "minor_units", "agent", "agent_name", "net_window_ms"};

/* A key given twice for one currency (a repeated section, say) would silently override: refuse it. */
static bool currency_key_first(struct parse_state *st, const struct ortak_currency_config *cur, const char *name) {
    uint8_t *seen = &st->keys_seen[cur - st->c->currencies];
    for (unsigned k = 0; k < sizeof currency_keys / sizeof currency_keys[0]; k++) {
        if (strcmp(name, currency_keys[k]) != 0) continue;
        if (*seen & (1u << k)) return false;
        *seen = (uint8_t)(*seen | (1u << k));
    }
    return true;
}

static int parse_currency(struct parse_state *st, const char *section, const char *name, struct ortak_slice v) {
    struct ortak_currency_config *cur = section_currency(st, section);
    if (!cur) return 0;
    if (!currency_key_first(st, cur, name)) {
        fail(st->err, st->err_cap, "[%s] %s is given twice", section, name);
        return 0;
    }
    uint64_t n;
    if (strcmp(name, "numeric") == 0) {
        if (!ortak_slice_parse_u64(v, 999, &n)) goto bad;
        cur->numeric = (uint16_t)n;
    } else if (strcmp(name, "minor_units") == 0) {
        if (!ortak_slice_parse_u64(v, 4, &n)) goto bad;
        cur->minor_units = (uint8_t)n;
    } else if (strcmp(name, "agent") == 0) {
        if (!ortak_slice_copy(v, cur->agent_bic, sizeof cur->agent_bic)) goto bad;
    } else if (strcmp(name, "agent_name") == 0) {
        if (!ortak_slice_copy(v, cur->agent_name, sizeof cur->agent_name)) goto bad;
    } else if (strcmp(name, "net_window_ms") == 0) {
        if (!ortak_slice_parse_u64(v, ORTAK_NET_WINDOW_MS_LIMIT, &cur->net_window_ms)) goto bad;
    } else {
        fail(st->err, st->err_cap, "[%s] unknown key '%s'", section, name);
        return 0;
    }
    return 1;
bad:
    fail(st->err, st->err_cap, "[%s] %s has an invalid value '%.*s'", section, name, (int)v.len, v.ptr);
    return 0;
}

static int parse_settlement(struct parse_state *st, const char *name, struct ortak_slice v) {
    struct ortak_settlement_config *set = &st->c->settlement;
    if (strcmp(name, "offsetting") == 0) {
        if (ortak_slice_eq_cstr(v, "yes") || ortak_slice_eq_cstr(v, "no")) {
            set->offsetting = ortak_slice_eq_cstr(v, "yes");
            return 1;
        }
        fail(st->err, st->err_cap, "[settlement] offsetting must be yes or no");
    } else if (strcmp(name, "gridlock_mode") == 0) {
        if (ortak_slice_eq_cstr(v, "fifo") || ortak_slice_eq_cstr(v, "bypass")) {
            set->gridlock_mode = ortak_slice_eq_cstr(v, "fifo") ? ORTAK_GRIDLOCK_FIFO : ORTAK_GRIDLOCK_BYPASS;
            return 1;
        }
        fail(st->err, st->err_cap, "[settlement] gridlock_mode must be fifo or bypass");
    } else if (strcmp(name, "gridlock_interval_ms") == 0) {
        if (ortak_slice_parse_u64(v, ORTAK_GRIDLOCK_INTERVAL_MS_LIMIT, &set->gridlock_interval_ms)) return 1;
        fail(st->err, st->err_cap, "[settlement] gridlock_interval_ms must be a whole number from 0 to %llu",
             (unsigned long long)ORTAK_GRIDLOCK_INTERVAL_MS_LIMIT);
    } else if (strcmp(name, "gridlock_budget") == 0) {
        if (ortak_slice_parse_u64(v, ORTAK_GRIDLOCK_BUDGET_LIMIT, &set->gridlock_budget) && set->gridlock_budget)
            return 1;
        fail(st->err, st->err_cap, "[settlement] gridlock_budget must be a whole number from 1 to %llu",
             (unsigned long long)ORTAK_GRIDLOCK_BUDGET_LIMIT);
    } else {
        fail(st->err, st->err_cap, "[settlement] unknown key '%s'", name);
    }
    return 0;
}

static int config_ini_handler(void *user, const char *section, const char *name, const char *value) {
    struct parse_state *st = user;
    struct ortak_slice v = ortak_slice_trim(ortak_slice_from_cstr(value));
    if (strcmp(section, "engine") == 0) {
        if (strcmp(name, "hash_seed") == 0 && ortak_slice_parse_u64(v, UINT64_MAX, &st->c->hash_seed)) return 1;
        fail(st->err, st->err_cap, "[engine] unknown key or invalid value: %s = %s", name, value);
        return 0;
    }
    if (strcmp(section, "limits") == 0) return parse_limit(st, name, v);
    if (strcmp(section, "settlement") == 0) return parse_settlement(st, name, v);
    if (strcmp(section, "fx") == 0) {
        uint64_t n;
        if (strcmp(name, "quote_ttl_s") == 0 && ortak_slice_parse_u64(v, ORTAK_QUOTE_TTL_S_LIMIT, &n) && n > 0) {
            st->c->settlement.quote_ttl_s = (uint32_t)n;
            return 1;
        }
        if (strcmp(name, "fee_ppm") == 0 && ortak_slice_parse_u64(v, ORTAK_FX_FEE_PPM_LIMIT, &n)) {
            st->c->settlement.fx_fee_ppm = (uint32_t)n;
            return 1;
        }
        fail(st->err, st->err_cap,
             "[fx] unknown key, or quote_ttl_s not from 1 to %u, or fee_ppm not from 0 to %u: %s = %s",
             (unsigned)ORTAK_QUOTE_TTL_S_LIMIT, (unsigned)ORTAK_FX_FEE_PPM_LIMIT, name, value);
        return 0;
    }
    if (strncmp(section, "currency ", 9) == 0) return parse_currency(st, section, name, v);
    fail(st->err, st->err_cap, "unknown section [%s]", section);
    return 0;
}

ortak_rc ortak_config_parse(struct ortak_config *c, const char *text, size_t len, char *err, size_t err_cap) {
    ortak_config_init(c);
    if (err && err_cap) err[0] = '\0';
    if (memchr(text, '\0', len)) {
        fail(err, err_cap, "configuration contains a NUL byte");
        return ORTAK_CONFIG_INVALID;
    }
    char *copy = malloc(len + 1);
    if (!copy) return ORTAK_NOMEM;
    memcpy(copy, text, len);
    copy[len] = '\0';
    char msg[256] = "";
    struct parse_state st = {.c = c, .err = msg, .err_cap = sizeof msg};
    int line = ini_parse_string(copy, config_ini_handler, &st);
    free(copy);
    if (line != 0) {
        fail(err, err_cap, "line %d: %s", line, msg[0] ? msg : "syntax error");
        return ORTAK_CONFIG_INVALID;
    }
    return ortak_config_check(c, err, err_cap);
}

ortak_rc ortak_config_load(struct ortak_config *c, const char *path, char *err, size_t err_cap) {
    enum { CONFIG_BYTES_MAX = 1 << 20 };
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail(err, err_cap, "%s: %s", path, strerror(errno));
        return ORTAK_IO;
    }
    char *buf = malloc(CONFIG_BYTES_MAX + 1);
    size_t len = buf ? fread(buf, 1, CONFIG_BYTES_MAX + 1, f) : 0;
    bool read_error = ferror(f) != 0;
    fclose(f);
    ortak_rc rc;
    if (!buf) {
        rc = ORTAK_NOMEM;
    } else if (read_error) {
        fail(err, err_cap, "%s: read error", path);
        rc = ORTAK_IO;
    } else if (len > CONFIG_BYTES_MAX) {
        fail(err, err_cap, "%s: larger than %d bytes", path, CONFIG_BYTES_MAX);
        rc = ORTAK_CONFIG_INVALID;
    } else {
        rc = ortak_config_parse(c, buf, len, err, err_cap);
    }
    free(buf);
    return rc;
}

void ortak_config_default(struct ortak_config *c) {
    char err[256];
    ortak_rc rc = ortak_config_parse(c, default_ini, sizeof default_ini - 1, err, sizeof err);
    ORTAK_ASSERT(rc == ORTAK_OK);
}

/* Non-empty, without control characters (the rule for participant names too). */
static bool text_valid(const char *s) {
    if (*s == '\0') return false;
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return false;
    }
    return true;
}

static bool upper3(const char *s) {
    for (int i = 0; i < 3; i++) {
        if (s[i] < 'A' || s[i] > 'Z') return false;
    }
    return s[3] == '\0';
}

static ortak_rc check_currency(const struct ortak_config *c, uint32_t i, char *err, size_t cap) {
    const struct ortak_currency_config *cur = &c->currencies[i];
    if (!upper3(cur->code)) {
        fail(err, cap, "currency '%s': code must be 3 uppercase letters", cur->code);
        return ORTAK_CONFIG_INVALID;
    }
    if (cur->numeric == 0) {
        fail(err, cap, "currency %s: numeric code missing (1..999)", cur->code);
        return ORTAK_CONFIG_INVALID;
    }
    if (!ortak_bic_valid(cur->agent_bic)) {
        fail(err, cap, "currency %s: agent '%s' is not a valid BIC", cur->code, cur->agent_bic);
        return ORTAK_CONFIG_INVALID;
    }
    if (!text_valid(cur->agent_name)) {
        fail(err, cap, "currency %s: agent_name missing or holds control characters", cur->code);
        return ORTAK_CONFIG_INVALID;
    }
    if (cur->net_window_ms > ORTAK_NET_WINDOW_MS_LIMIT) {
        fail(err, cap, "currency %s: net_window_ms is above %llu", cur->code,
             (unsigned long long)ORTAK_NET_WINDOW_MS_LIMIT);
        return ORTAK_CONFIG_INVALID;
    }
    if (cur->minor_units > 4) {
        fail(err, cap, "currency %s: minor_units %u is outside 0..4", cur->code, cur->minor_units);
        return ORTAK_CONFIG_INVALID;
    }
    for (uint32_t j = 0; j < i; j++) {
        if (c->currencies[j].numeric == cur->numeric) {
            fail(err, cap, "currencies %s and %s share numeric code %u", c->currencies[j].code, cur->code,
                 cur->numeric);
            return ORTAK_CONFIG_INVALID;
        }
    }
    return ORTAK_OK;
}

ortak_rc ortak_config_check(const struct ortak_config *c, char *err, size_t err_cap) {
    if (err && err_cap) err[0] = '\0';
    for (size_t i = 0; i < sizeof limit_keys / sizeof limit_keys[0]; i++) {
        uint32_t v = *(const uint32_t *)((const char *)&c->limits + limit_keys[i].offset);
        if (v == 0 || v > limit_keys[i].hard) {
            fail(err, err_cap, "limit %s = %u is outside 1..%u", limit_keys[i].name, v, limit_keys[i].hard);
            return ORTAK_CONFIG_INVALID;
        }
    }
    const struct ortak_settlement_config *set = &c->settlement;
    if ((set->gridlock_mode != ORTAK_GRIDLOCK_FIFO && set->gridlock_mode != ORTAK_GRIDLOCK_BYPASS) ||
        set->gridlock_interval_ms > ORTAK_GRIDLOCK_INTERVAL_MS_LIMIT || set->gridlock_budget == 0 ||
        set->gridlock_budget > ORTAK_GRIDLOCK_BUDGET_LIMIT || set->quote_ttl_s == 0 ||
        set->quote_ttl_s > ORTAK_QUOTE_TTL_S_LIMIT || set->fx_fee_ppm > ORTAK_FX_FEE_PPM_LIMIT) {
        fail(err, err_cap, "[settlement] or [fx]: a setting is out of range");
        return ORTAK_CONFIG_INVALID;
    }
    if (c->currency_count == 0 || c->currency_count > ORTAK_CURRENCIES_LIMIT) {
        fail(err, err_cap, "a configuration needs 1 to %u currencies", ORTAK_CURRENCIES_LIMIT);
        return ORTAK_CONFIG_INVALID;
    }
    for (uint32_t i = 0; i < c->currency_count; i++) {
        ortak_rc rc = check_currency(c, i, err, err_cap);
        if (rc != ORTAK_OK) return rc;
    }
    return ORTAK_OK;
}
