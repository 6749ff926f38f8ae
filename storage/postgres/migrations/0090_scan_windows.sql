-- A scan may carry windows of local time in which its shards may run
-- ("mon-fri 22:00-06:00", in the scan's time_zone; none: any time), kept
-- in their text form. A run outside its windows is paused and shows until
-- when it waits: window_opens_at, cleared when it runs again or ends.
ALTER TABLE scans
    ADD COLUMN windows text[] NOT NULL DEFAULT '{}';
ALTER TABLE runs
    ADD COLUMN window_opens_at timestamptz;
