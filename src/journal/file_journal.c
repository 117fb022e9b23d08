/*
 * The file journal: segments of records on a local file system (format: docs/formats/journal.md).
 *
 * Writing: appended records collect in a buffer; ortak_journal_sync writes the buffer with one pwrite and makes it
 * durable with one fdatasync (group commit: the caller decides when a group ends). At most group_bytes_max bytes
 * are ever unsynced, so after a crash any damage lies within that distance of the end of the data: this is how a
 * torn tail is told apart from damage. A record never spans segments; a new segment is created (preallocated,
 * header synced, renamed into place, directory synced) when the next record does not fit.
 *
 * Reading: every segment is checked in full: its header, then every record's checksum, sequence number, timestamp
 * order and previous-record hash. The first problem stops the scan and is reported with file, offset and seq.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "base/assert.h"
#include "base/log.h"
#include "journal_int.h"

struct ortak_journal {
    char dir[PATH_MAX];
    const struct ortak_fileops *ops;
    uint64_t segment_bytes;     /* from the options: for new segments */
    uint64_t group_bytes_max;   /* likewise */
    uint64_t cur_segment_bytes; /* of the segment being written, from its header */
    uint64_t cur_group_bytes;   /* of the segment being written: never more than its header promises readers */
    int fd;
    char seg_path[PATH_MAX];
    uint64_t write_off; /* file offset of the first buffered byte */
    unsigned char *buf;
    size_t buf_len;
    struct ortak_journal_head head;
    uint64_t torn_bytes;
};

/* ---- records ----------------------------------------------------------------------------------------------- */

static uint64_t record_checksum(const unsigned char *header, const void *payload, uint32_t len) {
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, header, 64);
    XXH3_64bits_update(&st, payload, len);
    return XXH3_64bits_digest(&st);
}

static void record_hash(const unsigned char *header, const void *payload, uint32_t len, uint8_t out[32]) {
    struct sha256_ctx sha;
    sha256_init(&sha);
    sha256_update(&sha, JNL_REC_HEADER, header);
    sha256_update(&sha, len, payload);
    sha256_digest(&sha, 32, out);
}

/* Writes the header of the record that follows `prev` (JNL_REC_HEADER bytes, zeroed by the caller). */
static void record_header(unsigned char *p, const struct ortak_journal_head *prev, ortak_time_ns timestamp,
                          const void *payload, uint32_t len) {
    ortak__le_put(p, JNL_REC_MAGIC, 4);
    ortak__le_put(p + 4, JNL_REC_VERSION, 2);
    ortak__le_put(p + 6, JNL_REC_KIND_BATCH, 2);
    ortak__le_put(p + 8, prev->seq + 1, 8);
    ortak__le_put(p + 16, timestamp, 8);
    ortak__le_put(p + 24, len, 4);
    memcpy(p + 32, prev->hash, 32);
    ortak__le_put(p + 64, record_checksum(p, payload, len), 8);
}

void ortak_journal_head_next(const struct ortak_journal_head *prev, ortak_time_ns timestamp, const void *payload,
                             uint32_t len, struct ortak_journal_head *next) {
    unsigned char header[JNL_REC_HEADER] = {0};
    record_header(header, prev, timestamp, payload, len);
    struct ortak_journal_head h = {.seq = prev->seq + 1, .timestamp = timestamp};
    record_hash(header, payload, len, h.hash);
    *next = h;
}

/* ---- directory listing ------------------------------------------------------------------------------------- */

struct listing {
    uint64_t *segments; /* first sequence numbers, ascending */
    uint32_t segment_count;
    uint32_t snapshot_count;
};

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static ortak_rc list_dir(const char *dir, struct listing *ls, struct ortak_journal_problem *problem) {
    memset(ls, 0, sizeof *ls);
    DIR *d = opendir(dir);
    if (!d) return ortak__journal_problem(problem, ORTAK_JP_IO, dir, 0, 0, "cannot open %s: %s", dir, strerror(errno));
    uint32_t cap = 0;
    ortak_rc rc = ORTAK_OK;
    for (struct dirent *de; rc == ORTAK_OK && (de = readdir(d)) != NULL;) {
        uint64_t seq;
        const char *n = de->d_name;
        if (n[0] == '.') continue;
        if (ortak__journal_name_parse(n, JNL_SNAPSHOT_SUFFIX, &seq)) {
            ls->snapshot_count++;
        } else if (ortak__journal_name_parse(n, JNL_SEGMENT_SUFFIX, &seq)) {
            if (ls->segment_count == cap) {
                cap = cap ? cap * 2 : 16;
                uint64_t *grown = realloc(ls->segments, cap * sizeof *grown);
                if (!grown) {
                    rc = ORTAK_NOMEM;
                    break;
                }
                ls->segments = grown;
            }
            ls->segments[ls->segment_count++] = seq;
        } else if (strlen(n) <= strlen(JNL_TMP_SUFFIX) ||
                   strcmp(n + strlen(n) - strlen(JNL_TMP_SUFFIX), JNL_TMP_SUFFIX) != 0) {
            rc = ortak__journal_problem(problem, ORTAK_JP_FOREIGN, n, 0, 0,
                                        "%s/%s is not an ortak journal file: this directory holds something else", dir,
                                        n);
        }
    }
    closedir(d);
    if (rc != ORTAK_OK) {
        free(ls->segments);
        ls->segments = NULL;
        return rc;
    }
    if (ls->segment_count) qsort(ls->segments, ls->segment_count, sizeof *ls->segments, cmp_u64);
    return ORTAK_OK;
}

static void segment_name(char *out, size_t cap, uint64_t first_seq) {
    snprintf(out, cap, "%020llu" JNL_SEGMENT_SUFFIX, (unsigned long long)first_seq);
}

/* ---- scanning ---------------------------------------------------------------------------------------------- */

struct scan {
    const char *dir;
    const struct ortak_fileops *ops;
    uint64_t from_seq;
    ortak_journal_record_fn fn;
    void *ctx;
    struct ortak_journal_problem *problem;
    struct ortak_journal_head head;
    /* the last segment */
    uint64_t last_first_seq;
    uint64_t last_segment_bytes;
    uint64_t last_group_bytes;
    uint64_t tail_off;
    uint64_t torn_bytes;
    unsigned char *buf; /* one read buffer for every segment */
    size_t buf_cap;
};

static bool all_zero(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (p[i]) return false;
    }
    return true;
}

/* One past the last non-zero byte at or after `from`, or `from` when all of it is zero. */
static uint64_t data_end(const unsigned char *buf, uint64_t from, uint64_t len) {
    uint64_t end = len;
    while (end > from && buf[end - 1] == 0) end--;
    return end;
}

static ortak_rc check_segment_header(struct scan *st, const char *name, uint64_t name_seq, const unsigned char *buf,
                                     size_t len, uint64_t *seg_bytes, uint64_t *group_max) {
    if (len < JNL_SEG_HEADER)
        return ortak__journal_problem(st->problem, ORTAK_JP_TRUNCATED, name, len, st->head.seq + 1,
                                      "segment is %zu bytes, shorter than its header", len);
    if (memcmp(buf, JNL_SEG_MAGIC, 8) != 0)
        return ortak__journal_problem(st->problem, ORTAK_JP_FOREIGN, name, 0, st->head.seq + 1,
                                      "not an ortak journal segment (bad magic)");
    if (ortak__le_get(buf + 120, 8) != XXH3_64bits(buf, 120))
        return ortak__journal_problem(st->problem, ORTAK_JP_CHECKSUM, name, 0, st->head.seq + 1,
                                      "segment header checksum does not match");
    uint32_t version = (uint32_t)ortak__le_get(buf + 8, 4);
    if (version != JNL_SEG_VERSION)
        return ortak__journal_problem(st->problem, ORTAK_JP_VERSION, name, 8, st->head.seq + 1,
                                      "segment format version %u; this ortak reads version %u", version,
                                      JNL_SEG_VERSION);
    *seg_bytes = ortak__le_get(buf + 16, 8);
    *group_max = ortak__le_get(buf + 64, 8);
    uint64_t first = ortak__le_get(buf + 24, 8);
    if (ortak__le_get(buf + 12, 4) != JNL_SEG_HEADER || *seg_bytes < JNL_SEGMENT_BYTES_MIN ||
        *seg_bytes > JNL_SEGMENT_BYTES_MAX || first != name_seq)
        return ortak__journal_problem(st->problem, ORTAK_JP_FOREIGN, name, 12, st->head.seq + 1,
                                      "segment header fields are inconsistent with its name");
    if (len != *seg_bytes)
        return ortak__journal_problem(st->problem, ORTAK_JP_TRUNCATED, name, len, st->head.seq + 1,
                                      "segment is %zu bytes; its header says %llu", len,
                                      (unsigned long long)*seg_bytes);
    if (first != st->head.seq + 1)
        return ortak__journal_problem(st->problem, ORTAK_JP_SEQUENCE, name, 24, st->head.seq + 1,
                                      "segment starts at record %llu but the journal so far ends at %llu: "
                                      "records are missing (a segment was removed?)",
                                      (unsigned long long)first, (unsigned long long)st->head.seq);
    if (memcmp(buf + 32, st->head.hash, 32) != 0)
        return ortak__journal_problem(st->problem, ORTAK_JP_CHAIN, name, 32, first,
                                      "segment's previous-record hash does not match the record before it");
    return ORTAK_OK;
}

/* Checks the record at `off`. Returns ORTAK_OK, or a problem; *torn_candidate when it may be a torn write. */
static ortak_rc check_record(struct scan *st, const char *name, const unsigned char *p, uint64_t off,
                             uint64_t seg_bytes, bool *torn_candidate) {
    uint64_t seq = st->head.seq + 1;
    *torn_candidate = true;
    if (ortak__le_get(p, 4) != JNL_REC_MAGIC)
        return ortak__journal_problem(st->problem, ORTAK_JP_CHECKSUM, name, off, seq, "no record header here");
    uint32_t len = (uint32_t)ortak__le_get(p + 24, 4);
    if (off + JNL_REC_HEADER + jnl_pad8(len) > seg_bytes)
        return ortak__journal_problem(st->problem, ORTAK_JP_CHECKSUM, name, off, seq,
                                      "record length %u runs past the end of the segment", len);
    if (ortak__le_get(p + 64, 8) != record_checksum(p, p + JNL_REC_HEADER, len))
        return ortak__journal_problem(st->problem, ORTAK_JP_CHECKSUM, name, off, seq,
                                      "record checksum does not match (bit rot or tampering)");
    if (!all_zero(p + JNL_REC_HEADER + len, jnl_pad8(len) - len))
        return ortak__journal_problem(st->problem, ORTAK_JP_CHECKSUM, name, off, seq, "record padding not zero");
    *torn_candidate = false;
    uint32_t version = (uint32_t)ortak__le_get(p + 4, 2), kind = (uint32_t)ortak__le_get(p + 6, 2);
    if (version != JNL_REC_VERSION || kind != JNL_REC_KIND_BATCH || ortak__le_get(p + 28, 4) != 0)
        return ortak__journal_problem(st->problem, ORTAK_JP_VERSION, name, off, seq,
                                      "record format version %u kind %u; this ortak reads version %u kind %u", version,
                                      kind, JNL_REC_VERSION, JNL_REC_KIND_BATCH);
    uint64_t rseq = ortak__le_get(p + 8, 8);
    if (rseq != seq)
        return ortak__journal_problem(st->problem, ORTAK_JP_SEQUENCE, name, off, seq,
                                      "record has sequence number %llu, expected %llu", (unsigned long long)rseq,
                                      (unsigned long long)seq);
    if (ortak__le_get(p + 16, 8) < st->head.timestamp)
        return ortak__journal_problem(st->problem, ORTAK_JP_SEQUENCE, name, off, seq,
                                      "record timestamp earlier than the record before it");
    if (memcmp(p + 32, st->head.hash, 32) != 0)
        return ortak__journal_problem(st->problem, ORTAK_JP_CHAIN, name, off, seq,
                                      "hash chain broken: the record before this one was changed or removed");
    return ORTAK_OK;
}

/* A problem at `off` of the last segment within group_max of the end of the data is a torn tail. */
static bool tail_is_torn(struct scan *st, bool is_last, const unsigned char *buf, uint64_t off, uint64_t seg_bytes,
                         uint64_t group_max) {
    if (!is_last) return false;
    uint64_t end = data_end(buf, off, seg_bytes);
    if (end - off > group_max) return false;
    st->torn_bytes = end - off;
    st->tail_off = off;
    return true;
}

static ortak_rc scan_records(struct scan *st, const char *name, const unsigned char *buf, uint64_t seg_bytes,
                             uint64_t group_max, bool is_last) {
    uint64_t off = JNL_SEG_HEADER;
    while (off + JNL_REC_HEADER <= seg_bytes && !all_zero(buf + off, JNL_REC_HEADER)) {
        const unsigned char *p = buf + off;
        bool torn;
        ortak_rc rc = check_record(st, name, p, off, seg_bytes, &torn);
        if (rc != ORTAK_OK) {
            if (torn && tail_is_torn(st, is_last, buf, off, seg_bytes, group_max)) {
                ortak__journal_problem(st->problem, ORTAK_JP_NONE, "", 0, 0, "%s", ""); /* a torn tail is no problem */
                return ORTAK_OK;
            }
            return rc;
        }
        struct ortak_journal_record rec = {.seq = st->head.seq + 1,
                                           .timestamp = ortak__le_get(p + 16, 8),
                                           .prev_hash = p + 32,
                                           .payload = p + JNL_REC_HEADER,
                                           .len = (uint32_t)ortak__le_get(p + 24, 4)};
        char why[256] = "";
        if (st->fn && rec.seq > st->from_seq && st->fn(st->ctx, &rec, why, sizeof why) != 0)
            return ortak__journal_problem(st->problem, ORTAK_JP_PAYLOAD, name, off, rec.seq, "%s",
                                          why[0] ? why : "record payload rejected");
        uint32_t len = rec.len;
        st->head.seq = rec.seq;
        st->head.timestamp = rec.timestamp;
        record_hash(p, p + JNL_REC_HEADER, len, st->head.hash);
        off += JNL_REC_HEADER + jnl_pad8(len);
    }
    st->tail_off = off;
    /* After the last record only zeros may follow (a torn write may have left bytes there). */
    if (data_end(buf, off, seg_bytes) > off && !tail_is_torn(st, is_last, buf, off, seg_bytes, group_max))
        return ortak__journal_problem(st->problem, ORTAK_JP_CHECKSUM, name, off, st->head.seq + 1,
                                      "data after the last record");
    return ORTAK_OK;
}

static ortak_rc scan_segment(struct scan *st, uint64_t first_seq, bool is_last) {
    char name[64], path[PATH_MAX];
    segment_name(name, sizeof name, first_seq);
    ortak__path_join(path, st->dir, name, NULL);
    size_t len;
    if (ortak__file_read_all(st->ops, path, &st->buf, &st->buf_cap, &len, JNL_SEGMENT_BYTES_MAX) != 0)
        return ortak__journal_problem(st->problem, ORTAK_JP_IO, name, 0, st->head.seq + 1, "cannot read %s: %s", path,
                                      strerror(errno));
    uint64_t seg_bytes = 0, group_max = 0;
    ortak_rc rc = check_segment_header(st, name, first_seq, st->buf, len, &seg_bytes, &group_max);
    if (rc == ORTAK_OK) rc = scan_records(st, name, st->buf, seg_bytes, group_max, is_last);
    st->last_first_seq = first_seq;
    st->last_segment_bytes = seg_bytes;
    st->last_group_bytes = group_max;
    return rc;
}

static ortak_rc scan_all(struct scan *st, struct listing *ls) {
    ortak_rc rc = ORTAK_OK;
    for (uint32_t i = 0; i < ls->segment_count && rc == ORTAK_OK; i++)
        rc = scan_segment(st, ls->segments[i], i + 1 == ls->segment_count);
    free(st->buf);
    st->buf = NULL;
    return rc;
}

ortak_rc ortak_journal_scan(const char *dir, const struct ortak_fileops *ops, uint64_t from_seq,
                            ortak_journal_record_fn fn, void *ctx, struct ortak_journal_head *head,
                            uint64_t *torn_bytes, struct ortak_journal_problem *problem) {
    struct scan st = {.dir = dir,
                      .ops = ops ? ops : ortak_fileops_posix(),
                      .from_seq = from_seq,
                      .fn = fn,
                      .ctx = ctx,
                      .problem = problem};
    struct listing ls;
    ortak__journal_problem(problem, ORTAK_JP_NONE, "", 0, 0, "%s", "");
    ortak_rc rc = list_dir(dir, &ls, problem);
    if (rc != ORTAK_OK) return rc;
    if (ls.segment_count == 0 && ls.snapshot_count == 0) {
        rc = ortak__journal_problem(problem, ORTAK_JP_EMPTY, "", 0, 0, "%s holds no journal", dir);
    } else {
        rc = scan_all(&st, &ls);
    }
    free(ls.segments);
    if (head) *head = st.head;
    if (torn_bytes) *torn_bytes = st.torn_bytes;
    return rc;
}

/* ---- writing ----------------------------------------------------------------------------------------------- */

/*
 * Creates the segment that starts at `first_seq`: preallocated under a temporary name, header written and synced,
 * renamed into place, directory synced. On success the journal writes into it. Returns 0, or -1 with errno and
 * *what naming the step that failed.
 */
static int segment_create(struct ortak_journal *j, uint64_t first_seq, const char **what, char *failed, size_t cap) {
    char name[64], tmp[PATH_MAX];
    segment_name(name, sizeof name, first_seq);
    ortak__path_join(j->seg_path, j->dir, name, NULL);
    ortak__path_join(tmp, j->dir, name, JNL_TMP_SUFFIX);
    unsigned char h[JNL_SEG_HEADER] = {0};
    memcpy(h, JNL_SEG_MAGIC, 8);
    ortak__le_put(h + 8, JNL_SEG_VERSION, 4);
    ortak__le_put(h + 12, JNL_SEG_HEADER, 4);
    ortak__le_put(h + 16, j->segment_bytes, 8);
    ortak__le_put(h + 24, first_seq, 8);
    memcpy(h + 32, j->head.hash, 32);
    ortak__le_put(h + 64, j->group_bytes_max, 8);
    ortak__le_put(h + 120, XXH3_64bits(h, 120), 8);

    *what = "create";
    snprintf(failed, cap, "%s", tmp);
    int fd = j->ops->open(tmp, O_CREAT | O_EXCL | O_RDWR, 0640);
    if (fd < 0) return -1;
    int err = j->ops->fallocate(fd, 0, (off_t)j->segment_bytes);
    if (err != 0) {
        errno = err;
        *what = "preallocate";
        goto fail;
    }
    *what = "write header of";
    if (ortak__write_all(j->ops, fd, h, sizeof h, 0) != 0) goto fail;
    *what = "sync";
    if (j->ops->fsync(fd) != 0) goto fail;
    *what = "rename";
    if (j->ops->rename(tmp, j->seg_path) != 0) goto fail;
    *what = "sync directory of";
    snprintf(failed, cap, "%s", j->dir);
    if (ortak__dir_sync(j->ops, j->dir) != 0) goto fail;
    j->fd = fd;
    j->write_off = JNL_SEG_HEADER;
    j->cur_segment_bytes = j->segment_bytes;
    j->cur_group_bytes = j->group_bytes_max;
    return 0;
fail:
    err = errno;
    j->ops->close(fd);
    errno = err;
    return -1;
}

void ortak_journal_sync(struct ortak_journal *j) {
    if (j->buf_len == 0) return;
    if (ortak__write_all(j->ops, j->fd, j->buf, j->buf_len, j->write_off) != 0)
        ortak__journal_fatal("write to", j->seg_path);
    if (j->ops->fdatasync(j->fd) != 0) ortak__journal_fatal("fdatasync of", j->seg_path);
    j->write_off += j->buf_len;
    j->buf_len = 0;
}

static void segment_roll(struct ortak_journal *j) {
    ortak_journal_sync(j);
    if (j->ops->close(j->fd) != 0) ortak__journal_fatal("close of", j->seg_path);
    j->fd = -1;
    const char *what;
    char failed[PATH_MAX];
    if (segment_create(j, j->head.seq + 1, &what, failed, sizeof failed) != 0) ortak__journal_fatal(what, failed);
}

uint32_t ortak_journal_payload_max(const struct ortak_journal *j) {
    uint64_t by_segment = j->segment_bytes - JNL_SEG_HEADER - JNL_REC_HEADER;
    uint64_t by_group = j->group_bytes_max - JNL_REC_HEADER;
    uint64_t m = by_segment < by_group ? by_segment : by_group;
    return (uint32_t)((m > UINT32_MAX ? UINT32_MAX : m) & ~(uint64_t)7);
}

ortak_rc ortak_journal_append(struct ortak_journal *j, ortak_time_ns timestamp, const void *payload, uint32_t len,
                              uint64_t *seq) {
    if (len > ortak_journal_payload_max(j)) return ORTAK_INVALID;
    ORTAK_ASSERT(timestamp >= j->head.timestamp);
    size_t rec = JNL_REC_HEADER + jnl_pad8(len);
    if (j->buf_len + rec > j->cur_group_bytes) ortak_journal_sync(j);
    /* A new segment when the record does not fit, or when this segment's promise to readers is too small for it. */
    if (j->write_off + j->buf_len + rec > j->cur_segment_bytes || rec > j->cur_group_bytes) segment_roll(j);

    unsigned char *p = j->buf + j->buf_len;
    memset(p, 0, rec);
    record_header(p, &j->head, timestamp, payload, len);
    memcpy(p + JNL_REC_HEADER, payload, len);
    record_hash(p, p + JNL_REC_HEADER, len, j->head.hash);
    j->head.seq++;
    j->head.timestamp = timestamp;
    j->buf_len += rec;
    *seq = j->head.seq;
    return ORTAK_OK;
}

void ortak_journal_head_get(const struct ortak_journal *j, struct ortak_journal_head *head) { *head = j->head; }

uint64_t ortak_journal_torn_bytes(const struct ortak_journal *j) { return j->torn_bytes; }

const struct ortak_fileops *ortak__journal_ops(const struct ortak_journal *j) { return j->ops; }

void ortak_journal_close(struct ortak_journal *j) {
    if (!j) return;
    if (j->fd >= 0) {
        ortak_journal_sync(j);
        j->ops->close(j->fd);
    }
    free(j->buf);
    free(j);
}

/* ---- opening ----------------------------------------------------------------------------------------------- */

static ortak_rc options_check(const struct ortak_journal_options *opt, struct ortak_journal *j,
                              struct ortak_journal_problem *problem) {
    j->ops = opt && opt->ops ? opt->ops : ortak_fileops_posix();
    j->segment_bytes = opt && opt->segment_bytes ? opt->segment_bytes : JNL_SEGMENT_BYTES_DEFAULT;
    j->group_bytes_max = opt && opt->group_bytes_max ? opt->group_bytes_max : JNL_GROUP_BYTES_DEFAULT;
    if (j->segment_bytes < JNL_SEGMENT_BYTES_MIN || j->segment_bytes > JNL_SEGMENT_BYTES_MAX ||
        j->segment_bytes % 4096 != 0 || j->group_bytes_max < 4096 || j->group_bytes_max % 8 != 0)
        return ortak__journal_problem(problem, ORTAK_JP_IO, "", 0, 0,
                                      "journal options: segment_bytes must be a multiple of 4096 from %llu to "
                                      "%llu, group_bytes_max a multiple of 8 of at least 4096",
                                      (unsigned long long)JNL_SEGMENT_BYTES_MIN,
                                      (unsigned long long)JNL_SEGMENT_BYTES_MAX);
    return ORTAK_OK;
}

/* Removes temporary files left by a crash during a segment or snapshot creation. */
static void remove_leftovers(struct ortak_journal *j) {
    DIR *d = opendir(j->dir);
    if (!d) return;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        size_t n = strlen(de->d_name), t = strlen(JNL_TMP_SUFFIX);
        if (de->d_name[0] == '.' || n <= t || strcmp(de->d_name + n - t, JNL_TMP_SUFFIX) != 0) continue;
        char path[PATH_MAX];
        ortak__path_join(path, j->dir, de->d_name, NULL);
        if (j->ops->unlink(path) == 0) ortak_log_warn("journal", "removed %s, left by an interrupted write", path);
    }
    closedir(d);
}

/* Opens the last segment for writing after the scan, cutting off a torn tail. */
static ortak_rc reopen_tail(struct ortak_journal *j, const struct scan *st, struct ortak_journal_problem *problem) {
    char name[64];
    segment_name(name, sizeof name, st->last_first_seq);
    ortak__path_join(j->seg_path, j->dir, name, NULL);
    j->fd = j->ops->open(j->seg_path, O_RDWR, 0);
    if (j->fd < 0)
        return ortak__journal_problem(problem, ORTAK_JP_IO, name, 0, 0, "cannot open %s: %s", j->seg_path,
                                      strerror(errno));
    j->write_off = st->tail_off;
    j->torn_bytes = st->torn_bytes;
    /* Keep the promises the segment's header made to readers, whatever the options say now. */
    j->cur_segment_bytes = st->last_segment_bytes;
    j->cur_group_bytes = st->last_group_bytes < j->group_bytes_max ? st->last_group_bytes : j->group_bytes_max;
    if (st->torn_bytes == 0) return ORTAK_OK;
    unsigned char *zeros = calloc(1, st->torn_bytes);
    if (!zeros || ortak__write_all(j->ops, j->fd, zeros, st->torn_bytes, st->tail_off) != 0 ||
        j->ops->fdatasync(j->fd) != 0) {
        free(zeros);
        return ortak__journal_problem(problem, ORTAK_JP_IO, name, st->tail_off, st->head.seq + 1,
                                      "cannot cut off the torn tail of %s: %s", j->seg_path, strerror(errno));
    }
    free(zeros);
    ortak_log_warn("journal", "cut off %llu bytes of a torn record at the tail of %s (offset %llu, after record %llu)",
                   (unsigned long long)st->torn_bytes, j->seg_path, (unsigned long long)st->tail_off,
                   (unsigned long long)st->head.seq);
    return ORTAK_OK;
}

ortak_rc ortak_journal_open(const char *dir, const struct ortak_journal_options *opt, uint64_t from_seq,
                            ortak_journal_record_fn fn, void *ctx, struct ortak_journal **out,
                            struct ortak_journal_problem *problem) {
    *out = NULL;
    struct ortak_journal *j = calloc(1, sizeof *j);
    if (!j) return ORTAK_NOMEM;
    j->fd = -1;
    ortak_rc rc = ORTAK_INVALID;
    if (strlen(dir) > JNL_DIR_LEN_MAX) {
        ortak__journal_problem(problem, ORTAK_JP_IO, "", 0, 0, "journal directory path longer than %d bytes",
                               JNL_DIR_LEN_MAX);
        goto fail;
    }
    memcpy(j->dir, dir, strlen(dir) + 1);
    rc = options_check(opt, j, problem);
    if (rc != ORTAK_OK) goto fail;
    j->buf = malloc(j->group_bytes_max);
    if (!j->buf) {
        rc = ORTAK_NOMEM;
        goto fail;
    }
    bool create = opt && opt->create;
    if (create && mkdir(dir, 0750) != 0 && errno != EEXIST) {
        rc = ortak__journal_problem(problem, ORTAK_JP_IO, dir, 0, 0, "cannot create %s: %s", dir, strerror(errno));
        goto fail;
    }
    struct scan st = {.dir = dir, .ops = j->ops, .from_seq = from_seq, .fn = fn, .ctx = ctx, .problem = problem};
    struct listing ls;
    if ((rc = list_dir(dir, &ls, problem)) != ORTAK_OK) goto fail;
    rc = scan_all(&st, &ls);
    uint32_t segments = ls.segment_count;
    free(ls.segments);
    if (rc != ORTAK_OK) goto fail;
    j->head = st.head;
    if (segments == 0) {
        const char *what;
        char failed[PATH_MAX];
        if (!create) {
            rc = ortak__journal_problem(problem, ORTAK_JP_EMPTY, "", 0, 0, "%s holds no journal", dir);
            goto fail;
        }
        remove_leftovers(j);
        if (segment_create(j, j->head.seq + 1, &what, failed, sizeof failed) != 0) {
            rc = ortak__journal_problem(problem, ORTAK_JP_IO, "", 0, 0, "cannot %s %s: %s", what, failed,
                                        strerror(errno));
            goto fail;
        }
    } else if ((rc = reopen_tail(j, &st, problem)) != ORTAK_OK) {
        goto fail;
    } else {
        remove_leftovers(j);
    }
    *out = j;
    return ORTAK_OK;
fail:
    if (j->fd >= 0) j->ops->close(j->fd);
    free(j->buf);
    free(j);
    return rc;
}
