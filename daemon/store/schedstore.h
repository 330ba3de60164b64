/*
 * schedstore: the cron schedules' operations on PostgreSQL, typed (the statements are in
 * schedstmts.c). Same contract as jobstore.h: each returns the pgconn_submit status; on
 * PGCONN_OK its callback fires exactly once, after the commit (err == NULL) or a failure.
 * Rows passed to a callback live only until it returns. Times are Unix ms of the schedule
 * clock (the wall clock unless the daemon runs with a test clock).
 */
#ifndef RESEOLIO_STORE_SCHEDSTORE_H
#define RESEOLIO_STORE_SCHEDSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobstore.h"
#include "pgconn.h"

/* A schedule as stored. Strings are NUL-terminated. */
struct schedstore_row {
    const char *name, *function, *cron, *zone;
    const void *args;
    size_t args_len;
    int32_t max_attempts;
    enum jobstore_backoff backoff;
    int64_t initial_delay_ms, max_delay_ms;
    float jitter;
    int32_t timeout_ms;
    int16_t priority;
    bool paused;
    bool has_next_run_at, has_last_run_at;
    int64_t next_run_at_ms, last_run_at_ms, created_at_ms;
};

/* What SCHEDULE_PUT stores. Strings NUL-terminated. */
struct schedstore_put {
    const char *name, *function, *cron, *zone;
    const void *args;
    size_t args_len;
    int32_t max_attempts;
    enum jobstore_backoff backoff;
    int64_t initial_delay_ms, max_delay_ms;
    float jitter;
    int32_t timeout_ms;
    int16_t priority;
    int paused;          /* -1: keep (new: active), 0: active, 1: paused */
    int64_t next_run_ms; /* the first due time after now, for a new or changed schedule */
};

/* An active schedule that is due. */
struct schedstore_due {
    const char *name, *cron, *zone;
    int64_t next_run_at_ms;
};

typedef void (*schedstore_rows_cb)(void *arg, const struct schedstore_row *rows, size_t n,
                                   const struct jobstore_err *err);
typedef void (*schedstore_count_cb)(void *arg, size_t n, const struct jobstore_err *err);
typedef void (*schedstore_next_cb)(void *arg, bool has, int64_t next_ms,
                                   const struct jobstore_err *err);
typedef void (*schedstore_due_cb)(void *arg, const struct schedstore_due *rows, size_t n,
                                  const struct jobstore_err *err);
/* moved: this transaction moved the schedule on; job: the run's new job, 0 when none. */
typedef void (*schedstore_fire_cb)(void *arg, bool moved, int64_t job,
                                   const struct jobstore_err *err);

JOBSTORE_MUST_CHECK enum pgconn_status
schedstore_put(struct pgconn *c, const struct schedstore_put *p, schedstore_rows_cb cb, void *arg);
JOBSTORE_MUST_CHECK enum pgconn_status schedstore_get(struct pgconn *c, const char *name,
                                                      schedstore_rows_cb cb, void *arg);
/* after: NULL for the first page; limit rows at most. */
JOBSTORE_MUST_CHECK enum pgconn_status schedstore_list(struct pgconn *c, const char *after,
                                                       int32_t limit, schedstore_rows_cb cb,
                                                       void *arg);
JOBSTORE_MUST_CHECK enum pgconn_status schedstore_pause(struct pgconn *c, const char *name,
                                                        schedstore_rows_cb cb, void *arg);
/* Only when cron and zone are still these (no row otherwise). */
JOBSTORE_MUST_CHECK enum pgconn_status schedstore_resume(struct pgconn *c, const char *name,
                                                         const char *cron, const char *zone,
                                                         int64_t next_run_ms, schedstore_rows_cb cb,
                                                         void *arg);
JOBSTORE_MUST_CHECK enum pgconn_status schedstore_delete(struct pgconn *c, const char *name,
                                                         schedstore_count_cb cb, void *arg);
JOBSTORE_MUST_CHECK enum pgconn_status schedstore_next(struct pgconn *c, schedstore_next_cb cb,
                                                       void *arg);
JOBSTORE_MUST_CHECK enum pgconn_status
schedstore_due(struct pgconn *c, int64_t now_ms, int32_t limit, schedstore_due_cb cb, void *arg);
/* Make the run due at run_due_ms (key: its idempotency key) and move the schedule to
 * next_run_ms, only while its next_run_at is still stored_due_ms. */
JOBSTORE_MUST_CHECK enum pgconn_status schedstore_fire(struct pgconn *c, const char *name,
                                                       int64_t stored_due_ms, int64_t run_due_ms,
                                                       int64_t next_run_ms, const char *key,
                                                       schedstore_fire_cb cb, void *arg);

#endif
