/*
 * Journal internals shared by the files of src/journal/: the on-disk constants of docs/formats/journal.md and
 * small helpers. No other module includes this header.
 */
#ifndef ORTAK_JOURNAL_INT_H
#define ORTAK_JOURNAL_INT_H

#include <stdarg.h>

#include "base/bytes.h"
#include "ortak/journal.h"

#define JNL_SEG_MAGIC "ORTAKJNL"
#define JNL_SEG_VERSION 1u
#define JNL_SEG_HEADER 128u
#define JNL_REC_MAGIC 0x4345524fu /* "OREC" in file byte order */
#define JNL_REC_VERSION 2u
#define JNL_REC_HEADER 72u
#define JNL_REC_KIND_BATCH 1u
#define JNL_SNAP_MAGIC "ORTAKSNP"
#define JNL_SNAP_VERSION 1u
#define JNL_SNAP_HEADER 128u

#define JNL_SEGMENT_BYTES_DEFAULT (UINT64_C(64) << 20)
#define JNL_SEGMENT_BYTES_MIN (UINT64_C(1) << 16)
#define JNL_SEGMENT_BYTES_MAX (UINT64_C(1) << 30)
#define JNL_GROUP_BYTES_DEFAULT (UINT64_C(8) << 20)

/* Names: 20-digit sequence numbers, so that the directory lists in order. */
#define JNL_SEGMENT_SUFFIX ".ojl"
#define JNL_SNAPSHOT_SUFFIX ".osn"
#define JNL_TMP_SUFFIX ".tmp"
#define JNL_NAME_DIGITS 20

static inline uint64_t jnl_pad8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

/* Fills *problem (when not NULL) and returns the rc that goes with the kind. */
__attribute__((format(printf, 6, 7))) ortak_rc ortak__journal_problem(struct ortak_journal_problem *problem,
                                                                      enum ortak_journal_problem_kind kind,
                                                                      const char *file, uint64_t offset, uint64_t seq,
                                                                      const char *fmt, ...);

/* Logs what failed and stops the process with ORTAK_EXIT_IO. Used for every write and sync failure. */
_Noreturn void ortak__journal_fatal(const char *what, const char *path);

/* Syncs a directory so that a create, rename or unlink in it is durable. Returns 0 or -1 with errno. */
int ortak__dir_sync(const struct ortak_fileops *ops, const char *dir);

/* Writes all of `buf` at `off`, retrying short and interrupted writes. Returns 0, or -1 with errno. */
int ortak__write_all(const struct ortak_fileops *ops, int fd, const void *buf, size_t len, uint64_t off);

/* The file operations a journal was opened with. */
const struct ortak_fileops *ortak__journal_ops(const struct ortak_journal *j);

/*
 * Reads a whole file of at most `max` bytes into *buf, which holds *cap bytes and is replaced by a larger one when
 * needed (so one buffer serves a whole scan: fresh memory costs a page fault per page). The caller frees *buf.
 * Returns 0 with *len set, or -1 with errno.
 */
int ortak__file_read_all(const struct ortak_fileops *ops, const char *path, unsigned char **buf, size_t *cap,
                         size_t *len, size_t max);

/*
 * Writes "dir/name" (and an optional suffix) into `out` (PATH_MAX bytes). Directories are checked to be short
 * enough when a journal is opened (JNL_DIR_LEN_MAX), so truncation here is a bug (asserted).
 */
#define JNL_DIR_LEN_MAX 3072
void ortak__path_join(char *out, const char *dir, const char *name, const char *suffix);

/* Parses "<20 digits><suffix>" and returns the number, or false for any other name. */
bool ortak__journal_name_parse(const char *name, const char *suffix, uint64_t *seq);

#endif
