/*
 * Reading sanctions list files: the UN Consolidated List (XML), OFAC's SDN CSV files, and ortak's own CSV.
 *
 * The format comes from the content: an XML document whose root is CONSOLIDATED_LIST; a first line holding ortak's
 * header (after an optional "# list: NAME" line); or a first record shaped like OFAC's sdn.csv (an entity number,
 * then eleven more fields). Everything is bounded: the file size (ORTAK_SCREEN_FILE_BYTES_LIMIT), each CSV field
 * (CSV_FIELD_BYTES_MAX), the fields of a record, each name, entries and names. A file breaking any rule is refused
 * as a whole with the line (CSV) or the libxml2 message (XML).
 *
 * The XML is parsed by libxml2 without network access, without entity substitution, and a DOCTYPE is refused
 * before parsing, so no DTD is ever read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "screen_int.h"

#define CSV_FIELD_BYTES_MAX 8192u
#define CSV_FIELDS_MAX 16u
#define LOCAL_HEADER "entry_id,name,aliases,date_of_birth,nationality"

ortak_rc screen__read_file(const char *path, char **out, size_t *len, char *err, size_t err_cap) {
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_cap, "%s: %s", path, strerror(errno));
        return ORTAK_IO;
    }
    struct stat st;
    ortak_rc rc = ORTAK_OK;
    char *buf = NULL;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, err_cap, "%s: not a regular file", path);
        rc = ORTAK_IO;
        goto done;
    }
    if ((uint64_t)st.st_size > ORTAK_SCREEN_FILE_BYTES_LIMIT) {
        snprintf(err, err_cap, "%s: larger than the limit of %u bytes", path, ORTAK_SCREEN_FILE_BYTES_LIMIT);
        rc = ORTAK_CORRUPT;
        goto done;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = ORTAK_NOMEM;
        goto done;
    }
    size_t n = fread(buf, 1, (size_t)st.st_size, f);
    if (n != (size_t)st.st_size || ferror(f)) {
        snprintf(err, err_cap, "%s: read error", path);
        rc = ORTAK_IO;
        goto done;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    buf = NULL;
done:
    free(buf);
    fclose(f);
    return rc;
}

/* ---- CSV ------------------------------------------------------------------------------------------------------ */

struct csv {
    const char *p, *end;
    uint32_t line; /* line of the record last read, from 1 */
    uint32_t next_line;
    char buf[CSV_FIELDS_MAX * CSV_FIELD_BYTES_MAX]; /* every field at its longest: the record always fits */
    size_t off[CSV_FIELDS_MAX], len[CSV_FIELDS_MAX];
    uint32_t n;
};

/* Reads one record (RFC 4180 quoting, "" inside quotes; CR before LF ignored). Returns 1 for a record, 0 at the
 * end, -1 for a malformed or oversized record (message in err). Blank lines and a trailing ^Z are skipped. */
static int csv_next(struct csv *c, char *err, size_t err_cap) {
    for (;;) {
        if (c->p >= c->end) return 0;
        const char *q = c->p;
        while (q < c->end && (*q == '\r' || *q == ' ' || *q == '\t' || *q == 0x1a)) q++;
        if (q < c->end && *q != '\n') break;
        c->p = q < c->end ? q + 1 : q;
        c->next_line++;
    }
    c->line = c->next_line;
    c->n = 0;
    size_t o = 0;
    const char *p = c->p;
    for (;;) {
        if (c->n == CSV_FIELDS_MAX) {
            snprintf(err, err_cap, "line %u: more than %u fields", c->line, CSV_FIELDS_MAX);
            return -1;
        }
        c->off[c->n] = o;
        bool quoted = p < c->end && *p == '"';
        if (quoted) p++;
        for (;;) {
            if (p >= c->end) {
                if (quoted) {
                    snprintf(err, err_cap, "line %u: quoted field not closed", c->line);
                    return -1;
                }
                break;
            }
            char ch = *p;
            if (quoted) {
                if (ch == '"' && p + 1 < c->end && p[1] == '"')
                    p++;
                else if (ch == '"') {
                    p++;
                    while (p < c->end && *p == ' ') p++; /* OFAC writes -0- padded: "x" ,"y" */
                    if (p < c->end && *p != ',' && *p != '\n' && *p != '\r') {
                        snprintf(err, err_cap, "line %u: text after a closing quote", c->line);
                        return -1;
                    }
                    quoted = false;
                    continue;
                } else if (ch == '\n')
                    c->next_line++;
            } else if (ch == ',' || ch == '\n')
                break;
            else if (ch == '\r' && (p + 1 >= c->end || p[1] == '\n')) {
                p++;
                continue;
            }
            if (o - c->off[c->n] >= CSV_FIELD_BYTES_MAX || o + 1 >= sizeof c->buf) {
                snprintf(err, err_cap, "line %u: field %u longer than %u bytes", c->line, c->n + 1,
                         CSV_FIELD_BYTES_MAX);
                return -1;
            }
            c->buf[o++] = ch;
            p++;
        }
        c->len[c->n] = o - c->off[c->n];
        c->n++;
        if (p >= c->end || *p == '\n') break;
        p++; /* the comma */
    }
    c->p = p < c->end ? p + 1 : p;
    c->next_line++;
    return 1;
}

/* Field i without surrounding spaces; OFAC's "-0-" (no value) is empty. */
static struct field {
    const char *s;
    size_t n;
} csv_field(const struct csv *c, uint32_t i) {
    struct field f = {"", 0};
    if (i >= c->n) return f;
    f.s = c->buf + c->off[i];
    f.n = c->len[i];
    while (f.n && (f.s[0] == ' ' || f.s[0] == '\t')) f.s++, f.n--;
    while (f.n && (f.s[f.n - 1] == ' ' || f.s[f.n - 1] == '\t')) f.n--;
    if (f.n == 3 && memcmp(f.s, "-0-", 3) == 0) f.n = 0;
    return f;
}

static bool all_digits(const char *s, size_t n) {
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

/* ---- ortak's CSV ---------------------------------------------------------------------------------------------- */

static bool id_ok(const char *s, size_t n) {
    if (n == 0 || n > 23) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
              ch == '-' || ch == '_' || ch == '/'))
            return false;
    }
    return true;
}

/* One record of ortak's CSV (5 fields) into the set. Returns false with the reason in why. */
static bool local_record(struct screen_build *b, uint32_t list, const struct csv *c, char *why, size_t why_cap) {
    if (c->n != 5) {
        snprintf(why, why_cap, "expected 5 fields, found %u", c->n);
        return false;
    }
    struct field id = csv_field(c, 0), name = csv_field(c, 1), al = csv_field(c, 2);
    if (!id_ok(id.s, id.n) || name.n == 0) {
        snprintf(why, why_cap, "entry_id (1 to 23 of A-Z a-z 0-9 . - _ /) and name are required");
        return false;
    }
    uint32_t e = screen__add_entry(b, list, id.s, id.n, why, why_cap);
    bool ok = e != UINT32_MAX && screen__add_name(b, e, name.s, name.n, SCREEN_NAME_PRIMARY, why, why_cap);
    for (size_t i = 0; ok && i < al.n;) { /* aliases separated by ';' */
        size_t j = i;
        while (j < al.n && al.s[j] != ';') j++;
        size_t a = i, z = j;
        while (a < z && al.s[a] == ' ') a++;
        while (z > a && al.s[z - 1] == ' ') z--;
        if (z > a) ok = screen__add_name(b, e, al.s + a, z - a, SCREEN_NAME_ALIAS, why, why_cap);
        i = j + 1;
    }
    if (!ok) return false;
    struct field dob = csv_field(c, 3), nat = csv_field(c, 4);
    screen__entry_dob(b, e, dob.s, dob.n);
    screen__entry_nationality(b, e, nat.s, nat.n);
    return true;
}

/* The optional "# list: NAME" line at *p: sets the list's name and moves *p past it. False when malformed. */
static bool local_list_name(struct ortak_screen_list_info *li, const char **p, const char *end) {
    if (end - *p < 7 || memcmp(*p, "# list:", 7) != 0) return true;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    const char *v = *p + 7, *ve = nl ? nl : end;
    while (v < ve && *v == ' ') v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\r')) ve--;
    size_t n = (size_t)(ve - v);
    bool ok = n > 0 && n < sizeof li->list;
    for (size_t i = 0; ok && i < n; i++)
        ok = (v[i] >= 'A' && v[i] <= 'Z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '_' || v[i] == '-';
    if (!ok) return false;
    memcpy(li->list, v, n);
    li->list[n] = '\0';
    *p = nl ? nl + 1 : end;
    return true;
}

static ortak_rc load_local(struct screen_build *b, uint32_t list, const char *path, const char *buf, size_t len,
                           char *err, size_t err_cap) {
    struct ortak_screen_list_info *li = screen__list(b, list);
    snprintf(li->format, sizeof li->format, "csv");
    snprintf(li->list, sizeof li->list, "LOCAL");
    const char *p = buf, *end = buf + len;
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) p += 3;
    const char *start = p;
    if (!local_list_name(li, &p, end)) {
        snprintf(err, err_cap, "%s: line 1: the list name must be 1 to 7 of A-Z, 0-9, _ and -", path);
        return ORTAK_CORRUPT;
    }
    uint32_t line = p == start ? 1 : 2;
    static const size_t hl = sizeof LOCAL_HEADER - 1;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t first = (size_t)((nl ? nl : end) - p);
    if (first > 0 && p[first - 1] == '\r') first--;
    if (first != hl || memcmp(p, LOCAL_HEADER, hl) != 0) {
        snprintf(err, err_cap, "%s: line %u: the header must be \"%s\"", path, line, LOCAL_HEADER);
        return ORTAK_CORRUPT;
    }
    struct csv *c = malloc(sizeof *c);
    if (!c) return ORTAK_NOMEM;
    c->p = nl ? nl + 1 : end;
    c->end = end;
    c->next_line = line + 1;
    ortak_rc rc = ORTAK_OK;
    char why[200];
    int r = 0;
    while (rc == ORTAK_OK && (r = csv_next(c, why, sizeof why)) == 1)
        if (!local_record(b, list, c, why, sizeof why)) {
            snprintf(err, err_cap, "%s: line %u: %s", path, c->line, why);
            rc = ORTAK_CORRUPT;
        }
    if (r < 0 && rc == ORTAK_OK) {
        snprintf(err, err_cap, "%s: %s", path, why);
        rc = ORTAK_CORRUPT;
    }
    free(c);
    char dup[24];
    if (rc == ORTAK_OK && !screen__ids_unique(b, list, dup, sizeof dup)) {
        snprintf(err, err_cap, "%s: entry_id %s appears twice", path, dup);
        rc = ORTAK_CORRUPT;
    }
    return rc;
}

/* ---- OFAC ----------------------------------------------------------------------------------------------------- */

struct ofac_id {
    uint64_t num;
    uint32_t entry;
};

static int ofac_id_cmp(const void *a, const void *b) {
    const struct ofac_id *x = a, *y = b;
    return x->num < y->num ? -1 : x->num > y->num;
}

static bool parse_num(const char *s, size_t n, uint64_t *out) {
    if (!all_digits(s, n) || n > 18) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v = v * 10 + (uint64_t)(s[i] - '0');
    *out = v;
    return true;
}

/* The value after `tag` in OFAC's remarks up to the next ';' ("DOB 28 Jul 1963;"), or an empty field. */
static struct field remark_value(struct field r, const char *tag) {
    size_t tl = strlen(tag);
    for (size_t i = 0; i + tl <= r.n; i++) {
        if (memcmp(r.s + i, tag, tl) != 0 || (i > 0 && r.s[i - 1] != ' ')) continue;
        size_t j = i + tl;
        while (j < r.n && r.s[j] != ';' && r.s[j] != '.') j++;
        return (struct field){r.s + i + tl, j - i - tl};
    }
    return (struct field){"", 0};
}

/* a.k.a. 'NAME' in the remarks. */
static bool remark_akas(struct screen_build *b, uint32_t e, struct field r, char *why, size_t why_cap) {
    static const char tag[] = "a.k.a. '";
    for (size_t i = 0; i + sizeof tag - 1 <= r.n; i++) {
        if (memcmp(r.s + i, tag, sizeof tag - 1) != 0) continue;
        size_t a = i + sizeof tag - 1, z = a;
        while (z < r.n && r.s[z] != '\'') z++;
        if (z >= r.n) break;
        if (z > a && !screen__add_name(b, e, r.s + a, z - a, SCREEN_NAME_ALIAS, why, why_cap)) return false;
        i = z;
    }
    return true;
}

/* sdn.csv: ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage, GRT, Vess_flag, Vess_owner,
 * Remarks. */
static ortak_rc ofac_sdn(struct screen_build *b, uint32_t list, struct csv *c, const char *path, struct ofac_id **ids,
                         uint32_t *nids, char *err, size_t err_cap) {
    char why[200];
    int r;
    uint32_t cap = 0;
    while ((r = csv_next(c, why, sizeof why)) == 1) {
        struct field num = csv_field(c, 0), name = csv_field(c, 1), rem = csv_field(c, 11);
        uint64_t v;
        if (c->n != 12 || !parse_num(num.s, num.n, &v) || name.n == 0) {
            snprintf(err, err_cap, "%s: line %u: not an OFAC SDN record (12 fields: number, name, ...; found %u)", path,
                     c->line, c->n);
            return ORTAK_CORRUPT;
        }
        uint32_t e = screen__add_entry(b, list, num.s, num.n, why, sizeof why);
        bool ok = e != UINT32_MAX && screen__add_name(b, e, name.s, name.n, SCREEN_NAME_PRIMARY, why, sizeof why) &&
                  remark_akas(b, e, rem, why, sizeof why);
        if (!ok) {
            snprintf(err, err_cap, "%s: line %u: %s", path, c->line, why);
            return ORTAK_CORRUPT;
        }
        struct field dob = remark_value(rem, "DOB "), nat = remark_value(rem, "nationality ");
        screen__entry_dob(b, e, dob.s, dob.n);
        screen__entry_nationality(b, e, nat.s, nat.n);
        if (*nids == cap) {
            uint32_t nc = cap ? cap * 2 : 256;
            struct ofac_id *q = realloc(*ids, nc * sizeof *q);
            if (!q) return ORTAK_NOMEM;
            *ids = q;
            cap = nc;
        }
        (*ids)[(*nids)++] = (struct ofac_id){v, e};
    }
    if (r < 0) {
        snprintf(err, err_cap, "%s: %s", path, why);
        return ORTAK_CORRUPT;
    }
    return ORTAK_OK;
}

/* alt.csv (ent_num, alt_num, alt_type, alt_name, alt_remarks) or add.csv (ent_num, add_num, address, city,
 * country, remarks), beside sdn.csv; missing is fine. Aliases of unknown entities are ignored. */
static ortak_rc ofac_beside(struct screen_build *b, const char *sdn_path, const char *file, bool alt,
                            const struct ofac_id *ids, uint32_t nids, XXH3_state_t *x, char *err, size_t err_cap) {
    char path[4096];
    const char *slash = strrchr(sdn_path, '/');
    int dn = slash ? (int)(slash - sdn_path + 1) : 0;
    if (snprintf(path, sizeof path, "%.*s%s", dn, sdn_path, file) >= (int)sizeof path) return ORTAK_OK;
    struct stat st;
    if (stat(path, &st) != 0) return ORTAK_OK;
    char *buf;
    size_t len;
    ortak_rc rc = screen__read_file(path, &buf, &len, err, err_cap);
    if (rc != ORTAK_OK) return rc;
    XXH3_64bits_update(x, buf, len);
    struct csv *c = malloc(sizeof *c);
    if (!c) {
        free(buf);
        return ORTAK_NOMEM;
    }
    c->p = buf;
    c->end = buf + len;
    c->next_line = 1;
    char why[200];
    int r;
    while ((r = csv_next(c, why, sizeof why)) == 1) {
        struct field num = csv_field(c, 0);
        uint64_t v;
        if (c->n != (alt ? 5u : 6u) || !parse_num(num.s, num.n, &v)) {
            snprintf(err, err_cap, "%s: line %u: expected %u fields beginning with an entity number", path, c->line,
                     alt ? 5u : 6u);
            rc = ORTAK_CORRUPT;
            break;
        }
        struct ofac_id key = {v, 0};
        const struct ofac_id *id = bsearch(&key, ids, nids, sizeof *ids, ofac_id_cmp);
        if (!id || !alt) continue;
        struct field type = csv_field(c, 2), name = csv_field(c, 3);
        enum screen_name_kind kind =
            type.n == 8 && memcmp(type.s, "weak aka", 8) == 0 ? SCREEN_NAME_WEAK_ALIAS : SCREEN_NAME_ALIAS;
        if (name.n && !screen__add_name(b, id->entry, name.s, name.n, kind, why, sizeof why)) {
            snprintf(err, err_cap, "%s: line %u: %s", path, c->line, why);
            rc = ORTAK_CORRUPT;
            break;
        }
    }
    if (r < 0) {
        snprintf(err, err_cap, "%s: %s", path, why);
        rc = ORTAK_CORRUPT;
    }
    free(c);
    free(buf);
    return rc;
}

static ortak_rc load_ofac(struct screen_build *b, uint32_t list, const char *path, const char *buf, size_t len,
                          XXH3_state_t *x, char *err, size_t err_cap) {
    struct ortak_screen_list_info *li = screen__list(b, list);
    snprintf(li->format, sizeof li->format, "ofac");
    snprintf(li->list, sizeof li->list, "OFAC");
    struct csv *c = malloc(sizeof *c);
    struct ofac_id *ids = NULL;
    uint32_t nids = 0;
    if (!c) return ORTAK_NOMEM;
    c->p = buf;
    c->end = buf + len;
    c->next_line = 1;
    ortak_rc rc = ofac_sdn(b, list, c, path, &ids, &nids, err, err_cap);
    free(c);
    if (rc == ORTAK_OK) {
        qsort(ids, nids, sizeof *ids, ofac_id_cmp);
        for (uint32_t i = 1; i < nids && rc == ORTAK_OK; i++)
            if (ids[i].num == ids[i - 1].num) {
                snprintf(err, err_cap, "%s: entity %llu appears twice", path, (unsigned long long)ids[i].num);
                rc = ORTAK_CORRUPT;
            }
    }
    if (rc == ORTAK_OK) rc = ofac_beside(b, path, "alt.csv", true, ids, nids, x, err, err_cap);
    if (rc == ORTAK_OK) rc = ofac_beside(b, path, "add.csv", false, ids, nids, x, err, err_cap);
    free(ids);
    return rc;
}

/* ---- UN XML --------------------------------------------------------------------------------------------------- */

static bool name_is(const xmlNode *n, const char *name) {
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static const xmlNode *child(const xmlNode *n, const char *name) {
    for (const xmlNode *c = n->children; c; c = c->next)
        if (name_is(c, name)) return c;
    return NULL;
}

/* The text of an element, trimmed, into buf (cut to fit); "" when absent. */
static size_t text_of(const xmlNode *n, char *buf, size_t cap) {
    buf[0] = '\0';
    if (!n) return 0;
    xmlChar *t = xmlNodeGetContent(n);
    if (!t) return 0;
    const char *s = (const char *)t;
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == '\t')) len--;
    while (len && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')) s++, len--;
    screen__copy_utf8(buf, cap, s, len);
    xmlFree(t);
    return strlen(buf);
}

static bool un_entry(struct screen_build *b, uint32_t list, const xmlNode *n, bool person, char *why, size_t why_cap) {
    char id[64], v[ORTAK_SCREEN_NAME_BYTES_LIMIT + 2], name[ORTAK_SCREEN_NAME_BYTES_LIMIT + 2];
    if (!text_of(child(n, "REFERENCE_NUMBER"), id, sizeof id) && !text_of(child(n, "DATAID"), id, sizeof id)) {
        snprintf(why, why_cap, "an entry without REFERENCE_NUMBER and DATAID");
        return false;
    }
    static const char *const parts[] = {"FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME"};
    size_t nl = 0;
    for (size_t i = 0; i < 4; i++) {
        size_t k = text_of(child(n, parts[i]), v, sizeof v);
        if (!k) continue;
        if (nl + k + 1 >= sizeof name) {
            snprintf(why, why_cap, "entry %s: the name is longer than %u bytes", id, ORTAK_SCREEN_NAME_BYTES_LIMIT);
            return false;
        }
        if (nl) name[nl++] = ' ';
        memcpy(name + nl, v, k);
        nl += k;
    }
    uint32_t e = screen__add_entry(b, list, id, strlen(id), why, why_cap);
    if (e == UINT32_MAX) return false;
    if (nl && !screen__add_name(b, e, name, nl, SCREEN_NAME_PRIMARY, why, why_cap)) return false;
    size_t k = text_of(child(n, "NAME_ORIGINAL_SCRIPT"), v, sizeof v);
    if (k && !screen__add_name(b, e, v, k, SCREEN_NAME_ALIAS, why, why_cap)) return false;
    const char *alias = person ? "INDIVIDUAL_ALIAS" : "ENTITY_ALIAS";
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (!name_is(c, alias)) continue;
        char q[32];
        k = text_of(child(c, "ALIAS_NAME"), v, sizeof v);
        text_of(child(c, "QUALITY"), q, sizeof q);
        enum screen_name_kind kind = strcmp(q, "Low") == 0 ? SCREEN_NAME_WEAK_ALIAS : SCREEN_NAME_ALIAS;
        if (k && !screen__add_name(b, e, v, k, kind, why, why_cap)) return false;
    }
    const xmlNode *dob = child(n, "INDIVIDUAL_DATE_OF_BIRTH");
    if (dob && (k = text_of(child(dob, "DATE"), v, sizeof v)) == 0) k = text_of(child(dob, "YEAR"), v, sizeof v);
    if (dob && k) screen__entry_dob(b, e, v, k);
    const xmlNode *nat = child(n, "NATIONALITY");
    if (nat && (k = text_of(child(nat, "VALUE"), v, sizeof v)) > 0) screen__entry_nationality(b, e, v, k);
    return true;
}

static ortak_rc load_un(struct screen_build *b, uint32_t list, const char *path, const char *buf, size_t len, char *err,
                        size_t err_cap) {
    struct ortak_screen_list_info *li = screen__list(b, list);
    snprintf(li->format, sizeof li->format, "un-xml");
    snprintf(li->list, sizeof li->list, "UN");
    if (len > INT32_MAX) return ORTAK_CORRUPT;
    xmlParserCtxtPtr ctx = xmlNewParserCtxt();
    if (!ctx) return ORTAK_NOMEM;
    xmlDocPtr doc = xmlCtxtReadMemory(ctx, buf, (int)len, NULL, NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
    ortak_rc rc = ORTAK_OK;
    if (!doc || !ctx->wellFormed) {
        const xmlError *e = xmlCtxtGetLastError(ctx);
        snprintf(err, err_cap, "%s: the XML is not well-formed: line %d: %s", path, e ? e->line : 0,
                 e && e->message ? e->message : "parse error\n");
        size_t el = strlen(err);
        if (el && err[el - 1] == '\n') err[el - 1] = '\0';
        rc = ORTAK_CORRUPT;
        goto done;
    }
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (!root || !name_is(root, "CONSOLIDATED_LIST")) {
        snprintf(err, err_cap, "%s: the root element is not CONSOLIDATED_LIST", path);
        rc = ORTAK_CORRUPT;
        goto done;
    }
    xmlChar *date = xmlGetProp(root, (const xmlChar *)"dateGenerated");
    if (date)
        screen__copy_utf8(li->date_generated, sizeof li->date_generated, (const char *)date,
                          strlen((const char *)date));
    xmlFree(date);
    char why[300];
    for (const xmlNode *g = root->children; g && rc == ORTAK_OK; g = g->next) {
        bool person = name_is(g, "INDIVIDUALS");
        if (!person && !name_is(g, "ENTITIES")) continue;
        for (const xmlNode *n = g->children; n && rc == ORTAK_OK; n = n->next) {
            if (!name_is(n, person ? "INDIVIDUAL" : "ENTITY")) continue;
            if (!un_entry(b, list, n, person, why, sizeof why)) {
                snprintf(err, err_cap, "%s: line %d: %s", path, n->line, why);
                rc = ORTAK_CORRUPT;
            }
        }
    }
    if (rc == ORTAK_OK && li->entries == 0) {
        snprintf(err, err_cap, "%s: no INDIVIDUAL or ENTITY entries", path);
        rc = ORTAK_CORRUPT;
    }
done:
    if (doc) xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctx);
    return rc;
}

/* ---- format recognition --------------------------------------------------------------------------------------- */

static bool has_doctype(const char *buf, size_t len) {
    size_t n = len < 65536 ? len : 65536; /* a DOCTYPE comes before the root element */
    for (size_t i = 0; i + 9 <= n; i++)
        if (buf[i] == '<' && memcmp(buf + i, "<!DOCTYPE", 9) == 0) return true;
    return false;
}

static bool looks_ofac(const char *buf, size_t len) {
    struct csv *c = malloc(sizeof *c);
    if (!c) return false;
    c->p = buf;
    c->end = buf + len;
    c->next_line = 1;
    char why[100];
    bool ok = csv_next(c, why, sizeof why) == 1 && c->n == 12 && all_digits(c->buf + c->off[0], c->len[0]);
    free(c);
    return ok;
}

ortak_rc screen__load_file(struct screen_build *b, uint32_t list, const char *path, uint64_t *digest, char *err,
                           size_t err_cap) {
    char *buf = NULL;
    size_t len = 0;
    ortak_rc rc = screen__read_file(path, &buf, &len, err, err_cap);
    if (rc != ORTAK_OK) return rc;
    XXH3_state_t *x = XXH3_createState();
    if (!x) {
        free(buf);
        return ORTAK_NOMEM;
    }
    XXH3_64bits_reset(x);
    XXH3_64bits_update(x, buf, len);
    const char *p = buf;
    size_t n = len;
    if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) p += 3, n -= 3;
    while (n && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++, n--;
    if (n && *p == '<') {
        if (has_doctype(p, n)) {
            snprintf(err, err_cap, "%s: an XML list must not have a DOCTYPE", path);
            rc = ORTAK_CORRUPT;
        } else {
            rc = load_un(b, list, path, buf, len, err, err_cap);
        }
    } else if ((n >= 7 && memcmp(p, "# list:", 7) == 0) ||
               (n >= sizeof LOCAL_HEADER - 1 && memcmp(p, LOCAL_HEADER, sizeof LOCAL_HEADER - 1) == 0)) {
        rc = load_local(b, list, path, buf, len, err, err_cap);
    } else if (looks_ofac(p, n)) {
        rc = load_ofac(b, list, path, p, n, x, err, err_cap);
    } else {
        snprintf(err, err_cap,
                 "%s: unknown list format (expected the UN XML list, OFAC's sdn.csv, or a CSV with the header "
                 "\"%s\")",
                 path, LOCAL_HEADER);
        rc = ORTAK_CORRUPT;
    }
    *digest = XXH3_64bits_digest(x);
    XXH3_freeState(x);
    free(buf);
    return rc;
}
