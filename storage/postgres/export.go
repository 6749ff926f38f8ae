package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan"
)

// ExportRows streams a run's results to fn, one row per port in any state,
// with the run's scan, site, agent and scanner,
// ordered by address, protocol and port. A host without ports gives one row
// with Port 0 and the port fields empty. Hostname is the host's first name.
//
// ScanStart is when the run started (or was created, if it never ran).
// ScanEnd is when it finished; the CSV is usually written before the run is
// completed, so until then it is the latest finish of the run's shards, or
// the time of the export. Times are UTC.
//
// Rows are read one at a time from the database, in one read-only snapshot;
// an error from fn stops the export and is returned wrapped. A missing run is
// ErrNotFound.
func (s *Store) ExportRows(ctx context.Context, runID int64, fn func(scan.ExportRow) error) error {
	snapshot := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	return s.inTx(ctx, snapshot, func(tx pgx.Tx) error {
		base, err := exportRun(ctx, tx, runID)
		if err != nil {
			return err
		}
		return exportRows(ctx, tx, runID, base, fn)
	})
}

// exportRun reads what every export row of a run repeats: its scan, site,
// agent, scanner and times.
func exportRun(ctx context.Context, tx pgx.Tx, runID int64) (scan.ExportRow, error) {
	const q = `
SELECT s.name, si.name, COALESCE(r.started_at, r.created_at),
       COALESCE(r.finished_at, (SELECT max(finished_at) FROM shards WHERE run_id = r.id), now()),
       COALESCE(a.name, 'pool ' || po.name, ''), COALESCE(pr.scanner, s.imports)
FROM runs r
JOIN scans s ON s.id = r.scan_id
JOIN sites si ON si.id = s.site_id
LEFT JOIN agents a ON a.id = s.agent_id
LEFT JOIN pools po ON po.id = s.pool_id
LEFT JOIN profiles pr ON pr.id = s.profile_id
WHERE r.id = $1`
	var (
		run        scan.ExportRow
		start, end time.Time
	)
	err := tx.QueryRow(ctx, q, runID).Scan(&run.Scan, &run.Site, &start, &end, &run.Agent, &run.Scanner)
	if err != nil {
		return scan.ExportRow{}, mapRead("export run", err, fmt.Sprintf("run %d", runID))
	}
	run.ScanStart, run.ScanEnd = start.UTC(), end.UTC()
	return run, nil
}

func exportRows(ctx context.Context, tx pgx.Tx, runID int64, base scan.ExportRow, fn func(scan.ExportRow) error) error {
	const q = `
SELECT host(h.address), COALESCE(h.hostnames[1], ''),
       COALESCE(p.port, 0), COALESCE(p.protocol, ''), COALESCE(p.state, ''),
       COALESCE(p.service, ''), COALESCE(p.product, ''), COALESCE(p.version, ''),
       COALESCE(p.extra_info, ''), COALESCE(p.reason, ''), COALESCE(p.banner, ''),
       COALESCE(sh.ran_by, '')
FROM hosts h
LEFT JOIN shards sh ON sh.id = h.shard_id
LEFT JOIN ports p ON p.host_id = h.id
WHERE h.run_id = $1
ORDER BY h.address, p.protocol NULLS FIRST, p.port NULLS FIRST, h.id, p.id`
	rows, err := tx.Query(ctx, q, runID)
	if err != nil {
		return fmt.Errorf("export run %d: %w", runID, err)
	}
	defer rows.Close()
	for rows.Next() {
		row := base
		var ranBy string
		if err := rows.Scan(&row.Host, &row.Hostname, &row.Port, &row.Protocol, &row.State,
			&row.Service, &row.Product, &row.Version, &row.ExtraInfo, &row.Reason, &row.Banner, &ranBy); err != nil {
			return fmt.Errorf("export run %d: %w", runID, err)
		}
		if ranBy != "" {
			row.Agent = ranBy // the agent that scanned this host (pool runs have several)
		}
		if err := fn(row); err != nil {
			return fmt.Errorf("export run %d: %w", runID, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("export run %d: %w", runID, err)
	}
	return nil
}

// exportHostsPage is how many hosts ExportHosts reads (with their ports) at
// a time.
const exportHostsPage = 500

// ExportHosts streams a run's hosts, each with its ports, to fn, ordered by
// address, in one read-only snapshot and pages of bounded size. run carries
// the run's scan and site names and times as ExportRows gives them, with the
// port fields empty. A missing run is ErrNotFound; an error from fn stops
// the export and is returned wrapped.
func (s *Store) ExportHosts(ctx context.Context, runID int64, fn func(run scan.ExportRow, h scan.HostRow) error) error {
	snapshot := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	return s.inTx(ctx, snapshot, func(tx pgx.Tx) error {
		run, err := exportRun(ctx, tx, runID)
		if err != nil {
			return err
		}
		// Keyset paging: each page starts after the last (address, id).
		const page = `SELECT ` + hostCols + ` FROM hosts h
WHERE h.run_id = $1 AND ($2::bigint IS NULL OR (h.address, h.id) > ($3::inet, $2::bigint))
ORDER BY h.address, h.id LIMIT $4`
		var (
			lastID   *int64
			lastAddr *string
		)
		for {
			rows, err := tx.Query(ctx, page, runID, lastID, lastAddr, exportHostsPage)
			if err != nil {
				return fmt.Errorf("export run %d: %w", runID, err)
			}
			hosts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (scan.HostRow, error) { return scanHost(r) })
			if err != nil {
				return fmt.Errorf("export run %d: %w", runID, err)
			}
			if len(hosts) == 0 {
				return nil
			}
			if err := attachPorts(ctx, tx, hosts); err != nil {
				return fmt.Errorf("export run %d: %w", runID, err)
			}
			for _, h := range hosts {
				if h.Ports == nil {
					h.Ports = []scan.PortRow{}
				}
				if err := fn(run, h); err != nil {
					return fmt.Errorf("export run %d: %w", runID, err)
				}
			}
			last := hosts[len(hosts)-1]
			lastID, lastAddr = &last.ID, &last.Address
		}
	})
}
