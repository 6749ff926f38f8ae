-- Indexes for the search language (scan/query) over the current assets
-- and over runs' results. pg_trgm ships with PostgreSQL (contrib; Debian's
-- postgresql package and the official image include it) and is a trusted
-- extension, so the database's owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- port:, and with it net:, proto: and state:, across every site: the
-- address range of a net: narrows the scan of one port, protocol and state
-- are checked in the index.
CREATE INDEX asset_ports_port_address_idx ON asset_ports (port, address, protocol, state);
-- ip:, net: across every site (btree serves <<= on inet).
CREATE INDEX asset_ports_address_idx ON asset_ports (address);
-- seen:, first:
CREATE INDEX asset_ports_last_seen_idx ON asset_ports (last_seen);
CREATE INDEX asset_ports_first_seen_idx ON asset_ports (first_seen);
-- service:, product:, version: (exact, case-insensitive and wildcard).
CREATE INDEX asset_ports_service_trgm_idx ON asset_ports USING gin (service gin_trgm_ops);
CREATE INDEX asset_ports_product_trgm_idx ON asset_ports USING gin (product gin_trgm_ops);
CREATE INDEX asset_ports_version_trgm_idx ON asset_ports USING gin (version gin_trgm_ops);

-- host: narrows by the names joined into one text, through a trigram
-- index (array_to_string itself is only STABLE, so it cannot be indexed).
CREATE FUNCTION scantron_hostnames(names text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN array_to_string(names, E'\n');
CREATE INDEX asset_hosts_hostnames_trgm_idx ON asset_hosts USING gin (scantron_hostnames(hostnames) gin_trgm_ops);

-- port: within one run.
CREATE INDEX ports_run_id_port_idx ON ports (run_id, port, protocol);

-- changed: finds an address's changes across runs.
CREATE INDEX diff_changes_address_idx ON diff_changes (address, protocol, port);
