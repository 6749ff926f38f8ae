package postgres

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan"
)

// PreviousCompletedRun returns the completed run of the same scan created
// last before run; found is false when run is the first.
func (s *Store) PreviousCompletedRun(ctx context.Context, run scan.Run) (prev scan.Run, found bool, err error) {
	const q = `SELECT ` + runCols + ` FROM runs
WHERE scan_id = $1 AND status = 'completed' AND (created_at, id) < ($2, $3)
ORDER BY created_at DESC, id DESC LIMIT 1`
	prev, err = scanRun(s.pool.QueryRow(ctx, q, run.ScanID, run.CreatedAt, run.ID))
	if isNoRows(err) {
		return scan.Run{}, false, nil
	}
	if err != nil {
		return scan.Run{}, false, fmt.Errorf("previous completed run: %w", err)
	}
	return prev, true, nil
}

// NextCompletedRun returns the completed run of the same scan created
// first after run; found is false when run is the last.
func (s *Store) NextCompletedRun(ctx context.Context, run scan.Run) (next scan.Run, found bool, err error) {
	const q = `SELECT ` + runCols + ` FROM runs
WHERE scan_id = $1 AND status = 'completed' AND (created_at, id) > ($2, $3)
ORDER BY created_at, id LIMIT 1`
	next, err = scanRun(s.pool.QueryRow(ctx, q, run.ScanID, run.CreatedAt, run.ID))
	if isNoRows(err) {
		return scan.Run{}, false, nil
	}
	if err != nil {
		return scan.Run{}, false, fmt.Errorf("next completed run: %w", err)
	}
	return next, true, nil
}

// RunHosts returns every host of a run with every port.
func (s *Store) RunHosts(ctx context.Context, runID int64) ([]scan.HostRow, error) {
	return s.ListHosts(ctx, runID, HostFilter{WithPorts: true})
}

// DiffHosts returns every host of a run with every port, as RunHosts does,
// but only the fields a diff and the merge into the assets read: the
// host's id, address, status and names, and each port's protocol, number,
// state, service, product and version. Hosts are ordered by address, ports
// are in no order. A large run is two plain scans, without the scripts and
// other detail that make up most of its bytes.
func (s *Store) DiffHosts(ctx context.Context, runID int64) ([]scan.HostRow, error) {
	var hosts []scan.HostRow
	snapshot := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := s.inTx(ctx, snapshot, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, host(address), status, hostnames FROM hosts WHERE run_id = $1 ORDER BY address, id`, runID)
		if err != nil {
			return err
		}
		var h scan.HostRow
		_, err = pgx.ForEachRow(rows, []any{&h.ID, &h.Address, &h.Status, &h.Hostnames}, func() error {
			hosts = append(hosts, scan.HostRow{ID: h.ID, RunID: runID, Address: h.Address, Status: h.Status, Hostnames: strs(h.Hostnames)})
			h.Hostnames = nil
			return nil
		})
		if err != nil || len(hosts) == 0 {
			return err
		}
		byID := make(map[int64]*scan.HostRow, len(hosts))
		for i := range hosts {
			byID[hosts[i].ID] = &hosts[i]
		}
		rows, err = tx.Query(ctx, `SELECT host_id, protocol, port, state, service, product, version FROM ports WHERE run_id = $1`, runID)
		if err != nil {
			return fmt.Errorf("ports: %w", err)
		}
		var (
			hostID int64
			p      scan.PortRow
		)
		_, err = pgx.ForEachRow(rows, []any{&hostID, &p.Protocol, &p.Port, &p.State, &p.Service, &p.Product, &p.Version}, func() error {
			h := byID[hostID]
			if h == nil {
				return nil // a port of another run's host: never written so
			}
			p.HostID, p.Address = hostID, h.Address
			h.Ports = append(h.Ports, p)
			return nil
		})
		if err != nil {
			return fmt.Errorf("ports: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("diff hosts of run %d: %w", runID, err)
	}
	return hosts, nil
}

// SaveDiff stores the diff of a run, replacing any stored before, so that
// computing it again never duplicates changes.
func (s *Store) SaveDiff(ctx context.Context, d scan.Diff) (scan.DiffSummary, error) {
	counts := scan.Count(d.Changes)
	var out scan.DiffSummary
	err := s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM run_diffs WHERE run_id = $1`, d.RunID); err != nil {
			return fmt.Errorf("delete old diff: %w", err)
		}
		const ins = `INSERT INTO run_diffs (run_id, scan_id, previous_run_id, new_hosts, gone_hosts, opened_ports, closed_ports, changed_services)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ` + diffCols
		row := tx.QueryRow(ctx, ins, d.RunID, d.ScanID, d.PreviousRunID, counts.NewHosts, counts.GoneHosts,
			counts.OpenedPorts, counts.ClosedPorts, counts.ChangedServices)
		var err error
		if out, err = scanDiff(row); err != nil {
			return mapWrite("insert diff", err, "")
		}
		rows := make([][]any, 0, len(d.Changes))
		for _, c := range d.Changes {
			addr, err := netip.ParseAddr(c.Address)
			if err != nil {
				return fmt.Errorf("%w: change of %q: not an IP address", ErrInvalid, c.Address)
			}
			var port *int
			if c.Protocol != "" {
				port = &c.Port
			}
			rows = append(rows, []any{d.RunID, string(c.Kind), addr, c.Protocol, port,
				c.Before.Service, c.Before.Product, c.Before.Version, c.After.Service, c.After.Product, c.After.Version})
		}
		cols := []string{"run_id", "kind", "address", "protocol", "port", "before_service", "before_product",
			"before_version", "after_service", "after_product", "after_version"}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"diff_changes"}, cols, pgx.CopyFromRows(rows)); err != nil {
			return mapWrite("copy changes", err, "")
		}
		return nil
	})
	if err != nil {
		return scan.DiffSummary{}, fmt.Errorf("save diff of run %d: %w", d.RunID, err)
	}
	return out, nil
}

const diffCols = `run_id, scan_id, previous_run_id, new_hosts, gone_hosts, opened_ports, closed_ports, changed_services, created_at`

func scanDiff(row pgx.Row) (scan.DiffSummary, error) {
	var d scan.DiffSummary
	c := &d.Counts
	err := row.Scan(&d.RunID, &d.ScanID, &d.PreviousRunID, &c.NewHosts, &c.GoneHosts, &c.OpenedPorts,
		&c.ClosedPorts, &c.ChangedServices, &d.CreatedAt)
	return d, err
}

// GetDiff returns the stored diff of a run with its changes, ordered by
// address, protocol and port. A run without one (not completed, or its diff
// not computed yet) is ErrNotFound.
func (s *Store) GetDiff(ctx context.Context, runID int64) (scan.Diff, error) {
	d, found, err := s.LookupDiff(ctx, runID)
	if err == nil && !found {
		err = fmt.Errorf("get diff: %w: diff of run %d", ErrNotFound, runID)
	}
	return d, err
}

// LookupDiff is GetDiff reporting a missing diff as found == false.
func (s *Store) LookupDiff(ctx context.Context, runID int64) (d scan.Diff, found bool, err error) {
	snapshot := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err = s.inTx(ctx, snapshot, func(tx pgx.Tx) error {
		sum, err := scanDiff(tx.QueryRow(ctx, `SELECT `+diffCols+` FROM run_diffs WHERE run_id = $1`, runID))
		if isNoRows(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get diff: %w", err)
		}
		found, d.DiffSummary = true, sum
		const q = `SELECT kind, host(address), protocol, coalesce(port, 0), before_service, before_product,
before_version, after_service, after_product, after_version
FROM diff_changes WHERE run_id = $1 ORDER BY address, protocol, port NULLS FIRST, id`
		rows, err := tx.Query(ctx, q, runID)
		if err != nil {
			return fmt.Errorf("list changes: %w", err)
		}
		d.Changes, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (scan.Change, error) {
			var c scan.Change
			err := r.Scan(&c.Kind, &c.Address, &c.Protocol, &c.Port, &c.Before.Service, &c.Before.Product,
				&c.Before.Version, &c.After.Service, &c.After.Product, &c.After.Version)
			return c, err
		})
		if err != nil {
			return fmt.Errorf("list changes: %w", err)
		}
		return nil
	})
	if err != nil || !found {
		return scan.Diff{}, false, err
	}
	if d.Changes == nil {
		d.Changes = []scan.Change{}
	}
	return d, true, nil
}

// ListDiffs returns the stored diffs of a scan's runs, newest run first.
func (s *Store) ListDiffs(ctx context.Context, scanID int64, limit, offset int) ([]scan.DiffSummary, error) {
	const q = `SELECT ` + diffCols + ` FROM run_diffs WHERE scan_id = $1 ORDER BY run_id DESC LIMIT $2 OFFSET $3`
	rows, err := s.pool.Query(ctx, q, scanID, limitArg(limit), offsetArg(offset))
	if err != nil {
		return nil, fmt.Errorf("list diffs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (scan.DiffSummary, error) { return scanDiff(r) })
	if err != nil {
		return nil, fmt.Errorf("list diffs: %w", err)
	}
	return out, nil
}

// CountDiffs returns how many diffs the runs of a scan have.
func (s *Store) CountDiffs(ctx context.Context, scanID int64) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM run_diffs WHERE scan_id = $1`, scanID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count diffs: %w", err)
	}
	return n, nil
}

// ListChangedDiffs returns the newest stored diffs, of any scan, that have
// at least one change: what changed lately, for the dashboard.
func (s *Store) ListChangedDiffs(ctx context.Context, limit int) ([]scan.DiffSummary, error) {
	const q = `SELECT ` + diffCols + ` FROM run_diffs
WHERE new_hosts + gone_hosts + opened_ports + closed_ports + changed_services > 0
ORDER BY run_id DESC LIMIT $1`
	rows, err := s.pool.Query(ctx, q, limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("list changed diffs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (scan.DiffSummary, error) { return scanDiff(r) })
	if err != nil {
		return nil, fmt.Errorf("list changed diffs: %w", err)
	}
	return out, nil
}
