package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan"
)

const exclusionCols = `id, target, note, created_at`

func scanExclusion(row pgx.Row) (scan.Exclusion, error) {
	var e scan.Exclusion
	err := row.Scan(&e.ID, &e.Target, &e.Note, &e.CreatedAt)
	return e, err
}

// CreateExclusion adds a global exclusion.
func (s *Store) CreateExclusion(ctx context.Context, e scan.Exclusion) (scan.Exclusion, error) {
	const q = `INSERT INTO global_exclusions (target, note) VALUES ($1, $2) RETURNING ` + exclusionCols
	out, err := scanExclusion(s.pool.QueryRow(ctx, q, e.Target, e.Note))
	if err != nil {
		return scan.Exclusion{}, mapWrite("create exclusion", err, "exclusion exists")
	}
	return out, nil
}

// ListExclusions returns the global exclusions in the order they were added.
func (s *Store) ListExclusions(ctx context.Context) ([]scan.Exclusion, error) {
	return listExclusions(ctx, s.pool)
}

func listExclusions(ctx context.Context, q querier) ([]scan.Exclusion, error) {
	rows, err := q.Query(ctx, `SELECT `+exclusionCols+` FROM global_exclusions ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list exclusions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (scan.Exclusion, error) { return scanExclusion(r) })
	if err != nil {
		return nil, fmt.Errorf("list exclusions: %w", err)
	}
	return out, nil
}

// DeleteExclusion removes a global exclusion.
func (s *Store) DeleteExclusion(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM global_exclusions WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete exclusion: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete exclusion: %w: exclusion %d", ErrNotFound, id)
	}
	return nil
}
