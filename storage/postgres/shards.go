package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan"
)

const shardCols = `id, run_id, idx, COALESCE(agent_id, 0), status, attempt, targets,
raw_bucket, raw_key, raw_size, raw_sha256, error, started_at, finished_at, ran_by`

func scanShard(row pgx.Row) (scan.Shard, error) {
	var (
		sh  scan.Shard
		raw nullBlob
	)
	err := row.Scan(&sh.ID, &sh.RunID, &sh.Index, &sh.AgentID, &sh.Status, &sh.Attempt, &sh.Targets,
		&raw.bucket, &raw.key, &raw.size, &raw.sha256, &sh.Error, &sh.StartedAt, &sh.FinishedAt, &sh.RanBy)
	sh.Targets, sh.Raw = strs(sh.Targets), raw.ref()
	return sh, err
}

// CreateShard records shard index of a run, assigned to an agent (0 for
// none), pending. It is idempotent on (run, index): an existing shard is
// returned unchanged. A missing run or agent is ErrNotFound.
func (s *Store) CreateShard(ctx context.Context, runID int64, index int, agentID int64, targets []string) (scan.Shard, error) {
	const ins = `
INSERT INTO shards (run_id, idx, agent_id, targets) VALUES ($1, $2, NULLIF($3, 0::bigint), $4)
ON CONFLICT (run_id, idx) DO NOTHING
RETURNING ` + shardCols
	sh, err := scanShard(s.pool.QueryRow(ctx, ins, runID, index, agentID, strs(targets)))
	if isNoRows(err) {
		const get = `SELECT ` + shardCols + ` FROM shards WHERE run_id = $1 AND idx = $2`
		sh, err = scanShard(s.pool.QueryRow(ctx, get, runID, index))
		if err != nil {
			return scan.Shard{}, mapRead("create shard", err, fmt.Sprintf("shard %d of run %d", index, runID))
		}
		return sh, nil
	}
	if err != nil {
		return scan.Shard{}, mapWrite("create shard", err, fmt.Sprintf("run %d already has shard %d", runID, index))
	}
	return sh, nil
}

// GetShard returns one shard.
func (s *Store) GetShard(ctx context.Context, id int64) (scan.Shard, error) {
	sh, err := scanShard(s.pool.QueryRow(ctx, `SELECT `+shardCols+` FROM shards WHERE id = $1`, id))
	if err != nil {
		return scan.Shard{}, mapRead("get shard", err, fmt.Sprintf("shard %d", id))
	}
	return sh, nil
}

// ListShards returns a run's shards by index. A run without shards, or a
// missing run, gives an empty list.
func (s *Store) ListShards(ctx context.Context, runID int64) ([]scan.Shard, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+shardCols+` FROM shards WHERE run_id = $1 ORDER BY idx`, runID)
	if err != nil {
		return nil, fmt.Errorf("list shards: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (scan.Shard, error) { return scanShard(r) })
	if err != nil {
		return nil, fmt.Errorf("list shards: %w", err)
	}
	return out, nil
}

// UpdateShard sets a shard's status, attempt, raw output reference and
// error. started_at is set the first time the shard is running; finished_at
// is set whenever the status becomes completed, failed or cancelled, and
// cleared when it becomes anything else (a retry). Shards, unlike runs, may
// leave a final status, because a failed attempt can be retried. The raw
// output reference of an attempt older than the stored one is ignored, so a
// late report of a superseded attempt cannot point the shard at old output.
func (s *Store) UpdateShard(ctx context.Context, u scan.ShardUpdate) error {
	var raw nullBlob
	if u.Raw != nil {
		if err := u.Raw.Validate(); err != nil {
			return fmt.Errorf("update shard: %w: %v", ErrInvalid, err)
		}
		raw = nullBlob{bucket: &u.Raw.Bucket, key: &u.Raw.Key, size: &u.Raw.Size, sha256: &u.Raw.SHA256}
	}
	const q = `
UPDATE shards SET
    status = $2,
    attempt = GREATEST(attempt, $3),
    error = $4,
    raw_bucket = CASE WHEN $5::text IS NULL OR $3 < attempt THEN raw_bucket ELSE $5 END,
    raw_key    = CASE WHEN $5::text IS NULL OR $3 < attempt THEN raw_key    ELSE $6 END,
    raw_size   = CASE WHEN $5::text IS NULL OR $3 < attempt THEN raw_size   ELSE $7 END,
    raw_sha256 = CASE WHEN $5::text IS NULL OR $3 < attempt THEN raw_sha256 ELSE $8 END,
    started_at = CASE WHEN $2 = 'running' THEN COALESCE(started_at, now()) ELSE started_at END,
    finished_at = CASE WHEN $2 IN ('completed', 'failed', 'cancelled') THEN now() ELSE NULL END,
    ran_by = COALESCE(NULLIF($9, ''), ran_by)
WHERE id = $1`
	tag, err := s.pool.Exec(ctx, q, u.ID, string(u.Status), u.Attempt, u.Error,
		raw.bucket, raw.key, raw.size, raw.sha256, u.RanBy)
	if err != nil {
		return mapWrite("update shard", err, "")
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("update shard: %w: shard %d", ErrNotFound, u.ID)
	}
	return nil
}
