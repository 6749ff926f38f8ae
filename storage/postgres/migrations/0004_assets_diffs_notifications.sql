-- What a site holds across runs, what changed between runs, and who hears
-- about runs.

-- Every host a completed run of a scan on the site ever reported up. state
-- says what the newest run that covered the address found: up, or gone
-- (covered and not up). state_at is when that run ran, so applying an
-- older run later never turns the state back.
CREATE TABLE asset_hosts (
    site_id     bigint      NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    address     inet        NOT NULL,
    hostnames   text[]      NOT NULL DEFAULT '{}',
    state       text        NOT NULL,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    state_at    timestamptz NOT NULL,
    last_run_id bigint      REFERENCES runs (id) ON DELETE SET NULL,
    PRIMARY KEY (site_id, address),
    CONSTRAINT asset_hosts_state_check CHECK (state IN ('up', 'gone'))
);
CREATE INDEX asset_hosts_address_idx ON asset_hosts USING gist (address inet_ops);

-- Every port a completed run found open on a site's host; closed once a
-- later run covered the port on that host, up, and did not find it open.
CREATE TABLE asset_ports (
    site_id     bigint      NOT NULL,
    address     inet        NOT NULL,
    protocol    text        NOT NULL CHECK (protocol <> ''),
    port        integer     NOT NULL CHECK (port BETWEEN 0 AND 65535),
    state       text        NOT NULL,
    service     text        NOT NULL DEFAULT '',
    product     text        NOT NULL DEFAULT '',
    version     text        NOT NULL DEFAULT '',
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    state_at    timestamptz NOT NULL,
    last_run_id bigint      REFERENCES runs (id) ON DELETE SET NULL,
    PRIMARY KEY (site_id, address, protocol, port),
    FOREIGN KEY (site_id, address) REFERENCES asset_hosts (site_id, address) ON DELETE CASCADE,
    CONSTRAINT asset_ports_state_check CHECK (state IN ('open', 'closed'))
);
CREATE INDEX asset_ports_port_idx ON asset_ports (site_id, port, protocol);

-- A completed run's changes against the previous completed run of the same
-- scan (none for the first run: previous_run_id is NULL and there are no
-- changes).
CREATE TABLE run_diffs (
    run_id           bigint      PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    scan_id          bigint      NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    previous_run_id  bigint      REFERENCES runs (id) ON DELETE SET NULL,
    new_hosts        integer     NOT NULL DEFAULT 0,
    gone_hosts       integer     NOT NULL DEFAULT 0,
    opened_ports     integer     NOT NULL DEFAULT 0,
    closed_ports     integer     NOT NULL DEFAULT 0,
    changed_services integer     NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX run_diffs_scan_id_idx ON run_diffs (scan_id, run_id DESC);

CREATE TABLE diff_changes (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id         bigint  NOT NULL REFERENCES run_diffs (run_id) ON DELETE CASCADE,
    kind           text    NOT NULL,
    address        inet    NOT NULL,
    protocol       text    NOT NULL DEFAULT '',
    port           integer CHECK (port BETWEEN 0 AND 65535),
    before_service text    NOT NULL DEFAULT '',
    before_product text    NOT NULL DEFAULT '',
    before_version text    NOT NULL DEFAULT '',
    after_service  text    NOT NULL DEFAULT '',
    after_product  text    NOT NULL DEFAULT '',
    after_version  text    NOT NULL DEFAULT '',
    CONSTRAINT diff_changes_kind_check CHECK (kind IN ('new_host', 'gone_host', 'opened_port', 'closed_port', 'changed_service'))
);
CREATE INDEX diff_changes_run_id_idx ON diff_changes (run_id, address, protocol, port);

-- Who hears about a scan's runs. The webhook secret signs each delivery.
CREATE TABLE scan_notifications (
    scan_id        bigint      PRIMARY KEY REFERENCES scans (id) ON DELETE CASCADE,
    webhook_url    text        NOT NULL DEFAULT '',
    webhook_secret text        NOT NULL DEFAULT '',
    email_to       text[]      NOT NULL DEFAULT '{}',
    on_completed   boolean     NOT NULL DEFAULT true,
    on_failed      boolean     NOT NULL DEFAULT true,
    on_diff        boolean     NOT NULL DEFAULT true,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT scan_notifications_secret_check CHECK (webhook_url = '' OR webhook_secret <> '')
);
