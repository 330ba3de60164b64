/*
 * The schedule clock, and cron_next applied to schedules (see schedclock.h).
 */
#include "schedclock.h"

#include <stdio.h>

#include "cron.h"
#include "engine.h"

int64_t schedclock_now(uint32_t scale)
{
    int64_t real = engine_now_ms();
    if (scale <= 1)
        return real;
    return SCHEDCLOCK_EPOCH_MS + (real - SCHEDCLOCK_EPOCH_MS) * (int64_t)scale;
}

int64_t schedclock_delay(uint32_t scale, int64_t at_ms)
{
    int64_t d = at_ms - schedclock_now(scale);
    if (d <= 0)
        return 0;
    return scale <= 1 ? d : (d + scale - 1) / scale;
}

int schedclock_check(const char *cron, const char *zone, char *err, size_t err_size)
{
    struct cron c;
    char why[CRON_ERR_SIZE];
    if (cron_parse(&c, cron, why, sizeof(why)) != 0) {
        snprintf(err, err_size, "cron \"%s\": %s", cron, why);
        return -1;
    }
    if (cron_zone_check(zone, why, sizeof(why)) != 0) {
        snprintf(err, err_size, "zone \"%s\": %s", zone, why);
        return -1;
    }
    return 0;
}

int schedclock_next(const char *cron, const char *zone, int64_t after_ms, int64_t *out, char *err,
                    size_t err_size)
{
    struct cron c;
    char why[CRON_ERR_SIZE];
    if (cron_parse(&c, cron, why, sizeof(why)) != 0) {
        snprintf(err, err_size, "cron \"%s\": %s", cron, why);
        return -1;
    }
    enum cron_status st = cron_next(&c, zone, after_ms, out);
    if (st != CRON_OK) {
        snprintf(err, err_size, "cron \"%s\" in %s: %s", cron, zone, cron_status_str(st));
        return -1;
    }
    return 0;
}

/* Look back this far from now, widening, for the latest due time (few steps for any cron). */
static const int64_t schedclock_lookbacks[] = {
    3600LL * 1000,
    86400LL * 1000,
    32 * 86400LL * 1000,
    367 * 86400LL * 1000,
    (int64_t)CRON_HORIZON_YEARS * 366 * 86400LL * 1000,
};
#define SCHEDCLOCK_MAX_STEPS 2000

int schedclock_latest_due(const char *cron, const char *zone, int64_t stored_due_ms, int64_t now_ms,
                          int64_t *out)
{
    struct cron c;
    char why[CRON_ERR_SIZE];
    *out = stored_due_ms;
    if (cron_parse(&c, cron, why, sizeof(why)) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(schedclock_lookbacks) / sizeof(schedclock_lookbacks[0]); i++) {
        int64_t start = now_ms - schedclock_lookbacks[i];
        if (start < stored_due_ms - 1)
            start = stored_due_ms - 1;
        int64_t t = start, latest = 0;
        for (int steps = 0; steps < SCHEDCLOCK_MAX_STEPS; steps++) {
            int64_t n;
            if (cron_next(&c, zone, t, &n) != CRON_OK || n > now_ms)
                break;
            latest = n;
            t = n;
        }
        if (latest != 0) {
            *out = latest;
            return 0;
        }
        if (start == stored_due_ms - 1)
            break; /* searched from the stored due time already */
    }
    return 0;
}
