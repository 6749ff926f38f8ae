package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan"
)

// SetRunPlan stores what a run's shards' specs are built from.
func (s *Store) SetRunPlan(ctx context.Context, runID int64, plan scan.RunPlan) error {
	body, err := json.Marshal(plan)
	if err != nil {
		return fmt.Errorf("set run plan: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE runs SET plan = $2 WHERE id = $1`, runID, body)
	if err != nil {
		return mapWrite("set run plan", err, "")
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set run plan: %w: run %d", ErrNotFound, runID)
	}
	return nil
}

// CreateShards records shards first, first+1, ... of a run, on targets
// (one slice per shard), assigned to an agent (0 for none), running, in one
// round trip. Like CreateShard it is idempotent on (run, index): shards
// that exist are left as they are, so a retried start does not reset a
// shard that has since moved on.
func (s *Store) CreateShards(ctx context.Context, runID int64, agentID int64, first int, targets [][]string) error {
	const ins = `
INSERT INTO shards (run_id, idx, agent_id, targets, status, started_at)
VALUES ($1, $2, NULLIF($3, 0::bigint), $4, 'running', now())
ON CONFLICT (run_id, idx) DO NOTHING`
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
		for i, t := range targets {
			b.Queue(ins, runID, first+i, agentID, strs(t))
		}
		return tx.SendBatch(ctx, &b).Close()
	})
	if err != nil {
		return mapWrite("create shards", err, "")
	}
	return nil
}

// ShardSpec builds the unsigned spec of shard index of a run from the
// run's stored plan and the shard's targets (scan.RunPlan.ShardSpec). A
// run without a plan, or without that shard, is ErrNotFound.
func (s *Store) ShardSpec(ctx context.Context, runID int64, index int) (scan.Spec, error) {
	const q = `
SELECT r.plan, sh.id, sh.targets
FROM shards sh JOIN runs r ON r.id = sh.run_id
WHERE sh.run_id = $1 AND sh.idx = $2 AND r.plan IS NOT NULL`
	var (
		body    []byte
		shardID int64
		targets []string
	)
	if err := s.pool.QueryRow(ctx, q, runID, index).Scan(&body, &shardID, &targets); err != nil {
		return scan.Spec{}, mapRead("shard spec", err, fmt.Sprintf("planned shard %d of run %d", index, runID))
	}
	var plan scan.RunPlan
	if err := json.Unmarshal(body, &plan); err != nil {
		return scan.Spec{}, fmt.Errorf("shard spec: plan of run %d: %w", runID, err)
	}
	return plan.ShardSpec(runID, shardID, targets), nil
}
