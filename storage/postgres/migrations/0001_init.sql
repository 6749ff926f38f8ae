-- Scantron's initial schema.
--
-- Conventions: surrogate bigint identity keys; text columns that the API
-- always has a value for are NOT NULL DEFAULT ''; times are timestamptz;
-- lists whose order matters are arrays or carry a position column.

CREATE TABLE sites (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sites_name_key UNIQUE (name),
    CONSTRAINT sites_name_check CHECK (btrim(name) <> '')
);

-- A site's targets and exclusions keep the order the operator wrote them in.
CREATE TABLE site_targets (
    site_id  bigint  NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    position integer NOT NULL CHECK (position > 0),
    value    text    NOT NULL CHECK (btrim(value) <> ''),
    PRIMARY KEY (site_id, position)
);

CREATE TABLE site_exclusions (
    site_id  bigint  NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    position integer NOT NULL CHECK (position > 0),
    value    text    NOT NULL CHECK (btrim(value) <> ''),
    PRIMARY KEY (site_id, position)
);

CREATE TABLE global_exclusions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target     text        NOT NULL CHECK (btrim(target) <> ''),
    note       text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE profiles (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    scanner     text        NOT NULL,
    options     text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT profiles_name_key UNIQUE (name),
    CONSTRAINT profiles_name_check CHECK (btrim(name) <> ''),
    CONSTRAINT profiles_scanner_check CHECK (scanner IN ('nmap', 'masscan'))
);

CREATE TABLE agents (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text        NOT NULL,
    description  text        NOT NULL DEFAULT '',
    task_queue   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz,
    CONSTRAINT agents_name_key UNIQUE (name),
    CONSTRAINT agents_task_queue_key UNIQUE (task_queue),
    CONSTRAINT agents_name_check CHECK (btrim(name) <> ''),
    CONSTRAINT agents_task_queue_check CHECK (btrim(task_queue) <> '')
);

-- A site, profile or agent cannot be deleted while a scan uses it.
CREATE TABLE scans (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL,
    site_id    bigint      NOT NULL REFERENCES sites (id) ON DELETE RESTRICT,
    profile_id bigint      NOT NULL REFERENCES profiles (id) ON DELETE RESTRICT,
    agent_id   bigint      NOT NULL REFERENCES agents (id) ON DELETE RESTRICT,
    start_at   timestamptz,
    time_zone  text        NOT NULL DEFAULT 'UTC',
    rrule      text        NOT NULL DEFAULT '',
    enabled    boolean     NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT scans_name_key UNIQUE (name),
    CONSTRAINT scans_name_check CHECK (btrim(name) <> ''),
    CONSTRAINT scans_time_zone_check CHECK (btrim(time_zone) <> '')
);
CREATE INDEX scans_site_id_idx ON scans (site_id);
CREATE INDEX scans_profile_id_idx ON scans (profile_id);
CREATE INDEX scans_agent_id_idx ON scans (agent_id);

-- A scan cannot be deleted while it has runs: results are history, and
-- deleting them is a separate, explicit act (DeleteRun).
CREATE TABLE runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scan_id     bigint      NOT NULL REFERENCES scans (id) ON DELETE RESTRICT,
    workflow_id text        NOT NULL,
    status      text        NOT NULL DEFAULT 'pending',
    error       text        NOT NULL DEFAULT '',
    targets     text[]      NOT NULL DEFAULT '{}',
    excludes    text[]      NOT NULL DEFAULT '{}',
    addresses   bigint      NOT NULL DEFAULT 0 CHECK (addresses >= 0),
    hosts_up    integer     NOT NULL DEFAULT 0 CHECK (hosts_up >= 0),
    open_ports  integer     NOT NULL DEFAULT 0 CHECK (open_ports >= 0),
    csv_bucket  text,
    csv_key     text,
    csv_size    bigint,
    csv_sha256  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz,
    CONSTRAINT runs_workflow_id_key UNIQUE (workflow_id),
    CONSTRAINT runs_workflow_id_check CHECK (btrim(workflow_id) <> ''),
    CONSTRAINT runs_status_check CHECK (status IN ('pending', 'running', 'parsing', 'completed', 'failed', 'cancelled')),
    CONSTRAINT runs_csv_check CHECK (
        (csv_bucket IS NULL AND csv_key IS NULL AND csv_size IS NULL AND csv_sha256 IS NULL)
        OR (csv_bucket IS NOT NULL AND csv_key IS NOT NULL AND csv_size >= 0 AND csv_sha256 ~ '^[0-9a-f]{64}$')
    )
);
CREATE INDEX runs_scan_id_created_idx ON runs (scan_id, created_at DESC, id DESC);
CREATE INDEX runs_created_idx ON runs (created_at DESC, id DESC);

-- A shard keeps its history when its agent is deleted.
CREATE TABLE shards (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      bigint      NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    idx         integer     NOT NULL CHECK (idx >= 0),
    agent_id    bigint      REFERENCES agents (id) ON DELETE SET NULL,
    status      text        NOT NULL DEFAULT 'pending',
    attempt     integer     NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    targets     text[]      NOT NULL DEFAULT '{}',
    raw_bucket  text,
    raw_key     text,
    raw_size    bigint,
    raw_sha256  text,
    error       text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz,
    CONSTRAINT shards_run_id_idx_key UNIQUE (run_id, idx),
    CONSTRAINT shards_status_check CHECK (status IN ('pending', 'running', 'scanned', 'completed', 'failed', 'cancelled')),
    CONSTRAINT shards_raw_check CHECK (
        (raw_bucket IS NULL AND raw_key IS NULL AND raw_size IS NULL AND raw_sha256 IS NULL)
        OR (raw_bucket IS NOT NULL AND raw_key IS NOT NULL AND raw_size >= 0 AND raw_sha256 ~ '^[0-9a-f]{64}$')
    )
);
CREATE INDEX shards_agent_id_idx ON shards (agent_id);

-- Hosts take explicit ids from their sequence during ingest (so ports can be
-- copied in the same batch), hence BY DEFAULT rather than ALWAYS.
CREATE TABLE hosts (
    id         bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    run_id     bigint      NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    shard_id   bigint      NOT NULL REFERENCES shards (id) ON DELETE CASCADE,
    address    inet        NOT NULL,
    mac        text        NOT NULL DEFAULT '',
    vendor     text        NOT NULL DEFAULT '',
    hostnames  text[]      NOT NULL DEFAULT '{}',
    status     text        NOT NULL DEFAULT '',
    reason     text        NOT NULL DEFAULT '',
    started_at timestamptz,
    ended_at   timestamptz
);
CREATE INDEX hosts_run_id_address_idx ON hosts (run_id, address, id);
CREATE INDEX hosts_shard_id_idx ON hosts (shard_id);

CREATE TABLE ports (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    host_id    bigint   NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    run_id     bigint   NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    protocol   text     NOT NULL CHECK (protocol <> ''),
    port       integer  NOT NULL CHECK (port BETWEEN 0 AND 65535),
    state      text     NOT NULL DEFAULT '',
    reason     text     NOT NULL DEFAULT '',
    service    text     NOT NULL DEFAULT '',
    product    text     NOT NULL DEFAULT '',
    version    text     NOT NULL DEFAULT '',
    extra_info text     NOT NULL DEFAULT '',
    cpe        text[]   NOT NULL DEFAULT '{}'
);
CREATE INDEX ports_host_id_idx ON ports (host_id, protocol, port);
CREATE INDEX ports_run_id_state_idx ON ports (run_id, state);
