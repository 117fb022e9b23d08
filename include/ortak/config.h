/*
 * Engine configuration: limits, currencies and their settlement agents, the hash seed.
 *
 * A configuration is INI text (the format `ortak init` writes and operators edit):
 *
 *   [engine]
 *   hash_seed = 12345                ; seeds the id hash tables; keep it private to the deployment
 *   [limits]
 *   participants_max = 1024          ; any field of struct ortak_limits, 1..its hard limit
 *   [currency KZT]
 *   numeric = 398
 *   minor_units = 2
 *   agent = NBRKKZKX                 ; BIC of the issuing central bank
 *   agent_name = National Bank of Kazakhstan
 *   net_window_ms = 3600000          ; net settlement windows close every hour of engine time (0: on command)
 *   [settlement]
 *   offsetting = yes                 ; bilateral offsetting on entry (settle.h)
 *   gridlock_mode = bypass           ; fifo | bypass: how gridlock resolution chooses what settles
 *   gridlock_interval_ms = 60000     ; run it every this much engine time; 0 = on the operator's command only
 *   gridlock_budget = 2000000        ; work budget of one bypass run, per currency
 *   [fx]
 *   quote_ttl_s = 600                ; seconds an FX quote stays firm by default
 *   fee_ppm = 0                      ; the operator's fee on a PvP payment, in ppm of what the payer converts
 *
 * The product's default configuration is itself such a text (ortak_config_default_ini), so what runs by
 * default is exactly what an operator could have written.
 */
#ifndef ORTAK_CONFIG_H
#define ORTAK_CONFIG_H

#include <stddef.h>

#include "ortak/limits.h"
#include "ortak/rc.h"
#include "ortak/types.h"

struct ortak_currency_config {
    char code[4];        /* ISO 4217 alphabetic: 3 uppercase letters */
    uint16_t numeric;    /* ISO 4217 numeric, 1..999 */
    uint8_t minor_units; /* 0..4 */
    char agent_bic[12];
    char agent_name[ORTAK_NAME_LEN_LIMIT + 1];
    uint64_t net_window_ms; /* net settlement windows close every this much engine time; 0 = on command only */
};

enum ortak_gridlock_mode { ORTAK_GRIDLOCK_FIFO = 1, ORTAK_GRIDLOCK_BYPASS = 2 };

/* Upper bounds of the settlement settings. */
#define ORTAK_GRIDLOCK_INTERVAL_MS_LIMIT UINT64_C(86400000) /* one day */
#define ORTAK_NET_WINDOW_MS_LIMIT UINT64_C(86400000)        /* one day */
#define ORTAK_QUOTE_TTL_S_LIMIT 86400u                      /* one day */
#define ORTAK_FX_FEE_PPM_LIMIT 100000u                      /* 10% */
#define ORTAK_GRIDLOCK_BUDGET_LIMIT UINT64_C(1000000000000)
/* Finishes bypass's local search many times over on 200 queued payments, in 10-20 ms (docs/settlement.md). */
#define ORTAK_GRIDLOCK_BUDGET_DEFAULT UINT64_C(2000000)

struct ortak_settlement_config {
    bool offsetting;
    uint8_t gridlock_mode;         /* enum ortak_gridlock_mode: of the periodic runs and the operator's default */
    uint64_t gridlock_interval_ms; /* 0..ORTAK_GRIDLOCK_INTERVAL_MS_LIMIT; 0 = no periodic runs */
    uint64_t gridlock_budget;      /* 1..ORTAK_GRIDLOCK_BUDGET_LIMIT */
    uint32_t quote_ttl_s; /* [fx] quote_ttl_s: default seconds a quote stays firm, 1..ORTAK_QUOTE_TTL_S_LIMIT */
    uint32_t fx_fee_ppm;  /* [fx] fee_ppm: the operator's fee on a PvP payment, ppm of its source amount */
};

struct ortak_config {
    struct ortak_limits limits;
    struct ortak_settlement_config settlement;
    uint64_t hash_seed;
    uint32_t currency_count;
    struct ortak_currency_config currencies[ORTAK_CURRENCIES_LIMIT];
};

/* The BIC of the system's operator when a deployment names none (ortakd's [server] operator_bic, ortak init). */
#define ORTAK_OPERATOR_BIC_DEFAULT "ORTKTRISXXX"

/* The INI text of the default configuration: the currencies of the OTS members and observers. */
const char *ortak_config_default_ini(void);

/* Sets every limit and setting to its default, no currencies, seed 0. */
void ortak_config_init(struct ortak_config *c);

/*
 * Parses INI text into *c (which ortak_config_parse first resets with ortak_config_init) and checks it.
 * Returns ORTAK_OK or ORTAK_CONFIG_INVALID with a message naming the line and the problem in `err`.
 */
ortak_rc ortak_config_parse(struct ortak_config *c, const char *text, size_t len, char *err, size_t err_cap);

/* Reads and parses a file. ORTAK_IO (message in `err`) when it cannot be read, else as ortak_config_parse. */
ortak_rc ortak_config_load(struct ortak_config *c, const char *path, char *err, size_t err_cap);

/* The default configuration, parsed. Never fails (asserted). */
void ortak_config_default(struct ortak_config *c);

/* Checks limits, settings and currencies. ORTAK_OK or ORTAK_CONFIG_INVALID with a message in `err`. */
ortak_rc ortak_config_check(const struct ortak_config *c, char *err, size_t err_cap);

#endif
