-- Which attempt of a shard its stored hosts and ports came from, so that a
-- late ingest of an older attempt cannot replace a newer attempt's rows.
ALTER TABLE shards ADD COLUMN results_attempt integer CHECK (results_attempt >= 0);

-- OS matches (best first) and host scripts, as [{"name","accuracy"}] and
-- [{"id","output"}]: read with their host, never queried inside.
ALTER TABLE hosts
    ADD COLUMN os      jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN scripts jsonb NOT NULL DEFAULT '[]',
    -- nmap's <times>, in microseconds; 0 when not reported.
    ADD COLUMN srtt        integer NOT NULL DEFAULT 0,
    ADD COLUMN rttvar      integer NOT NULL DEFAULT 0,
    ADD COLUMN rtt_timeout integer NOT NULL DEFAULT 0;

ALTER TABLE ports
    ADD COLUMN tunnel  text    NOT NULL DEFAULT '',
    ADD COLUMN method  text    NOT NULL DEFAULT '',
    ADD COLUMN conf    integer NOT NULL DEFAULT 0,
    ADD COLUMN banner  text    NOT NULL DEFAULT '',
    ADD COLUMN scripts jsonb   NOT NULL DEFAULT '[]';

-- Retention finds old finished runs by when they were created.
CREATE INDEX runs_finished_created_idx ON runs (created_at) WHERE status IN ('completed', 'failed', 'cancelled');
