-- Retention (docs/operations.md, "Retention"): finished jobs are deleted --retention-s after
-- they finished, oldest first, a bounded batch at a time. This index lets the pruner find
-- them without reading the jobs still within retention; only finished rows are in it.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
