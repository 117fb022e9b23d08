/*
 * ortak simulate --plot DIR: writes the data of three plots and a gnuplot script into DIR, then runs gnuplot on it
 * to draw each plot as SVG and PNG:
 *
 *   liquidity.{svg,png}  mean settlement delay against the opening liquidity given, one line per policy;
 *   queue.{svg,png}      queued payments over the day at the lowest liquidity level, one line per policy;
 *   flows.{svg,png}      each pair of countries' share of trade and of the simulated cross-border value.
 *
 * The figures are integers turned into decimal text by integer arithmetic; gnuplot only draws them. gnuplot is an
 * optional tool: without it the data and the script stay in DIR and the command says so.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "sim_plot.h"

extern char **environ;

static FILE *open_in(const char *dir, const char *name) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) return NULL;
    return fopen(path, "w");
}

static bool close_ok(FILE *f) {
    bool ok = !ferror(f);
    return fclose(f) == 0 && ok;
}

/* "1234.567" from an integer and a divisor that is a power of ten (1000 here). */
static void put_milli(FILE *f, uint64_t v_milli) {
    fprintf(f, "%llu.%03llu", (unsigned long long)(v_milli / 1000), (unsigned long long)(v_milli % 1000));
}

static bool write_liquidity(const char *dir, const struct ortak_sim_result *r, uint32_t n) {
    FILE *f = open_in(dir, "liquidity.dat");
    if (!f) return false;
    fprintf(f,
            "# policy blocks: liquidity (USD millions), mean delay (minutes), p99 delay (minutes), settled value %%\n");
    for (uint32_t i = 0; i < n; i++) {
        if (i && r[i].policy != r[i - 1].policy) fprintf(f, "\n\n");
        put_milli(f, r[i].liquidity_usd_cents / 100000u); /* cents -> thousands of USD = millions x 1000 */
        fputc(' ', f);
        put_milli(f, r[i].delay_mean_ms / 60u); /* ms -> minutes x 1000 */
        fputc(' ', f);
        put_milli(f, r[i].delay_p99_ms / 60u);
        fputc(' ', f);
        put_milli(f, r[i].settled_value_ppm / 10u);
        fprintf(f, " %s\n", ortak_sim_policy_name(r[i].policy));
    }
    return close_ok(f);
}

static bool write_queue(const char *dir, const struct ortak_sim_result *r, uint32_t n) {
    FILE *f = open_in(dir, "queue.dat");
    if (!f) return false;
    fprintf(f, "# policy blocks (lowest liquidity level): hour of the day, payments queued or in open net windows\n");
    bool first = true;
    for (uint32_t i = 0; i < n; i++) {
        if (r[i].level != 0) continue;
        if (!first) fprintf(f, "\n\n");
        first = false;
        for (uint32_t k = 0; k < ORTAK_SIM_SAMPLES; k++) {
            put_milli(f, 8000u + k * 250u);
            fprintf(f, " %u %s\n", r[i].queue_len[k], ortak_sim_policy_name(r[i].policy));
        }
    }
    return close_ok(f);
}

static bool write_flows(const char *dir, const struct ortak_sim_workload *w) {
    const struct ortak_sim_trade *t = &w->trade;
    uint64_t trade_sum = 0, flow_sum = 0;
    for (uint32_t i = 0; i < t->n; i++)
        for (uint32_t j = 0; j < t->n; j++)
            if (i != j) trade_sum += t->pair_usd_k[i][j], flow_sum += w->usd_cents_total[i][j];
    FILE *f = open_in(dir, "flows.dat");
    if (!f) return false;
    fprintf(f, "# pair, share of trade %%, share of simulated cross-border value %%\n");
    for (uint32_t i = 0; i < t->n; i++)
        for (uint32_t j = i + 1; j < t->n; j++) {
            uint64_t tr = t->pair_usd_k[i][j] * 2, fl = w->usd_cents_total[i][j] + w->usd_cents_total[j][i];
            fprintf(f, "%.2s-%.2s%s ", t->country[i], t->country[j], t->filled[i][j] ? "*" : "");
            put_milli(f, trade_sum ? (uint64_t)((ortak_u128)tr * 100000u / trade_sum) : 0);
            fputc(' ', f);
            put_milli(f, flow_sum ? (uint64_t)((ortak_u128)fl * 100000u / flow_sum) : 0);
            fputc('\n', f);
        }
    return close_ok(f);
}

/* plot 'FILE' index 0 using U title 'rtgs', '' index 1 ...: one block per policy, in the order of the results. */
static void plot_blocks(FILE *f, const char *file, const char *using, const char *style,
                        const struct ortak_sim_result *r, uint32_t n) {
    uint32_t block = 0;
    fprintf(f, "plot");
    for (uint32_t i = 0; i < n; i++) {
        if (i && r[i].policy == r[i - 1].policy) continue;
        fprintf(f, "%s '%s' index %u using %s with %s lw 2 title '%s'", block ? "," : "", block ? "" : file, block,
                using, style, ortak_sim_policy_name(r[i].policy));
        block++;
    }
    fputc('\n', f);
}

static void plots(FILE *f, const char *term, const char *ext, const struct ortak_sim_result *r, uint32_t n) {
    fprintf(f,
            "set terminal %s\n"
            "set output 'liquidity.%s'\n"
            "set title 'Settlement delay against opening liquidity'\n"
            "set xlabel 'opening liquidity, all settlement accounts (USD millions equivalent)'\n"
            "set ylabel 'mean delay (minutes)'\n"
            "set key top right\n",
            term, ext);
    plot_blocks(f, "liquidity.dat", "1:2", "linespoints", r, n);
    fprintf(f,
            "set output 'queue.%s'\n"
            "set title 'Queued payments over the day (lowest liquidity)'\n"
            "set xlabel 'hour'\n"
            "set ylabel 'payments queued or in open net windows'\n"
            "set xrange [8:18]\n",
            ext);
    plot_blocks(f, "queue.dat", "1:2", "steps", r, n);
    fprintf(f,
            "unset xrange\n"
            "set output 'flows.%s'\n"
            "set title 'Cross-border flows: share of trade vs share of simulated value (* = gap filled)'\n"
            "set xlabel ''\n"
            "set ylabel 'percent'\n"
            "set style data histograms\n"
            "set style histogram clustered gap 1\n"
            "set style fill solid 0.8 border -1\n"
            "set xtics rotate by -60\n"
            "plot 'flows.dat' using 2:xtic(1) title 'trade 2023', '' using 3 title 'simulated'\n"
            "set xtics norotate\n"
            "set style data lines\n"
            "set style fill empty\n",
            ext);
}

bool ortak__cli_sim_plot(const char *dir, const struct ortak_sim_workload *w, const struct ortak_sim_result *r,
                         uint32_t n) {
    if (!write_liquidity(dir, r, n) || !write_queue(dir, r, n) || !write_flows(dir, w)) {
        fprintf(stderr, "ortak simulate: %s: the plot data cannot be written\n", dir);
        return false;
    }
    FILE *f = open_in(dir, "plots.gp");
    if (!f) {
        fprintf(stderr, "ortak simulate: %s/plots.gp cannot be written\n", dir);
        return false;
    }
    fprintf(f, "# gnuplot script written by ortak simulate; run it in this directory: gnuplot plots.gp\n");
    plots(f, "svg size 900,600 dynamic", "svg", r, n);
    plots(f, "pngcairo size 900,600", "png", r, n);
    if (!close_ok(f)) {
        fprintf(stderr, "ortak simulate: %s/plots.gp cannot be written\n", dir);
        return false;
    }
    return true;
}

int ortak__cli_sim_gnuplot(const char *dir) {
    /* gnuplot changes into DIR first, so the script names its files relative to it. */
    char cmd[4200];
    if (strchr(dir, '\'') || (size_t)snprintf(cmd, sizeof cmd, "cd '%s'; load 'plots.gp'", dir) >= sizeof cmd)
        return -1;
    char *const argv[] = {"gnuplot", "-e", cmd, NULL};
    pid_t pid = 0;
    if (posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ) != 0) return -1;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}
