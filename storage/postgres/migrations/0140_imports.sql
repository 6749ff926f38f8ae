-- Imported runs: nmap or masscan output written elsewhere (years of it,
-- before Scantron) and brought in as runs of a site.
--
-- A site's imported runs belong to a scan of their own per scanner, which
-- never runs: it has no profile, agent or pool, and imports names the
-- scanner whose output it holds. Its runs are diffed with each other, in
-- the order of the scan times inside the files.
ALTER TABLE scans ADD COLUMN imports text CHECK (imports IN ('nmap', 'masscan'));
ALTER TABLE scans ALTER COLUMN profile_id DROP NOT NULL;
ALTER TABLE scans DROP CONSTRAINT scans_agent_or_pool_check;
ALTER TABLE scans ADD CONSTRAINT scans_agent_or_pool_check CHECK (
    CASE WHEN imports IS NULL
        THEN (agent_id IS NULL) <> (pool_id IS NULL) AND profile_id IS NOT NULL
        ELSE agent_id IS NULL AND pool_id IS NULL AND profile_id IS NULL
    END);
CREATE UNIQUE INDEX scans_site_imports_key ON scans (site_id, imports) WHERE imports IS NOT NULL;

-- Where an imported run came from. The file itself is its one shard's raw
-- output in object storage.
CREATE TABLE run_imports (
    run_id      bigint      PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    file_name   text        NOT NULL,
    sha256      text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size        bigint      NOT NULL CHECK (size > 0),
    imported_by text        NOT NULL DEFAULT '',
    imported_at timestamptz NOT NULL DEFAULT now()
);
