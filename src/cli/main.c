/* The ortak command: dispatch to subcommands. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
    "usage: ortak <command> [options]\n"
    "\n"
    "commands:\n"
    "  journal verify DIR   check a journal directory end to end (checksums, hash chain, snapshots)\n"
    "  journal dump DIR     print every record (--json for one JSON object per line)\n"
    "  journal replay DIR   rebuild the state from the journal; print the state hash and the replay rate\n"
    "  lsm solve FILE       gridlock resolution: which queued payments can settle together\n"
    "  iso validate FILE... validate ISO 20022 messages against their schemas and ortak's rules\n"
    "  iban check IBAN...   check IBANs: ISO 13616 check digits and the country's format\n"
    "  screen NAME...       screen names against sanctions lists (UN, OFAC, a local list)\n"
    "  bench http --url URL load ortakd with payments; print throughput and latency percentiles\n"
    "  simulate             simulate a business day under settlement policies and liquidity levels\n"
    "  init [--dir DIR]     create a data directory for a demo server on loopback (configuration, tokens)\n"
    "  serve [--dir DIR]    run ortakd on the directory of ortak init, in the foreground\n"
    "  demo [--quick]       init, start ortakd, run a simulated day over HTTP, print and write a report\n"
    "  pay --to BIC ...     submit a payment to a running server\n"
    "  quote --to BIC ...   ask a running server for an FX quote\n"
    "  accounts             list accounts and their balances\n"
    "  statement ID         print an account's statement (--camt053: ISO 20022 camt.053)\n"
    "  config               print the default configuration\n"
    "\n"
    "'ortak <command> --help' tells more. Exit codes are listed in docs/cli.md.\n";

bool ortak__cli_tty(void) { return isatty(STDOUT_FILENO) == 1; }

bool ortak__cli_config(const char *path, struct ortak_config *cfg) {
    if (!path) {
        ortak_config_default(cfg);
        return true;
    }
    char err[512];
    if (ortak_config_load(cfg, path, err, sizeof err) != ORTAK_OK) {
        fprintf(stderr, "ortak: configuration %s: %s\n", path, err);
        return false;
    }
    return true;
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "journal") == 0) return ortak__cli_journal(argc - 1, argv + 1);
    if (strcmp(argv[1], "lsm") == 0) return ortak__cli_lsm(argc - 1, argv + 1);
    if (strcmp(argv[1], "iso") == 0) return ortak__cli_iso(argc - 1, argv + 1);
    if (strcmp(argv[1], "iban") == 0) return ortak__cli_iban(argc - 1, argv + 1);
    if (strcmp(argv[1], "screen") == 0) return ortak__cli_screen(argc - 1, argv + 1);
    if (strcmp(argv[1], "bench") == 0) return ortak__cli_bench(argc - 1, argv + 1);
    if (strcmp(argv[1], "simulate") == 0) return ortak__cli_simulate(argc - 1, argv + 1);
    if (strcmp(argv[1], "init") == 0) return ortak__cli_init(argc - 1, argv + 1);
    if (strcmp(argv[1], "serve") == 0) return ortak__cli_serve(argc - 1, argv + 1);
    if (strcmp(argv[1], "demo") == 0) return ortak__cli_demo(argc - 1, argv + 1);
    if (strcmp(argv[1], "pay") == 0 || strcmp(argv[1], "quote") == 0 || strcmp(argv[1], "accounts") == 0 ||
        strcmp(argv[1], "statement") == 0)
        return ortak__cli_client(argc - 1, argv + 1);
    if (strcmp(argv[1], "config") == 0) {
        fputs(ortak_config_default_ini(), stdout);
        return CLI_EXIT_OK;
    }
    fprintf(stderr, "ortak: unknown command '%s'\n\n%s", argv[1], usage);
    return CLI_EXIT_USAGE;
}
