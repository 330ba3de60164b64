/*
 * Cron schedules as pure computation: the expression parser (bitsets, errors with a column)
 * and the next-firing search in a time zone, with the DST policy described in cron.h.
 */
#include "cron.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DAY_S     86400
#define HORIZON_S ((int64_t)CRON_HORIZON_YEARS * 36525 / 100 * DAY_S)
/* 9999-12-31T23:59:59.999Z, the last instant cron_next accepts. */
#define MAX_MS           INT64_C(253402300799999)
#define ZONEINFO_DEFAULT "/usr/share/zoneinfo"
#define FIELDS_HINT      "5 fields (minute hour day-of-month month day-of-week)"
#define TEXT_OF(x)       #x
#define TEXT(x)          TEXT_OF(x)

/* One of the five fields: its name in messages, its values and its names. */
struct field {
    const char *name;
    int lo, hi;        /* values accepted */
    int star_hi;       /* the last value '*' selects (day-of-week: 6, as 7 is Sunday again) */
    const char *names; /* three-letter names for lo, lo+1, ... concatenated, or NULL */
    const char *range; /* the accepted values, for messages */
};

static const struct field fields[5] = {
    {"minute", 0, 59, 59, NULL, "0-59"},
    {"hour", 0, 23, 23, NULL, "0-23"},
    {"day-of-month", 1, 31, 31, NULL, "1-31"},
    {"month", 1, 12, 12, "JANFEBMARAPRMAYJUNJULAUGSEPOCTNOVDEC", "1-12 or JAN-DEC"},
    {"day-of-week", 0, 7, 6, "SUNMONTUEWEDTHUFRISAT", "0-7 (0 and 7 are Sunday) or SUN-SAT"},
};

/* The parser's position in one expression, and where its message goes. */
struct parser {
    const char *s;
    size_t pos;
    const struct field *f; /* the field being parsed, or NULL between fields */
    char *err;
    size_t err_size;
};

/* Write "column N (field): message" into the error buffer; returns -1 for the caller. */
__attribute__((format(printf, 3, 4))) static int parser_fail(struct parser *p, size_t at,
                                                             const char *fmt, ...)
{
    if (p->err == NULL || p->err_size == 0)
        return -1;
    int n;
    if (p->f != NULL)
        n = snprintf(p->err, p->err_size, "column %zu (%s): ", at + 1, p->f->name);
    else
        n = snprintf(p->err, p->err_size, "column %zu: ", at + 1);
    if (n < 0 || (size_t)n >= p->err_size)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + n, p->err_size - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Whether ch ends a field: a blank or the end of the expression. */
static bool parser_at_end(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\0';
}

/* Describe the byte ch for a message: 'x', "end of field" or a hex byte. */
static const char *parser_describe(char ch, char buf[24])
{
    if (parser_at_end(ch))
        snprintf(buf, 24, "end of field");
    else if (ch > ' ' && ch < 0x7f)
        snprintf(buf, 24, "'%c'", ch);
    else
        snprintf(buf, 24, "byte 0x%02x", (unsigned)(unsigned char)ch);
    return buf;
}

/* Whether ch is an ASCII digit (isdigit would depend on the locale). */
static bool parser_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Whether ch is an ASCII letter. */
static bool parser_letter(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* Read a run of digits as a number, saturating at 1000 so a long run cannot overflow. */
static int parser_number(struct parser *p)
{
    int v = 0;
    while (parser_digit(p->s[p->pos])) {
        if (v < 1000)
            v = v * 10 + (p->s[p->pos] - '0');
        p->pos++;
    }
    return v;
}

/* Read one value of the field (a number or a name) into *v; after_dash: it ends a range. */
static int parser_value(struct parser *p, int *v, bool after_dash)
{
    const struct field *f = p->f;
    size_t at = p->pos;
    char ch = p->s[at];
    char buf[24];
    if (parser_digit(ch)) {
        *v = parser_number(p);
        if (*v < f->lo || *v > f->hi)
            return parser_fail(p, at, "%.*s is out of range, expected %s", (int)(p->pos - at),
                               p->s + at, f->range);
        return 0;
    }
    if (parser_letter(ch) && f->names != NULL) {
        while (parser_letter(p->s[p->pos]))
            p->pos++;
        size_t len = p->pos - at;
        for (int i = 0; len == 3 && f->names[3 * i] != '\0'; i++) {
            if (strncasecmp(p->s + at, f->names + 3 * i, 3) == 0) {
                *v = f->lo + i;
                return 0;
            }
        }
        return parser_fail(p, at, "unknown name '%.*s', expected %s", len > 16 ? 16 : (int)len,
                           p->s + at, f->range);
    }
    return parser_fail(p, at, "unexpected %s%s, expected %s%s", parser_describe(ch, buf),
                       after_dash ? " after '-'" : "",
                       f->names != NULL ? "a number, a name" : "a number",
                       after_dash ? "" : " or '*'");
}

/* Parse one list element (*, a, a-b, each with an optional /step) into bits. */
static int parser_item(struct parser *p, uint64_t *bits)
{
    const struct field *f = p->f;
    size_t start = p->pos;
    int lo, hi;
    bool single = false;
    if (p->s[p->pos] == '*') {
        p->pos++;
        lo = f->lo;
        hi = f->star_hi;
    } else {
        if (parser_value(p, &lo, false) != 0)
            return -1;
        hi = lo;
        single = true;
        if (p->s[p->pos] == '-') {
            p->pos++;
            if (parser_value(p, &hi, true) != 0)
                return -1;
            single = false;
            if (hi < lo)
                return parser_fail(p, start, "range %.*s is reversed, expected low-high%s",
                                   (int)(p->pos - start), p->s + start,
                                   f->lo == 0 && f->hi == 7 ? " (Sunday can be written 7)" : "");
        }
    }
    int step = 1;
    if (p->s[p->pos] == '/') {
        size_t at = p->pos++;
        if (single)
            return parser_fail(p, at, "a step needs a range or '*' before '/', e.g. %d-%d/n", lo,
                               f->star_hi);
        size_t num = p->pos;
        char buf[24];
        if (!parser_digit(p->s[num]))
            return parser_fail(p, num, "unexpected %s after '/', expected a step (a number)",
                               parser_describe(p->s[num], buf));
        step = parser_number(p);
        int most = f->star_hi - f->lo + 1;
        if (step < 1 || step > most)
            return parser_fail(p, num, "step %.*s is out of range, expected 1-%d",
                               (int)(p->pos - num), p->s + num, most);
    }
    for (int v = lo; v <= hi; v += step)
        *bits |= UINT64_C(1) << (v == 7 && f->hi == 7 ? 0 : v);
    return 0;
}

/* Parse the comma list at the parser's position into bits; *star: it began with '*'. */
static int parser_field(struct parser *p, uint64_t *bits, bool *star)
{
    char buf[24];
    *bits = 0;
    *star = p->s[p->pos] == '*';
    for (bool first = true;; first = false) {
        char at = p->s[p->pos];
        if (!first && (parser_at_end(at) || at == ','))
            return parser_fail(p, p->pos, "empty list element after ','");
        if (parser_item(p, bits) != 0)
            return -1;
        char ch = p->s[p->pos];
        if (ch == ',') {
            p->pos++;
            continue;
        }
        if (parser_at_end(ch))
            return 0;
        return parser_fail(p, p->pos,
                           "unexpected %s, expected ',' (list), '-' (range), '/' (step) "
                           "or a space before the next field",
                           parser_describe(ch, buf));
    }
}

/* Skip blanks between fields. */
static void parser_blanks(struct parser *p)
{
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t')
        p->pos++;
}

/* Days in month m (1-12) of year y, in the proleptic Gregorian calendar. */
static int days_in_month(int64_t y, int m)
{
    static const int days[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m];
}

/* Reject a day-of-month that none of the selected months has, as it could never fire. */
static int parser_check_days(struct parser *p, const struct cron *c, size_t mday_at)
{
    if (c->mday_star || !c->wday_star)
        return 0; /* every month has day 1, or any weekday matches (the OR rule) */
    int first = __builtin_ctz(c->mdays), longest = 0;
    for (int m = 1; m <= 12; m++) {
        int n = days_in_month(2000, m); /* a leap year: February can have 29 */
        if ((c->months >> m & 1) && n > longest)
            longest = n;
    }
    if (first <= longest)
        return 0;
    p->f = &fields[2];
    return parser_fail(p, mday_at,
                       "never fires: the earliest day selected is %d, but the selected months "
                       "have at most %d days",
                       first, longest);
}

/* Expand @name at the parser's position into *c. */
static int parser_macro(struct parser *p, struct cron *c)
{
    static const char *const macros[][2] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"},
    };
    size_t at = p->pos;
    p->pos++;
    while (parser_letter(p->s[p->pos]))
        p->pos++;
    size_t len = p->pos - at;
    const char *expansion = NULL;
    for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
        if (strlen(macros[i][0]) == len && strncasecmp(p->s + at, macros[i][0], len) == 0)
            expansion = macros[i][1];
    }
    if (expansion == NULL && len == 7 && strncasecmp(p->s + at, "@reboot", len) == 0)
        return parser_fail(p, at, "@reboot is not supported: a durable schedule has no boot");
    if (expansion == NULL)
        return parser_fail(p, at,
                           "unknown macro '%.*s', expected @yearly, @annually, @monthly, "
                           "@weekly, @daily, @midnight or @hourly",
                           len > 16 ? 16 : (int)len, p->s + at);
    parser_blanks(p);
    if (p->s[p->pos] != '\0')
        return parser_fail(p, p->pos, "unexpected text after %.*s, which stands for all %s",
                           (int)len, p->s + at, FIELDS_HINT);
    char ignored[1];
    return cron_parse(c, expansion, ignored, sizeof(ignored));
}

/* Parse expr field by field into bitsets, then reject what can never fire. */
int cron_parse(struct cron *c, const char *expr, char *err, size_t err_size)
{
    struct parser p = {.s = expr, .err = err, .err_size = err_size};
    memset(c, 0, sizeof(*c));
    if (expr == NULL || strnlen(expr, CRON_EXPR_MAX + 1) > CRON_EXPR_MAX) {
        p.s = "";
        return parser_fail(&p, 0, "expected a cron expression of at most %d bytes", CRON_EXPR_MAX);
    }
    parser_blanks(&p);
    if (expr[p.pos] == '@')
        return parser_macro(&p, c);
    uint64_t bits[5];
    bool star[5];
    size_t at[5];
    for (int i = 0; i < 5; i++) {
        parser_blanks(&p);
        if (expr[p.pos] == '\0')
            return parser_fail(&p, p.pos, "expected %s, found %d%s", FIELDS_HINT, i,
                               i == 0 ? " (empty expression)" : "");
        at[i] = p.pos;
        p.f = &fields[i];
        if (parser_field(&p, &bits[i], &star[i]) != 0)
            return -1;
        p.f = NULL;
    }
    parser_blanks(&p);
    if (expr[p.pos] != '\0')
        return parser_fail(&p, p.pos,
                           "unexpected 6th field, expected %s: seconds and years are not "
                           "supported",
                           FIELDS_HINT);
    c->minutes = bits[0];
    c->hours = (uint32_t)bits[1];
    c->mdays = (uint32_t)bits[2];
    c->months = (uint16_t)bits[3];
    c->wdays = (uint8_t)bits[4];
    c->mday_star = star[2];
    c->wday_star = star[4];
    if (parser_check_days(&p, c, at[2]) != 0) {
        memset(c, 0, sizeof(*c));
        return -1;
    }
    return 0;
}

/* a divided by b (b > 0), rounded towards minus infinity. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return a % b < 0 ? q - 1 : q;
}

/* Round the instant or wall time t (seconds) up to a whole minute. */
static int64_t minute_ceil(int64_t t)
{
    return floor_div(t + 59, 60) * 60;
}

/* Days from 1970-01-01 to 1 January of year y. */
static int64_t days_before_year(int64_t y)
{
    int64_t p = y - 1;
    return 365 * p + floor_div(p, 4) - floor_div(p, 100) + floor_div(p, 400) - 719162;
}

/* The calendar date of day number days (0 = 1970-01-01). */
static void days_to_date(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t year = 1970 + floor_div(days * 400, 146097);
    while (days_before_year(year) > days)
        year--;
    while (days_before_year(year + 1) <= days)
        year++;
    int64_t left = days - days_before_year(year);
    int month = 1;
    while (left >= days_in_month(year, month))
        left -= days_in_month(year, month++);
    *y = year;
    *m = month;
    *d = (int)left + 1;
}

/* The lowest set bit of bits at or above from, or -1 when there is none. */
static int bit_next(uint64_t bits, int from)
{
    if (from > 63)
        return -1;
    bits &= ~UINT64_C(0) << from;
    return bits != 0 ? __builtin_ctzll(bits) : -1;
}

/* Whether a day matches: both day fields, or either when neither began with '*'. */
static bool cron_day_matches(const struct cron *c, int mday, int wday)
{
    bool dom = c->mdays >> mday & 1, dow = c->wdays >> wday & 1;
    if (c->mday_star || c->wday_star)
        return dom && dow;
    return dom || dow;
}

/* The first matching wall time in [from, limit) (seconds on a calendar without time zones;
 * from a whole minute) into *wall. Returns whether there is one. */
static bool cron_wall_next(const struct cron *c, int64_t from, int64_t limit, int64_t *wall)
{
    int64_t days = floor_div(from, DAY_S), y;
    int sod = (int)(from - days * DAY_S), m, d;
    int h0 = sod / 3600, m0 = sod % 3600 / 60;
    int wday = (int)(days + 4 - floor_div(days + 4, 7) * 7); /* 1970-01-01 was a Thursday */
    days_to_date(days, &y, &m, &d);
    while (days * DAY_S < limit) {
        int length = days_in_month(y, m);
        int skip = 1;
        if (!(c->months >> m & 1)) {
            skip = length - d + 1;
        } else if (cron_day_matches(c, d, wday)) {
            int hour = bit_next(c->hours, h0), minute = -1;
            if (hour == h0) {
                minute = bit_next(c->minutes, m0);
                if (minute < 0)
                    hour = bit_next(c->hours, h0 + 1);
            }
            if (hour >= 0 && minute < 0)
                minute = bit_next(c->minutes, 0);
            if (hour >= 0) {
                *wall = days * DAY_S + hour * 3600 + minute * 60;
                return *wall < limit;
            }
        }
        days += skip;
        wday = (wday + skip) % 7;
        d += skip;
        if (d > length) {
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
        h0 = m0 = 0;
    }
    return false;
}

/* Check zone's name and file; on success the file's path goes into path. */
static int zone_resolve(const char *zone, char *path, size_t size, char *err, size_t err_size)
{
    const char *hint = "expected an IANA name such as Europe/Berlin or UTC";
    size_t len = zone != NULL ? strnlen(zone, CRON_ZONE_MAX + 1) : 0;
    if (len == 0 || len > CRON_ZONE_MAX) {
        snprintf(err, err_size, "time zone name %s, %s", len == 0 ? "is empty" : "is too long",
                 hint);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = zone[i];
        if (!parser_letter(ch) && !parser_digit(ch) && strchr("/_-+.", ch) == NULL) {
            snprintf(err, err_size,
                     "time zone name has byte 0x%02x at position %zu, %s (letters, digits, "
                     "'_', '-', '+', '.', and '/' between names)",
                     (unsigned)(unsigned char)ch, i + 1, hint);
            return -1;
        }
    }
    /* Now safe to quote. No absolute path, and no part that is empty or starts with '.'. */
    for (size_t i = 0; i < len; i++) {
        bool starts = i == 0 || zone[i - 1] == '/';
        if (starts && (zone[i] == '/' || zone[i] == '.')) {
            snprintf(err, err_size,
                     "time zone \"%s\" is not a zone name (a '/' or '.' at position %zu), %s", zone,
                     i + 1, hint);
            return -1;
        }
    }
    if (zone[len - 1] == '/') {
        snprintf(err, err_size, "time zone \"%s\" ends in '/', %s", zone, hint);
        return -1;
    }
    if (strcmp(zone, "localtime") == 0 || strncmp(zone, "right/", 6) == 0) {
        snprintf(err, err_size, "time zone \"%s\" is not supported (%s), %s", zone,
                 zone[0] == 'l' ? "it is whatever this host is set to"
                                : "leap-second clocks do not count Unix time",
                 hint);
        return -1;
    }
    const char *dir = getenv("TZDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = ZONEINFO_DEFAULT;
    int n = snprintf(path, size, "%s/%s", dir, zone);
    if (n < 0 || (size_t)n >= size) {
        snprintf(err, err_size, "time zone \"%s\": the path under %s is too long", zone, dir);
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            snprintf(err, err_size, "unknown time zone \"%s\" (no such zone in %s), %s", zone, dir,
                     hint);
        else
            snprintf(err, err_size, "time zone \"%s\": cannot open %s: %s", zone, path,
                     strerror(errno));
        return -1;
    }
    struct stat st;
    char magic[4] = {0};
    ssize_t got = -1;
    bool stated = fstat(fd, &st) == 0;
    bool regular = stated && S_ISREG(st.st_mode);
    if (regular) {
        do
            got = read(fd, magic, sizeof(magic));
        while (got < 0 && errno == EINTR);
    }
    close(fd);
    if (got == (ssize_t)sizeof(magic) && memcmp(magic, "TZif", 4) == 0)
        return 0;
    if (regular || (stated && S_ISDIR(st.st_mode)))
        snprintf(err, err_size, "time zone \"%s\" is not a zone: %s is %s, %s", zone, path,
                 regular ? "not a TZif file" : "a directory of zones", hint);
    else
        snprintf(err, err_size, "time zone \"%s\" is not a zone: %s is not a regular file", zone,
                 path);
    return -1;
}

/* Check zone's name and its TZif file, with a message in err when it is not a zone. */
int cron_zone_check(const char *zone, char *err, size_t err_size)
{
    char path[PATH_MAX], scratch[1];
    if (err == NULL) {
        err = scratch;
        err_size = sizeof(scratch);
    }
    return zone_resolve(zone, path, sizeof(path), err, err_size);
}

/* The caller's TZ, kept while cron_next computes in another zone. */
struct zone_saved {
    bool had;
    char value[PATH_MAX];
};

/* Make the zone file at path the process's local time, saving the caller's TZ. On failure
 * TZ is unchanged (setenv either replaces it or fails with ENOMEM). */
static int zone_enter(const char *path, struct zone_saved *saved)
{
    const char *old = getenv("TZ");
    saved->had = old != NULL;
    if (old != NULL &&
        snprintf(saved->value, sizeof(saved->value), "%s", old) >= (int)sizeof(saved->value))
        return -1; /* could not be restored */
    char tz[PATH_MAX + 1];
    if (snprintf(tz, sizeof(tz), ":%s", path) >= (int)sizeof(tz))
        return -1;
    if (setenv("TZ", tz, 1) != 0)
        return -1;
    tzset();
    return 0;
}

/* Give the process back the caller's TZ. */
static int zone_leave(const struct zone_saved *saved)
{
    int rc = saved->had ? setenv("TZ", saved->value, 1) : unsetenv("TZ");
    tzset();
    return rc;
}

/* One cron_next search: the schedule, its DST mode, and whether the C library failed. */
struct search {
    const struct cron *c;
    bool appointment; /* the hour field is restricted: each wall time fires once (cron.h) */
    bool failed;
};

/* The zone's offset east of UTC at instant t, in seconds (0 and failed when unknown). */
static long search_offset(struct search *s, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (localtime_r(&tt, &tm) == NULL) {
        s->failed = true;
        return 0;
    }
    return tm.tm_gmtoff;
}

/* The first instant in (from, to] whose offset is not o, or INT64_MAX: probe a day apart,
 * then bisect between the last probe with o and the first without. */
static int64_t search_change(struct search *s, int64_t from, int64_t to, long o)
{
    for (int64_t lo = from; lo < to && !s->failed;) {
        int64_t hi = to - lo > DAY_S ? lo + DAY_S : to;
        if (search_offset(s, hi) == o) {
            lo = hi;
            continue;
        }
        while (hi - lo > 1 && !s->failed) {
            int64_t mid = lo + (hi - lo) / 2;
            if (search_offset(s, mid) == o)
                lo = mid;
            else
                hi = mid;
        }
        return hi;
    }
    return INT64_MAX;
}

/* The first firing at or after instant start (a whole minute) into *out: walk the zone's
 * intervals of constant offset, in each of which wall time is instant plus offset. */
static enum cron_status search_run(struct search *s, int64_t start, int64_t *out)
{
    int64_t end = start + HORIZON_S;
    /* Begin a day early so that a transition just before start is walked like any other. */
    int64_t t = start - DAY_S;
    long o = search_offset(s, t);
    int64_t seen = INT64_MIN; /* appointments: wall times below it have already fired */
    while (!s->failed) {
        int64_t from = minute_ceil((t > start ? t : start) + o), wall;
        if (s->appointment && from < seen)
            from = minute_ceil(seen);
        if (!cron_wall_next(s->c, from, end + o + DAY_S, &wall))
            return CRON_NEVER;
        int64_t due = wall - o; /* if the offset stays o until then */
        int64_t change = search_change(s, t, due, o);
        if (s->failed)
            break;
        if (change == INT64_MAX) {
            if (due > end)
                return CRON_NEVER;
            *out = minute_ceil(due);
            return CRON_OK;
        }
        long next = search_offset(s, change);
        /* Clocks jump forward: an appointment in the gap fires at the transition. */
        if (s->appointment && next > o && minute_ceil(change) >= start &&
            cron_wall_next(s->c, minute_ceil(change + o), change + next, &wall)) {
            *out = minute_ceil(change);
            return CRON_OK;
        }
        if (change + o > seen)
            seen = change + o;
        t = change;
        o = next;
    }
    return CRON_SYS_ERROR;
}

/* Find c's first firing after after_ms in zone, computing with zone as the local time. */
enum cron_status cron_next(const struct cron *c, const char *zone, int64_t after_ms,
                           int64_t *next_ms)
{
    char path[PATH_MAX], err[CRON_ERR_SIZE];
    if (after_ms < 0 || after_ms > MAX_MS)
        return CRON_BAD_TIME;
    if (zone_resolve(zone, path, sizeof(path), err, sizeof(err)) != 0)
        return CRON_BAD_ZONE;
    struct zone_saved saved;
    if (zone_enter(path, &saved) != 0)
        return CRON_SYS_ERROR;
    struct search s = {
        .c = c,
        .appointment = (c->hours & 0xffffff) != 0xffffff,
    };
    int64_t next_s = 0;
    enum cron_status st = search_run(&s, (floor_div(after_ms, 60000) + 1) * 60, &next_s);
    if (zone_leave(&saved) != 0)
        st = CRON_SYS_ERROR;
    if (st == CRON_OK)
        *next_ms = next_s * 1000;
    return st;
}

/* A sentence for each status. */
const char *cron_status_str(enum cron_status s)
{
    switch (s) {
    case CRON_OK:
        return "ok";
    case CRON_BAD_ZONE:
        return "unknown time zone";
    case CRON_NEVER:
        return "never fires within " TEXT(CRON_HORIZON_YEARS) " years";
    case CRON_BAD_TIME:
        return "time outside 1970-9999";
    case CRON_SYS_ERROR:
        return "could not compute local time (setting TZ failed)";
    }
    return "unknown cron status";
}
