/*
 * The schedules' timer: one libevent timer for the earliest next run of the active
 * schedules (no polling loop). When it fires: the due schedules are read, and each run is
 * made by a guarded statement (store/schedstmts.c, fire), so with several daemons exactly
 * one makes it. Re-armed from the database on start, on every "s:" notification (a schedule
 * changed, on any daemon), after each firing, and by the engine's sweep as a safety net.
 */
#ifndef RESEOLIOD_SCHEDTIMER_H
#define RESEOLIOD_SCHEDTIMER_H

#include <stdint.h>

struct engine;
struct schedtimer;

/* Test-only: schedule time runs this many times faster (schedclock.h); unset or 1: real. */
#define SCHEDTIMER_SCALE_ENV "RESEOLIO_DEBUG_SCHEDULE_CLOCK_SCALE"

/* Owner: the engine. NULL when out of memory. */
struct schedtimer *schedtimer_new(struct engine *e);

/* Read the earliest next run again and re-arm (coalesced while a read is in flight). */
void schedtimer_rearm(struct schedtimer *t);

/* The daemon is stopping: fire no more. */
void schedtimer_stop(struct schedtimer *t);

/* The clock scale (schedclock.h). */
uint32_t schedtimer_scale(const struct schedtimer *t);

/* After the store's connections were freed (their callbacks have run). */
void schedtimer_free(struct schedtimer *t);

#endif
