/*
 * Cron schedules (daemon/cron.c): every field syntax, the day rule, month ends, leap days and
 * DST changes in a table of cases; every error with its message; and random expressions checked
 * against a brute-force oracle that reads the wall clock minute by minute.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"

/* Unix ms of "YYYY-MM-DDTHH:MM[:SS[.mmm]]" followed by "Z" or "+HH:MM" / "-HH:MM". */
static int64_t iso_ms(const char *s)
{
    int y, mo, d, h, mi, n = 0;
    cr_assert_eq(sscanf(s, "%d-%d-%dT%d:%d%n", &y, &mo, &d, &h, &mi, &n), 5, "bad time %s", s);
    int sec = 0, ms = 0;
    char *p = (char *)s + n;
    if (*p == ':') {
        sec = (int)strtol(p + 1, &p, 10);
        if (*p == '.')
            ms = (int)strtol(p + 1, &p, 10);
    }
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    int64_t t = (int64_t)timegm(&tm);
    if (*p == '+' || *p == '-') {
        int oh, om;
        cr_assert_eq(sscanf(p + 1, "%d:%d", &oh, &om), 2, "bad offset in %s", s);
        t -= (*p == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    } else {
        cr_assert_eq(*p, 'Z', "time %s needs Z or an offset", s);
    }
    return t * 1000 + ms;
}

/* ms as an ISO UTC time, for messages (one of two rotating buffers). */
static const char *ms_iso(int64_t ms)
{
    static char bufs[2][80];
    static int next;
    char *b = bufs[next++ % 2];
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(b, 80, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return b;
}

/* One case: the first firing of expr in zone after `after` is `expect`. */
struct next_case {
    const char *expr, *zone, *after, *expect;
};

static const struct next_case next_cases[] = {
    /* Strictly after, on whole minutes. */
    {"* * * * *", "UTC", "2025-01-01T00:00Z", "2025-01-01T00:01Z"},
    {"* * * * *", "UTC", "2025-01-01T00:00:30.500Z", "2025-01-01T00:01Z"},
    {"* * * * *", "UTC", "2025-01-01T00:00:59.999Z", "2025-01-01T00:01Z"},
    {"5 * * * *", "UTC", "2025-01-01T00:05Z", "2025-01-01T01:05Z"},
    {"* * * * *", "UTC", "1970-01-01T00:00Z", "1970-01-01T00:01Z"},
    {"* * * * *", "UTC", "9999-12-31T23:58Z", "9999-12-31T23:59Z"},
    /* Lists, ranges, steps, leading zeros, blanks. */
    {"5,10,15 * * * *", "UTC", "2025-01-01T00:10Z", "2025-01-01T00:15Z"},
    {"10-12 * * * *", "UTC", "2025-01-01T00:12Z", "2025-01-01T01:10Z"},
    {"*/5 * * * *", "UTC", "2025-01-01T00:07Z", "2025-01-01T00:10Z"},
    {"1-10/2 * * * *", "UTC", "2025-01-01T00:04Z", "2025-01-01T00:05Z"},
    {"1-10/2 * * * *", "UTC", "2025-01-01T00:09Z", "2025-01-01T01:01Z"},
    {"0 */6 * * *", "UTC", "2025-01-01T06:00Z", "2025-01-01T12:00Z"},
    {"0 9-17/4 * * *", "UTC", "2025-01-01T09:00Z", "2025-01-01T13:00Z"},
    {"0 9-17/4 * * *", "UTC", "2025-01-01T17:00Z", "2025-01-02T09:00Z"},
    {"0,30 8,20 * * *", "UTC", "2025-01-01T08:30Z", "2025-01-01T20:00Z"},
    {"30 4 1,15 * *", "UTC", "2025-01-02T00:00Z", "2025-01-15T04:30Z"},
    {"00 05 * * *", "UTC", "2025-01-01T00:00Z", "2025-01-01T05:00Z"},
    {"0\t0  *   * *  ", "UTC", "2025-01-01T00:00Z", "2025-01-02T00:00Z"},
    {" 0 0 * * *", "UTC", "2025-01-01T00:00Z", "2025-01-02T00:00Z"},
    {"0-59/60 0-23/24 * * *", "UTC", "2025-01-01T00:00Z", "2025-01-02T00:00Z"},
    /* Month and weekday names in any case; Sunday as 0, 7 and SUN. */
    {"0 0 * JAN,jul *", "UTC", "2025-01-31T00:00Z", "2025-07-01T00:00Z"},
    {"0 0 1 mar-May/2 *", "UTC", "2025-03-01T00:00Z", "2025-05-01T00:00Z"},
    {"0 0 1 12 *", "UTC", "2025-01-01T00:00Z", "2025-12-01T00:00Z"},
    {"0 0 * * MON-FRI", "UTC", "2025-06-06T00:00Z", "2025-06-09T00:00Z"},
    {"0 0 * * sun", "UTC", "2025-06-02T00:00Z", "2025-06-08T00:00Z"},
    {"0 0 * * 0", "UTC", "2025-06-02T00:00Z", "2025-06-08T00:00Z"},
    {"0 0 * * 7", "UTC", "2025-06-02T00:00Z", "2025-06-08T00:00Z"},
    {"0 0 * * 5-7", "UTC", "2025-06-08T00:00Z", "2025-06-13T00:00Z"},
    {"0 0 * * 5-7", "UTC", "2025-06-13T00:00Z", "2025-06-14T00:00Z"},
    {"0 0 * * 5-7", "UTC", "2025-06-14T00:00Z", "2025-06-15T00:00Z"},
    {"0 0 * * */2", "UTC", "2025-06-08T00:00Z", "2025-06-10T00:00Z"},
    {"0 0 * * Sat", "UTC", "2025-06-08T00:00Z", "2025-06-14T00:00Z"},
    /* Both day fields restricted: either matches (13 July 2025 is a Sunday). */
    {"0 0 13 * FRI", "UTC", "2025-06-01T00:00Z", "2025-06-06T00:00Z"},
    {"0 0 13 * FRI", "UTC", "2025-07-05T00:00Z", "2025-07-11T00:00Z"},
    {"0 0 13 * FRI", "UTC", "2025-07-11T00:00Z", "2025-07-13T00:00Z"},
    {"0 0 1-7 * MON", "UTC", "2025-06-07T00:00Z", "2025-06-09T00:00Z"},
    /* A day field beginning with '*' makes both required (Vixie): odd days that are Mondays. */
    {"0 0 */2 * MON", "UTC", "2025-06-01T00:00Z", "2025-06-09T00:00Z"},
    {"0 0 * * MON", "UTC", "2025-06-01T00:00Z", "2025-06-02T00:00Z"},
    {"0 0 13 * */7", "UTC", "2025-01-01T00:00Z", "2025-04-13T00:00Z"},
    /* Month ends: the 31st, 30th and 29th skip the months without them. */
    {"0 0 31 * *", "UTC", "2025-01-31T00:00Z", "2025-03-31T00:00Z"},
    {"0 0 31 * *", "UTC", "2025-04-01T00:00Z", "2025-05-31T00:00Z"},
    {"0 0 31 * *", "UTC", "2025-08-31T00:00Z", "2025-10-31T00:00Z"},
    {"0 0 30 * *", "UTC", "2025-01-30T00:00Z", "2025-03-30T00:00Z"},
    {"0 0 29 * *", "UTC", "2025-01-29T00:00Z", "2025-03-29T00:00Z"},
    {"0 0 29 * *", "UTC", "2028-01-29T00:00Z", "2028-02-29T00:00Z"},
    {"0 0 28-31 2 *", "UTC", "2025-02-28T00:00Z", "2026-02-28T00:00Z"},
    {"0 0 28-31 2 *", "UTC", "2028-02-28T00:00Z", "2028-02-29T00:00Z"},
    /* Leap days, including the eight years across 2100, which is not a leap year. */
    {"0 0 29 2 *", "UTC", "2025-01-01T00:00Z", "2028-02-29T00:00Z"},
    {"0 0 29 2 *", "UTC", "2028-02-29T00:00Z", "2032-02-29T00:00Z"},
    {"0 0 29 2 *", "UTC", "2096-03-01T00:00Z", "2104-02-29T00:00Z"},
    {"0 0 29 2 *", "Europe/Berlin", "2025-01-01T00:00Z", "2028-02-29T00:00+01:00"},
    {"0 0 29 2 */7", "UTC", "2030-01-01T00:00Z", "2032-02-29T00:00Z"},
    /* Year rollover. */
    {"0 0 1 1 *", "UTC", "2025-12-31T23:59Z", "2026-01-01T00:00Z"},
    {"59 23 31 12 *", "UTC", "2025-12-31T23:59Z", "2026-12-31T23:59Z"},
    {"*/10 * * * *", "UTC", "2025-12-31T23:55Z", "2026-01-01T00:00Z"},
    /* Macros. */
    {"@yearly", "UTC", "2025-03-01T00:00Z", "2026-01-01T00:00Z"},
    {"@annually", "UTC", "2025-03-01T00:00Z", "2026-01-01T00:00Z"},
    {"@monthly", "UTC", "2025-01-31T12:00Z", "2025-02-01T00:00Z"},
    {"@weekly", "UTC", "2025-06-04T00:00Z", "2025-06-08T00:00Z"},
    {"@daily", "UTC", "2025-06-04T00:00Z", "2025-06-05T00:00Z"},
    {"@midnight", "UTC", "2025-06-04T00:00Z", "2025-06-05T00:00Z"},
    {"@hourly", "UTC", "2025-06-04T10:00Z", "2025-06-04T11:00Z"},
    {"  @HOURLY  ", "UTC", "2025-06-04T10:00Z", "2025-06-04T11:00Z"},
    {"@daily", "America/New_York", "2025-06-04T12:00Z", "2025-06-05T00:00-04:00"},
    /* Fixed offsets: 30 and 45 minutes, and a POSIX-signed Etc zone (GMT+5 is UTC-5). */
    {"0 9 * * *", "Asia/Kolkata", "2025-01-01T00:00Z", "2025-01-01T09:00+05:30"},
    {"0 0 1 * *", "Asia/Kolkata", "2025-01-31T12:00Z", "2025-02-01T00:00+05:30"},
    {"*/15 * * * *", "Asia/Kathmandu", "2025-01-01T00:00Z", "2025-01-01T06:00+05:45"},
    {"0 0 * * *", "Asia/Kathmandu", "2025-06-01T00:00Z", "2025-06-02T00:00+05:45"},
    {"0 12 * * *", "Etc/GMT+5", "2025-01-01T00:00Z", "2025-01-01T17:00Z"},
    {"0 0 * * *", "Etc/UTC", "2025-01-01T00:00Z", "2025-01-02T00:00Z"},

    /* Europe/Berlin, 2025-03-30: 02:00 CET becomes 03:00 CEST, at 01:00Z. */
    {"30 2 * * *", "Europe/Berlin", "2025-03-29T12:00Z", "2025-03-30T03:00+02:00"},
    {"30 2 * * *", "Europe/Berlin", "2025-03-30T00:30Z", "2025-03-30T03:00+02:00"},
    {"30 2 * * *", "Europe/Berlin", "2025-03-30T00:59:30Z", "2025-03-30T03:00+02:00"},
    {"30 2 * * *", "Europe/Berlin", "2025-03-30T03:00+02:00", "2025-03-31T02:30+02:00"},
    {"0 2 * * *", "Europe/Berlin", "2025-03-29T12:00Z", "2025-03-30T03:00+02:00"},
    {"0,30 2,3 * * *", "Europe/Berlin", "2025-03-30T01:59+01:00", "2025-03-30T03:00+02:00"},
    {"0,30 2,3 * * *", "Europe/Berlin", "2025-03-30T03:00+02:00", "2025-03-30T03:30+02:00"},
    {"* 2 * * *", "Europe/Berlin", "2025-03-29T12:00Z", "2025-03-30T03:00+02:00"},
    {"* 2 * * *", "Europe/Berlin", "2025-03-30T03:00+02:00", "2025-03-31T02:00+02:00"},
    {"45 1 * * *", "Europe/Berlin", "2025-03-29T12:00Z", "2025-03-30T01:45+01:00"},
    {"0 3 * * *", "Europe/Berlin", "2025-03-29T12:00Z", "2025-03-30T03:00+02:00"},
    {"*/15 * * * *", "Europe/Berlin", "2025-03-30T01:50+01:00", "2025-03-30T03:00+02:00"},
    {"30 * * * *", "Europe/Berlin", "2025-03-30T01:45+01:00", "2025-03-30T03:30+02:00"},
    /* Europe/Berlin, 2025-10-26: 03:00 CEST becomes 02:00 CET, at 01:00Z; 02:xx twice. */
    {"30 2 * * *", "Europe/Berlin", "2025-10-26T02:00+02:00", "2025-10-26T02:30+02:00"},
    {"30 2 * * *", "Europe/Berlin", "2025-10-26T02:30+02:00", "2025-10-27T02:30+01:00"},
    {"45 2 * * *", "Europe/Berlin", "2025-10-26T02:10+01:00", "2025-10-27T02:45+01:00"},
    {"* 2 * * *", "Europe/Berlin", "2025-10-26T02:59+02:00", "2025-10-27T02:00+01:00"},
    {"0 2 * * *", "Europe/Berlin", "2025-10-25T12:00Z", "2025-10-26T02:00+02:00"},
    {"59 1 * * *", "Europe/Berlin", "2025-10-25T12:00Z", "2025-10-26T01:59+02:00"},
    {"0 3 * * *", "Europe/Berlin", "2025-10-25T12:00Z", "2025-10-26T03:00+01:00"},
    {"*/15 * * * *", "Europe/Berlin", "2025-10-26T02:45+02:00", "2025-10-26T02:00+01:00"},
    {"30 * * * *", "Europe/Berlin", "2025-10-26T02:30+02:00", "2025-10-26T02:30+01:00"},

    /* America/New_York, 2025-03-09: 02:00 EST becomes 03:00 EDT, at 07:00Z. */
    {"30 2 * * *", "America/New_York", "2025-03-08T12:00Z", "2025-03-09T03:00-04:00"},
    {"15 2 * * SUN", "America/New_York", "2025-03-02T12:00Z", "2025-03-09T03:00-04:00"},
    {"30 2 9 3 *", "America/New_York", "2025-01-01T00:00Z", "2025-03-09T03:00-04:00"},
    {"0 * * * *", "America/New_York", "2025-03-09T01:30-05:00", "2025-03-09T03:00-04:00"},
    {"30 * * * *", "America/New_York", "2025-03-09T01:30-05:00", "2025-03-09T03:30-04:00"},
    /* America/New_York, 2025-11-02: 02:00 EDT becomes 01:00 EST, at 06:00Z; 01:xx twice. */
    {"30 1 * * *", "America/New_York", "2025-11-02T01:00-04:00", "2025-11-02T01:30-04:00"},
    {"30 1 * * *", "America/New_York", "2025-11-02T01:30-04:00", "2025-11-03T01:30-05:00"},
    {"30 1 * * *", "America/New_York", "2025-11-02T01:15-05:00", "2025-11-03T01:30-05:00"},
    {"0 1 * * *", "America/New_York", "2025-11-02T01:30-04:00", "2025-11-03T01:00-05:00"},
    {"0 2 * * *", "America/New_York", "2025-11-02T01:30-04:00", "2025-11-02T02:00-05:00"},
    {"*/20 * * * *", "America/New_York", "2025-11-02T01:45-04:00", "2025-11-02T01:00-05:00"},
    {"0 * * * *", "America/New_York", "2025-11-02T01:00-04:00", "2025-11-02T01:00-05:00"},

    /* Australia/Lord_Howe moves by 30 minutes: 02:00 becomes 02:30 on 2025-10-05, and 02:00
     * becomes 01:30 on 2025-04-06. */
    {"15 2 * * *", "Australia/Lord_Howe", "2025-10-04T12:00Z", "2025-10-05T02:30+11:00"},
    {"*/15 * * * *", "Australia/Lord_Howe", "2025-10-05T01:45+10:30", "2025-10-05T02:30+11:00"},
    {"45 1 * * *", "Australia/Lord_Howe", "2025-04-05T12:00Z", "2025-04-06T01:45+11:00"},
    {"45 1 * * *", "Australia/Lord_Howe", "2025-04-06T01:45+11:00", "2025-04-07T01:45+10:30"},
    {"45 * * * *", "Australia/Lord_Howe", "2025-04-06T01:45+11:00", "2025-04-06T01:45+10:30"},
    /* America/Sao_Paulo changed at midnight: 2018-11-04 began at 01:00, and 2019-02-16's
     * 23:xx happened twice. */
    {"0 0 * * *", "America/Sao_Paulo", "2018-11-03T12:00Z", "2018-11-04T01:00-02:00"},
    {"30 0 * * *", "America/Sao_Paulo", "2018-11-03T12:00Z", "2018-11-04T01:00-02:00"},
    {"30 * * * *", "America/Sao_Paulo", "2018-11-03T23:30-03:00", "2018-11-04T01:30-02:00"},
    {"30 23 * * *", "America/Sao_Paulo", "2019-02-16T23:00-02:00", "2019-02-16T23:30-02:00"},
    {"30 23 * * *", "America/Sao_Paulo", "2019-02-16T23:30-02:00", "2019-02-17T23:30-03:00"},
    {"30 * * * *", "America/Sao_Paulo", "2019-02-16T23:30-02:00", "2019-02-16T23:30-03:00"},
    {"0 0 * * *", "America/Sao_Paulo", "2019-02-16T12:00Z", "2019-02-17T00:00-03:00"},
    /* Pacific/Apia skipped 2011-12-30 entirely: a daily appointment that day fires when the
     * 31st begins; an hourly schedule has no instants to fire at that day. */
    {"0 12 * * *", "Pacific/Apia", "2011-12-29T13:00-10:00", "2011-12-31T00:00+14:00"},
    {"0 12 * * *", "Pacific/Apia", "2011-12-31T00:00+14:00", "2011-12-31T12:00+14:00"},
    {"0 * * * *", "Pacific/Apia", "2011-12-29T23:30-10:00", "2011-12-31T00:00+14:00"},
    {"0 0 30 12 *", "Pacific/Apia", "2011-06-01T00:00Z", "2011-12-31T00:00+14:00"},
    /* Africa/Casablanca leaves +01 for Ramadan: 03:00 becomes 02:00 on 2025-02-23, and 02:00
     * becomes 03:00 on 2025-04-06. */
    {"30 2 * * *", "Africa/Casablanca", "2025-02-23T02:00+01:00", "2025-02-23T02:30+01:00"},
    {"30 2 * * *", "Africa/Casablanca", "2025-02-23T02:30+01:00", "2025-02-24T02:30+00:00"},
    {"30 2 * * *", "Africa/Casablanca", "2025-04-05T12:00Z", "2025-04-06T03:00+01:00"},
};

/* Run one case; on failure say which, with both times. */
static void next_check(const struct next_case *k)
{
    struct cron c;
    char err[CRON_ERR_SIZE];
    cr_assert_eq(cron_parse(&c, k->expr, err, sizeof(err)), 0, "'%s': %s", k->expr, err);
    int64_t got = 0, want = iso_ms(k->expect);
    enum cron_status st = cron_next(&c, k->zone, iso_ms(k->after), &got);
    cr_assert_eq(st, CRON_OK, "'%s' in %s after %s: %s", k->expr, k->zone, k->after,
                 cron_status_str(st));
    cr_expect_eq(got, want, "'%s' in %s after %s: got %s, want %s (%s)", k->expr, k->zone, k->after,
                 ms_iso(got), ms_iso(want), k->expect);
}

Test(cron_next, table)
{
    for (size_t i = 0; i < sizeof(next_cases) / sizeof(next_cases[0]); i++)
        next_check(&next_cases[i]);
}

/* The last instant accepted, the first refused, and times before 1970. */
Test(cron_next, time_range)
{
    struct cron c;
    char err[CRON_ERR_SIZE];
    cr_assert_eq(cron_parse(&c, "* * * * *", err, sizeof(err)), 0);
    int64_t got = 0;
    cr_assert_eq(cron_next(&c, "UTC", INT64_C(253402300799999), &got), CRON_OK);
    cr_expect_eq(got, INT64_C(253402300800000)); /* 10000-01-01T00:00Z */
    cr_expect_eq(cron_next(&c, "UTC", INT64_C(253402300800000), &got), CRON_BAD_TIME);
    cr_expect_eq(cron_next(&c, "UTC", -1, &got), CRON_BAD_TIME);
    cr_expect_eq(cron_next(&c, "UTC", INT64_MAX, &got), CRON_BAD_TIME);
    cr_expect_eq(cron_next(&c, "UTC", INT64_MIN, &got), CRON_BAD_TIME);
    cr_expect(strstr(cron_status_str(CRON_BAD_TIME), "1970") != NULL);
}

/* Rare schedules beyond the horizon are CRON_NEVER, with a sentence that says so. */
Test(cron_next, never_within_horizon)
{
    struct cron c;
    char err[CRON_ERR_SIZE];
    /* 29 February on a Sunday: 2004, then 2032. */
    cr_assert_eq(cron_parse(&c, "0 0 29 2 */7", err, sizeof(err)), 0, "%s", err);
    int64_t got = 0;
    cr_expect_eq(cron_next(&c, "UTC", iso_ms("2005-01-01T00:00Z"), &got), CRON_NEVER);
    cr_expect_eq(cron_next(&c, "Europe/Berlin", iso_ms("2005-01-01T00:00Z"), &got), CRON_NEVER);
    cr_expect_str_eq(cron_status_str(CRON_NEVER), "never fires within 10 years");
}

/* An expression that must be refused, and words its message must contain. */
struct bad_case {
    const char *expr;
    const char *words[4];
};

static const struct bad_case bad_cases[] = {
    {"", {"column 1:", "expected 5 fields", "found 0", "empty"}},
    {"   ", {"column 4:", "found 0", "empty"}},
    {"* * * *", {"column 8:", "expected 5 fields (minute hour day-of-month", "found 4"}},
    {"* * * * * *", {"column 11:", "6th field", "seconds and years"}},
    {"0 0 1 1 * 2025", {"column 11:", "6th field"}},
    {"60 * * * *", {"column 1 (minute)", "60 is out of range", "0-59"}},
    {"* 24 * * *", {"column 3 (hour)", "24 is out of range", "0-23"}},
    {"* * 0 * *", {"column 5 (day-of-month)", "0 is out of range", "1-31"}},
    {"* * 32 * *", {"column 5 (day-of-month)", "32 is out of range"}},
    {"* * * 13 *", {"column 7 (month)", "13 is out of range", "1-12 or JAN-DEC"}},
    {"* * * 0 *", {"column 7 (month)", "0 is out of range"}},
    {"* * * * 8", {"column 9 (day-of-week)", "8 is out of range", "0-7", "SUN-SAT"}},
    {"99999999999999999999 * * * *", {"column 1 (minute)", "99999999999999999999 is out"}},
    {"*/0 * * * *", {"column 3 (minute)", "step 0 is out of range", "1-60"}},
    {"*/61 * * * *", {"column 3 (minute)", "step 61", "1-60"}},
    {"* */25 * * *", {"column 5 (hour)", "step 25", "1-24"}},
    {"* * * * */8", {"column 11 (day-of-week)", "step 8", "1-7"}},
    {"*/ * * * *", {"column 3 (minute)", "unexpected end of field after '/'", "step"}},
    {"5/10 * * * *", {"column 2 (minute)", "a step needs a range or '*'", "5-59/n"}},
    {"5-1 * * * *", {"column 1 (minute)", "range 5-1 is reversed", "low-high"}},
    {"0 0 * * FRI-SUN", {"column 9 (day-of-week)", "FRI-SUN is reversed", "written 7"}},
    {"1,,2 * * * *", {"column 3 (minute)", "empty list element after ','"}},
    {"1, * * * *", {"column 3 (minute)", "empty list element"}},
    {"5x * * * *", {"column 2 (minute)", "unexpected 'x'", "',' (list)"}},
    {"1-5-7 * * * *", {"column 4 (minute)", "unexpected '-'"}},
    {"1-x * * * *", {"column 3 (minute)", "unexpected 'x' after '-'", "expected a number"}},
    {"1- * * * *", {"column 3 (minute)", "unexpected end of field after '-'"}},
    {"*-5 * * * *", {"column 2 (minute)", "unexpected '-'"}},
    {"-5 * * * *", {"column 1 (minute)", "unexpected '-'", "a number or '*'"}},
    {"MON * * * *", {"column 1 (minute)", "unexpected 'M'", "a number or '*'"}},
    {"* * * FOO *", {"column 7 (month)", "unknown name 'FOO'", "JAN-DEC"}},
    {"* * * * FRIDAY", {"column 9 (day-of-week)", "unknown name 'FRIDAY'", "SUN-SAT"}},
    {"* * * JA *", {"column 7 (month)", "unknown name 'JA'"}},
    {"0 0 * * 1\n", {"column 10 (day-of-week)", "byte 0x0a"}},
    {"0 0 * * 1\xc3\xa9", {"column 10 (day-of-week)", "byte 0xc3"}},
    {"0 0 30 2 *",
     {"column 5 (day-of-month)", "never fires", "earliest day selected is 30", "at most 29 days"}},
    {"0 0 31 4,6,9,11 *", {"column 5 (day-of-month)", "never fires", "is 31", "at most 30"}},
    {"0 0 30,31 FEB *", {"column 5 (day-of-month)", "never fires", "is 30", "at most 29"}},
    {"@reboot", {"column 1:", "@reboot is not supported"}},
    {"@every 5m", {"column 1:", "unknown macro '@every'", "@hourly"}},
    {"@", {"column 1:", "unknown macro '@'"}},
    {"@daily x", {"column 8:", "unexpected text after @daily"}},
    {"@daily 0", {"column 8:", "unexpected text after @daily"}},
};

Test(cron_parse, errors)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *k = &bad_cases[i];
        struct cron c;
        char err[CRON_ERR_SIZE] = "";
        cr_expect_eq(cron_parse(&c, k->expr, err, sizeof(err)), -1, "'%s' was accepted", k->expr);
        for (int w = 0; w < 4 && k->words[w] != NULL; w++)
            cr_expect(strstr(err, k->words[w]) != NULL, "'%s': message \"%s\" lacks \"%s\"",
                      k->expr, err, k->words[w]);
    }
}

/* Overlong and NULL expressions; a message cut short by a small buffer stays a string. */
Test(cron_parse, limits)
{
    struct cron c;
    char err[CRON_ERR_SIZE];
    char longest[CRON_EXPR_MAX + 2];
    memset(longest, ' ', sizeof(longest));
    memcpy(longest, "* * * * *", 9);
    longest[CRON_EXPR_MAX] = '\0';
    cr_expect_eq(cron_parse(&c, longest, err, sizeof(err)), 0, "%s", err);
    longest[CRON_EXPR_MAX] = ' ';
    longest[CRON_EXPR_MAX + 1] = '\0';
    cr_expect_eq(cron_parse(&c, longest, err, sizeof(err)), -1);
    cr_expect(strstr(err, "at most 255 bytes") != NULL, "%s", err);
    cr_expect_eq(cron_parse(&c, NULL, err, sizeof(err)), -1);
    char tiny[8];
    cr_expect_eq(cron_parse(&c, "61 * * * *", tiny, sizeof(tiny)), -1);
    cr_expect_eq(strlen(tiny), sizeof(tiny) - 1);
    cr_expect_eq(cron_parse(&c, "61 * * * *", NULL, 0), -1);
}

/* The bitsets the parser fills, for a few expressions that say exactly what they select. */
Test(cron_parse, bitsets)
{
    struct cron c;
    char err[CRON_ERR_SIZE];
    cr_assert_eq(cron_parse(&c, "1-10/2,59 0,23 */10 jan,DEC 0,7", err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(c.minutes, (UINT64_C(1) << 59) | 0x2aa);
    cr_expect_eq(c.hours, (1u << 23) | 1u);
    cr_expect_eq(c.mdays, (1u << 1) | (1u << 11) | (1u << 21) | (1u << 31));
    cr_expect_eq(c.months, (1u << 1) | (1u << 12));
    cr_expect_eq(c.wdays, 1u);
    cr_expect(c.mday_star);
    cr_expect(!c.wday_star);
    cr_assert_eq(cron_parse(&c, "* * * * *", err, sizeof(err)), 0);
    cr_expect_eq(c.minutes, (UINT64_C(1) << 60) - 1);
    cr_expect_eq(c.hours, (1u << 24) - 1);
    cr_expect_eq(c.mdays, 0xfffffffeu);
    cr_expect_eq(c.months, 0x1ffe);
    cr_expect_eq(c.wdays, 0x7f);
    cr_expect(c.mday_star && c.wday_star);
    cr_assert_eq(cron_parse(&c, "@weekly", err, sizeof(err)), 0);
    cr_expect_eq(c.minutes, 1u);
    cr_expect_eq(c.wdays, 1u);
    cr_expect(c.mday_star && !c.wday_star);
}

/* A zone that must be refused, and words its message must contain. */
struct bad_zone {
    const char *zone;
    const char *words[3];
};

static const struct bad_zone bad_zones[] = {
    {"Europe/Berln", {"unknown time zone \"Europe/Berln\"", "no such zone in"}},
    {"europe/berlin", {"unknown time zone"}},
    {"Mars/Olympus_Mons", {"unknown time zone", "Europe/Berlin"}},
    {"", {"is empty", "IANA name"}},
    {"../etc/passwd", {"not a zone name", "position 1"}},
    {"Europe/../UTC", {"not a zone name", "position 8"}},
    {"/etc/localtime", {"not a zone name", "position 1"}},
    {"Europe//Berlin", {"not a zone name", "position 8"}},
    {"Europe/Berlin/", {"ends in '/'"}},
    {"Europe/.hidden", {"not a zone name"}},
    {"Europe/Berlin\n", {"byte 0x0a", "position 14"}},
    {"Europe/Berlin ", {"byte 0x20"}},
    {"Europe", {"is a directory of zones"}},
    {"zone.tab", {"not a TZif file"}},
    {"localtime", {"not supported", "this host"}},
    {"right/UTC", {"not supported", "leap-second"}},
};

Test(cron_zone, errors)
{
    char err[CRON_ERR_SIZE];
    for (size_t i = 0; i < sizeof(bad_zones) / sizeof(bad_zones[0]); i++) {
        const struct bad_zone *k = &bad_zones[i];
        err[0] = '\0';
        cr_expect_eq(cron_zone_check(k->zone, err, sizeof(err)), -1, "'%s' was accepted", k->zone);
        for (int w = 0; w < 3 && k->words[w] != NULL; w++)
            cr_expect(strstr(err, k->words[w]) != NULL, "'%s': message \"%s\" lacks \"%s\"",
                      k->zone, err, k->words[w]);
    }
    cr_expect_eq(cron_zone_check(NULL, err, sizeof(err)), -1);
    char longest[CRON_ZONE_MAX + 2];
    memset(longest, 'a', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    cr_expect_eq(cron_zone_check(longest, err, sizeof(err)), -1);
    cr_expect(strstr(err, "too long") != NULL, "%s", err);
}

Test(cron_zone, known)
{
    static const char *const good[] = {"UTC",
                                       "Etc/UTC",
                                       "Europe/Berlin",
                                       "America/New_York",
                                       "Asia/Kolkata",
                                       "Asia/Kathmandu",
                                       "Etc/GMT+5",
                                       "America/Argentina/Buenos_Aires",
                                       "posix/Europe/Berlin"};
    char err[CRON_ERR_SIZE];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_expect_eq(cron_zone_check(good[i], err, sizeof(err)), 0, "%s: %s", good[i], err);
}

/* TZDIR moves the zone database, as it does for the C library. */
Test(cron_zone, tzdir)
{
    char err[CRON_ERR_SIZE];
    cr_assert_eq(setenv("TZDIR", "/nonexistent-zoneinfo", 1), 0);
    cr_expect_eq(cron_zone_check("Europe/Berlin", err, sizeof(err)), -1);
    cr_expect(strstr(err, "no such zone in /nonexistent-zoneinfo") != NULL, "%s", err);
    struct cron c;
    cr_assert_eq(cron_parse(&c, "* * * * *", err, sizeof(err)), 0);
    int64_t got = 0;
    cr_expect_eq(cron_next(&c, "UTC", 0, &got), CRON_BAD_ZONE);
    cr_assert_eq(setenv("TZDIR", "/usr/share/zoneinfo/Europe", 1), 0);
    cr_expect_eq(cron_zone_check("Berlin", err, sizeof(err)), 0, "%s", err);
}

/* The caller's TZ, set or unset, is what it was after every kind of return. */
Test(cron_next, restores_tz)
{
    struct cron c;
    char err[CRON_ERR_SIZE];
    cr_assert_eq(cron_parse(&c, "30 2 * * *", err, sizeof(err)), 0);
    int64_t got = 0;
    cr_assert_eq(setenv("TZ", "America/Chicago", 1), 0);
    tzset();
    cr_expect_eq(cron_next(&c, "Asia/Kolkata", 0, &got), CRON_OK);
    cr_expect_str_eq(getenv("TZ"), "America/Chicago");
    cr_expect_eq(cron_next(&c, "Nowhere/Special", 0, &got), CRON_BAD_ZONE);
    cr_expect_eq(cron_next(&c, "UTC", -5, &got), CRON_BAD_TIME);
    cr_expect_str_eq(getenv("TZ"), "America/Chicago");
    time_t t = (time_t)(iso_ms("2025-01-15T12:00Z") / 1000);
    struct tm tm;
    cr_assert_not_null(localtime_r(&t, &tm));
    cr_expect_eq(tm.tm_gmtoff, -6 * 3600, "local time is not Chicago's again");
    cr_assert_eq(unsetenv("TZ"), 0);
    tzset();
    cr_expect_eq(cron_next(&c, "Europe/Berlin", 0, &got), CRON_OK);
    cr_expect_null(getenv("TZ"));
}

/* ---- Random expressions against a brute-force oracle ---- */

/* xorshift64*: a fixed seed, so a failure repeats. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

/* A random number in [0, n). */
static int rng_below(int n)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (int)((rng_state * UINT64_C(2685821657736338717)) >> 33) % n;
}

/* What the test meant an expression to select, built beside its text. */
struct oracle {
    uint64_t sets[5]; /* minute, hour, day of month, month, weekday (Sunday 0) */
    bool star[5];
    char text[CRON_EXPR_MAX + 1];
};

static const char *const month_names[] = {"jan", "FEB", "Mar", "APR", "may", "JUN",
                                          "Jul", "AUG", "sep", "OCT", "Nov", "DEC"};
static const char *const day_names[] = {"SUN", "mon", "Tue", "WED", "thu", "FRI", "sat"};

/* Append one value of field i, sometimes as a name or (Sunday, alone) as 7. */
static void oracle_value(char *out, size_t size, int i, int v, bool alone)
{
    size_t n = strlen(out);
    if (i == 3 && rng_below(3) == 0)
        snprintf(out + n, size - n, "%s", month_names[v - 1]);
    else if (i == 4 && rng_below(3) == 0)
        snprintf(out + n, size - n, "%s", day_names[v]);
    else if (i == 4 && v == 0 && alone && rng_below(2) == 0)
        snprintf(out + n, size - n, "7");
    else
        snprintf(out + n, size - n, "%d", v);
}

/* Add a random field i (values lo..hi) to o: '*', a star step, or a list of items. */
static void oracle_field(struct oracle *o, int i, int lo, int hi, int star_odds)
{
    char field[160] = "";
    uint64_t set = 0;
    int kind = rng_below(star_odds);
    if (kind == 0) {
        strcpy(field, "*");
        for (int v = lo; v <= hi; v++)
            set |= UINT64_C(1) << v;
    } else if (kind == 1) {
        int step = 1 + rng_below(hi - lo + 1);
        snprintf(field, sizeof(field), "*/%d", step);
        for (int v = lo; v <= hi; v += step)
            set |= UINT64_C(1) << v;
    } else {
        int items = 1 + rng_below(3);
        for (int k = 0; k < items; k++) {
            if (k > 0)
                strcat(field, ",");
            int a = lo + rng_below(hi - lo + 1);
            int b = a + rng_below(hi - a + 1);
            int form = rng_below(3);
            oracle_value(field, sizeof(field), i, a, form == 0 || a == b);
            if (form == 0 || a == b) {
                set |= UINT64_C(1) << a;
                continue;
            }
            strcat(field, "-");
            oracle_value(field, sizeof(field), i, b, false);
            int step = form == 1 ? 1 : 1 + rng_below(b - a + 1);
            if (form == 2)
                snprintf(field + strlen(field), sizeof(field) - strlen(field), "/%d", step);
            for (int v = a; v <= b; v += step)
                set |= UINT64_C(1) << v;
        }
    }
    /* A weekday 7 written by oracle_value is Sunday, which the set already has as 0. */
    o->sets[i] = set;
    o->star[i] = field[0] == '*';
    size_t n = strlen(o->text);
    snprintf(o->text + n, sizeof(o->text) - n, "%s%s", n > 0 ? " " : "", field);
}

/* A random expression; dense ones (for DST windows) restrict only minutes and hours. */
static void oracle_make(struct oracle *o, bool dense)
{
    memset(o, 0, sizeof(*o));
    oracle_field(o, 0, 0, 59, dense ? 3 : 4);
    oracle_field(o, 1, 0, 23, dense ? 2 : 3);
    oracle_field(o, 2, 1, 31, dense ? 1 : 3);
    oracle_field(o, 3, 1, 12, dense ? 1 : 2);
    oracle_field(o, 4, 0, 6, dense ? 1 : 3);
}

/* Whether the expression selects the wall time tm (the day rule from cron.h). */
static bool oracle_matches(const struct oracle *o, const struct tm *tm)
{
    bool dom = o->sets[2] >> tm->tm_mday & 1, dow = o->sets[4] >> tm->tm_wday & 1;
    bool day = o->star[2] || o->star[4] ? dom && dow : dom || dow;
    return day && (o->sets[0] >> tm->tm_min & 1) && (o->sets[1] >> tm->tm_hour & 1) &&
           (o->sets[3] >> (tm->tm_mon + 1) & 1);
}

/* The test process's local time (TZ set by the caller) at instant t, in seconds. */
static struct tm oracle_local(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    cr_assert_not_null(localtime_r(&tt, &tm));
    return tm;
}

/* Whether the expression selects the wall time w (seconds on a zone-less calendar). */
static bool oracle_matches_wall(const struct oracle *o, int64_t w)
{
    time_t tt = (time_t)w;
    struct tm tm;
    cr_assert_not_null(gmtime_r(&tt, &tm));
    return oracle_matches(o, &tm);
}

/* Whether the schedule fires at instant t (a whole minute), read off the wall clock alone:
 * an every-hour schedule when the wall time matches; an appointment when the wall time matches
 * and did not occur earlier (sampled over the day before), or when clocks just jumped forward
 * over a matching wall time. */
static bool oracle_fires(const struct oracle *o, int64_t t)
{
    struct tm tm = oracle_local(t);
    bool appointment = o->sets[1] != (UINT64_C(1) << 24) - 1;
    if (!appointment)
        return oracle_matches(o, &tm);
    int64_t wall = t + tm.tm_gmtoff;
    if (oracle_matches(o, &tm)) {
        bool earlier = false;
        for (int k = 1; k <= 26 * 4 && !earlier; k++) {
            long off = oracle_local(t - k * 900).tm_gmtoff;
            if (off != tm.tm_gmtoff && wall - off < t && oracle_local(wall - off).tm_gmtoff == off)
                earlier = true;
        }
        if (!earlier)
            return true;
    }
    long before = oracle_local(t - 60).tm_gmtoff;
    for (int64_t w = t + before; w < wall; w += 60) {
        if (oracle_matches_wall(o, w))
            return true;
    }
    return false;
}

/* Use zone for the oracle's local time. */
static void oracle_zone(const char *zone)
{
    cr_assert_eq(setenv("TZ", zone, 1), 0);
    tzset();
}

static const char *const random_zones[] = {
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "Pacific/Apia",
    "America/Santiago",
    "Asia/Tehran",
};

/* Random expressions, zones and times: the result is after, on a minute, selected by the
 * expression, and the next one after it is later still; CRON_NEVER only for days that do
 * not come within the horizon. */
Test(cron_next, random_expressions)
{
    int never = 0;
    for (int i = 0; i < 3000; i++) {
        struct oracle o;
        oracle_make(&o, false);
        const char *zone = random_zones[rng_below(10)];
        int64_t after =
            iso_ms("2000-01-01T00:00Z") + (int64_t)rng_below(1 << 30) * 1000 + rng_below(1000);
        struct cron c;
        char err[CRON_ERR_SIZE];
        if (cron_parse(&c, o.text, err, sizeof(err)) != 0) {
            /* Only a day of month that none of the months has may be refused. */
            cr_assert(strstr(err, "never fires") != NULL, "'%s': %s", o.text, err);
            cr_assert(!o.star[2] && o.star[4], "'%s' refused: %s", o.text, err);
            continue;
        }
        oracle_zone(zone);
        int64_t first = 0, second = 0;
        enum cron_status st = cron_next(&c, zone, after, &first);
        if (st == CRON_NEVER) {
            /* No matching calendar day in the horizon (with a day's margin either side). */
            never++;
            for (int64_t d = after / 1000 + 86400; d < after / 1000 + 3651LL * 86400; d += 86400) {
                struct tm tm;
                time_t tt = (time_t)d;
                gmtime_r(&tt, &tm);
                tm.tm_hour = __builtin_ctzll(o.sets[1]);
                tm.tm_min = __builtin_ctzll(o.sets[0]);
                cr_assert(!oracle_matches(&o, &tm), "'%s' never fires, yet %04d-%02d-%02d", o.text,
                          tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
            }
            continue;
        }
        cr_assert_eq(st, CRON_OK, "'%s' in %s: %s", o.text, zone, cron_status_str(st));
        cr_assert_gt(first, after, "'%s' in %s after %s", o.text, zone, ms_iso(after));
        cr_assert_eq(first % 60000, 0, "'%s' in %s: %s", o.text, zone, ms_iso(first));
        cr_assert(oracle_fires(&o, first / 1000), "'%s' in %s after %s: %s does not match", o.text,
                  zone, ms_iso(after), ms_iso(first));
        st = cron_next(&c, zone, first, &second);
        if (st == CRON_NEVER)
            continue;
        cr_assert_eq(st, CRON_OK);
        cr_assert_gt(second, first, "'%s' in %s", o.text, zone);
        cr_assert(oracle_fires(&o, second / 1000), "'%s' in %s: %s does not match", o.text, zone,
                  ms_iso(second));
    }
    cr_expect_lt(never, 300, "%d of 3000 never fired", never);
}

/* Instants where the zone's offset changes; the test checks each really is one. */
struct transition {
    const char *zone, *at;
};

static const struct transition transitions[] = {
    {"Europe/Berlin", "2025-03-30T01:00Z"},       {"Europe/Berlin", "2025-10-26T01:00Z"},
    {"America/New_York", "2025-03-09T07:00Z"},    {"America/New_York", "2025-11-02T06:00Z"},
    {"Australia/Lord_Howe", "2025-04-05T15:00Z"}, {"Australia/Lord_Howe", "2025-10-04T15:30Z"},
    {"America/Sao_Paulo", "2018-11-04T03:00Z"},   {"America/Sao_Paulo", "2019-02-17T02:00Z"},
    {"Pacific/Apia", "2011-12-30T10:00Z"},        {"America/Santiago", "2025-04-06T03:00Z"},
    {"America/Santiago", "2025-09-07T04:00Z"},    {"Asia/Tehran", "2022-03-21T20:30Z"},
    {"Africa/Casablanca", "2025-02-23T02:00Z"},   {"Africa/Casablanca", "2025-04-06T02:00Z"},
};

/* Near DST changes, each of six successive results is exactly the oracle's next firing,
 * found minute by minute. */
Test(cron_next, oracle_near_transitions)
{
    size_t n = sizeof(transitions) / sizeof(transitions[0]);
    for (size_t k = 0; k < n; k++) {
        oracle_zone(transitions[k].zone);
        int64_t at = iso_ms(transitions[k].at) / 1000;
        cr_assert_neq(oracle_local(at - 1).tm_gmtoff, oracle_local(at).tm_gmtoff,
                      "%s does not change its offset at %s", transitions[k].zone,
                      transitions[k].at);
    }
    for (int i = 0; i < 600; i++) {
        const struct transition *tr = &transitions[rng_below((int)n)];
        struct oracle o;
        oracle_make(&o, true);
        struct cron c;
        char err[CRON_ERR_SIZE];
        cr_assert_eq(cron_parse(&c, o.text, err, sizeof(err)), 0, "'%s': %s", o.text, err);
        oracle_zone(tr->zone);
        /* Mostly within hours of the change, sometimes a day or more away. */
        int64_t minutes =
            rng_below(4) == 0 ? rng_below(48 * 60) - 36 * 60 : rng_below(7 * 60) - 4 * 60;
        int64_t after =
            iso_ms(tr->at) + minutes * 60000 + (rng_below(4) == 0 ? rng_below(60000) : 0);
        int64_t end = iso_ms(tr->at) / 1000 + 2 * 86400;
        for (int step = 0; step < 6; step++) {
            int64_t got = 0, want = INT64_MAX;
            cr_assert_eq(cron_next(&c, tr->zone, after, &got), CRON_OK, "'%s'", o.text);
            for (int64_t t = (after / 60000 + 1) * 60; t <= end; t += 60) {
                if (oracle_fires(&o, t)) {
                    want = t * 1000;
                    break;
                }
            }
            if (want == INT64_MAX) {
                cr_assert_gt(got / 1000, end, "'%s' in %s after %s: got %s", o.text, tr->zone,
                             ms_iso(after), ms_iso(got));
                break;
            }
            cr_assert_eq(got, want, "'%s' in %s after %s: got %s, oracle %s", o.text, tr->zone,
                         ms_iso(after), ms_iso(got), ms_iso(want));
            after = got;
        }
    }
}
