/* ortak simulate --plot: the plot data, the gnuplot script, and running gnuplot (sim_plot.c). */
#ifndef ORTAK_CLI_SIM_PLOT_H
#define ORTAK_CLI_SIM_PLOT_H

#include <stdbool.h>

#include "ortak/sim.h"

/* Writes liquidity.dat, queue.dat, flows.dat and plots.gp into `dir` (which must exist). False, with a message
 * on stderr, when a file cannot be written. */
bool ortak__cli_sim_plot(const char *dir, const struct ortak_sim_workload *w, const struct ortak_sim_result *r,
                         uint32_t n);
/* Runs `gnuplot plots.gp` in `dir`: its exit status, or -1 when it cannot be started (not installed). */
int ortak__cli_sim_gnuplot(const char *dir);

#endif
