/*
 * The daemon's log: one line per event on stderr, with a millisecond UTC timestamp and a
 * level, written with a single write() so that lines never interleave.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level log_threshold = LOG_LEVEL_INFO;

static const char *const log_names[] = {"debug", "info", "warn", "error"};

/* Set the lowest level that is written. */
void log_set_level(enum log_level level)
{
    log_threshold = level;
}

/* True when a line of this level would be written. */
bool log_enabled(enum log_level level)
{
    return level >= log_threshold;
}

/* Parse a level name as the flag and the environment give it. */
int log_level_parse(const char *name, enum log_level *out)
{
    for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
        if (strcmp(name, log_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

/* Name of a level, as log lines print it. */
const char *log_level_name(enum log_level level)
{
    if ((size_t)level < sizeof(log_names) / sizeof(log_names[0]))
        return log_names[level];
    return "?";
}

/* Format the timestamp, level and message into one buffer and write it at once. */
void log_msg(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;

    int saved_errno = errno;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);

    int n = snprintf(line, sizeof(line),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ reseoliod[%ld] %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, (long)getpid(), log_level_name(level));
    if (n < 0)
        n = 0;
    size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;

    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
    va_end(ap);
    if (m > 0)
        len += (size_t)m < sizeof(line) - len ? (size_t)m : sizeof(line) - len - 1;

    /* A line cut at the buffer's end still ends in a newline. */
    if (len >= sizeof(line) - 1)
        len = sizeof(line) - 2;
    line[len++] = '\n';

    const char *p = line;
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break; /* nowhere left to report it */
        }
        p += w;
        len -= (size_t)w;
    }
    errno = saved_errno;
}
