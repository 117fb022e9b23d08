/*
 * ortak iban check: checks IBANs given on the command line (ISO 13616: characters, check digits, and the
 * country's length and structure from the IBAN registry; src/iso20022/iban.c) and prints one line for each, in
 * the order given: "IBAN: valid" or "IBAN: invalid: why", or with --json one JSON object per line.
 *
 * The registry is --registry FILE, or the default one beside the source tree when there is one; without any
 * (or with --registry ""), the built-in table of IBAN lengths is used. Exit codes: 0 when every IBAN is valid, 1
 * when one or more is not, 2 for bad arguments or a malformed registry, 74 when the registry cannot be read or
 * stdout cannot be written.
 *
 * The IBANs are the user's own arguments and are printed as given; in JSON they are escaped, and bytes that are
 * not UTF-8 become U+FFFD, so that every line is valid JSON whatever the arguments hold.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ortak/iso20022.h"

#define CLI_IBAN_EXIT_INVALID 1
#define WHY_BYTES 256u

static void iban_usage(FILE *f) {
    const char *reg = ortak_iso_default_iban_registry();
    fprintf(f,
            "usage: ortak iban check [--json] [--registry FILE] IBAN...\n"
            "\n"
            "Checks each IBAN (ISO 13616) in its electronic form -- uppercase letters and digits, no spaces: its\n"
            "characters, its length, its check digits (ISO 7064 MOD 97-10) and, for a country in the IBAN\n"
            "registry, the country's length and structure. Prints one line per IBAN, in the order given:\n"
            "\"IBAN: valid\" or \"IBAN: invalid: why\".\n"
            "\n"
            "  --json           print one JSON object per line instead:\n"
            "                   {\"iban\": \"...\", \"valid\": true|false, \"errors\": [\"why\", ...]}\n"
            "  --registry FILE  the IBAN registry (pipe-separated, docs/iso20022.md); default: %s.\n"
            "                   --registry \"\" uses only the built-in IBAN lengths\n"
            "\n"
            "Exit codes: 0 every IBAN is valid; 1 one or more is invalid; 2 bad arguments or a malformed registry;\n"
            "74 the registry cannot be read.\n",
            reg ? reg : "none found, so the built-in IBAN lengths");
}

/* ---- JSON out ------------------------------------------------------------------------------------------------- */

/* The length of the well-formed UTF-8 sequence that starts at `s` (NUL-terminated), or 0 when none does. */
static size_t utf8_len(const unsigned char *s) {
    unsigned c = s[0], cp, min;
    size_t n;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1fu;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0fu;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07u;
        min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) { /* a NUL stops this: it is no continuation byte */
        if ((s[i] & 0xc0u) != 0x80u) return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

/* Writes `s` to `f` as a JSON string. */
static void put_string(FILE *f, const char *s) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    putc('"', f);
    while (*p) {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            putc('\\', f);
            putc((int)c, f);
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
            p++;
        } else {
            size_t n = utf8_len(p);
            if (n == 0) {
                fputs("\\ufffd", f);
                n = 1;
            } else {
                fwrite(p, 1, n, f);
            }
            p += n;
        }
    }
    putc('"', f);
}

/* ---- the command ---------------------------------------------------------------------------------------------- */

struct iban_opts {
    bool json;
    bool registry_set;
    const char *registry;
    char **ibans; /* pointers into argv */
    int count;
};

/* Parses the arguments after "check": options anywhere, "--" ends them. Returns CLI_EXIT_OK, or CLI_EXIT_USAGE
 * having said why; -1 after --help. `ibans` has room for argc pointers. */
static int parse_args(int argc, char **argv, struct iban_opts *o) {
    bool options = true;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!options || a[0] != '-') {
            o->ibans[o->count++] = argv[i];
        } else if (strcmp(a, "--") == 0) {
            options = false;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            return -1;
        } else if (strcmp(a, "--registry") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "ortak iban: --registry needs a FILE\n");
                return CLI_EXIT_USAGE;
            }
            o->registry = argv[++i];
            o->registry_set = true;
        } else if (strncmp(a, "--registry=", 11) == 0) {
            o->registry = a + 11;
            o->registry_set = true;
        } else {
            fprintf(stderr, "ortak iban: unknown option %s\n", a);
            return CLI_EXIT_USAGE;
        }
    }
    if (o->count == 0) {
        fprintf(stderr, "ortak iban: no IBAN given\n");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* Opens the registry (none: *iso stays NULL). Returns a CLI exit code, having said why when it is not OK. */
static int open_registry(const struct iban_opts *o, struct ortak_iso **iso) {
    const char *path = o->registry_set ? o->registry : ortak_iso_default_iban_registry();
    *iso = NULL;
    if (!path || !path[0]) return CLI_EXIT_OK;
    struct ortak_iso_options opt = {.schema_dir = "", .iban_registry = path};
    char why[WHY_BYTES] = "";
    ortak_rc rc = ortak_iso_open(&opt, iso, why, sizeof why);
    if (rc == ORTAK_OK) return CLI_EXIT_OK;
    fprintf(stderr, "ortak iban: %s\n", why[0] ? why : ortak_rc_str(rc));
    if (rc == ORTAK_IO) return CLI_EXIT_IO;
    if (rc == ORTAK_CONFIG_INVALID) return CLI_EXIT_USAGE;
    return CLI_EXIT_INTERNAL;
}

/* Checks and prints one IBAN. Returns whether it is valid. */
static bool check_one(const struct ortak_iso *iso, const char *iban, bool json) {
    char why[WHY_BYTES];
    bool valid = ortak_iso_iban_check(iso, iban, why, sizeof why) == ORTAK_OK;
    if (!json) {
        if (valid)
            printf("%s: valid\n", iban);
        else
            printf("%s: invalid: %s\n", iban, why);
        return valid;
    }
    fputs("{\"iban\": ", stdout);
    put_string(stdout, iban);
    fputs(valid ? ", \"valid\": true, \"errors\": []}\n" : ", \"valid\": false, \"errors\": [", stdout);
    if (!valid) {
        put_string(stdout, why);
        fputs("]}\n", stdout);
    }
    return valid;
}

int ortak__cli_iban(int argc, char **argv) {
    if (argc < 2) {
        iban_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        iban_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "check") != 0) {
        fprintf(stderr, "ortak iban: unknown subcommand %s\n", argv[1]);
        iban_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    struct iban_opts o = {.ibans = calloc((size_t)argc, sizeof(char *))};
    struct ortak_iso *iso = NULL;
    if (!o.ibans) {
        fprintf(stderr, "ortak iban: out of memory\n");
        return CLI_EXIT_INTERNAL;
    }
    int code = parse_args(argc, argv, &o);
    if (code == -1) {
        iban_usage(stdout);
        code = CLI_EXIT_OK;
        goto done;
    }
    if (code != CLI_EXIT_OK) {
        iban_usage(stderr);
        goto done;
    }
    code = open_registry(&o, &iso);
    if (code != CLI_EXIT_OK) goto done;
    bool all_valid = true;
    for (int i = 0; i < o.count; i++)
        if (!check_one(iso, o.ibans[i], o.json)) all_valid = false;
    code = all_valid ? CLI_EXIT_OK : CLI_IBAN_EXIT_INVALID;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "ortak iban: cannot write the results\n");
        code = CLI_EXIT_IO;
    }
done:
    ortak_iso_close(iso);
    free(o.ibans);
    return code;
}
