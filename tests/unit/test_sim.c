/*
 * Unit tests of the simulator (sim.h): the trade table and its gap filling, the workload generator (determinism,
 * flows between countries in proportion to trade, shape), and the policy runs (a hand-checked two-bank gridlock
 * day; a generated day on which plain RTGS settles less than gridlock resolution at the lower bound of liquidity).
 *
 * Usage: test_sim workload|policies TRADE_CSV. The CSV is the shared data's ots_trade_2023.csv; without it the test
 * fails, it does not skip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ortak/ledger.h"
#include "ortak/settle.h"
#include "ortak/sim.h"

static const char *trade_path;

static void load_trade(const struct ortak_config *cfg, struct ortak_sim_trade *t) {
    char err[256];
    ortak_rc rc = ortak_sim_trade_load(cfg, trade_path, t, err, sizeof err);
    if (rc != ORTAK_OK) print_error("%s\n", err);
    assert_int_equal(rc, ORTAK_OK);
}

static uint32_t country(const struct ortak_sim_trade *t, const char *cc) {
    for (uint32_t i = 0; i < t->n; i++)
        if (memcmp(t->country[i], cc, 2) == 0) return i;
    fail_msg("country %s not in the table", cc);
    return 0;
}

static uint64_t pair(const struct ortak_sim_trade *t, const char *a, const char *b) {
    return t->pair_usd_k[country(t, a)][country(t, b)];
}

/* ---- the trade table --------------------------------------------------------------------------------------- */

static void test_trade_table(void **state) {
    (void)state;
    struct ortak_config cfg;
    ortak_config_default(&cfg);
    static struct ortak_sim_trade t;
    load_trade(&cfg, &t);
    assert_int_equal(t.n, 7);
    assert_int_equal(pair(&t, "KZ", "TR"), 6000000); /* 6000 USD millions, in thousands */
    assert_int_equal(pair(&t, "TR", "KZ"), 6000000);
    assert_int_equal(pair(&t, "KZ", "AZ"), 529400);
    assert_int_equal(pair(&t, "KG", "TM"), 63500);
    assert_int_equal(pair(&t, "AZ", "TM"), 710300); /* partial: as given */
    assert_int_equal(t.partial_count, 2);
    /* Five gaps, each the smallest reported figure of either country: AZ's is 376 (UZ), KG's 63.5 (TM), TM's 63.5,
     * UZ's 376 (AZ), HU's 465 (KZ). */
    assert_int_equal(t.filled_count, 5);
    assert_int_equal(pair(&t, "AZ", "KG"), 63500);
    assert_int_equal(pair(&t, "AZ", "HU"), 376000);
    assert_int_equal(pair(&t, "UZ", "HU"), 376000);
    assert_int_equal(pair(&t, "KG", "HU"), 63500);
    assert_int_equal(pair(&t, "TM", "HU"), 63500);
    assert_true(t.filled[country(&t, "AZ")][country(&t, "HU")]);
    assert_false(t.filled[country(&t, "AZ")][country(&t, "TR")]);
    for (uint32_t i = 0; i < t.n; i++) assert_int_equal(t.pair_usd_k[i][i], 0);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* The product's built-in copy of the figures reads exactly as the reference table. */
static void test_trade_builtin(void **state) {
    (void)state;
    struct ortak_config cfg;
    ortak_config_default(&cfg);
    static struct ortak_sim_trade file, builtin;
    char err[256];
    load_trade(&cfg, &file);
    assert_int_equal(ortak_sim_trade_load(&cfg, NULL, &builtin, err, sizeof err), ORTAK_OK);
    assert_memory_equal(file.pair_usd_k, builtin.pair_usd_k, sizeof file.pair_usd_k);
    assert_memory_equal(file.filled, builtin.filled, sizeof file.filled);
    assert_int_equal(file.filled_count, builtin.filled_count);
    assert_int_equal(file.partial_count, builtin.partial_count);
}

static void test_trade_errors(void **state) {
    (void)state;
    struct ortak_config cfg;
    ortak_config_default(&cfg);
    static struct ortak_sim_trade t;
    char err[256];
    assert_int_equal(ortak_sim_trade_load(&cfg, "/nonexistent/trade.csv", &t, err, sizeof err), ORTAK_IO);
    char path[] = "/tmp/ortak_test_sim_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    write_file(path, "# c\ncountry_a,country_b,trade_usd_m,status,note\nKZ,AZ,5x,reported,\"\"\n");
    assert_int_equal(ortak_sim_trade_load(&cfg, path, &t, err, sizeof err), ORTAK_CORRUPT);
    assert_non_null(strstr(err, ":3:"));
    write_file(path, "country_a,country_b,trade_usd_m,status,note\nKZ,AZ,1.2345,reported,\"\"\n");
    assert_int_equal(ortak_sim_trade_load(&cfg, path, &t, err, sizeof err), ORTAK_CORRUPT);
    write_file(path, "country_a,country_b,trade_usd_m,status,note\nKZ,AZ,12,reported,\"\"\n"); /* pairs missing */
    assert_int_equal(ortak_sim_trade_load(&cfg, path, &t, err, sizeof err), ORTAK_CORRUPT);
    assert_non_null(strstr(err, "no line for the pair"));
    remove(path);
}

static int u64_cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- the workload ------------------------------------------------------------------------------------------ */

static void generate(const struct ortak_sim_params *p, struct ortak_sim_workload *w) {
    struct ortak_config cfg;
    ortak_config_default(&cfg);
    static struct ortak_sim_trade t;
    load_trade(&cfg, &t);
    assert_int_equal(ortak_sim_workload_generate(&cfg, &t, p, w), ORTAK_OK);
}

static void test_same_seed_same_workload(void **state) {
    (void)state;
    struct ortak_sim_params p;
    ortak_sim_params_default(&p);
    p.payments = 2000;
    static struct ortak_sim_workload a, b, c;
    generate(&p, &a);
    generate(&p, &b);
    p.seed = 2;
    generate(&p, &c);
    uint8_t ha[32], hb[32], hc[32];
    ortak_sim_workload_hash(&a, ha);
    ortak_sim_workload_hash(&b, hb);
    ortak_sim_workload_hash(&c, hc);
    assert_memory_equal(ha, hb, 32);
    assert_memory_not_equal(ha, hc, 32);
    assert_int_equal(a.payment_count, b.payment_count);
    assert_memory_equal(a.payments, b.payments, a.payment_count * sizeof *a.payments);
    /* The same bytes on every machine: the hash of seed 1, 2000 instructions, the default parameters. */
    char hex[65];
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", ha[i]);
    assert_string_equal(hex, "5577d2c8f131b8336db508a2526b148f055d07bf8d1a5010896938247be3dd34");
    ortak_sim_workload_free(&a);
    ortak_sim_workload_free(&b);
    ortak_sim_workload_free(&c);
}

/*
 * Flows: with no domestic payments, the number of cross-border instructions of each pair (both directions) is
 * binomial with p = the pair's share of trade. Over 20,000 instructions every pair must be within four standard
 * deviations plus 0.1 percentage point of its share: |observed - p| <= 4 sqrt(p (1 - p) / n) + 0.001, checked as
 * (observed - p)^2 <= (bound)^2 in doubles (a statistic, not money). Domestic shares are checked the same way.
 */
static void check_share(uint64_t count, uint64_t n, double p, const char *what) {
    double obs = (double)count / (double)n, sd = 0.0, v = p * (1.0 - p) / (double)n;
    for (int i = 0; i < 60; i++) sd = i ? 0.5 * (sd + v / sd) : (v > 0 ? v : 1e-300); /* sqrt by Newton */
    double bound = 4.0 * sd + 0.001;
    if ((obs - p) * (obs - p) > bound * bound)
        fail_msg("%s: observed share %.5f, expected %.5f +- %.5f", what, obs, p, bound);
}

static void test_flows_follow_trade(void **state) {
    (void)state;
    struct ortak_sim_params p;
    ortak_sim_params_default(&p);
    p.payments = 20000;
    p.domestic_ppm = 0;
    p.seed = 7;
    static struct ortak_sim_workload w;
    generate(&p, &w);
    const struct ortak_sim_trade *t = &w.trade;
    static uint64_t count[ORTAK_SIM_COUNTRIES_MAX][ORTAK_SIM_COUNTRIES_MAX];
    memset(count, 0, sizeof count);
    uint64_t n = 0, trade_sum = 0;
    for (uint32_t i = 0; i < w.payment_count; i++) {
        const struct ortak_sim_payment *x = &w.payments[i];
        assert_true(x->leg == 1 || x->leg == 2);
        if (x->leg != 1) continue;
        uint32_t a = x->from_country < x->to_country ? x->from_country : x->to_country;
        uint32_t b = x->from_country ^ x->to_country ^ a;
        count[a][b]++;
        n++;
    }
    assert_int_equal(n, 20000);
    assert_int_equal(w.payment_count, 40000);
    for (uint32_t i = 0; i < t->n; i++)
        for (uint32_t j = i + 1; j < t->n; j++) trade_sum += t->pair_usd_k[i][j];
    for (uint32_t i = 0; i < t->n; i++)
        for (uint32_t j = i + 1; j < t->n; j++) {
            char what[16];
            snprintf(what, sizeof what, "%.2s-%.2s", t->country[i], t->country[j]);
            check_share(count[i][j], n, (double)t->pair_usd_k[i][j] / (double)trade_sum, what);
        }
    ortak_sim_workload_free(&w);

    /* Only domestic: each country in proportion to its total trade. */
    p.domestic_ppm = 1000000;
    generate(&p, &w);
    uint64_t dom[ORTAK_SIM_COUNTRIES_MAX] = {0}, tot[ORTAK_SIM_COUNTRIES_MAX] = {0};
    for (uint32_t i = 0; i < w.payment_count; i++) {
        assert_int_equal(w.payments[i].leg, 0);
        assert_int_equal(w.payments[i].from_country, w.payments[i].to_country);
        assert_int_equal(w.payments[i].currency, w.payments[i].from_country);
        assert_int_not_equal(w.payments[i].payer, w.payments[i].payee);
        dom[w.payments[i].from_country]++;
    }
    for (uint32_t i = 0; i < t->n; i++)
        for (uint32_t j = 0; j < t->n; j++) tot[i] += t->pair_usd_k[i][j];
    for (uint32_t i = 0; i < t->n; i++)
        check_share(dom[i], w.payment_count, (double)tot[i] / (2.0 * (double)trade_sum), t->country[i]);
    ortak_sim_workload_free(&w);
}

/* Shape: arrival order within the day, both legs of an instruction together, amounts >= 1, shares of urgent and
 * net payments, more arrivals in the peak hours than at the day's ends, a heavy tail of values. */
static void test_workload_shape(void **state) {
    (void)state;
    struct ortak_sim_params p;
    ortak_sim_params_default(&p);
    p.payments = 10000;
    p.net_ppm = 200000;
    static struct ortak_sim_workload w;
    generate(&p, &w);
    assert_int_equal(w.participant_count, 7 + 7 * 5 + 2);
    uint64_t urgent = 0, net = 0, normal = 0, hour[10] = {0}, big = 0;
    for (uint32_t i = 0; i < w.payment_count; i++) {
        const struct ortak_sim_payment *x = &w.payments[i];
        assert_true(x->arrival_ns >= p.day_start_ns && x->arrival_ns < p.day_start_ns + ORTAK_SIM_DAY_NS);
        if (i) assert_true(w.payments[i - 1].arrival_ns <= x->arrival_ns);
        assert_true(x->amount >= 1);
        assert_true(x->payer < w.participant_count && x->payee < w.participant_count && x->payer != x->payee);
        if (x->leg == 2) { /* right after its first leg, same instant, same instruction */
            assert_int_equal(w.payments[i - 1].instruction, x->instruction);
            assert_int_equal(w.payments[i - 1].arrival_ns, x->arrival_ns);
        }
        if (x->leg == 2) continue;
        urgent += x->priority == ORTAK_PRIORITY_URGENT;
        normal += x->priority == ORTAK_PRIORITY_NORMAL;
        net += x->method == ORTAK_METHOD_NET;
        hour[(x->arrival_ns - p.day_start_ns) / (UINT64_C(3600) * ORTAK_NS_PER_S)]++;
    }
    check_share(urgent, 10000, 0.1, "urgent");
    check_share(net, normal, 0.2, "net");
    assert_true(2 * hour[2] > 3 * hour[0] && 2 * hour[7] > 3 * hour[9] && hour[2] > 3 * hour[4]);
    /* Log-normal with sigma 1.5: the largest 1% of instructions carry about a fifth of the value. */
    uint64_t *cents = calloc(10000, sizeof *cents), sum = 0, n = 0;
    assert_non_null(cents);
    for (uint32_t i = 0; i < w.payment_count; i++) {
        const struct ortak_sim_payment *x = &w.payments[i];
        if (x->leg == 2) continue;
        uint64_t rate = ortak_sim_rate_milli(w.trade.currency[x->currency]);
        cents[n] = x->amount * UINT64_C(1000) / rate; /* minor units x 1000 / (units per USD x 1000) x 100 / 100 */
        sum += cents[n++];
    }
    assert_int_equal(n, 10000);
    qsort(cents, n, sizeof *cents, u64_cmp);
    for (uint32_t i = 0; i < 100; i++) big += cents[n - 1 - i];
    assert_true(big * 10 > sum && big * 3 < sum);
    assert_true(sum / n > 2 * cents[n / 2]); /* mean well above the median */
    free(cents);
    ortak_sim_workload_free(&w);
}

/* ---- policies ------------------------------------------------------------------------------------------------ */

#define MIN_NS (UINT64_C(60) * ORTAK_NS_PER_S)

/*
 * A hand-made day in AZN (the configuration cut to AZN and KZT, two banks per country, no FX provider): bank A
 * pays bank B 100.00 at 08:10, B pays A 100.00 at 08:20. Bounds: A's upper bound is 100.00 (its cumulative
 * position after its payment), B's 0 (it receives first); both lower bounds are 0. 100.00 AZN is 5882 US cents
 * at 1.7 AZN per dollar (10000 x 100000 / (1700 x 100), rounded down).
 */
static void hand_day(struct ortak_config *cfg, struct ortak_sim_workload *w) {
    ortak_config_default(cfg);
    cfg->currency_count = 2;
    assert_string_equal(cfg->currencies[0].code, "AZN");
    memset(w, 0, sizeof *w);
    ortak_sim_params_default(&w->params);
    w->params.banks_per_country = 2;
    w->params.fx_providers = 0;
    w->trade.n = 2;
    static struct ortak_sim_participant parts[6];
    static const char *const bics[6] = {"NABZAZ2X", "NBRKKZKX", "SMAAAZ22", "SMABAZ22", "SMAAKZ22", "SMABKZ22"};
    for (uint32_t i = 0; i < 6; i++) {
        memset(&parts[i], 0, sizeof parts[i]);
        snprintf(parts[i].bic, sizeof parts[i].bic, "%s", bics[i]);
        snprintf(parts[i].name, sizeof parts[i].name, "Participant %u", i);
        parts[i].role = i < 2 ? ORTAK_ROLE_CENTRAL_BANK : ORTAK_ROLE_BANK;
        parts[i].country = (uint8_t)(i < 2 ? i : (i - 2) / 2);
    }
    static struct ortak_sim_payment pays[2];
    memset(pays, 0, sizeof pays);
    ortak_time_ns d = w->params.day_start_ns;
    pays[0] = (struct ortak_sim_payment){
        .arrival_ns = d + 10 * MIN_NS, .amount = 10000, .payer = 2, .payee = 3, .priority = ORTAK_PRIORITY_NORMAL};
    pays[1] = (struct ortak_sim_payment){.arrival_ns = d + 20 * MIN_NS,
                                         .amount = 10000,
                                         .payer = 3,
                                         .payee = 2,
                                         .instruction = 1,
                                         .priority = ORTAK_PRIORITY_NORMAL};
    w->participants = parts;
    w->participant_count = 6;
    w->payments = pays;
    w->payment_count = 2;
}

static void expect(const struct ortak_sim_result *r, uint32_t settled, uint32_t refused, uint64_t mean_ms,
                   uint64_t p99_ms, uint64_t used_cents) {
    if (r->settled_count != settled || r->refused_count != refused || r->delay_mean_ms != mean_ms ||
        r->delay_p99_ms != p99_ms || r->liquidity_used_usd_cents != used_cents)
        fail_msg("%s level %u: settled %u refused %u mean %llu p99 %llu used %llu", ortak_sim_policy_name(r->policy),
                 r->level, r->settled_count, r->refused_count, (unsigned long long)r->delay_mean_ms,
                 (unsigned long long)r->delay_p99_ms, (unsigned long long)r->liquidity_used_usd_cents);
}

static void test_hand_day(void **state) {
    (void)state;
    struct ortak_config cfg;
    static struct ortak_sim_workload w;
    hand_day(&cfg, &w);
    struct ortak_sim_options o;
    ortak_sim_options_default(&o);
    o.liquidity_steps = 2;
    struct ortak_sim_result r[ORTAK_SIM_POLICIES * 2];
    uint32_t n = 0;
    uint64_t lower = 1, upper = 0;
    assert_int_equal(ortak_sim_run(&cfg, &w, &o, r, &n, &lower, &upper), ORTAK_OK);
    assert_int_equal(n, 8);
    assert_int_equal(lower, 0);
    assert_int_equal(upper, 5882);
    /* rtgs, no liquidity: gridlock, nothing settles; both wait from 08:20 to the end of the day. */
    assert_int_equal(r[0].policy, ORTAK_SIM_RTGS);
    expect(&r[0], 0, 0, 0, 0, 0);
    assert_int_equal(r[0].queued_count, 2);
    assert_int_equal(r[0].liquidity_usd_cents, 0);
    assert_int_equal(r[0].queue_len[0], 0);
    assert_int_equal(r[0].queue_len[1], 1);
    for (uint32_t k = 2; k < ORTAK_SIM_SAMPLES; k++) assert_int_equal(r[0].queue_len[k], 2);
    /* rtgs at the upper bound: both settle on arrival; A drew its 100.00. */
    expect(&r[1], 2, 0, 0, 0, 5882);
    assert_int_equal(r[1].liquidity_usd_cents, 5882);
    for (uint32_t k = 0; k < ORTAK_SIM_SAMPLES; k++) assert_int_equal(r[1].queue_len[k], 0);
    /* fifo and bypass, no liquidity: B's payment offsets A's queued one on entry at 08:20: delays 10 min and 0. */
    for (uint32_t i = 2; i < 6; i += 2) {
        expect(&r[i], 2, 0, 300000, 600000, 0);
        assert_int_equal(r[i].queue_len[1], 1);
        assert_int_equal(r[i].queue_len[2], 0);
        expect(&r[i + 1], 2, 0, 0, 0, 5882);
    }
    /* net, no liquidity: caps of 0, both refused. At the upper bound A's cap 100.00 takes its payment, B's nets to
     * 0; the window closes at 09:00: delays 50 and 40 minutes; both net positions are 0, nothing moves. */
    expect(&r[6], 0, 2, 0, 0, 0);
    expect(&r[7], 2, 0, 2700000, 3000000, 0);
    assert_int_equal(r[7].queue_len[1], 1);
    assert_int_equal(r[7].queue_len[2], 2);
    assert_int_equal(r[7].queue_len[4], 0);
}

/*
 * A generated day (300 instructions, three banks per country, domestic only, normal payments, so every queue is
 * FIFO) with each account at its lower bound: the liquidity that settles everything with perfect offsetting.
 * Gridlock resolution (fifo, bypass) settles every payment by the end of the day; plain RTGS leaves some in
 * gridlock. At every level RTGS settles no more value than fifo, and at the upper bound all three settle
 * everything on arrival. Two runs give the same figures.
 */
static void test_gridlock_day(void **state) {
    (void)state;
    struct ortak_sim_params p;
    ortak_sim_params_default(&p);
    p.payments = 300;
    p.banks_per_country = 3;
    p.domestic_ppm = 1000000;
    p.urgent_ppm = 0;
    p.seed = 11;
    static struct ortak_sim_workload w;
    generate(&p, &w);
    struct ortak_config cfg;
    ortak_config_default(&cfg);
    struct ortak_sim_options o;
    ortak_sim_options_default(&o);
    o.policies_mask = (1u << ORTAK_SIM_RTGS) | (1u << ORTAK_SIM_FIFO) | (1u << ORTAK_SIM_BYPASS);
    o.liquidity_steps = 3;
    static struct ortak_sim_result r[9], again[9];
    uint32_t n = 0, n2 = 0;
    uint64_t lower = 0, upper = 0, lower2 = 0, upper2 = 0;
    assert_int_equal(ortak_sim_run(&cfg, &w, &o, r, &n, &lower, &upper), ORTAK_OK);
    assert_int_equal(n, 9);
    assert_true(lower < upper);
    const struct ortak_sim_result *rtgs = &r[0], *fifo = &r[3], *bypass = &r[6];
    assert_int_equal(fifo[0].settled_count, w.payment_count);
    assert_int_equal(bypass[0].settled_count, w.payment_count);
    assert_true(rtgs[0].settled_count < w.payment_count);
    assert_true(rtgs[0].settled_usd_cents < fifo[0].settled_usd_cents);
    for (uint32_t k = 0; k < 3; k++) {
        assert_true(rtgs[k].settled_usd_cents <= fifo[k].settled_usd_cents);
        assert_int_equal(rtgs[k].liquidity_usd_cents, fifo[k].liquidity_usd_cents);
        assert_true(rtgs[k].liquidity_used_usd_cents <= rtgs[k].liquidity_usd_cents + 16); /* rounding per currency */
        if (k) assert_true(rtgs[k].settled_count >= rtgs[k - 1].settled_count);
    }
    for (uint32_t i = 0; i < 3; i++) {
        const struct ortak_sim_result *x = &r[i * 3 + 2];
        assert_int_equal(x->settled_count, w.payment_count);
        assert_int_equal(x->delay_p99_ms, 0);
        assert_int_equal(x->settled_value_ppm, 1000000);
    }
    assert_int_equal(ortak_sim_run(&cfg, &w, &o, again, &n2, &lower2, &upper2), ORTAK_OK);
    assert_int_equal(lower, lower2);
    assert_int_equal(upper, upper2);
    for (uint32_t i = 0; i < n; i++) {
        again[i].elapsed_us = r[i].elapsed_us;
        assert_memory_equal(&again[i], &r[i], sizeof r[i]);
    }
    /* Options out of range are refused. */
    o.liquidity_steps = 0;
    assert_int_equal(ortak_sim_run(&cfg, &w, &o, r, &n, &lower, &upper), ORTAK_INVALID);
    ortak_sim_workload_free(&w);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: test_sim workload|policies TRADE_CSV\n");
        return 2;
    }
    trade_path = argv[2];
    FILE *f = fopen(trade_path, "r");
    if (!f) {
        fprintf(stderr, "test_sim: the trade table %s is missing\n", trade_path);
        return 1;
    }
    fclose(f);
    const struct CMUnitTest workload[] = {
        cmocka_unit_test(test_trade_table),        cmocka_unit_test(test_trade_builtin),
        cmocka_unit_test(test_trade_errors),       cmocka_unit_test(test_same_seed_same_workload),
        cmocka_unit_test(test_flows_follow_trade), cmocka_unit_test(test_workload_shape),
    };
    const struct CMUnitTest policies[] = {
        cmocka_unit_test(test_hand_day),
        cmocka_unit_test(test_gridlock_day),
    };
    if (strcmp(argv[1], "workload") == 0) return cmocka_run_group_tests_name("sim_workload", workload, NULL, NULL);
    if (strcmp(argv[1], "policies") == 0) return cmocka_run_group_tests_name("sim_policies", policies, NULL, NULL);
    fprintf(stderr, "test_sim: unknown group '%s'\n", argv[1]);
    return 2;
}
