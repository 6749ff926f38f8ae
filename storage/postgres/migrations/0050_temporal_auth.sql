-- Temporal authorization: the keys that sign agents' and the server's
-- Temporal tokens (rotated; see temporalauth). Which pools each agent
-- belongs to, so that an agent's token names the pools the server gave it
-- rather than the ones it claims, is agent_pools (0030_shard_dispatch).
CREATE TABLE temporal_token_keys (
    id            text PRIMARY KEY CHECK (id <> ''),
    private_key   bytea NOT NULL,
    use_from      timestamptz NOT NULL,
    use_until     timestamptz NOT NULL CHECK (use_until > use_from),
    publish_until timestamptz NOT NULL CHECK (publish_until >= use_until)
);
