/*
 * The durable journal (src/journal/): records, segments, torn tails, damage and tampering, snapshots, recovery,
 * the sequencer, and fault injection through the replaceable file operations.
 *
 * The tests do not trust the writer to describe itself: a reference model built here from docs/formats/journal.md
 * (record and segment layout, XXH3-64 checksums, the SHA-256 hash chain) predicts every segment file byte for
 * byte, and every damage test names the exact file, offset and sequence number the reader must report. Every test
 * works in its own directory from mkdtemp, removed by the teardown even when the test fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "base/log.h"
#include "ortak/journal.h"
#include "unit/test_util.h"

#define T0 (UINT64_C(1767225600) * ORTAK_NS_PER_S) /* 2026-01-01T00:00:00Z */
#define P 512                                      /* path buffers */
#define SEG 65536u                                 /* segment_bytes used by most tests */
#define GROUP 16384u                               /* group_bytes_max used by most tests */
#define PAYLOAD_MAX 16312u                         /* min(SEG - 128 - 72, GROUP - 72), a multiple of 8 */
#define REC_HDR 72u
#define SEG_HDR 128u

static uint64_t pad8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

static void le_put(unsigned char *p, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t le_get(const unsigned char *p, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* ---- files and directories --------------------------------------------------------------------------------------- */

struct fx {
    char base[64]; /* this test's directory from mkdtemp */
    char dir[128]; /* the journal directory inside it; created by the journal */
};

static void path_join(char out[P], const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    assert_true(a + 1 + b < P);
    memcpy(out, dir, a);
    out[a] = '/';
    memcpy(out + a + 1, name, b + 1);
}

/* Removes the files and empty subdirectories in `dir`, then `dir`. */
static void dir_remove_flat(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        char p[P];
        path_join(p, dir, de->d_name);
        if (unlink(p) != 0) rmdir(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Removes `base` with its files and its subdirectories' files (tests never nest deeper). */
static void tree_remove(const char *base) {
    DIR *d = opendir(base);
    if (!d) return;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        char p[P];
        struct stat st;
        path_join(p, base, de->d_name);
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            dir_remove_flat(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(base);
}

static int fx_setup(void **state) {
    struct fx *f = calloc(1, sizeof *f);
    if (!f) return -1;
    snprintf(f->base, sizeof f->base, "%s", "/tmp/ortak-journal-XXXXXX");
    if (!mkdtemp(f->base)) {
        free(f);
        return -1;
    }
    snprintf(f->dir, sizeof f->dir, "%s/j", f->base);
    *state = f;
    return 0;
}

static int fx_teardown(void **state) {
    struct fx *f = *state;
    tree_remove(f->base);
    free(f);
    return 0;
}

static unsigned char *file_read(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    *len = (size_t)st.st_size;
    unsigned char *buf = malloc(*len ? *len : 1);
    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, *len, 0), (ssize_t)*len);
    close(fd);
    return buf;
}

static void file_pwrite(const char *path, uint64_t off, const void *buf, size_t len) {
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
}

static void file_create(const char *path, const void *buf, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    close(fd);
}

/* Flips every bit of one byte. */
static void file_flip(const char *path, uint64_t off) {
    unsigned char b;
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
    b ^= 0xff;
    assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

static uint64_t file_size(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static bool file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static void seg_name(char out[32], uint64_t first) { snprintf(out, 32, "%020llu.ojl", (unsigned long long)first); }

static void snap_name(char out[32], uint64_t seq) { snprintf(out, 32, "%020llu.osn", (unsigned long long)seq); }

static void seg_path(char out[P], const char *dir, uint64_t first) {
    char name[32];
    seg_name(name, first);
    path_join(out, dir, name);
}

static int cmp_names(const void *a, const void *b) { return strcmp(a, b); }

/* Sorted names (dot files included) of `dir`; returns how many (at most 128). */
static uint32_t dir_names(const char *dir, char names[128][64]) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    uint32_t n = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        size_t len = strlen(de->d_name);
        assert_true(n < 128 && len < 64);
        memcpy(names[n++], de->d_name, len + 1);
    }
    closedir(d);
    qsort(names, n, 64, cmp_names);
    return n;
}

/* "name size xxh3\n" for every file of `dir`, sorted: equal listings mean nothing on disk changed. */
static void listing(const char *dir, char *out, size_t cap) {
    static char names[128][64];
    uint32_t n = dir_names(dir, names);
    size_t used = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < n; i++) {
        char p[P];
        size_t len;
        struct stat st;
        path_join(p, dir, names[i]);
        assert_int_equal(lstat(p, &st), 0);
        int w;
        if (S_ISDIR(st.st_mode)) {
            w = snprintf(out + used, cap - used, "%s/\n", names[i]);
        } else {
            unsigned char *buf = file_read(p, &len);
            w = snprintf(out + used, cap - used, "%s %zu %016llx\n", names[i], len,
                         (unsigned long long)XXH3_64bits(buf, len));
            free(buf);
        }
        assert_true(w > 0 && (size_t)w < cap - used);
        used += (size_t)w;
    }
}

/* ---- the reference model of the format --------------------------------------------------------------------------- */

static ortak_time_ns ts_of(uint64_t seq) { return T0 + (seq / 2) * 1000; } /* pairs share a timestamp */

/* Payload bytes of record `seq`: never zero, so the last non-zero byte of a record is its last payload byte. */
static void payload_make(uint64_t seq, uint32_t len, unsigned char *out) {
    for (uint32_t i = 0; i < len; i++) out[i] = (unsigned char)(1 + (seq * 131 + i * 7) % 251);
}

static uint64_t record_checksum(const unsigned char *rec, uint32_t len) {
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, rec, 64);
    XXH3_64bits_update(&st, rec + REC_HDR, len);
    return XXH3_64bits_digest(&st);
}

static void record_sha(const unsigned char *rec, uint32_t len, uint8_t out[32]) {
    struct sha256_ctx sha;
    sha256_init(&sha);
    sha256_update(&sha, REC_HDR + len, rec);
    sha256_digest(&sha, 32, out);
}

/* Writes record `seq` as docs/formats/journal.md lays it out; returns its size with padding. */
static uint64_t record_build(uint64_t seq, ortak_time_ns ts, const uint8_t prev[32], uint32_t len, unsigned char *out) {
    uint64_t size = REC_HDR + pad8(len);
    memset(out, 0, size);
    memcpy(out, "OREC", 4);
    le_put(out + 4, 2, 2);
    le_put(out + 6, 1, 2);
    le_put(out + 8, seq, 8);
    le_put(out + 16, ts, 8);
    le_put(out + 24, len, 4);
    memcpy(out + 32, prev, 32);
    payload_make(seq, len, out + REC_HDR);
    le_put(out + 64, record_checksum(out, len), 8);
    return size;
}

typedef uint32_t (*len_fn)(uint64_t seq);

#define REF_SEGS 64
struct ref {
    uint64_t n, seg_bytes, group_max;
    len_fn len_of;
    uint64_t *seg;                           /* [seq]: first sequence number of the segment holding record seq */
    uint64_t *off;                           /* [seq]: byte offset of record seq in its segment */
    uint8_t (*hash)[32];                     /* [seq]: SHA-256 of record seq; [0] is zeros */
    uint64_t first[REF_SEGS], end[REF_SEGS]; /* per segment: first seq, end of its data */
    uint32_t nseg;
};

static unsigned char recbuf[REC_HDR + PAYLOAD_MAX + 8];

static void ref_init(struct ref *r, uint64_t n, uint64_t seg_bytes, uint64_t group_max, len_fn len_of) {
    memset(r, 0, sizeof *r);
    r->n = n;
    r->seg_bytes = seg_bytes;
    r->group_max = group_max;
    r->len_of = len_of;
    r->seg = calloc(n + 1, sizeof *r->seg);
    r->off = calloc(n + 1, sizeof *r->off);
    r->hash = calloc(n + 1, sizeof *r->hash);
    assert_true(r->seg && r->off && r->hash);
    uint64_t off = seg_bytes; /* forces the first segment */
    for (uint64_t seq = 1; seq <= n; seq++) {
        uint32_t len = len_of(seq);
        uint64_t size = record_build(seq, ts_of(seq), r->hash[seq - 1], len, recbuf);
        if (off + size > seg_bytes) {
            assert_true(r->nseg < REF_SEGS);
            r->first[r->nseg++] = seq;
            off = SEG_HDR;
        }
        r->seg[seq] = r->first[r->nseg - 1];
        r->off[seq] = off;
        record_sha(recbuf, len, r->hash[seq]);
        off += size;
        r->end[r->nseg - 1] = off;
    }
}

static void ref_free(struct ref *r) {
    free(r->seg);
    free(r->off);
    free(r->hash);
}

/* The whole expected file of segment `i`. */
static unsigned char *ref_segment_image(const struct ref *r, uint32_t i) {
    unsigned char *img = calloc(1, r->seg_bytes);
    assert_non_null(img);
    uint64_t first = r->first[i];
    memcpy(img, "ORTAKJNL", 8);
    le_put(img + 8, 1, 4);
    le_put(img + 12, SEG_HDR, 4);
    le_put(img + 16, r->seg_bytes, 8);
    le_put(img + 24, first, 8);
    memcpy(img + 32, r->hash[first - 1], 32);
    le_put(img + 64, r->group_max, 8);
    le_put(img + 120, XXH3_64bits(img, 120), 8);
    for (uint64_t seq = first; seq <= r->n && r->seg[seq] == first; seq++)
        record_build(seq, ts_of(seq), r->hash[seq - 1], r->len_of(seq), img + r->off[seq]);
    return img;
}

/* The directory holds exactly the model's segments, byte for byte. */
static void ref_check_files(const char *dir, const struct ref *r) {
    static char names[128][64];
    uint32_t n = dir_names(dir, names);
    assert_int_equal(n, r->nseg);
    for (uint32_t i = 0; i < r->nseg; i++) {
        char want[32], p[P];
        seg_name(want, r->first[i]);
        assert_string_equal(names[i], want);
        path_join(p, dir, want);
        size_t len;
        unsigned char *got = file_read(p, &len);
        unsigned char *img = ref_segment_image(r, i);
        assert_int_equal(len, r->seg_bytes);
        assert_memory_equal(got, img, r->seg_bytes);
        free(got);
        free(img);
    }
}

static void ref_head(const struct ref *r, uint64_t seq, struct ortak_journal_head *h) {
    memset(h, 0, sizeof *h);
    h->seq = seq;
    h->timestamp = seq ? ts_of(seq) : 0;
    memcpy(h->hash, r->hash[seq], 32);
}

static void assert_head_equal(const struct ortak_journal_head *a, const struct ortak_journal_head *b) {
    assert_int_equal(a->seq, b->seq);
    assert_int_equal(a->timestamp, b->timestamp);
    assert_memory_equal(a->hash, b->hash, 32);
}

static struct ortak_journal_options jopts(bool create) {
    return (struct ortak_journal_options){.segment_bytes = SEG, .group_bytes_max = GROUP, .create = create};
}

/* Appends records `from`..`to` of the model (payloads and timestamps as the model has them). */
static void append_range(struct ortak_journal *j, const struct ref *r, uint64_t from, uint64_t to) {
    static unsigned char payload[PAYLOAD_MAX + 8];
    for (uint64_t seq = from; seq <= to; seq++) {
        uint32_t len = r->len_of(seq);
        payload_make(seq, len, payload);
        uint64_t got = 0;
        assert_int_equal(ortak_journal_append(j, ts_of(seq), payload, len, &got), ORTAK_OK);
        assert_int_equal(got, seq);
    }
}

/* Creates the model's journal in `dir`, syncs and closes it. */
static void ref_write(const char *dir, const struct ref *r) {
    struct ortak_journal_options o = {.segment_bytes = r->seg_bytes, .group_bytes_max = r->group_max, .create = true};
    struct ortak_journal *j;
    struct ortak_journal_problem pb;
    assert_int_equal(ortak_journal_open(dir, &o, 0, NULL, NULL, &j, &pb), ORTAK_OK);
    append_range(j, r, 1, r->n);
    ortak_journal_sync(j);
    ortak_journal_close(j);
}

/* ---- collecting what the reader passes to the callback ----------------------------------------------------------- */

struct got_rec {
    uint64_t seq;
    ortak_time_ns ts;
    uint32_t len;
    uint8_t prev[32];
    unsigned char *payload;
};

struct collect {
    struct got_rec *v;
    uint64_t n, cap;
    uint64_t refuse_seq; /* non-zero: the callback refuses this record */
};

static int collect_fn(void *ctx, const struct ortak_journal_record *rec, char *why, size_t why_cap) {
    struct collect *c = ctx;
    if (rec->seq == c->refuse_seq) {
        snprintf(why, why_cap, "test refuses record %llu", (unsigned long long)rec->seq);
        return 1;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->v = realloc(c->v, c->cap * sizeof *c->v);
        assert_non_null(c->v);
    }
    struct got_rec *g = &c->v[c->n++];
    g->seq = rec->seq;
    g->ts = rec->timestamp;
    g->len = rec->len;
    memcpy(g->prev, rec->prev_hash, 32);
    g->payload = malloc(rec->len ? rec->len : 1);
    assert_non_null(g->payload);
    memcpy(g->payload, rec->payload, rec->len);
    return 0;
}

static void collect_free(struct collect *c) {
    for (uint64_t i = 0; i < c->n; i++) free(c->v[i].payload);
    free(c->v);
    memset(c, 0, sizeof *c);
}

/* The callback saw exactly records from+1 .. to of the model, in order, byte-equal. */
static void collect_check(const struct collect *c, const struct ref *r, uint64_t from, uint64_t to) {
    static unsigned char want[PAYLOAD_MAX + 8];
    assert_int_equal(c->n, to - from);
    for (uint64_t i = 0; i < c->n; i++) {
        const struct got_rec *g = &c->v[i];
        uint64_t seq = from + 1 + i;
        assert_int_equal(g->seq, seq);
        assert_int_equal(g->ts, ts_of(seq));
        assert_int_equal(g->len, r->len_of(seq));
        assert_memory_equal(g->prev, r->hash[seq - 1], 32);
        payload_make(seq, g->len, want);
        if (g->len) assert_memory_equal(g->payload, want, g->len);
    }
}

static void assert_problem(const struct ortak_journal_problem *pb, enum ortak_journal_problem_kind kind,
                           const char *file, uint64_t offset, uint64_t seq, const char *msg_part) {
    if (pb->kind != kind || strcmp(pb->file, file) != 0 || pb->offset != offset || pb->seq != seq ||
        strstr(pb->message, msg_part) == NULL)
        print_error("problem: kind %d file '%s' offset %llu seq %llu message '%s'\n", (int)pb->kind, pb->file,
                    (unsigned long long)pb->offset, (unsigned long long)pb->seq, pb->message);
    assert_int_equal(pb->kind, kind);
    assert_string_equal(pb->file, file);
    assert_int_equal(pb->offset, offset);
    assert_int_equal(pb->seq, seq);
    assert_non_null(strstr(pb->message, msg_part));
}

/* ---- append, sync, close, reopen --------------------------------------------------------------------------------- */

static uint32_t len_small(uint64_t seq) { return seq == 3 ? 0 : (uint32_t)((seq * 37) % 301 + 1); }

static void test_round_trip(void **state) {
    struct fx *f = *state;
    struct ref r;
    ref_init(&r, 31, SEG, GROUP, len_small);
    struct ortak_journal_options o = jopts(true);
    struct ortak_journal *j;
    struct ortak_journal_problem pb;
    struct ortak_journal_head h, want;

    assert_int_equal(ortak_journal_open(f->dir, &o, 0, NULL, NULL, &j, &pb), ORTAK_OK);
    ortak_journal_head_get(j, &h);
    ref_head(&r, 0, &want);
    assert_head_equal(&h, &want);
    assert_int_equal(ortak_journal_torn_bytes(j), 0);
    assert_int_equal(ortak_journal_payload_max(j), PAYLOAD_MAX);
    append_range(j, &r, 1, 30);
    ortak_journal_sync(j);
    ortak_journal_head_get(j, &h);
    ref_head(&r, 30, &want);
    assert_head_equal(&h, &want);
    ortak_journal_close(j);

    /* Byte for byte what the format document describes; records 1..30 only. */
    struct ref r30;
    ref_init(&r30, 30, SEG, GROUP, len_small);
    ref_check_files(f->dir, &r30);
    ref_free(&r30);

    struct collect c = {0};
    o.create = false;
    assert_int_equal(ortak_journal_open(f->dir, &o, 0, collect_fn, &c, &j, &pb), ORTAK_OK);
    collect_check(&c, &r, 0, 30);
    ortak_journal_head_get(j, &h);
    assert_head_equal(&h, &want);
    assert_int_equal(ortak_journal_torn_bytes(j), 0);
    ortak_journal_close(j);
    collect_free(&c);

    /* The scan sees the same, from any starting point, and reports no problem. */
    uint64_t torn = 99;
    memset(&h, 0xee, sizeof h);
    assert_int_equal(ortak_journal_scan(f->dir, NULL, 25, collect_fn, &c, &h, &torn, &pb), ORTAK_OK);
    collect_check(&c, &r, 25, 30);
    assert_head_equal(&h, &want);
    assert_int_equal(torn, 0);
    assert_int_equal(pb.kind, ORTAK_JP_NONE);
    collect_free(&c);

    /* Appending after a reopen continues the sequence and the chain. */
    assert_int_equal(ortak_journal_open(f->dir, &o, 30, NULL, NULL, &j, &pb), ORTAK_OK);
    append_range(j, &r, 31, 31);
    ortak_journal_close(j); /* close syncs */
    ref_check_files(f->dir, &r);
    assert_int_equal(ortak_journal_scan(f->dir, NULL, 0, collect_fn, &c, &h, &torn, &pb), ORTAK_OK);
    collect_check(&c, &r, 0, 31);
    ref_head(&r, 31, &want);
    assert_head_equal(&h, &want);
    collect_free(&c);
    ref_free(&r);
}

/* A payload larger than payload_max is refused and changes nothing; payload_max itself fits. */
static void test_payload_limit(void **state) {
    struct fx *f = *state;
    struct ortak_journal_options o = jopts(true);
    struct ortak_journal *j;
    struct ortak_journal_problem pb;
    static unsigned char big[PAYLOAD_MAX + 8];
    memset(big, 0x5a, sizeof big);
    assert_int_equal(ortak_journal_open(f->dir, &o, 0, NULL, NULL, &j, &pb), ORTAK_OK);
    uint64_t seq = 77;
    assert_int_equal(ortak_journal_append(j, T0, big, PAYLOAD_MAX + 1, &seq), ORTAK_INVALID);
    assert_int_equal(seq, 77);
    struct ortak_journal_head h;
    ortak_journal_head_get(j, &h);
    assert_int_equal(h.seq, 0);
    assert_int_equal(ortak_journal_append(j, T0, big, PAYLOAD_MAX, &seq), ORTAK_OK);
    assert_int_equal(seq, 1);
    assert_int_equal(ortak_journal_append(j, T0, big, PAYLOAD_MAX, &seq), ORTAK_OK);
    assert_int_equal(seq, 2);
    ortak_journal_close(j);
    uint64_t torn = 1;
    assert_int_equal(ortak_journal_scan(f->dir, NULL, 0, NULL, NULL, &h, &torn, &pb), ORTAK_OK);
    assert_int_equal(h.seq, 2);
    assert_int_equal(torn, 0);

    /* Bad options are refused before anything is created. */
    char other[P];
    path_join(other, f->base, "bad");
    o.segment_bytes = SEG + 8;
    assert_int_equal(ortak_journal_open(other, &o, 0, NULL, NULL, &j, &pb), ORTAK_IO);
    assert_null(j);
    assert_non_null(strstr(pb.message, "segment_bytes must be a multiple of 4096"));
    assert_false(file_exists(other));
}

/* The callback's refusal stops open and scan with ORTAK_JP_PAYLOAD at that record, with the callback's words. */
static void test_callback_refusal(void **state) {
    struct fx *f = *state;
    struct ref r;
    ref_init(&r, 20, SEG, GROUP, len_small);
    ref_write(f->dir, &r);
    char before[4096], after[4096], name[32];
    listing(f->dir, before, sizeof before);
    seg_name(name, 1);

    struct collect c = {.refuse_seq = 12};
    struct ortak_journal_options o = jopts(false);
    struct ortak_journal *j = (struct ortak_journal *)&c;
    struct ortak_journal_problem pb;
    assert_int_equal(ortak_journal_open(f->dir, &o, 0, collect_fn, &c, &j, &pb), ORTAK_CORRUPT);
    assert_null(j);
    assert_problem(&pb, ORTAK_JP_PAYLOAD, name, r.off[12], 12, "test refuses record 12");
    assert_int_equal(c.n, 11);
    collect_free(&c);

    c.refuse_seq = 12;
    struct ortak_journal_head h;
    assert_int_equal(ortak_journal_scan(f->dir, NULL, 5, collect_fn, &c, &h, NULL, &pb), ORTAK_CORRUPT);
    assert_problem(&pb, ORTAK_JP_PAYLOAD, name, r.off[12], 12, "test refuses record 12");
    assert_int_equal(c.n, 6);
    assert_int_equal(h.seq, 11);
    collect_free(&c);
    listing(f->dir, after, sizeof after);
    assert_string_equal(before, after);
    ref_free(&r);
}

/* ---- segments ---------------------------------------------------------------------------------------------------- */

static uint32_t len_big(uint64_t seq) { return seq == 100 ? PAYLOAD_MAX : (uint32_t)(500 + (seq * 389) % 1500); }

static void test_segments(void **state) {
    struct fx *f = *state;
    struct ref r;
    ref_init(&r, 260, SEG, GROUP, len_big);
    assert_true(r.nseg >= 5);
    ref_write(f->dir, &r);
    /* Names are the first records' sequence numbers in 20 digits; every file has exactly segment_bytes. */
    static char names[128][64];
    uint32_t n = dir_names(f->dir, names);
    assert_int_equal(n, r.nseg);
    for (uint32_t i = 0; i < n; i++) {
        char p[P], want[32];
        snprintf(want, sizeof want, "%020llu.ojl", (unsigned long long)r.first[i]);
        assert_int_equal(strlen(names[i]), 24);
        assert_string_equal(names[i], want);
        path_join(p, f->dir, names[i]);
        assert_int_equal(file_size(p), SEG);
    }
    assert_int_equal(r.first[0], 1);
    ref_check_files(f->dir, &r); /* headers chain across segments; no record spans two */

    struct collect c = {0};
    struct ortak_journal_head h, want;
    struct ortak_journal_problem pb;
    uint64_t torn = 1;
    assert_int_equal(ortak_journal_scan(f->dir, NULL, 0, collect_fn, &c, &h, &torn, &pb), ORTAK_OK);
    collect_check(&c, &r, 0, 260);
    ref_head(&r, 260, &want);
    assert_head_equal(&h, &want);
    assert_int_equal(torn, 0);
    collect_free(&c);

    /* Replaying from the middle of a middle segment. */
    uint64_t from = r.first[2] + 3;
    assert_int_equal(ortak_journal_scan(f->dir, NULL, from, collect_fn, &c, &h, &torn, &pb), ORTAK_OK);
    collect_check(&c, &r, from, 260);
    collect_free(&c);
    ref_free(&r);
}

/* Reopening a multi-segment journal and writing on crosses into the next segment exactly as a fresh writer would. */
static void test_segments_reopen_continue(void **state) {
    struct fx *f = *state;
    struct ref r;
    ref_init(&r, 120, SEG, GROUP, len_big);
    struct ortak_journal_options o = jopts(true);
    struct ortak_journal *j;
    struct ortak_journal_problem pb;
    for (uint64_t from = 1; from <= 120; from += 40) {
        assert_int_equal(ortak_journal_open(f->dir, &o, 0, NULL, NULL, &j, &pb), ORTAK_OK);
        struct ortak_journal_head h;
        ortak_journal_head_get(j, &h);
        assert_int_equal(h.seq, from - 1);
        append_range(j, &r, from, from + 39);
        ortak_journal_close(j);
    }
    ref_check_files(f->dir, &r);
    ref_free(&r);
}

/* ---- torn tails -------------------------------------------------------------------------------------------------- */

static uint32_t len_torn(uint64_t seq) { return seq == 11 ? 400 : len_small(seq); }
static uint32_t len_torn_after(uint64_t seq) { return seq == 11 ? 100 : len_small(seq); }

static bool file_zero_from(const char *path, uint64_t from) {
    size_t len;
    unsigned char *buf = file_read(path, &len);
    bool zero = true;
    for (uint64_t i = from; i < len && zero; i++) zero = buf[i] == 0;
    free(buf);
    return zero;
}

static void test_torn_tail_cut_off(void **state) {
    struct fx *f = *state;
    struct ref r, r2;
    ref_init(&r, 11, SEG, GROUP, len_torn);
    ref_init(&r2, 11, SEG, GROUP, len_torn_after);
    struct ortak_journal_options o = jopts(true);
    struct ortak_journal *j;
    struct ortak_journal_problem pb;
    struct ortak_journal_head h, want10;
    ref_head(&r, 10, &want10);
    assert_int_equal(ortak_journal_open(f->dir, &o, 0, NULL, NULL, &j, &pb), ORTAK_OK);
    append_range(j, &r, 1, 10);
    ortak_journal_sync(j);
    append_range(j, &r, 11, 11);
    ortak_journal_sync(j);
    ortak_journal_close(j);

    /* The write of record 11 tore: the second half of its payload never reached the disk. */
    char seg[P], name[32], before[4096], after[4096];
    seg_name(name, 1);
    path_join(seg, f->dir, name);
    static const unsigned char zeros[200];
    file_pwrite(seg, r.off[11] + REC_HDR + 200, zeros, 200);
    listing(f->dir, before, sizeof before);

    struct collect c = {0};
    uint64_t torn = 0;
    assert_int_equal(ortak_journal_scan(f->dir, NULL, 0, collect_fn, &c, &h, &torn, &pb), ORTAK_OK);
    assert_int_equal(torn, REC_HDR + 200);
    assert_head_equal(&h, &want10);
    collect_check(&c, &r, 0, 10);
    collect_free(&c);
    listing(f->dir, after, sizeof after);
    assert_string_equal(before, after); /* scan changes nothing */

    /* Open cuts it off (zeroes it on disk), says so in the log, and appending goes on at record 11. */
    char *log = NULL;
    size_t log_len = 0;
    FILE *log_stream = open_memstream(&log, &log_len);
    assert_non_null(log_stream);
    ortak_log_setup(ORTAK_LOG_WARN, log_stream);
    o.create = false;
    ortak_rc rc = ortak_journal_open(f->dir, &o, 0, collect_fn, &c, &j, &pb);
    ortak_log_setup(ORTAK_LOG_ERROR, NULL);
    fclose(log_stream);
    assert_int_equal(rc, ORTAK_OK);
    assert_non_null(strstr(log, "cut off 272 bytes"));
    assert_non_null(strstr(log, name));
    assert_non_null(strstr(log, "after record 10"));
    free(log);
    assert_int_equal(ortak_journal_torn_bytes(j), REC_HDR + 200);
    ortak_journal_head_get(j, &h);
    assert_head_equal(&h, &want10);
    collect_check(&c, &r, 0, 10);
    collect_free(&c);
    assert_true(file_zero_from(seg, r.off[11]));
    append_range(j, &r2, 11, 11);
    ortak_journal_head_get(j, &h);
    assert_int_equal(h.seq, 11);
    ortak_journal_close(j);

    ref_check_files(f->dir, &r2);
    torn = 99;
    assert_int_equal(ortak_journal_scan(f->dir, NULL, 0, collect_fn, &c, &h, &torn, &pb), ORTAK_OK);
    assert_int_equal(torn, 0);
    struct ortak_journal_head want11;
    ref_head(&r2, 11, &want11);
    assert_head_equal(&h, &want11);
    collect_check(&c, &r2, 0, 11);
    collect_free(&c);
    ref_free(&r);
    ref_free(&r2);
}

/* Scans `dir` expecting a clean result with a torn tail of `torn_want` bytes after record `head_seq`. */
static void expect_torn(const char *dir, const struct ref *r, uint64_t torn_want, uint64_t head_seq) {
    struct ortak_journal_head h, want;
    struct ortak_journal_problem pb;
    uint64_t torn = 0;
    assert_int_equal(ortak_journal_scan(dir, NULL, 0, NULL, NULL, &h, &torn, &pb), ORTAK_OK);
    assert_int_equal(torn, torn_want);
    ref_head(r, head_seq, &want);
    assert_head_equal(&h, &want);
}

/* Every shape of torn write within group_bytes_max of the end is a torn tail; one byte further is damage. */
static void test_torn_tail_bounds(void **state) {
    struct fx *f = *state;
    struct ref r;
    ref_init(&r, 11, SEG, GROUP, len_torn);
    ref_write(f->dir, &r);
    char seg[P], name[32];
    seg_name(name, 1);
    path_join(seg, f->dir, name);
    size_t image_len;
    unsigned char *image = file_read(seg, &image_len);
    uint64_t tail = r.end[0], off11 = r.off[11];
    static unsigned char junk[GROUP + 1];
    memset(junk, 0xab, sizeof junk);
    static const unsigned char zeros[REC_HDR];

    /* The page holding record 11's header never reached the disk, its payload did. */
    file_pwrite(seg, off11, zeros, REC_HDR);
    expect_torn(f->dir, &r, REC_HDR + 400, 10);
    file_pwrite(seg, 0, image, image_len);

    /* Record 11's length field is garbage. */
    unsigned char bad_len[4] = {0xff, 0xff, 0xff, 0x00};
    file_pwrite(seg, off11 + 24, bad_len, 4);
    expect_torn(f->dir, &r, REC_HDR + 400, 10);
    file_pwrite(seg, 0, image, image_len);

    /* Garbage after the last record: the header of a record that was never written. */
    file_pwrite(seg, tail, junk, 100);
    expect_torn(f->dir, &r, 100, 11);
    file_pwrite(seg, tail, junk, GROUP);
    expect_torn(f->dir, &r, GROUP, 11);
    struct ortak_journal_options o = jopts(false);
    struct ortak_journal *j;
    struct ortak_journal_problem pb;
    assert_int_equal(ortak_journal_open(f->dir, &o, 0, NULL, NULL, &j, &pb), ORTAK_OK);
    assert_int_equal(ortak_journal_torn_bytes(j), GROUP);
    ortak_journal_close(j);
    ref_check_files(f->dir, &r); /* the garbage was zeroed, the records kept */

    /* group_bytes_max + 1 bytes cannot be a torn write of this writer: refused, nothing changed. */
    file_pwrite(seg, tail, junk, GROUP + 1);
    char before[4096], after[4096];
    listing(f->dir, before, sizeof before);
    struct ortak_journal_head h;
    uint64_t torn = 5;
    assert_int_equal(ortak_journal_scan(f->dir, NULL, 0, NULL, NULL, &h, &torn, &pb), ORTAK_CORRUPT);
    assert_problem(&pb, ORTAK_JP_CHECKSUM, name, tail, 12, "no record header here");
    assert_int_equal(ortak_journal_open(f->dir, &o, 0, NULL, NULL, &j, &pb), ORTAK_CORRUPT);
    assert_null(j);
    assert_problem(&pb, ORTAK_JP_CHECKSUM, name, tail, 12, "no record header here");
    listing(f->dir, after, sizeof after);
    assert_string_equal(before, after);
    free(image);
    ref_free(&r);
}

/* A group of several records torn in its first record: everything from there is the torn tail. */
static void test_torn_tail_group(void **state) {
    struct fx *f = *state;
    struct ref r;
    ref_init(&r, 11, SEG, GROUP, len_torn);
    struct ortak_journal_options o = jopts(true);
    struct ortak_journal *j;
    struct ortak_journal_problem pb;
    assert_int_equal(ortak_journal_open(f->dir, &o, 0, NULL, NULL, &j, &pb), ORTAK_OK);
    append_range(j, &r, 1, 7);
    ortak_journal_sync(j);
    append_range(j, &r, 8, 11); /* one write, one sync */
    ortak_journal_close(j);
    char seg[P];
    seg_path(seg, f->dir, 1);
    file_flip(seg, r.off[8] + REC_HDR + 1);
    uint64_t torn_want = r.off[11] + REC_HDR + 400 - r.off[8];
    expect_torn(f->dir, &r, torn_want, 7);
    o.create = false;
    assert_int_equal(ortak_journal_open(f->dir, &o, 0, NULL, NULL, &j, &pb), ORTAK_OK);
    assert_int_equal(ortak_journal_torn_bytes(j), torn_want);
    ortak_journal_close(j);
    assert_true(file_zero_from(seg, r.off[8]));
    expect_torn(f->dir, &r, 0, 7);
    ref_free(&r);
}

/* ---- damage far from the tail ------------------------------------------------------------------------------------ */

/* Scan and open (with and without create) refuse `dir` with exactly this problem, and change nothing on disk. */
static void expect_refused(const char *dir, enum ortak_journal_problem_kind kind, const char *file, uint64_t offset,
                           uint64_t seq, const char *msg_part) {
    static char before[16384], after[16384];
    listing(dir, before, sizeof before);
    struct ortak_journal_problem pb;
    struct ortak_journal_head h;
    uint64_t torn = 7;
    ortak_rc want_rc = kind == ORTAK_JP_IO ? ORTAK_IO : ORTAK_CORRUPT;
    assert_int_equal(ortak_journal_scan(dir, NULL, 0, NULL, NULL, &h, &torn, &pb), want_rc);
    assert_problem(&pb, kind, file, offset, seq, msg_part);
    struct ortak_journal_options o = jopts(false);
    struct ortak_journal *j = NULL;
    memset(&pb, 0, sizeof pb);
    assert_int_equal(ortak_journal_open(dir, &o, 0, NULL, NULL, &j, &pb), want_rc);
    assert_null(j);
    assert_problem(&pb, kind, file, offset, seq, msg_part);
    if (kind != ORTAK_JP_EMPTY) { /* with create, too: only an empty directory gets a new journal */
        o.create = true;
        assert_int_equal(ortak_journal_open(dir, &o, 0, NULL, NULL, &j, &pb), want_rc);
        assert_problem(&pb, kind, file, offset, seq, msg_part);
    }
    listing(dir, after, sizeof after);
    assert_string_equal(before, after);
}

/* Applies `patch` to the record at `off` of a segment and rewrites its checksum: only the chain can tell. */
static void record_tamper(const char *path, uint64_t off, uint64_t at, const void *patch, size_t len) {
    size_t flen;
    unsigned char *buf = file_read(path, &flen);
    memcpy(buf + off + at, patch, len);
    uint32_t plen = (uint32_t)le_get(buf + off + 24, 4);
    le_put(buf + off + 64, record_checksum(buf + off, plen), 8);
    file_pwrite(path, 0, buf, flen);
    free(buf);
}

static void test_damage_early_segment(void **state) {
    struct fx *f = *state;
    struct ref r;
    ref_init(&r, 260, SEG, GROUP, len_big);
    ref_write(f->dir, &r);
    char s1[P], s3[P], n1[32], n3[32];
    seg_name(n1, 1);
    seg_name(n3, r.first[2]);
    path_join(s1, f->dir, n1);
    path_join(s3, f->dir, n3);

    file_flip(s1, r.off[3] + REC_HDR + 17); /* bit rot in a payload */
    expect_refused(f->dir, ORTAK_JP_CHECKSUM, n1, r.off[3], 3, "record checksum does not match");
    file_flip(s1, r.off[3] + REC_HDR + 17);
    file_flip(s1, r.off[5]); /* the record's magic */
    expect_refused(f->dir, ORTAK_JP_CHECKSUM, n1, r.off[5], 5, "no record header here");
    file_flip(s1, r.off[5]);
    file_flip(s1, r.off[6] + 66); /* the checksum itself */
    expect_refused(f->dir, ORTAK_JP_CHECKSUM, n1, r.off[6], 6, "record checksum does not match");
    file_flip(s1, r.off[6] + 66);
    uint64_t padded = 1;
    while (len_big(padded) % 8 == 0) padded++;
    file_flip(s1, r.off[padded] + REC_HDR + len_big(padded)); /* padding is covered too */
    expect_refused(f->dir, ORTAK_JP_CHECKSUM, n1, r.off[padded], padded, "record padding not zero");
    file_flip(s1, r.off[padded] + REC_HDR + len_big(padded));
    file_flip(s3, 40); /* the header of a middle segment */
    expect_refused(f->dir, ORTAK_JP_CHECKSUM, n3, 0, r.first[2], "segment header checksum does not match");
    file_flip(s3, 40);
    file_flip(s3, 3); /* its magic */
    expect_refused(f->dir, ORTAK_JP_FOREIGN, n3, 0, r.first[2], "bad magic");
    file_flip(s3, 3);
    ref_check_files(f->dir, &r);
    ref_free(&r);
}

static uint32_t len_1000(uint64_t seq) {
    (void)seq;
    return 1000;
}

/* In the last segment, damage more than group_bytes_max from the end of the data is refused; closer is torn. */
static void test_damage_last_segment(void **state) {
    struct fx *f = *state;
    struct ref r;
    ref_init(&r, 40, SEG, GROUP, len_1000);
    assert_int_equal(r.nseg, 1);
    ref_write(f->dir, &r);
    char s1[P], n1[32];
    seg_name(n1, 1);
    path_join(s1, f->dir, n1);
    uint64_t end = r.end[0], k = 1;
    while (end - r.off[k] > GROUP) k++; /* the first record within group_bytes_max of the end */
    assert_true(k > 5 && k < 40);

    file_flip(s1, r.off[5] + REC_HDR);
    expect_refused(f->dir, ORTAK_JP_CHECKSUM, n1, r.off[5], 5, "record checksum does not match");
    file_flip(s1, r.off[5] + REC_HDR);
    file_flip(s1, r.off[k - 1] + REC_HDR);
    expect_refused(f->dir, ORTAK_JP_CHECKSUM, n1, r.off[k - 1], k - 1, "record checksum does not match");
    file_flip(s1, r.off[k - 1] + REC_HDR);
    /* The documented rule: within group_bytes_max of the end, a bad record is a torn tail, synced or not. */
    file_flip(s1, r.off[k] + REC_HDR);
    expect_torn(f->dir, &r, end - r.off[k], k - 1);
    ref_free(&r);
}

/* ---- tampering: checksums rewritten, only the hash chain catches it ---------------------------------------------- */

static void test_tamper_chain(void **state) {
    struct fx *f = *state;
    struct ref r;
    ref_init(&r, 260, SEG, GROUP, len_big);
    ref_write(f->dir, &r);
    char s1[P], n1[32], n2[32], last[P];
    seg_name(n1, 1);
    seg_name(n2, r.first[1]);
    path_join(s1, f->dir, n1);
    seg_path(last, f->dir, r.first[r.nseg - 1]);
    size_t len1, len_last;
    unsigned char *orig1 = file_read(s1, &len1), *orig_last = file_read(last, &len_last);

    unsigned char amount[4] = {0x39, 0x30, 0x00, 0x00};
    record_tamper(s1, r.off[3], REC_HDR + 8, amount, sizeof amount);
    expect_refused(f->dir, ORTAK_JP_CHAIN, n1, r.off[4], 4, "hash chain broken");
    file_pwrite(s1, 0, orig1, len1);

    /* The last record of a segment: the next segment's header is the first to name it. */
    uint64_t k = r.first[1] - 1;
    record_tamper(s1, r.off[k], REC_HDR + 1, amount, sizeof amount);
    expect_refused(f->dir, ORTAK_JP_CHAIN, n2, 32, r.first[1], "previous-record hash does not match");
    file_pwrite(s1, 0, orig1, len1);

    /* Renumbered or back-dated records are caught before the chain. */
    unsigned char seq7[8];
    le_put(seq7, 7, 8);
    record_tamper(s1, r.off[6], 8, seq7, 8);
    expect_refused(f->dir, ORTAK_JP_SEQUENCE, n1, r.off[6], 6, "sequence number 7, expected 6");
    file_pwrite(s1, 0, orig1, len1);
    unsigned char early[8];
    le_put(early, T0 - 1, 8);
    record_tamper(s1, r.off[8], 16, early, 8);
    expect_refused(f->dir, ORTAK_JP_SEQUENCE, n1, r.off[8], 8, "timestamp earlier");
    file_pwrite(s1, 0, orig1, len1);
    unsigned char v3[2] = {3, 0};
    record_tamper(s1, r.off[4], 4, v3, 2);
    expect_refused(f->dir, ORTAK_JP_VERSION, n1, r.off[4], 4, "record format version 3");
    file_pwrite(s1, 0, orig1, len1);

    /* The very last record has no successor: the scan passes, and only a head kept elsewhere differs. */
    record_tamper(last, r.off[260], REC_HDR, amount, sizeof amount);
    struct ortak_journal_head h;
    struct ortak_journal_problem pb;
    assert_int_equal(ortak_journal_scan(f->dir, NULL, 0, NULL, NULL, &h, NULL, &pb), ORTAK_OK);
    assert_int_equal(h.seq, 260);
    assert_memory_not_equal(h.hash, r.hash[260], 32);
    file_pwrite(last, 0, orig_last, len_last);
    ref_check_files(f->dir, &r);
    free(orig1);
    free(orig_last);
    ref_free(&r);
}

/* ---- the directory: missing, foreign, empty, newer, truncated ---------------------------------------------------- */

static void test_missing_segment(void **state) {
    struct fx *f = *state;
    struct ref r;
    ref_init(&r, 260, SEG, GROUP, len_big);
    assert_true(r.nseg >= 4);
    ref_write(f->dir, &r);
    char name[32], path[P];
    size_t len;
    for (uint32_t gone = 0; gone < 2; gone++) {
        seg_path(path, f->dir, r.first[gone]);
        unsigned char *orig = file_read(path, &len);
        assert_int_equal(unlink(path), 0);
        seg_name(name, r.first[gone + 1]); /* the segment after the gap; the first missing record */
        expect_refused(f->dir, ORTAK_JP_SEQUENCE, name, 24, r.first[gone], "records are missing");
        file_create(path, orig, len);
        free(orig);
    }
    ref_check_files(f->dir, &r);
    ref_free(&r);
}

static void test_foreign_files(void **state) {
    struct fx *f = *state;
    struct ref r;
    ref_init(&r, 20, SEG, GROUP, len_small);
    ref_write(f->dir, &r);
    char path[P];
    static const char *const foreign[] = {"notes.txt", "1.ojl", "00000000000000000001.ojl~",
                                          "0000000000000000000x.osn"};
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
        path_join(path, f->dir, foreign[i]);
        file_create(path, "x", 1);
        expect_refused(f->dir, ORTAK_JP_FOREIGN, foreign[i], 0, 0, "is not an ortak journal file");
        assert_int_equal(unlink(path), 0);
    }
    path_join(path, f->dir, "sub");
    assert_int_equal(mkdir(path, 0750), 0);
    expect_refused(f->dir, ORTAK_JP_FOREIGN, "sub", 0, 0, "is not an ortak journal file");
    assert_int_equal(rmdir(path), 0);

    /* Dot files are not ortak's business; a leftover .tmp is removed by open (not by scan). */
    char dot[P], tmp[P];
    path_join(dot, f->dir, ".keep");
    path_join(tmp, f->dir, "00000000000000000021.ojl.tmp");
    file_create(dot, "x", 1);
    file_create(tmp, "x", 1);
    struct ortak_journal_head h;
    struct ortak_journal_problem pb;
    assert_int_equal(ortak_journal_scan(f->dir, NULL, 0, NULL, NULL, &h, NULL, &pb), ORTAK_OK);
    assert_int_equal(h.seq, 20);
    assert_true(file_exists(tmp));
    struct ortak_journal_options o = jopts(false);
    struct ortak_journal *j;
    assert_int_equal(ortak_journal_open(f->dir, &o, 0, NULL, NULL, &j, &pb), ORTAK_OK);
    ortak_journal_close(j);
    assert_false(file_exists(tmp));
    assert_true(file_exists(dot));
    assert_int_equal(unlink(dot), 0);
    ref_check_files(f->dir, &r);
    ref_free(&r);
}

static void test_empty_and_missing_dir(void **state) {
    struct fx *f = *state;
    assert_int_equal(mkdir(f->dir, 0750), 0);
    expect_refused(f->dir, ORTAK_JP_EMPTY, "", 0, 0, "holds no journal");
    static char names[128][64];
    assert_int_equal(dir_names(f->dir, names), 0);

    /* A directory that does not exist: the operating system's answer, and nothing created without create. */
    char missing[P];
    path_join(missing, f->base, "missing");
    struct ortak_journal_problem pb;
    struct ortak_journal_head h;
    assert_int_equal(ortak_journal_scan(missing, NULL, 0, NULL, NULL, &h, NULL, &pb), ORTAK_IO);
    assert_int_equal(pb.kind, ORTAK_JP_IO);
    assert_non_null(strstr(pb.message, "No such file or directory"));
    struct ortak_journal_options o = jopts(false);
    struct ortak_journal *j = NULL;
    assert_int_equal(ortak_journal_open(missing, &o, 0, NULL, NULL, &j, &pb), ORTAK_IO);
    assert_null(j);
    assert_int_equal(pb.kind, ORTAK_JP_IO);
    assert_false(file_exists(missing));
}

/* Sets a segment header's version and rewrites its header checksum, as a newer ortak would have written it. */
static void segment_set_version(const char *path, uint32_t version) {
    unsigned char h[SEG_HDR];
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, h, sizeof h, 0), (ssize_t)sizeof h);
    le_put(h + 8, version, 4);
    le_put(h + 120, XXH3_64bits(h, 120), 8);
    assert_int_equal(pwrite(fd, h, sizeof h, 0), (ssize_t)sizeof h);
    close(fd);
}

static void test_newer_version(void **state) {
    struct fx *f = *state;
    struct ref r;
    ref_init(&r, 260, SEG, GROUP, len_big);
    ref_write(f->dir, &r);
    char name[32], path[P];
    for (uint32_t i = 0; i < 3; i += 2) {
        seg_name(name, r.first[i]);
        path_join(path, f->dir, name);
        segment_set_version(path, 2);
        expect_refused(f->dir, ORTAK_JP_VERSION, name, 8, r.first[i], "segment format version 2");
        segment_set_version(path, 1);
    }
    ref_check_files(f->dir, &r);
    ref_free(&r);
}

static void test_truncated_segment(void **state) {
    struct fx *f = *state;
    struct ref r;
    ref_init(&r, 260, SEG, GROUP, len_big);
    ref_write(f->dir, &r);
    char name[32], path[P];
    size_t len;
    uint32_t cases[][2] = {{1, SEG / 2}, {r.nseg - 1, SEG / 2}, {0, 100}, {r.nseg - 1, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        seg_name(name, r.first[cases[i][0]]);
        path_join(path, f->dir, name);
        unsigned char *orig = file_read(path, &len);
        assert_int_equal(truncate(path, cases[i][1]), 0);
        expect_refused(f->dir, ORTAK_JP_TRUNCATED, name, cases[i][1], r.first[cases[i][0]],
                       cases[i][1] < SEG_HDR ? "shorter than its header" : "its header says 65536");
        file_pwrite(path, 0, orig, len);
        free(orig);
    }
    ref_check_files(f->dir, &r);
    ref_free(&r);
}

/* ---- engines ----------------------------------------------------------------------------------------------------- */

#define ACC_ISSUANCE 1 /* NBRKKZKX's KZT issuance account; banks' settlement accounts are 2, 3, ... */
#define BANKS 4

static const char *const bank_bic[BANKS] = {"HSBKKZKX", "KCJBKZKX", "CASPKZKA", "ATYNKZKA"};

static void small_config(struct ortak_config *c) {
    ortak_config_default(c);
    c->limits.participants_max = 16;
    c->limits.accounts_max = 64;
    c->limits.transfers_max = 8192;
    c->limits.pending_max = 64;
    c->limits.history_max = 16384;
    c->limits.batch_max = 64;
    c->limits.payments_max = 16;
}

static void apply_ok(struct ortak_engine *e, const struct ortak_cmd *cmds, uint32_t n) {
    struct ortak_result res[64];
    assert_true(n <= 64);
    assert_int_equal(ortak_engine_apply(e, cmds, n, res), ORTAK_OK);
    for (uint32_t i = 0; i < n; i++) assert_int_equal(res[i].rc, ORTAK_OK);
}

/* The commands that admit the central bank and BANKS banks, open their accounts and fund the banks. */
static uint32_t setup_cmds(ortak_time_ns ts, struct ortak_cmd *out) {
    uint32_t n = 0;
    out[n++] = tu_participant(ts, "NBRKKZKX", "National Bank of Kazakhstan", ORTAK_ROLE_CENTRAL_BANK);
    out[n++] = tu_account(ts, ACC_ISSUANCE, "NBRKKZKX", "KZT", ORTAK_ACCOUNT_ISSUANCE);
    for (uint32_t b = 0; b < BANKS; b++) {
        out[n++] = tu_participant(ts, bank_bic[b], bank_bic[b], ORTAK_ROLE_BANK);
        out[n++] = tu_account(ts, 2 + b, bank_bic[b], "KZT", ORTAK_ACCOUNT_SETTLEMENT);
        out[n++] = tu_transfer(ts, 100 + b, ACC_ISSUANCE, 2 + b, 100000000, 0);
    }
    return n;
}

/* An engine with the set-up applied and `rounds` batches of transfers between the banks after it. */
static struct ortak_engine *engine_busy(uint32_t rounds) {
    struct ortak_config cfg;
    small_config(&cfg);
    struct ortak_engine *e;
    assert_int_equal(ortak_engine_open(&cfg, &e), ORTAK_OK);
    struct ortak_cmd cmds[64];
    apply_ok(e, cmds, setup_cmds(T0, cmds));
    for (uint32_t k = 0; k < rounds; k++) {
        for (uint32_t i = 0; i < 8; i++)
            cmds[i] = tu_transfer(T0 + k + 1, 1000 + k * 8 + i, 2 + i % BANKS, 2 + (i + 1) % BANKS, 10 + i, 0);
        apply_ok(e, cmds, 8);
    }
    return e;
}

static void state_hash(const struct ortak_engine *e, uint8_t out[32]) { ortak_engine_state_hash(e, out); }

/* ---- snapshots --------------------------------------------------------------------------------------------------- */

static struct ortak_journal_head fake_head(uint64_t seq) {
    struct ortak_journal_head h = {.seq = seq, .timestamp = T0 + seq};
    memset(h.hash, (int)(seq & 0xff), 32);
    return h;
}

struct membuf {
    unsigned char *p;
    size_t len;
};

static void membuf_sink(void *ctx, const void *data, size_t len) {
    struct membuf *b = ctx;
    b->p = realloc(b->p, b->len + len);
    assert_non_null(b->p);
    memcpy(b->p + b->len, data, len);
    b->len += len;
}

static void test_snapshot_round_trip(void **state) {
    struct fx *f = *state;
    assert_int_equal(mkdir(f->dir, 0750), 0);
    struct ortak_engine *e = engine_busy(5);
    struct ortak_journal_head head = fake_head(10);
    ortak_snapshot_write(f->dir, NULL, e, &head, 0);

    /* The file is the header of docs/formats/journal.md and the engine's canonical encoding. */
    static char names[128][64];
    char name[32], path[P];
    snap_name(name, 10);
    assert_int_equal(dir_names(f->dir, names), 1);
    assert_string_equal(names[0], name);
    path_join(path, f->dir, name);
    size_t len;
    unsigned char *file = file_read(path, &len);
    struct membuf enc = {0};
    ortak_engine_encode(e, membuf_sink, &enc);
    uint8_t hash[32];
    state_hash(e, hash);
    assert_int_equal(len, SEG_HDR + enc.len);
    assert_memory_equal(file, "ORTAKSNP", 8);
    assert_int_equal(le_get(file + 8, 4), 1);
    assert_int_equal(le_get(file + 12, 4), SEG_HDR);
    assert_int_equal(le_get(file + 16, 8), 10);
    assert_int_equal(le_get(file + 24, 8), T0 + 10);
    assert_memory_equal(file + 32, head.hash, 32);
    assert_memory_equal(file + 64, hash, 32);
    assert_int_equal(le_get(file + 96, 8), enc.len);
    assert_int_equal(le_get(file + 104, 8), XXH3_64bits(enc.p, enc.len));
    assert_int_equal(le_get(file + 112, 8), 0);
    assert_int_equal(le_get(file + 120, 8), XXH3_64bits(file, 120));
    assert_memory_equal(file + SEG_HDR, enc.p, enc.len);
    free(file);
    free(enc.p);

    struct ortak_config cfg;
    small_config(&cfg);
    struct ortak_engine *l;
    struct ortak_snapshot_info info;
    struct ortak_journal_problem pb;
    memset(&pb, 0xee, sizeof pb);
    assert_int_equal(ortak_snapshot_load(f->dir, NULL, &cfg, &l, &info, &pb), ORTAK_OK);
    assert_non_null(l);
    assert_int_equal(pb.kind, ORTAK_JP_NONE);
    assert_head_equal(&info.head, &head);
    assert_memory_equal(info.state_hash, hash, 32);
    assert_string_equal(info.file, name);
    uint8_t got[32];
    state_hash(l, got);
    assert_memory_equal(got, hash, 32);
    /* It behaves as the original, too. */
    struct ortak_cmd next = tu_transfer(T0 + 100, 777, 2, 3, 5, 0);
    apply_ok(e, &next, 1);
    apply_ok(l, &next, 1);
    state_hash(e, hash);
    state_hash(l, got);
    assert_memory_equal(got, hash, 32);
    ortak_engine_close(l);
    ortak_engine_close(e);
}

/* Writes snapshots at seqs 10, 20, 30 of three different states (keeping 2); their state hashes in `hashes`. */
static void three_snapshots(const char *dir, uint8_t hashes[3][32]) {
    assert_int_equal(mkdir(dir, 0750), 0);
    for (uint32_t i = 0; i < 3; i++) {
        struct ortak_engine *e = engine_busy(i + 1);
        struct ortak_journal_head h = fake_head(10 * (i + 1));
        state_hash(e, hashes[i]);
        ortak_snapshot_write(dir, NULL, e, &h, i == 0 ? 0 : 2);
        ortak_engine_close(e);
    }
}

static void expect_loaded(const char *dir, uint64_t seq, const uint8_t hash[32], enum ortak_journal_problem_kind kind,
                          const char *file, uint64_t pseq, const char *msg_part) {
    struct ortak_config cfg;
    small_config(&cfg);
    struct ortak_engine *e;
    struct ortak_snapshot_info info;
    struct ortak_journal_problem pb;
    assert_int_equal(ortak_snapshot_load(dir, NULL, &cfg, &e, &info, &pb), ORTAK_OK);
    assert_non_null(e);
    assert_int_equal(info.head.seq, seq);
    uint8_t got[32];
    state_hash(e, got);
    assert_memory_equal(got, hash, 32);
    assert_memory_equal(info.state_hash, hash, 32);
    if (kind == ORTAK_JP_NONE)
        assert_int_equal(pb.kind, ORTAK_JP_NONE);
    else
        assert_problem(&pb, kind, file, 0, pseq, msg_part);
    ortak_engine_close(e);
}

static void test_snapshot_keep_and_fallback(void **state) {
    struct fx *f = *state;
    uint8_t hashes[3][32];
    three_snapshots(f->dir, hashes);
    static char names[128][64];
    char n20[32], n30[32], p20[P], p30[P];
    snap_name(n20, 20);
    snap_name(n30, 30);
    path_join(p20, f->dir, n20);
    path_join(p30, f->dir, n30);
    assert_int_equal(dir_names(f->dir, names), 2); /* keep=2 pruned 10 */
    assert_string_equal(names[0], n20);
    assert_string_equal(names[1], n30);
    expect_loaded(f->dir, 30, hashes[2], ORTAK_JP_NONE, NULL, 0, NULL);
    struct ortak_config cfg;
    small_config(&cfg);
    uint32_t count = 9;
    struct ortak_journal_problem pb;
    assert_int_equal(ortak_snapshot_verify_all(f->dir, NULL, &cfg, &count, &pb), ORTAK_OK);
    assert_int_equal(count, 2);
    assert_int_equal(ortak_snapshot_verify_all(f->dir, NULL, NULL, &count, &pb), ORTAK_OK);
    assert_int_equal(count, 2);

    /* The newest damaged in its state: the older one is loaded and the damaged one named. */
    uint64_t mid = SEG_HDR + (file_size(p30) - SEG_HDR) / 2;
    file_flip(p30, mid);
    expect_loaded(f->dir, 20, hashes[1], ORTAK_JP_SNAPSHOT, n30, 30, "state checksum does not match");
    assert_int_equal(ortak_snapshot_verify_all(f->dir, NULL, &cfg, &count, &pb), ORTAK_CORRUPT);
    assert_int_equal(count, 0);
    assert_problem(&pb, ORTAK_JP_SNAPSHOT, n30, 0, 30, "state checksum does not match");
    file_flip(p30, mid);

    /* The older one damaged: verify_all counts the good one first, then names the damaged one. */
    file_flip(p20, 70);
    assert_int_equal(ortak_snapshot_verify_all(f->dir, NULL, &cfg, &count, &pb), ORTAK_CORRUPT);
    assert_int_equal(count, 1);
    assert_problem(&pb, ORTAK_JP_SNAPSHOT, n20, 0, 20, "header checksum does not match");
    expect_loaded(f->dir, 30, hashes[2], ORTAK_JP_NONE, NULL, 0, NULL);

    /* Both damaged: ORTAK_CORRUPT, no engine, the first damaged one met (the newest) named. */
    file_flip(p30, mid);
    struct ortak_engine *e = (struct ortak_engine *)&pb;
    struct ortak_snapshot_info info;
    assert_int_equal(ortak_snapshot_load(f->dir, NULL, &cfg, &e, &info, &pb), ORTAK_CORRUPT);
    assert_null(e);
    assert_problem(&pb, ORTAK_JP_SNAPSHOT, n30, 0, 30, "state checksum does not match");
}

/* Every way a snapshot can be damaged is named precisely, and a lone damaged snapshot is ORTAK_CORRUPT. */
static void test_snapshot_damage_kinds(void **state) {
    struct fx *f = *state;
    assert_int_equal(mkdir(f->dir, 0750), 0);
    struct ortak_engine *e = engine_busy(2);
    struct ortak_journal_head head = fake_head(10);
    ortak_snapshot_write(f->dir, NULL, e, &head, 0);
    ortak_engine_close(e);
    char n10[32], p10[P], n40[32], p40[P];
    snap_name(n10, 10);
    snap_name(n40, 40);
    path_join(p10, f->dir, n10);
    path_join(p40, f->dir, n40);
    size_t len;
    unsigned char *orig = file_read(p10, &len);
    struct ortak_config cfg;
    small_config(&cfg);
    struct ortak_engine *l;
    struct ortak_snapshot_info info;
    struct ortak_journal_problem pb;

    /* The state changed and both its checksums rewritten: only the SHA-256 state hash catches it. */
    unsigned char *bad = malloc(len);
    assert_non_null(bad);
    memcpy(bad, orig, len);
    bad[len - 1] ^= 0x01;
    le_put(bad + 104, XXH3_64bits(bad + SEG_HDR, len - SEG_HDR), 8);
    le_put(bad + 120, XXH3_64bits(bad, 120), 8);
    file_pwrite(p10, 0, bad, len);
    assert_int_equal(ortak_snapshot_load(f->dir, NULL, &cfg, &l, &info, &pb), ORTAK_CORRUPT);
    assert_null(l);
    assert_problem(&pb, ORTAK_JP_SNAPSHOT, n10, 0, 10, "state hash does not match the state");
    file_pwrite(p10, 0, orig, len);

    /* Newer version (header checksum rewritten). */
    memcpy(bad, orig, len);
    le_put(bad + 8, 2, 4);
    le_put(bad + 120, XXH3_64bits(bad, 120), 8);
    file_pwrite(p10, 0, bad, len);
    assert_int_equal(ortak_snapshot_load(f->dir, NULL, &cfg, &l, &info, &pb), ORTAK_CORRUPT);
    assert_problem(&pb, ORTAK_JP_SNAPSHOT, n10, 0, 10, "another format version");
    file_pwrite(p10, 0, orig, len);
    free(bad);

    /* Truncated, and renamed to another sequence number. */
    assert_int_equal(truncate(p10, (off_t)(len - 1)), 0);
    assert_int_equal(ortak_snapshot_load(f->dir, NULL, &cfg, &l, &info, &pb), ORTAK_CORRUPT);
    assert_problem(&pb, ORTAK_JP_SNAPSHOT, n10, 0, 10, "does not match the file's name or size");
    file_create(p10, orig, len);
    assert_int_equal(rename(p10, p40), 0);
    uint32_t count = 5;
    assert_int_equal(ortak_snapshot_verify_all(f->dir, NULL, NULL, &count, &pb), ORTAK_CORRUPT);
    assert_int_equal(count, 0);
    assert_problem(&pb, ORTAK_JP_SNAPSHOT, n40, 0, 40, "does not match the file's name");
    assert_int_equal(rename(p40, p10), 0);

    /* Intact, but too big for a smaller configuration. */
    struct ortak_config tiny;
    small_config(&tiny);
    tiny.limits.participants_max = 2;
    assert_int_equal(ortak_snapshot_load(f->dir, NULL, &tiny, &l, &info, &pb), ORTAK_CORRUPT);
    assert_problem(&pb, ORTAK_JP_SNAPSHOT, n10, 0, 10, "not valid for this configuration");
    assert_int_equal(ortak_snapshot_verify_all(f->dir, NULL, NULL, &count, &pb), ORTAK_OK); /* no cfg: files only */
    assert_int_equal(count, 1);

    /* No snapshot at all: ORTAK_OK without an engine. */
    assert_int_equal(unlink(p10), 0);
    l = (struct ortak_engine *)&pb;
    memset(&info, 0xee, sizeof info);
    assert_int_equal(ortak_snapshot_load(f->dir, NULL, &cfg, &l, &info, &pb), ORTAK_OK);
    assert_null(l);
    assert_int_equal(info.head.seq, 0);
    assert_int_equal(pb.kind, ORTAK_JP_NONE);
    assert_int_equal(ortak_snapshot_verify_all(f->dir, NULL, &cfg, &count, &pb), ORTAK_OK);
    assert_int_equal(count, 0);
    free(orig);
}

/* ---- recovery and the sequencer ---------------------------------------------------------------------------------- */

struct fake_clock {
    ortak_time_ns now;
};

/* 1 µs per call; only the sequencer's journal thread calls it. */
static ortak_time_ns fake_clock_fn(void *ctx) {
    struct fake_clock *c = ctx;
    c->now += 1000;
    return c->now;
}

struct workload {
    uint32_t threads, rounds;
    uint64_t amount; /* differs between journals that must differ */
    uint64_t snapshot_every;
    uint32_t snapshots_keep;
};

struct worker {
    struct ortak_sequencer *s;
    const struct workload *w;
    uint32_t t;
    uint32_t failures; /* cmocka is not thread-safe: workers count, the main thread asserts */
    uint64_t commands;
};

static void *worker_main(void *arg) {
    struct worker *wk = arg;
    uint64_t last_seq = 0;
    for (uint32_t i = 0; i < wk->w->rounds; i++) {
        struct ortak_cmd cmds[3];
        struct ortak_result res[3];
        uint32_t n = 1 + i % 3;
        for (uint32_t k = 0; k < n; k++) {
            ortak_u128 id = ORTAK_U128(wk->t + 1, i * 4 + k + 1);
            cmds[k] = tu_transfer(0, id, 2 + wk->t % BANKS, 2 + (wk->t + 1) % BANKS, wk->w->amount + k, 0);
        }
        uint64_t seq = 0;
        if (ortak_sequencer_submit(wk->s, cmds, n, res, &seq) != ORTAK_OK || seq <= last_seq) wk->failures++;
        for (uint32_t k = 0; k < n; k++) {
            if (res[k].rc != ORTAK_OK || res[k].fail_index != UINT32_MAX) wk->failures++;
        }
        last_seq = seq;
        wk->commands += n;
    }
    return NULL;
}

struct run {
    uint8_t hash[32];
    struct ortak_journal_head head;
    uint64_t commands;
};

/* Recovers (or creates) the journal in `dir`, runs the workload through a sequencer, stops, closes. */
static void run_workload(const char *dir, const struct workload *w, struct fake_clock *clock, struct run *out) {
    struct ortak_config cfg;
    small_config(&cfg);
    struct ortak_journal_options jo = jopts(true);
    struct ortak_engine *e;
    struct ortak_journal *j;
    struct ortak_recovery rep;
    struct ortak_journal_problem pb;
    assert_int_equal(ortak_recover(dir, &cfg, &jo, &e, &j, &rep, &pb), ORTAK_OK);
    struct ortak_sequencer_options so = {.snapshot_every = w->snapshot_every,
                                         .snapshots_keep = w->snapshots_keep,
                                         .clock = fake_clock_fn,
                                         .clock_ctx = clock};
    struct ortak_sequencer *s;
    assert_int_equal(ortak_sequencer_start(e, j, dir, &so, &s), ORTAK_OK);
    out->commands = 0;
    if (rep.head.seq == 0) {
        struct ortak_cmd cmds[64];
        struct ortak_result res[64];
        uint32_t n = setup_cmds(0, cmds);
        uint64_t seq = 0;
        assert_int_equal(ortak_sequencer_submit(s, cmds, n, res, &seq), ORTAK_OK);
        assert_int_equal(seq, 1);
        for (uint32_t i = 0; i < n; i++) assert_int_equal(res[i].rc, ORTAK_OK);
        out->commands = n;
    }
    pthread_t tid[4];
    struct worker wk[4];
    assert_true(w->threads <= 4);
    for (uint32_t t = 0; t < w->threads; t++) {
        wk[t] = (struct worker){.s = s, .w = w, .t = t};
        assert_int_equal(pthread_create(&tid[t], NULL, worker_main, &wk[t]), 0);
    }
    for (uint32_t t = 0; t < w->threads; t++) {
        assert_int_equal(pthread_join(tid[t], NULL), 0);
        assert_int_equal(wk[t].failures, 0);
        out->commands += wk[t].commands;
    }
    ortak_sequencer_stop(s, &e, &j);
    state_hash(e, out->hash);
    ortak_journal_head_get(j, &out->head);
    ortak_journal_close(j);
    ortak_engine_close(e);
}

/* Recovers `dir` and checks the result against a run; returns the report. */
static struct ortak_recovery recover_check(const char *dir, const struct run *want) {
    struct ortak_config cfg;
    small_config(&cfg);
    struct ortak_journal_options jo = jopts(false);
    struct ortak_engine *e;
    struct ortak_journal *j;
    struct ortak_recovery rep;
    struct ortak_journal_problem pb;
    assert_int_equal(ortak_recover(dir, &cfg, &jo, &e, &j, &rep, &pb), ORTAK_OK);
    uint8_t hash[32];
    state_hash(e, hash);
    assert_memory_equal(hash, want->hash, 32);
    assert_head_equal(&rep.head, &want->head);
    struct ortak_journal_head h;
    ortak_journal_head_get(j, &h);
    assert_head_equal(&h, &want->head);
    assert_int_equal(rep.replayed_batches, want->head.seq - rep.snapshot_seq);
    ortak_journal_close(j);
    ortak_engine_close(e);
    return rep;
}

/* The snapshots in `dir`, newest last; returns how many. */
static uint32_t snapshot_seqs(const char *dir, uint64_t seqs[128]) {
    static char names[128][64];
    uint32_t n = dir_names(dir, names), k = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (strlen(names[i]) != 24 || strcmp(names[i] + 20, ".osn") != 0) continue;
        uint64_t v = 0;
        for (int d = 0; d < 20; d++) v = v * 10 + (uint64_t)(names[i][d] - '0');
        seqs[k++] = v;
    }
    return k;
}

static void test_recovery_concurrent(void **state) {
    struct fx *f = *state;
    struct fake_clock clock = {T0};
    struct workload w = {.threads = 4, .rounds = 30, .amount = 3};
    struct run run;
    run_workload(f->dir, &w, &clock, &run);
    assert_true(run.head.seq >= 1 + 30); /* a caller has one submission in flight: at most 4 share a batch */
    assert_true(run.head.seq <= 1 + 4 * 30);
    struct ortak_recovery rep = recover_check(f->dir, &run);
    assert_int_equal(rep.snapshot_seq, 0);
    assert_int_equal(rep.replayed_commands, run.commands);
    assert_int_equal(rep.torn_bytes, 0);
    uint64_t torn = 1;
    struct ortak_journal_head h;
    struct ortak_journal_problem pb;
    assert_int_equal(ortak_journal_scan(f->dir, NULL, 0, NULL, NULL, &h, &torn, &pb), ORTAK_OK);
    assert_head_equal(&h, &run.head);
    assert_int_equal(torn, 0);
}

static void test_recovery_from_snapshot(void **state) {
    struct fx *f = *state;
    struct fake_clock clock = {T0};
    struct workload w = {.threads = 3, .rounds = 30, .amount = 5, .snapshot_every = 5, .snapshots_keep = 2};
    struct run run;
    run_workload(f->dir, &w, &clock, &run);
    uint64_t seqs[128];
    assert_int_equal(snapshot_seqs(f->dir, seqs), 2);
    assert_true(seqs[1] > seqs[0] && seqs[1] <= run.head.seq);
    struct ortak_recovery rep = recover_check(f->dir, &run);
    assert_int_equal(rep.snapshot_seq, seqs[1]);

    /* Without snapshots, a full replay reaches the same state. */
    char path[P], name[32];
    for (uint32_t i = 0; i < 2; i++) {
        snap_name(name, seqs[i]);
        path_join(path, f->dir, name);
        assert_int_equal(unlink(path), 0);
    }
    rep = recover_check(f->dir, &run);
    assert_int_equal(rep.snapshot_seq, 0);
    assert_int_equal(rep.replayed_commands, run.commands);
}

/* Walks a segment file: the offset of record `seq` (0 when it is not there) and the end of its data. */
static void segment_walk(const char *path, uint64_t seq, uint64_t *off_seq, uint64_t *end) {
    size_t len;
    unsigned char *buf = file_read(path, &len);
    static const unsigned char zeros[REC_HDR];
    uint64_t off = SEG_HDR;
    *off_seq = 0;
    while (off + REC_HDR <= len && memcmp(buf + off, zeros, REC_HDR) != 0) {
        if (le_get(buf + off + 8, 8) == seq) *off_seq = off;
        off += REC_HDR + pad8(le_get(buf + off + 24, 4));
    }
    *end = off;
    free(buf);
}

static void copy_file(const char *from_dir, const char *to_dir, const char *name) {
    char from[P], to[P];
    path_join(from, from_dir, name);
    path_join(to, to_dir, name);
    size_t len;
    unsigned char *buf = file_read(from, &len);
    file_create(to, buf, len);
    free(buf);
}

/* Recovery of `dir` is refused with exactly this problem, and changes nothing on disk. */
static void expect_recovery_refused(const char *dir, enum ortak_journal_problem_kind kind, const char *file,
                                    uint64_t offset, uint64_t seq, const char *msg_part) {
    static char before[16384], after[16384];
    listing(dir, before, sizeof before);
    struct ortak_config cfg;
    small_config(&cfg);
    struct ortak_journal_options jo = jopts(false);
    struct ortak_engine *e;
    struct ortak_journal *j;
    struct ortak_recovery rep;
    struct ortak_journal_problem pb;
    assert_int_equal(ortak_recover(dir, &cfg, &jo, &e, &j, &rep, &pb), ORTAK_CORRUPT);
    assert_null(e);
    assert_null(j);
    assert_problem(&pb, kind, file, offset, seq, msg_part);
    listing(dir, after, sizeof after);
    assert_string_equal(before, after);
}

/* A snapshot from another journal (copied in) does not sit on this journal's chain: recovery refuses it. */
static void test_recovery_foreign_snapshot(void **state) {
    struct fx *f = *state;
    char other[P], seg1[P], n1[32], name[32];
    path_join(other, f->base, "other");
    struct fake_clock ca = {T0}, cb = {T0};
    struct workload wa = {.threads = 1, .rounds = 12, .amount = 7};
    struct workload wb = {.threads = 1, .rounds = 20, .amount = 9, .snapshot_every = 1};
    struct run ra, rb;
    run_workload(f->dir, &wa, &ca, &ra);
    run_workload(other, &wb, &cb, &rb);
    assert_int_equal(ra.head.seq, 13); /* one caller: one batch per submission */
    assert_int_equal(rb.head.seq, 21);
    seg_name(n1, 1);
    path_join(seg1, f->dir, n1);
    uint64_t off5, end;
    segment_walk(seg1, 5, &off5, &end);
    assert_true(off5 > SEG_HDR);

    /* Older than this journal's head: the first record replayed after it names another predecessor. */
    snap_name(name, 4);
    copy_file(other, f->dir, name);
    expect_recovery_refused(f->dir, ORTAK_JP_PAYLOAD, n1, off5, 5, "is not on this journal's hash chain");
    char path[P];
    path_join(path, f->dir, name);
    assert_int_equal(unlink(path), 0);

    /* At this journal's head, with another hash; and beyond its head. */
    snap_name(name, 13);
    copy_file(other, f->dir, name);
    expect_recovery_refused(f->dir, ORTAK_JP_SNAPSHOT, name, 0, 13, "differs from it");
    path_join(path, f->dir, name);
    assert_int_equal(unlink(path), 0);
    snap_name(name, 14);
    copy_file(other, f->dir, name);
    expect_recovery_refused(f->dir, ORTAK_JP_SNAPSHOT, name, 0, 14, "journal ends at record 13");
    path_join(path, f->dir, name);
    assert_int_equal(unlink(path), 0);
    struct ortak_recovery rep = recover_check(f->dir, &ra);
    assert_int_equal(rep.snapshot_seq, 0);
}

/* With a fake clock every timestamp is known: one per batch, on the record and on each of its commands. */
static void test_sequencer_timestamps(void **state) {
    struct fx *f = *state;
    struct fake_clock clock = {T0};
    struct workload w = {.threads = 1, .rounds = 5, .amount = 1};
    struct run run;
    run_workload(f->dir, &w, &clock, &run);
    assert_int_equal(run.head.seq, 6);
    assert_int_equal(run.head.timestamp, T0 + 6000);
    struct collect c = {0};
    struct ortak_journal_problem pb;
    assert_int_equal(ortak_journal_scan(f->dir, NULL, 0, collect_fn, &c, NULL, NULL, &pb), ORTAK_OK);
    assert_int_equal(c.n, 6);
    struct ortak_cmd cmds[64];
    for (uint64_t i = 0; i < c.n; i++) {
        assert_int_equal(c.v[i].ts, T0 + (i + 1) * 1000);
        uint32_t n = 0;
        assert_int_equal(ortak_batch_decode(c.v[i].payload, c.v[i].len, cmds, 64, &n), ORTAK_OK);
        assert_int_equal(n, i == 0 ? 2 + 3 * BANKS : 1 + (i - 1) % 3);
        for (uint32_t k = 0; k < n; k++) assert_int_equal(cmds[k].timestamp, c.v[i].ts);
    }
    collect_free(&c);

    /* After recovery a clock behind the journal cannot take time backwards; one ahead is followed. */
    ortak_time_ns starts[2] = {T0, T0 + ORTAK_NS_PER_S}, want[2] = {T0 + 6000, T0 + ORTAK_NS_PER_S + 1000};
    for (uint32_t r = 0; r < 2; r++) {
        struct ortak_config cfg;
        small_config(&cfg);
        struct ortak_journal_options jo = jopts(false);
        struct ortak_engine *e;
        struct ortak_journal *j;
        struct ortak_recovery rep;
        assert_int_equal(ortak_recover(f->dir, &cfg, &jo, &e, &j, &rep, &pb), ORTAK_OK);
        struct fake_clock late = {starts[r]};
        struct ortak_sequencer_options so = {.clock = fake_clock_fn, .clock_ctx = &late};
        struct ortak_sequencer *s;
        assert_int_equal(ortak_sequencer_start(e, j, f->dir, &so, &s), ORTAK_OK);
        struct ortak_cmd t = tu_transfer(0, ORTAK_U128(99, r + 1), 2, 3, 1, 0);
        struct ortak_result res;
        uint64_t seq = 0;
        assert_int_equal(ortak_sequencer_submit(s, &t, 1, &res, &seq), ORTAK_OK);
        assert_int_equal(res.rc, ORTAK_OK);
        assert_int_equal(seq, 7 + r);
        ortak_sequencer_stop(s, &e, &j);
        struct ortak_journal_head h;
        ortak_journal_head_get(j, &h);
        assert_int_equal(h.timestamp, want[r]);
        assert_int_equal(ortak_engine_now(e), want[r]);
        ortak_journal_close(j);
        ortak_engine_close(e);
    }
}

/*
 * A journal written with snapshots every 3 batches (2 kept), its newest snapshot damaged when `damage_snapshot`,
 * 40 bytes of a torn write after its data when `torn`. Returns the run; the snapshots' seqs in `seqs`.
 */
static void damaged_run(const char *dir, bool damage_snapshot, bool torn, struct run *run, uint64_t seqs[128],
                        char seg[P], uint64_t *end) {
    struct fake_clock clock = {T0};
    struct workload w = {.threads = 2, .rounds = 20, .amount = 2, .snapshot_every = 3, .snapshots_keep = 2};
    run_workload(dir, &w, &clock, run);
    assert_int_equal(snapshot_seqs(dir, seqs), 2);
    char newest[32], path[P];
    snap_name(newest, seqs[1]);
    path_join(path, dir, newest);
    if (damage_snapshot) file_flip(path, file_size(path) - 3);
    seg_path(seg, dir, 1);
    uint64_t off;
    segment_walk(seg, 0, &off, end);
    assert_true(file_zero_from(seg, *end)); /* one segment holds it all */
    static unsigned char junk[40];
    memset(junk, 0xab, sizeof junk);
    if (torn) file_pwrite(seg, *end, junk, sizeof junk);
}

/* Recovers `dir` expecting the run's state from snapshot `snapshot_seq` and `torn` bytes cut off. */
static void recover_expect(const char *dir, const struct run *run, uint64_t snapshot_seq, uint64_t torn,
                           struct ortak_journal_problem *pb) {
    struct ortak_config cfg;
    small_config(&cfg);
    struct ortak_journal_options jo = jopts(false);
    struct ortak_engine *e;
    struct ortak_journal *j;
    struct ortak_recovery rep;
    assert_int_equal(ortak_recover(dir, &cfg, &jo, &e, &j, &rep, pb), ORTAK_OK);
    assert_int_equal(rep.snapshot_seq, snapshot_seq);
    assert_int_equal(rep.torn_bytes, torn);
    assert_int_equal(rep.replayed_batches, run->head.seq - snapshot_seq);
    assert_head_equal(&rep.head, &run->head);
    uint8_t hash[32];
    state_hash(e, hash);
    assert_memory_equal(hash, run->hash, 32);
    ortak_journal_close(j);
    ortak_engine_close(e);
}

/* Recovery falls back from a damaged newest snapshot to the older one, reports it, and reaches the same state. */
static void test_recovery_damaged_snapshot(void **state) {
    struct fx *f = *state;
    struct run run;
    uint64_t seqs[128], end;
    char seg[P], newest[32];
    damaged_run(f->dir, true, false, &run, seqs, seg, &end);
    snap_name(newest, seqs[1]);
    struct ortak_journal_problem pb;
    recover_expect(f->dir, &run, seqs[0], 0, &pb);
    assert_problem(&pb, ORTAK_JP_SNAPSHOT, newest, 0, seqs[1], "state checksum does not match");
}

/* Recovery cuts a torn tail (zeroed on disk) and reaches the state of the acknowledged records. */
static void test_recovery_torn_tail(void **state) {
    struct fx *f = *state;
    struct run run;
    uint64_t seqs[128], end;
    char seg[P];
    damaged_run(f->dir, false, true, &run, seqs, seg, &end);
    struct ortak_journal_problem pb;
    recover_expect(f->dir, &run, seqs[1], 40, &pb);
    assert_true(file_zero_from(seg, end));
    recover_expect(f->dir, &run, seqs[1], 0, &pb);
    assert_int_equal(pb.kind, ORTAK_JP_NONE);
}

/* ---- the sequencer's other promises ------------------------------------------------------------------------------ */

struct events_seen {
    uint64_t calls, last_seq, posted;
    bool in_order;
};

static void on_events(void *ctx, uint64_t seq, const struct ortak_event *ev, uint32_t n) {
    struct events_seen *es = ctx; /* the engine thread only; read after ortak_sequencer_stop joined it */
    es->in_order = es->in_order && seq == es->last_seq + 1;
    es->last_seq = seq;
    es->calls++;
    for (uint32_t i = 0; i < n; i++) es->posted += ev[i].kind == ORTAK_EV_TRANSFER_POSTED;
}

static void read_balance(const struct ortak_engine *e, void *ctx) {
    *(ortak_i128 *)ctx = tu_account_info(e, 3).balance;
}

struct chain_worker {
    struct ortak_sequencer *s;
    uint32_t t, rounds, failures;
};

/* Thread 0 submits open chains (refused on their own); thread 1 plain transfers that must never join them. */
static void *chain_worker_main(void *arg) {
    struct chain_worker *cw = arg;
    for (uint32_t i = 0; i < cw->rounds; i++) {
        struct ortak_cmd c =
            tu_transfer(0, ORTAK_U128(50 + cw->t, i + 1), 2 + cw->t, 4, 1, cw->t == 0 ? ORTAK_TRANSFER_LINKED : 0);
        struct ortak_result res;
        if (ortak_sequencer_submit(cw->s, &c, 1, &res, NULL) != ORTAK_OK) cw->failures++;
        if (res.rc != (cw->t == 0 ? ORTAK_LINKED_CHAIN_OPEN : ORTAK_OK)) cw->failures++;
    }
    return NULL;
}

enum { ASYNC_SUBS = 10 };

struct async_seen {
    atomic_uint calls, zero_seqs;
    atomic_ullong last_seq;
    atomic_bool ordered_set, ordered;
};

static void async_done(void *ctx, uint64_t seq) {
    struct async_seen *as = ctx;
    if (seq == 0) {
        atomic_fetch_add(&as->zero_seqs, 1);
    } else {
        /* sequence numbers never go backwards from one completion to the next */
        bool first = !atomic_exchange(&as->ordered_set, true);
        if (first) atomic_store(&as->ordered, true);
        if (seq < atomic_load(&as->last_seq)) atomic_store(&as->ordered, false);
        atomic_store(&as->last_seq, seq);
    }
    atomic_fetch_add(&as->calls, 1);
}

/* ---- the sequencer with a journal backend (the replicated journal's shape) --------------------------------------- */

/* A backend over a file journal that refuses every batch it forms itself while `refuse` is set. */
struct fake_backend {
    struct ortak_journal *j;
    atomic_bool refuse;
};

static ortak_rc fake_append(void *ctx, ortak_time_ns ts, const void *payload, uint32_t len,
                            const struct ortak_journal_head *expect, struct ortak_journal_head *head) {
    struct fake_backend *b = ctx;
    struct ortak_journal_head now, next;
    ortak_journal_head_get(b->j, &now);
    ortak_journal_head_next(&now, ts, payload, len, &next);
    if (expect && (expect->seq != next.seq || memcmp(expect->hash, next.hash, 32) != 0)) return ORTAK_CORRUPT;
    if (!expect && atomic_load(&b->refuse)) return ORTAK_NOT_LEADER;
    uint64_t seq;
    assert_int_equal(ortak_journal_append(b->j, ts, payload, len, &seq), ORTAK_OK);
    ortak_journal_head_get(b->j, head);
    assert_memory_equal(head->hash, next.hash, 32); /* the position computed ahead is the file journal's */
    return ORTAK_OK;
}

static ortak_rc fake_sync(void *ctx, uint64_t *durable_seq) {
    struct fake_backend *b = ctx;
    struct ortak_journal_head h;
    ortak_journal_sync(b->j);
    ortak_journal_head_get(b->j, &h);
    *durable_seq = h.seq;
    return ORTAK_OK;
}

static void state_hash_of(const struct ortak_engine *e, void *ctx) { ortak_engine_state_hash(e, ctx); }

struct record_seen {
    atomic_uint calls;
    atomic_int rc;
};

static void record_done(void *ctx, ortak_rc rc) {
    struct record_seen *rs = ctx;
    atomic_store(&rs->rc, (int)rc);
    atomic_fetch_add(&rs->calls, 1);
}

static void test_sequencer_backend(void **state) {
    struct fx *f = *state;
    struct ortak_config cfg;
    small_config(&cfg);
    struct ortak_journal_options jo = jopts(true);
    struct ortak_engine *e;
    struct ortak_journal *j;
    struct ortak_recovery rep;
    struct ortak_journal_problem pb;
    assert_int_equal(ortak_recover(f->dir, &cfg, &jo, &e, &j, &rep, &pb), ORTAK_OK);
    struct fake_backend fb = {.j = j};
    struct ortak_journal_backend be = {.append = fake_append, .sync = fake_sync, .ctx = &fb};
    struct ortak_sequencer_options so = {.backend = &be};
    struct ortak_sequencer *s;
    assert_int_equal(ortak_sequencer_start(e, j, f->dir, &so, &s), ORTAK_OK);

    struct ortak_cmd c = tu_transfer(0, ORTAK_U128(7, 1), 2, 3, 1, 0);
    struct ortak_result res;
    uint64_t seq = 0;
    assert_int_equal(ortak_sequencer_submit(s, &c, 1, &res, &seq), ORTAK_OK);
    assert_int_equal(seq, 1);
    assert_int_not_equal(res.rc, ORTAK_NOT_LEADER);

    /* refused: not applied, not journaled, every command told so, no sequence number */
    uint8_t before[32], after[32];
    ortak_sequencer_query(s, state_hash_of, before);
    atomic_store(&fb.refuse, true);
    struct ortak_cmd two[2] = {tu_transfer(0, ORTAK_U128(7, 2), 2, 3, 1, 0),
                               tu_transfer(0, ORTAK_U128(7, 3), 2, 3, 1, 0)};
    struct ortak_result res2[2];
    seq = 99;
    assert_int_equal(ortak_sequencer_submit(s, two, 2, res2, &seq), ORTAK_OK);
    assert_int_equal(seq, 0);
    assert_int_equal(res2[0].rc, ORTAK_NOT_LEADER);
    assert_int_equal(res2[1].rc, ORTAK_NOT_LEADER);
    ortak_sequencer_query(s, state_hash_of, after);
    assert_memory_equal(before, after, 32);

    /* a record formed elsewhere: journaled as it is and applied; one that does not continue the chain is not */
    struct ortak_journal_head h, next;
    ortak_journal_head_get(j, &h); /* the journal thread is idle: no submission waits */
    assert_int_equal(h.seq, 1);
    struct ortak_cmd rc_cmd = tu_transfer(h.timestamp + 5, ORTAK_U128(7, 4), 2, 3, 1, 0);
    unsigned char buf[1024];
    size_t len = ortak_batch_encode(&rc_cmd, 1, buf, sizeof buf);
    ortak_journal_head_next(&h, h.timestamp + 5, buf, (uint32_t)len, &next);
    struct record_seen rs = {0};
    struct ortak_journal_head wrong = next;
    wrong.hash[0] ^= 1;
    assert_int_equal(ortak_sequencer_submit_record(s, &wrong, buf, (uint32_t)len, record_done, &rs), ORTAK_OK);
    while (atomic_load(&rs.calls) < 1) nanosleep(&(struct timespec){0, 1000000}, NULL);
    assert_int_equal(atomic_load(&rs.rc), ORTAK_CORRUPT);
    assert_int_equal(ortak_sequencer_submit_record(s, &next, buf, (uint32_t)len, record_done, &rs), ORTAK_OK);
    while (atomic_load(&rs.calls) < 2) nanosleep(&(struct timespec){0, 1000000}, NULL);
    assert_int_equal(atomic_load(&rs.rc), ORTAK_OK);

    /* writing again: the next sequence number follows the record */
    atomic_store(&fb.refuse, false);
    assert_int_equal(ortak_sequencer_submit(s, two, 2, res2, &seq), ORTAK_OK);
    assert_int_equal(seq, 3);
    ortak_sequencer_stop(s, &e, &j);
    uint8_t live[32];
    ortak_engine_state_hash(e, live);
    ortak_journal_close(j);
    ortak_engine_close(e);

    /* recovery rebuilds exactly the live state from what the backend journaled */
    assert_int_equal(ortak_recover(f->dir, &cfg, &jo, &e, &j, &rep, &pb), ORTAK_OK);
    assert_int_equal(rep.head.seq, 3);
    uint8_t rebuilt[32];
    ortak_engine_state_hash(e, rebuilt);
    assert_memory_equal(live, rebuilt, 32);
    ortak_journal_close(j);
    ortak_engine_close(e);
}

static void test_sequencer_api(void **state) {
    struct fx *f = *state;
    struct ortak_config cfg;
    small_config(&cfg);
    struct ortak_journal_options jo = jopts(true);
    struct ortak_engine *e;
    struct ortak_journal *j;
    struct ortak_recovery rep;
    struct ortak_journal_problem pb;
    assert_int_equal(ortak_recover(f->dir, &cfg, &jo, &e, &j, &rep, &pb), ORTAK_OK);
    struct fake_clock clock = {T0};
    struct events_seen es = {.in_order = true};
    struct ortak_sequencer_options so = {
        .group_delay_us = 200, .clock = fake_clock_fn, .clock_ctx = &clock, .on_events = on_events, .events_ctx = &es};
    struct ortak_sequencer *s;
    assert_int_equal(ortak_sequencer_start(e, j, f->dir, &so, &s), ORTAK_OK);
    static struct ortak_cmd cmds[65];
    static struct ortak_result res[65];
    uint32_t n = setup_cmds(0, cmds);
    assert_int_equal(ortak_sequencer_submit(s, cmds, n, res, NULL), ORTAK_OK);

    /* Too many commands: refused, nothing submitted; none at all: nothing to do. */
    for (uint32_t i = 0; i < 65; i++) cmds[i] = tu_transfer(0, ORTAK_U128(7, i + 1), 2, 3, 1, 0);
    uint64_t seq = 42;
    assert_int_equal(ortak_sequencer_submit(s, cmds, 65, res, &seq), ORTAK_BATCH_TOO_LARGE);
    assert_int_equal(seq, 42);
    assert_int_equal(ortak_sequencer_submit(s, cmds, 0, res, &seq), ORTAK_OK);
    assert_int_equal(ortak_sequencer_submit(s, cmds, 64, res, &seq), ORTAK_OK);
    assert_int_equal(seq, 2);
    for (uint32_t i = 0; i < 64; i++) assert_int_equal(res[i].rc, ORTAK_OK);
    ortak_i128 balance = 0;
    ortak_sequencer_query(s, read_balance, &balance);
    assert_true(balance == (ortak_i128)100000000 + 64);

    pthread_t tid[2];
    struct chain_worker cw[2];
    for (uint32_t t = 0; t < 2; t++) {
        cw[t] = (struct chain_worker){.s = s, .t = t, .rounds = 25};
        assert_int_equal(pthread_create(&tid[t], NULL, chain_worker_main, &cw[t]), 0);
    }
    for (uint32_t t = 0; t < 2; t++) {
        assert_int_equal(pthread_join(tid[t], NULL), 0);
        assert_int_equal(cw[t].failures, 0);
    }
    /* Asynchronous submissions: each `done` once, on the engine thread, after its results and timestamps. */
    static struct ortak_cmd acmds[ASYNC_SUBS];
    static struct ortak_result ares[ASYNC_SUBS];
    struct async_seen as = {0};
    for (uint32_t i = 0; i < ASYNC_SUBS; i++) {
        acmds[i] = tu_transfer(0, ORTAK_U128(9, i + 1), 2, 3, 1, 0);
        ares[i].rc = UINT32_MAX;
        assert_int_equal(ortak_sequencer_submit_async(s, &acmds[i], 1, &ares[i], async_done, &as), ORTAK_OK);
    }
    for (int spins = 0; atomic_load(&as.calls) < ASYNC_SUBS && spins < 10000; spins++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    assert_int_equal(atomic_load(&as.calls), ASYNC_SUBS);
    assert_true(atomic_load(&as.ordered));
    for (uint32_t i = 0; i < ASYNC_SUBS; i++) {
        assert_int_equal(ares[i].rc, ORTAK_OK);
        assert_true(acmds[i].timestamp >= T0);
    }
    assert_int_equal(ortak_sequencer_submit_async(s, acmds, 65, ares, async_done, &as), ORTAK_BATCH_TOO_LARGE);
    assert_int_equal(ortak_sequencer_submit_async(s, acmds, 0, ares, async_done, &as), ORTAK_OK);
    assert_int_equal(atomic_load(&as.calls), ASYNC_SUBS + 1); /* nothing to submit: done at once, seq 0 */
    assert_int_equal(atomic_load(&as.zero_seqs), 1);

    ortak_sequencer_stop(s, &e, &j);
    struct ortak_journal_head h;
    ortak_journal_head_get(j, &h);
    assert_true(es.in_order);
    assert_int_equal(es.calls, h.seq);
    assert_int_equal(es.last_seq, h.seq);
    assert_int_equal(es.posted, BANKS + 64 + 25 + ASYNC_SUBS);
    ortak_journal_close(j);
    ortak_engine_close(e);
}

/* ---- fault injection: a failed write or sync stops the process --------------------------------------------------- */

/* What the fault layer does: the first `after` calls of `op` succeed, every later one fails with EIO. */
static struct {
    const char *op; /* "pwrite", "fdatasync", "fsync", or "" */
    int after, calls;
    size_t chunk;    /* non-zero: pwrite writes at most this many bytes */
    int eintr_every; /* non-zero: every n-th pwrite is interrupted (EINTR) before writing anything */
    int pwrites;
} fault;

static bool fault_hits(const char *op) { return strcmp(fault.op, op) == 0 && fault.calls++ >= fault.after; }

static ssize_t fault_pwrite(int fd, const void *buf, size_t len, off_t off) {
    if (fault_hits("pwrite")) {
        errno = EIO;
        return -1;
    }
    if (fault.eintr_every && ++fault.pwrites % fault.eintr_every == 0) {
        errno = EINTR;
        return -1;
    }
    if (fault.chunk && len > fault.chunk) len = fault.chunk;
    return pwrite(fd, buf, len, off);
}

static int fault_fdatasync(int fd) {
    if (fault_hits("fdatasync")) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}

static int fault_fsync(int fd) {
    if (fault_hits("fsync")) {
        errno = EIO;
        return -1;
    }
    return fsync(fd);
}

static struct ortak_fileops fault_ops(const char *op, int after, size_t chunk, int eintr_every) {
    memset(&fault, 0, sizeof fault);
    fault.op = op;
    fault.after = after;
    fault.chunk = chunk;
    fault.eintr_every = eintr_every;
    struct ortak_fileops o = *ortak_fileops_posix();
    o.pwrite = fault_pwrite;
    o.fdatasync = fault_fdatasync;
    o.fsync = fault_fsync;
    return o;
}

/*
 * Runs `body` in a child process with its stderr in `err_path`; returns its exit status (128 + signal when
 * killed). The child uses no cmocka assertion (a failed one would run the rest of the suite in the child): it
 * exits with 100+ for an unexpected failure and 0 when the body returns.
 */
static int run_child(void (*body)(void *), void *ctx, const char *err_path) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
        if (fd < 0 || dup2(fd, 2) < 0) _exit(120);
        body(ctx);
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *read_text(const char *path) {
    size_t len;
    unsigned char *buf = file_read(path, &len);
    char *text = realloc(buf, len + 1);
    assert_non_null(text);
    text[len] = '\0';
    return text;
}

static void assert_contains(const char *text, const char *part) {
    if (!strstr(text, part)) print_error("'%s' not found in:\n%s\n", part, text);
    assert_non_null(strstr(text, part));
}

struct jchild {
    const char *dir;
    const char *op;
    int after;
    size_t chunk;
    int eintr_every;
    uint32_t first_group, second_group; /* records appended (1000 bytes each) before the first and second sync */
};

static void child_journal(void *arg) {
    const struct jchild *c = arg;
    struct ortak_fileops ops = fault_ops(c->op, c->after, c->chunk, c->eintr_every);
    struct ortak_journal_options o = {.ops = &ops, .segment_bytes = SEG, .group_bytes_max = GROUP, .create = true};
    struct ortak_journal *j;
    struct ortak_journal_problem pb;
    if (ortak_journal_open(c->dir, &o, 0, NULL, NULL, &j, &pb) != ORTAK_OK) _exit(101);
    static unsigned char payload[1000];
    uint64_t seq;
    for (uint32_t g = 0; g < 2; g++) {
        uint32_t n = g == 0 ? c->first_group : c->second_group;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t next = (g == 0 ? 0 : c->first_group) + i + 1;
            payload_make(next, 1000, payload);
            if (ortak_journal_append(j, ts_of(next), payload, 1000, &seq) != ORTAK_OK || seq != next) _exit(102);
        }
        ortak_journal_sync(j);
    }
    ortak_journal_close(j);
}

/* Runs child_journal, expects exit ORTAK_EXIT_IO with `what` and `file` in its stderr; returns the head left. */
static uint64_t expect_journal_stop(struct fx *f, struct jchild *c, const char *what, const char *file) {
    char err[P], want[P + 64];
    path_join(err, f->base, "stderr.txt");
    c->dir = f->dir;
    assert_int_equal(run_child(child_journal, c, err), ORTAK_EXIT_IO);
    char *text = read_text(err);
    snprintf(want, sizeof want, "%s %s/%s failed: Input/output error", what, f->dir, file);
    assert_contains(text, want);
    free(text);
    struct ortak_journal_head h;
    struct ortak_journal_problem pb;
    uint64_t torn = 1;
    assert_int_equal(ortak_journal_scan(f->dir, NULL, 0, NULL, NULL, &h, &torn, &pb), ORTAK_OK);
    assert_int_equal(torn, 0);
    return h.seq;
}

static void test_fault_write_stops(void **state) {
    struct fx *f = *state;
    /* pwrite #1 is the segment header; #2 the first group; #3 the second. */
    struct jchild c = {.op = "pwrite", .after = 1, .first_group = 5, .second_group = 5};
    assert_int_equal(expect_journal_stop(f, &c, "write to", "00000000000000000001.ojl"), 0);
    tree_remove(f->dir);
    c.after = 2;
    assert_int_equal(expect_journal_stop(f, &c, "write to", "00000000000000000001.ojl"), 5);
}

static void test_fault_sync_stops(void **state) {
    struct fx *f = *state;
    struct jchild c = {.op = "fdatasync", .after = 1, .first_group = 5, .second_group = 5};
    /* The write reached the page cache, so the records are readable; what matters is that nothing went on. */
    assert_int_equal(expect_journal_stop(f, &c, "fdatasync of", "00000000000000000001.ojl"), 10);
    tree_remove(f->dir);
    /* fsync #1 and #2: the first segment and the directory; #3: the second segment, made when the first fills. */
    struct jchild roll = {.op = "fsync", .after = 2, .first_group = 10, .second_group = 60};
    struct ref r;
    ref_init(&r, 70, SEG, GROUP, len_1000);
    char second[32], tmp[40], tmp_path[P];
    seg_name(second, r.first[1]);
    snprintf(tmp, sizeof tmp, "%s.tmp", second);
    assert_int_equal(expect_journal_stop(f, &roll, "sync", tmp), r.first[1] - 1); /* names the file that failed */
    path_join(tmp_path, f->dir, tmp);
    assert_true(file_exists(tmp_path)); /* the half-made segment; ignored by the reader, removed by open */
    struct ortak_journal_options o = jopts(false);
    struct ortak_journal *j;
    struct ortak_journal_problem pb;
    assert_int_equal(ortak_journal_open(f->dir, &o, 0, NULL, NULL, &j, &pb), ORTAK_OK);
    ortak_journal_close(j);
    assert_false(file_exists(tmp_path));
    ref_free(&r);
}

/* Short and interrupted writes are not failures: the journal is byte-equal to one written in single writes. */
static void test_fault_short_writes(void **state) {
    struct fx *f = *state;
    struct jchild c = {.op = "", .chunk = 1000, .eintr_every = 3, .first_group = 30, .second_group = 40};
    char err[P];
    path_join(err, f->base, "stderr.txt");
    c.dir = f->dir;
    assert_int_equal(run_child(child_journal, &c, err), 0);
    struct ref r;
    ref_init(&r, 70, SEG, GROUP, len_1000);
    ref_check_files(f->dir, &r);
    ref_free(&r);
}

struct schild {
    const char *dir;
    const struct ortak_engine *e;
    const char *op;
    int after;
    size_t chunk;
    int eintr_every;
};

static void child_snapshot(void *arg) {
    const struct schild *c = arg;
    struct ortak_fileops ops = fault_ops(c->op, c->after, c->chunk, c->eintr_every);
    struct ortak_journal_head head = fake_head(10);
    ortak_snapshot_write(c->dir, &ops, c->e, &head, 0);
}

/* Snapshot writes fail as journal writes do; a snapshot cut short never replaces a good one. */
static void test_fault_snapshot_stops(void **state) {
    struct fx *f = *state;
    assert_int_equal(mkdir(f->dir, 0750), 0);
    struct ortak_engine *e = engine_busy(2);
    struct ortak_config cfg;
    small_config(&cfg);
    char err[P], tmp[P], snap[P], want[P + 64];
    path_join(err, f->base, "stderr.txt");
    path_join(tmp, f->dir, "00000000000000000010.osn.tmp");
    path_join(snap, f->dir, "00000000000000000010.osn");
    struct {
        const char *op;
        int after;
        const char *what, *file;
        bool renamed;
    } cases[] = {
        {"fsync", 0, "fsync of", tmp, false},            /* the snapshot file */
        {"pwrite", 0, "write to", tmp, false},           /* its state */
        {"fsync", 1, "sync of directory", f->dir, true}, /* the directory, after the rename */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct schild c = {.dir = f->dir, .e = e, .op = cases[i].op, .after = cases[i].after};
        assert_int_equal(run_child(child_snapshot, &c, err), ORTAK_EXIT_IO);
        char *text = read_text(err);
        snprintf(want, sizeof want, "%s %s failed: Input/output error", cases[i].what, cases[i].file);
        assert_contains(text, want);
        free(text);
        assert_int_equal(file_exists(snap), cases[i].renamed);
        assert_int_equal(file_exists(tmp), !cases[i].renamed);
        struct ortak_engine *l;
        struct ortak_snapshot_info info;
        struct ortak_journal_problem pb;
        assert_int_equal(ortak_snapshot_load(f->dir, NULL, &cfg, &l, &info, &pb), ORTAK_OK);
        assert_int_equal(l != NULL, cases[i].renamed); /* a .tmp is never loaded */
        ortak_engine_close(l);
        unlink(tmp);
        unlink(snap);
    }
    ortak_engine_close(e);
}

static void child_sequencer(void *arg) {
    const char *dir = arg;
    struct ortak_fileops ops = fault_ops("fdatasync", 1, 0, 0); /* the first batch is made durable, not the second */
    struct ortak_config cfg;
    small_config(&cfg);
    struct ortak_journal_options jo = {.ops = &ops, .segment_bytes = SEG, .group_bytes_max = GROUP, .create = true};
    struct ortak_engine *e;
    struct ortak_journal *j;
    struct ortak_recovery rep;
    struct ortak_journal_problem pb;
    if (ortak_recover(dir, &cfg, &jo, &e, &j, &rep, &pb) != ORTAK_OK) _exit(101);
    struct fake_clock clock = {T0};
    struct ortak_sequencer_options so = {.clock = fake_clock_fn, .clock_ctx = &clock};
    struct ortak_sequencer *s;
    if (ortak_sequencer_start(e, j, dir, &so, &s) != ORTAK_OK) _exit(102);
    struct ortak_cmd cmds[64];
    struct ortak_result res[64];
    uint32_t n = setup_cmds(0, cmds);
    if (ortak_sequencer_submit(s, cmds, n, res, NULL) != ORTAK_OK || res[0].rc != ORTAK_OK) _exit(103);
    struct ortak_cmd t = tu_transfer(0, 5000, 2, 3, 1, 0);
    ortak_sequencer_submit(s, &t, 1, res, NULL); /* must never return: the process stops in the journal thread */
    _exit(104);
}

/* A failed sync in the sequencer's journal thread stops the process before the caller gets any result. */
static void test_fault_sequencer_sync_stops(void **state) {
    struct fx *f = *state;
    char err[P], want[P + 64];
    path_join(err, f->base, "stderr.txt");
    assert_int_equal(run_child(child_sequencer, f->dir, err), ORTAK_EXIT_IO);
    char *text = read_text(err);
    snprintf(want, sizeof want, "fdatasync of %s/00000000000000000001.ojl failed: Input/output error", f->dir);
    assert_contains(text, want);
    free(text);
    /* The second batch was written before its sync failed, so it is on disk though never acknowledged. */
    struct ortak_config cfg;
    small_config(&cfg);
    struct ortak_journal_options jo = jopts(false);
    struct ortak_engine *e;
    struct ortak_journal *j;
    struct ortak_recovery rep;
    struct ortak_journal_problem pb;
    assert_int_equal(ortak_recover(f->dir, &cfg, &jo, &e, &j, &rep, &pb), ORTAK_OK);
    assert_int_equal(rep.head.seq, 2);
    struct ortak_cmd setup[64];
    assert_int_equal(rep.replayed_commands, setup_cmds(0, setup) + 1);
    assert_int_equal(tu_account_info(e, 2).debits_posted, 1);
    ortak_journal_close(j);
    ortak_engine_close(e);
}

/* A record whose checksum holds but whose batch does not decode is refused by recovery as ORTAK_JP_PAYLOAD. */
static void test_recovery_bad_batch(void **state) {
    struct fx *f = *state;
    struct fake_clock clock = {T0};
    struct workload w = {.threads = 1, .rounds = 4, .amount = 1};
    struct run run;
    run_workload(f->dir, &w, &clock, &run);
    char seg[P], n1[32];
    seg_name(n1, 1);
    path_join(seg, f->dir, n1);
    uint64_t off, end;
    segment_walk(seg, run.head.seq, &off, &end);
    unsigned char count[4];
    le_put(count, 9999, 4); /* more commands than the record holds */
    record_tamper(seg, off, REC_HDR, count, sizeof count);
    expect_recovery_refused(f->dir, ORTAK_JP_PAYLOAD, n1, off, run.head.seq, "no well-formed batch");
}

/* ---- exit codes -------------------------------------------------------------------------------------------------- */

static void test_problem_exit_codes(void **state) {
    (void)state;
    assert_int_equal(ortak_journal_problem_exit_code(ORTAK_JP_NONE), 0);
    assert_int_equal(ortak_journal_problem_exit_code(ORTAK_JP_IO), ORTAK_EXIT_IO);
    int codes[ORTAK_JP_PAYLOAD + 1];
    for (int k = ORTAK_JP_IO; k <= ORTAK_JP_PAYLOAD; k++) {
        codes[k] = ortak_journal_problem_exit_code((enum ortak_journal_problem_kind)k);
        assert_int_not_equal(codes[k], 0);
        assert_in_range(codes[k], 1, 125); /* a shell exit status, not a signal */
        for (int m = ORTAK_JP_IO; m < k; m++) assert_int_not_equal(codes[k], codes[m]);
    }
}

/* ---- behaviour that earlier versions got wrong ------------------------------------------------------------------ */

/* Counts fdatasync calls, to observe where a writer ends its groups. */
static int datasyncs;
static int counting_fdatasync(int fd) {
    datasyncs++;
    return fdatasync(fd);
}

/*
 * The segment header's group_bytes_max is "the most bytes ever written but not yet synced" and the reader uses it
 * to tell a torn tail from damage. Reopened with a larger group_bytes_max, the writer keeps the smaller promise
 * for the segment it goes on writing (so a crash can only tear what the header allows), and the larger value
 * applies from the next segment on.
 */
static void test_group_bytes_raised_on_reopen_keeps_promise(void **state) {
    struct fx *f = *state;
    struct ref r;
    ref_init(&r, 11, SEG, GROUP, len_1000); /* offsets only: the headers differ from the model here */
    struct ortak_journal_options o = {.segment_bytes = SEG, .group_bytes_max = 4096, .create = true};
    struct ortak_journal *j;
    struct ortak_journal_problem pb;
    assert_int_equal(ortak_journal_open(f->dir, &o, 0, NULL, NULL, &j, &pb), ORTAK_OK);
    append_range(j, &r, 1, 1);
    ortak_journal_close(j);
    struct ortak_fileops ops = *ortak_fileops_posix();
    ops.fdatasync = counting_fdatasync;
    o.ops = &ops;
    o.group_bytes_max = GROUP;
    assert_int_equal(ortak_journal_open(f->dir, &o, 0, NULL, NULL, &j, &pb), ORTAK_OK);
    datasyncs = 0;
    append_range(j, &r, 2, 11); /* 10 x 1072 bytes asked for as one group */
    ortak_journal_close(j);
    /* At most 4096 unsynced bytes, i.e. 3 records of 1072, per sync: 10 records need at least 4 syncs. */
    assert_true(datasyncs >= 4);
    struct ortak_journal_head h;
    uint64_t torn = 1;
    assert_int_equal(ortak_journal_scan(f->dir, NULL, 0, NULL, NULL, &h, &torn, &pb), ORTAK_OK);
    assert_int_equal(torn, 0);
    assert_int_equal(h.seq, 11);
    ref_free(&r);
}

/* ortak_journal_open promises that nothing on disk changes when it refuses; with no segment it still deletes .tmp. */
static void test_refused_open_removes_tmp(void **state) {
    struct fx *f = *state;
    assert_int_equal(mkdir(f->dir, 0750), 0);
    char tmp[P];
    path_join(tmp, f->dir, "00000000000000000001.ojl.tmp"); /* a crash while the first segment was being made */
    file_create(tmp, "x", 1);
    struct ortak_journal_options o = jopts(false);
    struct ortak_journal *j;
    struct ortak_journal_problem pb;
    assert_int_equal(ortak_journal_open(f->dir, &o, 0, NULL, NULL, &j, &pb), ORTAK_CORRUPT);
    assert_int_equal(pb.kind, ORTAK_JP_EMPTY);
    assert_true(file_exists(tmp));
}

/*
 * A scan that finds a torn tail returns ORTAK_OK but leaves *problem filled with the torn record's checksum
 * report (kind ORTAK_JP_CHECKSUM), where a clean scan leaves ORTAK_JP_NONE.
 */
static void test_torn_scan_leaves_problem(void **state) {
    struct fx *f = *state;
    struct ref r;
    ref_init(&r, 11, SEG, GROUP, len_torn);
    ref_write(f->dir, &r);
    char seg[P];
    seg_path(seg, f->dir, 1);
    file_flip(seg, r.off[11] + REC_HDR + 3);
    ref_free(&r);
    struct ortak_journal_head h;
    struct ortak_journal_problem pb;
    uint64_t torn = 0;
    assert_int_equal(ortak_journal_scan(f->dir, NULL, 0, NULL, NULL, &h, &torn, &pb), ORTAK_OK);
    assert_int_equal(torn, REC_HDR + 400);
    if (pb.kind != ORTAK_JP_NONE) print_error("left over: kind %d '%s'\n", (int)pb.kind, pb.message);
    assert_int_equal(pb.kind, ORTAK_JP_NONE);
}

/* So recovery with a torn tail overwrites the report of the damaged snapshot it fell back from. */
static void test_recovery_loses_snapshot_report(void **state) {
    struct fx *f = *state;
    struct run run;
    uint64_t seqs[128], end;
    char seg[P], newest[32];
    damaged_run(f->dir, true, true, &run, seqs, seg, &end);
    snap_name(newest, seqs[1]);
    struct ortak_journal_problem pb;
    recover_expect(f->dir, &run, seqs[0], 40, &pb);
    assert_problem(&pb, ORTAK_JP_SNAPSHOT, newest, 0, seqs[1], "state checksum does not match");
}

/*
 * The file operations behave like POSIX, so pwrite may write less than asked or be interrupted. The journal and
 * the snapshot's state loop on that; the snapshot's header write does not and stops the process instead.
 */
static void test_snapshot_header_short_write(void **state) {
    struct fx *f = *state;
    assert_int_equal(mkdir(f->dir, 0750), 0);
    struct ortak_engine *e = engine_busy(1);
    char err[P];
    path_join(err, f->base, "stderr.txt");
    struct schild cases[] = {
        {.dir = f->dir, .e = e, .op = "", .chunk = 64},      /* the 128-byte header written in two halves */
        {.dir = f->dir, .e = e, .op = "", .eintr_every = 2}, /* state in one write, the header interrupted */
    };
    int status[2];
    for (int i = 0; i < 2; i++) {
        status[i] = run_child(child_snapshot, &cases[i], err);
        if (status[i] != 0) {
            char *text = read_text(err);
            print_error("case %d: child exited %d: %s\n", i, status[i], text);
            free(text);
        }
    }
    ortak_engine_close(e);
    assert_int_equal(status[0], 0);
    assert_int_equal(status[1], 0);
}

int main(void) {
    ortak_log_setup(ORTAK_LOG_ERROR, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_payload_limit, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_callback_refusal, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_segments, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_segments_reopen_continue, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_cut_off, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_bounds, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_group, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_damage_early_segment, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_damage_last_segment, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_chain, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_missing_segment, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_foreign_files, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_missing_dir, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_newer_version, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_truncated_segment, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_round_trip, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_keep_and_fallback, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_damage_kinds, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_recovery_concurrent, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_recovery_from_snapshot, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_recovery_foreign_snapshot, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sequencer_timestamps, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_recovery_damaged_snapshot, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_recovery_torn_tail, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sequencer_api, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sequencer_backend, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fault_write_stops, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fault_sync_stops, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fault_short_writes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fault_snapshot_stops, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fault_sequencer_sync_stops, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_recovery_bad_batch, fx_setup, fx_teardown),
        cmocka_unit_test(test_problem_exit_codes),
        cmocka_unit_test_setup_teardown(test_group_bytes_raised_on_reopen_keeps_promise, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_refused_open_removes_tmp, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_torn_scan_leaves_problem, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_recovery_loses_snapshot_report, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_header_short_write, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
