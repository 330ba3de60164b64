-- bench/sql/job-life.sql: PostgreSQL alone doing what the daemon asks of it, for pgbench.
-- One run = :batch jobs through the three transactions of a job's life, each committed (and so
-- flushed) on its own, as the engine does: insert, claim (ordered, SKIP LOCKED, leased),
-- complete. No daemon, no sockets, no clients: the ceiling the whole system shares the machine
-- under. Each pgbench client leases to its own node id, so clients never touch each other's
-- running jobs. Run: pgbench -n -f job-life.sql -D batch=500 -c 1 -T 5 (jobs/s = tps * batch)
INSERT INTO reseolio.jobs (name, args, run_at, created_at)
SELECT 'bench:pg:noop', '\x91cf0000000000000000'::bytea, now(), now()
FROM generate_series(1, :batch);
WITH picked AS (
    SELECT id FROM reseolio.jobs
    WHERE name = 'bench:pg:noop' AND status = 'pending' AND run_at <= now()
    ORDER BY priority DESC, run_at, id
    LIMIT :batch
    FOR UPDATE SKIP LOCKED)
UPDATE reseolio.jobs j
SET status = 'running', attempt = j.attempt + 1, started_at = now(),
    lease_node = ('00000000-0000-0000-0000-' || lpad(:client_id::text, 12, '0'))::uuid, lease_expires_at = now() + interval '30 seconds'
FROM picked WHERE j.id = picked.id;
UPDATE reseolio.jobs
SET status = 'success', finished_at = now(), result = '\xcf0000000000000000'::bytea,
    lease_node = NULL, lease_expires_at = NULL
WHERE status = 'running' AND lease_node = ('00000000-0000-0000-0000-' || lpad(:client_id::text, 12, '0'))::uuid;
