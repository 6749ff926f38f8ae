package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan"
)

const scanCols = `id, name, site_id, COALESCE(profile_id, 0), COALESCE(agent_id, 0), COALESCE(pool_id, 0), COALESCE(shard_size, 0),
start_at, time_zone, rrule, enabled, created_at, overlap, catchup_window_seconds, pause_note, COALESCE(imports, ''), windows`

func scanScan(row pgx.Row) (scan.Scan, error) {
	var s scan.Scan
	var shardSize int64
	var windows []string
	err := row.Scan(&s.ID, &s.Name, &s.SiteID, &s.ProfileID, &s.AgentID, &s.PoolID, &shardSize, &s.StartAt,
		&s.TimeZone, &s.RRule, &s.Enabled, &s.CreatedAt, &s.Overlap, &s.CatchupWindowSeconds, &s.PauseNote, &s.Imports, &windows)
	if err != nil {
		return s, err
	}
	s.ShardSize = uint64(shardSize)
	if s.Windows, err = scan.ParseWindows(windows); err != nil {
		return s, fmt.Errorf("scan %d: stored windows: %w", s.ID, err)
	}
	return s, nil
}

// windowsArg stores windows in their text form, none as an empty array.
func windowsArg(ws scan.Windows) []string {
	return ws.Strings()
}

// shardSizeArg stores 0 (the server's setting) as NULL.
func shardSizeArg(n uint64) *int64 {
	if n == 0 {
		return nil
	}
	v := int64(min(n, 1<<62))
	return &v
}

func scanTaken(name string) string {
	return fmt.Sprintf("a scan named %q already exists", name)
}

// timeZone stores an empty time zone as UTC.
func timeZone(tz string) string {
	if tz == "" {
		return "UTC"
	}
	return tz
}

// overlap stores an empty overlap policy as skip.
func overlap(o string) string {
	if o == "" {
		return "skip"
	}
	return o
}

// CreateScan inserts a scan. A missing site, profile, agent or pool is
// ErrNotFound; a scan with both or neither of an agent and a pool is
// ErrInvalid; an empty time zone is stored as UTC.
func (s *Store) CreateScan(ctx context.Context, sc scan.Scan) (scan.Scan, error) {
	const q = `
INSERT INTO scans (name, site_id, profile_id, agent_id, start_at, time_zone, rrule, enabled,
                   overlap, catchup_window_seconds, pause_note, pool_id, shard_size, windows)
VALUES ($1, $2, $3, NULLIF($4, 0::bigint), $5, $6, $7, $8, $9, $10, $11, NULLIF($12, 0::bigint), $13, $14)
RETURNING ` + scanCols
	out, err := scanScan(s.pool.QueryRow(ctx, q, sc.Name, sc.SiteID, sc.ProfileID, sc.AgentID,
		sc.StartAt, timeZone(sc.TimeZone), sc.RRule, sc.Enabled, overlap(sc.Overlap), sc.CatchupWindowSeconds, sc.PauseNote,
		sc.PoolID, shardSizeArg(sc.ShardSize), windowsArg(sc.Windows)))
	if err != nil {
		return scan.Scan{}, mapWrite("create scan", err, scanTaken(sc.Name))
	}
	return out, nil
}

// GetScan returns one scan.
func (s *Store) GetScan(ctx context.Context, id int64) (scan.Scan, error) {
	return getScan(ctx, s.pool, id)
}

func getScan(ctx context.Context, q querier, id int64) (scan.Scan, error) {
	sc, err := scanScan(q.QueryRow(ctx, `SELECT `+scanCols+` FROM scans WHERE id = $1`, id))
	if err != nil {
		return scan.Scan{}, mapRead("get scan", err, fmt.Sprintf("scan %d", id))
	}
	return sc, nil
}

// ListScans returns all scans by name.
func (s *Store) ListScans(ctx context.Context) ([]scan.Scan, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+scanCols+` FROM scans ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("list scans: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (scan.Scan, error) { return scanScan(r) })
	if err != nil {
		return nil, fmt.Errorf("list scans: %w", err)
	}
	return out, nil
}

// ScanFilter selects a page of scans for SearchScans.
type ScanFilter = scan.ScanFilter

// SearchScans returns a page of the scans f selects, by name, and how many
// it selects in all.
func (s *Store) SearchScans(ctx context.Context, f ScanFilter) ([]scan.Scan, int, error) {
	const where = ` FROM scans WHERE ($1 = '' OR name ILIKE $1 ESCAPE '\')`
	pattern := containsPattern(f.Name)
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*)`+where, pattern).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count scans: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+scanCols+where+` ORDER BY name, id LIMIT $2 OFFSET $3`,
		pattern, limitArg(f.Limit), offsetArg(f.Offset))
	if err != nil {
		return nil, 0, fmt.Errorf("search scans: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (scan.Scan, error) { return scanScan(r) })
	if err != nil {
		return nil, 0, fmt.Errorf("search scans: %w", err)
	}
	return out, total, nil
}

// ScanNames returns the names of the scans ids name, by id; ids of scans
// that do not exist are left out.
func (s *Store) ScanNames(ctx context.Context, ids []int64) (map[int64]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name FROM scans WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("scan names: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]string, len(ids))
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("scan names: %w", err)
		}
		out[id] = name
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scan names: %w", err)
	}
	return out, nil
}

// UpdateScan replaces a scan's fields and returns it as stored.
func (s *Store) UpdateScan(ctx context.Context, sc scan.Scan) (scan.Scan, error) {
	const q = `
UPDATE scans SET name = $2, site_id = $3, profile_id = $4, agent_id = NULLIF($5, 0::bigint), start_at = $6,
                 time_zone = $7, rrule = $8, enabled = $9, overlap = $10, catchup_window_seconds = $11,
                 pause_note = $12, pool_id = NULLIF($13, 0::bigint), shard_size = $14, windows = $15
WHERE id = $1
RETURNING ` + scanCols
	out, err := scanScan(s.pool.QueryRow(ctx, q, sc.ID, sc.Name, sc.SiteID, sc.ProfileID, sc.AgentID,
		sc.StartAt, timeZone(sc.TimeZone), sc.RRule, sc.Enabled, overlap(sc.Overlap), sc.CatchupWindowSeconds, sc.PauseNote,
		sc.PoolID, shardSizeArg(sc.ShardSize), windowsArg(sc.Windows)))
	if isNoRows(err) {
		return scan.Scan{}, mapRead("update scan", err, fmt.Sprintf("scan %d", sc.ID))
	}
	if err != nil {
		return scan.Scan{}, mapWrite("update scan", err, scanTaken(sc.Name))
	}
	return out, nil
}

// DeleteScan deletes a scan. It fails with ErrInUse while the scan has runs:
// delete them first (DeleteRun) if their results may go.
func (s *Store) DeleteScan(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM scans WHERE id = $1`, id)
	if err != nil {
		return mapDelete("delete scan", err, fmt.Sprintf("scan %d has runs", id))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete scan: %w: scan %d", ErrNotFound, id)
	}
	return nil
}
