-- A run's plan: what its shards' specs are built from (scan.RunPlan), so
-- that each shard's spec is built when the shard is dispatched rather than
-- all of them carried in one message. NULL for runs started before.
ALTER TABLE runs ADD COLUMN plan jsonb;
