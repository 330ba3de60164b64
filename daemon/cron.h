/*
 * Cron schedules as pure computation: parse a 5-field expression into bitsets, check an IANA
 * time zone name, and compute the next firing time after an instant in that zone.
 *
 * Syntax (Vixie cron): "minute hour day-of-month month day-of-week". Each field is `*`, a
 * value, a range `a-b`, a step over a range or over `*` (`a-b/n`, star-slash-n), or a comma
 * list of those. Month names JAN-DEC and weekday names SUN-SAT in any case; weekday 0 and 7
 * are both Sunday; the macros @yearly, @annually, @monthly, @weekly, @daily, @midnight and
 * @hourly. The day rule: when neither day field begins with `*`, a day matches if its day of
 * month OR its weekday matches; otherwise both must (as in Vixie cron, so star-slash-2 in
 * day-of-month with MON means odd days that are Mondays). Anything else is an error naming the
 * column and what was expected, including expressions that can never fire (a day of month that
 * none of the selected months has, e.g. `0 0 30 2 *`).
 *
 * Time zones and daylight saving time. A schedule's fields are matched against the wall clock
 * of its zone. Two kinds of schedule behave differently where the wall clock jumps:
 *
 *   - Every-hour schedules (the hour field selects all 24 hours, e.g. `0-59/15 * * * *`,
 *     `30 * * * *`) follow elapsed time: they fire at every real instant whose wall time
 *     matches. Wall times skipped by a spring-forward gap are not instants, so they do not
 *     fire; wall times repeated by a fall-back overlap are two instants, so they fire twice.
 *     Every 15 minutes stays every 15 real minutes across both changes.
 *   - All other schedules are wall-clock appointments (`30 2 * * *`): each matching wall time
 *     fires exactly once. In a fall-back overlap it fires at its first occurrence only. In a
 *     spring-forward gap it fires at the first instant after the gap (the transition itself,
 *     03:00 local when clocks jump from 02:00 to 03:00); several matching wall times in one
 *     gap, and a match at the end of the gap, fire once together.
 *
 * Results are whole minutes in Unix milliseconds (a zone offset with seconds, only found before
 * 1972, rounds the instant up to the next minute). The search looks CRON_HORIZON_YEARS ahead;
 * that is long enough for a 29 February across 2100, which is not a leap year.
 *
 * Implementation: zone rules come from the C library (glibc) reading the system's TZif files,
 * through localtime_r only; cron_next sets TZ for the duration of the call and restores it.
 * That keeps the tz database's parsing, its POSIX-rule footer for future years, and their
 * updates in one maintained place rather than a second reader here. mktime is not used: POSIX
 * leaves its choice for skipped and repeated wall times open, so this module finds the
 * transitions itself (probing at most a day apart, then bisecting; it assumes a zone never
 * changes its offset twice within one day: no zone of the tz database has done so since 1970).
 * Changing TZ is process-wide: not thread-safe, fine for the single-threaded daemon.
 */
#ifndef RESEOLIOD_CRON_H
#define RESEOLIOD_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How far ahead cron_next looks before it gives up (CRON_NEVER). */
#define CRON_HORIZON_YEARS 10

/* Big enough for every message cron_parse and cron_zone_check write. */
#define CRON_ERR_SIZE 256

/* Longest expression and zone name accepted. */
#define CRON_EXPR_MAX 255
#define CRON_ZONE_MAX 127

/* A parsed expression: which values each field selects. Plain data, no pointers. */
struct cron {
    uint64_t minutes; /* bit m: minute m, 0-59 */
    uint32_t hours;   /* bit h: hour h, 0-23 */
    uint32_t mdays;   /* bit d: day of month d, 1-31 */
    uint16_t months;  /* bit m: month m, 1-12 */
    uint8_t wdays;    /* bit d: weekday d, 0 = Sunday ... 6 = Saturday (7 folds into 0) */
    bool mday_star;   /* the day-of-month field began with '*' (see the day rule above) */
    bool wday_star;   /* the day-of-week field began with '*' */
};

/* What cron_next returns. */
enum cron_status {
    CRON_OK = 0,
    CRON_BAD_ZONE = -1,  /* not a known IANA zone; cron_zone_check says why */
    CRON_NEVER = -2,     /* no firing within CRON_HORIZON_YEARS after the given instant */
    CRON_BAD_TIME = -3,  /* after_ms before 1970 or after year 9999 */
    CRON_SYS_ERROR = -4, /* TZ could not be set or restored (memory), or the C library failed */
};

/* Parse expr into *c. Returns 0, or -1 with a message in err (column and what was expected). */
int cron_parse(struct cron *c, const char *expr, char *err, size_t err_size)
    __attribute__((warn_unused_result));

/* Check that zone names a TZif file of the tz database (under $TZDIR or /usr/share/zoneinfo,
 * as the C library looks): a relative name, case-sensitive, no "." or ".." parts, not a
 * directory ("Europe"), not "localtime" (host-dependent) nor "right/..." (leap seconds). Reads
 * the file's first bytes; the only I/O in this module, with cron_next's own check and load.
 * Returns 0, or -1 with a message in err. Call it when a schedule is created. */
int cron_zone_check(const char *zone, char *err, size_t err_size)
    __attribute__((warn_unused_result));

/* The first firing of c in zone strictly after after_ms (Unix milliseconds) into *next_ms: a
 * whole minute, by the DST policy above. The caller's TZ is unchanged on return. */
enum cron_status cron_next(const struct cron *c, const char *zone, int64_t after_ms,
                           int64_t *next_ms) __attribute__((warn_unused_result));

/* A sentence for a status, e.g. "never fires within 10 years". */
const char *cron_status_str(enum cron_status s);

#endif
