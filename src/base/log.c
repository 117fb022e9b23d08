/* Levelled log lines on one stream. Each line is written with one fprintf call so lines do not interleave. */
#include "log.h"

#include <stdarg.h>
#include <string.h>

static enum ortak_log_level log_level = ORTAK_LOG_INFO;
static FILE *log_stream;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void ortak_log_setup(enum ortak_log_level level, FILE *stream) {
    log_level = level;
    log_stream = stream;
}

enum ortak_log_level ortak_log_level_get(void) { return log_level; }

int ortak_log_level_parse(const char *name, enum ortak_log_level *out) {
    for (unsigned i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum ortak_log_level)i;
            return 0;
        }
    }
    return -1;
}

void ortak__log(enum ortak_log_level level, const char *module, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    FILE *f = log_stream ? log_stream : stderr;
    fprintf(f, "%s %s: %s\n", level_names[level], module, line);
}
