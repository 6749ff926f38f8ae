-- Ingest writes a shard's hosts and ports with COPY, hundreds of thousands
-- of rows per run. A foreign key checks every row on its own: a query
-- against the referenced table that also locks the referenced row. On
-- ports (host and run) those checks cost more than the COPY itself, on
-- hosts (run and shard) a good part of it, and on asset_ports the run
-- check runs for every port that a run's merge touches. Their work moves
-- into statement-level triggers, which do it once per statement over all
-- the rows it deleted:
--
--   - a host belongs to its shard, and a port to its host: deleting shards
--     (by hand, or by the cascade from their deleted run) deletes their
--     hosts, and deleting hosts (so, too, a shard's re-ingest) deletes
--     their ports. Hosts and ports are only ever written by the ingest, in
--     one transaction that first locks the shard row (FOR UPDATE) and
--     checks that it belongs to the run, then writes the hosts, then their
--     ports with the host's id and run id. A shard or run deleted while its
--     results are ingested waits for that lock, and its trigger, run after
--     the wait, sees the rows written.
--   - an asset's last run is forgotten (NULL) when that run is deleted. The
--     merge into the assets locks its run (FOR KEY SHARE) for the same
--     reason.
ALTER TABLE hosts DROP CONSTRAINT hosts_run_id_fkey;
ALTER TABLE hosts DROP CONSTRAINT hosts_shard_id_fkey;

CREATE FUNCTION scantron_delete_shard_hosts() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM hosts h USING gone_shards g WHERE h.shard_id = g.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER shards_delete_hosts AFTER DELETE ON shards
    REFERENCING OLD TABLE AS gone_shards
    FOR EACH STATEMENT EXECUTE FUNCTION scantron_delete_shard_hosts();

ALTER TABLE ports DROP CONSTRAINT ports_host_id_fkey;
ALTER TABLE ports DROP CONSTRAINT ports_run_id_fkey;

CREATE FUNCTION scantron_delete_host_ports() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM ports p USING gone_hosts g WHERE p.host_id = g.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER hosts_delete_ports AFTER DELETE ON hosts
    REFERENCING OLD TABLE AS gone_hosts
    FOR EACH STATEMENT EXECUTE FUNCTION scantron_delete_host_ports();

ALTER TABLE asset_ports DROP CONSTRAINT asset_ports_last_run_id_fkey;

CREATE FUNCTION scantron_forget_asset_runs() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE asset_ports a SET last_run_id = NULL FROM gone_runs g WHERE a.last_run_id = g.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER runs_forget_asset_ports AFTER DELETE ON runs
    REFERENCING OLD TABLE AS gone_runs
    FOR EACH STATEMENT EXECUTE FUNCTION scantron_forget_asset_runs();

-- One index fewer for every port written: a run's ports by state are found
-- through ports_run_id_port_idx (run first) as quickly for the counts that
-- ask for them (CompleteRun, KeepPartial, the exposure charts).
DROP INDEX ports_run_id_state_idx;
