package postgres

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan"
)

// HostHistory is an address's history on every site (or siteID's), from
// the newest maxRuns completed runs that reported the address or whose
// diff recorded a change of it (ErrNotFound when there are none). The
// events are scan.BuildHistory's over those runs' host and port rows and
// the closes and gone hosts of their diffs.
func (s *Store) HostHistory(ctx context.Context, addr netip.Addr, siteID int64, maxRuns int) (scan.HostHistory, error) {
	out := scan.HostHistory{Address: addr.String(), Events: []scan.HistoryEvent{}}
	var runs []scan.HistoryRun
	snapshot := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := s.inTx(ctx, snapshot, func(tx pgx.Tx) error {
		// The runs, newest first, each with the agents of its shards (the
		// host row's own shard names its agent below).
		const rq = `WITH seen AS (
    SELECT run_id FROM hosts WHERE address = $1
    UNION
    SELECT run_id FROM diff_changes WHERE address = $1
)
SELECT r.id, coalesce(r.started_at, r.created_at), sc.id, sc.name, st.id, st.name,
    coalesce((SELECT string_agg(DISTINCT ag.name, ', ') FROM shards sh JOIN agents ag ON ag.id = sh.agent_id WHERE sh.run_id = r.id), '')
FROM seen JOIN runs r ON r.id = seen.run_id JOIN scans sc ON sc.id = r.scan_id JOIN sites st ON st.id = sc.site_id
WHERE r.status = 'completed' AND ($2::bigint = 0 OR st.id = $2)
ORDER BY 2 DESC, 1 DESC LIMIT $3`
		rows, err := tx.Query(ctx, rq, addr, siteID, maxRuns+1)
		if err != nil {
			return fmt.Errorf("runs: %w", err)
		}
		runs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (scan.HistoryRun, error) {
			var h scan.HistoryRun
			err := r.Scan(&h.RunID, &h.At, &h.ScanID, &h.Scan, &h.SiteID, &h.Site, &h.Agent)
			return h, err
		})
		if err != nil {
			return fmt.Errorf("runs: %w", err)
		}
		if len(runs) == 0 {
			return fmt.Errorf("%w: no completed run saw %s", ErrNotFound, addr)
		}
		if len(runs) > maxRuns {
			runs, out.Partial = runs[:maxRuns], true
		}
		out.Runs = len(runs)
		ids := make([]int64, len(runs))
		index := make(map[int64]*scan.HistoryRun, len(runs))
		for i := range runs {
			ids[i] = runs[i].RunID
			index[runs[i].RunID] = &runs[i]
		}
		const hq = `SELECT h.run_id, h.status = 'up', coalesce(ag.name, ''), p.protocol, p.port, coalesce(p.state, ''),
    coalesce(p.service, ''), coalesce(p.product, ''), coalesce(p.version, '')
FROM hosts h LEFT JOIN shards sh ON sh.id = h.shard_id LEFT JOIN agents ag ON ag.id = sh.agent_id
LEFT JOIN ports p ON p.host_id = h.id
WHERE h.run_id = ANY($2) AND h.address = $1
ORDER BY h.run_id, h.id, p.protocol, p.port`
		hrows, err := tx.Query(ctx, hq, addr, ids)
		if err != nil {
			return fmt.Errorf("hosts: %w", err)
		}
		var (
			runID int64
			up    bool
			agent string
			proto *string
			port  *int32
			p     scan.HistoryPort
		)
		_, err = pgx.ForEachRow(hrows, []any{&runID, &up, &agent, &proto, &port, &p.State, &p.Service, &p.Product, &p.Version}, func() error {
			r := index[runID]
			r.Listed, r.Up = true, r.Up || up
			if agent != "" {
				r.Agent = agent
			}
			if proto != nil && port != nil {
				p.Protocol, p.Port = *proto, int(*port)
				r.Ports = append(r.Ports, p)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("hosts: %w", err)
		}
		const dq = `SELECT run_id, kind, protocol, coalesce(port, 0) FROM diff_changes
WHERE address = $1 AND run_id = ANY($2) AND kind IN ('closed_port', 'gone_host')`
		drows, err := tx.Query(ctx, dq, addr, ids)
		if err != nil {
			return fmt.Errorf("diff changes: %w", err)
		}
		var kind string
		var dproto string
		var dport int32
		_, err = pgx.ForEachRow(drows, []any{&runID, &kind, &dproto, &dport}, func() error {
			r := index[runID]
			if kind == string(scan.GoneHost) {
				r.Gone = true
			} else {
				r.Closed = append(r.Closed, scan.HistoryPort{Protocol: dproto, Port: int(dport)})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("diff changes: %w", err)
		}
		return nil
	})
	if err != nil {
		return scan.HostHistory{}, fmt.Errorf("history of %s: %w", addr, err)
	}
	if ev := scan.BuildHistory(runs); ev != nil {
		out.Events = ev
	}
	return out, nil
}
