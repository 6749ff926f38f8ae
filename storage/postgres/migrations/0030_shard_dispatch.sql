-- Each attempt of a shard is dispatched on its own: the server signs the
-- spec for one task queue, with a fresh nonce, and records here which
-- dispatch is current. A result is accepted only for the current dispatch,
-- from the agent it was sent to or a member of its pool.
ALTER TABLE shards ADD COLUMN dispatch_attempt integer;
ALTER TABLE shards ADD COLUMN dispatch_nonce text;
ALTER TABLE shards ADD COLUMN dispatch_task_queue text;
ALTER TABLE shards ADD COLUMN dispatch_agent text;
ALTER TABLE shards ADD COLUMN dispatch_pool text;
ALTER TABLE shards ADD COLUMN dispatch_expires timestamptz;

-- Pool membership as the server records it. (Also created, in the same
-- shape, by the Temporal authorization migration.)
CREATE TABLE IF NOT EXISTS agent_pools (
    agent_id bigint NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    pool_id  bigint NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
    PRIMARY KEY (agent_id, pool_id)
);
CREATE INDEX IF NOT EXISTS agent_pools_pool_idx ON agent_pools (pool_id);
