/*
 * Screening sets: building (entries, names, token keys), the index, and matching a name against a set.
 *
 * The index maps the hash of every token's key and transliterated form, and of each of them with one character
 * deleted (from three characters), to the names that hold it. Two tokens within one edit of each other share one of
 * these (a deletion neighbourhood), so the lookup of a query token finds every name with an equal or one-edit-away
 * token without comparing the query with every name. Initials and minor words (company forms, patronymic markers)
 * are not indexed.
 *
 * Score of a query Q against a name N (both token lists): tokens are paired greedily by similarity (equal keys 1;
 * keys or transliterated tokens one or two edits apart 1 - 0.6 * edits / longer length, one edit from three
 * characters, two from eight; an initial against a token beginning with it 0.85), each token used once. With token
 * weights w (normalise.c), the coverage of the query cq = sum(w_q * sim) / sum(w_q) and of the name
 * cn = sum(w_n * sim) / sum(w_n); the score is 0.6 * cq + 0.4 * cn (0.9 times that for weak aliases). A name cannot
 * score more than 0.6 * (found + unindexed) / sum(w_q) + 0.4 * min(1, 8 * tokens / sum(w_n)), where found is the
 * weight of the query tokens that reached it through the index, unindexed that of the query tokens that looked
 * nothing up, and tokens the number of both (each query token covers one name token, of weight 8 at most): names
 * below the threshold by that bound are not scored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "screen_int.h"

#define SIM_INITIAL 8500u
#define SCORE_Q 6000u /* weight of the query's coverage, /10000 */
#define SCORE_N 4000u
#define WEAK_ALIAS_FACTOR 9000u
#define CANDIDATE_HITS_MAX 256u
/* A query token whose index entries hold more names than this is frequent ("al", "mohammed"): names are found
 * through the query's other tokens, and the frequent token counts in every candidate's bound. */
#define FREQUENT_POSTINGS 200u
/* Index slots looked up for one query token: its key and transliteration and their one-deletion variants. */
#define TOKEN_SLOTS_MAX (2u * (SCREEN_KEY_BYTES_MAX + 1u))

struct screen_build {
    struct ortak_screen_set *s;
    struct ortak_screener *t;
};

/* ---- growing arrays (building only) --------------------------------------------------------------------------- */

static bool grow(void **p, uint32_t *cap, uint32_t need, size_t size) {
    if (need <= *cap) return true;
    uint32_t n = *cap ? *cap : 64;
    while (n < need) n *= 2;
    void *q = realloc(*p, (size_t)n * size);
    if (!q) return false;
    *p = q;
    *cap = n;
    return true;
}

static uint32_t text_add(char **buf, size_t *len, size_t *cap, const char *s, size_t n) {
    if (*len + n + 1 > UINT32_MAX) return UINT32_MAX;
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *len + n + 1) c *= 2;
        char *q = realloc(*buf, c);
        if (!q) return UINT32_MAX;
        *buf = q;
        *cap = c;
    }
    uint32_t off = (uint32_t)*len;
    memcpy(*buf + off, s, n);
    (*buf)[off + n] = '\0';
    *len += n + 1;
    return off;
}

void screen__copy_utf8(char *dst, size_t cap, const char *src, size_t len) {
    if (cap == 0) return;
    if (len > cap - 1) {
        len = cap - 1;
        while (len > 0 && ((unsigned char)src[len] & 0xc0u) == 0x80u) len--; /* src[len] is not a continuation */
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

struct ortak_screen_list_info *screen__list(struct screen_build *b, uint32_t list) {
    return &b->s->lists[list];
}

uint32_t screen__add_entry(struct screen_build *b, uint32_t list, const char *id, size_t id_len, char *err,
                           size_t err_cap) {
    struct ortak_screen_set *s = b->s;
    if (s->nentries >= ORTAK_SCREEN_ENTRIES_LIMIT) {
        snprintf(err, err_cap, "more than %u entries", ORTAK_SCREEN_ENTRIES_LIMIT);
        return UINT32_MAX;
    }
    if (id_len == 0 || id_len >= sizeof s->entries[0].id) {
        snprintf(err, err_cap, "entry id is empty or longer than %zu bytes", sizeof s->entries[0].id - 1);
        return UINT32_MAX;
    }
    if (!grow((void **)&s->entries, &s->entries_cap, s->nentries + 1, sizeof *s->entries)) {
        snprintf(err, err_cap, "out of memory");
        return UINT32_MAX;
    }
    struct screen_entry *e = &s->entries[s->nentries];
    memset(e, 0, sizeof *e);
    e->list = list;
    e->display = UINT32_MAX;
    memcpy(e->id, id, id_len);
    s->lists[list].entries++;
    return s->nentries++;
}

void screen__entry_dob(struct screen_build *b, uint32_t entry, const char *s, size_t len) {
    struct screen_entry *e = &b->s->entries[entry];
    if (!e->dob[0]) screen__copy_utf8(e->dob, sizeof e->dob, s, len);
}

void screen__entry_nationality(struct screen_build *b, uint32_t entry, const char *s, size_t len) {
    struct screen_entry *e = &b->s->entries[entry];
    if (!e->nationality[0]) screen__copy_utf8(e->nationality, sizeof e->nationality, s, len);
}

bool screen__add_name(struct screen_build *b, uint32_t entry, const char *utf8, size_t len, enum screen_name_kind kind,
                      char *err, size_t err_cap) {
    struct ortak_screen_set *s = b->s;
    if (len > ORTAK_SCREEN_NAME_BYTES_LIMIT) {
        snprintf(err, err_cap, "entry %s: a name is longer than %u bytes", s->entries[entry].id,
                 ORTAK_SCREEN_NAME_BYTES_LIMIT);
        return false;
    }
    struct screen_toks tk;
    screen__tokens(b->t, utf8, len, true, &tk);
    if (tk.n == 0) return true;
    if (s->nnames >= ORTAK_SCREEN_NAMES_LIMIT) {
        snprintf(err, err_cap, "more than %u names", ORTAK_SCREEN_NAMES_LIMIT);
        return false;
    }
    if (!grow((void **)&s->names, &s->names_cap, s->nnames + 1, sizeof *s->names) ||
        !grow((void **)&s->toks, &s->toks_cap, s->ntoks + tk.n, sizeof *s->toks))
        goto nomem;
    struct screen_name *nm = &s->names[s->nnames];
    nm->entry = entry;
    nm->display = text_add(&s->text, &s->text_len, &s->text_cap, utf8, len);
    if (nm->display == UINT32_MAX) goto nomem;
    if (s->entries[entry].display == UINT32_MAX) s->entries[entry].display = nm->display;
    nm->tok = s->ntoks;
    nm->ntok = (uint8_t)tk.n;
    nm->kind = (uint8_t)kind;
    nm->weight = 0;
    for (uint32_t i = 0; i < tk.n; i++) {
        struct screen_ntok *t = &s->toks[s->ntoks + i];
        t->key = text_add(&s->keys, &s->keys_len, &s->keys_cap, tk.t[i].key, tk.t[i].len);
        t->raw = text_add(&s->keys, &s->keys_len, &s->keys_cap, tk.t[i].raw, tk.t[i].rawlen);
        if (t->key == UINT32_MAX || t->raw == UINT32_MAX) goto nomem;
        t->len = tk.t[i].len;
        t->rawlen = tk.t[i].rawlen;
        t->initial = tk.t[i].initial;
        t->minor = tk.t[i].minor;
        t->first = tk.t[i].first;
        t->weight = tk.t[i].weight;
        t->kmask = tk.t[i].kmask;
        t->rmask = tk.t[i].rmask;
        nm->weight = (uint16_t)(nm->weight + t->weight);
    }
    s->ntoks += tk.n;
    s->nnames++;
    s->lists[s->entries[entry].list].names++;
    return true;
nomem:
    snprintf(err, err_cap, "out of memory");
    return false;
}

static int id_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

bool screen__ids_unique(struct screen_build *b, uint32_t list, char *dup, size_t dup_cap) {
    const struct ortak_screen_set *s = b->s;
    const char **ids = malloc((s->nentries ? s->nentries : 1) * sizeof *ids);
    if (!ids) return true; /* only a check: without memory for it, nothing is refused */
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->nentries; i++)
        if (s->entries[i].list == list) ids[n++] = s->entries[i].id;
    qsort(ids, n, sizeof *ids, id_cmp);
    bool ok = true;
    for (uint32_t i = 1; i < n && ok; i++)
        if (strcmp(ids[i], ids[i - 1]) == 0) {
            screen__copy_utf8(dup, dup_cap, ids[i], strlen(ids[i]));
            ok = false;
        }
    free(ids);
    return ok;
}

/* ---- the index ------------------------------------------------------------------------------------------------ */

static uint64_t key_hash(const char *k, size_t n) {
    uint64_t h = XXH3_64bits(k, n);
    return h ? h : 1;
}

/* The hashes of a key and, from three symbols, of each key with one symbol deleted (a deletion that gives the same
 * string as the one before it is skipped). Writes at most n + 1 hashes; returns how many. */
static uint32_t variants(const char *key, size_t n, uint64_t *out) {
    uint32_t k = 0;
    out[k++] = key_hash(key, n);
    if (n < 3) return k;
    char v[SCREEN_KEY_BYTES_MAX + 1];
    for (size_t d = 0; d < n; d++) {
        if (d > 0 && key[d] == key[d - 1]) continue;
        memcpy(v, key, d);
        memcpy(v + d, key + d + 1, n - d - 1);
        out[k++] = key_hash(v, n - 1);
    }
    return k;
}

struct pair {
    uint64_t hash;
    uint32_t name;
};

static int pair_cmp(const void *a, const void *b) {
    const struct pair *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    return x->name < y->name ? -1 : x->name > y->name;
}

static const struct screen_slot *slot_find(const struct ortak_screen_set *s, uint64_t h) {
    for (uint32_t i = (uint32_t)h & s->slots_mask, probes = 0; probes <= s->slots_mask; i = (i + 1) & s->slots_mask) {
        if (s->slots[i].hash == h) return &s->slots[i];
        if (s->slots[i].hash == 0) return NULL;
        probes++;
    }
    return NULL;
}

static ortak_rc index_build(struct ortak_screen_set *s) {
    size_t npairs = 0, cap = 0;
    for (uint32_t i = 0; i < s->ntoks; i++)
        cap += screen__tok_indexed(s->toks[i].initial, s->toks[i].minor)
                   ? (size_t)s->toks[i].len + 1 + (size_t)s->toks[i].rawlen + 1
                   : 0;
    struct pair *p = malloc((cap ? cap : 1) * sizeof *p);
    if (!p) return ORTAK_NOMEM;
    for (uint32_t n = 0; n < s->nnames; n++) {
        for (uint32_t k = 0; k < s->names[n].ntok; k++) {
            const struct screen_ntok *t = &s->toks[s->names[n].tok + k];
            if (!screen__tok_indexed(t->initial, t->minor)) continue;
            const char *key = s->keys + t->key, *raw = s->keys + t->raw;
            uint64_t h[2 * (SCREEN_KEY_BYTES_MAX + 1)];
            uint32_t nh = variants(key, t->len, h);
            if (t->rawlen != t->len || memcmp(key, raw, t->len) != 0) nh += variants(raw, t->rawlen, h + nh);
            for (uint32_t i = 0; i < nh; i++) p[npairs++] = (struct pair){h[i], n};
        }
    }
    qsort(p, npairs, sizeof *p, pair_cmp);
    size_t u = 0, distinct = 0;
    for (size_t i = 0; i < npairs; i++) {
        if (u > 0 && p[u - 1].hash == p[i].hash && p[u - 1].name == p[i].name) continue;
        if (u == 0 || p[u - 1].hash != p[i].hash) distinct++;
        p[u++] = p[i];
    }
    uint32_t nslots = 16;
    while (nslots < 2 * distinct) nslots *= 2;
    s->slots = calloc(nslots, sizeof *s->slots);
    s->post = malloc((u ? u : 1) * sizeof *s->post);
    if (!s->slots || !s->post) {
        free(p);
        return ORTAK_NOMEM;
    }
    s->slots_mask = nslots - 1;
    for (size_t i = 0; i < u;) {
        size_t j = i;
        while (j < u && p[j].hash == p[i].hash) s->post[j] = p[j].name, j++;
        uint32_t at = (uint32_t)p[i].hash & s->slots_mask;
        while (s->slots[at].hash != 0) at = (at + 1) & s->slots_mask;
        s->slots[at] = (struct screen_slot){p[i].hash, (uint32_t)i, (uint32_t)(j - i)};
        i = j;
    }
    s->npost = (uint32_t)u;
    free(p);
    return ORTAK_OK;
}

/* ---- loading -------------------------------------------------------------------------------------------------- */

ortak_rc ortak_screen_set_load(const char *const *paths, uint32_t n, const char *translit_dir,
                               struct ortak_screen_set **out, char *err, size_t err_cap) {
    char dummy[1];
    if (!err || err_cap == 0) err = dummy, err_cap = sizeof dummy;
    err[0] = '\0';
    if (!out || !paths || n == 0 || n > ORTAK_SCREEN_LISTS_LIMIT) {
        snprintf(err, err_cap, "between 1 and %u list files are needed", ORTAK_SCREEN_LISTS_LIMIT);
        return ORTAK_INVALID;
    }
    *out = NULL;
    struct screen_build b = {calloc(1, sizeof *b.s), NULL};
    if (!b.s) return ORTAK_NOMEM;
    ortak_rc rc = ortak_screener_open(translit_dir, &b.t, err, err_cap);
    if (rc != ORTAK_OK) goto fail;
    XXH3_state_t *x = XXH3_createState();
    if (!x) {
        rc = ORTAK_NOMEM;
        goto fail;
    }
    XXH3_64bits_reset(x);
    for (uint32_t i = 0; i < n; i++) {
        if (!paths[i]) {
            rc = ORTAK_INVALID;
            break;
        }
        b.s->nlists = i + 1;
        rc = screen__load_file(&b, i, paths[i], &b.s->lists[i].digest, err, err_cap);
        if (rc != ORTAK_OK) break;
        XXH3_64bits_update(x, b.s->lists[i].list, sizeof b.s->lists[i].list);
        XXH3_64bits_update(x, &b.s->lists[i].digest, sizeof b.s->lists[i].digest);
    }
    b.s->version = XXH3_64bits_digest(x);
    XXH3_freeState(x);
    if (rc != ORTAK_OK) goto fail;
    rc = index_build(b.s);
    if (rc != ORTAK_OK) goto fail;
    ortak_screener_close(b.t);
    *out = b.s;
    return ORTAK_OK;
fail:
    if (rc == ORTAK_NOMEM && !err[0]) snprintf(err, err_cap, "out of memory");
    ortak_screener_close(b.t);
    ortak_screen_set_free(b.s);
    return rc;
}

void ortak_screen_set_free(struct ortak_screen_set *s) {
    if (!s) return;
    free(s->entries);
    free(s->names);
    free(s->toks);
    free(s->text);
    free(s->keys);
    free(s->slots);
    free(s->post);
    free(s);
}

uint64_t ortak_screen_set_version(const struct ortak_screen_set *s) { return s ? s->version : 0; }
uint32_t ortak_screen_set_list_count(const struct ortak_screen_set *s) { return s ? s->nlists : 0; }
const struct ortak_screen_list_info *ortak_screen_set_list(const struct ortak_screen_set *s, uint32_t i) {
    return s && i < s->nlists ? &s->lists[i] : NULL;
}
uint32_t ortak_screen_set_entries(const struct ortak_screen_set *s) { return s ? s->nentries : 0; }
uint32_t ortak_screen_set_names(const struct ortak_screen_set *s) { return s ? s->nnames : 0; }

bool ortak_screen_set_entry(const struct ortak_screen_set *s, uint32_t i, struct ortak_screen_entry_info *out) {
    if (!s || !out || i >= s->nentries) return false;
    const struct screen_entry *e = &s->entries[i];
    out->list = s->lists[e->list].list;
    out->entry_id = e->id;
    out->name = e->display == UINT32_MAX ? "" : s->text + e->display;
    out->date_of_birth = e->dob;
    out->nationality = e->nationality;
    return true;
}

const char *ortak_screen_set_name(const struct ortak_screen_set *s, uint32_t i, uint32_t *entry) {
    if (!s || i >= s->nnames) return NULL;
    if (entry) *entry = s->names[i].entry;
    return s->text + s->names[i].display;
}

/* ---- matching ------------------------------------------------------------------------------------------------- */

uint32_t screen__edits(const char *a, uint32_t n, const char *b, uint32_t m, uint32_t limit) {
    uint32_t d = n > m ? n - m : m - n;
    if (d > limit) return limit + 1;
    uint32_t row[SCREEN_KEY_BYTES_MAX + 2];
    for (uint32_t j = 0; j <= m; j++) row[j] = j;
    for (uint32_t i = 1; i <= n; i++) {
        uint32_t diag = row[0], best = i;
        row[0] = i;
        for (uint32_t j = 1; j <= m; j++) {
            uint32_t up = row[j];
            uint32_t v = diag + (a[i - 1] != b[j - 1]);
            if (row[j - 1] + 1 < v) v = row[j - 1] + 1;
            if (up + 1 < v) v = up + 1;
            row[j] = v;
            diag = up;
            if (v < best) best = v;
        }
        if (best > limit) return limit + 1;
    }
    return row[m];
}

/* The similarity of two strings: equal 1, else 1 - 0.6 * edits / longer length within the edits allowed. */
static uint32_t popcount32(uint32_t x) {
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    return (((x + (x >> 4)) & 0x0f0f0f0fu) * 0x01010101u) >> 24;
}

static uint32_t str_sim(const char *a, uint32_t alen, uint32_t amask, const char *b, uint32_t blen, uint32_t bmask) {
    if (alen == blen && amask == bmask && memcmp(a, b, alen) == 0) return ORTAK_SCREEN_SCORE_MAX;
    uint32_t longer = alen > blen ? alen : blen, shorter = alen + blen - longer;
    uint32_t limit = longer >= 8 ? 2 : longer >= 3 ? 1 : 0;
    if (longer - shorter > limit || popcount32(amask ^ bmask) > 2 * limit) return 0;
    uint32_t d = screen__edits(a, alen, b, blen, limit);
    if (d > limit) return 0;
    return ORTAK_SCREEN_SCORE_MAX - 6000u * d / longer;
}

uint32_t screen__tok_sim(const struct screen_tok *q, const struct ortak_screen_set *s, const struct screen_ntok *n) {
    if (q->initial || n->initial) {
        if (q->first != n->first) return 0;
        return q->initial && n->initial ? ORTAK_SCREEN_SCORE_MAX : SIM_INITIAL;
    }
    uint32_t a = str_sim(q->key, q->len, q->kmask, s->keys + n->key, n->len, n->kmask);
    if (a == ORTAK_SCREEN_SCORE_MAX) return a;
    uint32_t b = str_sim(q->raw, q->rawlen, q->rmask, s->keys + n->raw, n->rawlen, n->rmask);
    return a > b ? a : b;
}

/* The score of query tokens q against name `nm` of the set; *exact counts the pairs whose transliterated tokens
 * are equal (it orders names of equal score: GHASEM SOLEYMANI before QASEM SOLEIMANI for "Ghasem Soleymani"). */
static uint32_t name_score(const struct ortak_screen_set *s, const struct screen_toks *q, uint32_t qweight,
                           const struct screen_name *nm, uint32_t *exact) {
    uint32_t sim[ORTAK_SCREEN_TOKENS_LIMIT][ORTAK_SCREEN_TOKENS_LIMIT];
    const struct screen_ntok *nt = &s->toks[nm->tok];
    for (uint32_t i = 0; i < q->n; i++)
        for (uint32_t j = 0; j < nm->ntok; j++) sim[i][j] = screen__tok_sim(&q->t[i], s, &nt[j]);
    uint32_t qused = 0, nused = 0; /* bit sets */
    *exact = 0;
    uint64_t cq = 0, cn = 0;
    for (uint32_t round = 0; round < q->n && round < nm->ntok; round++) {
        uint32_t best = 0, bi = 0, bj = 0;
        for (uint32_t i = 0; i < q->n; i++) {
            if (qused & (1u << i)) continue;
            for (uint32_t j = 0; j < nm->ntok; j++)
                if (!(nused & (1u << j)) && sim[i][j] > best) best = sim[i][j], bi = i, bj = j;
        }
        if (best == 0) break;
        qused |= 1u << bi;
        nused |= 1u << bj;
        *exact += q->t[bi].rawlen == nt[bj].rawlen && memcmp(q->t[bi].raw, s->keys + nt[bj].raw, nt[bj].rawlen) == 0;
        cq += (uint64_t)best * q->t[bi].weight;
        cn += (uint64_t)best * nt[bj].weight;
    }
    uint64_t score = (SCORE_Q * cq / qweight + SCORE_N * cn / nm->weight) / ORTAK_SCREEN_SCORE_MAX;
    if (nm->kind == SCREEN_NAME_WEAK_ALIAS) score = score * WEAK_ALIAS_FACTOR / ORTAK_SCREEN_SCORE_MAX;
    return score > ORTAK_SCREEN_SCORE_MAX ? ORTAK_SCREEN_SCORE_MAX : (uint32_t)score;
}

static bool scratch_fit(struct ortak_screener *t, uint32_t names) {
    if (t->cap >= names) return true;
    uint32_t *stamp = calloc(names, sizeof *stamp);
    uint16_t *found = calloc(names, sizeof *found);
    uint32_t *touched = calloc(names, sizeof *touched);
    if (!stamp || !found || !touched) {
        free(stamp);
        free(found);
        free(touched);
        return false;
    }
    free(t->stamp);
    free(t->found);
    free(t->touched);
    t->stamp = stamp, t->found = found, t->touched = touched;
    t->cap = names;
    t->epoch = 0;
    return true;
}

/* Adds query token `k` (weight w) to the names of one index slot. */
static void touch_slot(struct ortak_screener *t, const struct ortak_screen_set *s, const struct screen_slot *sl,
                       uint32_t base, uint32_t k, uint32_t w) {
    const uint32_t *post = s->post + sl->start;
    for (uint32_t i = 0; i < sl->count; i++) {
        if (i + 8 < sl->count) __builtin_prefetch(&t->stamp[post[i + 8]], 1);
        uint32_t n = post[i];
        if (t->stamp[n] < base) {
            t->stamp[n] = base;
            t->found[n] = 0;
            t->touched[t->ntouched++] = n;
        }
        if (t->stamp[n] != base + k + 1) {
            t->stamp[n] = base + k + 1;
            t->found[n] = (uint16_t)(t->found[n] + 256u + w);
        }
    }
}

struct cand {
    uint32_t entry, name;
    uint16_t score;
    uint16_t exact;
};

static int cand_cmp(const void *a, const void *b) {
    const struct cand *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->exact != y->exact) return x->exact > y->exact ? -1 : 1;
    if (x->entry != y->entry) return x->entry < y->entry ? -1 : 1;
    return x->name < y->name ? -1 : x->name > y->name;
}

/* Keeps the best candidate of each entry: sorts, then drops every later one of an entry already seen. */
static uint32_t best_per_entry(struct cand *c, uint32_t n) {
    for (uint32_t i = 1; i < n; i++) /* insertion sort: small arrays, no allocation */
        for (uint32_t j = i; j > 0 && cand_cmp(&c[j], &c[j - 1]) < 0; j--) {
            struct cand x = c[j];
            c[j] = c[j - 1];
            c[j - 1] = x;
        }
    uint32_t u = 0;
    for (uint32_t i = 0; i < n; i++) {
        bool seen = false;
        for (uint32_t j = 0; j < u && !seen; j++) seen = c[j].entry == c[i].entry;
        if (!seen) c[u++] = c[i];
    }
    return u;
}

/* Touches the names reached by the query's tokens through the index. Returns 256 * count + weight of the query
 * tokens that found no names themselves (initials, minor words, frequent tokens beside rarer ones): every
 * candidate's bound counts them as matched. */
static uint32_t gather(struct ortak_screener *t, const struct ortak_screen_set *s, const struct screen_toks *q) {
    uint32_t base = t->epoch * 32u, unindexed = 0, rare = 0; /* unindexed: 256 * count + weight, as found */
    const struct screen_slot *slots[ORTAK_SCREEN_TOKENS_LIMIT][TOKEN_SLOTS_MAX];
    uint32_t nslots[ORTAK_SCREEN_TOKENS_LIMIT] = {0}, postings[ORTAK_SCREEN_TOKENS_LIMIT] = {0};
    t->ntouched = 0;
    for (uint32_t k = 0; k < q->n; k++) {
        const struct screen_tok *tk = &q->t[k];
        if (!screen__tok_indexed(tk->initial, tk->minor)) continue;
        uint64_t h[TOKEN_SLOTS_MAX];
        uint32_t nh = variants(tk->key, tk->len, h);
        if (tk->rawlen != tk->len || memcmp(tk->key, tk->raw, tk->len) != 0)
            nh += variants(tk->raw, tk->rawlen, h + nh);
        for (uint32_t i = 0; i < nh; i++) /* the slots are cache misses: ask for all of them at once */
            __builtin_prefetch(&s->slots[(uint32_t)h[i] & s->slots_mask]);
        for (uint32_t i = 0; i < nh; i++) {
            const struct screen_slot *sl = slot_find(s, h[i]);
            if (sl) slots[k][nslots[k]++] = sl, postings[k] += sl->count;
        }
        rare += nslots[k] > 0 && postings[k] <= FREQUENT_POSTINGS;
    }
    for (uint32_t k = 0; k < q->n; k++) {
        bool indexed = screen__tok_indexed(q->t[k].initial, q->t[k].minor);
        if (!indexed || (rare > 0 && postings[k] > FREQUENT_POSTINGS)) {
            unindexed += 256u + q->t[k].weight;
            continue;
        }
        for (uint32_t i = 0; i < nslots[k]; i++) touch_slot(t, s, slots[k][i], base, k, q->t[k].weight);
    }
    return unindexed;
}

/* Scores the touched names whose bound reaches the threshold; keeps the best name of each entry in c. */
static uint32_t score_touched(struct ortak_screener *t, const struct ortak_screen_set *s, const struct screen_toks *q,
                              uint32_t unindexed, uint16_t threshold, struct cand *c) {
    uint32_t qweight = 0, nc = 0;
    for (uint32_t k = 0; k < q->n; k++) qweight += q->t[k].weight;
    for (uint32_t i = 0; i < t->ntouched; i++) {
        uint32_t n = t->touched[i];
        uint32_t f = t->found[n] + unindexed, cover = 8u * (f >> 8), nw = s->names[n].weight;
        uint64_t bound = (uint64_t)SCORE_Q * (f & 0xffu) / qweight + (uint64_t)SCORE_N * (cover < nw ? cover : nw) / nw;
        if (bound < threshold) continue;
        uint32_t exact;
        uint32_t sc = name_score(s, q, qweight, &s->names[n], &exact);
        if (sc < threshold || sc == 0) continue;
        if (nc == CANDIDATE_HITS_MAX) nc = best_per_entry(c, nc);
        if (nc == CANDIDATE_HITS_MAX) { /* every slot a distinct entry: keep the better */
            if (sc <= c[nc - 1].score) continue;
            nc--;
        }
        c[nc++] = (struct cand){s->names[n].entry, n, (uint16_t)sc, (uint16_t)exact};
    }
    return best_per_entry(c, nc);
}

uint32_t ortak_screen_name(struct ortak_screener *t, const struct ortak_screen_set *s, const char *utf8, size_t len,
                           uint16_t threshold, struct ortak_screen_hit *hits, uint32_t max) {
    if (!t || !s || !utf8 || (!hits && max > 0) || s->nnames == 0) return 0;
    struct screen_toks q;
    screen__tokens(t, utf8, len, false, &q);
    if (q.n == 0 || !scratch_fit(t, s->nnames)) return 0;
    if (++t->epoch >= UINT32_MAX / 32u) {
        memset(t->stamp, 0, (size_t)t->cap * sizeof *t->stamp);
        t->epoch = 1;
    }
    struct cand c[CANDIDATE_HITS_MAX];
    uint32_t nc = score_touched(t, s, &q, gather(t, s, &q), threshold, c);
    uint32_t w = 0;
    for (uint32_t i = 0; i < nc && w < max && w < ORTAK_SCREEN_HITS_LIMIT; i++, w++) {
        const struct screen_entry *e = &s->entries[c[i].entry];
        const char *nm = s->text + s->names[c[i].name].display;
        screen__copy_utf8(hits[w].list, sizeof hits[w].list, s->lists[e->list].list, strlen(s->lists[e->list].list));
        screen__copy_utf8(hits[w].entry_id, sizeof hits[w].entry_id, e->id, strlen(e->id));
        screen__copy_utf8(hits[w].name, sizeof hits[w].name, nm, strlen(nm));
        hits[w].score = c[i].score;
    }
    return w;
}

void ortak_screen_score_format(uint16_t score, char out[static 7]) {
    uint32_t v = score > ORTAK_SCREEN_SCORE_MAX ? ORTAK_SCREEN_SCORE_MAX : score;
    out[0] = (char)('0' + v / 10000u);
    out[1] = '.';
    out[2] = (char)('0' + v / 1000u % 10u);
    out[3] = (char)('0' + v / 100u % 10u);
    out[4] = (char)('0' + v / 10u % 10u);
    out[5] = (char)('0' + v % 10u);
    out[6] = '\0';
}
