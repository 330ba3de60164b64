-- Claim cursors (docs/architecture.md, "Claim cursors"). A daemon starts its claim for a
-- function past the last job it claimed there, so that a transaction holding back vacuum
-- cannot make every claim walk the dead entries that claimed jobs leave in jobs_pending. For
-- that, a wake-up says where the earliest new pending job sits in the claim's order:
--   'p:<us>:<id>:<name>'  new work for function <name>: the earliest run_at of the jobs it
--                         woke (Unix microseconds) and the smallest id among them;
--   'p:<us>:<id>:'        the same for several functions.
-- A daemon whose cursor for <name> (or any cursor, without a name) lies at or after
-- (<us>, <id>) drops it and scans from the start. Both values are minimums over the jobs, so
-- no job of the wake-up lies before that position. The two-argument notify_work of 001 stays
-- for a daemon of an older version still running against this schema; its 'w:' wake-ups make
-- a new daemon drop its cursors for that name.
CREATE FUNCTION notify_work(names text[], run_ats timestamptz[], ids bigint[]) RETURNS void
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
                      'p:' || (SELECT min((extract(epoch FROM t) * 1000000)::bigint)
                               FROM unnest(run_ats) AS t)
                      || ':' || (SELECT min(i) FROM unnest(ids) AS i) || ':' || first_name);
END $$;
