/*
 * stmts: the job engine's SQL. Each statement is one round of work for one batch of jobs; the
 * transaction around it is the pgconn batch it is sent in (README.md: transaction boundaries).
 * Tables, types and the helpers ms(), from_ms(), retry_delay(), notify_work(), notify_done()
 * come from sql/001_init.sql; connections run with search_path set to the schema.
 */
#include "stmts.h"

#include "pgbin.h"
#include "schedstmts.h"

/* The job columns of enum stmts_job_col, of a row aliased j. */
#define JOB_COLUMNS                                                                                \
    " j.id, j.name, j.status::text, j.attempt, j.max_attempts, j.uncounted, j.args, j.result,"     \
    " j.error, j.idem_key, j.priority, ms(j.created_at), ms(j.run_at), ms(j.started_at),"          \
    " ms(j.finished_at), j.parent_id, j.step "

/* The attempt that just ended was the last one the job's policy allows. */
#define ATTEMPTS_USED " (j.attempt - j.uncounted >= j.max_attempts) "

/* When the next attempt may start after the current one failed (retryable). */
#define NEXT_RUN_AT                                                                                \
    " now() + retry_delay(j.backoff, j.attempt - j.uncounted, j.initial_delay_ms,"                 \
    " j.max_delay_ms, j.jitter) "

/* Wake-ups for the rows an UPDATE ... RETURNING id, status, name, run_at produced: final
 * jobs to waiters everywhere, jobs back to pending to every daemon (with when they are due).
 * Cross-joined into the final SELECT so that it runs once, after the update. */
#define WOKE_FROM_UPD                                                                              \
    " woke AS MATERIALIZED ("                                                                      \
    "  SELECT notify_done(array_agg(id) FILTER (WHERE status <> 'pending')),"                      \
    "         notify_work(array_agg(name) FILTER (WHERE status = 'pending'),"                      \
    "                     array_agg(run_at) FILTER (WHERE status = 'pending'),"                    \
    "                     array_agg(id) FILTER (WHERE status = 'pending'))"                        \
    "  FROM upd) "

/*
 * enqueue: $1 names text[], $2 args bytea[], $3 keys text[] (NULL: none), $4 max_attempts
 * int4[], $5 backoff text[], $6 initial_delay_ms int8[], $7 max_delay_ms int8[], $8 jitter
 * float4[], $9 timeout_ms int4[], $10 priority int2[], $11 run_at_ms int8[] (NULL: not given),
 * $12 delay_ms int8[] (NULL: 0; from the database's clock), $13 parent int8[] (NULL: not a step),
 * $14 step int4[], $15 claimed bool[] (created running, attempt 1, leased to $16 node uuid:
 * a worker of this daemon has a free slot for it).
 * -> one row per job created: ord int8 (1-based input position), id int8, run_at int8,
 *    deadline int8 (claimed: the lease's expiry; else NULL).
 * Ids are drawn from the sequence first, in input order, so that every created row maps back
 * to its input; a key already taken (committed by anyone, or earlier in this batch) creates
 * nothing and no row here: STMT_ENQUEUE_KEYS, the next statement of the same transaction,
 * returns the id for it. One notification per transaction (notify_work).
 */
static const char sql_enqueue[] =
    "WITH input AS MATERIALIZED ("
    "  SELECT u.*, nextval('jobs_id_seq') AS id"
    "  FROM unnest($1::text[], $2::bytea[], $3::text[], $4::int4[], $5::text[], $6::int8[],"
    "              $7::int8[], $8::float4[], $9::int4[], $10::int2[], $11::int8[], $12::int8[],"
    "              $13::int8[], $14::int4[], $15::bool[])"
    "       WITH ORDINALITY AS u(name, args, idem_key, max_attempts, backoff, initial_delay_ms,"
    "                            max_delay_ms, jitter, timeout_ms, priority, run_at_ms,"
    "                            delay_ms, parent_id, step, claimed, ord)"
    "), ins AS ("
    "  INSERT INTO jobs (id, name, args, idem_key, max_attempts, backoff, initial_delay_ms,"
    "                    max_delay_ms, jitter, timeout_ms, priority, run_at, created_at,"
    "                    parent_id, step, status, attempt, started_at, lease_node,"
    "                    lease_expires_at)"
    "  OVERRIDING SYSTEM VALUE"
    "  SELECT id, name, coalesce(args, ''), idem_key, max_attempts, backoff::backoff_policy,"
    "         initial_delay_ms, max_delay_ms, jitter, timeout_ms, priority,"
    "         coalesce(from_ms(run_at_ms), date_trunc('milliseconds', now())"
    "                  + coalesce(delay_ms, 0) * interval '1 millisecond'),"
    "         date_trunc('milliseconds', now()), parent_id, step,"
    "         CASE WHEN claimed THEN 'running' ELSE 'pending' END::job_status,"
    "         CASE WHEN claimed THEN 1 ELSE 0 END, CASE WHEN claimed THEN now() END,"
    "         CASE WHEN claimed THEN $16::uuid END,"
    "         CASE WHEN claimed THEN now() + timeout_ms * interval '1 millisecond' END"
    "  FROM input"
    "  ON CONFLICT (name, idem_key) WHERE idem_key IS NOT NULL DO NOTHING"
    "  RETURNING id, name, run_at, status, lease_expires_at"
    "), woke AS MATERIALIZED ("
    "  SELECT notify_work(array_agg(name) FILTER (WHERE status = 'pending'),"
    "                     array_agg(run_at) FILTER (WHERE status = 'pending'),"
    "                     array_agg(id) FILTER (WHERE status = 'pending')) FROM ins"
    ")"
    " SELECT input.ord, ins.id, ms(ins.run_at), ms(ins.lease_expires_at)"
    " FROM ins JOIN input USING (id) CROSS JOIN woke";
static const Oid types_enqueue[] = {
    PGBIN_TEXT_ARRAY, PGBIN_BYTEA_ARRAY, PGBIN_TEXT_ARRAY, PGBIN_INT4_ARRAY,
    PGBIN_TEXT_ARRAY, PGBIN_INT8_ARRAY,  PGBIN_INT8_ARRAY, PGBIN_FLOAT4_ARRAY,
    PGBIN_INT4_ARRAY, PGBIN_INT2_ARRAY,  PGBIN_INT8_ARRAY, PGBIN_INT8_ARRAY,
    PGBIN_INT8_ARRAY, PGBIN_INT4_ARRAY,  PGBIN_BOOL_ARRAY, PGBIN_UUID,
};

/*
 * enqueue_keys: $1 names text[], $2 keys text[], $3 parents int8[] (the same arrays as
 * enqueue's $1, $3 and $13).
 * -> ord int8, id int8, revived_run_at int8 (NULL: not revived) for every input with a key:
 * the job that holds (name, key) now. A step found dead or cancelled (its parent runs again
 * and calls it again) is revived like RETRY: pending, due now, a fresh set of attempts.
 * A statement of its own because it must see rows that other transactions committed while
 * enqueue waited on them (ON CONFLICT waits for a concurrent inserter of the same key to end):
 * under READ COMMITTED each statement takes a new snapshot, the INSERT's own could not.
 */
static const char sql_enqueue_keys[] =
    "WITH held AS MATERIALIZED ("
    "  SELECT u.ord, j.id, u.parent_id IS NOT NULL AS is_step"
    "  FROM unnest($1::text[], $2::text[], $3::int8[]) WITH ORDINALITY"
    "       AS u(name, idem_key, parent_id, ord)"
    "  JOIN jobs j ON j.name = u.name AND j.idem_key = u.idem_key AND j.idem_key IS NOT NULL"
    "  WHERE u.idem_key IS NOT NULL"
    "), revived AS ("
    "  UPDATE jobs j SET status = 'pending', run_at = date_trunc('milliseconds', now()),"
    "    uncounted = j.attempt, finished_at = NULL"
    "  WHERE j.id IN (SELECT id FROM held WHERE is_step) AND j.status IN ('dead', 'cancelled')"
    "  RETURNING j.id, j.name, j.run_at"
    "), woke AS MATERIALIZED ("
    "  SELECT notify_work(array_agg(name), array_agg(run_at), array_agg(id)) FROM revived"
    ")"
    " SELECT held.ord, held.id, ms(revived.run_at)"
    " FROM held LEFT JOIN revived USING (id) CROSS JOIN woke";
static const Oid types_enqueue_keys[] = {PGBIN_TEXT_ARRAY, PGBIN_TEXT_ARRAY, PGBIN_INT8_ARRAY};

/*
 * claim: $1 names text[], $2 limits int4[] (most jobs per name), $3 limit int4 (most jobs in
 * all), $4 node uuid, $5 steps_only bool[] (per name: only steps, for slots lent by waiting
 * jobs), $6 cursor priorities int4[], $7 cursor run_ats int8[] (Unix us), $8 cursor ids int8[]
 * (per name: the last job this node claimed there; no cursor: priority 32768, 0, 0).
 * -> id int8, name text, args bytea, attempt int4, max_attempts int4, uncounted int4,
 *    deadline int8 (lease expiry, Unix ms), timeout_ms int4, parent_id int8 (NULL: none),
 *    priority int2, run_at int8 (Unix us): the claimed job's place, the next cursor.
 * Per name, ordered index scans (jobs_pending: name, priority DESC, run_at, id; for a
 * steps_only name jobs_pending_steps, so that top-level jobs are not read to be skipped) that
 * skip rows other claimers hold, then the best $3 of all. A name = ANY($1) scan would sort every
 * due job of those names first; this reads at most the sum of $2 index entries. Rows locked but not
 * kept (more than $3 in all) are unlocked at commit, a few milliseconds later.
 * The cursor: at the cursor's priority the scan starts past the cursor's (run_at, id), not at the
 * head of the index, whose entries up to the cursor are jobs claimed since: while a long
 * transaction holds back vacuum, they stay, and a scan from the head would read each of them
 * (architecture.md, "Claim cursors"). Higher and lower priorities are scanned whole, in order,
 * and the three scans are read one after the other, only as far as the limit needs.
 */
#define CLAIM_SCAN(only_steps)                                                                     \
    "    SELECT * FROM (SELECT id, priority, run_at FROM jobs"                                     \
    "     WHERE jobs.name = n.name AND status = 'pending'" only_steps " AND run_at <= now()"       \
    "       AND priority > n.cur_prio"                                                             \
    "     ORDER BY priority DESC, run_at, id LIMIT n.lim FOR UPDATE SKIP LOCKED) hi"               \
    "    UNION ALL"                                                                                \
    "    SELECT * FROM (SELECT id, priority, run_at FROM jobs"                                     \
    "     WHERE jobs.name = n.name AND status = 'pending'" only_steps " AND run_at <= now()"       \
    "       AND priority = n.cur_prio"                                                             \
    "       AND (run_at, id) > (timestamptz 'epoch' + n.cur_us * interval '1 microsecond',"        \
    "                           n.cur_id)"                                                         \
    "     ORDER BY run_at, id LIMIT n.lim FOR UPDATE SKIP LOCKED) at"                              \
    "    UNION ALL"                                                                                \
    "    SELECT * FROM (SELECT id, priority, run_at FROM jobs"                                     \
    "     WHERE jobs.name = n.name AND status = 'pending'" only_steps " AND run_at <= now()"       \
    "       AND priority < n.cur_prio"                                                             \
    "     ORDER BY priority DESC, run_at, id LIMIT n.lim FOR UPDATE SKIP LOCKED) lo"               \
    "    LIMIT n.lim"
static const char sql_claim[] =
    "WITH names AS MATERIALIZED ("
    "  SELECT * FROM unnest($1::text[], $2::int4[], $5::bool[], $6::int4[], $7::int8[],"
    "                       $8::int8[]) AS n(name, lim, steps_only, cur_prio, cur_us, cur_id)"
    "), any_job AS ("
    "  SELECT c.* FROM names n CROSS JOIN LATERAL (" CLAIM_SCAN(
        "") ") c WHERE NOT n.steps_only"
            "), step_job AS ("
            "  SELECT c.* FROM names n CROSS JOIN LATERAL (" CLAIM_SCAN(
                " AND parent_id IS NOT NULL") "  ) c WHERE n.steps_only"
                                              "), picked AS ("
                                              "  SELECT id FROM (SELECT * FROM any_job UNION ALL "
                                              "SELECT * FROM step_job) c"
                                              "  ORDER BY c.priority DESC, c.run_at, c.id"
                                              "  LIMIT $3"
                                              ")"
                                              " UPDATE jobs j SET status = 'running', attempt = "
                                              "j.attempt + 1, started_at = now(),"
                                              "   lease_node = $4, lease_expires_at = now() + "
                                              "j.timeout_ms * interval '1 millisecond'"
                                              " FROM picked WHERE j.id = picked.id"
                                              " RETURNING j.id, j.name, j.args, j.attempt, "
                                              "j.max_attempts, j.uncounted,"
                                              "   ms(j.lease_expires_at), j.timeout_ms, "
                                              "j.parent_id, j.priority,"
                                              "   (extract(epoch FROM j.run_at) * 1000000)::int8";
static const Oid types_claim[] = {PGBIN_TEXT_ARRAY, PGBIN_INT4_ARRAY, PGBIN_INT4,
                                  PGBIN_UUID,       PGBIN_BOOL_ARRAY, PGBIN_INT4_ARRAY,
                                  PGBIN_INT8_ARRAY, PGBIN_INT8_ARRAY};

/*
 * complete: $1 ids int8[], $2 attempts int4[], $3 oks bool[], $4 results bytea[], $5 errors
 * text[], $6 retryable bool[], $7 node uuid.
 * -> one row per outcome applied: id int8, attempt int4, status text, run_at int8.
 * Applies only to rows still running that same attempt under that node's lease: an outcome
 * for an attempt that timed out, was released, cancelled or reclaimed changes nothing and
 * returns no row (the engine answers stale_attempt). A failure goes back to pending with the
 * job's backoff, or to dead when not retryable or out of attempts.
 * Each row must be found by id (jobs_pkey): the status and lease tests are written so that no
 * other index can serve them. With "status = 'running'" (jobs_running's predicate) the generic
 * plan may hash-join the whole of jobs_running, dead entries included, which a transaction
 * holding back vacuum lets pile up: measured, 12 ms per batch and growing.
 */
static const char sql_complete[] =
    "WITH input AS ("
    "  SELECT * FROM unnest($1::int8[], $2::int4[], $3::bool[], $4::bytea[], $5::text[],"
    "                       $6::bool[]) AS u(id, attempt, ok, result, error, retryable)"
    "), upd AS ("
    "  UPDATE jobs j SET"
    "    status = CASE WHEN i.ok THEN 'success'"
    "                  WHEN i.retryable AND NOT" ATTEMPTS_USED "THEN 'pending'"
    "                  ELSE 'dead' END::job_status,"
    "    result = CASE WHEN i.ok THEN coalesce(i.result, '') END,"
    "    error = CASE WHEN i.ok THEN j.error ELSE i.error END,"
    "    run_at = CASE WHEN NOT i.ok AND i.retryable AND NOT" ATTEMPTS_USED
    "                  THEN" NEXT_RUN_AT "ELSE j.run_at END,"
    "    finished_at = CASE WHEN i.ok OR NOT i.retryable OR" ATTEMPTS_USED "THEN now() END,"
    "    lease_node = NULL, lease_expires_at = NULL"
    "  FROM input i"
    "  WHERE j.id = i.id AND j.status::text = 'running' AND j.attempt = i.attempt"
    "    AND j.lease_node IS NOT DISTINCT FROM $7"
    "  RETURNING j.id, j.attempt, j.status, j.name, j.run_at"
    "), " WOKE_FROM_UPD " SELECT upd.id, upd.attempt, upd.status::text, ms(upd.run_at)"
    " FROM upd CROSS JOIN woke";
static const Oid types_complete[] = {PGBIN_INT8_ARRAY,  PGBIN_INT4_ARRAY, PGBIN_BOOL_ARRAY,
                                     PGBIN_BYTEA_ARRAY, PGBIN_TEXT_ARRAY, PGBIN_BOOL_ARRAY,
                                     PGBIN_UUID};

/*
 * release: $1 node uuid, $2 ids int8[] (NULL: every running job of the node), $3 attempts
 * int4[] (with $2), $4 consume bool, $5 error text.
 * -> id int8, attempt int4, status text, run_at int8, NULL (the node column of expire and
 * reclaim), name text per job released. Hands running jobs back, due at once. consume = true (a
 * worker died mid-job): the attempt counts, and a job out of attempts is dead with error $5.
 * consume = false (the daemon shuts down): the attempt does not count. The attempt number itself
 * never goes down: it stays the fencing token.
 */
static const char sql_release[] =
    "WITH upd AS ("
    "  UPDATE jobs j SET"
    "    status = CASE WHEN $4 AND" ATTEMPTS_USED "THEN 'dead' ELSE 'pending' END::job_status,"
    "    uncounted = CASE WHEN $4 THEN j.uncounted ELSE j.uncounted + 1 END,"
    "    error = CASE WHEN $4 THEN $5 ELSE j.error END,"
    "    run_at = CASE WHEN $4 AND" ATTEMPTS_USED "THEN j.run_at"
    "                  ELSE date_trunc('milliseconds', now()) END,"
    "    finished_at = CASE WHEN $4 AND" ATTEMPTS_USED "THEN now() END,"
    "    lease_node = NULL, lease_expires_at = NULL"
    "  WHERE j.status = 'running' AND j.lease_node = $1"
    "    AND ($2::int8[] IS NULL"
    "         OR (j.id, j.attempt) IN (SELECT * FROM unnest($2::int8[], $3::int4[])))"
    "  RETURNING j.id, j.attempt, j.status, j.name, j.run_at"
    "), " WOKE_FROM_UPD " SELECT upd.id, upd.attempt, upd.status::text, ms(upd.run_at),"
    " NULL::uuid, upd.name FROM upd CROSS JOIN woke";
static const Oid types_release[] = {PGBIN_UUID, PGBIN_INT8_ARRAY, PGBIN_INT4_ARRAY, PGBIN_BOOL,
                                    PGBIN_TEXT};

/*
 * expire: $1 node uuid, $2 grace_ms int8, $3 limit int4.
 * -> id int8, attempt int4, status text, run_at int8, node uuid (whose lease it was), name
 * text. Attempts past their deadline fail as "timeout" (retryable): this node's own at once, other
 * nodes' only $2 ms later, so that a live owner is the one that times out its attempts.
 */
static const char sql_expire[] =
    "WITH due AS ("
    "  SELECT id, lease_node FROM jobs"
    "  WHERE status = 'running'"
    "    AND ((lease_node = $1 AND lease_expires_at <= now())"
    "         OR lease_expires_at <= now() - $2 * interval '1 millisecond')"
    "  ORDER BY lease_expires_at"
    "  LIMIT $3"
    "  FOR UPDATE SKIP LOCKED"
    "), upd AS ("
    "  UPDATE jobs j SET"
    "    status = CASE WHEN" ATTEMPTS_USED "THEN 'dead' ELSE 'pending' END::job_status,"
    "    run_at = CASE WHEN" ATTEMPTS_USED "THEN j.run_at ELSE" NEXT_RUN_AT "END,"
    "    error = 'timeout: attempt ' || j.attempt || ' ran longer than ' || j.timeout_ms"
    "            || ' ms',"
    "    finished_at = CASE WHEN" ATTEMPTS_USED "THEN now() END,"
    "    lease_node = NULL, lease_expires_at = NULL"
    "  FROM due WHERE j.id = due.id"
    "  RETURNING j.id, j.attempt, j.status, j.name, j.run_at, due.lease_node"
    "), " WOKE_FROM_UPD
    " SELECT upd.id, upd.attempt, upd.status::text, ms(upd.run_at), upd.lease_node, upd.name"
    " FROM upd CROSS JOIN woke";
static const Oid types_expire[] = {PGBIN_UUID, PGBIN_INT8, PGBIN_INT4};

/*
 * reclaim: $1 lapse_ms int8, $2 limit int4, $3 error text.
 * -> id int8, attempt int4, status text, run_at int8, node uuid (whose lease it was), name
 * text. Running jobs whose node has no heartbeat within $1 ms (or no row at all) go back to pending
 * at once, the attempt counted (dead when it was the last). No leader: any daemon may run
 * this; SKIP LOCKED keeps two of them from waiting on each other.
 */
static const char sql_reclaim[] =
    "WITH due AS ("
    "  SELECT j.id, j.lease_node FROM jobs j"
    "  WHERE j.status = 'running'"
    "    AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = j.lease_node"
    "                    AND n.heartbeat_at > now() - $1 * interval '1 millisecond')"
    "  LIMIT $2"
    "  FOR UPDATE OF j SKIP LOCKED"
    "), upd AS ("
    "  UPDATE jobs j SET"
    "    status = CASE WHEN" ATTEMPTS_USED "THEN 'dead' ELSE 'pending' END::job_status,"
    "    run_at = CASE WHEN" ATTEMPTS_USED "THEN j.run_at"
    "                  ELSE date_trunc('milliseconds', now()) END,"
    "    error = $3,"
    "    finished_at = CASE WHEN" ATTEMPTS_USED "THEN now() END,"
    "    lease_node = NULL, lease_expires_at = NULL"
    "  FROM due WHERE j.id = due.id"
    "  RETURNING j.id, j.attempt, j.status, j.name, j.run_at, due.lease_node"
    "), " WOKE_FROM_UPD
    " SELECT upd.id, upd.attempt, upd.status::text, ms(upd.run_at), upd.lease_node, upd.name"
    " FROM upd CROSS JOIN woke";
static const Oid types_reclaim[] = {PGBIN_INT8, PGBIN_INT4, PGBIN_TEXT};

/* node_beat: $1 id uuid, $2 host text, $3 pid int4 -> started_at int8, heartbeat_at int8.
 * A node must beat before it claims: a lease naming an unknown node is reclaimable. */
static const char sql_node_beat[] = "INSERT INTO nodes (id, host, pid) VALUES ($1, $2, $3)"
                                    " ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()"
                                    " RETURNING ms(started_at), ms(heartbeat_at)";
static const Oid types_node_beat[] = {PGBIN_UUID, PGBIN_TEXT, PGBIN_INT4};

/* node_gone: $1 id uuid -> nothing. */
static const char sql_node_gone[] = "DELETE FROM nodes WHERE id = $1";
static const Oid types_node_gone[] = {PGBIN_UUID};

/* node_prune: $1 lapse_ms int8 -> id uuid per node removed. */
static const char sql_node_prune[] =
    "DELETE FROM nodes n"
    " WHERE n.heartbeat_at <= now() - $1 * interval '1 millisecond'"
    "   AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.status = 'running'"
    "                   AND j.lease_node = n.id)"
    " RETURNING n.id";
static const Oid types_node_prune[] = {PGBIN_INT8};

/* prune_jobs: $1 retention_s int8, $2 limit int4 -> one row per job deleted: the oldest
 * finished before the retention, $2 at most (jobs_finished). Rows another daemon is pruning
 * are skipped. */
static const char sql_prune_jobs[] =
    "WITH doomed AS ("
    "  SELECT id FROM jobs WHERE finished_at < now() - $1 * interval '1 second'"
    "  ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED"
    ")"
    " DELETE FROM jobs j USING doomed WHERE j.id = doomed.id RETURNING j.id";
static const Oid types_prune_jobs[] = {PGBIN_INT8, PGBIN_INT4};

/*
 * oldest_snapshot: $1 older_than_s int8 -> no row, or one: pid int4 (NULL: a prepared
 * transaction), age_s int8, who text (application name or the prepared transaction's gid),
 * state text. The open transaction of a client session of this database that holds back the
 * vacuum horizon (a snapshot, backend_xmin, or a transaction id, backend_xid: one that wrote and
 * now sits idle in transaction has no snapshot between statements) longest, or prepared
 * transaction, when it began more than $1 s ago: vacuum cannot remove a row version that died
 * after it began. Sessions of other roles show only with the pg_read_all_stats role (or as a
 * superuser).
 */
static const char sql_oldest_snapshot[] =
    "SELECT pid, age_s, who, state FROM ("
    "  SELECT pid, extract(epoch FROM now() - xact_start)::int8 AS age_s,"
    "         coalesce(application_name, '') AS who, coalesce(state, '') AS state"
    "  FROM pg_stat_activity"
    "  WHERE datname = current_database() AND backend_type = 'client backend'"
    "    AND (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL)"
    "    AND pid <> pg_backend_pid() AND xact_start < now() - $1 * interval '1 second'"
    "  UNION ALL"
    "  SELECT NULL, extract(epoch FROM now() - prepared)::int8, gid, 'prepared'"
    "  FROM pg_prepared_xacts"
    "  WHERE database = current_database() AND prepared < now() - $1 * interval '1 second'"
    ") t ORDER BY age_s DESC LIMIT 1";
static const Oid types_oldest_snapshot[] = {PGBIN_INT8};

/* get: $1 id int8 -> the job columns, or no row. */
static const char sql_get[] = "SELECT" JOB_COLUMNS "FROM jobs j WHERE j.id = $1";
static const Oid types_get[] = {PGBIN_INT8};

/*
 * cancel: $1 id int8 -> no row (unknown job), or prev status, prev lease_node, prev attempt and
 * the job columns (NULL when the job was already final: conflict). A running attempt's
 * daemon learns of it from the completion notification and tells its worker (ABANDON).
 */
static const char sql_cancel[] =
    "WITH RECURSIVE prev AS ("
    "  SELECT id, status, lease_node, attempt FROM jobs WHERE id = $1 FOR UPDATE"
    "), upd AS ("
    "  UPDATE jobs j SET status = 'cancelled', finished_at = now(),"
    "    lease_node = NULL, lease_expires_at = NULL"
    "  FROM prev WHERE j.id = prev.id AND prev.status IN ('pending', 'running')"
    "  RETURNING j.*"
    "), tree(id) AS ("
    "  SELECT s.id FROM jobs s WHERE s.parent_id = $1 AND EXISTS (SELECT 1 FROM upd)"
    "  UNION SELECT s.id FROM jobs s JOIN tree ON s.parent_id = tree.id"
    "), steps AS ("
    "  UPDATE jobs s SET status = 'cancelled', finished_at = now()"
    "  WHERE s.id IN (SELECT id FROM tree) AND s.status = 'pending'"
    "  RETURNING s.id"
    "), woke AS MATERIALIZED ("
    "  SELECT notify_done(array_agg(id))"
    "  FROM (SELECT id FROM upd UNION ALL SELECT id FROM steps) done"
    ")"
    " SELECT prev.status::text, prev.lease_node, prev.attempt," JOB_COLUMNS
    " FROM prev LEFT JOIN upd j ON true CROSS JOIN woke";
static const Oid types_cancel[] = {PGBIN_INT8};

/*
 * retry: $1 id int8 -> like cancel. A dead or cancelled job becomes pending, due now, with a
 * fresh set of attempts: the attempts so far become uncounted (attempt itself stays, it is
 * the fencing token).
 */
static const char sql_retry[] =
    "WITH prev AS ("
    "  SELECT id, status, lease_node, attempt FROM jobs WHERE id = $1 FOR UPDATE"
    "), upd AS ("
    "  UPDATE jobs j SET status = 'pending', run_at = date_trunc('milliseconds', now()),"
    "    uncounted = j.attempt, finished_at = NULL"
    "  FROM prev WHERE j.id = prev.id AND prev.status IN ('dead', 'cancelled')"
    "  RETURNING j.*"
    "), woke AS MATERIALIZED (SELECT notify_work(array_agg(name), array_agg(run_at), "
    "array_agg(id)) FROM upd)"
    " SELECT prev.status::text, prev.lease_node, prev.attempt," JOB_COLUMNS
    " FROM prev LEFT JOIN upd j ON true CROSS JOIN woke";
static const Oid types_retry[] = {PGBIN_INT8};

/*
 * list: $1 status text (NULL: any), $2 name text (NULL: any), $3 before id int8 (NULL: from
 * the newest), $4 limit int4, $5 parent int8 (NULL here; list_steps takes the others) -> the
 * job columns, newest first. Ask for one row more than the page to learn whether there is a
 * next page.
 */
static const char sql_list[] = "SELECT" JOB_COLUMNS "FROM jobs j"
                               " WHERE ($1::text IS NULL OR j.status = $1::text::job_status)"
                               "   AND ($2::text IS NULL OR j.name = $2)"
                               "   AND j.id < coalesce($3::int8, 9223372036854775807)"
                               "   AND $5::int8 IS NULL"
                               " ORDER BY j.id DESC LIMIT $4";
static const Oid types_list[] = {PGBIN_TEXT, PGBIN_TEXT, PGBIN_INT8, PGBIN_INT4, PGBIN_INT8};

/* list_steps: list's parameters with $5 parent int8 (not NULL): its steps, newest first. A
 * statement of its own so that its (generic) plan walks jobs_parent. */
static const char sql_list_steps[] = "SELECT" JOB_COLUMNS "FROM jobs j"
                                     " WHERE j.parent_id = $5"
                                     "   AND ($1::text IS NULL OR j.status = $1::text::job_status)"
                                     "   AND ($2::text IS NULL OR j.name = $2)"
                                     "   AND j.id < coalesce($3::int8, 9223372036854775807)"
                                     " ORDER BY j.id DESC LIMIT $4";

/* next_run_at: $1 names text[], $2 after int8 (Unix ms; NULL: the database's now) -> one row:
 * int8 Unix ms, NULL when no pending job of those names is due after that. For the scheduler's
 * timer. */
static const char sql_next_run_at[] =
    "SELECT ms(min(t.run_at))"
    " FROM unnest($1::text[]) AS n(name)"
    " CROSS JOIN LATERAL (SELECT min(run_at) AS run_at FROM jobs"
    "                     WHERE jobs.name = n.name AND status = 'pending'"
    "                       AND run_at > coalesce(from_ms($2::int8), now())) t";
static const Oid types_next_run_at[] = {PGBIN_TEXT_ARRAY, PGBIN_INT8};

/* queue_depth: $1 limit int4 -> (name text, pending int8, running int8) per function with
 * pending or running jobs, by name. Text results. Both partial indexes cover the filter. */
static const char sql_queue_depth[] = "SELECT name, count(*) FILTER (WHERE status = 'pending'),"
                                      "  count(*) FILTER (WHERE status = 'running')"
                                      " FROM jobs WHERE status IN ('pending', 'running')"
                                      " GROUP BY name ORDER BY name LIMIT $1";
static const Oid types_queue_depth[] = {PGBIN_INT4};

/* finals: $1 ids int8[] -> id int8, status text, attempt int4, result bytea (success only),
 * error text (final only), one row per job that exists. The AWAITs of one loop turn look their
 * jobs up with one of these instead of one GET each. */
static const char sql_finals[] = "SELECT j.id, j.status::text, j.attempt,"
                                 "  CASE WHEN j.status = 'success' THEN j.result END,"
                                 "  CASE WHEN j.status IN ('dead', 'cancelled') THEN j.error END"
                                 " FROM jobs j WHERE j.id = ANY($1::int8[])";
static const Oid types_finals[] = {PGBIN_INT8_ARRAY};

/* node_list: $1 limit int4 -> (id text, 32 hex digits; host text; pid int4; heartbeat age ms
 * int8; started_at Unix ms int8), oldest first. Text results. */
static const char sql_node_list[] =
    "SELECT replace(id::text, '-', ''), host, pid, ms(now()) - ms(heartbeat_at), ms(started_at)"
    " FROM nodes ORDER BY started_at, id LIMIT $1";
static const Oid types_node_list[] = {PGBIN_INT4};

#define STMT(id, name, sql, types)                                                                 \
    [id] = {name, sql, (int)(sizeof(types) / sizeof(types[0])), types}

const struct pgconn_prep stmts_table[STMT_COUNT] = {
    [STMT_SCHEDULE_PUT] = SCHEDSTMTS_PREP(put),
    [STMT_SCHEDULE_GET] = SCHEDSTMTS_PREP(get),
    [STMT_SCHEDULE_LIST] = SCHEDSTMTS_PREP(list),
    [STMT_SCHEDULE_PAUSE] = SCHEDSTMTS_PREP(pause),
    [STMT_SCHEDULE_RESUME] = SCHEDSTMTS_PREP(resume),
    [STMT_SCHEDULE_DELETE] = SCHEDSTMTS_PREP(delete),
    [STMT_SCHEDULE_NEXT] = SCHEDSTMTS_PREP(next),
    [STMT_SCHEDULE_DUE] = SCHEDSTMTS_PREP(due),
    [STMT_SCHEDULE_FIRE] = SCHEDSTMTS_PREP(fire),
    STMT(STMT_ENQUEUE, "rs_enqueue", sql_enqueue, types_enqueue),
    STMT(STMT_ENQUEUE_KEYS, "rs_enqueue_keys", sql_enqueue_keys, types_enqueue_keys),
    STMT(STMT_CLAIM, "rs_claim", sql_claim, types_claim),
    STMT(STMT_COMPLETE, "rs_complete", sql_complete, types_complete),
    STMT(STMT_RELEASE, "rs_release", sql_release, types_release),
    STMT(STMT_EXPIRE, "rs_expire", sql_expire, types_expire),
    STMT(STMT_RECLAIM, "rs_reclaim", sql_reclaim, types_reclaim),
    STMT(STMT_NODE_BEAT, "rs_node_beat", sql_node_beat, types_node_beat),
    STMT(STMT_PRUNE_JOBS, "rs_prune_jobs", sql_prune_jobs, types_prune_jobs),
    STMT(STMT_OLDEST_SNAPSHOT, "rs_oldest_snapshot", sql_oldest_snapshot, types_oldest_snapshot),
    STMT(STMT_NODE_GONE, "rs_node_gone", sql_node_gone, types_node_gone),
    STMT(STMT_NODE_PRUNE, "rs_node_prune", sql_node_prune, types_node_prune),
    STMT(STMT_GET, "rs_get", sql_get, types_get),
    STMT(STMT_CANCEL, "rs_cancel", sql_cancel, types_cancel),
    STMT(STMT_RETRY, "rs_retry", sql_retry, types_retry),
    STMT(STMT_LIST, "rs_list", sql_list, types_list),
    STMT(STMT_LIST_STEPS, "rs_list_steps", sql_list_steps, types_list),
    STMT(STMT_NEXT_RUN_AT, "rs_next_run_at", sql_next_run_at, types_next_run_at),
    STMT(STMT_QUEUE_DEPTH, "rs_queue_depth", sql_queue_depth, types_queue_depth),
    STMT(STMT_NODE_LIST, "rs_node_list", sql_node_list, types_node_list),
    STMT(STMT_FINALS, "rs_finals", sql_finals, types_finals),
};

const char *stmts_name(enum stmt_id id)
{
    return stmts_table[id].name;
}
