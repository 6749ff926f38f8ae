-- Live run pages and `scantron run watch` follow runs by server push: every
-- change of a run's status or counts, and of a shard's status or attempt,
-- is announced on the channel scantron_runs (LISTEN/NOTIFY), so whichever
-- server process serves the stream hears what any process (or the
-- orchestrator) wrote, at commit. Triggers rather than calls in the store
-- methods: every writer of these columns is covered, including ones added
-- later.
--
-- event_seq numbers a run's announced changes, so that a stream which read
-- the run's state after it began listening drops the announcements that
-- state already holds.
ALTER TABLE runs ADD COLUMN event_seq bigint NOT NULL DEFAULT 0;

CREATE FUNCTION scantron_run_event() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.status = OLD.status AND NEW.error = OLD.error AND NEW.hosts_up = OLD.hosts_up
           AND NEW.open_ports = OLD.open_ports AND NEW.partial = OLD.partial
           AND NEW.window_opens_at IS NOT DISTINCT FROM OLD.window_opens_at THEN
            RETURN NEW;
        END IF;
        NEW.event_seq := OLD.event_seq + 1;
    END IF;
    -- A notification's payload is at most 8000 bytes: the error is cut to
    -- 1000 characters (4000 bytes at most); the stream reads it whole.
    PERFORM pg_notify('scantron_runs', json_build_object(
        'kind', 'run', 'run_id', NEW.id, 'scan_id', NEW.scan_id, 'seq', NEW.event_seq,
        'status', NEW.status, 'hosts_up', NEW.hosts_up, 'open_ports', NEW.open_ports,
        'partial', NEW.partial, 'window_opens_at', NEW.window_opens_at,
        'error', left(NEW.error, 1000))::text);
    RETURN NEW;
END
$$;

-- BEFORE, so that the row written carries the event_seq announced; a
-- notification is only delivered if the transaction commits.
CREATE TRIGGER runs_event BEFORE INSERT OR UPDATE ON runs
    FOR EACH ROW EXECUTE FUNCTION scantron_run_event();

CREATE FUNCTION scantron_shard_event() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status = OLD.status AND NEW.attempt = OLD.attempt THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify('scantron_runs', json_build_object(
        'kind', 'shard', 'run_id', NEW.run_id, 'index', NEW.idx, 'status', NEW.status,
        'attempt', NEW.attempt)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER shards_event AFTER INSERT OR UPDATE ON shards
    FOR EACH ROW EXECUTE FUNCTION scantron_shard_event();

-- A completed run's changes against the previous run are recorded after it
-- completes: a run page waits for them before it reloads to show them.
CREATE FUNCTION scantron_diff_event() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('scantron_runs', json_build_object('kind', 'changes', 'run_id', NEW.run_id)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER run_diffs_event AFTER INSERT ON run_diffs
    FOR EACH ROW EXECUTE FUNCTION scantron_diff_event();
