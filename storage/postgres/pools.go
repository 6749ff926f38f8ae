package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan"
)

const poolCols = `id, name, description, task_queue, created_at`

func scanPool(row pgx.Row) (scan.Pool, error) {
	var p scan.Pool
	err := row.Scan(&p.ID, &p.Name, &p.Description, &p.TaskQueue, &p.CreatedAt)
	return p, err
}

// CreatePool registers a pool. The caller chooses its task queue
// (workflows.PoolTaskQueue); names and task queues are unique.
func (s *Store) CreatePool(ctx context.Context, p scan.Pool) (scan.Pool, error) {
	const q = `INSERT INTO pools (name, description, task_queue) VALUES ($1, $2, $3) RETURNING ` + poolCols
	out, err := scanPool(s.pool.QueryRow(ctx, q, p.Name, p.Description, p.TaskQueue))
	if err != nil {
		conflict := fmt.Sprintf("a pool named %q already exists", p.Name)
		if pe := pgError(err); pe != nil && pe.ConstraintName == "pools_task_queue_key" {
			conflict = fmt.Sprintf("task queue %q is already used by another pool", p.TaskQueue)
		}
		return scan.Pool{}, mapWrite("create pool", err, conflict)
	}
	return out, nil
}

// GetPool returns one pool.
func (s *Store) GetPool(ctx context.Context, id int64) (scan.Pool, error) {
	return getPool(ctx, s.pool, id)
}

func getPool(ctx context.Context, q querier, id int64) (scan.Pool, error) {
	p, err := scanPool(q.QueryRow(ctx, `SELECT `+poolCols+` FROM pools WHERE id = $1`, id))
	if err != nil {
		return scan.Pool{}, mapRead("get pool", err, fmt.Sprintf("pool %d", id))
	}
	return p, nil
}

// ListPools returns all pools by name.
func (s *Store) ListPools(ctx context.Context) ([]scan.Pool, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+poolCols+` FROM pools ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("list pools: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (scan.Pool, error) { return scanPool(r) })
	if err != nil {
		return nil, fmt.Errorf("list pools: %w", err)
	}
	return out, nil
}

// DeletePool deletes a pool. It fails with ErrInUse while a scan uses it.
func (s *Store) DeletePool(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM pools WHERE id = $1`, id)
	if err != nil {
		return mapDelete("delete pool", err, fmt.Sprintf("pool %d is used by a scan", id))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete pool: %w: pool %d", ErrNotFound, id)
	}
	return nil
}
