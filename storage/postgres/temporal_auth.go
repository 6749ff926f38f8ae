package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan"
)

// TemporalTokenKeys returns the keys for Temporal tokens still published at
// now, oldest first.
func (s *Store) TemporalTokenKeys(ctx context.Context, now time.Time) ([]scan.TokenKey, error) {
	rows, err := s.pool.Query(ctx, `
SELECT id, private_key, use_from, use_until, publish_until FROM temporal_token_keys
WHERE publish_until > $1 ORDER BY use_from, id`, now)
	if err != nil {
		return nil, fmt.Errorf("list temporal token keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (scan.TokenKey, error) {
		var k scan.TokenKey
		err := row.Scan(&k.ID, &k.PrivateKey, &k.UseFrom, &k.UseUntil, &k.PublishUntil)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("list temporal token keys: %w", err)
	}
	return keys, nil
}

// AddTemporalTokenKey stores a new key and deletes those no longer
// published at now.
func (s *Store) AddTemporalTokenKey(ctx context.Context, k scan.TokenKey, now time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM temporal_token_keys WHERE publish_until <= $1`, now); err != nil {
			return fmt.Errorf("prune temporal token keys: %w", err)
		}
		_, err := tx.Exec(ctx, `
INSERT INTO temporal_token_keys (id, private_key, use_from, use_until, publish_until) VALUES ($1, $2, $3, $4, $5)`,
			k.ID, k.PrivateKey, k.UseFrom, k.UseUntil, k.PublishUntil)
		if err != nil {
			return mapWrite("add temporal token key", err, fmt.Sprintf("key %q exists", k.ID))
		}
		return nil
	})
}

// AgentPools returns the pools the agent belongs to, by name.
func (s *Store) AgentPools(ctx context.Context, agentID int64) ([]scan.Pool, error) {
	rows, err := s.pool.Query(ctx, `
SELECT p.id, p.name, p.description, p.task_queue, p.created_at
FROM pools p JOIN agent_pools ap ON ap.pool_id = p.id
WHERE ap.agent_id = $1 ORDER BY p.name`, agentID)
	if err != nil {
		return nil, fmt.Errorf("list agent pools: %w", err)
	}
	pools, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (scan.Pool, error) { return scanPool(row) })
	if err != nil {
		return nil, fmt.Errorf("list agent pools: %w", err)
	}
	return pools, nil
}

// SetAgentPools makes the named pools exactly the agent's pools. It fails
// with ErrNotFound, naming it, if a pool does not exist.
func (s *Store) SetAgentPools(ctx context.Context, agentID int64, pools []string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := getAgent(ctx, tx, agentID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM agent_pools WHERE agent_id = $1`, agentID); err != nil {
			return fmt.Errorf("set agent pools: %w", err)
		}
		for _, name := range pools {
			tag, err := tx.Exec(ctx, `
INSERT INTO agent_pools (agent_id, pool_id) SELECT $1, id FROM pools WHERE name = $2 ON CONFLICT DO NOTHING`, agentID, name)
			if err != nil {
				return fmt.Errorf("set agent pools: %w", err)
			}
			if tag.RowsAffected() == 0 {
				var exists bool
				if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pools WHERE name = $1)`, name).Scan(&exists); err != nil {
					return fmt.Errorf("set agent pools: %w", err)
				}
				if !exists {
					return fmt.Errorf("pool %q: %w", name, ErrNotFound)
				}
			}
		}
		return nil
	})
}
