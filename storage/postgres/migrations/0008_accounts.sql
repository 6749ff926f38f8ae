-- Accounts: users with a role, browser sessions and API tokens. Session
-- and token secrets are stored only as SHA-256 hashes; passwords as bcrypt.
CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_.@-]{0,62}$'),
    role          text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    password_hash text NOT NULL CHECK (password_hash <> ''),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
    secret_hash bytea PRIMARY KEY CHECK (octet_length(secret_hash) = 32),
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf        text NOT NULL CHECK (csrf <> ''),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (name <> '' AND length(name) <= 100),
    secret_hash  bytea NOT NULL UNIQUE CHECK (octet_length(secret_hash) = 32),
    prefix       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);
