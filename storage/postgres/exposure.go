package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan"
)

// ExposureSeries returns the newest limit completed runs, of every scan or
// of siteID's scans, oldest first.
func (s *Store) ExposureSeries(ctx context.Context, siteID int64, limit int) ([]scan.RunExposure, error) {
	var out []scan.RunExposure
	snapshot := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := s.inTx(ctx, snapshot, func(tx pgx.Tx) error {
		// Two shapes, so that each reads its own index: the newest
		// completed runs overall, or per scan of the site.
		q := `SELECT r.id, r.scan_id, r.finished_at, r.hosts_up, r.open_ports FROM runs r
WHERE r.status = 'completed' AND r.finished_at IS NOT NULL AND $1::bigint = 0
ORDER BY r.finished_at DESC, r.id DESC LIMIT $2`
		if siteID != 0 {
			q = `SELECT r.id, r.scan_id, r.finished_at, r.hosts_up, r.open_ports FROM scans sc
CROSS JOIN LATERAL (SELECT * FROM runs r WHERE r.scan_id = sc.id AND r.status = 'completed' AND r.finished_at IS NOT NULL
    ORDER BY r.finished_at DESC, r.id DESC LIMIT $2) r
WHERE sc.site_id = $1
ORDER BY r.finished_at DESC, r.id DESC LIMIT $2`
		}
		q = `WITH w AS (` + q + `)
SELECT w.id, w.scan_id, w.finished_at, w.hosts_up, w.open_ports, coalesce(d.new_hosts, 0), coalesce(d.gone_hosts, 0),
    coalesce(d.opened_ports, 0), coalesce(d.closed_ports, 0)
FROM w LEFT JOIN run_diffs d ON d.run_id = w.id ORDER BY w.finished_at, w.id`
		rows, err := tx.Query(ctx, q, siteID, limitArg(limit))
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (scan.RunExposure, error) {
			e := scan.RunExposure{Services: map[string]int{}}
			err := r.Scan(&e.RunID, &e.ScanID, &e.FinishedAt, &e.HostsUp, &e.OpenPorts, &e.NewHosts, &e.GoneHosts,
				&e.OpenedPorts, &e.ClosedPorts)
			return e, err
		})
		if err != nil || len(out) == 0 {
			return err
		}
		ids := make([]int64, len(out))
		index := make(map[int64]*scan.RunExposure, len(out))
		for i := range out {
			ids[i], index[out[i].RunID] = out[i].RunID, &out[i]
		}
		srows, err := tx.Query(ctx, `SELECT run_id, service, count(*) FROM ports
WHERE run_id = ANY($1) AND state = 'open' GROUP BY run_id, service`, ids)
		if err != nil {
			return fmt.Errorf("services: %w", err)
		}
		var (
			id  int64
			svc string
			n   int
		)
		_, err = pgx.ForEachRow(srows, []any{&id, &svc, &n}, func() error {
			index[id].Services[svc] += n
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("exposure series: %w", err)
	}
	return out, nil
}
