/*
 * ortak pay, quote, accounts, statement: HTTP clients of a running ortakd (docs/api.md), over libcurl.
 *
 * Each command sends one request and prints the answer: as a readable summary or table, or with --json the
 * server's JSON as it is. The server's address and the caller's token come from the options, else from the
 * server's configuration DIR/ortakd.ini written by `ortak init` (listen, tls, [tokens]); by default the caller is
 * the operator. Invariants: an answer is read up to CLI_HTTP_ANSWER_MAX bytes (http.h) and no further; every request
 * has a connect and a total timeout; redirects are not followed; nothing is retried (a payment may have been booked:
 * retrying is the user's choice, with the same --idempotency-key or --uetr).
 *
 * ortak__cli_client(argc, argv) runs the command named by argv[0] ("pay", "quote", "accounts", "statement").
 *
 * Exit codes (docs/cli.md): 0 done (a payment settled, queued or accepted); 1 the payment was rejected, or an
 * internal error; 2 usage; 65 the server refused the request (4xx); 69 the server cannot be reached, timed out or
 * is unavailable (5xx); 76 the answer is malformed or too large; 77 not authenticated or not allowed (401, 403).
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "http.h"

/* The value of option argv[*i] (advancing *i), or NULL after printing the problem. */
static const char *optval(const char *cmd, int argc, char **argv, int *i) {
    if (*i + 1 >= argc || argv[*i + 1][0] == '\0') {
        fprintf(stderr, "ortak %s: %s needs a value ('ortak %s --help')\n", cmd, argv[*i], cmd);
        return NULL;
    }
    return argv[++*i];
}

/* Takes a common option at argv[*i]: 1 taken, 0 not a common option, -1 its value is missing. */
static int common_opt(struct cli_http_opts *o, int argc, char **argv, int *i) {
    static const char *const names[] = {"--url", "--dir", "--as", "--token", "--cert", "--key", "--cacert"};
    const char **slots[] = {&o->url, &o->dir, &o->as, &o->token, &o->cert, &o->key, &o->cacert};
    if (strcmp(argv[*i], "--json") == 0) {
        o->json = true;
        return 1;
    }
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        if (strcmp(argv[*i], names[k]) != 0) continue;
        *slots[k] = optval(o->cmd, argc, argv, i);
        return *slots[k] ? 1 : -1;
    }
    return 0;
}

static const char common_help[] =
    "common options:\n"
    "  --url URL          the server (default: from DIR/ortakd.ini's listen; http:// when tls = no)\n"
    "  --dir DIR          the directory of `ortak init` (default ortak-data)\n"
    "  --as BIC           act as BIC, with its token from DIR/ortakd.ini (default: the operator)\n"
    "  --token T          a bearer token (demo mode)\n"
    "  --cert F --key F   a TLS client certificate and its key (PEM)\n"
    "  --cacert F         CA certificates (PEM) that verify the server (default: the system's)\n"
    "  --json             print the server's JSON answer as it is\n"
    "\n"
    "Exit codes: 0 done; 2 bad arguments; 65 the server refused the request; 69 the server cannot be reached,\n"
    "timed out or is unavailable; 76 a malformed or too large answer; 77 not authenticated or not allowed.\n";

/* ---- answers -------------------------------------------------------------------------------------------------- */

/* The string at `key` of object `o`, or `dflt`. */
static const char *jstr(const json_t *o, const char *key, const char *dflt) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

/* Parses the answer as JSON; NULL after printing the problem. */
static json_t *answer_json(const struct cli_http_opts *o, const struct cli_answer *a) {
    json_error_t je;
    json_t *j = a->body ? json_loadb(a->body, a->len, 0, &je) : NULL;
    if (!j) fprintf(stderr, "ortak %s: the answer (HTTP %ld) is not JSON\n", o->cmd, a->status);
    return j;
}

/* Prints the server's error (code, message, field, reason) and returns the exit code of its status. */
static int server_error(const struct cli_http_opts *o, const struct cli_answer *a) {
    json_error_t je;
    json_t *j = a->body ? json_loadb(a->body, a->len, 0, &je) : NULL;
    json_t *e = json_object_get(j, "error");
    if (json_is_object(e)) {
        const char *field = jstr(e, "field", NULL), *reason = jstr(e, "reason", NULL);
        fprintf(stderr, "ortak %s: the server answered %ld %s: %s%s%s%s%s%s\n", o->cmd, a->status, jstr(e, "code", "?"),
                jstr(e, "message", ""), field ? " (field " : "", field ? field : "", field ? ")" : "",
                reason ? " reason " : "", reason ? reason : "");
    } else {
        fprintf(stderr, "ortak %s: the server answered HTTP %ld without an error object\n", o->cmd, a->status);
    }
    json_decref(j);
    if (a->status == 401)
        fprintf(stderr, "ortak %s: give --as BIC (a token of DIR/ortakd.ini), --token or --cert/--key\n", o->cmd);
    if (a->status == 503) fprintf(stderr, "ortak %s: the server is not ready or overloaded: try again\n", o->cmd);
    if (a->status == 401 || a->status == 403) return CLI_EXIT_NOPERM;
    if (a->status >= 400 && a->status < 500) return CLI_EXIT_REFUSED;
    if (a->status >= 500) return CLI_EXIT_UNAVAILABLE;
    return CLI_EXIT_PROTOCOL;
}

/* With --json, the body as it came (and a newline when it has none). */
static void print_raw(const struct cli_answer *a) {
    if (!a->body) return;
    fwrite(a->body, 1, a->len, stdout);
    if (a->len && a->body[a->len - 1] != '\n') putchar('\n');
}

/* Appends "&key=value" (or "?key=value" first) to buf, percent-encoding value; false when it does not fit. */
static bool add_query(char *buf, size_t cap, const char *key, const char *value) {
    static const char hex[] = "0123456789ABCDEF";
    if (!value) return true;
    size_t n = strlen(buf);
    int w = snprintf(buf + n, cap - n, "%c%s=", strchr(buf, '?') ? '&' : '?', key);
    if (w < 0 || (size_t)w >= cap - n) return false;
    n += (size_t)w;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        bool plain =
            (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p);
        if (n + 4 > cap) return false;
        if (plain) {
            buf[n++] = (char)*p;
        } else {
            buf[n++] = '%';
            buf[n++] = hex[*p >> 4];
            buf[n++] = hex[*p & 15];
        }
    }
    buf[n] = '\0';
    return true;
}

/* Takes a command's option argv[*i] into the value slot of names[k]; 1 taken, 0 unknown, -1 value missing. */
static int own_opt(struct cli_http_opts *o, int argc, char **argv, int *i, const char *const *names,
                   const char **slots[]) {
    for (size_t k = 0; names[k]; k++) {
        if (strcmp(argv[*i], names[k]) != 0) continue;
        *slots[k] = optval(o->cmd, argc, argv, i);
        return *slots[k] ? 1 : -1;
    }
    return 0;
}

/* Parses a command's options: its own (names/slots, and the flags) and the common ones. Returns -1 when done,
 * else the exit code to return (--help, a usage error). `positional` takes one operand when non-NULL. */
static int parse_opts(struct cli_http_opts *o, int argc, char **argv, const char *const *names, const char **slots[],
                      const char *flag, bool *flag_set, const char **positional, const char *usage) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("%s\n%s", usage, common_help);
            return CLI_EXIT_OK;
        }
        if (flag && strcmp(argv[i], flag) == 0) {
            *flag_set = true;
            continue;
        }
        int t = own_opt(o, argc, argv, &i, names, slots);
        if (t == 0) t = common_opt(o, argc, argv, &i);
        if (t < 0) return CLI_EXIT_USAGE;
        if (t > 0) continue;
        if (positional && !*positional && argv[i][0] != '-') {
            *positional = argv[i];
            continue;
        }
        fprintf(stderr, "ortak %s: unknown option or argument '%s'\n\n%s", o->cmd, argv[i], usage);
        return CLI_EXIT_USAGE;
    }
    if ((o->cert != NULL) != (o->key != NULL)) {
        fprintf(stderr, "ortak %s: --cert and --key go together\n", o->cmd);
        return CLI_EXIT_USAGE;
    }
    return -1;
}

/* ---- commands ------------------------------------------------------------------------------------------------- */

static const char pay_usage[] =
    "usage: ortak pay --to BIC --amount 12.34 --currency KZT [--priority normal|urgent|highly_urgent] [--net]\n"
    "                 [--quote ID] [--uetr UUID] [--idempotency-key K] [common options]\n"
    "\n"
    "Submits a payment from the caller to BIC (POST /v1/payments) and prints its id, UETR and status.\n"
    "  --net               net settlement (the currency's open window) instead of gross\n"
    "  --quote ID          an FX quote of `ortak quote`: the payee is credited in the quote's target currency\n"
    "  --uetr UUID         the payment's UETR (default: from the idempotency key, else a new random one)\n"
    "  --idempotency-key K a retry with the same key is answered with the first payment, never booked twice\n"
    "Exit code 0: settled, queued or accepted; 1: rejected (the reason is printed).\n";

static void print_payment(const json_t *p) {
    printf("payment  %s\n  uetr     %s\n  status   %s\n", jstr(p, "id", "-"), jstr(p, "uetr", "-"),
           jstr(p, "status", "-"));
    if (json_object_get(p, "amount"))
        printf("  amount   %s %s, %s -> %s\n", jstr(p, "amount", "-"), jstr(p, "currency", "-"),
               jstr(p, "debtor_agent", "-"), jstr(p, "creditor_agent", "-"));
}

/* A 422 or 429 answer to a payment: it was rejected. */
static int pay_rejected(const struct cli_http_opts *o, const struct cli_answer *a) {
    json_error_t je;
    json_t *j = a->body ? json_loadb(a->body, a->len, 0, &je) : NULL;
    json_t *e = json_object_get(j, "error"), *p = json_object_get(j, "payment");
    if (!o->json) {
        if (json_is_object(p)) printf("payment  %s\n  uetr     %s\n", jstr(p, "id", "-"), jstr(p, "uetr", "-"));
        printf("  status   rejected\n  reason   %s %s: %s\n", jstr(e, "reason", "-"), jstr(e, "code", "?"),
               jstr(e, "message", ""));
    }
    fprintf(stderr, "ortak pay: the payment was rejected: %s (%s)\n", jstr(e, "message", "?"), jstr(e, "code", "?"));
    json_decref(j);
    return CLI_EXIT_REJECTED;
}

static int cmd_pay(struct cli_http_opts *o, int argc, char **argv) {
    const char *to = NULL, *amount = NULL, *ccy = NULL, *prio = NULL, *quote = NULL, *uetr = NULL, *key = NULL;
    static const char *const names[] = {"--to",    "--amount", "--currency",        "--priority",
                                        "--quote", "--uetr",   "--idempotency-key", NULL};
    const char **slots[] = {&to, &amount, &ccy, &prio, &quote, &uetr, &key};
    bool net = false;
    int rc = parse_opts(o, argc, argv, names, slots, "--net", &net, NULL, pay_usage);
    if (rc >= 0) return rc;
    if (!to || !amount || !ccy) {
        fprintf(stderr, "ortak pay: --to, --amount and --currency are required\n\n%s", pay_usage);
        return CLI_EXIT_USAGE;
    }
    if ((rc = ortak__http_resolve(o)) != CLI_EXIT_OK) return rc;
    json_t *b = json_pack("{s:s, s:s, s:s}", "creditor_agent", to, "currency", ccy, "amount", amount);
    if (b && prio) json_object_set_new(b, "priority", json_string(prio));
    if (b && net) json_object_set_new(b, "method", json_string("net"));
    if (b && quote) json_object_set_new(b, "quote_id", json_string(quote));
    if (b && uetr) json_object_set_new(b, "uetr", json_string(uetr));
    char *body = b ? json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    if (!body) {
        fprintf(stderr, "ortak pay: an argument is not UTF-8, or out of memory\n");
        return CLI_EXIT_USAGE;
    }
    struct cli_answer a;
    rc = ortak__http_request(o, "POST", "/v1/payments", body, key, &a);
    free(body);
    if (rc != CLI_EXIT_OK) return rc;
    if (o->json) print_raw(&a);
    if (a.status == 422 || a.status == 429) {
        rc = pay_rejected(o, &a);
    } else if (a.status != 200 && a.status != 201) {
        rc = server_error(o, &a);
    } else {
        json_t *p = answer_json(o, &a);
        const char *st = jstr(p, "status", "");
        if (!p)
            rc = CLI_EXIT_PROTOCOL;
        else if (!o->json)
            print_payment(p);
        if (p && strcmp(st, "settled") != 0 && strcmp(st, "queued") != 0 && strcmp(st, "accepted") != 0) {
            fprintf(stderr, "ortak pay: the payment is %s\n", st);
            rc = CLI_EXIT_REJECTED;
        }
        json_decref(p);
    }
    free(a.body);
    return rc;
}

static const char quote_usage[] =
    "usage: ortak quote --to BIC --from-currency KZT --to-currency AZN --amount 100.00 [--fixed source|target]\n"
    "                   [--idempotency-key K] [common options]\n"
    "\n"
    "Asks for a firm FX quote (POST /v1/fx/quotes) for a payment to BIC, and prints it.\n"
    "  --amount A        in --from-currency with --fixed source (the server's default), in --to-currency with\n"
    "                    --fixed target\n"
    "Pay it with: ortak pay --to BIC --currency FROM --amount SOURCE_AMOUNT --quote ID.\n";

static int cmd_quote(struct cli_http_opts *o, int argc, char **argv) {
    const char *to = NULL, *from_ccy = NULL, *to_ccy = NULL, *amount = NULL, *fixed = NULL, *key = NULL;
    static const char *const names[] = {
        "--to", "--from-currency", "--to-currency", "--amount", "--fixed", "--idempotency-key", NULL};
    const char **slots[] = {&to, &from_ccy, &to_ccy, &amount, &fixed, &key};
    int rc = parse_opts(o, argc, argv, names, slots, NULL, NULL, NULL, quote_usage);
    if (rc >= 0) return rc;
    if (!to || !from_ccy || !to_ccy || !amount) {
        fprintf(stderr, "ortak quote: --to, --from-currency, --to-currency and --amount are required\n\n%s",
                quote_usage);
        return CLI_EXIT_USAGE;
    }
    if ((rc = ortak__http_resolve(o)) != CLI_EXIT_OK) return rc;
    json_t *b = json_pack("{s:s, s:s, s:s, s:s}", "source_currency", from_ccy, "creditor_agent", to, "target_currency",
                          to_ccy, "amount", amount);
    if (b && fixed) json_object_set_new(b, "fixed", json_string(fixed));
    char *body = b ? json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    if (!body) return CLI_EXIT_USAGE;
    struct cli_answer a;
    rc = ortak__http_request(o, "POST", "/v1/fx/quotes", body, key, &a);
    free(body);
    if (rc != CLI_EXIT_OK) return rc;
    if (o->json) print_raw(&a);
    if (a.status != 200 && a.status != 201) {
        rc = server_error(o, &a);
    } else {
        json_t *q = answer_json(o, &a);
        if (!q) rc = CLI_EXIT_PROTOCOL;
        if (q && !o->json) {
            printf("quote     %s\n  provider  %s\n  pays      %s %s (fee %s)\n  receives  %s %s\n  rate      %s\n"
                   "  expires   %s\n  state     %s\n",
                   jstr(q, "id", "-"), jstr(q, "provider", "-"), jstr(q, "source_amount", "-"),
                   jstr(q, "source_currency", "-"), jstr(q, "fee_amount", "-"), jstr(q, "target_amount", "-"),
                   jstr(q, "target_currency", "-"), jstr(q, "rate", "-"), jstr(q, "expires_at", "-"),
                   jstr(q, "state", "-"));
            printf("Pay it with: ortak pay --to %s --currency %s --amount %s --quote %s\n", to,
                   jstr(q, "source_currency", "-"), jstr(q, "source_amount", "-"), jstr(q, "id", "-"));
        }
        json_decref(q);
    }
    free(a.body);
    return rc;
}

static const char accounts_usage[] =
    "usage: ortak accounts [--bic BIC] [--currency C] [common options]\n"
    "\n"
    "Lists the accounts the caller may read (GET /v1/accounts): its own; a central bank's also every account in\n"
    "its currency; the operator's all. One line each: id, bic, currency, kind, balance, available, queued\n"
    "(count/value).\n";

static int cmd_accounts(struct cli_http_opts *o, int argc, char **argv) {
    const char *bic = NULL, *ccy = NULL;
    static const char *const names[] = {"--bic", "--currency", NULL};
    const char **slots[] = {&bic, &ccy};
    int rc = parse_opts(o, argc, argv, names, slots, NULL, NULL, NULL, accounts_usage);
    if (rc >= 0) return rc;
    if ((rc = ortak__http_resolve(o)) != CLI_EXIT_OK) return rc;
    char path[512] = "/v1/accounts";
    if (!add_query(path, sizeof path, "bic", bic) || !add_query(path, sizeof path, "currency", ccy)) {
        fprintf(stderr, "ortak accounts: --bic or --currency is too long\n");
        return CLI_EXIT_USAGE;
    }
    struct cli_answer a;
    if ((rc = ortak__http_request(o, "GET", path, NULL, NULL, &a)) != CLI_EXIT_OK) return rc;
    if (o->json) print_raw(&a);
    if (a.status != 200) {
        rc = server_error(o, &a);
    } else {
        json_t *j = answer_json(o, &a);
        json_t *list = json_object_get(j, "accounts");
        if (!json_is_array(list)) {
            if (j) fprintf(stderr, "ortak accounts: the answer has no \"accounts\" list\n");
            rc = CLI_EXIT_PROTOCOL;
        } else if (!o->json) {
            printf("%-32s  %-11s  %-3s  %-10s  %18s  %18s  %s\n", "id", "bic", "cur", "kind", "balance", "available",
                   "queued");
            size_t i;
            json_t *ac;
            json_array_foreach(list, i, ac) {
                json_t *q = json_object_get(ac, "queued");
                printf("%-32s  %-11s  %-3s  %-10s  %18s  %18s  %lld/%s\n", jstr(ac, "id", "-"), jstr(ac, "bic", "-"),
                       jstr(ac, "currency", "-"), jstr(ac, "kind", "-"), jstr(ac, "balance", "-"),
                       jstr(ac, "available", "-"), (long long)json_integer_value(json_object_get(q, "count")),
                       jstr(q, "value", "0"));
            }
            printf("%zu account%s\n", json_array_size(list), json_array_size(list) == 1 ? "" : "s");
        }
        json_decref(j);
    }
    free(a.body);
    return rc;
}

static const char statement_usage[] =
    "usage: ortak statement ACCOUNT_ID [--from TIME] [--to TIME] [--camt053] [common options]\n"
    "\n"
    "Prints the account's statement (GET /v1/accounts/{id}/statement): opening balance, entries, closing balance.\n"
    "  --from, --to TIME  the period, RFC 3339 UTC (2026-11-28T00:00:00Z); default: the server's\n"
    "  --camt053          the statement as an ISO 20022 camt.053 message, printed as it comes\n";

static void print_statement(const json_t *s) {
    printf("account  %s  %s\nperiod   %s .. %s\nopening  %s\n", jstr(s, "account", "-"), jstr(s, "currency", "-"),
           jstr(s, "from", "-"), jstr(s, "to", "-"), jstr(s, "opening_balance", "-"));
    json_t *list = json_object_get(s, "entries"), *en;
    size_t i;
    json_array_foreach(list, i, en) {
        printf("  %-30s  %18s  %-11s  %s\n", jstr(en, "time", "-"), jstr(en, "amount", "-"),
               jstr(en, "counterparty", "-"), jstr(en, "uetr", "-"));
    }
    printf("closing  %s\n%zu entr%s%s\n", jstr(s, "closing_balance", "-"), json_array_size(list),
           json_array_size(list) == 1 ? "y" : "ies",
           json_is_true(json_object_get(s, "truncated")) ? " (truncated)" : "");
}

static bool hex32(const char *s) {
    size_t n = 0;
    for (; s[n]; n++) {
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))) return false;
    }
    return n == 32;
}

static int cmd_statement(struct cli_http_opts *o, int argc, char **argv) {
    const char *from = NULL, *to = NULL, *id = NULL;
    static const char *const names[] = {"--from", "--to", NULL};
    const char **slots[] = {&from, &to};
    bool camt = false;
    int rc = parse_opts(o, argc, argv, names, slots, "--camt053", &camt, &id, statement_usage);
    if (rc >= 0) return rc;
    if (!id || !hex32(id)) {
        fprintf(stderr,
                "ortak statement: ACCOUNT_ID (32 lowercase hexadecimal digits, from ortak accounts) is "
                "required\n\n%s",
                statement_usage);
        return CLI_EXIT_USAGE;
    }
    if ((rc = ortak__http_resolve(o)) != CLI_EXIT_OK) return rc;
    char path[512];
    snprintf(path, sizeof path, "/v1/accounts/%s/statement", id);
    if (!add_query(path, sizeof path, "from", from) || !add_query(path, sizeof path, "to", to) ||
        !add_query(path, sizeof path, "format", camt ? "camt.053" : NULL)) {
        fprintf(stderr, "ortak statement: --from or --to is too long\n");
        return CLI_EXIT_USAGE;
    }
    struct cli_answer a;
    if ((rc = ortak__http_request(o, "GET", path, NULL, NULL, &a)) != CLI_EXIT_OK) return rc;
    if (a.status != 200) {
        if (o->json) print_raw(&a);
        rc = server_error(o, &a);
    } else if (camt || o->json) {
        print_raw(&a);
    } else {
        json_t *s = answer_json(o, &a);
        if (!s)
            rc = CLI_EXIT_PROTOCOL;
        else
            print_statement(s);
        json_decref(s);
    }
    free(a.body);
    return rc;
}

int ortak__cli_client(int argc, char **argv) {
    struct cli_http_opts o = {.cmd = argv[0]};
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "ortak %s: cannot initialise libcurl\n", o.cmd);
        return CLI_EXIT_INTERNAL;
    }
    int rc = CLI_EXIT_USAGE;
    if (strcmp(o.cmd, "pay") == 0)
        rc = cmd_pay(&o, argc, argv);
    else if (strcmp(o.cmd, "quote") == 0)
        rc = cmd_quote(&o, argc, argv);
    else if (strcmp(o.cmd, "accounts") == 0)
        rc = cmd_accounts(&o, argc, argv);
    else if (strcmp(o.cmd, "statement") == 0)
        rc = cmd_statement(&o, argc, argv);
    if (fflush(stdout) != 0 && rc == CLI_EXIT_OK) rc = CLI_EXIT_IO;
    curl_global_cleanup();
    return rc;
}
