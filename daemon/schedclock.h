/*
 * The schedule clock and the cron arithmetic of schedules: what "now" is for schedules, the
 * next due time of an expression in its zone, and the missed-run policy.
 *
 * The clock is the wall clock, unless the daemon runs with the test-only
 * --debug-schedule-clock-scale N: then schedule time runs N times faster than real time from
 * SCHEDCLOCK_EPOCH_MS (2024-01-01T00:00Z), identically in every daemon with the same N, so
 * a test sees an every-minute schedule fire every 60/N real seconds. next_run_at and
 * last_run_at are in schedule time; jobs are made at real time.
 */
#ifndef RESEOLIOD_SCHEDCLOCK_H
#define RESEOLIOD_SCHEDCLOCK_H

#include <stddef.h>
#include <stdint.h>

#define SCHEDCLOCK_EPOCH_MS 1704067200000LL

/* Schedule time now, for a clock scale (0 or 1: the wall clock). */
int64_t schedclock_now(uint32_t scale);

/* Real milliseconds until schedule time at_ms (0 when it passed). */
int64_t schedclock_delay(uint32_t scale, int64_t at_ms);

/* Check an expression and a zone; 0, or -1 with the reason in err. */
int schedclock_check(const char *cron, const char *zone, char *err, size_t err_size);

/* The first due time of cron in zone strictly after after_ms; 0, or -1 with err. */
int schedclock_next(const char *cron, const char *zone, int64_t after_ms, int64_t *out, char *err,
                    size_t err_size);

/*
 * The missed-run policy: of the due times from stored_due_ms (the stored next run, not after
 * now_ms) up to now_ms, the latest, into *out. Only that one run is made; earlier missed ones
 * are skipped. 0, or -1 (then *out is stored_due_ms).
 */
int schedclock_latest_due(const char *cron, const char *zone, int64_t stored_due_ms, int64_t now_ms,
                          int64_t *out);

#endif
