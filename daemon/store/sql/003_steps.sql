-- Durable steps (docs/architecture.md, "Steps"; docs/protocol.md, ENQUEUE parent/step).
-- A job enqueued while another job's handler runs is a step of that job: parent_id names the
-- parent, step its position among the parent's calls. Its identity is the idempotency key
-- 'step:<parent>:<step>' under its function (unless the caller gave a key), so that a retried
-- parent finds the steps it made before. Adding nullable columns rewrites no row.

ALTER TABLE jobs
    ADD COLUMN parent_id bigint,
    ADD COLUMN step integer CHECK (step >= 0),
    ADD CONSTRAINT jobs_step_has_parent CHECK ((parent_id IS NULL) = (step IS NULL));

-- A job's steps (LIST parent, the cancel cascade), newest first like LIST. No foreign key:
-- a parent may be pruned before its steps, and a key would lock the parent row on every insert.
CREATE INDEX jobs_parent ON jobs (parent_id, id) WHERE parent_id IS NOT NULL;

-- The claim for slots lent by waiting jobs takes steps only: walk them alone, in claim order,
-- whatever number of top-level jobs of the same function wait.
CREATE INDEX jobs_pending_steps ON jobs (name, priority DESC, run_at, id)
    WHERE status = 'pending' AND parent_id IS NOT NULL;
