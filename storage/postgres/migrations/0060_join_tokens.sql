-- One-time join tokens: an admin makes one for an agent name, and the agent
-- trades it once, within the hour, for its credential and settings
-- (POST /api/v1/enroll). Only the SHA-256 of the token's secret is kept.
CREATE TABLE join_tokens (
    id          bigserial PRIMARY KEY,
    secret_hash bytea NOT NULL UNIQUE CHECK (octet_length(secret_hash) = 32),
    -- The agent the token enrolls: created at enrollment, or given a new
    -- credential if it is already registered.
    agent_name  text NOT NULL CHECK (agent_name ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
    pools       text[] NOT NULL DEFAULT '{}',
    created_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    used_from   text NOT NULL DEFAULT '',
    CONSTRAINT join_tokens_lifetime_check CHECK (expires_at > created_at AND expires_at <= created_at + interval '1 hour')
);
CREATE INDEX join_tokens_expires_idx ON join_tokens (expires_at);
