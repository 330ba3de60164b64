/*
 * The daemon's log: one line per event on stderr, with a millisecond UTC timestamp and a
 * level, written with a single write() so that lines never interleave.
 */
#ifndef RESEOLIOD_LOG_H
#define RESEOLIOD_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO,
    LOG_LEVEL_WARN,
    LOG_LEVEL_ERROR,
};

/* Set the lowest level that is written (the default is info). */
void log_set_level(enum log_level level);
/* True when a line of this level would be written (skip costly formatting otherwise). */
bool log_enabled(enum log_level level);
/* Parse "debug", "info", "warn" or "error"; returns 0, or -1 for anything else. */
int log_level_parse(const char *name, enum log_level *out) __attribute__((warn_unused_result));
/* Name of a level, as log lines print it. */
const char *log_level_name(enum log_level level);
/* Write one line (no trailing newline in fmt). Never logs a password: callers pass redacted
 * storage strings only (storage_identity_redact). */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
