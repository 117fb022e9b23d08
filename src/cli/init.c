/*
 * ortak init and ortak serve: set up a data directory for a demo server on loopback, and run ortakd on it.
 *
 * `ortak init [--dir DIR] [--force]` writes DIR/engine.ini (the default engine configuration), DIR/ortakd.ini
 * (demo mode: plain HTTP on 127.0.0.1:8080 or --port, bearer tokens for the operator, every central bank of the
 * default configuration and, with --sim-banks, the banks and FX providers of the default simulated workload
 * (demo_bic; `ortak demo` asks for them), the server's state in DIR/state, and [screening] lists: the default
 * sanctions lists that exist and DIR/demo-sanctions.csv), DIR/demo-sanctions.csv (a list of made-up names, DEMO, that
 * `ortak demo` pays to show screening) and DIR/README.txt. Invariants: a directory that exists is never written to
 * without --force; every file is written whole to a temporary name, synced and renamed, so a failure leaves either the
 * old file or the new one; files that hold secrets (tokens, the hash seed) are created mode 0600 and the directory
 * 0700; no line of ortakd.ini is longer than ortakd and ortak read (INI_LINE_MAX). Tokens are 32 characters drawn
 * uniformly from [A-Za-z0-9] with getrandom.
 *
 * `ortak serve [--dir DIR]` execs `ortakd --config DIR/ortakd.ini`, found beside the ortak executable, else on
 * PATH. Exit codes (docs/cli.md): 0 done; 2 usage; 73 DIR exists (init without --force); 74 a file cannot be
 * written; 127 ortakd cannot be found or run.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/slice.h"
#include "cli.h"
#include "ortak/config.h"
#include "ortak/screening.h"
#include "ortak/sim.h"

#define CLI_EXIT_EXISTS 73
#define CLI_EXIT_NOEXEC 127
#define TOKEN_LEN 32u
#define INI_TEXT_MAX 16384u
/* The longest line of ortakd.ini, newline included: inih (ortakd's and ortak's INI reader) reads lines of at most
 * 200 bytes with the NUL, and a longer one is a syntax error. */
#define INI_LINE_MAX 198u
#define DEMO_LIST_NAME "demo-sanctions.csv"
#define LISTS_KEY "lists = "
/* DIR's longest absolute path: the longest line that holds it, "lists = DIR/demo-sanctions.csv", fits a line. */
#define DIR_PATH_MAX 160u
_Static_assert(sizeof LISTS_KEY - 1 + DIR_PATH_MAX + 1 + sizeof DEMO_LIST_NAME - 1 + 1 <= INI_LINE_MAX,
               "the [screening] lists line with DIR's longest path fits a line of ortakd.ini");

static const char init_usage_text[] =
    "usage: ortak init [--dir DIR] [--port P] [--sim-banks] [--force]\n"
    "\n"
    "Creates DIR (default ./ortak-data) for a demo server on loopback:\n"
    "  DIR/engine.ini   the engine's configuration (the default one: currencies, limits, settlement)\n"
    "  DIR/ortakd.ini   the server's: listen = 127.0.0.1:8080, demo = yes, tls = no, its state in DIR/state,\n"
    "                   a random bearer token for the operator and every central bank (mode 0600), and the\n"
    "                   sanctions lists it screens with: the default lists that exist and demo-sanctions.csv\n"
    "  DIR/demo-sanctions.csv  a sanctions list of made-up names (DEMO), which `ortak demo` pays to show\n"
    "                   screening\n"
    "  DIR/README.txt   what each file is\n"
    "\n"
    "  --dir DIR   the directory to create (default ortak-data)\n"
    "  --port P    the server's port on 127.0.0.1 (default 8080)\n"
    "  --sim-banks tokens also for the banks and FX providers of the default `ortak simulate` workload\n"
    "              (SMxxCC22, FXxxCC22), for `ortak simulate --target`\n"
    "  --force     write the files even though DIR exists (DIR/state, the server's state, is left alone)\n"
    "\n"
    "Then: ortak serve --dir DIR.\n"
    "Exit codes: 0 done; 2 bad arguments; 73 DIR exists (give --force); 74 a file cannot be written.\n";

static const char serve_usage_text[] =
    "usage: ortak serve [--dir DIR]\n"
    "\n"
    "Runs the server in the foreground: ortakd --config DIR/ortakd.ini (DIR made by ortak init; default\n"
    "ortak-data). ortakd is looked for beside the ortak executable, then on PATH. Stop it with Ctrl-C.\n"
    "\n"
    "Exit codes: those of ortakd (docs/operations.md); 2 bad arguments or no DIR/ortakd.ini; 127 ortakd cannot\n"
    "be found or run.\n";

/* Fills tok[0..TOKEN_LEN) with characters from [A-Za-z0-9], uniformly (bytes >= 248 are drawn again). */
static bool random_token(char tok[TOKEN_LEN + 1]) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char rnd[64];
    size_t n = 0;
    for (int round = 0; round < 16 && n < TOKEN_LEN; round++) { /* 16 rounds of 64 bytes: never short in practice */
        ssize_t got = getrandom(rnd, sizeof rnd, 0);
        if (got != (ssize_t)sizeof rnd) {
            if (got < 0 && errno == EINTR) continue;
            return false;
        }
        for (size_t i = 0; i < sizeof rnd && n < TOKEN_LEN; i++) {
            if (rnd[i] < 248) tok[n++] = alphabet[rnd[i] % 62];
        }
    }
    tok[n] = '\0';
    return n == TOKEN_LEN;
}

/* Writes `text` to DIR/NAME with `mode`, through DIR/.NAME.tmp, synced and renamed. Prints the problem. */
static bool write_file(const char *dir, const char *name, const char *text, mode_t mode) {
    char path[PATH_MAX], tmp[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) goto fail;
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) goto fail_fd;
        off += (size_t)w;
    }
    if (fchmod(fd, mode) != 0 || fsync(fd) != 0) goto fail_fd;
    if (close(fd) != 0) goto fail;
    if (rename(tmp, path) != 0) goto fail;
    return true;
fail_fd:
    close(fd);
fail:
    fprintf(stderr, "ortak init: cannot write %s: %s\n", path, strerror(errno));
    unlink(tmp);
    return false;
}

/* Appends "BIC = token" for `bic` unless it is listed in `seen` already. */
static bool add_token(char *ini, size_t cap, const char *bic, char seen[][12], uint32_t *seen_n) {
    for (uint32_t i = 0; i < *seen_n; i++) {
        if (strcmp(seen[i], bic) == 0) return true;
    }
    char tok[TOKEN_LEN + 1];
    if (!random_token(tok)) {
        fprintf(stderr, "ortak init: getrandom failed: %s\n", strerror(errno));
        return false;
    }
    size_t used = strlen(ini);
    int n = snprintf(ini + used, cap - used, "%s = %s\n", bic, tok);
    if (n < 0 || (size_t)n >= cap - used) return false;
    snprintf(seen[(*seen_n)++], 12, "%s", bic);
    return true;
}

/* The text of ortakd.ini for the absolute directory `dir`. */
/*
 * The BIC of the demo workload's participant k of a kind ("SM" banks, "FX" providers) in country `cc`: the rule of
 * src/sim/workload.c (docs/simulation.md: SMxxCC22, FXxxCC22), so that `ortak simulate --target` and `ortak demo`
 * find a token for every bank and FX provider of the default workload.
 */
static void demo_bic(char out[12], const char *prefix2, uint32_t k, const char *cc) {
    snprintf(out, 12, "%.2s%c%c%.2s22", prefix2, (char)('A' + k / 26), (char)('A' + k % 26), cc);
}

/* Tokens for the banks and FX providers of the default workload (ortak_sim_params_default). */
static bool demo_tokens(char *ini, size_t cap, const struct ortak_config *cfg, char seen[][12], uint32_t *seen_n) {
    struct ortak_sim_params p;
    ortak_sim_params_default(&p);
    char bic[12];
    for (uint32_t c = 0; c < cfg->currency_count; c++) {
        for (uint32_t k = 0; k < p.banks_per_country; k++) {
            demo_bic(bic, "SM", k, cfg->currencies[c].agent_bic + 4);
            if (!add_token(ini, cap, bic, seen, seen_n)) return false;
        }
    }
    for (uint32_t f = 0; f < p.fx_providers && cfg->currency_count > 0; f++) {
        demo_bic(bic, "FX", f, cfg->currencies[f % cfg->currency_count].agent_bic + 4);
        if (!add_token(ini, cap, bic, seen, seen_n)) return false;
    }
    return true;
}

/*
 * The demo's sanctions list, in ortak's CSV (docs/screening.md): made-up names only, so that what it holds is plainly
 * not a real party. `ortak demo` pays to variants of them (demo.c, screen_names).
 */
static const char demo_list_csv[] = "# list: DEMO\n"
                                    "entry_id,name,aliases,date_of_birth,nationality\n"
                                    "DEMO-001,Caspian Shadow Trading LLC,ТОО «Каспиан Шэдоу Трейдинг»,,\n"
                                    "DEMO-002,Boris Ignatyevich Fantomov,Фантомов Борис Игнатьевич,1970-04-01,\n"
                                    "DEMO-003,Golden Steppe Phantom Holdings,,,\n";

/*
 * Appends the [screening] section: lists = the default lists that exist, then DIR/demo-sanctions.csv. A default list
 * whose path would make the line longer than INI_LINE_MAX is left out, and said so (the demo list always fits).
 */
static bool screening_ini(char *ini, size_t cap, const char *dir) {
    const char *paths[ORTAK_SCREEN_LISTS_LIMIT - 1];
    uint32_t n = ortak_screen_default_lists(paths, ORTAK_SCREEN_LISTS_LIMIT - 1);
    char demo[PATH_MAX], line[INI_LINE_MAX + 1];
    snprintf(demo, sizeof demo, "%s/%s", dir, DEMO_LIST_NAME);
    size_t len = (size_t)snprintf(line, sizeof line, "%s", LISTS_KEY);
    for (uint32_t i = 0; i < n; i++) {
        if (len + strlen(paths[i]) + 2 + strlen(demo) + 1 > INI_LINE_MAX) {
            fprintf(stderr, "ortak init: [screening] lists leaves out %s: its path makes the line too long\n",
                    paths[i]);
            continue;
        }
        len += (size_t)snprintf(line + len, sizeof line - len, "%s, ", paths[i]);
    }
    ORTAK_ASSERT(len + strlen(demo) + 1 <= INI_LINE_MAX); /* DIR_PATH_MAX */
    size_t used = strlen(ini);
    int w = snprintf(ini + used, cap - used,
                     "\n"
                     "; Sanctions screening of cross-border payments (docs/screening.md): the reference lists found\n"
                     "; when ortak was built, and demo-sanctions.csv, made-up names that `ortak demo` pays.\n"
                     "[screening]\n"
                     "%s%s\n",
                     line, demo);
    return w > 0 && (size_t)w < cap - used;
}

static bool server_ini(char *ini, size_t cap, const char *dir, unsigned port, bool sim_banks) {
    struct ortak_config cfg;
    ortak_config_default(&cfg);
    int n = snprintf(ini, cap,
                     "; ortakd's configuration, written by `ortak init` (options: docs/operations.md).\n"
                     "; Demo mode: plain HTTP on loopback and bearer tokens; never for production.\n"
                     "[server]\n"
                     "listen = 127.0.0.1:%u\n"
                     "demo = yes\n"
                     "tls = no\n"
                     "data_dir = %s/state\n"
                     "engine_config = %s/engine.ini\n",
                     port, dir, dir);
    if (n < 0 || (size_t)n >= cap || !screening_ini(ini, cap, dir)) return false;
    /* [tokens] last, so that a token added at the end of the file is in it */
    size_t used = strlen(ini);
    n = snprintf(ini + used, cap - used,
                 "\n"
                 "; BIC = token: a client sends `Authorization: Bearer <token>` (ortak pay --as BIC).\n"
                 "; The operator first, then the central bank of every currency of engine.ini (with\n"
                 "; --sim-banks, then the banks and FX providers of `ortak simulate`'s default workload).\n"
                 "[tokens]\n");
    if (n < 0 || (size_t)n >= cap - used) return false;
    static char seen[ORTAK_CURRENCIES_LIMIT * (ORTAK_SIM_BANKS_PER_COUNTRY_MAX + 1) + ORTAK_SIM_FX_PROVIDERS_MAX + 1]
                    [12];
    uint32_t seen_n = 0;
    if (!add_token(ini, cap, ORTAK_OPERATOR_BIC_DEFAULT, seen, &seen_n)) return false;
    for (uint32_t i = 0; i < cfg.currency_count; i++) {
        if (!add_token(ini, cap, cfg.currencies[i].agent_bic, seen, &seen_n)) return false;
    }
    return !sim_banks || demo_tokens(ini, cap, &cfg, seen, &seen_n);
}

static const char readme_fmt[] =
    "This directory was made by `ortak init` for a demo ortak server on loopback.\n"
    "\n"
    "  engine.ini   the engine's configuration: currencies and their central banks, limits, settlement and FX\n"
    "               settings (the text `ortak config` prints; keys in docs/ledger.md). Its hash_seed is private.\n"
    "  ortakd.ini   the server's configuration (docs/operations.md): demo mode, plain HTTP on 127.0.0.1:%u,\n"
    "               the state in %s/state, and in [tokens] the bearer token of the operator and of each\n"
    "               central bank (and of the simulated banks). Keep it secret (mode 0600). [screening] lists\n"
    "               the sanctions lists that cross-border payments are screened against (docs/screening.md).\n"
    "  demo-sanctions.csv  a sanctions list of made-up names (list DEMO, ortak's CSV format): payments to\n"
    "               these names are held for the operator; `ortak demo` sends three.\n"
    "  state/       made by the server at its first start: journal, snapshots, outbox, inbound messages.\n"
    "\n"
    "Start the server:        ortak serve --dir %s\n"
    "Then, in another shell:  ortak accounts --dir %s\n"
    "                         ortak pay --dir %s --as BIC --to BIC --amount 10.00 --currency KZT\n"
    "Every command: docs/cli.md.\n";

static int init_files(const char *abs, bool force, bool existed, unsigned port, bool sim_banks) {
    char *ini = malloc(INI_TEXT_MAX);
    char readme[4096];
    int rc = CLI_EXIT_IO;
    if (!ini) return CLI_EXIT_INTERNAL;
    if (!server_ini(ini, INI_TEXT_MAX, abs, port, sim_banks)) {
        fprintf(stderr, "ortak init: cannot make the server's configuration\n");
        rc = CLI_EXIT_INTERNAL;
        goto done;
    }
    snprintf(readme, sizeof readme, readme_fmt, port, abs, abs, abs, abs);
    if (!write_file(abs, "engine.ini", ortak_config_default_ini(), 0600) ||
        !write_file(abs, DEMO_LIST_NAME, demo_list_csv, 0644) || !write_file(abs, "ortakd.ini", ini, 0600) ||
        !write_file(abs, "README.txt", readme, 0644))
        goto done;
    printf("ortak init: %s %s\n"
           "  engine.ini   the engine's configuration (the default)\n"
           "  ortakd.ini   the server's: demo mode on http://127.0.0.1:%u, tokens for the operator and the\n"
           "               central banks%s (mode 0600), the sanctions lists to screen with\n"
           "  " DEMO_LIST_NAME "  a sanctions list of made-up names (DEMO)\n"
           "  README.txt   what each file is\n"
           "Next: ortak serve --dir %s\n",
           existed && force ? "rewrote the files of" : "created", abs, port,
           sim_banks ? ", and the simulated banks" : "", abs);
    rc = CLI_EXIT_OK;
done:
    free(ini);
    return rc;
}

/* DIR as an absolute path (the current directory before a relative one), without trailing slashes. */
static bool absolute(const char *dir, char *out, size_t cap) {
    char cwd[PATH_MAX];
    int n;
    if (dir[0] == '/') {
        n = snprintf(out, cap, "%s", dir);
    } else {
        if (!getcwd(cwd, sizeof cwd)) return false;
        while (dir[0] == '.' && dir[1] == '/') dir += 2;
        n = snprintf(out, cap, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, dir);
    }
    if (n < 0 || (size_t)n >= cap) {
        errno = ENAMETOOLONG;
        return false;
    }
    while (n > 1 && out[n - 1] == '/') out[--n] = '\0';
    return true;
}

int ortak__cli_init(int argc, char **argv) {
    const char *dir = "ortak-data";
    bool force = false, sim_banks = false;
    uint64_t port = 8080;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(init_usage_text, stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(argv[i], "--force") == 0) {
            force = true;
        } else if (strcmp(argv[i], "--sim-banks") == 0) {
            sim_banks = true;
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc && argv[i + 1][0]) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc &&
                   ortak_slice_parse_u64(ortak_slice_from_cstr(argv[i + 1]), 65535, &port) && port > 0) {
            i++;
        } else {
            fprintf(stderr, "ortak init: unknown or incomplete option '%s'\n\n%s", argv[i], init_usage_text);
            return CLI_EXIT_USAGE;
        }
    }
    return ortak__cli_init_dir(dir, (unsigned)port, force, sim_banks);
}

int ortak__cli_init_dir(const char *dir, unsigned port, bool force, bool sim_banks) {
    bool existed = false;
    if (mkdir(dir, 0700) != 0) {
        struct stat st;
        if (errno != EEXIST) {
            fprintf(stderr, "ortak init: cannot create %s: %s\n", dir, strerror(errno));
            return CLI_EXIT_IO;
        }
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "ortak init: %s exists and is not a directory\n", dir);
            return CLI_EXIT_EXISTS;
        }
        if (!force) {
            fprintf(stderr,
                    "ortak init: %s exists already; give --force to rewrite its configuration files "
                    "(the server's state is kept), or choose another --dir\n",
                    dir);
            return CLI_EXIT_EXISTS;
        }
        existed = true;
    }
    char abs[PATH_MAX];
    if (!absolute(dir, abs, sizeof abs)) {
        fprintf(stderr, "ortak init: %s: cannot make an absolute path: %s\n", dir, strerror(errno));
        return CLI_EXIT_IO;
    }
    if (strlen(abs) > DIR_PATH_MAX) {
        fprintf(stderr, "ortak init: the path %s is longer than %u bytes: choose a shorter --dir\n", abs, DIR_PATH_MAX);
        return CLI_EXIT_USAGE;
    }
    return init_files(abs, force, existed, port, sim_banks);
}

/* Sets `out` to the ortakd beside this executable when there is one; else to "" (use PATH). */
void ortak__cli_ortakd_beside(char *out, size_t cap) {
    char self[PATH_MAX];
    out[0] = '\0';
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash) return;
    slash[1] = '\0';
    int w = snprintf(out, cap, "%sortakd", self);
    if (w < 0 || (size_t)w >= cap || access(out, X_OK) != 0) out[0] = '\0';
}

int ortak__cli_serve(int argc, char **argv) {
    const char *dir = "ortak-data";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(serve_usage_text, stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc && argv[i + 1][0]) {
            dir = argv[++i];
        } else {
            fprintf(stderr, "ortak serve: unknown or incomplete option '%s'\n\n%s", argv[i], serve_usage_text);
            return CLI_EXIT_USAGE;
        }
    }
    char config[PATH_MAX], exe[PATH_MAX];
    int n = snprintf(config, sizeof config, "%s/ortakd.ini", dir);
    if (n < 0 || (size_t)n >= sizeof config) return CLI_EXIT_USAGE;
    if (access(config, R_OK) != 0) {
        fprintf(stderr, "ortak serve: cannot read %s: %s; make it with: ortak init --dir %s\n", config, strerror(errno),
                dir);
        return CLI_EXIT_USAGE;
    }
    ortak__cli_ortakd_beside(exe, sizeof exe);
    fflush(NULL);
    if (exe[0]) {
        execl(exe, "ortakd", "--config", config, (char *)NULL);
        fprintf(stderr, "ortak serve: cannot run %s: %s\n", exe, strerror(errno));
        return CLI_EXIT_NOEXEC;
    }
    execlp("ortakd", "ortakd", "--config", config, (char *)NULL);
    fprintf(stderr,
            "ortak serve: ortakd is neither beside the ortak executable nor on PATH (%s); build it (ninja "
            "ortakd) or add its directory to PATH\n",
            strerror(errno));
    return CLI_EXIT_NOEXEC;
}
