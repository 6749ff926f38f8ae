-- Ingest writes a shard's ports with COPY, hundreds of thousands of rows per
-- run. A foreign key checks every row on its own: a query against the
-- referenced table that also locks the referenced row. On ports those
-- checks (the host, and the run) cost more than the COPY itself, and on
-- asset_ports the run check runs for every port that a run's merge
-- touches. Their work moves into statement-level triggers, which do it
-- once per statement over all the rows it deleted:
--
--   - a port belongs to its host: deleting hosts (by hand, by a shard's
--     re-ingest, or by the cascade from a deleted run or shard) deletes
--     their ports. Ports are only ever written by the ingest, right after
--     their hosts, in the same transaction, with the host's id and run id;
--     the host's own keys (run and shard) stay foreign keys, so a run or
--     shard deleted while its results are ingested still waits for them.
--   - an asset's last run is forgotten (NULL) when that run is deleted. The
--     merge into the assets locks its run (FOR KEY SHARE) for the same
--     reason.
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
