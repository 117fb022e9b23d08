/* Helpers shared by the journal files: little-endian fields, problems, fatal I/O, directory sync, file names. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/assert.h"
#include "base/log.h"
#include "journal_int.h"

ortak_rc ortak__journal_problem(struct ortak_journal_problem *problem, enum ortak_journal_problem_kind kind,
                                const char *file, uint64_t offset, uint64_t seq, const char *fmt, ...) {
    if (problem) {
        memset(problem, 0, sizeof *problem);
        problem->kind = kind;
        snprintf(problem->file, sizeof problem->file, "%s", file ? file : "");
        problem->offset = offset;
        problem->seq = seq;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(problem->message, sizeof problem->message, fmt, ap);
        va_end(ap);
    }
    return kind == ORTAK_JP_IO ? ORTAK_IO : ORTAK_CORRUPT;
}

int ortak_journal_problem_exit_code(enum ortak_journal_problem_kind kind) {
    switch (kind) {
    case ORTAK_JP_NONE: return 0;
    case ORTAK_JP_IO: return ORTAK_EXIT_IO;
    case ORTAK_JP_EMPTY: return 3;
    case ORTAK_JP_FOREIGN: return 4;
    case ORTAK_JP_VERSION: return 5;
    case ORTAK_JP_TRUNCATED: return 6;
    case ORTAK_JP_CHECKSUM: return 7;
    case ORTAK_JP_CHAIN: return 8;
    case ORTAK_JP_SEQUENCE: return 9;
    case ORTAK_JP_SNAPSHOT: return 10;
    case ORTAK_JP_PAYLOAD: return 11;
    }
    return 1;
}

_Noreturn void ortak__journal_fatal(const char *what, const char *path) {
    int err = errno;
    ortak_log_error("journal", "%s %s failed: %s; stopping: the state on disk is unknown after a failed write", what,
                    path, strerror(err));
    fflush(stderr);
    _exit(ORTAK_EXIT_IO);
}

int ortak__dir_sync(const struct ortak_fileops *ops, const char *dir) {
    int fd = ops->open(dir, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0) return -1;
    int rc = ops->fsync(fd);
    int err = errno;
    ops->close(fd);
    errno = err;
    return rc;
}

int ortak__file_read_all(const struct ortak_fileops *ops, const char *path, unsigned char **buf, size_t *cap,
                         size_t *len, size_t max) {
    *len = 0;
    int fd = ops->open(path, O_RDONLY, 0);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > max) {
        if (errno == 0 || (uint64_t)st.st_size > max) errno = EFBIG;
        goto fail;
    }
    size_t size = (size_t)st.st_size;
    if (size > *cap || !*buf) {
        free(*buf);
        *cap = 0;
        *buf = ortak__alloc_large(size);
        if (!*buf) goto fail;
        *cap = size;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = ops->pread(fd, *buf + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = EIO;
            goto fail;
        }
        got += (size_t)n;
    }
    *len = size;
    ops->close(fd);
    return 0;
fail : {
    int err = errno;
    ops->close(fd);
    errno = err;
    return -1;
}
}

bool ortak__journal_name_parse(const char *name, const char *suffix, uint64_t *seq) {
    size_t slen = strlen(suffix);
    if (strlen(name) != JNL_NAME_DIGITS + slen || strcmp(name + JNL_NAME_DIGITS, suffix) != 0) return false;
    uint64_t v = 0;
    for (int i = 0; i < JNL_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9') return false;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *seq = v;
    return true;
}

void ortak__path_join(char *out, const char *dir, const char *name, const char *suffix) {
    int n = snprintf(out, PATH_MAX, "%s/%s%s", dir, name, suffix ? suffix : "");
    ORTAK_ASSERT(n > 0 && n < PATH_MAX);
}

int ortak__write_all(const struct ortak_fileops *ops, int fd, const void *buf, size_t len, uint64_t off) {
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = ops->pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}
