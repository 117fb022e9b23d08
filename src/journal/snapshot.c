/*
 * Snapshots: the engine's canonical encoding in a file named after the last journal record it includes, with a
 * header holding that record's position in the hash chain, the state hash (SHA-256 of the encoding) and a
 * checksum. Written atomically (temporary file, sync, rename, directory sync) in one streaming pass that writes,
 * hashes and checksums together; loaded only after every check passes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "base/assert.h"
#include "base/log.h"
#include "journal_int.h"

#define SNAP_BYTES_MAX (UINT64_C(1) << 36)

struct snap_writer {
    const struct ortak_fileops *ops;
    const char *path;
    int fd;
    uint64_t off;
    struct sha256_ctx sha;
    XXH3_state_t xxh;
    size_t len;
    unsigned char buf[1 << 16];
};

static void snap_flush(struct snap_writer *w) {
    if (ortak__write_all(w->ops, w->fd, w->buf, w->len, w->off) != 0) ortak__journal_fatal("write to", w->path);
    w->off += w->len;
    w->len = 0;
}

static void snap_sink(void *ctx, const void *data, size_t len) {
    struct snap_writer *w = ctx;
    sha256_update(&w->sha, len, data);
    XXH3_64bits_update(&w->xxh, data, len);
    const unsigned char *p = data;
    while (len > 0) {
        size_t room = sizeof w->buf - w->len, n = len < room ? len : room;
        memcpy(w->buf + w->len, p, n);
        w->len += n;
        p += n;
        len -= n;
        if (w->len == sizeof w->buf) snap_flush(w);
    }
}

static void snap_header(unsigned char h[JNL_SNAP_HEADER], const struct ortak_journal_head *head,
                        const uint8_t state_hash[32], uint64_t payload_len, uint64_t payload_sum) {
    memset(h, 0, JNL_SNAP_HEADER);
    memcpy(h, JNL_SNAP_MAGIC, 8);
    ortak__le_put(h + 8, JNL_SNAP_VERSION, 4);
    ortak__le_put(h + 12, JNL_SNAP_HEADER, 4);
    ortak__le_put(h + 16, head->seq, 8);
    ortak__le_put(h + 24, head->timestamp, 8);
    memcpy(h + 32, head->hash, 32);
    memcpy(h + 64, state_hash, 32);
    ortak__le_put(h + 96, payload_len, 8);
    ortak__le_put(h + 104, payload_sum, 8);
    ortak__le_put(h + 120, XXH3_64bits(h, 120), 8);
}

static void snapshot_name(char *out, size_t cap, uint64_t seq) {
    snprintf(out, cap, "%020llu" JNL_SNAPSHOT_SUFFIX, (unsigned long long)seq);
}

/* Snapshot sequence numbers in `dir`, newest first. Returns the count, or -1 with errno. */
static int snapshot_list(const char *dir, uint64_t **out) {
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0, cap = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        uint64_t seq;
        if (!ortak__journal_name_parse(de->d_name, JNL_SNAPSHOT_SUFFIX, &seq)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            uint64_t *grown = realloc(*out, (size_t)cap * sizeof *grown);
            if (!grown) {
                closedir(d);
                free(*out);
                *out = NULL;
                errno = ENOMEM;
                return -1;
            }
            *out = grown;
        }
        (*out)[n++] = seq;
    }
    closedir(d);
    for (int i = 1; i < n; i++) { /* insertion sort, descending: there are few snapshots */
        uint64_t v = (*out)[i];
        int k = i;
        for (; k > 0 && (*out)[k - 1] < v; k--) (*out)[k] = (*out)[k - 1];
        (*out)[k] = v;
    }
    return n;
}

static void snapshot_prune(const char *dir, const struct ortak_fileops *ops, uint32_t keep) {
    uint64_t *seqs;
    int n = snapshot_list(dir, &seqs);
    if (n < 0) ortak__journal_fatal("listing of", dir);
    for (int i = (int)keep; i < n; i++) {
        char name[64], path[PATH_MAX];
        snapshot_name(name, sizeof name, seqs[i]);
        ortak__path_join(path, dir, name, NULL);
        if (ops->unlink(path) != 0) ortak__journal_fatal("removal of", path);
    }
    free(seqs);
    if (n > (int)keep && ortak__dir_sync(ops, dir) != 0) ortak__journal_fatal("sync of directory", dir);
}

void ortak_snapshot_write(const char *dir, const struct ortak_fileops *ops, const struct ortak_engine *e,
                          const struct ortak_journal_head *head, uint32_t keep) {
    ops = ops ? ops : ortak_fileops_posix();
    char name[64], path[PATH_MAX], tmp[PATH_MAX];
    snapshot_name(name, sizeof name, head->seq);
    ortak__path_join(path, dir, name, NULL);
    ortak__path_join(tmp, dir, name, JNL_TMP_SUFFIX);
    struct snap_writer *w = malloc(sizeof *w);
    if (!w) ortak__journal_fatal("allocation for", tmp);
    w->ops = ops;
    w->path = tmp;
    w->off = JNL_SNAP_HEADER;
    w->len = 0;
    sha256_init(&w->sha);
    XXH3_64bits_reset(&w->xxh);
    w->fd = ops->open(tmp, O_CREAT | O_TRUNC | O_WRONLY, 0640);
    if (w->fd < 0) ortak__journal_fatal("create", tmp);
    ortak_engine_encode(e, snap_sink, w);
    snap_flush(w);
    uint8_t state_hash[32];
    sha256_digest(&w->sha, 32, state_hash);
    unsigned char h[JNL_SNAP_HEADER];
    snap_header(h, head, state_hash, w->off - JNL_SNAP_HEADER, XXH3_64bits_digest(&w->xxh));
    if (ortak__write_all(ops, w->fd, h, sizeof h, 0) != 0) ortak__journal_fatal("write to", tmp);
    if (ops->fsync(w->fd) != 0) ortak__journal_fatal("fsync of", tmp);
    if (ops->close(w->fd) != 0) ortak__journal_fatal("close of", tmp);
    free(w);
    if (ops->rename(tmp, path) != 0) ortak__journal_fatal("rename to", path);
    if (ortak__dir_sync(ops, dir) != 0) ortak__journal_fatal("sync of directory", dir);
    if (keep) snapshot_prune(dir, ops, keep);
}

/* ---- loading ----------------------------------------------------------------------------------------------- */

/* Checks one snapshot file and, when `cfg` is given, loads it into a new engine. */
static ortak_rc snapshot_check(const char *dir, const struct ortak_fileops *ops, uint64_t seq,
                               const struct ortak_config *cfg, struct ortak_engine **e,
                               struct ortak_snapshot_info *info, struct ortak_journal_problem *problem) {
    char name[64], path[PATH_MAX];
    snapshot_name(name, sizeof name, seq);
    ortak__path_join(path, dir, name, NULL);
    unsigned char *buf = NULL;
    size_t len, cap = 0;
    if (ortak__file_read_all(ops, path, &buf, &cap, &len, SNAP_BYTES_MAX) != 0) {
        int err = errno;
        free(buf);
        return ortak__journal_problem(problem, ORTAK_JP_IO, name, 0, seq, "cannot read %s: %s", path, strerror(err));
    }
    ortak_rc rc = ORTAK_CORRUPT;
    const char *why = NULL;
    uint8_t digest[32];
    if (len < JNL_SNAP_HEADER || memcmp(buf, JNL_SNAP_MAGIC, 8) != 0) {
        why = "not an ortak snapshot";
    } else if (ortak__le_get(buf + 120, 8) != XXH3_64bits(buf, 120)) {
        why = "header checksum does not match";
    } else if (ortak__le_get(buf + 8, 4) != JNL_SNAP_VERSION || ortak__le_get(buf + 12, 4) != JNL_SNAP_HEADER) {
        why = "written by another format version";
    } else if (ortak__le_get(buf + 16, 8) != seq || ortak__le_get(buf + 96, 8) != len - JNL_SNAP_HEADER) {
        why = "header does not match the file's name or size (truncated?)";
    } else if (ortak__le_get(buf + 104, 8) != XXH3_64bits(buf + JNL_SNAP_HEADER, len - JNL_SNAP_HEADER)) {
        why = "state checksum does not match";
    } else {
        struct sha256_ctx sha;
        sha256_init(&sha);
        sha256_update(&sha, len - JNL_SNAP_HEADER, buf + JNL_SNAP_HEADER);
        sha256_digest(&sha, 32, digest);
        if (memcmp(digest, buf + 64, 32) != 0) why = "state hash does not match the state";
    }
    if (!why && cfg) {
        rc = ortak_engine_open_state(cfg, buf + JNL_SNAP_HEADER, len - JNL_SNAP_HEADER, e);
        if (rc == ORTAK_NOMEM)
            why = "not enough memory to load it";
        else if (rc != ORTAK_OK)
            why = "state is not valid for this configuration";
    }
    if (!why) {
        rc = ORTAK_OK;
        if (info) {
            info->head.seq = seq;
            info->head.timestamp = ortak__le_get(buf + 24, 8);
            memcpy(info->head.hash, buf + 32, 32);
            memcpy(info->state_hash, buf + 64, 32);
            snprintf(info->file, sizeof info->file, "%s", name);
        }
    } else {
        rc = ortak__journal_problem(problem, ORTAK_JP_SNAPSHOT, name, 0, seq, "snapshot %s: %s", name, why);
    }
    free(buf);
    return rc;
}

ortak_rc ortak_snapshot_load(const char *dir, const struct ortak_fileops *ops, const struct ortak_config *cfg,
                             struct ortak_engine **e, struct ortak_snapshot_info *info,
                             struct ortak_journal_problem *problem) {
    ops = ops ? ops : ortak_fileops_posix();
    *e = NULL;
    memset(info, 0, sizeof *info);
    uint64_t *seqs;
    int n = snapshot_list(dir, &seqs);
    if (n < 0)
        return errno == ENOENT ? ORTAK_OK
                               : ortak__journal_problem(problem, ORTAK_JP_IO, dir, 0, 0, "cannot list %s: %s", dir,
                                                        strerror(errno));
    struct ortak_journal_problem first = {0}, scratch;
    ortak_rc rc = ORTAK_OK;
    for (int i = 0; i < n; i++) {
        struct ortak_journal_problem *p = first.kind ? &scratch : &first;
        rc = snapshot_check(dir, ops, seqs[i], cfg, e, info, p);
        if (rc == ORTAK_OK || rc == ORTAK_IO || rc == ORTAK_NOMEM) break;
        ortak_log_warn("journal", "%s; trying an older snapshot", p->message);
    }
    free(seqs);
    if (problem) *problem = first;
    return rc;
}

ortak_rc ortak_snapshot_verify_all(const char *dir, const struct ortak_fileops *ops, const struct ortak_config *cfg,
                                   uint32_t *count, struct ortak_journal_problem *problem) {
    ops = ops ? ops : ortak_fileops_posix();
    *count = 0;
    uint64_t *seqs;
    int n = snapshot_list(dir, &seqs);
    if (n < 0) return ortak__journal_problem(problem, ORTAK_JP_IO, dir, 0, 0, "cannot list %s", dir);
    ortak_rc rc = ORTAK_OK;
    for (int i = 0; i < n && rc == ORTAK_OK; i++) {
        struct ortak_engine *e = NULL;
        rc = snapshot_check(dir, ops, seqs[i], cfg, cfg ? &e : NULL, NULL, problem);
        ortak_engine_close(e);
        if (rc == ORTAK_OK) (*count)++;
    }
    free(seqs);
    return rc;
}
