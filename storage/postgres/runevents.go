package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan"
)

// runEventsChannel is the channel the triggers of migration 0120 announce
// runs' and shards' changes on.
const runEventsChannel = "scantron_runs"

// RunEventsApplication is the application_name of the connections that
// listen for run events, as pg_stat_activity shows them.
const RunEventsApplication = "scantron-run-events"

// RunEvent is scan.RunEvent, named here for the store's callers.
type RunEvent = scan.RunEvent

// ListenRunEvents listens for run events until ctx is done, calling fn
// with each in the order they were committed. It holds one connection of
// its own (outside the pool) while it runs, and calls ready with that
// connection's backend process ID once it listens: changes committed after
// ready are all delivered. It returns nil when ctx ends and the error
// otherwise (the connection was lost); missed events are then the
// caller's to make up for by reading state again.
func (s *Store) ListenRunEvents(ctx context.Context, ready func(backendPID uint32), fn func(RunEvent)) error {
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = RunEventsApplication
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("listen for run events: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+runEventsChannel); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("listen for run events: %w", err)
	}
	ready(conn.PgConn().PID())
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("listen for run events: %w", err)
		}
		var ev RunEvent
		if err := json.Unmarshal([]byte(n.Payload), &ev); err != nil || ev.RunID == 0 {
			continue // not ours: someone else NOTIFYing on the channel
		}
		fn(ev)
	}
}

const runStateCols = `id, scan_id, event_seq, status, hosts_up, open_ports, partial, window_opens_at, error`

func scanRunState(row pgx.Row) (RunEvent, error) {
	ev := RunEvent{Kind: "run"}
	err := row.Scan(&ev.RunID, &ev.ScanID, &ev.Seq, &ev.Status, &ev.HostsUp, &ev.OpenPorts, &ev.Partial, &ev.WindowOpensAt, &ev.Error)
	return ev, err
}

// RunState is a run's current state as a "run" event, with the sequence
// number of the last change announced: events with a Seq up to it are
// already in it.
func (s *Store) RunState(ctx context.Context, runID int64) (RunEvent, error) {
	ev, err := scanRunState(s.pool.QueryRow(ctx, `SELECT `+runStateCols+` FROM runs WHERE id = $1`, runID))
	if err != nil {
		return RunEvent{}, mapRead("run state", err, fmt.Sprintf("run %d", runID))
	}
	return ev, nil
}

// RecentRunStates is the state of the limit newest runs, newest first, as
// RunState has each.
func (s *Store) RecentRunStates(ctx context.Context, limit int) ([]RunEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+runStateCols+` FROM runs ORDER BY created_at DESC, id DESC LIMIT $1`, limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("recent run states: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RunEvent, error) { return scanRunState(r) })
	if err != nil {
		return nil, fmt.Errorf("recent run states: %w", err)
	}
	return out, nil
}
