/*
 * ortak simulate: generates a seeded business day (src/sim/workload.c) and runs it through the engine in-process
 * under several settlement policies and opening liquidity levels (src/sim/simulate.c); prints a summary, writes
 * CSV, or one JSON object per line (docs/simulation.md).
 *
 * Everything but the elapsed times is a function of the options and the trade table: the same command prints the
 * same figures on every machine.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/slice.h"
#include "cli.h"
#include "ortak/sim.h"
#include "sim_plot.h"
#include "simtarget.h"

#define SIM_RESULTS_MAX (ORTAK_SIM_POLICIES * 20u)

static void sim_usage(FILE *f) {
    fprintf(f,
            "usage: ortak simulate [--seed N] [--banks-per-country N] [--fx-providers N] [--payments N]\n"
            "                      [--domestic-pct P] [--urgent-pct P] [--net-pct P]\n"
            "                      [--policy rtgs|fifo|bypass|net]... [--liquidity-steps K] [--csv FILE]\n"
            "                      [--json] [--trade FILE] [--config FILE]\n"
            "       ortak simulate --target URL [--dir DIR] [--concurrency N] [--liquidity-pct P] [workload options]\n"
            "\n"
            "Generates one business day of payments between the central banks, commercial banks and FX\n"
            "providers of the configuration's countries (flows between countries in proportion to their trade,\n"
            "domestic payments too) and runs it through the engine under each policy, from every account's\n"
            "liquidity lower bound to its upper bound in K steps. Prints per policy and level: payments settled,\n"
            "their share, delays (mean, p99), liquidity given and used (US dollar equivalent), queue length.\n"
            "\n"
            "  --seed N               the workload's seed (default 1): the same seed gives the same day\n"
            "  --banks-per-country N  commercial banks per country, 1..200 (default 5)\n"
            "  --fx-providers N       FX providers intermediating cross-border payments, 0..16 (default 2;\n"
            "                         0: the two central banks intermediate)\n"
            "  --payments N           payment instructions, 1..2000000 (default 10000; a cross-border one\n"
            "                         settles as two legs)\n"
            "  --domestic-pct P       share of domestic instructions, percent (default 40)\n"
            "  --urgent-pct P         share of urgent instructions, percent (default 10)\n"
            "  --net-pct P            share of the normal instructions the banks send net, under every\n"
            "                         policy, percent (default 0)\n"
            "  --policy P             rtgs (FIFO release only), fifo or bypass (with offsetting and gridlock\n"
            "                         resolution every 5 minutes), net (normal payments in hourly net windows);\n"
            "                         repeat to choose several; default all four\n"
            "  --liquidity-steps K    levels from lower to upper bound, 1..20 (default 5; 1 = upper bound)\n"
            "  --csv FILE             write one row per policy and level (queue samples every 15 minutes)\n"
            "  --json                 one JSON object per line instead of the text summary\n"
            "  --trade FILE           the bilateral trade table (default %s)\n"
            "  --config FILE          the engine configuration (default: the built-in one)\n"
            "  --target URL           run the day against a running ortakd over HTTP instead (http://HOST:PORT,\n"
            "                         '-': from DIR/ortakd.ini): admit the banks, fund them, send the payments,\n"
            "                         close the day, print payments settled, value by pair, client latency\n"
            "  --dir DIR              with --target: the directory of `ortak init`, for tokens (default\n"
            "                         ortak-data)\n"
            "  --concurrency N        with --target: requests in flight, 1..64 (default 4)\n"
            "  --liquidity-pct P      with --target: every account's funding between its lower (0) and upper\n"
            "                         (100) bound, percent (default 25)\n"
            "\n"
            "Exit codes: 0 done; 2 bad arguments or a malformed trade table; 74 a file cannot be read or\n"
            "written; 1 internal error.\n",
            ortak_sim_default_trade_path() ? ortak_sim_default_trade_path() : "the built-in 2023 figures");
}

struct sim_opts {
    struct ortak_sim_params params;
    struct ortak_sim_options run;
    const char *csv, *trade, *config, *plot;
    bool json;
    const char *target, *dir;
    uint32_t concurrency, level_pct;
};

static bool opt_u64(const char *name, const char *v, uint64_t lo, uint64_t hi, uint64_t *out) {
    if (!v || !ortak_slice_parse_u64(ortak_slice_from_cstr(v), hi, out) || *out < lo) {
        fprintf(stderr, "ortak simulate: %s takes an integer from %llu to %llu\n", name, (unsigned long long)lo,
                (unsigned long long)hi);
        return false;
    }
    return true;
}

/* Returns -1 to go on, or the exit code (--help, a usage error). */
static int sim_parse(int argc, char **argv, struct sim_opts *o) {
    ortak_sim_params_default(&o->params);
    ortak_sim_options_default(&o->run);
    o->run.policies_mask = 0;
    o->trade = ortak_sim_default_trade_path();
    o->concurrency = 4;
    o->level_pct = 25;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t x = 0;
        bool ok = true, takes = true;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            sim_usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(a, "--seed") == 0) {
            ok = opt_u64(a, v, 0, UINT64_MAX, &o->params.seed);
        } else if (strcmp(a, "--banks-per-country") == 0) {
            ok = opt_u64(a, v, 1, ORTAK_SIM_BANKS_PER_COUNTRY_MAX, &x), o->params.banks_per_country = (uint32_t)x;
        } else if (strcmp(a, "--fx-providers") == 0) {
            ok = opt_u64(a, v, 0, ORTAK_SIM_FX_PROVIDERS_MAX, &x), o->params.fx_providers = (uint32_t)x;
        } else if (strcmp(a, "--payments") == 0) {
            ok = opt_u64(a, v, 1, ORTAK_SIM_PAYMENTS_MAX, &x), o->params.payments = (uint32_t)x;
        } else if (strcmp(a, "--domestic-pct") == 0) {
            ok = opt_u64(a, v, 0, 100, &x), o->params.domestic_ppm = (uint32_t)x * 10000u;
        } else if (strcmp(a, "--urgent-pct") == 0) {
            ok = opt_u64(a, v, 0, 100, &x), o->params.urgent_ppm = (uint32_t)x * 10000u;
        } else if (strcmp(a, "--net-pct") == 0) {
            ok = opt_u64(a, v, 0, 100, &x), o->params.net_ppm = (uint32_t)x * 10000u;
        } else if (strcmp(a, "--liquidity-steps") == 0) {
            ok = opt_u64(a, v, 1, 20, &x), o->run.liquidity_steps = (uint32_t)x;
        } else if (strcmp(a, "--policy") == 0) {
            uint32_t p = 0;
            ok = v && ortak_sim_policy_parse(v, &p) == ORTAK_OK;
            if (!ok)
                fprintf(stderr, "ortak simulate: --policy takes rtgs, fifo, bypass or net\n");
            else
                o->run.policies_mask |= 1u << p;
        } else if (strcmp(a, "--csv") == 0 || strcmp(a, "--trade") == 0 || strcmp(a, "--config") == 0) {
            ok = v != NULL;
            if (!ok)
                fprintf(stderr, "ortak simulate: %s takes a file name\n", a);
            else
                *(a[2] == 'c' ? (a[3] == 's' ? &o->csv : &o->config) : &o->trade) = v;
        } else if (strcmp(a, "--plot") == 0) {
            ok = v != NULL;
            if (!ok) fprintf(stderr, "ortak simulate: --plot takes a directory\n");
            o->plot = v;
        } else if (strcmp(a, "--target") == 0 || strcmp(a, "--dir") == 0) {
            ok = v != NULL;
            if (!ok) fprintf(stderr, "ortak simulate: %s takes a value\n", a);
            *(a[2] == 't' ? &o->target : &o->dir) = v;
        } else if (strcmp(a, "--concurrency") == 0) {
            ok = opt_u64(a, v, 1, CLI_SIMTARGET_CONCURRENCY_MAX, &x), o->concurrency = (uint32_t)x;
        } else if (strcmp(a, "--liquidity-pct") == 0) {
            ok = opt_u64(a, v, 0, 100, &x), o->level_pct = (uint32_t)x;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true, takes = false;
        } else {
            fprintf(stderr, "ortak simulate: unknown option '%s'\n", a);
            ok = false;
        }
        if (!ok) {
            sim_usage(stderr);
            return CLI_EXIT_USAGE;
        }
        if (takes) i++;
    }
    if (!o->run.policies_mask) o->run.policies_mask = (1u << ORTAK_SIM_POLICIES) - 1;
    return -1;
}

/* "12345.67" from US cents. */
static const char *usd(uint64_t cents, char buf[32]) {
    snprintf(buf, 32, "%llu.%02llu", (unsigned long long)(cents / 100), (unsigned long long)(cents % 100));
    return buf;
}

static const char *pct(uint32_t ppm, char buf[16]) {
    snprintf(buf, 16, "%u.%02u%%", ppm / 10000, (ppm % 10000) / 100);
    return buf;
}

static uint32_t queue_max(const struct ortak_sim_result *r) {
    uint32_t m = 0;
    for (uint32_t k = 0; k < ORTAK_SIM_SAMPLES; k++)
        if (r->queue_len[k] > m) m = r->queue_len[k];
    return m;
}

static void print_flows(const struct ortak_sim_workload *w) {
    const struct ortak_sim_trade *t = &w->trade;
    uint64_t trade_sum = 0, flow_sum = 0;
    for (uint32_t i = 0; i < t->n; i++)
        for (uint32_t j = 0; j < t->n; j++)
            if (i != j) trade_sum += t->pair_usd_k[i][j], flow_sum += w->usd_cents_total[i][j];
    printf("cross-border flows by pair (both directions): share of trade vs share of simulated value\n");
    for (uint32_t i = 0; i < t->n; i++)
        for (uint32_t j = i + 1; j < t->n; j++) {
            uint64_t tr = t->pair_usd_k[i][j] * 2, fl = w->usd_cents_total[i][j] + w->usd_cents_total[j][i];
            char b1[16], b2[16];
            printf("  %.2s-%.2s %8s %8s%s\n", t->country[i], t->country[j],
                   pct(trade_sum ? (uint32_t)((ortak_u128)tr * 1000000u / trade_sum) : 0, b1),
                   pct(flow_sum ? (uint32_t)((ortak_u128)fl * 1000000u / flow_sum) : 0, b2),
                   t->filled[i][j] ? "  (gap filled)" : "");
        }
}

static void print_text(const struct sim_opts *o, const struct ortak_sim_workload *w, const uint8_t hash[32],
                       const struct ortak_sim_result *r, uint32_t n, uint64_t lower, uint64_t upper, uint64_t gen_us) {
    const struct ortak_sim_trade *t = &w->trade;
    printf("ortak simulate: seed %llu, %u countries, %u banks per country, %u FX providers, %u instructions "
           "(%u legs), generated in %llu ms\nworkload sha256 ",
           (unsigned long long)o->params.seed, t->n, o->params.banks_per_country, o->params.fx_providers,
           o->params.payments, w->payment_count, (unsigned long long)(gen_us / 1000));
    for (int i = 0; i < 32; i++) printf("%02x", hash[i]);
    printf("\ntrade table %s: %u pairs missing, filled; %u partial-year figures used as given.\nrule: %s.\n",
           o->trade ? o->trade : "(built in: the 2023 figures)", t->filled_count, t->partial_count,
           ortak_sim_gap_rule());
    print_flows(w);
    char b1[32], b2[32], b3[16], b4[16];
    printf("liquidity range (sum over settlement accounts, USD equivalent): lower bound %s, upper bound %s\n",
           usd(lower, b1), usd(upper, b2));
    printf("%-7s %5s %16s %16s %8s %9s %9s %10s %10s %6s %8s\n", "policy", "level", "liquidity_usd", "used_usd",
           "settled", "count%", "value%", "delay_ms", "p99_ms", "maxq", "time_ms");
    uint64_t total_us = 0;
    for (uint32_t i = 0; i < n; i++) {
        printf("%-7s %5u %16s %16s %8u %9s %9s %10llu %10llu %6u %8llu\n", ortak_sim_policy_name(r[i].policy),
               r[i].level, usd(r[i].liquidity_usd_cents, b1), usd(r[i].liquidity_used_usd_cents, b2),
               r[i].settled_count, pct(r[i].settled_count_ppm, b3), pct(r[i].settled_value_ppm, b4),
               (unsigned long long)r[i].delay_mean_ms, (unsigned long long)r[i].delay_p99_ms, queue_max(&r[i]),
               (unsigned long long)(r[i].elapsed_us / 1000));
        total_us += r[i].elapsed_us;
    }
    printf("%u runs in %llu ms (each: engine open, setup, day, metrics)\n", n, (unsigned long long)(total_us / 1000));
}

static void print_json(const struct sim_opts *o, const struct ortak_sim_workload *w, const uint8_t hash[32],
                       const struct ortak_sim_result *r, uint32_t n, uint64_t lower, uint64_t upper) {
    printf("{\"seed\":%llu,\"countries\":%u,\"banks_per_country\":%u,\"fx_providers\":%u,\"instructions\":%u,"
           "\"legs\":%u,\"workload_sha256\":\"",
           (unsigned long long)o->params.seed, w->trade.n, o->params.banks_per_country, o->params.fx_providers,
           o->params.payments, w->payment_count);
    for (int i = 0; i < 32; i++) printf("%02x", hash[i]);
    printf("\",\"gaps_filled\":%u,\"gap_rule\":\"%s\",\"liquidity_lower_usd_cents\":%llu,"
           "\"liquidity_upper_usd_cents\":%llu}\n",
           w->trade.filled_count, ortak_sim_gap_rule(), (unsigned long long)lower, (unsigned long long)upper);
    for (uint32_t i = 0; i < n; i++) {
        const struct ortak_sim_result *x = &r[i];
        printf("{\"policy\":\"%s\",\"level\":%u,\"liquidity_usd_cents\":%llu,\"liquidity_used_usd_cents\":%llu,"
               "\"legs\":%u,\"settled\":%u,\"queued\":%u,\"refused\":%u,\"rejected\":%u,\"settled_count_ppm\":%u,"
               "\"settled_usd_cents\":%llu,\"settled_value_ppm\":%u,\"delay_mean_ms\":%llu,\"delay_p99_ms\":%llu,"
               "\"rho_ppm_max\":%u,\"elapsed_us\":%llu,\"queue\":[",
               ortak_sim_policy_name(x->policy), x->level, (unsigned long long)x->liquidity_usd_cents,
               (unsigned long long)x->liquidity_used_usd_cents, x->legs, x->settled_count, x->queued_count,
               x->refused_count, x->rejected_count, x->settled_count_ppm, (unsigned long long)x->settled_usd_cents,
               x->settled_value_ppm, (unsigned long long)x->delay_mean_ms, (unsigned long long)x->delay_p99_ms,
               x->rho_ppm_max, (unsigned long long)x->elapsed_us);
        for (uint32_t k = 0; k < ORTAK_SIM_SAMPLES; k++) printf("%s%u", k ? "," : "", x->queue_len[k]);
        printf("]}\n");
    }
}

/* One row per policy and level; the queue samples as columns q_HHMM (08:00 to 18:00). */
static bool write_csv(const char *path, const struct ortak_sim_result *r, uint32_t n) {
    FILE *f = fopen(path, "w");
    if (!f) return false;
    fprintf(f, "policy,level,liquidity_usd_cents,liquidity_used_usd_cents,legs,settled,queued,refused,rejected,"
               "settled_count_ppm,settled_usd_cents,settled_value_ppm,delay_mean_ms,delay_p99_ms,rho_ppm_max,"
               "elapsed_us");
    for (uint32_t k = 0; k < ORTAK_SIM_SAMPLES; k++) fprintf(f, ",q_%02u%02u", 8 + k / 4, (k % 4) * 15);
    fputc('\n', f);
    for (uint32_t i = 0; i < n; i++) {
        const struct ortak_sim_result *x = &r[i];
        fprintf(f, "%s,%u,%llu,%llu,%u,%u,%u,%u,%u,%u,%llu,%u,%llu,%llu,%u,%llu", ortak_sim_policy_name(x->policy),
                x->level, (unsigned long long)x->liquidity_usd_cents, (unsigned long long)x->liquidity_used_usd_cents,
                x->legs, x->settled_count, x->queued_count, x->refused_count, x->rejected_count, x->settled_count_ppm,
                (unsigned long long)x->settled_usd_cents, x->settled_value_ppm, (unsigned long long)x->delay_mean_ms,
                (unsigned long long)x->delay_p99_ms, x->rho_ppm_max, (unsigned long long)x->elapsed_us);
        for (uint32_t k = 0; k < ORTAK_SIM_SAMPLES; k++) fprintf(f, ",%u", x->queue_len[k]);
        fputc('\n', f);
    }
    bool ok = !ferror(f);
    return fclose(f) == 0 && ok;
}

static uint64_t mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int plot(const char *dir, const struct ortak_sim_workload *w, const struct ortak_sim_result *r, uint32_t n) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "ortak simulate: %s: cannot be created\n", dir);
        return CLI_EXIT_IO;
    }
    if (!ortak__cli_sim_plot(dir, w, r, n)) return CLI_EXIT_IO;
    int rc = ortak__cli_sim_gnuplot(dir);
    if (rc == 0) return CLI_EXIT_OK;
    if (rc < 0)
        fprintf(stderr,
                "ortak simulate: gnuplot cannot be run (scripts/setup installs it); the data and "
                "plots.gp are in %s\n",
                dir);
    else
        fprintf(stderr, "ortak simulate: gnuplot failed (exit %d) on %s/plots.gp\n", rc, dir);
    return CLI_EXIT_INTERNAL;
}

/* --target: the day over HTTP against a running ortakd. */
static int target_run(const struct sim_opts *o, const struct ortak_config *cfg, const struct ortak_sim_workload *w) {
    struct cli_simtarget_cfg c = {.url = strcmp(o->target, "-") == 0 ? NULL : o->target,
                                  .dir = o->dir ? o->dir : "ortak-data",
                                  .cmd = "simulate",
                                  .concurrency = o->concurrency,
                                  .level_pct = o->level_pct};
    static struct cli_simtarget_result r;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return CLI_EXIT_INTERNAL;
    printf("ortak simulate: seed %llu, %u instructions (%u legs) against %s, liquidity at %u%%, %u connections\n",
           (unsigned long long)o->params.seed, o->params.payments, w->payment_count, c.url ? c.url : c.dir,
           o->level_pct, o->concurrency);
    int code = ortak__cli_simtarget_run(cfg, w, &c, &r);
    if (code == CLI_EXIT_OK) ortak__cli_simtarget_print(stdout, w, &r);
    curl_global_cleanup();
    return code;
}

int ortak__cli_simulate(int argc, char **argv) {
    struct sim_opts o;
    memset(&o, 0, sizeof o);
    int code = sim_parse(argc, argv, &o);
    if (code >= 0) return code;
    struct ortak_config cfg;
    if (!ortak__cli_config(o.config, &cfg)) return CLI_EXIT_USAGE;
    static struct ortak_sim_trade trade;
    char err[512];
    ortak_rc rc = ortak_sim_trade_load(&cfg, o.trade, &trade, err, sizeof err);
    if (rc != ORTAK_OK) {
        fprintf(stderr, "ortak simulate: trade table: %s\n", err);
        return rc == ORTAK_IO ? CLI_EXIT_IO : CLI_EXIT_USAGE;
    }
    static struct ortak_sim_workload w;
    uint64_t t0 = mono_us();
    rc = ortak_sim_workload_generate(&cfg, &trade, &o.params, &w);
    if (rc != ORTAK_OK) {
        fprintf(stderr, "ortak simulate: workload: %s\n", ortak_rc_str(rc));
        return rc == ORTAK_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_INTERNAL;
    }
    uint64_t gen_us = mono_us() - t0;
    if (o.target) {
        code = target_run(&o, &cfg, &w);
        ortak_sim_workload_free(&w);
        return code;
    }
    uint8_t hash[32];
    ortak_sim_workload_hash(&w, hash);
    static struct ortak_sim_result results[SIM_RESULTS_MAX];
    uint32_t n = 0;
    uint64_t lower = 0, upper = 0;
    rc = ortak_sim_run(&cfg, &w, &o.run, results, &n, &lower, &upper);
    if (rc != ORTAK_OK) {
        fprintf(stderr, "ortak simulate: %s\n", ortak_rc_str(rc));
        ortak_sim_workload_free(&w);
        return rc == ORTAK_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_INTERNAL;
    }
    if (o.json)
        print_json(&o, &w, hash, results, n, lower, upper);
    else
        print_text(&o, &w, hash, results, n, lower, upper, gen_us);
    code = CLI_EXIT_OK;
    if (o.csv && !write_csv(o.csv, results, n)) {
        fprintf(stderr, "ortak simulate: %s: cannot be written\n", o.csv);
        code = CLI_EXIT_IO;
    }
    if (code == CLI_EXIT_OK && o.plot) code = plot(o.plot, &w, results, n);
    ortak_sim_workload_free(&w);
    return code;
}
