-- Cron schedules (docs/protocol.md, SCHEDULE_PUT; docs/operations.md, "Schedules").
-- A schedule makes one job per due time. The run due at T is the job with idempotency key
-- 'schedule:<name>:<T ms>' under the schedule's function, inserted in the same transaction
-- that moves next_run_at on, guarded by "next_run_at is still T": of several daemons that
-- see the same due run, exactly one moves it, and the key makes a second job impossible.

CREATE TABLE schedules (
    name text PRIMARY KEY CHECK (octet_length(name) BETWEEN 1 AND 200),
    function text NOT NULL CHECK (octet_length(function) BETWEEN 1 AND 255),
    cron text NOT NULL CHECK (octet_length(cron) BETWEEN 1 AND 255),
    zone text NOT NULL CHECK (octet_length(zone) BETWEEN 1 AND 127),
    args bytea NOT NULL DEFAULT '',
    max_attempts integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 1000),
    backoff backoff_policy NOT NULL,
    initial_delay_ms bigint NOT NULL CHECK (initial_delay_ms BETWEEN 0 AND 2592000000),
    max_delay_ms bigint NOT NULL CHECK (max_delay_ms BETWEEN 0 AND 2592000000),
    jitter real NOT NULL CHECK (jitter BETWEEN 0 AND 1),
    timeout_ms integer NOT NULL CHECK (timeout_ms BETWEEN 1 AND 86400000),
    priority smallint NOT NULL,
    paused boolean NOT NULL DEFAULT false,
    -- The due time of the next run; NULL exactly while paused.
    next_run_at timestamptz(3),
    -- The due time of the latest run made.
    last_run_at timestamptz(3),
    created_at timestamptz(3) NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at timestamptz(3) NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CHECK (paused = (next_run_at IS NULL))
);

-- The daemons' timer: the earliest next run of the active schedules.
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE NOT paused;

-- Tell every daemon that the schedules changed: they re-read the earliest next run.
CREATE FUNCTION notify_schedules() RETURNS void
    LANGUAGE sql VOLATILE
    RETURN pg_notify(current_schema(), 's:');
