-- 001_init: the job engine's tables, types and helper functions.
--
-- Applied by schema_migrate() inside one transaction, under an advisory lock, with
-- search_path set (SET LOCAL) to the configured schema: names here are unqualified on purpose.
-- Times are timestamptz(3): milliseconds, never whole seconds. Every statement that reads or
-- moves jobs lives in daemon/store/stmts.c; README.md beside this folder explains the design.

CREATE TYPE job_status AS ENUM ('pending', 'running', 'success', 'dead', 'cancelled');
CREATE TYPE backoff_policy AS ENUM ('exponential', 'fixed', 'linear');

-- One row per running reseoliod. Leases name a node; a node whose heartbeat lapsed loses
-- its running jobs to whichever daemon notices first. No foreign key from jobs: that would
-- add a KEY SHARE lock on the node row to every claim.
CREATE TABLE nodes (
    id uuid PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    started_at timestamptz(3) NOT NULL DEFAULT now(),
    heartbeat_at timestamptz(3) NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
    -- Ids are drawn from jobs_id_seq before the insert (stmts.c, enqueue) so that a batch can
    -- map every input row to its id; GENERATED ALWAYS keeps anyone else from choosing ids.
    id bigint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME jobs_id_seq) PRIMARY KEY,
    name text NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 255),
    args bytea NOT NULL DEFAULT '',
    status job_status NOT NULL DEFAULT 'pending',
    priority smallint NOT NULL DEFAULT 0,
    -- attempt: attempts started so far, and the fencing token of the running one. It never
    -- goes down, so an acknowledgement for an older attempt can never match a newer one.
    attempt integer NOT NULL DEFAULT 0,
    -- uncounted: started attempts that do not count against max_attempts (those before a
    -- manual retry, and those handed back by a daemon that shut down).
    uncounted integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 1000),
    backoff backoff_policy NOT NULL DEFAULT 'exponential',
    initial_delay_ms bigint NOT NULL DEFAULT 1000
        CHECK (initial_delay_ms BETWEEN 0 AND 2592000000),
    max_delay_ms bigint NOT NULL DEFAULT 60000 CHECK (max_delay_ms BETWEEN 0 AND 2592000000),
    jitter real NOT NULL DEFAULT 0.1 CHECK (jitter BETWEEN 0 AND 1),
    timeout_ms integer NOT NULL DEFAULT 30000 CHECK (timeout_ms BETWEEN 1 AND 86400000),
    idem_key text CHECK (octet_length(idem_key) BETWEEN 1 AND 255),
    run_at timestamptz(3) NOT NULL,
    created_at timestamptz(3) NOT NULL,
    started_at timestamptz(3),
    finished_at timestamptz(3),
    lease_node uuid,
    lease_expires_at timestamptz(3),
    result bytea,
    error text,
    CHECK (uncounted BETWEEN 0 AND attempt),
    CHECK ((status = 'running') = (lease_node IS NOT NULL AND lease_expires_at IS NOT NULL)),
    CHECK ((status IN ('success', 'dead', 'cancelled')) = (finished_at IS NOT NULL))
) WITH (
    -- A queue table churns: every job is inserted and updated two or three times. Vacuum
    -- after 1% dead rows (not the default 20%) so the pending index stays small, analyze
    -- often because the status mix moves fast, and let vacuum run with a short cost delay.
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_analyze_threshold = 1000,
    autovacuum_vacuum_cost_delay = 1
);

-- The hot path: claim walks this in order, per function name. Only pending rows are in it,
-- so finished history never slows a claim.
CREATE INDEX jobs_pending ON jobs (name, priority DESC, run_at, id) WHERE status = 'pending';
-- Idempotency: one job per (name, key), enforced by the database, not by a read-then-write.
CREATE UNIQUE INDEX jobs_idem ON jobs (name, idem_key) WHERE idem_key IS NOT NULL;
-- Running jobs by node (release, reclaim) and, within a node, by lease expiry (timeouts).
-- One index instead of two: the running set is bounded by worker capacity, so the rare
-- scan across all nodes stays small, and every claim maintains one index fewer.
CREATE INDEX jobs_running ON jobs (lease_node, lease_expires_at) WHERE status = 'running';

-- Milliseconds since the Unix epoch <-> timestamptz; exact (numeric extract, integer ms).
CREATE FUNCTION ms(t timestamptz) RETURNS bigint
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    RETURN (extract(epoch FROM t) * 1000)::bigint;

CREATE FUNCTION from_ms(ms bigint) RETURNS timestamptz
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    RETURN timestamptz 'epoch' + ms * interval '1 millisecond';

-- The delay before the next attempt after n counted attempts failed (docs/protocol.md,
-- ENQUEUE): initial (fixed), initial * n (linear) or initial * 2^(n-1) (exponential), capped
-- at max_ms, then multiplied by a random factor in [1 - jitter, 1].
CREATE FUNCTION retry_delay(policy backoff_policy, n integer, initial_ms bigint, max_ms bigint,
                            jitter real) RETURNS interval
    LANGUAGE sql VOLATILE PARALLEL SAFE
    RETURN least(CASE policy
                     WHEN 'fixed' THEN initial_ms::float8
                     WHEN 'linear' THEN initial_ms::float8 * greatest(n, 1)
                     ELSE initial_ms::float8 * power(2::float8, least(greatest(n, 1) - 1, 60))
                 END,
                 max_ms::float8)
           * (1 - jitter::float8 * random()) * interval '1 millisecond';

-- Wake-ups. The channel is the schema's name (current_schema(): connections run with
-- search_path set to it), so two schemas in one database never wake each other. Payloads
-- are tiny and never carry job data:
--   'w:<ms>:<name>'  new work for function <name>, the earliest due at <ms> (Unix ms);
--   'w:<ms>:'        new work for several functions, the earliest due at <ms>;
--   'c:<id>,<id>...' these jobs became final (chunks of at most 400 ids, < 8000 bytes).
CREATE FUNCTION notify_work(names text[], run_ats timestamptz[]) RETURNS void
    LANGUAGE plpgsql VOLATILE STRICT AS $$
DECLARE
    first_name text := names[1];
BEGIN
    IF cardinality(names) = 0 THEN
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(names) AS n WHERE n <> first_name) THEN
        first_name := '';
    END IF;
    PERFORM pg_notify(current_schema(),
                      'w:' || (SELECT min(ms(t)) FROM unnest(run_ats) AS t) || ':' || first_name);
END $$;

CREATE FUNCTION notify_done(ids bigint[]) RETURNS void
    LANGUAGE plpgsql VOLATILE STRICT AS $$
DECLARE
    chunk text;
BEGIN
    FOR chunk IN
        SELECT 'c:' || string_agg(id::text, ',' ORDER BY n)
        FROM unnest(ids) WITH ORDINALITY AS t(id, n)
        GROUP BY (n - 1) / 400
    LOOP
        PERFORM pg_notify(current_schema(), chunk);
    END LOOP;
END $$;
