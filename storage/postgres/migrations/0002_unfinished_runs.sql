-- The reconciler looks for runs that have not ended; they are few, so a
-- partial index keeps that lookup cheap however many runs have finished.
CREATE INDEX runs_unfinished_idx ON runs (created_at) WHERE status IN ('pending', 'running', 'parsing');
