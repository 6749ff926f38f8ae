-- Temporal authorization: the keys that sign agents' and the server's
-- Temporal tokens (rotated; see temporalauth), and which pools each agent
-- belongs to, so that an agent's token names the pools the server gave it
-- rather than the ones it claims.
CREATE TABLE temporal_token_keys (
    id            text PRIMARY KEY CHECK (id <> ''),
    private_key   bytea NOT NULL,
    use_from      timestamptz NOT NULL,
    use_until     timestamptz NOT NULL CHECK (use_until > use_from),
    publish_until timestamptz NOT NULL CHECK (publish_until >= use_until)
);

-- Same shape as the shard-dispatch migration's, which may have made it.
CREATE TABLE IF NOT EXISTS agent_pools (
    agent_id bigint NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    pool_id  bigint NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
    PRIMARY KEY (agent_id, pool_id)
);
CREATE INDEX IF NOT EXISTS agent_pools_pool_idx ON agent_pools (pool_id);
