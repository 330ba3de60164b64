/*
 * The schedules' timer (schedtimer.h). docs/architecture.md, "Schedules", has the whole flow.
 */
#include "schedtimer.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine.h"
#include "log.h"
#include "schedclock.h"
#include "reseolio/proto.h"
#include "schedstore.h"

/* Due schedules read per round; more are read in the next round at once. */
#define SCHEDTIMER_BATCH 100
/* The timer never sleeps longer than this (a clock step is noticed at least this often). */
#define SCHEDTIMER_MAX_SLEEP_MS (3600 * 1000)

struct schedtimer {
    struct engine *e;
    struct event *ev;
    uint32_t scale;
    bool reading; /* a "next" read is in flight */
    bool again;   /* re-read when it is back */
    bool firing;  /* a round of due/fire is in flight */
    bool stopped;
    size_t fires; /* fire statements of this round not answered yet */
    size_t round; /* schedules due in this round */
    bool failed;  /* a run of this round failed: leave the retry to the sweep, do not spin */
};

static void schedtimer_on_next(void *arg, bool has, int64_t next_ms,
                               const struct jobstore_err *err);

/* Send the read of the earliest next run. */
static void schedtimer_read(struct schedtimer *t)
{
    if (t->stopped || t->e->db == NULL)
        return;
    if (t->reading) {
        t->again = true;
        return;
    }
    if (schedstore_next(t->e->db, schedtimer_on_next, t) != PGCONN_OK) {
        log_debug("schedules: cannot read the next run now; the sweep tries again");
        return;
    }
    t->reading = true;
    t->again = false;
}

void schedtimer_rearm(struct schedtimer *t)
{
    if (t != NULL && !t->firing)
        schedtimer_read(t);
}

/* The earliest next run is known: arm the timer for it. */
static void schedtimer_on_next(void *arg, bool has, int64_t next_ms, const struct jobstore_err *err)
{
    struct schedtimer *t = arg;
    t->reading = false;
    if (t->stopped)
        return;
    if (t->again) {
        schedtimer_read(t);
        return;
    }
    if (err != NULL) {
        log_warn("schedules: reading the next run failed: %s; the sweep tries again", err->message);
        return;
    }
    event_del(t->ev);
    if (!has)
        return;
    int64_t delay = schedclock_delay(t->scale, next_ms);
    if (delay > SCHEDTIMER_MAX_SLEEP_MS)
        delay = SCHEDTIMER_MAX_SLEEP_MS;
    struct timeval tv = {(time_t)(delay / 1000), (suseconds_t)(delay % 1000) * 1000};
    if (evtimer_add(t->ev, &tv) != 0)
        log_warn("schedules: cannot arm the timer; the sweep re-arms it");
    else
        log_debug("schedules: next run at %" PRId64 " (in %" PRId64 " ms)", next_ms, delay);
}

static void schedtimer_due_round(struct schedtimer *t);

/* One round is over: read the rest, or re-arm. */
static void schedtimer_round_done(struct schedtimer *t)
{
    bool more = t->round >= SCHEDTIMER_BATCH;
    t->firing = false;
    if (t->stopped || t->failed)
        return;
    if (more)
        schedtimer_due_round(t);
    else
        schedtimer_read(t);
}

/* One run made (or another daemon made it). */
static void schedtimer_on_fired(void *arg, bool moved, int64_t job, const struct jobstore_err *err)
{
    struct schedtimer *t = arg;
    if (err != NULL) {
        log_warn("schedules: making a run failed: %s; the sweep tries again", err->message);
        t->failed = true;
    } else if (moved && job != 0)
        log_info("schedules: run made: job %" PRId64, job);
    else if (moved)
        log_info("schedules: run was made before (its job exists)");
    if (--t->fires == 0)
        schedtimer_round_done(t);
}

/* Make the run of one due schedule. Returns true when a statement was sent. */
static bool schedtimer_fire(struct schedtimer *t, const struct schedstore_due *d, int64_t now)
{
    int64_t due = d->next_run_at_ms, next = 0;
    char err[256], key[RS_MAX_KEY + 1];
    if (schedclock_latest_due(d->cron, d->zone, d->next_run_at_ms, now, &due) != 0 ||
        schedclock_next(d->cron, d->zone, now, &next, err, sizeof(err)) != 0) {
        log_warn("schedules: \"%s\" cannot be computed (%s); it stays due", d->name,
                 "bad cron or zone");
        return false;
    }
    if (due != d->next_run_at_ms)
        log_info("schedules: \"%s\" missed its runs from %" PRId64 "; making one, for %" PRId64,
                 d->name, d->next_run_at_ms, due);
    snprintf(key, sizeof(key), "schedule:%s:%" PRId64, d->name, due);
    if (schedstore_fire(t->e->db, d->name, d->next_run_at_ms, due, next, key, schedtimer_on_fired,
                        t) != PGCONN_OK) {
        log_warn("schedules: cannot send the run of \"%s\" now; the sweep tries again", d->name);
        return false;
    }
    return true;
}

/* The due schedules are known: make their runs. */
static void schedtimer_on_due(void *arg, const struct schedstore_due *rows, size_t n,
                              const struct jobstore_err *err)
{
    struct schedtimer *t = arg;
    if (err != NULL || t->stopped) {
        if (err != NULL)
            log_warn("schedules: reading due schedules failed: %s", err->message);
        t->firing = false;
        return;
    }
    int64_t now = schedclock_now(t->scale);
    t->round = n;
    t->failed = false;
    t->fires = 1; /* held until every fire is sent */
    for (size_t i = 0; i < n; i++) {
        if (schedtimer_fire(t, &rows[i], now))
            t->fires++;
        else
            t->failed = true;
    }
    if (--t->fires == 0)
        schedtimer_round_done(t);
}

/* Read the schedules due now. */
static void schedtimer_due_round(struct schedtimer *t)
{
    if (t->stopped || t->firing || t->e->db == NULL)
        return;
    if (schedstore_due(t->e->db, schedclock_now(t->scale), SCHEDTIMER_BATCH, schedtimer_on_due,
                       t) != PGCONN_OK) {
        log_debug("schedules: cannot read due schedules now; the sweep tries again");
        return;
    }
    t->firing = true;
}

/* The timer fired. */
static void schedtimer_on_timer(evutil_socket_t fd, short what, void *arg)
{
    schedtimer_due_round(arg);
}

struct schedtimer *schedtimer_new(struct engine *e)
{
    struct schedtimer *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->e = e;
    const char *scale = getenv(SCHEDTIMER_SCALE_ENV);
    if (scale != NULL && scale[0] != '\0') {
        char *end = NULL;
        unsigned long v = strtoul(scale, &end, 10);
        if (*end == '\0' && v >= 1 && v <= 3600)
            t->scale = (uint32_t)v;
        else
            log_warn("%s=%s ignored: not an integer in 1..3600", SCHEDTIMER_SCALE_ENV, scale);
        if (t->scale > 1)
            log_warn("schedule clock runs %u times faster than real time (%s: tests only)",
                     t->scale, SCHEDTIMER_SCALE_ENV);
    }
    t->ev = evtimer_new(e->base, schedtimer_on_timer, t);
    if (t->ev == NULL) {
        free(t);
        return NULL;
    }
    return t;
}

uint32_t schedtimer_scale(const struct schedtimer *t)
{
    return t->scale;
}

void schedtimer_stop(struct schedtimer *t)
{
    if (t == NULL)
        return;
    t->stopped = true;
    event_del(t->ev);
}

void schedtimer_free(struct schedtimer *t)
{
    if (t == NULL)
        return;
    event_free(t->ev);
    free(t);
}
