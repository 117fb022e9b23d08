/*
 * Logging with levels.
 *
 * Lines go to stderr (or a configured stream) as "LEVEL module: message". The engine never logs: logging is
 * I/O. Everything else logs through these macros so that the level can be set once at start-up.
 */
#ifndef ORTAK_BASE_LOG_H
#define ORTAK_BASE_LOG_H

#include <stdio.h>

enum ortak_log_level { ORTAK_LOG_DEBUG, ORTAK_LOG_INFO, ORTAK_LOG_WARN, ORTAK_LOG_ERROR, ORTAK_LOG_OFF };

/* Sets the lowest level written and the stream (NULL keeps stderr). Not thread-safe: call at start-up. */
void ortak_log_setup(enum ortak_log_level level, FILE *stream);
enum ortak_log_level ortak_log_level_get(void);
/* Parses "debug", "info", "warn", "error", "off". Returns 0 on success, -1 for an unknown name. */
int ortak_log_level_parse(const char *name, enum ortak_log_level *out);

void ortak__log(enum ortak_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define ORTAK_LOG(level, module, ...)                                                     \
    do {                                                                                  \
        if ((level) >= ortak_log_level_get()) ortak__log((level), (module), __VA_ARGS__); \
    } while (0)
#define ortak_log_debug(module, ...) ORTAK_LOG(ORTAK_LOG_DEBUG, module, __VA_ARGS__)
#define ortak_log_info(module, ...) ORTAK_LOG(ORTAK_LOG_INFO, module, __VA_ARGS__)
#define ortak_log_warn(module, ...) ORTAK_LOG(ORTAK_LOG_WARN, module, __VA_ARGS__)
#define ortak_log_error(module, ...) ORTAK_LOG(ORTAK_LOG_ERROR, module, __VA_ARGS__)

#endif
