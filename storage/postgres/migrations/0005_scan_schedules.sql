-- Scans fire from a Temporal Schedule built from start_at, time_zone and
-- rrule. Each scan chooses what a fire does while its previous run is still
-- going, and how late a missed fire may start after an outage (0: the
-- server's default). pause_note keeps who paused or resumed it, and why.
ALTER TABLE scans
    ADD COLUMN overlap text NOT NULL DEFAULT 'skip',
    ADD COLUMN catchup_window_seconds bigint NOT NULL DEFAULT 0,
    ADD COLUMN pause_note text NOT NULL DEFAULT '',
    ADD CONSTRAINT scans_overlap_check CHECK (overlap IN
        ('skip', 'buffer_one', 'buffer_all', 'allow_all', 'cancel_other', 'terminate_other')),
    ADD CONSTRAINT scans_catchup_window_check CHECK (catchup_window_seconds >= 0);
