-- The inventory pages: a host's history finds the runs that reported an
-- address (hosts had an index by run only), and the exposure charts read
-- the newest completed runs, everywhere or of a site's scans.
CREATE INDEX hosts_address_idx ON hosts (address, run_id);
CREATE INDEX runs_completed_finished_idx ON runs (finished_at DESC, id DESC) WHERE status = 'completed';
CREATE INDEX runs_scan_completed_finished_idx ON runs (scan_id, finished_at DESC, id DESC) WHERE status = 'completed';
