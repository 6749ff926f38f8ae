package postgres

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan"
)

const runCols = `id, scan_id, workflow_id, status, error, targets, excludes, addresses, hosts_up, open_ports,
csv_bucket, csv_key, csv_size, csv_sha256, created_at, started_at, finished_at, partial, window_opens_at`

func scanRun(row pgx.Row) (scan.Run, error) {
	var (
		r   scan.Run
		csv nullBlob
	)
	err := row.Scan(&r.ID, &r.ScanID, &r.WorkflowID, &r.Status, &r.Error, &r.Targets, &r.Excludes,
		&r.Addresses, &r.HostsUp, &r.OpenPorts, &csv.bucket, &csv.key, &csv.size, &csv.sha256,
		&r.CreatedAt, &r.StartedAt, &r.FinishedAt, &r.Partial, &r.WindowOpensAt)
	r.Targets, r.Excludes, r.CSV = strs(r.Targets), strs(r.Excludes), csv.ref()
	return r, err
}

// nullBlob reads the four nullable columns of a blob reference.
type nullBlob struct {
	bucket, key, sha256 *string
	size                *int64
}

func (b nullBlob) ref() *scan.BlobRef {
	if b.bucket == nil || b.key == nil || b.size == nil || b.sha256 == nil {
		return nil
	}
	return &scan.BlobRef{Bucket: *b.bucket, Key: *b.key, Size: *b.size, SHA256: *b.sha256}
}

// RunFilter selects runs for ListRuns.
type RunFilter = scan.RunFilter

// CreateRun records a new pending run of a scan for a workflow. It is
// idempotent: if a run with that workflow ID exists it is returned unchanged
// (a retried activity finds its run). A workflow ID already used by a run of
// another scan is ErrConflict; a missing scan is ErrNotFound.
func (s *Store) CreateRun(ctx context.Context, scanID int64, workflowID string) (scan.Run, error) {
	const ins = `
INSERT INTO runs (scan_id, workflow_id) VALUES ($1, $2)
ON CONFLICT (workflow_id) DO NOTHING
RETURNING ` + runCols
	r, err := scanRun(s.pool.QueryRow(ctx, ins, scanID, workflowID))
	if isNoRows(err) {
		r, err = s.GetRunByWorkflowID(ctx, workflowID)
		if err != nil {
			return scan.Run{}, fmt.Errorf("create run: %w", err)
		}
		if r.ScanID != scanID {
			return scan.Run{}, fmt.Errorf("create run: %w: workflow %q already belongs to run %d of scan %d",
				ErrConflict, workflowID, r.ID, r.ScanID)
		}
		return r, nil
	}
	if err != nil {
		return scan.Run{}, mapWrite("create run", err, fmt.Sprintf("workflow %q already has a run", workflowID))
	}
	return r, nil
}

// GetRun returns one run.
func (s *Store) GetRun(ctx context.Context, id int64) (scan.Run, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runCols+` FROM runs WHERE id = $1`, id))
	if err != nil {
		return scan.Run{}, mapRead("get run", err, fmt.Sprintf("run %d", id))
	}
	return r, nil
}

// GetRunByWorkflowID returns the run of a workflow.
func (s *Store) GetRunByWorkflowID(ctx context.Context, workflowID string) (scan.Run, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runCols+` FROM runs WHERE workflow_id = $1`, workflowID))
	if err != nil {
		return scan.Run{}, mapRead("get run", err, fmt.Sprintf("run of workflow %q", workflowID))
	}
	return r, nil
}

// ListRuns returns runs newest first.
func (s *Store) ListRuns(ctx context.Context, f RunFilter) ([]scan.Run, error) {
	// The page's ids come from the index alone (runs_created_idx or
	// runs_scan_id_created_idx hold created_at and id), so a deep offset
	// skips index entries rather than whole rows.
	const q = `SELECT ` + runCols + ` FROM runs
WHERE id IN (SELECT id FROM runs WHERE ($1::bigint = 0 OR scan_id = $1)
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3)
ORDER BY created_at DESC, id DESC`
	rows, err := s.pool.Query(ctx, q, f.ScanID, limitArg(f.Limit), offsetArg(f.Offset))
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (scan.Run, error) { return scanRun(r) })
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// CountRuns returns how many runs ListRuns would return without its
// limit and offset.
func (s *Store) CountRuns(ctx context.Context, f RunFilter) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM runs WHERE ($1::bigint = 0 OR scan_id = $1)`, f.ScanID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count runs: %w", err)
	}
	return n, nil
}

// ListUnfinishedRuns returns the runs not yet completed, failed or cancelled
// that were created before createdBefore, oldest first.
func (s *Store) ListUnfinishedRuns(ctx context.Context, createdBefore time.Time) ([]scan.Run, error) {
	const q = `SELECT ` + runCols + ` FROM runs
WHERE status IN ('pending', 'running', 'parsing', 'paused') AND created_at < $1
ORDER BY created_at, id`
	rows, err := s.pool.Query(ctx, q, createdBefore)
	if err != nil {
		return nil, fmt.Errorf("list unfinished runs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (scan.Run, error) { return scanRun(r) })
	if err != nil {
		return nil, fmt.Errorf("list unfinished runs: %w", err)
	}
	return out, nil
}

// DeleteRun deletes a run with its shards, hosts and ports. Blobs in object
// storage are the caller's to delete.
func (s *Store) DeleteRun(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM runs WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete run: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete run: %w: run %d", ErrNotFound, id)
	}
	return nil
}

func validRunStatus(st scan.RunStatus) bool {
	switch st {
	case scan.RunPending, scan.RunRunning, scan.RunParsing, scan.RunPaused, scan.RunCompleted, scan.RunFailed, scan.RunCancelled:
		return true
	}
	return false
}

// SetRunStatus moves a run to status and records errMsg as its error (an
// empty errMsg clears it). started_at is set the first time the run is
// running; finished_at is set when the status is final.
//
// A final status is never left: setting a finished run to the status it
// already has succeeds and changes nothing (so retries are harmless), and
// setting it to any other status fails with an error wrapping ErrConflict
// that names both statuses. Callers that may race a cancellation can treat
// that ErrConflict as "already decided".
//
// Parsing does not replace paused: a paused run stays paused while the
// results of shards that finished before the pause are parsed.
func (s *Store) SetRunStatus(ctx context.Context, runID int64, status scan.RunStatus, errMsg string) error {
	if !validRunStatus(status) {
		return fmt.Errorf("set run status: %w: unknown run status %q", ErrInvalid, status)
	}
	const q = `
UPDATE runs SET
    status = $2,
    error = $3,
    started_at = CASE WHEN $2 = 'running' THEN COALESCE(started_at, now()) ELSE started_at END,
    finished_at = CASE WHEN $2 IN ('completed', 'failed', 'cancelled') THEN now() ELSE NULL END,
    window_opens_at = NULL
WHERE id = $1 AND status NOT IN ('completed', 'failed', 'cancelled')
  AND NOT ($2 = 'parsing' AND status = 'paused')`
	tag, err := s.pool.Exec(ctx, q, runID, string(status), errMsg)
	if err != nil {
		return mapWrite("set run status", err, "")
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	if status == scan.RunParsing {
		// A shard parsed while its run is paused (its scan had ended
		// before the pause reached it, as it may in a run of many
		// workflows) leaves the run paused.
		if err := s.finalRunCheck(ctx, "set run status", runID, scan.RunPaused); err == nil {
			return nil
		}
	}
	return s.finalRunCheck(ctx, "set run status", runID, status)
}

// SetRunWaiting marks an unfinished run paused outside its scan's windows,
// which next open at opensAt. SetRunStatus (and the run's end) clears it.
// A finished run is ErrConflict, as for SetRunStatus.
func (s *Store) SetRunWaiting(ctx context.Context, runID int64, opensAt time.Time) error {
	const q = `
UPDATE runs SET status = 'paused', window_opens_at = $2
WHERE id = $1 AND status NOT IN ('completed', 'failed', 'cancelled')`
	tag, err := s.pool.Exec(ctx, q, runID, opensAt)
	if err != nil {
		return mapWrite("set run waiting", err, "")
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	return s.finalRunCheck(ctx, "set run waiting", runID, scan.RunPaused)
}

// finalRunCheck explains why an update guarded by "not final" touched no
// row: the run is missing, already has want (fine), or is final otherwise.
func (s *Store) finalRunCheck(ctx context.Context, op string, runID int64, want scan.RunStatus) error {
	var cur scan.RunStatus
	err := s.pool.QueryRow(ctx, `SELECT status FROM runs WHERE id = $1`, runID).Scan(&cur)
	if err != nil {
		return mapRead(op, err, fmt.Sprintf("run %d", runID))
	}
	if cur == want {
		return nil
	}
	return fmt.Errorf("%s: %w: run %d is already %s and cannot become %s", op, ErrConflict, runID, cur, want)
}

// SetRunTargets records the resolved target set of a run. An address count
// beyond the range of bigint is stored as its maximum.
func (s *Store) SetRunTargets(ctx context.Context, runID int64, r scan.Resolved) error {
	const q = `UPDATE runs SET targets = $2, excludes = $3, addresses = $4 WHERE id = $1`
	addrs := int64(math.MaxInt64)
	if r.Addresses < math.MaxInt64 {
		addrs = int64(r.Addresses)
	}
	tag, err := s.pool.Exec(ctx, q, runID, strs(r.Targets), strs(r.Excludes), addrs)
	if err != nil {
		return mapWrite("set run targets", err, "")
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set run targets: %w: run %d", ErrNotFound, runID)
	}
	return nil
}

// CompleteRun marks a run completed with its CSV export, counting hosts_up
// (hosts whose status is "up") and open_ports (ports whose state is "open")
// from the stored rows, and returns the run. Completing a completed run again
// recounts and replaces the CSV reference but keeps finished_at; completing a
// failed or cancelled run is ErrConflict.
func (s *Store) CompleteRun(ctx context.Context, runID int64, csv scan.BlobRef) (scan.Run, error) {
	if err := csv.Validate(); err != nil {
		return scan.Run{}, fmt.Errorf("complete run: %w: %v", ErrInvalid, err)
	}
	const q = `
UPDATE runs SET
    status = 'completed',
    error = '',
    hosts_up = (SELECT count(*) FROM hosts WHERE run_id = $1 AND status = 'up'),
    open_ports = (SELECT count(*) FROM ports WHERE run_id = $1 AND state = 'open'),
    csv_bucket = $2, csv_key = $3, csv_size = $4, csv_sha256 = $5,
    finished_at = COALESCE(finished_at, now()),
    window_opens_at = NULL
WHERE id = $1 AND status NOT IN ('failed', 'cancelled')
RETURNING ` + runCols
	r, err := scanRun(s.pool.QueryRow(ctx, q, runID, csv.Bucket, csv.Key, csv.Size, csv.SHA256))
	if isNoRows(err) {
		if err := s.finalRunCheck(ctx, "complete run", runID, scan.RunCompleted); err != nil {
			return scan.Run{}, err
		}
		return scan.Run{}, fmt.Errorf("complete run: run %d changed concurrently", runID)
	}
	if err != nil {
		return scan.Run{}, mapWrite("complete run", err, "")
	}
	return r, nil
}

// KeepPartial counts what an unfinished run has stored (hosts_up and
// open_ports, as CompleteRun does) and marks the run partial when it has
// any host. It is for a run about to be cancelled or failed: its results
// stay, and say they are incomplete.
func (s *Store) KeepPartial(ctx context.Context, runID int64) error {
	const q = `
UPDATE runs SET
    hosts_up = (SELECT count(*) FROM hosts WHERE run_id = $1 AND status = 'up'),
    open_ports = (SELECT count(*) FROM ports WHERE run_id = $1 AND state = 'open'),
    partial = EXISTS (SELECT 1 FROM hosts WHERE run_id = $1)
WHERE id = $1`
	tag, err := s.pool.Exec(ctx, q, runID)
	if err != nil {
		return fmt.Errorf("keep partial results: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("keep partial results: %w: run %d", ErrNotFound, runID)
	}
	return nil
}
