/*
 * The ortak command: shared declarations of its subcommands.
 *
 * Exit codes (docs/cli.md): 0 success; 1 internal error; 2 usage error (also a malformed input file); 3-11 a
 * journal problem (see ortak_journal_problem_exit_code); 74 an I/O error.
 */
#ifndef ORTAK_CLI_H
#define ORTAK_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "ortak/config.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_INTERNAL 1
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_IO 74

/* Loads --config FILE, or the default configuration. Prints the problem and returns false on failure. */
bool ortak__cli_config(const char *path, struct ortak_config *cfg);
/* Whether stdout is a terminal (progress bars) or not (plain progress lines). */
bool ortak__cli_tty(void);

int ortak__cli_journal(int argc, char **argv);
int ortak__cli_lsm(int argc, char **argv);
int ortak__cli_iso(int argc, char **argv);
int ortak__cli_iban(int argc, char **argv);
int ortak__cli_screen(int argc, char **argv); /* screen.c: ortak screen */
int ortak__cli_bench(int argc, char **argv);
int ortak__cli_simulate(int argc, char **argv); /* simulate.c: ortak simulate */
int ortak__cli_init(int argc, char **argv);
int ortak__cli_serve(int argc, char **argv);
int ortak__cli_client(int argc, char **argv);
int ortak__cli_demo(int argc, char **argv);                                          /* demo.c: ortak demo */
int ortak__cli_init_dir(const char *dir, unsigned port, bool force, bool sim_banks); /* init.c: ortak init */
void ortak__cli_ortakd_beside(char *out, size_t cap); /* init.c: the ortakd beside ortak, or "" (use PATH) */

#endif
