/* The real file operations, behind the replaceable table that fault-injection tests swap out. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "ortak/journal.h"

static int posix_open(const char *path, int flags, mode_t mode) { return open(path, flags | O_CLOEXEC, mode); }
static int posix_fallocate_(int fd, off_t off, off_t len) { return posix_fallocate(fd, off, len); }

static const struct ortak_fileops posix_ops = {
    .open = posix_open,
    .close = close,
    .pwrite = pwrite,
    .pread = pread,
    .fdatasync = fdatasync,
    .fsync = fsync,
    .fallocate = posix_fallocate_,
    .rename = rename,
    .unlink = unlink,
};

const struct ortak_fileops *ortak_fileops_posix(void) { return &posix_ops; }
