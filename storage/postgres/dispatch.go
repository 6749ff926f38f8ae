package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/scantron/scantron/scan"
)

// RecordDispatch makes d the shard's current dispatch, if the shard belongs
// to runID and the run has not ended (a cancelled or finished run is
// dispatched no more); ok says whether it did.
func (s *Store) RecordDispatch(ctx context.Context, runID, shardID int64, d scan.ShardDispatch) (ok bool, err error) {
	const q = `
UPDATE shards sh SET dispatch_attempt = $3, dispatch_nonce = $4, dispatch_task_queue = $5,
    dispatch_agent = $6, dispatch_pool = $7, dispatch_expires = $8
FROM runs r
WHERE sh.id = $2 AND sh.run_id = $1 AND r.id = sh.run_id
  AND r.status IN ('pending', 'running', 'parsing', 'paused')`
	tag, err := s.pool.Exec(ctx, q, runID, shardID, d.Attempt, d.Nonce, d.TaskQueue, d.Agent, d.Pool, d.Expires)
	if err != nil {
		return false, mapWrite("record dispatch", err, "")
	}
	return tag.RowsAffected() == 1, nil
}

// ShardDispatch returns the shard's current dispatch, the zero value if it
// was dispatched before dispatches were recorded, and its run's status.
func (s *Store) ShardDispatch(ctx context.Context, runID, shardID int64) (scan.ShardDispatch, scan.RunStatus, error) {
	const q = `
SELECT COALESCE(sh.dispatch_attempt, 0), COALESCE(sh.dispatch_nonce, ''), COALESCE(sh.dispatch_task_queue, ''),
    COALESCE(sh.dispatch_agent, ''), COALESCE(sh.dispatch_pool, ''), sh.dispatch_expires, r.status
FROM shards sh JOIN runs r ON r.id = sh.run_id
WHERE sh.id = $2 AND sh.run_id = $1`
	var d scan.ShardDispatch
	var status scan.RunStatus
	var expires *time.Time
	err := s.pool.QueryRow(ctx, q, runID, shardID).Scan(&d.Attempt, &d.Nonce, &d.TaskQueue, &d.Agent, &d.Pool, &expires, &status)
	if err != nil {
		return scan.ShardDispatch{}, "", mapRead("shard dispatch", err, fmt.Sprintf("shard %d of run %d", shardID, runID))
	}
	if expires != nil {
		d.Expires = *expires
	}
	return d, status, nil
}

// PoolMember says whether the named agent is a recorded member of the named
// pool, and whether the pool has recorded members at all.
func (s *Store) PoolMember(ctx context.Context, pool, agent string) (member, any bool, err error) {
	const q = `
SELECT COALESCE(bool_or(a.name = $2), false), count(*) > 0
FROM pools p JOIN agent_pools ap ON ap.pool_id = p.id JOIN agents a ON a.id = ap.agent_id
WHERE p.name = $1`
	if err := s.pool.QueryRow(ctx, q, pool, agent).Scan(&member, &any); err != nil {
		return false, false, fmt.Errorf("pool member: %w", err)
	}
	return member, any, nil
}

// AddPoolMember records that the named agent belongs to the named pool.
func (s *Store) AddPoolMember(ctx context.Context, pool, agent string) error {
	const q = `
INSERT INTO agent_pools (agent_id, pool_id)
SELECT a.id, p.id FROM agents a, pools p WHERE a.name = $2 AND p.name = $1
ON CONFLICT DO NOTHING`
	tag, err := s.pool.Exec(ctx, q, pool, agent)
	if err != nil {
		return mapWrite("add pool member", err, "")
	}
	if tag.RowsAffected() == 0 {
		var ok bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM agents a, pools p WHERE a.name = $2 AND p.name = $1)`, pool, agent).Scan(&ok); err != nil {
			return fmt.Errorf("add pool member: %w", err)
		}
		if !ok {
			return fmt.Errorf("add pool member: %w: agent %q or pool %q", ErrNotFound, agent, pool)
		}
	}
	return nil
}
