/*
 * ortak iso validate: reads ISO 20022 messages from files and says, for each, whether it is valid against its
 * schema and ortak's rules (src/iso20022/), one line per file, or one JSON object per line with --json.
 *
 * Exit codes: 0 every file valid; 1 any invalid (or no memory to read one); 2 a usage error, or a file or schema
 * directory that cannot be read (the other files are still checked).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "ortak/iso20022.h"

static const char usage[] =
    "usage: ortak iso validate [--json] [--schemas DIR] [--registry FILE] FILE...\n"
    "\n"
    "Validates ISO 20022 messages (a Document, or an AppHdr and a Document in any wrapper) against their\n"
    "schemas and ortak's rules (docs/iso20022.md). Prints 'FILE: valid' or 'FILE: invalid: <why>' per file.\n"
    "\n"
    "  --json           one JSON object per file: {\"file\", \"type\", \"valid\", \"errors\"}\n"
    "  --schemas DIR    the directory of the .xsd files (default: the reference data, when present)\n"
    "  --registry FILE  the IBAN registry (default: the reference data, when present)\n"
    "\n"
    "Exit: 0 all valid, 1 any invalid, 2 usage or I/O error.\n";

/* Reads at most max + 1 bytes of a file, so that an oversize message is seen as such. */
static char *slurp(const char *path, size_t max, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    bool failed = !buf || ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        errno = buf ? EIO : ENOMEM;
        return NULL;
    }
    *len = n;
    return buf;
}

static void print_result(const char *file, const struct ortak_iso_msg *m, bool json) {
    uint32_t kept = m->issue_count < ORTAK_ISO_ISSUES_MAX ? m->issue_count : ORTAK_ISO_ISSUES_MAX;
    if (json) {
        json_t *errs = json_array();
        for (uint32_t i = 0; i < kept; i++)
            json_array_append_new(errs, json_pack("{s:s, s:s, s:s}", "rule", m->issues[i].rule, "reason",
                                                  m->issues[i].reason, "text", m->issues[i].text));
        json_t *o = json_pack("{s:s, s:s, s:b, s:o}", "file", file, "type", ortak_iso_type_name(m->type), "valid",
                              m->issue_count == 0, "errors", errs);
        char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        if (s) puts(s);
        free(s);
        json_decref(o);
        return;
    }
    if (m->issue_count == 0) {
        printf("%s: valid\n", file);
        return;
    }
    printf("%s: invalid:", file);
    for (uint32_t i = 0; i < kept; i++)
        printf("%s %s (%s %s)", i ? ";" : "", m->issues[i].text, m->issues[i].rule, m->issues[i].reason);
    if (m->issue_count > kept) printf("; and %u more", m->issue_count - kept);
    putchar('\n');
}

struct opts {
    bool json;
    const char *schemas, *registry;
    int first_file;
};

static int parse_opts(int argc, char **argv, struct opts *o) {
    o->schemas = ortak_iso_default_schema_dir();
    o->registry = ortak_iso_default_iban_registry();
    int i = 2;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            o->json = true;
        } else if (strcmp(argv[i], "--schemas") == 0 && i + 1 < argc) {
            o->schemas = argv[++i];
        } else if (strcmp(argv[i], "--registry") == 0 && i + 1 < argc) {
            o->registry = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        } else {
            fprintf(stderr, "ortak iso validate: unknown or incomplete option '%s'\n\n%s", argv[i], usage);
            return CLI_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "ortak iso validate: name at least one file\n\n%s", usage);
        return CLI_EXIT_USAGE;
    }
    o->first_file = i;
    return -1;
}

static int validate_files(const struct ortak_iso *iso, int argc, char **argv, const struct opts *o) {
    struct ortak_iso_reader *r;
    if (ortak_iso_reader_open(iso, &r) != ORTAK_OK) return CLI_EXIT_INTERNAL;
    static struct ortak_iso_msg m;
    int exit_code = CLI_EXIT_OK;
    for (int i = o->first_file; i < argc; i++) {
        size_t len;
        char *data = slurp(argv[i], ORTAK_ISO_MESSAGE_BYTES_LIMIT, &len);
        if (!data) {
            fprintf(stderr, "ortak iso validate: %s: %s\n", argv[i], strerror(errno));
            exit_code = CLI_EXIT_USAGE;
            continue;
        }
        ortak_rc rc = ortak_iso_read(r, data, len, &m);
        free(data);
        if (rc == ORTAK_NOMEM) {
            fprintf(stderr, "ortak iso validate: %s: out of memory\n", argv[i]);
            exit_code = CLI_EXIT_INTERNAL;
            continue;
        }
        print_result(argv[i], &m, o->json);
        if (m.issue_count && exit_code == CLI_EXIT_OK) exit_code = 1;
    }
    ortak_iso_reader_close(r);
    return exit_code;
}

int ortak__cli_iso(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "validate") != 0) {
        bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
        fputs(usage, help ? stdout : stderr);
        return help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    struct opts o = {0};
    int rc = parse_opts(argc, argv, &o);
    if (rc >= 0) return rc;
    struct ortak_iso_options opt = {.schema_dir = o.schemas, .iban_registry = o.registry};
    struct ortak_iso *iso;
    char why[512];
    if (ortak_iso_open(&opt, &iso, why, sizeof why) != ORTAK_OK) {
        fprintf(stderr, "ortak iso validate: %s\n", why);
        return CLI_EXIT_USAGE;
    }
    if (ortak_iso_schema_count(iso) == 0)
        fprintf(stderr, "ortak iso validate: no schemas loaded: schema validation is off; ortak's own checks run\n");
    rc = validate_files(iso, argc, argv, &o);
    ortak_iso_close(iso);
    return rc;
}
