package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan"
)

// ListExpiredRuns returns up to limit runs that have ended (completed,
// failed or cancelled) and were created before createdBefore, oldest first.
// Runs still in progress are never returned, however old.
func (s *Store) ListExpiredRuns(ctx context.Context, createdBefore time.Time, limit int) ([]scan.Run, error) {
	const q = `SELECT ` + runCols + ` FROM runs
WHERE status IN ('completed', 'failed', 'cancelled') AND created_at < $1
ORDER BY created_at, id LIMIT $2`
	rows, err := s.pool.Query(ctx, q, createdBefore, limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("list expired runs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (scan.Run, error) { return scanRun(r) })
	if err != nil {
		return nil, fmt.Errorf("list expired runs: %w", err)
	}
	return out, nil
}
