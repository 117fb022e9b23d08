/*
 * ortak demo: the whole system on one machine in one command (docs/cli.md).
 *
 * `ortak demo [--quick] [--dir DIR] [--port P]` makes DIR with `ortak init` (or reuses it), starts ortakd on
 * 127.0.0.1:P in the background (its log in DIR/ortakd.log), waits for /readyz, runs the simulated business day
 * against it over HTTP (simtarget.c), compares the same workload in-process under plain RTGS and under gridlock
 * resolution (ortak_sim_run), prints the summary and writes it to DIR/report.txt, DIR/report.csv (value by currency
 * pair) and DIR/policies.csv (the in-process runs). Then it shows sanctions screening: it opens the next business day
 * and sends three cross-border payments to names of the DEMO list that init wrote (DIR/demo-sanctions.csv), and says
 * which the server held (screen_demo; never a reason to fail). With --quick (2,000 instructions) it then stops the
 * server (SIGTERM) and waits for its exit; without, it leaves the server running and says how to reach and stop it.
 *
 * Invariants: a server this command started is stopped on every failure path, and with --quick before it exits;
 * the server is never left half-started (a child that exits before /readyz is reported with its log).
 * Exit codes: 0 done; 1 internal error, or the server did not exit 0; 2 bad arguments; 69 the server did not get
 * ready or cannot be reached; 73/74 from init; 127 ortakd cannot be found or run; else those of simulate --target.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/slice.h"
#include "cli.h"
#include "http.h"
#include "ortak/iso20022.h"
#include "ortak/sim.h"
#include "sim_plot.h"
#include "simtarget.h"

#define DEMO_QUICK_PAYMENTS 2000u
#define DEMO_LEVEL_PCT 25u /* level 1 of DEMO_STEPS: between the lower and the upper bound */
#define DEMO_STEPS 5u
#define DEMO_CONCURRENCY 4u
#define READY_WAIT_MS 60000u
#define STOP_WAIT_MS 30000u

static const char demo_usage[] =
    "usage: ortak demo [--quick] [--dir DIR] [--port P]\n"
    "\n"
    "Runs the system end to end on loopback: ortak init (DIR, default ./ortak-demo; an existing one is reused),\n"
    "starts ortakd in the background (log in DIR/ortakd.log), runs a simulated business day against it over HTTP\n"
    "(`ortak simulate --target`), closes the day, and prints and writes the report (DIR/report.txt,\n"
    "DIR/report.csv, DIR/policies.csv): payments, settled share, value by currency pair, client latency, and\n"
    "the liquidity gridlock resolution saves against plain RTGS on the same workload (run in-process).\n"
    "Then it opens the next business day and sends three cross-border payments to names of the DEMO sanctions\n"
    "list (DIR/demo-sanctions.csv, made-up names), which screening holds for the operator to release or reject.\n"
    "\n"
    "  --quick    a short day (2,000 instructions), then stop the server; without it, the default day (10,000)\n"
    "             and the server keeps running\n"
    "  --dir DIR  the data directory (default ortak-demo)\n"
    "  --port P   the server's port on 127.0.0.1 (default 8080)\n"
    "\n"
    "Exit codes: 0 done; 2 bad arguments; 69 the server did not get ready; 127 no ortakd; others as\n"
    "ortak simulate --target (docs/cli.md).\n";

struct demo {
    const char *dir;
    unsigned port;
    bool port_given, quick;
    char url[64];
    pid_t pid;
};

static uint64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static size_t discard(char *data, size_t size, size_t nmemb, void *user) {
    (void)data, (void)user;
    return size * nmemb;
}

/* Whether GET url/readyz answers 200 within a second (quietly: the server may not be up yet). */
static bool ready(const char *url) {
    char u[128];
    snprintf(u, sizeof u, "%s/readyz", url);
    CURL *c = curl_easy_init();
    long status = 0;
    if (!c) return false;
    if (curl_easy_setopt(c, CURLOPT_URL, u) == CURLE_OK && curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard) == CURLE_OK && curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status == 200;
}

/* Sets "listen = 127.0.0.1:PORT" in DIR/ortakd.ini (a reused directory, another --port); false on failure. */
static bool listen_set(const struct demo *d) {
    char path[PATH_MAX], tmp[PATH_MAX], text[65536];
    snprintf(path, sizeof path, "%s/ortakd.ini", d->dir);
    snprintf(tmp, sizeof tmp, "%s/.ortakd.ini.tmp", d->dir);
    FILE *in = fopen(path, "r"), *out = NULL;
    bool ok = false;
    if (!in) goto done;
    size_t n = fread(text, 1, sizeof text - 1, in);
    if (ferror(in) || n == sizeof text - 1) goto done;
    text[n] = '\0';
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || !(out = fdopen(fd, "w"))) goto done;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line + 1) : strlen(line);
        if (strncmp(line, "listen", 6) == 0 && (line[6] == ' ' || line[6] == '='))
            fprintf(out, "listen = 127.0.0.1:%u\n", d->port);
        else
            fwrite(line, 1, len, out);
        line += len;
    }
    ok = fflush(out) == 0 && fsync(fileno(out)) == 0;
    ok = fclose(out) == 0 && ok;
    out = NULL;
    ok = ok && rename(tmp, path) == 0;
done:
    if (in) fclose(in);
    if (out) fclose(out);
    if (!ok) fprintf(stderr, "ortak demo: cannot set the port in %s: %s\n", path, strerror(errno));
    return ok;
}

/* DIR made by ortak init, or reused (then with --port written into it). 0 or an exit code. */
static int prepare_dir(struct demo *d) {
    char ini[PATH_MAX];
    snprintf(ini, sizeof ini, "%s/ortakd.ini", d->dir);
    if (access(ini, R_OK) != 0) return ortak__cli_init_dir(d->dir, d->port, false, true);
    printf("ortak demo: reusing %s\n", d->dir);
    struct cli_server_file *f = calloc(1, sizeof *f);
    if (!f) return CLI_EXIT_INTERNAL;
    int rc = ortak__http_server_file("demo", d->dir, f);
    const char *colon = rc == CLI_EXIT_OK ? strrchr(f->listen, ':') : NULL;
    uint64_t port = 0;
    bool same = colon && ortak_slice_parse_u64(ortak_slice_from_cstr(colon + 1), 65535, &port) && port == d->port;
    if (rc == CLI_EXIT_OK && !d->port_given && port)
        d->port = (unsigned)port;
    else if (rc == CLI_EXIT_OK && !same && !listen_set(d))
        rc = CLI_EXIT_IO;
    free(f);
    return rc;
}

/* Starts ortakd --config DIR/ortakd.ini in its own session, output to DIR/ortakd.log; waits for /readyz. */
static int server_start(struct demo *d) {
    char config[PATH_MAX], log[PATH_MAX], exe[PATH_MAX];
    snprintf(config, sizeof config, "%s/ortakd.ini", d->dir);
    snprintf(log, sizeof log, "%s/ortakd.log", d->dir);
    if (ready(d->url)) {
        fprintf(stderr, "ortak demo: a server answers at %s already: stop it, or give another --port\n", d->url);
        return CLI_EXIT_UNAVAILABLE;
    }
    ortak__cli_ortakd_beside(exe, sizeof exe);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "ortak demo: cannot open %s: %s\n", log, strerror(errno));
        return CLI_EXIT_IO;
    }
    fflush(NULL);
    d->pid = fork();
    if (d->pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        if (null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 || setsid() < 0) _exit(127);
        if (exe[0]) execl(exe, "ortakd", "--config", config, (char *)NULL);
        execlp("ortakd", "ortakd", "--config", config, (char *)NULL);
        _exit(127);
    }
    close(fd);
    if (d->pid < 0) {
        fprintf(stderr, "ortak demo: fork failed: %s\n", strerror(errno));
        return CLI_EXIT_INTERNAL;
    }
    printf("ortak demo: started ortakd (pid %d) on %s, log %s\n", (int)d->pid, d->url, log);
    fflush(stdout);
    for (uint64_t t0 = mono_ms(); mono_ms() - t0 < READY_WAIT_MS; sleep_ms(100)) {
        int st = 0;
        if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
            int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            d->pid = 0;
            fprintf(stderr, "ortak demo: ortakd exited (%d) before it was ready: see %s%s\n", code, log,
                    code == 127 ? " (ortakd not found beside ortak nor on PATH?)" : "");
            return code == 127 ? 127 : CLI_EXIT_UNAVAILABLE;
        }
        if (ready(d->url)) return CLI_EXIT_OK;
    }
    fprintf(stderr, "ortak demo: ortakd is not ready after %u s: see %s\n", READY_WAIT_MS / 1000, log);
    return CLI_EXIT_UNAVAILABLE;
}

/* SIGTERM, then waits for the exit (SIGKILL after STOP_WAIT_MS). 0 when it exited 0, else 1. */
static int server_stop(struct demo *d) {
    if (d->pid <= 0) return CLI_EXIT_OK;
    kill(d->pid, SIGTERM);
    int st = 0;
    uint64_t t0 = mono_ms();
    while (waitpid(d->pid, &st, WNOHANG) == 0) {
        if (mono_ms() - t0 > STOP_WAIT_MS) {
            kill(d->pid, SIGKILL);
            waitpid(d->pid, &st, 0);
            break;
        }
        sleep_ms(50);
    }
    d->pid = 0;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        printf("ortak demo: the server stopped (exit 0)\n");
        return CLI_EXIT_OK;
    }
    fprintf(stderr, "ortak demo: the server did not exit cleanly (status %d): see %s/ortakd.log\n", st, d->dir);
    return CLI_EXIT_INTERNAL;
}

/* ---- plain RTGS against gridlock resolution, in-process -------------------------------------------------------- */

struct compare {
    struct ortak_sim_result r[ORTAK_SIM_POLICIES * DEMO_STEPS];
    uint32_t n;
    uint64_t lower, upper;
};

/* The liquidity (US cents) of the lowest level at which `policy` settles every leg; UINT64_MAX when none. */
static uint64_t needed(const struct compare *c, uint32_t policy) {
    for (uint32_t i = 0; i < c->n; i++) {
        const struct ortak_sim_result *x = &c->r[i];
        if (x->policy == policy && x->settled_count == x->legs) return x->liquidity_usd_cents;
    }
    return UINT64_MAX;
}

static const struct ortak_sim_result *at_level(const struct compare *c, uint32_t policy, uint32_t level) {
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->r[i].policy == policy && c->r[i].level == level) return &c->r[i];
    }
    return NULL;
}

static void usd(uint64_t cents, char out[32]) {
    if (cents == UINT64_MAX)
        snprintf(out, 32, "%s", "(not within the range)");
    else
        snprintf(out, 32, "%llu.%02llu", (unsigned long long)(cents / 100), (unsigned long long)(cents % 100));
}

static void compare_print(FILE *f, const struct compare *c) {
    uint32_t level = DEMO_LEVEL_PCT * (DEMO_STEPS - 1) / 100u;
    static const uint32_t pol[] = {ORTAK_SIM_RTGS, ORTAK_SIM_FIFO, ORTAK_SIM_BYPASS};
    char b1[32], b2[32];
    fprintf(f, "same workload in-process, at the same liquidity (level %u of %u, %u%%):\n  %-7s %10s %9s %24s\n", level,
            DEMO_STEPS - 1, DEMO_LEVEL_PCT, "policy", "settled", "value%", "liquidity to settle all");
    for (uint32_t k = 0; k < 3; k++) {
        const struct ortak_sim_result *x = at_level(c, pol[k], level);
        if (!x) continue;
        usd(needed(c, pol[k]), b1);
        fprintf(f, "  %-7s %10u %8u.%02u%% %24s\n", ortak_sim_policy_name(pol[k]), x->settled_count,
                x->settled_value_ppm / 10000u, (x->settled_value_ppm % 10000u) / 100u, b1);
    }
    uint64_t rtgs = needed(c, ORTAK_SIM_RTGS), gr = needed(c, ORTAK_SIM_BYPASS);
    if (needed(c, ORTAK_SIM_FIFO) < gr) gr = needed(c, ORTAK_SIM_FIFO);
    if (rtgs != UINT64_MAX && gr != UINT64_MAX && gr <= rtgs) {
        usd(rtgs - gr, b1);
        uint64_t bp = rtgs ? (uint64_t)((ortak_u128)(rtgs - gr) * 10000u / rtgs) : 0;
        fprintf(f,
                "liquidity saved by gridlock resolution versus plain RTGS: USD %s (%llu.%02llu%% of what RTGS needs)\n",
                b1, (unsigned long long)(bp / 100), (unsigned long long)(bp % 100));
    } else {
        fprintf(f, "liquidity saved by gridlock resolution versus plain RTGS: not measurable within the levels\n");
    }
    usd(c->lower, b1);
    usd(c->upper, b2);
    fprintf(f, "(levels from the lower bound USD %s to the upper bound USD %s in %u steps; docs/simulation.md)\n", b1,
            b2, DEMO_STEPS);
}

/* DIR/report.txt, DIR/report.csv and DIR/policies.csv. */
static bool report_write(const struct demo *d, const struct ortak_sim_workload *w, const struct cli_simtarget_result *r,
                         const struct compare *c) {
    char path[PATH_MAX];
    bool ok = true;
    snprintf(path, sizeof path, "%s/report.txt", d->dir);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "ortak demo: seed %llu, %u instructions against %s\n", (unsigned long long)w->params.seed,
                w->params.payments, d->url);
        ortak__cli_simtarget_print(f, w, r);
        compare_print(f, c);
    }
    ok = f && !ferror(f);
    ok = f && fclose(f) == 0 && ok;
    snprintf(path, sizeof path, "%s/report.csv", d->dir);
    f = ok ? fopen(path, "w") : NULL;
    ok = f && ortak__cli_simtarget_csv(f, w, r);
    ok = f && fclose(f) == 0 && ok;
    snprintf(path, sizeof path, "%s/policies.csv", d->dir);
    f = ok ? fopen(path, "w") : NULL;
    if (f) {
        fprintf(f, "policy,level,liquidity_usd_cents,legs,settled,settled_value_ppm,delay_mean_ms\n");
        for (uint32_t i = 0; i < c->n; i++) {
            const struct ortak_sim_result *x = &c->r[i];
            fprintf(f, "%s,%u,%llu,%u,%u,%u,%llu\n", ortak_sim_policy_name(x->policy), x->level,
                    (unsigned long long)x->liquidity_usd_cents, x->legs, x->settled_count, x->settled_value_ppm,
                    (unsigned long long)x->delay_mean_ms);
        }
    }
    ok = f && !ferror(f);
    ok = f && fclose(f) == 0 && ok;
    if (!ok) fprintf(stderr, "ortak demo: cannot write %s: %s\n", path, strerror(errno));
    return ok;
}

/* Returns -1 to go on, or the exit code (--help, a usage error). */
static int demo_parse(int argc, char **argv, struct demo *d) {
    d->dir = "ortak-demo";
    d->port = 8080;
    for (int i = 1; i < argc; i++) {
        uint64_t port = 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(demo_usage, stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(argv[i], "--quick") == 0) {
            d->quick = true;
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc && argv[i + 1][0]) {
            d->dir = argv[++i];
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc &&
                   ortak_slice_parse_u64(ortak_slice_from_cstr(argv[i + 1]), 65535, &port) && port > 0) {
            d->port = (unsigned)port;
            d->port_given = true;
            i++;
        } else {
            fprintf(stderr, "ortak demo: unknown or incomplete option '%s'\n\n%s", argv[i], demo_usage);
            return CLI_EXIT_USAGE;
        }
    }
    return -1;
}

/* The workload of the default options (--quick: DEMO_QUICK_PAYMENTS instructions) for DIR/engine.ini. */
static int workload_make(const struct demo *d, struct ortak_config *cfg, struct ortak_sim_workload *w) {
    char path[PATH_MAX], err[512];
    snprintf(path, sizeof path, "%s/engine.ini", d->dir);
    if (!ortak__cli_config(path, cfg)) return CLI_EXIT_USAGE;
    static struct ortak_sim_trade trade;
    ortak_rc rc = ortak_sim_trade_load(cfg, ortak_sim_default_trade_path(), &trade, err, sizeof err);
    if (rc != ORTAK_OK) {
        fprintf(stderr, "ortak demo: trade table: %s\n", err);
        return rc == ORTAK_IO ? CLI_EXIT_IO : CLI_EXIT_USAGE;
    }
    struct ortak_sim_params p;
    ortak_sim_params_default(&p);
    if (d->quick) p.payments = DEMO_QUICK_PAYMENTS;
    rc = ortak_sim_workload_generate(cfg, &trade, &p, w);
    if (rc != ORTAK_OK) fprintf(stderr, "ortak demo: workload: %s\n", ortak_rc_str(rc));
    return rc == ORTAK_OK ? CLI_EXIT_OK : CLI_EXIT_INTERNAL;
}

static int compare_run(const struct ortak_config *cfg, const struct ortak_sim_workload *w, struct compare *c) {
    struct ortak_sim_options o;
    ortak_sim_options_default(&o);
    o.policies_mask = 1u << ORTAK_SIM_RTGS | 1u << ORTAK_SIM_FIFO | 1u << ORTAK_SIM_BYPASS;
    o.liquidity_steps = DEMO_STEPS;
    ortak_rc rc = ortak_sim_run(cfg, w, &o, c->r, &c->n, &c->lower, &c->upper);
    if (rc != ORTAK_OK) fprintf(stderr, "ortak demo: in-process run: %s\n", ortak_rc_str(rc));
    return rc == ORTAK_OK ? CLI_EXIT_OK : CLI_EXIT_INTERNAL;
}

/* The plots of the in-process runs (gnuplot): the demo goes on without them. */
static void plots_write(const struct demo *d, const struct ortak_sim_workload *w, const struct compare *c) {
    if (!ortak__cli_sim_plot(d->dir, w, c->r, c->n)) return;
    int g = ortak__cli_sim_gnuplot(d->dir);
    if (g == 0)
        printf("plots: %s/liquidity, queue and flows (.svg and .png)\n", d->dir);
    else
        printf("plots: gnuplot %s (scripts/setup installs it); the data and plots.gp are in %s\n",
               g < 0 ? "cannot be run" : "failed", d->dir);
}

/* ---- sanctions screening: payments to names of the DEMO list ----------------------------------------------- */

#define SCREEN_PAYMENTS 3u
#define SCREEN_USD 10000u /* each payment's value, in US dollars */

/* The creditors' names: those of the DEMO list (init.c, demo_list_csv) as a payment might write them. */
static const char *const screen_names[SCREEN_PAYMENTS] = {
    "CASPIAN SHADOW TRADING",             /* DEMO-001 in capitals, without its company form */
    "Борис Фантомов",                     /* DEMO-002 in Cyrillic, listed in Latin, without the patronymic */
    "Golden Steppe Phantom Holdings Ltd", /* DEMO-003 with another company form */
};

/* One payment to a DEMO name: who pays whom, and what the server made of it. */
struct screen_pay {
    uint32_t payer, payee, currency; /* workload participants; configuration currency = the payer's country */
    char amount[48];
    char id[33], status[16];
    char list[8], entry_id[24], score[16];
};

/*
 * The payments: the first bank of each country other than the first FX provider's pays that provider (which holds an
 * account in every currency) in its own currency, so that the two agents are of different countries and the payment
 * is screened. Returns how many (fewer than SCREEN_PAYMENTS when the workload has fewer such countries).
 */
static uint32_t screen_pick(const struct ortak_config *cfg, const struct ortak_sim_workload *w,
                            struct screen_pay *pay) {
    uint32_t fx = UINT32_MAX, n = 0;
    for (uint32_t p = 0; p < w->participant_count && fx == UINT32_MAX; p++) {
        if (w->participants[p].role == ORTAK_ROLE_FX_PROVIDER) fx = p;
    }
    if (fx == UINT32_MAX) return 0;
    for (uint32_t p = 0; p < w->participant_count && n < SCREEN_PAYMENTS; p++) {
        const struct ortak_sim_participant *sp = &w->participants[p];
        if (sp->role != ORTAK_ROLE_BANK || sp->country == w->participants[fx].country) continue;
        if (n > 0 && w->participants[pay[n - 1].payer].country == sp->country) continue; /* one bank per country */
        const struct ortak_currency_config *c = &cfg->currencies[sp->country];
        uint64_t minor = (uint64_t)SCREEN_USD * ortak_sim_rate_milli(c->code) / 1000u;
        for (uint8_t k = 0; k < c->minor_units; k++) minor *= 10u;
        pay[n] = (struct screen_pay){.payer = p, .payee = fx, .currency = sp->country};
        ortak_iso_amount_format(minor, c->minor_units, pay[n].amount);
        n++;
    }
    return n;
}

/* One request as `token`: the answer's JSON (the caller frees it) or NULL, and its HTTP status (0: no answer). */
static json_t *screen_call(const struct demo *d, const char *token, const char *method, const char *path, json_t *body,
                           long *status) {
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct cli_http_opts o = {.cmd = "demo", .url = d->url, .dir = d->dir, .token = token};
    struct cli_answer a = {0};
    json_t *j = NULL;
    *status = 0;
    if ((!body || text) && ortak__http_request(&o, method, path, text, NULL, &a) == CLI_EXIT_OK) {
        json_error_t je;
        j = a.body ? json_loadb(a.body, a.len, 0, &je) : NULL;
        *status = a.status;
    }
    free(a.body);
    free(text);
    return j;
}

static const char *jstr(const json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* Sends payment `pay` as its payer (`token`); fills in its id and what became of it. */
static void screen_send(const struct demo *d, const char *token, const struct ortak_config *cfg,
                        const struct ortak_sim_workload *w, struct screen_pay *pay, const char *name) {
    json_t *b = json_pack("{s:s, s:s, s:s, s:s}", "creditor_agent", w->participants[pay->payee].bic, "currency",
                          cfg->currencies[pay->currency].code, "amount", pay->amount, "creditor_name", name);
    long status = 0;
    json_t *j = screen_call(d, token, "POST", "/v1/payments", b, &status);
    snprintf(pay->id, sizeof pay->id, "%s", jstr(j, "id"));
    if (status == 200 || status == 201)
        snprintf(pay->status, sizeof pay->status, "%s", jstr(j, "status"));
    else if (status)
        snprintf(pay->status, sizeof pay->status, "refused (%ld)", status);
    else
        snprintf(pay->status, sizeof pay->status, "no answer");
    json_decref(j);
}

/* Fills in the decision of each payment of `pay` that the operator sees held; returns how many payments are held in
 * all, or -1 when the server does not say. */
static long screen_holds(const struct demo *d, const char *op_token, struct screen_pay *pay, uint32_t n) {
    long status = 0;
    json_t *j = screen_call(d, op_token, "GET", "/v1/screening/holds", NULL, &status);
    json_t *holds = json_object_get(j, "holds");
    long total = status == 200 && json_is_array(holds) ? (long)json_array_size(holds) : -1;
    for (size_t h = 0; total > 0 && h < json_array_size(holds); h++) {
        const json_t *p = json_array_get(holds, h), *sc = json_object_get(p, "screening");
        for (uint32_t i = 0; i < n; i++) {
            if (!pay[i].id[0] || strcmp(pay[i].id, jstr(p, "id")) != 0) continue;
            snprintf(pay[i].list, sizeof pay[i].list, "%s", jstr(sc, "list"));
            snprintf(pay[i].entry_id, sizeof pay[i].entry_id, "%s", jstr(sc, "entry_id"));
            snprintf(pay[i].score, sizeof pay[i].score, "%.4f", json_number_value(json_object_get(sc, "score")));
        }
    }
    json_decref(j);
    return total;
}

/* What became of the payments, and where the held ones are seen. */
static void screen_print(const struct demo *d, const struct ortak_config *cfg, const struct ortak_sim_workload *w,
                         const struct screen_pay *pay, uint32_t n, long total, const char *op_token) {
    uint32_t held = 0;
    for (uint32_t i = 0; i < n; i++) {
        char what[96];
        held += strcmp(pay[i].status, "held") == 0;
        if (pay[i].list[0])
            snprintf(what, sizeof what, "%s (%s %s, %s)", pay[i].status, pay[i].list, pay[i].entry_id, pay[i].score);
        else
            snprintf(what, sizeof what, "%s", pay[i].status[0] ? pay[i].status : "?");
        printf("  %s -> %s  %s %15s  %-26s to \"%s\"\n", w->participants[pay[i].payer].bic,
               w->participants[pay[i].payee].bic, cfg->currencies[pay[i].currency].code, pay[i].amount, what,
               screen_names[i]);
    }
    if (held == 0) {
        printf("The server held none of them: its sanctions screening is off, or the DEMO list is not among its\n"
               "lists ([screening] in %s/ortakd.ini; `ortak init --force --dir %s` writes it anew).\n",
               d->dir, d->dir);
        return;
    }
    printf("%u of %u payments held by sanctions screening; each waits for the operator to release or reject it", held,
           n);
    if (total > (long)held) printf(".\n%ld payments are held in all, with those of earlier runs", total);
    if (d->quick)
        printf(".\nThe holds outlast the server, which --quick stops: after `ortak serve --dir %s`,\nsee them", d->dir);
    else
        printf(".\nSee them");
    printf(" in the dashboard's Screening view (%s/dashboard/, as the operator) or with:\n"
           "  curl -H 'Authorization: Bearer %s' %s/v1/screening/holds\n",
           d->url, op_token, d->url);
}

/*
 * Shows sanctions screening at work. The simulated day closed every cut-off, and a payment past its cut-off is
 * refused, not held: so this opens the next business day first (as the operator would), then sends the payments and
 * says what the server did with them. Never fails the demo: a problem is said, and the demo goes on.
 */
static void screen_demo(const struct demo *d, const struct ortak_config *cfg, const struct ortak_sim_workload *w) {
    struct screen_pay pay[SCREEN_PAYMENTS];
    uint32_t n = screen_pick(cfg, w, pay);
    struct cli_server_file *f = calloc(1, sizeof *f);
    const char *op = f && ortak__http_server_file("demo", d->dir, f) == CLI_EXIT_OK
                         ? ortak__http_token_of(f, f->operator_bic)
                         : NULL;
    printf("\nortak demo: sanctions screening: the operator opens the next business day, and %u banks pay an FX\n"
           "provider of another country, each to a name of the DEMO list (%s/demo-sanctions.csv, made-up names):\n",
           n, d->dir);
    long status = 0;
    json_t *j =
        op ? screen_call(d, op, "POST", "/v1/cutoffs",
                         json_pack("{s:[s,s,s], s:b}", "priorities", "normal", "urgent", "highly_urgent", "open", 1),
                         &status)
           : NULL;
    json_decref(j);
    if (!op || status != 200 || n == 0) {
        printf("  none sent: %s\n", !op             ? "no operator token in DIR/ortakd.ini"
                                    : status != 200 ? "the next business day could not be opened (POST /v1/cutoffs)"
                                                    : "the workload has no bank and FX provider of two countries");
        free(f);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        const char *tok = ortak__http_token_of(f, w->participants[pay[i].payer].bic);
        if (tok)
            screen_send(d, tok, cfg, w, &pay[i], screen_names[i]);
        else
            snprintf(pay[i].status, sizeof pay[i].status, "no token");
    }
    screen_print(d, cfg, w, pay, n, screen_holds(d, op, pay, n), op);
    free(f);
}

/* Where the server is and how to stop it (without --quick). */
static void leave_running(const struct demo *d) {
    struct cli_server_file *f = calloc(1, sizeof *f);
    const char *tok = f && ortak__http_server_file("demo", d->dir, f) == CLI_EXIT_OK
                          ? ortak__http_token_of(f, f->operator_bic)
                          : NULL;
    printf("\nThe server keeps running: %s (pid %d, log %s/ortakd.log)\n"
           "  operator %s, token %s\n"
           "  dashboard: %s/dashboard/ (log in with the operator's token above; every participant's is in\n"
           "             %s/ortakd.ini)\n"
           "  try:     ortak accounts --dir %s\n"
           "  stop it: kill %d\n",
           d->url, (int)d->pid, d->dir, f ? f->operator_bic : "?", tok ? tok : "?", d->url, d->dir, d->dir,
           (int)d->pid);
    free(f);
}

int ortak__cli_demo(int argc, char **argv) {
    static struct demo d;
    static struct ortak_config cfg;
    static struct ortak_sim_workload w;
    static struct cli_simtarget_result r;
    static struct compare c;
    int rc = demo_parse(argc, argv, &d);
    if (rc >= 0) return rc;
    uint64_t t0 = mono_ms();
    if ((rc = prepare_dir(&d)) != CLI_EXIT_OK) return rc;
    snprintf(d.url, sizeof d.url, "http://127.0.0.1:%u", d.port);
    if ((rc = workload_make(&d, &cfg, &w)) != CLI_EXIT_OK) return rc;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ortak_sim_workload_free(&w);
        return CLI_EXIT_INTERNAL;
    }
    rc = server_start(&d);
    struct cli_simtarget_cfg sc = {d.url, d.dir, "demo", DEMO_CONCURRENCY, DEMO_LEVEL_PCT};
    if (rc == CLI_EXIT_OK) {
        printf("ortak demo: %u instructions (%u legs), liquidity at %u%% of each account's range\n", w.params.payments,
               w.payment_count, DEMO_LEVEL_PCT);
        rc = ortak__cli_simtarget_run(&cfg, &w, &sc, &r);
    }
    if (rc == CLI_EXIT_OK) rc = compare_run(&cfg, &w, &c);
    if (rc == CLI_EXIT_OK) {
        printf("\nortak demo: the business day over HTTP (%s)\n", d.url);
        ortak__cli_simtarget_print(stdout, &w, &r);
        compare_print(stdout, &c);
        if (!report_write(&d, &w, &r, &c))
            rc = CLI_EXIT_IO;
        else
            printf("report: %s/report.txt, %s/report.csv, %s/policies.csv\n", d.dir, d.dir, d.dir);
        plots_write(&d, &w, &c);
        screen_demo(&d, &cfg, &w);
    }
    if (rc != CLI_EXIT_OK || d.quick) {
        int stop = server_stop(&d);
        if (rc == CLI_EXIT_OK) rc = stop;
    } else {
        leave_running(&d);
    }
    if (rc == CLI_EXIT_OK) printf("ortak demo: done in %llu ms\n", (unsigned long long)(mono_ms() - t0));
    curl_global_cleanup();
    ortak_sim_workload_free(&w);
    return rc;
}
