/*
 * The SQL of cron schedules. docs/architecture.md ("Schedules") says how they fire; the
 * migration (sql/002_schedules.sql) why a run is made exactly once.
 */
#include "schedstmts.h"

#include "pgbin.h"

#define SCHED_COLUMNS                                                                              \
    " s.name, s.function, s.cron, s.zone, s.args, s.max_attempts, s.backoff::text,"                \
    " s.initial_delay_ms, s.max_delay_ms, s.jitter, s.timeout_ms, s.priority, s.paused,"           \
    " ms(s.next_run_at), ms(s.last_run_at), ms(s.created_at) "

#define DEFINE(n, ...) const Oid schedstmts_types_##n[SCHEDSTMTS_NPARAMS_##n] = {__VA_ARGS__}

/*
 * put: $1 name, $2 function, $3 cron, $4 zone, $5 args bytea, $6 max_attempts int4, $7 backoff
 * text, $8 initial_delay_ms int8, $9 max_delay_ms int8, $10 jitter float4, $11 timeout_ms int4,
 * $12 priority int2, $13 paused bool (NULL: a new schedule is active, an existing one keeps its
 * state), $14 next run int8 (computed from now by the daemon) -> the schedule's columns.
 * An update keeps next_run_at when cron and zone stay and it was active.
 */
const char schedstmts_sql_put[] =
    "WITH s AS ("
    "  INSERT INTO schedules AS s (name, function, cron, zone, args, max_attempts, backoff,"
    "    initial_delay_ms, max_delay_ms, jitter, timeout_ms, priority, paused, next_run_at)"
    "  VALUES ($1, $2, $3, $4, $5, $6, $7::backoff_policy, $8, $9, $10, $11, $12,"
    "    coalesce($13, false), CASE WHEN coalesce($13, false) THEN NULL ELSE from_ms($14) END)"
    "  ON CONFLICT (name) DO UPDATE SET function = EXCLUDED.function, cron = EXCLUDED.cron,"
    "    zone = EXCLUDED.zone, args = EXCLUDED.args, max_attempts = EXCLUDED.max_attempts,"
    "    backoff = EXCLUDED.backoff, initial_delay_ms = EXCLUDED.initial_delay_ms,"
    "    max_delay_ms = EXCLUDED.max_delay_ms, jitter = EXCLUDED.jitter,"
    "    timeout_ms = EXCLUDED.timeout_ms, priority = EXCLUDED.priority,"
    "    paused = coalesce($13, s.paused),"
    "    next_run_at = CASE WHEN coalesce($13, s.paused) THEN NULL"
    "      WHEN NOT s.paused AND s.cron = EXCLUDED.cron AND s.zone = EXCLUDED.zone"
    "        THEN s.next_run_at"
    "      ELSE from_ms($14) END,"
    "    updated_at = date_trunc('milliseconds', now())"
    "  RETURNING s.*"
    "), woke AS MATERIALIZED (SELECT notify_schedules())"
    " SELECT" SCHED_COLUMNS "FROM s CROSS JOIN woke";
DEFINE(put, PGBIN_TEXT, PGBIN_TEXT, PGBIN_TEXT, PGBIN_TEXT, PGBIN_BYTEA, PGBIN_INT4, PGBIN_TEXT,
       PGBIN_INT8, PGBIN_INT8, PGBIN_FLOAT4, PGBIN_INT4, PGBIN_INT2, PGBIN_BOOL, PGBIN_INT8);

/* get: $1 name -> the schedule's columns, or no row. */
const char schedstmts_sql_get[] = "SELECT" SCHED_COLUMNS "FROM schedules s WHERE s.name = $1";
DEFINE(get, PGBIN_TEXT);

/* list: $1 after text (NULL: from the first), $2 limit int4 -> schedules by name. */
const char schedstmts_sql_list[] = "SELECT" SCHED_COLUMNS "FROM schedules s"
                                   " WHERE s.name > coalesce($1::text, '')"
                                   " ORDER BY s.name LIMIT $2";
DEFINE(list, PGBIN_TEXT, PGBIN_INT4);

/* pause: $1 name -> the schedule's columns, or no row. */
const char schedstmts_sql_pause[] = "WITH s AS ("
                                    "  UPDATE schedules s SET paused = true, next_run_at = NULL,"
                                    "    updated_at = date_trunc('milliseconds', now())"
                                    "  WHERE s.name = $1 RETURNING s.*"
                                    "), woke AS MATERIALIZED (SELECT notify_schedules())"
                                    " SELECT" SCHED_COLUMNS "FROM s CROSS JOIN woke";
DEFINE(pause, PGBIN_TEXT);

/* resume: $1 name, $2 cron, $3 zone (as read before: no row when they changed meanwhile),
 * $4 next run int8 -> the schedule's columns. An active schedule is left as it is. */
const char schedstmts_sql_resume[] =
    "WITH s AS ("
    "  UPDATE schedules s SET paused = false,"
    "    next_run_at = CASE WHEN s.paused THEN from_ms($4) ELSE s.next_run_at END,"
    "    updated_at = date_trunc('milliseconds', now())"
    "  WHERE s.name = $1 AND s.cron = $2 AND s.zone = $3 RETURNING s.*"
    "), woke AS MATERIALIZED (SELECT notify_schedules())"
    " SELECT" SCHED_COLUMNS "FROM s CROSS JOIN woke";
DEFINE(resume, PGBIN_TEXT, PGBIN_TEXT, PGBIN_TEXT, PGBIN_INT8);

/* delete: $1 name -> one row (the name) when it existed. Jobs already made stay. */
const char schedstmts_sql_delete[] =
    "WITH s AS (DELETE FROM schedules WHERE name = $1 RETURNING name),"
    " woke AS MATERIALIZED (SELECT notify_schedules())"
    " SELECT s.name FROM s CROSS JOIN woke";
DEFINE(delete, PGBIN_TEXT);

/* next: (no parameters) -> one row: the earliest next run of the active schedules, int8 or
 * NULL. A dummy parameter keeps the table's shape: $1 int4 is ignored. */
const char schedstmts_sql_next[] =
    "SELECT ms(min(next_run_at)) FROM schedules WHERE NOT paused AND $1::int4 IS NOT NULL";
DEFINE(next, PGBIN_INT4);

/* due: $1 now int8 (the schedule clock), $2 limit int4 -> (name text, cron text, zone text,
 * next_run_at int8) of the active schedules due by then, earliest first. */
const char schedstmts_sql_due[] = "SELECT name, cron, zone, ms(next_run_at) FROM schedules"
                                  " WHERE NOT paused AND next_run_at <= from_ms($1)"
                                  " ORDER BY next_run_at LIMIT $2";
DEFINE(due, PGBIN_INT8, PGBIN_INT4);

/*
 * fire: $1 name, $2 the stored next_run_at int8 (the guard), $3 the run's due time int8 (its
 * identity), $4 the next run int8, $5 the run's idempotency key text -> one row: (moved int8:
 * 1 when this transaction moved the schedule on, 0 when another did or it changed; job int8:
 * the new job, NULL when none was made). The job is due now and wakes the workers.
 */
const char schedstmts_sql_fire[] =
    "WITH s AS ("
    "  UPDATE schedules SET next_run_at = from_ms($4), last_run_at = from_ms($3)"
    "  WHERE name = $1 AND NOT paused AND next_run_at = from_ms($2)"
    "  RETURNING *"
    "), ins AS ("
    "  INSERT INTO jobs (name, args, idem_key, max_attempts, backoff, initial_delay_ms,"
    "                    max_delay_ms, jitter, timeout_ms, priority, run_at, created_at)"
    "  SELECT function, args, $5, max_attempts, backoff, initial_delay_ms, max_delay_ms,"
    "         jitter, timeout_ms, priority, date_trunc('milliseconds', now()),"
    "         date_trunc('milliseconds', now())"
    "  FROM s"
    "  ON CONFLICT (name, idem_key) WHERE idem_key IS NOT NULL DO NOTHING"
    "  RETURNING id, name, run_at"
    "), woke AS MATERIALIZED ("
    "  SELECT notify_work(array_agg(name), array_agg(run_at), array_agg(id)) FROM ins"
    ")"
    " SELECT (SELECT count(*) FROM s), (SELECT id FROM ins) FROM woke";
DEFINE(fire, PGBIN_TEXT, PGBIN_INT8, PGBIN_INT8, PGBIN_INT8, PGBIN_TEXT);
